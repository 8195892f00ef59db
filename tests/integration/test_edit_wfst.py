# SPDX-License-Identifier: MIT
"""Issue 20: WFS-T Transaction (1.1.0 and 2.0.0) as XML POSTs: Insert, Update (property values,
a moved geometry), Delete with FES filters, all-or-nothing transactions, refusals as OWS
exceptions naming the field, permissions, capabilities that advertise Transaction. Read back
through OWSLib. QGIS's own requests are in tests/interop/test_qgis_edit.py."""
import json
import os
import re

import pytest

from conftest import Server, run_spp

LAYER = "zoning_blocks"
NS = {"1.1.0": ('xmlns="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc"'
                ' xmlns:gml="http://www.opengis.net/gml"'),
      "2.0.0": ('xmlns="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0"'
                ' xmlns:gml="http://www.opengis.net/gml/3.2"')}


@pytest.fixture(scope="module")
def tx_server(workdir):
    db = os.path.join(workdir, "wfst.sqlite")
    for suffix in ("", "-wal", "-shm", ".tiles"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    run_spp("init", "--db", db)
    s = Server(db, workdir)
    s.db = db
    s.editor = run_spp("keys", "--db", db, "add", "--role", "editor", "--name",
                       "wfs editor").stdout.split()[0]
    s.planner = run_spp("keys", "--db", db, "add", "--role", "planner", "--name",
                        "wfs planner").stdout.split()[0]
    yield s
    s.stop()


def poly(x, y, d=100, v="1.1.0"):
    pts = f"{x} {y} {x + d} {y} {x + d} {y + d} {x} {y + d} {x} {y}"
    return (f'<gml:Polygon srsName="urn:ogc:def:crs:EPSG::5897"><gml:exterior><gml:LinearRing>'
            f'<gml:posList>{pts}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>')


def insert(code, x, y, v="1.1.0", extra=""):
    return (f'<Insert><spp:{LAYER} xmlns:spp="http://spp.cantho.gov.vn/spp">'
            f'<spp:block_code>{code}</spp:block_code>{extra}<spp:geom>{poly(x, y, v=v)}</spp:geom>'
            f'</spp:{LAYER}></Insert>')


def by_id(fid, v):
    if v == "2.0.0":
        return f'<fes:Filter><fes:ResourceId rid="{LAYER}.{fid}"/></fes:Filter>'
    return f'<ogc:Filter><ogc:FeatureId fid="{LAYER}.{fid}"/></ogc:Filter>'


def prop(name, value, v):
    n = "ValueReference" if v == "2.0.0" else "Name"
    return f"<Property><{n}>{name}</{n}><Value>{value}</Value></Property>"


def tx(s, body, v="1.1.0", key="editor"):
    doc = f'<Transaction service="WFS" version="{v}" {NS[v]}>{body}</Transaction>'
    h = {"Content-Type": "text/xml"}
    if key:
        h["X-API-Key"] = getattr(s, key)
    return s.get("/wfs", headers=h, method="POST", data=doc.encode())


def inserted_ids(body):
    return [int(m) for m in re.findall(rf'(?:fid|rid)="{LAYER}\.(\d+)"', body.decode())]


def rows(s):
    from owslib.wfs import WebFeatureService
    wfs = WebFeatureService(s.base + "/wfs", version="2.0.0")
    r = wfs.getfeature(typename=[f"spp:{LAYER}"], outputFormat="application/json")
    return {int(f["id"].rsplit(".", 1)[1]): f for f in json.loads(r.read())["features"]}


@pytest.mark.parametrize("v", ["1.1.0", "2.0.0"])
def test_insert_update_delete(tx_server, v):
    s = tx_server
    x = 586000 if v == "1.1.0" else 588000
    st, _, b = tx(s, insert(f"A-{v}", x, 1109600, v) + insert(f"B-{v}", x + 300, 1109600, v), v)
    assert st == 200, b
    assert b"<wfs:totalInserted>2</wfs:totalInserted>" in b
    a, bb = inserted_ids(b)
    got = rows(s)
    assert got[a]["properties"]["block_code"] == f"A-{v}"
    assert got[a]["properties"]["area_m2"] == pytest.approx(10000, rel=1e-3)
    # update a property and move the geometry, delete the other one, in one transaction
    body = (f"<Update typeName=\"spp:{LAYER}\">{prop('spp:population', '1200', v)}"
            f"{prop('geom', poly(x + 10, 1109610, 50, v), v)}{by_id(a, v)}</Update>"
            f"<Delete typeName=\"spp:{LAYER}\">{by_id(bb, v)}</Delete>")
    st, _, b = tx(s, body, v)
    assert st == 200, b
    assert b"<wfs:totalUpdated>1</wfs:totalUpdated>" in b
    assert b"<wfs:totalDeleted>1</wfs:totalDeleted>" in b
    got = rows(s)
    assert bb not in got
    assert got[a]["properties"]["population"] == 1200
    assert got[a]["properties"]["area_m2"] == pytest.approx(2500, rel=1e-3)


def test_update_by_attribute_filter(tx_server):
    s = tx_server
    st, _, b = tx(s, insert("F-1", 590000, 1109600) + insert("F-2", 590300, 1109600))
    assert st == 200, b
    flt = ('<ogc:Filter><ogc:PropertyIsLike wildCard="*" singleChar="." escapeChar="!">'
           '<ogc:PropertyName>block_code</ogc:PropertyName><ogc:Literal>F-*</ogc:Literal>'
           '</ogc:PropertyIsLike></ogc:Filter>')
    st, _, b = tx(s, f'<Update typeName="spp:{LAYER}">{prop("max_floors", "9", "1.1.0")}{flt}'
                     f'</Update>')
    assert st == 200 and b"<wfs:totalUpdated>2</wfs:totalUpdated>" in b, b
    got = [f for f in rows(s).values() if f["properties"]["block_code"].startswith("F-")]
    assert len(got) == 2 and all(f["properties"]["max_floors"] == 9 for f in got)


def test_all_or_nothing_and_field_named(tx_server):
    s = tx_server
    before = rows(s)
    bad = insert("OK-1", 591000, 1109600) + insert("BAD-1", 591300, 1109600,
                                                   extra="<spp:population>many</spp:population>")
    st, _, b = tx(s, bad)
    assert st == 400, b
    assert b"population" in b and b"ExceptionReport" in b
    assert rows(s) == before  # the good insert was rolled back too


def test_invalid_geometry_refused(tx_server):
    s = tx_server
    point = (f'<Insert><spp:{LAYER} xmlns:spp="http://spp.cantho.gov.vn/spp"><spp:block_code>P'
             f'</spp:block_code><spp:geom><gml:Point srsName="urn:ogc:def:crs:EPSG::5897">'
             f'<gml:pos>586000 1109600</gml:pos></gml:Point></spp:geom></spp:{LAYER}></Insert>')
    st, _, b = tx(s, point)
    assert st == 400 and b'locator="geometry"' in b, b


def test_refusals(tx_server):
    s = tx_server
    st, _, b = tx(s, insert("X", 592000, 1109600), key=None)
    assert st == 401 and b"ExceptionReport" in b
    st, _, b = tx(s, insert("X", 592000, 1109600), key="planner")
    assert st == 403 and b"may not edit" in b
    roads = ('<Insert><spp:roads xmlns:spp="http://spp.cantho.gov.vn/spp"><spp:geom>'
             '<gml:LineString srsName="urn:ogc:def:crs:EPSG::5897"><gml:posList>586000 1109600'
             ' 586100 1109600</gml:posList></gml:LineString></spp:geom></spp:roads></Insert>')
    assert tx(s, roads)[0] == 403
    st, _, b = tx(s, f'<Delete typeName="spp:{LAYER}"/>')
    assert st == 400 and b"Filter" in b  # never "delete everything"


def test_capabilities_advertise_transaction(tx_server):
    _, _, b = tx_server.get("/wfs?service=WFS&version=2.0.0&request=GetCapabilities")
    assert b'<ows:Operation name="Transaction">' in b
    assert re.search(rb'ImplementsTransactionalWFS"><ows:NoValues/><ows:DefaultValue>TRUE', b)
    _, _, b = tx_server.get("/wfs?service=WFS&version=1.1.0&request=GetCapabilities")
    i = b.index(b"<Name>spp:zoning_blocks</Name>")
    assert b"<Operation>Insert</Operation>" in b[i:b.index(b"</FeatureType>", i)]
    i = b.index(b"<Name>spp:roads</Name>")
    assert b"<Operation>Insert</Operation>" not in b[i:b.index(b"</FeatureType>", i)]
