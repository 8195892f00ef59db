# SPDX-License-Identifier: MIT
"""PostGIS operations (issue 24): key usage counted at most once when the connection breaks
after the server ran the increment; keyed requests fail fast (503) while the usage database is
away, without queueing behind each other, and recover; a stream whose network stalls ends at
the request's time limit, also when its cancel request cannot reach the server (a partition:
helper threads send cancels, at most 8 at once); `spp seed` warms a replica's own tile cache
file, in step with the database's change log; `spp check` and `spp keys` on a database that
is away say so at once. The network's failures come from pg_proxy.py between spp and the cluster."""
import concurrent.futures
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, SPP, Server, free_port, run_spp
from pg_fixture import Cluster, pg_cluster  # noqa: F401  (the fixture)
from pg_proxy import Proxy
from test_pg_replicas import hits, tile_of, wait_ready
from test_pg_store import spp_ok, status


def road_point(pg_cluster, where, db):
    """fid, lon, lat (the middle of the road) of the road picked by where (ORDER BY ...)."""
    row = pg_cluster.psql(
        "SELECT fid, ST_X(p), ST_Y(p) FROM (SELECT fid, ST_Transform(ST_LineInterpolatePoint("
        f"ST_GeometryN(geom, 1), 0.5), 4326) p FROM roads {where} LIMIT 1) t", db=db)
    fid, lon, lat = row.split("|")
    return int(fid), float(lon), float(lat)


def move_road(pg_cluster, fid, db):
    """An edit as every writer makes it: the road moves 40 m, its cell goes to spp_changes and
    the layer's version moves, in one transaction."""
    pg_cluster.psql(
        "BEGIN;"
        "INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy, at) SELECT 'roads',"
        " 'edit', ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b), now()::text FROM (SELECT"
        f" ST_Expand(geom, 40)::box2d b FROM roads WHERE fid = {fid}) t;"
        f"UPDATE roads SET geom = ST_Translate(geom, 40, 40) WHERE fid = {fid};"
        "UPDATE spp_layers SET version = version + 1 WHERE layer = 'roads';"
        "COMMIT;", db=db)


