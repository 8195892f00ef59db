/* SPDX-License-Identifier: MIT */
/* query.c: the one query path. Builds SELECT text from catalog names only (fields, order, the
 * R*Tree sub-select for a bbox, a WHERE fragment compiled by filter/), binds every request value,
 * and streams rows into a feature sink. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* Appends " FROM layer WHERE ..." and returns the number of '?' it added before q->params. */
static int put_from_where(struct store *st, const struct store_query *q, struct buf *b)
{
    const char *id = q->layer->id;
    int rc = buf_puts(b, " FROM ") || store_put_ident(b, id) || buf_puts(b, " WHERE 1");
    if (q->has_bbox) {
        rc = rc || buf_printf(b,
                              " AND fid IN (SELECT pkid FROM \"idx_%s_geom\" WHERE xmin <= ?"
                              " AND xmax >= ? AND ymin <= ? AND ymax >= ?)",
                              id);
        if (q->bbox_exact)
            rc = rc ||
                 buf_printf(b, " AND ST_Intersects(geom, BuildMbr(?, ?, ?, ?, %d)) = 1", st->srid);
    }
    if (q->where && *q->where) rc = rc || buf_printf(b, " AND (%s)", q->where);
    int field;
    const struct value *v;
    if (access_row_rule(q->layer, q->role, &field, &v)) /* bound last: bind_all */
        rc = rc || buf_puts(b, " AND ") || store_put_ident(b, q->layer->fields[field].name) ||
             buf_puts(b, " = ?");
    return rc;
}

static int bind_value(sqlite3_stmt *s, int i, const struct value *v)
{
    switch (v->type) {
    case VAL_INT:
        return sqlite3_bind_int64(s, i, v->i);
    case VAL_REAL:
        return sqlite3_bind_double(s, i, v->d);
    case VAL_TEXT:
        return sqlite3_bind_text(s, i, v->s, v->len >= 0 ? v->len : -1, SQLITE_STATIC);
    case VAL_BLOB:
        return sqlite3_bind_blob(s, i, v->s, v->len, SQLITE_STATIC);
    default:
        return sqlite3_bind_null(s, i);
    }
}

static int bind_all(const struct store_query *q, sqlite3_stmt *s, int *pos, int with_geom)
{
    int rc = 0;
    if (with_geom)
        for (int i = 0; i < q->n_geom_params && !rc; i++)
            rc = bind_value(s, ++*pos, &q->geom_params[i]);
    if (q->has_bbox) {
        const struct bbox *b = &q->bbox;
        rc = rc || sqlite3_bind_double(s, ++*pos, b->maxx) ||
             sqlite3_bind_double(s, ++*pos, b->minx) || sqlite3_bind_double(s, ++*pos, b->maxy) ||
             sqlite3_bind_double(s, ++*pos, b->miny);
        if (q->bbox_exact)
            rc = rc || sqlite3_bind_double(s, ++*pos, b->minx) ||
                 sqlite3_bind_double(s, ++*pos, b->miny) ||
                 sqlite3_bind_double(s, ++*pos, b->maxx) || sqlite3_bind_double(s, ++*pos, b->maxy);
    }
    for (int i = 0; i < q->n_params && !rc; i++)
        rc = bind_value(s, ++*pos, &q->params[i]);
    int field;
    const struct value *v;
    if (!rc && access_row_rule(q->layer, q->role, &field, &v)) rc = bind_value(s, ++*pos, v);
    return rc;
}

