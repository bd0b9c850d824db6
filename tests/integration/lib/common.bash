# Shared by the integration tests: $1 is the imextract binary, $2 the project source folder.
set -euo pipefail
IMX="$1"
SRC="$2"
ORACLE="$SRC/tests/oracle"
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/imx_it.XXXXXX)
# KEEP_WORK=1 keeps the work folder for a look after a failure.
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
SAMPLES="$SRC/../shared/samples"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
# A service the test needs (S3 gateway, SLURM) could not start: a skip, unless the run requires
# the services (scripts/test.sh as root sets IMX_REQUIRE_SERVICES=1), where it is a failure.
skip_service() { [ "${IMX_REQUIRE_SERVICES:-0}" = 1 ] && fail "$* (IMX_REQUIRE_SERVICES=1)"; skip "$*"; }
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
# start_local_s3 PORT: the project's loopback S3 server (scripts/s3-local-up.sh) with its own
# state in $WORK, stopped when the test exits; skips the test when it cannot start. Sets UP and
# DOWN (the scripts), ENDPOINT, and the AWS_* credentials; unsets AWS_ENDPOINT_URL, so imextract
# must get the endpoint from the experiment (create --s3-endpoint), not the environment.
start_local_s3() {
    UP="$SRC/scripts/s3-local-up.sh"
    DOWN="$SRC/scripts/s3-local-down.sh"
    export IMX_S3_DIR="$WORK/s3"  # our own server state, so parallel test runs do not share one
    export IMX_S3_PORT=$1
    trap 'bash "$DOWN" 2>/dev/null; rm -rf "$WORK"' EXIT
    local settings
    if ! settings=$(bash "$UP" 2>"$WORK/up.err"); then
        cat "$WORK/up.err" >&2
        skip_service "the local S3 server (radosgw) could not be started"
    fi
    eval "$settings"
    ENDPOINT=$AWS_ENDPOINT_URL
    unset AWS_ENDPOINT_URL
}
# demo_reference EXP: the demo plate's microscope folder (in $MIC), extracted to EXP on the
# filesystem; its checksums in EXP.sums, the reference for the same plate through other routes.
demo_reference() {
    expect_exit 0 "$IMX" demo "$WORK/d" --no-run
    MIC="$WORK/d/microscope"
    expect_exit 0 "$IMX" "$1" create --source "$MIC"
    expect_exit 0 "$IMX" "$1" init
    expect_exit 0 "$IMX" "$1" submit
    checksums "$1" >"$1.sums"
    grep -qv NULL "$1.sums" || fail "the filesystem reference has no checksums"
}
