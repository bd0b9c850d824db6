#!/usr/bin/env bash
# Several --source folders in one experiment: (a) two different plates, (b) one plate imaged in two
# staining cycles (--mode multiplexing), (c) one plate imaged twice (--mode time), (d) init --delete
# removes the files of every source, only once their planes are verified. Pixels are checked by
# the independent oracles (tifffile + zarr-python).
source "$(dirname "$0")/lib/common.bash"
need_oracle
SMALL=(--width 64 --height 48)
expect_exit 0 "$IMX" demo --no-run "$WORK/a" --plate-name PlateA --seed 1 "${SMALL[@]}"
expect_exit 0 "$IMX" demo --no-run "$WORK/b" --plate-name PlateB --seed 2 --rows 1 --cols 2 --sites 3 "${SMALL[@]}"
A="$WORK/a/microscope"
B="$WORK/b/microscope"
cmp -s "$A/DemoPlate_B02_T0001F001L01A01Z01C01.tif" "$B/DemoPlate_B02_T0001F001L01A01Z01C01.tif" &&
    fail "the two demo plates have the same pixels; the checks below could not tell them apart"

# --- (a) two plates ---------------------------------------------------------------------------
expect_exit 0 "$IMX" "$WORK/e_plates" create --source "$A" --source "$B"
expect_output "plates +2 \(PlateA, PlateB\)"
expect_output "sources +2 \(mode plates; file paths relative to $WORK\)"
expect_exit 0 "$IMX" "$WORK/e_plates" init
expect_exit 0 "$IMX" "$WORK/e_plates" submit
expect_exit 0 "$IMX" "$WORK/e_plates" status
expect_output "stored planes 108 \(108 verified\)"   # (6 wells x 2 sites + 2 wells x 3 sites) x 2 ch x 3 z
$PY "$ORACLE/check_cellvoyager_plate.py" "$A" "$WORK/e_plates/PlateA.zarr"
$PY "$ORACLE/check_cellvoyager_plate.py" "$B" "$WORK/e_plates/PlateB.zarr"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/e_plates" --expect-planes 108
expect_exit 0 "$IMX" "$WORK/e_plates" verify --sources
expect_output "108 compared with their source files"
expect_exit 2 "$IMX" "$WORK/e_plates" get --well B02 --site 0 --channel 0 -o "$WORK/x.tif"
expect_output "holds 2 plates; name one with --plate"
expect_exit 0 "$IMX" "$WORK/e_plates" get --plate PlateB --well B03 --site 2 --channel 1 --zplane 2 -o "$WORK/b.tif"
$PY - "$B/DemoPlate_B03_T0001F003L01A01Z03C02.tif" "$WORK/b.tif" <<'PYEOF'
import sys, numpy as np, tifffile
assert np.array_equal(tifffile.imread(sys.argv[1]), tifffile.imread(sys.argv[2])), "get --plate PlateB differs"
PYEOF
expect_exit 0 "$IMX" "$WORK/e_plates" overview --plate PlateB -o "$WORK/b.png"
# The same plate name twice needs a mode; a source given twice is refused.
cp -a "$A" "$WORK/a2"
expect_exit 3 "$IMX" "$WORK/e_clash" create --source "$A" --source "$WORK/a2"
expect_output "holds plate 'PlateA' which .* holds too; .*--mode time"
[ -e "$WORK/e_clash/catalog.sqlite" ] && fail "a refused create left a catalog"
expect_exit 2 "$IMX" "$WORK/e_twice" create --source "$A" --source "$WORK/a/../a/microscope"
expect_output "given twice"

# --- (b) multiplexing: one plate, two cycles ------------------------------------------------
expect_exit 0 "$IMX" demo --no-run "$WORK/cycle1" --seed 11 --rows 1 --cols 2 "${SMALL[@]}"
expect_exit 0 "$IMX" demo --no-run "$WORK/cycle2" --seed 12 --rows 1 --cols 2 "${SMALL[@]}"
C1="$WORK/cycle1/microscope"
C2="$WORK/cycle2/microscope"
CH2=A01_C02   # the CellVoyager reader names channels A<action>_C<channel>
cmp -s "$C1/DemoPlate_B03_T0001F002L01A01Z02C02.tif" "$C2/DemoPlate_B03_T0001F002L01A01Z02C02.tif" &&
    fail "the two cycles have the same pixels"
