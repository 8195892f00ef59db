# SPDX-License-Identifier: MIT
"""Data sharing between agencies (issue 21): layer metadata (ISO 19139, CSW 2.0.2, OGC API
record, DCAT), found the way QGIS MetaSearch finds it (OWSLib's CSW client, as MetaSearch calls
it); scoped keys; the audit log. Expected values come from the store file (sqlite3 +
mod_spatialite) and PROJ with the official EPSG:6960 parameters, never from spp."""
import json
import os
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from owslib.csw import CatalogueServiceWeb
from owslib.fes import BBox, PropertyIsLike
from pyproj import Transformer

import features_fixture
from conftest import Server, run_spp, spatialite

VN2000_5897 = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
               "+towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,"
               "0.00427372,0.252906278 +units=m +no_defs")
TO_WGS84 = Transformer.from_crs(VN2000_5897, "EPSG:4326", always_xy=True)
GMD = "http://www.isotc211.org/2005/gmd"
CSW_NS = "http://www.opengis.net/cat/csw/2.0.2"
OWS_NS = "http://www.opengis.net/ows"
X0, Y0 = features_fixture.X0, features_fixture.Y0


def hydro_geojson(path, n, shift=0.0):
    feats = []
    for i in range(n):
        x, y = X0 + 30 + i * 50 + shift, Y0 + 40
        feats.append({"type": "Feature", "properties": {"name": f"Rạch Khai Luông {i}",
                                                        "kind": "rach"},
                      "geometry": {"type": "LineString",
                                   "coordinates": [[x, y], [x + 40, y + 30]]}})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection",
                   "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5897"}},
                   "features": feats}, f, ensure_ascii=False)


@pytest.fixture(scope="module")
def share(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("share"))
    db = os.path.join(d, "share.sqlite")
    features_fixture.build(db)
    src = os.path.join(d, "kenh_rach.geojson")
    hydro_geojson(src, 6)
    run_spp("import", "--db", db, "--layer", "hydro_lines", src, "--quiet")
    keys = {}
    for role in ("investor", "planner"):
        out = run_spp("keys", "--db", db, "add", "--role", role, "--name", role).stdout
        keys[role] = next(w for w in out.split() if w.startswith("spp_"))
    s = Server(db, d)
    s.db, s.dir, s.keys, s.src = db, d, keys, src
    yield s
    s.stop()


def store_extent(db, layer):
    con = spatialite(db)
    row = con.execute(f'SELECT min(MbrMinX(geom)), min(MbrMinY(geom)), max(MbrMaxX(geom)),'
                      f' max(MbrMaxY(geom)), count(*) FROM "{layer}"').fetchone()
    con.close()
    return row


def wgs84_box(x0, y0, x1, y1):
    xs, ys = [], []
    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
        lon, lat = TO_WGS84.transform(x, y)
        xs.append(lon)
        ys.append(lat)
    return min(xs), min(ys), max(xs), max(ys)


def metasearch(url, keywords, bbox, headers=None):
    """What QGIS MetaSearch (CSW202Search.query_records) sends through OWSLib."""
    csw = CatalogueServiceWeb(url, headers=headers)
    constraints = []
    minx, miny, maxx, maxy = bbox
    constraints.append(BBox([miny, minx, maxy, maxx], crs="urn:ogc:def:crs:EPSG::4326"))
    constraints.append(PropertyIsLike("csw:AnyText", keywords))
    csw.getrecords2(constraints=[constraints], maxrecords=10, startposition=0, esn="full")
    return csw


# ---- part 1: metadata and CSW ----------------------------------------------------------------

def test_metasearch_finds_a_layer_by_vietnamese_keyword_and_bbox(share):
    csw = metasearch(share.base + "/csw", "thửa đất", (105.78, 10.02, 105.80, 10.04))
    assert list(csw.records) == ["cadastral_parcels"]
    assert csw.results["matches"] == 1
    rec = csw.records["cadastral_parcels"]
    assert rec.title == "Thửa đất"
    uris = {u["protocol"]: u for u in rec.uris}
    assert uris["OGC:WMS"]["name"] == "cadastral_parcels"
    assert uris["OGC:WFS"]["name"] == "spp:cadastral_parcels"
    # what MetaSearch's find_services picks from record.uris + record.references
    links = {}
    for link in rec.uris + rec.references:
        kind = (link.get("scheme") or link.get("protocol") or "").upper()
        if kind in ("OGC:WMS", "OGC:WFS"):
            links[kind] = link["url"]
    assert links == {"OGC:WMS": share.base + "/wms", "OGC:WFS": share.base + "/wfs"}
    # the links are live services that list the layer (clients add their own parameters)
    from owslib.wfs import WebFeatureService
    from owslib.wms import WebMapService
    assert "cadastral_parcels" in WebMapService(links["OGC:WMS"], version="1.3.0").contents
    assert "spp:cadastral_parcels" in WebFeatureService(links["OGC:WFS"], version="2.0.0").contents
    # the record's box is the store extent through EPSG:6960
    x0, y0, x1, y1, _ = store_extent(share.db, "cadastral_parcels")
    want = wgs84_box(x0, y0, x1, y1)
    got = (float(rec.bbox.minx), float(rec.bbox.miny), float(rec.bbox.maxx), float(rec.bbox.maxy))
    assert all(abs(a - b) < 2e-6 for a, b in zip(got, want)), (got, want)


def test_metasearch_text_and_bbox_both_constrain(share):
    base = share.base + "/csw"
    # without diacritics, in another case
    assert list(metasearch(base, "THUA DAT", (105.78, 10.02, 105.80, 10.04)).records) == [
        "cadastral_parcels"]
    # the keyword of a layer whose data lie elsewhere: the bbox excludes it
    assert list(metasearch(base, "thửa đất", (106.5, 10.5, 106.7, 10.7)).records) == []
    # a keyword no layer has
    assert list(metasearch(base, "không có từ này", (105.0, 9.0, 107.0, 11.0)).records) == []
    # an English keyword of several layers inside the box: only layers with data there
    csw = metasearch(base, "transport", (105.78, 10.02, 105.80, 10.04))
    assert list(csw.records) == ["roads"]


