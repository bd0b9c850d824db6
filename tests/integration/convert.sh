#!/usr/bin/env bash
# `imextract convert SOURCE OUT`: the same plate as create + init + submit (pixels and attributes
# through zarr-python), the workspace in OUT/.imextract outside every plate, a second run that
# rewrites nothing, a run stopped by SIGTERM that the next one resumes, and an OUT of other
# sources or options refused unless --overwrite; then a few vendor samples against the workflow.
source "$(dirname "$0")/lib/common.bash"
need_oracle
demo_reference "$WORK/ref"
OUT="$WORK/out"
expect_exit 0 "$IMX" convert "$MIC" "$OUT" --max-parallel 2
expect_output "plate +$OUT/DemoPlate.zarr"
expect_output "workspace +$OUT/.imextract"
[ -f "$OUT/.imextract/catalog.sqlite" ] || fail "no workspace in $OUT/.imextract"
checksums "$OUT/.imextract" | cmp -s - "$WORK/ref.sums" || fail "convert stored other pixels than create+init+submit"
$PY "$ORACLE/compare_plates.py" "$WORK/ref/DemoPlate.zarr" "$OUT/DemoPlate.zarr"

# Again: nothing rewritten (every file of OUT keeps its inode and mtime; SQLite's -wal/-shm files of
# a read-only open aside), exit 0.
snapshot() {
    find "$OUT" \( -path "$OUT/.imextract/.lock" -o -name 'catalog.sqlite-*' \) -prune -o -type f -printf '%P %i %T@\n' | sort
}
snapshot > "$WORK/before"
expect_exit 0 "$IMX" convert "$MIC" "$OUT"
expect_output "already converted, every plane stored and verified; nothing rewritten"
snapshot | cmp -s - "$WORK/before" || fail "the second convert rewrote files: $(snapshot | diff - "$WORK/before" | head -5)"

# OUT, and a plate in it, are what `get` and the Python module open: the workspace is found in
# OUT/.imextract; a plate path names the plate. Same pixels as the plate read by zarr-python.
expect_exit 0 "$IMX" "$OUT" get --well C03 --site 1 --channel 1 --zplane 2 -o "$WORK/out_get.tif"
expect_exit 0 "$IMX" "$OUT/DemoPlate.zarr/" get --well C03 --site 1 --channel 1 --zplane 2 -o "$WORK/plate_get.tif"
expect_exit 0 "$IMX" "$WORK/ref/DemoPlate.zarr" get --well C03 --site 1 --channel 1 --zplane 2 -o "$WORK/ref_get.tif"
expect_exit 2 "$IMX" "$WORK/nothing/DemoPlate.zarr" get --well C03 --channel 0 -o "$WORK/x.tif"
expect_output "not an imextract experiment"
$PY - "$OUT/DemoPlate.zarr" "$WORK/out_get.tif" "$WORK/plate_get.tif" "$WORK/ref_get.tif" <<'PY'
import sys, numpy, tifffile, zarr
plane = zarr.open(sys.argv[1] + "/C/03/1/0", mode="r")[0, 1, 2]
for got in sys.argv[2:]:
    assert numpy.array_equal(tifffile.imread(got), plane), got
print("get on OUT, OUT/DemoPlate.zarr and EXPERIMENT/DemoPlate.zarr: the plate's pixels")
PY
MODULE_DIR=$(dirname "$IMX")/python
if ls "$MODULE_DIR"/imextract*.so > /dev/null 2>&1; then
    PYTHONPATH="$MODULE_DIR" $PY - "$OUT" <<'PY'
import sys, numpy, zarr, imextract
out = sys.argv[1]
whole, plate = imextract.Experiment(out), imextract.Experiment(out + "/DemoPlate.zarr")
want = zarr.open(out + "/DemoPlate.zarr/B/04/0/0", mode="r")[0, 0, 1]
for e in (whole, plate):
    assert e.plates == ["DemoPlate"], e.plates
    assert numpy.array_equal(e.get("B04", channel=0, zplane=1), want)
try:
    imextract.Experiment(out + "/Other.zarr")
    raise SystemExit("a plate that is not in OUT was opened")
except imextract.Error as err:
    assert "not a plate of the experiment" in str(err) and "DemoPlate.zarr" in str(err), err
print("imextract.Experiment(OUT) and (OUT/DemoPlate.zarr) read the plate")
PY
fi

