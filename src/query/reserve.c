/* SPDX-License-Identifier: MIT */
/* reserve.c: red lines and the road reserve of a parcel. A red line of kind cgdd (chỉ giới đường
 * đỏ) or lo_gioi (lộ giới) names its road and carries the planned right-of-way width
 * (row_width_m). The reserve of that road is the band of row_width_m centred on the road's
 * centreline (roads layer, same name; segments merged, flat ends): it is the land between the
 * pair of red lines a zoning plan draws on both sides of the road. When no centreline of that
 * name is within reach, a lo_gioi line, being drawn on the axis, gives the band itself; a lone
 * cgdd line does not (its side is unknown) and says so (road_found false). The m2 of the parcel
 * inside the reserve is the GEOS area of (union of bands) ∩ parcel in the storage CRS (true m2).
 * Other kinds (building lines, canal and power-line corridors) are listed when they cross the
 * parcel but add nothing to the road reserve. Red lines and roads are looked for within
 * Q_RESERVE_SEARCH_M of the parcel's box. */
#include "query_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Q_RESERVE_SEARCH_M 100.0 /* widest half right-of-way considered, m */
/* An overlap below both tolerances is drawing noise (a red line digitised on the parcel's edge,
 * shared vertices snapped differently): it is not reported as crossing the parcel. */
#define Q_CROSS_MIN_M2    0.5   /* m2 of the parcel in the band */
#define Q_CROSS_MIN_SHARE 0.001 /* share of the parcel's area (0.1 %) */
#define Q_CROSS_MIN_LEN_M 0.5   /* m of a line without a band inside the parcel */

/* Whether in m2 of a parcel of area m2 is a real overlap: at least 0.5 m2 and at least 0.1 %. */
static int real_overlap(double in, double area)
{
    return in >= Q_CROSS_MIN_M2 && (!(area > 0) || in >= Q_CROSS_MIN_SHARE * area);
}

/* Whether a line runs through the parcel's interior for at least Q_CROSS_MIN_LEN_M (a line
 * along the parcel's edge, or touching a corner, does not cross it). */
static int line_crosses(struct qctx *q, const GEOSGeometry *line, const GEOSGeometry *parcel)
{
    if (GEOSIntersects_r(q->h, line, parcel) != 1) return 0;
    GEOSGeometry *i = GEOSIntersection_r(q->h, line, parcel);
    if (!i) return 0;
    GEOSGeometry *edge = GEOSBoundary_r(q->h, parcel);
    GEOSGeometry *inner = edge ? GEOSDifference_r(q->h, i, edge) : NULL;
    double len = 0;
    if (!inner || GEOSLength_r(q->h, inner, &len) != 1) len = 0;
    if (inner) GEOSGeom_destroy_r(q->h, inner);
    if (edge) GEOSGeom_destroy_r(q->h, edge);
    GEOSGeom_destroy_r(q->h, i);
    return len >= Q_CROSS_MIN_LEN_M;
}

static int is_reserve_kind(const char *kind)
{
    return kind && (strcmp(kind, "cgdd") == 0 || strcmp(kind, "lo_gioi") == 0);
}

static GEOSGeometry *flat_buffer(struct qctx *q, const GEOSGeometry *g, double half)
{
    GEOSBufferParams *bp = GEOSBufferParams_create_r(q->h);
    if (!bp) return NULL;
    GEOSBufferParams_setEndCapStyle_r(q->h, bp, GEOSBUF_CAP_FLAT);
    GEOSBufferParams_setJoinStyle_r(q->h, bp, GEOSBUF_JOIN_ROUND);
    GEOSBufferParams_setQuadrantSegments_r(q->h, bp, 8);
    GEOSGeometry *band = GEOSBufferWithParams_r(q->h, g, bp, half);
    GEOSBufferParams_destroy_r(q->h, bp);
    return band;
}

/* The merged centreline of the road called name from roads (NULL when none). */
static GEOSGeometry *centreline(struct qctx *q, const struct qset *roads, const char *name)
{
    GEOSGeometry *parts[64];
    unsigned n = 0;
    for (int i = 0; name && i < roads->n && n < ARRAY_LEN(parts); i++) {
        const char *rn = q_str(roads, &roads->rows[i], "name");
        if (rn && strcmp(rn, name) == 0 && roads->rows[i].geom)
            parts[n++] = GEOSGeom_clone_r(q->h, roads->rows[i].geom);
    }
    if (!n) return NULL;
    GEOSGeometry *coll = GEOSGeom_createCollection_r(q->h, GEOS_GEOMETRYCOLLECTION, parts, n);
    if (!coll) {
        for (unsigned i = 0; i < n; i++)
            GEOSGeom_destroy_r(q->h, parts[i]);
        return NULL;
    }
    GEOSGeometry *u = GEOSUnaryUnion_r(q->h, coll);
    GEOSGeom_destroy_r(q->h, coll);
    GEOSGeometry *merged = u ? GEOSLineMerge_r(q->h, u) : NULL;
    if (u) GEOSGeom_destroy_r(q->h, u);
    return merged;
}

/* The reserve band of one red line, or NULL; *road_found tells whether a centreline was used. */
static GEOSGeometry *reserve_band(struct qctx *q, const struct qset *s, const struct qrow *r,
                                  const struct qset *roads, int *road_found)
{
    double row = q_num(s, r, "row_width_m");
    const char *kind = q_str(s, r, "kind");
    *road_found = 0;
    if (!is_reserve_kind(kind) || !(row > 0)) return NULL;
    GEOSGeometry *axis = centreline(q, roads, q_str(s, r, "road_name"));
    if (axis) {
        *road_found = 1;
        GEOSGeometry *band = flat_buffer(q, axis, row / 2);
        GEOSGeom_destroy_r(q->h, axis);
        return band;
    }
    return strcmp(kind, "lo_gioi") == 0 ? flat_buffer(q, r->geom, row / 2) : NULL;
}

