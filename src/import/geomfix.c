/* SPDX-License-Identifier: MIT */
/* geomfix.c: one source geometry into the layer's geometry: rings closed (OGR hands shapefile
 * rings back unclosed and GEOS refuses them, DOMAIN.md 2.6), closed CAD polylines turned into
 * polygons, X/Y swapped for survey tables, reprojected with geo_transform (EPSG:6960 for every
 * VN-2000 CRS), validated with GEOS and, only when invalid, repaired with GEOSMakeValidWithParams
 * (STRUCTURE, collapsed parts dropped: keeps a hole touching the shell and both lobes of a bowtie),
 * promoted to the layer's multi type. Consecutive duplicate vertices are dropped first (counted).
 * Valid geometries skip the GEOS rewrite (the fast path). */
#define GEOS_USE_ONLY_R_API
#include "import_int.h"

#include <geos_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct geomfix {
    struct geo_ctx *geo;
    GEOSContextHandle_t h;
    GEOSWKBReader *rd;
    GEOSWKBWriter *wr;
    GEOSMakeValidParams *mvp;
    struct geom g;
    struct buf tmp;
    int64_t dups; /* consecutive duplicate vertices removed */
};

struct geomfix *geomfix_new(struct geo_ctx *geo)
{
    struct geomfix *gf = calloc(1, sizeof *gf);
    if (!gf) return NULL;
    gf->geo = geo;
    gf->h = geo_geos(geo);
    gf->rd = GEOSWKBReader_create_r(gf->h);
    gf->wr = GEOSWKBWriter_create_r(gf->h);
    GEOSWKBWriter_setOutputDimension_r(gf->h, gf->wr, 2);
    GEOSWKBWriter_setByteOrder_r(gf->h, gf->wr, GEOS_WKB_NDR);
    gf->mvp = GEOSMakeValidParams_create_r(gf->h);
    GEOSMakeValidParams_setMethod_r(gf->h, gf->mvp, GEOS_MAKE_VALID_STRUCTURE);
    GEOSMakeValidParams_setKeepCollapsed_r(gf->h, gf->mvp, 0);
    geom_init(&gf->g);
    buf_init(&gf->tmp);
    return gf;
}

void geomfix_free(struct geomfix *gf)
{
    if (!gf) return;
    GEOSWKBReader_destroy_r(gf->h, gf->rd);
    GEOSWKBWriter_destroy_r(gf->h, gf->wr);
    GEOSMakeValidParams_destroy_r(gf->h, gf->mvp);
    geom_fini(&gf->g);
    buf_fini(&gf->tmp);
    free(gf);
}

static int put_u32(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return buf_append(b, x, 4);
}

int64_t geomfix_dups_removed(const struct geomfix *gf)
{
    return gf->dups;
}

/* Removes consecutive duplicate vertices (CAD snapping, digitising double clicks, coordinate
 * tables listing a corner twice) from every line and ring, in place: a vertex equal to the one
 * before it adds nothing and makes an otherwise valid ring a GEOS repair case. */
static void drop_dup_vertices(struct geomfix *gf)
{
    for (int i = 0; i < gf->g.n_parts; i++) {
        struct geom_part *p = &gf->g.parts[i];
        int k = 0;
        for (int j = 0; j < p->n; j++) {
            if (k && p->xy[2 * j] == p->xy[2 * k - 2] && p->xy[2 * j + 1] == p->xy[2 * k - 1])
                continue;
            p->xy[2 * k] = p->xy[2 * j], p->xy[2 * k + 1] = p->xy[2 * j + 1];
            k++;
        }
        gf->dups += p->n - k;
        p->n = k;
    }
}

static int closed(const struct geom_part *p)
{
    return p->n >= 2 && p->xy[0] == p->xy[2 * p->n - 2] && p->xy[1] == p->xy[2 * p->n - 1];
}

/* Rewrites the rings of g (or its lines, as rings) as a closed MULTIPOLYGON WKB, dropping rings of
 * fewer than 3 distinct points (and the holes of a dropped shell). Notes what it did. */
