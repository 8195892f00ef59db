/* SPDX-License-Identifier: MIT */
/* test_ogc.c: the OGC services in-process against a small store: OWS and WMS exception reports
 * (codes, locators, escaping, 1.1.1 vs 1.3.0), the capabilities language, CRS URNs, WFS KVP
 * parsing errors with their exceptionCode and locator, WFS GetFeature paging across the
 * collection's next/previous links and numberMatched, hits, GeoJSON, CSV and GetPropertyValue,
 * and WMS GetFeatureInfo in its four formats with the role's fields only. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "ogc/wfs_int.h"
#include "render/render.h"

static struct config cfg;
static struct store *st;
static struct geo_ctx *geo;

struct rq {
    struct request r;
    struct kv args[24];
    char qs[1024];
};

static void rq_init(struct rq *q, const char *path, const char *qs)
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
    for (char *p = q->qs, *amp; p && *p && q->r.n_args < 24; p = amp ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        if (amp) *amp = '\0';
        char *eq = strchr(p, '=');
        q->args[q->r.n_args].key = p;
        q->args[q->r.n_args].value = eq ? (*eq = '\0', eq + 1) : p + strlen(p);
        q->r.n_args++;
    }
}

static int wfs(struct response *res, const char *qs, struct err *err)
{
    struct rq q;
    rq_init(&q, "/wfs", qs);
    resp_init(res);
    err_clear(err);
    return wfs_dispatch(&q.r, res, err);
}

static int wms(struct response *res, const char *qs, enum role role, struct err *err)
{
    struct rq q;
    rq_init(&q, "/wms", qs);
    q.r.role = role;
    resp_init(res);
    err_clear(err);
    return wms_dispatch(&q.r, res, err);
}

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p++)
        n++;
    return n;
}

static void test_exceptions(void)
{
    struct response res;
    struct err err;
    err_clear(&err);
    err_setl(&err, ERR_PARAM, "typeNames", "unknown type \"<x>\" & more");
    resp_init(&res);
    ows_exception_report(&res, 400, &err);
    const char *b = res.body.data;
    CHECK(res.status == 400 && strncmp(res.content_type, "application/xml", 15) == 0);
    CHECK(
        strstr(b, "<ows:Exception exceptionCode=\"InvalidParameterValue\" locator=\"typeNames\">"));
    CHECK(strstr(b, "<ows:ExceptionText>unknown type &quot;&lt;x&gt;&quot; &amp; more"
                    "</ows:ExceptionText>"));
    resp_fini(&res);
    /* the handler's own code wins; without a locator a bad parameter is an invalid request */
    err_clear(&err);
    err_set(&err, ERR_PARAM, "broken");
    resp_init(&res);
    ows_exception_report(&res, 400, &err);
    CHECK(strstr(res.body.data, "exceptionCode=\"InvalidRequest\">") != NULL);
    resp_fini(&res);
    snprintf(err.ogc_code, sizeof err.ogc_code, "OperationParsingFailed");
    resp_init(&res);
    ows_exception_report(&res, 400, &err);
    CHECK(strstr(res.body.data, "exceptionCode=\"OperationParsingFailed\">") != NULL);
    resp_fini(&res);
    err_clear(&err);
    err_set(&err, ERR_NOT_FOUND, "gone");
    resp_init(&res);
    ows_exception_report(&res, 404, &err);
    CHECK(strstr(res.body.data, "exceptionCode=\"NotFound\">") != NULL);
    resp_fini(&res);

    /* WMS: 1.1.1 has its own content type and no namespace; 1.3.0 the ogc namespace */
    struct rq q;
    err_clear(&err);
    err_setl(&err, ERR_PARAM, "LAYERS", "no layer");
    snprintf(err.ogc_code, sizeof err.ogc_code, "LayerNotDefined");
    rq_init(&q, "/wms", "VERSION=1.1.1&REQUEST=GetMap");
    resp_init(&res);
    wms_service_exception(&q.r, &res, 400, &err);
    CHECK(strncmp(res.content_type, "application/vnd.ogc.se_xml;", 27) == 0);
    CHECK(strstr(res.body.data, "<ServiceExceptionReport version=\"1.1.1\">\n  <ServiceException "
                                "code=\"LayerNotDefined\" locator=\"LAYERS\">no layer"
                                "</ServiceException>") != NULL);
    resp_fini(&res);
    rq_init(&q, "/wms", "REQUEST=GetMap");
    resp_init(&res);
    wms_service_exception(&q.r, &res, 400, &err);
    CHECK(strncmp(res.content_type, "text/xml", 8) == 0);
    CHECK(strstr(res.body.data, "version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\"") != NULL);
    resp_fini(&res);
}

