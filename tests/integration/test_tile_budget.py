# SPDX-License-Identifier: MIT
"""The MVT tile budget (issue 22): a tile whose features exceed TILE_BUDGET_BYTES keeps its
largest features whole (every public attribute) and replaces the others by generalized features
(one per land use, with lu_display, n_features and generalized = 1) whose counts add up with the
kept features to every parcel of the tile: nothing is cut silently. Below the parcels' minzoom
(15) the land-use overview (z12-14) is generalized features only. Decoded by GDAL's MVT driver."""
import math
import os
import sqlite3

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


def test_dense_layer_read_in_shares_gives_the_same_tile(dense, tmp_path):
    """With layer threads, a layer dense enough in the tile (10,000 parcels here) is read in two
    shares on two connections and merged (store_query.n_parts, mvt_layer_merge): the tile is the
    bytes of the layer read whole, over the budget (generalized) and within it."""
    paths = [f"/tiles/cadastral_parcels/{Z}/{X}/{Y}.mvt",
             f"/tiles/cadastral_parcels,roads/{Z}/{X}/{Y}.mvt",
             f"/tiles/cadastral_parcels/{Z + 1}/{2 * X}/{2 * Y}.mvt",
             f"/tiles/cadastral_parcels/{Z + 1}/{2 * X + 1}/{2 * Y + 1}.mvt"]
    got = {}
    for threads in (0, 2):
        d = tmp_path / f"lt{threads}"
        d.mkdir()
        db = str(d / "dense.sqlite")
        con = sqlite3.connect(dense)
        con.execute("VACUUM INTO ?", (db,))
        con.close()
        cfg = d / "settings.json"
        cfg.write_text('{"limits": {"query_ms": 300000, "layer_threads": %d}}' % threads)
        s = Server(db, str(d), config=str(cfg))
        try:
            for p in paths:
                st, _, body = s.get(p)
                assert st == 200 and body, (p, st, body[:200])
                got.setdefault(p, []).append(body)
        finally:
            s.stop()
    for p, (whole, shares) in got.items():
        assert whole == shares, (p, len(whole), len(shares))
    feats = decode(got[paths[0]][1], Z, X, Y, tmp_path)["cadastral_parcels"]
    kept = [a for a, _ in feats if not a.get("generalized")]
    assert len(kept) + sum(a["n_features"] for a, _ in feats if a.get("generalized")) == N * N


def test_shares_read_across_a_commit_are_read_again(dense, tmp_path, monkeypatch):
    """Each share of a layer has its own snapshot: a commit landing between the two (the test
    build's SPP_TEST_SHARE_PAUSE_MS holds the second) would mix two states of the layer in one
    tile. The shares' change ids differ then, and the layer is read again whole: the tile shows
    the state after the commit only."""
    import threading
    import time
    db = str(tmp_path / "mix.sqlite")
    con = sqlite3.connect(dense)
    con.execute("VACUUM INTO ?", (db,))
    con.close()
    cfg = tmp_path / "settings.json"
    cfg.write_text('{"limits": {"query_ms": 300000, "layer_threads": 2}}')
    path = f"/tiles/cadastral_parcels/{Z + 1}/{2 * X}/{2 * Y}.mvt"
    monkeypatch.setenv("SPP_TEST_SHARE_PAUSE_MS", "2000")
    s = Server(db, str(tmp_path), config=str(cfg))
    monkeypatch.delenv("SPP_TEST_SHARE_PAUSE_MS")
    try:
        got = {}
        t = threading.Thread(target=lambda: got.update(r=s.get(path)))
        t.start()
        time.sleep(0.7)  # the first share is read (or being read), the second waits
        con = spatialite(db)
        con.execute("UPDATE cadastral_parcels SET lu_display = 'NEW'")
        con.execute("INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy) SELECT"
                    " 'cadastral_parcels', 'mix', min(MbrMinX(geom)), min(MbrMinY(geom)),"
                    " max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM cadastral_parcels")
        con.commit()
        con.close()
        t.join()
        st, _, body = got["r"]
        assert st == 200 and body
        classes = {a["lu_display"] for a, _ in
                   decode(body, Z + 1, 2 * X, 2 * Y, tmp_path)["cadastral_parcels"]}
        assert classes == {"NEW"}, classes
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


# ---- the precomputed overview (spp_overview, written by the import) ----

LON0, LAT0 = 105.7700, 10.0300   # the grid starts here: it spans the edges of z12-14 tiles
GRID = 24                        # GRID x GRID square parcels of 60 m, 100 m apart (2.4 km)


