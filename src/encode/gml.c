/* SPDX-License-Identifier: MIT */
/* gml.c: GML writers. GML 3.2 (WFS 2.0) and GML 3.1.1 (WFS 1.1) features, a feature sink like
 * the GeoJSON one: geometries from geom.c, axis order chosen by the caller (lat/lon for
 * EPSG:4326 in WFS 2.0), numbers printed without printf, no printf at all per feature. And the
 * GML 2 geometries of GetFeatureInfo's msGMLOutput (always Multi*, gml:coordinates). The
 * collection elements around the features are the WFS's and WMS's. */
#include "encode_int.h"

#include <string.h>

static int put_poslist(struct buf *b, const struct geom_part *p, int dec, int swap, int single)
{
    int rc = buf_puts(b, single ? "<gml:pos>" : "<gml:posList srsDimension=\"2\">");
    for (int i = 0; i < p->n && !rc; i++) {
        if (i) rc = buf_putc(b, ' ');
        if (!rc) rc = encode_number(b, p->xy[2 * i + swap], dec);
        if (!rc) rc = buf_putc(b, ' ');
        if (!rc) rc = encode_number(b, p->xy[2 * i + 1 - swap], dec);
    }
    return rc ? rc : buf_puts(b, single ? "</gml:pos>" : "</gml:posList>");
}

/* opening tag with gml:id (GML 3.2 requires one on every geometry) and srsName on the top one */
static int open_geom(struct buf *b, const char *tag, const char *id, int k, const char *srs,
                     int v32)
{
    int rc = encode_cat(b, "<gml:", tag, NULL);
    if (!rc && v32 && id) {
        rc = encode_cat(b, " gml:id=\"", id, ".", NULL);
        if (!rc) rc = encode_int(b, k);
        if (!rc) rc = buf_putc(b, '"');
    }
    if (!rc && srs) rc = encode_cat(b, " srsName=\"", srs, "\"", NULL);
    return rc ? rc : buf_putc(b, '>');
}

static int put_polygon(struct buf *b, const struct geom *g, int *i, const struct encode_gml *w,
                       const char *id, int k, const char *srs)
{
    int rc = open_geom(b, "Polygon", id, k, srs, w->v32);
    int first = 1;
    while (*i < g->n_parts && !rc && (first || g->parts[*i].ring)) {
        const char *el = first ? "exterior" : "interior";
        rc = encode_cat(b, "<gml:", el, "><gml:LinearRing>", NULL);
        if (!rc) rc = put_poslist(b, &g->parts[*i], w->geom.decimals, w->geom.swap_xy, 0);
        if (!rc) rc = encode_cat(b, "</gml:LinearRing></gml:", el, ">", NULL);
        first = 0;
        (*i)++;
    }
    return rc ? rc : buf_puts(b, "</gml:Polygon>");
}

/* A single geometry (Point or LineString) or a multi member: open, coordinates, close. */
static int put_simple(struct buf *b, const struct encode_gml *w, const char *tag,
                      const struct geom_part *p, const char *id, int k, const char *srs)
{
    int rc = open_geom(b, tag, id, k, srs, w->v32);
    if (!rc) rc = put_poslist(b, p, w->geom.decimals, w->geom.swap_xy, tag[0] == 'P');
    return rc ? rc : encode_cat(b, "</gml:", tag, ">", NULL);
}

