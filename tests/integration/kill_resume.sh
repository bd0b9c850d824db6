#!/usr/bin/env bash
# Power-loss style interruptions: `submit` and all its workers are killed with SIGKILL at 20
# random moments; each time `resubmit` must finish the plate, and the result must be identical
# (pixel checksums) to an uninterrupted run, with every chunk verified by reading it back.
source "$(dirname "$0")/lib/common.bash"
expect_exit 0 "$IMX" demo --no-run "$WORK/d"
M="$WORK/d/microscope"
expect_exit 0 "$IMX" "$WORK/ref" create --source "$M"
expect_exit 0 "$IMX" "$WORK/ref" init -b 1
expect_exit 0 "$IMX" "$WORK/ref" submit
checksums "$WORK/ref" > "$WORK/ref.sums"
grep -q NULL "$WORK/ref.sums" && fail "reference run incomplete"

RANDOM=20261125  # reproducible kill points
killed_mid_run=0
for i in $(seq 1 20); do
    E="$WORK/e$i"
    expect_exit 0 "$IMX" "$E" create --source "$M"
    expect_exit 0 "$IMX" "$E" init -b 1   # 12 run jobs, so kills land between and inside jobs
    delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.02 + (r % 1000) / 1000 * 0.9 }')
    "$IMX" "$E" submit --max-parallel 2 > "$WORK/submit$i.out" 2>&1 &
    pid=$!
    sleep "$delay"
    # Kill the coordinator and every worker at once, as a power loss would.
    # A worker the coordinator was forking in that instant can escape one pkill: repeat until
    # nothing of this experiment runs (after a power loss nothing does).
    kill -9 "$pid" 2>/dev/null || true
    while pkill -9 -f -- "$E "; do sleep 0.05; done
    wait "$pid" 2>/dev/null || true
    done_jobs=$( (grep -l '"state": "done"' "$E"/jobs/run/*/state.json 2>/dev/null || true) | wc -l)
    [ "$done_jobs" -lt 12 ] && killed_mid_run=$((killed_mid_run + 1))
    expect_exit 0 "$IMX" "$E" resubmit
    checksums "$E" > "$WORK/e$i.sums"
    cmp -s "$WORK/ref.sums" "$WORK/e$i.sums" || fail "kill point $i (after ${delay}s, $done_jobs jobs done): checksums differ"
    expect_exit 0 "$IMX" "$E" verify
    expect_output "72 of 72"
    rm -rf "$E"
done
echo "kills that interrupted the run phase: $killed_mid_run of 20"
[ "$killed_mid_run" -ge 5 ] || fail "too few kills landed inside the run phase to test resumption"
echo "PASS kill_resume"
