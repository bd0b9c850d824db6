#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs the packages, builds the
# optimised and the sanitizer (ASan+UBSan) builds, and runs every test in both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --services
# The service tests (S3 gateway, SLURM) must run here, not skip: a skip would hide their failures.
[ "$(id -u)" -eq 0 ] && export IMX_REQUIRE_SERVICES=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for kind in release asan; do
  echo "=== $kind build"
  scripts/build.sh "$kind"
  dir=build; [ "$kind" = asan ] && dir=build-asan
  echo "=== $kind tests"
  ctest --test-dir "$dir" --output-on-failure -j2 || status=1
done
echo "=== install check"
prefix=$(mktemp -d)
cmake --install build --prefix "$prefix" > /dev/null
test -x "$prefix/bin/imextract" && test -f "$prefix/lib/libimextract.a" && test -f "$prefix/include/imextract/workflow/workflow.h" \
  && "$prefix/bin/imextract" --version && echo "install check passed" || { echo "install check failed"; status=1; }
# The Python module (install-deps installs pybind11, so the release build must have made it),
# installed where Debian's python3 finds it under the prefix.
module=$(compgen -G "$prefix/lib/python3.*/dist-packages/imextract*.so" | head -1 || true)
[ -n "$module" ] && PYTHONPATH=$(dirname "$module") /usr/bin/python3 -c "import imextract; print('imextract module', imextract.__version__)" \
  && echo "python module install check passed" || { echo "python module install check failed"; status=1; }
rm -rf "$prefix"
exit $status
