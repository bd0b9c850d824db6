#!/usr/bin/env bash
# OME-Zarr 0.5 (Zarr v3): the same demo plate written as 0.4, as 0.5 and as 0.5 with one shard per
# field holds identical pixels, read by zarrita (an independent Zarr v3 reader under Node) and
# compared with zarr-python's reading of the 0.4 plate; the sharded plate has >= 10x fewer files.
source "$(dirname "$0")/lib/common.bash"
need_oracle
NODE_DIR="${IMX_NODE_ORACLE:-/var/cache/imextract-tests/node}"
command -v node >/dev/null || skip "node is not installed (scripts/install-deps.sh installs it)"
[ -d "$NODE_DIR/node_modules/zarrita" ] || skip "zarrita is not installed in $NODE_DIR (scripts/install-deps.sh installs it from npm)"
cp "$ORACLE/read_zarr_v3.mjs" "$NODE_DIR/"

expect_exit 0 "$IMX" demo "$WORK/src" --no-run --channels 3 --zplanes 5 --tpoints 2 --width 300 --height 260
for kind in v4 v5 v5s; do
    case $kind in
        v4) opts=() ;;
        v5) opts=(--ngff 0.5) ;;
        v5s) opts=(--ngff 0.5 --shard field) ;;
    esac
    expect_exit 0 "$IMX" "$WORK/$kind" create --source "$WORK/src/microscope" "${opts[@]}"
    expect_exit 0 "$IMX" "$WORK/$kind" init
    expect_exit 0 "$IMX" "$WORK/$kind" submit
    expect_exit 0 "$IMX" "$WORK/$kind" verify
    expect_output "360 of 360 stored plane"
done
# Same pixels whatever the layout: the catalog checksums agree.
[ "$(checksums "$WORK/v4")" = "$(checksums "$WORK/v5s")" ] || fail "0.4 and sharded 0.5 checksums differ"
[ "$(checksums "$WORK/v4")" = "$(checksums "$WORK/v5")" ] || fail "0.4 and 0.5 checksums differ"
# --shard without 0.5 is refused at create.
expect_exit 2 "$IMX" "$WORK/bad" create --source "$WORK/src/microscope" --shard field
expect_output "needs --ngff 0.5"

files4=$(find "$WORK/v4/DemoPlate.zarr" -type f | wc -l)
files5=$(find "$WORK/v5s/DemoPlate.zarr" -type f | wc -l)
echo "files: 0.4 $files4, 0.5 sharded $files5"
[ $((files5 * 10)) -le "$files4" ] || fail "sharded plate has $files5 files, 0.4 has $files4: not 10x fewer"

# zarrita reads planes of both levels, in several wells and sites, from both 0.5 plates.
for kind in v5 v5s; do
    for spec in "B/02/0 0 0 0 0" "B/02/1 1 2 4 0" "C/04/1 1 1 2 1" "C/03/0 0 2 3 1"; do
        set -- $spec
        img=$1 t=$2 c=$3 z=$4 level=$5
        expect_exit 0 node "$NODE_DIR/read_zarr_v3.mjs" "$WORK/$kind/DemoPlate.zarr/$img/$level" "$t" "$c" "$z" "$WORK/plane.bin"
        expect_output '"dtype":"uint16"'
        expect_exit 0 $PY -c "
import sys, numpy as np, zarr
want = zarr.open(sys.argv[1])[int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])]
got = np.fromfile(sys.argv[5], dtype='<u2').reshape(want.shape)
assert want.max() > 0 and np.array_equal(want, got), sys.argv
" "$WORK/v4/DemoPlate.zarr/$img/$level" "$t" "$c" "$z" "$WORK/plane.bin"
    done
done
# Metadata: attributes.ome with version 0.5, dimension names on the arrays.
expect_exit 0 $PY -c "
import json, sys
p = json.load(open(sys.argv[1] + '/zarr.json'))
assert p['zarr_format'] == 3 and p['attributes']['ome']['version'] == '0.5' and len(p['attributes']['ome']['plate']['wells']) == 6
a = json.load(open(sys.argv[1] + '/B/02/0/0/zarr.json'))
assert a['dimension_names'] == ['t', 'c', 'z', 'y', 'x'] and a['codecs'][0]['name'] == 'sharding_indexed'
i = json.load(open(sys.argv[1] + '/B/02/0/zarr.json'))
assert [d['path'] for d in i['attributes']['ome']['multiscales'][0]['datasets']] == ['0', '1']
" "$WORK/v5s/DemoPlate.zarr"
# The overview of the sharded plate reads shard indexes and the lowest level's ranges: a small
# fraction of the plate's bytes, as on a plate of one file per chunk.
expect_exit 0 "$IMX" "$WORK/v5s" overview -o "$WORK/v5s.png"
expect_output "6 well\(s\) drawn, 0 with missing"
read_mb=$(grep -oE 'read [0-9.]+ MB' "$WORK/last.out" | grep -oE '[0-9.]+')
$PY - "$WORK/v5s/DemoPlate.zarr" "$read_mb" <<'PYEOF'
import os, sys
total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sys.argv[1]) for f in fs)
read = float(sys.argv[2]) * 1e6
assert 0 < read < 0.05 * total, (read, total)
print(f"sharded overview read {read/total:.2%} of {total/1e6:.1f} MB")
PYEOF
# A flipped byte in a shard's index is caught by verify.
SHARD="$WORK/v5s/DemoPlate.zarr/B/03/1/0/c/0/0/0/0/0"
[ -f "$SHARD" ] || fail "no shard at $SHARD"
$PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-10] ^= 0x01; open(p,'wb').write(b)" "$SHARD"
expect_exit 5 "$IMX" "$WORK/v5s" verify
expect_output "shard index is corrupt"
echo "PASS ngff05_shards"
