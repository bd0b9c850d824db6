"""The route a Python user takes instead of imextract: tifffile reads each TIFF, zarr-python with
numcodecs writes an OME-Zarr-like array with one chunk per plane, two worker processes.

usage: python_route.py SOURCE_DIR OUT.zarr CODEC WORKERS
CODEC: blosc-lz4 | blosc-zstd | zstd | none (same parameters as imextract's defaults)
Prints: planes, seconds, MB of source pixels.
"""
import glob
import multiprocessing as mp
import os
import sys
import time

import numcodecs
import tifffile
import zarr


def compressor(name):
    if name == "blosc-lz4":
        return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    if name == "blosc-zstd":
        return numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)
    if name == "zstd":
        return numcodecs.Zstd(level=3)
    return None


def work(args):
    out, i, path = args
    arr = zarr.open(zarr.storage.DirectoryStore(out, dimension_separator="/"), mode="r+")
    px = tifffile.imread(path)
    arr[i] = px
    return px.nbytes


def main():
    src, out, codec, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    numcodecs.blosc.use_threads = False  # one thread per worker process, like imextract's workers
    files = sorted(glob.glob(os.path.join(src, "*.tif")))
    first = tifffile.imread(files[0])
    store = zarr.storage.DirectoryStore(out, dimension_separator="/")
    zarr.create(shape=(len(files),) + first.shape, chunks=(1,) + first.shape, dtype=first.dtype,
                compressor=compressor(codec), store=store, overwrite=True)
    t0 = time.perf_counter()
    with mp.Pool(workers) as pool:
        total = sum(pool.map(work, [(out, i, f) for i, f in enumerate(files)], chunksize=4))
    dt = time.perf_counter() - t0
    print(f"{len(files)} {dt:.3f} {total / 1e6:.1f}")


main()
