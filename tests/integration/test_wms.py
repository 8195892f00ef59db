# SPDX-License-Identifier: MIT
"""WMS as real clients use it: OWSLib 1.3.0 and 1.1.1, GDAL's WMS driver, QGIS-style requests.
Expected coordinates come from GDAL/OSR with the official EPSG:6960 operation, expected colours
from the code list (layers/codelists/land_use.json), never typed in."""
import json
import os
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from osgeo import gdal, osr
from owslib.wms import WebMapService

import wms_fixture as fx
from conftest import ROOT, Server

gdal.UseExceptions()


@pytest.fixture(scope="module")
def wms_server(workdir):
    path = os.path.join(workdir, "wms.sqlite")
    fx.build(path)
    s = Server(path, workdir)
    yield s
    s.stop()


def lu_color(code):
    with open(os.path.join(ROOT, "layers", "codelists", "land_use.json"), encoding="utf-8") as f:
        codes = json.load(f)["codes"]
    cols = [c["color"] for c in codes if c["code"] == code]
    h = cols[-1].lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


VN2000_TM3_105 = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84"
                  " +towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,"
                  "0.00427372,0.252906278 +units=m +no_defs")  # EPSG:5897 bound by EPSG:6960


def to_wgs84(points):
    """EPSG:5897 -> WGS 84 (lon, lat) with the official parameters (DOMAIN.md 1.3)."""
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromProj4(VN2000_TM3_105)
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    return [ct.TransformPoint(x, y)[:2] for x, y in points]


def decode(png):
    """Bytes of an image -> (width, height, rgba pixel function) with GDAL."""
    name = "/vsimem/wms_test_img"
    gdal.FileFromMemBuffer(name, png)
    ds = gdal.Open(name)
    if ds.GetRasterBand(1).GetColorTable() is not None:  # 8-bit palette PNG: expand to RGBA
        ds = gdal.Translate("/vsimem/wms_test_rgba.tif", ds, rgbExpand="rgba")
    bands = [ds.GetRasterBand(i + 1).ReadAsArray() for i in range(ds.RasterCount)]
    w, h = ds.RasterXSize, ds.RasterYSize
    ds = None
    gdal.Unlink(name)

    def px(x, y):
        v = tuple(int(b[y][x]) for b in bands)
        return v if len(v) == 4 else v + (255,)
    return w, h, px


def close(c, want, tol=6):
    return all(abs(a - b) <= tol for a, b in zip(c[:3], want))


# The map the tests draw: the fixture city in EPSG:5897.
BBOX = (586120.0, 1109640.0, 586500.0, 1110000.0)
W, H = 760, 720


def pixel_of(x, y, bbox=BBOX, w=W, h=H):
    return (int((x - bbox[0]) / (bbox[2] - bbox[0]) * w),
            int((bbox[3] - y) / (bbox[3] - bbox[1]) * h))


def parcel_center(no):
    for n, code, (x0, y0, x1, y1) in fx.parcels():
        if n == no:
            return (x0 + x1) / 2, (y0 + y1) / 2, code
    raise KeyError(no)


def get(server, **params):
    return server.get("/wms?" + urllib.parse.urlencode(params))


def exception_code(body):
    root = ET.fromstring(body)
    for el in root.iter():
        if el.tag.endswith("ServiceException"):
            return el.get("code")
    return None


# wms-caps-1: OWSLib 1.3.0 reads the capabilities, layers grouped, titles in two languages.
def test_capabilities_130(wms_server):
    wms = WebMapService(wms_server.base + "/wms", version="1.3.0")
    assert "cadastral_parcels" in wms.contents
    lyr = wms.contents["cadastral_parcels"]
    assert "Thửa đất" in lyr.title and "Cadastral parcels" in lyr.title
    assert lyr.queryable == 1
    assert "EPSG:5897" in lyr.crsOptions and "EPSG:3857" in lyr.crsOptions
    assert "cadastral_parcels" in lyr.styles
    assert "GetLegendGraphic" in lyr.styles["cadastral_parcels"]["legend"]
    ops = [op.name for op in wms.operations]
    assert "GetMap" in ops and "GetFeatureInfo" in ops
    info = wms.getOperationByName("GetFeatureInfo").formatOptions
    assert info[-1] == "application/vnd.ogc.gml" and "text/plain" in info
    assert "application/json" in info and "text/html" in info
    # The WGS 84 box is the parcels' extent through EPSG:6960, to the millimetre.
    xs = [b[i] for _, _, b in fx.parcels() for i in (0, 2)]
    ys = [b[i] for _, _, b in fx.parcels() for i in (1, 3)]
    corners = to_wgs84([(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)),
                        (min(xs), max(ys))])
    west, south, east, north = lyr.boundingBoxWGS84
    assert abs(west - min(c[0] for c in corners)) < 1e-7
    assert abs(north - max(c[1] for c in corners)) < 1e-7
    # Parent groups: land / transport / planning.
    parents = {c.parent.title for c in wms.contents.values() if c.parent is not None}
    assert any("Giao thông" in t for t in parents)


