#!/usr/bin/env bash
# Proves the README's promise: on a Debian 12 machine without spp's -dev packages, one
# `make test` in a fresh clone installs what is missing, builds and passes.
# It clones the committed HEAD into a temporary directory, removes (apt-get remove) some -dev
# packages the build needs, then runs `make test` once there and reports its exit code.
#
# usage: scripts/first-run-check.sh [PKG...]   (as root; default: libjansson-dev libxml2-dev)
#        KEEP=1 keeps the clone; TARGET=run checks `make demo` (what `make run` builds) instead.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "first-run-check: run as root (it removes and installs packages)" >&2; exit 2; }
pkgs=("$@"); [ ${#pkgs[@]} -gt 0 ] || pkgs=(libjansson-dev libxml2-dev)
target=${TARGET:-test}
dir=$(mktemp -d /tmp/spp-first-run.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$dir"' EXIT
git clone -q "$repo" "$dir/spp"
echo "first-run-check: removing ${pkgs[*]}" >&2
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "${pkgs[@]}" >/dev/null
for p in "${pkgs[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    echo "first-run-check: $p is still installed" >&2; exit 1
  fi
done
[ "$target" = run ] && target=demo   # `make run` = `make demo` + serve; serving is not a check
cd "$dir/spp"
set +e
make "$target"; rc=$?
set -e
echo "first-run-check: make $target in a fresh clone without ${pkgs[*]}: exit $rc"
exit $rc
