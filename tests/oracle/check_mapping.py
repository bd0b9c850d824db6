"""Checks where the catalog put every source file against an expected mapping written by the
fixture generator (file -> [well, site, channel name, z, t]); reads the catalog with sqlite3 only.

usage: check_mapping.py EXPERIMENT EXPECTED.json
"""
import json
import os
import sqlite3
import sys

from oracle_common import fail


def row_name(r):
    return (chr(ord("A") + r // 26 - 1) if r >= 26 else "") + chr(ord("A") + r % 26)


def main():
    exp, expected_file = sys.argv[1], sys.argv[2]
    with open(expected_file) as f:
        expected = json.load(f)
    db = sqlite3.connect(f"file:{os.path.join(exp, 'catalog.sqlite')}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT f.path, w.row, w.col, s.idx, c.name, o.zplane, o.tpoint FROM planes pl "
        "JOIN files f ON pl.file_id = f.id JOIN outputs o ON pl.output_id = o.id "
        "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
        "JOIN channels c ON c.idx = o.channel").fetchall()
    got = {}
    for path, r, c, site, ch, z, t in rows:
        got[path] = [f"{row_name(r)}{c + 1:02d}", site, ch, z, t]
    if set(got) != set(expected):
        fail(f"files differ: extra {sorted(set(got) - set(expected))[:3]}, missing {sorted(set(expected) - set(got))[:3]}")
    for path, want in expected.items():
        if got[path] != want:
            fail(f"{path}: catalog says {got[path]}, expected {want}")
    print(f"mapping: {len(expected)} files at the expected well/site/channel/z/t")


main()
