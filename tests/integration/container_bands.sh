#!/usr/bin/env bash
# ND2, LIF and OME-TIFF planes read band by band (issue 18). Synthetic 1000x700 planes stored as
# 64x64 chunks (11 rows of chunks):
#  - ND2 (tests/oracle/make_nd2.py): a raw file (LV metadata, frames on 4096-byte pages, two
#    interleaved components, row padding) and a zlib file (NIS-Elements 5 layout, 8-bit RGB);
#  - LIF: an image of two channels interleaved per pixel with Z, and an image with Y as the
#    innermost dimension and two mosaic tiles (sites);
#  - OME-TIFF: a tiled 1531x1237 image with a SubIFDs pyramid (ours is built instead).
# Every plane is read band by band (the run log says so), every plane equals the independent
# readers' (tests/oracle/nd2_lif_oracle.py, tifffile's level 0), and checksums, level checksums and
# statistics equal those of the same files stored as one chunk a plane (read whole).
source "$(dirname "$0")/lib/common.bash"
need_oracle

mkdir -p "$WORK/nd2" "$WORK/lif" "$WORK/ome"
$PY - "$WORK" "$ORACLE" <<'PYEOF'
import struct, sys
import numpy as np, tifffile
w, oracle = sys.argv[1], sys.argv[2]
sys.path.insert(0, oracle)
import make_nd2

def pixels(seq, wd, h, comp, bits, padding):  # make_nd2.pixels in numpy (same values, faster)
    y, x, c = np.mgrid[0:h, 0:wd, 0:comp]
    v = (seq * 1000 + c * 100 + y * 10 + x) & ((1 << bits) - 1)
    rows = v.astype(np.uint8 if bits == 8 else np.uint16).reshape(h, -1).view(np.uint8)
    return np.concatenate([rows, np.full((h, padding), 0xEE, np.uint8)], axis=1).tobytes()
make_nd2.pixels = pixels
open(f"{w}/nd2/a_raw.nd2", "wb").write(
    make_nd2.nd2("nis4", 1000, 700, 2, 16, 6, False, [(4, 2, 1.0)], ["DAPI", "GFP"], [1, 1], 0.5))
open(f"{w}/nd2/b_zlib.nd2", "wb").write(
    make_nd2.nd2("nis5", 1000, 700, 2, 16, 0, True, [(4, 2, 1.0)], ["DAPI", "GFP"], [1, 1], 0.5))

def lif(images):
    """images: [(name, dims [(id, count, inc)], channel offsets, block bytes)]; 16-bit."""
    els, blocks = "", b""
    for k, (name, dims, chans, data) in enumerate(images):
        c = "".join('<ChannelDescription DataType="0" Resolution="16" LUTName="C%d" BytesInc="%d"/>' % (i, o)
                    for i, o in enumerate(chans))
        d = "".join('<DimensionDescription DimID="%d" NumberOfElements="%d" Origin="0" Length="1e-4" Unit="m" '
                    'BytesInc="%d"/>' % t for t in dims)
        bid = "MemBlock_%d" % (k + 1)
        els += ('<Element Name="%s"><Data><Image><ImageDescription><Channels>%s</Channels><Dimensions>%s'
                '</Dimensions></ImageDescription></Image></Data><Memory Size="%d" MemoryBlockID="%s"/></Element>'
                % (name, c, d, len(data), bid))
        b = bid.encode("utf-16-le")
        blocks += struct.pack("<II", 0x70, 0) + b"\x2a" + struct.pack("<Q", len(data)) + b"\x2a" + \
            struct.pack("<I", len(bid)) + b + data
    xml = ('<LMSDataContainerHeader Version="2"><Element Name="f"><Children>%s</Children></Element>'
           '</LMSDataContainerHeader>' % els)
    x = xml.encode("utf-16-le")
    return struct.pack("<II", 0x70, len(x) + 5) + b"\x2a" + struct.pack("<I", len(xml)) + x + blocks

