/* SPDX-License-Identifier: MIT */
/* tiles: XYZ vector tiles (Mapbox Vector Tile 2.1, written by hand), the tile cache with exact
 * invalidation from spp_changes, TileJSON 3.0 and `spp seed`. Tiles are WebMercatorQuad; the store
 * is queried in the storage CRS and coordinates go to EPSG:3857 through the official VN-2000
 * transformation (geo/). Raster tiles, WMTS and the MapLibre style build on the WMS renderer.
 *
 * Owns: the tile grid, MVT encoding, the per-tile budget and generalization, and the cache policy
 * (keys, what a change drops). Must not: include SQLite (the bytes live in the store's blob
 * store), truncate a tile silently, or serve a cached tile older than a change it covers. */
#ifndef SPP_TILES_H
#define SPP_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "../config/config.h"
#include "../core/core.h"
#include "../core/par.h"
#include "../core/request.h"
#include "../geo/geo.h"
#include "../render/render.h"

#define TILE_EXTENT       4096         /* MVT units per tile side */
#define TILE_BUFFER       64           /* MVT units of buffer around the tile */
#define TILE_MAX_ZOOM     24           /* deepest zoom served (WebMercatorQuad) */
#define TILE_MAX_LAYERS   32           /* layers in one tile request */
#define TILE_BUDGET_BYTES (448 * 1024) /* per MVT tile: above it features are generalized */
#define OVERVIEW_ZOOMS    3 /* zooms below a layer's minzoom with its generalized overview */

enum tile_format { TILE_FMT_MVT, TILE_FMT_PNG };

/* Requests: path parsing and layer lists. */
struct tile_layers {
    const struct layer_def *layers[TILE_MAX_LAYERS];
    int n;
    char canon[1024]; /* ",a,b," in catalog order: the cache key part and invalidation match */
};
/* Parses "all", one layer id or a comma list into the catalog layers the role may read, in
 * catalog order without duplicates. An unknown layer and one the role may not read are both
 * ERR_NOT_FOUND (the answer never tells that a hidden layer exists); ERR_PARAM if malformed. */
int tiles_parse_layers(const struct catalog *cat, const char *spec, enum role role,
                       struct tile_layers *out, struct err *err);
/* Parses z, x and y ("123", "123@2x" when scale is non-NULL) strictly: digits only, no sign, no
 * leading zeros beyond "0", inside the matrix of zoom z <= TILE_MAX_ZOOM. ERR_PARAM for a
 * malformed number, ERR_NOT_FOUND for a tile outside the matrix. */
int tiles_parse_zxy(const char *zs, const char *xs, const char *ys, int *z, int *x, int *y,
                    int *scale, struct err *err);

/* MVT encoding (mvt.c): protobuf by hand. */
struct mvt_layer;
/* A new layer named name (copied) with extent TILE_EXTENT. Caller frees with mvt_layer_free. */
struct mvt_layer *mvt_layer_new(const char *name);
void mvt_layer_free(struct mvt_layer *l);
/* Geometry commands of one feature, in tile units (integers). */
struct mvt_scratch;
struct mvt_geom {
    uint32_t *cmd;
    size_t n, cap;
    int32_t cx, cy;              /* cursor */
    int type;                    /* 1 point, 2 linestring, 3 polygon, 0 nothing */
    struct mvt_scratch *scratch; /* mvt_encode_geom's working buffers, kept for the next call */
};
void mvt_scratch_free(struct mvt_scratch *s); /* mvt_geom_fini's */
void mvt_geom_init(struct mvt_geom *g);
void mvt_geom_fini(struct mvt_geom *g);
void mvt_geom_reset(struct mvt_geom *g);
/* MoveTo/LineTo/ClosePath with n points xy (interleaved integers). ERR_NOMEM. */
int mvt_geom_move(struct mvt_geom *g, const int32_t *xy, int n);
int mvt_geom_line(struct mvt_geom *g, const int32_t *xy, int n);
int mvt_geom_close(struct mvt_geom *g);
/* Adds a feature with id, geometry and n attributes (names[i] = values[i]; VAL_NULL skipped).
 * Keys and values are deduplicated per layer; the feature is kept until mvt_layer_write.
 * Every call on one layer passes the same names array, unchanged (the layer remembers each
 * position's key index by the array's address). ERR_NOMEM. */
