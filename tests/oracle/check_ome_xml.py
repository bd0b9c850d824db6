#!/usr/bin/python3
"""A plate's OME/METADATA.ome.xml (bioformats2raw layout), read with xml.etree, agrees with the
plate's NGFF metadata and arrays (plain JSON and zarr-python) and with the catalog.

usage: check_ome_xml.py EXPERIMENT PLATE.zarr [--vendor harmony|cellvoyager SOURCE]

Checks: Plate name, rows and columns; one Well per plate well at its row and column; one
WellSample per field image, in the order of the OME group's "series", its ImageRef naming an Image;
WellSample PositionX/PositionY equal the catalog's stage positions (absent where it has none);
each Image's AcquisitionDate (its first child) is the earliest acquisition time of the catalog's
source planes of that field, compared as parsed date-times (absent where the catalog has none);
each Image's Pixels Type and SizeX/Y/Z/C/T equal the array's dtype and shape, PhysicalSizeX/Y its
scale, DimensionOrder XYZCT; Channel names equal the omero labels; IDs are unique; every element
the document has among the children of OME, Image and Pixels comes in the OME 2016-06 schema's
order, each ObjectiveSettings/InstrumentRef names an Objective/Instrument of the document, and every
Plane's TheZ/TheT/TheC lies inside its Pixels' sizes.

With --vendor, the Plane elements and the Instrument are compared with the vendor's own metadata,
parsed here (not the catalog): Harmony Images/Index.idx.xml (or Index.xml), CellVoyager
MeasurementData.mlf with the measurement settings (.mes) its .mrf names. Each field image has one
Plane per vendor image of that field, at the vendor's z, time-point and channel (ranked as the
vendor numbers them); DeltaT is the plane's time minus the field's earliest (AbsTime, Time),
ExposureTime the vendor's (Harmony ExposureTime in its unit, CellVoyager .mes ExposureTime in ms),
PositionX/Y/Z the plane's stage position in µm; the Objective's NominalMagnification and LensNA
(Harmony ObjectiveMagnification, ObjectiveNA; CellVoyager .mes Magnification and Objective as the
Model) are the vendor's, and absent values stay absent."""
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


# The OME 2016-06 schema's sequences (ome.xsd): the order of the children of OME, Image, Pixels
# and Instrument.
ORDER = {
    "OME": ["Rights", "Project", "Dataset", "Folder", "Experiment", "Plate", "Screen", "Experimenter",
            "ExperimenterGroup", "Instrument", "Image", "StructuredAnnotations", "ROI", "BinaryOnly"],
    "Image": ["AcquisitionDate", "ExperimenterRef", "Description", "ExperimentRef", "ExperimenterGroupRef",
              "InstrumentRef", "ObjectiveSettings", "ImagingEnvironment", "StageLabel", "Pixels", "ROIRef",
              "MicrobeamManipulationRef", "AnnotationRef"],
    "Pixels": ["Channel", "BinData", "TiffData", "MetadataOnly", "Plane"],
    "Instrument": ["Microscope", "LightSource", "Detector", "Objective", "FilterSet", "Filter", "Dichroic",
                   "AnnotationRef"],
}
IMMERSION = {"Oil", "Water", "WaterDipping", "Air", "Multi", "Glycerol", "Other"}


def local(tag):
    return tag.split("}")[-1]


def check_order(where, element):
    """The element's children come in its schema sequence; unknown children are errors."""
    sequence = ORDER[local(element.tag)]
    ranks = []
    for child in element:
        name = local(child.tag)
        if name not in sequence:
            sys.exit(f"{where}: {local(element.tag)} has a child {name} the schema does not allow")
        ranks.append(sequence.index(name))
    if ranks != sorted(ranks):
        sys.exit(f"{where}: the children of {local(element.tag)} are {[local(c.tag) for c in element]}, "
                 f"not in the schema's order {sequence}")


