#!/usr/bin/python3
"""Independent reader of chunked ND2 files (NIS-Elements 3.x to current) for the tests, written with
numpy, zlib and ElementTree from the public format notes (tlambert03/nd2's documentation, the
Bio-Formats and pims readers' descriptions), a different code path from imextract's C++ reader.

  nd2_oracle.py summary FILE [--scan]    JSON: geometry, names, pixel size, z step, loops, and per
                                         plane (site|channel|t|z) its sum and first pixels
  nd2_oracle.py check PLATE.zarr FILE WELL [--scan]
                                         compares every plane of FILE with the stored plate, and the
                                         images' pixel size and z step with the file's

Layout: chunks `u32 0x0ABECEDA, u32 name field length, u64 data length, name field, data`; the name
field is the name ending in '!' and zero padding (current versions pad it so that chunk data starts
on a 4096-byte boundary). The file ends with "ND2 CHUNK MAP SIGNATURE 0000001!" and the offset of
the map chunk, which lists `name!, u64 offset, u64 size` per chunk. Metadata chunks are the binary
LV variant (files "Ver3.0": ImageAttributesLV!, ImageMetadataLV!, ImageMetadataSeqLV|0!) or XML
(NIS-Elements 3.x, "Ver2.x": ImageAttributes!, ImageMetadata!, ImageMetadataSeq|0!). A frame chunk
ImageDataSeq|N! holds an 8-byte time stamp and the pixels (raw or zlib), rows uiWidthBytes apart,
the components of a pixel interleaved. With --scan the chunk map is ignored and the chunks are
found by their headers, as readers do for files whose map is damaged.
"""
import base64
import json
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

import numpy as np

MAGIC = 0x0ABECEDA
MAP_SIG = b"ND2 CHUNK MAP SIGNATURE 0000001!"


def map_chunks(buf):
    assert buf[-40:-8] == MAP_SIG, "no chunk map signature"
    (off,) = struct.unpack_from("<Q", buf, len(buf) - 8)
    m = chunk_data(buf, off)
    chunks, p = {}, 0
    while p < len(m):
        e = m.index(b"!", p) + 1
        name = m[p:e].decode("latin-1")
        p = e
        if name == MAP_SIG.decode():
            break
        chunks[name] = struct.unpack_from("<Q", m, p)[0]
        p += 16
    return chunks


def scan_chunks(buf):
    """Every chunk whose header is whole, by name; pixel data is skipped, not searched."""
    chunks, pos, magic = {}, 0, struct.pack("<I", MAGIC)
    while True:
        pos = buf.find(magic, pos)
        if pos < 0 or pos + 16 > len(buf):
            return chunks
        _, nl, dl = struct.unpack_from("<IIQ", buf, pos)
        name = bytes(buf[pos + 16: pos + 16 + nl]).split(b"\0", 1)[0]
        if name.endswith(b"!") and pos + 16 + nl + dl <= len(buf):
            chunks.setdefault(name.decode("latin-1"), pos)
            pos += 16 + nl + dl
        else:
            pos += 1


def chunk_data(buf, off):
    magic, nl, dl = struct.unpack_from("<IIQ", buf, off)
    assert magic == MAGIC, "no chunk at %d" % off
    return buf[off + 16 + nl: off + 16 + nl + dl]


def lv(b, pos=0, end=None):
    """LV variant -> dict (a level) of name -> value; repeated names keep the first."""
    end = len(b) if end is None else end
    out = {}
    while pos < end:
        start = pos
        t, nl = b[pos], b[pos + 1]
        pos += 2
        name = bytes(b[pos: pos + 2 * nl]).decode("utf-16-le").rstrip("\0")
        pos += 2 * nl
        fixed = {1: "<B", 2: "<i", 3: "<I", 4: "<q", 5: "<Q", 6: "<d", 7: "<Q"}
        if t in fixed:
            (v,) = struct.unpack_from(fixed[t], b, pos)
            pos += struct.calcsize(fixed[t])
        elif t == 8:
            e = pos
            while b[e: e + 2] != b"\0\0":
                e += 2
            v = bytes(b[pos:e]).decode("utf-16-le")
            pos = e + 2
        elif t == 9:
            (n,) = struct.unpack_from("<Q", b, pos)
            v = bytes(b[pos + 8: pos + 8 + n])
            pos += 8 + n
        elif t == 11:
            count, length = struct.unpack_from("<IQ", b, pos)
            v = lv(b, pos + 12, start + length)
            pos = start + length + 8 * count
        else:
            raise ValueError("LV type %d" % t)
        out.setdefault(name, v)
    return out


