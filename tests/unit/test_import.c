/* SPDX-License-Identifier: MIT */
/* test_import.c: the importer's pure parts: Vietnamese number and date formats, booleans, codes
 * through the land-use list (code, name without diacritics, TT27 crosswalk, multi-purpose,
 * unknown), geometry repair (bowtie, hole touching the shell, unclosed ring, zero-area ring,
 * promotion to multi, reprojection) and CRS decisions on declarations and coordinate ranges. */
#define GEOS_USE_ONLY_R_API
#include <geos_c.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "import/import_int.h"
#include "import/source_int.h"

static void test_numbers(void)
{
    double d;
    CHECK(attr_parse_number("1.234,5", &d) == 0 && d == 1234.5);
    CHECK(attr_parse_number("1,234.5", &d) == 0 && d == 1234.5);
    CHECK(attr_parse_number("3.059,7", &d) == 0 && fabs(d - 3059.7) < 1e-9);
    CHECK(attr_parse_number("1234,5", &d) == 0 && d == 1234.5);
    CHECK(attr_parse_number("1.234.567", &d) == 0 && d == 1234567);
    CHECK(attr_parse_number(" 42 ", &d) == 0 && d == 42);
    CHECK(attr_parse_number("-3.5", &d) == 0 && d == -3.5);
    CHECK(attr_parse_number("abc", &d) != 0);
    CHECK(attr_parse_number("", &d) != 0);
    /* one value alone: its last separator is the decimal mark */
    CHECK(attr_parse_number("2.099", &d) == 0 && d == 2.099);
    CHECK(attr_number_evidence("1.234,5") == NUMEV_COMMA);
    CHECK(attr_number_evidence("1,5") == NUMEV_COMMA);
    CHECK(attr_number_evidence("1.234.567") == NUMEV_COMMA);
    CHECK(attr_number_evidence("12.25") == NUMEV_DOT);
    CHECK(attr_number_evidence("1,234,567") == NUMEV_DOT);
    CHECK(attr_number_evidence("2.099") == NUMEV_AMBIG);
    CHECK(attr_number_evidence("2,099") == NUMEV_AMBIG);
    CHECK(attr_number_evidence("0.125") == NUMEV_DOT);
    CHECK(attr_number_evidence("42") == NUMEV_NONE);
    CHECK(attr_number_evidence("ODT") == NUMEV_NONE);
    /* the column's decimal mark: "2.099" beside "1.234,5" is 2099 */
    CHECK(attr_parse_number_dec("2.099", ',', &d) == 0 && d == 2099);
    CHECK(attr_parse_number_dec("2.099", '.', &d) == 0 && d == 2.099);
    CHECK(attr_parse_number_dec("2,099", '.', &d) == 0 && d == 2099);
    CHECK(attr_parse_number_dec("1.234,5", ',', &d) == 0 && d == 1234.5);
    CHECK(attr_parse_number_dec("75", ',', &d) == 0 && d == 75);
    CHECK(attr_parse_number_dec("12.25", ',', &d) == 1 && d == 12.25); /* contrary: reported */
    CHECK(attr_parse_number_dec("x", ',', &d) == ERR_PARAM);
    /* spaces group thousands only in threes: "10 02 15.3" is an angle, not 100215.3 */
    CHECK(attr_parse_number("1 234 567", &d) == 0 && d == 1234567);
    CHECK(attr_parse_number("1 234,5", &d) == 0 && d == 1234.5);
    CHECK(attr_parse_number("1'234.5", &d) == 0 && d == 1234.5);
    CHECK(attr_parse_number("10 02 15.3", &d) == ERR_PARAM);
    CHECK(attr_parse_number("105 45 30", &d) == ERR_PARAM);
    CHECK(attr_parse_number("10 02", &d) == ERR_PARAM);
    CHECK(attr_parse_number_dec("1 109 012,5", ',', &d) == 0 && d == 1109012.5);
    CHECK(attr_parse_number_dec("10 02 15,3", ',', &d) == ERR_PARAM);
    /* angles as survey sheets write coordinates */
    const double lat = 10 + 2 / 60.0 + 15.3 / 3600.0, lon = 105 + 46 / 60.0 + 20.1 / 3600.0;
    const struct {
        const char *s;
        double want;
    } dms[] = {{"10°02'15.3\"N", lat},      {"105°46'20.1\"E", lon},
               {"105° 46′ 20,1″ E", lon},   {"N 10°02'15.3\"", lat},
               {"10d02m15.3s", lat},        {"10 02 15.3", lat},
               {"10 02 15.3 S", -lat},      {"10°02'15.3''N", lat},
               {"10º02’15.3”N", lat},       {"10°02.255'", 10 + 2.255 / 60.0},
               {"  105°46'20.1\"W ", -lon}, {"10°", 10},
               {"10°02'15.3\"S", -lat}};
    for (size_t i = 0; i < sizeof dms / sizeof *dms; i++) {
        d = -1;
        CHECKF(attr_parse_dms(dms[i].s, &d) == 0 && fabs(d - dms[i].want) < 1e-9, "%s -> %.9f",
               dms[i].s, d);
    }
    const char *not_dms[] = {"10.5",          "586034,5",   "",    "abc",
                             "10°75'",        "10°02'61\"", "ODT", "10 02 15 33",
                             "10°02'15.3\"X", "1.234.567",  NULL};
    for (int i = 0; not_dms[i]; i++)
        CHECKF(attr_parse_dms(not_dms[i], &d) == ERR_PARAM, "%s", not_dms[i]);
    char why[320];
    struct numcol c;
    memset(&c, 0, sizeof c);
    const char *comma_col[] = {"1.234,5", "2.099", "88,25", "17", NULL};
    for (int i = 0; comma_col[i]; i++)
        numcol_add(&c, comma_col[i]);
    CHECK(numcol_decide(&c, 0, 0, why, sizeof why) == 0 && c.dec == ',');
    memset(&c, 0, sizeof c);
    const char *dot_col[] = {"1,234.5", "2,099", "12.5", NULL};
    for (int i = 0; dot_col[i]; i++)
        numcol_add(&c, dot_col[i]);
    CHECK(numcol_decide(&c, 0, 0, why, sizeof why) == 0 && c.dec == '.');
    /* only 2.099-like values: ambiguous for decimals (reported), thousands for whole numbers */
    memset(&c, 0, sizeof c);
    numcol_add(&c, "2.099"), numcol_add(&c, "1.500"), numcol_add(&c, "12");
    CHECK(numcol_decide(&c, 0, 0, why, sizeof why) == 1 && c.ambiguous && c.dec == 0);
    CHECK(numcol_decide(&c, 1, 0, why, sizeof why) == 0 && c.dec == ',');
    /* ... unless the source's other number columns show the mark */
    CHECK(numcol_decide(&c, 0, '.', why, sizeof why) == 0 && !c.ambiguous && c.dec == '.');
    CHECK(numcol_decide(&c, 0, ',', why, sizeof why) == 0 && c.dec == ',');
    /* both marks in one column: the majority, reported */
    memset(&c, 0, sizeof c);
    numcol_add(&c, "1,5"), numcol_add(&c, "2,25"), numcol_add(&c, "3.75");
    CHECK(numcol_decide(&c, 0, 0, why, sizeof why) == 1 && c.mixed && c.dec == ',');
    char iso[11];
    CHECK(attr_parse_date("28/02/2022", iso) == 0 && strcmp(iso, "2022-02-28") == 0);
    CHECK(attr_parse_date("2022/02/28", iso) == 0 && strcmp(iso, "2022-02-28") == 0);
    CHECK(attr_parse_date("2024-02-29T10:00:00", iso) == 0 && strcmp(iso, "2024-02-29") == 0);
    CHECK(attr_parse_date("29/02/2023", iso) != 0);
    CHECK(attr_parse_date("31/04/2022", iso) != 0);
    CHECK(attr_parse_date("yesterday", iso) != 0);
    int b;
    CHECK(attr_parse_bool("Có", &b) == 0 && b == 1);
    CHECK(attr_parse_bool("không", &b) == 0 && b == 0);
    CHECK(attr_parse_bool("maybe", &b) != 0);
}

