/* SPDX-License-Identifier: MIT */
/* seed.c: `spp seed` pre-renders every tile of a zoom range inside a box into the tile cache the
 * server uses, with one worker per core (each with its own read-only store connection, PROJ and
 * GEOS contexts, as the server's workers) and a progress bar on a terminal. Tiles already cached
 * are skipped, so an interrupted seed resumes. Both encodings are stored. On PostGIS the file is
 * a replica's own (o->cache_path, tile_cache_replica_path): it is synced with the database's
 * change log before the first tile is made, so it carries the change id its tiles are at least
 * as new as, and the replica that opens it drops the cells changed after that, nothing else.
 * It must not write the store: seeding only reads. */
#include "tiles.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../store/store.h"

struct zrange {
    int z, x0, y0, x1, y1;
    int64_t first; /* index of its first tile in the whole run */
};

struct seeder {
    const struct config *cfg;
    const struct seed_opts *o;
    struct tile_layers tl;
    struct tile_cache *cache;
    struct zrange zr[TILE_MAX_ZOOM + 1];
    int n_zr;
    int64_t total;
    pthread_mutex_t lock;
    int64_t next, done, built;
    int failed;
    struct err err;
};

void tiles_cache_key(char *out, size_t n, const char *fmt, const char *canon, int z, int x, int y,
                     enum role role)
{
    snprintf(out, n, "%s|%s|default|%d/%d/%d|%s", fmt, canon, z, x, y, role_name(role));
}

static int next_tile(struct seeder *s, int *z, int *x, int *y)
{
    pthread_mutex_lock(&s->lock);
    int64_t i = s->failed ? s->total : s->next++;
    pthread_mutex_unlock(&s->lock);
    if (i >= s->total) return 0;
    int k = s->n_zr - 1;
    while (k > 0 && s->zr[k].first > i)
        k--;
    const struct zrange *r = &s->zr[k];
    int64_t off = i - r->first, w = r->x1 - r->x0 + 1;
    *z = r->z;
    *x = r->x0 + (int)(off % w);
    *y = r->y0 + (int)(off / w);
    return 1;
}

struct seed_build {
    struct seeder *s;
    struct store *st;
    struct geo_ctx *geo;
    int z, x, y;
};

/* tiles_get's build: draws the metatile (caching its other tiles) or makes the MVT. */
static int seed_build(void *ud, struct buf *out, struct err *err)
{
    struct seed_build *b = ud;
    struct seeder *s = b->s;
    if (s->o->fmt == TILE_FMT_PNG)
        return tiles_render_png_metatile(b->st, b->geo, s->cfg, s->cache, &s->tl, s->o->role, b->z,
                                         b->x, b->y, 1, out, err);
    return tiles_build_mvt(b->st, b->geo, NULL, s->cfg, &s->tl, s->o->role, b->z, b->x, b->y, out,
                           err);
}

static int seed_one(struct seeder *s, struct store *st, struct geo_ctx *geo, int z, int x, int y,
                    struct buf *raw, struct buf *gz, struct err *err)
{
    char key[1100], etag[40];
    int png = s->o->fmt == TILE_FMT_PNG;
    tiles_cache_key(key, sizeof key, png ? "png" : "mvt", s->tl.canon, z, x, y, s->o->role);
    if (tile_cache_get(s->cache, key, "identity", NULL, etag)) return 0;
    uint64_t gen = tile_cache_generation(s->cache);
    buf_reset(raw);
    buf_reset(gz);
    struct tile_entry e = {key, s->tl.canon, png ? "png" : "mvt", z, x, y};
    struct seed_build b = {s, st, geo, z, x, y};
    int hit;
    int rc = tiles_get(s->cache, &e, "identity", seed_build, &b, raw, etag, &hit, err);
    if (!rc && !png && raw->len) rc = tile_gzip(raw->data, raw->len, gz, err);
    if (!rc && !png && raw->len)
        rc = tile_cache_put(s->cache, key, "gzip", s->tl.canon, z, x, y, "mvt", gen, gz->data,
                            gz->len, etag, err);
    if (!rc && !hit) {
        pthread_mutex_lock(&s->lock);
        s->built++;
        pthread_mutex_unlock(&s->lock);
    }
    return rc;
}

