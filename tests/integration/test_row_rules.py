# SPDX-License-Identifier: MIT
"""Row rules (catalog "row_rule", enforced in the one query path): an unpublished land fund
(vacant_land_fund.public = 0) is seen by planners and admins only, on every output path: OGC API
items, item and itemCount, WFS GetFeature and hits, WMS GetMap and GetFeatureInfo, raster and
vector tiles, the land API search, its CSV and one fund by id. The expected sets come from the
store file read with OGR, not from spp."""
import json
import math
import sqlite3

import pytest
from osgeo import gdal, ogr

import query_fixture
from conftest import Server, run_spp
from test_query import to_lonlat

gdal.UseExceptions()

ROLES = ["anonymous", "investor", "planner", "admin"]


@pytest.fixture(scope="module")
def city(workdir):
    import os
    path = os.path.join(workdir, "rowrule_city.sqlite")
    if os.path.exists(path):
        os.remove(path)
    query_fixture.build(path)
    return path


@pytest.fixture(scope="module")
def keys(city):
    out = {"anonymous": None}
    for role in ROLES[1:]:
        out[role] = run_spp("keys", "--db", city, "add", "--role", role).stdout.strip()
    return out


@pytest.fixture(scope="module")
def api(city, keys, workdir):
    s = Server(city, workdir)
    s.db = city
    yield s
    s.stop()


@pytest.fixture(scope="module")
def funds(city):
    """{fund_id: (public, centroid lon/lat)} from the store file through OGR."""
    ds = ogr.Open(city)
    out = {}
    for f in ds.GetLayerByName("vacant_land_fund"):
        c = f.GetGeometryRef().PointOnSurface()
        out[f["fund_id"]] = (f["public"], to_lonlat(c.GetX(), c.GetY()))
    assert sum(1 for p, _ in out.values() if not p) >= 1 and len(out) > 5
    return out


def visible(funds, role):
    return sorted(k for k, (pub, _) in funds.items() if pub or role in ("planner", "admin"))


def get(api, keys, role, path):
    h = {"X-API-Key": keys[role]} if keys[role] else {}
    status, hdrs, body = api.get(path, h)
    assert status == 200, (role, path, status, body[:300])
    return body


def hidden_id(funds):
    return next(k for k, (pub, _) in funds.items() if not pub)


@pytest.mark.parametrize("role", ROLES)
def test_ogcapi_items_item_and_count(api, keys, funds, role):
    body = json.loads(get(api, keys, role, "/collections/vacant_land_fund/items?limit=1000"))
    ids = sorted(f["properties"]["fund_id"] for f in body["features"])
    assert ids == visible(funds, role)
    assert body["numberMatched"] == len(ids)
    coll = json.loads(get(api, keys, role, "/collections/vacant_land_fund"))
    if role in ("planner", "admin"):  # the layer's recorded count (the fixture writes it by SQL)
        con = sqlite3.connect(api.db)
        recorded = con.execute("SELECT n_features FROM spp_layers"
                               " WHERE layer = 'vacant_land_fund'").fetchone()[0]
        con.close()
        assert coll["itemCount"] == recorded
    else:  # counted with the rule: the hidden fund is not even counted
        assert coll["itemCount"] == len(visible(funds, role))
    # the hidden fund by its feature id: 404 unless the role may see it
    fid = next(f["id"] for f in json.loads(get(api, keys, "planner",
               "/collections/vacant_land_fund/items?limit=1000"))["features"]
               if f["properties"]["fund_id"] == hidden_id(funds))
    h = {"X-API-Key": keys[role]} if keys[role] else {}
    status, _, _ = api.get(f"/collections/vacant_land_fund/items/{fid}", h)
    assert status == (200 if role in ("planner", "admin") else 404)


@pytest.mark.parametrize("role", ROLES)
def test_wfs_getfeature_and_hits(api, keys, funds, role):
    q = "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=spp:vacant_land_fund"
    body = json.loads(get(api, keys, role, q + "&OUTPUTFORMAT=application/json"))
    assert sorted(f["properties"]["fund_id"] for f in body["features"]) == visible(funds, role)
    hits = get(api, keys, role, q + "&RESULTTYPE=hits").decode()
    assert f'numberMatched="{len(visible(funds, role))}"' in hits


def bbox_around(lon, lat, d=0.0004):
    return lon - d, lat - d, lon + d, lat + d


