#!/usr/bin/env bash
# Metadata that names a file outside the source folder ('../x', or a symlink leading out) makes
# create fail with an input error (exit 3) naming the file, writes no experiment, and opens nothing
# outside the folder (checked with strace when it is installed).
source "$(dirname "$0")/lib/common.bash"
expect_exit 0 "$IMX" demo "$WORK/d" --no-run
planes=("$WORK/d/microscope/"*.tif)
mkdir -p "$WORK/outside"
cp "${planes[0]}" "$WORK/outside/secret.tif"

# An OME-TIFF companion file whose only TiffData names FILE.
companion() {
    cat <<XML
<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="16" SizeY="8"
 SizeZ="1" SizeC="1" SizeT="1"><TiffData IFD="0" PlaneCount="1"><UUID FileName="$1">urn:uuid:x</UUID></TiffData>
</Pixels></Image></OME>
XML
}
# create_refused SOURCE PATTERN: create fails with exit 3 and PATTERN, and no file outside is opened.
create_refused() {
    rm -rf "$WORK/e"
    expect_exit 3 "$IMX" "$WORK/e" create --source "$1"
    expect_output "$2"
    [ ! -e "$WORK/e/catalog.sqlite" ] || fail "create wrote a catalog for $1"
    if command -v strace >/dev/null; then
        rm -rf "$WORK/e"
        strace -f -e trace=open,openat -o "$WORK/trace" "$IMX" "$WORK/e" create --source "$1" >/dev/null 2>&1 || true
        ! grep -q "$WORK/outside" "$WORK/trace" || { grep "$WORK/outside" "$WORK/trace" >&2; fail "opened a file outside $1"; }
    fi
}

mkdir -p "$WORK/ome_dotdot"
companion "../outside/secret.tif" > "$WORK/ome_dotdot/set.companion.ome"
create_refused "$WORK/ome_dotdot" "set.companion.ome: OME-XML refers to '\.\./outside/secret.tif', which is refused: .*leaves the source folder"

mkdir -p "$WORK/ome_link"
companion "plane.tif" > "$WORK/ome_link/set.companion.ome"
ln -s "$WORK/outside/secret.tif" "$WORK/ome_link/plane.tif"
create_refused "$WORK/ome_link" "ome_link/plane.tif: resolves outside the source folder"

# A Harmony export whose index is a link to another export's.
mkdir -p "$WORK/harmony/Images"
printf '<?xml version="1.0"?><EvaluationInputData><Images/></EvaluationInputData>' > "$WORK/outside/Index.xml"
ln -s "$WORK/outside/Index.xml" "$WORK/harmony/Images/Index.xml"
create_refused "$WORK/harmony" "Images/Index.xml: resolves outside the source folder"
echo "PASS folder_confinement"
