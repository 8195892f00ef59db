# SPDX-License-Identifier: MIT
"""Interop suite: spp driven by the clients planners and web maps really use (OWSLib, GDAL/OGR,
QGIS through PyQGIS, MapLibre/Leaflet/OpenLayers in Chromium), never by hand-written HTTP.

One store (tests/integration/features_fixture.py: parcels, roads, public facilities, permits in
EPSG:5897 with Vietnamese text) and one `spp serve` per session. Expected values come from the
store file read with OGR, never from typed-in numbers. Run with Debian's /usr/bin/python3."""
import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), "integration")


def _load_integration_harness():
    """tests/integration/conftest.py (Server, run_spp, spatialite) under its own module name:
    this file is the `conftest` module of this directory."""
    spec = importlib.util.spec_from_file_location("spp_integration_harness",
                                                  os.path.join(INTEGRATION, "conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_h = _load_integration_harness()
ROOT, SPP, Server, run_spp, spatialite = _h.ROOT, _h.SPP, _h.Server, _h.run_spp, _h.spatialite
free_port = _h.free_port  # for tests/integration/pg_fixture.py (a PostGIS case in test_qgis_edit)
sys.path.insert(0, INTEGRATION)
import features_fixture  # noqa: E402  (imports run_spp and spatialite from this module)

from osgeo import gdal, ogr, osr  # noqa: E402

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()
# GDAL's HTTP clients: no proxy for the local server, no on-disk cache between runs
gdal.SetConfigOption("GDAL_HTTP_TIMEOUT", "60")
gdal.SetConfigOption("GDAL_DEFAULT_WMS_CACHE_PATH", "/vsimem/wmscache")
gdal.SetConfigOption("OGR_WFS_LOAD_MULTIPLE_LAYER_DEFN", "NO")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

__all__ = ["ROOT", "SPP", "run_spp", "spatialite"]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("interop"))


@pytest.fixture(scope="session")
def store(workdir):
    path = os.path.join(workdir, "interop.sqlite")
    features_fixture.build(path)
    return path


@pytest.fixture(scope="session")
def spp(store, workdir):
    s = Server(store, workdir)
    s.store = store
    yield s
    s.stop()


@pytest.fixture(scope="session")
def source(store):
    """OGR on the store file itself: the truth every answer is compared with."""
    ds = ogr.Open(store)
    yield ds
    ds = None


def ogr_rows(ds, layer, fields, where=None, order="fid"):
    """[(fid, {field: value})] of a store layer through OGR's SQLite driver."""
    sql = f'SELECT fid, {", ".join(fields)} FROM "{layer}"'
    if where:
        sql += f" WHERE {where}"
    sql += f" ORDER BY {order}"
    lyr = ds.ExecuteSQL(sql)
    try:
        return [(f.GetField("fid"), {k: f.GetField(k) for k in fields}) for f in lyr]
    finally:
        ds.ReleaseResultSet(lyr)


def ogr_geom(ds, layer, fid):
    """The geometry of one feature (a copy: it outlives the feature)."""
    f = ds.GetLayerByName(layer).GetFeature(fid)
    return f.GetGeometryRef().Clone()


def ogr_count(ds, layer, where=None):
    sql = f'SELECT count(*) FROM "{layer}"' + (f" WHERE {where}" if where else "")
    lyr = ds.ExecuteSQL(sql)
    try:
        return lyr.GetNextFeature().GetField(0)
    finally:
        ds.ReleaseResultSet(lyr)


def ogr_extent(ds, layer):
    """(minx, miny, maxx, maxy) of a store layer in the storage CRS (EPSG:5897)."""
    e = ds.GetLayerByName(layer).GetExtent()
    return e[0], e[2], e[1], e[3]


# EPSG:5897 with the official Decision 05/2007 parameters (EPSG:6960), as DESIGN.md requires
VN2000 = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
          "+towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,"
          "0.00427372,0.252906278 +units=m +no_defs")


def to_wgs84(x, y):
    """lon, lat of a storage-CRS point through the EPSG:6960 parameters (PROJ, not spp)."""
    src = osr.SpatialReference()
    src.SetFromUserInput(VN2000)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(src, dst).TransformPoint(x, y)
    return lon, lat


def decode_image(data):
    """(bands, height, width) uint8 array of a PNG/JPEG/WebP through GDAL."""
    path = f"/vsimem/img-{id(data)}-{len(data)}"
    gdal.FileFromMemBuffer(path, data)
    try:
        ds = gdal.Open(path)
        return ds.ReadAsArray()
    finally:
        gdal.Unlink(path)


def ink(arr):
    """Mask of drawn pixels: alpha > 0 for RGBA, not white for RGB."""
    if arr.shape[0] == 4:
        return arr[3] > 0
    return (arr[:3] < 250).any(axis=0)


def dilate(m, r):
    """m grown by r pixels (square neighbourhood)."""
    import numpy as np
    out = m.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(m, dy, axis=0), dx, axis=1)
    return out


def near(a, b, r=3):
    """Share of a's drawn pixels within r pixels of b's (1 when a draws nothing)."""
    n = a.sum()
    return 1.0 if n == 0 else (a & dilate(b, r)).sum() / n


def iou(a, b):
    inter = (a & b).sum()
    union = (a | b).sum()
    return 1.0 if union == 0 else inter / union


@pytest.fixture(scope="session", autouse=True)
def sanitizer_reports(workdir):
    """Under SPP_SANITIZED=1 (an ASan build in SPP_BIN), a sanitizer report in the server's log
    fails the run, as in tests/integration."""
    yield
    if not os.environ.get("SPP_SANITIZED"):
        return
    bad = []
    for name in sorted(os.listdir(workdir)):
        if name.endswith(".log"):
            with open(os.path.join(workdir, name), errors="replace") as f:
                text = f.read()
            if any(m in text for m in _h.SANITIZER_MARKS):
                bad.append(f"{name}:\n{text[-4000:]}")
    assert not bad, "sanitizer reports in server logs:\n" + "\n".join(bad)
