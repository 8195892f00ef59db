# SPDX-License-Identifier: MIT
"""An import you can trust (issue 16, points 1, 9, 10), on messy files written here the way a city
hands them over: a .dbf cut off in the middle by a broken USB copy, a parcel file without a
commune column, a layer half the size it was. Nothing is lost silently: a failed source or a
refused shrink leaves every row of the store as it was (compared row by row with sqlite3 +
mod_spatialite) and exits 1; --set / "defaults" and admin_units give the commune; an unchanged
re-import changes no tile cell and a one-feature edit only that feature's cells (spp_changes and
the tile cache over HTTP); the report has its summary first, in Vietnamese or English, and a
report.json with the same content."""
import json
import math
import os
import shutil
import sqlite3
import subprocess

from osgeo import ogr, osr

from conftest import SPP, Server, run_spp, spatialite

ogr.UseExceptions()
osr.UseExceptions()

CELL = 500.0
# the official VN-2000 TM-3 105 -> WGS 84 parameters (EPSG:6960), as test_tiles.py writes them
VN2000_TM3_105 = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84"
                  " +towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,"
                  "0.00427372,0.252906278 +units=m +no_defs")
HALF = 20037508.342789244


# ---- files as a city hands them over ----

def srs5897():
    s = osr.SpatialReference()
    s.ImportFromEPSG(5897)
    return s


def write_shp(path, geom_type, fields, rows, prj=True):
    """rows: [(wkt, {FIELD: value})]; fields: [(NAME, ogr type, width)]."""
    drv = ogr.GetDriverByName("ESRI Shapefile")
    if os.path.exists(path):
        drv.DeleteDataSource(path)
    ds = drv.CreateDataSource(path)
    lyr = ds.CreateLayer(os.path.splitext(os.path.basename(path))[0], srs5897() if prj else None,
                         geom_type)
    for name, t, w in fields:
        fd = ogr.FieldDefn(name, t)
        if w:
            fd.SetWidth(w)
        lyr.CreateField(fd)
    for wkt, vals in rows:
        f = ogr.Feature(lyr.GetLayerDefn())
        for k, v in vals.items():
            f.SetField(k, v)
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(f)
    ds = None
    return path


def road_rows(n=20, edit=None):
    rows = []
    for i in range(n):
        x = 584000 + i * 300
        y = 1108000 + (i % 4) * 600
        wkt = f"LINESTRING ({x} {y}, {x + 120} {y + 150})"
        vals = {"MADUONG": f"D{i + 1:03d}", "TENDUONG": f"Duong so {i + 1}",
                "LOAIDUONG": ("hem", "khu_vuc", "noi_bo")[i % 3]}
        if edit:
            wkt, vals = edit(i, wkt, vals)
        rows.append((wkt, vals))
    return rows


ROAD_FIELDS = [("MADUONG", ogr.OFTString, 10), ("TENDUONG", ogr.OFTString, 40),
               ("LOAIDUONG", ogr.OFTString, 20)]


def write_roads(path, n=20, edit=None):
    return write_shp(path, ogr.wkbLineString, ROAD_FIELDS, road_rows(n, edit))


COMMUNES = [("31117", "Phường Tân An", 583000, 587000), ("31135", "Phường Cái Khế", 587000, 591000)]


def write_admin(path):
    rows = [(f"POLYGON (({x0} 1107000, {x1} 1107000, {x1} 1111000, {x0} 1111000, {x0} 1107000))",
             {"MA": code, "TEN": name, "CAP": 3}) for code, name, x0, x1 in COMMUNES]
    return write_shp(path, ogr.wkbPolygon, [("MA", ogr.OFTString, 10), ("TEN", ogr.OFTString, 60),
                                            ("CAP", ogr.OFTInteger, 0)], rows)


def parcel_rows(with_commune):
    """10 parcels in each commune; sheet 3, parcel numbers 1..20."""
    rows = []
    for i in range(20):
        x = (584000 if i < 10 else 588000) + (i % 10) * 50
        y = 1108500
        vals = {"SOTO": 3, "SOTHUA": i + 1, "LOAIDAT": "ODT"}
        if with_commune:
            vals["MAXA"] = "31117" if i < 10 else "31135"
        rows.append((f"POLYGON (({x} {y}, {x + 40} {y}, {x + 40} {y + 40}, {x} {y + 40}, {x} {y}))",
                     vals))
    return rows


def write_parcels(path, with_commune=True):
    fields = [("SOTO", ogr.OFTInteger, 0), ("SOTHUA", ogr.OFTInteger, 0), ("LOAIDAT", ogr.OFTString, 20)]
    if with_commune:
        fields.append(("MAXA", ogr.OFTString, 10))
    return write_shp(path, ogr.wkbPolygon, fields, parcel_rows(with_commune))


