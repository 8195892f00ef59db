/* SPDX-License-Identifier: MIT */
/* mvt_geom.c: geometry in tile units -> MVT commands. Clips to the buffered tile, snaps to the
 * integer grid and keeps polygons valid and seamless (issue 6):
 *  - snapping is a pure function of the source coordinate (floor(v + 0.5), GEOS's rounding too),
 *    so a vertex shared by two parcels lands on the same grid point in both;
 *  - only consecutive duplicates and exactly collinear points are dropped (the point set of the
 *    ring does not change), rings whose area falls below 1 unit are dropped;
 *  - the fast path (no holes, strictly convex after snapping, and convex before clipping) is valid
 *    by construction; everything else goes through GEOS: clip by rectangle, then
 *    GEOSGeom_setPrecision_r(1.0), whose result is valid (OverlayNG, GEOS >= 3.9).
 * Boundary intersections are computed from the edge's endpoints in a canonical order so the two
 * parcels sharing an edge get the same point. */
#define GEOS_USE_ONLY_R_API
#include "tiles.h"

#include <geos_c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct dpts {
    double *xy;
    int n, cap;
};

struct ipts {
    int32_t *xy;
    int n, cap;
};

struct ctx {
    GEOSContextHandle_t h;
    double lo, hi;
    struct mvt_geom *out;
    struct dpts a, b;
    struct ipts r, all;
};

static int dgrow(struct dpts *p, int n)
{
    if (n <= p->cap) return 0;
    int cap = p->cap ? p->cap : 64;
    while (cap < n)
        cap *= 2;
    double *x = realloc(p->xy, (size_t)cap * 2 * sizeof *x);
    if (!x) return ERR_NOMEM;
    p->xy = x;
    p->cap = cap;
    return 0;
}

static int igrow(struct ipts *p, int n)
{
    if (n <= p->cap) return 0;
    int cap = p->cap ? p->cap : 64;
    while (cap < n)
        cap *= 2;
    int32_t *x = realloc(p->xy, (size_t)cap * 2 * sizeof *x);
    if (!x) return ERR_NOMEM;
    p->xy = x;
    p->cap = cap;
    return 0;
}

static int dpush(struct dpts *p, double x, double y)
{
    if (dgrow(p, p->n + 1)) return ERR_NOMEM;
    p->xy[2 * p->n] = x;
    p->xy[2 * p->n + 1] = y;
    p->n++;
    return 0;
}

static int32_t snap(double v)
{
    return (int32_t)floor(v + 0.5);
}

/* ---- rings ---- */

/* Copies a ring without its closing point. */
static int ring_open(const double *xy, int n, struct dpts *out)
{
    if (n > 1 && xy[0] == xy[2 * (n - 1)] && xy[1] == xy[2 * (n - 1) + 1]) n--;
    if (dgrow(out, n)) return ERR_NOMEM;
    memcpy(out->xy, xy, (size_t)n * 2 * sizeof *xy);
    out->n = n;
    return 0;
}

/* Crossing of edge p-q with the line coordinate axis == c, from the endpoints in canonical
 * (lexicographic) order so both directions of a shared edge give the same point. */
static void cross_at(const double *p, const double *q, int axis, double c, double *o)
{
    if (p[0] > q[0] || (p[0] == q[0] && p[1] > q[1])) {
        const double *t = p;
        p = q, q = t;
    }
    double t = (c - p[axis]) / (q[axis] - p[axis]);
    o[axis] = c;
    o[1 - axis] = p[1 - axis] + t * (q[1 - axis] - p[1 - axis]);
}

/* One Sutherland-Hodgman pass: keep the side where sign * (v[axis] - c) <= 0. */
static int sh_pass(const struct dpts *in, struct dpts *out, int axis, double c, double sign)
{
    out->n = 0;
    for (int i = 0; i < in->n; i++) {
        const double *p = &in->xy[2 * ((i + in->n - 1) % in->n)], *q = &in->xy[2 * i];
        int pin = sign * (p[axis] - c) <= 0, qin = sign * (q[axis] - c) <= 0;
        double o[2];
        if (pin != qin) {
            cross_at(p, q, axis, c, o);
            if (dpush(out, o[0], o[1])) return ERR_NOMEM;
        }
        if (qin && dpush(out, q[0], q[1])) return ERR_NOMEM;
    }
    return 0;
}

