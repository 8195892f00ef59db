/* SPDX-License-Identifier: MIT */
/* geo: bounding boxes, the WebMercatorQuad tile grid, CRS parsing and transformation (PROJ), and
 * the per-worker PROJ and GEOS contexts. VN-2000 <-> WGS 84 always goes through the official
 * Decision 05/2007 parameters (EPSG:6960), never PROJ's per-point choice (DESIGN.md CRS policy).
 *
 * Owns: the PROJ and GEOS contexts of a worker (one geo_ctx each, never shared between threads),
 * WKB decoding and every coordinate transformation. Must not: read the store or the catalog,
 * keep other modules' state (their caches are named members of struct worker, core/worker.h),
 * or let PROJ reach the network. */
#ifndef SPP_GEO_H
#define SPP_GEO_H

#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"

struct bbox {
    double minx, miny, maxx, maxy; /* in the CRS it is used with, x = easting/longitude */
};

/* Bounding boxes. */
void bbox_empty(struct bbox *b);
int bbox_is_empty(const struct bbox *b);
void bbox_add(struct bbox *b, double x, double y);
void bbox_union(struct bbox *b, const struct bbox *o);
int bbox_intersects(const struct bbox *a, const struct bbox *b);
/* Parses "minx,miny,maxx,maxy[,crs]" strictly; *crs points into s (or NULL). ERR_PARAM. */
int bbox_parse(char *s, struct bbox *b, const char **crs, struct err *err);

/* WebMercatorQuad tile grid (EPSG:3857 metres). */
#define WEBMERC_HALF 20037508.342789244
void tile_bbox(int z, int x, int y, struct bbox *out);
int tile_valid(int z, int x, int y); /* 0 <= z <= 24 and x, y inside the matrix */
/* Tiles of zoom z touching a 3857 bbox: inclusive ranges, clamped to the matrix. */
void tile_range(int z, const struct bbox *b, int *x0, int *y0, int *x1, int *y1);

/* CRS identifiers. srid = EPSG code; GEO_SRID_CRS84 for OGC CRS84 (lon/lat WGS 84). */
#define GEO_SRID_CRS84 84
/* Parses EPSG:n, urn:ogc:def:crs:EPSG::n, http(s)://www.opengis.net/def/crs/EPSG/0/n, CRS:84,
 * OGC CRS84 URIs/URNs. Returns 0 or ERR_PARAM. */
int geo_crs_parse(const char *s, int *srid);
/* "EPSG:5897" / "CRS:84" (static buffer per call site: caller passes one of 32 bytes). */
const char *geo_crs_name(int srid, char out[32]);
/* http://www.opengis.net/def/crs/EPSG/0/n or .../OGC/1.3/CRS84 */
const char *geo_crs_uri(int srid, char out[64]);

/* The CRSs a service advertises for a storage CRS (DESIGN.md CRS policy): the storage CRS,
 * EPSG:4326, CRS:84, EPSG:3857, EPSG:4756, the VN-2000 TM-3 zones whose meridian is within 0.75
 * degrees of the storage zone's, EPSG:3405 and 3406. Returns the count written (max entries). */
int geo_advertised_crs(int storage_srid, int *out, int max);

struct geo_ctx; /* one per worker: PROJ context, transform cache, GEOS context */

struct geo_ctx *geo_ctx_new(struct err *err);
void geo_ctx_free(struct geo_ctx *g);
/* The GEOS handle of this context (GEOSContextHandle_t), for modules that use GEOS. */
void *geo_geos(struct geo_ctx *g);

/* 1 if the CRS is known to PROJ (and usable), 0 otherwise. */
int geo_crs_known(struct geo_ctx *g, int srid);
/* 1 if the CRS's authority axis order is northing/latitude first (EPSG:4326, 4756...). */
int geo_crs_latlon(struct geo_ctx *g, int srid);
/* 1 for geographic (degree) CRSs. */
int geo_crs_geographic(struct geo_ctx *g, int srid);
/* Transforms n points (xy interleaved, x = easting/longitude first in both CRSs) in place.
 * ERR_PARAM for an unknown CRS, ERR_PARAM if a point cannot be transformed. */
int geo_transform(struct geo_ctx *g, int src, int dst, double *xy, size_t n, struct err *err);
/* Makes the transformations between storage_srid and EPSG:3857 and 4326, both ways, ready in g
 * (finding one in proj.db costs its first use ~7-10 ms, per context): a server's workers call it
 * at start, so that their first request does not pay it. Best effort: nothing is reported. */
void geo_warm(struct geo_ctx *g, int storage_srid);
/* Transforms a bbox by densifying its edges (21 points each) and taking the envelope. */
int geo_transform_bbox(struct geo_ctx *g, int src, int dst, const struct bbox *in, struct bbox *out,
                       struct err *err);
/* The same with steps (1..20) segments an edge: a box small enough for the map to be near
 * affine over it (a tile from z12 on) needs no more than its corners and midpoints (2). */
int geo_transform_bbox_steps(struct geo_ctx *g, int src, int dst, const struct bbox *in, int steps,
                             struct bbox *out, struct err *err);

/* Geometry in memory: what WKB decodes into. Parts are rings or linestrings or single points. */
struct geom_part {
    int n;      /* points */
    int ring;   /* 0 exterior/linestring/point, 1 interior ring */
    double *xy; /* interleaved, owned by the geom */
};
struct geom {
    int type; /* enum geom_type code 1..6 of the whole (multi) geometry */
    int n_parts;
    int n_polys; /* polygons for (MULTI)POLYGON: parts grouped by ring == 0 */
    struct geom_part *parts;
    int cap_parts;
    double *coords; /* backing store for all parts */
    size_t n_coords, cap_coords;
};
void geom_init(struct geom *g);
void geom_fini(struct geom *g);
/* Decodes ISO/OGC WKB (2D; Z/M ignored). ERR_PARAM on malformed input. Reuses g's memory. */
int geom_from_wkb(struct geom *g, const unsigned char *wkb, size_t len, struct err *err);
/* Euclidean distance from (x, y) to g: 0 inside a polygon (boundary included), else to the
 * nearest point of its rings, lines or points. INFINITY for an empty geometry. */
double geom_point_distance(const struct geom *g, double x, double y);
/* Writes 2D WKB of g (little endian) to b. */
int geom_to_wkb(const struct geom *g, struct buf *b);
void geom_bbox(const struct geom *g, struct bbox *b);

#endif
