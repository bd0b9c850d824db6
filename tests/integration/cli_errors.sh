#!/usr/bin/env bash
# Mistakes on the command line are named with the fix: a mistyped phase or option with the closest
# valid one, -v after the phase, usage lines with EXPERIMENT, a plane asked for before it was
# extracted (exit 7), and a well, channel, site or z-plane that does not exist, listing what does.
source "$(dirname "$0")/lib/common.bash"
expect_exit 0 "$IMX" demo --no-run "$WORK/d"
EXP="$WORK/exp"
expect_exit 2 "$IMX" "$EXP" creat --source "$WORK/d/microscope"
expect_output "unknown phase 'creat'; did you mean 'create'?"
expect_exit 2 "$IMX" "$EXP" create --sourse "$WORK/d/microscope"
expect_output "create: unknown option --sourse; did you mean --source?"
[ -e "$EXP/catalog.sqlite" ] && fail "a refused create wrote a catalog"
expect_exit 2 "$IMX" "$EXP" get --wel B02 --channel 0 -o "$WORK/x.tif"
expect_output "did you mean --well?"
# -v anywhere: after the phase too (it was refused: "The following argument was not expected: -v").
expect_exit 0 "$IMX" "$EXP" create --source "$WORK/d/microscope" -v
expect_exit 0 "$IMX" "$EXP" get --help
expect_output "Usage: imextract \[-v\] EXPERIMENT get \[options\]"
expect_exit 0 "$IMX" --help
[ "$(grep -c 'Usage:' "$WORK/last.out")" = 1 ] || fail "top-level help prints Usage: $(grep -c 'Usage:' "$WORK/last.out") times"
# Not extracted yet: before init and after init, before submit.
expect_exit 7 "$IMX" "$EXP" get --well B02 --channel 0 -o "$WORK/x.tif"
expect_output "has not been extracted yet: run \`imextract $EXP submit\`"
expect_exit 0 "$IMX" "$EXP" init
expect_exit 7 "$IMX" "$EXP" get --well B02 --channel 0 -o "$WORK/x.tif"
expect_exit 0 "$IMX" "$EXP" submit
expect_exit 0 "$IMX" "$EXP" get --well B02 --channel A01_C02 -o "$WORK/x.tif"
# What does not exist is listed.
expect_exit 2 "$IMX" "$EXP" get --well H12 --channel 0 -o "$WORK/x.tif"
expect_output "plate DemoPlate has no well H12 \(its wells: B02-B04, C02-C04\)"
expect_exit 2 "$IMX" "$EXP" get --well B02 --channel 7 -o "$WORK/x.tif"
expect_output "channel 7 does not exist \(channels: 0-1\)"
expect_exit 2 "$IMX" "$EXP" get --well B02 --channel GFP -o "$WORK/x.tif"
expect_output "no channel named 'GFP'"
expect_exit 2 "$IMX" "$EXP" get --well B02 --site 2 --channel 0 -o "$WORK/x.tif"
expect_output "site 2 does not exist in well B02 \(sites: 0-1\)"
expect_exit 2 "$IMX" "$EXP" get --well B02 --zplane 3 --channel 0 -o "$WORK/x.tif"
expect_output "zplane 3 does not exist in plate DemoPlate \(zplanes: 0-2\)"
# An experiment folder that cannot be made: named with the OS reason, storage exit code.
: > "$WORK/a_file"
expect_exit 6 "$IMX" "$WORK/a_file/exp" create --source "$WORK/d/microscope"
expect_output "a_file/exp: cannot create the experiment folder: Not a directory"
echo "PASS cli_errors"
