/* SPDX-License-Identifier: MIT */
/* load_layer.c: replacing one layer inside a load batch on a SpatiaLite store (store.h,
 * "Loading"), and reading inside the batch. A layer is replaced as a bulk load: its features'
 * identities are noted for the change feed, its spatial index and attribute indexes are dropped,
 * its rows deleted, and SpatiaLite's per-row triggers set aside; the rows are inserted through one
 * prepared statement; then the R*Tree is packed in one pass (rtree.c), the triggers and indexes
 * come back and spp_layers is refreshed. Deciding what the rows are is the importer's. */
#include "load_int.h"
#include "pg/load.h"
#include "search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void load_layer_abandon(struct store_load *ld)
{
    if (!ld) return;
    sqlite3_finalize(ld->put);
    ld->put = NULL;
    if (ld->layer) ld->abandoned = 1;
    ld->layer = NULL;
    buf_reset(&ld->triggers);
}

/* ---- SpatiaLite's triggers ---- */

/* SpatiaLite's per-row triggers (geometry constraint check, geometry_columns_time update) cost
 * more than the insert itself; the importer writes only geometries of the layer's type and CRS,
 * so they are dropped for the bulk load and re-created, unchanged, before the layer is done. */
static int save_triggers(struct store_load *ld, const struct layer_def *l, struct err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(
            ld->st->db,
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?"
            " AND (name LIKE 'gg%' OR name LIKE 'gi%' OR name LIKE 'tm%') ORDER BY name",
            -1, &s, NULL) != SQLITE_OK)
        return store_db_error(ld->st, err, "triggers");
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    buf_reset(&ld->triggers);
    struct buf drop;
    buf_init(&drop);
    int rc = 0, step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *def = (const char *)sqlite3_column_text(s, 1);
        if (def && strncmp(def, "CREATE TRIGGER ", 15) == 0)
            rc = buf_printf(&ld->triggers, "CREATE TRIGGER IF NOT EXISTS %s;\n", def + 15);
        if (!rc) rc = buf_puts(&drop, "DROP TRIGGER ");
        if (!rc) rc = store_put_ident(&drop, (const char *)sqlite3_column_text(s, 0));
        if (!rc) rc = buf_puts(&drop, ";");
    }
    if (rc)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    else if (step != SQLITE_DONE)
        rc = store_db_error(ld->st, err, "triggers");
    sqlite3_finalize(s);
    if (!rc && drop.len) rc = store_exec(ld->st, drop.data, err);
    buf_fini(&drop);
    return rc;
}

static int restore_triggers(struct store_load *ld, const struct layer_def *l, struct err *err)
{
    int rc = ld->triggers.len ? store_exec(ld->st, ld->triggers.data, err) : 0;
    buf_reset(&ld->triggers);
    if (rc) return rc;
    char sql[256];
    snprintf(
        sql, sizeof sql,
        "UPDATE geometry_columns_time SET last_insert = strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now')"
        " WHERE lower(f_table_name) = lower('%s')",
        l->id);
    (void)store_exec(ld->st, sql, NULL); /* bookkeeping only; older SpatiaLite has no such table */
    return 0;
}

/* ---- the change feed: identities before and after ---- */

/* A feature's identity: its natural key's value as text, else its fid; and its row-rule value. */
static int identity_sql(const struct layer_def *l, struct buf *b)
{
    int rc = 0;
    if (l->key >= 0) {
        rc = buf_puts(b, "coalesce(CAST(");
        if (!rc) rc = store_put_ident(b, l->fields[l->key].name);
        if (!rc) rc = buf_puts(b, " AS TEXT), CAST(fid AS TEXT))");
    } else {
        rc = buf_puts(b, "CAST(fid AS TEXT)");
    }
    if (!rc) rc = buf_puts(b, ", ");
    if (!rc)
        rc = l->row_field >= 0 ? store_put_ident(b, l->fields[l->row_field].name)
                               : buf_puts(b, "NULL");
    return rc;
}