static int clip_ring(struct ctx *c)
{
    int rc = sh_pass(&c->a, &c->b, 0, c->lo, -1) || sh_pass(&c->b, &c->a, 0, c->hi, 1) ||
             sh_pass(&c->a, &c->b, 1, c->lo, -1) || sh_pass(&c->b, &c->a, 1, c->hi, 1);
    return rc ? ERR_NOMEM : 0;
}

static int64_t cross3(const int32_t *a, const int32_t *b, const int32_t *c)
{
    return (int64_t)(b[0] - a[0]) * (c[1] - b[1]) - (int64_t)(b[1] - a[1]) * (c[0] - b[0]);
}

static int64_t dot3(const int32_t *a, const int32_t *b, const int32_t *c)
{
    return (int64_t)(b[0] - a[0]) * (c[0] - b[0]) + (int64_t)(b[1] - a[1]) * (c[1] - b[1]);
}

/* Drops exactly collinear points where the ring goes on in the same direction (the point set is
 * unchanged), and consecutive duplicates. Spikes are kept (the convexity test rejects them). */
static void ring_simplify(struct ipts *r)
{
    int changed = 1;
    while (changed && r->n >= 3) {
        changed = 0;
        int k = 0;
        for (int i = 0; i < r->n; i++) {
            const int32_t *prev = k ? &r->xy[2 * (k - 1)] : &r->xy[2 * (r->n - 1)];
            const int32_t *cur = &r->xy[2 * i], *next = &r->xy[2 * ((i + 1) % r->n)];
            int dup = cur[0] == next[0] && cur[1] == next[1];
            if (dup || (cross3(prev, cur, next) == 0 && dot3(prev, cur, next) > 0)) {
                changed = 1;
                continue;
            }
            r->xy[2 * k] = cur[0], r->xy[2 * k + 1] = cur[1];
            k++;
        }
        r->n = k;
    }
}

static int snap_ring(const struct dpts *d, struct ipts *r)
{
    if (igrow(r, d->n)) return ERR_NOMEM;
    r->n = 0;
    for (int i = 0; i < d->n; i++) {
        int32_t x = snap(d->xy[2 * i]), y = snap(d->xy[2 * i + 1]);
        if (r->n && r->xy[2 * (r->n - 1)] == x && r->xy[2 * (r->n - 1) + 1] == y) continue;
        r->xy[2 * r->n] = x, r->xy[2 * r->n + 1] = y;
        r->n++;
    }
    ring_simplify(r);
    return 0;
}

/* Twice the signed area (positive = clockwise on screen, y down). */
static int64_t ring_area2(const struct ipts *r)
{
    int64_t s = 0;
    for (int i = 0; i < r->n; i++) {
        const int32_t *p = &r->xy[2 * i], *q = &r->xy[2 * ((i + 1) % r->n)];
        s += (int64_t)p[0] * q[1] - (int64_t)q[0] * p[1];
    }
    return s;
}

/* Strictly convex and simple: every turn the same non-zero sign, and the edge directions wind
 * once (the sign of dx changes exactly twice around the ring; a star polygon changes more). */
static int ring_convex(const struct ipts *r)
{
    if (r->n < 3) return 0;
    int sign = 0, flips = 0, last_dx = 0;
    for (int i = 0; i < r->n; i++) {
        const int32_t *a = &r->xy[2 * i], *b = &r->xy[2 * ((i + 1) % r->n)],
                      *c = &r->xy[2 * ((i + 2) % r->n)];
        int64_t cr = cross3(a, b, c);
        int s = cr > 0 ? 1 : cr < 0 ? -1 : 0;
        if (!s || (sign && s != sign)) return 0;
        sign = s;
        int dx = b[0] > a[0] ? 1 : b[0] < a[0] ? -1 : 0;
        if (dx) {
            if (last_dx && dx != last_dx) flips++;
            last_dx = dx;
        }
    }
    /* close the cycle: compare the last non-zero dx with the first one */
    for (int i = 0; i < r->n; i++) {
        int dx = r->xy[2 * ((i + 1) % r->n)] > r->xy[2 * i]   ? 1
                 : r->xy[2 * ((i + 1) % r->n)] < r->xy[2 * i] ? -1
                                                              : 0;
        if (dx) {
            if (dx != last_dx) flips++;
            break;
        }
    }
    return flips == 2;
}