def truncate_dbf(src_shp, dst_dir, keep):
    """Copies a shapefile and cuts its .dbf off in the middle of record keep + 1, as a copy
    from a USB stick that broke off does."""
    os.makedirs(dst_dir, exist_ok=True)
    stem = os.path.splitext(src_shp)[0]
    base = os.path.basename(stem)
    for ext in (".shp", ".shx", ".dbf", ".prj"):
        shutil.copy(stem + ext, os.path.join(dst_dir, base + ext))
    dbf = os.path.join(dst_dir, base + ".dbf")
    with open(dbf, "rb") as f:
        b = f.read()
    hlen = int.from_bytes(b[8:10], "little")
    rlen = int.from_bytes(b[10:12], "little")
    with open(dbf, "wb") as f:
        f.write(b[:hlen + rlen * keep + rlen // 2])
    return os.path.join(dst_dir, base + ".shp")


def manifest(path, sources, **top):
    m = {"batch": top.pop("batch", "trust"), "sources": sources, **top}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(m, f, ensure_ascii=False)
    return path


# ---- the store, row by row ----

def dump(db, layer):
    """Every row of a layer (every column, geometry as WKB) and its spp_layers row."""
    con = spatialite(db)
    cols = [r[1] for r in con.execute(f'PRAGMA table_info("{layer}")') if r[1] != "geom"]
    sel = ", ".join(f'"{c}"' for c in cols)
    rows = con.execute(f'SELECT {sel}, AsBinary(geom) FROM "{layer}" ORDER BY fid').fetchall()
    state = con.execute("SELECT * FROM spp_layers WHERE layer = ?", (layer,)).fetchall()
    imports = con.execute("SELECT batch FROM spp_imports ORDER BY batch").fetchall()
    changes = con.execute("SELECT count(*) FROM spp_changes").fetchone()
    con.close()
    return rows, state, imports, changes


def imp(*args, env=None):
    p = subprocess.run([SPP, "import", *args, "--quiet"], capture_output=True, text=True, env=env)
    return p


def read_report(d):
    with open(os.path.join(d, "report.json"), encoding="utf-8") as f:
        js = json.load(f)
    with open(os.path.join(d, "report.html"), encoding="utf-8") as f:
        html = f.read()
    return js, html


# ---- point 1: no silent loss ----

def test_truncated_dbf_reimport_leaves_the_layer_exactly_as_it_was(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "good")
    good = write_roads(str(tmp_path / "good" / "tim_duong.shp"))
    p = imp("--db", db, "--layer", "roads", good)
    assert p.returncode == 0, p.stderr
    before = dump(db, "roads")
    assert len(before[0]) == 20
    # GDAL itself reads the first 11 records of the cut-off file and then stops: what the old
    # importer silently stored
    bad = truncate_dbf(good, str(tmp_path / "usb"), 11)
    ds = ogr.Open(bad)
    n = 0
    try:
        for _ in ds.GetLayer(0):
            n += 1
    except RuntimeError:
        pass
    assert n == 11
    rep = str(tmp_path / "rep")
    p = imp("--db", db, "--layer", "roads", bad, "--report", rep)
    assert p.returncode == 1
    assert "tim_duong.shp" in p.stderr and "20 records" in p.stderr and "cut off" in p.stderr
    assert dump(db, "roads") == before
    js, html = read_report(rep)
    assert js["ok"] is False and js["summary"]["status"] == "failed"
    assert js["summary"]["exit_code"] == 1 and js["summary"]["store_changed"] is False
    assert [f["file"] for f in js["summary"]["failed"]] == [bad]
    assert "cut off" in js["summary"]["failed"][0]["error"]
    assert "cut off" in html
    # spp check still agrees with the catalog
    assert run_spp("check", "--db", db, check=False).returncode == 0


def test_truncated_shp_and_mismatched_shx_fail(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "a")
    good = write_roads(str(tmp_path / "a" / "duong.shp"))
    assert imp("--db", db, "--layer", "roads", good).returncode == 0
    before = dump(db, "roads")
    # the .shp cut off (its .shx still indexes 20 shapes)
    d = tmp_path / "b"
    shutil.copytree(tmp_path / "a", d)
    shp = d / "duong.shp"
    data = shp.read_bytes()
    shp.write_bytes(data[:len(data) - 100])
    p = imp("--db", db, "--layer", "roads", str(shp))
    assert p.returncode == 1 and "cut off" in p.stderr, p.stderr
    # a .dbf from another export (12 records) beside the 20-shape .shp/.shx
    d2 = tmp_path / "c"
    os.makedirs(d2)
    write_roads(str(d2 / "duong.shp"), n=12)
    for ext in (".shp", ".shx", ".prj"):
        shutil.copy(tmp_path / "a" / ("duong" + ext), d2 / ("duong" + ext))
    p = imp("--db", db, "--layer", "roads", str(d2 / "duong.shp"))
    assert p.returncode == 1 and ".shx indexes 20 shapes" in p.stderr, p.stderr
    assert dump(db, "roads") == before


def test_gdal_read_error_mid_file_fails_the_source(tmp_path):
    # a MapInfo MIF/MID pair whose .mid breaks off after 11 records: no header to compare, GDAL
    # reports an error while reading, and that error fails the source
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "good")
    good = str(tmp_path / "good" / "duong.mif")
    ds = ogr.GetDriverByName("MapInfo File").CreateDataSource(good, options=["FORMAT=MIF"])
    lyr = ds.CreateLayer("duong", srs5897(), ogr.wkbLineString)
    for name, t, w in ROAD_FIELDS:
        fd = ogr.FieldDefn(name, t)
        fd.SetWidth(w)
        lyr.CreateField(fd)
    for wkt, vals in road_rows():
        f = ogr.Feature(lyr.GetLayerDefn())
        for k, v in vals.items():
            f.SetField(k, v)
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(f)
    ds = None
    assert imp("--db", db, "--layer", "roads", good).returncode == 0
    before = dump(db, "roads")
    assert len(before[0]) == 20
    shutil.copytree(tmp_path / "good", tmp_path / "usb")
    mid = tmp_path / "usb" / "duong.mid"
    lines = mid.read_text().splitlines()
    mid.write_text("\n".join(lines[:11]) + '\n"D0')
    p = imp("--db", db, "--layer", "roads", str(tmp_path / "usb" / "duong.mif"))
    assert p.returncode == 1 and "read error after record 11" in p.stderr, p.stderr
    assert dump(db, "roads") == before


def test_one_failed_source_fails_the_whole_batch(tmp_path):
    # a batch is one transaction: a good layer in the same batch is not written either
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    good = write_roads(str(tmp_path / "src" / "tim_duong.shp"))
    write_admin(str(tmp_path / "src" / "xa.shp"))
    assert imp("--db", db, "--layer", "roads", good).returncode == 0
    before_roads, before_admin = dump(db, "roads"), dump(db, "admin_units")
    truncate_dbf(good, str(tmp_path / "src" / "usb"), 7)
    m = manifest(str(tmp_path / "src" / "m.json"), [
        {"path": "xa.shp", "layer": "admin_units"},
        {"path": "usb/tim_duong.shp", "layer": "roads"}])
    p = imp("--db", db, "--manifest", m)
    assert p.returncode == 1
    assert dump(db, "roads") == before_roads and dump(db, "admin_units") == before_admin


MISSING_COMMUNE = ('commune_code is missing: give it with --set commune_code=31135, a manifest '
                   '"defaults", or import admin_units first')


def test_parcels_without_commune_column_refused_with_the_real_cause(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    good = write_parcels(str(tmp_path / "src" / "thua_dat.shp"), with_commune=True)
    assert imp("--db", db, "--layer", "cadastral_parcels", good).returncode == 0
    before = dump(db, "cadastral_parcels")
    assert len(before[0]) == 20
    bad = write_parcels(str(tmp_path / "src" / "thua_dat_moi.shp"), with_commune=False)
    rep = str(tmp_path / "rep")
    p = imp("--db", db, "--layer", "cadastral_parcels", bad, "--report", rep)
    assert p.returncode == 1
    assert MISSING_COMMUNE in p.stderr and "refused" in p.stderr
    assert "parcel_key" not in p.stderr
    assert dump(db, "cadastral_parcels") == before
    js, html = read_report(rep)
    ref = js["summary"]["refused"]
    assert [r["layer"] for r in ref] == ["cadastral_parcels"]
    assert ref[0]["features_before"] == 20 and ref[0]["features_after"] == 0
    assert MISSING_COMMUNE in ref[0]["reason"]
    src = js["layers"]["cadastral_parcels"]["sources"][0]
    assert src["rejected"] == 20 and all(r["reason"] == MISSING_COMMUNE for r in src["rejects"])
    assert "refused" in html and "commune_code is missing" in html


def test_parcels_into_an_empty_layer_rejected_with_the_real_cause_exit_3(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    bad = write_parcels(str(tmp_path / "src" / "thua_dat.shp"), with_commune=False)
    rep = str(tmp_path / "rep")
    p = imp("--db", db, "--layer", "cadastral_parcels", bad, "--report", rep)
    # nothing to lose (the layer was empty): done, with every feature rejected -> 3
    assert p.returncode == 3, p.stderr
    # the terminal says why, without opening the report
    assert f"20 features rejected, the first: {bad} row 1: {MISSING_COMMUNE}" in p.stderr
    js, _ = read_report(rep)
    assert js["summary"]["exit_code"] == 3 and js["summary"]["status"] == "done_with_rejected"
    assert {r["reason"] for r in js["layers"]["cadastral_parcels"]["sources"][0]["rejects"]} == \
        {MISSING_COMMUNE}


def test_manifest_defaults_give_the_commune(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    write_parcels(str(tmp_path / "src" / "thua_dat.shp"), with_commune=False)
    m = manifest(str(tmp_path / "src" / "m.json"), [
        {"path": "thua_dat.shp", "layer": "cadastral_parcels",
         "defaults": {"commune_code": "31135"}}])
    p = imp("--db", db, "--manifest", m)
    assert p.returncode == 0, p.stderr
    con = sqlite3.connect(db)
    rows = con.execute("SELECT commune_code, parcel_key FROM cadastral_parcels ORDER BY fid").fetchall()
    assert len(rows) == 20 and all(c == "31135" for c, _ in rows)
    assert rows[0][1] == "311350030001"


def test_admin_units_give_parcels_their_commune(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    write_admin(str(tmp_path / "src" / "xa.shp"))
    write_parcels(str(tmp_path / "src" / "thua_dat.shp"), with_commune=False)
    assert imp("--db", db, "--layer", "admin_units", str(tmp_path / "src" / "xa.shp")).returncode == 0
    rep = str(tmp_path / "rep")
    p = imp("--db", db, "--layer", "cadastral_parcels", str(tmp_path / "src" / "thua_dat.shp"),
            "--report", rep)
    assert p.returncode == 0, p.stderr
    con = spatialite(db)
    # each parcel's commune is the admin_units polygon containing it, checked with SpatiaLite
    rows = con.execute("SELECT p.commune_code, a.code FROM cadastral_parcels p JOIN admin_units a"
                       " ON ST_Contains(a.geom, ST_PointOnSurface(p.geom))").fetchall()
    assert len(rows) == 20 and all(c == a for c, a in rows)
    assert {c for c, _ in rows} == {"31117", "31135"}
    js, html = read_report(rep)
    assert js["layers"]["cadastral_parcels"]["sources"][0]["commune_from_admin_units"] == 20
    assert [r["commune_from_admin_units"] for r in js["summary"]["layers"]] == [20]
    # and in one batch with the admin units (imported first)
    db2 = str(tmp_path / "s2.sqlite")
    m = manifest(str(tmp_path / "src" / "m.json"), [
        {"path": "thua_dat.shp", "layer": "cadastral_parcels"},
        {"path": "xa.shp", "layer": "admin_units"}])
    assert imp("--db", db2, "--manifest", m).returncode == 0
    con2 = sqlite3.connect(db2)
    assert con2.execute("SELECT count(*) FROM cadastral_parcels WHERE commune_code IN"
                        " ('31117', '31135')").fetchone()[0] == 20


def test_shrink_refused_then_allowed(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    write_roads(str(tmp_path / "src" / "tim_duong.shp"))
    assert imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "tim_duong.shp")).returncode == 0
    before = dump(db, "roads")
    write_roads(str(tmp_path / "src" / "tim_duong_8.shp"), n=8)
    rep = str(tmp_path / "rep")
    p = imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "tim_duong_8.shp"), "--report", rep)
    assert p.returncode == 1 and "8 of its 20 features" in p.stderr and "allow_shrink" in p.stderr
    assert dump(db, "roads") == before
    js, _ = read_report(rep)
    assert js["summary"]["refused"][0]["layer"] == "roads"
    row = js["summary"]["layers"][0]
    assert row["status"] == "refused" and row["features_before"] == 20 and "8 of its 20" in row["reason"]
    # 10 of 20 (50 %) is within the default limit
    write_roads(str(tmp_path / "src" / "tim_duong_10.shp"), n=10)
    db10 = str(tmp_path / "s10.sqlite")
    shutil.copy(db, db10)
    assert imp("--db", db10, "--layer", "roads", str(tmp_path / "src" / "tim_duong_10.shp")).returncode == 0
    # a looser limit in the settings lets 8 of 20 through
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"import_max_shrink": 0.7}')
    db7 = str(tmp_path / "s7.sqlite")
    shutil.copy(db, db7)
    p = subprocess.run([SPP, "import", "--db", db7, "--config", str(cfg), "--layer", "roads",
                        str(tmp_path / "src" / "tim_duong_8.shp"), "--quiet"], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    # the manifest flag, per source and per batch
    for where in ("source", "batch"):
        dbm = str(tmp_path / f"m_{where}.sqlite")
        shutil.copy(db, dbm)
        src = {"path": "tim_duong_8.shp", "layer": "roads"}
        top = {}
        if where == "source":
            src["allow_shrink"] = True
        else:
            top["allow_shrink"] = True
        m = manifest(str(tmp_path / "src" / f"m_{where}.json"), [src], **top)
        p = imp("--db", dbm, "--manifest", m)
        assert p.returncode == 0, (where, p.stderr)
        assert sqlite3.connect(dbm).execute("SELECT count(*) FROM roads").fetchone()[0] == 8


def test_rejected_features_exit_3(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")

    def one_bad(i, wkt, vals):
        if i == 4:
            wkt = "LINESTRING (584000 1108000, 584000 1108000)"  # degenerate: rejected
        return wkt, vals

    write_roads(str(tmp_path / "src" / "r.shp"), edit=one_bad)
    p = imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "r.shp"))
    assert p.returncode == 3, p.stderr
    assert sqlite3.connect(db).execute("SELECT count(*) FROM roads").fetchone()[0] == 19


# ---- point 9: exact change detection ----

def cells_of(env):
    minx, maxx, miny, maxy = env
    return {(math.floor(minx / CELL), math.floor(miny / CELL))} | {
        (x, y) for x in range(math.floor(minx / CELL), math.floor(maxx / CELL) + 1)
        for y in range(math.floor(miny / CELL), math.floor(maxy / CELL) + 1)}


def changed_cells(db, batch):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT minx, miny, maxx, maxy FROM spp_changes WHERE batch = ?",
                       (batch,)).fetchall()
    con.close()
    return {(round(r[0] / CELL), round(r[1] / CELL)) for r in rows}


