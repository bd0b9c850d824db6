"""Independent check that an experiment's catalog accounts for every pixel of every image file in
a folder: what each file holds is read with tifffile / Pillow / the oracle CZI, ND2 and LIF readers,
the catalog with plain sqlite3, never with imextract's code.

usage: check_coverage.py EXPERIMENT FOLDER

Every image file below FOLDER (.tif/.tiff/.png/.czi/.nd2/.lif, hidden folders skipped) must be
  * a source file of the catalog whose planes cover all it holds: every page x sample of a TIFF
    (planes stored after a single IFD, as MetaMorph STK and big ImageJ files do, counted from
    tifffile's series), every channel of a PNG, as many stored planes as the oracle reader finds
    in a CZI (scene, t, c, z, sample), ND2 or LIF (site, channel, t, z) file; or
  * named by a catalog warning that says why it is not a plane (shading/dark-current images,
    files a --pattern left out, ...), or a MetaXpress thumbnail (*_thumb*) when a warning counts
    thumbnails.
Run with /usr/bin/python3.
"""
import json
import os
import sqlite3
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from oracle_common import fail  # noqa: E402

IMAGE_EXTS = (".tif", ".tiff", ".png", ".czi", ".nd2", ".lif")


def image_files(folder):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTS):
                yield os.path.realpath(os.path.join(dirpath, f))


def tiff_needs(path):
    """{(page, sample)} a TIFF holds."""
    import tifffile
    with tifffile.TiffFile(path) as tf:
        pages = len(tf.pages)
        spp = tf.pages[0].samplesperpixel
        h, w = tf.pages[0].shape[:2] if spp == 1 or tf.pages[0].planarconfig == 1 else tf.pages[0].shape[1:3]
        planes = pages
        if tf.is_stk or tf.is_imagej:
            size = 1
            for n in tf.series[0].shape:
                size *= n
            planes = max(pages, size // (h * w * spp))
        needs = set()
        for p in range(planes):
            page_spp = tf.pages[p].samplesperpixel if p < pages else spp
            needs.update((p, s) for s in range(page_spp))
        return needs


def png_needs(path):
    from PIL import Image
    with Image.open(path) as im:
        return {(0, s) for s in range(len(im.getbands()))}


def lif_sizes(path):
    """Plane sizes of the LIF images with pixel data (the oracle reader reads one size at a time)."""
    buf = open(path, "rb").read()
    (nchars,) = struct.unpack_from("<I", buf, 9)
    root = ET.fromstring(buf[13: 13 + 2 * nchars].decode("utf-16-le"))
    sizes = []
    for el in root.iter("Element"):
        desc, mem = el.find("Data/Image/ImageDescription"), el.find("Memory")
        if desc is None or mem is None or int(mem.get("Size", "0")) == 0:
            continue
        dims = {int(d.get("DimID")): d for d in desc.find("Dimensions")}
        size = (int(dims[1].get("NumberOfElements")), int(dims[2 if 2 in dims else 3].get("NumberOfElements")))
        if size not in sizes:
            sizes.append(size)
    return sizes


def container_planes(path):
    """Planes x samples a container holds, counted by the oracle readers."""
    low = path.lower()
    if low.endswith(".czi"):
        out = subprocess.run([sys.executable, os.path.join(HERE, "czi_oracle.py"), "stats", path],
                             check=True, capture_output=True, text=True).stdout
        return sum(1 for line in out.splitlines() if line.startswith("S"))
    import nd2_lif_oracle
    if low.endswith(".nd2"):
        return len(nd2_lif_oracle.read_any(path)["planes"])
    return sum(len(nd2_lif_oracle.lif_read(path, size)["planes"]) for size in lif_sizes(path))


def main():
    exp, folder = sys.argv[1], os.path.realpath(sys.argv[2])
    db = sqlite3.connect(f"file:{os.path.join(exp, 'catalog.sqlite')}?mode=ro", uri=True)
    meta = dict(db.execute("SELECT key, value FROM meta"))
    source = os.path.realpath(meta["source"])
    warnings = [w for (w,) in db.execute("SELECT text FROM warnings")]
    used = {}  # absolute path -> {(page, sample)}
    outputs = {}  # absolute path -> stored planes it feeds
    for path, page, sample, output in db.execute(
            "SELECT f.path, p.page, p.sample, p.output_id FROM planes p JOIN files f ON p.file_id = f.id"):
        full = os.path.realpath(os.path.join(source, path))
        used.setdefault(full, set()).add((page, sample))
        outputs.setdefault(full, set()).add(output)
    checked = explained = 0
    for f in image_files(folder):
        rel = os.path.relpath(f, folder)
        name = os.path.basename(f)
        if f not in used:
            named = any(name in w or rel in w for w in warnings)
            thumb = "_thumb" in name and any("thumbnail" in w for w in warnings)
            if not (named or thumb):
                fail(f"{f}: an image file in {folder} that no plane of the catalog uses and no warning names")
            explained += 1
            continue
        low = f.lower()
        if low.endswith((".tif", ".tiff")):
            missing = tiff_needs(f) - used[f]
            if missing:
                fail(f"{f}: {len(missing)} page/sample(s) in no plane, e.g. {sorted(missing)[:5]}")
        elif low.endswith(".png"):
            missing = png_needs(f) - used[f]
            if missing:
                fail(f"{f}: sample(s) {sorted(s for _, s in missing)} in no plane")
        else:
            want = container_planes(f)
            if len(outputs[f]) != want:
                fail(f"{f}: the oracle reader finds {want} planes, the catalog stores {len(outputs[f])}")
        checked += 1
    print(json.dumps({"folder": folder, "covered": checked, "explained": explained}))


main()
