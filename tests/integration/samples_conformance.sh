#!/usr/bin/env bash
# Conformance over the real vendor files in ../shared/samples: each set converts (and the oracle
# compares every stored plane with tifffile / Pillow) or is refused with a clear reason.
source "$(dirname "$0")/lib/common.bash"
[ -d "$SAMPLES" ] || skip "no ../shared/samples folder"
need_oracle
n=0
# extract NAME SOURCE [create options...]: create/init/submit, then the catalog-driven oracle.
extract() {
    local name=$1 src=$2; shift 2
    expect_exit 0 "$IMX" "$WORK/$name" create --source "$src" "$@"
    cp "$WORK/last.out" "$WORK/$name.create.out"
    expect_exit 0 "$IMX" "$WORK/$name" init -b 2
    expect_exit 0 "$IMX" "$WORK/$name" submit
    $PY "$ORACLE/check_plate_against_catalog.py" "$WORK/$name" --expect-planes "$EXPECT"
    n=$((n + 1))
}
created() { grep -qE -- "$2" "$WORK/$1.create.out" || { cat "$WORK/$1.create.out" >&2; fail "$1: create output lacks /$2/"; }; }

# Yokogawa CV7000 with PNG planes: 1 well, 2 fields, 2 z, 1 channel.
Y="$SAMPLES/yokogawa/fractal-tasks-core_png"
if [ -d "$Y" ]; then
    EXPECT=4 extract yoko "$Y"
    created yoko "format +cellvoyager"
    created yoko "wells +1"
    created yoko "sites +2"
    created yoko "zplanes +2"
    $PY "$ORACLE/check_cellvoyager_plate.py" "$Y" "$WORK/yoko"/*.zarr
fi
# CellVoyager metadata without images: refused, naming what is missing.
for d in "$SAMPLES"/yokogawa/cellvoyager-types_metadata/*/ "$SAMPLES"/yokogawa/fractal-uzh-converters_CQ3K_metadata; do
    [ -d "$d" ] || continue
    expect_exit 3 "$IMX" "$WORK/meta_only_$n" create --source "$d"
    expect_output "image files named in the metadata exists"
    n=$((n + 1))
done
# A measurement folder holding three more measurement folders: four acquisitions, all named.
C="$SAMPLES/yokogawa/cellvoyager-types_metadata"
if [ -d "$C" ]; then
    expect_exit 3 "$IMX" "$WORK/meta_four" create --source "$C"
    expect_output "holds 4 acquisitions"
    expect_output "cellvoyager +/.*/cellvoyager-types_metadata/CV8000_AF_Error"
fi

# OME-TIFF from Bio-Formats: each file on its own (the set mixes plane sizes).
for f in "$SAMPLES"/ome-tiff/*/*.ome.tif*; do
    name=ome_$(basename "$f" | tr -c 'a-zA-Z0-9_\n' _)
    mkdir -p "$WORK/src_$name"
    cp "$f" "$WORK/src_$name/"
    EXPECT=$($PY -c "import tifffile,sys; print(len(tifffile.TiffFile(sys.argv[1]).pages))" "$f")
    extract "$name" "$WORK/src_$name"
    created "$name" "format +ome-tiff"
done

# Plain TIFF and PNG folders through the files mode and a pattern.
T="$SAMPLES/tiff/viv_multi-tiff"
if [ -d "$T" ]; then
    EXPECT=3 extract tiff "$T" --format files --pattern 'Channel_(?P<channel>\d+)\.tif'
    created tiff "channels +3"
fi
P="$SAMPLES/png16/cellprofiler-examples"
if [ -d "$P" ]; then
    EXPECT=2 extract png16 "$P" --format files --pattern '(?P<site>\d+)_\d+_N_(?P<channel>[GR])\.png'
    created png16 "channels +2"
fi
# ImageJ TIFFs: the ImageJ description maps pages to channels (hyperstack) or z-planes.
I="$SAMPLES/imagej-tiff/BioImageAnalysisNotebooks"
if [ -d "$I" ]; then
    EXPECT=41 extract ij_z "$I"
    created ij_z "format +files"
    created ij_z "zplanes +41"
fi
I="$SAMPLES/imagej-tiff/BioImageAnalysisNotebooks_BBBC022"
if [ -d "$I" ]; then
    EXPECT=3 extract ij_hyper "$I" --format files --pattern 'IXMtest_(?P<well>[A-P]\d\d)_s(?P<site>\d+)\.tif'
    created ij_hyper "channels +3"
    expect_exit 0 "$IMX" "$WORK/ij_hyper" get --well A02 --channel 2 -o "$WORK/ij.tif"
    $PY -c "import tifffile,numpy,sys; a=tifffile.imread(sys.argv[1]); b=tifffile.imread(sys.argv[2]); assert numpy.array_equal(a[2], b)" \
        "$I/IXMtest_A02_s9.tif" "$WORK/ij.tif"
fi
echo "PASS samples_conformance: $n sample sets"
