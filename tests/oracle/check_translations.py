#!/usr/bin/python3
"""Field images carry the stage positions the catalog recorded as NGFF translations, and nothing
else: each image's multiscales read from its .zattrs (zarr-python) or zarr.json (plain JSON: NGFF
0.5), the catalog's sites with sqlite3.

usage: check_translations.py EXPERIMENT PLATE.zarr (--positioned | --none)

--positioned: every field has a stage position in the catalog, its image a translation of
  [0, 0, 0, y, x] micrometres at level 0 (a level's first pixel centre (2^k - 1)/2 level-0 pixels
  further), and the fields of at least one well differ in position.
--none: the catalog has no position and no image has a translation."""
import json
import os
import sqlite3
import sys

import zarr


def attrs_of(path):
    if os.path.exists(f"{path}/zarr.json"):
        with open(f"{path}/zarr.json") as f:
            return json.load(f)["attributes"]["ome"]
    return zarr.open(path, mode="r").attrs.asdict()


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("--positioned", "--none"):
        sys.exit(__doc__)
    experiment, plate_path, mode = sys.argv[1:]
    db = sqlite3.connect(f"{experiment}/catalog.sqlite")
    name = attrs_of(plate_path)["plate"]["name"]
    rows = db.execute(
        "SELECT w.row, w.col, s.idx, s.stage_x, s.stage_y FROM sites s JOIN wells w ON s.well_id = w.id "
        "JOIN plates p ON w.plate_id = p.id WHERE p.name = ?", (name,)).fetchall()
    if not rows:
        sys.exit(f"{plate_path}: the catalog has no site of plate {name!r}")
    by_well = {}
    for row, col, site, x, y in rows:
        where = f"{plate_path} {chr(ord('A') + row)}{col + 1:02d} field {site}"
        ms = attrs_of(f"{plate_path}/{chr(ord('A') + row)}/{col + 1:02d}/{site}")["multiscales"][0]
        translations = [[t for t in d["coordinateTransformations"] if t["type"] == "translation"]
                        for d in ms["datasets"]]
        if mode == "--none":
            if x is not None or y is not None:
                sys.exit(f"{where}: the catalog has a stage position ({x}, {y}) but --none was expected")
            if any(translations):
                sys.exit(f"{where}: a translation without a stage position: {translations}")
            continue
        if x is None or y is None:
            sys.exit(f"{where}: no stage position in the catalog")
        for level, (dataset, found) in enumerate(zip(ms["datasets"], translations)):
            scale = next(t["scale"] for t in dataset["coordinateTransformations"] if t["type"] == "scale")
            kinds = [t["type"] for t in dataset["coordinateTransformations"]]
            if kinds != ["scale", "translation"]:
                sys.exit(f"{where} level {level}: transformations {kinds}, expected scale then translation")
            half = (2 ** level - 1) / 2
            px_y, px_x = scale[3] / 2 ** level, scale[4] / 2 ** level
            want = [0, 0, 0, y + half * px_y, x + half * px_x]
            got = found[0]["translation"]
            if any(abs(a - b) > 1e-6 for a, b in zip(got, want)) or len(got) != 5:
                sys.exit(f"{where} level {level}: translation {got}, the stage position gives {want}")
        by_well.setdefault((row, col), set()).add((x, y))
    if mode == "--positioned" and not any(len(p) > 1 for p in by_well.values()):
        sys.exit(f"{plate_path}: no well has fields at different stage positions")
    print(f"{plate_path}: {len(rows)} field images, translations {'match the stage positions' if mode == '--positioned' else 'absent as the catalog has none'}")


if __name__ == "__main__":
    main()
