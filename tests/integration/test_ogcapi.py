# SPDX-License-Identifier: MIT
"""OGC API Features Parts 1, 2 and 3 with real clients: GDAL's OAPIF driver (ogrinfo/ogr2ogr via
the Python bindings) and plain HTTP as QGIS sends it. Expected values come from OGR reading the
store file, SpatiaLite SQL on it, and PROJ (osr) with the official VN-2000 parameters."""
import json
import os
import re
import urllib.parse

import pytest
from osgeo import gdal, ogr

import features_fixture as fx
from test_wfs import store_features, vn2000_to_wgs84

gdal.UseExceptions()
CRS5897 = "http://www.opengis.net/def/crs/EPSG/0/5897"
CRS4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


def items(server, layer="cadastral_parcels", headers=None, **kw):
    path = f"/collections/{layer}/items?" + urllib.parse.urlencode(kw)
    status, hdrs, body = server.get(path, headers=headers)
    return status, hdrs, json.loads(body) if body else None


def ids(fc):
    return sorted(f["id"] for f in fc["features"])


def problem(server, path):
    status, hdrs, body = server.get(path)
    assert hdrs["Content-Type"] == "application/problem+json", body[:200]
    return status, json.loads(body)


def test_conformance_and_landing(features_server):
    s, _, c = features_server.json("/conformance")
    conf = c["conformsTo"]
    for part in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                 "ogcapi-features-2/1.0/conf/crs", "ogcapi-features-3/1.0/conf/filter",
                 "ogcapi-features-3/1.0/conf/queryables", "cql2/1.0/conf/cql2-text",
                 "cql2/1.0/conf/cql2-json", "cql2/1.0/conf/basic-spatial-operators"):
        assert any(part in u for u in conf), part


def test_gdal_oapif_reads_the_store(features_server, features_store):
    ds = ogr.Open(f"OAPIF:{features_server.base}")
    t = vn2000_to_wgs84()
    for name in ("cadastral_parcels", "roads", "public_facilities"):
        lyr = ds.GetLayerByName(name)
        want = store_features(features_store, name)
        got = {f.GetFID(): f for f in lyr}
        assert sorted(got) == sorted(want)
        for fid, f in got.items():
            props, wkt = want[fid]
            for k, v in props.items():
                if v is None or k in ("owner_name", "owner_id_no"):
                    continue
                gv = f.GetField(k)
                if isinstance(v, float):
                    assert abs(gv - v) < 1e-9
                elif k.startswith("valid"):
                    assert gv.replace("/", "-") == v
                else:
                    assert gv == v, (k, gv, v)
            g = ogr.CreateGeometryFromWkt(wkt)
            g.Transform(t)  # the official transformation, by PROJ here
            pts_want = re.findall(r"[-\d.]+ [-\d.]+", g.ExportToWkt())
            pts_got = re.findall(r"[-\d.]+ [-\d.]+", f.GetGeometryRef().ExportToWkt())
            assert len(pts_got) == len(pts_want)
            for a, b in zip(pts_got, pts_want):
                (ax, ay), (bx, by) = map(float, a.split()), map(float, b.split())
                assert abs(ax - bx) < 2e-8 and abs(ay - by) < 2e-8  # about 2 mm


def test_ogr2ogr_oapif_to_geojson(features_server, features_store, workdir):
    out = os.path.join(workdir, "oapif_fac.geojson")
    gdal.VectorTranslate(out, f"OAPIF:{features_server.base}", layers=["public_facilities"],
                         format="GeoJSON")
    fc = json.load(open(out, encoding="utf-8"))
    want = store_features(features_store, "public_facilities")
    assert sorted(f["properties"]["name"] for f in fc["features"]) == \
        sorted(p["name"] for p, _ in want.values())


def test_paging_with_next_links(features_server):
    s, h, fc = items(features_server, limit=70)
    assert s == 200 and h["Content-Type"] == "application/geo+json"
    seen, pages = [], 0
    while True:
        assert fc["numberMatched"] == 300 and fc["numberReturned"] == len(fc["features"])
        seen += [f["id"] for f in fc["features"]]
        pages += 1
        nxt = [l["href"] for l in fc["links"] if l["rel"] == "next"]
        if not nxt:
            break
        s, _, body = features_server.get(nxt[0][len(features_server.base):])
        fc = json.loads(body)
    assert pages == 5 and sorted(seen) == list(range(1, 301))
    s, _, fc = items(features_server, limit=10, offset=295)
    assert ids(fc) == [296, 297, 298, 299, 300]
    assert any(l["rel"] == "prev" for l in fc["links"])


