/* SPDX-License-Identifier: MIT */
/* test_mvt.c: MVT bytes against the examples of the Mapbox Vector Tile 2.1 specification,
 * key/value deduplication, clipping, snapping of shared edges, winding, rings collapsing below
 * area 1, concave polygons split by clipping, the tile-local interpolation of the official
 * transformation against PROJ, the generalized cover of grid cells against GEOS's union of the
 * squares, and the tile address and layer list parsers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <geos_c.h>

#include "../check.h"
#include "tiles/tiles.h"

/* Builds a geom from rings/lines given as (n, xy...) lists; type is the WKB type. */
static void make_geom(struct geom *g, int type, int n_parts, const int *counts, const double *xy)
{
    struct buf b;
    buf_init(&b);
    unsigned char hdr[5] = {1, (unsigned char)type, 0, 0, 0};
    buf_append(&b, hdr, 5);
    if (type == 1) {
        buf_append(&b, xy, 16);
    } else {
        uint32_t n = (uint32_t)n_parts;
        if (type == 3) buf_append(&b, &n, 4);
        for (int i = 0, k = 0; i < n_parts; i++) {
            uint32_t c = (uint32_t)counts[i];
            buf_append(&b, &c, 4);
            buf_append(&b, xy + k, (size_t)counts[i] * 16);
            k += 2 * counts[i];
        }
    }
    struct err err;
    err_clear(&err);
    CHECK(geom_from_wkb(g, (unsigned char *)b.data, b.len, &err) == 0);
    buf_fini(&b);
}

static int32_t unzig(uint32_t v)
{
    return (int32_t)(v >> 1) ^ -(int32_t)(v & 1);
}

/* Decodes polygon commands into rings: ring r has counts[r] points at pts + 2 * start[r]. */
static int decode_rings(const struct mvt_geom *g, int32_t *pts, int *starts, int *counts)
{
    int32_t x = 0, y = 0;
    int n_rings = 0, n_pts = 0;
    for (size_t i = 0; i < g->n;) {
        uint32_t id = g->cmd[i] & 7, cnt = g->cmd[i] >> 3;
        i++;
        if (id == 1) {
            starts[n_rings] = n_pts;
            counts[n_rings] = 0;
            n_rings++;
        }
        if (id == 7) continue;
        for (uint32_t k = 0; k < cnt; k++, i += 2) {
            x += unzig(g->cmd[i]), y += unzig(g->cmd[i + 1]);
            pts[2 * n_pts] = x, pts[2 * n_pts + 1] = y;
            n_pts++;
            counts[n_rings - 1]++;
        }
    }
    return n_rings;
}

static long long area2(const int32_t *p, int n)
{
    long long s = 0;
    for (int i = 0; i < n; i++) {
        const int32_t *a = &p[2 * i], *b = &p[2 * ((i + 1) % n)];
        s += (long long)a[0] * b[1] - (long long)b[0] * a[1];
    }
    return s;
}

static void test_spec_examples(void *geos)
{
    struct err err;
    err_clear(&err);
    struct geom g;
    geom_init(&g);
    struct mvt_geom m;
    mvt_geom_init(&m);
    /* 4.3.5.1 point (25, 17) -> [9, 50, 34] */
    double pt[2] = {25, 17};
    make_geom(&g, 1, 1, NULL, pt);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0);
    CHECK(m.type == 1 && m.n == 3 && m.cmd[0] == 9 && m.cmd[1] == 50 && m.cmd[2] == 34);
    /* 4.3.5.3 linestring (2,2) (2,10) (10,10) -> [9, 4, 4, 18, 0, 16, 16, 0] */
    double ls[6] = {2, 2, 2, 10, 10, 10};
    int c3[1] = {3};
    make_geom(&g, 2, 1, c3, ls);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0);
    uint32_t want_ls[] = {9, 4, 4, 18, 0, 16, 16, 0};
    CHECK(m.type == 2 && m.n == 8 && memcmp(m.cmd, want_ls, sizeof want_ls) == 0);
    /* 4.3.5.6 polygon (3,6) (8,12) (20,34) -> [9, 6, 12, 18, 10, 12, 24, 44, 15] */
    double poly[8] = {3, 6, 8, 12, 20, 34, 3, 6};
    int c4[1] = {4};
    make_geom(&g, 3, 1, c4, poly);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0);
    uint32_t want_poly[] = {9, 6, 12, 18, 10, 12, 24, 44, 15};
    CHECK(m.type == 3 && m.n == 9 && memcmp(m.cmd, want_poly, sizeof want_poly) == 0);
    /* the same ring given the other way round comes out in the same (exterior) winding */
    double rev[8] = {3, 6, 20, 34, 8, 12, 3, 6};
    make_geom(&g, 3, 1, c4, rev);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0);
    int32_t pts[64];
    int st[8], cn[8];
    CHECK(decode_rings(&m, pts, st, cn) == 1 && area2(pts, cn[0]) > 0);
    /* a ring below area 1 after snapping disappears; a point outside the buffer too */
    double tiny[8] = {10.1, 10.1, 10.6, 10.2, 10.3, 10.4, 10.1, 10.1};
    make_geom(&g, 3, 1, c4, tiny);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0 && m.type == 0 && m.n == 0);
    double far[2] = {-65, 100};
    make_geom(&g, 1, 1, NULL, far);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0 && m.type == 0);
    geom_fini(&g);
    mvt_geom_fini(&m);
}

