/* SPDX-License-Identifier: MIT */
/* test_ogcapi.c: OGC API Features in-process against a small store: items paging (limit,
 * offset, numberMatched, self/next/prev links keeping the other parameters, encoded), properties
 * and sortby, crs with Content-Crs and lat/lon order, the parameter errors each naming its
 * parameter (limit, offset, crs, properties, sortby, lang, collectionId, featureId), one item with
 * its links, the language negotiation, and the URL and link helpers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "ogcapi/ogcapi_int.h"

static struct config cfg;
static struct store *st;
static struct geo_ctx *geo;

/* A GET request on path with query qs ("k=v&k=v", no escapes) and path parameters. */
struct rq {
    struct request r;
    struct kv args[16];
    char qs[512];
    char *pnames[2], *pvals[2];
};

static void rq_init(struct rq *q, const char *path, const char *qs, const char *layer,
                    const char *fid)
{
    memset(q, 0, sizeof *q);
    q->r.method = "GET";
    q->r.path = path;
    q->r.query = "";
    q->r.cfg = &cfg;
    q->r.store = st;
    q->r.geo = geo;
    snprintf(q->r.base_url, sizeof q->r.base_url, "http://h");
    snprintf(q->qs, sizeof q->qs, "%s", qs);
    q->r.args = q->args;
    for (char *p = q->qs, *amp; p && *p && q->r.n_args < 16; p = amp ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        if (amp) *amp = '\0';
        char *eq = strchr(p, '=');
        q->args[q->r.n_args].key = p;
        q->args[q->r.n_args].value = eq ? (*eq = '\0', eq + 1) : p + strlen(p);
        q->r.n_args++;
    }
    q->pnames[0] = "layer", q->pvals[0] = (char *)layer;
    q->pnames[1] = "fid", q->pvals[1] = (char *)fid;
    for (int i = 0; i < 2; i++)
        q->r.param_names[i] = q->pnames[i], q->r.params[i] = q->pvals[i];
    q->r.n_params = 2;
}

/* Runs an items request; returns the handler's code, the body in res. */
static int items(struct response *res, const char *qs, struct err *err)
{
    struct rq q;
    rq_init(&q, "/collections/roads/items", qs, "roads", NULL);
    resp_init(res);
    err_clear(err);
    return ogcapi_items(&q.r, res, err);
}

static int bad_param(const char *qs, const char *locator)
{
    struct response res;
    struct err err;
    int rc = items(&res, qs, &err);
    int ok = rc == ERR_PARAM && strcmp(err.locator, locator) == 0;
    if (!ok) fprintf(stderr, "%s: rc %d locator %s: %s\n", qs, rc, err.locator, err.msg);
    resp_fini(&res);
    return ok;
}

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p++)
        n++;
    return n;
}

static void test_paging(void)
{
    struct response res;
    struct err err;
    CHECK(items(&res, "limit=2&offset=2&name=x", &err) == ERR_OK);
    const char *b = res.body.data;
    CHECK(res.status == 200 && strcmp(res.content_type, "application/geo+json") == 0);
    CHECK(strstr(b, "\"numberMatched\":5,\"numberReturned\":2,") != NULL);
    CHECK(count(b, "\"type\":\"Feature\"") == 2);
    /* links keep the other parameters and move offset */
    CHECKF(strstr(b, "{\"href\":\"http://h/collections/roads/items?name=x&offset=2&limit=2\","
                     "\"rel\":\"self\"") != NULL,
           "%s", b);
    CHECK(strstr(b, "items?name=x&offset=4&limit=2\",\"rel\":\"next\"") != NULL);
    CHECK(strstr(b, "items?name=x&offset=0&limit=2\",\"rel\":\"prev\"") != NULL);
    CHECK(strstr(b, "\"rel\":\"collection\",\"type\":\"application/json\"") != NULL);
    resp_fini(&res);

    /* the last page: no next; a page past the end still counts what matched */
    CHECK(items(&res, "limit=2&offset=4", &err) == ERR_OK);
    CHECK(strstr(res.body.data, "\"numberMatched\":5,\"numberReturned\":1,") != NULL);
    CHECK(!strstr(res.body.data, "\"rel\":\"next\"") && strstr(res.body.data, "\"rel\":\"prev\""));
    resp_fini(&res);
    CHECK(items(&res, "limit=2&offset=9", &err) == ERR_OK);
    CHECK(strstr(res.body.data, "\"numberMatched\":5,\"numberReturned\":0,") != NULL);
    resp_fini(&res);

    /* a limit above the maximum is served with the maximum (not refused) */
    cfg.limits.max_features = 3;
    CHECK(items(&res, "limit=1000", &err) == ERR_OK);
    CHECK(strstr(res.body.data, "\"numberReturned\":3,") != NULL);
    CHECK(strstr(res.body.data, "offset=3&limit=3\",\"rel\":\"next\"") != NULL);
    resp_fini(&res);
    cfg.limits.max_features = 10000;

    /* parameter values are percent-encoded in the links */
    CHECK(items(&res, "limit=1&q=a b/c", &err) == ERR_OK);
    CHECK(strstr(res.body.data, "items?q=a%20b%2Fc&offset=0&limit=1\"") != NULL);
    resp_fini(&res);
}

