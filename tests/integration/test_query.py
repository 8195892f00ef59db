# SPDX-License-Identifier: MIT
"""The land API (issue 7) against a fixture city, every expected value computed independently
with OGR/GEOS (osgeo) or SpatiaLite SQL from the same store: land/at at a point inside parcels
chosen from the store, planning overlaps, road reserve, land-fund filters and order, CSV, roles,
commune names, errors naming their parameter, and `spp query` giving the API's answers."""
import csv
import io
import json
import math
import os
import subprocess
import urllib.parse

import pytest
from osgeo import ogr, osr

import query_fixture
from conftest import ROOT, Server, run_spp, spatialite

ogr.UseExceptions()

# EPSG:5897 with the official Decision 05/2007 parameters (EPSG:6960), as DESIGN.md requires
VN2000 = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
          "+towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,"
          "0.00427372,0.252906278 +units=m +no_defs")


def srs_pair():
    src = osr.SpatialReference()
    src.SetFromUserInput(VN2000)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return src, dst


def to_lonlat(x, y):
    src, dst = srs_pair()
    lon, lat, _ = osr.CoordinateTransformation(src, dst).TransformPoint(x, y)
    return lon, lat


def to_vn(lon, lat):
    src, dst = srs_pair()
    x, y, _ = osr.CoordinateTransformation(dst, src).TransformPoint(lon, lat)
    return x, y


@pytest.fixture(scope="module")
def city(workdir):
    path = os.path.join(workdir, "query_city.sqlite")
    if os.path.exists(path):
        os.remove(path)
    query_fixture.build(path)
    return path


@pytest.fixture(scope="module")
def planner_key(city):
    return run_spp("keys", "--db", city, "add", "--role", "planner").stdout.strip()


@pytest.fixture(scope="module")
def api(city, planner_key, workdir):
    s = Server(city, workdir)
    yield s
    s.stop()


def features(path, layer):
    """[(attributes dict, ogr geometry clone)] of a layer, read by OGR."""
    ds = ogr.Open(path)
    out = []
    for f in ds.GetLayerByName(layer):
        out.append((f.items(), f.GetGeometryRef().Clone()))
    return out


def get_json(api, path, headers=None):
    status, hdrs, body = api.get(path, headers)
    assert status == 200, (path, status, body[:300])
    return hdrs, json.loads(body)


def chosen_parcels(city, step=9):
    """Every step-th parcel of the store, with a point inside it (OGR PointOnSurface)."""
    parcels = features(city, "cadastral_parcels")
    assert len(parcels) > 300
    return [(a, g, g.PointOnSurface()) for a, g in parcels[::step]]


def block_at(blocks, pt):
    hits = [a["block_code"] for a, g in blocks if g.Contains(pt)]
    assert len(hits) <= 1
    return hits[0] if hits else None


def test_land_at_returns_the_parcel_and_zoning_block(api, city):
    blocks = features(city, "zoning_blocks")
    lots = features(city, "detailed_plan_lots")
    n_lot = 0
    for attrs, geom, pt in chosen_parcels(city):
        lon, lat = to_lonlat(pt.GetX(), pt.GetY())
        _, d = get_json(api, f"/api/v1/land/at?lon={lon:.9f}&lat={lat:.9f}")
        assert d["parcel"]["parcel_key"] == attrs["parcel_key"]
        assert d["parcel"]["sheet_no"] == attrs["sheet_no"]
        assert d["parcel"]["parcel_no"] == attrs["parcel_no"]
        assert d["parcel"]["area_m2"] == pytest.approx(attrs["area_m2"])
        assert d["parcel"]["geom_area_m2"] == pytest.approx(geom.GetArea(), abs=0.01)
        assert d["zoning_block"]["block_code"] == block_at(blocks, pt)
        lot = [a["lot_code"] for a, g in lots if g.Contains(pt)]
        assert (d["detailed_plan_lot"] or {}).get("lot_code") == (lot[0] if lot else None)
        n_lot += bool(lot)
        # the server's point is the official transformation of lon/lat: back within 1 mm
        assert abs(d["point"]["x"] - pt.GetX()) < 0.001 and abs(d["point"]["y"] - pt.GetY()) < 0.001
        codes = [c["code"] for c in d["parcel"]["lu_display_codes"]]
        assert "+".join(codes) == attrs["lu_display"]
        assert d["note"]["vi"] and d["note"]["en"]
    assert n_lot > 0  # some chosen parcels lie in detailed-plan lots


