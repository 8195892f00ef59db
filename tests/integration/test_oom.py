# SPDX-License-Identifier: MIT
"""Out of memory anywhere in a response (issue 23): with spp's allocations failing at many points
of a request (the failing-allocator test hook, src/core/alloc.c: the server runs with
SPP_TEST_FAIL_ALLOC set and each request names the allocation to fail in X-Spp-Test-Fail-Alloc),
every answer is either the complete 200 a request gets without failures, byte for byte, or a 503
with Retry-After and an error body in the route's protocol (problem JSON, OWS ExceptionReport,
WMS ServiceExceptionReport): never a truncated or otherwise different 200, never a crash. Each
request is swept from the first allocation to past its last, failing every allocation from the
Nth on, and failing only the Nth (code that goes on after one failure must not send what it has).
Under `make asan` the server logs are checked for sanitizer reports too (conftest)."""
import json
import os
import re
import sqlite3
import xml.etree.ElementTree as ET

import pytest

from conftest import Server, run_spp

# (store, path, the error form of the route, with the agency key: no shared tile cache, the
# request's data is audited)
REQUESTS = [
    ("features", "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels,roads"
     "&STYLES=&CRS=EPSG:5897&BBOX=586000,1109000,586400,1109300&WIDTH=128&HEIGHT=96"
     "&FORMAT=image/png&TRANSPARENT=TRUE", "wms", False),
    ("features", "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=spp:roads&COUNT=3",
     "ows", False),
    ("features", "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=spp:roads&COUNT=3"
     "&OUTPUTFORMAT=text/csv", "ows", False),
    ("features", "/collections/cadastral_parcels/items?limit=3", "problem", False),
    ("features", "/collections/roads/items?limit=2", "problem", True),
    ("features", "/tiles/cadastral_parcels,roads/17/104052/61865.mvt", "problem", True),
    ("features", "/collections/roads/metadata?f=xml", "problem", False),
    ("query", "/api/v1/land/at?lon=105.7866&lat=10.0286", "problem", False),
    ("query", "/api/v1/land-funds?kind=vacant&sort=id&limit=3&f=csv", "problem", False),
    # the parcel sheet: the land API and a WMS map called in-process, a QR code
    ("query", "/print/parcel/{parcel}?lang=en", "problem", False),
]



@pytest.fixture(scope="module")
def oom_servers(features_store, workdir):
    import query_fixture
    qpath = os.path.join(workdir, "oom_query.sqlite")
    if os.path.exists(qpath):
        os.remove(qpath)
    query_fixture.build(qpath)
    agency = run_spp("keys", "--db", features_store, "add", "--agency", "OOM test",
                     "--layers", "cadastral_parcels,roads").stdout.strip().splitlines()[0]
    old = os.environ.get("SPP_TEST_FAIL_ALLOC")
    os.environ["SPP_TEST_FAIL_ALLOC"] = "0"  # the hook on, failing nothing unless asked
    try:
        servers = {"features": Server(features_store, workdir), "query": Server(qpath, workdir)}
    finally:
        if old is None:
            del os.environ["SPP_TEST_FAIL_ALLOC"]
        else:
            os.environ["SPP_TEST_FAIL_ALLOC"] = old
    con = sqlite3.connect(qpath)
    parcel = con.execute("SELECT parcel_key FROM cadastral_parcels ORDER BY fid LIMIT 1").fetchone()
    con.close()
    yield servers, agency, parcel[0]
    for s in servers.values():
        s.stop()


def check_error(status, hdrs, body, form, what):
    assert status == 503, f"{what}: {status} {body[:300]!r}"
    assert hdrs.get("Retry-After"), f"{what}: 503 without Retry-After"
    ctype = hdrs.get("Content-Type", "")
    if form == "problem":
        assert ctype.startswith("application/problem+json"), f"{what}: {ctype}"
        doc = json.loads(body)
        assert doc["status"] == 503 and doc["detail"], f"{what}: {doc}"
    else:
        assert "xml" in ctype, f"{what}: {ctype}"
        root = ET.fromstring(body)
        tag = root.tag.rsplit("}", 1)[-1]
        assert tag == ("ServiceExceptionReport" if form == "wms" else "ExceptionReport"), what