# wms-caps-2: no VERSION answers the highest; 1.1.1 is its own document.
def test_capabilities_versions(wms_server):
    status, hdrs, body = get(wms_server, SERVICE="WMS", REQUEST="GetCapabilities")
    assert status == 200 and b'version="1.3.0"' in body
    wms = WebMapService(wms_server.base + "/wms", version="1.1.1")
    lyr = wms.contents["roads"]
    assert "EPSG:4326" in lyr.crsOptions
    # Bounding boxes printed with enough digits (not %g).
    root = ET.fromstring(get(wms_server, SERVICE="WMS", REQUEST="GetCapabilities",
                             VERSION="1.1.1")[2])
    for bb in root.iter("BoundingBox"):
        if bb.get("SRS") == "EPSG:5897":
            assert "." in bb.get("minx") and len(bb.get("minx").split(".")[0]) == 6
            break
    else:
        pytest.fail("no EPSG:5897 bounding box")


# wms-getmap-1: OWSLib 1.3.0 GetMap in EPSG:5897: size, style colours, transparency.
def test_getmap_130_colours(wms_server):
    wms = WebMapService(wms_server.base + "/wms", version="1.3.0")
    img = wms.getmap(layers=["cadastral_parcels"], styles=[""], srs="EPSG:5897", bbox=BBOX,
                     size=(W, H), format="image/png", transparent=True)
    w, h, px = decode(img.read())
    assert (w, h) == (W, H)
    for no in (1, 2, 3, 31, 50):
        x, y, code = parcel_center(no)
        c = px(*pixel_of(x, y + 8))  # below the label in the middle
        assert c[3] == 255 and close(c, lu_color(code.split("+")[0])), (no, code, c)
    # Between the parcels and the canal nothing is drawn.
    empty = px(*pixel_of(fx.X0 + 30, fx.Y0 - 15))
    assert empty[3] == 0


# wms-getmap-2: 1.3.0 with EPSG:4326 takes lat,lon; 1.1.1 takes lon,lat; both hit the parcel.
def test_getmap_axis_order(wms_server):
    (lon0, lat0), (lon1, lat1) = to_wgs84([(BBOX[0], BBOX[1]), (BBOX[2], BBOX[3])])
    x, y, code = parcel_center(40)
    (plon, plat), = to_wgs84([(x, y + 8)])
    want = lu_color(code.split("+")[0])
    def check(body, label):
        w, h, px = decode(body)
        c = px(int((plon - lon0) / (lon1 - lon0) * W), int((lat1 - plat) / (lat1 - lat0) * H))
        assert close(c, want), (label, c, want)
    # OWSLib takes x,y and swaps to lat,lon itself for 1.3.0 + EPSG:4326.
    for version in ("1.3.0", "1.1.1"):
        wms = WebMapService(wms_server.base + "/wms", version=version)
        img = wms.getmap(layers=["cadastral_parcels"], styles=[""], srs="EPSG:4326",
                         bbox=(lon0, lat0, lon1, lat1), size=(W, H), format="image/png",
                         transparent=True)
        check(img.read(), version)
    # On the wire: 1.3.0 EPSG:4326 is lat,lon; CRS:84 is lon,lat.
    for crs, bbox in (("EPSG:4326", (lat0, lon0, lat1, lon1)), ("CRS:84", (lon0, lat0, lon1, lat1))):
        status, _, body = get(wms_server, SERVICE="WMS", VERSION="1.3.0", REQUEST="GetMap",
                              LAYERS="cadastral_parcels", STYLES="", CRS=crs,
                              BBOX=",".join(repr(v) for v in bbox), WIDTH=W, HEIGHT=H,
                              FORMAT="image/png")
        assert status == 200
        check(body, crs)


