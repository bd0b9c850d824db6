#!/usr/bin/python3
"""A plate's OME/METADATA.ome.xml (bioformats2raw layout), read with xml.etree, agrees with the
plate's NGFF metadata and arrays (plain JSON and zarr-python) and with the catalog.

usage: check_ome_xml.py EXPERIMENT PLATE.zarr

Checks: Plate name, rows and columns; one Well per plate well at its row and column; one
WellSample per field image, in the order of the OME group's "series", its ImageRef naming an Image;
WellSample PositionX/PositionY equal the catalog's stage positions (absent where it has none);
each Image's AcquisitionDate (its first child) is the earliest acquisition time of the catalog's
source planes of that field, compared as parsed date-times (absent where the catalog has none);
each Image's Pixels Type and SizeX/Y/Z/C/T equal the array's dtype and shape, PhysicalSizeX/Y its
scale, DimensionOrder XYZCT; Channel names equal the omero labels; IDs are unique."""
import json
import os
from datetime import datetime
import sqlite3
import sys
import xml.etree.ElementTree as ET

NS = {"ome": "http://www.openmicroscopy.org/Schemas/OME/2016-06"}


def group_attrs(path):
    if os.path.exists(f"{path}/zarr.json"):
        with open(f"{path}/zarr.json") as f:
            return json.load(f)["attributes"]["ome"]
    with open(f"{path}/.zattrs") as f:
        return json.load(f)


