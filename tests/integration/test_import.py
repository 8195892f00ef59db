# SPDX-License-Identifier: MIT
"""spp import on the demo city (data/gen_demo.py): every layer, every planted defect against
truth.json, test points within 1 cm, legacy text byte-identical, bad sources, atomicity under
kill -9, determinism, dry run. Expected values come from the generator's truth (computed with
GDAL/OSR there), never typed in here."""
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest
from osgeo import ogr, osr

from conftest import ROOT, SPP, run_spp, spatialite

ogr.UseExceptions()


def run_import(*args):
    """spp import that must succeed: exit 0, or 3 when features were rejected (the demo plants
    rejected features, so its manifest exits 3)."""
    p = run_spp(*args, check=False)
    assert p.returncode in (0, 3), (p.returncode, p.stderr[-2000:])
    return p


def layer_ids():
    return sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "layers"))
                  if f.endswith(".json") and f != "common.json")


def content_hash(db, tables=None):
    """A hash of every layer table's rows (all columns, geometry as WKB) and the spp tables."""
    con = spatialite(db)
    h = hashlib.sha256()
    for t in tables or layer_ids():
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")') if r[1] != "geom"]
        sel = ", ".join(f'"{c}"' for c in cols)
        for row in con.execute(f'SELECT {sel}, AsBinary(geom) FROM "{t}" ORDER BY fid'):
            h.update(repr(row).encode())
    for t in ("spp_imports", "spp_layers", "spp_changes") if tables is None else ():
        h.update(repr(con.execute(f"SELECT count(*) FROM {t}").fetchall()).encode())
    con.close()
    return h.hexdigest()


def test_all_layers_present(demo):
    con = spatialite(demo["db"])
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in layer_ids()}
    assert len(counts) == 24
    assert counts == demo["truth"]["expected_counts"]
    # spp_layers, lineage on every feature, one spp_imports row, changes recorded per layer
    batch = demo["report"]["batch"]
    for t, n in counts.items():
        assert con.execute("SELECT n_features FROM spp_layers WHERE layer = ?", (t,)).fetchone()[0] == n
        assert con.execute(f'SELECT count(*) FROM "{t}" WHERE src_file IS NULL OR src_crs IS NULL OR '
                           f'src_encoding IS NULL OR import_batch <> ?', (batch,)).fetchone()[0] == 0
        ch = con.execute("SELECT min(minx), min(miny), max(maxx), max(maxy) FROM spp_changes "
                         "WHERE layer = ? AND batch = ?", (t, batch)).fetchone()
        ext = con.execute(f'SELECT min(MbrMinX(geom)), min(MbrMinY(geom)), max(MbrMaxX(geom)), '
                          f'max(MbrMaxY(geom)) FROM "{t}"').fetchone()
        assert ch[0] <= ext[0] and ch[1] <= ext[1] and ch[2] >= ext[2] and ch[3] >= ext[3], t
    assert con.execute("SELECT count(*) FROM spp_imports WHERE batch = ?", (batch,)).fetchone()[0] == 1
    con.close()
    assert run_spp("check", "--db", demo["db"]).returncode == 0


def test_rejections_have_file_row_reason(demo):
    rep, truth = demo["report"], demo["truth"]
    for layer, lr in rep["layers"].items():
        assert lr["rejected"] == truth["rejected_counts"].get(layer, 0), layer
        for src in lr["sources"]:
            assert len(src["rejects"]) == src["rejected"]
            for r in src["rejects"]:
                assert r["row"] >= 1 and r["reason"]
    con = sqlite3.connect(demo["db"])
    n = con.execute("SELECT count(*) FROM spp_findings WHERE kind = 'rejected' AND src_file <> ''"
                    " AND src_row > 0").fetchone()[0]
    assert n == sum(truth["rejected_counts"].values())


def defects(truth, *kinds):
    return [d for d in truth["defects"] if d["kind"] in kinds]