def test_getrecords_paging_brief_summary_and_hits(share):
    csw = CatalogueServiceWeb(share.base + "/csw")
    csw.getrecords2(esn="brief", maxrecords=5)
    visible = 23  # construction_permits is for investors and above
    assert csw.results == {"matches": visible, "returned": 5, "nextrecord": 6}
    first = list(csw.records)
    csw.getrecords2(esn="summary", maxrecords=5, startposition=6)
    assert csw.results["returned"] == 5 and not set(first) & set(csw.records)
    csw.getrecords2(esn="full", maxrecords=10, startposition=21)
    assert csw.results == {"matches": visible, "returned": 3, "nextrecord": 0}
    csw.getrecords2(resulttype="hits")
    assert csw.results["matches"] == visible and csw.results["returned"] == 0


def test_cql_and_filter_kvp(share):
    q = urllib.parse.urlencode({
        "service": "CSW", "version": "2.0.2", "request": "GetRecords", "typeNames": "csw:Record",
        "elementSetName": "brief", "constraintLanguage": "CQL_TEXT",
        "constraint": "csw:AnyText LIKE '%giao thông%' AND BBOX(ows:BoundingBox, 105.78, 10.02,"
                      " 105.80, 10.04)"})
    status, _, body = share.get("/csw?" + q)
    root = ET.fromstring(body)
    ids = [e.text for e in root.iter("{http://purl.org/dc/elements/1.1/}identifier")]
    assert status == 200 and ids == ["roads"]
    flt = ('<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc"><ogc:Or><ogc:PropertyIsEqualTo>'
           '<ogc:PropertyName>dc:identifier</ogc:PropertyName><ogc:Literal>hydro_lines'
           '</ogc:Literal></ogc:PropertyIsEqualTo><ogc:PropertyIsLike wildCard="*" singleChar="?"'
           ' escapeChar="!"><ogc:PropertyName>dc:title</ogc:PropertyName><ogc:Literal>Th?a*'
           '</ogc:Literal></ogc:PropertyIsLike></ogc:Or></ogc:Filter>')
    q = urllib.parse.urlencode({"service": "CSW", "version": "2.0.2", "request": "GetRecords",
                                "constraintLanguage": "FILTER", "constraint": flt,
                                "elementSetName": "brief"})
    status, _, body = share.get("/csw?" + q)
    ids = [e.text for e in ET.fromstring(body).iter("{http://purl.org/dc/elements/1.1/}identifier")]
    assert status == 200 and sorted(ids) == ["cadastral_parcels", "hydro_lines"]


def test_iso_record_carries_store_facts(share):
    csw = CatalogueServiceWeb(share.base + "/csw")
    csw.getrecordbyid(["hydro_lines"], outputschema=GMD)
    md = csw.records["hydro_lines"]
    ident = md.identificationinfo[0]
    assert ident.title == "Thủy hệ dạng đường"
    kws = [k for group in ident.keywords2 for k in group.keywords]
    assert "kênh rạch" in kws and "hydrography" in kws
    x0, y0, x1, y1, n = store_extent(share.db, "hydro_lines")
    want = wgs84_box(x0, y0, x1, y1)
    got = (float(ident.bbox.minx), float(ident.bbox.miny), float(ident.bbox.maxx),
           float(ident.bbox.maxy))
    assert all(abs(a - b) < 2e-6 for a, b in zip(got, want)), (got, want)
    con = spatialite(share.db)
    batch, finished = con.execute("SELECT l.import_batch, i.finished FROM spp_layers l JOIN"
                                  " spp_imports i ON i.batch = l.import_batch WHERE"
                                  " l.layer = 'hydro_lines'").fetchone()
    con.close()
    assert md.datestamp == finished[:10]
    protocols = {o.protocol: o for o in md.distribution.online}
    assert protocols["OGC:WMS"].url == share.base + "/wms"
    assert protocols["OGC:WFS"].name == "spp:hydro_lines"
    # lineage: the batch and the source file; the storage extent in EPSG:5897
    status, _, xml = share.get("/collections/hydro_lines/metadata?f=xml")
    assert status == 200
    text = xml.decode()
    assert batch in text and os.path.basename(share.src) in text
    assert "http://www.opengis.net/def/crs/EPSG/0/5897" in text
    assert f"{n} features" in text


def test_record_json_and_dcat(share):
    status, hdrs, rec = share.json("/collections/roads/metadata")
    assert status == 200 and hdrs["Content-Type"] == "application/geo+json"
    p = rec["properties"]
    x0, y0, x1, y1, n = store_extent(share.db, "roads")
    assert p["feature_count"] == n
    assert p["extent"]["storage"]["bbox"][0] == pytest.approx([x0, y0, x1, y1], abs=1e-3)
    assert p["extent"]["spatial"]["bbox"][0] == pytest.approx(list(wgs84_box(x0, y0, x1, y1)),
                                                              abs=2e-6)
    assert "giao thông" in p["keywords_vi"] and p["license"] == "CC BY 4.0"
    status, _, col = share.json("/collections/roads")
    described = [l["href"] for l in col["links"] if l["rel"] == "describedby"]
    assert any(h.endswith("/collections/roads/metadata") for h in described)
    status, hdrs, cat = share.json("/catalog.jsonld")
    assert status == 200 and hdrs["Content-Type"] == "application/ld+json"
    ids = [d["dct:identifier"] for d in cat["dcat:dataset"]]
    assert len(ids) == 23 and "construction_permits" not in ids


def test_capabilities_link_metadata(share):
    for path, needle in (("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
                          'type="ISO19115:2003"'),
                         ("/wfs?SERVICE=WFS&REQUEST=GetCapabilities&VERSION=2.0.0",
                          "<MetadataURL"),
                         ("/wfs?SERVICE=WFS&REQUEST=GetCapabilities&VERSION=1.1.0",
                          'type="19115"')):
        status, _, body = share.get(path)
        assert status == 200 and needle.encode() in body
        assert b"/collections/roads/metadata?f=xml" in body


def test_restricted_layer_is_not_discoverable(share):
    base = share.base + "/csw"
    q = "?service=CSW&version=2.0.2&request=GetRecordById&id=construction_permits"
    status, _, body = share.get("/csw" + q)
    assert status == 200 and b"construction_permits" not in body
    assert share.get("/collections/construction_permits/metadata")[0] == 404
    hdr = {"X-API-Key": share.keys["investor"]}
    status, _, body = share.get("/csw" + q, headers=hdr)
    assert status == 200 and b"<dc:identifier>construction_permits" in body
    csw = CatalogueServiceWeb(base, headers=hdr)
    csw.getrecords2(constraints=[PropertyIsLike("csw:AnyText", "%giấy phép xây dựng%")])
    assert list(csw.records) == ["construction_permits"]
    assert share.get("/collections/construction_permits/metadata", headers=hdr)[0] == 200