def last_batch(db):
    con = sqlite3.connect(db)
    b = con.execute("SELECT batch FROM spp_imports ORDER BY finished DESC, rowid DESC LIMIT 1").fetchone()[0]
    con.close()
    return b


def test_unchanged_reimport_changes_no_cell(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "v1")
    write_roads(str(tmp_path / "v1" / "tim_duong.shp"))
    assert imp("--db", db, "--layer", "roads", str(tmp_path / "v1" / "tim_duong.shp")).returncode == 0
    before = dump(db, "roads")
    # the same roads handed over again, copied into another folder: another batch id and
    # another src_file, same geometry and attributes
    shutil.copytree(tmp_path / "v1", tmp_path / "v2")
    rep = str(tmp_path / "rep")
    assert imp("--db", db, "--layer", "roads", str(tmp_path / "v2" / "tim_duong.shp"),
               "--report", rep).returncode == 0
    b2 = last_batch(db)
    assert b2 not in {b for (b,) in before[2]}
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM spp_changes WHERE batch = ?", (b2,)).fetchone()[0] == 0
    con.close()
    after = dump(db, "roads")
    assert after[0] == before[0]  # every row, lineage included, as it was
    js, _ = read_report(rep)
    row = js["summary"]["layers"][0]
    assert (row["added"], row["removed"], row["changed"], row["changed_cells"]) == (0, 0, 0, 0)
    assert row["features_before"] == 20