static int code_is(const struct field_def *fd, const char *in, const char *want,
                   const char *want_unknown)
{
    struct buf out;
    buf_init(&out);
    char how[64], unk[128];
    int rc = attr_code(fd, in, &out, how, sizeof how, unk, sizeof unk);
    int ok = strcmp(out.data ? out.data : "", want) == 0 && strcmp(unk, want_unknown) == 0 &&
             rc == (want_unknown[0] != 0);
    if (!ok)
        fprintf(stderr, "  %s -> %s (unknown %s), want %s (%s)\n", in, out.data ? out.data : "",
                unk, want, want_unknown);
    buf_fini(&out);
    return ok;
}

static void test_codes(const struct catalog *cat)
{
    const struct layer_def *p = catalog_layer(cat, "cadastral_parcels");
    const struct field_def *lu = &p->fields[layer_field_index(p, "lu_display")];
    CHECK(lu->codelist && lu->multi);
    CHECK(code_is(lu, "ODT", "ODT", ""));
    CHECK(code_is(lu, "odt+cln", "ODT+CLN", ""));
    CHECK(code_is(lu, "BHK", "HNK", "")); /* TT27 -> TT08 crosswalk */
    CHECK(code_is(lu, "LUN", "LUK", ""));
    /* an unknown code is kept as the source wrote it (trimmed), never dropped or half-mapped */
    CHECK(code_is(lu, " ODT + QXZ ", "ODT + QXZ", "QXZ"));
    CHECK(code_is(lu, "TM", "TM", "TM"));
    /* the whole value first: an official name with commas is one code, not several */
    CHECK(code_is(lu, "Đất thương mại, dịch vụ", "TMD", ""));
    CHECK(code_is(lu, "Dat song, ngoi, kenh, rach, suoi", "SON", ""));
    CHECK(code_is(lu, "Đất làm nghĩa trang, nghĩa địa, nhà tang lễ, nhà hỏa táng", "NTD", ""));
    /* then the separators, a name with commas still whole inside a list */
    CHECK(code_is(lu, "Đất ở tại đô thị, Đất thương mại, dịch vụ", "ODT+TMD", ""));
    CHECK(code_is(lu, "Đất thương mại, dịch vụ + CLN", "TMD+CLN", ""));
    CHECK(code_is(lu, "ODT;CLN", "ODT+CLN", ""));
    CHECK(code_is(lu, "ODT/CLN", "ODT+CLN", ""));
    CHECK(code_is(lu, "ODT, CLN", "ODT+CLN", ""));
    CHECK(
        code_is(lu, "ODT, Đất thương mại, xyz", "ODT, Đất thương mại, xyz", "Đất thương mại+xyz"));
    /* an unknown value longer than the report's buffer: stored whole, reported cut at a letter */
    {
        const char *lng =
            "Đất ở, đất vườn, ao trong cùng thửa đất thuộc khu dân cư hiện hữu đã được "
            "công nhận trước năm một nghìn chín trăm chín mươi ba";
        struct buf out;
        buf_init(&out);
        char how[64], unk[128];
        CHECK(strlen(lng) > sizeof unk);
        CHECK(attr_code(lu, lng, &out, how, sizeof how, unk, sizeof unk) == 1);
        CHECK(out.data && strcmp(out.data, lng) == 0);
        CHECK(strlen(unk) > 100 && text_utf8_valid(unk, strlen(unk)));
        buf_fini(&out);
        char cut[] = "ab\xe1\xba";
        text_utf8_clip(cut);
        CHECK(strcmp(cut, "ab") == 0);
        char whole[] = "d\xe1\xba\xa5t";
        text_utf8_clip(whole);
        CHECK(strcmp(whole, "d\xe1\xba\xa5t") == 0);
    }
    /* a value that is not a land-use code at all */
    const struct layer_def *rd = catalog_layer(cat, "roads");
    const struct field_def *rc = &rd->fields[layer_field_index(rd, "road_class")];
    CHECK(code_is(rc, "primary", "primary", "primary"));
    CHECK(code_is(rc, "  Quốc lộ ", "quoc_lo", ""));
    CHECK(code_is(rc, "Cao toc", "cao_toc", ""));
    /* code-list aliases (layers/codelists): "QL 91" is not one, "QL" is */
    CHECK(code_is(rc, "QL", "quoc_lo", ""));
    CHECK(code_is(rc, "Kiệt", "hem", ""));
    CHECK(code_is(rc, "QL 91", "QL 91", "QL 91"));
    /* a Vietnamese name, with or without diacritics */
    const struct layer_def *cur = catalog_layer(cat, "land_use_current");
    const struct field_def *lc = &cur->fields[layer_field_index(cur, "lu_code")];
    CHECK(code_is(lc, "Đất ở tại đô thị", "ODT", ""));
    CHECK(code_is(lc, "Dat o tai do thi", "ODT", ""));
    CHECK(code_is(lc, "Đất bằng trồng cây hàng năm khác", "HNK", ""));
}

