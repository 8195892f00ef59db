/* SPDX-License-Identifier: MIT */
/* metrics.c: the server's counters and histograms (atomic adds, no lock) and /metrics, written in
 * the Prometheus text format 0.0.4: every family once with its HELP and TYPE, every label set
 * once (routes that share a name, such as GET and POST /wfs, are summed into one series). The
 * tile cache's counters live in tiles/stats.c; per-layer import state is read from the store at
 * each scrape. Layers the caller's role may not read are left out, as everywhere else. Also
 * /healthz (liveness) and /readyz (readiness). */
#include "http.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../store/store.h"
#include "../tiles/tiles.h"

/* Set by the Makefile from `git describe --always --dirty`. */
#ifndef SPP_GIT_COMMIT
#define SPP_GIT_COMMIT "unknown"
#endif
/* The release version; SPP_GIT_COMMIT tells which build of it. */
#define SPP_VERSION "1.0.0"

#define MAX_ROUTES 96
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_BOUNDS (sizeof bounds / sizeof bounds[0])
/* Queue waits are short unless the server is saturated. */
static const double wait_bounds[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
#define N_WAIT (sizeof wait_bounds / sizeof wait_bounds[0])

static uint64_t counts[MAX_ROUTES + 1][6]; /* status class 1xx..5xx, [0] other */
static uint64_t hist[MAX_ROUTES + 1][N_BOUNDS + 1];
static uint64_t sum_us[MAX_ROUTES + 1];
static uint64_t wait_hist[N_WAIT + 1];
static uint64_t wait_sum_us;
static uint64_t wms_hist[TILE_RENDER_BUCKETS + 1]; /* WMS images, on tiles' render bounds */
static uint64_t wms_sum_us;
static int64_t in_flight;
static int64_t render_queued, render_running; /* the render pool (issue 18) */
static uint64_t render_refused[2];            /* [0] queue full, [1] over the time budget */
static uint64_t render_abandoned;             /* queued, the client gone before its turn */
static uint64_t conns_cut[2];                 /* [0] request head late, [1] body late */
static double started;                        /* wall-clock seconds at metrics_start() */
static int64_t reload_ok = 1;                 /* the last SIGHUP reload succeeded */
static int64_t reload_ms; /* wall-clock milliseconds of the last reload, 0 = none */

static int slot(int route)
{
    return route >= 0 && route < MAX_ROUTES ? route : MAX_ROUTES;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void observe(uint64_t *buckets, const double *bs, size_t n, uint64_t *sum, double seconds)
{
    size_t b = 0;
    while (b < n && seconds > bs[b])
        b++;
    __atomic_add_fetch(&buckets[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(sum, (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
}

void metrics_start(void)
{
    started = wall_now();
}

void metrics_record(int route, int status, double seconds)
{
    int r = slot(route), cls = status / 100;
    if (cls < 1 || cls > 5) cls = 0;
    __atomic_add_fetch(&counts[r][cls], 1, __ATOMIC_RELAXED);
    observe(hist[r], bounds, N_BOUNDS, &sum_us[r], seconds);
}

void metrics_in_flight(int delta)
{
    __atomic_add_fetch(&in_flight, delta, __ATOMIC_RELAXED);
}

void metrics_queue_wait(double seconds)
{
    observe(wait_hist, wait_bounds, N_WAIT, &wait_sum_us, seconds);
}

void metrics_render_wms(double seconds)
{
    observe(wms_hist, tile_render_bounds, TILE_RENDER_BUCKETS, &wms_sum_us, seconds);
}

void metrics_render_pool(int queued_delta, int running_delta)
{
    __atomic_add_fetch(&render_queued, queued_delta, __ATOMIC_RELAXED);
    __atomic_add_fetch(&render_running, running_delta, __ATOMIC_RELAXED);
}

void metrics_render_refused(int over_budget)
{
    __atomic_add_fetch(&render_refused[over_budget ? 1 : 0], 1, __ATOMIC_RELAXED);
}

void metrics_render_abandoned(void)
{
    __atomic_add_fetch(&render_abandoned, 1, __ATOMIC_RELAXED);
}

void metrics_conn_cut(int body)
{
    __atomic_add_fetch(&conns_cut[body ? 1 : 0], 1, __ATOMIC_RELAXED);
}

void metrics_reload(int ok)
{
    __atomic_store_n(&reload_ok, ok ? 1 : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&reload_ms, (int64_t)(wall_now() * 1000), __ATOMIC_RELAXED);
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family with a single integer sample. */
static void metric_i64(struct buf *b, const char *name, const char *type, const char *help,
                       int64_t v)
{
    family(b, name, type, help);
    buf_printf(b, "%s %lld\n", name, (long long)v);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_putc(b, '\\'), buf_putc(b, *s);
        else if (*s == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *s);
    }
}

/* Writes the series of one histogram: per-bucket counts (not cumulative) n + 1 long. labels is
 * "" or `name="value",`. */
static void histogram(struct buf *b, const char *name, const char *labels, const double *bs,
                      size_t n, const uint64_t *buckets, uint64_t sum)
{
    uint64_t cum = 0;
    for (size_t k = 0; k <= n; k++) {
        cum += buckets[k];
        if (k < n)
            buf_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bs[k],
                       (unsigned long long)cum);
        else
            buf_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cum);
    }
    size_t l = strlen(labels);
    if (l) /* "{a=\"b\"}" without the trailing comma */
        buf_printf(b, "%s_sum{%.*s} %.6f\n%s_count{%.*s} %llu\n", name, (int)(l - 1), labels,
                   (double)sum / 1e6, name, (int)(l - 1), labels, (unsigned long long)cum);
    else
        buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)sum / 1e6, name,
                   (unsigned long long)cum);
}

static void load_n(const uint64_t *src, uint64_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* 1 if route r is the first of the routes sharing its name (the one that writes the series). */
static int first_of_name(int r)
{
    for (int k = 0; k < r; k++)
        if (strcmp(http_route_name(k), http_route_name(r)) == 0) return 0;
    return 1;
}

static void write_requests(struct buf *b)
{
    int n = http_route_count();
    if (n > MAX_ROUTES) n = MAX_ROUTES;
    family(b, "spp_requests_total", "counter", "HTTP requests by route and status class.");
    for (int r = 0; r <= n; r++) {
        if (r < n && !first_of_name(r)) continue;
        const char *name = http_route_name(r < n ? r : -1);
        for (int c = 1; c <= 5; c++) {
            uint64_t v = 0;
            for (int k = r; k <= n; k++) /* every route of this name */
                if (k == r || (r < n && k < n && strcmp(http_route_name(k), name) == 0))
                    v += __atomic_load_n(&counts[k < n ? k : MAX_ROUTES][c], __ATOMIC_RELAXED);
            if (v)
                buf_printf(b, "spp_requests_total{route=\"%s\",status=\"%dxx\"} %llu\n", name, c,
                           (unsigned long long)v);
        }
    }
    family(b, "spp_request_duration_seconds", "histogram",
           "Time from the request line to the last byte of the answer, by route.");
    for (int r = 0; r <= n; r++) {
        if (r < n && !first_of_name(r)) continue;
        const char *name = http_route_name(r < n ? r : -1);
        uint64_t bk[N_BOUNDS + 1] = {0}, sum = 0, total = 0;
        for (int k = r; k <= n; k++) {
            if (k != r && !(r < n && k < n && strcmp(http_route_name(k), name) == 0)) continue;
            int s = k < n ? k : MAX_ROUTES;
            uint64_t one[N_BOUNDS + 1];
            load_n(hist[s], one, N_BOUNDS + 1);
            for (size_t i = 0; i <= N_BOUNDS; i++)
                bk[i] += one[i], total += one[i];
            sum += __atomic_load_n(&sum_us[s], __ATOMIC_RELAXED);
        }
        if (!total) continue;
        char labels[96];
        snprintf(labels, sizeof labels, "route=\"%s\",", name);
        histogram(b, "spp_request_duration_seconds", labels, bounds, N_BOUNDS, bk, sum);
    }
}

static void write_timing(struct buf *b)
{
    family(b, "spp_requests_in_flight", "gauge",
           "Requests received and not yet completely answered.");
    buf_printf(b, "spp_requests_in_flight %lld\n",
               (long long)__atomic_load_n(&in_flight, __ATOMIC_RELAXED));
    family(b, "spp_queue_wait_seconds", "histogram",
           "Time a request waited for a worker: from accepting the connection (its first "
           "request) or from the request line (later requests) to a worker, or for a heavy "
           "request a render thread, taking it.");
    uint64_t w[N_WAIT + 1];
    load_n(wait_hist, w, N_WAIT + 1);
    histogram(b, "spp_queue_wait_seconds", "", wait_bounds, N_WAIT, w,
              __atomic_load_n(&wait_sum_us, __ATOMIC_RELAXED));
    family(b, "spp_render_duration_seconds", "histogram",
           "Time spent drawing and encoding a map: WMS images (kind=wms), tiles made on a cache "
           "miss (kind=tile_png: the tile's window of its metatile; kind=tile_mvt).");
    uint64_t r[TILE_RENDER_BUCKETS + 1], sum;
    load_n(wms_hist, r, TILE_RENDER_BUCKETS + 1);
    histogram(b, "spp_render_duration_seconds", "kind=\"wms\",", tile_render_bounds,
              TILE_RENDER_BUCKETS, r, __atomic_load_n(&wms_sum_us, __ATOMIC_RELAXED));
    tile_stats_render_get(TILE_FMT_PNG, r, &sum);
    histogram(b, "spp_render_duration_seconds", "kind=\"tile_png\",", tile_render_bounds,
              TILE_RENDER_BUCKETS, r, sum);
    tile_stats_render_get(TILE_FMT_MVT, r, &sum);
    histogram(b, "spp_render_duration_seconds", "kind=\"tile_mvt\",", tile_render_bounds,
              TILE_RENDER_BUCKETS, r, sum);
    family(b, "spp_render_queue_length", "gauge",
           "Heavy requests (maps, tiles drawn on a miss, exports) waiting for a render thread.");
    buf_printf(b, "spp_render_queue_length %lld\n",
               (long long)__atomic_load_n(&render_queued, __ATOMIC_RELAXED));
    family(b, "spp_render_running", "gauge", "Heavy requests being handled by a render thread.");
    buf_printf(b, "spp_render_running %lld\n",
               (long long)__atomic_load_n(&render_running, __ATOMIC_RELAXED));
    family(b, "spp_render_refused_total", "counter",
           "Heavy requests answered 503: the render queue was full (reason=queue) or the "
           "request's time budget limits.render_ms ran out (reason=budget).");
    buf_printf(b, "spp_render_refused_total{reason=\"queue\"} %llu\n",
               (unsigned long long)__atomic_load_n(&render_refused[0], __ATOMIC_RELAXED));
    buf_printf(b, "spp_render_refused_total{reason=\"budget\"} %llu\n",
               (unsigned long long)__atomic_load_n(&render_refused[1], __ATOMIC_RELAXED));
    family(b, "spp_render_abandoned_total", "counter",
           "Heavy requests not run: their client closed the connection while they waited for a "
           "render thread (a web map's cancelled tiles and maps).");
    buf_printf(b, "spp_render_abandoned_total %llu\n",
               (unsigned long long)__atomic_load_n(&render_abandoned, __ATOMIC_RELAXED));
    family(b, "spp_connections_cut_total", "counter",
           "Connections closed because the request head (reason=header, limits.header_seconds) "
           "or body (reason=body, limits.body_seconds) did not arrive in time.");
    buf_printf(b, "spp_connections_cut_total{reason=\"header\"} %llu\n",
               (unsigned long long)__atomic_load_n(&conns_cut[0], __ATOMIC_RELAXED));
    buf_printf(b, "spp_connections_cut_total{reason=\"body\"} %llu\n",
               (unsigned long long)__atomic_load_n(&conns_cut[1], __ATOMIC_RELAXED));
}

static void write_tiles(struct buf *b, const struct catalog *cat, enum role role)
{
    static const struct {
        enum tile_stat what;
        const char *name, *help;
    } fams[] = {
        {TILE_STAT_HIT, "spp_tile_cache_hits_total",
         "Tiles answered from the tile cache, per layer (a tile of several layers counts for "
         "each) and format."},
        {TILE_STAT_MISS, "spp_tile_cache_misses_total",
         "Tiles that had to be made, per layer and format."},
        {TILE_STAT_EVICT, "spp_tile_cache_evictions_total",
         "Tiles dropped from the in-memory cache to make room, per layer and format."},
    };
    static const char *const fmts[] = {"mvt", "png"};
    static const enum tile_format fmt_ids[] = {TILE_FMT_MVT, TILE_FMT_PNG};
    for (size_t f = 0; f < ARRAY_LEN(fams); f++) {
        family(b, fams[f].name, "counter", fams[f].help);
        for (int i = 0; i < cat->n_layers; i++) {
            const struct layer_def *l = &cat->layers[i];
            if (!access_layer(l, role)) continue;
            for (size_t k = 0; k < ARRAY_LEN(fmts); k++)
                buf_printf(b, "%s{layer=\"%s\",format=\"%s\"} %llu\n", fams[f].name, l->id, fmts[k],
                           (unsigned long long)tile_stats_get(l->index, fmt_ids[k], fams[f].what));
        }
    }
}

/* The batch of the layer's features (an import replaces a layer as a whole). */
struct batch_sink {
    char batch[256];
};

static int batch_feature(void *ud, const struct feature *f, struct err *err)
{
    (void)err;
    struct batch_sink *bs = ud;
    if (f->n_fields && f->values[0].type == VAL_TEXT)
        snprintf(bs->batch, sizeof bs->batch, "%s", f->values[0].s);
    return 0;
}

static int layer_batch(struct store *st, const struct layer_def *l, char *out, size_t n,
                       struct err *err)
{
    out[0] = '\0';
    int field = layer_field_index(l, "import_batch");
    if (field < 0) return 0;
    struct batch_sink bs = {{0}};
    struct store_query q;
    memset(&q, 0, sizeof q);
    q.layer = l;
    q.fields = &field;
    q.n_fields = 1;
    q.limit = 1;
    struct feature_sink sink = {NULL, batch_feature, NULL, &bs};
    int rc = store_query_run(st, &q, &sink, err);
    if (!rc) snprintf(out, n, "%s", bs.batch);
    return rc;
}

static int write_layers(struct buf *b, struct store *st, const struct catalog *cat, enum role role,
                        struct err *err)
{
    struct buf feat;
    buf_init(&feat);
    family(b, "spp_layer_last_import_timestamp_seconds", "gauge",
           "When the last import replaced the layer (Unix time), with its batch id.");
    int rc = 0;
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        const struct layer_def *l = &cat->layers[i];
        if (!access_layer(l, role)) continue;
        struct layer_state ls;
        if ((rc = store_layer_state(st, l, &ls, err))) break;
        buf_printf(&feat, "spp_layer_features{layer=\"%s\"} %lld\n", l->id,
                   (long long)ls.n_features);
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = ls.updated[0] ? strptime(ls.updated, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
        if (!end) continue; /* never imported */
        char batch[256];
        if ((rc = layer_batch(st, l, batch, sizeof batch, err))) break;
        buf_printf(b, "spp_layer_last_import_timestamp_seconds{layer=\"%s\",batch=\"", l->id);
        label_value(b, batch);
        buf_printf(b, "\"} %lld\n", (long long)timegm(&tm));
    }
    family(b, "spp_layer_features", "gauge", "Features in the layer.");
    if (!rc) buf_append_buf(b, &feat); /* a failed feat fails b */
    buf_fini(&feat);
    return rc;
}

int metrics_handler(struct request *req, struct response *res, struct err *err)
{
    resp_set(res, 200, "text/plain; version=0.0.4; charset=utf-8");
    struct buf *b = &res->body;
    double now = wall_now();
    family(b, "spp_build_info", "gauge", "The running build: version and git commit.");
    buf_printf(b, "spp_build_info{version=\"%s\",commit=\"", SPP_VERSION);
    label_value(b, SPP_GIT_COMMIT);
    buf_puts(b, "\"} 1\n");
    family(b, "process_start_time_seconds", "gauge", "When the server started (Unix time).");
    buf_printf(b, "process_start_time_seconds %.3f\n", started ? started : now);
    family(b, "spp_uptime_seconds", "gauge", "Seconds since the server started.");
    buf_printf(b, "spp_uptime_seconds %.3f\n", started ? now - started : 0.0);
    family(b, "spp_config_last_reload_successful", "gauge",
           "1 if the last SIGHUP re-read of the settings succeeded (or none happened), else 0.");
    buf_printf(b, "spp_config_last_reload_successful %lld\n",
               (long long)__atomic_load_n(&reload_ok, __ATOMIC_RELAXED));
    family(b, "spp_config_last_reload_timestamp_seconds", "gauge",
           "When the settings were last re-read (Unix time), 0 if never.");
    buf_printf(b, "spp_config_last_reload_timestamp_seconds %.3f\n",
               (double)__atomic_load_n(&reload_ms, __ATOMIC_RELAXED) / 1000);
    write_requests(b);
    write_timing(b);
    if (req->tiles) {
        int64_t bytes, limit, evicted, errors;
        tile_cache_disk_stats(req->tiles, &bytes, &limit, &evicted, &errors);
        metric_i64(b, "spp_tile_cache_disk_bytes", "gauge",
                   "Bytes of tiles kept in the cache file.", bytes);
        metric_i64(b, "spp_tile_cache_disk_limit_bytes", "gauge",
                   "The cache file's cap (tile_cache_max_mb, or a quarter of the free disk).",
                   limit);
        metric_i64(b, "spp_tile_cache_disk_evictions_total", "counter",
                   "Least recently used tiles deleted from the cache file to stay under its cap.",
                   evicted);
        metric_i64(b, "spp_tile_cache_write_errors_total", "counter",
                   "Tiles the cache file refused to store (disk full, read-only): served uncached.",
                   errors);
        int64_t queued, skipped;
        tile_cache_queue_stats(req->tiles, &queued, &skipped);
        metric_i64(b, "spp_tile_cache_write_queue_bytes", "gauge",
                   "Tile bytes waiting for the cache file's writer thread (write-behind).", queued);
        metric_i64(b, "spp_tile_cache_write_skipped_total", "counter",
                   "Tiles kept in memory only: the writer's queue was full (the disk is behind).",
                   skipped);
    }
    if (req->cfg) {
        write_tiles(b, &req->cfg->catalog, req->role);
        if (req->store) return write_layers(b, req->store, &req->cfg->catalog, req->role, err);
    }
    return 0;
}

int healthz_handler(struct request *req, struct response *res, struct err *err)
{
    (void)req, (void)err;
    resp_set(res, 200, "text/plain; charset=utf-8");
    return buf_puts(&res->body, "ok\n");
}

int readyz_handler(struct request *req, struct response *res, struct err *err)
{
    (void)err;
    const char *why = NULL;
    switch (http_phase()) {
    case HTTP_STARTING:
        why = "starting: opening the store";
        break;
    case HTTP_DRAINING:
        why = "draining: shutting down";
        break;
    case HTTP_FAILED:
        why = "start-up failed";
        break;
    default:
        break;
    }
    struct stat sb;
    struct err perr;
    err_clear(&perr);
    if (!why && req->cfg && req->cfg->db_path && !store_is_remote(req->cfg->db_path) &&
        stat(req->cfg->db_path, &sb) != 0)
        why = "the store file is gone";
    if (!why && req->cfg && req->cfg->db_path &&
        store_ping(req->cfg->db_read_path ? req->cfg->db_read_path : req->cfg->db_path, &perr))
        why = "the database is unreachable"; /* PostGIS: the database is away */
    resp_set(res, why ? 503 : 200, "text/plain; charset=utf-8");
    if (why) resp_header(res, "Retry-After", "1");
    return buf_printf(&res->body, "%s\n", why ? why : "ready");
}