def serve(db, workdir, extra=(), config=None, port=None):
    """spp serve with more arguments (conftest's Server takes none)."""
    s = Server.__new__(Server)
    s.port = port or free_port()
    s.base = f"http://127.0.0.1:{s.port}"
    s.log = open(os.path.join(workdir, f"serve-{s.port}.log"), "w")
    args = [SPP, "serve", "--db", db, "--listen", f"127.0.0.1:{s.port}", "--threads", "8",
            *extra]
    if config:
        args += ["--config", config]
    s.proc = subprocess.Popen(args, stdout=s.log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.time() + 20
    while status(s, "/healthz") != 200:
        assert s.proc.poll() is None and time.time() < deadline, "spp serve did not start"
        time.sleep(0.05)
    return s


@pytest.fixture(scope="module")
def ops_db(pg_cluster, demo_store):
    uri = pg_cluster.new_db("ops")
    spp_ok("init", "--db", uri)
    spp_ok("copy", "--db", uri, "--from", demo_store)
    return uri


def usage_today(pg_cluster, key_id):
    return int(pg_cluster.psql("SELECT coalesce(sum(n), 0) FROM spp_key_usage WHERE key_id ="
                               f" {key_id}", db="ops"))


def quota_key(uri, name):
    """A data-sharing key with a quota: a usage that cannot be counted is a 503 for it."""
    out = spp_ok("keys", "--db", uri, "add", "--agency", name, "--quota", "100000")
    key = out.split()[0]
    rows = [line.split("\t") for line in spp_ok("keys", "--db", uri, "list").splitlines()[1:]]
    key_id = int([r for r in rows if r[-1].strip() == name or r[4].strip() == name][-1][0])
    return key, key_id


@pytest.fixture
def usage_through_proxy(pg_cluster, ops_db, workdir):
    """A replica whose workers read the database directly (--db-read) while key usage goes to
    --db through the proxy: the usage path's failures alone."""
    proxy = Proxy(pg_cluster.port)
    cfg = os.path.join(workdir, "pg_ops_clients.json")
    with open(cfg, "w") as f:  # 50 requests at once from one address
        json.dump({"limits": {"per_client_connections": 64}}, f)
    srv = serve(proxy.uri("ops"), workdir, ["--db-read", ops_db], config=cfg)
    try:
        wait_ready(srv)
        yield proxy, srv
    finally:
        srv.stop()
        proxy.close()


ROADS = "/collections/roads/items?limit=1"


def test_usage_is_counted_at_most_once_when_the_answer_is_lost(usage_through_proxy, pg_cluster,
                                                               ops_db):
    """The server runs the increment, the connection breaks before its answer arrives: the
    request is refused (503: whether it counted is unknown) and the increment is not sent
    again, so the count is the server's one; the next request reconnects and counts once."""
    proxy, srv = usage_through_proxy
    key, key_id = quota_key(ops_db, "At most once")
    hdr = {"X-API-Key": key}
    assert srv.get(ROADS, headers=hdr)[0] == 200
    assert usage_today(pg_cluster, key_id) == 1
    # the usage statement's CommandComplete: INSERT ... ON CONFLICT DO UPDATE says INSERT 0 1
    proxy.drop_on = b"INSERT 0 1"
    st, _, body = srv.get(ROADS, headers=hdr)
    assert proxy.dropped == 1, "the proxy did not see the increment's answer"
    assert st == 503 and b"cannot count" in body, (st, body[:300])
    assert usage_today(pg_cluster, key_id) == 2  # the server's one increment, not two
    assert srv.get(ROADS, headers=hdr)[0] == 200
    assert usage_today(pg_cluster, key_id) == 3
    # a connection closed between requests (the database restarted) is seen before sending:
    # the request is served and counted once
    proxy.cut()
    assert srv.get(ROADS, headers=hdr)[0] == 200
    assert usage_today(pg_cluster, key_id) == 4
    # the same for backends the server ended itself (FATAL message, then the socket closed)
    pg_cluster.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE"
                    " application_name = 'spp' AND datname = 'ops'", db="ops")
    time.sleep(0.2)
    for n in (5, 6):
        st, _, body = srv.get(ROADS, headers=hdr)
        assert st == 200, (st, body[:300])
        assert usage_today(pg_cluster, key_id) == n


def test_usage_database_away_fails_fast_and_recovers(usage_through_proxy, pg_cluster, ops_db):
    """The usage database unreachable (connections accepted, never answered: connect_timeout
    is 2 s): 50 keyed requests at once all answer 503, none waits behind another's reconnect,
    the reconnects keep to the backoff; then the database is back and requests count again."""
    proxy, srv = usage_through_proxy
    key, key_id = quota_key(ops_db, "Fail fast")
    hdr = {"X-API-Key": key}
    assert srv.get(ROADS, headers=hdr)[0] == 200
    proxy.mode = "blackhole"
    proxy.cut()
    before = proxy.accepted

    def one(_):
        t = time.time()
        st, _, body = srv.get(ROADS, headers=hdr)
        return st, time.time() - t, body

    with concurrent.futures.ThreadPoolExecutor(50) as ex:
        results = list(ex.map(one, range(50)))
    for st, took, body in results:
        assert st == 503, (st, body[:200])
        assert took < 5, f"a keyed request hung {took:.1f} s"  # a hang detector, not a benchmark
    # the old behaviour made one connect attempt per request, one after the other
    attempts = proxy.accepted - before
    assert attempts <= 10, f"{attempts} reconnect attempts for 50 requests"
    assert status(srv, "/readyz") == 200  # the workers' database is there
    proxy.mode = "forward"
    proxy.cut()
    n = usage_today(pg_cluster, key_id)
    deadline = time.time() + 12
    while srv.get(ROADS, headers=hdr)[0] != 200:
        assert time.time() < deadline, "keyed requests did not recover"
        time.sleep(0.2)
    assert usage_today(pg_cluster, key_id) == n + 1


