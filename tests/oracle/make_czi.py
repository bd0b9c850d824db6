"""Writes a small synthetic CZI for the integration tests, from the ZISRAW specification, with
struct/numpy/numcodecs only (independent of imextract's C++ code and of its test writer).

usage: make_czi.py OUT.czi
       make_czi.py --corpus DIR     a few tiny CZIs: the fuzz seed corpus (tests/fuzz/corpus/czi)
       make_czi.py --mosaic OUT.czi NX NY TILE STEP [CHANNELS]
                                    one scene of NX x NY Gray16 tiles of TILE x TILE pixels placed
                                    STEP pixels apart (overlapping when STEP < TILE), written one
                                    subblock at a time (any size, e.g. 33 33 1024 1000: 33024 x 33024,
                                    2 GiB of pixels): see mosaic()
Two scenes; each a 2 x 2 mosaic (M 0..3) of 24 x 16 Gray16 tiles, 2 channels, 3 z-planes; tiles
alternate uncompressed, zstd0, zstd1 and zstd1 with hi/lo byte packing; plus a downscaled
pyramid subblock that readers must ignore. Channel names and scaling in the metadata XML.
"""
import struct
import sys

import numpy as np
from numcodecs import Zstd

TW, TH = 24, 16


def segment(sid, data):
    return sid.encode().ljust(16, b"\0") + struct.pack("<qq", len(data), len(data)) + data


def entry(ptype, pos, comp, dims):
    e = b"DV" + struct.pack("<iqii", ptype, pos, 0, comp) + b"\0" * 6 + struct.pack("<i", len(dims))
    for name, start, size, stored in dims:
        e += name.encode().ljust(4, b"\0") + struct.pack("<iifi", start, size, 0.0, stored)
    return e


def tile_pixels(s, c, z, m):
    y, x = np.mgrid[0:TH, 0:TW]
    return (1000 * s + 300 * c + 50 * z + 7 * m + x + 3 * y).astype("<u2")


def payload(arr, comp):
    raw = arr.tobytes()
    if comp == 0:
        return raw
    if comp == 5:
        return bytes(Zstd(level=3).encode(raw))
    if comp == 6:
        return b"\x01" + bytes(Zstd(level=3).encode(raw))
    lo_hi = np.frombuffer(raw, np.uint8).reshape(-1, 2)
    packed = lo_hi[:, 0].tobytes() + lo_hi[:, 1].tobytes()
    return b"\x03\x01\x01" + bytes(Zstd(level=3).encode(packed))


def build(blocks, xml):
    """blocks: (pixel type, compression, dims [(name, start, size, stored)], data bytes)."""
    out = segment("ZISRAWFILE", b"\0" * 512)
    positions = []
    for ptype, comp, dims, data in blocks:
        pos = len(out)
        positions.append(pos)
        head = struct.pack("<iiq", 0, 0, len(data)) + entry(ptype, pos, comp, dims)
        out += segment("ZISRAWSUBBLOCK", head.ljust(256, b"\0") + data)
    dir_pos = len(out)
    d = struct.pack("<i", len(blocks)) + b"\0" * 124
    for (ptype, comp, dims, _), pos in zip(blocks, positions):
        d += entry(ptype, pos, comp, dims)
    out += segment("ZISRAWDIRECTORY", d)
    meta_pos = 0
    if xml:
        meta_pos = len(out)
        x = xml.encode()
        out += segment("ZISRAWMETADATA", struct.pack("<ii", len(x), 0) + b"\0" * 248 + x)
    header = struct.pack("<ii", 1, 0) + b"\0" * 44 + struct.pack("<qq", dir_pos, meta_pos)
    return out[:32] + header + out[32 + len(header):]


def corpus(folder):
    import os
    os.makedirs(folder, exist_ok=True)

    def dims(w, h, c=0, s=0, m=None, x=0, y=0):
        d = [("X", x, w, w), ("Y", y, h, h), ("C", c, 1, 1), ("Z", 0, 1, 1), ("T", 0, 1, 1), ("S", s, 1, 1)]
        return d + ([("M", m, 1, 1)] if m is not None else [])

    g16 = np.arange(16, dtype="<u2").reshape(4, 4)
    files = {
        "gray8_plain.czi": ([(0, 0, dims(4, 4), bytes(range(16)))], ""),
        "gray16_zstd1_hilo.czi": ([(1, 6, dims(4, 4), payload(g16, 7)), (1, 5, dims(4, 4, c=1), payload(g16, 5))],
                                  "<ImageDocument><Metadata><Information><Image><Dimensions><Channels>"
                                  "<Channel Name=\"A\"/><Channel Name=\"B\"/></Channels></Dimensions></Image>"
                                  "</Information><Scaling><Items><Distance Id=\"X\"><Value>1E-06</Value></Distance>"
                                  "</Items></Scaling></Metadata></ImageDocument>"),
        "bgr24_mosaic.czi": ([(3, 0, dims(2, 2, m=0), bytes(range(12))), (3, 0, dims(2, 2, m=1, x=2), bytes(range(12, 24)))], ""),
        "plate_scenes.czi": ([(1, 0, dims(2, 2, s=0), bytes(8)), (1, 0, dims(2, 2, s=1, x=50), bytes(8))],
                             "<ImageDocument><Metadata><Information><Image><Dimensions><S><Scenes>"
                             "<Scene Index=\"0\"><ArrayName>B4</ArrayName></Scene>"
                             "<Scene Index=\"1\"><Shape><RowIndex>2</RowIndex><ColumnIndex>3</ColumnIndex></Shape></Scene>"
                             "</Scenes></S></Dimensions></Image></Information></Metadata></ImageDocument>"),
    }
    # A JPEG-XR subblock, when Debian's encoder is there (libjxr-tools).
    import shutil
    import subprocess
    import tempfile
    if shutil.which("JxrEncApp"):
        import tifffile
        with tempfile.TemporaryDirectory() as tmp:
            tif, jxr = os.path.join(tmp, "g.tif"), os.path.join(tmp, "g.jxr")
            tifffile.imwrite(tif, (np.arange(64, dtype=np.uint8) * 3).reshape(8, 8))
            subprocess.run(["JxrEncApp", "-i", tif, "-o", jxr, "-q", "1"], check=True, stdout=subprocess.DEVNULL)
            files["gray8_jpegxr.czi"] = ([(0, 4, dims(8, 8), open(jxr, "rb").read())], "")
    for name, (blocks, xml) in files.items():
        open(os.path.join(folder, name), "wb").write(build(blocks, xml))


