# SPDX-License-Identifier: MIT
"""Stateless replicas on PostGIS (issue 24): each replica's own tile cache file kept exact by the
database's change watch (LISTEN spp_changes and the change mark polled every second), a replica
started while the database is away, and nginx (the configuration of docs/deploy.md) in front of
two replicas while one is SIGKILLed under load."""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, SPP, Server, free_port, run_spp
from pg_fixture import Cluster, pg_cluster  # noqa: F401  (the fixture)
from test_pg_store import demo_center, spp_ok, status


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{z}/{x}/{y}"


def cached_server(db, workdir, name):
    """A replica with its own tile cache directory."""
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "spp.json")
    with open(conf, "w", encoding="utf-8") as f:
        json.dump({"tile_cache_dir": d}, f)
    srv = Server(db, workdir, config=conf)
    return srv, d


def hits(srv, layer):
    """spp_tile_cache_hits_total of layer's MVT tiles."""
    _, _, body = srv.get("/metrics")
    m = re.search(r'spp_tile_cache_hits_total\{layer="%s",format="mvt"\} (\d+)' % layer,
                  body.decode())
    return int(m.group(1)) if m else 0


def wait_ready(srv, seconds=15):
    deadline = time.time() + seconds
    while status(srv, "/readyz") != 200:
        assert time.time() < deadline, "the replica did not become ready"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cached_replicas(pg_cluster, demo_store, workdir):
    uri = pg_cluster.new_db("cached")
    spp_ok("init", "--db", uri)
    spp_ok("copy", "--db", uri, "--from", demo_store)
    pairs = [cached_server(uri, workdir, f"replica{i}") for i in range(2)]
    for s, _ in pairs:
        wait_ready(s)
    yield uri, [s for s, _ in pairs], [d for _, d in pairs]
    for s, _ in pairs:
        s.stop()


def road_point(pg_cluster, where):
    """fid, lon, lat (the middle of the road) of the road picked by where (ORDER BY ...)."""
    row = pg_cluster.psql(
        "SELECT fid, ST_X(p), ST_Y(p) FROM (SELECT fid, ST_Transform(ST_LineInterpolatePoint("
        f"ST_GeometryN(geom, 1), 0.5), 4326) p FROM roads {where} LIMIT 1) t", db="cached")
    fid, lon, lat = row.split("|")
    return int(fid), float(lon), float(lat)


def move_road(pg_cluster, fid):
    """An edit: the road moves 40 m north-east; its cell (old and new box) goes to spp_changes
    and the layer's version moves, in one transaction (what every writer does)."""
    pg_cluster.psql(
        "BEGIN;"
        "INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy, at) SELECT 'roads',"
        " 'edit', ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b), now()::text FROM (SELECT"
        f" ST_Expand(geom, 40)::box2d b FROM roads WHERE fid = {fid}) t;"
        f"UPDATE roads SET geom = ST_Translate(geom, 40, 40) WHERE fid = {fid};"
        "UPDATE spp_layers SET version = version + 1 WHERE layer = 'roads';"
        "COMMIT;", db="cached")


