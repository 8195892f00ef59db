/* SPDX-License-Identifier: MIT */
/* changes.c: the areas a batch changed, for the tile cache (spp_changes, read by
 * src/store/changes.c), and what changed, for the report. Space is cut into 500 m cells of the
 * storage CRS. Before a layer is replaced, each cell gets the XOR of the hashes of the features
 * touching it: a feature's hash covers its geometry, its attributes and its fid (the id MVT tiles
 * carry), never the lineage (src_file, src_crs, src_encoding, import_batch) nor the import time.
 * After the load the same is computed again and only cells whose hash differs are written: an
 * unchanged re-import invalidates nothing, a changed feature the cells of its old and new
 * geometry. Unchanged features keep their old lineage, so their rows are byte-identical and no
 * tile (planner tiles show the lineage) is stale. A layer that was empty before writes every cell
 * its new features touch. Features are also matched by natural key (by fid, i.e. position in the
 * sources, in layers without one or when the key is null) for the report's added, removed and
 * changed counts against the previous batch (issue 16). */
#include "batch_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_M    500.0
#define CELL_BIAS (1L << 30)

static int64_t cell_key(long x, long y)
{
    return ((int64_t)(x + CELL_BIAS) << 31) | (int64_t)(y + CELL_BIAS);
}

static void cell_xy(int64_t k, long *x, long *y)
{
    *x = (long)(k >> 31) - CELL_BIAS;
    *y = (long)(k & 0x7FFFFFFF) - CELL_BIAS;
}

/* Calls fn for each cell a box touches (absurd boxes: their first cell only). */
static void each_cell(const struct bbox *box, void (*fn)(void *ud, int64_t cell), void *ud)
{
    if (bbox_is_empty(box) || !isfinite(box->minx) || !isfinite(box->maxx)) return;
    long x0 = (long)floor(box->minx / CELL_M), x1 = (long)floor(box->maxx / CELL_M);
    long y0 = (long)floor(box->miny / CELL_M), y1 = (long)floor(box->maxy / CELL_M);
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > 4096) x1 = x0, y1 = y0;
    for (long x = x0; x <= x1; x++)
        for (long y = y0; y <= y1; y++)
            fn(ud, cell_key(x, y));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void batch_cells_compact(struct batch *b)
{
    if (b->n_cells) qsort(b->cells, b->n_cells, sizeof *b->cells, cmp_i64);
    size_t k = 0;
    for (size_t i = 0; i < b->n_cells; i++)
        if (!k || b->cells[k - 1] != b->cells[i]) b->cells[k++] = b->cells[i];
    b->n_cells = k;
}

static void add_cell(void *ud, int64_t cell)
{
    struct batch *b = ud;
    if (b->n_cells == b->cap_cells) {
        size_t cap = b->cap_cells ? b->cap_cells * 2 : 1024;
        int64_t *c = realloc(b->cells, cap * sizeof *c);
        if (!c) return;
        b->cells = c, b->cap_cells = cap;
    }
    b->cells[b->n_cells++] = cell;
    if (b->n_cells >= 1 << 16) batch_cells_compact(b); /* keep the set small as it grows */
}

void batch_cells_add(struct batch *b, const struct bbox *box)
{
    each_cell(box, add_cell, b);
}

/* ---- content hashes per cell ---- */

struct hashes {
    struct cellhash *v;
    size_t n, cap;
    uint64_t h; /* of the current feature */
    int oom;
};

static void add_hash(void *ud, int64_t cell)
{
    struct hashes *hs = ud;
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? hs->cap * 2 : 1024;
        struct cellhash *v = realloc(hs->v, cap * sizeof *v);
        if (!v) {
            hs->oom = 1;
            return;
        }
        hs->v = v, hs->cap = cap;
    }
    hs->v[hs->n++] = (struct cellhash){cell, hs->h};
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

static uint64_t row_hash(sqlite3_stmt *s, int first, int n_cols)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = first; i < n_cols; i++) {
        unsigned char t = (unsigned char)sqlite3_column_type(s, i);
        h = fnv(h, &t, 1);
        if (t == SQLITE_INTEGER) {
            int64_t v = sqlite3_column_int64(s, i);
            h = fnv(h, &v, sizeof v);
        } else if (t == SQLITE_FLOAT) {
            double v = sqlite3_column_double(s, i);
            h = fnv(h, &v, sizeof v);
        } else if (t != SQLITE_NULL) {
            const void *p = sqlite3_column_blob(s, i);
            h = fnv(h, p, (size_t)sqlite3_column_bytes(s, i));
        }
    }
    return h;
}

