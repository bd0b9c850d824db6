#!/usr/bin/env bash
# Every node (plate, wells, field images) of converted plates passes the official OME-NGFF JSON
# schemas, normal and strict, for 0.4 and 0.5 (Debian python3-jsonschema, schemas from
# ../shared/ngff-schemas): the demo plate in 0.4 (one level), 0.5 sharded with a pyramid, and
# multiplexing cycles; a CellVoyager, a MetaXpress, a Harmony and an OME-TIFF sample where
# ../shared/samples exist. The same plates' field images carry the catalog's stage positions as
# translations (check_translations.py), or none where the layout records no positions, and their
# OME/METADATA.ome.xml agrees with the plate and the catalog (check_ome_xml.py, xml.etree).
source "$(dirname "$0")/lib/common.bash"
SCHEMAS="$SRC/../shared/ngff-schemas"
[ -d "$SCHEMAS/0.4" ] && [ -d "$SCHEMAS/0.5" ] || skip "no ../shared/ngff-schemas folder"
$PY -c "import jsonschema" 2>/dev/null || skip "the schema test needs python3-jsonschema"
CHECK="$PY $ORACLE/check_ngff_schemas.py $SCHEMAS"

# convert NAME SOURCE [create options...]: create, init, submit (which collects).
convert() {
    local name=$1 src=$2; shift 2
    expect_exit 0 "$IMX" "$WORK/$name" create --source "$src" "$@"
    expect_exit 0 "$IMX" "$WORK/$name" init -b 4
    expect_exit 0 "$IMX" "$WORK/$name" submit
}

