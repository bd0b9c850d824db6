#!/usr/bin/env bash
# A plate read without its workspace: the demo plate converted as NGFF 0.4 and as 0.5 with shards
# (and tiles), the plate folder copied elsewhere under another name and the workspace deleted.
# `get` on the copy gives every plane exactly as `get` on the experiment and as zarr-python reads
# the 0.4 plate; the same errors with the same exit codes (unknown well, channel, site, t, z,
# level; a plane the source lacks; a position no source plane fills; a plate copied before its
# run finished); `verify` reads every plane back and says it cannot compare checksums; a plate
# whose attributes disagree with its NGFF metadata is refused. The Python module, when built, gives
# the same listings and planes from the copy as from the experiment.
source "$(dirname "$0")/lib/common.bash"
need_oracle
MODULE_DIR="$(dirname "$IMX")/python"

expect_exit 0 "$IMX" demo "$WORK/d" --no-run --rows 2 --cols 2 --sites 2 --channels 2 --zplanes 2 --width 300 --height 260
MIC="$WORK/d/microscope"
# The error line of the last command, without the log prefix.
error_line() { grep -m1 ' ERROR ' "$WORK/last.out" | sed 's/^.* ERROR *//'; }
# same_error CODE ARGS...: the experiment and the bare copy refuse the same get alike.
same_error() {
    local code=$1; shift
    expect_exit "$code" "$IMX" "$EXP" get "$@" -o "$WORK/x.tif"
    local want; want=$(error_line)
    expect_exit "$code" "$IMX" "$BARE" get "$@" -o "$WORK/x.tif"
    local got; got=$(error_line)
    [ -n "$want" ] || fail "get $*: no error message"
    [ "$want" = "$got" ] || fail "get $*: the bare plate says '$got', the experiment '$want'"
}

for kind in v4 v5s; do
    case $kind in
        v4) opts=() ;;
        v5s) opts=(--ngff 0.5 --shard field --chunk 128) ;;
    esac
    expect_exit 0 "$IMX" convert "$MIC" "$WORK/$kind" "${opts[@]}"
    # The copy: the plate folder alone, renamed, in another folder; then the experiment is the
    # reference only through its own workspace.
    mkdir -p "$WORK/copies/$kind"
    cp -r "$WORK/$kind/DemoPlate.zarr" "$WORK/copies/$kind/moved.zarr"
    BARE="$WORK/copies/$kind/moved.zarr"
    EXP="$WORK/$kind"
    [ ! -e "$WORK/copies/$kind/.imextract" ] || fail "the copy has a workspace"

    # Every plane (and level 1 of each) through both routes, byte-identical TIFFs.
    n=0
    for well in B02 B03 C02 C03; do
        for site in 0 1; do
            for channel in 0 1; do
                for z in 0 1; do
                    for level in 0 1; do
                        args=(--well $well --site $site --channel $channel --zplane $z --level $level)
                        expect_exit 0 "$IMX" "$EXP" get "${args[@]}" -o "$WORK/a.tif"
                        expect_exit 0 "$IMX" "$BARE" get "${args[@]}" -o "$WORK/b.tif"
                        cmp -s "$WORK/a.tif" "$WORK/b.tif" || fail "$kind ${args[*]}: the bare plate's plane differs"
                        [ $level = 1 ] || cp "$WORK/b.tif" "$WORK/$kind-$well-$site-$channel-$z.tif"
                        n=$((n + 1))
                    done
                done
            done
        done
    done
    [ $n = 64 ] || fail "compared $n planes"
    # A region, and the channel by name.
    expect_exit 0 "$IMX" "$BARE" get --well C03 --site 1 --channel 1 --zplane 1 --region 37,101,150,170 -o "$WORK/r.tif"
    expect_exit 0 "$IMX" "$EXP" get --well C03 --site 1 --channel 1 --zplane 1 --region 37,101,150,170 -o "$WORK/r0.tif"
    cmp -s "$WORK/r.tif" "$WORK/r0.tif" || fail "$kind: the region differs"

    # The same refusals with the same exit codes.
    same_error 2 --well H12 --channel 0
    expect_output "has no well H12 \(its wells: B02-B03, C02-C03\)"
    same_error 2 --well B02 --channel 7
    same_error 2 --well B02 --channel NOPE
    same_error 2 --well B02 --site 2 --channel 0
    same_error 2 --well B02 --channel 0 --zplane 2
    same_error 2 --well B02 --channel 0 --tpoint 1
    same_error 2 --well B02 --channel 0 --level 9
    same_error 2 --well XX --channel 0
    expect_exit 2 "$IMX" "$BARE" get --well B02 --channel 0 --plate Other -o "$WORK/x.tif"
    expect_output "no plate named 'Other'"

    # verify reads every plane at every level; it says what it cannot check.
    expect_exit 0 "$IMX" "$BARE" verify
    expect_output "32 of 32 stored plane\(s\) read back and decoded"
    expect_output "checksums are in the workspace, not the plate"
    expect_exit 2 "$IMX" "$BARE" verify --sources
    expect_output "does not know its source files"