# wms-getmap-3: every FORMAT decodes; BGCOLOR fills JPEG; 8-bit PNG is a palette image.
@pytest.mark.parametrize("fmt", ["image/png", "image/png; mode=8bit", "image/jpeg", "image/webp"])
def test_getmap_formats(wms_server, fmt):
    status, hdrs, body = get(wms_server, SERVICE="WMS", VERSION="1.3.0", REQUEST="GetMap",
                             LAYERS="hydro_areas,cadastral_parcels,roads", STYLES="",
                             CRS="EPSG:5897", BBOX=",".join(map(str, BBOX)), WIDTH=W, HEIGHT=H,
                             FORMAT=fmt, BGCOLOR="0x00FF00", DPI="96", MAP_RESOLUTION="96",
                             FORMAT_OPTIONS="dpi:96")
    assert status == 200, body[:300]
    w, h, px = decode(body)
    assert (w, h) == (W, H)
    x, y, code = parcel_center(1)
    assert close(px(*pixel_of(x, y + 8)), lu_color(code), tol=12)
    if fmt == "image/jpeg":
        assert close(px(*pixel_of(fx.X0 + 30, fx.Y0 - 15)), (0, 255, 0), tol=12)


# wms-getmap-4: 3857 tiles as the bench asks them; several layers and the road colours.
def test_getmap_3857(wms_server):
    (lon0, lat0), (lon1, lat1) = to_wgs84([(BBOX[0], BBOX[1]), (BBOX[2], BBOX[3])])
    s, d = osr.SpatialReference(), osr.SpatialReference()
    s.ImportFromEPSG(4326)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    d.ImportFromEPSG(3857)
    ct = osr.CoordinateTransformation(s, d)
    x0, y0 = ct.TransformPoint(lon0, lat0)[:2]
    x1, y1 = ct.TransformPoint(lon1, lat1)[:2]
    status, hdrs, body = get(wms_server, SERVICE="WMS", VERSION="1.3.0", REQUEST="GetMap",
                             LAYERS="cadastral_parcels,buildings,hydro_areas,roads", STYLES="",
                             CRS="EPSG:3857", BBOX=f"{x0},{y0},{x1},{y1}", WIDTH=256, HEIGHT=256,
                             FORMAT="image/png", TRANSPARENT="TRUE")
    assert status == 200 and hdrs["Content-Type"] == "image/png"
    w, h, px = decode(body)
    assert (w, h) == (256, 256)
    opaque = sum(1 for j in range(0, 256, 8) for i in range(0, 256, 8) if px(i, j)[3] == 255)
    assert opaque > 200


# wms-gfi-1: GetFeatureInfo at a parcel's interior point returns that parcel, fields the role
# may read only; 1.1.1 X/Y; every INFO_FORMAT.
def test_getfeatureinfo(wms_server):
    x, y, code = parcel_center(31)
    i, j = pixel_of(x, y)
    wms = WebMapService(wms_server.base + "/wms", version="1.3.0")
    r = wms.getfeatureinfo(layers=["cadastral_parcels"], srs="EPSG:5897", bbox=BBOX, size=(W, H),
                           format="image/png", query_layers=["cadastral_parcels"],
                           info_format="application/json", xy=(i, j))
    fc = json.loads(r.read())
    assert len(fc["features"]) == 1
    props = fc["features"][0]["properties"]
    assert props["parcel_no"] == 31 and props["lu_display"] == code
    assert "owner_name" not in props
    for fmt, needle in (("text/plain", b"parcel_no = 31"), ("text/html", b"<td>31</td>"),
                        ("application/vnd.ogc.gml", b"<parcel_no>31</parcel_no>")):
        status, _, body = get(wms_server, SERVICE="WMS", VERSION="1.1.1", REQUEST="GetFeatureInfo",
                              LAYERS="cadastral_parcels", QUERY_LAYERS="cadastral_parcels",
                              SRS="EPSG:5897", BBOX=",".join(map(str, BBOX)), WIDTH=W, HEIGHT=H,
                              X=i, Y=j, INFO_FORMAT=fmt, STYLES="")
        assert status == 200 and needle in body, (fmt, body[:400])
        assert b"Nguy\xe1\xbb\x85n V\xc4\x83n" not in body  # owner names never reach the public
    # A click on the empty strip finds nothing; a road is found within the pixel tolerance.
    status, _, body = get(wms_server, SERVICE="WMS", VERSION="1.3.0", REQUEST="GetFeatureInfo",
                          LAYERS="roads", QUERY_LAYERS="roads,cadastral_parcels", CRS="EPSG:5897",
                          BBOX=",".join(map(str, BBOX)), WIDTH=W, HEIGHT=H,
                          I=pixel_of(fx.X0 + 4 * fx.PW + fx.GAP / 2 + 1.5, fx.Y0 - 15)[0],
                          J=pixel_of(0, fx.Y0 - 15)[1], INFO_FORMAT="application/json", STYLES="")
    feats = json.loads(body)["features"]
    assert [f["properties"]["name"] for f in feats] == [fx.ROAD_NAMES[1]]


