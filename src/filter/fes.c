/* SPDX-License-Identifier: MIT */
/* fes.c: FES 2.0 (fes:), OGC Filter 1.1 and 1.0 (ogc:) XML into the filter tree. Elements are
 * matched by local name so the three versions share one parser: ValueReference/PropertyName,
 * Literal, the comparison, logical and spatial operators, ResourceId/FeatureId/GmlObjectId, and
 * GML 2/3 geometry literals (Point, LineString, Polygon, Multi*, Envelope, Box). Documents are
 * read through filter_xml_read (no DTD, no entities, no network, depth and size limits). */
#include "filter_int.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COORDS 200000

static int is(xmlNodePtr e, const char *name)
{
    if (!e || e->type != XML_ELEMENT_NODE) return 0;
    /* an undeclared prefix ("fes:Filter" without xmlns:fes) stays in the name: compare the
     * local part */
    const char *n = (const char *)e->name, *colon = strchr(n, ':');
    return strcmp(colon ? colon + 1 : n, name) == 0;
}

static xmlNodePtr first_elem(xmlNodePtr e)
{
    for (xmlNodePtr c = e ? e->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return c;
    return NULL;
}

static xmlNodePtr next_elem(xmlNodePtr e)
{
    for (xmlNodePtr c = e->next; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return c;
    return NULL;
}

static xmlNodePtr child(xmlNodePtr e, const char *name)
{
    for (xmlNodePtr c = first_elem(e); c; c = next_elem(c))
        if (is(c, name)) return c;
    return NULL;
}

/* Attribute value (caller frees with xmlFree), NULL if absent. */
static char *attr(xmlNodePtr e, const char *name)
{
    return (char *)xmlGetProp(e, (const xmlChar *)name);
}

static int bad(struct fctx *c, const char *msg, const char *what)
{
    return err_setl(c->err, ERR_PARAM, "FILTER", "%s%s%s", msg, what ? ": " : "", what ? what : "");
}

/* ---- GML geometry ---- */

struct coords {
    double *xy;
    int n, cap; /* points */
};

static int coords_push(struct coords *k, double x, double y)
{
    if (k->n >= MAX_COORDS) return ERR_LIMIT;
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 16;
        double *p = realloc(k->xy, (size_t)cap * 2 * sizeof *p);
        if (!p) return ERR_NOMEM;
        k->xy = p;
        k->cap = cap;
    }
    k->xy[2 * k->n] = x, k->xy[2 * k->n + 1] = y;
    k->n++;
    return 0;
}

/* Numbers separated by whitespace (posList, pos) or by ',' and whitespace (GML 2 coordinates). */
static int read_numbers(struct fctx *c, xmlNodePtr e, int dim, int comma, struct coords *k)
{
    char *text = (char *)xmlNodeGetContent(e);
    if (!text) return bad(c, "empty coordinates", NULL);
    double v[3] = {0, 0, 0};
    int i = 0, rc = 0;
    char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || (comma && *p == ','))
            p++;
        if (!*p) break;
        char *end;
        double d = strtod(p, &end);
        if (end == p || !isfinite(d)) {
            rc = bad(c, "bad coordinate in GML", NULL);
            break;
        }
        p = end;
        v[i++] = d;
        if (i == dim) {
            if ((rc = coords_push(k, v[0], v[1]))) {
                rc = rc == ERR_LIMIT ? bad(c, "geometry literal has too many points", NULL)
                                     : err_set(c->err, ERR_NOMEM, "out of memory");
                break;
            }
            i = 0;
        }
    }
    xmlFree(text);
    if (!rc && i != 0) rc = bad(c, "odd number of coordinates in GML", NULL);
    return rc;
}

static int read_points(struct fctx *c, xmlNodePtr e, struct coords *k)
{
    int dim = 2;
    char *sd = attr(e, "srsDimension");
    if (sd) {
        dim = strcmp(sd, "3") == 0 ? 3 : 2;
        xmlFree(sd);
    }
    for (xmlNodePtr x = first_elem(e); x; x = next_elem(x)) {
        int rc = 0;
        if (is(x, "posList") || is(x, "pos") || is(x, "lowerCorner") || is(x, "upperCorner")) {
            char *d2 = attr(x, "srsDimension");
            int dd = d2 && strcmp(d2, "3") == 0 ? 3 : dim;
            if (d2) xmlFree(d2);
            rc = read_numbers(c, x, dd, 0, k);
        } else if (is(x, "coordinates")) {
            rc = read_numbers(c, x, 2, 1, k);
        } else if (is(x, "coord")) {
            xmlNodePtr X = child(x, "X"), Y = child(x, "Y");
            double vx, vy;
            char *sx = X ? (char *)xmlNodeGetContent(X) : NULL;
            char *sy = Y ? (char *)xmlNodeGetContent(Y) : NULL;
            int ok = sx && sy && !str_to_double(sx, &vx) && !str_to_double(sy, &vy);
            if (sx) xmlFree(sx);
            if (sy) xmlFree(sy);
            rc = ok ? coords_push(k, vx, vy) : bad(c, "bad gml:coord", NULL);
        } else if (is(x, "Point") || is(x, "pointProperty") || is(x, "pointRep")) {
            rc = read_points(c, is(x, "Point") ? x : first_elem(x), k);
        }
        if (rc) return rc;
    }
    return 0;
}

