/* SPDX-License-Identifier: MIT */
/* csw_filter.c: the CSW constraint (issue 21): OGC Filter 1.1 (And, Or, Not, PropertyIsLike,
 * PropertyIsEqualTo, BBOX) and CQL text (the same operators) parse into one small tree, which is
 * evaluated on each record's folded text (case, diacritics and đ/d ignored; a LIKE literal
 * without wildcards matches as "contains"). It reads no request and writes no answer (csw.c
 * does), and it is not the feature filter (filter/ compiles to SQL; records are not rows). */
#include "csw_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the constraint tree ---- */

void meta_cq_free(struct cq_tree *t)
{
    for (int i = 0; i < t->count; i++)
        free(t->n[i].text);
    t->count = 0;
}

static int cq_new(struct cq_tree *t, enum cq_kind kind, struct err *err)
{
    if (t->count == MAX_CQ)
        return -meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                              "constraint has more than %d operators", MAX_CQ);
    struct cq *c = &t->n[t->count];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    return t->count++;
}

static int cq_prop_parse(const char *name, enum cq_prop *p, struct err *err)
{
    static const struct {
        const char *name;
        enum cq_prop p;
    } props[] = {{"anytext", P_ANYTEXT}, {"title", P_TITLE},      {"abstract", P_ABSTRACT},
                 {"subject", P_SUBJECT}, {"keywords", P_SUBJECT}, {"identifier", P_IDENTIFIER},
                 {"type", P_TYPE},       {"format", P_FORMAT},    {"description", P_ABSTRACT}};
    char buf[80];
    size_t n = 0;
    while (*name && isspace((unsigned char)*name))
        name++;
    const char *colon = strrchr(name, ':');
    const char *local = colon ? colon + 1 : name;
    for (; local[n] && !isspace((unsigned char)local[n]) && n + 1 < sizeof buf; n++)
        buf[n] = local[n];
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (strcasecmp(buf, props[i].name) == 0) {
            *p = props[i].p;
            return 0;
        }
    return meta_csw_fail(
        err, ERR_PARAM, "InvalidParameterValue", "Constraint",
        "unknown queryable \"%.60s\" (AnyText, Title, Abstract, Subject, Identifier, "
        "Type, Format, BoundingBox)",
        name);
}

static int set_text(struct cq *c, const char *s, struct err *err)
{
    c->text = meta_fold(s ? s : "");
    if (!c->text) return err_set(err, ERR_NOMEM, "out of memory");
    if (c->kind == CQ_LIKE) {
        c->contains = 1;
        for (const char *p = c->text; *p; p++)
            if (*p == c->wild || *p == c->single) c->contains = 0;
    }
    return 0;
}

/* A box in CRS 'crs' (NULL: CSW's default, EPSG:4326 in its lat/lon order) to CRS84. */
static int box_from(double a, double b, double c, double d, const char *crs, struct bbox *out,
                    struct err *err)
{
    int latlon = 1;
    if (crs && *crs) {
        int srid = 0;
        if (geo_crs_parse(crs, &srid) || (srid != 4326 && srid != GEO_SRID_CRS84))
            return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                                 "BBOX CRS \"%.60s\": only EPSG:4326 and CRS84 are supported", crs);
        /* "EPSG:4326" (the short form) is read lon/lat, as in WMS 1.1.1; URN/URI forms follow
         * the EPSG axis order (lat/lon). */
        latlon = srid == 4326 && strncasecmp(crs, "EPSG:", 5) != 0;
    } else if (fabs(a) > 90 || fabs(c) > 90) {
        latlon = 0; /* a longitude first: a client that sent lon/lat without saying so */
    }
    if (latlon) {
        out->minx = b, out->miny = a, out->maxx = d, out->maxy = c;
    } else {
        out->minx = a, out->miny = b, out->maxx = c, out->maxy = d;
    }
    if (!(out->minx <= out->maxx && out->miny <= out->maxy) || fabs(out->miny) > 90 ||
        fabs(out->maxy) > 90)
        return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                             "BBOX %g %g %g %g is not a box in degrees", a, b, c, d);
    return 0;
}

/* ---- OGC Filter 1.1 (XML) ---- */

const char *meta_xml_name(xmlNodePtr n)
{
    return (const char *)n->name;
}

char *meta_xml_text(xmlNodePtr n)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    char *s = str_dup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

xmlNodePtr meta_xml_child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp(meta_xml_name(c), name) == 0) return c;
    return NULL;
}

char *meta_xml_attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *s = v ? str_dup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

