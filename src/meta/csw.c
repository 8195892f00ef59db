/* SPDX-License-Identifier: MIT */
/* csw.c: CSW 2.0.2 at /csw (issue 21): GetCapabilities, GetRecords and GetRecordById, in KVP
 * (GET) and XML (POST), as QGIS MetaSearch (through OWSLib) and GeoNetwork's harvester send
 * them. The catalogue is the layers the caller may read, one record each (meta_record_load).
 * Constraints: OGC Filter 1.1 (And, Or, Not, PropertyIsLike, PropertyIsEqualTo, BBOX) and CQL
 * text (the same operators: `AnyText LIKE '%...%'`, `prop = '...'`, `BBOX(ows:BoundingBox,
 * minx, miny, maxx, maxy)`) parse into one small tree evaluated on each record. Text is matched
 * ignoring case, diacritics and đ/d; a LIKE literal without wildcards matches as "contains"
 * (MetaSearch sends the words as typed). Output schemas: csw:Record (brief, summary, full) and
 * gmd:MD_Metadata (iso.c). Errors are OWS ExceptionReports with the CSW exception codes. */
#include "meta_int.h"

#include <ctype.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../filter/filter.h"

#define NS_CSW  "http://www.opengis.net/cat/csw/2.0.2"
#define NS_GMD  "http://www.isotc211.org/2005/gmd"
#define NS_OGC  "http://www.opengis.net/ogc"
#define MAX_CQ  64
#define MAX_REC 100 /* maxRecords cap */

static int csw_fail(struct err *err, enum err_code code, const char *ogc_code, const char *locator,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int csw_fail(struct err *err, enum err_code code, const char *ogc_code, const char *locator,
                    const char *fmt, ...)
{
    if (err && err->code) return err->code;
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_setl(err, code, locator ? locator : "", "%s", msg);
    if (err) snprintf(err->ogc_code, sizeof err->ogc_code, "%s", ogc_code);
    return code;
}

/* ---- the constraint tree ---- */

enum cq_kind { CQ_AND, CQ_OR, CQ_NOT, CQ_LIKE, CQ_EQ, CQ_BBOX };
enum cq_prop { P_ANYTEXT, P_TITLE, P_ABSTRACT, P_SUBJECT, P_IDENTIFIER, P_TYPE, P_FORMAT, P_N };

struct cq {
    enum cq_kind kind;
    enum cq_prop prop;
    char *text; /* folded pattern or value (owned) */
    char wild, single, esc;
    int contains;    /* LIKE without wildcards: substring */
    struct bbox box; /* CRS84 */
    int kids[8];
    int n_kids;
};

struct cq_tree {
    struct cq n[MAX_CQ];
    int count;
    int root; /* -1: no constraint */
};

static void cq_free(struct cq_tree *t)
{
    for (int i = 0; i < t->count; i++)
        free(t->n[i].text);
    t->count = 0;
}

static int cq_new(struct cq_tree *t, enum cq_kind kind, struct err *err)
{
    if (t->count == MAX_CQ)
        return -csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
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
    return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
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
            return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
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
        return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                        "BBOX %g %g %g %g is not a box in degrees", a, b, c, d);
    return 0;
}

/* ---- OGC Filter 1.1 (XML) ---- */

static const char *local_name(xmlNodePtr n)
{
    return (const char *)n->name;
}

static char *node_text(xmlNodePtr n)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    char *s = str_dup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp(local_name(c), name) == 0) return c;
    return NULL;
}

static char *attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *s = v ? str_dup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

static int parse_corner(xmlNodePtr env, const char *name, double *a, double *b, struct err *err)
{
    char *t = node_text(child(env, name));
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
              : csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                         "gml:Envelope needs gml:%s with two numbers", name);
}