/* Convex within rounding, before snapping (collinear points allowed). */
static int dring_convex(const struct dpts *d)
{
    int sign = 0;
    double turn = 0;
    for (int i = 0; i < d->n; i++) {
        const double *a = &d->xy[2 * i], *b = &d->xy[2 * ((i + 1) % d->n)],
                     *c = &d->xy[2 * ((i + 2) % d->n)];
        double ux = b[0] - a[0], uy = b[1] - a[1], vx = c[0] - b[0], vy = c[1] - b[1];
        double cr = ux * vy - uy * vx, dt = ux * vx + uy * vy;
        if (fabs(cr) <= 1e-12 * (fabs(ux) + fabs(uy)) * (fabs(vx) + fabs(vy))) {
            if (dt < 0) return 0;
            continue;
        }
        int s = cr > 0 ? 1 : -1;
        if (sign && s != sign) return 0;
        sign = s;
        turn += atan2(cr, dt);
    }
    return sign && fabs(fabs(turn) - 2 * M_PI) < 0.5;
}

/* Writes a ring with the requested orientation (exterior: positive area). */
static int emit_ring(struct mvt_geom *out, struct ipts *r, int exterior)
{
    int64_t a = ring_area2(r);
    if ((a > 0) != exterior) {
        for (int i = 0, j = r->n - 1; i < j; i++, j--) {
            int32_t tx = r->xy[2 * i], ty = r->xy[2 * i + 1];
            r->xy[2 * i] = r->xy[2 * j], r->xy[2 * i + 1] = r->xy[2 * j + 1];
            r->xy[2 * j] = tx, r->xy[2 * j + 1] = ty;
        }
    }
    int rc = mvt_geom_move(out, r->xy, 1) || mvt_geom_line(out, r->xy + 2, r->n - 1) ||
             mvt_geom_close(out);
    return rc ? ERR_NOMEM : 0;
}

/* ---- GEOS path ---- */

static GEOSGeometry *make_ring(GEOSContextHandle_t h, const double *xy, int n)
{
    int closed = n > 1 && xy[0] == xy[2 * (n - 1)] && xy[1] == xy[2 * (n - 1) + 1];
    if (n < 3 || (closed && n < 4)) return NULL;
    GEOSCoordSequence *s = GEOSCoordSeq_create_r(h, (unsigned)(n + !closed), 2);
    if (!s) return NULL;
    for (int i = 0; i < n; i++)
        GEOSCoordSeq_setXY_r(h, s, (unsigned)i, xy[2 * i], xy[2 * i + 1]);
    if (!closed) GEOSCoordSeq_setXY_r(h, s, (unsigned)n, xy[0], xy[1]);
    return GEOSGeom_createLinearRing_r(h, s);
}

static int emit_geos_ring(struct ctx *c, const GEOSGeometry *ring, int exterior)
{
    const GEOSCoordSequence *s = GEOSGeom_getCoordSeq_r(c->h, ring);
    unsigned n = 0;
    if (!s || !GEOSCoordSeq_getSize_r(c->h, s, &n) || n < 4) return 1;
    if (igrow(&c->r, (int)n)) return ERR_NOMEM;
    c->r.n = 0;
    for (unsigned i = 0; i + 1 < n; i++) {
        double x, y;
        GEOSCoordSeq_getXY_r(c->h, s, i, &x, &y);
        c->r.xy[2 * c->r.n] = snap(x), c->r.xy[2 * c->r.n + 1] = snap(y);
        c->r.n++;
    }
    ring_simplify(&c->r);
    if (c->r.n < 3 || llabs(ring_area2(&c->r)) < 2) return 1; /* collapsed below area 1 */
    return emit_ring(c->out, &c->r, exterior) ? ERR_NOMEM : 0;
}

static int emit_geos_polygons(struct ctx *c, const GEOSGeometry *g)
{
    int t = GEOSGeomTypeId_r(c->h, g);
    if (t == GEOS_MULTIPOLYGON || t == GEOS_GEOMETRYCOLLECTION) {
        int n = GEOSGetNumGeometries_r(c->h, g);
        for (int i = 0; i < n; i++)
            if (emit_geos_polygons(c, GEOSGetGeometryN_r(c->h, g, i))) return ERR_NOMEM;
        return 0;
    }
    if (t != GEOS_POLYGON || GEOSisEmpty_r(c->h, g)) return 0;
    int rc = emit_geos_ring(c, GEOSGetExteriorRing_r(c->h, g), 1);
    if (rc) return rc == ERR_NOMEM ? rc : 0;
    int nh = GEOSGetNumInteriorRings_r(c->h, g);
    for (int i = 0; i < nh; i++) {
        rc = emit_geos_ring(c, GEOSGetInteriorRingN_r(c->h, g, i), 0);
        if (rc == ERR_NOMEM) return rc;
    }
    return 0;
}

