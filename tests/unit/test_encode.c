/* SPDX-License-Identifier: MIT */
/* test_encode.c: the output writers (src/encode/): number printers (fixed-point and printf's
 * rounding), values typed by their field, GeoJSON / GML 3.2 / GML 3.1.1 / GML 2 / WKT
 * geometries with axis swap, GeoJSON, GML and CSV features written through their sinks, CSV
 * quoting and titles, the GetFeatureInfo records, the land API's code names, and the field list
 * a role sees. Expected bytes are written out in full: an output change must show here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "encode/encode.h"

static struct buf out;

static const char *reset(void)
{
    buf_reset(&out);
    return "";
}

static const char *num(double v, int dec)
{
    reset();
    encode_number(&out, v, dec);
    return out.data ? out.data : "";
}

static const char *exact(double v, int dec)
{
    reset();
    encode_number_exact(&out, v, dec);
    return out.data ? out.data : "";
}

static void test_numbers(void)
{
    CHECK(strcmp(num(105.78, 8), "105.78") == 0);
    CHECK(strcmp(num(-0.5, 3), "-0.5") == 0);
    CHECK(strcmp(num(0.0004, 3), "0") == 0);
    CHECK(strcmp(num(-0.0004, 3), "0") == 0);
    CHECK(strcmp(num(1234567.1239, 3), "1234567.124") == 0);
    CHECK(strcmp(num(12.0, 8), "12") == 0);
    CHECK(strcmp(num(NAN, 3), "null") == 0);
    CHECK(strcmp(num(1e20, 3), "1e+20") == 0);
    CHECK(strcmp(exact(2.675, 2), "2.67") == 0); /* printf's correctly rounded decimal */
    CHECK(strcmp(exact(-0.0001, 3), "0") == 0);  /* "-0" as "0" */
    CHECK(strcmp(exact(10.5, 1), "10.5") == 0);
    CHECK(strcmp(exact(3.0, 6), "3") == 0);
    CHECK(strcmp(exact(INFINITY, 6), "null") == 0);
    reset();
    encode_int(&out, -9007199254740993LL);
    CHECK(strcmp(out.data, "-9007199254740993") == 0);
}

static struct field_def fields[5];
static struct code_def codes[2];
static struct codelist cl = {.id = "lu", .codes = codes, .n_codes = 2};
static struct layer_def layer;

static void make_layer(void)
{
    codes[0] = (struct code_def){.code = "ODT", .name_vi = "Đất ở đô thị", .name_en = "Urban"};
    codes[1] = (struct code_def){.code = "CLN", .name_vi = "Cây lâu năm", .name_en = "Perennial"};
    fields[0] = (struct field_def){.name = "parcel_key", .type = FT_TEXT, .label_vi = "Mã thửa"};
    fields[1] = (struct field_def){.name = "area_m2",
                                   .type = FT_REAL,
                                   .unit = "m2",
                                   .label_vi = "Diện tích",
                                   .label_en = "Area"};
    fields[2] = (struct field_def){.name = "has_certificate", .type = FT_BOOLEAN};
    fields[3] = (struct field_def){.name = "lu", .type = FT_TEXT, .codelist = &cl, .multi = 1};
    fields[4] = (struct field_def){.name = "owner", .type = FT_TEXT, .role = ROLE_PLANNER};
    layer = (struct layer_def){
        .id = "parcels", .title_vi = "Thửa <đất>", .fields = fields, .n_fields = 5, .key = 0};
}

static void test_values(void)
{
    struct value t = {.type = VAL_TEXT, .s = "a\"b<c", .len = 5};
    struct value yes = {.type = VAL_INT, .i = 1}, r = {.type = VAL_REAL, .d = 1.0 / 3};
    struct value nul = {.type = VAL_NULL};
    reset();
    encode_json_value(&out, &fields[2], &yes);
    buf_putc(&out, ' ');
    encode_json_value(&out, NULL, &yes);
    buf_putc(&out, ' ');
    encode_json_value(&out, &fields[1], &r);
    buf_putc(&out, ' ');
    encode_json_value_rounded(&out, &fields[1], &r, 6);
    buf_putc(&out, ' ');
    encode_json_value(&out, &fields[0], &t);
    buf_putc(&out, ' ');
    encode_json_value(&out, &fields[0], &nul);
    CHECKF(strcmp(out.data, "true 1 0.333333333 0.333333 \"a\\\"b<c\" null") == 0, "%s", out.data);
    reset();
    encode_xml_value(&out, &fields[0], &t);
    encode_xml_value(&out, &fields[0], &nul); /* nothing */
    encode_xml_value(&out, &fields[2], &yes);
    CHECKF(strcmp(out.data, "a&quot;b&lt;ctrue") == 0, "%s", out.data);
    reset();
    encode_html_value(&out, &fields[0], &t);
    encode_html_value(&out, &fields[1], &nul);
    CHECK(strstr(out.data, "&lt;") && !strchr(out.data, '<'));
}

