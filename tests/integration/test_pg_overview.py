# SPDX-License-Identifier: MIT
"""Issues 22 + 24: the land-use overview (spp_overview, the parcels at z12-14) on a PostGIS store.
The same C code makes it on both backends, so `spp import --db postgresql://...` and `spp copy`
write the very cells (areas to the last bit) the SpatiaLite import writes, and a replica's
z12-14 tiles are byte for byte SpatiaLite's. A replica reads the overview (its state is at the
layer's version, and what is in the table is what the tile shows), a re-import of one changed
parcel rewrites only the cells around it, and an edit through a replica keeps it in step."""
import json
import os

import pytest

from conftest import Server, run_spp, spatialite
from pg_fixture import pg_cluster  # noqa: F401  (the fixture)
from test_edit_overview import editable_parcels, fid_of, lu_of
from test_pg_import import copy_out
from test_tile_budget import GRID, overview_counts, truth, write_parcels

LAYER = "cadastral_parcels"
COLS = "level, x, y, has_class, class, n, area"


def lite_rows(db):
    con = spatialite(db)
    try:
        return [tuple(r) for r in con.execute(
            f"SELECT {COLS} FROM spp_overview WHERE layer = ? ORDER BY level, x, y, has_class,"
            " class", (LAYER,))]
    finally:
        con.close()


def pg_rows(cluster, uri):
    rows = copy_out(cluster, uri, f"SELECT {COLS} FROM spp_overview WHERE layer = '{LAYER}'"
                                  ' ORDER BY level, x, y, has_class, class COLLATE "C"')
    return [(int(a), int(b), int(c), int(d), e, int(f), float(g)) for a, b, c, d, e, f, g in rows]


def pg_state(cluster, uri):
    """(the overview's version, the layer's version) on PostGIS."""
    r = copy_out(cluster, uri, "SELECT o.version, l.version FROM spp_overview_state o JOIN"
                               f" spp_layers l USING (layer) WHERE layer = '{LAYER}'")
    return tuple(int(v) for v in r[0]) if r else None


def overview_tiles(rows):
    """Every z12-14 tile the overview has cells in: (z, x, y)."""
    return sorted({(lv - 5, x >> 5, y >> 5) for lv, x, y, *_ in rows})


def same_tiles(a, b, tiles):
    """a and b answer every tile with the same bytes; how many had features."""
    n = 0
    for z, x, y in tiles:
        path = f"/tiles/{LAYER}/{z}/{x}/{y}.mvt"
        sa, _, ba = a.get(path)
        sb, _, bb = b.get(path)
        assert sa == sb == 200, (path, sa, sb)
        assert ba == bb, (path, len(ba), len(bb))
        n += bool(ba)
    return n


@pytest.fixture(scope="module")
def pg_demo(pg_cluster, demo):
    uri = pg_cluster.new_db("overview")
    p = run_spp("import", "--db", uri, "--manifest", os.path.join(demo["src"], "manifest.json"),
                check=False)
    assert p.returncode == 3, p.stderr[-2000:]  # as the SpatiaLite import: 3 planted rejects
    return uri


def test_import_makes_spatialites_overview_and_tiles(pg_cluster, demo, pg_demo, tmp_path):
    lite = lite_rows(demo["db"])
    assert lite, "the demo city has an overview of its parcels"
    # the same cells, areas to the last bit, in step with the layer
    assert pg_rows(pg_cluster, pg_demo) == lite
    state = pg_state(pg_cluster, pg_demo)
    assert state and state[0] == state[1], state
    # a replica's z12-14 tiles are SpatiaLite's, byte for byte
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    a, b = Server(demo["db"], str(tmp_path / "a")), Server(pg_demo, str(tmp_path / "b"))
    try:
        tiles = overview_tiles(lite)
        assert {z for z, _, _ in tiles} == {12, 13, 14}
        assert same_tiles(a, b, tiles) == len(tiles)
    finally:
        a.stop(), b.stop()


def test_copy_brings_the_overview_and_replicas_read_it(pg_cluster, demo, tmp_path):
    uri = pg_cluster.new_db("overview_copy")
    run_spp("init", "--db", uri)
    run_spp("copy", "--db", uri, "--from", demo["db"])
    lite = lite_rows(demo["db"])
    assert pg_rows(pg_cluster, uri) == lite
    state = pg_state(pg_cluster, uri)
    assert state and state[0] == state[1], state
    # the tiles come from the table: a class renamed there is what a replica shows
    z, x, y = overview_tiles(lite)[0]
    name = pg_cluster.psql("SELECT class FROM spp_overview WHERE layer = 'cadastral_parcels'"
                           f" AND level = {z + 5} AND x >> 5 = {x} AND y >> 5 = {y}"
                           " AND has_class = 1 ORDER BY area DESC LIMIT 1", db="overview_copy")
    pg_cluster.psql(f"UPDATE spp_overview SET class = 'tampered' WHERE class = '{name}'",
                    db="overview_copy")
    s = Server(uri, str(tmp_path))
    try:
        st, _, body = s.get(f"/tiles/{LAYER}/{z}/{x}/{y}.mvt")
        assert st == 200 and b"tampered" in body
        # out of step (the layer moved on without it): the features are read instead
        pg_cluster.psql("UPDATE spp_layers SET version = version + 1 WHERE layer ="
                        " 'cadastral_parcels'", db="overview_copy")
        st, _, body = s.get(f"/tiles/{LAYER}/{z + 1}/{2 * x}/{2 * y}.mvt")
        assert st == 200 and b"tampered" not in body
    finally:
        s.stop()


