/* SPDX-License-Identifier: MIT */
/* test_import_load.c: the store's load API as the importer relies on it (store.h, "Loading";
 * the contract in docs/design-notes.md), through store.h alone so that another backend can be
 * held to the same test: values and WKB come back as they were put, in fid order with their
 * boxes; a layer is indexed and its state refreshed when done; the change feed compares
 * identities before and after; findings, changed areas and the batch's records are written;
 * an aborted batch, and a batch with a layer begun and not done, leave the store as it was;
 * calls out of order are ERR_INTERNAL, a fid put twice ERR_DB; store_load_open creates a store
 * (not for a dry run) and store_load_remove removes it. With SPP_TEST_PG_URI set (an empty
 * PostGIS database: tests/integration/test_pg_import.py gives one) the same batches run on
 * PostGIS; store_load_open there opens the database (nothing is created or removed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "config/config.h"
#include "store/store.h"

/* ISO WKB, little endian: a MULTIPOLYGON of one square of side 10 at (x, y). */
static size_t square_wkb(unsigned char *out, double x, double y)
{
    unsigned char *p = out;
    uint32_t u;
    double xy[10] = {x, y, x + 10, y, x + 10, y + 10, x, y + 10, x, y};
#define PUT_U32(v) (u = (v), memcpy(p, &u, 4), p += 4)
    *p++ = 1, PUT_U32(6), PUT_U32(1);
    *p++ = 1, PUT_U32(3), PUT_U32(1), PUT_U32(5);
#undef PUT_U32
    memcpy(p, xy, sizeof xy);
    return (size_t)(p - out) + sizeof xy;
}

struct unit {
    const char *code, *name;
    int64_t population; /* < 0: NULL */
    double area;
    const char *batch; /* import_batch */
};

/* Puts the units with fids 1.. into the open admin_units layer. */
static int put_units(struct store_load *ld, const struct layer_def *l, const struct unit *u, int n,
                     struct err *err)
{
    int rc = 0;
    struct value *v = calloc((size_t)l->n_fields, sizeof *v);
    for (int i = 0; i < n && !rc; i++) {
        for (int t = 0; t < l->n_fields; t++)
            v[t] = (struct value){VAL_NULL, 0, 0, NULL, 0};
        v[layer_field_index(l, "code")] = (struct value){VAL_TEXT, 0, 0, u[i].code, -1};
        v[layer_field_index(l, "name")] =
            (struct value){VAL_TEXT, 0, 0, u[i].name, (int)strlen(u[i].name)};
        v[layer_field_index(l, "level")] = (struct value){VAL_INT, 3, 0, NULL, 0};
        v[layer_field_index(l, "area_m2")] = (struct value){VAL_REAL, 0, u[i].area, NULL, 0};
        if (u[i].population >= 0)
            v[layer_field_index(l, "population")] =
                (struct value){VAL_INT, u[i].population, 0, NULL, 0};
        v[layer_field_index(l, "import_batch")] = (struct value){VAL_TEXT, 0, 0, u[i].batch, -1};
        unsigned char wkb[128];
        size_t len = square_wkb(wkb, 586000 + 100 * i, 1109000);
        rc = store_load_put(ld, i + 1, v, wkb, len, err);
    }
    free(v);
    return rc;
}

struct seen {
    int n;
    int64_t fids[8];
    struct value vals[8][3];
    char text[8][2][32];
    struct bbox box[8];
    int has_box[8];
    int wkb_ok[8];
};

static int on_row(void *ud, const struct feature *f, const struct bbox *box)
{
    struct seen *s = ud;
    if (s->n >= 8) return 0;
    int i = s->n++;
    s->fids[i] = f->fid;
    for (int k = 0; k < f->n_fields && k < 3; k++) {
        s->vals[i][k] = f->values[k];
        if (k < 2 && f->values[k].type == VAL_TEXT)
            snprintf(s->text[i][k], sizeof s->text[i][k], "%s", f->values[k].s);
    }
    s->has_box[i] = box != NULL;
    if (box) s->box[i] = *box;
    unsigned char want[128];
    size_t len = square_wkb(want, 586000 + 100 * (double)(f->fid - 1), 1109000);
    s->wkb_ok[i] = f->wkb && f->wkb_len == len && memcmp(f->wkb, want, len) == 0;
    return 0;
}