def test_tile_cache_drops_only_the_changed_tiles(cached_replicas, pg_cluster, demo_store,
                                                 workdir):
    """Two replicas with warm caches: an edit of one road (its row and its spp_changes cell, the
    contract of every writer) changes that tile on both within 5 s; a cached roads tile far away
    keeps its ETag and is still answered from the cache. Then a republish (spp copy) likewise."""
    uri, servers, dirs = cached_replicas
    for d in dirs:  # the cache file is the replica's own, in its tile_cache_dir
        assert any(f.endswith(".tiles") for f in os.listdir(d)), os.listdir(d)
    # each replica's watch: its own connection, listening (workers never LISTEN)
    watching = pg_cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                               " 'spp-watch' AND datname = 'cached'", db="cached")
    assert int(watching) == 2
    assert pg_cluster.psql("SELECT count(*) FROM pg_trigger WHERE tgname IN"
                           " ('spp_changes_notify', 'spp_layers_notify')", db="cached") == "2"
    fid, lon, lat = road_point(pg_cluster, "ORDER BY fid")
    near = f"/tiles/roads/{tile_of(lon, lat, 16)}.mvt"
    # the road farthest from it, at least 1 km away: another tile, outside any buffer
    _, flon, flat = road_point(
        pg_cluster, f"WHERE ST_Distance(geom, (SELECT geom FROM roads WHERE fid = {fid})) > 1000"
        f" ORDER BY ST_Distance(geom, (SELECT geom FROM roads WHERE fid = {fid})) DESC")
    far = f"/tiles/roads/{tile_of(flon, flat, 16)}.mvt"
    assert near != far
    before = {}
    for s in servers:
        for p in (near, far):
            st, h, body = s.get(p)
            assert st == 200 and len(body) > 0, (p, st)
            before[(s.port, p)] = (h["ETag"], body)
        h0 = hits(s, "roads")
        assert s.get(near)[1]["ETag"] == before[(s.port, near)][0]
        assert hits(s, "roads") == h0 + 1  # warm: answered from the cache

    move_road(pg_cluster, fid)
    deadline = time.time() + 5
    for s in servers:
        while s.get(near)[2] == before[(s.port, near)][1]:
            assert time.time() < deadline, "the edited tile did not change within 5 s"
            time.sleep(0.1)
    for s in servers:
        h0 = hits(s, "roads")
        st, h, body = s.get(far)
        assert st == 200 and h["ETag"] == before[(s.port, far)][0]
        assert hits(s, "roads") == h0 + 1, "an unrelated tile was dropped"
    a, b = (s.get(near) for s in servers)
    assert a[2] == b[2] and a[1]["ETag"] == b[1]["ETag"]

    # a republish: a parcels tile stays, the roads tile follows the new roads
    ptile = f"/tiles/cadastral_parcels/{tile_of(*demo_center(servers[0]), 16)}.mvt"
    pbefore = [s.get(ptile)[1]["ETag"] for s in servers]
    rbefore = [s.get(near)[2] for s in servers]
    edit = os.path.join(workdir, "pgrep_republish.sqlite")
    shutil.copy(demo_store, edit)
    src = os.path.join(workdir, "pgrep_roads.geojson")
    with open(src, "w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"road_id": "R1", "name": "Đường mới",
                                               "road_class": "do_thi_chinh"},
             "geometry": {"type": "LineString",
                          "coordinates": [[lon - 0.002, lat], [lon + 0.002, lat]]}}]}, f)
    p = run_spp("import", "--db", edit, "--layer", "roads", src, "--allow-shrink", "--quiet",
                check=False)
    assert p.returncode == 0, p.stderr
    spp_ok("copy", "--db", uri, "--from", edit)
    deadline = time.time() + 5
    for s, old in zip(servers, rbefore):
        while s.get(near)[2] == old:
            assert time.time() < deadline, "the republished tile did not change within 5 s"
            time.sleep(0.1)
    for s, etag in zip(servers, pbefore):
        h0 = hits(s, "cadastral_parcels")
        assert s.get(ptile)[1]["ETag"] == etag
        assert hits(s, "cadastral_parcels") == h0 + 1


def test_through_pgbouncer_the_cache_still_follows(cached_replicas, pg_cluster, demo_store,
                                                   workdir):
    """Replicas whose --db is pgbouncer in transaction mode (LISTEN cannot work there): one
    relies on the watch's 1 s poll, the other has tile_cache_watch_db, a direct URI. An edit
    reaches both within 5 s; a far tile stays cached."""
    uri, _, _ = cached_replicas
    spp_ok("copy", "--db", uri, "--from", demo_store)  # the demo's roads again
    port = pg_cluster.start_pgbouncer(pool_size=2)
    servers = []
    try:
        pooled = uri.replace(f":{pg_cluster.port}/", f":{port}/")
        assert pooled != uri
        polled, _ = cached_server(pooled, workdir, "bouncer-poll")
        servers.append(polled)
        d = os.path.join(workdir, "bouncer-direct")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "spp.json"), "w", encoding="utf-8") as f:
            json.dump({"tile_cache_dir": d, "tile_cache_watch_db": uri}, f)
        direct = Server(pooled, workdir, config=os.path.join(d, "spp.json"))
        servers.append(direct)
        for s in servers:
            wait_ready(s)
        fid, lon, lat = road_point(pg_cluster, "ORDER BY fid DESC")
        near = f"/tiles/roads/{tile_of(lon, lat, 16)}.mvt"
        _, flon, flat = road_point(
            pg_cluster, f"WHERE ST_Distance(geom, (SELECT geom FROM roads WHERE fid = {fid}))"
            f" > 1000 ORDER BY ST_Distance(geom, (SELECT geom FROM roads WHERE fid = {fid})) DESC")
        far = f"/tiles/roads/{tile_of(flon, flat, 16)}.mvt"
        before = {(s.port, p): s.get(p) for s in servers for p in (near, far)}
        for s in servers:
            h0 = hits(s, "roads")
            assert s.get(far)[1]["ETag"] == before[(s.port, far)][1]["ETag"]
            assert hits(s, "roads") == h0 + 1
        move_road(pg_cluster, fid)
        deadline = time.time() + 5
        for s in servers:
            while s.get(near)[2] == before[(s.port, near)][2]:
                assert time.time() < deadline, "the edited tile did not change within 5 s"
                time.sleep(0.1)
            h0 = hits(s, "roads")
            assert s.get(far)[1]["ETag"] == before[(s.port, far)][1]["ETag"]
            assert hits(s, "roads") == h0 + 1, "an unrelated tile was dropped"
    finally:
        for s in servers:
            s.stop()
        pg_cluster.stop_pgbouncer()