static int poly_geos(struct ctx *c, const struct geom *g, int first, int last, int clip)
{
    GEOSContextHandle_t h = c->h;
    GEOSGeometry *shell = make_ring(h, g->parts[first].xy, g->parts[first].n);
    if (!shell) return 0;
    GEOSGeometry **holes = NULL;
    int nh = 0;
    if (last > first + 1) {
        holes = calloc((size_t)(last - first - 1), sizeof *holes);
        if (!holes) {
            GEOSGeom_destroy_r(h, shell);
            return ERR_NOMEM;
        }
        for (int i = first + 1; i < last; i++) {
            GEOSGeometry *r = make_ring(h, g->parts[i].xy, g->parts[i].n);
            if (r) holes[nh++] = r;
        }
    }
    GEOSGeometry *poly = GEOSGeom_createPolygon_r(h, shell, holes, (unsigned)nh);
    free(holes);
    if (!poly) return 0;
    GEOSGeometry *cur = poly;
    if (!GEOSisValid_r(h, cur)) {
        GEOSGeometry *v = GEOSMakeValid_r(h, cur);
        GEOSGeom_destroy_r(h, cur);
        cur = v;
    }
    if (cur && clip) {
        GEOSGeometry *k = GEOSClipByRect_r(h, cur, c->lo, c->lo, c->hi, c->hi);
        GEOSGeom_destroy_r(h, cur);
        cur = k;
    }
    GEOSGeometry *fixed = cur ? GEOSGeom_setPrecision_r(h, cur, 1.0, 0) : NULL;
    int rc = fixed ? emit_geos_polygons(c, fixed) : 0;
    if (fixed) GEOSGeom_destroy_r(h, fixed);
    if (cur) GEOSGeom_destroy_r(h, cur);
    return rc;
}

/* ---- per geometry type ---- */

static int do_polygon(struct ctx *c, const struct geom *g, int first, int last)
{
    const struct geom_part *ext = &g->parts[first];
    struct bbox b;
    bbox_empty(&b);
    for (int k = 0; k < ext->n; k++)
        bbox_add(&b, ext->xy[2 * k], ext->xy[2 * k + 1]);
    if (b.maxx < c->lo || b.minx > c->hi || b.maxy < c->lo || b.miny > c->hi) return 0;
    int clip = b.minx < c->lo || b.maxx > c->hi || b.miny < c->lo || b.maxy > c->hi;
    if (last == first + 1) {
        if (ring_open(ext->xy, ext->n, &c->a)) return ERR_NOMEM;
        if (c->a.n < 3) return 0;
        int src_convex = !clip || dring_convex(&c->a);
        if (src_convex) {
            if (clip && clip_ring(c)) return ERR_NOMEM;
            if (snap_ring(&c->a, &c->r)) return ERR_NOMEM;
            if (c->r.n < 3 || llabs(ring_area2(&c->r)) < 2) return 0;
            if (ring_convex(&c->r)) return emit_ring(c->out, &c->r, 1);
        }
    }
    return poly_geos(c, g, first, last, clip);
}

static int do_line(struct ctx *c, struct dpts *d)
{
    struct ipts *r = &c->r;
    if (igrow(r, d->n)) return ERR_NOMEM;
    r->n = 0;
    for (int i = 0; i < d->n; i++) {
        int32_t x = snap(d->xy[2 * i]), y = snap(d->xy[2 * i + 1]);
        if (r->n && r->xy[2 * (r->n - 1)] == x && r->xy[2 * (r->n - 1) + 1] == y) continue;
        if (r->n >= 2) {
            int32_t p[2] = {x, y};
            int32_t *a = &r->xy[2 * (r->n - 2)], *b = &r->xy[2 * (r->n - 1)];
            if (cross3(a, b, p) == 0 && dot3(a, b, p) > 0) r->n--;
        }
        r->xy[2 * r->n] = x, r->xy[2 * r->n + 1] = y;
        r->n++;
    }
    d->n = 0;
    if (r->n < 2) return 0;
    c->out->type = 2;
    return mvt_geom_move(c->out, r->xy, 1) || mvt_geom_line(c->out, r->xy + 2, r->n - 1) ? ERR_NOMEM
                                                                                         : 0;
}

