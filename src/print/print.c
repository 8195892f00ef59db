/* SPDX-License-Identifier: MIT */
/* print.c: GET /print/parcel/{parcel_key}?lang=vi|en, the parcel sheet a citizen prints (issue 19).
 *
 * Everything on it comes from what the server already answers, called in-process on a copy of the
 * request (same role, same store handles): the parcel and its planning from
 * /api/v1/parcels/{key}/planning, plans and land price from /api/v1/land/at at a point inside the
 * parcel, the map from WMS GetMap (zoning blocks and red lines, storage CRS, embedded as a PNG
 * data URI so the page prints without further requests) and the legend colours from WMS
 * GetLegendGraphic (JSON). The parcel and its neighbours are drawn over the map as SVG from the
 * store (outline, numbers). The QR code (libqrencode) holds the parcel's share link,
 * {public_url or this host}/?parcel=KEY. One A4 page: fixed sizes in mm, overflow hidden. */
#include "print.h"

#include <jansson.h>
#include <math.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ogc/ogc.h"
#include "../query/query.h"
#include "../query/query_int.h"
#include "../store/store.h"

enum { LANG_VI, LANG_EN };

#define MAP_W     1140 /* px of the map image (190 mm wide at 6 px/mm) */
#define MAP_H     630  /* 105 mm */
#define MAP_MM_W  190.0
#define MAX_DRAWN 400 /* parcels drawn around the sheet's parcel */

static const char *tr(int lang, const char *vi, const char *en)
{
    return lang == LANG_EN ? en : vi;
}

/* Calls handler h on a copy of req whose query arguments are args (the sheet's own lang must not
 * reach handlers that refuse unknown parameters). The answer lands in out (caller resp_fini). */
static int sub_call(struct request *req,
                    int (*h)(struct request *, struct response *, struct err *), struct kv *args,
                    int n, struct response *out, struct err *err)
{
    struct request sub = *req;
    sub.args = args;
    sub.n_args = n;
    sub.query = "";
    sub.accept = "application/json";
    resp_init(out);
    int rc = h(&sub, out, err);
    if (!rc && buf_failed(&out->body)) /* a part cut short by out of memory: the router's 503 */
        rc = err_set(err, ERR_NOMEM, "print: out of memory");
    if (!rc && out->status && out->status != 200)
        rc = err_set(err, ERR_INTERNAL, "print: a part of the sheet answered %d", out->status);
    return rc;
}

static json_t *sub_json(struct request *req,
                        int (*h)(struct request *, struct response *, struct err *),
                        struct kv *args, int n, struct err *err, int *rc)
{
    struct response r;
    *rc = sub_call(req, h, args, n, &r, err);
    json_t *j = NULL;
    if (!*rc) {
        j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        if (!j) *rc = err_set(err, ERR_INTERNAL, "print: an answer is not JSON");
    }
    resp_fini(&r);
    return j;
}

/* Numbers as the language writes them: 1.830,25 (vi) / 1,830.25 (en). */
static int put_num(struct buf *b, double v, int decimals, int lang)
{
    if (!isfinite(v)) return buf_puts(b, "—");
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, fabs(v));
    char *dot = strchr(tmp, '.');
    const char *frac = "";
    if (dot) {
        *dot = '\0';
        frac = dot + 1;
        char *e = dot + strlen(frac);
        while (e > dot && *e == '0')
            *e-- = '\0';
    }
    size_t n = strlen(tmp);
    if (v < 0 && (atof(tmp) > 0 || *frac)) buf_putc(b, '-');
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf_putc(b, lang == LANG_EN ? ',' : '.');
        buf_putc(b, tmp[i]);
    }
    if (*frac) {
        buf_putc(b, lang == LANG_EN ? '.' : ',');
        buf_puts(b, frac);
    }
    return buf_status(b);
}

/* 2013-08-28 -> 28/08/2013 (vi) or 28 Aug 2013 (en); other text as it is. */
static int put_date(struct buf *b, const char *s, int lang)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int y, m, d;
    if (!s || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12)
        return buf_put_xml(b, s ? s : "");
    if (lang == LANG_EN) return buf_printf(b, "%d %s %d", d, months[m - 1], y);
    return buf_printf(b, "%02d/%02d/%04d", d, m, y);
}

static int is_date(const char *s)
{
    int y, m, d;
    return s && strlen(s) >= 10 && sscanf(s, "%4d-%2d-%2d", &y, &m, &d) == 3 && s[4] == '-';
}

static const char *code_name(const struct codelist *cl, const char *code, int lang)
{
    const struct code_def *c = cl && code ? codelist_find(cl, code, NULL) : NULL;
    if (!c) return NULL;
    return lang == LANG_EN && c->name_en && *c->name_en ? c->name_en : c->name_vi;
}

/* "ODT — Đất ở tại đô thị + CLN — ..." for a code (or codes joined by '+'); internal codes
 * (lower case, such as hieu_luc) show their name only. */