static int run_fix(struct geomfix *gf, const char *wkt, int src, enum geom_type want,
                   double *measure, char *fixed, char *why, GEOSGeometry **out)
{
    OGRGeometryH g = NULL;
    char *w = (char *)wkt;
    OGR_G_CreateFromWkt(&w, NULL, &g);
    size_t len = (size_t)OGR_G_WkbSize(g);
    unsigned char *wkb = malloc(len);
    OGR_G_ExportToIsoWkb(g, wkbNDR, wkb);
    OGR_G_DestroyGeometry(g);
    struct buf o;
    buf_init(&o);
    struct bbox box;
    int rc = geomfix_run(gf, wkb, len, 0, src, 5897, want, &o, measure, &box, fixed, 160, why, 256);
    free(wkb);
    if (out && rc == 0) {
        GEOSContextHandle_t h = GEOS_init_r();
        GEOSWKBReader *r = GEOSWKBReader_create_r(h);
        *out = GEOSWKBReader_read_r(h, r, (unsigned char *)o.data, o.len);
        GEOSWKBReader_destroy_r(h, r);
        if (*out) {
            CHECK(GEOSisValid_r(h, *out) == 1);
            CHECK(GEOSGeomTypeId_r(h, *out) ==
                  (want == GT_MULTIPOLYGON ? GEOS_MULTIPOLYGON : GEOSGeomTypeId_r(h, *out)));
            GEOSGeom_destroy_r(h, *out);
        }
        GEOS_finish_r(h);
    }
    buf_fini(&o);
    return rc;
}

