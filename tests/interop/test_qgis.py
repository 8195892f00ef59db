# SPDX-License-Identifier: MIT
"""QGIS 3.22 headless (Debian's python3-qgis, QT_QPA_PLATFORM=offscreen) against spp: each
service added the way a planner adds it in the Data Source Manager (the same provider URIs:
WMS, WFS 1.1.0 and 2.0.0, OGC API Features, XYZ raster tiles, vector tiles with spp's MapLibre
style), checked for feature counts (QGIS asks resultType=hits), attribute values and types,
identify results and paging, then rendered with QgsMapRendererParallelJob and compared with
spp's own GetMap of the same box (the same drawn pixels in the same places, not byte-equal).
Expected values: OGR on the store file."""
import json
import os
import tempfile

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))
qgis_core = pytest.importorskip("qgis.core", reason="python3-qgis is not installed")  # noqa

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsFeatureRequest,  # noqa
                       QgsMapBoxGlStyleConverter, QgsMapRendererParallelJob, QgsMapSettings,
                       QgsPointXY, QgsRaster, QgsRasterLayer, QgsRectangle, QgsVectorLayer,
                       QgsVectorTileLayer)
from qgis.PyQt.QtCore import QSize, QVariant  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

from conftest import (decode_image, ink, iou, near, ogr_count, ogr_extent,  # noqa: E402
                      ogr_rows)

PARCEL_FIELDS = ["parcel_key", "commune_code", "sheet_no", "parcel_no", "area_m2", "lu_display"]


@pytest.fixture(scope="module")
def qgs():
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    yield app
    # exitQgis() at interpreter exit would race pytest's own teardown; QGIS cleans up itself


def wfs_layer(spp, version, typename="spp:cadastral_parcels", page=None):
    uri = (f"pagingEnabled='{'true' if page else 'false'}' preferCoordinatesForWfsT11='false' "
           f"restrictToRequestBBOX='0' srsname='EPSG:5897' typename='{typename}' "
           f"url='{spp.base}/wfs' version='{version}'")
    if page:
        uri += f" pageSize='{page}'"
    lyr = QgsVectorLayer(uri, typename, "WFS")
    assert lyr.isValid(), lyr.error().summary()
    return lyr


def qvariant_kind(t):
    return {QVariant.Int: "int", QVariant.LongLong: "int", QVariant.Double: "real",
            QVariant.String: "text"}.get(t, t)


def ogr_kind(t):
    from osgeo import ogr
    return {ogr.OFTInteger: "int", ogr.OFTInteger64: "int", ogr.OFTReal: "real",
            ogr.OFTString: "text"}.get(t, t)


def check_parcels(lyr, source, fields=PARCEL_FIELDS):
    assert lyr.featureCount() == ogr_count(source, "cadastral_parcels")
    src = source.GetLayerByName("cadastral_parcels").GetLayerDefn()
    for name in fields:
        f = lyr.fields().field(name)
        assert qvariant_kind(f.type()) == ogr_kind(src.GetFieldDefn(src.GetFieldIndex(name))
                                                   .GetType()), name
    want = [r for _, r in ogr_rows(source, "cadastral_parcels", fields)]
    got = []
    for f in lyr.getFeatures():
        got.append({k: f[k] for k in fields})
    assert sorted(got, key=lambda r: r["parcel_key"]) == sorted(want,
                                                                 key=lambda r: r["parcel_key"])


# ---- vector services ----

@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
def test_qgis_wfs_counts_values_paging(qgs, spp, source, version):
    lyr = wfs_layer(spp, version, page=45)  # 300 parcels in 7 pages
    check_parcels(lyr, source)
    # hits: QGIS knows the count without downloading when the server advertises it
    fresh = wfs_layer(spp, version)
    assert fresh.dataProvider().featureCount() == ogr_count(source, "cadastral_parcels")
    # an expression QGIS turns into a server-side filter
    req = QgsFeatureRequest().setFilterExpression('"sheet_no" = 3 AND "area_m2" > 1400')
    got = sorted(f["parcel_key"] for f in lyr.getFeatures(req))
    want = sorted(r["parcel_key"] for _, r in ogr_rows(source, "cadastral_parcels",
                                                       ["parcel_key"],
                                                       "sheet_no = 3 AND area_m2 > 1400"))
    assert want and got == want


