/* SPDX-License-Identifier: MIT */
/* cql2_text.c: CQL2 text (OGC API Features Part 3) into the filter tree, by hand-written
 * recursive descent with a depth limit. Supports AND/OR/NOT and parentheses, comparisons
 * (= <> < <= > >=, either side literal), [NOT] LIKE, [NOT] BETWEEN, [NOT] IN (...), IS [NOT]
 * NULL, CASEI(prop) for case-insensitive comparisons, the S_* spatial functions (plus the
 * ECQL names INTERSECTS, DWITHIN, BEYOND...), WKT and BBOX(...) geometry literals, DATE() and
 * TIMESTAMP() literals, TRUE/FALSE, INCLUDE/EXCLUDE. Geometry literals are in the filter CRS. */
#include "filter_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_POINTS 200000

struct p {
    struct fctx *c;
    const char *s, *pos;
    int depth;
};

static int fail(struct p *p, const char *what)
{
    return err_setl(p->c->err, ERR_PARAM, "filter", "CQL2 syntax error at offset %d: %s",
                    (int)(p->pos - p->s), what);
}

static void ws(struct p *p)
{
    while (isspace((unsigned char)*p->pos))
        p->pos++;
}

static int peek_char(struct p *p, char ch)
{
    ws(p);
    return *p->pos == ch;
}

static int eat_char(struct p *p, char ch)
{
    if (!peek_char(p, ch)) return 0;
    p->pos++;
    return 1;
}

static int ident_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == ':' || ch == '.';
}

/* Case-insensitive keyword followed by a non-identifier character. */
static int eat_kw(struct p *p, const char *kw)
{
    ws(p);
    size_t n = strlen(kw);
    if (strncasecmp(p->pos, kw, n) != 0 || ident_char(p->pos[n])) return 0;
    p->pos += n;
    return 1;
}

static int peek_kw(struct p *p, const char *kw)
{
    const char *save = p->pos;
    int yes = eat_kw(p, kw);
    p->pos = save;
    return yes;
}

/* identifier or "quoted identifier" -> [start, len) */
static int ident(struct p *p, const char **start, size_t *len)
{
    ws(p);
    if (*p->pos == '"') {
        const char *e = strchr(p->pos + 1, '"');
        if (!e) return fail(p, "unterminated quoted identifier");
        *start = p->pos + 1, *len = (size_t)(e - p->pos - 1);
        p->pos = e + 1;
        return *len ? 0 : fail(p, "empty identifier");
    }
    if (!isalpha((unsigned char)*p->pos) && *p->pos != '_') return fail(p, "expected a property");
    *start = p->pos;
    while (ident_char(*p->pos))
        p->pos++;
    *len = (size_t)(p->pos - *start);
    return 0;
}

static int string_lit(struct p *p, struct filter_literal *v)
{
    ws(p);
    if (*p->pos != '\'') return fail(p, "expected a string");
    struct buf b;
    buf_init(&b);
    const char *q = p->pos + 1;
    for (;;) {
        if (!*q) {
            buf_fini(&b);
            return fail(p, "unterminated string");
        }
        if (*q == '\'') {
            if (q[1] != '\'') break;
            q++;
        }
        if (buf_putc(&b, *q++)) {
            buf_fini(&b);
            return err_set(p->c->err, ERR_NOMEM, "out of memory");
        }
    }
    p->pos = q + 1;
    if (buf_append(&b, "", 0)) return err_set(p->c->err, ERR_NOMEM, "out of memory");
    memset(v, 0, sizeof *v);
    v->type = VAL_TEXT;
    v->s = buf_take(&b, NULL);
    return 0;
}

