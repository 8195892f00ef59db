/* SPDX-License-Identifier: MIT */
/* query_int.h: what the query module's files share: the per-request context (store, GEOS, PROJ,
 * role), feature sets copied out of the store with their GEOS geometries, nearest-feature search.
 * Values and geometries are written by src/encode/ (q_put_props and q_put_geometry only bind a
 * set's row and the request's geometry state to it). */
#ifndef SPP_QUERY_INT_H
#define SPP_QUERY_INT_H

#define GEOS_USE_ONLY_R_API
#include <geos_c.h>

#include "../config/config.h"
#include "../encode/encode.h"
#include "../geo/geo.h"
#include "../filter/filter.h"
#include "../store/store.h"
#include "query.h"

/* The request's handles. */
struct qctx {
    const struct request *req;
    const struct config *cfg;
    const struct catalog *cat;
    struct store *st;
    struct geo_ctx *geo;
    GEOSContextHandle_t h;
    GEOSWKBReader *reader;
    int srid; /* storage CRS */
    enum role role;
    int in_txn;             /* a read transaction is open (BEGIN in qctx_init, COMMIT in fini) */
    struct encode_geom enc; /* GeoJSON geometries of the answer: CRS84, 7 decimals, exact */
};
/* ERR_INTERNAL when the request has no store or GEOS context. */
int qctx_init(struct qctx *q, const struct request *req, struct err *err);
void qctx_fini(struct qctx *q);
/* A catalog layer the role may read, or NULL (the answer then leaves that section out). */
const struct layer_def *q_layer(const struct qctx *q, const char *id);

/* Features copied out of the store: the fields the role may read (lineage left out). */
struct qrow {
    int64_t fid;
    struct value *vals; /* parallel to qset.fields; owned, with their text (s); VAL_INT also
                         * in d; VAL_NULL, VAL_INT, VAL_REAL or VAL_TEXT */
    GEOSGeometry *geom; /* owned, storage CRS */
    unsigned char *wkb; /* owned copy of the stored WKB */
    size_t wkb_len;
    double num; /* scratch for the caller (overlap m2, distance m...) */
    double num2;
};
#define QSET_MAX_FIELDS 64
struct qset {
    const struct layer_def *layer;
    int fields[QSET_MAX_FIELDS];
    int n_fields;
    struct qrow *rows;
    int n, cap;
};
struct qfetch {
    const struct bbox *bbox;          /* storage CRS, R*Tree; NULL = no box */
    const struct filter *filter;      /* attribute lookups (filter_and_*); NULL = none */
    const GEOSPreparedGeometry *test; /* keep features intersecting it; NULL = all */
    int64_t limit;                    /* <= 0: no limit */
    int no_geom;                      /* 1: attributes only (row geom/wkb NULL) */
    int lazy_geom;                    /* 1: keep WKB only, parsed by q_geom (no test) */
    const int *order;                 /* SQL order: layer field indexes, -1 = fid */
    const int *order_desc;
    int n_order;
    int64_t sql_limit; /* > 0: SQL LIMIT (with sql_offset) */
    int64_t sql_offset;
};
void qset_init(struct qset *s);
void qset_fini(struct qctx *q, struct qset *s);
/* Binds an empty set to layer l: the fields the role may read, lineage left out. */
void qset_layer(struct qctx *q, struct qset *s, const struct layer_def *l);
/* Streams layer l through f into out (appending). ERR_DB, ERR_LIMIT, ERR_NOMEM. */
int q_fetch(struct qctx *q, const struct layer_def *l, const struct qfetch *f, struct qset *out,
            struct err *err);
/* The row's GEOS geometry, parsed from its WKB on first use (lazy_geom); NULL if none. */
GEOSGeometry *q_geom(struct qctx *q, struct qrow *r);
/* Number of features matching f's box and WHERE (no exact test). */
int q_count(struct qctx *q, const struct layer_def *l, const struct qfetch *f, int64_t *n,
            struct err *err);
/* The value of field `name` in row r, NULL if the layer lacks it or the role may not read it. */
const struct value *q_get(const struct qset *s, const struct qrow *r, const char *name);
double q_num(const struct qset *s, const struct qrow *r, const char *name);      /* NAN if none */
const char *q_str(const struct qset *s, const struct qrow *r, const char *name); /* NULL */

