/* SPDX-License-Identifier: MIT */
/* server.c: libmicrohttpd with a thread pool, and the server's life (issue 15). It owns struct
 * server (server_int.h) and the workers (core/worker.h: a read-only SQLite connection with
 * SpatiaLite, PROJ and GEOS contexts, the query caches); a request checks one out and gives it
 * back. The render pool is pool.c, the connection watchdog watchdog.c; routes, keys and error
 * bodies are router.c's and errors.c's: nothing here knows a service. Request bodies are capped,
 * in-flight requests are counted (503 past the limit), every request gets an access-log line and
 * metrics samples when it completes (after its last byte went out).
 *
 * Life: the store file and its directory are checked, the port is bound, then the workers open
 * the store while /readyz answers 503 (other requests wait for them). SIGTERM or SIGINT stop
 * accepting (the listening socket is shut, so new connections are refused), let the requests in
 * flight finish for up to drain_seconds (answers say "Connection: close"), then stop; a second
 * signal ends the wait. SIGHUP reads the --config file again: the new settings apply to
 * requests that arrive after it, requests in flight keep the settings they started with (each
 * generation lives until exit), connections stay open. Signals are taken by the main thread
 * with sigtimedwait, so no handler runs inside a worker.
 *
 * Hostile and heavy traffic (issue 18): libmicrohttpd caps connections per peer address; a
 * watchdog thread closes connections whose request head or body is late (deadlines that
 * arriving bytes do not move); heavy requests (maps, tiles drawn on a miss, big exports) are
 * suspended and run by a render pool with its own workers, a bounded queue and a time budget,
 * so the libmicrohttpd threads only ever run cheap handlers. Links are built from public_url or
 * a trusted proxy's X-Forwarded-Host, never from Host. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../core/par.h"
#include "../core/worker.h"
#include "../geo/geo.h"
#include "../store/store.h"
#include "../tiles/tiles.h"
#include "server_int.h"

static int phase = HTTP_READY; /* the stop flag, grown into a phase; read atomically */

enum http_phase http_phase(void)
{
    return (enum http_phase)__atomic_load_n(&phase, __ATOMIC_ACQUIRE);
}

static void set_phase(struct server *s, enum http_phase p)
{
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&phase, (int)p, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&s->phased);
    pthread_mutex_unlock(&s->lock);
}

/* Blocks a request that arrived while the store was being opened until it is; 0 when ready. */
static int wait_ready(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    while (http_phase() == HTTP_STARTING)
        pthread_cond_wait(&s->phased, &s->lock);
    int failed = http_phase() == HTTP_FAILED;
    pthread_mutex_unlock(&s->lock);
    return failed;
}

static struct worker *checkout(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    struct worker *w = NULL;
    for (;;) {
        for (int i = 0; i < s->n_cheap && i < s->n_workers; i++)
            if (!s->workers[i].busy) {
                w = &s->workers[i];
                break;
            }
        if (w) break;
        pthread_cond_wait(&s->freed, &s->lock);
    }
    w->busy = 1;
    pthread_mutex_unlock(&s->lock);
    return w;
}

static void checkin(struct server *s, struct worker *w)
{
    pthread_mutex_lock(&s->lock);
    w->busy = 0;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

struct arg_ctx {
    struct kv *args;
    int n, cap;
    int overflow; /* more than 1024 arguments, or out of memory: answered 400 */
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct arg_ctx *a = cls;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        struct kv *p = cap > 1024 ? NULL : realloc(a->args, (size_t)cap * sizeof *p);
        if (!p) {
            a->overflow = 1;
            return MHD_NO;
        }
        a->args = p;
        a->cap = cap;
    }
    char *k = str_dup(key), *v = str_dup(value ? value : "");
    if (!k || !v) {
        free(k), free(v);
        a->overflow = 1;
        return MHD_NO;
    }
    a->args[a->n].key = k;
    a->args[a->n].value = v;
    a->n++;
    return MHD_YES;
}

