#!/usr/bin/env bash
# make mutate: seeds one-line bugs into the most critical paths, one at a time, and checks that
# the test suite catches each (the named tests fail). A mutation the tests miss means the tests
# no longer guard that path: the script exits 1 and names it. It works on a copy of HEAD in a
# temporary git worktree, so the checkout is never touched; not part of CI (about 5 minutes).
#
# usage: scripts/mutate.sh [NAME...]   (default: every mutation below)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3

# name | file | exact text (must occur once) | replacement | tests that must fail
MUTATIONS=(
  "land-at-by-box|src/query/ctx.c|char hit = GEOSPreparedIntersects_r(q->h, fs->f->test, g);|char hit = 1;|tests/integration/test_query_edges.py"
  "casei-like-loses-escape|src/filter/compile.c|LIKE spp_casefold(?) ESCAPE '\\\\'\"|LIKE spp_casefold(?)\"|tests/integration/test_filter_text.py"
  "invalidation-skips-deep-zooms|src/tiles/cache.c|for (int z = 0; z <= TILE_MAX_ZOOM; z++) {|for (int z = 0; z < TILE_MAX_ZOOM - 2; z++) {|tests/integration/test_import_trust.py::test_invalidation_at_every_zoom"
  "row-rule-ignored|src/config/access.c|role >= layer->row_exempt) return 0;|role >= ROLE_PUBLIC) return 0;|tests/integration/test_row_rules.py"
  "hidden-field-served|src/config/access.c|return role >= layer->fields[field].role;|return 1;|tests/integration/test_access.py"
  "truncated-dbf-accepted|src/import/source.c|if ((long)hlen + (long)n * (long)rlen > size)|if (0)|tests/integration/test_import_trust.py::test_truncated_dbf_reimport_leaves_the_layer_exactly_as_it_was"
)

want=("$@")
work=$(mktemp -d /tmp/spp-mutate.XXXXXX)
trap 'git -C "$repo" worktree remove --force "$work/tree" >/dev/null 2>&1; rm -rf "$work"' EXIT
git -C "$repo" worktree add --detach -q "$work/tree" HEAD
cd "$work/tree"
echo "mutate: building HEAD in $work/tree" >&2
make -s -j"$(nproc)" spp >/dev/null 2>"$work/build.log" || { cat "$work/build.log"; exit 1; }
caught=0; missed=()
for m in "${MUTATIONS[@]}"; do
  IFS='|' read -r name file old new tests <<<"${m//\\|/$'\x01'}"
  old=${old//$'\x01'/|}; new=${new//$'\x01'/|}
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
  cp "$file" "$work/orig"
  if ! OLD="$old" NEW="$new" $PY - "$file" <<'PYEOF'
import os, sys
p = sys.argv[1]; s = open(p, encoding="utf-8").read(); old = os.environ["OLD"]
if s.count(old) != 1:
    sys.exit(f"{p}: the text to mutate occurs {s.count(old)} times: {old!r}")
open(p, "w", encoding="utf-8").write(s.replace(old, os.environ["NEW"]))
PYEOF
  then missed+=("$name (cannot apply: update scripts/mutate.sh)"); continue; fi
  if ! make -s spp >/dev/null 2>"$work/build.log"; then
    echo "mutate: $name does not build:"; cat "$work/build.log"; cp "$work/orig" "$file"
    missed+=("$name (does not build)"); continue
  fi
  # shellcheck disable=SC2086
  if SPP_BIN="$PWD/spp" timeout 600 $PY -m pytest -q -x -p no:cacheprovider $tests >"$work/test.log" 2>&1; then
    echo "mutate: MISSED  $name ($file): $tests still pass"; missed+=("$name")
  else
    echo "mutate: caught  $name ($file)"; caught=$((caught + 1))
  fi
  cp "$work/orig" "$file"
done
make -s spp >/dev/null 2>&1
echo "mutate: ${caught} caught, ${#missed[@]} missed"
[ ${#missed[@]} -eq 0 ] || { printf '  %s\n' "${missed[@]}"; exit 1; }
