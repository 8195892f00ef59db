# SPDX-License-Identifier: MIT
"""Limits end to end against a real `spp serve`: request rate per key and per client address
(429 + Retry-After), request body size (413), concurrent requests (503 + Retry-After), all in
the route's own error form, and a config that names an unknown limit is refused."""
import json
import os
import threading

from conftest import Server, run_spp, SPP


def write_config(workdir, name, limits):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        json.dump({"limits": limits}, f)
    return path


def test_rate_limit_per_address_and_key(store, workdir):
    cfg = write_config(workdir, "rate.json", {"rate_per_minute": 4})
    key = run_spp("keys", "--db", store, "add", "--role", "investor").stdout.strip()
    s = Server(store, workdir, config=cfg)
    try:
        statuses = [s.get("/collections")[0] for _ in range(4)]
        assert statuses == [200] * 4
        status, hdrs, body = s.get("/collections")
        assert status == 429
        assert hdrs["Content-Type"] == "application/problem+json"
        assert json.loads(body)["status"] == 429
        assert int(hdrs["Retry-After"]) == 15  # 4 per minute: one every 15 s
        # the key has its own budget, and a key's budget is not the address's
        for _ in range(4):
            assert s.get("/collections", headers={"X-API-Key": key})[0] == 200
        assert s.get("/collections", headers={"X-API-Key": key})[0] == 429
        # a wrong key is counted against the address: no free key guessing
        assert s.get("/collections", headers={"X-API-Key": "spp_guess"})[0] == 429
        # health checks are never limited
        assert all(s.get("/healthz")[0] == 200 for _ in range(6))
    finally:
        s.stop()


def test_body_limit(store, workdir):
    cfg = write_config(workdir, "body.json", {"max_body": 2048})
    s = Server(store, workdir, config=cfg)
    try:
        status, hdrs, body = s.get("/collections", method="POST", data=b"x" * 5000)
        assert status == 413 and hdrs["Content-Type"] == "application/problem+json"
        assert "2048" in json.loads(body)["detail"]
        # at the limit the body is accepted (and the route answers for itself: 405 here)
        status, _, _ = s.get("/collections", method="POST", data=b"x" * 2048)
        assert status == 405
        # the server is still healthy afterwards
        assert s.get("/healthz")[0] == 200
    finally:
        s.stop()


def hammer(server, path, n_threads, per_thread, out):
    def work():
        for _ in range(per_thread):
            status, hdrs, _ = server.get(path)
            out.append((status, hdrs.get("Retry-After"), hdrs.get("Content-Type")))
    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_concurrency_limit(store, workdir):
    cfg = write_config(workdir, "conc.json", {"max_concurrent": 1})
    s = Server(store, workdir, config=cfg)  # 4 worker threads, 1 request at a time
    try:
        out = []
        hammer(s, "/collections", 8, 40, out)
        codes = {st for st, _, _ in out}
        assert codes <= {200, 503}, codes
        busy = [o for o in out if o[0] == 503]
        assert busy, "8 parallel clients never exceeded max_concurrent 1"
        assert all(ra == "1" and ct == "application/problem+json" for _, ra, ct in busy)
        assert any(o[0] == 200 for o in out)
    finally:
        s.stop()
    # the default limit (64) never refuses 8 parallel clients
    s = Server(store, workdir)
    try:
        out = []
        hammer(s, "/collections", 8, 20, out)
        assert {st for st, _, _ in out} == {200}
    finally:
        s.stop()


def test_unknown_limit_refused(store, workdir):
    cfg = write_config(workdir, "bad.json", {"max_bananas": 3})
    p = run_spp("serve", "--db", store, "--listen", "127.0.0.1:0", "--config", cfg, check=False,
                timeout=20)
    assert p.returncode == 1 and "max_bananas" in p.stderr and p.stderr.count("\n") == 1


def test_too_many_query_parameters(server):
    status, _, body = server.get("/collections?" + "&".join(f"p{i}=1" for i in range(1100)))
    assert status == 400 and b"1024" in body
    assert server.get("/collections?" + "&".join(f"p{i}=1" for i in range(1000)))[0] == 200


def test_body_limit_chunked_and_early(store, workdir):
    import http.client
    cfg = write_config(workdir, "body2.json", {"max_body": 2048})
    s = Server(store, workdir, config=cfg)
    try:
        # chunked: no length announced, the limit is found while reading
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        c.request("POST", "/collections", body=iter([b"y" * 1000] * 5), encode_chunked=True)
        r = c.getresponse()
        assert r.status == 413
        c.close()
        # announced past the limit: refused before the body is sent (Expect: 100-continue)
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        c.putrequest("POST", "/collections")
        c.putheader("Content-Length", str(50 * 1024 * 1024))
        c.putheader("Expect", "100-continue")
        c.endheaders()
        r = c.getresponse()  # answered without a single body byte sent
        assert r.status == 413 and r.getheader("Content-Type") == "application/problem+json"
        c.close()
        assert s.get("/healthz")[0] == 200
    finally:
        s.stop()
