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
 * changed counts against the previous batch (issue 16). The change feed (spp_feature_changes:
 * insert, update, delete per identity, issue 21) is the store's to record, after the lineage
 * updates (store_load_feature_changes, told which features are unchanged). Everything is read and
 * written through the store's load API (store.h, "Loading"); the hashes are over the values it
 * hands back. */
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

/* A value's hash: its type, then its bytes (the numbers as stored, the text or blob as is). */
static uint64_t value_hash(uint64_t h, const struct value *v)
{
    unsigned char t = (unsigned char)v->type;
    h = fnv(h, &t, 1);
    if (v->type == VAL_INT)
        h = fnv(h, &v->i, sizeof v->i);
    else if (v->type == VAL_REAL)
        h = fnv(h, &v->d, sizeof v->d);
    else if (v->type == VAL_TEXT || v->type == VAL_BLOB)
        h = fnv(h, v->s, v->len >= 0 ? (size_t)v->len : strlen(v->s));
    return h;
}

/* A feature's content: its geometry and its attributes f->values[0..n_attr). */
static uint64_t content_hash(const struct feature *f, int n_attr)
{
    struct value g = {f->wkb ? VAL_BLOB : VAL_NULL, 0, 0, (const char *)f->wkb, (int)f->wkb_len};
    uint64_t h = value_hash(1469598103934665603ULL, &g);
    for (int i = 0; i < n_attr; i++)
        h = value_hash(h, &f->values[i]);
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

static const char *value_text(const struct value *v)
{
    return v->type == VAL_TEXT ? v->s : NULL;
}

/* The index of the lineage tuple lin[0..3] (only text counts; anything else is null) in
 * b->lineage, added if new. */
static int intern_lineage(struct batch *b, const struct value *lin, uint32_t *out)
{
    const char *v[4];
    for (int i = 0; i < 4; i++)
        v[i] = value_text(&lin[i]);
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

struct hash_scan {
    struct batch *b;
    struct hashes hs;
    struct feats fs;
    int want_feat;
    int n_attr;      /* the scan's fields: n_attr attributes, then the 4 lineage fields */
    int key;         /* index of the natural key among the attributes, -1 if none */
    int has_lineage; /* the layer has all 4 lineage fields */
    int64_t n_rows;
};

static int hash_row(void *ud, const struct feature *f, const struct bbox *box)
{
    struct hash_scan *x = ud;
    uint64_t content = content_hash(f, x->n_attr);
    x->hs.h = fnv(content, &f->fid, sizeof f->fid); /* a tile's MVT ids are fids */
    x->n_rows++;
    if (x->want_feat) {
        /* identity: the natural key's value, else the position in the sources (fid) */
        struct feathash ft = {fnv(1469598103934665603ULL, &f->fid, sizeof f->fid), content, x->hs.h,
                              0, f->fid};
        if (x->key >= 0 && f->values[x->key].type != VAL_NULL)
            ft.key = value_hash(1469598103934665603ULL, &f->values[x->key]);
        if (x->has_lineage && intern_lineage(x->b, &f->values[x->n_attr], &ft.lineage))
            return ERR_NOMEM;
        if (add_feat(&x->fs, &ft)) return ERR_NOMEM;
    }
    if (box) each_cell(box, add_hash, &x->hs);
    return x->hs.oom ? ERR_NOMEM : 0;
}

int batch_cell_hashes(struct batch *b, const struct layer_def *l, struct cellhash **out, size_t *n,
                      struct feathash **feat, size_t *n_feat, int64_t *n_rows, struct err *err)
{
    *out = NULL, *n = 0;
    if (feat) *feat = NULL, *n_feat = 0;
    if (n_rows) *n_rows = 0;
    int *fields = malloc(((size_t)l->n_fields + 4) * sizeof *fields);
    if (!fields) return err_set(err, ERR_NOMEM, "out of memory");
    struct hash_scan x;
    memset(&x, 0, sizeof x);
    x.b = b, x.want_feat = feat != NULL, x.key = -1, x.has_lineage = 1;
    for (int i = 0; i < l->n_fields; i++)
        if (!is_lineage_col(l->fields[i].name)) {
            if (i == l->key) x.key = x.n_attr;
            fields[x.n_attr++] = i;
        }
    for (int k = 0; k < 4; k++) {
        fields[x.n_attr + k] = layer_field_index(l, lineage_cols[k]);
        x.has_lineage &= fields[x.n_attr + k] >= 0;
    }
    struct store_scan q = {l, fields, x.n_attr + (x.has_lineage ? 4 : 0), 1, -1};
    int rc = store_load_scan(b->ld, &q, hash_row, &x, err);
    free(fields);
    if (rc) {
        free(x.hs.v), free(x.fs.v);
        return rc == ERR_NOMEM ? err_set(err, ERR_NOMEM, "out of memory") : rc;
    }
    struct hashes hs = x.hs;
    if (hs.n) qsort(hs.v, hs.n, sizeof *hs.v, cmp_cellhash);
    size_t k = 0; /* one entry per cell, XOR of its features */
    for (size_t i = 0; i < hs.n; i++) {
        if (k && hs.v[k - 1].cell == hs.v[i].cell)
            hs.v[k - 1].h ^= hs.v[i].h;
        else
            hs.v[k++] = hs.v[i];
    }
    *out = hs.v, *n = k;
    if (feat)
        *feat = x.fs.v, *n_feat = x.fs.n;
    else
        free(x.fs.v);
    if (n_rows) *n_rows = x.n_rows;
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
    int fields[4];
    for (int k = 0; k < 4; k++)
        if ((fields[k] = layer_field_index(l, lineage_cols[k])) < 0) return 0;
    int rc = 0;
    for (size_t j = 0; j < nn && !rc; j++) {
        const struct feathash *hit = bsearch(&nw[j], old, no, sizeof *old, cmp_h);
        if (!hit || hit->fid != nw[j].fid || hit->lineage == nw[j].lineage) continue;
        char **t = &b->lineage[4 * hit->lineage];
        struct value v[4];
        for (int k = 0; k < 4; k++)
            v[k] = (struct value){t[k] ? VAL_TEXT : VAL_NULL, 0, 0, t[k], -1};
        rc = store_load_update(b->ld, l, nw[j].fid, fields, v, 4, err);
    }
    return rc;
}

/* The fids of the new features that are the old ones unchanged (same content and fid): no change
 * for the change feed. old is sorted by cmp_h here. *out is malloc'ed (NULL when none). */
static int unchanged_fids(struct feathash *old, size_t no, const struct feathash *nw, size_t nn,
                          int64_t **out, size_t *n_out)
{
    *out = NULL, *n_out = 0;
    if (!no || !nn) return 0;
    qsort(old, no, sizeof *old, cmp_h);
    int64_t *v = malloc(nn * sizeof *v);
    if (!v) return ERR_NOMEM;
    size_t k = 0;
    for (size_t j = 0; j < nn; j++) {
        const struct feathash *hit = bsearch(&nw[j], old, no, sizeof *old, cmp_h);
        if (hit && hit->fid == nw[j].fid) v[k++] = nw[j].fid;
    }
    *out = v, *n_out = k;
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
    int64_t added = 0, removed = 0, changed = 0, n_new = -1;
    int64_t *same = NULL; /* fids of unchanged features, for the change feed */
    size_t n_same = 0;
    if (b->n_old_feat) {
        struct cellhash *nw = NULL;
        struct feathash *nf = NULL;
        size_t nn = 0, n_nf = 0;
        int rc = batch_cell_hashes(b, l, &nw, &nn, &nf, &n_nf, &n_new, err);
        if (!rc) rc = keep_lineage(b, l, b->old_feat, b->n_old_feat, nf, n_nf, err);
        if (!rc && unchanged_fids(b->old_feat, b->n_old_feat, nf, n_nf, &same, &n_same))
            rc = err_set(err, ERR_NOMEM, "out of memory");
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
    int rc = 0;
    for (size_t i = 0; i < b->n_cells && !rc; i++) {
        long x, y;
        cell_xy(b->cells[i], &x, &y);
        struct bbox box = {x * CELL_M, y * CELL_M, (x + 1) * CELL_M, (y + 1) * CELL_M};
        rc = store_load_change(b->ld, l, &box, b->started, err);
    }
    json_object_set_new(report_layer(b, l), "changed_cells", json_integer((json_int_t)b->n_cells));
    b->n_cells = 0;
    if (!rc)
        rc = store_load_feature_changes(b->ld, l, b->started, same, n_same, err); /* issue 21 */
    free(same);
    return rc;
}

void batch_lineage_free(struct batch *b)
{
    for (size_t i = 0; i < (size_t)b->n_lineage * 4; i++)
        free(b->lineage[i]);
    free(b->lineage);
    b->lineage = NULL, b->n_lineage = 0;
}