/* Two quadrilaterals sharing a slanted edge, clipped by the buffer: the shared edge snaps to the
 * same grid points in both, so after snapping they still only touch. */
static void test_shared_edges(void *geos)
{
    struct err err;
    err_clear(&err);
    struct geom g;
    geom_init(&g);
    struct mvt_geom m;
    mvt_geom_init(&m);
    double a[10] = {3900.3, 4000.7, 4100.3, 4100.7, 4110.6, 4300.2, 3890.5, 4290.5, 3900.3, 4000.7};
    double b[10] = {4100.3, 4100.7, 4300.1, 4090.9, 4310.9, 4320.3, 4110.6, 4300.2, 4100.3, 4100.7};
    int c5[1] = {5};
    int32_t pa[64], pb[64];
    int sa[4], na[4], sb[4], nb[4];
    make_geom(&g, 3, 1, c5, a);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0 && m.type == 3);
    CHECK(decode_rings(&m, pa, sa, na) == 1);
    make_geom(&g, 3, 1, c5, b);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0);
    CHECK(decode_rings(&m, pb, sb, nb) == 1);
    /* every point inside the buffered tile */
    for (int i = 0; i < na[0]; i++)
        CHECK(pa[2 * i + 1] >= -64 && pa[2 * i + 1] <= 4160);
    /* the shared edge is cut by y = 4160 at the same point in both; its lower end is shared */
    int32_t xa = -1, xb = -1, sha = 0, shb = 0;
    for (int i = 0; i < na[0]; i++) {
        if (pa[2 * i + 1] == 4160 && pa[2 * i] > 4000) xa = pa[2 * i];
        sha |= pa[2 * i] == 4100 && pa[2 * i + 1] == 4101;
    }
    for (int i = 0; i < nb[0]; i++) {
        if (pb[2 * i + 1] == 4160 && pb[2 * i] < 4150) xb = pb[2 * i];
        shb |= pb[2 * i] == 4100 && pb[2 * i + 1] == 4101;
    }
    CHECK(xa == 4103 && xa == xb && sha && shb);
    if (!(xa == 4103 && xa == xb && sha && shb))
        fprintf(stderr, "xa %d xb %d sha %d shb %d\n", xa, xb, sha, shb);
    geom_fini(&g);
    mvt_geom_fini(&m);
}

