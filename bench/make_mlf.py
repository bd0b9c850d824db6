"""Writes a CellVoyager MeasurementData.mlf + MeasurementDetail.mrf with N image records (no pixels
but the first image, which create probes for the plane geometry): the metadata side of a big plate.

usage: make_mlf.py DIR N FIRST_TIFF
"""
import os
import shutil
import sys

out, n, first = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
rows, cols, fields, chans = 16, 24, 9, 4
zs = max(1, -(-n // (rows * cols * fields * chans)))
ns = "http://www.yokogawa.co.jp/BTS/BTSSchema/1.0"
with open(os.path.join(out, "MeasurementData.mlf"), "w") as f:
    f.write(f'<?xml version="1.0" encoding="utf-8"?>\n<bts:MeasurementData bts:Version="1.0" xmlns:bts="{ns}">\n')
    i = 0
    names = []
    for r in range(rows):
        for c in range(cols):
            for fld in range(fields):
                for z in range(zs):
                    for ch in range(chans):
                        if i == n:
                            break
                        name = f"P_{chr(65 + r)}{c + 1:02d}_T0001F{fld + 1:03d}L01A01Z{z + 1:02d}C{ch + 1:02d}.tif"
                        names.append(name)
                        f.write(f'<bts:MeasurementRecord bts:Type="IMG" bts:Time="2026-01-01T00:00:00.000+01:00" '
                                f'bts:Column="{c + 1}" bts:Row="{r + 1}" bts:TimePoint="1" bts:FieldIndex="{fld + 1}" '
                                f'bts:ZIndex="{z + 1}" bts:TimelineIndex="1" bts:ActionIndex="1" bts:Action="3D" '
                                f'bts:X="0.0" bts:Y="0.0" bts:Z="{z}.0" bts:Ch="{ch + 1}">{name}</bts:MeasurementRecord>\n')
                        i += 1
    f.write("</bts:MeasurementData>\n")
with open(os.path.join(out, "MeasurementDetail.mrf"), "w") as f:
    f.write(f'<?xml version="1.0" encoding="utf-8"?>\n<bts:MeasurementDetail bts:Version="1.0" bts:Title="Big" '
            f'bts:RowCount="16" bts:ColumnCount="24" xmlns:bts="{ns}">\n</bts:MeasurementDetail>\n')
shutil.copy(first, os.path.join(out, names[0]))
