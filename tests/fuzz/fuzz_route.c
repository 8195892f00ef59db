/* SPDX-License-Identifier: MIT */
/* fuzz_route.c: the whole request path in-process: the route matcher with path parameters, API
 * key resolution and every handler in the route table, against a small store holding a parcel
 * with a known owner. Input: byte 0 picks the method and the caller (no key, investor, planner,
 * a wrong key); then "PATH[?QUERY][\nBODY]". Properties: no 5xx, always a status and a content
 * type, and the owner's name and id number (planner-only fields) never reach a caller below
 * planner unless the request itself carried them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "geo/geo.h"
#include "http/http.h"
#include "store/store.h"

static struct config cfg;
static struct store *st;
static struct geo_ctx *geo;
static char keys[3][64]; /* investor, planner, revoked */
static const char *const secrets[] = {"ZQXOWNER", "ZQX0790001234", "ZQXAPPLICANT", "ZQXNOTE"};

static void die(const char *what, const struct err *err)
{
    fprintf(stderr, "fuzz_route: %s: %s\n", what, err->msg);
    exit(1);
}

static void seed_store(const char *path)
{
    struct err err;
    err_clear(&err);
    unlink(path);
    if (store_open(path, STORE_WRITE, &st, &err) || store_init_schema(st, &cfg.catalog, 5897, &err))
        die("store", &err);
    const char *sql =
        "INSERT INTO cadastral_parcels (parcel_key, commune_code, sheet_no, parcel_no, area_m2,"
        " lu_display, owner_name, owner_id_no, certificate_no, geom) VALUES ('312250120045',"
        " '31225', 12, 45, 100, 'ODT', 'ZQXOWNER Nguyễn', 'ZQX0790001234', 'ZQXCERT',"
        " CastToMulti(GeomFromText('POLYGON((586000 1109600, 586010 1109600, 586010 1109610,"
        " 586000 1109610, 586000 1109600))', 5897)));"
        "INSERT INTO roads (name, road_class, geom) VALUES ('Đường 30 Tháng 4', 'do_thi_chinh',"
        " CastToMulti(GeomFromText('LINESTRING(586000 1109600, 586400 1109700)', 5897)));"
        "INSERT INTO vacant_land_fund (internal_note, contact_person, geom) VALUES"
        " ('ZQXNOTE', 'ZQXAPPLICANT', CastToMulti(GeomFromText('POLYGON((586000 1109600,"
        " 586050 1109600, 586050 1109650, 586000 1109600))', 5897)));";
    if (store_exec(st, sql, &err)) die("seed", &err);
    for (int i = 0; i < cfg.catalog.n_layers; i++)
        if (store_refresh_layer(st, &cfg.catalog.layers[i], "fuzz", &err)) die("refresh", &err);
    int64_t id;
    if (store_key_add(st, ROLE_INVESTOR, "i", keys[0], NULL, &err) ||
        store_key_add(st, ROLE_PLANNER, "p", keys[1], NULL, &err) ||
        store_key_add(st, ROLE_PLANNER, "r", keys[2], &id, &err) || store_key_revoke(st, id, &err))
        die("keys", &err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char cwd[512];
    if (getcwd(cwd, sizeof cwd)) setenv("SPP_HOME", cwd, 0);
    log_quiet = 1;
    config_defaults(&cfg);
    cfg.limits.query_ms = 2000;
    struct err err;
    err_clear(&err);
    if (catalog_load(&cfg.catalog, cfg.layers_dir, &err)) die("catalog", &err);
    char path[64];
    snprintf(path, sizeof path, "/tmp/spp-fuzz-route-%d.sqlite", (int)getpid());
    seed_store(path);
    if (!(geo = geo_ctx_new(&err))) die("geo", &err);
    return 0;
}

/* Splits "a=b&c=d" into decoded arguments (as libmicrohttpd does). */
static int parse_args(char *q, struct kv *args, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(q, "&", &save); p && n < max; p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        if (eq) *eq++ = '\0';
        args[n].key = str_dup(p);
        args[n].value = str_dup(eq ? eq : "");
        if (str_url_decode(args[n].key) || str_url_decode(args[n].value)) {
            free(args[n].key), free(args[n].value);
            continue;
        }
        n++;
    }
    return n;
}

/* Keeps only letters and digits: the secrets are alphanumeric, and an error message may echo the
 * request with some bytes escaped, replaced or dropped (control characters, bad UTF-8). */
static void squash(const char *in, struct buf *out)
{
    for (const char *p = in; *p; p++)
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
            buf_putc(out, *p);
    buf_putc(out, ' ');
}

/* 1 if the request itself carried the secret (then an echo of it is no leak). */
static int carried(const char *input, const struct kv *args, int n, const char *secret)
{
    struct buf b;
    buf_init(&b);
    squash(input, &b);
    for (int i = 0; i < n; i++) squash(args[i].key, &b), squash(args[i].value, &b);
    int yes = b.data && strstr(b.data, secret) != NULL;
    buf_fini(&b);
    return yes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 8192) return 0;
    static const char *const methods[] = {"GET", "GET", "HEAD", "POST"};
    char *input = str_ndup((const char *)data + 1, size - 1);
    char *whole = str_ndup((const char *)data + 1, size - 1);
    char *body = strchr(input, '\n');
    if (body) *body++ = '\0';
    char *query = strchr(input, '?');
    if (query) *query++ = '\0';
    struct kv args[64];
    int n = query ? parse_args(query, args, 64) : 0;
    struct request req;
    memset(&req, 0, sizeof req);
    req.method = methods[data[0] & 3];
    req.path = input;
    req.query = "";
    req.args = args;
    req.n_args = n;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    int who = (data[0] >> 2) & 3; /* 0 none, 1 investor, 2 planner, 3 revoked */
    if (who) req.api_key = keys[who - 1];
    req.accept = data[0] & 16 ? "text/html" : NULL;
    req.cfg = &cfg;
    req.store = st;
    req.geo = geo;
    snprintf(req.base_url, sizeof req.base_url, "http://127.0.0.1:1");
    struct response res;
    resp_init(&res);
    store_set_deadline(st, cfg.limits.query_ms);
    http_route(&req, &res);
    store_set_deadline(st, 0);
    if (res.status < 100 || res.status >= 500) {
        fprintf(stderr, "status %d for %s %s: %s\n", res.status, req.method, input,
                res.body.data ? res.body.data : "");
        abort();
    }
    if (who == 3 && res.status != 401 && res.status != 404 && res.status != 405) abort();
    if (who != 2 && res.body.data)
        for (size_t i = 0; i < ARRAY_LEN(secrets); i++)
            if (strstr(res.body.data, secrets[i]) && !carried(whole, args, n, secrets[i])) {
                fprintf(stderr, "%s leaked to role %d by %s\n", secrets[i], who, whole);
                abort();
            }
    resp_fini(&res);
    for (int i = 0; i < n; i++)
        free(args[i].key), free(args[i].value);
    free(input);
    free(whole);
    return 0;
}
