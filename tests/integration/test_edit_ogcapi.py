# SPDX-License-Identifier: MIT
"""Issue 20: editing through OGC API Features Part 4 (POST / PUT / PATCH / DELETE with ETag and
If-Match), the change log (spp history, spp revert) and the tile cells an edit invalidates.
QGIS 3.22's OAPIF provider is read-only (no Part 4), so writes go through plain HTTP here and
are read back through OWSLib (OGC API and WFS) and vector tiles."""
import json
import math
import os
import sqlite3

import pytest

from conftest import Server, run_spp

LAYER = "land_use_current"


def square(lon, lat, d=0.001):
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d],
                                                [lon, lat + d], [lon, lat]]]}


def feature(lu="ODT", geom=None, **props):
    p = {"lu_code": lu}
    p.update(props)
    return {"type": "Feature", "properties": p, "geometry": geom or square(105.78, 10.03)}


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


@pytest.fixture(scope="module")
def edit_server(workdir):
    db = os.path.join(workdir, "edit.sqlite")
    for suffix in ("", "-wal", "-shm", ".tiles"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    run_spp("init", "--db", db)
    keys = {}
    for role in ("editor", "planner", "admin"):
        keys[role] = run_spp("keys", "--db", db, "add", "--role", role, "--name",
                             f"{role} one").stdout.split()[0]
    keys["editor2"] = run_spp("keys", "--db", db, "add", "--role", "editor", "--name",
                              "editor two").stdout.split()[0]
    s = Server(db, workdir)
    s.db = db
    s.keys = keys
    yield s
    s.stop()


def send(s, method, path, body=None, key="editor", headers=None):
    h = {"Content-Type": "application/geo+json"}
    if key:
        h["X-API-Key"] = s.keys[key]
    h.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    return s.get(path, headers=h, method=method, data=data)


def items(s):
    return f"/collections/{LAYER}/items"


def create(s, body, key="editor"):
    st, h, b = send(s, "POST", items(s), body, key)
    assert st == 201, b
    fid = int(h["Location"].rsplit("/", 1)[1])
    return fid, h["ETag"]


def test_create_read_back_through_owslib(edit_server):
    from owslib.ogcapi.features import Features
    fid, etag = create(edit_server, feature("Đất ở tại đô thị", inventory_year="2024"))
    api = Features(edit_server.base)
    f = api.collection_item(LAYER, str(fid))
    assert f["properties"]["lu_code"] == "ODT"  # the code list maps the name to its code
    assert f["properties"]["inventory_year"] == 2024  # parsed as the field's type
    assert f["properties"]["area_m2"] > 10000  # derived in the storage CRS (VN-2000)
    assert f["geometry"]["type"] == "MultiPolygon"  # promoted to the layer's type
    st, h, _ = edit_server.get(f"{items(edit_server)}/{fid}")
    assert h["ETag"] == etag


def test_text_is_stored_in_nfc(edit_server):
    nfd = "Ghi chu\u0301 Vie\u0323\u0302t"  # combining marks
    fid, _ = create(edit_server, feature(note=nfd))
    _, _, b = edit_server.get(f"{items(edit_server)}/{fid}")
    import unicodedata
    note = json.loads(b)["properties"]["note"]
    assert note == unicodedata.normalize("NFC", nfd) and note != nfd


def test_replace_update_delete_with_etags(edit_server):
    s = edit_server
    fid, etag = create(s, feature(inventory_year=2020))
    path = f"{items(s)}/{fid}"
    # PUT without If-Match: 428; with a stale ETag: 412
    st, _, b = send(s, "PUT", path, feature(inventory_year=2021))
    assert st == 428, b
    st, _, b = send(s, "PUT", path, feature(inventory_year=2021), headers={"If-Match": '"0"'})
    assert st == 412, b
    st, h, b = send(s, "PUT", path, feature(inventory_year=2021), headers={"If-Match": etag})
    assert st == 204, b
    etag2 = h["ETag"]
    assert etag2 != etag
    # PATCH keeps what it does not name, moves the geometry
    st, h, b = send(s, "PATCH", path, {"type": "Feature", "properties": {"lu_code": "TMD"},
                                       "geometry": square(105.79, 10.04)},
                    headers={"If-Match": etag2})
    assert st == 204, b
    got = json.loads(s.get(path)[2])
    assert got["properties"]["lu_code"] == "TMD" and got["properties"]["inventory_year"] == 2021
    assert abs(got["geometry"]["coordinates"][0][0][0][0] - 105.79) < 1e-6
    st, _, b = send(s, "DELETE", path, headers={"If-Match": h["ETag"]})
    assert st == 204, b
    assert s.get(path)[0] == 404


def test_two_editors_conflict(edit_server):
    s = edit_server
    fid, etag = create(s, feature(inventory_year=2000))
    path = f"{items(s)}/{fid}"
    # both read the same version; the first write wins, the second gets 412
    a = send(s, "PATCH", path, {"type": "Feature", "properties": {"inventory_year": 2001}},
             key="editor", headers={"If-Match": etag})
    b = send(s, "PATCH", path, {"type": "Feature", "properties": {"inventory_year": 2002}},
             key="editor2", headers={"If-Match": etag})
    assert a[0] == 204 and b[0] == 412, (a, b)
    assert json.loads(s.get(path)[2])["properties"]["inventory_year"] == 2001


def test_permission_refusals(edit_server):
    s = edit_server
    assert send(s, "POST", items(s), feature(), key=None)[0] == 401
    st, _, b = send(s, "POST", items(s), feature(), key="planner")
    assert st == 403 and b"may not edit" in b
    # a layer without edit_roles: nobody writes it, not even an admin
    st, _, _ = send(s, "POST", "/collections/roads/items",
                    {"type": "Feature", "properties": {},
                     "geometry": {"type": "LineString", "coordinates": [[105.78, 10.03],
                                                                        [105.79, 10.03]]}},
                    key="admin")
    assert st == 403
    # a wrong key is refused before anything else
    st, _, _ = s.get(items(s), method="POST", data=json.dumps(feature()).encode(),
                     headers={"X-API-Key": "nope", "Content-Type": "application/geo+json"})
    assert st == 401


@pytest.mark.parametrize("body,field", [
    (feature(geom={"type": "Polygon", "coordinates": [[[105.78, 10.03], [105.781, 10.03],
                                                       [105.78, 10.03]]]}), "geometry"),
    (feature(geom={"type": "Point", "coordinates": [105.78, 10.03]}), "geometry"),
    (feature(lu="XYZ"), "lu_code"),
    (feature(inventory_year="soon"), "inventory_year"),
    ({"type": "Feature", "properties": {"note": "x"}, "geometry": square(105.78, 10.03)},
     "lu_code"),
    (feature(colour="red"), "colour"),
    # far from Vietnam: New York in CRS84, and lat/lon given the wrong way round
    (feature(geom=square(-74.0, 40.7)), "geometry"),
    (feature(geom=square(10.03, 105.78)), "geometry"),
])
def test_invalid_feature_refused_naming_the_field(edit_server, body, field):
    s = edit_server
    before = s.json(f"/collections/{LAYER}")[2]
    st, _, b = send(s, "POST", items(s), body)
    assert st == 400, b
    assert f"field {field}" in json.loads(b)["detail"]
    assert s.json(f"/collections/{LAYER}")[2] == before  # nothing written


def test_self_intersecting_polygon_is_made_valid(edit_server):
    bow = {"type": "Polygon", "coordinates": [[[105.78, 10.03], [105.781, 10.031],
                                               [105.781, 10.03], [105.78, 10.031],
                                               [105.78, 10.03]]]}
    fid, _ = create(edit_server, feature(geom=bow))
    con = sqlite3.connect(edit_server.db)
    con.enable_load_extension(True)
    con.load_extension("mod_spatialite")
    assert con.execute(f"SELECT ST_IsValid(geom) FROM {LAYER} WHERE fid = ?",
                       (fid,)).fetchone()[0] == 1
    con.close()


def test_history_and_revert(edit_server):
    s = edit_server
    fid, etag = create(s, feature(inventory_year=1999))
    path = f"{items(s)}/{fid}"
    st, h, _ = send(s, "PATCH", path, {"type": "Feature", "properties": {"inventory_year": 2010}},
                    headers={"If-Match": etag})
    assert st == 204
    change = int(h["X-Change-Id"])
    out = run_spp("history", "--db", s.db, LAYER, str(fid)).stdout
    assert "insert" in out and f"change {change}" in out and "editor one" in out
    assert '"inventory_year":1999' in out and '"inventory_year":2010' in out
    run_spp("revert", "--db", s.db, "--name", "tester", str(change))
    assert json.loads(s.get(path)[2])["properties"]["inventory_year"] == 1999
    # reverting twice, or an older change under a newer one, is refused
    p = run_spp("revert", "--db", s.db, str(change), check=False)
    assert p.returncode == 1 and "already reverted" in p.stderr
    out = run_spp("history", "--db", s.db, LAYER, str(fid)).stdout
    assert f"reverts change {change}" in out and "tester" in out


def test_tiles_follow_the_edit(edit_server):
    s = edit_server
    z, x, y = tile_of(105.8105, 10.0605, 16)
    fid, etag = create(s, feature(geom=square(105.81, 10.06, 0.001)))
    # a feature far away, in another tile
    z2, x2, y2 = tile_of(105.7005, 10.0005, 16)
    create(s, feature(geom=square(105.70, 10.00, 0.001)))
    t1 = s.get(f"/tiles/{LAYER}/{z}/{x}/{y}.mvt")
    u1 = s.get(f"/tiles/{LAYER}/{z2}/{x2}/{y2}.mvt")
    assert t1[0] == 200 and u1[0] == 200
    assert s.get(f"/tiles/{LAYER}/{z}/{x}/{y}.mvt")[1]["ETag"] == t1[1]["ETag"]  # cached
    st, _, _ = send(s, "PATCH", f"{items(s)}/{fid}",
                    {"type": "Feature", "geometry": square(105.8102, 10.0602, 0.0005)},
                    headers={"If-Match": etag})
    assert st == 204
    t2 = s.get(f"/tiles/{LAYER}/{z}/{x}/{y}.mvt")
    assert t2[0] == 200 and t2[2] != t1[2] and t2[1]["ETag"] != t1[1]["ETag"]
    u2 = s.get(f"/tiles/{LAYER}/{z2}/{x2}/{y2}.mvt")
    assert u2[1]["ETag"] == u1[1]["ETag"] and u2[2] == u1[2]


def test_conformance_and_wfs_read_back(edit_server):
    conf = edit_server.json("/conformance")[2]["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update" in conf
    from owslib.wfs import WebFeatureService
    fid, _ = create(edit_server, feature(note="read back through WFS"))
    wfs = WebFeatureService(edit_server.base + "/wfs", version="2.0.0")
    r = wfs.getfeature(typename=[LAYER], featureid=[f"{LAYER}.{fid}"],
                       outputFormat="application/json")
    got = json.loads(r.read())
    assert got["features"][0]["properties"]["note"] == "read back through WFS"


def test_row_rule_bounds_an_editor(workdir, tmp_path):
    """With vacant_land_fund's row rule exempting only admins, an editor writes only published
    funds: creating an unpublished one, or unpublishing one, is a 403."""
    import shutil
    from conftest import ROOT
    layers = tmp_path / "layers"
    shutil.copytree(os.path.join(ROOT, "layers"), layers)
    p = layers / "vacant_land_fund.json"
    d = json.loads(p.read_text(encoding="utf-8"))
    d["row_rule"]["exempt"] = "admin"
    p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"layers_dir": str(layers)}))
    db = str(tmp_path / "rr.sqlite")
    run_spp("init", "--db", db, "--config", str(cfg))
    ed = run_spp("keys", "--db", db, "add", "--role", "editor", "--name", "e").stdout.split()[0]
    s = Server(db, str(tmp_path), config=str(cfg))
    try:
        path = "/collections/vacant_land_fund/items"
        h = {"X-API-Key": ed, "Content-Type": "application/geo+json"}

        def fund(fid, public):
            return json.dumps({"type": "Feature", "properties": {"fund_id": fid, "public": public},
                               "geometry": square(105.78, 10.03)}).encode()
        st, hd, b = s.get(path, headers=h, method="POST", data=fund("Q-1", True))
        assert st == 201, b
        st, _, b = s.get(path, headers=h, method="POST", data=fund("Q-2", False))
        assert st == 403 and b"public" in b, b
        fid = hd["Location"].rsplit("/", 1)[1]
        # unpublishing it would leave a row the editor may not see: refused
        st, _, b = s.get(f"{path}/{fid}", headers={**h, "If-Match": hd["ETag"]}, method="PATCH",
                         data=json.dumps({"type": "Feature",
                                          "properties": {"public": False}}).encode())
        assert st == 403, b
    finally:
        s.stop()
