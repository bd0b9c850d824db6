#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/fuzz_*.cpp) under ASan+UBSan for a fixed number of
# inputs each, starting from its seed corpus: `scripts/fuzz.sh [RUNS]` (default 200000).
# Builds the sanitizer tree first (scripts/build.sh asan). New inputs that libFuzzer keeps go to
# build-asan/fuzz-corpus/NAME, never into the source tree; crashes are written as
# build-asan/fuzz-artifacts/NAME/crash-* and make the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200000}"
scripts/build.sh asan > /dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for bin in build-asan/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work="build-asan/fuzz-corpus/$name"; art="build-asan/fuzz-artifacts/$name"
  mkdir -p "$work" "$art"
  cp -r "tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
  start=$(date +%s)
  if "$bin" -runs="$runs" -max_len=65536 -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$art/" "$work" \
       > "build-asan/fuzz-$name.log" 2>&1; then
    result=ok
  else
    result="FAILED (see build-asan/fuzz-$name.log and $art)"
    status=1
  fi
  cov=$(grep -oE 'cov: [0-9]+' "build-asan/fuzz-$name.log" | tail -1)
  printf '%-18s %8s inputs  %5ss  %-10s corpus %4s  %s\n' "$name" "$runs" "$(( $(date +%s) - start ))" \
    "$cov" "$(ls "$work" | wc -l)" "$result"
done
exit $status
