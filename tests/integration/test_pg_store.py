# SPDX-License-Identifier: MIT
"""The PostGIS store backend (issue 24) against a throw-away PostgreSQL 15 + PostGIS cluster
(pg_fixture.py): init, check and keys on a postgresql:// URI; the password only from PGPASSWORD;
a SpatiaLite store copied into PostGIS by spp (spp copy: every layer through the store's query
path into COPY) answers every recorded transcript byte for byte; two replicas on one database
answer alike and both see a re-published layer at once, tiles included; a database that goes
away makes /readyz and queries 503 and the replicas recover by themselves."""
import json
import os
import re
import shutil
import time
import urllib.parse

import pytest

import subprocess

from conftest import ROOT, SPP, Server, free_port, run_spp
from pg_fixture import PSQL as PSQL_BIN, Cluster, pg_cluster  # noqa: F401  (the fixture)
import test_transcripts as tr


def spp_ok(*args):
    return run_spp(*args).stdout


# ---- the command line ----

def test_init_check_keys(pg_cluster):
    uri = pg_cluster.new_db()
    out = spp_ok("init", "--db", uri)
    assert "store ready, 24 layers, storage CRS EPSG:5897" in out
    spp_ok("init", "--db", uri)  # again: nothing to do, no noise
    assert "matches the catalog (24 layers)" in spp_ok("check", "--db", uri)
    # the schema is the SpatiaLite store's: typed columns, geometry in the storage CRS, GiST
    assert pg_cluster.psql("SELECT type || ' ' || srid FROM geometry_columns WHERE"
                           " f_table_name = 'cadastral_parcels'", db=uri.rsplit("/", 1)[1]) \
        == "MULTIPOLYGON 5897"
    assert "gist" in pg_cluster.psql("SELECT indexdef FROM pg_indexes WHERE indexname ="
                                     " 'idx_roads_geom'", db=uri.rsplit("/", 1)[1]).lower()
    key = spp_ok("keys", "--db", uri, "add", "--role", "planner", "--name", "pg").split()[0]
    assert key.startswith("spp_")
    listing = spp_ok("keys", "--db", uri, "list").splitlines()
    assert listing[0].startswith("ID\tROLE")
    assert listing[1].split("\t")[1].strip() == "planner" and listing[1].endswith("pg")
    assert "key 1 revoked" in spp_ok("keys", "--db", uri, "revoke", "1")
    assert "\trevoked" not in listing[1] and "active" not in spp_ok("keys", "--db", uri, "list") \
        .splitlines()[1]
    # check finds a column whose type is not the catalog's
    db = uri.rsplit("/", 1)[1]
    pg_cluster.psql("ALTER TABLE roads ALTER COLUMN lanes TYPE text", db=db)
    p = run_spp("check", "--db", uri, check=False)
    assert p.returncode == 1 and "roads: column lanes has type text, catalog says bigint" in p.stdout


def test_password_never_on_the_command_line(pg_cluster):
    uri = pg_cluster.new_db()
    with_pw = uri.replace("spp@", f"spp:{pg_cluster.password}@")
    for cmd in (["init"], ["check"], ["keys"], ["serve"]):
        args = [cmd[0], "--db", with_pw] + (["list"] if cmd[0] == "keys" else [])
        p = run_spp(*args, check=False, timeout=20)
        assert p.returncode == 1, (cmd, p.stderr)
        assert "give it in PGPASSWORD or ~/.pgpass" in p.stderr, p.stderr
    p = run_spp("init", "--db", uri + "?password=x", check=False)
    assert p.returncode == 1 and "PGPASSWORD" in p.stderr
    # a wrong password in the environment: libpq's own message, exit 1
    p = run_spp("init", "--db", uri, check=False, env=pg_cluster.env(PGPASSWORD="wrong"))
    assert p.returncode == 1 and "password authentication failed" in p.stderr, p.stderr


def test_seed_needs_a_replicas_cache_file(pg_cluster, tmp_path):
    """A PostGIS store has no cache file of its own: seed fills a replica's
    (test_pg_ops.py: test_seed_warms_a_replica)."""
    uri = pg_cluster.new_db()
    spp_ok("init", "--db", uri)
    p = run_spp("seed", "--db", uri, "--layer", "roads", "--zoom", "14", check=False)
    assert p.returncode == 2 and "--tile-cache FILE or --listen" in p.stderr, p.stderr


