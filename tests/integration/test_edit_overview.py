# SPDX-License-Identifier: MIT
"""Issue 20 + 22: an edit keeps the precomputed land-use overview (spp_overview, z12-14 of the
parcels) in step. The edit redoes only the overview cells of its old and new boxes inside its
own transaction, so the overview stays at the layer's version (the tile builder reads it only
then) and holds what a fresh import of the edited data makes; the z12-14 tiles show the edit."""
import json
import os
import shutil

from conftest import ROOT, Server, run_spp, spatialite
from test_tile_budget import GRID, LU, overview_counts, overview_rows, truth, write_parcels


def editable_parcels(tmp_path):
    """A catalog whose cadastral_parcels an editor may write; its config file."""
    layers = tmp_path / "layers"
    shutil.copytree(os.path.join(ROOT, "layers"), layers)
    p = layers / "cadastral_parcels.json"
    d = json.loads(p.read_text(encoding="utf-8"))
    d["edit_roles"] = ["editor"]
    p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"layers_dir": str(layers), "limits": {"query_ms": 300000}}))
    return str(cfg)


def fid_of(db, i):
    con = spatialite(db)
    try:
        return con.execute("SELECT fid FROM cadastral_parcels WHERE parcel_key = ?",
                           (f"31117012{i:06d}",)).fetchone()[0]
    finally:
        con.close()


def lu_of(i):
    """The land use write_parcels gives parcel i."""
    r, c = divmod(i, GRID)
    return LU[(r // 3 + c // 5) % 4]


def test_edits_keep_the_overview_in_step(tmp_path):
    cfg = editable_parcels(tmp_path)
    db, src = str(tmp_path / "ov.sqlite"), str(tmp_path / "parcels.geojson")
    write_parcels(src)
    run_spp("import", "--db", db, "--config", cfg, "--layer", "cadastral_parcels", src)
    rows0, state0, _ = overview_rows(db)
    assert rows0 and state0[0] == state0[1]
    key = run_spp("keys", "--db", db, "--config", cfg, "add", "--role", "editor", "--name",
                  "ov").stdout.split()[0]
    s = Server(db, str(tmp_path), config=cfg)
    try:
        h = {"X-API-Key": key, "Content-Type": "application/geo+json"}
        base = "/collections/cadastral_parcels/items"

        def edit(method, i, body=None):
            path = f"{base}/{fid_of(db, i)}"
            etag = s.get(path)[1]["ETag"]
            st, _, b = s.get(path, headers={**h, "If-Match": etag}, method=method,
                             data=json.dumps(body).encode() if body else None)
            assert st == 204, b

        # a class change, a move across cells (1.5 km east), a delete
        edit("PATCH", 5, {"type": "Feature", "properties": {"lu_display": "SKC"}})
        with open(src, encoding="utf-8") as f:
            moved = json.load(f)["features"][40]["geometry"]
        for ring in moved["coordinates"]:
            for pt in ring:
                pt[0] += 0.0137
        edit("PATCH", 40, {"type": "Feature", "geometry": moved})
        edit("DELETE", GRID * GRID - 3)
        rows, state, _ = overview_rows(db)
        # in step at the layer's new version (three edits later): the tiles read the overview
        assert state[0] == state[1] == state0[1] + 3, state
        # and it is what a fresh import of the edited parcels makes
        with open(src, encoding="utf-8") as f:
            doc = json.load(f)
        doc["features"][5]["properties"]["lu_display"] = "SKC"
        doc["features"][40]["geometry"] = moved
        del doc["features"][GRID * GRID - 3]
        fresh_src, fresh = str(tmp_path / "edited.geojson"), str(tmp_path / "fresh.sqlite")
        with open(fresh_src, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        run_spp("import", "--db", fresh, "--config", cfg, "--layer", "cadastral_parcels",
                fresh_src)
        want = overview_rows(fresh)[0]
        assert [r[:6] for r in rows] == [r[:6] for r in want]
        assert all(abs(a[6] - b[6]) <= 1e-6 * a[6] + 0.01 for a, b in zip(rows, want))
        assert 0 < len(set(rows) ^ set(rows0)) < len(rows0) // 4  # a few cells, not all
        # the z12-14 tiles (built from the overview) count the edit
        expect = truth({5})
        expect[lu_of(GRID * GRID - 3)] -= 1
        for z, (per, _) in overview_counts(s, tmp_path).items():
            assert per == expect, (z, per)
    finally:
        s.stop()


def test_an_overview_out_of_step_is_left_to_the_import(tmp_path):
    """An overview already behind the layer (changed outside an edit) is not patched by an edit:
    it stays out of step and the tiles read the features until the next import."""
    cfg = editable_parcels(tmp_path)
    db, src = str(tmp_path / "ov.sqlite"), str(tmp_path / "parcels.geojson")
    write_parcels(src)
    run_spp("import", "--db", db, "--config", cfg, "--layer", "cadastral_parcels", src)
    con = spatialite(db)
    con.execute("UPDATE spp_layers SET version = version + 1 WHERE layer = 'cadastral_parcels'")
    con.commit()
    con.close()
    key = run_spp("keys", "--db", db, "add", "--role", "editor", "--name",
                  "ov").stdout.split()[0]
    s = Server(db, str(tmp_path), config=cfg)
    try:
        path = f"/collections/cadastral_parcels/items/{fid_of(db, 7)}"
        etag = s.get(path)[1]["ETag"]
        st, _, b = s.get(path, headers={"X-API-Key": key, "If-Match": etag,
                                        "Content-Type": "application/geo+json"}, method="PATCH",
                         data=json.dumps({"type": "Feature",
                                          "properties": {"lu_display": "SKC"}}).encode())
        assert st == 204, b
        _, state, _ = overview_rows(db)
        assert state[0] == state[1] - 2
        # the tiles still show the edit (read feature by feature: a parcel on a tile edge is
        # counted in both tiles there, so only the classes are compared)
        for z, (per, _) in overview_counts(s, tmp_path).items():
            assert set(per) == set(truth({7})) and per["SKC"] >= 1, (z, per)
    finally:
        s.stop()