def test_land_at_vn2000_xy_and_vietnamese_order(api, city):
    for attrs, geom, pt in chosen_parcels(city, step=37):
        x, y = pt.GetX(), pt.GetY()
        _, a = get_json(api, f"/api/v1/land/at?x={x}&y={y}&crs=EPSG:5897")
        _, b = get_json(api, f"/api/v1/land/at?x={y}&y={x}&order=xy-vn")  # X = northing
        assert a["parcel"]["parcel_key"] == b["parcel"]["parcel_key"] == attrs["parcel_key"]
        assert a["point"]["x_n"] == pytest.approx(y) and a["point"]["y_e"] == pytest.approx(x)


def test_land_at_outside_every_parcel_still_answers_zoning(api, city):
    parcels = [g for _, g in features(city, "cadastral_parcels")]
    blocks = features(city, "zoning_blocks")
    # the street gap between parcel rows 2 and 3 (y = Y0 + 100), away from the parcels
    x, y = query_fixture.X0 + 333.3, query_fixture.Y0 + 100.0
    pt = ogr.CreateGeometryFromWkt(f"POINT({x} {y})")
    assert not any(g.Intersects(pt) for g in parcels)
    lon, lat = to_lonlat(x, y)
    _, d = get_json(api, f"/api/v1/land/at?lon={lon:.9f}&lat={lat:.9f}")
    assert d["parcel"] is None and d["red_lines"] is None
    assert d["zoning_block"]["block_code"] == block_at(blocks, pt)
    plans = sorted(a["plan_id"] for a, g in features(city, "plan_boundaries") if g.Contains(pt))
    assert sorted(p["plan_id"] for p in d["plans"]) == plans and plans
    assert [p["decision_no"] for p in d["plans"]]
    lup = [a["plan_code"] for a, g in features(city, "land_use_plan") if g.Contains(pt)]
    assert [p["plan_code"] for p in d["land_use_plan"]] == lup


def test_land_price_is_the_nearest_segment(api, city):
    segs = features(city, "land_price_segments")
    for attrs, geom, pt in chosen_parcels(city, step=41):
        _, d = get_json(api, f"/api/v1/land/at?x={pt.GetX()}&y={pt.GetY()}")
        dist = sorted((g.Distance(geom), a["road_name"], a["from_desc"]) for a, g in segs)
        want = dist[0] if dist[0][0] <= 2000 else None
        got = d["land_price"]
        if want is None:
            assert got is None
        else:
            assert (got["road_name"], got["from_desc"]) == (want[1], want[2])
            assert got["distance_m"] == pytest.approx(want[0], abs=0.01)


def spatialite_reserve(city, key):
    """m2 of the parcel inside the road reserve, computed by SpatiaLite: for each red line of kind
    cgdd or lo_gioi, the band of its row_width_m around the merged centreline of the road of the
    same name (a lo_gioi line without one: around the line), flat ends; union; intersection."""
    con = spatialite(city)
    con.execute("SELECT BufferOptions_SetEndCapStyle('FLAT')")
    con.execute("SELECT BufferOptions_SetJoinStyle('ROUND')")
    con.execute("SELECT BufferOptions_SetQuadrantSegments(8)")
    row = con.execute(
        "SELECT ST_Area(ST_Intersection(p.geom, (SELECT ST_UnaryUnion(ST_Collect(band)) FROM ("
        "  SELECT ST_Buffer(COALESCE((SELECT ST_LineMerge(ST_Union(d.geom)) FROM roads d"
        "                             WHERE d.name = r.road_name),"
        "                            CASE WHEN r.kind = 'lo_gioi' THEN r.geom END),"
        "                   r.row_width_m / 2.0) AS band"
        "  FROM red_lines r WHERE r.kind IN ('cgdd', 'lo_gioi') AND r.row_width_m > 0"
        "  AND PtDistWithin(r.geom, p.geom, 100 + r.row_width_m)))))"
        ", ST_Area(p.geom) FROM cadastral_parcels p WHERE p.parcel_key = ?", (key,)).fetchone()
    con.close()
    total, area = row[0] or 0.0, row[1]
    # below 0.5 m2 or 0.1 % of the parcel an overlap is drawing noise, not a crossing
    return total if total >= 0.5 and total >= 0.001 * area else 0.0


