#!/usr/bin/env bash
# Builds imextract: `scripts/build.sh` (optimised, in build/) or `scripts/build.sh asan`
# (AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-release}"
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  # clang, so that the libFuzzer targets build in the same tree (tests/fuzz).
  # -O1 as the sanitizers' documentation recommends: several times faster than -O0, same checks.
  asan)    dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" "-DCMAKE_C_FLAGS_DEBUG=-g -O1"
                                  -DIMX_SANITIZE=ON -DIMX_FUZZ=ON
                                  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: scripts/build.sh [release|asan]" >&2; exit 2 ;;
esac
# A tree configured with another compiler (gcc, before the sanitizer build moved to clang) is
# started afresh: CMake cannot switch compilers in place.
if [ "$kind" = asan ] && [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' "$dir/CMakeCache.txt"; then
  rm -rf "$dir"
fi
cmake -S . -B "$dir" -G Ninja "${flags[@]}" > /dev/null
ninja -C "$dir"
