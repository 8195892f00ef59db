/* SPDX-License-Identifier: MIT */
/* gml.c: GML 3.2 (WFS 2.0) and GML 3.1.1 (WFS 1.1) feature and geometry writers, a feature sink
 * like the GeoJSON one: WKB decoded once into a reused geometry, all coordinates transformed in
 * one call, axis order chosen by the caller (lat/lon for EPSG:4326 in WFS 2.0), numbers printed
 * without printf. Also the CSV writer (RFC 4180, geometry as WKT). */
#include "ogc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../ogcapi/ogcapi.h"

/* Appends the strings up to a NULL: the writers avoid printf, which dominated their profile. */
static int cat(struct buf *b, ...)
{
    va_list ap;
    va_start(ap, b);
    int rc = 0;
    for (const char *s = va_arg(ap, const char *); s && !rc; s = va_arg(ap, const char *))
        rc = buf_puts(b, s);
    va_end(ap);
    return rc;
}

static int put_i64(struct buf *b, int64_t i)
{
    struct value v = {.type = VAL_INT, .i = i};
    return geojson_put_value(b, NULL, &v);
}

void gml_writer_init(struct gml_writer *w, struct buf *out, struct geo_ctx *geo, int src_srid,
                     int dst_srid, int geographic)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->geo = geo;
    w->src_srid = src_srid;
    w->dst_srid = dst_srid;
    w->decimals = geographic ? 8 : 3;
    w->v32 = 1;
    geom_init(&w->g);
}

void gml_writer_fini(struct gml_writer *w)
{
    geom_fini(&w->g);
    geojson_cache_free(w->cache);
    w->cache = NULL;
}

static int put_poslist(struct buf *b, const struct geom_part *p, int dec, int swap, int single)
{
    int rc = buf_puts(b, single ? "<gml:pos>" : "<gml:posList srsDimension=\"2\">");
    for (int i = 0; i < p->n && !rc; i++) {
        if (i) rc = buf_putc(b, ' ');
        rc = rc || geojson_put_number(b, p->xy[2 * i + swap], dec) || buf_putc(b, ' ') ||
             geojson_put_number(b, p->xy[2 * i + 1 - swap], dec);
    }
    return rc || buf_puts(b, single ? "</gml:pos>" : "</gml:posList>");
}

/* opening tag with gml:id (GML 3.2 requires one on every geometry) and srsName on the top one */
static int open_geom(struct buf *b, const char *tag, const char *id, int k, const char *srs,
                     int v32)
{
    int rc = cat(b, "<gml:", tag, NULL);
    if (v32 && id)
        rc = rc || cat(b, " gml:id=\"", id, ".", NULL) || put_i64(b, k) || buf_putc(b, '"');
    if (srs) rc = rc || cat(b, " srsName=\"", srs, "\"", NULL);
    return rc || buf_putc(b, '>');
}

static int put_polygon(struct buf *b, const struct geom *g, int *i, const struct gml_writer *w,
                       const char *id, int k, const char *srs)
{
    int rc = open_geom(b, "Polygon", id, k, srs, w->v32);
    int first = 1;
    while (*i < g->n_parts && !rc && (first || g->parts[*i].ring)) {
        const char *el = first ? "exterior" : "interior";
        rc = cat(b, "<gml:", el, "><gml:LinearRing>", NULL) ||
             put_poslist(b, &g->parts[*i], w->decimals, w->swap_xy, 0) ||
             cat(b, "</gml:LinearRing></gml:", el, ">", NULL);
        first = 0;
        (*i)++;
    }
    return rc || buf_puts(b, "</gml:Polygon>");
}