static int put_codes(struct buf *b, const struct codelist *cl, const char *v, int lang)
{
    const char *p = v;
    for (int n = 0; *p && !buf_failed(b); n++) {
        const char *plus = strchr(p, '+');
        size_t len = plus ? (size_t)(plus - p) : strlen(p);
        char *code = str_ndup(p, len);
        if (!code) return ERR_NOMEM;
        const char *name = code_name(cl, code, lang);
        int official = 1;
        for (const char *c = code; *c; c++)
            if (*c >= 'a' && *c <= 'z') official = 0;
        if (n) buf_puts(b, " + ");
        if (name && !official) {
            buf_put_xml(b, name);
        } else {
            buf_put_xml(b, code);
            if (name) buf_puts(b, " — "), buf_put_xml(b, name);
        }
        free(code);
        p = plus ? plus + 1 : p + len;
    }
    return buf_status(b);
}

static const struct field_def *field_of(const struct layer_def *l, const char *name)
{
    for (int i = 0; l && i < l->n_fields; i++)
        if (strcmp(l->fields[i].name, name) == 0) return &l->fields[i];
    return NULL;
}

static const char *field_label(const struct field_def *f, int lang)
{
    return lang == LANG_EN && f->label_en && *f->label_en ? f->label_en : f->label_vi;
}

static const char *unit_text(const char *u, int lang)
{
    if (!u || !*u) return NULL;
    if (strcmp(u, "m2") == 0) return "m²";
    if (strcmp(u, "VND/m2") == 0) return tr(lang, "đồng/m²", "VND/m²");
    if (strcmp(u, "persons/ha") == 0) return tr(lang, "người/ha", "persons/ha");
    if (strcmp(u, "billion VND") == 0) return tr(lang, "tỷ đồng", "billion VND");
    return u;
}

/* One value of field f (or of a key the catalog does not know) as the sheet shows it. */
static int put_value(struct buf *b, const struct field_def *f, const json_t *v, int lang)
{
    if (json_is_boolean(v))
        return buf_puts(b, json_is_true(v) ? tr(lang, "Có", "Yes") : tr(lang, "Không", "No"));
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (f && f->codelist) return put_codes(b, f->codelist, s, lang);
        if (is_date(s)) return put_date(b, s, lang);
        return buf_put_xml(b, s);
    }
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (f && f->type == FT_BOOLEAN)
            return buf_puts(b, d != 0 ? tr(lang, "Có", "Yes") : tr(lang, "Không", "No"));
        const char *u = f ? unit_text(f->unit, lang) : NULL;
        put_num(b, d, json_is_integer(v) ? 0 : 2, lang);
        if (u) buf_putc(b, ' '), buf_put_xml(b, u);
        return buf_status(b);
    }
    return 0;
}

static int row_start(struct buf *b, const char *label)
{
    return buf_puts(b, "<tr><th>") || buf_put_xml(b, label) || buf_puts(b, "</th><td>");
}

static int row_end(struct buf *b)
{
    return buf_puts(b, "</td></tr>\n");
}

/* The parcel's own attributes: every field the role may read (the API left the others out). */
static int put_attributes(struct buf *b, const struct layer_def *l, const json_t *parcel, int lang)
{
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)parcel, k, v)
    {
        if (rc) break;
        if (json_is_null(v) || json_is_object(v) || json_is_array(v) || strcmp(k, "geometry") == 0)
            continue;
        size_t kl = strlen(k);
        if (kl > 5 && strcmp(k + kl - 5, "_name") == 0 && strcmp(k, "commune_name") != 0 &&
            strcmp(k, "owner_name") != 0)
            continue;
        const struct field_def *f = field_of(l, k);
        const char *label = f ? field_label(f, lang) : NULL;
        if (!f && strcmp(k, "commune_name") == 0) label = tr(lang, "Tên xã/phường", "Commune/ward");
        if (!f && strcmp(k, "geom_area_m2") == 0)
            label = tr(lang, "Diện tích đo trên bản đồ (m²)", "Area measured on the map (m²)");
        if (!label) continue; /* never a raw key */
        rc = row_start(b, label) || put_value(b, f, v, lang) || row_end(b);
    }
    return rc;
}

/* Planning indicators of the first zoning block and detailed-plan lot under the parcel. */
static int put_zoning(struct buf *b, const struct layer_def *l, const json_t *arr, int lang,
                      const char *title, const char *code_key)
{
    const json_t *z = json_array_size(arr) ? json_array_get(arr, 0) : NULL;
    if (!z || !l) return 0;
    static const char *const keys[] = {"max_coverage_pct", "max_far",      "min_floors",
                                       "max_floors",       "max_height_m", "setback_m"};
    const json_t *code = json_object_get(z, code_key);
    const json_t *fn = json_object_get(z, "function_code");
    const struct field_def *ff = field_of(l, "function_code");
    row_start(b, title);
    if (json_is_string(code)) buf_put_xml(b, json_string_value(code));
    if (json_is_string(fn)) {
        buf_puts(b, " — ");
        put_codes(b, ff ? ff->codelist : NULL, json_string_value(fn), lang);
    }
    row_end(b);
    for (size_t i = 0; i < ARRAY_LEN(keys) && !buf_failed(b); i++) {
        const json_t *v = json_object_get(z, keys[i]);
        const struct field_def *f = field_of(l, keys[i]);
        if (!v || json_is_null(v) || !f) continue;
        buf_puts(b, "<tr class=\"sub\"><th>");
        buf_put_xml(b, field_label(f, lang));
        buf_puts(b, "</th><td>");
        put_value(b, f, v, lang);
        row_end(b);
    }
    return buf_status(b);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int put_base64(struct buf *b, const unsigned char *p, size_t n)
{
    if (buf_reserve(b, (n + 2) / 3 * 4 + 1)) return ERR_NOMEM;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {B64[v >> 18 & 63], B64[v >> 12 & 63], i + 1 < n ? B64[v >> 6 & 63] : '=',
                     i + 2 < n ? B64[v & 63] : '='};
        if (buf_append(b, q, 4)) return ERR_NOMEM;
    }
    return 0;
}

