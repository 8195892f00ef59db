# SPDX-License-Identifier: MIT
"""WFS 2.0.0 and 1.1.0 with real clients: OWSLib, GDAL's WFS driver (ogrinfo/ogr2ogr through the
Python bindings) and plain HTTP. Expected values come from OGR reading the store file directly,
from SpatiaLite SQL on that file, and from PROJ (osr) with the official VN-2000 parameters."""
import csv
import io
import json
import os
import urllib.parse

import pytest
from lxml import etree
from osgeo import gdal, ogr, osr

import features_fixture as fx

gdal.UseExceptions()
WFS = "http://www.opengis.net/wfs/2.0"
OWS = "http://www.opengis.net/ows/1.1"
NS = {"wfs": WFS, "ows": OWS, "gml": "http://www.opengis.net/gml/3.2",
      "spp": "http://spp.cantho.gov.vn/spp", "wfs11": "http://www.opengis.net/wfs",
      "gml31": "http://www.opengis.net/gml"}
LAYERS = ["cadastral_parcels", "roads", "public_facilities"]


def q(**kw):
    return "/wfs?" + urllib.parse.urlencode({"SERVICE": "WFS", **kw})


def get_xml(server, path, headers=None):
    status, hdrs, body = server.get(path, headers=headers)
    return status, hdrs, etree.fromstring(body)


def geojson(server, headers=None, **kw):
    status, hdrs, body = server.get(q(OUTPUTFORMAT="application/json", **kw), headers=headers)
    assert status == 200, body[:400]
    return json.loads(body)


def ids_of(fc):
    return sorted(int(f["id"].split(".")[1]) for f in fc["features"])


def exception(server, path, data=None, headers=None):
    """(status, exceptionCode, locator, text) of an OWS ExceptionReport."""
    status, hdrs, body = server.get(path, method="POST" if data else "GET", data=data,
                                    headers=headers)
    assert hdrs["Content-Type"].startswith("application/xml"), body[:300]
    doc = etree.fromstring(body)
    e = doc.find("ows:Exception", NS)
    return status, e.get("exceptionCode"), e.get("locator"), e.findtext("ows:ExceptionText", "", NS)


def vn2000_to_wgs84():
    src = osr.SpatialReference()
    src.SetFromUserInput("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 "
                         "+ellps=WGS84 +towgs84=-191.90441429,-39.30318279,-111.45032835,"
                         "0.00928836,-0.01975479,0.00427372,0.252906278 +units=m +no_defs")
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return osr.CoordinateTransformation(src, dst)


def store_features(store, layer):
    """{fid: (properties, geometry WKT)} as OGR reads them from the store file."""
    ds = ogr.Open(store)
    lyr = ds.GetLayerByName(layer)
    out = {}
    for f in lyr:
        out[f.GetFID()] = (f.items(), f.GetGeometryRef().ExportToIsoWkt())
    return out


# ---- capabilities ----

@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_owslib_capabilities(features_server, features_store, catalog, version):
    from owslib.wfs import WebFeatureService
    wfs = WebFeatureService(features_server.base + "/wfs", version=version, timeout=30)
    public = sorted("spp:" + k for k, v in catalog.items() if v["min_role"] == "public")
    assert sorted(wfs.contents) == public
    assert "spp:construction_permits" not in wfs.contents
    t = vn2000_to_wgs84()
    ds = ogr.Open(features_store)
    for name in LAYERS:
        fmeta = wfs.contents["spp:" + name]
        assert fmeta.title == catalog[name]["title"]["vi"]
        crs = [c.getcodeurn() for c in fmeta.crsOptions]
        assert "urn:ogc:def:crs:EPSG::5897" in crs and "urn:ogc:def:crs:EPSG::4326" in crs
        assert "urn:ogc:def:crs:EPSG::3857" in crs
        # WGS 84 box through the official transformation, computed by PROJ here
        minx, maxx, miny, maxy = ds.GetLayerByName(name).GetExtent()
        box = ogr.CreateGeometryFromWkt(f"POLYGON(({minx} {miny},{maxx} {miny},{maxx} {maxy},"
                                        f"{minx} {maxy},{minx} {miny}))")
        box.Segmentize(max(maxx - minx, maxy - miny) / 40)
        box.Transform(t)
        want = box.GetEnvelope()
        got = fmeta.boundingBoxWGS84
        assert abs(got[0] - want[0]) < 2e-7 and abs(got[2] - want[1]) < 2e-7
        assert abs(got[1] - want[2]) < 2e-7 and abs(got[3] - want[3]) < 2e-7
    ops = [o.name for o in wfs.operations]
    assert "GetFeature" in ops and "DescribeFeatureType" in ops
    # OWSLib's own GetFeature: JSON with a count, and a BBOX in the layer CRS
    r = wfs.getfeature(typename=["spp:roads"], maxfeatures=5, outputFormat="application/json")
    fc = json.loads(r.read())
    assert len(fc["features"]) == 5 and fc["features"][0]["properties"]["name"] == "Đường 30 Tháng 4"
    box = (586110, 1109045, 586290, 1109135)
    r = wfs.getfeature(typename=["spp:cadastral_parcels"], bbox=box + ("urn:ogc:def:crs:EPSG::5897",))
    body = r.read()
    want = fx.expected_ids(features_store, "ST_Intersects(geom, BuildMbr(%s, %s, %s, %s, 5897))" % box)
    assert body.count(b"<spp:cadastral_parcels ") == len(want)


