#!/usr/bin/python3
"""Validates every node of OME-NGFF HCS plates against the official JSON schemas, normal and
strict (Debian python3-jsonschema; schemas from ../shared/ngff-schemas, see its README).

usage: check_ngff_schemas.py SCHEMA_DIR PLATE.zarr [PLATE.zarr ...]

The plate group is checked against plate + strict_plate (and bf2raw, its OME group against ome,
when it declares the bioformats2raw layout), each well against well + strict_well,
each field image against image + strict_image, for the version the plate declares (0.4: the
.zattrs object; 0.5: the attributes of zarr.json). Exit 1 naming the node and the violation."""
import json
import os
import sys

import jsonschema


def load_schemas(schema_dir, version):
    store = {}
    folder = os.path.join(schema_dir, version)
    for name in os.listdir(folder):
        if name.endswith(".schema"):
            with open(os.path.join(folder, name)) as f:
                schema = json.load(f)
            store[schema["$id"]] = schema
    return store


def attributes(node):
    """The NGFF attributes of a group folder and its version, or (None, None) if it is no group."""
    v2 = os.path.join(node, ".zattrs")
    v3 = os.path.join(node, "zarr.json")
    if os.path.exists(v3):
        with open(v3) as f:
            doc = json.load(f)
        if doc.get("node_type") != "group":
            return None, None
        return doc.get("attributes", {}), "0.5"
    if os.path.exists(v2):
        with open(v2) as f:
            return json.load(f), "0.4"
    return None, None


def validate(store, version, kind, attrs, where, strict=True):
    for name in (kind, "strict_" + kind) if strict else (kind,):
        # By file name: the 0.4 bf2raw and ome schemas carry ".../latest/..." ids.
        schema = next(s for i, s in store.items() if i.endswith(f"/{name}.schema"))
        resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
        validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
        errors = sorted(validator.iter_errors(attrs), key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            path = "/".join(str(p) for p in e.absolute_path)
            sys.exit(f"{where}: fails {version}/{name}.schema at '{path}': {e.message}")


def check_plate(schema_dir, plate_dir, stores):
    attrs, version = attributes(plate_dir)
    if attrs is None:
        sys.exit(f"{plate_dir}: no Zarr group here")
    if version not in stores:
        stores[version] = load_schemas(schema_dir, version)
    store = stores[version]
    ngff = attrs["ome"] if version == "0.5" else attrs
    validate(store, version, "plate", attrs, plate_dir)
    # The bioformats2raw layout: the root says so, the OME group lists the images (ome.schema).
    if "bioformats2raw.layout" in ngff:
        validate(store, version, "bf2raw", attrs, plate_dir, strict=False)
        ome_dir = os.path.join(plate_dir, "OME")
        ome_attrs, v = attributes(ome_dir)
        if ome_attrs is None or v != version:
            sys.exit(f"{ome_dir}: the plate declares bioformats2raw.layout but has no OME group")
        validate(store, version, "ome", ome_attrs, ome_dir, strict=False)
        if not os.path.exists(os.path.join(ome_dir, "METADATA.ome.xml")):
            sys.exit(f"{ome_dir}: no METADATA.ome.xml")
    nodes = {"plate": 1, "well": 0, "image": 0}
    for well in ngff["plate"]["wells"]:
        well_dir = os.path.join(plate_dir, well["path"])
        well_attrs, v = attributes(well_dir)
        if well_attrs is None or v != version:
            sys.exit(f"{well_dir}: the plate lists this well but it is no NGFF {version} group")
        validate(store, version, "well", well_attrs, well_dir)
        nodes["well"] += 1
        images = (well_attrs["ome"] if version == "0.5" else well_attrs)["well"]["images"]
        for image in images:
            image_dir = os.path.join(well_dir, image["path"])
            image_attrs, v = attributes(image_dir)
            if image_attrs is None or v != version:
                sys.exit(f"{image_dir}: the well lists this image but it is no NGFF {version} group")
            validate(store, version, "image", image_attrs, image_dir)
            nodes["image"] += 1
    if nodes["image"] == 0:
        sys.exit(f"{plate_dir}: no field image to check")
    return version, nodes


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    stores = {}
    for plate in sys.argv[2:]:
        version, nodes = check_plate(sys.argv[1], plate.rstrip("/"), stores)
        print(f"{plate}: NGFF {version}: 1 plate, {nodes['well']} wells, {nodes['image']} images pass normal and strict schemas")


if __name__ == "__main__":
    main()
