/* SPDX-License-Identifier: MIT */
/* reserve.c: red lines and the road reserve of a parcel. The road reserve a red line stands for
 * is the band of half its right-of-way width (row_width_m / 2) on each side of the line, with flat
 * ends: red_lines of kind cgdd (chỉ giới đường đỏ) and lo_gioi (lộ giới) are digitised along the
 * road they reserve, as the zoning plan's cross-section labels ("1-1", LG 20 m) describe them.
 * The m2 of a parcel inside the reserve is GEOS area of (union of bands) ∩ parcel in the storage
 * CRS (true m2). Other kinds (building lines, canal and power-line corridors) are listed when they
 * cross the parcel but add nothing to the road reserve. Lines whose half-width exceeds
 * Q_RESERVE_SEARCH_M are not found unless they cross the parcel's box widened by that margin. */
#include "query_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Q_RESERVE_SEARCH_M 100.0 /* widest half right-of-way considered, m */

static int is_reserve_kind(const char *kind)
{
    return kind && (strcmp(kind, "cgdd") == 0 || strcmp(kind, "lo_gioi") == 0);
}

/* The reserve band of one line, or NULL when it has none. */
static GEOSGeometry *reserve_band(struct qctx *q, const struct qset *s, const struct qrow *r)
{
    double row = q_num(s, r, "row_width_m");
    if (!is_reserve_kind(q_str(s, r, "kind")) || !(row > 0)) return NULL;
    GEOSBufferParams *bp = GEOSBufferParams_create_r(q->h);
    if (!bp) return NULL;
    GEOSBufferParams_setEndCapStyle_r(q->h, bp, GEOSBUF_CAP_FLAT);
    GEOSBufferParams_setJoinStyle_r(q->h, bp, GEOSBUF_JOIN_ROUND);
    GEOSBufferParams_setQuadrantSegments_r(q->h, bp, 8);
    GEOSGeometry *band = GEOSBufferWithParams_r(q->h, r->geom, bp, row / 2);
    GEOSBufferParams_destroy_r(q->h, bp);
    return band;
}

/* Writes "red_lines":{"lines":[...],"road_reserve_m2":..,"road_reserve_pct":..,"method":..}. */
int q_put_red_lines(struct qctx *q, struct buf *b, const GEOSGeometry *parcel, struct err *err)
{
    const struct layer_def *l = q_layer(q, "red_lines");
    if (!l) return 0;
    struct bbox pb;
    q_geom_bbox(q, parcel, &pb);
    struct bbox box = {pb.minx - Q_RESERVE_SEARCH_M, pb.miny - Q_RESERVE_SEARCH_M,
                       pb.maxx + Q_RESERVE_SEARCH_M, pb.maxy + Q_RESERVE_SEARCH_M};
    struct qset s;
    qset_init(&s);
    struct qfetch f = {.bbox = &box};
    int rc = q_fetch(q, l, &f, &s, err);
    GEOSGeometry **bands = calloc((size_t)(s.n ? s.n : 1), sizeof *bands);
    int n_bands = 0, first = 1;
    if (!rc && !bands) rc = err_set(err, ERR_NOMEM, "out of memory");
    rc = rc || buf_puts(b, ",\"red_lines\":{\"lines\":[");
    for (int i = 0; i < s.n && !rc; i++) {
        struct qrow *r = &s.rows[i];
        int crosses = GEOSIntersects_r(q->h, r->geom, parcel) == 1;
        GEOSGeometry *band = reserve_band(q, &s, r);
        double in = band ? q_overlap(q, band, parcel) : 0;
        if (band && in > 0) bands[n_bands++] = band;
        else if (band) GEOSGeom_destroy_r(q->h, band);
        if (!crosses && !(in > 0)) continue;
        int pf = 1;
        rc = (!first && buf_putc(b, ',')) || buf_putc(b, '{') || q_put_props(q, b, &s, r, &pf) ||
             buf_printf(b, ",\"crosses_parcel\":%s,\"reserve_m2\":", crosses ? "true" : "false") ||
             q_put_num(b, in > 0 ? in : 0, 2) || buf_putc(b, '}');
        first = 0;
    }
    double total = 0;
    if (!rc && n_bands) {
        GEOSGeometry *coll =
            GEOSGeom_createCollection_r(q->h, GEOS_GEOMETRYCOLLECTION, bands, (unsigned)n_bands);
        GEOSGeometry *u = coll ? GEOSUnaryUnion_r(q->h, coll) : NULL;
        total = u ? q_overlap(q, u, parcel) : -1;
        if (u) GEOSGeom_destroy_r(q->h, u);
        if (coll) GEOSGeom_destroy_r(q->h, coll); /* owns the bands */
        else
            for (int i = 0; i < n_bands; i++) GEOSGeom_destroy_r(q->h, bands[i]);
        n_bands = 0;
    }
    for (int i = 0; i < n_bands; i++) GEOSGeom_destroy_r(q->h, bands[i]);
    double area = q_area(q, parcel);
    rc = rc || buf_puts(b, "],\"road_reserve_m2\":") || q_put_num(b, total < 0 ? NAN : total, 2) ||
         buf_puts(b, ",\"road_reserve_pct\":") ||
         q_put_num(b, area > 0 && total >= 0 ? 100 * total / area : NAN, 3) ||
         buf_puts(b, ",\"method\":\"union of buffers of red lines (kinds cgdd, lo_gioi) by "
                     "row_width_m/2 with flat ends, intersected with the parcel in the storage "
                     "CRS\"}");
    free(bands);
    qset_fini(q, &s);
    return rc;
}