def rank(values):
    return {v: i for i, v in enumerate(sorted(set(values)))}


def by_local(node, name):
    return [c for c in node if local(c.tag) == name]


def first_text(node, name):
    found = by_local(node, name)
    return found[0].text.strip() if found and found[0].text else None


def metres_to_um(node, name):
    found = by_local(node, name)
    if not found or not found[0].text:
        return None
    scale = {"m": 1e6, "mm": 1e3, "um": 1.0, "µm": 1.0, "nm": 1e-3, "": 1.0}[found[0].get("Unit", "")]
    return float(found[0].text) * scale


def vendor_harmony(source):
    """{(row, col, site): {(t, c, z): facts}} and the objective from a Harmony index."""
    for name in ("Images/Index.idx.xml", "Images/Index.xml", "Index.idx.xml", "Index.xml"):
        if os.path.exists(os.path.join(source, name)):
            root = ET.parse(os.path.join(source, name)).getroot()
            break
    else:
        sys.exit(f"{source}: no Harmony index")
    images = [i for i in root.iter() if local(i.tag) == "Image" and first_text(i, "URL")]
    fields = rank(int(first_text(i, "FieldID")) for i in images)
    planes = rank(int(first_text(i, "PlaneID") or 1) for i in images)
    times = rank(int(first_text(i, "TimepointID") or 0) for i in images)
    channels = rank(int(first_text(i, "ChannelID")) for i in images)
    facts, objectives = {}, set()
    for i in images:
        key = (int(first_text(i, "Row")) - 1, int(first_text(i, "Col")) - 1, fields[int(first_text(i, "FieldID"))])
        exposure = by_local(i, "ExposureTime")
        seconds = None
        if exposure and exposure[0].text:
            seconds = float(exposure[0].text) * {"s": 1, "ms": 1e-3}[exposure[0].get("Unit")]
        abs_time = first_text(i, "AbsTime")
        facts.setdefault(key, {})[(times[int(first_text(i, "TimepointID") or 0)],
                                   channels[int(first_text(i, "ChannelID"))],
                                   planes[int(first_text(i, "PlaneID") or 1)])] = {
            "time": datetime.fromisoformat(abs_time) if abs_time else None, "exposure": seconds,
            "x": metres_to_um(i, "PositionX"), "y": metres_to_um(i, "PositionY"), "z": metres_to_um(i, "PositionZ")}
        mag, na = first_text(i, "ObjectiveMagnification"), first_text(i, "ObjectiveNA")
        objectives.add((None, float(mag) if mag else None, float(na) if na else None))
    objective = objectives.pop() if len(objectives) == 1 else None
    return facts, objective


