# SPDX-License-Identifier: MIT
"""Issue 20: WFS locking. LockFeature and GetFeatureWithLock (2.0 KVP and XML, 1.1 XML), a
Transaction's lockId and releaseAction, lock expiry, lockAction ALL / SOME on partly locked sets,
locks seen by a second spp process on the same store, OGC API Part 4 writes refused (423) under
another's lock, permissions, malformed requests, and the capabilities. OWSLib has no LockFeature:
the lock requests are raw HTTP, the tables are read back through OWSLib."""
import json
import os
import re
import time
import urllib.parse

import pytest

from conftest import Server, run_spp, spatialite

LAYER = "zoning_blocks"
SPP_NS = "http://spp.cantho.gov.vn/spp"
NS = {"1.1.0": ('xmlns="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc"'
                ' xmlns:gml="http://www.opengis.net/gml"'),
      "2.0.0": ('xmlns="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0"'
                ' xmlns:gml="http://www.opengis.net/gml/3.2"')}


@pytest.fixture(scope="module")
def lock_server(workdir):
    db = os.path.join(workdir, "wfslock.sqlite")
    for suffix in ("", "-wal", "-shm", ".tiles"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    run_spp("init", "--db", db)
    s = Server(db, workdir)
    s.db = db
    s.keys = {}
    for name, role in (("a", "editor"), ("b", "editor"), ("planner", "planner")):
        s.keys[name] = run_spp("keys", "--db", db, "add", "--role", role, "--name",
                               f"lock {name}").stdout.split()[0]
    s.next_x = 586000
    yield s
    s.stop()


def poly(x, y, d=100):
    pts = f"{x} {y} {x + d} {y} {x + d} {y + d} {x} {y + d} {x} {y}"
    return (f'<gml:Polygon srsName="urn:ogc:def:crs:EPSG::5897"><gml:exterior><gml:LinearRing>'
            f'<gml:posList>{pts}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>')


def tx(s, body, v="2.0.0", key="a", attrs="", server=None):
    doc = f'<Transaction service="WFS" version="{v}" {NS[v]} {attrs}>{body}</Transaction>'
    h = {"Content-Type": "text/xml"}
    if key:
        h["X-API-Key"] = s.keys[key]
    return (server or s).get("/wfs", headers=h, method="POST", data=doc.encode())


def new_blocks(s, n, code):
    """Inserts n blocks with block_code code-i; returns their fids."""
    body = ""
    for i in range(n):
        body += (f'<Insert><spp:{LAYER} xmlns:spp="{SPP_NS}"><spp:block_code>{code}-{i}'
                 f'</spp:block_code><spp:geom>{poly(s.next_x, 1109600)}</spp:geom>'
                 f'</spp:{LAYER}></Insert>')
        s.next_x += 300
    st, _, b = tx(s, body)
    assert st == 200, b
    return [int(m) for m in re.findall(rf'rid="{LAYER}\.(\d+)"', b.decode())]


def kvp(s, params, key="a", server=None):
    q = {"service": "WFS", "version": "2.0.0"}
    q.update(params)
    h = {"X-API-Key": s.keys[key]} if key else {}
    return (server or s).get("/wfs?" + urllib.parse.urlencode(q), headers=h)


def lock(s, fids, key="a", server=None, **params):
    p = {"request": "LockFeature", "resourceId": ",".join(f"{LAYER}.{f}" for f in fids)}
    p.update(params)
    return kvp(s, p, key=key, server=server)


def lock_id(body):
    m = re.search(rb'lockId="([0-9a-f]+)"', body) or re.search(rb"<wfs:LockId>(\w+)<", body)
    assert m, body
    return m.group(1).decode()


def rids(body, element):
    """fids inside <wfs:ELEMENT> of a LockFeatureResponse."""
    m = re.search(rf"<wfs:{element}>(.*?)</wfs:{element}>".encode(), body, re.S)
    return sorted(int(x) for x in re.findall(rf'(?:rid|fid)="{LAYER}\.(\d+)"'.encode(),
                                             m.group(1))) if m else []


def set_floors(fids, n, v="2.0.0"):
    ref = "ValueReference" if v == "2.0.0" else "Name"
    if v == "2.0.0":
        flt = "".join(f'<fes:ResourceId rid="{LAYER}.{f}"/>' for f in fids)
        flt = f"<fes:Filter>{flt}</fes:Filter>"
    else:
        flt = "".join(f'<ogc:FeatureId fid="{LAYER}.{f}"/>' for f in fids)
        flt = f"<ogc:Filter>{flt}</ogc:Filter>"
    return (f'<Update typeName="spp:{LAYER}"><Property><{ref}>max_floors</{ref}><Value>{n}'
            f'</Value></Property>{flt}</Update>')


def floors(s):
    from owslib.wfs import WebFeatureService
    wfs = WebFeatureService(s.base + "/wfs", version="2.0.0")
    r = wfs.getfeature(typename=[f"spp:{LAYER}"], outputFormat="application/json")
    return {int(f["id"].rsplit(".", 1)[1]): f["properties"]["max_floors"]
            for f in json.loads(r.read())["features"]}


def exception_code(body):
    m = re.search(rb'exceptionCode="(\w+)"', body)
    return m.group(1).decode() if m else None


def test_lock_refuses_other_editor_then_holder_writes_and_releases(lock_server):
    s = lock_server
    f1, f2 = new_blocks(s, 2, "L1")
    st, _, b = lock(s, [f1], expiry="60")
    assert st == 200, b
    assert b"<wfs:LockFeatureResponse" in b and rids(b, "FeaturesLocked") == [f1]
    lid = lock_id(b)
    assert re.fullmatch(r"[0-9a-f]{32}", lid)
    before = floors(s)
    # editor b, without the lock: refused, and the whole transaction (f2 too) rolls back
    st, _, b = tx(s, set_floors([f2], 3) + set_floors([f1], 4), key="b")
    assert st == 409 and exception_code(b) == "FeaturesNotLocked", b
    assert floors(s) == before
    st, _, b = tx(s, f'<Delete typeName="spp:{LAYER}"><fes:Filter><fes:ResourceId '
                     f'rid="{LAYER}.{f1}"/></fes:Filter></Delete>', key="b")
    assert st == 409 and exception_code(b) == "FeaturesNotLocked", b
    assert f1 in floors(s)
    # features not under the lock stay free for everyone
    assert tx(s, set_floors([f2], 5), key="b")[0] == 200
    # with the lockId the update goes through, and releaseAction ALL frees the feature
    st, _, b = tx(s, set_floors([f1], 7), key="b", attrs=f'lockId="{lid}"')
    assert st == 200, b
    assert floors(s)[f1] == 7
    assert tx(s, set_floors([f1], 8), key="a")[0] == 200
    st, _, b = tx(s, set_floors([f1], 9), attrs=f'lockId="{lid}"')
    assert st == 400 and exception_code(b) == "InvalidLockId", b


def test_expiry(lock_server):
    s = lock_server
    (f1,) = new_blocks(s, 1, "EXP")
    st, _, b = lock(s, [f1], expiry="1")
    assert st == 200, b
    lid = lock_id(b)
    assert tx(s, set_floors([f1], 2), key="b")[0] == 409
    time.sleep(1.3)
    st, _, b = tx(s, set_floors([f1], 2), key="b")
    assert st == 200, b  # an expired lock holds nothing
    st, _, b = tx(s, set_floors([f1], 3), attrs=f'lockId="{lid}"')
    assert st == 400 and exception_code(b) == "LockHasExpired", b
    st, _, b = lock(s, [f1], lockId=lid)
    assert st == 400 and exception_code(b) == "LockHasExpired", b


def test_renewal_keeps_the_lock(lock_server):
    s = lock_server
    (f1,) = new_blocks(s, 1, "REN")
    lid = lock_id(lock(s, [f1], expiry="1")[2])
    st, _, b = kvp(s, {"request": "LockFeature", "lockId": lid, "expiry": "30"})
    assert st == 200 and lock_id(b) == lid, b
    time.sleep(1.3)
    assert tx(s, set_floors([f1], 2), key="b")[0] == 409  # renewed past the first second
    assert tx(s, set_floors([f1], 2), key="b", attrs=f'lockId="{lid}"')[0] == 200


def test_lock_action_all_and_some(lock_server):
    s = lock_server
    f1, f2, f3 = new_blocks(s, 3, "ACT")
    assert lock(s, [f1], expiry="60")[0] == 200
    # ALL: one feature is held by a: nothing is locked
    st, _, b = lock(s, [f1, f2, f3], key="b")
    assert st == 409 and exception_code(b) == "CannotLockAllFeatures", b
    assert tx(s, set_floors([f2, f3], 6))[0] == 200  # still free
    # SOME: the others are locked, f1 is reported as not locked
    st, _, b = lock(s, [f1, f2, f3], key="b", lockAction="SOME", expiry="60")
    assert st == 200, b
    assert rids(b, "FeaturesLocked") == [f2, f3]
    assert rids(b, "FeaturesNotLocked") == [f1]
    lid_b = lock_id(b)
    st, _, b = tx(s, set_floors([f2], 7))
    assert st == 409, b
    # releaseAction SOME frees only what the transaction wrote
    st, _, b = tx(s, set_floors([f2], 8), key="b",
                  attrs=f'lockId="{lid_b}" releaseAction="SOME"')
    assert st == 200, b
    assert tx(s, set_floors([f2], 9))[0] == 200
    assert tx(s, set_floors([f3], 9))[0] == 409
    assert tx(s, set_floors([f3], 9), key="b", attrs=f'lockId="{lid_b}"')[0] == 200


def test_get_feature_with_lock_locks_exactly_the_page(lock_server):
    s = lock_server
    fids = new_blocks(s, 3, "GFWL")
    flt = (f'<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsLike '
           f'wildCard="*" singleChar="." escapeChar="!"><fes:ValueReference>block_code'
           f'</fes:ValueReference><fes:Literal>GFWL-*</fes:Literal></fes:PropertyIsLike>'
           f'</fes:Filter>')
    st, h, b = kvp(s, {"request": "GetFeatureWithLock", "typeNames": f"spp:{LAYER}",
                       "filter": flt, "count": "2", "sortBy": "block_code", "expiry": "60"})
    assert st == 200, b
    assert b"<wfs:FeatureCollection" in b
    lid = lock_id(b)
    got = sorted(int(x) for x in re.findall(rb'gml:id="zoning_blocks\.(\d+)"', b))
    assert got == sorted(fids[:2])
    assert re.search(rb'numberReturned="2"', b)
    # exactly those two are held: the third can be locked by b, the two cannot
    st, _, b = lock(s, fids, key="b", lockAction="SOME")
    assert rids(b, "FeaturesLocked") == [fids[2]]
    assert rids(b, "FeaturesNotLocked") == sorted(fids[:2])
    assert tx(s, set_floors(fids[:2], 4), attrs=f'lockId="{lid}"')[0] == 200
    # GML only; no hits
    st, _, b = kvp(s, {"request": "GetFeatureWithLock", "typeNames": f"spp:{LAYER}",
                       "outputFormat": "application/json"})
    assert st == 400 and b"outputFormat" in b
    st, _, b = kvp(s, {"request": "GetFeatureWithLock", "typeNames": f"spp:{LAYER}",
                       "resultType": "hits"})
    assert st == 400 and b"resultType" in b


def test_xml_lock_feature_2_0_and_1_1(lock_server):
    s = lock_server
    f1, f2 = new_blocks(s, 2, "XML")
    h = {"Content-Type": "text/xml", "X-API-Key": s.keys["a"]}
    doc = (f'<LockFeature service="WFS" version="2.0.0" {NS["2.0.0"]} expiry="60">'
           f'<Query typeNames="spp:{LAYER}"><fes:Filter><fes:ResourceId rid="{LAYER}.{f1}"/>'
           f'</fes:Filter></Query></LockFeature>')
    st, _, b = s.get("/wfs", headers=h, method="POST", data=doc.encode())
    assert st == 200 and rids(b, "FeaturesLocked") == [f1], b
    lid2 = lock_id(b)
    # WFS 1.1: wfs:Lock, expiry in minutes, the lock id in wfs:LockId, ogc:FeatureId
    doc = (f'<LockFeature service="WFS" version="1.1.0" {NS["1.1.0"]} expiry="1">'
           f'<Lock typeName="spp:{LAYER}"><ogc:Filter><ogc:FeatureId fid="{LAYER}.{f2}"/>'
           f'</ogc:Filter></Lock></LockFeature>')
    st, _, b = s.get("/wfs", headers=h, method="POST", data=doc.encode())
    assert st == 200, b
    assert b"<wfs:LockId>" in b and b'<ogc:FeatureId fid="zoning_blocks.' in b
    lid1 = lock_id(b)
    assert tx(s, set_floors([f2], 2, "1.1.0"), v="1.1.0", key="b")[0] == 409
    st, _, b = tx(s, f"<LockId>{lid1}</LockId>" + set_floors([f2], 2, "1.1.0"), v="1.1.0",
                  key="b")
    assert st == 200, b
    assert tx(s, set_floors([f1], 2), attrs=f'lockId="{lid2}"')[0] == 200


def test_second_process_sees_the_lock(lock_server, workdir):
    s = lock_server
    (f1,) = new_blocks(s, 1, "TWO")
    other = Server(s.db, workdir)
    try:
        st, _, b = lock(s, [f1], expiry="60")
        assert st == 200, b
        lid = lock_id(b)
        st, _, b = tx(s, set_floors([f1], 3), key="b", server=other)
        assert st == 409 and exception_code(b) == "FeaturesNotLocked", b
        st, _, b = lock(s, [f1], key="b", server=other)
        assert st == 409 and exception_code(b) == "CannotLockAllFeatures", b
        st, _, b = tx(s, set_floors([f1], 3), key="b", server=other, attrs=f'lockId="{lid}"')
        assert st == 200, b
        assert floors(s)[f1] == 3
    finally:
        other.stop()


def test_ogcapi_writes_refused_under_a_lock(lock_server):
    s = lock_server
    (f1,) = new_blocks(s, 1, "API")
    path = f"/collections/{LAYER}/items/{f1}"
    st, h, b = s.get(path, headers={"X-API-Key": s.keys["b"]})
    assert st == 200, b
    etag = h["ETag"]
    assert lock(s, [f1], expiry="60")[0] == 200
    st, h, b = s.get(path, headers={"X-API-Key": s.keys["b"], "If-Match": etag},
                     method="DELETE")
    assert st == 423 and h["Content-Type"] == "application/problem+json", b
    problem = json.loads(b)
    assert problem["status"] == 423 and "locked" in problem["detail"]
    feat = json.loads(s.get(path)[2])
    feat["properties"] = {"block_code": "API-changed"}
    st, _, b = s.get(path, headers={"X-API-Key": s.keys["b"], "If-Match": etag,
                                    "Content-Type": "application/geo+json"},
                     method="PUT", data=json.dumps(feat).encode())
    assert st == 423, b
    assert f1 in floors(s)


def test_permissions(lock_server):
    s = lock_server
    (f1,) = new_blocks(s, 1, "PERM")
    st, h, b = lock(s, [f1], key=None)
    assert st == 401 and b"ExceptionReport" in b
    st, _, b = lock(s, [f1], key="planner")
    assert st == 403 and b"may not lock" in b
    st, _, b = kvp(s, {"request": "LockFeature", "typeNames": "spp:roads"})
    assert st == 403 and b"roads" in b  # no edit_roles: nobody locks it
    st, _, b = kvp(s, {"request": "GetFeatureWithLock", "typeNames": f"spp:{LAYER}"},
                   key=None)
    assert st == 401


@pytest.mark.parametrize("params,code,locator", [
    ({"lockAction": "MAYBE"}, "InvalidParameterValue", "lockAction"),
    ({"expiry": "soon"}, "InvalidParameterValue", "EXPIRY"),
    ({"expiry": "0"}, "InvalidParameterValue", "expiry"),
    ({"expiry": "999999"}, "InvalidParameterValue", "expiry"),
    ({"lockId": "nope"}, "InvalidLockId", "lockId"),
    ({"lockId": "f" * 80}, "InvalidLockId", "lockId"),
    ({"typeNames": "spp:nosuch"}, "InvalidParameterValue", "typeNames"),
])
def test_malformed_lock_requests(lock_server, params, code, locator):
    s = lock_server
    p = {"request": "LockFeature", "typeNames": f"spp:{LAYER}"}
    p.update(params)
    st, _, b = kvp(s, p)
    assert st == 400, b
    assert exception_code(b) == code, b
    assert f'locator="{locator}"'.encode() in b


def test_malformed_xml_and_missing_query(lock_server):
    s = lock_server
    h = {"Content-Type": "text/xml", "X-API-Key": s.keys["a"]}
    st, _, b = s.get("/wfs", headers=h, method="POST",
                     data=b'<LockFeature service="WFS" version="2.0.0"><Query')
    assert st == 400 and exception_code(b) == "OperationParsingFailed", b
    st, _, b = kvp(s, {"request": "LockFeature"})
    assert st == 400 and exception_code(b) == "MissingParameterValue", b
    st, _, b = tx(s, set_floors([1], 2), attrs='lockId="0123456789abcdef0123456789abcdef"')
    assert st == 400 and exception_code(b) == "InvalidLockId", b
    st, _, b = tx(s, set_floors([1], 2), attrs='releaseAction="NONE"')
    assert st == 400 and b"releaseAction" in b


def test_capabilities_advertise_locking(lock_server):
    _, _, b = lock_server.get("/wfs?service=WFS&version=2.0.0&request=GetCapabilities")
    assert b'<ows:Operation name="LockFeature">' in b
    assert b'<ows:Operation name="GetFeatureWithLock">' in b
    assert re.search(rb'ImplementsLockingWFS"><ows:NoValues/><ows:DefaultValue>TRUE', b)
    _, _, b = lock_server.get("/wfs?service=WFS&version=1.1.0&request=GetCapabilities")
    assert b'<ows:Operation name="LockFeature">' in b
    i = b.index(b"<Name>spp:zoning_blocks</Name>")
    assert b"<Operation>Lock</Operation>" in b[i:b.index(b"</FeatureType>", i)]
    i = b.index(b"<Name>spp:roads</Name>")
    assert b"<Operation>Lock</Operation>" not in b[i:b.index(b"</FeatureType>", i)]


def test_api_lists_the_part4_writes(lock_server):
    """/api describes the writes of edit.c for the collections with edit_roles (a structural
    check; tests/interop/test_openapi.py runs an OpenAPI validator over the same document)."""
    st, _, api = lock_server.json("/api")
    assert st == 200
    comp = api["components"]
    items = api["paths"]["/collections/{collectionId}/items"]
    item = api["paths"]["/collections/{collectionId}/items/{featureId}"]
    ops = {"post": items["post"], "put": item["put"], "patch": item["patch"],
           "delete": item["delete"]}
    editable = comp["parameters"]["editableCollectionId"]["schema"]["enum"]
    assert LAYER in editable and "roads" not in editable  # roads has no edit_roles
    assert comp["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header",
                                                 "name": "X-API-Key"}
    ids = [op["operationId"] for p in api["paths"].values() for op in p.values()]
    assert len(ids) == len(set(ids))

    def resolve(ref):
        node = api
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    for method, op in ops.items():
        assert op["security"] == [{"apiKey": []}, {"bearer": []}]
        params = [resolve(p["$ref"]) for p in op["parameters"]]
        names = {(p["in"], p["name"]) for p in params}
        assert ("path", "collectionId") in names
        codes = set(op["responses"])
        assert {"400", "401", "403", "404"} <= codes
        if method == "post":
            assert "201" in codes and "requestBody" in op
            continue
        assert ("path", "featureId") in names and ("header", "If-Match") in names
        assert {"204", "412", "423", "428"} <= codes
        assert ("requestBody" in op) == (method != "delete")
        for code in ("412", "423", "428"):
            schema = op["responses"][code]["content"]["application/problem+json"]["schema"]
            assert resolve(schema["$ref"])["type"] == "object"
    # every $ref in the document resolves
    refs = []

    def walk(n):
        if isinstance(n, dict):
            if "$ref" in n:
                refs.append(n["$ref"])
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)
    walk(api)
    for r in refs:
        resolve(r)