def road_envs(db):
    con = spatialite(db)
    envs = {k: (a, c, b, d) for k, a, b, c, d in con.execute(
        "SELECT road_id, MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom) FROM roads")}
    con.close()
    return envs


def to_tile(x, y, z):
    t = osr.CoordinateTransformation(_srs(VN2000_TM3_105), _srs(3857))
    mx, my, _ = t.TransformPoint(x, y)
    size = 2 * HALF / 2 ** z
    return z, int((mx + HALF) // size), int((HALF - my) // size)


def _srs(defn):
    s = osr.SpatialReference()
    if isinstance(defn, int):
        s.ImportFromEPSG(defn)
    else:
        s.ImportFromProj4(defn)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def test_one_feature_change_invalidates_only_its_cells(tmp_path, workdir):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    shp = str(tmp_path / "src" / "tim_duong.shp")
    write_roads(shp)
    assert imp("--db", db, "--layer", "roads", shp).returncode == 0
    old = road_envs(db)

    # road 6 renamed, road 15 moved 700 m east (into other cells); the rest as before
    def edit(i, wkt, vals):
        if i == 5:
            vals = dict(vals, TENDUONG="Duong Moi")
        if i == 14:
            x, y = 584000 + i * 300 + 700, 1108000 + (i % 4) * 600
            wkt = f"LINESTRING ({x} {y}, {x + 120} {y + 150})"
        return wkt, vals

    key = run_spp("keys", "--db", db, "add", "--role", "planner").stdout.split()[-1]
    planner = {"X-API-Key": key}
    batch1 = last_batch(db)
    s = Server(db, workdir)
    try:
        far = old["D001"]
        moved = old["D015"]
        tiles_far = [to_tile((far[0] + far[1]) / 2, (far[2] + far[3]) / 2, z) for z in (14, 15, 16, 17)]
        tiles_moved = [to_tile((moved[0] + moved[1]) / 2, (moved[2] + moved[3]) / 2, z)
                       for z in (15, 16, 17)]
        etags = {}
        for z, x, y in tiles_far + tiles_moved:
            st, h, body = s.get(f"/tiles/roads/{z}/{x}/{y}.mvt")
            assert st == 200, (z, x, y, st)
            etags[(z, x, y)] = h["ETag"]
        # planner tiles carry the lineage (import_batch): cached, then checked after the import
        far17 = tiles_far[-1]
        st, _, pbody = s.get("/tiles/roads/%d/%d/%d.mvt" % far17, planner)
        assert st == 200 and batch1.encode() in pbody
        moved17 = tiles_moved[-1]
        assert batch1.encode() in s.get("/tiles/roads/%d/%d/%d.mvt" % moved17, planner)[2]
        s.flush_tiles()  # the tiles answered are in the file (its writes are behind)
        cache = sqlite3.connect(db + ".tiles")
        ids_before = {(z, x, y): i for i, z, x, y in cache.execute(
            "SELECT id, z, x, y FROM spp_tiles WHERE fmt = 'mvt' AND key LIKE '%|public'"
            " AND enc = 'identity'")}
        cache.close()

        write_roads(shp, edit=edit)
        rep = str(tmp_path / "rep")
        assert imp("--db", db, "--layer", "roads", shp, "--report", rep).returncode == 0
        new = road_envs(db)
        want = cells_of(old["D006"]) | cells_of(old["D015"]) | cells_of(new["D015"])
        assert changed_cells(db, last_batch(db)) == want
        assert cells_of(far).isdisjoint(want)
        js, _ = read_report(rep)
        row = js["summary"]["layers"][0]
        assert (row["added"], row["removed"], row["changed"]) == (0, 0, 2)
        assert row["changed_cells"] == len(want)

        for t in tiles_far:  # elsewhere: still the cached tile, same ETag, same cache row
            st, h, _ = s.get("/tiles/roads/%d/%d/%d.mvt" % t)
            assert st == 200 and h["ETag"] == etags[t], t
        for t in tiles_moved:  # where the road was: drawn again without it
            st, h, _ = s.get("/tiles/roads/%d/%d/%d.mvt" % t)
            assert h["ETag"] != etags[t], t
        s.flush_tiles()
        cache = sqlite3.connect(db + ".tiles")
        ids_after = {(z, x, y): i for i, z, x, y in cache.execute(
            "SELECT id, z, x, y FROM spp_tiles WHERE fmt = 'mvt' AND key LIKE '%|public'"
            " AND enc = 'identity'")}
        cache.close()
        for t in tiles_far:  # never dropped from the cache file
            assert ids_after[t] == ids_before[t], t
        # the planner's cached far tile is still true: the unchanged roads kept their lineage
        con = sqlite3.connect(db)
        assert con.execute("SELECT import_batch FROM roads WHERE road_id = 'D001'").fetchone()[0] == batch1
        batch2 = last_batch(db)
        assert batch2 != batch1
        assert con.execute("SELECT import_batch FROM roads WHERE road_id = 'D015'").fetchone()[0] == batch2
        con.close()
        st, _, body = s.get("/tiles/roads/%d/%d/%d.mvt" % far17, planner)
        assert body == pbody
        # where the road moved from, the planner's tile no longer shows it
        body = s.get("/tiles/roads/%d/%d/%d.mvt" % moved17, planner)[2]
        assert b"D015" not in body
    finally:
        s.stop()


# ---- point 10: the report ----

def test_report_summary_first_language_and_json(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    write_roads(str(tmp_path / "src" / "tim_duong.shp"))
    assert imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "tim_duong.shp")).returncode == 0

    def more(i, wkt, vals):
        return wkt, (dict(vals, LOAIDUONG="noi_bo") if i == 0 else vals)

    write_roads(str(tmp_path / "src" / "tim_duong.shp"), n=22, edit=more)
    reports = {}
    for loc, lang in (("vi_VN.UTF-8", "vi"), ("en_US.UTF-8", "en"), ("C", "vi")):
        env = dict(os.environ, LANG=loc, LC_ALL=loc)
        rep = str(tmp_path / f"rep_{loc}")
        d = str(tmp_path / f"s_{loc}.sqlite")
        shutil.copy(db, d)
        p = imp("--db", d, "--layer", "roads", str(tmp_path / "src" / "tim_duong.shp"),
                "--report", rep, env=env)
        assert p.returncode == 0, p.stderr
        js, html = read_report(rep)
        assert js["lang"] == lang and f'<html lang="{lang}">' in html
        reports[loc] = (js, html)
    js, html = reports["vi_VN.UTF-8"]
    sm = js["summary"]
    assert sm["status"] == "done" and sm["exit_code"] == 0 and sm["store_changed"] is True
    row = sm["layers"][0]
    assert row["layer"] == "roads" and row["features_before"] == 20
    assert (row["read"], row["written"], row["rejected"]) == (22, 22, 0)
    assert (row["added"], row["removed"], row["changed"]) == (2, 0, 1)
    assert sm["totals"]["added"] == 2 and sm["refused"] == [] and sm["failed"] == []
    # summary before details; details collapsed
    assert html.index("Tóm tắt") < html.index("Chi tiết") < html.index("<details")
    assert "<details open" not in html and html.count("<details") >= 2
    assert "Đã nhập xong" in html
    en = reports["en_US.UTF-8"][1]
    assert "Summary" in en and "Details" in en and "Tóm tắt" not in en
    # the same content in both files: every summary number is in the HTML table
    for k in ("features_before", "read", "written", "added", "changed"):
        assert f'<td class="n">{row[k]}</td>' in html
    # the JSON has the details the HTML collapses
    src = js["layers"]["roads"]["sources"][0]
    assert src["crs"]["used"] and src["fields"]["mapped"]