static void test_concave_split(void *geos)
{
    struct err err;
    err_clear(&err);
    struct geom g;
    geom_init(&g);
    struct mvt_geom m;
    mvt_geom_init(&m);
    /* a U open to the top whose arms cross y = -64: clipping leaves two separate arms */
    double u[18] = {100, 500, 400, 500, 400,  -300, 300,  -300, 300,
                    200, 200, 200, 200, -300, 100,  -300, 100,  500};
    int c9[1] = {9};
    make_geom(&g, 3, 1, c9, u);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0 && m.type == 3);
    int32_t p[128];
    int s[8], n[8];
    int rings = decode_rings(&m, p, s, n);
    CHECK(rings == 1); /* the base of the U keeps it in one piece: (100..400) x (-64..500) */
    for (int i = 0; i < n[0]; i++)
        CHECK(p[2 * i + 1] >= -64);
    CHECK(area2(p, n[0]) > 0);
    /* upside down: the arms hang below the clip line, the base is cut off -> two polygons */
    double d[18] = {100,  -500, 400,  -500, 400, 300, 300, 300, 300,
                    -200, 200,  -200, 200,  300, 100, 300, 100, -500};
    make_geom(&g, 3, 1, c9, d);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0 && m.type == 3);
    rings = decode_rings(&m, p, s, n);
    CHECK(rings == 2);
    for (int r = 0; r < rings; r++)
        CHECK(area2(p + 2 * s[r], n[r]) == 2 * 100 * 364);
    /* a polygon with a hole keeps the hole with the opposite winding */
    double ring2[20] = {10,  10,  10,  300, 300, 300, 300, 10,  10,  10,
                        100, 100, 200, 100, 200, 200, 100, 200, 100, 100};
    int c55[2] = {5, 5};
    make_geom(&g, 3, 2, c55, ring2);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0 && m.type == 3);
    rings = decode_rings(&m, p, s, n);
    CHECK(rings == 2 && area2(p + 2 * s[0], n[0]) > 0 && area2(p + 2 * s[1], n[1]) < 0);
    geom_fini(&g);
    mvt_geom_fini(&m);
}

static void test_layer_bytes(void *geos)
{
    struct err err;
    err_clear(&err);
    struct mvt_layer *l = mvt_layer_new("x");
    struct mvt_geom m;
    mvt_geom_init(&m);
    struct geom g;
    geom_init(&g);
    double pt[2] = {25, 17};
    make_geom(&g, 1, 1, NULL, pt);
    CHECK(mvt_encode_geom(geos, &g, TILE_BUFFER, &m, &err) == 0);
    const char *names[2] = {"k", "n"};
    struct value v[2] = {{.type = VAL_TEXT, .s = "v", .len = 1}, {.type = VAL_INT, .i = 3}};
    CHECK(mvt_layer_add(l, 1, &m, names, v, 2, &err) == 0);
    CHECK(mvt_layer_add(l, 2, &m, names, v, 2, &err) == 0);
    struct value neg = {.type = VAL_INT, .i = -2};
    CHECK(mvt_layer_add(l, 3, &m, names + 1, &neg, 1, &err) == 0);
    struct buf out;
    buf_init(&out);
    CHECK(mvt_layer_write(l, geos, 0, &out, &err) == 0);
    /* Tile{layers: Layer{version 2, name "x", 3 features, keys k n, values "v" 3 -2, extent}} */
    static const unsigned char want[] = {
        0x1a, 0x4c,                                              /* Tile.layers, 76 bytes */
        0x78, 0x02, 0x0a, 0x01, 'x',                             /* version 2, name "x" */
        0x12, 0x0f, 0x08, 0x01, 0x12, 0x04, 0,    0,    1,    1, /* feature id 1, tags 0 0 1 1 */
        0x18, 0x01, 0x22, 0x03, 9,    50,   34,                  /* type POINT, geometry */
        0x12, 0x0f, 0x08, 0x02, 0x12, 0x04, 0,    0,    1,    1,    0x18, 0x01, 0x22,
        0x03, 9,    50,   34,   0x12, 0x0d, 0x08, 0x03, 0x12, 0x02, 1,    2,    0x18,
        0x01, 0x22, 0x03, 9,    50,   34,   0x1a, 0x01, 'k',  0x1a, 0x01, 'n', /* keys */
        0x22, 0x03, 0x0a, 0x01, 'v',  0x22, 0x02, 0x28, 0x03, /* values "v", uint 3 */
        0x22, 0x02, 0x30, 0x03,                               /* sint -2 */
        0x28, 0x80, 0x20};                                    /* extent 4096 */
    CHECK(out.len == sizeof want && memcmp(out.data, want, sizeof want) == 0);
    if (out.len != sizeof want || memcmp(out.data, want, sizeof want)) {
        for (size_t i = 0; i < out.len; i++)
            fprintf(stderr, "%02x ", (unsigned char)out.data[i]);
        fprintf(stderr, "\n");
    }
    CHECK(mvt_layer_count(l) == 3);
    buf_fini(&out);
    mvt_layer_free(l);
    geom_fini(&g);
    mvt_geom_fini(&m);
}

/* Generalized features given whole (the precomputed overview): written first, classed by the
 * layer's class field, with n_features and generalized = 1, no id; a layer with only those is
 * still written, and a class value of NULL writes no class tag. */
