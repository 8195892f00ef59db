/* SPDX-License-Identifier: MIT */
/* test_query.c: the land API's pure parts: diacritic folding of commune names, point parameters
 * (lon/lat, VN-2000 x/y with the Vietnamese X = northing order) and the land-fund search
 * parameters, each error naming its parameter. */
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "query/query.h"

/* A request from "k=v&k=v" (no decoding needed in these cases). */
static struct request *req_from(const char *qs)
{
    static struct request r;
    static struct kv args[32];
    static char buf[1024];
    for (int i = 0; i < r.n_args; i++)
        args[i].key = args[i].value = NULL;
    memset(&r, 0, sizeof r);
    snprintf(buf, sizeof buf, "%s", qs);
    r.args = args;
    for (char *p = buf, *amp; p && *p && r.n_args < 32; p = amp ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        if (amp) *amp = '\0';
        char *eq = strchr(p, '=');
        args[r.n_args].key = p;
        args[r.n_args].value = eq ? (*eq = '\0', eq + 1) : p + strlen(p);
        r.n_args++;
    }
    return &r;
}

static int point_err(const char *qs, const char *locator)
{
    struct query_point p;
    struct err err;
    err_clear(&err);
    int rc = query_parse_point(req_from(qs), 5897, &p, &err);
    return rc == ERR_PARAM && strcmp(err.locator, locator) == 0;
}

static int fund_err(const char *qs, const char *locator)
{
    struct fund_params p;
    struct err err;
    err_clear(&err);
    int rc = query_parse_fund_params(req_from(qs), 10, 100, &p, &err);
    if (rc != ERR_PARAM || strcmp(err.locator, locator) != 0)
        fprintf(stderr, "%s: rc %d locator \"%s\" msg %s\n", qs, rc, err.locator, err.msg);
    return rc == ERR_PARAM && strcmp(err.locator, locator) == 0;
}

static void test_fold(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"Ninh Kiều", "ninh kieu"},
        {"  PHƯỜNG   Ninh Kiều ", "phuong ninh kieu"},
        {"Đường Trần Hưng Đạo", "duong tran hung dao"},
        {"ninh kieu", "ninh kieu"},
        {"Phong Điền", "phong dien"},
        {"Xã Thới Xuân", "xa thoi xuan"},
        {"Cái Răng", "cai rang"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *f = query_fold(cases[i].in);
        CHECK(f && strcmp(f, cases[i].out) == 0);
        free(f);
    }
    /* NFD input (combining marks) folds the same as NFC */
    char *a = query_fold("Kie\xcc\x82\xcc\x80u"), *b = query_fold("Kiều");
    CHECK(a && b && strcmp(a, b) == 0);
    free(a), free(b);
    CHECK(query_fold("\xff\xfe") == NULL); /* invalid UTF-8 */
}

static void test_point(void)
{
    struct query_point p;
    struct err err;
    err_clear(&err);
    CHECK(query_parse_point(req_from("lon=105.788&lat=10.034"), 5897, &p, &err) == 0);
    CHECK(p.has_lonlat && p.lon == 105.788 && p.lat == 10.034);
    CHECK(query_parse_point(req_from("x=586184.889&y=1109719.714"), 5897, &p, &err) == 0);
    CHECK(!p.has_lonlat && p.crs == 5897 && p.x == 586184.889 && p.y == 1109719.714);
    /* Vietnamese order: X = northing, Y = easting */
    CHECK(query_parse_point(req_from("x=1109719.714&y=586184.889&order=xy-vn"), 5897, &p, &err) ==
          0);
    CHECK(p.x == 586184.889 && p.y == 1109719.714);
    CHECK(query_parse_point(req_from("x=1&y=2&crs=EPSG:9209"), 5897, &p, &err) == 0 &&
          p.crs == 9209);
    CHECK(point_err("", "lon"));
    CHECK(point_err("lon=181&lat=10", "lon"));
    CHECK(point_err("lon=105&lat=-91", "lat"));
    CHECK(point_err("lon=105", "lat"));
    CHECK(point_err("lon=nan&lat=10", "lon"));
    CHECK(point_err("lon=1e999&lat=10", "lon"));
    CHECK(point_err("x=1", "y"));
    CHECK(point_err("y=1", "x"));
    CHECK(point_err("x=1&y=2&crs=CRS:84", "crs"));
    CHECK(point_err("x=1&y=2&crs=nonsense", "crs"));
    CHECK(point_err("x=1&y=2&order=vn", "order"));
    CHECK(point_err("lon=1&lat=2&x=1&y=2", "x"));
    CHECK(point_err("lon=1&lat=2&zoom=4", "zoom"));
}