XML_NUMBERS = {"bool": lambda s: float(s.lower() in ("true", "1")), "double": float, "float": float,
               "lx_int32": int, "lx_uint32": int, "lx_int64": int, "lx_uint64": int}


def xml_variant(b):
    """XML variant -> the same dicts as lv(): elements with a runtype of a scalar become values."""
    text = bytes(b).rstrip(b"\0")

    def conv(node):
        rt = node.get("runtype")
        if rt in XML_NUMBERS:
            return XML_NUMBERS[rt](node.get("value"))
        if rt == "CLxStringW":
            return node.get("value", "")
        if rt == "CLxByteArray":
            return base64.b64decode(node.get("value", ""))
        out = {}
        for i, c in enumerate(node):
            out.setdefault(c.tag if c.tag != "no_name" else "i%010d" % i, conv(c))
        return out

    root = ET.fromstring(text)
    v = conv(root)
    # <variant><no_name runtype="SLxImageAttributes">...: the one unnamed item is the content.
    return next(iter(v.values())) if len(v) == 1 else v


def metadata(buf, chunks, lv_name, xml_name, level):
    if lv_name in chunks:
        return lv(chunk_data(buf, chunks[lv_name])).get(level)
    if xml_name in chunks:
        return xml_variant(chunk_data(buf, chunks[xml_name]))
    return None


def loops_of(exp):
    """[(axis, count, z step)] outermost first; spectral loops are the frame's components."""
    loops = []
    while exp:
        kind, pars = int(exp.get("eType", 0)), exp.get("uLoopPars") or {}
        if "uiCount" not in pars and len(pars) == 1 and isinstance(next(iter(pars.values())), dict):
            pars = next(iter(pars.values()))  # XML: the parameters are the list's one item
        count = int(pars.get("uiCount", 0))
        if kind == 8:
            periods = list((pars.get("pPeriod") or {}).values())
            valid = pars.get("pPeriodValid")
            flags = list(valid) if isinstance(valid, bytes) else list((valid or {}).values())
            if len(flags) != len(periods):
                flags = [1] * len(periods)
            count = sum(int(p.get("uiCount", 0)) for p, ok in zip(periods, flags) if ok) or count
        if kind == 2:
            valid = exp.get("pItemValid")
            flags = list(valid) if isinstance(valid, bytes) else list((valid or {}).values())
            if len(flags) == count:
                count = sum(1 for x in flags if x)
        if count > 1 and kind != 6:
            axis = {2: "s", 3: "s", 4: "z"}.get(kind, "t")
            loops.append((axis, count, abs(pars.get("dZStep", 0)) if axis == "z" else None))
        nxt = exp.get("ppNextLevelEx") or {}
        exp = next(iter(nxt.values())) if nxt else None
    return loops


