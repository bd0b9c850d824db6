#!/usr/bin/env bash
# Detection on folders as microscopes and people leave them (written by
# tests/oracle/make_detect_fixtures.py with tifffile): a CV8000 top folder with the measurement one
# level down, a parent holding several acquisitions (refused, each listed; each alone and several
# as --source work), OME-TIFFs of two shapes in one folder (two plates, no absent planes), and a
# parent folder of OME-TIFFs. Pixels are checked with tifffile and zarr-python.
source "$(dirname "$0")/lib/common.bash"
need_oracle
MAKE="$PY $ORACLE/make_detect_fixtures.py"
run_all() { expect_exit 0 "$IMX" "$1" init -b 4; expect_exit 0 "$IMX" "$1" submit; }
created() { grep -qE -- "$2" "$WORK/$1.out" || { cat "$WORK/$1.out" >&2; fail "$1: create output lacks /$2/"; }; }
create() {
    local name=$1; shift
    expect_exit 0 "$IMX" "$WORK/$name" create "$@"
    cp "$WORK/last.out" "$WORK/$name.out"
}

# 1. CV8000: NAME_DATE_TIME/ holds a TRACE log and the measurement folder with SC_/DC_ images.
$MAKE cv8000 "$WORK/cv"
TOP="$WORK/cv/Plate1_20260101_120000"
create cv --source "$TOP"
created cv "format +cellvoyager"
created cv "found +$TOP/Plate1 \(below --source $TOP\)"
created cv "wells +2"
created cv "sites +4"
created cv "channels +2"
created cv "zplanes +2"
created cv "6 shading \(SC_\) / dark-current \(DC_\) correction image\(s\)"
grep -q "detected format 'files'" "$WORK/cv.out" && fail "cv: read as plain files"
# No SC_/DC_ file is a source file of the plate; every plane file is.
$PY - "$WORK/cv/catalog.sqlite" "$TOP/Plate1" <<'EOF'
import os, sqlite3, sys
files = {r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT path FROM files")}
planes = {f for f in os.listdir(sys.argv[2]) if f.startswith("Plate1_") and f.endswith(".tif")}
assert files == planes, (sorted(files - planes), sorted(planes - files))
EOF
run_all "$WORK/cv"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/cv" --expect-planes 16
# --format cellvoyager on the top folder (it used to say "no MeasurementData.mlf").
create cv_fmt --source "$TOP" --format cellvoyager
created cv_fmt "sites +4"

# 2. A parent with a CV8000 measurement, a MetaXpress export and a folder of OME-TIFFs.
MIX="$WORK/mixed"
mkdir -p "$MIX"
$MAKE cv8000 "$MIX"
$MAKE metaxpress "$MIX"
$MAKE ome-tiffs "$MIX/tiffs"
expect_exit 3 "$IMX" "$WORK/mix" create --source "$MIX"
expect_output "$MIX: holds 3 acquisitions"
expect_output "cellvoyager +$MIX/Plate1_20260101_120000/Plate1$"
expect_output "metaxpress +$MIX/Exp_Plate_1$"
expect_output "ome-tiff +$MIX/tiffs$"
expect_output "convert FOLDER OUT, or create --source FOLDER: one experiment each"
[ -e "$WORK/mix/catalog.sqlite" ] && fail "a refused create left a catalog"
# Each alone converts.
create mix_cv --source "$MIX/Plate1_20260101_120000"
run_all "$WORK/mix_cv"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/mix_cv" --expect-planes 16
create mix_mx --source "$MIX/Exp_Plate_1"
created mix_mx "format +metaxpress"
created mix_mx "channels +2 \(DAPI, FITC\)"
run_all "$WORK/mix_mx"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/mix_mx" --expect-planes 8
create mix_ome --source "$MIX" --format ome-tiff
created mix_ome "found +$MIX/tiffs"
created mix_ome "sites +2"

# Two CV8000 measurements side by side: refused together, converted as two --source (two plates).
$MAKE cv8000 "$WORK/two"
mv "$WORK/two/Plate1_20260101_120000" "$WORK/two/run_a"
$MAKE cv8000 "$WORK/two"
mv "$WORK/two/Plate1_20260101_120000/Plate1" "$WORK/two/Plate1_20260101_120000/Plate2"
expect_exit 3 "$IMX" "$WORK/two_refused" create --source "$WORK/two"
expect_output "holds 2 acquisitions"
expect_output "cellvoyager +$WORK/two/run_a/Plate1$"
expect_output "cellvoyager +$WORK/two/Plate1_20260101_120000/Plate2$"
create two --source "$WORK/two/run_a" --source "$WORK/two/Plate1_20260101_120000"
created two "plates +2 \(Plate1, Plate2\)"
run_all "$WORK/two"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/two" --expect-planes 32

# MetaXpress: an exported plate (16x12) and a database plate (20x10) under one folder are read
# together, each plate with its own plane size.
$MAKE metaxpress "$WORK/mxboth"
$MAKE metaxpress-db "$WORK/mxboth"
create mxboth --source "$WORK/mxboth"
created mxboth "plates +2 \(Exp_Plate_1, Scr\)"
created mxboth "plane of plate Scr: 20x10 uint16"
created mxboth "4 thumbnail file\(s\)"
run_all "$WORK/mxboth"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/mxboth" --expect-planes 12
$PY "$ORACLE/check_coverage.py" "$WORK/mxboth" "$WORK/mxboth"

# 3. OME-TIFFs t7 c1 z5 and t7 c3 z1 in one folder: two plates, each array exactly its file.
$MAKE ome-shapes "$WORK/ome"
create ome --source "$WORK/ome"
created ome "format +ome-tiff"
created ome "plates +2"
created ome "stored as plate ome_t7c3z1"
# Each plate's arrays hold only its own channels, so neither has positions without a plane.
grep -q "no source plane fills" "$WORK/ome.out" && { cat "$WORK/ome.out" >&2; fail "ome: absent positions reported"; }
run_all "$WORK/ome"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/ome" --expect-planes 56
$PY - "$WORK/ome" <<'EOF'
import os, sys
import numpy as np, tifffile, zarr
exp = sys.argv[1]
src = os.path.join(os.path.dirname(exp), "ome")
for plate, name, to_tczyx in [("ome.zarr", "a_t7_c1_z5.ome.tif", lambda a: a[:, None]),
                              ("ome_t7c3z1.zarr", "b_t7_c3_z1.ome.tif", lambda a: a[:, :, None])]:
    want = to_tczyx(tifffile.imread(os.path.join(src, name)))
    store = zarr.storage.DirectoryStore(os.path.join(exp, plate), dimension_separator="/")
    arr = zarr.open_group(store, mode="r")["A/01/0/0"]
    assert arr.shape == want.shape, (plate, arr.shape, want.shape)
    # Every plane of the array was written: no chunk would read back as the fill value.
    t, c, z = arr.shape[:3]
    root = os.path.join(exp, plate, "A", "01", "0", "0")
    absent = [(i, j, k) for i in range(t) for j in range(c) for k in range(z)
              if not os.path.exists(os.path.join(root, str(i), str(j), str(k), "0", "0"))]
    assert not absent, (plate, absent[:5], len(absent))
    assert np.array_equal(arr[:], want), plate
print("oracle: both OME-TIFF shapes stored as their own arrays, every plane present and pixel-exact")
EOF

# 4. The parent of a folder of OME-TIFFs goes through the OME-TIFF reader, not `files`.
$MAKE ome-tiffs "$WORK/omeparent/inner"
create omeparent --source "$WORK/omeparent"
created omeparent "format +ome-tiff"
created omeparent "found +$WORK/omeparent/inner"
created omeparent "channels +2"
created omeparent "zplanes +3"
run_all "$WORK/omeparent"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/omeparent" --expect-planes 12
# ... and a parent of two such folders names both.
$MAKE ome-tiffs "$WORK/omeparent/second"
expect_exit 3 "$IMX" "$WORK/omeparent2" create --source "$WORK/omeparent"
expect_output "ome-tiff +$WORK/omeparent/inner$"
expect_output "ome-tiff +$WORK/omeparent/second$"
echo "PASS detect_fixtures"