def vendor_cellvoyager(source):
    """The same from a CellVoyager MeasurementData.mlf and the .mes its MeasurementDetail.mrf names."""
    bts = "{http://www.yokogawa.co.jp/BTS/BTSSchema/1.0}"
    records = [r for r in ET.parse(os.path.join(source, "MeasurementData.mlf")).getroot()
               if local(r.tag) == "MeasurementRecord" and r.get(bts + "Type") == "IMG"]
    if any(r.get(bts + "ZImageProcessing") not in (None, "", "None") for r in records):
        sys.exit(f"{source}: projection records: not compared here")
    mes = {}
    mrf = os.path.join(source, "MeasurementDetail.mrf")
    if os.path.exists(mrf):
        setting = ET.parse(mrf).getroot().get(bts + "MeasurementSettingFileName")
        if setting and os.path.exists(os.path.join(source, setting)):
            for ch in ET.parse(os.path.join(source, setting)).getroot().iter(bts + "Channel"):
                mes[int(ch.get(bts + "Ch"))] = ch
    def attr(r, key, default=None):
        v = r.get(bts + key)
        return default if v is None else v
    channel_of = rank((int(attr(r, "ActionIndex", 1)), int(attr(r, "Ch"))) for r in records)
    time_of = rank((int(attr(r, "TimelineIndex", 1)), int(attr(r, "TimePoint", 1))) for r in records)
    facts, objectives = {}, set()
    for r in records:
        key = (int(attr(r, "Row")) - 1, int(attr(r, "Column")) - 1, int(attr(r, "FieldIndex")) - 1)
        ch = int(attr(r, "Ch"))
        setting = mes.get(ch)
        exposure = float(setting.get(bts + "ExposureTime")) / 1000 if setting is not None else None
        facts.setdefault(key, {})[(time_of[(int(attr(r, "TimelineIndex", 1)), int(attr(r, "TimePoint", 1)))],
                                   channel_of[(int(attr(r, "ActionIndex", 1)), ch)], int(attr(r, "ZIndex", 1)) - 1)] = {
            "time": datetime.fromisoformat(attr(r, "Time")) if attr(r, "Time") else None, "exposure": exposure,
            "x": float(attr(r, "X")) if attr(r, "X") else None, "y": float(attr(r, "Y")) if attr(r, "Y") else None,
            "z": float(attr(r, "Z")) if attr(r, "Z") else None}
        objectives.add((setting.get(bts + "Objective"), float(setting.get(bts + "Magnification")), None)
                       if setting is not None else None)
    objective = objectives.pop() if len(objectives) == 1 else None
    return facts, objective


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def check_vendor(plate_path, xml_root, images_by_well, vendor, source):
    """Planes and Objective against the vendor metadata."""
    facts, objective = {"harmony": vendor_harmony, "cellvoyager": vendor_cellvoyager}[vendor](source)
    objectives = [o for ins in xml_root.findall("ome:Instrument", NS) for o in ins.findall("ome:Objective", NS)]
    if objective is None or objective == (None, None, None):
        if objectives:
            sys.exit(f"{plate_path}: an Objective, but {source} names none (or several)")
    else:
        if len(objectives) != 1:
            sys.exit(f"{plate_path}: {len(objectives)} Objectives; {source} names {objective}")
        o = objectives[0]
        got = (o.get("Model"), float(o.get("NominalMagnification")) if o.get("NominalMagnification") else None,
               float(o.get("LensNA")) if o.get("LensNA") else None)
        if got != objective:
            sys.exit(f"{plate_path}: Objective (Model, NominalMagnification, LensNA) {got}, {source} says {objective}")
    planes_seen = 0
    for key, image in images_by_well.items():
        expected = facts.get(key)
        if expected is None:
            sys.exit(f"{plate_path}: image {image.get('ID')} of {key}: {source} has no images there")
        where = f"{plate_path} {image.get('ID')} (row, column, field {key})"
        settings = image.find("ome:ObjectiveSettings", NS)
        if (settings is not None) != (objective is not None and objective != (None, None, None)):
            sys.exit(f"{where}: ObjectiveSettings {settings is not None}, objective {objective}")
        times = [f["time"] for f in expected.values() if f["time"] is not None]
        start = min(times) if times else None
        got = {}
        for p in image.find("ome:Pixels", NS).findall("ome:Plane", NS):
            got[(int(p.get("TheT")), int(p.get("TheC")), int(p.get("TheZ")))] = p
        if set(got) != set(expected):
            sys.exit(f"{where}: Planes (T, C, Z) {sorted(got)}, {source} has {sorted(expected)}")
        for tcz, f in expected.items():
            p = got[tcz]
            checks = [("DeltaT", (f["time"] - start).total_seconds() if f["time"] is not None else None, "s"),
                      ("ExposureTime", f["exposure"], "s"),
                      ("PositionX", f["x"], "µm"), ("PositionY", f["y"], "µm"), ("PositionZ", f["z"], "µm")]
            for name, want, unit in checks:
                value = p.get(name)
                if want is None:
                    if value is not None:
                        sys.exit(f"{where} plane {tcz}: {name} {value}, {source} gives none")
                elif value is None or not close(float(value), want) or p.get(name + "Unit") != unit:
                    sys.exit(f"{where} plane {tcz}: {name} {value} {p.get(name + 'Unit')}, {source} says {want} {unit}")
            planes_seen += 1
    print(f"{plate_path}: {planes_seen} Planes and the Objective {objective} agree with {source}")