def test_capabilities_filter_and_roles(features_server):
    s, _, doc = get_xml(features_server, q(REQUEST="GetCapabilities"))
    assert s == 200
    ops = doc.xpath("//fes:SpatialOperator/@name",
                    namespaces={"fes": "http://www.opengis.net/fes/2.0"})
    assert set(ops) == {"BBOX", "Equals", "Disjoint", "Intersects", "Touches", "Crosses",
                        "Within", "Contains", "Overlaps", "DWithin", "Beyond"}
    paging = doc.xpath("//ows:Constraint[@name='ImplementsResultPaging']/ows:DefaultValue/text()",
                       namespaces=NS)
    assert paging == ["TRUE"]
    hdr = {"X-API-Key": features_server.planner_key}
    s, _, doc = get_xml(features_server, q(REQUEST="GetCapabilities"), headers=hdr)
    names = doc.xpath("//wfs:FeatureType/wfs:Name/text()", namespaces=NS)
    assert len(names) == 24 and "spp:construction_permits" in names


def test_describe_feature_type_by_role(features_server):
    path = q(VERSION="2.0.0", REQUEST="DescribeFeatureType", TYPENAMES="spp:cadastral_parcels",
             TYPENAME="spp:cadastral_parcels")
    s, _, doc = get_xml(features_server, path)
    xsd = {"xsd": "http://www.w3.org/2001/XMLSchema"}
    names = doc.xpath("//xsd:element/@name", namespaces=xsd)
    assert "parcel_key" in names and "geom" in names and "owner_name" not in names
    s, _, doc = get_xml(features_server, path, {"X-API-Key": features_server.planner_key})
    assert "owner_name" in doc.xpath("//xsd:element/@name", namespaces=xsd)


# ---- what GDAL reads equals the store ----

@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_gdal_wfs_reads_the_store(features_server, features_store, version):
    gdal.SetConfigOption("OGR_WFS_PAGE_SIZE", "70")  # several pages
    try:
        ds = ogr.Open(f"WFS:{features_server.base}/wfs?VERSION={version}")
        assert ds is not None
        for name in LAYERS:
            want = store_features(features_store, name)
            lyr = ds.GetLayerByName("spp:" + name)
            assert lyr.GetFeatureCount() == len(want)
            got = {}
            for f in lyr:
                fid = int(f.GetField("gml_id").split(".")[1])
                assert fid not in got
                got[fid] = f
            assert sorted(got) == sorted(want)
            for fid, f in got.items():
                props, wkt = want[fid]
                for k, v in props.items():
                    if k in ("owner_name", "owner_id_no") or v is None:
                        continue
                    gv = f.GetField(k)
                    if isinstance(v, float):
                        assert abs(gv - v) < 1e-9
                    elif isinstance(v, str) and k.startswith("valid"):
                        assert gv.replace("/", "-") == v
                    else:
                        assert gv == v, (k, gv, v)  # Vietnamese text byte for byte
                assert f.GetFieldIndex("owner_name") < 0
                g = ogr.CreateGeometryFromWkt(wkt)
                fg = f.GetGeometryRef()
                assert fg.Distance(g) < 1e-3 and fg.GetArea() == pytest.approx(g.GetArea(), abs=1e-3)
    finally:
        gdal.SetConfigOption("OGR_WFS_PAGE_SIZE", None)