# ---- the command line: --set, --rename, --allow-shrink, --lang ----

def test_cli_set_and_rename(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    bad = write_parcels(str(tmp_path / "src" / "thua_dat.shp"), with_commune=False)
    p = imp("--db", db, "--layer", "cadastral_parcels", bad, "--set", "commune_code=31135")
    assert p.returncode == 0, p.stderr
    assert sqlite3.connect(db).execute("SELECT count(DISTINCT commune_code), min(commune_code) FROM"
                                       " cadastral_parcels").fetchone() == (1, "31135")
    # --rename: a field the aliases do not know
    write_shp(str(tmp_path / "src" / "r.shp"), ogr.wkbLineString, [("XYZ", ogr.OFTString, 30)],
              [("LINESTRING (584000 1108000, 584100 1108100)", {"XYZ": "Duong Rieng"})])
    db2 = str(tmp_path / "r.sqlite")
    assert imp("--db", db2, "--layer", "roads", str(tmp_path / "src" / "r.shp"), "--rename",
               "XYZ=name").returncode == 0
    assert sqlite3.connect(db2).execute("SELECT name FROM roads").fetchone()[0] == "Duong Rieng"
    # bad syntax and unknown fields: one line, exit 1, nothing written
    for args in (("--set", "commune_code"), ("--set", "=1"), ("--set", "no_such_field=1"),
                 ("--rename", "XYZ=no_such_field"), ("--rename", "XYZ")):
        p = imp("--db", str(tmp_path / "x.sqlite"), "--layer", "roads", str(tmp_path / "src" / "r.shp"),
                *args)
        assert p.returncode != 0 and len([ln for ln in p.stderr.splitlines() if ln]) == 1, (args, p.stderr)


def test_cli_set_loses_to_manifest_defaults(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    write_parcels(str(tmp_path / "src" / "thua_dat.shp"), with_commune=False)
    m = manifest(str(tmp_path / "src" / "m.json"), [
        {"path": "thua_dat.shp", "layer": "cadastral_parcels", "defaults": {"commune_code": "31117"}}])
    assert imp("--db", db, "--manifest", m, "--set", "commune_code=31135").returncode == 0
    assert sqlite3.connect(db).execute("SELECT DISTINCT commune_code FROM cadastral_parcels"
                                       ).fetchall() == [("31117",)]


def test_cli_allow_shrink(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    write_roads(str(tmp_path / "src" / "a.shp"))
    write_roads(str(tmp_path / "src" / "b.shp"), n=3)
    assert imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "a.shp")).returncode == 0
    assert imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "b.shp")).returncode == 1
    assert imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "b.shp"),
               "--allow-shrink").returncode == 0
    assert sqlite3.connect(db).execute("SELECT count(*) FROM roads").fetchone()[0] == 3


