/* SPDX-License-Identifier: MIT */
/* wms_info.c: WMS GetFeatureInfo. The clicked pixel (I/J, or X/Y in 1.1.1) becomes a point in
 * the storage CRS; candidates come from one index query per layer in a box of a few pixels, then
 * what a user clicking means is decided in C: a polygon is hit when the point is inside it
 * (smaller polygons first, so a lot wins over the zone around it), a line or a point when it is
 * within the pixel tolerance (nearest first). FEATURE_COUNT (default 1) features per layer are
 * returned, with only the fields the role may read, as text/plain, text/html, application/json
 * (GeoJSON, geometry in the map's CRS) or application/vnd.ogc.gml (GML 2). */
#include "wms_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOLERANCE_PX   5
#define MAX_CANDIDATES 256

enum info_fmt { INFO_TEXT, INFO_HTML, INFO_JSON, INFO_GML };

struct hit {
    int64_t fid;
    double dist, area;
    size_t vals; /* offset in arena: per field a type byte then NUL-terminated text */
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

static int put_value(struct buf *b, const struct value *v)
{
    switch (v->type) {
    case VAL_INT:
        return buf_putc(b, 'i') || buf_printf(b, "%lld", (long long)v->i);
    case VAL_REAL:
        return buf_putc(b, 'r') || buf_put_double(b, v->d, 6);
    case VAL_TEXT:
        return buf_putc(b, 's') || buf_append(b, v->s, (size_t)v->len);
    default:
        return buf_putc(b, 'n');
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
        if (put_value(&c->arena, &f->values[i]) || buf_putc(&c->arena, '\0'))
            return err_set(err, ERR_NOMEM, "out of memory");
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

/* Geometry of a hit in the map's CRS (x = east), or 0 parts on failure. */
static int hit_geom(struct request *req, int srid, struct info_ctx *c, const struct hit *h)
{
    const unsigned char *wkb = (const unsigned char *)c->arena.data + h->wkb;
    if (geom_from_wkb(&c->g, wkb, h->wkb_len, NULL)) return -1;
    for (int i = 0; i < c->g.n_parts; i++)
        if (geo_transform(req->geo, req->cfg->storage_srid, srid, c->g.parts[i].xy,
                          (size_t)c->g.parts[i].n, NULL))
            return -1;
    return 0;
}

static void json_geom(struct buf *b, const struct geom *g, int geographic)
{
    int dec = geographic ? 8 : 3;
    int poly = g->type == GT_POLYGON || g->type == GT_MULTIPOLYGON;
    int line = g->type == GT_LINESTRING || g->type == GT_MULTILINESTRING;
    buf_printf(b, "{\"type\":\"%s\",\"coordinates\":",
               poly   ? "MultiPolygon"
               : line ? "MultiLineString"
                      : "MultiPoint");
    buf_putc(b, '[');
    for (int i = 0; i < g->n_parts; i++) {
        const struct geom_part *p = &g->parts[i];
        if (poly) {
            if (!p->ring)
                buf_puts(b, i ? "]],[[" : "[[");
            else
                buf_puts(b, "],[");
        } else if (line) {
            buf_puts(b, i ? "],[" : "[");
        } else if (i) {
            buf_putc(b, ',');
        }
        for (int k = 0; k < p->n; k++) {
            if (k) buf_putc(b, ',');
            buf_putc(b, '[');
            buf_put_double(b, p->xy[2 * k], dec);
            buf_putc(b, ',');
            buf_put_double(b, p->xy[2 * k + 1], dec);
            buf_putc(b, ']');
        }
    }
    if (g->n_parts) buf_puts(b, poly ? "]]" : line ? "]" : "");
    buf_puts(b, "]}");
}

static void gml_coords(struct buf *b, const struct geom_part *p, int dec)
{
    buf_puts(b, "<gml:coordinates decimal=\".\" cs=\",\" ts=\" \">");
    for (int k = 0; k < p->n; k++) {
        if (k) buf_putc(b, ' ');
        buf_put_double(b, p->xy[2 * k], dec);
        buf_putc(b, ',');
        buf_put_double(b, p->xy[2 * k + 1], dec);
    }
    buf_puts(b, "</gml:coordinates>");
}

static void gml_geom(struct buf *b, const struct geom *g, const char *srs, int geographic)
{
    int dec = geographic ? 8 : 3;
    int poly = g->type == GT_POLYGON || g->type == GT_MULTIPOLYGON;
    int line = g->type == GT_LINESTRING || g->type == GT_MULTILINESTRING;
    const char *multi = poly ? "MultiPolygon" : line ? "MultiLineString" : "MultiPoint";
    const char *member = poly ? "polygonMember" : line ? "lineStringMember" : "pointMember";
    buf_printf(b, "<gml:%s srsName=\"%s\">", multi, srs);
    for (int i = 0; i < g->n_parts; i++) {
        const struct geom_part *p = &g->parts[i];
        if (poly) {
            if (!p->ring) {
                if (i) buf_printf(b, "</gml:Polygon></gml:%s>", member);
                buf_printf(b, "<gml:%s><gml:Polygon>", member);
            }
            buf_puts(b, p->ring ? "<gml:innerBoundaryIs><gml:LinearRing>"
                                : "<gml:outerBoundaryIs><gml:LinearRing>");
            gml_coords(b, p, dec);
            buf_puts(b, p->ring ? "</gml:LinearRing></gml:innerBoundaryIs>"
                                : "</gml:LinearRing></gml:outerBoundaryIs>");
        } else {
            buf_printf(b, "<gml:%s><gml:%s>", member, line ? "LineString" : "Point");
            gml_coords(b, p, dec);
            buf_printf(b, "</gml:%s></gml:%s>", line ? "LineString" : "Point", member);
        }
    }
    if (poly && g->n_parts) buf_printf(b, "</gml:Polygon></gml:%s>", member);
    buf_printf(b, "</gml:%s>", multi);
}

struct out_state {
    enum info_fmt fmt;
    int n_out;
    int srid;
    int geographic;
    char srs[32];
};

static void write_value(struct buf *b, enum info_fmt fmt, const char *v)
{
    char t = v[0];
    const char *s = v + 1;
    if (fmt == INFO_JSON) {
        if (t == 'n')
            buf_puts(b, "null");
        else if (t == 's')
            buf_put_json_str(b, s);
        else
            buf_puts(b, s);
    } else if (fmt == INFO_TEXT) {
        if (t == 'n')
            buf_puts(b, "NULL");
        else if (t == 's')
            buf_printf(b, "'%s'", s);
        else
            buf_puts(b, s);
    } else {
        buf_put_xml(b, t == 'n' ? "" : s);
    }
}

/* Writes the kept hits of one layer. */
static void write_layer(struct request *req, struct buf *b, struct out_state *o, struct info_ctx *c,
                        int count)
{
    const struct layer_def *l = c->layer;
    if (o->fmt == INFO_TEXT) buf_printf(b, "Layer '%s'\n", l->id);
    if (o->fmt == INFO_HTML && count) {
        buf_puts(b, "<h2>");
        buf_put_xml(b, l->title_vi);
        buf_puts(b, "</h2>\n");
    }
    if (o->fmt == INFO_GML) buf_printf(b, "<%s_layer><gml:name>%s</gml:name>\n", l->id, l->id);
    for (int i = 0; i < count; i++) {
        const struct hit *h = &c->hits[i];
        const char *v = c->arena.data + h->vals;
        int have_geom =
            (o->fmt == INFO_JSON || o->fmt == INFO_GML) && !hit_geom(req, o->srid, c, h);
        switch (o->fmt) {
        case INFO_TEXT:
            buf_printf(b, "  Feature %lld:\n", (long long)h->fid);
            break;
        case INFO_HTML:
            buf_printf(b, "<table border=\"1\"><tr><th>fid</th><td>%lld</td></tr>\n",
                       (long long)h->fid);
            break;
        case INFO_JSON:
            buf_printf(
                b, "%s{\"type\":\"Feature\",\"id\":\"%s.%lld\",\"layer\":\"%s\",\"properties\":{",
                o->n_out++ ? "," : "", l->id, (long long)h->fid, l->id);
            break;
        case INFO_GML:
            buf_printf(b, "<%s_feature fid=\"%s.%lld\">", l->id, l->id, (long long)h->fid);
            break;
        }
        for (int k = 0; k < c->n_fields; k++) {
            const char *name = l->fields[c->fields[k]].name;
            if (o->fmt == INFO_TEXT)
                buf_printf(b, "    %s = ", name);
            else if (o->fmt == INFO_HTML) {
                buf_puts(b, "<tr><th>");
                buf_put_xml(b, l->fields[c->fields[k]].label_vi ? l->fields[c->fields[k]].label_vi
                                                                : name);
                buf_puts(b, "</th><td>");
            } else if (o->fmt == INFO_JSON)
                buf_printf(b, "%s\"%s\":", k ? "," : "", name);
            else
                buf_printf(b, "<%s>", name);
            write_value(b, o->fmt, v);
            if (o->fmt == INFO_TEXT)
                buf_putc(b, '\n');
            else if (o->fmt == INFO_HTML)
                buf_puts(b, "</td></tr>\n");
            else if (o->fmt == INFO_GML)
                buf_printf(b, "</%s>", name);
            v += strlen(v) + 1;
        }
        if (o->fmt == INFO_HTML) buf_puts(b, "</table>\n");
        if (o->fmt == INFO_JSON) {
            buf_puts(b, "},\"geometry\":");
            if (have_geom)
                json_geom(b, &c->g, o->geographic);
            else
                buf_puts(b, "null");
            buf_puts(b, "}");
        }
        if (o->fmt == INFO_GML) {
            if (have_geom) {
                buf_puts(b, "<gml:boundedBy/><geometry>");
                gml_geom(b, &c->g, o->srs, o->geographic);
                buf_puts(b, "</geometry>");
            }
            buf_printf(b, "</%s_feature>\n", l->id);
        }
    }
    if (o->fmt == INFO_GML) buf_printf(b, "</%s_layer>\n", l->id);
}

static int parse_info_format(const char *f, enum info_fmt *out)
{
    if (!f || str_ieq(f, "text/plain"))
        *out = INFO_TEXT;
    else if (str_ieq(f, "text/html"))
        *out = INFO_HTML;
    else if (str_ieq(f, "application/json") || str_ieq(f, "application/geo+json") ||
             str_ieq(f, "json"))
        *out = INFO_JSON;
    else if (str_ieq(f, "application/vnd.ogc.gml") || str_ieq(f, "text/xml") ||
             str_ieq(f, "application/gml+xml"))
        *out = INFO_GML;
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
    c->n_fields = 0;
    for (int k = 0; k < c->layer->n_fields && c->n_fields < 256; k++)
        if (access_field(c->layer, k, req->role)) c->fields[c->n_fields++] = k;
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

static void begin_doc(struct buf *b, struct out_state *o)
{
    if (o->fmt == INFO_JSON)
        buf_puts(b, "{\"type\":\"FeatureCollection\",\"features\":[");
    else if (o->fmt == INFO_HTML)
        buf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>GetFeatureInfo"
                    "</title></head><body>\n");
    else if (o->fmt == INFO_GML)
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<msGMLOutput"
                    " xmlns:gml=\"http://www.opengis.net/gml\""
                    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
    else
        buf_puts(b, "GetFeatureInfo results:\n\n");
}

static void end_doc(struct buf *b, struct out_state *o, struct response *res)
{
    static const char *types[] = {"text/plain; charset=utf-8", "text/html; charset=utf-8",
                                  "application/json", "application/vnd.ogc.gml"};
    if (o->fmt == INFO_JSON)
        buf_puts(b, "]}\n");
    else if (o->fmt == INFO_HTML)
        buf_puts(b, "</body></html>\n");
    else if (o->fmt == INFO_GML)
        buf_puts(b, "</msGMLOutput>\n");
    resp_set(res, 200, types[o->fmt]);
}

int wms_feature_info(struct request *req, struct response *res, struct err *err)
{
    int version = wms_version(req);
    struct render_request rq;
    struct wms_map m;
    int rc = wms_parse_map(req, "LAYERS", &rq, &m, err);
    wms_free_styles(&m);
    if (rc) return rc;
    struct out_state o = {.srid = rq.srid};
    if (parse_info_format(req_arg_ci(req, "INFO_FORMAT"), &o.fmt))
        return wms_fail(err, "InvalidFormat", "INFO_FORMAT", "unsupported INFO_FORMAT");
    o.geographic = rq.srid == GEO_SRID_CRS84 || geo_crs_geographic(req->geo, rq.srid);
    geo_crs_name(rq.srid, o.srs);
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
    rc = click_in_storage(req, &rq, i, j, &c->px, &c->py, &c->tol, &box, err);
    if (!rc) begin_doc(&res->body, &o);
    store_set_deadline(req->store, req->cfg->limits.query_ms);
    for (char *t = rc ? NULL : strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        c->layer = wms_layer(req, t);
        if (!c->layer) {
            rc = wms_fail(err, "LayerNotDefined", "QUERY_LAYERS", "unknown layer \"%s\"", t);
            break;
        }
        if ((rc = query_layer(req, c, &box, err))) break;
        write_layer(req, &res->body, &o, c, c->n_hits < count ? c->n_hits : (int)count);
    }
    store_set_deadline(req->store, 0);
    if (!rc) end_doc(&res->body, &o, res);
    free(names);
    buf_fini(&c->arena);
    geom_fini(&c->g);
    free(c);
    return rc;
}
