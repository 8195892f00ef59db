#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Builds the fixed request lists of the spp-only benchmark rows from the scale-1 bench city
(tests/bench/peers/gen_city.py), so every run sends exactly the same requests:

  requests/land_at_200.txt    200 points "lon lat" (WGS 84): the PointOnSurface of parcels drawn
                              with a fixed seed, VN-2000 (EPSG:9210) -> WGS 84 by the official
                              EPSG:6960 operation (the one spp uses), so each point lies in its parcel
  requests/land_funds_50.txt  50 land-fund searches (one query string per line): the filters an
                              investor combines (status, planned function, area range, bbox, near +
                              within_m, sort), 20 results each, values in the catalog's codes as
                              tests/bench/city_manifest.json maps them

usage: make_requests.py --db $OUT/city.sqlite [--seed 20240917]
"""
import argparse
import json
import os

import numpy as np
from osgeo import ogr, osr

HERE = os.path.dirname(os.path.abspath(__file__))


def to_wgs84():
    src = osr.SpatialReference()
    src.ImportFromEPSG(9210)
    geo = osr.SpatialReference()
    geo.ImportFromEPSG(4756)
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    for s in (src, geo, wgs):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    proj = osr.CoordinateTransformation(src, geo)
    opt = osr.CoordinateTransformationOptions()
    opt.SetOperation("urn:ogc:def:coordinateOperation:EPSG::6960")
    datum = osr.CoordinateTransformation(geo, wgs, opt)

    def tf(x, y):
        lon, lat, _ = proj.TransformPoint(x, y)
        lon, lat, _ = datum.TransformPoint(lon, lat)
        return lon, lat
    return tf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--seed", type=int, default=20240917)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    tf = to_wgs84()
    ds = ogr.Open(a.db)
    # land/at: 200 parcels drawn uniformly, point on surface
    lyr = ds.GetLayerByName("parcels")
    n = lyr.GetFeatureCount()
    fids = sorted(int(f) for f in rng.choice(np.arange(1, n + 1), 200, replace=False))
    lines = ["# lon lat (WGS 84 by EPSG:6960) -- parcel fid in the bench city (a point on its surface)"]
    pts = []
    for fid in fids:
        feat = lyr.GetFeature(fid)
        g = feat.GetGeometryRef().PointOnSurface()
        lon, lat = tf(g.GetX(), g.GetY())
        pts.append((lon, lat))
        lines.append("%.7f %.7f  # %d" % (lon, lat, fid))
    order = rng.permutation(len(lines) - 1)
    body = [lines[i + 1] for i in order]
    with open(os.path.join(HERE, "requests", "land_at_200.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join([lines[0]] + body) + "\n")
    # land-fund searches
    man = json.load(open(os.path.join(HERE, "city_manifest.json"), encoding="utf-8"))
    vac = next(s for s in man["sources"] if s["layer"] == "vacant_land_fund")
    statuses = sorted(set(vac["values"]["status"].values()))
    functions = sorted(set(vac["values"]["planned_function"].values()))
    ext = lyr.GetExtent()  # minx maxx miny maxy (EPSG:9210)
    out = ["# query strings for /api/v1/land-funds (kind=vacant, 20 results)"]
    for i in range(50):
        q = ["kind=vacant"]
        kind = i % 5
        if kind == 0:    # status + area range, largest first
            q += ["status=" + statuses[int(rng.integers(len(statuses)))],
                  "min_area=%d" % int(rng.choice([100, 200, 500])), "sort=-area"]
        elif kind == 1:  # planned function, largest first
            q += ["function=" + functions[int(rng.integers(len(functions)))], "sort=-area"]
        elif kind == 2:  # near a point, within 2 km, nearest first
            lon, lat = pts[int(rng.integers(len(pts)))]
            q += ["near=%.6f,%.6f" % (lon, lat), "within_m=%d" % int(rng.choice([1000, 2000, 3000])),
                  "sort=distance"]
        elif kind == 3:  # a 3 km x 3 km bbox (WGS 84)
            cx = ext[0] + (ext[1] - ext[0]) * (0.25 + 0.5 * rng.random())
            cy = ext[2] + (ext[3] - ext[2]) * (0.25 + 0.5 * rng.random())
            x0, y0 = tf(cx - 1500, cy - 1500)
            x1, y1 = tf(cx + 1500, cy + 1500)
            q += ["bbox=%.6f,%.6f,%.6f,%.6f" % (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
                  "sort=-area"]
        else:            # area range + status, smallest first
            lo = int(rng.choice([200, 500, 1000]))
            q += ["min_area=%d" % lo, "max_area=%d" % (lo * 10),
                  "status=" + statuses[int(rng.integers(len(statuses)))], "sort=area"]
        q += ["limit=20"]
        out.append("&".join(q))
    with open(os.path.join(HERE, "requests", "land_funds_50.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")
    print("wrote requests/land_at_200.txt (200 points), requests/land_funds_50.txt (50 searches)")


if __name__ == "__main__":
    main()
