#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/fuzz_*.cpp) under ASan+UBSan for a fixed number of
# inputs each (or for at most SECONDS each), starting from its seed corpus:
# `scripts/fuzz.sh [RUNS] [SECONDS] [NAME...]` (defaults: 200000 inputs, no time limit, every target).
# Builds the sanitizer tree first (scripts/build.sh asan). New inputs that libFuzzer keeps go to
# build-asan/fuzz-corpus/NAME, never into the source tree; crashes are written as
# build-asan/fuzz-artifacts/NAME/crash-* and make the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200000}"
seconds="${2:-0}"
shift $(( $# > 2 ? 2 : $# ))
only=("$@")
scripts/build.sh asan > /dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for bin in build-asan/tests/fuzz/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue  # not the .work folders the ctest pass leaves
  name=$(basename "$bin"); name=${name#fuzz_}
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " =~ " $name " ]]; then continue; fi
  work="build-asan/fuzz-corpus/$name"; art="build-asan/fuzz-artifacts/$name"
  mkdir -p "$work" "$art"
  cp -r "tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
  start=$(date +%s)
  if "$bin" -runs="$runs" -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$art/" "$work" \
       > "build-asan/fuzz-$name.log" 2>&1; then
    result=ok
  else
    result="FAILED (see build-asan/fuzz-$name.log and $art)"
    status=1
  fi
  cov=$(grep -oE 'cov: [0-9]+' "build-asan/fuzz-$name.log" | tail -1)
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "build-asan/fuzz-$name.log" | tail -1 | grep -oE '[0-9]+$' || echo "?")
  printf '%-20s %9s inputs  %5ss  %-10s corpus %4s  %s\n' "$name" "$execs" "$(( $(date +%s) - start ))" \
    "$cov" "$(ls "$work" | wc -l)" "$result"
done
exit $status