static void test_props_and_codes(void)
{
    int idx[] = {0, 3};
    struct value v[] = {{.type = VAL_TEXT, .s = "K1", .len = 2},
                        {.type = VAL_TEXT, .s = "ODT+XYZ", .len = 7}};
    int first = 1;
    reset();
    CHECK(encode_json_props(&out, &layer, idx, v, 2, NULL, &first) == 0);
    CHECKF(strcmp(out.data,
                  "\"parcel_key\":\"K1\",\"lu\":\"ODT+XYZ\",\"lu_codes\":["
                  "{\"code\":\"ODT\",\"name\":{\"vi\":\"Đất ở đô thị\",\"en\":\"Urban\"}},"
                  "{\"code\":\"XYZ\",\"name\":null}]") == 0,
           "%s", out.data);
    CHECK(first == 0);
    reset();
    encode_json_props(&out, &layer, idx, v, 1, NULL, &first); /* not first: leading comma */
    CHECK(strcmp(out.data, ",\"parcel_key\":\"K1\"") == 0);
    reset();
    encode_json_code_name(&out, &cl, "CLN", "TT08_2024"); /* no code of that scheme: any */
    CHECK(strcmp(out.data, "{\"vi\":\"Cây lâu năm\",\"en\":\"Perennial\"}") == 0);
}

/* A polygon with a hole and a second polygon (MultiPolygon), in metres. */
static double ring0[] = {0, 0, 10, 0, 10, 10, 0, 0}, ring1[] = {1, 1, 2, 1, 2, 2, 1, 1},
              ring2[] = {20.25, 0, 30, 0, 30, 5, 20.25, 0};
static struct geom_part parts[] = {{4, 0, ring0}, {4, 1, ring1}, {4, 0, ring2}};
static struct geom mpoly = {.type = GT_MULTIPOLYGON, .n_parts = 3, .n_polys = 2, .parts = parts};
static double pt_xy[] = {105.5, 10.25};
static struct geom_part pt_part = {1, 0, pt_xy};
static struct geom point = {.type = GT_POINT, .n_parts = 1, .parts = &pt_part};

static void test_geojson_geometry(void)
{
    reset();
    encode_geojson_geometry(&out, &mpoly, 3, 0, 0, 0);
    CHECKF(strcmp(out.data, "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[10,0],[10,10],"
                            "[0,0]],[[1,1],[2,1],[2,2],[1,1]]],[[[20.25,0],[30,0],[30,5],"
                            "[20.25,0]]]]}") == 0,
           "%s", out.data);
    reset();
    encode_geojson_geometry(&out, &point, 8, 1, 0, 0); /* lat/lon */
    CHECK(strcmp(out.data, "{\"type\":\"Point\",\"coordinates\":[10.25,105.5]}") == 0);
    reset();
    encode_geojson_geometry(&out, &point, 8, 0, 1, 1); /* GetFeatureInfo: always Multi* */
    CHECK(strcmp(out.data, "{\"type\":\"MultiPoint\",\"coordinates\":[[105.5,10.25]]}") == 0);
    struct geom poly = {.type = GT_POLYGON, .n_parts = 2, .n_polys = 1, .parts = parts};
    reset();
    encode_geojson_geometry(&out, &poly, 3, 0, 1, 0);
    CHECKF(strcmp(out.data, "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[10,0],[10,10],"
                            "[0,0]],[[1,1],[2,1],[2,2],[1,1]]]]}") == 0,
           "%s", out.data);
    struct geom empty = {.type = GT_POLYGON};
    reset();
    encode_geojson_geometry(&out, &empty, 3, 0, 0, 0);
    CHECK(strcmp(out.data, "null") == 0);
}

