#!/usr/bin/env bash
# verify re-reads every stored plane: it passes on a good plate, catches a flipped byte in a chunk,
# and with --sources catches a source file changed after extraction.
source "$(dirname "$0")/lib/common.bash"
need_oracle
expect_exit 0 "$IMX" demo "$WORK/d"
EXP="$WORK/d/experiment"
expect_exit 0 "$IMX" "$EXP" verify
expect_output "72 of 72 stored plane"
expect_exit 0 "$IMX" "$EXP" verify --sources
expect_output "72 compared with their source files"

# One flipped byte in the middle of one chunk.
CHUNK="$EXP/DemoPlate.zarr/B/03/1/0/0/1/2/0/0"
[ -f "$CHUNK" ] || fail "no chunk at $CHUNK"
cp "$CHUNK" "$WORK/chunk.bak"
$PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2] ^= 0x40; open(p,'wb').write(b)" "$CHUNK"
expect_exit 5 "$IMX" "$EXP" verify
expect_output "B03 site 1 channel 1 tpoint 0 zplane 2"
expect_output "71 of 72 stored plane"
cp "$WORK/chunk.bak" "$CHUNK"
expect_exit 0 "$IMX" "$EXP" verify

# A source file rewritten after extraction (a valid TIFF with other pixels).
SRCTIF=$(ls "$WORK/d/microscope"/*_C02_T0001F001L01A01Z01C01.tif)
$PY -c "import sys, tifffile; a=tifffile.imread(sys.argv[1]); a[0, 0] ^= 1; tifffile.imwrite(sys.argv[1], a)" "$SRCTIF"
expect_exit 0 "$IMX" "$EXP" verify
expect_exit 5 "$IMX" "$EXP" verify --sources
expect_output "no longer matches the stored plane"
expect_output "$(basename "$SRCTIF")"
echo "PASS verify"
