#!/usr/bin/env bash
# The Python module (build/python/imextract*.so) under Debian's python3, on the demo experiment:
# every plane compared with tifffile reading its source TIFF, levels and regions with zarr-python
# reading the plate, the listings with the plate's own metadata, errors with the command line's,
# and verify on a plate with a damaged chunk. Skips when the module was not built (the sanitizer
# build, or no pybind11).
source "$(dirname "$0")/lib/common.bash"
need_oracle
MODULE_DIR="$(dirname "$IMX")/python"
compgen -G "$MODULE_DIR/imextract*.so" >/dev/null || skip "no Python module in $MODULE_DIR (IMX_PYTHON off or pybind11 missing)"
export PYTHONPATH="$MODULE_DIR"
expect_exit 0 "$IMX" demo "$WORK/demo"
EXP="$WORK/demo/experiment"
PLATE=$(find "$EXP" -maxdepth 1 -name '*.zarr' | head -1)

# The issue's own command.
shape=$($PY -c "import imextract; print(imextract.Experiment('$EXP').get(well='B02', site=0, channel=0).shape)")
[ "$shape" = "(540, 640)" ] || fail "get(well='B02', site=0, channel=0).shape printed '$shape', not (540, 640)"

# The command line's messages for the same mistakes, to compare with the exceptions'.
expect_exit 2 "$IMX" "$EXP" get --well Z99 --channel 0 -o "$WORK/x.tif"
cp "$WORK/last.out" "$WORK/cli_no_well.txt"
expect_exit 2 "$IMX" "$EXP" get --well B03 --site 7 --channel 0 -o "$WORK/x.tif"
cp "$WORK/last.out" "$WORK/cli_no_site.txt"

$PY - "$EXP" "$PLATE" "$WORK/demo/microscope" "$WORK" <<'PYEOF'
import glob, os, re, sys, threading
import numpy as np, tifffile, zarr
import imextract

exp, plate_path, microscope, work = sys.argv[1:5]
e = imextract.Experiment(exp)
plate = zarr.open(plate_path, mode="r")

# Listings against the plate's own metadata.
wells = sorted(w["path"].replace("/", "") for w in plate.attrs["plate"]["wells"])
assert e.wells == wells, (e.wells, wells)
assert e.plates == [plate.attrs["plate"]["name"]], (e.plates, plate.attrs["plate"]["name"])
img = plate["B/03/0"]
assert e.channels == [c["label"] for c in img.attrs["omero"]["channels"]], e.channels
for w in wells:
    fields = plate[w[0] + "/" + w[1:]].attrs["well"]["images"]
    assert e.sites(w) == list(range(len(fields))), (w, e.sites(w))
assert e.shape == img["0"].shape, (e.shape, img["0"].shape)
assert e.dtype == img["0"].dtype == np.uint16, (e.dtype, img["0"].dtype)
assert e.levels == len(img.attrs["multiscales"][0]["datasets"]) == 3, e.levels

# Every plane against its source TIFF (CellVoyager names: well, T, F = site + 1, Z, C).
name = re.compile(r"_([A-P]\d\d)_T(\d{4})F(\d{3})L\d\dA\d\dZ(\d\d)C(\d\d)\.tif$")
compared = 0
for path in sorted(glob.glob(os.path.join(microscope, "*.tif"))):
    m = name.search(path)
    well, t, f, z, c = m.group(1), int(m.group(2)) - 1, int(m.group(3)) - 1, int(m.group(4)) - 1, int(m.group(5)) - 1
    got = e.get(well, site=f, channel=c, tpoint=t, zplane=z)
    src = tifffile.imread(path)
    assert got.dtype == src.dtype == np.uint16 and got.shape == src.shape, (path, got.dtype, got.shape)
    assert np.array_equal(got, src), f"{path}: get differs from the source TIFF"
    compared += 1
assert compared == 72, compared

# A channel by name is the channel at that index; the array owns its buffer and outlives e.
by_name = e.get("B03", site=1, channel=e.channels[1], zplane=2)
assert np.array_equal(by_name, e.get("B03", site=1, channel=1, zplane=2))
assert by_name.flags.c_contiguous and by_name.flags.writeable and by_name.base is not None

# Levels and regions against zarr-python.
for level in (1, 2):
    got = e.get("C04", site=1, channel=1, zplane=1, level=level)
    want = plate["C/04/1"][str(level)][0, 1, 1]
    assert got.shape == want.shape and np.array_equal(got, want), f"level {level} differs from zarr"
region = e.get("B02", site=0, channel=0, zplane=2, region=(100, 37, 200, 301))
assert np.array_equal(region, plate["B/02/0/0"][0, 0, 2, 100:300, 37:338]), "region differs from zarr"
region = e.get("B02", site=0, channel=0, level=1, region=(10, 20, 5, 7))
assert np.array_equal(region, plate["B/02/0/1"][0, 0, 0, 10:15, 20:27]), "level 1 region differs from zarr"