static void test_gml_and_wkt(void)
{
    struct encode_gml w;
    encode_gml_init(&w, &out, NULL, 5897, 5897, 0);
    w.geom.g = point;
    w.srs_name = "EPSG:5897";
    reset();
    encode_gml_geometry(&out, &w, "parcels.7");
    CHECKF(strcmp(out.data, "<gml:Point gml:id=\"parcels.7.0\" srsName=\"EPSG:5897\"><gml:pos>"
                            "105.5 10.25</gml:pos></gml:Point>") == 0,
           "%s", out.data);
    w.geom.g = mpoly;
    w.v32 = 0; /* GML 3.1.1: MultiPolygon, no gml:id */
    reset();
    encode_gml_geometry(&out, &w, "parcels.7");
    CHECK(strncmp(out.data,
                  "<gml:MultiPolygon srsName=\"EPSG:5897\"><gml:polygonMember>"
                  "<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList "
                  "srsDimension=\"2\">0 0 10 0 10 10 0 0</gml:posList>",
                  strlen("<gml:MultiPolygon srsName=\"EPSG:5897\"><gml:polygonMember>"
                         "<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList "
                         "srsDimension=\"2\">0 0 10 0 10 10 0 0</gml:posList>")) == 0);
    CHECK(strstr(out.data, "<gml:interior>") && !strstr(out.data, "gml:id"));
    CHECK(strstr(out.data, "</gml:polygonMember><gml:polygonMember>"));
    w.v32 = 1;
    reset();
    encode_gml_geometry(&out, &w, "p.1");
    CHECK(strstr(out.data, "<gml:MultiSurface gml:id=\"p.1.0\"") &&
          strstr(out.data, "<gml:Polygon gml:id=\"p.1.2\">"));
    memset(&w.geom.g, 0, sizeof w.geom.g); /* borrowed parts: nothing to free */
    encode_gml_fini(&w);
    reset();
    encode_gml2_geometry(&out, &point, "EPSG:4326", 8);
    CHECKF(strcmp(out.data,
                  "<gml:MultiPoint srsName=\"EPSG:4326\"><gml:pointMember><gml:Point>"
                  "<gml:coordinates decimal=\".\" cs=\",\" ts=\" \">105.5,10.25"
                  "</gml:coordinates></gml:Point></gml:pointMember></gml:MultiPoint>") == 0,
           "%s", out.data);
    reset();
    encode_wkt(&out, &mpoly, 3, 0);
    CHECK(strcmp(out.data, "MULTIPOLYGON(((0 0,10 0,10 10,0 0),(1 1,2 1,2 2,1 1)),"
                           "((20.25 0,30 0,30 5,20.25 0)))") == 0);
    reset();
    encode_wkt(&out, &point, 8, 1);
    CHECK(strcmp(out.data, "POINT(10.25 105.5)") == 0);
}

/* ISO WKB of POINT(x y), little endian. */
static size_t point_wkb(unsigned char *b, double x, double y)
{
    b[0] = 1;
    uint32_t t = 1;
    memcpy(b + 1, &t, 4);
    memcpy(b + 5, &x, 8);
    memcpy(b + 13, &y, 8);
    return 21;
}

static void test_sinks(void)
{
    unsigned char wkb[21];
    size_t n = point_wkb(wkb, 580000.5, 1100000.25);
    int idx[] = {0, 1, 2};
    struct value v[] = {
        {.type = VAL_TEXT, .s = "a,b", .len = 3}, {.type = VAL_REAL, .d = 500}, {.type = VAL_NULL}};
    struct feature f = {&layer, 42, wkb, n, v, idx, 3};
    struct err err;
    err_clear(&err);

    struct encode_geojson gj;
    encode_geojson_init(&gj, &out, NULL, 5897, 5897, 0);
    struct feature_sink s = encode_geojson_sink(&gj);
    reset();
    CHECK(s.feature(s.ud, &f, &err) == 0 && s.feature(s.ud, &f, &err) == 0);
    CHECK(gj.n_written == 2);
    const char *one = "{\"type\":\"Feature\",\"id\":42,\"geometry\":{\"type\":\"Point\","
                      "\"coordinates\":[580000.5,1100000.25]},\"properties\":{\"parcel_key\":"
                      "\"a,b\",\"area_m2\":500,\"has_certificate\":null}}";
    CHECK(strncmp(out.data, one, strlen(one)) == 0 && out.data[strlen(one)] == ',');
    gj.id_with_layer = 1, gj.no_geometry = 1;
    reset();
    encode_geojson_feature(&gj, &f, &err);
    CHECK(strncmp(out.data, ",{\"type\":\"Feature\",\"id\":\"parcels.42\",\"geometry\":null,",
                  52) == 0);
    encode_geojson_fini(&gj);

    struct encode_gml gm;
    encode_gml_init(&gm, &out, NULL, 5897, 5897, 0);
    gm.member = "wfs:member";
    gm.srs_name = "urn:ogc:def:crs:EPSG::5897";
    s = encode_gml_sink(&gm);
    reset();
    CHECK(s.feature(s.ud, &f, &err) == 0);
    CHECKF(strcmp(out.data, "<wfs:member><spp:parcels gml:id=\"parcels.42\"><spp:parcel_key>a,b"
                            "</spp:parcel_key><spp:area_m2>500</spp:area_m2><spp:geom><gml:Point "
                            "gml:id=\"parcels.42.0\" srsName=\"urn:ogc:def:crs:EPSG::5897\">"
                            "<gml:pos>580000.5 1100000.25</gml:pos></gml:Point></spp:geom>"
                            "</spp:parcels></wfs:member>\n") == 0,
           "%s", out.data);
    encode_gml_fini(&gm);

    struct encode_csv cw;
    encode_csv_init(&cw, &out, NULL, 5897, 5897, 0);
    s = encode_csv_sink(&cw);
    reset();
    encode_csv_header(&out, &layer, idx, 3);
    CHECK(s.feature(s.ud, &f, &err) == 0);
    CHECKF(strcmp(out.data, "id,parcel_key,area_m2,has_certificate,geometry\r\n"
                            "parcels.42,\"a,b\",500,,\"POINT(580000.5 1100000.25)\"\r\n") == 0,
           "%s", out.data);
    encode_csv_fini(&cw);

    /* bad WKB is the sink's ERR_PARAM, passed up unchanged */
    struct feature bad = f;
    bad.wkb_len = 5;
    encode_geojson_init(&gj, &out, NULL, 5897, 5897, 0);
    CHECK(encode_geojson_feature(&gj, &bad, &err) == ERR_PARAM);
    encode_geojson_fini(&gj);
}

