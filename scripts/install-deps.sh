#!/usr/bin/env bash
# Installs the Debian 12 packages imextract builds, tests and runs with. Idempotent: does nothing
# when everything is there already. `--services` adds the loopback S3 gateway (Ceph radosgw) and
# SLURM the service tests start: installed here, once, because the tests run in parallel and two
# apt-get runs at once fail on dpkg's lock.
set -euo pipefail
services=0
[ "${1:-}" = --services ] && services=1
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtiff-dev libpng-dev libpugixml-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libsqlite3-dev libblosc-dev libzstd-dev libxxhash-dev libjxr-dev libopenjp2-7-dev zlib1g-dev libcurl4-openssl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # the sanitizer build uses clang, whose libFuzzer runs the fuzz targets
  clang libclang-rt-14-dev
  # independent test oracles (/usr/bin/python3) and tools the tests use
  python3 python3-numpy python3-zarr python3-numcodecs python3-tifffile python3-pil libtiff-tools util-linux time
  libjxr-tools  # JxrDecApp/JxrEncApp: the CZI JPEG-XR tests' independent route
  python3-boto3
  python3-jsonschema  # the OME-NGFF JSON schema test (../shared/ngff-schemas)
  # the Python module (python/): pybind11 and the headers of Debian's python3
  pybind11-dev python3-pybind11 python3-dev
)
# Node runs zarrita, the independent Zarr v3 reader of the NGFF 0.5 tests; a machine that has a
# node of its own keeps it.
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)
[ "$services" = 1 ] && PACKAGES+=(ceph-mon ceph-osd radosgw ceph-common curl slurmctld slurmd slurm-client munge)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Package installs try to start the daemons (munge, slurmctld, ceph); the tests start their own.
  policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null; $SUDO chmod 755 /usr/sbin/policy-rc.d; policy=1
  fi
  trap '[ "$policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# zarrita (npm, pinned) for the tests; a failure here only makes those tests skip.
NODE_ORACLE="${IMX_NODE_ORACLE:-/var/cache/imextract-tests/node}"
if [ ! -d "$NODE_ORACLE/node_modules/zarrita" ]; then
  $SUDO mkdir -p "$NODE_ORACLE"
  $SUDO npm install --silent --no-audit --no-fund --prefix "$NODE_ORACLE" zarrita@0.7.5 >/dev/null 2>&1 \
    && echo "install-deps: zarrita installed in $NODE_ORACLE" \
    || echo "install-deps: could not install zarrita from npm; the NGFF 0.5 reader tests will skip"
fi
