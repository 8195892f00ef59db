# SPDX-License-Identifier: MIT
"""Operations (issue 15): graceful drain on SIGTERM/SIGINT with a 4000x4000 GetMap in flight,
SIGHUP re-reading the settings without dropping connections, start-up failures that name the
path, /healthz and /readyz, /metrics parsed with prometheus_client (no duplicate series; cache,
in-flight, queue, render, import, build and uptime series) and the access log (fields, key
redaction, X-Forwarded-For only from trusted proxies, JSON lines). Each test runs its own
`spp serve`, since most of them stop it."""
import atexit
import calendar
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest
from osgeo import gdal
from prometheus_client.parser import text_string_to_metric_families

import wms_fixture
from conftest import ROOT, SANITIZER_MARKS, SPP, free_port, run_spp, spatialite

gdal.UseExceptions()

GETMAP = "/wms?" + urllib.parse.urlencode({
    "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "cadastral_parcels",
    "STYLES": "", "CRS": "EPSG:5897", "BBOX": "586000,1109500,586800,1110300",
    "WIDTH": "4000", "HEIGHT": "4000", "FORMAT": "image/png"})


class Serve:
    """`spp serve` on a free port with stdout (the access log) and stderr in separate files."""

    def __init__(self, db, tmpdir, config=None, wait=True, user=None):
        self.port = free_port()
        self.out_path = os.path.join(tmpdir, f"ops-{self.port}.out")
        self.err_path = os.path.join(tmpdir, f"ops-{self.port}.err")
        args = [SPP, "serve", "--db", db, "--listen", f"127.0.0.1:{self.port}", "--threads", "4"]
        if config:
            args += ["--config", config]
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, f"spp serve exited: {self.stderr()}"
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("spp serve never became ready")

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path, headers=None, method="GET", body=None):
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def metrics(self, headers=None):
        status, _, body = self.get("/metrics", headers)
        assert status == 200
        return body.decode()

    def stdout(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(db, **kw):
        s = Serve(db, str(tmp_path), **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()
    # under `make asan` a sanitizer report in any of these servers' logs fails the test
    if os.environ.get("SPP_SANITIZED"):
        for s in started:
            log = s.stderr()
            assert not any(m in log for m in SANITIZER_MARKS), log[-4000:]


def write_config(path, obj):
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return path


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    """The WMS fixture city, with its roads replaced by a real `spp import` (a batch in
    spp_imports and spp_layers)."""
    d = tmp_path_factory.mktemp("ops")
    db = str(d / "small.sqlite")
    wms_fixture.build(db)
    roads = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Đường Hòa Bình", "road_class": "do_thi_chinh"},
         "geometry": {"type": "LineString",
                      "coordinates": [[105.7880, 10.0345], [105.7905, 10.0350]]}},
        {"type": "Feature", "properties": {"name": "Hẻm 12", "road_class": "hem"},
         "geometry": {"type": "LineString",
                      "coordinates": [[105.7890, 10.0340], [105.7891, 10.0360]]}}]}
    src = d / "roads.geojson"
    src.write_text(json.dumps(roads), encoding="utf-8")
    run_spp("import", "--db", db, "--layer", "roads", str(src))
    return db


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """40,000 round parcels (64 vertices each) under the GetMap box: a 4000x4000 map of them
    takes about a second to draw."""
    db = str(tmp_path_factory.mktemp("opsbig") / "big.sqlite")
    run_spp("init", "--db", db)
    con = spatialite(db)
    n = 200
    con.execute(f"""WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < {n * n})
        INSERT INTO cadastral_parcels (parcel_key, commune_code, sheet_no, parcel_no, area_m2,
                                       lu_display, geom)
        SELECT printf('31117012%06d', i), '31117', 12, i + 1, 10.0,
               CASE i % 4 WHEN 0 THEN 'ODT' WHEN 1 THEN 'CLN' WHEN 2 THEN 'LUC' ELSE 'TMD' END,
               CastToMulti(ST_Buffer(MakePoint(586002.0 + (i % {n}) * 4,
                                               1109502.0 + (i / {n}) * 4, 5897), 1.8, 16))
        FROM g""")
    con.commit()
    con.close()
    return db


def in_flight(text):
    m = re.search(r"^spp_requests_in_flight (\d+)$", text, re.M)
    assert m, "no spp_requests_in_flight"
    return int(m.group(1))


