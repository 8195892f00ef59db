# SPDX-License-Identifier: MIT
"""OWSLib 0.27 (Debian's python3-owslib) against spp: WFS 2.0.0 and 1.1.0 by GET and POST with
filters, paging, hits, srsName and typeName forms; the application schema reader; WMS 1.1.1 and
1.3.0 (capabilities, GetMap axis orders, GetFeatureInfo); OGC API Features; WMTS tiles in the
VN-2000 matrix set against a WMS GetMap of their metatile. Expected values come from OGR on the
store file."""
import json

import numpy as np
import pytest
from lxml import etree
from owslib.fes import FilterRequest
from owslib.fes import PropertyIsEqualTo as P11Eq
from owslib.fes import PropertyIsGreaterThan as P11Gt
from owslib.fes2 import And, Filter, PropertyIsEqualTo, PropertyIsGreaterThan
from owslib.ogcapi.features import Features
from owslib.util import ServiceException, openURL
from owslib.feature.schema import get_schema
from owslib.wfs import WebFeatureService
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService

from conftest import (decode_image, ink, iou, ogr_count, ogr_extent, ogr_geom, ogr_rows,
                      to_wgs84)

PARCEL_FIELDS = ["parcel_key", "commune_code", "sheet_no", "parcel_no", "area_m2", "lu_display"]
GML = {"gml32": "http://www.opengis.net/gml/3.2", "gml": "http://www.opengis.net/gml"}


def wfs(spp, version):
    return WebFeatureService(spp.base + "/wfs", version=version, timeout=60)


SPP_NS = "http://spp.cantho.gov.vn/spp"


def members(xml, version):
    """(root, [spp feature elements]) of a GetFeature answer."""
    root = etree.fromstring(xml)
    feats = [e for e in root.iter() if isinstance(e.tag, str) and
             etree.QName(e).namespace == SPP_NS and
             etree.QName(e).localname in ("cadastral_parcels", "roads", "public_facilities")]
    return root, feats


def prop(el, name):
    for c in el:
        if isinstance(c.tag, str) and etree.QName(c).localname == name:
            return c.text
    return None


# ---- point 1: WFS 2.0 POST as OWSLib 0.27 writes it (<wfs:Query typenames="...">) ----

@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_wfs_post_with_filter_equals_ogr(spp, source, version):
    w = wfs(spp, version)
    # OWSLib's own filter objects, serialised by OWSLib, sent by POST
    if version == "2.0.0":
        flt = Filter(And([PropertyIsEqualTo(propertyname="sheet_no", literal="3"),
                          PropertyIsGreaterThan(propertyname="area_m2", literal="1400")])).toXML()
    else:  # OWSLib's 1.1.0 POST finds an ogc:Filter inside the document it is given
        f11 = FilterRequest().setConstraintList(
            [[P11Eq(propertyname="sheet_no", literal="3"),
              P11Gt(propertyname="area_m2", literal="1400")]], tostring=False)
        wrapper = etree.Element("wrapper")
        wrapper.append(f11)
        flt = etree.tostring(wrapper).decode()
    r = w.getfeature(typename=["spp:cadastral_parcels"], filter=flt, method="Post")
    root, feats = members(r.read(), version)
    want = ogr_rows(source, "cadastral_parcels", PARCEL_FIELDS,
                    "sheet_no = 3 AND area_m2 > 1400")
    assert want and len(feats) == len(want)
    got = sorted(prop(f, "parcel_key") for f in feats)
    assert got == sorted(r_["parcel_key"] for _, r_ in want)


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_wfs_post_paging_sort_and_bbox(spp, source, version):
    w = wfs(spp, version)
    minx, miny, maxx, maxy = 586110, 1109045, 586290, 1109135
    r = w.getfeature(typename=["spp:cadastral_parcels"], method="Post",
                     bbox=(minx, miny, maxx, maxy, "urn:ogc:def:crs:EPSG::5897"))
    _, feats = members(r.read(), version)
    want = ogr_count(source, "cadastral_parcels",
                     f"ST_Intersects(geom, BuildMbr({minx}, {miny}, {maxx}, {maxy}, 5897))")
    assert want and len(feats) == want
    # maxfeatures + startindex + sortby, by POST: the OGR order of area_m2 DESC, fid
    r = w.getfeature(typename=["spp:cadastral_parcels"], method="Post", maxfeatures=7,
                     startindex=5, sortby=["area_m2 DESC"] if version == "2.0.0" else None)
    _, feats = members(r.read(), version)
    assert len(feats) == 7
    if version == "2.0.0":
        want = ogr_rows(source, "cadastral_parcels", ["parcel_key", "area_m2"],
                        order="area_m2 DESC, fid")[5:12]
        assert [float(prop(f, "area_m2")) for f in feats] == [r_["area_m2"] for _, r_ in want]


