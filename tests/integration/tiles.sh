#!/usr/bin/env bash
# Tiled chunks (create --chunk): a 1000x700 demo plate (no side a multiple of the tiles) stored as
# 256-pixel tiles in NGFF 0.4, 0.5 and sharded 0.5 holds the same pixels as whole-plane chunks:
# zarr-python reads the 0.4 plate, zarrita (an independent Zarr v3 reader) the 0.5 ones, the chunk
# files and shapes are checked against zarr.json/.zarray by Python; get and get --region read tiles.
source "$(dirname "$0")/lib/common.bash"
need_oracle

expect_exit 0 "$IMX" demo "$WORK/src" --no-run --rows 1 --cols 2 --sites 1 --channels 2 --zplanes 2 --width 1000 --height 700
for kind in whole t4 t5 t5s; do
    case $kind in
        whole) opts=() ;;
        t4) opts=(--chunk 256) ;;
        t5) opts=(--ngff 0.5 --chunk 256,384) ;;
        t5s) opts=(--ngff 0.5 --shard field --chunk 256) ;;
    esac
    expect_exit 0 "$IMX" "$WORK/$kind" create --source "$WORK/src/microscope" "${opts[@]}"
    expect_exit 0 "$IMX" "$WORK/$kind" init
    expect_exit 0 "$IMX" "$WORK/$kind" submit
    expect_exit 0 "$IMX" "$WORK/$kind" verify
    expect_output "8 of 8 stored plane"
    [ "$(checksums "$WORK/whole")" = "$(checksums "$WORK/$kind")" ] || fail "$kind checksums differ from whole planes'"
done
expect_exit 2 "$IMX" "$WORK/bad" create --source "$WORK/src/microscope" --chunk 256,8
expect_output "--chunk must be"

