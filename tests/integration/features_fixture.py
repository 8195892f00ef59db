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


# ---- filter cases: one condition in FES 2.0, CQL2 text, CQL2 JSON and plain SpatiaLite SQL ----
# Spatial literals are in EPSG:5897 (FES srsName, CQL2 filter-crs); the SQL is run by the test on
# the store file with Python's sqlite3 + mod_spatialite, independently of spp's filter code.

FES_NS = ('xmlns:fes="http://www.opengis.net/fes/2.0" '
          'xmlns:gml="http://www.opengis.net/gml/3.2"')
SRS = "urn:ogc:def:crs:EPSG::5897"


def _vr(p):
    return f"<fes:ValueReference>{p}</fes:ValueReference>"


def _lit(v):
    return f"<fes:Literal>{v}</fes:Literal>"


def _cmp(tag, prop, val):
    return f"<fes:{tag}>{_vr(prop)}{_lit(val)}</fes:{tag}>"


def fes(inner):
    return f"<fes:Filter {FES_NS}>{inner}</fes:Filter>"


def _geom(kind, coords):
    """(GML 3.2, WKT, GeoJSON dict, SpatiaLite SQL) for a literal in EPSG:5897."""
    pts = " ".join(f"{x} {y}" for x, y in coords)
    wpts = ", ".join(f"{x} {y}" for x, y in coords)
    if kind == "Point":
        x, y = coords[0]
        gml = f'<gml:Point gml:id="p" srsName="{SRS}"><gml:pos>{x} {y}</gml:pos></gml:Point>'
        return gml, f"POINT({x} {y})", {"type": "Point", "coordinates": [x, y]}, \
            f"MakePoint({x}, {y}, 5897)"
    if kind == "LineString":
        gml = (f'<gml:LineString gml:id="l" srsName="{SRS}"><gml:posList>{pts}</gml:posList>'
               '</gml:LineString>')
        wkt = f"LINESTRING({wpts})"
        return gml, wkt, {"type": "LineString", "coordinates": [list(c) for c in coords]}, \
            f"GeomFromText('{wkt}', 5897)"
    gml = (f'<gml:Polygon gml:id="g" srsName="{SRS}"><gml:exterior><gml:LinearRing><gml:posList>'
           f'{pts}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>')
    wkt = f"POLYGON(({wpts}))"
    return gml, wkt, {"type": "Polygon", "coordinates": [[list(c) for c in coords]]}, \
        f"GeomFromText('{wkt}', 5897)"


def _spatial(name, fes_op, cql_op, kind, coords, sql_fn, dist=None):
    gml, wkt, gj, sql_geom = _geom(kind, coords)
    if dist is None:
        return {"name": name, "fes": fes(f"<fes:{fes_op}>{_vr('geom')}{gml}</fes:{fes_op}>"),
                "text": f"{cql_op}(geom, {wkt})",
                "json": {"op": cql_op.lower(), "args": [{"property": "geom"}, gj]},
                "sql": f"{sql_fn}(geom, {sql_geom}) = 1"}
    cmp = "<=" if fes_op == "DWithin" else ">"
    return {"name": name,
            "fes": fes(f'<fes:{fes_op}>{_vr("geom")}{gml}<fes:Distance uom="m">{dist}'
                       f'</fes:Distance></fes:{fes_op}>'),
            "text": f"{cql_op}(geom, {wkt}, {dist}, meters)",
            "json": {"op": cql_op.lower(), "args": [{"property": "geom"}, gj, dist]},
            "sql": f"ST_Distance(geom, {sql_geom}) {cmp} {dist}"}


