"""Writes the folders of the pixel-inventory test (tests/integration/pixel_inventory.sh) with
tifffile and Pillow, not with imextract:

  rgb8/     X_A01_s1.tif RGB 8-bit chunky, X_A01_s2.tif RGB 8-bit planar, X_A01_s3.png RGB PNG
  rgb16/    X_A01_s1.tif RGB 16-bit chunky, X_A01_s2.tif planar, X_A01_s3.tif RGB 16-bit with an
            ImageJ description (what Fiji's Bio-Formats exporter writes for a 16-bit RGB image)
  partial/  X_A01_s1.tif 5 pages whose ImageJ description says 2 (the layout uses pages 0-1),
            X_A01_s2.tif 2 pages, complete
  mx/       MetaXpress database layout: DATE/ID/ZStep_1..2 for wave 1 (DAPI) and, beside them, a
            maximum projection of wave 1 and one of wave 2 (GFP), which exists only as a projection

usage: make_inventory_fixtures.py DIR
"""
import os
import sys

import numpy as np
import tifffile
from PIL import Image

rng = np.random.default_rng(15)
H, W = 64, 80


def rgb(dtype):
    top = 255 if dtype == np.uint8 else 65535
    return rng.integers(0, top, size=(H, W, 3), dtype=dtype)


def metamorph(illum, z, method=None):
    props = [("spatial-calibration-x", "float", "0.5"), ("spatial-calibration-y", "float", "0.5"),
             ("spatial-calibration-units", "string", "um"), ("z-position", "float", str(z)),
             ("_IllumSetting_", "string", illum)]
    text = "<MetaData>\n<PlaneInfo>\n"
    text += "".join(f'<prop id="{i}" type="{t}" value="{v}"/>\n' for i, t, v in props)
    if method:
        text += f'<custom-prop id="Z Projection Method" type="string" value="{method}"/>\n'
    return text + "</PlaneInfo>\n</MetaData>"


def main(root):
    d = os.path.join(root, "rgb8")
    os.makedirs(d)
    tifffile.imwrite(os.path.join(d, "X_A01_s1.tif"), rgb(np.uint8), photometric="rgb", metadata=None)
    tifffile.imwrite(os.path.join(d, "X_A01_s2.tif"), rgb(np.uint8).transpose(2, 0, 1), photometric="rgb",
                     planarconfig="separate", metadata=None)
    Image.fromarray(rgb(np.uint8), "RGB").save(os.path.join(d, "X_A01_s3.png"))

    d = os.path.join(root, "rgb16")
    os.makedirs(d)
    tifffile.imwrite(os.path.join(d, "X_A01_s1.tif"), rgb(np.uint16), photometric="rgb", metadata=None)
    tifffile.imwrite(os.path.join(d, "X_A01_s2.tif"), rgb(np.uint16).transpose(2, 0, 1), photometric="rgb",
                     planarconfig="separate", metadata=None)
    tifffile.imwrite(os.path.join(d, "X_A01_s3.tif"), rgb(np.uint16), photometric="rgb", metadata=None,
                     description="ImageJ=1.54f\nimages=1\nunit=micron\n")

    d = os.path.join(root, "partial")
    os.makedirs(d)
    stack = rng.integers(0, 65535, size=(5, H, W), dtype=np.uint16)
    with tifffile.TiffWriter(os.path.join(d, "X_A01_s1.tif")) as w:
        for k in range(5):
            w.write(stack[k], metadata=None, description="ImageJ=1.54f\nimages=2\nslices=2\n" if k == 0 else None)
    tifffile.imwrite(os.path.join(d, "X_A01_s2.tif"), stack[:2], metadata=None)

    plate = os.path.join(root, "mx", "2024-05-06", "1234")
    guid = "0A1B2C3D-1111-2222-3333-4444555566{:02d}"
    n = 0
    for site in (1, 2):
        for z in (1, 2):
            zd = os.path.join(plate, f"ZStep_{z}")
            os.makedirs(zd, exist_ok=True)
            tifffile.imwrite(os.path.join(zd, f"Scr_B02_s{site}_w1{guid.format(n)}.tif"),
                             rng.integers(0, 65535, size=(H, W), dtype=np.uint16), description=metamorph("DAPI", z),
                             metadata=None)
            n += 1
        for wave, illum in ((1, "DAPI"), (2, "GFP")):
            tifffile.imwrite(os.path.join(plate, f"Scr_B02_s{site}_w{wave}{guid.format(n)}.tif"),
                             rng.integers(0, 65535, size=(H, W), dtype=np.uint16),
                             description=metamorph(illum, 0, "Maximum"), metadata=None)
            n += 1


main(sys.argv[1])