# Another source, or other plate options, for this OUT: refused naming both; --overwrite replaces.
expect_exit 0 "$IMX" demo "$WORK/d2" --no-run --seed 7 --plate-name OtherPlate
expect_exit 2 "$IMX" convert "$WORK/d2/microscope" "$OUT"
expect_output "was converted from $MIC, not from $WORK/d2/microscope; give a new OUT, or --overwrite"
expect_exit 2 "$IMX" convert "$MIC" "$OUT" --compression zstd
expect_output "converted with other options \(--compression \(default\) -> zstd\)"
snapshot | cmp -s - "$WORK/before" || fail "a refused convert changed OUT"
expect_exit 0 "$IMX" convert "$WORK/d2/microscope" "$OUT" --overwrite
[ -d "$OUT/DemoPlate.zarr" ] && fail "--overwrite left the earlier conversion's plate"
expect_exit 0 "$IMX" "$OUT/.imextract" verify
expect_output "72 of 72"
# A folder that holds other files, and an OUT inside the source, are refused.
mkdir -p "$WORK/full" && touch "$WORK/full/notes.txt"
expect_exit 2 "$IMX" convert "$MIC" "$WORK/full"
expect_output "holds files but no conversion of imextract"
[ "$(ls -A "$WORK/full")" = notes.txt ] || fail "a refused convert left files in OUT: $(ls -A "$WORK/full")"
# A create that fails (no acquisition in SOURCE) leaves no OUT and no workspace behind.
mkdir -p "$WORK/empty_source"
set +e; "$IMX" convert "$WORK/empty_source" "$WORK/never" > "$WORK/never.out" 2>&1; rc=$?; set -e
[ "$rc" != 0 ] || fail "convert of an empty folder succeeded"
[ -e "$WORK/never" ] && fail "a failed convert left $WORK/never: $(find "$WORK/never")"
expect_exit 2 "$IMX" convert "$MIC" "$MIC/plates"
expect_output "lie one inside the other"
expect_exit 2 "$IMX" convert "$MIC" "$WORK/o" --compresion zstd
expect_output "did you mean --compression"

# Stopped (SIGTERM, as Ctrl-C) while its run jobs run: the next convert resumes and ends with the
# reference plate. Twelve one-site jobs one at a time, stopped once the first is done.
stopped=0
for attempt in 1 2 3; do
    O="$WORK/stop$attempt"
    "$IMX" convert "$MIC" "$O" --batch-size 1 --max-parallel 1 > "$WORK/stop.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 1000); do
        grep -qs '"state": "done"' "$O/.imextract/jobs/run/000001/state.json" && break
        sleep 0.01
    done
    kill -TERM "$pid" 2>/dev/null || true
    set +e; wait "$pid"; rc=$?; set -e
    [ "$rc" = 130 ] || continue
    expect_exit 0 "$IMX" convert "$MIC" "$O"
    expect_output "resuming the conversion that stopped"
    checksums "$O/.imextract" | cmp -s - "$WORK/ref.sums" || fail "the resumed convert stored other pixels"
    stopped=1
    break
done
[ "$stopped" = 1 ] || fail "convert finished before SIGTERM reached it, three times"

# Vendor samples: convert gives the plate of the workflow (checksums of every plane and level).
[ -d "$SAMPLES" ] || { echo "PASS convert (no samples)"; exit 0; }
same_as_workflow() {
    local name=$1 src=$2; shift 2
    [ -d "$src" ] || return 0
    expect_exit 0 "$IMX" "$WORK/wf_$name" create --source "$src" "$@"
    expect_exit 0 "$IMX" "$WORK/wf_$name" init
    expect_exit 0 "$IMX" "$WORK/wf_$name" submit
    expect_exit 0 "$IMX" convert "$src" "$WORK/cv_$name" "$@"
    checksums "$WORK/wf_$name" > "$WORK/wf_$name.sums"
    checksums "$WORK/cv_$name/.imextract" | cmp -s - "$WORK/wf_$name.sums" || fail "$name: convert differs from the workflow"
    grep -q NULL "$WORK/wf_$name.sums" && fail "$name: planes not stored"
    for plate in "$WORK/wf_$name"/*.zarr; do
        $PY "$ORACLE/compare_plates.py" "$plate" "$WORK/cv_$name/$(basename "$plate")" > /dev/null
    done
}
same_as_workflow cellvoyager "$SAMPLES/yokogawa/fractal-tasks-core_png"
same_as_workflow harmony "$SAMPLES/harmony/operetta-compose_operetta_plate"
same_as_workflow metaxpress "$SAMPLES/metaxpress/faim-ipa_ImageXpress_exported/9987_Plate_3434"
same_as_workflow files "$SAMPLES/imagej-tiff/BioImageAnalysisNotebooks_BBBC022" --format files \
    --pattern 'IXMtest_(?P<well>[A-P]\d\d)_s(?P<site>\d+)\.tif'
# Container formats: one file each, in a folder of its own (beside the others, their plane sizes differ).
for spec in czi:czi/aicspylibczi/CD_s_1_t_3_c_2_z_5.czi nd2:nd2/pims/cluster.nd2 \
            lif:lif/readlif/LeicaLASX_wavelength-sweep_example.lif \
            ome:ome-tiff/bioformats-artificial/multi-channel-z-series.ome.tiff; do
    file="$SAMPLES/${spec#*:}"
    [ -f "$file" ] || continue
    mkdir -p "$WORK/src_${spec%%:*}" && cp "$file" "$WORK/src_${spec%%:*}/"
    same_as_workflow "${spec%%:*}" "$WORK/src_${spec%%:*}"
done
# OUT given relative to the working folder, as people type it: its workspace is not taken for a
# foreign file, and a second run finds it.
(cd "$WORK" && expect_exit 0 "$IMX" convert "$WORK/src_ome" relative_out)
(cd "$WORK" && expect_exit 0 "$IMX" convert "$WORK/src_ome" relative_out/ && \
    expect_output "already converted")
echo "PASS convert"