# Threads share one Experiment: get releases the GIL, and the calls take turns inside.
want = {w: plate[w[0] + "/" + w[1:] + "/0/0"][0, 0, 0] for w in wells}
errors = []
def read(w):
    for _ in range(5):
        if not np.array_equal(e.get(w, channel=0), want[w]):
            errors.append(w)
threads = [threading.Thread(target=read, args=(w,)) for w in wells]
[t.start() for t in threads]
[t.join() for t in threads]
assert not errors, f"threads read wrong planes: {errors}"

# Errors: the command line's messages, as exceptions of the module.
def raises(kind, call, expected):
    try:
        call()
    except kind as exc:
        assert re.search(expected, str(exc)), f"{kind.__name__}: '{exc}' lacks /{expected}/"
        return str(exc)
    raise AssertionError(f"no {kind.__name__} (expected /{expected}/)")
cli_no_well = open(os.path.join(work, "cli_no_well.txt")).read()
msg = raises(imextract.UsageError, lambda: e.get("Z99", channel=0), r"has no well Z99 \(its wells: B02-B04, C02-C04\)")
assert msg in cli_no_well, (msg, cli_no_well)
assert raises(ValueError, lambda: e.sites("Z99"), "has no well Z99") == msg
msg = raises(imextract.UsageError, lambda: e.get("B03", site=7, channel=0), r"site 7 does not exist in well B03 \(sites: 0-1\)")
assert msg in open(os.path.join(work, "cli_no_site.txt")).read(), msg
raises(imextract.UsageError, lambda: e.get("B03", channel="nosuch"), r"no channel named 'nosuch' \(channels: ")
raises(imextract.UsageError, lambda: e.get("B03", channel=5), r"channel 5 does not exist \(channels: 0-1\)")
raises(imextract.UsageError, lambda: e.get("B03", channel=0, zplane=3), r"zplane 3 does not exist")
raises(imextract.UsageError, lambda: e.get("B03", channel=0, level=3), r"resolution level 3 does not exist \(the plate has 3\)")
raises(imextract.UsageError, lambda: e.get("B03", channel=0, region=(500, 0, 100, 10)), r"reaches past the plane of 540 rows")
raises(imextract.UsageError, lambda: e.get("B03", channel=0, region=(-1, 0, 5, 5)), r"--region must be Y,X,H,W")
raises(imextract.UsageError, lambda: e.get("B03", channel=0, plate="nosuch"), r"no plate named 'nosuch'")
raises(imextract.UsageError, lambda: imextract.Experiment(exp, plate="nosuch"), r"no plate named 'nosuch'")
raises(imextract.UsageError, lambda: e.get("3B", channel=0), r"'3B' is not a well name")
raises(TypeError, lambda: e.get("B03", channel=1.5), r"channel must be an index \(int\) or a channel name")
raises(imextract.Error, lambda: imextract.Experiment(microscope), re.escape(microscope))

# verify: a clean plate passes.
r = e.verify()
assert r.planes == r.ok == 72 and not r.problems, r
print("python module: 72 planes equal their source TIFFs; levels, regions, listings, threads and errors checked")
PYEOF

# Not extracted yet: init without submit.
expect_exit 0 "$IMX" "$WORK/e2" create --source "$WORK/demo/microscope"
expect_exit 0 "$IMX" "$WORK/e2" init
$PY - "$WORK/e2" <<'PYEOF'
import sys, imextract
try:
    imextract.Experiment(sys.argv[1]).get("B03", channel=0)
    raise AssertionError("get before submit returned a plane")
except imextract.NotExtractedError as exc:
    assert "has not been extracted yet: run `imextract" in str(exc), exc
print("python module: a plane not extracted yet raises NotExtractedError")
PYEOF

# verify on a damaged chunk (B03 site 1, t 0, c 1, z 2, level 0): the exception names it, as the CLI.
CHUNK="$PLATE/B/03/1/0/0/1/2/0/0"
[ -f "$CHUNK" ] || fail "no chunk at $CHUNK"
size=$(stat -c %s "$CHUNK")
head -c "$size" /dev/urandom >"$CHUNK"
expect_exit 5 "$IMX" "$EXP" verify
cp "$WORK/last.out" "$WORK/cli_verify.txt"
$PY - "$EXP" "$WORK/cli_verify.txt" <<'PYEOF'
import sys, imextract
e = imextract.Experiment(sys.argv[1])
try:
    e.verify()
    raise AssertionError("verify passed a plate with a damaged chunk")
except imextract.VerificationError as exc:
    assert len(exc.problems) == 1 and "B03 site 1 channel 1 tpoint 0 zplane 2: " in exc.problems[0], exc.problems
    assert exc.problems[0] in open(sys.argv[2]).read(), (exc.problems, open(sys.argv[2]).read())
    assert exc.result.planes == 72 and exc.result.ok == 71, exc.result
    assert exc.problems[0] in str(exc)
try:
    e.get("B03", site=1, channel=1, zplane=2)
    raise AssertionError("get returned a damaged plane")
except imextract.Error as exc:
    assert "B/03/1/0/0/1/2" in str(exc), exc
print("python module: verify and get report the damaged chunk")
PYEOF
echo "PASS python_module"