int mvt_layer_add(struct mvt_layer *l, uint64_t id, const struct mvt_geom *g, const char **names,
                  const struct value *values, int n, struct err *err);
/* The attribute whose value classes the layer's generalized features (land use for parcels);
 * NULL: none (generalized polygons then carry only their count). Set before adding. ERR_NOMEM. */
int mvt_layer_set_class(struct mvt_layer *l, const char *field);
/* 1 when layer l has a generalized overview (tile.c: a polygon layer styled by a class field
 * role may read) at zooms *minz..*maxz, below its minzoom; 0 when it has none. */
int tiles_overview_zooms(const struct layer_def *l, enum role role, int *minz, int *maxz);
/* Adds a generalized feature given whole: g (type 3) covers features of class value cls (NULL or
 * VAL_NULL: without one; the key is the layer's class field, mvt_layer_set_class), n_features = n,
 * generalized = 1, no id. Written before every other feature of the layer, whatever its budget
 * (the precomputed land-use overview, tile.c). ERR_NOMEM. */
int mvt_layer_add_generalized(struct mvt_layer *l, const struct value *cls, int64_t n,
                              const struct mvt_geom *g, struct err *err);
/* Appends src's features to dst (a layer of the same source read in parts, tile.c): their keys
 * and values interned in dst. The written bytes are those of one layer given every feature:
 * features are written in id order, keys and values numbered by first use. Only features of
 * mvt_layer_add (ERR_INTERNAL for generalized ones), ERR_NOMEM. */
int mvt_layer_merge(struct mvt_layer *dst, const struct mvt_layer *src, struct err *err);
int mvt_layer_count(const struct mvt_layer *l);
/* Bytes the layer takes written whole (an estimate within a few bytes per feature). */
size_t mvt_layer_size(struct mvt_layer *l);
/* Appends the layer as a Tile.layers entry (field 3) to out, values numbered by use (the most
 * shared first). budget 0, or a layer within budget bytes: every feature. Above it, the
 * largest features (area; length for lines) are kept while they fit, and the polygons left out
 * are generalized: one feature per class value (no id; attributes: the class field,
 * n_features = how many features it stands for, generalized = 1) covering the 8 px cells of the
 * tile their boxes touch (each cell to the class of the largest such feature; a class left with no
 * cell keeps the cells its own features touch), written before the kept ones; lines and points left
 * out are only counted. Nothing is dropped silently: mvt_layer_generalized tells how many. A layer
 * without features writes nothing. ERR_NOMEM. */
int mvt_layer_write(struct mvt_layer *l, void *geos, size_t budget, struct buf *out,
                    struct err *err);
/* After mvt_layer_write: features left out (*dropped) and generalized features written. */
void mvt_layer_generalized(const struct mvt_layer *l, int64_t *dropped, int64_t *generalized);

/* Geometry to tile units (mvt_geom.c): clipping, snapping, validity. */
/* Encodes g, already in tile units (doubles, y down), into out: points kept inside the
 * buffered tile, lines clipped, polygons clipped to [-buffer, extent+buffer], snapped to the
 * integer grid (the same source coordinate always snaps to the same point, so shared edges stay
 * shared), consecutive duplicates and collinear points dropped, rings below area 1 dropped,
 * exterior rings clockwise on screen (positive area) and holes counter-clockwise. Polygons that
 * the fast path cannot prove valid (not convex, holes, clipped concave) go through GEOS
 * (clip by rect + set precision 1), which returns valid polygons. geos is a GEOS context.
 * out->type is 0 when nothing remains. ERR_NOMEM. */
int mvt_encode_geom(void *geos, const struct geom *g, int buffer, struct mvt_geom *out,
                    struct err *err);