done

# zarr-python reads the 0.4 copy as get does (the sharded 0.5 copy holds the same pixels: its
# planes were compared with the experiment above, and the two experiments have equal checksums).
[ "$(checksums "$WORK/v4/.imextract")" = "$(checksums "$WORK/v5s/.imextract")" ] || fail "0.4 and 0.5 checksums differ"
$PY - "$WORK/copies/v4/moved.zarr" "$WORK" <<'PYEOF'
import sys, numpy, tifffile, zarr
plate, work = zarr.open(sys.argv[1], mode="r"), sys.argv[2]
n = 0
for kind in ("v4", "v5s"):
    for well in ("B02", "B03", "C02", "C03"):
        for site in (0, 1):
            for c in (0, 1):
                for z in (0, 1):
                    want = plate[f"{well[0]}/{well[1:]}/{site}/0"][0, c, z]
                    got = tifffile.imread(f"{work}/{kind}-{well}-{site}-{c}-{z}.tif")
                    assert got.dtype == want.dtype and numpy.array_equal(got, want), (kind, well, site, c, z)
                    n += 1
assert n == 64, n
print("zarr-python: 64 planes as get reads them")
PYEOF

# Damage: a missing or corrupt chunk, a shard index failing its CRC: verify exits 5 naming it.
BARE="$WORK/copies/v4/moved.zarr"
cp -r "$BARE" "$WORK/damaged.zarr"
rm "$WORK/damaged.zarr/B/03/1/0/0/1/0/0/0"
printf 'garbage' >"$WORK/damaged.zarr/C/02/0/1/0/0/1/0/0"
expect_exit 5 "$IMX" "$WORK/damaged.zarr" verify
expect_output "B03 site 1 channel 1 tpoint 0 zplane 0: .*B/03/1/0/0/1/0/0/0: chunk is missing"
expect_output "C02 site 0 channel 0 tpoint 0 zplane 1: .*C/02/0/1/0/0/1/0/0"
expect_output "30 of 32 stored plane"
expect_exit 5 "$IMX" "$WORK/damaged.zarr" get --well B03 --site 1 --channel 1 -o "$WORK/x.tif"
expect_output "chunk is missing"
cp -r "$WORK/copies/v5s/moved.zarr" "$WORK/damaged5.zarr"
SHARD="$WORK/damaged5.zarr/B/02/0/0/c/0/0/0/0/0"
[ -f "$SHARD" ] || fail "no shard at $SHARD"
size=$(stat -c %s "$SHARD")
printf '\xff' | dd of="$SHARD" bs=1 seek=$((size - 6)) conv=notrunc status=none
expect_exit 5 "$IMX" "$WORK/damaged5.zarr" verify
expect_output "shard index is corrupt \(CRC-32C mismatch\)"

# Attributes that disagree with the NGFF metadata: refused (exit 6), never read wrongly.
cp -r "$BARE" "$WORK/bad1.zarr"
$PY - "$WORK/bad1.zarr/B/02/0/0/.zarray" <<'PYEOF'
import json, sys
a = json.load(open(sys.argv[1])); a["shape"][3] += 1; json.dump(a, open(sys.argv[1], "w"))
PYEOF
expect_exit 6 "$IMX" "$WORK/bad1.zarr" get --well B02 --channel 0 -o "$WORK/x.tif"
expect_output "B/02/0/0/.zarray \(shape, dtype, chunks or codecs\) does not match the layout"
cp -r "$BARE" "$WORK/bad2.zarr"
$PY - "$WORK/bad2.zarr/C/03/.zattrs" <<'PYEOF'
import json, sys
a = json.load(open(sys.argv[1])); a["well"]["images"].pop(); json.dump(a, open(sys.argv[1], "w"))
PYEOF
expect_exit 0 "$IMX" "$WORK/bad2.zarr" get --well B02 --channel 0 -o "$WORK/x.tif"
expect_exit 6 "$IMX" "$WORK/bad2.zarr" get --well C03 --channel 0 -o "$WORK/x.tif"
expect_output "C/03: the well lists 1 field image\(s\), the plate's layout 2"
expect_exit 5 "$IMX" "$WORK/bad2.zarr" verify
cp -r "$BARE" "$WORK/bad3.zarr"
$PY - "$WORK/bad3.zarr/.zattrs" <<'PYEOF'
import json, sys
a = json.load(open(sys.argv[1])); a["imextract"]["levels"] = 1000; json.dump(a, open(sys.argv[1], "w"))
PYEOF
expect_exit 6 "$IMX" "$WORK/bad3.zarr" get --well B02 --channel 0 -o "$WORK/x.tif"
expect_output "its imextract layout says 1000 resolution levels"
cp -r "$BARE" "$WORK/bad4.zarr"
printf '{"plate": ' >"$WORK/bad4.zarr/.zattrs"
expect_exit 6 "$IMX" "$WORK/bad4.zarr" get --well B02 --channel 0 -o "$WORK/x.tif"
expect_output "not a plate written by imextract"
$PY - "$WORK/bad4.zarr/.zattrs" "$BARE/.zattrs" <<'PYEOF'
import json, sys
a = json.load(open(sys.argv[2])); a["imextract"]["wells"] = [[1, "x", 2]]; json.dump(a, open(sys.argv[1], "w"))
PYEOF
expect_exit 6 "$IMX" "$WORK/bad4.zarr" verify
expect_output "the imextract layout in its attributes is damaged"
mkdir -p "$WORK/notaplate"
expect_exit 2 "$IMX" "$WORK/notaplate" get --well B02 --channel 0 -o "$WORK/x.tif"

