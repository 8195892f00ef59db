# SPDX-License-Identifier: MIT
"""MapLibre GL JS, Leaflet and OpenLayers in Debian's chromium (playwright-core, browsers.mjs)
loading spp's raster and vector tiles over a view that holds the data and empty tiles around
it: no console error, no tile error reported by the library, no failed request, every tile
answered 200 (or 304), and the parcels drawn where spp's own WMS draws them."""
import json
import math
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, decode_image, ogr_extent, to_wgs84

NODE = shutil.which("node")


@pytest.fixture(scope="module")
def pages(spp, source, workdir):
    if not NODE or not os.path.exists(os.path.join(ROOT, "node_modules", "leaflet")):
        pytest.skip("node or the npm packages are not installed (make npm-deps)")
    minx, miny, maxx, maxy = ogr_extent(source, "cadastral_parcels")
    # the view is centred on the parcels' south-west corner: the parcels fill its north-east
    # quarter and the tiles south and west of them are empty
    lon, lat = to_wgs84(minx + 100, miny + 100)
    zoom = 16  # 900 x 600 px at z16 is about 2 x 1.4 km
    out = os.path.join(workdir, "browsers")
    p = subprocess.run([NODE, os.path.join(ROOT, "tests", "interop", "browsers.mjs"),
                        "--base", spp.base, "--out", out, "--view", f"{lon},{lat},{zoom}"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr
    res = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            res[(r["lib"], r["kind"])] = r
    return res, (lon, lat, zoom)


@pytest.mark.parametrize("lib,kind", [("maplibre", "raster"), ("maplibre", "vector"),
                                      ("maplibre", "mvt"),
                                      ("leaflet", "raster"), ("leaflet", "wms"),
                                      ("ol", "raster"), ("ol", "vector")])
def test_web_map_loads_spp_tiles(pages, spp, lib, kind):
    res, (lon, lat, zoom) = pages
    r = res[(lib, kind)]
    assert "fatal" not in r, r.get("fatal")
    assert r["errors"] == [], r["errors"]
    assert r["libErrors"] == [], r["libErrors"]
    assert r["loaded"] > 0
    assert set(r["tiles"]) <= {"200", "304"}, r["tiles"]
    # the data and the empty tiles around it (MapLibre asks 512 px tiles: fewer of them)
    assert sum(r["tiles"].values()) >= (3 if lib == "maplibre" else 6)
    if kind == "mvt" or (lib, kind) == ("ol", "vector"):  # spp's style has bounds: no empties
        assert r["emptyMvt"] > 0, "no empty vector tile in the view"

    # drawn: the screenshot has the parcels' colours where spp's WMS draws them
    with open(r["shot"], "rb") as f:
        shot = decode_image(f.read())
    drawn = (shot[:3] < 245).any(axis=0)  # page background is white
    res = 156543.03392804097 / 2 ** zoom  # EPSG:3857 m per px (256 px tiles at this zoom)
    rx = 6378137 * math.radians(lon)
    ry = 6378137 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    status, _, body = spp.get(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels&STYLES="
        f"&CRS=EPSG:3857&BBOX={rx - 450 * res},{ry - 300 * res},{rx + 450 * res},"
        f"{ry + 300 * res}&WIDTH=900&HEIGHT=600&FORMAT=image/png&TRANSPARENT=TRUE")
    assert status == 200
    want = decode_image(body)[3] > 0
    inter = (drawn & want).sum() / max(1, want.sum())
    assert want.sum() > 1000 and inter > 0.8, f"{lib} {kind}: {inter:.2f} of the parcels drawn"