static int stop_at_two(void *ud, const struct feature *f, const struct bbox *box)
{
    (void)box;
    int *n = ud;
    return ++*n == 2 ? -7 : (f->fid > 0 ? 0 : 1);
}

/* Adds the fid of each feature to *(int *)ud. */
static int on_query_row(void *ud, const struct feature *f, struct err *err)
{
    (void)err;
    *(int *)ud += (int)f->fid;
    return 0;
}

struct feed {
    int n;
    char ops[8][8], keys[8][8];
    int64_t fids[8];
    int has_fid[8];
};

static int on_change(void *ud, const struct store_feature_change *c)
{
    struct feed *f = ud;
    if (f->n < 8) {
        snprintf(f->ops[f->n], 8, "%s", c->op);
        snprintf(f->keys[f->n], 8, "%s", c->key);
        f->fids[f->n] = c->fid;
        f->has_fid[f->n] = c->has_fid;
    }
    f->n++;
    return 0;
}

static int count_findings(void *ud, const char *kind, const char *severity, int64_t n)
{
    if (strcmp(kind, "rejected") == 0 && strcmp(severity, "error") == 0) *(int64_t *)ud += n;
    return 0;
}

static int count_change(void *ud, const struct store_change *c)
{
    if (c->has_bbox && c->bbox.minx == 586000 && c->bbox.maxy == 1109500) ++*(int *)ud;
    return 0;
}