@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
def test_qgis_wfs_roads_are_lines(qgs, spp, source, version):
    lyr = wfs_layer(spp, version, "spp:roads")
    from qgis.core import QgsWkbTypes
    assert QgsWkbTypes.geometryType(lyr.wkbType()) == QgsWkbTypes.LineGeometry
    assert lyr.featureCount() == ogr_count(source, "roads")
    names = sorted(f["name"] for f in lyr.getFeatures())
    assert names == sorted(r["name"] for _, r in ogr_rows(source, "roads", ["name"]))


def test_qgis_wfs11_knows_the_count_before_download(qgs, spp, source):
    """Issue 17 point 2: QGIS asks a WFS 1.1.0 server for resultType=hits only when its
    capabilities list it; without, the layer's count is unknown until everything is read."""
    lyr = wfs_layer(spp, "1.1.0")
    caps = lyr.dataProvider()
    assert caps.featureCount() == ogr_count(source, "cadastral_parcels")


def test_qgis_oapif(qgs, spp, source):
    lyr = QgsVectorLayer(f"url='{spp.base}' typename='cadastral_parcels' pageSize='70'",
                         "parcels", "OAPIF")
    assert lyr.isValid(), lyr.error().summary()
    check_parcels(lyr, source)


# ---- rendering, compared with spp's GetMap ----

def render(layers, extent, crs="EPSG:5897", size=(400, 225)):
    ms = QgsMapSettings()
    ms.setLayers(layers)
    ms.setDestinationCrs(QgsCoordinateReferenceSystem(crs))
    ms.setExtent(QgsRectangle(*extent))
    ms.setOutputSize(QSize(*size))
    ms.setBackgroundColor(QColor(0, 0, 0, 0))
    ms.setOutputDpi(96)
    job = QgsMapRendererParallelJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    path = tempfile.mktemp(suffix=".png")
    assert img.save(path, "PNG")
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return decode_image(data), ms.visibleExtent()


def spp_getmap(spp, layer, ext, size):
    status, _, body = spp.get(
        f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&STYLES=&CRS=EPSG:5897"
        f"&BBOX={ext.xMinimum()},{ext.yMinimum()},{ext.xMaximum()},{ext.yMaximum()}"
        f"&WIDTH={size[0]}&HEIGHT={size[1]}&FORMAT=image/png&TRANSPARENT=TRUE")
    assert status == 200
    return decode_image(body)


def padded_extent(source, layer, pad=60):
    minx, miny, maxx, maxy = ogr_extent(source, layer)
    return minx - pad, miny - pad, maxx + pad, maxy + pad


def wms_layer(spp, layer, version=None):
    uri = (f"contextualWMSLegend=0&crs=EPSG:5897&dpiMode=7&featureCount=10&format=image/png"
           f"&layers={layer}&styles=&url={spp.base}/wms")
    lyr = QgsRasterLayer(uri, layer, "wms")
    assert lyr.isValid(), lyr.error().summary()
    return lyr


@pytest.mark.parametrize("kind", ["wms", "wfs11", "wfs20", "oapif", "xyz", "vectortile"])
def test_qgis_renders_like_spp_getmap(qgs, spp, source, kind):
    ext = padded_extent(source, "cadastral_parcels")
    size = (400, 240)
    if kind == "wms":
        lyr = wms_layer(spp, "cadastral_parcels")
    elif kind.startswith("wfs"):
        lyr = wfs_layer(spp, "1.1.0" if kind == "wfs11" else "2.0.0")
    elif kind == "oapif":
        lyr = QgsVectorLayer(f"url='{spp.base}' typename='cadastral_parcels'", "p", "OAPIF")
    elif kind == "xyz":
        lyr = QgsRasterLayer(f"type=xyz&url={spp.base}/tiles/cadastral_parcels/{{z}}/{{x}}/{{y}}"
                             ".png&zmin=0&zmax=20", "xyz", "wms")
    else:
        lyr = vector_tile_layer(spp, "cadastral_parcels")
    assert lyr.isValid()
    img, visible = render([lyr], ext, size=size)
    want = spp_getmap(spp, "cadastral_parcels", visible, size)
    a, b = ink(img), ink(want)
    assert a.mean() > 0.2, f"{kind}: QGIS drew nothing"
    assert iou(a, b) > (0.97 if kind == "wms" else 0.85), kind


