# SPDX-License-Identifier: MIT
"""Limits enforced by the services, end to end, each with a config that sets it low: query time
(query_ms 1 against requests that read 40,000 parcels: refused with a 4xx in the route's form,
while the same request passes under the default limit), image size (max_width/max_height),
features per response (max_features), XML/JSON depth and filter size (FES, SLD, CQL2). A route
this build does not have (the router's own 404) is skipped, visibly; nothing else is."""
import json
import os
import urllib.parse

import pytest

from conftest import Server, run_spp, spatialite

N_PARCELS = 40000
X0, Y0 = 580000.0, 1100000.0
BBOX = f"{X0},{Y0},{X0 + 2000},{Y0 + 2000}"


def grid_tile(z):
    """The WebMercatorQuad tile holding the grid's centre (osr, EPSG:6960 parameters)."""
    import math
    from osgeo import osr
    src = osr.SpatialReference()
    src.SetFromUserInput("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 "
                         "+ellps=WGS84 +towgs84=-191.90441429,-39.30318279,-111.45032835,"
                         "0.00928836,-0.01975479,0.00427372,0.252906278 +units=m +no_defs")
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(src, dst).TransformPoint(X0 + 1000, Y0 + 1000)
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def build_big_store(path):
    if os.path.exists(path):
        os.remove(path)
    run_spp("init", "--db", path)
    con = spatialite(path)
    con.execute("PRAGMA synchronous=OFF")
    # a 200 x 200 grid of 10 m parcels, and three land-fund plots
    con.execute(f"""INSERT INTO cadastral_parcels (parcel_key, sheet_no, parcel_no, area_m2,
                    owner_name, geom)
                    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n
                                            WHERE i < {N_PARCELS - 1})
                    SELECT printf('31117%03d%04d', i / 1000, i % 1000), i / 1000, i % 1000, 100,
                           'owner ' || i,
                           CastToMulti(BuildMbr({X0} + (i % 200) * 10, {Y0} + (i / 200) * 10,
                                                {X0} + (i % 200) * 10 + 9,
                                                {Y0} + (i / 200) * 10 + 9, 5897))
                    FROM n""")
    for i in range(3):
        con.execute(f"""INSERT INTO vacant_land_fund (fund_id, name, area_m2, public, geom)
                        VALUES (?, ?, 500, 1, CastToMulti(BuildMbr({X0 + i * 100}, {Y0},
                        {X0 + i * 100 + 50}, {Y0 + 50}, 5897)))""", (f"F{i}", f"Lô {i}"))
    for layer in ("cadastral_parcels", "vacant_land_fund"):
        con.execute(f"""INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy)
                        SELECT '{layer}', 1, count(*), min(MbrMinX(geom)), min(MbrMinY(geom)),
                        max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM "{layer}" WHERE 1
                        ON CONFLICT(layer) DO UPDATE SET n_features = excluded.n_features,
                        minx = excluded.minx, miny = excluded.miny, maxx = excluded.maxx,
                        maxy = excluded.maxy""")
    con.commit()
    con.close()


@pytest.fixture(scope="module")
def big(workdir):
    path = os.path.join(workdir, "big.sqlite")
    build_big_store(path)
    return path


def serve(big, workdir, name, limits):
    cfg = os.path.join(workdir, name)
    with open(cfg, "w") as f:
        json.dump({"limits": limits}, f)
    return Server(big, workdir, config=cfg)


@pytest.fixture(scope="module")
def default_server(big, workdir):
    s = Server(big, workdir)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def timed(big, workdir):
    s = serve(big, workdir, "timed.json", {"query_ms": 1})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tight(big, workdir):
    s = serve(big, workdir, "tight.json", {
        "max_width": 512, "max_height": 512, "max_features": 2,
        "max_xml_depth": 8, "max_json_depth": 8, "max_filter_nodes": 20})
    yield s
    s.stop()


def absent(status, body):
    return status == 404 and b"no resource at" in body


def get_or_skip(server, path, what):
    status, hdrs, body = server.get(path)
    if absent(status, body):
        pytest.skip(f"{what}: route not on this build")
    return status, hdrs, body


GETMAP = ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels&STYLES="
          "&CRS=EPSG:5897&BBOX=" + BBOX + "&FORMAT=image/png")

# (name, path, error form: content type prefix of the refusal)
HEAVY = [
    ("wms-getmap", GETMAP + "&WIDTH=512&HEIGHT=512", "text/xml"),
    ("ogcapi-items", "/collections/cadastral_parcels/items?limit=10000", "application/problem+json"),
    ("wfs-getfeature", "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature"
     "&TYPENAMES=cadastral_parcels&COUNT=40000", "application/xml"),
    ("mvt", "/tiles/cadastral_parcels/15/{}/{}.mvt".format(*grid_tile(15)),
     "application/problem+json"),
]


@pytest.mark.parametrize("name,path,form", HEAVY, ids=[h[0] for h in HEAVY])
def test_query_time_limit(default_server, timed, name, path, form):
    status, hdrs, body = get_or_skip(timed, path, name)
    ok, _, _ = default_server.get(path)
    if ok in (200, 204) and status in (200, 204):
        pytest.skip(f"{name}: does not read enough rows here to reach 1 ms")  # e.g. empty tile
    assert ok == 200, f"{name} fails even without the limit: {ok}"
    assert 400 <= status < 500 and status != 404, (status, body[:300])
    assert hdrs["Content-Type"].startswith(form), hdrs["Content-Type"]
    assert b"time limit" in body