static void test_properties_sort_crs(void)
{
    struct response res;
    struct err err;
    CHECK(items(&res, "properties=name&sortby=-name&limit=1", &err) == ERR_OK);
    const char *b = res.body.data;
    CHECKF(strstr(b, "\"properties\":{\"name\":\"Đường 4\"}}") != NULL, "%s", b);
    CHECK(strcmp(resp_get_header(&res, "Content-Crs"),
                 "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>") == 0);
    resp_fini(&res);
    /* EPSG:4326 is lat/lon: the first coordinate is the latitude (about 10 here) */
    CHECK(items(&res, "crs=http://www.opengis.net/def/crs/EPSG/0/4326&limit=1&sortby=name", &err) ==
          ERR_OK);
    b = res.body.data;
    const char *c = strstr(b, "\"coordinates\":[[");
    CHECK(c && strtod(c + 17, NULL) > 9 && strtod(c + 17, NULL) < 11);
    CHECK(strcmp(resp_get_header(&res, "Content-Crs"),
                 "<http://www.opengis.net/def/crs/EPSG/0/4326>") == 0);
    resp_fini(&res);
    /* the storage CRS in metres: 3 decimals at most, x first */
    CHECK(items(&res, "crs=http://www.opengis.net/def/crs/EPSG/0/5897&limit=1&sortby=name", &err) ==
          ERR_OK);
    CHECKF(strstr(res.body.data, "\"coordinates\":[[[586000,1109000],[586000,1109050]]]") != NULL,
           "%s", res.body.data);
    resp_fini(&res);
}

static void test_errors(void)
{
    CHECK(bad_param("limit=0", "limit"));
    CHECK(bad_param("limit=abc", "limit"));
    CHECK(bad_param("offset=-1", "offset"));
    CHECK(bad_param("crs=EPSG:9999", "crs"));
    CHECK(bad_param("bbox-crs=http://www.opengis.net/def/crs/EPSG/0/1&bbox=1,2,3,4", "bbox-crs"));
    CHECK(bad_param("properties=name,nosuch", "properties"));
    CHECK(bad_param("sortby=nosuch", "sortby"));
    CHECK(bad_param("sortby=a,b,c,d,e,f,g,h,i", "sortby"));
    CHECK(bad_param("lang=fr", "lang"));
    CHECK(bad_param("filter-lang=xml&filter=x", "filter-lang"));

    struct rq q;
    struct response res;
    struct err err;
    rq_init(&q, "/collections/nosuch/items", "", "nosuch", NULL);
    resp_init(&res);
    err_clear(&err);
    CHECK(ogcapi_items(&q.r, &res, &err) == ERR_NOT_FOUND &&
          strcmp(err.locator, "collectionId") == 0);
    resp_fini(&res);
    /* a restricted collection is not found for the public */
    const struct layer_def *hidden = NULL;
    for (int i = 0; i < cfg.catalog.n_layers && !hidden; i++)
        if (cfg.catalog.layers[i].min_role > ROLE_PUBLIC) hidden = &cfg.catalog.layers[i];
    CHECK(hidden != NULL); /* the catalog has one (construction_permits) */
    if (hidden) {
        rq_init(&q, "/collections/x/items", "", hidden->id, NULL);
        resp_init(&res);
        err_clear(&err);
        CHECK(ogcapi_items(&q.r, &res, &err) == ERR_NOT_FOUND);
        resp_fini(&res);
    }
}