double http_elapsed(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct response *res, int close)
{
    struct MHD_Response *r;
    if (res->has_body_fd) { /* a download streamed from its file (issue 21); MHD closes fd */
        r = MHD_create_response_from_fd64(res->body_fd_size, res->body_fd);
        if (!r) return MHD_NO;
        res->has_body_fd = 0;
    } else if (res->body_shared) { /* a tile cache hit: sent from the cache's bytes, no copy */
        r = MHD_create_response_from_buffer_with_free_callback(
            res->body_shared_len, (void *)res->body_shared, res->body_release);
        if (!r) return MHD_NO; /* resp_fini gives the bytes back */
        res->body_shared = NULL;
    } else if (buf_failed(&res->body)) {
        /* Out of memory even for the error answer: a fixed one, with nothing to allocate. */
        static const char nomem[] = "out of memory, retry shortly\n";
        r = MHD_create_response_from_buffer(sizeof nomem - 1, (void *)nomem,
                                            MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        res->status = 503;
        snprintf(res->content_type, sizeof res->content_type, "text/plain; charset=utf-8");
        res->n_headers = 0;
        resp_header(res, "Retry-After", "1");
    } else {
        size_t len = res->body.len;
        char *data = buf_take(&res->body, &len);
        r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
        if (!r) {
            free(data);
            return MHD_NO;
        }
    }
    if (res->content_type[0]) MHD_add_response_header(r, "Content-Type", res->content_type);
    for (int i = 0; i < res->n_headers; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    /* Draining: the client reconnects elsewhere rather than keeping this connection. */
    if (close) MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(res->status ? res->status : 200), r);
    MHD_destroy_response(r);
    return ret;
}

/* Copies the first value of a list header ("a, b") keeping only what a host[:port] can hold;
 * 0 when nothing is left. */
static size_t clean_host(const char *v, char *out, size_t n)
{
    size_t k = 0;
    while (v && *v == ' ')
        v++;
    for (const char *p = v ? v : ""; *p && *p != ',' && *p != ' ' && k + 1 < n; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
            return out[0] = '\0', 0; /* not a host: ignored rather than trimmed into another */
        out[k++] = *p;
    }
    out[k] = '\0';
    return k;
}

/* The base URL of links (capabilities, TileJSON, OGC API links): public_url when configured;
 * else, for a request from a trusted proxy, X-Forwarded-Host (and X-Forwarded-Proto, http or
 * https); else the listen address. Never the Host header: it is the client's to choose, and a
 * forged one would be copied into answers that caches and other clients keep (issue 18). */
static void set_base_url(struct request *req, const struct config *cfg, struct MHD_Connection *c,
                         const char *peer, int port)
{
    char host[200];
    const char *fwd = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Host");
    if (cfg->public_url) {
        snprintf(req->base_url, sizeof req->base_url, "%s", cfg->public_url);
    } else if (fwd && config_trusted_proxy(cfg, peer) && clean_host(fwd, host, sizeof host)) {
        const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
        int https = proto && strncasecmp(proto, "https", 5) == 0 &&
                    (proto[5] == '\0' || proto[5] == ',' || proto[5] == ' ');
        snprintf(req->base_url, sizeof req->base_url, "%s://%s", https ? "https" : "http", host);
    } else {
        snprintf(req->base_url, sizeof req->base_url, "http://%s:%d", cfg->listen_host, port);
    }
    size_t l = strlen(req->base_url);
    while (l && req->base_url[l - 1] == '/')
        req->base_url[--l] = '\0';
}

static void peer_addr(struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET && n >= 16) { /* by hand: inet_ntop goes through sprintf */
        const unsigned char *a =
            (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        char *p = out;
        for (int i = 0; i < 4; i++) {
            if (i) *p++ = '.';
            if (a[i] >= 100) *p++ = (char)('0' + a[i] / 100);
            if (a[i] >= 10) *p++ = (char)('0' + a[i] / 10 % 10);
            *p++ = (char)('0' + a[i] % 10);
        }
        *p = '\0';
    } else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
}

/* Every X-Forwarded-For header of the request, joined by ",". */
static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct buf *b = cls;
    if (key && value && strcasecmp(key, "X-Forwarded-For") == 0 && b->len < 4096)
        buf_printf(b, "%s%s", b->len ? "," : "", value);
    return MHD_YES;
}

/* 1 when the Content-Length announced is already past the body limit (nothing is buffered). */
static int announced_too_big(struct MHD_Connection *c, size_t max_body)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    long n;
    return cl && str_to_long(cl, &n) == 0 && n > 0 && (unsigned long)n > max_body;
}

/* The request line arrived: the request's record starts here (URI log callback). */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct server *s = cls;
    struct conn *cn = calloc(1, sizeof *cn);
    if (!cn) return NULL;
    buf_init(&cn->body);
    clock_gettime(CLOCK_MONOTONIC, &cn->start);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    cn->wall = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    cn->cfg = __atomic_load_n(&s->cfg, __ATOMIC_ACQUIRE);
    cn->uri = str_dup(uri ? uri : "");
    cn->route = -1;
    peer_addr(c, cn->peer, sizeof cn->peer);
    snprintf(cn->client, sizeof cn->client, "%s", cn->peer); /* X-Forwarded-For: read later */
    struct sock_ctx *sc = http_sock_of(c);
    if (sc) {
        pthread_mutex_lock(&s->watch_lock);
        sc->got_line = 1;
        pthread_mutex_unlock(&s->watch_lock);
    }
    __atomic_add_fetch(&s->active, 1, __ATOMIC_RELAXED);
    metrics_in_flight(1);
    return cn;
}

/* Where the request's wait for a worker starts: the connection's accept for its first request,
 * the request line for later ones (the client's think time between requests is not a wait). */
