/* SPDX-License-Identifier: MIT */
/* ctx.c: the request context of the land API and the one way it reads the store: a layer, an
 * R*Tree box, an optional attribute filter tree (filter_and_*), then an exact GEOS test in C. Rows
 * are copied out (fields the role may read, the WKB and a GEOS geometry) so answers can be
 * combined across layers. Also nearest-feature search by growing R*Tree windows, and commune
 * lookup by code or folded name. */
#include "query_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int qctx_init(struct qctx *q, const struct request *req, struct err *err)
{
    memset(q, 0, sizeof *q);
    encode_geom_init(&q->enc, req->geo, 0, GEO_SRID_CRS84, 1);
    q->enc.decimals = 7;
    q->enc.exact = 1;
    if (!req->store || !req->geo || !req->cfg)
        return err_set(err, ERR_INTERNAL, "query: no store or geometry context");
    q->req = req;
    q->cfg = req->cfg;
    q->cat = &req->cfg->catalog;
    q->st = req->store;
    q->geo = req->geo;
    q->h = geo_geos(req->geo);
    q->role = req->role;
    q->srid = store_srid(req->store);
    if (!q->srid) q->srid = req->cfg->storage_srid;
    q->enc.src_srid = q->srid;
    q->reader = GEOSWKBReader_create_r(q->h);
    if (!q->reader) return err_set(err, ERR_NOMEM, "out of memory");
    /* one read transaction per answer: one snapshot across layers (an import swapping a layer
     * in mid-request cannot mix versions) and one WAL read lock instead of one per statement */
    int rc = store_begin_read(q->st, err);
    if (rc) return rc;
    q->in_txn = 1;
    return 0;
}

void qctx_fini(struct qctx *q)
{
    if (q->in_txn) store_end_read(q->st);
    q->in_txn = 0;
    if (q->reader) GEOSWKBReader_destroy_r(q->h, q->reader);
    q->reader = NULL;
    encode_geom_fini(&q->enc);
}

const struct layer_def *q_layer(const struct qctx *q, const char *id)
{
    const struct layer_def *l = catalog_layer(q->cat, id);
    return access_layer(l, q->role) ? l : NULL;
}

void qset_init(struct qset *s)
{
    memset(s, 0, sizeof *s);
}

static void row_free(struct qctx *q, const struct qset *s, struct qrow *r)
{
    for (int i = 0; r->vals && i < s->n_fields; i++)
        free((char *)r->vals[i].s);
    free(r->vals);
    free(r->wkb);
    if (r->geom) GEOSGeom_destroy_r(q->h, r->geom);
}

void qset_fini(struct qctx *q, struct qset *s)
{
    for (int i = 0; i < s->n; i++)
        row_free(q, s, &s->rows[i]);
    free(s->rows);
    qset_init(s);
}

void qset_layer(struct qctx *q, struct qset *s, const struct layer_def *l)
{
    s->layer = l;
    s->n_fields = encode_fields(l, q->role, s->fields, QSET_MAX_FIELDS);
}

struct fetch_sink {
    struct qctx *q;
    struct qset *s;
    const struct qfetch *f;
};

static int copy_row(struct fetch_sink *fs, const struct feature *f, GEOSGeometry *g,
                    struct err *err)
{
    struct qset *s = fs->s;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        struct qrow *rows = realloc(s->rows, (size_t)cap * sizeof *rows);
        if (!rows) {
            if (g) GEOSGeom_destroy_r(fs->q->h, g);
            return err_set(err, ERR_NOMEM, "out of memory");
        }
        s->rows = rows;
        s->cap = cap;
    }
    struct qrow *r = &s->rows[s->n];
    memset(r, 0, sizeof *r);
    r->fid = f->fid;
    r->geom = g;
    r->vals = calloc((size_t)(s->n_fields ? s->n_fields : 1), sizeof *r->vals);
    int keep = !fs->f->no_geom && f->wkb && f->wkb_len;
    r->wkb = keep ? malloc(f->wkb_len) : NULL;
    s->n++; /* from here on row_free releases it */
    if (!r->vals || (keep && !r->wkb)) return err_set(err, ERR_NOMEM, "out of memory");
    if (keep) memcpy(r->wkb, f->wkb, f->wkb_len), r->wkb_len = f->wkb_len;
    for (int i = 0; i < s->n_fields; i++) {
        const struct value *v = &f->values[i];
        struct value *o = &r->vals[i];
        o->type = v->type == VAL_BLOB ? VAL_NULL : v->type;
        o->i = v->i;
        o->d = v->type == VAL_INT ? (double)v->i : v->d;
        if (v->type != VAL_TEXT) continue;
        if (!(o->s = str_ndup(v->s, (size_t)v->len)))
            return err_set(err, ERR_NOMEM, "out of memory");
        o->len = v->len;
    }
    return 0;
}