def test_ogr2ogr_wfs_to_geojson(features_server, features_store, workdir):
    out = os.path.join(workdir, "wfs_roads.geojson")
    gdal.VectorTranslate(out, f"WFS:{features_server.base}/wfs", layers=["spp:roads"],
                         format="GeoJSON")
    fc = json.load(open(out, encoding="utf-8"))
    want = store_features(features_store, "roads")
    assert len(fc["features"]) == len(want)
    names = sorted(f["properties"]["name"] for f in fc["features"])
    assert names == sorted(p["name"] for p, _ in want.values())


# ---- paging, hits, sorting ----

def test_paging_covers_every_feature_once(features_server):
    seen = []
    for start in range(0, 300, 37):
        fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                     TYPENAMES="cadastral_parcels", COUNT=37, STARTINDEX=start)
        assert fc["numberMatched"] == 300 and fc["numberReturned"] == len(fc["features"])
        seen += ids_of(fc)
    assert sorted(seen) == list(range(1, 301))
    # following next links as given
    url = q(VERSION="2.0.0", REQUEST="GetFeature", TYPENAMES="cadastral_parcels", COUNT=64)
    seen, pages = [], 0
    while url:
        s, _, doc = get_xml(features_server, url)
        assert s == 200
        seen += [int(i.split(".")[1]) for i in doc.xpath("//spp:cadastral_parcels/@gml:id",
                                                          namespaces=NS)]
        nxt = doc.get("next")
        url = nxt[len(features_server.base):] if nxt else None
        pages += 1
    assert pages == 5 and sorted(seen) == list(range(1, 301))


def test_hits_match_counts(features_server, features_store):
    for case in fx.CASES[:6]:
        s, _, doc = get_xml(features_server, q(VERSION="2.0.0", REQUEST="GetFeature",
                                               TYPENAMES="cadastral_parcels", RESULTTYPE="hits",
                                               FILTER=case["fes"]))
        assert s == 200 and doc.get("numberReturned") == "0"
        assert int(doc.get("numberMatched")) == len(fx.expected_ids(features_store, case["sql"]))
    s, _, doc = get_xml(features_server, q(VERSION="1.1.0", REQUEST="GetFeature",
                                           TYPENAME="roads", RESULTTYPE="hits"))
    assert doc.get("numberOfFeatures") == "60"


def test_several_types_and_sortby(features_server):
    fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                 TYPENAMES="roads,public_facilities", COUNT=70, STARTINDEX=30)
    assert fc["numberMatched"] == 100 and fc["numberReturned"] == 70
    kinds = [f["id"].split(".")[0] for f in fc["features"]]
    assert kinds.count("roads") == 30 and kinds.count("public_facilities") == 40
    fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                 TYPENAMES="cadastral_parcels", SORTBY="area_m2 DESC,parcel_no ASC", COUNT=300)
    areas = [(-f["properties"]["area_m2"], f["properties"]["parcel_no"]) for f in fc["features"]]
    assert areas == sorted(areas)


# ---- filters: each operator gives the ids SpatiaLite gives ----

@pytest.mark.parametrize("case", fx.CASES, ids=[c["name"] for c in fx.CASES])
def test_fes_operators(features_server, features_store, case):
    want = fx.expected_ids(features_store, case["sql"])
    fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                 TYPENAMES="cadastral_parcels", FILTER=case["fes"], COUNT=1000)
    assert ids_of(fc) == want and want


def test_cql_filter_vendor_parameter(features_server, features_store):
    case = next(c for c in fx.CASES if c["name"] == "logic")
    fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                 TYPENAMES="cadastral_parcels", CQL_FILTER=case["text"], COUNT=1000)
    assert ids_of(fc) == fx.expected_ids(features_store, case["sql"])
    st, code, loc, _ = exception(features_server, q(VERSION="2.0.0", REQUEST="GetFeature",
                                                    TYPENAMES="roads", CQL_FILTER="name ="))
    assert (st, code, loc) == (400, "InvalidParameterValue", "CQL_FILTER")


