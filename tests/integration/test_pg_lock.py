# SPDX-License-Identifier: MIT
"""Issue 20: WFS feature locks on a PostGIS store shared by two replicas (A direct, B through
pgbouncer in transaction mode; the pg_edit fixture of test_pg_edit.py). A lock taken through A
holds on B: a Transaction through B without the lockId is FeaturesNotLocked (409) and leaves the
table as it was, an OGC API Part 4 PUT through B is 423, `spp revert` of a change to the locked
feature is refused; the Transaction through B with the lockId goes through and releases the
lock, after which anyone writes the feature again."""
import json
import re

from conftest import run_spp
from pg_fixture import pg_cluster  # noqa: F401  (the fixture)
from test_pg_edit import pg_edit, send  # noqa: F401  (the fixture)
from test_wfs_lock import exception_code, lock_id, rids

LAYER = "zoning_blocks"
WFS = ('xmlns="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0"'
       ' xmlns:gml="http://www.opengis.net/gml/3.2"')


def square(lon, lat, d=0.001):
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d],
                                                [lon, lat + d], [lon, lat]]]}


def tx(s, body, key="editor2", attrs=""):
    doc = f'<Transaction service="WFS" version="2.0.0" {WFS} {attrs}>{body}</Transaction>'
    return s.get("/wfs", method="POST", data=doc.encode(),
                 headers={"Content-Type": "text/xml", "X-API-Key": s.keys[key]})


def set_code(fid, code):
    return (f'<Update typeName="spp:{LAYER}" xmlns:spp="http://spp.cantho.gov.vn/spp"><Property>'
            f'<ValueReference>block_code</ValueReference><Value>{code}</Value></Property>'
            f'<fes:Filter><fes:ResourceId rid="{LAYER}.{fid}"/></fes:Filter></Update>')


def code_of(env, fid):
    return env["pg"].psql(f"SELECT block_code FROM {LAYER} WHERE fid = {fid}", db=env["db"])


def test_lock_on_a_holds_on_b(pg_edit):
    env = pg_edit
    a, b = env["a"], env["b"]
    body = {"type": "Feature", "properties": {"block_code": "LK-0"},
            "geometry": square(105.771, 10.021)}
    st, h, out = send(a, "POST", f"/collections/{LAYER}/items", body)
    assert st == 201, out
    fid, insert_change = int(h["Location"].rsplit("/", 1)[1]), h["X-Change-Id"]
    # editor locks the feature through replica A
    st, _, out = a.get("/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=LockFeature&EXPIRY=120"
                       f"&RESOURCEID={LAYER}.{fid}", headers={"X-API-Key": a.keys["editor"]})
    assert st == 200, out
    assert rids(out.replace(LAYER.encode(), b"zoning_blocks"), "FeaturesLocked") == [fid]
    lid = lock_id(out)
    # editor2 through replica B without the lockId: refused, the table as it was
    st, _, out = tx(b, set_code(fid, "LK-B"))
    assert st == 409 and exception_code(out) == "FeaturesNotLocked", out
    assert code_of(env, fid) == "LK-0"
    st, _, out = tx(b, f'<Delete typeName="spp:{LAYER}" xmlns:spp="http://spp.cantho.gov.vn/spp">'
                       f'<fes:Filter><fes:ResourceId rid="{LAYER}.{fid}"/></fes:Filter></Delete>')
    assert st == 409 and exception_code(out) == "FeaturesNotLocked", out
    assert code_of(env, fid) == "LK-0"
    # OGC API Part 4 through B, with the right ETag: 423 Locked
    path = f"/collections/{LAYER}/items/{fid}"
    st, h, _ = b.get(path)
    assert st == 200
    etag = h["ETag"]
    body["properties"]["block_code"] = "LK-PUT"
    st, _, out = send(b, "PUT", path, body, key="editor2", headers={"If-Match": etag})
    assert st == 423, out
    assert code_of(env, fid) == "LK-0"
    # spp revert of the feature's insert while it is locked: refused, the feature stays
    p = run_spp("revert", "--db", env["uri"], "--name", "reviewer", insert_change, check=False)
    assert p.returncode != 0 and "locked" in p.stderr, (p.returncode, p.stderr)
    assert code_of(env, fid) == "LK-0"
    # with the lockId, through B: written, and the lock released (releaseAction ALL)
    st, _, out = tx(b, set_code(fid, "LK-1"), attrs=f'lockId="{lid}"')
    assert st == 200, out
    assert code_of(env, fid) == "LK-1"
    assert env["pg"].psql(f"SELECT count(*) FROM spp_locks WHERE lock_id = '{lid}'",
                          db=env["db"]) == "0"
    st, _, out = tx(a, set_code(fid, "LK-2"), attrs=f'lockId="{lid}"')
    assert st == 400 and exception_code(out) == "InvalidLockId", out
    # free again: Part 4 through B and a revert both go through
    st, h, _ = b.get(path)
    st, _, out = send(b, "PUT", path, body, key="editor2", headers={"If-Match": h["ETag"]})
    assert st == 204, out
    assert code_of(env, fid) == "LK-PUT"
    hist = run_spp("history", "--db", env["uri"], LAYER, str(fid)).stdout
    last = max(int(c) for c in re.findall(r"change (\d+)", hist))
    run_spp("revert", "--db", env["uri"], "--name", "reviewer", str(last))
    assert code_of(env, fid) == "LK-1"
    assert json.loads(a.get(path)[2])["properties"]["block_code"] == "LK-1"


def test_two_deletes_of_one_feature_on_postgis(pg_edit):
    """A Transaction whose two Delete actions select one feature deletes it once on PostGIS too
    (before the fix: the whole Transaction refused as "no feature" on PostGIS, a logged delete of
    nothing on SpatiaLite)."""
    env, b = pg_edit, pg_edit["b"]
    body = {"type": "Feature", "properties": {"block_code": "DD-PG"},
            "geometry": square(105.773, 10.023)}
    st, h, out = send(b, "POST", f"/collections/{LAYER}/items", body)
    assert st == 201, out
    fid = int(h["Location"].rsplit("/", 1)[1])
    delete = (f'<Delete typeName="spp:{LAYER}" xmlns:spp="http://spp.cantho.gov.vn/spp">'
              f'<fes:Filter><fes:ResourceId rid="{LAYER}.{fid}"/></fes:Filter></Delete>')
    st, _, out = tx(b, delete + delete)
    assert st == 200, out
    assert b"<wfs:totalDeleted>1</wfs:totalDeleted>" in out, out
    assert env["pg"].psql(f"SELECT count(*) FROM {LAYER} WHERE fid = {fid}", db=env["db"]) == "0"
    hist = run_spp("history", "--db", env["uri"], LAYER, str(fid)).stdout
    assert len(re.findall(r"\bdelete\b", hist)) == 1, hist