rng = np.random.default_rng(18)
W, H, b = 1000, 700, 2
# x, channel interleaved; then y; then z (2).
inter = rng.integers(0, 65535, (2, H, W, 2), dtype=np.uint16).tobytes()
# y innermost, then x; then mosaic tiles (2), one channel.
yin = rng.integers(0, 65535, (2, W, H), dtype=np.uint16).tobytes()
open(f"{w}/lif/a.lif", "wb").write(lif([
    ("interleaved", [(1, W, 2 * b), (2, H, 2 * b * W), (3, 2, 2 * b * W * H)], [0, b], inter),
    ("y_inner", [(2, H, b), (1, W, b * H), (10, 2, b * W * H)], [0], yin)]))

# OME-TIFF with a SubIFDs pyramid.
img = ((np.mgrid[0:1237, 0:1531][0] * 7 + np.mgrid[0:1237, 0:1531][1] * 3) % 4000
       + rng.integers(0, 3000, (1237, 1531))).astype(np.uint16)
with tifffile.TiffWriter(f"{w}/ome/A01.ome.tif", bigtiff=True) as t:
    t.write(img, tile=(128, 128), subifds=2, metadata={"axes": "YX"}, compression="zlib")
    t.write(img[::2, ::2], tile=(128, 128), subfiletype=1, compression="zlib")
    t.write(img[::4, ::4], tile=(128, 128), subfiletype=1, compression="zlib")
PYEOF

stats() { $PY -c "import sqlite3,sys; print('\n'.join(map(str, sqlite3.connect(sys.argv[1]).execute('SELECT checksum, level_checksums, min, max, p999, stored_bytes IS NOT NULL FROM outputs ORDER BY id'))))" "$1/catalog.sqlite"; }
run() {  # EXPERIMENT SOURCE CHUNK EXPECTED_PLANES
    expect_exit 0 "$IMX" "$1" create --source "$2" --chunk "$3"
    expect_exit 0 "$IMX" "$1" init
    expect_exit 0 "$IMX" "$1" submit
    expect_exit 0 "$IMX" "$1" collect
    expect_exit 0 "$IMX" "$1" verify
    expect_output "$4 of $4 stored plane"
}
for kind in nd2 lif ome; do
    planes=8
    [ $kind = lif ] && planes=6
    [ $kind = ome ] && planes=1
    run "$WORK/${kind}_bands" "$WORK/$kind" 64 $planes
    run "$WORK/${kind}_whole" "$WORK/$kind" 2048 $planes
    n=$(cat "$WORK/${kind}_bands"/jobs/run/*/log.txt | grep -c "read band by band" || true)
    [ "$n" = $planes ] || fail "$kind: $n of $planes planes were read band by band"
    grep -rq "read band by band" "$WORK/${kind}_whole/jobs" && fail "$kind: planes of one chunk were read band by band"
    [ "$(stats "$WORK/${kind}_bands")" = "$(stats "$WORK/${kind}_whole")" ] || {
        stats "$WORK/${kind}_bands"; stats "$WORK/${kind}_whole"; fail "$kind: banded planes' checksums or statistics differ"; }
done

# Every plane against the independent readers.
$PY "$ORACLE/nd2_lif_oracle.py" check "$WORK/nd2_bands/nd2.zarr" "$WORK/nd2/a_raw.nd2" A01 || fail "a_raw.nd2: oracle mismatch"
$PY "$ORACLE/nd2_lif_oracle.py" check "$WORK/nd2_bands/nd2.zarr" "$WORK/nd2/b_zlib.nd2" A02 || fail "b_zlib.nd2: oracle mismatch"
$PY "$ORACLE/nd2_lif_oracle.py" check "$WORK/lif_bands/lif.zarr" "$WORK/lif/a.lif" A01 || fail "a.lif: oracle mismatch"
$PY - "$WORK" <<'PYEOF'
import sys, glob, numpy as np, tifffile, zarr
w = sys.argv[1]
with tifffile.TiffFile(f"{w}/ome/A01.ome.tif") as t:
    assert len(t.series[0].levels) == 3, len(t.series[0].levels)
    ref = t.series[0].levels[0].asarray()
levels = glob.glob(f"{w}/ome_bands/*.zarr/*/*/0/0")
assert len(levels) == 1, levels
a = zarr.open(levels[0], mode="r")
assert a.chunks[3:] == (64, 64), a.chunks
got = a[0, 0, 0]
assert got.shape == ref.shape and np.array_equal(got, ref), int((got != ref).sum())
print("tifffile: the OME-TIFF's level 0 equals the plane stored in bands")
PYEOF
echo "PASS container_bands"
