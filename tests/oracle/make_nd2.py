#!/usr/bin/python3
"""Writes chunked ND2 files in the layouts of three NIS-Elements generations, independently of the
C++ fixture writer (tests/unit/nd2_writer.h), for the integration tests and the fuzz seeds.

  make_nd2.py write DIR      writes nis3_xml.nd2, nis4_lv.nd2 and nis5_aligned.nd2 into DIR

- nis3: "Ver2.1", XML metadata chunks (ImageAttributes!, ImageMetadata!, ImageMetadataSeq|0! with
  the pixel size and an sPlane list), chunks back to back. NE time loop of two periods x XY
  positions (the middle one unselected) x Z; 12 bits in 16 with row padding.
- nis4: "Ver3.0", LV metadata, frames padded to 4096-byte pages (as NIS-Elements 4.20 writes
  them); zlib frames of 8-bit RGB, one picture plane of three components; XY x Z.
- nis5: modelled on files of NIS-Elements 5.42 acquired in 2025: every chunk ends on a 4096-byte
  boundary, its name field padded with zeros to get there (at least 20 bytes: the file map's field
  is 4128 bytes), the attributes after the frames, map entries in descending order, the trailer
  inside the map's data; a time loop and a lambda loop of four components.

("lv", LV metadata with every chunk back to back, is the small layout of the fuzz seeds.)

The pixel of frame s, component c, column x, row y is (s * 1000 + c * 100 + y * 10 + x) masked to
the sample size.
"""
import os
import struct
import sys
import zlib

SIG = b"ND2 CHUNK MAP SIGNATURE 0000001!"


def u16z(s):
    return s.encode("utf-16-le") + b"\0\0"


# Metadata items: (kind, name, value); a level's value is a list of items.
def U(n, v): return ("u32", n, v)
def D(n, v): return ("f64", n, v)
def S(n, v): return ("str", n, v)
def B(n, v): return ("bytes", n, v)
def L(n, items, runtype="CLxListVariant"): return ("level", n, (runtype, items))


def lv(item):
    kind, name, v = item
    t = {"u32": 3, "f64": 6, "str": 8, "bytes": 9, "level": 11}[kind]
    head = bytes([t, len(name) + 1]) + u16z(name)
    if kind == "u32":
        return head + struct.pack("<I", v)
    if kind == "f64":
        return head + struct.pack("<d", v)
    if kind == "str":
        return head + u16z(v)
    if kind == "bytes":
        return head + struct.pack("<Q", len(v)) + v
    body = b"".join(lv(i) for i in v[1])
    return head + struct.pack("<IQ", len(v[1]), len(head) + 12 + len(body)) + body + b"\0" * (8 * len(v[1]))


def xml(item):
    kind, name, v = item
    if kind == "u32":
        return '<%s runtype="lx_uint32" value="%d"/>' % (name, v)
    if kind == "f64":
        return '<%s runtype="double" value="%r"/>' % (name, v)
    if kind == "str":
        return '<%s runtype="CLxStringW" value="%s"/>' % (name, v.replace("&", "&amp;").replace('"', "&quot;"))
    if kind == "bytes":
        flags = "".join('<no_name runtype="bool" value="%s"/>' % ("true" if b else "false") for b in v)
        return '<%s runtype="CLxListVariant">%s</%s>' % (name, flags, name)
    return '<%s runtype="%s">%s</%s>' % (name, v[0], "".join(xml(i) for i in v[1]), name)


def pixels(seq, w, h, comp, bits, padding):
    out = bytearray()
    for y in range(h):
        for x in range(w):
            for c in range(comp):
                v = (seq * 1000 + c * 100 + y * 10 + x) & ((1 << bits) - 1)
                out += struct.pack("<B" if bits == 8 else "<H", v)
        out += b"\xee" * padding
    return bytes(out)


