#!/usr/bin/env bash
# Screening layouts end to end: PerkinElmer Harmony (real V5 export from shared/samples when
# present, and a synthetic V6 index), GE/Cytiva InCell and Olympus ScanR (synthetic, written by
# tifffile from the published layouts). Each: create --format auto picks the right reader,
# init/submit/collect, every stored plane is compared with the source read by tifffile, and every
# file is checked against the well/site/channel/z/t the fixture generator expects.
source "$(dirname "$0")/lib/common.bash"
need_oracle
n=0

# roundtrip NAME SOURCE FORMAT PLANES: create (auto), init, submit, catalog-driven pixel oracle.
roundtrip() {
    local name=$1 src=$2 format=$3 planes=$4
    expect_exit 0 "$IMX" "$WORK/$name" create --source "$src"
    expect_output "detected format '$format'"
    expect_output "^format +$format\$"
    cp "$WORK/last.out" "$WORK/$name.create.out"
    expect_exit 0 "$IMX" "$WORK/$name" init -b 2
    expect_exit 0 "$IMX" "$WORK/$name" submit
    $PY "$ORACLE/check_plate_against_catalog.py" "$WORK/$name" --expect-planes "$planes"
    n=$((n + 1))
}
created() { grep -qE -- "$2" "$WORK/$1.create.out" || { cat "$WORK/$1.create.out" >&2; fail "$1: create output lacks /$2/"; }; }

# --- real Harmony V5 export (Operetta CLS): 1 well, 2 fields, 1 channel, LZW TIFFs --------------
H="$SAMPLES/harmony/operetta-compose_operetta_plate"
if [ -d "$H" ]; then
    roundtrip harmony "$H" harmony 2
    created harmony "wells +1"
    created harmony "sites +2"
    created harmony "channels +1 \(Fluorescein \(FITC\)\)"
    created harmony "pixel 1.196 x 1.196 um"
    # tifffile cannot decode LZW here (no imagecodecs), so the oracle above fell back to libtiff;
    # decode both planes again with a pure-Python LZW reader.
    zarr="$WORK/harmony/Test_Sample_BALL.zarr"
    for f in 1 2; do
        (cd "$ORACLE" && $PY tiff_lzw.py "$H/Images/r03c03f0${f}p01-ch1sk1fk1fl1.tiff" "$zarr" "C/03/$((f - 1))/0" 0 0 0)
    done
    # The index lists an image whose file is gone: create warns and records it as missing; the
    # job that needs it fails naming the file; the other site is stored.
    mkdir -p "$WORK/h_missing"
    cp -r "$H/." "$WORK/h_missing/"
    rm "$WORK/h_missing/Images/r03c03f02p01-ch1sk1fk1fl1.tiff"
    expect_exit 0 "$IMX" "$WORK/h_missing_exp" create --source "$WORK/h_missing"
    expect_output "r03c03f02p01-ch1sk1fk1fl1.tiff: listed in the metadata but missing"
    expect_output "1 image file\(s\) listed in the metadata are missing"
    missing=$($PY -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT group_concat(path) FROM files WHERE state='missing'\").fetchone()[0])" "$WORK/h_missing_exp/catalog.sqlite")
    [ "$missing" = "Images/r03c03f02p01-ch1sk1fk1fl1.tiff" ] || fail "missing files in the catalog: '$missing'"
    expect_exit 0 "$IMX" "$WORK/h_missing_exp" init -b 1
    expect_exit 4 "$IMX" "$WORK/h_missing_exp" submit
    expect_exit 0 "$IMX" "$WORK/h_missing_exp" status
    expect_output "r03c03f02p01-ch1sk1fk1fl1.tiff"
    n=$((n + 1))
else
    echo "note: no Harmony sample at $H; synthetic fixtures only"
fi

# --- synthetic layouts ------------------------------------------------------------------------
for kind in harmony-v6 incell scanr; do
    $PY "$ORACLE/make_screening_fixtures.py" "$kind" "$WORK/src_$kind"
done
roundtrip h6 "$WORK/src_harmony-v6" harmony 8
created h6 "channels +2 \(DAPI, Alexa 647\)"
created h6 "tpoints +2"
$PY "$ORACLE/check_mapping.py" "$WORK/h6" "$WORK/src_harmony-v6.expected.json"

roundtrip incell "$WORK/src_incell" incell 16
created incell "channels +2 \(DAPI, FITC\)"
created incell "zplanes +2"
created incell "pixel 0.65 x 0.65 um"
$PY "$ORACLE/check_mapping.py" "$WORK/incell" "$WORK/src_incell.expected.json"

roundtrip scanr "$WORK/src_scanr" scanr 16
created scanr "channels +2 \(GFP, DAPI\)"
created scanr "wells +2"
$PY "$ORACLE/check_mapping.py" "$WORK/scanr" "$WORK/src_scanr.expected.json"

# One stored plane back out through `get`, compared with its source by tifffile.
expect_exit 0 "$IMX" "$WORK/incell" get --well D01 --site 1 --channel FITC --zplane 1 -o "$WORK/got.tif"
$PY -c "import tifffile,numpy,sys; a=tifffile.imread(sys.argv[1]); b=tifffile.imread(sys.argv[2]); assert numpy.array_equal(a, b), 'get differs'" \
    "$WORK/src_incell/D - 1(fld 2 wv FITC - FITC z 2).tif" "$WORK/got.tif"

# Auto-detection does not take other layouts' folders: a CellVoyager sample stays CellVoyager.
Y="$SAMPLES/yokogawa/fractal-tasks-core_png"
if [ -d "$Y" ]; then
    expect_exit 0 "$IMX" "$WORK/yoko" create --source "$Y"
    expect_output "detected format 'cellvoyager'"
fi
echo "PASS pe_samples: $n sets"
