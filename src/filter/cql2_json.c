/* SPDX-License-Identifier: MIT */
/* cql2_json.c: CQL2 JSON (OGC API Features Part 3) into the filter tree, with jansson. Operators
 * and, or, not, the comparisons, like, between, in, isNull, casei, s_* spatial operators with a
 * GeoJSON geometry or {"bbox": [...]} literal (plus s_dwithin/s_beyond with a distance in metres
 * as an extension), {"date": ...} / {"timestamp": ...} literals; depth and size limits. */
#include "filter_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int jfail(struct fctx *c, const char *msg, const char *what)
{
    return err_setl(c->err, ERR_PARAM, "filter", "CQL2 JSON: %s%s%s", msg, what ? " " : "",
                    what ? what : "");
}

/* {"property": "name"} or CASEI({"property": ...}) */
static int json_property(struct fctx *c, json_t *j, struct filter_node *n)
{
    json_t *op = json_object_get(j, "op");
    if (op && json_is_string(op) && str_ieq(json_string_value(op), "casei")) {
        json_t *args = json_object_get(j, "args");
        if (!json_is_array(args) || json_array_size(args) != 1) return jfail(c, "bad casei", NULL);
        n->match_case = 0;
        return json_property(c, json_array_get(args, 0), n);
    }
    json_t *p = json_object_get(j, "property");
    if (!json_is_object(j) || !json_is_string(p)) return jfail(c, "expected a property", NULL);
    const char *s = json_string_value(p);
    if (!*s) return jfail(c, "empty property name", NULL);
    return fnode_set_property(n, s, strlen(s)) ? err_set(c->err, ERR_NOMEM, "out of memory") : 0;
}

static int is_property(json_t *j)
{
    if (!json_is_object(j)) return 0;
    if (json_object_get(j, "property")) return 1;
    json_t *op = json_object_get(j, "op");
    json_t *args = json_object_get(j, "args");
    return json_is_string(op) && str_ieq(json_string_value(op), "casei") && json_is_array(args) &&
           json_array_size(args) == 1 && json_object_get(json_array_get(args, 0), "property");
}

static int json_scalar(struct fctx *c, json_t *j, struct filter_literal *v)
{
    memset(v, 0, sizeof *v);
    if (json_is_object(j)) {
        json_t *op = json_object_get(j, "op"), *args = json_object_get(j, "args");
        if (json_is_string(op) && str_ieq(json_string_value(op), "casei") && json_is_array(args) &&
            json_array_size(args) == 1)
            return json_scalar(c, json_array_get(args, 0), v);
        json_t *d = json_object_get(j, "date");
        if (!d) d = json_object_get(j, "timestamp");
        if (!json_is_string(d)) return jfail(c, "expected a literal value", NULL);
        j = d;
    }
    if (json_is_string(j)) return flit_text(v, json_string_value(j), json_string_length(j));
    if (json_is_integer(j)) {
        v->type = VAL_INT, v->i = json_integer_value(j), v->d = (double)v->i;
        return 0;
    }
    if (json_is_real(j)) {
        v->type = VAL_REAL, v->d = json_real_value(j);
        return isfinite(v->d) ? 0 : jfail(c, "number out of range", NULL);
    }
    if (json_is_boolean(j)) {
        v->type = VAL_INT, v->i = json_is_true(j), v->d = (double)v->i;
        return 0;
    }
    return jfail(c, "expected a literal value", NULL);
}

static int add_scalar(struct fctx *c, struct filter_node *n, json_t *j)
{
    struct filter_literal v;
    int rc = json_scalar(c, j, &v);
    if (rc) return rc;
    return fnode_add_value(n, &v) ? err_set(c->err, ERR_NOMEM, "out of memory") : 0;
}

/* ---- GeoJSON geometry ---- */

static int positions(struct fctx *c, json_t *arr, struct geom *g, int ring)
{
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0 || n > 200000) return jfail(c, "bad coordinates", NULL);
    double *xy = malloc(n * 2 * sizeof *xy);
    if (!xy) return err_set(c->err, ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *p = json_array_get(arr, i);
        if (!json_is_array(p) || json_array_size(p) < 2 || !json_is_number(json_array_get(p, 0)) ||
            !json_is_number(json_array_get(p, 1)))
            rc = jfail(c, "bad position", NULL);
        else
            xy[2 * i] = json_number_value(json_array_get(p, 0)),
                   xy[2 * i + 1] = json_number_value(json_array_get(p, 1));
    }
    if (!rc && fgeom_add_part(g, ring, xy, (int)n)) rc = err_set(c->err, ERR_NOMEM, "oom");
    free(xy);
    return rc;
}

static int polygon(struct fctx *c, json_t *rings, struct geom *g)
{
    if (!json_is_array(rings) || json_array_size(rings) == 0) return jfail(c, "bad polygon", NULL);
    for (size_t i = 0; i < json_array_size(rings); i++) {
        int rc = positions(c, json_array_get(rings, i), g, i > 0);
        if (rc) return rc;
    }
    return 0;
}