int store_query_count(struct store *st, const struct store_query *q, int64_t *count,
                      struct err *err)
{
    struct buf b;
    buf_init(&b);
    int rc = buf_puts(&b, "SELECT count(*)") || put_from_where(st, q, &b);
    if (rc) {
        buf_fini(&b);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    sqlite3_stmt *s = store_prepare(st, b.data, err);
    buf_fini(&b);
    if (!s) return ERR_DB;
    int pos = 0;
    if (bind_all(q, s, &pos, 0)) return store_db_error(st, err, q->layer->id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(s, 0);
        rc = 0;
    } else {
        rc = store_db_error(st, err, q->layer->id);
    }
    sqlite3_reset(s);
    return rc;
}

void store_track_reads(struct store *st, struct store_reads *reads)
{
    if (reads) memset(reads, 0, sizeof *reads);
    st->reads = reads;
}

/* Notes n features of q read, if anything in them is above public (store_track_reads); n < 0:
 * from the tile cache, not counted. */
static void note_read(struct store *st, const struct store_query *q, int64_t n)
{
    struct store_reads *rs = st->reads;
    const struct layer_def *l = q->layer;
    if (!rs || n == 0 || q->role == ROLE_PUBLIC) return;
    int field, restricted_fields = 0;
    const struct value *v;
    int rows =
        access_row_rule(l, ROLE_PUBLIC, &field, &v) && !access_row_rule(l, q->role, &field, &v);
    for (int i = 0; i < q->n_fields; i++)
        if (q->fields[i] >= 0 && q->fields[i] < l->n_fields &&
            l->fields[q->fields[i]].role > ROLE_PUBLIC)
            restricted_fields = 1;
    if (!rows && !restricted_fields) return;
    struct store_read *r = NULL;
    for (int i = 0; i < rs->n && !r; i++)
        if (!strcmp(rs->r[i].layer->id, l->id)) r = &rs->r[i];
    if (!r && rs->n < STORE_READS_MAX) {
        r = &rs->r[rs->n++];
        r->layer = l;
    }
    if (!r) {
        rs->overflow = 1;
        r = &rs->r[rs->n - 1];
    }
    r->rows |= rows;
    if (n > 0)
        r->n_features += n;
    else
        r->cached = 1;
    if (r->layer != l && strcmp(r->layer->id, l->id)) return;
    for (int i = 0; i < q->n_fields; i++)
        if (q->fields[i] >= 0 && q->fields[i] < l->n_fields && q->fields[i] < 256 &&
            l->fields[q->fields[i]].role > ROLE_PUBLIC)
            r->fields[q->fields[i]] = 1;
}

void store_note_cached(struct store *st, const struct layer_def *layer, enum role role,
                       int with_fields)
{
    int fields[256], n = 0;
    for (int i = 0; with_fields && i < layer->n_fields && n < 256; i++)
        if (access_field(layer, i, role)) fields[n++] = i;
    struct store_query q = {.layer = layer, .role = role, .fields = fields, .n_fields = n};
    note_read(st, &q, -1);
}

int store_query_run(struct store *st, const struct store_query *q, const struct feature_sink *sink,
                    struct err *err)
{
    int64_t n_read = 0;
    const struct layer_def *l = q->layer;
    struct buf b;
    buf_init(&b);
    int rc = buf_puts(&b, "SELECT fid");
    for (int i = 0; i < q->n_fields && !rc; i++) {
        if (q->fields[i] < 0 || q->fields[i] >= l->n_fields) {
            buf_fini(&b);
            return err_set(err, ERR_INTERNAL, "bad field index");
        }
        rc = buf_puts(&b, ", ") || store_put_ident(&b, l->fields[q->fields[i]].name);
    }
    if (q->want_geom)
        rc = rc || buf_printf(&b, ", %s", q->geom_sql ? q->geom_sql : "geom"); /* blob.c */
    rc = rc || put_from_where(st, q, &b);
    rc = rc || buf_puts(&b, " ORDER BY ");
    for (int i = 0; i < q->n_order && !rc; i++) {
        int f = q->order[i];
        if (f >= l->n_fields) f = -1;
        rc = (f < 0 ? buf_puts(&b, "fid") : store_put_ident(&b, l->fields[f].name)) ||
             buf_puts(&b, q->order_desc && q->order_desc[i] ? " DESC, " : " ASC, ");
    }
    rc = rc || buf_puts(&b, "fid");
    if (q->limit >= 0 || q->offset > 0) rc = rc || buf_puts(&b, " LIMIT ? OFFSET ?");
    if (rc) {
        buf_fini(&b);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    sqlite3_stmt *s = store_prepare(st, b.data, err);
    buf_fini(&b);
    if (!s) return ERR_DB;
    int pos = 0;
    if (bind_all(q, s, &pos, 1)) return store_db_error(st, err, l->id);
    if (q->limit >= 0 || q->offset > 0) {
        sqlite3_bind_int64(s, ++pos, q->limit >= 0 ? q->limit : -1);
        sqlite3_bind_int64(s, ++pos, q->offset > 0 ? q->offset : 0);
    }
    struct value stackvals[64];
    struct value *vals = q->n_fields <= 64 ? stackvals : calloc((size_t)q->n_fields, sizeof *vals);
    if (!vals) return err_set(err, ERR_NOMEM, "out of memory");
    struct buf wkb; /* the current row's geometry as WKB (blob.c) */
    buf_init(&wkb);
    if (sink->begin && (rc = sink->begin(sink->ud, l, err))) goto done;
    struct feature f = {.layer = l, .values = vals, .fields = q->fields, .n_fields = q->n_fields};
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        f.fid = sqlite3_column_int64(s, 0);
        for (int i = 0; i < q->n_fields; i++) {
            struct value *v = &vals[i];
            int col = i + 1;
            switch (sqlite3_column_type(s, col)) {
            case SQLITE_INTEGER:
                v->type = VAL_INT;
                v->i = sqlite3_column_int64(s, col);
                v->d = (double)v->i;
                break;
            case SQLITE_FLOAT:
                v->type = VAL_REAL;
                v->d = sqlite3_column_double(s, col);
                break;
            case SQLITE_TEXT:
                v->type = VAL_TEXT;
                v->s = (const char *)sqlite3_column_text(s, col);
                v->len = sqlite3_column_bytes(s, col);
                break;
            case SQLITE_BLOB:
                v->type = VAL_BLOB;
                v->s = sqlite3_column_blob(s, col);
                v->len = sqlite3_column_bytes(s, col);
                break;
            default:
                v->type = VAL_NULL;
            }
        }
        if (q->want_geom) {
            int col = q->n_fields + 1;
            const unsigned char *blob = sqlite3_column_blob(s, col);
            f.wkb = NULL;
            f.wkb_len = 0;
            if (blob) {
                size_t n = (size_t)sqlite3_column_bytes(s, col);
                if ((rc = store_blob_to_wkb(blob, n, &wkb, err))) goto done;
                f.wkb = (const unsigned char *)wkb.data;
                f.wkb_len = wkb.len;
            }
        }
        n_read++;
        if (sink->feature && (rc = sink->feature(sink->ud, &f, err))) goto done;
    }
    if (step != SQLITE_DONE) {
        rc = store_db_error(st, err, l->id);
        goto done;
    }
    if (sink->end) rc = sink->end(sink->ud, err);
done:
    note_read(st, q, n_read);
    sqlite3_reset(s);
    buf_fini(&wkb);
    if (vals != stackvals) free(vals);
    return rc;
}

int store_layer_state_role(struct store *st, const struct layer_def *layer, enum role role,
                           struct layer_state *out, struct err *err)
{
    int rc = store_layer_state(st, layer, out, err), field;
    const struct value *v;
    if (rc || !access_row_rule(layer, role, &field, &v)) return rc;
    struct store_query q = {.layer = layer, .role = role, .limit = -1};
    return store_query_count(st, &q, &out->n_features, err);
}
