#!/usr/bin/env bash
# Molecular Devices layouts and ImageJ hyperstacks from ../shared/samples: `create --format auto`
# must pick the right reader, and every stored plane must equal its source TIFF read by tifffile
# (tests/oracle/check_plate_against_catalog.py). Plane counts come from `find`, not from imextract.
source "$(dirname "$0")/lib/common.bash"
[ -d "$SAMPLES/metaxpress" ] || skip "no ../shared/samples/metaxpress folder"
need_oracle
n=0
extract() {
    local name=$1 src=$2; shift 2
    expect_exit 0 "$IMX" "$WORK/$name" create --source "$src" --format auto "$@"
    cp "$WORK/last.out" "$WORK/$name.create.out"
    expect_exit 0 "$IMX" "$WORK/$name" init -b 4
    expect_exit 0 "$IMX" "$WORK/$name" submit
    $PY "$ORACLE/check_plate_against_catalog.py" "$WORK/$name" --expect-planes "$EXPECT"
    n=$((n + 1))
}
created() { grep -qE -- "$2" "$WORK/$1.create.out" || { cat "$WORK/$1.create.out" >&2; fail "$1: create output lacks /$2/"; }; }
images() { find "$1" -iname '*.tif' ! -name '*_thumb*' | wc -l; }

# Exported plates (.HTD), one plate folder at a time: time series, z series, single image.
for d in "$SAMPLES"/metaxpress/faim-ipa_ImageXpress_exported/*/; do
    name=htd_$(basename "$d")
    EXPECT=$(images "$d") extract "$name" "$d"
    created "$name" "format +metaxpress"
done
# The whole export folder: one OME-Zarr plate per plate folder.
E="$SAMPLES/metaxpress/faim-ipa_ImageXpress_exported"
EXPECT=$(images "$E") extract htd_all "$E"
created htd_all "plates +3"
[ -d "$WORK/htd_all/9987_Plate_3434.zarr" ] || fail "htd_all: no 9987_Plate_3434.zarr"
created htd_9987_Plate_3434 "zplanes +3"
created htd_9987_Plate_3435 "tpoints +2"

# Database layout: projections beside the ZStep_N folders are an extra z-plane, or skipped.
D="$SAMPLES/metaxpress/faim-ipa_Projection-Mix"
if [ -d "$D" ]; then
    EXPECT=$(images "$D") extract db_mix "$D"
    created db_mix "format +metaxpress"
    created db_mix "zplanes +11"
    EXPECT=$(find "$D" -iname '*.tif' ! -name '*_thumb*' -path '*ZStep_*' | wc -l) extract db_mix_skip "$D" --skip-projections
    created db_mix_skip "zplanes +10"
fi
for s in faim-ipa_SingleChannel cellprofiler-examples_ADSA cellprofiler-examples_StraightenWorms; do
    D="$SAMPLES/metaxpress/$s"
    [ -d "$D" ] || continue
    EXPECT=$(images "$D") extract "$s" "$D"
    created "$s" "format +metaxpress"
done
# A folder of thumbnails only: MetaXpress is detected and says why there is nothing to convert.
if [ -d "$SAMPLES/metaxpress/faim-ipa_thumb" ]; then
    expect_exit 3 "$IMX" "$WORK/thumb" create --source "$SAMPLES/metaxpress/faim-ipa_thumb"
    expect_output "only thumbnails"
fi

# ImageJ hyperstack named by well and site: auto detection, no pattern needed.
I="$SAMPLES/imagej-tiff/BioImageAnalysisNotebooks_BBBC022"
if [ -d "$I" ]; then
    EXPECT=3 extract ij_auto "$I"
    created ij_auto "format +files"
    created ij_auto "channels +3"
    expect_exit 0 "$IMX" "$WORK/ij_auto" get --well A02 --channel 1 -o "$WORK/ij1.tif"
    $PY -c "import tifffile,numpy,sys; a=tifffile.imread(sys.argv[1]); b=tifffile.imread(sys.argv[2]); assert numpy.array_equal(a[1], b)" \
        "$I/IXMtest_A02_s9.tif" "$WORK/ij1.tif"
fi

# MetaMorph .nd without its images: detected, and refused because the images are missing.
N="$SAMPLES/metamorph-nd/metamorph-mda-parser"
if [ -d "$N" ]; then
    mkdir -p "$WORK/nd_src"
    cp "$N/sample_4ch_1pos_1z.nd" "$WORK/nd_src/"
    expect_exit 3 "$IMX" "$WORK/nd" create --source "$WORK/nd_src"
    expect_output "metamorph-nd|image files named in the metadata exists"
fi
echo "PASS md_samples: $n conversions"