static int fetch_feature(void *ud, const struct feature *f, struct err *err)
{
    struct fetch_sink *fs = ud;
    struct qctx *q = fs->q;
    if (fs->f->no_geom) {
        if (fs->f->limit > 0 && fs->s->n >= fs->f->limit) return 0;
        return copy_row(fs, f, NULL, err);
    }
    if (!f->wkb || !f->wkb_len) return 0;
    if (fs->f->lazy_geom && !fs->f->test) { /* parsed by q_geom when needed */
        if (fs->f->limit > 0 && fs->s->n >= fs->f->limit) return 0;
        return copy_row(fs, f, NULL, err);
    }
    GEOSGeometry *g = GEOSWKBReader_read_r(q->h, q->reader, f->wkb, f->wkb_len);
    if (!g) return 0; /* undecodable geometry: not an answer */
    if (fs->f->test) {
        char hit = GEOSPreparedIntersects_r(q->h, fs->f->test, g);
        if (hit != 1) {
            GEOSGeom_destroy_r(q->h, g);
            return 0;
        }
    }
    if (fs->f->limit > 0 && fs->s->n >= fs->f->limit) {
        GEOSGeom_destroy_r(q->h, g);
        return 0;
    }
    return copy_row(fs, f, g, err);
}

int q_fetch(struct qctx *q, const struct layer_def *l, const struct qfetch *f, struct qset *out,
            struct err *err)
{
    if (!out->layer) qset_layer(q, out, l);
    struct store_query sq;
    memset(&sq, 0, sizeof sq);
    sq.layer = l;
    sq.role = q->role;
    if (f->bbox) {
        sq.has_bbox = 1;
        sq.bbox = *f->bbox;
    }
    sq.filter = f->filter;
    sq.fields = out->fields;
    sq.n_fields = out->n_fields;
    sq.limit = f->sql_limit > 0 ? f->sql_limit : -1;
    sq.offset = f->sql_limit > 0 ? f->sql_offset : 0;
    sq.order = f->order;
    sq.order_desc = f->order_desc;
    sq.n_order = f->n_order;
    sq.want_geom = !f->no_geom;
    struct fetch_sink fs = {q, out, f};
    struct feature_sink sink = {NULL, fetch_feature, NULL, &fs};
    return store_query_run(q->st, &sq, &sink, err);
}

GEOSGeometry *q_geom(struct qctx *q, struct qrow *r)
{
    if (!r->geom && r->wkb) r->geom = GEOSWKBReader_read_r(q->h, q->reader, r->wkb, r->wkb_len);
    return r->geom;
}

int q_count(struct qctx *q, const struct layer_def *l, const struct qfetch *f, int64_t *n,
            struct err *err)
{
    struct store_query sq;
    memset(&sq, 0, sizeof sq);
    sq.layer = l;
    sq.role = q->role;
    if (f->bbox) {
        sq.has_bbox = 1;
        sq.bbox = *f->bbox;
    }
    sq.filter = f->filter;
    sq.limit = -1;
    return store_query_count(q->st, &sq, n, err);
}

static int field_pos(const struct qset *s, const char *name)
{
    for (int i = 0; i < s->n_fields; i++)
        if (strcmp(s->layer->fields[s->fields[i]].name, name) == 0) return i;
    return -1;
}

const struct value *q_get(const struct qset *s, const struct qrow *r, const char *name)
{
    int i = s->layer ? field_pos(s, name) : -1;
    return i < 0 ? NULL : &r->vals[i];
}

double q_num(const struct qset *s, const struct qrow *r, const char *name)
{
    const struct value *v = q_get(s, r, name);
    return v && (v->type == VAL_INT || v->type == VAL_REAL) ? v->d : NAN;
}

