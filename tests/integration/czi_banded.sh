#!/usr/bin/env bash
# CZI mosaics read band by band (issue 18): a synthetic mosaic (tests/oracle/make_czi.py --mosaic:
# 9 x 7 tiles of 100 x 100 Gray16 placed 93 px apart, so neighbours overlap by 7 px and the
# drawing order (M, shuffled) decides the overlaps; zstd0, zstd1, zstd1 hi/lo and uncompressed
# subblocks; 2 channels) stored as 64 x 128 chunks (11 rows of chunks: read band by band) and as one
# chunk per plane (read whole). Both plates equal the independent CZI reader's stitching
# (tests/oracle/czi_oracle.py, whole planes and band by band); the banded planes' checksums, level
# checksums and statistics equal the whole planes'. The >2 GiB variant: czi_big_mosaic.sh.
source "$(dirname "$0")/lib/common.bash"
need_oracle
$PY -c "import numcodecs" 2>/dev/null || skip "the CZI oracle needs python3-numcodecs"
mkdir -p "$WORK/src"
$PY "$ORACLE/make_czi.py" --mosaic "$WORK/src/mosaic.czi" 9 7 100 93 2
for kind in banded whole; do
    opts=(--chunk 64,128)
    [ $kind = whole ] && opts=(--chunk 4096)
    expect_exit 0 "$IMX" "$WORK/$kind" create --source "$WORK/src" "${opts[@]}"
    expect_output "plane +844x658 uint16"
    expect_exit 0 "$IMX" "$WORK/$kind" init
    expect_exit 0 "$IMX" "$WORK/$kind" submit
    expect_exit 0 "$IMX" "$WORK/$kind" verify
    expect_output "2 of 2 stored plane"
    $PY "$ORACLE/czi_oracle.py" check-plate "$WORK/$kind/src.zarr" "$WORK/src/mosaic.czi"
    $PY "$ORACLE/czi_oracle.py" check-bands "$WORK/$kind/src.zarr" "$WORK/src/mosaic.czi" 50
done
grep -rq "read band by band" "$WORK/banded/jobs" || fail "the mosaic's planes were not read band by band"
grep -rq "read band by band" "$WORK/whole/jobs" && fail "planes of one chunk were read band by band"
stats() { $PY -c "import sqlite3,sys; print('\n'.join(map(str, sqlite3.connect(sys.argv[1]).execute('SELECT checksum, level_checksums, min, max, p999 FROM outputs ORDER BY id'))))" "$1/catalog.sqlite"; }
[ "$(stats "$WORK/banded")" = "$(stats "$WORK/whole")" ] || {
    stats "$WORK/banded"; stats "$WORK/whole"; fail "banded planes' checksums or statistics differ from whole planes'"; }
echo "PASS czi_banded"
