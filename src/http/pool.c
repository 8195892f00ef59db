/* SPDX-License-Identifier: MIT */
/* pool.c: the render pool (issue 18). Heavy requests (maps, tiles drawn on a miss, big exports)
 * are suspended and run by their own threads, each with its own worker, from a bounded FIFO and
 * within a time budget, so the libmicrohttpd threads only ever run cheap handlers. It decides
 * neither routes nor answers: it runs the router on its worker and hands the connection back to
 * server.c, which sends what the router made. */
#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "../store/store.h"

/* ---- the render pool (issue 18) ---- */

/* A positive integer argument above `most` (or not a number: the handler refuses it, cheaply). */
static int asks_more(const struct request *req, const char *name, int most)
{
    const char *v = req_arg_ci(req, name);
    long n;
    return v && (str_to_long(v, &n) || n > most);
}

/* Requests known from their URL to be heavy: WMS maps and legends, feature exports of more than
 * limits.export_features (a WFS GetFeature without COUNT/MAXFEATURES, which may answer
 * limits.max_features, or a POST, whose body is not read here), OGC API items and land API
 * lists with a larger limit. Raster and WMTS tiles are run inline first and ask for the pool
 * only on a miss (req->render_wanted). */
int http_heavy_request(const struct request *req, const struct limits *l)
{
    const char *p = req->path;
    int ows = strcmp(p, "/ows") == 0;
    if (strcmp(req->method, "POST") == 0) return ows || strcmp(p, "/wfs") == 0;
    const char *service = req_arg_ci(req, "SERVICE"), *request = req_arg_ci(req, "REQUEST");
    if (strcmp(p, "/wms") == 0 || (ows && (!service || str_ieq(service, "WMS"))))
        return request && (str_ieq(request, "GetMap") || str_ieq(request, "GetLegendGraphic"));
    if (strcmp(p, "/wfs") == 0 || (ows && str_ieq(service, "WFS"))) {
        const char *type = req_arg_ci(req, "RESULTTYPE");
        if (!request || !(str_ieq(request, "GetFeature") || str_ieq(request, "GetPropertyValue")) ||
            (type && str_ieq(type, "hits")))
            return 0;
        int bounded = req_arg_ci(req, "COUNT") || req_arg_ci(req, "MAXFEATURES");
        return !bounded || asks_more(req, "COUNT", l->export_features) ||
               asks_more(req, "MAXFEATURES", l->export_features);
    }
    if (str_starts(p, "/collections/") || str_starts(p, "/api/v1/"))
        return asks_more(req, "limit", l->export_features);
    return 0;
}

/* Replaces whatever cn's response held with the error `status` and `msg` in the route's form. */
static void answer_error(struct conn *cn, int status, const char *msg)
{
    resp_fini(&cn->res);
    resp_init(&cn->res);
    err_clear(&cn->err);
    err_set(&cn->err, ERR_LIMIT, "%s", msg);
    cn->err.http_status = status;
    http_write_error(&cn->req, &cn->res, &cn->err);
}

/* The 503 of a heavy request that cannot be served now, in the route's form. */
void http_refuse_heavy(struct conn *cn, int over_budget)
{
    char msg[128];
    if (over_budget)
        snprintf(msg, sizeof msg, "the request needed more than its %d ms (limits.render_ms)",
                 cn->cfg->limits.render_ms);
    else
        snprintf(msg, sizeof msg, "too many maps and exports waiting, retry shortly");
    answer_error(cn, 503, msg);
    resp_header(&cn->res, "Retry-After", over_budget ? "5" : "1");
    metrics_render_refused(over_budget);
}

/* Whether the client of a queued request has closed its connection: web maps cancel the tiles
 * and maps a pan or a zoom left behind, and drawing them would only delay the ones still wanted.
 * A suspended connection is not read by libmicrohttpd, so the socket is peeked: end of stream or
 * a reset is a closed client (as nginx's 499); data (a pipelined request) or nothing yet is not. */