/* The QR code of text as SVG squares (error correction M, 4-module quiet zone). */
static int put_qr(struct buf *b, const char *text, const char *label, struct err *err)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) return err_set(err, ERR_INTERNAL, "print: QR code of the share link failed");
    int w = qr->width, n = w + 8;
    int rc =
        buf_printf(b,
                   "<svg class=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                   "shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"",
                   n, n) ||
        buf_put_xml(b, label) ||
        buf_printf(b, "\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                   n, n);
    for (int y = 0; y < w && !rc; y++)
        for (int x = 0; x < w && !rc; x++)
            if (qr->data[y * w + x] & 1) rc = buf_printf(b, "M%d %dh1v1h-1z", x + 4, y + 4);
    QRcode_free(qr);
    return rc || buf_puts(b, "\"/></svg>");
}

/* The map's frame: the storage-CRS box shown and the pixel scale. */
struct frame {
    double minx, miny, maxx, maxy, scale; /* px per m */
};

static int put_ring(struct buf *b, GEOSContextHandle_t h, const GEOSGeometry *ring,
                    const struct frame *fr)
{
    const GEOSCoordSequence *cs = GEOSGeom_getCoordSeq_r(h, ring);
    unsigned n = 0;
    if (!cs || !GEOSCoordSeq_getSize_r(h, cs, &n)) return 0;
    int rc = 0;
    for (unsigned i = 0; i < n && !rc; i++) {
        double x, y;
        GEOSCoordSeq_getXY_r(h, cs, i, &x, &y);
        rc = buf_printf(b, "%c%.1f %.1f", i ? 'L' : 'M', (x - fr->minx) * fr->scale,
                        (fr->maxy - y) * fr->scale);
    }
    return rc || buf_putc(b, 'Z');
}

static int put_polygon_path(struct buf *b, GEOSContextHandle_t h, const GEOSGeometry *g,
                            const struct frame *fr)
{
    int rc = 0, np = GEOSGetNumGeometries_r(h, g);
    for (int i = 0; i < np && !rc; i++) {
        const GEOSGeometry *poly = GEOSGetGeometryN_r(h, g, i);
        if (GEOSGeomTypeId_r(h, poly) != GEOS_POLYGON) continue;
        rc = put_ring(b, h, GEOSGetExteriorRing_r(h, poly), fr);
        int nh = GEOSGetNumInteriorRings_r(h, poly);
        for (int k = 0; k < nh && !rc; k++)
            rc = put_ring(b, h, GEOSGetInteriorRingN_r(h, poly, k), fr);
    }
    return rc;
}

/* What the store says around the parcel: neighbours (drawn), the codes of the zoning blocks and
 * red lines in the frame (for the legend), a point inside the parcel, the newest data batch. */
struct around {
    struct buf svg;   /* <path>/<text> of the parcels */
    char *zoning[32]; /* function codes in the frame */
    int n_zoning;
    char *kinds[16]; /* red-line kinds in the frame */
    int n_kinds;
    double px, py; /* a point inside the parcel, storage CRS */
    int has_point;
    char batch[96], batch_date[40];
    int srid;
};

/* Adds code to the legend's list once (the list holds what a sheet's legend has room for).
 * ERR_NOMEM when the copy fails: a legend must not lose an entry silently. */
static int add_code(char **list, int *n, int cap, const char *code)
{
    if (!code || *n >= cap) return 0;
    for (int i = 0; i < *n; i++)
        if (strcmp(list[i], code) == 0) return 0;
    if (!(list[*n] = strdup(code))) return ERR_NOMEM;
    (*n)++;
    return 0;
}

static void around_fini(struct around *a)
{
    buf_fini(&a->svg);
    for (int i = 0; i < a->n_zoning; i++)
        free(a->zoning[i]);
    for (int i = 0; i < a->n_kinds; i++)
        free(a->kinds[i]);
}

