#!/usr/bin/env bash
# Microscope files read straight from S3 (create --source s3://bucket/prefix), against a real S3
# server on loopback (Ceph radosgw, scripts/s3-local-up.sh; skipped when it cannot start). The
# demo plate and the container samples are uploaded with boto3; each plate extracted from S3 must
# have the same checksums as the one extracted from local disk, also with tiny read blocks (every
# TIFF and container read by many ranged GETs); `verify --sources` compares with the objects; a
# missing object fails its job with its name and resubmit finishes once it is back; --delete
# removes the image objects only after their planes are verified.
source "$(dirname "$0")/lib/common.bash"
need_oracle
$PY -c "import boto3" 2>/dev/null || skip "needs python3-boto3"
start_local_s3 "${IMX_S3_SOURCES_TEST_PORT:-17880}"
BUCKET=imx-src

# upload DIR PREFIX: every file below DIR as PREFIX/relative/path
upload() {
    $PY - "$ENDPOINT" "$BUCKET" "$1" "$2" <<'PYEOF'
import os, sys, boto3
endpoint, bucket, folder, prefix = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint)
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
for d, _, files in os.walk(folder):
    for f in files:
        path = os.path.join(d, f)
        s3.upload_file(path, bucket, prefix + "/" + os.path.relpath(path, folder))
PYEOF
}

# --- the demo CellVoyager plate: local reference, then from S3
demo_reference "$WORK/local"
upload "$MIC" cv

EXP="$WORK/s3src"
expect_exit 0 "$IMX" "$EXP" create --source "s3://$BUCKET/cv" --s3-endpoint "$ENDPOINT"
expect_output "format +cellvoyager"
expect_output "source +s3://$BUCKET/cv"
expect_exit 0 "$IMX" "$EXP" init --batch-size 4
expect_exit 0 "$IMX" "$EXP" submit
checksums "$EXP" >"$WORK/s3.sums"
cmp "$WORK/local.sums" "$WORK/s3.sums" || fail "planes extracted from S3 differ from those extracted from disk"
expect_exit 0 "$IMX" "$EXP" verify --sources
expect_output "72 of 72 stored plane.*72 compared with their source files"
# The stored plane equals the source TIFF (tifffile on the local copy of the same bytes).
expect_exit 0 "$IMX" "$EXP" get --well B03 --site 1 --channel 1 --zplane 2 -o "$WORK/p.tif"
$PY - "$(ls "$MIC"/*_B03_T0001F002L01A01Z03C02.tif)" "$WORK/p.tif" <<'PYEOF'
import sys, numpy as np, tifffile
a, b = tifffile.imread(sys.argv[1]), tifffile.imread(sys.argv[2])
assert a.dtype == b.dtype and np.array_equal(a, b), "plane from an S3 source differs from the TIFF"
PYEOF

# The measurement one prefix down (a CV8000 run folder): found from the listing, as on disk.
upload "$MIC" nested/Plate1_20260101_120000/Plate1
expect_exit 0 "$IMX" "$WORK/s3nested" create --source "s3://$BUCKET/nested" --s3-endpoint "$ENDPOINT"
expect_output "found +s3://$BUCKET/nested/Plate1_20260101_120000/Plate1 \(below --source s3://$BUCKET/nested\)"
expect_output "planes +72 to store"

# Tiny blocks: every TIFF (about 700 KB) read in 4 KiB ranged GETs, through libtiff's client I/O.
EXPB="$WORK/s3blocks"
expect_exit 0 "$IMX" "$EXPB" create --source "s3://$BUCKET/cv" --s3-endpoint "$ENDPOINT"
expect_exit 0 "$IMX" "$EXPB" init --batch-size 24
IMX_SOURCE_WHOLE_BYTES=0 IMX_SOURCE_BLOCK_BYTES=4096 expect_exit 0 "$IMX" "$EXPB" submit
checksums "$EXPB" >"$WORK/s3b.sums"
cmp "$WORK/local.sums" "$WORK/s3b.sums" || fail "planes read by small ranges differ"