static int geojson(struct fctx *c, json_t *j, struct filter_node *n)
{
    struct geom g;
    geom_init(&g);
    int rc = 0;
    json_t *bbox = json_object_get(j, "bbox");
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *co = json_object_get(j, "coordinates");
    if (json_is_array(bbox) && !type) {
        size_t k = json_array_size(bbox);
        double v[6];
        for (size_t i = 0; i < k && i < 6; i++)
            v[i] = json_number_value(json_array_get(bbox, i));
        if (k != 4 && k != 6)
            rc = jfail(c, "bbox takes 4 or 6 numbers", NULL);
        else if (v[0] > v[k / 2] || v[1] > v[k / 2 + 1])
            rc = jfail(c, "bbox min above max", NULL);
        else
            rc = fgeom_envelope(&g, v[0], v[1], v[k / 2], v[k / 2 + 1]) ? ERR_NOMEM : 0;
    } else if (!type || !co) {
        rc = jfail(c, "expected a GeoJSON geometry or {\"bbox\": [...]}", NULL);
    } else if (str_ieq(type, "Point")) {
        json_t *wrap = json_pack("[O]", co);
        g.type = GT_POINT, rc = positions(c, wrap, &g, 0);
        json_decref(wrap);
    } else if (str_ieq(type, "LineString")) {
        g.type = GT_LINESTRING, rc = positions(c, co, &g, 0);
    } else if (str_ieq(type, "Polygon")) {
        g.type = GT_POLYGON, rc = polygon(c, co, &g);
    } else if (str_ieq(type, "MultiPoint")) {
        g.type = GT_MULTIPOINT;
        for (size_t i = 0; i < json_array_size(co) && !rc; i++) {
            json_t *wrap = json_pack("[O]", json_array_get(co, i));
            rc = positions(c, wrap, &g, 0);
            json_decref(wrap);
        }
    } else if (str_ieq(type, "MultiLineString")) {
        g.type = GT_MULTILINESTRING;
        for (size_t i = 0; i < json_array_size(co) && !rc; i++)
            rc = positions(c, json_array_get(co, i), &g, 0);
    } else if (str_ieq(type, "MultiPolygon")) {
        g.type = GT_MULTIPOLYGON;
        for (size_t i = 0; i < json_array_size(co) && !rc; i++)
            rc = polygon(c, json_array_get(co, i), &g);
    } else {
        rc = jfail(c, "unsupported geometry type", type);
    }
    if (!rc) {
        n->srid = c->default_srid;
        n->authority_axes = 1;
        rc = fgeom_to_node(c, &g, n);
    }
    geom_fini(&g);
    return rc;
}

/* ---- operators ---- */

static const struct {
    const char *name;
    enum filter_op op;
} json_ops[] = {
    {"and", FOP_AND},
    {"or", FOP_OR},
    {"not", FOP_NOT},
    {"=", FOP_EQ},
    {"<>", FOP_NE},
    {"<", FOP_LT},
    {"<=", FOP_LE},
    {">", FOP_GT},
    {">=", FOP_GE},
    {"like", FOP_LIKE},
    {"between", FOP_BETWEEN},
    {"in", FOP_IN},
    {"isNull", FOP_ISNULL},
    {"s_intersects", FOP_INTERSECTS},
    {"s_within", FOP_WITHIN},
    {"s_contains", FOP_CONTAINS},
    {"s_disjoint", FOP_DISJOINT},
    {"s_equals", FOP_EQUALS},
    {"s_touches", FOP_TOUCHES},
    {"s_overlaps", FOP_OVERLAPS},
    {"s_crosses", FOP_CROSSES},
    {"s_dwithin", FOP_DWITHIN},
    {"s_beyond", FOP_BEYOND},
};

static struct filter_node *expr(struct fctx *c, json_t *j, int depth);