@pytest.mark.parametrize("query,code", [
    ("service=CSW&version=2.0.2", "MissingParameterValue"),
    ("service=CSW&version=2.0.2&request=Harvest", "OperationNotSupported"),
    ("service=CSW&version=2.0.2&request=GetRecords&elementSetName=huge", "InvalidParameterValue"),
    ("service=CSW&version=2.0.2&request=GetRecords&outputSchema=urn:x", "InvalidParameterValue"),
    ("service=CSW&version=2.0.2&request=GetRecords&maxRecords=-1", "InvalidParameterValue"),
    ("service=CSW&version=2.0.2&request=GetRecords&constraintLanguage=CQL_TEXT&constraint="
     "owner_name%20LIKE%20'%25a%25'", "InvalidParameterValue"),
    ("service=CSW&version=2.0.2&request=GetRecords&constraintLanguage=CQL_TEXT&constraint="
     "AnyText%20LIKE%20'unterminated", "InvalidParameterValue"),
    ("service=CSW&version=2.0.2&request=GetRecords&constraintLanguage=FILTER&constraint=%3Cx",
     "InvalidParameterValue"),
    ("service=CSW&version=2.0.2&request=GetRecords&constraintLanguage=CQL_TEXT&constraint="
     "BBOX(ows:BoundingBox,1,2,3)", "InvalidParameterValue"),
    ("service=CSW&version=2.0.2&request=GetRecordById", "MissingParameterValue"),
    ("service=WMS&request=GetRecords", "InvalidParameterValue"),
])
def test_bad_requests_are_ows_exceptions(share, query, code):
    status, hdrs, body = share.get("/csw?" + query)
    assert 400 <= status < 500, (status, body)
    root = ET.fromstring(body)
    assert root.tag == f"{{{OWS_NS}}}ExceptionReport" or root.tag.endswith("ExceptionReport")
    assert code.encode() in body


@pytest.mark.parametrize("body", [
    b"",
    b"<csw:GetRecords xmlns:csw='" + CSW_NS.encode() + b"' service='CSW' version='2.0.2'/>",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    b"<not-closed",
    b"<csw:GetRecords xmlns:csw='" + CSW_NS.encode() + b"' service='CSW' version='2.0.2'>"
    b"<csw:Query typeNames='csw:Record'><csw:Constraint version='1.1.0'><ogc:Filter "
    b"xmlns:ogc='http://www.opengis.net/ogc'><ogc:PropertyIsGreaterThan/></ogc:Filter>"
    b"</csw:Constraint></csw:Query></csw:GetRecords>",
])
def test_bad_posts_are_ows_exceptions(share, body):
    status, _, out = share.get("/csw", method="POST", data=body,
                               headers={"Content-Type": "application/xml"})
    assert 400 <= status < 500, (status, out)
    assert b"ExceptionReport" in out


# ---- part 2: sharing agreements as scoped keys -------------------------------------------------

AGREED = "cadastral_parcels.parcel_key,cadastral_parcels.owner_name"
# values of fields outside the agreement (address: public; owner_id_no: planner) and inside it
OUTSIDE_MARKS = ["Nguyễn Trãi", "092000000", "lu_display", "owner_id_no", "address"]
INSIDE_MARK = "Nguyễn Thị Ánh"


def add_key(db, *args):
    p = run_spp("keys", "--db", db, "add", *args)
    return p.stdout.strip()


@pytest.fixture(scope="module")
def agency(share):
    key = add_key(share.db, "--agency", "Sở Xây dựng", "--layers", "cadastral_parcels,roads",
                  "--fields", AGREED)
    return {"X-API-Key": key}


def tile_at(x, y, z=17):
    """The WebMercatorQuad tile holding EPSG:5897 point (x, y)."""
    import math
    lon, lat = TO_WGS84.transform(x, y)
    n = 2 ** z
    r = math.radians(lat)
    return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)


TILE = "/tiles/{layer}/%d/%d/%d.mvt" % tile_at(X0 + 100, Y0 + 100)


def props_of(fc):
    return set().union(*(set(f["properties"]) for f in fc["features"]))


def assert_clean(body):
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    for mark in OUTSIDE_MARKS:
        assert mark not in text, mark


def test_scoped_key_sees_only_its_fields_on_every_path(share, agency):
    s = share
    # OGC API items and item
    st, _, fc = s.json("/collections/cadastral_parcels/items?limit=50", agency)
    assert st == 200 and props_of(fc) == {"parcel_key", "owner_name"}
    assert any(INSIDE_MARK in f["properties"]["owner_name"] for f in fc["features"])
    st, _, f = s.json("/collections/cadastral_parcels/items/5", agency)
    assert st == 200 and set(f["properties"]) == {"parcel_key", "owner_name"}
    # WFS GeoJSON, GML and DescribeFeatureType
    st, _, body = s.get("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES="
                        "spp:cadastral_parcels&COUNT=50&OUTPUTFORMAT=application/json",
                        headers=agency)
    assert st == 200 and props_of(json.loads(body)) == {"parcel_key", "owner_name"}
    st, _, body = s.get("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES="
                        "spp:cadastral_parcels&COUNT=50", headers=agency)
    assert st == 200 and INSIDE_MARK.encode() in body
    assert_clean(body)
    st, _, body = s.get("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=DescribeFeatureType&TYPENAMES="
                        "spp:cadastral_parcels", headers=agency)
    assert st == 200 and b'name="owner_name"' in body and b'name="area_m2"' not in body
    # WMS GetFeatureInfo
    st, _, body = s.get("/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetFeatureInfo&LAYERS="
                        "cadastral_parcels&QUERY_LAYERS=cadastral_parcels&SRS=EPSG:5897&BBOX="
                        f"{X0},{Y0},{X0 + 400},{Y0 + 300}&WIDTH=100&HEIGHT=100&X=5&Y=95&"
                        "INFO_FORMAT=application/json&FEATURE_COUNT=5&STYLES=&FORMAT=image/png",
                        headers=agency)
    assert st == 200 and props_of(json.loads(body)) <= {"parcel_key", "owner_name"}
    assert INSIDE_MARK.encode() in body
    # vector tiles (never from a shared cache)
    # a planner's request first fills the tile cache: the agency must not get those bytes
    st_all, _, body_all = s.get(TILE.format(layer="cadastral_parcels"),
                                headers={"X-API-Key": share.keys["planner"]})
    st, _, body = s.get(TILE.format(layer="cadastral_parcels"), headers=agency)
    assert st == 200 and st_all == 200
    assert b"owner_id_no" in body_all and "Nguyễn Trãi".encode() in body_all  # the tile has parcels
    assert INSIDE_MARK.encode() in body
    assert_clean(body)
    # land API and CSV
    st, _, body = s.get("/api/v1/parcels/311170010001", headers=agency)
    assert st == 200 and INSIDE_MARK.encode() in body
    assert_clean(body)
    st, _, body = s.get("/api/v1/parcels/311170010001/planning", headers=agency)
    assert st == 200
    assert_clean(body)
    st, _, body = s.get("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES="
                        "spp:cadastral_parcels&COUNT=20&OUTPUTFORMAT=text/csv", headers=agency)
    assert st == 200 and INSIDE_MARK.encode() in body
    assert_clean(body)
    # capabilities, collections and the catalogue list only the agreed layers
    st, _, cols = s.json("/collections", agency)
    assert sorted(c["id"] for c in cols["collections"]) == ["cadastral_parcels", "roads"]
    st, _, body = s.get("/wfs?SERVICE=WFS&REQUEST=GetCapabilities", headers=agency)
    assert body.count(b"<FeatureType>") == 2
    st, _, body = s.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
                        headers=agency)
    assert b"<Name>public_facilities</Name>" not in body
    assert b"<Name>cadastral_parcels</Name>" in body
    csw = CatalogueServiceWeb(share.base + "/csw", headers=agency)
    csw.getrecords2(maxrecords=50)
    assert sorted(csw.records) == ["cadastral_parcels", "roads"]


