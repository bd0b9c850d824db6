#!/usr/bin/python3
"""Writes the small synthetic seed files of tests/fuzz/corpus/{nd2,lif} (run from the project root)."""
import os
import struct
import sys


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
# ND2 files, written by the test oracle's writers: version 2 (JPEG 2000 boxes, Pillow's encoder)
# and chunked files in small versions of the NIS-Elements 3.x (XML), 4.x (LV) and 2025 (4096-byte
# pages, padded names) layouts.
sys.path.insert(0, "tests/oracle")
from make_nd2 import nd2  # noqa: E402
from make_nd2_legacy import legacy_nd2  # noqa: E402

open("tests/fuzz/corpus/nd2/legacy_t2.nd2", "wb").write(legacy_nd2(2, ["GFP"], 8, 6, 8, "T(2)"))
os.makedirs("tests/fuzz/corpus/lif", exist_ok=True)
for name, gen, compressed, loops, valid in [
        ("raw_z2", "lv", False, [(4, 2, 1.0)], None), ("zlib_z2", "lv", True, [(4, 2, 1.0)], None),
        ("xml_nis3", "nis3", False, [(8, 1, 100.0), (2, 3, 0), (4, 2, 0.5)], [1, 0, 1]),
        ("aligned_nis5", "nis5", False, [(1, 2, 100.0), (6, 2, 0)], None)]:
    data = nd2(gen, 3, 2, 2, 16, 2, compressed, loops, ["ch0", "ch1"], [1, 1], 0.5, xy_valid=valid)
    open("tests/fuzz/corpus/nd2/%s.nd2" % name, "wb").write(data)
open("tests/fuzz/corpus/lif/v2_xyz.lif", "wb").write(lif(2, [(1, 4, 1), (2, 3, 4), (3, 2, 12)], 24))
open("tests/fuzz/corpus/lif/v1_lambda.lif", "wb").write(lif(1, [(1, 3, 1), (5, 3, 3), (2, 2, 9)], 18))
open("tests/fuzz/corpus/lif/v2_u16_t.lif", "wb").write(lif(2, [(1, 2, 2), (2, 2, 4), (4, 3, 8)], 24, res=12))
