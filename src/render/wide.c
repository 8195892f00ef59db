/* SPDX-License-Identifier: MIT */
/* wide.c: anti-aliased wide strokes with round joins and caps (the cased roads and canals of a
 * planning map), drawn past cairo. A round-joined, round-capped stroke is exactly the union of
 * one capsule per segment (the points within width/2 of it), so each capsule is scanned row by
 * row into a coverage mask, keeping the larger coverage where capsules overlap: joins and the
 * crossings of the features of one symbolizer are covered once, as in one cairo path. Coverage
 * is the exact area of the pixel inside the capsule's nearest edge; pixels well inside a capsule
 * are set without a square root. The mask is then composited in
 * the stroke colour (source over, premultiplied) and cleared, only on the rows and columns it
 * touched. cairo's stroker + scan converter was a fifth of a road tile's time. */
#include "render_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An edge of a filled polygon: rows [r0, r1) have their centre within its y range; x at a row
 * r is x + (r + 0.5) * dx, dir its winding (+1 or -1). */
struct fedge {
    int r0, r1, dir;
    double x, dx;
};

struct wide {
    unsigned char *a; /* coverage, width x height */
    int width, height;
    int *x0, *x1;        /* per row: the columns touched, x0 > x1 when none */
    int y0, y1;          /* rows touched */
    struct fedge *edges; /* wide_fill_ring's, until wide_fill_end */
    size_t n_edges, cap_edges;
    struct fedge **act; /* wide_fill_end: the edges crossing a row */
    double *xs;         /* and their crossings, x and winding */
    size_t cap_act;
};

struct wide *wide_new(int width, int height)
{
    struct wide *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->width = width, w->height = height;
    w->a = calloc((size_t)width, (size_t)height);
    w->x0 = malloc(sizeof(int) * (size_t)height);
    w->x1 = malloc(sizeof(int) * (size_t)height);
    if (!w->a || !w->x0 || !w->x1) {
        wide_free(w);
        return NULL;
    }
    for (int y = 0; y < height; y++)
        w->x0[y] = width, w->x1[y] = -1;
    w->y0 = height, w->y1 = -1;
    return w;
}

int wide_fits(const struct wide *w, int width, int height)
{
    return w->width == width && w->height == height;
}

void wide_free(struct wide *w)
{
    if (!w) return;
    free(w->a), free(w->x0), free(w->x1);
    free(w->edges), free(w->act), free(w->xs);
    free(w);
}

#define MIN(a, b) ((a) < (b) ? (a) : (b))
/* floor and ceil for |v| < 2^31, inline: without SSE4.1 they are library calls, made for every
 * row of every capsule */
static inline int ifloor(double v)
{
    int i = (int)v;
    return i - (v < i);
}
static inline int iceil(double v)
{
    int i = (int)v;
    return i + (v > i);
}
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* A capsule: the points within R of segment a-b. Its row intervals are the hull of those of its
 * end disks and of its band (it is convex and their union). */
struct cap {
    double ax, ay, bx, by, ux, uy, iux, iuy, len;
};

/* The x interval of the row at yc (py = yc - ay) inside the capsule of radius R (R2 = R * R);
 * 0 if the row misses it. */
static int span(const struct cap *c, double R, double R2, double yc, double py, double *lo,
                double *hi)
{
    double l = INFINITY, h = -INFINITY, dy = py;
    if (dy * dy < R2) {
        double half = sqrt(R2 - dy * dy);
        l = c->ax - half, h = c->ax + half;
    }
    if (c->len > 0) {
        dy = yc - c->by;
        if (dy * dy < R2) {
            double half = sqrt(R2 - dy * dy);
            l = MIN(l, c->bx - half), h = MAX(h, c->bx + half);
        }
        /* band: 0 <= (p - a).u <= len and |(p - a) x u| <= R, with p = (x, yc) */
        double bl = -INFINITY, bh = INFINITY, along = py * c->uy, across = py * c->ux;
        if (c->ux != 0) {
            double s0 = -along * c->iux, s1 = (c->len - along) * c->iux;
            bl = MIN(s0, s1), bh = MAX(s0, s1);
        } else if (along < 0 || along > c->len) {
            bh = -INFINITY;
        }
        if (c->uy != 0) {
            double t0 = (across - R) * c->iuy, t1 = (across + R) * c->iuy;
            bl = MAX(bl, MIN(t0, t1)), bh = MIN(bh, MAX(t0, t1));
        } else if (across > R || across < -R) {
            bh = -INFINITY;
        }
        if (bl <= bh) l = MIN(l, c->ax + bl), h = MAX(h, c->ax + bh);
    }
    if (!(l <= h)) return 0;
    *lo = l, *hi = h;
    return 1;
}

