# SPDX-License-Identifier: MIT
"""The access-control matrix: for every output path, with no key, an investor key and a planner
key, restricted fields appear exactly when the catalog says they may, and filters, sorts and
property selections on them are refused below planner with the same 400 as an unknown property.

Data-driven: OUTPUTS lists (name, URL template, how to read field names and whether the
output carries values), REFUSALS lists (name, URL template using a field). The expectations are
computed from layers/*.json (every field whose role is above the caller must be absent), against a
store with one feature per layer where every restricted text field holds a unique marker value,
so a leak of a value is caught even where the output shows no field names (HTML, images, tiles).
A path whose route does not exist on this build (the router's own 404) is skipped, visibly;
every other failure fails."""
import csv
import io
import json
import os
import re
import urllib.parse
import uuid
import zlib

import pytest
from lxml import etree
from osgeo import gdal, ogr, osr

from conftest import ROOT, Server, run_spp, spatialite

ROLES = ["public", "investor", "planner"]
RANK = {"public": 0, "investor": 1, "planner": 2, "admin": 3}
# The feature of every layer sits here (EPSG:5897, Ninh Kieu, Can Tho).
X0, Y0, SIZE = 586000.0, 1109600.0, 100.0
CX, CY = X0 + SIZE / 2, Y0 + SIZE / 2
VN2000_5897 = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
               "+towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,"
               "0.00427372,0.252906278 +units=m +no_defs")


# ---------------------------------------------------------------------------------------------
# The catalog, read independently of spp.

def load_catalog():
    d = os.path.join(ROOT, "layers")
    with open(os.path.join(d, "common.json"), encoding="utf-8") as f:
        common = json.load(f)["fields"]
    layers = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".json") and name != "common.json":
            with open(os.path.join(d, name), encoding="utf-8") as f:
                obj = json.load(f)
            obj["all_fields"] = obj["fields"] + common
            layers[obj["id"]] = obj
    return layers


CATALOG = load_catalog()
with open(os.path.join(ROOT, "layers", "common.json"), encoding="utf-8") as _f:
    COMMON = {f["name"] for f in json.load(_f)["fields"]}


def field_role(field):
    return field.get("role", "public")


def readable(layer, role):
    return RANK[role] >= RANK[CATALOG[layer].get("min_role", "public")]


def hidden_fields(layer, role):
    return {f["name"] for f in CATALOG[layer]["all_fields"] if RANK[field_role(f)] > RANK[role]}


def visible_fields(layer, role):
    return {f["name"] for f in CATALOG[layer]["all_fields"] if RANK[field_role(f)] <= RANK[role]}


def restricted_fields(layer):
    return {f["name"] for f in CATALOG[layer]["all_fields"] if field_role(f) != "public"}


def marker(layer, field):
    """The unique value a restricted text field holds in the test store."""
    return f"SECRET{zlib.crc32(f'{layer}.{field}'.encode()) % 10**8:08d}X"


def first_code(codelist):
    with open(os.path.join(ROOT, "layers", "codelists", codelist + ".json"), encoding="utf-8") as f:
        codes = json.load(f).get("codes", [])
    return codes[0]["code"] if codes else "X"


def value_for(layer, field):
    t = field["type"]
    if t == "text":
        if field_role(field) != "public":
            return marker(layer, field["name"])
        if field["name"] == "commune_code":
            return "v_code"  # the admin_units row's code: the land API checks communes
        if field.get("codelist"):
            return first_code(field["codelist"])
        return f"v_{field['name']}"
    return {"integer": 7, "real": 12.5, "date": "2024-01-15", "boolean": 1}[t]


def geometry_wkt(kind):
    square = (f"(({X0} {Y0},{X0 + SIZE} {Y0},{X0 + SIZE} {Y0 + SIZE},{X0} {Y0 + SIZE},"
              f"{X0} {Y0}))")
    kind = kind.upper()
    if "POLYGON" in kind:
        wkt = "POLYGON" + square
    elif "LINESTRING" in kind:
        wkt = f"LINESTRING({X0} {CY},{X0 + SIZE} {CY})"
    else:
        wkt = f"POINT({CX} {CY})"
    return f"CastToMulti(GeomFromText('{wkt}', 5897))" if kind.startswith("MULTI") else \
        f"GeomFromText('{wkt}', 5897)"


