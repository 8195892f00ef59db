/* SPDX-License-Identifier: MIT */
/* wfs_lock.c: WFS locking (issue 20; WFS 2.0 clauses 12 and 13, WFS 1.1 the same operations):
 * LockFeature (the features of its queries, or a renewal of a lock by LOCKID alone) answering
 * wfs:LockFeatureResponse, GetFeatureWithLock (a GetFeature whose page is locked first and whose
 * collection carries the lockId), and the lock id check a Transaction runs. It owns the protocol:
 * who may lock (a key of a role every queried layer's edit_roles lists: 401 / 403 as a
 * Transaction), EXPIRY (2.0 seconds, 1.1 minutes; 5 minutes by default, a day at most),
 * LOCKACTION (ALL: every feature or CannotLockAllFeatures, SOME: what can be), and the OGC
 * exception codes (InvalidLockId, LockHasExpired, CannotLockAllFeatures, the last one with 409).
 * The locks themselves are the store's (store.h, "Locks"): they are shared by every process and
 * replica, and taken inside one store edit. No SQL here. */
#include "wfs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_MAX_FEATURES 10000
#define LOCK_MAX_SECONDS  86400
#define LOCK_DEFAULT_S    300

struct lock_set {
    struct store_lock_item *items;
    int n, cap;
};

static int collect(void *ud, const struct feature *f, struct err *err)
{
    struct lock_set *s = ud;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        if (cap > LOCK_MAX_FEATURES)
            return wfs_error(err, ERR_LIMIT, "OperationProcessingFailed", "request",
                             "the queries select more than %d features: lock fewer",
                             LOCK_MAX_FEATURES);
        struct store_lock_item *g = realloc(s->items, (size_t)cap * sizeof *g);
        if (!g) return err_set(err, ERR_NOMEM, "out of memory");
        s->items = g, s->cap = cap;
    }
    s->items[s->n++] = (struct store_lock_item){f->layer, f->fid, 0};
    return 0;
}

/* 401 without a key, 403 for a role that may not edit one of the queried layers. */
static int may_lock(struct request *req, struct wfs_req *w, struct err *err)
{
    if (!req->key_id || req->role == ROLE_PUBLIC) {
        wfs_error(err, ERR_FORBIDDEN, "OperationProcessingFailed", w->op,
                  "%s needs an API key (X-API-Key) of a role that may edit the feature types",
                  w->op);
        err->http_status = 401;
        return ERR_FORBIDDEN;
    }
    for (int i = 0; i < w->n_q; i++)
        if (!access_edit(w->q[i].layer, req->role)) {
            wfs_error(err, ERR_FORBIDDEN, "OperationProcessingFailed", w->op,
                      "role %s may not lock %s", role_name(req->role), w->q[i].layer->id);
            err->http_status = 403;
            return ERR_FORBIDDEN;
        }
    return 0;
}

/* EXPIRY in seconds: 2.0 counts seconds, 1.1 minutes. */
static int lock_seconds(const struct wfs_req *w, int *out, struct err *err)
{
    *out = LOCK_DEFAULT_S;
    if (w->expiry < 0) return 0;
    /* compared before it is counted in seconds: minutes * 60 could overflow */
    int64_t max = w->v2 ? LOCK_MAX_SECONDS : LOCK_MAX_SECONDS / 60;
    int64_t s = w->expiry > max ? -1 : w->v2 ? w->expiry : w->expiry * 60;
    if (s < 1 || s > LOCK_MAX_SECONDS)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "expiry",
                         "expiry must be between 1 and %d %s", w->v2 ? LOCK_MAX_SECONDS : 1440,
                         w->v2 ? "seconds" : "minutes");
    *out = (int)s;
    return 0;
}

int wfs_lock_check_id(struct store_edit *ed, const char *lock_id, struct err *err)
{
    enum store_lock_state state;
    int rc = store_lock_state(ed, lock_id, &state, err);
    if (rc) return rc;
    if (state == STORE_LOCK_UNKNOWN)
        return wfs_error(err, ERR_PARAM, "InvalidLockId", "lockId",
                         "\"%s\" is not a lock of this server (or it was released)", lock_id);
    if (state == STORE_LOCK_EXPIRED)
        return wfs_error(err, ERR_PARAM, "LockHasExpired", "lockId", "lock \"%s\" has expired",
                         lock_id);
    return 0;
}

/* Selects the features of w's queries (ids only) and locks them for w->lock_id (a new id when
 * it is ""): set gets the features, *n_locked those now held. */
