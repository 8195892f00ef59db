#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The heaviest MVT tile of the bench city at each zoom, and its cold cost on spp.

  heaviest.py tiles CITY.sqlite Z0 Z1        -> "z x y parcels" per zoom: the tile with the most
                                                parcel centroids (EPSG:9210 -> 3857), densest first
  heaviest.py measure BASE_URL TILES TEMPLATE -> one JSON line: per tile its ms and bytes, each
                                                tile asked once (run it on an empty tile cache)
TEMPLATE as coldtiles.py: {1} {2} {3} = z x y.
"""
import http.client
import json
import sys
import time
import urllib.parse

HALF = 20037508.342789244


def tiles(db, z0, z1):
    from osgeo import ogr, osr
    ogr.UseExceptions()
    ds = ogr.Open(db)
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(9210)
    dst.ImportFromEPSG(3857)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    sql = ds.ExecuteSQL("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM parcels",
                        dialect="SQLITE")
    pts = [(f.GetField(0), f.GetField(1)) for f in sql]
    ds.ReleaseResultSet(sql)
    pts = ct.TransformPoints(pts)
    for z in range(z0, z1 + 1):
        size = 2 * HALF / 2 ** z
        n = {}
        for x, y, *_ in pts:
            k = (int((x + HALF) // size), int((HALF - y) // size))
            n[k] = n.get(k, 0) + 1
        (x, y), c = max(n.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
        print(z, x, y, c)


def measure(base, list_file, tpl):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    out = []
    for line in open(list_file, encoding="utf-8"):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        p = tpl.replace("{1}", f[0]).replace("{2}", f[1]).replace("{3}", f[2])
        t0 = time.perf_counter()
        c.request("GET", p)
        r = c.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t0) * 1000
        out.append({"z": int(f[0]), "x": int(f[1]), "y": int(f[2]), "parcels": int(f[3]),
                    "status": r.status, "ms": round(ms, 2), "bytes": len(body),
                    "ctype": r.getheader("Content-Type", "")})
    print(json.dumps(out))
    return 0 if all(t["status"] == 200 for t in out) else 1


if __name__ == "__main__":
    if sys.argv[1] == "tiles":
        tiles(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(measure(sys.argv[2], sys.argv[3], sys.argv[4]))
