/* SPDX-License-Identifier: MIT */
/* metrics.c: request counters by route and status class and a latency histogram, lock-free
 * (atomic adds), written out in the Prometheus text format at /metrics. */
#include "http.h"

#include <stdint.h>

#define MAX_ROUTES 96
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_BOUNDS (sizeof bounds / sizeof bounds[0])

static uint64_t counts[MAX_ROUTES + 1][6]; /* status class 1xx..5xx, [0] other */
static uint64_t hist[MAX_ROUTES + 1][N_BOUNDS + 1];
static uint64_t sum_us[MAX_ROUTES + 1];

static int slot(int route)
{
    return route >= 0 && route < MAX_ROUTES ? route : MAX_ROUTES;
}

void metrics_record(int route, int status, double seconds)
{
    int r = slot(route), cls = status / 100;
    if (cls < 1 || cls > 5) cls = 0;
    __atomic_add_fetch(&counts[r][cls], 1, __ATOMIC_RELAXED);
    size_t b = 0;
    while (b < N_BOUNDS && seconds > bounds[b])
        b++;
    __atomic_add_fetch(&hist[r][b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&sum_us[r], (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
}

int metrics_handler(struct request *req, struct response *res, struct err *err)
{
    (void)req, (void)err;
    resp_set(res, 200, "text/plain; version=0.0.4; charset=utf-8");
    struct buf *b = &res->body;
    buf_puts(b, "# HELP spp_requests_total HTTP requests by route and status class.\n"
                "# TYPE spp_requests_total counter\n");
    int n = http_route_count();
    for (int r = 0; r <= n && r <= MAX_ROUTES; r++) {
        int s = r == n ? MAX_ROUTES : r;
        for (int c = 1; c <= 5; c++) {
            uint64_t v = __atomic_load_n(&counts[s][c], __ATOMIC_RELAXED);
            if (v)
                buf_printf(b, "spp_requests_total{route=\"%s\",status=\"%dxx\"} %llu\n",
                           http_route_name(r == n ? -1 : r), c, (unsigned long long)v);
        }
    }
    buf_puts(b, "# HELP spp_request_duration_seconds Request latency by route.\n"
                "# TYPE spp_request_duration_seconds histogram\n");
    for (int r = 0; r <= n && r <= MAX_ROUTES; r++) {
        int s = r == n ? MAX_ROUTES : r;
        const char *name = http_route_name(r == n ? -1 : r);
        uint64_t cum = 0, total = 0;
        for (size_t k = 0; k <= N_BOUNDS; k++)
            total += __atomic_load_n(&hist[s][k], __ATOMIC_RELAXED);
        if (!total) continue;
        for (size_t k = 0; k < N_BOUNDS; k++) {
            cum += __atomic_load_n(&hist[s][k], __ATOMIC_RELAXED);
            buf_printf(b, "spp_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                       name, bounds[k], (unsigned long long)cum);
        }
        buf_printf(b, "spp_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", name,
                   (unsigned long long)total);
        buf_printf(b, "spp_request_duration_seconds_sum{route=\"%s\"} %.6f\n", name,
                   (double)__atomic_load_n(&sum_us[s], __ATOMIC_RELAXED) / 1e6);
        buf_printf(b, "spp_request_duration_seconds_count{route=\"%s\"} %llu\n", name,
                   (unsigned long long)total);
    }
    return 0;
}

int healthz_handler(struct request *req, struct response *res, struct err *err)
{
    (void)req, (void)err;
    resp_set(res, 200, "text/plain; charset=utf-8");
    return buf_puts(&res->body, "ok\n");
}
