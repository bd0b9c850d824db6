#!/usr/bin/env bash
# The SLURM engine against a real single-node cluster that scripts/slurm-local-up.sh starts on
# loopback: same checksums as the local engine, a failing task and a cancelled one completed by
# resubmit, and a request over the partition's limits refused with a clear message.
source "$(dirname "$0")/lib/common.bash"
[ "$(id -u)" = 0 ] || skip "starting SLURM needs root"
# Stop the cluster afterwards only when this test started it.
was_up=0
scontrol ping 2>/dev/null | grep -q 'is UP' && was_up=1
trap '[ "$was_up" = 1 ] || "$SRC/scripts/slurm-local-down.sh"; rm -rf "$WORK"' EXIT
if ! "$SRC/scripts/slurm-local-up.sh" 2> "$WORK/slurm-up.log"; then
    cat "$WORK/slurm-up.log"
    skip_service "SLURM could not be started on this machine"
fi
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

expect_exit 0 "$IMX" demo --no-run "$WORK/d"
M="$WORK/d/microscope"
# Reference: the local engine.
expect_exit 0 "$IMX" "$WORK/local" create --source "$M"
expect_exit 0 "$IMX" "$WORK/local" init -b 3
expect_exit 0 "$IMX" "$WORK/local" submit
# The same plate through a SLURM job array, with the collect job depending on it.
expect_exit 0 "$IMX" "$WORK/s" create --source "$M"
expect_exit 0 "$IMX" "$WORK/s" init -b 3
expect_exit 0 "$IMX" "$WORK/s" submit --engine slurm --memory 400 --max-parallel 2 --interval 1
expect_output "submitted run array [0-9]+ \(tasks 1-4%2\)"
expect_output "72 of 72 plane"
[ "$(checksums "$WORK/s")" = "$(checksums "$WORK/local")" ] || fail "slurm and local checksums differ"
grep -q NULL <(checksums "$WORK/s") && fail "unverified planes"
ls "$WORK/s/jobs/run"/slurm-*_3.out > /dev/null || fail "no per-task SLURM output file"
expect_exit 0 "$IMX" "$WORK/s" log -p run -j 3
expect_output "run job 3 done"
expect_exit 0 "$IMX" "$WORK/s" status
expect_output "4 done, 0 failed"
expect_output "slurm +array"
$PY "$ORACLE/check_cellvoyager_plate.py" "$M" "$WORK/s"/*.zarr

# A corrupt file fails its task; another task is cancelled before it runs; resubmit completes.
cp -a "$M" "$WORK/m2"
GOOD=$(ls "$WORK/m2"/*_B03_T0001F001L01A01Z01C01.tif)
cp "$GOOD" "$WORK/good.tif"
head -c 2000 "$WORK/good.tif" > "$GOOD"
expect_exit 0 "$IMX" "$WORK/f" create --source "$WORK/m2"
expect_exit 0 "$IMX" "$WORK/f" init -b 3
expect_exit 0 "$IMX" "$WORK/f" submit --engine slurm --memory 400 --max-parallel 1 --detach
ARRAY=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['array'])" "$WORK/f/jobs/run/slurm.json")
scancel "${ARRAY}_4"
# A second submission while the first is queued is refused.
expect_exit 2 "$IMX" "$WORK/f" submit --engine slurm
expect_output "still queued or running"
for _ in $(seq 1 240); do [ -z "$(squeue -h -r -j "$ARRAY")" ] && break; sleep 0.25; done
expect_exit 0 "$IMX" "$WORK/f" status
expect_output "2 done, 2 failed"
expect_output "SLURM: FAILED with exit code 4"
expect_output "SLURM: (never ran|CANCELLED)"
expect_output "$(basename "$GOOD")"
cp "$WORK/good.tif" "$GOOD"
expect_exit 0 "$IMX" "$WORK/f" resubmit
expect_output "tasks 1,4"
expect_output "72 of 72 plane"
[ "$(checksums "$WORK/f")" = "$(checksums "$WORK/local")" ] || fail "resubmitted plate differs from the local one"

# Over the partition's limits: refused at once, naming the limit.
expect_exit 0 "$IMX" "$WORK/l" create --source "$M"
expect_exit 0 "$IMX" "$WORK/l" init
expect_exit 2 "$IMX" "$WORK/l" submit --engine slurm --cores 999
expect_output "refused"
expect_output "allows at most $(nproc) CPUs"
echo "PASS slurm_engine"