def test_geometry_defects(demo):
    con = spatialite(demo["db"])
    rep = {s["file"]: s for s in demo["report"]["sources"]}
    for d in defects(demo["truth"], "zero_area", "null_geometry"):
        assert con.execute("SELECT count(*) FROM cadastral_parcels WHERE parcel_key = ?",
                           (d["key"],)).fetchone()[0] == 0, d
        assert rep[d["file"]]["rejects"], d
    fixed = defects(demo["truth"], "duplicate_vertices", "bowtie", "hole_touching_shell", "unclosed_ring")
    assert fixed
    for d in fixed:
        row = con.execute("SELECT ST_IsValid(geom), ST_Area(geom), GeometryType(geom) FROM cadastral_parcels"
                          " WHERE parcel_key = ?", (d["key"],)).fetchone()
        assert row is not None, d
        assert row[0] == 1 and row[2] == "MULTIPOLYGON"
        assert abs(row[1] - d["expected_area_m2"]) <= 0.01 * d["expected_area_m2"], (d, row)
    repaired = rep["dia_chinh/tan_an_thua_dat.shp"]["repairs"]
    assert len(repaired) >= len([d for d in fixed if d["kind"] != "duplicate_vertices"])
    assert any("unclosed ring closed" in r["repair"] for r in repaired)
    assert any("made valid" in r["repair"] for r in repaired)
    # out-of-range value rejected with its row
    d = defects(demo["truth"], "out_of_range")[0]
    rj = rep[d["file"]]["rejects"]
    assert [r["row"] for r in rj] == [d["fid"] + 1] and "outside" in rj[0]["reason"]


def test_codes(demo):
    con = spatialite(demo["db"])
    truth = demo["truth"]
    for d in defects(truth, "tt27_code"):
        if "keys" not in d:
            continue
        want = d["expect"].split(" ")[-1] if "->" in d["expect"] else d["expect"].split(" to ")[-1].split(" ")[0]
        for k in d["keys"]:
            lu = con.execute("SELECT lu_display FROM cadastral_parcels WHERE parcel_key = ?", (k,)).fetchone()[0]
            assert want in lu.split("+"), (k, lu, d)
    for d in defects(truth, "unknown_code"):
        src = next(s for s in demo["report"]["sources"] if s["file"] == d["file"])
        unknown = set()
        for f in src["codes"].values():
            unknown |= set(f["unknown"])
        for v in d.get("values", []):
            assert {c for c in v.split("+")} & unknown, (v, unknown)
        for k in d.get("keys", []):
            assert con.execute("SELECT count(*) FROM cadastral_parcels WHERE parcel_key = ?", (k,)).fetchone()[0] == 1
    # names instead of codes (VNI text), crosswalk to TT08_2024; fids follow the source order
    for e in truth["land_use_current"]:
        got = con.execute("SELECT lu_code FROM land_use_current WHERE fid = ?", (e["fid"] + 1,)).fetchone()[0]
        assert got == e["expected"], e
    for e in truth["land_use_plan"]:
        row = con.execute("SELECT plan_code, current_code, decision_date FROM land_use_plan WHERE fid = ?",
                          (e["fid"] + 1,)).fetchone()
        assert row == (e["expected_plan_code"], e["expected_current_code"], e["decision_date"]), e
    # Vietnamese number format and the renamed field
    for k, p in truth["parcels"].items():
        if p["file"] == "dia_chinh/cai_khe_thua_dat.shp" and p["status"] == "ok":
            a = con.execute("SELECT area_m2 FROM cadastral_parcels WHERE parcel_key = ?", (k,)).fetchone()[0]
            assert a == pytest.approx(p["legal_area_m2"], abs=1e-6), k
    for e in truth["construction_permits"]:
        assert con.execute("SELECT issue_date FROM construction_permits WHERE permit_no = ?",
                           (e["permit_no"],)).fetchone()[0] == e["issue_date"]


def test_cad_drawing(demo):
    con = spatialite(demo["db"])
    d = defects(demo["truth"], "cad_drawing")[0]
    rows = con.execute("SELECT parcel_key, parcel_no, lu_display, owner_name, sheet_no FROM cadastral_parcels"
                       " WHERE src_file = ?", (d["file"],)).fetchall()
    assert len(rows) == d["parcels"]
    for key, no, lu, owner, sheet in rows:
        p = demo["truth"]["parcels"][key]
        assert (no, sheet) == (p["parcel_no"], p["sheet_no"]) and lu.split("+") == p["expected_lu"] and owner


