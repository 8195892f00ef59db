/* SPDX-License-Identifier: MIT */
/* fill.c: opaque polygon fills without anti-aliasing (the parcels and buildings of a planning
 * map, whose edges their outline covers) scan-converted straight into the ARGB32 image, past
 * cairo. A pixel is filled when its centre is inside the feature (non-zero winding over its
 * rings, as cairo's path), sampled on a 1/256 px grid like cairo's fixed point: cairo built,
 * tessellated and composited a path of every feature of a rule for about a tenth of a tile's
 * time. Coordinates are floored to the grid and the rest is integer arithmetic, so that a map
 * shifted by whole pixels (a tile's window of its metatile) gets the same pixels. Also: the ring
 * walk (vertex thinning and orientation) that draw.c's cairo paths share, so both see the same
 * outline. Must not: blend (the colour replaces the pixel), or draw anything but solid fills. */
#include "render_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIX      256 /* grid steps per pixel */
#define CLAMP_PX 4.0e6

static double clampc(double v)
{
    return v < -CLAMP_PX ? -CLAMP_PX : v > CLAMP_PX ? CLAMP_PX : v;
}

int ring_points(const double *xy, int n, int polygon, int hole, double *out)
{
    if (n < 1) return 0;
    int reverse = 0;
    if (polygon) {
        double a = 0;
        for (int i = 0; i + 1 < n; i++)
            a += xy[2 * i] * xy[2 * i + 3] - xy[2 * i + 2] * xy[2 * i + 1];
        reverse = hole ? a > 0 : a < 0;
    }
    double lx = 0, ly = 0;
    int m = 0;
    for (int k = 0; k < n; k++) {
        int i = reverse ? n - 1 - k : k;
        double x = clampc(xy[2 * i]), y = clampc(xy[2 * i + 1]);
        if (k != 0 && !(fabs(x - lx) + fabs(y - ly) > 0.33 || k == n - 1)) continue;
        out[2 * m] = x, out[2 * m + 1] = y;
        m++;
        lx = x, ly = y;
    }
    return m;
}

struct fedge {
    int64_t x1, y1, dx, dy; /* upper end, and towards the lower end (dy > 0), grid units */
    int top, bot;           /* rows [top, bot) sampled */
    int dir;                /* +1 downwards in the ring's order, -1 upwards */
    int64_t rem;            /* while active: x's remainder - dy (the x is in struct act) */
    int64_t step, step_rem; /* x per row: floor(dx * FIX / dy), remainder */
};

/* An edge crossing the current row: its x there, small to keep sorted. */
struct act {
    int64_t x;
    int edge, dir;
};

struct fill {
    struct fedge *e;
    size_t n, cap;
    int *order; /* edges by top row */
    int *first; /* per row + 1: the first of its edges in order */
    int cap_rows;
    struct act *act, *act2, *nw; /* crossing the row, by x; the merge; starting on the row */
    size_t cap_idx;
    double *pts; /* a ring's points after ring_points */
    size_t cap_pts;
};

struct fill *fill_new(void)
{
    return calloc(1, sizeof(struct fill));
}

void fill_free(struct fill *f)
{
    if (!f) return;
    free(f->e), free(f->order), free(f->first), free(f->act), free(f->act2), free(f->nw);
    free(f->pts);
    free(f);
}

void fill_begin(struct fill *f)
{
    f->n = 0;
}

/* The row or column of the first pixel centre at or past grid coordinate v (cairo's
 * _cairo_fixed_integer_round_down: ties go to the lower pixel). */
static int64_t pix(int64_t v)
{
    return (v + FIX / 2 - 1) >> 8;
}

/* floor(a / b) and its remainder (0 <= rem < b) for b > 0: estimated in floating point and
 * corrected in integers (a 64-bit integer division costs several times more, and a tile's fills
 * start tens of thousands of edges). Exact: the estimate is off by less than one for the
 * quotients here (|a / b| < 2^52, coordinates being clamped). */
