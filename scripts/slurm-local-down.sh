#!/usr/bin/env bash
# Stops what scripts/slurm-local-up.sh started, by recorded pid only; cancels jobs first.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
BASE=${IMX_SLURM_DIR:-/tmp/imextract-slurm}
RUN=$BASE/run
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && [ "$(cat /proc/$(cat "$1")/comm 2>/dev/null)" = "$2" ]; }
if alive "$RUN/slurmctld.pid" slurmctld; then
    jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
    [ -n "${jobs// }" ] && scancel $jobs 2>/dev/null
    for _ in $(seq 40); do [ -z "$(squeue -h -t R,CG -o %A 2>/dev/null)" ] && break; sleep 0.25; done
fi
for d in slurmd slurmctld munged; do
    if alive "$RUN/$d.pid" $d; then
        p=$(cat "$RUN/$d.pid"); kill "$p"
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    fi
    rm -f "$RUN/$d.pid"
done
exit 0