@pytest.mark.parametrize("path,named", [
    ("/collections/public_facilities/items", "public_facilities"),
    ("/collections/cadastral_parcels/items?properties=area_m2", "cadastral_parcels.area_m2"),
    ("/collections/cadastral_parcels/items?sortby=-address", "cadastral_parcels.address"),
    ("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=spp:public_facilities",
     "public_facilities"),
    ("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=roads,public_facilities&STYLES=&"
     "CRS=EPSG:5897&BBOX=1109000,586000,1109300,586400&WIDTH=64&HEIGHT=64&FORMAT=image/png",
     "public_facilities"),
    (TILE.format(layer="public_facilities"), "public_facilities"),
])
def test_outside_the_agreement_is_403_naming_it(share, agency, path, named):
    st, _, body = share.get(path, headers=agency)
    assert st == 403, (st, body)
    assert named.encode() in body and "Sở Xây dựng".encode() in body


def test_field_hidden_by_role_stays_unknown_not_403(share):
    key = add_key(share.db, "--agency", "Phòng Đô thị", "--layers", "cadastral_parcels",
                  "--fields", "cadastral_parcels.parcel_key")
    # an investor-level agreement: owner_name is hidden by the role, not by the agreement
    st, _, body = share.get("/collections/cadastral_parcels/items?properties=owner_name",
                            headers={"X-API-Key": key})
    assert st == 400, (st, body)
    st, _, fc = share.json("/collections/cadastral_parcels/items?limit=5", {"X-API-Key": key})
    assert props_of(fc) == {"parcel_key"}


def test_expired_agreement_is_refused(share):
    key = add_key(share.db, "--agency", "Ban Quản lý dự án", "--expires", "2020-12-31")
    st, _, body = share.get("/collections/roads/items?limit=1", headers={"X-API-Key": key})
    assert st == 403 and b"expired on 2020-12-31" in body
    fresh = add_key(share.db, "--agency", "Ban Quản lý dự án", "--expires", "2999-12-31")
    assert share.get("/collections/roads/items?limit=1", headers={"X-API-Key": fresh})[0] == 200


def test_daily_quota_is_counted_and_enforced(share):
    key = add_key(share.db, "--agency", "Sở Tài chính", "--layers", "roads", "--quota", "3")
    hdr = {"X-API-Key": key}
    got = [share.get("/collections/roads/items?limit=1", headers=hdr)[0] for _ in range(4)]
    assert got == [200, 200, 200, 429]
    st, _, body = share.get("/wfs?SERVICE=WFS&REQUEST=GetCapabilities", headers=hdr)
    assert st == 429 and b"quota of 3 requests" in body and b"ExceptionReport" in body
    out = run_spp("keys", "--db", share.db, "list").stdout.splitlines()
    header = out[0].split("\t")
    row = next(l.split("\t") for l in out[1:] if "Sở Tài chính" in l)
    rec = dict(zip([h.strip() for h in header], [c.strip() for c in row]))
    assert rec["AGENCY"] == "Sở Tài chính" and rec["LAYERS"] == "roads"
    assert rec["QUOTA"] == "3/day" and rec["TODAY"] == "3" and rec["LAST_USED"].startswith("20")


@pytest.mark.parametrize("args,message", [
    (["--agency", "A", "--layers", "nope"], 'no layer "nope"'),
    (["--agency", "A", "--layers", "roads", "--fields", "cadastral_parcels.parcel_key"],
     "not in --layers"),
    (["--agency", "A", "--fields", "roads.nope"], 'has no field "nope"'),
    (["--agency", "A", "--role", "investor", "--fields", "cadastral_parcels.owner_name"],
     "needs role planner"),
])
def test_bad_agreements_are_refused(share, args, message):
    p = run_spp("keys", "--db", share.db, "add", *args, check=False)
    assert p.returncode == 1 and message in p.stderr


@pytest.mark.parametrize("args", [["--layers", "roads"], ["--agency", "A", "--expires", "1/1/2030"],
                                  ["--agency", "A", "--quota", "0"]])
def test_agreement_usage_errors(share, args):
    p = run_spp("keys", "--db", share.db, "add", *args, check=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1


# ---- part 3: the audit log of restricted reads ---------------------------------------------------

def audit_rows(db, *args):
    p = run_spp("audit", "--db", db, *args)
    lines = p.stdout.splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, l.split("\t"))) for l in lines[1:]]