def mosaic_tile(m, x0, y0, tile):
    """Pixels of the tile drawn M-th at logical (x0, y0): the low byte a function of the position
    (a misplaced pixel shows), the high byte of M (which of two overlapping tiles was drawn on top)."""
    y, x = np.mgrid[y0:y0 + tile, x0:x0 + tile]
    low = (x * 7 + y * 13 + (x >> 8) * 31 + (y >> 8) * 17) & 0xFF
    return (low | (((m * 37 + 11) & 0xFF) << 8)).astype("<u2")


def mosaic(path, nx, ny, tile, step, channels=1):
    """Tiles in raster order in the file, drawn in a shuffled M order (fixed seed), so the order in
    which overlapping tiles are drawn is not the file's; every 8th subblock uncompressed, the others
    zstd0, zstd1, zstd1 with hi/lo packing in turn. Streams to the file: memory holds one tile."""
    order = np.random.default_rng(18).permutation(nx * ny)
    entries = []
    with open(path, "wb") as out:
        out.write(segment("ZISRAWFILE", b"\0" * 512))
        k = 0
        for c in range(channels):
            for ty in range(ny):
                for tx in range(nx):
                    m = int(order[ty * nx + tx])
                    x0, y0 = 20 + tx * step, 40 + ty * step  # the mosaic's origin is not 0, 0
                    kind = [5, 6, 7][k % 3] if k % 8 else 0
                    k += 1
                    arr = mosaic_tile(m + 1000 * c, x0, y0, tile)
                    data = payload(arr, kind)
                    comp = 6 if kind == 7 else kind
                    dims = [("X", x0, tile, tile), ("Y", y0, tile, tile), ("C", c, 1, 1), ("Z", 0, 1, 1),
                            ("T", 0, 1, 1), ("S", 0, 1, 1), ("M", m, 1, 1)]
                    pos = out.tell()
                    head = struct.pack("<iiq", 0, 0, len(data)) + entry(1, pos, comp, dims)
                    out.write(segment("ZISRAWSUBBLOCK", head.ljust(256, b"\0") + data))
                    entries.append(entry(1, pos, comp, dims))
        dir_pos = out.tell()
        out.write(segment("ZISRAWDIRECTORY", struct.pack("<i", len(entries)) + b"\0" * 124 + b"".join(entries)))
        out.seek(32)
        out.write(struct.pack("<ii", 1, 0) + b"\0" * 44 + struct.pack("<qq", dir_pos, 0))


def main():
    if sys.argv[1] == "--mosaic":
        mosaic(sys.argv[2], *map(int, sys.argv[3:]))
        return
    if sys.argv[1] == "--corpus":
        corpus(sys.argv[2])
        return
    blocks = []
    comps = [0, 5, 6, 7]  # 7 here = zstd1 with hi/lo packing (written as compression 6)
    k = 0
    for s in range(2):
        for c in range(2):
            for z in range(3):
                for m in range(4):
                    x = 1000 * s + (m % 2) * TW
                    y = 500 + (m // 2) * TH
                    comp = comps[k % 4]
                    k += 1
                    dims = [("X", x, TW, TW), ("Y", y, TH, TH), ("C", c, 1, 1), ("Z", z, 1, 1), ("T", 0, 1, 1),
                            ("S", s, 1, 1), ("M", m, 1, 1), ("B", 0, 1, 1)]
                    blocks.append((1, 6 if comp == 7 else comp, dims, payload(tile_pixels(s, c, z, m), comp)))
    # A pyramid level: logical 48 x 32 stored as 24 x 16; must not be drawn.
    blocks.append((1, 0, [("X", 0, 2 * TW, TW), ("Y", 500, 2 * TH, TH), ("C", 0, 1, 1), ("Z", 0, 1, 1),
                          ("S", 0, 1, 1), ("M", 0, 1, 1)], np.full((TH, TW), 65535, "<u2").tobytes()))
    xml = ("<ImageDocument><Metadata><Information><Image><Dimensions><Channels>"
           "<Channel Id=\"Channel:0\" Name=\"DAPI\"/><Channel Id=\"Channel:1\" Name=\"Cy5\"/>"
           "</Channels></Dimensions></Image></Information><Scaling><Items>"
           "<Distance Id=\"X\"><Value>3.25E-07</Value></Distance><Distance Id=\"Y\"><Value>3.25E-07</Value></Distance>"
           "<Distance Id=\"Z\"><Value>1.5E-06</Value></Distance></Items></Scaling></Metadata></ImageDocument>")
    open(sys.argv[1], "wb").write(build(blocks, xml))

main()