/* The union of the covered cells (n x n bytes, non-zero = covered; cell tile units each, from
 * the tile's top-left) as valid polygons in out (type 3; 0 when nothing is covered). geos is a
 * GEOS context. ERR_NOMEM, ERR_INTERNAL if GEOS fails. */
int mvt_encode_cells(void *geos, const unsigned char *cells, int n, int cell, struct mvt_geom *out,
                     struct err *err);

/* Tile generation (tile.c). */
/* Maps storage CRS coordinates into the units of one tile through a grid interpolation of the
 * official transformation (error below 1 mm inside the grid, exact PROJ outside). */
struct tile_xform;
int tile_xform_new(struct geo_ctx *geo, int storage_srid, int z, int x, int y, int extent,
                   struct tile_xform **out, struct bbox *query_bbox, struct err *err);
void tile_xform_free(struct tile_xform *t);
/* A copy of t that calls PROJ (points off its grid) through geo: for another thread. ERR_NOMEM. */
int tile_xform_clone(const struct tile_xform *t, struct geo_ctx *geo, struct tile_xform **out,
                     struct err *err);
/* Transforms n interleaved points in place from the storage CRS to tile units. */
int tile_xform_apply(struct tile_xform *t, double *xy, size_t n, struct err *err);

/* Builds the MVT tile z/x/y of the layers for role into out (empty when no feature), within
 * TILE_BUDGET_BYTES: each layer's share is written by mvt_layer_write (the largest features
 * kept, the others generalized with a count). A class-styled polygon layer (parcels) also
 * answers OVERVIEW_ZOOMS zooms below its minzoom, every feature generalized (land use per 4 px
 * cell, n_features per class). The layers are read at once on par's idle helpers (core/par.h;
 * NULL: one after the other on st), each by its own query as always; a request whose restricted
 * reads are audited (store_tracks_reads) reads them all on st. */
int tiles_build_mvt(struct store *st, struct geo_ctx *geo, struct par *par,
                    const struct config *cfg, const struct tile_layers *tl, enum role role, int z,
                    int x, int y, struct buf *out, struct err *err);

/* Raster tiles (raster.c): draws z/x/y as its window of the metatile holding it with the WMS
 * renderer (styles must be loaded: render_styles_load; labels placed over the whole metatile)
 * and appends its PNG to out (nothing when the tile is empty: the caller answers
 * tiles_blank_image), not cached: it is tiles_get's build, which stores it (c, may be NULL,
 * only gets the empty entries of a metatile where nothing draws). scale 1 or 2. */
int tiles_render_png(struct store *st, struct geo_ctx *geo, const struct config *cfg,
                     struct tile_cache *c, const struct tile_layers *tl, enum role role, int z,
                     int x, int y, int scale, struct buf *out, struct err *err);
/* The same, drawing the whole metatile and caching its other tiles in c (for `spp seed`): the
 * same bytes per tile as tiles_render_png. */
int tiles_render_png_metatile(struct store *st, struct geo_ctx *geo, const struct config *cfg,
                              struct tile_cache *c, const struct tile_layers *tl, enum role role,
                              int z, int x, int y, int scale, struct buf *out, struct err *err);
/* The blank tile of a format and size (fully transparent; white for JPEG), encoded once per
 * process and shared by every request and thread: *data (len bytes) and *etag (its strong ETag)
 * stay valid until exit. An empty raster tile is answered with it (200), never 204: Leaflet,
 * GDAL's XYZ/WMTS readers and QGIS take a 204 for a failed tile. ERR_NOMEM, or the encoder's. */
int tiles_blank_image(enum render_format fmt, int width, int height, const char **data, size_t *len,
                      const char **etag, struct err *err);

/* Cache (cache.c). */
struct tile_cache;
/* Opens (creating) the cache file path (an SQLite file beside the store, so the workers' store
 * connections stay read-only) with an in-memory LRU of mem_bytes in front. Thread-safe. */