static int rebuild_polygons(const struct geom *g, int lines_as_rings, struct buf *out,
                            int *n_closed, int *n_dropped)
{
    *n_closed = *n_dropped = 0;
    struct buf body;
    buf_init(&body);
    int n_polys = 0, rc = 0;
    for (int i = 0; i < g->n_parts && !rc;) {
        int j = i + 1;
        if (!lines_as_rings)
            while (j < g->n_parts && g->parts[j].ring)
                j++;
        int keep[256], n_keep = 0;
        for (int k = i; k < j && n_keep < 256; k++) {
            const struct geom_part *p = &g->parts[k];
            int pts = p->n - (closed(p) ? 1 : 0);
            if (pts >= 3)
                keep[n_keep++] = k;
            else if (k == i)
                break; /* shell too small: drop the polygon */
            else
                (*n_dropped)++;
        }
        if (n_keep == 0 || keep[0] != i) {
            (*n_dropped)++;
            i = j;
            continue;
        }
        rc |= buf_putc(&body, 1) | put_u32(&body, 3) | put_u32(&body, (uint32_t)n_keep);
        for (int k = 0; k < n_keep; k++) {
            const struct geom_part *p = &g->parts[keep[k]];
            int c = closed(p);
            if (!c) (*n_closed)++;
            rc |= put_u32(&body, (uint32_t)(p->n + (c ? 0 : 1)));
            rc |= buf_append(&body, p->xy, (size_t)p->n * 2 * sizeof(double));
            if (!c) rc |= buf_append(&body, p->xy, 2 * sizeof(double));
        }
        n_polys++;
        i = j;
    }
    rc |= buf_putc(out, 1) | put_u32(out, 6) | put_u32(out, (uint32_t)n_polys);
    rc |= buf_append(out, body.data ? body.data : "", body.len);
    buf_fini(&body);
    return rc ? ERR_NOMEM : 0;
}

/* Collects the parts of dimension dim (0, 1, 2) of g, recursively; clones appended to arr. */
static void collect(GEOSContextHandle_t h, const GEOSGeometry *g, int dim, GEOSGeometry ***arr,
                    int *n, int *cap)
{
    int t = GEOSGeomTypeId_r(h, g);
    if (t == GEOS_MULTIPOINT || t == GEOS_MULTILINESTRING || t == GEOS_MULTIPOLYGON ||
        t == GEOS_GEOMETRYCOLLECTION) {
        for (int i = 0; i < GEOSGetNumGeometries_r(h, g); i++)
            collect(h, GEOSGetGeometryN_r(h, g, i), dim, arr, n, cap);
        return;
    }
    int d = t == GEOS_POINT ? 0 : (t == GEOS_LINESTRING || t == GEOS_LINEARRING) ? 1 : 2;
    if (d != dim || GEOSisEmpty_r(h, g)) return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        GEOSGeometry **a = realloc(*arr, (size_t)*cap * sizeof *a);
        if (!a) return;
        *arr = a;
    }
    GEOSGeometry *c = GEOSGeom_clone_r(h, g);
    if (t == GEOS_LINEARRING && c) {
        GEOSGeometry *ls =
            GEOSGeom_createLineString_r(h, GEOSCoordSeq_clone_r(h, GEOSGeom_getCoordSeq_r(h, g)));
        GEOSGeom_destroy_r(h, c);
        c = ls;
    }
    if (c) (*arr)[(*n)++] = c;
}