# ---- the transcripts on PostGIS ----

@pytest.fixture(scope="module")
def pg_servers(pg_cluster, features_store, workdir):
    import query_fixture
    qpath = os.path.join(workdir, "pg_transcripts_query.sqlite")
    if os.path.exists(qpath):
        os.remove(qpath)
    query_fixture.build(qpath)
    cfg = os.path.join(workdir, "pg_transcripts.json")
    with open(cfg, "w") as f:
        json.dump({"public_url": "http://spp.test"}, f)
    out, keys = {}, {}
    for name, path in (("features", features_store), ("query", qpath)):
        uri = pg_cluster.new_db(f"tr_{name}")
        spp_ok("init", "--db", uri)
        copied = spp_ok("copy", "--db", uri, "--from", path)
        assert "copied from" in copied
        keys[name] = spp_ok("keys", "--db", uri, "add", "--role", "planner", "--name",
                            "transcripts").strip().splitlines()[0]
        out[name] = Server(uri, workdir, config=cfg)
    yield out, keys
    for s in out.values():
        s.stop()


@pytest.mark.parametrize("name", tr.FILES)
def test_transcript_on_postgis(pg_servers, name):
    """Every recorded answer, from a PostGIS store with the same data (editing included: WFS-T
    and Part 4 are advertised on both backends)."""
    srv, keys = pg_servers
    with open(os.path.join(tr.DIR, name), encoding="utf-8", newline="") as f:
        text = f.read()
    comments, store, method, target, headers, body, want = tr.parse(text)
    headers = {k: v.replace("{planner}", keys[store]) for k, v in headers.items()}
    status, hdrs, got = srv[store].get(target, headers=headers, method=method,
                                       data=body.encode("utf-8") if body is not None else None)
    assert status < 500, f"{name}: {status} {got[:300]!r}"
    assert tr.answer(status, hdrs, got) == want, f"{name}: PostGIS answers otherwise"


# ---- replicas ----

def demo_requests(lon, lat):
    """Feature, filter, tile and map requests over the demo city around (lon, lat)."""
    import math

    def tile(z):
        n = 2 ** z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return f"{z}/{x}/{y}"
    q = urllib.parse.quote
    box = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    poly = (f"POLYGON(({lon - 0.01} {lat - 0.01},{lon + 0.01} {lat - 0.01},{lon + 0.01} "
            f"{lat + 0.01},{lon - 0.01} {lat + 0.01},{lon - 0.01} {lat - 0.01}))")
    return [
        "/collections",
        "/collections/roads/items?limit=1000",
        "/collections/cadastral_parcels/items?limit=50&offset=20",
        f"/collections/cadastral_parcels/items?bbox={box}&limit=500",
        "/collections/cadastral_parcels/items?sortby=-area_m2&limit=30",
        "/collections/cadastral_parcels/items?filter=" + q("area_m2 BETWEEN 100 AND 500") +
        "&limit=500",
        "/collections/roads/items?filter=" + q("CASEI(name) LIKE CASEI('%đường%')"),
        "/collections/roads/items?filter=" + q("name LIKE '%Tr%'"),
        "/collections/roads/items?filter=" + q("NOT (road_class IN ('hem','do_thi_chinh'))"),
        "/collections/cadastral_parcels/items?limit=500&filter=" + q(f"S_INTERSECTS(geom,{poly})"),
        "/collections/cadastral_parcels/items?limit=500&filter=" + q(f"S_WITHIN(geom,{poly})"),
        "/collections/cadastral_parcels/items?filter=" +
        q(f"S_DWITHIN(geom,POINT({lon} {lat}),200,meters)"),
        "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=roads&COUNT=50",
        "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cadastral_parcels"
        "&RESULTTYPE=hits",
        f"/tiles/cadastral_parcels/{tile(15)}.mvt",
        f"/tiles/cadastral_parcels/{tile(17)}.mvt",
        f"/tiles/roads/{tile(14)}.mvt",
        f"/tiles/cadastral_parcels/{tile(16)}.png",
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels,roads&STYLES="
        f"&CRS=EPSG:4326&BBOX={lat - 0.01},{lon - 0.01},{lat + 0.01},{lon + 0.01}&WIDTH=256"
        "&HEIGHT=256&FORMAT=image/png",
        "/api/v1/land-funds?kind=vacant",
        f"/api/v1/land/at?lon={lon}&lat={lat}",
        "/api/v1/search?q=" + q("Nguyễn Văn Cừ"),
        "/api/v1/search?q=" + q("nguyen van cu"),
        "/api/v1/changes?layer=roads",
        "/api/v1/quality",
        "/collections/roads/metadata",
        "/csw?service=CSW&request=GetRecords&version=2.0.2&typeNames=csw:Record"
        "&resultType=results&elementSetName=full",
    ]


