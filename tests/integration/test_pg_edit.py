# SPDX-License-Identifier: MIT
"""Issues 20 + 24: editing on a PostGIS store, through two stateless replicas of one database
(A connects directly, B through pgbouncer in transaction mode): OGC API Features Part 4 with
ETags (the same ETag a SpatiaLite store gives the same row), WFS-T all-or-nothing, the change log
(`spp history` / `spp revert --db postgresql://`), the tile cells an edit through A drops on B,
and two replicas writing one feature with one ETag (row locks: one wins, the other gets 412)."""
import json
import os
import re
import threading
import time

import pytest

from conftest import Server, run_spp
from pg_fixture import pg_cluster  # noqa: F401  (the fixture)
from test_pg_replicas import hits, tile_of, wait_ready

LAYER = "land_use_current"


def square(lon, lat, d=0.001):
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d],
                                                [lon, lat + d], [lon, lat]]]}


def feature(lu="ODT", geom=None, **props):
    p = {"lu_code": lu}
    p.update(props)
    return {"type": "Feature", "properties": p, "geometry": geom or square(105.78, 10.03)}


def replica(uri, workdir, name):
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "spp.json")
    with open(conf, "w", encoding="utf-8") as f:
        json.dump({"tile_cache_dir": d}, f)
    s = Server(uri, workdir, config=conf)
    wait_ready(s)
    return s


@pytest.fixture(scope="module")
def pg_edit(pg_cluster, demo_store, workdir):
    uri = pg_cluster.new_db("edits")
    run_spp("init", "--db", uri)
    run_spp("copy", "--db", uri, "--from", demo_store)
    keys = {}
    for name, role in (("editor", "editor"), ("editor2", "editor"), ("planner", "planner")):
        keys[name] = run_spp("keys", "--db", uri, "add", "--role", role, "--name",
                             f"pg {name}").stdout.split()[0]
    port = pg_cluster.start_pgbouncer(pool_size=2)
    pooled = uri.replace(f":{pg_cluster.port}/", f":{port}/")
    a = replica(uri, workdir, "pgedit-a")
    b = None
    try:
        b = replica(pooled, workdir, "pgedit-b")
        for s in (a, b):
            s.keys = keys
        yield {"uri": uri, "db": uri.rsplit("/", 1)[1], "a": a, "b": b, "pg": pg_cluster}
    finally:
        for s in (a, b):
            if s:
                s.stop()
        pg_cluster.stop_pgbouncer()


def send(s, method, path, body=None, key="editor", headers=None):
    h = {"Content-Type": "application/geo+json"}
    if key:
        h["X-API-Key"] = s.keys[key]
    h.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    return s.get(path, headers=h, method=method, data=data)


def items(layer=LAYER):
    return f"/collections/{layer}/items"


def create(s, body, key="editor"):
    st, h, b = send(s, "POST", items(), body, key)
    assert st == 201, b
    return int(h["Location"].rsplit("/", 1)[1]), h["ETag"]


def count(env, table=LAYER):
    return int(env["pg"].psql(f"SELECT count(*) FROM {table}", db=env["db"]))


def test_editing_is_advertised(pg_edit):
    for s in (pg_edit["a"], pg_edit["b"]):
        conf = s.json("/conformance")[2]["conformsTo"]
        assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in conf
        _, _, caps = s.get("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetCapabilities")
        assert b'name="Transaction"' in caps
        _, _, caps = s.get("/wfs?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetCapabilities")
        assert b"<Operation>Insert</Operation>" in caps


