/* SPDX-License-Identifier: MIT */
/* request.h: the request and response every handler gets, independent of libmicrohttpd so that
 * services (ogc/, ogcapi/, tiles/, query/) can be called in-process by tests and never include
 * the HTTP library. Everything a request allocates hangs off it and is freed when it completes. */
#ifndef SPP_REQUEST_H
#define SPP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* Roles, lowest first: a role may read what its own and every lower role may read. */
/* editor (issue 20) reads what a planner reads; it may write the layers whose catalog entry lists
 * it in "edit_roles" (access_edit). */
enum role { ROLE_PUBLIC, ROLE_INVESTOR, ROLE_PLANNER, ROLE_EDITOR, ROLE_ADMIN };
#define ROLE_COUNT 5

/* How errors of a route are written (the protocol's own form). */
enum err_form { FORM_PROBLEM, FORM_OWS, FORM_WMS, FORM_TEXT };

struct config;
struct worker;
struct store;
struct geo_ctx;
struct tile_cache;
struct par;
struct access_scope;

struct kv {
    char *key;
    char *value;
};

#define REQ_MAX_PARAMS   6
#define RESP_MAX_HEADERS 10

struct request {
    const char *method; /* "GET", "HEAD", "POST" */
    const char *path;   /* URL path, percent-decoded */
    const char *query;  /* raw query string without '?', or "" */
    struct kv *args;    /* query arguments in order, decoded */
    int n_args;
    const char *body; /* POST body or NULL */
    size_t body_len;
    const char *content_type; /* request headers (NULL when absent) */
    const char *accept;
    const char *accept_encoding;
    const char *accept_language;
    const char *if_none_match;
    const char *if_match;      /* If-Match (OGC API Features Part 4 edits) */
    const char *content_crs;   /* Content-Crs (Part 4: the CRS of a written geometry) */
    const char *api_key;       /* X-API-Key */
    const char *authorization; /* Authorization */
    char client_addr[48];      /* client IP address; "" in-process (rate limit without key) */
    char base_url[256];        /* "http://host:port", no trailing slash */
    char *param_names[REQ_MAX_PARAMS]; /* path parameters from the route pattern */
    char *params[REQ_MAX_PARAMS];
    int n_params;
    enum role role; /* from the API key; ROLE_PUBLIC without one */
    int64_t key_id; /* 0 without a key */
    /* The key's data-sharing agreement (issue 21), NULL for a key without one (or no key); with
     * one, cfg is its view (access_scope_get) and tiles is NULL (nothing cached is shared). */
    const struct access_scope *scope;
    char key_agency[128]; /* the key's agency, else its name ("" without a key): audit entries */
    enum err_form err_form;
    const struct config *cfg;
    struct worker *worker; /* the worker running the request (core/worker.h): its caches */
    struct store *store;   /* the worker's handles, valid during the request */
    struct geo_ctx *geo;
    struct tile_cache *tiles; /* the server's tile cache (shared, thread-safe), may be NULL */
    struct par *par; /* helper threads for a request's independent parts (core/par.h), or NULL */
    /* The render pool (issue 18). defer_render 1: a handler about to draw (a raster tile miss,
     * a WMTS tile) sets render_wanted and returns ERR_LIMIT instead; the server runs the request
     * again on a render thread (defer_render 0, render_wanted still 1). In-process callers leave
     * both 0 and draw inline. */
    int defer_render;
    int render_wanted;
    /* The failing-allocator test hook (core/alloc.c): the router fails the test_fail_alloc'th
     * allocation of the request, and every later one unless test_fail_once; 0: off. The server
     * sets it only in a test build run with SPP_TEST_FAIL_ALLOC (its value, or the request's
     * X-Spp-Test-Fail-Alloc header). */
    long test_fail_alloc;
    int test_fail_once;
};

struct resp_header {
    char name[48];
    char value[512];
};

struct response {
    int status; /* 0 = 200 */
    char content_type[128];
    struct buf body;
    /* A body streamed from an open file instead of body (downloads): has_body_fd set, the
     * descriptor owned by the response (closed by resp_fini unless the server took it). */
    int has_body_fd;
    int body_fd;
    uint64_t body_fd_size;
    /* A body shared with its owner instead of body (a tile cache hit sent without a copy): set
     * by resp_body_shared, only when the caller allows it (allow_shared: the server). */
    const char *body_shared;
    size_t body_shared_len;
    void (*body_release)(void *data);
    int allow_shared;
    struct resp_header headers[RESP_MAX_HEADERS];
    int n_headers;
};

/* Query argument by exact name, NULL if absent. */
const char *req_arg(const struct request *r, const char *key);
/* Query argument by case-insensitive name (OGC KVP), NULL if absent. */
const char *req_arg_ci(const struct request *r, const char *key);
/* Path parameter by name, NULL if absent. */
const char *req_param(const struct request *r, const char *name);
/* 1 if the Accept header or f= asks for HTML before JSON. */
int req_wants_html(const struct request *r);

void resp_init(struct response *res);
void resp_fini(struct response *res);
/* Sets status and content type. */
void resp_set(struct response *res, int status, const char *content_type);
/* Adds a header (silently ignored past RESP_MAX_HEADERS, which code never reaches). */
void resp_header(struct response *res, const char *name, const char *value);
const char *resp_get_header(const struct response *res, const char *name);
/* Makes data (len bytes) the body without a copy; release(data) gives it back (resp_fini, an
 * error answer, or the server once sent). data NULL: drops a shared body. */
void resp_body_shared(struct response *res, const char *data, size_t len, void (*release)(void *));
/* Makes the open file fd (size bytes, from its start) the body; the response owns fd. */
void resp_body_fd(struct response *res, int fd, uint64_t size);
/* Drops whatever body res holds (bytes, shared bytes, a file), as for a 304. */
void resp_body_clear(struct response *res);

#endif
