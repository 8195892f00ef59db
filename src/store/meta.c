/* SPDX-License-Identifier: MIT */
/* meta.c: what a layer's metadata record reads from the store (issue 21): the last import batch
 * and its date (spp_layers, spp_imports), the batches that changed the layer with their feature
 * counts (spp_layer_history) and their source files (spp_sources). The record itself is built
 * and written by src/meta/. */
#include "store_int.h"

#include "pg/pg.h"

#include <stdio.h>
#include <string.h>

static void copy_col(sqlite3_stmt *s, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}

int store_layer_lineage(struct store *st, const struct layer_def *layer, struct store_lineage *out,
                        struct err *err)
{
    if (st->pg) return pg_layer_lineage(st->pg, layer, out, err);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s =
        store_prepare(st,
                      "SELECT l.import_batch, coalesce(i.finished, l.updated) FROM spp_layers l"
                      " LEFT JOIN spp_imports i ON i.batch = l.import_batch WHERE l.layer = ?",
                      err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, layer->id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        copy_col(s, 0, out->last_batch, sizeof out->last_batch);
        copy_col(s, 1, out->last_date, sizeof out->last_date);
    }
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE) return store_db_error(st, err, "spp_layers");
    /* Newest batches first: the record lists the latest STORE_LINEAGE_MAX. */
    s = store_prepare(st,
                      "SELECT h.batch, coalesce(h.at, i.finished, ''), h.n_features FROM"
                      " spp_layer_history h LEFT JOIN spp_imports i ON i.batch = h.batch"
                      " WHERE h.layer = ? ORDER BY coalesce(h.at, i.finished) DESC, h.batch DESC"
                      " LIMIT ?",
                      err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, layer->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, STORE_LINEAGE_MAX);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_batch *b = &out->batches[out->n_batches++];
        copy_col(s, 0, b->batch, sizeof b->batch);
        copy_col(s, 1, b->at, sizeof b->at);
        b->n_features = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    if (step != SQLITE_DONE) return store_db_error(st, err, "spp_layer_history");
    s = store_prepare(st,
                      "SELECT s.batch, s.path FROM spp_sources s LEFT JOIN spp_imports i ON"
                      " i.batch = s.batch WHERE s.layer = ? ORDER BY i.finished DESC, s.batch"
                      " DESC, s.position LIMIT ?",
                      err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, layer->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, STORE_LINEAGE_MAX);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_source *src = &out->sources[out->n_sources++];
        copy_col(s, 0, src->batch, sizeof src->batch);
        copy_col(s, 1, src->path, sizeof src->path);
    }
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_sources");
}

int store_feature_changes(struct store *st, const struct layer_def *layer, enum role role,
                          const char *since, int64_t after, int64_t limit,
                          int (*fn)(void *ud, const struct store_feature_change *c), void *ud,
                          int *more, struct err *err)
{
    if (st->pg)
        return pg_feature_changes(st->pg, layer, role, since, after, limit, fn, ud, more, err);
    *more = 0;
    int field;
    const struct value *v;
    int ruled = access_row_rule(layer, role, &field, &v);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, op, key, fid, batch, at FROM spp_feature_changes WHERE layer = ?"
             " AND id > ? AND at >= ?%s ORDER BY id LIMIT ?",
             ruled ? " AND rowval = ?" : "");
    sqlite3_stmt *s = store_prepare(st, sql, NULL);
    if (!s) {
        /* a store no import has written a change feed into yet */
        if (strstr(sqlite3_errmsg(st->db), "no such table")) return 0;
        return store_db_error(st, err, "spp_feature_changes");
    }
    int i = 0;
    sqlite3_bind_text(s, ++i, layer->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, ++i, after);
    sqlite3_bind_text(s, ++i, since ? since : "", -1, SQLITE_STATIC);
    if (ruled) {
        if (v->type == VAL_INT)
            sqlite3_bind_int64(s, ++i, v->i);
        else if (v->type == VAL_REAL)
            sqlite3_bind_double(s, ++i, v->d);
        else
            sqlite3_bind_text(s, ++i, v->s, v->len >= 0 ? v->len : -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, ++i, limit + 1);
    int step, rc = 0;
    int64_t n = 0;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n++ == limit) {
            *more = 1;
            break;
        }
        struct store_feature_change c = {
            .id = sqlite3_column_int64(s, 0),
            .op = (const char *)sqlite3_column_text(s, 1),
            .key = (const char *)sqlite3_column_text(s, 2),
            .has_fid = sqlite3_column_type(s, 3) != SQLITE_NULL,
            .fid = sqlite3_column_int64(s, 3),
            .batch = (const char *)sqlite3_column_text(s, 4),
            .at = (const char *)sqlite3_column_text(s, 5),
        };
        rc = fn(ud, &c);
    }
    if (!rc && !*more && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = store_db_error(st, err, "spp_feature_changes");
    sqlite3_reset(s);
    return rc;
}