def test_wfs2_stored_query_by_post(spp, source):
    w = wfs(spp, "2.0.0")
    fid, row = ogr_rows(source, "roads", ["road_id", "name"])[4]
    r = w.getfeature(storedQueryID="urn:ogc:def:query:OGC-WFS::GetFeatureById",
                     storedQueryParams={"ID": f"roads.{fid}"}, method="Post")
    _, feats = members(r.read(), "2.0.0")
    assert [prop(f, "name") for f in feats] == [row["name"]]


# ---- the combinations a client sends, by GET through OWSLib ----

@pytest.mark.parametrize("typename", ["spp:cadastral_parcels", "cadastral_parcels"])
@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_wfs_get_typename_forms_count_and_hits(spp, source, version, typename):
    w = wfs(spp, version)
    total = ogr_count(source, "cadastral_parcels")
    r = w.getfeature(typename=[typename], maxfeatures=25, startindex=50)
    root, feats = members(r.read(), version)
    assert len(feats) == 25
    keys = [prop(f, "parcel_key") for f in feats]
    assert keys == [r_["parcel_key"] for _, r_ in ogr_rows(source, "cadastral_parcels",
                                                             ["parcel_key"])[50:75]]
    # resultType=hits through OWSLib's HTTP layer: the count of the whole type, no features
    kv = dict(service="WFS", version=version, request="GetFeature", resultType="hits")
    kv["typeNames" if version == "2.0.0" else "typeName"] = typename
    hits = etree.fromstring(openURL(spp.base + "/wfs", data=kv, method="Get", timeout=60).read())
    n = hits.get("numberMatched") if version == "2.0.0" else hits.get("numberOfFeatures")
    assert int(n) == total and not members(etree.tostring(hits), version)[1]


@pytest.mark.parametrize("srs,swap", [
    ("urn:ogc:def:crs:EPSG::4326", True),
    ("http://www.opengis.net/def/crs/EPSG/0/4326", True),
    ("EPSG:4326", None),  # 2.0: authority order (lat, lon); 1.1: x/y (lon, lat)
    ("urn:ogc:def:crs:EPSG::5897", False),
])
@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_wfs_srsname_forms_and_axis_order(spp, source, version, srs, swap):
    w = wfs(spp, version)
    fid, row = ogr_rows(source, "public_facilities", ["name"])[0]
    geom = ogr_geom(source, "public_facilities", fid)
    x, y = geom.GetX(), geom.GetY()
    if version == "1.1.0":
        r = w.getfeature(typename=["spp:public_facilities"], srsname=srs, maxfeatures=1)
    else:  # OWSLib 0.27's 2.0.0 getfeature has no srsname: its HTTP layer with the KVP
        r = openURL(spp.base + "/wfs", data=dict(service="WFS", version="2.0.0",
                                                 request="GetFeature", count="1", srsName=srs,
                                                 typeNames="spp:public_facilities"),
                    method="Get", timeout=60)
    root = etree.fromstring(r.read())
    pos = [e for e in root.iter() if isinstance(e.tag, str) and
           etree.QName(e).localname == "pos"][0].text.split()
    a, b = float(pos[0]), float(pos[1])
    if "5897" in srs:
        assert abs(a - x) < 1e-3 and abs(b - y) < 1e-3
        return
    lon, lat = to_wgs84(x, y)
    if swap is None:
        swap = version == "2.0.0"
    if swap:
        a, b = b, a
    assert abs(a - lon) < 1e-7 and abs(b - lat) < 1e-7


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_wfs_bbox_with_and_without_crs(spp, source, version):
    w = wfs(spp, version)
    minx, miny, maxx, maxy = 586110, 1109045, 586290, 1109135
    want = ogr_count(source, "cadastral_parcels",
                     f"ST_Intersects(geom, BuildMbr({minx}, {miny}, {maxx}, {maxy}, 5897))")
    # without a CRS: the default CRS (the storage CRS, EPSG:5897)
    r = w.getfeature(typename=["spp:cadastral_parcels"], bbox=(minx, miny, maxx, maxy))
    assert len(members(r.read(), version)[1]) == want
    # in WGS 84 lat/lon (urn): the same parcels' box through PROJ, shrunk 1 m so edges agree
    lo = to_wgs84(minx + 1, miny + 1)
    hi = to_wgs84(maxx - 1, maxy - 1)
    # OWSLib takes (minx=lon, miny=lat, ...) and writes lat,lon for the urn itself
    r = w.getfeature(typename=["spp:cadastral_parcels"],
                     bbox=(lo[0], lo[1], hi[0], hi[1], "urn:ogc:def:crs:EPSG::4326"))
    assert len(members(r.read(), version)[1]) == want


