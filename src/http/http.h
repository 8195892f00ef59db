/* SPDX-License-Identifier: MIT */
/* http: the route table (router.c), the libmicrohttpd server with its worker pool (server.c),
 * error answers in each protocol's form (errors.c) and Prometheus metrics (metrics.c). */
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

/* Routing, in-process (no socket): matches req->method and req->path, resolves the API key into
 * req->role, calls the handler and turns an error into the protocol's answer. req->store,
 * req->geo and req->cfg must be set. Returns the route index, or -1 when nothing matched. */
int http_route(struct request *req, struct response *res);
/* The error form of the route method+path would take (FORM_PROBLEM when none matches), so
 * that answers given before routing (413, 503) speak the route's protocol. */
enum err_form http_route_form(const char *method, const char *path);
/* Number of routes and a route's metrics name (for /metrics). */
int http_route_count(void);
const char *http_route_name(int i);

/* Writes err into res in req->err_form (problem JSON, OWS ExceptionReport, WMS
 * ServiceExceptionReport or text) with the matching 4xx/5xx status. */
void http_write_error(const struct request *req, struct response *res, const struct err *err);
int http_status_for(const struct err *err);

/* Serving: starts libmicrohttpd on cfg->listen_host:port with cfg->threads workers and blocks
 * until SIGINT/SIGTERM. ERR_IO if the port cannot be bound or the store cannot be opened. */
int http_serve(const struct config *cfg, struct err *err);

/* Request rate limit (ratelimit.c): takes one request from the budget of `who` (a key id or a
 * client address) of per_minute requests (token bucket, burst = per_minute). Returns 0 when the
 * request may go on, else the seconds to wait before the next one may (Retry-After, >= 1).
 * per_minute <= 0: no limit. now: monotonic seconds (ratelimit_now()). Thread-safe. */
int ratelimit_take(const char *who, int per_minute, double now);
double ratelimit_now(void);
void ratelimit_clear(void); /* forgets every bucket (tests) */

/* Metrics. */
void metrics_record(int route, int status, double seconds);
int metrics_handler(struct request *req, struct response *res, struct err *err);
int healthz_handler(struct request *req, struct response *res, struct err *err);

#endif