static int fes_node(struct cq_tree *t, xmlNodePtr n, struct err *err)
{
    const char *name = local_name(n);
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
                return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                                "more than 8 operands in ogc:%s", name);
            int k = t->count;
            if ((rc = fes_node(t, c, err))) return rc;
            t->n[i].kids[t->n[i].n_kids++] = k;
        }
        int want_one = t->n[i].kind == CQ_NOT;
        if (want_one ? t->n[i].n_kids != 1 : t->n[i].n_kids < 1)
            return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                            "ogc:%s with %d operands", name, t->n[i].n_kids);
        return 0;
    }
    if (!strcmp(name, "PropertyIsLike") || !strcmp(name, "PropertyIsEqualTo")) {
        int like = name[10] == 'L';
        int i = cq_new(t, like ? CQ_LIKE : CQ_EQ, err);
        if (i < 0) return -i;
        struct cq *c = &t->n[i];
        char *prop = node_text(child(n, "PropertyName"));
        rc = prop ? cq_prop_parse(prop, &c->prop, err) : ERR_NOMEM;
        free(prop);
        if (rc) return rc;
        if (!child(n, "Literal"))
            return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                            "ogc:%s without ogc:Literal", name);
        c->wild = '%', c->single = '_', c->esc = '\\';
        if (like) {
            const char *names[] = {"wildCard", "singleChar", "escapeChar"};
            char *slots[] = {&c->wild, &c->single, &c->esc};
            for (int k = 0; k < 3; k++) {
                char *v = attr(n, names[k]);
                if (v && strlen(v) == 1 && (unsigned char)v[0] < 0x80) *slots[k] = v[0];
                free(v);
            }
        }
        char *lit = node_text(child(n, "Literal"));
        rc = set_text(c, lit, err);
        free(lit);
        return rc;
    }
    if (!strcmp(name, "BBOX")) {
        int i = cq_new(t, CQ_BBOX, err);
        if (i < 0) return -i;
        xmlNodePtr env = child(n, "Envelope");
        if (!env)
            return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                            "ogc:BBOX needs a gml:Envelope");
        double a, b, c2, d;
        if ((rc = parse_corner(env, "lowerCorner", &a, &b, err)) ||
            (rc = parse_corner(env, "upperCorner", &c2, &d, err)))
            return rc;
        char *srs = attr(env, "srsName");
        rc = box_from(a, b, c2, d, srs, &t->n[i].box, err);
        free(srs);
        return rc;
    }
    return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                    "unsupported filter operator ogc:%.60s (And, Or, Not, PropertyIsLike, "
                    "PropertyIsEqualTo, BBOX)",
                    name);
}

static int parse_filter_node(struct cq_tree *t, xmlNodePtr filter, struct err *err)
{
    xmlNodePtr op = NULL;
    for (xmlNodePtr c = filter->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            if (op)
                return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                                "ogc:Filter must hold one operator");
            op = c;
        }
    if (!op)
        return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint", "empty ogc:Filter");
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
    return csw_fail(p->err, ERR_PARAM, "InvalidParameterValue", "Constraint",
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

static int parse_cql(struct cq_tree *t, const char *text, struct err *err)
{
    struct cql p = {text, t, err, 0};
    int rc = cql_or(&p, &t->root);
    if (rc) return rc;
    cql_ws(&p);
    if (*p.s) return cql_bad(&p, "unexpected text");
    return 0;
}

/* ---- evaluation ---- */

/* One record's searchable text, folded: per queryable, a list of values. */
struct rec_text {
    char *v[P_N][48];
    int n[P_N];
};

static void rec_text_fini(struct rec_text *rt)
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

static int rec_text_fill(struct rec_text *rt, const struct meta_record *r, struct err *err)
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

static int cq_eval(const struct cq_tree *t, int i, const struct meta_record *r,
                   const struct rec_text *rt)
{
    const struct cq *c = &t->n[i];
    switch (c->kind) {
    case CQ_AND:
        for (int k = 0; k < c->n_kids; k++)
            if (!cq_eval(t, c->kids[k], r, rt)) return 0;
        return 1;
    case CQ_OR:
        for (int k = 0; k < c->n_kids; k++)
            if (cq_eval(t, c->kids[k], r, rt)) return 1;
        return 0;
    case CQ_NOT:
        return !cq_eval(t, c->kids[0], r, rt);
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

/* ---- the request ---- */

enum esn { ESN_BRIEF, ESN_SUMMARY, ESN_FULL };

struct csw_req {
    const char *request; /* GetCapabilities, GetRecords, GetRecordById */
    enum esn esn;
    int gmd;       /* outputSchema gmd */
    int hits;      /* resultType=hits */
    int validate;  /* resultType=validate */
    int64_t start; /* 1-based */
    int64_t max;   /* maxRecords */
    char *ids[32]; /* GetRecordById */
    int n_ids;
    struct cq_tree tree;
    char *owned[8]; /* strings owned by the request */
    int n_owned;
};

static void csw_req_fini(struct csw_req *q)
{
    cq_free(&q->tree);
    for (int i = 0; i < q->n_ids; i++)
        free(q->ids[i]);
    for (int i = 0; i < q->n_owned; i++)
        free(q->owned[i]);
}

static int set_esn(struct csw_req *q, const char *v, struct err *err)
{
    if (!v || !*v) return 0;
    if (!strcasecmp(v, "brief"))
        q->esn = ESN_BRIEF;
    else if (!strcasecmp(v, "summary"))
        q->esn = ESN_SUMMARY;
    else if (!strcasecmp(v, "full"))
        q->esn = ESN_FULL;
    else
        return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "ElementSetName",
                        "ElementSetName \"%.40s\": brief, summary or full", v);
    return 0;
}

static int set_schema(struct csw_req *q, const char *v, struct err *err)
{
    if (!v || !*v || !strcmp(v, NS_CSW) || !strcasecmp(v, "csw:Record")) return 0;
    if (!strcmp(v, NS_GMD) || !strcasecmp(v, "gmd:MD_Metadata")) {
        q->gmd = 1;
        return 0;
    }
    return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "outputSchema",
                    "outputSchema \"%.80s\": %s or %s", v, NS_CSW, NS_GMD);
}

static int set_result_type(struct csw_req *q, const char *v, struct err *err)
{
    if (!v || !*v || !strcasecmp(v, "results")) return 0;
    if (!strcasecmp(v, "hits")) return q->hits = 1, 0;
    if (!strcasecmp(v, "validate")) return q->validate = 1, 0;
    return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "resultType",
                    "resultType \"%.40s\": results, hits or validate", v);
}

