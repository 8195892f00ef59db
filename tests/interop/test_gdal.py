# SPDX-License-Identifier: MIT
"""GDAL/OGR 3.6 (Debian's python3-gdal) against spp: the WFS driver (1.1.0 and 2.0.0, paging,
attribute and spatial filters), OAPIF, the WMS driver (GetMap), WMTS in both matrix sets, XYZ
raster tiles through the WMS driver's TMS service (a window with empty tiles around the data),
and MVT tiles. Expected values: OGR on the store file."""
import math

import pytest
from osgeo import gdal, ogr

from conftest import decode_image, ink, iou, ogr_count, ogr_extent, ogr_geom, ogr_rows, to_wgs84

PARCEL_FIELDS = ["parcel_key", "commune_code", "sheet_no", "parcel_no", "area_m2", "lu_display"]


def lonlat_tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_ogr_wfs_counts_values_types_paging(spp, source, version):
    gdal.SetConfigOption("OGR_WFS_PAGING_ALLOWED", "ON")
    gdal.SetConfigOption("OGR_WFS_PAGE_SIZE", "70")  # 300 parcels in 5 pages
    try:
        ds = ogr.Open(f"WFS:{spp.base}/wfs?VERSION={version}")
        lyr = ds.GetLayerByName("spp:cadastral_parcels")
        assert lyr.GetFeatureCount() == ogr_count(source, "cadastral_parcels")
        src = source.GetLayerByName("cadastral_parcels").GetLayerDefn()
        defn = lyr.GetLayerDefn()
        kind = {ogr.OFTInteger: "int", ogr.OFTInteger64: "int"}  # xsd:long is Integer64
        for name in PARCEL_FIELDS:
            a, b = defn.GetFieldDefn(defn.GetFieldIndex(name)), src.GetFieldDefn(
                src.GetFieldIndex(name))
            assert kind.get(a.GetType(), a.GetType()) == kind.get(b.GetType(), b.GetType()), name
        want = dict(ogr_rows(source, "cadastral_parcels", PARCEL_FIELDS))
        got = {}
        for f in lyr:
            got[int(f.GetFID())] = {k: f.GetField(k) for k in PARCEL_FIELDS}
        assert got == want
        # roads: GDAL reads GML 3.1.1's MultiLineStringPropertyType as MultiLineString and GML
        # 3.2's MultiCurvePropertyType as MultiCurve; the lines are the store's either way
        roads = ds.GetLayerByName("spp:roads")
        want_type = ogr.wkbMultiCurve if version == "2.0.0" else ogr.wkbMultiLineString
        assert ogr.GT_Flatten(roads.GetGeomType()) == want_type
        assert roads.GetFeatureCount() == ogr_count(source, "roads")
        for f in roads:
            g = ogr.ForceToMultiLineString(f.GetGeometryRef().Clone())
            s = ogr_geom(source, "roads", f.GetFID())
            assert g.GetGeometryCount() == s.GetGeometryCount()
            assert g.Distance(s) < 1e-6 and g.Length() == pytest.approx(s.Length(), abs=1e-3)
    finally:
        gdal.SetConfigOption("OGR_WFS_PAGING_ALLOWED", None)
        gdal.SetConfigOption("OGR_WFS_PAGE_SIZE", None)


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_ogr_wfs_filters(spp, source, version):
    ds = ogr.Open(f"WFS:{spp.base}/wfs?VERSION={version}")
    lyr = ds.GetLayerByName("spp:cadastral_parcels")
    lyr.SetAttributeFilter("sheet_no = 3 AND area_m2 > 1400")  # GDAL writes the FES filter
    got = sorted(f.GetField("parcel_key") for f in lyr)
    want = sorted(r["parcel_key"] for _, r in ogr_rows(source, "cadastral_parcels",
                                                       ["parcel_key"],
                                                       "sheet_no = 3 AND area_m2 > 1400"))
    assert want and got == want
    lyr.SetAttributeFilter(None)
    minx, miny, maxx, maxy = 586110, 1109045, 586290, 1109135
    lyr.SetSpatialFilterRect(minx, miny, maxx, maxy)
    n = sum(1 for _ in lyr)
    assert n == ogr_count(source, "cadastral_parcels",
                          f"ST_Intersects(geom, BuildMbr({minx}, {miny}, {maxx}, {maxy}, 5897))")


