#!/usr/bin/env bash
# A plate in S3 read without its workspace: the demo plate converted to s3:// (its workspace on
# local disk, then deleted) is read by `get`, `verify` and the Python module from the plate alone
# (endpoint from ?endpoint= on the path, or from AWS_ENDPOINT_URL), plane for plane as the same
# plate converted to the filesystem. Against the loopback S3 server (scripts/s3-local-up.sh);
# skipped when it cannot start.
source "$(dirname "$0")/lib/common.bash"
need_oracle
$PY -c "import boto3" 2>/dev/null || skip "needs python3-boto3"
start_local_s3 "${IMX_S3_TEST_PORT:-17690}"
BUCKET=imx-bare
$PY -c "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])" "$ENDPOINT" "$BUCKET"

expect_exit 0 "$IMX" demo "$WORK/d" --no-run --rows 1 --cols 2 --channels 2 --zplanes 2
MIC="$WORK/d/microscope"
export XDG_STATE_HOME="$WORK/state"
expect_exit 0 "$IMX" convert "$MIC" "$WORK/fs"
expect_exit 0 "$IMX" convert "$MIC" "s3://$BUCKET/plates/run1" --s3-endpoint "$ENDPOINT"
[ -d "$XDG_STATE_HOME/imextract" ] || fail "convert kept no local workspace for the s3:// OUT"
rm -rf "$XDG_STATE_HOME"  # the workspace is gone: only the plate in S3 is left
PLATE="s3://$BUCKET/plates/run1/DemoPlate.zarr"

for well in B02 B03; do
    for site in 0 1; do
        for channel in 0 1; do
            for z in 0 1; do
                args=(--well $well --site $site --channel $channel --zplane $z)
                expect_exit 0 "$IMX" "$WORK/fs" get "${args[@]}" -o "$WORK/a.tif"
                expect_exit 0 "$IMX" "$PLATE?endpoint=$ENDPOINT" get "${args[@]}" -o "$WORK/b.tif"
                cmp -s "$WORK/a.tif" "$WORK/b.tif" || fail "${args[*]}: the S3 plate's plane differs"
            done
        done
    done
done
expect_exit 2 "$IMX" "$PLATE?endpoint=$ENDPOINT" get --well H12 --channel 0 -o "$WORK/x.tif"
expect_output "has no well H12 \(its wells: B02-B03\)"
AWS_ENDPOINT_URL="$ENDPOINT" expect_exit 0 "$IMX" "$PLATE" verify
expect_output "16 of 16 stored plane\(s\) read back and decoded"
# No plate at the prefix: refused as on the filesystem.
AWS_ENDPOINT_URL="$ENDPOINT" expect_exit 2 "$IMX" "s3://$BUCKET/plates/none.zarr" get --well B02 --channel 0 -o "$WORK/x.tif"

MODULE_DIR="$(dirname "$IMX")/python"
if compgen -G "$MODULE_DIR/imextract*.so" >/dev/null; then
    AWS_ENDPOINT_URL="$ENDPOINT" PYTHONPATH="$MODULE_DIR" $PY - "$WORK/fs" "$PLATE" <<'PYEOF'
import sys, numpy as np, imextract
e, b = imextract.Experiment(sys.argv[1]), imextract.Experiment(sys.argv[2])
assert b.bare
for attr in ("plates", "wells", "channels", "shape", "dtype", "levels"):
    assert getattr(b, attr) == getattr(e, attr), attr
for well in e.wells:
    for site in e.sites(well):
        for c in range(len(e.channels)):
            for level in range(e.levels):
                assert np.array_equal(b.get(well, site=site, channel=c, zplane=1, level=level),
                                      e.get(well, site=site, channel=c, zplane=1, level=level)), (well, site, c, level)
assert b.verify().decoded_only == 16
print("python: the S3 plate without its workspace reads as the filesystem experiment")
PYEOF
fi
echo "PASS bare_plate_s3"