def test_part4_on_postgis(pg_edit):
    """Create on A, read on B (same ETag), 428 / 412 / 204 for PUT, PATCH, DELETE through B."""
    a, b = pg_edit["a"], pg_edit["b"]
    n0 = count(pg_edit)
    fid, etag = create(a, feature("Đất ở tại đô thị", inventory_year="2024"))
    assert count(pg_edit) == n0 + 1
    st, h, body = b.get(f"{items()}/{fid}")
    assert st == 200 and h["ETag"] == etag
    got = json.loads(body)
    assert got["properties"]["lu_code"] == "ODT" and got["properties"]["inventory_year"] == 2024
    assert got["geometry"]["type"] == "MultiPolygon"
    path = f"{items()}/{fid}"
    st, _, body = send(b, "PUT", path, feature(inventory_year=2021))
    assert st == 428, body
    st, _, body = send(b, "PUT", path, feature(inventory_year=2021), headers={"If-Match": '"0"'})
    assert st == 412, body
    st, h, body = send(b, "PUT", path, feature(inventory_year=2021), headers={"If-Match": etag})
    assert st == 204, body
    etag2 = h["ETag"]
    assert etag2 != etag and a.get(path)[1]["ETag"] == etag2
    st, h, body = send(b, "PATCH", path, {"type": "Feature", "properties": {"lu_code": "TMD"},
                                          "geometry": square(105.79, 10.04)},
                       headers={"If-Match": etag2})
    assert st == 204, body
    got = json.loads(a.get(path)[2])
    assert got["properties"]["lu_code"] == "TMD" and got["properties"]["inventory_year"] == 2021
    assert abs(got["geometry"]["coordinates"][0][0][0][0] - 105.79) < 1e-6
    # the change feed and the layer's version moved with the edits
    assert int(pg_edit["pg"].psql(f"SELECT count(*) FROM spp_feature_changes WHERE layer ="
                                  f" '{LAYER}' AND batch LIKE 'edit:%' AND fid = {fid}",
                                  db=pg_edit["db"])) == 3
    st, _, body = send(a, "DELETE", path, headers={"If-Match": h["ETag"]})
    assert st == 204, body
    assert a.get(path)[0] == 404 and count(pg_edit) == n0
    # refusals stay 4xx
    assert send(a, "POST", items(), feature(), key=None)[0] == 401
    assert send(a, "POST", items(), feature(), key="planner")[0] == 403
    st, _, body = send(b, "POST", items(), feature(lu="XYZ"))
    assert st == 400 and b"field lu_code" in body


def test_etag_is_the_same_on_both_backends(pg_edit, demo_store, workdir):
    """The demo's roads, copied into PostGIS: each feature has the ETag the SpatiaLite store
    gives it (a hash of the row as values and ISO WKB, not of a backend's bytes)."""
    s = Server(demo_store, workdir)
    try:
        fids = pg_edit["pg"].psql("SELECT fid FROM roads ORDER BY fid LIMIT 5",
                                  db=pg_edit["db"]).split()
        assert len(fids) == 5
        for fid in fids + [pg_edit["pg"].psql("SELECT max(fid) FROM cadastral_parcels",
                                               db=pg_edit["db"])]:
            layer = "roads" if fid in fids else "cadastral_parcels"
            st1, h1, b1 = s.get(f"/collections/{layer}/items/{fid}")
            st2, h2, b2 = pg_edit["a"].get(f"/collections/{layer}/items/{fid}")
            assert st1 == st2 == 200
            assert h1["ETag"] == h2["ETag"], (layer, fid)
    finally:
        s.stop()


WFS_NS = ('xmlns="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0"'
          ' xmlns:gml="http://www.opengis.net/gml/3.2"')


def wfs_insert(code, x, y, geom_type="Polygon"):
    pts = f"{x} {y} {x + 100} {y} {x + 100} {y + 100} {x} {y + 100} {x} {y}"
    geom = (f'<gml:Polygon srsName="urn:ogc:def:crs:EPSG::5897"><gml:exterior><gml:LinearRing>'
            f'<gml:posList>{pts}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>')
    if geom_type == "Point":
        geom = (f'<gml:Point srsName="urn:ogc:def:crs:EPSG::5897"><gml:pos>{x} {y}</gml:pos>'
                f'</gml:Point>')
    return (f'<wfs:Insert xmlns:wfs="http://www.opengis.net/wfs/2.0"><spp:zoning_blocks'
            f' xmlns:spp="http://spp.cantho.gov.vn/spp"><spp:block_code>{code}</spp:block_code>'
            f'<spp:geom>{geom}</spp:geom></spp:zoning_blocks></wfs:Insert>')