static int read_around(struct request *req, const char *key, const struct frame *fr,
                       struct around *a, struct err *err)
{
    struct qctx q;
    int rc = qctx_init(&q, req, err);
    a->srid = q.srid;
    struct bbox box = {fr->minx, fr->miny, fr->maxx, fr->maxy};
    struct qfetch f = {.bbox = &box, .limit = MAX_DRAWN};
    const struct layer_def *lp = rc ? NULL : q_layer(&q, "cadastral_parcels");
    const struct layer_def *lz = rc ? NULL : q_layer(&q, "zoning_blocks");
    const struct layer_def *lr = rc ? NULL : q_layer(&q, "red_lines");
    struct qset s;
    qset_init(&s);
    if (!rc && lp) rc = q_fetch(&q, lp, &f, &s, err);
    struct buf labels;
    buf_init(&labels);
    /* neighbours first, the sheet's parcel last (on top) */
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (int i = 0; i < s.n && !rc; i++) {
            const struct qrow *r = &s.rows[i];
            const char *k = q_str(&s, r, "parcel_key");
            int self = k && strcmp(k, key) == 0;
            if (self != pass || !r->geom) continue;
            rc = buf_printf(&a->svg, "<path class=\"%s\" d=\"", self ? "parcel" : "neighbour");
            if (!rc) rc = put_polygon_path(&a->svg, q.h, r->geom, fr);
            if (!rc) rc = buf_puts(&a->svg, "\"/>\n");
            GEOSGeometry *pt = GEOSPointOnSurface_r(q.h, r->geom);
            double x, y, no = q_num(&s, r, "parcel_no");
            if (pt && GEOSGeomGetX_r(q.h, pt, &x) == 1 && GEOSGeomGetY_r(q.h, pt, &y) == 1) {
                if (self) a->px = x, a->py = y, a->has_point = 1;
                if (isfinite(no) && x > fr->minx && x < fr->maxx && y > fr->miny && y < fr->maxy)
                    rc = buf_printf(&labels,
                                    "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">%.0f</text>\n",
                                    self ? "no self" : "no", (x - fr->minx) * fr->scale,
                                    (fr->maxy - y) * fr->scale, no);
            }
            if (pt) GEOSGeom_destroy_r(q.h, pt);
        }
    if (!rc) rc = buf_append_buf(&a->svg, &labels); /* a failed labels buffer fails svg */
    buf_fini(&labels);
    qset_fini(&q, &s);
    qset_init(&s);
    if (!rc && lz) rc = q_fetch(&q, lz, &f, &s, err);
    for (int i = 0; i < s.n && !rc; i++)
        rc = add_code(a->zoning, &a->n_zoning, 32, q_str(&s, &s.rows[i], "function_code"));
    qset_fini(&q, &s);
    qset_init(&s);
    if (!rc && lr) rc = q_fetch(&q, lr, &f, &s, err);
    for (int i = 0; i < s.n && !rc; i++)
        rc = add_code(a->kinds, &a->n_kinds, 16, q_str(&s, &s.rows[i], "kind"));
    qset_fini(&q, &s);
    /* the data batch: the newest finished import (none known: the sheet says so) */
    struct err ignore;
    int brc = rc ? 0
                 : store_last_import(q.st, a->batch, sizeof a->batch, a->batch_date,
                                     sizeof a->batch_date, &ignore);
    if (brc == ERR_NOMEM)
        rc = ERR_NOMEM; /* not "no import known" */
    else if (brc)
        a->batch[0] = a->batch_date[0] = '\0';
    qctx_fini(&q);
    return rc;
}

/* The colour of the WMS legend rule named code, or NULL (rules are named after codes). */
static const char *rule_color(const json_t *legend, const char *code)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(legend, "rules"), i, r)
    {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (!name || strcmp(name, code) != 0) continue;
        size_t k;
        json_t *sym;
        json_array_foreach(json_object_get(r, "symbolizers"), k, sym)
        {
            const char *c = json_string_value(json_object_get(sym, "fill"));
            if (!c) c = json_string_value(json_object_get(sym, "stroke"));
            if (c && c[0] == '#' && strlen(c) <= 9 &&
                strspn(c + 1, "0123456789abcdefABCDEF") == strlen(c) - 1)
                return c;
        }
    }
    return NULL;
}

/* The WMS legend of layer as JSON; NULL (and *rc 0) for a layer without one, which gets grey
 * swatches. *rc is ERR_NOMEM when memory ran out: that is not "no legend". */
static json_t *legend_json(struct request *req, const char *layer, int *rc_out, struct err *err)
{
    struct kv args[] = {{"SERVICE", "WMS"},
                        {"VERSION", "1.3.0"},
                        {"REQUEST", "GetLegendGraphic"},
                        {"LAYER", (char *)layer},
                        {"FORMAT", "application/json"}};
    int rc;
    json_t *j = sub_json(req, wms_dispatch, args, (int)ARRAY_LEN(args), err, &rc);
    if (rc == ERR_NOMEM)
        *rc_out = ERR_NOMEM;
    else if (rc)
        err_clear(err); /* a layer without a legend: grey swatches */
    return j;
}