def main():
    args = sys.argv[1:]
    vendor = None
    if len(args) == 5 and args[2] == "--vendor":
        vendor = (args[3], args[4])
        args = args[:2]
    if len(args) != 2:
        sys.exit(__doc__)
    experiment, plate_path = args
    plate_path = plate_path.rstrip("/")
    root = group_attrs(plate_path)
    if root.get("bioformats2raw.layout") != 3:
        sys.exit(f"{plate_path}: no bioformats2raw.layout 3 in the plate attributes")
    plate = root["plate"]
    series = group_attrs(f"{plate_path}/OME")["series"]
    xml_root = ET.parse(f"{plate_path}/OME/METADATA.ome.xml").getroot()
    if xml_root.tag != "{%s}OME" % NS["ome"]:
        sys.exit(f"{plate_path}: METADATA.ome.xml root is {xml_root.tag}, not OME 2016-06")
    # References carry the ID they name: *Ref elements and ObjectiveSettings.
    ids = [e.get("ID") for e in xml_root.iter()
           if e.get("ID") and not e.tag.endswith("Ref") and local(e.tag) != "ObjectiveSettings"]
    if len(ids) != len(set(ids)):
        sys.exit(f"{plate_path}: duplicate IDs in METADATA.ome.xml")
    check_order(plate_path, xml_root)
    instruments = {i.get("ID") for i in xml_root.findall("ome:Instrument", NS)}
    objective_ids = set()
    for ins in xml_root.findall("ome:Instrument", NS):
        check_order(f"{plate_path} {ins.get('ID')}", ins)
        for o in ins.findall("ome:Objective", NS):
            objective_ids.add(o.get("ID"))
            if o.get("Immersion") is not None and o.get("Immersion") not in IMMERSION:
                sys.exit(f"{plate_path}: Objective Immersion {o.get('Immersion')} is not one of OME's")
            for k in ("LensNA", "NominalMagnification"):
                if o.get(k) is not None and not float(o.get(k)) > 0:
                    sys.exit(f"{plate_path}: Objective {k} {o.get(k)}")
    for image in xml_root.findall("ome:Image", NS):
        where = f"{plate_path} {image.get('ID')}"
        check_order(where, image)
        px = image.find("ome:Pixels", NS)
        check_order(where, px)
        ref = image.find("ome:InstrumentRef", NS)
        if ref is not None and ref.get("ID") not in instruments:
            sys.exit(f"{where}: InstrumentRef {ref.get('ID')} names no Instrument")
        settings = image.find("ome:ObjectiveSettings", NS)
        if settings is not None and settings.get("ID") not in objective_ids:
            sys.exit(f"{where}: ObjectiveSettings {settings.get('ID')} names no Objective")
        sizes = {k: int(px.get("Size" + k)) for k in "ZTC"}
        for p in px.findall("ome:Plane", NS):
            for k in "ZTC":
                if not 0 <= int(p.get("The" + k)) < sizes[k]:
                    sys.exit(f"{where}: Plane The{k} {p.get('The' + k)} outside Size{k} {sizes[k]}")
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
    images_by_well = {}
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
            images_by_well[(row, col, int(field))] = image
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
    if vendor:
        check_vendor(plate_path, xml_root, images_by_well, *vendor)
    print(f"{plate_path}: METADATA.ome.xml: {len(xwells)} wells, {len(order)} images, {positioned} positions "
          f"and {dated} acquisition dates agree")


if __name__ == "__main__":
    main()