static void test_given_generalized(void *geos)
{
    struct err err;
    err_clear(&err);
    struct mvt_layer *l = mvt_layer_new("p");
    CHECK(l && mvt_layer_set_class(l, "lu") == 0);
    unsigned char cells[4] = {1, 1, 0, 1};
    struct mvt_geom m;
    mvt_geom_init(&m);
    CHECK(mvt_encode_cells(geos, cells, 2, 2048, &m, &err) == 0 && m.type == 3 && m.n > 0);
    struct value odt = {.type = VAL_TEXT, .s = "ODT", .len = 3}, none = {.type = VAL_NULL};
    CHECK(mvt_layer_add_generalized(l, &odt, 7, &m, &err) == 0);
    CHECK(mvt_layer_add_generalized(l, &none, 2, &m, &err) == 0);
    struct buf out;
    buf_init(&out);
    CHECK(mvt_layer_write(l, geos, 1, &out, &err) == 0 && out.len > 0);
    int64_t dropped, generalized;
    mvt_layer_generalized(l, &dropped, &generalized);
    CHECK(dropped == 9 && generalized == 2);
    /* Tile.layers { ... }: walk the layer's fields (all lengths here fit one byte) */
    const unsigned char *p = (const unsigned char *)out.data;
    CHECK(p[0] == 0x1a && p[1] < 0x80 && (size_t)p[1] + 2 == out.len);
    int n_feat = 0, n_id = 0, n_keys = 0, n_values = 0, first_tags = -1;
    for (size_t i = 2; i + 1 < out.len;) {
        int tag = p[i++];
        if ((tag & 7) == 0) { /* varint: version, extent */
            while (p[i++] & 0x80) {
            }
            continue;
        }
        size_t len = p[i++];
        if (tag == 0x12) { /* a feature: no id (field 1); its tags start with the class key */
            n_feat++;
            n_id += p[i] == 0x08;
            if (first_tags < 0 && p[i] == 0x12) first_tags = p[i + 2];
        }
        n_keys += tag == 0x1a;
        n_values += tag == 0x22;
        i += len;
    }
    /* 2 features; keys lu, n_features, generalized; values "ODT", 7, 2, 1 */
    CHECK(n_feat == 2 && n_id == 0 && n_keys == 3 && n_values == 4 && first_tags == 0);
    buf_fini(&out);
    mvt_geom_fini(&m);
    mvt_layer_free(l);
}

/* The polygons of cells[] (n x n, cell units each) as GEOS computes them: the union of the squares
 * (the oracle: mvt_encode_cells traces the grid itself). */
static GEOSGeometry *cells_union(GEOSContextHandle_t h, const unsigned char *cells, int n, int cell)
{
    GEOSGeometry **sq = malloc((size_t)(n * n + 1) * sizeof *sq);
    int k = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            if (!cells[j * n + i]) continue;
            GEOSCoordSequence *s = GEOSCoordSeq_create_r(h, 5, 2);
            double x0 = i * cell, y0 = j * cell, x1 = x0 + cell, y1 = y0 + cell;
            double xy[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
            for (int p = 0; p < 5; p++)
                GEOSCoordSeq_setXY_r(h, s, (unsigned)p, xy[2 * p], xy[2 * p + 1]);
            sq[k++] = GEOSGeom_createPolygon_r(h, GEOSGeom_createLinearRing_r(h, s), NULL, 0);
        }
    GEOSGeometry *coll = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, sq, (unsigned)k);
    free(sq);
    GEOSGeometry *u = GEOSUnaryUnion_r(h, coll);
    GEOSGeom_destroy_r(h, coll);
    return u;
}

/* The MVT polygon commands as a GEOS multipolygon (an exterior ring starts a polygon, the
 * negative rings after it are its holes); NULL when a ring has the wrong winding to start. */