static int number(struct p *p, double *d, const char **start, size_t *len)
{
    ws(p);
    char *end;
    const char *s = p->pos;
    if (!(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.'))
        return fail(p, "expected a number");
    *d = strtod(s, &end);
    if (end == s || !isfinite(*d) || ident_char(*end)) return fail(p, "bad number");
    if (start) *start = s, *len = (size_t)(end - s);
    p->pos = end;
    return 0;
}

/* scalar literal: string, number, TRUE/FALSE, DATE('..'), TIMESTAMP('..') */
static int scalar(struct p *p, struct filter_literal *v)
{
    ws(p);
    memset(v, 0, sizeof *v);
    if (*p->pos == '\'') return string_lit(p, v);
    if (eat_kw(p, "CASEI")) { /* CASEI('Text'): the property side decides */
        if (!eat_char(p, '(')) return fail(p, "expected ( after CASEI");
        int rc = string_lit(p, v);
        if (!rc && !eat_char(p, ')')) rc = fail(p, "expected ) after CASEI");
        if (rc) free(v->s), v->s = NULL;
        return rc;
    }
    if (eat_kw(p, "TRUE") || eat_kw(p, "FALSE")) {
        v->type = VAL_INT;
        v->i =
            toupper((unsigned char)p->pos[-1]) == 'E' && toupper((unsigned char)p->pos[-4]) == 'T';
        v->d = (double)v->i;
        return 0;
    }
    if (eat_kw(p, "DATE") || eat_kw(p, "TIMESTAMP")) {
        if (!eat_char(p, '(')) return fail(p, "expected ( after DATE/TIMESTAMP");
        int rc = string_lit(p, v);
        if (!rc && !eat_char(p, ')')) rc = fail(p, "expected )");
        if (rc) free(v->s), v->s = NULL;
        return rc;
    }
    double d;
    const char *s;
    size_t n;
    int rc = number(p, &d, &s, &n);
    if (rc) return rc;
    return flit_number_or_text(v, s, n) ? err_set(p->c->err, ERR_NOMEM, "out of memory") : 0;
}

/* ---- WKT ---- */

static int point_list(struct p *p, struct geom *g, int ring, int single)
{
    double *xy = NULL;
    int n = 0, cap = 0, rc = 0;
    if (!eat_char(p, '(')) return fail(p, "expected ( in WKT");
    do {
        int paren = eat_char(p, '('); /* MULTIPOINT((1 2),(3 4)) */
        double x, y;
        if ((rc = number(p, &x, NULL, NULL)) || (rc = number(p, &y, NULL, NULL))) break;
        ws(p);
        if (isdigit((unsigned char)*p->pos) || *p->pos == '-') { /* a Z value: ignored */
            double z;
            if ((rc = number(p, &z, NULL, NULL))) break;
        }
        if (paren && !eat_char(p, ')')) {
            rc = fail(p, "expected ) in WKT");
            break;
        }
        if (n == MAX_POINTS) {
            rc = fail(p, "geometry has too many points");
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            double *q = realloc(xy, (size_t)cap * 2 * sizeof *q);
            if (!q) {
                rc = err_set(p->c->err, ERR_NOMEM, "out of memory");
                break;
            }
            xy = q;
        }
        xy[2 * n] = x, xy[2 * n + 1] = y, n++;
        if (single) break;
    } while (eat_char(p, ','));
    if (!rc && !eat_char(p, ')')) rc = fail(p, "expected ) in WKT");
    if (!rc && single == 2) { /* MULTIPOINT: each point a part */
        for (int i = 0; i < n && !rc; i++)
            rc = fgeom_add_part(g, 0, xy + 2 * i, 1);
    } else if (!rc) {
        rc = fgeom_add_part(g, ring, xy, n) ? err_set(p->c->err, ERR_NOMEM, "out of memory") : 0;
    }
    free(xy);
    return rc;
}

static int polygon_rings(struct p *p, struct geom *g)
{
    if (!eat_char(p, '(')) return fail(p, "expected ( in POLYGON");
    int i = 0, rc;
    do {
        if ((rc = point_list(p, g, i++ > 0, 0))) return rc;
    } while (eat_char(p, ','));
    return eat_char(p, ')') ? 0 : fail(p, "expected ) in POLYGON");
}

static int multi(struct p *p, struct geom *g, int base)
{
    if (base == GT_POINT) {
        /* MULTIPOINT(1 2, 3 4) or MULTIPOINT((1 2), (3 4)) */
        return point_list(p, g, 0, 2);
    }
    if (!eat_char(p, '(')) return fail(p, "expected ( in MULTI geometry");
    int rc;
    do {
        rc = base == GT_LINESTRING ? point_list(p, g, 0, 0) : polygon_rings(p, g);
        if (rc) return rc;
    } while (eat_char(p, ','));
    return eat_char(p, ')') ? 0 : fail(p, "expected ) in MULTI geometry");
}

static int is_geom_start(struct p *p)
{
    static const char *const kws[] = {"POINT",           "LINESTRING",   "POLYGON", "MULTIPOINT",
                                      "MULTILINESTRING", "MULTIPOLYGON", "BBOX",    "ENVELOPE"};
    for (size_t i = 0; i < ARRAY_LEN(kws); i++)
        if (peek_kw(p, kws[i])) return 1;
    return 0;
}

static int geometry(struct p *p, struct filter_node *n)
{
    struct geom g;
    geom_init(&g);
    int rc;
    if (eat_kw(p, "BBOX") || eat_kw(p, "ENVELOPE")) {
        double v[6];
        int k = 0;
        rc = eat_char(p, '(') ? 0 : fail(p, "expected ( after BBOX");
        while (!rc && k < 6) {
            if ((rc = number(p, &v[k++], NULL, NULL))) break;
            if (!eat_char(p, ',')) break;
        }
        if (!rc && !eat_char(p, ')')) rc = fail(p, "expected ) after BBOX");
        if (!rc && k != 4 && k != 6) rc = fail(p, "BBOX takes 4 or 6 numbers");
        if (!rc) {
            double x0 = v[0], y0 = v[1], x1 = v[k / 2], y1 = v[k / 2 + 1];
            if (x0 > x1 || y0 > y1)
                rc = fail(p, "BBOX minimum above maximum");
            else
                rc = fgeom_envelope(&g, x0, y0, x1, y1) ? ERR_NOMEM : 0;
        }
    } else if (eat_kw(p, "POINT")) {
        g.type = GT_POINT, rc = point_list(p, &g, 0, 1);
    } else if (eat_kw(p, "LINESTRING")) {
        g.type = GT_LINESTRING, rc = point_list(p, &g, 0, 0);
    } else if (eat_kw(p, "POLYGON")) {
        g.type = GT_POLYGON, rc = polygon_rings(p, &g);
    } else if (eat_kw(p, "MULTIPOINT")) {
        g.type = GT_MULTIPOINT, rc = multi(p, &g, GT_POINT);
    } else if (eat_kw(p, "MULTILINESTRING")) {
        g.type = GT_MULTILINESTRING, rc = multi(p, &g, GT_LINESTRING);
    } else if (eat_kw(p, "MULTIPOLYGON")) {
        g.type = GT_MULTIPOLYGON, rc = multi(p, &g, GT_POLYGON);
    } else {
        rc = fail(p, "expected a geometry (WKT or BBOX)");
    }
    if (!rc) {
        n->srid = p->c->default_srid;
        n->authority_axes = 1;
        rc = fgeom_to_node(p->c, &g, n);
    }
    geom_fini(&g);
    return rc;
}

/* ---- predicates ---- */

static const struct {
    const char *name;
    enum filter_op op;
} spatial_fns[] = {
    {"S_INTERSECTS", FOP_INTERSECTS}, {"S_WITHIN", FOP_WITHIN},       {"S_CONTAINS", FOP_CONTAINS},
    {"S_DISJOINT", FOP_DISJOINT},     {"S_EQUALS", FOP_EQUALS},       {"S_TOUCHES", FOP_TOUCHES},
    {"S_OVERLAPS", FOP_OVERLAPS},     {"S_CROSSES", FOP_CROSSES},     {"S_DWITHIN", FOP_DWITHIN},
    {"S_BEYOND", FOP_BEYOND},         {"INTERSECTS", FOP_INTERSECTS}, {"WITHIN", FOP_WITHIN},
    {"CONTAINS", FOP_CONTAINS},       {"DISJOINT", FOP_DISJOINT},     {"EQUALS", FOP_EQUALS},
    {"TOUCHES", FOP_TOUCHES},         {"OVERLAPS", FOP_OVERLAPS},     {"CROSSES", FOP_CROSSES},
    {"DWITHIN", FOP_DWITHIN},         {"BEYOND", FOP_BEYOND},
};

static int spatial(struct p *p, struct filter_node *n)
{
    if (!eat_char(p, '(')) return fail(p, "expected ( after spatial function");
    const char *s;
    size_t len;
    int rc = 0;
    if (is_geom_start(p)) { /* S_INTERSECTS(geometry literal, property) */
        rc = geometry(p, n);
        if (!rc && !eat_char(p, ',')) rc = fail(p, "expected ,");
        if (!rc) rc = ident(p, &s, &len);
        if (!rc && n->op == FOP_WITHIN)
            n->op = FOP_CONTAINS;
        else if (!rc && n->op == FOP_CONTAINS)
            n->op = FOP_WITHIN;
    } else {
        rc = ident(p, &s, &len);
        if (!rc && !eat_char(p, ',')) rc = fail(p, "expected ,");
        if (!rc) rc = geometry(p, n);
    }
    if (!rc && fnode_set_property(n, s, len)) rc = err_set(p->c->err, ERR_NOMEM, "out of memory");
    if (!rc && (n->op == FOP_DWITHIN || n->op == FOP_BEYOND)) {
        double d;
        if (!eat_char(p, ',')) return fail(p, "DWITHIN/BEYOND need a distance");
        if ((rc = number(p, &d, NULL, NULL))) return rc;
        char unit[32] = "";
        if (eat_char(p, ',')) {
            const char *u;
            size_t ul;
            if ((rc = ident(p, &u, &ul))) return rc;
            snprintf(unit, sizeof unit, "%.*s", (int)(ul < 31 ? ul : 31), u);
        }
        if (d < 0 || (n->distance = funits_to_m(d, unit)) < 0)
            return fail(p, "bad distance or unit");
    }
    if (!rc && !eat_char(p, ')')) rc = fail(p, "expected ) after spatial function");
    return rc;
}

static int value_list(struct p *p, struct filter_node *n)
{
    if (!eat_char(p, '(')) return fail(p, "expected ( after IN");
    int rc;
    do {
        struct filter_literal v;
        if ((rc = scalar(p, &v))) return rc;
        if (fnode_add_value(n, &v)) return err_set(p->c->err, ERR_NOMEM, "out of memory");
        if (n->n_values > 10000) return fail(p, "IN list too long");
    } while (eat_char(p, ','));
    return eat_char(p, ')') ? 0 : fail(p, "expected ) after IN list");
}

static struct filter_node *negate(struct p *p, struct filter_node *n)
{
    struct filter_node *no = fnode_new(p->c, FOP_NOT);
    if (!no || fnode_add_child(no, n)) {
        fnode_free(no);
        fnode_free(n);
        if (!p->c->err || !p->c->err->code) err_set(p->c->err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    return no;
}

static int comparison_op(struct p *p, enum filter_op *op)
{
    ws(p);
    static const struct {
        const char *t;
        enum filter_op op;
    } ops[] = {{"<>", FOP_NE}, {"<=", FOP_LE}, {">=", FOP_GE}, {"=", FOP_EQ},
               {"<", FOP_LT},  {">", FOP_GT},  {"!=", FOP_NE}};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++)
        if (strncmp(p->pos, ops[i].t, strlen(ops[i].t)) == 0) {
            p->pos += strlen(ops[i].t);
            *op = ops[i].op;
            return 0;
        }
    return fail(p, "expected a comparison operator");
}

/* property followed by an operator */
static int property_predicate(struct p *p, struct filter_node *n, int *negated)
{
    int rc = 0;
    int not = eat_kw(p, "NOT");
    if (eat_kw(p, "LIKE")) {
        n->op = FOP_LIKE;
        struct filter_literal v;
        rc = scalar(p, &v);
        if (!rc && v.type != VAL_TEXT) rc = fail(p, "LIKE needs a string pattern");
        if (!rc && fnode_add_value(n, &v)) rc = err_set(p->c->err, ERR_NOMEM, "out of memory");
    } else if (eat_kw(p, "BETWEEN")) {
        n->op = FOP_BETWEEN;
        struct filter_literal a, b;
        if ((rc = scalar(p, &a))) return rc;
        if (fnode_add_value(n, &a)) return err_set(p->c->err, ERR_NOMEM, "out of memory");
        if (!eat_kw(p, "AND")) return fail(p, "expected AND in BETWEEN");
        if ((rc = scalar(p, &b))) return rc;
        if (fnode_add_value(n, &b)) return err_set(p->c->err, ERR_NOMEM, "out of memory");
    } else if (eat_kw(p, "IN")) {
        n->op = FOP_IN;
        rc = value_list(p, n);
    } else if (!not &&eat_kw(p, "IS")) {
        not = eat_kw(p, "NOT");
        if (!eat_kw(p, "NULL")) return fail(p, "expected NULL after IS");
        n->op = FOP_ISNULL;
    } else if (!not ) {
        enum filter_op op;
        if ((rc = comparison_op(p, &op))) return rc;
        n->op = op;
        struct filter_literal v;
        if ((rc = scalar(p, &v))) return rc;
        if (fnode_add_value(n, &v)) return err_set(p->c->err, ERR_NOMEM, "out of memory");
    } else {
        return fail(p, "expected LIKE, BETWEEN or IN after NOT");
    }
    *negated = not ;
    return rc;
}

/* CASEI(prop) or prop */
static int operand_property(struct p *p, struct filter_node *n)
{
    const char *s;
    size_t len;
    int casei = 0;
    if (eat_kw(p, "CASEI")) {
        if (!eat_char(p, '(')) return fail(p, "expected ( after CASEI");
        casei = 1;
    }
    int rc = ident(p, &s, &len);
    if (!rc && casei && !eat_char(p, ')')) rc = fail(p, "expected ) after CASEI");
    if (!rc && fnode_set_property(n, s, len)) rc = err_set(p->c->err, ERR_NOMEM, "out of memory");
    if (casei) n->match_case = 0;
    return rc;
}

static struct filter_node *predicate(struct p *p)
{
    struct filter_node *n = fnode_new(p->c, FOP_EQ);
    if (!n) return NULL;
    int rc = 0, negated = 0;
    ws(p);
    for (size_t i = 0; i < ARRAY_LEN(spatial_fns); i++)
        if (peek_kw(p, spatial_fns[i].name) && eat_kw(p, spatial_fns[i].name)) {
            n->op = spatial_fns[i].op;
            rc = spatial(p, n);
            goto done;
        }
    if (eat_kw(p, "INCLUDE") || eat_kw(p, "TRUE")) {
        n->op = FOP_INCLUDE;
    } else if (eat_kw(p, "EXCLUDE") || eat_kw(p, "FALSE")) {
        n->op = FOP_EXCLUDE;
    } else if (*p->pos == '\'' || isdigit((unsigned char)*p->pos) || *p->pos == '-' ||
               peek_kw(p, "DATE") || peek_kw(p, "TIMESTAMP")) {
        /* literal op property */
        struct filter_literal v;
        enum filter_op op;
        if ((rc = scalar(p, &v))) goto done;
        if ((rc = fnode_add_value(n, &v) ? err_set(p->c->err, ERR_NOMEM, "oom") : 0)) goto done;
        if ((rc = comparison_op(p, &op))) goto done;
        static const enum filter_op flip[] = {FOP_EQ, FOP_NE, FOP_GT, FOP_GE, FOP_LT, FOP_LE};
        n->op = flip[op - FOP_EQ];
        rc = operand_property(p, n);
    } else {
        rc = operand_property(p, n);
        if (!rc) rc = property_predicate(p, n, &negated);
    }
done:
    if (rc) {
        fnode_free(n);
        return NULL;
    }
    return negated ? negate(p, n) : n;
}

static struct filter_node *or_expr(struct p *p);

static struct filter_node *factor(struct p *p)
{
    if (++p->depth > (p->c->lim && p->c->lim->max_depth > 0 ? p->c->lim->max_depth : 32)) {
        fail(p, "expression nested too deeply");
        return NULL;
    }
    struct filter_node *n;
    if (eat_kw(p, "NOT")) {
        n = factor(p);
        n = n ? negate(p, n) : NULL;
    } else if (eat_char(p, '(')) {
        n = or_expr(p);
        if (n && !eat_char(p, ')')) {
            fnode_free(n);
            fail(p, "expected )");
            n = NULL;
        }
    } else {
        n = predicate(p);
    }
    p->depth--;
    return n;
}

static struct filter_node *chain(struct p *p, enum filter_op op)
{
    struct filter_node *first = op == FOP_OR ? chain(p, FOP_AND) : factor(p);
    if (!first) return NULL;
    const char *kw = op == FOP_OR ? "OR" : "AND";
    if (!peek_kw(p, kw)) return first;
    struct filter_node *n = fnode_new(p->c, op);
    if (!n || fnode_add_child(n, first)) {
        fnode_free(first);
        fnode_free(n);
        return NULL;
    }
    while (eat_kw(p, kw)) {
        struct filter_node *k = op == FOP_OR ? chain(p, FOP_AND) : factor(p);
        if (!k || fnode_add_child(n, k)) {
            fnode_free(k);
            fnode_free(n);
            return NULL;
        }
    }
    return n;
}

static struct filter_node *or_expr(struct p *p)
{
    return chain(p, FOP_OR);
}

int filter_parse_cql2_text(const char *text, const struct filter_limits *lim, int default_srid,
                           struct filter **out, struct err *err)
{
    struct fctx c = {lim, 0, default_srid ? default_srid : GEO_SRID_CRS84, err};
    struct p p = {&c, text, text, 0};
    *out = NULL;
    if (lim && lim->max_size && strlen(text) > lim->max_size)
        return err_setl(err, ERR_PARAM, "filter", "filter longer than %zu bytes", lim->max_size);
    struct filter_node *root = or_expr(&p);
    if (root) {
        ws(&p);
        if (*p.pos) {
            fnode_free(root);
            root = NULL;
            fail(&p, "unexpected text after the expression");
        }
    }
    if (!root) {
        if (err && !err->code) err_set(err, ERR_PARAM, "bad CQL2 filter");
        return err && err->code ? err->code : ERR_PARAM;
    }
    *out = fwrap(&c, root);
    return *out ? 0 : ERR_NOMEM;
}