def test_cli_lang(tmp_path):
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    write_roads(str(tmp_path / "src" / "a.shp"))
    for lang in ("en", "vi"):
        rep = str(tmp_path / lang)
        env = dict(os.environ, LANG="vi_VN.UTF-8" if lang == "en" else "en_US.UTF-8")
        assert imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "a.shp"), "--report", rep,
                   "--lang", lang, env=env).returncode == 0
        assert read_report(rep)[0]["lang"] == lang
    p = imp("--db", db, "--layer", "roads", str(tmp_path / "src" / "a.shp"), "--lang", "fr")
    assert p.returncode != 0


def test_invalidation_at_every_zoom(tmp_path, workdir):
    """A renamed road: the cached tile holding it at each zoom from the layer's first to the tile
    grid's deepest (24) is dropped, so every answer equals a fresh server's (no tile cache), the
    layer's deepest zoom (22) included."""
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    shp = str(tmp_path / "src" / "tim_duong.shp")
    write_roads(shp)
    assert imp("--db", db, "--layer", "roads", shp).returncode == 0
    env = road_envs(db)["D006"]
    tiles = [to_tile((env[0] + env[1]) / 2, (env[2] + env[3]) / 2, z) for z in range(12, 25)]
    s = Server(db, workdir)
    try:
        for t in tiles:
            for fmt in ("mvt", "png"):
                st, _, body = s.get("/tiles/roads/%d/%d/%d." % t + fmt)
                assert st == 200, t
        assert b"Duong Moi" not in s.get("/tiles/roads/%d/%d/%d.mvt" % tiles[-1])[2]

        def rename(i, wkt, vals):
            return wkt, (dict(vals, TENDUONG="Duong Moi") if i == 5 else vals)
        write_roads(shp, edit=rename)
        assert imp("--db", db, "--layer", "roads", shp).returncode == 0
        fresh_db = str(tmp_path / "fresh.sqlite")
        src, dst = sqlite3.connect(db), sqlite3.connect(fresh_db)
        src.backup(dst)  # with what is still in the WAL (a file copy would miss it)
        src.close(), dst.close()
        fresh = Server(fresh_db, workdir)
        try:
            for t in tiles:
                for fmt in ("mvt", "png"):
                    path = "/tiles/roads/%d/%d/%d." % t + fmt
                    assert s.get(path)[2] == fresh.get(path)[2], (t, fmt)
            # the deepest zoom that draws roads (the catalog's max, 22; 23-24 are empty tiles)
            z22 = "/tiles/roads/%d/%d/%d.mvt" % tiles[22 - 12]
            assert b"Duong Moi" in s.get(z22)[2]
        finally:
            fresh.stop()
    finally:
        s.stop()


