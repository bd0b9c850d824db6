#!/usr/bin/env bash
# Installs the Debian 12 packages imextract builds, tests and runs with. Idempotent: does nothing
# when everything is there already.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtiff-dev libpng-dev libpugixml-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libsqlite3-dev libblosc-dev libzstd-dev libxxhash-dev libcurl4-openssl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # independent test oracles (/usr/bin/python3) and tools the tests use
  python3 python3-numpy python3-zarr python3-numcodecs python3-tifffile python3-pil libtiff-tools util-linux time
  python3-boto3
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