# wms-gdal-1: GDAL's WMS driver reads a GetMap.
def test_gdal_wms_driver(wms_server, workdir):
    xml = f"""<GDAL_WMS><Service name="WMS"><Version>1.1.1</Version>
      <ServerUrl>{wms_server.base}/wms?</ServerUrl><SRS>EPSG:5897</SRS>
      <ImageFormat>image/png</ImageFormat><Layers>cadastral_parcels</Layers><Transparent>TRUE</Transparent></Service>
      <DataWindow><UpperLeftX>{BBOX[0]}</UpperLeftX><UpperLeftY>{BBOX[3]}</UpperLeftY>
      <LowerRightX>{BBOX[2]}</LowerRightX><LowerRightY>{BBOX[1]}</LowerRightY>
      <SizeX>{W}</SizeX><SizeY>{H}</SizeY></DataWindow><BandsCount>4</BandsCount>
      <BlockSizeX>{W}</BlockSizeX><BlockSizeY>{H}</BlockSizeY>
      <Cache><Path>{workdir}/gdalwms</Path></Cache></GDAL_WMS>"""
    ds = gdal.Open(xml)
    assert (ds.RasterXSize, ds.RasterYSize) == (W, H)
    x, y, code = parcel_center(50)
    i, j = pixel_of(x, y + 8)
    c = [int(ds.GetRasterBand(b).ReadAsArray(i, j, 1, 1)[0][0]) for b in (1, 2, 3, 4)]
    assert close(c, lu_color(code.split("+")[0])) and c[3] == 255


def getmap_params(**over):
    p = dict(SERVICE="WMS", VERSION="1.3.0", REQUEST="GetMap", LAYERS="roads", STYLES="",
             CRS="EPSG:5897", BBOX=",".join(map(str, BBOX)), WIDTH="256", HEIGHT="256",
             FORMAT="image/png")
    p.update(over)
    return {k: v for k, v in p.items() if v is not None}


# wms-exc-1: malformed requests get a ServiceExceptionReport with the right code and a 4xx.
@pytest.mark.parametrize("over,code", [
    (dict(LAYERS="nope"), "LayerNotDefined"),
    (dict(STYLES="nope"), "StyleNotDefined"),
    (dict(CRS="EPSG:2154"), "InvalidCRS"),
    (dict(CRS="EPSG:abc"), "InvalidCRS"),
    (dict(VERSION="1.1.1", CRS=None, SRS="EPSG:2154"), "InvalidSRS"),
    (dict(FORMAT="image/gif"), "InvalidFormat"),
    (dict(BBOX="1,2,3"), "InvalidParameterValue"),
    (dict(BBOX="5,5,1,1"), "InvalidParameterValue"),
    (dict(WIDTH="100000"), "InvalidParameterValue"),
    (dict(HEIGHT="-3"), "InvalidParameterValue"),
    (dict(SLD="http://example.com/x.sld"), "InvalidParameterValue"),
    (dict(REQUEST="GetFeatureInfo", QUERY_LAYERS="roads", I="999", J="3",
          INFO_FORMAT="text/plain"), "InvalidPoint"),
    (dict(REQUEST="GetFeatureInfo", QUERY_LAYERS="roads", I="3", J="3",
          INFO_FORMAT="x/y"), "InvalidFormat"),
    (dict(REQUEST="Frobnicate"), "OperationNotSupported"),
])
def test_exceptions(wms_server, over, code):
    status, hdrs, body = wms_server.get("/wms?" + urllib.parse.urlencode(getmap_params(**over)))
    assert 400 <= status < 500, body[:300]
    assert exception_code(body) == code, body[:400]


# wms-exc-2: EXCEPTIONS=INIMAGE and BLANK answer with an image of the asked size.
def test_exceptions_in_image(wms_server):
    for exc in ("INIMAGE", "BLANK", "application/vnd.ogc.se_inimage"):
        status, hdrs, body = wms_server.get("/wms?" + urllib.parse.urlencode(
            getmap_params(LAYERS="nope", EXCEPTIONS=exc, TRANSPARENT="TRUE")))
        assert status == 200 and hdrs["Content-Type"] == "image/png"
        w, h, px = decode(body)
        assert (w, h) == (256, 256)
        drawn = sum(1 for j in range(0, 40) for i in range(0, 256) if px(i, j)[3] > 0)
        assert (drawn > 0) == (exc != "BLANK")