def test_restricted_reads_are_audited(tmp_path):
    db = str(tmp_path / "a.sqlite")
    features_fixture.build(db)
    planner = add_key(db, "--role", "planner", "--name", "Sở TN&MT")
    scoped = add_key(db, "--agency", "Sở Xây dựng", "--layers", "cadastral_parcels",
                     "--fields", AGREED)
    s = Server(db, str(tmp_path))
    try:
        # public reads and a planner's read of public fields only are not restricted (without
        # properties= a planner also gets the lineage fields, which are above public)
        assert s.get("/collections/cadastral_parcels/items?limit=5")[0] == 200
        assert s.get("/collections/roads/items?limit=5&properties=name",
                     headers={"X-API-Key": planner})[0] == 200
        assert audit_rows(db) == []
        st, _, fc = s.json("/collections/cadastral_parcels/items?limit=7&properties=parcel_key,"
                           "owner_id_no", {"X-API-Key": planner})
        assert st == 200 and len(fc["features"]) == 7
        st, _, body = s.get("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES="
                            "spp:cadastral_parcels&COUNT=4&OUTPUTFORMAT=application/json",
                            headers={"X-API-Key": scoped})
        assert st == 200
        rows = audit_rows(db)
        assert len(rows) == 2
        a, b = rows
        assert a["AGENCY"] == "Sở TN&MT" and a["LAYER"] == "cadastral_parcels"
        assert a["FIELDS"] == "owner_id_no" and a["FEATURES"] == "7"
        assert a["CLIENT"] == "127.0.0.1" and a["PATH"].startswith("/collections/cadastral_parcels")
        assert b["AGENCY"] == "Sở Xây dựng" and b["FIELDS"] == "owner_name"
        assert b["FEATURES"] == "4" and b["PATH"].startswith("/wfs?")
        assert [r["AGENCY"] for r in audit_rows(db, "--agency", "Sở Xây dựng")] == ["Sở Xây dựng"]
        assert audit_rows(db, "--layer", "roads") == []
        assert len(audit_rows(db, "--since", a["TIME"][:10])) == 2
        assert audit_rows(db, "--since", "2999-01-01") == []
        assert "2 entries, hash chain intact" in run_spp("audit", "--db", db, "verify").stdout
    finally:
        s.stop()


def test_audit_entry_survives_kill_9(tmp_path):
    import signal
    db = str(tmp_path / "k.sqlite")
    features_fixture.build(db)
    planner = add_key(db, "--role", "planner")
    s = Server(db, str(tmp_path))
    try:
        st, _, _ = s.get("/collections/cadastral_parcels/items/3", headers={"X-API-Key": planner})
        assert st == 200
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
    finally:
        s.stop()
    rows = audit_rows(db)
    assert len(rows) == 1 and rows[0]["FEATURES"] == "1"
    assert "owner_name" in rows[0]["FIELDS"].split(",")
    assert "1 entries" in run_spp("audit", "--db", db, "verify").stdout


def test_audit_verify_detects_tampering(tmp_path):
    db = str(tmp_path / "t.sqlite")
    features_fixture.build(db)
    planner = add_key(db, "--role", "planner")
    s = Server(db, str(tmp_path))
    try:
        for i in range(1, 5):
            assert s.get(f"/collections/cadastral_parcels/items/{i}",
                         headers={"X-API-Key": planner})[0] == 200
    finally:
        s.stop()
    log = db + ".audit"
    lines = open(log, encoding="utf-8").read().splitlines(keepends=True)
    assert len(lines) == 4
    assert run_spp("audit", "--db", db, "verify").returncode == 0
    # an edited entry: fewer features than were read
    edited = lines[:]
    edited[1] = edited[1].replace('"features":1', '"features":0')
    assert edited[1] != lines[1]
    open(log, "w", encoding="utf-8").writelines(edited)
    p = run_spp("audit", "--db", db, "verify", check=False)
    assert p.returncode == 1 and "line 2" in p.stderr and "edited" in p.stderr
    # a removed entry
    open(log, "w", encoding="utf-8").writelines(lines[:1] + lines[2:])
    p = run_spp("audit", "--db", db, "verify", check=False)
    assert p.returncode == 1 and "line 2" in p.stderr and "removed" in p.stderr
    # a removed entry with the rest renumbered and re-chained by someone without... the chain
    # still breaks: the next entry's prev is the removed entry's hash
    renum = [lines[0]] + [l.replace(f'"seq":{i + 2}', f'"seq":{i + 1}', 1)
                          for i, l in enumerate(lines[2:])]
    open(log, "w", encoding="utf-8").writelines(renum)
    p = run_spp("audit", "--db", db, "verify", check=False)
    assert p.returncode == 1 and "line 2" in p.stderr
    # restored: intact again
    open(log, "w", encoding="utf-8").writelines(lines)
    assert "4 entries" in run_spp("audit", "--db", db, "verify").stdout


# ---- part 4: whole-layer downloads ---------------------------------------------------------------

def fetch_download(share, layer, fmt, headers=None, dest=None):
    st, hdrs, body = share.get(f"/collections/{layer}/download?f={fmt}", headers=headers)
    assert st == 200, (st, body[:300])
    assert int(hdrs["Content-Length"]) == len(body)
    path = os.path.join(dest or share.dir, f"dl-{layer}-{fmt}-{len(headers or {})}."
                        + {"gpkg": "gpkg", "shp": "zip", "geojson": "geojson", "csv": "zip"}[fmt])
    with open(path, "wb") as f:
        f.write(body)
    return path, hdrs


def ogr_features(path, fmt, layer):
    from osgeo import ogr
    src = {"gpkg": path, "shp": f"/vsizip/{path}/{layer}.shp", "geojson": path,
           "csv": f"/vsizip/{path}/{layer}.csv"}[fmt]
    ds = ogr.Open(src)
    assert ds is not None, src
    lyr = ds.GetLayer(0)
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    rows = []
    for f in lyr:
        g = f.GetGeometryRef()
        rows.append(({n: f.GetField(n) for n in names}, g.ExportToWkt() if g else None))
    return names, rows, ds


def first_point(g):
    while g.GetPointCount() == 0:
        g = g.GetGeometryRef(0)
    return g.GetPoint_2D(0)


def store_parcels(db):
    con = spatialite(db)
    rows = con.execute("SELECT parcel_key, area_m2, address, AsText(geom) FROM cadastral_parcels"
                       " ORDER BY fid").fetchall()
    con.close()
    return rows


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "geojson", "csv"])
def test_download_matches_the_store_and_hides_restricted_fields(share, fmt):
    from osgeo import ogr
    path, hdrs = fetch_download(share, "cadastral_parcels", fmt)
    assert "attachment" in hdrs["Content-Disposition"]
    names, rows, _ = ogr_features(path, fmt, "cadastral_parcels")
    want = store_parcels(share.db)
    assert len(rows) == len(want)
    # public: no planner fields, whatever the format (shapefile names are cut to 10 chars)
    for hidden in ("owner_name", "owner_id_n", "owner_id_no", "src_file", "import_bat"):
        assert hidden not in names
    key = "parcel_key" if fmt != "shp" else "parcel_key"
    for (props, wkt), (pkey, area, address, store_wkt) in zip(rows, want):
        assert str(props[key]) == pkey
        assert float(props["area_m2"]) == pytest.approx(area)
        assert (props["address"] or None) == address
        got = ogr.CreateGeometryFromWkt(wkt)
        exp = ogr.CreateGeometryFromWkt(store_wkt)
        if fmt in ("geojson", "csv"):  # lon/lat through EPSG:6960
            x, y = first_point(exp)
            lon, lat = TO_WGS84.transform(x, y)
            gx, gy = first_point(got)
            assert gx == pytest.approx(lon, abs=1e-7) and gy == pytest.approx(lat, abs=1e-7)
        else:
            assert got.Equals(exp) or got.Difference(exp).GetArea() < 1e-6


