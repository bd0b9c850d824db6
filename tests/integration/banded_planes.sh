#!/usr/bin/env bash
# Planes read band by band (issue 18): a tiled BigTIFF (112x80 tiles, cut by the bands), a stripped
# BigTIFF (Deflate, 50 rows a strip) and a z-stack projected (--mip), each 1531x1237 uint16, stored
# as 128x192 chunks (10 rows of chunks: read one row at a time), in NGFF 0.4 and sharded 0.5. Every level read by zarr-python
# equals tifffile's reading of the source halved in numpy (2x2 mean rounded half up, odd edges);
# collect verifies every plane and level; checksums, level checksums and statistics equal those of
# the same planes read whole (chunks of 1024: two rows, the whole-plane path). A file truncated
# after create fails its plane naming the file, and leaves none of its chunks behind.
source "$(dirname "$0")/lib/common.bash"
need_oracle

mkdir -p "$WORK/src" "$WORK/mip"
$PY - "$WORK" <<'PYEOF'
import sys, numpy as np, tifffile
w = sys.argv[1]
rng = np.random.default_rng(18)
y, x = np.mgrid[0:1237, 0:1531]
def img():
    return ((y * 7 + x * 3) % 4000 + rng.integers(0, 3000, (1237, 1531))).astype(np.uint16)
tifffile.imwrite(f"{w}/src/A01_tiled.tif", img(), tile=(112, 80), bigtiff=True)
tifffile.imwrite(f"{w}/src/A02_stripped.tif", img(), rowsperstrip=50, compression="zlib", bigtiff=True)
for z in range(3):
    tifffile.imwrite(f"{w}/mip/B01_z{z}.tif", img(), tile=(128, 128), compression="zlib")
PYEOF
pattern='(?P<well>[A-P]\d\d)_\w+\.tif'
for kind in banded sharded whole; do
    opts=(--chunk 128,192)
    [ $kind = sharded ] && opts=(--ngff 0.5 --shard field --chunk 128,192)
    [ $kind = whole ] && opts=(--chunk 1024)
    expect_exit 0 "$IMX" "$WORK/$kind" create --source "$WORK/src" --format files --pattern "$pattern" "${opts[@]}"
    expect_exit 0 "$IMX" "$WORK/$kind" init
    expect_exit 0 "$IMX" "$WORK/$kind" submit
    expect_exit 0 "$IMX" "$WORK/$kind" collect
    expect_exit 0 "$IMX" "$WORK/$kind" verify
    expect_output "2 of 2 stored plane"
done
for kind in banded sharded; do
    grep -rq "read band by band" "$WORK/$kind/jobs" || fail "the $kind plate's planes were not read band by band"
done
grep -rq "read band by band" "$WORK/whole/jobs" && fail "planes of two rows of chunks were read band by band"
stats() { $PY -c "import sqlite3,sys; print('\n'.join(map(str, sqlite3.connect(sys.argv[1]).execute('SELECT checksum, level_checksums, min, max, p999, stored_bytes IS NOT NULL FROM outputs ORDER BY id'))))" "$1/catalog.sqlite"; }
for kind in banded sharded; do  # the shard's tiles collected band by band, written once complete
    [ "$(stats "$WORK/$kind")" = "$(stats "$WORK/whole")" ] || {
        stats "$WORK/$kind"; stats "$WORK/whole"; fail "$kind planes' checksums or statistics differ from whole planes'"; }
done

# A z-stack projected band by band: each band the maximum of the three files' bands.
expect_exit 0 "$IMX" "$WORK/mip_exp" create --source "$WORK/mip" --format files \
    --pattern '(?P<well>[A-P]\d\d)_z(?P<z>\d)\.tif' --chunk 128 --mip
expect_exit 0 "$IMX" "$WORK/mip_exp" init
expect_exit 0 "$IMX" "$WORK/mip_exp" submit
expect_exit 0 "$IMX" "$WORK/mip_exp" collect

