/* SPDX-License-Identifier: MIT */
/* handlers.c: the HTTP side of tiles: /tiles/{layers}/{z}/{x}/{y}.mvt through the cache (ETag,
 * If-None-Match -> 304, gzip stored once per tile) and TileJSON 3.0 at /tiles/{layers}.json.
 * An empty tile is a 200 like any other (with its ETag): an empty body for MVT (a tile with no
 * layers is zero bytes of protobuf), the shared blank image for raster tiles. No 204: Leaflet,
 * GDAL and WMTS clients take it for a failed tile. */
#include "tiles.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"

/* 1 if the client accepts gzip (Accept-Encoding lists gzip or *, without q=0). */
static int accepts_gzip(const char *ae)
{
    if (!ae) return 0;
    const char *p = strstr(ae, "gzip");
    if (!p) p = strstr(ae, "*");
    if (!p) return 0;
    const char *end = strchr(p, ',');
    const char *q = strstr(p, "q=");
    if (q && (!end || q < end)) {
        double v = 0;
        if (sscanf(q + 2, "%lf", &v) != 1 || v <= 0) return 0;
    }
    return 1;
}

static int etag_matches(const char *inm, const char *etag)
{
    if (!inm) return 0;
    if (strcmp(inm, "*") == 0) return 1;
    return strstr(inm, etag) != NULL;
}

/* blank_px: the size of a raster tile (its blank image replaces an empty body), 0 for MVT. */
static int answer(const struct request *req, struct response *res, const char *ctype,
                  const char *etag, int gz, int blank_px, struct err *err)
{
    if (blank_px && !res->body.len && !res->body_shared) {
        const char *data, *tag;
        size_t len;
        int rc = tiles_blank_image(RFMT_PNG, blank_px, blank_px, &data, &len, &tag, err);
        if (rc) return rc;
        if (buf_append(&res->body, data, len)) return err_set(err, ERR_NOMEM, "out of memory");
        etag = tag;
    }
    resp_header(res, "ETag", etag);
    resp_header(res, "Cache-Control",
                req->role == ROLE_PUBLIC ? "public, no-cache" : "private, no-cache");
    resp_header(res, "Vary", "Accept-Encoding, X-API-Key, Authorization");
    if (etag_matches(req->if_none_match, etag)) {
        resp_body_clear(res);
        resp_set(res, 304, ctype);
        return 0;
    }
    resp_set(res, 200, ctype);
    if (gz && (res->body.len || res->body_shared)) resp_header(res, "Content-Encoding", "gzip");
    return 0;
}

/* A memory hit made the body without a copy (the server's requests: res->allow_shared), the
 * ETag copied; 0 otherwise (an empty tile too: its answer is made by answer()). */
static int shared_hit(struct tile_cache *c, const char *key, const char *enc, struct response *res,
                      char etag[40])
{
    const char *data;
    size_t len;
    if (!c || !res->allow_shared || !tile_cache_get_shared(c, key, enc, &data, &len, etag))
        return 0;
    if (!len) {
        tile_bytes_release((void *)data);
        return 0;
    }
    resp_body_shared(res, data, len, tile_bytes_release);
    return 1;
}

/* The cache after catching up with spp_changes; NULL (make the tile, do not store it) when the
 * changes cannot be read, so a stale tile is never served. */
