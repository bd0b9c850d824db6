#!/usr/bin/env bash
# Planes written as one big compressed strip (issue 18): a 6000x6000 uint16 plane in one Deflate
# strip with the horizontal predictor (tifffile), and a 9000x8000 RGB plane (8 bits, samples
# interleaved) in one LZW strip with the predictor (tiffcp), stored as 512x512 chunks.
# Each strip is larger than a band, so it is decoded row by row (libtiff's scanline reading) instead of whole. Every channel of every level equals
# the generated pixels (numpy pyramid), collect verifies, and the checksums equal those of the same
# planes read whole (--chunk 8192: one chunk, the whole-plane path). In the optimised build, the
# RGB run job's peak RSS stays below one channel of the plane (72 MB; the strip alone is 216 MB).
source "$(dirname "$0")/lib/common.bash"
need_oracle

mkdir -p "$WORK/gray" "$WORK/rgb"
$PY - "$WORK" <<'PYEOF'
import sys, numpy as np, tifffile
w = sys.argv[1]
rng = np.random.default_rng(7)
y, x = np.ogrid[0:6000, 0:6000]
gray = ((y * 7 + x * 3) % 4000 + rng.integers(0, 200, (6000, 6000))).astype(np.uint16)
tifffile.imwrite(f"{w}/gray/A01_gray.tif", gray, rowsperstrip=6000, compression="zlib", predictor=True)
np.save(f"{w}/gray.npy", gray)  # the pixels the oracle expects, from the generator itself
y, x = np.ogrid[0:9000, 0:8000]
rgb = np.stack([(y + x) % 251, (y * 3) % 256 + 0 * x, (x * 5) % 256 + 0 * y], axis=-1).astype(np.uint8)
rgb[::97, ::89] = rng.integers(0, 256, rgb[::97, ::89].shape, dtype=np.uint8)
tifffile.imwrite(f"{w}/rgb/plain.tif", rgb, photometric="rgb")
np.save(f"{w}/rgb.npy", rgb)
PYEOF
# LZW with the horizontal predictor, by libtiff's own tool (tifffile writes LZW only with imagecodecs).
tiffcp -c lzw:2 -r 9000 "$WORK/rgb/plain.tif" "$WORK/rgb/B01_rgb.tif" || fail "tiffcp could not write the LZW file"
rm "$WORK/rgb/plain.tif"
$PY -c "import tifffile,sys; sys.exit(any(len(tifffile.TiffFile(p).pages[0].dataoffsets) != 1 for p in sys.argv[1:]))" \
    "$WORK/gray/A01_gray.tif" "$WORK/rgb/B01_rgb.tif" || fail "the sources are not single-strip files"
pattern='(?P<well>[A-P]\d\d)_\w+\.tif'
for src in gray rgb; do
    for kind in rows whole; do
        chunk=512; [ $kind = whole ] && chunk=8192
        exp="$WORK/$src-$kind"
        expect_exit 0 "$IMX" "$exp" create --source "$WORK/$src" --format files --pattern "$pattern" --chunk $chunk
        expect_exit 0 "$IMX" "$exp" init
        /usr/bin/time -f "%M" -o "$exp.rss" "$IMX" "$exp" run -j 1 > "$exp.run" 2>&1 || {
            cat "$exp.run" >&2; fail "the $src $kind run job failed"; }
        expect_exit 0 "$IMX" "$exp" collect
        expect_output "verified"
    done
    grep -q "read band by band" "$WORK/$src-rows.run" || fail "the $src plane was not read band by band"
    [ "$(checksums "$WORK/$src-rows")" = "$(checksums "$WORK/$src-whole")" ] ||
        fail "the $src plane read row by row differs from the plane read whole"
done
if ! grep -qa __asan_init "$IMX"; then
    rss_mb=$(( $(cat "$WORK/rgb-rows.rss") / 1024 ))
    whole_mb=$(( $(cat "$WORK/rgb-whole.rss") / 1024 ))
    echo "run job peak RSS: $rss_mb MB read by rows, $whole_mb MB read whole"
    [ "$rss_mb" -lt 72 ] || fail "a run job over one-strip planes peaked at $rss_mb MB: the strips were held whole"
fi
$PY - "$WORK" "$ORACLE" <<'PYEOF'
import sys, glob, numpy as np, zarr
w = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from check_pyramid import halve_mean  # 2x2 mean rounded half up; odd edges use the pixels they have
def half(a):
    return halve_mean(a).astype(a.dtype)
for well, src, channels in (("A/01", "gray", 1), ("B/01", "rgb", 3)):
    plate = glob.glob(f"{w}/{src}-rows/*.zarr")[0]
    pixels = np.load(f"{w}/{src}.npy")
    for c in range(channels):
        ref = pixels if channels == 1 else pixels[..., c]
        level = 0
        while glob.glob(f"{plate}/{well}/0/{level}"):
            got = zarr.open(f"{plate}/{well}/0/{level}", mode="r")[0, c, 0]
            assert got.shape == ref.shape and np.array_equal(got, ref), (well, c, level)
            ref = half(ref); level += 1
        assert level >= 4, (well, level)
print("zarr-python: every channel and level equals the generated pixels and their numpy pyramid")
PYEOF
echo "PASS tiff_big_strips"
