# SPDX-License-Identifier: MIT
"""The tile cache file on disk (issue 18): it keeps at most `tile_cache_max_mb` of tiles, evicting
the least recently used ones (and giving their pages back), and a disk that fills up costs the
cache, never the answer: tiles are served uncached and the failure is logged once a minute."""
import json
import math
import os
import shutil
import sqlite3
import subprocess

import pytest
from osgeo import gdal

from conftest import Server

gdal.UseExceptions()
LAYERS = "cadastral_parcels,roads,buildings"


def tiles_over(server, z, n):
    """n distinct z tiles over the parcels' extent (the extent comes from the server)."""
    status, _, c = server.json("/collections/cadastral_parcels")
    assert status == 200
    w, s, e, nn = c["extent"]["spatial"]["bbox"][0]

    def tx(lon):
        return int((lon + 180) / 360 * 2 ** z)

    def ty(lat):
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)

    out = [(x, y) for y in range(ty(nn), ty(s) + 1) for x in range(tx(w), tx(e) + 1)]
    assert len(out) >= n, (len(out), n)
    return out[:n]


def png_ok(body, size=256):
    gdal.FileFromMemBuffer("/vsimem/tc.png", body)
    ds = gdal.Open("/vsimem/tc.png")
    ok = ds.RasterXSize == size and ds.RasterYSize == size
    ds = None
    gdal.Unlink("/vsimem/tc.png")
    return ok


def metric(server, name):
    status, _, body = server.get("/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing from /metrics")


def test_cache_file_is_capped_lru(demo, tmp_path):
    db = str(tmp_path / "cap.sqlite")
    shutil.copy(demo["db"], db)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"tile_cache_max_mb": 1}))
    s = Server(db, str(tmp_path), config=str(cfg))
    written = 0
    try:
        assert metric(s, "spp_tile_cache_disk_limit_bytes") == 1 << 20
        tiles = tiles_over(s, 18, 400)
        done = []
        for x, y in tiles:
            status, _, body = s.get(f"/tiles/{LAYERS}/18/{x}/{y}@2x.png")
            assert status == 200 and png_ok(body, 512)
            done.append((x, y))
            written += len(body)
            if written > 3 << 20:
                break
        assert written > 2 << 20, "the test needs more tile bytes than the cap"
        evicted = metric(s, "spp_tile_cache_disk_evictions_total")
        kept = metric(s, "spp_tile_cache_disk_bytes")
        assert evicted > 0 and 0 < kept <= 1 << 20
    finally:
        s.stop()
    con = sqlite3.connect(db + ".tiles")
    total, n = con.execute("SELECT coalesce(sum(length(data)), 0), count(*) FROM spp_tiles").fetchone()
    keys = [k for (k,) in con.execute("SELECT key FROM spp_tiles")]
    con.close()
    assert 0 < total <= 1 << 20 and n > 0
    # least recently used first: the first tile is gone, the last one written is kept
    assert not any(f"|18/{done[0][0]}/{done[0][1]}|" in k for k in keys)
    assert any(f"|18/{done[-1][0]}/{done[-1][1]}|" in k for k in keys)
    # the file gives evicted pages back: it stays near its cap, not the bytes ever written
    assert os.path.getsize(db + ".tiles") < 2 * (1 << 20) + (256 << 10)