static void test_geometry(void)
{
    struct err err;
    err_clear(&err);
    struct geo_ctx *geo = geo_ctx_new(&err);
    struct geomfix *gf = geomfix_new(geo);
    double a;
    char fixed[160], why[256];
    GEOSGeometry *g;
    /* repeated consecutive vertices: removed and counted, the ring is valid without a repair */
    int64_t d0 = geomfix_dups_removed(gf);
    CHECK(run_fix(gf, "POLYGON((0 0,10 0,10 0,10 10,10 10,10 10,0 10,0 0))", 5897, GT_MULTIPOLYGON,
                  &a, fixed, why, &g) == 0);
    CHECK(geomfix_dups_removed(gf) - d0 == 3 && fixed[0] == 0 && fabs(a - 100) < 1e-9);
    d0 = geomfix_dups_removed(gf);
    CHECK(run_fix(gf, "LINESTRING(0 0,5 5,5 5,9 9)", 5897, GT_MULTILINESTRING, &a, fixed, why,
                  NULL) == 0);
    CHECK(geomfix_dups_removed(gf) - d0 == 1);
    d0 = geomfix_dups_removed(gf);
    CHECK(run_fix(gf, "POINT(3 3)", 5897, GT_POINT, &a, fixed, why, NULL) == 0);
    CHECK(geomfix_dups_removed(gf) == d0);
    /* a valid square: kept as is, promoted to MULTIPOLYGON, area derived */
    CHECK(run_fix(gf, "POLYGON((0 0,10 0,10 10,0 10,0 0))", 5897, GT_MULTIPOLYGON, &a, fixed, why,
                  &g) == 0);
    CHECK(fabs(a - 100) < 1e-9 && fixed[0] == 0);
    /* bowtie: both lobes kept (STRUCTURE), not one lost as buffer(0) would */
    CHECK(run_fix(gf, "POLYGON((0 0,10 10,10 0,0 10,0 0))", 5897, GT_MULTIPOLYGON, &a, fixed, why,
                  &g) == 0);
    CHECK(fabs(a - 50) < 1e-9 && strstr(fixed, "made valid"));
    /* a hole touching the shell along an edge keeps its hole */
    CHECK(run_fix(gf, "POLYGON((0 0,10 0,10 10,0 10,0 0),(0 2,4 2,4 6,0 6,0 2))", 5897,
                  GT_MULTIPOLYGON, &a, fixed, why, &g) == 0);
    CHECK(fabs(a - 84) < 1e-9);
    /* an unclosed ring is closed first */
    CHECK(run_fix(gf, "LINESTRING(0 0,10 0,10 10,0 10)", 5897, GT_MULTIPOLYGON, &a, fixed, why,
                  &g) == 0);
    CHECK(fabs(a - 100) < 1e-9 && strstr(fixed, "polygon"));
    /* zero area: rejected with a reason */
    CHECK(run_fix(gf, "POLYGON((0 0,10 0,20 0,0 0))", 5897, GT_MULTIPOLYGON, &a, fixed, why,
                  NULL) == 1);
    CHECK(strstr(why, "degenerate") != NULL);
    /* wrong kind of geometry */
    CHECK(run_fix(gf, "POINT(1 2)", 5897, GT_MULTIPOLYGON, &a, fixed, why, NULL) == 1);
    /* reprojection: DOMAIN.md 1.5 Ninh Kieu, WGS 84 -> EPSG:5897 with EPSG:6960, 1 cm */
    OGRGeometryH pt = NULL;
    char *w = (char *)"POINT(105.788 10.034)";
    OGR_G_CreateFromWkt(&w, NULL, &pt);
    unsigned char wkb[21];
    OGR_G_ExportToIsoWkb(pt, wkbNDR, wkb);
    OGR_G_DestroyGeometry(pt);
    struct buf o;
    buf_init(&o);
    struct bbox box;
    CHECK(geomfix_run(gf, wkb, 21, 0, 4326, 5897, GT_POINT, &o, &a, &box, fixed, sizeof fixed, why,
                      sizeof why) == 0);
    CHECK_NEAR(box.minx, 586184.889, 0.01);
    CHECK_NEAR(box.miny, 1109719.714, 0.01);
    /* survey order X = northing, Y = easting */
    OGR_G_CreateFromWkt((w = (char *)"POINT(1109719.714 586184.889)", &w), NULL, &pt);
    OGR_G_ExportToIsoWkb(pt, wkbNDR, wkb);
    OGR_G_DestroyGeometry(pt);
    CHECK(geomfix_run(gf, wkb, 21, 1, 5897, 5897, GT_POINT, &o, &a, &box, fixed, sizeof fixed, why,
                      sizeof why) == 0);
    CHECK(box.minx == 586184.889 && box.miny == 1109719.714);
    buf_fini(&o);
    /* the C fast path for simple rings agrees with GEOS: random rings (most of them crossing
     * themselves), rings with touching vertices, spikes and collinear runs; a ring GEOS finds
     * valid is kept with GEOS's area, one it finds invalid is repaired or refused */
    GEOSContextHandle_t h = GEOS_init_r();
    GEOSWKTReader *rd = GEOSWKTReader_create_r(h);
    srand(5);
    int disagree = 0, valid = 0, total = 0;
    for (int t = 0; t < 3000; t++) {
        int n = 3 + rand() % 9, grid = t % 3 == 0 ? 4 : 1000; /* a coarse grid makes touches */
        double px[16], py[16];
        for (int i = 0; i < n; i++)
            px[i] = 586000 + (rand() % grid) * (10.0 / grid),
            py[i] = 1109000 + (rand() % grid) * (10.0 / grid);
        if (t % 7 == 0 && n > 3) px[2] = px[1], py[2] = py[1] + 5; /* a spike or a run */
        if (t % 11 == 0) {                                         /* a convex ring, always valid */
            for (int i = 0; i < n; i++)
                px[i] = 586000 + 10 * cos(2 * M_PI * i / n),
                py[i] = 1109000 + 10 * sin(2 * M_PI * i / n);
        }
        char wkt[1024];
        int l = snprintf(wkt, sizeof wkt, "POLYGON((");
        for (int i = 0; i <= n; i++)
            l += snprintf(wkt + l, sizeof wkt - (size_t)l, "%s%.6f %.6f", i ? "," : "", px[i % n],
                          py[i % n]);
        snprintf(wkt + l, sizeof wkt - (size_t)l, "))");
        GEOSGeometry *ref = GEOSWKTReader_read_r(h, rd, wkt);
        if (!ref) continue;
        int ok = GEOSisValid_r(h, ref) == 1;
        double want = 0;
        GEOSArea_r(h, ref, &want);
        GEOSGeom_destroy_r(h, ref);
        double got = 0;
        int rc = run_fix(gf, wkt, 5897, GT_MULTIPOLYGON, &got, fixed, why, NULL);
        total++, valid += ok;
        if (ok ? rc != 0 || fixed[0] || fabs(got - want) > 1e-6 * want
               : rc == 0 && !strstr(fixed, "made valid")) {
            if (!disagree++)
                fprintf(stderr, "%s: GEOS %s, ours rc %d '%s' %.9g vs %.9g\n", wkt,
                        ok ? "valid" : "invalid", rc, fixed, got, want);
        }
    }
    CHECKF(disagree == 0 && valid > 300 && total - valid > 300,
           "%d of %d rings disagree with GEOS (%d valid)", disagree, total, valid);
    GEOSWKTReader_destroy_r(h, rd);
    GEOS_finish_r(h);
    geomfix_free(gf);
    geo_ctx_free(geo);
}