static int parse_corner(xmlNodePtr env, const char *name, double *a, double *b, struct err *err)
{
    char *t = meta_xml_text(meta_xml_child(env, name));
    char *end = NULL;
    int ok = t != NULL;
    if (ok) *a = strtod(t, &end);
    ok = ok && end != t;
    if (ok) {
        char *p = end;
        *b = strtod(p, &end);
        ok = end != p;
        while (ok && *end && isspace((unsigned char)*end))
            end++;
        ok = ok && !*end;
    }
    free(t);
    return ok ? 0
              : meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                              "gml:Envelope needs gml:%s with two numbers", name);
}

static int fes_node(struct cq_tree *t, xmlNodePtr n, struct err *err)
{
    const char *name = meta_xml_name(n);
    int rc;
    if (!strcmp(name, "And") || !strcmp(name, "Or") || !strcmp(name, "Not")) {
        int i = cq_new(t,
                       !strcmp(name, "And")  ? CQ_AND
                       : !strcmp(name, "Or") ? CQ_OR
                                             : CQ_NOT,
                       err);
        if (i < 0) return -i;
        for (xmlNodePtr c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE) continue;
            if (t->n[i].n_kids == 8)
                return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                                     "more than 8 operands in ogc:%s", name);
            int k = t->count;
            if ((rc = fes_node(t, c, err))) return rc;
            t->n[i].kids[t->n[i].n_kids++] = k;
        }
        int want_one = t->n[i].kind == CQ_NOT;
        if (want_one ? t->n[i].n_kids != 1 : t->n[i].n_kids < 1)
            return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                                 "ogc:%s with %d operands", name, t->n[i].n_kids);
        return 0;
    }
    if (!strcmp(name, "PropertyIsLike") || !strcmp(name, "PropertyIsEqualTo")) {
        int like = name[10] == 'L';
        int i = cq_new(t, like ? CQ_LIKE : CQ_EQ, err);
        if (i < 0) return -i;
        struct cq *c = &t->n[i];
        char *prop = meta_xml_text(meta_xml_child(n, "PropertyName"));
        rc = prop ? cq_prop_parse(prop, &c->prop, err) : ERR_NOMEM;
        free(prop);
        if (rc) return rc;
        if (!meta_xml_child(n, "Literal"))
            return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                                 "ogc:%s without ogc:Literal", name);
        c->wild = '%', c->single = '_', c->esc = '\\';
        if (like) {
            const char *names[] = {"wildCard", "singleChar", "escapeChar"};
            char *slots[] = {&c->wild, &c->single, &c->esc};
            for (int k = 0; k < 3; k++) {
                char *v = meta_xml_attr(n, names[k]);
                if (v && strlen(v) == 1 && (unsigned char)v[0] < 0x80) *slots[k] = v[0];
                free(v);
            }
        }
        char *lit = meta_xml_text(meta_xml_child(n, "Literal"));
        rc = set_text(c, lit, err);
        free(lit);
        return rc;
    }
    if (!strcmp(name, "BBOX")) {
        int i = cq_new(t, CQ_BBOX, err);
        if (i < 0) return -i;
        xmlNodePtr env = meta_xml_child(n, "Envelope");
        if (!env)
            return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                                 "ogc:BBOX needs a gml:Envelope");
        double a, b, c2, d;
        if ((rc = parse_corner(env, "lowerCorner", &a, &b, err)) ||
            (rc = parse_corner(env, "upperCorner", &c2, &d, err)))
            return rc;
        char *srs = meta_xml_attr(env, "srsName");
        rc = box_from(a, b, c2, d, srs, &t->n[i].box, err);
        free(srs);
        return rc;
    }
    return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                         "unsupported filter operator ogc:%.60s (And, Or, Not, PropertyIsLike, "
                         "PropertyIsEqualTo, BBOX)",
                         name);
}

int meta_cq_parse_filter(struct cq_tree *t, xmlNodePtr filter, struct err *err)
{
    xmlNodePtr op = NULL;
    for (xmlNodePtr c = filter->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            if (op)
                return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                                     "ogc:Filter must hold one operator");
            op = c;
        }
    if (!op)
        return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                             "empty ogc:Filter");
    t->root = t->count;
    return fes_node(t, op, err);
}

/* ---- CQL text ---- */

struct cql {
    const char *s;
    struct cq_tree *t;
    struct err *err;
    int depth;
};

static void cql_ws(struct cql *p)
{
    while (isspace((unsigned char)*p->s))
        p->s++;
}

static int cql_word(struct cql *p, const char *w)
{
    cql_ws(p);
    size_t n = strlen(w);
    if (strncasecmp(p->s, w, n) != 0) return 0;
    char c = p->s[n];
    if (isalnum((unsigned char)w[n - 1]) && (isalnum((unsigned char)c) || c == '_')) return 0;
    p->s += n;
    return 1;
}

static int cql_bad(struct cql *p, const char *what)
{
    return meta_csw_fail(p->err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                         "CQL: %s at \"%.30s\"", what, p->s);
}