static int put_line(struct qctx *q, struct buf *b, const struct qset *s, const struct qrow *r,
                    int crosses, int reserve_kind, int road_found, double in, int *first)
{
    int pf = 1;
    int rc = *first ? 0 : buf_putc(b, ',');
    *first = 0;
    if (!rc) rc = buf_putc(b, '{');
    if (!rc) rc = q_put_props(q, b, s, r, &pf);
    if (!rc) rc = buf_puts(b, crosses ? ",\"crosses_parcel\":true" : ",\"crosses_parcel\":false");
    if (!rc && reserve_kind)
        rc = buf_puts(b, road_found ? ",\"road_found\":true" : ",\"road_found\":false");
    if (!rc) rc = buf_puts(b, ",\"reserve_m2\":");
    if (!rc) rc = encode_number_exact(b, in > 0 ? in : 0, 2);
    return rc ? rc : buf_putc(b, '}');
}

/* ],"road_reserve_m2":..,"road_reserve_pct":..,"method":..} closing the red lines. */
static int put_reserve(struct buf *b, double total, double area)
{
    int rc = buf_puts(b, "],\"road_reserve_m2\":");
    if (!rc) rc = encode_number_exact(b, total < 0 ? NAN : total, 2);
    if (!rc) rc = buf_puts(b, ",\"road_reserve_pct\":");
    if (!rc) rc = encode_number_exact(b, area > 0 && total >= 0 ? 100 * total / area : NAN, 3);
    return rc ? rc
              : buf_puts(b, ",\"method\":\"band of the red line's row_width_m centred on the "
                            "centreline of its road (roads, same name; a lo_gioi line without "
                            "one: on the line), flat ends, intersected with the parcel in the "
                            "storage CRS\"}");
}

/* Area of the union of bands inside the parcel; -1 on a GEOS failure. Takes the bands. */
static double union_inside(struct qctx *q, GEOSGeometry **bands, int n, const GEOSGeometry *parcel)
{
    if (!n) return 0;
    GEOSGeometry *coll =
        GEOSGeom_createCollection_r(q->h, GEOS_GEOMETRYCOLLECTION, bands, (unsigned)n);
    if (!coll) {
        for (int i = 0; i < n; i++)
            GEOSGeom_destroy_r(q->h, bands[i]);
        return -1;
    }
    GEOSGeometry *u = GEOSUnaryUnion_r(q->h, coll);
    double total = u ? q_overlap(q, u, parcel) : -1;
    if (u) GEOSGeom_destroy_r(q->h, u);
    GEOSGeom_destroy_r(q->h, coll); /* owns the bands */
    return total;
}

/* Writes "red_lines":{"lines":[...],"road_reserve_m2":..,"road_reserve_pct":..,"method":..}. */
int q_put_red_lines(struct qctx *q, struct buf *b, const GEOSGeometry *parcel, struct err *err)
{
    const struct layer_def *l = q_layer(q, "red_lines"), *lr = q_layer(q, "roads");
    if (!l) return 0;
    struct bbox pb;
    q_geom_bbox(q, parcel, &pb);
    struct bbox box = {pb.minx - Q_RESERVE_SEARCH_M, pb.miny - Q_RESERVE_SEARCH_M,
                       pb.maxx + Q_RESERVE_SEARCH_M, pb.maxy + Q_RESERVE_SEARCH_M};
    struct qset s, roads;
    qset_init(&s);
    qset_init(&roads);
    struct qfetch f = {.bbox = &box};
    int rc = q_fetch(q, l, &f, &s, err);
    if (!rc && lr && s.n) rc = q_fetch(q, lr, &f, &roads, err);
    GEOSGeometry **bands = calloc((size_t)(s.n ? s.n : 1), sizeof *bands);
    int n_bands = 0, first = 1;
    if (!rc && !bands) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc && buf_puts(b, ",\"red_lines\":{\"lines\":["))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    double area = q_area(q, parcel);
    for (int i = 0; i < s.n && !rc; i++) {
        struct qrow *r = &s.rows[i];
        int found;
        int reserve_kind = is_reserve_kind(q_str(&s, r, "kind"));
        GEOSGeometry *band = reserve_band(q, &s, r, &roads, &found);
        double in = band ? q_overlap(q, band, parcel) : 0;
        /* every band in the union (the total is tested once more below); a line is listed
         * for its own band only when that overlap is real */
        int real = band && real_overlap(in, area);
        if (band && in > 0)
            bands[n_bands++] = band;
        else if (band)
            GEOSGeom_destroy_r(q->h, band);
        if (!real) in = 0;
        int crosses = line_crosses(q, r->geom, parcel);
        if ((crosses || real) && put_line(q, b, &s, r, crosses, reserve_kind, found, in, &first))
            rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    double total = rc ? 0 : union_inside(q, bands, n_bands, parcel);
    if (rc)
        for (int i = 0; i < n_bands; i++)
            GEOSGeom_destroy_r(q->h, bands[i]);
    if (total > 0 && !real_overlap(total, area)) total = 0;
    if (!rc && put_reserve(b, total, area)) rc = err_set(err, ERR_NOMEM, "out of memory");
    free(bands);
    qset_fini(q, &roads);
    qset_fini(q, &s);
    return rc;
}
