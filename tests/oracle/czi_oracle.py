"""Independent CZI reader for the tests: walks the ZISRAW segments with struct and numpy, decodes
subblocks itself (uncompressed), with numcodecs' zstd (zstd0/zstd1) or with Debian's `JxrDecApp`
(JPEG-XR), and never uses imextract's code. Run with /usr/bin/python3.

usage:
  czi_oracle.py describe FILE            JSON: sizes, pixel type, compressions, channels, scaling
  czi_oracle.py stats FILE               per plane (scene, t, c, z, sample): shape, sum, a few pixels
  czi_oracle.py check-plate PLATE FILE [--field-of-scene] [--well ROW/COL]
                                         every plane of FILE against the zarr plate (well A/01 by
                                         default, field = scene rank), plus channel names and scale
  czi_oracle.py check-bands PLATE FILE ROWS [--well ROW/COL]
                                         the same for Gray mosaics of any size, ROWS rows at a time:
                                         each band composed from the tiles that cross it (drawn in
                                         M order), compared with the plate's level 0 band; never
                                         holds a whole plane
"""
import json
import mmap
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import numpy as np

PIXEL = {0: ("Gray8", np.uint8, 1), 1: ("Gray16", np.uint16, 1), 2: ("Gray32Float", np.float32, 1),
         3: ("Bgr24", np.uint8, 3), 4: ("Bgr48", np.uint16, 3)}