def answers(srv, paths):
    out = []
    for p in paths:
        status, hdrs, body = srv.get(p)
        body = body.replace(f"127.0.0.1:{srv.port}".encode(), b"127.0.0.1:PORT")
        try:  # the answer's own time (WFS, OGC API time stamps, data age) may differ
            body = tr.normalise(body.decode("utf-8")).encode("utf-8")
            body = re.sub(rb'"age_seconds":\d+', b'"age_seconds":*', body)
            body = re.sub(rb'timestamp="[^"]*"', b'timestamp="*"', body)
        except UnicodeDecodeError:
            pass
        out.append((p, status, body))
    return out


@pytest.fixture(scope="module")
def replicas(pg_cluster, demo_store, workdir):
    uri = pg_cluster.new_db("demo")
    spp_ok("init", "--db", uri)
    spp_ok("copy", "--db", uri, "--from", demo_store)
    servers = [Server(uri, workdir) for _ in range(2)]
    yield uri, servers
    for s in servers:
        s.stop()


def demo_center(srv):
    _, _, c = srv.json("/collections/cadastral_parcels")
    b = c["extent"]["spatial"]["bbox"][0]
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def test_two_replicas_answer_like_spatialite(replicas, demo_store, workdir):
    uri, (a, b) = replicas
    lite = Server(demo_store, workdir)
    try:
        paths = demo_requests(*demo_center(lite))
        want = answers(lite, paths)
        assert sum(1 for _, s, body in want if s == 200 and len(body) > 200) >= 15, want
        for srv in (a, b):
            got = answers(srv, paths)
            for (p, s1, b1), (_, s2, b2) in zip(want, got):
                assert s2 == s1 and b2 == b1, f"{p}: PostGIS {s2} ({len(b2)} bytes), " \
                                               f"SpatiaLite {s1} ({len(b1)} bytes)"
    finally:
        lite.stop()


def test_republish_reaches_both_replicas(replicas, demo_store, workdir):
    """A layer published again (spp import into a SpatiaLite file, then spp copy: one
    transaction) is what both replicas answer within 5 s, tiles included."""
    uri, (a, b) = replicas
    lon, lat = demo_center(a)
    tile_path = None
    for p in demo_requests(lon, lat):
        if p.startswith("/tiles/roads/"):
            tile_path = p
    before = [srv.get(tile_path)[2] for srv in (a, b)]
    edit = os.path.join(workdir, "pg_republish.sqlite")
    shutil.copy(demo_store, edit)
    src = os.path.join(workdir, "pg_roads.geojson")
    with open(src, "w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"road_id": f"R{i}", "name": f"Đường mới {i}",
                                               "road_class": "do_thi_chinh"},
             "geometry": {"type": "LineString",
                          "coordinates": [[lon - 0.003, lat + i * 0.001],
                                          [lon + 0.003, lat + i * 0.001]]}}
            for i in range(2)]}, f)
    p = run_spp("import", "--db", edit, "--layer", "roads", src, "--allow-shrink", "--quiet",
                check=False)
    assert p.returncode == 0, p.stderr
    spp_ok("copy", "--db", uri, "--from", edit)
    deadline = time.time() + 5
    while True:
        counts = [srv.json("/collections/roads/items?limit=1")[2]["numberMatched"]
                  for srv in (a, b)]
        tiles = [srv.get(tile_path)[2] for srv in (a, b)]
        if counts == [2, 2] and tiles[0] != before[0] and tiles[0] == tiles[1]:
            break
        assert time.time() < deadline, (counts, [len(t) for t in tiles])
        time.sleep(0.2)
    names = sorted(f["properties"]["name"] for f in
                   a.json("/collections/roads/items")[2]["features"])
    assert names == ["Đường mới 0", "Đường mới 1"]
    assert "matches the catalog" in spp_ok("check", "--db", uri)