def test_disk_full_serves_uncached(demo, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    size = os.path.getsize(demo["db"]) + (384 << 10)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
    try:
        db = str(mnt / "s.sqlite")
        shutil.copy(demo["db"], db)
        s = Server(db, str(tmp_path))
        try:
            tiles = tiles_over(s, 18, 80)
            for x, y in tiles:
                for fmt in ("png", "mvt"):
                    status, _, body = s.get(f"/tiles/{LAYERS}/18/{x}/{y}.{fmt}")
                    assert status == 200, (x, y, fmt, status, body[:200])
                    if fmt == "png":
                        assert png_ok(body)
            errors = metric(s, "spp_tile_cache_write_errors_total")
            status, _, _ = s.get("/healthz")
            assert status == 200
        finally:
            s.stop()
        log = open(s.log.name, encoding="utf-8", errors="replace").read()
        assert errors > 0, "the disk never filled: the test proves nothing"
        assert log.count("tile cache: cannot write") == 1, log[-2000:]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_written_behind_and_served_from_disk_after_restart(demo, tmp_path, monkeypatch):
    """Tiles go to the file on a writer thread (write-behind): a tile made is a hit at once (the
    memory LRU), and a server stopped right after its last answer still leaves every tile in the
    file, so after a restart they are all answered from disk, the same bytes, nothing made. The
    test build's SPP_TEST_TILE_WRITER_MS makes the writer slow, so tiles are still queued at the
    stop (the shutdown path must write them)."""
    db = str(tmp_path / "wb.sqlite")
    shutil.copy(demo["db"], db)
    monkeypatch.setenv("SPP_TEST_TILE_WRITER_MS", "300")
    s = Server(db, str(tmp_path))
    monkeypatch.delenv("SPP_TEST_TILE_WRITER_MS")
    made = {}
    try:
        tiles = tiles_over(s, 18, 12)

        def make(x, y, ext):
            path = f"/tiles/{LAYERS}/18/{x}/{y}.{ext}"
            status, hdrs, body = s.get(path)
            assert status == 200
            made[path] = (body, hdrs["ETag"])
            return path

        path = make(*tiles[0], "mvt")
        status, hdrs, body = s.get(path)  # at once: from memory, the writer is still waiting
        assert status == 200 and (body, hdrs["ETag"]) == made[path]
        assert metric(s, 'spp_tile_cache_hits_total{layer="roads",format="mvt"}') == 1
        assert metric(s, 'spp_tile_cache_misses_total{layer="roads",format="mvt"}') == 1
        for x, y in tiles:
            for ext in ("png", "mvt"):
                make(x, y, ext)
    finally:
        s.stop()  # SIGTERM right after the answers: the shutdown path writes the queue
    log = open(s.log.name, encoding="utf-8", errors="replace").read()
    assert "cannot write" not in log and "writes are behind" not in log, log[-2000:]
    con = sqlite3.connect(db + ".tiles")
    rows = {(z, x, y, fmt) for z, x, y, fmt in con.execute("SELECT z, x, y, fmt FROM spp_tiles")}
    con.close()
    for x, y in tiles:
        assert (18, x, y, "png") in rows and (18, x, y, "mvt") in rows, (x, y)
    s = Server(db, str(tmp_path))
    try:
        for path, (body, etag) in made.items():
            status, hdrs, got = s.get(path)
            assert status == 200 and got == body and hdrs["ETag"] == etag, path
        for fmt in ("png", "mvt"):
            assert metric(s, f'spp_tile_cache_misses_total{{layer="roads",format="{fmt}"}}') == 0
            assert metric(s, f'spp_tile_cache_hits_total{{layer="roads",format="{fmt}"}}') == 12
        assert metric(s, "spp_tile_cache_write_skipped_total") == 0
    finally:
        s.stop()


def test_lookups_never_wait_for_the_writers_batch(demo, tmp_path, monkeypatch):
    """A miss looks the file up on a connection of its own: while the writer thread holds the
    file for a batch (the test build's SPP_TEST_TILE_WRITE_HOLD_MS: 4 s), tiles on disk are
    still read from it (the same bytes, counted as hits) and tiles nowhere are made, at once."""
    import time
    db = str(tmp_path / "rd.sqlite")
    shutil.copy(demo["db"], db)
    s = Server(db, str(tmp_path))
    made = {}
    try:
        tiles = tiles_over(s, 18, 6)
        for x, y in tiles[:4]:
            path = f"/tiles/{LAYERS}/18/{x}/{y}.mvt"
            status, hdrs, body = s.get(path)
            assert status == 200 and body
            made[path] = (body, hdrs["ETag"])
    finally:
        s.stop()  # every tile in the file; the next server starts with an empty memory front
    monkeypatch.setenv("SPP_TEST_TILE_WRITE_HOLD_MS", "4000")
    s = Server(db, str(tmp_path))
    monkeypatch.delenv("SPP_TEST_TILE_WRITE_HOLD_MS")
    try:
        x, y = tiles[4]
        assert s.get(f"/tiles/{LAYERS}/18/{x}/{y}.mvt")[0] == 200  # queued: the writer holds
        time.sleep(0.3)
        t0 = time.monotonic()
        for path, (body, etag) in made.items():
            status, hdrs, got = s.get(path)
            assert status == 200 and got == body and hdrs["ETag"] == etag, path
        x, y = tiles[5]
        assert s.get(f"/tiles/{LAYERS}/18/{x}/{y}.mvt")[0] == 200
        took = time.monotonic() - t0
        assert took < 2.0, f"the lookups waited for the writer: {took:.2f} s"
        assert metric(s, 'spp_tile_cache_hits_total{layer="roads",format="mvt"}') == 4
        assert metric(s, 'spp_tile_cache_misses_total{layer="roads",format="mvt"}') == 2
    finally:
        s.stop()


def test_queued_tile_of_an_older_generation_is_not_written(tmp_path, monkeypatch):
    """A tile still queued for the writer when an edit's change is processed is dropped, not
    written after the sync's drop: after a restart the edited tile is made again (never the
    bytes from before the edit). The slow writer keeps the tile queued across the edit."""
    from conftest import run_spp
    from test_edit_ogcapi import LAYER, feature, square, tile_of
    db = str(tmp_path / "gen.sqlite")
    run_spp("init", "--db", db)
    key = run_spp("keys", "--db", db, "add", "--role", "editor", "--name", "e").stdout.split()[0]
    h = {"Content-Type": "application/geo+json", "X-API-Key": key}
    items = f"/collections/{LAYER}/items"
    monkeypatch.setenv("SPP_TEST_TILE_WRITER_MS", "1500")
    s = Server(db, str(tmp_path))
    monkeypatch.delenv("SPP_TEST_TILE_WRITER_MS")
    try:
        st, hd, b = s.get(items, headers=h, method="POST",
                          data=json.dumps(feature(geom=square(105.81, 10.06, 0.001))).encode())
        assert st == 201, b
        fid, etag = int(hd["Location"].rsplit("/", 1)[1]), hd["ETag"]
        z, x, y = tile_of(105.8105, 10.0605, 16)
        z2, x2, y2 = tile_of(105.7005, 10.0005, 16)
        before = s.get(f"/tiles/{LAYER}/{z}/{x}/{y}.mvt")  # made, queued (the writer waits)
        assert before[0] == 200 and before[2]
        st, _, b = s.get(f"{items}/{fid}", headers={**h, "If-Match": etag}, method="PATCH",
                         data=json.dumps({"type": "Feature",
                                          "geometry": square(105.8102, 10.0602, 0.0005)}).encode())
        assert st == 204, b
        # another tile: its request processes the change (a new generation), the first tile's
        # queued bytes are now stale
        assert s.get(f"/tiles/{LAYER}/{z2}/{x2}/{y2}.mvt")[0] == 200
    finally:
        s.stop()  # the writer runs the queue now: the stale tile must not reach the file
    s = Server(db, str(tmp_path))
    try:
        after = s.get(f"/tiles/{LAYER}/{z}/{x}/{y}.mvt")
        assert after[0] == 200 and after[2] != before[2] and after[1]["ETag"] != before[1]["ETag"]
        assert metric(s, f'spp_tile_cache_misses_total{{layer="{LAYER}",format="mvt"}}') == 1
    finally:
        s.stop()
