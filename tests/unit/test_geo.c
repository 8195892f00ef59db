/* SPDX-License-Identifier: MIT */
/* test_geo.c: CRS test vectors of DOMAIN.md 1.5 (official EPSG:6960 operation and pure
 * projection), CRS name parsing, axis order, bbox parsing, tile math, WKB round trips and point
 * distances checked against GEOS. */
#include <geos_c.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "geo/geo.h"

static void fwd(struct geo_ctx *g, int src, int dst, double x, double y, double *ox, double *oy)
{
    double xy[2] = {x, y};
    struct err err;
    err_clear(&err);
    CHECK(geo_transform(g, src, dst, xy, 1, &err) == 0);
    *ox = xy[0], *oy = xy[1];
}

static void test_vectors(struct geo_ctx *g)
{
    double e, n, lon, lat;
    /* WGS 84 -> TM-3 with the official operation: within 1 cm */
    fwd(g, 4326, 5897, 105.7880, 10.0340, &e, &n);
    CHECK_NEAR(e, 586184.889, 0.01);
    CHECK_NEAR(n, 1109719.714, 0.01);
    fwd(g, 4326, 9210, 105.7880, 10.0340, &e, &n);
    CHECK_NEAR(e, 503969.849, 0.01);
    CHECK_NEAR(n, 1109616.891, 0.01);
    fwd(g, 4326, 3405, 105.7880, 10.0340, &e, &n);
    CHECK_NEAR(e, 586159.031, 0.01);
    CHECK_NEAR(n, 1109386.765, 0.01);
    fwd(g, 4326, 9210, 106.6980, 10.7725, &e, &n);
    CHECK_NEAR(e, 603481.588, 0.01);
    CHECK_NEAR(n, 1191454.611, 0.01);
    fwd(g, 4326, 5897, 105.8524, 21.0287, &e, &n);
    CHECK_NEAR(e, 588404.719, 0.01);
    CHECK_NEAR(n, 2326366.455, 0.01);
    fwd(g, 4326, 5899, 108.2277, 16.0612, &e, &n);
    CHECK_NEAR(e, 550915.000, 0.01);
    CHECK_NEAR(n, 1776409.713, 0.01);
    /* CRS:84 is the same as EPSG:4326 in x=lon order */
    fwd(g, GEO_SRID_CRS84, 5897, 105.7880, 10.0340, &e, &n);
    CHECK_NEAR(e, 586184.889, 0.01);
    /* and back */
    fwd(g, 5897, 4326, 586184.889, 1109719.714, &lon, &lat);
    CHECK_NEAR(lon, 105.7880, 1e-7);
    CHECK_NEAR(lat, 10.0340, 1e-7);
    /* WGS84 -> VN-2000 geographic with 6960 (DOMAIN 1.5): lat 10.035013890, lon 105.786215745 */
    fwd(g, 4326, 4756, 105.7880, 10.0340, &lon, &lat);
    CHECK_NEAR(lon, 105.786215745, 1e-8);
    CHECK_NEAR(lat, 10.035013890, 1e-8);
    /* pure projection: VN-2000 geographic -> TM-3 (no datum change): 1 mm */
    fwd(g, 4756, 5897, 105.7880, 10.0340, &e, &n);
    CHECK_NEAR(e, 586380.759, 0.001);
    CHECK_NEAR(n, 1109608.040, 0.001);
    fwd(g, 4756, 9210, 105.7880, 10.0340, &e, &n);
    CHECK_NEAR(e, 504165.446, 0.001);
    CHECK_NEAR(n, 1109504.780, 0.001);
    /* between two VN-2000 zones the datum shift cancels: same as pure projection */
    fwd(g, 5897, 9210, 586380.759, 1109608.040, &e, &n);
    CHECK_NEAR(e, 504165.446, 0.002);
    CHECK_NEAR(n, 1109504.780, 0.002);
    /* web mercator */
    fwd(g, 4326, 3857, 0, 0, &e, &n);
    CHECK_NEAR(e, 0, 1e-6);
    CHECK_NEAR(n, 0, 1e-6);
}