static void test_item(void)
{
    struct rq q;
    struct response res;
    struct err err;
    rq_init(&q, "/collections/roads/items/1", "", "roads", "1");
    resp_init(&res);
    err_clear(&err);
    CHECK(ogcapi_item(&q.r, &res, &err) == ERR_OK);
    const char *b = res.body.data;
    const char *head = "{\"type\":\"Feature\",\"id\":1,\"geometry\":{\"type\":"
                       "\"MultiLineString\",\"coordinates\":[[[105.78629778,10.02749706],";
    CHECKF(strncmp(b, head, strlen(head)) == 0, "%s", b);
    CHECK(strstr(b,
                 ",\"links\":[{\"href\":\"http://h/collections/roads/items/1\",\"rel\":\"self\"") !=
          NULL);
    CHECK(b[res.body.len - 1] == '\n' && b[res.body.len - 2] == '}');
    resp_fini(&res);
    const char *bad[] = {"99", "x", "-1"};
    for (int i = 0; i < 3; i++) {
        rq_init(&q, "/collections/roads/items/x", "", "roads", bad[i]);
        resp_init(&res);
        err_clear(&err);
        CHECK(ogcapi_item(&q.r, &res, &err) == ERR_NOT_FOUND &&
              strcmp(err.locator, "featureId") == 0);
        resp_fini(&res);
    }
}

static void test_helpers(void)
{
    struct buf b;
    buf_init(&b);
    ogcapi_url_encode(&b, "a b&c=d/é:,~");
    CHECK(strcmp(b.data, "a%20b%26c%3Dd%2F%C3%A9:,~") == 0);
    buf_reset(&b);
    int first = 1;
    ogcapi_link(&b, &first, "http://h/x?a=\"1\"", "self", "application/json", NULL);
    ogcapi_link(&b, &first, "u", "alternate", "text/html", "T\"");
    CHECKF(strcmp(b.data, "{\"href\":\"http://h/x?a=\\\"1\\\"\",\"rel\":\"self\",\"type\":"
                          "\"application/json\"},{\"href\":\"u\",\"rel\":\"alternate\",\"type\":"
                          "\"text/html\",\"title\":\"T\\\"\"}") == 0,
           "%s", b.data);
    buf_fini(&b);
    CHECK(strcmp(ogcapi_text(1, "vi", "en"), "en") == 0);
    CHECK(strcmp(ogcapi_text(1, "vi", ""), "vi") == 0);
    CHECK(strcmp(ogcapi_text(0, NULL, "en"), "en") == 0);

    struct rq q;
    struct response res;
    struct err err;
    int en = -1;
    rq_init(&q, "/", "", NULL, NULL);
    q.r.accept_language = "fr;q=1, en-GB;q=0.8, vi;q=0.5";
    resp_init(&res);
    CHECK(ogcapi_lang(&q.r, &res, &en, &err) == 0 && en == 1);
    CHECK(strcmp(resp_get_header(&res, "Content-Language"), "en") == 0);
    resp_fini(&res);
    q.r.accept_language = "en;q=0.3, vi";
    resp_init(&res);
    CHECK(ogcapi_lang(&q.r, &res, &en, &err) == 0 && en == 0);
    resp_fini(&res);
    rq_init(&q, "/", "lang=en-US", NULL, NULL);
    q.r.accept_language = "vi";
    resp_init(&res);
    CHECK(ogcapi_lang(&q.r, &res, &en, &err) == 0 && en == 1); /* lang= wins */
    resp_fini(&res);
}

static int setup(const char *path)
{
    struct err err;
    err_clear(&err);
    config_defaults(&cfg);
    if (catalog_load(&cfg.catalog, "layers", &err) || store_open(path, STORE_WRITE, &st, &err) ||
        store_init_schema(st, &cfg.catalog, 5897, &err) || store_exec(st, "BEGIN", &err))
        return fprintf(stderr, "setup: %s\n", err.msg), -1;
    for (int i = 0; i < 5; i++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "INSERT INTO roads (name, road_class, geom) VALUES ('Đường %d', 'noi_bo',"
                 " CastToMulti(GeomFromText('LINESTRING(%d 1109000, %d 1109050)', 5897)))",
                 i, 586000 + 100 * i, 586000 + 100 * i);
        if (store_exec(st, sql, &err)) return fprintf(stderr, "setup: %s\n", err.msg), -1;
    }
    const struct layer_def *roads = catalog_layer(&cfg.catalog, "roads");
    if (!roads || store_refresh_layer(st, roads, "test", &err) || store_exec(st, "COMMIT", &err))
        return fprintf(stderr, "setup: %s\n", err.msg), -1;
    geo = geo_ctx_new(&err);
    return geo ? 0 : -1;
}

int main(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/spp-test-ogcapi-%d.sqlite", (int)getpid());
    unlink(path);
    int ok = setup(path) == 0;
    CHECK(ok);
    if (ok) {
        test_paging();
        test_properties_sort_crs();
        test_errors();
        test_item();
        test_helpers();
    }
    if (geo) geo_ctx_free(geo);
    if (st) store_close(st);
    config_fini(&cfg);
    unlink(path);
    CHECK_DONE();
}