static int cmp_cellhash(const void *a, const void *b)
{
    int64_t x = ((const struct cellhash *)a)->cell, y = ((const struct cellhash *)b)->cell;
    return x < y ? -1 : x > y;
}

/* Lineage columns: where a feature came from, not what it is. */
static const char *const lineage_cols[4] = {"src_file", "src_crs", "src_encoding", "import_batch"};

static int is_lineage_col(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, lineage_cols[i]) == 0) return 1;
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The index of the row's lineage tuple (columns first..first+3) in b->lineage, added if new. */
static int intern_lineage(struct batch *b, sqlite3_stmt *s, int first, uint32_t *out)
{
    const char *v[4];
    for (int i = 0; i < 4; i++)
        v[i] = (const char *)sqlite3_column_text(s, first + i);
    for (uint32_t k = b->n_lineage; k-- > 0;) { /* newest first: rows come grouped */
        char **t = &b->lineage[4 * k];
        if (same_str(t[0], v[0]) && same_str(t[1], v[1]) && same_str(t[2], v[2]) &&
            same_str(t[3], v[3])) {
            *out = k;
            return 0;
        }
    }
    char **t = realloc(b->lineage, (size_t)(b->n_lineage + 1) * 4 * sizeof *t);
    if (!t) return ERR_NOMEM;
    b->lineage = t;
    for (int i = 0; i < 4; i++)
        t[4 * b->n_lineage + i] = v[i] ? str_dup(v[i]) : NULL;
    *out = b->n_lineage++;
    return 0;
}

struct feats {
    struct feathash *v;
    size_t n, cap;
};

static int add_feat(struct feats *f, const struct feathash *x)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 1024;
        struct feathash *v = realloc(f->v, cap * sizeof *v);
        if (!v) return ERR_NOMEM;
        f->v = v, f->cap = cap;
    }
    f->v[f->n++] = *x;
    return 0;
}

