# SPDX-License-Identifier: MIT
"""land/at answers by point-in-polygon, not by bounding box: interlocking L-shaped parcels,
parcels rotated 30 degrees and thin slivers, with points just inside an edge where a neighbour's
box also covers them. The expected parcel is the one OGR says contains the point."""
import math
import os
import random

import pytest
from osgeo import ogr

import query_fixture as qf
from conftest import Server, run_spp, spatialite
from test_query import to_lonlat

X0, Y0 = qf.X0, qf.Y0


def l_shape(x, y, s):
    """An L of arm width s/2 in an s x s square, and the square's other corner (its mirror) is
    filled by the neighbour's L: the two boxes are the same square."""
    a = [(x, y), (x + s, y), (x + s, y + s / 2), (x + s / 2, y + s / 2), (x + s / 2, y + s),
         (x, y + s)]
    b = [(x + s, y + s / 2), (x + s, y + s), (x + s / 2, y + s), (x + s / 2, y + s / 2)]
    return a, b


def rotated(cx, cy, w, h, deg):
    t = math.radians(deg)
    pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [(cx + px * math.cos(t) - py * math.sin(t), cy + px * math.sin(t) + py * math.cos(t))
            for px, py in pts]


@pytest.fixture(scope="module")
def edges(workdir):
    path = os.path.join(workdir, "edges.sqlite")
    if os.path.exists(path):
        os.remove(path)
    run_spp("init", "--db", path)
    con = spatialite(path)
    code = qf.COMMUNES[0][0]
    qf.insert(con, "admin_units", {"code": code, "name": "Ninh Kiều", "level": 3,
                                   "unit_type": "Phường", "parent_code": "92"},
              qf.rect(X0, Y0, X0 + 600, Y0 + 600))
    shapes = []
    for i in range(4):  # interlocking Ls
        a, b = l_shape(X0 + 20 + i * 50, Y0 + 20, 40)
        shapes += [a, b]
    for i in range(6):  # a row of rotated parcels whose boxes overlap their neighbours'
        shapes.append(rotated(X0 + 40 + i * 22, Y0 + 120, 20, 40, 30))
    for i in range(5):  # slivers: 2 m wide diagonals side by side
        x = X0 + 300 + i * 2.0
        shapes.append([(x, Y0 + 20), (x + 2, Y0 + 20), (x + 42, Y0 + 80), (x + 40, Y0 + 80)])
    for n, pts in enumerate(shapes, 1):
        qf.insert(con, "cadastral_parcels", {
            "parcel_key": f"{code}001{n:04d}", "commune_code": code, "sheet_no": 1,
            "parcel_no": n, "area_m2": 1.0, "lu_display": "ODT"}, qf.poly(pts))
    con.commit()
    con.close()
    s = Server(path, workdir)
    yield path, s
    s.stop()


def points_near_edges(path, per_parcel=6, seed=3):
    """(point, containing parcel key) for points 0.05-0.5 m inside a parcel's edges that lie in
    at least one other parcel's bounding box."""
    ds = ogr.Open(path)
    parcels = [(f["parcel_key"], f.GetGeometryRef().Clone()) for f in ds.GetLayerByName(
        "cadastral_parcels")]
    rnd = random.Random(seed)
    out = []
    for key, g in parcels:
        ring = g.GetGeometryRef(0).GetGeometryRef(0) if g.GetGeometryCount() and \
            g.GetGeometryRef(0).GetGeometryType() in (ogr.wkbPolygon, ogr.wkbPolygon25D) else \
            g.GetGeometryRef(0)
        pts = ring.GetPoints()
        found = 0
        for _ in range(400):
            if found == per_parcel:
                break
            i = rnd.randrange(len(pts) - 1)
            (x1, y1), (x2, y2) = pts[i][:2], pts[i + 1][:2]
            t = rnd.uniform(0.1, 0.9)
            ex, ey = x2 - x1, y2 - y1
            ln = math.hypot(ex, ey)
            for side in (1, -1):  # step inward along the edge's normal
                d = rnd.uniform(0.05, 0.5) * side
                px, py = x1 + t * ex - ey / ln * d, y1 + t * ey + ex / ln * d
                p = ogr.Geometry(ogr.wkbPoint)
                p.AddPoint_2D(px, py)
                inside = [k for k, h in parcels if h.Contains(p)]
                boxes = [k for k, h in parcels
                         if h.GetEnvelope()[0] <= px <= h.GetEnvelope()[1]
                         and h.GetEnvelope()[2] <= py <= h.GetEnvelope()[3]]
                if inside == [key] and len(boxes) > 1:
                    out.append(((px, py), key))
                    found += 1
                    break
    return out


