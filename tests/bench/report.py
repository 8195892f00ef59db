#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The table of a `make bench` run: spp beside its peer for each row, with the ratio, p50/p99,
the issue's target and whether it is met, from the run directory that tests/bench/bench.sh
filled ($RESULTS: results.tsv written by the shared scripts' record(), skips.tsv, notes.tsv,
env.txt, raw/).

usage: report.py RUN_DIR [--md FILE] [--json FILE]

Speed-up is spp's figure over the peer's for throughputs (req/s, tiles/s, features/s) and the
peer's time over spp's for times (ms per tile), so > 1 always means spp is faster.
"""
import argparse
import json
import os
import re

# label, spp figure, peer figure, peer label, kind ("rate" | "time"), target speed-up, target text
ROWS = [
    ("wms", "WMS GetMap 256x256 PNG, 200 tiles z15-17, 16 conns",
     "wms_getmap_png.spp.rps", "wms_getmap_png.mapserver.rps", "MapServer 8 WMS (FastCGI x2)",
     "rate", 3.0, ">= 3x MapServer req/s (issue 5)"),
    ("wfs", "WFS 2.0 GetFeature GeoJSON, EPSG:9210 BBOX ~500 parcels, 16 conns",
     "wfs_geojson_500.spp.rps", "wfs_geojson_500.mapserver.rps", "MapServer 8 WFS",
     "rate", 3.0, ">= 3x MapServer req/s (issue 4)"),
    ("wfs", "WFS, same, 1 connection",
     "wfs_geojson_500_c1.spp.rps", "wfs_geojson_500_c1.mapserver.rps", "MapServer 8 WFS",
     "rate", None, ""),
    ("ogcapi", "OGC API items, same bboxes (bbox-crs/crs EPSG:9210), 16 conns",
     "ogcapi_items_500.spp.rps", "wfs_geojson_500.mapserver.rps", "MapServer 8 WFS",
     "rate", 3.0, "no slower than spp WFS (>= 3x MapServer) (issue 4)"),
    ("mvt", "MVT cold (empty cache), 1 client: ms per tile, mean",
     "mvt_cold_c1.spp.ms_per_tile_mean", "mvt_pg_z15-17.ms_per_tile_mean",
     "PostGIS ST_AsMVT (pgbench, DB only)", "time", 2.0, "<= half PostGIS time (issue 6)"),
    ("mvt", "MVT cold, 1 client: ms per tile, p50",
     "mvt_cold_c1.spp.p50", "mvt_pg_z15-17.p50", "PostGIS ST_AsMVT", "time", None, ""),
    ("mvt", "MVT cold, 1 client: ms per tile, p99",
     "mvt_cold_c1.spp.p99", "mvt_pg_z15-17.p99", "PostGIS ST_AsMVT", "time", None, ""),
    ("mvt", "MVT cold, 2 clients: tiles/s",
     "mvt_cold_c2.spp.tiles_per_s", "mvt_pg_z15-17.c2.tiles_per_s", "PostGIS ST_AsMVT",
     "rate", None, ""),
    ("mvt", "MVT cached, 200 tiles, 16 conns",
     "mvt_cached.spp.rps", "mvt_cached.nginx.rps", "nginx static, the same 200 tiles' bytes",
     "rate", 0.5, ">= half nginx static req/s (issue 6)"),
    ("png", "PNG tiles cold (empty cache), 16 conns: tiles/s",
     "png_cold.spp.tiles_per_s", "wms_getmap_png.mapserver.rps", "MapServer 8 WMS GetMap",
     "rate", None, ""),
    ("png", "PNG tiles cached, 200 tiles, 16 conns",
     "png_cached.spp.rps", "png_cached.nginx.rps", "nginx static, the same 200 tiles' bytes",
     "rate", 0.5, ">= half nginx static req/s (issue 6)"),
    ("static", "one cached ~20 KB tile vs a 20 KB static file, 16 conns",
     "static_20k.spp.rps", "static_png_20k.nginx.rps", "nginx static (sendfile)",
     "rate", 0.5, ""),
    ("land", "land/at?lon&lat, 200 parcels, 16 conns",
     "land_at.spp.rps", None, "no peer", "rate", None, "p99 < 10 ms (issue 7)"),
    ("landfund", "land-funds search, 50 filter sets, 20 results, 16 conns",
     "land_funds.spp.rps", None, "no peer", "rate", None, "p99 < 30 ms (issue 7)"),
    ("import", "import parcels shapefile (200k) into SpatiaLite: features/s",
     "spp_import_parcels.features_per_s", "ingest_ogr2ogr_shp_to_spatialite.features_per_s",
     "ogr2ogr (raw copy, no normalisation)", "rate", 0.5, "<= 2x ogr2ogr time (issue 3)"),
]
P99_TARGET = {"land_at.spp": 10.0, "land_funds.spp": 30.0}
# which skips.tsv names belong to a row's spp figure
SKIP_OF = {"wms_getmap_png.spp": "wms_getmap_png.spp", "wfs_geojson_500.spp": "wfs_geojson_500.spp",
           "wfs_geojson_500_c1.spp": "wfs_geojson_500.spp",
           "ogcapi_items_500.spp": "ogcapi_items_500.spp",
           "mvt_cold_c1.spp": "mvt_cold_c1.spp", "mvt_cold_c2.spp": "mvt_cold_c1.spp",
           "mvt_cached.spp": "mvt_cold_c1.spp", "png_cold.spp": "png_cold.spp",
           "png_cached.spp": "png_cold.spp", "static_20k.spp": "static_20k.spp",
           "land_at.spp": "land_at.spp", "land_funds.spp": "land_funds.spp",
           "spp_import_parcels": "spp_import_parcels"}


def fmt(v):
    if v is None:
        return "–"
    if v >= 1000:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def load(d):
    rows = {}
    p = os.path.join(d, "results.tsv")
    if os.path.exists(p):
        for line in open(p, encoding="utf-8"):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 8:
                name, value, unit, runs, note, lb, la, ts = f[:8]
                try:
                    v = float(value)
                except ValueError:
                    v = None
                rows[name] = {"value": v, "unit": unit,
                              "runs": [float(x) for x in runs.split(",") if x], "note": note,
                              "load_before": lb, "load_after": la, "time": ts}
    return rows


def read_tsv(d, name):
    p = os.path.join(d, name)
    out = []
    if os.path.exists(p):
        for line in open(p, encoding="utf-8"):
            if "\t" in line:
                out.append(tuple(line.rstrip("\n").split("\t", 1)))
    return out


def base_of(metric):
    return metric.rsplit(".", 1)[0]


def lat(res, metric):
    """p50/p99 of the series that metric belongs to."""
    if metric is None:
        return None, None
    b = base_of(metric)
    if b.endswith(".c2"):
        return None, None
    p50, p99 = res.get(b + ".p50"), res.get(b + ".p99")
    return (p50 or {}).get("value"), (p99 or {}).get("value")


def avg_bytes(res, metric):
    if metric is None or metric not in res:
        return None
    m = re.search(r"avg (?:body|tile) (\d+) B", res[metric]["note"])
    return int(m.group(1)) if m else None


def build(d):
    res = load(d)
    skips = read_tsv(d, "skips.tsv")
    notes = read_tsv(d, "notes.tsv")
    skipd = dict(skips)
    env = open(os.path.join(d, "env.txt"), encoding="utf-8").read().rstrip() \
        if os.path.exists(os.path.join(d, "env.txt")) else ""
    ran = open(os.path.join(d, "rows.txt")).read().split() \
        if os.path.exists(os.path.join(d, "rows.txt")) else [r[0] for r in ROWS]
    out = []
    for row, label, sm, pm, plabel, kind, tgt, ttext in ROWS:
        if row not in ran:
            continue
        s, p = res.get(sm), res.get(pm) if pm else None
        sv, pv = (s or {}).get("value"), (p or {}).get("value")
        ratio = None
        if sv and pv:
            ratio = sv / pv if kind == "rate" else pv / sv
        sp50, sp99 = lat(res, sm)
        pp50, pp99 = lat(res, pm)
        if kind == "time":
            sp50 = sp99 = pp50 = pp99 = None
        met = None
        if ratio is not None and tgt is not None:
            met = ratio >= tgt
        bs = base_of(sm)
        if bs in P99_TARGET and sp99 is not None:
            met = sp99 < P99_TARGET[bs]
        why = skipd.get(SKIP_OF.get(bs, bs)) or skipd.get("all")
        errors = None
        if sv is not None:  # measured, but the run may have had bad responses
            errors, why = skipd.get(bs), None
        out.append({"row": row, "label": label, "kind": kind, "unit": (s or p or {}).get("unit"),
                    "spp": sv, "spp_runs": (s or {}).get("runs"), "spp_p50_ms": sp50,
                    "spp_p99_ms": sp99, "spp_avg_bytes": avg_bytes(res, sm),
                    "peer": plabel, "peer_value": pv, "peer_runs": (p or {}).get("runs"),
                    "peer_p50_ms": pp50, "peer_p99_ms": pp99, "peer_avg_bytes": avg_bytes(res, pm),
                    "speedup": ratio, "target": ttext, "target_met": met,
                    "spp_not_measured": why, "spp_errors": errors})
    return {"env": env, "rows": out, "skipped": [{"what": a, "why": b} for a, b in skips],
            "notes": [{"what": a, "note": b} for a, b in notes], "raw": res}


def markdown(r):
    L = []
    if r["env"]:
        L += ["```", r["env"], "```", ""]
    L.append("| row | spp | peer | peer figure | spp speed-up | spp p50 / p99 ms | peer p50 / p99 ms "
             "| avg body spp / peer | target | met |")
    L.append("|---|---:|---|---:|---:|---:|---:|---:|---|---|")
    for x in r["rows"]:
        unit = x["unit"] or ""
        if x["spp_not_measured"]:  # the reason in short; the full line is under "Not measured"
            spp = "**%s**" % re.split(r":| \(", x["spp_not_measured"])[0]
        else:
            spp = "%s %s" % (fmt(x["spp"]), unit)
            if x["spp_errors"]:
                spp += " (**bad responses**, see below)"
        peer = "%s %s" % (fmt(x["peer_value"]), unit) if x["peer_value"] is not None else "–"
        ratio = "%.2fx" % x["speedup"] if x["speedup"] is not None else "–"
        sl = "%s / %s" % (fmt(x["spp_p50_ms"]), fmt(x["spp_p99_ms"])) if x["spp_p99_ms"] is not None else "–"
        pl = "%s / %s" % (fmt(x["peer_p50_ms"]), fmt(x["peer_p99_ms"])) if x["peer_p99_ms"] is not None else "–"
        sz = "%s / %s" % (x["spp_avg_bytes"] or "–", x["peer_avg_bytes"] or "–")
        met = {True: "yes", False: "**no**", None: ""}[x["target_met"]]
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            x["label"], spp, x["peer"], peer, ratio, sl, pl, sz, x["target"], met))
    if r["skipped"]:
        L += ["", "Not measured:"]
        L += ["- %s: %s" % (s["what"], s["why"]) for s in r["skipped"]]
    if r["notes"]:
        L += ["", "Notes:"]
        L += ["- %s: %s" % (n["what"], n["note"]) for n in r["notes"]]
    L += ["", "Per series (median of runs; per-run values; load average before; notes):"]
    for name, v in sorted(r["raw"].items()):
        L.append("- %s = %s %s [%s] load %s; %s" % (name, fmt(v["value"]), v["unit"],
                                                    ", ".join(fmt(x) for x in v["runs"]),
                                                    v["load_before"], v["note"]))
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--md")
    ap.add_argument("--json")
    a = ap.parse_args()
    r = build(a.dir)
    md = markdown(r)
    if a.md:
        open(a.md, "w", encoding="utf-8").write(md)
    else:
        print(md, end="")
    if a.json:
        json.dump(r, open(a.json, "w", encoding="utf-8"), ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