static void note_queued(struct MHD_Connection *c, struct conn *cn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct sock_ctx *sc = ci ? ci->socket_context : NULL;
    cn->queued = sc && sc->n_requests++ == 0 ? sc->accepted : cn->start;
}

/* Notes what the access log needs of the request's headers (they go with the connection's
 * memory when the request completes). */
static void note_request(struct conn *cn, struct MHD_Connection *c, const char *method,
                         const char *version)
{
    snprintf(cn->method, sizeof cn->method, "%s", method);
    snprintf(cn->protocol, sizeof cn->protocol, "%s", version ? version : "");
    cn->referer = str_dup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Referer"));
    cn->user_agent = str_dup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent"));
    const char *peer = cn->peer;
    struct buf xff;
    buf_init(&xff);
    if (cn->cfg->n_trusted_proxies)
        MHD_get_connection_values(c, MHD_HEADER_KIND, collect_xff, &xff);
    http_client_addr(cn->cfg, peer, xff.data, cn->client, sizeof cn->client);
    buf_fini(&xff);
}

static void fill_request(struct request *req, struct conn *cn, struct MHD_Connection *c,
                         const char *url, const char *method, int port)
{
    const struct config *cfg = cn->cfg;
    req->method = method;
    req->path = url;
    req->query = "";
    req->cfg = cfg;
    req->body = cn->body.data;
    req->body_len = cn->body.len;
    req->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    req->accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    req->accept_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    req->accept_language = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language");
    req->if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    req->if_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Match");
    req->content_crs = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Crs");
    req->api_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    req->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    req->err_form = http_route_form(method, url);
    if (alloc_test_enabled()) { /* a test build run with SPP_TEST_FAIL_ALLOC: see core.h */
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Spp-Test-Fail-Alloc");
        if (alloc_test_parse(v ? v : getenv("SPP_TEST_FAIL_ALLOC"), &req->test_fail_alloc,
                             &req->test_fail_once))
            req->test_fail_alloc = 0;
    }
    snprintf(req->client_addr, sizeof req->client_addr, "%s", cn->client);
    set_base_url(req, cfg, c, cn->peer, port);
}

/* Routes the request on a worker (probes need none). Fills res and *why. Returns the route.
 * A handler that would draw asks for the render pool instead (req->render_wanted). */
static int dispatch(struct server *s, struct conn *cn, struct request *req, struct response *res,
                    struct err *why)
{
    int probe = strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/readyz") == 0;
    if (probe) return http_route_why(req, res, why);
    if (wait_ready(s)) {
        err_set(why, ERR_INTERNAL, "the server could not open its store");
        why->http_status = 503;
        http_write_error(req, res, why);
        return -1;
    }
    struct worker *w = checkout(s);
    metrics_queue_wait(http_elapsed(&cn->queued));
    req->worker = w;
    req->store = w->store;
    req->geo = w->geo;
    req->tiles = s->tiles;
    req->par = s->par;
    req->defer_render = 1;
    store_set_deadline(w->store, cn->cfg->limits.query_ms);
    int route = http_route_why(req, res, why);
    store_set_deadline(w->store, 0);
    checkin(s, w);
    req->worker = NULL, req->store = NULL, req->geo = NULL; /* another request's now */
    return route;
}

/* Sends the answer of cn's request and frees what it held. */
static enum MHD_Result finish(struct server *s, struct conn *cn, struct MHD_Connection *c)
{
    if (cn->counted) {
        pthread_mutex_lock(&s->lock);
        s->inflight--;
        pthread_mutex_unlock(&s->lock);
        cn->counted = 0;
    }
    cn->status = cn->res.status ? cn->res.status : 200;
    cn->bytes = strcmp(cn->method, "HEAD") == 0 ? 0
                : cn->res.has_body_fd           ? (size_t)cn->res.body_fd_size
                : cn->res.body_shared           ? cn->res.body_shared_len
                                                : cn->res.body.len;
    cn->key_id = cn->req.key_id;
    cn->role = cn->req.role;
    if (cn->err.code || cn->err.msg[0])
        snprintf(cn->reason, sizeof cn->reason, "%s",
                 cn->err.msg[0] ? cn->err.msg : err_code_name(cn->err.code));
    enum MHD_Result ret = send_response(c, &cn->res, http_phase() == HTTP_DRAINING);
    cn->answered = 1;
    resp_fini(&cn->res);
    for (int i = 0; i < cn->n_args; i++)
        free(cn->args[i].key), free(cn->args[i].value);
    free(cn->args);
    cn->args = NULL;
    cn->n_args = 0;
    return ret;
}

