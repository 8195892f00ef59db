# SPDX-License-Identifier: MIT
"""Issue 20: QGIS 3.22 headless edits a layer through WFS-T (1.1.0 and 2.0.0): start editing,
add, move and delete features, commit; the result is read back through WFS (a fresh layer) and
a vector tile whose bytes change right after the commit. The key is the connection's password
(HTTP Basic): QGIS posts a Transaction to the capabilities' URL, without a ?key= of its own; for a
2.0.0 layer QGIS 3.22 sends a WFS 1.0.0 Transaction (GML 2), which spp accepts. QGIS 3.22's OGC API Features provider
is read-only (its capabilities have no AddFeatures), checked here too: Part 4 is tested over
plain HTTP in tests/integration/test_edit_ogcapi.py."""
import json
import math
import os
import tempfile
import urllib.request

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))
qgis_core = pytest.importorskip("qgis.core", reason="python3-qgis is not installed")  # noqa

from qgis.core import (QgsApplication, QgsFeature, QgsGeometry,  # noqa: E402
                       QgsVectorDataProvider, QgsVectorLayer)

from conftest import Server, run_spp  # noqa: E402

LAYER = "land_use_current"


@pytest.fixture(scope="module")
def qgs():
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    yield app


@pytest.fixture(scope="module")
def edit_spp(workdir):
    db = os.path.join(workdir, "qgis-edit.sqlite")
    for suffix in ("", "-wal", "-shm", ".tiles"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    run_spp("init", "--db", db)
    s = Server(db, workdir)
    s.db = db
    s.editor = run_spp("keys", "--db", db, "add", "--role", "editor", "--name",
                       "qgis editor").stdout.split()[0]
    s.planner = run_spp("keys", "--db", db, "add", "--role", "planner", "--name",
                        "qgis planner").stdout.split()[0]
    yield s
    s.stop()


def wfs_layer(s, version, key):
    uri = (f"pagingEnabled='false' preferCoordinatesForWfsT11='false' restrictToRequestBBOX='0'"
           f" srsname='EPSG:5897' typename='spp:{LAYER}' url='{s.base}/wfs' username='qgis'"
           f" password='{key}'"
           f" version='{version}'")
    lyr = QgsVectorLayer(uri, LAYER, "WFS")
    assert lyr.isValid(), lyr.error().summary()
    return lyr


def square(x, y, d=100):
    return QgsGeometry.fromWkt(
        f"MULTIPOLYGON((({x} {y},{x + d} {y},{x + d} {y + d},{x} {y + d},{x} {y})))")


def tile_at(s, x, y, z=16):
    from osgeo import osr
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(5897)
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(src, dst).TransformPoint(x, y)
    n = 2 ** z
    tx = int((lon + 180) / 360 * n)
    ty = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    with urllib.request.urlopen(f"{s.base}/tiles/{LAYER}/{z}/{tx}/{ty}.mvt") as r:
        return r.read()


def wfs_rows(s, version="2.0.0"):
    url = (f"{s.base}/wfs?service=WFS&version={version}&request=GetFeature&typeNames=spp:{LAYER}"
           "&outputFormat=application/json")
    with urllib.request.urlopen(url) as r:
        return {f["id"]: f for f in json.load(r)["features"]}


@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
def test_qgis_wfst_add_move_delete(qgs, edit_spp, version):
    s = edit_spp
    x0 = 586000 + (0 if version == "1.1.0" else 2000)
    lyr = wfs_layer(s, version, s.editor)
    caps = lyr.dataProvider().capabilities()
    assert caps & QgsVectorDataProvider.AddFeatures
    assert caps & QgsVectorDataProvider.ChangeGeometries
    assert caps & QgsVectorDataProvider.DeleteFeatures
    before_tile = tile_at(s, x0 + 50, 1109650)
    # add two features
    assert lyr.startEditing()
    feats = []
    for i, code in enumerate(["ODT", "Đất trồng lúa"]):
        f = QgsFeature(lyr.fields())
        f.setAttribute("lu_code", code)
        f.setAttribute("inventory_year", 2024)
        f.setGeometry(square(x0 + 300 * i, 1109600))
        feats.append(f)
    assert lyr.addFeatures(feats)
    assert lyr.commitChanges(), lyr.commitErrors()
    rows = {f["properties"]["lu_code"]: f for f in wfs_rows(s).values()
            if f["properties"]["inventory_year"] == 2024}
    assert {"ODT", "LUA"} <= set(rows)  # the name went through the code list
    after_tile = tile_at(s, x0 + 50, 1109650)
    assert after_tile != before_tile  # the tile follows the insert at once
    # move one, delete the other, through a fresh layer (ids as the server gave them)
    lyr = wfs_layer(s, version, s.editor)
    by_code = {f["lu_code"]: f for f in lyr.getFeatures()
               if f["inventory_year"] == 2024 and f.geometry().boundingBox().xMinimum() >= x0 - 1
               and f.geometry().boundingBox().xMinimum() < x0 + 1000}
    assert set(by_code) == {"ODT", "LUA"}, list(by_code)
    assert lyr.startEditing()
    assert lyr.changeGeometry(by_code["ODT"].id(), square(x0 + 20, 1109620, 60))
    assert lyr.changeAttributeValue(by_code["ODT"].id(), lyr.fields().indexOf("note"), "moved")
    assert lyr.deleteFeature(by_code["LUA"].id())
    assert lyr.commitChanges(), lyr.commitErrors()
    # read back through WFS (a new GetFeature: QGIS's own layers share one cache per URI)
    from owslib.wfs import WebFeatureService
    wfs = WebFeatureService(s.base + "/wfs", version=version)
    r = wfs.getfeature(typename=[f"spp:{LAYER}"], outputFormat="application/json")
    got = []
    for f in json.loads(r.read())["features"]:
        xs = [p[0] for p in f["geometry"]["coordinates"][0][0]]
        if f["properties"]["inventory_year"] == 2024 and x0 - 1 <= min(xs) < x0 + 1000:
            got.append(f)
    assert [f["properties"]["lu_code"] for f in got] == ["ODT"]
    assert got[0]["properties"]["note"] == "moved"
    xs = [p[0] for p in got[0]["geometry"]["coordinates"][0][0]]
    assert abs(min(xs) - (x0 + 20)) < 0.01 and abs(max(xs) - min(xs) - 60) < 0.01
    assert tile_at(s, x0 + 50, 1109650) != after_tile
    fid = got[0]["id"].rsplit(".", 1)[1]
    out = run_spp("history", "--db", s.db, LAYER, fid).stdout
    assert "WFS-T" in out


def test_qgis_wfst_refused_for_a_planner(qgs, edit_spp):
    lyr = wfs_layer(edit_spp, "2.0.0", edit_spp.planner)
    assert lyr.startEditing()
    f = QgsFeature(lyr.fields())
    f.setAttribute("lu_code", "ODT")
    f.setGeometry(square(590000, 1109600))
    assert lyr.addFeatures([f])
    assert not lyr.commitChanges()
    lyr.rollBack()
    assert not [r for r in wfs_rows(edit_spp).values()
                if r["geometry"] and r["properties"]["lu_code"] == "ODT"
                and r["properties"]["inventory_year"] is None]


def test_qgis_322_oapif_is_read_only(qgs, edit_spp):
    uri = f"url='{edit_spp.base}' typename='{LAYER}'"
    lyr = QgsVectorLayer(uri, LAYER, "OAPIF")
    assert lyr.isValid(), lyr.error().summary()
    assert not lyr.dataProvider().capabilities() & QgsVectorDataProvider.AddFeatures


def test_qgis_wfst_on_a_postgis_replica(qgs, workdir):
    """The same QGIS edit session against a replica on PostGIS (issue 24): add, move, commit;
    read back through WFS, logged in the database's change log."""
    from pg_fixture import Cluster
    c = Cluster()
    old = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = c.password
    s = None
    try:
        uri = c.new_db("qgis_edit")
        run_spp("init", "--db", uri)
        key = run_spp("keys", "--db", uri, "add", "--role", "editor", "--name",
                      "qgis pg editor").stdout.split()[0]
        s = Server(uri, workdir)
        lyr = wfs_layer(s, "2.0.0", key)
        assert lyr.dataProvider().capabilities() & QgsVectorDataProvider.AddFeatures
        assert lyr.startEditing()
        f = QgsFeature(lyr.fields())
        f.setAttribute("lu_code", "ODT")
        f.setAttribute("inventory_year", 2025)
        f.setGeometry(square(586000, 1109600))
        assert lyr.addFeatures([f])
        assert lyr.commitChanges(), lyr.commitErrors()
        lyr = wfs_layer(s, "2.0.0", key)
        (got,) = list(lyr.getFeatures())
        assert lyr.startEditing()
        assert lyr.changeGeometry(got.id(), square(586020, 1109620, 60))
        assert lyr.commitChanges(), lyr.commitErrors()
        (row,) = wfs_rows(s).values()
        xs = [p[0] for p in row["geometry"]["coordinates"][0][0]]
        assert abs(min(xs) - 586020) < 0.01 and row["properties"]["lu_code"] == "ODT"
        out = run_spp("history", "--db", uri, LAYER, row["id"].rsplit(".", 1)[1]).stdout
        assert out.count("WFS-T") == 2 and "insert" in out and "update" in out
    finally:
        if s:
            s.stop()
        if old is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = old
        c.clean()
