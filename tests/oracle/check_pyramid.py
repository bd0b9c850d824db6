"""Independent check of an imextract NGFF 0.4 plate's pyramids and contrast windows, read with
zarr-python (Debian python3-zarr) and numpy: every level must be the 2x2 mean (rounded half up) of
the level above, and every channel's omero window must match the 0.1/99.9 percentiles that numpy
computes over the full-resolution pixels of the whole plate.

usage: check_pyramid.py PLATE.zarr EXPECTED_LEVELS"""
import sys

import numpy as np
import zarr


def halve_mean(a):
    h, w = a.shape
    oh, ow = (h + 1) // 2, (w + 1) // 2
    p = np.zeros((oh * 2, ow * 2), dtype=np.int64)
    n = np.zeros((oh * 2, ow * 2), dtype=np.int64)
    p[:h, :w] = a
    n[:h, :w] = 1
    s = p.reshape(oh, 2, ow, 2).sum(axis=(1, 3))
    c = n.reshape(oh, 2, ow, 2).sum(axis=(1, 3))
    return (s + c // 2) // c


def main():
    plate_path, expected_levels = sys.argv[1], int(sys.argv[2])
    plate = zarr.open_group(plate_path, mode="r")
    wells = plate.attrs["plate"]["wells"]
    per_channel = {}
    images = 0
    for well in wells:
        for image in plate[well["path"]].attrs["well"]["images"]:
            group = plate[well["path"]][image["path"]]
            ms = group.attrs["multiscales"][0]
            levels = [d["path"] for d in ms["datasets"]]
            assert len(levels) == expected_levels, (well, levels)
            scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
            for k in range(1, len(levels)):
                assert abs(scales[k][4] - 2 * scales[k - 1][4]) < 1e-9, scales
            full = group[levels[0]][:]
            for c in range(full.shape[1]):
                per_channel.setdefault(c, []).append(full[:, c].ravel())
            prev = full
            for k in range(1, len(levels)):
                low = group[levels[k]][:]
                assert low.shape[-2:] == ((prev.shape[-2] + 1) // 2, (prev.shape[-1] + 1) // 2), (low.shape, prev.shape)
                for idx in np.ndindex(*prev.shape[:3]):
                    want = halve_mean(prev[idx])
                    if not np.array_equal(low[idx], want):
                        sys.exit(f"{well['path']}/{image['path']} level {k} plane {idx} is not the 2x2 mean of level {k-1}")
                prev = low
            images += 1
    group = plate[wells[0]["path"]][plate[wells[0]["path"]].attrs["well"]["images"][0]["path"]]
    channels = group.attrs["omero"]["channels"]
    for c, parts in per_channel.items():
        px = np.concatenate(parts)
        lo, hi = np.percentile(px, [0.1, 99.9])
        win = channels[c]["window"]
        tol = 16 + 0.01 * (float(px.max()) - float(px.min()))
        if abs(win["start"] - lo) > tol or abs(win["end"] - hi) > tol:
            sys.exit(f"channel {c}: window {win['start']}..{win['end']} but numpy percentiles {lo:.1f}..{hi:.1f}")
    print(f"pyramid OK: {images} images x {expected_levels} levels; windows match numpy percentiles for "
          f"{len(per_channel)} channels")


if __name__ == "__main__":  # also imported for halve_mean
    main()
