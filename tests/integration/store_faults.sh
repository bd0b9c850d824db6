#!/usr/bin/env bash
# Storage faults and awkward names: a read-only store makes init (metadata) or the run jobs
# (chunks) fail with a message that names the store path, loses nothing, and `resubmit` finishes
# once the store is writable; a full store (a 3 MB tmpfs) fails the jobs the same way and resubmit
# finishes after it grows; a source file and a source folder whose names are not UTF-8 extract,
# verify and are deleted by collect like any other.
source "$(dirname "$0")/lib/common.bash"
need_oracle
command -v setpriv >/dev/null || skip "setpriv (util-linux) is needed to run as an unprivileged user"
[ "$(id -u)" = 0 ] || skip "needs root to switch to an unprivileged user (root ignores file permissions)"
chmod 755 "$WORK"
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
expect_exit 0 "$IMX" demo "$WORK/src" --no-run --rows 1 --cols 2 --sites 2 --channels 2 --zplanes 2
expect_exit 0 "$IMX" demo "$WORK/ref" --rows 1 --cols 2 --sites 2 --channels 2 --zplanes 2
REF=$(checksums "$WORK/ref/experiment")

# --- read-only store (owned by root, mode 555; the commands run as nobody)
mkdir -m 777 "$WORK/ws"
mkdir -m 555 "$WORK/ro"
EXP="$WORK/ws/ro_exp"
expect_exit 0 "${AS_NOBODY[@]}" "$IMX" "$EXP" create --source "$WORK/src/microscope" --store "$WORK/ro"
expect_exit 6 "${AS_NOBODY[@]}" "$IMX" "$EXP" init
expect_output "$WORK/ro"
expect_output "ermission denied"
chmod 777 "$WORK/ro"
expect_exit 0 "${AS_NOBODY[@]}" "$IMX" "$EXP" init
chmod -R a-w "$WORK/ro"             # metadata written; chunks cannot be
expect_exit 4 "${AS_NOBODY[@]}" "$IMX" "$EXP" submit
expect_output "run job 1 failed"
expect_exit 0 "${AS_NOBODY[@]}" "$IMX" "$EXP" log -p run -j 1
expect_output "$WORK/ro/DemoPlate.zarr/B/0[23]/[01]/"
expect_output "ermission denied"
[ "$(find "$WORK/src/microscope" -name '*.tif' | wc -l)" = 16 ] || fail "source files were lost"
chmod -R u+w,a+rwX "$WORK/ro"
expect_exit 0 "${AS_NOBODY[@]}" "$IMX" "$EXP" resubmit
[ "$(checksums "$EXP")" = "$REF" ] || fail "read-only store: resubmit gave other pixels than an uninterrupted run"

# --- non-UTF-8 names: a folder "pl\xffte" with one file renamed to contain \xfe (also in the
# .mlf); extraction, verification and collect --delete treat them like any other.
ODD=$($PY -c "import os, sys; print(os.fsdecode(os.path.join(os.fsencode(sys.argv[1]), b'pl\xffte')))" "$WORK")
$PY - "$WORK/src/microscope" "$WORK" <<'PYEOF'
import os, shutil, sys
src, work = (os.fsencode(a) for a in sys.argv[1:3])
dst = os.path.join(work, b"pl\xffte")
shutil.copytree(src, dst)
name = sorted(n for n in os.listdir(dst) if n.endswith(b".tif"))[0]
new = name.replace(b"_T0001", b"_\xfe_T0001")
os.rename(os.path.join(dst, name), os.path.join(dst, new))
mlf = os.path.join(dst, b"MeasurementData.mlf")
data = open(mlf, "rb").read()
assert name in data
open(mlf, "wb").write(data.replace(name, new))
PYEOF
EXP2="$WORK/odd_exp"
# pugixml takes the name's bytes as they are; the catalog and the job files keep them exactly.
expect_exit 0 "$IMX" "$EXP2" create --source "$ODD"
expect_output "source planes 16 in 16 file"
expect_exit 0 "$IMX" "$EXP2" init --delete
expect_exit 0 "$IMX" "$EXP2" submit
expect_output "deleted 16 source file"
[ -z "$(find "$ODD" -name '*.tif')" ] || fail "source files with odd names were not deleted"
expect_exit 0 "$IMX" "$EXP2" status
expect_output "plates +1"
expect_exit 0 "$IMX" "$EXP2" info -p run -j 1
[ "$(checksums "$EXP2")" = "$REF" ] || fail "non-UTF-8 names: pixels differ from the reference"

# --- full store: a 3 MB tmpfs (the plate needs about 6 MB compressed)
mkdir "$WORK/small"
if mount -t tmpfs -o size=3m tmpfs "$WORK/small" 2>/dev/null; then
    trap 'umount "$WORK/small" 2>/dev/null; rm -rf "$WORK"' EXIT
    EXP3="$WORK/full_exp"
    expect_exit 0 "$IMX" "$EXP3" create --source "$WORK/src/microscope" --store "$WORK/small"
    expect_exit 0 "$IMX" "$EXP3" init
    expect_exit 4 "$IMX" "$EXP3" submit --cores 1
    expect_exit 0 "$IMX" "$EXP3" log -p run -j 1
    expect_output "No space left on device"
    expect_output "$WORK/small/DemoPlate.zarr"
    [ -z "$(find "$WORK/small" -name '.*.tmp')" ] || fail "a full store kept temporary files"
    mount -o remount,size=64m "$WORK/small"
    expect_exit 0 "$IMX" "$EXP3" resubmit
    [ "$(checksums "$EXP3")" = "$REF" ] || fail "full store: resubmit gave other pixels than an uninterrupted run"
    echo "full-store part ran"
else
    echo "NOTE: cannot mount a tmpfs here (no CAP_SYS_ADMIN?); the full-store part was not run"
fi
echo "PASS store_faults"
