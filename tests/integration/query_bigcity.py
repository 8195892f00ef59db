# SPDX-License-Identifier: MIT
"""A 200k-parcel city in the catalog's schema for sanity timings of the land API (not a test):
    /usr/bin/python3 tests/integration/query_bigcity.py OUT.sqlite [N_PARCELS]
Writes a store with `spp init` and fills it with SpatiaLite SQL: a 500-column grid of 20 m x 25 m
parcels in 20 communes, 150 m x 200 m zoning blocks, a road every 10 parcel rows and columns
(every 5th a main road), red lines and price segments along them, and 1.5 % of the parcels' count
as vacant / investment funds. Also writes OUT.points (lon lat per line, inside parcels) for wrk."""
import os
import sys

from conftest import run_spp, spatialite

X0, Y0 = 580000.0, 1100000.0


def build(path, n):
    if os.path.exists(path):
        os.remove(path)
    run_spp("init", "--db", path)
    con = spatialite(path)
    cols = 500
    rows = (n + cols - 1) // cols
    con.execute("""
      INSERT INTO admin_units (code, name, level, unit_type, geom)
      WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 19)
      SELECT printf('%05d', 31000 + i), 'Phường ' || i, 3, 'Phường',
             CastToMulti(BuildMbr(?1 + (i % 5) * 2000, ?2 + (i / 5) * (?3 / 4.0),
                                  ?1 + (i % 5 + 1) * 2000, ?2 + (i / 5 + 1) * (?3 / 4.0), 5897))
      FROM c""", (X0, Y0, rows * 25.0))
    con.execute("""
      INSERT INTO cadastral_parcels (parcel_key, commune_code, sheet_no, parcel_no, area_m2,
                                     lu_display, owner_name, geom)
      WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?3 - 1)
      SELECT printf('%05d%03d%04d', 31000 + (i % 500) / 100 + 5 * ((i / 500) * 4 / ?4),
                    1 + (i / 500) % 50, 1 + i % 100 + 100 * ((i / 500) / 50)),
             printf('%05d', 31000 + (i % 500) / 100 + 5 * ((i / 500) * 4 / ?4)),
             1 + (i / 500) % 50, 1 + i % 100 + 100 * ((i / 500) / 50), 500.0,
             CASE i % 4 WHEN 0 THEN 'ODT' WHEN 1 THEN 'ODT+CLN' WHEN 2 THEN 'CLN' ELSE 'TMD' END,
             'Nguyễn Văn ' || i,
             CastToMulti(BuildMbr(?1 + (i % 500) * 20 + 0.5, ?2 + (i / 500) * 25 + 0.5,
                                  ?1 + (i % 500) * 20 + 19.5, ?2 + (i / 500) * 25 + 24.5, 5897))
      FROM c""", (X0, Y0, n, rows))
    con.execute("""
      INSERT INTO zoning_blocks (block_code, function_code, max_coverage_pct, max_far, min_floors,
                                 max_floors, geom)
      WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?3 - 1)
      SELECT 'B' || i, CASE i % 3 WHEN 0 THEN 'ONM' WHEN 1 THEN 'HH' ELSE 'DVTM' END,
             40 + i % 40, 1.5 + (i % 8) * 0.5, 1, 3 + i % 20,
             CastToMulti(BuildMbr(?1 + (i % 67) * 150, ?2 + (i / 67) * 200,
                                  ?1 + (i % 67 + 1) * 150, ?2 + (i / 67 + 1) * 200, 5897))
      FROM c""", (X0, Y0, 67 * (rows * 25 // 200 + 1)))
    for layer in ("roads", "red_lines", "land_price_segments"):
        con.execute(f"""
          INSERT INTO {layer} ({'name, road_class, row_m' if layer == 'roads' else
                               'road_name, kind, row_width_m' if layer == 'red_lines' else
                               'road_name, position, price_odt'}, geom)
          WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?3 - 1)
          SELECT 'Đường ' || i,
                 {"CASE WHEN i % 5 = 0 THEN 'do_thi_chinh' ELSE 'khu_vuc' END, 20"
                  if layer == 'roads' else "'cgdd', 20" if layer == 'red_lines'
                  else "1, 10000000 + i * 1000"},
                 CastToMulti(CASE WHEN i < ?4 THEN
                   MakeLine(MakePoint(?1 + i * 200, ?2, 5897), MakePoint(?1 + i * 200, ?2 + ?5, 5897))
                 ELSE
                   MakeLine(MakePoint(?1, ?2 + (i - ?4) * 250, 5897),
                            MakePoint(?1 + 10000, ?2 + (i - ?4) * 250, 5897)) END)
          FROM c""", (X0, Y0, 51 + rows // 10 + 1, 51, rows * 25.0))
    for layer, idf in (("vacant_land_fund", "fund_id"), ("investment_land", "project_id")):
        fn = "planned_function" if layer == "vacant_land_fund" else "function"
        st = "'dang_quan_ly'" if layer == "vacant_land_fund" else "'dang_keu_goi'"
        con.execute(f"""
          INSERT INTO {layer} ({idf}, name, commune_code, area_m2, {fn}, status, geom)
          SELECT '{idf[:2].upper()}' || fid, 'Quỹ đất ' || fid, commune_code, 1500.0,
                 CASE fid % 3 WHEN 0 THEN 'ONM' WHEN 1 THEN 'HH' ELSE 'DVTM' END, {st},
                 CastToMulti(BuildMbr(MbrMinX(geom), MbrMinY(geom), MbrMinX(geom) + 60,
                                      MbrMinY(geom) + 25, 5897))
          FROM cadastral_parcels WHERE fid % 133 = {0 if layer == 'vacant_land_fund' else 66}""")
    con.execute("ANALYZE")
    con.commit()
    pts = con.execute("""SELECT X(p), Y(p) FROM (SELECT Transform(PointOnSurface(geom), 4326) AS p
                         FROM cadastral_parcels WHERE fid % 97 = 0)""").fetchall()
    con.close()
    with open(path + ".points", "w") as f:
        for x, y in pts:
            f.write(f"{x:.7f} {y:.7f}\n")


if __name__ == "__main__":
    build(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200000)
