#!/usr/bin/env bash
# Starts a single-node SLURM cluster on loopback for the tests (Debian's slurm-wlm 22.05 and munge,
# daemons in the background, no systemd). Idempotent. Prints nothing on stdout; exits non-zero
# with the reason on stderr when the cluster cannot be started.
#   IMX_SLURM_DIR   state, logs and pid files (default /tmp/imextract-slurm)
# What we met doing this (see docs/cluster.md): client tools need /etc/slurm/slurm.conf; package
# installs try to start services (a temporary policy-rc.d stops that); munged must run as munge;
# RealMemory above the real memory drains the node; without DefMemPerCPU a job takes the whole
# node; EnforcePartLimits=ALL makes sbatch refuse impossible requests at once; no slurmdbd, so the
# final states come from `scontrol show job` (kept MinJobAge seconds).
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
BASE=${IMX_SLURM_DIR:-/tmp/imextract-slurm}
RUN=$BASE/run LOG=$BASE/log STATE=$BASE/state
CONF=/etc/slurm/slurm.conf
MARK="# written by imextract scripts/slurm-local-up.sh"
say() { echo "[slurm-local-up] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

missing=0
for b in slurmctld slurmd sbatch squeue scontrol munged; do command -v "$b" >/dev/null || missing=1; done
if [ "$missing" = 1 ]; then
    say "installing slurmctld slurmd slurm-client munge"
    policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy=1; fi
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; } \
        || { [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
mkdir -p "$RUN" "$LOG" "$STATE/ctld" "$STATE/slurmd" /etc/slurm
CPUS=$(nproc)
MEM=$(awk '/^MemTotal:/{print int($2/1024*0.9)}' /proc/meminfo)
conf="$MARK
ClusterName=imextract
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
EnforcePartLimits=ALL
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
InactiveLimit=0
MinJobAge=3600
MailProg=/bin/true
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP"
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && [ "$(cat /proc/$(cat "$1")/comm 2>/dev/null)" = "$2" ]; }
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$conf" ]; then
    [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF" && cp -p "$CONF" "$CONF.bak.$(date +%s)"
    printf '%s\n' "$conf" > "$CONF"
    for d in slurmd slurmctld; do alive "$RUN/$d.pid" $d && kill "$(cat "$RUN/$d.pid")" && sleep 1; done
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
        install -d -o munge -g munge -m 0700 /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    runuser -u munge -- /usr/sbin/munged || die "munged did not start"
    for _ in $(seq 50); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    cp /run/munge/munged.pid "$RUN/munged.pid"
fi
alive "$RUN/slurmctld.pid" slurmctld || slurmctld || die "slurmctld did not start: $(tail -3 "$LOG/slurmctld.log" 2>/dev/null)"
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
scontrol ping 2>/dev/null | grep -q 'is UP' || die "slurmctld not answering"
alive "$RUN/slurmd.pid" slurmd || slurmd -N localhost || die "slurmd did not start: $(tail -3 "$LOG/slurmd.log" 2>/dev/null)"
for _ in $(seq 200); do
    st=$(sinfo -h -N -n localhost -o '%T' 2>/dev/null | head -1)
    case "$st" in idle|mixed|allocated|completing) say "node is $st"; exit 0 ;;
        down*|drain*) scontrol update NodeName=localhost State=RESUME 2>/dev/null || true ;; esac
    sleep 0.25
done
die "node not ready (state '$st')"