def build_store(path):
    if os.path.exists(path):
        os.remove(path)
    run_spp("init", "--db", path)
    con = spatialite(path)
    for lid, layer in CATALOG.items():
        names = [f["name"] for f in layer["all_fields"]]
        vals = [value_for(lid, f) for f in layer["all_fields"]]
        cols = ", ".join(f'"{n}"' for n in names)
        con.execute(f'INSERT INTO "{lid}" ({cols}, geom) VALUES ({", ".join("?" * len(vals))},'
                    f" {geometry_wkt(layer['geometry'])})", vals)
        con.execute("""INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy)
                       SELECT ?, 1, count(*), min(MbrMinX(geom)), min(MbrMinY(geom)),
                       max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM "%s" WHERE 1
                       ON CONFLICT(layer) DO UPDATE SET version = version + 1,
                       n_features = excluded.n_features, minx = excluded.minx,
                       miny = excluded.miny, maxx = excluded.maxx, maxy = excluded.maxy""" % lid,
                    (lid,))
    con.commit()
    con.close()


def center_lonlat():
    src = osr.SpatialReference()
    src.SetFromUserInput(VN2000_5897)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(src, dst).TransformPoint(CX, CY)
    return lon, lat


def tile_of(lon, lat, z):
    import math
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


# ---------------------------------------------------------------------------------------------
# How each output is read: a function (body bytes, layer) -> set of field names, or None when the
# output shows no names (then only the marker values are checked).

def names_geojson(body, layer):
    doc = json.loads(body)
    feats = doc.get("features", [doc] if doc.get("type") == "Feature" else [])
    assert feats, f"no feature for {layer}"
    names = set()
    for f in feats:
        names |= set((f.get("properties") or {}).keys())
    return names


def names_queryables(body, layer):
    return set(json.loads(body).get("properties", {}).keys()) - {"geometry", "geom"}


def names_gml(body, layer):
    root = etree.fromstring(body)
    names = set()
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname == layer:
            names |= {etree.QName(c).localname for c in el if isinstance(c.tag, str)}
    assert names, f"no {layer} feature in the GML"
    return names - {"geom", "geometry", "boundedBy", "the_geom"}


def names_xsd(body, layer):
    root = etree.fromstring(body)
    xs = "{http://www.w3.org/2001/XMLSchema}"
    names = {e.get("name") for e in root.iter(xs + "element") if e.get("name")}
    return names - {layer, "geom", "geometry"}


def names_csv(body, layer):
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows, "empty CSV"
    return set(rows[0]) - {"fid", "id", "wkt", "geometry", "lon", "lat", "x", "y"}


def names_mvt(body, layer):
    path = f"/vsimem/{uuid.uuid4().hex}.mvt"
    gdal.FileFromMemBuffer(path, body)
    try:
        ds = gdal.OpenEx(path, gdal.OF_VECTOR, allowed_drivers=["MVT"],
                         open_options=["X=0", "Y=0", "Z=0"])
        assert ds is not None, "tile is not a readable MVT"
        names = set()
        for i in range(ds.GetLayerCount()):
            lyr = ds.GetLayer(i)
            for f in lyr:
                names |= {k for k, v in f.items().items() if v is not None}
        return names - {"mvt_id", "fid"}
    finally:
        gdal.Unlink(path)


def names_tilejson(body, layer):
    doc = json.loads(body)
    names = set()
    for vl in doc.get("vector_layers", []):
        if vl.get("id") == layer:
            names |= set(vl.get("fields", {}).keys())
    return names


def names_results(body, layer):
    """The land-fund API: results[] (or one result) with the layer's fields in attributes."""
    doc = json.loads(body)
    results = doc.get("results", [doc.get("properties", doc)])
    assert results, f"no result for {layer}"
    names = set()
    for r in results:
        names |= set((r.get("attributes") or {}).keys())
    return names


def names_web_catalog(body, layer):
    """The web map's catalog: layers[] with fields[]; None when the layer is not listed."""
    for l in json.loads(body).get("layers", []):
        if l.get("id") == layer:
            return {f["name"] for f in l.get("fields", [])}
    return None


def names_none(body, layer):
    return None


