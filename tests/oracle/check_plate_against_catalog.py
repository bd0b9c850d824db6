"""Independent pixel check of any extracted experiment: the catalog (plain sqlite3) says which
source plane feeds which stored plane; the pixels on both sides are read with tifffile / Pillow
and zarr-python.

usage: check_plate_against_catalog.py EXPERIMENT [--expect-planes N] [--source DIR]
(--source: read the source files from a copy, e.g. of a folder collect emptied with --delete)
"""
import json
import os
import sqlite3
import sys

import numpy as np

from oracle_common import fail, open_plate, read_source


def row_name(r):
    return (chr(ord("A") + r // 26 - 1) if r >= 26 else "") + chr(ord("A") + r % 26)


def main():
    exp = sys.argv[1]
    db = sqlite3.connect(f"file:{os.path.join(exp, 'catalog.sqlite')}?mode=ro", uri=True)
    meta = dict(db.execute("SELECT key, value FROM meta"))
    source, store = meta["source"], meta["store"]
    if "--source" in sys.argv:
        source = sys.argv[sys.argv.index("--source") + 1]
    rows = db.execute(
        "SELECT p.store_path, w.row, w.col, s.idx, o.channel, o.tpoint, o.zplane, f.path, pl.page, pl.sample "
        "FROM outputs o JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
        "JOIN plates p ON w.plate_id = p.id JOIN planes pl ON pl.output_id = o.id JOIN files f ON pl.file_id = f.id "
        "ORDER BY o.id").fetchall()
    names = dict(db.execute("SELECT idx, name FROM channels"))
    groups = {}
    for sp, r, c, site, ch, t, z, f, page, sample in rows:
        groups.setdefault((sp, r, c, site, ch, t, z), []).append((f, page, sample))
    plates, images = {}, {}
    for key, inputs in groups.items():
        sp, r, c, site, ch, t, z = key
        if sp not in plates:
            plates[sp] = open_plate(os.path.join(store, sp))
        path = f"{row_name(r)}/{c + 1:02d}/{site}"
        if (sp, path) not in images:
            image = plates[sp][path]
            # The channel axis holds the plate's own channels, named in omero (a plate may hold a subset).
            images[sp, path] = (image["0"], [x["label"] for x in image.attrs["omero"]["channels"]])
        arr, labels = images[sp, path]
        if names[ch] not in labels:
            fail(f"{sp} {row_name(r)}{c + 1:02d} site {site}: channel {names[ch]} is not among the image's {labels}")
        if arr.shape[1] != len(labels):
            fail(f"{sp}: channel axis of {arr.shape[1]} but {len(labels)} omero channels")
        expected = None
        for f, page, sample in inputs:
            px = read_source(os.path.join(source, f), page, sample)
            expected = px if expected is None else np.maximum(expected, px)
        got = arr[t, labels.index(names[ch]), z]
        if got.dtype != expected.dtype or not np.array_equal(got, expected):
            fail(f"{sp} {row_name(r)}{c + 1:02d} site {site} c{ch} t{t} z{z}: stored plane differs from {inputs}")
    if "--expect-planes" in sys.argv:
        want = int(sys.argv[sys.argv.index("--expect-planes") + 1])
        if len(groups) != want:
            fail(f"{len(groups)} stored planes, expected {want}")
    print(f"oracle: {len(groups)} stored planes pixel-exact against {len(rows)} source planes")


main()