static void test_crs_names(struct geo_ctx *g)
{
    int srid = 0;
    CHECK(geo_crs_parse("EPSG:5897", &srid) == 0 && srid == 5897);
    CHECK(geo_crs_parse("urn:ogc:def:crs:EPSG::4326", &srid) == 0 && srid == 4326);
    CHECK(geo_crs_parse("http://www.opengis.net/def/crs/EPSG/0/3857", &srid) == 0 && srid == 3857);
    CHECK(geo_crs_parse("http://www.opengis.net/def/crs/OGC/1.3/CRS84", &srid) == 0 &&
          srid == GEO_SRID_CRS84);
    CHECK(geo_crs_parse("CRS:84", &srid) == 0 && srid == GEO_SRID_CRS84);
    CHECK(geo_crs_parse("EPSG:", &srid) != 0);
    CHECK(geo_crs_parse("EPSG:12x", &srid) != 0);
    CHECK(geo_crs_parse("EPSG:-5", &srid) != 0);
    CHECK(geo_crs_parse("foo", &srid) != 0);
    CHECK(geo_crs_latlon(g, 4326) == 1);
    CHECK(geo_crs_latlon(g, GEO_SRID_CRS84) == 0);
    CHECK(geo_crs_latlon(g, 5897) == 0);
    CHECK(geo_crs_latlon(g, 3857) == 0);
    CHECK(geo_crs_latlon(g, 4756) == 1);
    CHECK(geo_crs_geographic(g, 4326) == 1 && geo_crs_geographic(g, 5897) == 0);
    CHECK(geo_crs_known(g, 5897) == 1);
    CHECK(geo_crs_known(g, 999999) == 0);
    double xy[2] = {1, 2};
    struct err err;
    err_clear(&err);
    CHECK(geo_transform(g, 999999, 4326, xy, 1, &err) == ERR_PARAM);
    int list[32];
    int n = geo_advertised_crs(5897, list, 32);
    int has9209 = 0, has5897 = 0, has84 = 0;
    for (int i = 0; i < n; i++) {
        has9209 |= list[i] == 9209;
        has5897 |= list[i] == 5897;
        has84 |= list[i] == GEO_SRID_CRS84;
    }
    CHECK(has9209 && has5897 && has84 && list[0] == 5897);
}

static void test_bbox_tiles(void)
{
    struct bbox b;
    struct err err;
    const char *crs;
    char s1[] = "1,2,3,4";
    err_clear(&err);
    CHECK(bbox_parse(s1, &b, &crs, &err) == 0 && b.minx == 1 && b.maxy == 4 && crs == NULL);
    char s2[] = "1,2,3,4,EPSG:4326";
    CHECK(bbox_parse(s2, &b, &crs, &err) == 0 && crs && strcmp(crs, "EPSG:4326") == 0);
    char s3[] = "1,2,3";
    err_clear(&err);
    CHECK(bbox_parse(s3, &b, &crs, &err) == ERR_PARAM);
    char s4[] = "3,2,1,4";
    err_clear(&err);
    CHECK(bbox_parse(s4, &b, &crs, &err) == ERR_PARAM);
    char s5[] = "a,2,3,4";
    err_clear(&err);
    CHECK(bbox_parse(s5, &b, &crs, &err) == ERR_PARAM);
    char s6[] = "1,2,3,nan";
    err_clear(&err);
    CHECK(bbox_parse(s6, &b, &crs, &err) == ERR_PARAM);
    tile_bbox(0, 0, 0, &b);
    CHECK_NEAR(b.minx, -WEBMERC_HALF, 1e-6);
    CHECK_NEAR(b.maxy, WEBMERC_HALF, 1e-6);
    tile_bbox(1, 1, 0, &b);
    CHECK_NEAR(b.minx, 0, 1e-6);
    CHECK_NEAR(b.miny, 0, 1e-6);
    CHECK(tile_valid(3, 7, 7) && !tile_valid(3, 8, 0) && !tile_valid(25, 0, 0) &&
          !tile_valid(1, -1, 0));
    int x0, y0, x1, y1;
    tile_bbox(15, 25000, 15000, &b);
    tile_range(15, &b, &x0, &y0, &x1, &y1);
    CHECK(x0 <= 25000 && x1 >= 25000 && y0 <= 15000 && y1 >= 15000 && x1 - x0 <= 2);
}

static void test_wkb(void)
{
    /* MULTIPOLYGON(((0 0,10 0,10 10,0 0),(1 1,2 1,2 2,1 1)),((20 20,30 20,30 30,20 20))) */
    struct geom g;
    geom_init(&g);
    struct buf b;
    buf_init(&b);
    double r1[] = {0, 0, 10, 0, 10, 10, 0, 0}, r2[] = {1, 1, 2, 1, 2, 2, 1, 1},
           r3[] = {20, 20, 30, 20, 30, 30, 20, 20};
    unsigned char hdr[9] = {1, 6, 0, 0, 0, 2, 0, 0, 0};
    buf_append(&b, hdr, 9);
    unsigned char poly2[9] = {1, 3, 0, 0, 0, 2, 0, 0, 0}, poly1[9] = {1, 3, 0, 0, 0, 1, 0, 0, 0};
    unsigned char four[4] = {4, 0, 0, 0};
    buf_append(&b, poly2, 9);
    buf_append(&b, four, 4), buf_append(&b, r1, sizeof r1);
    buf_append(&b, four, 4), buf_append(&b, r2, sizeof r2);
    buf_append(&b, poly1, 9);
    buf_append(&b, four, 4), buf_append(&b, r3, sizeof r3);
    struct err err;
    err_clear(&err);
    CHECK(geom_from_wkb(&g, (unsigned char *)b.data, b.len, &err) == 0);
    CHECK(g.type == 6 && g.n_parts == 3 && g.n_polys == 2 && g.parts[1].ring == 1 &&
          g.parts[2].ring == 0);
    CHECK(g.parts[2].xy[2] == 30);
    struct buf out;
    buf_init(&out);
    CHECK(geom_to_wkb(&g, &out) == 0 && out.len == b.len && memcmp(out.data, b.data, b.len) == 0);
    /* truncated input is refused, not read past its end */
    for (size_t cut = 0; cut < b.len; cut += 7) {
        err_clear(&err);
        CHECK(geom_from_wkb(&g, (unsigned char *)b.data, cut, &err) == ERR_PARAM);
    }
    /* absurd counts are refused */
    unsigned char bad[] = {1, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f};
    err_clear(&err);
    CHECK(geom_from_wkb(&g, bad, sizeof bad, &err) == ERR_PARAM);
    buf_fini(&out);
    buf_fini(&b);
    geom_fini(&g);
}

