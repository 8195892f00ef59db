/* SPDX-License-Identifier: MIT */
/* ids.c: a box query's feature ids, read from the layer's R*Tree and sorted here, handed to the
 * row query through spp_ids(?), a table-valued function over an array of ids (SQLite's carray
 * extension does the same; Debian's libsqlite3 does not build it in).
 *
 * `fid IN (SELECT pkid FROM idx_... WHERE box)` made SQLite insert every id into a temporary
 * b-tree before the first row: 8-14 % of a cold tile's time (perf, the bench city's z15-17 tiles;
 * the densest z15 tile inserts ~10,000). Sorting the same ids in an array costs ~1 %, and the rows
 * are still looked up in fid order, neighbours on the same pages.
 *
 * Used by: query.c (store_query_run, the box queries without an explicit order).
 * Must not: outlive the statement the array is bound to (the caller frees it after the reset). */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#define IDS_POINTER "spp_ids" /* sqlite3_bind_pointer's type: other pointers are refused */

/* ---- the table-valued function: spp_ids(pointer) -> spp_id, in the array's order ---- */

struct ids_cursor {
    sqlite3_vtab_cursor base;
    const struct store_ids *ids;
    size_t i;
};

static int ids_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                       sqlite3_vtab **out, char **err)
{
    (void)aux, (void)argc, (void)argv, (void)err;
    /* column 0 spp_id, column 1 the hidden argument; "spp_" names: no layer field has them */
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(spp_id INTEGER, spp_ids HIDDEN)");
    if (rc != SQLITE_OK) return rc;
    sqlite3_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    *out = v;
    return SQLITE_OK;
}

static int ids_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

/* The argument must be given (spp_ids = ?); the rows come out in ascending spp_id. */
static int ids_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    (void)v;
    int arg = -1;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn != 1) continue;
        if (c->op != SQLITE_INDEX_CONSTRAINT_EQ || !c->usable) return SQLITE_CONSTRAINT;
        arg = i;
    }
    if (arg < 0) return SQLITE_CONSTRAINT;
    info->aConstraintUsage[arg].argvIndex = 1;
    info->aConstraintUsage[arg].omit = 1;
    if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == 0 && !info->aOrderBy[0].desc)
        info->orderByConsumed = 1;
    info->estimatedCost = 1000;
    info->estimatedRows = 1000;
    return SQLITE_OK;
}

static int ids_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    struct ids_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int ids_close(sqlite3_vtab_cursor *cur)
{
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int ids_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc,
                      sqlite3_value **argv)
{
    (void)idx, (void)idx_str;
    struct ids_cursor *c = (struct ids_cursor *)cur;
    c->ids = argc == 1 ? sqlite3_value_pointer(argv[0], IDS_POINTER) : NULL; /* NULL: no rows */
    c->i = 0;
    return SQLITE_OK;
}

static int ids_next(sqlite3_vtab_cursor *cur)
{
    ((struct ids_cursor *)cur)->i++;
    return SQLITE_OK;
}

static int ids_eof(sqlite3_vtab_cursor *cur)
{
    const struct ids_cursor *c = (const struct ids_cursor *)cur;
    return !c->ids || c->i >= c->ids->n;
}

static int ids_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    const struct ids_cursor *c = (const struct ids_cursor *)cur;
    if (col == 0)
        sqlite3_result_int64(ctx, c->ids->v[c->i]);
    else
        sqlite3_result_null(ctx);
    return SQLITE_OK;
}

static int ids_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *rowid)
{
    *rowid = (sqlite_int64)((const struct ids_cursor *)cur)->i;
    return SQLITE_OK;
}

static const sqlite3_module ids_module = {
    .iVersion = 0,
    .xConnect = ids_connect, /* no xCreate: eponymous only (spp_ids(...) in FROM) */
    .xBestIndex = ids_best_index,
    .xDisconnect = ids_disconnect,
    .xOpen = ids_open,
    .xClose = ids_close,
    .xFilter = ids_filter,
    .xNext = ids_next,
    .xEof = ids_eof,
    .xColumn = ids_column,
    .xRowid = ids_rowid,
};

int store_ids_register(sqlite3 *db)
{
    return sqlite3_create_module_v2(db, "spp_ids", &ids_module, NULL, NULL);
}