/* Runs head + identity columns + mid + the layer's table + tail. */
static int exec_identity(struct store_load *ld, const struct layer_def *l, const char *head,
                         const char *mid, const char *tail, struct err *err)
{
    struct buf q;
    buf_init(&q);
    int rc = buf_puts(&q, head);
    if (!rc) rc = identity_sql(l, &q);
    if (!rc) rc = buf_puts(&q, mid);
    if (!rc) rc = store_put_ident(&q, l->id);
    if (!rc) rc = buf_puts(&q, tail);
    rc = rc ? err_set(err, ERR_NOMEM, "out of memory") : store_exec(ld->st, q.data, err);
    buf_fini(&q);
    return rc;
}

static int snapshot_keys(struct store_load *ld, const struct layer_def *l, struct err *err)
{
    return exec_identity(ld, l,
                         "CREATE TEMP TABLE IF NOT EXISTS spp_prev_keys (k TEXT, rowval);"
                         "CREATE INDEX IF NOT EXISTS temp.spp_prev_keys_k ON spp_prev_keys (k);"
                         "DELETE FROM temp.spp_prev_keys;"
                         "INSERT INTO temp.spp_prev_keys SELECT ",
                         " FROM ", "", err);
}

/* The fids of unchanged features into temp.spp_unchanged (emptied first). */
static int note_unchanged(struct store_load *ld, const int64_t *fids, size_t n, struct err *err)
{
    int rc = store_exec(ld->st,
                        "CREATE TEMP TABLE IF NOT EXISTS spp_unchanged (fid INTEGER PRIMARY KEY);"
                        "DELETE FROM temp.spp_unchanged;",
                        err);
    if (rc || !n) return rc;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(ld->st->db, "INSERT OR IGNORE INTO temp.spp_unchanged VALUES (?)", -1,
                           &s, NULL) != SQLITE_OK)
        return store_db_error(ld->st, err, "spp_unchanged");
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_bind_int64(s, 1, fids[i]);
        if (sqlite3_step(s) != SQLITE_DONE) rc = store_db_error(ld->st, err, "spp_unchanged");
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return rc;
}

int store_load_feature_changes(struct store_load *ld, const struct layer_def *l, const char *at,
                               const int64_t *unchanged, size_t n_unchanged, struct err *err)
{
    if (ld->pg) return pg_load_feature_changes(ld->pg, l, at, unchanged, n_unchanged, err);
    int rc = note_unchanged(ld, unchanged, n_unchanged, err);
    if (rc) return rc;
    rc = exec_identity(
        ld, l,
        "CREATE TABLE IF NOT EXISTS spp_feature_changes (id INTEGER PRIMARY KEY,"
        " layer TEXT NOT NULL, batch TEXT NOT NULL, at TEXT NOT NULL, op TEXT NOT NULL,"
        " key TEXT NOT NULL, fid INTEGER, rowval);"
        "CREATE INDEX IF NOT EXISTS spp_feature_changes_layer ON spp_feature_changes"
        " (layer, id);"
        "CREATE TEMP TABLE IF NOT EXISTS spp_prev_keys (k TEXT, rowval);"
        "DROP TABLE IF EXISTS temp.spp_new_keys;"
        "CREATE TEMP TABLE spp_new_keys (k TEXT, rowval, fid INTEGER, batch TEXT);"
        "INSERT INTO temp.spp_new_keys SELECT ",
        ", fid, import_batch FROM ", ";CREATE INDEX temp.spp_new_keys_k ON spp_new_keys (k);", err);
    if (rc) return rc;
    static const char *const ins =
        "INSERT INTO spp_feature_changes (layer, batch, at, op, key, fid, rowval)"
        " SELECT ?1, ?2, ?3, CASE WHEN EXISTS (SELECT 1 FROM temp.spp_prev_keys p WHERE p.k = n.k)"
        " THEN 'update' ELSE 'insert' END, n.k, n.fid, n.rowval FROM temp.spp_new_keys n"
        " WHERE n.batch = ?2 AND n.fid NOT IN (SELECT fid FROM temp.spp_unchanged) ORDER BY n.fid";
    static const char *const del =
        "INSERT INTO spp_feature_changes (layer, batch, at, op, key, fid, rowval)"
        " SELECT ?1, ?2, ?3, 'delete', p.k, NULL, p.rowval FROM temp.spp_prev_keys p"
        " WHERE NOT EXISTS (SELECT 1 FROM temp.spp_new_keys n WHERE n.k = p.k) ORDER BY p.k";
    const char *const stmts[] = {del, ins};
    for (int i = 0; i < 2 && !rc; i++) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(ld->st->db, stmts[i], -1, &s, NULL) != SQLITE_OK)
            return store_db_error(ld->st, err, "spp_feature_changes");
        sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, ld->batch, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, at, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) rc = store_db_error(ld->st, err, "spp_feature_changes");
        sqlite3_finalize(s);
    }
    if (!rc)
        rc = store_exec(ld->st,
                        "DELETE FROM temp.spp_prev_keys; DROP TABLE temp.spp_new_keys;"
                        " DELETE FROM temp.spp_unchanged;",
                        err);
    return rc;
}

