#!/usr/bin/python3
"""Writes an ND2 version 2 (JPEG 2000 box) file with Pillow's JPEG 2000 encoder, independently of
the C++ fixture writer, and checks a converted plate against the pixels it encoded.

  make_nd2_legacy.py write OUT.nd2            T(2) x XY(2), channels DAPI and GFP, 12-bit in 16
  make_nd2_legacy.py check PLATE.zarr         every plane of the plate equals what `write` encoded

Layout (src/formats/nd2_legacy.h): JPEG 2000 signature box, jp2h/ihdr, VIMD and TINF XML boxes,
one codestream box (LUNK) per frame and channel, then the box map and its trailer.
"""
import io
import struct
import sys

import numpy as np

T, XY, CHANNELS, W, H = 2, 2, ["DAPI", "GFP"], 24, 20


def pixels(frame, channel, w=W, h=H, bits=12):
    y, x = np.mgrid[0:h, 0:w]
    return ((frame * 311 + channel * 97 + y * 29 + x * 7) % (1 << bits)).astype(np.uint16 if bits > 8 else np.uint8)


def box(t, content):
    return struct.pack(">I", len(content) + 8) + t + content


def legacy_nd2(frames, channels, w, h, bits, dims):
    from PIL import Image

    out, entries = b"", []

    def add(box_type, lim_type, data):
        nonlocal out
        entries.append((box_type, lim_type, len(out)))
        out += data

    add(b"jP  ", b"    ", b"\0\0\0\x0cjP  \r\n\x87\n")
    add(b"jp2h", b"    ", box(b"jp2h", box(b"ihdr", struct.pack(">IIHBBBB", h, w, 1, bits - 1, 7, 0, 0))))
    planes = b"".join(b'<a%d runtype="CLxListVariant"><sOpticalConfigName runtype="CLxStringW" value="%s"/></a%d>'
                      % (i, c.encode(), i) for i, c in enumerate(channels))
    vimd = (b'<?xml version="1.0" encoding="UTF-8"?><variant version="1.0"><no_name runtype="CLxListVariant">'
            b'<dCalibration runtype="double" value="0.645"/><sPicturePlanes runtype="CLxListVariant">'
            b'<uiCount runtype="lx_uint32" value="%d"/><sPlane runtype="CLxListVariant">%s</sPlane></sPicturePlanes>'
            b'</no_name></variant>' % (len(channels), planes))
    add(b"uuid", b"VIMD", box(b"uuid", vimd))
    tinf = (b'<?xml version="1.0" encoding="UTF-8"?><variant version="1.0"><no_name runtype="CLxListVariant">'
            b'<TextInfoItem_9 runtype="CLxListVariant"><sText runtype="CLxStringW" value="Metadata:&#13;&#10;'
            b'Dimensions: %s&#13;&#10;"/></TextInfoItem_9></no_name></variant>' % dims.encode())
    add(b"uuid", b"TINF", box(b"uuid", tinf))
    for f in range(frames):
        for c in range(len(channels)):
            a = pixels(f, c, w, h, bits)
            img = Image.fromarray(a, mode="I;16" if a.dtype == np.uint16 else "L")
            buf = io.BytesIO()
            img.save(buf, format="JPEG2000", irreversible=False, num_resolutions=2, no_jp2=True)
            code = buf.getvalue()
            assert code[:4] == b"\xff\x4f\xff\x51", "Pillow wrote no J2K codestream"
            add(b"jp2c", b"LUNK", box(b"jp2c", code))
    map_at = len(out)
    out += struct.pack(">I", len(entries)) + b"".join(t + l + struct.pack("<II", o, 0) for t, l, o in entries)
    out += b"LABORATORY IMAGING ND BOX MAP 00"
    return out + struct.pack("<Q", len(out) + 8 - map_at)


def main():
    if sys.argv[1] == "write":
        open(sys.argv[2], "wb").write(legacy_nd2(T * XY, CHANNELS, W, H, 12, "T(%d) x XY(%d) x \u03bb(2)" % (T, XY)))
    elif sys.argv[1] == "check":
        import zarr
        plate = zarr.open(sys.argv[2], mode="r")
        n = 0
        for site in range(XY):
            img = plate["A/01/%d" % site]
            names = [c["label"] for c in img.attrs["omero"]["channels"]]
            assert names == CHANNELS, names
            a = img["0"]
            assert a.shape == (T, len(CHANNELS), 1, H, W), a.shape
            for t in range(T):
                for c in range(len(CHANNELS)):
                    want = pixels(t * XY + site, c)  # T outer, XY inner
                    assert np.array_equal(a[t, c, 0], want), (site, t, c)
                    n += 1
        print("nd2 v2 oracle: %d planes match" % n)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