def test_resource_id_and_stored_query(features_server):
    fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                 RESOURCEID="cadastral_parcels.7,roads.3,cadastral_parcels.250")
    assert sorted(f["id"] for f in fc["features"]) == ["cadastral_parcels.250",
                                                        "cadastral_parcels.7", "roads.3"]
    s, _, doc = get_xml(features_server, q(VERSION="2.0.0", REQUEST="ListStoredQueries"))
    assert doc.xpath("//wfs:StoredQuery/@id", namespaces=NS) == [
        "urn:ogc:def:query:OGC-WFS::GetFeatureById"]
    s, _, doc = get_xml(features_server, q(VERSION="2.0.0", REQUEST="DescribeStoredQueries"))
    assert doc.xpath("//wfs:Parameter/@name", namespaces=NS) == ["ID"]
    s, _, doc = get_xml(features_server, q(VERSION="2.0.0", REQUEST="GetFeature",
                                           STOREDQUERY_ID="urn:ogc:def:query:OGC-WFS::GetFeatureById",
                                           ID="roads.12"))
    assert s == 200 and doc.tag == "{%s}roads" % NS["spp"]
    assert doc.get("{%s}id" % NS["gml"]) == "roads.12"
    st, code, loc, _ = exception(features_server, q(
        VERSION="2.0.0", REQUEST="GetFeature",
        STOREDQUERY_ID="urn:ogc:def:query:OGC-WFS::GetFeatureById", ID="roads.999"))
    assert st == 404 and code == "NotFound"


def test_post_xml_getfeature(features_server, features_store):
    case = next(c for c in fx.CASES if c["name"] == "logic")
    body = (f'<wfs:GetFeature service="WFS" version="2.0.0" outputFormat="application/json" '
            f'count="500" xmlns:wfs="{WFS}" xmlns:fes="http://www.opengis.net/fes/2.0" '
            'xmlns:spp="http://spp.cantho.gov.vn/spp">'
            '<wfs:Query typeNames="spp:cadastral_parcels">'
            '<wfs:PropertyName>parcel_no</wfs:PropertyName>'
            f'{case["fes"]}<fes:SortBy><fes:SortProperty><fes:ValueReference>parcel_no'
            '</fes:ValueReference><fes:SortOrder>DESC</fes:SortOrder></fes:SortProperty>'
            '</fes:SortBy></wfs:Query></wfs:GetFeature>').encode()
    s, h, body = features_server.get("/wfs", method="POST", data=body,
                                     headers={"Content-Type": "text/xml"})
    assert s == 200, body[:300]
    fc = json.loads(body)
    nos = [f["properties"]["parcel_no"] for f in fc["features"]]
    assert nos == sorted(fx.expected_ids(features_store, case["sql"]), reverse=True)
    assert set(fc["features"][0]["properties"]) == {"parcel_no"}
    assert fc["features"][0]["geometry"] is None


def test_post_form_encoded_kvp(features_server):
    data = urllib.parse.urlencode({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                                   "TYPENAMES": "roads", "COUNT": "7",
                                   "OUTPUTFORMAT": "application/json"}).encode()
    s, _, body = features_server.get("/wfs", method="POST", data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert s == 200 and json.loads(body)["numberReturned"] == 7


def test_get_property_value(features_server, features_store):
    s, _, doc = get_xml(features_server, q(VERSION="2.0.0", REQUEST="GetPropertyValue",
                                           TYPENAMES="roads", VALUEREFERENCE="name"))
    vals = doc.xpath("//wfs:member/text()", namespaces=NS)
    assert sorted(vals) == sorted(p["name"] for p, _ in store_features(features_store, "roads").values())


# ---- CRS and axis order ----

def test_srsname_axis_order(features_server, features_store):
    t = vn2000_to_wgs84()
    con = fx.spatialite(features_store)
    x, y = con.execute("SELECT X(geom), Y(geom) FROM public_facilities WHERE fid = 5").fetchone()
    con.close()
    lon, lat, _ = t.TransformPoint(x, y)
    rid = "public_facilities.5"
    s, _, doc = get_xml(features_server, q(VERSION="2.0.0", REQUEST="GetFeature", RESOURCEID=rid,
                                           SRSNAME="urn:ogc:def:crs:EPSG::4326"))
    a, b = map(float, doc.xpath("//gml:pos/text()", namespaces=NS)[0].split())
    assert abs(a - lat) < 1e-7 and abs(b - lon) < 1e-7  # WFS 2.0: EPSG order, lat first
    s, _, doc = get_xml(features_server, q(VERSION="1.1.0", REQUEST="GetFeature", FEATUREID=rid,
                                           SRSNAME="EPSG:4326"))
    a, b = map(float, doc.xpath("//gml31:pos/text()", namespaces=NS)[0].split())
    assert abs(a - lon) < 1e-7 and abs(b - lat) < 1e-7  # WFS 1.1 with EPSG:n: x/y
    fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature", RESOURCEID=rid,
                 SRSNAME="urn:ogc:def:crs:EPSG::4326")
    c = fc["features"][0]["geometry"]["coordinates"]
    assert abs(c[0] - lon) < 1e-7 and abs(c[1] - lat) < 1e-7  # GeoJSON: always lon, lat


