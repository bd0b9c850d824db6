#!/usr/bin/env bash
# Parallel PUT throughput against the loopback S3 server (scripts/s3-local-up.sh): one thread (one
# connection) against 2, 4 and 8 threads sharing the store's connection pool.
# usage: bench/s3_put.sh [COUNT] [SIZE]   (defaults: 400 objects of 256 KiB, a compressed chunk)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COUNT=${1:-400} SIZE=${2:-262144}
cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIMX_BUILD_BENCH=ON >/dev/null
ninja -C "$ROOT/build" s3_put >/dev/null
eval "$("$ROOT/scripts/s3-local-up.sh")"
/usr/bin/python3 -c "
import boto3, os
s3 = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
if 'imx-bench' not in [b['Name'] for b in s3.list_buckets()['Buckets']]: s3.create_bucket(Bucket='imx-bench')"
for t in 1 2 4 8; do "$ROOT/build/bench/s3_put" "s3://imx-bench/p" "$t" "$COUNT" "$SIZE"; done
echo "(the server stays up; scripts/s3-local-down.sh stops it)"