static void test_language_and_names(void)
{
    struct rq q;
    const char *vals[] = {"vie", "vi-VN", "ENG", "en-GB", "fr", ""};
    enum ogc_lang want[] = {OGC_LANG_VI, OGC_LANG_VI,   OGC_LANG_EN,
                            OGC_LANG_EN, OGC_LANG_BOTH, OGC_LANG_BOTH};
    for (int i = 0; i < 6; i++) {
        char qs[64];
        snprintf(qs, sizeof qs, "language=%s", vals[i]);
        rq_init(&q, "/wms", qs);
        CHECKF(ogc_language(&q.r) == want[i], "%s", vals[i]);
    }
    struct buf b;
    buf_init(&b);
    ogc_put_text(&b, OGC_LANG_BOTH, "Đường", "Roads & streets", " / ");
    ogc_put_text(&b, OGC_LANG_EN, "Đường", "", "|");
    ogc_put_text(&b, OGC_LANG_VI, NULL, "x", "|");
    CHECK(strcmp(b.data, "Đường / Roads &amp; streetsĐường") == 0);
    buf_reset(&b);
    wfs_put_url_encoded(&b, "spp:roads a&b");
    CHECK(strcmp(b.data, "spp:roads%20a%26b") == 0); /* ":" kept, as clients write it */
    buf_fini(&b);
    char urn[64];
    CHECK(strcmp(wfs_crs_urn(5897, urn), "urn:ogc:def:crs:EPSG::5897") == 0);
    CHECK(strcmp(wfs_crs_urn(GEO_SRID_CRS84, urn), "urn:ogc:def:crs:OGC:1.3:CRS84") == 0);
}

/* A WFS request that must fail with code, exceptionCode and locator. */
static int wfs_fails(const char *qs, int code, const char *ogc_code, const char *locator)
{
    struct response res;
    struct err err;
    int rc = wfs(&res, qs, &err);
    int ok = rc == code && (!ogc_code || strcmp(err.ogc_code, ogc_code) == 0) &&
             strcmp(err.locator, locator) == 0;
    if (!ok)
        fprintf(stderr, "%s: rc %d code %s locator %s: %s\n", qs, rc, err.ogc_code, err.locator,
                err.msg);
    resp_fini(&res);
    return ok;
}

#define GF "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=spp:roads"

static void test_wfs_errors(void)
{
    CHECK(wfs_fails("SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=spp:nosuch", ERR_PARAM,
                    "InvalidParameterValue", "typeNames"));
    CHECK(wfs_fails(GF "&COUNT=-3", ERR_PARAM, NULL, "COUNT"));
    CHECK(wfs_fails(GF "&STARTINDEX=x", ERR_PARAM, NULL, "STARTINDEX"));
    CHECK(wfs_fails(GF "&SRSNAME=EPSG:1", ERR_PARAM, NULL, "srsName"));
    CHECK(wfs_fails(GF "&PROPERTYNAME=nosuch", ERR_PARAM, "InvalidParameterValue", "PROPERTYNAME"));
    CHECK(wfs_fails(GF "&OUTPUTFORMAT=image/png", ERR_PARAM, NULL, "outputFormat"));
    CHECK(wfs_fails("SERVICE=WFS&VERSION=3.0.0&REQUEST=GetFeature&TYPENAMES=spp:roads", ERR_PARAM,
                    NULL, "version"));
}