/* Liang-Barsky: clips segment p-q to the box; 0 if outside, else t0 <= t1 in [0, 1]. */
static int clip_segment(const double *p, const double *q, double lo, double hi, double *t0,
                        double *t1)
{
    double dx = q[0] - p[0], dy = q[1] - p[1];
    double pp[4] = {-dx, dx, -dy, dy};
    double qq[4] = {p[0] - lo, hi - p[0], p[1] - lo, hi - p[1]};
    *t0 = 0, *t1 = 1;
    for (int i = 0; i < 4; i++) {
        if (pp[i] == 0) {
            if (qq[i] < 0) return 0;
            continue;
        }
        double r = qq[i] / pp[i];
        if (pp[i] < 0) {
            if (r > *t1) return 0;
            if (r > *t0) *t0 = r;
        } else {
            if (r < *t0) return 0;
            if (r < *t1) *t1 = r;
        }
    }
    return 1;
}

static int do_linestring(struct ctx *c, const struct geom_part *part)
{
    struct dpts *d = &c->a;
    d->n = 0;
    for (int i = 0; i + 1 < part->n; i++) {
        const double *p = &part->xy[2 * i], *q = &part->xy[2 * i + 2];
        double t0, t1;
        if (!clip_segment(p, q, c->lo, c->hi, &t0, &t1)) {
            if (do_line(c, d)) return ERR_NOMEM;
            continue;
        }
        double dx = q[0] - p[0], dy = q[1] - p[1];
        if (d->n == 0 || t0 > 0) {
            if (do_line(c, d) || dpush(d, p[0] + t0 * dx, p[1] + t0 * dy)) return ERR_NOMEM;
        }
        if (dpush(d, t1 < 1 ? p[0] + t1 * dx : q[0], t1 < 1 ? p[1] + t1 * dy : q[1]))
            return ERR_NOMEM;
        if (t1 < 1 && do_line(c, d)) return ERR_NOMEM;
    }
    return do_line(c, d);
}

static int do_points(struct ctx *c, const struct geom *g)
{
    struct ipts *r = &c->all;
    r->n = 0;
    for (int i = 0; i < g->n_parts; i++) {
        const struct geom_part *p = &g->parts[i];
        for (int k = 0; k < p->n; k++) {
            double x = p->xy[2 * k], y = p->xy[2 * k + 1];
            if (!(x >= c->lo && x <= c->hi && y >= c->lo && y <= c->hi)) continue;
            if (igrow(r, r->n + 1)) return ERR_NOMEM;
            r->xy[2 * r->n] = snap(x), r->xy[2 * r->n + 1] = snap(y);
            r->n++;
        }
    }
    if (!r->n) return 0;
    c->out->type = 1;
    return mvt_geom_move(c->out, r->xy, r->n);
}

static int encode(struct ctx *c, const struct geom *g)
{
    int base = g->type > 3 ? g->type - 3 : g->type;
    if (base == 1) return do_points(c, g);
    if (base == 2) {
        for (int i = 0; i < g->n_parts; i++)
            if (do_linestring(c, &g->parts[i])) return ERR_NOMEM;
        return 0;
    }
    for (int i = 0; i < g->n_parts;) {
        int j = i + 1;
        while (j < g->n_parts && g->parts[j].ring)
            j++;
        size_t before = c->out->n;
        if (do_polygon(c, g, i, j)) return ERR_NOMEM;
        if (c->out->n > before) c->out->type = 3;
        i = j;
    }
    return 0;
}

struct mvt_scratch {
    struct dpts a, b;
    struct ipts r, all;
};

void mvt_scratch_free(struct mvt_scratch *s)
{
    if (!s) return;
    free(s->a.xy), free(s->b.xy), free(s->r.xy), free(s->all.xy);
    free(s);
}

int mvt_encode_geom(void *geos, const struct geom *g, int buffer, struct mvt_geom *out,
                    struct err *err)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.h = geos;
    c.lo = -buffer;
    c.hi = TILE_EXTENT + buffer;
    c.out = out;
    mvt_geom_reset(out);
    /* the working buffers of the last call on out, grown as needed (a tile encodes thousands of
     * geometries into one mvt_geom: an allocation and a free each were 3 % of a tile) */
    if (!out->scratch && !(out->scratch = calloc(1, sizeof *out->scratch)))
        return err_set(err, ERR_NOMEM, "out of memory");
    struct mvt_scratch *s = out->scratch;
    c.a = s->a, c.b = s->b, c.r = s->r, c.all = s->all;
    int rc = encode(&c, g);
    s->a = c.a, s->b = c.b, s->r = c.r, s->all = c.all;
    if (rc) {
        mvt_geom_reset(out);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (!out->n) out->type = 0;
    return 0;
}

