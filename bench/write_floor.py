"""The write floor: writes new files of the given sizes (one size per line), WORKERS processes at
once, each file written whole with one write() as imextract writes a chunk. What storing the
output costs on this filesystem, without reading, decoding or compressing anything.

usage: write_floor.py SIZES_FILE DIR WORKERS
"""
import multiprocessing as mp
import os
import sys


def write(args):
    d, i, n = args
    with open(os.path.join(d, f"f{i}"), "wb") as f:
        f.write(bytes(n))


def main():
    sizes = [int(x) for x in open(sys.argv[1]) if x.strip()]
    d, workers = sys.argv[2], int(sys.argv[3])
    os.makedirs(d, exist_ok=True)
    with mp.Pool(workers) as pool:
        pool.map(write, [(d, i, n) for i, n in enumerate(sizes)], chunksize=1)


main()
