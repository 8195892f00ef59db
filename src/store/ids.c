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

#include <stdio.h>
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

/* ---- the R*Tree's nodes, walked here ---- */

/* SQLite's rtree keeps each node as a blob in "<index>_node" (nodeno, data): a 2-byte depth of
 * the tree (read from the root, node 1), a 2-byte cell count, then the cells: an 8-byte id (a
 * row's at the leaves, a child node's above) and per dimension a min and a max, 4 bytes each
 * (IEEE float for `rtree`), all big-endian (SQLite's ext/rtree/rtree.c, "Database Format").
 * Walking them costs a blob read per node instead of the virtual table's per-row calls: the
 * densest z15 tile's ~10,000 ids took 9 % of its instructions (callgrind) through
 * "SELECT pkid FROM idx_... WHERE box". The tests are the virtual table's own (rtree.c
 * rtreeLeafConstraint, rtreeNonleafConstraint): the stored float widened to double against the
 * double bound, a node entered when its box meets the window; the extent test, which SQL
 * evaluates on the columns (floats widened), is made on the leaves only, as there. */
#define RTREE_CELL      24 /* id + 2 dimensions x (min, max) x 4 bytes */
#define RTREE_MAX_DEPTH 40 /* rtree.c's own limit: deeper is a corrupt file */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static double be_float(const unsigned char *p)
{
    uint32_t u = be32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* 1 when layer's index is SQLite's float rtree over (pkid, xmin, xmax, ymin, ymax), the one
 * SpatiaLite's CreateSpatialIndex makes; remembered per connection once it exists. */
static int rtree_direct(struct store *st, const char *layer)
{
    for (int i = 0; i < st->n_rtree_kinds; i++)
        if (strcmp(st->rtree_kinds[i].layer, layer) == 0) return st->rtree_kinds[i].direct;
    char name[128];
    if (snprintf(name, sizeof name, "idx_%s_geom", layer) >= (int)sizeof name) return 0;
    struct err e;
    err_clear(&e);
    sqlite3_stmt *s =
        store_prepare(st, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", &e);
    if (!s) return 0;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int found = sqlite3_step(s) == SQLITE_ROW, direct = 0;
    if (found) {
        const char *sql = (const char *)sqlite3_column_text(s, 0),
                   *u = sql ? strstr(sql, "USING ") : NULL;
        char cols[128];
        size_t n = 0;
        if (u && strncmp(u + 6, "rtree(", 6) == 0)
            for (const char *c = u + 12; *c && n + 1 < sizeof cols; c++)
                if (*c != ' ' && *c != '"') cols[n++] = *c;
        cols[n] = '\0';
        direct = strcmp(cols, "pkid,xmin,xmax,ymin,ymax)") == 0;
    }
    sqlite3_reset(s);
    if (found && strlen(layer) < sizeof st->rtree_kinds[0].layer &&
        st->n_rtree_kinds < (int)ARRAY_LEN(st->rtree_kinds)) {
        struct rtree_kind *k = &st->rtree_kinds[st->n_rtree_kinds++];
        snprintf(k->layer, sizeof k->layer, "%s", layer);
        k->direct = direct;
    }
    return direct;
}

struct node_ref {
    int64_t node;
    int level; /* 0: a leaf */
};

/* Appends id to out (growing it); ERR_NOMEM. */
static int push_id(struct store_ids *out, size_t *cap, int64_t id)
{
    if (out->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        int64_t *nv = realloc(out->v, nc * sizeof *nv);
        if (!nv) return ERR_NOMEM;
        out->v = nv, *cap = nc;
    }
    out->v[out->n++] = id;
    return 0;
}

/* The ids of q's box from the node blobs: 0 (*fits as store_box_ids), an error, or -1 when the
 * nodes are not as expected (the caller reads through SQL instead). */
static int walk_rtree(struct store *st, const struct store_query *q, struct store_ids *out,
                      int *fits, struct err *err)
{
    struct buf sql;
    buf_init(&sql);
    int bad =
        buf_printf(&sql, "SELECT data FROM \"idx_%s_geom_node\" WHERE nodeno = ?", q->layer->id);
    sqlite3_stmt *s = bad ? NULL : store_prepare(st, sql.data, err);
    buf_fini(&sql);
    if (bad) return err_set(err, ERR_NOMEM, "out of memory");
    if (!s) return ERR_DB;
    const struct bbox b = q->bbox;
    const double u = q->index_min_extent;
    struct node_ref *stack = NULL;
    size_t n_stack = 0, cap_stack = 0, cap = 0;
    int rc = 0, depth = -1;
    struct node_ref at = {1, 0};
    for (;;) {
        sqlite3_bind_int64(s, 1, at.node);
        int step = sqlite3_step(s);
        const unsigned char *d = step == SQLITE_ROW ? sqlite3_column_blob(s, 0) : NULL;
        int len = d ? sqlite3_column_bytes(s, 0) : 0;
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = store_db_error(st, err, q->layer->id);
            break;
        }
        if (depth < 0 && len >= 4) { /* the root: the tree's depth */
            depth = d[0] << 8 | d[1];
            at.level = depth;
        }
        int n = len >= 4 ? d[2] << 8 | d[3] : -1;
        if (n < 0 || 4 + (size_t)n * RTREE_CELL > (size_t)len || depth > RTREE_MAX_DEPTH) {
            rc = -1; /* a missing or short node */
            break;
        }
        for (int i = 0; i < n && !rc; i++) {
            const unsigned char *c = d + 4 + (size_t)i * RTREE_CELL;
            double xmin = be_float(c + 8), xmax = be_float(c + 12);
            double ymin = be_float(c + 16), ymax = be_float(c + 20);
            if (!(xmin <= b.maxx && xmax >= b.minx && ymin <= b.maxy && ymax >= b.miny)) continue;
            int64_t id = (int64_t)((uint64_t)be32(c) << 32 | be32(c + 4));
            if (at.level > 0) {
                if (n_stack == cap_stack) {
                    size_t nc = cap_stack ? cap_stack * 2 : 64;
                    struct node_ref *ns = realloc(stack, nc * sizeof *ns);
                    if (!ns) {
                        rc = err_set(err, ERR_NOMEM, "out of memory");
                        break;
                    }
                    stack = ns, cap_stack = nc;
                }
                stack[n_stack++] = (struct node_ref){id, at.level - 1};
            } else if (u <= 0 || xmax - xmin >= u || ymax - ymin >= u) {
                if (out->n == st->ids_max) { /* the sub-select's temporary b-tree spills */
                    *fits = 0;
                    break;
                }
                if (push_id(out, &cap, id)) rc = err_set(err, ERR_NOMEM, "out of memory");
            }
        }
        sqlite3_reset(s);
        if (rc || !*fits || !n_stack) break;
        at = stack[--n_stack];
    }
    sqlite3_reset(s);
    free(stack);
    return rc;
}

int store_box_ids(struct store *st, const struct store_query *q, struct store_ids *out, int *fits,
                  struct err *err)
{
    out->v = NULL, out->n = 0;
    *fits = 1;
    if (rtree_direct(st, q->layer->id)) {
        int rc = walk_rtree(st, q, out, fits, err);
        if (rc == 0 && *fits && sort_ids(out->v, out->n))
            rc = err_set(err, ERR_NOMEM, "out of memory");
        if (rc || !*fits) store_ids_free(out);
        if (rc != -1) return rc;
        *fits =
            1; /* nodes not as expected: the virtual table reads them (and says what is wrong) */
    }
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
        if (push_id(out, &cap, sqlite3_column_int64(s, 0))) {
            sqlite3_reset(s);
            store_ids_free(out);
            return err_set(err, ERR_NOMEM, "out of memory");
        }
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
