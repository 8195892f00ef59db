# SPDX-License-Identifier: MIT
"""WMTS 1.0.0 with independent clients: OWSLib reads the capabilities (both tile matrix sets,
layers, bounding boxes) and fetches tiles; GDAL's WMTS driver reads the storage-CRS set as a
georeferenced raster; KVP and REST give the same bytes; GetFeatureInfo finds the parcel under
the pixel (checked with SpatiaLite); bad requests are OWS ExceptionReports with the right code."""
import math
import os

import pytest
from lxml import etree
from osgeo import gdal, ogr, osr
from owslib.wmts import WebMapTileService

from conftest import Server, spatialite
from test_tiles import HALF, TO_4326, block_tiles, png_size, store_features
from tiles_fixture import build_tiles_store

gdal.UseExceptions()
gdal.SetConfigOption("GDAL_DEFAULT_WMS_CACHE_PATH", "/vsimem/wmts-cache")
OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture(scope="module")
def wserver(workdir):
    path = os.path.join(workdir, "wmts.sqlite")
    build_tiles_store(path)
    s = Server(path, workdir)
    s.path = path
    yield s
    s.stop()


def test_capabilities_with_owslib(wserver):
    w = WebMapTileService(wserver.base + "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
    assert set(w.tilematrixsets) == {"WebMercatorQuad", "VN2000_EPSG5897"}
    assert w.tilematrixsets["VN2000_EPSG5897"].crs == "urn:ogc:def:crs:EPSG::5897"
    wmq = w.tilematrixsets["WebMercatorQuad"]
    assert abs(wmq.tilematrix["0"].scaledenominator - 559082264.0287178) < 1e-3
    assert wmq.tilematrix["17"].matrixwidth == 2 ** 17
    assert "construction_permits" not in w.contents  # investor layer, public caller
    lyr = w.contents["cadastral_parcels"]
    assert set(lyr.tilematrixsetlinks) == {"WebMercatorQuad", "VN2000_EPSG5897"}
    assert "application/json" in lyr.infoformats
    # the WGS 84 box is the store's extent through the official transformation
    con = spatialite(wserver.path)
    e = con.execute("SELECT min(MbrMinX(geom)), min(MbrMinY(geom)), max(MbrMaxX(geom)),"
                    " max(MbrMaxY(geom)) FROM cadastral_parcels").fetchone()
    con.close()
    pts = [TO_4326.TransformPoint(e[0] + (e[2] - e[0]) * k / 20, y)[:2]
           for k in range(21) for y in (e[1], e[3])]
    pts += [TO_4326.TransformPoint(x, e[1] + (e[3] - e[1]) * k / 20)[:2]
            for k in range(21) for x in (e[0], e[2])]
    want = (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts),
            max(p[1] for p in pts))
    for got, exp in zip(lyr.boundingBoxWGS84, want):
        assert abs(got - exp) < 1e-6, (lyr.boundingBoxWGS84, want)
    rest = etree.fromstring(wserver.get("/wmts/1.0.0/WMTSCapabilities.xml")[2])
    assert rest.tag == "{http://www.opengis.net/wmts/1.0}Capabilities"


def test_gettile_kvp_rest_and_gdal(wserver):
    z, x, y = block_tiles(wserver.path, 18)[0]
    kvp = ("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cadastral_parcels&STYLE=default"
           f"&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}")
    s1, h1, b1 = wserver.get(kvp)
    s2, h2, b2 = wserver.get(f"/wmts/1.0.0/cadastral_parcels/default/WebMercatorQuad/{z}/{y}/{x}.png")
    assert s1 == 200 and s2 == 200 and h1["Content-Type"] == "image/png" and b1 == b2
    # the same cache as /tiles/: the XYZ tile of the layer is byte-identical
    assert wserver.get(f"/tiles/cadastral_parcels/{z}/{x}/{y}.png")[2] == b1
    assert png_size(b1)[:2] == (256, 256)
    # an empty WMTS tile is still an image (WMTS has no 204)
    s, _, b = wserver.get("/wmts/1.0.0/cadastral_parcels/default/WebMercatorQuad/3/0/0.png")
    assert s == 200 and png_size(b)[:2] == (256, 256)
    # GDAL's WMTS driver reads the VN-2000 set as a georeferenced raster with parcels drawn
    ds = gdal.Open(f"WMTS:{wserver.base}/wmts/1.0.0/WMTSCapabilities.xml,layer=cadastral_parcels,"
                   "tilematrixset=VN2000_EPSG5897")
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    assert srs.GetAuthorityCode(None) == "5897"
    gt = ds.GetGeoTransform()
    assert abs(gt[1] - 0.25) < 1e-9  # finest level: 0.25 m
    con = spatialite(wserver.path)
    minx, miny, maxx, maxy = con.execute(
        "SELECT min(MbrMinX(geom)), min(MbrMinY(geom)), max(MbrMaxX(geom)), max(MbrMaxY(geom))"
        " FROM cadastral_parcels").fetchone()
    con.close()
    xoff, yoff = int((minx - gt[0]) / gt[1]), int((maxy - gt[3]) / gt[5])
    w_px, h_px = int((maxx - minx) / gt[1]), int((miny - maxy) / gt[5])
    alpha = ds.GetRasterBand(4).ReadAsArray(max(xoff, 0), max(yoff, 0), min(w_px, 800),
                                            min(h_px, 800))
    assert alpha.mean() > 200  # parcels cover their own extent