int encode_gml_geometry(struct buf *b, const struct encode_gml *w, const char *id)
{
    const struct geom *g = &w->geom.g;
    const char *srs = w->srs_name, *multi, *member;
    int rc = 0, i = 0, k = 1;
    switch (g->type) {
    case GT_POINT:
        return put_simple(b, w, "Point", &g->parts[0], id, 0, srs);
    case GT_LINESTRING:
        return put_simple(b, w, "LineString", &g->parts[0], id, 0, srs);
    case GT_POLYGON:
        return put_polygon(b, g, &i, w, id, 0, srs);
    case GT_MULTIPOINT:
        rc = open_geom(b, "MultiPoint", id, 0, srs, w->v32);
        for (i = 0; i < g->n_parts && !rc; i++) {
            rc = buf_puts(b, "<gml:pointMember>");
            if (!rc) rc = put_simple(b, w, "Point", &g->parts[i], id, k++, NULL);
            if (!rc) rc = buf_puts(b, "</gml:pointMember>");
        }
        return rc ? rc : buf_puts(b, "</gml:MultiPoint>");
    /* GML 3.2 has only MultiCurve/MultiSurface; GML 3.1.1 is written with MultiLineString and
     * MultiPolygon, the types its application schema names (wfs.c gml_prop_type: OWSLib's schema
     * reader knows no MultiCurve) */
    case GT_MULTILINESTRING:
        multi = w->v32 ? "MultiCurve" : "MultiLineString";
        member = w->v32 ? "curveMember" : "lineStringMember";
        rc = open_geom(b, multi, id, 0, srs, w->v32);
        for (i = 0; i < g->n_parts && !rc; i++) {
            rc = encode_cat(b, "<gml:", member, ">", NULL);
            if (!rc) rc = put_simple(b, w, "LineString", &g->parts[i], id, k++, NULL);
            if (!rc) rc = encode_cat(b, "</gml:", member, ">", NULL);
        }
        return rc ? rc : encode_cat(b, "</gml:", multi, ">", NULL);
    case GT_MULTIPOLYGON:
        multi = w->v32 ? "MultiSurface" : "MultiPolygon";
        member = w->v32 ? "surfaceMember" : "polygonMember";
        rc = open_geom(b, multi, id, 0, srs, w->v32);
        while (i < g->n_parts && !rc) {
            rc = encode_cat(b, "<gml:", member, ">", NULL);
            if (!rc) rc = put_polygon(b, g, &i, w, id, k++, NULL);
            if (!rc) rc = encode_cat(b, "</gml:", member, ">", NULL);
        }
        return rc ? rc : encode_cat(b, "</gml:", multi, ">", NULL);
    default:
        return 0;
    }
}

void encode_gml_init(struct encode_gml *w, struct buf *out, struct geo_ctx *geo, int src_srid,
                     int dst_srid, int geographic)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    encode_geom_init(&w->geom, geo, src_srid, dst_srid, geographic);
    w->v32 = 1;
}

void encode_gml_fini(struct encode_gml *w)
{
    encode_geom_fini(&w->geom);
}

/* "layer.fid" into id (room for 96) without printf. */
static void feature_id(char *id, const struct feature *f)
{
    size_t n = strlen(f->layer->id);
    if (n > 60) n = 60;
    memcpy(id, f->layer->id, n);
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
}

static int put_properties(struct buf *b, const struct feature *f)
{
    int rc = 0;
    for (int i = 0; i < f->n_fields && !rc; i++) {
        const struct field_def *fd = &f->layer->fields[f->fields[i]];
        if (f->values[i].type == VAL_NULL) continue;
        rc = encode_cat(b, "<spp:", fd->name, ">", NULL);
        if (!rc) rc = encode_xml_value(b, fd, &f->values[i]);
        if (!rc) rc = encode_cat(b, "</spp:", fd->name, ">", NULL);
    }
    return rc;
}