/* Invalid geometry: make it valid and keep the parts of the layer's dimension. */
static GEOSGeometry *repair(struct geomfix *gf, const GEOSGeometry *g, int dim, int multi)
{
    GEOSGeometry *v = GEOSMakeValidWithParams_r(gf->h, g, gf->mvp);
    if (!v) return NULL;
    GEOSGeometry **parts = NULL;
    int n = 0, cap = 0;
    collect(gf->h, v, dim, &parts, &n, &cap);
    GEOSGeom_destroy_r(gf->h, v);
    if (!n) {
        free(parts);
        return NULL;
    }
    GEOSGeometry *out;
    if (!multi) {
        int best = 0; /* a single-polygon layer keeps the largest part */
        double best_a = -1;
        for (int i = 0; i < n; i++) {
            double a = 0;
            GEOSArea_r(gf->h, parts[i], &a);
            if (a > best_a) best_a = a, best = i;
        }
        out = parts[best];
        for (int i = 0; i < n; i++)
            if (i != best) GEOSGeom_destroy_r(gf->h, parts[i]);
    } else {
        int type = dim == 2 ? GEOS_MULTIPOLYGON : dim == 1 ? GEOS_MULTILINESTRING : GEOS_MULTIPOINT;
        out = GEOSGeom_createCollection_r(gf->h, type, parts, (unsigned)n);
    }
    free(parts);
    return out;
}

static int transform(struct geomfix *gf, int swap, int src, int dst, char *why, size_t wn)
{
    struct err e;
    err_clear(&e);
    for (int i = 0; i < gf->g.n_parts; i++) {
        double *xy = gf->g.parts[i].xy;
        int n = gf->g.parts[i].n;
        if (swap)
            for (int k = 0; k < n; k++) {
                double t = xy[2 * k];
                xy[2 * k] = xy[2 * k + 1], xy[2 * k + 1] = t;
            }
        for (int k = 0; k < 2 * n; k++)
            if (!isfinite(xy[k])) {
                snprintf(why, wn, "coordinates are not finite numbers");
                return 1;
            }
        if (src != dst && geo_transform(gf->geo, src, dst, xy, (size_t)n, &e)) {
            snprintf(why, wn, "cannot transform the coordinates: %s", e.msg);
            return 1;
        }
    }
    return 0;
}

/* Polygon layers: rings closed, closed lines made rings, degenerate rings dropped. */
static int close_polygons(struct geomfix *gf, int from_lines, char *repaired, size_t rn, char *why,
                          size_t wn)
{
    int need = from_lines, n_closed = 0, n_dropped = 0;
    for (int i = 0; i < gf->g.n_parts && !need; i++)
        need = !closed(&gf->g.parts[i]) || gf->g.parts[i].n < 4;
    if (!need) return 0;
    struct err e;
    err_clear(&e);
    buf_reset(&gf->tmp);
    if (rebuild_polygons(&gf->g, from_lines, &gf->tmp, &n_closed, &n_dropped)) return -ERR_NOMEM;
    if (geom_from_wkb(&gf->g, (const unsigned char *)gf->tmp.data, gf->tmp.len, &e))
        return snprintf(why, wn, "unreadable geometry"), 1;
    if (gf->g.n_parts == 0) return snprintf(why, wn, "degenerate geometry: no ring of 3 points"), 1;
    snprintf(repaired, rn, "%s%s%s", from_lines ? "closed polyline made a polygon; " : "",
             n_closed ? "unclosed ring closed; " : "",
             n_dropped ? "degenerate ring dropped; " : "");
    return 0;
}

/* Fast path of validate(): 1 when g is certainly valid, with its area or length in *measure, 0
 * when GEOS must decide. Certain: a polygon of one ring of at most 64 points, closed, without
 * zero-length or doubling-back edges, whose non-adjacent edges are clear of each other by more
 * than rounding (any near-touch is left to GEOS), with an area; or a line of two distinct points
 * or more. Most features of a cadastre are such rings, and GEOS's isValid builds a topology
 * graph for each: a fifth of an import. */
#define FAST_MAX_POINTS 64

static double cross3(const double *o, const double *a, const double *b, double *scale)
{
    double ax = a[0] - o[0], ay = a[1] - o[1], bx = b[0] - o[0], by = b[1] - o[1];
    *scale = (fabs(ax) + fabs(ay)) * (fabs(bx) + fabs(by));
    return ax * by - ay * bx;
}