/* Features of l whose geometry intersects g (R*Tree on g's box, then exact GEOS test). */
int q_intersecting(struct qctx *q, const struct layer_def *l, const GEOSGeometry *g,
                   struct qset *out, struct err *err);
/* The feature of l nearest to g (where/params optional filter) by R*Tree windows growing from
 * 100 m up to max_m: *best is its row in out or -1 when none lies within max_m, *dist in m. */
int q_nearest(struct qctx *q, const struct layer_def *l, const GEOSGeometry *g,
              const struct filter *filter, double max_m, struct qset *out, int *best, double *dist,
              struct err *err);
/* A GEOS point in the storage CRS. */
GEOSGeometry *q_point(struct qctx *q, double x, double y);
/* The envelope of g. */
void q_geom_bbox(struct qctx *q, const GEOSGeometry *g, struct bbox *b);
/* Area of g (0 for NULL or non-areal). */
double q_area(struct qctx *q, const GEOSGeometry *g);
/* Area of a intersect b in m2 (storage CRS units), -1 on a GEOS failure. */
double q_overlap(struct qctx *q, const GEOSGeometry *a, const GEOSGeometry *b);
/* Commune codes for a code or a name (with or without diacritics, with or without the unit
 * type "Phường", "Xã"): up to max codes written into codes (owned strings, caller frees each).
 * ERR_PARAM (locator "commune") when nothing matches. */
int q_resolve_commune(struct qctx *q, const char *commune, char **codes, int max, int *n,
                      struct err *err);
/* The name of a commune code from admin_units into *out (caller frees); *out = NULL when no
 * commune has that code (or code is NULL). ERR_NOMEM or the store's error otherwise, so a
 * failure is never mistaken for "no such commune". */
int q_commune_name(struct qctx *q, const char *code, char **out, struct err *err);

/* Writers: src/encode/ with the set's fields (only those access_field lets the role read). */
/* "name":value,... for each field of the set (encode_json_props: reals rounded to 6 decimals,
 * code names of the row's land-use scheme). */
int q_put_props(struct qctx *q, struct buf *b, const struct qset *s, const struct qrow *r,
                int *first);
/* A GeoJSON geometry in CRS84 (lon/lat, 7 decimals) from storage-CRS WKB; null when none. */
int q_put_geometry(struct qctx *q, struct buf *b, const unsigned char *wkb, size_t len,
                   struct err *err);
/* CSV header language: lang=vi|en gives column titles from the catalog in that language (the
 * web map asks for them); without it the columns are the field names, for programs. A bad value
 * is a 400 naming lang. */
int q_csv_lang(const struct request *req, enum encode_csv_lang *lang, struct err *err);

/* Writes ,"red_lines":{...}: red lines crossing the parcel or whose road reserve (row_width_m/2
 * each side) overlaps it, and the parcel's m2 inside the reserve (reserve.c). */
int q_put_red_lines(struct qctx *q, struct buf *b, const GEOSGeometry *parcel, struct err *err);
/* Writes ,"<key>":{props} of the first feature of layer id containing pt, or null (at.c). */
int q_put_at_one(struct qctx *q, struct buf *b, const char *key, const char *id,
                 const GEOSGeometry *pt, struct err *err);
/* Writes ,"<key>":[{props}...] of every feature of layer id intersecting g. */
int q_put_at_all(struct qctx *q, struct buf *b, const char *key, const char *id,
                 const GEOSGeometry *g, struct err *err);

/* Parameter helpers (params.c), each naming its parameter in err. */
int q_number(const struct request *req, const char *name, double lo, double hi, int *has,
             double *out, struct err *err);
int q_integer(const struct request *req, const char *name, int64_t lo, int64_t hi, int64_t dflt,
              int64_t *out, struct err *err);
/* ERR_PARAM naming the first argument not in the NULL-terminated list. */
int q_check_known(const struct request *req, const char *const *known, struct err *err);
int q_format(const struct request *req, int allow_csv, int allow_json, enum out_format dflt,
             enum out_format *out, struct err *err);

/* The "reference only" note every land answer carries. */
#define Q_NOTE_VI "Kết quả tra cứu chỉ có giá trị tham khảo."
#define Q_NOTE_EN                                                                                  \
    "For reference only: not a legal document; the approved plans and the land registry prevail."

#endif
