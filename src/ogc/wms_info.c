/* SPDX-License-Identifier: MIT */
/* wms_info.c: WMS GetFeatureInfo. The clicked pixel (I/J, or X/Y in 1.1.1) becomes a point in
 * the storage CRS; candidates come from one index query per layer in a box of a few pixels, then
 * what a user clicking means is decided in C: a polygon is hit when the point is inside it
 * (smaller polygons first, so a lot wins over the zone around it), a line or a point when it is
 * within the pixel tolerance (nearest first). FEATURE_COUNT (default 1) features per layer are
 * returned, with only the fields the role may read (encode_fields), written by encode/info.c
 * as text/plain, text/html, application/json (GeoJSON, geometry in the map's CRS) or
 * application/vnd.ogc.gml (GML 2). */
#include "wms_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOLERANCE_PX   5
#define MAX_CANDIDATES 256

struct hit {
    int64_t fid;
    double dist, area;
    size_t vals; /* offset in arena: per field a struct value, then its text if any */
    size_t wkb, wkb_len;
};

struct info_ctx {
    const struct layer_def *layer;
    int fields[256];
    int n_fields;
    double px, py, tol; /* click point and tolerance in storage units */
    struct hit hits[MAX_CANDIDATES];
    int n_hits;
    struct buf arena;
    struct geom g;
    struct value values[256]; /* of the hit being written */
};

static double seg_dist(double px, double py, const double *a, const double *b)
{
    double dx = b[0] - a[0], dy = b[1] - a[1], len = dx * dx + dy * dy;
    double t = len > 0 ? ((px - a[0]) * dx + (py - a[1]) * dy) / len : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(px - (a[0] + t * dx), py - (a[1] + t * dy));
}

/* Distance from the click to the geometry (0 inside a polygon, -1 outside it); area of polygons. */
static double geom_dist(const struct geom *g, double px, double py, double *area)
{
    int polygon = g->type == GT_POLYGON || g->type == GT_MULTIPOLYGON;
    double best = INFINITY;
    int inside = 0;
    *area = 0;
    for (int i = 0; i < g->n_parts; i++) {
        const struct geom_part *p = &g->parts[i];
        if (g->type == GT_POINT || g->type == GT_MULTIPOINT) {
            best = fmin(best, hypot(px - p->xy[0], py - p->xy[1]));
            continue;
        }
        double a = 0;
        for (int k = 0; k + 1 < p->n; k++) {
            const double *s = &p->xy[2 * k], *e = s + 2;
            if (polygon) {
                a += s[0] * e[1] - e[0] * s[1];
                if ((s[1] > py) != (e[1] > py) &&
                    px < s[0] + (py - s[1]) / (e[1] - s[1]) * (e[0] - s[0]))
                    inside = !inside;
            } else {
                best = fmin(best, seg_dist(px, py, s, e));
            }
        }
        *area += p->ring ? -fabs(a / 2) : fabs(a / 2);
    }
    if (polygon) return inside ? 0 : -1;
    return best;
}

/* A field value into the arena: the struct itself, text after it (its offset in the arena kept
 * in i until the hit is written, since the arena may move). */
static int put_value(struct buf *b, const struct value *v)
{
    struct value c = *v;
    if (c.type != VAL_INT && c.type != VAL_REAL && c.type != VAL_TEXT) c.type = VAL_NULL;
    c.s = NULL;
    if (c.type == VAL_TEXT) c.i = (int64_t)(b->len + sizeof c);
    if (buf_append(b, &c, sizeof c)) return ERR_NOMEM;
    if (c.type != VAL_TEXT) return 0;
    return buf_append(b, v->s, (size_t)v->len) || buf_putc(b, '\0') ? ERR_NOMEM : 0;
}

/* The values of a hit back from the arena into c->values. */
static void hit_values(struct info_ctx *c, const struct hit *h)
{
    size_t at = h->vals;
    for (int k = 0; k < c->n_fields; k++) {
        struct value *v = &c->values[k];
        memcpy(v, c->arena.data + at, sizeof *v);
        at += sizeof *v;
        if (v->type == VAL_TEXT) {
            v->s = c->arena.data + v->i;
            at += (size_t)v->len + 1;
        }
    }
}

