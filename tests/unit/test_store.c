/* SPDX-License-Identifier: MIT */
/* test_store.c: schema from the catalog, spp check, the streaming query (bbox through the R*Tree,
 * bound filter values, fields, order, paging, count), API keys and the packed spatial index
 * load (rtreecheck and window queries against a scan of the table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "config/config.h"
#include "filter/filter.h"
#include "store/store.h"
#include "store/store_int.h"

struct collect {
    int n;
    int64_t fids[64];
    char names[64][64];
};

static int on_feature(void *ud, const struct feature *f, struct err *err)
{
    (void)err;
    struct collect *c = ud;
    if (c->n < 64) {
        c->fids[c->n] = f->fid;
        snprintf(c->names[c->n], 64, "%s", f->values[0].type == VAL_TEXT ? f->values[0].s : "");
        CHECK(f->wkb != NULL && f->wkb_len > 0);
    }
    c->n++;
    return 0;
}

/* blob.c against SpatiaLite's own AsBinary for every geometry class, 2D and with Z/M. */
static void test_blob_to_wkb(struct store *st)
{
    static const char *const wkts[] = {
        "POINT(586000.5 1109000.25)",
        "LINESTRING(586000 1109000, 586010 1109010, 586020 1109000)",
        "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 3 2, 3 3, 2 2))",
        "MULTIPOINT(1 2, 3 4)",
        "MULTILINESTRING((0 0, 1 1), (2 2, 3 3, 4 4))",
        "MULTIPOLYGON(((0 0, 10 0, 10 10, 0 0)), ((20 20, 30 20, 30 30, 20 20), (21 21, 22 21, 22 "
        "22, 21 21)))",
        "GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 5 5))",
        "POLYGON Z((0 0 1, 10 0 2, 10 10 3, 0 0 1))",
        "MULTILINESTRING M((0 0 7, 1 1 8))",
        "POINT ZM(1 2 3 4)",
    };
    sqlite3 *db = store_db(st);
    struct buf out;
    buf_init(&out);
    for (size_t i = 0; i < sizeof wkts / sizeof wkts[0]; i++) {
        sqlite3_stmt *s = NULL;
        CHECK(sqlite3_prepare_v2(
                  db, "SELECT GeomFromText(?, 5897), AsBinary(CastToXY(GeomFromText(?, 5897)))", -1,
                  &s, NULL) == SQLITE_OK);
        sqlite3_bind_text(s, 1, wkts[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, wkts[i], -1, SQLITE_STATIC);
        CHECK(sqlite3_step(s) == SQLITE_ROW);
        const unsigned char *blob = sqlite3_column_blob(s, 0);
        int n = sqlite3_column_bytes(s, 0);
        const void *want = sqlite3_column_blob(s, 1);
        int want_n = sqlite3_column_bytes(s, 1);
        struct err err;
        err_clear(&err);
        int rc = blob ? store_blob_to_wkb(blob, (size_t)n, &out, &err) : -1;
        int same =
            rc == 0 && want && (int)out.len == want_n && memcmp(out.data, want, out.len) == 0;
        if (!same) fprintf(stderr, "blob->wkb differs for %s (%s)\n", wkts[i], err.msg);
        CHECK(same);
        /* every truncation is refused, never read past the end */
        for (int cut = 0; blob && cut < n; cut += 3) {
            err_clear(&err);
            CHECK(store_blob_to_wkb(blob, (size_t)cut, &out, &err) != 0);
        }
        sqlite3_finalize(s);
    }
    buf_fini(&out);
}

static int64_t scalar(struct store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* store_rtree_load: 20,000 buildings (a tree three levels deep), some on whole metres (exact in
 * float32), some not, a few without geometry. The index passes SQLite's rtreecheck, holds every
 * geometry, and a window finds exactly what a scan of the table finds (or, for boxes rounded
 * outwards to float32, at most a rounding step more). */
struct fid_list {
    int64_t v[4096];
    int n;
};

static int on_fid(void *ud, const struct feature *f, struct err *err)
{
    (void)err;
    struct fid_list *l = ud;
    if (l->n < 4096) l->v[l->n] = f->fid;
    l->n++;
    return 0;
}

/* ids.c: a box's ids (the R*Tree read, sorted here) are the R*Tree's own ascending answer, large
 * and negative fids included; the rows a box query reads through them (spp_ids) are those and
 * in the order the IN sub-select gives (an explicit fid order keeps that path), pages too. */
/* An extent bound near the rtree's float steps (a box side of 5-30 m, widened to double). */
static double e_extent(int t)
{
    return 10 + (t % 7) * 0.37;
}

static void test_box_ids(struct store *st, const struct layer_def *l)
{
    struct err err;
    err_clear(&err);
    CHECK(store_exec(st,
                     "INSERT INTO buildings (fid, kind, geom) VALUES (-7, 'am', CastToMulti("
                     "BuildMbr(585000, 1105000, 585010, 1105010, 5897))), (1099511627781, 'lon',"
                     " CastToMulti(BuildMbr(585020, 1105000, 585030, 1105010, 5897)));"
                     " INSERT INTO idx_buildings_geom VALUES (-7, 585000, 585010, 1105000,"
                     " 1105010), (1099511627781, 585020, 585030, 1105000, 1105010)",
                     &err) == 0);
    sqlite3_stmt *idx = NULL;
    CHECK(sqlite3_prepare_v2(st->db,
                             "SELECT pkid FROM idx_buildings_geom WHERE xmin <= ?2 AND"
                             " xmax >= ?1 AND ymin <= ?4 AND ymax >= ?3 AND (?5 <= 0 OR"
                             " xmax - xmin >= ?5 OR ymax - ymin >= ?5) ORDER BY pkid",
                             -1, &idx, NULL) == SQLITE_OK);
    int fields[] = {layer_field_index(l, "kind")};
    int minus1 = -1;
    int bad = 0, total = 0;
    static struct fid_list a, b;
    /* the stored (float) corners of some boxes: windows ending exactly on them, or a hair
     * inside, meet the same rows as the virtual table's own test (ids.c walks the nodes) */
    double edge[64][4];
    int n_edge = 0;
    sqlite3_stmt *corners = NULL;
    CHECK(sqlite3_prepare_v2(st->db,
                             "SELECT xmin, xmax, ymin, ymax FROM idx_buildings_geom"
                             " WHERE pkid % 311 = 5 LIMIT 64",
                             -1, &corners, NULL) == SQLITE_OK);
    while (corners && n_edge < 64 && sqlite3_step(corners) == SQLITE_ROW) {
        for (int k = 0; k < 4; k++)
            edge[n_edge][k] = sqlite3_column_double(corners, k);
        n_edge++;
    }
    sqlite3_finalize(corners);
    CHECK(n_edge > 8);
    for (int t = 0; t < 60 + 2 * n_edge && idx; t++) {
        double x0 = 580000 + rand() % 19000 + 0.5, y0 = 1100000 + rand() % 19000 + 0.5;
        if (t == 0) x0 = 584990, y0 = 1104990; /* the two odd fids */
        double w = 100 + rand() % (t % 3 ? 900 : 3000);
        struct store_query q = {.layer = l,
                                .has_bbox = 1,
                                .bbox = {x0, y0, x0 + w, y0 + w},
                                .fields = fields,
                                .n_fields = 1,
                                .limit = -1,
                                .want_geom = 1};
        if (t >= 60) { /* a window touching a stored box at one edge, exactly or 1e-7 short */
            /* each side of the window (t % 4) both exactly on the corner and 1e-7 short */
            const double *e = edge[(t - 60) / 2], hair = (t - 60) / 4 % 2 ? 1e-7 : 0;
            switch (t % 4) {
            case 0:
                q.bbox = (struct bbox){e[1] + hair, e[2], e[1] + 50, e[3]};
                break;
            case 1:
                q.bbox = (struct bbox){e[0] - 50, e[2], e[0] - hair, e[3]};
                break;
            case 2:
                q.bbox = (struct bbox){e[0], e[3] + hair, e[1], e[3] + 50};
                break;
            default:
                q.bbox = (struct bbox){e[0], e[2] - 50, e[1], e[2] - hair};
                break;
            }
        }
        /* low zooms skip what is smaller than a tile unit: the extent test on the leaves */
        q.index_min_extent = t % 5 == 1 ? 8 : t % 5 == 3 ? e_extent(t) : 0;
        struct store_ids ids = {0};
        int fits = 0;
        CHECK(store_box_ids(st, &q, &ids, &fits, &err) == 0 && fits == 1);
        if (t == 0) { /* the walk over the node blobs is what answered (ids.c rtree_direct) */
            int walked = 0;
            for (int k = 0; k < st->n_rtree_kinds; k++)
                walked |= strcmp(st->rtree_kinds[k].layer, "buildings") == 0 &&
                          st->rtree_kinds[k].direct == 1;
            CHECK(walked);
        }
        double win[5] = {q.bbox.minx, q.bbox.maxx, q.bbox.miny, q.bbox.maxy, q.index_min_extent};
        for (int k = 0; k < 5; k++)
            sqlite3_bind_double(idx, k + 1, win[k]);
        size_t i = 0;
        while (sqlite3_step(idx) == SQLITE_ROW)
            bad += i >= ids.n || ids.v[i++] != sqlite3_column_int64(idx, 0);
        bad += i != ids.n;
        if (t == 0) CHECK(ids.n >= 2 && ids.v[0] == -7 && ids.v[ids.n - 1] == 1099511627781);
        total += (int)ids.n;
        sqlite3_reset(idx);
        store_ids_free(&ids);
        /* rows through spp_ids vs the IN sub-select (an explicit fid order), whole and paged;
         * and past the id cap (lowered here), where the sub-select reads them */
        for (int page = 0; page < 4; page++) {
            q.limit = page & 1 ? 7 : -1, q.offset = page & 1 ? 3 : 0;
            st->ids_max = page < 2 ? STORE_IDS_MAX : 5;
            struct feature_sink sa = {NULL, on_fid, NULL, &a}, sb = {NULL, on_fid, NULL, &b};
            a.n = b.n = 0;
            q.order = NULL, q.n_order = 0;
            CHECK(store_query_run(st, &q, &sa, &err) == 0);
            q.order = &minus1, q.n_order = 1;
            CHECK(store_query_run(st, &q, &sb, &err) == 0);
            bad += a.n != b.n || memcmp(a.v, b.v, (size_t)(a.n < 4096 ? a.n : 4096) * 8) != 0;
            CHECK(sqlite3_get_autocommit(st->db) == 0); /* the test's own transaction */
            /* store_query.n_parts (a tile layer read by several threads): the parts, through
             * spp_ids and through the sub-select, are the whole, each row in one part */
            if (page & 1 || a.n > 4096) continue;
            for (int n = 2; n <= 3; n++)
                for (int ordered = 0; ordered < 2; ordered++) {
                    static unsigned char seen[4096];
                    memset(seen, 0, sizeof seen);
                    int got = 0;
                    for (int k = 0; k < n; k++) {
                        struct fid_list *pl = &b;
                        pl->n = 0;
                        q.part = k, q.n_parts = n;
                        q.order = ordered ? &minus1 : NULL, q.n_order = ordered;
                        CHECK(store_query_run(st, &q,
                                              &(struct feature_sink){NULL, on_fid, NULL, pl},
                                              &err) == 0);
                        for (int j = 0; j < pl->n && j < 4096; j++) {
                            int at = -1;
                            for (int m = 0; m < a.n && at < 0; m++)
                                if (a.v[m] == pl->v[j]) at = m;
                            bad += at < 0 || seen[at]++;
                        }
                        got += pl->n;
                    }
                    bad += got != a.n;
                    q.part = 0, q.n_parts = 0;
                }
        }
        st->ids_max = STORE_IDS_MAX;
    }
    CHECKF(bad == 0 && total > 1000, "%d box id lists differ (%d ids)", bad, total);
    sqlite3_finalize(idx);
    /* a node missing from the index (a damaged file): an error, never a partial list (the walk
     * gives way to the virtual table, which reports the damage) */
    CHECK(store_exec(st,
                     "DELETE FROM idx_buildings_geom_node WHERE nodeno = (SELECT max(nodeno)"
                     " FROM idx_buildings_geom_node)",
                     &err) == 0);
    struct store_query all = {.layer = l,
                              .has_bbox = 1,
                              .bbox = {500000, 1000000, 700000, 1200000},
                              .fields = fields,
                              .n_fields = 1,
                              .limit = -1,
                              .want_geom = 1};
    struct store_ids ids = {0};
    int fits = 0;
    err_clear(&err);
    int rc = store_box_ids(st, &all, &ids, &fits, &err);
    CHECKF(rc != 0 && ids.n == 0 && ids.v == NULL, "rc %d, %zu ids: %s", rc, ids.n, err.msg);
}

static void test_rtree_load(struct store *st, const struct catalog *cat)
{
    const struct layer_def *l = catalog_layer(cat, "buildings");
    struct err err;
    err_clear(&err);
    CHECK(store_exec(st,
                     "BEGIN; SELECT DisableSpatialIndex('buildings', 'geom');"
                     " DROP TABLE IF EXISTS idx_buildings_geom; DELETE FROM buildings;"
                     " SELECT CreateSpatialIndex('buildings', 'geom');"
                     " DROP TRIGGER gii_buildings_geom; DROP TRIGGER giu_buildings_geom;"
                     " DROP TRIGGER gid_buildings_geom;",
                     &err) == 0);
    srand(3);
    int failed = 0;
    for (int i = 0; i < 20000; i++) {
        char sql[400];
        double x = 580000 + rand() % 20000, y = 1100000 + rand() % 20000, w = 1 + rand() % 30;
        if (i % 3 == 0) x += (rand() % 1000) / 997.0, y += (rand() % 1000) / 991.0;
        snprintf(sql, sizeof sql,
                 "INSERT INTO buildings (kind, geom) VALUES ('nha', CastToMulti(BuildMbr(%.6f, "
                 "%.6f, %.6f, %.6f, 5897)))",
                 x, y, x + w, y + w / 2);
        failed += store_exec(st, i % 1000 == 7 ? "INSERT INTO buildings (kind) VALUES ('x')" : sql,
                             &err) != 0;
    }
    CHECK(failed == 0);
    CHECK(store_rtree_load(st, l, &err) == 0);
    if (err.code) fprintf(stderr, "rtree: %s\n", err.msg);
    sqlite3_stmt *s = NULL;
    CHECK(sqlite3_prepare_v2(st->db, "SELECT rtreecheck('idx_buildings_geom')", -1, &s, NULL) ==
              SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW &&
          strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0);
    sqlite3_finalize(s);
    CHECK(scalar(st, "SELECT count(*) FROM idx_buildings_geom") ==
          scalar(st, "SELECT count(*) FROM buildings WHERE geom IS NOT NULL"));
    CHECK(scalar(st, "SELECT hex(substr(data, 1, 2)) = '0002' FROM idx_buildings_geom_node"
                     " WHERE nodeno = 1") == 1); /* 20000 > 51 x 51: depth 2 */
    sqlite3_stmt *idx = NULL, *scan = NULL;
    CHECK(sqlite3_prepare_v2(st->db,
                             "SELECT pkid, xmin, xmax, ymin, ymax FROM idx_buildings_geom WHERE"
                             " xmax >= ?1 AND xmin <= ?2 AND ymax >= ?3 AND ymin <= ?4"
                             " ORDER BY pkid",
                             -1, &idx, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(st->db,
                             "SELECT fid FROM buildings WHERE MbrMaxX(geom) >= ?1 AND"
                             " MbrMinX(geom) <= ?2 AND MbrMaxY(geom) >= ?3 AND"
                             " MbrMinY(geom) <= ?4 ORDER BY fid",
                             -1, &scan, NULL) == SQLITE_OK);
    int bad = 0, hits = 0;
#define EXTRA_OK(q)                                                                                \
    (!(sqlite3_column_double(q, 2) < w[0] - 0.25 || sqlite3_column_double(q, 1) > w[1] + 0.25 ||   \
       sqlite3_column_double(q, 4) < w[2] - 0.25 || sqlite3_column_double(q, 3) > w[3] + 0.25 ||   \
       (sqlite3_column_double(q, 2) >= w[0] + 0.25 &&                                              \
        sqlite3_column_double(q, 1) <= w[1] - 0.25 &&                                              \
        sqlite3_column_double(q, 4) >= w[2] + 0.25 &&                                              \
        sqlite3_column_double(q, 3) <= w[3] - 0.25)))
    for (int t = 0; t < 100 && idx && scan; t++) {
        double x0 = 580000 + rand() % 19000 + 0.5, y0 = 1100000 + rand() % 19000 + 0.5;
        double w[4] = {x0, x0 + 100 + rand() % 900, y0, y0 + 100 + rand() % 900};
        for (int k = 0; k < 4; k++)
            sqlite3_bind_double(idx, k + 1, w[k]), sqlite3_bind_double(scan, k + 1, w[k]);
        int more = sqlite3_step(idx) == SQLITE_ROW;
        while (sqlite3_step(scan) == SQLITE_ROW) {
            int64_t fid = sqlite3_column_int64(scan, 0);
            hits++;
            /* index rows before fid are extras: allowed only within a float32 step of w */
            while (more && sqlite3_column_int64(idx, 0) < fid) {
                double bx0 = sqlite3_column_double(idx, 1), bx1 = sqlite3_column_double(idx, 2);
                double by0 = sqlite3_column_double(idx, 3), by1 = sqlite3_column_double(idx, 4);
                if (bx1 < w[0] - 0.25 || bx0 > w[1] + 0.25 || by1 < w[2] - 0.25 ||
                    by0 > w[3] + 0.25 ||
                    (bx1 >= w[0] + 0.25 && bx0 <= w[1] - 0.25 && by1 >= w[2] + 0.25 &&
                     by0 <= w[3] - 0.25))
                    bad++;
                more = sqlite3_step(idx) == SQLITE_ROW;
            }
            if (!more || sqlite3_column_int64(idx, 0) != fid)
                bad++; /* a feature the index does not find */
            else
                more = sqlite3_step(idx) == SQLITE_ROW;
        }
        for (; more; more = sqlite3_step(idx) == SQLITE_ROW)
            bad += !EXTRA_OK(idx);
        sqlite3_reset(idx), sqlite3_reset(scan);
    }
    CHECKF(bad == 0 && hits > 1000, "%d window results differ from a scan (%d hits)", bad, hits);
    sqlite3_finalize(idx), sqlite3_finalize(scan);
    test_box_ids(st, l);
    CHECK(store_exec(st, "ROLLBACK", &err) == 0);
}

/* The tile cache's blob store (tilestore.c): get/put by key and encoding, the last-use refresh,
 * range drops by format, zoom, x/y and layer, the size and LRU eviction, meta numbers, clearing,
 * and persistence across a reopen. */
static void put_blob(struct store_blobs *b, const char *key, const char *enc, const char *layers,
                     const char *fmt, int z, int x, int y, const char *data, int64_t now)
{
    struct err err;
    err_clear(&err);
    struct store_blob_info info = {.z = z, .x = x, .y = y};
    snprintf(info.layers, sizeof info.layers, "%s", layers);
    snprintf(info.fmt, sizeof info.fmt, "%s", fmt);
    snprintf(info.etag, sizeof info.etag, "\"%s\"", key);
    CHECK(store_blobs_put(b, key, enc, &info, data, strlen(data), now, &err) == 0);
}

static int has_blob(struct store_blobs *b, const char *key, const char *enc)
{
    struct buf data;
    buf_init(&data);
    struct store_blob_info info;
    struct err err;
    err_clear(&err);
    int found = -1;
    CHECK(store_blobs_get(b, key, enc, 0, &data, &info, &found, &err) == 0); /* no refresh */
    buf_fini(&data);
    return found;
}

static void test_blobs(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/spp-test-blobs-%d.tiles", (int)getpid());
    unlink(path);
    struct store_blobs *b = NULL;
    struct err err;
    err_clear(&err);
    CHECK(store_blobs_open(path, &b, &err) == 0 && b);
    int64_t v = 0, total = -1, evicted = 0, dropped = 0;
    CHECK(store_blobs_meta_get(b, "last_change", -1, &v) == 0 && v == -1);
    CHECK(store_blobs_meta_set(b, "last_change", 42, &err) == 0);
    CHECK(store_blobs_meta_get(b, "last_change", -1, &v) == 0 && v == 42);
    put_blob(b, "mvt|,roads,|10/5/6", "identity", ",roads,", "mvt", 10, 5, 6, "aaaa", 100);
    put_blob(b, "mvt|,roads,|10/5/6", "gzip", ",roads,", "mvt", 10, 5, 6, "gz", 100);
    put_blob(b, "mvt|,roads,buildings,|10/9/9", "identity", ",roads,buildings,", "mvt", 10, 9, 9,
             "bbbbbb", 200);
    put_blob(b, "png|,buildings,|10/5/6", "identity", ",buildings,", "png", 10, 5, 6, "cc", 300);
    put_blob(b, "mvt|,roads,|11/5/6", "identity", ",roads,", "mvt", 11, 5, 6, "", 400);
    CHECK(store_blobs_total(b, &total, &err) == 0 && total == 4 + 2 + 6 + 2 + 0);
    /* a hit: bytes appended, what invalidation needs returned */
    struct buf data;
    buf_init(&data);
    buf_puts(&data, ">");
    struct store_blob_info info;
    int found = 0;
    CHECK(store_blobs_get(b, "mvt|,roads,|10/5/6", "identity", 130, &data, &info, &found, &err) ==
          0);
    CHECK(found == 1 && data.len == 5 && memcmp(data.data, ">aaaa", 5) == 0);
    CHECK(info.complete && strcmp(info.layers, ",roads,") == 0 && strcmp(info.fmt, "mvt") == 0);
    CHECK(info.z == 10 && info.x == 5 && info.y == 6 &&
          strcmp(info.etag, "\"mvt|,roads,|10/5/6\"") == 0);
    CHECK(has_blob(b, "mvt|,roads,|10/5/6", "br") == 0);
    CHECK(has_blob(b, "nothing", "identity") == 0);
    /* the empty entry is found (an empty tile is cached too) */
    buf_reset(&data);
    CHECK(store_blobs_get(b, "mvt|,roads,|11/5/6", "identity", 400, &data, &info, &found, &err) ==
              0 &&
          found == 1 && data.len == 0);
    /* a range drop: only mvt, zoom 10, x 4..5, y 6..7, tiles with roads */
    CHECK(store_blobs_drop_range(b, "mvt", ",roads,", 10, 4, 6, 5, 7, &dropped, &err) == 0);
    CHECK(dropped == 2); /* both encodings of 10/5/6 */
    CHECK(has_blob(b, "mvt|,roads,|10/5/6", "identity") == 0);
    CHECK(has_blob(b, "png|,buildings,|10/5/6", "identity") == 1);
    CHECK(has_blob(b, "mvt|,roads,buildings,|10/9/9", "identity") == 1);
    CHECK(has_blob(b, "mvt|,roads,|11/5/6", "identity") == 1);
    /* another layer's pattern leaves the roads tiles */
    CHECK(store_blobs_drop_range(b, "mvt", ",hydro_lines,", 10, 0, 0, 1023, 1023, &dropped, &err) ==
              0 &&
          dropped == 2);
    CHECK(store_blobs_total(b, &total, &err) == 0 && total == 6 + 2 + 0);
    /* eviction: least recently used first. Last uses: 12/1/1 written at 50, the png tile at
     * 300, 11/5/6 read at 400; 10/9/9 written at 200 and read now at 1000 (refreshed: a read
     * a minute or more after the last use) */
    put_blob(b, "png|,roads,|12/1/1", "identity", ",roads,", "png", 12, 1, 1, "dddddddddd", 50);
    buf_reset(&data);
    CHECK(store_blobs_get(b, "mvt|,roads,buildings,|10/9/9", "identity", 1000, &data, &info, &found,
                          &err) == 0 &&
          found == 1);
    total = 18;
    CHECK(store_blobs_evict(b, 6, &total, &evicted, &err) == 0);
    CHECK(evicted == 2 && total == 6);
    CHECK(has_blob(b, "png|,roads,|12/1/1", "identity") == 0);
    CHECK(has_blob(b, "png|,buildings,|10/5/6", "identity") == 0);
    CHECK(has_blob(b, "mvt|,roads,buildings,|10/9/9", "identity") == 1);
    /* a reopen keeps entries and numbers */
    store_blobs_close(b);
    b = NULL;
    CHECK(store_blobs_open(path, &b, &err) == 0);
    CHECK(store_blobs_meta_get(b, "last_change", -1, &v) == 0 && v == 42);
    CHECK(has_blob(b, "mvt|,roads,buildings,|10/9/9", "identity") == 1);
    CHECK(store_blobs_begin(b, &err) == 0 && store_blobs_clear(b, &err) == 0 &&
          store_blobs_commit(b, &err) == 0);
    CHECK(store_blobs_total(b, &total, &err) == 0 && total == 0);
    CHECK(has_blob(b, "mvt|,roads,buildings,|10/9/9", "identity") == 0);
    buf_fini(&data);
    store_blobs_close(b);
    store_blobs_close(NULL);
    /* a file that cannot be opened is ERR_IO */
    err_clear(&err);
    CHECK(store_blobs_open("/nonexistent-dir/x.tiles", &b, &err) == ERR_IO && !b);
    unlink(path);
    char side[80];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Records the WKB length of the one feature read. */
static int on_wkb_len(void *ud, const struct feature *f, struct err *err)
{
    (void)err;
    *(size_t *)ud = f->wkb_len;
    return 0;
}

/* A geometry operation by name (no SQL from the caller): STORE_GEOM_SIMPLIFY drops the middle
 * point of a 1 m zigzag at a 5 m tolerance and keeps the layer's multi type, STORE_GEOM_AS_IS
 * keeps the point. */
static void test_geom_op(struct store *st, const struct layer_def *roads)
{
    struct err err;
    err_clear(&err);
    CHECK(store_exec(st,
                     "INSERT INTO roads (fid, name, geom) VALUES (900, 'zigzag', CastToMulti("
                     "GeomFromText('LINESTRING(590000 1109000, 590010 1109001, 590020 1109000)',"
                     " 5897)))",
                     &err) == 0);
    struct filter *f = NULL;
    CHECK(filter_and_fid(&f, 900) == 0);
    struct store_query q = {.layer = roads, .filter = f, .limit = -1, .want_geom = 1};
    size_t len = 0;
    struct feature_sink sink = {NULL, on_wkb_len, NULL, &len};
    CHECK(store_query_run(st, &q, &sink, &err) == 0 && len == 18 + 16 * 3);
    q.geom_op = STORE_GEOM_SIMPLIFY;
    q.geom_tolerance = 5;
    len = 0;
    int rc = store_query_run(st, &q, &sink, &err);
    CHECKF(rc == 0 && len == 18 + 16 * 2, "rc %d len %zu %s\n", rc, len, err.msg);
    filter_free(f);
    CHECK(store_exec(st, "DELETE FROM roads WHERE fid = 900", &err) == 0);
}

/* The PRAGMA data_version statement's runs on st (store_prepare caches it). */
static int pragma_runs(struct store *st)
{
    sqlite3_stmt *s = store_prepare(st, "PRAGMA data_version", NULL);
    return s ? sqlite3_stmt_status(s, SQLITE_STMTSTATUS_RUN, 0) : -1;
}

/* The change watch (changes.c): a reader's store_changed says 1 once after each commit of
 * another connection and 0 otherwise; with nothing committed it answers from the WAL-index
 * header without running the PRAGMA; a checkpoint moves the header but is no change; without
 * the -shm file it falls back to the PRAGMA every time. */
static void test_change_watch(const char *path, struct store *writer)
{
    struct err err;
    err_clear(&err);
    struct store *r = NULL;
    CHECK(store_open(path, STORE_READ, &r, &err) == 0);
    CHECK(r->shm_fd >= 0);
    CHECK(store_changed(r) == 1); /* the first look */
    CHECK(store_changed(r) == 0);
    int runs = pragma_runs(r);
    for (int i = 0; i < 5; i++)
        CHECK(store_changed(r) == 0);
    CHECK(pragma_runs(r) == runs); /* answered by the header */
    for (int i = 0; i < 3; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "INSERT INTO spp_changes (layer, minx, miny, maxx, maxy, at)"
                 " VALUES ('roads', %d, 0, 1, 1, 'now')",
                 i);
        CHECK(store_exec(writer, sql, &err) == 0);
        CHECK(store_changed(r) == 1);
        CHECK(store_changed(r) == 0);
    }
    /* the reader's own reads change nothing; a checkpoint that restarts the WAL moves the
     * header and SQLite's data_version (its pager starts afresh): one look says so, then quiet */
    int64_t max_id = 0;
    CHECK(store_changes_max(r, &max_id, &err) == 0 && max_id >= 3);
    CHECK(store_changed(r) == 0);
    CHECK(store_exec(writer, "PRAGMA wal_checkpoint(TRUNCATE)", &err) == 0);
    (void)store_changed(r);
    CHECK(store_changed(r) == 0);
    CHECK(store_exec(writer, "DELETE FROM spp_changes WHERE minx = 0", &err) == 0);
    CHECK(store_changed(r) == 1 && store_changed(r) == 0);
    /* no -shm to read: the PRAGMA answers every time, as right as before */
    close(r->shm_fd);
    r->shm_fd = -1;
    runs = pragma_runs(r);
    CHECK(store_changed(r) == 0 && pragma_runs(r) == runs + 1);
    CHECK(store_exec(writer, "DELETE FROM spp_changes WHERE minx = 1", &err) == 0);
    CHECK(store_changed(r) == 1 && store_changed(r) == 0);
    store_close(r);
}

int main(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/spp-test-store-%d.sqlite", (int)getpid());
    unlink(path);
    struct catalog cat;
    struct err err;
    err_clear(&err);
    CHECK(catalog_load(&cat, "layers", &err) == 0);
    struct store *st = NULL;
    CHECK(store_open(path, STORE_WRITE, &st, &err) == 0);
    CHECK(store_init_schema(st, &cat, 5897, &err) == 0);
    CHECK(store_srid(st) == 5897);
    /* a second init is a no-op; another CRS is refused */
    CHECK(store_init_schema(st, &cat, 5897, &err) == 0);
    err_clear(&err);
    CHECK(store_init_schema(st, &cat, 9209, &err) == ERR_PARAM);
    struct buf rep;
    buf_init(&rep);
    int n = -1;
    CHECK(store_check(st, &cat, &rep, &n, &err) == 0 && n == 0);
    test_blob_to_wkb(st);
    test_rtree_load(st, &cat);
    test_blobs();
    const struct layer_def *roads = catalog_layer(&cat, "roads");
    CHECK(roads != NULL);
    err_clear(&err);
    /* ten roads along x, 100 m apart */
    CHECK(store_exec(st, "BEGIN", &err) == 0);
    for (int i = 0; i < 10; i++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "INSERT INTO roads (name, road_class, geom) VALUES ('Đường %d', '%s',"
                 " CastToMulti(GeomFromText('LINESTRING(%d 1109000, %d 1109050)', 5897)))",
                 i, i % 2 ? "khu_vuc" : "noi_bo", 586000 + 100 * i, 586000 + 100 * i);
        CHECK(store_exec(st, sql, &err) == 0);
    }
    CHECK(store_refresh_layer(st, roads, "test", &err) == 0);
    if (err.code) fprintf(stderr, "%s\n", err.msg);
    CHECK(store_exec(st, "COMMIT", &err) == 0);
    struct layer_state ls;
    CHECK(store_layer_state(st, roads, &ls, &err) == 0);
    CHECK(ls.n_features == 10 && ls.has_extent && ls.extent.minx == 586000 && ls.version == 1);

    int fields[] = {layer_field_index(roads, "name")};
    struct store_query q;
    memset(&q, 0, sizeof q);
    q.layer = roads;
    q.fields = fields;
    q.n_fields = 1;
    q.limit = -1;
    q.want_geom = 1;
    q.has_bbox = 1;
    q.bbox = (struct bbox){586150, 1108000, 586450, 1110000};
    struct collect c;
    memset(&c, 0, sizeof c);
    struct feature_sink sink = {NULL, on_feature, NULL, &c};
    CHECK(store_query_run(st, &q, &sink, &err) == 0);
    CHECK(c.n == 3 && c.fids[0] == 3 && c.fids[2] == 5);
    CHECK(sqlite3_get_autocommit(st->db) == 1); /* the ids' and rows' snapshot is closed */
    /* a filter tree: the store compiles it, values are bound */
    struct value v = {.type = VAL_TEXT, .s = "khu_vuc", .len = 7};
    struct filter *w = NULL;
    CHECK(filter_and_compare(&w, roads, layer_field_index(roads, "road_class"), FOP_EQ, &v) == 0);
    q.filter = w;
    memset(&c, 0, sizeof c);
    CHECK(store_query_run(st, &q, &sink, &err) == 0);
    CHECK(c.n == 1 && c.fids[0] == 4);
    int64_t count = 0;
    CHECK(store_query_count(st, &q, &count, &err) == 0 && count == 1);
    /* an injection attempt is just a value */
    struct value evil = {.type = VAL_TEXT, .s = "x' OR '1'='1", .len = 12};
    struct filter *we = NULL;
    CHECK(filter_and_compare(&we, roads, layer_field_index(roads, "road_class"), FOP_EQ, &evil) ==
          0);
    q.filter = we;
    CHECK(store_query_count(st, &q, &count, &err) == 0 && count == 0);
    filter_free(w);
    filter_free(we);
    /* order and paging */
    q.has_bbox = 0;
    q.filter = NULL;
    int order[] = {fields[0]}, desc[] = {1};
    q.order = order;
    q.order_desc = desc;
    q.n_order = 1;
    q.limit = 2;
    q.offset = 1;
    memset(&c, 0, sizeof c);
    CHECK(store_query_run(st, &q, &sink, &err) == 0);
    CHECK(c.n == 2 && strcmp(c.names[0], "Đường 8") == 0 && strcmp(c.names[1], "Đường 7") == 0);

    test_geom_op(st, roads);
    test_change_watch(path, st);

    /* keys */
    char key[64];
    int64_t id = 0, got = 0;
    enum role role = ROLE_PUBLIC;
    CHECK(store_key_add(st, ROLE_INVESTOR, "dev", key, &id, &err) == 0 && id > 0);
    CHECK(strncmp(key, "spp_", 4) == 0 && strlen(key) == 44);
    CHECK(store_key_check(st, key, &role, &got, &err) == 0 && role == ROLE_INVESTOR && got == id);
    err_clear(&err);
    CHECK(store_key_check(st, "spp_wrong", &role, &got, &err) == ERR_FORBIDDEN);
    err_clear(&err);
    CHECK(store_key_revoke(st, id, &err) == 0);
    CHECK(store_key_check(st, key, &role, &got, &err) == ERR_FORBIDDEN);
    err_clear(&err);
    CHECK(store_key_revoke(st, id, &err) == ERR_NOT_FOUND);

    /* check notices a column that does not belong */
    err_clear(&err);
    CHECK(store_exec(st, "ALTER TABLE roads ADD COLUMN extra TEXT", &err) == 0);
    buf_reset(&rep);
    CHECK(store_check(st, &cat, &rep, &n, &err) == 0 && n == 1 && rep.data &&
          strstr(rep.data, "roads: column extra is not in the catalog"));
    buf_fini(&rep);
    store_close(st);
    catalog_fini(&cat);
    unlink(path);
    char aux[80];
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", path);
    unlink(aux);
    CHECK_DONE();
}