static inline int64_t floor_div(int64_t a, int64_t b, int64_t *rem)
{
    double d = (double)a / (double)b;
    int64_t q = (int64_t)d; /* floor, inline */
    q -= d < (double)q;
    int64_t r = a - q * b;
    while (r < 0)
        q--, r += b;
    while (r >= b)
        q++, r -= b;
    *rem = r;
    return q;
}

int fill_ring(struct fill *f, const double *xy, int n, int hole)
{
    if (n < 1) return 0;
    if ((size_t)n * 2 > f->cap_pts) {
        double *p = realloc(f->pts, (size_t)n * 2 * sizeof *p);
        if (!p) return -1;
        f->pts = p, f->cap_pts = (size_t)n * 2;
    }
    int m = ring_points(xy, n, 1, hole, f->pts);
    if (f->n + (size_t)m > f->cap) {
        size_t c = f->cap ? f->cap : 256;
        while (c < f->n + (size_t)m)
            c *= 2;
        struct fedge *e = realloc(f->e, c * sizeof *e);
        if (!e) return -1;
        f->e = e, f->cap = c;
    }
    for (int i = 0; i < m; i++) { /* the ring is closed: the last edge goes back to the first */
        const double *a = &f->pts[2 * i], *b = &f->pts[2 * ((i + 1) % m)];
        /* to the grid rounding to nearest, as cairo's fixed point */
        int64_t ax = llrint(a[0] * FIX), ay = llrint(a[1] * FIX), bx = llrint(b[0] * FIX),
                by = llrint(b[1] * FIX);
        int dir = 1;
        if (ay > by) {
            int64_t t = ax;
            ax = bx, bx = t, t = ay, ay = by, by = t, dir = -1;
        }
        int64_t top = pix(ay), bot = pix(by);
        if (bot <= top) continue; /* crosses no row's sample (horizontal, or short) */
        f->e[f->n++] = (struct fedge){.x1 = ax,
                                      .y1 = ay,
                                      .dx = bx - ax,
                                      .dy = by - ay,
                                      .top = top < 0           ? 0
                                             : top > INT32_MAX ? INT32_MAX
                                                               : (int)top,
                                      .bot = bot > INT32_MAX ? INT32_MAX : (int)bot,
                                      .dir = dir};
    }
    return 0;
}

/* e on row y (its sample at y * FIX + FIX / 2 - 1, as cairo). */
static struct act edge_start(struct fedge *e, int i, int y)
{
    int64_t r;
    struct act a = {e->x1 + floor_div(((int64_t)y * FIX + FIX / 2 - 1 - e->y1) * e->dx, e->dy, &r),
                    i, e->dir};
    e->rem = r - e->dy;
    if (e->bot - y > 1) /* else it ends on this row: no step */
        e->step = floor_div(e->dx * FIX, e->dy, &e->step_rem);
    return a;
}

/* Insertion sort by x: the active edges' order changes little from row to row. */
static void sort_x(struct act *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (a[i - 1].x <= a[i].x) continue;
        struct act t = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1].x > t.x) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = t;
    }
}

static int cmp_x(const void *a, const void *b)
{
    int64_t x = ((const struct act *)a)->x, y = ((const struct act *)b)->x;
    return x < y ? -1 : x > y;
}

static void span(uint32_t *row, int64_t x0, int64_t x1, int width, uint32_t argb)
{
    if (x0 < 0) x0 = 0;
    if (x1 > width) x1 = width;
    for (int64_t i = x0; i < x1; i++)
        row[i] = argb;
}

/* An edge's x on a row, clamped to the image: cairo clips the path's edges to the image, so
 * that a part of the path left (right) of it runs along its left (right) side. */
#define CLAMPX(x, lim) ((x) < 0 ? 0 : (x) > (lim) ? (lim) : (x))

/* The rows of the image crossed by the edges added since fill_begin, scanned as cairo's mono
 * scan converter (cairo-mono-scan-converter.c) does: the sample of row y is at y + 0.5 - 1/512,
 * a span runs from the first pixel centre at or past the edge where the winding leaves 0 to the
 * one where it comes back, and a gap of at most one pixel to the next span is filled. */
