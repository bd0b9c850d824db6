"""The Python route doing the same work as imextract's default workflow (create + init + submit):
tifffile reads each TIFF; numpy builds the same pyramid (2x2 mean rounded half up, halving until
both sides are <= 256); zarr-python writes every level with blosc-lz4 + shuffle, one chunk per plane
and level; then every level-0 chunk is read back and compared with a checksum of the source
pixels taken when it was read. Two (WORKERS) processes, one blosc thread each.

usage: python_same_work.py SOURCE_DIR OUT_DIR WORKERS
Prints: planes, seconds, MB of source pixels, bytes written.
"""
import glob
import hashlib
import multiprocessing as mp
import os
import sys
import time

import numcodecs
import numpy as np
import tifffile
import zarr


def compressor():
    return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


def levels_of(shape):
    h, w = shape
    n = 1
    while max(h, w) > 256:
        h, w = (h + 1) // 2, (w + 1) // 2
        n += 1
    return n


def downsample(a):
    """2x2 mean rounded half up; odd edges average the pixels they have (as imextract does)."""
    h, w = a.shape
    p = np.pad(a.astype(np.uint32), ((0, h % 2), (0, w % 2)), mode="edge")
    s = p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2]
    return ((s + 2) // 4).astype(a.dtype)


def open_level(out, level):
    return zarr.open(zarr.storage.DirectoryStore(os.path.join(out, str(level)), dimension_separator="/"), mode="r+")


def extract(args):
    out, i, path, nlevels = args
    px = tifffile.imread(path)
    digest = hashlib.blake2b(px.tobytes(), digest_size=8).hexdigest()
    a = px
    for level in range(nlevels):
        open_level(out, level)[i] = a
        if level + 1 < nlevels:
            a = downsample(a)
    return px.nbytes, digest


def verify(args):
    out, i, digest = args
    got = open_level(out, 0)[i]
    return hashlib.blake2b(got.tobytes(), digest_size=8).hexdigest() == digest


def main():
    src, out, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    numcodecs.blosc.use_threads = False
    t0 = time.perf_counter()
    files = sorted(glob.glob(os.path.join(src, "*.tif")))
    first = tifffile.imread(files[0])
    nlevels = levels_of(first.shape)
    shape = first.shape
    for level in range(nlevels):
        zarr.create(shape=(len(files),) + shape, chunks=(1,) + shape, dtype=first.dtype, compressor=compressor(),
                    store=zarr.storage.DirectoryStore(os.path.join(out, str(level)), dimension_separator="/"),
                    overwrite=True)
        shape = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    with mp.Pool(workers) as pool:
        done = pool.map(extract, [(out, i, f, nlevels) for i, f in enumerate(files)], chunksize=4)
        ok = pool.map(verify, [(out, i, d) for i, (_, d) in enumerate(done)], chunksize=4)
    dt = time.perf_counter() - t0
    if not all(ok):
        sys.exit(f"{ok.count(False)} planes did not verify")
    written = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(out) for f in fs)
    print(f"{len(files)} {dt:.3f} {sum(n for n, _ in done) / 1e6:.1f} {written}")


main()