def refused(port):
    """True once a new TCP connection to port is refused. A connection the kernel had queued on
    the listening socket just as it was shut is reset instead, and on a slow (sanitizer) build a
    connect can also find the closing socket's backlog full and time out: not accepted either."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except (ConnectionRefusedError, ConnectionResetError, TimeoutError, socket.timeout):
        return True


def decode_png(body, tmpdir):
    path = os.path.join(tmpdir, "map.png")
    with open(path, "wb") as f:
        f.write(body)
    ds = gdal.Open(path)
    w, h = ds.RasterXSize, ds.RasterYSize
    alpha = ds.GetRasterBand(ds.RasterCount).ReadAsArray(0, 0, 400, 400)  # reads the rows
    return w, h, int(alpha.max())


# ---- draining ----

def test_sigterm_lets_a_big_getmap_finish(serve, big_store, tmp_path):
    cfg = write_config(str(tmp_path / "drain.json"), {"drain_seconds": 30})
    s = serve(big_store, config=cfg)
    result = {}

    def getmap():
        c = s.conn()
        c.request("GET", GETMAP)
        r = c.getresponse()
        result.update(status=r.status, ctype=r.getheader("Content-Type"),
                      length=r.getheader("Content-Length"), body=r.read())
        c.close()
    t = threading.Thread(target=getmap)
    t.start()
    # Wait until the GetMap is counted in flight (it and the /metrics request itself). A poll
    # whose connection landed on the thread drawing the map waits for it: give up on that one
    # and ask again on a new connection, which an idle thread takes.
    deadline = time.time() + 10
    while True:
        assert time.time() < deadline and t.is_alive(), "the GetMap was never seen in flight"
        c = s.conn(timeout=0.3)
        try:
            c.request("GET", "/metrics")
            if in_flight(c.getresponse().read().decode()) >= 2:
                break
        except socket.timeout:
            pass
        finally:
            c.close()
        time.sleep(0.005)
    s.proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 5
    while not refused(s.port):
        assert time.time() < deadline, "new connections still accepted after SIGTERM"
        time.sleep(0.01)
    assert t.is_alive(), "the GetMap ended before SIGTERM took effect: nothing was drained"
    t.join(60)
    assert result["status"] == 200
    assert result["ctype"] == "image/png"
    assert int(result["length"]) == len(result["body"]) > 100000
    w, h, alpha = decode_png(result["body"], str(tmp_path))
    assert (w, h) == (4000, 4000) and alpha == 255  # drawn parcels, not a blank image
    assert s.proc.wait(timeout=30) == 0
    err = s.stderr()
    assert "SIGTERM: not accepting connections" in err and "stopped" in err
    assert "unfinished" not in err
    # the GetMap's access-log line was written (logs flushed before exit)
    line = [ln for ln in s.stdout().splitlines() if "REQUEST=GetMap" in ln]
    assert len(line) == 1 and f'" 200 {len(result["body"])} ' in line[0]


def stalled_upload(port, announced=1000, sent=10):
    """A POST whose body stops part-way: a request in flight that holds no server thread."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"POST /wfs HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
                 f"Content-Length: {announced}\r\n\r\n".encode() + b"<" * sent)
    return sock


def test_drain_waits_for_requests_and_readyz_says_draining(serve, small_store, tmp_path):
    cfg = write_config(str(tmp_path / "drain.json"), {"drain_seconds": 30})
    s = serve(small_store, config=cfg)
    keep = s.conn()  # a keep-alive connection opened before the signal
    keep.request("GET", "/readyz")
    r = keep.getresponse()
    assert (r.status, r.read()) == (200, b"ready\n")
    # the /readyz just read may still count until libmicrohttpd reports it completed: wait until
    # only the /metrics poll itself is in flight, so that the 2 below are it and the upload
    deadline = time.time() + 5
    while in_flight(s.metrics()) != 1:
        assert time.time() < deadline
        time.sleep(0.01)
    sock = stalled_upload(s.port)
    deadline = time.time() + 5
    while in_flight(s.metrics()) < 2:
        assert time.time() < deadline
        time.sleep(0.01)
    s.proc.send_signal(signal.SIGINT)  # SIGINT drains exactly like SIGTERM
    deadline = time.time() + 5
    while not refused(s.port):
        assert time.time() < deadline, "new connections still accepted after SIGINT"
        time.sleep(0.01)
    keep.request("GET", "/readyz")
    r = keep.getresponse()
    assert r.status == 503 and r.read() == b"draining: shutting down\n"
    assert r.getheader("Connection") == "close"
    time.sleep(0.5)
    assert s.proc.poll() is None, "stopped while a request was still in flight"
    sock.sendall(b"<" * 990)  # the rest of the body: the request is answered, then spp exits
    answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400") and b"ExceptionReport" in answer
    sock.close()
    assert s.proc.wait(timeout=10) == 0
    # the upload (and perhaps the last /metrics poll, completing) were in flight
    assert re.search(r"SIGINT: not accepting connections; [12] requests? in flight", s.stderr())


