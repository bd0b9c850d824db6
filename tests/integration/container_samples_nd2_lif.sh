#!/usr/bin/env bash
# The real ND2 and LIF sample files: each is copied into a folder of its own (symlinks leading out
# of the source folder are refused by design), converted with create/init/submit, and every stored
# plane is compared with tests/oracle/nd2_lif_oracle.py, an independent numpy reader of both formats.
source "$(dirname "$0")/lib/common.bash"
[ -d "$SAMPLES" ] || skip "no ../shared/samples folder"
need_oracle
n=0
convert() {  # NAME FILE EXPECTED_PLANES
    local name=$1 file=$2 planes=$3
    mkdir -p "$WORK/src_$name"
    cp "$file" "$WORK/src_$name/"
    expect_exit 0 "$IMX" "$WORK/$name" create --source "$WORK/src_$name"
    cp "$WORK/last.out" "$WORK/$name.create.out"
    expect_exit 0 "$IMX" "$WORK/$name" init -b 2
    expect_exit 0 "$IMX" "$WORK/$name" submit
    expect_exit 0 "$IMX" "$WORK/$name" status
    expect_output "source planes +$planes "
    $PY "$ORACLE/nd2_lif_oracle.py" check "$WORK/$name/src_$name.zarr" "$file" A01 || fail "$name: oracle mismatch"
    n=$((n + 1))
}
created() { grep -qE -- "$2" "$WORK/$1.create.out" || { cat "$WORK/$1.create.out" >&2; fail "$1: create output lacks /$2/"; }; }

F="$SAMPLES/nd2/pims/cluster.nd2"
if [ -f "$F" ]; then
    convert nd2_cluster "$F" 60
    created nd2_cluster "format +nd2"
    created nd2_cluster "tpoints +3"
    created nd2_cluster "zplanes +10"
    created nd2_cluster "channels +2 \(5-FAM/pH 9.0, FM 4-64/2% CHAPS\)"
    created nd2_cluster "38x31 uint16, pixel 0.1678"
fi
F="$SAMPLES/lif/readlif/LeicaLASX_wavelength-sweep_example.lif"
if [ -f "$F" ]; then
    convert lif_sweep "$F" 255
    created lif_sweep "format +lif"
    created lif_sweep "sites +3"
    created lif_sweep "channels +40"
    created lif_sweep "64x64 uint8"
fi
F="$SAMPLES/lif/readlif/LeicaLASX_xz-plane_example.lif"
if [ -f "$F" ]; then
    # Three images of three plane sizes (an XY image, an XZ time series, an XZ scan along Y):
    # one plate each, every plane checked by the oracle.
    convert lif_xz "$F" 75
    created lif_xz "512x512 uint8"
    created lif_xz "plane of plate src_lif_xz_128x128: 128x128 uint8"
    created lif_xz "plane of plate src_lif_xz_128x38: 128x38 uint8"
    created lif_xz "image 'x-z-t' is 128x128 uint8, unlike the first image's 512x512 uint8: stored as plate src_lif_xz_128x128"
    for g in 128x128 128x38; do
        $PY "$ORACLE/nd2_lif_oracle.py" check "$WORK/lif_xz/src_lif_xz_$g.zarr" "$F" A01 "$g" || fail "lif_xz $g: oracle mismatch"
    done
    expect_exit 0 "$IMX" "$WORK/lif_xz" status
    expect_output "stored planes 75 \(75 verified\)"
fi
[ "$n" -gt 0 ] || skip "no ND2 or LIF samples"
echo "PASS container_samples_nd2_lif: $n files"
