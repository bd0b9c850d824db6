#!/usr/bin/env bash
# Clear errors and the documented exit codes for wrong use.
source "$(dirname "$0")/lib/common.bash"
expect_exit 2 "$IMX" "$WORK/nothing" status
expect_output "not an imextract experiment"
expect_exit 3 "$IMX" "$WORK/e" create --source "$WORK/does-not-exist"
expect_output "does-not-exist"
mkdir -p "$WORK/empty"
expect_exit 3 "$IMX" "$WORK/e" create --source "$WORK/empty"
expect_output "no supported microscope layout"
expect_exit 2 "$IMX" "$WORK/e" create --source "$WORK/empty" --compression gzip
expect_output "unknown compression"
expect_exit 2 "$IMX" "$WORK/e" bogus
expect_exit 0 "$IMX" demo --no-run "$WORK/d"
expect_exit 0 "$IMX" "$WORK/e" create --source "$WORK/d/microscope"
expect_exit 2 "$IMX" "$WORK/e" create --source "$WORK/d/microscope"
expect_output "already exists"
expect_exit 2 "$IMX" "$WORK/e" submit
expect_output "run init first"
expect_exit 0 "$IMX" "$WORK/e" init
expect_exit 2 "$IMX" "$WORK/e" run -j 7
expect_output "does not exist"
# A second coordinator on the same experiment is refused while the first holds the lock.
( flock -x "$WORK/e/.lock" sleep 3 ) &
sleep 0.5
expect_exit 2 "$IMX" "$WORK/e" submit
expect_output "another imextract command"
wait
expect_exit 0 "$IMX" formats
expect_output "cellvoyager"
echo "PASS cli_errors"