def status(srv, path):
    try:
        return srv.get(path)[0]
    except OSError:
        return None


def test_database_away_is_503_and_replicas_recover(demo_store, workdir):
    """Its own cluster: the database is killed for 10 s under the replicas."""
    c = Cluster()
    old = os.environ.get("PGPASSWORD")
    try:
        os.environ["PGPASSWORD"] = c.password
        uri = c.new_db("away")
        spp_ok("init", "--db", uri)
        spp_ok("copy", "--db", uri, "--from", demo_store)
        servers = [Server(uri, workdir) for _ in range(2)]
        try:
            for s in servers:  # ready once its workers are connected
                deadline = time.time() + 10
                while status(s, "/readyz") != 200:
                    assert time.time() < deadline
                    time.sleep(0.05)
                assert status(s, "/collections/roads/items?limit=5") == 200
            c.kill()
            t0 = time.time()
            while time.time() - t0 < 10:
                for s in servers:
                    t = time.time()
                    assert status(s, "/readyz") == 503
                    assert status(s, "/collections/roads/items?limit=5") == 503
                    assert status(s, "/healthz") == 200  # alive, not ready
                    assert time.time() - t < 5  # nothing hangs
                time.sleep(0.5)
            c.restart()
            deadline = time.time() + 15
            for s in servers:
                while status(s, "/readyz") != 200 or \
                        status(s, "/collections/roads/items?limit=5") != 200:
                    assert time.time() < deadline, "a replica did not come back by itself"
                    time.sleep(0.2)
        finally:
            for s in servers:
                s.stop()
    finally:
        if old is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = old
        c.clean()


def test_audit_log_in_the_database(pg_servers, pg_cluster):
    """Restricted reads are audited in spp_audit, one hash chain for every replica."""
    srv, keys = pg_servers
    uri = f"postgresql://spp@127.0.0.1:{pg_cluster.port}/tr_features"
    before = int(pg_cluster.psql("SELECT count(*) FROM spp_audit", db="tr_features"))
    status, _, _ = srv["features"].get("/collections/cadastral_parcels/items?limit=2",
                                       headers={"X-API-Key": keys["features"]})
    assert status == 200
    assert int(pg_cluster.psql("SELECT count(*) FROM spp_audit", db="tr_features")) > before
    out = spp_ok("audit", "--db", uri)
    assert out.splitlines()[0].startswith("SEQ\tTIME") and "cadastral_parcels" in out
    assert f"{uri} spp_audit: " in spp_ok("audit", "--db", uri, "verify")
    pg_cluster.psql("UPDATE spp_audit SET line = replace(line, '\"features\":2', '\"features\":9')"
                    " WHERE seq = (SELECT max(seq) FROM spp_audit)", db="tr_features")
    p = run_spp("audit", "--db", uri, "verify", check=False)
    assert p.returncode == 1 and "was edited (hash mismatch)" in p.stderr, p.stderr


def test_through_pgbouncer_in_transaction_mode(pg_cluster, replicas, workdir):
    """Four workers on two pooled server connections: no session state, same answers."""
    uri, (direct, _) = replicas
    port = pg_cluster.start_pgbouncer(pool_size=2)
    try:
        pooled = uri.replace(f":{pg_cluster.port}/", f":{port}/")
        assert pooled != uri
        assert "matches the catalog" in spp_ok("check", "--db", pooled)
        key = spp_ok("keys", "--db", pooled, "add", "--role", "planner").split()[0]
        srv = Server(pooled, workdir)
        try:
            paths = demo_requests(*demo_center(direct))
            want = answers(direct, paths)
            for _ in range(2):  # the statements of many requests interleave on two connections
                got = answers(srv, paths)
                for (p, s1, b1), (_, s2, b2) in zip(want, got):
                    assert s2 == s1 and b2 == b1, f"{p} through pgbouncer: {s2}, direct: {s1}"
            status, _, _ = srv.get("/collections/cadastral_parcels/items?limit=3",
                                   headers={"X-API-Key": key})  # an audited read
            assert status == 200
            assert srv.get("/readyz")[0] == 200
        finally:
            srv.stop()
    finally:
        pg_cluster.stop_pgbouncer()