static int logical(struct fctx *c, json_t *args, struct filter_node *n, int depth)
{
    size_t k = json_array_size(args);
    if (k == 0 || (n->op == FOP_NOT && k != 1)) return jfail(c, "wrong number of args", NULL);
    for (size_t i = 0; i < k; i++) {
        struct filter_node *ch = expr(c, json_array_get(args, i), depth + 1);
        if (!ch) return c->err && c->err->code ? c->err->code : ERR_PARAM;
        if (fnode_add_child(n, ch)) {
            fnode_free(ch);
            return err_set(c->err, ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

static int compare(struct fctx *c, json_t *args, struct filter_node *n)
{
    if (json_array_size(args) != 2) return jfail(c, "a comparison takes two args", NULL);
    json_t *a = json_array_get(args, 0), *b = json_array_get(args, 1);
    if (!is_property(a) && is_property(b)) {
        json_t *t = a;
        a = b, b = t;
        static const enum filter_op flip[] = {FOP_EQ, FOP_NE, FOP_GT, FOP_GE, FOP_LT, FOP_LE};
        n->op = flip[n->op - FOP_EQ];
    }
    int rc = json_property(c, a, n);
    return rc ? rc : add_scalar(c, n, b);
}

static int spatial(struct fctx *c, json_t *args, struct filter_node *n)
{
    size_t k = json_array_size(args);
    int dist = n->op == FOP_DWITHIN || n->op == FOP_BEYOND;
    if (k < 2 || (!dist && k != 2) || (dist && (k < 3 || k > 4)))
        return jfail(c, "wrong number of args for a spatial operator", NULL);
    json_t *a = json_array_get(args, 0), *b = json_array_get(args, 1);
    if (!is_property(a) && is_property(b)) {
        json_t *t = a;
        a = b, b = t;
        if (n->op == FOP_WITHIN)
            n->op = FOP_CONTAINS;
        else if (n->op == FOP_CONTAINS)
            n->op = FOP_WITHIN;
    }
    int rc = json_property(c, a, n);
    if (!rc) rc = geojson(c, b, n);
    if (!rc && dist) {
        json_t *d = json_array_get(args, 2);
        const char *unit = k == 4 ? json_string_value(json_array_get(args, 3)) : NULL;
        if (!json_is_number(d) || json_number_value(d) < 0 ||
            (n->distance = funits_to_m(json_number_value(d), unit)) < 0)
            rc = jfail(c, "bad distance", NULL);
    }
    return rc;
}

static int operands(struct fctx *c, json_t *args, struct filter_node *n, int depth)
{
    size_t k = json_array_size(args);
    switch (n->op) {
    case FOP_AND:
    case FOP_OR:
    case FOP_NOT:
        return logical(c, args, n, depth);
    case FOP_LIKE:
        if (k != 2) return jfail(c, "like takes two args", NULL);
        return json_property(c, json_array_get(args, 0), n) ||
                       add_scalar(c, n, json_array_get(args, 1))
                   ? c->err->code
                   : 0;
    case FOP_BETWEEN:
        if (k != 3) return jfail(c, "between takes three args", NULL);
        return json_property(c, json_array_get(args, 0), n) ||
                       add_scalar(c, n, json_array_get(args, 1)) ||
                       add_scalar(c, n, json_array_get(args, 2))
                   ? c->err->code
                   : 0;
    case FOP_IN: {
        json_t *list = json_array_get(args, 1);
        if (k != 2 || !json_is_array(list)) return jfail(c, "in takes a property and a list", NULL);
        int rc = json_property(c, json_array_get(args, 0), n);
        for (size_t i = 0; i < json_array_size(list) && !rc; i++)
            rc = add_scalar(c, n, json_array_get(list, i));
        return rc;
    }
    case FOP_ISNULL:
        if (k != 1) return jfail(c, "isNull takes one arg", NULL);
        return json_property(c, json_array_get(args, 0), n);
    default:
        return n->op >= FOP_BBOX ? spatial(c, args, n) : compare(c, args, n);
    }
}

static struct filter_node *expr(struct fctx *c, json_t *j, int depth)
{
    if (c->lim && c->lim->max_depth > 0 && depth > c->lim->max_depth) {
        jfail(c, "filter nested too deeply", NULL);
        return NULL;
    }
    if (json_is_boolean(j)) return fnode_new(c, json_is_true(j) ? FOP_INCLUDE : FOP_EXCLUDE);
    json_t *op = json_object_get(j, "op"), *args = json_object_get(j, "args");
    if (!json_is_object(j) || !json_is_string(op) || !json_is_array(args)) {
        jfail(c, "expected {\"op\": ..., \"args\": [...]}", NULL);
        return NULL;
    }
    int found = -1;
    for (size_t i = 0; i < ARRAY_LEN(json_ops) && found < 0; i++)
        if (str_ieq(json_string_value(op), json_ops[i].name)) found = (int)json_ops[i].op;
    if (found < 0) {
        jfail(c, "unsupported operator", json_string_value(op));
        return NULL;
    }
    struct filter_node *n = fnode_new(c, (enum filter_op)found);
    if (!n) return NULL;
    if (operands(c, args, n, depth)) {
        if (!c->err || !c->err->code) jfail(c, "bad args", NULL);
        fnode_free(n);
        return NULL;
    }
    return n;
}

int filter_parse_cql2_json(const char *json, size_t len, const struct filter_limits *lim,
                           int default_srid, struct filter **out, struct err *err)
{
    struct fctx c = {lim, 0, default_srid ? default_srid : GEO_SRID_CRS84, err};
    *out = NULL;
    if (lim && lim->max_size && len > lim->max_size)
        return err_setl(err, ERR_PARAM, "filter", "filter longer than %zu bytes", lim->max_size);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root)
        return err_setl(err, ERR_PARAM, "filter", "CQL2 JSON: malformed JSON at offset %d: %s",
                        je.position, je.text);
    struct filter_node *n = expr(&c, root, 1);
    json_decref(root);
    if (!n) return err && err->code ? err->code : ERR_PARAM;
    *out = fwrap(&c, n);
    return *out ? 0 : ERR_NOMEM;
}