# --- container files from S3 (the samples, where present): whole and ranged reads of CZI, ND2, LIF
containers=0
for rel in czi/aicspylibczi/CD_s_1_t_3_c_2_z_5.czi nd2/pims/cluster.nd2 lif/readlif/LeicaLASX_wavelength-sweep_example.lif; do
    [ -f "$SAMPLES/$rel" ] || { echo "NOTE: $rel absent; not tested"; continue; }
    name=$(basename "$rel")
    mkdir -p "$WORK/c/$name"
    cp "$SAMPLES/$rel" "$WORK/c/$name/"
    expect_exit 0 "$IMX" "$WORK/cl-$name" create --source "$WORK/c/$name"
    expect_exit 0 "$IMX" "$WORK/cl-$name" init
    expect_exit 0 "$IMX" "$WORK/cl-$name" submit
    upload "$WORK/c/$name" "containers/$name"
    # Default reads (these 0.5-3 MB files come whole), then 64 KiB ranged blocks.
    for mode in whole blocks; do
        exp="$WORK/cs-$mode-$name"
        expect_exit 0 "$IMX" "$exp" create --source "s3://$BUCKET/containers/$name" --s3-endpoint "$ENDPOINT"
        expect_exit 0 "$IMX" "$exp" init
        if [ "$mode" = blocks ]; then
            IMX_SOURCE_WHOLE_BYTES=0 IMX_SOURCE_BLOCK_BYTES=65536 expect_exit 0 "$IMX" "$exp" submit
        else
            expect_exit 0 "$IMX" "$exp" submit
        fi
        [ "$(checksums "$WORK/cl-$name")" = "$(checksums "$exp")" ] || fail "$name ($mode): S3 and local planes differ"
        checksums "$exp" | grep -q NULL && fail "$name ($mode): planes missing"
    done
    containers=$((containers + 1))
done
echo "containers read from S3: $containers"

# --- errors: a prefix with nothing under it; an object gone between create and run
expect_exit 3 "$IMX" "$WORK/none" create --source "s3://$BUCKET/no-such-prefix" --s3-endpoint "$ENDPOINT"
expect_output "s3://$BUCKET/no-such-prefix: no objects under this prefix"
upload "$MIC" cv-gone
EXPG="$WORK/gone"
expect_exit 0 "$IMX" "$EXPG" create --source "s3://$BUCKET/cv-gone" --s3-endpoint "$ENDPOINT"
expect_exit 0 "$IMX" "$EXPG" init --batch-size 6
GONE=$(basename "$(ls "$MIC"/*_B03_T0001F002L01A01Z03C02.tif)")
$PY -c "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1]).delete_object(Bucket=sys.argv[2], Key=sys.argv[3])" \
    "$ENDPOINT" "$BUCKET" "cv-gone/$GONE"
expect_exit 4 "$IMX" "$EXPG" submit
expect_exit 0 "$IMX" "$EXPG" status
expect_output "run jobs +2: 1 done, 1 failed"
expect_output "s3://$BUCKET/cv-gone/$GONE: no such object"
JOB=$(grep -l "$GONE" "$EXPG"/jobs/run/*/log.txt 2>/dev/null | head -1)
[ -n "$JOB" ] || { cat "$EXPG"/jobs/run/*/log.txt >&2; fail "no job log names the missing object $GONE"; }
grep -q "s3://$BUCKET/cv-gone/$GONE" "$JOB" || fail "the failed job's log does not name the object's s3:// path"
$PY -c "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1]).upload_file(sys.argv[4], sys.argv[2], sys.argv[3])" \
    "$ENDPOINT" "$BUCKET" "cv-gone/$GONE" "$MIC/$GONE"
expect_exit 0 "$IMX" "$EXPG" resubmit
cmp "$WORK/local.sums" <(checksums "$EXPG") || fail "checksums after resubmit differ"

# --- --delete: image objects go after verification; metadata and foreign objects stay
upload "$MIC" cv-del
$PY -c "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1]).put_object(Bucket=sys.argv[2], Key='cv-del2/keep.txt', Body=b'x')" "$ENDPOINT" "$BUCKET"
EXPD="$WORK/del"
expect_exit 0 "$IMX" "$EXPD" create --source "s3://$BUCKET/cv-del" --s3-endpoint "$ENDPOINT"
expect_exit 0 "$IMX" "$EXPD" init --delete --batch-size 12
expect_exit 0 "$IMX" "$EXPD" submit
expect_output "deleted 72 source file"
$PY - "$ENDPOINT" "$BUCKET" <<'PYEOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
left = [o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[2], Prefix="cv-del/").get("Contents", [])]
assert not [k for k in left if k.endswith(".tif")], left
assert any(k.endswith(".mlf") for k in left), left  # metadata is not a plane's file
other = [o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[2], Prefix="cv-del2/").get("Contents", [])]
assert other == ["cv-del2/keep.txt"], other
cv = [o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[2], Prefix="cv/").get("Contents", [])]
assert sum(k.endswith(".tif") for k in cv) == 72, len(cv)  # other experiments' sources untouched
PYEOF
cmp "$WORK/local.sums" <(checksums "$EXPD") || fail "checksums of the --delete run differ"
# No credential reached the workspace.
if grep -rqa -e "$AWS_SECRET_ACCESS_KEY" "$EXP" "$EXPD"; then fail "credentials were written into the workspace"; fi
echo "PASS s3_sources"
