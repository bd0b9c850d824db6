#!/usr/bin/python3
"""Independent reader of ND2 (chunked, nd2_oracle.py) and LIF files for the tests, written from the
format descriptions with numpy and ElementTree (a different code path from imextract's C++ readers).

  nd2_lif_oracle.py summary FILE          prints a JSON summary: geometry, names, pixel sizes,
                                          and per plane (site, channel, t, z) its sum and first pixels
  nd2_lif_oracle.py check PLATE.zarr FILE WELL [WxH]
                                          compares every plane of FILE with the stored plate
                                          (sites = images/XY positions, channels by name)

Planes are keyed by (site, channel name, t, z) with the same mapping the issue asks for: ND2 XY
positions -> sites, components -> channels; LIF images (and mosaic tiles) -> sites, lambda sweeps
-> one channel per wavelength.
"""
import json
import struct
import sys
import xml.etree.ElementTree as ET

import numpy as np

from nd2_oracle import read as nd2_read

# ---------------------------------------------------------------- LIF -----------------------------


def lif_read(path, want=None):
    """Planes of the images of one plane size: `want` = (width, height), else the first image's."""
    buf = open(path, "rb").read()
    assert struct.unpack_from("<I", buf, 0)[0] == 0x70 and buf[8] == 0x2A
    (nchars,) = struct.unpack_from("<I", buf, 9)
    root = ET.fromstring(buf[13: 13 + 2 * nchars].decode("utf-16-le"))
    version = int(root.get("Version", "2"))
    blocks, pos = {}, 13 + 2 * nchars
    while pos < len(buf):
        assert struct.unpack_from("<I", buf, pos)[0] == 0x70
        if version == 1:
            (size,) = struct.unpack_from("<I", buf, pos + 9)
            pos += 14
        else:
            (size,) = struct.unpack_from("<Q", buf, pos + 9)
            pos += 18
        (idn,) = struct.unpack_from("<I", buf, pos)
        bid = buf[pos + 4: pos + 4 + 2 * idn].decode("utf-16-le")
        pos += 4 + 2 * idn
        blocks[bid] = (pos, size)
        pos += size
    planes, site, first = {}, 0, None
    names_all = []
    for el in root.iter("Element"):
        desc = el.find("Data/Image/ImageDescription")
        mem = el.find("Memory")
        if desc is None or mem is None or int(mem.get("Size", "0")) == 0:
            continue
        off, size = blocks[mem.get("MemoryBlockID")]
        dims = {int(d.get("DimID")): d for d in desc.find("Dimensions")}
        chans = list(desc.find("Channels"))
        res = int(chans[0].get("Resolution"))
        dt = np.uint8 if res <= 8 else np.uint16
        nb = np.dtype(dt).itemsize
        # The plane: X and Y, or X and Z for an XZ scan; the rest stack.
        xid = 1
        yid = 2 if 2 in dims else 3
        w, h = int(dims[xid].get("NumberOfElements")), int(dims[yid].get("NumberOfElements"))
        if want is not None and (w, h) != want:
            continue
        if first is None:
            first = (w, h, np.dtype(dt).name, dims)
        elif (w, h, np.dtype(dt).name) != first[:3]:
            continue
        def n_inc(i):
            d = dims.get(i)
            return (1, 0) if d is None else (int(d.get("NumberOfElements")), int(d.get("BytesInc")))
        zid = 3 if yid == 2 else 2
        (nz, iz), (nt, it), (nm, im) = n_inc(zid), n_inc(4), n_inc(10)
        lam = 5 if 5 in dims else 9 if 9 in dims else None
        nl, il = n_inc(lam) if lam else (1, 0)
        lut = [c.get("LUTName") for c in chans]
        labels = []
        for li in range(nl):
            for ci, c in enumerate(chans):
                if lam:
                    d = dims[lam]
                    nm_ = float(d.get("Origin")) * 1e9 + li * float(d.get("Length")) * 1e9 / (nl - 1)
                    labels.append(("%s %s %dnm" % (lut[ci], "ex" if lam == 9 else "em", round(nm_)), li * il + int(c.get("BytesInc"))))
                else:
                    labels.append((lut[ci], int(c.get("BytesInc"))))
        data = np.frombuffer(buf, dtype=np.uint8, count=size, offset=off)
        sx, sy = int(dims[xid].get("BytesInc")), int(dims[yid].get("BytesInc"))
        for m in range(nm):
            for t in range(nt):
                for z in range(nz):
                    for name, cinc in labels:
                        o = m * im + t * it + z * iz + cinc
                        plane = np.lib.stride_tricks.as_strided(data[o:], shape=(h, w, nb), strides=(sy, sx, 1))
                        planes[(site + m, name, t, z)] = plane.copy().view(dt).reshape(h, w)
                        if name not in names_all:
                            names_all.append(name)
        site += nm
    w, h, dtn, dims = first
    return dict(width=w, height=h, dtype=dtn, channels=names_all, planes=planes)


def read_any(path, want=None):
    head = open(path, "rb").read(4)
    return nd2_read(path) if head == b"\xda\xce\xbe\x0a" else lif_read(path, want)


def main():
    if sys.argv[1] == "summary":
        r = read_any(sys.argv[2])
        planes = r.pop("planes")
        r["plane_count"] = len(planes)
        r["sites"] = len({k[0] for k in planes})
        r["tpoints"] = len({k[2] for k in planes})
        r["zplanes"] = len({k[3] for k in planes})
        r["planes"] = {"%d|%s|%d|%d" % k: [int(v.astype(np.int64).sum()), [int(x) for x in v.ravel()[:4]]]
                       for k, v in sorted(planes.items())}
        print(json.dumps(r, indent=1, sort_keys=True))
    elif sys.argv[1] == "check":
        import zarr
        plate_path, path, well = sys.argv[2], sys.argv[3], sys.argv[4]
        # Optional WxH: check the images of that plane size (stored as a plate of their own).
        want = tuple(int(v) for v in sys.argv[5].split("x")) if len(sys.argv) > 5 else None
        r = read_any(path, want)
        plate = zarr.open(plate_path, mode="r")
        row, col = well[0], well[1:]
        checked = 0
        for (site, name, t, z), want in r["planes"].items():
            img = plate["%s/%s/%d" % (row, col, site)]
            names = [c["label"] for c in img.attrs["omero"]["channels"]]
            got = img["0"][t, names.index(name), z]
            if got.shape != want.shape or not np.array_equal(got, want):
                sys.exit("MISMATCH %s site %d channel %s t %d z %d" % (path, site, name, t, z))
            checked += 1
        print("oracle: %d planes of %s match" % (checked, path))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