def _box(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


P = {"property": "area_m2"}
CASES = [
    {"name": "eq", "fes": fes(_cmp("PropertyIsEqualTo", "sheet_no", 3)), "text": "sheet_no = 3",
     "json": {"op": "=", "args": [{"property": "sheet_no"}, 3]}, "sql": "sheet_no = 3"},
    {"name": "ne", "fes": fes(_cmp("PropertyIsNotEqualTo", "commune_code", "31117")),
     "text": "commune_code <> '31117'",
     "json": {"op": "<>", "args": [{"property": "commune_code"}, "31117"]},
     "sql": "commune_code <> '31117'"},
    {"name": "lt", "fes": fes(_cmp("PropertyIsLessThan", "area_m2", 1300)),
     "text": "area_m2 < 1300", "json": {"op": "<", "args": [P, 1300]}, "sql": "area_m2 < 1300"},
    {"name": "le", "fes": fes(_cmp("PropertyIsLessThanOrEqualTo", "area_m2", 1300.25)),
     "text": "area_m2 <= 1300.25", "json": {"op": "<=", "args": [P, 1300.25]},
     "sql": "area_m2 <= 1300.25"},
    {"name": "gt", "fes": fes(_cmp("PropertyIsGreaterThan", "area_m2", 1600)),
     "text": "area_m2 > 1600", "json": {"op": ">", "args": [P, 1600]}, "sql": "area_m2 > 1600"},
    {"name": "ge", "fes": fes(_cmp("PropertyIsGreaterThanOrEqualTo", "area_m2", 1600.25)),
     "text": "area_m2 >= 1600.25", "json": {"op": ">=", "args": [P, 1600.25]},
     "sql": "area_m2 >= 1600.25"},
    {"name": "like",
     "fes": fes('<fes:PropertyIsLike wildCard="*" singleChar="?" escapeChar="\\">'
                f'{_vr("address")}{_lit("Số 1?? đường*")}</fes:PropertyIsLike>'),
     "text": "address LIKE 'Số 1__ đường%'",
     "json": {"op": "like", "args": [{"property": "address"}, "Số 1__ đường%"]},
     "sql": "address GLOB 'Số 1?? đường*'"},
    {"name": "between",
     "fes": fes(f"<fes:PropertyIsBetween>{_vr('area_m2')}<fes:LowerBoundary>{_lit(1300)}"
                f"</fes:LowerBoundary><fes:UpperBoundary>{_lit(1400)}</fes:UpperBoundary>"
                "</fes:PropertyIsBetween>"),
     "text": "area_m2 BETWEEN 1300 AND 1400", "json": {"op": "between", "args": [P, 1300, 1400]},
     "sql": "area_m2 BETWEEN 1300 AND 1400"},
    {"name": "in",
     "fes": fes("<fes:Or>" + "".join(_cmp("PropertyIsEqualTo", "parcel_no", v)
                                     for v in (5, 50, 150, 299)) + "</fes:Or>"),
     "text": "parcel_no IN (5, 50, 150, 299)",
     "json": {"op": "in", "args": [{"property": "parcel_no"}, [5, 50, 150, 299]]},
     "sql": "parcel_no IN (5, 50, 150, 299)"},
    {"name": "null", "fes": fes(f"<fes:PropertyIsNull>{_vr('address')}</fes:PropertyIsNull>"),
     "text": "address IS NULL", "json": {"op": "isNull", "args": [{"property": "address"}]},
     "sql": "address IS NULL"},
    {"name": "logic",
     "fes": fes("<fes:And><fes:Or>" + _cmp("PropertyIsEqualTo", "sheet_no", 1) +
                _cmp("PropertyIsEqualTo", "lu_display", "LUC") + "</fes:Or><fes:Not>" +
                _cmp("PropertyIsEqualTo", "commune_code", "31120") + "</fes:Not></fes:And>"),
     "text": "(sheet_no = 1 OR lu_display = 'LUC') AND NOT commune_code = '31120'",
     "json": {"op": "and", "args": [
         {"op": "or", "args": [{"op": "=", "args": [{"property": "sheet_no"}, 1]},
                               {"op": "=", "args": [{"property": "lu_display"}, "LUC"]}]},
         {"op": "not", "args": [{"op": "=", "args": [{"property": "commune_code"}, "31120"]}]}]},
     "sql": "(sheet_no = 1 OR lu_display = 'LUC') AND NOT commune_code = '31120'"},
    {"name": "bbox",
     "fes": fes(f'<fes:BBOX>{_vr("geom")}<gml:Envelope srsName="{SRS}"><gml:lowerCorner>'
                '586110 1109045</gml:lowerCorner><gml:upperCorner>586290 1109135'
                '</gml:upperCorner></gml:Envelope></fes:BBOX>'),
     "text": "S_INTERSECTS(geom, BBOX(586110, 1109045, 586290, 1109135))",
     "json": {"op": "s_intersects",
              "args": [{"property": "geom"}, {"bbox": [586110, 1109045, 586290, 1109135]}]},
     "sql": "ST_Intersects(geom, BuildMbr(586110, 1109045, 586290, 1109135, 5897)) = 1"},
    _spatial("intersects", "Intersects", "S_INTERSECTS", "Polygon",
             [(586105, 1109010), (586390, 1109100), (586150, 1109290), (586105, 1109010)],
             "ST_Intersects"),
    _spatial("within", "Within", "S_WITHIN", "Polygon", _box(586075, 1109055, 586365, 1109215),
             "ST_Within"),
    _spatial("contains", "Contains", "S_CONTAINS", "Point", [(586130, 1109040)], "ST_Contains"),
    _spatial("disjoint", "Disjoint", "S_DISJOINT", "Polygon", _box(586010, 1109010, 586500, 1109400),
             "ST_Disjoint"),
    _spatial("equals", "Equals", "S_EQUALS", "Polygon", _box(586080, 1109030, 586120, 1109060),
             "ST_Equals"),
    _spatial("touches", "Touches", "S_TOUCHES", "LineString", [(586200, 1109000), (586200, 1109030)],
             "ST_Touches"),
    _spatial("overlaps", "Overlaps", "S_OVERLAPS", "Polygon", _box(586310, 1109110, 586470, 1109170),
             "ST_Overlaps"),
    _spatial("crosses", "Crosses", "S_CROSSES", "LineString",
             [(585990, 1109015), (586350, 1109200), (586500, 1109460)], "ST_Crosses"),
    _spatial("dwithin", "DWithin", "S_DWITHIN", "Point", [(586420, 1109215)], None, dist=50),
    _spatial("beyond", "Beyond", "S_BEYOND", "Point", [(586420, 1109215)], None, dist=300),
]


def expected_ids(store, sql_where, layer="cadastral_parcels"):
    """fids selected by a WHERE clause run by SpatiaLite itself on the store file."""
    con = spatialite(store)
    try:
        return sorted(r[0] for r in con.execute(f'SELECT fid FROM "{layer}" WHERE {sql_where}'))
    finally:
        con.close()