class Out:
    """One output path of the matrix. full: "all" = every visible field must be in the output,
    "restricted" = the visible restricted ones must (outputs that pick a subset), "none" = only
    that no hidden one is (curated summaries such as the land-fund CSV); common: the output carries
    the lineage fields of layers/common.json (tiles leave them out); values: the output carries
    values (so a visible restricted field's marker must be in it)."""

    def __init__(self, name, template, reader, full="all", values=True, layers=None,
                 common=True, method="GET", data=None, listing=False):
        self.listing = listing  # one document for all layers: an unreadable layer is not in it
        self.name, self.template, self.reader = name, template, reader
        self.full, self.values, self.layers = full, values, layers
        self.common, self.method, self.data = common, method, data

    def __repr__(self):
        return self.name


LON, LAT = center_lonlat()
Z = 17
TX, TY = tile_of(LON, LAT, Z)
BBOX_5897 = f"{X0 - 50},{Y0 - 50},{X0 + SIZE + 50},{Y0 + SIZE + 50}"
GFI = ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS={layer}"
       "&QUERY_LAYERS={layer}&STYLES=&CRS=EPSG:5897&BBOX=" + BBOX_5897 +
       "&WIDTH=200&HEIGHT=200&I=100&J=100&FEATURE_COUNT=10&INFO_FORMAT=")
WFS = "/wfs?SERVICE=WFS&VERSION=2.0.0&TYPENAMES={layer}&"

OUTPUTS = [
    Out("ogcapi-items", "/collections/{layer}/items?limit=100", names_geojson),
    Out("ogcapi-item", "/collections/{layer}/items/1", names_geojson),
    Out("ogcapi-items-html", "/collections/{layer}/items?f=html", names_none),
    Out("ogcapi-item-html", "/collections/{layer}/items/1?f=html", names_none),
    Out("ogcapi-queryables", "/collections/{layer}/queryables", names_queryables, values=False),
    Out("wfs-getfeature-json", WFS + "REQUEST=GetFeature&OUTPUTFORMAT=application/json",
        names_geojson),
    Out("wfs-getfeature-gml", WFS + "REQUEST=GetFeature", names_gml),
    Out("wfs-getfeature-csv", WFS + "REQUEST=GetFeature&OUTPUTFORMAT=text/csv", names_csv),
    Out("wfs-1.1-getfeature-gml", "/wfs?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature"
        "&TYPENAME={layer}", names_gml),
    Out("wfs-getfeaturebyid", "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&STOREDQUERY_ID="
        "urn:ogc:def:query:OGC-WFS::GetFeatureById&ID={layer}.1", names_gml),
    Out("wfs-post-getfeature", "/wfs", names_gml, method="POST",
        data='<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/'
             'wfs/2.0"><wfs:Query typeNames="{layer}"/></wfs:GetFeature>'),
    Out("wfs-describefeaturetype", WFS + "REQUEST=DescribeFeatureType", names_xsd,
        values=False),
    Out("wms-getfeatureinfo-json", GFI + "application/json", names_geojson),
    Out("wms-getfeatureinfo-html", GFI + "text/html", names_none),
    Out("wms-getfeatureinfo-text", GFI + "text/plain", names_none),
    Out("wms-getfeatureinfo-gml", GFI + "application/vnd.ogc.gml", names_none),
    Out("mvt", f"/tiles/{{layer}}/{Z}/{TX}/{TY}.mvt", names_mvt, common=False),
    Out("tilejson", "/tiles/{layer}.json", names_tilejson, common=False, values=False),
    Out("web-catalog", "/web/catalog.json", names_web_catalog, values=False, listing=True),
    Out("land-funds-csv", "/api/v1/land-funds?kind=vacant&f=csv", names_csv,
        layers=["vacant_land_fund"], full="none"),
    Out("land-funds-json", "/api/v1/land-funds?kind=vacant", names_results,
        layers=["vacant_land_fund"], full="restricted", common=False),
    Out("land-fund", "/api/v1/land-funds/v_fund_id", names_results,
        layers=["vacant_land_fund"], full="restricted", common=False),
    Out("land-at", f"/api/v1/land/at?lon={LON}&lat={LAT}", names_none,
        layers=["cadastral_parcels"], common=False),
    Out("parcel", "/api/v1/parcels/{parcel_key}", names_geojson, layers=["cadastral_parcels"],
        full="restricted", common=False),
    Out("parcels", "/api/v1/parcels?commune=v_code&sheet=7&parcel=7", names_geojson,
        layers=["cadastral_parcels"], full="restricted", common=False),
    Out("parcels-csv", "/api/v1/parcels?commune=v_code&sheet=7&parcel=7&f=csv", names_csv,
        layers=["cadastral_parcels"], full="restricted", common=False),
    Out("parcel-planning", "/api/v1/parcels/{parcel_key}/planning", names_none,
        layers=["cadastral_parcels"], common=False, values=False),
]

