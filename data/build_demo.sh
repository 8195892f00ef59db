#!/usr/bin/env bash
# Builds the demo store: generates the demo sources (data/gen_demo.py, deterministic) into
# data/demo/src and imports them with the manifest the generator writes, report in
# data/demo/report. usage: data/build_demo.sh DB   (called by `make demo`; `make run` serves DB)
set -euo pipefail
db=${1:?usage: data/build_demo.sh DB}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
src=$here/demo/src
mkdir -p "$here/demo"
/usr/bin/python3 "$here/gen_demo.py" --out "$src" >/dev/null
# exit 3 is "done, with rejected features": the demo plants some on purpose
rc=0
"$root/spp" import --db "$db" --manifest "$src/manifest.json" --report "$here/demo/report" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || exit "$rc"
echo "demo store: $db (report: data/demo/report/report.html)"