/* The request is complete (head and body): answer it inline, or hand it to the render pool. */
static enum MHD_Result serve(struct server *s, struct conn *cn, struct MHD_Connection *c,
                             const char *url, const char *method)
{
    const struct config *cfg = cn->cfg;
    struct request *req = &cn->req;
    memset(req, 0, sizeof *req);
    resp_init(&cn->res);
    cn->res.allow_shared = 1; /* send_response sends a shared body (tile hits) as it is */
    err_clear(&cn->err);
    struct arg_ctx args = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
    cn->args = req->args = args.args;
    cn->n_args = req->n_args = args.n;
    /* the port is set once the daemon runs, while its first requests may already be read */
    fill_request(req, cn, c, url, method, __atomic_load_n(&s->port, __ATOMIC_ACQUIRE));
    http_watch_state(s, http_sock_of(c), SOCK_BUSY);

    int known = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
                strcmp(method, "POST") == 0 || strcmp(method, "OPTIONS") == 0 ||
                strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
                strcmp(method, "DELETE") == 0; /* edits (issue 20) */
    /* Probes are never refused for load: a balancer must see a busy server as alive. */
    int probe = strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0;
    pthread_mutex_lock(&s->lock);
    int over = !probe && s->inflight >= cfg->limits.max_concurrent;
    if (!over) s->inflight++;
    pthread_mutex_unlock(&s->lock);
    cn->counted = !over;
    struct err *err = &cn->err;
    struct response *res = &cn->res;
    if (!known) {
        err_set(err, ERR_PARAM, "method %s not allowed", method);
        err->http_status = 405;
        http_write_error(req, res, err);
        resp_header(res, "Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    } else if (over) {
        err_set(err, ERR_LIMIT, "too many concurrent requests, retry shortly");
        err->http_status = 503;
        http_write_error(req, res, err);
        resp_header(res, "Retry-After", "1");
    } else if (args.overflow) {
        err_set(err, ERR_PARAM, "more than 1024 query parameters");
        http_write_error(req, res, err);
    } else if (cn->too_big) {
        err_set(err, ERR_LIMIT, "request body larger than %zu bytes", cfg->limits.max_body);
        err->http_status = 413;
        http_write_error(req, res, err);
    } else if (strcmp(method, "OPTIONS") == 0) {
        resp_set(res, 204, "");
        resp_header(res, "Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        resp_header(res, "Access-Control-Allow-Methods",
                    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        resp_header(res, "Access-Control-Allow-Headers",
                    "Content-Type, X-API-Key, Authorization, If-None-Match, If-Match, Content-Crs");
    } else {
        int heavy = !probe && http_heavy_request(req, &cfg->limits);
        if (!heavy) {
            cn->route = dispatch(s, cn, req, res, err);
            heavy = req->render_wanted; /* a tile miss: drawn on a render thread */
        } else if (wait_ready(s)) {
            cn->route = dispatch(s, cn, req, res, err); /* answers the failed start */
            heavy = 0;
        }
        if (heavy) {
            /* 1: it ran inline (a tile miss), its rate and queue wait were counted there */
            req->render_wanted = cn->route >= 0;
            if (http_enqueue(s, cn, c)) return MHD_YES;
            http_refuse_heavy(cn, 0);
            cn->route = http_route_find(method, url);
        }
    }
    return finish(s, cn, c);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct conn *cn = *con_cls;
    if (!cn && !(cn = *con_cls = on_request_line(s, url, c))) return MHD_NO;
    const struct config *cfg = cn->cfg;
    if (__atomic_load_n(&cn->job, __ATOMIC_ACQUIRE) == JOB_DONE) { /* back from the pool */
        cn->job = JOB_NONE;
        return finish(s, cn, c);
    }
    if (!cn->started) {
        cn->started = 1;
        http_watch_state(s, http_sock_of(c), SOCK_BODY);
        note_queued(c, cn);
        note_request(cn, c, method, version);
        cn->too_big = announced_too_big(c, cfg->limits.max_body);
        /* A body announced past the limit is refused now, before it is read: libmicrohttpd
         * sends the 413 instead of "100 Continue" and closes the connection after it. */
        if (!cn->too_big) return MHD_YES;
    } else if (cn->answered) {
        *upload_size = 0; /* the 413 is queued: drop whatever of the body still arrives */
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cn->too_big && cn->body.len + *upload_size > cfg->limits.max_body) {
            cn->too_big = 1;
            buf_fini(&cn->body);
        }
        if (!cn->too_big && buf_append(&cn->body, upload, *upload_size)) cn->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    return serve(s, cn, c, url, method);
}

/* Why a request ended without its whole answer, for the log. */
static const char *ended_early(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "connection timed out";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "server stopped (drain time over)";
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "malformed or oversized request (refused by the HTTP library) or connection error";
    default:
        return "client closed the connection";
    }
}

/* The request is over (its answer sent, or the connection gone): log it, count it, free it. */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct conn *cn = *con_cls;
    struct sock_ctx *sc = http_sock_of(c);
    int cut = 0;
    if (sc) {
        pthread_mutex_lock(&s->watch_lock);
        cut = sc->cut;
        pthread_mutex_unlock(&s->watch_lock);
        if (!cut) http_watch_state(s, sc, SOCK_HEAD); /* the next request head's deadline starts */
    }
    if (!cn) return;
    double secs = http_elapsed(&cn->start);
    if (!cn->answered && cut) {
        cn->status = 408;
        snprintf(cn->reason, sizeof cn->reason, "request %s not received within %d s, closed",
                 cut == 2 ? "body" : "head",
                 cut == 2 ? cn->cfg->limits.body_seconds : cn->cfg->limits.header_seconds);
    } else if (!cn->answered) {
        cn->status = 499; /* as nginx: the client (or the network) ended it first */
        snprintf(cn->reason, sizeof cn->reason, "%s before the answer", ended_early(toe));
    } else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        size_t l = strlen(cn->reason);
        snprintf(cn->reason + l, sizeof cn->reason - l, "%s%s before the whole answer was sent",
                 l ? "; " : "", ended_early(toe));
    }
    metrics_record(cn->route, cn->status, secs);
    struct access_entry e = {
        .time = cn->wall,
        .client = cn->client,
        .method = cn->started ? cn->method : NULL,
        .uri = cn->uri,
        .protocol = cn->protocol,
        .status = cn->status,
        .bytes = cn->bytes,
        .ms = secs * 1000,
        .route = http_route_name(cn->route),
        .key_id = cn->key_id,
        .role = role_name(cn->role),
        .referer = cn->referer,
        .user_agent = cn->user_agent,
        .reason = cn->reason[0] ? cn->reason : NULL,
    };
    access_log_write(cn->cfg->log_format, &e);
    buf_fini(&cn->body);
    resp_fini(&cn->res); /* answered: already freed; cut off by a stop: still held */
    for (int i = 0; i < cn->n_args; i++)
        free(cn->args[i].key), free(cn->args[i].value);
    free(cn->args);
    if (cn->counted) {
        pthread_mutex_lock(&s->lock);
        s->inflight--;
        pthread_mutex_unlock(&s->lock);
    }
    free(cn->uri), free(cn->referer), free(cn->user_agent);
    free(cn);
    *con_cls = NULL;
    metrics_in_flight(-1);
    __atomic_sub_fetch(&s->active, 1, __ATOMIC_RELAXED);
}

