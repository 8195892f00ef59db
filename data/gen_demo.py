#!/usr/bin/env python3
"""Generate the spp demo sources: a small synthetic district around Ninh Kieu, Can Tho.

    /usr/bin/python3 data/gen_demo.py --out DIR

Writes all 24 layers the way real sources arrive (wrong or missing .prj files, legacy Vietnamese
encodings, CAD drawings, coordinate tables, invalid geometries, old land-use codes), plus
DIR/manifest.json (spp import manifest) and DIR/truth.json (ground truth for tests).
Deterministic: fixed seed, no timestamps. See data/README.md for the list of files and defects.
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import unicodedata

from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()
gdal.SetConfigOption("OGR_GEOMETRY_ACCEPT_UNCLOSED_RING", "YES")
gdal.PushErrorHandler("CPLQuietErrorHandler")

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240801
DBF_DATE = "2025-01-15"
# storage CRS and the official VN-2000 -> WGS 84 operation (Decision 05/2007 = EPSG:6960, Position Vector form)
PROJ_5897_OFFICIAL = ("+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
                      "+towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,"
                      "0.252906278 +units=m +no_defs")
# local origin of the demo area (3 km x 3 km) in EPSG:5897; centre ~ WGS 84 105.7880, 10.0340
E0, N0 = 584700.0, 1108200.0
SIZE = 3000.0
PRJ_WGS84_TM3 = ('PROJCS["WGS_1984_TM_105",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",'
                 'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],'
                 'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
                 'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
                 'PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",0.9999],'
                 'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')


def nfc(s):
    return unicodedata.normalize("NFC", s)


# ----------------------------------------------------------------------------------------------
# CRS helpers

def srs_epsg(code):
    s = osr.SpatialReference()
    s.ImportFromEPSG(code)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


SRS_5897 = srs_epsg(5897)
SRS_4326 = srs_epsg(4326)
SRS_OFFICIAL = osr.SpatialReference()
SRS_OFFICIAL.ImportFromProj4(PROJ_5897_OFFICIAL)
SRS_OFFICIAL.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
CT_TO_WGS = osr.CoordinateTransformation(SRS_OFFICIAL, SRS_4326)       # official op (6960)
CT_FROM_WGS = osr.CoordinateTransformation(SRS_4326, SRS_OFFICIAL)
CT_TO_4756 = osr.CoordinateTransformation(SRS_5897, srs_epsg(4756))    # pure projection, same datum
CT_TO = {c: osr.CoordinateTransformation(SRS_5897, srs_epsg(c)) for c in (9209, 3405)}


def to_wgs(e, n):
    lon, lat, _ = CT_TO_WGS.TransformPoint(e, n)
    return lon, lat


def check_official_op():
    e, n, _ = CT_FROM_WGS.TransformPoint(105.7880, 10.0340)
    if abs(e - 586184.889) > 0.01 or abs(n - 1109719.714) > 0.01:
        sys.exit("official VN-2000 operation not reproduced: %.3f %.3f" % (e, n))


def transformed(geom, ct):
    g = geom.Clone()
    g.Transform(ct)
    return g


# ----------------------------------------------------------------------------------------------
# legacy Vietnamese encodings (tables from vn_charsets.tsv)

def load_charsets(path):
    enc = {"TCVN3": {}, "VNI-Windows": {}, "CP1258": {}}
    cols = {"TCVN3": "tcvn3_hex", "VNI-Windows": "vni_win_hex", "CP1258": "cp1258_hex"}
    with open(path, encoding="utf-8") as fp:
        head = fp.readline().rstrip("\n").split("\t")
        for line in fp:
            row = dict(zip(head, line.rstrip("\n").split("\t")))
            for name, col in cols.items():
                enc[name][row["char"]] = bytes.fromhex(row[col])
    dec = {}
    for name, table in enc.items():
        d = {}
        for ch, b in table.items():
            # TCVN3 has no upper-case toned letters: keep the lower-case reading for a shared byte
            if b not in d or ch.islower():
                d[b] = ch
        dec[name] = d
    return enc, dec


def encode_legacy(s, name):
    out = bytearray()
    for ch in nfc(s):
        if ord(ch) < 128:
            out += ch.encode("ascii")
        elif ch in ENC[name]:
            out += ENC[name][ch]
        else:
            raise ValueError("cannot encode %r in %s" % (ch, name))
    return bytes(out)


def decode_legacy(b, name):
    d = DEC[name]
    out, i = [], 0
    while i < len(b):
        if b[i] < 128 and not (name == "CP1258" and i + 1 < len(b) and bytes(b[i:i + 2]) in d):
            if name == "VNI-Windows" and i + 1 < len(b) and bytes(b[i:i + 2]) in d:
                out.append(d[bytes(b[i:i + 2])])
                i += 2
                continue
            out.append(chr(b[i]))
            i += 1
            continue
        for n in (3, 2, 1):
            if bytes(b[i:i + n]) in d:
                out.append(d[bytes(b[i:i + n])])
                i += n
                break
        else:
            out.append("\ufffd")
            i += 1
    return nfc("".join(out))


class Legacy:
    """Collects placeholder tokens for legacy-encoded strings; patches the written files."""

    def __init__(self, encoding, relpath, layer):
        self.encoding, self.relpath, self.layer = encoding, relpath, layer
        self.tokens = {}

    def value(self, s, field, key):
        b = encode_legacy(s, self.encoding)
        if decode_legacy(b, self.encoding) != nfc(s):
            raise ValueError("%r does not survive %s" % (s, self.encoding))
        TRUTH_LEGACY.append({"file": self.relpath, "layer": self.layer, "encoding": self.encoding,
                             "source_field": field, "key": key, "value": nfc(s), "bytes_hex": b.hex()})
        if all(c < 128 for c in b):
            return b.decode("ascii")
        if len(b) < 4:
            raise ValueError("legacy string too short for a token: %r" % s)
        Legacy.counter += 1
        n, digits = Legacy.counter, ""
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        for _ in range(3):
            n, r = divmod(n, 62)
            digits += alphabet[r]
        tok = "\x7f" + digits + "\x7e" * (len(b) - 4)
        self.tokens[tok.encode("ascii")] = b
        return tok

    def patch(self, path):
        data = open(path, "rb").read()
        for tok in sorted(self.tokens, key=len, reverse=True):
            if data.count(tok) != 1:
                raise RuntimeError("token %r found %d times in %s" % (tok, data.count(tok), path))
            data = data.replace(tok, self.tokens[tok])
        if b"\x7f" in data:
            raise RuntimeError("unpatched token in %s" % path)
        open(path, "wb").write(data)


Legacy.counter = 0

# ----------------------------------------------------------------------------------------------
# geometry helpers (local metres -> EPSG:5897)


def W(x, y):
    return (round(E0 + x, 3), round(N0 + y, 3))


def ring_local(pts):
    return [W(x, y) for x, y in pts]


def rect(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def polygon(*rings, close=True):
    g = ogr.Geometry(ogr.wkbPolygon)
    for r in rings:
        lr = ogr.Geometry(ogr.wkbLinearRing)
        for x, y in r:
            lr.AddPoint_2D(x, y)
        if close and r[0] != r[-1]:
            lr.AddPoint_2D(*r[0])
        g.AddGeometryDirectly(lr)
    return g


def lpoly(pts):
    return polygon(ring_local(pts))


def line(pts):
    g = ogr.Geometry(ogr.wkbLineString)
    for x, y in pts:
        g.AddPoint_2D(x, y)
    return g


def lline(pts):
    return line(ring_local(pts))


def point(x, y):
    g = ogr.Geometry(ogr.wkbPoint)
    g.AddPoint_2D(x, y)
    return g


def multi(g):
    t = ogr.GT_Flatten(g.GetGeometryType())
    if t == ogr.wkbPolygon:
        m = ogr.Geometry(ogr.wkbMultiPolygon)
        m.AddGeometry(g)
        return m
    if t == ogr.wkbLineString:
        m = ogr.Geometry(ogr.wkbMultiLineString)
        m.AddGeometry(g)
        return m
    return g


def union_all(geoms):
    u = None
    for g in geoms:
        u = g.Clone() if u is None else u.Union(g)
    return u


def centroid(g):
    c = g.Centroid()
    return c.GetX(), c.GetY()


def inner_point(g):
    p = g.PointOnSurface()
    return p.GetX(), p.GetY()


def split(a, b, wmin, wmax, rng):
    """Breakpoints from a to b with random widths in [wmin, wmax]; no piece shorter than wmin."""
    pts, x = [a], a
    while b - x > wmax + wmin:
        x = round(x + rng.uniform(wmin, wmax), 2)
        pts.append(x)
    if b - x > wmax:
        pts.append(round((x + b) / 2, 2))
    pts.append(b)
    return pts


# ----------------------------------------------------------------------------------------------
# OGR writing


def ogr_type(t):
    return {"str": ogr.OFTString, "int": ogr.OFTInteger, "real": ogr.OFTReal, "date": ogr.OFTDate}[t]


def write_ogr(out, rel, driver, layer_name, srs, gtype, fields, rows, dsco=(), lco=(), legacy=None,
              catalog_layer=None, extra_names=()):
    """fields: [(name, type, width)], rows: [(geometry or None, {name: value})]."""
    if catalog_layer:
        check_names(catalog_layer, [f[0] for f in fields], extra_names, rel)
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    drv = ogr.GetDriverByName(driver)
    if driver in ("ESRI Shapefile",):
        ds = drv.CreateDataSource(os.path.dirname(path))
        layer_name = os.path.splitext(os.path.basename(path))[0]
    else:
        ds = drv.CreateDataSource(path, options=list(dsco))
    lyr = ds.CreateLayer(layer_name, srs, gtype, options=list(lco))
    widths = {}
    for name, t, width in fields:
        fd = ogr.FieldDefn(name, ogr_type(t))
        if width:
            fd.SetWidth(width)
            widths[name] = width
        if t == "real":
            fd.SetWidth(width or 18)
            fd.SetPrecision(3)
        lyr.CreateField(fd)
    defn = lyr.GetLayerDefn()
    for i, (geom, attrs) in enumerate(rows):
        f = ogr.Feature(defn)
        for k, v in attrs.items():
            if v is None:
                continue
            if legacy and isinstance(v, str) and any(ord(c) > 127 for c in v):
                v = legacy.value(v, k, attrs.get("_key", i))
            if k.startswith("_"):
                continue
            if isinstance(v, str) and k in widths and len(v.encode("utf-8")) > widths[k]:
                raise ValueError("%s: value too wide for %s: %r" % (rel, k, v))
            f.SetField(k, v)
        if geom is not None:
            f.SetGeometry(geom)
        lyr.CreateFeature(f)
    ds = None
    return path


def finish_shp(path, prj=None, cpg=None, legacy=None):
    base = os.path.splitext(path)[0]
    for ext in (".cpg", ".prj"):
        if os.path.exists(base + ext):
            os.remove(base + ext)
    if prj is not None:
        with open(base + ".prj", "w") as fp:
            fp.write(prj)
    if cpg is not None:
        with open(base + ".cpg", "w") as fp:
            fp.write(cpg)
    if legacy:
        legacy.patch(base + ".dbf")


def esri_wkt(code):
    s = srs_epsg(code)
    s.MorphToESRI()
    return s.ExportToWkt()


# ----------------------------------------------------------------------------------------------
# catalog (aliases must cover every source field name)


def load_catalog():
    root = os.path.join(os.path.dirname(HERE), "layers")
    cat = {}
    common = json.load(open(os.path.join(root, "common.json"), encoding="utf-8"))["fields"]
    for fn in os.listdir(root):
        if fn.endswith(".json") and fn != "common.json":
            d = json.load(open(os.path.join(root, fn), encoding="utf-8"))
            names = {}
            for f in d["fields"] + common:
                for a in [f["name"]] + f.get("aliases", []):
                    names[a] = f["name"]
            cat[d["id"]] = names
    return cat


def check_names(layer, names, extra, rel):
    for n in names:
        if n not in CATALOG[layer] and n not in extra:
            MISSING.append("%s: source field %r is not an alias of any %s field" % (rel, n, layer))


# ----------------------------------------------------------------------------------------------
# the demo city


COMMUNES = {"31135": "Phường Tân An", "31117": "Phường Cái Khế"}
CANAL_Y0, CANAL_Y1 = 1950.0, 1980.0      # Rach Cai Khe (canal), also the ward boundary (centre line)
CANAL_MID = 1965.0
BANK_X = 2700.0                          # west bank of Song Can Tho


def bank_x(y):
    return round(BANK_X + 18.0 * math.sin(y / 420.0), 2)


# roads: (id, name, axis, centre-line coordinate, class, current width = parcel-to-parcel, planned right-of-way)
ROADS = [
    ("NK-01", "Đường 30 Tháng 4", "V", 300.0, "do_thi_chinh", 24.0, 30.0),
    ("NK-02", "Đường Trần Hưng Đạo", "V", 1000.0, "do_thi_chinh", 25.0, 25.0),
    ("NK-03", "Đường Lý Tự Trọng", "V", 1700.0, "khu_vuc", 20.0, 20.0),
    ("NK-04", "Đường Hai Bà Trưng", "V", 2400.0, "khu_vuc", 16.0, 16.0),
    ("NK-05", "Đường Nguyễn Văn Cừ", "H", 300.0, "do_thi_chinh", 20.0, 40.0),
    ("NK-06", "Đường Mậu Thân", "H", 1100.0, "do_thi_chinh", 16.0, 30.0),
    ("NK-07", "Đường Trần Văn Khéo", "H", 1600.0, "khu_vuc", 16.0, 16.0),
    ("NK-08", "Đường Nguyễn Trãi", "H", 2400.0, "khu_vuc", 24.0, 24.0),
]
XS = [0.0, 300.0, 1000.0, 1700.0, 2400.0, BANK_X]
YS = [0.0, 300.0, 1100.0, 1600.0, CANAL_Y0, CANAL_Y1, 2400.0, SIZE]
DENSE = {(1, 1), (1, 4)}         # (column, row) of cells with small urban lots
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
            "Dương", "Lý", "Phan", "Trương", "Lâm", "Châu"]
MIDDLES = ["Văn", "Thị", "Minh", "Hoàng", "Ngọc", "Thanh", "Quốc", "Hữu", "Kim", "Thu", "Bảo", "Phước"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hạnh", "Hùng", "Lan", "Linh", "Minh", "Nam", "Ngọc", "Phúc",
         "Quang", "Thảo", "Trung", "Tuấn", "Vân", "Yến", "Khoa", "Thư", "Hiếu", "Tâm", "Nhân", "Phương",
         "Hải", "Giang", "Lộc", "Trí", "Nghĩa", "Hòa", "Sơn", "Đức", "Thủy", "Xuân"]


def road(rid):
    return next(r for r in ROADS if r[0] == rid)


def road_at(axis, c):
    for r in ROADS:
        if r[2] == axis and r[3] == c:
            return r
    return None


class City:
    def __init__(self, rng):
        self.rng = rng
        self.cells = []
        self.parcels = []
        self.build_cells()
        self.build_parcels()
        self.build_sheets()
        self.number_parcels()

    def person(self):
        r = self.rng
        return "%s %s %s" % (r.choice(SURNAMES), r.choice(MIDDLES), r.choice(GIVEN))

    def id_no(self):
        return "0920%08d" % self.rng.randrange(10 ** 8)

    def build_cells(self):
        """Cells between road centre lines / canal / river; parcel block = cell minus current road half width;
        zoning block = cell minus the planned right-of-way (red lines) or the waterway corridor."""
        for j in range(len(YS) - 1):
            y0, y1 = YS[j], YS[j + 1]
            if (y0, y1) == (CANAL_Y0, CANAL_Y1):
                continue
            for i in range(len(XS) - 1):
                x0, x1 = XS[i], XS[i + 1]
                sides = {"W": road_at("V", x0), "E": road_at("V", x1), "S": road_at("H", y0), "N": road_at("H", y1)}
                blk = [x0, y0, x1, y1]
                zon = [x0, y0, x1, y1]
                for k, idx, sign in (("W", 0, 1), ("S", 1, 1), ("E", 2, -1), ("N", 3, -1)):
                    r = sides[k]
                    if r:
                        blk[idx] += sign * r[5] / 2
                        zon[idx] += sign * r[6] / 2
                    elif (k == "N" and y1 == CANAL_Y0) or (k == "S" and y0 == CANAL_Y1):
                        blk[idx] += sign * 5.0        # canal bank path
                        zon[idx] += sign * 20.0       # waterway protection corridor
                    elif k == "E" and x1 == BANK_X:
                        blk[idx] -= 30.0              # river bank reserve (riverside park)
                        zon[idx] -= 30.0
                row = j if j < 4 else j - 1
                commune = "31135" if y1 <= CANAL_Y0 else "31117"
                self.cells.append({"col": i, "row": row, "sides": sides, "block": blk, "zone": zon,
                                   "commune": commune, "dense": (i, row) in DENSE})

    def build_parcels(self):
        rng = self.rng
        for cell in self.cells:
            x0, y0, x1, y1 = cell["block"]
            s = cell["sides"]
            dense = cell["dense"]

            def front(r):
                if r is None:
                    return None
                main = r[4] == "do_thi_chinh"
                if dense:
                    return (10.0, 20.0, rng.uniform(20, 26))
                if main:
                    return (40.0, 80.0, rng.uniform(30, 40))
                return None

            fr = {k: front(s[k]) for k in "WESN"}
            ds = fr["S"][2] if fr["S"] else 0.0
            dn = fr["N"][2] if fr["N"] else 0.0
            dw = fr["W"][2] if fr["W"] else 0.0
            de = fr["E"][2] if fr["E"] else 0.0
            if fr["S"]:
                xs = split(x0, x1, fr["S"][0], fr["S"][1], rng)
                for a, b in zip(xs, xs[1:]):
                    self.add_parcel(cell, rect(a, y0, b, round(y0 + ds, 2)), "front", s["S"])
            if fr["N"]:
                xs = split(x0, x1, fr["N"][0], fr["N"][1], rng)
                for a, b in zip(xs, xs[1:]):
                    self.add_parcel(cell, rect(a, round(y1 - dn, 2), b, y1), "front", s["N"])
            ys0, ys1 = round(y0 + ds, 2), round(y1 - dn, 2)
            if fr["W"]:
                ys = split(ys0, ys1, fr["W"][0], fr["W"][1], rng)
                for a, b in zip(ys, ys[1:]):
                    self.add_parcel(cell, rect(x0, a, round(x0 + dw, 2), b), "front", s["W"])
            if fr["E"]:
                ys = split(ys0, ys1, fr["E"][0], fr["E"][1], rng)
                for a, b in zip(ys, ys[1:]):
                    self.add_parcel(cell, rect(round(x1 - de, 2), a, x1, b), "front", s["E"])
            ix0, ix1 = round(x0 + dw, 2), round(x1 - de, 2)
            wmin, wmax = (50.0, 90.0) if dense else (120.0, 220.0)
            cols = split(ix0, ix1, wmin, wmax, rng)
            rows = split(ys0, ys1, wmin, wmax * 0.8, rng)
            for r, (a, b) in enumerate(zip(rows, rows[1:])):
                for c, (u, v) in enumerate(zip(cols, cols[1:])):
                    self.add_parcel(cell, rect(u, a, v, b), "interior", None, (r, c))

    def add_parcel(self, cell, pts, kind, road_, grid=None):
        rng = self.rng
        if kind == "front":
            codes = rng.choices(["ODT", "ODT+CLN", "TMD", "SKC", "ODT+TMD"], [62, 14, 15, 4, 5])[0]
        elif cell["dense"]:
            codes = rng.choices(["ODT", "ODT+CLN", "CLN", "TMD"], [45, 30, 20, 5])[0]
        else:
            codes = rng.choices(["CLN", "LUC", "BHK", "ODT+CLN", "NTS", "LUK"], [38, 20, 16, 16, 5, 5])[0]
        p = {"cell": cell, "local": pts, "kind": kind, "road": road_, "grid": grid, "codes": codes,
             "commune": cell["commune"]}
        p["geom"] = lpoly(pts)
        self.parcels.append(p)

    def build_sheets(self):
        self.sheets = []
        for commune, (ya, yb) in (("31135", (0.0, CANAL_MID)), ("31117", (CANAL_MID, SIZE))):
            n = 0
            nb = max(1, int(round((yb - ya) / 1000.0)))
            h = (yb - ya) / nb
            ybands = [(round(ya + i * h, 2), round(ya + (i + 1) * h, 2) if i < nb - 1 else yb) for i in range(nb)]
            for b0, b1 in reversed(ybands):           # numbered north to south, west to east
                for xa in (0.0, 1000.0, 2000.0):
                    n += 1
                    self.sheets.append({"commune": commune, "sheet_no": n, "local": rect(xa, b0, xa + 1000.0, b1),
                                        "geom": lpoly(rect(xa, b0, xa + 1000.0, b1)),
                                        "scale": 2000 if commune == "31117" else 1000,
                                        "survey_year": 2004 if commune == "31117" else 2012})

    def number_parcels(self):
        for p in self.parcels:
            cx, cy = centroid(p["geom"])
            p["centroid"] = (cx, cy)
            for sh in self.sheets:
                if sh["commune"] == p["commune"] and sh["geom"].Contains(point(cx, cy)):
                    p["sheet"] = sh
                    break
            else:
                raise RuntimeError("parcel outside every sheet")
        by_sheet = {}
        for p in self.parcels:
            by_sheet.setdefault((p["commune"], p["sheet"]["sheet_no"]), []).append(p)
        for key in sorted(by_sheet):
            ps = sorted(by_sheet[key], key=lambda p: (-round(p["centroid"][1], 1), round(p["centroid"][0], 1)))
            for n, p in enumerate(ps, 1):
                p["sheet_no"] = key[1]
                p["parcel_no"] = n
                p["key"] = "%s%03d%04d" % (p["commune"], key[1], n)


# ----------------------------------------------------------------------------------------------
# generator


class Gen:
    def __init__(self, out):
        self.out = out
        self.rng = random.Random(SEED)
        self.city = City(self.rng)
        self.sources = []
        self.defects = []
        self.truth_sources = []
        self.test_points = []

    # bookkeeping -----------------------------------------------------------------------------
    def source(self, rel, layer, count, declared_crs, true_crs, encoding, fmt, **pins):
        s = {"path": rel, "layer": layer}
        for k in ("crs", "encoding", "rename", "values", "defaults", "filter", "sheet"):
            if k in pins:
                s[k] = pins[k]
        self.sources.append(s)
        self.truth_sources.append({"file": rel, "layer": layer, "format": fmt, "features": count,
                                   "declared_crs": declared_crs, "true_crs": true_crs, "encoding": encoding})

    def defect(self, rel, layer, kind, expect, **kw):
        d = {"file": rel, "layer": layer, "kind": kind, "expect": expect}
        d.update(kw)
        self.defects.append(d)

    def crs_probe(self, rel, layer, e, n, raw):
        """A coordinate as written in the source and where it must land in EPSG:5897."""
        lon, lat = to_wgs(e, n)
        self.test_points.append({"kind": "source_crs", "file": rel, "layer": layer,
                                 "source_xy": [round(raw[0], 8), round(raw[1], 8)],
                                 "epsg5897": [round(e, 3), round(n, 3)], "wgs84": [round(lon, 9), round(lat, 9)]})

    # -------------------------------------------------------------------------------------------
    def run(self):
        c = self.city
        self.assign_facilities()
        self.parcels_main()
        self.parcels_tcvn3()
        self.parcels_dxf()
        self.cadastral_sheets()
        self.admin_units()
        self.geodetic_control()
        self.elevation_points()
        self.hydro()
        self.roads()
        self.buildings()
        self.public_facilities()
        self.land_cover()
        self.land_use_current()
        self.land_use_plan()
        self.land_price()
        self.plans()
        self.red_lines()
        self.infra()
        self.permits()
        self.vacant_land()
        self.investment_land()
        self.write_manifest_and_truth()
        return c

    # 11 cadastral parcels -------------------------------------------------------------------
    def dxf_sheet(self):
        return ("31135", 2)

    def parcels_main(self):
        c, rng = self.city, self.rng
        rel = "dia_chinh/tan_an_thua_dat.shp"
        dxf = self.dxf_sheet()
        ps = [p for p in c.parcels if p["commune"] == "31135" and (p["commune"], p["sheet_no"]) != dxf]
        rows = []
        # plant invalid geometries, null geometry, old and unknown codes on specific interior/front parcels
        fronts = [p for p in ps if p["kind"] == "front"]
        interior = [p for p in ps if p["kind"] == "interior"]
        planted = {}
        for kind, p in zip(["bowtie", "unclosed_ring", "duplicate_vertices", "zero_area", "hole_touching_shell",
                            "null_geometry"], rng.sample(fronts, 6)):
            planted[p["key"]] = kind
        old = rng.sample([p for p in interior if p["key"] not in planted and not p.get("facility")], 6)
        for p, code in zip(old, ["BHK", "NHK", "LUN", "BHK+ODT", "ODT+LUN", "NHK"]):
            p["codes"] = code
        unk = rng.sample([p for p in fronts if p["key"] not in planted], 3)
        for p, code in zip(unk, ["ODX", "ODT+QXZ", "TM"]):
            p["codes"] = code
            p["unknown"] = True
        for p in ps:
            geom = p["geom"]
            status = "ok"
            x0, y0 = p["local"][0]
            x1, y1 = p["local"][2]
            a, b, cc, d = ring_local(p["local"])
            kind = planted.get(p["key"])
            exp_area = geom.GetArea()
            if kind == "bowtie":
                geom = polygon([a, cc, b, d], close=True)
                exp_area = p["geom"].GetArea() / 2
                status = "repair"
            elif kind == "unclosed_ring":
                geom = polygon([a, b, cc, d], close=False)
                status = "repair"
            elif kind == "duplicate_vertices":
                geom = polygon([a, a, b, b, b, cc, d, d, a], close=False)
                status = "repair"
            elif kind == "zero_area":
                m = ((a[0] + b[0]) / 2, a[1])
                geom = polygon([a, m, b, a], close=False)
                exp_area = 0.0
                status = "reject"
            elif kind == "hole_touching_shell":
                # hole shares part of the west edge of the shell
                hx0, hx1 = x0, x0 + (x1 - x0) * 0.4
                hy0, hy1 = y0 + (y1 - y0) * 0.3, y0 + (y1 - y0) * 0.6
                hole = ring_local([(hx0, hy0), (hx0, hy1), (hx1, hy1), (hx1, hy0)])
                geom = polygon([a, b, cc, d], hole)
                exp_area = p["geom"].GetArea() - (hx1 - hx0) * (hy1 - hy0)
                status = "repair"
            elif kind == "null_geometry":
                geom = None
                exp_area = None
                status = "reject"
            p["status"] = status
            p["expected_area"] = exp_area
            p["source"] = rel
            if kind:
                self.defect(rel, "cadastral_parcels", kind,
                            {"repair": "make valid (GEOS MakeValid STRUCTURE), keep the feature",
                             "reject": "reject the feature with a finding"}[status],
                            key=p["key"], expected_area_m2=None if exp_area is None else round(exp_area, 3))
            legal = round(p["geom"].GetArea() * (1 + rng.uniform(-0.012, 0.012)), 1)
            p["legal_area"] = legal
            owner = c.person()
            p["owner"], p["owner_id"] = owner, c.id_no()
            p["address"] = self.parcel_address(p)
            p["certificate"] = rng.random() < 0.85
            rows.append((geom, {"MATHUA": p["key"], "MAXA": p["commune"], "SOTO": p["sheet_no"],
                                "SOTHUA": p["parcel_no"], "DIENTICH": legal, "LOAIDAT": p["codes"],
                                "DIACHI": p["address"], "COGCN": 1 if p["certificate"] else 0,
                                "SOGCN": ("CS%05d" % rng.randrange(100000)) if p["certificate"] else None,
                                "CHUSUDUNG": owner, "CMND": p["owner_id"]}))
        for kind in ("BHK", "NHK", "LUN"):
            self.defect(rel, "cadastral_parcels", "tt27_code", "map %s via crosswalk to %s (TT08_2024)" % (
                kind, {"BHK": "HNK", "NHK": "HNK", "LUN": "LUK"}[kind]),
                keys=[p["key"] for p in old if kind in p["codes"].split("+")])
        self.defect(rel, "cadastral_parcels", "unknown_code", "report the unknown code; keep the feature",
                    keys=[p["key"] for p in unk], values=[p["codes"] for p in unk])
        fields = [("MATHUA", "str", 12), ("MAXA", "str", 5), ("SOTO", "int", 4), ("SOTHUA", "int", 5),
                  ("DIENTICH", "real", 12), ("LOAIDAT", "str", 20), ("DIACHI", "str", 120), ("COGCN", "int", 1),
                  ("SOGCN", "str", 12), ("CHUSUDUNG", "str", 60), ("CMND", "str", 12)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPolygon, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="cadastral_parcels")
        finish_shp(path, prj=esri_wkt(5897), cpg="UTF-8")
        self.source(rel, "cadastral_parcels", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "ESRI Shapefile")

    def parcel_address(self, p):
        r = p["road"]
        if r is None:
            return "Khu vực %s, %s, quận Ninh Kiều" % (p["cell"]["row"] + 1, COMMUNES[p["commune"]].replace("Phường", "phường"))
        return "Số %d %s, %s, quận Ninh Kiều, thành phố Cần Thơ" % (
            p["parcel_no"] * 2 + (1 if self.rng.random() < 0.5 else 0), r[1], COMMUNES[p["commune"]].replace("Phường", "phường"))

    def parcels_tcvn3(self):
        c, rng = self.city, self.rng
        rel = "dia_chinh/cai_khe_thua_dat.shp"
        leg = Legacy("TCVN3", rel, "cadastral_parcels")
        ps = [p for p in c.parcels if p["commune"] == "31117"]
        rows = []
        for p in ps:
            legal = round(p["geom"].GetArea() * (1 + rng.uniform(-0.012, 0.012)), 1)
            p.update(status="ok", expected_area=p["geom"].GetArea(), source=rel, legal_area=legal)
            p["owner"], p["owner_id"] = c.person(), c.id_no()
            p["address"] = self.parcel_address(p)
            p["certificate"] = rng.random() < 0.7
            rows.append((p["geom"], {"_key": p["key"], "MA_THUA": p["key"], "MA_XA": p["commune"],
                                     "SO_TO": p["sheet_no"], "SO_THUA": p["parcel_no"],
                                     "DIEN_TICH": vn_number(legal), "LOAI_DAT": p["codes"], "DIA_CHI": p["address"],
                                     "CHU_SD": p["owner"], "SOCMND": p["owner_id"]}))
        fields = [("MA_THUA", "str", 12), ("MA_XA", "str", 5), ("SO_TO", "int", 4), ("SO_THUA", "int", 5),
                  ("DIEN_TICH", "str", 14), ("LOAI_DAT", "str", 20), ("DIA_CHI", "str", 120),
                  ("CHU_SD", "str", 60), ("SOCMND", "str", 12)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPolygon, fields, rows,
                         lco=["ENCODING=", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], legacy=leg, catalog_layer="cadastral_parcels")
        finish_shp(path, prj=esri_wkt(5897), legacy=leg)
        self.source(rel, "cadastral_parcels", len(rows), "EPSG:5897", "EPSG:5897", "TCVN3", "ESRI Shapefile")
        self.defect(rel, "cadastral_parcels", "encoding_tcvn3_no_cpg",
                    "detect TCVN3 (no .cpg, LDID 0); store NFC UTF-8 equal to truth.legacy_text")
        self.defect(rel, "cadastral_parcels", "vn_number_format",
                    "parse DIEN_TICH text like '1.234,5' as 1234.5 (dot = thousands, comma = decimal)",
                    examples=[r[1]["DIEN_TICH"] for r in rows[:3]])

    def parcels_dxf(self):
        c = self.city
        commune, sheet = self.dxf_sheet()
        rel = "dia_chinh/tan_an_to_%03d.dxf" % sheet
        ps = [p for p in c.parcels if (p["commune"], p["sheet_no"]) == (commune, sheet)]
        ents = []
        truth_text = []
        for i, p in enumerate(ps):
            if p["parcel_no"] == 3:
                p["codes"] = "LUN"
            p.update(status="ok", expected_area=p["geom"].GetArea(), source=rel, legal_area=None, owner=c.person(),
                     owner_id=None, address=None, certificate=None)
            ring = ring_local(p["local"])
            ents.append(("LWPOLYLINE", "THUADAT", ring))
            cx, cy = p["centroid"]
            ents.append(("TEXT", "SOTHUA", (cx - 2.0, cy + 1.0), str(p["parcel_no"]), 1.5))
            ents.append(("TEXT", "LOAIDAT", (cx - 2.0, cy - 1.0), p["codes"], 1.2))
            ents.append(("TEXT", "CHUSUDUNG", (cx - 4.0, cy - 3.0), p["owner"], 0.8))
            truth_text.append((p["key"], "CHUSUDUNG", p["owner"]))
        sh = next(s for s in c.sheets if (s["commune"], s["sheet_no"]) == (commune, sheet))
        fx0, fy0 = sh["local"][0]
        title = "Tờ bản đồ địa chính số %d - phường Tân An - quận Ninh Kiều" % sheet
        ents.append(("LWPOLYLINE", "KHUNG", ring_local(sh["local"])))
        ents.append(("TEXT", "GHICHU", W(fx0 + 20, sh["local"][2][1] + 15), title, 6.0))
        truth_text.append(("title", "GHICHU", title))
        for r in ROADS:
            if r[2] == "H" and fy0 <= r[3] <= sh["local"][2][1]:
                ents.append(("TEXT", "GHICHU", W(fx0 + 400, r[3] - 2), r[1], 4.0))
                truth_text.append(("road", "GHICHU", r[1]))
            if r[2] == "V" and fx0 <= r[3] <= sh["local"][1][0]:
                ents.append(("TEXT", "GHICHU", W(r[3] + 2, fy0 + 500), r[1], 4.0))
                truth_text.append(("road", "GHICHU", r[1]))
        path = os.path.join(self.out, rel)
        write_dxf(path, ents)
        for key, layer, s in truth_text:
            TRUTH_LEGACY.append({"file": rel, "layer": "cadastral_parcels", "encoding": "TCVN3",
                                 "source_field": "TEXT@" + layer, "key": key, "value": nfc(s),
                                 "bytes_hex": encode_legacy(s, "TCVN3").hex()})
        self.source(rel, "cadastral_parcels", len(ps), None, "EPSG:5897", "TCVN3", "DXF", crs="EPSG:5897",
                    filter="Layer = 'THUADAT'",
                    defaults={"commune_code": commune, "sheet_no": sheet})
        self.defect(rel, "cadastral_parcels", "cad_drawing",
                    "closed LWPOLYLINEs on layer THUADAT are parcels; TEXT on layers SOTHUA / LOAIDAT / CHUSUDUNG "
                    "inside a polygon give parcel_no / lu_display / owner_name; no CRS (pinned EPSG:5897); "
                    "commune and sheet from the manifest defaults", parcels=len(ps))
        self.defect(rel, "cadastral_parcels", "encoding_tcvn3_dxf",
                    "TEXT values are TCVN3 bytes although $DWGCODEPAGE says ANSI_1252: GDAL returns CP1252 "
                    "mojibake; decode back to NFC (truth.legacy_text)")
        self.defect(rel, "cadastral_parcels", "tt27_code", "LUN -> LUK", keys=[p["key"] for p in ps if p["codes"] == "LUN"])

    # 10 cadastral sheets ----------------------------------------------------------------------
    def cadastral_sheets(self):
        rel = "dia_chinh/manh_ban_do.shp"
        rows = []
        for s in self.city.sheets:
            rows.append((s["geom"], {"MATO": "%s%03d" % (s["commune"], s["sheet_no"]), "MAXA": s["commune"],
                                     "SOTO": s["sheet_no"], "TYLE": s["scale"],
                                     "PHIENHIEU": "%d-%d-(%d)" % (int(N0 / 1000) + int(s["local"][0][1] / 1000),
                                                                  int(E0 / 1000), s["sheet_no"]),
                                     "KTTRUC": 105.0, "NAMDO": s["survey_year"]}))
        fields = [("MATO", "str", 8), ("MAXA", "str", 5), ("SOTO", "int", 4), ("TYLE", "int", 6),
                  ("PHIENHIEU", "str", 20), ("KTTRUC", "real", 8), ("NAMDO", "int", 4)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPolygon, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="cadastral_sheets")
        finish_shp(path, prj=esri_wkt(5897), cpg="UTF-8")
        self.source(rel, "cadastral_sheets", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "ESRI Shapefile")

    # 2 admin units: GeoJSON WGS 84 (official op), NFD text -------------------------------------
    def admin_units(self):
        rel = "hanh_chinh/don_vi_hanh_chinh.geojson"
        south = lpoly([(0, 0), (SIZE, 0), (SIZE, CANAL_MID), (0, CANAL_MID)])
        north = lpoly([(0, CANAL_MID), (SIZE, CANAL_MID), (SIZE, SIZE), (0, SIZE)])
        district = lpoly(rect(0, 0, SIZE, SIZE))
        province = lpoly(rect(-4000, -5000, SIZE + 3000, SIZE + 4000))
        units = [
            (province, "92", "Thành phố Cần Thơ", 1, "Thành phố trực thuộc trung ương", None, None, None, 1235171),
            (district, "916", "Quận Ninh Kiều", 2, "Quận", "92", None, "2025/06/30", 280494),
            (south, "31135", "Phường Tân An", 3, "Phường", "916", None, "2025/06/30", 21456),
            (north, "31117", "Phường Cái Khế", 3, "Phường", "916", None, "2025/06/30", 25863),
        ]
        rows = []
        self.admin = []
        for g, code, name, level, typ, parent, vf, vt, pop in units:
            self.admin.append((code, name, level, g))
            wg = transformed(multi(g), CT_TO_WGS)
            rows.append((wg, {"ma": code, "ten": unicodedata.normalize("NFD", name), "cap": level,
                              "loai": unicodedata.normalize("NFD", typ), "MA_CHA": parent, "DENNGAY": vt, "danso": pop}))
        fields = [("ma", "str", 0), ("ten", "str", 0), ("cap", "int", 0), ("loai", "str", 0), ("MA_CHA", "str", 0),
                  ("DENNGAY", "date", 0), ("danso", "int", 0)]
        write_ogr(self.out, rel, "GeoJSON", "don_vi_hanh_chinh", SRS_4326, ogr.wkbMultiPolygon, fields, rows,
                  lco=["COORDINATE_PRECISION=9", "RFC7946=NO", "WRITE_NAME=NO"], catalog_layer="admin_units")
        self.source(rel, "admin_units", len(rows), "EPSG:4326", "EPSG:4326", "UTF-8 NFD", "GeoJSON")
        self.defect(rel, "admin_units", "unicode_nfd", "normalise 'ten' and 'loai' to NFC",
                    values=[u[2] for u in units])
        self.defect(rel, "admin_units", "wgs84_official_op",
                    "reproject EPSG:4326 -> EPSG:5897 with the official op (EPSG:6960), not PROJ's default 5194")
        g = south
        e, n = inner_point(g)
        lon, lat = to_wgs(e, n)
        self.crs_probe(rel, "admin_units", e, n, (lon, lat))

    # 1 geodetic control: CSV, X = northing, Y = easting ----------------------------------------
    def geodetic_control(self):
        rng = self.rng
        rel = "khong_che/diem_khong_che.csv"
        grades = [("III", "qg_III"), ("DCCS", "dc_co_so"), ("DCCS", "dc_co_so"), ("DC", "dia_chinh")]
        lines = ["So hieu diem,X,Y,H,Cap hang"]
        self.controls = []
        pts = [(150, 150), (1500, 200), (2900, 150), (200, 1500), (1350, 1350), (2550, 1450), (120, 2500),
               (1350, 2700), (2550, 2600), (900, 900), (2050, 850), (650, 2150)]
        for i, (x, y) in enumerate(pts):
            src, code = grades[0] if i in (0, 8) else grades[1 + i % 3]
            e, n = W(x + rng.uniform(-20, 20), y + rng.uniform(-20, 20))
            h = round(rng.uniform(1.2, 2.6), 3)
            no = ("%s-%02d" % ("CT" if src == "III" else ("DCCS" if src == "DCCS" else "DC"), i + 1))
            lines.append("%s,%.3f,%.3f,%.3f,%s" % (no, n, e, h, src))
            lon, lat = to_wgs(e, n)
            self.controls.append({"point_no": no, "grade": code, "x_n": round(n, 3), "y_e": round(e, 3), "h_m": h})
            self.test_points.append({"kind": "control_point", "file": rel, "layer": "geodetic_control", "point_no": no,
                                     "epsg5897": [round(e, 3), round(n, 3)], "wgs84": [round(lon, 9), round(lat, 9)],
                                     "source_xy": [round(n, 3), round(e, 3)]})
        check_names("geodetic_control", ["So hieu diem", "X", "Y", "H", "Cap hang"], (), rel)
        write_text(os.path.join(self.out, rel), "\r\n".join(lines) + "\r\n")
        self.source(rel, "geodetic_control", len(pts), None, "EPSG:5897", "ASCII", "CSV", crs="EPSG:5897",
                    values={"grade": {"III": "qg_III", "DCCS": "dc_co_so", "DC": "dia_chinh"}})
        self.defect(rel, "geodetic_control", "xy_swapped",
                    "X column is northing (~1 109 xxx), Y is easting (~586 xxx): swap before building points")

    # 3 elevation points: shapefile without .prj -------------------------------------------------
    def elevation_points(self):
        rng = self.rng
        rel = "dia_hinh/diem_do_cao.shp"
        rows = []
        for i in range(60):
            x, y = rng.uniform(30, 2650), rng.uniform(30, 2970)
            if CANAL_Y0 - 5 < y < CANAL_Y1 + 5:
                y += 40
            rows.append((point(*W(x, y)), {"DOCAO": round(rng.uniform(0.9, 2.4), 2), "LOAI": "ghi_chu"}))
        for x in (400, 1200, 2000):
            rows.append((point(*W(x, CANAL_MID)), {"DOCAO": round(rng.uniform(-3.5, -1.8), 2), "LOAI": "day_kenh"}))
        for cp in self.controls[:4]:
            rows.append((point(cp["y_e"], cp["x_n"]), {"DOCAO": cp["h_m"], "LOAI": "khong_che"}))
        bad = (point(*W(1800, 700)), {"DOCAO": 9999.0, "LOAI": "ghi_chu"})
        rows.insert(17, bad)
        fields = [("DOCAO", "real", 10), ("LOAI", "str", 12)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, None, ogr.wkbPoint, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="elevation_points")
        finish_shp(path, prj=None, cpg="UTF-8")
        self.source(rel, "elevation_points", len(rows), None, "EPSG:5897", "UTF-8", "ESRI Shapefile")
        self.defect(rel, "elevation_points", "missing_prj",
                    "no .prj: infer EPSG:5897 from the coordinate range (E ~585-588 km, N ~1108-1111 km, Can Tho)")
        self.defect(rel, "elevation_points", "out_of_range",
                    "DOCAO = 9999 (no-data marker) is outside elev_m [-50, 3200]: reject the feature with a finding",
                    fid=17)
        e, n = W(1200, CANAL_MID)  # a kept point (the 9999 one is rejected)
        self.crs_probe(rel, "elevation_points", e, n, (e, n))

    # 4/5 hydrography ---------------------------------------------------------------------------
    def hydro(self):
        # river polygon, wavy west bank, clipped to the demo area
        ys = [i * 100.0 for i in range(31)]
        river = lpoly([(bank_x(y), y) for y in ys] + [(SIZE, SIZE), (SIZE, 0.0)])
        canal = lpoly([(0.0, CANAL_Y0), (bank_x(CANAL_Y0) + 1, CANAL_Y0), (bank_x(CANAL_Y1) + 1, CANAL_Y1),
                       (0.0, CANAL_Y1)])
        # ponds inside two rural cells
        ponds = []
        for cell in self.city.cells:
            if (cell["col"], cell["row"]) in ((3, 2), (0, 5)):
                x0, y0, x1, y1 = cell["block"]
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                ponds.append(lpoly([(cx + 25 * math.cos(a / 8 * 2 * math.pi), cy + 18 * math.sin(a / 8 * 2 * math.pi))
                                    for a in range(8)]))
        self.river, self.canal = river, canal
        rel = "thuy_he/thuy_he_vung.tab"
        leg = Legacy("CP1258", rel, "hydro_areas")
        rows = [(multi(river), {"TEN": "Sông Cần Thơ", "LOAI": "song", "MDSD": "SON"}),
                (multi(canal), {"TEN": "Rạch Cái Khế", "LOAI": "rach", "MDSD": "SON"})]
        for i, p in enumerate(ponds):
            rows.append((multi(p), {"TEN": "Ao cá số %d" % (i + 1), "LOAI": "ao", "MDSD": "MNC"}))
        for i, r in enumerate(rows):
            r[1]["_key"] = i
        fields = [("TEN", "str", 40), ("LOAI", "str", 10), ("MDSD", "str", 6)]
        path = write_ogr(self.out, rel, "MapInfo File", "thuy_he_vung", SRS_5897, ogr.wkbMultiPolygon, fields, rows,
                         lco=["ENCODING="], legacy=leg, catalog_layer="hydro_areas")
        leg.patch(path[:-4] + ".dat")
        tab = open(path, "rb").read().replace(b"Neutral", b"WindowsVietnamese")
        open(path, "wb").write(tab)
        self.source(rel, "hydro_areas", len(rows), "MapInfo Earth Projection 8, 104 (WGS 84 datum)", "EPSG:5897",
                    "CP1258", "MapInfo TAB")
        self.defect(rel, "hydro_areas", "encoding_cp1258_tab",
                    "!charset WindowsVietnamese: GDAL returns raw CP1258 bytes; decode to NFC (truth.legacy_text)")
        self.defect(rel, "hydro_areas", "mapinfo_datum_lost",
                    "CoordSys says TM-3 105 with datum 104 (WGS 84): really VN-2000, treat as EPSG:5897")
        e, n = inner_point(canal)
        self.crs_probe(rel, "hydro_areas", e, n, (e, n))

        # hydro lines: GeoPackage in EPSG:9209 (ex-Soc Trang zone), correctly labelled
        rel = "thuy_he/thuy_he_duong.gpkg"
        lines_ = []
        lines_.append((lline([(bank_x(y), y) for y in ys]), {"ten": "Sông Cần Thơ", "loai": "duong_bo", "berong": None}))
        lines_.append((lline([(0.0, CANAL_Y0), (bank_x(CANAL_Y0), CANAL_Y0)]), {"ten": "Rạch Cái Khế", "loai": "duong_bo", "berong": None}))
        lines_.append((lline([(0.0, CANAL_Y1), (bank_x(CANAL_Y1), CANAL_Y1)]), {"ten": "Rạch Cái Khế", "loai": "duong_bo", "berong": None}))
        k = 0
        for cell in self.city.cells:
            if cell["dense"]:
                continue
            ip = [p for p in self.city.parcels if p["cell"] is cell and p["kind"] == "interior"]
            cols = sorted({p["local"][0][0] for p in ip})[1:]
            for x in cols[:2]:
                ylo = min(p["local"][0][1] for p in ip)
                yhi = max(p["local"][2][1] for p in ip)
                k += 1
                lines_.append((lline([(x, ylo), (x, yhi)]), {"ten": "Mương số %d" % k, "loai": "kenh_muong",
                                                             "berong": round(self.rng.uniform(1.5, 3.0), 1)}))
        rows = [(transformed(multi(g), CT_TO[9209]), a) for g, a in lines_]
        fields = [("ten", "str", 0), ("loai", "str", 0), ("berong", "real", 0)]
        path = write_ogr(self.out, rel, "GPKG", "thuy_he_duong", srs_epsg(9209), ogr.wkbMultiLineString, fields, rows,
                         catalog_layer="hydro_lines")
        fix_gpkg(path)
        self.source(rel, "hydro_lines", len(rows), "EPSG:9209", "EPSG:9209", "UTF-8", "GeoPackage")
        self.defect(rel, "hydro_lines", "other_tm3_zone",
                    "EPSG:9209 (TM-3 105-30, ex-Soc Trang grid): reproject to EPSG:5897 (same datum, projection only)")
        g = lines_[1][0]
        e, n = g.GetX(0), g.GetY(0)
        raw = CT_TO[9209].TransformPoint(e, n)
        self.crs_probe(rel, "hydro_lines", e, n, raw[:2])

    # 6 roads: .prj says WGS 84 datum with TM-3 parameters ------------------------------------
    def roads(self):
        rel = "giao_thong/tim_duong.shp"
        rows = []
        for rid, name, axis, cc, cls, width, row in ROADS:
            if axis == "H":
                pts = [(0.0, cc), (bank_x(cc) - 30 if cls == "do_thi_chinh" else bank_x(cc) - 30, cc)]
                rows.append((multi(lline(pts)), {"MADUONG": rid, "TENDUONG": name, "CAPDUONG": cls, "RONGMAT": width,
                                                 "LOGIOI": row, "CAU": 0}))
            else:
                for a, b, bridge in ((0.0, CANAL_Y0 - 10, 0), (CANAL_Y0 - 10, CANAL_Y1 + 10, 1), (CANAL_Y1 + 10, SIZE, 0)):
                    rows.append((multi(lline([(cc, a), (cc, b)])),
                                 {"MADUONG": rid, "TENDUONG": ("Cầu Cái Khế" if bridge and rid == "NK-01" else name),
                                  "CAPDUONG": cls, "RONGMAT": width, "LOGIOI": row, "CAU": bridge}))
        # riverside promenade and an alley
        rows.append((multi(lline([(bank_x(y) - 15, y) for y in [i * 100.0 for i in range(20, 31)]])),
                     {"MADUONG": "NK-09", "TENDUONG": "Đường Ven Sông", "CAPDUONG": "noi_bo", "RONGMAT": 6.0,
                      "LOGIOI": 12.0, "CAU": 0}))
        fields = [("MADUONG", "str", 8), ("TENDUONG", "str", 60), ("CAPDUONG", "str", 16), ("RONGMAT", "real", 6),
                  ("LOGIOI", "real", 6), ("CAU", "int", 1)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbLineString, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="roads")
        finish_shp(path, prj=PRJ_WGS84_TM3, cpg="UTF-8")
        self.source(rel, "roads", len(rows), "WGS 84 datum + Transverse_Mercator 105/0.9999/500000 (no EPSG match)",
                    "EPSG:5897", "UTF-8", "ESRI Shapefile")
        self.defect(rel, "roads", "prj_wgs84_tm3",
                    ".prj has DATUM WGS_1984 with TM-3 parameters (lon_0 105, k 0.9999, FE 500000): really VN-2000 "
                    "TM-3 = EPSG:5897; do not shift by the datum difference (~226 m)")
        e, n = W(300, 500)
        self.crs_probe(rel, "roads", e, n, (e, n))

    # 7 buildings: VN-2000 / UTM 48N numbers under a TM-3 .prj ---------------------------------
    def buildings(self):
        rng = self.rng
        rel = "xay_dung/nha.shp"
        rows = []
        self.building_list = []
        for p in self.city.parcels:
            if p["kind"] != "front" or not p["cell"]["dense"] or p.get("status") not in ("ok",):
                continue
            if rng.random() > 0.45:
                continue
            (x0, y0), (x1, y1) = p["local"][0], p["local"][2]
            r = p["road"]
            # road side: setback 0-2 m, back 4-6 m, sides 0.3 m
            sb, bb = rng.uniform(0, 2), rng.uniform(4, 6)
            if r[2] == "H" and abs(y0 - (r[3] + r[5] / 2)) < 0.5:
                b = (x0 + 0.3, y0 + sb, x1 - 0.3, y1 - bb)
            elif r[2] == "H":
                b = (x0 + 0.3, y0 + bb, x1 - 0.3, y1 - sb)
            elif abs(x0 - (r[3] + r[5] / 2)) < 0.5:
                b = (x0 + sb, y0 + 0.3, x1 - bb, y1 - 0.3)
            else:
                b = (x0 + bb, y0 + 0.3, x1 - sb, y1 - 0.3)
            floors = rng.choice([1, 2, 2, 3, 3, 4, 5])
            g = lpoly(rect(*[round(v, 2) for v in b]))
            kind = "thuong_mai" if "TMD" in p["codes"] else "nha_rieng"
            self.building_list.append((p, g))
            rows.append((transformed(g, CT_TO[3405]),
                         {"LOAINHA": kind, "SOTANG": floors, "CHIEUCAO": round(floors * 3.6 + 0.5, 1),
                          "KETCAU": "kien_co" if floors > 1 else rng.choice(["ban_kien_co", "kien_co"]),
                          "MATHUA": p["key"]}))
        fields = [("LOAINHA", "str", 12), ("SOTANG", "int", 3), ("CHIEUCAO", "real", 6), ("KETCAU", "str", 12),
                  ("MATHUA", "str", 12)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPolygon, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="buildings")
        finish_shp(path, prj=esri_wkt(5897), cpg="UTF-8")
        self.source(rel, "buildings", len(rows), "EPSG:5897", "EPSG:3405", "UTF-8", "ESRI Shapefile")
        self.defect(rel, "buildings", "utm_labelled_tm3",
                    "coordinates are VN-2000 / UTM 48N (EPSG:3405, k 0.9996) but the .prj says EPSG:5897: read as "
                    "5897 they land ~333 m south of their parcels; detect by overlay with cadastral_parcels and "
                    "reinterpret as EPSG:3405")
        p, g = self.building_list[0]
        e, n = centroid(g)
        raw = CT_TO[3405].TransformPoint(e, n)
        self.crs_probe(rel, "buildings", e, n, raw[:2])

    # 8 public facilities: VN-2000 lon/lat labelled WGS 84 ------------------------------------
    def assign_facilities(self):
        """Give some interior parcels public-use codes (before any parcel source is written)."""
        rng = self.rng
        specials = [("TSC", "ubnd", "Ủy ban nhân dân phường %s"), ("DGD", "truong", "Trường Tiểu học %s"),
                    ("DGD", "truong", "Trường THCS %s"), ("DYT", "tram_y_te", "Trạm Y tế phường %s"),
                    ("DYT", "benh_vien", "Bệnh viện Đa khoa %s"), ("DCH", "cho", "Chợ %s"),
                    ("TON", "chua", "Chùa %s"), ("TIN", "dinh_mieu", "Đình %s"), ("TSC", "cong_an", "Công an phường %s"),
                    ("DBV", "buu_dien", "Bưu điện %s"), ("DVH", "nha_van_hoa", "Nhà văn hóa khu vực %s"),
                    ("DTT", "the_thao", "Sân thể thao %s")]
        names = {"31135": "Tân An", "31117": "Cái Khế"}
        ip = [p for p in self.city.parcels if p["kind"] == "interior" and p["codes"] in ("CLN", "ODT")
              and (p["commune"], p["sheet_no"]) != self.dxf_sheet()]
        self.facility_plan = []
        for i, p in enumerate(rng.sample(ip, 2 * len(specials))):
            code, kind, fmt = specials[i % len(specials)]
            p["codes"] = code
            p["facility"] = True
            name = fmt % names[p["commune"]]
            if i >= len(specials):
                name += " (cơ sở 2)"
            self.facility_plan.append((p, kind, name))

    def public_facilities(self):
        rel = "cong_trinh/cong_trinh_cong_cong.geojson"
        rows = []
        self.facilities = []
        for p, kind, name in self.facility_plan:
            e, n = inner_point(p["geom"])
            lon, lat, _ = CT_TO_4756.TransformPoint(e, n)
            self.facilities.append((p, kind, name, e, n))
            rows.append((point(lon, lat), {"ten": name, "loai": kind, "diachi": self.parcel_address(p),
                                           "maxa": p["commune"]}))
        fields = [("ten", "str", 0), ("loai", "str", 0), ("diachi", "str", 0), ("maxa", "str", 0)]
        write_ogr(self.out, rel, "GeoJSON", "cong_trinh_cong_cong", SRS_4326, ogr.wkbPoint, fields, rows,
                  lco=["COORDINATE_PRECISION=9", "RFC7946=NO", "WRITE_NAME=NO"], catalog_layer="public_facilities")
        self.source(rel, "public_facilities", len(rows), "EPSG:4326", "EPSG:4756", "UTF-8", "GeoJSON")
        self.defect(rel, "public_facilities", "vn2000_geographic_as_wgs84",
                    "lon/lat are VN-2000 geographic (EPSG:4756) written as WGS 84: read as 4326 they are ~226 m "
                    "off (about 196 m W, 112 m N); detect by overlay (each point lies in a parcel with a public-use code)")
        p, kind, name, e, n = self.facilities[0]
        lon, lat, _ = CT_TO_4756.TransformPoint(e, n)
        self.crs_probe(rel, "public_facilities", e, n, (lon, lat))

    # 9 land cover: 5897 numbers under a 9210 .prj ----------------------------------------------
    def land_cover(self):
        rel = "phu_be_mat/phu_be_mat.shp"
        cover_of = {"CLN": "cay_lau_nam", "LUC": "lua", "LUK": "lua", "LUN": "lua", "BHK": "cay_hang_nam",
                    "NHK": "cay_hang_nam", "NTS": "mat_nuoc"}
        groups = {}
        for p in self.city.parcels:
            if p["status"] == "reject":
                continue
            cov = cover_of.get(p["codes"].split("+")[0], "xay_dung")
            groups.setdefault((p["cell"]["col"], p["cell"]["row"], cov), []).append(p["geom"])
        rows = []
        for key in sorted(groups):
            u = union_all(groups[key])
            rows.append((multi_poly(u), {"LOAIPHU": key[2], "NAM": 2023}))
        rows.append((multi(self.river), {"LOAIPHU": "mat_nuoc", "NAM": 2023}))
        rows.append((multi(self.canal), {"LOAIPHU": "mat_nuoc", "NAM": 2023}))
        fields = [("LOAIPHU", "str", 16), ("NAM", "int", 4)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPolygon, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="land_cover")
        finish_shp(path, prj=esri_wkt(9210), cpg="UTF-8")
        self.source(rel, "land_cover", len(rows), "EPSG:9210", "EPSG:5897", "UTF-8", "ESRI Shapefile")
        self.defect(rel, "land_cover", "wrong_central_meridian",
                    ".prj declares EPSG:9210 (TM-3 105-45, HCMC) but the numbers are EPSG:5897 (105-00, Can Tho): "
                    "read as declared the layer lands ~82 km east, outside the city; reinterpret as EPSG:5897")
        e, n = inner_point(rows[0][0])
        self.crs_probe(rel, "land_cover", e, n, (e, n))

    # 12 current land use: MIF/MID, VNI-Windows, names instead of codes ------------------------
    def land_use_current(self):
        rel = "hien_trang/hien_trang_sdd.mif"
        leg = Legacy("VNI-Windows", rel, "land_use_current")
        names = lu_names("TT27_2018")
        groups = {}
        for p in self.city.parcels:
            if p["status"] == "reject" or p.get("unknown"):
                continue
            groups.setdefault((p["cell"]["col"], p["cell"]["row"], p["codes"].split("+")[0]), []).append(p["geom"])
        rows = []
        truth = []
        for i, key in enumerate(sorted(groups)):
            code = key[2]
            u = union_all(groups[key])
            cell = next(c for c in self.city.cells if (c["col"], c["row"]) == key[:2])
            rows.append((multi_poly(u), {"_key": i, "LOAIDAT": names[code], "NAMKK": 2019, "MAXA": cell["commune"],
                                         "DIENTICH": round(u.GetArea(), 1)}))
            truth.append({"fid": i, "source_value": names[code], "tt27": code, "expected": CROSS.get(code, code)})
        for g, nm in ((self.river, "SON"), (self.canal, "SON")):
            rows.append((multi(g), {"_key": len(rows), "LOAIDAT": names[nm], "NAMKK": 2019, "MAXA": "31135",
                                    "DIENTICH": round(g.GetArea(), 1)}))
            truth.append({"fid": len(rows) - 1, "source_value": names[nm], "tt27": nm, "expected": nm})
        fields = [("LOAIDAT", "str", 80), ("NAMKK", "int", 4), ("MAXA", "str", 5), ("DIENTICH", "real", 12)]
        path = write_ogr(self.out, rel, "MapInfo File", "hien_trang_sdd", SRS_5897, ogr.wkbMultiPolygon, fields, rows,
                         dsco=["FORMAT=MIF"], lco=["ENCODING="], legacy=leg, catalog_layer="land_use_current")
        leg.patch(path[:-4] + ".mid")
        mif = open(path, "rb").read().replace(b'Charset "Neutral"', b'Charset "WindowsLatin1"')
        open(path, "wb").write(mif)
        self.lu_current_truth = truth
        self.source(rel, "land_use_current", len(rows), "MapInfo Earth Projection 8, 104 (WGS 84 datum)", "EPSG:5897",
                    "VNI-Windows", "MapInfo MIF/MID")
        self.defect(rel, "land_use_current", "encoding_vni_as_latin1",
                    "Charset WindowsLatin1 but the bytes are VNI-Windows: GDAL returns CP1252 mojibake "
                    "('Ñaát ôû taïi ñoâ thò'); map back to bytes and decode VNI (truth.legacy_text)")
        self.defect(rel, "land_use_current", "code_as_name",
                    "LOAIDAT holds TT27 Vietnamese names ('Đất ở tại đô thị') instead of codes: match the code "
                    "list names, then crosswalk to TT08_2024 (truth.land_use_current)")

    # 13 land-use plan: TT27 codes, unknown codes, dd/mm/yyyy dates ---------------------------
    def land_use_plan(self):
        rng = self.rng
        rel = "quy_hoach_sdd/quy_hoach_sdd_2030.shp"
        rows = []
        self.lup_truth = []
        targets = ["ODT", "ODT", "TMD", "DGD", "DKV", "ODT", "DGT", "DTT", "DSH", "DDL"]
        cells = [c for c in self.city.cells if not c["dense"]]
        k = 0
        for cell in cells:
            ip = [p for p in self.city.parcels if p["cell"] is cell and p["kind"] == "interior"
                  and p["status"] == "ok" and p["codes"] in ("CLN", "LUC", "BHK", "NTS", "LUK", "NHK")]
            if not ip:
                continue
            rng.shuffle(ip)
            for p in ip[:2]:
                tgt = targets[k % len(targets)]
                k += 1
                rows.append((p["geom"].Clone(), {"MDQH": tgt, "MDHT": p["codes"], "LOAIQH": "QH", "NAMQH": 2030,
                                                 "KYQH": "2021-2030", "TENDUAN": None, "SOQD": "QĐ 456/QĐ-UBND",
                                                 "NGAYQD": "28/02/2022", "MAXA": p["commune"]}))
        # road widening of Mau Than (annual plan 2025): strips between the current edge and the red line
        r = road("NK-06")
        for side in (-1, 1):
            y0 = r[3] + side * r[5] / 2
            y1 = r[3] + side * r[6] / 2
            g = lpoly(rect(0, min(y0, y1), XS[-1] - 30, max(y0, y1)))
            rows.append((g, {"MDQH": "DGT", "MDHT": "ODT", "LOAIQH": "KH", "NAMQH": 2025, "KYQH": "2025",
                             "TENDUAN": "Mở rộng đường Mậu Thân", "SOQD": "QĐ 3120/QĐ-UBND", "NGAYQD": "30/12/2024",
                             "MAXA": "31135"}))
        # unknown codes
        rows[3][1]["MDQH"] = "ODX"
        rows[7][1]["MDQH"] = "K1"
        for i, (g, a) in enumerate(rows):
            # an unknown code is kept as the source wrote it (issue 16), flagged in the findings
            exp_plan = a["MDQH"] if a["MDQH"] in ("ODX", "K1") else CROSS.get(a["MDQH"], a["MDQH"])
            self.lup_truth.append({"fid": i, "MDQH": a["MDQH"], "expected_plan_code": exp_plan,
                                   "MDHT": a["MDHT"], "expected_current_code": CROSS.get(a["MDHT"], a["MDHT"]),
                                   "decision_date": dmy_to_iso(a["NGAYQD"])})
        fields = [("MDQH", "str", 8), ("MDHT", "str", 8), ("LOAIQH", "str", 2), ("NAMQH", "int", 4), ("KYQH", "str", 10),
                  ("TENDUAN", "str", 80), ("SOQD", "str", 30), ("NGAYQD", "str", 10), ("MAXA", "str", 5)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPolygon, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="land_use_plan")
        finish_shp(path, prj=esri_wkt(5897), cpg="UTF-8")
        self.source(rel, "land_use_plan", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "ESRI Shapefile")
        old = sorted({a[k] for g, a in rows for k in ("MDQH", "MDHT") if a[k] in CROSS})
        self.defect(rel, "land_use_plan", "tt27_code",
                    "MDQH/MDHT use TT27 codes (%s): crosswalk to TT08_2024 (truth.land_use_plan)" % ", ".join(old))
        self.defect(rel, "land_use_plan", "unknown_code", "MDQH 'ODX' and 'K1' are not land-use codes: report, keep feature",
                    fids=[3, 7])
        self.defect(rel, "land_use_plan", "vn_date_format", "NGAYQD is text dd/mm/yyyy: parse to ISO date")

    # 14 land price segments: GeoPackage 5897 ------------------------------------------------
    def land_price(self):
        rng = self.rng
        rel = "gia_dat/bang_gia_dat.gpkg"
        rows = []
        base = {"do_thi_chinh": 38000000, "khu_vuc": 18000000}
        for rid, name, axis, cc, cls, width, row in ROADS:
            cross = [r for r in ROADS if r[2] != axis]
            stops = sorted([(r[3], r[1]) for r in cross])
            if axis == "V":
                stops = [(0.0, "Ranh phường Hưng Lợi")] + [s for s in stops] + [(CANAL_Y0, "Rạch Cái Khế"), (CANAL_Y1, "Rạch Cái Khế"), (SIZE, "Ranh phường An Hòa")]
            else:
                stops = [(0.0, "Ranh phường An Khánh")] + stops + [(bank_x(cc) - 30, "Sông Cần Thơ")]
            stops = sorted(set(stops))
            for (a, an), (b, bn) in zip(stops, stops[1:]):
                if b - a < 50:
                    continue
                pts = [(cc, a), (cc, b)] if axis == "V" else [(a, cc), (b, cc)]
                price = int(round(base[cls] * rng.uniform(0.7, 1.4), -5))
                rows.append((multi(lline(pts)), {"TENDUONG": name, "TU": an, "DEN": bn, "VITRI": 1, "GIA_ODT": price,
                                                 "GIA_TMD": int(round(price * 0.8, -5)), "GIA_SKC": int(round(price * 0.6, -5)),
                                                 "QDBANGGIA": "QĐ 19/2019/QĐ-UBND", "HIEULUCTU": "2020/01/01",
                                                 "HIEULUCDEN": "2024/12/31"}))
        fields = [("TENDUONG", "str", 0), ("TU", "str", 0), ("DEN", "str", 0), ("VITRI", "int", 0), ("GIA_ODT", "int", 0),
                  ("GIA_TMD", "int", 0), ("GIA_SKC", "int", 0), ("QDBANGGIA", "str", 0), ("HIEULUCTU", "date", 0),
                  ("HIEULUCDEN", "date", 0)]
        path = write_ogr(self.out, rel, "GPKG", "bang_gia_dat", SRS_5897, ogr.wkbMultiLineString, fields, rows,
                         catalog_layer="land_price_segments")
        fix_gpkg(path)
        self.source(rel, "land_price_segments", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "GeoPackage")

    # 15-18 planning ------------------------------------------------------------------------
    def plans(self):
        rng = self.rng
        c = self.city
        self.plan_list = [
            ("QHC-CT-2013", "Điều chỉnh quy hoạch chung thành phố Cần Thơ đến năm 2030, tầm nhìn đến năm 2050", "chung",
             25000, "QĐ 1515/QĐ-TTg", "2013/08/28", "Thủ tướng Chính phủ", "hieu_luc", lpoly(rect(-4000, -5000, SIZE + 3000, SIZE + 4000))),
            ("PK-NK-01", "Quy hoạch phân khu tỷ lệ 1/2000 khu vực phường Tân An và phường Cái Khế", "phan_khu", 2000,
             "QĐ 1234/QĐ-UBND", "2019/06/20", "UBND thành phố Cần Thơ", "hieu_luc", lpoly(rect(0, 0, SIZE, SIZE))),
        ]
        # zoning blocks: cells between red lines
        func_for = {}
        for cell in c.cells:
            key = (cell["col"], cell["row"])
            if cell["dense"]:
                f = "OHT" if key != (2, 1) else "HH"
            elif cell["col"] == 4:
                f = "CX" if cell["row"] in (2, 4) else "DVTM"
            else:
                f = rng.choice(["ONM", "ONM", "OHT", "HH", "GD", "YT", "CX"])
            func_for[key] = f
        func_for[(0, 0)] = "CN"
        func_for[(1, 5)] = "ONM"
        ind = {"OHT": (80, 4.0, 1, 5), "HH": (60, 6.0, 3, 15), "ONM": (70, 3.5, 2, 5), "DVTM": (50, 5.0, 2, 12),
               "CX": (5, 0.05, 0, 1), "GD": (40, 1.2, 1, 4), "YT": (40, 2.0, 2, 7), "CN": (60, 1.8, 1, 3)}
        rel = "quy_hoach/o_quy_hoach_phan_khu.shp"
        rows = []
        self.blocks = []
        counters = {"31135": 0, "31117": 0}
        for cell in c.cells:
            x0, y0, x1, y1 = cell["zone"]
            sector = "I" if cell["commune"] == "31135" else "II"
            counters[cell["commune"]] += 1
            code = "%s-%d" % (sector, counters[cell["commune"]])
            f = func_for[(cell["col"], cell["row"])]
            cov, far, fmin, fmax = ind[f]
            g = lpoly(rect(x0, y0, x1, y1))
            pop = int(g.GetArea() / 10000 * {"OHT": 300, "HH": 250, "ONM": 180}.get(f, 0))
            cell["block_code"], cell["function"] = code, f
            self.blocks.append((code, f, g, cell))
            rows.append((multi(g), {"KYHIEUO": code, "CHUCNANG": f, "DIENTICH": round(g.GetArea(), 1), "DANSO": pop,
                                    "MDXD": cov, "HSSDD": far, "TANGMIN": fmin, "TANGMAX": fmax, "MADOAN": "PK-NK-01"}))
        fields = [("KYHIEUO", "str", 8), ("CHUCNANG", "str", 6), ("DIENTICH", "real", 12), ("DANSO", "int", 6),
                  ("MDXD", "real", 6), ("HSSDD", "real", 6), ("TANGMIN", "int", 3), ("TANGMAX", "int", 3),
                  ("MADOAN", "str", 12)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPolygon, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="zoning_blocks")
        finish_shp(path, prj=esri_wkt(5897), cpg="UTF-8")
        self.source(rel, "zoning_blocks", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "ESRI Shapefile")

        # detailed plan 1/500 in block of cell (1, 5) (new residential, Cai Khe)
        code, f, g, cell = next(b for b in self.blocks if (b[3]["col"], b[3]["row"]) == (1, 5))
        x0, y0, x1, y1 = cell["zone"]
        self.plan_list.append(("CT-NK-05", "Quy hoạch chi tiết tỷ lệ 1/500 Khu dân cư Cái Khế mở rộng", "chi_tiet",
                               500, "QĐ 2345/QĐ-UBND", "2021/03/15", "UBND thành phố Cần Thơ", "hieu_luc", g.Clone()))
        self.plan_list.append(("CT-NK-02", "Quy hoạch chi tiết tỷ lệ 1/500 Khu tái định cư Tân An", "chi_tiet",
                               500, "QĐ 987/QĐ-UBND", "2010/11/05", "UBND thành phố Cần Thơ", "het_hieu_luc",
                               lpoly(rect(*self.blocks[1][3]["zone"]))))
        rel = "quy_hoach/lo_dat_chi_tiet.gpkg"
        rows = []
        xs = split(x0, x1, 90, 130, rng)
        ys = split(y0, y1, 60, 80, rng)
        letters = "ABCDEFGHIJKLMN"
        self.lots = []
        for r, (a, b) in enumerate(zip(ys, ys[1:])):
            for k, (u, v) in enumerate(zip(xs, xs[1:])):
                lot = rect(u + 6, a + 6, v - 6, b - 6)            # 12 m internal roads
                lg = lpoly(lot)
                lc = "%s%d" % (letters[r], k + 1)
                fn = "ONM"
                if (r, k) == (1, 1):
                    fn = "CX"
                elif (r, k) == (0, len(xs) - 2):
                    fn = "GD"
                elif rng.random() < 0.2:
                    fn = "OXH"
                cov, far, fmin, fmax = {"ONM": (75, 3.75, 2, 5), "CX": (5, 0.05, 0, 1), "GD": (40, 1.2, 1, 3),
                                        "OXH": (60, 5.4, 5, 9)}[fn]
                self.lots.append((lc, fn, lg))
                rows.append((multi(lg), {"KYHIEULO": lc, "CHUCNANG": fn, "DIENTICH": round(lg.GetArea(), 1), "MDXD": cov,
                                         "HSSDD": far, "TANGMIN": fmin, "TANGMAX": fmax,
                                         "CAOMAX": round(fmax * 3.8 + 2, 1), "KHOANGLUI": 3.0 if fn == "ONM" else 6.0,
                                         "CAODONEN": 2.6, "SOCAN": int(lg.GetArea() / 90) if fn == "ONM" else 0,
                                         "MADOAN": "CT-NK-05"}))
        fields = [("KYHIEULO", "str", 0), ("CHUCNANG", "str", 0), ("DIENTICH", "real", 0), ("MDXD", "real", 0),
                  ("HSSDD", "real", 0), ("TANGMIN", "int", 0), ("TANGMAX", "int", 0), ("CAOMAX", "real", 0),
                  ("KHOANGLUI", "real", 0), ("CAODONEN", "real", 0), ("SOCAN", "int", 0), ("MADOAN", "str", 0)]
        path = write_ogr(self.out, rel, "GPKG", "lo_dat_chi_tiet", SRS_5897, ogr.wkbMultiPolygon, fields, rows,
                         catalog_layer="detailed_plan_lots")
        fix_gpkg(path)
        self.source(rel, "detailed_plan_lots", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "GeoPackage")

        # general plan zones
        rel = "quy_hoach/khu_chuc_nang_qhc.gpkg"
        zones = [("KV1", "Khu đô thị hiện hữu Ninh Kiều", "OHT", 180.0, rect(0, 0, 1700, CANAL_MID)),
                 ("KV2", "Khu đô thị mới Cái Khế", "ONM", 120.0, rect(0, CANAL_MID, 1700, SIZE)),
                 ("KV3", "Khu hỗn hợp, dịch vụ ven sông", "HH", 90.0, [(1700, 0), (2400, 0), (2400, SIZE), (1700, SIZE)]),
                 ("KV4", "Khu cây xanh, mặt nước ven sông Cần Thơ", "CX", 0.0, rect(2400, 0, SIZE, SIZE))]
        rows = [(multi(lpoly(z[4])), {"MAKHU": z[0], "TENKHU": z[1], "CHUCNANG": z[2], "MATDODS": z[3],
                                      "MADOAN": "QHC-CT-2013"}) for z in zones]
        fields = [("MAKHU", "str", 0), ("TENKHU", "str", 0), ("CHUCNANG", "str", 0), ("MATDODS", "real", 0),
                  ("MADOAN", "str", 0)]
        path = write_ogr(self.out, rel, "GPKG", "khu_chuc_nang_qhc", SRS_5897, ogr.wkbMultiPolygon, fields, rows,
                         catalog_layer="general_plan_zones")
        fix_gpkg(path)
        self.source(rel, "general_plan_zones", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "GeoPackage")

        # plan boundaries: GeoJSON WGS 84 (official op), NFC
        rel = "quy_hoach/ranh_gioi_do_an.geojson"
        rows = []
        for pid, name, level, scale, dec, date, appr, status, g in self.plan_list:
            rows.append((transformed(multi(g), CT_TO_WGS),
                         {"MADOAN": pid, "TENDOAN": name, "CAPQH": level, "TYLE": scale, "SOQD": dec, "NGAYQD": date,
                          "CQPD": appr, "TINHTRANG": status,
                          "URL": "https://quyhoach.cantho.gov.vn/do-an/%s.pdf" % pid.lower()}))
        fields = [("MADOAN", "str", 0), ("TENDOAN", "str", 0), ("CAPQH", "str", 0), ("TYLE", "int", 0), ("SOQD", "str", 0),
                  ("NGAYQD", "date", 0), ("CQPD", "str", 0), ("TINHTRANG", "str", 0), ("URL", "str", 0)]
        write_ogr(self.out, rel, "GeoJSON", "ranh_gioi_do_an", SRS_4326, ogr.wkbMultiPolygon, fields, rows,
                  lco=["COORDINATE_PRECISION=9", "RFC7946=NO", "WRITE_NAME=NO"], catalog_layer="plan_boundaries")
        self.source(rel, "plan_boundaries", len(rows), "EPSG:4326", "EPSG:4326", "UTF-8", "GeoJSON")

    # 19 red lines ----------------------------------------------------------------------------
    def red_lines(self):
        rel = "quy_hoach/chi_gioi.shp"
        rows = []
        crossing = []
        for rid, name, axis, cc, cls, width, row in ROADS:
            extent = (0.0, SIZE) if axis == "V" else (0.0, XS[-1] - 30)
            for side in (-1, 1):
                off = cc + side * row / 2
                pts = [(off, extent[0]), (off, extent[1])] if axis == "V" else [(extent[0], off), (extent[1], off)]
                rows.append((multi(lline(pts)), {"LOAICG": "cgdd", "TENDUONG": name, "LOGIOI": row, "KHOANGLUI": None,
                                                 "MATCAT": "%d-%d" % (ROADS.index(road(rid)) + 1, ROADS.index(road(rid)) + 1),
                                                 "MADOAN": "PK-NK-01"}))
                if row / 2 > width / 2 + 0.01:
                    crossing.append(name)
                sb = 3.0 if cls == "khu_vuc" else 6.0
                off2 = cc + side * (row / 2 + sb)
                pts = [(off2, extent[0]), (off2, extent[1])] if axis == "V" else [(extent[0], off2), (extent[1], off2)]
                rows.append((multi(lline(pts)), {"LOAICG": "cgxd", "TENDUONG": name, "LOGIOI": row, "KHOANGLUI": sb,
                                                 "MATCAT": None, "MADOAN": "PK-NK-01"}))
        for y in (CANAL_Y0 - 20, CANAL_Y1 + 20):
            rows.append((multi(lline([(0.0, y), (bank_x(y) - 30, y)])),
                         {"LOAICG": "hlbv_song_kenh", "TENDUONG": None, "LOGIOI": None, "KHOANGLUI": 20.0, "MATCAT": None,
                          "MADOAN": "PK-NK-01"}))
        rows.append((multi(lline([(bank_x(y) - 30, y) for y in [i * 100.0 for i in range(31)]])),
                     {"LOAICG": "hlbv_song_kenh", "TENDUONG": None, "LOGIOI": None, "KHOANGLUI": 30.0, "MATCAT": None,
                      "MADOAN": "PK-NK-01"}))
        fields = [("LOAICG", "str", 16), ("TENDUONG", "str", 60), ("LOGIOI", "real", 6), ("KHOANGLUI", "real", 6),
                  ("MATCAT", "str", 8), ("MADOAN", "str", 12)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbLineString, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="red_lines")
        finish_shp(path, prj=esri_wkt(5897), cpg="UTF-8")
        self.source(rel, "red_lines", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "ESRI Shapefile")
        # parcels inside the road reserve (between the red lines of every road)
        strips = []
        for rid, name, axis, cc, cls, width, row in ROADS:
            half = row / 2
            if axis == "H":
                strips.append(lpoly(rect(-10, cc - half, SIZE + 10, cc + half)))
            else:
                strips.append(lpoly(rect(cc - half, -10, cc + half, SIZE + 10)))
        reserve = union_all(strips)
        self.reserve = {}
        for p in self.city.parcels:
            if p["status"] == "reject":
                continue
            a = p["geom"].Intersection(reserve).GetArea()
            if a > 0.01:
                self.reserve[p["key"]] = round(a, 2)
        self.defect(rel, "red_lines", "parcels_cross_red_line",
                    "%d parcels lie partly inside a road reserve (planned right-of-way wider than the current road); "
                    "truth.parcels[key].road_reserve_m2 is the area inside" % len(self.reserve))

    # 20/21 infrastructure --------------------------------------------------------------------
    def infra(self):
        rel = "ha_tang/mang_luoi.gpkg"
        rows = []
        for rid, name, axis, cc, cls, width, row in ROADS:
            ext = (0.0, SIZE) if axis == "V" else (0.0, XS[-1] - 30)
            for net, off, dia, volt in (("cap_nuoc", width / 2 + 2, 200 if cls == "do_thi_chinh" else 110, None),
                                        ("thoat_mua", -(width / 2 + 1), 1000 if cls == "do_thi_chinh" else 600, None),
                                        ("chieu_sang", width / 2 + 0.5, None, 0.4)):
                o = cc + off
                pts = [(o, ext[0]), (o, ext[1])] if axis == "V" else [(ext[0], o), (ext[1], o)]
                rows.append((multi(lline(pts)), {"LOAIMANG": net, "DUONGKINH": dia, "DIENAP": volt,
                                                 "VATLIEU": {"cap_nuoc": "HDPE", "thoat_mua": "BTCT"}.get(net),
                                                 "TINHTRANG": "hien_trang", "MADOAN": None}))
            if cls == "do_thi_chinh":
                o = cc - (width / 2 + 3)
                pts = [(o, ext[0]), (o, ext[1])] if axis == "V" else [(ext[0], o), (ext[1], o)]
                rows.append((multi(lline(pts)), {"LOAIMANG": "dien_trung_the", "DUONGKINH": None, "DIENAP": 22.0,
                                                 "VATLIEU": None, "TINHTRANG": "hien_trang", "MADOAN": None}))
        # planned networks in the detailed-plan area
        for lc, fn, lg in self.lots[:3]:
            (x0, y0), (x1, _) = lg.GetGeometryRef(0).GetPoint_2D(0), lg.GetGeometryRef(0).GetPoint_2D(2)
            rows.append((multi(line([(x0, y0 - 3), (x1, y0 - 3)])), {"LOAIMANG": "thoat_thai", "DUONGKINH": 300,
                                                                     "DIENAP": None, "VATLIEU": "uPVC",
                                                                     "TINHTRANG": "quy_hoach", "MADOAN": "CT-NK-05"}))
        # drawing frame lines exported by mistake, removed by the manifest filter
        for pts in ([(0, 0), (SIZE, 0)], [(0, SIZE), (SIZE, SIZE)]):
            rows.append((multi(lline(pts)), {"LOAIMANG": "khung", "DUONGKINH": None, "DIENAP": None, "VATLIEU": None,
                                             "TINHTRANG": None, "MADOAN": None}))
        fields = [("LOAIMANG", "str", 0), ("DUONGKINH", "int", 0), ("DIENAP", "real", 0), ("VATLIEU", "str", 0),
                  ("TINHTRANG", "str", 0), ("MADOAN", "str", 0)]
        path = write_ogr(self.out, rel, "GPKG", "mang_luoi", SRS_5897, ogr.wkbMultiLineString, fields, rows,
                         catalog_layer="infra_networks")
        fix_gpkg(path)
        self.source(rel, "infra_networks", len(rows) - 2, "EPSG:5897", "EPSG:5897", "UTF-8", "GeoPackage",
                    filter="LOAIMANG <> 'khung'")
        self.defect(rel, "infra_networks", "needs_filter", "2 drawing-frame lines (LOAIMANG = 'khung') are excluded by "
                    "the manifest filter; expect %d features" % (len(rows) - 2))

        # facilities: CSV with WGS 84 lon/lat (official op)
        rel = "ha_tang/cong_trinh_dau_moi.csv"
        fac = [("Trạm bơm Cái Khế", "tram_bom", "3.000 m3/h", "hien_trang", (2650, CANAL_MID + 25)),
               ("Cống ngăn triều Rạch Cái Khế", "cong_ngan_trieu", "B = 20 m", "quy_hoach", (2620, CANAL_MID)),
               ("Trạm biến áp Tân An", "tram_bien_ap", "2x40 MVA", "hien_trang", (1100, 350)),
               ("Trạm biến áp Cái Khế", "tram_bien_ap", "40 MVA", "hien_trang", (1750, 2450)),
               ("Nhà máy nước Cần Thơ 1", "nha_may_nuoc", "40.000 m3/ngày", "hien_trang", (2550, 600)),
               ("Trạm xử lý nước thải Ninh Kiều", "tram_xlnt", "10.000 m3/ngày", "quy_hoach", (2550, 2800)),
               ("Trạm bơm Tân An", "tram_bom", "1.500 m3/h", "dang_xay_dung", (1250, CANAL_MID - 40)),
               ("Trạm biến áp Mậu Thân", "tram_bien_ap", "630 kVA", "hien_trang", (320, 1120))]
        lines = ["TEN,LOAICT,CONGSUAT,TINHTRANG,lon,lat"]
        for name, kind, cap, st, (x, y) in fac:
            e, n = W(x, y)
            lon, lat = to_wgs(e, n)
            lines.append('"%s",%s,"%s",%s,%.9f,%.9f' % (name, kind, cap, st, lon, lat))
        check_names("infra_facilities", ["TEN", "LOAICT", "CONGSUAT", "TINHTRANG"], ("lon", "lat"), rel)
        write_text(os.path.join(self.out, rel), "\n".join(lines) + "\n")
        self.source(rel, "infra_facilities", len(fac), None, "EPSG:4326", "UTF-8", "CSV", crs="EPSG:4326")
        e, n = W(*fac[0][4])
        self.crs_probe(rel, "infra_facilities", e, n, to_wgs(e, n))

    # 22 construction permits -----------------------------------------------------------------
    def permits(self):
        rng = self.rng
        rel = "xay_dung/giay_phep_xay_dung.shp"
        rows = []
        cands = [p for p, g in self.building_list]
        chosen = rng.sample(cands, 30)
        self.permit_truth = []
        for i, p in enumerate(chosen):
            e, n = inner_point(p["geom"])
            floors = rng.choice([2, 3, 3, 4, 5])
            area = p["geom"].GetArea()
            cov = round(min(95.0, rng.uniform(60, 90)), 1)
            y, m, d = rng.choice([2021, 2022, 2023, 2024]), rng.randint(1, 12), rng.randint(1, 28)
            pno = "%d/GPXD-SXD" % (100 + i * 7) if i % 3 == 0 else "%d/GPXD-UBND" % (200 + i * 5)
            rows.append((point(e, n), {"SOGP": pno, "LOAIGP": rng.choice(["xay_moi", "xay_moi", "sua_chua"]),
                                       "NGAYKY": "%04d/%02d/%02d" % (y, m, d),
                                       "CQCAP": "Sở Xây dựng thành phố Cần Thơ" if i % 3 == 0 else "UBND quận Ninh Kiều",
                                       "MATHUA": p["key"], "DIACHI": p["address"], "LOAICT": "nha_rieng",
                                       "SOTANG": floors, "DTSAN": round(area * cov / 100 * floors, 1), "MDXD": cov,
                                       "TINHTRANG": rng.choice(["da_cap", "dang_thi_cong", "hoan_cong"]),
                                       "CHUDAUTU": p["owner"], "CCCD": p["owner_id"]}))
            self.permit_truth.append({"permit_no": pno, "parcel_key": p["key"], "issue_date": "%04d-%02d-%02d" % (y, m, d)})
        fields = [("SOGP", "str", 20), ("LOAIGP", "str", 12), ("NGAYKY", "date", 0), ("CQCAP", "str", 60),
                  ("MATHUA", "str", 12), ("DIACHI", "str", 120), ("LOAICT", "str", 12), ("SOTANG", "int", 3),
                  ("DTSAN", "real", 10), ("MDXD", "real", 6), ("TINHTRANG", "str", 14), ("CHUDAUTU", "str", 60),
                  ("CCCD", "str", 12)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPoint, fields, rows,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="construction_permits",
                         extra_names=("NGAYKY",))
        finish_shp(path, prj=esri_wkt(5897), cpg="UTF-8")
        self.source(rel, "construction_permits", len(rows), "EPSG:5897", "EPSG:5897", "UTF-8", "ESRI Shapefile",
                    rename={"NGAYKY": "issue_date"})
        self.defect(rel, "construction_permits", "unmapped_field_renamed",
                    "NGAYKY (date signed) is not a catalog alias; the manifest renames it to issue_date")

    # 23 vacant land fund: shapefile + XLSX corner table ----------------------------------------
    def vacant_land(self):
        rng = self.rng
        rel = "quy_dat/quy_dat_trong.shp"
        groups = []
        used = set()
        for cell in self.city.cells:
            if cell["dense"] or cell["function"] in ("CX",):
                continue
            ip = {p["grid"]: p for p in self.city.parcels if p["cell"] is cell and p["kind"] == "interior"
                  and p["status"] == "ok" and p["codes"] in ("CLN", "LUC", "BHK", "LUK", "NTS")}
            for (r, k), p in sorted(ip.items()):
                q = ip.get((r, k + 1))
                if q and p["key"] not in used and q["key"] not in used and rng.random() < 0.35:
                    run = [p, q]
                    if ip.get((r, k + 2)) and rng.random() < 0.5:
                        run.append(ip[(r, k + 2)])
                    groups.append((cell, run))
                    used.update(x["key"] for x in run)
                    break
        groups = groups[:11]
        rows = []
        self.funds = []
        origins = ["thu_hoi_chua_giao", "thu_hoi_chua_giao", "dat_cong", "sap_xep_nha_dat", "khac"]
        for i, (cell, run) in enumerate(groups):
            g = union_all([p["geom"] for p in run])
            fid = "QDT-NK-%03d" % (i + 1)
            origin = origins[i % len(origins)]
            rec = {"MAKHUDAT": fid, "TENKHUDAT": "Khu đất %s" % ("số %d %s" % (i + 1, COMMUNES[cell["commune"]].replace("Phường", "phường"))),
                   "DIACHI": self.parcel_address(run[0]), "MAXA": cell["commune"], "DIENTICH": round(g.GetArea(), 1),
                   "MDSD": "CGT" if origin == "thu_hoi_chua_giao" else "BCS",
                   "NGUONGOC": origin, "DONVIQL": "Trung tâm Phát triển quỹ đất thành phố Cần Thơ",
                   "HIENTRANG": rng.choice(["dat_trong", "dat_trong", "cong_trinh_tam"]),
                   "CNQH": cell["function"], "MADOAN": "PK-NK-01",
                   "TINHTRANG": rng.choice(["dang_quan_ly", "dang_quan_ly", "du_kien_dau_gia", "da_giao"]),
                   "CONGKHAI": 0 if i == 4 else 1, "CANBOPT": self.city.person(), "DIENTHOAI": "0292 38%05d" % rng.randrange(100000),
                   "GHICHUNB": "Đang rà soát hồ sơ thu hồi" if i % 4 == 0 else None}
            self.funds.append((fid, g, [p["key"] for p in run]))
            rows.append((multi_poly(g), rec))
        xlsx_groups = groups[len(rows) - 3:]
        rows_shp = rows[:len(rows) - 3]
        fields = [("MAKHUDAT", "str", 12), ("TENKHUDAT", "str", 80), ("DIACHI", "str", 120), ("MAXA", "str", 5),
                  ("DIENTICH", "real", 12), ("MDSD", "str", 6), ("NGUONGOC", "str", 20), ("DONVIQL", "str", 80),
                  ("HIENTRANG", "str", 16), ("CNQH", "str", 6), ("MADOAN", "str", 12), ("TINHTRANG", "str", 16),
                  ("CONGKHAI", "int", 1), ("CANBOPT", "str", 60), ("DIENTHOAI", "str", 16), ("GHICHUNB", "str", 120)]
        path = write_ogr(self.out, rel, "ESRI Shapefile", None, SRS_5897, ogr.wkbPolygon, fields, rows_shp,
                         lco=["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE], catalog_layer="vacant_land_fund")
        finish_shp(path, prj=esri_wkt(5897), cpg="UTF-8")
        self.source(rel, "vacant_land_fund", len(rows_shp), "EPSG:5897", "EPSG:5897", "UTF-8", "ESRI Shapefile")

        # XLSX: corner coordinates (X = northing, Y = easting), one row per corner
        rel = "quy_dat/toa_do_moc_quy_dat.xlsx"
        xrows = []
        self.fund_corners = []
        for j, (cell, run) in enumerate(xlsx_groups):
            fid, g, keys = self.funds[len(rows_shp) + j]
            ring = g.GetGeometryRef(0) if ogr.GT_Flatten(g.GetGeometryType()) == ogr.wkbPolygon else g.GetGeometryRef(0).GetGeometryRef(0)
            pts = simplify_ring([ring.GetPoint_2D(i) for i in range(ring.GetPointCount() - 1)])
            corners = []
            for k, (e, n) in enumerate(pts, 1):
                xrows.append((None, {"Ma khu dat": fid, "Ten khu dat": rows[len(rows_shp) + j][1]["TENKHUDAT"],
                                     "Moc": k, "X": round(n, 3), "Y": round(e, 3)}))
                corners.append([round(e, 3), round(n, 3)])
            self.fund_corners.append({"fund_id": fid, "corners_epsg5897": corners, "area_m2": round(g.GetArea(), 2)})
        fields = [("Ma khu dat", "str", 0), ("Ten khu dat", "str", 0), ("Moc", "int", 0), ("X", "real", 0), ("Y", "real", 0)]
        write_ogr(self.out, rel, "XLSX", "ToaDo", None, ogr.wkbNone, fields, xrows, catalog_layer="vacant_land_fund",
                  extra_names=("Moc", "X", "Y"))
        self.source(rel, "vacant_land_fund", len(xlsx_groups), None, "EPSG:5897", "UTF-8", "XLSX", crs="EPSG:5897",
                    sheet="ToaDo")
        self.defect(rel, "vacant_land_fund", "corner_table",
                    "one row per corner: group rows by 'Ma khu dat', order by 'Moc', X = northing, Y = easting; "
                    "build a closed polygon (truth.vacant_land_corners)")

    # 24 investment land: KML (WGS 84, official op) ---------------------------------------------
    def investment_land(self):
        rng = self.rng
        rel = "dau_tu/quy_dat_keu_goi_dau_tu.kml"
        picks = [b for b in self.blocks if b[1] in ("DVTM", "HH", "ONM", "YT", "GD")][:5]
        rows = []
        sel = ["dau_gia_qsdd", "dau_thau_ndt", "ppp", "chap_thuan_ndt", "dau_thau_ndt"]
        fn_name = {"DVTM": "Trung tâm thương mại, dịch vụ", "HH": "Khu phức hợp thương mại - nhà ở",
                   "ONM": "Khu nhà ở thương mại", "YT": "Bệnh viện chất lượng cao", "GD": "Trường liên cấp quốc tế"}
        self.investments = []
        for i, (code, f, g, cell) in enumerate(picks):
            x0, y0, x1, y1 = cell["zone"]
            half = lpoly(rect(x0, y0, (x0 + x1) / 2, y1)) if i % 2 else g.Clone()
            pid = "DA-CT-2025-%02d" % (i + 1)
            name = "%s %s" % (fn_name[f], COMMUNES[cell["commune"]].replace("Phường", "phường"))
            self.investments.append((pid, half))
            rows.append((transformed(multi(half), CT_TO_WGS),
                         {"Name": name, "Description": "Ô quy hoạch %s, quy hoạch phân khu PK-NK-01" % code,
                          "MADUAN": pid, "CHUCNANG": f, "DIENTICH": round(half.GetArea(), 1), "MAXA": cell["commune"],
                          "VONDT": round(rng.uniform(150, 2500), 0), "HINHTHUC": sel[i], "TINHTRANG": "dang_keu_goi",
                          "THOIHAN": "2026/%02d/30" % (3 + i), "LIENHE": "Sở Tài chính thành phố Cần Thơ, 0292 3820 xxx",
                          "MADOAN": "PK-NK-01", "SOQD": "QĐ 789/QĐ-UBND"}))
        fields = [("Name", "str", 0), ("Description", "str", 0), ("MADUAN", "str", 0), ("CHUCNANG", "str", 0),
                  ("DIENTICH", "real", 0), ("MAXA", "str", 0), ("VONDT", "real", 0), ("HINHTHUC", "str", 0),
                  ("TINHTRANG", "str", 0), ("THOIHAN", "str", 0), ("LIENHE", "str", 0), ("MADOAN", "str", 0),
                  ("SOQD", "str", 0)]
        write_ogr(self.out, rel, "KML", "quy_dat_keu_goi_dau_tu", SRS_4326, ogr.wkbMultiPolygon, fields, rows,
                  catalog_layer="investment_land")
        self.source(rel, "investment_land", len(rows), "EPSG:4326", "EPSG:4326", "UTF-8", "KML")

    # manifest + truth ---------------------------------------------------------------------------
    def write_manifest_and_truth(self):
        c = self.city
        manifest = {"batch": "demo", "sources": self.sources}
        write_json(os.path.join(self.out, "manifest.json"), manifest)
        parcels = {}
        for p in sorted(c.parcels, key=lambda p: p["key"]):
            codes = [CROSS.get(x, x) for x in p["codes"].split("+")]
            parcels[p["key"]] = {
                "file": p["source"], "commune_code": p["commune"], "sheet_no": p["sheet_no"], "parcel_no": p["parcel_no"],
                "status": p["status"], "source_lu": p["codes"],
                "expected_lu": None if p.get("unknown") else codes,
                "legal_area_m2": p["legal_area"],
                "geom_area_m2": None if p["expected_area"] is None else round(p["expected_area"], 3),
                "road_reserve_m2": self.reserve.get(p["key"], 0.0)}
        # test points: reference vector, parcel centroids, control points (added earlier), facilities
        pts = [{"kind": "reference", "wgs84": [105.7880, 10.0340], "epsg5897": [586184.889, 1109719.714],
                "note": "DOMAIN 1.5 official operation EPSG:6960"}]
        samples = [p for p in sorted(c.parcels, key=lambda p: p["key"]) if p["status"] == "ok"]
        step = max(1, len(samples) // 12)
        for p in samples[::step][:12] + [q for q in samples if q["source"].endswith(".dxf")][:2]:
            e, n = inner_point(p["geom"])
            lon, lat = to_wgs(e, n)
            zb = next((b[0] for b in self.blocks if b[2].Contains(point(e, n))), None)
            pts.append({"kind": "parcel", "parcel_key": p["key"], "file": p["source"],
                        "epsg5897": [round(e, 3), round(n, 3)], "wgs84": [round(lon, 9), round(lat, 9)],
                        "zoning_block": zb})
        for p, kind, name, e, n in self.facilities[:4]:
            lon, lat = to_wgs(e, n)
            pts.append({"kind": "public_facility", "name": name, "parcel_key": p["key"],
                        "epsg5897": [round(e, 3), round(n, 3)], "wgs84": [round(lon, 9), round(lat, 9)]})
        counts = {}
        for s in self.truth_sources:
            counts[s["layer"]] = counts.get(s["layer"], 0) + s["features"]
        rejected = {"cadastral_parcels": sum(1 for p in c.parcels if p["status"] == "reject"), "elevation_points": 1}
        truth = {
            "batch": "demo",
            "storage_crs": "EPSG:5897",
            "official_operation": {"epsg": "EPSG:6960", "proj": PROJ_5897_OFFICIAL},
            "origin_epsg5897": [E0, N0],
            "communes": {k: v for k, v in COMMUNES.items()},
            "sources": self.truth_sources,
            "defects": self.defects,
            "expected_counts": {k: counts[k] - rejected.get(k, 0) for k in sorted(counts)},
            "rejected_counts": rejected,
            "test_points": pts + self.test_points,
            "legacy_text": TRUTH_LEGACY,
            "parcels": parcels,
            "land_use_current": self.lu_current_truth,
            "land_use_plan": self.lup_truth,
            "zoning_blocks": [{"block_code": b[0], "function_code": b[1], "area_m2": round(b[2].GetArea(), 2)}
                              for b in self.blocks],
            "vacant_land_corners": self.fund_corners,
            "vacant_land_funds": [{"fund_id": f, "parcel_keys": k, "area_m2": round(g.GetArea(), 2)} for f, g, k in self.funds],
            "construction_permits": self.permit_truth,
            "crosswalk": CROSS,
        }
        write_json(os.path.join(self.out, "truth.json"), truth)


# ----------------------------------------------------------------------------------------------
# small helpers


def multi_poly(g):
    t = ogr.GT_Flatten(g.GetGeometryType())
    if t == ogr.wkbMultiPolygon:
        return g
    if t == ogr.wkbPolygon:
        return multi(g)
    m = ogr.Geometry(ogr.wkbMultiPolygon)
    for i in range(g.GetGeometryCount()):
        s = g.GetGeometryRef(i)
        if ogr.GT_Flatten(s.GetGeometryType()) == ogr.wkbPolygon:
            m.AddGeometry(s)
    return m


def simplify_ring(pts):
    """Drop collinear vertices (unions of rectangles carry the shared-edge vertices)."""
    out = []
    n = len(pts)
    for i in range(n):
        a, b, c = pts[i - 1], pts[i], pts[(i + 1) % n]
        cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])
        if abs(cross) > 1e-6:
            out.append(b)
    return out


def vn_number(x):
    s = "%.1f" % x
    whole, frac = s.split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return ".".join(groups) + "," + frac


def dmy_to_iso(s):
    d, m, y = s.split("/")
    return "%s-%s-%s" % (y, m, d)


def lu_names(scheme):
    d = json.load(open(os.path.join(os.path.dirname(HERE), "layers", "codelists", "land_use.json"), encoding="utf-8"))
    return {c["code"]: c["name"]["vi"] for c in d["codes"] if c["scheme"] == scheme}


def load_crosswalk():
    d = json.load(open(os.path.join(os.path.dirname(HERE), "layers", "codelists", "land_use.json"), encoding="utf-8"))
    return {x["from"]: x["to"] for x in d["crosswalk"]}


def write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fp:
        fp.write(text)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as fp:
        json.dump(obj, fp, ensure_ascii=False, indent=2)
        fp.write("\n")


def fix_gpkg(path):
    """Pin the timestamps GDAL writes into gpkg_contents so the file is reproducible."""
    import sqlite3
    con = sqlite3.connect(path)
    con.execute("UPDATE gpkg_contents SET last_change = '2025-01-15T00:00:00.000Z'")
    con.commit()
    con.execute("VACUUM")
    con.close()


def write_dxf(path, ents):
    """Minimal AutoCAD R2000 DXF: closed LWPOLYLINEs and TEXT, text bytes in TCVN3, $DWGCODEPAGE ANSI_1252."""
    out = []

    def g(code, value):
        out.append(("%3d" % code).encode("ascii"))
        out.append(value if isinstance(value, bytes) else str(value).encode("ascii"))

    layers = sorted({e[1] for e in ents})
    g(0, "SECTION"); g(2, "HEADER")
    g(9, "$ACADVER"); g(1, "AC1015")
    g(9, "$DWGCODEPAGE"); g(3, "ANSI_1252")
    g(9, "$INSUNITS"); g(70, 6)
    g(0, "ENDSEC")
    g(0, "SECTION"); g(2, "TABLES")
    g(0, "TABLE"); g(2, "LAYER"); g(70, len(layers))
    for ln in layers:
        g(0, "LAYER"); g(2, ln); g(70, 0); g(62, 7); g(6, "CONTINUOUS")
    g(0, "ENDTAB")
    g(0, "ENDSEC")
    g(0, "SECTION"); g(2, "ENTITIES")
    handle = 0x100
    for e in ents:
        handle += 1
        if e[0] == "LWPOLYLINE":
            g(0, "LWPOLYLINE"); g(5, "%X" % handle); g(100, "AcDbEntity"); g(8, e[1]); g(100, "AcDbPolyline")
            g(90, len(e[2])); g(70, 1)
            for x, y in e[2]:
                g(10, "%.3f" % x); g(20, "%.3f" % y)
        else:
            _, layer, (x, y), text, h = e
            g(0, "TEXT"); g(5, "%X" % handle); g(100, "AcDbEntity"); g(8, layer); g(100, "AcDbText")
            g(10, "%.3f" % x); g(20, "%.3f" % y); g(30, "0.0"); g(40, "%.2f" % h)
            g(1, encode_legacy(text, "TCVN3")); g(100, "AcDbText")
    g(0, "ENDSEC")
    g(0, "EOF")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fp:
        fp.write(b"\r\n".join(out) + b"\r\n")


# ----------------------------------------------------------------------------------------------

TRUTH_LEGACY = []
MISSING = []
ENC, DEC = {}, {}
CATALOG = {}
CROSS = {}


def main():
    global ENC, DEC, CATALOG, CROSS
    ap = argparse.ArgumentParser(description="Generate the spp demo sources (deterministic).")
    ap.add_argument("--out", required=True, help="output directory (replaced)")
    ap.add_argument("--charsets", default=None, help="vn_charsets.tsv (default: next to this script)")
    args = ap.parse_args()
    cs = args.charsets or os.path.join(HERE, "vn_charsets.tsv")
    if not os.path.exists(cs):
        cs = "/work/shared/vn_charsets.tsv"
    ENC, DEC = load_charsets(cs)
    CATALOG = load_catalog()
    CROSS = load_crosswalk()
    check_official_op()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    gen = Gen(args.out)
    city = gen.run()
    if MISSING:
        sys.exit("\n".join(MISSING))
    n_ok = sum(1 for p in city.parcels if p["status"] != "reject")
    print("wrote %d sources to %s (%d parcels, %d rejected by design)" % (
        len(gen.sources), args.out, len(city.parcels), len(city.parcels) - n_ok))


if __name__ == "__main__":
    main()
