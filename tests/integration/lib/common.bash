# Shared by the integration tests: $1 is the imextract binary, $2 the project source folder.
set -euo pipefail
IMX="$1"
SRC="$2"
ORACLE="$SRC/tests/oracle"
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/imx_it.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SAMPLES="$SRC/../shared/samples"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
# expect_exit CODE CMD...: runs CMD, fails unless it exits with CODE; output in $WORK/last.out
expect_exit() {
    local want=$1; shift
    set +e
    "$@" >"$WORK/last.out" 2>&1
    local got=$?
    set -e
    if [ "$got" != "$want" ]; then
        cat "$WORK/last.out" >&2
        fail "expected exit $want, got $got: $*"
    fi
}
expect_output() { grep -qE -- "$1" "$WORK/last.out" || { cat "$WORK/last.out" >&2; fail "output lacks /$1/"; }; }
# checksums EXPERIMENT: the stored planes' checksums from the catalog, in catalog order.
checksums() { $PY -c "import sqlite3,sys; print('\n'.join(r[0] or 'NULL' for r in sqlite3.connect(sys.argv[1]).execute('SELECT checksum FROM outputs ORDER BY id')))" "$1/catalog.sqlite"; }
need_oracle() {
    $PY -c "import zarr, tifffile, numpy, PIL" 2>/dev/null || skip "the oracle needs python3-zarr, python3-tifffile, python3-numpy, python3-pil"
}
