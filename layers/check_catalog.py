#!/usr/bin/env python3
"""Dev helper: sanity-check the layer catalog (layers/*.json, layers/common.json, layers/codelists/*.json).

The C loader (src/config) is the real validator; this script catches mistakes early.
Usage: python3 layers/check_catalog.py [LAYERS_DIR]   exit status 0 = ok, 1 = errors found.
"""
import json
import os
import re
import sys
import unicodedata

LAYER_IDS = [
    "geodetic_control", "admin_units", "elevation_points", "hydro_areas", "hydro_lines", "roads", "buildings",
    "public_facilities", "land_cover", "cadastral_sheets", "cadastral_parcels", "land_use_current", "land_use_plan",
    "land_price_segments", "plan_boundaries", "general_plan_zones", "zoning_blocks", "detailed_plan_lots", "red_lines",
    "infra_networks", "infra_facilities", "construction_permits", "vacant_land_fund", "investment_land",
]
GROUP_OF = {n: "land" for n in (1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14)}
GROUP_OF.update({7: "construction", 22: "construction", 6: "transport", 19: "transport"})
GROUP_OF.update({n: "planning" for n in (15, 16, 17, 18, 20, 21, 23, 24)})
GEOMS = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON"}
ROLES = ["public", "investor", "planner", "editor", "admin"]
TYPES = {"text", "integer", "real", "date", "boolean"}
COMMON_NAMES = {"fid", "valid_from", "valid_to", "note", "src_file", "src_crs", "src_encoding", "import_batch"}
LAYER_KEYS_REQ = {"id", "number", "title", "description", "group", "geometry", "min_role", "style", "zoom", "fields"}
LAYER_KEYS_OPT = {"key", "label", "row_rule", "edit_roles"}
FIELD_KEYS_REQ = {"name", "type", "label", "role"}
FIELD_KEYS_OPT = {"required", "aliases", "codelist", "multi", "unit", "derive", "personal", "min", "max", "description", "search"}
CODE_KEYS_REQ = {"code", "name"}
CODE_KEYS_OPT = {"scheme", "parent", "group", "color", "aliases"}
LU_SCHEMES = {"TT27_2018", "TT08_2024"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")

errors = []


def err(where, msg):
    errors.append("%s: %s" % (where, msg))


def load(path):
    try:
        raw = open(path, "rb").read()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        err(path, "cannot read as UTF-8: %s" % e)
        return None
    if unicodedata.normalize("NFC", text) != text:
        err(path, "text is not NFC")
    try:
        return json.loads(text)
    except ValueError as e:
        err(path, "invalid JSON: %s" % e)
        return None


def is_bilingual(v):
    return isinstance(v, dict) and set(v) == {"vi", "en"} and all(isinstance(x, str) and x.strip() for x in v.values())


def check_field(where, f, geometry, codelists_used):
    if not isinstance(f, dict):
        err(where, "field is not an object")
        return None
    keys = set(f)
    for k in FIELD_KEYS_REQ - keys:
        err(where, "missing key %r" % k)
    for k in keys - FIELD_KEYS_REQ - FIELD_KEYS_OPT:
        err(where, "unknown key %r" % k)
    name = f.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        err(where, "bad field name %r" % name)
    where = "%s.%s" % (where, name)
    typ = f.get("type")
    if typ not in TYPES:
        err(where, "bad type %r" % typ)
    if "label" in f and not is_bilingual(f["label"]):
        err(where, "label must be {vi, en}")
    if "description" in f and not is_bilingual(f["description"]):
        err(where, "description must be {vi, en}")
    if f.get("role") not in ROLES:
        err(where, "bad role %r" % f.get("role"))
    for b in ("required", "multi", "personal"):
        if b in f and not isinstance(f[b], bool):
            err(where, "%s must be a boolean" % b)
    if f.get("personal") and f.get("role") == "public":
        err(where, "personal field must not be public")
    aliases = f.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        err(where, "aliases must be a list of non-empty strings")
        aliases = []
    if len(set(aliases)) != len(aliases):
        err(where, "duplicate alias")
    for a in aliases:
        if re.match(r"^[A-Z0-9_]+$", a) and len(a) > 10:
            err(where, "DBF-style alias %r longer than 10 characters" % a)
    if "codelist" in f:
        if not isinstance(f["codelist"], str):
            err(where, "codelist must be a string")
        else:
            codelists_used.setdefault(f["codelist"], []).append(where)
        if typ == "boolean" or typ == "date" or typ == "real":
            err(where, "codelist on a %s field" % typ)
    if f.get("multi") and "codelist" not in f:
        err(where, "multi without codelist")
    if f.get("multi") and typ != "text":
        err(where, "multi on a non-text field")
    if "unit" in f and not (isinstance(f["unit"], str) and f["unit"]):
        err(where, "unit must be a non-empty string")
    if "derive" in f:
        d = f["derive"]
        if d not in ("area", "length"):
            err(where, "derive must be area or length")
        elif typ != "real":
            err(where, "derive on a non-real field")
        elif d == "area" and "POLYGON" not in geometry:
            err(where, "derive area on %s layer" % geometry)
        elif d == "length" and "LINESTRING" not in geometry:
            err(where, "derive length on %s layer" % geometry)
    for m in ("min", "max"):
        if m in f and (isinstance(f[m], bool) or not isinstance(f[m], (int, float))):
            err(where, "%s must be a number" % m)
        elif m in f and typ not in ("integer", "real"):
            err(where, "%s on a %s field" % (m, typ))
    if isinstance(f.get("min"), (int, float)) and isinstance(f.get("max"), (int, float)) and f["min"] > f["max"]:
        err(where, "min > max")
    return name


def check_aliases(where, fields):
    """An alias (folded as the importer folds it) must resolve to exactly one field of the layer."""
    owner = {}
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            continue
        for a in [f["name"]] + [x for x in f.get("aliases", []) if isinstance(x, str)]:
            k = fold(a)  # as the importer matches: case, diacritics and punctuation folded
            if k in owner and owner[k] != f["name"]:
                err(where, "alias/name %r maps to both %s and %s" % (a, owner[k], f["name"]))
            owner.setdefault(k, f["name"])


def check_layer(path, d, codelists_used, common_fields):
    where = os.path.basename(path)
    if not isinstance(d, dict):
        err(where, "not an object")
        return
    keys = set(d)
    for k in LAYER_KEYS_REQ - keys:
        err(where, "missing key %r" % k)
    for k in keys - LAYER_KEYS_REQ - LAYER_KEYS_OPT:
        err(where, "unknown key %r" % k)
    lid = d.get("id")
    if lid + ".json" != where:
        err(where, "id %r does not match the file name" % lid)
    num = d.get("number")
    if lid in LAYER_IDS and num != LAYER_IDS.index(lid) + 1:
        err(where, "number %r, expected %d" % (num, LAYER_IDS.index(lid) + 1))
    if d.get("group") != GROUP_OF.get(num):
        err(where, "group %r, expected %r" % (d.get("group"), GROUP_OF.get(num)))
    for k in ("title", "description"):
        if k in d and not is_bilingual(d[k]):
            err(where, "%s must be {vi, en}" % k)
    geom = d.get("geometry")
    if geom not in GEOMS:
        err(where, "bad geometry %r" % geom)
        geom = ""
    if d.get("min_role") not in ROLES:
        err(where, "bad min_role %r" % d.get("min_role"))
    if d.get("style") != lid:
        err(where, "style should equal the id")
    z = d.get("zoom")
    if not (isinstance(z, dict) and set(z) == {"min", "max"} and all(isinstance(z[k], int) for k in z)
            and 0 <= z["min"] <= z["max"] <= 24):
        err(where, "zoom must be {min, max} integers, 0 <= min <= max <= 24")
    fields = d.get("fields")
    if not isinstance(fields, list) or not fields:
        err(where, "fields must be a non-empty list")
        return
    names = []
    for f in fields:
        n = check_field(where, f, geom, codelists_used)
        if n is None:
            continue
        if n in names:
            err(where, "duplicate field %r" % n)
        if n in COMMON_NAMES:
            err(where, "common field %r must not be repeated in a layer" % n)
        names.append(n)
    check_aliases(where, list(fields) + common_fields)
    for k in ("key", "label"):
        if k in d and d[k] not in names:
            err(where, "%s %r is not a field" % (k, d[k]))
    rr = d.get("row_rule")
    if rr is not None:
        if not isinstance(rr, dict) or not {"field", "equals", "exempt"} <= set(rr) or \
                set(rr) - {"field", "equals", "exempt", "description"}:
            err(where, "row_rule must be {field, equals, exempt[, description]}")
        elif rr["field"] not in names:
            err(where, "row_rule field %r is not a field" % rr["field"])
        elif rr["exempt"] not in ROLES or rr["exempt"] == "public":
            err(where, "row_rule exempt must be investor, planner or admin")
    if "key" in d:
        kf = next(f for f in fields if f.get("name") == d["key"])
        if not kf.get("required"):
            err(where, "key field %r should be required" % d["key"])


def fold(s):
    """What src/import/text.c's text_fold makes of a name: no diacritics, d for đ, lower case,
    only [a-z0-9]."""
    s = unicodedata.normalize("NFD", s).replace("đ", "d").replace("Đ", "d")
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn").lower()
    return re.sub(r"[^a-z0-9]", "", s)


def check_codelist(path, d, lists):
    where = "codelists/" + os.path.basename(path)
    if not isinstance(d, dict):
        err(where, "not an object")
        return
    for k in {"id", "title", "codes"} - set(d):
        err(where, "missing key %r" % k)
    for k in set(d) - {"id", "title", "codes", "crosswalk"}:
        err(where, "unknown key %r" % k)
    cid = d.get("id")
    if "%s.json" % cid != os.path.basename(path):
        err(where, "id %r does not match the file name" % cid)
    if "title" in d and not is_bilingual(d["title"]):
        err(where, "title must be {vi, en}")
    codes = d.get("codes")
    if not isinstance(codes, list) or not codes:
        err(where, "codes must be a non-empty list")
        return
    seen = set()
    spelled, aliased = {}, []
    schemes_used = set()
    for c in codes:
        if not isinstance(c, dict):
            err(where, "code is not an object")
            continue
        for k in CODE_KEYS_REQ - set(c):
            err(where, "code %r: missing key %r" % (c.get("code"), k))
        for k in set(c) - CODE_KEYS_REQ - CODE_KEYS_OPT:
            err(where, "code %r: unknown key %r" % (c.get("code"), k))
        code = c.get("code")
        if not isinstance(code, str) or not code or code != code.strip() or "+" in code:
            err(where, "bad code %r" % code)
        key = (code, c.get("scheme"))
        if key in seen:
            err(where, "duplicate (code, scheme) %r" % (key,))
        seen.add(key)
        schemes_used.add(c.get("scheme"))
        if "name" in c and not is_bilingual(c["name"]):
            err(where, "code %r: name must be {vi, en}" % code)
        if "color" in c and not (isinstance(c["color"], str) and COLOR_RE.match(c["color"])):
            err(where, "code %r: bad colour %r" % (code, c.get("color")))
        als = c.get("aliases", [])
        if not isinstance(als, list) or not all(isinstance(a, str) and a.strip() for a in als):
            err(where, "code %r: aliases must be a list of non-empty strings" % code)
            als = []
        # the importer matches codes, names and aliases folded (case, diacritics, punctuation):
        # an alias must not be another code's spelling (two codes may share a name: OM/ONM)
        names = c.get("name") if isinstance(c.get("name"), dict) else {}
        for a in [code, names.get("vi"), names.get("en")]:
            if isinstance(a, str):
                spelled.setdefault(fold(a), set()).add(code)
        for a in als:
            aliased.append((fold(a), a, code))
    for k, a, code in aliased:
        if spelled.get(k, {code}) != {code} or sum(1 for x in aliased if x[0] == k and x[2] != code):
            err(where, "code %r: alias %r is also a spelling of another code" % (code, a))
    if cid == "land_use":
        if schemes_used != LU_SCHEMES:
            err(where, "land_use must use exactly the schemes %s, has %s" % (sorted(LU_SCHEMES), schemes_used))
        for c in codes:
            if isinstance(c, dict) and "parent" in c and (c["parent"], c.get("scheme")) not in seen:
                err(where, "code %r (%s): parent %r not in the same scheme" % (c.get("code"), c.get("scheme"), c["parent"]))
            if isinstance(c, dict) and not c.get("group"):
                err(where, "code %r: missing group" % c.get("code"))
            if isinstance(c, dict) and "color" not in c:
                err(where, "code %r: missing colour" % c.get("code"))
    elif schemes_used != {None}:
        err(where, "scheme is only used by land_use")
    for x in d.get("crosswalk", []):
        if not (isinstance(x, dict) and set(x) == {"from", "to", "from_scheme", "to_scheme"}):
            err(where, "crosswalk entry must have from, to, from_scheme, to_scheme: %r" % (x,))
            continue
        if (x["from"], x["from_scheme"]) not in seen:
            err(where, "crosswalk from %r not in %s" % (x["from"], x["from_scheme"]))
        if (x["to"], x["to_scheme"]) not in seen:
            err(where, "crosswalk to %r not in %s" % (x["to"], x["to_scheme"]))
        if x["from"] == x["to"]:
            err(where, "identity crosswalk %r is implied, do not list it" % x["from"])
        if (x["from"], x["to_scheme"]) in seen:
            err(where, "crosswalk from %r but the code still exists in %s" % (x["from"], x["to_scheme"]))
    lists[cid] = seen


META_KEYS = {"organisation", "contact", "licence", "update_frequency", "language", "scale_denominator",
             "accuracy_m", "keywords"}


def check_metadata(path, d):
    """layers/meta/metadata.json (issue 21): the same rules as load_metadata in src/config/catalog.c."""
    if not isinstance(d, dict) or not set(d) <= {"description", "defaults", "layers"}:
        return err(path, "must be {\"description\", \"defaults\", \"layers\"}")
    defaults = d.get("defaults", {})
    layers = d.get("layers")
    if not isinstance(layers, dict):
        return err(path, "\"layers\" must be an object")
    for lid in sorted(set(layers) - set(LAYER_IDS)):
        err(path, "no catalog layer %r" % lid)
    for lid in LAYER_IDS:
        own = layers.get(lid)
        if not isinstance(own, dict):
            err(path, "missing entry for layer %r" % lid)
            continue
        where = "%s (layer %s)" % (path, lid)
        for k in set(own) - META_KEYS:
            err(where, "unknown key %r" % k)
        m = dict(defaults, **own)
        if not is_bilingual(m.get("organisation")):
            err(where, "organisation must be {vi, en}")
        c = m.get("contact") or {}
        if not (isinstance(c.get("name"), str) and "@" in str(c.get("email", ""))):
            err(where, "contact needs a name and an e-mail address")
        if not isinstance((m.get("licence") or {}).get("name"), str):
            err(where, "licence needs a name")
        sd = m.get("scale_denominator")
        if not (isinstance(sd, int) and 1 <= sd <= 100000000):
            err(where, "scale_denominator must be an integer 1..100000000")
        acc = m.get("accuracy_m")
        if not (isinstance(acc, (int, float)) and acc > 0):
            err(where, "accuracy_m must be > 0")
        kw = m.get("keywords") or {}
        for lang in ("vi", "en"):
            v = kw.get(lang)
            if not (isinstance(v, list) and v and all(isinstance(x, str) and x for x in v)):
                err(where, "keywords.%s must be a non-empty list of strings" % lang)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    codelists_used = {}
    common = load(os.path.join(root, "common.json"))
    common_fields = []
    if isinstance(common, dict):
        if set(common) != {"fields"}:
            err("common.json", "must be {\"fields\": [...]}")
        cnames = set()
        for f in common.get("fields", []):
            n = check_field("common.json", f, "", codelists_used)
            cnames.add(n)
            common_fields.append(f)
        want = {"valid_from", "valid_to", "note", "src_file", "src_crs", "src_encoding", "import_batch"}
        if cnames != want:
            err("common.json", "fields %s, expected %s" % (sorted(n for n in cnames if n), sorted(want)))
    files = sorted(f for f in os.listdir(root) if f.endswith(".json") and f != "common.json")
    if sorted(f[:-5] for f in files) != sorted(LAYER_IDS):
        err(root, "layer files differ from the 24 catalog ids: extra %s, missing %s" % (
            sorted(set(f[:-5] for f in files) - set(LAYER_IDS)), sorted(set(LAYER_IDS) - set(f[:-5] for f in files))))
    for f in files:
        d = load(os.path.join(root, f))
        if d is not None:
            check_layer(os.path.join(root, f), d, codelists_used, common_fields)
    meta_path = os.path.join(root, "meta", "metadata.json")
    meta = load(meta_path)
    if meta is not None:
        check_metadata(meta_path, meta)
    lists = {}
    cdir = os.path.join(root, "codelists")
    for f in sorted(os.listdir(cdir)):
        if f.endswith(".json"):
            d = load(os.path.join(cdir, f))
            if d is not None:
                check_codelist(os.path.join(cdir, f), d, lists)
    for cid, users in sorted(codelists_used.items()):
        if cid not in lists:
            err(users[0], "codelist %r does not exist" % cid)
    # lookup lists read by code, not by a field: commune_2025 (old commune code -> the unit it
    # became on 2025-07-01; the web map's search uses it)
    lookup_lists = {"commune_2025"}
    for cid in sorted(lists):
        if cid not in codelists_used and cid not in lookup_lists:
            err("codelists/%s.json" % cid, "not referenced by any field")
    for e in errors:
        print("error:", e)
    print("%d layers, %d code lists, %d errors" % (len(files), len(lists), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