def test_download_carries_metadata_licence_and_vn2000_prj(share):
    import zipfile
    path, _ = fetch_download(share, "cadastral_parcels", "shp")
    z = zipfile.ZipFile(path)
    names = set(z.namelist())
    assert {"cadastral_parcels.shp", "cadastral_parcels.shx", "cadastral_parcels.dbf",
            "cadastral_parcels.cpg", "cadastral_parcels.prj", "cadastral_parcels.xml",
            "LICENCE.txt"} <= names
    assert z.read("cadastral_parcels.cpg").decode().strip() == "UTF-8"
    prj = z.read("cadastral_parcels.prj").decode()
    assert "TOWGS84[-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479," \
           "0.00427372,0.252906278]" in prj
    # the .prj reprojects a store point exactly as the official transformation does
    from osgeo import osr
    src = osr.SpatialReference()
    src.ImportFromWkt(prj)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(src, dst).TransformPoint(586184.889, 1109719.714)
    assert lon == pytest.approx(105.7880, abs=2e-7) and lat == pytest.approx(10.0340, abs=2e-7)
    assert "CC BY 4.0" in z.read("LICENCE.txt").decode()
    assert b"<gmd:MD_Metadata" in z.read("cadastral_parcels.xml")
    csvz = zipfile.ZipFile(fetch_download(share, "cadastral_parcels", "csv")[0])
    assert {"cadastral_parcels.csv", "cadastral_parcels.xml", "LICENCE.txt"} <= set(csvz.namelist())
    _, _, ds = ogr_features(fetch_download(share, "cadastral_parcels", "gpkg")[0], "gpkg",
                            "cadastral_parcels")
    lyr = ds.GetLayer(0)
    assert lyr.GetMetadataItem("LICENCE").startswith("CC BY 4.0")
    gsrs = lyr.GetSpatialRef()
    gsrs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(gsrs, dst).TransformPoint(586184.889, 1109719.714)
    assert lon == pytest.approx(105.7880, abs=2e-7) and lat == pytest.approx(10.0340, abs=2e-7)
    assert "gmd:MD_Metadata" in (lyr.GetMetadata("xml:ISO19139") or [""])[0]
    gj = json.load(open(fetch_download(share, "cadastral_parcels", "geojson")[0], encoding="utf-8"))
    assert "CC BY 4.0" in gj["description"] and "/collections/cadastral_parcels/metadata" in \
        gj["description"]


def test_download_obeys_roles_agreements_and_is_audited(share, agency):
    path, _ = fetch_download(share, "cadastral_parcels", "gpkg",
                             headers={"X-API-Key": share.keys["planner"]})
    names, rows, _ = ogr_features(path, "gpkg", "cadastral_parcels")
    assert "owner_name" in names and "owner_id_no" in names and len(rows) == 300
    path, _ = fetch_download(share, "cadastral_parcels", "gpkg", headers=agency)
    names, rows, _ = ogr_features(path, "gpkg", "cadastral_parcels")
    assert names == ["parcel_key", "owner_name"] and len(rows) == 300
    assert share.get("/collections/public_facilities/download?f=gpkg", headers=agency)[0] == 403
    assert share.get("/collections/construction_permits/download?f=gpkg")[0] == 404
    rows = audit_rows(share.db, "--agency", "Sở Xây dựng", "--layer", "cadastral_parcels")
    assert any(r["PATH"].startswith("/collections/cadastral_parcels/download") and
               r["FEATURES"] == "300" and r["FIELDS"] == "owner_name" for r in rows)


@pytest.mark.parametrize("query", ["", "?f=xlsx", "?f=gpkg&limit=5"])
def test_download_bad_requests(share, query):
    st, hdrs, body = share.get("/collections/roads/download" + query)
    assert st == 400 and hdrs["Content-Type"] == "application/problem+json"


# ---- part 5: the change feed ------------------------------------------------------------------------

def parcels_geojson(path, parcels):
    feats = []
    for i, (key, area, col) in enumerate(parcels):
        x, y = X0 + col * 40, Y0 + 600
        feats.append({"type": "Feature",
                      "properties": {"parcel_key": key, "commune_code": key[:5],
                                     "sheet_no": int(key[5:8]), "parcel_no": int(key[8:]),
                                     "area_m2": area, "address": f"Số {col} Trần Phú"},
                      "geometry": {"type": "Polygon", "coordinates": [
                          [[x, y], [x + 40, y], [x + 40, y + 30], [x, y + 30], [x, y]]]}})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection",
                   "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5897"}},
                   "features": feats}, f, ensure_ascii=False)


def full_copy(s):
    st, _, fc = s.json("/collections/cadastral_parcels/items?limit=1000")
    assert st == 200
    return {f["properties"]["parcel_key"]: (f["properties"], f["geometry"]) for f in fc["features"]}


def feed(s, **params):
    out, url = [], "/api/v1/changes?" + urllib.parse.urlencode(dict(layer="cadastral_parcels",
                                                                    **params))
    while url:
        st, _, page = s.json(url)
        assert st == 200, page
        out += page["changes"]
        nxt = [l["href"] for l in page["links"] if l["rel"] == "next"]
        url = urllib.parse.urlparse(nxt[0]).path + "?" + urllib.parse.urlparse(nxt[0]).query \
            if nxt else None
    return out