static int add_points(struct fctx *c, xmlNodePtr e, struct geom *g, int ring)
{
    struct coords k = {0};
    int rc = e ? read_points(c, e, &k) : bad(c, "missing coordinates", NULL);
    if (!rc && k.n == 0) rc = bad(c, "geometry without coordinates", (const char *)e->name);
    if (!rc && fgeom_add_part(g, ring, k.xy, k.n)) rc = err_set(c->err, ERR_NOMEM, "out of memory");
    free(k.xy);
    return rc;
}

static int add_polygon(struct fctx *c, xmlNodePtr poly, struct geom *g)
{
    int rc = 0, n = 0;
    for (xmlNodePtr b = first_elem(poly); b && !rc; b = next_elem(b)) {
        int ext = is(b, "exterior") || is(b, "outerBoundaryIs");
        int in = is(b, "interior") || is(b, "innerBoundaryIs");
        if (!ext && !in) continue;
        if (ext != (n == 0)) return bad(c, "polygon rings out of order", NULL);
        rc = add_points(c, child(b, "LinearRing"), g, in);
        n++;
    }
    return rc ? rc : n ? 0 : bad(c, "polygon without exterior ring", NULL);
}

/* Members of a Multi* element: every descendant geometry of the base type. */
static int add_members(struct fctx *c, xmlNodePtr e, struct geom *g, int base, int depth)
{
    if (depth > 6) return bad(c, "geometry nested too deeply", NULL);
    for (xmlNodePtr m = first_elem(e); m; m = next_elem(m)) {
        int rc = 0;
        if (base == GT_POINT && is(m, "Point"))
            rc = add_points(c, m, g, 0);
        else if (base == GT_LINESTRING && is(m, "LineString"))
            rc = add_points(c, m, g, 0);
        else if (base == GT_POLYGON && is(m, "Polygon"))
            rc = add_polygon(c, m, g);
        else
            rc = add_members(c, m, g, base, depth + 1);
        if (rc) return rc;
    }
    return 0;
}

/* srsName -> srid and axis-order flag; the element's own or the inherited one. */
static int geom_srs(struct fctx *c, xmlNodePtr e, struct filter_node *n)
{
    char *srs = attr(e, "srsName");
    if (!srs) {
        if (!n->srid) n->srid = c->default_srid;
        return 0;
    }
    int srid;
    int rc = geo_crs_parse(srs, &srid);
    if (rc) {
        err_setl(c->err, ERR_PARAM, "FILTER", "unknown CRS \"%.100s\"", srs);
        xmlFree(srs);
        return ERR_PARAM;
    }
    /* EPSG:n and the gml/srs/epsg.xml# form are x/y (WFS 1.x habit); URNs and URIs follow the
     * authority's axis order */
    n->authority_axes =
        strncmp(srs, "urn:", 4) == 0 || (strncmp(srs, "http", 4) == 0 && !strstr(srs, "epsg.xml#"));
    n->srid = srid;
    xmlFree(srs);
    return 0;
}

