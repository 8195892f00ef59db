# SPDX-License-Identifier: MIT
"""The address search's trigram index (store/search.c): the demo city's store as imported (with
the index) against a copy without it (a store made before: scanned, said once in the log) give
the same /api/v1/search answers on random patterns; rows written by any writer after the index
was built are still found (the dirty list); spp init builds the index of an old store; SQLite's
plan for the index's GLOB reads the FTS5 trigram table."""
import json
import os
import random
import shutil
import sqlite3
import urllib.parse

import pytest

from conftest import Server, run_spp, spatialite
from pg_fixture import pg_cluster  # noqa: F401  (the fixture)

INDEX = "spp_search_cadastral_parcels_address"


def drop_index(path):
    con = sqlite3.connect(path)
    for t in ("_ai", "_ad", "_au"):
        con.execute(f'DROP TRIGGER "{INDEX}{t}"')
    con.execute(f'DROP TABLE "{INDEX}"')
    con.execute(f'DROP TABLE "{INDEX}_dirty"')
    con.commit()
    con.close()


def has_index(path):
    con = sqlite3.connect(path)
    n = con.execute("SELECT count(*) FROM sqlite_master WHERE name IN (?, ?)",
                    (INDEX, INDEX + "_dirty")).fetchone()[0]
    con.close()
    return n == 2


@pytest.fixture(scope="module")
def pair(demo_store, tmp_path_factory):
    d = tmp_path_factory.mktemp("search_index")
    indexed, scanned = str(d / "indexed.sqlite"), str(d / "scanned.sqlite")
    shutil.copy(demo_store, indexed)
    shutil.copy(demo_store, scanned)
    assert has_index(indexed)
    drop_index(scanned)
    servers = [Server(indexed, str(d)), Server(scanned, str(d))]
    yield indexed, scanned, servers, d
    for s in servers:
        s.stop()


def search(srv, text, limit=50):
    status, _, body = srv.get("/api/v1/search?limit=%d&q=%s" % (limit, urllib.parse.quote(text)))
    assert status == 200, (text, body[:300])
    return json.loads(body)


def addresses(path):
    con = sqlite3.connect(path)
    rows = [r[0] for r in con.execute("SELECT address FROM cadastral_parcels"
                                      " WHERE address IS NOT NULL ORDER BY fid")]
    con.close()
    return rows


def test_plan_reads_the_trigram_index(pair):
    indexed = pair[0]
    con = sqlite3.connect(indexed)
    plan = " ".join(r[3] for r in con.execute(
        f'EXPLAIN QUERY PLAN SELECT rowid FROM "{INDEX}" WHERE t GLOB ?', ("*tran phu*",)))
    assert "VIRTUAL TABLE INDEX" in plan and ":G" in plan, plan  # the GLOB goes to FTS5
    # the statement the store runs for the address search (filter/compile.c's fold LIKE on an
    # indexed field inside store/query.c's SELECT): parcels by primary key, never scanned
    con.create_function("spp_fold", 1, lambda s: s)
    where = (f'((fid IN (SELECT rowid FROM "{INDEX}" WHERE t GLOB ?) AND fid NOT IN (SELECT fid'
             f' FROM "{INDEX}_dirty")) OR (fid IN (SELECT fid FROM "{INDEX}_dirty") AND'
             ' spp_fold("address") LIKE ?))')
    plan = [r[3] for r in con.execute(
        "EXPLAIN QUERY PLAN SELECT fid, address FROM cadastral_parcels WHERE 1 AND (%s)"
        " ORDER BY fid LIMIT ? OFFSET ?" % where, ("*tran phu*", "%tran phu%", 20, 0))]
    assert not [p for p in plan if p.startswith("SCAN cadastral_parcels")], plan
    assert "SEARCH cadastral_parcels USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    # patterns with no run of 3 characters (FTS5 then reads its whole table) and with GLOB's
    # own wildcards escaped answer exactly what a substring test on the folded text does
    every = con.execute(f'SELECT rowid, t FROM "{INDEX}"').fetchall()
    for glob, sub in (("*an*", "an"), ("*9*", "9"), ("* *", " "), ("*[[]*", "["),
                      ("*uong*", "uong"), ("*a?h*", None)):
        got = {r[0] for r in con.execute(f'SELECT rowid FROM "{INDEX}" WHERE t GLOB ?', (glob,))}
        if sub is None:  # one character between "a" and "h"
            want = {r for r, t in every if any(t[i] == "a" and t[i + 2] == "h"
                                               for i in range(len(t) - 2))}
        else:
            want = {r for r, t in every if sub in t}
        assert got == want, glob
    # every folded address is in the index (the import filled it)
    n_idx = con.execute(f'SELECT count(*) FROM "{INDEX}"').fetchone()[0]
    n_rows = con.execute("SELECT count(*) FROM cadastral_parcels WHERE address IS NOT NULL"
                         " AND address <> ''").fetchone()[0]
    assert n_idx == n_rows > 100
    con.close()