/* The map image from the WMS renderer, as a data URI. */
static int put_map_image(struct buf *b, struct request *req, const struct frame *fr, int srid,
                         struct err *err)
{
    char bbox[160], crs[32], w[16], h[16];
    snprintf(bbox, sizeof bbox, "%.3f,%.3f,%.3f,%.3f", fr->minx, fr->miny, fr->maxx, fr->maxy);
    snprintf(crs, sizeof crs, "EPSG:%d", srid);
    snprintf(w, sizeof w, "%d", MAP_W);
    snprintf(h, sizeof h, "%d", MAP_H);
    /* the background layers the caller may read (a data-sharing key may see only some) */
    static const char *const wanted[] = {"hydro_areas", "zoning_blocks", "red_lines"};
    char layers[96] = "";
    for (size_t i = 0; i < ARRAY_LEN(wanted); i++)
        if (access_layer(catalog_layer(&req->cfg->catalog, wanted[i]), req->role))
            snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%s",
                     layers[0] ? "," : "", wanted[i]);
    if (!layers[0]) return 0; /* nothing to draw under the parcels: the sheet without a map */
    struct kv args[] = {{"SERVICE", "WMS"},      {"VERSION", "1.1.1"},   {"REQUEST", "GetMap"},
                        {"LAYERS", layers},      {"STYLES", ""},         {"SRS", crs},
                        {"BBOX", bbox},          {"WIDTH", w},           {"HEIGHT", h},
                        {"FORMAT", "image/png"}, {"BGCOLOR", "0xFFFFFF"}};
    struct response r;
    int rc = sub_call(req, wms_dispatch, args, (int)ARRAY_LEN(args), &r, err);
    if (!rc && strncmp(r.content_type, "image/png", 9) != 0)
        rc = err_set(err, ERR_INTERNAL, "print: the map is not a PNG");
    if (!rc) {
        buf_puts(b, "<image href=\"data:image/png;base64,");
        put_base64(b, (const unsigned char *)r.body.data, r.body.len);
        buf_printf(b, "\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\"/>\n", MAP_W, MAP_H);
        rc = buf_status(b);
    }
    resp_fini(&r);
    return rc;
}

/* A length for the scale bar: 1, 2 or 5 x 10^n m, about a fifth of the map's width. */
static double nice_length(double metres)
{
    double p = pow(10, floor(log10(metres)));
    double m = metres / p;
    return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * p;
}

static const char CSS[] =
    "@page{size:A4 portrait;margin:10mm}\n"
    "*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    "html,body{margin:0;padding:0}\n"
    "body{font-family:'DejaVu Sans',sans-serif;font-size:8pt;color:#111;background:#fff}\n"
    ".sheet{width:190mm;height:276mm;overflow:hidden;position:relative}\n"
    "header{display:flex;justify-content:space-between;align-items:flex-start;border-bottom:"
    "0.6mm solid #0d47a1;padding-bottom:1.5mm;margin-bottom:2mm}\n"
    "h1{font-size:12.5pt;margin:0 0 1mm;color:#0d47a1}h2{font-size:9pt;margin:2mm 0 1mm;"
    "color:#0d47a1}\n"
    ".meta{text-align:right;font-size:7.5pt;line-height:1.35}\n"
    ".map{width:190mm;height:105mm;border:0.3mm solid #555;display:block}\n"
    ".map .neighbour{fill:none;stroke:#555;stroke-width:1.2}\n"
    ".map .parcel{fill:rgba(255,235,59,.25);stroke:#d50000;stroke-width:5}\n"
    ".map .no{font:bold 15px 'DejaVu Sans',sans-serif;fill:#111;text-anchor:middle;"
    "dominant-baseline:central;paint-order:stroke;stroke:#fff;stroke-width:4px}\n"
    ".map .self{font-size:22px;fill:#b71c1c}\n"
    ".cols{display:flex;gap:4mm;margin-top:2mm}.left{width:62mm;flex:none}.right{flex:1;"
    "min-width:0}\n"
    "table{border-collapse:collapse;width:100%}th{text-align:left;font-weight:normal;color:#444;"
    "width:42%;padding:.35mm 1.5mm .35mm 0;vertical-align:top}td{padding:.35mm 0;"
    "vertical-align:top;overflow-wrap:anywhere}tr+tr>*{border-top:0.15mm solid #ddd}\n"
    "tr.sub th{padding-left:3mm}\n"
    ".legend{list-style:none;margin:0;padding:0}.legend li{display:flex;align-items:center;"
    "gap:1.5mm;margin:.4mm 0}.sw{width:6mm;height:3.2mm;border:0.2mm solid #555;flex:none}\n"
    ".sw.line{height:0;border:0;border-top:0.8mm dashed}.sw.self{border:0.8mm solid #d50000;"
    "background:rgba(255,235,59,.25)}\n"
    ".qr{width:30mm;height:30mm;display:block}.link{font-size:6.5pt;overflow-wrap:anywhere}\n"
    ".note{border-left:1mm solid #ffb300;background:#fff8e1;padding:1mm 2mm;font-size:7pt;"
    "margin-top:2mm}.warn{color:#b71c1c;font-weight:bold}\n"
    ".noprint{position:fixed;right:4mm;top:4mm}@media print{.noprint{display:none}}\n";

/* The share link of the parcel: what the QR code holds. */
static int put_share_link(struct buf *b, const struct request *req, const char *key, int lang)
{
    const char *base = req->cfg && req->cfg->public_url && *req->cfg->public_url
                           ? req->cfg->public_url
                           : req->base_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    int rc = buf_append(b, base, n) || buf_puts(b, "/?parcel=");
    for (const char *p = key; *p && !rc; p++) /* keys are [A-Za-z0-9._-] in practice */
        rc = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-~", *p)
                 ? buf_putc(b, *p)
                 : buf_printf(b, "%%%02X", (unsigned char)*p);
    return rc || (lang == LANG_EN && buf_puts(b, "&lang=en"));
}

