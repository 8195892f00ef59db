/* SPDX-License-Identifier: MIT */
/* router.c: every route of the server in one table (DESIGN.md HTTP surface), path parameters,
 * API-key resolution, and the one place where handler errors become answers. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../audit/audit.h"
#include "../core/worker.h"
#include "../download/download.h"
#include "../meta/meta.h"
#include "../ogc/ogc.h"
#include "../ogcapi/ogcapi.h"
#include "../print/print.h"
#include "../query/query.h"
#include "../store/store.h"
#include "../tiles/tiles.h"
#include "../webapp/webapp.h"

/* GET /: the web map for a browser (Accept: text/html, no f=), the OGC API landing otherwise
 * (f=json, f=html, JSON clients such as QGIS). */
static int landing(struct request *req, struct response *res, struct err *err)
{
    if (!req_arg(req, "f") && req_wants_html(req)) return webapp_page(req, res, err);
    return ogcapi_landing(req, res, err);
}

static const struct route routes[] = {
    {"GET", "/healthz", healthz_handler, FORM_TEXT, "healthz"},
    {"GET", "/readyz", readyz_handler, FORM_TEXT, "readyz"},
    {"GET", "/metrics", metrics_handler, FORM_TEXT, "metrics"},
    {"GET", "/", landing, FORM_PROBLEM, "landing"},
    {"GET", "/map", webapp_page, FORM_TEXT, "map"},
    {"GET", "/web/catalog.json", webapp_catalog, FORM_PROBLEM, "web_catalog"},
    {"GET", "/web/vendor/{file}", webapp_vendor, FORM_TEXT, "web_vendor"},
    {"GET", "/web/{file}", webapp_static, FORM_TEXT, "web"},
    {"GET", "/fonts/{fontstack}/{range}.pbf", webapp_glyphs, FORM_PROBLEM, "fonts"},
    {"GET", "/conformance", ogcapi_conformance, FORM_PROBLEM, "conformance"},
    {"GET", "/collections", ogcapi_collections, FORM_PROBLEM, "collections"},
    {"GET", "/collections/{layer}", ogcapi_collection, FORM_PROBLEM, "collection"},
    {"GET", "/collections/{layer}/items", ogcapi_items, FORM_PROBLEM, "items"},
    {"GET", "/collections/{layer}/items/{fid}", ogcapi_item, FORM_PROBLEM, "item"},
    {"POST", "/collections/{layer}/items", ogcapi_item_create, FORM_PROBLEM, "item_create"},
    {"PUT", "/collections/{layer}/items/{fid}", ogcapi_item_replace, FORM_PROBLEM, "item_edit"},
    {"PATCH", "/collections/{layer}/items/{fid}", ogcapi_item_update, FORM_PROBLEM, "item_edit"},
    {"DELETE", "/collections/{layer}/items/{fid}", ogcapi_item_delete, FORM_PROBLEM, "item_edit"},
    {"GET", "/collections/{layer}/queryables", ogcapi_queryables, FORM_PROBLEM, "queryables"},
    {"GET", "/collections/{layer}/metadata", meta_collection_metadata, FORM_PROBLEM, "metadata"},
    {"GET", "/collections/{layer}/download", download_layer, FORM_PROBLEM, "download"},
    {"GET", "/csw", meta_csw, FORM_OWS, "csw"},
    {"POST", "/csw", meta_csw, FORM_OWS, "csw"},
    {"GET", "/catalog.jsonld", meta_dcat, FORM_PROBLEM, "dcat"},
    {"GET", "/api", ogcapi_openapi, FORM_PROBLEM, "api"},
    {"GET", "/wfs", wfs_dispatch, FORM_OWS, "wfs"},
    {"POST", "/wfs", wfs_dispatch, FORM_OWS, "wfs"},
    {"POST", "/ows", ows_dispatch, FORM_OWS, "ows"},
    {"GET", "/tiles/{layers}/{z}/{x}/{y}.mvt", tiles_mvt, FORM_PROBLEM, "tiles_mvt"},
    {"GET", "/tiles/{layers}/{z}/{x}/{y}.png", tiles_png, FORM_PROBLEM, "tiles_png"},
    {"GET", "/tiles/{layers}.json", tiles_tilejson, FORM_PROBLEM, "tilejson"},
    {"GET", "/styles/{name}.json", tiles_style, FORM_PROBLEM, "styles"},
    {"GET", "/wmts", wmts_kvp, FORM_OWS, "wmts"},
    {"GET", "/wmts/1.0.0/WMTSCapabilities.xml", wmts_rest_capabilities, FORM_OWS, "wmts_caps"},
    {"GET", "/wmts/1.0.0/{layer}/{style}/{set}/{matrix}/{row}/{col}.png", wmts_rest_tile, FORM_OWS,
     "wmts_tile"},
    {"GET", "/api/v1/land/at", query_land_at, FORM_PROBLEM, "land_at"},
    {"GET", "/api/v1/parcels", query_parcels, FORM_PROBLEM, "parcels"},
    {"GET", "/api/v1/parcels/{parcel_key}", query_parcel, FORM_PROBLEM, "parcel"},
    {"GET", "/api/v1/parcels/{parcel_key}/planning", query_parcel_planning, FORM_PROBLEM,
     "parcel_planning"},
    {"GET", "/api/v1/land-funds", query_land_funds, FORM_PROBLEM, "land_funds"},
    {"GET", "/api/v1/land-funds/{id}", query_land_fund, FORM_PROBLEM, "land_fund"},
    {"GET", "/api/v1/changes", meta_changes, FORM_PROBLEM, "changes"},
    {"GET", "/api/v1/quality", meta_quality, FORM_PROBLEM, "quality"},
    {"GET", "/quality", meta_quality_page, FORM_TEXT, "quality_page"},
    {"GET", "/print/parcel/{parcel_key}", print_parcel, FORM_PROBLEM, "print_parcel"},
    {"GET", "/api/v1/search", webapp_search, FORM_PROBLEM, "search"},
    {"GET", "/wms", wms_dispatch, FORM_WMS, "wms"},
    {"GET", "/ows", ows_dispatch, FORM_WMS, "ows"},
};