def test_random_patterns_same_answers(pair):
    indexed, _, (with_index, without), _ = pair
    rows = addresses(indexed)
    assert len(rows) > 100
    rnd = random.Random(20261203)
    patterns = ["tran phu", "Trần Phú", "30 thang 4", "nguyen van cu", "đường", "duong",
                "zzzq", "xyz abc", "a_b", "10%", "ph*", "[ab]", "  Lê   Lợi  "]
    for _ in range(120):
        a = rnd.choice(rows)
        i = rnd.randrange(len(a))
        p = a[i:i + rnd.randint(3, 12)]
        if rnd.random() < 0.3:
            p = p.upper()
        patterns.append(p)
    found = 0
    for p in patterns:
        x, y = search(with_index, p), search(without, p)
        assert x == y, p
        found += any(h["match"] == "address" for h in x["results"])
    assert found > 60  # the substrings of real addresses are found


def test_rows_written_after_the_build_are_found(pair):
    indexed, scanned, (with_index, without), _ = pair
    for path in (indexed, scanned):  # a writer that is not spp: no spp_fold here
        con = spatialite(path)
        con.execute("UPDATE cadastral_parcels SET address = 'Hẻm Thử Nghiệm Quỳnh 77'"
                    " WHERE fid = (SELECT min(fid) FROM cadastral_parcels)")
        con.execute("UPDATE cadastral_parcels SET address = NULL"
                    " WHERE fid = (SELECT max(fid) FROM cadastral_parcels)")
        con.commit()
        con.close()
    for p in ("thu nghiem quynh", "HẺM THỬ", "quynh 77"):
        x = search(with_index, p)
        assert [h for h in x["results"] if h["match"] == "address"], p
        assert x == search(without, p), p
    con = sqlite3.connect(indexed)
    assert con.execute(f'SELECT count(*) FROM "{INDEX}_dirty"').fetchone()[0] == 2
    con.close()


def test_old_store_scans_says_so_and_init_builds_the_index(pair):
    _, scanned, (_, without), d = pair
    search(without, "tran phu")
    search(without, "nguyen")
    without.stop()
    with open(without.log.name, encoding="utf-8") as f:
        log = f.read()
    assert log.count("has no search index") == 1, log[-2000:]
    run_spp("init", "--db", scanned)
    assert has_index(scanned)
    con = sqlite3.connect(scanned)
    # the rebuilt index holds every folded address of the table as it is now
    n_idx = con.execute(f'SELECT count(*) FROM "{INDEX}"').fetchone()[0]
    n_rows = con.execute("SELECT count(*) FROM cadastral_parcels WHERE address IS NOT NULL"
                         " AND address <> ''").fetchone()[0]
    con.close()
    assert n_idx == n_rows
    again = Server(scanned, str(d))
    try:
        assert search(again, "thu nghiem quynh")["results"]
    finally:
        again.stop()
    with open(again.log.name, encoding="utf-8") as f:
        assert "has no search index" not in f.read()


