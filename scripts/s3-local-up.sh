#!/usr/bin/env bash
# Starts an S3-compatible object store on loopback for the tests: Ceph's S3 gateway (radosgw, from
# Debian) on a throw-away single-node Ceph (one mon, one memstore OSD, no mgr, cephx off).
# Idempotent: when it runs already it only prints the settings; when only the gateway is down (a
# test stopped it) it restarts the gateway and keeps the data; otherwise it starts a fresh, EMPTY
# cluster. On stdout only shell assignments, for `eval "$(scripts/s3-local-up.sh)"`:
#   export AWS_ENDPOINT_URL=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_REGION=...
# Exits non-zero with the reason on stderr when the store cannot be started.
#   IMX_S3_DIR      state, logs and pid files (default /tmp/imextract-s3)
#   IMX_S3_PORT     S3 port on 127.0.0.1 (default 17580); the mon uses PORT-700, the OSD 100 ports
#                   from PORT-600
#   IMX_S3_MEM      bytes the store may hold (RAM; default 2 GiB)
# What we met doing this: libcurl signs x-amz-content-sha256 but does not send it and radosgw
# answers 403 without it; signed query strings must be sorted and URI-encoded; use path-style
# URLs; create buckets without LocationConstraint; package installs try to start services (a
# temporary policy-rc.d stops that); with auth=none the OSD must not send mon commands at boot.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
BASE=${IMX_S3_DIR:-/tmp/imextract-s3}
PORT=${IMX_S3_PORT:-17580}
MON_PORT=$((PORT - 700))
OSD_PMIN=$((PORT - 600))
MEM=${IMX_S3_MEM:-2147483648}
ACCESS_KEY=IMXLOCALTEST00000001
SECRET_KEY=imextract-local-test-secret-0000000000000
REGION=us-east-1
ENDPOINT="http://127.0.0.1:$PORT"
CONF=$BASE/ceph.conf RUN=$BASE/run LOG=$BASE/log
SETTINGS="$PORT $MEM"
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
say() { echo "[s3-local-up] $*" >&2; }
die() {
    say "ERROR: $*"
    for f in "$LOG"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 10 "$f" >&2; }; done
    exit 1
}
bin_of() { case $1 in mon) echo ceph-mon;; osd) echo ceph-osd;; rgw) echo radosgw;; esac; }
alive() {  # our pid file names a live process running our binary with our config
    local f=$RUN/$1.pid pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$(bin_of "$1") .*-c $CONF"
}
ready() {  # a signed ListBuckets with our key succeeds
    curl -fsS -o /dev/null --max-time 5 --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
        -H "x-amz-content-sha256: $EMPTY_SHA" "$ENDPOINT/" 2>/dev/null
}
settings() {
    printf 'export AWS_ENDPOINT_URL=%s\nexport AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_REGION=%s\n' \
        "$ENDPOINT" "$ACCESS_KEY" "$SECRET_KEY" "$REGION"
}
start() {  # start NAME CMD...: a foreground daemon in its own session, so $! is the daemon
    local name=$1; shift
    setsid "$@" -f </dev/null >>"$LOG/$name.stdout" 2>&1 &
    echo $! >"$RUN/$name.pid"
}
wait_ready() {
    for _ in $(seq 1 300); do
        ready && return 0
        for d in mon osd rgw; do alive "$d" || die "$d died"; done
        sleep 0.2
    done
    die "gateway not ready after 60 s"
}

same_settings=0
[ "$(cat "$BASE/.settings" 2>/dev/null)" = "$SETTINGS" ] && same_settings=1
if [ "$same_settings" = 1 ] && alive mon && alive osd; then
    if alive rgw && ready; then settings; exit 0; fi
    if ! alive rgw; then
        say "restarting the gateway (data kept)"
        start rgw radosgw -c "$CONF" -n client.rgw.s3
        wait_ready
        settings
        exit 0
    fi
fi

