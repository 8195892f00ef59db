# SPDX-License-Identifier: MIT
"""Vector tiles, decoded by an independent decoder (GDAL's MVT driver): layers, attributes per
role, feature ids against the store (expected sets computed with osr and the official
EPSG:6960 parameters), polygon validity and seamless parcels after decoding, empty tiles, bad
addresses, ETag/304/gzip, exact cache invalidation after one parcel changes, TileJSON."""
import gzip
import json
import math
import os
import sqlite3
import time

import pytest
from osgeo import gdal, ogr, osr

from conftest import Server, run_spp, spatialite
from tiles_fixture import build_tiles_store

gdal.UseExceptions()

# EPSG:5897 bound to WGS 84 through EPSG:6960 (Decision 05/2007; coordinate frame rotations,
# negated here for the position-vector +towgs84 convention): the official transformation,
# written out independently of spp and of PROJ's choice of operation.
VN2000_TM3_105 = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84"
                  " +towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,"
                  "0.00427372,0.252906278 +units=m +no_defs")
HALF = 20037508.342789244
LAYERS = "cadastral_parcels,roads,buildings"


def srs(defn):
    s = osr.SpatialReference()
    if isinstance(defn, int):
        s.ImportFromEPSG(defn)
    else:
        s.ImportFromProj4(defn)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


TO_3857 = osr.CoordinateTransformation(srs(VN2000_TM3_105), srs(3857))
TO_4326 = osr.CoordinateTransformation(srs(VN2000_TM3_105), srs(4326))


def test_official_transformation_vector():
    back = osr.CoordinateTransformation(srs(4326), srs(VN2000_TM3_105))
    x, y, _ = back.TransformPoint(105.7880, 10.0340)
    assert abs(x - 586184.889) < 0.01 and abs(y - 1109719.714) < 0.01


def tile_box(z, x, y, buffer=0.0):
    size = 2 * HALF / 2 ** z
    minx, maxy = -HALF + x * size, HALF - y * size
    b = size * buffer / 4096
    return minx - b, maxy - size - b, minx + size + b, maxy + b


def box_geom(b):
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for px, py in ((b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3]), (b[0], b[1])):
        ring.AddPoint_2D(px, py)
    g = ogr.Geometry(ogr.wkbPolygon)
    g.AddGeometry(ring)
    return g


@pytest.fixture(scope="module")
def tstore(workdir):
    path = os.path.join(workdir, "tiles.sqlite")
    build_tiles_store(path)
    key = run_spp("keys", "--db", path, "add", "--role", "planner").stdout.strip()
    return path, key


@pytest.fixture(scope="module")
def tserver(tstore, workdir):
    s = Server(tstore[0], workdir)
    yield s
    s.stop()


def store_features(path, layer):
    """fid -> geometry in EPSG:3857 (transformed here, not by spp)."""
    con = spatialite(path)
    out = {}
    for fid, wkb in con.execute(f"SELECT fid, AsBinary(geom) FROM {layer}"):
        g = ogr.CreateGeometryFromWkb(bytes(wkb))
        g.Transform(TO_3857)
        out[fid] = g
    con.close()
    return out


def decode(body, z, x, y, tmpdir, name="t.mvt"):
    path = os.path.join(tmpdir, name)
    with open(path, "wb") as f:
        f.write(body)
    ds = gdal.OpenEx(path, gdal.OF_VECTOR, open_options=[f"X={x}", f"Y={y}", f"Z={z}", "CLIP=NO"])
    layers = {}
    for i in range(ds.GetLayerCount()):
        lyr = ds.GetLayer(i)
        feats = []
        for f in lyr:
            g = f.GetGeometryRef()
            feats.append((f.GetField("mvt_id"), f.items(), g.Clone() if g else None))
        layers[lyr.GetName()] = feats
    return layers


