# SPDX-License-Identifier: MIT
"""A small fixture city for the land API tests, written with SpatiaLite SQL into a store made by
`spp init` (EPSG:5897, around lon 105.788, lat 10.034 in Ninh Kieu). Deterministic: two wards,
parcels on two map sheets each (jittered quadrilaterals with gaps between rows), zoning blocks
that tile the area on another grid, detailed-plan lots, general-plan zones, land-use current and
plan areas, plans, red lines, land-price segments, roads and vacant / investment land funds."""
import random

from conftest import run_spp, spatialite

X0, Y0 = 585800.0, 1109400.0  # south-west corner of the fixture city (EPSG:5897)
W, H = 1200.0, 600.0

COMMUNES = [  # code, name, unit type, x range
    ("31120", "Ninh Kiều", "Phường", (X0, X0 + 600)),
    ("31135", "An Khánh", "Phường", (X0 + 600, X0 + 1200)),
]

LU_CODES = ["ODT", "ODT+CLN", "CLN", "TMD", "LUC", "DGD"]
FUNCTIONS = ["ONM", "HH", "DVTM", "CX", "GD", "CT"]


def rect(x0, y0, x1, y1):
    return f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"


def poly(pts):
    pts = list(pts) + [pts[0]]
    return "POLYGON((" + ",".join(f"{x:.3f} {y:.3f}" for x, y in pts) + "))"


def insert(con, layer, values, wkt, multi=True):
    cols = list(values)
    geom = "CastToMulti(GeomFromText(?, 5897))" if multi else "GeomFromText(?, 5897)"
    sql = (f"INSERT INTO {layer} ({', '.join(cols)}, geom) VALUES "
           f"({', '.join('?' for _ in cols)}, {geom})")
    con.execute(sql, [values[c] for c in cols] + [wkt])