def test_workers_fail_fast_while_the_database_is_unreachable(pg_cluster, ops_db, workdir):
    """The workers' database unreachable (connections accepted, never answered): requests
    answer 503 without each trying to connect twice (the retry of a read is only for a
    statement that was sent; no connection within the backoff is not retried), and the replica
    comes back by itself."""
    proxy = Proxy(pg_cluster.port)
    cfg = os.path.join(workdir, "pg_ops_clients.json")
    with open(cfg, "w") as f:
        json.dump({"limits": {"per_client_connections": 64}}, f)
    srv = serve(proxy.uri("ops"), workdir, config=cfg)
    try:
        wait_ready(srv)
        assert srv.get(ROADS)[0] == 200
        proxy.mode = "blackhole"
        proxy.cut()
        before = proxy.accepted

        def one(_):
            t = time.time()
            try:
                st = srv.get(ROADS)[0]
            except OSError:
                st = None
            return st, time.time() - t

        with concurrent.futures.ThreadPoolExecutor(30) as ex:
            results = list(ex.map(one, range(30)))
        for st, took in results:
            assert st == 503, st
            assert took < 8, f"a request hung {took:.1f} s"  # a hang detector
        attempts = proxy.accepted - before
        assert attempts < 30, f"{attempts} connect attempts for 30 requests"
        proxy.mode = "forward"
        proxy.cut()
        deadline = time.time() + 15
        while status(srv, ROADS) != 200:
            assert time.time() < deadline, "the replica did not come back"
            time.sleep(0.2)
    finally:
        srv.stop()
        proxy.close()


def timed_server(proxy, workdir, name):
    """spp serving the ops database through proxy with limits.query_ms 800."""
    cfg = os.path.join(workdir, name)
    with open(cfg, "w") as f:
        json.dump({"limits": {"query_ms": 800}}, f)
    return serve(proxy.uri("ops"), workdir, ["--threads", "2"], config=cfg)


STALL_PATH = "/collections/cadastral_parcels/items?limit=2000"


def stream_size(srv, proxy):
    """Bytes one STALL_PATH request reads from the database (after a first, warming one)."""
    assert srv.get(STALL_PATH)[0] == 200
    b0 = proxy.bytes_down
    assert srv.get(STALL_PATH)[0] == 200
    size = proxy.bytes_down - b0
    assert size > 20000, size
    return size


def stalled_request(srv):
    """(status or None when the connection was closed mid-answer, seconds taken)."""
    t = time.time()
    try:
        st = srv.get(STALL_PATH)[0]
    except OSError:
        st = None  # the answer had started: the connection is closed instead
    return st, time.time() - t


def wait_answering(srv, seconds):
    deadline = time.time() + seconds
    while status(srv, STALL_PATH) != 200:
        assert time.time() < deadline, "the replica did not answer again"
        time.sleep(0.2)


