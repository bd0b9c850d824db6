"""Shared helpers of the independent oracles: they read sources with tifffile / Pillow and our
plates with zarr-python, never with imextract's own code. Run with /usr/bin/python3."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np


def fail(msg):
    print("ORACLE FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def read_source(path, page=0, sample=0):
    """One plane of a source image, decoded by tifffile (TIFF) or Pillow (PNG)."""
    low = path.lower()
    if low.endswith(".png"):
        from PIL import Image
        with open(path, "rb") as f:
            bit_depth = f.read(25)[24]  # IHDR bit depth
        with Image.open(path) as im:
            arr = np.array(im)
        # Pillow widens 16-bit gray to int32 ("I"); the PNG itself holds uint16.
        if bit_depth == 16 and arr.dtype != np.uint16:
            if arr.min() < 0 or arr.max() > 65535:
                fail(f"{path}: Pillow returned values outside 16 bits")
            arr = arr.astype(np.uint16)
        if arr.ndim == 3:
            arr = arr[..., sample]
        return arr
    import tifffile
    try:
        with tifffile.TiffFile(path) as tf:
            if page >= len(tf.pages) and (tf.is_stk or tf.is_imagej):
                # Planes stored after the only IFD (MetaMorph STK, ImageJ > 4 GB): tifffile's
                # series knows them.
                series = tf.series[0]
                arr = series.asarray().reshape(-1, *series.shape[-2:])[page]
            else:
                arr = tf.pages[page].asarray()
    except Exception:
        # tifffile may lack a codec (LZW without imagecodecs): let libtiff's tiffcp unpack it.
        if not shutil.which("tiffcp"):
            raise
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "plain.tif")
            subprocess.run(["tiffcp", "-c", "none", path, out], check=True)
            with tifffile.TiffFile(out) as tf:
                arr = tf.pages[page].asarray()
    if arr.ndim == 3:
        # contiguous RGB (y, x, s) or planar-separate (s, y, x)
        arr = arr[..., sample] if arr.shape[-1] <= 4 else arr[sample]
    return arr


def open_plate(path):
    import zarr
    store = zarr.storage.DirectoryStore(path, dimension_separator="/")
    return zarr.open_group(store, mode="r")