/* ---- replacing a layer ---- */

static int prepare_put(struct store_load *ld, const struct layer_def *l, struct err *err)
{
    struct buf q;
    buf_init(&q);
    int rc = buf_puts(&q, "INSERT INTO ");
    if (!rc) rc = store_put_ident(&q, l->id);
    if (!rc) rc = buf_puts(&q, " (fid");
    for (int i = 0; i < l->n_fields && !rc; i++) {
        rc = buf_puts(&q, ", ");
        if (!rc) rc = store_put_ident(&q, l->fields[i].name);
    }
    if (!rc) rc = buf_puts(&q, ", geom) VALUES (?");
    for (int i = 0; i < l->n_fields && !rc; i++)
        rc = buf_puts(&q, ", ?");
    if (!rc) rc = buf_printf(&q, ", GeomFromWKB(?, %d))", ld->st->srid);
    if (rc)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    else if (sqlite3_prepare_v3(ld->st->db, q.data, -1, SQLITE_PREPARE_PERSISTENT, &ld->put,
                                NULL) != SQLITE_OK)
        rc = store_db_error(ld->st, err, l->id);
    buf_fini(&q);
    return rc;
}

int store_load_layer_begin(struct store_load *ld, const struct layer_def *l, struct err *err)
{
    if (ld->pg) return pg_load_layer_begin(ld->pg, l, err);
    load_layer_abandon(ld); /* a layer left open is abandoned */
    char sql[512];
    int rc = snapshot_keys(ld, l, err); /* the change feed (issue 21) */
    /* bulk load without the R*Tree and its triggers: the index is emptied here, packed in
     * store_load_layer_done */
    snprintf(sql, sizeof sql,
             "SELECT DisableSpatialIndex('%s', 'geom'); DROP TABLE IF EXISTS \"idx_%s_geom\";",
             l->id, l->id);
    if (!rc) rc = store_exec(ld->st, sql, err);
    if (!rc) rc = save_triggers(ld, l, err); /* after DisableSpatialIndex, which re-creates them */
    /* the attribute indexes too: built once from the loaded table */
    if (!rc) rc = store_drop_layer_indexes(ld->st, l, err);
    if (!rc) rc = store_search_drop(ld->st, l, err); /* search.c: rebuilt when done */
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\";", l->id);
    if (!rc) rc = store_exec(ld->st, sql, err);
    /* an empty spatial index now (SpatiaLite's tables, triggers and metadata), its triggers set
     * aside with the others */
    snprintf(sql, sizeof sql, "SELECT CreateSpatialIndex('%s', 'geom');", l->id);
    if (!rc) rc = store_exec(ld->st, sql, err);
    if (!rc) rc = save_triggers(ld, l, err);
    if (!rc) rc = prepare_put(ld, l, err);
    ld->layer = l; /* from here on it is open: a failure above leaves it to be abandoned */
    return rc;
}