def test_drain_time_is_bounded(serve, small_store, tmp_path):
    cfg = write_config(str(tmp_path / "drain.json"), {"drain_seconds": 1})
    s = serve(small_store, config=cfg)
    sock = stalled_upload(s.port)
    deadline = time.time() + 5
    while in_flight(s.metrics()) < 2:
        assert time.time() < deadline
        time.sleep(0.01)
    t0 = time.time()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=10) == 0
    assert 0.9 < time.time() - t0 < 5
    assert "stopping with 1 request unfinished" in s.stderr()
    sock.close()
    # the request cut by the stop is logged as such
    assert re.search(r'"POST /wfs HTTP/1.1" 499 .*server stopped', s.stdout())


def test_bad_drain_setting_is_refused(small_store, tmp_path):
    cfg = write_config(str(tmp_path / "bad.json"), {"drain_seconds": -1})
    p = subprocess.run([SPP, "serve", "--db", small_store, "--config", cfg], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 1 and "drain_seconds" in p.stderr


# ---- SIGHUP ----

def items_count(conn, headers=None):
    conn.request("GET", "/collections/cadastral_parcels/items?f=json", headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, body
    return len(json.loads(body)["features"])


def test_sighup_rereads_settings_and_keys_keeping_connections(serve, small_store, tmp_path):
    cfg = write_config(str(tmp_path / "hup.json"), {"limits": {"default_features": 5}})
    s = serve(small_store, config=cfg)
    keep = s.conn()
    assert items_count(keep) == 5
    local = keep.sock.getsockname()
    key = run_spp("keys", "--db", small_store, "add", "--role", "planner",
                  "--name", "ops").stdout.strip().splitlines()[0]
    write_config(cfg, {"limits": {"default_features": 3}, "log_format": "json"})
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "SIGHUP: settings read again" not in s.stderr():
        assert time.time() < deadline, s.stderr()
        time.sleep(0.02)
    # the same TCP connection, the new settings and the new key
    n = len(s.stdout().splitlines())
    assert items_count(keep, {"X-API-Key": key}) == 3
    assert keep.sock is not None and keep.sock.getsockname() == local
    last = log_lines(s, n + 1)[n]
    entry = json.loads(last)  # log_format switched to JSON lines
    assert entry["route"] == "items" and entry["role"] == "planner" and entry["key_id"] > 0
    assert key not in s.stdout()
    fams = parse(s.metrics())
    assert value(fams, "spp_config_last_reload_successful",
                 "spp_config_last_reload_successful") == 1
    assert abs(value(fams, "spp_config_last_reload_timestamp_seconds",
                     "spp_config_last_reload_timestamp_seconds") - time.time()) < 10
    # a broken file is refused: the server keeps the settings it has
    write_config(cfg, "{ not json")
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "keeping the current settings" not in s.stderr():
        assert time.time() < deadline, s.stderr()
        time.sleep(0.02)
    assert items_count(keep) == 3
    assert keep.sock.getsockname() == local
    assert "spp_config_last_reload_successful 0" in s.metrics()
    assert s.proc.poll() is None


# ---- start-up failures ----

def as_nobody(args):
    """Runs args as nobody when the tests run as root (root ignores file permissions)."""
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args]
    return args


_NOBODY_HOME = []


def nobody_home():
    """spp and what it reads at start-up (layers/, styles/, src/web/) copied where nobody can
    read them: the checkout itself may sit in a directory only root can enter (a fresh clone in
    a private temporary directory)."""
    if not _NOBODY_HOME:
        d = tempfile.mkdtemp(prefix="spp-ops-home-", dir="/tmp")
        for sub in ("layers", "styles", os.path.join("src", "web")):
            shutil.copytree(os.path.join(ROOT, sub), os.path.join(d, sub))
        shutil.copy(SPP, os.path.join(d, "spp"))
        for base, dirs, files in os.walk(d):
            os.chmod(base, 0o755)
            for f in files:
                os.chmod(os.path.join(base, f), 0o755 if f == "spp" else 0o644)
        _NOBODY_HOME.append(d)
        atexit.register(shutil.rmtree, d, True)
    return _NOBODY_HOME[0]


def start_fails(db):
    home = nobody_home() if os.geteuid() == 0 else ROOT
    spp = os.path.join(home, "spp") if os.geteuid() == 0 else SPP
    p = subprocess.run(as_nobody([spp, "serve", "--db", db, "--listen",
                                  f"127.0.0.1:{free_port()}"]),
                       capture_output=True, text=True, timeout=30, cwd="/",
                       env=dict(os.environ, SPP_HOME=home))
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1, p.stderr
    assert len(lines) == 1, p.stderr
    return lines[0]


@pytest.fixture
def public_dir():
    """A directory another user can reach (pytest's tmp_path is private to root)."""
    d = tempfile.mkdtemp(prefix="spp-ops-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_store_missing(public_dir):
    db = os.path.join(public_dir, "nothing.sqlite")
    line = start_fails(db)
    assert line == f"spp serve: {db}: store file does not exist (create it with spp init or spp import)"


def test_store_directory_not_writable(public_dir, small_store):
    d = os.path.join(public_dir, "ro")
    os.mkdir(d)
    db = os.path.join(d, "s.sqlite")
    shutil.copy(small_store, db)
    os.chmod(db, 0o666)
    os.chmod(d, 0o555)
    line = start_fails(db)
    assert line.startswith(f"spp serve: {d}: directory of the store is not writable")


def test_store_file_read_only(public_dir, small_store):
    d = os.path.join(public_dir, "rw")
    os.mkdir(d)
    db = os.path.join(d, "s.sqlite")
    shutil.copy(small_store, db)
    os.chmod(d, 0o777)
    os.chmod(db, 0o444)
    line = start_fails(db)
    assert line.startswith(f"spp serve: {db}: store file is read-only")


def test_not_a_store(public_dir):
    db = os.path.join(public_dir, "junk.sqlite")
    with open(db, "w") as f:
        f.write("this is not a database\n" * 100)
    os.chmod(public_dir, 0o777)
    os.chmod(db, 0o666)
    line = start_fails(db)
    assert line.startswith(f"spp serve: {db}: cannot read the store:")


# ---- probes ----

def test_healthz_never_needs_a_key_and_readyz(serve, small_store):
    s = serve(small_store)
    for h in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
              {"Authorization": "Basic Zm9vOmJhcg=="}):
        assert s.get("/healthz", h)[::2] == (200, b"ok\n")
        assert s.get("/readyz", h)[::2] == (200, b"ready\n")
    assert s.get("/collections", {"X-API-Key": "wrong"})[0] == 401  # elsewhere a wrong key is 401


def test_readyz_503_when_the_store_file_is_gone(serve, small_store, tmp_path):
    db = str(tmp_path / "gone.sqlite")
    shutil.copy(small_store, db)
    s = serve(db)
    os.remove(db)
    assert s.get("/readyz")[::2] == (503, b"the store file is gone\n")
    assert s.get("/healthz")[0] == 200


def test_readyz_503_while_the_store_opens(small_store, tmp_path):
    db = str(tmp_path / "locked.sqlite")
    shutil.copy(small_store, db)
    import sqlite3
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("PRAGMA locking_mode=EXCLUSIVE")
    lock.execute("BEGIN EXCLUSIVE")  # the workers' first read waits for it (busy timeout)
    s = Serve(db, str(tmp_path), wait=False)
    try:
        deadline = time.time() + 10
        while True:
            try:
                status = s.get("/healthz")[0]
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.02)
        assert status == 200  # alive while it opens the store
        assert s.get("/readyz")[::2] == (503, b"starting: opening the store\n")
        waiting = {}
        t = threading.Thread(target=lambda: waiting.update(r=s.get("/collections?f=json")))
        t.start()
        time.sleep(0.3)
        assert t.is_alive()  # requests wait for the store rather than fail
        assert s.get("/readyz")[0] == 503
        lock.execute("ROLLBACK")
        lock.close()
        t.join(10)
        assert waiting["r"][0] == 200
        assert s.get("/readyz")[::2] == (200, b"ready\n")
    finally:
        s.stop()
    assert s.proc.returncode == 0
    if os.environ.get("SPP_SANITIZED"):
        assert not any(m in s.stderr() for m in SANITIZER_MARKS), s.stderr()[-4000:]