def stable(body):
    """The body without what changes between two identical requests: the time of the answer
    (WFS's timeStamp attribute, OGC API's "timeStamp")."""
    body = re.sub(rb'timeStamp="[^"]*"', b'timeStamp=""', body)
    return re.sub(rb'"timeStamp":"[^"]*"', b'"timeStamp":""', body)


def fail_at(server, path, headers, n, once):
    h = dict(headers, **{"X-Spp-Test-Fail-Alloc": f"{n},once" if once else str(n)})
    return server.get(path, headers=h)


def allocations(server, path, headers):
    """About how many allocations the request makes: the first N from which failing every
    allocation no longer touches it (exponential, then binary search)."""
    hi = 1
    while fail_at(server, path, headers, hi, False)[0] != 200:
        hi *= 2
        assert hi < 1 << 20, f"{path}: no clean answer up to allocation {hi}"
    lo = hi // 2
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if fail_at(server, path, headers, mid, False)[0] == 200:
            hi = mid
        else:
            lo = mid
    return hi - 1


def sweep(server, path, headers, form, once):
    """Fails allocation N (and every later one unless once) for every N from the first to past
    the request's last (every one up to 300, then one in 16 more). Returns (number of 503s,
    number of complete 200s)."""
    base = server.get(path, headers=headers)
    assert base[0] == 200, f"{path}: baseline {base[0]} {base[2][:300]!r}"
    want_type, want_body = base[1].get("Content-Type"), stable(base[2])
    total = allocations(server, path, headers)
    errors = fine = 0
    n = 1
    while n <= total + 3:
        status, hdrs, body = fail_at(server, path, headers, n, once)
        what = f"{path} failing allocation {n} of {total}{' only' if once else ' on'}"
        if status == 200:
            assert hdrs.get("Content-Type") == want_type, f"{what}: {hdrs.get('Content-Type')}"
            assert stable(body) == want_body, \
                f"{what}: a 200 that differs from the complete answer " \
                f"({len(body)} bytes, want {len(want_body)})"
            fine += 1
        else:
            check_error(status, hdrs, body, form, what)
            errors += 1
        n = n + 1 if n < 300 else n + max(1, n // 16)
    # past its last allocation the request is untouched
    status, _, body = fail_at(server, path, headers, total + 50, once)
    assert status == 200 and stable(body) == want_body, f"{path}: not clean past allocation {total}"
    return errors, fine


@pytest.mark.parametrize("once", [False, True], ids=["from-n-on", "only-n"])
@pytest.mark.parametrize("store,path,form,scoped", REQUESTS, ids=[r[1][:40] for r in REQUESTS])
def test_out_of_memory_is_503_never_truncated_200(oom_servers, store, path, form, scoped, once,
                                                  request):
    servers, agency, parcel = oom_servers
    headers = {"X-API-Key": agency} if scoped else {}
    errors, fine = sweep(servers[store], path.replace("{parcel}", parcel), headers, form, once)
    # the hook reached the request: some allocation failures were answered 503
    assert errors > 0, f"{path}: no allocation failed"
    for s in servers.values():
        assert s.proc.poll() is None, "the server died"
        assert s.get("/healthz")[0] == 200


def test_hook_off_without_the_environment(server):
    """A server started without SPP_TEST_FAIL_ALLOC ignores the header."""
    assert "SPP_TEST_FAIL_ALLOC" not in os.environ
    status, _, body = server.get("/collections", headers={"X-Spp-Test-Fail-Alloc": "1"})
    assert status == 200 and json.loads(body)["collections"]