int print_parcel(struct request *req, struct response *res, struct err *err)
{
    const char *key = req_param(req, "parcel_key");
    const char *l = req_arg(req, "lang");
    static const char *const known[] = {"lang", NULL};
    int rc = q_check_known(req, known, err);
    if (rc) return rc;
    if (l && !str_ieq(l, "vi") && !str_ieq(l, "en"))
        return err_setl(err, ERR_PARAM, "lang", "lang must be vi or en, not \"%.20s\"", l);
    int lang = l && str_ieq(l, "en") ? LANG_EN : LANG_VI;
    if (!key || !*key || strlen(key) > 120)
        return err_setl(err, ERR_NOT_FOUND, "parcel_key", "no parcel");

    /* the land API's own answer: 404 for an unknown parcel, fields by role */
    json_t *plan = sub_json(req, query_parcel_planning, NULL, 0, err, &rc);
    if (rc) return rc;
    const json_t *parcel = json_object_get(plan, "parcel");
    const json_t *rings = json_object_get(json_object_get(plan, "corners"), "rings");
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    size_t i, k;
    json_t *ring, *c;
    json_array_foreach(rings, i, ring) json_array_foreach(ring, k, c)
    {
        double e = json_number_value(json_object_get(c, "y_e")),
               n = json_number_value(json_object_get(c, "x_n"));
        minx = fmin(minx, e), maxx = fmax(maxx, e), miny = fmin(miny, n), maxy = fmax(maxy, n);
    }
    if (!parcel || !isfinite(minx)) {
        json_decref(plan);
        return err_set(err, ERR_INTERNAL, "print: the parcel has no corners");
    }
    /* the frame: the parcel in the middle third, at least 120 m across, at the map's ratio */
    double cx = (minx + maxx) / 2, cy = (miny + maxy) / 2;
    double span = fmax(fmax((maxx - minx) * 2.6, (maxy - miny) * 2.6 * MAP_W / MAP_H), 120.0);
    struct frame fr = {cx - span / 2, cy - span / 2 * MAP_H / MAP_W, cx + span / 2,
                       cy + span / 2 * MAP_H / MAP_W, MAP_W / span};

    struct around a;
    memset(&a, 0, sizeof a);
    buf_init(&a.svg);
    rc = read_around(req, key, &fr, &a, err);
    json_t *at = NULL;
    if (!rc && a.has_point) {
        char x[32], y[32], crs[24];
        snprintf(x, sizeof x, "%.3f", a.px);
        snprintf(y, sizeof y, "%.3f", a.py);
        snprintf(crs, sizeof crs, "EPSG:%d", a.srid);
        struct kv args[] = {{"x", x}, {"y", y}, {"crs", crs}};
        at = sub_json(req, query_land_at, args, 3, err, &rc);
    }
    json_t *lz = rc ? NULL : legend_json(req, "zoning_blocks", &rc, err);
    json_t *lr = rc ? NULL : legend_json(req, "red_lines", &rc, err);

    const struct catalog *cat = &req->cfg->catalog;
    const struct layer_def *lp = catalog_layer(cat, "cadastral_parcels");
    const struct layer_def *lzb = catalog_layer(cat, "zoning_blocks");
    const struct layer_def *llot = catalog_layer(cat, "detailed_plan_lots");
    const struct layer_def *lpr = catalog_layer(cat, "land_price_segments");
    const struct layer_def *lrl = catalog_layer(cat, "red_lines");
    struct buf *b = &res->body;
    char today[16];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(today, sizeof today, "%Y-%m-%d", &tmv);
    struct buf link;
    buf_init(&link);
    if (!rc) rc = put_share_link(&link, req, key, lang);
    if (rc) goto done;

    /* The page is written straight into the body. struct buf's failure is sticky, so the
     * appends go unchecked and the body is judged once at the end (a failed one is the router's
     * 503, issue 23); the steps that fail otherwise (the map, the QR code) keep their code. */
    const char *title =
        tr(lang, "Phiếu thông tin quy hoạch thửa đất", "Parcel planning information sheet");
    buf_printf(b, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">",
               lang == LANG_EN ? "en" : "vi");
    buf_puts(b, "<title>"), buf_put_xml(b, title), buf_puts(b, " "), buf_put_xml(b, key);
    buf_puts(b, "</title><style>"), buf_puts(b, CSS);
    buf_puts(b, "</style></head><body><div class=\"sheet\">\n<header><div><h1>");
    buf_put_xml(b, title), buf_puts(b, "</h1><div>");
    const json_t *cn = json_object_get(parcel, "commune_name");
    const json_t *sh = json_object_get(parcel, "sheet_no"),
                 *no = json_object_get(parcel, "parcel_no");
    buf_put_xml(b, tr(lang, "Thửa đất số ", "Parcel no. "));
    if (json_is_integer(no)) buf_printf(b, "%lld", (long long)json_integer_value(no));
    buf_put_xml(b, tr(lang, ", tờ bản đồ số ", ", map sheet no. "));
    if (json_is_integer(sh)) buf_printf(b, "%lld", (long long)json_integer_value(sh));
    if (json_is_string(cn)) buf_puts(b, ", "), buf_put_xml(b, json_string_value(cn));
    buf_puts(b, " — "), buf_put_xml(b, tr(lang, "mã thửa ", "parcel key ")), buf_put_xml(b, key);
    buf_puts(b, "</div></div><div class=\"meta\">");
    buf_put_xml(b, tr(lang, "Ngày in: ", "Printed: ")), put_date(b, today, lang);
    buf_puts(b, "<br>"), buf_put_xml(b, tr(lang, "Dữ liệu: đợt ", "Data batch: "));
    buf_put_xml(b, a.batch[0] ? a.batch : "—");
    if (a.batch_date[0]) buf_puts(b, " ("), put_date(b, a.batch_date, lang), buf_putc(b, ')');
    buf_printf(b, "<br>VN-2000 (EPSG:%d)</div></header>\n", a.srid);

    /* the map: WMS image, parcels, north arrow, scale bar */
    double bar = nice_length(span / 5);
    double bar_px = bar * fr.scale;
    long scale_den = lround(span / (MAP_MM_W / 1000.0) / 100.0) * 100;
    buf_printf(b,
               "<svg class=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
               "role=\"img\" aria-label=\"",
               MAP_W, MAP_H);
    buf_put_xml(b, tr(lang, "Bản đồ vị trí thửa đất", "Map of the parcel"));
    buf_puts(b, "\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
    if ((rc = put_map_image(b, req, &fr, a.srid, err))) goto done;
    buf_append_buf(b, &a.svg);
    /* north arrow (grid north: VN-2000 TM-3 differs from true north by under 1 degree) */
    buf_printf(b,
               "<g class=\"north\" transform=\"translate(%d 20)\"><rect x=\"-22\" y=\"-8\" "
               "width=\"44\" height=\"82\" fill=\"#fff\" opacity=\".85\"/><path d=\"M0 0L14 "
               "44L0 34L-14 44Z\" fill=\"#111\"/><text x=\"0\" y=\"66\" "
               "font-family=\"DejaVu Sans\" font-size=\"18\" font-weight=\"bold\" "
               "text-anchor=\"middle\">%s</text></g>\n",
               MAP_W - 36, lang == LANG_EN ? "N" : "B");
    buf_printf(b,
               "<g class=\"scalebar\" transform=\"translate(18 %d)\"><rect x=\"-8\" "
               "y=\"-30\" width=\"%.1f\" height=\"46\" fill=\"#fff\" opacity=\".85\"/>"
               "<rect x=\"0\" y=\"0\" width=\"%.1f\" height=\"8\" fill=\"#111\"/>"
               "<rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"8\" fill=\"#fff\" "
               "stroke=\"#111\"/><text x=\"0\" y=\"-8\" font-family=\"DejaVu Sans\" "
               "font-size=\"16\">0</text><text x=\"%.1f\" y=\"-8\" "
               "font-family=\"DejaVu Sans\" font-size=\"16\" text-anchor=\"end\">",
               MAP_H - 22, bar_px + 110, bar_px / 2, bar_px / 2, bar_px / 2, bar_px);
    put_num(b, bar, 0, lang), buf_puts(b, " m</text><text x=\"");
    buf_printf(b, "%.1f", bar_px + 8);
    buf_puts(b, "\" y=\"9\" font-family=\"DejaVu Sans\" font-size=\"15\">1:");
    put_num(b, (double)scale_den, 0, lang), buf_puts(b, "</text></g></svg>\n");

    /* left: legend of what is drawn, QR code; right: attributes and indicators */
    buf_puts(b, "<div class=\"cols\"><div class=\"left\"><h2>");
    buf_put_xml(b, tr(lang, "Chú giải", "Legend"));
    buf_puts(b, "</h2><ul class=\"legend\"><li data-legend=\"parcel\"><span class=\"sw "
                "self\"></span>");
    buf_put_xml(b, tr(lang, "Thửa đất tra cứu", "The parcel"));
    buf_puts(b, "</li><li data-legend=\"neighbour\"><span class=\"sw\" "
                "style=\"background:#fff\"></span>");
    buf_put_xml(b, tr(lang, "Thửa đất liền kề (số thửa)", "Neighbouring parcels (parcel no.)"));
    buf_puts(b, "</li>");
    const struct field_def *zf = field_of(lzb, "function_code"), *kf = field_of(lrl, "kind");
    for (int z = 0; z < a.n_zoning; z++) {
        const char *col = rule_color(lz, a.zoning[z]);
        buf_printf(b, "<li data-legend=\"zoning\" data-code=\"");
        buf_put_xml(b, a.zoning[z]);
        buf_printf(b, "\"><span class=\"sw\" style=\"background:%s\"></span>", col ? col : "#ccc");
        put_codes(b, zf ? zf->codelist : NULL, a.zoning[z], lang), buf_puts(b, "</li>");
    }
    for (int z = 0; z < a.n_kinds; z++) {
        const char *col = rule_color(lr, a.kinds[z]);
        buf_printf(b, "<li data-legend=\"red_line\" data-code=\"");
        buf_put_xml(b, a.kinds[z]);
        buf_printf(b, "\"><span class=\"sw line\" style=\"color:%s\"></span>", col ? col : "#c00");
        put_codes(b, kf ? kf->codelist : NULL, a.kinds[z], lang), buf_puts(b, "</li>");
    }
    buf_puts(b, "</ul><h2>");
    buf_put_xml(b, tr(lang, "Liên kết thửa đất", "Link to this parcel"));
    buf_puts(b, "</h2>");
    if (buf_failed(&link)) { /* the link's text is incomplete: no QR code of it */
        rc = ERR_NOMEM;
        goto done;
    }
    rc = put_qr(b, link.data,
                tr(lang, "Mã QR liên kết tới thửa đất", "QR code of the link to this parcel"), err);
    if (rc) goto done;
    buf_puts(b, "<div class=\"link\">"), buf_put_xml(b, link.data);
    buf_puts(b, "</div></div><div class=\"right\"><h2>");
    buf_put_xml(b, tr(lang, "Thông tin thửa đất", "Parcel"));
    buf_puts(b, "</h2><table class=\"attrs\">");
    put_attributes(b, lp, parcel, lang);
    buf_puts(b, "</table><h2>");
    buf_put_xml(b, tr(lang, "Chỉ tiêu quy hoạch", "Planning indicators"));
    buf_puts(b, "</h2><table class=\"plan\">");
    put_zoning(b, lzb, json_object_get(plan, "zoning_blocks"), lang,
               tr(lang, "Ô quy hoạch phân khu", "Zoning block"), "block_code");
    put_zoning(b, llot, json_object_get(plan, "detailed_plan_lots"), lang,
               tr(lang, "Lô quy hoạch chi tiết", "Detailed-plan lot"), "lot_code");
    const json_t *rl = json_object_get(plan, "red_lines");
    const json_t *rm2 = json_object_get(rl, "road_reserve_m2");
    if (json_is_number(rm2)) {
        row_start(b, tr(lang, "Diện tích trong lộ giới", "Area inside the road reserve"));
        put_num(b, json_number_value(rm2), 2, lang), buf_puts(b, " m²"), row_end(b);
    }
    /* plans that apply, from land/at */
    json_t *pl;
    json_array_foreach(json_object_get(at, "plans"), i, pl)
    {
        if (i >= 4) break;
        const json_t *nm = json_object_get(pl, "name"), *dn = json_object_get(pl, "decision_no"),
                     *dd = json_object_get(pl, "decision_date"), *sc = json_object_get(pl, "scale");
        row_start(b, tr(lang, "Đồ án quy hoạch", "Plan"));
        if (json_is_string(nm)) buf_put_xml(b, json_string_value(nm));
        if (json_is_number(sc))
            buf_puts(b, " (1:"), put_num(b, json_number_value(sc), 0, lang), buf_putc(b, ')');
        if (json_is_string(dn)) buf_puts(b, "; "), buf_put_xml(b, json_string_value(dn));
        if (json_is_string(dd))
            buf_puts(b, tr(lang, " ngày ", " of ")), put_date(b, json_string_value(dd), lang);
        row_end(b);
    }
    /* the land price of the nearest road, with its table's validity */
    const json_t *lpj = json_object_get(at, "land_price");
    if (json_is_object(lpj)) {
        const json_t *road = json_object_get(lpj, "road_name"),
                     *odt = json_object_get(lpj, "price_odt");
        const json_t *vt = json_object_get(lpj, "valid_to");
        const struct field_def *pf = field_of(lpr, "price_odt");
        row_start(b, pf ? field_label(pf, lang) : tr(lang, "Giá đất ở", "Residential land price"));
        if (json_is_number(odt)) put_value(b, pf, odt, lang);
        if (json_is_string(road)) buf_puts(b, " — "), buf_put_xml(b, json_string_value(road));
        if (json_is_string(vt)) {
            int expired = strncmp(json_string_value(vt), today, 10) < 0;
            buf_puts(b,
                     expired ? "<br><span class=\"warn\" data-price-expired=\"1\">" : "<br><span>");
            buf_put_xml(b, expired
                               ? tr(lang, "Bảng giá đã hết hiệu lực từ ", "Price table expired on ")
                               : tr(lang, "Bảng giá có hiệu lực đến ", "Price table valid until "));
            put_date(b, json_string_value(vt), lang), buf_puts(b, "</span>");
        }
        row_end(b);
    }
    const json_t *note = json_object_get(at, "note");
    const char *note_text =
        json_is_object(note)
            ? json_string_value(json_object_get(note, lang == LANG_EN ? "en" : "vi"))
        : json_is_string(note) ? json_string_value(note)
                               : NULL;
    buf_puts(b, "</table><p class=\"note\">");
    buf_put_xml(b, note_text
                       ? note_text
                       : tr(lang, "Thông tin chỉ có giá trị tham khảo.", "For reference only."));
    buf_puts(b,
             "</p></div></div></div>\n<p class=\"noprint\"><button type=\"button\" id=\"print\">");
    buf_put_xml(b, tr(lang, "In phiếu", "Print"));
    buf_puts(b, "</button></p><script src=\"/web/print.js\"></script></body></html>\n");
    rc = buf_status(b);

done:
    buf_fini(&link);
    json_decref(lz);
    json_decref(lr);
    json_decref(at);
    json_decref(plan);
    around_fini(&a);
    if (rc) return rc;
    resp_set(res, 200, "text/html; charset=utf-8");
    resp_header(res, "Cache-Control", req->key_id ? "private, no-store" : "no-cache");
    return 0;
}
