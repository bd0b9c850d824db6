#!/usr/bin/env bash
# The S3 store against a real S3 server on loopback (Ceph radosgw, started by
# scripts/s3-local-up.sh; skipped when it cannot start). The demo plate is written to S3 and to the
# filesystem; the S3 copy must have the same checksums, read back pixel-exact through our `get`,
# through boto3 + numcodecs and through zarr-python on a boto3-backed store; wrong credentials
# fail clearly without echoing the secret; a gateway stopped mid-run fails the jobs and `resubmit`
# finishes once it is back; multipart and parallel PUTs run in the live unit tests.
source "$(dirname "$0")/lib/common.bash"
need_oracle
$PY -c "import boto3, numcodecs" 2>/dev/null || skip "needs python3-boto3 and python3-numcodecs"
start_local_s3 "${IMX_S3_TEST_PORT:-17680}"
REAL_SECRET=$AWS_SECRET_ACCESS_KEY
BUCKET=imx-test

$PY - "$ENDPOINT" "$BUCKET" <<'PYEOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
s3.create_bucket(Bucket=sys.argv[2])
PYEOF

# The same demo plate on the filesystem store: the reference.
demo_reference "$WORK/fs"
FSPLATE=$(find "$WORK/fs" -maxdepth 1 -name '*.zarr' | head -1)
PLATENAME=$(basename "$FSPLATE")

# --- the plate on S3
EXP="$WORK/s3exp"
expect_exit 0 "$IMX" "$EXP" create --source "$MIC" --store "s3://$BUCKET/run1" --s3-endpoint "$ENDPOINT"
expect_exit 0 "$IMX" "$EXP" status
expect_output "store +s3://$BUCKET/run1\?endpoint="
expect_exit 0 "$IMX" "$EXP" init --batch-size 4
expect_exit 0 "$IMX" "$EXP" submit
checksums "$EXP" >"$WORK/s3.sums"
cmp "$WORK/fs.sums" "$WORK/s3.sums" || fail "checksums on S3 differ from the filesystem store"
expect_exit 0 "$IMX" "$EXP" status
expect_output "stored planes 72 \(72 verified\)"
expect_exit 0 "$IMX" "$EXP" verify
expect_exit 0 "$IMX" "$EXP" collect
expect_output "72 of 72|72 plane"
# The Python module (when built) reads the S3 plate as it reads the filesystem one.
if compgen -G "$(dirname "$IMX")/python/imextract*.so" >/dev/null; then
  PYTHONPATH="$(dirname "$IMX")/python" $PY - "$EXP" "$WORK/fs" <<'PYEOF'
import sys, numpy as np, imextract
s3, fs = imextract.Experiment(sys.argv[1]), imextract.Experiment(sys.argv[2])
assert s3.wells == fs.wells and s3.shape == fs.shape, (s3.wells, s3.shape)
for well in s3.wells:
    for level in (0, 2):
        assert np.array_equal(s3.get(well, site=1, channel=1, zplane=2, level=level),
                              fs.get(well, site=1, channel=1, zplane=2, level=level)), (well, level)
assert s3.verify().ok == 72
print("python module: the S3 plate reads as the filesystem plate")
PYEOF
fi
# No credential may reach the workspace (catalog, job files, logs).
if grep -rqa -e "$REAL_SECRET" -e "$AWS_ACCESS_KEY_ID" "$EXP"; then fail "credentials were written into the workspace"; fi