def test_bbox_in_other_crs(features_server, features_store):
    box = (586110, 1109045, 586290, 1109135)  # edges through parcel middles
    want = fx.expected_ids(features_store, "ST_Intersects(geom, BuildMbr(%s, %s, %s, %s, 5897))"
                           % box)
    fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                 TYPENAMES="cadastral_parcels", BBOX="%s,%s,%s,%s,urn:ogc:def:crs:EPSG::5897" % box)
    assert ids_of(fc) == want
    t = vn2000_to_wgs84()
    (lo0, la0, _), (lo1, la1, _) = t.TransformPoint(box[0], box[1]), t.TransformPoint(box[2], box[3])
    fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                 TYPENAMES="cadastral_parcels",
                 BBOX=f"{la0},{lo0},{la1},{lo1},urn:ogc:def:crs:EPSG::4326")
    assert ids_of(fc) == want
    # QGIS's first request: a huge box in the URN of the layer CRS, one feature
    for crs in ("urn:ogc:def:crs:EPSG::5897", "urn:ogc:def:crs:EPSG::4326"):
        fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                     TYPENAMES="spp:cadastral_parcels", COUNT=1,
                     BBOX=f"-100000000,-100000000,100000000,100000000,{crs}")
        assert fc["numberReturned"] == 1


# ---- outputs ----

def test_csv_and_gml31(features_server, features_store):
    s, h, body = features_server.get(q(VERSION="2.0.0", REQUEST="GetFeature",
                                       TYPENAMES="public_facilities", OUTPUTFORMAT="text/csv"))
    assert s == 200 and h["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    want = store_features(features_store, "public_facilities")
    assert sorted(r["name"] for r in rows) == sorted(p["name"] for p, _ in want.values())
    assert all(r["geometry"].startswith("POINT") for r in rows)
    s, _, doc = get_xml(features_server, q(VERSION="1.1.0", REQUEST="GetFeature",
                                           TYPENAME="roads", MAXFEATURES=5))
    assert doc.tag == "{%s}FeatureCollection" % NS["wfs11"]
    assert len(doc.findall("gml31:featureMember", NS)) == 5


# ---- access control ----

def test_restricted_fields(features_server):
    base = dict(VERSION="2.0.0", REQUEST="GetFeature", TYPENAMES="cadastral_parcels", COUNT=300)
    for fmt in ("application/json", "text/csv", "application/gml+xml; version=3.2"):
        s, _, body = features_server.get(q(OUTPUTFORMAT=fmt, **base))
        assert s == 200 and b"owner_name" not in body and "Nguyễn Thị Ánh".encode() not in body
    answers = []
    for name in ("owner_name", "no_such_field"):
        for extra in ({"PROPERTYNAME": name}, {"SORTBY": name},
                      {"FILTER": fx.fes(f"<fes:PropertyIsNull><fes:ValueReference>{name}"
                                        "</fes:ValueReference></fes:PropertyIsNull>")}):
            st, code, loc, text = exception(features_server, q(**base, **extra))
            answers.append((st, code, loc, text.replace(name, "X")))
    for i in range(3):  # hidden and unknown answer the same way
        assert answers[i] == answers[i + 3] and answers[i][0] == 400
    hdr = {"X-API-Key": features_server.planner_key}
    fc = geojson(features_server, headers=hdr, FILTER=fx.fes(
        "<fes:PropertyIsEqualTo><fes:ValueReference>owner_name</fes:ValueReference>"
        "<fes:Literal>Nguyễn Thị Ánh 42</fes:Literal></fes:PropertyIsEqualTo>"), **base)
    assert ids_of(fc) == [42] and fc["features"][0]["properties"]["owner_name"] == "Nguyễn Thị Ánh 42"
    st, code, loc, _ = exception(features_server, q(VERSION="2.0.0", REQUEST="GetFeature",
                                                    TYPENAMES="construction_permits"))
    st2, code2, loc2, _ = exception(features_server, q(VERSION="2.0.0", REQUEST="GetFeature",
                                                       TYPENAMES="no_such_layer"))
    assert (st, code, loc) == (st2, code2, loc2) == (400, "InvalidParameterValue", "typeNames")


# ---- malformed requests ----

BAD = [
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "BBOX": "1,2,3"}, "InvalidParameterValue", "BBOX"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "BBOX": "5,5,1,1"}, "InvalidParameterValue", "BBOX"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "BBOX": "1,2,3,4,EPSG:999999"},
     "InvalidParameterValue", "BBOX"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "nope"}, "InvalidParameterValue", "typeNames"),
    ({"REQUEST": "GetFeature"}, "MissingParameterValue", "typeNames"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "SRSNAME": "EPSG:999999"},
     "InvalidParameterValue", "srsName"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "COUNT": "-1"}, "InvalidParameterValue", "COUNT"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "COUNT": "ten"}, "InvalidParameterValue", "COUNT"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "OUTPUTFORMAT": "image/png"},
     "InvalidParameterValue", "outputFormat"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "FILTER": "<fes:Filter"},
     "InvalidParameterValue", "FILTER"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads",
      "FILTER": '<!DOCTYPE x [<!ENTITY a "b">]><fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0">&a;</fes:Filter>'},
     "InvalidParameterValue", "FILTER"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads",
      "FILTER": fx.fes("<fes:Not>" * 60 + "<fes:PropertyIsNull><fes:ValueReference>name"
                       "</fes:ValueReference></fes:PropertyIsNull>" + "</fes:Not>" * 60)},
     "InvalidParameterValue", "FILTER"),
    ({"REQUEST": "Frobnicate"}, "InvalidParameterValue", "request"),
    ({"VERSION": "2.0.0"}, "MissingParameterValue", "request"),
    ({"REQUEST": "GetFeature", "TYPENAMES": "roads", "VERSION": "3.0.0"},
     "InvalidParameterValue", "version"),
    ({"REQUEST": "Transaction"}, "OperationNotSupported", "request"),
]


