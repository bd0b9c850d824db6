#!/usr/bin/env bash
# ND2 files of three NIS-Elements generations, written by tests/oracle/make_nd2.py (not our C++
# fixture writer): 3.x with XML metadata, 4.x with LV metadata and zlib RGB frames, and the layout
# of 5.42 files acquired in 2025 (chunks on 4096-byte pages, the file map's 4128-byte name field).
# One folder converts to one plate per frame size; every stored plane, pixel size and z step is
# compared with tests/oracle/nd2_oracle.py, an independent reader. A copy cut short (no chunk map)
# converts the frames it holds, found by scanning the chunk headers, with a warning.
source "$(dirname "$0")/lib/common.bash"
need_oracle
$PY "$ORACLE/make_nd2.py" write "$WORK/src"
expect_exit 0 "$IMX" "$WORK/e" create --source "$WORK/src"
expect_output "format +nd2"
expect_output "plates +3 \(src, src_37x9_uint8, src_32x16\)"
expect_output "channels +8 \(DAPI, GFP, Brightfield_R, Brightfield_G, Brightfield_B, Mono, FITC BP, TRITC BP\)"
expect_output "plane +24x20 uint16, pixel 0.645 x 0.645 um, z step 0.75 um"
expect_output "tpoints +4"
expect_output "source planes +62 "
expect_exit 0 "$IMX" "$WORK/e" init -b 2
expect_exit 0 "$IMX" "$WORK/e" submit
expect_exit 0 "$IMX" "$WORK/e" status
expect_output "stored planes 62 \(62 verified\)"
check() {  # PLATE FILE WELL [--scan]
    expect_exit 0 $PY "$ORACLE/nd2_oracle.py" check "$WORK/e/$1.zarr" "$WORK/src/$2" "$3" "${@:4}"
    expect_output "nd2 oracle: [0-9]+ planes of .*$2 match"
}
check src nis3_xml.nd2 A01
check src_37x9_uint8 nis4_lv.nd2 A02
check src_32x16 nis5_aligned.nd2 A03
expect_exit 0 "$IMX" "$WORK/e" verify --sources

# Cut in frame 4's pixels: frames 0-3 are whole; the trailer and the file map are gone.
mkdir -p "$WORK/cut"
cut=$($PY -c "import sys; b=open(sys.argv[1],'rb').read(); print(b.find(b'ImageDataSeq|4!') + 40)" "$WORK/src/nis3_xml.nd2")
head -c "$cut" "$WORK/src/nis3_xml.nd2" > "$WORK/cut/nis3_xml.nd2"
expect_exit 0 "$IMX" "$WORK/c" create --source "$WORK/cut"
expect_output "nis3_xml.nd2: the chunk map is damaged \(offset [0-9]+: no ND2 chunk map signature at the end of the file"
expect_output "nis3_xml.nd2: 12 frames are missing from the file; their planes are skipped"
expect_output "source planes +8 "
expect_exit 0 "$IMX" "$WORK/c" init
expect_exit 0 "$IMX" "$WORK/c" submit
expect_exit 0 $PY "$ORACLE/nd2_oracle.py" check "$WORK/c/cut.zarr" "$WORK/cut/nis3_xml.nd2" A01 --scan
expect_output "nd2 oracle: 8 planes of .* match"
echo "PASS nd2_versions"