def test_another_district_inside_the_city_extent_is_accepted(tmp_path):
    """Roads of one district are in the store; control points of another district 12 km away
    (still inside city_extent) keep their declared VN-2000 CRS instead of being refused or
    re-read in another zone."""
    db = str(tmp_path / "s.sqlite")
    os.makedirs(tmp_path / "src")
    shp = str(tmp_path / "src" / "tim_duong.shp")
    write_roads(shp)
    assert imp("--db", db, "--layer", "roads", shp).returncode == 0
    pts = str(tmp_path / "src" / "moc.shp")
    rows = [(f"POINT ({594000 + i * 40} {1120000 + i * 30})", {"SOHIEU": f"M{i:02d}"})
            for i in range(12)]
    write_shp(pts, ogr.wkbPoint, [("SOHIEU", ogr.OFTString, 10)], rows)
    rep = str(tmp_path / "rep")
    p = imp("--db", db, "--layer", "geodetic_control", pts, "--report", rep)
    assert p.returncode == 0, p.stderr
    js, _ = read_report(rep)
    crs = js["layers"]["geodetic_control"]["sources"][0]["crs"]
    assert "5897" in crs["used"] and "city_extent" in crs["reason"], crs
    con = spatialite(db)
    got = sorted((round(x, 3), round(y, 3)) for x, y in con.execute(
        "SELECT X(geom), Y(geom) FROM geodetic_control"))
    con.close()
    assert got == sorted((594000 + i * 40, 1120000 + i * 30) for i in range(12))


