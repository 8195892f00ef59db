/* SPDX-License-Identifier: MIT */
/* wkb.c: decodes and encodes 2D WKB into struct geom, the in-memory geometry every output
 * writer (GeoJSON, GML, MVT, cairo) walks. Bounds-checked: WKB may come from a request. */
#include "geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void geom_init(struct geom *g)
{
    memset(g, 0, sizeof *g);
}

void geom_fini(struct geom *g)
{
    free(g->parts);
    free(g->coords);
    geom_init(g);
}

struct reader {
    const unsigned char *p, *end;
    int depth;
};

static int rd_u32(struct reader *r, int le, uint32_t *v)
{
    if (r->end - r->p < 4) return -1;
    const unsigned char *b = r->p;
    *v = le ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
            : (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
    r->p += 4;
    return 0;
}

static int rd_f64(struct reader *r, int le, double *v)
{
    if (r->end - r->p < 8) return -1;
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = le ? r->p[i] : r->p[7 - i];
    memcpy(v, b, 8); /* host is little endian (x86_64, aarch64) */
    r->p += 8;
    return 0;
}

static struct geom_part *new_part(struct geom *g, int n, int ring)
{
    if (g->n_parts == g->cap_parts) {
        int cap = g->cap_parts ? g->cap_parts * 2 : 8;
        struct geom_part *p = realloc(g->parts, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        g->parts = p;
        g->cap_parts = cap;
    }
    /* allocated even for an empty part, so that part->xy is never computed from NULL */
    if (g->n_coords + 2 * (size_t)n > g->cap_coords || !g->coords) {
        size_t cap = g->cap_coords ? g->cap_coords : 64;
        while (cap < g->n_coords + 2 * (size_t)n)
            cap *= 2;
        double *c = realloc(g->coords, cap * sizeof *c);
        if (!c) return NULL;
        /* re-point earlier parts into the moved array: parts are laid out back to back, in
         * order (the old pointer's value may not be used once it was freed) */
        size_t off = 0;
        for (int i = 0; i < g->n_parts; i++) {
            g->parts[i].xy = c + off;
            off += 2 * (size_t)g->parts[i].n;
        }
        g->coords = c;
        g->cap_coords = cap;
    }
    struct geom_part *part = &g->parts[g->n_parts++];
    part->n = n;
    part->ring = ring;
    part->xy = g->coords + g->n_coords;
    g->n_coords += 2 * (size_t)n;
    return part;
}

static int rd_points(struct reader *r, struct geom *g, int le, int dims, int ring)
{
    uint32_t n;
    if (rd_u32(r, le, &n)) return -1;
    if ((size_t)(r->end - r->p) / (8u * (unsigned)dims) < n) return -1;
    struct geom_part *part = new_part(g, (int)n, ring);
    if (!part) return -2;
    if (le && dims == 2) { /* the common case: the bytes are the doubles (little-endian host) */
        memcpy(part->xy, r->p, (size_t)n * 16);
        r->p += (size_t)n * 16;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        double skip;
        if (rd_f64(r, le, &part->xy[2 * i]) || rd_f64(r, le, &part->xy[2 * i + 1])) return -1;
        for (int d = 2; d < dims; d++)
            if (rd_f64(r, le, &skip)) return -1;
    }
    return 0;
}

/* Reads one geometry. want: the type a Multi* member must have (its base type), 0 at the top.
 * A member of another type (a polygon inside a MultiPoint, a Multi inside a Multi) is malformed:
 * every writer relies on parts matching the whole geometry's type. */
static int rd_geom(struct reader *r, struct geom *g, int top, uint32_t want)
{
    if (++r->depth > 8 || r->p >= r->end) return -1;
    int le = *r->p++ == 1;
    uint32_t type;
    if (rd_u32(r, le, &type)) return -1;
    int dims = 2;
    if (type & 0x80000000u) dims++;    /* EWKB Z */
    if (type & 0x40000000u) dims++;    /* EWKB M */
    if (type & 0x20000000u) return -1; /* EWKB SRID not expected */
    type &= 0x0fffffffu;
    if (type >= 3000)
        dims = 4, type -= 3000;
    else if (type >= 2000)
        dims = 3, type -= 2000;
    else if (type >= 1000)
        dims = 3, type -= 1000;
    if (type < 1 || type > 6 || (want && type != want)) return -1;
    if (top) g->type = (int)type;
    int rc = 0;
    uint32_t n;
    switch (type) {
    case 1: {
        struct geom_part *part = new_part(g, 1, 0);
        if (!part) return -2;
        double skip;
        if (rd_f64(r, le, &part->xy[0]) || rd_f64(r, le, &part->xy[1])) return -1;
        for (int d = 2; d < dims; d++)
            if (rd_f64(r, le, &skip)) return -1;
        break;
    }
    case 2:
        rc = rd_points(r, g, le, dims, 0);
        break;
    case 3:
        if (rd_u32(r, le, &n)) return -1;
        if (n > (size_t)(r->end - r->p) / 4) return -1;
        for (uint32_t i = 0; i < n && !rc; i++)
            rc = rd_points(r, g, le, dims, i > 0);
        if (n > 0) g->n_polys++;
        break;
    default:
        if (rd_u32(r, le, &n)) return -1;
        if (n > (size_t)(r->end - r->p) / 5) return -1;
        for (uint32_t i = 0; i < n && !rc; i++) {
            rc = rd_geom(r, g, 0, type - 3);
        }
    }
    r->depth--;
    return rc;
}

int geom_from_wkb(struct geom *g, const unsigned char *wkb, size_t len, struct err *err)
{
    g->n_parts = 0;
    g->n_polys = 0;
    g->n_coords = 0;
    g->type = 0;
    struct reader r = {wkb, wkb + len, 0};
    int rc = rd_geom(&r, g, 1, 0);
    if (rc == -2) return err_set(err, ERR_NOMEM, "out of memory");
    if (rc) return err_set(err, ERR_PARAM, "malformed WKB geometry");
    return 0;
}

static int put_u32(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return buf_append(b, x, 4);
}

static int put_pts(struct buf *b, const struct geom_part *p, int with_count)
{
    if (with_count && put_u32(b, (uint32_t)p->n)) return ERR_NOMEM;
    return buf_append(b, p->xy, (size_t)p->n * 2 * sizeof(double));
}

int geom_to_wkb(const struct geom *g, struct buf *b)
{
    int rc = 0;
    int base = g->type > 3 ? g->type - 3 : g->type;
    int multi = g->type > 3;
    int n_items = base == 3 ? g->n_polys : g->n_parts;
    if (multi) {
        rc |= buf_putc(b, 1) | put_u32(b, (uint32_t)g->type) | put_u32(b, (uint32_t)n_items);
    }
    for (int i = 0; i < g->n_parts && !rc;) {
        rc |= buf_putc(b, 1) | put_u32(b, (uint32_t)base);
        if (base == 1) {
            rc |= put_pts(b, &g->parts[i], 0);
            i++;
        } else if (base == 2) {
            rc |= put_pts(b, &g->parts[i], 1);
            i++;
        } else {
            int j = i + 1;
            while (j < g->n_parts && g->parts[j].ring)
                j++;
            rc |= put_u32(b, (uint32_t)(j - i));
            for (int k = i; k < j; k++)
                rc |= put_pts(b, &g->parts[k], 1);
            i = j;
        }
        if (!multi) break;
    }
    return rc ? ERR_NOMEM : 0;
}

void geom_bbox(const struct geom *g, struct bbox *b)
{
    bbox_empty(b);
    for (int i = 0; i < g->n_parts; i++)
        for (int k = 0; k < g->parts[i].n; k++)
            bbox_add(b, g->parts[i].xy[2 * k], g->parts[i].xy[2 * k + 1]);
}

/* Distance from a point to a segment. */
static double seg_dist2(double px, double py, const double *a, const double *b)
{
    double dx = b[0] - a[0], dy = b[1] - a[1], len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? ((px - a[0]) * dx + (py - a[1]) * dy) / len2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = px - (a[0] + t * dx), ey = py - (a[1] + t * dy);
    return ex * ex + ey * ey;
}

/* Crossing-number test of a closed ring. */
static int in_ring(double px, double py, const struct geom_part *r)
{
    int in = 0;
    for (int i = 0, j = r->n - 1; i < r->n; j = i++) {
        const double *a = &r->xy[2 * i], *b = &r->xy[2 * j];
        if ((a[1] > py) != (b[1] > py) && px < (b[0] - a[0]) * (py - a[1]) / (b[1] - a[1]) + a[0])
            in = !in;
    }
    return in;
}

double geom_point_distance(const struct geom *g, double x, double y)
{
    int polygonal = g->type == 3 || g->type == 6;   /* (MULTI)POLYGON */
    for (int i = 0; polygonal && i < g->n_parts;) { /* inside a polygon (not in a hole): 0 */
        int j = i + 1;
        while (j < g->n_parts && g->parts[j].ring)
            j++;
        int in = in_ring(x, y, &g->parts[i]);
        for (int k = i + 1; in && k < j; k++)
            in = !in_ring(x, y, &g->parts[k]);
        if (in) return 0;
        i = j;
    }
    double best = INFINITY;
    for (int i = 0; i < g->n_parts; i++) {
        const struct geom_part *p = &g->parts[i];
        for (int k = 0; k < p->n; k++) {
            double d = k + 1 < p->n ? seg_dist2(x, y, &p->xy[2 * k], &p->xy[2 * k + 2])
                                    : seg_dist2(x, y, &p->xy[2 * k], &p->xy[2 * k]);
            if (d < best) best = d;
        }
    }
    return sqrt(best);
}