static void free_server(struct server *s)
{
    par_stop(s->par); /* its threads use workers */
    s->par = NULL;
    for (int i = 0; i < s->n_workers; i++) {
        worker_drop_caches(&s->workers[i]); /* GEOS geometries: before their context */
        store_close(s->workers[i].store);
        geo_ctx_free(s->workers[i].geo);
    }
    free(s->workers);
    free(s->render_threads);
    tile_cache_close(s->tiles);
    store_watch_stop();
    while (s->gens) {
        struct cfg_gen *g = s->gens;
        s->gens = g->prev;
        config_fini(&g->file);
        free(g);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    pthread_cond_destroy(&s->phased);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_cond_destroy(&s->pool_cond);
    pthread_mutex_destroy(&s->watch_lock);
}

/* ---- start-up ---- */

static int writable(const char *path)
{
    return faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0;
}

/* The store must exist, be readable and writable (SQLite's write-ahead log writes beside it and
 * `spp import` replaces layers in it while serving), in a directory where SQLite can create
 * DB-wal and DB-shm and the tile cache DB.tiles. Says which path and what is wrong. */
static int check_store_file(const char *path, struct err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return err_set(err, ERR_IO, "%s: store file %s", path,
                       errno == ENOENT ? "does not exist (create it with spp init or spp import)"
                                       : strerror(errno));
    if (!S_ISREG(sb.st_mode)) return err_set(err, ERR_IO, "%s: not a regular file", path);
    if (faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) != 0)
        return err_set(err, ERR_IO, "%s: store file is not readable (%s)", path, strerror(errno));
    if (!writable(path))
        return err_set(err, ERR_IO,
                       "%s: store file is read-only (%s); spp serve needs it writable for "
                       "SQLite's write-ahead log",
                       path, strerror(errno));
    char *copy = str_dup(path);
    if (!copy) return err_set(err, ERR_NOMEM, "out of memory");
    const char *dir = dirname(copy);
    int rc = 0;
    if (!writable(dir))
        rc = err_set(err, ERR_IO,
                     "%s: directory of the store is not writable (%s); SQLite creates the "
                     "store's -wal and -shm files there",
                     dir, strerror(errno));
    free(copy);
    static const char *const sides[] = {"-wal", "-shm"};
    for (size_t i = 0; i < ARRAY_LEN(sides) && !rc; i++) {
        char side[4200];
        snprintf(side, sizeof side, "%s%s", path, sides[i]);
        if (access(side, F_OK) == 0 && !writable(side))
            rc = err_set(err, ERR_IO, "%s: not writable (%s)", side, strerror(errno));
    }
    return rc;
}