def array_meta(path):
    """(shape, dtype name) of an array, Zarr v2 or v3, from its metadata document."""
    if os.path.exists(f"{path}/zarr.json"):
        with open(f"{path}/zarr.json") as f:
            meta = json.load(f)
        return meta["shape"], meta["data_type"]
    import zarr
    a = zarr.open(path, mode="r")
    return list(a.shape), str(a.dtype)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    experiment, plate_path = sys.argv[1:]
    plate_path = plate_path.rstrip("/")
    root = group_attrs(plate_path)
    if root.get("bioformats2raw.layout") != 3:
        sys.exit(f"{plate_path}: no bioformats2raw.layout 3 in the plate attributes")
    plate = root["plate"]
    series = group_attrs(f"{plate_path}/OME")["series"]
    xml_root = ET.parse(f"{plate_path}/OME/METADATA.ome.xml").getroot()
    if xml_root.tag != "{%s}OME" % NS["ome"]:
        sys.exit(f"{plate_path}: METADATA.ome.xml root is {xml_root.tag}, not OME 2016-06")
    ids = [e.get("ID") for e in xml_root.iter() if e.get("ID") and not e.tag.endswith("Ref")]
    if len(ids) != len(set(ids)):
        sys.exit(f"{plate_path}: duplicate IDs in METADATA.ome.xml")
    xplates = xml_root.findall("ome:Plate", NS)
    if len(xplates) != 1:
        sys.exit(f"{plate_path}: {len(xplates)} Plate elements, expected 1")
    xp = xplates[0]
    if xp.get("Name") != plate["name"] or int(xp.get("Rows")) != len(plate["rows"]) or \
            int(xp.get("Columns")) != len(plate["columns"]):
        sys.exit(f"{plate_path}: Plate {xp.attrib} differs from the NGFF plate {plate['name']} "
                 f"{len(plate['rows'])}x{len(plate['columns'])}")
    images = {i.get("ID"): i for i in xml_root.findall("ome:Image", NS)}
    db = sqlite3.connect(f"{experiment}/catalog.sqlite")
    positions = {(r, c, s): (x, y) for r, c, s, x, y in db.execute(
        "SELECT w.row, w.col, s.idx, s.stage_x, s.stage_y FROM sites s JOIN wells w ON s.well_id = w.id "
        "JOIN plates p ON w.plate_id = p.id WHERE p.name = ?", (plate["name"],))}
    acquired = {}
    for r, c, s, t in db.execute(
            "SELECT w.row, w.col, s.idx, pl.acquired FROM planes pl JOIN outputs o ON pl.output_id = o.id "
            "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id JOIN plates p ON w.plate_id = p.id "
            "WHERE p.name = ? AND pl.acquired IS NOT NULL", (plate["name"],)):
        acquired.setdefault((r, c, s), []).append(datetime.fromisoformat(t))
    dated = 0
    ngff_wells = {(w["rowIndex"], w["columnIndex"]): w["path"] for w in plate["wells"]}
    xwells = xp.findall("ome:Well", NS)
    if {(int(w.get("Row")), int(w.get("Column"))) for w in xwells} != set(ngff_wells) or len(xwells) != len(ngff_wells):
        sys.exit(f"{plate_path}: the OME-XML wells differ from the NGFF plate's wells")
    order = []
    positioned = 0
    for xw in xwells:
        row, col = int(xw.get("Row")), int(xw.get("Column"))
        well_path = ngff_wells[(row, col)]
        fields = [im["path"] for im in group_attrs(f"{plate_path}/{well_path}")["well"]["images"]]
        samples = xw.findall("ome:WellSample", NS)
        if len(samples) != len(fields):
            sys.exit(f"{plate_path} {well_path}: {len(samples)} WellSamples, {len(fields)} field images")
        for field, ws in zip(fields, samples):
            where = f"{plate_path} {well_path}/{field}"
            order.append(f"{well_path}/{field}")
            x, y = positions.get((row, col, int(field)), (None, None))
            got = (ws.get("PositionX"), ws.get("PositionY"))
            if x is None:
                if got != (None, None):
                    sys.exit(f"{where}: WellSample position {got} but the catalog has none")
            else:
                if got[0] is None or abs(float(got[0]) - x) > 1e-6 or abs(float(got[1]) - y) > 1e-6 or \
                        ws.get("PositionXUnit") != "µm":
                    sys.exit(f"{where}: WellSample position {got}, the catalog has ({x}, {y}) µm")
                positioned += 1
            image = images.get(ws.find("ome:ImageRef", NS).get("ID"))
            if image is None:
                sys.exit(f"{where}: ImageRef names no Image")
            date = image.find("ome:AcquisitionDate", NS)
            times = acquired.get((row, col, int(field)))
            if times is None:
                if date is not None:
                    sys.exit(f"{where}: AcquisitionDate {date.text} but the catalog has no time")
            else:
                if date is None or datetime.fromisoformat(date.text) != min(times) or image[0] is not date:
                    sys.exit(f"{where}: AcquisitionDate {None if date is None else date.text} (first child: "
                             f"{image[0].tag}), the earliest plane was acquired {min(times).isoformat()}")
                dated += 1
            px = image.find("ome:Pixels", NS)
            shape, dtype = array_meta(f"{plate_path}/{well_path}/{field}/0")
            sizes = [int(px.get(k)) for k in ("SizeT", "SizeC", "SizeZ", "SizeY", "SizeX")]
            if sizes != list(shape) or px.get("DimensionOrder") != "XYZCT":
                sys.exit(f"{where}: Pixels sizes (t, c, z, y, x) {sizes} order {px.get('DimensionOrder')}, array {shape}")
            want_type = {"uint8": "uint8", "uint16": "uint16", "int16": "int16", "uint32": "uint32",
                         "float32": "float"}.get(dtype.lstrip("<>|"), dtype)
            if px.get("Type") != want_type:
                sys.exit(f"{where}: Pixels Type {px.get('Type')}, array dtype {dtype}")
            attrs = group_attrs(f"{plate_path}/{well_path}/{field}")
            ms = attrs["multiscales"][0]
            scale = ms["datasets"][0]["coordinateTransformations"][0]["scale"]
            if "unit" in ms["axes"][4]:
                if abs(float(px.get("PhysicalSizeX")) - scale[4]) > 1e-9 or abs(float(px.get("PhysicalSizeY")) - scale[3]) > 1e-9:
                    sys.exit(f"{where}: PhysicalSizeX/Y {px.get('PhysicalSizeX')}/{px.get('PhysicalSizeY')}, scale {scale}")
            names = [c.get("Name") for c in px.findall("ome:Channel", NS)]
            labels = [c["label"] for c in attrs["omero"]["channels"]]
            if names != labels:
                sys.exit(f"{where}: Channel names {names}, omero labels {labels}")
    if order != series:
        sys.exit(f"{plate_path}: OME series {series[:4]}... differ from the WellSample order {order[:4]}...")
    if len(images) != len(order):
        sys.exit(f"{plate_path}: {len(images)} Images for {len(order)} WellSamples")
    print(f"{plate_path}: METADATA.ome.xml: {len(xwells)} wells, {len(order)} images, {positioned} positions "
          f"and {dated} acquisition dates agree")


if __name__ == "__main__":
    main()