static GEOSGeometry *mvt_polygons(GEOSContextHandle_t h, const struct mvt_geom *g)
{
    static int32_t pts[2 * 40000];
    static int starts[20000], counts[20000];
    int nr = decode_rings(g, pts, starts, counts);
    GEOSGeometry **polys = malloc((size_t)(nr + 1) * sizeof *polys), *shell = NULL;
    GEOSGeometry **holes = malloc((size_t)(nr + 1) * sizeof *holes);
    int np = 0, nh = 0, bad = 0;
    for (int r = 0; r <= nr; r++) {
        int ext = r < nr && area2(pts + 2 * starts[r], counts[r]) > 0;
        if ((r == nr || ext) && shell) {
            polys[np++] = GEOSGeom_createPolygon_r(h, shell, holes, (unsigned)nh);
            shell = NULL, nh = 0;
        }
        if (r == nr) break;
        if (!ext && !shell) bad = 1; /* a hole before any exterior */
        GEOSCoordSequence *s = GEOSCoordSeq_create_r(h, (unsigned)counts[r] + 1, 2);
        for (int p = 0; p <= counts[r]; p++) {
            const int32_t *q = pts + 2 * (starts[r] + p % counts[r]);
            GEOSCoordSeq_setXY_r(h, s, (unsigned)p, q[0], q[1]);
        }
        GEOSGeometry *ring = GEOSGeom_createLinearRing_r(h, s);
        if (ext)
            shell = ring;
        else if (shell)
            holes[nh++] = ring;
        else
            GEOSGeom_destroy_r(h, ring);
    }
    free(holes);
    GEOSGeometry *m = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, polys, (unsigned)np);
    free(polys);
    if (bad) {
        GEOSGeom_destroy_r(h, m);
        return NULL;
    }
    return m;
}

static void check_cells(void *geos, const unsigned char *cells, int n, int cell, const char *what)
{
    GEOSContextHandle_t h = geos;
    struct err err;
    err_clear(&err);
    struct mvt_geom m;
    mvt_geom_init(&m);
    int any = 0;
    for (int k = 0; k < n * n; k++)
        any |= cells[k] != 0;
    int rc = mvt_encode_cells(geos, cells, n, cell, &m, &err);
    CHECKF(rc == 0, "%s: %s", what, err.msg);
    CHECKF((m.type == 3) == any, "%s: type %d", what, m.type);
    if (rc || !any) {
        mvt_geom_fini(&m);
        return;
    }
    GEOSGeometry *got = mvt_polygons(h, &m), *want = cells_union(h, cells, n, cell);
    CHECKF(got != NULL, "%s: a hole before its exterior", what);
    if (got) {
        char *why = GEOSisValidReason_r(h, got);
        CHECKF(GEOSisValid_r(h, got), "%s: not valid: %s", what, why);
        GEOSFree_r(h, why);
        GEOSGeometry *diff = GEOSSymDifference_r(h, got, want);
        double a = -1;
        if (diff) GEOSArea_r(h, diff, &a);
        CHECKF(a == 0, "%s: differs from GEOS's union by area %g", what, a);
        double ga = 0, wa = 0;
        GEOSArea_r(h, got, &ga), GEOSArea_r(h, want, &wa);
        CHECKF(ga == wa, "%s: area %g, GEOS %g", what, ga, wa);
        if (diff) GEOSGeom_destroy_r(h, diff);
        GEOSGeom_destroy_r(h, got);
    }
    GEOSGeom_destroy_r(h, want);
    mvt_geom_fini(&m);
}

/* The traced cover of grid cells against GEOS on shapes that need care (cells touching only at
 * a corner, a hole touching its shell at a corner, holes in holes, the full grid) and on
 * random grids of every density. */
static void test_cells_vs_geos(void *geos)
{
    const char *shapes[] = {
        "1",
        "10|01",
        "01|10",
        "111|101|111",
        "111|100|111",
        "110|101|011",
        "0110|1001|1001|0110",
        "11111|10001|10101|10001|11111",
        "1111|1001|1011|1111",
        "101|010|101",
        "11111|10101|11111|10101|11111",
        "1110|1011|1101|0111",
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        unsigned char cells[64] = {0};
        int n = (int)(strchr(shapes[s], '|') ? strchr(shapes[s], '|') - shapes[s]
                                             : (long)strlen(shapes[s]));
        for (int k = 0, i = 0; shapes[s][k]; k++)
            if (shapes[s][k] != '|') cells[i++] = shapes[s][k] == '1';
        check_cells(geos, cells, n, 128, shapes[s]);
    }
    unsigned seed = 12345;
    static unsigned char cells[64 * 64];
    const int sizes[] = {2, 3, 5, 8, 16, 32, 64};
    for (int t = 0; t < 140; t++) {
        int n = sizes[t % 7], density = 10 + (t * 37) % 85; /* percent */
        for (int k = 0; k < n * n; k++) {
            seed = seed * 1103515245u + 12345u;
            cells[k] = (int)((seed >> 16) % 100) < density;
        }
        char what[64];
        snprintf(what, sizeof what, "random grid %d: %dx%d, %d%%", t, n, n, density);
        check_cells(geos, cells, n, 4096 / n, what);
    }
}