def test_ogr_oapif(spp, source):
    ds = gdal.OpenEx(f"OAPIF:{spp.base}", gdal.OF_VECTOR)
    lyr = ds.GetLayerByName("cadastral_parcels")
    assert lyr.GetFeatureCount() == ogr_count(source, "cadastral_parcels")
    want = dict(ogr_rows(source, "cadastral_parcels", PARCEL_FIELDS))
    got = {int(f.GetFID()): {k: f.GetField(k) for k in PARCEL_FIELDS} for f in lyr}
    assert got == want
    roads = ds.GetLayerByName("roads")
    lyr = roads
    lyr.SetAttributeFilter("road_class = 'hem'")
    assert sum(1 for _ in lyr) == ogr_count(source, "roads", "road_class = 'hem'")


def test_gdal_wms_getmap_equals_spp(spp, source):
    minx, miny, maxx, maxy = ogr_extent(source, "cadastral_parcels")
    url = (f"{spp.base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels"
           f"&STYLES=&CRS=EPSG:5897&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=400&HEIGHT=225"
           "&FORMAT=image/png&TRANSPARENT=TRUE")
    ds = gdal.Open("WMS:" + url)
    assert ds is not None and ds.RasterCount == 4
    arr = ds.ReadAsArray(0, 0, ds.RasterXSize, ds.RasterYSize, buf_xsize=400, buf_ysize=225)
    assert ink(arr).mean() > 0.9


@pytest.mark.parametrize("tms", ["WebMercatorQuad", "VN2000_EPSG5897"])
def test_gdal_wmts_reads_around_the_data(spp, source, tms):
    """A window larger than the data: the empty tiles around it must read as transparent."""
    ds = gdal.OpenEx(f"WMTS:{spp.base}/wmts/1.0.0/WMTSCapabilities.xml,layer=cadastral_parcels,"
                     f"tilematrixset={tms}", gdal.OF_RASTER,
                     open_options=["EXTENT_METHOD=TILE_MATRIX_SET"])
    assert ds is not None
    minx, miny, maxx, maxy = ogr_extent(source, "cadastral_parcels")
    if tms == "WebMercatorQuad":
        from osgeo import osr
        from conftest import VN2000
        s = osr.SpatialReference()
        s.SetFromUserInput(VN2000)
        t = osr.SpatialReference()
        t.ImportFromEPSG(3857)
        ct = osr.CoordinateTransformation(s, t)
        (minx, miny, _), (maxx, maxy, _) = ct.TransformPoint(minx, miny), ct.TransformPoint(
            maxx, maxy)
    gt = ds.GetGeoTransform()
    pad = 600  # m: tiles with nothing in them all around
    x0, x1 = int((minx - pad - gt[0]) / gt[1]), int((maxx + pad - gt[0]) / gt[1])
    y0, y1 = int((maxy + pad - gt[3]) / gt[5]), int((miny - pad - gt[3]) / gt[5])
    gdal.ErrorReset()
    bx = int((x1 - x0) * gt[1])  # about 1 m per pixel: parcels draw below 1:25 593
    arr = ds.ReadAsArray(x0, y0, x1 - x0, y1 - y0, buf_xsize=bx,
                         buf_ysize=int(bx * (y1 - y0) / (x1 - x0)))
    assert arr is not None and gdal.GetLastErrorType() < gdal.CE_Failure
    m = ink(arr)
    assert 0.02 < m.mean() < 0.5  # the data in the middle, transparent around it
    assert not m[:5].any() and not m[-5:].any()


def xyz_xml(base, path, zmax=20):
    return (f"<GDAL_WMS><Service name=\"TMS\"><ServerUrl>{base}/tiles/{path}/${{z}}/${{x}}/${{y}}"
            f".png</ServerUrl></Service><DataWindow><UpperLeftX>-20037508.34</UpperLeftX>"
            f"<UpperLeftY>20037508.34</UpperLeftY><LowerRightX>20037508.34</LowerRightX>"
            f"<LowerRightY>-20037508.34</LowerRightY><TileLevel>{zmax}</TileLevel>"
            "<TileCountX>1</TileCountX><TileCountY>1</TileCountY><YOrigin>top</YOrigin>"
            "</DataWindow><Projection>EPSG:3857</Projection><BlockSizeX>256</BlockSizeX>"
            "<BlockSizeY>256</BlockSizeY><BandsCount>4</BandsCount><ZeroBlockHttpCodes>"
            "</ZeroBlockHttpCodes><ZeroBlockOnServerException>false"
            "</ZeroBlockOnServerException><Cache/></GDAL_WMS>")