/* ---- generalized cover: grid cells -> valid polygons ---- */

/* The boundary of the covered cells, traced on the grid: every cell edge with a covered cell on
 * one side and none on the other is a boundary edge, directed with the covered cell on its right
 * (y down: clockwise around covered cells, so an exterior comes out clockwise, a hole
 * counter-clockwise). A grid vertex has one edge out, or two where covered cells touch only
 * diagonally; there the trace keeps the two cells apart when they are in different 4-connected
 * groups and the two empty cells apart when the covered ones are in the same group. So each group
 * gets one exterior ring and a ring per hole, rings meet at most at a point and none touches
 * itself (OGC-valid, the polygons of GEOS's coverage union of the squares, which cost the
 * densest tile 9 % of its time; tests/unit/test_mvt.c checks them against GEOS).
 * Directions: 0 E, 1 S, 2 W, 3 N. */
static const int cell_dx[4] = {1, 0, -1, 0}, cell_dy[4] = {0, 1, 0, -1};

static int covered(const unsigned char *cells, int n, int i, int j)
{
    return i >= 0 && j >= 0 && i < n && j < n && cells[j * n + i];
}

/* The cell on the right of the edge leaving grid vertex (i, j) in direction d. */
static void right_cell(int i, int j, int d, int *ci, int *cj)
{
    static const int oi[4] = {0, -1, -1, 0}, oj[4] = {0, 0, -1, -1};
    *ci = i + oi[d], *cj = j + oj[d];
}