@pytest.mark.parametrize("role", ROLES)
def test_wms_getmap_and_getfeatureinfo(api, keys, funds, role):
    fid = hidden_id(funds)
    lon, lat = funds[fid][1]
    minx, miny, maxx, maxy = bbox_around(lon, lat)
    common = (f"/wms?SERVICE=WMS&VERSION=1.1.1&LAYERS=vacant_land_fund&STYLES=&SRS=EPSG:4326"
              f"&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=101&HEIGHT=101")
    info = json.loads(get(api, keys, role, common + "&REQUEST=GetFeatureInfo"
                          "&QUERY_LAYERS=vacant_land_fund&X=50&Y=50&INFO_FORMAT=application/json"))
    got = [f["properties"].get("fund_id") for f in info["features"]]
    assert got == ([fid] if role in ("planner", "admin") else [])
    png = get(api, keys, role, common + "&REQUEST=GetMap&FORMAT=image/png&TRANSPARENT=TRUE")
    gdal.FileFromMemBuffer("/vsimem/rowrule.png", png)
    ds = gdal.Open("/vsimem/rowrule.png")
    alpha = ds.GetRasterBand(4).ReadAsArray(50, 50, 1, 1)[0][0]
    ds = None
    gdal.Unlink("/vsimem/rowrule.png")
    assert (alpha > 0) == (role in ("planner", "admin"))


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.mark.parametrize("role", ROLES)
def test_vector_and_raster_tiles(api, keys, funds, role):
    fid = hidden_id(funds)
    lon, lat = funds[fid][1]
    z = 17
    x, y = tile_of(lon, lat, z)
    h = {"X-API-Key": keys[role]} if keys[role] else {}
    status, _, mvt = api.get(f"/tiles/vacant_land_fund/{z}/{x}/{y}.mvt", h)
    assert status in (200, 204)
    # fund ids are strings in the tile's value table: present exactly when the role may see it
    assert (fid.encode() in mvt) == (role in ("planner", "admin"))
    for other in visible(funds, role):
        ox, oy = tile_of(*funds[other][1], z)
        if (ox, oy) == (x, y):
            assert other.encode() in mvt
    status, _, png = api.get(f"/tiles/vacant_land_fund/{z}/{x}/{y}.png", h)
    if role not in ("planner", "admin") and status == 204:
        return  # nothing visible in the tile at all
    assert status == 200
    gdal.FileFromMemBuffer("/vsimem/rowtile.png", png)
    ds = gdal.Open("/vsimem/rowtile.png")
    # the fund's pixel in the tile
    n = 2 ** z
    px = int(((lon + 180) / 360 * n - x) * 256)
    py = int(((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n - y) * 256)
    alpha = ds.GetRasterBand(ds.RasterCount).ReadAsArray(px, py, 1, 1)[0][0]
    ds = None
    gdal.Unlink("/vsimem/rowtile.png")
    assert (alpha > 0) == (role in ("planner", "admin"))


@pytest.mark.parametrize("role", ROLES)
def test_land_api_search_csv_and_one_fund(api, keys, funds, role):
    body = json.loads(get(api, keys, role, "/api/v1/land-funds?kind=vacant&limit=100"))
    ids = sorted(r["id"] for r in body["results"])
    assert ids == visible(funds, role) and body["numberMatched"] == len(ids)
    csv = get(api, keys, role, "/api/v1/land-funds?kind=vacant&limit=100&f=csv").decode("utf-8-sig")
    assert (hidden_id(funds) in csv) == (role in ("planner", "admin"))
    h = {"X-API-Key": keys[role]} if keys[role] else {}
    status, _, _ = api.get(f"/api/v1/land-funds/{hidden_id(funds)}", h)
    assert status == (200 if role in ("planner", "admin") else 404)


def test_catalog_refuses_a_bad_row_rule(tmp_path):
    import os
    import shutil
    layers = tmp_path / "layers"
    shutil.copytree(os.path.join(query_fixture.__file__.rsplit("/tests/", 1)[0], "layers"), layers)
    p = layers / "vacant_land_fund.json"
    d = json.loads(p.read_text(encoding="utf-8"))
    d["row_rule"]["field"] = "no_such_field"
    p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"layers_dir": str(layers)}))
    r = run_spp("init", "--db", str(tmp_path / "x.sqlite"), "--config", str(cfg), check=False)
    assert r.returncode == 1 and "row_rule.field" in r.stderr and "no_such_field" in r.stderr