static int cql_string(struct cql *p, char **out)
{
    cql_ws(p);
    if (*p->s != '\'') return cql_bad(p, "expected a quoted string");
    struct buf b;
    buf_init(&b);
    for (p->s++; *p->s; p->s++) {
        if (*p->s == '\'') {
            if (p->s[1] != '\'') break;
            p->s++;
        }
        buf_putc(&b, *p->s);
    }
    if (*p->s != '\'') {
        buf_fini(&b);
        return cql_bad(p, "unterminated string");
    }
    p->s++;
    *out = b.data ? buf_take(&b, NULL) : str_dup("");
    return *out ? 0 : err_set(p->err, ERR_NOMEM, "out of memory");
}

static int cql_number(struct cql *p, double *v)
{
    cql_ws(p);
    char *end;
    *v = strtod(p->s, &end);
    if (end == p->s) return cql_bad(p, "expected a number");
    p->s = end;
    return 0;
}

static int cql_or(struct cql *p, int *root);

static int cql_primary(struct cql *p, int *root)
{
    struct cq_tree *t = p->t;
    int rc;
    if (++p->depth > 32) return cql_bad(p, "nested too deep");
    cql_ws(p);
    if (*p->s == '(') {
        p->s++;
        if ((rc = cql_or(p, root))) return rc;
        cql_ws(p);
        if (*p->s != ')') return cql_bad(p, "expected ')'");
        p->s++;
        p->depth--;
        return 0;
    }
    if (cql_word(p, "NOT")) {
        int i = cq_new(t, CQ_NOT, p->err), kid;
        if (i < 0) return -i;
        if ((rc = cql_primary(p, &kid))) return rc;
        t->n[i].kids[0] = kid;
        t->n[i].n_kids = 1;
        *root = i;
        p->depth--;
        return 0;
    }
    if (cql_word(p, "BBOX")) {
        cql_ws(p);
        if (*p->s != '(') return cql_bad(p, "expected '(' after BBOX");
        p->s++;
        while (*p->s && *p->s != ',' && *p->s != ')')
            p->s++; /* the property: ows:BoundingBox, whatever its prefix */
        double v[4];
        for (int k = 0; k < 4; k++) {
            cql_ws(p);
            if (*p->s != ',') return cql_bad(p, "BBOX needs a property and four numbers");
            p->s++;
            if ((rc = cql_number(p, &v[k]))) return rc;
        }
        char *crs = NULL;
        cql_ws(p);
        if (*p->s == ',') {
            p->s++;
            if ((rc = cql_string(p, &crs))) return rc;
        }
        cql_ws(p);
        if (*p->s != ')') {
            free(crs);
            return cql_bad(p, "expected ')' after BBOX");
        }
        p->s++;
        int i = cq_new(t, CQ_BBOX, p->err);
        if (i < 0) {
            free(crs);
            return -i;
        }
        /* CQL BBOX is minx, miny, maxx, maxy in lon/lat unless a CRS says otherwise. */
        rc = box_from(v[0], v[1], v[2], v[3], crs ? crs : "CRS:84", &t->n[i].box, p->err);
        free(crs);
        *root = i;
        p->depth--;
        return rc;
    }
    cql_ws(p);
    const char *start = p->s;
    while (isalnum((unsigned char)*p->s) || *p->s == ':' || *p->s == '_')
        p->s++;
    if (p->s == start) return cql_bad(p, "expected a queryable");
    char name[80];
    snprintf(name, sizeof name, "%.*s", (int)(p->s - start), start);
    enum cq_prop prop;
    if ((rc = cq_prop_parse(name, &prop, p->err))) return rc;
    int like;
    if (cql_word(p, "ILIKE") || cql_word(p, "LIKE"))
        like = 1;
    else if (cql_word(p, "="))
        like = 0;
    else
        return cql_bad(p, "expected LIKE or =");
    int i = cq_new(t, like ? CQ_LIKE : CQ_EQ, p->err);
    if (i < 0) return -i;
    t->n[i].prop = prop;
    t->n[i].wild = '%', t->n[i].single = '_', t->n[i].esc = '\\';
    char *lit = NULL;
    if ((rc = cql_string(p, &lit))) return rc;
    rc = set_text(&t->n[i], lit, p->err);
    free(lit);
    *root = i;
    p->depth--;
    return rc;
}

/* operand (word operand)*: one node of kind over the operands' roots, or the single operand. */
static int cql_chain(struct cql *p, enum cq_kind kind, const char *word,
                     int (*next)(struct cql *p, int *root), int *root)
{
    int kids[8], n = 0, rc;
    if ((rc = next(p, &kids[n++]))) return rc;
    while (cql_word(p, word)) {
        if (n == 8) return cql_bad(p, "more than 8 operands");
        if ((rc = next(p, &kids[n++]))) return rc;
    }
    if (n == 1) {
        *root = kids[0];
        return 0;
    }
    int i = cq_new(p->t, kind, p->err);
    if (i < 0) return -i;
    memcpy(p->t->n[i].kids, kids, sizeof kids);
    p->t->n[i].n_kids = n;
    *root = i;
    return 0;
}

