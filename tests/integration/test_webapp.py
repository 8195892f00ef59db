# SPDX-License-Identifier: MIT
"""Web map serving (issue 8): / for browsers vs OGC API clients, static files (safe names, ETag,
gzip), the page's catalog (role-filtered), and SDF label glyphs: decoded here with a protobuf
reader written from glyphs.proto (not spp's encoder) and compared with the font's coverage as
fontconfig (fc-query) reports it, so every Vietnamese letter is there."""
import gzip
import json
import subprocess

import pytest

from conftest import run_spp

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
VIETNAMESE = ("àáâãèéêìíòóôõùúýĂăĐđĨĩŨũƠơƯưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
              "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸ")


def varint(b, i):
    shift = v = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field number, wire type, value) of a protobuf message; bytes for length-delimited."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise AssertionError(f"unexpected wire type {wt}")
        yield num, wt, v


def zigzag(v):
    return (v >> 1) ^ -(v & 1)


def decode_glyphs(data):
    stacks = []
    for num, _, stack in fields(data):
        assert num == 1
        s = {"glyphs": []}
        for n, _, v in fields(stack):
            if n == 1:
                s["name"] = v.decode()
            elif n == 2:
                s["range"] = v.decode()
            elif n == 3:
                g = {"width": 0, "height": 0, "bitmap": b""}
                for gn, _, gv in fields(v):
                    g[{1: "id", 2: "bitmap", 3: "width", 4: "height", 5: "left", 6: "top",
                       7: "advance"}[gn]] = zigzag(gv) if gn in (5, 6) else gv
                s["glyphs"].append(g)
        stacks.append(s)
    return stacks


def coverage():
    out = subprocess.run(["fc-query", "--format=%{charset}", FONT], capture_output=True,
                         text=True, check=True).stdout
    cps = set()
    for part in out.split():
        a, _, b = part.partition("-")
        cps.update(range(int(a, 16), int(b or a, 16) + 1))
    return cps


def test_root_is_the_map_for_browsers(server):
    status, hdrs, body = server.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert status == 200 and hdrs["Content-Type"].startswith("text/html")
    assert b'<div id="map"' in body and b"/web/app.js" in body
    status, hdrs, body = server.get("/", headers={"Accept": "application/json"})
    assert status == 200 and json.loads(body)["links"]
    status, hdrs, body = server.get("/")  # no Accept: a JSON client such as QGIS
    assert status == 200 and hdrs["Content-Type"] == "application/json"
    status, hdrs, body = server.get("/?f=html", headers={"Accept": "text/html"})
    assert status == 200 and b"collections?f=html" in body and b'href="map"' in body
    status, hdrs, body = server.get("/?f=json", headers={"Accept": "text/html"})
    assert status == 200 and json.loads(body)["links"]
    status, _, body = server.get("/map")
    assert status == 200 and b"/web/app.js" in body


def test_static_files(server):
    status, hdrs, raw = server.get("/web/app.js")
    assert status == 200 and hdrs["Content-Type"].startswith("text/javascript")
    assert hdrs["Cache-Control"] == "no-cache" and hdrs["ETag"]
    status, hdrs, gz = server.get("/web/app.js", headers={"Accept-Encoding": "gzip"})
    assert hdrs["Content-Encoding"] == "gzip" and gzip.decompress(gz) == raw
    assert "Accept-Encoding" in hdrs["Vary"] and hdrs["ETag"].endswith('-gz"')
    status, hdrs2, body = server.get("/web/app.js", headers={"If-None-Match": hdrs["ETag"],
                                                             "Accept-Encoding": "gzip"})
    assert status == 304 and body == b""
    status, _, _ = server.get("/web/app.js", headers={"If-None-Match": '"other"'})
    assert status == 200
    status, hdrs, css = server.get("/web/vendor/maplibre-gl.css")
    if status == 404:
        pytest.skip("node_modules not installed (npm ci)")
    assert hdrs["Content-Type"].startswith("text/css") and b".maplibregl-map" in css
    status, _, _ = server.get("/web/vendor/maplibre-gl-worker.mjs")
    assert status == 200


@pytest.mark.parametrize("path", [
    "/web/..%2f..%2fMakefile", "/web/%2e%2e%2fMakefile", "/web/.gitignore", "/web/app.c",
    "/web/vendor/..%2f..%2fpackage.json", "/web/vendor/..%2fpackage.json", "/web/nope.js",
    "/web/a%00.js", "/web/vendor/.bin", "/web/" + "a" * 300 + ".js", "/web/vendor/%2fetc%2fpasswd",
])
def test_static_paths_cannot_escape(server, path):
    status, _, body = server.get(path)
    assert status == 404, path
    assert b"root:" not in body and b"spp" not in body[:5]