static int lock_selection(struct request *req, struct wfs_req *w, struct lock_set *set,
                          int *n_locked, struct err *err)
{
    int seconds, rc;
    *n_locked = 0;
    if ((rc = may_lock(req, w, err)) || (rc = lock_seconds(w, &seconds, err))) return rc;
    if (w->n_q) {
        struct feature_sink sink = {NULL, collect, NULL, set};
        int64_t matched = 0, returned = 0;
        w->ids_only = 1;
        rc = wfs_run_queries(req, w, &sink, &matched, &returned, err);
        w->ids_only = 0;
        if (!rc && str_ieq(w->op, "LockFeature") && matched > returned)
            rc = wfs_error(err, ERR_LIMIT, "OperationProcessingFailed", "request",
                           "the queries select %lld features, more than %lld: lock fewer",
                           (long long)matched, (long long)returned);
        if (rc) return rc;
    }
    char who[200];
    snprintf(who, sizeof who, "key %lld (%s, %s) WFS %s", (long long)req->key_id,
             req->key_agency[0] ? req->key_agency : "unnamed", role_name(req->role), w->op);
    struct store_edit *ed = NULL;
    if ((rc = store_edit_begin(req->cfg->db_path, who, &ed, err))) return rc;
    if (w->lock_id[0]) rc = wfs_lock_check_id(ed, w->lock_id, err);
    char id[STORE_LOCK_ID_LEN];
    snprintf(id, sizeof id, "%s", w->lock_id);
    if (!rc)
        rc = store_lock_acquire(ed, id, seconds, !w->lock_some, set->items, set->n, n_locked, err);
    if (!rc && !w->lock_some && *n_locked < set->n) {
        wfs_error(err, ERR_PARAM, "CannotLockAllFeatures", "lockAction",
                  "some of the %d features are locked by another lock (lockAction=SOME locks "
                  "the others)",
                  set->n);
        err->http_status = 409;
        rc = ERR_PARAM;
    }
    if (!rc) {
        rc = store_edit_commit(ed, err);
        ed = NULL;
    }
    store_edit_abort(ed);
    if (!rc) snprintf(w->lock_id, sizeof w->lock_id, "%s", id);
    return rc;
}

/* One ResourceId / FeatureId element per item whose locked flag is `locked`. */
static void put_ids(struct buf *b, const struct wfs_req *w, const struct lock_set *set, int locked)
{
    for (int i = 0; i < set->n; i++)
        if (set->items[i].locked == locked)
            buf_printf(b,
                       w->v2 ? "    <fes:ResourceId rid=\"%s.%lld\"/>\n"
                             : "    <ogc:FeatureId fid=\"%s.%lld\"/>\n",
                       set->items[i].layer->id, (long long)set->items[i].fid);
}

int wfs_lock_feature(struct request *req, struct response *res, struct wfs_req *w, struct err *err)
{
    if (w->n_q == 0 && !w->lock_id[0])
        return wfs_error(err, ERR_PARAM, "MissingParameterValue", "typeNames",
                         "LockFeature needs a query (TYPENAMES, RESOURCEID or STOREDQUERY_ID) "
                         "or the LOCKID of a lock to renew");
    struct lock_set set = {0};
    int n_locked = 0;
    int rc = lock_selection(req, w, &set, &n_locked, err);
    if (rc) {
        free(set.items);
        return rc;
    }
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    if (w->v2) {
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:LockFeatureResponse "
                    "xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
                    "xmlns:fes=\"http://www.opengis.net/fes/2.0\" lockId=\"");
        buf_put_xml(b, w->lock_id);
        buf_puts(b, "\">\n");
    } else {
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:LockFeatureResponse "
                    "xmlns:wfs=\"http://www.opengis.net/wfs\" "
                    "xmlns:ogc=\"http://www.opengis.net/ogc\">\n  <wfs:LockId>");
        buf_put_xml(b, w->lock_id);
        buf_puts(b, "</wfs:LockId>\n");
    }
    if (n_locked > 0) {
        buf_puts(b, "  <wfs:FeaturesLocked>\n");
        put_ids(b, w, &set, 1);
        buf_puts(b, "  </wfs:FeaturesLocked>\n");
    }
    if (n_locked < set.n) {
        buf_puts(b, "  <wfs:FeaturesNotLocked>\n");
        put_ids(b, w, &set, 0);
        buf_puts(b, "  </wfs:FeaturesNotLocked>\n");
    }
    buf_puts(b, "</wfs:LockFeatureResponse>\n");
    free(set.items);
    return b->failed ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

/* Restricts every query to the locked features of its layer, for the page read after the lock. */
static int restrict_to_locked(struct wfs_req *w, const struct lock_set *set, int n_locked,
                              struct err *err)
{
    char(*ids)[160] = calloc((size_t)set->n + 1, sizeof *ids);
    const char **ptrs = calloc((size_t)set->n + 1, sizeof *ptrs);
    int rc = ids && ptrs ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    for (int q = 0; q < w->n_q && !rc; q++) {
        int n = 0;
        for (int i = 0; i < set->n; i++)
            if (set->items[i].locked && set->items[i].layer == w->q[q].layer) {
                snprintf(ids[n], sizeof ids[n], "%s.%lld", set->items[i].layer->id,
                         (long long)set->items[i].fid);
                ptrs[n] = ids[n];
                n++;
            }
        struct filter *f = NULL;
        if ((rc = filter_new_resource_ids(ptrs, n, &f, err))) break;
        w->q[q].filter = filter_and(w->q[q].filter, f);
        if (!w->q[q].filter) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    w->start = 0;
    w->count = n_locked;
    free(ids);
    free(ptrs);
    return rc;
}

int wfs_get_feature_with_lock(struct request *req, struct response *res, struct wfs_req *w,
                              struct err *err)
{
    if (w->hits)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "resultType",
                         "GetFeatureWithLock returns the features it locks (resultType=results)");
    if (w->by_id)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "STOREDQUERY_ID",
                         "GetFeatureWithLock answers a collection: use a query or RESOURCEID");
    if (w->fmt != WFS_GML32 && w->fmt != WFS_GML31)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "outputFormat",
                         "GetFeatureWithLock answers GML (its collection carries the lockId)");
    struct lock_set set = {0};
    int n_locked = 0;
    int rc = lock_selection(req, w, &set, &n_locked, err);
    /* the page is read after the lock: what it shows is what the lock holds */
    if (!rc) rc = restrict_to_locked(w, &set, n_locked, err);
    free(set.items);
    if (!rc) rc = wfs_get_feature(req, res, w, err);
    return rc;
}
