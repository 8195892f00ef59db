# SPDX-License-Identifier: MIT
"""Integration harness: builds a store from small fixtures, starts `spp serve` on a free port,
waits for /healthz, and stops it at the end. Run with Debian's /usr/bin/python3 (pytest)."""
import json
import os
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPP = os.environ.get("SPP_BIN", os.path.join(ROOT, "spp"))


def run_spp(*args, check=True, **kw):
    """Runs the spp CLI; returns CompletedProcess (text)."""
    p = subprocess.run([SPP, *args], capture_output=True, text=True, cwd=ROOT, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"spp {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def spatialite(path):
    """A Python sqlite3 connection with mod_spatialite loaded (independent of spp)."""
    con = sqlite3.connect(path)
    con.enable_load_extension(True)
    con.load_extension("mod_spatialite")
    return con


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, db, tmpdir, config=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(tmpdir, f"serve-{self.port}.log"), "w")
        args = [SPP, "serve", "--db", db, "--listen", f"127.0.0.1:{self.port}", "--threads", "4"]
        if config:
            args += ["--config", config]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"spp serve exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise RuntimeError("spp serve did not answer /healthz")

    def get(self, path, headers=None, method="GET", data=None):
        """Returns (status, headers, body bytes) without raising on 4xx/5xx."""
        req = urllib.request.Request(self.base + path, headers=headers or {}, method=method,
                                     data=data)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def flush_tiles(self):
        """Waits until the tiles this server has answered are in its cache file: the disk writes
        are behind the answers (a write-behind queue), and /metrics reports the file's state
        after what was queued before it (tile_cache_disk_stats flushes)."""
        status, _, _ = self.get("/metrics")
        assert status == 200

    def json(self, path, headers=None):
        status, hdrs, body = self.get(path, headers)
        return status, hdrs, json.loads(body) if body else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# Fixture features, written straight into the store with SpatiaLite SQL (EPSG:5897, Ninh Kieu).
FIXTURE_ROADS = [
    ("Đường 30 Tháng 4", "do_thi_chinh", "LINESTRING(586000 1109600, 586400 1109700)"),
    ("Đường Trần Hưng Đạo", "do_thi_chinh", "LINESTRING(586100 1109500, 586150 1109900)"),
    ("Hẻm 51", "hem", "LINESTRING(586200 1109650, 586260 1109660)"),
]


def build_fixture_store(path):
    if os.path.exists(path):
        os.remove(path)
    run_spp("init", "--db", path)
    con = spatialite(path)
    for name, cls, wkt in FIXTURE_ROADS:
        con.execute("INSERT INTO roads (name, road_class, geom) VALUES (?, ?,"
                    " CastToMulti(GeomFromText(?, 5897)))", (name, cls, wkt))
    con.execute("""INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy)
                   SELECT 'roads', 1, count(*), min(MbrMinX(geom)), min(MbrMinY(geom)),
                   max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM roads WHERE 1
                   ON CONFLICT(layer) DO UPDATE SET version = excluded.version,
                   n_features = excluded.n_features, minx = excluded.minx, miny = excluded.miny,
                   maxx = excluded.maxx, maxy = excluded.maxy""")
    con.commit()
    con.close()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("spp"))


@pytest.fixture(scope="session")
def store(workdir):
    path = os.path.join(workdir, "fixture.sqlite")
    build_fixture_store(path)
    return path


@pytest.fixture(scope="session")
def server(store, workdir):
    s = Server(store, workdir)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def catalog():
    layers = {}
    d = os.path.join(ROOT, "layers")
    for name in os.listdir(d):
        if name.endswith(".json") and name != "common.json":
            with open(os.path.join(d, name), encoding="utf-8") as f:
                obj = json.load(f)
            layers[obj["id"]] = obj
    return layers


# Under `make asan` (SPP_SANITIZED=1) every server's log is read when the session ends: a
# sanitizer report (AddressSanitizer, LeakSanitizer at exit, UndefinedBehaviorSanitizer) in any
# of them fails the run, even when the requests themselves were answered correctly.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


@pytest.fixture(scope="session", autouse=True)
def sanitizer_reports(workdir):
    yield
    if not os.environ.get("SPP_SANITIZED"):
        return
    bad = []
    for name in sorted(os.listdir(workdir)):
        if name.endswith(".log"):
            with open(os.path.join(workdir, name), errors="replace") as f:
                text = f.read()
            if any(m in text for m in SANITIZER_MARKS):
                bad.append(f"{name}:\n{text[-4000:]}")
    assert not bad, "sanitizer reports in server logs:\n" + "\n".join(bad)


# Feature services (WFS, OGC API): a store with a few hundred features in several layers, and a
# planner key for it (features_fixture.py).
@pytest.fixture(scope="session")
def features_store(workdir):
    import features_fixture
    path = os.path.join(workdir, "features.sqlite")
    features_fixture.build(path)
    return path


@pytest.fixture(scope="session")
def features_server(features_store, workdir):
    key = run_spp("keys", "--db", features_store, "add", "--role", "planner",
                  "--name", "tests").stdout.strip().splitlines()[0]
    s = Server(features_store, workdir)
    s.planner_key = key
    yield s
    s.stop()
# The demo city (data/gen_demo.py), generated and imported once per test session. `demo_store` is
# the path of the imported store; `demo` has the sources, the truth and the import report too.
@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("demo"))
    src = os.path.join(d, "src")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "data", "gen_demo.py"), "--out", src],
                   check=True, capture_output=True, text=True)
    db = os.path.join(d, "demo.sqlite")
    rep = os.path.join(d, "report")
    p = run_spp("import", "--db", db, "--manifest", os.path.join(src, "manifest.json"), "--report", rep,
                check=False)
    with open(os.path.join(src, "truth.json"), encoding="utf-8") as f:
        truth = json.load(f)
    # exit 3: done, with rejected features (the demo plants some); 0 when none are planted
    want = 3 if sum(truth.get("rejected_counts", {}).values()) else 0
    assert p.returncode == want, (p.returncode, p.stderr[-2000:])
    with open(os.path.join(rep, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    return {"dir": d, "src": src, "db": db, "truth": truth, "report": report, "stdout": p.stdout,
            "stderr": p.stderr}


@pytest.fixture(scope="session")
def demo_store(demo):
    return demo["db"]