def test_catalog_for_the_page(server, store):
    status, _, body = server.get("/web/catalog.json")
    assert status == 200
    cat = json.loads(body)
    assert cat["groups"] == ["land", "transport", "construction", "planning"]
    parcels = [l for l in cat["layers"] if l["id"] == "cadastral_parcels"][0]
    names = [f["name"] for f in parcels["fields"]]
    assert "parcel_key" in names and "owner_name" not in names  # restricted to planners
    assert parcels["title"] == {"vi": "Thửa đất", "en": "Cadastral parcels"}
    lu = cat["codelists"]["land_use"]["codes"]
    assert any(c["code"] == "ODT" and c["color"].startswith("#") for c in lu)
    key = run_spp("keys", "--db", store, "add", "--role", "planner").stdout.strip()
    status, _, body = server.get("/web/catalog.json", headers={"X-API-Key": key})
    parcels = [l for l in json.loads(body)["layers"] if l["id"] == "cadastral_parcels"][0]
    assert "owner_name" in [f["name"] for f in parcels["fields"]]


@pytest.mark.parametrize("start", [0, 256, 7680])
def test_glyph_ranges_cover_vietnamese(server, start):
    status, hdrs, body = server.get(f"/fonts/DejaVu%20Sans%20Book/{start}-{start + 255}.pbf")
    assert status == 200 and hdrs["Content-Type"] == "application/x-protobuf"
    [stack] = decode_glyphs(body)
    assert stack["range"] == f"{start}-{start + 255}" and stack["name"] == "DejaVu Sans Book"
    ids = [g["id"] for g in stack["glyphs"]]
    assert ids == sorted(c for c in coverage() if start <= c <= start + 255)
    for g in stack["glyphs"]:
        if g["width"]:
            assert len(g["bitmap"]) == (g["width"] + 6) * (g["height"] + 6)
            assert max(g["bitmap"]) > 191  # inside the outline: above the 0.75 edge of the SDF
    by_id = {g["id"]: g for g in stack["glyphs"]}
    for ch in VIETNAMESE:
        if start <= ord(ch) <= start + 255:
            assert by_id[ord(ch)]["width"] > 0, ch
    status, hdrs, gz = server.get(f"/fonts/DejaVu%20Sans%20Book/{start}-{start + 255}.pbf",
                                  headers={"Accept-Encoding": "gzip"})
    assert hdrs["Content-Encoding"] == "gzip" and gzip.decompress(gz) == body


def test_glyph_metrics_follow_fontnik(server):
    """The SDF convention MapLibre expects: 24 px em, a 3 px buffer, top = bbox top - ascender
    (DejaVu Sans: 2048 units/em, ascender 1901, 'H' 1493 high and 1540 wide; at 24 px FreeType
    rounds the ascender up to 23 px). An 'H' is two stems: its SDF is bright in the stems and dark
    in the buffer."""
    _, _, body = server.get("/fonts/DejaVu%20Sans%20Book/0-255.pbf")
    g = {x["id"]: x for x in decode_glyphs(body)[0]["glyphs"]}
    h = g[ord("H")]
    ascender = -(-1901 * 24 // 2048)
    assert abs(h["height"] - 1493 * 24 / 2048) <= 1 and h["top"] == h["height"] - ascender
    assert h["advance"] == 1540 * 24 // 2048 and g[ord(" ")]["top"] == -ascender
    w = h["width"] + 6
    rows = [h["bitmap"][i * w:(i + 1) * w] for i in range(h["height"] + 6)]
    # The outline is at 255 - 0.25 * 256 = 191: outside below, inside above.
    assert rows[0][0] < 100 and rows[-1][-1] < 100  # buffer corners
    upper = rows[3 + h["height"] // 4]  # above the crossbar: stem, gap, stem
    assert upper[3 + 1] > 191 and upper[3 + h["width"] - 2] > 191
    assert upper[3 + h["width"] // 2] < 191
    assert g[ord(" ")]["width"] == 0 and g[ord(" ")]["advance"] > 0


def test_glyph_errors(server):
    for path, code in [("/fonts/x/0-256.pbf", 400), ("/fonts/x/100-355.pbf", 400),
                       ("/fonts/x/65536-65791.pbf", 400), ("/fonts/x/-256-0.pbf", 400),
                       ("/fonts/x/abc.pbf", 400), ("/fonts/" + "a" * 300 + "/0-255.pbf", 400)]:
        status, hdrs, body = server.get(path)
        assert status == code, path
        assert hdrs["Content-Type"] == "application/problem+json"
    # An unknown font falls back to DejaVu Sans (Bold when asked) rather than leaving no labels.
    _, _, regular = server.get("/fonts/Open%20Sans%20Regular/0-255.pbf")
    _, _, bold = server.get("/fonts/Open%20Sans%20Bold/0-255.pbf")
    assert decode_glyphs(regular)[0]["name"] == "DejaVu Sans Book"
    assert decode_glyphs(bold)[0]["name"] == "DejaVu Sans Bold"
