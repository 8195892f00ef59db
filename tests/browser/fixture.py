#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Builds the small city the browser tests drive: `spp init`, then features written straight into
the store with SpatiaLite SQL in EPSG:5897 around Ninh Kieu (two wards, two blocks of 36 parcels,
roads and a canal with Vietnamese names, zoning blocks and lots, a red line cutting parcels, a
plan, a land-use plan area, a land-price segment, vacant-land funds and investment sites).

    /usr/bin/python3 tests/browser/fixture.py SPP_BINARY OUT.sqlite
"""
import os
import sqlite3
import subprocess
import sys

E0, N0 = 585900.0, 1109500.0
LU = ["ODT", "ODT+CLN", "TMD", "CLN", "DGD", "SKC"]


def box(x0, y0, x1, y1):
    return f"MULTIPOLYGON((({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0})))"


def line(*pts):
    return "MULTILINESTRING((" + ", ".join(f"{x} {y}" for x, y in pts) + "))"


def build(spp, path):
    for suffix in ("", "-wal", "-shm", ".tiles", ".tiles-wal", ".tiles-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    subprocess.run([spp, "init", "--db", path], check=True, capture_output=True)
    con = sqlite3.connect(path)
    con.enable_load_extension(True)
    con.load_extension("mod_spatialite")
    ins = lambda sql, *args: con.execute(sql, args)  # noqa: E731

    ins("INSERT INTO admin_units (code, name, level, unit_type, geom) VALUES"
        " ('31135', 'Phường Tân An', 3, 'phuong', GeomFromText(?, 5897))",
        box(E0 - 200, N0 - 200, E0 + 700, N0 + 200))
    ins("INSERT INTO admin_units (code, name, level, unit_type, geom) VALUES"
        " ('31117', 'Phường Cái Khế', 3, 'phuong', GeomFromText(?, 5897))",
        box(E0 - 200, N0 + 200, E0 + 700, N0 + 700))

    blocks = [("31135", 12, E0, N0), ("31117", 7, E0 + 220, N0 + 220)]
    for commune, sheet, bx, by in blocks:
        for j in range(6):
            for i in range(6):
                no = j * 6 + i + 1
                x0, y0 = bx + 30 * i, by + 30 * j
                g = box(x0, y0, x0 + 30, y0 + 30)
                lu = LU[(i + j) % len(LU)]
                ins("INSERT INTO cadastral_parcels (parcel_key, commune_code, sheet_no, parcel_no,"
                    " area_m2, lu_display, address, has_certificate, owner_name, geom)"
                    " VALUES (?, ?, ?, ?, 900.0, ?, ?, 1, 'Nguyễn Văn A', GeomFromText(?, 5897))",
                    f"{commune}{sheet:03d}{no:04d}", commune, sheet, no, lu,
                    f"Số {no}, khu vực {sheet}", g)
                ins("INSERT INTO land_use_current (lu_code, lu_scheme, inventory_year, commune_code,"
                    " area_m2, geom) VALUES (?, 'TT08_2024', 2024, ?, 900.0,"
                    " GeomFromText(?, 5897))", lu.split("+")[0], commune, g)

    for code, fn, cov, far, f0, f1, (x0, y0) in [
            ("A1", "ONM", 60.0, 3.0, 1, 5, (E0, N0)), ("B2", "HH", 40.0, 5.0, 3, 15, (E0 + 220, N0 + 220))]:
        ins("INSERT INTO zoning_blocks (block_code, function_code, area_m2, population,"
            " max_coverage_pct, max_far, min_floors, max_floors, plan_id, geom) VALUES"
            " (?, ?, 32400, 900, ?, ?, ?, ?, 'QHPK-NK-2020', GeomFromText(?, 5897))",
            code, fn, cov, far, f0, f1, box(x0, y0, x0 + 180, y0 + 180))
    ins("INSERT INTO detailed_plan_lots (lot_code, function_code, area_m2, max_coverage_pct,"
        " max_far, min_floors, max_floors, max_height_m, setback_m, plan_id, geom) VALUES"
        " ('A1-01', 'ONM', 5400, 70, 3.5, 2, 5, 22, 3, 'QHCT-A1', GeomFromText(?, 5897))",
        box(E0, N0, E0 + 90, N0 + 60))
    ins("INSERT INTO plan_boundaries (plan_id, name, level, scale, decision_no, decision_date,"
        " approver, status, geom) VALUES ('QHPK-NK-2020', 'Quy hoạch phân khu Ninh Kiều', 'phan_khu',"
        " 2000, '1234/QĐ-UBND', '2020-05-12', 'UBND thành phố Cần Thơ', 'hieu_luc',"
        " GeomFromText(?, 5897))", box(E0 - 100, N0 - 100, E0 + 600, N0 + 600))
    ins("INSERT INTO land_use_plan (plan_code, current_code, lu_scheme, plan_kind, plan_year, period,"
        " project_name, decision_no, decision_date, commune_code, geom) VALUES ('TMD', 'ODT',"
        " 'TT08_2024', 'QH', 2030, '2021-2030', 'Trung tâm thương mại Cái Khế', '567/QĐ-UBND',"
        " '2022-03-01', '31117', GeomFromText(?, 5897))", box(E0 + 220, N0 + 310, E0 + 400, N0 + 400))

    roads = [("Đường 30 Tháng 4", "do_thi_chinh", 24.0, ((E0 - 100, N0 + 200), (E0 + 700, N0 + 200))),
             ("Đường Trần Văn Khéo", "do_thi_chinh", 20.0, ((E0 + 200, N0 - 100), (E0 + 200, N0 + 700))),
             ("Hẻm 51 Lê Lợi", "hem", 4.0, ((E0 + 90, N0), (E0 + 90, N0 + 180)))]
    for name, cls, row, pts in roads:
        ins("INSERT INTO roads (name, road_class, width_m, row_m, geom) VALUES (?, ?, ?, ?,"
            " GeomFromText(?, 5897))", name, cls, row / 2, row, line(*pts))
    ins("INSERT INTO red_lines (kind, road_name, row_width_m, setback_m, plan_id, geom) VALUES"
        " ('cgdd', 'Đường 30 Tháng 4', 40, 6, 'QHPK-NK-2020', GeomFromText(?, 5897))",
        line((E0 - 100, N0 + 175), (E0 + 700, N0 + 175)))
    ins("INSERT INTO land_price_segments (road_name, from_desc, to_desc, position, price_odt,"
        " price_tmd, table_decision, geom) VALUES ('Đường 30 Tháng 4', 'Cầu Cái Khế', 'Đường Mậu Thân',"
        " 1, 45000000, 36000000, '19/2019/QĐ-UBND', GeomFromText(?, 5897))",
        line((E0 - 100, N0 + 200), (E0 + 700, N0 + 200)))
    ins("INSERT INTO hydro_lines (name, kind, width_m, geom) VALUES ('Rạch Cái Khế', 'kenh_muong',"
        " 12, GeomFromText(?, 5897))", line((E0 - 150, N0 + 440), (E0 + 650, N0 + 470)))
    ins("INSERT INTO hydro_areas (name, kind, lu_code, geom) VALUES ('Sông Cần Thơ', 'song', 'SON',"
        " GeomFromText(?, 5897))", box(E0 + 620, N0 - 200, E0 + 700, N0 + 700))

    funds = [("QD-01", "Khu đất trống đường 30 Tháng 4", "31135", "ONM", "dang_quan_ly", (420, 0, 480, 40)),
             ("QD-02", "Khu đất công Tân An", "31135", "HH", "du_kien_dau_gia", (420, 60, 520, 140)),
             ("QD-03", "Đất thu hồi chưa giao", "31117", "CC", "dang_quan_ly", (420, 230, 450, 260)),
             ("QD-04", "Khu đất Cái Khế", "31117", "HH", "du_kien_dau_gia", (430, 300, 560, 380)),
             ("QD-05", "Bãi đất ven rạch", "31117", "DVTM", "dang_quan_ly", (480, 500, 540, 560))]
    for fid, name, commune, fn, status, (x0, y0, x1, y1) in funds:
        ins("INSERT INTO vacant_land_fund (fund_id, name, address, commune_code, area_m2, lu_code,"
            " origin, manager, state, planned_function, plan_id, status, public, geom) VALUES"
            " (?, ?, ?, ?, ?, 'ODT', 'dat_cong', 'Trung tâm Phát triển quỹ đất Cần Thơ', 'dat_trong',"
            " ?, 'QHPK-NK-2020', ?, 1, GeomFromText(?, 5897))",
            fid, name, f"{name}, Cần Thơ", commune, (x1 - x0) * (y1 - y0), fn, status,
            box(E0 + x0, N0 + y0, E0 + x1, N0 + y1))
    sites = [("DA-01", "Trung tâm thương mại Tân An", "31135", "DVTM", "dang_keu_goi", (-150, -150, -20, -40)),
             ("DA-02", "Khu nhà ở xã hội Cái Khế", "31117", "HH", "dang_keu_goi", (-150, 250, -30, 400)),
             ("DA-03", "Bến xe Ninh Kiều", "31117", "GT", "dang_lua_chon", (-150, 450, -60, 520))]
    for pid, name, commune, fn, status, (x0, y0, x1, y1) in sites:
        ins("INSERT INTO investment_land (project_id, name, function, address, commune_code, area_m2,"
            " indicative_capital_bvnd, selection, status, deadline, contact, plan_id, geom) VALUES"
            " (?, ?, ?, ?, ?, ?, 250.0, 'dau_thau_ndt', ?, '2026-12-31', 'Sở Tài chính Cần Thơ',"
            " 'QHPK-NK-2020', GeomFromText(?, 5897))",
            pid, name, fn, f"{name}, Cần Thơ", commune, (x1 - x0) * (y1 - y0), status,
            box(E0 + x0, N0 + y0, E0 + x1, N0 + y1))

    layers = [r[0] for r in con.execute("SELECT f_table_name FROM geometry_columns")]
    for layer in layers:
        if not con.execute(f'SELECT count(*) FROM "{layer}"').fetchone()[0]:
            continue
        con.execute(f"""INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy)
                   SELECT '{layer}', 1, count(*), min(MbrMinX(geom)), min(MbrMinY(geom)),
                   max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM "{layer}" WHERE 1
                   ON CONFLICT(layer) DO UPDATE SET version = excluded.version,
                   n_features = excluded.n_features, minx = excluded.minx, miny = excluded.miny,
                   maxx = excluded.maxx, maxy = excluded.maxy""")
    con.commit()
    con.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: fixture.py SPP_BINARY OUT.sqlite")
    build(sys.argv[1], sys.argv[2])