def parcels(con, rnd):
    """Rows of parcels 30 m x 25 m with 10 m gaps (streets) every three rows."""
    n = 0
    for code, _, _, (xa, xb) in COMMUNES:
        no = {1: 0, 2: 0}
        for row in range(12):
            y0 = Y0 + 20 + row * 25 + (row // 3) * 10
            sheet = 1 if row < 6 else 2
            for col in range(int((xb - xa - 20) // 30)):
                x0 = xa + 10 + col * 30
                j = lambda: rnd.uniform(-3, 3)  # noqa: E731
                pts = [(x0 + j(), y0), (x0 + 30 + j(), y0), (x0 + 30 + j(), y0 + 25),
                       (x0 + 15 + j(), y0 + 25 + rnd.uniform(0, 4)), (x0 + j(), y0 + 25)]
                if (row + col) % 7 == 3:  # some parcels left out: points outside every parcel
                    continue
                no[sheet] += 1
                key = f"{code}{sheet:03d}{no[sheet]:04d}"
                insert(con, "cadastral_parcels", {
                    "parcel_key": key, "commune_code": code, "sheet_no": sheet,
                    "parcel_no": no[sheet], "area_m2": round(750 * rnd.uniform(0.97, 1.03), 1),
                    "lu_display": LU_CODES[(row * 7 + col) % len(LU_CODES)],
                    "address": f"Số {col + 1}, hẻm {row + 1}", "has_certificate": col % 2,
                    "owner_name": f"Nguyễn Văn {n}", "owner_id_no": f"0920{n:08d}",
                    "certificate_no": f"CS{n:05d}"}, poly(pts))
                n += 1
    return n


def zoning(con, rnd):
    """Blocks 150 m x 200 m tiling the city; lots inside two blocks; two general-plan zones."""
    k = 0
    for i in range(int(W // 150)):
        for j in range(int(H // 200)):
            k += 1
            insert(con, "zoning_blocks", {
                "block_code": f"B{k:02d}", "function_code": FUNCTIONS[k % len(FUNCTIONS)],
                "population": 100 * k, "max_coverage_pct": 40 + (k % 5) * 10,
                "max_far": round(1.5 + (k % 7) * 0.5, 1), "min_floors": 1,
                "max_floors": 3 + k % 9, "plan_id": "QHPK-NK-2020"},
                rect(X0 + i * 150, Y0 + j * 200, X0 + (i + 1) * 150, Y0 + (j + 1) * 200))
    m = 0
    for i in range(4):
        for j in range(2):
            m += 1
            insert(con, "detailed_plan_lots", {
                "lot_code": f"L{m:02d}", "function_code": FUNCTIONS[(m + 2) % len(FUNCTIONS)],
                "max_coverage_pct": 60 + m, "max_far": round(2 + m * 0.25, 2), "min_floors": 2,
                "max_floors": 5 + m, "max_height_m": 20 + 3 * m, "setback_m": 3 + m % 3,
                "plan_id": "QHCT-KDC-2022"},
                rect(X0 + 300 + i * 50, Y0 + 200 + j * 100, X0 + 350 + i * 50, Y0 + 300 + j * 100))
    insert(con, "general_plan_zones", {"zone_code": "KDT-1", "name": "Khu đô thị trung tâm",
                                       "function": "HH", "plan_id": "QHC-CT-2013"},
           rect(X0, Y0, X0 + 700, Y0 + H))
    insert(con, "general_plan_zones", {"zone_code": "KDT-2", "name": "Khu đô thị mới",
                                       "function": "ONM", "plan_id": "QHC-CT-2013"},
           rect(X0 + 700, Y0, X0 + W, Y0 + H))


def land_use(con):
    codes = ["ODT", "CLN", "TMD", "LUC"]
    for i in range(4):
        insert(con, "land_use_current", {"lu_code": codes[i], "lu_scheme": "TT08_2024",
                                         "inventory_year": 2024, "commune_code": COMMUNES[i // 2][0]},
               rect(X0 + i * 300, Y0, X0 + (i + 1) * 300, Y0 + H))
    insert(con, "land_use_plan", {"plan_code": "ODT", "current_code": "CLN",
                                  "lu_scheme": "TT08_2024", "plan_kind": "QH", "plan_year": 2021,
                                  "period": "2021-2030", "decision_no": "1021/QĐ-UBND",
                                  "decision_date": "2022-06-15"},
           rect(X0, Y0, X0 + 800, Y0 + 400))
    insert(con, "land_use_plan", {"plan_code": "DGT", "current_code": "ODT",
                                  "lu_scheme": "TT08_2024", "plan_kind": "KH", "plan_year": 2025,
                                  "period": "2025", "decision_no": "345/QĐ-UBND",
                                  "decision_date": "2025-02-01"},
           rect(X0 + 800, Y0, X0 + W, Y0 + 400))
    insert(con, "plan_boundaries", {"plan_id": "QHC-CT-2013", "name": "Quy hoạch chung TP Cần Thơ",
                                    "level": "chung", "scale": 25000, "decision_no": "1515/QĐ-TTg",
                                    "decision_date": "2013-08-28", "status": "hieu_luc"},
           rect(X0 - 500, Y0 - 500, X0 + W + 500, Y0 + H + 500))
    insert(con, "plan_boundaries", {"plan_id": "QHPK-NK-2020", "name": "Quy hoạch phân khu Ninh Kiều",
                                    "level": "phan_khu", "scale": 2000, "decision_no": "2107/QĐ-UBND",
                                    "decision_date": "2020-09-10", "status": "hieu_luc"},
           rect(X0, Y0, X0 + W, Y0 + H))


def transport(con):
    # a main road along the street gap between rows 2 and 3 (y = Y0 + 20 + 75 + 5), an arterial
    # crossing north-south, a national road south of the city, an alley
    yr = Y0 + 100
    roads = [
        ("R1", "Đường 30 Tháng 4", "do_thi_chinh", f"LINESTRING({X0} {yr},{X0 + W} {yr})", 24),
        ("R2", "Đường Trần Hưng Đạo", "do_thi_chinh",
         f"LINESTRING({X0 + 610} {Y0 - 50},{X0 + 605} {Y0 + H + 50})", 20),
        ("R3", "Quốc lộ 91B", "quoc_lo", f"LINESTRING({X0 - 100} {Y0 - 80},{X0 + W + 100} {Y0 - 60})", 40),
        ("R4", "Hẻm 51", "hem", f"LINESTRING({X0 + 100} {Y0 + 205},{X0 + 400} {Y0 + 205})", 4),
    ]
    for rid, name, cls, wkt, row in roads:
        insert(con, "roads", {"road_id": rid, "name": name, "road_class": cls, "row_m": row,
                              "width_m": row / 2}, wkt)
    insert(con, "red_lines", {"kind": "cgdd", "road_name": "Đường 30 Tháng 4", "row_width_m": 24,
                              "section": "1-1", "plan_id": "QHPK-NK-2020"},
           f"LINESTRING({X0} {yr},{X0 + W} {yr})")
    insert(con, "red_lines", {"kind": "lo_gioi", "road_name": "Đường Trần Hưng Đạo",
                              "row_width_m": 20, "section": "2-2", "plan_id": "QHPK-NK-2020"},
           f"LINESTRING({X0 + 610} {Y0 - 50},{X0 + 605} {Y0 + H + 50})")
    insert(con, "red_lines", {"kind": "cgxd", "road_name": "Đường 30 Tháng 4", "setback_m": 6,
                              "plan_id": "QHPK-NK-2020"},
           f"LINESTRING({X0} {yr + 18},{X0 + W} {yr + 18})")
    insert(con, "land_price_segments", {"road_name": "Đường 30 Tháng 4", "from_desc": "Cầu Cái Khế",
                                        "to_desc": "Trần Hưng Đạo", "position": 1,
                                        "price_odt": 65000000, "price_tmd": 52000000,
                                        "price_skc": 39000000, "table_decision": "02/2025/QĐ-UBND"},
           f"LINESTRING({X0} {yr},{X0 + 600} {yr})")
    insert(con, "land_price_segments", {"road_name": "Đường 30 Tháng 4", "from_desc": "Trần Hưng Đạo",
                                        "to_desc": "Cầu Hưng Lợi", "position": 1,
                                        "price_odt": 48000000, "price_tmd": 38400000,
                                        "price_skc": 28800000, "table_decision": "02/2025/QĐ-UBND"},
           f"LINESTRING({X0 + 600} {yr},{X0 + W} {yr})")
    insert(con, "land_price_segments", {"road_name": "Hẻm 51", "from_desc": "đầu hẻm",
                                        "to_desc": "cuối hẻm", "position": 2, "price_odt": 12000000,
                                        "table_decision": "02/2025/QĐ-UBND"},
           f"LINESTRING({X0 + 100} {Y0 + 500},{X0 + 400} {Y0 + 500})")


def funds(con, rnd):
    statuses = ["dang_quan_ly", "du_kien_dau_gia", "dang_dau_gia", "da_giao"]
    for i in range(14):
        x = X0 + 40 + (i % 7) * 160 + rnd.uniform(0, 30)
        y = Y0 + 40 + (i // 7) * 300 + rnd.uniform(0, 60)
        w, h = rnd.uniform(15, 70), rnd.uniform(15, 60)
        if i == 5:
            w, h = 40.0, 25.0  # same area as fund 9: ties are broken by id
        if i == 9:
            w, h = 25.0, 40.0
        commune = COMMUNES[0][0] if x < X0 + 600 else COMMUNES[1][0]
        insert(con, "vacant_land_fund", {
            "fund_id": f"QD-{i:03d}", "name": f"Khu đất trống số {i}", "address": f"Lô {i}",
            "commune_code": commune, "area_m2": round(w * h, 1), "origin": "thu_hoi_chua_giao",
            "manager": "Trung tâm Phát triển quỹ đất", "planned_function": FUNCTIONS[i % 4],
            "status": statuses[i % 4], "public": 0 if i == 11 else 1,
            "contact_person": "Trần Thị B", "contact_phone": "0292 3820 000"},
            rect(round(x, 2), round(y, 2), round(x + w, 2), round(y + h, 2)))
    selections = ["dau_gia_qsdd", "dau_thau_ndt", "ppp"]
    inv_status = ["dang_keu_goi", "dang_lua_chon", "da_co_ndt", "tam_dung"]
    for i in range(8):
        x = X0 + 80 + i * 140 + rnd.uniform(0, 20)
        y = Y0 + 430 + rnd.uniform(0, 80)
        w, h = rnd.uniform(30, 60), rnd.uniform(30, 50)
        commune = COMMUNES[0][0] if x < X0 + 600 else COMMUNES[1][0]
        insert(con, "investment_land", {
            "project_id": f"DA-{i:03d}", "name": f"Dự án kêu gọi đầu tư {i}",
            "function": FUNCTIONS[(i + 1) % 5], "address": f"Khu {i}", "commune_code": commune,
            "area_m2": round(w * h, 1), "indicative_capital_bvnd": 100 + 50 * i,
            "selection": selections[i % 3], "status": inv_status[i % 4],
            "deadline": f"2026-{1 + i:02d}-15", "contact": "Sở Tài chính TP Cần Thơ",
            "decision_no": f"{500 + i}/QĐ-UBND", "internal_note": "ghi chú nội bộ"},
            rect(round(x, 2), round(y, 2), round(x + w, 2), round(y + h, 2)))


def build(path):
    run_spp("init", "--db", path)
    con = spatialite(path)
    rnd = random.Random(7)
    for code, name, utype, (xa, xb) in COMMUNES:
        insert(con, "admin_units", {"code": code, "name": name, "level": 3, "unit_type": utype,
                                    "parent_code": "92"}, rect(xa, Y0, xb, Y0 + H))
    n = parcels(con, rnd)
    zoning(con, rnd)
    land_use(con)
    transport(con)
    funds(con, rnd)
    con.commit()
    con.close()
    return n
