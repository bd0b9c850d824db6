"""Independent check of a plate extracted from a CellVoyager folder.

Parses MeasurementData.mlf itself (ElementTree), reads every source image with tifffile / Pillow,
opens the OME-Zarr plate with zarr-python, and compares every plane pixel by pixel, plus the
plate / well / field structure the NGFF 0.4 HCS spec asks for.

usage: check_cellvoyager_plate.py SOURCE_DIR PLATE.zarr [--mip]
"""
import os
import sys
import xml.etree.ElementTree as ET

import numpy as np

from oracle_common import fail, open_plate, read_source

BTS = "{http://www.yokogawa.co.jp/BTS/BTSSchema/1.0}"


def row_name(r):
    return (chr(ord("A") + r // 26 - 1) if r >= 26 else "") + chr(ord("A") + r % 26)


def main():
    source, plate_path = sys.argv[1], sys.argv[2]
    mip = "--mip" in sys.argv
    records = []
    for rec in ET.parse(os.path.join(source, "MeasurementData.mlf")).getroot():
        if rec.get(BTS + "Type") != "IMG":
            continue
        a = lambda k: int(rec.get(BTS + k))
        records.append(dict(row=a("Row") - 1, col=a("Column") - 1, site=a("FieldIndex") - 1, z=a("ZIndex") - 1,
                            chan=(a("ActionIndex"), a("Ch")), time=(a("TimelineIndex"), a("TimePoint")),
                            file=rec.text.strip()))
    if not records:
        fail("no IMG records in the mlf")
    channels = sorted({r["chan"] for r in records})
    times = sorted({r["time"] for r in records})
    plate = open_plate(plate_path)
    attrs = plate.attrs.asdict()
    if attrs["plate"]["version"] != "0.4":
        fail("plate version is not 0.4")
    wells = {(r["row"], r["col"]) for r in records}
    listed = {(w["rowIndex"], w["columnIndex"]) for w in attrs["plate"]["wells"]}
    if wells != listed:
        fail(f"plate lists wells {sorted(listed)}, mlf has {sorted(wells)}")
    row_names = [r["name"] for r in attrs["plate"]["rows"]]
    col_names = [c["name"] for c in attrs["plate"]["columns"]]
    for w in attrs["plate"]["wells"]:
        if w["path"] != row_names[w["rowIndex"]] + "/" + col_names[w["columnIndex"]]:
            fail(f"well path {w['path']} does not match its row/column indices")
    # Group source planes by stored plane (z collapsed with --mip).
    groups = {}
    for r in records:
        key = (r["row"], r["col"], r["site"], times.index(r["time"]), channels.index(r["chan"]), 0 if mip else r["z"])
        groups.setdefault(key, []).append(r["file"])
    checked = 0
    for (row, col, site, t, c, z), files in sorted(groups.items()):
        well_path = f"{row_name(row)}/{col + 1:02d}"
        well = plate[well_path]
        images = [i["path"] for i in well.attrs["well"]["images"]]
        if str(site) not in images:
            fail(f"well {well_path} does not list field {site}")
        image = well[str(site)]
        ms = image.attrs["multiscales"][0]
        if [a["name"] for a in ms["axes"]] != ["t", "c", "z", "y", "x"]:
            fail("axes are not t, c, z, y, x")
        arr = image[ms["datasets"][0]["path"]]
        expected = None
        for f in files:
            px = read_source(os.path.join(source, f))
            expected = px if expected is None else np.maximum(expected, px)
        got = arr[t, c, z]
        if got.shape != expected.shape or got.dtype != expected.dtype:
            fail(f"{well_path}/{site} t{t} c{c} z{z}: {got.shape} {got.dtype} != source {expected.shape} {expected.dtype}")
        if not np.array_equal(got, expected):
            fail(f"{well_path}/{site} t{t} c{c} z{z}: pixels differ from {files}")
        checked += 1
    print(f"oracle: {checked} planes pixel-exact in {len(wells)} wells, {len(channels)} channels, "
          f"{len(times)} tpoints{' (MIP)' if mip else ''}")


main()