static int decide(struct crs_context *cx, OGRSpatialReferenceH srs, double x, double y,
                  struct crs_decision *d)
{
    double xy[8] = {x, y, x + 300, y + 200, x + 600, y + 50, x + 100, y + 500};
    struct crs_sample s = {xy, 4, NULL, 0, 2};
    struct err err;
    err_clear(&err);
    return crs_decide(cx, "test.shp", srs, 0, &s, d, &err);
}

static void test_crs(void)
{
    struct err err;
    err_clear(&err);
    struct crs_context cx;
    memset(&cx, 0, sizeof cx);
    cx.geo = geo_ctx_new(&err);
    cx.storage_srid = 5897;
    cx.has_area = 1;
    cx.area = (struct bbox){584700, 1108200, 587700, 1111200}; /* Ninh Kieu */
    snprintf(cx.area_from, sizeof cx.area_from, "test area");
    struct crs_decision d;
    /* no declaration: the coordinate ranges decide */
    CHECK(decide(&cx, NULL, 585000, 1109000, &d) == 0 && d.srid == 5897 && !d.swap_xy);
    CHECK(decide(&cx, NULL, 1109000, 585000, &d) == 0 && d.srid == 5897 && d.swap_xy);
    /* WGS 84 datum with TM-3 parameters = VN-2000 TM-3 */
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRSetProjCS(srs, "WGS_1984_TM_105");
    OSRSetWellKnownGeogCS(srs, "WGS84");
    OSRSetTM(srs, 0, 105, 0.9999, 500000, 0);
    CHECK(decide(&cx, srs, 585000, 1109000, &d) == 0 && d.srid == 5897 && d.repaired);
    CHECK(strstr(d.reason, "mislabelled") != NULL);
    OSRDestroySpatialReference(srs);
    /* a declared HCMC zone (105 45') for Can Tho numbers: the wrong central meridian */
    srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 9210);
    CHECK(decide(&cx, srs, 585000, 1109000, &d) == 0 && d.srid == 5897 && d.repaired);
    OSRDestroySpatialReference(srs);
    /* the ex-Soc Trang zone with its own numbers is right as declared */
    srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 9209);
    CHECK(decide(&cx, srs, 530000, 1109100, &d) == 0 && d.srid == 9209 && !d.repaired);
    OSRDestroySpatialReference(srs);
    /* numbers from nowhere near: an error naming the file */
    err_clear(&err);
    double xy[4] = {261700, 6250000, 262000, 6250300};
    struct crs_sample s = {xy, 2, NULL, 0, 0};
    CHECK(crs_decide(&cx, "paris.shp", NULL, 0, &s, &d, &err) == ERR_PARAM &&
          strstr(err.msg, "paris.shp"));
    crs_context_fini(&cx);
    geo_ctx_free(cx.geo);
}

