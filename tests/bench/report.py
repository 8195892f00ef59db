#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The table of a `make bench` run: spp beside its peer for each row, with the ratio, p50/p99,
the issue's target and whether it is met, from the run directory that tests/bench/bench.sh
filled ($RESULTS: results.tsv written by the shared scripts' record(), skips.tsv, notes.tsv,
env.txt, raw/).

usage: report.py RUN_DIR [--md FILE] [--json FILE]

Speed-up is spp's figure over the peer's for throughputs (req/s, tiles/s, features/s) and the
peer's time (or size) over spp's for times (ms per tile) and sizes (KB), so > 1 always means spp
is better.

The JSON (latest.json) is {"date", "commit", "rows": [{"work", "unit", "spp", "peer",
"peer_value", "ratio", "spp_min", "spp_max", "peer_min", "peer_max", "spp_runs", "peer_runs",
"target", "met"}, ...]} (one row per work and peer: WORKS below), then the detailed table
("table"), what was not measured, the notes and every recorded series ("raw").
"""
import argparse
import json
import os
import re

# label, spp figure, peer figure, peer label, kind ("rate" | "time"), target speed-up, target text
ROWS = [
    ("wms", "WMS GetMap 256x256 PNG, 200 tiles z15-17, 16 conns",
     "wms_getmap_png.spp.rps", "wms_getmap_png.mapserver.rps", "MapServer 8 WMS (FastCGI x2)",
     "rate", 4.0, ">= 4x MapServer req/s (issue 22; 3x in issue 5)"),
    ("wms", "WMS GetMap, same 200 tiles, vs QGIS Server",
     "wms_getmap_png.spp.rps", "wms_getmap_png.qgis.rps", "QGIS Server 3.22 WMS (FastCGI x2)",
     "rate", None, ""),
    ("wms", "WMS GetMap, same 200 tiles, vs Mapnik",
     "wms_getmap_png.spp.rps", "wms_getmap_png.mapnik.rps", "Mapnik (python3-mapnik x2)",
     "rate", None, ""),
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
     "PostGIS ST_AsMVT (pgbench, DB only)", "time", 4.0,
     "<= a quarter of PostGIS time (issue 22; half in issue 6)"),
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
    ("heavy", "MVT heaviest tile (densest z15, all layers), cold: ms",
     "mvt_heaviest.spp.ms", "mvt_heaviest.pg.ms", "PostGIS ST_AsMVT (pgbench, DB only)",
     "time", None, "<= 50 ms (issue 22)"),
    ("heavy", "MVT heaviest tile: KB",
     "mvt_heaviest.spp.kb", "mvt_heaviest.pg.kb", "PostGIS ST_AsMVT", "time", None,
     "<= 500 KB (issue 22)"),
    ("png", "PNG tiles cold (empty cache), 16 conns: tiles/s",
     "png_cold.spp.tiles_per_s", "png_cold.mapserver.tiles_per_s",
     "MapServer 8 WMS GetMap, same cold pass", "rate", 3.0, ">= 3x MapServer (issue 22)"),
    ("png", "PNG tiles cold vs QGIS Server",
     "png_cold.spp.tiles_per_s", "png_cold.qgis.tiles_per_s", "QGIS Server 3.22 WMS GetMap",
     "rate", None, ""),
    ("png", "PNG tiles cold vs Mapnik",
     "png_cold.spp.tiles_per_s", "png_cold.mapnik.tiles_per_s", "Mapnik 256 px tiles",
     "rate", None, ""),
    ("png", "PNG tiles cached, 200 tiles, 16 conns",
     "png_cached.spp.rps", "png_cached.nginx.rps", "nginx static, the same 200 tiles' bytes",
     "rate", 1.0, ">= nginx static req/s (issue 22)"),
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
    # pg (opt-in, issue 24): spp on PostGIS; its "peer" is spp on SpatiaLite, then 1 replica
    ("pg", "PostGIS: WFS GetFeature ~500 parcels, 16 conns, one replica",
     "wfs_geojson_500.spp_pg.rps", "wfs_geojson_500.spp.rps", "spp on SpatiaLite", "rate", None,
     ""),
    ("pg", "PostGIS: MVT cold (empty replica cache), 2 clients: tiles/s",
     "mvt_cold_c2.spp_pg.tiles_per_s", "mvt_cold_c2.spp.tiles_per_s", "spp on SpatiaLite",
     "rate", None, ""),
    ("pg", "PostGIS: MVT cached (the replica's own cache), 200 tiles, 16 conns",
     "mvt_cached.spp_pg.rps", "mvt_cached.spp.rps", "spp on SpatiaLite", "rate", None, ""),
    ("pg", "PostGIS through nginx: WFS, 2 replicas vs 1",
     "wfs_geojson_500.pg_2rep.rps", "wfs_geojson_500.pg_1rep.rps", "1 replica behind nginx",
     "rate", None, ""),
    ("pg", "PostGIS through nginx: MVT cached, 2 replicas vs 1",
     "mvt_cached.pg_2rep.rps", "mvt_cached.pg_1rep.rps", "1 replica behind nginx", "rate", None,
     ""),
]
P99_TARGET = {"land_at.spp": 10.0, "land_funds.spp": 30.0}
MAX_TARGET = {"mvt_heaviest.spp.ms": 50.0, "mvt_heaviest.spp.kb": 500.0}  # issue 22: at most

# latest.json rows: work, unit, spp series, peer name, peer series, kind ("rate": higher is
# better; "time"/"size": lower is better), target ratio (or absolute limit for "max" works)
WORKS = [
    ("png_tiles_cold", "tiles/s", "png_cold.spp.tiles_per_s", "mapserver",
     "png_cold.mapserver.tiles_per_s", "rate", 3.0),
    ("png_tiles_cold", "tiles/s", "png_cold.spp.tiles_per_s", "qgis-server",
     "png_cold.qgis.tiles_per_s", "rate", None),
    ("png_tiles_cold", "tiles/s", "png_cold.spp.tiles_per_s", "mapnik",
     "png_cold.mapnik.tiles_per_s", "rate", None),
    ("png_tiles_cached", "req/s", "png_cached.spp.rps", "nginx", "png_cached.nginx.rps", "rate",
     1.0),
    ("wms_getmap", "req/s", "wms_getmap_png.spp.rps", "mapserver", "wms_getmap_png.mapserver.rps",
     "rate", 4.0),
    ("wms_getmap", "req/s", "wms_getmap_png.spp.rps", "qgis-server", "wms_getmap_png.qgis.rps",
     "rate", None),
    ("wms_getmap", "req/s", "wms_getmap_png.spp.rps", "mapnik", "wms_getmap_png.mapnik.rps",
     "rate", None),
    ("mvt_cold", "ms/tile", "mvt_cold_c1.spp.ms_per_tile_mean", "postgis",
     "mvt_pg_z15-17.ms_per_tile_mean", "time", 4.0),
    ("mvt_cached", "req/s", "mvt_cached.spp.rps", "nginx", "mvt_cached.nginx.rps", "rate", 0.5),
    ("mvt_heaviest_ms", "ms", "mvt_heaviest.spp.ms", "postgis", "mvt_heaviest.pg.ms", "time",
     ("max", 50.0)),
    ("mvt_heaviest_kb", "KB", "mvt_heaviest.spp.kb", "postgis", "mvt_heaviest.pg.kb", "size",
     ("max", 500.0)),
    ("wfs_getfeature", "req/s", "wfs_geojson_500.spp.rps", "mapserver",
     "wfs_geojson_500.mapserver.rps", "rate", 3.0),
    ("ogcapi_items", "req/s", "ogcapi_items_500.spp.rps", "mapserver",
     "wfs_geojson_500.mapserver.rps", "rate", 3.0),
    ("static_file", "req/s", "static_20k.spp.rps", "nginx", "static_png_20k.nginx.rps", "rate",
     0.5),
    ("land_at_p99_ms", "ms", "land_at.spp.p99", None, None, "time", ("max", 10.0)),
    ("land_funds_p99_ms", "ms", "land_funds.spp.p99", None, None, "time", ("max", 30.0)),
    ("import_features_s", "features/s", "spp_import_parcels.features_per_s", "ogr2ogr",
     "ingest_ogr2ogr_shp_to_spatialite.features_per_s", "rate", 0.5),
    ("pg_wfs_getfeature", "req/s", "wfs_geojson_500.spp_pg.rps", "spp-spatialite",
     "wfs_geojson_500.spp.rps", "rate", None),
    ("pg_mvt_cold", "tiles/s", "mvt_cold_c2.spp_pg.tiles_per_s", "spp-spatialite",
     "mvt_cold_c2.spp.tiles_per_s", "rate", None),
    ("pg_mvt_cached", "req/s", "mvt_cached.spp_pg.rps", "spp-spatialite", "mvt_cached.spp.rps",
     "rate", None),
    ("pg_wfs_2_replicas", "req/s", "wfs_geojson_500.pg_2rep.rps", "pg-1-replica",
     "wfs_geojson_500.pg_1rep.rps", "rate", None),
    ("pg_mvt_cached_2_replicas", "req/s", "mvt_cached.pg_2rep.rps", "pg-1-replica",
     "mvt_cached.pg_1rep.rps", "rate", None),
]
# which skips.tsv names belong to a row's spp figure
SKIP_OF = {"wms_getmap_png.spp": "wms_getmap_png.spp", "wfs_geojson_500.spp": "wfs_geojson_500.spp",
           "wfs_geojson_500_c1.spp": "wfs_geojson_500.spp",
           "ogcapi_items_500.spp": "ogcapi_items_500.spp",
           "mvt_cold_c1.spp": "mvt_cold_c1.spp", "mvt_cold_c2.spp": "mvt_cold_c1.spp",
           "mvt_cached.spp": "mvt_cold_c1.spp", "png_cold.spp": "png_cold.spp",
           "png_cached.spp": "png_cold.spp", "static_20k.spp": "static_20k.spp",
           "land_at.spp": "land_at.spp", "land_funds.spp": "land_funds.spp",
           "mvt_heaviest.spp": "mvt_heaviest.spp",
           "spp_import_parcels": "spp_import_parcels",
           "wfs_geojson_500.spp_pg": "spp_pg", "mvt_cold_c2.spp_pg": "spp_pg",
           "mvt_cached.spp_pg": "spp_pg", "wfs_geojson_500.pg_2rep": "pg_replicas",
           "mvt_cached.pg_2rep": "pg_replicas"}


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
        if sm in MAX_TARGET and sv is not None:
            met = sv <= MAX_TARGET[sm]
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


def works(res):
    """The rows of latest.json: one per work and peer that was measured (spp or peer side)."""
    out = []
    for work, unit, sm, peer, pm, kind, tgt in WORKS:
        s, p = res.get(sm), res.get(pm) if pm else None
        if s is None and p is None:
            continue
        sv, pv = (s or {}).get("value"), (p or {}).get("value")
        ratio = None
        if sv and pv:
            ratio = sv / pv if kind == "rate" else pv / sv
        met = None
        if isinstance(tgt, tuple) and sv is not None:
            met = sv <= tgt[1]
        elif tgt is not None and ratio is not None:
            met = ratio >= tgt
        sr, pr = (s or {}).get("runs") or [], (p or {}).get("runs") or []
        out.append({"work": work, "unit": unit, "spp": sv, "peer": peer, "peer_value": pv,
                    "ratio": round(ratio, 3) if ratio is not None else None,
                    "spp_min": min(sr) if sr else None, "spp_max": max(sr) if sr else None,
                    "peer_min": min(pr) if pr else None, "peer_max": max(pr) if pr else None,
                    "spp_runs": sr, "peer_runs": pr,
                    "target": ("<= %g %s" % (tgt[1], unit)) if isinstance(tgt, tuple) else
                    (">= %gx" % tgt if tgt is not None else None), "met": met})
    return out


SCALE_SERIES = [("land_at", "land/at p50 / p99 ms"), ("wms", "WMS GetMap p50 / p99 ms"),
                ("mvt_cold", "cold MVT p50 / p99 ms")]


def scale_rows(res):
    """The scale row (tests/bench/scale.sh): per scale the parcels, p50/p99 of each series, peak
    RSS and store size; the growth from the smallest city to the largest beside log n's."""
    scales = sorted({int(k[5:].split(".")[0]) for k in res if re.match(r"scale\d+\.", k)})
    rows = []
    for sc in scales:
        g = lambda k: (res.get("scale%d.%s" % (sc, k)) or {}).get("value")
        row = {"scale": sc, "parcels": g("parcels"), "rss_mib": g("rss_mib"),
               "store_mib": g("store_mib")}
        for name, _ in SCALE_SERIES:
            row[name + "_p50_ms"], row[name + "_p99_ms"] = g(name + ".p50"), g(name + ".p99")
        rows.append(row)
    growth = None
    if len(rows) >= 2 and rows[0]["parcels"] and rows[-1]["parcels"]:
        import math
        a, b = rows[0], rows[-1]
        growth = {"parcels": b["parcels"] / a["parcels"],
                  "log_n": math.log(b["parcels"]) / math.log(a["parcels"])}
        for k in a:
            if k.endswith("_ms") or k.endswith("_mib"):
                growth[k] = (b[k] / a[k]) if a[k] and b[k] is not None else None
    return {"rows": rows, "growth": growth} if rows else None