def test_planning_overlaps_sum_to_the_parcel_and_match_ogr(api, city):
    blocks = features(city, "zoning_blocks")
    straddling = 0
    for attrs, geom, _ in chosen_parcels(city, step=7):
        _, d = get_json(api, f"/api/v1/parcels/{attrs['parcel_key']}/planning")
        area = geom.GetArea()
        got = {b["block_code"]: b["overlap_m2"] for b in d["zoning_blocks"]}
        want = {a["block_code"]: geom.Intersection(g).GetArea() for a, g in blocks
                if geom.Intersection(g).GetArea() > 0}
        assert got.keys() == want.keys()
        for k in want:
            assert got[k] == pytest.approx(want[k], abs=0.01)
        assert abs(sum(got.values()) - area) <= 0.001 * area
        assert abs(sum(b["overlap_pct"] for b in d["zoning_blocks"]) - 100) <= 0.1
        for section in ("general_plan_zones", "land_use_current"):
            assert abs(sum(x["overlap_m2"] for x in d[section]) - area) <= 0.001 * area
        straddling += len(got) > 1
        # corners: the stored ring, X = northing first, closing point dropped
        ring = geom.GetGeometryRef(0).GetGeometryRef(0)
        pts = [ring.GetPoint_2D(i) for i in range(ring.GetPointCount() - 1)]
        corners = d["corners"]["rings"][0]
        assert [(c["y_e"], c["x_n"]) for c in corners] == [
            pytest.approx((round(x, 3), round(y, 3)), abs=0.0006) for x, y in pts]
        assert d["parcel"]["parcel_key"] == attrs["parcel_key"]
    assert straddling > 0  # the test covers parcels split between blocks


def test_road_reserve_matches_spatialite(api, city):
    near_road = [a for a, g in features(city, "cadastral_parcels")
                 if abs(g.Centroid().GetY() - (query_fixture.Y0 + 100)) < 30
                 or abs(g.Centroid().GetX() - (query_fixture.X0 + 607)) < 40]
    assert len(near_road) > 10
    checked = 0
    for attrs in near_road[::3]:
        want = spatialite_reserve(city, attrs["parcel_key"])
        _, d = get_json(api, f"/api/v1/parcels/{attrs['parcel_key']}/planning")
        assert d["red_lines"]["road_reserve_m2"] == pytest.approx(want, abs=0.05)
        if want > 0:
            checked += 1
            assert any(l["reserve_m2"] > 0 for l in d["red_lines"]["lines"])
    assert checked > 3


# Land funds: the same search done with OGR in Python.

def fund_rows(city, role_planner=False):
    rows = []
    for layer, kind, idf, fnf in (("vacant_land_fund", "vacant", "fund_id", "planned_function"),
                                  ("investment_land", "investment", "project_id", "function")):
        for a, g in features(city, layer):
            # the catalog's row rule: below planner, only funds with public = 1 (NULL is not
            # published); investment_land has no rule
            if not role_planner and layer == "vacant_land_fund" and a.get("public") != 1:
                continue
            rows.append({"id": a[idf], "kind": kind, "area": a["area_m2"], "function": a[fnf],
                         "status": a["status"], "commune": a["commune_code"], "geom": g})
    return rows


def expected(rows, sort=None, key=None):
    """Ids in the server's order: key ascending (or descending for "-key"), NaN last, then id."""
    desc = bool(sort) and sort.startswith("-")

    def k(r):
        v = key(r) if key else 0
        nan = v != v
        return (nan, 0 if nan else (-v if desc else v), r["id"])
    return [r["id"] for r in sorted(rows, key=k)]


def search(api, **params):
    params.setdefault("f", "json")
    q = urllib.parse.urlencode(params)
    _, d = get_json(api, f"/api/v1/land-funds?{q}")
    return d


def test_land_funds_filters_match_ogr(api, city):
    rows = fund_rows(city)
    d = search(api, kind="vacant", commune="ninh kieu", sort="-area", limit=100)
    want = expected([r for r in rows if r["kind"] == "vacant" and r["commune"] == "31120"],
                    "-area", lambda r: r["area"])
    assert [r["id"] for r in d["results"]] == want and d["numberMatched"] == len(want)
    assert len(want) >= 3
    d = search(api, kind="investment", min_area=1500, max_area=2500, sort="area", limit=100)
    want = expected([r for r in rows if r["kind"] == "investment" and 1500 <= r["area"] <= 2500],
                    "area", lambda r: r["area"])
    assert [r["id"] for r in d["results"]] == want and want
    d = search(api, function="HH", limit=100)
    want = expected([r for r in rows if r["function"] == "HH"])
    assert [r["id"] for r in d["results"]] == want and want
    d = search(api, kind="vacant", status="dang_quan_ly", sort="area", limit=100)
    want = expected([r for r in rows if r["kind"] == "vacant" and r["status"] == "dang_quan_ly"],
                    "area", lambda r: r["area"])
    assert [r["id"] for r in d["results"]] == want and want


def test_land_funds_area_ties_are_broken_by_id(api, city):
    d = search(api, kind="vacant", sort="-area", limit=100)
    areas = [(r["area_m2"], r["id"]) for r in d["results"]]
    ties = [a for a in areas if [b[0] for b in areas].count(a[0]) > 1]
    assert ties and ties == sorted(ties, key=lambda t: (-t[0], t[1]))