def test_image_size_limit(tight):
    status, hdrs, body = get_or_skip(tight, GETMAP + "&WIDTH=513&HEIGHT=100", "wms")
    assert status == 400 and hdrs["Content-Type"].startswith("text/xml")
    assert b"WIDTH" in body.upper()
    status, _, body = tight.get(GETMAP + "&WIDTH=100&HEIGHT=513&BBOX=" + BBOX)
    assert status == 400


def test_features_per_response(tight):
    status, _, body = get_or_skip(tight, "/api/v1/land-funds?kind=vacant&limit=50", "land-funds")
    assert status == 200
    doc = json.loads(body)
    assert len(doc["results"]) == 2 and doc["numberMatched"] == 3
    status, _, body = tight.get("/collections/vacant_land_fund/items?limit=50")
    if not absent(status, body):
        assert status in (200, 400)
        if status == 200:
            assert len(json.loads(body)["features"]) <= 2


def nested_fes(depth):
    inner = ("<fes:PropertyIsEqualTo><fes:ValueReference>area_m2</fes:ValueReference>"
             "<fes:Literal>1</fes:Literal></fes:PropertyIsEqualTo>")
    for _ in range(depth):
        inner = f"<fes:Not>{inner}</fes:Not>"
    return f'<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0">{inner}</fes:Filter>'


def nested_sld(depth):
    inner = ("<ogc:PropertyIsEqualTo><ogc:PropertyName>area_m2</ogc:PropertyName>"
             "<ogc:Literal>1</ogc:Literal></ogc:PropertyIsEqualTo>")
    for _ in range(depth):
        inner = f"<ogc:Not>{inner}</ogc:Not>"
    return ('<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld"'
            ' xmlns:ogc="http://www.opengis.net/ogc"><NamedLayer><Name>cadastral_parcels</Name>'
            f'<UserStyle><FeatureTypeStyle><Rule><ogc:Filter>{inner}</ogc:Filter>'
            '<PolygonSymbolizer/></Rule></FeatureTypeStyle></UserStyle></NamedLayer>'
            '</StyledLayerDescriptor>')


def nested_cql2_json(depth):
    # written out by hand: json.dumps itself recurses
    inner = '{"op":"=","args":[{"property":"area_m2"},1]}'
    return '{"op":"not","args":[' * depth + inner + "]}" * depth


def many_ors(n):
    return " OR ".join(f"area_m2 = {i}" for i in range(n))


q = urllib.parse.quote
SMALL = "&WIDTH=64&HEIGHT=64"
DEPTH = [
    ("wfs-fes-depth", "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES="
     "cadastral_parcels&COUNT=1&FILTER={}", nested_fes, "application/xml"),
    ("wms-sld-depth", GETMAP + SMALL + "&SLD_BODY={}", nested_sld, "text/xml"),
    ("cql2-json-depth", "/collections/cadastral_parcels/items?limit=1&filter-lang=cql2-json"
     "&filter={}", nested_cql2_json, "application/problem+json"),
]


@pytest.mark.parametrize("name,template,make,form", DEPTH, ids=[d[0] for d in DEPTH])
def test_depth_limits(tight, name, template, make, form):
    status, hdrs, body = get_or_skip(tight, template.format(q(make(2))), name)
    assert status == 200, (status, body[:300])  # shallow: accepted
    for depth in (20, 5000):  # past max 8; far past any parser's own stack
        status, hdrs, body = tight.get(template.format(q(make(depth))))
        assert status == 400, (depth, status, body[:300])
        assert hdrs["Content-Type"].startswith(form)


def many_fes_ors(n):
    eq = ("<fes:PropertyIsEqualTo><fes:ValueReference>area_m2</fes:ValueReference>"
          "<fes:Literal>{}</fes:Literal></fes:PropertyIsEqualTo>")
    return ('<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:Or>' +
            "".join(eq.format(i) for i in range(n)) + "</fes:Or></fes:Filter>")


def many_json_ors(n):
    return json.dumps({"op": "or", "args": [{"op": "=", "args": [{"property": "area_m2"}, i]}
                                            for i in range(n)]})


FILTER_SIZE = [
    ("cql2-text-nodes", "/collections/cadastral_parcels/items?limit=1&filter={}", many_ors),
    ("cql2-json-nodes", "/collections/cadastral_parcels/items?limit=1&filter-lang=cql2-json"
     "&filter={}", many_json_ors),
    ("wfs-fes-nodes", "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES="
     "cadastral_parcels&COUNT=1&FILTER={}", many_fes_ors),
    ("wfs-cql-nodes", "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES="
     "cadastral_parcels&COUNT=1&CQL_FILTER={}", many_ors),
]


@pytest.mark.parametrize("name,template,make", FILTER_SIZE, ids=[f[0] for f in FILTER_SIZE])
def test_filter_size_limit(tight, name, template, make):
    status, _, body = get_or_skip(tight, template.format(q(make(2))), name)
    assert status == 200, body[:300]
    status, _, body = tight.get(template.format(q(make(200))))
    assert status == 400 and b"nodes" in body, body[:300]