# Uses of a field that must be refused below its role exactly like an unknown field (400).
# Entries marked lenient may ignore an unknown name (OGC API Part 1 allows ignoring unknown query
# parameters): then the restricted field must be ignored in exactly the same way.
FES = ("<fes:Filter xmlns:fes=\"http://www.opengis.net/fes/2.0\"><fes:PropertyIsEqualTo>"
       "<fes:ValueReference>{field}</fes:ValueReference><fes:Literal>x</fes:Literal>"
       "</fes:PropertyIsEqualTo></fes:Filter>")
SLD = ("<StyledLayerDescriptor version=\"1.0.0\" xmlns=\"http://www.opengis.net/sld\""
       " xmlns:ogc=\"http://www.opengis.net/ogc\"><NamedLayer><Name>{layer}</Name><UserStyle>"
       "<FeatureTypeStyle><Rule>RULE</Rule></FeatureTypeStyle></UserStyle></NamedLayer>"
       "</StyledLayerDescriptor>")
SLD_FILTER = SLD.replace("RULE", "<ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>{field}"
                         "</ogc:PropertyName><ogc:Literal>x</ogc:Literal></ogc:PropertyIsEqualTo>"
                         "</ogc:Filter><LineSymbolizer/>")
SLD_LABEL = SLD.replace("RULE", "<TextSymbolizer><Label><ogc:PropertyName>{field}"
                        "</ogc:PropertyName></Label></TextSymbolizer>")
GETMAP = ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&STYLES=&CRS=EPSG:5897"
          "&BBOX=" + BBOX_5897 + "&WIDTH=64&HEIGHT=64&FORMAT=image/png&SLD_BODY=")
REFUSALS = [
    ("wms-sld-filter", GETMAP + urllib.parse.quote(SLD_FILTER, safe="{}")),
    ("wms-sld-label", GETMAP + urllib.parse.quote(SLD_LABEL, safe="{}")),
    ("ogcapi-cql2-text", "/collections/{layer}/items?filter-lang=cql2-text&filter={field}%3D%27x%27"),
    ("ogcapi-cql2-json", "/collections/{layer}/items?filter-lang=cql2-json&filter=" +
     "%7B%22op%22%3A%22%3D%22%2C%22args%22%3A%5B%7B%22property%22%3A%22{field}%22%7D%2C%22x%22%5D%7D"),
    ("ogcapi-sortby", "/collections/{layer}/items?sortby={field}"),
    ("ogcapi-properties", "/collections/{layer}/items?properties={field}"),
    ("ogcapi-queryable-param", "/collections/{layer}/items?{field}=x", "lenient"),
    ("wfs-fes-filter", WFS + "REQUEST=GetFeature&FILTER=" + urllib.parse.quote(FES, safe="{}")),
    ("wfs-cql-filter", WFS + "REQUEST=GetFeature&CQL_FILTER={field}%3D%27x%27"),
    ("wfs-sortby", WFS + "REQUEST=GetFeature&SORTBY={field}"),
    ("wfs-propertyname", WFS + "REQUEST=GetFeature&PROPERTYNAME={field}"),
    ("wfs-getpropertyvalue", WFS + "REQUEST=GetPropertyValue&VALUEREFERENCE={field}"),
]
# Which restricted fields each refusal is tried with.
REFUSAL_FIELDS = [("cadastral_parcels", "owner_name"), ("cadastral_parcels", "owner_id_no"),
                  ("vacant_land_fund", "contact_phone"), ("roads", "src_file")]


# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def access(workdir):
    path = os.path.join(workdir, "access.sqlite")
    build_store(path)
    keys = {"public": None}
    for role in ("investor", "planner"):
        keys[role] = run_spp("keys", "--db", path, "add", "--role", role).stdout.strip()
    s = Server(path, workdir)
    yield s, keys
    s.stop()


def fetch(server, keys, role, url, method="GET", data=None):
    headers = {"X-API-Key": keys[role]} if keys[role] else {}
    if data is not None:
        headers["Content-Type"] = "application/xml"
    return server.get(url, headers=headers, method=method, data=data)


