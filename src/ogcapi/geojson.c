/* SPDX-License-Identifier: MIT */
/* geojson.c: the GeoJSON writer every JSON output reuses (OGC API items, WFS
 * OUTPUTFORMAT=application/json, later the query API): a feature sink that decodes the store's
 * WKB once into a reused struct geom, transforms all its coordinates in one geo_transform call
 * (the official VN-2000 operation) and prints numbers with a fixed-point printer instead of
 * printf, writing straight into the response buffer. Field values follow the catalog types. */
#include "ogcapi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Vertex cache: open addressing on the exact input coordinates. Cleared (by generation) when
 * half full, so it stays small enough to be allocated per response. */
#define XY_SLOTS 4096

struct xy_entry {
    double x, y, tx, ty;
    uint32_t gen;
};

struct xy_cache {
    struct xy_entry e[XY_SLOTS];
    uint32_t gen;
    int used;
    int *slot_of; /* per input point */
    double *miss; /* unique missing points, xy */
    int *miss_slot;
    size_t cap;
};

static const double pow10_tab[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Writes v with at most dec decimals (trailing zeros dropped) at p; returns the new end. p must
 * have 40 bytes of room. */
static char *put_fixed(char *p, double v, int dec)
{
    if (dec < 0) dec = 0;
    if (dec > 9) dec = 9;
    double scaled = v * pow10_tab[dec];
    if (!isfinite(v) || fabs(scaled) >= 9e15) {
        int n = isfinite(v) ? snprintf(p, 40, "%.*g", 17, v) : snprintf(p, 40, "null");
        return p + (n > 0 ? n : 0);
    }
    long long n = (long long)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    if (n < 0) {
        *p++ = '-';
        n = -n;
    }
    unsigned long long p10 = (unsigned long long)pow10_tab[dec];
    unsigned long long ip = (unsigned long long)n / p10, fp = (unsigned long long)n % p10;
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (k)
        *p++ = tmp[--k];
    if (fp) {
        int d = dec;
        while (fp % 10 == 0)
            fp /= 10, d--;
        *p++ = '.';
        char *end = p + d;
        for (char *q = end - 1; q >= p; q--) {
            *q = (char)('0' + fp % 10);
            fp /= 10;
        }
        p = end;
    }
    return p;
}

/* Integers without printf. */
static int put_int(struct buf *b, long long v)
{
    if (buf_reserve(b, 24)) return ERR_NOMEM;
    char tmp[24], *p = b->data + b->len;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int k = 0;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *p++ = '-';
    while (k)
        *p++ = tmp[--k];
    b->len = (size_t)(p - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* A real with 15 significant digits (like %.15g) through the fixed-point printer where the
 * magnitude allows, printf otherwise. */
static int put_real(struct buf *b, double v)
{
    double a = fabs(v);
    if (!isfinite(v)) return buf_puts(b, "null");
    if (v != 0 && (a < 1e-3 || a >= 1e15)) return buf_printf(b, "%.15g", v);
    int digits = 1;
    for (double t = 10; t <= a && digits < 16; t *= 10)
        digits++;
    int dec = 15 - digits;
    return geojson_put_number(b, v, dec < 0 ? 0 : dec > 9 ? 9 : dec);
}

int geojson_put_number(struct buf *b, double v, int decimals)
{
    if (buf_reserve(b, 40)) return ERR_NOMEM;
    char *end = put_fixed(b->data + b->len, v, decimals);
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* "x,y" pairs of a part, as [x,y],[x,y] (swap: y first) */
static int put_points(struct buf *b, const struct geom_part *part, int dec, int swap)
{
    if (buf_reserve(b, (size_t)part->n * 84 + 8)) return ERR_NOMEM;
    char *p = b->data + b->len;
    for (int i = 0; i < part->n; i++) {
        if (i) *p++ = ',';
        *p++ = '[';
        p = put_fixed(p, part->xy[2 * i + swap], dec);
        *p++ = ',';
        p = put_fixed(p, part->xy[2 * i + 1 - swap], dec);
        *p++ = ']';
    }
    b->len = (size_t)(p - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int geojson_put_geometry(struct buf *b, const struct geom *g, int decimals, int swap)
{
    static const char *const heads[] = {"",
                                        "{\"type\":\"Point\",\"coordinates\":",
                                        "{\"type\":\"LineString\",\"coordinates\":",
                                        "{\"type\":\"Polygon\",\"coordinates\":",
                                        "{\"type\":\"MultiPoint\",\"coordinates\":",
                                        "{\"type\":\"MultiLineString\",\"coordinates\":",
                                        "{\"type\":\"MultiPolygon\",\"coordinates\":"};
    if (g->type < 1 || g->type > 6 || g->n_parts == 0) return buf_puts(b, "null");
    int rc = buf_puts(b, heads[g->type]);
    int t = g->type;
    if (t == GT_POINT) {
        rc = rc || put_points(b, &g->parts[0], decimals, swap); /* [x,y] */
        return rc || buf_putc(b, '}');
    }
    rc = rc || buf_putc(b, '[');
    if (t == GT_LINESTRING) {
        rc = rc || put_points(b, &g->parts[0], decimals, swap);
    } else if (t == GT_MULTIPOINT) {
        for (int i = 0; i < g->n_parts && !rc; i++)
            rc = (i ? buf_putc(b, ',') : 0) || put_points(b, &g->parts[i], decimals, swap);
    } else if (t == GT_MULTILINESTRING) {
        for (int i = 0; i < g->n_parts && !rc; i++)
            rc = buf_puts(b, i ? ",[" : "[") || put_points(b, &g->parts[i], decimals, swap) ||
                 buf_putc(b, ']');
    } else { /* polygon rings, grouped by exterior rings for MultiPolygon */
        int multi = t == GT_MULTIPOLYGON;
        for (int i = 0; i < g->n_parts && !rc; i++) {
            const struct geom_part *part = &g->parts[i];
            if (multi && !part->ring)
                rc = buf_puts(b, i ? "]],[" : "[");
            else if (i)
                rc = buf_puts(b, "],");
            rc = rc || buf_putc(b, '[') || put_points(b, part, decimals, swap);
        }
        rc = rc || buf_puts(b, multi ? "]]" : "]");
    }
    return rc || buf_puts(b, "]}");
}

int geojson_put_value(struct buf *b, const struct field_def *fd, const struct value *v)
{
    switch (v->type) {
    case VAL_NULL:
        return buf_puts(b, "null");
    case VAL_INT:
        if (fd && fd->type == FT_BOOLEAN) return buf_puts(b, v->i ? "true" : "false");
        return put_int(b, (long long)v->i);
    case VAL_REAL:
        return put_real(b, v->d);
    case VAL_TEXT:
        return buf_put_json_str(b, v->s);
    default:
        return buf_puts(b, "null");
    }
}

void geojson_writer_init(struct geojson_writer *w, struct buf *out, struct geo_ctx *geo,
                         int src_srid, int dst_srid, int geographic)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->geo = geo;
    w->src_srid = src_srid;
    w->dst_srid = dst_srid;
    w->decimals = geographic ? 8 : 3;
    geom_init(&w->g);
}

void geojson_writer_fini(struct geojson_writer *w)
{
    geom_fini(&w->g);
    geojson_cache_free(w->cache);
    w->cache = NULL;
}

static uint32_t xy_hash(double x, double y)
{
    uint64_t a, b;
    memcpy(&a, &x, 8);
    memcpy(&b, &y, 8);
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    return (uint32_t)(h >> 40) & (XY_SLOTS - 1);
}

static int cache_grow(struct xy_cache *c, size_t n)
{
    if (n <= c->cap) return 0;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < n)
        cap *= 2;
    int *so = realloc(c->slot_of, cap * sizeof *so);
    if (so) c->slot_of = so;
    double *m = realloc(c->miss, cap * 2 * sizeof *m);
    if (m) c->miss = m;
    int *ms = realloc(c->miss_slot, cap * sizeof *ms);
    if (ms) c->miss_slot = ms;
    if (!so || !m || !ms) return ERR_NOMEM;
    c->cap = cap;
    return 0;
}

void geojson_cache_free(struct xy_cache *c)
{
    if (!c) return;
    free(c->slot_of);
    free(c->miss);
    free(c->miss_slot);
    free(c);
}

int geojson_transform(struct geojson_writer *w, double *xy, size_t n, struct err *err)
{
    return geojson_cached_transform(&w->cache, w->geo, w->src_srid, w->dst_srid, xy, n, err);
}

int geojson_cached_transform(struct xy_cache **cache, struct geo_ctx *geo, int src, int dst,
                             double *xy, size_t n, struct err *err)
{
    if (src == dst || n == 0) return 0;
    if (n > XY_SLOTS / 4) /* a big geometry: one batch, no cache */
        return geo_transform(geo, src, dst, xy, n, err);
    struct xy_cache *c = *cache;
    if (!c) {
        c = *cache = calloc(1, sizeof *c);
        if (!c) return err_set(err, ERR_NOMEM, "out of memory");
        c->gen = 1;
    }
    if (cache_grow(c, n)) return err_set(err, ERR_NOMEM, "out of memory");
    if (c->used + (int)n > XY_SLOTS / 2) c->gen++, c->used = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        uint32_t h = xy_hash(x, y);
        struct xy_entry *e;
        for (;;) {
            e = &c->e[h];
            if (e->gen != c->gen) { /* empty: reserve it for this point */
                e->x = x, e->y = y, e->gen = c->gen;
                c->miss[2 * k] = x, c->miss[2 * k + 1] = y;
                c->miss_slot[k++] = (int)h;
                c->used++;
                break;
            }
            if (e->x == x && e->y == y) break;
            h = (h + 1) & (XY_SLOTS - 1);
        }
        c->slot_of[i] = (int)h;
    }
    if (k) {
        int rc = geo_transform(geo, src, dst, c->miss, k, err);
        if (rc) {
            c->gen++, c->used = 0; /* reserved entries hold nothing valid */
            return rc;
        }
        for (size_t j = 0; j < k; j++) {
            struct xy_entry *e = &c->e[c->miss_slot[j]];
            e->tx = c->miss[2 * j], e->ty = c->miss[2 * j + 1];
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct xy_entry *e = &c->e[c->slot_of[i]];
        xy[2 * i] = e->tx, xy[2 * i + 1] = e->ty;
    }
    return 0;
}

/* The feature's geometry in the output CRS (NULL-safe: writes null). */
static int put_feature_geom(struct geojson_writer *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    if (!f->wkb || !f->wkb_len) return buf_puts(b, "null");
    int rc = geom_from_wkb(&w->g, f->wkb, f->wkb_len, err);
    if (rc) return rc;
    if (w->src_srid != w->dst_srid && w->g.n_coords &&
        (rc = geojson_transform(w, w->g.coords, w->g.n_coords / 2, err)))
        return rc;
    return geojson_put_geometry(b, &w->g, w->decimals, w->swap_xy) ? ERR_NOMEM : 0;
}

int geojson_write_feature(struct geojson_writer *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    const struct layer_def *l = f->layer;
    int rc = buf_puts(b, w->n_written ? ",{\"type\":\"Feature\",\"id\":"
                                      : "{\"type\":\"Feature\",\"id\":");
    if (w->id_with_layer)
        rc = rc || buf_putc(b, '"') || buf_puts(b, l->id) || buf_putc(b, '.') ||
             put_int(b, (long long)f->fid) || buf_putc(b, '"');
    else
        rc = rc || put_int(b, (long long)f->fid);
    rc = rc || buf_puts(b, ",\"geometry\":");
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if (w->no_geometry)
        rc = buf_puts(b, "null");
    else if ((rc = put_feature_geom(w, f, err)))
        return rc;
    rc = buf_puts(b, ",\"properties\":{");
    for (int i = 0; i < f->n_fields && !rc; i++) {
        const struct field_def *fd = &l->fields[f->fields[i]];
        rc = buf_puts(b, i ? ",\"" : "\"") || buf_puts(b, fd->name) || buf_append(b, "\":", 2) ||
             geojson_put_value(b, fd, &f->values[i]);
    }
    rc = rc || buf_puts(b, "}}");
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    w->n_written++;
    return 0;
}

static int sink_feature(void *ud, const struct feature *f, struct err *err)
{
    return geojson_write_feature(ud, f, err);
}

struct feature_sink geojson_sink(struct geojson_writer *w)
{
    struct feature_sink s = {NULL, sink_feature, NULL, w};
    return s;
}