static int set_int(int64_t *out, const char *v, const char *name, int64_t min, struct err *err)
{
    if (!v || !*v) return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || n < min || n > 1000000000)
        return csw_fail(err, ERR_PARAM, "InvalidParameterValue", name,
                        "%s must be an integer >= %lld", name, (long long)min);
    *out = n;
    return 0;
}

static int set_format(const char *v, struct err *err)
{
    if (!v || !*v || !strcasecmp(v, "application/xml") || !strcasecmp(v, "text/xml")) return 0;
    return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "outputFormat",
                    "outputFormat \"%.60s\": application/xml", v);
}

static int set_type_names(const char *v, struct err *err)
{
    if (!v || !*v) return 0;
    char *copy = str_dup(v), *save = NULL;
    int rc = copy ? 0 : ERR_NOMEM;
    for (char *tok = copy ? strtok_r(copy, " ,", &save) : NULL; tok && !rc;
         tok = strtok_r(NULL, " ,", &save)) {
        const char *local = strchr(tok, ':') ? strchr(tok, ':') + 1 : tok;
        if (strcmp(local, "Record") && strcmp(local, "MD_Metadata"))
            rc = csw_fail(err, ERR_PARAM, "InvalidParameterValue", "typeNames",
                          "typeNames \"%.60s\": csw:Record or gmd:MD_Metadata", tok);
    }
    free(copy);
    return rc;
}

static int add_ids(struct csw_req *q, const char *v, struct err *err)
{
    char *copy = str_dup(v ? v : ""), *save = NULL;
    if (!copy) return err_set(err, ERR_NOMEM, "out of memory");
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok) continue;
        if (q->n_ids == 32) {
            free(copy);
            return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Id", "more than 32 ids");
        }
        q->ids[q->n_ids++] = str_dup(tok);
    }
    free(copy);
    return 0;
}