def wfs_tx(s, body):
    doc = f'<Transaction service="WFS" version="2.0.0" {WFS_NS}>{body}</Transaction>'
    return s.get("/wfs", headers={"Content-Type": "text/xml", "X-API-Key": s.keys["editor"]},
                 method="POST", data=doc.encode())


def test_wfst_on_postgis_all_or_nothing(pg_edit):
    a, b = pg_edit["a"], pg_edit["b"]
    n0 = count(pg_edit, "zoning_blocks")
    st, _, body = wfs_tx(b, wfs_insert("PG-1", 587000, 1110000) + wfs_insert("PG-2", 587200, 1110000))
    assert st == 200, body
    assert b"<wfs:totalInserted>2</wfs:totalInserted>" in body, body
    ids = [int(m) for m in re.findall(rb'rid="zoning_blocks\.(\d+)"', body)]
    assert len(ids) == 2 and count(pg_edit, "zoning_blocks") == n0 + 2
    # one good insert, one point where a polygon belongs: nothing is written
    st, _, body = wfs_tx(a, wfs_insert("PG-3", 587400, 1110000) +
                         wfs_insert("PG-4", 587600, 1110000, "Point"))
    assert 400 <= st < 500, (st, body)
    assert count(pg_edit, "zoning_blocks") == n0 + 2
    assert pg_edit["pg"].psql("SELECT count(*) FROM zoning_blocks WHERE block_code = 'PG-3'",
                              db=pg_edit["db"]) == "0"
    # update and delete by resource id
    upd = (f'<wfs:Update typeName="spp:zoning_blocks" xmlns:spp="http://spp.cantho.gov.vn/spp">'
           f'<wfs:Property><wfs:ValueReference>block_code</wfs:ValueReference><wfs:Value>PG-1b'
           f'</wfs:Value></wfs:Property><fes:Filter><fes:ResourceId rid="zoning_blocks.{ids[0]}"/>'
           f'</fes:Filter></wfs:Update>'
           f'<wfs:Delete typeName="spp:zoning_blocks" xmlns:spp="http://spp.cantho.gov.vn/spp">'
           f'<fes:Filter><fes:ResourceId rid="zoning_blocks.{ids[1]}"/></fes:Filter></wfs:Delete>')
    st, _, body = wfs_tx(a, upd.replace("wfs:", ""))
    assert st == 200, body
    assert pg_edit["pg"].psql(f"SELECT block_code FROM zoning_blocks WHERE fid = {ids[0]}",
                              db=pg_edit["db"]) == "PG-1b"
    assert count(pg_edit, "zoning_blocks") == n0 + 1


def test_history_and_revert_on_postgis(pg_edit):
    a, uri = pg_edit["a"], pg_edit["uri"]
    fid, etag = create(a, feature(inventory_year=1999))
    path = f"{items()}/{fid}"
    st, h, _ = send(a, "PATCH", path, {"type": "Feature", "properties": {"inventory_year": 2010}},
                    headers={"If-Match": etag})
    assert st == 204
    change = int(h["X-Change-Id"])
    out = run_spp("history", "--db", uri, LAYER, str(fid)).stdout
    assert "insert" in out and f"change {change}" in out and "pg editor" in out
    assert '"inventory_year":1999' in out and '"inventory_year":2010' in out
    assert '"lu_code":"ODT"' in out
    run_spp("revert", "--db", uri, "--name", "tester", str(change))
    got = json.loads(pg_edit["b"].get(path)[2])
    assert got["properties"]["inventory_year"] == 1999 and got["properties"]["lu_code"] == "ODT"
    p = run_spp("revert", "--db", uri, str(change), check=False)
    assert p.returncode == 1 and "already reverted" in p.stderr
    out = run_spp("history", "--db", uri, LAYER, str(fid)).stdout
    assert f"reverts change {change}" in out and "tester" in out
    # a delete reverted: the feature comes back with its fid and its values
    etag = a.get(path)[1]["ETag"]
    st, h, _ = send(a, "DELETE", path, headers={"If-Match": etag})
    assert st == 204 and a.get(path)[0] == 404
    run_spp("revert", "--db", uri, h["X-Change-Id"])
    st, h2, body = a.get(path)
    assert st == 200 and json.loads(body)["properties"]["inventory_year"] == 1999
    assert h2["ETag"] == etag  # the very row again
    # an older change under a newer one is refused
    p = run_spp("revert", "--db", uri, str(change - 1), check=False)
    assert p.returncode == 1 and "changed later" in p.stderr
    assert run_spp("revert", "--db", uri, "999999", check=False).returncode == 1