/* geom_point_distance against GEOSDistance on random polygons with holes, multipolygons, lines
 * and points, at random points inside, outside and on vertices. */
static void test_point_distance(void)
{
    GEOSContextHandle_t h = GEOS_init_r();
    GEOSWKBReader *rd = GEOSWKBReader_create_r(h);
    GEOSWKTReader *wr = GEOSWKTReader_create_r(h);
    GEOSWKBWriter *ww = GEOSWKBWriter_create_r(h);
    struct geom g;
    geom_init(&g);
    srand(11);
    int worst = 0, n = 0;
    for (int t = 0; t < 400; t++) {
        char wkt[2048];
        double cx = rand() % 100, cy = rand() % 100, r = 3 + rand() % 20;
        int kind = t % 4, len = 0, m = 3 + rand() % 9;
        /* a star-shaped ring around (cx, cy): simple, and concave for m > 4 */
        char ring[900], hole[400];
        int rl = 0, hl = 0;
        for (int i = 0; i <= m; i++) {
            double a = 2 * M_PI * (i % m) / m, rr = r * ((i % m) % 2 ? 0.6 : 1);
            rl += snprintf(ring + rl, sizeof ring - (size_t)rl, "%s%.3f %.3f", i ? "," : "",
                           cx + rr * cos(a), cy + rr * sin(a));
            hl += snprintf(hole + hl, sizeof hole - (size_t)hl, "%s%.3f %.3f", i ? "," : "",
                           cx + 0.2 * r * cos(-a), cy + 0.2 * r * sin(-a));
        }
        if (kind == 0)
            len = snprintf(wkt, sizeof wkt, "POLYGON((%s),(%s))", ring, hole);
        else if (kind == 1)
            len = snprintf(wkt, sizeof wkt,
                           "MULTIPOLYGON(((%s)),((%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f)))", ring,
                           cx + 40, cy, cx + 50, cy, cx + 50, cy + 9, cx + 40, cy);
        else if (kind == 2)
            len = snprintf(wkt, sizeof wkt, "MULTILINESTRING((%s))", ring);
        else
            len = snprintf(wkt, sizeof wkt, "MULTIPOINT(%.1f %.1f,%.1f %.1f)", cx, cy, cx + r, cy);
        CHECK(len > 0 && len < (int)sizeof wkt);
        GEOSGeometry *geo = GEOSWKTReader_read_r(h, wr, wkt);
        size_t wl = 0;
        unsigned char *wkb = geo ? GEOSWKBWriter_write_r(h, ww, geo, &wl) : NULL;
        struct err err;
        err_clear(&err);
        CHECKF(wkb && geom_from_wkb(&g, wkb, wl, &err) == 0, "%s: %s", wkt, err.msg);
        for (int k = 0; k < 12 && wkb; k++) {
            /* around the geometry, at its centre (inside a hole for kind 0), on a vertex */
            double px = k == 0 ? cx : k == 1 ? g.parts[0].xy[0] : cx + (rand() % 800 - 400) / 10.0;
            double py = k == 0 ? cy : k == 1 ? g.parts[0].xy[1] : cy + (rand() % 800 - 400) / 10.0;
            GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, px, py);
            double want = -1, got = geom_point_distance(&g, px, py);
            GEOSDistance_r(h, geo, pt, &want);
            n++;
            if (fabs(got - want) > 1e-9 * (1 + want)) {
                if (!worst++)
                    fprintf(stderr, "%s at %.3f %.3f: %.12g, GEOS %.12g\n", wkt, px, py, got, want);
            }
            GEOSGeom_destroy_r(h, pt);
        }
        GEOSFree_r(h, wkb);
        if (geo) GEOSGeom_destroy_r(h, geo);
    }
    CHECKF(worst == 0, "%d of %d distances differ from GEOS", worst, n);
    geom_fini(&g);
    GEOSWKBWriter_destroy_r(h, ww);
    GEOSWKTReader_destroy_r(h, wr);
    GEOSWKBReader_destroy_r(h, rd);
    GEOS_finish_r(h);
}

int main(void)
{
    struct err err;
    err_clear(&err);
    struct geo_ctx *g = geo_ctx_new(&err);
    CHECK(g != NULL);
    if (!g) CHECK_DONE();
    test_vectors(g);
    test_crs_names(g);
    test_bbox_tiles();
    test_wkb();
    test_point_distance();
    geo_ctx_free(g);
    CHECK_DONE();
}