static void test_wfs_getfeature(void)
{
    struct response res;
    struct err err;
    CHECK(wfs(&res, GF "&COUNT=2&STARTINDEX=2&SORTBY=name", &err) == ERR_OK);
    const char *b = res.body.data;
    CHECK(strncmp(res.content_type, "application/gml+xml; version=3.2", 33) == 0);
    CHECK(strstr(b, "numberMatched=\"5\" numberReturned=\"2\"") != NULL);
    CHECK(count(b, "<wfs:member>") == 2);
    CHECKF(strstr(b, " next=\"http://h/wfs?SERVICE=WFS&amp;VERSION=2.0.0&amp;REQUEST=GetFeature"
                     "&amp;TYPENAMES=spp:roads&amp;SORTBY=name&amp;STARTINDEX=4&amp;COUNT=2\"") !=
               NULL,
           "%.600s", b);
    CHECK(strstr(b, "STARTINDEX=0&amp;COUNT=2\"") && strstr(b, " previous=\""));
    /* sorted by name: the third and fourth roads */
    CHECK(strstr(b, "<spp:name>Đường 2</spp:name>") && strstr(b, "<spp:name>Đường 3</spp:name>"));
    CHECK(strstr(b, "<gml:MultiCurve gml:id=\"roads.3.0\"") != NULL);
    resp_fini(&res);

    CHECK(wfs(&res, GF "&RESULTTYPE=hits", &err) == ERR_OK);
    CHECK(strstr(res.body.data, "numberMatched=\"5\" numberReturned=\"0\"") &&
          !strstr(res.body.data, "<wfs:member>"));
    resp_fini(&res);

    CHECK(wfs(&res, GF "&COUNT=1&OUTPUTFORMAT=application/json&SRSNAME=EPSG:5897&SORTBY=name",
              &err) == ERR_OK);
    b = res.body.data;
    CHECKF(strncmp(b,
                   "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"id\":"
                   "\"roads.1\",\"geometry\":{\"type\":\"MultiLineString\",\"coordinates\":"
                   "[[[586000,1109000],[586000,1109050]]]}",
                   150) == 0,
           "%s", b);
    CHECK(strstr(b, "\"numberMatched\":5,\"numberReturned\":1,") != NULL);
    CHECK(strstr(b, "\"crs\":{\"type\":\"name\",\"properties\":{\"name\":"
                    "\"urn:ogc:def:crs:EPSG::5897\"}}") != NULL);
    CHECK(strstr(b, "{\"rel\":\"next\",\"type\":\"application/geo+json\",\"href\":\"") &&
          !strstr(b, "\"rel\":\"previous\""));
    resp_fini(&res);

    CHECK(wfs(&res,
              GF "&COUNT=2&OUTPUTFORMAT=csv&SRSNAME=EPSG:5897&SORTBY=name&PROPERTYNAME=name,geom",
              &err) == ERR_OK);
    CHECKF(strcmp(res.body.data, "id,name,geometry\r\n"
                                 "roads.1,Đường 0,\"MULTILINESTRING((586000 1109000,586000 "
                                 "1109050))\"\r\n"
                                 "roads.2,Đường 1,\"MULTILINESTRING((586100 1109000,586100 "
                                 "1109050))\"\r\n") == 0,
           "%s", res.body.data);
    resp_fini(&res);

    CHECK(wfs(&res,
              "SERVICE=WFS&VERSION=2.0.0&REQUEST=GetPropertyValue&TYPENAMES=spp:roads&"
              "VALUEREFERENCE=name&SORTBY=name&COUNT=2",
              &err) == ERR_OK);
    CHECK(strstr(res.body.data, "<wfs:member>Đường 0</wfs:member>\n<wfs:member>Đường 1"
                                "</wfs:member>\n</wfs:ValueCollection>") != NULL);
    resp_fini(&res);
    CHECK(wfs_fails("SERVICE=WFS&VERSION=2.0.0&REQUEST=GetPropertyValue&TYPENAMES=spp:roads&"
                    "VALUEREFERENCE=nosuch",
                    ERR_PARAM, "InvalidParameterValue", "valueReference"));
}

#define GFI                                                                                        \
    "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=roads&QUERY_LAYERS=roads&STYLES=&"    \
    "CRS=EPSG:5897&BBOX=585950,1108950,586150,1109100&WIDTH=200&HEIGHT=150&I=50&J=75"