int store_load_put(struct store_load *ld, int64_t fid, const struct value *values,
                   const unsigned char *wkb, size_t wkb_len, struct err *err)
{
    if (ld->pg) return pg_load_put(ld->pg, fid, values, wkb, wkb_len, err);
    if (!ld->put) return err_set(err, ERR_INTERNAL, "load: no layer open");
    sqlite3_stmt *s = ld->put;
    const struct layer_def *l = ld->layer;
    sqlite3_bind_int64(s, 1, fid);
    for (int i = 0; i < l->n_fields; i++) {
        const struct value *v = &values[i];
        switch (v->type) {
        case VAL_INT:
            sqlite3_bind_int64(s, i + 2, v->i);
            break;
        case VAL_REAL:
            sqlite3_bind_double(s, i + 2, v->d);
            break;
        case VAL_TEXT:
            sqlite3_bind_text(s, i + 2, v->s, v->len >= 0 ? v->len : -1, SQLITE_STATIC);
            break;
        case VAL_BLOB:
            sqlite3_bind_blob(s, i + 2, v->s, v->len, SQLITE_STATIC);
            break;
        default:
            sqlite3_bind_null(s, i + 2);
        }
    }
    if (wkb)
        sqlite3_bind_blob(s, l->n_fields + 2, wkb, (int)wkb_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, l->n_fields + 2);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(ld->st, err, l->id);
    sqlite3_reset(s);
    return rc;
}

int store_load_layer_done(struct store_load *ld, struct err *err)
{
    if (ld->pg) return pg_load_layer_done(ld->pg, err);
    const struct layer_def *l = ld->layer;
    if (!l) return err_set(err, ERR_INTERNAL, "load: no layer open");
    sqlite3_finalize(ld->put);
    ld->put = NULL;
    int rc = store_rtree_load(ld->st, l, err);
    if (!rc) rc = restore_triggers(ld, l, err);
    if (!rc) rc = store_ensure_layer_indexes(ld->st, l, err);
    if (!rc) rc = store_search_build(ld->st, l, err);
    if (!rc) rc = store_refresh_layer(ld->st, l, ld->batch, err);
    if (!rc) ld->layer = NULL; /* else left open: the batch cannot be published */
    return rc;
}

int store_load_update(struct store_load *ld, const struct layer_def *l, int64_t fid,
                      const int *fields, const struct value *values, int n, struct err *err)
{
    if (ld->pg) return pg_load_update(ld->pg, l, fid, fields, values, n, err);
    struct buf q;
    buf_init(&q);
    int rc = buf_puts(&q, "UPDATE ");
    if (!rc) rc = store_put_ident(&q, l->id);
    for (int i = 0; i < n && !rc; i++) {
        if (fields[i] < 0 || fields[i] >= l->n_fields) {
            buf_fini(&q);
            return err_set(err, ERR_INTERNAL, "%s: no field %d", l->id, fields[i]);
        }
        rc = buf_puts(&q, i ? ", " : " SET ");
        if (!rc) rc = store_put_ident(&q, l->fields[fields[i]].name);
        if (!rc) rc = buf_puts(&q, " = ?");
    }
    if (!rc) rc = buf_puts(&q, " WHERE fid = ?");
    if (rc || n <= 0) {
        buf_fini(&q);
        return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
    }
    sqlite3_stmt *s = store_prepare(ld->st, q.data, err);
    buf_fini(&q);
    if (!s) return ERR_DB;
    for (int i = 0; i < n; i++) {
        const struct value *v = &values[i];
        if (v->type == VAL_INT)
            sqlite3_bind_int64(s, i + 1, v->i);
        else if (v->type == VAL_REAL)
            sqlite3_bind_double(s, i + 1, v->d);
        else if (v->type == VAL_TEXT)
            sqlite3_bind_text(s, i + 1, v->s, v->len >= 0 ? v->len : -1, SQLITE_STATIC);
        else if (v->type == VAL_BLOB)
            sqlite3_bind_blob(s, i + 1, v->s, v->len, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, i + 1);
    }
    sqlite3_bind_int64(s, n + 1, fid);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(ld->st, err, l->id);
    sqlite3_reset(s);
    return rc;
}