def test_change_feed_replays_a_reimport_exactly(tmp_path):
    db = str(tmp_path / "feed.sqlite")
    features_fixture.build(db)
    v1 = [(f"31117001{i:04d}", 1000.0 + i, i) for i in range(1, 13)]
    parcels_geojson(str(tmp_path / "v1.geojson"), v1)
    run_spp("import", "--db", db, "--layer", "cadastral_parcels", str(tmp_path / "v1.geojson"),
            "--allow-shrink", "--quiet")
    s = Server(db, str(tmp_path))
    try:
        copy = full_copy(s)
        assert len(copy) == 12
        cursor = max(c["id"] for c in feed(s, limit=50))
        # v2: two areas change, two parcels go, three come, one keeps everything but moves
        v2 = [p for p in v1 if p[0] not in ("311170010004", "311170010009")]
        v2 = [(k, a + 5 if k in ("311170010002", "311170010011") else a, c) for k, a, c in v2]
        v2 += [(f"31117002{i:04d}", 2000.0 + i, 20 + i) for i in range(1, 4)]
        parcels_geojson(str(tmp_path / "v2.geojson"), v2)
        import time
        time.sleep(1.1)  # batch times have whole seconds: `since` must tell the two apart
        run_spp("import", "--db", db, "--layer", "cadastral_parcels",
                str(tmp_path / "v2.geojson"), "--quiet")
        changes = feed(s, after=cursor, limit=4)
        ops = {}
        for c in changes:
            ops.setdefault(c["op"], set()).add(c["key"])
        assert ops["delete"] == {"311170010004", "311170010009"}
        assert ops["insert"] == {"311170020001", "311170020002", "311170020003"}
        assert {"311170010002", "311170010011"} <= ops["update"]
        assert "311170010001" not in ops.get("update", set())  # unchanged, same fid
        assert len({c["batch"] for c in changes}) == 1
        for c in changes:  # replay
            if c["op"] == "delete":
                del copy[c["key"]]
            else:
                st, _, f = s.json(f"/collections/cadastral_parcels/items/{c['fid']}")
                assert st == 200 and f["properties"]["parcel_key"] == c["key"]
                copy[c["key"]] = (f["properties"], f["geometry"])
        assert copy == full_copy(s)
        # since: the time of the second batch gives exactly its changes
        since = changes[0]["time"]
        assert [c["id"] for c in feed(s, since=since)] == [c["id"] for c in changes]
        # the same import run again (same file, same batch name): nothing changed, nothing in the
        # feed, although every row is again this batch's
        time.sleep(1.1)
        run_spp("import", "--db", db, "--layer", "cadastral_parcels",
                str(tmp_path / "v2.geojson"), "--quiet")
        last = max(c["id"] for c in changes)
        assert feed(s, after=last) == []
        assert full_copy(s) == copy
        for bad in ("layer=nope", "layer=cadastral_parcels&limit=0",
                    "layer=cadastral_parcels&since=yesterday", "layer=cadastral_parcels&x=1", ""):
            st, _, body = s.get("/api/v1/changes?" + bad)
            assert st in (400, 404), (bad, st, body)
        assert s.get("/api/v1/changes?layer=construction_permits")[0] == 404
    finally:
        s.stop()


# ---- part 6: data quality ---------------------------------------------------------------------------

def test_quality_json_matches_the_store(share):
    st, _, q = share.json("/api/v1/quality")
    assert st == 200
    layers = {l["layer"]: l for l in q["layers"]}
    assert "construction_permits" not in layers and len(layers) == 23
    con = spatialite(share.db)
    n, with_addr = con.execute("SELECT count(*), count(NULLIF(address, '')) FROM"
                               " cadastral_parcels").fetchone()
    p = layers["cadastral_parcels"]
    assert p["features"] == n
    assert p["completeness"]["address"]["filled"] == with_addr
    assert p["completeness"]["address"]["ratio"] == pytest.approx(with_addr / n, abs=1e-4)
    assert "owner_name" not in p["completeness"]  # above public
    batch, = con.execute("SELECT import_batch FROM spp_layers WHERE layer = 'hydro_lines'").fetchone()
    want = {(k, s): c for k, s, c in con.execute(
        "SELECT kind, severity, count(*) FROM spp_findings WHERE layer = 'hydro_lines' AND"
        " batch = ? GROUP BY 1, 2", (batch,))}
    con.close()
    h = layers["hydro_lines"]
    assert {(f["kind"], f["severity"]): f["count"] for f in h["findings"]} == want
    assert h["last_import"]["batch"] == batch and 0 <= h["last_import"]["age_seconds"] < 3600
    assert layers["roads"]["last_import"] is None
    st, _, q = share.json("/api/v1/quality?layer=cadastral_parcels",
                          {"X-API-Key": share.keys["planner"]})
    assert [l["layer"] for l in q["layers"]] == ["cadastral_parcels"]
    assert q["layers"][0]["completeness"]["owner_name"]["ratio"] == 1
    assert share.get("/api/v1/quality?layer=construction_permits")[0] == 404
    assert share.get("/api/v1/quality?x=1")[0] == 400
    assert share.get("/quality")[0] == 403
    st, hdrs, page = share.get("/quality", headers={"X-API-Key": share.keys["planner"]})
    assert st == 200 and hdrs["Content-Type"].startswith("text/html")
    assert "Chất lượng dữ liệu".encode() in page and b"hydro_lines" in page


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("RssAnon:"))


@pytest.mark.skipif(os.environ.get("SPP_SANITIZED") == "1",
                    reason="under ASan freed memory sits in its quarantine and shadow memory grows "
                           "with it: heap growth is measured on make test's normal build")
def test_download_memory_stays_flat(tmp_path):
    """A 100k-feature layer (a ~50 MB GeoJSON) is written to a file and streamed from it: the
    server's anonymous memory (heap) hardly grows; the store itself is mmap'd (file pages)."""
    db = str(tmp_path / "big.sqlite")
    features_fixture.build(db)
    con = spatialite(db)
    con.execute("""INSERT INTO cadastral_parcels (parcel_key, commune_code, sheet_no, parcel_no,
        area_m2, address, geom) WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n
        WHERE i < 101000) SELECT printf('31120%03d%04d', i / 10000, i % 10000), '31120',
        i / 10000, i % 10000, 100.0 + i % 50, 'Số ' || i || ' đường 3/2',
        CastToMulti(BuildMbr(586000 + (i % 300) * 20, 1110000 + (i / 300) * 20,
        586015 + (i % 300) * 20, 1110015 + (i / 300) * 20, 5897)) FROM n""")
    con.commit()
    con.close()
    s = Server(db, str(tmp_path))
    try:
        st, _, _ = s.get("/collections/roads/download?f=geojson")  # GDAL's drivers loaded
        assert st == 200
        base = rss_anon_kb(s.proc.pid)
        st, hdrs, body = s.get("/collections/cadastral_parcels/download?f=geojson")
        assert st == 200 and len(body) > 40_000_000
        assert body.count(b'"type": "Feature"') == 100301
        grown = rss_anon_kb(s.proc.pid) - base
        assert grown < 16 * 1024, f"heap grew {grown} kB for a {len(body)} byte download"
    finally:
        s.stop()