def test_a_stuck_query_is_cancelled_at_the_time_limit(pg_cluster, replicas, workdir):
    """A table locked by another session: the request ends at limits.query_ms with the time
    limit's error (the statement cancelled on the server), never hangs, and the connection
    serves the next request."""
    uri, _ = replicas
    cfg = os.path.join(workdir, "pg_timed.json")
    with open(cfg, "w") as f:
        json.dump({"limits": {"query_ms": 400}}, f)
    srv = Server(uri, workdir, config=cfg)
    try:
        assert srv.get("/collections/roads/items?limit=2")[0] == 200
        locker = subprocess.Popen(
            [PSQL_BIN, "-X", "-q", "-c", "BEGIN; LOCK TABLE roads IN ACCESS EXCLUSIVE MODE;"
             " SELECT pg_sleep(4); COMMIT", uri],
            env=pg_cluster.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)  # the lock is taken
            t = time.time()
            status, _, body = srv.get("/collections/roads/items?limit=2")
            took = time.time() - t
            assert 400 <= status < 600 and b"time limit" in body, (status, body[:300])
            assert took < 2.0, took
            # other tables answer meanwhile
            assert srv.get("/collections/cadastral_parcels/items?limit=2")[0] == 200
        finally:
            locker.wait(timeout=10)
        assert srv.get("/collections/roads/items?limit=2")[0] == 200
    finally:
        srv.stop()


def serve_with(db, tmpdir, extra):
    """conftest's Server, started with more `spp serve` arguments."""
    s = Server.__new__(Server)
    s.port = free_port()
    s.base = f"http://127.0.0.1:{s.port}"
    s.log = open(os.path.join(tmpdir, f"serve-{s.port}.log"), "w")
    s.proc = subprocess.Popen([SPP, "serve", "--db", db, "--listen", f"127.0.0.1:{s.port}",
                               "--threads", "4", *extra], stdout=s.log,
                              stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.time() + 20
    while status(s, "/healthz") != 200:
        assert s.proc.poll() is None and time.time() < deadline, "spp serve did not start"
        time.sleep(0.05)
    return s


def test_db_read_queries_a_streaming_replica(demo_store, workdir):
    """--db-read: the workers read from a standby (they go on answering while the primary is
    away), and what the primary has reaches them."""
    c = Cluster()
    old = os.environ.get("PGPASSWORD")
    try:
        os.environ["PGPASSWORD"] = c.password
        uri = c.new_db("city")
        spp_ok("init", "--db", uri)
        spp_ok("copy", "--db", uri, "--from", demo_store)
        sport = c.start_standby()
        standby = uri.replace(f":{c.port}/", f":{sport}/")
        p = run_spp("serve", "--db", "x.sqlite", "--db-read", standby, check=False)
        assert p.returncode == 2 and "--db-read" in p.stderr
        deadline = time.time() + 10  # the standby replays the copy
        while c.psql("SELECT count(*) FROM roads", db="city", port=sport) != \
                c.psql("SELECT count(*) FROM roads", db="city"):
            assert time.time() < deadline
            time.sleep(0.2)
        direct = Server(uri, workdir)
        srv = serve_with(uri, workdir, ["--db-read", standby])
        try:
            paths = demo_requests(*demo_center(direct))
            want = answers(direct, paths)
            got = answers(srv, paths)
            for (p, s1, b1), (_, s2, b2) in zip(want, got):
                assert s2 == s1 and b2 == b1, f"{p}: from the standby {s2}, primary {s1}"
            c.kill()  # the primary goes away: reads go on from the standby
            assert status(direct, "/collections/roads/items?limit=5") == 503
            assert status(srv, "/collections/roads/items?limit=5") == 200
            assert status(srv, "/readyz") == 200
        finally:
            srv.stop()
            direct.stop()
    finally:
        if old is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = old
        c.clean()
