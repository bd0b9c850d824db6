#!/usr/bin/env bash
# One huge plane (issue 18): a 32768x24576 uint16 tiled BigTIFF (1.6 GB, 512x512 tiles, written by
# tifffile under /usr/bin/python3) converted with the default chunking (tiles of 1024 above 4096 a
# side); reports the run job's wall time, MB/s of source pixels and peak RSS (/usr/bin/time -v),
# against a plate of 24 ordinary 2560x2160 planes (the same bytes per plane as 64 MB each) run the
# same way: the huge plane's MB/s relative to the plate's per byte; and the huge plane once more in
# a sharded NGFF 0.5 plate (--shard field).
# usage: bench/big_plane.sh [WORKDIR]   (HEIGHT/WIDTH override the huge plane's size)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-/tmp/imextract-big-plane}
HEIGHT=${HEIGHT:-24576} WIDTH=${WIDTH:-32768}
IMX="${IMX:-$ROOT/build/imextract}"  # IMX=other/imextract: the same run with another build
PY=/usr/bin/python3
[ -x "$IMX" ] || { echo "build first: scripts/build.sh release" >&2; exit 1; }
rm -rf "$W"; mkdir -p "$W/big" "$W/plate"
$PY - "$W" "$HEIGHT" "$WIDTH" <<'PYEOF'
import sys, numpy as np, tifffile
w, h, wd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
def band(y0, rows, width):  # cell-like smooth content with noise, written band by band
    y, x = np.mgrid[y0:y0 + rows, 0:width]
    return ((np.sin(y / 97.0) * np.cos(x / 61.0) + 1) * 1500 + rng.integers(0, 400, (rows, width))).astype(np.uint16)
def tiles(h, wd, t=512):
    for ty in range(0, h, t):
        b = band(ty, min(t, h - ty), wd)
        for tx in range(0, wd, t):
            tile = np.zeros((t, t), np.uint16)
            part = b[:, tx:tx + t]
            tile[:part.shape[0], :part.shape[1]] = part
            yield tile
tifffile.imwrite(f"{w}/big/A01_big.tif", tiles(h, wd), shape=(h, wd), dtype=np.uint16, tile=(512, 512), bigtiff=True)
for i in range(24):
    tifffile.imwrite(f"{w}/plate/{'AB'[i // 12]}{i % 12 + 1:02d}_s.tif", band(i * 100, 2160, 2560), tile=(512, 512))
PYEOF
run() {  # run LABEL SOURCE PATTERN [CREATE OPTIONS]: create, init, then the run job alone under /usr/bin/time -v
    "$IMX" "$W/exp_$1" create --source "$2" --format files --pattern "$3" "${@:4}" > /dev/null 2>&1
    "$IMX" "$W/exp_$1" init > /dev/null 2>&1
    /usr/bin/time -v -o "$W/time_$1.txt" "$IMX" "$W/exp_$1" run -j 1 > "$W/run_$1.out" 2>&1
    local wall rss mb
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$W/time_$1.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$W/time_$1.txt")
    mb=$($PY -c "import sys, os, glob; print(sum(os.path.getsize(f) for f in glob.glob(sys.argv[1] + '/*.tif')) / 1e6)" "$2")
    echo "$1 $wall $rss $mb"
}
read -r _ BIG_T BIG_RSS BIG_MB < <(run big "$W/big" '(?P<well>[A-P]\d\d)_big\.tif')
read -r _ PL_T PL_RSS PL_MB < <(run plate "$W/plate" '(?P<well>[A-P]\d\d)_s\.tif')
# The same huge plane in a sharded NGFF 0.5 plate: its tiles go into the shard as they are encoded.
read -r _ SH_T SH_RSS _ < <(run sharded "$W/big" '(?P<well>[A-P]\d\d)_big\.tif' --ngff 0.5 --shard field)
# collect reads every plane and level back and checks them against the run job's checksums.
"$IMX" "$W/exp_big" collect > "$W/collect_big.out" 2>&1 && echo "collect: every plane and level verified" ||
    { tail -3 "$W/collect_big.out"; echo "collect: FAILED"; }
chunks=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['chunks'][3:])" "$W/exp_big/big.zarr/A/01/0/0/.zarray")
awk -v st="$SH_T" -v sr="$SH_RSS" -v bt="$BIG_T" -v br="$BIG_RSS" -v bm="$BIG_MB" -v pt="$PL_T" -v pr="$PL_RSS" -v pm="$PL_MB" -v h="$HEIGHT" -v w="$WIDTH" -v c="$chunks" 'BEGIN {
    printf "| run job | source MB | wall s | MB/s | peak RSS MB |\n|---|---|---|---|---|\n"
    printf "| one %dx%d uint16 tiled BigTIFF (chunks %s) | %.0f | %.1f | %.0f | %d |\n", w, h, c, bm, bt, bm / bt, br
    printf "| 24 planes of 2560x2160 uint16 (tiled TIFFs) | %.0f | %.1f | %.0f | %d |\n", pm, pt, pm / pt, pr
    printf "| the huge plane, NGFF 0.5 --shard field | %.0f | %.1f | %.0f | %d |\n", bm, st, bm / st, sr
    printf "huge plane MB/s / plate MB/s: %.2f\n", (bm / bt) / (pm / pt) }'