int encode_gml_feature(struct encode_gml *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    const struct layer_def *l = f->layer;
    char id[96];
    feature_id(id, f);
    int rc = w->member ? encode_cat(b, "<", w->member, ">", NULL) : 0;
    if (!rc)
        rc = encode_cat(b, "<spp:", l->id, " gml:id=\"", id, "\"",
                        w->root_attrs ? w->root_attrs : "", ">", NULL);
    if (!rc) rc = put_properties(b, f);
    if (rc) return encode_nomem(rc, err);
    if (!w->no_geometry && f->wkb && f->wkb_len) {
        if ((rc = encode_geom_load(&w->geom, f->wkb, f->wkb_len, err))) return rc;
        rc = buf_puts(b, "<spp:geom>");
        if (!rc) rc = encode_gml_geometry(b, w, id);
        if (!rc) rc = buf_puts(b, "</spp:geom>");
    }
    if (!rc) rc = encode_cat(b, "</spp:", l->id, ">", NULL);
    if (!rc && w->member) rc = encode_cat(b, "</", w->member, ">", NULL);
    if (!rc) rc = buf_putc(b, '\n');
    if (rc) return encode_nomem(rc, err);
    w->n_written++;
    return 0;
}

static int sink_feature(void *ud, const struct feature *f, struct err *err)
{
    return encode_gml_feature(ud, f, err);
}

struct feature_sink encode_gml_sink(struct encode_gml *w)
{
    struct feature_sink s = {NULL, sink_feature, NULL, w};
    return s;
}

/* ---- GML 2 (GetFeatureInfo) ---- */

static int gml2_coords(struct buf *b, const struct geom_part *p, int dec)
{
    int rc = buf_puts(b, "<gml:coordinates decimal=\".\" cs=\",\" ts=\" \">");
    for (int k = 0; k < p->n && !rc; k++) {
        if (k) rc = buf_putc(b, ' ');
        if (!rc) rc = encode_number_exact(b, p->xy[2 * k], dec);
        if (!rc) rc = buf_putc(b, ',');
        if (!rc) rc = encode_number_exact(b, p->xy[2 * k + 1], dec);
    }
    return rc ? rc : buf_puts(b, "</gml:coordinates>");
}

/* One part of a GML 2 multi geometry (a ring opens a new polygon member when exterior). */
static int gml2_part(struct buf *b, const struct geom *g, int i, int poly, int line,
                     const char *member, int dec)
{
    const struct geom_part *p = &g->parts[i];
    int rc = 0;
    if (!poly) {
        const char *tag = line ? "LineString" : "Point";
        rc = encode_cat(b, "<gml:", member, "><gml:", tag, ">", NULL);
        if (!rc) rc = gml2_coords(b, p, dec);
        return rc ? rc : encode_cat(b, "</gml:", tag, "></gml:", member, ">", NULL);
    }
    if (!p->ring) {
        if (i) rc = encode_cat(b, "</gml:Polygon></gml:", member, ">", NULL);
        if (!rc) rc = encode_cat(b, "<gml:", member, "><gml:Polygon>", NULL);
    }
    if (!rc)
        rc = buf_puts(b, p->ring ? "<gml:innerBoundaryIs><gml:LinearRing>"
                                 : "<gml:outerBoundaryIs><gml:LinearRing>");
    if (!rc) rc = gml2_coords(b, p, dec);
    return rc ? rc
              : buf_puts(b, p->ring ? "</gml:LinearRing></gml:innerBoundaryIs>"
                                    : "</gml:LinearRing></gml:outerBoundaryIs>");
}

int encode_gml2_geometry(struct buf *b, const struct geom *g, const char *srs, int decimals)
{
    int poly = g->type == GT_POLYGON || g->type == GT_MULTIPOLYGON;
    int line = g->type == GT_LINESTRING || g->type == GT_MULTILINESTRING;
    const char *multi = poly ? "MultiPolygon" : line ? "MultiLineString" : "MultiPoint";
    const char *member = poly ? "polygonMember" : line ? "lineStringMember" : "pointMember";
    int rc = encode_cat(b, "<gml:", multi, " srsName=\"", srs, "\">", NULL);
    for (int i = 0; i < g->n_parts && !rc; i++)
        rc = gml2_part(b, g, i, poly, line, member, decimals);
    if (!rc && poly && g->n_parts) rc = encode_cat(b, "</gml:Polygon></gml:", member, ">", NULL);
    return rc ? rc : encode_cat(b, "</gml:", multi, ">", NULL);
}