static int parse_gml(struct fctx *c, xmlNodePtr e, struct filter_node *n)
{
    struct geom g;
    geom_init(&g);
    int rc = geom_srs(c, e, n);
    if (rc) return rc;
    if (is(e, "Envelope") || is(e, "Box")) {
        struct coords k = {0};
        rc = read_points(c, e, &k);
        if (!rc && k.n != 2) rc = bad(c, "an envelope needs two corners", NULL);
        if (!rc && (k.xy[0] > k.xy[2] || k.xy[1] > k.xy[3]))
            rc = bad(c, "envelope lower corner is above its upper corner", NULL);
        if (!rc && fgeom_envelope(&g, k.xy[0], k.xy[1], k.xy[2], k.xy[3]))
            rc = err_set(c->err, ERR_NOMEM, "out of memory");
        free(k.xy);
    } else if (is(e, "Point")) {
        g.type = GT_POINT, rc = add_points(c, e, &g, 0);
    } else if (is(e, "LineString") || is(e, "Curve")) {
        g.type = GT_LINESTRING, rc = add_points(c, e, &g, 0);
    } else if (is(e, "Polygon") || is(e, "Surface")) {
        g.type = GT_POLYGON, rc = add_polygon(c, e, &g);
    } else if (is(e, "MultiPoint")) {
        g.type = GT_MULTIPOINT, rc = add_members(c, e, &g, GT_POINT, 0);
    } else if (is(e, "MultiCurve") || is(e, "MultiLineString")) {
        g.type = GT_MULTILINESTRING, rc = add_members(c, e, &g, GT_LINESTRING, 0);
    } else if (is(e, "MultiSurface") || is(e, "MultiPolygon")) {
        g.type = GT_MULTIPOLYGON, rc = add_members(c, e, &g, GT_POLYGON, 0);
    } else {
        rc = bad(c, "unsupported geometry", (const char *)e->name);
    }
    if (!rc) rc = fgeom_to_node(c, &g, n);
    geom_fini(&g);
    return rc;
}

/* ---- operators ---- */

static int is_prop(xmlNodePtr e)
{
    return is(e, "ValueReference") || is(e, "PropertyName");
}

static int set_prop(struct fctx *c, struct filter_node *n, xmlNodePtr e)
{
    char *t = (char *)xmlNodeGetContent(e);
    if (!t) return bad(c, "empty property name", NULL);
    int rc = fnode_set_property(n, t, strlen(t));
    xmlFree(t);
    if (rc) return err_set(c->err, ERR_NOMEM, "out of memory");
    if (!n->property[0]) return bad(c, "empty property name", NULL);
    return 0;
}

static int add_literal(struct fctx *c, struct filter_node *n, xmlNodePtr e)
{
    if (is(e, "Function") || is_prop(e) || !is(e, "Literal"))
        return bad(c, "expected a Literal", (const char *)e->name);
    char *t = (char *)xmlNodeGetContent(e);
    struct filter_literal v;
    int rc = flit_text(&v, t ? t : "", t ? strlen(t) : 0);
    if (t) xmlFree(t);
    if (!rc) rc = fnode_add_value(n, &v);
    return rc ? err_set(c->err, ERR_NOMEM, "out of memory") : 0;
}

static int match_case(xmlNodePtr e)
{
    char *m = attr(e, "matchCase");
    int yes = !m || !str_ieq(m, "false");
    if (m) xmlFree(m);
    return yes;
}

static int parse_compare(struct fctx *c, xmlNodePtr e, struct filter_node *n)
{
    xmlNodePtr a = first_elem(e), b = a ? next_elem(a) : NULL;
    if (!a || !b || next_elem(b)) return bad(c, "a comparison takes two operands", NULL);
    if (!is_prop(a)) {
        xmlNodePtr t = a;
        a = b, b = t;
        static const enum filter_op flip[] = {FOP_EQ, FOP_NE, FOP_GT, FOP_GE, FOP_LT, FOP_LE};
        n->op = flip[n->op - FOP_EQ];
    }
    if (!is_prop(a)) return bad(c, "a comparison needs a property", NULL);
    n->match_case = match_case(e);
    int rc = set_prop(c, n, a);
    return rc ? rc : add_literal(c, n, b);
}

/* Rewrites a pattern with the element's wildcard characters into '%' '_' '\\' form. */
static int parse_like(struct fctx *c, xmlNodePtr e, struct filter_node *n)
{
    xmlNodePtr a = first_elem(e), b = a ? next_elem(a) : NULL;
    if (!a || !b || !is_prop(a))
        return bad(c, "PropertyIsLike needs a property and a pattern", NULL);
    n->match_case = match_case(e);
    int rc = set_prop(c, n, a);
    if (!rc) rc = add_literal(c, n, b);
    if (rc) return rc;
    char *w = attr(e, "wildCard"), *s = attr(e, "singleChar"), *x = attr(e, "escapeChar");
    if (!x) x = attr(e, "escape");
    char wc = w && w[0] ? w[0] : '*', sc = s && s[0] ? s[0] : '.', ec = x && x[0] ? x[0] : '!';
    int ok = !(w && strlen(w) != 1) && !(s && strlen(s) != 1) && !(x && strlen(x) != 1);
    if (w) xmlFree(w);
    if (s) xmlFree(s);
    if (x) xmlFree(x);
    if (!ok) return bad(c, "wildCard, singleChar and escapeChar must be one character", NULL);
    struct buf out;
    buf_init(&out);
    for (const char *p = n->values[0].s; *p; p++) {
        if (*p == ec && p[1]) {
            p++;
            if (*p == '%' || *p == '_' || *p == '\\') buf_putc(&out, '\\');
            buf_putc(&out, *p);
        } else if (*p == wc) {
            buf_putc(&out, '%');
        } else if (*p == sc) {
            buf_putc(&out, '_');
        } else {
            if (*p == '%' || *p == '_' || *p == '\\') buf_putc(&out, '\\');
            buf_putc(&out, *p);
        }
    }
    if (buf_append(&out, "", 0)) return err_set(c->err, ERR_NOMEM, "out of memory");
    free(n->values[0].s);
    n->values[0].s = buf_take(&out, NULL);
    return 0;
}

