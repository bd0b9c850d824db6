#!/usr/bin/env bash
# Name patterns as the README prints them (section "Name patterns", taken from the README itself):
# wells given by number (--plate-format, or the plate size of an HTD in the folder), a pattern with
# a / matched against the path below the source, one without against the file name; every plane
# checked with tifffile against its file.
source "$(dirname "$0")/lib/common.bash"
need_oracle
mapfile -t PATTERNS < <(sed -n '/^### Name patterns/,/^### /p' "$SRC/README.md" | grep -o -- "--pattern '[^']*'" | sed "s/^--pattern '//; s/'\$//")
[ "${#PATTERNS[@]}" -ge 2 ] || fail "the README's Name patterns section lacks its two --pattern examples"
$PY - "$WORK" <<'PYEOF'
import os, sys, numpy, tifffile
w = sys.argv[1]
rng = numpy.random.default_rng(5)
def put(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tifffile.imwrite(path, rng.integers(0, 65535, (32, 48), dtype=numpy.uint16))
for well in ("0002", "0025"):
    for channel in ("DAPI", "GFP"):
        put(f"{w}/numbered/Plate1--W{well}--P0001--{channel}.tif")
for f in ("B03/s1_DAPI.tif", "B03/s2_DAPI.tif", "C05/s1_DAPI.tif"):
    put(f"{w}/tree/{f}")
for f in ("run1/X_B03_s1.tif", "run2/X_C05_s1.tif"):
    put(f"{w}/nested/{f}")
PYEOF
same_pixels() { $PY -c "import tifffile,numpy,sys; assert numpy.array_equal(tifffile.imread(sys.argv[1]), tifffile.imread(sys.argv[2])), sys.argv[1]" "$1" "$2"; }

# Wells by number: W0025 is the 25th well of a 384-well plate row by row, B01.
expect_exit 0 "$IMX" convert "$WORK/numbered" "$WORK/o1" --format files --plate-format 384 --pattern "${PATTERNS[0]}"
E="$WORK/o1/.imextract"
for spec in "0002 A02" "0025 B01"; do
    set -- $spec
    for channel in DAPI GFP; do
        expect_exit 0 "$IMX" "$E" get --well "$2" --channel "$channel" -o "$WORK/p.tif"
        same_pixels "$WORK/numbered/Plate1--W$1--P0001--$channel.tif" "$WORK/p.tif"
    done
done
$PY -c "import zarr,sys; p=zarr.open(sys.argv[1],'r').attrs['plate']; assert (len(p['rows']),len(p['columns']))==(16,24), p['rows']" "$WORK/o1/numbered.zarr"
# A well number without a plate format, or beyond the plate: refused, naming the file and the fix.
expect_exit 3 "$IMX" "$WORK/e2" create --source "$WORK/numbered" --format files --pattern "${PATTERNS[0]}"
expect_output "Plate1--W0002--P0001--DAPI.tif: the pattern's well '0002' is a number; give --plate-format"
expect_output "no metadata that gives the plate size"
# Without --plate-format, the plate size of the vendor metadata in the folder: an HTD of 16 x 24.
cp -r "$WORK/numbered" "$WORK/numbered_htd"
printf '"HTSInfoFile", Version 1.0\r\n"XWells", 24\r\n"YWells", 16\r\n' >"$WORK/numbered_htd/Plate1.HTD"
expect_exit 0 "$IMX" convert "$WORK/numbered_htd" "$WORK/o4" --format files --pattern "${PATTERNS[0]}"
expect_exit 0 "$IMX" "$WORK/o4" get --well B01 --channel GFP -o "$WORK/p.tif"
same_pixels "$WORK/numbered/Plate1--W0025--P0001--GFP.tif" "$WORK/p.tif"
$PY -c "import zarr,sys; p=zarr.open(sys.argv[1],'r').attrs['plate']; assert (len(p['rows']),len(p['columns']))==(16,24), p['rows']" "$WORK/o4/numbered_htd.zarr"
cp "$WORK/numbered/Plate1--W0025--P0001--GFP.tif" "$WORK/numbered/Plate1--W0097--P0001--GFP.tif"
expect_exit 3 "$IMX" "$WORK/e3" create --source "$WORK/numbered" --format files --plate-format 96 --pattern "${PATTERNS[0]}"
expect_output "well number 0097 is not a well of a 96-well plate"
expect_exit 2 "$IMX" "$WORK/e4" create --source "$WORK/tree" --format files --plate-format 100 --pattern "${PATTERNS[1]}"
expect_output "--plate-format must be 96, 384 or 1536"

# A pattern with a / sees the path below the source: the folder is the well.
expect_exit 0 "$IMX" convert "$WORK/tree" "$WORK/o2" --format files --pattern "${PATTERNS[1]}"
E="$WORK/o2/.imextract"
for spec in "B03 0 s1" "B03 1 s2" "C05 0 s1"; do
    set -- $spec
    expect_exit 0 "$IMX" "$E" get --well "$1" --site "$2" --channel DAPI -o "$WORK/p.tif"
    same_pixels "$WORK/tree/$1/$3_DAPI.tif" "$WORK/p.tif"
done
# One without a / sees the file name, whatever folder the file is in.
expect_exit 0 "$IMX" convert "$WORK/nested" "$WORK/o3" --format files --pattern 'X_(?P<well>[A-P]\d\d)_s(?P<site>\d+)\.tif'
expect_exit 0 "$IMX" "$WORK/o3/.imextract" get --well C05 --channel 0 -o "$WORK/p.tif"
same_pixels "$WORK/nested/run2/X_C05_s1.tif" "$WORK/p.tif"
echo "PASS name_patterns"