def block_tiles(path, z):
    """Tiles of zoom z that touch the fixture's parcels (from the independent transform)."""
    env = None
    for g in store_features(path, "cadastral_parcels").values():
        e = g.GetEnvelope()
        env = e if env is None else (min(env[0], e[0]), max(env[1], e[1]),
                                     min(env[2], e[2]), max(env[3], e[3]))
    size = 2 * HALF / 2 ** z
    xs = range(int((env[0] + HALF) // size), int((env[1] + HALF) // size) + 1)
    ys = range(int((HALF - env[3]) // size), int((HALF - env[2]) // size) + 1)
    return [(z, x, y) for x in xs for y in ys]


def test_mvt_decodes_with_expected_features(tserver, tstore, workdir):
    path, _ = tstore
    parcels = store_features(path, "cadastral_parcels")
    checked = 0
    for z in (15, 16, 17, 18):
        for (z_, x, y) in block_tiles(path, z):
            status, hdrs, body = tserver.get(f"/tiles/{LAYERS}/{z}/{x}/{y}.mvt")
            assert status == 200, (z, x, y, status)
            assert hdrs["Content-Type"] == "application/vnd.mapbox-vector-tile"
            layers = decode(body, z, x, y, workdir)
            assert set(layers) <= {"cadastral_parcels", "roads", "buildings"}
            got = {fid for fid, _, _ in layers.get("cadastral_parcels", [])}
            unit = (2 * HALF / 2 ** z / 4096)
            # slivers narrower than a unit along the buffer's edge may snap away: demand only
            # the parcels with more than 2 units inside the buffered tile
            inner = box_geom(tile_box(z, x, y, 62))
            wider = box_geom(tile_box(z, x, y, 65))
            must = {fid for fid, g in parcels.items()
                    if g.Intersection(inner).GetArea() > 2 * unit * unit}
            may = {fid for fid, g in parcels.items() if g.Intersects(wider)}
            assert must <= got <= may, (z, x, y, sorted(must - got), sorted(got - may))
            checked += len(got)
    assert checked > 270


def test_polygons_valid_and_parcels_do_not_overlap(tserver, tstore, workdir):
    path, _ = tstore
    worst = 0.0
    n_poly = 0
    for z in (15, 17, 18, 19):
        for (z_, x, y) in block_tiles(path, z):
            status, _, body = tserver.get(f"/tiles/cadastral_parcels/{z}/{x}/{y}.mvt")
            assert status == 200
            feats = decode(body, z, x, y, workdir)["cadastral_parcels"]
            unit2 = (2 * HALF / 2 ** z / 4096) ** 2
            geoms = [g for _, _, g in feats]
            for g in geoms:
                assert g.IsValid(), (z, x, y, g.ExportToWkt()[:200])
                assert g.GetArea() >= unit2 * 0.999
                n_poly += 1
            for i in range(len(geoms)):
                ei = geoms[i].GetEnvelope()
                for j in range(i + 1, len(geoms)):
                    ej = geoms[j].GetEnvelope()
                    if ei[1] < ej[0] or ej[1] < ei[0] or ei[3] < ej[2] or ej[3] < ei[2]:
                        continue
                    inter = geoms[i].Intersection(geoms[j])
                    if inter is not None:
                        worst = max(worst, inter.GetArea() / unit2)
    assert n_poly > 300
    assert worst < 0.01, f"neighbouring parcels overlap by {worst:.3f} tile units"


def test_hole_and_concave_parcels_survive(tserver, tstore, workdir):
    # z18 tiles: the holed parcel keeps its hole, the parcel filling it is there, L-shapes too.
    path, _ = tstore
    con = spatialite(path)
    holed = con.execute("SELECT fid FROM cadastral_parcels WHERE NumInteriorRing("
                        "GeometryN(geom, 1)) > 0").fetchone()[0]
    con.close()
    found = False
    for (z, x, y) in block_tiles(path, 18):
        _, _, body = tserver.get(f"/tiles/cadastral_parcels/{z}/{x}/{y}.mvt")
        for fid, _, g in decode(body, z, x, y, workdir)["cadastral_parcels"]:
            if fid == holed:
                poly = g.GetGeometryRef(0) if g.GetGeometryType() == ogr.wkbMultiPolygon else g
                found |= poly.GetGeometryCount() == 2 and g.IsValid()
    assert found


def test_attributes_follow_the_role(tserver, tstore, workdir):
    path, key = tstore
    z, x, y = block_tiles(path, 17)[0]
    for headers, visible in (({}, False), ({"X-API-Key": key}, True)):
        status, _, body = tserver.get(f"/tiles/cadastral_parcels/{z}/{x}/{y}.mvt", headers)
        assert status == 200
        feats = decode(body, z, x, y, workdir)["cadastral_parcels"]
        con = spatialite(path)
        for fid, items, _ in feats:
            row = con.execute("SELECT parcel_key, parcel_no, owner_name, lu_display FROM"
                              " cadastral_parcels WHERE fid = ?", (fid,)).fetchone()
            assert items["parcel_key"] == row[0] and items["parcel_no"] == row[1]
            assert items["lu_display"] == row[3]
            assert ("owner_name" in items) == visible
            if visible:
                assert items["owner_name"] == row[2]
        con.close()
    # public keys never see the bytes of an owner name, whatever the layer list
    status, _, body = tserver.get(f"/tiles/all/{z}/{x}/{y}.mvt")
    assert status == 200 and b"owner_name" not in body and "Nguyễn".encode() not in body


def test_layers_read_at_once_make_the_same_tiles(tstore, workdir):
    # limits.layer_threads: a tile's layers read on helper threads, each with its own store
    # connection, give the bytes the layers read one after the other give: every zoom of the
    # fixture (with the land-use overview below the parcels' minzoom), public and planner (whose
    # restricted reads stay on the request's own connection), a budget-sized layer list
    path, key = tstore
    paths = [f"/tiles/{layers}/{z}/{x}/{y}.mvt"
             for layers in (LAYERS, "all", "roads,cadastral_parcels")
             for z in (12, 13, 14, 15, 16, 17, 18) for (_, x, y) in block_tiles(path, z)]
    answers = {}
    for threads in (0, 3):
        d = os.path.join(workdir, f"layer_threads_{threads}")
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "settings.json")
        with open(cfg, "w") as f:
            json.dump({"limits": {"layer_threads": threads}}, f)
        copy = os.path.join(d, "tiles.sqlite")  # its own tile cache file beside it
        con = sqlite3.connect(path)
        con.execute("VACUUM INTO ?", (copy,))
        con.close()
        s = Server(copy, d, config=cfg)
        try:
            started = ""
            for _ in range(100):  # the start-up line follows the first /healthz closely
                with open(s.log.name) as f:
                    started = f.read()
                if "layer threads" in started:
                    break
                time.sleep(0.05)
            assert f"{threads} layer threads" in started, started
            for p in paths:
                for headers in ({}, {"X-API-Key": key}):
                    st, _, body = s.get(p, headers)
                    assert st == 200, (p, st, body[:200])
                    answers.setdefault((p, bool(headers)), []).append(body)
        finally:
            s.stop()
    assert len(answers) == 2 * len(paths)
    assert sum(len(a[0]) > 0 for a in answers.values()) > len(paths)
    for (p, planner), (serial, helped) in answers.items():
        assert serial == helped, (p, planner, len(serial), len(helped))


def test_empty_vector_tiles_are_200_empty(tserver):
    # 200 with an empty body (no 204: Leaflet, GDAL and WMTS clients take it for a failure)
    for path in ("/tiles/cadastral_parcels/17/0/0.mvt",        # far away
                 "/tiles/cadastral_parcels/12/3250/1933.mvt",  # parcels start at z15
                 "/tiles/all/3/6/3.mvt"):
        status, hdrs, body = tserver.get(path)
        assert status == 200 and body == b"" and hdrs["ETag"]
        assert hdrs["Content-Type"] == "application/vnd.mapbox-vector-tile"
        status, h2, body = tserver.get(path, {"Accept-Encoding": "gzip"})
        assert status == 200 and body == b"" and "Content-Encoding" not in h2
        assert tserver.get(path, {"If-None-Match": hdrs["ETag"]})[0] == 304


@pytest.mark.parametrize("path,status", [
    ("/tiles/cadastral_parcels/25/0/0.mvt", 404),
    ("/tiles/cadastral_parcels/1/2/0.mvt", 404),
    ("/tiles/cadastral_parcels/1/0/2.mvt", 404),
    ("/tiles/cadastral_parcels/-1/0/0.mvt", 400),
    ("/tiles/cadastral_parcels/1/-1/0.mvt", 400),
    ("/tiles/cadastral_parcels/99999999999999999999/0/0.mvt", 400),
    ("/tiles/cadastral_parcels/17/1e3/0.mvt", 400),
    ("/tiles/cadastral_parcels/017/0/0.mvt", 400),
    ("/tiles/cadastral_parcels/17/0x10/0.mvt", 400),
    ("/tiles/cadastral_parcels/17/%201/0.mvt", 400),
    ("/tiles/cadastral_parcels/17/%00/0.mvt", 404),
    ("/tiles/nope/17/0/0.mvt", 404),
    ("/tiles/construction_permits/17/0/0.mvt", 404),   # investor layer, public caller
    ("/tiles/roads,,buildings/17/0/0.mvt", 400),
    ("/tiles/roads,/17/0/0.mvt", 400),
    ("/tiles/../../etc/17/0/0.mvt", 404),
    ("/tiles/%2e%2e/17/0/0.mvt", 404),
    ("/tiles/roads/17/0/0.jpg", 404),
    ("/tiles/roads/17/0/0.mvt.exe", 404),
    ("/tiles/roads/17/0.mvt", 404),
    ("/tiles/nope.json", 404),
])
def test_bad_tile_requests(tserver, path, status):
    got, hdrs, body = tserver.get(path)
    assert got == status, (path, got, body[:200])
    if got != 404 or path.startswith("/tiles/nope") or "construction" in path:
        assert hdrs["Content-Type"] == "application/problem+json"


def test_etag_304_and_gzip(tserver, tstore):
    z, x, y = block_tiles(tstore[0], 17)[0]
    url = f"/tiles/{LAYERS}/{z}/{x}/{y}.mvt"
    s1, h1, raw = tserver.get(url)
    s2, h2, gz = tserver.get(url, {"Accept-Encoding": "gzip, deflate"})
    assert s1 == 200 and s2 == 200
    assert h2["Content-Encoding"] == "gzip" and "Content-Encoding" not in h1
    assert gzip.decompress(gz) == raw and len(gz) < len(raw)
    assert h1["ETag"] != h2["ETag"] and "Accept-Encoding" in h1["Vary"]
    assert "no-cache" in h1["Cache-Control"]
    # the compressed bytes come from the cache: byte-identical on the next request
    s3, h3, gz2 = tserver.get(url, {"Accept-Encoding": "gzip"})
    assert gz2 == gz and h3["ETag"] == h2["ETag"]
    s4, _, body = tserver.get(url, {"If-None-Match": h1["ETag"]})
    assert s4 == 304 and body == b""
    s5, _, _ = tserver.get(url, {"If-None-Match": h1["ETag"], "Accept-Encoding": "gzip"})
    assert s5 == 200  # the gzip representation has another ETag
    s6, _, _ = tserver.get(url, {"If-None-Match": '"0000000000000000"'})
    assert s6 == 200


def cache_rows(server, path):
    """(z, x, y) -> cache row id of the public MVT tiles of LAYERS, once the server has written
    what it answered (other layer sets and roles have rows at the same z/x/y)."""
    server.flush_tiles()
    cache = sqlite3.connect(path + ".tiles")
    rows = {}
    for i, z, x, y, key in cache.execute(
            "SELECT id, z, x, y, key FROM spp_tiles WHERE fmt = 'mvt' AND enc = 'identity'"):
        if set(key.split("|")[1].strip(",").split(",")) == set(LAYERS.split(",")) \
                and key.endswith("|public"):
            assert (z, x, y) not in rows, key
            rows[(z, x, y)] = i
    cache.close()
    return rows


def test_one_parcel_change_drops_exactly_its_tiles(tstore, workdir):
    path, _ = tstore
    s = Server(path, workdir)
    try:
        tiles = [t for z in (15, 16, 17, 18, 19) for t in block_tiles(path, z)]
        before = {}
        for (z, x, y) in tiles:
            status, h, body = s.get(f"/tiles/{LAYERS}/{z}/{x}/{y}.mvt")
            assert status == 200
            before[(z, x, y)] = (h["ETag"], body)
        ids_before = cache_rows(s, path)
        # one parcel changes, as the importer records it: new attribute, a vertex moved inward
        con = spatialite(path)
        fid = con.execute("SELECT fid FROM cadastral_parcels WHERE parcel_no = 137").fetchone()[0]
        con.execute("UPDATE cadastral_parcels SET lu_display = 'TMD+ODT', geom ="
                    " CastToMultiPolygon(ST_Buffer(geom, -0.6)) WHERE fid = ?", (fid,))
        con.execute("INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy, at) SELECT"
                    " 'cadastral_parcels', 'test-1', MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom),"
                    " MbrMaxY(geom), 'now' FROM cadastral_parcels WHERE fid = ?", (fid,))
        con.commit()
        con.close()
        g = store_features(path, "cadastral_parcels")[fid]
        e = g.GetEnvelope()  # of the new geometry; the old one is 0.6 m larger each side
        changed, kept = [], []
        for (z, x, y) in tiles:
            status, h, body = s.get(f"/tiles/{LAYERS}/{z}/{x}/{y}.mvt")
            b = tile_box(z, x, y, 64)
            m = 0.7 * 1.02
            touches = not (e[1] + m < b[0] or e[0] - m > b[2] or e[3] + m < b[1] or
                           e[2] - m > b[3])
            if touches:
                changed.append((z, x, y))
                assert h["ETag"] != before[(z, x, y)][0], (z, x, y)
            else:
                kept.append((z, x, y))
                assert h["ETag"] == before[(z, x, y)][0] and body == before[(z, x, y)][1]
        ids_after = cache_rows(s, path)
        # untouched tiles were never dropped (same cache row); touched ones were regenerated
        for t in kept:
            assert ids_after[t] == ids_before[t], t
        for t in changed:
            assert ids_after[t] != ids_before[t], t
        assert changed and len(kept) > len(changed)
        print(f"\none parcel changed: {len(changed)} tiles regenerated {sorted(changed)},"
              f" {len(kept)} kept their ETag")
    finally:
        s.stop()


def test_cache_survives_restart_and_catches_up(tstore, workdir):
    path, _ = tstore
    z, x, y = block_tiles(path, 18)[0]
    url = f"/tiles/{LAYERS}/{z}/{x}/{y}.mvt"
    s = Server(path, workdir)
    _, h1, _ = s.get(url)
    s.stop()
    con = spatialite(path)
    con.execute("UPDATE roads SET name = 'Đường Mới' WHERE 1")
    con.execute("INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy) SELECT 'roads',"
                " 'test-2', min(MbrMinX(geom)), min(MbrMinY(geom)), max(MbrMaxX(geom)),"
                " max(MbrMaxY(geom)) FROM roads")
    con.commit()
    con.close()
    s = Server(path, workdir)
    try:
        _, h2, body = s.get(url)
        names = {items.get("name") for _, items, _ in
                 decode(body, z, x, y, workdir).get("roads", [])}
        if names:
            assert names == {"Đường Mới"} and h2["ETag"] != h1["ETag"]
    finally:
        s.stop()


def test_tilejson(tserver, tstore, catalog):
    path, key = tstore
    status, hdrs, tj = tserver.json(f"/tiles/{LAYERS}.json")
    assert status == 200 and hdrs["Content-Type"].startswith("application/json")
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"] == [f"{tserver.base}/tiles/{LAYERS}/{{z}}/{{x}}/{{y}}.mvt"]
    ids = [v["id"] for v in tj["vector_layers"]]
    assert sorted(ids) == sorted(LAYERS.split(","))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "layers",
                           "common.json"), encoding="utf-8") as f:
        common = json.load(f)["fields"]
    for v in tj["vector_layers"]:
        cat = catalog[v["id"]]
        assert v["minzoom"] == cat["zoom"]["min"] and v["maxzoom"] == cat["zoom"]["max"]
        public = {f["name"] for f in cat["fields"] + common if f.get("role", "public") == "public"}
        assert set(v["fields"]) == public
    assert tj["minzoom"] == min(catalog[i]["zoom"]["min"] for i in ids)
    # bounds: the store's extent through the official transformation, within 1e-6 degree
    con = spatialite(path)
    lo, hi = [180, 90], [-180, -90]
    for layer in ids:
        for wkb, in con.execute(f"SELECT AsBinary(geom) FROM {layer}"):
            g = ogr.CreateGeometryFromWkb(bytes(wkb))
            g.Transform(TO_4326)
            e = g.GetEnvelope()
            lo = [min(lo[0], e[0]), min(lo[1], e[2])]
            hi = [max(hi[0], e[1]), max(hi[1], e[3])]
    con.close()
    for got, want in zip(tj["bounds"], lo + hi):
        assert abs(got - want) < 2e-5, (tj["bounds"], lo + hi)
    status, _, tjp = tserver.json(f"/tiles/{LAYERS}.json", {"X-API-Key": key})
    parcels = [v for v in tjp["vector_layers"] if v["id"] == "cadastral_parcels"][0]
    assert "owner_name" in parcels["fields"]
    status, _, tja = tserver.json("/tiles/all.json")
    assert "construction_permits" not in [v["id"] for v in tja["vector_layers"]]


def test_raster_tile_window_is_the_metatile_cut(workdir):
    """A tile drawn alone on a miss (its window of the metatile: labels placed over the whole
    metatile) has the very bytes `spp seed` cuts from the whole metatile, for every tile of the
    fixture at the zoom where parcel labels show, and at a zoom without labels."""
    path = os.path.join(workdir, "window.sqlite")
    build_tiles_store(path)
    layers = "cadastral_parcels,hydro_lines,buildings,roads"
    s = Server(path, workdir)
    alone = {}
    try:
        for z in (16, 18):
            for z_, x, y in block_tiles(path, z):
                status, _, body = s.get(f"/tiles/{layers}/{z}/{x}/{y}.png")
                assert status == 200
                alone[(z, x, y)] = body
    finally:
        s.stop()
    os.remove(path + ".tiles")
    p = run_spp("seed", "--db", path, "--layer", layers, "--zoom", "16-18", "--format", "png")
    assert "tiles rendered" in p.stdout
    cache = sqlite3.connect(path + ".tiles")
    cut = {(z, x, y): data for z, x, y, data in cache.execute(
        "SELECT z, x, y, data FROM spp_tiles WHERE key LIKE 'png|%' AND enc = 'identity'")}
    cache.close()
    drawn = 0
    for t, body in alone.items():
        if t not in cut:  # an empty tile is cached as an empty entry and answered blank
            continue
        if cut[t]:
            drawn += 1
            assert body == cut[t], t
    assert drawn >= 4


def test_seed_fills_the_cache_the_server_uses(workdir):
    path = os.path.join(workdir, "seed.sqlite")
    build_tiles_store(path)
    p = run_spp("seed", "--db", path, "--layer", LAYERS, "--zoom", "16-18", "--threads", "2")
    n = int(p.stdout.split()[0])
    want = sum(len(block_tiles(path, z)) for z in (16, 17, 18))
    assert n >= want and "tiles rendered" in p.stdout
    cache = sqlite3.connect(path + ".tiles")
    rows = {(z, x, y): (etag, data) for z, x, y, etag, data in cache.execute(
        "SELECT z, x, y, etag, data FROM spp_tiles WHERE enc = 'identity'")}
    cache.close()
    for t in block_tiles(path, 17):
        assert t in rows
    s = Server(path, workdir)
    try:
        z, x, y = block_tiles(path, 17)[0]
        status, h, body = s.get(f"/tiles/{LAYERS}/{z}/{x}/{y}.mvt")
        assert status == 200 and h["ETag"] == rows[(z, x, y)][0] and body == rows[(z, x, y)][1]
    finally:
        s.stop()
    # a second run finds everything cached
    p = run_spp("seed", "--db", path, "--layer", LAYERS, "--zoom", "16-18")
    assert p.stdout.startswith("0 tiles")
    for bad in (["--zoom", "9-3"], ["--zoom", "x"], ["--layer", "nope"], ["--bbox", "1,2,3"],
                ["--format", "jpeg"]):
        args = {"--layer": LAYERS, "--zoom": "16-17"}
        args.update(dict(zip(bad[::2], bad[1::2])))
        p = run_spp("seed", "--db", path, *[v for kv in args.items() for v in kv], check=False)
        assert p.returncode in (1, 2) and p.stderr.count("\n") == 1, (bad, p.stderr)


def png_size(body):
    path = f"/vsimem/{abs(hash(body))}.png"
    gdal.FileFromMemBuffer(path, body)
    try:
        ds = gdal.Open(path)
        return ds.RasterXSize, ds.RasterYSize, ds.RasterCount, ds.ReadAsArray()
    finally:
        gdal.Unlink(path)


def test_raster_tiles_metatiles_and_2x(tserver, tstore):
    path, _ = tstore
    tiles = block_tiles(path, 18)
    z, x, y = tiles[len(tiles) // 2]
    status, hdrs, body = tserver.get(f"/tiles/{LAYERS}/{z}/{x}/{y}.png")
    assert status == 200 and hdrs["Content-Type"] == "image/png" and hdrs["ETag"]
    w, h, bands, pix = png_size(body)
    assert (w, h, bands) == (256, 256, 4) and pix[3].max() == 255  # something is drawn
    status, _, body2 = tserver.get(f"/tiles/{LAYERS}/{z}/{x}/{y}@2x.png")
    assert status == 200 and png_size(body2)[:2] == (512, 512)
    # a miss draws only its own window of the 2x2 metatile: that one tile is cached
    tserver.flush_tiles()
    cache = sqlite3.connect(path + ".tiles")
    n = cache.execute("SELECT count(*) FROM spp_tiles WHERE key LIKE 'png|%' AND z = ? AND"
                      " x / 2 = ? AND y / 2 = ?", (z, x // 2, y // 2)).fetchone()[0]
    cache.close()
    assert n == 1
    # the neighbours of the metatile match at the shared edge: the same image was cut there
    if x % 2 != 1:
        _, _, right = tserver.get(f"/tiles/{LAYERS}/{z}/{x + 1}/{y}.png")
        a, b = png_size(body)[3], png_size(right)[3]
        assert (a[:, :, 255] != 0).any() or (b[:, :, 0] != 0).any()
    s, h2, _ = tserver.get(f"/tiles/{LAYERS}/{z}/{x}/{y}.png", {"If-None-Match": hdrs["ETag"]})
    assert s == 304
    # nothing there, or nothing that draws at this zoom: 200 and one shared blank PNG per size,
    # fully transparent, with an ETag that answers 304
    blanks = set()
    for path in (f"/tiles/{LAYERS}/18/0/0.png", "/tiles/cadastral_parcels/12/3251/1933.png",
                 f"/tiles/{LAYERS}/18/0/0@2x.png"):
        s, h, b = tserver.get(path)
        assert s == 200 and h["Content-Type"] == "image/png" and h["ETag"], path
        w, hh, _, px = png_size(b)
        assert (w, hh) == ((512, 512) if "@2x" in path else (256, 256)) and not px.any()
        assert tserver.get(path, {"If-None-Match": h["ETag"]})[0] == 304
        blanks.add(b)
    assert len(blanks) == 2  # one image per size
    for bad, code in (("/tiles/roads/17/0/0@3x.png", 400), ("/tiles/roads/17/0/0@2x.mvt", 400),
                      ("/tiles/nope/17/0/0.png", 404), ("/tiles/roads/30/0/0.png", 404)):
        assert tserver.get(bad)[0] == code, bad


def test_raster_tiles_are_invalidated_too(tstore, workdir):
    path, _ = tstore
    s = Server(path, workdir)
    try:
        con = spatialite(path)
        fid, = con.execute("SELECT fid FROM cadastral_parcels WHERE parcel_no = 60").fetchone()
        con.close()
        g = store_features(path, "cadastral_parcels")[fid]
        e = g.GetEnvelope()
        z = 18
        size = 2 * HALF / 2 ** z
        x, y = int(((e[0] + e[1]) / 2 + HALF) // size), int((HALF - (e[2] + e[3]) / 2) // size)
        far = [t for t in block_tiles(path, z) if abs(t[1] - x) > 1 or abs(t[2] - y) > 1]
        _, h1, _ = s.get(f"/tiles/{LAYERS}/{z}/{x}/{y}.png")
        before = {t: s.get(f"/tiles/{LAYERS}/{t[0]}/{t[1]}/{t[2]}.png")[1]["ETag"] for t in far}
        con = spatialite(path)
        con.execute("UPDATE cadastral_parcels SET lu_display = 'SKC' WHERE fid = ?", (fid,))
        con.execute("INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy) SELECT"
                    " 'cadastral_parcels', 'test-3', MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom),"
                    " MbrMaxY(geom) FROM cadastral_parcels WHERE fid = ?", (fid,))
        con.commit()
        con.close()
        _, h2, _ = s.get(f"/tiles/{LAYERS}/{z}/{x}/{y}.png")
        assert h2["ETag"] != h1["ETag"]  # the land-use colour changed
        for t in far:
            assert s.get(f"/tiles/{LAYERS}/{t[0]}/{t[1]}/{t[2]}.png")[1]["ETag"] == before[t]
    finally:
        s.stop()


def test_unreadable_changes_bypass_the_cache(workdir):
    # if spp_changes cannot be read, tiles are still answered, fresh, and not from the cache
    path = os.path.join(workdir, "bypass.sqlite")
    build_tiles_store(path)
    s = Server(path, workdir)
    try:
        z, x, y = block_tiles(path, 18)[0]
        url = f"/tiles/cadastral_parcels/{z}/{x}/{y}.mvt"
        assert s.get(url)[0] == 200
        con = spatialite(path)
        con.execute("ALTER TABLE spp_changes RENAME TO spp_changes_gone")
        con.execute("UPDATE cadastral_parcels SET lu_display = 'BYPASS'")
        con.commit()
        con.close()
        status, _, body = s.get(url)
        assert status == 200 and b"BYPASS" in body
    finally:
        s.stop()


def write_roads(path, name):
    import json as _json
    feats = [{"type": "Feature", "properties": {"name": name, "road_class": "do_thi_chinh"},
              "geometry": {"type": "LineString",
                           "coordinates": [[105.7850, 10.0330], [105.7890, 10.0335]]}},
             {"type": "Feature", "properties": {"name": "Đường Xa", "road_class": "hem"},
              "geometry": {"type": "LineString",
                           "coordinates": [[105.7000, 10.1000], [105.7010, 10.1005]]}}]
    with open(path, "w", encoding="utf-8") as f:
        _json.dump({"type": "FeatureCollection", "features": feats}, f, ensure_ascii=False)


def test_real_import_invalidates_served_tiles(workdir):
    # the importer's own spp_changes rows: a re-import while serving is seen at once
    db = os.path.join(workdir, "imported.sqlite")
    for suffix in ("", ".tiles", ".tiles-wal", ".tiles-shm", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    src = os.path.join(workdir, "roads_v1.geojson")
    write_roads(src, "Đường Cũ")
    run_spp("import", "--db", db, "--layer", "roads", src)
    s = Server(db, workdir)
    try:
        z = 17
        n = 2 ** z
        x = int((105.7870 + 180) / 360 * n)
        lat = math.radians(10.03325)
        y = int((1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n)
        far_x = int((105.7005 + 180) / 360 * n)
        lat2 = math.radians(10.10025)
        far_y = int((1 - math.log(math.tan(lat2) + 1 / math.cos(lat2)) / math.pi) / 2 * n)
        url, far = f"/tiles/roads/{z}/{x}/{y}.mvt", f"/tiles/roads/{z}/{far_x}/{far_y}.mvt"
        st, h1, body = s.get(url)
        assert st == 200 and "Đường Cũ".encode() in body
        st, hf, _ = s.get(far)
        assert st == 200
        write_roads(src, "Đường Mới")
        run_spp("import", "--db", db, "--layer", "roads", src)
        st, h2, body = s.get(url)
        assert st == 200 and "Đường Mới".encode() in body and h2["ETag"] != h1["ETag"]
        assert s.get(far)[1]["ETag"] == hf["ETag"]
    finally:
        s.stop()


def test_never_stale_under_concurrent_changes(workdir):
    # readers hammer the tiles while a writer changes every parcel five times; after the last
    # change every tile (from any path through the cache) shows the last value
    import threading
    path = os.path.join(workdir, "stress.sqlite")
    build_tiles_store(path)
    s = Server(path, workdir)
    tiles = [t for z in (16, 17, 18) for t in block_tiles(path, z)]
    stop = threading.Event()
    errors = []

    def reader(k):
        i = k
        while not stop.is_set():
            z, x, y = tiles[i % len(tiles)]
            enc = {"Accept-Encoding": "gzip"} if i % 2 else {}
            layers = LAYERS if i % 3 == 0 else "cadastral_parcels"  # also read at once
            st = s.get(f"/tiles/{layers}/{z}/{x}/{y}.mvt", enc)[0]
            if st != 200:
                errors.append(st)
            i += 7

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    try:
        for round_ in range(5):
            con = spatialite(path)
            con.execute("UPDATE cadastral_parcels SET lu_display = ?", (f"R{round_}",))
            con.execute("INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy) SELECT"
                        " 'cadastral_parcels', ?, min(MbrMinX(geom)), min(MbrMinY(geom)),"
                        " max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM cadastral_parcels",
                        (f"r{round_}",))
            con.commit()
            con.close()
            time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        assert not errors
        for (z, x, y) in tiles:
            for enc in ({}, {"Accept-Encoding": "gzip"}):
                for layers in ("cadastral_parcels", LAYERS):
                    st, h, body = s.get(f"/tiles/{layers}/{z}/{x}/{y}.mvt", enc)
                    if h.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    assert b"R4" in body and b"R3" not in body, (z, x, y, enc, layers)
    finally:
        stop.set()
        s.stop()


def test_a_tile_read_from_disk_before_a_change_is_not_kept(workdir, monkeypatch):
    # a miss reads the file on its own connection, outside the lock a sync takes: a change
    # processed between that read and the tile's promotion into memory makes it a miss (made
    # again), never a memory entry older than the change. The test build's
    # SPP_TEST_TILE_LOOKUP_PAUSE_MS holds the request between the two.
    import threading
    path = os.path.join(workdir, "promote.sqlite")
    build_tiles_store(path)
    z, x, y = block_tiles(path, 17)[0]
    url = f"/tiles/cadastral_parcels/{z}/{x}/{y}.mvt"
    s = Server(path, workdir)
    try:
        assert s.get(url)[0] == 200
    finally:
        s.stop()  # the tile in the file, not in the next server's memory
    monkeypatch.setenv("SPP_TEST_TILE_LOOKUP_PAUSE_MS", "1500")
    s = Server(path, workdir)
    monkeypatch.delenv("SPP_TEST_TILE_LOOKUP_PAUSE_MS")
    try:
        first = {}
        t = threading.Thread(target=lambda: first.update(r=s.get(url)))
        t.start()
        time.sleep(0.5)  # the request has read the old tile from the file, and pauses
        con = spatialite(path)
        con.execute("UPDATE cadastral_parcels SET lu_display = 'CHANGED'")
        con.execute("INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy) SELECT"
                    " 'cadastral_parcels', 'p', min(MbrMinX(geom)), min(MbrMinY(geom)),"
                    " max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM cadastral_parcels")
        con.commit()
        con.close()
        assert s.get("/tiles/roads/17/0/0.mvt")[0] == 200  # syncs: the tile dropped from the file
        t.join()
        assert first["r"][0] == 200 and b"CHANGED" in first["r"][2]
        st, _, body = s.get(url)
        assert st == 200 and b"CHANGED" in body
    finally:
        s.stop()


def test_fields_named_like_index_columns(tmp_path):
    """A layer may have fields named like the R*Tree's columns (xmin .. ymax, pkid): a tile reads
    its rows through the index without mixing the two up (a tile of such a layer answered 500
    "ambiguous column name" once), WMS draws it, and spp_* names, the store's own, are refused."""
    import shutil

    from conftest import ROOT

    layers = tmp_path / "layers"
    shutil.copytree(os.path.join(ROOT, "layers"), layers)
    p = layers / "buildings.json"
    d = json.loads(p.read_text(encoding="utf-8"))
    for name in ("xmin", "ymax", "pkid"):
        d["fields"].append({"name": name, "type": "real", "label": {"vi": name, "en": name},
                            "role": "public"})
    p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"layers_dir": str(layers)}))
    db = str(tmp_path / "x.sqlite")
    run_spp("init", "--db", db, "--config", str(cfg))
    con = spatialite(db)
    srid = int(con.execute("SELECT value FROM spp_meta WHERE key = 'storage_srid'").fetchone()[0])
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(4326), dst.ImportFromEPSG(srid)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat = 105.7800, 10.0300
    x, y, _ = osr.CoordinateTransformation(src, dst).TransformPoint(lon, lat)
    ring = f"{x} {y}, {x + 20} {y}, {x + 20} {y + 15}, {x} {y + 15}, {x} {y}"
    con.execute("INSERT INTO buildings (kind, floors, xmin, ymax, pkid, geom) VALUES "
                f"('nha_rieng', 3, 1.5, 2.5, 7, GeomFromText('MULTIPOLYGON((({ring})))', {srid}))")
    con.commit()
    con.close()
    z = 17
    n = 2 ** z
    tx = int((lon + 180) / 360 * n)
    ty = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    s = Server(db, str(tmp_path), config=str(cfg))
    try:
        status, _, body = s.get(f"/tiles/buildings/{z}/{tx}/{ty}.mvt")
        assert status == 200, body[:300]
        path = f"/vsimem/fields/{z}/{tx}/{ty}.pbf"
        gdal.FileFromMemBuffer(path, body)
        ds = gdal.OpenEx(path, gdal.OF_VECTOR, open_options=[f"Z={z}", f"X={tx}", f"Y={ty}",
                                                            "METADATA_FILE="])
        f = ds.GetLayerByName("buildings").GetNextFeature()
        assert (f["xmin"], f["ymax"], f["pkid"], f["floors"]) == (1.5, 2.5, 7, 3)
        gdal.Unlink(path)
        bbox = ",".join(str(v) for v in (lat - 0.001, lon - 0.001, lat + 0.001, lon + 0.001))
        status, hdrs, body = s.get("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=buildings"
                                   f"&STYLES=&CRS=EPSG:4326&BBOX={bbox}&WIDTH=64&HEIGHT=64"
                                   "&FORMAT=image/png")
        assert status == 200 and hdrs["Content-Type"] == "image/png", body[:300]
    finally:
        s.stop()
    d["fields"].append({"name": "spp_note", "type": "text", "label": {"vi": "x", "en": "x"},
                        "role": "public"})
    p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    r = run_spp("init", "--db", str(tmp_path / "y.sqlite"), "--config", str(cfg), check=False)
    assert r.returncode == 1 and "spp_note" in r.stderr, r.stderr