static void test_wms_info(void)
{
    struct response res;
    struct err err;
    /* the click at pixel (50,75) lies on the first road (x = 586000.5, y = 1109024.5) */
    CHECKF(wms(&res, GFI "&INFO_FORMAT=application/json", ROLE_PUBLIC, &err) == ERR_OK, "%s %s",
           err.locator, err.msg);
    const char *b = res.body.data;
    CHECKF(strncmp(b,
                   "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"id\":"
                   "\"roads.1\",\"layer\":\"roads\",\"properties\":{\"road_id\":null,\"name\":"
                   "\"Đường 0\",",
                   120) == 0,
           "%s", b);
    CHECK(strstr(b, "\"geometry\":{\"type\":\"MultiLineString\",\"coordinates\":[[[586000,1109000],"
                    "[586000,1109050]]]}}]}\n") != NULL);
    CHECK(strcmp(res.content_type, "application/json") == 0);
    resp_fini(&res);
    CHECK(wms(&res, GFI "&INFO_FORMAT=text/plain", ROLE_PUBLIC, &err) == ERR_OK);
    CHECK(strncmp(res.body.data,
                  "GetFeatureInfo results:\n\nLayer 'roads'\n  Feature 1:\n    road_id = NULL\n"
                  "    name = 'Đường 0'\n",
                  85) == 0);
    resp_fini(&res);
    CHECK(wms(&res, GFI "&INFO_FORMAT=text/html", ROLE_PUBLIC, &err) == ERR_OK);
    CHECK(strstr(res.body.data, "<table border=\"1\"><tr><th>fid</th><td>1</td></tr>\n") &&
          strstr(res.body.data, "</table>\n</body></html>\n"));
    resp_fini(&res);
    CHECK(wms(&res, GFI "&INFO_FORMAT=application/vnd.ogc.gml", ROLE_PUBLIC, &err) == ERR_OK);
    CHECK(strstr(res.body.data, "<roads_layer><gml:name>roads</gml:name>\n<roads_feature "
                                "fid=\"roads.1\"><road_id></road_id><name>Đường 0</name>") &&
          strstr(res.body.data, "<gml:MultiLineString srsName=\"EPSG:5897\"><gml:lineStringMember>"
                                "<gml:LineString><gml:coordinates decimal=\".\" cs=\",\" "
                                "ts=\" \">586000,1109000 586000,1109050</gml:coordinates>"));
    resp_fini(&res);
    /* nothing hit: an empty collection, not an error */
    CHECK(wms(&res,
              "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=roads&QUERY_LAYERS=roads&"
              "STYLES=&CRS=EPSG:5897&BBOX=585950,1108950,586150,1109100&WIDTH=200&HEIGHT=150&"
              "I=199&J=0&INFO_FORMAT=application/json",
              ROLE_PUBLIC, &err) == ERR_OK);
    CHECK(strcmp(res.body.data, "{\"type\":\"FeatureCollection\",\"features\":[]}\n") == 0);
    resp_fini(&res);
    CHECK(wms(&res, GFI "&INFO_FORMAT=image/png", ROLE_PUBLIC, &err) == ERR_PARAM &&
          strcmp(err.ogc_code, "InvalidFormat") == 0);
    resp_fini(&res);
    CHECK(wms(&res,
              "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=roads&QUERY_LAYERS=roads&"
              "STYLES=&CRS=EPSG:5897&BBOX=585950,1108950,586150,1109100&WIDTH=200&HEIGHT=150&"
              "I=500&J=0",
              ROLE_PUBLIC, &err) == ERR_PARAM &&
          strcmp(err.ogc_code, "InvalidPoint") == 0 && strcmp(err.locator, "I") == 0);
    resp_fini(&res);
    CHECK(wms(&res, GFI "&FEATURE_COUNT=0", ROLE_PUBLIC, &err) == ERR_PARAM &&
          strcmp(err.locator, "FEATURE_COUNT") == 0);
    resp_fini(&res);
}

static int setup(const char *path)
{
    struct err err;
    err_clear(&err);
    config_defaults(&cfg);
    free(cfg.styles_dir);
    cfg.styles_dir = str_dup("styles"); /* tests run from the checkout */
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
    if (render_styles_load(&cfg, &err)) return fprintf(stderr, "setup: %s\n", err.msg), -1;
    geo = geo_ctx_new(&err);
    return geo ? 0 : -1;
}

int main(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/spp-test-ogc-%d.sqlite", (int)getpid());
    unlink(path);
    int ok = setup(path) == 0;
    CHECK(ok);
    test_exceptions();
    test_language_and_names();
    if (ok) {
        test_wfs_errors();
        test_wfs_getfeature();
        test_wms_info();
    }
    if (geo) geo_ctx_free(geo);
    if (st) store_close(st);
    render_styles_free();
    config_fini(&cfg);
    unlink(path);
    CHECK_DONE();
}
