/* SPDX-License-Identifier: MIT */
/* wfs_int.h: what the WFS files share: the parsed request (from KVP or POST XML), its queries,
 * and the helpers for namespaces, CRS names and URLs. */
#ifndef SPP_WFS_INT_H
#define SPP_WFS_INT_H

#include "../filter/filter.h"
#include "ogc.h"

#define WFS_NS          "http://spp.cantho.gov.vn/spp"
#define WFS_MAX_QUERIES 24
#define WFS_MAX_SORT    8
#define WFS_GETBYID     "urn:ogc:def:query:OGC-WFS::GetFeatureById"

enum wfs_fmt { WFS_GML32, WFS_GML31, WFS_GEOJSON, WFS_CSV };

struct wfs_query {
    const struct layer_def *layer;
    struct filter *filter; /* owned, NULL = everything */
    int *fields;           /* owned: readable fields to return */
    int n_fields;
    int geom; /* 1: return the geometry */
    int order[WFS_MAX_SORT], order_desc[WFS_MAX_SORT], n_order;
};

struct wfs_req {
    int v2;      /* 1: WFS 2.0.0, 0: WFS 1.1.0 */
    char op[40]; /* REQUEST */
    struct wfs_query q[WFS_MAX_QUERIES];
    int n_q;
    int srid;             /* output CRS (0 = storage) */
    int swap;             /* output axes lat/lon */
    char srs_name[96];    /* srsName written on geometries */
    int64_t count, start; /* paging; count < 0 = server maximum */
    int hits;
    enum wfs_fmt fmt;
    char value_ref[128]; /* GetPropertyValue */
    int by_id;           /* GetFeatureById stored query: one bare feature */
    int post;            /* request came as XML (no next/previous links) */
    /* locking (wfs_lock.c): LockFeature, GetFeatureWithLock, a Transaction's lock */
    char lock_id[STORE_LOCK_ID_LEN]; /* LOCKID / lockId / wfs:LockId, "" none */
    int64_t expiry;                  /* EXPIRY as given (2.0: seconds, 1.1: minutes), -1 none */
    int lock_some;                   /* LOCKACTION=SOME (default ALL) */
    int release_some;                /* RELEASEACTION=SOME (default ALL) */
    int ids_only;                    /* run the queries for fids only (no fields, no geometry) */
    int64_t lock_n;                  /* GetFeatureWithLock: features locked (the page's size) */
};

/* Parsing (wfs.c). */
int wfs_parse_kvp(struct request *req, struct wfs_req *w, struct err *err);
int wfs_parse_xml(struct request *req, struct wfs_req *w, struct err *err);
void wfs_req_fini(struct wfs_req *w);

/* Operations. */
int wfs_get_feature(struct request *req, struct response *res, struct wfs_req *w, struct err *err);
int wfs_get_property_value(struct request *req, struct response *res, struct wfs_req *w,
                           struct err *err);
int wfs_capabilities(struct request *req, struct response *res, int v2, struct err *err);
/* WFS-T Transaction from the POST body (wfs_tx.c, issue 20). */
int wfs_transaction(struct request *req, struct response *res, struct wfs_req *w, struct err *err);

/* LockFeature and GetFeatureWithLock (wfs_lock.c; LOCKID, EXPIRY, LOCKACTION and
 * RELEASEACTION are parsed with the request in wfs.c). */
int wfs_lock_feature(struct request *req, struct response *res, struct wfs_req *w, struct err *err);
int wfs_get_feature_with_lock(struct request *req, struct response *res, struct wfs_req *w,
                              struct err *err);
/* The lock id of a Transaction, checked: InvalidLockId (unknown), LockHasExpired. */
int wfs_lock_check_id(struct store_edit *ed, const char *lock_id, struct err *err);
/* Runs w's queries (paging as GetFeature) into sink; *matched, *returned (wfs_get.c). */
int wfs_run_queries(struct request *req, struct wfs_req *w, const struct feature_sink *sink,
                    int64_t *matched, int64_t *returned, struct err *err);

/* Helpers. */
/* OGC URN of a CRS ("urn:ogc:def:crs:EPSG::5897", CRS84 as urn:ogc:def:crs:OGC:1.3:CRS84). */
const char *wfs_crs_urn(int srid, char out[64]);
/* Appends s percent-encoded for a query string. */
int wfs_put_url_encoded(struct buf *b, const char *s);
/* OWS error with a specific exceptionCode. */
int wfs_error(struct err *err, enum err_code code, const char *ogc_code, const char *locator,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
