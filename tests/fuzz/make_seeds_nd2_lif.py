#!/usr/bin/python3
"""Writes the small synthetic seed files of tests/fuzz/corpus/{nd2,lif} (run from the project root)."""
import os
import struct
import sys
import zlib


def u16z(s):
    return s.encode("utf-16-le") + b"\0\0"


def lv(t, name, value):
    return bytes([t, len(name) + 1]) + u16z(name) + value


def level(name, items):
    head = bytes([11, len(name) + 1]) + u16z(name)
    body = b"".join(items)
    return head + struct.pack("<IQ", len(items), len(head) + 12 + len(body)) + body + b"\0" * (8 * len(items))


def u32(n, v):
    return lv(3, n, struct.pack("<I", v))


def f64(n, v):
    return lv(6, n, struct.pack("<d", v))


def chunk(name, data):
    name = name.encode()
    return struct.pack("<IIQ", 0x0ABECEDA, len(name), len(data)) + name + data


def nd2(compressed, w=3, h=2, comp=2, z=2):
    wb = w * comp * 2 + 2
    chunks = [("ImageAttributesLV!", level("SLxImageAttributes", [
        u32("uiWidth", w), u32("uiWidthBytes", wb), u32("uiHeight", h), u32("uiComp", comp),
        u32("uiBpcInMemory", 16), u32("uiSequenceCount", z), u32("eCompression", 0 if compressed else 2)])),
        ("ImageMetadataLV!", level("SLxExperiment", [u32("eType", 4), level("uLoopPars", [u32("uiCount", z), f64("dZStep", 1.0)])])),
        ("ImageMetadataSeqLV|0!", level("SLxPictureMetadata", [level("sPicturePlanes", [level("sPlaneNew", [
            level("a%d" % i, [lv(8, "sDescription", u16z("ch%d" % i))]) for i in range(comp)])])])),
        ("ImageCalibrationLV|0!", level("SLxCalibration", [f64("dCalibration", 0.5)]))]
    for s in range(z):
        px = b"".join(struct.pack("<%dH" % (w * comp), *range(s * 100 + y * 10, s * 100 + y * 10 + w * comp)) + b"\xee\xee"
                      for y in range(h))
        chunks.append(("ImageDataSeq|%d!" % s, struct.pack("<d", s) + (zlib.compress(px) if compressed else px)))
    out = chunk("ND2 FILE SIGNATURE CHUNK NAME01!", b"Ver3.0")
    m = b""
    for name, data in chunks:
        m += name.encode() + struct.pack("<QQ", len(out), len(data))
        out += chunk(name, data)
    off = len(out)
    m += b"ND2 CHUNK MAP SIGNATURE 0000001!" + struct.pack("<QQ", off, 0)
    out += chunk("ND2 FILEMAP SIGNATURE NAME 0001!", m)
    return out + b"ND2 CHUNK MAP SIGNATURE 0000001!" + struct.pack("<Q", off)


def lif(version, dims, nbytes, res=8):
    chans = '<ChannelDescription DataType="0" Resolution="%d" LUTName="Gray" BytesInc="0"/>' % res
    d = "".join('<DimensionDescription DimID="%d" NumberOfElements="%d" Origin="5e-7" Length="1e-5" Unit="m" BytesInc="%d"/>' % x
                for x in dims)
    xml = ('<LMSDataContainerHeader Version="%d"><Element Name="f"><Children><Element Name="img"><Data><Image>'
           '<ImageDescription><Channels>%s</Channels><Dimensions>%s</Dimensions></ImageDescription></Image></Data>'
           '<Memory Size="%d" MemoryBlockID="MemBlock_1"/></Element></Children></Element></LMSDataContainerHeader>'
           % (version, chans, d, nbytes))
    x = xml.encode("utf-16-le")
    out = struct.pack("<II", 0x70, len(x) + 5) + b"\x2a" + struct.pack("<I", len(xml)) + x
    bid = "MemBlock_1".encode("utf-16-le")
    size = struct.pack("<I" if version == 1 else "<Q", nbytes)
    return out + struct.pack("<II", 0x70, 0) + b"\x2a" + size + b"\x2a" + struct.pack("<I", 10) + bid + bytes(range(nbytes))


os.makedirs("tests/fuzz/corpus/nd2", exist_ok=True)
# ND2 version 2 (JPEG 2000 boxes), written by the test oracle's writer (Pillow's encoder).
sys.path.insert(0, "tests/oracle")
from make_nd2_legacy import legacy_nd2  # noqa: E402

open("tests/fuzz/corpus/nd2/legacy_t2.nd2", "wb").write(legacy_nd2(2, ["GFP"], 8, 6, 8, "T(2)"))
os.makedirs("tests/fuzz/corpus/lif", exist_ok=True)
open("tests/fuzz/corpus/nd2/raw_z2.nd2", "wb").write(nd2(False))
open("tests/fuzz/corpus/nd2/zlib_z2.nd2", "wb").write(nd2(True))
open("tests/fuzz/corpus/lif/v2_xyz.lif", "wb").write(lif(2, [(1, 4, 1), (2, 3, 4), (3, 2, 12)], 24))
open("tests/fuzz/corpus/lif/v1_lambda.lif", "wb").write(lif(1, [(1, 3, 1), (5, 3, 3), (2, 2, 9)], 18))
open("tests/fuzz/corpus/lif/v2_u16_t.lif", "wb").write(lif(2, [(1, 2, 2), (2, 2, 4), (4, 3, 8)], 24, res=12))