int gml_put_geometry(struct buf *b, const struct geom *g, const struct gml_writer *w,
                     const char *id)
{
    const char *srs = w->srs_name;
    int rc = 0, dec = w->decimals, swap = w->swap_xy;
    int i = 0, k = 1;
    switch (g->type) {
    case GT_POINT:
        return open_geom(b, "Point", id, 0, srs, w->v32) ||
               put_poslist(b, &g->parts[0], dec, swap, 1) || buf_puts(b, "</gml:Point>");
    case GT_LINESTRING:
        return open_geom(b, "LineString", id, 0, srs, w->v32) ||
               put_poslist(b, &g->parts[0], dec, swap, 0) || buf_puts(b, "</gml:LineString>");
    case GT_POLYGON:
        return put_polygon(b, g, &i, w, id, 0, srs);
    case GT_MULTIPOINT:
        rc = open_geom(b, "MultiPoint", id, 0, srs, w->v32);
        for (i = 0; i < g->n_parts && !rc; i++)
            rc = buf_puts(b, "<gml:pointMember>") || open_geom(b, "Point", id, k++, NULL, w->v32) ||
                 put_poslist(b, &g->parts[i], dec, swap, 1) ||
                 buf_puts(b, "</gml:Point></gml:pointMember>");
        return rc || buf_puts(b, "</gml:MultiPoint>");
    /* GML 3.2 has only MultiCurve/MultiSurface; GML 3.1.1 is written with MultiLineString and
     * MultiPolygon, the types its application schema names (wfs.c gml_prop_type: OWSLib's schema
     * reader knows no MultiCurve) */
    case GT_MULTILINESTRING: {
        const char *multi = w->v32 ? "MultiCurve" : "MultiLineString",
                   *member = w->v32 ? "curveMember" : "lineStringMember";
        rc = open_geom(b, multi, id, 0, srs, w->v32);
        for (i = 0; i < g->n_parts && !rc; i++)
            rc = cat(b, "<gml:", member, ">", NULL) ||
                 open_geom(b, "LineString", id, k++, NULL, w->v32) ||
                 put_poslist(b, &g->parts[i], dec, swap, 0) ||
                 cat(b, "</gml:LineString></gml:", member, ">", NULL);
        return rc || cat(b, "</gml:", multi, ">", NULL);
    }
    case GT_MULTIPOLYGON: {
        const char *multi = w->v32 ? "MultiSurface" : "MultiPolygon",
                   *member = w->v32 ? "surfaceMember" : "polygonMember";
        rc = open_geom(b, multi, id, 0, srs, w->v32);
        while (i < g->n_parts && !rc)
            rc = cat(b, "<gml:", member, ">", NULL) || put_polygon(b, g, &i, w, id, k++, NULL) ||
                 cat(b, "</gml:", member, ">", NULL);
        return rc || cat(b, "</gml:", multi, ">", NULL);
    }
    default:
        return 0;
    }
}

/* The feature's WKB decoded and transformed into w->g. */
int gml_load_geom(struct gml_writer *w, const struct feature *f, struct err *err)
{
    int rc = geom_from_wkb(&w->g, f->wkb, f->wkb_len, err);
    if (rc) return rc;
    if (w->src_srid != w->dst_srid && w->g.n_coords)
        rc = geojson_cached_transform(&w->cache, w->geo, w->src_srid, w->dst_srid, w->g.coords,
                                      w->g.n_coords / 2, err);
    return rc;
}

int gml_put_value(struct buf *b, const struct field_def *fd, const struct value *v)
{
    switch (v->type) {
    case VAL_INT:
        if (fd->type == FT_BOOLEAN) return buf_puts(b, v->i ? "true" : "false");
        return geojson_put_value(b, fd, v);
    case VAL_REAL:
        return geojson_put_value(b, fd, v);
    case VAL_TEXT:
        return buf_put_xml(b, v->s);
    default:
        return 0;
    }
}

int gml_write_feature(struct gml_writer *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    const struct layer_def *l = f->layer;
    char id[96];
    size_t n = strlen(l->id);
    if (n > 60) n = 60;
    memcpy(id, l->id, n);
    id[n++] = '.';
    char digits[24];
    int k = 0;
    unsigned long long u = f->fid < 0 ? 0 : (unsigned long long)f->fid;
    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (k)
        id[n++] = digits[--k];
    id[n] = '\0';
    int rc = w->member ? cat(b, "<", w->member, ">", NULL) : 0;
    rc = rc || cat(b, "<spp:", l->id, " gml:id=\"", id, "\"", w->root_attrs ? w->root_attrs : "",
                   ">", NULL);
    for (int i = 0; i < f->n_fields && !rc; i++) {
        const struct field_def *fd = &l->fields[f->fields[i]];
        if (f->values[i].type == VAL_NULL) continue;
        rc = cat(b, "<spp:", fd->name, ">", NULL) || gml_put_value(b, fd, &f->values[i]) ||
             cat(b, "</spp:", fd->name, ">", NULL);
    }
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if (!w->no_geometry && f->wkb && f->wkb_len) {
        if ((rc = gml_load_geom(w, f, err))) return rc;
        rc = buf_puts(b, "<spp:geom>") || gml_put_geometry(b, &w->g, w, id) ||
             buf_puts(b, "</spp:geom>");
    }
    rc = rc || cat(b, "</spp:", l->id, ">", NULL);
    if (w->member) rc = rc || cat(b, "</", w->member, ">", NULL);
    rc = rc || buf_putc(b, '\n');
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    w->n_written++;
    return 0;
}