static struct tile_cache *sync_or_bypass(struct request *req)
{
    struct err e;
    err_clear(&e);
    if (!tile_cache_sync(req->tiles, req->store, req->geo, store_srid(req->store), &e))
        return req->tiles;
    log_msg("warn", "tile cache bypassed: %s", e.msg);
    return NULL;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct tile_req {
    int z, x, y;
    struct tile_layers tl;
    char key[1100];
};

static int parse_request(struct request *req, struct tile_req *t, struct err *err)
{
    int rc = tiles_parse_zxy(req_param(req, "z"), req_param(req, "x"), req_param(req, "y"), &t->z,
                             &t->x, &t->y, NULL, err);
    if (!rc)
        rc = tiles_parse_layers(&req->cfg->catalog, req_param(req, "layers"), req->role, &t->tl,
                                err);
    if (!rc)
        tiles_cache_key(t->key, sizeof t->key, "mvt", t->tl.canon, t->z, t->x, t->y, req->role);
    return rc;
}

/* A tile from the cache ran no query: tell the store's read tracking (the audit of restricted
 * reads) what the tile carries, as the query that made it did. */
static void note_cached(struct request *req, const struct tile_layers *tl, int with_fields)
{
    if (!req->store || req->role == ROLE_PUBLIC) return;
    for (int i = 0; i < tl->n; i++)
        store_note_cached(req->store, tl->layers[i], req->role, with_fields);
}

struct mvt_build {
    struct request *req;
    const struct tile_req *t;
};

/* A miss: makes the MVT (tiles_get's build). */
static int build_mvt(void *ud, struct buf *out, struct err *err)
{
    struct mvt_build *b = ud;
    struct request *req = b->req;
    const struct tile_req *t = b->t;
    tile_stats_count(&t->tl, TILE_FMT_MVT, TILE_STAT_MISS);
    double t0 = now_seconds();
    int rc = tiles_build_mvt(req->store, req->geo, req->par, req->cfg, &t->tl, req->role, t->z,
                             t->x, t->y, out, err);
    if (!rc) tile_stats_render(TILE_FMT_MVT, now_seconds() - t0);
    return rc;
}

int tiles_mvt(struct request *req, struct response *res, struct err *err)
{
    struct tile_req t;
    int rc = parse_request(req, &t, err);
    if (rc) return rc;
    const char *ctype = "application/vnd.mapbox-vector-tile";
    int gz = accepts_gzip(req->accept_encoding);
    char etag[40];
    struct tile_cache *c = req->tiles;
    uint64_t gen = 0;
    if (c && (c = sync_or_bypass(req))) {
        gen = tile_cache_generation(c);
        if (shared_hit(c, t.key, gz ? "gzip" : "identity", res, etag) ||
            (gz && tile_cache_get(c, t.key, "gzip", &res->body, etag))) {
            tile_stats_count(&t.tl, TILE_FMT_MVT, TILE_STAT_HIT);
            note_cached(req, &t.tl, 1);
            return answer(req, res, ctype, etag, gz, 0, err);
        }
    }
    /* the identity bytes: cached, or made and cached; gzip is made from them */
    struct tile_entry e = {t.key, t.tl.canon, "mvt", t.z, t.x, t.y};
    struct mvt_build mb = {req, &t};
    struct buf raw;
    buf_init(&raw);
    int hit;
    rc = tiles_get(c, &e, "identity", build_mvt, &mb, gz ? &raw : &res->body, etag, &hit, err);
    if (!rc && hit) {
        tile_stats_count(&t.tl, TILE_FMT_MVT, TILE_STAT_HIT); /* gzip: only its copy was missing */
        note_cached(req, &t.tl, 1);
    }
    if (!rc && gz && raw.len) {
        rc = tile_gzip(raw.data, raw.len, &res->body, err);
        if (!rc && c)
            rc = tile_cache_put(c, t.key, "gzip", t.tl.canon, t.z, t.x, t.y, "mvt", gen,
                                res->body.data, res->body.len, etag, err);
        else if (!rc)
            tile_etag(res->body.data, res->body.len, "gzip", etag);
    } else if (!rc && gz) {
        gz = 0; /* an empty tile is not compressed */
    }
    buf_fini(&raw);
    if (!rc) rc = answer(req, res, ctype, etag, gz, 0, err);
    return rc;
}

struct png_build {
    struct request *req;
    struct tile_cache *c;
    const struct tile_layers *tl;
    int z, x, y, scale;
};

/* A miss: draws the metatile (tiles_get's build; its other tiles are cached on the way), or
 * hands it to a render thread. */
static int build_png(void *ud, struct buf *out, struct err *err)
{
    struct png_build *b = ud;
    struct request *req = b->req;
    if (req->defer_render) { /* a miss is drawn on a render thread (issue 18) */
        req->render_wanted = 1;
        return err_set(err, ERR_LIMIT, "drawn on a render thread");
    }
    tile_stats_count(b->tl, TILE_FMT_PNG, TILE_STAT_MISS);
    double t0 = now_seconds();
    int rc = tiles_render_png(req->store, req->geo, req->cfg, b->c, b->tl, req->role, b->z, b->x,
                              b->y, b->scale, out, err);
    if (!rc) tile_stats_render(TILE_FMT_PNG, now_seconds() - t0);
    return rc;
}

int tiles_png_answer(struct request *req, struct response *res, const char *layers, int z, int x,
                     int y, int scale, struct err *err)
{
    struct tile_layers tl;
    int rc = tiles_parse_layers(&req->cfg->catalog, layers, req->role, &tl, err);
    if (rc) return rc;
    char key[1100], etag[40];
    tiles_cache_key(key, sizeof key, scale == 2 ? "png@2x" : "png", tl.canon, z, x, y, req->role);
    struct tile_cache *c = req->tiles;
    if (c) c = sync_or_bypass(req);
    struct tile_entry e = {key, tl.canon, "png", z, x, y};
    struct png_build pb = {req, c, &tl, z, x, y, scale};
    int hit = shared_hit(c, key, "identity", res, etag);
    rc = hit ? 0 : tiles_get(c, &e, "identity", build_png, &pb, &res->body, etag, &hit, err);
    if (!rc && hit) {
        tile_stats_count(&tl, TILE_FMT_PNG, TILE_STAT_HIT);
        note_cached(req, &tl, 0);
    }
    if (!rc) rc = answer(req, res, "image/png", etag, 0, 256 * scale, err);
    return rc;
}

int tiles_png(struct request *req, struct response *res, struct err *err)
{
    int z, x, y, scale;
    int rc = tiles_parse_zxy(req_param(req, "z"), req_param(req, "x"), req_param(req, "y"), &z, &x,
                             &y, &scale, err);
    if (rc) return rc;
    return tiles_png_answer(req, res, req_param(req, "layers"), z, x, y, scale, err);
}

/* ---- TileJSON ---- */

static int put_layer(struct buf *b, const struct layer_def *l, enum role role)
{
    int rc = buf_puts(b, "{\"id\":") || buf_put_json_str(b, l->id) ||
             buf_puts(b, ",\"description\":") ||
             buf_put_json_str(b, l->title_en ? l->title_en : l->id) ||
             buf_printf(b, ",\"minzoom\":%d,\"maxzoom\":%d,\"fields\":{", l->minzoom, l->maxzoom);
    int first = 1;
    for (int i = 0; i < l->n_fields && !rc; i++) {
        const struct field_def *f = &l->fields[i];
        if (!access_field(l, i, role)) continue;
        const char *d = f->label_en ? f->label_en : f->name;
        rc = buf_puts(b, first ? "" : ",") || buf_put_json_str(b, f->name) || buf_putc(b, ':');
        if (!rc && f->unit) {
            char tmp[300];
            snprintf(tmp, sizeof tmp, "%s (%s, %s)", d, field_type_name(f->type), f->unit);
            rc = buf_put_json_str(b, tmp);
        } else if (!rc) {
            char tmp[300];
            snprintf(tmp, sizeof tmp, "%s (%s)", d, field_type_name(f->type));
            rc = buf_put_json_str(b, tmp);
        }
        first = 0;
    }
    return rc || buf_puts(b, "}}");
}

/* Union of the layers' extents (spp_layers) in CRS84 through the official transformation. */
static int layers_bounds(struct request *req, const struct tile_layers *tl, struct bbox *out,
                         struct err *err)
{
    struct bbox sb;
    bbox_empty(&sb);
    for (int i = 0; i < tl->n; i++) {
        struct layer_state ls;
        int rc = store_layer_state(req->store, tl->layers[i], &ls, err);
        if (rc) return rc;
        if (ls.has_extent && ls.n_features > 0) bbox_union(&sb, &ls.extent);
    }
    if (bbox_is_empty(&sb)) {
        *out = (struct bbox){-180, -85.051129, 180, 85.051129};
        return 0;
    }
    return geo_transform_bbox(req->geo, store_srid(req->store), GEO_SRID_CRS84, &sb, out, err);
}

int tiles_tilejson(struct request *req, struct response *res, struct err *err)
{
    struct tile_layers tl;
    int rc = tiles_parse_layers(&req->cfg->catalog, req_param(req, "layers"), req->role, &tl, err);
    struct bbox bb;
    if (!rc) rc = layers_bounds(req, &tl, &bb, err);
    if (rc) return rc;
    int minz = TILE_MAX_ZOOM, maxz = 0;
    for (int i = 0; i < tl.n; i++) {
        if (tl.layers[i]->minzoom < minz) minz = tl.layers[i]->minzoom;
        if (tl.layers[i]->maxzoom > maxz) maxz = tl.layers[i]->maxzoom;
    }
    const char *spec = req_param(req, "layers");
    struct buf *b = &res->body;
    rc = buf_puts(b, "{\"tilejson\":\"3.0.0\",\"name\":") || buf_put_json_str(b, spec) ||
         buf_puts(b, ",\"scheme\":\"xyz\",\"format\":\"pbf\",\"tiles\":[");
    char url[600];
    snprintf(url, sizeof url, "%s/tiles/%s/{z}/{x}/{y}.mvt", req->base_url, spec);
    if (!rc)
        rc = buf_put_json_str(b, url) ||
             buf_printf(b, "],\"minzoom\":%d,\"maxzoom\":%d,\"bounds\":[", minz, maxz) ||
             buf_put_double(b, bb.minx, 6) || buf_putc(b, ',') || buf_put_double(b, bb.miny, 6) ||
             buf_putc(b, ',') || buf_put_double(b, bb.maxx, 6) || buf_putc(b, ',') ||
             buf_put_double(b, bb.maxy, 6) || buf_puts(b, "],\"center\":[") ||
             buf_put_double(b, (bb.minx + bb.maxx) / 2, 6) || buf_putc(b, ',') ||
             buf_put_double(b, (bb.miny + bb.maxy) / 2, 6) ||
             buf_printf(b, ",%d],\"attribution\":\"spp\",\"vector_layers\":[",
                        minz < 15 ? 15 : minz);
    for (int i = 0; i < tl.n && !rc; i++)
        rc = (i && buf_putc(b, ',')) || put_layer(b, tl.layers[i], req->role);
    if (!rc) rc = buf_puts(b, "]}\n");
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    resp_set(res, 200, "application/json");
    return 0;
}
