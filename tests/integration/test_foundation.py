# SPDX-License-Identifier: MIT
"""Foundation: CLI contract, store vs catalog, the HTTP skeleton (OGC API landing, conformance,
collections from the catalog with real extents), errors, keys, metrics."""
import os
import subprocess

from osgeo import ogr, osr

from conftest import SPP, ROOT, run_spp, spatialite, Server


def test_help_and_usage_errors():
    p = run_spp("--help")
    assert "serve" in p.stdout and "check" in p.stdout
    for cmd in ("serve", "init", "check", "keys"):
        p = run_spp(cmd, "--help")
        assert p.returncode == 0 and f"usage: spp {cmd}" in p.stdout
    p = run_spp("serve", check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--db" in p.stderr
    p = run_spp("check", "--db", "x", "--frobnicate", check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--frobnicate" in p.stderr
    p = run_spp("nonsense", check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1


def test_check_matches_catalog(store):
    p = run_spp("check", "--db", store)
    assert "matches the catalog (24 layers)" in p.stdout


def test_check_reports_mismatch(workdir):
    path = os.path.join(workdir, "broken.sqlite")
    run_spp("init", "--db", path)
    con = spatialite(path)
    con.execute("DROP TABLE hydro_lines")
    con.commit()
    con.close()
    p = run_spp("check", "--db", path, check=False)
    assert p.returncode == 1 and "hydro_lines: table missing" in p.stdout


def test_check_missing_file_is_one_line(workdir):
    p = run_spp("check", "--db", os.path.join(workdir, "nope", "x.sqlite"), check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1


def test_collections_list_all_24(server, catalog):
    status, hdrs, body = server.json("/collections")
    assert status == 200 and hdrs["Content-Type"].startswith("application/json")
    ids = [c["id"] for c in body["collections"]]
    public = sorted(k for k, v in catalog.items() if v["min_role"] == "public")
    assert sorted(ids) == public
    for c in body["collections"]:
        assert c["titles"]["vi"] == catalog[c["id"]]["title"]["vi"]
        assert c["titles"]["en"] == catalog[c["id"]]["title"]["en"]


def test_collection_extent_uses_official_transformation(server, store):
    status, _, c = server.json("/collections/roads")
    assert status == 200 and c["itemCount"] == 3
    # independent computation: OGR reads the store, PROJ transforms with the EPSG:6960 pipeline
    ds = ogr.Open(store)
    minx, maxx, miny, maxy = ds.GetLayerByName("roads").GetExtent()
    src = osr.SpatialReference()
    src.SetFromUserInput("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 "
                         "+ellps=WGS84 +towgs84=-191.90441429,-39.30318279,-111.45032835,"
                         "0.00928836,-0.01975479,0.00427372,0.252906278 +units=m +no_defs")
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    box = ogr.CreateGeometryFromWkt(f"POLYGON(({minx} {miny},{maxx} {miny},{maxx} {maxy},"
                                    f"{minx} {maxy},{minx} {miny}))")
    box.Segmentize((maxx - minx) / 50)
    box.Transform(osr.CoordinateTransformation(src, dst))
    want = box.GetEnvelope()  # minx, maxx, miny, maxy
    got = c["extent"]["spatial"]["bbox"][0]
    # 1e-6 degree is about 0.1 m; PROJ's default operation (EPSG:5194) would be 0.8 m off
    assert abs(got[0] - want[0]) < 1e-6 and abs(got[2] - want[1]) < 1e-6
    assert abs(got[1] - want[2]) < 1e-6 and abs(got[3] - want[3]) < 1e-6


def test_landing_and_conformance(server):
    status, hdrs, body = server.json("/")
    assert status == 200
    rels = {l["rel"] for l in body["links"]}
    assert {"self", "conformance", "data", "service-desc"} <= rels
    status, _, body = server.json("/conformance")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in body["conformsTo"]
    status, hdrs, body = server.get("/", headers={"Accept": "text/html"})
    assert status == 200 and hdrs["Content-Type"].startswith("text/html")


def test_errors_are_problem_json(server):
    status, hdrs, body = server.json("/no/such/path")
    assert status == 404 and hdrs["Content-Type"] == "application/problem+json"
    assert body["status"] == 404
    status, _, body = server.json("/collections/no_such_layer")
    assert status == 404 and "no_such_layer" in body["detail"]
    status, hdrs, _ = server.get("/collections", method="DELETE")
    assert status == 405 and "GET" in hdrs["Allow"]
    status, _, _ = server.get("/collections", method="POST", data=b"x")
    assert status == 405


def test_api_keys(server, store):
    p = run_spp("keys", "--db", store, "add", "--role", "planner", "--name", "qgis")
    key = p.stdout.strip()
    assert key.startswith("spp_")
    status, _, _ = server.get("/collections", headers={"X-API-Key": key})
    assert status == 200
    status, _, _ = server.get("/collections", headers={"Authorization": "Bearer " + key})
    assert status == 200
    status, hdrs, _ = server.get("/collections", headers={"X-API-Key": "spp_wrong"})
    assert status == 401
    kid = [l.split("\t")[0] for l in run_spp("keys", "--db", store, "list").stdout.splitlines()
           if l.endswith("qgis")][0]
    run_spp("keys", "--db", store, "revoke", kid)
    status, _, _ = server.get("/collections", headers={"X-API-Key": key})
    assert status == 401
    assert run_spp("keys", "--db", store, "add", "--role", "wizard", check=False).returncode == 2
    assert run_spp("keys", "--db", store, "revoke", "99999", check=False).returncode == 1


def test_metrics_and_health(server):
    server.get("/collections")
    status, _, body = server.get("/metrics")
    text = body.decode()
    assert status == 200 and 'spp_requests_total{route="collections",status="2xx"}' in text
    assert "spp_request_duration_seconds_bucket" in text
    status, _, body = server.get("/healthz")
    assert status == 200 and body == b"ok\n"


def test_graceful_shutdown(store, workdir):
    s = Server(store, workdir)
    s.proc.terminate()
    assert s.proc.wait(timeout=10) == 0
    s.log.close()