def nd2(gen, w, h, comp, bits, padding, compressed, loops, names, plane_comps, cal, xy_valid=None):
    """gen: nis3, nis4, nis5 or lv; loops: [(eType, count, step)] outermost first; 6 = lambda
    (components), 8 = NE time (two periods)."""
    is_xml = gen == "nis3"
    lvs = "" if is_xml else "LV"

    def encode(top_name, items):
        if not is_xml:
            return lv(L(top_name, items))
        return (b'<?xml version="1.0" encoding="UTF-8"?><variant version="1.0">' +
                xml(L("no_name", items, top_name)).encode() + b"</variant>\0")

    frames = 1
    for t, n, _ in loops:
        frames *= 1 if t == 6 else 2 * n if t == 8 else (sum(xy_valid) if t == 2 and xy_valid else n)
    wb = w * comp * bits // 8 + padding
    attrs = [U("uiWidth", w), U("uiWidthBytes", wb), U("uiHeight", h), U("uiComp", comp), U("uiBpcInMemory", bits),
             U("uiBpcSignificant", 12 if bits == 16 else bits), U("uiSequenceCount", frames), U("ePixelType", 1),
             U("eCompression", 0 if compressed else 2)]
    level = None
    for t, n, step in reversed(loops):
        pars = [U("uiCount", 2 * n if t == 8 else n)]
        if t == 4:
            pars.append(D("dZStep", step))
        if t == 1:
            pars.append(D("dPeriod", step))
        if t == 2:
            pars.append(L("Points", [L("no_name", [D("dPosX", 100.0 + i), D("dPosY", -5.0)], "LxPoint") for i in range(n)]))
        if t == 8:
            pars.append(L("pPeriod", [L("no_name", [U("uiCount", n), D("dPeriod", step)], "Period")] * 2))
            pars.append(B("pPeriodValid", b"\1\1"))
        items = [U("eType", t), L("uLoopPars", [L("no_name", pars, "LoopPars")]) if is_xml else L("uLoopPars", pars)]
        if t == 2 and xy_valid:
            items.append(B("pItemValid", bytes(xy_valid)))
        if level:
            items.append(L("ppNextLevelEx", [("level", "no_name" if is_xml else "i0000000000", level[2])]))
        level = L("SLxExperiment", items, "RLxExperiment")
    planes = [L("a%d" % i, [S("sDescription", nm), U("uiCompCount", k)], "SLxPicturePlaneDesc")
              for i, (nm, k) in enumerate(zip(names, plane_comps))]
    picture = [L("sPicturePlanes", [U("uiCount", len(names)), L("sPlane" if is_xml else "sPlaneNew", planes)], "SLxPicturePlanes")]
    if is_xml:
        picture.insert(0, D("dCalibration", cal))

    chunks = []
    if level:
        chunks.append(("ImageMetadata%s!" % lvs, encode("SLxExperiment", level[2][1])))
    if not is_xml:
        chunks.append(("ImageCalibrationLV|0!", encode("SLxCalibration", [D("dCalibration", cal)])))
    chunks.append(("ImageMetadataSeq%s|0!" % lvs, encode("SLxPictureMetadata", picture)))
    if gen != "nis5":
        chunks.append(("ImageAttributes%s!" % lvs, encode("SLxImageAttributes", attrs)))
    for seq in range(frames):
        px = pixels(seq, w, h, comp, bits, padding)
        chunks.append(("ImageDataSeq|%d!" % seq, struct.pack("<d", seq * 100.0) + (zlib.compress(px) if compressed else px)))
    if gen == "nis5":
        chunks += [("ImageTextInfoLV!", b"\x5a" * 300), ("CustomData|AcqTimesCache!", b"\0" * 8 * frames),
                   ("ImageAttributesLV!", encode("SLxImageAttributes", attrs))]

    def chunk(out, name, data, pad=0):
        name = name.encode()
        if gen == "nis5":
            pad = -(len(out) + 16 + len(name) + len(data)) % 4096
            pad += 4096 if pad < 20 else 0
        elif gen == "nis4" and name.startswith(b"ImageDataSeq|"):
            pad = -(len(out) + 16 + len(name) + 8) % 4096  # the pixels start on a page
        return out + struct.pack("<IIQ", 0x0ABECEDA, len(name) + pad, len(data)) + name + b"\0" * pad + data

    out = chunk(b"", "ND2 FILE SIGNATURE CHUNK NAME01!", (b"Ver2.1" if is_xml else b"Ver3.0").ljust(64, b"\0"))
    if gen == "nis5":
        out = out.ljust(4096, b"\0")
    entries = []
    for name, data in chunks:
        entries.append((name, len(out), len(data)))
        out = chunk(out, name, data)
    if gen == "nis5":
        entries.sort(reverse=True)
    off = len(out)
    m = b"".join(n.encode() + struct.pack("<QQ", o, s) for n, o, s in entries) + SIG + struct.pack("<QQ", off, 0)
    trailer = SIG + struct.pack("<Q", off)
    if gen == "nis5":
        m += b"\0" * (-(16 + 4128 + len(m) + 40) % 4096) + trailer
        return out + struct.pack("<IIQ", 0x0ABECEDA, 4128, len(m)) + b"ND2 FILEMAP SIGNATURE NAME 0001!" + b"\0" * 4096 + m
    return chunk(out, "ND2 FILEMAP SIGNATURE NAME 0001!", m) + trailer


def fixtures():
    return {
        "nis3_xml.nd2": nd2("nis3", 24, 20, 2, 16, 4, False, [(8, 2, 500.0), (2, 3, 0), (4, 2, 0.75)],
                            ["DAPI", "GFP"], [1, 1], 0.645, xy_valid=[1, 0, 1]),
        "nis4_lv.nd2": nd2("nis4", 37, 9, 3, 8, 1, True, [(2, 2, 0), (4, 3, 2.0)], ["Brightfield"], [3], 0.5),
        "nis5_aligned.nd2": nd2("nis5", 32, 16, 4, 16, 0, False, [(1, 3, 1000.0), (6, 4, 0)],
                                ["Mono", "DAPI", "FITC BP", "TRITC BP"], [1, 1, 1, 1], 0.323390342594048),
    }


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, data in fixtures().items():
            open(os.path.join(sys.argv[2], name), "wb").write(data)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