/* The area of a unit pixel inside an edge whose unit normal is (nx, ny), the pixel centre being
 * s inside it (negative: outside): linear while the edge crosses two opposite sides, quadratic
 * when it cuts a corner. The box filter of the exact shape, as cairo's best anti-aliasing. */
static inline double edge_cover_ab(double a, double b, double s) /* a = max, b = min of |n| */
{
    double e = (a + b) / 2, as = fabs(s);
    if (as >= e) return s > 0 ? 1 : 0;
    if (as <= (a - b) / 2) return 0.5 + s / a;
    double u = e - as, corner = u * u / (2 * a * b);
    return s > 0 ? 1 - corner : corner;
}

static double edge_cover(double nx, double ny, double s)
{
    double a = fabs(nx), b = fabs(ny);
    return a < b ? edge_cover_ab(b, a, s) : edge_cover_ab(a, b, s);
}

/* One capsule of half width r around a-b into the mask: every pixel within r + 0.71 of the
 * segment gets the exact area it has inside the nearest edge (the tangent of the cap at the
 * ends). */
static void capsule(struct wide *w, double ax, double ay, double bx, double by, double r)
{
    double R = r + 0.7072, Ri = r - 0.7072; /* no pixel is partly covered outside this band */
    double R2 = R * R, Ri2 = Ri * Ri;
    /* far vertices (a map zoomed in a long way) are brought to the image's edge plus the stroke:
     * the cap drawn there is out of sight, and every coordinate below fits an int */
    if (!(r < 1e4) ||
        !clip_segment(&ax, &ay, &bx, &by, -R - 2, w->width + R + 2, w->height + R + 2))
        return;
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy, len = sqrt(len2);
    struct cap c = {ax, ay, bx, by, 0, 0, 0, 0, len};
    if (len > 0) {
        c.ux = dx / len, c.uy = dy / len;
        c.iux = c.ux != 0 ? 1 / c.ux : 0, c.iuy = c.uy != 0 ? 1 / c.uy : 0;
    }
    double ilen2 = len2 > 0 ? 1 / len2 : 0;
    /* the normal of the sides, for edge_cover_ab */
    double na = fabs(c.ux) > fabs(c.uy) ? fabs(c.ux) : fabs(c.uy);
    double nb = fabs(c.ux) > fabs(c.uy) ? fabs(c.uy) : fabs(c.ux);
    int ya = ifloor(MIN(ay, by) - R), yb = iceil(MAX(ay, by) + R);
    if (ya < 0) ya = 0;
    if (yb > w->height - 1) yb = w->height - 1;
    for (int y = ya; y <= yb; y++) {
        double yc = y + 0.5, py = yc - ay, lo, hi;
        if (!span(&c, R, R2, yc, py, &lo, &hi)) continue;
        int i0 = iceil(lo - 0.5), i1 = ifloor(hi - 0.5);
        if (i0 < 0) i0 = 0;
        if (i1 > w->width - 1) i1 = w->width - 1;
        if (i0 > i1) continue;
        /* the inner interval is covered fully */
        int f0 = i1 + 1, f1 = i1;
        double ilo, ihi;
        if (Ri > 0 && span(&c, Ri, Ri2, yc, py, &ilo, &ihi)) {
            f0 = iceil(ilo - 0.5), f1 = ifloor(ihi - 0.5);
            if (f0 < i0) f0 = i0;
            if (f1 > i1) f1 = i1;
            if (f0 > f1) f0 = i1 + 1, f1 = i1;
        }
        unsigned char *row = w->a + (size_t)y * (size_t)w->width;
        for (int i = i0; i <= i1; i++) {
            if (i == f0) {
                memset(row + f0, 255, (size_t)(f1 - f0 + 1));
                i = f1;
                continue;
            }
            if (row[i] == 255) continue; /* covered fully by an earlier capsule */
            double px = i + 0.5 - ax, t = (px * dx + py * dy) * ilen2, cv;
            if (t > 0 && t < 1) { /* beside the segment: the nearest edge is parallel to it */
                cv = edge_cover_ab(na, nb, r - fabs(py * c.ux - px * c.uy));
            } else { /* beyond an end: the cap's tangent */
                t = t <= 0 ? 0 : 1;
                double ex = px - t * dx, ey = py - t * dy, d = sqrt(ex * ex + ey * ey);
                cv = d > 1e-9 ? edge_cover(ex / d, ey / d, r - d) : 1;
            }
            if (cv <= 0) continue;
            /* AA_LEVELS steps: finer ones only grow the PNG */
            unsigned v = cv >= 1 ? 255 : (unsigned)(cv * AA_LEVELS + 0.5) * 255 / AA_LEVELS;
            if (v > row[i]) row[i] = (unsigned char)v;
        }
        if (i0 < w->x0[y]) w->x0[y] = i0;
        if (i1 > w->x1[y]) w->x1[y] = i1;
        if (y < w->y0) w->y0 = y;
        if (y > w->y1) w->y1 = y;
    }
}