# A plane the source lacks, and a plate copied before its run finished: as with the workspace.
cp -r "$MIC" "$WORK/mic2"
rm "$WORK/mic2/"*_B03_T0001F002L01A01Z02C02.tif
expect_exit 0 "$IMX" "$WORK/e2" create --source "$WORK/mic2"
expect_exit 0 "$IMX" "$WORK/e2" init --batch-size 2
mkdir -p "$WORK/copies/e2"
cp -r "$WORK/e2/DemoPlate.zarr" "$WORK/copies/e2/early.zarr"  # before any plane is stored
EXP="$WORK/e2" BARE="$WORK/copies/e2/early.zarr"
same_error 2 --well B03 --site 1 --channel 1 --zplane 1
expect_output "the source has no pixels for it"
same_error 2 --well B02 --channel 5
expect_exit 7 "$IMX" "$EXP" get --well B02 --channel 0 -o "$WORK/x.tif"
expect_exit 7 "$IMX" "$BARE" get --well B02 --channel 0 -o "$WORK/x.tif"
expect_output "has not been extracted yet: the plate was copied before collect finished"

# A position no source plane fills (a well imaged in one channel only), after collect.
$PY - "$WORK/files" <<'PYEOF'
import os, sys, numpy, tifffile
d = sys.argv[1]; os.makedirs(d)
rng = numpy.random.default_rng(3)
for name in ("X_A01_s1_w1.tif", "X_A01_s1_w2.tif", "X_A02_s1_w1.tif"):
    tifffile.imwrite(os.path.join(d, name), rng.integers(0, 60000, (40, 50), dtype=numpy.uint16))
PYEOF
expect_exit 0 "$IMX" convert "$WORK/files" "$WORK/o3" --format files
cp -r "$WORK/o3/files.zarr" "$WORK/copies/files.zarr"
EXP="$WORK/o3" BARE="$WORK/copies/files.zarr"
same_error 2 --well A02 --channel 1
expect_output "the microscope recorded none there"
expect_exit 0 "$IMX" "$BARE" verify
expect_output "3 of 3 stored plane.*1 array position"

# The Python module: Experiment(copy) equals Experiment(experiment).
if compgen -G "$MODULE_DIR/imextract*.so" >/dev/null; then
    PYTHONPATH="$MODULE_DIR" $PY - "$WORK" <<'PYEOF'
import sys, numpy as np, imextract
work = sys.argv[1]
for kind in ("v4", "v5s"):
    e, b = imextract.Experiment(f"{work}/{kind}"), imextract.Experiment(f"{work}/copies/{kind}/moved.zarr")
    assert b.bare and not e.bare
    assert b.path == f"{work}/copies/{kind}/moved.zarr", b.path
    for attr in ("plates", "wells", "channels", "shape", "dtype", "levels"):
        assert getattr(b, attr) == getattr(e, attr), (kind, attr, getattr(b, attr), getattr(e, attr))
    n = 0
    for well in e.wells:
        assert b.sites(well) == e.sites(well), well
        for site in e.sites(well):
            for c in range(len(e.channels)):
                for z in range(e.shape[2]):
                    for level in range(e.levels):
                        want = e.get(well, site=site, channel=c, zplane=z, level=level)
                        got = b.get(well, site=site, channel=e.channels[c], zplane=z, level=level)
                        assert got.dtype == want.dtype and np.array_equal(got, want), (kind, well, site, c, z, level)
                        n += 1
    assert n == 32 * e.levels, n
    for bad in (dict(well="H12", channel=0), dict(well="B02", channel=0, site=5), dict(well="B02", channel="x")):
        msgs = []
        for x in (e, b):
            try:
                x.get(**bad)
            except imextract.UsageError as err:
                msgs.append(str(err))
        assert len(msgs) == 2 and msgs[0] == msgs[1], (bad, msgs)
    r = b.verify()
    assert r.ok == r.planes == r.decoded_only == 32, r
    assert "not compared" in repr(r), repr(r)
    try:
        b.verify(sources=True)
        raise AssertionError("verify(sources=True) on a bare plate")
    except imextract.UsageError as err:
        assert "source files" in str(err)
try:
    imextract.Experiment(f"{work}/damaged.zarr").verify()
    raise AssertionError("verify passed on a damaged plate")
except imextract.VerificationError as err:
    assert len(err.problems) == 2, err.problems
print("python: the bare plates read as their experiments")
PYEOF
else
    echo "no Python module in $MODULE_DIR: its part skipped"
fi
echo "PASS bare_plate"