static void test_funds(void)
{
    struct fund_params p;
    struct err err;
    err_clear(&err);
    CHECK(query_parse_fund_params(req_from(""), 10, 100, &p, &err) == 0);
    CHECK(p.kinds == (FUND_VACANT | FUND_INVESTMENT) && p.limit == 10 && p.offset == 0 &&
          p.sort == SORT_ID && p.format == OUT_JSON);
    CHECK(query_parse_fund_params(
              req_from("kind=vacant&commune=ninh kieu&function=HH&min_area=100&max_area=900"
                       "&status=dang_quan_ly&near=105.78,10.03&within_m=500&sort=-distance"
                       "&limit=20&offset=40&f=csv"),
              10, 100, &p, &err) == 0);
    CHECK(p.kinds == FUND_VACANT && strcmp(p.commune, "ninh kieu") == 0 &&
          strcmp(p.function, "HH") == 0 && p.has_min_area && p.min_area == 100 &&
          p.max_area == 900 && p.has_near && p.near_lon == 105.78 && p.within_m == 500 &&
          p.sort == SORT_DIST_DESC && p.limit == 20 && p.offset == 40 && p.format == OUT_CSV);
    CHECK(query_parse_fund_params(req_from("limit=5000&sort=-area_ratio&f=geojson"), 10, 100, &p,
                                  &err) == 0);
    CHECK(p.limit == 100 && p.sort == SORT_FAR_DESC && p.format == OUT_GEOJSON); /* capped */
    CHECK(query_parse_fund_params(req_from("bbox=105.7,10.0,105.8,10.1"), 10, 100, &p, &err) == 0);
    CHECK(p.has_bbox && p.bbox[0] == 105.7 && p.bbox[3] == 10.1);
    CHECK(fund_err("kind=land", "kind"));
    CHECK(fund_err("min_area=-1", "min_area"));
    CHECK(fund_err("max_area=abc", "max_area"));
    CHECK(fund_err("min_area=10&max_area=5", "max_area"));
    CHECK(fund_err("within_m=5", "within_m"));
    CHECK(fund_err("near=1,2&within_m=0", "within_m"));
    CHECK(fund_err("near=1", "near"));
    CHECK(fund_err("near=1,95", "near"));
    CHECK(fund_err("near=,", "near"));
    CHECK(fund_err("bbox=1,2,3", "bbox"));
    CHECK(fund_err("bbox=1,2,3,4,EPSG:5897", "bbox"));
    CHECK(fund_err("bbox=-200,2,3,4", "bbox"));
    CHECK(query_parse_fund_params(req_from("sort=-price_odt"), 10, 100, &p, &err) == 0);
    CHECK(p.sort == SORT_FIELD && strcmp(p.sort_field, "price_odt") == 0 && p.sort_desc);
    CHECK(fund_err("sort=Price", "sort"));
    CHECK(fund_err("sort=-", "sort"));
    CHECK(fund_err("sort=a;drop", "sort"));
    CHECK(fund_err("sort=distance", "sort"));
    CHECK(fund_err("limit=-1", "limit"));
    CHECK(fund_err("limit=1.5", "limit"));
    CHECK(fund_err("offset=-3", "offset"));
    CHECK(fund_err("f=xml", "f"));
    CHECK(fund_err("commune=", "commune"));
    CHECK(fund_err("status=", "status"));
    CHECK(fund_err("colour=red", "colour"));
}

int main(void)
{
    test_fold();
    test_point();
    test_funds();
    CHECK_DONE();
}