# ---- metrics ----

def tile_xy(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def parse(text):
    """Families by name, and a strict check of the exposition: one HELP and one TYPE per
    family, before its samples; every sample name and label set once."""
    helps, types = {}, {}
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+)", line)
        if m:
            d = helps if m.group(1) == "HELP" else types
            d[m.group(2)] = d.get(m.group(2), 0) + 1
    assert all(v == 1 for v in helps.values()), helps
    assert all(v == 1 for v in types.values()), types
    assert helps.keys() == types.keys()
    fams, seen = {}, set()
    for fam in text_string_to_metric_families(text):
        assert fam.name not in fams, f"family {fam.name} twice"
        fams[fam.name] = fam
        for smp in fam.samples:
            key = (smp.name, tuple(sorted(smp.labels.items())))
            assert key not in seen, f"duplicate series {key}"
            seen.add(key)
    return fams


def value(fams, family, sample, **labels):
    for smp in fams[family].samples:
        if smp.name == sample and smp.labels == labels:
            return smp.value
    raise KeyError((sample, labels))


def test_metrics(serve, small_store, tmp_path):
    s = serve(small_store)
    planner = run_spp("keys", "--db", small_store, "add", "--role", "planner",
                      "--name", "metrics").stdout.strip().splitlines()[0]
    caps = ('<wfs:GetCapabilities xmlns:wfs="http://www.opengis.net/wfs/2.0" service="WFS"/>')
    # WFS and OWS, each by GET and by POST: one series per route, the sum of both methods
    assert s.get("/wfs?SERVICE=WFS&REQUEST=GetCapabilities")[0] == 200
    assert s.get("/wfs", {"Content-Type": "application/xml"}, "POST", caps)[0] == 200
    assert s.get("/ows?SERVICE=WFS&REQUEST=GetCapabilities")[0] == 200
    assert s.get("/ows", {"Content-Type": "application/xml"}, "POST", caps)[0] == 200
    before = parse(s.metrics())
    x, y = tile_xy(105.789, 10.035, 17)
    for fmt in ("mvt", "png"):
        for _ in range(2):
            assert s.get(f"/tiles/cadastral_parcels/17/{x}/{y}.{fmt}")[0] in (200, 204)
    small = GETMAP.replace("4000", "256")
    assert s.get(small)[0] == 200
    text = s.metrics()
    fams = parse(text)
    assert value(fams, "spp_requests", "spp_requests_total", route="wfs", status="2xx") == 2
    assert value(fams, "spp_requests", "spp_requests_total", route="ows", status="2xx") == 2
    assert value(fams, "spp_request_duration_seconds", "spp_request_duration_seconds_count",
                 route="wfs") == 2
    for fmt in ("mvt", "png"):
        for what, want in (("misses", 1), ("hits", 1)):
            fam = f"spp_tile_cache_{what}"
            got = value(fams, fam, fam + "_total", layer="cadastral_parcels", format=fmt)
            had = value(before, fam, fam + "_total", layer="cadastral_parcels", format=fmt)
            assert got - had == want, (fam, fmt)
        assert value(fams, "spp_tile_cache_evictions", "spp_tile_cache_evictions_total",
                     layer="roads", format=fmt) == 0
        assert value(fams, "spp_tile_cache_hits", "spp_tile_cache_hits_total", layer="roads",
                     format=fmt) == 0
    assert fams["spp_tile_cache_hits"].type == "counter"
    assert value(fams, "spp_requests_in_flight", "spp_requests_in_flight") >= 1
    assert fams["spp_queue_wait_seconds"].type == "histogram"
    assert value(fams, "spp_queue_wait_seconds", "spp_queue_wait_seconds_count") >= 10
    for kind, n in (("wms", 1), ("tile_png", 1), ("tile_mvt", 1)):
        assert value(fams, "spp_render_duration_seconds", "spp_render_duration_seconds_count",
                     kind=kind) == n, kind
    # build info: the commit the binary was built from exists in this repository
    (build,) = fams["spp_build_info"].samples
    commit = build.labels["commit"]
    assert build.value == 1 and build.labels["version"]
    if subprocess.run(["git", "-C", ROOT, "rev-parse"], capture_output=True).returncode == 0:
        assert re.fullmatch(r"(.*-g)?[0-9a-f]{7,40}(-dirty)?", commit), commit
        sha = re.search(r"([0-9a-f]{7,40})(-dirty)?$", commit).group(1)
        assert subprocess.run(["git", "-C", ROOT, "cat-file", "-e", sha + "^{commit}"],
                              capture_output=True).returncode == 0, commit
    up = value(fams, "spp_uptime_seconds", "spp_uptime_seconds")
    assert 0 < up < 600
    start = value(fams, "process_start_time_seconds", "process_start_time_seconds")
    assert abs(start + up - time.time()) < 5
    # the last import of roads, as the store records it
    con = spatialite(small_store)
    batch, updated = con.execute(
        "SELECT import_batch, strftime('%s', updated) FROM spp_layers WHERE layer = 'roads'").fetchone()
    assert con.execute("SELECT count(*) FROM spp_imports WHERE batch = ?", (batch,)).fetchone()[0] == 1
    con.close()
    assert value(fams, "spp_layer_last_import_timestamp_seconds",
                 "spp_layer_last_import_timestamp_seconds", layer="roads", batch=batch) == int(updated)
    assert value(fams, "spp_layer_features", "spp_layer_features", layer="roads") == 2
    # never imported: no import series
    assert not [x for x in fams["spp_layer_last_import_timestamp_seconds"].samples
                if x.labels["layer"] == "cadastral_parcels"]
    # a layer above the caller's role is not named
    assert "construction_permits" not in text
    with_key = s.metrics({"X-API-Key": planner})
    parse(with_key)
    assert 'spp_tile_cache_hits_total{layer="construction_permits",format="mvt"} 0' in with_key
    assert s.get("/metrics", {"X-API-Key": "wrong"})[0] == 401
    # a client's pause between requests on a kept-alive connection is no wait for a worker
    sums = []
    keep = s.conn()
    for path in ("/healthz", "/collections", "/collections"):
        keep.request("GET", path)
        keep.getresponse().read()
        time.sleep(0.5)
        sums.append(value(parse(s.metrics()), "spp_queue_wait_seconds",
                          "spp_queue_wait_seconds_sum"))
    keep.close()
    assert sums[2] - sums[0] < 0.2, sums


