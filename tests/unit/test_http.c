/* SPDX-License-Identifier: MIT */
/* test_http.c: the request rate limit (token bucket arithmetic, independent identities, bounded
 * table under many identities, exact accounting under threads) and the router in-process: 429
 * with Retry-After in the route's error form, per key and per client address, and the error
 * form a path gets before routing. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "config/config.h"
#include "geo/geo.h"
#include "http/http.h"
#include "store/store.h"

static void test_bucket(void)
{
    ratelimit_clear();
    CHECK(ratelimit_take("a", 0, 0) == 0); /* off */
    int ok = 0;
    for (int i = 0; i < 60; i++)
        ok += ratelimit_take("a", 60, 100.0) == 0;
    CHECK(ok == 60);                             /* a minute's budget as a burst */
    CHECK(ratelimit_take("a", 60, 100.0) == 1);  /* 1 token per second: wait 1 s */
    CHECK(ratelimit_take("a", 60, 100.5) == 1);  /* half a token is not enough */
    CHECK(ratelimit_take("a", 60, 101.01) == 0); /* refilled */
    CHECK(ratelimit_take("a", 60, 101.01) == 1);
    CHECK(ratelimit_take("b", 60, 101.01) == 0); /* another identity has its own bucket */
    CHECK(ratelimit_take("slow", 1, 0) == 0);
    CHECK(ratelimit_take("slow", 1, 0) == 60); /* one per minute: wait a minute */
    CHECK(ratelimit_take("slow", 1, 30) == 30);
    CHECK(ratelimit_take("slow", 1, 60.5) == 0);
    /* time going backwards (another thread's clock read) never adds tokens */
    CHECK(ratelimit_take("slow", 1, 10) > 0);
}

static void test_many_identities(void)
{
    ratelimit_clear();
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "addr:10.0.%d.%d", i / 256, i % 256);
        ratelimit_take(id, 2, 1.0);
    }
    /* the table stays bounded (evicting the stalest) and keeps working */
    CHECK(ratelimit_take("key:1", 2, 2.0) == 0);
    CHECK(ratelimit_take("key:1", 2, 2.0) == 0);
    CHECK(ratelimit_take("key:1", 2, 2.0) > 0);
    /* long ids are cut, not overflowed */
    char long_id[300];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    CHECK(ratelimit_take(long_id, 1, 3.0) == 0);
    CHECK(ratelimit_take(long_id, 1, 3.0) > 0);
}

struct taker {
    int allowed;
};

static void *take_many(void *ud)
{
    struct taker *t = ud;
    for (int i = 0; i < 500; i++)
        t->allowed += ratelimit_take("key:7", 1000, 5.0) == 0;
    return NULL;
}

static void test_threads(void)
{
    ratelimit_clear();
    pthread_t th[8];
    struct taker t[8];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, take_many, &t[i]);
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += t[i].allowed;
    }
    CHECK(total == 1000); /* 4000 attempts, exactly the budget passes */
}

static int route(struct request *rq, const char *path, const char *key, const char *addr,
                 struct response *res)
{
    rq->method = "GET";
    rq->path = path;
    rq->api_key = key;
    snprintf(rq->client_addr, sizeof rq->client_addr, "%s", addr);
    resp_init(res);
    return http_route(rq, res);
}