# get: one plane through our S3 reader, compared with its source TIFF by tifffile.
SRCTIF=$(ls "$MIC"/*_B03_T0001F002L01A01Z03C02.tif)
expect_exit 0 "$IMX" "$EXP" get --well B03 --site 1 --channel 1 --zplane 2 -o "$WORK/p.tif"
$PY - "$SRCTIF" "$WORK/p.tif" <<'PYEOF'
import sys, numpy as np, tifffile
a, b = tifffile.imread(sys.argv[1]), tifffile.imread(sys.argv[2])
assert a.dtype == b.dtype and np.array_equal(a, b), "get from S3 differs from the source plane"
PYEOF

# Tiled and sharded on S3 (the store is below the array format): same checksums; a region of a
# plane read through our S3 reader equals that rectangle of the source TIFF.
expect_exit 0 "$IMX" "$WORK/s3tiles" create --source "$MIC" --store "s3://$BUCKET/tiles" --s3-endpoint "$ENDPOINT" \
    --ngff 0.5 --shard field --chunk 128,192
expect_exit 0 "$IMX" "$WORK/s3tiles" init
expect_exit 0 "$IMX" "$WORK/s3tiles" submit
[ "$(checksums "$WORK/s3tiles")" = "$(cat "$WORK/fs.sums")" ] || fail "tiled plate on S3: checksums differ"
expect_exit 0 "$IMX" "$WORK/s3tiles" get --well B03 --site 1 --channel 1 --zplane 2 --region 100,150,200,250 -o "$WORK/r.tif"
$PY -c "
import sys, numpy as np, tifffile
assert np.array_equal(tifffile.imread(sys.argv[2]), tifffile.imread(sys.argv[1])[100:300, 150:400])
" "$SRCTIF" "$WORK/r.tif"

# boto3: the object listing equals the filesystem plate's files; every chunk decodes (numcodecs)
# to the filesystem plate's pixels; zarr-python reads the whole S3 plate through a boto3 mapping.
# (s3fs, zarr's usual S3 route, is not packaged in Debian 12.)
$PY - "$ENDPOINT" "$BUCKET" "run1/$PLATENAME" "$FSPLATE" <<'PYEOF'
import sys, os, json, collections.abc, boto3, numcodecs, numpy as np, zarr
endpoint, bucket, prefix, fsplate = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint)
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/", PaginationConfig={"PageSize": 50}):
    keys += [o["Key"][len(prefix) + 1:] for o in page.get("Contents", [])]
files = sorted(os.path.relpath(os.path.join(d, f), fsplate) for d, _, fs in os.walk(fsplate) for f in fs)
assert sorted(keys) == files, (len(keys), len(files), sorted(set(keys) ^ set(files))[:5])
fsroot = zarr.open(fsplate, mode="r")
chunks = 0
for k in keys:
    parts = k.split("/")
    # Metadata, not chunks: Zarr documents, the OME-XML group, the channel statistics.
    if parts[-1].startswith(".") or parts[0] == "OME" or k == "imextract_channel_stats.json":
        continue
    # B/03/0/L/t/c/z/y/x: a chunk of resolution level L
    arr_path, idx = "/".join(parts[:4]), tuple(int(p) for p in parts[4:])
    meta = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "/" + arr_path + "/.zarray")["Body"].read())
    raw = s3.get_object(Bucket=bucket, Key=prefix + "/" + k)["Body"].read()
    codec = numcodecs.get_codec(meta["compressor"]) if meta["compressor"] else None
    data = codec.decode(raw) if codec else raw
    plane = np.frombuffer(data, dtype=np.dtype(meta["dtype"])).reshape(meta["chunks"])
    ref = fsroot[arr_path][idx[0]:idx[0] + 1, idx[1]:idx[1] + 1, idx[2]:idx[2] + 1]
    assert np.array_equal(plane, ref), k
    chunks += 1
assert chunks == 72 * 3, chunks  # 72 planes, 3 resolution levels (640 px -> 320 -> 160)

class S3Map(collections.abc.MutableMapping):  # read-only: writes would be a test bug
    def __setitem__(self, key, value):
        raise PermissionError(key)
    def __delitem__(self, key):
        raise PermissionError(key)
    def __getitem__(self, key):
        try:
            return s3.get_object(Bucket=bucket, Key=prefix + "/" + key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            raise KeyError(key)
    def __iter__(self):
        return iter(keys)
    def __len__(self):
        return len(keys)
s3root = zarr.open_group(store=zarr.storage.KVStore(S3Map()), mode="r")
assert s3root.attrs["plate"] == fsroot.attrs["plate"]
n = 0
for w in fsroot.attrs["plate"]["wells"]:
    for field in fsroot[w["path"]].group_keys():
        a = s3root[w["path"] + "/" + field + "/0"][...]
        assert np.array_equal(a, fsroot[w["path"] + "/" + field + "/0"][...])
        n += 1
assert n == 12, n
print(f"boto3: {len(keys)} objects, {chunks} chunks decoded; zarr-python: {n} images equal")
PYEOF

# --- wrong secret: a clear error naming the bucket and the server's code, no secret echoed.
expect_exit 0 "$IMX" "$WORK/bad" create --source "$MIC" --store "s3://$BUCKET/bad" --s3-endpoint "$ENDPOINT"
AWS_SECRET_ACCESS_KEY=not-the-secret-XYZ123 expect_exit 6 "$IMX" "$WORK/bad" init
expect_output "s3://$BUCKET/bad.*403 SignatureDoesNotMatch.*check AWS_SECRET_ACCESS_KEY"
if grep -q "not-the-secret-XYZ123" "$WORK/last.out"; then fail "the secret was echoed"; fi
# A missing bucket names the bucket.
expect_exit 0 "$IMX" "$WORK/nob" create --source "$MIC" --store "s3://no-such-bucket-imx/p" --s3-endpoint "$ENDPOINT"
expect_exit 6 "$IMX" "$WORK/nob" init
expect_output "s3://no-such-bucket-imx.*404 NoSuchBucket"

# --- live store tests: multipart round trip, parallel PUTs, listing with continuation, prefix delete.
TESTS="$(dirname "$IMX")/tests/imextract_tests"
if [ -x "$TESTS" ]; then
    IMX_S3_TEST_URL="s3://$BUCKET/live?endpoint=$ENDPOINT" expect_exit 0 "$TESTS" --gtest_filter='S3Live*'
    expect_output "PASSED"
    if grep -q "SKIPPED" "$WORK/last.out"; then cat "$WORK/last.out" >&2; fail "live S3 unit tests skipped"; fi
    # Virtual-hosted addressing: BUCKET.localhost (the server's rgw dns name is localhost).
    IMX_S3_TEST_URL="s3://$BUCKET/virt?endpoint=${ENDPOINT/127.0.0.1/localhost}&addressing=virtual" \
        expect_exit 0 "$TESTS" --gtest_filter='S3Live.KeysWithSpecialCharacters'
    expect_output "PASSED"
else
    fail "no unit test binary at $TESTS"
fi

# --- the gateway stops mid-run: jobs fail cleanly (exit 4); after a restart resubmit finishes.
EXP2="$WORK/s3exp2"
expect_exit 0 "$IMX" "$EXP2" create --source "$MIC" --store "s3://$BUCKET/run2" --s3-endpoint "$ENDPOINT"
expect_exit 0 "$IMX" "$EXP2" init --batch-size 1
export IMX_S3_RETRIES=1
set +e
"$IMX" "$EXP2" submit --max-parallel 1 >"$WORK/submit2.out" 2>&1 &
SUBMIT=$!
for _ in $(seq 1 600); do
    grep -qs '"done"' "$EXP2"/jobs/run/*/state.json && break
    sleep 0.05
done
bash "$DOWN" --gateway-only
wait "$SUBMIT"
rc=$?
set -e
if [ "$rc" = 0 ]; then
    echo "NOTE: every job finished before the gateway stopped; the mid-run failure was not exercised"
else
    [ "$rc" = 4 ] || { cat "$WORK/submit2.out" >&2; fail "submit with the gateway down exited $rc, not 4"; }
    expect_exit 0 "$IMX" "$EXP2" status
    expect_output "run jobs +12: [0-9]+ done, [1-9][0-9]* failed"
    expect_exit 0 "$IMX" "$EXP2" log -p run -j 12
    expect_output "s3://$BUCKET/run2.*(Couldn't connect|gave up)"
    SETTINGS=$(bash "$UP" 2>"$WORK/up.err") || { cat "$WORK/up.err" >&2; fail "the gateway did not restart"; }
    expect_exit 0 "$IMX" "$EXP2" resubmit
fi
unset IMX_S3_RETRIES
checksums "$EXP2" >"$WORK/s3b.sums"
cmp "$WORK/fs.sums" "$WORK/s3b.sums" || fail "checksums after resubmit differ from the filesystem store"
expect_exit 0 "$IMX" "$EXP2" verify

# cleanup aborts multipart uploads a killed job left under the store's prefix (and only there);
# init removes the previous plate by listing its prefix.
$PY - "$ENDPOINT" "$BUCKET" start <<'PYEOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
for key in ("run2/DemoPlate.zarr/B/02/0/0/9/9/9/0/0", "elsewhere/big.bin"):
    up = s3.create_multipart_upload(Bucket=sys.argv[2], Key=key)
    s3.upload_part(Bucket=sys.argv[2], Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 1000)
PYEOF
expect_exit 0 "$IMX" "$EXP2" cleanup
$PY - "$ENDPOINT" "$BUCKET" <<'PYEOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
left = sorted(u["Key"] for u in s3.list_multipart_uploads(Bucket=sys.argv[2]).get("Uploads", []))
assert left == ["elsewhere/big.bin"], left
PYEOF
expect_exit 0 "$IMX" "$EXP2" init --batch-size 100
expect_output "removed [0-9]+ files of a previous run from s3://"
# convert to an s3:// OUT: the workspace on local disk under XDG_STATE_HOME, the reference's
# pixels; a second run writes nothing.
export XDG_STATE_HOME="$WORK/state"
expect_exit 0 "$IMX" convert "$MIC" "s3://$BUCKET/converted" --s3-endpoint "$ENDPOINT"
expect_output "workspace +$WORK/state/imextract/s3/$BUCKET/converted"
checksums "$WORK/state/imextract/s3/$BUCKET/converted" | cmp -s - "$WORK/fs.sums" || fail "convert to S3 stored other pixels"
expect_exit 0 "$IMX" convert "$MIC" "s3://$BUCKET/converted" --s3-endpoint "$ENDPOINT"
expect_output "already converted, every plane stored and verified"
echo "PASS s3_store"