SLD = """<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld"
 xmlns:ogc="http://www.opengis.net/ogc"><NamedLayer><Name>cadastral_parcels</Name><UserStyle>
 <FeatureTypeStyle><Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>{prop}</ogc:PropertyName>
 <ogc:Literal>ODT</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter><PolygonSymbolizer><Fill>
 <CssParameter name="fill">#123456</CssParameter></Fill></PolygonSymbolizer></Rule></FeatureTypeStyle>
 </UserStyle></NamedLayer></StyledLayerDescriptor>"""


# wms-sld-1: SLD_BODY is drawn with the same parser; hidden fields, DTDs and bad XML refused.
def test_sld_body(wms_server):
    status, hdrs, body = wms_server.get("/wms?" + urllib.parse.urlencode(
        getmap_params(LAYERS="cadastral_parcels", SLD_BODY=SLD.format(prop="lu_display"),
                      WIDTH=str(W), HEIGHT=str(H), TRANSPARENT="TRUE")))
    assert status == 200, body[:300]
    w, h, px = decode(body)
    x, y, code = parcel_center(1)
    assert code == "ODT" and close(px(*pixel_of(x, y)), (0x12, 0x34, 0x56), tol=2)
    x, y, code = parcel_center(2)
    assert code != "ODT" and px(*pixel_of(x, y))[3] == 0
    bad = [SLD.format(prop="owner_name"), SLD.format(prop="no_such_field"),
           '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + SLD.format(prop="lu_display"),
           SLD.format(prop="lu_display")[:-30],
           SLD.format(prop="lu_display").replace("<PolygonSymbolizer>", "<RasterSymbolizer/><PolygonSymbolizer>")]
    for sld in bad:
        status, hdrs, body = wms_server.get("/wms?" + urllib.parse.urlencode(
            getmap_params(LAYERS="cadastral_parcels", SLD_BODY=sld)))
        assert status == 400 and exception_code(body) is not None, body[:300]
    # The same message for a hidden and a missing field: no oracle.
    msgs = []
    for prop in ("owner_name", "no_such_field"):
        _, _, body = wms_server.get("/wms?" + urllib.parse.urlencode(
            getmap_params(LAYERS="cadastral_parcels", SLD_BODY=SLD.format(prop=prop))))
        msgs.append(body.decode().replace(prop, "X"))
    assert msgs[0] == msgs[1]


# wms-legend-1: GetLegendGraphic PNG per layer / rule and JSON with one rule per code.
def test_legend(wms_server):
    status, hdrs, body = get(wms_server, SERVICE="WMS", VERSION="1.3.0",
                             REQUEST="GetLegendGraphic", LAYER="land_use_current",
                             FORMAT="application/json")
    assert status == 200
    leg = json.loads(body)
    with open(os.path.join(ROOT, "layers", "codelists", "land_use.json"), encoding="utf-8") as f:
        n_codes = len({c["code"] for c in json.load(f)["codes"]})
    rules = [r for r in leg["rules"] if r["symbolizers"][0]["type"] == "polygon"]
    assert len(rules) == n_codes + 1  # one per code and the ElseFilter
    odt = next(r for r in rules if r["name"] == "ODT")
    assert odt["symbolizers"][0]["fill"] == "#%02X%02X%02X" % lu_color("ODT")
    status, hdrs, body = get(wms_server, SERVICE="WMS", VERSION="1.3.0",
                             REQUEST="GetLegendGraphic", LAYER="roads", FORMAT="image/png")
    assert status == 200
    w, h, px = decode(body)
    assert w > 20 and h >= 20 * 7
    status, hdrs, body = get(wms_server, SERVICE="WMS", REQUEST="GetLegendGraphic",
                             LAYER="roads", FORMAT="image/png", RULE="quoc_lo")
    w, h, px = decode(body)
    assert status == 200 and h < 40
    status, hdrs, body = get(wms_server, SERVICE="WMS", REQUEST="GetLegendGraphic",
                             LAYER="roads", FORMAT="image/png", RULE="nope")
    assert status == 400


# wms-ows-1: /ows with SERVICE=WMS is the same service.
def test_ows(wms_server):
    status, hdrs, body = wms_server.get("/ows?SERVICE=WMS&REQUEST=GetCapabilities")
    assert status == 200 and b"<WMS_Capabilities" in body