void wide_polyline(struct wide *w, const double *xy, int n, int closed, double width)
{
    double r = width / 2;
    if (n < 1) return;
    if (n == 1) {
        capsule(w, xy[0], xy[1], xy[0], xy[1], r);
        return;
    }
    for (int i = 1; i < n; i++)
        capsule(w, xy[2 * i - 2], xy[2 * i - 1], xy[2 * i], xy[2 * i + 1], r);
    if (closed && n > 2 && (xy[0] != xy[2 * n - 2] || xy[1] != xy[2 * n - 1]))
        capsule(w, xy[2 * n - 2], xy[2 * n - 1], xy[0], xy[1], r);
}

/* ---- solid fills under an outline ---- */

int wide_fill_ring(struct wide *w, const double *xy, int n, int hole)
{
    if (n < 3) return 0;
    /* exteriors wind one way and holes the other, whatever their orientation in the data (the
     * non-zero rule, as draw.c's path_part orients rings for cairo) */
    double a = 0;
    for (int i = 0; i + 1 < n; i++)
        a += xy[2 * i] * xy[2 * i + 3] - xy[2 * i + 2] * xy[2 * i + 1];
    int flip = (hole ? a > 0 : a < 0) ? -1 : 1;
    if (w->n_edges + (size_t)n > w->cap_edges) {
        size_t cap = w->cap_edges ? w->cap_edges : 64;
        while (cap < w->n_edges + (size_t)n)
            cap *= 2;
        struct fedge *e = realloc(w->edges, cap * sizeof *e);
        if (!e) {
            w->n_edges = 0; /* the feature is dropped whole */
            return -1;
        }
        w->edges = e, w->cap_edges = cap;
    }
    for (int i = 0; i < n; i++) { /* the closing edge too, as cairo_close_path */
        int j = i + 1 < n ? i + 1 : 0;
        double x0 = clampc(xy[2 * i]), y0 = clampc(xy[2 * i + 1]);
        double x1 = clampc(xy[2 * j]), y1 = clampc(xy[2 * j + 1]);
        if (!(isfinite(x0) && isfinite(y0) && isfinite(x1) && isfinite(y1)) || y0 == y1) continue;
        int dir = y1 > y0 ? flip : -flip;
        if (y1 < y0) {
            double t = x0;
            x0 = x1, x1 = t, t = y0, y0 = y1, y1 = t;
        }
        /* the rows whose centre y + 0.5 is in [y0, y1) */
        int r0 = iceil(y0 - 0.5), r1 = iceil(y1 - 0.5);
        if (r0 < 0) r0 = 0;
        if (r1 > w->height) r1 = w->height;
        if (r0 >= r1) continue;
        double dx = (x1 - x0) / (y1 - y0);
        w->edges[w->n_edges++] = (struct fedge){r0, r1, dir, x0 - y0 * dx, dx};
    }
    return 0;
}

static int by_r0(const void *a, const void *b)
{
    const struct fedge *p = a, *q = b;
    return (p->r0 > q->r0) - (p->r0 < q->r0);
}

/* Row r's pixels whose centre is inside: between the crossings xs (x, winding; n, sorted by x)
 * where the winding sum is not zero. */
static void fill_row(struct wide *w, int r, const double *xs, size_t n, unsigned char *img,
                     int stride, uint32_t argb)
{
    unsigned char *row = w->a + (size_t)r * (size_t)w->width;
    int wind = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        wind += (int)xs[2 * i + 1];
        if (!wind) continue;
        int i0 = iceil(xs[2 * i] - 0.5), i1 = iceil(xs[2 * i + 2] - 0.5) - 1;
        if (i0 < 0) i0 = 0;
        if (i1 > w->width - 1) i1 = w->width - 1;
        if (i0 > i1) continue;
        if (img) { /* opaque: straight into the image */
            uint32_t *p = (uint32_t *)(img + (size_t)r * (size_t)stride);
            for (int x = i0; x <= i1; x++)
                p[x] = argb;
            continue;
        }
        memset(row + i0, 255, (size_t)(i1 - i0 + 1));
        if (i0 < w->x0[r]) w->x0[r] = i0;
        if (i1 > w->x1[r]) w->x1[r] = i1;
        if (r < w->y0) w->y0 = r;
        if (r > w->y1) w->y1 = r;
    }
}

/* Inserts crossing (x, d) into xs[0..n) sorted by x (insertion: few, and nearly in order). */
static inline void insert_x(double *xs, size_t n, double x, int d)
{
    size_t j = n;
    for (; j > 0 && xs[2 * (j - 1)] > x; j--)
        xs[2 * j] = xs[2 * (j - 1)], xs[2 * j + 1] = xs[2 * (j - 1) + 1];
    xs[2 * j] = x, xs[2 * j + 1] = d;
}