static int on_candidate(void *ud, const struct feature *f, struct err *err)
{
    struct info_ctx *c = ud;
    if (!f->wkb || geom_from_wkb(&c->g, f->wkb, f->wkb_len, NULL)) return 0;
    double area, d = geom_dist(&c->g, c->px, c->py, &area);
    if (d < 0 || d > c->tol) return 0;
    struct hit h = {f->fid, d, area, c->arena.len, 0, f->wkb_len};
    for (int i = 0; i < f->n_fields; i++)
        if (put_value(&c->arena, &f->values[i])) return err_set(err, ERR_NOMEM, "out of memory");
    h.wkb = c->arena.len;
    if (buf_append(&c->arena, f->wkb, f->wkb_len)) return err_set(err, ERR_NOMEM, "out of memory");
    if (c->n_hits < MAX_CANDIDATES) c->hits[c->n_hits++] = h;
    return 0;
}

static int by_distance(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    if (x->area != y->area) return x->area < y->area ? -1 : 1;
    return x->fid < y->fid ? -1 : x->fid > y->fid;
}

/* Geometry of a hit in the map's CRS (x = east) into c->g; -1 when it cannot be decoded or
 * transformed (the feature is then written without one). */
static int hit_geom(struct request *req, int srid, struct info_ctx *c, const struct hit *h)
{
    const unsigned char *wkb = (const unsigned char *)c->arena.data + h->wkb;
    if (geom_from_wkb(&c->g, wkb, h->wkb_len, NULL)) return -1;
    if (c->g.n_coords &&
        geo_transform(req->geo, req->cfg->storage_srid, srid, c->g.coords, c->g.n_coords / 2, NULL))
        return -1;
    return 0;
}

/* Writes the kept hits of one layer. */
static int write_layer(struct request *req, struct encode_info *w, int srid, struct info_ctx *c,
                       int count)
{
    const struct layer_def *l = c->layer;
    int rc = encode_info_layer_begin(w, l, count);
    for (int i = 0; i < count && !rc; i++) {
        const struct hit *h = &c->hits[i];
        int with_geom = w->fmt == ENCODE_INFO_JSON || w->fmt == ENCODE_INFO_GML;
        const struct geom *g = with_geom && !hit_geom(req, srid, c, h) ? &c->g : NULL;
        hit_values(c, h);
        rc = encode_info_feature(w, l, h->fid, c->fields, c->values, c->n_fields, g);
    }
    return rc ? rc : encode_info_layer_end(w, l);
}

static int parse_info_format(const char *f, enum encode_info_fmt *out)
{
    if (!f || str_ieq(f, "text/plain"))
        *out = ENCODE_INFO_TEXT;
    else if (str_ieq(f, "text/html"))
        *out = ENCODE_INFO_HTML;
    else if (str_ieq(f, "application/json") || str_ieq(f, "application/geo+json") ||
             str_ieq(f, "json"))
        *out = ENCODE_INFO_JSON;
    else if (str_ieq(f, "application/vnd.ogc.gml") || str_ieq(f, "text/xml") ||
             str_ieq(f, "application/gml+xml"))
        *out = ENCODE_INFO_GML;
    else
        return -1;
    return 0;
}

/* I/J (1.3.0) or X/Y (1.1.1): integers inside the image. */
static int parse_point(const struct request *req, int version, int w, int h, long *i, long *j,
                       struct err *err)
{
    const char *in = version == WMS_111 ? "X" : "I", *jn = version == WMS_111 ? "Y" : "J";
    const char *iv = req_arg_ci(req, in), *jv = req_arg_ci(req, jn);
    if (!iv)
        iv = req_arg_ci(req, version == WMS_111 ? "I" : "X"), in = version == WMS_111 ? "I" : "X";
    if (!jv)
        jv = req_arg_ci(req, version == WMS_111 ? "J" : "Y"), jn = version == WMS_111 ? "J" : "Y";
    if (!iv || !jv) return wms_fail(err, "InvalidPoint", iv ? jn : in, "missing %s", iv ? jn : in);
    if (str_to_long(iv, i) || *i < 0 || *i >= w)
        return wms_fail(err, "InvalidPoint", in, "%s must be a pixel column 0..%d", in, w - 1);
    if (str_to_long(jv, j) || *j < 0 || *j >= h)
        return wms_fail(err, "InvalidPoint", jn, "%s must be a pixel row 0..%d", jn, h - 1);
    return 0;
}

