/* SPDX-License-Identifier: MIT */
/* http: the route table (router.c), the libmicrohttpd server (server.c) with its render pool
 * (pool.c) and connection watchdog (watchdog.c), error answers in each protocol's form
 * (errors.c), Prometheus metrics (metrics.c), the access log and the rate limit.
 *
 * Owns: struct server and the workers (checked out per request, core/worker.h), API-key
 * resolution, the mapping of an error to a status and body, and the one place a response becomes
 * bytes (where a body that ran out of memory becomes a 503, never a truncated 200).
 * Must not: know what a service answers (handlers see struct request/response only), build SQL,
 * or hold a library handle outside a worker. Only this module includes microhttpd.h. */
#ifndef SPP_HTTP_H
#define SPP_HTTP_H

#include "../config/config.h"
#include "../core/request.h"

typedef int (*http_handler)(struct request *req, struct response *res, struct err *err);

struct route {
    const char *method;  /* "GET" (also serves HEAD) or "POST" */
    const char *pattern; /* "/collections/{layer}/items"; "{y}.mvt" = parameter + suffix */
    http_handler fn;
    enum err_form form; /* how errors are answered */
    const char *name;   /* metrics label */
};

/* Routing, in-process (no socket): matches req->method and req->path, resolves the API key
 * (X-API-Key, Authorization: Bearer or a "key" query argument, any case) into req->role, calls
 * the handler and turns an error into the protocol's answer. A wrong, malformed or conflicting
 * key is a 401 on every route but /healthz and /readyz. "key" arguments are hidden from the
 * handler and are back in req->args (moved last, others in order) when it returns. req->store,
 * req->geo and req->cfg must be set (req->store may be NULL for /healthz and /readyz, which
 * never look at a key). Returns the route index, or -1 when nothing matched. */
int http_route(struct request *req, struct response *res);
/* The same, and the error answered (if any) copied into *reason for the access log. */
int http_route_why(struct request *req, struct response *res, struct err *reason);
/* The error form of the route method+path would take (FORM_PROBLEM when none matches), so
 * that answers given before routing (413, 503) speak the route's protocol. */
enum err_form http_route_form(const char *method, const char *path);
/* The index of the route method+path matches, -1 when none (for metrics of answers given
 * without running the route). */
int http_route_find(const char *method, const char *path);
/* Number of routes and a route's metrics name (for /metrics). */
int http_route_count(void);
const char *http_route_name(int i);

/* Writes err into res in req->err_form (problem JSON, OWS ExceptionReport, WMS
 * ServiceExceptionReport or text) with the matching 4xx/5xx status. */
void http_write_error(const struct request *req, struct response *res, const struct err *err);
int http_status_for(const struct err *err);

/* Serving (server.c): checks the store file and its directory, listens on cfg->listen_host:port,
 * opens cfg->threads workers (/readyz is 503 meanwhile) and serves until SIGTERM or SIGINT, which
 * stop accepting connections and let the requests in flight finish for up to
 * cfg->drain_seconds; a second signal ends the wait. SIGHUP re-reads cfg->config_path. Returns 0
 * after a clean stop; ERR_IO with the path and the problem if the store cannot be served or the
 * port cannot be bound. cfg is borrowed for the whole call. */
int http_serve(const struct config *cfg, struct err *err);
/* The server's phase: HTTP_READY also when no server runs (in-process routing, tests). */
enum http_phase { HTTP_READY, HTTP_STARTING, HTTP_DRAINING, HTTP_FAILED };
enum http_phase http_phase(void);

/* Access log (accesslog.c): one line per request on stdout (not with --quiet). */
struct access_entry {
    double time;          /* when the request line arrived, Unix seconds */
    const char *client;   /* client address (X-Forwarded-For resolved) */
    const char *method;   /* may be NULL when the request line was never complete */
    const char *uri;      /* the request target as sent; key parameters are redacted here */
    const char *protocol; /* "HTTP/1.1" */
    int status;
    uint64_t bytes;      /* body bytes answered */
    double ms;           /* duration, request line to last byte */
    const char *route;   /* metrics name of the route, "unmatched" */
    int64_t key_id;      /* 0 without a key */
    const char *role;    /* role of the request */
    const char *referer; /* headers, may be NULL (Referer's key parameters are redacted) */
    const char *user_agent;
    const char *reason; /* the error message for an error answer, else NULL */
};
/* Writes e as one line in fmt: text (combined-log-like, see docs/design-notes.md) or JSON. */
void access_log_write(enum log_format fmt, const struct access_entry *e);
/* Appends uri with the value of every API-key-like query parameter (key, api_key, apikey,
 * api-key, x-api-key, access_token, token; any case, percent-encoded or not) replaced by
 * "REDACTED". ERR_NOMEM. */
int access_redact_uri(struct buf *b, const char *uri);
/* The client address of a request from peer (the socket's address): when peer is a trusted
 * proxy (cfg->trusted_proxies) and xff (the X-Forwarded-For values joined by ",") is set, the
 * rightmost address of xff that is not a trusted proxy (the leftmost if all are); peer
 * otherwise, or when xff holds something that is not an address. */
void http_client_addr(const struct config *cfg, const char *peer, const char *xff, char *out,
                      size_t n);

/* Request rate limit (ratelimit.c): takes one request from the budget of `who` (a key id or a
 * client address) of per_minute requests (token bucket, burst = per_minute). Returns 0 when the
 * request may go on, else the seconds to wait before the next one may (Retry-After, >= 1).
 * per_minute <= 0: no limit. now: monotonic seconds (ratelimit_now()). Thread-safe. */
int ratelimit_take(const char *who, int per_minute, double now);
double ratelimit_now(void);
void ratelimit_clear(void); /* forgets every bucket (tests) */

/* Metrics (metrics.c). Thread-safe. */
void metrics_start(void); /* the start time behind uptime */
void metrics_record(int route, int status, double seconds);
void metrics_in_flight(int delta);
void metrics_queue_wait(double seconds);
void metrics_render_wms(double seconds); /* a WMS image answered */
void metrics_reload(int ok);             /* a SIGHUP re-read of the settings */
void metrics_render_pool(int queued_delta, int running_delta); /* the render pool's gauges */
void metrics_render_refused(int over_budget);                  /* a heavy request answered 503 */
void metrics_render_abandoned(void); /* a queued request whose client had gone, not run */
void metrics_conn_cut(int body);     /* a connection cut by the header/body deadline */
int metrics_handler(struct request *req, struct response *res, struct err *err);
/* /healthz: 200 while the process runs, whatever key is sent. */
int healthz_handler(struct request *req, struct response *res, struct err *err);
/* /readyz: 200 when requests are served; 503 while the store is being opened, while draining,
 * after a failed start or when the store file is gone. */
int readyz_handler(struct request *req, struct response *res, struct err *err);

#endif