/* 1: the closed segments a-b and c-d are certainly disjoint. */
static int clear_of(const double *a, const double *b, const double *c, const double *d)
{
    if (fmax(a[0], b[0]) < fmin(c[0], d[0]) || fmax(c[0], d[0]) < fmin(a[0], b[0]) ||
        fmax(a[1], b[1]) < fmin(c[1], d[1]) || fmax(c[1], d[1]) < fmin(a[1], b[1]))
        return 1;
    double s1, s2, s3, s4;
    double d1 = cross3(a, b, c, &s1), d2 = cross3(a, b, d, &s2);
    double d3 = cross3(c, d, a, &s3), d4 = cross3(c, d, b, &s4);
    const double eps = 1e-9;
    if (fabs(d1) <= eps * s1 || fabs(d2) <= eps * s2 || fabs(d3) <= eps * s3 ||
        fabs(d4) <= eps * s4)
        return 0; /* touching or nearly: GEOS decides */
    return (d1 > 0) == (d2 > 0) || (d3 > 0) == (d4 > 0);
}

static int simple_valid(const struct geom *g, int want_base, double *measure)
{
    if (want_base == 2) {
        double len = 0;
        for (int i = 0; i < g->n_parts; i++) {
            const struct geom_part *p = &g->parts[i];
            double pl = 0;
            for (int k = 0; k + 1 < p->n; k++)
                pl += hypot(p->xy[2 * k + 2] - p->xy[2 * k], p->xy[2 * k + 3] - p->xy[2 * k + 1]);
            if (!(pl > 0)) return 0;
            len += pl;
        }
        *measure = len;
        return 1;
    }
    if (want_base != 3 || g->n_parts != 1 || g->parts[0].ring) return 0;
    const struct geom_part *r = &g->parts[0];
    int n = r->n, m = n - 1; /* m edges */
    const double *xy = r->xy;
    if (n < 4 || n > FAST_MAX_POINTS || xy[0] != xy[2 * m] || xy[1] != xy[2 * m + 1]) return 0;
    for (int i = 0; i < m; i++) {
        const double *a = &xy[2 * i], *b = a + 2, *c = &xy[2 * ((i + 1) % m)] + 2;
        if (a[0] == b[0] && a[1] == b[1]) return 0;
        /* the next edge must not double back along this one */
        double sc, x = cross3(b, a, c, &sc);
        double dot = (a[0] - b[0]) * (c[0] - b[0]) + (a[1] - b[1]) * (c[1] - b[1]);
        if (fabs(x) <= 1e-9 * sc && dot > 0) return 0;
    }
    for (int i = 0; i < m; i++)
        for (int j = i + 2; j < m; j++) {
            if (i == 0 && j == m - 1) continue; /* adjacent through the closing point */
            if (!clear_of(&xy[2 * i], &xy[2 * i + 2], &xy[2 * j], &xy[2 * j + 2])) return 0;
        }
    double area = 0; /* shoelace, relative to the first point */
    for (int i = 1; i + 1 < m; i++)
        area += (xy[2 * i] - xy[0]) * (xy[2 * i + 3] - xy[1]) -
                (xy[2 * i + 2] - xy[0]) * (xy[2 * i + 1] - xy[1]);
    area = fabs(area) / 2;
    if (!(area > 0)) return 0;
    *measure = area;
    return 1;
}

/* GEOS validity; an invalid geometry (or several parts for a single-part layer) is made valid
 * and written again. Fills the area or length. */