static int parse_kvp(struct request *req, struct csw_req *q, struct err *err)
{
    const char *service = req_arg_ci(req, "service");
    if (service && strcasecmp(service, "CSW"))
        return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "service",
                        "service \"%.40s\": CSW", service);
    q->request = req_arg_ci(req, "request");
    if (!q->request)
        return csw_fail(err, ERR_PARAM, "MissingParameterValue", "request",
                        "request is missing (GetCapabilities, GetRecords, GetRecordById)");
    const char *version = req_arg_ci(req, "version");
    if (version && strcasecmp(q->request, "GetCapabilities") && strcmp(version, "2.0.2"))
        return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "version",
                        "version \"%.20s\": 2.0.2", version);
    int rc;
    if ((rc = set_esn(q, req_arg_ci(req, "elementSetName"), err)) ||
        (rc = set_schema(q, req_arg_ci(req, "outputSchema"), err)) ||
        (rc = set_result_type(q, req_arg_ci(req, "resultType"), err)) ||
        (rc = set_int(&q->start, req_arg_ci(req, "startPosition"), "startPosition", 1, err)) ||
        (rc = set_int(&q->max, req_arg_ci(req, "maxRecords"), "maxRecords", 0, err)) ||
        (rc = set_format(req_arg_ci(req, "outputFormat"), err)) ||
        (rc = set_type_names(req_arg_ci(req, "typeNames"), err)))
        return rc;
    if (!strcasecmp(q->request, "GetRecordById")) {
        if (!req_arg_ci(req, "elementSetName")) q->esn = ESN_FULL;
        const char *id = req_arg_ci(req, "id");
        if (!id || !*id)
            return csw_fail(err, ERR_PARAM, "MissingParameterValue", "Id", "Id is missing");
        return add_ids(q, id, err);
    }
    const char *constraint = req_arg_ci(req, "constraint");
    if (!constraint || !*constraint) return 0;
    const char *lang = req_arg_ci(req, "constraintLanguage");
    if (!lang)
        return csw_fail(err, ERR_PARAM, "MissingParameterValue", "constraintLanguage",
                        "constraintLanguage is missing (CQL_TEXT or FILTER)");
    if (!strcasecmp(lang, "CQL_TEXT")) return parse_cql(&q->tree, constraint, err);
    if (strcasecmp(lang, "FILTER"))
        return csw_fail(err, ERR_PARAM, "InvalidParameterValue", "constraintLanguage",
                        "constraintLanguage \"%.30s\": CQL_TEXT or FILTER", lang);
    struct filter_limits lim;
    filter_limits_from(&req->cfg->limits, &lim);
    void *doc = NULL;
    if ((rc = filter_xml_read(constraint, strlen(constraint), &lim, &doc, err))) {
        snprintf(err->ogc_code, sizeof err->ogc_code, "InvalidParameterValue");
        return rc;
    }
    xmlNodePtr root = xmlDocGetRootElement((xmlDocPtr)doc);
    rc = strcmp(local_name(root), "Filter")
             ? csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                        "constraint must be an ogc:Filter")
             : parse_filter_node(&q->tree, root, err);
    filter_xml_free(doc);
    return rc;
}

static int parse_query_xml(struct csw_req *q, xmlNodePtr query, struct err *err)
{
    char *tn = attr(query, "typeNames");
    int rc = set_type_names(tn, err);
    free(tn);
    if (rc) return rc;
    xmlNodePtr esn = child(query, "ElementSetName");
    if (esn) {
        char *v = node_text(esn);
        rc = set_esn(q, v, err);
        free(v);
        if (rc) return rc;
    } else if (child(query, "ElementName")) {
        q->esn = ESN_FULL; /* named elements: the full record carries them all */
    }
    xmlNodePtr con = child(query, "Constraint");
    if (!con) return 0;
    xmlNodePtr f = child(con, "Filter"), cql = child(con, "CqlText");
    if (f) return parse_filter_node(&q->tree, f, err);
    if (cql) {
        char *text = node_text(cql);
        rc = text ? parse_cql(&q->tree, text, err) : ERR_NOMEM;
        free(text);
        return rc;
    }
    return csw_fail(err, ERR_PARAM, "MissingParameterValue", "Constraint",
                    "csw:Constraint needs ogc:Filter or csw:CqlText");
}

static int parse_xml(struct request *req, struct csw_req *q, xmlNodePtr root, struct err *err)
{
    const char *name = local_name(root);
    char *v = attr(root, "service");
    int rc = v && strcasecmp(v, "CSW") ? csw_fail(err, ERR_PARAM, "InvalidParameterValue",
                                                  "service", "service \"%.40s\": CSW", v)
                                       : 0;
    free(v);
    if (rc) return rc;
    (void)req;
    static const char *const known[] = {"GetCapabilities", "GetRecords", "GetRecordById"};
    q->request = NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(name, known[i])) q->request = known[i];
    if (!q->request)
        return csw_fail(err, ERR_UNSUPPORTED, "OperationNotSupported", "request",
                        "operation %.60s is not supported (GetCapabilities, GetRecords, "
                        "GetRecordById)",
                        name);
    if (!strcmp(q->request, "GetCapabilities")) return 0;
    v = attr(root, "version");
    rc = v && strcmp(v, "2.0.2") ? csw_fail(err, ERR_PARAM, "InvalidParameterValue", "version",
                                            "version \"%.20s\": 2.0.2", v)
                                 : 0;
    free(v);
    const char *attrs[] = {"outputSchema", "resultType", "startPosition", "maxRecords",
                           "outputFormat"};
    for (int i = 0; i < 5 && !rc; i++) {
        v = attr(root, attrs[i]);
        switch (i) {
        case 0:
            rc = set_schema(q, v, err);
            break;
        case 1:
            rc = set_result_type(q, v, err);
            break;
        case 2:
            rc = set_int(&q->start, v, "startPosition", 1, err);
            break;
        case 3:
            rc = set_int(&q->max, v, "maxRecords", 0, err);
            break;
        default:
            rc = set_format(v, err);
        }
        free(v);
    }
    if (rc) return rc;
    if (!strcmp(q->request, "GetRecordById")) {
        q->esn = ESN_FULL;
        xmlNodePtr esn = child(root, "ElementSetName");
        if (esn) {
            v = node_text(esn);
            rc = set_esn(q, v, err);
            free(v);
            if (rc) return rc;
        }
        for (xmlNodePtr c = root->children; c && !rc; c = c->next)
            if (c->type == XML_ELEMENT_NODE && !strcmp(local_name(c), "Id")) {
                v = node_text(c);
                rc = add_ids(q, v, err);
                free(v);
            }
        if (!rc && !q->n_ids)
            rc = csw_fail(err, ERR_PARAM, "MissingParameterValue", "Id", "csw:Id is missing");
        return rc;
    }
    xmlNodePtr query = child(root, "Query");
    if (!query)
        return csw_fail(err, ERR_PARAM, "MissingParameterValue", "Query",
                        "csw:GetRecords needs a csw:Query");
    return parse_query_xml(q, query, err);
}