def test_legacy_text_byte_identical(demo):
    """TCVN3 (DBF without .cpg, DXF as CP1252 mojibake), CP1258 (TAB), NFD (GeoJSON) -> NFC."""
    con = spatialite(demo["db"])
    field = {"DIA_CHI": "address", "CHU_SD": "owner_name", "TEXT@CHUSUDUNG": "owner_name"}
    n = 0
    for e in demo["truth"]["legacy_text"]:
        if e["layer"] == "cadastral_parcels" and e["source_field"] in field:
            got = con.execute(f'SELECT {field[e["source_field"]]} FROM cadastral_parcels WHERE parcel_key = ?',
                              (e["key"],)).fetchone()
        elif e["layer"] == "hydro_areas":
            got = con.execute("SELECT name FROM hydro_areas WHERE fid = ?", (e["key"] + 1,)).fetchone()
        else:
            continue
        assert got is not None and got[0].encode() == e["value"].encode(), (e, got)
        n += 1
    assert n >= 600
    names = {r[0] for r in con.execute("SELECT name FROM admin_units")}
    for v in defects(demo["truth"], "unicode_nfd")[0]["values"]:
        assert v in names
    # the report names the encodings it found
    enc = {s["file"]: s["encoding"]["layer"] for s in demo["report"]["sources"]}
    for s in demo["truth"]["sources"]:
        want = {"VNI-Windows": "VNI-Windows", "TCVN3": "TCVN3", "CP1258": "CP1258", "UTF-8 NFD": "UTF-8 NFD"}
        if s["encoding"] in want:
            assert enc[s["file"]] == want[s["encoding"]], s


def test_crs_decisions_and_test_points(demo):
    truth, con = demo["truth"], spatialite(demo["db"])
    crs = {s["file"]: s["crs"] for s in demo["report"]["sources"]}
    for s in truth["sources"]:
        assert crs[s["file"]]["detected"] == s["true_crs"], (s, crs[s["file"]])
        assert crs[s["file"]]["reason"]
    for d in defects(truth, "xy_swapped", "corner_table"):
        assert crs[d["file"]]["swap_xy"], d
    for d in defects(truth, "prj_wgs84_tm3", "utm_labelled_tm3", "vn2000_geographic_as_wgs84",
                     "wrong_central_meridian", "mapinfo_datum_lost", "missing_prj"):
        assert crs[d["file"]]["repaired"], d
    # the reference vector of DOMAIN.md 1.5, through an independent PROJ pipeline (EPSG:6960)
    ref = next(p for p in truth["test_points"] if p["kind"] == "reference")
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(4326)
    dst.ImportFromProj4(truth["official_operation"]["proj"])
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x, y, _ = osr.CoordinateTransformation(src, dst).TransformPoint(*ref["wgs84"])
    assert abs(x - ref["epsg5897"][0]) < 0.01 and abs(y - ref["epsg5897"][1]) < 0.01
    n = 0
    for p in truth["test_points"]:
        e, nn = p.get("epsg5897", (None, None))
        pt = f"MakePoint({e}, {nn}, 5897)"
        if p["kind"] == "parcel":
            d = con.execute(f"SELECT ST_Distance(ST_Centroid(geom), {pt}) FROM cadastral_parcels WHERE parcel_key = ?",
                            (p["parcel_key"],)).fetchone()[0]
        elif p["kind"] == "public_facility":
            d = con.execute(f"SELECT ST_Distance(geom, {pt}) FROM public_facilities WHERE name = ?",
                            (p["name"],)).fetchone()[0]
        elif p["kind"] == "control_point":
            d = con.execute(f"SELECT ST_Distance(geom, {pt}) FROM geodetic_control WHERE point_no = ?",
                            (p["point_no"],)).fetchone()[0]
        elif p["kind"] == "source_crs":
            # a vertex, a point on a line, or a centroid, depending on what the generator probed
            d = con.execute(f'SELECT min(min(ST_Distance(ST_DissolvePoints(geom), {pt}), '
                            f'ST_Distance(ST_Centroid(geom), {pt}), CASE WHEN GeometryType(geom) LIKE '
                            f"'%LINESTRING' THEN ST_Distance(geom, {pt}) ELSE 1e9 END)) "
                            f'FROM "{p["layer"]}"').fetchone()[0]
        else:
            continue
        assert d is not None and d < 0.01, (p, d)
        n += 1
    assert n >= 30


def test_deterministic_reimport(demo, tmp_path):
    db = str(tmp_path / "again.sqlite")
    run_import("import", "--db", db, "--manifest", os.path.join(demo["src"], "manifest.json"))
    assert content_hash(db) == content_hash(demo["db"])
    # and re-importing into the same store changes nothing but the bookkeeping: no changed cells
    before = content_hash(db, layer_ids())
    con = sqlite3.connect(db)
    last = con.execute("SELECT max(id) FROM spp_changes").fetchone()[0]
    con.close()
    run_import("import", "--db", db, "--manifest", os.path.join(demo["src"], "manifest.json"))
    assert content_hash(db, layer_ids()) == before
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM spp_changes WHERE id > ?", (last,)).fetchone()[0] == 0
    # the same roads through another path (--layer, another batch id, another src_file): the
    # change hash covers geometry and attributes only, so nothing changed and the unchanged
    # features keep the lineage they had (issue 16, point 9)
    lineage = con.execute("SELECT src_file, import_batch FROM roads ORDER BY fid").fetchall()
    run_import("import", "--db", db, "--layer", "roads", os.path.join(demo["src"], "giao_thong", "tim_duong.shp"))
    assert con.execute("SELECT count(*) FROM spp_changes WHERE id > ?", (last,)).fetchone()[0] == 0
    assert con.execute("SELECT src_file, import_batch FROM roads ORDER BY fid").fetchall() == lineage
    assert content_hash(db, layer_ids()) == before