@pytest.mark.parametrize("fmt,kind", [("application/json", "json"),
                                      ("text/xml; subtype=gml/3.1.1", "gml31"),
                                      ("application/gml+xml; version=3.2", "gml32")])
def test_wfs2_output_formats(spp, source, fmt, kind):
    w = wfs(spp, "2.0.0")
    r = w.getfeature(typename=["spp:roads"], outputFormat=fmt, maxfeatures=500)
    data = r.read()
    want = ogr_rows(source, "roads", ["road_id", "name", "width_m"])
    if kind == "json":
        fc = json.loads(data)
        got = sorted((f["properties"]["road_id"], f["properties"]["name"],
                      f["properties"]["width_m"]) for f in fc["features"])
        assert fc["features"][0]["geometry"]["type"] == "MultiLineString"
    else:
        root, feats = members(data, "2.0.0")
        got = sorted((prop(f, "road_id"), prop(f, "name"), float(prop(f, "width_m")))
                     for f in feats)
        ns = GML["gml32"] if kind == "gml32" else GML["gml"]
        multi = "MultiCurve" if kind == "gml32" else "MultiLineString"
        assert root.find(f".//{{{ns}}}{multi}") is not None
    assert got == sorted((r_["road_id"], r_["name"], r_["width_m"]) for _, r_ in want)


# ---- point 2: WFS 1.1.0 capabilities as OWSLib reads them ----

def test_wfs11_capabilities_advertise_hits(spp):
    w = wfs(spp, "1.1.0")
    op = w.getOperationByName("GetFeature")
    assert "resultType" in op.parameters
    assert set(op.parameters["resultType"]["values"]) == {"results", "hits"}
    assert "spp:roads" in w.contents


# ---- point 6: the application schema through OWSLib's reader ----

@pytest.mark.parametrize("layer,want", [("roads", "MultiLineString"),
                                         ("cadastral_parcels", "MultiPolygon"),
                                         ("public_facilities", "Point")])
def test_owslib_schema_reader_sees_every_geometry(spp, layer, want):
    schema = get_schema(spp.base + "/wfs", f"spp:{layer}", version="1.1.0")
    assert schema["geometry"] == want and schema["geometry_column"] == "geom"
    assert "geom" not in schema["properties"]
    # fields typed as the catalog types them
    if layer == "roads":
        assert schema["properties"]["width_m"] == "double"
        assert schema["properties"]["lanes"] == "long"


# ---- WMS through OWSLib: 1.1.1 and 1.3.0, axis orders, GetFeatureInfo ----