def test_land_funds_sort_by_a_field(api, city):
    rows = fund_rows(city)
    deadlines = {a["project_id"]: a["deadline"] for a, _ in features(city, "investment_land")}
    d = search(api, sort="-deadline", limit=100)
    got = [r["id"] for r in d["results"]]
    inv = sorted((r for r in rows if r["kind"] == "investment"),
                 key=lambda r: (deadlines[r["id"]], r["id"]), reverse=True)
    # descending deadlines first (ties by id ascending), funds without a deadline last by id
    inv = sorted(inv, key=lambda r: (tuple(-ord(c) for c in deadlines[r["id"]]), r["id"]))
    want = [r["id"] for r in inv] + sorted(r["id"] for r in rows if r["kind"] == "vacant")
    assert got == want


def test_land_funds_near_within_and_distance_order(api, city):
    rows = fund_rows(city)
    x, y = query_fixture.X0 + 500, query_fixture.Y0 + 300
    lon, lat = to_lonlat(x, y)
    pt = ogr.CreateGeometryFromWkt(f"POINT({x} {y})")
    for r in rows:
        r["dist"] = r["geom"].Distance(pt)
    d = search(api, near=f"{lon:.9f},{lat:.9f}", within_m=350, sort="distance", limit=100)
    want = expected([r for r in rows if r["dist"] <= 350], "distance", lambda r: r["dist"])
    assert [r["id"] for r in d["results"]] == want and len(want) >= 3
    for got in d["results"]:
        row = next(r for r in rows if r["id"] == got["id"])
        assert got["distance_m"] == pytest.approx(row["dist"], abs=0.1)


def test_land_funds_bbox_matches_ogr(api, city):
    rows = fund_rows(city)
    x0, y0, x1, y1 = (query_fixture.X0 + 100, query_fixture.Y0 + 50,
                      query_fixture.X0 + 700, query_fixture.Y0 + 400)
    (lon0, lat0), (lon1, lat1) = to_lonlat(x0, y0), to_lonlat(x1, y1)
    box = ogr.CreateGeometryFromWkt(
        f"POLYGON(({lon0} {lat0},{lon1} {lat0},{lon1} {lat1},{lon0} {lat1},{lon0} {lat0}))")
    box.Segmentize(abs(lon1 - lon0) / 20)
    src, dst = srs_pair()
    box.Transform(osr.CoordinateTransformation(dst, src))
    d = search(api, bbox=f"{lon0:.9f},{lat0:.9f},{lon1:.9f},{lat1:.9f}", limit=100)
    want = expected([r for r in rows if r["geom"].Intersects(box)])
    assert [r["id"] for r in d["results"]] == want and want
    assert len(want) < len(rows)


def test_land_funds_zoning_indicators_and_area_ratio_sort(api, city):
    rows = fund_rows(city)
    lots = features(city, "detailed_plan_lots")
    blocks = features(city, "zoning_blocks")
    for r in rows:
        pt = r["geom"].PointOnSurface()
        hit = [a for a, g in lots if g.Intersects(pt)] or [a for a, g in blocks if g.Intersects(pt)]
        r["far"] = hit[0]["max_far"] if hit else math.nan
        r["code"] = (hit[0].get("lot_code") or hit[0].get("block_code")) if hit else None
    d = search(api, sort="-area_ratio", limit=100)
    want = expected(rows, "-area_ratio", lambda r: r["far"])
    assert [r["id"] for r in d["results"]] == want
    for got in d["results"]:
        row = next(r for r in rows if r["id"] == got["id"])
        assert got["zoning"]["code"] == row["code"]
        assert got["zoning"]["max_far"] == pytest.approx(row["far"])
        assert got["buildable_floor_area_m2"] == pytest.approx(row["area"] * row["far"], abs=0.1)


def test_land_funds_nearest_main_road(api, city):
    roads = [(a, g) for a, g in features(city, "roads")
             if a["road_class"] in ("cao_toc", "quoc_lo", "tinh_lo", "do_thi_chinh")]
    d = search(api, limit=100)
    rows = {r["id"]: r for r in fund_rows(city)}
    for got in d["results"]:
        g = rows[got["id"]]["geom"]
        dist, name = min((rg.Distance(g), a["name"]) for a, rg in roads)
        assert got["nearest_main_road"]["name"] == name
        assert got["nearest_main_road"]["distance_m"] == pytest.approx(dist, abs=0.1)


def test_land_funds_paging_and_total(api, city):
    full = search(api, sort="area", limit=100)
    page = search(api, sort="area", limit=3, offset=4)
    assert [r["id"] for r in page["results"]] == [r["id"] for r in full["results"]][4:7]
    assert page["numberMatched"] == full["numberMatched"] == len(fund_rows(city))
    assert page["numberReturned"] == 3
    capped = search(api, limit=10 ** 9)
    assert capped["limit"] == 10000  # cfg limits.max_features