def xmins(cluster, uri):
    """Each overview row's writing transaction (xmin): which rows a batch rewrote."""
    return {tuple(r[:5]): r[5] for r in copy_out(
        cluster, uri, "SELECT level, x, y, has_class, class, xmin::text FROM spp_overview"
                      f" WHERE layer = '{LAYER}'")}


def test_reimport_of_one_parcel_rewrites_only_its_cells(pg_cluster, tmp_path):
    uri = pg_cluster.new_db("overview_reimport")
    lite = str(tmp_path / "lite.sqlite")
    src = str(tmp_path / "parcels.geojson")
    write_parcels(src)
    for db in (lite, uri):
        run_spp("import", "--db", db, "--layer", LAYER, src)
    assert pg_rows(pg_cluster, uri) == lite_rows(lite)
    before = xmins(pg_cluster, uri)
    v0 = pg_state(pg_cluster, uri)
    write_parcels(src, changed={5})
    for db in (lite, uri):
        run_spp("import", "--db", db, "--layer", LAYER, src)
    after = xmins(pg_cluster, uri)
    # one changed area: a few cells rewritten, the rest untouched
    rewritten = [k for k, v in after.items() if before.get(k) != v]
    assert 0 < len(rewritten) < len(before) // 4, (len(rewritten), len(before))
    assert any(k[4] == "SKC" for k in rewritten)
    # in step, and the same cells as SpatiaLite's after the same two imports
    v1 = pg_state(pg_cluster, uri)
    assert v1[0] == v1[1] == v0[1] + 1, (v0, v1)
    assert pg_rows(pg_cluster, uri) == lite_rows(lite)


def test_edit_through_a_replica_keeps_the_overview_in_step(pg_cluster, tmp_path):
    cfg = editable_parcels(tmp_path)
    uri = pg_cluster.new_db("overview_edit")
    src = str(tmp_path / "parcels.geojson")
    write_parcels(src)
    run_spp("import", "--db", uri, "--config", cfg, "--layer", LAYER, src)
    v0 = pg_state(pg_cluster, uri)
    key = run_spp("keys", "--db", uri, "--config", cfg, "add", "--role", "editor", "--name",
                  "ov").stdout.split()[0]
    # the same edits into SpatiaLite, for the cells
    lite = str(tmp_path / "lite.sqlite")
    run_spp("import", "--db", lite, "--config", cfg, "--layer", LAYER, src)
    lkey = run_spp("keys", "--db", lite, "--config", cfg, "add", "--role", "editor", "--name",
                   "ov").stdout.split()[0]
    (tmp_path / "pg").mkdir(), (tmp_path / "lite").mkdir()
    s = Server(uri, str(tmp_path / "pg"), config=cfg)
    sl = Server(lite, str(tmp_path / "lite"), config=cfg)
    try:
        with open(src, encoding="utf-8") as f:
            doc = json.load(f)
        # the same fids on both stores (the import keeps the sources' order)
        fids = {i: fid_of(lite, i) for i in (5, 40, GRID * GRID - 3)}
        moved = doc["features"][40]["geometry"]
        for ring in moved["coordinates"]:
            for pt in ring:
                pt[0] += 0.0137
        for srv, k in ((s, key), (sl, lkey)):
            h = {"X-API-Key": k, "Content-Type": "application/geo+json"}
            base = f"/collections/{LAYER}/items"

            def edit(method, i, body=None):
                path = f"{base}/{fids[i]}"
                etag = srv.get(path)[1]["ETag"]
                st, _, b = srv.get(path, headers={**h, "If-Match": etag}, method=method,
                                   data=json.dumps(body).encode() if body else None)
                assert st == 204, b

            edit("PATCH", 5, {"type": "Feature", "properties": {"lu_display": "SKC"}})
            edit("PATCH", 40, {"type": "Feature", "geometry": moved})
            edit("DELETE", GRID * GRID - 3)
        v1 = pg_state(pg_cluster, uri)
        assert v1[0] == v1[1] == v0[1] + 3, (v0, v1)
        assert pg_rows(pg_cluster, uri) == lite_rows(lite)
        expect = truth({5})
        expect[lu_of(GRID * GRID - 3)] -= 1
        for z, (per, _) in overview_counts(s, tmp_path).items():
            assert per == expect, (z, per)
        assert same_tiles(s, sl, overview_tiles(lite_rows(lite))) > 0
    finally:
        s.stop(), sl.stop()
