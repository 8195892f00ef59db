# SPDX-License-Identifier: MIT
"""A store for the feature-service tests (WFS, OGC API): a few hundred features in several
layers with Vietnamese text, written with SpatiaLite SQL (EPSG:5897, Ninh Kieu). Nothing here is
computed by spp: tests compare spp's answers with what OGR reads from this file directly."""
import os

from conftest import run_spp, spatialite

N_PARCELS = 300  # 20 x 15 grid
COMMUNES = ["31117", "31120", "31123"]
LANDUSE = ["ODT", "CLN", "ODT+CLN", "LUC"]
ROAD_NAMES = ["Đường 30 Tháng 4", "Đường Trần Hưng Đạo", "Đường Nguyễn Văn Cừ",
              "Hẻm 51 Lý Tự Trọng", "Đường Mậu Thân", "Đại lộ Hòa Bình"]
ROAD_CLASSES = ["do_thi_chinh", "khu_vuc", "noi_bo", "hem"]
FAC_NAMES = ["Trường THCS Đoàn Thị Điểm", "Chợ Tân An", "Bệnh viện Đa khoa Cần Thơ",
             "UBND phường Ninh Kiều", "Chùa Ông", "Trạm y tế Xuân Khánh"]
FAC_KINDS = ["truong", "cho", "benh_vien", "ubnd", "chua", "tram_y_te"]
X0, Y0 = 586000.0, 1109000.0


def parcel_row(i):
    col, row = i % 20, i // 20
    x, y = X0 + col * 40, Y0 + row * 30
    address = None if i % 9 == 4 else f"Số {i + 1} đường Nguyễn Trãi, phường Tân An, Ninh Kiều"
    return {
        "fid": i + 1,
        "parcel_key": f"{COMMUNES[i % 3]}{1 + i % 7:03d}{i + 1:04d}",
        "commune_code": COMMUNES[i % 3],
        "sheet_no": 1 + i % 7,
        "parcel_no": i + 1,
        "area_m2": 1200.25 + (i * 37) % 500,
        "lu_display": LANDUSE[i % 4],
        "address": address,
        "has_certificate": i % 2,
        "owner_name": f"Nguyễn Thị Ánh {i + 1}",
        "owner_id_no": f"0920{i:08d}",
        "valid_from": "2020-01-01" if i < 100 else "2023-06-15",
        "valid_to": "2024-12-31" if i % 10 == 0 else None,
        "wkt": f"POLYGON(({x} {y},{x + 40} {y},{x + 40} {y + 30},{x} {y + 30},{x} {y}))",
    }


def refresh(con, layer):
    con.execute(f"""INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy)
                   SELECT '{layer}', 1, count(*), min(MbrMinX(geom)), min(MbrMinY(geom)),
                   max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM "{layer}" WHERE 1
                   ON CONFLICT(layer) DO UPDATE SET version = excluded.version,
                   n_features = excluded.n_features, minx = excluded.minx, miny = excluded.miny,
                   maxx = excluded.maxx, maxy = excluded.maxy""")


def build(path):
    if os.path.exists(path):
        os.remove(path)
    run_spp("init", "--db", path)
    con = spatialite(path)
    for i in range(N_PARCELS):
        r = parcel_row(i)
        con.execute("""INSERT INTO cadastral_parcels (fid, parcel_key, commune_code, sheet_no,
            parcel_no, area_m2, lu_display, address, has_certificate, owner_name, owner_id_no,
            valid_from, valid_to, geom) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,
            CastToMulti(GeomFromText(?, 5897)))""",
                    (r["fid"], r["parcel_key"], r["commune_code"], r["sheet_no"], r["parcel_no"],
                     r["area_m2"], r["lu_display"], r["address"], r["has_certificate"],
                     r["owner_name"], r["owner_id_no"], r["valid_from"], r["valid_to"], r["wkt"]))
    for i in range(60):
        x, y = X0 + (i % 10) * 80, Y0 - 50 + (i // 10) * 90
        con.execute("""INSERT INTO roads (road_id, name, road_class, width_m, lanes, is_bridge,
            geom) VALUES (?,?,?,?,?,?, CastToMulti(GeomFromText(?, 5897)))""",
                    (f"R{i:03d}", ROAD_NAMES[i % 6], ROAD_CLASSES[i % 4], 5.5 + i % 4,
                     2 + i % 3, 1 if i % 15 == 0 else 0,
                     f"LINESTRING({x} {y},{x + 60} {y + 20},{x + 75} {y + 70})"))
    for i in range(40):
        x, y = X0 + 13.5 + (i % 8) * 97, Y0 + 7.25 + (i // 8) * 83
        con.execute("""INSERT INTO public_facilities (name, kind, address, commune_code, geom)
            VALUES (?,?,?,?, GeomFromText(?, 5897))""",
                    (f"{FAC_NAMES[i % 6]} {i + 1}", FAC_KINDS[i % 6],
                     f"{i + 1} Hai Bà Trưng, Tân An", COMMUNES[i % 3], f"POINT({x} {y})"))
    for i in range(10):
        con.execute("""INSERT INTO construction_permits (permit_no, floors, applicant_name, geom)
            VALUES (?,?,?, GeomFromText(?, 5897))""",
                    (f"GPXD-{i:03d}/2024", 3 + i % 4, f"Trần Văn Bình {i}",
                     f"POINT({X0 + 20 + i * 40} {Y0 + 15})"))
    for layer in ("cadastral_parcels", "roads", "public_facilities", "construction_permits"):
        refresh(con, layer)
    con.commit()
    con.close()
