/* SPDX-License-Identifier: MIT */
/* ogcapi: OGC API Features: landing page, conformance, collections (from the catalog with the
 * store's real extents and counts), items, queryables and the OpenAPI document. */
#ifndef SPP_OGCAPI_H
#define SPP_OGCAPI_H

#include "../core/request.h"
#include "../geo/geo.h"
#include "../store/store.h"

int ogcapi_landing(struct request *req, struct response *res, struct err *err);
int ogcapi_conformance(struct request *req, struct response *res, struct err *err);
int ogcapi_collections(struct request *req, struct response *res, struct err *err);
int ogcapi_collection(struct request *req, struct response *res, struct err *err);

int ogcapi_items(struct request *req, struct response *res, struct err *err);
int ogcapi_item(struct request *req, struct response *res, struct err *err);
int ogcapi_queryables(struct request *req, struct response *res, struct err *err);
int ogcapi_openapi(struct request *req, struct response *res, struct err *err);

/* GeoJSON writer (geojson.c), shared with WFS and the query API. A feature sink that writes
 * comma-separated Feature objects into out; the caller writes the surrounding collection. */
struct geojson_writer {
    struct buf *out;     /* borrowed */
    struct geo_ctx *geo; /* borrowed, for src_srid -> dst_srid */
    int src_srid, dst_srid;
    int decimals;      /* 8 for degrees, 3 for metres (set by init) */
    int swap_xy;       /* 1: write y,x (a lat/lon CRS requested with crs=) */
    int id_with_layer; /* 1: "id":"layer.fid" (WFS), 0: "id":fid (OGC API) */
    int no_geometry;   /* 1: "geometry":null */
    int64_t n_written;
    struct geom g;          /* scratch, reused across features */
    struct xy_cache *cache; /* transformed vertices of this response (shared vertices of a
                             * parcel fabric are transformed once), owned */
};
/* geographic: 1 when dst_srid is in degrees (picks 8 decimals, else 3). */
void geojson_writer_init(struct geojson_writer *w, struct buf *out, struct geo_ctx *geo,
                         int src_srid, int dst_srid, int geographic);
void geojson_writer_fini(struct geojson_writer *w);
/* Appends one Feature (preceded by ',' after the first). ERR_PARAM if the geometry cannot be
 * decoded or transformed, ERR_NOMEM. */
int geojson_write_feature(struct geojson_writer *w, const struct feature *f, struct err *err);
struct feature_sink geojson_sink(struct geojson_writer *w);
/* Pieces: a GeoJSON geometry object, a property value typed by its field (fd may be NULL), a
 * number with at most `decimals` decimals printed without printf. */
int geojson_put_geometry(struct buf *b, const struct geom *g, int decimals, int swap);
int geojson_put_value(struct buf *b, const struct field_def *fd, const struct value *v);
int geojson_put_number(struct buf *b, double v, int decimals);
/* Transforms n points (x = east) from w->src_srid to w->dst_srid in place through geo, reusing
 * results for vertices already seen in this response. Same errors as geo_transform. */
int geojson_transform(struct geojson_writer *w, double *xy, size_t n, struct err *err);
/* The same for any writer: *cache is created on first use; free it with geojson_cache_free. */
int geojson_cached_transform(struct xy_cache **cache, struct geo_ctx *geo, int src, int dst,
                             double *xy, size_t n, struct err *err);
void geojson_cache_free(struct xy_cache *c);

#endif
