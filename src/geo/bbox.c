/* SPDX-License-Identifier: MIT */
/* bbox.c: bounding boxes and the WebMercatorQuad tile grid. Pure arithmetic, no library. */
#include "geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bbox_empty(struct bbox *b)
{
    b->minx = b->miny = INFINITY;
    b->maxx = b->maxy = -INFINITY;
}

int bbox_is_empty(const struct bbox *b)
{
    return !(b->minx <= b->maxx && b->miny <= b->maxy);
}

void bbox_add(struct bbox *b, double x, double y)
{
    if (x < b->minx) b->minx = x;
    if (x > b->maxx) b->maxx = x;
    if (y < b->miny) b->miny = y;
    if (y > b->maxy) b->maxy = y;
}

void bbox_union(struct bbox *b, const struct bbox *o)
{
    if (bbox_is_empty(o)) return;
    bbox_add(b, o->minx, o->miny);
    bbox_add(b, o->maxx, o->maxy);
}

int bbox_intersects(const struct bbox *a, const struct bbox *b)
{
    return a->minx <= b->maxx && b->minx <= a->maxx && a->miny <= b->maxy && b->miny <= a->maxy;
}

int bbox_parse(char *s, struct bbox *b, const char **crs, struct err *err)
{
    double v[4];
    char *p = s;
    if (crs) *crs = NULL;
    for (int i = 0; i < 4; i++) {
        char *comma = strchr(p, ',');
        if (i < 3 && !comma) return err_set(err, ERR_PARAM, "BBOX needs 4 numbers");
        if (comma) *comma = '\0';
        int bad = str_to_double(p, &v[i]) || !isfinite(v[i]);
        if (comma) *comma = ',';
        if (bad) return err_set(err, ERR_PARAM, "BBOX value %d is not a number", i + 1);
        if (!comma) {
            p = NULL;
            break;
        }
        p = comma + 1;
        if (i == 3) {
            if (!crs) return err_set(err, ERR_PARAM, "BBOX has more than 4 values");
            *crs = p;
        }
    }
    if (crs && *crs && !**crs) return err_set(err, ERR_PARAM, "BBOX has an empty CRS");
    if (v[0] > v[2] || v[1] > v[3])
        return err_set(err, ERR_PARAM, "BBOX minimum is greater than maximum");
    b->minx = v[0], b->miny = v[1], b->maxx = v[2], b->maxy = v[3];
    return 0;
}

void tile_bbox(int z, int x, int y, struct bbox *out)
{
    double size = 2 * WEBMERC_HALF / (double)(1u << z);
    out->minx = -WEBMERC_HALF + x * size;
    out->maxx = out->minx + size;
    out->maxy = WEBMERC_HALF - y * size;
    out->miny = out->maxy - size;
}

int tile_valid(int z, int x, int y)
{
    if (z < 0 || z > 24) return 0;
    long n = 1L << z;
    return x >= 0 && y >= 0 && x < n && y < n;
}

void tile_range(int z, const struct bbox *b, int *x0, int *y0, int *x1, int *y1)
{
    long n = 1L << z;
    double size = 2 * WEBMERC_HALF / (double)n;
    double fx0 = floor((b->minx + WEBMERC_HALF) / size),
           fx1 = floor((b->maxx + WEBMERC_HALF) / size);
    double fy0 = floor((WEBMERC_HALF - b->maxy) / size),
           fy1 = floor((WEBMERC_HALF - b->miny) / size);
    *x0 = (int)fmax(0, fmin((double)n - 1, fx0));
    *x1 = (int)fmax(0, fmin((double)n - 1, fx1));
    *y0 = (int)fmax(0, fmin((double)n - 1, fy0));
    *y1 = (int)fmax(0, fmin((double)n - 1, fy1));
}

/* VN-2000 TM-3 zones and their central meridians (proj.db, EPSG v10). */
static const struct {
    int srid;
    double lon0;
} tm3[] = {{5896, 102},   {9205, 103},    {9206, 104},    {9207, 104.5}, {9208, 104.75},
           {5897, 105},   {9209, 105.5},  {9210, 105.75}, {9211, 106},   {9212, 106.25},
           {9213, 106.5}, {9214, 107},    {9215, 107.25}, {9216, 107.5}, {5899, 107.75},
           {5898, 108},   {9217, 108.25}, {9218, 108.5}};

int geo_advertised_crs(int storage_srid, int *out, int max)
{
    int n = 0;
    int base[] = {storage_srid, 4326, 84, 3857, 4756};
    for (size_t i = 0; i < sizeof base / sizeof base[0] && n < max; i++) {
        int dup = 0;
        for (int k = 0; k < n; k++)
            dup |= out[k] == base[i];
        if (!dup) out[n++] = base[i];
    }
    double lon0 = -1;
    for (size_t i = 0; i < sizeof tm3 / sizeof tm3[0]; i++)
        if (tm3[i].srid == storage_srid) lon0 = tm3[i].lon0;
    for (size_t i = 0; i < sizeof tm3 / sizeof tm3[0] && n < max; i++)
        if (lon0 >= 0 && tm3[i].srid != storage_srid && fabs(tm3[i].lon0 - lon0) <= 0.75)
            out[n++] = tm3[i].srid;
    if (n < max && storage_srid != 3405) out[n++] = 3405;
    if (n < max && storage_srid != 3406) out[n++] = 3406;
    return n;
}