def test_land_at_is_point_in_polygon(edges):
    path, api = edges
    pts = points_near_edges(path)
    assert len(pts) >= 60
    for (x, y), key in pts:
        lon, lat = to_lonlat(x, y)
        status, _, d = api.json(f"/api/v1/land/at?lon={lon:.10f}&lat={lat:.10f}")
        assert status == 200
        assert (d["parcel"] or {}).get("parcel_key") == key, (x, y)
        status, _, d = api.json(f"/api/v1/land/at?x={y:.4f}&y={x:.4f}&order=xy-vn")  # X north
        assert status == 200 and (d["parcel"] or {}).get("parcel_key") == key, (x, y)


@pytest.fixture(scope="module")
def twenty_communes(workdir):
    """query_bigcity's city: 20,000 parcels in 20 communes, vacant funds in every one."""
    import query_bigcity
    path = os.path.join(workdir, "twenty_communes.sqlite")
    query_bigcity.build(path, 20000)
    key = run_spp("keys", "--db", path, "add", "--role", "planner").stdout.strip()
    s = Server(path, workdir)
    yield path, s, {"X-API-Key": key}
    s.stop()


def test_fund_answers_name_the_commune_of_every_row(twenty_communes):
    """A land-fund answer spanning more communes than a per-answer name cache once held (16)
    names each row's commune: the CSV export, the JSON list and GeoJSON, none left blank."""
    import csv as csvmod
    import io
    import json
    path, s, planner = twenty_communes  # the funds are not published: a planner reads them
    con = spatialite(path)
    names = dict(con.execute("SELECT code, name FROM admin_units").fetchall())
    n_funds, n_communes = con.execute(
        "SELECT count(*), count(DISTINCT commune_code) FROM vacant_land_fund").fetchone()
    con.close()
    assert n_communes == 20
    status, _, body = s.get("/api/v1/land-funds?kind=vacant&sort=id&limit=1000&f=csv&lang=en",
                            planner)
    assert status == 200, body[:300]
    rows = list(csvmod.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == n_funds
    col, code_col = "Commune/ward name", "Commune code"  # the English titles (lang=en)
    assert {r[code_col] for r in rows} == set(names)
    for r in rows:
        assert r[col] == names[r[code_col]], r
    status, _, body = s.get("/api/v1/land-funds?kind=vacant&sort=id&limit=1000", planner)
    assert status == 200
    items = json.loads(body)
    items = items.get("results", items.get("items", items.get("features")))
    assert len(items) == n_funds
    for it in items:
        p = it.get("properties", it)
        assert p["commune_name"] == names[p["commune_code"]], p


def test_worker_caches_follow_the_keys_agreement(workdir):
    """The land API keeps main roads and zoning per worker and role. A key whose data-sharing
    agreement limits roads to one class reads them through its own view: on the same worker
    (threads=1), before and after a plain key of the same role, each gets its own roads."""
    import json
    path = os.path.join(workdir, "cache_scope.sqlite")
    if os.path.exists(path):
        os.remove(path)
    qf.build(path)
    plain = run_spp("keys", "--db", path, "add", "--role", "investor").stdout.strip()
    agreed = run_spp("keys", "--db", path, "add", "--agency", "Ban QLDA", "--role", "investor",
                     "--layers", "investment_land,roads,zoning_blocks,detailed_plan_lots",
                     "--rows", "roads.road_class=quoc_lo").stdout.split()[0]
    cfg = os.path.join(workdir, "cache_scope.json")
    with open(cfg, "w") as f:
        json.dump({"threads": 1}, f)
    s = Server(path, workdir, config=cfg)
    try:
        def roads(key):
            status, _, body = s.get("/api/v1/land-funds?kind=investment&limit=100",
                                    {"X-API-Key": key})
            assert status == 200, body[:300]
            return {(r.get("nearest_main_road") or {}).get("name")
                    for r in json.loads(body)["results"]}
        first = roads(plain)
        assert "Đường 30 Tháng 4" in first  # an urban main road (do_thi_chinh)
        assert roads(agreed) <= {"Quốc lộ 91B", None}
        assert roads(plain) == first
        assert roads(agreed) <= {"Quốc lộ 91B", None}
    finally:
        s.stop()
