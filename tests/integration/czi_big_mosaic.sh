#!/usr/bin/env bash
# A CZI mosaic of more than 2 GiB of pixels (issue 18): 33 x 33 Gray16 tiles of 1024 x 1024 placed
# 1000 px apart (33024 x 33024, 2.18 GB; overlaps of 24 px decided by a shuffled drawing order;
# zstd0, zstd1, zstd1 hi/lo and uncompressed subblocks), written by tests/oracle/make_czi.py
# --mosaic one subblock at a time. Converted with the default chunking (tiles of 1024), it is read
# band by band; collect checks every plane and level against the run job's checksums, and the
# independent CZI reader (tests/oracle/czi_oracle.py check-bands) composes every band of 1024 rows
# itself and compares it with the plate. The same file stored as one chunk per plane (the
# whole-plane path) is refused naming the 2 GiB bound. Release build only (tests/CMakeLists.txt).
source "$(dirname "$0")/lib/common.bash"
need_oracle
$PY -c "import numcodecs" 2>/dev/null || skip "the CZI oracle needs python3-numcodecs"
mkdir -p "$WORK/src"
$PY "$ORACLE/make_czi.py" --mosaic "$WORK/src/big.czi" 33 33 1024 1000
expect_exit 0 "$IMX" "$WORK/exp" create --source "$WORK/src"
expect_output "plane +33024x33024 uint16"
expect_exit 0 "$IMX" "$WORK/exp" init
expect_exit 0 "$IMX" "$WORK/exp" submit
expect_exit 0 "$IMX" "$WORK/exp" collect
grep -rq "read band by band" "$WORK/exp/jobs" || fail "the mosaic was not read band by band"
$PY "$ORACLE/czi_oracle.py" check-bands "$WORK/exp/src.zarr" "$WORK/src/big.czi" 1024
rm -rf "$WORK/exp"

# One chunk per plane: the whole-plane path keeps its bound, and says how to convert.
expect_exit 0 "$IMX" "$WORK/whole" create --source "$WORK/src" --chunk 65536
expect_exit 0 "$IMX" "$WORK/whole" init
expect_exit 4 "$IMX" "$WORK/whole" submit
grep -rq "big.czi: the mosaic is 33024 x 33024 pixels .*more than a plane read whole may hold (2 GiB)" "$WORK/whole/jobs" ||
    fail "the whole-plane refusal does not name the file and the bound"
echo "PASS czi_big_mosaic"