/* ---- reading inside the batch ---- */

static void column_value(sqlite3_stmt *s, int col, struct value *v)
{
    memset(v, 0, sizeof *v);
    switch (sqlite3_column_type(s, col)) {
    case SQLITE_INTEGER:
        v->type = VAL_INT;
        v->i = sqlite3_column_int64(s, col);
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

static int scan_sql(const struct store_scan *q, struct buf *b)
{
    int rc = buf_puts(b, "SELECT fid, MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom),"
                         " geom");
    for (int i = 0; i < q->n_fields && !rc; i++) {
        rc = buf_puts(b, ", ");
        if (!rc) rc = store_put_ident(b, q->layer->fields[q->fields[i]].name);
    }
    if (!rc) rc = buf_puts(b, " FROM ");
    if (!rc) rc = store_put_ident(b, q->layer->id);
    if (!rc) rc = buf_puts(b, " ORDER BY fid");
    if (!rc && q->limit >= 0) rc = buf_printf(b, " LIMIT %lld", (long long)q->limit);
    return rc;
}

static int scan_rows(struct store_load *ld, const struct store_scan *q, sqlite3_stmt *s,
                     struct value *vals,
                     int (*fn)(void *ud, const struct feature *f, const struct bbox *box), void *ud,
                     struct err *err)
{
    struct buf wkb;
    buf_init(&wkb);
    struct feature f = {q->layer, 0, NULL, 0, vals, q->fields, q->n_fields};
    int rc = 0, step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        f.fid = sqlite3_column_int64(s, 0);
        int has_box = sqlite3_column_type(s, 1) != SQLITE_NULL;
        struct bbox box = {sqlite3_column_double(s, 1), sqlite3_column_double(s, 2),
                           sqlite3_column_double(s, 3), sqlite3_column_double(s, 4)};
        f.wkb = NULL, f.wkb_len = 0;
        if (q->want_geom && sqlite3_column_type(s, 5) == SQLITE_BLOB) {
            rc = store_blob_to_wkb(sqlite3_column_blob(s, 5), (size_t)sqlite3_column_bytes(s, 5),
                                   &wkb, err);
            if (rc) break;
            f.wkb = (const unsigned char *)wkb.data, f.wkb_len = wkb.len;
        }
        for (int i = 0; i < q->n_fields; i++)
            column_value(s, 6 + i, &vals[i]);
        rc = fn(ud, &f, has_box ? &box : NULL);
    }
    if (!rc && step != SQLITE_DONE) rc = store_db_error(ld->st, err, q->layer->id);
    buf_fini(&wkb);
    return rc;
}

int store_load_scan(struct store_load *ld, const struct store_scan *q,
                    int (*fn)(void *ud, const struct feature *f, const struct bbox *box), void *ud,
                    struct err *err)
{
    if (ld->pg) return pg_load_scan(ld->pg, q, fn, ud, err);
    for (int i = 0; i < q->n_fields; i++)
        if (q->fields[i] < 0 || q->fields[i] >= q->layer->n_fields)
            return err_set(err, ERR_INTERNAL, "%s: no field %d", q->layer->id, q->fields[i]);
    struct buf sql;
    buf_init(&sql);
    struct value *vals = calloc((size_t)q->n_fields + 1, sizeof *vals);
    int rc = vals ? scan_sql(q, &sql) : ERR_NOMEM; /* buf fails only with ERR_NOMEM */
    if (rc) rc = err_set(err, rc, "out of memory");
    sqlite3_stmt *s = NULL;
    if (!rc && sqlite3_prepare_v2(ld->st->db, sql.data, -1, &s, NULL) != SQLITE_OK)
        rc = store_db_error(ld->st, err, q->layer->id);
    if (!rc) rc = scan_rows(ld, q, s, vals, fn, ud, err);
    sqlite3_finalize(s);
    buf_fini(&sql);
    free(vals);
    return rc;
}