def fail(msg):
    print("CZI ORACLE FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def segment(data, pos, want):
    sid = data[pos:pos + 16].rstrip(b"\0").decode("ascii", "replace")
    if sid != want:
        fail(f"expected {want} at {pos}, found {sid!r}")
    return pos + 32


def read_czi(path):
    with open(path, "rb") as f:  # mapped: a mosaic file may be larger than memory
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    hdr = segment(data, 0, "ZISRAWFILE")
    dir_pos, meta_pos = struct.unpack_from("<qq", data, hdr + 52)
    d = segment(data, dir_pos, "ZISRAWDIRECTORY")
    (count,) = struct.unpack_from("<i", data, d)
    p = d + 128
    blocks = []
    for _ in range(count):
        schema, ptype, fpos, fpart, comp = struct.unpack_from("<2siqii", data, p)
        (ndim,) = struct.unpack_from("<i", data, p + 28)
        dims = {}
        for k in range(ndim):
            name, start, size, _coord, stored = struct.unpack_from("<4siifi", data, p + 32 + 20 * k)
            dims[name.rstrip(b"\0").decode()] = (start, size, stored)
        p += 32 + 20 * ndim
        blocks.append(dict(ptype=ptype, pos=fpos, comp=comp, dims=dims))
    xml = ""
    if meta_pos > 0:
        m = segment(data, meta_pos, "ZISRAWMETADATA")
        (xml_size,) = struct.unpack_from("<i", data, m)
        xml = data[m + 256:m + 256 + xml_size].decode("utf-8")
    return data, blocks, xml


def decode_block(data, b):
    pos = segment(data, b["pos"], "ZISRAWSUBBLOCK")
    meta_size, _att, data_size = struct.unpack_from("<iiq", data, pos)
    (ndim,) = struct.unpack_from("<i", data, pos + 16 + 28)
    start = pos + max(256, 16 + 32 + 20 * ndim) + meta_size
    raw = data[start:start + data_size]
    _, dtype, spp = PIXEL[b["ptype"]]
    w, h = b["dims"]["X"][2], b["dims"]["Y"][2]
    n = w * h * spp * np.dtype(dtype).itemsize
    if b["comp"] == 0:
        buf = raw[:n]
    elif b["comp"] in (5, 6):
        from numcodecs import Zstd
        hilo = False
        if b["comp"] == 6:
            if raw[0] == 1:
                raw = raw[1:]
            else:
                hilo = raw[1] == 1 and (raw[2] & 1) == 1
                raw = raw[3:]
        buf = bytes(Zstd().decode(raw))
        if hilo:
            half = len(buf) // 2
            lo = np.frombuffer(buf[:half], np.uint8)
            hi = np.frombuffer(buf[half:], np.uint8)
            buf = np.stack([lo, hi], axis=1).tobytes()
    elif b["comp"] == 4:
        import tifffile
        with tempfile.TemporaryDirectory() as tmp:
            src, out = os.path.join(tmp, "b.jxr"), os.path.join(tmp, "b.tif")
            open(src, "wb").write(raw)
            subprocess.run(["JxrDecApp", "-i", src, "-o", out], check=True, stdout=subprocess.DEVNULL)
            arr = tifffile.imread(out)
        if spp == 3:
            arr = arr[..., ::-1]  # the TIFF is R, G, B; CZI stores B, G, R
        buf = np.ascontiguousarray(arr).astype(dtype).tobytes()
    else:
        raise ValueError(f"compression {b['comp']} not handled by the oracle")
    arr = np.frombuffer(buf, dtype).reshape(h, w, spp)
    return arr


def full_res(blocks):
    return [b for b in blocks if b["dims"]["X"][1] == b["dims"]["X"][2] and b["dims"]["Y"][1] == b["dims"]["Y"][2]]


def idx(b, name):
    return b["dims"].get(name, (0, 1, 1))[0]


def planes(path):
    """{(scene, t, c, z): array (h, w, spp)} with mosaic tiles placed at their logical position."""
    data, blocks, _ = read_czi(path)
    blocks = full_res(blocks)
    boxes = {}
    for b in blocks:
        s = idx(b, "S")
        x, y = b["dims"]["X"][0], b["dims"]["Y"][0]
        x1, y1 = x + b["dims"]["X"][1], y + b["dims"]["Y"][1]
        bx = boxes.get(s, [x, y, x1, y1])
        boxes[s] = [min(bx[0], x), min(bx[1], y), max(bx[2], x1), max(bx[3], y1)]
    W = max(v[2] - v[0] for v in boxes.values())
    H = max(v[3] - v[1] for v in boxes.values())
    out = {}
    for b in sorted(blocks, key=lambda b: idx(b, "M")):
        s = idx(b, "S")
        key = (s, idx(b, "T"), idx(b, "C"), idx(b, "Z"))
        tile = decode_block(data, b)
        if key not in out:
            out[key] = np.zeros((H, W, tile.shape[2]), tile.dtype)
        x0, y0 = b["dims"]["X"][0] - boxes[s][0], b["dims"]["Y"][0] - boxes[s][1]
        out[key][y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
    return out


def check_bands(plate_path, path, rows, well="A/01"):
    import zarr
    store = zarr.storage.DirectoryStore(plate_path, dimension_separator="/")
    plate = zarr.open_group(store, mode="r")
    data, blocks, _ = read_czi(path)
    blocks = full_res(blocks)
    if any(PIXEL[b["ptype"]][2] != 1 for b in blocks):
        fail("check-bands reads Gray mosaics only")
    boxes = {}
    for b in blocks:
        s, (x, w, _), (y, h, _) = idx(b, "S"), b["dims"]["X"], b["dims"]["Y"]
        bx = boxes.get(s, [x, y, x + w, y + h])
        boxes[s] = [min(bx[0], x), min(bx[1], y), max(bx[2], x + w), max(bx[3], y + h)]
    W = max(v[2] - v[0] for v in boxes.values())
    H = max(v[3] - v[1] for v in boxes.values())
    groups = {}
    for b in sorted(blocks, key=lambda b: idx(b, "M")):  # stable: directory order among equal M
        groups.setdefault((idx(b, "S"), idx(b, "T"), idx(b, "C"), idx(b, "Z")), []).append(b)
    keys = list(groups)
    S = sorted({k[0] for k in keys}); T = sorted({k[1] for k in keys})
    C = sorted({k[2] for k in keys}); Z = sorted({k[3] for k in keys})
    n = 0
    for (s, t, c, z), tiles in groups.items():
        img = plate[f"{well}/{rank(S, s)}/0"]
        if img.shape[-2:] != (H, W):
            fail(f"{path}: stored plane is {img.shape[-2:]}, the mosaic is {(H, W)}")
        cache = {}
        for y0 in range(0, H, rows):
            y1 = min(H, y0 + rows)
            want = None
            for i, b in enumerate(tiles):
                bx, by = b["dims"]["X"][0] - boxes[s][0], b["dims"]["Y"][0] - boxes[s][1]
                bw, bh = b["dims"]["X"][1], b["dims"]["Y"][1]
                if by >= y1 or by + bh <= y0:
                    continue
                if i not in cache:
                    cache[i] = decode_block(data, b)[..., 0]
                tile = cache[i]
                if want is None:
                    want = np.zeros((y1 - y0, W), tile.dtype)
                a, e = max(y0, by), min(y1, by + bh)
                want[a - y0:e - y0, bx:bx + bw] = tile[a - by:e - by]
                if by + bh <= y1:
                    del cache[i]
            got = img[rank(T, t), rank(C, c), rank(Z, z), y0:y1, :]
            if want is None:
                want = np.zeros_like(got)
            if got.dtype != want.dtype or not np.array_equal(got, want):
                bad = np.argwhere(got != want) if got.shape == want.shape else []
                fail(f"{path}: scene {s} t{t} c{c} z{z} rows {y0}..{y1 - 1}: {len(bad)} pixels differ"
                     + (f", first at (y, x) = {tuple(int(v) for v in bad[0] + [y0, 0])}" if len(bad) else ""))
            n += 1
    print(f"czi oracle: {len(groups)} plane(s) of {os.path.basename(path)} ({W} x {H}) pixel-exact in {n} bands "
          f"of {rows} rows")


def metadata(xml):
    md = {"channels": [], "scale_um": {}}
    if not xml:
        return md
    root = ET.fromstring(xml)
    chans = root.findall("Metadata/Information/Image/Dimensions/Channels/Channel")
    if not chans:
        chans = root.findall("Metadata/DisplaySetting/Channels/Channel")
    md["channels"] = [c.get("Name") or "" for c in chans]
    for d in root.findall("Metadata/Scaling/Items/Distance"):
        md["scale_um"][d.get("Id")] = float(d.find("Value").text) * 1e6
    return md


def describe(path):
    _, blocks, xml = read_czi(path)
    fr = full_res(blocks)
    sizes = {k: len({idx(b, k) for b in fr}) for k in "STCZ"}
    first = fr[0]
    return {"subblocks": len(blocks), "full_resolution": len(fr), "sizes": sizes,
            "pixel_type": PIXEL[first["ptype"]][0], "compressions": sorted({b["comp"] for b in blocks}),
            "tile": [first["dims"]["X"][1], first["dims"]["Y"][1]], **metadata(xml)}


def rank(values, v):
    return sorted(values).index(v)


def check_plate(plate_path, path, well="A/01"):
    import zarr
    store = zarr.storage.DirectoryStore(plate_path, dimension_separator="/")
    plate = zarr.open_group(store, mode="r")
    pl = planes(path)
    _, _, xml = read_czi(path)
    md = metadata(xml)
    keys = list(pl)
    S = sorted({k[0] for k in keys}); T = sorted({k[1] for k in keys})
    C = sorted({k[2] for k in keys}); Z = sorted({k[3] for k in keys})
    spp = next(iter(pl.values())).shape[2]
    n = 0
    for (s, t, c, z), arr in pl.items():
        img = plate[f"{well}/{rank(S, s)}/0"]
        for k in range(spp):
            want = arr[..., 2 - k] if spp == 3 else arr[..., 0]  # sample 0 = R
            got = img[rank(T, t), rank(C, c) * spp + k, rank(Z, z)]
            if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
                fail(f"{path}: scene {s} t{t} c{c} z{z} sample {k} differs from the stored plane "
                     f"({got.shape} {got.dtype} vs {want.shape} {want.dtype})")
            n += 1
    attrs = plate[f"{well}/0"].attrs.asdict()
    labels = [ch["label"] for ch in attrs["omero"]["channels"]]
    if md["channels"]:
        names = [md["channels"][c] if c < len(md["channels"]) else "" for c in C]
        want_labels = [f"{nm}_{'RGB'[k]}" if spp == 3 else nm for nm in names for k in range(spp)]
        if labels != want_labels:
            fail(f"{path}: channel labels {labels}, expected {want_labels}")
    scale = attrs["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    for axis, pos in (("X", -1), ("Y", -2), ("Z", -3)):
        if axis in md["scale_um"] and abs(scale[pos] - md["scale_um"][axis]) > 1e-9 * max(1, md["scale_um"][axis]):
            fail(f"{path}: scale {axis} {scale[pos]} µm, metadata says {md['scale_um'][axis]}")
    print(f"czi oracle: {n} planes of {os.path.basename(path)} pixel-exact; channels {labels}; scale {scale[-3:]}")


def main():
    cmd = sys.argv[1]
    if cmd == "describe":
        print(json.dumps(describe(sys.argv[2])))
    elif cmd == "stats":
        for (s, t, c, z), arr in sorted(planes(sys.argv[2]).items()):
            for k in range(arr.shape[2]):
                p = arr[..., 2 - k] if arr.shape[2] == 3 else arr[..., 0]
                print(f"S{s} T{t} C{c} Z{z} sample{k} {p.shape[1]}x{p.shape[0]} sum={int(p.astype(np.float64).sum())} "
                      f"p00={p[0, 0]} p_mid={p[p.shape[0] // 2, p.shape[1] // 2]} p_last={p[-1, -1]}")
    elif cmd == "check-plate":
        well = sys.argv[sys.argv.index("--well") + 1] if "--well" in sys.argv else "A/01"
        check_plate(sys.argv[2], sys.argv[3], well)
    elif cmd == "check-bands":
        well = sys.argv[sys.argv.index("--well") + 1] if "--well" in sys.argv else "A/01"
        check_bands(sys.argv[2], sys.argv[3], int(sys.argv[4]), well)
    else:
        fail("unknown command " + cmd)


main()