# ---- archives and files of several layers ----

def zip_dir(zip_path, files, junk=True):
    """files: {name inside the archive: path on disk}; junk: the __MACOSX resource forks a Mac
    adds when a planner zips a folder in Finder."""
    import zipfile
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, path in files.items():
            z.write(path, name)
            if junk:
                d, b = os.path.split(name)
                z.writestr(os.path.join("__MACOSX", d, "._" + b), b"\0\5\26\7junk")
    return zip_path


def shp_files(shp):
    stem = os.path.splitext(shp)[0]
    return [stem + e for e in (".shp", ".shx", ".dbf", ".prj") if os.path.exists(stem + e)]


def test_a_zipped_shapefile_imports_like_the_unzipped_one(tmp_path):
    """A shapefile e-mailed as a .zip (in a folder, with a Mac's __MACOSX junk) gives the same
    rows as the same shapefile on disk; its .dbf cut off inside the archive fails the source and
    leaves the store as it was."""
    os.makedirs(tmp_path / "src")
    shp = write_roads(str(tmp_path / "src" / "duong.shp"))
    z = zip_dir(str(tmp_path / "duong.zip"),
                {"Giao thong/" + os.path.basename(f): f for f in shp_files(shp)})
    plain, zipped = str(tmp_path / "plain.sqlite"), str(tmp_path / "zipped.sqlite")
    assert imp("--db", plain, "--layer", "roads", shp).returncode == 0
    p = imp("--db", zipped, "--layer", "roads", z)
    assert p.returncode == 0, p.stderr
    a, b = dump(plain, "roads")[0], dump(zipped, "roads")[0]
    assert len(b) == 20 and [r[-1] for r in a] == [r[-1] for r in b]
    con = spatialite(zipped)
    assert [r[0] for r in con.execute("SELECT name FROM roads ORDER BY fid")] == \
        [f"Duong so {i + 1}" for i in range(20)]
    before = dump(zipped, "roads")
    bad = truncate_dbf(shp, str(tmp_path / "usb"), 11)
    zb = zip_dir(str(tmp_path / "duong_hong.zip"), {os.path.basename(f): f for f in shp_files(bad)},
                 junk=False)
    p = imp("--db", zipped, "--layer", "roads", zb)
    assert p.returncode == 1 and "cut off" in p.stderr, p.stderr
    assert dump(zipped, "roads") == before


def test_an_archive_or_file_of_several_layers_names_them_never_takes_the_first(tmp_path):
    """A .zip of two shapefiles, and a GeoPackage of two layers: which one is meant is not
    guessed; the error names them, and the manifest's "sheet" picks one."""
    os.makedirs(tmp_path / "a")
    roads = write_roads(str(tmp_path / "a" / "duong.shp"))
    other = write_roads(str(tmp_path / "a" / "duong_du_kien.shp"), n=5)
    z = zip_dir(str(tmp_path / "giao_thong.zip"),
                {os.path.basename(f): f for f in shp_files(roads) + shp_files(other)})
    db = str(tmp_path / "s.sqlite")
    p = imp("--db", db, "--layer", "roads", z)
    assert p.returncode == 1
    assert "2 data sources" in p.stderr and "duong.shp" in p.stderr and \
        "duong_du_kien.shp" in p.stderr and "sheet" in p.stderr, p.stderr
    m = manifest(str(tmp_path / "m.json"), [{"path": z, "layer": "roads", "sheet": "duong_du_kien"}])
    p = imp("--db", db, "--manifest", m)
    assert p.returncode == 0, p.stderr
    assert len(dump(db, "roads")[0]) == 5

    gpkg = str(tmp_path / "gt.gpkg")
    subprocess.run(["ogr2ogr", "-f", "GPKG", gpkg, roads, "-nln", "hien_trang"], check=True)
    subprocess.run(["ogr2ogr", "-update", "-f", "GPKG", gpkg, other, "-nln", "quy_hoach"], check=True)
    db2 = str(tmp_path / "g.sqlite")
    p = imp("--db", db2, "--layer", "roads", gpkg)
    assert p.returncode == 1 and '"hien_trang" and "quy_hoach"' in p.stderr, p.stderr
    m = manifest(str(tmp_path / "m2.json"), [{"path": gpkg, "layer": "roads", "sheet": "quy_hoach"}])
    assert imp("--db", db2, "--manifest", m).returncode == 0
    assert len(dump(db2, "roads")[0]) == 5
