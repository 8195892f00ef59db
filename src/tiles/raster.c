/* SPDX-License-Identifier: MIT */
/* raster.c: XYZ raster tiles (/tiles/{layers}/{z}/{x}/{y}.png and @2x) drawn by the WMS renderer
 * (render/) as metatiles: the map is up to 2 x 2 tiles with a 64 px buffer, labels are kept out
 * of the buffer (so a label is never cut at a metatile edge) and may cross the tile edges inside
 * it. A tile asked for (a miss) draws only its own window of that map (render_request.win_*):
 * the features of the whole metatile are read and its labels placed, but one tile's pixels are
 * drawn and encoded, which is the same image as the metatile's cut at a fifth of the cost (a
 * scattered cold tile used to draw 6 tile areas for one). `spp seed`, which wants every tile,
 * draws whole metatiles and caches each cut. The placement of a metatile's labels is kept
 * (render_request.label_key) so that its other tiles read only their own window. A fully
 * transparent tile is cached as an empty entry and answered with the shared blank image of its
 * format and size (tiles_blank_image), 200 like any tile. Must not: write to the store, or answer
 * HTTP (handlers.c does). */
#include "tiles.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../render/render.h"
#include "../store/store.h"

/* Tiles per metatile side: the extent labels are placed over. A miss draws one tile's window of
 * it (query and label placement cover the metatile; drawing and encoding one tile). */
#define META     2
#define META_BUF 64 /* px of buffer around a metatile (at scale 1) */
#define TILE_PX  256
#define WIN_PAD  4 /* px drawn around a tile's window and cut off (edge anti-aliasing) */

static int rect_empty(const struct render_image *img, int x0, int y0, int w, int h)
{
    for (int y = y0; y < y0 + h; y++) {
        const uint32_t *row = (const uint32_t *)(img->data + (size_t)y * (size_t)img->stride);
        for (int x = x0; x < x0 + w; x++)
            if (row[x]) return 0;
    }
    return 1;
}

/* The layers that draw at zoom z for role, with their default styles. */
static int raster_layers(const struct tile_layers *tl, enum role role, int z,
                         struct render_layer *out)
{
    int n = 0;
    for (int i = 0; i < tl->n; i++) {
        const struct layer_def *l = tl->layers[i];
        const struct style *s = render_style(l, NULL);
        if (!s || z < l->minzoom || z > l->maxzoom || role < s->min_role) continue;
        out[n].layer = l;
        out[n].style = s;
        n++;
    }
    return n;
}

/* Encodes the tiles (i0..i1) x (j0..j1) of the metatile at mx, my drawn in img, whose origin is
 * the metatile's pixel (ox, oy): the requested one goes to out, the others are cached (the
 * caller, tiles_get, caches the requested one). */
struct cut {
    int i0, i1, j0, j1; /* tiles of the metatile drawn */
    int ox, oy;         /* img's origin in the metatile's pixels */
};

static int cut_metatile(const struct render_image *img, const struct cut *cu, struct tile_cache *c,
                        const char *fmt, const struct tile_layers *tl, enum role role, int z,
                        int mx, int my, int x, int y, int s, uint64_t gen, struct buf *out,
                        struct err *err)
{
    struct buf png;
    buf_init(&png);
    int rc = 0;
    for (int j = cu->j0; j <= cu->j1 && !rc; j++)
        for (int i = cu->i0; i <= cu->i1 && !rc; i++) {
            int px = (META_BUF + i * TILE_PX) * s - cu->ox,
                py = (META_BUF + j * TILE_PX) * s - cu->oy;
            buf_reset(&png);
            if (!rect_empty(img, px, py, TILE_PX * s, TILE_PX * s))
                rc = render_encode(img, px, py, TILE_PX * s, TILE_PX * s, RFMT_PNG, 1, 0xffffff, 0,
                                   &png, err);
            char key[1100], tag[40];
            tiles_cache_key(key, sizeof key, fmt, tl->canon, z, mx + i, my + j, role);
            if (!rc && mx + i == x && my + j == y) {
                if (buf_append(out, png.data, png.len)) rc = err_set(err, ERR_NOMEM, "no memory");
            } else if (!rc && c) {
                rc = tile_cache_put(c, key, "identity", tl->canon, z, mx + i, my + j, "png", gen,
                                    png.data, png.len, tag, err);
            }
        }
    buf_fini(&png);
    return rc;
}