missing=""
for p in ceph-mon ceph-osd radosgw ceph-common curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    [ "$(id -u)" = 0 ] || die "must run as root to install$missing"
    say "installing$missing (about 30-60 s)"
    policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy=1; fi
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # one word per package
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; } \
        || { [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
    command -v "$b" >/dev/null || die "missing $b"
done

# A fresh cluster: stop whatever of ours still runs, then bootstrap.
"$(dirname "$0")/s3-local-down.sh" 2>/dev/null || true
case $BASE in /|"") die "bad IMX_S3_DIR";; esac
rm -rf "$BASE"
mkdir -p "$RUN" "$LOG" "$BASE/mon.a" "$BASE/osd.0" "$BASE/rgw.s3"
FSID=$(cat /proc/sys/kernel/random/uuid)
cat >"$CONF" <<EOT
# written by imextract scripts/s3-local-up.sh: loopback only, single node, throw-away
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
ms bind msgr2 = false
ms bind port min = $OSD_PMIN
ms bind port max = $((OSD_PMIN + 99))
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
paxos propose interval = 0.1
auth allow insecure global id reclaim = false
osd objectstore = memstore
osd class update on start = false
osd crush update on start = false
memstore device bytes = $MEM
osd memory target = 1073741824
run dir = $RUN
admin socket = $RUN/\$name.asok
pid file = $RUN/\$name.daemon-pid
log file = $LOG/\$name.log
log to stderr = false
err to stderr = false
keyring = $BASE/keyring
mon data = $BASE/mon.\$id
osd data = $BASE/osd.\$id
rgw data = $BASE/rgw.\$id

[client.rgw.s3]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw enable usage log = false
# virtual-hosted requests: http://BUCKET.localhost:PORT/ (curl resolves *.localhost to loopback)
rgw dns name = localhost
rgw gc obj min wait = 30
rgw gc processor period = 30
EOT
echo "$SETTINGS" >"$BASE/.settings"

ceph-authtool --create-keyring "$BASE/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON_PORT]" "$BASE/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$BASE/monmap" --keyring "$BASE/keyring" >>"$LOG/setup.log" 2>&1 \
    || die "ceph-mon --mkfs failed"
start mon ceph-mon -c "$CONF" -i a
CEPH() { ceph -c "$CONF" --connect-timeout 20 "$@" 2>>"$LOG/setup.log"; }
# Under load a client command can reach the mon before the client has the monmap and fail with
# "wrong fsid": retry (osd create only while osd.0 does not exist, as it is not idempotent).
# Every check is retried, the last one too: a single "wrong fsid" must not fail the start.
osd_made=0
for _ in $(seq 1 40); do
    if ids=$(CEPH osd ls); then
        if grep -qx 0 <<<"$ids"; then osd_made=1; break; fi
        CEPH osd create >/dev/null || sleep 0.5
    else
        sleep 0.5
    fi
done
[ "$osd_made" = 1 ] || die "the mon did not come up"
for i in $(seq 1 40); do
    CEPH osd crush add osd.0 1.0 host=localhost root=default >/dev/null && break
    [ "$i" = 40 ] && die "crush add failed"
    sleep 0.5
done
ceph-osd -c "$CONF" -i 0 --mkfs >>"$LOG/setup.log" 2>&1 || die "ceph-osd --mkfs failed"
start osd ceph-osd -c "$CONF" -i 0
osd_up=0
for _ in $(seq 1 150); do
    if CEPH osd stat 2>/dev/null | grep -q ' 1 up'; then osd_up=1; break; fi
    alive mon || die "mon died"
    alive osd || die "osd died"
    sleep 0.2
done
[ "$osd_up" = 1 ] || die "the OSD is not up after 30 s"
timeout 60 radosgw-admin -c "$CONF" user create --uid=imextract --display-name="imextract tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >>"$LOG/setup.log" 2>&1 \
    || die "radosgw-admin user create failed"
start rgw radosgw -c "$CONF" -n client.rgw.s3
wait_ready
say "ready at $ENDPOINT (logs in $LOG)"
settings
