#!/usr/bin/env bash
# The real Zeiss CZI samples through the whole CLI (create, init, submit/collect), each in its own
# folder (their plane sizes differ); then tests/oracle/czi_oracle.py, an independent Python reader
# of the CZI subblocks, compares every stored plane, the channel labels and the pixel size.
# Each sample is also stored in chunks of 32 (read band by band) and must give the same checksums.
# First a synthetic mosaic CZI written by tests/oracle/make_czi.py (zstd0/zstd1/hi-lo tiles, two
# scenes), stitched by default and kept as sites with --tiles as-sites.
source "$(dirname "$0")/lib/common.bash"
need_oracle
$PY -c "import numcodecs" 2>/dev/null || skip "the CZI oracle needs python3-numcodecs"
mkdir -p "$WORK/mosaic"
$PY "$ORACLE/make_czi.py" "$WORK/mosaic/m.czi"
expect_exit 0 "$IMX" "$WORK/mos" create --source "$WORK/mosaic"
expect_output "sites +2"
expect_output "channels +2 \\(DAPI, Cy5\\)"
expect_output "plane +48x32 uint16, pixel 0.325 x 0.325 um, z step 1.5 um"
expect_exit 0 "$IMX" "$WORK/mos" init
expect_exit 0 "$IMX" "$WORK/mos" submit
$PY "$ORACLE/czi_oracle.py" check-plate "$WORK/mos/mosaic.zarr" "$WORK/mosaic/m.czi"
expect_exit 0 "$IMX" "$WORK/tiles" create --source "$WORK/mosaic" --tiles as-sites
expect_output "sites +8"
expect_output "plane +24x16 uint16"
expect_exit 0 "$IMX" "$WORK/tiles" init
expect_exit 0 "$IMX" "$WORK/tiles" submit
# Site 5 = scene 1, tile 1; its pixels are the oracle's formula.
$PY - "$WORK/tiles/mosaic.zarr" <<'PY'
import sys, numpy as np, zarr
g = zarr.open_group(zarr.storage.DirectoryStore(sys.argv[1], dimension_separator="/"), mode="r")
y, x = np.mgrid[0:16, 0:24]
for site, (s, m) in enumerate((s, m) for s in range(2) for m in range(4)):
    for c in range(2):
        for z in range(3):
            want = (1000 * s + 300 * c + 50 * z + 7 * m + x + 3 * y).astype("u2")
            assert np.array_equal(g[f"A/01/{site}/0"][0, c, z], want), (site, c, z)
print("tiles as sites: 48 planes pixel-exact")
PY
expect_exit 2 "$IMX" "$WORK/bad" create --source "$WORK/mosaic" --tiles diagonal

C="$SAMPLES/czi/aicspylibczi"
[ -d "$C" ] || skip "no ../shared/samples/czi folder (the synthetic mosaic passed)"
n=0
for f in "$C"/*.czi; do
    name=$(basename "$f" .czi | tr -c 'a-zA-Z0-9_\n' _)
    mkdir -p "$WORK/src_$name"
    cp "$f" "$WORK/src_$name/"   # a copy: symlinks leading out of the source folder are refused
    expect_exit 0 "$IMX" "$WORK/$name" create --source "$WORK/src_$name"
    expect_output "format +czi"
    planes=$($PY -c "
import json, subprocess, sys
d = json.loads(subprocess.check_output([sys.executable, '$ORACLE/czi_oracle.py', 'describe', '$f']))
s = d['sizes']; spp = 3 if d['pixel_type'].startswith('Bgr') else 1
print(s['S'] * s['T'] * s['C'] * s['Z'] * spp)")
    expect_output "planes +$planes to store"
    expect_exit 0 "$IMX" "$WORK/$name" init -b 1
    expect_exit 0 "$IMX" "$WORK/$name" submit
    expect_output "$planes of $planes plane\(s\) verified"
    $PY "$ORACLE/czi_oracle.py" check-plate "$WORK/$name/src_$name.zarr" "$f"
    # The same planes read band by band (chunks of 32: 4 or more rows of chunks): the same pixels.
    expect_exit 0 "$IMX" "$WORK/${name}_bands" create --source "$WORK/src_$name" --chunk 32
    expect_exit 0 "$IMX" "$WORK/${name}_bands" init -b 1
    expect_exit 0 "$IMX" "$WORK/${name}_bands" submit
    grep -rq "read band by band" "$WORK/${name}_bands/jobs" || fail "$f: planes not read band by band with --chunk 32"
    [ "$(checksums "$WORK/${name}_bands")" = "$(checksums "$WORK/$name")" ] || fail "$f: banded planes differ from whole ones"
    n=$((n + 1))
done
# The T/C/Z stack also through the catalog-independent route: `get` one plane as TIFF.
S="$WORK/CD_s_1_t_3_c_2_z_5"
if [ -d "$S" ]; then
    expect_exit 0 "$IMX" "$S" get --well A01 --channel LED470 --tpoint 2 --zplane 4 -o "$WORK/p.tif"
    $PY - "$WORK/p.tif" <<'PY'
import sys, tifffile
a = tifffile.imread(sys.argv[1])
# czi_oracle.py stats: S0 T2 C1 Z4 sum=79096864 p00=24 p_mid=486 p_last=780
assert a.shape == (170, 240) and int(a.sum()) == 79096864 and a[0, 0] == 24 and a[85, 120] == 486, (a.shape, a.sum())
PY
fi
echo "PASS czi_samples: $n CZI files pixel-exact against the independent reader"
