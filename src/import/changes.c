/* SPDX-License-Identifier: MIT */
/* changes.c: the areas a batch changed, for the tile cache (spp_changes, read by
 * src/store/changes.c). Space is cut into 500 m cells of the storage CRS. Before a layer is
 * replaced, each cell gets the XOR of the hashes of the features touching it (all columns but
 * import_batch, and the geometry blob); after the load the same is computed again, and only cells
 * whose hash differs are written, so re-importing unchanged sources invalidates nothing. A layer
 * that was empty before writes every cell its new features touch. */
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

int batch_cell_hashes(struct batch *b, const struct layer_def *l, struct cellhash **out, size_t *n,
                      struct err *err)
{
    *out = NULL, *n = 0;
    struct buf q;
    buf_init(&q);
    buf_puts(&q, "SELECT MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom), fid, geom");
    for (int i = 0; i < l->n_fields; i++)
        if (strcmp(l->fields[i].name, "import_batch") != 0) {
            buf_puts(&q, ", ");
            store_put_ident(&q, l->fields[i].name);
        }
    buf_puts(&q, " FROM ");
    store_put_ident(&q, l->id);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(b->db, q.data, -1, &s, NULL) == SQLITE_OK
                 ? 0
                 : store_db_error(b->st, err, l->id);
    buf_fini(&q);
    if (rc) return rc;
    struct hashes hs = {NULL, 0, 0, 0, 0};
    int cols = sqlite3_column_count(s);
    while (sqlite3_step(s) == SQLITE_ROW && !hs.oom) {
        if (sqlite3_column_type(s, 0) == SQLITE_NULL) continue;
        struct bbox box = {sqlite3_column_double(s, 0), sqlite3_column_double(s, 1),
                           sqlite3_column_double(s, 2), sqlite3_column_double(s, 3)};
        hs.h = row_hash(s, 4, cols);
        each_cell(&box, add_hash, &hs);
    }
    sqlite3_finalize(s);
    if (hs.oom) {
        free(hs.v);
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
    return 0;
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

int batch_write_changes(struct batch *b, const struct layer_def *l, struct err *err)
{
    if (b->n_old_hash) {
        struct cellhash *nw = NULL;
        size_t nn = 0;
        int rc = batch_cell_hashes(b, l, &nw, &nn, err);
        if (rc) return rc;
        diff(b, b->old_hash, b->n_old_hash, nw, nn);
        free(nw);
    }
    free(b->old_hash);
    b->old_hash = NULL, b->n_old_hash = 0;
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
    return rc;
}
