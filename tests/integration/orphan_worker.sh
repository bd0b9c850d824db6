#!/usr/bin/env bash
# A worker that outlived its submit (the coordinator was killed; the worker, in its own process
# group, was not) still writes its job: resubmit must refuse to start that job a second time,
# naming the job and the PID, and run once the worker is gone. The worker is paused with SIGSTOP
# while it runs, so the check does not depend on timing.
source "$(dirname "$0")/lib/common.bash"
expect_exit 0 "$IMX" demo --no-run "$WORK/d" --rows 1 --cols 1 --sites 1 --channels 1 --zplanes 40 --width 1500 --height 1500
E="$WORK/e"
expect_exit 0 "$IMX" "$E" create --source "$WORK/d/microscope"
expect_exit 0 "$IMX" "$E" init
caught=0
for attempt in 1 2 3; do
    "$IMX" "$E" run -j 1 --threads 1 > "$WORK/worker.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 500); do
        grep -q '"state": "running"' "$E/jobs/run/000001/state.json" 2>/dev/null && break
        sleep 0.01
    done
    kill -STOP "$pid"
    if grep -q '"state": "running"' "$E/jobs/run/000001/state.json"; then
        expect_exit 2 "$IMX" "$E" resubmit
        expect_output "run job 1 \(pid $pid\) still running from an earlier submit"
        expect_exit 2 "$IMX" "$E" submit
        caught=1
    fi
    kill -CONT "$pid"
    wait "$pid" || true
    [ "$caught" = 1 ] && break
done
[ "$caught" = 1 ] || fail "the worker finished before it could be paused, three times"
# The worker finished: resubmit has nothing left to run, and collect verifies its planes.
expect_exit 0 "$IMX" "$E" resubmit
expect_output "40 of 40 plane\(s\) verified"
# A stale state (a dead PID, or a live PID that is not our worker) does not block.
$PY - "$E/jobs/run/000001/state.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1])); s["state"] = "running"; s["pid"] = 1
json.dump(s, open(sys.argv[1], "w"))
PYEOF
expect_exit 0 "$IMX" "$E" resubmit
echo "PASS orphan_worker"
