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

# Database layout: projections beside the ZStep_N folders (their descriptions name the method) are
# channels of their own, or skipped; w3 exists only as a projection.
D="$SAMPLES/metaxpress/faim-ipa_Projection-Mix"
if [ -d "$D" ]; then
    EXPECT=$(images "$D") extract db_mix "$D"
    created db_mix "format +metaxpress"
    created db_mix "zplanes +10"
    created db_mix "channels +6 \(w1, w2, w4, w1 \(Maximum projection\), w2 \(Best Focus projection\), w3 \(Maximum projection\)\)"
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

# Synthetic MetaMorph acquisition: .nd + STK z-stacks (planes after the single IFD) + TIFs,
# written byte by byte here; the oracle reads the STK planes with tifffile.
mkdir -p "$WORK/stk_src"
$PY - "$WORK/stk_src" <<'PYEOF'
import struct, sys, os
import numpy as np, tifffile
d = sys.argv[1]
def stk(path, planes):
    n, h, w = planes.shape
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 16), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, None), (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, w * h * 2),
               (33628, 4, 2, None), (33629, 5, n, None)]
    ifd_end = 8 + 2 + 12 * len(entries) + 4
    uic1 = ifd_end; uic2 = uic1 + 8; pix = uic2 + 24 * n
    out = bytearray(b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        value = {273: pix, 33628: uic1, 33629: uic2}.get(tag, value)
        out += struct.pack("<HHI", tag, typ, count)
        out += struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
    out += struct.pack("<I", 0) + struct.pack("<II", 1, 0)
    for k in range(n):
        out += struct.pack("<6I", k, 1, 2460000, 0, 2460000, 0)  # z distance k/1, julian dates
    out += planes.astype("<u2").tobytes()
    open(path, "wb").write(out)
rng = np.random.default_rng(7)
open(os.path.join(d, "exp.nd"), "w").write(
    '"NDInfoFile", Version 1.0\n"DoStage", TRUE\n"NStagePositions", 2\n"Stage1", "B02"\n"Stage2", "B03"\n'
    '"DoWave", TRUE\n"NWavelengths", 2\n"WaveName1", "GFP"\n"WaveDoZ1", TRUE\n"WaveName2", "BF"\n"WaveDoZ2", FALSE\n'
    '"DoZSeries", TRUE\n"NZSteps", 4\n"ZStepSize", 0.5\n"WaveInFileName", TRUE\n"EndFile"\n')
for s in (1, 2):
    stk(os.path.join(d, f"exp_w1GFP_s{s}.STK"), rng.integers(0, 65535, (4, 24, 32), dtype=np.uint16))
    tifffile.imwrite(os.path.join(d, f"exp_w2BF_s{s}.TIF"), rng.integers(0, 65535, (24, 32), dtype=np.uint16))
PYEOF
EXPECT=10 extract nd_stk "$WORK/stk_src"
created nd_stk "format +metamorph-nd"
created nd_stk "wells +2"
created nd_stk "zplanes +4"

# MetaMorph .nd without its images: detected, and refused because the images are missing.
N="$SAMPLES/metamorph-nd/metamorph-mda-parser"
if [ -d "$N" ]; then
    mkdir -p "$WORK/nd_src"
    cp "$N/sample_4ch_1pos_1z.nd" "$WORK/nd_src/"
    expect_exit 3 "$IMX" "$WORK/nd" create --source "$WORK/nd_src"
    expect_output "metamorph-nd|image files named in the metadata exists"
fi
echo "PASS md_samples: $n conversions"
