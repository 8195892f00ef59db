/* SPDX-License-Identifier: MIT */
/* geojson.c: the GeoJSON writer every JSON output reuses (OGC API items, WFS
 * OUTPUTFORMAT=application/json, later the query API): a feature sink that decodes the store's
 * WKB once into a reused struct geom, transforms all its coordinates in one geo_transform call
 * (the official VN-2000 operation) and prints numbers with a fixed-point printer instead of
 * printf, writing straight into the response buffer. Field values follow the catalog types. */
#include "ogcapi.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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
    long long n = llround(scaled);
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
    while (k) *p++ = tmp[--k];
    if (fp) {
        int d = dec;
        while (fp % 10 == 0) fp /= 10, d--;
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
    static const char *const names[] = {"",           "Point",      "LineString",
                                        "Polygon",    "MultiPoint", "MultiLineString",
                                        "MultiPolygon"};
    if (g->type < 1 || g->type > 6 || g->n_parts == 0) return buf_puts(b, "null");
    int rc = buf_printf(b, "{\"type\":\"%s\",\"coordinates\":", names[g->type]);
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
            if (multi && !part->ring) rc = buf_puts(b, i ? "]],[" : "[");
            else if (i) rc = buf_puts(b, "],");
            rc = rc || buf_putc(b, '[') || put_points(b, part, decimals, swap);
        }
        rc = rc || buf_puts(b, multi ? "]]" : "]");
    }
    return rc || buf_puts(b, "]}");
}

int geojson_put_value(struct buf *b, const struct field_def *fd, const struct value *v)
{
    switch (v->type) {
    case VAL_NULL: return buf_puts(b, "null");
    case VAL_INT:
        if (fd && fd->type == FT_BOOLEAN) return buf_puts(b, v->i ? "true" : "false");
        return buf_printf(b, "%lld", (long long)v->i);
    case VAL_REAL:
        if (!isfinite(v->d)) return buf_puts(b, "null");
        return buf_printf(b, "%.15g", v->d);
    case VAL_TEXT: return buf_put_json_str(b, v->s);
    default: return buf_puts(b, "null");
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
}

/* The feature's geometry in the output CRS (NULL-safe: writes null). */
static int put_feature_geom(struct geojson_writer *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    if (!f->wkb || !f->wkb_len) return buf_puts(b, "null");
    int rc = geom_from_wkb(&w->g, f->wkb, f->wkb_len, err);
    if (rc) return rc;
    if (w->src_srid != w->dst_srid && w->g.n_coords &&
        (rc = geo_transform(w->geo, w->src_srid, w->dst_srid, w->g.coords, w->g.n_coords / 2,
                            err)))
        return rc;
    return geojson_put_geometry(b, &w->g, w->decimals, w->swap_xy) ? ERR_NOMEM : 0;
}

int geojson_write_feature(struct geojson_writer *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    const struct layer_def *l = f->layer;
    int rc = buf_puts(b, w->n_written ? ",{\"type\":\"Feature\",\"id\":" : "{\"type\":\"Feature\",\"id\":");
    if (w->id_with_layer) rc = rc || buf_printf(b, "\"%s.%lld\"", l->id, (long long)f->fid);
    else rc = rc || buf_printf(b, "%lld", (long long)f->fid);
    rc = rc || buf_puts(b, ",\"geometry\":");
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if (w->no_geometry) rc = buf_puts(b, "null");
    else if ((rc = put_feature_geom(w, f, err))) return rc;
    rc = buf_puts(b, ",\"properties\":{");
    for (int i = 0; i < f->n_fields && !rc; i++) {
        const struct field_def *fd = &l->fields[f->fields[i]];
        rc = buf_printf(b, i ? ",\"%s\":" : "\"%s\":", fd->name) ||
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
