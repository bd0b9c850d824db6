#!/usr/bin/env bash
# A worker that outlived its submit (the coordinator was killed; the worker, in its own process
# group, was not) still writes its job: resubmit waits for it, naming the job and the PID, and
# then finishes the plate; Ctrl-C while it waits changes nothing. The worker is paused with
# SIGSTOP once the killed coordinator is reaped (not before: a stopped process in a process group
# that its parent's death orphans gets SIGHUP), so the waits do not depend on timing.
source "$(dirname "$0")/lib/common.bash"
expect_exit 0 "$IMX" demo --no-run "$WORK/d" --rows 1 --cols 1 --sites 1 --channels 1 --zplanes 40 --width 1500 --height 1500
E="$WORK/e"
expect_exit 0 "$IMX" "$E" create --source "$WORK/d/microscope"
expect_exit 0 "$IMX" "$E" init
STATE="$E/jobs/run/000001/state.json"
state_pid() { $PY -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['pid'] if s['state']=='running' else 0)" "$STATE" 2>/dev/null || echo 0; }
# wait_for_line FILE REGEX: up to 20 s for a line in FILE.
wait_for_line() { for _ in $(seq 1 400); do grep -qE -- "$2" "$1" && return 0; sleep 0.05; done; cat "$1" >&2; fail "no /$2/ in $1"; }
caught=0
for attempt in 1 2 3; do
    "$IMX" "$E" submit --cores 1 > "$WORK/submit.out" 2>&1 &
    coordinator=$!
    worker=0
    for _ in $(seq 1 500); do
        worker=$(state_pid)
        [ "$worker" != 0 ] && break
        sleep 0.01
    done
    kill -9 "$coordinator"
    # Reaped first: a STOP that lands before the coordinator is gone leaves a stopped member in the
    # group its death orphans, and the kernel then sends the worker SIGHUP.
    wait "$coordinator" 2>/dev/null || true
    [ "$worker" != 0 ] && kill -STOP "$worker" 2>/dev/null
    [ "$worker" != 0 ] && [ "$(state_pid)" = "$worker" ] && ps -o stat= -p "$worker" | grep -q T && caught=1
    [ "$caught" = 1 ] && break
    [ "$worker" != 0 ] && kill -CONT "$worker" 2>/dev/null
    expect_exit 0 "$IMX" "$E" init   # the worker finished first: start over
done
[ "$caught" = 1 ] || fail "the worker finished before it could be paused, three times"

# waiting_resubmit OUT SIGNAL PID RC: resubmit until it says it waits for the worker, then SIGNAL
# to PID; resubmit must end with RC (its output in OUT).
waiting_resubmit() {
    "$IMX" "$E" resubmit > "$1" 2>&1 &
    local waiter=$! rc
    wait_for_line "$1" "waiting for run job 1 \(pid $worker\) still running from an earlier submit"
    kill "-$2" "${3/waiter/$waiter}"
    set +e; wait "$waiter"; rc=$?; set -e
    [ "$rc" = "$4" ] || { cat "$1" >&2; fail "resubmit exited $rc after SIG$2 to $3, not $4"; }
}
# Ctrl-C while resubmit waits: exit 130, the job's state untouched.
cp "$STATE" "$WORK/state.before"
waiting_resubmit "$WORK/wait1.out" INT waiter 130
grep -q "interrupted while waiting; nothing was changed" "$WORK/wait1.out" || fail "no message after Ctrl-C"
cmp -s "$STATE" "$WORK/state.before" || fail "Ctrl-C while waiting changed the job's state"
# resubmit waits, the worker goes on and finishes; resubmit then collects and verifies every plane.
waiting_resubmit "$WORK/wait2.out" CONT "$worker" 0
grep -q "40 of 40 plane(s) verified" "$WORK/wait2.out" || { cat "$WORK/wait2.out" >&2; fail "collect did not verify every plane"; }
expect_exit 0 "$IMX" "$E" verify
expect_output "40 of 40"
# A stale state (a dead PID, or a live PID that is not our worker) does not make it wait.
$PY - "$STATE" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1])); s["state"] = "running"; s["pid"] = 1
json.dump(s, open(sys.argv[1], "w"))
PYEOF
expect_exit 0 "$IMX" "$E" resubmit
echo "PASS orphan_worker"