def route_absent(status, body):
    """The router's own 404 (no route matched), as opposed to a handler's 404."""
    return status == 404 and b"no resource at" in body


def fill(template, layer, field=None):
    return template.format(layer=layer, field=field or "", parcel_key="v_parcel_key")


def test_catalog_has_restrictions():
    # the matrix means something only if the catalog restricts owners to planners
    f = {x["name"]: x for x in CATALOG["cadastral_parcels"]["all_fields"]}
    assert field_role(f["owner_name"]) == "planner" and field_role(f["owner_id_no"]) == "planner"
    assert any(not readable(l, "public") for l in CATALOG)


@pytest.mark.parametrize("role", ROLES)
def test_collections_list_only_readable_layers(access, role):
    server, keys = access
    status, _, body = fetch(server, keys, role, "/collections")
    assert status == 200
    ids = {c["id"] for c in json.loads(body)["collections"]}
    assert ids == {l for l in CATALOG if readable(l, role)}
    status, _, body = fetch(server, keys, role, "/collections?f=html")
    assert status == 200
    for l in CATALOG:
        assert (f"collections/{l}/" in body.decode()) == readable(l, role), l
    for l in CATALOG:
        status, _, body = fetch(server, keys, role, f"/collections/{l}")
        if readable(l, role):
            assert status == 200 and json.loads(body)["id"] == l
        else:
            # exactly the answer for a layer that does not exist
            s2, _, b2 = fetch(server, keys, role, "/collections/no_such_layer")
            assert status == s2 == 404
            assert b2.replace(b"no_such_layer", l.encode()) == body