static void test_xform(struct geo_ctx *geo)
{
    struct err err;
    err_clear(&err);
    int tiles[][3] = {{15, 26012, 15466}, {19, 416205, 247456}, {10, 812, 483},
                      {12, 3251, 1933},   {13, 6503, 3866},     {14, 13006, 7733}};
    for (size_t t = 0; t < ARRAY_LEN(tiles); t++) {
        int z = tiles[t][0], x = tiles[t][1], y = tiles[t][2];
        struct tile_xform *xf;
        struct bbox qb, tb;
        CHECK(tile_xform_new(geo, 5897, z, x, y, TILE_EXTENT, &xf, &qb, &err) == 0 && xf);
        tile_bbox(z, x, y, &tb);
        double worst = 0;
        for (int i = 0; i < 50; i++) {
            /* points across the query box and beyond the grid (a quarter of the box past each
             * side: the exact path) */
            double fx = (double)((i * 37) % 50) / 22.0 - 0.6,
                   fy = (double)((i * 11) % 50) / 22.0 - 0.6;
            double p[2] = {qb.minx + fx * (qb.maxx - qb.minx), qb.miny + fy * (qb.maxy - qb.miny)};
            double q[2] = {p[0], p[1]};
            CHECK(tile_xform_apply(xf, p, 1, &err) == 0);
            CHECK(geo_transform(geo, 5897, 3857, q, 1, &err) == 0);
            double ux = (q[0] - tb.minx) / (tb.maxx - tb.minx) * TILE_EXTENT;
            double uy = (tb.maxy - q[1]) / (tb.maxy - tb.miny) * TILE_EXTENT;
            double d = fabs(ux - p[0]) + fabs(uy - p[1]);
            if (d > worst) worst = d;
        }
        /* the grid's cells (tile.c: 300-600 m from z14) keep it below 0.003 tile units and,
         * in metres of EPSG:3857, below a millimetre */
        CHECKF(worst < 3e-3, "z%d: %.2e tile units", z, worst);               /* tile units */
        if (z >= 15) CHECK(worst * (tb.maxx - tb.minx) / TILE_EXTENT < 1e-3); /* metres */
        tile_xform_free(xf);
    }
}

static void test_parsers(const struct catalog *cat)
{
    struct err err;
    int z, x, y, scale;
    err_clear(&err);
    CHECK(tiles_parse_zxy("17", "104051", "61864", &z, &x, &y, NULL, &err) == 0 && z == 17 &&
          x == 104051 && y == 61864);
    CHECK(tiles_parse_zxy("0", "0", "0@2x", &z, &x, &y, &scale, &err) == 0 && scale == 2);
    const char *bad[][3] = {{"-1", "0", "0"},          {"1", "+1", "0"}, {"01", "0", "0"},
                            {"1", "0", "0x1"},         {"", "0", "0"},   {"1", "0", "1e0"},
                            {"99999999999", "0", "0"}, {"1", " 1", "0"}, {"1", "0", "0@3x"}};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err_clear(&err);
        CHECK(tiles_parse_zxy(bad[i][0], bad[i][1], bad[i][2], &z, &x, &y, &scale, &err) ==
              ERR_PARAM);
    }
    err_clear(&err);
    CHECK(tiles_parse_zxy("25", "0", "0", &z, &x, &y, NULL, &err) == ERR_NOT_FOUND);
    err_clear(&err);
    CHECK(tiles_parse_zxy("2", "4", "0", &z, &x, &y, NULL, &err) == ERR_NOT_FOUND);
    struct tile_layers tl;
    err_clear(&err);
    CHECK(tiles_parse_layers(cat, "roads,cadastral_parcels,roads", ROLE_PUBLIC, &tl, &err) == 0);
    const struct layer_def *r = catalog_layer(cat, "roads"),
                           *p = catalog_layer(cat, "cadastral_parcels");
    CHECK(tl.n == 2 && strcmp(tl.canon, r->index < p->index ? ",roads,cadastral_parcels,"
                                                            : ",cadastral_parcels,roads,") == 0);
    err_clear(&err);
    CHECK(tiles_parse_layers(cat, "all", ROLE_PUBLIC, &tl, &err) == 0);
    int n_public = tl.n;
    CHECK(tiles_parse_layers(cat, "all", ROLE_PLANNER, &tl, &err) == 0);
    CHECK(tl.n == cat->n_layers && n_public < tl.n);
    err_clear(&err);
    CHECK(tiles_parse_layers(cat, "construction_permits", ROLE_PUBLIC, &tl, &err) == ERR_NOT_FOUND);
    err_clear(&err);
    CHECK(tiles_parse_layers(cat, "roads,,buildings", ROLE_PUBLIC, &tl, &err) == ERR_PARAM);
    err_clear(&err);
    CHECK(tiles_parse_layers(cat, "../roads", ROLE_PUBLIC, &tl, &err) == ERR_NOT_FOUND);
}