static void *worker(void *arg)
{
    struct seeder *s = arg;
    struct err err;
    err_clear(&err);
    struct store *st = NULL;
    struct geo_ctx *geo = NULL;
    struct buf raw, gz;
    buf_init(&raw);
    buf_init(&gz);
    int rc = store_open(s->cfg->db_path, STORE_READ, &st, &err);
    if (!rc && !(geo = geo_ctx_new(&err))) rc = ERR_INTERNAL;
    int z, x, y;
    while (!rc && next_tile(s, &z, &x, &y)) {
        rc = seed_one(s, st, geo, z, x, y, &raw, &gz, &err);
        pthread_mutex_lock(&s->lock);
        s->done++;
        pthread_mutex_unlock(&s->lock);
    }
    if (rc) {
        pthread_mutex_lock(&s->lock);
        if (!s->failed) s->err = err;
        s->failed = 1;
        pthread_mutex_unlock(&s->lock);
    }
    buf_fini(&raw);
    buf_fini(&gz);
    geo_ctx_free(geo);
    store_close(st);
    return NULL;
}

/* The area to seed in EPSG:3857: the given lon/lat box, or the layers' extent. */
static int seed_area(struct seeder *s, struct bbox *out, struct err *err)
{
    struct store *st = NULL;
    struct geo_ctx *geo = geo_ctx_new(err);
    int rc = geo ? store_open(s->cfg->db_path, STORE_READ, &st, err) : ERR_INTERNAL;
    if (!rc && s->o->has_bbox) {
        rc = geo_transform_bbox(geo, GEO_SRID_CRS84, 3857, &s->o->bbox, out, err);
    } else if (!rc) {
        struct bbox sb;
        bbox_empty(&sb);
        for (int i = 0; i < s->tl.n && !rc; i++) {
            struct layer_state ls;
            rc = store_layer_state(st, s->tl.layers[i], &ls, err);
            if (!rc && ls.has_extent && ls.n_features > 0) bbox_union(&sb, &ls.extent);
        }
        if (!rc && bbox_is_empty(&sb))
            rc = err_set(err, ERR_PARAM, "the layers are empty; give --bbox");
        if (!rc) rc = geo_transform_bbox(geo, store_srid(st), 3857, &sb, out, err);
    }
    if (!rc) rc = tile_cache_sync(s->cache, st, geo, store_srid(st), err);
    store_close(st);
    geo_ctx_free(geo);
    return rc;
}

static void progress(const struct seeder *s, int64_t done, double secs, int final)
{
    int width = 40, fill = s->total ? (int)(width * done / s->total) : width;
    fprintf(stderr, "\r[%.*s%*s] %lld/%lld tiles %.0f/s ", fill,
            "########################################", width - fill, "", (long long)done,
            (long long)s->total, secs > 0 ? (double)done / secs : 0.0);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int run_workers(struct seeder *s)
{
    int n = s->o->threads > 0 ? s->o->threads : 2;
    pthread_t th[64];
    if (n > 64) n = 64;
    int started = 0;
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, worker, s) == 0) started++;
    if (!started) return err_set(&s->err, ERR_INTERNAL, "cannot start seeding threads");
    double t0 = now_s();
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int64_t done = s->done;
        int stop = s->failed || done >= s->total;
        pthread_mutex_unlock(&s->lock);
        if (s->o->progress) progress(s, done, now_s() - t0, 0);
        if (stop) break;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (s->o->progress) progress(s, s->done, now_s() - t0, 1);
    return s->failed ? (int)s->err.code : 0;
}

int tiles_seed(const struct config *cfg, const struct seed_opts *o, int64_t *n_tiles,
               struct err *err)
{
    if (o->z0 < 0 || o->z1 > TILE_MAX_ZOOM || o->z0 > o->z1)
        return err_set(err, ERR_PARAM, "--zoom must be A-B with 0 <= A <= B <= %d", TILE_MAX_ZOOM);
    struct seeder *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_NOMEM, "out of memory");
    s->cfg = cfg, s->o = o;
    pthread_mutex_init(&s->lock, NULL);
    char *path = o->cache_path ? str_dup(o->cache_path) : tile_cache_path(cfg->db_path);
    int rc = tiles_parse_layers(&cfg->catalog, o->layers, o->role, &s->tl, err);
    if (!rc && (!path || tile_cache_open(path, (size_t)64 << 20, &s->cache, err)))
        rc = path ? ERR_IO : err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) tile_cache_set_disk_limit(s->cache, path, cfg->tile_cache_max_mb);
    struct bbox area;
    if (!rc) rc = seed_area(s, &area, err);
    for (int z = o->z0; !rc && z <= o->z1; z++) {
        struct zrange *r = &s->zr[s->n_zr++];
        r->z = z;
        tile_range(z, &area, &r->x0, &r->y0, &r->x1, &r->y1);
        r->first = s->total;
        s->total += (int64_t)(r->x1 - r->x0 + 1) * (r->y1 - r->y0 + 1);
    }
    if (!rc) {
        rc = run_workers(s);
        if (rc) *err = s->err;
    }
    if (n_tiles) *n_tiles = s->built;
    tile_cache_close(s->cache);
    free(path);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
}
