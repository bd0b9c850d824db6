#!/usr/bin/env bash
# The README's demo: a synthetic CellVoyager plate, extracted end to end, read back by zarr-python
# and compared plane by plane with the TIFFs as tifffile reads them.
source "$(dirname "$0")/lib/common.bash"
need_oracle
expect_exit 0 "$IMX" demo "$WORK/demo"
expect_output "stored planes 72 \(72 verified\)"  # the summary the demo prints is the final state
expect_output "The plate is at"
PLATE=$(find "$WORK/demo/experiment" -maxdepth 1 -name '*.zarr' | head -1)
[ -n "$PLATE" ] || fail "no plate written"
$PY "$ORACLE/check_cellvoyager_plate.py" "$WORK/demo/microscope" "$PLATE"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/demo/experiment" --expect-planes 72

expect_exit 0 "$IMX" "$WORK/demo/experiment" status
expect_output "stored planes 72 \(72 verified\)"
expect_output "run jobs +1: 1 done, 0 failed"

# get: one plane to TIFF and PNG, compared with its source file by tifffile / Pillow.
SRCTIF=$(ls "$WORK/demo/microscope"/*_B03_T0001F002L01A01Z03C02.tif)
expect_exit 0 "$IMX" "$WORK/demo/experiment" get --well B03 --site 1 --channel 1 --zplane 2 -o "$WORK/p.tif"
expect_exit 0 "$IMX" "$WORK/demo/experiment" get --well B03 --site 1 --channel A01_C02 --zplane 2 -o "$WORK/p.png"
$PY - "$SRCTIF" "$WORK/p.tif" "$WORK/p.png" <<'PYEOF'
import sys, numpy as np, tifffile
from PIL import Image
src = tifffile.imread(sys.argv[1])
tif = tifffile.imread(sys.argv[2])
png = np.array(Image.open(sys.argv[3]))
assert src.dtype == np.uint16 and tif.dtype == np.uint16, (src.dtype, tif.dtype)
assert np.array_equal(src, tif), "get -o .tif differs from the source plane"
assert np.array_equal(src, png.astype(np.uint16)), "get -o .png differs from the source plane"
print("get: TIFF and PNG equal the source plane")
PYEOF
# Bad retrievals name the problem and exit 2.
expect_exit 2 "$IMX" "$WORK/demo/experiment" get --well Z99 --channel 0 -o "$WORK/x.tif"
expect_output "has no well Z99"
expect_exit 2 "$IMX" "$WORK/demo/experiment" get --well B03 --channel nosuch -o "$WORK/x.tif"
expect_output "no channel named 'nosuch'"
# info / log read the job records.
expect_exit 0 "$IMX" "$WORK/demo/experiment" info -p run -j 1
expect_output "run job 1: 72 plane"
expect_exit 0 "$IMX" "$WORK/demo/experiment" log -p run -j 1
expect_output "run job 1 done"
expect_exit 0 "$IMX" "$WORK/demo/experiment" log -p collect
expect_output "72 of 72 plane"
echo "PASS demo_end_to_end"
