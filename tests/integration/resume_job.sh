#!/usr/bin/env bash
# A run job killed half-way (SIGKILL, as a power loss) stores only what it had not stored when it
# runs again: the planes its checkpoint lists stay as they are (same files), the rest is stored,
# and the plate is identical to an uninterrupted one (pixel checksums, contrast windows), every
# chunk verified. Then `submit` on the finished experiment rewrites nothing and exits 0.
source "$(dirname "$0")/lib/common.bash"
expect_exit 0 "$IMX" demo --no-run --rows 1 --cols 2 --sites 2 --channels 2 --zplanes 6 --width 1280 --height 1080 "$WORK/d"
M="$WORK/d/microscope"
expect_exit 0 "$IMX" "$WORK/ref" create --source "$M"
expect_exit 0 "$IMX" "$WORK/ref" init
expect_exit 0 "$IMX" "$WORK/ref" submit
checksums "$WORK/ref" > "$WORK/ref.sums"
grep -q NULL "$WORK/ref.sums" && fail "reference run incomplete"
windows() { $PY -c "
import json, glob, sys
for f in sorted(glob.glob(sys.argv[1] + '/*.zarr/*/*/*/.zattrs')):
    print(json.dumps(json.load(open(f))['omero']['channels'], sort_keys=True))" "$1"; }
windows "$WORK/ref" > "$WORK/ref.windows"
[ -s "$WORK/ref.windows" ] || fail "the reference has no contrast windows"

E="$WORK/e"
expect_exit 0 "$IMX" "$E" create --source "$M"
expect_exit 0 "$IMX" "$E" init
CK="$E/jobs/run/000001/checkpoint.json"
# One thread, a checkpoint every 0.05 s: kill as soon as one lists a stored plane.
IMX_CHECKPOINT_SECONDS=0.05 "$IMX" "$E" run -j 1 --threads 1 > "$WORK/run1.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ -s "$CK" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -s "$CK" ] || fail "no checkpoint before the job ended (it stores 48 planes with one thread)"
listed=$($PY -c "import json,sys; print(len(json.load(open(sys.argv[1]))['outputs']))" "$CK")
[ "$listed" -ge 1 ] && [ "$listed" -lt 48 ] || fail "the checkpoint lists $listed of 48 planes; expected some, not all"
# The chunks as the killed job left them; a kept plane's chunks keep their inodes (every write
# replaces the file).
chunks() { find "$E" -path '*.zarr/*' -type f ! -name '.z*' ! -name 'zarr.json' -printf '%p %i\n' | sort; }
chunks > "$WORK/before.chunks"
expect_exit 0 "$IMX" "$E" resubmit
grep -q "stored by an earlier attempt and kept" "$E/jobs/run/000001/log.txt" || fail "resubmit did not keep the stored planes"
kept=$(grep -o "([0-9]* stored by an earlier attempt and kept)" "$E/jobs/run/000001/log.txt" | tr -dc 0-9)
[ "$kept" = "$listed" ] || fail "kept $kept planes, the checkpoint listed $listed"
checksums "$E" > "$WORK/e.sums"
cmp -s "$WORK/ref.sums" "$WORK/e.sums" || fail "checksums differ from the uninterrupted run"
windows "$E" > "$WORK/e.windows"
cmp -s "$WORK/ref.windows" "$WORK/e.windows" || { diff "$WORK/ref.windows" "$WORK/e.windows" >&2; fail "contrast windows differ"; }
chunks > "$WORK/after.chunks"
unchanged=$(comm -12 "$WORK/before.chunks" "$WORK/after.chunks" | wc -l)
[ "$unchanged" -ge "$listed" ] || fail "only $unchanged chunk files untouched; $listed planes were kept"
expect_exit 0 "$IMX" "$E" verify
expect_output "48 of 48"
[ -e "$CK" ] && fail "the checkpoint outlived the finished job"

# submit on the finished experiment: nothing rewritten, exit 0, and it says so.
stamp=$(find "$E" -path '*.zarr/*' -type f -printf '%T@ %i\n' | sort | md5sum)
expect_exit 0 "$IMX" "$E" submit
expect_output "already stored and verified"
[ "$(find "$E" -path '*.zarr/*' -type f -printf '%T@ %i\n' | sort | md5sum)" = "$stamp" ] || fail "submit rewrote the plate"
echo "PASS resume_job (killed with $listed of 48 planes listed; kept $kept)"