def test_a_stalled_stream_ends_at_the_time_limit(pg_cluster, ops_db, workdir):
    """Rows stop arriving mid-stream (the network stalls): the request ends near
    limits.query_ms (the statement cancelled, the drain bounded, the connection dropped), the
    worker is free, and once the network flows the replica answers again."""
    proxy = Proxy(pg_cluster.port)
    srv = timed_server(proxy, workdir, "pg_ops_timed.json")
    try:
        wait_ready(srv)
        proxy.stall(after_bytes=stream_size(srv, proxy) // 2)  # mid-stream
        st, took = stalled_request(srv)
        assert st is None or 400 <= st < 600, st
        assert took < 5, f"the stalled stream held the request {took:.1f} s"
        proxy.unstall()
        wait_answering(srv, 10)
    finally:
        proxy.unstall()
        srv.stop()
        proxy.close()


def test_a_stalled_stream_during_a_partition_ends_in_its_budget(pg_cluster, ops_db, workdir):
    """The stream stalls and new connections are accepted but never answered (a partition):
    the cancel request cannot reach the server. The worker never waits for it (a helper thread
    sends it): the request is answered near limits.query_ms plus the drain's second, the
    connection is dropped, and the replica comes back when the network does."""
    proxy = Proxy(pg_cluster.port)
    srv = timed_server(proxy, workdir, "pg_ops_partition.json")
    try:
        wait_ready(srv)
        proxy.stall(after_bytes=stream_size(srv, proxy) // 2)  # mid-stream
        proxy.mode = "blackhole"  # the cancel's connection is held, never answered
        before = proxy.accepted
        st, took = stalled_request(srv)
        assert st is None or 400 <= st < 600, st
        assert took < 10, f"the stalled stream held the request {took:.1f} s"  # a hang detector
        assert proxy.accepted > before, "no cancel request was sent"
        proxy.mode = "forward"
        proxy.unstall()
        wait_answering(srv, 15)
    finally:
        proxy.mode = "forward"
        proxy.unstall()
        srv.stop()
        proxy.close()


def test_cancels_that_never_return_are_capped(pg_cluster, ops_db, workdir):
    """Cancel requests that never come back (held by the network) each keep a helper thread;
    at most 8 are in flight in the process: past that no cancel is sent, the connection is
    dropped at once, and every request is still answered within its budget."""
    proxy = Proxy(pg_cluster.port)
    proxy.hold_cancels = True
    srv = timed_server(proxy, workdir, "pg_ops_cancels.json")
    try:
        wait_ready(srv)
        size = stream_size(srv, proxy)
        for i in range(10):
            proxy.stall(after_bytes=size // 2)
            st, took = stalled_request(srv)
            proxy.unstall()
            assert st is None or 400 <= st < 600, (i, st)
            assert took < 10, f"request {i} held {took:.1f} s"  # a hang detector
        assert proxy.held_cancels == 8, proxy.held_cancels
        wait_answering(srv, 15)
    finally:
        proxy.unstall()
        srv.stop()
        proxy.close()


def moved_roads_source(src_dir, out_dir, road_id, metres):
    """A copy of the demo's roads shapefile with road road_id moved metres north-east."""
    from osgeo import ogr
    os.makedirs(out_dir, exist_ok=True)
    for ext in ("shp", "shx", "dbf", "prj", "cpg"):
        shutil.copy(os.path.join(src_dir, "giao_thong", "tim_duong." + ext), out_dir)
    path = os.path.join(out_dir, "tim_duong.shp")
    ds = ogr.Open(path, 1)
    layer = ds.GetLayer()
    moved = 0
    for f in layer:
        if f.GetField("MADUONG") != road_id:
            continue
        g = f.GetGeometryRef()
        parts = [g.GetGeometryRef(i) for i in range(g.GetGeometryCount())] or [g]
        for part in parts:
            for i in range(part.GetPointCount()):
                x, y = part.GetX(i), part.GetY(i)
                part.SetPoint_2D(i, x + metres, y + metres)
        f.SetGeometry(g)
        layer.SetFeature(f)
        moved += 1
    ds = None
    assert moved == 1, road_id
    return path


def test_seed_warms_a_replica(pg_cluster, ops_db, demo, workdir):
    """spp seed --db postgresql://... --listen (the replica's port, tile_cache_dir) fills the
    file the replica opens; a replica started on it answers the seeded tiles from the cache;
    a re-import after the seed that moves one road drops that road's tile only."""
    d = os.path.join(workdir, "warm")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "spp.json")
    with open(conf, "w", encoding="utf-8") as f:
        json.dump({"tile_cache_dir": d}, f)
    port = free_port()
    road_id = pg_cluster.psql("SELECT road_id FROM roads GROUP BY road_id HAVING count(*) = 1"
                              " ORDER BY min(ST_Length(geom)), road_id LIMIT 1", db="ops")
    fid, lon, lat = road_point(pg_cluster, f"WHERE road_id = '{road_id}'", db="ops")
    _, flon, flat = road_point(
        pg_cluster, f"WHERE ST_Distance(geom, (SELECT geom FROM roads WHERE fid = {fid})) > 1500"
        f" ORDER BY ST_Distance(geom, (SELECT geom FROM roads WHERE fid = {fid})) DESC", db="ops")
    near, far = tile_of(lon, lat, 16), tile_of(flon, flat, 16)
    assert near != far
    seeded = 0
    for x, y in ((lon, lat), (flon, flat)):
        box = f"{x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}"
        out = spp_ok("seed", "--db", ops_db, "--config", conf, "--listen", f"127.0.0.1:{port}",
                     "--layer", "roads", "--zoom", "16", "--bbox", box, "--quiet")
        assert "tiles rendered into " + d + "/spp-" in out, out
        seeded += int(out.split()[0])
    assert seeded >= 2
    files = [f for f in os.listdir(d) if f.endswith(f"-{port}.tiles")]
    assert len(files) == 1, os.listdir(d)
    # a re-import after the seed: one road moved, the others as they were; the replica must
    # drop that road's cells when it starts, nothing else
    changes = int(pg_cluster.psql("SELECT count(*) FROM spp_changes", db="ops"))
    src = moved_roads_source(demo["src"], os.path.join(workdir, "warm_src"), road_id, 40)
    p = run_spp("import", "--db", ops_db, "--layer", "roads", src, "--quiet", check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    assert int(pg_cluster.psql("SELECT count(*) FROM spp_changes", db="ops")) > changes
    srv = serve(ops_db, workdir, config=conf, port=port)
    try:
        wait_ready(srv)
        h0 = hits(srv, "roads")
        st, _, far_body = srv.get(f"/tiles/roads/{far}.mvt")
        assert st == 200 and far_body
        assert hits(srv, "roads") == h0 + 1, "a seeded tile was not a hit"
        st, _, _ = srv.get(f"/tiles/roads/{near}.mvt")
        assert st == 200
        assert hits(srv, "roads") == h0 + 1, "the tile changed after the seed was served stale"
        assert srv.get(f"/tiles/roads/{near}.mvt")[0] == 200
        assert hits(srv, "roads") == h0 + 2  # cached again, now fresh
    finally:
        srv.stop()
    # the refusals: no file named; a SpatiaLite store has its own
    p = run_spp("seed", "--db", ops_db, "--layer", "roads", "--zoom", "14", check=False)
    assert p.returncode == 2 and "--tile-cache FILE or --listen" in p.stderr, p.stderr


def test_check_and_keys_with_the_database_away(pg_cluster, workdir):
    """spp check and spp keys on PostGIS work (test_pg_store.py: test_init_check_keys) and, on
    a database that is away, fail at once with the reason, exit 1."""
    proxy = Proxy(pg_cluster.port)
    try:
        uri = proxy.uri("ops")
        assert "matches the catalog" in spp_ok("check", "--db", uri)
        assert spp_ok("keys", "--db", uri, "list").startswith("ID\tROLE")
        proxy.close()  # nothing listens there any more
        for args in (["check"], ["keys", "list"], ["keys", "add", "--role", "planner"],
                     ["keys", "revoke", "1"]):
            t = time.time()
            p = run_spp(args[0], "--db", uri, *args[1:], check=False, timeout=30)
            assert p.returncode == 1, (args, p.returncode, p.stderr)
            assert "database unavailable" in p.stderr or "connection" in p.stderr, p.stderr
            assert time.time() - t < 10
    finally:
        proxy.close()