/* ---- writing ---- */

static void el(struct buf *b, const char *tag, const char *text)
{
    if (!text) return;
    buf_printf(b, "<%s>", tag);
    buf_put_xml(b, text);
    buf_printf(b, "</%s>", tag);
}

static void ows_bbox(struct buf *b, const struct request *req, const struct meta_record *r)
{
    if (!r->has_extent) return;
    const struct bbox *w = &r->wgs84;
    buf_puts(b, "<ows:BoundingBox crs=\"urn:ogc:def:crs:EPSG::4326\" dimensions=\"2\">"
                "<ows:LowerCorner>");
    buf_put_double(b, w->miny, 7), buf_putc(b, ' '), buf_put_double(b, w->minx, 7);
    buf_puts(b, "</ows:LowerCorner><ows:UpperCorner>");
    buf_put_double(b, w->maxy, 7), buf_putc(b, ' '), buf_put_double(b, w->maxx, 7);
    buf_puts(b, "</ows:UpperCorner></ows:BoundingBox>");
    (void)req;
}

static void links(struct buf *b, const struct request *req, const struct meta_record *r)
{
    const struct layer_def *l = r->layer;
    for (int i = 0; i < meta_n_services; i++) {
        const struct meta_service *s = &meta_services[i];
        struct buf url;
        buf_init(&url);
        meta_service_url(&url, req, s, l);
        buf_printf(b, "<dc:URI protocol=\"%s\" name=\"%s%s\" description=\"", s->protocol,
                   s->name_prefix ? s->name_prefix : "", l->id);
        buf_put_xml(b, l->title_en);
        buf_puts(b, "\">");
        buf_put_xml(b, url.data ? url.data : "");
        buf_puts(b, "</dc:URI>");
        buf_printf(b, "<dct:references scheme=\"%s\">", s->protocol);
        buf_put_xml(b, url.data ? url.data : "");
        buf_puts(b, "</dct:references>");
        buf_fini(&url);
    }
    buf_puts(b, "<dct:references scheme=\"ISO 19139\">");
    struct buf url;
    buf_init(&url);
    meta_link(&url, req, "/collections/", l->id, "/metadata?f=xml");
    buf_put_xml(b, url.data ? url.data : "");
    buf_fini(&url);
    buf_puts(b, "</dct:references>");
}