int store_layer_completeness(struct store *st, const struct layer_def *layer, enum role role,
                             const int *fields, int n_fields, int64_t *filled, int64_t *total,
                             struct err *err)
{
    if (st->pg)
        return pg_layer_completeness(st->pg, layer, role, fields, n_fields, filled, total, err);
    struct buf q;
    buf_init(&q);
    buf_puts(&q, "SELECT count(*)");
    for (int i = 0; i < n_fields; i++) {
        buf_puts(&q, ", count(NULLIF(CAST(");
        store_put_ident(&q, layer->fields[fields[i]].name);
        buf_puts(&q, " AS TEXT), ''))");
    }
    buf_puts(&q, " FROM ");
    store_put_ident(&q, layer->id);
    int field;
    const struct value *v;
    int ruled = access_row_rule(layer, role, &field, &v);
    if (ruled) {
        buf_puts(&q, " WHERE ");
        store_put_ident(&q, layer->fields[field].name);
        buf_puts(&q, " = ?");
    }
    sqlite3_stmt *s = q.data ? store_prepare(st, q.data, err) : NULL;
    buf_fini(&q);
    if (!s) return ERR_DB;
    if (ruled) {
        if (v->type == VAL_INT)
            sqlite3_bind_int64(s, 1, v->i);
        else if (v->type == VAL_REAL)
            sqlite3_bind_double(s, 1, v->d);
        else
            sqlite3_bind_text(s, 1, v->s, v->len >= 0 ? v->len : -1, SQLITE_STATIC);
    }
    int rc = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *total = sqlite3_column_int64(s, 0);
        for (int i = 0; i < n_fields; i++)
            filled[i] = sqlite3_column_int64(s, i + 1);
    } else {
        rc = store_db_error(st, err, layer->id);
    }
    sqlite3_reset(s);
    return rc;
}

int store_layer_findings(struct store *st, const struct layer_def *layer, const char *batch,
                         int (*fn)(void *ud, const char *kind, const char *severity, int64_t n),
                         void *ud, struct err *err)
{
    if (st->pg) return pg_layer_findings(st->pg, layer, batch, fn, ud, err);
    sqlite3_stmt *s = store_prepare(st,
                                    "SELECT coalesce(kind, ''), coalesce(severity, ''), count(*)"
                                    " FROM spp_findings WHERE layer = ? AND batch = ? GROUP BY 1,"
                                    " 2 ORDER BY 3 DESC, 1",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, layer->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, batch ? batch : "", -1, SQLITE_STATIC);
    int step, rc = 0;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = fn(ud, (const char *)sqlite3_column_text(s, 0),
                (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2));
    if (!rc && step != SQLITE_DONE) rc = store_db_error(st, err, "spp_findings");
    sqlite3_reset(s);
    return rc;
}

int store_last_import(struct store *st, char *batch, size_t batch_len, char *at, size_t at_len,
                      struct err *err)
{
    if (batch_len) batch[0] = '\0';
    if (at_len) at[0] = '\0';
    if (st->pg) return pg_last_import(st->pg, batch, batch_len, at, at_len, err);
    sqlite3_stmt *s = store_prepare(st,
                                    "SELECT batch, finished FROM spp_imports WHERE finished IS NOT"
                                    " NULL ORDER BY finished DESC LIMIT 1",
                                    err);
    if (!s) return ERR_DB;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        copy_col(s, 0, batch, batch_len);
        copy_col(s, 1, at, at_len);
    }
    sqlite3_reset(s);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_imports");
}