def write_parcels(path, changed=()):
    """GRID^2 parcels as GeoJSON (WGS 84); a parcel in `changed` gets land use 'SKC'."""
    import json
    dlon, dlat = 100 / 109500.0, 100 / 110600.0
    feats = []
    for i in range(GRID * GRID):
        r, c = divmod(i, GRID)
        x, y = LON0 + c * dlon, LAT0 + r * dlat
        ring = [[x, y], [x + 0.6 * dlon, y], [x + 0.6 * dlon, y + 0.6 * dlat], [x, y + 0.6 * dlat], [x, y]]
        lu = "SKC" if i in changed else LU[(r // 3 + c // 5) % 4]
        feats.append({"type": "Feature",
                      "properties": {"parcel_key": f"31117012{i:06d}", "commune_code": "31117",
                                     "sheet_no": 12, "parcel_no": i + 1, "lu_display": lu},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection", "features": feats}, f)


def tiles_of(z):
    """Every tile of zoom z the grid (and a margin) touches."""
    n = 2 ** z
    lon1, lat1 = LON0 + GRID * 100 / 109500.0, LAT0 + GRID * 100 / 110600.0

    def xy(lon, lat):
        la = math.radians(lat)
        return (int((lon + 180) / 360 * n),
                int((1 - math.log(math.tan(la) + 1 / math.cos(la)) / math.pi) / 2 * n))
    (x0, y1), (x1, y0) = xy(LON0 - 0.01, LAT0 - 0.01), xy(lon1 + 0.01, lat1 + 0.01)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def overview_counts(s, tmp_path):
    """Per zoom 12-14: {land use: n_features} summed over every tile of the grid, and how many
    tiles had parcels."""
    out = {}
    for z in (12, 13, 14):
        per, n_tiles = {}, 0
        for x, y in tiles_of(z):
            st, _, body = s.get(f"/tiles/cadastral_parcels/{z}/{x}/{y}.mvt")
            assert st == 200
            if not body:
                continue
            feats = decode(body, z, x, y, tmp_path).get("cadastral_parcels", [])
            n_tiles += bool(feats)
            for a, g in feats:
                assert a["generalized"] == 1 and a.get("parcel_key") is None and g.IsValid()
                per[a["lu_display"]] = per.get(a["lu_display"], 0) + a["n_features"]
        out[z] = (per, n_tiles)
    return out


def overview_rows(db):
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT level, x, y, has_class, class, n, round(area, 3) FROM spp_overview"
                           " WHERE layer = 'cadastral_parcels' ORDER BY 1, 2, 3, 4, 5").fetchall()
        state = con.execute("SELECT o.version, l.version FROM spp_overview_state o JOIN spp_layers l"
                            " USING (layer) WHERE layer = 'cadastral_parcels'").fetchone()
        changes = con.execute("SELECT count(*) FROM spp_changes WHERE layer = 'cadastral_parcels'"
                              " AND batch = (SELECT batch FROM spp_changes ORDER BY id DESC LIMIT 1)").fetchone()[0]
    finally:
        con.close()
    return rows, state, changes


def truth(changed=()):
    per = {}
    for i in range(GRID * GRID):
        r, c = divmod(i, GRID)
        lu = "SKC" if i in changed else LU[(r // 3 + c // 5) % 4]
        per[lu] = per.get(lu, 0) + 1
    return per


def test_precomputed_overview_counts_each_parcel_once_and_follows_reimports(tmp_path):
    db, src = str(tmp_path / "ov.sqlite"), str(tmp_path / "parcels.geojson")
    write_parcels(src)
    run_spp("import", "--db", db, "--layer", "cadastral_parcels", src)
    rows, state, _ = overview_rows(db)
    assert rows and state[0] == state[1]  # made at the layer's version: the tiles read it
    s = serve(db, tmp_path)
    try:
        got = overview_counts(s, tmp_path)
        for z, (per, n_tiles) in got.items():
            # every parcel is counted in exactly one tile of each zoom (its box centre's), per
            # land use, and the grid spans several tiles
            assert per == truth(), (z, per)
        assert got[14][1] > 1, got
        # a re-import changing two parcels' land use: only the cells of the changed areas are
        # redone, and the result is what a new import of the same sources makes
        write_parcels(src, changed={5, GRID * GRID - 3})
        run_spp("import", "--db", db, "--layer", "cadastral_parcels", src)
        rows2, state2, n_changes = overview_rows(db)
        assert state2[0] == state2[1] == state[1] + 1 and 0 < n_changes < 10
        fresh = str(tmp_path / "fresh.sqlite")
        run_spp("import", "--db", fresh, "--layer", "cadastral_parcels", src)
        rows3 = overview_rows(fresh)[0]
        # the same cells and counts; areas equal up to the interpolation of the transformation
        assert [r[:6] for r in rows2] == [r[:6] for r in rows3]
        assert all(abs(a[6] - b[6]) <= 1e-6 * a[6] + 0.01 for a, b in zip(rows2, rows3))
        assert 0 < len(set(rows2) ^ set(rows)) < len(rows) // 4  # a few cells changed, not all
        assert all(per == truth({5, GRID * GRID - 3}) for per, _ in overview_counts(s, tmp_path).values())
    finally:
        s.stop()


def test_overview_not_in_step_is_not_read(tmp_path):
    """A layer changed after its overview was made (an edit bumps spp_layers.version) is read
    feature by feature again: the tile still shows the new land use."""
    db, src = str(tmp_path / "ov.sqlite"), str(tmp_path / "parcels.geojson")
    write_parcels(src)
    run_spp("import", "--db", db, "--layer", "cadastral_parcels", src)
    con = spatialite(db)
    con.execute("UPDATE cadastral_parcels SET lu_display = 'SKC'")
    con.execute("UPDATE spp_layers SET version = version + 1 WHERE layer = 'cadastral_parcels'")
    con.commit()
    con.close()
    s = serve(db, tmp_path)
    try:
        z = 14
        seen = set()
        for x, y in tiles_of(z):
            st, _, body = s.get(f"/tiles/cadastral_parcels/{z}/{x}/{y}.mvt")
            assert st == 200
            if body:
                seen |= {a["lu_display"] for a, _ in decode(body, z, x, y, tmp_path).get("cadastral_parcels", [])}
        assert seen == {"SKC"}
    finally:
        s.stop()
