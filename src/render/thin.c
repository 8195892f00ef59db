/* SPDX-License-Identifier: MIT */
/* thin.c: anti-aliased hairlines (solid strokes up to 1.5 px, the parcel and building outlines
 * that make most of a cadastral tile) drawn straight into the ARGB32 image with Xiaolin Wu's
 * algorithm. cairo's general stroker builds a polygon per segment and dominated tile time; a
 * hairline needs only the two pixels it crosses per column (or row). Segments are clipped to the
 * image first, so far-away vertices cost nothing. */
#include "render_int.h"

#include <math.h>

struct thin {
    unsigned char *data;
    int width, height, stride;
    unsigned r, g, b; /* colour 0..255 */
    double alpha;     /* opacity x width factor */
};

static inline __attribute__((always_inline)) void plot(const struct thin *t, int x, int y, double c)
{
    if ((unsigned)x >= (unsigned)t->width || (unsigned)y >= (unsigned)t->height || c <= 0) return;
    int ai = (int)(c * t->alpha * AA_LEVELS + 0.5) * 255 / AA_LEVELS;
    if (ai <= 0) return;
    uint32_t *p = (uint32_t *)(t->data + (size_t)y * t->stride) + x;
    *p = blend_px(*p, t->r, t->g, t->b, ai > 255 ? 255 : (unsigned)ai);
}

int clip_segment(double *x0, double *y0, double *x1, double *y1, double lo, double hx, double hy)
{
    if (*x0 >= lo && *x0 <= hx && *y0 >= lo && *y0 <= hy && *x1 >= lo && *x1 <= hx && *y1 >= lo &&
        *y1 <= hy) { /* inside (most segments): what the clip below computes */
        *x1 = *x0 + (*x1 - *x0), *y1 = *y0 + (*y1 - *y0);
        return 1;
    }
    if (!isfinite(*x0) || !isfinite(*y0) || !isfinite(*x1) || !isfinite(*y1)) return 0;
    double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {*x0 - lo, hx - *x0, *y0 - lo, hy - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0) {
            if (r > t1) return 0;
            if (r > t0) t0 = r;
        } else {
            if (r < t0) return 0;
            if (r < t1) t1 = r;
        }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy;
    *x1 = *x0 + t1 * dx, *y1 = *y0 + t1 * dy;
    *x0 = ax, *y0 = ay;
    return 1;
}

/* floor for |v| < 2^31, inline: without SSE4.1 floor() is a library call, and a hairline calls
 * it for every column it crosses. */
static inline int ifloor(double v)
{
    int i = (int)v;
    return i - (v < i);
}

static double fpart(double v)
{
    return v - ifloor(v);
}

static void wu(const struct thin *t, double x0, double y0, double x1, double y1)
{
    if (!clip_segment(&x0, &y0, &x1, &y1, -2, t->width + 2, t->height + 2)) return;
    /* pixel centres are at .5 in cairo's space, at integers in Wu's */
    x0 -= 0.5, y0 -= 0.5, x1 -= 0.5, y1 -= 0.5;
    int steep = fabs(y1 - y0) > fabs(x1 - x0);
    double tmp;
    if (steep) tmp = x0, x0 = y0, y0 = tmp, tmp = x1, x1 = y1, y1 = tmp;
    if (x0 > x1) tmp = x0, x0 = x1, x1 = tmp, tmp = y0, y0 = y1, y1 = tmp;
    double dx = x1 - x0, dy = y1 - y0, grad = dx == 0 ? 1 : dy / dx;
    int xs = ifloor(x0 + 0.5), xe = ifloor(x1 + 0.5);
    if (xs == xe) { /* shorter than a pixel: one dab weighted by its length */
        double len = sqrt(dx * dx + dy * dy), y = (y0 + y1) / 2;
        int yi = ifloor(y);
        double f = y - yi;
        if (steep)
            plot(t, yi, xs, (1 - f) * len), plot(t, yi + 1, xs, f * len);
        else
            plot(t, xs, yi, (1 - f) * len), plot(t, xs, yi + 1, f * len);
        return;
    }
    double y = y0 + grad * (xs - x0);
    /* end columns are covered partly: weight by the covered fraction */
    double cover_s = 1 - fpart(x0 + 0.5), cover_e = fpart(x1 + 0.5);
    for (int x = xs; x <= xe; x++, y += grad) {
        int yi = ifloor(y);
        double f = y - yi, f0 = 1 - f, f1 = f;
        if (x == xs || x == xe) { /* the inner columns' weight is 1: (1 - f) * 1 is 1 - f */
            double c = x == xs ? cover_s : cover_e;
            f0 *= c, f1 *= c;
        }
        if (steep)
            plot(t, yi, x, f0), plot(t, yi + 1, x, f1);
        else
            plot(t, x, yi, f0), plot(t, x, yi + 1, f1);
    }
}

void thin_polyline(cairo_surface_t *surf, const double *xy, int n, int closed, uint32_t rgb,
                   double opacity, double width)
{
    struct thin t = {cairo_image_surface_get_data(surf),
                     cairo_image_surface_get_width(surf),
                     cairo_image_surface_get_height(surf),
                     cairo_image_surface_get_stride(surf),
                     (rgb >> 16) & 255,
                     (rgb >> 8) & 255,
                     rgb & 255,
                     opacity * width};
    /* a line steeper than 45 degrees covers more than one pixel per column: compensate so a
     * diagonal looks as heavy as a horizontal line */
    double lx = xy[0], ly = xy[1];
    for (int i = 1; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        if (fabs(x - lx) + fabs(y - ly) < 0.33 && i < n - 1) continue;
        double ax = fabs(x - lx), ay = fabs(y - ly);
        double len = sqrt((x - lx) * (x - lx) + (y - ly) * (y - ly)), major = ax > ay ? ax : ay;
        struct thin ts = t;
        if (major > 0) ts.alpha = t.alpha * len / major;
        wu(&ts, lx, ly, x, y);
        lx = x, ly = y;
    }
    if (closed && n > 2 && (lx != xy[0] || ly != xy[1])) wu(&t, lx, ly, xy[0], xy[1]);
}