def test_edits_keep_the_index_in_step(tmp_path):
    """An edit (OGC API Part 4) and a revert re-fold the written row into the index inside their
    transaction: nothing is left on the dirty list. vacant_land_fund.address is marked "search"
    in a copy of the catalog (the shipped catalog marks only parcels' address, not editable)."""
    from conftest import ROOT
    layers = tmp_path / "layers"
    shutil.copytree(os.path.join(ROOT, "layers"), layers)
    p = layers / "vacant_land_fund.json"
    d = json.loads(p.read_text(encoding="utf-8"))
    next(f for f in d["fields"] if f["name"] == "address")["search"] = True
    p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"layers_dir": str(layers)}))
    db = str(tmp_path / "ed.sqlite")
    run_spp("init", "--db", db, "--config", str(cfg))
    ed = run_spp("keys", "--db", db, "add", "--role", "editor", "--name", "e").stdout.split()[0]
    idx = "spp_search_vacant_land_fund_address"

    def index_rows():
        con = sqlite3.connect(db)
        rows = dict(con.execute(f'SELECT rowid, t FROM "{idx}"').fetchall())
        dirty = con.execute(f'SELECT count(*) FROM "{idx}_dirty"').fetchone()[0]
        con.close()
        return rows, dirty

    s = Server(db, str(tmp_path), config=str(cfg))
    try:
        path = "/collections/vacant_land_fund/items"
        h = {"X-API-Key": ed, "Content-Type": "application/geo+json"}
        sq = {"type": "Polygon", "coordinates": [[[105.78, 10.03], [105.781, 10.03],
                                                  [105.781, 10.031], [105.78, 10.031],
                                                  [105.78, 10.03]]]}
        body = {"type": "Feature", "geometry": sq,
                "properties": {"fund_id": "S-1", "public": True, "address": "Số 5 Đường Trần Phú"}}
        st, hd, b = s.get(path, headers=h, method="POST", data=json.dumps(body).encode())
        assert st == 201, b
        fid = int(hd["Location"].rsplit("/", 1)[1])
        assert index_rows() == ({fid: "so 5 duong tran phu"}, 0)
        st, hd, b = s.get(f"{path}/{fid}", headers={**h, "If-Match": hd["ETag"]}, method="PATCH",
                          data=json.dumps({"type": "Feature", "properties": {
                              "address": "  Hẻm   ĐẶNG Văn Ngữ "}}).encode())
        assert st == 204, b
        change = int(hd["X-Change-Id"])
        assert index_rows() == ({fid: "hem dang van ngu"}, 0)
        run_spp("revert", "--db", db, "--config", str(cfg), "--name", "t", str(change))
        assert index_rows() == ({fid: "so 5 duong tran phu"}, 0)
        st, hd, _ = s.get(f"{path}/{fid}")
        st, _, b = s.get(f"{path}/{fid}", headers={**h, "If-Match": hd["ETag"]}, method="DELETE")
        assert st == 204, b
        assert index_rows() == ({}, 0)
    finally:
        s.stop()


def test_postgis_trigram_index_same_answers(pg_cluster, pair):
    """PostGIS: spp init makes pg_trgm's GIN index on spp_fold(address); the planner can read it
    for the compiler's fold LIKE; a copy of the demo city answers every search as SpatiaLite."""
    indexed, _, (with_index, _), d = pair
    uri = pg_cluster.new_db("search")
    run_spp("init", "--db", uri)
    run_spp("copy", "--db", uri, "--from", indexed)
    db = uri.rsplit("/", 1)[1]
    idx = pg_cluster.psql("SELECT indexdef FROM pg_indexes WHERE indexname = '%s'" % INDEX, db=db)
    assert "gin" in idx.lower() and "gin_trgm_ops" in idx and "spp_fold" in idx, idx
    plan = pg_cluster.psql("SET enable_seqscan = off; EXPLAIN SELECT fid FROM cadastral_parcels"
                           " WHERE spp_fold(address) LIKE '%tran phu%' ESCAPE ''", db=db)
    assert INDEX in plan, plan
    pg = Server(uri, str(d))
    try:
        rnd = random.Random(7)
        rows = addresses(indexed)
        patterns = ["tran phu", "Trần Phú", "đường", "zzzq", "a_b", "10%", "ph*", "ab"]
        patterns += [rnd.choice(rows)[i:i + rnd.randint(3, 10)]
                     for i in (rnd.randrange(8) for _ in range(40))]
        for p in patterns:
            assert search(pg, p) == search(with_index, p), p
    finally:
        pg.stop()