static void test_csv_cells(void)
{
    reset();
    encode_csv_cell(&out, "say \"hi\", now", ',');
    encode_csv_cell(&out, NULL, ',');
    encode_csv_cell(&out, "x", '\n');
    CHECK(strcmp(out.data, "\"say \"\"hi\"\", now\",,x\r\n") == 0);
    struct value i = {.type = VAL_INT, .i = -7}, r = {.type = VAL_REAL, .d = 2.5e-7};
    reset();
    encode_csv_value(&out, &i, ',');
    encode_csv_value(&out, &r, ',');
    encode_csv_value(&out, NULL, ',');
    encode_csv_number(&out, NAN, 1, '\n');
    CHECK(strcmp(out.data, "-7,0,,\r\n") == 0);
    reset();
    encode_csv_title(&out, &layer, "area_m2", ENCODE_CSV_VI, NULL, ',');
    encode_csv_title(&out, &layer, "area_m2", ENCODE_CSV_EN, NULL, ',');
    encode_csv_title(&out, &layer, "area_m2", ENCODE_CSV_NAMES, NULL, ',');
    encode_csv_title(&out, &layer, "kind", ENCODE_CSV_EN, "Kind", ',');
    encode_csv_title(&out, &layer, "has_certificate", ENCODE_CSV_VI, NULL, '\n');
    CHECKF(strcmp(out.data, "Diện tích (m²),Area (m²),area_m2,Kind,has_certificate\r\n") == 0, "%s",
           out.data);
    reset();
    encode_csv_bom(&out);
    CHECK(out.len == 3 && (unsigned char)out.data[0] == 0xEF);
}

