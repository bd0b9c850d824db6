#!/usr/bin/env bash
# Every pixel accounted for. RGB TIFFs (8/16-bit, chunky and planar), a 16-bit RGB TIFF with an
# ImageJ description and an RGB PNG become channels R, G, B, pixel-exact against tifffile/Pillow;
# init --delete removes only files whose every page and sample is in a verified plane, and collect
# --dry-run names the others with the reason; MetaXpress projections are channels named as
# projections (also in the NGFF omero labels) or left out; a missing file is reported by create,
# status, collect and verify and listed in the plate's attributes; status counts stored planes.
source "$(dirname "$0")/lib/common.bash"
need_oracle
S="$WORK/src"
$PY "$ORACLE/make_inventory_fixtures.py" "$S"
cp -a "$S" "$WORK/pristine"

# --- RGB: three channels, every sample stored, then the files go ---------------------------------
for kind in rgb8 rgb16; do
    expect_exit 0 "$IMX" "$WORK/$kind" create --source "$S/$kind"
    expect_output "channels +3 \(R, G, B\)"
    expect_output "inventory +3 complete"
    expect_exit 0 "$IMX" "$WORK/$kind" init --delete
    expect_exit 0 "$IMX" "$WORK/$kind" submit
    expect_exit 0 "$IMX" "$WORK/$kind" log -p collect
    expect_output "deleted 3 source file"
    $PY "$ORACLE/check_plate_against_catalog.py" "$WORK/$kind" --expect-planes 9 --source "$WORK/pristine/$kind"
    [ -z "$(ls "$S/$kind")" ] || fail "$kind: complete files left after --delete: $(ls "$S/$kind")"
done
$PY - "$WORK/rgb16/rgb16.zarr" <<'PYEOF'
import sys, zarr
img = zarr.open(sys.argv[1], mode="r")["A/01/0"]
labels = [c["label"] for c in img.attrs["omero"]["channels"]]
assert labels == ["R", "G", "B"], labels
assert img["0"].shape == (1, 3, 1, 64, 80) and img["0"].dtype == "uint16", (img["0"].shape, img["0"].dtype)
print("omero labels R, G, B; 1 x 3 x 1 x 64 x 80 uint16")
PYEOF

# --- a file the layout reads only in part is kept, and says why ---------------------------------
P="$S/partial"
expect_exit 0 "$IMX" "$WORK/partial" create --source "$P"
expect_output "inventory +1 complete, 1 incomplete"
expect_output "X_A01_s1.tif: incomplete \(holds 5 pages; left out: pages 2-4\)"
expect_exit 0 "$IMX" "$WORK/partial" init --delete
expect_exit 0 "$IMX" "$WORK/partial" run -j 1
expect_exit 0 "$IMX" "$WORK/partial" collect --dry-run
expect_output "would keep $P/X_A01_s1.tif: incomplete \(holds 5 pages; left out: pages 2-4\)"
expect_output "would delete 1 source file"
[ -f "$P/X_A01_s1.tif" ] && [ -f "$P/X_A01_s2.tif" ] || fail "the dry run deleted a file"
expect_exit 0 "$IMX" "$WORK/partial" collect
expect_output "keeping $P/X_A01_s1.tif: incomplete"
cmp -s "$P/X_A01_s1.tif" "$WORK/pristine/partial/X_A01_s1.tif" || fail "the incomplete file was deleted or changed"
[ ! -e "$P/X_A01_s2.tif" ] || fail "the complete file was kept"
expect_exit 0 "$IMX" "$WORK/partial" status
expect_output "1 deleted after verification"
expect_output "stored planes 4 \(4 verified\)"

# --- MetaXpress projections: channels of their own, or left out ---------------------------------
M="$S/mx"
expect_exit 0 "$IMX" "$WORK/mx" create --source "$M"
expect_output "format +metaxpress"
expect_output "channels +3 \(DAPI, DAPI \(Maximum projection\), GFP \(Maximum projection\)\)"
expect_output "zplanes +2"
expect_output "4 array position\(s\) no source plane fills"  # both projections at z 1, two sites
expect_exit 0 "$IMX" "$WORK/mx" init
expect_exit 0 "$IMX" "$WORK/mx" submit
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/mx" --expect-planes 8
$PY - "$WORK/mx/Scr.zarr" <<'PYEOF'
import sys, zarr
plate = zarr.open(sys.argv[1], mode="r")
labels = [c["label"] for c in plate["B/02/0"].attrs["omero"]["channels"]]
assert labels == ["DAPI", "DAPI (Maximum projection)", "GFP (Maximum projection)"], labels
holes = plate.attrs["imextract"]["holes"]
assert holes["count"] == 4, holes
assert all(h["z"] == 1 and h["c"] in (1, 2) and h["why"].startswith("no source plane") for h in holes["listed"]), holes
print("projection channels labelled; 4 holes listed in the plate attributes")
PYEOF
expect_exit 0 "$IMX" "$WORK/mx_skip" create --source "$M" --skip-projections
expect_output "channels +1 \(DAPI\)"
expect_output "unused files +4 image file"
expect_output "4 projections computed by the microscope software left out"

# --- a missing file: reported everywhere, never a silent hole ------------------------------------
expect_exit 0 "$IMX" demo --no-run "$WORK/d"
D="$WORK/d/microscope"
GONE=$(basename "$(ls "$D"/*_C04_T0001F002L01A01Z01C02.tif)")
rm "$D/$GONE"
expect_exit 0 "$IMX" "$WORK/gone" create --source "$D"
expect_output "72 to store, 1 missing in the source"
expect_output "missing +DemoPlate C04 site 1 t 0 c 1 z 0: $GONE: file not found"
expect_exit 0 "$IMX" "$WORK/gone" init -b 6
expect_exit 4 "$IMX" "$WORK/gone" submit
expect_exit 0 "$IMX" "$WORK/gone" status
expect_output "stored planes 71 \(0 verified\)"  # what the jobs stored, before collect
expect_exit 5 "$IMX" "$WORK/gone" collect
expect_output "1 have no pixels in the source files"
expect_exit 5 "$IMX" "$WORK/gone" verify
expect_output "C04 site 1 channel 1 tpoint 0 zplane 0: not stored: no pixels in the source \($GONE: file not found\)"
expect_output "1 plane\(s\) have no pixels in the source files"
expect_exit 0 "$IMX" "$WORK/gone" status
expect_output "stored planes 71 \(71 verified\)"
$PY - "$WORK/gone/DemoPlate.zarr" <<'PYEOF'
import sys, zarr
holes = zarr.open(sys.argv[1], mode="r").attrs["imextract"]["holes"]
assert holes["count"] == 1 and holes["listed"][0]["well"] == "C04" and "file not found" in holes["listed"][0]["why"], holes
print("the missing plane is listed in the plate attributes")
PYEOF
echo "PASS pixel_inventory"