int http_route_count(void)
{
    return (int)ARRAY_LEN(routes);
}

const char *http_route_name(int i)
{
    return i >= 0 && i < (int)ARRAY_LEN(routes) ? routes[i].name : "unmatched";
}

static void free_params(struct request *req)
{
    for (int i = 0; i < req->n_params; i++) {
        free(req->params[i]);
        free(req->param_names[i]);
    }
    req->n_params = 0;
}

/* Matches path against pattern ("{name}" or "{name}.ext" matches one non-empty segment) and
 * fills the request's path parameters (req NULL: only tells, allocating nothing). 1 on match. */
static int match(const char *pattern, const char *path, struct request *req)
{
    if (req) free_params(req);
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '{') {
            if (*p != *s) return 0;
            p++, s++;
            continue;
        }
        const char *close = strchr(p, '}');
        const char *seg_end = strchr(p, '/');
        if (!seg_end) seg_end = p + strlen(p);
        const char *suffix = close + 1;
        size_t suffix_len = (size_t)(seg_end - suffix);
        const char *path_end = strchr(s, '/');
        if (!path_end) path_end = s + strlen(s);
        if ((size_t)(path_end - s) <= suffix_len || (req && req->n_params == REQ_MAX_PARAMS))
            return 0;
        const char *val_end = path_end - suffix_len;
        if (strncmp(val_end, suffix, suffix_len) != 0) return 0;
        if (req) {
            req->param_names[req->n_params] = str_ndup(p + 1, (size_t)(close - p - 1));
            req->params[req->n_params] = str_ndup(s, (size_t)(val_end - s));
            req->n_params++;
        }
        p = seg_end;
        s = path_end;
    }
    return *p == '\0' && *s == '\0';
}

/* A key's data-sharing agreement (issue 21): expiry and daily quota are refused with 403 and
 * 429 naming the agency; every key's use is counted (DB.usage: quota, `spp keys list`); a key
 * with an agreement gets its view of the settings (access_scope_get), no shared tile cache, and a
 * 403 for a request naming a layer or field outside the agreement. */