# ---- access log ----

LINE = re.compile(r'^(?P<client>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) '
                  r'(?P<uri>\S+) (?P<proto>HTTP/1\.[01])" (?P<status>\d{3}) (?P<bytes>\d+) '
                  r'"(?P<referer>[^"]*)" "(?P<ua>[^"]*)" (?P<ms>\d+\.\d{3}) (?P<route>\S+) '
                  r'(?P<role>\S+) "(?P<reason>[^"]*)"$')


def log_lines(s, n):
    deadline = time.time() + 5
    while True:
        lines = s.stdout().splitlines()
        if len(lines) >= n or time.time() > deadline:
            return lines
        time.sleep(0.02)


def requests_logged(s, n):
    """The access-log lines of the test's requests (not the readiness polls), once n are
    written (a line is written when its answer has been sent)."""
    deadline = time.time() + 5
    while True:
        lines = [ln for ln in s.stdout().splitlines() if "/readyz" not in ln]
        if len(lines) >= n or time.time() > deadline:
            return lines
        time.sleep(0.02)


def test_access_log_text(serve, small_store, tmp_path):
    cfg = write_config(str(tmp_path / "log.json"), {"trusted_proxies": ["10.0.0.0/8", "::1"]})
    s = serve(small_store, config=cfg)
    key = run_spp("keys", "--db", small_store, "add", "--role", "investor",
                  "--name", "log").stdout.strip().splitlines()[0]
    t0 = time.time()
    # ?key= is read as the API key (issue 18: a wrong one is a 401), so both spellings carry the
    # right key here; the log must not show it either
    st, _, body = s.get(f"/collections?f=json&key={key}&%6Bey={key}&parcel_key=K1"
                        "&API_KEY=SECRET-Q3&access_token=SECRET-Q4;token=SECRET-Q5",
                        {"X-API-Key": key, "Referer": "http://map/?key=SECRET-R",
                         "User-Agent": 'evil" 200 0 "x'})
    assert st == 200
    st404, _, body404 = s.get("/collections/no_such_layer", {"Authorization": "Bearer " + key})
    assert st404 == 404
    # 127.0.0.1 is not a trusted proxy here: its X-Forwarded-For is not believed
    s.get("/healthz", {"X-Forwarded-For": "203.0.113.9"})
    lines = requests_logged(s, 3)
    assert len(lines) == 3, lines
    m = [LINE.match(ln) for ln in lines]
    assert all(m), lines
    # lines are written as answers complete, which need not be the order they were asked in
    a, b, c = (next(x for x in m if x["uri"].startswith(p))
               for p in ("/collections?", "/collections/no_such_layer", "/healthz"))
    assert a["client"] == "127.0.0.1" and a["user"].startswith("key:") and a["method"] == "GET"
    assert a["uri"] == ("/collections?f=json&key=REDACTED&%6Bey=REDACTED&parcel_key=K1"
                        "&API_KEY=REDACTED&access_token=REDACTED;token=REDACTED")
    assert a["status"] == "200" and int(a["bytes"]) == len(body)
    assert a["referer"] == "http://map/?key=REDACTED"
    assert a["ua"] == r"evil\x22 200 0 \x22x"
    assert a["route"] == "collections" and a["role"] == "investor" and a["reason"] == "-"
    assert 0 <= float(a["ms"]) < 10000
    when = calendar.timegm(time.strptime(a["time"], "%d/%b/%Y:%H:%M:%S +0000"))
    assert abs(when - t0) < 60
    assert b["status"] == "404" and int(b["bytes"]) == len(body404)
    # the error message answered, with its quotes escaped as in the rest of the line
    assert b["reason"].replace("\\x22", '"') == json.loads(body404)["detail"]
    assert "no_such_layer" in b["reason"]
    assert c["client"] == "127.0.0.1"
    log = s.stdout() + s.stderr()
    for secret in ("SECRET-Q3", "SECRET-Q4", "SECRET-Q5", "SECRET-R", key):
        assert secret not in log