int wide_fill_end(struct wide *w, unsigned char *img, int stride, uint32_t argb)
{
    size_t n = w->n_edges;
    w->n_edges = 0;
    if (n < 2) return 0;
    struct fedge *e = w->edges;
    if (n <= 8) { /* a parcel, a building: every edge tried on every row of the feature */
        int r0 = e[0].r0, r1 = e[0].r1;
        for (size_t i = 1; i < n; i++)
            r0 = e[i].r0 < r0 ? e[i].r0 : r0, r1 = e[i].r1 > r1 ? e[i].r1 : r1;
        double xs[16];
        for (int r = r0; r < r1; r++) {
            size_t m = 0;
            double yc = r + 0.5;
            for (size_t i = 0; i < n; i++)
                if (e[i].r0 <= r && r < e[i].r1) insert_x(xs, m++, e[i].x + yc * e[i].dx, e[i].dir);
            fill_row(w, r, xs, m, img, stride, argb);
        }
        return 0;
    }
    if (n > w->cap_act) {
        struct fedge **act = realloc(w->act, n * sizeof *act);
        if (act) w->act = act;
        double *xs = realloc(w->xs, 2 * n * sizeof *xs);
        if (xs) w->xs = xs;
        if (!act || !xs) return -1;
        w->cap_act = n;
    }
    qsort(e, n, sizeof *e, by_r0);
    size_t next = 0, n_act = 0;
    for (int r = e[0].r0; next < n || n_act; r++) {
        if (!n_act) r = e[next].r0; /* skip rows between parts */
        size_t k = 0;
        for (size_t i = 0; i < n_act; i++) /* drop the edges ended above this row */
            if (w->act[i]->r1 > r) w->act[k++] = w->act[i];
        n_act = k;
        while (next < n && e[next].r0 == r)
            w->act[n_act++] = &e[next++];
        if (!n_act) continue;
        double yc = r + 0.5;
        for (size_t i = 0; i < n_act; i++) /* the crossings at the row's centre */
            insert_x(w->xs, i, w->act[i]->x + yc * w->act[i]->dx, w->act[i]->dir);
        fill_row(w, r, w->xs, n_act, img, stride, argb);
    }
    return 0;
}

/* Source-over of colour (r, g, b) at coverage m[i] x op / 256 onto n premultiplied pixels. */
static void blend_span(uint32_t *p, const unsigned char *m, int n, unsigned cr, unsigned cg,
                       unsigned cb, unsigned op)
{
    for (int x = 0; x < n; x++) {
        uint64_t eight;
        if (x + 8 <= n && (memcpy(&eight, m + x, 8), eight == 0)) { /* masks are mostly empty */
            x += 7;
            continue;
        }
        unsigned a = (m[x] * op) >> 8;
        if (a == 0) continue;
        if (a == 255) {
            p[x] = 0xff000000u | cr << 16 | cg << 8 | cb;
            continue;
        }
        p[x] = blend_px(p[x], cr, cg, cb, a);
    }
}

static unsigned opacity256(double opacity)
{
    return opacity >= 1 ? 256 : opacity <= 0 ? 0 : (unsigned)(opacity * 256 + 0.5);
}

void mask_composite(cairo_surface_t *surf, const unsigned char *m, int mstride, int x0, int y0,
                    int w, int h, uint32_t rgb, double opacity)
{
    unsigned char *data = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf);
    int sw = cairo_image_surface_get_width(surf), sh = cairo_image_surface_get_height(surf);
    int ox = x0 < 0 ? -x0 : 0, oy = y0 < 0 ? -y0 : 0; /* clip to the surface */
    if (x0 + w > sw) w = sw - x0;
    if (y0 + h > sh) h = sh - y0;
    for (int y = oy; y < h; y++)
        blend_span((uint32_t *)(data + (size_t)(y0 + y) * (size_t)stride) + x0 + ox,
                   m + (size_t)y * (size_t)mstride + ox, w - ox, (rgb >> 16) & 255,
                   (rgb >> 8) & 255, rgb & 255, opacity256(opacity));
}

void wide_composite(struct wide *w, cairo_surface_t *surf, uint32_t rgb, double opacity)
{
    unsigned char *data = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf);
    unsigned op = opacity256(opacity);
    for (int y = w->y0; y <= w->y1; y++) {
        int x0 = w->x0[y], n = w->x1[y] - x0 + 1;
        if (n <= 0) continue;
        unsigned char *m = w->a + (size_t)y * (size_t)w->width;
        blend_span((uint32_t *)(data + (size_t)y * (size_t)stride) + x0, m + x0, n,
                   (rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255, op);
        memset(m + x0, 0, (size_t)n);
        w->x0[y] = w->width, w->x1[y] = -1;
    }
    w->y0 = w->height, w->y1 = -1;
}