static void test_first_batch(struct store *st, const struct layer_def *l)
{
    struct err err;
    err_clear(&err);
    struct store_load *ld = NULL;
    CHECK(store_load_begin(st, "b1", 0, &ld, &err) == 0 && ld != NULL);
    CHECK(store_load_put(ld, 1, NULL, NULL, 0, &err) == ERR_INTERNAL); /* no layer open */
    CHECK(store_load_layer_done(ld, &err) == ERR_INTERNAL);
    CHECK(store_load_layer_begin(ld, l, &err) == 0);
    const struct unit u[] = {{"A", "Phường Một", 1000, 1.5, "b1"},
                             {"B", "Phường Hai", -1, 2.25, "b1"},
                             {"C", "Xã Ba", 3000, 3, "b1"}};
    CHECK(put_units(ld, l, u, 3, &err) == 0);
    err_clear(&err);
    CHECK(put_units(ld, l, u, 1, &err) == ERR_DB); /* fid 1 again */
    CHECK(store_load_layer_done(ld, &err) == 0);
    CHECK(store_load_finding(ld, l->id, "a.shp", 7, "error", "rejected", "why", &err) == 0);
    CHECK(store_load_finding(ld, l->id, "", 0, "warning", "gap", "where", &err) == 0);
    /* read back: typed values, WKB as put, boxes, fid order */
    int fields[] = {layer_field_index(l, "code"), layer_field_index(l, "name"),
                    layer_field_index(l, "population")};
    struct store_scan q = {l, fields, 3, 1, -1};
    struct seen s;
    memset(&s, 0, sizeof s);
    CHECK(store_load_scan(ld, &q, on_row, &s, &err) == 0);
    CHECK(s.n == 3 && s.fids[0] == 1 && s.fids[1] == 2 && s.fids[2] == 3);
    CHECK(strcmp(s.text[0][0], "A") == 0 && strcmp(s.text[0][1], "Phường Một") == 0);
    CHECK(s.vals[0][2].type == VAL_INT && s.vals[0][2].i == 1000);
    CHECK(s.vals[1][2].type == VAL_NULL);
    CHECK(s.wkb_ok[0] && s.wkb_ok[1] && s.wkb_ok[2]);
    CHECK(s.has_box[1] && s.box[1].minx == 586100 && s.box[1].maxx == 586110 &&
          s.box[1].miny == 1109000 && s.box[1].maxy == 1109010);
    /* limit, and a stop from the callback comes back as it is */
    memset(&s, 0, sizeof s);
    q.limit = 2;
    CHECK(store_load_scan(ld, &q, on_row, &s, &err) == 0 && s.n == 2);
    int n = 0;
    q.limit = -1;
    CHECK(store_load_scan(ld, &q, stop_at_two, &n, &err) == -7 && n == 2);
    /* an update of a loaded feature, and of one the layer does not have */
    int pop = layer_field_index(l, "population");
    struct value v = {VAL_INT, 2000, 0, NULL, 0};
    CHECK(store_load_update(ld, l, 2, &pop, &v, 1, &err) == 0);
    CHECK(store_load_update(ld, l, 99, &pop, &v, 1, &err) == 0);
    memset(&s, 0, sizeof s);
    CHECK(store_load_scan(ld, &q, on_row, &s, &err) == 0);
    CHECK(s.vals[1][2].type == VAL_INT && s.vals[1][2].i == 2000);
    struct bbox cell = {586000, 1109000, 586500, 1109500};
    CHECK(store_load_change(ld, l, &cell, "2026-01-01T00:00:00Z", &err) == 0);
    CHECK(store_load_feature_changes(ld, l, "2026-01-01T00:00:00Z", NULL, 0, &err) == 0);
    struct store_import_record r = {
        "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "[\"a.shp\"]", "{}", "{}", "{}"};
    CHECK(store_load_record(ld, &r, &err) == 0);
    /* a source spp check can read (it checks that the last import's sources are there) */
    CHECK(store_load_source(ld, l, "a.csv", "/dev/null", 0, &err) == 0);
    CHECK(store_load_history(ld, l, &err) == 0);
    err_clear(&err);
    CHECK(store_load_finish(ld, &err) == 0);
    if (err.code) fprintf(stderr, "%s\n", err.msg);

    struct layer_state ls;
    CHECK(store_layer_state(st, l, &ls, &err) == 0);
    CHECK(ls.n_features == 3 && ls.version == 1 && ls.has_extent && ls.extent.minx == 586000 &&
          ls.extent.maxx == 586210 && ls.extent.maxy == 1109010);
    struct store_lineage lin;
    CHECK(store_layer_lineage(st, l, &lin, &err) == 0);
    CHECK(strcmp(lin.last_batch, "b1") == 0 && lin.n_batches == 1 &&
          lin.batches[0].n_features == 3 && lin.n_sources == 1 &&
          strcmp(lin.sources[0].path, "a.csv") == 0);
    int64_t rejected = 0;
    CHECK(store_layer_findings(st, l, "b1", count_findings, &rejected, &err) == 0 && rejected == 1);
    int cells = 0;
    CHECK(store_changes_since(st, 0, count_change, &cells, &err) == 0 && cells == 1);
    struct feed f;
    memset(&f, 0, sizeof f);
    int more = 0;
    CHECK(store_feature_changes(st, l, ROLE_PUBLIC, "", 0, 100, on_change, &f, &more, &err) == 0);
    CHECK(f.n == 3 && strcmp(f.ops[0], "insert") == 0 && strcmp(f.keys[2], "C") == 0 &&
          f.fids[2] == 3);
    /* the spatial index finds the second square only */
    struct store_query sq;
    memset(&sq, 0, sizeof sq);
    sq.layer = l, sq.fields = fields, sq.n_fields = 1, sq.limit = -1, sq.has_bbox = 1;
    sq.bbox = (struct bbox){586105, 1109002, 586107, 1109004};
    struct feature_sink sink = {NULL, on_query_row, NULL, &n};
    n = 0;
    CHECK(store_query_run(st, &sq, &sink, &err) == 0 && n == 2);
    struct buf rep;
    buf_init(&rep);
    int problems = -1;
    CHECK(store_check(st, &(struct catalog){(struct layer_def *)l, 1, NULL, 0}, &rep, &problems,
                      &err) == 0);
    CHECKF(problems == 0, "%s", rep.data ? rep.data : "");
    buf_fini(&rep);
}

/* A second batch: A unchanged (its old lineage kept), B changed, C gone, D new. The feed has
 * the rows of this batch only: delete C, then update B and insert D in fid order. */
static void test_second_batch(struct store *st, const struct layer_def *l)
{
    struct err err;
    err_clear(&err);
    struct store_load *ld = NULL;
    CHECK(store_load_begin(st, "b2", 0, &ld, &err) == 0);
    CHECK(store_load_layer_begin(ld, l, &err) == 0);
    const struct unit u[] = {{"A", "Phường Một", 1000, 1.5, "b1"},
                             {"B", "Phường Hai Mới", -1, 2.25, "b2"},
                             {"D", "Xã Bốn", 4000, 4, "b2"}};
    CHECK(put_units(ld, l, u, 3, &err) == 0);
    CHECK(store_load_layer_done(ld, &err) == 0);
    CHECK(store_load_feature_changes(ld, l, "2026-01-02T00:00:00Z", NULL, 0, &err) == 0);
    CHECK(store_load_finish(ld, &err) == 0);
    struct feed f;
    memset(&f, 0, sizeof f);
    int more = 0;
    CHECK(store_feature_changes(st, l, ROLE_PUBLIC, "2026-01-02", 0, 100, on_change, &f, &more,
                                &err) == 0);
    CHECKF(f.n == 3, "%d changes", f.n);
    CHECK(strcmp(f.ops[0], "delete") == 0 && strcmp(f.keys[0], "C") == 0 && !f.has_fid[0]);
    CHECK(strcmp(f.ops[1], "update") == 0 && strcmp(f.keys[1], "B") == 0 && f.fids[1] == 2);
    CHECK(strcmp(f.ops[2], "insert") == 0 && strcmp(f.keys[2], "D") == 0 && f.fids[2] == 3);
    struct layer_state ls;
    CHECK(store_layer_state(st, l, &ls, &err) == 0 && ls.version == 2 && ls.n_features == 3);
}

/* The second batch run again under its own name, with E added: A, B and D are the rows they
 * replace (the importer says so), so only E is in the feed, as an insert of this run. */
static void test_same_batch_again(struct store *st, const struct layer_def *l)
{
    struct err err;
    err_clear(&err);
    struct store_load *ld = NULL;
    CHECK(store_load_begin(st, "b2", 0, &ld, &err) == 0);
    CHECK(store_load_layer_begin(ld, l, &err) == 0);
    const struct unit u[] = {{"A", "Phường Một", 1000, 1.5, "b1"},
                             {"B", "Phường Hai Mới", -1, 2.25, "b2"},
                             {"D", "Xã Bốn", 4000, 4, "b2"},
                             {"E", "Xã Năm", 5000, 5, "b2"}};
    CHECK(put_units(ld, l, u, 4, &err) == 0);
    CHECK(store_load_layer_done(ld, &err) == 0);
    const int64_t same[] = {1, 2, 3};
    CHECK(store_load_feature_changes(ld, l, "2026-01-03T00:00:00Z", same, 3, &err) == 0);
    CHECK(store_load_finish(ld, &err) == 0);
    struct feed f;
    memset(&f, 0, sizeof f);
    int more = 0;
    CHECK(store_feature_changes(st, l, ROLE_PUBLIC, "2026-01-03", 0, 100, on_change, &f, &more,
                                &err) == 0);
    CHECKF(f.n == 1, "%d changes", f.n);
    CHECK(f.n == 1 && strcmp(f.ops[0], "insert") == 0 && strcmp(f.keys[0], "E") == 0 &&
          f.fids[0] == 4);
}

/* Batches that must leave the store as it was: an abort, and a finish with a layer not done. */
static void test_not_published(struct store *st, const struct layer_def *l)
{
    struct err err;
    err_clear(&err);
    const struct unit u[] = {{"Z", "Xã Z", 1, 1, "b3"}};
    for (int pass = 0; pass < 2; pass++) {
        struct store_load *ld = NULL;
        CHECK(store_load_begin(st, "b3", 0, &ld, &err) == 0);
        CHECK(store_load_layer_begin(ld, l, &err) == 0);
        CHECK(put_units(ld, l, u, 1, &err) == 0);
        if (pass == 0) {
            CHECK(store_load_layer_done(ld, &err) == 0);
            store_load_abort(ld);
        } else { /* begun, not done: refused, rolled back */
            CHECK(store_load_finish(ld, &err) == ERR_INTERNAL);
        }
        struct layer_state ls;
        CHECK(store_layer_state(st, l, &ls, &err) == 0);
        CHECKF(ls.n_features == 3 && ls.version == 2, "pass %d: %lld features, version %lld", pass,
               (long long)ls.n_features, (long long)ls.version);
    }
    store_load_abort(NULL);
    /* the store is writable again: nothing was left open */
    struct store_load *ld = NULL;
    CHECK(store_load_begin(st, "b4", 0, &ld, &err) == 0);
    CHECK(store_load_finish(ld, &err) == 0);
}

/* store_load_open: a dry run against no store creates none; otherwise the store is created with
 * its schema, and store_load_remove takes it away again. */
static void test_open(const struct catalog *cat)
{
    const char *uri = getenv("SPP_TEST_PG_URI");
    if (uri && *uri) {
        struct err e;
        err_clear(&e);
        struct store *st = NULL;
        int created = -1;
        CHECK(store_load_open(uri, cat, 5897, 1, &st, &created, &e) == 0 && created == 0);
        CHECK(st != NULL && store_srid(st) == 5897);
        store_close(st);
        store_load_remove(uri); /* no file: nothing happens */
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/spp-test-load-open-%d.sqlite", (int)getpid());
    unlink(path);
    struct err err;
    err_clear(&err);
    struct store *st = NULL;
    int created = -1;
    CHECK(store_load_open(path, cat, 5897, 1, &st, &created, &err) == 0 && created == 0);
    CHECK(st != NULL && store_srid(st) == 5897 && access(path, F_OK) != 0);
    store_close(st);
    CHECK(store_load_open(path, cat, 5897, 0, &st, &created, &err) == 0 && created == 1);
    CHECK(access(path, F_OK) == 0);
    store_close(st);
    CHECK(store_load_open(path, cat, 5897, 0, &st, &created, &err) == 0 && created == 0);
    store_close(st);
    store_load_remove(path);
    CHECK(access(path, F_OK) != 0);
}

int main(void)
{
    char path[512];
    const char *uri = getenv("SPP_TEST_PG_URI");
    if (uri && *uri)
        snprintf(path, sizeof path, "%s", uri);
    else
        snprintf(path, sizeof path, "/tmp/spp-test-load-%d.sqlite", (int)getpid());
    unlink(path);
    struct catalog cat;
    struct err err;
    err_clear(&err);
    CHECK(catalog_load(&cat, "layers", &err) == 0);
    struct store *st = NULL;
    CHECK(store_open(path, STORE_WRITE, &st, &err) == 0);
    CHECK(st && store_init_schema(st, &cat, 5897, &err) == 0); /* no database: no crash */
    const struct layer_def *l = catalog_layer(&cat, "admin_units");
    CHECK(l != NULL && l->key >= 0);
    if (st && l) {
        test_first_batch(st, l);
        test_second_batch(st, l);
        test_not_published(st, l);
        test_same_batch_again(st, l);
    }
    store_close(st);
    unlink(path);
    test_open(&cat);
    catalog_fini(&cat);
    CHECK_DONE();
}
