"""Independent check of one plate merged from several CellVoyager-style sources (demo plates):
the well, field, time-point, z-plane and channel of every source TIFF come from its file name
(..._B02_T0001F001L01A01Z01C01.tif), its pixels from tifffile, the plate from zarr-python.

  --mode time:          source k's time-points follow those of sources 0..k-1 in the same images.
  --mode multiplexing:  source k is cycle k: NGFF acquisition k, field image k*S+field (S = the
                        largest field count of any source), holding only that cycle's channels,
                        labelled "cycle<k+1>_...".

usage: check_acquisitions.py PLATE.zarr --mode time|multiplexing SOURCE...
"""
import glob
import os
import re
import sys

import numpy as np

from oracle_common import fail, open_plate, read_source

NAME = re.compile(r"_([A-P])(\d\d)_T(\d{4})F(\d{3})L\d\dA\d\dZ(\d\d)C(\d\d)\.tif$")


def planes_of(source):
    out = []
    for path in sorted(glob.glob(os.path.join(source, "*.tif"))):
        m = NAME.search(path)
        if not m:
            fail(f"{path}: unexpected file name")
        row, col, t, f, z, c = m.group(1), int(m.group(2)), int(m.group(3)) - 1, int(m.group(4)) - 1, \
            int(m.group(5)) - 1, int(m.group(6)) - 1
        out.append((f"{row}/{col:02d}", t, f, z, c, path))
    if not out:
        fail(f"{source}: no TIFFs")
    return out


def attrs_of(group):
    a = dict(group.attrs)
    return a.get("ome", a)


def main():
    plate_path = sys.argv[1]
    mode = sys.argv[sys.argv.index("--mode") + 1]
    sources = sys.argv[sys.argv.index("--mode") + 2:]
    plate = open_plate(plate_path)
    pattrs = attrs_of(plate)["plate"]
    per_source = [planes_of(s) for s in sources]
    fields = max(p[2] for planes in per_source for p in planes) + 1
    channels = max(p[4] for planes in per_source for p in planes) + 1
    checked = 0
    t_offset = 0
    if mode == "multiplexing":
        acq = pattrs.get("acquisitions", [])
        if [a["id"] for a in acq] != list(range(len(sources))):
            fail(f"acquisitions {acq}: expected ids 0..{len(sources) - 1}")
    elif len(pattrs.get("acquisitions", [])) != 1:
        fail(f"time mode: expected one acquisition, got {pattrs.get('acquisitions')}")
    for k, planes in enumerate(per_source):
        t_count = max(p[1] for p in planes) + 1
        for well, t, f, z, c, path in planes:
            if mode == "multiplexing":
                image, tt = k * fields + f, t
            else:
                image, tt = f, t + t_offset
            well_images = attrs_of(plate[well])["well"]["images"]
            entry = [e for e in well_images if e["path"] == str(image)]
            if len(entry) != 1:
                fail(f"{well}: no image entry {image} in {well_images}")
            want_acq = k if mode == "multiplexing" else 0
            if entry[0].get("acquisition") != want_acq:
                fail(f"{well}/{image}: acquisition {entry[0].get('acquisition')}, expected {want_acq}")
            arr = plate[f"{well}/{image}/0"]
            if mode == "multiplexing":
                if arr.shape[1] != channels:
                    fail(f"{well}/{image}: {arr.shape[1]} channels, expected {channels} (one cycle's)")
                labels = [ch["label"] for ch in attrs_of(plate[f"{well}/{image}"])["omero"]["channels"]]
                if not labels[c].startswith(f"cycle{k + 1}_"):
                    fail(f"{well}/{image}: channel {c} is labelled {labels[c]}, expected cycle{k + 1}_...")
            got = arr[tt, c, z]
            want = read_source(path)
            if got.dtype != want.dtype or not np.array_equal(got, want):
                fail(f"{well} image {image} t{tt} c{c} z{z}: differs from {path}")
            checked += 1
        t_offset += t_count
    if mode == "time":
        shape = plate[f"{per_source[0][0][0]}/0/0"].shape
        if shape[0] != t_offset:
            fail(f"time axis has {shape[0]} points, expected {t_offset}")
    print(f"oracle: {checked} source planes of {len(sources)} acquisitions ({mode}) pixel-exact in {plate_path}")


main()