int batch_cell_hashes(struct batch *b, const struct layer_def *l, struct cellhash **out, size_t *n,
                      struct feathash **feat, size_t *n_feat, int64_t *n_rows, struct err *err)
{
    *out = NULL, *n = 0;
    if (feat) *feat = NULL, *n_feat = 0;
    if (n_rows) *n_rows = 0;
    struct buf q;
    buf_init(&q);
    buf_puts(&q, "SELECT MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom), fid, geom");
    int n_attr = 0, key_col = -1;
    for (int i = 0; i < l->n_fields; i++)
        if (!is_lineage_col(l->fields[i].name)) {
            if (i == l->key) key_col = 6 + n_attr;
            buf_puts(&q, ", ");
            store_put_ident(&q, l->fields[i].name);
            n_attr++;
        }
    int lin_col = 6 + n_attr, has_lineage = 1;
    for (int k = 0; k < 4; k++)
        has_lineage &= layer_field_index(l, lineage_cols[k]) >= 0;
    for (int k = 0; k < 4 && has_lineage; k++)
        buf_printf(&q, ", \"%s\"", lineage_cols[k]);
    buf_puts(&q, " FROM ");
    store_put_ident(&q, l->id);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(b->db, q.data, -1, &s, NULL) == SQLITE_OK
                 ? 0
                 : store_db_error(b->st, err, l->id);
    buf_fini(&q);
    if (rc) return rc;
    struct hashes hs = {NULL, 0, 0, 0, 0};
    struct feats fs = {NULL, 0, 0};
    while (sqlite3_step(s) == SQLITE_ROW && !hs.oom) {
        uint64_t content = row_hash(s, 5, lin_col);
        int64_t fid = sqlite3_column_int64(s, 4);
        hs.h = fnv(content, &fid, sizeof fid); /* a tile's MVT ids are fids */
        if (n_rows) ++*n_rows;
        if (feat) {
            /* identity: the natural key's value, else the position in the sources (fid) */
            struct feathash f = {fnv(1469598103934665603ULL, &fid, sizeof fid), content, hs.h, 0,
                                 fid};
            if (key_col >= 0 && sqlite3_column_type(s, key_col) != SQLITE_NULL)
                f.key = row_hash(s, key_col, key_col + 1);
            if (has_lineage && intern_lineage(b, s, lin_col, &f.lineage)) hs.oom = 1;
            if (add_feat(&fs, &f)) hs.oom = 1;
        }
        if (sqlite3_column_type(s, 0) == SQLITE_NULL) continue;
        struct bbox box = {sqlite3_column_double(s, 0), sqlite3_column_double(s, 1),
                           sqlite3_column_double(s, 2), sqlite3_column_double(s, 3)};
        each_cell(&box, add_hash, &hs);
    }
    sqlite3_finalize(s);
    if (hs.oom) {
        free(hs.v), free(fs.v);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (hs.n) qsort(hs.v, hs.n, sizeof *hs.v, cmp_cellhash);
    size_t k = 0; /* one entry per cell, XOR of its features */
    for (size_t i = 0; i < hs.n; i++) {
        if (k && hs.v[k - 1].cell == hs.v[i].cell)
            hs.v[k - 1].h ^= hs.v[i].h;
        else
            hs.v[k++] = hs.v[i];
    }
    *out = hs.v, *n = k;
    if (feat) *feat = fs.v, *n_feat = fs.n;
    return 0;
}

/* ---- features: diff against the previous batch, lineage of unchanged features ---- */

static int cmp_key_content(const void *a, const void *b)
{
    const struct feathash *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    if (x->content != y->content) return x->content < y->content ? -1 : 1;
    return 0;
}

static int cmp_h(const void *a, const void *b)
{
    const struct feathash *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h;
}

void batch_feature_diff(const struct feathash *o, size_t no, const struct feathash *nw, size_t nn,
                        int64_t *added, int64_t *removed, int64_t *changed)
{
    size_t i = 0, j = 0;
    *added = *removed = *changed = 0;
    while (i < no || j < nn) {
        if (j == nn || (i < no && o[i].key < nw[j].key)) {
            ++*removed, i++;
        } else if (i == no || nw[j].key < o[i].key) {
            ++*added, j++;
        } else { /* a run of one key on both sides: equal contents pair up, the rest changed */
            uint64_t key = o[i].key;
            size_t ie = i, je = j;
            while (ie < no && o[ie].key == key)
                ie++;
            while (je < nn && nw[je].key == key)
                je++;
            size_t ro = ie - i, rn = je - j, same = 0;
            for (size_t a = i, c = j; a < ie && c < je;) {
                if (o[a].content == nw[c].content)
                    same++, a++, c++;
                else if (o[a].content < nw[c].content)
                    a++;
                else
                    c++;
            }
            size_t co = ro - same, cn = rn - same, ch = co < cn ? co : cn;
            *changed += (int64_t)ch;
            *removed += (int64_t)(co - ch);
            *added += (int64_t)(cn - ch);
            i = ie, j = je;
        }
    }
}

/* Unchanged features (same content and fid as before the batch) keep the lineage they had, so
 * their rows are as they were and no tile (planner tiles show the lineage) goes stale. */
static int keep_lineage(struct batch *b, const struct layer_def *l, struct feathash *old, size_t no,
                        const struct feathash *nw, size_t nn, struct err *err)
{
    if (!b->n_lineage || !no) return 0;
    qsort(old, no, sizeof *old, cmp_h);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE \"%s\" SET src_file = ?, src_crs = ?, src_encoding = ?, import_batch = ?"
             " WHERE fid = ?",
             l->id);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(b->db, sql, -1, &s, NULL) != SQLITE_OK)
        return store_db_error(b->st, err, l->id);
    int rc = 0;
    for (size_t j = 0; j < nn && !rc; j++) {
        const struct feathash *hit = bsearch(&nw[j], old, no, sizeof *old, cmp_h);
        if (!hit || hit->fid != nw[j].fid || hit->lineage == nw[j].lineage) continue;
        char **t = &b->lineage[4 * hit->lineage];
        sqlite3_reset(s);
        for (int k = 0; k < 4; k++)
            if (t[k])
                sqlite3_bind_text(s, k + 1, t[k], -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(s, k + 1);
        sqlite3_bind_int64(s, 5, nw[j].fid);
        if (sqlite3_step(s) != SQLITE_DONE) rc = store_db_error(b->st, err, l->id);
    }
    sqlite3_finalize(s);
    return rc;
}

