#!/usr/bin/env bash
# Pyramids, contrast windows and the plate overview on a 0.4 plate, checked with zarr-python,
# numpy and Pillow: every level is the 2x2 mean of the one above, windows are the plate-wide
# 0.1/99.9 percentiles, `get --level` returns the stored level, verify catches a corrupt level, and
# the overview shows every well, marks a well with a missing plane, and reads a small fraction of
# the plate.
source "$(dirname "$0")/lib/common.bash"
need_oracle
expect_exit 0 "$IMX" demo "$WORK/src" --no-run --channels 3 --zplanes 4 --tpoints 2 --width 300 --height 260
EXP="$WORK/exp"
expect_exit 0 "$IMX" "$EXP" create --source "$WORK/src/microscope"
expect_exit 0 "$IMX" "$EXP" init
expect_exit 0 "$IMX" "$EXP" submit
PLATE="$EXP/DemoPlate.zarr"
# 300 px -> 150: two levels by default (halve until the larger side is <= 256).
expect_exit 0 $PY "$ORACLE/check_pyramid.py" "$PLATE" 2
expect_output "pyramid OK: 12 images x 2 levels"

# get --level 1 is the stored level-1 plane.
expect_exit 0 "$IMX" "$EXP" get --well C03 --site 1 --channel 2 --tpoint 1 --zplane 3 --level 1 -o "$WORK/l1.tif"
expect_exit 0 $PY -c "
import sys, numpy as np, tifffile, zarr
a = tifffile.imread(sys.argv[1]); b = zarr.open(sys.argv[2])[1, 2, 3]
assert a.shape == (130, 150) and np.array_equal(a, b), (a.shape, b.shape)
" "$WORK/l1.tif" "$PLATE/C/03/1/1"
expect_exit 2 "$IMX" "$EXP" get --well C03 --channel 0 --level 2 -o "$WORK/l2.tif"
expect_output "resolution level 2 does not exist"

# Overview: every well drawn; image size as reported; wells with data are not dark; reading it
# costs a small fraction of the stored plate.
expect_exit 0 "$IMX" "$EXP" overview -o "$WORK/plate.png"
expect_output "6 well\(s\) drawn, 0 with missing"
read_mb=$(grep -oE 'read [0-9.]+ MB' "$WORK/last.out" | grep -oE '[0-9.]+')
expect_exit 0 $PY - "$WORK/plate.png" "$PLATE" "$read_mb" <<'PYEOF'
import os, sys
import numpy as np
from PIL import Image
img = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(int)
assert img.shape[0] > 100 and img.shape[1] > 100, img.shape
# The plate is 8x12 and wells B02..C04 hold data: coloured pixels (channel colours; labels and
# empty wells are grey) fill that block of the picture and appear nowhere right of column 5.
h, w, _ = img.shape
coloured = (img.max(axis=2) - img.min(axis=2)) > 20
block = coloured[int(h * 0.15):int(h * 0.36), int(w * 0.10):int(w * 0.32)].mean()
right = coloured[:, int(w * 0.45):].mean()
assert block > 0.3 and right == 0, (block, right)
total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sys.argv[2]) for f in fs)
read = float(sys.argv[3]) * 1e6
assert 0 < read < 0.1 * total, (read, total)
print(f"overview OK: {img.shape[1]}x{img.shape[0]}, read {read/total:.1%} of the plate's bytes")
PYEOF
# --wells crops to a rectangle of wells: B02:C04 is the whole picture; the legend below the wells
# shows each channel's name in its omero colour. A rectangle without data, or off the plate, is refused.
expect_exit 0 "$IMX" "$EXP" overview -o "$WORK/crop.png" --wells B02:C04
expect_output "6 well\(s\) drawn"
expect_exit 0 $PY - "$WORK/crop.png" "$WORK/plate.png" "$PLATE/B/02/0/.zattrs" <<'PYEOF'
import json, sys
import numpy as np
from PIL import Image
crop = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(int)
full = np.asarray(Image.open(sys.argv[2]).convert("RGB")).astype(int)
assert crop.shape[1] < full.shape[1] / 2, (crop.shape, full.shape)
# The six wells with data fill the crop: a far larger share of it is coloured than of the plate.
coloured = lambda img: ((img.max(axis=2) - img.min(axis=2)) > 20).mean()
assert coloured(crop) > 3 * coloured(full), (coloured(crop), coloured(full))
legend = crop[-int(crop.shape[0] * 0.12):].reshape(-1, 3)
for c in json.load(open(sys.argv[3]))["omero"]["channels"]:
    rgb = [int(c["color"][i:i + 2], 16) for i in (0, 2, 4)]
    assert (legend == rgb).all(axis=1).any(), f"legend lacks {c['label']} in #{c['color']}"
print(f"crop OK: {crop.shape[1]}x{crop.shape[0]} of {full.shape[1]}x{full.shape[0]}")
PYEOF
expect_exit 2 "$IMX" "$EXP" overview -o "$WORK/none.png" --wells E08:F09
expect_output "no well of plate .* holds images there"
expect_exit 2 "$IMX" "$EXP" overview -o "$WORK/off.png" --wells B02:J13
expect_output "the plate has 8 rows and 12 columns"
# status --overview writes it too.
expect_exit 0 "$IMX" "$EXP" status --overview "$WORK/status.png"
[ -s "$WORK/status.png" ] || fail "status --overview wrote nothing"

# A lost low-resolution chunk: the overview marks the well (red) and exits 5; verify names the level.
LOW="$PLATE/B/02/0/1/0/0/2/0/0"
[ -f "$LOW" ] || fail "no chunk at $LOW"
mv "$LOW" "$WORK/low.bak"
expect_exit 5 "$IMX" "$EXP" overview -o "$WORK/broken.png" --zplane 2
expect_output "5 well\(s\) drawn, 1 with missing"
expect_exit 0 $PY -c "
import sys, numpy as np
from PIL import Image
img = np.asarray(Image.open(sys.argv[1]).convert('RGB')).astype(int)
red = (img[..., 0] == 255) & (img[..., 1] == 60)
assert red.sum() > 20, red.sum()
" "$WORK/broken.png"
expect_exit 5 "$IMX" "$EXP" verify
expect_output "chunk is missing"
mv "$WORK/low.bak" "$LOW"
# A level-1 chunk whose pixels are not the mean of level 0 (valid chunk, wrong content).
$PY -c "
import sys, zarr
a = zarr.open(sys.argv[1], mode='r+'); p = a[0, 0, 2]; p[5, 5] ^= 1; a[0, 0, 2] = p
" "$PLATE/B/02/0/1"
expect_exit 5 "$IMX" "$EXP" verify
expect_output "stored pixels of resolution level 1 do not match the checksum recorded when extracting"
# Planes stored by an older imextract carry no level checksums: their levels are checked by
# computing the pyramid again, which finds the same damage.
expect_exit 0 $PY -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); n = db.execute('UPDATE outputs SET level_checksums = NULL').rowcount
assert n > 0, n; db.commit()
" "$EXP/catalog.sqlite"
expect_exit 5 "$IMX" "$EXP" verify
expect_output "resolution level 1 is not the 2x2 mean of level 0"
echo "PASS ngff_pyramid_overview"