int fill_draw(struct fill *f, unsigned char *data, int width, int height, int stride, uint32_t argb)
{
    if (f->n < 2 || height <= 0) return 0;
    if (f->n > f->cap_idx) {
        int *o = realloc(f->order, f->n * sizeof *o);
        if (o) f->order = o;
        struct act *a = realloc(f->act, f->n * sizeof *a);
        if (a) f->act = a;
        struct act *a2 = realloc(f->act2, f->n * sizeof *a2);
        if (a2) f->act2 = a2;
        struct act *nw = realloc(f->nw, f->n * sizeof *nw);
        if (nw) f->nw = nw;
        if (!o || !a || !a2 || !nw) return -1;
        f->cap_idx = f->n;
    }
    if (height + 1 > f->cap_rows) {
        int *r = realloc(f->first, (size_t)(height + 1) * sizeof *r);
        if (!r) return -1;
        f->first = r, f->cap_rows = height + 1;
    }
    /* edges by top row (counting sort); those starting below the image are left out */
    memset(f->first, 0, (size_t)(height + 1) * sizeof *f->first);
    for (size_t i = 0; i < f->n; i++)
        if (f->e[i].top < height) f->first[f->e[i].top + 1]++;
    for (int y = 0; y < height; y++)
        f->first[y + 1] += f->first[y];
    for (size_t i = 0; i < f->n; i++)
        if (f->e[i].top < height) f->order[f->first[f->e[i].top]++] = (int)i;
    for (int y = height; y > 0; y--) /* back to the starts */
        f->first[y] = f->first[y - 1];
    f->first[0] = 0;
    int n_edges = f->first[height];
    size_t n_act = 0;
    int64_t lim = (int64_t)width * FIX;
    for (int y = 0; y < height; y++) {
        if (!n_act && f->first[y] == n_edges) break;
        /* advance the active edges to this row (cairo's DDA), drop the ended ones */
        size_t k = 0;
        for (size_t i = 0; i < n_act; i++) {
            struct fedge *e = &f->e[f->act[i].edge];
            if (e->bot <= y) continue;
            int64_t x = f->act[i].x + e->step;
            e->rem += e->step_rem;
            if (e->rem >= 0) x++, e->rem -= e->dy;
            f->act[k] = f->act[i];
            f->act[k++].x = x;
        }
        n_act = k;
        sort_x(f->act, n_act);
        /* the edges starting on this row, merged in by x */
        size_t n_new = 0;
        for (int i = f->first[y]; i < f->first[y + 1]; i++)
            if (f->e[f->order[i]].bot > y) /* else above the image */
                f->nw[n_new++] = edge_start(&f->e[f->order[i]], f->order[i], y);
        if (n_new) {
            if (n_new < 16)
                sort_x(f->nw, n_new);
            else
                qsort(f->nw, n_new, sizeof *f->nw, cmp_x);
            size_t i = 0, j = 0, m = 0;
            while (i < n_act || j < n_new)
                f->act2[m++] = j == n_new || (i < n_act && f->act[i].x <= f->nw[j].x) ? f->act[i++]
                                                                                      : f->nw[j++];
            struct act *t = f->act;
            f->act = f->act2, f->act2 = t;
            n_act = m;
        }
        uint32_t *row = (uint32_t *)(data + (size_t)y * (size_t)stride);
        int wind = 0, open = 0;
        int64_t start = 0;
        for (size_t i = 0; i < n_act; i++) {
            wind += f->act[i].dir;
            int64_t xe = pix(CLAMPX(f->act[i].x, lim));
            if (wind && !open) {
                open = 1, start = xe;
            } else if (!wind && (i + 1 == n_act || pix(CLAMPX(f->act[i + 1].x, lim)) > xe + 1)) {
                span(row, start, xe, width, argb);
                open = 0;
            }
        }
    }
    return 0;
}
