/* SPDX-License-Identifier: MIT */
/* server.c: libmicrohttpd with a thread pool. Each worker owns its handles (a read-only SQLite
 * connection with SpatiaLite, PROJ and GEOS contexts); a request checks one out and gives it
 * back. Request bodies are capped, in-flight requests are counted (503 past the limit), every
 * request gets an access-log line and a metrics sample, SIGINT/SIGTERM stop gracefully. */
#include "http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../geo/geo.h"
#include "../store/store.h"
#include "../tiles/tiles.h"

struct worker {
    struct store *store;
    struct geo_ctx *geo;
    int busy;
};

struct server {
    const struct config *cfg;
    struct worker *workers;
    int n_workers;
    struct tile_cache *tiles;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int inflight;
};

struct conn {
    struct buf body;
    int too_big;
    int answered; /* a response was queued before the body was read */
    struct timespec start;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static struct worker *checkout(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    struct worker *w = NULL;
    for (;;) {
        for (int i = 0; i < s->n_workers; i++)
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

static double elapsed(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct response *res)
{
    size_t len = res->body.len;
    char *data = buf_take(&res->body, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    if (res->content_type[0]) MHD_add_response_header(r, "Content-Type", res->content_type);
    for (int i = 0; i < res->n_headers; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(res->status ? res->status : 200), r);
    MHD_destroy_response(r);
    return ret;
}

static void set_base_url(struct request *req, const struct config *cfg, const char *host)
{
    if (cfg->public_url) {
        snprintf(req->base_url, sizeof req->base_url, "%s", cfg->public_url);
    } else {
        /* Host is echoed into links: keep only characters a host[:port] can have. */
        char clean[200];
        size_t n = 0;
        for (const char *p = host ? host : ""; *p && n + 1 < sizeof clean; p++)
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']')
                clean[n++] = *p;
        clean[n] = '\0';
        if (!n) snprintf(clean, sizeof clean, "%s:%d", cfg->listen_host, cfg->port);
        snprintf(req->base_url, sizeof req->base_url, "http://%s", clean);
    }
    size_t l = strlen(req->base_url);
    while (l && req->base_url[l - 1] == '/')
        req->base_url[--l] = '\0';
}

static void set_client_addr(struct request *req, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    req->client_addr[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  req->client_addr, sizeof req->client_addr);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  req->client_addr, sizeof req->client_addr);
}

/* 1 when the Content-Length announced is already past the body limit (nothing is buffered). */
static int announced_too_big(struct MHD_Connection *c, size_t max_body)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    long n;
    return cl && str_to_long(cl, &n) == 0 && n > 0 && (unsigned long)n > max_body;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    const struct config *cfg = s->cfg;
    struct conn *cn = *con_cls;
    if (!cn) {
        cn = calloc(1, sizeof *cn);
        if (!cn) return MHD_NO;
        buf_init(&cn->body);
        clock_gettime(CLOCK_MONOTONIC, &cn->start);
        cn->too_big = announced_too_big(c, cfg->limits.max_body);
        *con_cls = cn;
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

    struct request req;
    struct response res;
    memset(&req, 0, sizeof req);
    resp_init(&res);
    req.method = method;
    req.path = url;
    req.query = "";
    req.cfg = cfg;
    struct arg_ctx args = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
    req.args = args.args;
    req.n_args = args.n;
    req.body = cn->body.data;
    req.body_len = cn->body.len;
    req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    req.accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    req.accept_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    req.accept_language = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language");
    req.if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    req.api_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    req.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    req.err_form = http_route_form(method, url);
    set_client_addr(&req, c);
    set_base_url(&req, cfg, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"));

    int route = -1;
    int known = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
                strcmp(method, "POST") == 0 || strcmp(method, "OPTIONS") == 0;
    pthread_mutex_lock(&s->lock);
    int over = s->inflight >= cfg->limits.max_concurrent;
    if (!over) s->inflight++;
    pthread_mutex_unlock(&s->lock);
    struct err err;
    err_clear(&err);
    if (!known) {
        err_set(&err, ERR_PARAM, "method %s not allowed", method);
        err.http_status = 405;
        http_write_error(&req, &res, &err);
        resp_header(&res, "Allow", "GET, HEAD, POST, OPTIONS");
    } else if (over) {
        err_set(&err, ERR_LIMIT, "too many concurrent requests, retry shortly");
        err.http_status = 503;
        http_write_error(&req, &res, &err);
        resp_header(&res, "Retry-After", "1");
    } else if (args.overflow) {
        err_set(&err, ERR_PARAM, "more than 1024 query parameters");
        http_write_error(&req, &res, &err);
    } else if (cn->too_big) {
        err_set(&err, ERR_LIMIT, "request body larger than %zu bytes", cfg->limits.max_body);
        err.http_status = 413;
        http_write_error(&req, &res, &err);
    } else if (strcmp(method, "OPTIONS") == 0) {
        resp_set(&res, 204, "");
        resp_header(&res, "Allow", "GET, HEAD, POST, OPTIONS");
        resp_header(&res, "Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
        resp_header(&res, "Access-Control-Allow-Headers",
                    "Content-Type, X-API-Key, Authorization, If-None-Match");
    } else {
        struct worker *w = checkout(s);
        req.store = w->store;
        req.geo = w->geo;
        req.tiles = s->tiles;
        store_set_deadline(w->store, cfg->limits.query_ms);
        route = http_route(&req, &res);
        store_set_deadline(w->store, 0);
        checkin(s, w);
    }
    if (!over) {
        pthread_mutex_lock(&s->lock);
        s->inflight--;
        pthread_mutex_unlock(&s->lock);
    }
    double secs = elapsed(&cn->start);
    int status = res.status ? res.status : 200;
    metrics_record(route, status, secs);
    log_msg("info", "%s %s %d %zu %.1fms %s", method, url, status, res.body.len, secs * 1000,
            role_name(req.role));
    enum MHD_Result ret = send_response(c, &res);
    cn->answered = 1;
    resp_fini(&res);
    for (int i = 0; i < args.n; i++)
        free(args.args[i].key), free(args.args[i].value);
    free(args.args);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct conn *cn = *con_cls;
    if (!cn) return;
    buf_fini(&cn->body);
    free(cn);
    *con_cls = NULL;
}

static void free_server(struct server *s)
{
    for (int i = 0; i < s->n_workers; i++) {
        store_close(s->workers[i].store);
        geo_ctx_free(s->workers[i].geo);
    }
    free(s->workers);
    tile_cache_close(s->tiles);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
}

int http_serve(const struct config *cfg, struct err *err)
{
    struct server s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.freed, NULL);
    s.workers = calloc((size_t)cfg->threads, sizeof *s.workers);
    if (!s.workers) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < cfg->threads && !rc; i++) {
        s.n_workers++;
        rc = store_open(cfg->db_path, STORE_READ, &s.workers[i].store, err);
        if (!rc && !(s.workers[i].geo = geo_ctx_new(err))) rc = ERR_INTERNAL;
        if (!rc && !store_srid(s.workers[i].store))
            rc = err_set(err, ERR_PARAM, "%s: not an spp store (run spp import or spp init)",
                         cfg->db_path);
    }
    /* The tile cache beside the store; without it (read-only directory) tiles are made per
     * request. At start-up it catches up with changes made while the server was down. */
    char *tiles_path = rc ? NULL : tile_cache_path(cfg->db_path);
    struct err terr;
    err_clear(&terr);
    if (tiles_path && tile_cache_open(tiles_path, (size_t)256 << 20, &s.tiles, &terr))
        log_msg("warn", "no tile cache: %s", terr.msg);
    free(tiles_path);
    if (!rc && s.tiles && s.n_workers)
        rc = tile_cache_sync(s.tiles, s.workers[0].store, s.workers[0].geo,
                             store_srid(s.workers[0].store), err);
    if (rc) {
        free_server(&s);
        return rc;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET,
                  strcmp(cfg->listen_host, "localhost") == 0 ? "127.0.0.1" : cfg->listen_host,
                  &addr.sin_addr) != 1) {
        free_server(&s);
        return err_set(err, ERR_PARAM, "listen: \"%s\" is not an IPv4 address", cfg->listen_host);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)cfg->port, NULL, NULL, handle,
        &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->threads, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 4096u,
        /* room for long GET requests (FES filters, 1024 arguments); pages are touched lazily */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        1024u, MHD_OPTION_END);
    if (!d) {
        free_server(&s);
        return err_set(err, ERR_IO, "cannot listen on %s:%d (port in use?)", cfg->listen_host,
                       cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? info->port : cfg->port;
    printf("spp serving %s on http://%s:%d/ (%d threads)\n", cfg->db_path, cfg->listen_host, port,
           cfg->threads);
    fflush(stdout);
    while (!stop_flag) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    log_msg("info", "stopping");
    MHD_stop_daemon(d);
    free_server(&s);
    return 0;
}
