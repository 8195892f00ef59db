#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The address search (/api/v1/search) on the bench city, without and with the store's trigram
index (store/search.c). The city generator's parcels have no address: this fills one per parcel,
deterministically, into a copy of the imported bench store ("<parcel_no> <road name>, <ward>",
road names from the city's own roads, so "Trần Phú"-like queries find some hundreds of parcels
among 200k), then serves two copies of it: one as a store made before the index (the scan) and
one after `spp init` built the index. Each query is asked RUNS times in turn on an otherwise idle
server, one client; p50 and p90 in ms per query and store. Writes a markdown and a JSON file.

  tests/bench/search_bench.py [--store /tmp/spp-bench/spp/city.sqlite] [--work DIR] [--runs 15]
                              [--spp ./spp] [--out tests/bench/results/search-DATE]

The store is the one `make bench` imports (tests/bench/bench.sh, $OUT/spp/city.sqlite); it is
only read. No timing here is asserted anywhere: the figures go to the README by hand."""
import argparse
import datetime
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("SPP_HOME", ROOT)  # the catalog, wherever the binary is
QUERIES = ["tran phu", "Trần Ngọc Quế", "nguyen hien", "chau van liem 12", "duong dal ap",
           "huynh cuong, phuong an binh", "xyzzy"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def fill_addresses(path):
    con = sqlite3.connect(path)
    names = [r[0] for r in con.execute("SELECT name FROM roads WHERE name IS NOT NULL"
                                       " GROUP BY name ORDER BY name")]
    with open(os.path.join(ROOT, "tests", "bench", "city_manifest.json"), encoding="utf-8") as f:
        wards = {v: k for k, v in json.load(f)["sources"][0]["values"]["commune_code"].items()}
    rows = con.execute("SELECT fid, sheet_no, parcel_no, commune_code FROM cadastral_parcels"
                       ).fetchall()
    upd = []
    for fid, sheet, no, ward in rows:
        street = names[((sheet or 0) * 7919 + (no or 0) // 40) % len(names)]
        upd.append(("%d %s, %s" % ((no or 0) % 300 + 1, street, wards.get(ward, "")), fid))
    con.executemany("UPDATE cadastral_parcels SET address = ? WHERE fid = ?", upd)
    con.commit()
    con.close()
    return len(upd)


class Serve:
    def __init__(self, spp, db, logdir, name):
        self.port = free_port()
        self.log = open(os.path.join(logdir, name + ".log"), "w")
        self.proc = subprocess.Popen([spp, "serve", "--db", db, "--listen",
                                      "127.0.0.1:%d" % self.port, "--threads", "2"],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        for _ in range(400):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.port, timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("spp serve did not start")

    def ask(self, q):
        url = "http://127.0.0.1:%d/api/v1/search?q=%s" % (self.port, urllib.parse.quote(q))
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as r:
            body = r.read()
        return (time.perf_counter() - t) * 1000.0, json.loads(body)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="/tmp/spp-bench/spp/city.sqlite")
    ap.add_argument("--work", default="/tmp/spp-search-bench")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--spp", default=os.path.join(ROOT, "spp"))
    day = datetime.date.today().strftime("%Y%m%d")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "bench", "results",
                                                  "search-" + day))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    scan, indexed = os.path.join(a.work, "scan.sqlite"), os.path.join(a.work, "indexed.sqlite")
    shutil.copy(a.store, scan)
    for sfx in ("-wal", "-shm"):
        if os.path.exists(scan + sfx):
            os.remove(scan + sfx)
    con = sqlite3.connect(scan)  # a store made before the index: drop one if it has it
    for r in con.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'spp\\_search\\_%'"
                         " ESCAPE '\\' AND type IN ('trigger', 'table')").fetchall():
        if r[0] == "trigger":
            con.execute('DROP TRIGGER IF EXISTS "%s"' % r[1])
    for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB"
                         " 'spp_search_*' AND sql NOT LIKE 'CREATE TABLE ''%'").fetchall():
        con.execute('DROP TABLE IF EXISTS "%s"' % r[0])
    con.commit()
    con.close()
    n = fill_addresses(scan)
    shutil.copy(scan, indexed)
    t = time.perf_counter()
    subprocess.run([a.spp, "init", "--db", indexed], check=True, cwd=ROOT, capture_output=True)
    build_s = time.perf_counter() - t
    sizes = {k: os.path.getsize(p) for k, p in (("scan", scan), ("indexed", indexed))}
    res = {"parcels": n, "runs": a.runs, "index_build_s": round(build_s, 2), "bytes": sizes,
           "queries": {}}
    servers = {"scan": Serve(a.spp, scan, a.work, "scan"),
               "indexed": Serve(a.spp, indexed, a.work, "indexed")}
    try:
        for q in QUERIES:
            answers = {}
            for name, s in servers.items():
                s.ask(q)  # warm: pages in the cache
                ms = []
                for _ in range(a.runs):
                    t_ms, body = s.ask(q)
                    ms.append(t_ms)
                answers[name] = body
                res["queries"].setdefault(q, {})[name] = {
                    "p50_ms": round(statistics.median(ms), 1),
                    "p90_ms": round(sorted(ms)[int(0.9 * (len(ms) - 1))], 1),
                    "hits": len(body["results"])}
            res["queries"][q]["same_answer"] = answers["scan"] == answers["indexed"]
    finally:
        for s in servers.values():
            s.stop()
    p50 = {k: round(statistics.median(v[k]["p50_ms"] for v in res["queries"].values()), 1)
           for k in servers}
    res["p50_of_p50_ms"] = p50
    with open(a.out + ".json", "w", encoding="utf-8") as f:
        json.dump(res, f, ensure_ascii=False, indent=1)
    lines = ["# /api/v1/search on the bench city (%d parcels with addresses), %s" % (n, day), "",
             "One client, %d runs per query after one warm-up, `spp serve --threads 2`, a machine"
             " shared with other work (2 cores): read the ratios, not the last digit." % a.runs,
             "Index build (`spp init` on the store made before it): %.1f s; store %.0f MB ->"
             " %.0f MB." % (build_s, sizes["scan"] / 1e6, sizes["indexed"] / 1e6), "",
             "| query | hits | scan p50 ms | scan p90 ms | indexed p50 ms | indexed p90 ms |"
             " same answer |", "|---|---|---|---|---|---|---|"]
    for q, v in res["queries"].items():
        lines.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            q, v["indexed"]["hits"], v["scan"]["p50_ms"], v["scan"]["p90_ms"],
            v["indexed"]["p50_ms"], v["indexed"]["p90_ms"], "yes" if v["same_answer"] else "NO"))
    lines += ["", "Median of the queries' p50: scan %s ms, indexed %s ms." % (p50["scan"],
                                                                           p50["indexed"])]
    with open(a.out + ".md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