static int agreement(struct request *req, const struct key_info *k, struct err *err)
{
    const char *agency = k->agency[0] ? k->agency : k->name;
    if (access_agreement_expired(k->expires)) {
        err_set(err, ERR_FORBIDDEN, "the data-sharing agreement of %s (key %lld) expired on %s",
                agency, (long long)k->id, k->expires);
        err->http_status = 403;
        return ERR_FORBIDDEN;
    }
    int over = 0;
    struct err uerr;
    err_clear(&uerr);
    /* a request run again on a render thread (render_wanted) was counted on its first run */
    if (req->cfg && req->cfg->db_path && !req->render_wanted &&
        store_usage_hit(req->cfg->db_path, k->id, k->quota, &over, &uerr) && k->quota > 0) {
        /* a quota that cannot be counted is not granted: for now (the store is away), a 503 */
        err_set(err, ERR_DB, "cannot count the key's requests: %s", uerr.msg);
        err->http_status = 503;
        return ERR_DB;
    }
    if (over) {
        err_set(err, ERR_LIMIT,
                "the daily quota of %lld requests of the data-sharing agreement of %s is used up"
                " (it resets at 00:00 UTC)",
                (long long)k->quota, agency);
        err->http_status = 429;
        return ERR_LIMIT;
    }
    if (!k->layers[0] && !k->fields[0] && !k->rows[0]) return 0;
    int rc =
        access_scope_get(req->cfg, k->id, agency, k->layers, k->fields, k->rows, &req->scope, err);
    if (rc) return rc;
    req->cfg = &req->scope->cfg;
    req->tiles = NULL;
    return access_scope_refuse(req->scope, req, err);
}

/* Moves every "key" query argument (any case) to the end of req->args, keeping the order of the
 * others, and returns how many there are; the first one's value goes to *first. Handlers see
 * the arguments without them (req->n_args lowered by the caller): the key is the HTTP layer's,
 * not a service parameter. */
static int take_query_keys(struct request *req, const char **first, int *conflict)
{
    int n = 0;
    *first = NULL;
    *conflict = 0;
    for (int i = 0; i < req->n_args - n;) {
        if (strcasecmp(req->args[i].key, "key") != 0) {
            i++;
            continue;
        }
        struct kv k = req->args[i];
        memmove(&req->args[i], &req->args[i + 1],
                (size_t)(req->n_args - i - 1) * sizeof req->args[0]);
        req->args[req->n_args - 1] = k;
        n++;
    }
    for (int i = req->n_args - n; i < req->n_args; i++) {
        if (!*first)
            *first = req->args[i].value;
        else if (strcmp(*first, req->args[i].value) != 0)
            *conflict = 1;
    }
    return n;
}

/* The password of "Basic base64(user:password)" into out (issue 20: QGIS 3.22 sends a WFS-T
 * Transaction to the capabilities' URL, without the connection's ?key=, but it sends the
 * connection's user name and password: the key is the password). 0, or -1 when malformed. */
static int basic_password(const char *b64, char *out, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char dec[256];
    size_t len = 0;
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = b64; *p && *p != '='; p++) {
        const char *c = strchr(abc, *p);
        if (!c || !*p) return -1;
        acc = (acc << 6) | (unsigned)(c - abc);
        if ((bits += 6) >= 8) {
            if (len + 1 >= sizeof dec) return -1;
            bits -= 8;
            dec[len++] = (char)((acc >> bits) & 0xff);
        }
    }
    dec[len] = '\0';
    const char *colon = memchr(dec, ':', len);
    if (!colon || strlen(colon + 1) >= n) return -1;
    snprintf(out, n, "%s", colon + 1);
    return 0;
}

/* Resolves the API key (X-API-Key, Authorization: Bearer, or ?key= for clients that cannot send
 * headers: map libraries' tile URLs, QGIS connection strings) into req->role. A request without
 * a key is public; a wrong, revoked, malformed or conflicting key (two places giving different
 * keys) is ERR_FORBIDDEN (401) on every route, never a silent downgrade (issue 18). */
