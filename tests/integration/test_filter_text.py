# SPDX-License-Identifier: MIT
"""Text comparisons in filters as a Vietnamese user types them: case-insensitive matching folds
Vietnamese letters ('ĐƯỜNG' finds 'Đường'), and an escaped wildcard matches itself, with and
without case folding (rows hold literal '%', '_' and '\\'). Expected sets come from a small LIKE
evaluator written here on Python's str.casefold, not from spp or SQLite."""
import json
import re
import unicodedata
import urllib.parse

import pytest

from conftest import Server, run_spp, spatialite

NAMES = ["Đường 30 Tháng 4", "ĐƯỜNG TRẦN HƯNG ĐẠO", "đường 3/2", "Giảm 50% phí", "Giảm 50 phí",
         "Hẻm A_B", "Hẻm AXB", "Kênh \\ rạch", "Kênh / rạch", "Ấp Ểm", "ấp ểm", "Cầu Ông Tố"]


@pytest.fixture(scope="module")
def roads(workdir):
    import os
    path = os.path.join(workdir, "text_filters.sqlite")
    if os.path.exists(path):
        os.remove(path)
    run_spp("init", "--db", path)
    con = spatialite(path)
    for i, name in enumerate(NAMES):
        con.execute("INSERT INTO roads (name, road_class, geom) VALUES (?, 'hem',"
                    " CastToMulti(GeomFromText(?, 5897)))",
                    (name, f"LINESTRING({586000 + i * 10} 1109600, {586005 + i * 10} 1109610)"))
    con.commit()
    con.close()
    s = Server(path, workdir)
    yield s
    s.stop()


def like(value, pattern, casei):
    """SQL LIKE with '\\' escaping: % any run, _ one character."""
    rx, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            rx += re.escape(pattern[i + 1])
            i += 2
            continue
        rx += ".*" if c == "%" else "." if c == "_" else re.escape(c)
        i += 1
    fold = (lambda t: unicodedata.normalize("NFC", t).casefold()) if casei else (lambda t: t)
    return re.fullmatch(fold(rx), fold(value), re.S) is not None


def served(api, cql):
    q = urllib.parse.urlencode({"filter": cql, "filter-lang": "cql2-text", "limit": 100})
    status, _, body = api.get(f"/collections/roads/items?{q}")
    assert status == 200, (cql, body[:300])
    return sorted(f["properties"]["name"] for f in json.loads(body)["features"])


CASES = [  # (pattern, case-insensitive)
    ("đường%", True), ("ĐƯỜNG%", True), ("ĐƯỜNG%", False), ("%ấp ểm", True), ("%ẤP ỂM", True),
    ("Giảm 50\\% phí", False), ("Giảm 50\\% phí", True), ("giảm 50\\%%", True),
    ("Hẻm A\\_B", False), ("HẺM A\\_B", True), ("hẻm a_b", True),
    ("Kênh \\\\ rạch", False), ("KÊNH \\\\%", True),
]


@pytest.mark.parametrize("pattern,casei", CASES)
def test_cql2_like(roads, pattern, casei):
    lit = pattern.replace("'", "''")
    cql = f"CASEI(name) LIKE CASEI('{lit}')" if casei else f"name LIKE '{lit}'"
    want = sorted(n for n in NAMES if like(n, pattern, casei))
    assert served(roads, cql) == want
    assert want, "a case that matches nothing proves little"


@pytest.mark.parametrize("literal", ["ĐƯỜNG TRẦN HƯNG ĐẠO", "đường trần hưng đạo", "ẤP ỂM"])
def test_cql2_casei_equality(roads, literal):
    want = sorted(n for n in NAMES
                  if unicodedata.normalize("NFC", n).casefold() == literal.casefold())
    assert want and served(roads, f"CASEI(name) = CASEI('{literal}')") == want


@pytest.mark.parametrize("literal,escaped", [("Giảm 50!% phí", "Giảm 50% phí"),
                                             ("HẺM A!_B", "Hẻm A_B")])
def test_fes_match_case_false_keeps_the_escape(roads, literal, escaped):
    fes = ('<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsLike '
           'wildCard="%" singleChar="_" escapeChar="!" matchCase="false">'
           f'<fes:ValueReference>name</fes:ValueReference><fes:Literal>{literal}</fes:Literal>'
           '</fes:PropertyIsLike></fes:Filter>')
    q = urllib.parse.urlencode({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                                "TYPENAMES": "spp:roads", "OUTPUTFORMAT": "application/json",
                                "FILTER": fes})
    status, _, body = roads.get(f"/wfs?{q}")
    assert status == 200, body[:300]
    assert [f["properties"]["name"] for f in json.loads(body)["features"]] == [escaped]