def test_gdal_xyz_raster_with_empty_tiles(spp, source):
    """GDAL's XYZ reader (the WMS driver's TMS service, as `gdal_translate` and QGIS's GDAL path
    read XYZ): a window holding the data and empty tiles must read; with ZeroBlockHttpCodes
    emptied, a tile that is not an image (a 204) is an error, as it is for most XYZ clients."""
    ds = gdal.Open(xyz_xml(spp.base, "cadastral_parcels"))
    minx, miny, maxx, maxy = ogr_extent(source, "cadastral_parcels")
    lo, hi = to_wgs84(minx, miny), to_wgs84(maxx, maxy)
    z = 17
    tx0, ty1 = lonlat_tile(lo[0], lo[1], z)
    tx1, ty0 = lonlat_tile(hi[0], hi[1], z)
    scale = 2 ** (20 - z)  # dataset pixels per tile pixel at z
    x0, y0 = (tx0 - 2) * 256 * scale, (ty0 - 2) * 256 * scale
    w, h = (tx1 - tx0 + 5) * 256 * scale, (ty1 - ty0 + 5) * 256 * scale
    gdal.ErrorReset()
    arr = ds.ReadAsArray(x0, y0, w, h, buf_xsize=w // scale, buf_ysize=h // scale)
    assert arr is not None and gdal.GetLastErrorType() < gdal.CE_Failure
    m = ink(arr)
    assert m.any() and not m[:256].any() and not m[-256:].any()
    # the drawn part lines up with spp's own WMS GetMap of the same box (EPSG:3857)
    gt = ds.GetGeoTransform()
    bx0, by1 = gt[0] + x0 * gt[1], gt[3] + y0 * gt[5]
    bx1, by0 = bx0 + w * gt[1], by1 + h * gt[5]
    status, _, body = spp.get(
        f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels&STYLES="
        f"&CRS=EPSG:3857&BBOX={bx0},{by0},{bx1},{by1}&WIDTH={w // scale}&HEIGHT={h // scale}"
        "&FORMAT=image/png&TRANSPARENT=TRUE")
    assert status == 200
    assert iou(m, ink(decode_image(body))) > 0.9


def test_gdal_mvt_tile_equals_store(spp, source):
    fid = ogr_rows(source, "cadastral_parcels", ["parcel_key"])[150][0]
    c = ogr_geom(source, "cadastral_parcels", fid).Centroid()
    lon, lat = to_wgs84(c.GetX(), c.GetY())
    z = 17
    x, y = lonlat_tile(lon, lat, z)
    url = f"MVT:/vsicurl/{spp.base}/tiles/cadastral_parcels/{z}/{x}/{y}.mvt"
    ds = gdal.OpenEx(url, gdal.OF_VECTOR, open_options=[f"X={x}", f"Y={y}", f"Z={z}"])
    lyr = ds.GetLayerByName("cadastral_parcels")
    got = {f.GetField("parcel_key"): f.GetField("area_m2") for f in lyr}
    # the parcels whose WGS 84 box meets the tile (through PROJ on the store), give or take
    # those touching the buffer: every parcel holding the chosen point is there, values equal
    want = dict((r["parcel_key"], r["area_m2"]) for _, r in ogr_rows(
        source, "cadastral_parcels", ["parcel_key", "area_m2"]))
    key = ogr_rows(source, "cadastral_parcels", ["parcel_key"])[150][1]["parcel_key"]
    assert key in got and got[key] == want[key]
    assert all(want[k] == v for k, v in got.items())
    assert lyr.GetGeomType() in (ogr.wkbPolygon, ogr.wkbMultiPolygon)
    # (empty MVT tiles, 200 with no body, are read by MapLibre and OpenLayers: test_browsers)