static void csw_record(struct buf *b, const struct request *req, const struct meta_record *r,
                       enum esn esn)
{
    const struct layer_def *l = r->layer;
    const struct layer_meta *m = &l->meta;
    static const char *const tags[] = {"csw:BriefRecord", "csw:SummaryRecord", "csw:Record"};
    buf_printf(b, "<%s>", tags[esn]);
    el(b, "dc:identifier", l->id);
    el(b, "dc:title", l->title_vi);
    if (esn == ESN_FULL) el(b, "dct:alternative", l->title_en);
    el(b, "dc:type", "dataset");
    if (esn >= ESN_SUMMARY) {
        for (int i = 0; i < m->n_keywords_vi; i++)
            el(b, "dc:subject", m->keywords_vi[i]);
        for (int i = 0; i < m->n_keywords_en; i++)
            el(b, "dc:subject", m->keywords_en[i]);
        el(b, "dc:format", "application/geo+json");
        char date[11];
        meta_date(r, date);
        if (date[0]) el(b, "dct:modified", date);
        struct buf abs;
        buf_init(&abs);
        buf_printf(&abs, "%s\n\n%s", l->desc_vi ? l->desc_vi : l->title_vi,
                   l->desc_en ? l->desc_en : l->title_en);
        el(b, "dct:abstract", abs.data);
        buf_fini(&abs);
    }
    if (esn == ESN_FULL) {
        el(b, "dc:creator", m->org_vi);
        el(b, "dc:publisher", m->org_vi);
        el(b, "dc:contributor", m->contact_name);
        el(b, "dc:language", m->language);
        el(b, "dc:rights", m->licence_name);
        if (m->licence_url) el(b, "dct:license", m->licence_url);
        char src[200];
        snprintf(src, sizeof src, "%lld features; last import %s %s; storage CRS EPSG:%d",
                 (long long)r->n_features, r->lineage.last_batch[0] ? r->lineage.last_batch : "-",
                 r->lineage.last_date, r->srid);
        el(b, "dc:source", src);
        for (int i = 0; i < r->lineage.n_sources; i++)
            el(b, "dct:provenance", r->lineage.sources[i].path);
    }
    if (esn >= ESN_SUMMARY) links(b, req, r);
    ows_bbox(b, req, r);
    buf_printf(b, "</%s>", tags[esn]);
}

static const char *const RESP_NS =
    "xmlns:csw=\"" NS_CSW "\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
    "xmlns:dct=\"http://purl.org/dc/terms/\" xmlns:ows=\"http://www.opengis.net/ows\" "
    "xmlns:gmd=\"" NS_GMD "\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";

static int write_record(struct buf *b, struct request *req, const struct meta_record *r,
                        const struct csw_req *q)
{
    if (q->gmd) return meta_iso_write(b, req, r);
    csw_record(b, req, r, q->esn);
    return 0;
}

static void op(struct buf *b, const struct request *req, const char *name, int post)
{
    buf_printf(b, "<ows:Operation name=\"%s\"><ows:DCP><ows:HTTP><ows:Get xlink:href=\"", name);
    buf_put_xml(b, req->base_url);
    buf_puts(b, "/csw\"/>");
    if (post) {
        buf_puts(b, "<ows:Post xlink:href=\"");
        buf_put_xml(b, req->base_url);
        buf_puts(b, "/csw\"/>");
    }
    buf_puts(b, "</ows:HTTP></ows:DCP>");
}

static void param(struct buf *b, const char *name, const char *const *values)
{
    buf_printf(b, "<ows:Parameter name=\"%s\">", name);
    for (; *values; values++)
        buf_printf(b, "<ows:Value>%s</ows:Value>", *values);
    buf_puts(b, "</ows:Parameter>");
}