/* A PostGIS replica's tile cache file: DIR/spp-HASH-PORT.tiles, DIR from tile_cache_dir or
 * /var/cache/spp (systemd's CacheDirectory=spp) when writable, HASH of the URI (another database
 * never reads this one's tiles), PORT the listening port (replicas side by side). NULL: none. */
static char *remote_tile_cache_path(const struct config *cfg, const char *uri, int port)
{
    const char *dir = cfg->tile_cache_dir;
    if (!dir) {
        if (!writable("/var/cache/spp")) {
            log_msg("notice", "no tile cache: set tile_cache_dir (or make /var/cache/spp) to "
                              "keep this replica's tiles");
            return NULL;
        }
        dir = "/var/cache/spp";
    }
    return tile_cache_replica_path(dir, uri, port); /* the file spp seed warms, too */
}

/* PostGIS away at start-up: waits 1 s (0) unless SIGTERM or SIGINT came (ERR_IO). The
 * signals are blocked in this thread; sigtimedwait takes them. */
static int wait_for_database(struct err *err)
{
    static int logged;
    if (!logged++) log_msg("warn", "%s; waiting for the database", err->msg);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec t = {1, 0};
    if (sigtimedwait(&set, NULL, &t) > 0)
        return err_set(err, ERR_IO, "stopped while waiting for the database");
    err_clear(err);
    return 0;
}

/* limits.layer_threads, -1 resolved: the CPUs less one (the request's own thread reads a part
 * too), at most 4. */
static int helper_count(const struct config *cfg)
{
    if (cfg->limits.layer_threads >= 0) return cfg->limits.layer_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
    return n < 0 ? 0 : n > 4 ? 4 : (int)n;
}

/* Opens every worker's handles and the tile cache (the part /readyz waits for). */
static int open_workers(struct server *s, const struct config *cfg, struct err *err)
{
    int rc = 0;
    /* The libmicrohttpd threads' workers, then one per render thread, one per helper. */
    for (int i = 0; i < cfg->threads + cfg->limits.render_threads + s->n_helpers && !rc; i++) {
        /* --db-read: the workers read from a streaming replica; writes (key usage, the audit
         * log) go to --db */
        rc = store_open(cfg->db_read_path ? cfg->db_read_path : cfg->db_path, STORE_READ,
                        &s->workers[i].store, err);
        if (rc && i == 0 && store_db_away(cfg->db_read_path ? cfg->db_read_path : cfg->db_path) &&
            !wait_for_database(err)) {
            i--; /* PostGIS away at start-up: /readyz says 503 until it answers */
            rc = 0;
            continue;
        }
        if (!rc && !(s->workers[i].geo = geo_ctx_new(err))) rc = ERR_INTERNAL;
        if (!rc && !store_srid(s->workers[i].store))
            rc = err_set(err, ERR_PARAM, "%s: not an spp store (run spp import or spp init)",
                         cfg->db_path);
        if (!rc)
            geo_warm(s->workers[i].geo, store_srid(s->workers[i].store)); /* not on a request */
        pthread_mutex_lock(&s->lock);
        s->n_workers = i + 1; /* freed by free_server even when half open */
        pthread_mutex_unlock(&s->lock);
    }
    /* The tile cache beside the store; without it (read-only directory) tiles are made per
     * request. At start-up it catches up with changes made while the server was down. */
    /* PostGIS: this replica's own file (tile_cache_dir), kept exact by the change watch */
    const char *rdb = cfg->db_read_path ? cfg->db_read_path : cfg->db_path;
    char *tiles_path = rc                     ? NULL
                       : store_is_remote(rdb) ? remote_tile_cache_path(cfg, rdb, s->port)
                                              : tile_cache_path(cfg->db_path);
    struct err terr;
    err_clear(&terr);
    if (tiles_path && store_is_remote(rdb) &&
        store_watch_start(cfg->tile_cache_watch_db ? cfg->tile_cache_watch_db : rdb, &terr)) {
        log_msg("warn", "no tile cache: %s", terr.msg);
        free(tiles_path);
        tiles_path = NULL;
    }
    if (tiles_path && tile_cache_open(tiles_path, (size_t)256 << 20, &s->tiles, &terr))
        log_msg("warn", "no tile cache: %s", terr.msg);
    if (s->tiles) tile_cache_set_disk_limit(s->tiles, tiles_path, cfg->tile_cache_max_mb);
    /* a disk behind the requests costs the file its copy of a tile, never an answer's wait */
    if (s->tiles) tile_cache_skip_when_full(s->tiles, 1);
    free(tiles_path);
    if (!rc && s->tiles && s->n_workers)
        rc = tile_cache_sync(s->tiles, s->workers[0].store, s->workers[0].geo,
                             store_srid(s->workers[0].store), err);
    if (rc && s->tiles && store_is_remote(rdb)) {
        /* the database went away again: the first tile request syncs (or bypasses) */
        log_msg("warn", "tile cache: %s; synced at the first tile request", err->msg);
        rc = 0;
        err_clear(err);
    }
    return rc;
}