# zarr-python (Zarr v2) reads every level of the tiled 0.4 plate as the whole-plane plate holds it;
# the arrays' chunks are 256-pixel tiles (cut to a level smaller than that), edge tiles padded.
$PY - "$WORK/whole/DemoPlate.zarr" "$WORK/t4/DemoPlate.zarr" <<'PYEOF'
import os, sys, json, numpy as np, zarr
whole, tiled = sys.argv[1:3]
for img in ("B/02/0", "B/03/0"):
    for level, chunks in ((0, (256, 256)), (1, (256, 256)), (2, (175, 250))):
        a = zarr.open(f"{whole}/{img}/{level}", mode="r")
        b = zarr.open(f"{tiled}/{img}/{level}", mode="r")
        assert b.chunks == (1, 1, 1) + chunks, (img, level, b.chunks)
        assert a.chunks == (1, 1, 1) + a.shape[3:], a.chunks
        assert a.shape == b.shape and np.array_equal(a[:], b[:]) and b[:].max() > 0, (img, level)
        # One file per tile: ceil(shape / chunk) tiles for each of the 4 planes, full-size padded.
        ny, nx = -(-b.shape[3] // chunks[0]), -(-b.shape[4] // chunks[1])
        files = [os.path.join(d, f) for d, _, fs in os.walk(f"{tiled}/{img}/{level}") for f in fs if not f.startswith(".")]
        assert len(files) == 4 * ny * nx, (img, level, len(files), ny, nx)
print("zarr-python: tiled 0.4 plate equals the whole-plane one")
PYEOF

# Zarr v3: chunk keys and shapes from zarr.json, checked by Python; pixels read by zarrita.
$PY - "$WORK/t5/DemoPlate.zarr" "$WORK/t5s/DemoPlate.zarr" <<'PYEOF'
import os, sys, json
plain, sharded = sys.argv[1:3]
for level in range(3):
    m = json.load(open(f"{plain}/B/02/0/{level}/zarr.json"))
    shape, chunk = m["shape"], m["chunk_grid"]["configuration"]["chunk_shape"]
    assert chunk[:3] == [1, 1, 1] and chunk[3] == min(256, shape[3]) and chunk[4] == min(384, shape[4]), chunk
    want = {f"c/0/{c}/{z}/{y}/{x}" for c in range(2) for z in range(2)
            for y in range(-(-shape[3] // chunk[3])) for x in range(-(-shape[4] // chunk[4]))}
    root = f"{plain}/B/02/0/{level}"
    got = {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs if f != "zarr.json"}
    assert got == want, (level, sorted(got ^ want)[:5])
    s = json.load(open(f"{sharded}/B/02/0/{level}/zarr.json"))
    outer = s["chunk_grid"]["configuration"]["chunk_shape"]
    inner = s["codecs"][0]["configuration"]["chunk_shape"]
    assert inner == [1, 1, 1, min(256, shape[3]), min(256, shape[4])], inner
    assert outer[3] % inner[3] == 0 and outer[4] % inner[4] == 0 and outer[3] >= shape[3] and outer[4] >= shape[4], outer
    root = f"{sharded}/B/02/0/{level}"
    got = {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs if f != "zarr.json"}
    assert got == {"c/0/0/0/0/0"}, got
print("zarr.json: tile keys and shapes as the chunk grid says")
PYEOF
NODE_DIR="${IMX_NODE_ORACLE:-/var/cache/imextract-tests/node}"
if command -v node >/dev/null && [ -d "$NODE_DIR/node_modules/zarrita" ]; then
    cp "$ORACLE/read_zarr_v3.mjs" "$NODE_DIR/"
    for kind in t5 t5s; do
        for spec in "B/02/0 0 1 0" "B/03/0 1 0 1" "B/03/0 1 1 2"; do
            set -- $spec
            expect_exit 0 node "$NODE_DIR/read_zarr_v3.mjs" "$WORK/$kind/DemoPlate.zarr/$1/$4" 0 "$2" "$3" "$WORK/plane.bin"
            expect_exit 0 $PY -c "
import sys, numpy as np, zarr
want = zarr.open(sys.argv[1], mode='r')[0, int(sys.argv[2]), int(sys.argv[3])]
got = np.fromfile(sys.argv[4], dtype='<u2').reshape(want.shape)
assert want.max() > 0 and np.array_equal(want, got), sys.argv
" "$WORK/whole/DemoPlate.zarr/$1/$4" "$2" "$3" "$WORK/plane.bin"
        done
    done
else
    echo "zarrita not installed: the 0.5 pixels are checked through get only"
fi

# get reads tiled planes; get --region fetches only the tiles it needs.
for kind in t4 t5 t5s; do
    expect_exit 0 "$IMX" -v "$WORK/$kind" get --well B03 --channel 1 --zplane 1 -o "$WORK/$kind.tif"
    whole_bytes=$(grep -oE '[0-9]+ bytes fetched' "$WORK/last.out" | grep -oE '[0-9]+')
    expect_exit 0 "$IMX" -v "$WORK/$kind" get --well B03 --channel 1 --zplane 1 --region 300,520,200,100 -o "$WORK/$kind.r.tif"
    region_bytes=$(grep -oE '[0-9]+ bytes fetched' "$WORK/last.out" | grep -oE '[0-9]+')
    expect_exit 0 "$IMX" "$WORK/$kind" get --well B03 --channel 1 --zplane 0 --level 1 --region 0,300,350,200 -o "$WORK/$kind.l1.tif"
    $PY - "$WORK/whole/DemoPlate.zarr/B/03/0" "$WORK/$kind" "$whole_bytes" "$region_bytes" "$kind" <<'PYEOF'
import sys, numpy as np, tifffile, zarr
img, prefix, whole_bytes, region_bytes, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
plane = zarr.open(f"{img}/0", mode="r")[0, 1, 1]
assert np.array_equal(tifffile.imread(prefix + ".tif"), plane)
assert np.array_equal(tifffile.imread(prefix + ".r.tif"), plane[300:500, 520:620])
assert np.array_equal(tifffile.imread(prefix + ".l1.tif"), zarr.open(f"{img}/1", mode="r")[0, 1, 0][0:350, 300:500])
# Rows 300..499 lie in tile rows 1 (256..511); columns 520..619 in one tile column (512..767 of
# 256-pixel tiles, or 384..767 of 384): 1 of the plane's 12 (or 9) tiles, plus a shard's index.
assert 0 < region_bytes * 4 < whole_bytes, (kind, region_bytes, whole_bytes)
print(kind, "region fetched", region_bytes, "of", whole_bytes, "bytes")
PYEOF
done
expect_exit 2 "$IMX" "$WORK/t4" get --well B03 --channel 1 --region 600,900,101,10 -o "$WORK/x.tif"
expect_output "reaches past the plane"
expect_exit 2 "$IMX" "$WORK/t4" get --well B03 --channel 1 --region 1,2,3 -o "$WORK/x.tif"
expect_output "--region must be"
echo "PASS tiles"
