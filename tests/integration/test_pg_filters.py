# SPDX-License-Identifier: MIT
"""Filters answer on PostGIS exactly as on SpatiaLite, in a database whose collation is
Vietnamese (ICU 'vi'), the way a city would create it: text comparisons are byte-wise on both
(not the collation's order), LIKE works on number fields (SQLite matches their text; PostgreSQL
has no bigint LIKE text), and case-insensitive matching folds Vietnamese capitals."""
import json
import os
import urllib.parse

import pytest

from conftest import Server, run_spp
from pg_fixture import pg_cluster  # noqa: F401  (the fixture)

FILTERS = [
    ("cadastral_parcels", "address < 'a'"),          # 'Số 11' < 'a' byte-wise, not in 'vi'
    ("cadastral_parcels", "address >= 'a'"),
    ("cadastral_parcels", "address BETWEEN 'A' AND 'a'"),
    ("cadastral_parcels", "parcel_key > '31120004'"),
    ("cadastral_parcels", "sheet_no LIKE '1%'"),     # an integer field
    ("cadastral_parcels", "area_m2 LIKE '13%'"),     # a real field
    ("cadastral_parcels", "id LIKE '1%'"),           # the feature id
    ("cadastral_parcels", "fid LIKE '5'"),
    ("cadastral_parcels", "CASEI(address) LIKE CASEI('%NGUYỄN TRÃI%')"),
    ("cadastral_parcels", "CASEI(address) = CASEI('SỐ 11 ĐƯỜNG NGUYỄN TRÃI, PHƯỜNG TÂN AN, "
                          "NINH KIỀU')"),
    ("roads", "name < 'Đ'"),
    ("roads", "CASEI(name) LIKE CASEI('%ĐƯỜNG%')"),
]


@pytest.fixture(scope="module")
def both(pg_cluster, features_store, workdir):
    name = "vi_collation"
    pg_cluster.psql(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                    "LOCALE_PROVIDER icu ICU_LOCALE 'vi' LOCALE 'C.UTF-8'", db="postgres")
    uri = f"postgresql://spp@127.0.0.1:{pg_cluster.port}/{name}"
    assert run_spp("init", "--db", uri).returncode == 0
    assert run_spp("copy", "--db", uri, "--from", features_store).returncode == 0
    key = run_spp("keys", "--db", uri, "add", "--role", "planner").stdout.strip().splitlines()[0]
    lite_key = run_spp("keys", "--db", features_store, "add", "--role", "planner").stdout.strip()
    pg, lite = Server(uri, workdir), Server(features_store, workdir)
    yield (pg, {"X-API-Key": key}), (lite, {"X-API-Key": lite_key})
    pg.stop()
    lite.stop()


def ids(srv, headers, layer, cql):
    q = urllib.parse.urlencode({"filter": cql, "filter-lang": "cql2-text", "limit": 1000})
    status, _, body = srv.get(f"/collections/{layer}/items?{q}", headers=headers)
    assert status == 200, f"{cql}: {status} {body[:300]!r}"
    return sorted(f["id"] for f in json.loads(body)["features"])


@pytest.mark.parametrize("layer,cql", FILTERS, ids=[c for _, c in FILTERS])
def test_filter_answers_alike(both, layer, cql):
    (pg, pgh), (lite, liteh) = both
    want = ids(lite, liteh, layer, cql)
    assert ids(pg, pgh, layer, cql) == want


def test_the_filters_discriminate(both):
    """The cases are not vacuous: the byte-wise ones split the rows, the folded ones match."""
    (_, _), (lite, h) = both
    all_ids = ids(lite, h, "cadastral_parcels", "parcel_key IS NOT NULL")
    lt = ids(lite, h, "cadastral_parcels", "address < 'a'")
    assert 0 < len(lt) < len(all_ids)
    assert ids(lite, h, "cadastral_parcels", "sheet_no LIKE '1%'")
    assert ids(lite, h, "cadastral_parcels", "id LIKE '1%'") == sorted(
        i for i in all_ids if str(i).startswith("1"))
    assert ids(lite, h, "cadastral_parcels", "CASEI(address) LIKE CASEI('%NGUYỄN TRÃI%')")
    assert ids(lite, h, "roads", "CASEI(name) LIKE CASEI('%ĐƯỜNG%')")


def test_a_republish_reloads_the_land_api_caches(pg_cluster, workdir):
    """spp copy of a store whose layer versions equal the published ones (a fresh store built
    again) still reaches the land API's per-worker caches: copied versions continue above the
    old ones."""
    import query_fixture
    from conftest import spatialite
    a, b = (os.path.join(workdir, f"republish_{n}.sqlite") for n in "ab")
    for p in (a, b):
        if os.path.exists(p):
            os.remove(p)
        query_fixture.build(p)
    con = spatialite(b)
    con.execute("UPDATE roads SET name = 'Đường Mới' WHERE road_id = 'R1'")
    con.commit()
    con.close()
    uri = pg_cluster.new_db("republish")
    assert run_spp("init", "--db", uri).returncode == 0
    assert run_spp("copy", "--db", uri, "--from", a).returncode == 0
    key = run_spp("keys", "--db", uri, "add", "--role", "investor").stdout.strip().split()[0]
    cfg = os.path.join(workdir, "republish.json")
    with open(cfg, "w") as f:
        json.dump({"threads": 1}, f)
    s = Server(uri, workdir, config=cfg)
    try:
        def roads():
            status, _, body = s.get("/api/v1/land-funds?kind=investment&limit=100",
                                    {"X-API-Key": key})
            assert status == 200, body[:300]
            return {(r.get("nearest_main_road") or {}).get("name")
                    for r in json.loads(body)["results"]}
        assert "Đường 30 Tháng 4" in roads()
        p = run_spp("copy", "--db", uri, "--from", b)
        assert p.returncode == 0, p.stderr
        got = roads()
        assert "Đường Mới" in got and "Đường 30 Tháng 4" not in got
    finally:
        s.stop()