def test_replica_started_while_the_database_is_away(demo_store, workdir):
    """Its own cluster, killed before the replica starts: /healthz answers, /readyz says 503;
    when the database is back the replica serves, tiles cached, with no restart."""
    c = Cluster()
    old = os.environ.get("PGPASSWORD")
    srv = None
    try:
        os.environ["PGPASSWORD"] = c.password
        uri = c.new_db("late")
        spp_ok("init", "--db", uri)
        spp_ok("copy", "--db", uri, "--from", demo_store)
        c.psql("CHECKPOINT", db="late")  # the throw-away cluster runs with synchronous_commit off
        c.kill()
        srv, d = cached_server(uri, workdir, "late")
        t0 = time.time()
        while time.time() - t0 < 3:
            assert status(srv, "/readyz") == 503
            assert status(srv, "/healthz") == 200
            time.sleep(0.3)
        c.restart()
        wait_ready(srv)
        path = f"/tiles/roads/{tile_of(*demo_center(srv), 15)}.mvt"
        st, h, body = srv.get(path)
        assert st == 200
        h0 = hits(srv, "roads")
        assert srv.get(path)[1]["ETag"] == h["ETag"]
        assert hits(srv, "roads") == h0 + 1
        assert srv.get("/collections/roads/items?limit=5")[0] == 200
    finally:
        if srv:
            srv.stop()
        if old is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = old
        c.clean()


def test_a_missing_database_is_not_waited_for(pg_cluster, workdir):
    """Only a server that does not answer is waited for: a database that does not exist on a
    running server stops spp serve at once, saying why."""
    uri = f"postgresql://spp@127.0.0.1:{pg_cluster.port}/no_such_db"
    p = subprocess.run([SPP, "serve", "--db",
                        uri, "--listen", f"127.0.0.1:{free_port()}"], capture_output=True,
                       text=True, timeout=20, cwd=ROOT)
    out = p.stderr + p.stdout
    assert p.returncode != 0
    assert "no_such_db" in out and "waiting for the database" not in out


# ---- nginx in front (docs/deploy.md's configuration) ----

def deploy_nginx_blocks():
    """The upstream block and the location block of docs/deploy.md's nginx example."""
    with open(os.path.join(ROOT, "docs", "deploy.md"), encoding="utf-8") as f:
        doc = f.read()
    m = re.search(r"### nginx in front\s*```nginx\n(.*?)```", doc, re.S)
    assert m, "docs/deploy.md has no nginx example"
    conf = m.group(1)
    up = re.search(r"^upstream spp \{\n.*?^\}\n", conf, re.S | re.M).group(0)
    loc = re.search(r"^    location / \{\n.*?^    \}\n", conf, re.S | re.M).group(0)
    return up, loc


def start_nginx(tmp, ports):
    up, loc = deploy_nginx_blocks()
    servers = [l for l in up.splitlines() if l.strip().startswith("server ")]
    assert len(servers) == 2, up
    for line, port in zip(servers, ports):
        up = up.replace(line, re.sub(r"server \S+", f"server 127.0.0.1:{port}", line))
    port = free_port()
    os.makedirs(tmp, exist_ok=True)
    conf = os.path.join(tmp, "nginx.conf")
    user = "user root;\n" if os.getuid() == 0 else ""
    with open(conf, "w", encoding="utf-8") as f:
        f.write(f"""{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{up}
    server {{
        listen 127.0.0.1:{port};
{loc}    }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", tmp, "-c", conf, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "nginx did not start"
        time.sleep(0.1)
    return proc, port


def test_a_replica_killed_under_load_loses_no_request(cached_replicas, workdir):
    """nginx with docs/deploy.md's upstream and retry settings in front of two replicas: 600
    GETs from 8 clients while one replica is SIGKILLed; every one is answered 200."""
    uri, _, _ = cached_replicas
    a, _ = cached_server(uri, workdir, "kill-a")
    b, _ = cached_server(uri, workdir, "kill-b")
    nginx, port = start_nginx(os.path.join(workdir, "nginx"), [a.port, b.port])
    try:
        lon, lat = demo_center(a)
        paths = ["/collections/roads/items?limit=50",
                 "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=roads&COUNT=20",
                 "/collections/cadastral_parcels/items?limit=100"]
        paths += [f"/tiles/cadastral_parcels/{tile_of(lon + dx * 0.004, lat + dy * 0.004, 16)}.mvt"
                  for dx in range(-2, 3) for dy in range(-2, 3)]
        n, results, lock = 600, [], threading.Lock()
        counter = iter(range(n))

        def client():
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                p = paths[i % len(paths)]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{p}", timeout=30) as r:
                        r.read()
                        st = r.status
                except urllib.error.HTTPError as e:
                    st = e.code
                except OSError as e:
                    st = str(e)
                with lock:
                    results.append((p, st))
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        while True:
            with lock:
                done = len(results)
            if done >= n // 3:
                break
            time.sleep(0.01)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        with lock:
            at_kill = len(results)
        for t in threads:
            t.join()
        assert at_kill < n - 100, "the load ended before the kill"
        bad = [(p, st) for p, st in results if st != 200]
        assert len(results) == n and not bad, bad[:10]
        # the survivor answered the rest, the killed one nothing after it died
        assert status(b, "/readyz") == 200
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        a.stop()
        b.stop()
