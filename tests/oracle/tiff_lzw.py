"""A deliberately small, independent TIFF reader for single-strip-per-row-group, uncompressed or
LZW (compression 5, MSB-first codes with the TIFF "early change"), no predictor, 8/16-bit gray
files: enough to check LZW planes without libtiff or imagecodecs (Debian's tifffile cannot
decode LZW without imagecodecs, and the oracle's fallback would be libtiff, our own decoder).

usage: tiff_lzw.py FILE.tif PLATE.zarr ARRAY_PATH T C Z   (compares the decoded plane with the zarr one)
"""
import sys

import numpy as np
import tifffile


def lzw_decode(data):
    out = bytearray()
    table = [bytes([i]) for i in range(256)] + [b"", b""]
    width, pos, total, prev = 9, 0, len(data) * 8, None
    padded = bytes(data) + b"\0\0\0"
    while pos + width <= total:
        i = pos >> 3
        chunk = (padded[i] << 16) | (padded[i + 1] << 8) | padded[i + 2]
        code = (chunk >> (24 - (pos & 7) - width)) & ((1 << width) - 1)
        pos += width
        if code == 257:
            break
        if code == 256:
            del table[258:]
            width, prev = 9, None
            continue
        if prev is None:
            entry = table[code]
        elif code < len(table):
            entry = table[code]
            table.append(prev + entry[:1])
        elif code == len(table):
            entry = prev + prev[:1]
            table.append(entry)
        else:
            raise ValueError(f"bad LZW code {code} with table size {len(table)}")
        out += entry
        prev = entry
        if len(table) + 1 >= (1 << width) and width < 12:
            width += 1
    return bytes(out)


def read(path):
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        if page.predictor not in (1, None) or page.is_tiled or page.planarconfig != 1 or page.samplesperpixel != 1:
            raise SystemExit(f"{path}: layout not handled by this small reader")
        with open(path, "rb") as f:
            raw = bytearray()
            for off, n in zip(page.dataoffsets, page.databytecounts):
                f.seek(off)
                seg = f.read(n)
                raw += lzw_decode(seg) if page.compression == 5 else seg
        dtype = np.dtype(tf.byteorder + {8: "u1", 16: "u2"}[page.bitspersample])
        return np.frombuffer(bytes(raw), dtype=dtype)[: page.imagelength * page.imagewidth].reshape(
            page.imagelength, page.imagewidth)


def main():
    from oracle_common import open_plate
    path, plate, array, t, c, z = sys.argv[1:7]
    want = read(path)
    got = open_plate(plate)[array][int(t), int(c), int(z)]
    if got.shape != want.shape or not np.array_equal(got, want.astype(got.dtype)):
        print(f"ORACLE FAIL: {path}: stored plane differs from the pure-Python LZW decode", file=sys.stderr)
        sys.exit(1)
    print(f"lzw oracle: {path} equal ({want.shape[1]}x{want.shape[0]}, mean {want.mean():.1f})")


if __name__ == "__main__":
    main()
