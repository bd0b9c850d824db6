#!/usr/bin/env bash
# One CZI mosaic of more than 2 GiB of pixels (issue 18): 33 x 33 Gray16 tiles of 1024 x 1024 placed
# 1000 px apart (33024 x 33024, 2.18 GB of pixels; zstd and uncompressed subblocks, written by
# tests/oracle/make_czi.py --mosaic under /usr/bin/python3), converted with the default chunking
# (tiles of 1024): reports the run job's wall time, MB/s of pixels and peak RSS (/usr/bin/time -v).
# usage: bench/big_czi.sh [WORKDIR]   (TILES, TILE, STEP override the mosaic: TILES x TILES tiles)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-/tmp/imextract-big-czi}
TILES=${TILES:-33} TILE=${TILE:-1024} STEP=${STEP:-1000}
IMX="${IMX:-$ROOT/build/imextract}"
PY=/usr/bin/python3
[ -x "$IMX" ] || { echo "build first: scripts/build.sh release" >&2; exit 1; }
rm -rf "$W"; mkdir -p "$W/src"
$PY "$ROOT/tests/oracle/make_czi.py" --mosaic "$W/src/big.czi" "$TILES" "$TILES" "$TILE" "$STEP"
"$IMX" "$W/exp" create --source "$W/src" > "$W/create.out" 2>&1
"$IMX" "$W/exp" init > /dev/null 2>&1
/usr/bin/time -v -o "$W/time.txt" "$IMX" "$W/exp" run -j 1 > "$W/run.out" 2>&1
"$IMX" "$W/exp" collect > "$W/collect.out" 2>&1 && echo "collect: every plane and level verified" ||
    { tail -3 "$W/collect.out"; echo "collect: FAILED"; }
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$W/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$W/time.txt")
side=$(( (TILES - 1) * STEP + TILE ))
file_mb=$(( $(stat -c %s "$W/src/big.czi") / 1000000 ))
awk -v t="$wall" -v r="$rss" -v s="$side" -v f="$file_mb" 'BEGIN {
    mb = s * s * 2 / 1e6
    printf "| run job | pixels MB | file MB | wall s | MB/s | peak RSS MB |\n|---|---|---|---|---|---|\n"
    printf "| one %dx%d Gray16 CZI mosaic | %.0f | %d | %.1f | %.0f | %d |\n", s, s, mb, f, t, mb / t, r }'