expect_exit 0 "$IMX" "$WORK/e_mx" create --source "$C1" --source "$C2" --mode multiplexing
expect_output "channels +4 \(cycle1_"
expect_output "plates +1 "
expect_exit 0 "$IMX" "$WORK/e_mx" init
expect_exit 0 "$IMX" "$WORK/e_mx" submit
expect_exit 0 "$IMX" "$WORK/e_mx" status
expect_output "stored planes 48 \(48 verified\)"   # 2 cycles x 2 wells x 2 sites x 2 ch x 3 z
$PY "$ORACLE/check_acquisitions.py" "$WORK/e_mx/DemoPlate.zarr" --mode multiplexing "$C1" "$C2"
expect_exit 0 "$IMX" "$WORK/e_mx" verify --sources
expect_output "48 compared with their source files"
# Cycle 2's second channel of site 1 in well B03 is field image 2+1, and `get` finds it by name.
expect_exit 0 "$IMX" "$WORK/e_mx" get --well B03 --site 3 --channel "cycle2_$CH2" --zplane 1 -o "$WORK/mx.tif"
$PY - "$C2/DemoPlate_B03_T0001F002L01A01Z02C02.tif" "$WORK/mx.tif" <<'PYEOF'
import sys, numpy as np, tifffile
assert np.array_equal(tifffile.imread(sys.argv[1]), tifffile.imread(sys.argv[2])), "cycle 2 plane differs"
PYEOF
expect_exit 2 "$IMX" "$WORK/e_mx" get --well B03 --site 0 --channel 2 -o "$WORK/none.tif"
expect_output "no plane at"
expect_exit 0 "$IMX" "$WORK/e_mx" overview -o "$WORK/mx.png"
expect_output "2 well"
# The same with NGFF 0.5 and one shard per field image: each shard holds one cycle's channels.
expect_exit 0 "$IMX" "$WORK/e_mx5" create --source "$C1" --source "$C2" --mode multiplexing --ngff 0.5 --shard field
expect_exit 0 "$IMX" "$WORK/e_mx5" init
expect_exit 0 "$IMX" "$WORK/e_mx5" submit
expect_exit 0 "$IMX" "$WORK/e_mx5" verify --sources
expect_output "48 compared with their source files"
expect_exit 0 "$IMX" "$WORK/e_mx5" get --well B03 --site 3 --channel "cycle2_$CH2" --zplane 1 -o "$WORK/mx5.tif"
cmp -s "$WORK/mx.tif" "$WORK/mx5.tif" || $PY - "$WORK/mx.tif" "$WORK/mx5.tif" <<'PYEOF'
import sys, numpy as np, tifffile
assert np.array_equal(tifffile.imread(sys.argv[1]), tifffile.imread(sys.argv[2])), "sharded cycle 2 plane differs"
PYEOF
$PY - "$WORK/e_mx5/DemoPlate.zarr" <<'PYEOF'
import json, sys
well = json.load(open(sys.argv[1] + "/B/03/zarr.json"))["attributes"]["ome"]["well"]["images"]
assert [i["acquisition"] for i in well] == [0, 0, 1, 1], well
arr = json.load(open(sys.argv[1] + "/B/03/2/0/zarr.json"))
assert arr["shape"][1] == 2, arr["shape"]
assert arr["chunk_grid"]["configuration"]["chunk_shape"][1] == 2, arr["chunk_grid"]
PYEOF
# Different channel counts per cycle are refused, naming the source.
expect_exit 0 "$IMX" demo --no-run "$WORK/cycle3" --channels 3 --rows 1 --cols 2 "${SMALL[@]}"
expect_exit 3 "$IMX" "$WORK/e_mx_bad" create --source "$C1" --source "$WORK/cycle3/microscope" --mode multiplexing
expect_output "cycle3/microscope.*cycle 2 has 3 channel"

# --- (c) time: one plate, two acquisitions ---------------------------------------------------
expect_exit 0 "$IMX" demo --no-run "$WORK/t1" --seed 21 --tpoints 2 --rows 1 --cols 2 --zplanes 2 "${SMALL[@]}"
expect_exit 0 "$IMX" demo --no-run "$WORK/t2" --seed 22 --tpoints 1 --rows 1 --cols 2 --zplanes 2 "${SMALL[@]}"
expect_exit 0 "$IMX" "$WORK/e_time" create --source "$WORK/t1/microscope" --source "$WORK/t2/microscope" --mode time
expect_output "tpoints +3"
expect_output "channels +2 \("
expect_exit 0 "$IMX" "$WORK/e_time" init
expect_exit 0 "$IMX" "$WORK/e_time" submit
$PY "$ORACLE/check_acquisitions.py" "$WORK/e_time/DemoPlate.zarr" --mode time "$WORK/t1/microscope" "$WORK/t2/microscope"
$PY "$ORACLE/check_plate_against_catalog.py" "$WORK/e_time" --expect-planes 48  # 2 wells x 2 sites x 3 t x 2 ch x 2 z

# --- (d) init --delete over two sources -------------------------------------------------------
cp -a "$WORK/a" "$WORK/da"
cp -a "$WORK/b" "$WORK/db"
expect_exit 0 "$IMX" "$WORK/e_del" create --source "$WORK/da/microscope" --source "$WORK/db/microscope"
expect_exit 0 "$IMX" "$WORK/e_del" init --delete -b 12
expect_output "2 run job"   # PlateA's 12 sites, then PlateB's 6
# Only PlateA's job ran: PlateB's planes are not verified, so none of its files may go.
expect_exit 0 "$IMX" "$WORK/e_del" run -j 1
set +e; "$IMX" "$WORK/e_del" collect >"$WORK/last.out" 2>&1; set -e
[ "$(ls "$WORK/db/microscope"/*.tif | wc -l)" = 36 ] || fail "PlateB's files were deleted before verification"
[ "$(ls "$WORK/da/microscope"/*.tif 2>/dev/null | wc -l)" = 0 ] || fail "PlateA's verified files were kept"
expect_exit 0 "$IMX" "$WORK/e_del" run -j 2
expect_exit 0 "$IMX" "$WORK/e_del" collect
[ "$(ls "$WORK/db/microscope"/*.tif 2>/dev/null | wc -l)" = 0 ] || fail "PlateB's files left after verification"
[ -f "$WORK/db/microscope/MeasurementData.mlf" ] || fail "metadata deleted"
expect_exit 0 "$IMX" "$WORK/e_del" status
expect_output "108 deleted after verification"
expect_exit 0 "$IMX" "$WORK/e_del" verify --sources
expect_output "0 compared with their source files, 108 not"
$PY "$ORACLE/check_cellvoyager_plate.py" "$B" "$WORK/e_del/PlateB.zarr"
echo "PASS multi_source"