int tile_cache_open(const char *path, size_t mem_bytes, struct tile_cache **out, struct err *err);
/* Caps the bytes of tiles kept in the cache file: max_mb MiB, or with 0 a quarter of the free
 * space of path's file system (at most 4096, at least 64 MiB). Past it the least recently used
 * tiles are deleted (and their pages given back to the file system) down to 90 %. */
void tile_cache_set_disk_limit(struct tile_cache *c, const char *path, int max_mb);
/* The cache file's state for /metrics (after a flush): tile bytes kept, the cap, tiles evicted
 * for room, and writes that failed (the tile was served uncached). */
void tile_cache_disk_stats(struct tile_cache *c, int64_t *bytes, int64_t *limit, int64_t *evicted,
                           int64_t *write_errors);
/* Flushes the write queue (waits for the tiles queued before the call), then closes. */
void tile_cache_close(struct tile_cache *c);
/* Puts are written to the file by a background writer (write-behind, cache.c). When its queue is
 * full: skip the disk write (skip 1: the server; the tile is kept in memory only) or wait for room
 * (skip 0, the default: spp seed, every tile reaches the file). */
void tile_cache_skip_when_full(struct tile_cache *c, int skip);
/* Waits until the tiles queued before the call are written (or refused) by the writer. */
void tile_cache_flush(struct tile_cache *c);
/* For /metrics: tile bytes waiting for the writer, tiles whose disk write was skipped (full). */
void tile_cache_queue_stats(struct tile_cache *c, int64_t *queued_bytes, int64_t *skipped);
/* The cache path for a store path ("DB.tiles"). Caller frees. */
char *tile_cache_path(const char *db_path);
/* A PostGIS replica's own cache file: DIR/spp-HASH-PORT.tiles, HASH of the database URI (another
 * database never reads this one's tiles), PORT the replica's listening port (replicas side by
 * side). serve opens it; spp seed warms it before the replica starts. Malloc'd; NULL: no memory. */
char *tile_cache_replica_path(const char *dir, const char *uri, int port);
/* Drops the cached tiles touched by spp_changes rows not yet processed (reads them through st,
 * transforms their boxes with geo). Cheap when nothing changed (PRAGMA data_version). */
int tile_cache_sync(struct tile_cache *c, struct store *st, struct geo_ctx *geo, int storage_srid,
                    struct err *err);
/* The change generation: bumps when sync drops tiles; an entry rendered before a bump is not
 * stored (it may be stale). */
uint64_t tile_cache_generation(struct tile_cache *c);
/* Looks up key in the given encoding ("identity" or "gzip"); 1 when found (the bytes appended to
 * out when out is non-NULL, the ETag copied), 0 when not cached. */
int tile_cache_get(struct tile_cache *c, const char *key, const char *enc, struct buf *out,
                   char etag[40]);
/* The memory LRU's bytes of key/encoding without a copy (a hit answered zero-copy): 1 with *data
 * (*len bytes, one reference: give it back with tile_bytes_release(*data)) and the ETag; 0 when
 * not in memory (tile_cache_get then looks in the file). */
int tile_cache_get_shared(struct tile_cache *c, const char *key, const char *enc, const char **data,
                          size_t *len, char etag[40]);
void tile_bytes_release(void *data);
/* Stores data for key/encoding unless the generation moved past gen: in the memory LRU at once,
 * in the file by the writer thread (dropped there if the generation moves before it is written).
 * z/x/y and layers (canon list) are kept for invalidation. Computes e->etag. A write the file
 * refuses (disk full, read-only) is logged at most once a minute and counted, never returned:
 * the tile is served. */
int tile_cache_put(struct tile_cache *c, const char *key, const char *enc, const char *layers,
                   int z, int x, int y, const char *fmt, uint64_t gen, const char *data, size_t len,
                   char etag_out[40], struct err *err);
/* The tile fetch. A cache entry: key (tiles_cache_key), canon layer list, format ("mvt", "png")
 * and z/x/y (what invalidation matches). */
