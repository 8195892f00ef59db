# SPDX-License-Identifier: MIT
"""A small planning city for the WMS tests, written with SpatiaLite SQL straight into a store made
by `spp init` (EPSG:5897 around Ninh Kieu, lon 105.788 lat 10.034): a grid of parcels with
land-use codes, roads with Vietnamese names, a canal, buildings, a red line, vacant land."""
import os

from conftest import run_spp, spatialite

X0, Y0 = 586184.889, 1109719.714      # WGS 84 (105.788, 10.034) in EPSG:5897 (DESIGN.md)
PW, PH, GAP = 20.0, 30.0, 10.0        # parcel size and road gap, metres
COLS, ROWS = 12, 8
CODES = ["ODT", "CLN", "LUC", "TMD", "DGD", "ODT+CLN", "NTS", "SKC"]
ROAD_NAMES = ["Đường Nguyễn Văn Cừ", "Đường 3 Tháng 2", "Đường Trần Hưng Đạo", "Hẻm 51",
              "Đường Mậu Thân", "Đường Lý Tự Trọng"]


def parcel_box(c, r):
    x = X0 + c * PW + (c // 4) * GAP
    y = Y0 + r * PH + (r // 4) * GAP
    return x, y, x + PW, y + PH


def parcels():
    out = []
    for r in range(ROWS):
        for c in range(COLS):
            if c == 5 and r in (2, 3):
                continue  # an empty lot: stays transparent
            x0, y0, x1, y1 = parcel_box(c, r)
            code = CODES[(c + r) % len(CODES)]
            no = r * COLS + c + 1
            out.append((no, code, (x0, y0, x1, y1)))
    return out


def box_wkt(b):
    x0, y0, x1, y1 = b
    return f"MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def build(path):
    if os.path.exists(path):
        os.remove(path)
    run_spp("init", "--db", path)
    con = spatialite(path)
    for no, code, b in parcels():
        key = f"31117{12:03d}{no:04d}"
        con.execute("INSERT INTO cadastral_parcels (parcel_key, commune_code, sheet_no, parcel_no,"
                    " area_m2, lu_display, owner_name, geom) VALUES (?, '31117', 12, ?, ?, ?, ?,"
                    " GeomFromText(?, 5897))",
                    (key, no, PW * PH, code, f"Nguyễn Văn {no}", box_wkt(b)))
    # Roads in the gaps between parcel blocks.
    xmax = X0 + COLS * PW + 2 * GAP
    ymax = Y0 + ROWS * PH + GAP
    roads = [
        (ROAD_NAMES[0], "do_thi_chinh", f"LINESTRING({X0 - 40} {Y0 + 4 * PH + GAP / 2}, {xmax + 40} {Y0 + 4 * PH + GAP / 2})"),
        (ROAD_NAMES[1], "khu_vuc", f"LINESTRING({X0 + 4 * PW + GAP / 2} {Y0 - 40}, {X0 + 4 * PW + GAP / 2} {ymax + 40})"),
        (ROAD_NAMES[2], "noi_bo", f"LINESTRING({X0 + 8 * PW + 1.5 * GAP} {Y0 - 40}, {X0 + 8 * PW + 1.5 * GAP} {ymax + 40})"),
    ]
    for name, cls, wkt in roads:
        con.execute("INSERT INTO roads (name, road_class, geom) VALUES (?, ?,"
                    " CastToMulti(GeomFromText(?, 5897)))", (name, cls, wkt))
    # A canal south of the parcels.
    con.execute("INSERT INTO hydro_areas (name, kind, geom) VALUES ('Rạch Cái Khế', 'rach',"
                " GeomFromText(?, 5897))",
                (box_wkt((X0 - 40, Y0 - 60, xmax + 40, Y0 - 25)),))
    # Buildings inside a few parcels.
    for no, code, (x0, y0, x1, y1) in parcels()[:6]:
        con.execute("INSERT INTO buildings (kind, floors, geom) VALUES ('nha_rieng', 3,"
                    " GeomFromText(?, 5897))", (box_wkt((x0 + 4, y0 + 4, x1 - 4, y1 - 8)),))
    # A red line along the main road, vacant land on the empty lot.
    con.execute("INSERT INTO red_lines (kind, road_name, geom) VALUES ('cgdd', ?,"
                " CastToMulti(GeomFromText(?, 5897)))",
                (ROAD_NAMES[0], f"LINESTRING({X0 - 40} {Y0 + 4 * PH + GAP + 1}, {xmax + 40} {Y0 + 4 * PH + GAP + 1})"))
    x0, y0, _, _ = parcel_box(5, 2)
    _, _, x1, y1 = parcel_box(5, 3)
    con.execute("INSERT INTO vacant_land_fund (fund_id, name, status, area_m2, geom) VALUES"
                " ('QD-01', 'Khu đất trống', 'du_kien_dau_gia', 1200, GeomFromText(?, 5897))",
                (box_wkt((x0 + 2, y0 + 2, x1 - 2, y1 - 2)),))
    for layer in ("cadastral_parcels", "roads", "hydro_areas", "buildings", "red_lines",
                  "vacant_land_fund"):
        con.execute(f"""INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy)
            SELECT '{layer}', 1, count(*), min(MbrMinX(geom)), min(MbrMinY(geom)),
            max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM {layer} WHERE 1
            ON CONFLICT(layer) DO UPDATE SET version = excluded.version,
            n_features = excluded.n_features, minx = excluded.minx, miny = excluded.miny,
            maxx = excluded.maxx, maxy = excluded.maxy""")
    con.commit()
    con.close()