const char *q_str(const struct qset *s, const struct qrow *r, const char *name)
{
    const struct value *v = q_get(s, r, name);
    return v && v->type == VAL_TEXT ? v->s : NULL;
}

GEOSGeometry *q_point(struct qctx *q, double x, double y)
{
    GEOSCoordSequence *cs = GEOSCoordSeq_create_r(q->h, 1, 2);
    if (!cs) return NULL;
    GEOSCoordSeq_setXY_r(q->h, cs, 0, x, y);
    return GEOSGeom_createPoint_r(q->h, cs);
}

void q_geom_bbox(struct qctx *q, const GEOSGeometry *g, struct bbox *b)
{
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    if (!g || !GEOSGeom_getXMin_r(q->h, g, &x0) || !GEOSGeom_getYMin_r(q->h, g, &y0) ||
        !GEOSGeom_getXMax_r(q->h, g, &x1) || !GEOSGeom_getYMax_r(q->h, g, &y1)) {
        bbox_empty(b);
        return;
    }
    b->minx = x0, b->miny = y0, b->maxx = x1, b->maxy = y1;
}

double q_area(struct qctx *q, const GEOSGeometry *g)
{
    double a = 0;
    if (!g || !GEOSArea_r(q->h, g, &a)) return 0;
    return a;
}

double q_overlap(struct qctx *q, const GEOSGeometry *a, const GEOSGeometry *b)
{
    GEOSGeometry *i = GEOSIntersection_r(q->h, a, b);
    if (!i) {
        /* invalid input: retry on repaired copies so an answer never fails on a bad ring */
        GEOSGeometry *ma = GEOSMakeValid_r(q->h, a), *mb = GEOSMakeValid_r(q->h, b);
        if (ma && mb) i = GEOSIntersection_r(q->h, ma, mb);
        if (ma) GEOSGeom_destroy_r(q->h, ma);
        if (mb) GEOSGeom_destroy_r(q->h, mb);
        if (!i) return -1;
    }
    double area = q_area(q, i);
    GEOSGeom_destroy_r(q->h, i);
    return area;
}

int q_intersecting(struct qctx *q, const struct layer_def *l, const GEOSGeometry *g,
                   struct qset *out, struct err *err)
{
    struct bbox b;
    q_geom_bbox(q, g, &b);
    const GEOSPreparedGeometry *pg = GEOSPrepare_r(q->h, g);
    if (!pg) return err_set(err, ERR_INTERNAL, "cannot prepare geometry");
    struct qfetch f = {.bbox = &b, .test = pg};
    int rc = q_fetch(q, l, &f, out, err);
    GEOSPreparedGeom_destroy_r(q->h, pg);
    return rc;
}

int q_nearest(struct qctx *q, const struct layer_def *l, const GEOSGeometry *g,
              const struct filter *filter, double max_m, struct qset *out, int *best, double *dist,
              struct err *err)
{
    struct bbox gb;
    q_geom_bbox(q, g, &gb);
    *best = -1;
    *dist = NAN;
    for (double r = 100; r <= max_m * 4; r *= 4) {
        double w = r < max_m ? r : max_m;
        struct bbox b = {gb.minx - w, gb.miny - w, gb.maxx + w, gb.maxy + w};
        qset_fini(q, out);
        struct qfetch f = {.bbox = &b, .filter = filter};
        int rc = q_fetch(q, l, &f, out, err);
        if (rc) return rc;
        for (int i = 0; i < out->n; i++) {
            double d;
            if (!GEOSDistance_r(q->h, g, out->rows[i].geom, &d)) continue;
            out->rows[i].num = d;
            if (*best < 0 || d < *dist || (d == *dist && out->rows[i].fid < out->rows[*best].fid))
                *best = i, *dist = d;
        }
        /* a feature outside the window is farther than w from g's box, hence from g */
        if (*best >= 0 && *dist <= w) return 0;
        if (w >= max_m) break;
    }
    if (*best >= 0 && *dist > max_m) *best = -1;
    return 0;
}

/* Commune lookup. */

static int add_code(char **codes, int max, int *n, const char *code)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(codes[i], code) == 0) return 0;
    if (*n >= max) return 0;
    if (!(codes[*n] = str_dup(code))) return ERR_NOMEM;
    (*n)++;
    return 0;
}

/* Does the folded query match the name, with or without the unit type ("Phường Tân An",
 * "Tân An" for name "Phường Tân An" or for name "Tân An" of unit type "Phường")? */