int store_ids_bind(sqlite3_stmt *s, int pos, const struct store_ids *ids)
{
    return sqlite3_bind_pointer(s, pos, (void *)ids, IDS_POINTER, NULL);
}

/* ---- the ids of a box ---- */

/* Ascending order, LSD radix on 11-bit digits, up to the highest bit in which the ids differ (a
 * city's fids take 2 passes). */
static int sort_ids(int64_t *v, size_t n)
{
    if (n < 2) return 0;
    const uint64_t flip = 1ull << 63; /* signed order as unsigned */
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = (uint64_t)v[i] ^ flip;
        lo = u < lo ? u : lo, hi = u > hi ? u : hi;
    }
    if (lo == hi) return 0;
    int top = 64 - __builtin_clzll(lo ^ hi); /* bits above it are the same in every id */
    int64_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return ERR_NOMEM;
    int64_t *a = v, *b = tmp;
    for (int shift = 0; shift < top; shift += 11) {
        size_t count[2048] = {0};
        for (size_t i = 0; i < n; i++)
            count[(((uint64_t)a[i] ^ flip) >> shift) & 2047]++;
        size_t sum = 0;
        for (size_t d = 0; d < 2048; d++) {
            size_t k = count[d];
            count[d] = sum, sum += k;
        }
        for (size_t i = 0; i < n; i++)
            b[count[(((uint64_t)a[i] ^ flip) >> shift) & 2047]++] = a[i];
        int64_t *t = a;
        a = b, b = t;
    }
    if (a != v) memcpy(v, a, n * sizeof *v);
    free(tmp);
    return 0;
}

int store_put_box_select(struct buf *b, const struct store_query *q)
{
    return buf_printf(b,
                      "SELECT pkid FROM \"idx_%s_geom\" WHERE xmin <= ? AND xmax >= ? AND"
                      " ymin <= ? AND ymax >= ?",
                      q->layer->id) ||
           (q->index_min_extent > 0 && buf_puts(b, " AND (xmax - xmin >= ? OR ymax - ymin >= ?)"));
}

int store_bind_box_select(sqlite3_stmt *s, int *pos, const struct store_query *q)
{
    const struct bbox *b = &q->bbox;
    double v[6] = {b->maxx, b->minx, b->maxy, b->miny, q->index_min_extent, q->index_min_extent};
    int np = q->index_min_extent > 0 ? 6 : 4, rc = SQLITE_OK;
    for (int i = 0; i < np && rc == SQLITE_OK; i++)
        rc = sqlite3_bind_double(s, ++*pos, v[i]);
    return rc;
}

int store_box_ids(struct store *st, const struct store_query *q, struct store_ids *out, int *fits,
                  struct err *err)
{
    out->v = NULL, out->n = 0;
    *fits = 1;
    struct buf sql;
    buf_init(&sql);
    int bad = store_put_box_select(&sql, q);
    sqlite3_stmt *s = bad ? NULL : store_prepare(st, sql.data, err);
    buf_fini(&sql);
    if (bad) return err_set(err, ERR_NOMEM, "out of memory");
    if (!s) return ERR_DB;
    int pos = 0, rc = store_bind_box_select(s, &pos, q);
    size_t cap = 0;
    int step = SQLITE_DONE;
    while (rc == SQLITE_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == st->ids_max) { /* the sub-select's temporary b-tree spills to disk */
            *fits = 0;
            break;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            int64_t *nv = realloc(out->v, nc * sizeof *nv);
            if (!nv) {
                sqlite3_reset(s);
                store_ids_free(out);
                return err_set(err, ERR_NOMEM, "out of memory");
            }
            out->v = nv, cap = nc;
        }
        out->v[out->n++] = sqlite3_column_int64(s, 0);
    }
    if (!*fits) {
        sqlite3_reset(s);
        store_ids_free(out);
        return 0;
    }
    if (rc != SQLITE_OK || step != SQLITE_DONE) {
        rc = store_db_error(st, err, q->layer->id);
        sqlite3_reset(s);
        store_ids_free(out);
        return rc;
    }
    sqlite3_reset(s);
    if (sort_ids(out->v, out->n)) {
        store_ids_free(out);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    return 0;
}

void store_ids_free(struct store_ids *ids)
{
    free(ids->v);
    ids->v = NULL, ids->n = 0;
}