SMALL=(--width 64 --height 48)
expect_exit 0 "$IMX" demo --no-run "$WORK/d" "${SMALL[@]}"
expect_exit 0 "$IMX" demo --no-run "$WORK/d2" --seed 12 --rows 1 --cols 2 "${SMALL[@]}"
MIC="$WORK/d/microscope"
convert demo04 "$MIC"
convert demo05 "$MIC" --ngff 0.5 --shard field --levels 3
convert cycles "$MIC" --source "$WORK/d2/microscope" --mode multiplexing --ngff 0.5
$CHECK "$WORK"/demo04/*.zarr "$WORK"/demo05/*.zarr "$WORK"/cycles/*.zarr
TRANSLATIONS="$PY $ORACLE/check_translations.py"
OMEXML="$PY $ORACLE/check_ome_xml.py"
for e in demo04 demo05 cycles; do
    $TRANSLATIONS "$WORK/$e" "$WORK"/$e/*.zarr --positioned
    $OMEXML "$WORK/$e" "$WORK"/$e/*.zarr
done
expect_exit 0 "$IMX" "$WORK/demo04" status
expect_output "^positions +12 of 12 sites have a stage position"

# The check fails on a plate that lacks what the strict schemas ask for.
plate=$(echo "$WORK"/demo04/*.zarr)
cp "$plate/.zattrs" "$WORK/zattrs.good"
$PY -c "import json,sys; a=json.load(open(sys.argv[1])); del a['plate']['acquisitions'][0]['maximumfieldcount']; json.dump(a, open(sys.argv[1], 'w'))" "$plate/.zattrs"
expect_exit 1 $CHECK "$plate"
expect_output "strict_plate.schema at 'plate/acquisitions/0': 'maximumfieldcount' is a required property"
cp "$WORK/zattrs.good" "$plate/.zattrs"

[ -d "$SAMPLES" ] || skip "demo plates pass; no ../shared/samples folder for the vendor samples"
plates=()
if [ -d "$SAMPLES/yokogawa/fractal-tasks-core_png" ]; then
    convert cv "$SAMPLES/yokogawa/fractal-tasks-core_png"
    plates+=("$WORK"/cv/*.zarr)
    $TRANSLATIONS "$WORK/cv" "$WORK"/cv/*.zarr --positioned
fi
if [ -d "$SAMPLES/metaxpress/faim-ipa_SingleChannel" ]; then
    convert mx "$SAMPLES/metaxpress/faim-ipa_SingleChannel" --ngff 0.5
    plates+=("$WORK"/mx/*.zarr)
    # Stage positions per site from the TIFFs' MetaMorph descriptions ("stage-position-x/y").
    $TRANSLATIONS "$WORK/mx" "$WORK"/mx/*.zarr --positioned
    expect_exit 0 "$IMX" "$WORK/mx" status
    expect_output "^positions +4 of 4 sites have a stage position"
    # Channel colours from the emission wavelengths the .HTD/TIFF metadata gives.
    $PY - "$WORK/mx" "$WORK"/mx/*.zarr <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/catalog.sqlite")
channels = db.execute("SELECT name, emission_nm FROM channels ORDER BY idx").fetchall()
well = json.load(open(sys.argv[2] + "/zarr.json"))["attributes"]["ome"]["plate"]["wells"][0]["path"]
image = json.load(open(f"{sys.argv[2]}/{well}/0/zarr.json"))
colours = {c["label"]: c["color"] for c in image["attributes"]["ome"]["omero"]["channels"]}
def expected(nm):
    return "0000FF" if nm < 490 else "00FF00" if nm < 560 else "FF0000" if nm < 620 else "FF00FF"
known = [(n, nm) for n, nm in channels if nm is not None]
if len(channels) > 1:
    for name, nm in known:
        assert colours[name] == expected(nm), (name, nm, colours[name])
print(f"{len(known)} of {len(channels)} channels have an emission wavelength; colours follow it")
PY
fi
if [ -d "$SAMPLES/metaxpress/cellprofiler-examples_StraightenWorms" ]; then
    # Older MetaXpress TIFFs with a plain-text description record no position: status says so, no
    # image gets a translation.
    convert mxw "$SAMPLES/metaxpress/cellprofiler-examples_StraightenWorms"
    $TRANSLATIONS "$WORK/mxw" "$WORK"/mxw/*.zarr --none
    expect_exit 0 "$IMX" "$WORK/mxw" status
    expect_output "^positions +none: the metadata records no stage positions"
fi
if [ -d "$SAMPLES/harmony/operetta-compose_operetta_plate" ]; then
    convert harmony "$SAMPLES/harmony/operetta-compose_operetta_plate" --levels 2
    plates+=("$WORK"/harmony/*.zarr)
    $TRANSLATIONS "$WORK/harmony" "$WORK"/harmony/*.zarr --positioned
fi
O="$SAMPLES/ome-tiff/bioformats-artificial/multi-channel-z-series.ome.tiff"
if [ -f "$O" ]; then
    # On its own: the folder mixes plane sizes.
    mkdir -p "$WORK/src_ome"
    cp "$O" "$WORK/src_ome/"
    convert ome "$WORK/src_ome" --ngff 0.5
    plates+=("$WORK"/ome/*.zarr)
    $TRANSLATIONS "$WORK/ome" "$WORK"/ome/*.zarr --none  # Bio-Formats wrote no Plane positions
fi
[ ${#plates[@]} -gt 0 ] || skip "demo plates pass; none of the vendor samples is present"
$CHECK "${plates[@]}"
for p in "${plates[@]}"; do $OMEXML "$(dirname "$p")" "$p"; done
# The OME-XML's Planes (times, exposures, stage positions) and Objective against the vendor files
# themselves, parsed by the oracle.
if [ -d "$WORK/cv" ]; then
    $OMEXML "$WORK/cv" "$WORK"/cv/*.zarr --vendor cellvoyager "$SAMPLES/yokogawa/fractal-tasks-core_png"
fi
if [ -d "$WORK/mx" ]; then
    # MetaXpress: every Plane's ExposureTime against the "Exposure Time" in the MetaMorph description
    # of its own TIFF (tifffile; the catalog only says which file a plane came from), and the
    # Objective against _MagSetting_ / _MagNA_ of every TIFF.
    $PY - "$WORK/mx" "$WORK"/mx/*.zarr "$SAMPLES/metaxpress/faim-ipa_SingleChannel" <<'PY'
import re, sqlite3, sys, tifffile
import xml.etree.ElementTree as ET
experiment, plate, source = sys.argv[1:]
NS = {"ome": "http://www.openmicroscopy.org/Schemas/OME/2016-06"}
root = ET.parse(plate + "/OME/METADATA.ome.xml").getroot()
db = sqlite3.connect(experiment + "/catalog.sqlite")
files = {}
for row, col, site, c, t, z, path in db.execute(
        "SELECT w.row, w.col, s.idx, o.channel, o.tpoint, o.zplane, f.path FROM planes p JOIN outputs o ON p.output_id = o.id "
        "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id JOIN files f ON p.file_id = f.id"):
    files.setdefault((row, col, site, t, c, z), []).append(path)
# The acquisition folder the catalog's paths are relative to: found below the given folder.
import os
base = next(d for d, _, _ in os.walk(source) if os.path.exists(os.path.join(d, next(iter(files.values()))[0])))
images = {i.get("ID"): i for i in root.findall("ome:Image", NS)}
objectives = set()
checked = 0
for well in root.find("ome:Plate", NS).findall("ome:Well", NS):
    for ws in well.findall("ome:WellSample", NS):
        image = images[ws.find("ome:ImageRef", NS).get("ID")]
        site = int(image.get("Name").split()[-1])
        for p in image.find("ome:Pixels", NS).findall("ome:Plane", NS):
            key = (int(well.get("Row")), int(well.get("Column")), site, int(p.get("TheT")), int(p.get("TheC")), int(p.get("TheZ")))
            for path in files[key]:
                desc = tifffile.TiffFile(f"{base}/{path}").pages[0].description
                ms = float(re.search(r'id="Exposure Time" type="string" value="([0-9.]+) ms"', desc).group(1))
                assert p.get("ExposureTimeUnit") == "s" and abs(float(p.get("ExposureTime")) - ms / 1000) < 1e-12, (path, p.attrib, ms)
                objectives.add((re.search(r'id="_MagSetting_" type="string" value="([^"]*)"', desc).group(1),
                                float(re.search(r'id="_MagNA_" type="float" value="([^"]*)"', desc).group(1))))
                checked += 1
assert len(objectives) == 1, objectives
o = root.find("ome:Instrument/ome:Objective", NS)
assert (o.get("Model"), float(o.get("LensNA"))) == objectives.pop(), o.attrib
print(f"{plate}: {checked} planes' ExposureTime and the Objective agree with their TIFFs' MetaMorph descriptions")
PY
fi
if [ -d "$WORK/harmony" ]; then
    $OMEXML "$WORK/harmony" "$WORK"/harmony/*.zarr --vendor harmony "$SAMPLES/harmony/operetta-compose_operetta_plate"
    grep -q 'ExposureTime="0.006"' "$WORK"/harmony/*.zarr/OME/METADATA.ome.xml || fail "Harmony plane exposure missing"
fi
CVX="$SAMPLES/yokogawa/cellvoyager-types_metadata/CV7000-example"
if [ -d "$CVX" ]; then
    # Real CV7000 metadata with its measurement settings (.mes: exposure per channel, objective) but
    # no images: the .mrf and .mes as they are, the .mlf cut to the records of field 1, z-planes 1-2
    # (4 wells, each imaged in its own channel and time line), and blank deflate TIFFs of the size
    # the .mrf declares for them.
    mkdir -p "$WORK/cvx_src"
    cp "$CVX/MeasurementDetail.mrf" "$CVX"/*.mes "$WORK/cvx_src/"
    $PY - "$CVX/MeasurementData.mlf" "$WORK/cvx_src" <<'PY'
import re, sys, numpy, tifffile
text = open(sys.argv[1], encoding="utf-8-sig").read()
head, rest = text.split("<bts:MeasurementRecord", 1)
records = re.findall(r"<bts:MeasurementRecord[^>]*>[^<]*</bts:MeasurementRecord>", text)
keep = [r for r in records if 'bts:Type="IMG"' in r and 'bts:FieldIndex="1"' in r and re.search(r'bts:ZIndex="[12]"', r)]
assert len(keep) == 8, len(keep)
open(sys.argv[2] + "/MeasurementData.mlf", "w", encoding="utf-8").write(head + "\n".join(keep) + "\n</bts:MeasurementData>\n")
blank = numpy.zeros((2160, 2560), numpy.uint16)
for r in keep:
    tifffile.imwrite(sys.argv[2] + "/" + re.search(r">([^<]*)<", r).group(1), blank, compression="zlib")
PY
    convert cvx "$WORK/cvx_src"
    $OMEXML "$WORK/cvx" "$WORK"/cvx/*.zarr --vendor cellvoyager "$WORK/cvx_src"
    grep -q '<Objective Model="20x" ID="Objective:0:0" NominalMagnification="20"' "$WORK"/cvx/*.zarr/OME/METADATA.ome.xml ||
        fail "CV7000 objective missing"
    grep -q 'ExposureTime="0.25"' "$WORK"/cvx/*.zarr/OME/METADATA.ome.xml || fail "CV7000 exposure missing"
fi
echo "PASS: ${#plates[@]} sample plates and 3 demo plates pass the normal and strict NGFF 0.4/0.5 schemas"