static int sink_feature(void *ud, const struct feature *f, struct err *err)
{
    return gml_write_feature(ud, f, err);
}

struct feature_sink gml_sink(struct gml_writer *w)
{
    struct feature_sink s = {NULL, sink_feature, NULL, w};
    return s;
}

/* ---- CSV ---- */

static int csv_text(struct buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) return buf_puts(b, s);
    int rc = buf_putc(b, '"');
    for (; *s && !rc; s++)
        rc = *s == '"' ? buf_puts(b, "\"\"") : buf_putc(b, *s);
    return rc || buf_putc(b, '"');
}

static int wkt_points(struct buf *b, const struct geom_part *p, int dec, int swap)
{
    int rc = buf_putc(b, '(');
    for (int i = 0; i < p->n && !rc; i++)
        rc = (i ? buf_putc(b, ',') : 0) || geojson_put_number(b, p->xy[2 * i + swap], dec) ||
             buf_putc(b, ' ') || geojson_put_number(b, p->xy[2 * i + 1 - swap], dec);
    return rc || buf_putc(b, ')');
}

int csv_put_wkt(struct buf *b, const struct geom *g, int dec, int swap)
{
    static const char *const names[] = {"",           "POINT",           "LINESTRING",  "POLYGON",
                                        "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON"};
    if (g->type < 1 || g->type > 6) return 0;
    int rc = buf_puts(b, names[g->type]);
    int multi = g->type > 3, poly = g->type == GT_POLYGON || g->type == GT_MULTIPOLYGON;
    if (multi || poly) rc = rc || buf_putc(b, '(');
    for (int i = 0; i < g->n_parts && !rc; i++) {
        if (poly && multi && !g->parts[i].ring)
            rc = buf_puts(b, i ? "),(" : "(");
        else if (i)
            rc = buf_putc(b, ',');
        rc = rc || wkt_points(b, &g->parts[i], dec, swap);
    }
    if (poly && multi) rc = rc || buf_putc(b, ')');
    if (multi || poly) rc = rc || buf_putc(b, ')');
    return rc;
}

int csv_header(struct buf *b, const struct layer_def *l, const int *fields, int n_fields)
{
    int rc = buf_puts(b, "id");
    for (int i = 0; i < n_fields && !rc; i++)
        rc = buf_printf(b, ",%s", l->fields[fields[i]].name);
    return rc || buf_puts(b, ",geometry\r\n");
}

int csv_write_feature(struct gml_writer *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    const struct layer_def *l = f->layer;
    int rc = buf_printf(b, "%s.%lld", l->id, (long long)f->fid);
    for (int i = 0; i < f->n_fields && !rc; i++) {
        const struct value *v = &f->values[i];
        rc = buf_putc(b, ',');
        if (v->type == VAL_TEXT)
            rc = rc || csv_text(b, v->s);
        else if (v->type != VAL_NULL)
            rc = rc || gml_put_value(b, &l->fields[f->fields[i]], v);
    }
    rc = rc || buf_putc(b, ',');
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if (!w->no_geometry && f->wkb && f->wkb_len) {
        if ((rc = gml_load_geom(w, f, err))) return rc;
        rc = buf_putc(b, '"') || csv_put_wkt(b, &w->g, w->decimals, w->swap_xy) || buf_putc(b, '"');
    }
    if (rc || buf_puts(b, "\r\n")) return err_set(err, ERR_NOMEM, "out of memory");
    w->n_written++;
    return 0;
}