def test_lookups_stay_index_driven_after_reimport(demo, tmp_path):
    # the importer drops a layer's attribute indexes for the bulk load and builds them again at
    # its end: after a first import and a re-import, parcel and key lookups still use them
    db = str(tmp_path / "indexed.sqlite")
    for _ in range(2):
        run_import("import", "--db", db, "--manifest", os.path.join(demo["src"], "manifest.json"))
        con = sqlite3.connect(db)
        plans = {
            "parcel": con.execute(
                "EXPLAIN QUERY PLAN SELECT fid FROM cadastral_parcels WHERE commune_code = ?"
                " AND sheet_no = ? AND parcel_no = ?", ("31117", 1, 22)).fetchall(),
            "key": con.execute("EXPLAIN QUERY PLAN SELECT fid FROM cadastral_parcels"
                               " WHERE parcel_key = ?", ("x",)).fetchall(),
            "commune": con.execute("EXPLAIN QUERY PLAN SELECT fid FROM vacant_land_fund"
                                   " WHERE commune_code = ?", ("31117",)).fetchall(),
        }
        con.close()
        for what, plan in plans.items():
            detail = " ".join(str(row[-1]) for row in plan)
            assert "USING INDEX" in detail or "USING COVERING INDEX" in detail, (what, detail)

def copy_store(demo, tmp_path):
    db = str(tmp_path / "copy.sqlite")
    shutil.copy(demo["db"], db)
    return db


def write_shp(path, srs_epsg, geoms, fields=(("SOHIEU", "x"),)):
    drv = ogr.GetDriverByName("ESRI Shapefile")
    ds = drv.CreateDataSource(path)
    srs = None
    if srs_epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(srs_epsg)
    lyr = ds.CreateLayer("l", srs, ogr.wkbPoint)
    for name, _ in fields:
        lyr.CreateField(ogr.FieldDefn(name, ogr.OFTString))
    for wkt in geoms:
        f = ogr.Feature(lyr.GetLayerDefn())
        for name, v in fields:
            f.SetField(name, v)
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(f)
    ds = None


@pytest.mark.parametrize("case", ["missing", "unreadable", "unknown_layer", "empty", "undecidable_crs",
                                  "bad_manifest"])
def test_bad_sources(demo, tmp_path, case):
    db = copy_store(demo, tmp_path)
    before = content_hash(db)
    layer, src = "geodetic_control", str(tmp_path / "src.shp")
    if case == "missing":
        src = str(tmp_path / "nope.shp")
    elif case == "unreadable":
        src = str(tmp_path / "garbage.shp")
        with open(src, "wb") as f:
            f.write(b"\x00\x01not a shapefile" * 10)
    elif case == "unknown_layer":
        write_shp(src, 5897, ["POINT (585000 1109000)"])
        layer = "no_such_layer"
    elif case == "empty":
        write_shp(src, 5897, [])
    elif case == "undecidable_crs":  # Paris in web mercator: no VN-2000 zone, UTM or WGS 84 reading fits
        write_shp(src, None, ["POINT (261700 6250000)", "POINT (262000 6250300)"])
    args = ["import", "--db", db, "--layer", layer, src]
    if case == "bad_manifest":
        m = tmp_path / "m.json"
        m.write_text('{"sources": [{"path": "a.shp", "layer": "roads", "crs": "EPSG:bogus"}]}')
        args = ["import", "--db", db, "--manifest", str(m)]
    p = run_spp(*args, check=False)
    assert p.returncode != 0
    lines = [l for l in p.stderr.splitlines() if l.startswith("spp import:")]
    assert len(lines) == 1, p.stderr
    if case in ("missing", "unreadable", "empty", "undecidable_crs"):
        assert os.path.basename(src) in lines[0]
    if case == "undecidable_crs":
        assert "CRS" in lines[0]
    assert content_hash(db) == before


def test_new_store_removed_on_failure(tmp_path):
    db = str(tmp_path / "fresh.sqlite")
    p = run_spp("import", "--db", db, "--layer", "roads", str(tmp_path / "missing.shp"), check=False)
    assert p.returncode != 0 and not os.path.exists(db)