/* tiles_get: a miss builds once and stores, a hit does not build, an error is passed up and
 * nothing is stored, encodings are separate entries, no cache means always built. */
struct build_count {
    int n;
    int fail;
};

static int count_build(void *ud, struct buf *out, struct err *err)
{
    struct build_count *b = ud;
    b->n++;
    if (b->fail) return err_set(err, ERR_LIMIT, "drawn elsewhere");
    return buf_puts(out, "tile-bytes") ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

static void test_tiles_get(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/spp-test-tiles-get-%d.tiles", (int)getpid());
    unlink(path);
    struct err err;
    err_clear(&err);
    struct tile_cache *c = NULL;
    CHECK(tile_cache_open(path, 1 << 20, &c, &err) == 0);
    struct tile_entry e = {"mvt|,roads,|default|3/1/2|public", ",roads,", "mvt", 3, 1, 2};
    struct build_count b = {0, 0};
    struct buf out;
    buf_init(&out);
    char etag[40], etag2[40];
    int hit = -1;
    CHECK(tiles_get(c, &e, "identity", count_build, &b, &out, etag, &hit, &err) == 0);
    CHECK(hit == 0 && b.n == 1 && out.len == 10 && memcmp(out.data, "tile-bytes", 10) == 0);
    buf_reset(&out);
    CHECK(tiles_get(c, &e, "identity", count_build, &b, &out, etag2, &hit, &err) == 0);
    CHECK(hit == 1 && b.n == 1 && out.len == 10 && strcmp(etag, etag2) == 0);
    char expect[40];
    tile_etag("tile-bytes", 10, "identity", expect);
    CHECK(strcmp(etag, expect) == 0);
    /* another encoding is another entry; a failed build stores nothing */
    b.fail = 1;
    buf_reset(&out);
    err_clear(&err);
    CHECK(tiles_get(c, &e, "gzip", count_build, &b, &out, etag, &hit, &err) == ERR_LIMIT);
    CHECK(b.n == 2 && hit == 0 && tile_cache_get(c, e.key, "gzip", NULL, etag) == 0);
    /* no cache: always built, the ETag still computed */
    b.fail = 0;
    buf_reset(&out);
    CHECK(tiles_get(NULL, &e, "identity", count_build, &b, &out, etag2, &hit, &err) == 0);
    CHECK(b.n == 3 && hit == 0 && strcmp(etag2, expect) == 0);
    tile_cache_close(c);
    /* what was stored survives a reopen (the file, not only the memory front) */
    c = NULL;
    CHECK(tile_cache_open(path, 1 << 20, &c, &err) == 0);
    buf_reset(&out);
    CHECK(tiles_get(c, &e, "identity", count_build, &b, &out, etag2, &hit, &err) == 0);
    CHECK(hit == 1 && b.n == 3 && out.len == 10 && strcmp(etag2, expect) == 0);
    tile_cache_close(c);
    buf_fini(&out);
    unlink(path);
    char side[96];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

int main(void)
{
    struct err err;
    err_clear(&err);
    struct geo_ctx *geo = geo_ctx_new(&err);
    CHECK(geo != NULL);
    struct catalog cat;
    CHECK(catalog_load(&cat, "layers", &err) == 0);
    test_spec_examples(geo_geos(geo));
    test_shared_edges(geo_geos(geo));
    test_concave_split(geo_geos(geo));
    test_layer_bytes(geo_geos(geo));
    test_given_generalized(geo_geos(geo));
    test_cells_vs_geos(geo_geos(geo));
    test_xform(geo);
    test_parsers(&cat);
    test_tiles_get();
    catalog_fini(&cat);
    geo_ctx_free(geo);
    CHECK_DONE();
}
