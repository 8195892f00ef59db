#!/usr/bin/env bash
# Runs each libFuzzer target in build/fuzz/ for SECONDS on a working copy of its seed corpus.
# usage: tests/fuzz/run.sh SECONDS NAME...   (from the repository root; see `make fuzz`)
# Exits 1 if any target finds a crash, a leak, a timeout (> 10 s for one input) or runs out of
# memory; the input is kept in build/fuzz/crashes/ (add it to tests/fuzz/corpus/NAME/ once fixed,
# so `make unit` replays it forever).
set -u
secs=$1; shift
failed=()
mkdir -p build/fuzz/crashes
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for name in "$@"; do
  work=build/fuzz/corpus/$name
  mkdir -p "$work"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  log=build/fuzz/$name.log
  nice build/fuzz/fuzz_"$name" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix=build/fuzz/crashes/"$name"- \
    "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    failed+=("$name")
    grep -E 'ERROR|SUMMARY|leaked|runtime error|Test unit written' "$log" | head -20
    printf 'fuzz %-12s FAILED (exit %d) after %s runs, log %s\n' "$name" "$rc" "${runs:-?}" "$log"
  else
    printf 'fuzz %-12s ok: %s runs in %ss, %s\n' "$name" "${runs:-?}" "$secs" "${cov:-}"
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}"; exit 1; }
