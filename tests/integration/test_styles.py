# SPDX-License-Identifier: MIT
"""/styles/{name}.json: the MapLibre style generated from the SLD files. Checked against the SLD
read independently with lxml: every rule's colour and width, its scale range as a zoom range, and
its filter (evaluated here with a small MapLibre-expression evaluator on features decoded from
spp's own vector tiles by GDAL) selects exactly the features the SLD rule selects."""
import json
import math
import os

import pytest
from lxml import etree

from conftest import ROOT
from test_tiles import LAYERS, block_tiles, decode, tserver, tstore  # noqa: F401 (fixtures)

SE = "{http://www.opengis.net/se}"
OGC = "{http://www.opengis.net/ogc}"
SCALE0 = 559082264.0287178 / 2


def ev(e, f):
    """Evaluates the MapLibre expressions spp writes, for a feature {"id":, "props":}."""
    if not isinstance(e, list):
        return e
    op, a = e[0], e[1:]
    if op == "get":
        return f["props"].get(a[0])
    if op == "has":
        return a[0] in f["props"] and f["props"][a[0]] is not None
    if op == "id":
        return f["id"]
    if op == "to-string":
        v = ev(a[0], f)
        return "" if v is None else str(v)
    if op == "downcase":
        return ev(a[0], f).lower()
    if op == "length":
        return len(ev(a[0], f))
    if op == "-":
        return ev(a[0], f) - ev(a[1], f)
    if op == "slice":
        s = ev(a[0], f)
        return s[ev(a[1], f):ev(a[2], f)] if len(a) > 2 else s[ev(a[1], f):]
    if op == "index-of":
        return ev(a[1], f).find(ev(a[0], f))
    if op == "all":
        return all(ev(x, f) for x in a)
    if op == "any":
        return any(ev(x, f) for x in a)
    if op == "!":
        return not ev(a[0], f)
    if op == "match":
        v = ev(a[0], f)
        return a[2] if v in a[1] else a[3]
    x, y = ev(a[0], f), ev(a[1], f)
    if op == "==":
        return x == y
    if op == "!=":
        return x != y
    if x is None or y is None:
        return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def sld_rules(layer):
    root = etree.parse(os.path.join(ROOT, "styles", f"{layer}.sld"))
    out = []
    for fi, fts in enumerate(root.iter(SE + "FeatureTypeStyle")):
        for ri, rule in enumerate(fts.iter(SE + "Rule")):
            fill = rule.find(f"{SE}PolygonSymbolizer/{SE}Fill/{SE}SvgParameter[@name='fill']")
            maxs = rule.find(SE + "MaxScaleDenominator")
            eqs = [e.text for e in rule.iter(OGC + "Literal")]
            out.append({"id": f"{layer}-{fi}-{ri}-0", "fill": fill.text.upper() if fill is not None
                        else None, "max": float(maxs.text) if maxs is not None else None,
                        "codes": eqs, "else": rule.find(SE + "ElseFilter") is not None})
    return out


def test_style_matches_the_sld(tserver, tstore, workdir):
    status, hdrs, style = tserver.json("/styles/default.json")
    assert status == 200 and style["version"] == 8
    assert style["glyphs"] == tserver.base + "/fonts/{fontstack}/{range}.pbf"
    src = style["sources"]["spp"]
    assert src["type"] == "vector" and src["url"] == tserver.base + "/tiles/all.json"
    s, _, tj = tserver.json("/tiles/all.json")
    known = {v["id"] for v in tj["vector_layers"]}
    by_id = {l["id"]: l for l in style["layers"]}
    for l in style["layers"][1:]:
        assert l["source-layer"] in known and 0 <= l["minzoom"] < l["maxzoom"] <= 24
        if l["type"] == "symbol":
            assert l["layout"]["text-font"][0] in ("DejaVu Sans Book", "DejaVu Sans Bold")
    rules = sld_rules("cadastral_parcels")
    for r in rules:
        if r["fill"]:
            fl = by_id[r["id"] + "-fill"]
            assert fl["paint"]["fill-color"] == r["fill"]
            if r["max"]:
                assert abs(fl["minzoom"] - max(15, math.log2(SCALE0 / r["max"]))) < 1e-3
            # the land-use overview below the parcels' minzoom (issue 22): the same fill over
            # the generalized features of z12-14, whatever the rule's scale range
            ov = by_id[r["id"] + "-overview-fill"]
            assert ov["paint"]["fill-color"] == r["fill"] and ov.get("filter") == fl.get("filter")
            assert (ov["minzoom"], ov["maxzoom"]) == (12, 15)
            assert r["id"] + "-overview-outline" not in by_id
    # filters: on decoded parcels, the fill layers that match are those whose SLD codes match
    z, x, y = block_tiles(tstore[0], 18)[0]
    _, _, body = tserver.get(f"/tiles/cadastral_parcels/{z}/{x}/{y}.mvt")
    feats = decode(body, z, x, y, workdir)["cadastral_parcels"]
    assert feats
    fills = [l for l in style["layers"] if l.get("source-layer") == "cadastral_parcels"
             and l["type"] == "fill" and l["minzoom"] <= z < l["maxzoom"]]
    for fid, items, _ in feats:
        f = {"id": fid, "props": {k: v for k, v in items.items() if v is not None}}
        got = {l["id"][:-5] for l in fills if ev(l.get("filter", True), f)}
        lu = items["lu_display"]
        want = {r["id"] for r in rules if r["fill"] and not r["else"] and
                any(lu == c or (c.endswith("+*") and lu.startswith(c[:-1])) for c in r["codes"])}
        if not want:
            want = {r["id"] for r in rules if r["fill"] and r["else"]}
        assert got == want, (lu, got, want)
    # the overview's generalized features at z14 are coloured by the same rules
    oz, ox, oy = 14, x >> (z - 14), y >> (z - 14)
    _, _, body = tserver.get(f"/tiles/cadastral_parcels/{oz}/{ox}/{oy}.mvt")
    gen = decode(body, oz, ox, oy, workdir)["cadastral_parcels"]
    assert gen and all(items["generalized"] == 1 for _, items, _ in gen)
    ofills = [l for l in style["layers"] if l["id"].endswith("-overview-fill")
              and l["source-layer"] == "cadastral_parcels"
              and l["minzoom"] <= oz < l["maxzoom"]]
    for fid, items, _ in gen:
        f = {"id": fid, "props": {k: v for k, v in items.items() if v is not None}}
        got = {l["id"][:-len("-overview-fill")] for l in ofills if ev(l.get("filter", True), f)}
        lu = items["lu_display"]
        want = {r["id"] for r in rules if r["fill"] and not r["else"] and
                any(lu == c or (c.endswith("+*") and lu.startswith(c[:-1])) for c in r["codes"])}
        assert got == (want or {r["id"] for r in rules if r["fill"] and r["else"]}), (lu, got)


def test_style_follows_the_role(tserver, tstore):
    _, _, pub = tserver.json("/styles/default.json")
    text = json.dumps(pub)
    assert "owner_name" not in text and "construction_permits" not in text
    _, _, one = tserver.json("/styles/roads.json")
    assert {l.get("source-layer") for l in one["layers"][1:]} == {"roads"}
    assert one["sources"]["spp"]["url"].endswith("/tiles/roads.json")
    for bad, code in (("/styles/nope.json", 404), ("/styles/construction_permits.json", 404),
                      ("/styles/roads,,x.json", 400)):
        assert tserver.get(bad)[0] == code