def test_agreement_rows_on_every_path(share):
    key = add_key(share.db, "--agency", "UBND phường Tân An", "--layers", "cadastral_parcels",
                  "--rows", "cadastral_parcels.commune_code=31117")
    hdr = {"X-API-Key": key}
    con = spatialite(share.db)
    mine = {r[0] for r in con.execute("SELECT parcel_key FROM cadastral_parcels WHERE"
                                      " commune_code = '31117'")}
    other_fid, = con.execute("SELECT fid FROM cadastral_parcels WHERE commune_code <> '31117'"
                             " LIMIT 1").fetchone()
    con.close()
    st, _, fc = share.json("/collections/cadastral_parcels/items?limit=1000", hdr)
    assert st == 200 and {f["properties"]["parcel_key"] for f in fc["features"]} == mine
    assert fc["numberMatched"] == len(mine)
    assert share.get(f"/collections/cadastral_parcels/items/{other_fid}", headers=hdr)[0] == 404
    st, _, body = share.get("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES="
                            "spp:cadastral_parcels&RESULTTYPE=hits", headers=hdr)
    assert st == 200 and f'numberMatched="{len(mine)}"'.encode() in body
    path, _ = fetch_download(share, "cadastral_parcels", "gpkg", headers=hdr)
    _, rows, _ = ogr_features(path, "gpkg", "cadastral_parcels")
    assert {r[0]["parcel_key"] for r in rows} == mine
    st, _, q = share.json("/api/v1/quality?layer=cadastral_parcels", hdr)
    assert q["layers"][0]["features"] == len(mine)
    row = next(l for l in run_spp("keys", "--db", share.db, "list").stdout.splitlines()
               if "UBND phường Tân An" in l)
    assert "cadastral_parcels.commune_code=31117" in row


@pytest.mark.parametrize("args,message", [
    (["--rows", "cadastral_parcels.commune_code"], "is not LAYER.FIELD=VALUE"),
    (["--rows", "cadastral_parcels.sheet_no=abc"], "wants an integer"),
    (["--rows", "cadastral_parcels.owner_name=x"], "not readable by every role"),
    (["--layers", "roads", "--rows", "cadastral_parcels.commune_code=31117"], "not in --layers"),
    (["--rows", "vacant_land_fund.status=x"], "already has a row rule"),
])
def test_bad_agreement_rows(share, args, message):
    p = run_spp("keys", "--db", share.db, "add", "--agency", "A", *args, check=False)
    assert p.returncode == 1 and message in p.stderr, p.stderr


def test_unwritable_audit_log_refuses_restricted_reads_only(features_store, tmp_path):
    """Restricted data is never served unrecorded: with DB.audit unwritable (here a directory in
    its place) a planner's read of owner names is a 503 with Retry-After; public reads go on."""
    import shutil
    import sqlite3 as sq
    db = str(tmp_path / "a.sqlite")
    src, dst = sq.connect(features_store), sq.connect(db)
    src.backup(dst)
    src.close(), dst.close()
    key = run_spp("keys", "--db", db, "add", "--role", "planner").stdout.strip().splitlines()[0]
    os.mkdir(db + ".audit")
    s = Server(db, str(tmp_path))
    try:
        st, h, body = s.get("/collections/cadastral_parcels/items?limit=2&properties=owner_name",
                            {"X-API-Key": key})
        assert st == 503 and h["Retry-After"], body[:200]
        assert b"audit" in body
        st, _, _ = s.get("/collections/cadastral_parcels/items?limit=2")
        assert st == 200
        # a download is a file body: with the audit unwritable none of it goes out
        st, h, body = s.get("/collections/cadastral_parcels/download?f=geojson",
                            {"X-API-Key": key})
        assert st == 503 and len(body) < 2000 and b"owner" not in body
        assert "Content-Disposition" not in h and h["Content-Type"].startswith("application/")
    finally:
        s.stop()
    shutil.rmtree(db + ".audit")


def test_restricted_tiles_from_the_cache_are_audited(features_store, tmp_path):
    """A planner's vector tile (owner names inside) is audited when it is made and again when the
    tile cache answers it; the public's tile is not."""
    import sqlite3 as sq
    db = str(tmp_path / "t.sqlite")
    src, dst = sq.connect(features_store), sq.connect(db)
    src.backup(dst)
    src.close(), dst.close()
    key = run_spp("keys", "--db", db, "add", "--role", "planner").stdout.strip().splitlines()[0]
    s = Server(db, str(tmp_path))
    path = "/tiles/cadastral_parcels/17/104052/61865.mvt"
    try:
        for _ in range(2):
            st, _, body = s.get(path, {"X-API-Key": key})
            assert st == 200 and b"owner_name" in body
        st, _, body = s.get(path)
        assert st == 200 and b"owner_name" not in body
    finally:
        s.stop()
    entries = [json.loads(line) for line in open(db + ".audit", encoding="utf-8")]
    tiles = [e for e in entries if e["path"].startswith("/tiles/")]
    assert len(tiles) == 2, tiles
    assert all("owner_name" in e["fields"] for e in tiles)
    assert not tiles[0].get("from_tile_cache") and tiles[1]["from_tile_cache"] == 1
    assert run_spp("audit", "--db", db, "verify").returncode == 0


def test_quota_counts_a_tile_drawn_on_a_miss_once(share):
    """A PNG tile missing from the cache runs twice (inline, then on a render thread): the
    agreement's daily quota counts it once."""
    key = add_key(share.db, "--agency", "Quota tiles", "--layers", "roads", "--quota", "4")
    h = {"X-API-Key": key}
    codes = [share.get(f"/tiles/roads/16/{52024 + i}/30934.png", headers=h)[0] for i in range(4)]
    assert codes == [200, 200, 200, 200]
    assert share.get("/tiles/roads/16/52030/30934.png", headers=h)[0] == 429


def test_parcel_sheet_for_a_key_without_the_map_layers(share):
    """An agreement without water or zoning layers still gets its parcel sheet (no background
    drawn for what it may not read), not a 400 about a LAYERS it never sent."""
    key = add_key(share.db, "--agency", "Print", "--layers", "cadastral_parcels,roads")
    con = spatialite(share.db)
    pk, = con.execute("SELECT parcel_key FROM cadastral_parcels LIMIT 1").fetchone()
    con.close()
    st, hdrs, body = share.get(f"/print/parcel/{pk}", headers={"X-API-Key": key})
    assert st == 200 and hdrs["Content-Type"].startswith("text/html"), body[:300]
    assert pk.encode() in body