static void test_router(struct config *cfg, struct store *st, struct geo_ctx *geo, const char *key)
{
    ratelimit_clear();
    cfg->limits.rate_per_minute = 3;
    struct request rq;
    memset(&rq, 0, sizeof rq);
    rq.cfg = cfg;
    rq.store = st;
    rq.geo = geo;
    rq.query = "";
    struct response res;
    for (int i = 0; i < 3; i++) {
        route(&rq, "/collections", NULL, "192.0.2.1", &res);
        CHECK(res.status == 200);
        resp_fini(&res);
    }
    route(&rq, "/collections", NULL, "192.0.2.1", &res);
    CHECK(res.status == 429);
    CHECK(strcmp(res.content_type, "application/problem+json") == 0);
    CHECK(strstr(res.body.data, "\"status\":429") != NULL);
    const char *ra = resp_get_header(&res, "Retry-After");
    CHECK(ra && strcmp(ra, "20") == 0); /* 3 per minute: one every 20 s */
    resp_fini(&res);
    /* a wrong key counts against the address (no free key guessing) */
    route(&rq, "/collections", "spp_wrong", "192.0.2.1", &res);
    CHECK(res.status == 429);
    resp_fini(&res);
    route(&rq, "/collections", "spp_wrong", "192.0.2.9", &res);
    CHECK(res.status == 401);
    resp_fini(&res);
    /* another address and a key have their own budgets */
    route(&rq, "/collections", NULL, "192.0.2.2", &res);
    CHECK(res.status == 200);
    resp_fini(&res);
    route(&rq, "/collections", key, "192.0.2.1", &res);
    CHECK(res.status == 200);
    resp_fini(&res);
    /* /healthz is never limited */
    for (int i = 0; i < 5; i++) {
        route(&rq, "/healthz", NULL, "192.0.2.1", &res);
        CHECK(res.status == 200);
        resp_fini(&res);
    }
    cfg->limits.rate_per_minute = 0;
    route(&rq, "/collections", NULL, "192.0.2.1", &res);
    CHECK(res.status == 200);
    resp_fini(&res);
}

/* Issue 18: ?key= is a key like X-API-Key (any case); a wrong or conflicting one is a 401; the
 * handlers never see it (the land API refuses unknown parameters) and the caller gets every
 * argument back to free. */
static void test_query_key(struct config *cfg, struct store *st, struct geo_ctx *geo,
                           const char *key)
{
    struct request rq;
    memset(&rq, 0, sizeof rq);
    rq.cfg = cfg;
    rq.store = st;
    rq.geo = geo;
    rq.query = "";
    struct kv args[3] = {{"f", "json"}, {"KEY", "spp_wrong"}, {"limit", "1"}};
    rq.args = args;
    rq.n_args = 3;
    struct response res;
    route(&rq, "/collections", NULL, "192.0.2.7", &res);
    CHECK(res.status == 401);
    CHECK(strcmp(res.content_type, "application/problem+json") == 0);
    CHECK(resp_get_header(&res, "WWW-Authenticate") != NULL);
    CHECK(rq.n_args == 3);
    resp_fini(&res);
    /* the right key in the query: the planner's role, and a service that refuses unknown
     * parameters does not see it */
    struct kv one[2] = {{"key", (char *)key}, {"f", "geojson"}};
    rq.args = one;
    rq.n_args = 2;
    route(&rq, "/api/v1/parcels/no-such-parcel", NULL, "192.0.2.7", &res);
    CHECK(res.status == 404);
    CHECK(rq.role == ROLE_PLANNER);
    resp_fini(&res);
    rq.args = args;
    rq.n_args = 3;
    CHECK(strcmp(args[2].key, "KEY") == 0); /* moved last by the first call */
    args[2].value = (char *)key;
    route(&rq, "/collections", NULL, "192.0.2.7", &res);
    CHECK(res.status == 200 && rq.role == ROLE_PLANNER);
    resp_fini(&res);
    /* the others keep their order for the handler; the key goes last */
    CHECK(rq.n_args == 3 && strcmp(rq.args[0].key, "f") == 0 &&
          strcmp(rq.args[1].key, "limit") == 0 && strcmp(rq.args[2].key, "KEY") == 0);
    /* a right key in the header and another in the query: 401, not either role */
    route(&rq, "/collections", key, "192.0.2.7", &res);
    CHECK(res.status == 200); /* the same key twice is one key */
    resp_fini(&res);
    args[2].value = "spp_other";
    route(&rq, "/collections", key, "192.0.2.7", &res);
    CHECK(res.status == 401);
    resp_fini(&res);
    /* probes never look */
    route(&rq, "/healthz", NULL, "192.0.2.7", &res);
    CHECK(res.status == 200);
    resp_fini(&res);
}