def test_bbox_and_crs(features_server, features_store):
    box = (586110, 1109045, 586290, 1109135)
    want = fx.expected_ids(features_store, "ST_Intersects(geom, BuildMbr(%s, %s, %s, %s, 5897))"
                           % box)
    s, _, fc = items(features_server, limit=1000, bbox="%s,%s,%s,%s" % box, **{"bbox-crs": CRS5897})
    assert ids(fc) == want
    t = vn2000_to_wgs84()
    (lo0, la0, _), (lo1, la1, _) = t.TransformPoint(box[0], box[1]), t.TransformPoint(box[2], box[3])
    s, _, fc = items(features_server, limit=1000, bbox=f"{lo0},{la0},{lo1},{la1}")
    assert ids(fc) == want
    s, _, fc = items(features_server, limit=1000, bbox=f"{la0},{lo0},{la1},{lo1}",
                     **{"bbox-crs": CRS4326})
    assert ids(fc) == want
    # crs=: storage coordinates exactly, Content-Crs header
    s, h, fc = items(features_server, "public_facilities", limit=1, crs=CRS5897)
    assert h["Content-Crs"] == f"<{CRS5897}>"
    con = fx.spatialite(features_store)
    x, y = con.execute("SELECT X(geom), Y(geom) FROM public_facilities WHERE fid = 1").fetchone()
    con.close()
    assert fc["features"][0]["geometry"]["coordinates"] == [x, y]
    s, h, fc = items(features_server, "public_facilities", limit=1, crs=CRS4326)
    lon, lat, _ = t.TransformPoint(x, y)
    c = fc["features"][0]["geometry"]["coordinates"]
    assert abs(c[0] - lat) < 1e-8 and abs(c[1] - lon) < 1e-8  # EPSG:4326 order
    s, h, fc = items(features_server, "public_facilities", limit=1)
    assert h["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"


@pytest.mark.parametrize("case", fx.CASES, ids=[c["name"] for c in fx.CASES])
def test_cql2_operators(features_server, features_store, case):
    want = fx.expected_ids(features_store, case["sql"])
    assert want
    s, _, fc = items(features_server, limit=1000, filter=case["text"],
                     **{"filter-crs": CRS5897})
    assert s == 200 and ids(fc) == want, fc
    s, _, fc = items(features_server, limit=1000, filter=json.dumps(case["json"]),
                     **{"filter-lang": "cql2-json", "filter-crs": CRS5897})
    assert s == 200 and ids(fc) == want, fc


def test_cql2_in_crs84_and_datetime(features_server, features_store):
    t = vn2000_to_wgs84()
    lon, lat, _ = t.TransformPoint(586130, 1109040)
    s, _, fc = items(features_server, filter=f"S_INTERSECTS(geom, POINT({lon} {lat}))")
    assert ids(fc) == fx.expected_ids(features_store,
                                      "ST_Contains(geom, MakePoint(586130, 1109040, 5897))")
    for dt, sql in (("2021-05-01", "valid_from <= '2021-05-01' AND (valid_to IS NULL OR "
                                   "valid_to >= '2021-05-01')"),
                    ("2025-01-01/..", "valid_to IS NULL OR valid_to >= '2025-01-01'"),
                    ("../2022-01-01", "valid_from <= '2022-01-01'"),
                    ("2024-06-01T00:00:00Z/2025-06-01T00:00:00Z",
                     "valid_from <= '2025-06-01T00:00:00Z' AND (valid_to IS NULL OR "
                     "valid_to >= '2024-06-01')")):
        s, _, fc = items(features_server, limit=1000, datetime=dt)
        assert s == 200 and ids(fc) == fx.expected_ids(features_store, sql), dt


def test_properties_sortby_item(features_server):
    s, _, fc = items(features_server, limit=5, properties="parcel_no,address",
                     sortby="-area_m2,parcel_no")
    assert all(set(f["properties"]) == {"parcel_no", "address"} for f in fc["features"])
    s, _, all_fc = items(features_server, limit=100000000)  # above the maximum: clamped
    assert s == 200 and all_fc["numberReturned"] == 300
    order = sorted(all_fc["features"],
                   key=lambda f: (-f["properties"]["area_m2"], f["properties"]["parcel_no"]))
    assert [f["id"] for f in fc["features"]] == [f["id"] for f in order[:5]]
    s, h, f = features_server.json("/collections/roads/items/12")
    assert s == 200 and h["Content-Type"] == "application/geo+json" and f["id"] == 12
    assert f["properties"]["road_id"] == "R011"
    assert problem(features_server, "/collections/roads/items/999")[0] == 404
    assert problem(features_server, "/collections/roads/items/abc")[0] == 404


def test_queryables_and_roles(features_server, catalog):
    s, h, qj = features_server.json("/collections/cadastral_parcels/queryables")
    assert h["Content-Type"] == "application/schema+json"
    public = {f["name"] for f in catalog["cadastral_parcels"]["fields"] if f["role"] == "public"}
    assert public <= set(qj["properties"]) and "owner_name" not in qj["properties"]
    assert qj["properties"]["sheet_no"]["type"] == "integer"
    s, _, body = features_server.get("/collections/cadastral_parcels/items?limit=300")
    assert b"owner_name" not in body and "Nguyễn Thị Ánh".encode() not in body
    a = problem(features_server, "/collections/cadastral_parcels/items?filter=owner_name%3D'x'")
    b = problem(features_server, "/collections/cadastral_parcels/items?filter=nothing%3D'x'")
    assert a[0] == b[0] == 400
    assert a[1]["detail"].replace("owner_name", "X") == b[1]["detail"].replace("nothing", "X")
    for param in ("sortby=owner_name", "properties=owner_name"):
        st, p = problem(features_server, "/collections/cadastral_parcels/items?" + param)
        assert st == 400 and "unknown property" in p["detail"]
    hdr = {"X-API-Key": features_server.planner_key}
    s, _, fc = items(features_server, headers=hdr, filter="owner_name = 'Nguyễn Thị Ánh 42'")
    assert ids(fc) == [42] and fc["features"][0]["properties"]["owner_name"] == "Nguyễn Thị Ánh 42"
    assert problem(features_server, "/collections/construction_permits/items")[0] == 404
    s, _, fc = items(features_server, "construction_permits", headers=hdr)
    assert s == 200 and fc["numberMatched"] == 10
    assert all("applicant_name" in f["properties"] for f in fc["features"])


def test_openapi_document(features_server):
    s, h, api = features_server.json("/api")
    assert s == 200 and h["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert api["openapi"].startswith("3.0.") and api["info"]["title"] and api["info"]["version"]
    for p in ("/", "/conformance", "/collections", "/collections/{collectionId}",
              "/collections/{collectionId}/items", "/collections/{collectionId}/items/{featureId}",
              "/collections/{collectionId}/queryables", "/api"):
        op = api["paths"][p]["get"]
        assert "200" in op["responses"]
        names = []
        for ref in op["parameters"]:
            name = ref["$ref"].split("/")[-1]
            prm = api["components"]["parameters"][name]  # every $ref resolves
            assert prm["in"] in ("path", "query") and "schema" in prm
            names.append(prm["name"])
        for var in re.findall(r"{(\w+)}", p):
            assert var in names
    enum = api["components"]["parameters"]["collectionId"]["schema"]["enum"]
    assert "cadastral_parcels" in enum and "construction_permits" not in enum


BAD = [
    ("bbox=1,2,3", "bbox"), ("bbox=5,5,1,1", "bbox"), ("bbox=a,b,c,d", "bbox"),
    ("limit=0", "limit"), ("limit=abc", "limit"), ("limit=-5", "limit"),
    ("offset=-1", "offset"), ("crs=EPSG:999999", "crs"), ("bbox-crs=foo&bbox=1,2,3,4", "bbox-crs"),
    ("filter=sheet_no%20%3D", "filter"), ("filter=sheet_no%3D1&filter-lang=sql", "filter-lang"),
    ("filter=%7B%22op%22%3A", "filter"), ("datetime=yesterday", "datetime"),
    ("filter=" + "(" * 60 + "sheet_no%3D1" + ")" * 60, "filter"),
    ("filter=S_INTERSECTS(geom%2CPOINT(1))", "filter"),
]


@pytest.mark.parametrize("query,param", BAD)
def test_malformed_items(features_server, query, param):
    st, p = problem(features_server, "/collections/cadastral_parcels/items?" + query)
    assert st == 400 and p["parameter"].lower() == param, p
    s, _, _ = features_server.get("/collections")
    assert s == 200


def test_sql_in_literals_and_html(features_server, features_store):
    for lit in ("x'' OR ''1''=''1", "1; DROP TABLE cadastral_parcels; --"):
        s, _, fc = items(features_server, filter=f"address = '{lit}'")
        assert s == 200 and fc["numberMatched"] == 0
    assert len(fx.expected_ids(features_store, "1")) == 300
    s, h, body = features_server.get("/collections/cadastral_parcels/items?f=html&limit=20")
    assert s == 200 and h["Content-Type"].startswith("text/html")
    text = body.decode()
    assert "<svg" in text and text.count("<path") == 20 and "Nguyễn Trãi" in text
    assert "owner" not in text
    s, h, body = features_server.get("/collections/roads/items/3?f=html")
    assert s == 200 and "R002" in body.decode()
    s, _, _ = features_server.get("/collections/roads/items/999?f=html")
    assert s == 404