def latest(r, d):
    """latest.json: date, commit and the work rows first, the detailed table after."""
    env = r["env"]
    date = re.search(r"^date: (\S+)", env, re.M)
    commit = None
    cp = os.path.join(d, "commit.txt")
    if os.path.exists(cp):
        commit = open(cp, encoding="utf-8").read().strip() or None
    return {"date": date.group(1) if date else None, "commit": commit, "rows": works(r["raw"]),
            "scale": scale_rows(r["raw"]), "table": r["rows"], "env": env, "skipped": r["skipped"], "notes": r["notes"],
            "raw": r["raw"]}


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
    w = works(r["raw"])
    if w:
        L += ["", "Works (latest.json rows: median of runs, min-max in brackets; ratio > 1: spp "
              "better):", "",
              "| work | spp | peer | peer figure | ratio | target | met |",
              "|---|---:|---|---:|---:|---|---|"]
        for x in w:
            rng = lambda v, lo, hi: "–" if v is None else "%s [%s-%s]" % (fmt(v), fmt(lo), fmt(hi))
            L.append("| %s | %s %s | %s | %s | %s | %s | %s |" % (
                x["work"], rng(x["spp"], x["spp_min"], x["spp_max"]), x["unit"], x["peer"] or "–",
                rng(x["peer_value"], x["peer_min"], x["peer_max"]),
                "%.2fx" % x["ratio"] if x["ratio"] is not None else "–", x["target"] or "",
                {True: "yes", False: "**no**", None: ""}[x["met"]]))
    sc = scale_rows(r["raw"])
    if sc:
        L += ["", "Scale (tests/bench/scale.sh, the same requests on the generated city at each "
              "scale; growth = largest / smallest):", "",
              "| parcels | " + " | ".join(t for _, t in SCALE_SERIES) + " | peak RSS MiB | store MiB |",
              "|---:|" + "---:|" * (len(SCALE_SERIES) + 2)]
        for x in sc["rows"]:
            L.append("| %s | %s | %s | %s |" % (
                fmt(x["parcels"]), " | ".join("%s / %s" % (fmt(x[n + "_p50_ms"]), fmt(x[n + "_p99_ms"]))
                                              for n, _ in SCALE_SERIES),
                fmt(x["rss_mib"]), fmt(x["store_mib"])))
        gr = sc["growth"]
        if gr:
            f2 = lambda v: "–" if v is None else "%.2fx" % v
            L.append("| growth %.1fx n (log n: %.2fx) | %s | %s | %s |" % (
                gr["parcels"], gr["log_n"],
                " | ".join("%s / %s" % (f2(gr.get(n + "_p50_ms")), f2(gr.get(n + "_p99_ms")))
                           for n, _ in SCALE_SERIES), f2(gr.get("rss_mib")), f2(gr.get("store_mib"))))
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
        json.dump(latest(r, a.dir), open(a.json, "w", encoding="utf-8"), ensure_ascii=False,
                  indent=1)


if __name__ == "__main__":
    main()
