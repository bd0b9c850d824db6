#!/usr/bin/env bash
# Stops the object store scripts/s3-local-up.sh started and deletes its state. Only the processes
# named in our pid files (and still running our binary with our config) are signalled. Idempotent.
#   --gateway-only   stop only radosgw and keep the data (tests use it to cut the server mid-run;
#                    s3-local-up.sh restarts it)
set -uo pipefail
BASE=${IMX_S3_DIR:-/tmp/imextract-s3}
CONF=$BASE/ceph.conf RUN=$BASE/run
daemons="rgw osd mon"  # this order lets the OSD say goodbye to the mon quickly
[ "${1:-}" = "--gateway-only" ] && daemons="rgw"
stopped=0
for d in $daemons; do
    f=$RUN/$d.pid
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    case $d in mon) b=ceph-mon;; osd) b=ceph-osd;; rgw) b=radosgw;; esac
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$b .*-c $CONF"; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        stopped=$((stopped + 1))
    fi
    rm -f "$f"
done
if [ "${1:-}" != "--gateway-only" ]; then
    case $BASE in /|"") ;; *) rm -rf "$BASE" ;; esac
fi
echo "[s3-local-down] stopped $stopped daemon(s)" >&2