/* The click in the storage CRS and the tolerance there. */
static int click_in_storage(struct request *req, const struct render_request *rq, long i, long j,
                            double *x, double *y, double *tol, struct bbox *box, struct err *err)
{
    double rx = (rq->bbox.maxx - rq->bbox.minx) / rq->width;
    double ry = (rq->bbox.maxy - rq->bbox.miny) / rq->height;
    double pt[6] = {rq->bbox.minx + (i + 0.5) * rx, rq->bbox.maxy - (j + 0.5) * ry, 0, 0, 0, 0};
    pt[2] = pt[0] + TOLERANCE_PX * rx, pt[3] = pt[1];
    pt[4] = pt[0], pt[5] = pt[1] + TOLERANCE_PX * ry;
    int rc = geo_transform(req->geo, rq->srid, req->cfg->storage_srid, pt, 3, err);
    if (rc) return wms_fail(err, "InvalidPoint", "I", "the point cannot be transformed");
    *x = pt[0], *y = pt[1];
    *tol = fmax(hypot(pt[2] - pt[0], pt[3] - pt[1]), hypot(pt[4] - pt[0], pt[5] - pt[1]));
    *box = (struct bbox){*x - *tol, *y - *tol, *x + *tol, *y + *tol};
    return 0;
}

static int query_layer(struct request *req, struct info_ctx *c, const struct bbox *box,
                       struct err *err)
{
    c->n_fields = encode_fields(c->layer, req->role, c->fields, 256);
    c->n_hits = 0;
    buf_reset(&c->arena);
    struct store_query q = {.layer = c->layer,
                            .role = req->role,
                            .has_bbox = 1,
                            .bbox = *box,
                            .fields = c->fields,
                            .n_fields = c->n_fields,
                            .limit = 5000,
                            .want_geom = 1};
    struct feature_sink sink = {NULL, on_candidate, NULL, c};
    int rc = store_query_run(req->store, &q, &sink, err);
    if (!rc) qsort(c->hits, (size_t)c->n_hits, sizeof *c->hits, by_distance);
    return rc;
}

int wms_feature_info(struct request *req, struct response *res, struct err *err)
{
    int version = wms_version(req);
    struct render_request rq;
    struct wms_map m;
    int rc = wms_parse_map(req, "LAYERS", &rq, &m, err);
    wms_free_styles(&m);
    if (rc) return rc;
    char srs[32];
    struct encode_info w = {.out = &res->body, .srs = srs};
    if (parse_info_format(req_arg_ci(req, "INFO_FORMAT"), &w.fmt))
        return wms_fail(err, "InvalidFormat", "INFO_FORMAT", "unsupported INFO_FORMAT");
    w.decimals = rq.srid == GEO_SRID_CRS84 || geo_crs_geographic(req->geo, rq.srid) ? 8 : 3;
    geo_crs_name(rq.srid, srs);
    long count = 1, i, j;
    const char *fc = req_arg_ci(req, "FEATURE_COUNT");
    if (fc && (str_to_long(fc, &count) || count < 1 || count > req->cfg->limits.max_features))
        return wms_fail(err, "InvalidParameterValue", "FEATURE_COUNT",
                        "FEATURE_COUNT must be 1..%d", req->cfg->limits.max_features);
    if ((rc = parse_point(req, version, rq.width, rq.height, &i, &j, err))) return rc;
    const char *ql = wms_required(req, "QUERY_LAYERS", err);
    if (!ql) return ERR_PARAM;
    struct bbox box;
    struct info_ctx *c = calloc(1, sizeof *c);
    if (!c) return err_set(err, ERR_NOMEM, "out of memory");
    buf_init(&c->arena);
    geom_init(&c->g);
    char *names = str_dup(ql), *save = NULL;
    if (!names) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) rc = click_in_storage(req, &rq, i, j, &c->px, &c->py, &c->tol, &box, err);
    if (!rc && encode_info_begin(&w)) rc = err_set(err, ERR_NOMEM, "out of memory");
    store_set_deadline(req->store, req->cfg->limits.query_ms);
    for (char *t = rc ? NULL : strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        c->layer = wms_layer(req, t);
        if (!c->layer) {
            rc = wms_fail(err, "LayerNotDefined", "QUERY_LAYERS", "unknown layer \"%s\"", t);
            break;
        }
        if ((rc = query_layer(req, c, &box, err))) break;
        if (write_layer(req, &w, rq.srid, c, c->n_hits < count ? c->n_hits : (int)count)) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            break;
        }
    }
    store_set_deadline(req->store, 0);
    if (!rc && encode_info_end(&w)) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) resp_set(res, 200, encode_info_type(w.fmt));
    free(names);
    buf_fini(&c->arena);
    geom_fini(&c->g);
    free(c);
    return rc;
}
