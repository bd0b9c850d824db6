#!/usr/bin/env bash
# Permissions found before any job runs, each named with the OS reason: a source image file this
# user may not read (create: exit 3), an OUT or store folder it may not write (convert, init:
# exit 6). As root the commands run without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (setpriv),
# so file modes apply to them as to anyone else.
source "$(dirname "$0")/lib/common.bash"
RUN=()
if [ "$(id -u)" = 0 ]; then
    command -v setpriv > /dev/null || skip "running as root without setpriv (util-linux) to drop the DAC capabilities"
    RUN=(setpriv --bounding-set -dac_override,-dac_read_search)
fi
expect_exit 0 "$IMX" demo --no-run "$WORK/d"
MIC="$WORK/d/microscope"
locked=$(find "$MIC" -name '*C02.tif' | sort | head -1)
chmod 000 "$locked"
expect_exit 3 "${RUN[@]}" "$IMX" "$WORK/e1" create --source "$MIC"
expect_output "$locked: Permission denied: 1 image file of the source cannot be read by this user"
[ -e "$WORK/e1/catalog.sqlite" ] && fail "create wrote a catalog despite an unreadable file"
expect_exit 3 "${RUN[@]}" "$IMX" convert "$MIC" "$WORK/o1"
expect_output "Permission denied"
chmod 644 "$locked"
mkdir "$WORK/ro" && chmod 555 "$WORK/ro"
expect_exit 6 "${RUN[@]}" "$IMX" convert "$MIC" "$WORK/ro/out"
expect_output "$WORK/ro/out/.imextract: cannot create the workspace: Permission denied \(give an OUT in a folder you can write\)"
expect_exit 0 "${RUN[@]}" "$IMX" "$WORK/e2" create --source "$MIC" --store "$WORK/ro/store"
expect_exit 6 "${RUN[@]}" "$IMX" "$WORK/e2" init
expect_output "$WORK/ro/store/DemoPlate.zarr: cannot create folder: Permission denied"
[ -e "$WORK/e2/jobs/batches.json" ] && fail "init planned jobs for a store it cannot write"
expect_exit 2 "${RUN[@]}" "$IMX" "$WORK/e2" submit
expect_output "no run jobs; run init first"
echo "PASS unreadable_paths"