static int capabilities(struct request *req, struct response *res)
{
    const struct catalog *cat = &req->cfg->catalog;
    const struct layer_meta *m = cat->n_layers ? &cat->layers[0].meta : NULL;
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<csw:Capabilities version=\"2.0.2\" "
               "%s xmlns:ogc=\"" NS_OGC "\" xmlns:gml=\"http://www.opengis.net/gml\" "
               "xmlns:xlink=\"http://www.w3.org/1999/xlink\">",
               RESP_NS);
    buf_puts(b, "<ows:ServiceIdentification><ows:Title>spp — Danh mục siêu dữ liệu lớp bản đồ / "
                "layer metadata catalogue</ows:Title><ows:Abstract>Siêu dữ liệu ISO 19115 của "
                "các lớp dữ liệu quy hoạch, đất đai. ISO 19115 metadata of the planning and "
                "land layers served by spp (WMS, WFS, OGC API Features, tiles).</ows:Abstract>"
                "<ows:Keywords><ows:Keyword>quy hoạch</ows:Keyword><ows:Keyword>đất đai"
                "</ows:Keyword><ows:Keyword>planning</ows:Keyword><ows:Keyword>land"
                "</ows:Keyword></ows:Keywords><ows:ServiceType>CSW</ows:ServiceType>"
                "<ows:ServiceTypeVersion>2.0.2</ows:ServiceTypeVersion><ows:Fees>none</ows:Fees>"
                "<ows:AccessConstraints>");
    buf_puts(b, req->role > ROLE_PUBLIC ? "API key" : "none");
    buf_puts(b, "</ows:AccessConstraints></ows:ServiceIdentification>");
    if (m) {
        buf_puts(b, "<ows:ServiceProvider>");
        el(b, "ows:ProviderName", m->org_vi);
        buf_puts(b, "<ows:ServiceContact>");
        el(b, "ows:IndividualName", m->contact_name);
        buf_puts(b, "<ows:ContactInfo>");
        if (m->contact_phone) {
            buf_puts(b, "<ows:Phone>");
            el(b, "ows:Voice", m->contact_phone);
            buf_puts(b, "</ows:Phone>");
        }
        buf_puts(b, "<ows:Address>");
        if (m->contact_address) el(b, "ows:DeliveryPoint", m->contact_address);
        el(b, "ows:ElectronicMailAddress", m->contact_email);
        buf_puts(b, "</ows:Address></ows:ContactInfo></ows:ServiceContact></ows:ServiceProvider>");
    }
    static const char *const schemas[] = {NS_CSW, NS_GMD, NULL};
    static const char *const types[] = {"csw:Record", "gmd:MD_Metadata", NULL};
    static const char *const esns[] = {"brief", "summary", "full", NULL};
    static const char *const rts[] = {"hits", "results", "validate", NULL};
    static const char *const formats[] = {"application/xml", NULL};
    static const char *const langs[] = {"FILTER", "CQL_TEXT", NULL};
    static const char *const ops[] = {"GetCapabilities", "GetRecords", "GetRecordById", NULL};
    static const char *const qs[] = {"csw:AnyText", "dc:title",        "dct:abstract",
                                     "dc:subject",  "dc:identifier",   "dc:type",
                                     "dc:format",   "ows:BoundingBox", NULL};
    buf_puts(b, "<ows:OperationsMetadata>");
    op(b, req, "GetCapabilities", 1);
    static const char *const sections[] = {"ServiceIdentification", "ServiceProvider",
                                           "OperationsMetadata", "Filter_Capabilities", NULL};
    param(b, "sections", sections);
    buf_puts(b, "</ows:Operation>");
    op(b, req, "GetRecords", 1);
    param(b, "typeNames", types);
    param(b, "outputFormat", formats);
    param(b, "outputSchema", schemas);
    param(b, "resultType", rts);
    param(b, "ElementSetName", esns);
    param(b, "CONSTRAINTLANGUAGE", langs);
    buf_puts(b, "<ows:Constraint name=\"SupportedDublinCoreQueryables\">");
    for (const char *const *p = qs; *p; p++)
        buf_printf(b, "<ows:Value>%s</ows:Value>", *p);
    buf_puts(b, "</ows:Constraint></ows:Operation>");
    op(b, req, "GetRecordById", 1);
    param(b, "outputSchema", schemas);
    param(b, "outputFormat", formats);
    param(b, "ElementSetName", esns);
    buf_puts(b, "</ows:Operation>");
    static const char *const svc[] = {"CSW", NULL};
    static const char *const ver[] = {"2.0.2", NULL};
    param(b, "service", svc);
    param(b, "version", ver);
    (void)ops;
    buf_puts(b, "</ows:OperationsMetadata>");
    buf_puts(b, "<ogc:Filter_Capabilities><ogc:Spatial_Capabilities><ogc:GeometryOperands>"
                "<ogc:GeometryOperand>gml:Envelope</ogc:GeometryOperand></ogc:GeometryOperands>"
                "<ogc:SpatialOperators><ogc:SpatialOperator name=\"BBOX\"/></ogc:SpatialOperators>"
                "</ogc:Spatial_Capabilities><ogc:Scalar_Capabilities><ogc:LogicalOperators/>"
                "<ogc:ComparisonOperators><ogc:ComparisonOperator>Like</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>EqualTo</ogc:ComparisonOperator>"
                "</ogc:ComparisonOperators></ogc:Scalar_Capabilities><ogc:Id_Capabilities>"
                "<ogc:EID/><ogc:FID/></ogc:Id_Capabilities></ogc:Filter_Capabilities>");
    return buf_puts(b, "</csw:Capabilities>\n") ? ERR_NOMEM : 0;
}