static int parse_between(struct fctx *c, xmlNodePtr e, struct filter_node *n)
{
    xmlNodePtr p = first_elem(e), lo = child(e, "LowerBoundary"), hi = child(e, "UpperBoundary");
    if (!p || !is_prop(p) || !lo || !hi)
        return bad(c, "PropertyIsBetween needs a property, LowerBoundary and UpperBoundary", NULL);
    int rc = set_prop(c, n, p);
    if (!rc)
        rc = first_elem(lo) ? add_literal(c, n, first_elem(lo)) : bad(c, "empty boundary", NULL);
    if (!rc)
        rc = first_elem(hi) ? add_literal(c, n, first_elem(hi)) : bad(c, "empty boundary", NULL);
    return rc;
}

static int parse_spatial(struct fctx *c, xmlNodePtr e, struct filter_node *n)
{
    int have_geom = 0;
    for (xmlNodePtr x = first_elem(e); x; x = next_elem(x)) {
        int rc = 0;
        if (is_prop(x)) {
            rc = set_prop(c, n, x);
        } else if (is(x, "Distance")) {
            char *u = attr(x, "uom");
            if (!u) u = attr(x, "units");
            char *t = (char *)xmlNodeGetContent(x);
            double d;
            if (!t || str_to_double(t, &d) || d < 0)
                rc = bad(c, "bad Distance", NULL);
            else if ((n->distance = funits_to_m(d, u)) < 0)
                rc = bad(c, "unknown distance unit", u);
            if (u) xmlFree(u);
            if (t) xmlFree(t);
        } else if (is(x, "Literal") && first_elem(x)) {
            rc = parse_gml(c, first_elem(x), n), have_geom++;
        } else {
            rc = parse_gml(c, x, n), have_geom++;
        }
        if (rc) return rc;
    }
    if (have_geom != 1)
        return bad(c, "a spatial operator takes one geometry", (const char *)e->name);
    return 0;
}

static int add_rid(struct fctx *c, struct filter_node *n, xmlNodePtr e)
{
    char *id = attr(e, "rid");
    if (!id) id = attr(e, "fid");
    if (!id)
        id = (char *)xmlGetNsProp(e, (const xmlChar *)"id",
                                  (const xmlChar *)"http://www.opengis.net/gml");
    if (!id) id = attr(e, "id");
    if (!id) id = attr(e, "gml:id");
    if (!id) return bad(c, "ResourceId without rid", NULL);
    struct filter_literal v;
    int rc = flit_text(&v, id, strlen(id));
    xmlFree(id);
    if (!rc) rc = fnode_add_value(n, &v);
    return rc ? err_set(c->err, ERR_NOMEM, "out of memory") : 0;
}

static int is_rid(xmlNodePtr e)
{
    return is(e, "ResourceId") || is(e, "FeatureId") || is(e, "GmlObjectId");
}

static struct filter_node *parse_op(struct fctx *c, xmlNodePtr e, int depth);

static int parse_logical(struct fctx *c, xmlNodePtr e, struct filter_node *n, int depth)
{
    for (xmlNodePtr x = first_elem(e); x; x = next_elem(x)) {
        struct filter_node *k = parse_op(c, x, depth + 1);
        if (!k) return c->err && c->err->code ? c->err->code : ERR_PARAM;
        if (fnode_add_child(n, k)) {
            fnode_free(k);
            return err_set(c->err, ERR_NOMEM, "out of memory");
        }
    }
    if (n->op == FOP_NOT && n->n_children != 1) return bad(c, "Not takes one operand", NULL);
    if (n->n_children == 0) return bad(c, "empty logical operator", (const char *)e->name);
    return 0;
}

