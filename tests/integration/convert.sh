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
echo "PASS convert"