def test_edit_on_a_drops_the_tile_on_b(pg_edit):
    """An edit through replica A changes the tile on replica B (its own cache, through
    pgbouncer: the watch's poll) within 5 s; a cached tile elsewhere keeps its ETag and is still
    answered from B's cache."""
    a, b = pg_edit["a"], pg_edit["b"]
    fid, etag = create(a, feature(geom=square(105.8105, 10.0605, 0.001)))
    create(a, feature(geom=square(105.7005, 10.0005, 0.001)))
    near = f"/tiles/{LAYER}/{tile_of(105.8105, 10.0605, 16)}.mvt"
    far = f"/tiles/{LAYER}/{tile_of(105.7005, 10.0005, 16)}.mvt"
    deadline = time.time() + 5
    while not b.get(near)[2]:  # B sees the new feature (its cache followed the insert)
        assert time.time() < deadline
        time.sleep(0.1)
    t1, u1 = b.get(near), b.get(far)
    assert t1[0] == 200 and u1[0] == 200 and u1[2]
    st, _, _ = send(a, "PATCH", f"{items()}/{fid}",
                    {"type": "Feature", "geometry": square(105.8102, 10.0602, 0.0005)},
                    headers={"If-Match": etag})
    assert st == 204
    deadline = time.time() + 5
    while b.get(near)[2] == t1[2]:
        assert time.time() < deadline, "the edited tile did not change on B within 5 s"
        time.sleep(0.1)
    h0 = hits(b, LAYER)
    u2 = b.get(far)
    assert u2[1]["ETag"] == u1[1]["ETag"] and u2[2] == u1[2]
    assert hits(b, LAYER) == h0 + 1, "an unrelated tile was dropped"


def test_two_replicas_one_etag(pg_edit):
    """A and B PATCH one feature at once with the ETag both read: one 204, the other 412 (the
    second waits on the row lock, then sees the first one's row). Several rounds."""
    a, b = pg_edit["a"], pg_edit["b"]
    fid, etag = create(a, feature(inventory_year=1995))
    path = f"{items()}/{fid}"
    for rnd in range(6):
        etag = a.get(path)[1]["ETag"]
        results = {}
        go = threading.Barrier(2)

        def write(name, s, year):
            go.wait()
            results[name] = send(s, "PATCH", path,
                                 {"type": "Feature", "properties": {"inventory_year": year}},
                                 key="editor" if name == "a" else "editor2",
                                 headers={"If-Match": etag})
        ts = [threading.Thread(target=write, args=("a", a, 2000 + rnd)),
              threading.Thread(target=write, args=("b", b, 2050 + rnd))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        codes = sorted(r[0] for r in results.values())
        assert codes == [204, 412], {k: (v[0], v[2]) for k, v in results.items()}
        won = "a" if results["a"][0] == 204 else "b"
        year = json.loads(b.get(path)[2])["properties"]["inventory_year"]
        assert year == (2000 if won == "a" else 2050) + rnd
        assert b.get(path)[1]["ETag"] == results[won][1]["ETag"]
    out = run_spp("history", "--db", pg_edit["uri"], LAYER, str(fid)).stdout
    assert out.count("update") == 6
