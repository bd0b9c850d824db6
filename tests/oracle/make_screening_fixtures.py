"""Writes small synthetic screening-microscope folders with tifffile, following the published
layouts (not imextract's code), plus expected.json: for every image file the well, site, channel
name, z and t it must land on.

usage: make_screening_fixtures.py incell|scanr|harmony-v6 DIR
Run with /usr/bin/python3.
"""
import json
import os
import sys

import numpy as np
import tifffile

rng = np.random.default_rng(7)


def plane():
    return rng.integers(0, 65535, size=(6, 9), dtype=np.uint16)


def incell(d):
    waves = [("DAPI", 350, "DAPI", 455), ("FITC", 490, "FITC", 525)]
    expected, images = {}, []
    for row, col in [(2, 3), (4, 1)]:
        for fld in (1, 2):
            for w, (ex, exnm, em, emnm) in enumerate(waves):
                for z in (1, 2):
                    name = f"{chr(64 + row)} - {col}(fld {fld} wv {ex} - {em} z {z}).tif"
                    tifffile.imwrite(os.path.join(d, name), plane())
                    images.append(
                        f'<Image filename="{name}" acquisition_time_ms="10">'
                        f'<Identifier wave_index="{w}" field_index="{fld - 1}" time_index="0" z_index="{z - 1}"/>'
                        f'<Well label="{chr(64 + row)} - {col}"><Row number="{row}"/><Column number="{col}"/></Well>'
                        f'<OffsetFromWellCenter x="{fld * 10.5}" y="-20" unit="um"/><FocusPosition z="{z * 2.0}"/>'
                        f'</Image>')
                    expected[name] = [f"{chr(64 + row)}{col:02d}", fld - 1, em, z - 1, 0]
    wl = "".join(f'<Wavelength fusion_wave="false"><ExcitationFilter name="{ex}" wavelength="{exnm}"/>'
                 f'<EmissionFilter name="{em}" wavelength="{emnm}"/></Wavelength>' for ex, exnm, em, emnm in waves)
    xml = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<ImageStack version="7">'
           '<AutoLeadAcquisitionProtocol><Camera name="c"><Size width="9" height="6"/></Camera>'
           '<ObjectiveCalibration pixel_width="0.65" pixel_height="0.65"/>'
           f'<Wavelengths>{wl}</Wavelengths><PlateMap><Plate rows="8" columns="12" name="incell_fixture"/></PlateMap>'
           f'</AutoLeadAcquisitionProtocol><Images number="{len(images)}">' + "\n".join(images) + "</Images></ImageStack>\n")
    with open(os.path.join(d, "incell_fixture.xdce"), "w", encoding="latin-1") as f:
        f.write(xml)
    return expected


def scanr(d):
    os.makedirs(os.path.join(d, "data"))
    expected = {}
    # W14 = B02 and W1 = A01 in a 96-well plate; newer ScanR prefixes the well label.
    for label, w, well in [("B2", 14, "B02"), ("", 1, "A01")]:
        for p in (1, 2):
            for t in (0, 1):
                for ch in ("DAPI", "GFP"):
                    name = f"{label}--W{w:05d}--P{p:05d}--Z00000--T{t:05d}--{ch}.tif"
                    tifffile.imwrite(os.path.join(d, "data", name), plane(), compression="zlib")
                    expected["data/" + name] = [well, p - 1, ch, 0, t]

    def s(t, n, v):
        return f"<{t}><Name>{n}</Name><Val>{v}</Val></{t}>"

    chans = "".join(f"<Cluster><Name>c</Name>{s('String', 'name', n)}{s('U8', 'idle', i)}</Cluster>"
                    for n, i in [("GFP", 0), ("Autofocus", 0), ("DAPI", 0), ("Cy5", 1)])
    xml = ('<?xml version="1.0"?>\n<LVData xmlns="http://www.ni.com/LVData"><Version>8.6</Version><Cluster>'
           f'<Name>experiment descriptor</Name>{s("String", "plate name", "scanr_fixture")}'
           f'<Cluster><Name>format typedef</Name>{s("I32", "Rows", 8)}{s("I32", "Columns", 12)}</Cluster>'
           f'{s("DBL", "conversion factor um/pixel", 0.3225)}<Array><Name>channels</Name>{chans}</Array>'
           '</Cluster></LVData>\n')
    with open(os.path.join(d, "experiment_descriptor.xml"), "w") as f:
        f.write(xml)
    return expected


def harmony_v6(d):
    os.makedirs(os.path.join(d, "Images"))
    expected, images = {}, []
    for fld in (1, 2):
        for t in (0, 1):
            for ch in (1, 2):
                name = f"r02c04f{fld:02d}p01-ch{ch}sk{t + 1}fk1fl1.tiff"
                tifffile.imwrite(os.path.join(d, "Images", name), plane())
                images.append(f"<Image Version=\"1\"><id>{name}</id><State>Ok</State><URL>{name}</URL><Row>2</Row><Col>4</Col>"
                              f"<FieldID>{fld}</FieldID><PlaneID>1</PlaneID><TimepointID>{t}</TimepointID>"
                              f"<ChannelID>{ch}</ChannelID><FlimID>1</FlimID>"
                              f"<PositionX Unit=\"m\">{fld * 1e-4}</PositionX><PositionY Unit=\"m\">0</PositionY>"
                              f"<PositionZ Unit=\"m\">0</PositionZ></Image>")
                expected["Images/" + name] = ["B04", fld - 1, ["DAPI", "Alexa 647"][ch - 1], 0, t]
    entries = "".join(f'<Entry ChannelID="{ch}"><ChannelName>{n}</ChannelName>'
                      f'<ImageResolutionX Unit="m">2.99E-07</ImageResolutionX><ImageResolutionY Unit="m">2.99E-07</ImageResolutionY>'
                      f'<MainExcitationWavelength Unit="nm">{ex}</MainExcitationWavelength></Entry>'
                      for ch, n, ex in [(1, "DAPI", 375), (2, "Alexa 647", 640)])
    xml = ('<?xml version="1.0" encoding="utf-8"?>\n<EvaluationInputData Version="1" '
           'xmlns="http://www.perkinelmer.com/PEHH/HarmonyV6"><Plates><Plate><PlateID>pid</PlateID>'
           '<Name>harmony_v6_fixture</Name><PlateRows>16</PlateRows><PlateColumns>24</PlateColumns></Plate></Plates>'
           f'<Maps><Map>{entries}</Map></Maps><Images>' + "".join(images) + "</Images></EvaluationInputData>\n")
    with open(os.path.join(d, "Images", "Index.xml"), "w") as f:
        f.write(xml)
    return expected


def main():
    kind, d = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    expected = {"incell": incell, "scanr": scanr, "harmony-v6": harmony_v6}[kind](d)
    with open(os.path.join(d, "..", os.path.basename(d) + ".expected.json"), "w") as f:
        json.dump(expected, f)


main()