@pytest.mark.parametrize("params,code,locator", BAD)
def test_malformed_requests(features_server, params, code, locator):
    st, c, loc, text = exception(features_server, q(**params))
    assert 400 <= st < 500 and c == code and loc == locator, text
    s, _, _ = features_server.get(q(REQUEST="GetCapabilities"))
    assert s == 200


def test_xml_bomb_and_sql_in_literals(features_server, features_store):
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
            '"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><wfs:GetFeature '
            'xmlns:wfs="http://www.opengis.net/wfs/2.0">&lol2;</wfs:GetFeature>').encode()
    st, code, loc, text = exception(features_server, "/wfs", data=bomb)
    assert st == 400 and code == "OperationParsingFailed" and "DOCTYPE" in text
    ext = ('<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>').encode()
    st, code, _, _ = exception(features_server, "/ows", data=ext)
    assert st == 400
    for lit in ("x' OR '1'='1", "1; DROP TABLE cadastral_parcels; --", "') OR 1=1 --"):
        fc = geojson(features_server, VERSION="2.0.0", REQUEST="GetFeature",
                     TYPENAMES="cadastral_parcels", FILTER=fx.fes(
                         "<fes:PropertyIsEqualTo><fes:ValueReference>address</fes:ValueReference>"
                         f"<fes:Literal>{lit}</fes:Literal></fes:PropertyIsEqualTo>"))
        assert fc["numberMatched"] == 0
    assert len(fx.expected_ids(features_store, "1")) == 300


def test_ows_endpoint(features_server):
    s, _, doc = get_xml(features_server, "/ows?SERVICE=WFS&REQUEST=GetCapabilities")
    assert s == 200 and doc.tag == "{%s}WFS_Capabilities" % WFS
    st, code, loc, _ = exception(features_server, "/ows?SERVICE=WCS&REQUEST=GetCapabilities")
    assert (st, code, loc) == (400, "InvalidParameterValue", "SERVICE")
    body = (f'<wfs:GetFeature service="WFS" version="2.0.0" count="3" xmlns:wfs="{WFS}">'
            '<wfs:Query typeNames="roads"/></wfs:GetFeature>').encode()
    s, _, body = features_server.get("/ows", method="POST", data=body)
    assert s == 200 and etree.fromstring(body).get("numberReturned") == "3"