def vector_tile_layer(spp, layers):
    lyr = QgsVectorTileLayer(f"type=xyz&url={spp.base}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt"
                             "&zmin=0&zmax=20", layers)
    status, _, body = spp.get(f"/styles/{layers}.json")
    assert status == 200
    style = json.loads(body)
    # the style's background layer paints the whole map; the WMS compared with has none
    style["layers"] = [lyr_ for lyr_ in style["layers"] if lyr_["type"] != "background"]
    conv = QgsMapBoxGlStyleConverter()
    assert conv.convert(style) == QgsMapBoxGlStyleConverter.Success, conv.errorMessage()
    lyr.setRenderer(conv.renderer())
    if conv.labeling():
        lyr.setLabeling(conv.labeling())
    return lyr


@pytest.mark.parametrize("layer", ["roads", "public_facilities"])
@pytest.mark.parametrize("kind", ["wms", "wfs11", "wfs20", "oapif"])
def test_qgis_renders_lines_and_points_where_spp_does(qgs, spp, source, kind, layer):
    """Lines and points: QGIS's default symbols are not spp's SLD, so the drawn pixels are
    compared loosely: each side's pixels lie within a few pixels of the other's."""
    # points at about 1:36 000: their markers draw, their labels (below 1:8 531) do not; QGIS's
    # default style has no labels
    ext = padded_extent(source, "cadastral_parcels", 1000 if layer == "public_facilities" else 60)
    size = (400, 240)
    if kind == "wms":
        lyr = wms_layer(spp, layer)
    elif kind == "oapif":
        lyr = QgsVectorLayer(f"url='{spp.base}' typename='{layer}'", layer, "OAPIF")
    else:
        lyr = wfs_layer(spp, "1.1.0" if kind == "wfs11" else "2.0.0", f"spp:{layer}")
    assert lyr.isValid()
    img, visible = render([lyr], ext, size=size)
    a, b = ink(img), ink(spp_getmap(spp, layer, visible, size))
    if kind == "wms":
        # QGIS asks a WMS only for the part of the view inside the layer's advertised extent
        # (the data's box): markers on its edge come back cut there. Compare inside it.
        minx, miny, maxx, maxy = ogr_extent(source, layer)
        px = size[0] / visible.width()
        c0, c1 = int((minx - visible.xMinimum()) * px), int((maxx - visible.xMinimum()) * px)
        r0, r1 = int((visible.yMaximum() - maxy) * px), int((visible.yMaximum() - miny) * px)
        a, b = a[r0:r1, c0:c1], b[r0:r1, c0:c1]
    assert a.sum() > 50 and b.sum() > 50
    r = 2 if kind == "wms" else 8  # symbol sizes and line widths differ outside WMS
    assert near(a, b, r) > 0.95 and near(b, a, r) > 0.9, (kind, layer)


# ---- identify ----

def test_qgis_identify_wms_and_wfs(qgs, spp, source):
    fid, row = ogr_rows(source, "cadastral_parcels", PARCEL_FIELDS)[123]
    from conftest import ogr_geom
    c = ogr_geom(source, "cadastral_parcels", fid).Centroid()
    pt = QgsPointXY(c.GetX(), c.GetY())
    lyr = wms_layer(spp, "cadastral_parcels")
    ext = QgsRectangle(pt.x() - 100, pt.y() - 100, pt.x() + 100, pt.y() + 100)
    res = lyr.dataProvider().identify(pt, QgsRaster.IdentifyFormatFeature, ext, 201, 201)
    assert res.isValid(), res.error().summary()
    found = []
    for v in res.results().values():
        for store in v:
            for f in store.features():
                found.append(f)
    assert len(found) == 1
    f = found[0]
    for k in PARCEL_FIELDS:
        # QGIS types GetFeatureInfo GML values by guessing from the text (no schema): a key of
        # digits comes back as a number, so numbers are compared as numbers
        got, want = f[k], row[k]
        if isinstance(got, (int, float)) and isinstance(want, str):
            got, want = float(got), float(want)
        assert got == want, k
    # a WFS layer answers the same point with the same parcel
    wfs = wfs_layer(spp, "2.0.0")
    req = QgsFeatureRequest().setFilterRect(QgsRectangle(pt.x() - 0.5, pt.y() - 0.5,
                                                         pt.x() + 0.5, pt.y() + 0.5))
    hits = [f for f in wfs.getFeatures(req) if f.geometry().contains(pt)]
    assert [h["parcel_key"] for h in hits] == [row["parcel_key"]]