/* ---- SIGHUP ---- */

static int same_opt(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Warns about settings the file changed that only a restart applies. */
static void warn_restart_only(const struct config *old, const struct config *now, const char *file)
{
    struct {
        const char *name;
        int changed;
    } keys[] = {
        {"listen", strcmp(old->listen_host, now->listen_host) != 0 || old->port != now->port},
        {"threads", old->threads != now->threads},
        {"limits.render_threads", old->limits.render_threads != now->limits.render_threads},
        {"limits.layer_threads", old->limits.layer_threads != now->limits.layer_threads},
        {"limits.max_connections", old->limits.max_connections != now->limits.max_connections},
        {"limits.per_client_connections",
         old->limits.per_client_connections != now->limits.per_client_connections},
        {"storage_srid", old->storage_srid != now->storage_srid},
        {"layers_dir", strcmp(old->layers_dir, now->layers_dir) != 0},
        {"styles_dir", strcmp(old->styles_dir, now->styles_dir) != 0},
        {"web_dir", strcmp(old->web_dir, now->web_dir) != 0},
        {"tile_cache_dir", !same_opt(old->tile_cache_dir, now->tile_cache_dir)},
        {"tile_cache_watch_db", !same_opt(old->tile_cache_watch_db, now->tile_cache_watch_db)},
    };
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (keys[i].changed)
            log_msg("warn", "%s: %s changed; it takes effect when spp serve restarts", file,
                    keys[i].name);
}

static void reload(struct server *s)
{
    const char *path = s->base->config_path;
    if (!path) {
        log_msg("notice", "SIGHUP: no --config file, settings unchanged (API keys are read from "
                          "the store at every request)");
        metrics_reload(1);
        return;
    }
    struct cfg_gen *g = calloc(1, sizeof *g);
    struct err err;
    err_clear(&err);
    if (!g) {
        log_msg("warn", "SIGHUP: out of memory; keeping the current settings");
        metrics_reload(0);
        return;
    }
    config_defaults(&g->file);
    if (config_load_file(&g->file, path, &err)) {
        log_msg("warn", "SIGHUP: %s; keeping the current settings", err.msg);
        config_fini(&g->file);
        free(g);
        metrics_reload(0);
        return;
    }
    g->cfg = *s->base;
    g->cfg.limits = g->file.limits;
    g->cfg.public_url = g->file.public_url;
    g->cfg.drain_seconds = g->file.drain_seconds;
    g->cfg.trusted_proxies = g->file.trusted_proxies;
    g->cfg.n_trusted_proxies = g->file.n_trusted_proxies;
    if (!s->log_format_pinned) g->cfg.log_format = g->file.log_format;
    if (s->last_file) warn_restart_only(s->last_file, &g->file, path);
    s->last_file = &g->file;
    g->prev = s->gens;
    s->gens = g;
    __atomic_store_n(&s->cfg, &g->cfg, __ATOMIC_RELEASE);
    metrics_reload(1);
    log_msg("notice", "SIGHUP: settings read again from %s", path);
}

/* The settings file as main read it, to tell what the command line chose and what a later
 * reading changes. */
static void remember_file(struct server *s)
{
    const char *path = s->base->config_path;
    struct cfg_gen *g = path ? calloc(1, sizeof *g) : NULL;
    if (!g) return;
    struct err err;
    err_clear(&err);
    config_defaults(&g->file);
    if (config_load_file(&g->file, path, &err)) {
        config_fini(&g->file);
        free(g);
        return;
    }
    g->cfg = *s->base;
    s->log_format_pinned = g->file.log_format != s->base->log_format;
    s->last_file = &g->file;
    g->prev = s->gens;
    s->gens = g;
}

/* ---- stopping ---- */

static int active(struct server *s)
{
    return __atomic_load_n(&s->active, __ATOMIC_RELAXED);
}

/* Stops accepting (new connections are refused), waits for the requests in flight for up to
 * drain_seconds or until a second SIGTERM/SIGINT, then stops the daemon. */
static void drain(struct server *s, struct MHD_Daemon *d, const sigset_t *set, int sig)
{
    set_phase(s, HTTP_DRAINING);
    MHD_socket fd = MHD_quiesce_daemon(d);
    /* Shut, not closed: libmicrohttpd's threads may still hold the descriptor until they stop.
     * A shut listening socket leaves the listen state, so connections are refused at once. */
    if (fd != MHD_INVALID_SOCKET) shutdown(fd, SHUT_RDWR);
    const struct config *cfg = __atomic_load_n(&s->cfg, __ATOMIC_ACQUIRE);
    int secs = cfg->drain_seconds;
    log_msg("notice", "%s: not accepting connections; %d request%s in flight, up to %d s to finish",
            sig == SIGINT ? "SIGINT" : "SIGTERM", active(s), active(s) == 1 ? "" : "s", secs);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int idle = 0;
    while (http_elapsed(&start) < secs) {
        /* Two quiet polls in a row: a request whose line was just read is counted by then. */
        if (active(s) == 0 && ++idle >= 2) break;
        if (active(s)) idle = 0;
        struct timespec tick = {0, 50 * 1000000L};
        int got = sigtimedwait(set, NULL, &tick);
        if (got == SIGTERM || got == SIGINT) {
            log_msg("notice", "second signal: stopping without waiting");
            break;
        }
    }
    if (active(s))
        log_msg("warn", "stopping with %d request%s unfinished", active(s),
                active(s) == 1 ? "" : "s");
    http_pool_stop(s); /* every suspended connection resumed: MHD_stop_daemon requires it */
    MHD_stop_daemon(d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

static struct MHD_Daemon *start_daemon(struct server *s, const struct config *cfg,
                                       const struct sockaddr_in *addr)
{
    return MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME,
        (uint16_t)cfg->port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, s, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, http_on_connection, s, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->limits.max_connections,
        /* more from one socket peer are closed at accept (issue 18: slowloris) */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->limits.per_client_connections,
        /* room for long GET requests (FES filters, 1024 arguments); pages are touched lazily */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        1024u, MHD_OPTION_END);
}

int http_serve(const struct config *cfg, struct err *err)
{
    int rc = store_is_remote(cfg->db_path) ? 0 : check_store_file(cfg->db_path, err);
    if (rc) return rc;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET,
                  strcmp(cfg->listen_host, "localhost") == 0 ? "127.0.0.1" : cfg->listen_host,
                  &addr.sin_addr) != 1)
        return err_set(err, ERR_PARAM, "listen: \"%s\" is not an IPv4 address", cfg->listen_host);
    struct server s;
    memset(&s, 0, sizeof s);
    s.base = s.cfg = cfg;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.freed, NULL);
    pthread_cond_init(&s.phased, NULL);
    pthread_mutex_init(&s.pool_lock, NULL);
    pthread_cond_init(&s.pool_cond, NULL);
    pthread_mutex_init(&s.watch_lock, NULL);
    s.n_cheap = cfg->threads;
    s.port = cfg->port;
    s.n_helpers = helper_count(cfg);
    s.workers = calloc((size_t)(cfg->threads + cfg->limits.render_threads + s.n_helpers),
                       sizeof *s.workers);
    if (!s.workers) {
        free_server(&s);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    remember_file(&s);
    tile_stats_bind(&cfg->catalog);
    metrics_start();
    /* The signals wait for the main thread (sigtimedwait); every thread started from here on
     * inherits the mask. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    set_phase(&s, HTTP_STARTING);
    if (pthread_create(&s.watchdog, NULL, http_watchdog_main, &s) == 0) s.watchdog_started = 1;
    struct MHD_Daemon *d = start_daemon(&s, cfg, &addr);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (info && info->port) __atomic_store_n(&s.port, (int)info->port, __ATOMIC_RELEASE);
    if (!d) {
        rc = err_set(err, ERR_IO, "cannot listen on %s:%d (port in use?)", cfg->listen_host,
                     cfg->port);
    } else if ((rc = open_workers(&s, cfg, err)) ||
               (rc = http_pool_start(&s, cfg->limits.render_threads, err)) ||
               (rc = par_start(s.workers + cfg->threads + cfg->limits.render_threads, s.n_helpers,
                               &s.par, err))) {
        set_phase(&s, HTTP_FAILED); /* waiting requests are answered 503 */
        http_pool_stop(&s);
        MHD_stop_daemon(d);
    }
    if (rc) {
        http_watchdog_stop(&s);
        set_phase(&s, HTTP_READY);
        free_server(&s);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    set_phase(&s, HTTP_READY);
    log_msg("notice",
            "spp serving %s on http://%s:%d/ (%d threads, %d render threads, %d layer threads)",
            cfg->db_path, cfg->listen_host, s.port, cfg->threads, s.n_render, par_size(s.par));
    int sig = 0;
    while (sig != SIGTERM && sig != SIGINT) {
        struct timespec tick = {1, 0};
        sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGHUP) reload(&s);
    }
    drain(&s, d, &set, sig);
    http_watchdog_stop(&s);
    free_server(&s);
    __atomic_store_n(&phase, HTTP_READY, __ATOMIC_RELEASE); /* s.lock is gone: no set_phase */
    log_msg("notice", "stopped");
    fflush(stdout);
    fflush(stderr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}