/* The query time limit: a query that runs past store_set_deadline stops with ERR_LIMIT (the
 * edge answers 400 with the reason), and the connection works again afterwards. */
static int count_feature(void *ud, const struct feature *f, struct err *err)
{
    (void)f, (void)err;
    (*(int64_t *)ud)++;
    return 0;
}

static void test_deadline(struct config *cfg, struct store *st)
{
    struct err err;
    err_clear(&err);
    const struct layer_def *roads = catalog_layer(&cfg->catalog, "roads");
    /* 200,000 rows in a plain table, then a cross join that would take minutes */
    CHECK(store_exec(st,
                     "CREATE TABLE big AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
                     " SELECT i + 1 FROM n WHERE i < 200000) SELECT i FROM n",
                     &err) == 0);
    CHECK(store_exec(st,
                     "INSERT INTO roads (name, geom) VALUES ('x', CastToMulti("
                     "GeomFromText('LINESTRING(586000 1109600, 586400 1109700)', 5897)))",
                     &err) == 0);
    /* callers hold no SQL: the slow query is a temporary view over the cross join that shadows
     * the layer's table on this connection */
    CHECK(store_exec(st,
                     "CREATE TEMP VIEW roads AS SELECT a.i AS fid FROM big a, big b"
                     " WHERE a.i + b.i = 7",
                     &err) == 0);
    struct store_query q;
    memset(&q, 0, sizeof q);
    q.layer = roads;
    q.limit = -1;
    int64_t n = 0;
    struct feature_sink sink = {NULL, count_feature, NULL, &n};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    store_set_deadline(st, 50);
    err_clear(&err);
    int rc = store_query_run(st, &q, &sink, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(rc == ERR_LIMIT && strstr(err.msg, "time limit") != NULL);
    CHECK(ms < 1000); /* stopped near the 50 ms deadline, not after the whole join */
    CHECK(n == 0);
    struct request rq;
    memset(&rq, 0, sizeof rq);
    struct response res;
    resp_init(&res);
    http_write_error(&rq, &res, &err);
    CHECK(res.status == 400);
    resp_fini(&res);
    /* without a deadline the same connection answers again */
    store_set_deadline(st, 0);
    CHECK(store_exec(st, "DROP VIEW temp.roads", &err) == 0);
    err_clear(&err);
    CHECK(store_query_run(st, &q, &sink, &err) == 0 && n == 1);
    store_exec(st, "DROP TABLE big", &err);
}

static void test_forms(void)
{
    CHECK(http_route_form("GET", "/collections/roads") == FORM_PROBLEM);
    CHECK(http_route_form("GET", "/healthz") == FORM_TEXT);
    CHECK(http_route_form("POST", "/healthz") == FORM_TEXT);
    CHECK(http_route_form("GET", "/no/such") == FORM_PROBLEM);
}

int main(void)
{
    log_quiet = 1;
    test_bucket();
    test_many_identities();
    test_threads();
    test_forms();
    char path[64];
    snprintf(path, sizeof path, "/tmp/spp-test-http-%d.sqlite", (int)getpid());
    unlink(path);
    struct config cfg;
    config_defaults(&cfg);
    struct err err;
    err_clear(&err);
    CHECK(catalog_load(&cfg.catalog, "layers", &err) == 0);
    struct store *st = NULL;
    CHECK(store_open(path, STORE_WRITE, &st, &err) == 0);
    CHECK(store_init_schema(st, &cfg.catalog, 5897, &err) == 0);
    char key[64];
    int64_t id;
    CHECK(store_key_add(st, ROLE_PLANNER, "t", key, &id, &err) == 0);
    struct geo_ctx *geo = geo_ctx_new(&err);
    CHECK(geo != NULL);
    if (st && geo) test_router(&cfg, st, geo, key);
    if (st && geo) test_query_key(&cfg, st, geo, key);
    if (st) test_deadline(&cfg, st);
    geo_ctx_free(geo);
    store_close(st);
    config_fini(&cfg);
    unlink(path);
    CHECK_DONE();
}