def test_getfeatureinfo_finds_the_parcel(wserver):
    parcels = store_features(wserver.path, "cadastral_parcels")
    z = 19
    fid, g = sorted(parcels.items())[40]
    c = g.Centroid()
    size = 2 * HALF / 2 ** z
    col, row = int((c.GetX() + HALF) // size), int((HALF - c.GetY()) // size)
    i = int((c.GetX() + HALF - col * size) / size * 256)
    j = int((HALF - c.GetY() - row * size) / size * 256)
    url = ("/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER=cadastral_parcels"
           f"&STYLE=default&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX={z}"
           f"&TILEROW={row}&TILECOL={col}&I={i}&J={j}&INFOFORMAT=application/json")
    status, hdrs, fc = wserver.json(url)
    assert status == 200
    ids = [f["id"] for f in fc["features"]]
    assert f"cadastral_parcels.{fid}" in ids
    assert all("owner_name" not in f["properties"] for f in fc["features"])


@pytest.mark.parametrize("query,code,status", [
    ("REQUEST=GetCapabilities", "MissingParameterValue", 400),
    ("SERVICE=WMTS", "MissingParameterValue", 400),
    ("SERVICE=WMTS&REQUEST=GetMap", "OperationNotSupported", 400),
    ("SERVICE=WMTS&REQUEST=GetTile&LAYER=nope&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad"
     "&TILEMATRIX=1&TILEROW=0&TILECOL=0", "InvalidParameterValue", 400),
    ("SERVICE=WMTS&REQUEST=GetTile&LAYER=construction_permits&FORMAT=image/png"
     "&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=1&TILEROW=0&TILECOL=0",
     "InvalidParameterValue", 400),
    ("SERVICE=WMTS&REQUEST=GetTile&LAYER=roads&FORMAT=image/png&TILEMATRIXSET=nope"
     "&TILEMATRIX=1&TILEROW=0&TILECOL=0", "InvalidParameterValue", 400),
    ("SERVICE=WMTS&REQUEST=GetTile&LAYER=roads&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad"
     "&TILEMATRIX=23&TILEROW=0&TILECOL=0", "InvalidParameterValue", 400),
    ("SERVICE=WMTS&REQUEST=GetTile&LAYER=roads&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad"
     "&TILEMATRIX=1&TILEROW=2&TILECOL=0", "TileOutOfRange", 400),
    ("SERVICE=WMTS&REQUEST=GetTile&LAYER=roads&FORMAT=image/png&TILEMATRIXSET=VN2000_EPSG5897"
     "&TILEMATRIX=0&TILEROW=0&TILECOL=-1", "TileOutOfRange", 400),
    ("SERVICE=WMTS&REQUEST=GetTile&LAYER=roads&FORMAT=image/gif&TILEMATRIXSET=WebMercatorQuad"
     "&TILEMATRIX=1&TILEROW=0&TILECOL=0", "InvalidParameterValue", 400),
    ("SERVICE=WMTS&REQUEST=GetTile&LAYER=roads&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad"
     "&TILEMATRIX=1&TILEROW=0", "MissingParameterValue", 400),
    ("SERVICE=WMTS&REQUEST=GetFeatureInfo&LAYER=roads&FORMAT=image/png"
     "&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=1&TILEROW=0&TILECOL=0&I=300&J=0"
     "&INFOFORMAT=application/json", "PointIJOutOfRange", 400),
])
def test_errors_are_ows_exceptions(wserver, query, code, status):
    got, hdrs, body = wserver.get("/wmts?" + query)
    assert got == status, body[:300]
    root = etree.fromstring(body)
    assert root.tag == OWS + "ExceptionReport"
    assert root.find(OWS + "Exception").get("exceptionCode") == code


def test_rest_unknown_resources_are_404(wserver):
    for path in ("/wmts/1.0.0/nope/default/WebMercatorQuad/1/0/0.png",
                 "/wmts/1.0.0/roads/default/WebMercatorQuad/1/5/0.png",
                 "/wmts/1.0.0/roads/default/WebMercatorQuad/x/0/0.png"):
        status, hdrs, body = wserver.get(path)
        assert status == 404 and etree.fromstring(body).tag == OWS + "ExceptionReport"
