# SPDX-License-Identifier: MIT
"""A small cadastral block for the tile tests, written straight into a store with SpatiaLite SQL
(EPSG:5897, Ninh Kieu): a warped 24 x 12 grid of parcels whose shared edges carry a shared,
slightly bent midpoint (so edges are polylines both neighbours must snap identically), L-shaped
(concave) parcels, a parcel with a hole and the parcel filling it, a road network and buildings.
Coordinates are a pure function of the grid node, so neighbours share vertices exactly."""
import math

from conftest import run_spp, spatialite

X0, Y0 = 585900.0, 1109500.0
CW, CH = 17.0, 26.0
NX, NY = 24, 12


def node(i, j):
    """Grid node (i, j) with a smooth warp, in EPSG:5897 metres."""
    x = X0 + i * CW + 3.1 * math.sin(j * 0.7 + i * 0.13)
    y = Y0 + j * CH + 2.3 * math.cos(i * 0.5) + 0.013 * i * i
    return x, y


def mid(a, b, key):
    """Shared midpoint of an edge, bent sideways by a key-dependent amount (<1.2 m)."""
    (ax, ay), (bx, by) = a, b
    off = 1.2 * math.sin(key * 1.7)
    dx, dy = bx - ax, by - ay
    n = math.hypot(dx, dy)
    return (ax + bx) / 2 - dy / n * off, (ay + by) / 2 + dx / n * off


def edge(i0, j0, i1, j1):
    """Points of the edge between two nodes, excluding the end node, in that direction."""
    lo, hi = min((i0, j0), (i1, j1)), max((i0, j0), (i1, j1))
    key = lo + hi
    m = mid(node(*lo), node(*hi), key[0] * 131 + key[1] * 17 + key[2] * 7 + key[3])
    return [node(i0, j0), m]


def ring(path):
    """Closed ring through grid nodes (list of (i, j)), with shared midpoints."""
    pts = []
    for k in range(len(path)):
        pts += edge(*path[k], *path[(k + 1) % len(path)])
    pts.append(pts[0])
    return pts


def wkt_poly(rings):
    return "MULTIPOLYGON(((" + ")),((".join(
        "),(".join(", ".join(f"{x:.3f} {y:.3f}" for x, y in r) for r in poly)
        for poly in rings) + ")))"


def parcels():
    """(parcel_no, owner, list of polygons (list of rings))."""
    out = []
    taken = set()
    no = 0
    for j in range(NY):
        for i in range(NX):
            if (i, j) in taken:
                continue
            no += 1
            if i % 7 == 3 and j % 4 == 1 and i + 1 < NX and j + 1 < NY:
                # L shape over (i,j), (i+1,j), (i,j+1): concave
                taken |= {(i, j), (i + 1, j), (i, j + 1)}
                path = [(i, j), (i + 1, j), (i + 2, j), (i + 2, j + 1), (i + 1, j + 1),
                        (i + 1, j + 2), (i, j + 2), (i, j + 1)]
                out.append((no, f"Nguyễn Văn {no}", [[ring(path)]]))
                continue
            taken.add((i, j))
            path = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
            outer = ring(path)
            if (i, j) == (5, 6):
                cx = sum(p[0] for p in outer[:-1]) / (len(outer) - 1)
                cy = sum(p[1] for p in outer[:-1]) / (len(outer) - 1)
                hole = [(cx - 4, cy - 5), (cx - 4, cy + 5), (cx + 4, cy + 5), (cx + 4, cy - 5),
                        (cx - 4, cy - 5)]
                out.append((no, f"Trần Thị {no}", [[outer, hole]]))
                no += 1
                out.append((no, f"Lê Văn {no}", [[hole[::-1]]]))
                continue
            out.append((no, f"Phạm Thị {no}", [[outer]]))
    return out


def build_tiles_store(path):
    import os
    if os.path.exists(path):
        os.remove(path)
    for suffix in (".tiles", ".tiles-wal", ".tiles-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    run_spp("init", "--db", path)
    con = spatialite(path)
    for no, owner, polys in parcels():
        key = f"31117005{no:04d}"
        con.execute(
            "INSERT INTO cadastral_parcels (parcel_key, commune_code, sheet_no, parcel_no, area_m2,"
            " lu_display, has_certificate, owner_name, geom) VALUES (?, '31117', 5, ?, ?, ?, ?, ?,"
            " GeomFromText(?, 5897))",
            (key, no, 0.0, "ODT" if no % 3 else "TMD", no % 2, owner, wkt_poly(polys)))
    con.execute("UPDATE cadastral_parcels SET area_m2 = round(ST_Area(geom), 1)")
    roads = [("Đường 30 Tháng 4", "do_thi_chinh",
              [node(0, 6), node(8, 6), node(16, 6), node(NX, 6)]),
             ("Đường Mậu Thân", "do_thi_chinh", [node(12, 0), node(12, 6), node(12, NY)])]
    for name, cls, pts in roads:
        con.execute("INSERT INTO roads (name, road_class, geom) VALUES (?, ?, GeomFromText(?, 5897))",
                    (name, cls, "MULTILINESTRING((" + ", ".join(f"{x:.3f} {y:.3f}" for x, y in pts)
                     + "))"))
    for j in range(0, NY, 2):
        for i in range(0, NX, 3):
            x, y = node(i, j)
            wkt = (f"MULTIPOLYGON((({x+4} {y+5}, {x+12} {y+5}, {x+12} {y+18}, {x+4} {y+18},"
                   f" {x+4} {y+5})))")
            con.execute("INSERT INTO buildings (kind, floors, geom) VALUES ('nha_o', ?,"
                        " GeomFromText(?, 5897))", (1 + (i + j) % 5, wkt))
    for layer in ("cadastral_parcels", "roads", "buildings"):
        con.execute(f"""INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy)
                   SELECT '{layer}', 1, count(*), min(MbrMinX(geom)), min(MbrMinY(geom)),
                   max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM {layer} WHERE 1
                   ON CONFLICT(layer) DO UPDATE SET version = excluded.version,
                   n_features = excluded.n_features, minx = excluded.minx, miny = excluded.miny,
                   maxx = excluded.maxx, maxy = excluded.maxy""")
    con.commit()
    con.close()