@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_wms_getmap_axis_orders(spp, source, version):
    w = WebMapService(spp.base + "/wms", version=version, timeout=60)
    assert "cadastral_parcels" in w.contents
    minx, miny, maxx, maxy = ogr_extent(source, "cadastral_parcels")
    lo, hi = to_wgs84(minx, miny), to_wgs84(maxx, maxy)
    crs = "EPSG:5897"
    ref = decode_image(w.getmap(layers=["cadastral_parcels"], styles=[""], srs=crs,
                                bbox=(minx, miny, maxx, maxy), size=(200, 150),
                                format="image/png", transparent=True).read())
    assert ink(ref).mean() > 0.95  # the parcels fill their extent
    # EPSG:4326: OWSLib takes lon/lat and sends lat/lon in 1.3.0 (the EPSG axis order), lon/lat
    # in 1.1.1; spp must read each version's order
    box = (lo[0], lo[1], hi[0], hi[1])
    img = decode_image(w.getmap(layers=["cadastral_parcels"], styles=[""], srs="EPSG:4326",
                                bbox=box, size=(200, 150), format="image/png",
                                transparent=True).read())
    assert ink(img).mean() > 0.9
    # CRS:84 (1.3.0) is always lon/lat
    if version == "1.3.0":
        img84 = decode_image(w.getmap(layers=["cadastral_parcels"], styles=[""], srs="CRS:84",
                                      bbox=box, size=(200, 150), format="image/png",
                                      transparent=True).read())
        assert iou(ink(img84), ink(img)) > 0.98
    # the other order is a latitude of 105 degrees: a WMS exception OWSLib raises, not a map
    wrong = (box[1], box[0], box[3], box[2])
    with pytest.raises(ServiceException):
        w.getmap(layers=["cadastral_parcels"], styles=[""], srs="EPSG:4326", bbox=wrong,
                 size=(200, 150), format="image/png", transparent=True)


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_wms_getfeatureinfo_matches_ogr(spp, source, version):
    w = WebMapService(spp.base + "/wms", version=version, timeout=60)
    fid, row = ogr_rows(source, "cadastral_parcels", PARCEL_FIELDS)[47]
    g = ogr_geom(source, "cadastral_parcels", fid)
    c = g.Centroid()
    half = 100.0
    bbox = (c.GetX() - half, c.GetY() - half, c.GetX() + half, c.GetY() + half)
    r = w.getfeatureinfo(layers=["cadastral_parcels"], srs="EPSG:5897", bbox=bbox,
                         size=(201, 201), format="image/png", query_layers=["cadastral_parcels"],
                         info_format="application/json", xy=(100, 100), styles=[""])
    fc = json.loads(r.read())
    assert len(fc["features"]) == 1
    props = fc["features"][0]["properties"]
    for k in PARCEL_FIELDS:
        assert props[k] == row[k], k


# ---- point 5 in capabilities: LANGUAGE through OWSLib ----

@pytest.mark.parametrize("lang,field", [("eng", "title_en"), ("vie", "title_vi")])
def test_capabilities_language(spp, catalog_titles, lang, field):
    w = WebMapService(spp.base + f"/wms?LANGUAGE={lang}", version="1.3.0", timeout=60)
    assert w.contents["roads"].title == catalog_titles["roads"][field]
    f2 = WebFeatureService(spp.base + f"/wfs?LANGUAGE={lang}", version="2.0.0", timeout=60)
    assert f2.contents["spp:roads"].title == catalog_titles["roads"][field]
    f1 = WebFeatureService(spp.base + f"/wfs?LANGUAGE={lang}", version="1.1.0", timeout=60)
    assert f1.contents["spp:roads"].title == catalog_titles["roads"][field]


@pytest.fixture(scope="session")
def catalog_titles():
    import glob
    import os
    from conftest import ROOT
    out = {}
    for p in glob.glob(os.path.join(ROOT, "layers", "*.json")):
        with open(p, encoding="utf-8") as f:
            o = json.load(f)
        if "id" in o:
            out[o["id"]] = {"title_vi": o["title"]["vi"], "title_en": o["title"]["en"],
                            "desc_vi": o["description"]["vi"], "desc_en": o["description"]["en"]}
    return out


# ---- OGC API Features through OWSLib ----