static int render_png(struct store *st, struct geo_ctx *geo, const struct config *cfg,
                      struct tile_cache *c, const struct tile_layers *tl, enum role role, int z,
                      int x, int y, int scale, int whole, struct buf *out, struct err *err)
{
    const char *fmt = scale == 2 ? "png@2x" : "png";
    uint64_t gen = c ? tile_cache_generation(c) : 0;
    int m = z >= 2 ? META : 1 << z;
    int mx = x - x % m, my = y - y % m;
    struct render_layer layers[TILE_MAX_LAYERS];
    int n = raster_layers(tl, role, z, layers);
    if (!n) { /* nothing draws at this zoom: every tile of the metatile is empty */
        for (int j = 0; j < m; j++)
            for (int i = 0; i < m; i++) {
                char key[1100], tag[40];
                tiles_cache_key(key, sizeof key, fmt, tl->canon, z, mx + i, my + j, role);
                int rc = c && (mx + i != x || my + j != y)
                             ? tile_cache_put(c, key, "identity", tl->canon, z, mx + i, my + j,
                                              "png", gen, "", 0, tag, err)
                             : 0;
                if (rc) return rc;
            }
        return 0;
    }
    struct bbox a, b;
    tile_bbox(z, mx, my, &a);
    tile_bbox(z, mx + m - 1, my + m - 1, &b);
    double res = (a.maxx - a.minx) / TILE_PX;
    struct render_request rq;
    memset(&rq, 0, sizeof rq);
    rq.cfg = cfg;
    rq.store = st;
    rq.geo = geo;
    rq.role = role;
    rq.layers = layers;
    rq.n_layers = n;
    rq.srid = 3857;
    rq.bbox = (struct bbox){a.minx - META_BUF * res, b.miny - META_BUF * res,
                            b.maxx + META_BUF * res, a.maxy + META_BUF * res};
    rq.width = rq.height = (m * TILE_PX + 2 * META_BUF) * scale;
    rq.scale_factor = scale;
    rq.format = RFMT_PNG;
    rq.transparent = 1;
    rq.bgcolor = 0xffffff;
    rq.label_buffer = META_BUF * scale;
    struct cut cu = {0, m - 1, 0, m - 1, 0, 0};
    /* the metatile's label placement, kept for its other tiles: the data generation is in the
     * key (unique within the process), so a change or another cache never replays it */
    char label_key[1200];
    snprintf(label_key, sizeof label_key, "%s\x1f%s\x1f%d/%d/%d\x1f%d\x1f%llu", fmt, tl->canon, z,
             mx, my, (int)role, (unsigned long long)gen);
    if (!whole) { /* the window of the tile asked for, plus WIN_PAD px that are not kept:
                   * clipping at an image edge moves anti-aliased pixels of lines crossing it */
        cu.i0 = cu.i1 = x - mx, cu.j0 = cu.j1 = y - my;
        rq.win_x = cu.ox = (META_BUF + cu.i0 * TILE_PX - WIN_PAD) * scale;
        rq.win_y = cu.oy = (META_BUF + cu.j0 * TILE_PX - WIN_PAD) * scale;
        rq.win_w = rq.win_h = (TILE_PX + 2 * WIN_PAD) * scale;
        rq.label_key = c ? label_key : NULL; /* uncached (bypass): nothing to key it by */
    }
    struct render_image img;
    memset(&img, 0, sizeof img);
    int rc = render_draw(&rq, &img, err);
    if (!rc) rc = cut_metatile(&img, &cu, c, fmt, tl, role, z, mx, my, x, y, scale, gen, out, err);
    render_image_fini(&img);
    return rc;
}

int tiles_render_png(struct store *st, struct geo_ctx *geo, const struct config *cfg,
                     struct tile_cache *c, const struct tile_layers *tl, enum role role, int z,
                     int x, int y, int scale, struct buf *out, struct err *err)
{
    return render_png(st, geo, cfg, c, tl, role, z, x, y, scale, 0, out, err);
}

int tiles_render_png_metatile(struct store *st, struct geo_ctx *geo, const struct config *cfg,
                              struct tile_cache *c, const struct tile_layers *tl, enum role role,
                              int z, int x, int y, int scale, struct buf *out, struct err *err)
{
    return render_png(st, geo, cfg, c, tl, role, z, x, y, scale, 1, out, err);
}

/* ---- blank tiles: one encoding per format and size, for the life of the process ---- */

struct blank {
    enum render_format fmt;
    int width, height;
    char *data;
    size_t len;
    char etag[40];
};

#define N_BLANKS 16
static struct blank blanks[N_BLANKS]; /* filled once each, never freed (like the styles) */
static int n_blanks;
static pthread_mutex_t blanks_lock = PTHREAD_MUTEX_INITIALIZER;

int tiles_blank_image(enum render_format fmt, int width, int height, const char **data, size_t *len,
                      const char **etag, struct err *err)
{
    int rc = 0;
    pthread_mutex_lock(&blanks_lock);
    struct blank *hit = NULL;
    for (int i = 0; i < n_blanks && !hit; i++)
        if (blanks[i].fmt == fmt && blanks[i].width == width && blanks[i].height == height)
            hit = &blanks[i];
    if (!hit && n_blanks == N_BLANKS) rc = err_set(err, ERR_INTERNAL, "too many blank tile sizes");
    if (!hit && !rc) {
        struct buf b;
        buf_init(&b);
        rc = render_message_image(width, height, fmt, fmt != RFMT_JPEG, 0xffffff, NULL, &b, err);
        if (!rc) {
            hit = &blanks[n_blanks++];
            hit->fmt = fmt, hit->width = width, hit->height = height;
            hit->data = buf_take(&b, &hit->len);
            tile_etag(hit->data, hit->len, "identity", hit->etag);
        }
        buf_fini(&b);
    }
    pthread_mutex_unlock(&blanks_lock);
    if (rc) return rc;
    *data = hit->data, *len = hit->len, *etag = hit->etag;
    return 0;
}