static const struct {
    const char *name;
    enum filter_op op;
} scalar_ops[] = {
    {"PropertyIsEqualTo", FOP_EQ},
    {"PropertyIsNotEqualTo", FOP_NE},
    {"PropertyIsLessThan", FOP_LT},
    {"PropertyIsLessThanOrEqualTo", FOP_LE},
    {"PropertyIsGreaterThan", FOP_GT},
    {"PropertyIsGreaterThanOrEqualTo", FOP_GE},
    {"PropertyIsLike", FOP_LIKE},
    {"PropertyIsBetween", FOP_BETWEEN},
    {"PropertyIsNull", FOP_ISNULL},
    {"PropertyIsNil", FOP_ISNULL},
    {"And", FOP_AND},
    {"Or", FOP_OR},
    {"Not", FOP_NOT},
};

static struct filter_node *parse_op(struct fctx *c, xmlNodePtr e, int depth)
{
    if (c->lim && c->lim->max_depth > 0 && depth > c->lim->max_depth) {
        bad(c, "filter nested too deeply", NULL);
        return NULL;
    }
    int op = -1;
    for (size_t i = 0; i < ARRAY_LEN(scalar_ops) && op < 0; i++)
        if (is(e, scalar_ops[i].name)) op = (int)scalar_ops[i].op;
    if (op < 0) {
        const char *n = (const char *)e->name, *colon = strchr(n, ':');
        if (colon) n = colon + 1;
        op = fop_spatial_by_name(n, strlen(n));
    }
    if (op < 0 && is_rid(e)) op = FOP_RESOURCE_ID;
    if (op < 0) {
        bad(c, "unsupported filter operator", (const char *)e->name);
        return NULL;
    }
    struct filter_node *n = fnode_new(c, (enum filter_op)op);
    if (!n) return NULL;
    int rc;
    switch (n->op) {
    case FOP_AND:
    case FOP_OR:
    case FOP_NOT:
        rc = parse_logical(c, e, n, depth);
        break;
    case FOP_LIKE:
        rc = parse_like(c, e, n);
        break;
    case FOP_BETWEEN:
        rc = parse_between(c, e, n);
        break;
    case FOP_ISNULL:
        rc = first_elem(e) && is_prop(first_elem(e))
                 ? set_prop(c, n, first_elem(e))
                 : bad(c, "PropertyIsNull needs a property", NULL);
        break;
    case FOP_RESOURCE_ID:
        rc = add_rid(c, n, e);
        break;
    default:
        rc = n->op >= FOP_BBOX ? parse_spatial(c, e, n) : parse_compare(c, e, n);
    }
    if (rc) {
        fnode_free(n);
        return NULL;
    }
    return n;
}

int filter_parse_fes_node(const void *xml_node, const struct filter_limits *lim, int default_srid,
                          struct filter **out, struct err *err)
{
    xmlNodePtr e = (xmlNodePtr)xml_node;
    struct fctx c = {lim, 0, default_srid, err};
    *out = NULL;
    if (!e || e->type != XML_ELEMENT_NODE) return bad(&c, "missing Filter element", NULL);
    struct filter_node *root = NULL;
    if (!is(e, "Filter")) {
        root = parse_op(&c, e, 1);
    } else {
        xmlNodePtr x = first_elem(e);
        if (!x) return bad(&c, "empty Filter", NULL);
        if (is_rid(x)) {
            root = fnode_new(&c, FOP_RESOURCE_ID);
            for (; root && x; x = next_elem(x)) {
                if (!is_rid(x) || add_rid(&c, root, x)) {
                    if (!is_rid(x))
                        bad(&c, "ResourceId cannot be mixed with other operators", NULL);
                    fnode_free(root);
                    root = NULL;
                }
            }
        } else if (next_elem(x)) {
            return bad(&c, "a Filter holds one operator (use And/Or)", NULL);
        } else {
            root = parse_op(&c, x, 1);
        }
    }
    if (!root) return err && err->code ? err->code : ERR_PARAM;
    *out = fwrap(&c, root);
    return *out ? 0 : ERR_NOMEM;
}

int filter_parse_fes(const char *xml, size_t len, const struct filter_limits *lim, int default_srid,
                     struct filter **out, struct err *err)
{
    void *doc;
    *out = NULL;
    int rc = filter_xml_read(xml, len, lim, &doc, err);
    if (rc) return rc;
    rc = filter_parse_fes_node(xmlDocGetRootElement((xmlDocPtr)doc), lim, default_srid, out, err);
    filter_xml_free(doc);
    return rc;
}
