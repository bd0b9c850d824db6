#!/usr/bin/env bash
# ND2 version 2 (JPEG 2000 boxes): a file written by tests/oracle/make_nd2_legacy.py with Pillow's
# JPEG 2000 encoder (not our fixture writer) converts through the CLI, and every stored plane equals
# the pixels it encoded; a truncated copy is refused with the file and the reason.
source "$(dirname "$0")/lib/common.bash"
need_oracle
$PY -c "from PIL import features; assert features.check('jpg_2000')" 2>/dev/null || skip "Pillow lacks JPEG 2000"
mkdir -p "$WORK/src"
$PY "$ORACLE/make_nd2_legacy.py" write "$WORK/src/legacy.nd2"
expect_exit 0 "$IMX" "$WORK/e" create --source "$WORK/src"
expect_output "format +nd2"
expect_output "channels +2 \(DAPI, GFP\)"
expect_output "tpoints +2"
expect_output "sites +2"
expect_output "plane +24x20 uint16, pixel 0.645"
expect_exit 0 "$IMX" "$WORK/e" init
expect_exit 0 "$IMX" "$WORK/e" submit
expect_exit 0 $PY "$ORACLE/make_nd2_legacy.py" check "$WORK/e/src.zarr"
expect_output "nd2 v2 oracle: 8 planes match"
expect_exit 0 "$IMX" "$WORK/e" verify --sources

mkdir -p "$WORK/cut"
head -c 2000 "$WORK/src/legacy.nd2" > "$WORK/cut/legacy.nd2"
expect_exit 3 "$IMX" "$WORK/c" create --source "$WORK/cut"
expect_output "cut/legacy.nd2: offset [0-9]+: no \"LABORATORY IMAGING ND BOX MAP 00\" signature"
echo "PASS nd2_legacy"
