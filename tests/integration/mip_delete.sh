#!/usr/bin/env bash
# --mip stores one projected plane per site/channel/tpoint; init --delete lets collect remove the
# source TIFFs, and only after every plane is verified. Sources are untouched without --delete.
source "$(dirname "$0")/lib/common.bash"
need_oracle
expect_exit 0 "$IMX" demo --no-run "$WORK/d"
M="$WORK/d/microscope"
cp -a "$M" "$WORK/copy"
# Without --delete nothing is touched.
expect_exit 0 "$IMX" "$WORK/e1" create --source "$WORK/copy" --compression zstd
expect_exit 0 "$IMX" "$WORK/e1" init
expect_exit 0 "$IMX" "$WORK/e1" submit
diff -r "$M" "$WORK/copy" > /dev/null || fail "sources changed without --delete"

expect_exit 0 "$IMX" "$WORK/e2" create --source "$M" --mip --compression blosc-lz4
expect_output "zplanes +3"
expect_exit 0 "$IMX" "$WORK/e2" init --delete -b 3
for j in 1 2 3 4; do expect_exit 0 "$IMX" "$WORK/e2" run -j $j; done
# A dry run shows what would go and deletes nothing.
expect_exit 0 "$IMX" "$WORK/e2" collect --dry-run
expect_output "would delete 72 source file"
[ "$(ls "$M"/*.tif | wc -l)" = 72 ] || fail "dry run deleted files"
expect_exit 0 "$IMX" "$WORK/e2" collect
$PY "$ORACLE/check_cellvoyager_plate.py" "$WORK/copy" "$WORK/e2"/*.zarr --mip
expect_exit 0 "$IMX" "$WORK/e2" status
expect_output "stored planes 24 \(24 verified\)"
expect_output "72 deleted after verification"
[ "$(ls "$M"/*.tif 2>/dev/null | wc -l)" = 0 ] || fail "source TIFFs left after --delete"
[ -f "$M/MeasurementData.mlf" ] || fail "metadata file deleted"
expect_exit 0 "$IMX" "$WORK/e2" log -p collect
expect_output "deleted 72 source file"
expect_output "MB freed"
# Planes still come back through get after the sources are gone.
expect_exit 0 "$IMX" "$WORK/e2" get --well C04 --site 1 --channel 1 -o "$WORK/mip.tif"
$PY - "$WORK/copy" "$WORK/mip.tif" <<'PYEOF'
import glob, sys, numpy as np, tifffile
files = sorted(glob.glob(sys.argv[1] + "/*_C04_T0001F002L01A01Z0?C02.tif"))
assert len(files) == 3, files
want = np.max([tifffile.imread(f) for f in files], axis=0)
assert np.array_equal(tifffile.imread(sys.argv[2]), want), "MIP differs"
print("get after delete: MIP equals max over z of the sources")
PYEOF

# Symlinks: one source TIFF replaced by a link to a copy outside the folder (refused when read, so
# its plane is never stored and nothing behind the link is deleted), another by a link to a file
# inside the folder (read, but not deleted: only regular files are).
cp -a "$WORK/copy" "$WORK/links"
mkdir "$WORK/outside"
OUT_T=$(ls "$WORK/links"/*_B03_T0001F001L01A01Z02C01.tif)
IN_T=$(ls "$WORK/links"/*_C02_T0001F001L01A01Z01C01.tif)
mv "$OUT_T" "$WORK/outside/"
ln -s "$WORK/outside/$(basename "$OUT_T")" "$OUT_T"
mv "$IN_T" "$WORK/links/kept_target.tif"
ln -s kept_target.tif "$IN_T"
expect_exit 0 "$IMX" "$WORK/e3" create --source "$WORK/links"
expect_exit 0 "$IMX" "$WORK/e3" init --delete
expect_exit 4 "$IMX" "$WORK/e3" submit
expect_exit 0 "$IMX" "$WORK/e3" log -p run -j 1
expect_output "resolves outside the source folder"
expect_exit 5 "$IMX" "$WORK/e3" collect
expect_output "not a regular file \\(symlink\\?\\); not deleting it"
[ -f "$WORK/outside/$(basename "$OUT_T")" ] || fail "the file behind an outside link was deleted"
[ -L "$OUT_T" ] && [ -L "$IN_T" ] || fail "a symlink was deleted"
[ -f "$WORK/links/kept_target.tif" ] || fail "an unlisted file was deleted"
[ "$(ls "$WORK/links"/*.tif | wc -l)" = 3 ] || fail "expected only the two links and the unlisted file to stay"
echo "PASS mip_delete"