$PY - "$WORK" <<'PYEOF'
import sys, glob, numpy as np, tifffile, zarr
w = sys.argv[1]
def half(a):  # 2x2 mean rounded half up; blocks cut by an odd edge use the pixels they have
    h, wd = (a.shape[0] + 1) // 2, (a.shape[1] + 1) // 2
    s = np.zeros((h, wd), np.uint64); n = np.zeros((h, wd), np.uint64)
    for dy in (0, 1):
        for dx in (0, 1):
            part = a[dy::2, dx::2].astype(np.uint64)
            s[:part.shape[0], :part.shape[1]] += part
            n[:part.shape[0], :part.shape[1]] += 1
    return ((s + n // 2) // n).astype(a.dtype)
def check(plate, well, src, chunks):
    ref = src
    levels = len(glob.glob(f"{plate}/{well[0]}/{int(well[1:]):02d}/0/[0-9]*"))
    assert levels == 4, levels  # 1531 -> 766 -> 383 -> 192
    for level in range(levels):
        a = zarr.open(f"{plate}/{well[0]}/{int(well[1:]):02d}/0/{level}", mode="r")
        assert a.chunks[3:] == tuple(min(c, s) for c, s in zip(chunks, a.shape[3:])), (well, level, a.chunks)
        got = a[0, 0, 0]
        assert got.shape == ref.shape and np.array_equal(got, ref), (well, level, int((got != ref).sum()))
        ref = half(ref)
plate = glob.glob(f"{w}/banded/*.zarr")[0]
check(plate, "A01", tifffile.imread(f"{w}/src/A01_tiled.tif"), (128, 192))
check(plate, "A02", tifffile.imread(f"{w}/src/A02_stripped.tif"), (128, 192))
mip = np.max([tifffile.imread(f"{w}/mip/B01_z{z}.tif") for z in range(3)], axis=0)
check(glob.glob(f"{w}/mip_exp/*.zarr")[0], "B01", mip, (128, 128))
print("zarr-python: every level of the banded planes equals tifffile's pixels and their numpy pyramid")
PYEOF

# Verified band by band too (collect and verify read such planes a row of chunks at a time): a
# flipped byte in a chunk of level 0 and in one of level 2 is caught, and with --sources a source
# file changed after extraction.
EXP="$WORK/banded"
plate=$(ls -d "$EXP"/*.zarr)
expect_exit 0 "$IMX" "$EXP" verify --sources
expect_output "2 compared with their source files"
for chunk in "$plate/A/01/0/0/0/0/0/5/3" "$plate/A/02/0/2/0/0/0/1/1"; do
    [ -f "$chunk" ] || fail "no chunk at $chunk"
    cp "$chunk" "$WORK/chunk.bak"
    $PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2] ^= 0x40; open(p,'wb').write(b)" "$chunk"
    expect_exit 5 "$IMX" "$EXP" verify
    expect_output "1 of 2 stored plane"
    cp "$WORK/chunk.bak" "$chunk"
done
expect_exit 0 "$IMX" "$EXP" verify
$PY -c "import sys, tifffile; a=tifffile.imread(sys.argv[1]); a[1000, 700] ^= 1; tifffile.imwrite(sys.argv[1], a, tile=(112, 80), bigtiff=True)" "$WORK/src/A01_tiled.tif"
expect_exit 0 "$IMX" "$EXP" verify
expect_exit 5 "$IMX" "$EXP" verify --sources
expect_output "A01_tiled.tif no longer matches the stored plane"

# Truncated after create: the plane fails naming the file, and none of its chunks stay.
expect_exit 0 "$IMX" "$WORK/cut" create --source "$WORK/src" --format files --pattern "$pattern" --chunk 128,192
expect_exit 0 "$IMX" "$WORK/cut" init
truncate -s 2000000 "$WORK/src/A02_stripped.tif"
expect_exit 4 "$IMX" "$WORK/cut" submit
grep -rq "A02_stripped.tif" "$WORK/cut/jobs" || fail "the failed plane's message does not name the file"
plate=$(ls -d "$WORK"/cut/*.zarr)
[ -n "$(find "$plate/A/01/0/0" -type f ! -name '.z*')" ] || fail "the intact plane was not stored"
[ -z "$(find "$plate/A/02" -type f ! -name '.z*' -path '*/0/0/*')" ] || fail "the truncated plane left chunks behind"
echo "PASS banded_planes"
