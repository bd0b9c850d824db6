"""Writes synthetic folders as microscopes and users leave them, for the detection tests: written
with tifffile from the published layouts, not from imextract's code.

usage: make_detect_fixtures.py cv8000|metaxpress|ome-shapes|ome-tiffs DIR
  cv8000      DIR/Plate1_20260101_120000/ (a TRACE log and the measurement folder Plate1/ with
              MeasurementData.mlf, MeasurementDetail.mrf, 2 wells x 2 fields x 2 channels x 2 z
              16-bit TIFF planes, and SC_/DC_ shading and dark-current images)
  metaxpress  DIR/Exp_Plate_1/ (exported plate: .HTD + EXP_WELL_sS_wC.tif, 2 wells x 2 sites x 2 waves)
  metaxpress-db  DIR/2026-01-01/4711/ (database layout: Scr_WELL_sS_wC<GUID>.tif, 20x10 planes,
              ZStep_1..2 folders and thumbnails)
  ome-shapes  DIR: two OME-TIFFs of one plane size, t7 c1 z5 and t7 c3 z1
  ome-tiffs   DIR: two OME-TIFFs of one shape (c2 z3), different pixels
Prints nothing; the tests count what they expect from the files (find, tifffile).
Run with /usr/bin/python3.
"""
import os
import sys

import numpy as np
import tifffile

rng = np.random.default_rng(15)


def plane(h=12, w=16):
    return rng.integers(0, 65535, size=(h, w), dtype=np.uint16)


def cv8000(d):
    top = os.path.join(d, "Plate1_20260101_120000")
    meas = os.path.join(top, "Plate1")
    os.makedirs(meas)
    with open(os.path.join(top, "TRACE_20260101_120000.log"), "w") as f:
        f.write("2026/01/01 12:00:00.000 Measurement start\n2026/01/01 12:10:00.000 Measurement end\n")
    ns = 'xmlns:bts="http://www.yokogawa.co.jp/BTS/BTSSchema/1.0"'
    records = []
    for row, col in [(2, 3), (4, 5)]:
        for fld in (1, 2):
            for ch in (1, 2):
                for z in (1, 2):
                    name = f"Plate1_{chr(64 + row)}{col:02d}_T0001F{fld:03d}L01A01Z{z:02d}C{ch:02d}.tif"
                    tifffile.imwrite(os.path.join(meas, name), plane())
                    records.append(
                        f'<bts:MeasurementRecord bts:Type="IMG" bts:Time="2026-01-01T12:00:00.000+01:00" '
                        f'bts:Column="{col}" bts:Row="{row}" bts:TimePoint="1" bts:FieldIndex="{fld}" '
                        f'bts:ZIndex="{z}" bts:TimelineIndex="1" bts:ActionIndex="1" bts:Action="3D" '
                        f'bts:X="{fld * 100.0}" bts:Y="-50.0" bts:Z="{z * 2.0}" bts:Ch="{ch}">{name}</bts:MeasurementRecord>')
    records.append('<bts:MeasurementRecord bts:Type="ERR" bts:Time="2026-01-01T12:00:00.000+01:00" '
                   'bts:Column="3" bts:Row="2" bts:FieldIndex="3">autofocus failed</bts:MeasurementRecord>')
    with open(os.path.join(meas, "MeasurementData.mlf"), "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n'
                f'<bts:MeasurementData bts:Version="1.0" {ns}>\n' + "\n".join(records) + "\n</bts:MeasurementData>\n")
    shading = {1: "SC_BP445-45_20x v2_M01_CH01.tif", 2: "SC_BP525-50_20x v2_M01_CH02.tif"}
    channels = "".join(
        f'<bts:MeasurementChannel bts:Ch="{ch}" bts:HorizontalPixelDimension="0.325" '
        f'bts:VerticalPixelDimension="0.325" bts:CameraNumber="1" bts:InputBitDepth="16" bts:HorizontalPixels="16" '
        f'bts:VerticalPixels="12" bts:ShadingCorrectionSource="{shading[ch]}" />\n' for ch in (1, 2))
    with open(os.path.join(meas, "MeasurementDetail.mrf"), "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n'
                f'<bts:MeasurementDetail bts:Version="1.0" bts:ColumnCount="12" bts:RowCount="8" '
                f'bts:TargetSystem="CV8000" {ns}>\n{channels}</bts:MeasurementDetail>\n')
    # Shading (SC_, float32 like the instrument's) and dark-current (DC_) images: not planes.
    for name in list(shading.values()) + ["SC_BP600-37_20x v2_M01_CH03.tif", "SC_BP676-29_20x v2_M01_CH04.tif"]:
        tifffile.imwrite(os.path.join(meas, name), rng.random((12, 16), dtype=np.float32))
    for cam in (1, 2):
        tifffile.imwrite(os.path.join(meas, f"DC_sCMOS #{cam}_CAM{cam}.tif"), plane())


def metaxpress(d):
    root = os.path.join(d, "Exp_Plate_1")
    os.makedirs(root)
    with open(os.path.join(root, "EXP.HTD"), "w") as f:
        f.write('"HTSInfoFile", Version 1.0\r\n"XWells", 12\r\n"YWells", 8\r\n"XSites", 2\r\n"YSites", 1\r\n'
                '"NWavelengths", 2\r\n"WaveName1", "DAPI"\r\n"WaveName2", "FITC"\r\n"EndFile"\r\n')
    for well in ("B02", "C03"):
        for s in (1, 2):
            for w in (1, 2):
                tifffile.imwrite(os.path.join(root, f"EXP_{well}_s{s}_w{w}.tif"), plane())


def metaxpress_db(d):
    root = os.path.join(d, "2026-01-01", "4711")
    for z in (1, 2):
        os.makedirs(os.path.join(root, f"ZStep_{z}"))
        for w in (1, 2):
            guid = f"0A1B2C3D-1111-2222-3333-44445555666{z}{w}"[:36]
            tifffile.imwrite(os.path.join(root, f"ZStep_{z}", f"Scr_C04_s1_w{w}{guid}.tif"), plane(10, 20))
            tifffile.imwrite(os.path.join(root, f"ZStep_{z}", f"Scr_C04_s1_w{w}_thumb{guid}.tif"), plane(4, 5))


def ome_shapes(d):
    os.makedirs(d, exist_ok=True)
    tifffile.imwrite(os.path.join(d, "a_t7_c1_z5.ome.tif"), rng.integers(0, 65535, (7, 5, 12, 16), dtype=np.uint16),
                     metadata={"axes": "TZYX"})
    tifffile.imwrite(os.path.join(d, "b_t7_c3_z1.ome.tif"), rng.integers(0, 65535, (7, 3, 12, 16), dtype=np.uint16),
                     metadata={"axes": "TCYX"})


def ome_tiffs(d):
    os.makedirs(d, exist_ok=True)
    for name in ("x1.ome.tif", "x2.ome.tif"):
        tifffile.imwrite(os.path.join(d, name), rng.integers(0, 65535, (2, 3, 12, 16), dtype=np.uint16),
                         metadata={"axes": "CZYX"})


def main():
    kind, d = sys.argv[1], sys.argv[2]
    {"cv8000": cv8000, "metaxpress": metaxpress, "metaxpress-db": metaxpress_db, "ome-shapes": ome_shapes,
     "ome-tiffs": ome_tiffs}[kind](d)


main()