int mvt_encode_cells(void *geos, const unsigned char *cells, int n, int cell, struct mvt_geom *out,
                     struct err *err)
{
    (void)geos;
    mvt_geom_reset(out);
    if (n <= 0) return 0;
    int nv = n + 1, rc = 0;
    unsigned char *exist = calloc((size_t)nv * (size_t)nv, 1); /* bit d: a boundary edge leaves */
    unsigned char *left = calloc((size_t)nv * (size_t)nv, 1);  /* its bits not traced yet */
    int *comp = malloc((size_t)n * (size_t)n * sizeof *comp);  /* 4-connected group, -1 empty */
    int *stack = malloc((size_t)n * (size_t)n * sizeof *stack);
    struct ipts pts = {0};                                  /* every ring's vertices, tile units */
    int *ring_at = NULL, *ring_comp = NULL, *ring_n = NULL; /* per ring: first vertex, group,
                                                             * vertices once simplified */
    int n_rings = 0, cap_rings = 0, n_comp = 0;
    if (!exist || !left || !comp || !stack) goto nomem;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            comp[j * n + i] = -1;
            if (!cells[j * n + i]) continue;
            /* top E from (i, j), right S from (i+1, j), bottom W from (i+1, j+1), left N from
             * (i, j+1): each where the neighbour across it is not covered */
            if (!covered(cells, n, i, j - 1)) exist[j * nv + i] |= 1;
            if (!covered(cells, n, i + 1, j)) exist[j * nv + i + 1] |= 2;
            if (!covered(cells, n, i, j + 1)) exist[(j + 1) * nv + i + 1] |= 4;
            if (!covered(cells, n, i - 1, j)) exist[(j + 1) * nv + i] |= 8;
        }
    for (int k = 0; k < n * n; k++) { /* groups, in scan order */
        if (!cells[k] || comp[k] >= 0) continue;
        int top = 0;
        comp[k] = n_comp, stack[top++] = k;
        while (top) {
            int c = stack[--top], ci = c % n, cj = c / n;
            for (int d = 0; d < 4; d++) {
                int ni = ci + cell_dx[d], nj = cj + cell_dy[d];
                if (covered(cells, n, ni, nj) && comp[nj * n + ni] < 0)
                    comp[nj * n + ni] = n_comp, stack[top++] = nj * n + ni;
            }
        }
        n_comp++;
    }
    memcpy(left, exist, (size_t)nv * (size_t)nv);
    for (int v0 = 0; v0 < nv * nv; v0++)
        for (int d0 = 0; d0 < 4; d0++) {
            if (!(left[v0] & (1 << d0))) continue;
            if (n_rings == cap_rings) {
                int cap = cap_rings ? 2 * cap_rings : 16;
                int *a = realloc(ring_at, (size_t)(cap + 1) * sizeof *a);
                if (a) ring_at = a;
                int *b = a ? realloc(ring_comp, (size_t)cap * sizeof *b) : NULL;
                if (b) ring_comp = b;
                int *m = b ? realloc(ring_n, (size_t)cap * sizeof *m) : NULL;
                if (!m) goto nomem;
                ring_n = m, cap_rings = cap;
            }
            int ci, cj;
            right_cell(v0 % nv, v0 / nv, d0, &ci, &cj);
            ring_at[n_rings] = pts.n, ring_comp[n_rings] = comp[cj * n + ci];
            int v = v0, d = d0;
            do { /* one ring: follow the edges back to the first one */
                if (!(left[v] & (1 << d))) goto broken; /* cannot happen: each edge once */
                if (igrow(&pts, pts.n + 1)) goto nomem;
                pts.xy[2 * pts.n] = (v % nv) * cell, pts.xy[2 * pts.n + 1] = (v / nv) * cell;
                pts.n++;
                left[v] &= (unsigned char)~(1 << d);
                v += cell_dy[d] * nv + cell_dx[d];
                int vi = v % nv, vj = v / nv, next = -1;
                if (exist[v] == (1 | 4) || exist[v] == (2 | 8)) {
                    /* two covered cells meet only at this corner: round the cell followed when
                     * they are in different groups (each group its own ring), round the empty
                     * cell when in the same one (each hole, or the outside, its own ring) */
                    int nw = covered(cells, n, vi - 1, vj - 1);
                    int a = nw ? (vj - 1) * n + vi - 1 : (vj - 1) * n + vi; /* NW or NE */
                    int b = nw ? vj * n + vi : vj * n + vi - 1;             /* SE or SW */
                    next = comp[a] == comp[b] ? (d + 3) % 4 : (d + 1) % 4;
                } else {
                    for (int t = 0; t < 4 && next < 0; t++)
                        if (exist[v] & (1 << t)) next = t;
                }
                if (next < 0 || !(exist[v] & (1 << next))) goto broken; /* cannot happen */
                d = next;
            } while (v != v0 || d != d0);
            n_rings++;
        }
    if (!n_rings) goto done; /* nothing covered */
    ring_at[n_rings] = pts.n;
    for (int r = 0; r < n_rings; r++) { /* the straight runs: one edge each; ring_at[r + 1]
                                         * still marks where the traced ring ended */
        struct ipts ring = {pts.xy + 2 * ring_at[r], ring_at[r + 1] - ring_at[r], 0};
        ring_simplify(&ring);
        ring_n[r] = ring.n;
        ring_comp[r] = ring_comp[r] * 2 + (ring_area2(&ring) < 0); /* group, and hole or not */
    }
    /* polygons by group: the exterior (positive area), then the holes (a counting sort of the
     * rings by group and kind, in the order they were traced) */
    int *first = calloc((size_t)(2 * n_comp + 1), sizeof *first);
    int *order = malloc((size_t)n_rings * sizeof *order);
    if (!first || !order) {
        free(first), free(order);
        goto nomem;
    }
    for (int r = 0; r < n_rings; r++)
        first[ring_comp[r] + 1]++;
    for (int k = 0; k < 2 * n_comp; k++)
        first[k + 1] += first[k];
    for (int r = 0; r < n_rings; r++)
        order[first[ring_comp[r]]++] = r;
    for (int k = 0; k < n_rings && !rc; k++) {
        int r = order[k];
        struct ipts ring = {pts.xy + 2 * ring_at[r], ring_n[r], 0};
        rc = emit_ring(out, &ring, !(ring_comp[r] & 1));
    }
    free(first), free(order);
    if (rc) goto nomem;
    out->type = out->n ? 3 : 0;
    goto done;
broken:
    rc = err_set(err, ERR_INTERNAL, "cannot trace generalized cells");
    mvt_geom_reset(out);
    goto done;
nomem:
    rc = err_set(err, ERR_NOMEM, "out of memory");
    mvt_geom_reset(out);
done:
    free(exist), free(left), free(comp), free(stack), free(pts.xy), free(ring_at), free(ring_comp);
    free(ring_n);
    return rc;
}
