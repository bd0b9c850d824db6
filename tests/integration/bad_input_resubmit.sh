#!/usr/bin/env bash
# A truncated and a missing file fail only the jobs that need them, with messages that name the
# files; after the files are fixed, resubmit completes the plate.
source "$(dirname "$0")/lib/common.bash"
need_oracle
expect_exit 0 "$IMX" demo --no-run "$WORK/d"
M="$WORK/d/microscope"
EXP="$WORK/exp"
cp -a "$M" "$WORK/pristine"
BROKEN=$(ls "$M"/*_B02_T0001F001L01A01Z02C01.tif)
GONE=$(ls "$M"/*_C04_T0001F002L01A01Z01C02.tif)
head -c 3000 "$WORK/pristine/$(basename "$BROKEN")" > "$BROKEN"
rm "$GONE"
expect_exit 0 "$IMX" "$EXP" create --source "$M"
expect_output "missing"
expect_exit 0 "$IMX" "$EXP" init --batch-size 2
expect_exit 0 "$IMX" "$EXP" info -p run
NJOBS=$(grep -c "run job" "$WORK/last.out")
[ "$NJOBS" = 6 ] || fail "expected 6 run jobs (12 sites, 2 per job), got $NJOBS"
expect_exit 4 "$IMX" "$EXP" submit --interval 1
expect_output "2 run job\(s\) failed"
expect_exit 0 "$IMX" "$EXP" status
expect_output "4 done, 2 failed"
expect_output "$(basename "$BROKEN")"
expect_output "$(basename "$GONE")"
# The failed job's own log names the file and the reason.
expect_exit 0 "$IMX" "$EXP" log -p run -j 1
expect_output "$(basename "$BROKEN")"
# Collect on the incomplete plate reports the missing planes and exits 5.
expect_exit 5 "$IMX" "$EXP" collect
expect_output "not stored"
# Fix the files and resubmit: only the two failed jobs run again.
cp "$WORK/pristine/$(basename "$BROKEN")" "$BROKEN"
cp "$WORK/pristine/$(basename "$GONE")" "$GONE"
expect_exit 0 "$IMX" "$EXP" resubmit
expect_output "run phase: 2 job\(s\), 0 failed"
expect_output "72 of 72 plane"
$PY "$ORACLE/check_cellvoyager_plate.py" "$M" "$EXP"/*.zarr
echo "PASS bad_input_resubmit"