static int cql_and(struct cql *p, int *root)
{
    return cql_chain(p, CQ_AND, "AND", cql_primary, root);
}

static int cql_or(struct cql *p, int *root)
{
    return cql_chain(p, CQ_OR, "OR", cql_and, root);
}

int meta_cq_parse_cql(struct cq_tree *t, const char *text, struct err *err)
{
    struct cql p = {text, t, err, 0};
    int rc = cql_or(&p, &t->root);
    if (rc) return rc;
    cql_ws(&p);
    if (*p.s) return cql_bad(&p, "unexpected text");
    return 0;
}

/* ---- evaluation ---- */

void meta_rec_text_fini(struct rec_text *rt)
{
    for (int p = 0; p < P_N; p++)
        for (int i = 0; i < rt->n[p]; i++)
            free(rt->v[p][i]);
    memset(rt, 0, sizeof *rt);
}

static int rec_add(struct rec_text *rt, enum cq_prop p, const char *s, struct err *err)
{
    if (!s || rt->n[p] == 48) return 0;
    char *f = meta_fold(s);
    if (!f) return err_set(err, ERR_NOMEM, "out of memory");
    rt->v[p][rt->n[p]++] = f;
    if (p != P_ANYTEXT) return rec_add(rt, P_ANYTEXT, s, err);
    return 0;
}

int meta_rec_text_fill(struct rec_text *rt, const struct meta_record *r, struct err *err)
{
    const struct layer_def *l = r->layer;
    const struct layer_meta *m = &l->meta;
    int rc = rec_add(rt, P_IDENTIFIER, l->id, err) || rec_add(rt, P_TITLE, l->title_vi, err) ||
             rec_add(rt, P_TITLE, l->title_en, err) || rec_add(rt, P_ABSTRACT, l->desc_vi, err) ||
             rec_add(rt, P_ABSTRACT, l->desc_en, err) || rec_add(rt, P_TYPE, "dataset", err) ||
             rec_add(rt, P_FORMAT, "application/geo+json", err) ||
             rec_add(rt, P_ANYTEXT, m->org_vi, err) || rec_add(rt, P_ANYTEXT, m->org_en, err);
    for (int i = 0; i < m->n_keywords_vi && !rc; i++)
        rc = rec_add(rt, P_SUBJECT, m->keywords_vi[i], err);
    for (int i = 0; i < m->n_keywords_en && !rc; i++)
        rc = rec_add(rt, P_SUBJECT, m->keywords_en[i], err);
    return rc ? ERR_NOMEM : 0;
}

static int utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* LIKE on folded strings: wild matches any run, single one character, esc quotes the next. */
static int like(const char *s, const char *p, const struct cq *c)
{
    while (*p) {
        if (*p == c->wild) {
            while (*p == c->wild)
                p++;
            if (!*p) return 1;
            for (; *s; s += utf8_len((unsigned char)*s))
                if (like(s, p, c)) return 1;
            return 0;
        }
        if (!*s) return 0;
        if (*p == c->single) {
            s += utf8_len((unsigned char)*s);
            p++;
            continue;
        }
        if (*p == c->esc && p[1]) p++;
        if (*p != *s) return 0;
        p++, s++;
    }
    return !*s;
}

int meta_cq_eval(const struct cq_tree *t, int i, const struct meta_record *r,
                 const struct rec_text *rt)
{
    const struct cq *c = &t->n[i];
    switch (c->kind) {
    case CQ_AND:
        for (int k = 0; k < c->n_kids; k++)
            if (!meta_cq_eval(t, c->kids[k], r, rt)) return 0;
        return 1;
    case CQ_OR:
        for (int k = 0; k < c->n_kids; k++)
            if (meta_cq_eval(t, c->kids[k], r, rt)) return 1;
        return 0;
    case CQ_NOT:
        return !meta_cq_eval(t, c->kids[0], r, rt);
    case CQ_BBOX:
        return r->has_extent && bbox_intersects(&r->wgs84, &c->box);
    case CQ_LIKE:
    case CQ_EQ:
        for (int k = 0; k < rt->n[c->prop]; k++) {
            const char *v = rt->v[c->prop][k];
            if (c->kind == CQ_EQ ? strcmp(v, c->text) == 0
                : c->contains    ? strstr(v, c->text) != NULL
                                 : like(v, c->text, c))
                return 1;
        }
        return 0;
    }
    return 0;
}