static int auth(struct request *req, const char *query_key, int conflict, struct err *err)
{
    const char *key = req->api_key, *bearer = NULL;
    char basic[160];
    if (req->authorization && strncasecmp(req->authorization, "Basic ", 6) == 0) {
        if (basic_password(req->authorization + 6, basic, sizeof basic))
            return err_set(err, ERR_FORBIDDEN, "Authorization: Basic must carry user:key");
        bearer = basic;
    } else if (req->authorization) {
        if (strncasecmp(req->authorization, "Bearer ", 7) != 0)
            return err_set(
                err, ERR_FORBIDDEN,
                "Authorization must be \"Bearer <key>\" or Basic with the key as password");
        bearer = req->authorization + 7;
        while (*bearer == ' ')
            bearer++;
    }
    req->role = ROLE_PUBLIC;
    req->key_id = 0;
    const char *given[] = {key, bearer, query_key};
    key = NULL;
    for (size_t i = 0; i < ARRAY_LEN(given); i++) {
        if (!given[i]) continue;
        if (key && strcmp(key, given[i]) != 0) conflict = 1;
        if (!key) key = given[i];
    }
    if (conflict) return err_set(err, ERR_FORBIDDEN, "different API keys in one request");
    req->scope = NULL;
    if (!key) return 0;
    if (!*key || strlen(key) > 128) return err_set(err, ERR_FORBIDDEN, "invalid API key");
    struct key_info k;
    int rc = store_key_lookup(req->store, key, &k, err);
    if (rc) return rc;
    req->role = k.role;
    req->key_id = k.id;
    snprintf(req->key_agency, sizeof req->key_agency, "%s", k.agency[0] ? k.agency : k.name);
    return agreement(req, &k, err);
}

/* Per-key request rate (cfg->limits.rate_per_minute): by key id, or by client address for a
 * request without a key. ERR_LIMIT with status 429 and Retry-After past the budget. */
static int rate_check(struct request *req, struct response *res, struct err *err)
{
    int per_minute = req->cfg ? req->cfg->limits.rate_per_minute : 0;
    if (per_minute <= 0) return 0;
    char who[64];
    if (req->key_id)
        snprintf(who, sizeof who, "key:%lld", (long long)req->key_id);
    else
        snprintf(who, sizeof who, "addr:%s", req->client_addr);
    int wait = ratelimit_take(who, per_minute, ratelimit_now());
    if (!wait) return 0;
    char secs[16];
    snprintf(secs, sizeof secs, "%d", wait);
    resp_header(res, "Retry-After", secs);
    err_set(err, ERR_LIMIT, "rate limit of %d requests per minute reached, retry in %d s",
            per_minute, wait);
    err->http_status = 429;
    return ERR_LIMIT;
}

enum err_form http_route_form(const char *method, const char *path)
{
    enum err_form form = FORM_PROBLEM;
    for (int i = 0; i < (int)ARRAY_LEN(routes); i++)
        if (match(routes[i].pattern, path, NULL)) {
            form = routes[i].form;
            if (strcmp(routes[i].method, method) == 0) break;
        }
    return form;
}

int http_route_find(const char *method, const char *path)
{
    int is_head = strcmp(method, "HEAD") == 0, found = -1;
    for (int i = 0; i < (int)ARRAY_LEN(routes) && found < 0; i++)
        if (match(routes[i].pattern, path, NULL) &&
            (strcmp(routes[i].method, method) == 0 ||
             (is_head && strcmp(routes[i].method, "GET") == 0)))
            found = i;
    return found;
}

int http_route(struct request *req, struct response *res)
{
    struct err reason;
    return http_route_why(req, res, &reason);
}