def test_access_log_json_and_trusted_proxies(serve, small_store, tmp_path):
    cfg = write_config(str(tmp_path / "log.json"),
                       {"log_format": "json", "trusted_proxies": ["127.0.0.0/8", "192.0.2.0/24"]})
    s = serve(small_store, config=cfg)
    cases = [
        ("203.0.113.9", "203.0.113.9"),
        ("198.51.100.7, 192.0.2.10", "198.51.100.7"),        # our own proxy hop skipped
        ("198.51.100.7, 203.0.113.5, 192.0.2.10", "203.0.113.5"),  # rightmost untrusted wins
        ("not-an-address", "127.0.0.1"),
        ("192.0.2.10, 127.0.0.2", "192.0.2.10"),             # all trusted: the leftmost
    ]
    for i, (xff, _) in enumerate(cases):
        # api_key is redacted in the log but is not an API key spp reads (?key= is: a wrong
        # one would be a 401, issue 18)
        s.get(f"/collections/no_such_layer?case={i}&api_key=SECRET-J", {"X-Forwarded-For": xff})
    lines = requests_logged(s, len(cases))
    assert len(lines) == len(cases)
    entries = sorted((json.loads(line) for line in lines), key=lambda e: e["uri"])
    for e, (xff, want) in zip(entries, cases):
        assert e["client"] == want, (xff, e)
        assert e["method"] == "GET" and e["status"] == 404 and e["route"] == "collection"
        assert re.fullmatch(r"/collections/no_such_layer\?case=\d&api_key=REDACTED", e["uri"])
        assert e["protocol"] == "HTTP/1.1" and e["bytes"] > 0 and e["duration_ms"] >= 0
        assert "no_such_layer" in e["reason"] and e["key_id"] is None and e["role"] == "public"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"])
    assert "SECRET-J" not in s.stdout()
    # the rate limit counts the forwarded client, not the proxy
    s.stop()
    cfg2 = write_config(str(tmp_path / "rate.json"),
                        {"trusted_proxies": ["127.0.0.1"], "limits": {"rate_per_minute": 2}})
    s2 = serve(small_store, config=cfg2)
    for _ in range(2):
        assert s2.get("/collections", {"X-Forwarded-For": "198.51.100.1"})[0] == 200
    assert s2.get("/collections", {"X-Forwarded-For": "198.51.100.1"})[0] == 429
    assert s2.get("/collections", {"X-Forwarded-For": "198.51.100.2"})[0] == 200