def test_xml_get_feature_with_lock_1_1(lock_server):
    s = lock_server
    f1, f2 = new_blocks(s, 2, "GX")
    doc = (f'<GetFeatureWithLock service="WFS" version="1.1.0" {NS["1.1.0"]} expiry="1" '
           f'lockAction="SOME"><Query typeName="spp:{LAYER}"><ogc:Filter><ogc:FeatureId '
           f'fid="{LAYER}.{f1}"/></ogc:Filter></Query></GetFeatureWithLock>')
    h = {"Content-Type": "text/xml", "X-API-Key": s.keys["a"]}
    st, hd, b = s.get("/wfs", headers=h, method="POST", data=doc.encode())
    assert st == 200, b
    assert b'xmlns:wfs="http://www.opengis.net/wfs"' in b and b'numberOfFeatures="1"' in b
    lid = lock_id(b)
    assert re.findall(rb'gml:id="zoning_blocks\.(\d+)"', b) == [str(f1).encode()]
    assert tx(s, set_floors([f1], 5), key="b")[0] == 409
    assert tx(s, set_floors([f2], 5), key="b")[0] == 200
    st, _, b = tx(s, f"<LockId>{lid}</LockId>" + set_floors([f1], 6, "1.1.0"), v="1.1.0")
    assert st == 200, b


def test_store_made_before_the_lock_tables(workdir):
    """A store whose schema has no lock tables yet (made by an older spp): edits work, and the
    first LockFeature makes the tables."""
    db = os.path.join(workdir, "oldlock.sqlite")
    for suffix in ("", "-wal", "-shm", ".tiles"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    run_spp("init", "--db", db)
    con = spatialite(db)
    con.execute("DROP TABLE spp_locks")
    con.execute("DROP TABLE spp_lock_ids")
    con.commit()
    con.close()
    s = Server(db, workdir)
    try:
        s.keys = {"a": run_spp("keys", "--db", db, "add", "--role", "editor", "--name",
                               "old a").stdout.split()[0]}
        s.next_x = 586000
        (f1,) = new_blocks(s, 1, "OLD")
        assert tx(s, set_floors([f1], 2))[0] == 200
        st, _, b = lock(s, [f1], expiry="60")
        assert st == 200 and rids(b, "FeaturesLocked") == [f1], b
    finally:
        s.stop()