static void test_info(void)
{
    int idx[] = {0, 1, 2};
    struct value v[] = {{.type = VAL_TEXT, .s = "K<1>", .len = 4},
                        {.type = VAL_REAL, .d = 12.3456789},
                        {.type = VAL_INT, .i = 1}};
    struct encode_info w = {.out = &out, .srs = "EPSG:4326", .decimals = 8};
    const char *want[] = {
        "Layer 'parcels'\n  Feature 9:\n    parcel_key = 'K<1>'\n    area_m2 = 12.345679\n"
        "    has_certificate = 1\n",
        "<h2>Thửa &lt;đất&gt;</h2>\n<table border=\"1\"><tr><th>fid</th><td>9</td></tr>\n"
        "<tr><th>Mã thửa</th><td>K&lt;1&gt;</td></tr>\n<tr><th>Diện tích</th><td>12.345679"
        "</td></tr>\n<tr><th>has_certificate</th><td>1</td></tr>\n</table>\n",
        "{\"type\":\"Feature\",\"id\":\"parcels.9\",\"layer\":\"parcels\",\"properties\":{"
        "\"parcel_key\":\"K<1>\",\"area_m2\":12.345679,\"has_certificate\":1},\"geometry\":"
        "{\"type\":\"MultiPoint\",\"coordinates\":[[105.5,10.25]]}}",
        "<parcels_layer><gml:name>parcels</gml:name>\n<parcels_feature fid=\"parcels.9\">"
        "<parcel_key>K&lt;1&gt;</parcel_key><area_m2>12.345679</area_m2><has_certificate>1"
        "</has_certificate><gml:boundedBy/><geometry><gml:MultiPoint srsName=\"EPSG:4326\">"
        "<gml:pointMember><gml:Point><gml:coordinates decimal=\".\" cs=\",\" ts=\" \">"
        "105.5,10.25</gml:coordinates></gml:Point></gml:pointMember></gml:MultiPoint>"
        "</geometry></parcels_feature>\n</parcels_layer>\n"};
    for (int f = ENCODE_INFO_TEXT; f <= ENCODE_INFO_GML; f++) {
        w.fmt = (enum encode_info_fmt)f;
        reset();
        encode_info_layer_begin(&w, &layer, 1);
        encode_info_feature(&w, &layer, 9, idx, v, 3, &point);
        encode_info_layer_end(&w, &layer);
        CHECKF(strcmp(out.data, want[f]) == 0, "format %d: %s", f, out.data);
    }
    w.fmt = ENCODE_INFO_HTML;
    reset();
    encode_info_layer_begin(&w, &layer, 0); /* no title for a layer without hits */
    CHECK(out.len == 0);
    w.fmt = ENCODE_INFO_JSON, w.n_written = 1;
    reset();
    encode_info_feature(&w, &layer, 9, idx, v, 0, NULL);
    CHECK(strcmp(out.data, ",{\"type\":\"Feature\",\"id\":\"parcels.9\",\"layer\":\"parcels\","
                           "\"properties\":{},\"geometry\":null}") == 0);
    CHECK(strcmp(encode_info_type(ENCODE_INFO_GML), "application/vnd.ogc.gml") == 0);
}

static void test_fields(void)
{
    int f[8];
    layer.min_role = ROLE_PUBLIC;
    CHECK(encode_fields(&layer, ROLE_PUBLIC, f, 8) == 4 && f[3] == 3);
    CHECK(encode_fields(&layer, ROLE_PLANNER, f, 8) == 5 && f[4] == 4);
    CHECK(encode_fields(&layer, ROLE_PLANNER, f, 2) == 2); /* room for two */
    layer.min_role = ROLE_PLANNER;
    CHECK(encode_fields(&layer, ROLE_PUBLIC, f, 8) == 0); /* a closed layer shows nothing */
    layer.min_role = ROLE_PUBLIC;
}

static void test_transform(void)
{
    struct err err;
    err_clear(&err);
    struct geo_ctx *geo = geo_ctx_new(&err);
    CHECK(geo != NULL);
    if (!geo) return;
    double a[] = {580000, 1100000, 581000, 1101000, 580000, 1100000};
    double b[6];
    memcpy(b, a, sizeof a);
    struct xy_cache *cache = NULL;
    CHECK(encode_transform(&cache, geo, 5897, GEO_SRID_CRS84, a, 3, &err) == 0);
    CHECK(geo_transform(geo, 5897, GEO_SRID_CRS84, b, 3, &err) == 0);
    CHECK(memcmp(a, b, sizeof a) == 0); /* the cache answers what PROJ answers */
    CHECK(a[0] > 105 && a[0] < 106 && a[1] > 9 && a[1] < 11);
    double c[] = {581000, 1101000}; /* seen: from the cache */
    CHECK(encode_transform(&cache, geo, 5897, GEO_SRID_CRS84, c, 1, &err) == 0);
    CHECK(c[0] == b[2] && c[1] == b[3]);
    encode_cache_free(cache);

    unsigned char wkb[21];
    size_t n = point_wkb(wkb, 580000, 1100000);
    struct encode_geom eg;
    encode_geom_init(&eg, geo, 5897, GEO_SRID_CRS84, 1);
    eg.decimals = 7, eg.exact = 1;
    reset();
    CHECK(encode_geojson_wkb(&out, &eg, wkb, n, &err) == 0);
    CHECK(strncmp(out.data, "{\"type\":\"Point\",\"coordinates\":[105.", 35) == 0);
    reset();
    CHECK(encode_geojson_wkb(&out, &eg, wkb, 3, &err) == 0); /* undecodable: null */
    CHECK(strcmp(out.data, "null") == 0);
    encode_geom_fini(&eg);
    geo_ctx_free(geo);
}

int main(void)
{
    buf_init(&out);
    make_layer();
    test_numbers();
    test_values();
    test_props_and_codes();
    test_geojson_geometry();
    test_gml_and_wkt();
    test_sinks();
    test_csv_cells();
    test_info();
    test_fields();
    test_transform();
    buf_fini(&out);
    CHECK_DONE();
}