def test_dry_run_writes_nothing(demo, tmp_path):
    db = copy_store(demo, tmp_path)
    before = content_hash(db)
    rep = str(tmp_path / "rep")
    p = run_import("import", "--db", db, "--dry-run", "--report", rep, "--manifest",
                   os.path.join(demo["src"], "manifest.json"))
    assert "dry run" in p.stdout
    assert content_hash(db) == before
    with open(os.path.join(rep, "report.json")) as f:
        r = json.load(f)
    assert r["dry_run"] is True and r["written"] == sum(demo["truth"]["expected_counts"].values())
    html = open(os.path.join(rep, "report.html"), encoding="utf-8").read()
    assert "<svg" in html and "cadastral_parcels" in html


def test_single_layer_mode(demo, tmp_path):
    db = copy_store(demo, tmp_path)
    roads = os.path.join(demo["src"], "giao_thong", "tim_duong.shp")
    p = run_import("import", "--db", db, "--layer", "roads", roads)
    assert "1 layer," in p.stdout
    con = spatialite(db)
    assert con.execute("SELECT count(*) FROM roads").fetchone()[0] == demo["truth"]["expected_counts"]["roads"]
    assert con.execute("SELECT count(*) FROM cadastral_parcels").fetchone()[0] == \
        demo["truth"]["expected_counts"]["cadastral_parcels"]


def test_kill_9_leaves_store_unchanged(demo, tmp_path):
    """A large coordinate list, killed mid-import; a reader meanwhile sees the old layer."""
    db = copy_store(demo, tmp_path)
    before = content_hash(db)
    csv = tmp_path / "big.csv"
    with open(csv, "w") as f:
        f.write("So hieu diem,X,Y,H,Cap hang\n")
        for i in range(400000):
            f.write(f"P{i},{1108300 + (i % 2000) * 1.3:.3f},{584800 + (i // 2000) * 12.1:.3f},1.5,DC\n")
    proc = subprocess.Popen([SPP, "import", "--db", db, "--layer", "geodetic_control", str(csv)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT)
    line = proc.stderr.readline()  # "import: geodetic_control <- ... ..." once rows are being written
    assert "geodetic_control" in line, line
    time.sleep(0.3)
    reader = sqlite3.connect(db, timeout=5)
    assert reader.execute("SELECT count(*) FROM geodetic_control").fetchone()[0] == 12
    reader.close()
    assert proc.poll() is None, "the import finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    assert content_hash(db) == before


def test_filegdb_and_dgn(tmp_path):
    """FileGDB through OpenFileGDB; a DGN v7 drawing: a closed line and a text element on level 0."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(5897)
    gdb = str(tmp_path / "duong.gdb")
    ds = ogr.GetDriverByName("OpenFileGDB").CreateDataSource(gdb)
    lyr = ds.CreateLayer("duong", srs, ogr.wkbMultiLineString)
    lyr.CreateField(ogr.FieldDefn("TENDUONG", ogr.OFTString))
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetField("TENDUONG", "Đường 3 Tháng 2")
    f.SetGeometry(ogr.CreateGeometryFromWkt("MULTILINESTRING((585000 1109000,585300 1109400))"))
    lyr.CreateFeature(f)
    ds = None
    dgn = str(tmp_path / "to_007.dgn")
    ds = ogr.GetDriverByName("DGN").CreateDataSource(dgn)
    lyr = ds.CreateLayer("elements")
    for wkt, style in (("LINESTRING(585000 1109000,585100 1109000,585100 1109100,585000 1109100,585000 1109000)",
                        None), ("POINT(585050 1109050)", 'LABEL(t:"12",s:2g)')):
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        if style:
            f.SetStyleString(style)
        lyr.CreateFeature(f)
    ds = None
    m = tmp_path / "m.json"
    m.write_text(json.dumps({"sources": [
        {"path": "duong.gdb", "layer": "roads"},
        {"path": "to_007.dgn", "layer": "cadastral_parcels", "crs": "EPSG:5897", "rename": {"0": "parcel_no"},
         "defaults": {"commune_code": "31135", "sheet_no": 7}}]}))
    db = str(tmp_path / "s.sqlite")
    run_import("import", "--db", db, "--manifest", str(m))
    con = spatialite(db)
    assert con.execute("SELECT name, round(length_m, 3) FROM roads").fetchall() == [("Đường 3 Tháng 2", 500.0)]
    assert con.execute("SELECT parcel_key, parcel_no, area_m2 FROM cadastral_parcels").fetchall() == \
        [("311350070012", 12, 10000.0)]
