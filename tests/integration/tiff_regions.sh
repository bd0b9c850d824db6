#!/usr/bin/env bash
# Regions of tiled planes from TIFF sources, pixel-exact against tifffile: a tiled (Deflate), a
# stripped (LZW, 16 rows a strip) and a tiled BigTIFF file of 1100x900 uint16, each a well of a
# plate stored with --chunk 256 (default levels: 4); get --region at level 0 and 1 across tile
# edges, and whole planes, read back equal to tifffile's reading of the source (level 1: the 2x2
# mean rounded half up of it).
source "$(dirname "$0")/lib/common.bash"
need_oracle

mkdir -p "$WORK/src"
$PY - "$WORK/src" <<'PYEOF'
import sys, numpy as np, tifffile
d = sys.argv[1]
rng = np.random.default_rng(18)
y, x = np.mgrid[0:900, 0:1100]
for name, kw in (("A01_tiled", dict(tile=(128, 128), compression="zlib")),
                 ("A02_stripped", dict(rowsperstrip=16, compression="zlib")),
                 ("A03_bigtiff", dict(tile=(256, 256), bigtiff=True))):
    img = ((y * 7 + x * 3) % 4000 + rng.integers(0, 500, (900, 1100))).astype(np.uint16)
    tifffile.imwrite(f"{d}/{name}.tif", img, **kw)
PYEOF
expect_exit 0 "$IMX" "$WORK/exp" create --source "$WORK/src" --format files \
    --pattern '(?P<well>[A-P]\d\d)_\w+\.tif' --chunk 256
expect_exit 0 "$IMX" "$WORK/exp" init
expect_exit 0 "$IMX" "$WORK/exp" submit
expect_exit 0 "$IMX" "$WORK/exp" verify
expect_output "3 of 3 stored plane"
for well in A01 A02 A03; do
    expect_exit 0 "$IMX" "$WORK/exp" get --well $well --channel 0 -o "$WORK/$well.tif"
    i=0
    for spec in "0 0 900 1100" "250 250 20 20" "700 1000 200 100" "899 0 1 1100" "0,1 100 200 300 200"; do
        set -- $spec
        level=0
        if [[ $1 == *,* ]]; then level=${1#*,}; set -- "${1%,*}" "$2" "$3" "$4"; fi
        expect_exit 0 "$IMX" "$WORK/exp" get --well $well --channel 0 --level $level --region "$1,$2,$3,$4" \
            -o "$WORK/$well.r$i.tif"
        echo "$well $i $level $1 $2 $3 $4" >> "$WORK/regions.txt"
        i=$((i + 1))
    done
done
$PY - "$WORK" <<'PYEOF'
import sys, glob, numpy as np, tifffile
w = sys.argv[1]
names = {"A01": "A01_tiled", "A02": "A02_stripped", "A03": "A03_bigtiff"}
def half(a):  # 2x2 mean rounded half up, partial blocks at odd edges use the pixels they have
    h, wd = (a.shape[0] + 1) // 2, (a.shape[1] + 1) // 2
    s = np.zeros((h, wd), np.uint64); n = np.zeros((h, wd), np.uint64)
    for dy in (0, 1):
        for dx in (0, 1):
            part = a[dy::2, dx::2].astype(np.uint64)
            s[:part.shape[0], :part.shape[1]] += part; n[:part.shape[0], :part.shape[1]] += 1
    return ((2 * s + n) // (2 * n)).astype(a.dtype)
for well, name in names.items():
    src = tifffile.imread(f"{w}/src/{name}.tif")
    assert np.array_equal(tifffile.imread(f"{w}/{well}.tif"), src), well
levels = {}
for line in open(f"{w}/regions.txt"):
    well, i, level, ry, rx, rh, rw = line.split()
    ry, rx, rh, rw, level = int(ry), int(rx), int(rh), int(rw), int(level)
    src = tifffile.imread(f"{w}/src/{names[well]}.tif")
    ref = half(src) if level == 1 else src
    got = tifffile.imread(f"{w}/{well}.r{i}.tif").reshape(rh, rw)
    assert np.array_equal(got, ref[ry:ry + rh, rx:rx + rw]), (well, i, level)
print("regions equal tifffile's reading of tiled, stripped and BigTIFF sources")
PYEOF
echo "PASS tiff_regions"