static int client_gone(struct conn *cn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(cn->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    char c;
    ssize_t r = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Runs a heavy request on a render thread's own worker, within its budget (counted from the
 * request line, so time spent queued counts). Past the budget the answer is a 503 in the
 * route's form and whatever was drawn is dropped: never a partial image. A request whose client
 * has gone is not run (499 in the access log, spp_render_abandoned_total). */
static void run_job(struct server *s, struct worker *w, struct conn *cn)
{
    int budget = cn->cfg->limits.render_ms;
    double spent = http_elapsed(&cn->start) * 1000;
    if (!cn->req.render_wanted) metrics_queue_wait(http_elapsed(&cn->queued));
    if (client_gone(cn)) {
        answer_error(cn, 499, "the client closed the connection before its turn");
        cn->route = http_route_find(cn->req.method, cn->req.path);
        metrics_render_abandoned();
        return;
    }
    if (spent >= budget) {
        http_refuse_heavy(cn, 1);
        cn->route = http_route_find(cn->req.method, cn->req.path);
        return;
    }
    struct request *req = &cn->req;
    req->worker = w;
    req->store = w->store;
    req->geo = w->geo;
    req->tiles = s->tiles;
    req->par = s->par;
    req->defer_render = 0;
    int left = budget - (int)spent, q = cn->cfg->limits.query_ms;
    store_set_deadline(w->store, q < left ? q : left);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    resp_fini(&cn->res);
    resp_init(&cn->res);
    err_clear(&cn->err);
    cn->route = http_route_why(req, &cn->res, &cn->err);
    store_set_deadline(w->store, 0);
    if (http_elapsed(&cn->start) * 1000 >= budget) {
        http_refuse_heavy(cn, 1);
        return;
    }
    const char *name = http_route_name(cn->route);
    if ((strcmp(name, "wms") == 0 || strcmp(name, "ows") == 0) && cn->res.status == 200 &&
        str_starts(cn->res.content_type, "image/"))
        metrics_render_wms(http_elapsed(&t0));
}

struct render_arg {
    struct server *s;
    int index;
};

static void *render_main(void *arg)
{
    struct render_arg *ra = arg;
    struct server *s = ra->s;
    struct worker *w = &s->workers[s->n_cheap + ra->index];
    free(ra);
    /* Below the libmicrohttpd threads: on a busy machine cheap requests get the CPU first. */
    setpriority(PRIO_PROCESS, 0, 5);
    for (;;) {
        pthread_mutex_lock(&s->pool_lock);
        while (!s->queue_head && !s->pool_stopping)
            pthread_cond_wait(&s->pool_cond, &s->pool_lock);
        struct conn *cn = s->queue_head;
        if (!cn) {
            pthread_mutex_unlock(&s->pool_lock);
            return NULL;
        }
        s->queue_head = cn->next;
        if (!s->queue_head) s->queue_tail = NULL;
        s->queued--;
        s->running++;
        pthread_mutex_unlock(&s->pool_lock);
        metrics_render_pool(-1, 1);
        run_job(s, w, cn);
        metrics_render_pool(0, -1);
        pthread_mutex_lock(&s->pool_lock);
        s->running--;
        pthread_mutex_unlock(&s->pool_lock);
        struct MHD_Connection *c = cn->mhd;
        __atomic_store_n(&cn->job, JOB_DONE, __ATOMIC_RELEASE);
        MHD_resume_connection(c); /* cn may be gone from here on */
    }
}

/* Queues cn for the render pool and suspends its connection; 0 when the queue is full. */
int http_enqueue(struct server *s, struct conn *cn, struct MHD_Connection *c)
{
    pthread_mutex_lock(&s->pool_lock);
    /* render_threads drawing and render_queue waiting: one more is refused */
    if (s->pool_stopping || s->queued + s->running >= cn->cfg->limits.render_queue + s->n_render) {
        pthread_mutex_unlock(&s->pool_lock);
        return 0;
    }
    cn->mhd = c;
    cn->job = JOB_QUEUED;
    cn->next = NULL;
    MHD_suspend_connection(c); /* before a render thread can see it and resume it */
    if (s->queue_tail)
        s->queue_tail->next = cn;
    else
        s->queue_head = cn;
    s->queue_tail = cn;
    s->queued++;
    pthread_cond_signal(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
    metrics_render_pool(1, 0);
    return 1;
}

/* Stops the render threads: queued requests are answered 503 (server stopping), running ones
 * finish (within their budget). Every suspended connection is resumed before it returns, which
 * MHD_stop_daemon requires. */
void http_pool_stop(struct server *s)
{
    pthread_mutex_lock(&s->pool_lock);
    s->pool_stopping = 1;
    struct conn *list = s->queue_head;
    s->queue_head = s->queue_tail = NULL;
    s->queued = 0;
    pthread_cond_broadcast(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
    while (list) {
        struct conn *cn = list;
        list = cn->next;
        metrics_render_pool(-1, 0);
        answer_error(cn, 503, "the server is stopping");
        struct MHD_Connection *c = cn->mhd;
        __atomic_store_n(&cn->job, JOB_DONE, __ATOMIC_RELEASE);
        MHD_resume_connection(c);
    }
    for (int i = 0; i < s->n_render; i++)
        pthread_join(s->render_threads[i], NULL);
    s->n_render = 0;
}

int http_pool_start(struct server *s, int n, struct err *err)
{
    s->render_threads = calloc((size_t)n, sizeof *s->render_threads);
    if (!s->render_threads) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        struct render_arg *ra = malloc(sizeof *ra);
        if (!ra) return err_set(err, ERR_NOMEM, "out of memory");
        ra->s = s;
        ra->index = i;
        if (pthread_create(&s->render_threads[i], NULL, render_main, ra)) {
            free(ra);
            return err_set(err, ERR_INTERNAL, "cannot start render thread %d", i + 1);
        }
        s->n_render = i + 1;
    }
    return 0;
}