def test_ogcapi_features(spp, source, catalog_titles):
    api = Features(spp.base, timeout=60)
    ids = [c["id"] for c in api.collections()["collections"]]
    assert {"cadastral_parcels", "roads", "public_facilities"} <= set(ids)
    total = ogr_count(source, "cadastral_parcels")
    page = api.collection_items("cadastral_parcels", limit=40, offset=80)
    assert page["numberMatched"] == total and page["numberReturned"] == 40
    want = ogr_rows(source, "cadastral_parcels", PARCEL_FIELDS)[80:120]
    got = [(f["id"], {k: f["properties"][k] for k in PARCEL_FIELDS}) for f in page["features"]]
    assert got == want
    flt = api.collection_items("cadastral_parcels", filter="sheet_no = 3 AND area_m2 > 1400",
                               limit=1000)
    assert flt["numberReturned"] == ogr_count(source, "cadastral_parcels",
                                             "sheet_no = 3 AND area_m2 > 1400")


@pytest.mark.parametrize("how", ["param", "header"])
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_ogcapi_language(spp, catalog_titles, lang, how):
    import urllib.request
    url = spp.base + "/collections/roads" + (f"?lang={lang}" if how == "param" else "")
    headers = {"Accept": "application/json"}
    if how == "header":
        other = "en" if lang == "vi" else "vi"
        headers["Accept-Language"] = f"{other};q=0.4, {lang}-VN;q=0.9, fr"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
        assert r.headers["Content-Language"] == lang
        c = json.loads(r.read())
    assert c["title"] == catalog_titles["roads"][f"title_{lang}"]
    assert c["description"] == catalog_titles["roads"][f"desc_{lang}"]
    # OWSLib's own client sends no Accept-Language: the default is Vietnamese
    api = Features(spp.base, timeout=60)
    assert api.collection("roads")["title"] == catalog_titles["roads"]["title_vi"]


def test_ogcapi_bad_lang_is_problem_json(spp):
    with pytest.raises(RuntimeError) as e:  # OWSLib raises the body of a 4xx
        Features(spp.base, timeout=60).collection("roads?lang=fr")
    problem = json.loads(str(e.value))
    assert problem["status"] == 400 and problem["parameter"] == "lang"


# ---- point 4: WMTS VN-2000 tiles through OWSLib, against the WMS GetMap of their metatile ----