static int validate(struct geomfix *gf, int want_base, int multi, struct buf *out, double *measure,
                    struct bbox *box, char *repaired, size_t rn, char *why, size_t wn)
{
    if ((multi || gf->g.type <= 3) && simple_valid(&gf->g, want_base, measure)) return 0;
    GEOSGeometry *g =
        GEOSWKBReader_read_r(gf->h, gf->rd, (const unsigned char *)out->data, out->len);
    if (!g) return snprintf(why, wn, "geometry GEOS cannot read"), 1;
    int multi_left = !multi && gf->g.type > 3;
    if (GEOSisValid_r(gf->h, g) != 1 || multi_left) {
        char *reason = GEOSisValidReason_r(gf->h, g);
        GEOSGeometry *v = repair(gf, g, want_base == 3 ? 2 : 1, multi);
        GEOSGeom_destroy_r(gf->h, g);
        if (!v) {
            snprintf(why, wn,
                     "degenerate geometry (%s): nothing of its dimension is left after make-valid",
                     reason ? reason : "invalid");
            GEOSFree_r(gf->h, reason);
            return 1;
        }
        size_t rl = strlen(repaired);
        snprintf(repaired + rl, rn - rl, "made valid (%s)",
                 multi_left ? "several parts, largest kept"
                 : reason   ? reason
                            : "invalid");
        GEOSFree_r(gf->h, reason);
        g = v;
        size_t n = 0;
        unsigned char *w = GEOSWKBWriter_write_r(gf->h, gf->wr, g, &n);
        buf_reset(out);
        int rc = w ? buf_append(out, w, n) : ERR_NOMEM;
        GEOSFree_r(gf->h, w);
        double x0, y0, x1, y1;
        if (!rc && GEOSGeom_getXMin_r(gf->h, g, &x0) && GEOSGeom_getYMin_r(gf->h, g, &y0) &&
            GEOSGeom_getXMax_r(gf->h, g, &x1) && GEOSGeom_getYMax_r(gf->h, g, &y1))
            *box = (struct bbox){x0, y0, x1, y1};
        if (rc) {
            GEOSGeom_destroy_r(gf->h, g);
            return -ERR_NOMEM;
        }
    }
    if (want_base == 3)
        GEOSArea_r(gf->h, g, measure);
    else
        GEOSLength_r(gf->h, g, measure);
    GEOSGeom_destroy_r(gf->h, g);
    if (*measure <= 0)
        return snprintf(why, wn, "degenerate geometry: zero %s",
                        want_base == 3 ? "area" : "length"),
               1;
    return 0;
}

int geomfix_run(struct geomfix *gf, const unsigned char *wkb, size_t len, int swap, int src,
                int dst, enum geom_type want, struct buf *out, double *measure, struct bbox *box,
                char *repaired, size_t rn, char *why, size_t wn)
{
    repaired[0] = why[0] = 0;
    *measure = 0;
    struct err e;
    err_clear(&e);
    if (!wkb) return snprintf(why, wn, "no geometry"), 1;
    if (geom_from_wkb(&gf->g, wkb, len, &e)) return snprintf(why, wn, "unreadable geometry"), 1;
    int want_base = want > 3 ? want - 3 : want, multi = want > 3;
    int base = gf->g.type > 3 ? gf->g.type - 3 : gf->g.type;
    if (gf->g.n_parts == 0) return snprintf(why, wn, "empty geometry"), 1;
    if (base != 1) drop_dup_vertices(gf);
    if ((want_base == 3 && base != 3 && base != 2) || (want_base != 3 && base != want_base))
        return snprintf(why, wn, "a %s where the layer has %s", geom_type_name(gf->g.type),
                        geom_type_name(want)),
               1;
    int rc = want_base == 3 ? close_polygons(gf, base == 2, repaired, rn, why, wn) : 0;
    if (rc) return rc;
    if (want_base == 2)
        for (int i = 0; i < gf->g.n_parts; i++)
            if (gf->g.parts[i].n < 2) return snprintf(why, wn, "degenerate line of one point"), 1;
    if (transform(gf, swap, src, dst, why, wn)) return 1;
    if (multi && gf->g.type < 4) gf->g.type += 3;
    if (!multi && gf->g.type > 3) {
        int items = want_base == 3 ? gf->g.n_polys : gf->g.n_parts;
        if (items == 1)
            gf->g.type -= 3;
        else if (want_base == 1)
            return snprintf(why, wn, "%d points where the layer has one", items), 1;
    }
    geom_bbox(&gf->g, box);
    buf_reset(out);
    if (geom_to_wkb(&gf->g, out)) return -ERR_NOMEM;
    if (want_base == 1) return 0;
    return validate(gf, want_base, multi, out, measure, box, repaired, rn, why, wn);
}