int http_route_why(struct request *req, struct response *res, struct err *reason)
{
    struct err err;
    err_clear(&err);
    err_clear(reason);
    int found = -1, path_matched = 0;
    int is_head = strcmp(req->method, "HEAD") == 0;
    char allow[96] = ""; /* the methods of the path, for a 405's Allow */
    for (int i = 0; i < (int)ARRAY_LEN(routes); i++) {
        if (!match(routes[i].pattern, req->path, req)) continue;
        path_matched = 1;
        size_t al = strlen(allow);
        if (!strstr(allow, routes[i].method))
            snprintf(allow + al, sizeof allow - al, "%s%s%s", al ? ", " : "", routes[i].method,
                     strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
        if (strcmp(routes[i].method, req->method) == 0 ||
            (is_head && strcmp(routes[i].method, "GET") == 0)) {
            found = i;
            break;
        }
    }
    if (found < 0) {
        req->err_form = FORM_PROBLEM;
        if (path_matched) {
            err_set(&err, ERR_PARAM, "method %s not allowed here", req->method);
            err.http_status = 405;
        } else {
            err_set(&err, ERR_NOT_FOUND, "no resource at %s", req->path);
        }
        http_write_error(req, res, &err);
        if (path_matched) resp_header(res, "Allow", allow);
        *reason = err;
        free_params(req);
        return -1;
    }
    const struct route *r = &routes[found];
    req->err_form = r->form;
    /* An in-process caller (tests, the fuzz target) brings a store and a geo context but no
     * worker: it gets one for this request, whose caches go when the request does. */
    struct worker lent;
    int lending = !req->worker;
    if (lending) {
        memset(&lent, 0, sizeof lent);
        lent.store = req->store;
        lent.geo = req->geo;
        req->worker = &lent;
    }
    /* Probes never look at a key: a wrong one on /healthz or /readyz is still answered. */
    int probe = r->fn == healthz_handler || r->fn == readyz_handler;
    const char *query_key;
    int conflict;
    int n_keys = take_query_keys(req, &query_key, &conflict);
    req->n_args -= n_keys;
    /* The failing-allocator test hook: the request's allocations are counted from here (the
     * key's lookup, the handler, the audit) until its answer is known. */
    if (req->test_fail_alloc) alloc_test_arm(req->test_fail_alloc, req->test_fail_once);
    int rc = probe ? 0 : auth(req, query_key, conflict, &err);
    /* Counted whether the key was right or not (a failed key counts against the client
     * address), so guessing keys is throttled too. Probes stay outside: balancers poll them.
     * A request run again on a render thread (render_wanted) was counted on its first run. */
    if (!probe && !req->render_wanted) {
        struct err rate_err;
        err_clear(&rate_err);
        if (rate_check(req, res, &rate_err)) {
            err = rate_err;
            rc = ERR_LIMIT;
        }
    }
    /* Restricted reads are noted by the store and written to the audit log before the answer
     * leaves (issue 21); an audit entry that cannot be written fails the request. */
    struct store_reads reads;
    int tracking = !rc && req->store && req->role > ROLE_PUBLIC;
    if (tracking) store_track_reads(req->store, &reads);
    if (!rc) rc = r->fn(req, res, &err);
    if (tracking) {
        store_track_reads(req->store, NULL);
        if (!rc && reads.n && audit_record(req, req->key_agency, &reads, &err)) {
            /* restricted data is not served unrecorded: the service is unavailable until the
             * audit log can be written again (disk full, permissions), and says so */
            log_msg("error", "audit: %s", err.msg);
            buf_reset(&res->body);
            err_set(&err, ERR_INTERNAL,
                    "restricted data cannot be served now: the audit log cannot be written");
            err.http_status = 503;
            resp_header(res, "Retry-After", "60");
            rc = ERR_INTERNAL;
        }
    }
    if (req->test_fail_alloc) alloc_test_disarm();
    /* Out of memory anywhere in the answer (a handler's ERR_NOMEM, or a body whose buffer failed
     * even though the handler did not check) is a 503 the client may retry: never a truncated
     * 200, and nothing of the partial body goes out. */
    if (!rc && buf_failed(&res->body)) {
        err_clear(&err);
        rc = err_set(&err, ERR_NOMEM, "out of memory while building the answer, retry shortly");
    }
    if (rc == ERR_NOMEM || (rc && err.code == ERR_NOMEM)) {
        rc = ERR_NOMEM;
        err.http_status = 503;
        res->n_headers = 0; /* a half-made answer's headers (ETag, caching) go with it */
        resp_header(res, "Retry-After", "1");
    }
    if (rc) {
        if (!err.code) err_set(&err, (enum err_code)rc, "%s", err_code_name((enum err_code)rc));
        http_write_error(req, res, &err);
        *reason = err;
    } else if (!res->status) {
        res->status = 200;
    }
    req->n_args += n_keys; /* the caller frees them all */
    free_params(req);
    if (lending) {
        worker_drop_caches(&lent);
        req->worker = NULL;
    }
    return found;
}