struct tile_entry {
    const char *key, *layers, *fmt;
    int z, x, y;
};
/* A hit appends the cached bytes of (e, enc) to out (*hit = 1); a miss calls build(ud, out, err)
 * to make them (appended to out), stores them unless a change was processed meanwhile, and
 * returns them (*hit = 0). etag gets the bytes' ETag either way. c NULL: built, never stored.
 * build's error is passed up unchanged and nothing is stored. */
int tiles_get(struct tile_cache *c, const struct tile_entry *e, const char *enc,
              int (*build)(void *ud, struct buf *out, struct err *err), void *ud, struct buf *out,
              char etag[40], int *hit, struct err *err);
/* The cache key of a tile: format, layer list (canon), style, z/x/y and role. */
void tiles_cache_key(char *out, size_t n, const char *fmt, const char *canon, int z, int x, int y,
                     enum role role);
/* Strong ETag of bytes ("\"hex\"", with a -gz suffix for gzip). */
void tile_etag(const char *data, size_t len, const char *enc, char out[40]);
/* gzip of data into out. */
int tile_gzip(const char *data, size_t len, struct buf *out, struct err *err);

/* Counters (stats.c) for /metrics: tile cache hits, misses (the tile was made) and memory
 * evictions per catalog layer and format, and a histogram of the time a miss took to make its
 * tile. A tile of several layers counts once for each layer. Lock-free; thread-safe. */
enum tile_stat { TILE_STAT_HIT, TILE_STAT_MISS, TILE_STAT_EVICT, TILE_STAT_COUNT };
#define TILE_STATS_LAYERS   64 /* catalog layers counted (index < 64) */
#define TILE_RENDER_BUCKETS 12
extern const double tile_render_bounds[TILE_RENDER_BUCKETS]; /* seconds, ascending */
/* The catalog whose layer names tile_stats_count_canon resolves (borrowed; set before serving). */
void tile_stats_bind(const struct catalog *cat);
void tile_stats_count(const struct tile_layers *tl, enum tile_format fmt, enum tile_stat what);
/* The same for a cache entry's canon layer list (",a,b,") and format name ("mvt", "png"). */
void tile_stats_count_canon(const char *canon, const char *fmt, enum tile_stat what);
uint64_t tile_stats_get(int layer, enum tile_format fmt, enum tile_stat what);
/* Records the seconds one miss took to make its tile (MVT) or metatile (PNG). */
void tile_stats_render(enum tile_format fmt, double seconds);
/* Copies the histogram (per bucket, not cumulative; [TILE_RENDER_BUCKETS] is +Inf) and sum. */
void tile_stats_render_get(enum tile_format fmt, uint64_t buckets[TILE_RENDER_BUCKETS + 1],
                           uint64_t *sum_us);

/* HTTP handlers. */
int tiles_mvt(struct request *req, struct response *res, struct err *err);
int tiles_tilejson(struct request *req, struct response *res, struct err *err);
int tiles_png(struct request *req, struct response *res, struct err *err);
/* /styles/{name}.json: MapLibre style from the SLD styles ("default" = every layer). */
int tiles_style(struct request *req, struct response *res, struct err *err);
/* Answers a WebMercatorQuad PNG tile (cache, ETag, 304, 204 when empty) for a layer list; for
 * WMTS GetTile. Errors as tiles_parse_layers and the renderer. */
int tiles_png_answer(struct request *req, struct response *res, const char *layers, int z, int x,
                     int y, int scale, struct err *err);

/* Seeding (seed.c): renders every tile of zooms z0..z1 inside bbox (WGS 84, may be NULL = the
 * layers' extent) with `threads` workers into the cache. Progress on stderr when tty. */
struct seed_opts {
    const char *layers;
    int z0, z1;
    int has_bbox;
    struct bbox bbox; /* lon/lat */
    enum tile_format fmt;
    enum role role;
    int threads;
    int progress;           /* draw a progress bar */
    const char *cache_path; /* the cache file to fill; NULL: the one beside a SpatiaLite store */
};
int tiles_seed(const struct config *cfg, const struct seed_opts *o, int64_t *n_tiles,
               struct err *err);

#endif
