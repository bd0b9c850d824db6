#!/usr/bin/env bash
# Quick start: installs the packages, builds imextract and runs the demo: a synthetic CellVoyager
# plate extracted into an OME-Zarr HCS plate with the local engine and the filesystem store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release > /dev/null
dir="${1:-$(mktemp -d /tmp/imextract-demo.XXXXXX)}"
exec build/imextract demo "$dir"
