# SPDX-License-Identifier: MIT
"""The MVT tile budget (issue 22): a tile whose features exceed TILE_BUDGET_BYTES keeps its
largest features whole (every public attribute) and replaces the others by generalized features
(one per land use, with lu_display, n_features and generalized = 1) whose counts add up with the
kept features to every parcel of the tile: nothing is cut silently. Below the parcels' minzoom
(15) the land-use overview (z12-14) is generalized features only. Decoded by GDAL's MVT driver."""
import os

import pytest
from osgeo import gdal, ogr, osr

from conftest import Server, run_spp, spatialite

gdal.UseExceptions()
HALF = 20037508.342789244
VN2000_TM3_105 = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84"
                  " +towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,"
                  "0.00427372,0.252906278 +units=m +no_defs")
N = 100           # N x N round parcels (64-gons), 4 m apart: far above the budget at z15
Z, X, Y = 15, 26012, 15466
LU = ["ODT", "CLN", "LUC", "TMD"]


def srs(defn):
    s = osr.SpatialReference()
    s.ImportFromEPSG(defn) if isinstance(defn, int) else s.ImportFromProj4(defn)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    """N*N parcels in the middle of tile 15/26012/15466 (the bench city's densest tile)."""
    size = 2 * HALF / 2 ** Z
    cx, cy = -HALF + (X + 0.5) * size, HALF - (Y + 0.5) * size
    x0, y0, _ = osr.CoordinateTransformation(srs(3857), srs(VN2000_TM3_105)).TransformPoint(cx, cy)
    x0, y0 = x0 - N * 2, y0 - N * 2  # the grid (4 N m square) centred on the tile
    db = str(tmp_path_factory.mktemp("budget") / "dense.sqlite")
    run_spp("init", "--db", db)
    con = spatialite(db)
    con.execute(f"""WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < {N * N})
        INSERT INTO cadastral_parcels (parcel_key, commune_code, sheet_no, parcel_no, area_m2,
                                       lu_display, owner_name, geom)
        SELECT printf('31117012%06d', i), '31117', 12, i + 1, 10.0 + (i % 5),
               CASE i % 4 WHEN 0 THEN 'ODT' WHEN 1 THEN 'CLN' WHEN 2 THEN 'LUC' ELSE 'TMD' END,
               'OWNER-' || i,
               CastToMulti(ST_Buffer(MakePoint({x0} + (i % {N}) * 4, {y0} + (i / {N}) * 4, 5897),
                                     1.2 + (i % 5) * 0.15, 16))
        FROM g""")
    con.execute("""INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy)
                   SELECT 'cadastral_parcels', 1, count(*), min(MbrMinX(geom)),
                   min(MbrMinY(geom)), max(MbrMaxX(geom)), max(MbrMaxY(geom))
                   FROM cadastral_parcels WHERE 1
                   ON CONFLICT(layer) DO UPDATE SET version = excluded.version,
                   n_features = excluded.n_features, minx = excluded.minx, miny = excluded.miny,
                   maxx = excluded.maxx, maxy = excluded.maxy""")
    con.commit()
    con.close()
    return db


def serve(db, tmp_path):
    """The server, with room for a sanitized build on a loaded machine (the tile reads 10,000
    64-gons: the 10 s default query limit is for production, not for ASan)."""
    cfg = os.path.join(str(tmp_path), "settings.json")
    with open(cfg, "w") as f:
        f.write('{"limits": {"query_ms": 300000}}')
    return Server(db, str(tmp_path), config=cfg)


def decode(body, z, x, y, tmp_path):
    path = os.path.join(str(tmp_path), f"{z}_{x}_{y}.mvt")
    with open(path, "wb") as f:
        f.write(body)
    ds = gdal.OpenEx(path, gdal.OF_VECTOR, open_options=[f"X={x}", f"Y={y}", f"Z={z}", "CLIP=NO"])
    out = {}
    for i in range(ds.GetLayerCount()):
        lyr = ds.GetLayer(i)
        out[lyr.GetName()] = [(f.items(), f.GetGeometryRef().Clone()) for f in lyr]
    return out


def test_dense_tile_is_generalized_within_budget_never_cut(dense, tmp_path):
    s = serve(dense, tmp_path)
    try:
        st, h, body = s.get(f"/tiles/cadastral_parcels/{Z}/{X}/{Y}.mvt")
        assert st == 200 and h["Content-Type"] == "application/vnd.mapbox-vector-tile", body[:300]
        assert len(body) <= 500 * 1024, len(body)
        feats = decode(body, Z, X, Y, tmp_path)["cadastral_parcels"]
        kept = [(a, g) for a, g in feats if not a.get("generalized")]
        gen = [(a, g) for a, g in feats if a.get("generalized")]
        assert kept and gen
        # nothing is cut silently: kept parcels plus the counts of the generalized ones are
        # every parcel of the tile
        assert len(kept) + sum(a["n_features"] for a, _ in gen) == N * N
        # kept parcels are whole: every public attribute, no owner (planner only)
        for a, g in kept:
            assert a["parcel_key"] and a["commune_code"] == "31117" and a["lu_display"] in LU
            assert a["area_m2"] is not None and a["parcel_no"] is not None
            assert a.get("owner_name") is None and g.IsValid()
        # the largest are kept: five sizes (area_m2 10..14 with the radius); every parcel of the
        # sizes above the smallest size kept is kept
        per = {}
        for a, _ in kept:
            per[int(a["area_m2"])] = per.get(int(a["area_m2"]), 0) + 1
        assert all(per.get(c, 0) == N * N // 5 for c in range(min(per) + 1, 15)), per
        assert min(per) > 10, per  # the smallest ones went to the generalized features
        # one generalized feature per land use, valid polygons, classed and counted
        assert sorted(a["lu_display"] for a, _ in gen) == sorted(set(a["lu_display"] for a, _ in gen))
        for a, g in gen:
            assert a["lu_display"] in LU and a["n_features"] > 0 and a["generalized"] == 1
            assert a.get("parcel_key") is None
            assert g.GetGeometryType() in (ogr.wkbPolygon, ogr.wkbMultiPolygon) and g.IsValid()
        # a tile within the budget is not touched: z18 over a corner of the grid
        st, _, body = s.get(f"/tiles/cadastral_parcels/18/{X * 8 + 3}/{Y * 8 + 3}.mvt")
        assert st == 200
        small = decode(body, 18, X * 8 + 3, Y * 8 + 3, tmp_path).get("cadastral_parcels", [])
        assert small and not any(a.get("generalized") for a, _ in small)
    finally:
        s.stop()


def test_land_use_overview_below_the_parcels_minzoom(dense, tmp_path):
    s = serve(dense, tmp_path)
    try:
        for z in (12, 13, 14):
            k = 2 ** (Z - z)
            st, _, body = s.get(f"/tiles/cadastral_parcels/{z}/{X // k}/{Y // k}.mvt")
            assert st == 200 and body, z
            feats = decode(body, z, X // k, Y // k, tmp_path)["cadastral_parcels"]
            assert feats and all(a["generalized"] == 1 for a, _ in feats), z
            assert sum(a["n_features"] for a, _ in feats) == N * N, z
            assert {a["lu_display"] for a, _ in feats} <= set(LU)
            assert all(g.IsValid() for _, g in feats)
            assert all(a.get("parcel_key") is None for a, _ in feats)
        # above the overview's zooms nothing is drawn for parcels
        st, _, body = s.get(f"/tiles/cadastral_parcels/11/{X // 16}/{Y // 16}.mvt")
        assert st == 200 and body == b""
    finally:
        s.stop()
