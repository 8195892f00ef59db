# SPDX-License-Identifier: MIT
"""spp import into a PostGIS store (issue 24) against a throw-away cluster (pg_fixture.py): the
demo city imported through `spp import --db postgresql://...` has, layer by layer, the rows,
attributes and geometries (WKB, byte for byte) of the SpatiaLite import of the same sources, and
the same import records (spp_layers, spp_findings, spp_changes, spp_feature_changes, spp_sources,
spp_layer_history, spp_imports); a batch that fails (a truncated .shp, a manifest entry naming a
missing file, a layer the shrink guard refuses) leaves the database exactly as it was and exits
1; a dry run writes nothing; an unchanged re-import writes no changed areas; a re-import with one feature changed records only it, as
SpatiaLite does, and a server on the PostGIS store answers with the new value; the load API's
unit test (tests/unit/test_import_load.c) passes on PostGIS."""
import csv
import io
import json
import os
import shutil
import subprocess
import urllib.parse

import pytest

from conftest import ROOT, SPP, Server, run_spp, spatialite
from pg_fixture import PSQL, pg_cluster  # noqa: F401  (the fixture)

NULL = "<NULL>"


def copy_out(cluster, uri, sql):
    """Rows of sql as lists of strings (NULL as NULL), through psql's COPY ... TO STDOUT."""
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, NULL '{NULL}')", uri],
                       capture_output=True, text=True, env=cluster.env(), check=True)
    return list(csv.reader(io.StringIO(p.stdout)))


def same(lite, pg):
    """A SpatiaLite value and PostgreSQL's text of the same column."""
    if lite is None:
        return pg == NULL
    if isinstance(lite, float):
        return pg != NULL and float(pg) == lite
    if isinstance(lite, int):
        return pg != NULL and int(pg) == lite
    return str(lite) == pg


def layers_of(lite_db):
    con = spatialite(lite_db)
    ids = [r[0] for r in con.execute("SELECT f_table_name FROM geometry_columns ORDER BY 1")]
    cols = {i: [r[1] for r in con.execute(f'PRAGMA table_info("{i}")')
                if r[1] not in ("fid", "geom")] for i in ids}
    con.close()
    return cols


def compare_layer(cluster, uri, lite_db, layer, cols):
    q = ", ".join(f'"{c}"' for c in cols)
    con = spatialite(lite_db)
    lite = con.execute(f'SELECT fid, {q}, lower(hex(AsBinary(geom))) FROM "{layer}"'
                       " ORDER BY fid").fetchall()
    con.close()
    pg = copy_out(cluster, uri, f"SELECT fid, {q}, encode(ST_AsBinary(geom, 'NDR'), 'hex')"
                                f' FROM "{layer}" ORDER BY fid')
    assert len(lite) == len(pg), layer
    for a, b in zip(lite, pg):
        for name, x, y in zip(["fid"] + cols + ["geom"], a, b):
            if name == "geom" and x == "":
                x = None  # no geometry
            assert same(x, y), (layer, a[0], name, x, y)
    return len(lite)


# Metadata columns compared (times and the report's own paths and timings differ by nature).
META = {
    "spp_layers": ("layer", "layer, version, n_features, minx, miny, maxx, maxy, import_batch"),
    "spp_findings": ("id", "batch, layer, src_file, src_row, severity, kind, message"),
    "spp_changes": ("id", "layer, batch, minx, miny, maxx, maxy"),
    "spp_feature_changes": ("id", "layer, batch, op, key, fid, rowval"),
    "spp_sources": ("batch, layer, path", "batch, layer, path, abs_path, position"),
    "spp_layer_history": ("batch, layer", "batch, layer, n_features"),
    "spp_imports": ("batch", "batch, sources, counts, checksums"),
}


def compare_meta(cluster, uri, lite_db, tables=META):
    con = spatialite(lite_db)
    for t, (order, cols) in tables.items():
        order_pg = ", ".join(f'{c.strip()} COLLATE "C"' if c.strip() in
                             ("layer", "batch", "path") else c for c in order.split(","))
        lite = con.execute(f"SELECT {cols} FROM {t} ORDER BY {order}").fetchall()
        pg = copy_out(cluster, uri, f"SELECT {cols} FROM {t} ORDER BY {order_pg}")
        assert len(lite) == len(pg), (t, len(lite), len(pg))
        for a, b in zip(lite, pg):
            assert all(same(x, y) for x, y in zip(a, b)), (t, a, b)
    con.close()


def fingerprint(cluster, uri):
    """Every table of the database, row by row (md5 of its sorted text rows)."""
    tables = cluster.psql("SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables"
                          " WHERE schemaname = 'public'", db=uri.rsplit("/", 1)[1]).split()
    sql = " UNION ALL ".join(
        f"SELECT '{t}', count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"
        f' FROM "{t}" x' for t in tables)
    # sorted: UNION ALL has no order (a parallel append mixes the tables' lines)
    return "\n".join(sorted(cluster.psql(sql, db=uri.rsplit("/", 1)[1]).splitlines()))


