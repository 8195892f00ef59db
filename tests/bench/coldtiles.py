#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Cold-cache tile pass: requests every tile of a list exactly once (the list order, split
round-robin over CONC keep-alive connections) and prints one JSON line with the per-request
latency (mean, p50, p99 in ms), tiles/s over the pass, the average body size, the statuses, and
the tile whose body is closest to --near-bytes (to pick a cached tile for the static-file row).
Run it right after the tile cache was emptied: every request is then a cache miss.

usage: coldtiles.py BASE_URL LIST TEMPLATE CONTENT_TYPE [--conc N] [--near-bytes B] [--save DIR]
                    [--max-seconds S]
LIST/TEMPLATE as tests/bench/peers/wrk/urls.lua: rows "z x y minx miny maxx maxy", {1} {2} {3}, {bbox}.
--save DIR writes each body to DIR/z/x/y.EXT (EXT from the template), so nginx can serve the very
same bytes as static files for the cached-tile comparison. --max-seconds stops sending new
requests after S seconds (the figures are then over the requests done; "done" < "planned").
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def paths(list_file, tpl):
    out, rows = [], []
    for line in open(list_file, encoding="utf-8"):
        f = []
        for w in line.split():
            if w.startswith("#"):
                break
            f.append(w)
        if not f:
            continue
        p = tpl
        if len(f) >= 7:
            p = p.replace("{bbox}", ",".join(f[3:7]))
        for i, v in enumerate(f, 1):
            p = p.replace("{%d}" % i, v)
        out.append(p)
        rows.append(f)
    return out, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("list")
    ap.add_argument("template")
    ap.add_argument("ctype")
    ap.add_argument("--conc", type=int, default=1)
    ap.add_argument("--near-bytes", type=int, default=20482)
    ap.add_argument("--save")
    ap.add_argument("--max-seconds", type=float, default=0)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.base)
    ps, rows = paths(a.list, a.template)
    ext = os.path.splitext(urllib.parse.urlsplit(a.template).path)[1]
    lat = [None] * len(ps)
    size = [0] * len(ps)
    status = {}
    bad = []
    lock = threading.Lock()

    def worker(k):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        for i in range(k, len(ps), a.conc):
            if a.max_seconds and time.perf_counter() - start > a.max_seconds:
                break
            t0 = time.perf_counter()
            try:
                c.request("GET", ps[i])
                r = c.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException) as e:
                # a dropped connection is a failed request: counted, reported, not retried
                lat[i] = (time.perf_counter() - t0) * 1000.0
                with lock:
                    status["error"] = status.get("error", 0) + 1
                    bad.append("%s -> %s" % (ps[i], type(e).__name__))
                c.close()
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
                continue
            lat[i] = (time.perf_counter() - t0) * 1000.0
            size[i] = len(body)
            if a.save:
                d = os.path.join(a.save, rows[i][0], rows[i][1])
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, rows[i][2] + ext), "wb") as fh:
                    fh.write(body)
            ct = r.getheader("Content-Type", "")
            with lock:
                status[r.status] = status.get(r.status, 0) + 1
                # 204 = an empty tile (allowed by the tiles issue); anything else must be the type
                if r.status not in (200, 204) or (r.status == 200 and not ct.startswith(a.ctype)):
                    bad.append("%s -> %d %s" % (ps[i], r.status, body[:120]))
        c.close()

    start = t0 = time.perf_counter()
    th = [threading.Thread(target=worker, args=(k,)) for k in range(a.conc)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    wall = time.perf_counter() - t0
    done = [i for i in range(len(ps)) if lat[i] is not None]
    s = sorted(lat[i] for i in done)
    n = len(s)
    near = min(done, key=lambda i: abs(size[i] - a.near_bytes))
    print(json.dumps({
        "requests": n, "planned": len(ps), "conc": a.conc, "wall_s": round(wall, 3), "tiles_per_s": round(n / wall, 2),
        "mean_ms": round(sum(s) / n, 3), "p50_ms": round(s[int(n * 0.5)], 3),
        "p99_ms": round(s[min(n - 1, int(n * 0.99))], 3), "max_ms": round(s[-1], 3),
        "avg_bytes": round(sum(size[i] for i in done) / n), "status": status, "bad": len(bad), "bad_samples": bad[:3],
        "near_path": ps[near], "near_bytes": size[near]}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
