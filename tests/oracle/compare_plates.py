"""Two OME-Zarr plates (NGFF 0.4, Zarr v2) hold the same arrays, pixel for pixel, and the same
attributes, read with zarr-python: the plate `convert` wrote against the one of the three-step
workflow. Usage: compare_plates.py PLATE_A PLATE_B"""
import os
import sys

import numpy
import zarr


def tree(path):
    group = zarr.open_group(path, mode="r")
    nodes = {"": group}
    group.visititems(lambda name, node: nodes.__setitem__(name, node))
    return nodes


def main(a_path, b_path):
    a, b = tree(a_path), tree(b_path)
    if sorted(a) != sorted(b):
        sys.exit(f"the plates differ in their nodes: {sorted(set(a) ^ set(b))[:10]}")
    arrays = 0
    for name, node in a.items():
        other = b[name]
        if dict(node.attrs) != dict(other.attrs):
            sys.exit(f"{name or '/'}: attributes differ:\n{dict(node.attrs)}\n{dict(other.attrs)}")
        if isinstance(node, zarr.Array):
            if node.shape != other.shape or node.dtype != other.dtype or node.chunks != other.chunks:
                sys.exit(f"{name}: shape/dtype/chunks differ")
            if not numpy.array_equal(node[...], other[...]):
                sys.exit(f"{name}: pixels differ")
            arrays += 1
    if arrays == 0:
        sys.exit("no arrays in the plates")
    # Files beside the arrays that Zarr does not read (channel statistics, OME-XML) too.
    for extra in ("imextract_channel_stats.json", "OME/METADATA.ome.xml"):
        with open(os.path.join(a_path, extra), "rb") as fa, open(os.path.join(b_path, extra), "rb") as fb:
            if fa.read() != fb.read():
                sys.exit(f"{extra} differs")
    print(f"same plate: {len(a)} nodes, {arrays} arrays")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