/* The cells where old and new differ, into b->cells. */
static void diff(struct batch *b, const struct cellhash *o, size_t no, const struct cellhash *nw,
                 size_t nn)
{
    size_t i = 0, j = 0;
    b->n_cells = 0;
    while (i < no || j < nn) {
        if (j == nn || (i < no && o[i].cell < nw[j].cell)) {
            add_cell(b, o[i++].cell);
        } else if (i == no || nw[j].cell < o[i].cell) {
            add_cell(b, nw[j++].cell);
        } else {
            if (o[i].h != nw[j].h) add_cell(b, o[i].cell);
            i++, j++;
        }
    }
}

static int record_feature_changes(struct batch *b, const struct layer_def *l, struct err *err);

int batch_write_changes(struct batch *b, const struct layer_def *l, struct err *err)
{
    int64_t added = 0, removed = 0, changed = 0, n_new = -1;
    if (b->n_old_feat) {
        struct cellhash *nw = NULL;
        struct feathash *nf = NULL;
        size_t nn = 0, n_nf = 0;
        int rc = batch_cell_hashes(b, l, &nw, &nn, &nf, &n_nf, &n_new, err);
        if (!rc) rc = keep_lineage(b, l, b->old_feat, b->n_old_feat, nf, n_nf, err);
        if (rc) {
            free(nw), free(nf);
            return rc;
        }
        diff(b, b->old_hash, b->n_old_hash, nw, nn);
        qsort(b->old_feat, b->n_old_feat, sizeof *b->old_feat, cmp_key_content);
        if (n_nf) qsort(nf, n_nf, sizeof *nf, cmp_key_content);
        batch_feature_diff(b->old_feat, b->n_old_feat, nf, n_nf, &added, &removed, &changed);
        free(nw), free(nf);
    }
    json_t *lr = report_layer(b, l);
    if (n_new < 0) added = json_integer_value(json_object_get(lr, "written"));
    json_object_set_new(lr, "features_before", json_integer(b->n_old));
    json_object_set_new(lr, "added", json_integer(added));
    json_object_set_new(lr, "removed", json_integer(removed));
    json_object_set_new(lr, "changed", json_integer(changed));
    free(b->old_hash), free(b->old_feat);
    b->old_hash = NULL, b->n_old_hash = 0;
    b->old_feat = NULL, b->n_old_feat = 0;
    batch_cells_compact(b);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(b->db,
                           "INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy, at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return store_db_error(b->st, err, "spp_changes");
    int rc = 0;
    for (size_t i = 0; i < b->n_cells && !rc; i++) {
        long x, y;
        cell_xy(b->cells[i], &x, &y);
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, b->batch_id, -1, SQLITE_STATIC);
        sqlite3_bind_double(s, 3, x * CELL_M);
        sqlite3_bind_double(s, 4, y * CELL_M);
        sqlite3_bind_double(s, 5, (x + 1) * CELL_M);
        sqlite3_bind_double(s, 6, (y + 1) * CELL_M);
        sqlite3_bind_text(s, 7, b->started, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) rc = store_db_error(b->st, err, "spp_changes");
    }
    sqlite3_finalize(s);
    json_object_set_new(report_layer(b, l), "changed_cells", json_integer((json_int_t)b->n_cells));
    b->n_cells = 0;
    if (!rc) rc = record_feature_changes(b, l, err);
    return rc;
}

void batch_lineage_free(struct batch *b)
{
    for (size_t i = 0; i < (size_t)b->n_lineage * 4; i++)
        free(b->lineage[i]);
    free(b->lineage);
    b->lineage = NULL, b->n_lineage = 0;
}

/* ---- the change feed (issue 21): which features a batch inserted, updated and deleted ----
 * A feature's identity is its natural key (else its fid, as in the report's diff). Before a layer
 * is replaced its identities (and row-rule values) go into a temporary table; after the load,
 * features carrying this batch's import_batch (unchanged ones keep their old lineage) are inserts
 * or updates by whether their identity was there before, and identities no longer present are
 * deletes. Written to spp_feature_changes in the batch's transaction; /api/v1/changes reads it. */

