#!/usr/bin/env bash
# The issue's largest plane (issue 18): one SIZE x SIZE uint16 tiled BigTIFF (default 100000 x
# 100000, 20 GB uncompressed, 512x512 tiles, written by tifffile under /usr/bin/python3) converted
# with the default chunking. Reports the run job's wall time, MB/s, peak RSS (/usr/bin/time -v), the
# stored size, whether `collect` verified every chunk, and compares a few regions read back with
# `imextract get --region` against tifffile reading the source.
# usage: bench/huge_plane.sh [WORKDIR]   (SIZE=... for another side; needs ~1.7x SIZE^2*2 bytes free)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-/tmp/imextract-huge-plane}
SIZE=${SIZE:-100000}
IMX="${IMX:-$ROOT/build/imextract}"
PY=/usr/bin/python3
[ -x "$IMX" ] || { echo "build first: scripts/build.sh release" >&2; exit 1; }
rm -rf "$W"; mkdir -p "$W/src"
start=$(date +%s)
$PY - "$W/src/A01_huge.tif" "$SIZE" <<'PYEOF'
import sys, numpy as np, tifffile
path, n, t = sys.argv[1], int(sys.argv[2]), 512
rng = np.random.default_rng(1)
noise = rng.integers(0, 64, (t, t), dtype=np.uint16)   # texture, so the chunks do not compress to nothing
yy = np.arange(t, dtype=np.uint32)[:, None]
xx = np.arange(t, dtype=np.uint32)[None, :]
def tiles():
    for ty in range(0, n, t):
        for tx in range(0, n, t):
            v = ((yy + ty) * 3 + (xx + tx) * 5 + (ty // t) * (tx // t) * 97) % 4000
            tile = (v.astype(np.uint16) + noise)
            if ty + t > n or tx + t > n:   # the pixels outside the image are zero, as tifffile pads
                tile = tile.copy(); tile[max(0, n - ty):, :] = 0; tile[:, max(0, n - tx):] = 0
            yield tile
tifffile.imwrite(path, tiles(), shape=(n, n), dtype=np.uint16, tile=(t, t), bigtiff=True)
PYEOF
echo "generated $(du -h "$W/src/A01_huge.tif" | cut -f1) in $(( $(date +%s) - start )) s"
"$IMX" "$W/exp" create --source "$W/src" --format files --pattern '(?P<well>[A-P]\d\d)_huge\.tif' > "$W/create.out" 2>&1
"$IMX" "$W/exp" init > "$W/init.out" 2>&1
/usr/bin/time -v -o "$W/time_run.txt" "$IMX" "$W/exp" run -j 1 > "$W/run.out" 2>&1
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$W/time_run.txt")
rss=$(awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$W/time_run.txt")
src_mb=$(( $(stat -c %s "$W/src/A01_huge.tif") / 1000000 ))
plate=$(ls -d "$W"/exp/*.zarr)
out_mb=$(du -sm "$plate" | cut -f1)
/usr/bin/time -f "%e" -o "$W/time_collect.txt" "$IMX" "$W/exp" collect > "$W/collect.out" 2>&1 \
    && verified="every chunk of every level verified in $(cat "$W/time_collect.txt") s" || verified="FAILED: $(tail -2 "$W/collect.out")"
# Regions read back through the CLI against tifffile's own reading of the source tiles.
regions_ok=0
for r in "0,0,300,700" "$((SIZE / 2 - 37)),$((SIZE / 3 + 11)),1500,900" "$((SIZE - 400)),$((SIZE - 1333)),400,1333"; do
    "$IMX" "$W/exp" get --well A01 --site 0 --channel 0 --region "$r" --output "$W/region.tif" > /dev/null 2>&1
    $PY - "$W/src/A01_huge.tif" "$W/region.tif" "$r" <<'PYEOF' && regions_ok=$((regions_ok + 1))
import sys, numpy as np, tifffile, zarr
y, x, h, w = map(int, sys.argv[3].split(','))
src = zarr.open(tifffile.imread(sys.argv[1], aszarr=True), mode='r')
want = src[y:y + h, x:x + w]
got = tifffile.imread(sys.argv[2])
sys.exit(0 if got.shape == want.shape and np.array_equal(got, want) else 1)
PYEOF
done
echo "| plane | source MB | run job wall s | MB/s | peak RSS MB | plate MB |"
echo "|---|---|---|---|---|---|"
awk -v s="$SIZE" -v m="$src_mb" -v t="$wall" -v r="$rss" -v o="$out_mb" 'BEGIN { printf "| %dx%d uint16 tiled BigTIFF | %d | %.1f | %.0f | %d | %d |\n", s, s, m, t, m / t, r, o }'
echo "collect: $verified"
echo "regions equal to tifffile: $regions_ok of 3"