def label_tiles(spp, source):
    """A level and a public facility whose label crosses the vertical edge between two tiles
    of one metatile (columns 2k and 2k+1) of the VN2000_EPSG5897 set."""
    level, res = 12, 2048 / 2 ** 12  # 0.5 m per pixel: labels show below 1:8531
    left, top, size = 300000.0, 2700000.0, 256 * res
    lyr = source.GetLayerByName("public_facilities")
    for f in lyr:
        x, y = f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY()
        col, row = int((x - left) // size), int((top - y) // size)
        edge_col = col + 1 if col % 2 == 0 else col  # the metatile's inner edge
        edge_x = left + edge_col * size
        dx = (x - edge_x) / res  # px from the edge
        py = (top - y) / res - row * 256
        if abs(dx) < 15 and 40 < py < 200:
            return level, res, row, edge_col - 1, x, y
    raise AssertionError("no facility near a metatile's inner edge in the fixture")


def test_wmts_vn2000_labels_cross_tile_edges(spp, source):
    level, res, row, col, x, y = label_tiles(spp, source)
    wmts = WebMapTileService(spp.base + "/wmts/1.0.0/WMTSCapabilities.xml", timeout=60)
    assert "VN2000_EPSG5897" in wmts.tilematrixsets
    tiles = []
    for c in (col, col + 1):
        r = wmts.gettile(layer="public_facilities", tilematrixset="VN2000_EPSG5897",
                         tilematrix=str(level), row=row, column=c, format="image/png")
        tiles.append(decode_image(r.read()))
    pair = np.concatenate(tiles, axis=2)  # 512 x 256, the two tiles side by side
    # the metatile through WMS: its box plus the 64 px buffer, cut to the same 512 x 256
    left, top = 300000 + col * 256 * res, 2700000 - row * 256 * res
    buf = 64 * res
    w = WebMapService(spp.base + "/wms", version="1.3.0", timeout=60)
    r = w.getmap(layers=["public_facilities"], styles=[""], srs="EPSG:5897",
                 bbox=(left - buf, top - 256 * res - buf, left + 512 * res + buf, top + buf),
                 size=(640, 384), format="image/png", transparent=True)
    meta = decode_image(r.read())[:, 64:64 + 256, 64:64 + 512]

    def text(a):  # label glyphs: #222222 fill, opaque
        return (a[3] > 200) & (a[:3] < 90).all(axis=0)
    band = slice(256 - 40, 256 + 40)
    t_pair, t_meta = text(pair)[:, band], text(meta)[:, band]
    assert t_meta.sum() > 30, "the WMS draws the label across the edge"
    assert t_pair[:, 28:40].any() and t_pair[:, 40:52].any(), "label cut or dropped at the edge"
    assert iou(t_pair, t_meta) > 0.8
    assert iou(ink(pair), ink(meta)) > 0.9


# ---- typeName spellings in KVP and XML, namespace prefixes present or absent, POST hits ----

@pytest.mark.parametrize("key", ["TYPENAMES", "typeNames", "typenames", "TYPENAME", "typeName"])
@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_wfs_kvp_typename_keys(spp, source, version, key):
    r = openURL(spp.base + "/wfs", data={"service": "WFS", "version": version,
                                          "request": "GetFeature", key: "spp:roads"},
                method="Get", timeout=60)
    assert len(members(r.read(), version)[1]) == ogr_count(source, "roads")


@pytest.mark.parametrize("attr", ["typeNames", "typenames", "typeName", "TYPENAMES"])
@pytest.mark.parametrize("name,xmlns", [("spp:roads", True), ("spp:roads", False),
                                        ("roads", False)])
@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_wfs_post_query_spellings(spp, source, version, attr, name, xmlns):
    wfs_ns = "http://www.opengis.net/wfs/2.0" if version == "2.0.0" else \
        "http://www.opengis.net/wfs"
    spp_ns = f' xmlns:spp="{SPP_NS}"' if xmlns else ""
    count = "count" if version == "2.0.0" else "maxFeatures"
    body = (f'<wfs:GetFeature xmlns:wfs="{wfs_ns}" service="WFS" version="{version}"{spp_ns} '
            f'{count}="4" startIndex="2"><wfs:Query {attr}="{name}"/></wfs:GetFeature>')
    # OWSLib's HTTP layer posts the XML as clients that build their own requests do
    r = openURL(spp.base + "/wfs", data=body, method="Post", timeout=60)
    _, feats = members(r.read(), version)
    want = ogr_rows(source, "roads", ["road_id"])[2:6]
    assert [prop(f, "road_id") for f in feats] == [r_["road_id"] for _, r_ in want]
    hits = body.replace(f'{count}="4" startIndex="2"', 'resultType="hits"')
    root = etree.fromstring(openURL(spp.base + "/wfs", data=hits, method="Post",
                                    timeout=60).read())
    n = root.get("numberMatched") if version == "2.0.0" else root.get("numberOfFeatures")
    assert int(n) == ogr_count(source, "roads")


def test_wfs_post_bad_input_is_an_ows_exception(spp):
    for body in ('<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs/2.0" version="2.0.0">'
                 '<wfs:Query typenames="spp:nope"/></wfs:GetFeature>',
                 '<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs/2.0" version="2.0.0" '
                 'resultType="all"><wfs:Query typenames="spp:roads"/></wfs:GetFeature>',
                 '<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs/2.0" version="2.0.0">'
                 '<wfs:Query/></wfs:GetFeature>', '<wfs:GetFeature'):
        # OWSLib's openURL raises ServiceException with the body on a 400
        with pytest.raises(ServiceException) as e:
            openURL(spp.base + "/wfs", data=body, method="Post", timeout=60)
        assert "ExceptionReport" in str(e.value) and "exceptionCode" in str(e.value)