static void identity_sql(const struct layer_def *l, struct buf *b)
{
    if (l->key >= 0) {
        buf_puts(b, "coalesce(CAST(");
        store_put_ident(b, l->fields[l->key].name);
        buf_puts(b, " AS TEXT), CAST(fid AS TEXT))");
    } else {
        buf_puts(b, "CAST(fid AS TEXT)");
    }
    buf_puts(b, ", ");
    if (l->row_field >= 0)
        store_put_ident(b, l->fields[l->row_field].name);
    else
        buf_puts(b, "NULL");
}

int batch_snapshot_keys(struct batch *b, const struct layer_def *l, struct err *err)
{
    struct buf q;
    buf_init(&q);
    buf_puts(&q, "CREATE TEMP TABLE IF NOT EXISTS spp_prev_keys (k TEXT, rowval);"
                 "CREATE INDEX IF NOT EXISTS temp.spp_prev_keys_k ON spp_prev_keys (k);"
                 "DELETE FROM temp.spp_prev_keys;"
                 "INSERT INTO temp.spp_prev_keys SELECT ");
    identity_sql(l, &q);
    buf_puts(&q, " FROM ");
    store_put_ident(&q, l->id);
    int rc = q.data ? store_exec(b->st, q.data, err) : err_set(err, ERR_NOMEM, "out of memory");
    buf_fini(&q);
    return rc;
}

static int record_feature_changes(struct batch *b, const struct layer_def *l, struct err *err)
{
    struct buf q;
    buf_init(&q);
    int rc = 0;
    buf_puts(&q, "CREATE TABLE IF NOT EXISTS spp_feature_changes (id INTEGER PRIMARY KEY,"
                 " layer TEXT NOT NULL, batch TEXT NOT NULL, at TEXT NOT NULL, op TEXT NOT NULL,"
                 " key TEXT NOT NULL, fid INTEGER, rowval);"
                 "CREATE INDEX IF NOT EXISTS spp_feature_changes_layer ON spp_feature_changes"
                 " (layer, id);"
                 "CREATE TEMP TABLE IF NOT EXISTS spp_prev_keys (k TEXT, rowval);"
                 "DROP TABLE IF EXISTS temp.spp_new_keys;"
                 "CREATE TEMP TABLE spp_new_keys (k TEXT, rowval, fid INTEGER, batch TEXT);"
                 "INSERT INTO temp.spp_new_keys SELECT ");
    identity_sql(l, &q);
    buf_puts(&q, ", fid, import_batch FROM ");
    store_put_ident(&q, l->id);
    buf_puts(&q, ";CREATE INDEX temp.spp_new_keys_k ON spp_new_keys (k);");
    rc = q.data ? store_exec(b->st, q.data, err) : err_set(err, ERR_NOMEM, "out of memory");
    buf_fini(&q);
    if (rc) return rc;
    static const char *const ins =
        "INSERT INTO spp_feature_changes (layer, batch, at, op, key, fid, rowval)"
        " SELECT ?1, ?2, ?3, CASE WHEN EXISTS (SELECT 1 FROM temp.spp_prev_keys p WHERE p.k = n.k)"
        " THEN 'update' ELSE 'insert' END, n.k, n.fid, n.rowval FROM temp.spp_new_keys n"
        " WHERE n.batch = ?2 ORDER BY n.fid";
    static const char *const del =
        "INSERT INTO spp_feature_changes (layer, batch, at, op, key, fid, rowval)"
        " SELECT ?1, ?2, ?3, 'delete', p.k, NULL, p.rowval FROM temp.spp_prev_keys p"
        " WHERE NOT EXISTS (SELECT 1 FROM temp.spp_new_keys n WHERE n.k = p.k) ORDER BY p.k";
    const char *const stmts[] = {del, ins};
    for (int i = 0; i < 2 && !rc; i++) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(b->db, stmts[i], -1, &s, NULL) != SQLITE_OK)
            return store_db_error(b->st, err, "spp_feature_changes");
        sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, b->batch_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, b->started, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) rc = store_db_error(b->st, err, "spp_feature_changes");
        sqlite3_finalize(s);
    }
    if (!rc)
        rc =
            store_exec(b->st, "DELETE FROM temp.spp_prev_keys; DROP TABLE temp.spp_new_keys;", err);
    return rc;
}