@pytest.fixture(scope="module")
def imported(pg_cluster, demo):
    uri = pg_cluster.new_db("imported")
    rep = os.path.join(demo["dir"], "pg-report")
    p = run_spp("import", "--db", uri, "--manifest", os.path.join(demo["src"], "manifest.json"),
                "--report", rep, check=False)
    assert p.returncode == 3, p.stderr[-2000:]  # as the SpatiaLite import: 3 planted rejects
    with open(os.path.join(rep, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    return {"uri": uri, "report": report, "stdout": p.stdout}


def test_demo_city_is_the_spatialite_import(pg_cluster, demo, imported):
    uri, lite_db = imported["uri"], demo["db"]
    layers = layers_of(lite_db)
    assert len(layers) == 24
    n = sum(compare_layer(pg_cluster, uri, lite_db, layer, cols)
            for layer, cols in layers.items())
    assert n == demo["report"]["written"] == imported["report"]["written"] > 1000
    compare_meta(pg_cluster, uri, lite_db)
    # the report says the same things (its store, times and thumbnails aside)
    for k in ("batch", "read", "written", "rejected", "refused", "failed"):
        assert imported["report"][k] == demo["report"][k], k
    assert imported["report"]["store"] == uri
    # spp check finds the PostGIS store consistent with the catalog and its import history
    p = run_spp("check", "--db", uri, check=False)
    assert p.returncode == 0, p.stdout + p.stderr


def broken_sources(demo, tmp_path):
    src = str(tmp_path / "src")
    shutil.copytree(demo["src"], src)
    return src


def test_failed_batches_leave_postgis_unchanged(pg_cluster, demo, imported, tmp_path):
    uri = imported["uri"]
    before = fingerprint(pg_cluster, uri)
    assert "cadastral_parcels" in before
    # a truncated .shp in the middle of the batch: the layers before it were already replaced
    src = broken_sources(demo, tmp_path)
    shp = os.path.join(src, "giao_thong", "tim_duong.shp")
    with open(shp, "r+b") as f:
        f.truncate(os.path.getsize(shp) // 2)
    p = run_spp("import", "--db", uri, "--manifest", os.path.join(src, "manifest.json"),
                check=False)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "tim_duong.shp" in p.stderr
    assert fingerprint(pg_cluster, uri) == before
    # a manifest entry naming a file that is not there
    with open(os.path.join(demo["src"], "manifest.json"), encoding="utf-8") as f:
        m = json.load(f)
    m["sources"].append({"path": "giao_thong/khong_co.shp", "layer": "roads"})
    shutil.rmtree(src), shutil.copytree(demo["src"], src)
    bad = os.path.join(src, "bad.json")
    with open(bad, "w", encoding="utf-8") as f:
        json.dump(m, f)
    p = run_spp("import", "--db", uri, "--manifest", bad, check=False)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "khong_co.shp" in p.stderr
    assert fingerprint(pg_cluster, uri) == before
    # a dry run reads everything and writes nothing
    p = run_spp("import", "--db", uri, "--manifest", os.path.join(src, "manifest.json"),
                "--dry-run", check=False)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert fingerprint(pg_cluster, uri) == before
    # the shrink guard: a layer that would lose most of its features is refused
    path = os.path.join(src, "cong_trinh", "cong_trinh_cong_cong.geojson")
    with open(path, encoding="utf-8") as f:
        gj = json.load(f)
    gj["features"] = gj["features"][:3]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(gj, f, ensure_ascii=False)
    p = run_spp("import", "--db", uri, "--layer", "public_facilities", path, check=False)
    assert p.returncode == 1 and "refused" in p.stderr, (p.returncode, p.stderr)
    assert fingerprint(pg_cluster, uri) == before


def item(srv, layer, fid):
    st, _, body = srv.get(f"/collections/{layer}/items/{fid}?f=json")
    assert st == 200, body[:300]
    return json.loads(body)["properties"]


def test_reimport_changes_only_the_changed_feature(pg_cluster, demo, imported, tmp_path):
    uri = imported["uri"]
    lite_db = str(tmp_path / "lite.sqlite")
    shutil.copy(demo["db"], lite_db)
    # the same sources again: no changed area (spp_changes); the change feed as on SpatiaLite
    # (the same batch name again: its rows count as the batch's, there as here)
    count = "SELECT count(*) FROM spp_changes"
    n_changes = pg_cluster.psql(count, db="imported")
    for db in (lite_db, uri):
        p = run_spp("import", "--db", db, "--manifest",
                    os.path.join(demo["src"], "manifest.json"), check=False)
        assert p.returncode == 3, p.stderr
    assert pg_cluster.psql(count, db="imported") == n_changes
    compare_meta(pg_cluster, uri, lite_db)
    # one public facility renamed: the same batch into the copy of the SpatiaLite store and into
    # PostGIS, with a server on PostGIS looking
    src = str(tmp_path / "src")
    shutil.copytree(demo["src"], src)
    path = os.path.join(src, "cong_trinh", "cong_trinh_cong_cong.geojson")
    with open(path, encoding="utf-8") as f:
        gj = json.load(f)
    old_name = gj["features"][5]["properties"]["ten"]
    gj["features"][5]["properties"]["ten"] = "Nhà văn hoá mới"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(gj, f, ensure_ascii=False)
    m = {"batch": "rename", "sources": [{"path": "cong_trinh/cong_trinh_cong_cong.geojson",
                                         "layer": "public_facilities"}]}
    man = os.path.join(src, "rename.json")
    with open(man, "w", encoding="utf-8") as f:
        json.dump(m, f)
    versions = copy_out(pg_cluster, uri, "SELECT layer, version FROM spp_layers"
                                         " WHERE layer <> 'public_facilities' ORDER BY layer")
    srv = Server(uri, str(tmp_path))
    try:
        fid = int(copy_out(pg_cluster, uri, "SELECT fid FROM public_facilities WHERE"
                                            f" name = '{old_name}'")[0][0])
        assert item(srv, "public_facilities", fid)["name"] == old_name
        run_spp("import", "--db", lite_db, "--manifest", man)
        run_spp("import", "--db", uri, "--manifest", man)
        assert item(srv, "public_facilities", fid)["name"] == "Nhà văn hoá mới"
    finally:
        srv.stop()
    # the change feed and the changed areas: the one feature, as on SpatiaLite
    fc = copy_out(pg_cluster, uri, "SELECT op, fid FROM spp_feature_changes WHERE batch LIKE"
                                   " 'rename%'")
    assert fc == [["update", str(fid)]]
    assert copy_out(pg_cluster, uri, "SELECT DISTINCT layer FROM spp_changes WHERE batch LIKE"
                                     " 'rename%'") == [["public_facilities"]]
    compare_meta(pg_cluster, uri, lite_db)
    compare_layer(pg_cluster, uri, lite_db, "public_facilities",
                  layers_of(lite_db)["public_facilities"])
    # the other layers were not touched
    assert copy_out(pg_cluster, uri, "SELECT layer, version FROM spp_layers"
                                     " WHERE layer <> 'public_facilities' ORDER BY layer") == versions


def test_import_into_an_empty_database(pg_cluster, demo, tmp_path):
    """spp import makes the schema itself, as it makes a SpatiaLite file."""
    uri = pg_cluster.new_db("fresh")
    p = run_spp("import", "--db", uri, "--layer", "public_facilities",
                os.path.join(demo["src"], "cong_trinh", "cong_trinh_cong_cong.geojson"),
                check=False)
    assert p.returncode == 0, p.stderr
    assert pg_cluster.psql("SELECT n_features FROM spp_layers WHERE layer ="
                           " 'public_facilities'", db="fresh") == "24"
    assert pg_cluster.psql("SELECT count(*) FROM public_facilities", db="fresh") == "24"


def test_load_api_unit_test_on_postgis(pg_cluster):
    """tests/unit/test_import_load.c, the load API's contract through store.h alone, run against
    an empty PostGIS database (SPP_TEST_PG_URI) instead of a SpatiaLite file."""
    # the unit test built with the spp under test (make asan: build/asan/tests/), else the
    # default build's, made now if need be
    prog = os.path.join(os.path.dirname(SPP), "tests", "test_import_load")
    if not os.path.exists(prog):
        prog = os.path.join(ROOT, "build", "tests", "test_import_load")
        subprocess.run(["make", "-s", "build/tests/test_import_load"], cwd=ROOT, check=True,
                       capture_output=True)
    uri = pg_cluster.new_db("unit")
    p = subprocess.run([prog], cwd=ROOT,
                       capture_output=True, text=True, env=pg_cluster.env(SPP_TEST_PG_URI=uri))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().endswith(" passed, 0 failed") and int(p.stdout.split()[0]) > 60
    assert pg_cluster.psql("SELECT version, n_features FROM spp_layers WHERE layer ="
                           " 'admin_units'", db="unit") == "3|4"


def test_import_through_pgbouncer_in_transaction_mode(pg_cluster, demo):
    """The batch's transaction (its COPY and the change feed's temporary table, dropped at
    commit) works through pgbouncer in transaction mode, twice on one pool of one connection."""
    pg_cluster.new_db("bounced")
    port = pg_cluster.start_pgbouncer(pool_size=1)
    try:
        uri = f"postgresql://spp@127.0.0.1:{port}/bounced"
        src = os.path.join(demo["src"], "cong_trinh", "cong_trinh_cong_cong.geojson")
        for _ in range(2):
            p = run_spp("import", "--db", uri, "--layer", "public_facilities", src, check=False)
            assert p.returncode == 0, p.stderr
        assert pg_cluster.psql("SELECT n_features, version FROM spp_layers WHERE layer ="
                               " 'public_facilities'", db="bounced") == "24|2"
    finally:
        pg_cluster.stop_pgbouncer()