static int name_matches(const char *want, const char *name, const char *unit_type)
{
    char *fn = query_fold(name), *fu = unit_type ? query_fold(unit_type) : NULL;
    size_t lu = fu ? strlen(fu) : 0;
    int hit = fn && strcmp(fn, want) == 0;
    if (!hit && fn && lu) /* the query has the unit type, the name does not */
        hit = strncmp(want, fu, lu) == 0 && want[lu] == ' ' && strcmp(want + lu + 1, fn) == 0;
    if (!hit && fn && lu) /* the name has the unit type, the query does not */
        hit = strncmp(fn, fu, lu) == 0 && fn[lu] == ' ' && strcmp(fn + lu + 1, want) == 0;
    free(fn);
    free(fu);
    return hit;
}

int q_resolve_commune(struct qctx *q, const char *commune, char **codes, int max, int *n,
                      struct err *err)
{
    *n = 0;
    const struct layer_def *l = q_layer(q, "admin_units");
    int fcode = l ? layer_field_index(l, "code") : -1;
    if (fcode < 0) return err_setl(err, ERR_PARAM, "commune", "no administrative units in store");
    struct filter *w = NULL;
    struct qset s;
    qset_init(&s);
    struct value v = {.type = VAL_TEXT, .s = commune, .len = (int)strlen(commune)};
    int rc = filter_and_compare(&w, l, fcode, FOP_EQ, &v);
    struct qfetch f = {.filter = w, .no_geom = 1};
    if (!rc) rc = q_fetch(q, l, &f, &s, err);
    for (int i = 0; !rc && i < s.n; i++)
        rc = add_code(codes, max, n, commune);
    if (!rc && *n == 0) { /* by name: admin units are a few hundred rows */
        char *want = query_fold(commune);
        struct qfetch all = {.no_geom = 1};
        qset_fini(q, &s);
        rc = want ? q_fetch(q, l, &all, &s, err) : ERR_PARAM;
        for (int i = 0; !rc && i < s.n; i++) {
            const char *code = q_str(&s, &s.rows[i], "code");
            if (code && name_matches(want, q_str(&s, &s.rows[i], "name"),
                                     q_str(&s, &s.rows[i], "unit_type")))
                rc = add_code(codes, max, n, code);
        }
        free(want);
    }
    qset_fini(q, &s);
    filter_free(w);
    if (rc == ERR_NOMEM) return err_set(err, ERR_NOMEM, "out of memory");
    if (rc && rc != ERR_PARAM) return rc;
    if (rc || *n == 0)
        return err_setl(err, ERR_PARAM, "commune", "unknown commune \"%.60s\"", commune);
    return 0;
}

int q_commune_name(struct qctx *q, const char *code, char **out, struct err *err)
{
    *out = NULL;
    const struct layer_def *l = q_layer(q, "admin_units");
    int fcode = l ? layer_field_index(l, "code") : -1;
    if (fcode < 0 || !code) return 0;
    struct filter *w = NULL;
    struct qset s;
    qset_init(&s);
    struct value v = {.type = VAL_TEXT, .s = code, .len = (int)strlen(code)};
    struct qfetch f = {.limit = 1, .no_geom = 1};
    int rc = filter_and_compare(&w, l, fcode, FOP_EQ, &v);
    if (rc) rc = err_set(err, rc, rc == ERR_NOMEM ? "out of memory" : "commune: no code field");
    if (!rc) {
        f.filter = w;
        rc = q_fetch(q, l, &f, &s, err);
    }
    const char *name = !rc && s.n ? q_str(&s, &s.rows[0], "name") : NULL;
    if (name && !(*out = str_dup(name))) rc = err_set(err, ERR_NOMEM, "out of memory");
    qset_fini(q, &s);
    filter_free(w);
    return rc;
}

int q_put_props(struct qctx *q, struct buf *b, const struct qset *s, const struct qrow *r,
                int *first)
{
    (void)q;
    return encode_json_props(b, s->layer, s->fields, r->vals, s->n_fields, q_str(s, r, "lu_scheme"),
                             first);
}

int q_put_geometry(struct qctx *q, struct buf *b, const unsigned char *wkb, size_t len,
                   struct err *err)
{
    return encode_geojson_wkb(b, &q->enc, wkb, len, err);
}