def read(path, scan=False):
    buf = open(path, "rb").read()
    assert struct.unpack_from("<I", buf, 0)[0] == MAGIC, "not a chunked ND2 file"
    chunks = scan_chunks(buf) if scan else map_chunks(buf)
    a = metadata(buf, chunks, "ImageAttributesLV!", "ImageAttributes!", "SLxImageAttributes")
    w, h, comp = int(a["uiWidth"]), int(a["uiHeight"]), int(a.get("uiComp", 1))
    bits, n = int(a["uiBpcInMemory"]), int(a.get("uiSequenceCount", 0))
    wb = int(a.get("uiWidthBytes", w * comp * bits // 8))
    dtype = {8: np.uint8, 16: np.uint16, 32: np.float32 if a.get("ePixelType") == 3 else np.uint32}[bits]
    exp = metadata(buf, chunks, "ImageMetadataLV!", "ImageMetadata!", "SLxExperiment")
    loops = loops_of(exp) or [("t", n, None)]
    z_step = next((s for axis, _, s in loops if axis == "z"), None)
    pic = metadata(buf, chunks, "ImageMetadataSeqLV|0!", "ImageMetadataSeq|0!", "SLxPictureMetadata") or {}
    pp = pic.get("sPicturePlanes") or {}
    planes_meta = pp.get("sPlaneNew") or pp.get("sPlane") or {}
    ordered = sorted(planes_meta.items(), key=lambda kv: int(kv[0][1:]) if kv[0][1:].isdigit() else 0)
    names = [p.get("sDescription", "") for _, p in ordered]
    if names and comp % len(names) == 0 and comp > len(names):
        per = comp // len(names)
        names = ["%s_%s" % (nm, "RGBA"[k]) for nm in names for k in range(per)]
    if len(names) != comp:
        names = ["C%d" % i for i in range(comp)]
    cal = None
    if "ImageCalibrationLV|0!" in chunks:
        cal = lv(chunk_data(buf, chunks["ImageCalibrationLV|0!"])).get("SLxCalibration", {}).get("dCalibration")
    if not cal:
        cal = pic.get("dCalibration")
    planes = {}
    shape = [c for _, c, _ in loops]
    nbytes = bits // 8
    for seq in range(int(np.prod(shape))):
        key = "ImageDataSeq|%d!" % seq
        if key not in chunks:
            continue
        d = bytes(chunk_data(buf, chunks[key])[8:])
        if a.get("eCompression") == 0:
            d = zlib.decompress(d)
        rows = np.frombuffer(d[: wb * (h - 1) + w * comp * nbytes].ljust(wb * h, b"\0"), dtype=np.uint8).reshape(h, wb)
        px = rows[:, : w * comp * nbytes].copy().view(dtype).reshape(h, w, comp)
        idx = dict(s=0, t=0, z=0)
        for (axis, count, _), i in zip(loops, np.unravel_index(seq, shape)):
            idx[axis] = idx[axis] * count + int(i)
        for c in range(comp):
            planes[(idx["s"], names[c], idx["t"], idx["z"])] = px[:, :, c]
    return dict(width=w, height=h, dtype=np.dtype(dtype).name, channels=names, pixel_size=cal, z_step=z_step,
                loops=[[axis, count] for axis, count, _ in loops], planes=planes)


def main():
    args = [a for a in sys.argv[1:] if a != "--scan"]
    scan = "--scan" in sys.argv
    if len(args) >= 2 and args[0] == "summary":
        r = read(args[1], scan)
        planes = r.pop("planes")
        r["plane_count"] = len(planes)
        r["planes"] = {"%d|%s|%d|%d" % k: [int(v.astype(np.int64).sum()), [int(x) for x in v.ravel()[:4]]]
                       for k, v in sorted(planes.items())}
        print(json.dumps(r, indent=1, sort_keys=True))
    elif len(args) == 4 and args[0] == "check":
        import zarr
        r = read(args[2], scan)
        plate = zarr.open(args[1], mode="r")
        row, col = args[3][0], args[3][1:]
        checked = 0
        for (site, name, t, z), want in r["planes"].items():
            img = plate["%s/%s/%d" % (row, col, site)]
            scale = img.attrs["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
            for axis, value in ((-1, r["pixel_size"]), (-2, r["pixel_size"]), (2, r["z_step"])):
                if value and abs(scale[axis] - value) > 1e-9 * value:
                    sys.exit("SCALE %s site %d: axis %d is %g, the file says %g" % (args[2], site, axis, scale[axis], value))
            labels = [c["label"] for c in img.attrs["omero"]["channels"]]
            got = img["0"][t, labels.index(name), z]
            if got.shape != want.shape or not np.array_equal(got, want):
                sys.exit("MISMATCH %s site %d channel %s t %d z %d" % (args[2], site, name, t, z))
            checked += 1
        print("nd2 oracle: %d planes of %s match" % (checked, args[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
