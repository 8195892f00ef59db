# SPDX-License-Identifier: MIT
"""The address search's trigram index (store/search.c): the demo city's store as imported (with
the index) against a copy without it (a store made before: scanned, said once in the log) give
the same /api/v1/search answers on random patterns; rows written by any writer after the index
was built are still found (the dirty list); spp init builds the index of an old store; SQLite's
plan for the index's GLOB reads the FTS5 trigram table."""
import json
import random
import shutil
import sqlite3
import urllib.parse

import pytest

from conftest import Server, run_spp, spatialite

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
