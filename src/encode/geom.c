/* SPDX-License-Identifier: MIT */
/* geom.c: the geometries of one response: the store's WKB decoded once into a reused struct
 * geom and all its coordinates transformed in one geo_transform call (the official VN-2000
 * operation), through a cache of vertices already transformed in this response (a parcel
 * fabric shares most of its vertices). The formats only print what is loaded here. */
#include "encode_int.h"

#include <stdlib.h>
#include <string.h>

/* Vertex cache: open addressing on the exact input coordinates. Cleared (by generation) when
 * half full, so it stays small enough to be allocated per response. */
#define XY_SLOTS 4096

struct xy_entry {
    double x, y, tx, ty;
    uint32_t gen;
};

struct xy_cache {
    struct xy_entry e[XY_SLOTS];
    uint32_t gen;
    int used;
    int *slot_of; /* per input point */
    double *miss; /* unique missing points, xy */
    int *miss_slot;
    size_t cap;
};

static uint32_t xy_hash(double x, double y)
{
    uint64_t a, b;
    memcpy(&a, &x, 8);
    memcpy(&b, &y, 8);
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    return (uint32_t)(h >> 40) & (XY_SLOTS - 1);
}

static int cache_grow(struct xy_cache *c, size_t n)
{
    if (n <= c->cap) return 0;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < n)
        cap *= 2;
    int *so = realloc(c->slot_of, cap * sizeof *so);
    if (so) c->slot_of = so;
    double *m = realloc(c->miss, cap * 2 * sizeof *m);
    if (m) c->miss = m;
    int *ms = realloc(c->miss_slot, cap * sizeof *ms);
    if (ms) c->miss_slot = ms;
    if (!so || !m || !ms) return ERR_NOMEM;
    c->cap = cap;
    return 0;
}

void encode_cache_free(struct xy_cache *c)
{
    if (!c) return;
    free(c->slot_of);
    free(c->miss);
    free(c->miss_slot);
    free(c);
}

int encode_transform(struct xy_cache **cache, struct geo_ctx *geo, int src, int dst, double *xy,
                     size_t n, struct err *err)
{
    if (src == dst || n == 0) return 0;
    if (n > XY_SLOTS / 4) /* a big geometry: one batch, no cache */
        return geo_transform(geo, src, dst, xy, n, err);
    struct xy_cache *c = *cache;
    if (!c) {
        c = *cache = calloc(1, sizeof *c);
        if (!c) return err_set(err, ERR_NOMEM, "out of memory");
        c->gen = 1;
    }
    if (cache_grow(c, n)) return err_set(err, ERR_NOMEM, "out of memory");
    if (c->used + (int)n > XY_SLOTS / 2) c->gen++, c->used = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        uint32_t h = xy_hash(x, y);
        struct xy_entry *e;
        for (;;) {
            e = &c->e[h];
            if (e->gen != c->gen) { /* empty: reserve it for this point */
                e->x = x, e->y = y, e->gen = c->gen;
                c->miss[2 * k] = x, c->miss[2 * k + 1] = y;
                c->miss_slot[k++] = (int)h;
                c->used++;
                break;
            }
            if (e->x == x && e->y == y) break;
            h = (h + 1) & (XY_SLOTS - 1);
        }
        c->slot_of[i] = (int)h;
    }
    if (k) {
        int rc = geo_transform(geo, src, dst, c->miss, k, err);
        if (rc) {
            c->gen++, c->used = 0; /* reserved entries hold nothing valid */
            return rc;
        }
        for (size_t j = 0; j < k; j++) {
            struct xy_entry *e = &c->e[c->miss_slot[j]];
            e->tx = c->miss[2 * j], e->ty = c->miss[2 * j + 1];
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct xy_entry *e = &c->e[c->slot_of[i]];
        xy[2 * i] = e->tx, xy[2 * i + 1] = e->ty;
    }
    return 0;
}

void encode_geom_init(struct encode_geom *eg, struct geo_ctx *geo, int src_srid, int dst_srid,
                      int geographic)
{
    memset(eg, 0, sizeof *eg);
    eg->geo = geo;
    eg->src_srid = src_srid;
    eg->dst_srid = dst_srid;
    eg->decimals = geographic ? 8 : 3;
    geom_init(&eg->g);
}

void encode_geom_fini(struct encode_geom *eg)
{
    geom_fini(&eg->g);
    encode_cache_free(eg->cache);
    eg->cache = NULL;
}

int encode_geom_load(struct encode_geom *eg, const unsigned char *wkb, size_t len, struct err *err)
{
    int rc = geom_from_wkb(&eg->g, wkb, len, err);
    if (rc) return rc;
    if (eg->src_srid != eg->dst_srid && eg->g.n_coords)
        rc = encode_transform(&eg->cache, eg->geo, eg->src_srid, eg->dst_srid, eg->g.coords,
                              eg->g.n_coords / 2, err);
    return rc;
}