/* KML descriptions: ArcGIS's nested name/value table, <th> cells, <Null>, white space */
static void test_kml_desc(void)
{
    struct kml_pairs kp;
    const char *arc =
        "<html><body><table><tr style=\"x\"><td>QuyDat</td></tr><tr><td><table>"
        "<tr bgcolor=\"#D4E4F3\"><td>MAKHUDAT</td><td>QDT-NK-001</td></tr>\n"
        "<tr><td>TENKHUDAT</td><td>  Khu đất\n  số 1&nbsp;phường Tân An </td></tr>"
        "<tr><th>GHICHU</th><td>&lt;Null&gt;</td></tr><tr><td></td><td>x</td></tr>"
        "<tr><td>A</td><td>1</td><td>2</td></tr></table></td></tr></table></body></html>";
    CHECK(kml_desc_parse(arc, &kp) == 0 && kp.n == 3);
    int found = 0;
    const char *v = kml_pairs_get(&kp, "MAKHUDAT", &found);
    CHECK(found && v && strcmp(v, "QDT-NK-001") == 0);
    v = kml_pairs_get(&kp, "TENKHUDAT", &found);
    CHECKF(found && v && strcmp(v, "Khu đất số 1 phường Tân An") == 0, "%s", v ? v : "(null)");
    CHECK(kml_pairs_get(&kp, "GHICHU", &found) == NULL && found);
    CHECK(kml_pairs_get(&kp, "A", &found) == NULL && !found); /* three cells: not a pair */
    kml_pairs_fini(&kp);
    CHECK(kml_desc_parse("Ô quy hoạch I-2, quy hoạch phân khu PK-NK-01", &kp) == 0 && kp.n == 0);
    CHECK(kml_desc_parse(NULL, &kp) == 0 && kp.n == 0);
    CHECK(kml_desc_parse("<tr><td>unclosed", &kp) == 0);
    kml_pairs_fini(&kp);
}

int main(void)
{
    test_kml_desc();
    struct catalog cat;
    struct err err;
    err_clear(&err);
    CHECK(catalog_load(&cat, "layers", &err) == 0);
    test_numbers();
    test_codes(&cat);
    test_geometry();
    test_crs();
    catalog_fini(&cat);
    CHECK_DONE();
}