def test_land_funds_csv_and_geojson(api, city):
    status, hdrs, body = api.get("/api/v1/land-funds?sort=-area&limit=5&f=csv")
    assert status == 200 and hdrs["Content-Type"].startswith("text/csv")
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the Vietnamese right
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    d = search(api, sort="-area", limit=5)
    assert [r["id"] for r in table] == [r["id"] for r in d["results"]]
    assert {"id", "kind", "area_m2", "max_far", "nearest_main_road", "status"} <= set(table[0])
    assert float(table[0]["area_m2"]) == pytest.approx(d["results"][0]["area_m2"])
    # lang=vi|en: the columns are the catalog's titles (what the web map downloads)
    cat = json.loads(api.get("/web/catalog.json")[2])
    vac = next(layer for layer in cat["layers"] if layer["id"] == "vacant_land_fund")
    area = next(f for f in vac["fields"] if f["name"] == "area_m2")
    for lang in ("vi", "en"):
        status, _, body = api.get(f"/api/v1/land-funds?kind=vacant&sort=-area&limit=5&f=csv&lang={lang}")
        assert status == 200 and body.startswith(b"\xef\xbb\xbf")
        head = next(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert f"{area['label'][lang]} (m²)" in head, head
        assert not any(c in head for c in ("area_m2", "commune_code", "max_far")), head
    assert api.get("/api/v1/land-funds?f=csv&lang=fr")[0] == 400
    status, hdrs, body = api.get("/api/v1/land-funds?sort=-area&limit=5&f=geojson")
    assert status == 200 and hdrs["Content-Type"].startswith("application/geo+json")
    fc = json.loads(body)
    assert [f["properties"]["id"] for f in fc["features"]] == [r["id"] for r in d["results"]]
    one = fc["features"][0]
    g = ogr.CreateGeometryFromJson(json.dumps(one["geometry"]))
    src, dst = srs_pair()
    g.Transform(osr.CoordinateTransformation(dst, src))
    assert g.GetArea() == pytest.approx(d["results"][0]["area_m2"], rel=1e-3)
    _, f1 = get_json(api, f"/api/v1/land-funds/{one['properties']['id']}")
    assert f1["properties"]["area_m2"] == one["properties"]["area_m2"]
    assert f1["geometry"]["type"] == "MultiPolygon"


def test_roles_decide_fields_and_unpublished_funds(api, city, planner_key):
    d = search(api, kind="vacant", limit=100)
    ids = [r["id"] for r in d["results"]]
    assert "QD-011" not in ids  # public = 0
    assert all("contact_person" not in r["attributes"] for r in d["results"])
    status, _, _ = api.get("/api/v1/land-funds/QD-011")
    assert status == 404
    _, p = get_json(api, "/api/v1/land-funds?kind=vacant&limit=100&f=json",
                    {"X-API-Key": planner_key})
    assert "QD-011" in [r["id"] for r in p["results"]]
    assert all(r["attributes"]["contact_person"] == "Trần Thị B" for r in p["results"])
    # sorting by a field is refused below its role exactly like an unknown field
    s1, _, b1 = api.get("/api/v1/land-funds?sort=contact_person")
    s2, _, b2 = api.get("/api/v1/land-funds?sort=zzqqqqqqqqqqqq")
    assert s1 == s2 == 400 and b1.replace(b"contact_person", b"X") == b2.replace(b"zzqqqqqqqqqqqq", b"X")
    s3, _, _ = api.get("/api/v1/land-funds?sort=contact_person", {"X-API-Key": planner_key})
    assert s3 == 200
    key = features(city, "cadastral_parcels")[0][0]["parcel_key"]
    _, pub = get_json(api, f"/api/v1/parcels/{key}")
    assert "owner_name" not in pub["properties"] and "certificate_no" not in pub["properties"]
    _, pl = get_json(api, f"/api/v1/parcels/{key}", {"X-API-Key": planner_key})
    assert pl["properties"]["owner_name"].startswith("Nguyễn Văn")
    _, at = get_json(api, "/api/v1/land/at?lon=105.788&lat=10.034")
    assert "owner_name" not in json.dumps(at)
    status, _, body = api.get("/api/v1/parcels?commune=31120&sheet=1&f=csv")
    assert "owner_name" not in body.decode()


def test_parcels_by_commune_name_with_or_without_diacritics(api, city):
    parcels = [a for a, _ in features(city, "cadastral_parcels")
               if a["commune_code"] == "31120" and a["sheet_no"] == 2]
    want = sorted(a["parcel_no"] for a in parcels)
    for commune in ("31120", "Ninh Kiều", "ninh kieu", "PHUONG NINH KIEU", "Phường Ninh Kiều"):
        q = urllib.parse.urlencode({"commune": commune, "sheet": 2, "limit": 1000})
        hdrs, d = get_json(api, f"/api/v1/parcels?{q}")
        assert hdrs["Content-Type"].startswith("application/geo+json")
        assert [f["properties"]["parcel_no"] for f in d["features"]] == want
        assert d["numberMatched"] == len(want)
    one = parcels[3]
    q = urllib.parse.urlencode({"commune": "ninh kieu", "sheet": 2, "parcel": one["parcel_no"]})
    _, d = get_json(api, f"/api/v1/parcels?{q}")
    assert [f["id"] for f in d["features"]] == [one["parcel_key"]]
    status, hdrs, body = api.get(f"/api/v1/parcels?{q}&f=csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert status == 200 and [r["parcel_key"] for r in rows] == [one["parcel_key"]]
    _, f1 = get_json(api, f"/api/v1/parcels/{one['parcel_key']}")
    assert f1["id"] == one["parcel_key"] and f1["properties"]["commune_name"] == "Ninh Kiều"


ERRORS = [
    ("/api/v1/land/at?lon=200&lat=10", "lon"),
    ("/api/v1/land/at?lon=105.7", "lat"),
    ("/api/v1/land/at?lon=abc&lat=10", "lon"),
    ("/api/v1/land/at", "lon"),
    ("/api/v1/land/at?lat=95&lon=105", "lat"),
    ("/api/v1/land/at?x=586000&y=1109500&crs=EPSG:4326", "crs"),
    ("/api/v1/land/at?x=586000&y=1109500&crs=EPSG:999999", "crs"),
    ("/api/v1/land/at?x=586000&y=1109500&order=yx", "order"),
    ("/api/v1/land/at?x=586000", "y"),
    ("/api/v1/land/at?lon=105.7&lat=10&x=1&y=2", "x"),
    ("/api/v1/land/at?lon=105.7&lat=10&zoom=3", "zoom"),
    ("/api/v1/land-funds?sort=bogus", "sort"),
    ("/api/v1/land-funds?sort=Not-A-Field!", "sort"),
    ("/api/v1/land-funds?kind=vacant&sort=deadline", "sort"),
    ("/api/v1/land-funds?sort=distance", "sort"),
    ("/api/v1/land-funds?kind=other", "kind"),
    ("/api/v1/land-funds?min_area=-1", "min_area"),
    ("/api/v1/land-funds?min_area=500&max_area=100", "max_area"),
    ("/api/v1/land-funds?commune=Atlantis", "commune"),
    ("/api/v1/land-funds?function=XYZ", "function"),
    ("/api/v1/land-funds?status=nope", "status"),
    ("/api/v1/land-funds?within_m=100", "within_m"),
    ("/api/v1/land-funds?near=105.78,10.03&within_m=-5", "within_m"),
    ("/api/v1/land-funds?bbox=1,2,3", "bbox"),
    ("/api/v1/land-funds?bbox=105.8,10,105.7,10.1", "bbox"),
    ("/api/v1/land-funds?near=200,10", "near"),
    ("/api/v1/land-funds?near=105.7", "near"),
    ("/api/v1/land-funds?limit=-1", "limit"),
    ("/api/v1/land-funds?limit=ten", "limit"),
    ("/api/v1/land-funds?offset=x", "offset"),
    ("/api/v1/land-funds?f=xml", "f"),
    ("/api/v1/land-funds?foo=1", "foo"),
    ("/api/v1/parcels?sheet=1", "commune"),
    ("/api/v1/parcels?commune=31120&sheet=0", "sheet"),
    ("/api/v1/parcels?commune=31120&parcel=3", "sheet"),
    ("/api/v1/parcels?commune=Atlantis&sheet=1", "commune"),
]


@pytest.mark.parametrize("path,param", ERRORS)
def test_errors_name_the_parameter(api, path, param):
    status, hdrs, body = api.get(path)
    assert status == 400, (path, status, body)
    assert hdrs["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["parameter"] == param and problem["status"] == 400 and problem["detail"]


def test_not_found(api):
    for path, param in (("/api/v1/parcels/999999999999", "parcel_key"),
                        ("/api/v1/parcels/999999999999/planning", "parcel_key"),
                        ("/api/v1/land-funds/NOPE", "id")):
        status, hdrs, body = api.get(path)
        assert status == 404 and json.loads(body)["parameter"] == param


def test_cli_gives_the_api_answers(api, city):
    attrs, _, pt = chosen_parcels(city, step=50)[1]
    lon, lat = to_lonlat(pt.GetX(), pt.GetY())
    _, want = get_json(api, f"/api/v1/land/at?lon={lon:.9f}&lat={lat:.9f}")
    got = json.loads(run_spp("query", "--db", city, "land-at", f"{lon:.9f}", f"{lat:.9f}").stdout)
    assert got == want
    _, want = get_json(api, "/api/v1/land-funds?kind=vacant&min_area=500&sort=-area")
    got = json.loads(run_spp("query", "--db", city, "land-funds", "--kind", "vacant",
                             "--min-area", "500", "--sort=-area").stdout)
    assert got == want
    got = json.loads(run_spp("query", "--db", city, "parcel", "ninh kieu",
                             str(attrs["sheet_no"]), str(attrs["parcel_no"])).stdout)
    assert [f["id"] for f in got["features"]] == [attrs["parcel_key"]]
    p = run_spp("query", "--db", city, "land-funds", "--sort", "bogus", check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "sort" in p.stderr


def test_land_funds_one_by_one_equals_page(api, city):
    """A page is enriched with one query per layer, a single fund alone: the answers agree."""
    page = search(api, sort="-area", limit=100)["results"]
    for i, want in enumerate(page):
        one = search(api, sort="-area", limit=1, offset=i)["results"][0]
        assert one == want
        _, f = get_json(api, f"/api/v1/land-funds/{want['id']}")
        assert f["properties"] == want and f["disclaimer"]["vi"]


# The demo city of the import engineer (data/build_demo.sh: real importer output, two wards, red
# lines on both sides of each road, zoning blocks between them, funds made of parcels).

@pytest.fixture(scope="module")
def demo_city(request, workdir):
    try:
        path = request.getfixturevalue("demo_store")
    except pytest.FixtureLookupError:
        script = os.path.join(ROOT, "data", "build_demo.sh")
        if not os.path.exists(script):
            pytest.skip("no demo city on this build")
        path = os.path.join(workdir, "query_demo.sqlite")
        if not os.path.exists(path):
            subprocess.run([script, path], check=True, capture_output=True, cwd=ROOT,
                           env={**os.environ, "PATH": os.environ.get("PATH", "")})
    s = Server(path, workdir)
    yield path, s
    s.stop()


def union_area(geom, others):
    u = None
    for g in others:
        i = geom.Intersection(g)
        if i.GetArea() > 0:
            u = i if u is None else u.Union(i)
    return u.GetArea() if u is not None else 0.0


def test_demo_land_at_returns_the_parcel_and_zoning_block(demo_city):
    path, api = demo_city
    blocks = features(path, "zoning_blocks")
    parcels = features(path, "cadastral_parcels")
    assert len(parcels) > 500 and blocks
    n_block = 0
    for attrs, geom in parcels[::17]:
        pt = geom.PointOnSurface()
        lon, lat = to_lonlat(pt.GetX(), pt.GetY())
        _, d = get_json(api, f"/api/v1/land/at?lon={lon:.9f}&lat={lat:.9f}")
        assert d["parcel"]["parcel_key"] == attrs["parcel_key"]
        want = [a["block_code"] for a, g in blocks if g.Contains(pt)]
        assert (d["zoning_block"] or {}).get("block_code") == (want[0] if want else None)
        n_block += bool(want)
    assert n_block > 10


def test_demo_planning_overlaps(demo_city):
    path, api = demo_city
    blocks = [g for _, g in features(path, "zoning_blocks")]
    luc = [g for _, g in features(path, "land_use_current")]
    full = 0
    for attrs, geom in features(path, "cadastral_parcels")[::23]:
        _, d = get_json(api, f"/api/v1/parcels/{attrs['parcel_key']}/planning")
        area = geom.GetArea()
        got = sum(b["overlap_m2"] for b in d["zoning_blocks"])
        want = union_area(geom, blocks)
        assert got == pytest.approx(want, rel=1e-3, abs=0.05)
        if want >= 0.999 * area:
            full += 1
            assert abs(got - area) <= 0.001 * area
        got = sum(x["overlap_m2"] for x in d["land_use_current"])
        assert got == pytest.approx(union_area(geom, luc), rel=1e-3, abs=0.05)
    assert full > 5


def test_demo_road_reserve(demo_city):
    path, api = demo_city
    reds = [g for a, g in features(path, "red_lines") if a["kind"] == "cgdd"]
    near = [a for a, g in features(path, "cadastral_parcels") if any(g.Distance(r) < 1 for r in reds)]
    assert len(near) > 10
    cut = 0
    for attrs in near[::4]:
        want = spatialite_reserve(path, attrs["parcel_key"])
        _, d = get_json(api, f"/api/v1/parcels/{attrs['parcel_key']}/planning")
        assert d["red_lines"]["road_reserve_m2"] == pytest.approx(want, abs=0.05)
        cut += want > 1
    assert cut > 3  # the demo's red lines cut into parcels


def test_demo_land_funds_match_ogr(demo_city):
    path, api = demo_city
    rows = fund_rows(path)
    d = search(api, commune="tan an", sort="-area", limit=100)
    want = expected([r for r in rows if r["commune"] == "31135"], "-area", lambda r: r["area"])
    assert [r["id"] for r in d["results"]] == want and want
    d = search(api, kind="vacant", status="dang_quan_ly", min_area=35000, sort="area", limit=100)
    want = expected([r for r in rows if r["kind"] == "vacant" and r["status"] == "dang_quan_ly"
                     and r["area"] >= 35000], "area", lambda r: r["area"])
    assert [r["id"] for r in d["results"]] == want and want
    status, _, body = api.get("/api/v1/land-funds?f=csv&sort=area&limit=100")
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["id"] for r in table] == expected(rows, "area", lambda r: r["area"])


def test_land_funds_follow_a_zoning_reimport(city, workdir):
    # the zoning of a fund comes from the worker's copy of the zoning layers, kept until an import
    # bumps the layer's version: a re-import while serving is seen by the next search
    import shutil
    path = os.path.join(workdir, "zoning_reimport.sqlite")
    shutil.copy(city, path)
    src, dst = srs_pair()
    to_wgs = osr.CoordinateTransformation(src, dst)
    lineage = {"src_file", "src_crs", "src_encoding", "import_batch"}

    def write_blocks(fname, far_of):
        feats = []
        for a, g in features(path, "zoning_blocks"):
            g = g.Clone()
            g.Transform(to_wgs)
            props = {k: v for k, v in a.items() if k not in lineage and v is not None}
            props["max_far"] = far_of(props)
            feats.append({"type": "Feature", "properties": props,
                          "geometry": json.loads(g.ExportToJson())})
        with open(fname, "w", encoding="utf-8") as f:
            json.dump({"type": "FeatureCollection", "features": feats}, f, ensure_ascii=False)

    first = os.path.join(workdir, "blocks_v1.geojson")
    write_blocks(first, lambda p: p["max_far"])
    run_spp("import", "--db", path, "--layer", "zoning_blocks", first)
    s = Server(path, workdir)
    try:
        before = search(s, sort="-area_ratio", limit=100)["results"]
        assert any(r["zoning"] for r in before)
        second = os.path.join(workdir, "blocks_v2.geojson")
        write_blocks(second, lambda p: 9.5)
        run_spp("import", "--db", path, "--layer", "zoning_blocks", second)
        after = search(s, sort="-area_ratio", limit=100)["results"]
        zoned = [r for r in after if r["zoning"] and r["zoning"]["source"] == "zoning_block"]
        assert zoned and all(r["zoning"]["max_far"] == 9.5 for r in zoned)
        assert {r["id"] for r in after} == {r["id"] for r in before}
    finally:
        s.stop()


def test_red_lines_touching_a_parcel_are_not_crossings(demo_city):
    """A red line along a parcel's edge (or through it for under 0.5 m) does not cross it; one
    running through its interior does. Lengths by SpatiaLite, independent of spp's GEOS code."""
    path, api = demo_city
    con = spatialite(path)
    rows = con.execute(
        "SELECT p.parcel_key, r.ROWID, ST_Length(ST_Difference(ST_Intersection(r.geom, p.geom),"
        " ST_Boundary(p.geom))) FROM cadastral_parcels p, red_lines r"
        " WHERE ST_Intersects(r.geom, p.geom) AND p.parcel_key IS NOT NULL").fetchall()
    con.close()
    touching = [(k, n) for k, _, n in rows if (n or 0) < 0.5]
    through = [(k, n) for k, _, n in rows if (n or 0) >= 0.5]
    assert touching and through  # the demo has both
    for key, _ in touching[::max(1, len(touching) // 15)]:
        _, d = get_json(api, f"/api/v1/parcels/{key}/planning")
        inside = {k for k, n in through if k == key}
        crossing = [ln for ln in d["red_lines"]["lines"] if ln["crosses_parcel"]]
        if not inside:
            assert not crossing, (key, crossing)
        for ln in d["red_lines"]["lines"]:  # listed only for a real crossing or reserve overlap
            assert ln["crosses_parcel"] or ln["reserve_m2"] >= 0.5, (key, ln)
    for key, _ in through[::max(1, len(through) // 10)]:
        _, d = get_json(api, f"/api/v1/parcels/{key}/planning")
        assert any(ln["crosses_parcel"] for ln in d["red_lines"]["lines"]), key