CAPABILITIES = [
    ("wms", "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0", "Layer", "Name"),
    ("wfs", "/wfs?SERVICE=WFS&REQUEST=GetCapabilities&VERSION=2.0.0", "FeatureType", "Name"),
    ("wmts", "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities", "Layer", "Identifier"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("cap", CAPABILITIES, ids=lambda c: c[0])
def test_capabilities_list_only_readable_layers(access, role, cap):
    server, keys = access
    name, url, elem, child = cap
    status, _, body = fetch(server, keys, role, url)
    if route_absent(status, body):
        pytest.skip(f"{name}: route not on this build")
    assert status == 200, body[:300]
    root = etree.fromstring(body)
    listed = set()
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname == elem:
            for c in el:
                if isinstance(c.tag, str) and etree.QName(c).localname == child and c.text:
                    listed.add(c.text.split(":")[-1])
    layers = {l for l in CATALOG if l in listed}
    assert layers == {l for l in CATALOG if readable(l, role)}, name


def matrix_cases():
    for out in OUTPUTS:
        for layer in (out.layers or sorted(CATALOG)):
            for role in ROLES:
                yield pytest.param(out, layer, role, id=f"{out.name}-{layer}-{role}")


@pytest.mark.parametrize("out,layer,role", list(matrix_cases()))
def test_output_fields(access, out, layer, role):
    server, keys = access
    url = fill(out.template, layer)
    data = fill(out.data, layer).encode() if out.data else None
    status, hdrs, body = fetch(server, keys, role, url, out.method, data)
    if route_absent(status, body):
        pytest.skip(f"{out.name}: route not on this build")
    hidden = hidden_fields(layer, role)
    # no marker of a field above the caller's role, whatever the answer
    for f in hidden:
        assert marker(layer, f).encode() not in body, f"{layer}.{f} leaked to {role}"
    if not readable(layer, role) and out.listing:
        assert status == 200 and out.reader(body, layer) is None, f"{layer} listed for {role}"
        return
    if not readable(layer, role):
        assert status in (400, 404), f"{layer} readable by {role}: {status}"
        if "{layer}" in out.template + (out.data or ""):
            # exactly the answer for a layer that does not exist (no oracle)
            ghost = "zz" + "q" * (len(layer) - 2)
            d2 = fill(out.data, ghost).encode() if out.data else None
            s2, _, b2 = fetch(server, keys, role, fill(out.template, ghost), out.method, d2)
            assert status == s2 and normalize(body, layer) == normalize(b2, ghost), (body, b2)
        return
    assert status == 200, f"{status}: {body[:400]!r}"
    names = out.reader(body, layer)
    if out.listing:
        assert names is not None, f"{layer} not listed for {role}"
    if names is not None:
        assert not names & hidden, f"{sorted(names & hidden)} shown to {role}"
        want = {"all": visible_fields(layer, role),
                "restricted": visible_fields(layer, role) & restricted_fields(layer),
                "none": set()}[out.full]
        if not out.common:
            want -= COMMON
            names_hidden_common = names & COMMON
            assert not names_hidden_common & hidden, names_hidden_common
        assert want <= names, f"missing {sorted(want - names)} for {role}"
    if out.values and out.full != "none":
        for f in visible_fields(layer, role) & restricted_fields(layer) - \
                (set() if out.common else COMMON):
            ftype = next(x["type"] for x in CATALOG[layer]["all_fields"] if x["name"] == f)
            if ftype == "text":
                assert marker(layer, f).encode() in body, f"{layer}.{f} missing for {role}"


def normalize(body, field):
    """The field name and the response's own clock (timeStamp, which ticks between the two
    requests compared) are the only things allowed to differ."""
    body = re.sub(rb'(timeStamp"?\s*[:=]\s*")[^"]*"', rb'\1<TIME>"', body)
    return body.replace(field.encode(), b"<FIELD>")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("layer,field", REFUSAL_FIELDS)
@pytest.mark.parametrize("refusal", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_restricted_field_refused_like_unknown(access, refusal, layer, field, role):
    server, keys = access
    name, template = refusal[0], refusal[1]
    strict = "lenient" not in refusal[2:]
    status, _, body = fetch(server, keys, role, fill(template, layer, field))
    if route_absent(status, body):
        pytest.skip(f"{name}: route not on this build")
    unknown = "zz" + "q" * (len(field) - 2)  # same length: messages compare byte for byte
    s_unknown, _, b_unknown = fetch(server, keys, role, fill(template, layer, unknown))
    if strict or s_unknown != 200:
        assert s_unknown == 400, f"unknown property not refused: {s_unknown} {b_unknown[:300]!r}"
    if RANK[role] < RANK[field_role(next(x for x in CATALOG[layer]["all_fields"]
                                         if x["name"] == field))]:
        assert status == s_unknown
        assert normalize(body, field) == normalize(b_unknown, unknown), (body, b_unknown)
        assert marker(layer, field).encode() not in body
    else:
        assert status == 200, f"{role} may use {field}: {status} {body[:300]!r}"


CACHED = [("mvt", f"/tiles/{{layer}}/{Z}/{TX}/{TY}.mvt"),
          ("mvt-all", f"/tiles/all/{Z}/{TX}/{TY}.mvt"),
          ("png", f"/tiles/{{layer}}/{Z}/{TX}/{TY}.png")]


@pytest.mark.parametrize("name,template", CACHED, ids=[c[0] for c in CACHED])
@pytest.mark.parametrize("layer", ["cadastral_parcels", "vacant_land_fund"])
def test_cache_never_crosses_roles(access, name, template, layer):
    """A tile first made for a planner (so it is in the cache) is never served to a lower role,
    not even through a conditional request with the planner's ETag."""
    server, keys = access
    url = fill(template, layer)
    for enc in ("gzip", "identity"):
        hdr = {"Accept-Encoding": enc}
        s_p, h_p, b_p = server.get(url, headers={**hdr, "X-API-Key": keys["planner"]})
        if route_absent(s_p, b_p):
            pytest.skip(f"{name}: route not on this build")
        assert s_p == 200, b_p[:300]
        raw_p = gzip_body(h_p, b_p)
        for role in ("public", "investor"):
            h = {**hdr, "X-API-Key": keys[role]} if keys[role] else dict(hdr)
            s_r, h_r, b_r = server.get(url, headers=h)
            assert s_r == 200
            raw_r = gzip_body(h_r, b_r)
            for f in hidden_fields(layer, role):
                assert marker(layer, f).encode() not in raw_r, f"{f} served from cache to {role}"
            if name.startswith("mvt"):
                assert owner_fields_in_tile(raw_p, layer) and not owner_fields_in_tile(raw_r, layer)
            if raw_r != raw_p and h_p.get("ETag"):
                s_c, _, _ = server.get(url, headers={**h, "If-None-Match": h_p["ETag"]})
                assert s_c == 200, f"{role} got 304 for the planner's tile"


def gzip_body(hdrs, body):
    import gzip
    return gzip.decompress(body) if hdrs.get("Content-Encoding") == "gzip" else body


def owner_fields_in_tile(raw, layer):
    return bool(names_mvt(raw, layer) & (restricted_fields(layer) - COMMON))