static int get_records(struct request *req, struct response *res, struct csw_req *q,
                       struct err *err)
{
    const struct catalog *cat = &req->cfg->catalog;
    int64_t matched = 0, returned = 0;
    int64_t max = q->max < 0 ? 10 : q->max > MAX_REC ? MAX_REC : q->max;
    int64_t start = q->start > 0 ? q->start : 1;
    struct buf recs;
    buf_init(&recs);
    int rc = 0;
    struct meta_record *r = malloc(sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        const struct layer_def *l = &cat->layers[i];
        if (!meta_visible(req, l)) continue;
        if ((rc = meta_record_load(req, l, r, err))) break;
        int ok = 1;
        if (q->tree.root >= 0) {
            struct rec_text rt;
            memset(&rt, 0, sizeof rt);
            rc = rec_text_fill(&rt, r, err);
            ok = !rc && cq_eval(&q->tree, q->tree.root, r, &rt);
            rec_text_fini(&rt);
        }
        if (rc || !ok) continue;
        matched++;
        if (!q->hits && matched >= start && returned < max) {
            rc = write_record(&recs, req, r, q);
            returned++;
        }
    }
    free(r);
    if (rc) {
        buf_fini(&recs);
        return rc;
    }
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<csw:GetRecordsResponse %s "
               "version=\"2.0.2\">",
               RESP_NS);
    if (q->validate) {
        buf_fini(&recs);
        return buf_puts(b, "<csw:Acknowledgement/></csw:GetRecordsResponse>\n") ? ERR_NOMEM : 0;
    }
    int64_t next = start + returned <= matched && returned ? start + returned : 0;
    if (q->hits) next = 0;
    static const char *const esn_names[] = {"brief", "summary", "full"};
    buf_printf(b,
               "<csw:SearchStatus timestamp=\"%s\"/><csw:SearchResults "
               "numberOfRecordsMatched=\"%lld\" numberOfRecordsReturned=\"%lld\" "
               "nextRecord=\"%lld\" recordSchema=\"%s\" elementSet=\"%s\">",
               "1970-01-01T00:00:00Z", (long long)matched, (long long)returned, (long long)next,
               q->gmd ? NS_GMD : NS_CSW, esn_names[q->esn]);
    if (recs.data) buf_append(b, recs.data, recs.len);
    buf_fini(&recs);
    return buf_puts(b, "</csw:SearchResults></csw:GetRecordsResponse>\n") ? ERR_NOMEM : 0;
}

static int get_record_by_id(struct request *req, struct response *res, struct csw_req *q,
                            struct err *err)
{
    const struct catalog *cat = &req->cfg->catalog;
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<csw:GetRecordByIdResponse %s>",
               RESP_NS);
    struct meta_record *r = malloc(sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < q->n_ids && !rc; i++) {
        const struct layer_def *l = catalog_layer(cat, q->ids[i]);
        if (!l || !meta_visible(req, l)) continue; /* an unknown id: no record (CSW 2.0.2) */
        if (!(rc = meta_record_load(req, l, r, err))) rc = write_record(b, req, r, q);
    }
    free(r);
    if (rc) return rc;
    return buf_puts(b, "</csw:GetRecordByIdResponse>\n") ? ERR_NOMEM : 0;
}

static void timestamp_now(struct response *res)
{
    /* The SearchStatus timestamp placeholder is replaced by the current UTC time. */
    char *p = res->body.data ? strstr(res->body.data, "1970-01-01T00:00:00Z") : NULL;
    if (!p) return;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    memcpy(p, ts, 20);
}

int meta_csw(struct request *req, struct response *res, struct err *err)
{
    struct csw_req q;
    memset(&q, 0, sizeof q);
    q.esn = ESN_SUMMARY;
    q.max = -1;
    q.tree.root = -1;
    int rc;
    if (!strcmp(req->method, "POST")) {
        if (!req->body || !req->body_len) {
            rc = csw_fail(err, ERR_PARAM, "MissingParameterValue", "request",
                          "POST without a CSW request document");
            goto done;
        }
        struct filter_limits lim;
        filter_limits_from(&req->cfg->limits, &lim);
        void *doc = NULL;
        if ((rc = filter_xml_read(req->body, req->body_len, &lim, &doc, err))) {
            snprintf(err->ogc_code, sizeof err->ogc_code, "NoApplicableCode");
            snprintf(err->locator, sizeof err->locator, "request");
            goto done;
        }
        rc = parse_xml(req, &q, xmlDocGetRootElement((xmlDocPtr)doc), err);
        filter_xml_free(doc);
    } else {
        rc = parse_kvp(req, &q, err);
    }
    if (rc) goto done;
    if (!strcasecmp(q.request, "GetCapabilities"))
        rc = capabilities(req, res);
    else if (!strcasecmp(q.request, "GetRecords"))
        rc = get_records(req, res, &q, err);
    else if (!strcasecmp(q.request, "GetRecordById"))
        rc = get_record_by_id(req, res, &q, err);
    else
        rc = csw_fail(err, ERR_UNSUPPORTED, "OperationNotSupported", "request",
                      "operation %.60s is not supported (GetCapabilities, GetRecords, "
                      "GetRecordById)",
                      q.request);
    if (!rc) timestamp_now(res);
done:
    csw_req_fini(&q);
    return rc;
}
