/* SPDX-License-Identifier: MIT */
/* edit.c: feature edits (store.h, "Editing", issue 20): one write connection per process to the
 * store the server writes (--db; never the --db-read standby), opened on first use and serialised
 * by a mutex (the workers' connections stay read-only and, in WAL mode, are never blocked by it);
 * an edit is one write transaction (all-or-nothing) of inserts, updates and deletes by fid. Each
 * write is recorded in spp_edits (who, when, the row before and after as JSON plus the
 * geometries), in spp_changes (the boxes of the old and new geometry: the tile caches of every
 * process reading the store drop exactly those cells) and in the change feed
 * (spp_feature_changes); spp_layers gets a new version, and a land-use overview that was in step
 * is brought in step for the edit's boxes (overview.c). The SpatiaLite statements are here; a
 * PostGIS store routes to pg/edit.c (the same records; rows locked FOR UPDATE because its writers
 * are separate replicas). The ETag is computed here for both: a hash of the row as catalog values
 * and ISO WKB, so one feature has one ETag on either backend. What is written and whether it is
 * valid is the caller's (src/import/ normalises, src/ogcapi/ and src/ogc/ decide who may): this
 * file only writes what it is given. */
#include "search.h"
#include "store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg/edit.h"

struct store_edit {
    struct store *st;
    char who[160];
    char at[32];
    char lock_id[STORE_LOCK_ID_LEN]; /* the lock the writes act for (lock.c), "" none */
};

static pthread_mutex_t edit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *edit_st;
static struct geo_ctx *edit_geo; /* the overview's transformations (SpatiaLite) */
static char edit_path[4096];

static const char *const edits_sql =
    "CREATE TABLE IF NOT EXISTS spp_edits (id INTEGER PRIMARY KEY, layer TEXT NOT NULL,"
    " fid INTEGER NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL, who TEXT NOT NULL,"
    " at TEXT NOT NULL, before TEXT, before_geom BLOB, after TEXT, after_geom BLOB,"
    " reverts INTEGER, reverted_by INTEGER);"
    "CREATE INDEX IF NOT EXISTS spp_edits_key ON spp_edits (layer, key);"
    "CREATE INDEX IF NOT EXISTS spp_edits_fid ON spp_edits (layer, fid);"
    "CREATE TABLE IF NOT EXISTS spp_feature_changes (id INTEGER PRIMARY KEY,"
    " layer TEXT NOT NULL, batch TEXT NOT NULL, at TEXT NOT NULL, op TEXT NOT NULL,"
    " key TEXT NOT NULL, fid INTEGER, rowval);"
    "CREATE INDEX IF NOT EXISTS spp_feature_changes_layer ON spp_feature_changes (layer, id);";

static int edit_open(const char *db_path, struct err *err)
{
    if (edit_st && strcmp(edit_path, db_path) == 0) return 0;
    store_close(edit_st);
    edit_st = NULL;
    int rc = store_open(db_path, STORE_WRITE, &edit_st, err);
    if (!rc && !edit_st->pg) sqlite3_busy_timeout(edit_st->db, 5000);
    if (!rc && !store_srid(edit_st))
        rc = err_set(err, ERR_DB, "%s: the store has no schema", db_path);
    if (!rc)
        rc = edit_st->pg ? pg_edit_prepare(edit_st->pg, err) : store_exec(edit_st, edits_sql, err);
    if (!rc && !edit_st->pg && !edit_geo && !(edit_geo = geo_ctx_new(err)))
        rc = err && err->code ? err->code : ERR_NOMEM;
    if (rc) {
        store_close(edit_st);
        edit_st = NULL;
        return rc;
    }
    snprintf(edit_path, sizeof edit_path, "%s", db_path);
    return 0;
}

int store_edit_begin(const char *db_path, const char *who, struct store_edit **out, struct err *err)
{
    *out = NULL;
    struct store_edit *ed = calloc(1, sizeof *ed);
    if (!ed) return err_set(err, ERR_NOMEM, "out of memory");
    snprintf(ed->who, sizeof ed->who, "%s", who && *who ? who : "unknown");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(ed->at, sizeof ed->at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pthread_mutex_lock(&edit_lock);
    int rc = edit_open(db_path, err);
    if (!rc) rc = edit_st->pg ? pg_edit_begin(edit_st->pg, err) : store_begin(edit_st, err);
    if (rc) {
        pthread_mutex_unlock(&edit_lock);
        free(ed);
        return rc;
    }
    ed->st = edit_st;
    *out = ed;
    return 0;
}

int store_edit_commit(struct store_edit *ed, struct err *err)
{
    int rc = store_commit(ed->st, err);
    if (rc) store_rollback(ed->st);
    pthread_mutex_unlock(&edit_lock);
    free(ed);
    return rc;
}

void store_edit_abort(struct store_edit *ed)
{
    if (!ed) return;
    store_rollback(ed->st);
    pthread_mutex_unlock(&edit_lock);
    free(ed);
}

void store_edit_set_lock(struct store_edit *ed, const char *lock_id)
{
    snprintf(ed->lock_id, sizeof ed->lock_id, "%s", lock_id ? lock_id : "");
}

const char *store_edit_lock(const struct store_edit *ed)
{
    return ed->lock_id;
}

struct store *store_edit_conn(struct store_edit *ed)
{
    return ed->st;
}

void store_edit_close_all(void)
{
    pthread_mutex_lock(&edit_lock);
    store_close(edit_st);
    edit_st = NULL;
    geo_ctx_free(edit_geo);
    edit_geo = NULL;
    edit_path[0] = '\0';
    pthread_mutex_unlock(&edit_lock);
}

/* ---- rows ---- */

void store_row_fini(struct store_row *r)
{
    if (!r) return;
    if (r->values)
        for (int i = 0; i < r->n_values; i++)
            if (r->values[i].type == VAL_TEXT) free((char *)r->values[i].s);
    free(r->values);
    free(r->wkb);
    memset(r, 0, sizeof *r);
}

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 1099511628211ULL;
    }
}

static void fnv_u64(uint64_t *h, uint64_t x)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(x >> (8 * i));
    fnv(h, b, 8);
}

static void fnv_bytes(uint64_t *h, char tag, const void *p, size_t n)
{
    fnv(h, &tag, 1);
    fnv_u64(h, n);
    fnv(h, p, n);
}

/* The ETag of a row: a hash of the fid, each field as a catalog value (type and value) and the
 * geometry as ISO WKB, so the same row has the same ETag on SpatiaLite and on PostGIS. */
static void row_etag(const struct layer_def *l, const struct store_row *r,
                     char etag[STORE_ETAG_LEN])
{
    uint64_t h = 1469598103934665603ULL;
    fnv(&h, "I", 1);
    fnv_u64(&h, (uint64_t)r->fid);
    for (int i = 0; i < l->n_fields; i++) {
        const struct value *v = i < r->n_values ? &r->values[i] : NULL;
        uint64_t bits;
        switch (v ? v->type : VAL_NULL) {
        case VAL_INT:
            fnv(&h, "I", 1);
            fnv_u64(&h, (uint64_t)v->i);
            break;
        case VAL_REAL: /* -0.0 as 0.0: SQLite keeps an integral REAL as an integer */
            memcpy(&bits, &(double){v->d == 0 ? 0.0 : v->d}, sizeof bits);
            fnv(&h, "R", 1);
            fnv_u64(&h, bits);
            break;
        case VAL_TEXT:
            fnv_bytes(&h, 'T', v->s ? v->s : "",
                      v->s ? (v->len >= 0 ? (size_t)v->len : strlen(v->s)) : 0);
            break;
        default:
            fnv(&h, "N", 1);
        }
    }
    if (r->wkb)
        fnv_bytes(&h, 'G', r->wkb, r->wkb_len);
    else
        fnv(&h, "N", 1);
    snprintf(etag, STORE_ETAG_LEN, "\"%016llx\"", (unsigned long long)h);
}

/* SELECT fid, the fields, geom FROM layer WHERE fid = ? */
static int select_sql(const struct layer_def *l, struct buf *q)
{
    int rc = buf_puts(q, "SELECT fid");
    for (int i = 0; i < l->n_fields && !rc; i++) {
        rc = buf_puts(q, ", ");
        if (!rc) rc = store_put_ident(q, l->fields[i].name);
    }
    if (!rc) rc = buf_puts(q, ", geom FROM ");
    if (!rc) rc = store_put_ident(q, l->id);
    if (!rc) rc = buf_puts(q, " WHERE fid = ?");
    return rc;
}

/* Reads feature fid of l on SpatiaLite store st into out. */
static int sqlite_row(struct store *st, const struct layer_def *l, int64_t fid,
                      struct store_row *out, int *found, struct err *err)
{
    struct buf q;
    buf_init(&q);
    if (select_sql(l, &q)) {
        buf_fini(&q);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    sqlite3_stmt *s = store_prepare(st, q.data, err);
    buf_fini(&q);
    if (!s) return ERR_DB;
    sqlite3_bind_int64(s, 1, fid);
    int step = sqlite3_step(s), rc = 0;
    if (step == SQLITE_DONE) {
        sqlite3_reset(s);
        return 0;
    }
    if (step != SQLITE_ROW) {
        rc = store_db_error(st, err, l->id);
        sqlite3_reset(s);
        return rc;
    }
    *found = 1;
    int n = l->n_fields + 2;
    out->fid = fid;
    out->n_values = l->n_fields;
    if (!(out->values = calloc((size_t)l->n_fields + 1, sizeof *out->values)))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    for (int c = 1; c < n && !rc; c++) {
        int t = sqlite3_column_type(s, c);
        const void *p = t == SQLITE_BLOB ? sqlite3_column_blob(s, c) : sqlite3_column_text(s, c);
        size_t len = (size_t)sqlite3_column_bytes(s, c);
        if (c == n - 1) { /* the geometry */
            if (t != SQLITE_BLOB) continue;
            struct buf w;
            buf_init(&w);
            rc = store_blob_to_wkb(p, len, &w, err);
            if (!rc) {
                out->wkb_len = w.len;
                out->wkb = (unsigned char *)buf_take(&w, NULL);
            }
            buf_fini(&w);
            continue;
        }
        struct value *v = &out->values[c - 1];
        if (t == SQLITE_INTEGER)
            v->type = VAL_INT, v->i = sqlite3_column_int64(s, c);
        else if (t == SQLITE_FLOAT)
            v->type = VAL_REAL, v->d = sqlite3_column_double(s, c);
        else if (t != SQLITE_NULL) {
            char *txt = str_ndup(p ? p : "", len);
            if (!txt) rc = err_set(err, ERR_NOMEM, "out of memory");
            v->type = VAL_TEXT, v->s = txt, v->len = (int)len;
        }
    }
    sqlite3_reset(s);
    return rc;
}

/* Reads feature fid of l on st into out (when not NULL) and its ETag. lock: inside an edit on
 * PostGIS, the row stays locked until the edit ends. */
static int read_row(struct store *st, const struct layer_def *l, int64_t fid, int lock,
                    struct store_row *out, char etag[STORE_ETAG_LEN], int *found, struct err *err)
{
    *found = 0;
    struct store_row tmp, *r = out ? out : &tmp;
    memset(r, 0, sizeof *r);
    int rc = st->pg ? pg_edit_get(st->pg, l, fid, lock, r, found, err)
                    : sqlite_row(st, l, fid, r, found, err);
    if (!rc && *found && etag) row_etag(l, r, etag);
    if (rc || !out) store_row_fini(r);
    if (rc) *found = 0;
    return rc;
}

int store_feature_etag(struct store *st, const struct layer_def *l, int64_t fid,
                       char etag[STORE_ETAG_LEN], int *found, struct err *err)
{
    return read_row(st, l, fid, 0, NULL, etag, found, err);
}

int store_edit_get(struct store_edit *ed, const struct layer_def *l, int64_t fid,
                   struct store_row *out, char etag[STORE_ETAG_LEN], int *found, struct err *err)
{
    return read_row(ed->st, l, fid, 1, out, etag, found, err);
}

/* ---- the change log ---- */

/* json_object('f', "f", ...) of l's fields, from table alias t. */
static int json_sql(const struct layer_def *l, struct buf *q)
{
    int rc = buf_puts(q, "json_object(");
    for (int i = 0; i < l->n_fields && !rc; i++)
        rc = buf_printf(q, "%s'%s', t.", i ? ", " : "", l->fields[i].name) ||
             store_put_ident(q, l->fields[i].name);
    if (!rc) rc = buf_puts(q, ")");
    return rc;
}

/* The natural key as text (else the fid), from table alias t. */
static int key_sql(const struct layer_def *l, struct buf *q)
{
    if (l->key < 0) return buf_puts(q, "CAST(t.fid AS TEXT)");
    return buf_puts(q, "coalesce(CAST(t.") || store_put_ident(q, l->fields[l->key].name) ||
           buf_puts(q, " AS TEXT), CAST(t.fid AS TEXT))");
}

static int run(struct store *st, const char *sql, const char *what, const struct layer_def *l,
               const char *text1, const char *text2, int64_t a, int64_t b, struct err *err)
{
    sqlite3_stmt *s = store_prepare(st, sql, err);
    if (!s) return ERR_DB;
    int np = sqlite3_bind_parameter_count(s);
    if (np >= 1) sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    if (np >= 2) sqlite3_bind_text(s, 2, text1, -1, SQLITE_STATIC);
    if (np >= 3) sqlite3_bind_text(s, 3, text2, -1, SQLITE_STATIC);
    if (np >= 4) sqlite3_bind_int64(s, 4, a);
    if (np >= 5) sqlite3_bind_int64(s, 5, b);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(st, err, what);
    sqlite3_reset(s);
    return rc;
}

/* A new spp_edits row for fid with the row as it is now as "before" (NULL when it has none). */
static int log_before(struct store_edit *ed, const struct layer_def *l, int64_t fid, const char *op,
                      int64_t reverts, int64_t *id, struct err *err)
{
    struct buf q;
    buf_init(&q);
    int nomem = buf_puts(&q, "INSERT INTO spp_edits (layer, fid, key, op, who, at, before,"
                             " before_geom, reverts) SELECT ?1, ?4, coalesce((SELECT ") ||
                key_sql(l, &q) || buf_puts(&q, " FROM ") || store_put_ident(&q, l->id) ||
                buf_puts(&q, " t WHERE t.fid = ?4), CAST(?4 AS TEXT)), ?2, ?3, '") ||
                buf_puts(&q, ed->at) || buf_puts(&q, "', (SELECT ") || json_sql(l, &q) ||
                buf_puts(&q, " FROM ") || store_put_ident(&q, l->id) ||
                buf_puts(&q, " t WHERE t.fid = ?4), (SELECT geom FROM ") ||
                store_put_ident(&q, l->id) ||
                buf_puts(&q, " WHERE fid = ?4), CASE WHEN ?5 > 0 THEN ?5 END");
    int rc = nomem ? err_set(err, ERR_NOMEM, "out of memory")
                   : run(ed->st, q.data, "spp_edits", l, op, ed->who, fid, reverts, err);
    buf_fini(&q);
    if (!rc) *id = sqlite3_last_insert_rowid(ed->st->db);
    return rc;
}

/* Completes spp_edits row id: key and "after" from the row as it is now; then the changed boxes
 * (spp_changes), the change feed and the layer's state. */
static int log_after(struct store_edit *ed, const struct layer_def *l, int64_t id, int64_t fid,
                     int64_t dn, struct err *err)
{
    struct buf q;
    buf_init(&q);
    int nomem = buf_puts(&q, "UPDATE spp_edits SET key = coalesce((SELECT ") || key_sql(l, &q) ||
                buf_puts(&q, " FROM ") || store_put_ident(&q, l->id) ||
                buf_puts(&q, " t WHERE t.fid = ?5), key), after = (SELECT ") || json_sql(l, &q) ||
                buf_puts(&q, " FROM ") || store_put_ident(&q, l->id) ||
                buf_puts(&q, " t WHERE t.fid = ?5), after_geom = (SELECT geom FROM ") ||
                store_put_ident(&q, l->id) || buf_puts(&q, " WHERE fid = ?5) WHERE id = ?4");
    int rc = nomem ? err_set(err, ERR_NOMEM, "out of memory")
                   : run(ed->st, q.data, "spp_edits", l, NULL, NULL, id, fid, err);
    buf_fini(&q);
    if (rc) return rc;
    static const char *const changes =
        "INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy, at)"
        " SELECT ?1, 'edit:' || id, MbrMinX(g), MbrMinY(g), MbrMaxX(g), MbrMaxY(g), at FROM"
        " (SELECT id, at, before_geom AS g FROM spp_edits WHERE id = ?4 UNION ALL"
        "  SELECT id, at, after_geom FROM spp_edits WHERE id = ?4) WHERE g IS NOT NULL";
    if ((rc = run(ed->st, changes, "spp_changes", l, NULL, NULL, id, 0, err))) return rc;
    char feed[512];
    const char *rowf = l->row_field >= 0 ? l->fields[l->row_field].name : NULL;
    snprintf(feed, sizeof feed,
             "INSERT INTO spp_feature_changes (layer, batch, at, op, key, fid, rowval)"
             " SELECT ?1, 'edit:' || id, at, op, key, CASE WHEN op = 'delete' THEN NULL ELSE"
             " fid END, %s%s%s FROM spp_edits WHERE id = ?4",
             rowf ? "json_extract(coalesce(after, before), '$." : "NULL", rowf ? rowf : "",
             rowf ? "')" : "");
    if ((rc = run(ed->st, feed, "spp_feature_changes", l, NULL, NULL, id, 0, err))) return rc;
    static const char *const state =
        "UPDATE spp_layers SET version = version + 1, n_features = n_features + ?4,"
        " updated = ?2,"
        " minx = CASE WHEN g IS NULL THEN minx ELSE min(coalesce(minx, MbrMinX(g)), MbrMinX(g)) "
        "END,"
        " miny = CASE WHEN g IS NULL THEN miny ELSE min(coalesce(miny, MbrMinY(g)), MbrMinY(g)) "
        "END,"
        " maxx = CASE WHEN g IS NULL THEN maxx ELSE max(coalesce(maxx, MbrMaxX(g)), MbrMaxX(g)) "
        "END,"
        " maxy = CASE WHEN g IS NULL THEN maxy ELSE max(coalesce(maxy, MbrMaxY(g)), MbrMaxY(g)) END"
        " FROM (SELECT after_geom AS g FROM spp_edits WHERE id = ?5) WHERE layer = ?1";
    if ((rc = run(ed->st, state, "spp_layers", l, ed->at, NULL, dn, id, err))) return rc;
    if ((rc = store_search_flush(ed->st, l, err))) return rc; /* search.c: the edited rows */
    /* the land-use overview follows the edit's boxes, so low-zoom tiles keep reading it */
    char batch[40];
    snprintf(batch, sizeof batch, "edit:%lld", (long long)id);
    return store_overview_edit(ed->st, l, batch, edit_geo, err);
}

/* ---- writes ---- */

static void bind_value(sqlite3_stmt *s, int pos, const struct value *v)
{
    switch (v ? v->type : VAL_NULL) {
    case VAL_INT:
        sqlite3_bind_int64(s, pos, v->i);
        break;
    case VAL_REAL:
        sqlite3_bind_double(s, pos, v->d);
        break;
    case VAL_TEXT:
        sqlite3_bind_text(s, pos, v->s, v->len >= 0 ? v->len : -1, SQLITE_TRANSIENT);
        break;
    default:
        sqlite3_bind_null(s, pos);
    }
}

/* INSERT (fid, fields, geom) or UPDATE fields, geom WHERE fid: values and wkb bound. */
static int write_row(struct store_edit *ed, const struct layer_def *l, const struct store_row *r,
                     int insert, struct err *err)
{
    struct buf q;
    buf_init(&q);
    int nomem = 0;
    if (insert) {
        nomem = buf_puts(&q, "INSERT INTO ") || store_put_ident(&q, l->id) || buf_puts(&q, " (fid");
        for (int i = 0; i < l->n_fields && !nomem; i++)
            nomem = buf_puts(&q, ", ") || store_put_ident(&q, l->fields[i].name);
        nomem = nomem || buf_puts(&q, ", geom) VALUES (?");
        for (int i = 0; i < l->n_fields && !nomem; i++)
            nomem = buf_puts(&q, ", ?");
        nomem = nomem || buf_printf(&q, ", GeomFromWKB(?, %d))", ed->st->srid);
    } else {
        nomem = buf_puts(&q, "UPDATE ") || store_put_ident(&q, l->id) || buf_puts(&q, " SET ");
        for (int i = 0; i < l->n_fields && !nomem; i++)
            nomem = store_put_ident(&q, l->fields[i].name) || buf_puts(&q, " = ?, ");
        nomem = nomem || buf_printf(&q, "geom = GeomFromWKB(?, %d) WHERE fid = ?", ed->st->srid);
    }
    if (nomem) {
        buf_fini(&q);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    sqlite3_stmt *s = store_prepare(ed->st, q.data, err);
    buf_fini(&q);
    if (!s) return ERR_DB;
    int pos = 1;
    if (insert) {
        if (r->fid > 0)
            sqlite3_bind_int64(s, pos, r->fid);
        else
            sqlite3_bind_null(s, pos);
        pos++;
    }
    for (int i = 0; i < l->n_fields; i++)
        bind_value(s, pos++, i < r->n_values ? &r->values[i] : NULL);
    if (r->wkb)
        sqlite3_bind_blob(s, pos++, r->wkb, (int)r->wkb_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, pos++);
    if (!insert) sqlite3_bind_int64(s, pos, r->fid);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(ed->st, err, l->id);
    sqlite3_reset(s);
    return rc;
}

int store_edit_insert(struct store_edit *ed, const struct layer_def *l, const struct store_row *r,
                      int64_t *fid, int64_t *change_id, struct err *err)
{
    if (ed->st->pg) return pg_edit_insert(ed->st->pg, l, ed->who, ed->at, r, fid, change_id, err);
    int64_t id = 0;
    int rc = write_row(ed, l, r, 1, err);
    if (rc) return rc;
    *fid = sqlite3_last_insert_rowid(ed->st->db);
    if (!(rc = log_before(ed, l, *fid, "insert", 0, &id, err))) /* logged after: no before */
        rc = run(ed->st,
                 "UPDATE spp_edits SET before = NULL, before_geom = NULL WHERE id = ?4"
                 " AND ?1 IS NOT NULL",
                 "spp_edits", l, NULL, NULL, id, 0, err);
    if (!rc) rc = log_after(ed, l, id, *fid, 1, err);
    if (!rc && change_id) *change_id = id;
    return rc;
}

int store_edit_update(struct store_edit *ed, const struct layer_def *l, const struct store_row *r,
                      int64_t *change_id, struct err *err)
{
    int rc = store_lock_check(ed->st, ed->lock_id, l, r->fid, err); /* both backends */
    if (rc) return rc;
    if (ed->st->pg) return pg_edit_update(ed->st->pg, l, ed->who, ed->at, r, change_id, err);
    int64_t id = 0;
    rc = log_before(ed, l, r->fid, "update", 0, &id, err);
    if (!rc) rc = write_row(ed, l, r, 0, err);
    if (!rc) rc = log_after(ed, l, id, r->fid, 0, err);
    if (!rc && change_id) *change_id = id;
    return rc;
}

int store_edit_delete(struct store_edit *ed, const struct layer_def *l, int64_t fid,
                      int64_t *change_id, struct err *err)
{
    int rc = store_lock_check(ed->st, ed->lock_id, l, fid, err); /* both backends */
    if (rc) return rc;
    if (ed->st->pg) return pg_edit_delete(ed->st->pg, l, ed->who, ed->at, fid, change_id, err);
    int64_t id = 0;
    /* a row that is not there (deleted earlier in the same edit) is ERR_NOT_FOUND, as on PostGIS:
     * logging it would record a delete of nothing and count the layer one feature short */
    int have = 0;
    rc = read_row(ed->st, l, fid, 0, NULL, NULL, &have, err);
    if (!rc && !have)
        rc = err_set(err, ERR_NOT_FOUND, "%s: no feature %lld", l->id, (long long)fid);
    if (!rc) rc = log_before(ed, l, fid, "delete", 0, &id, err);
    struct buf q;
    buf_init(&q);
    if (!rc)
        rc = buf_puts(&q, "DELETE FROM ") || store_put_ident(&q, l->id) ||
                     buf_puts(&q, " WHERE fid = ?4")
                 ? err_set(err, ERR_NOMEM, "out of memory")
                 : run(ed->st, q.data, l->id, l, NULL, NULL, fid, 0, err);
    buf_fini(&q);
    if (!rc) rc = log_after(ed, l, id, fid, -1, err);
    if (!rc && change_id) *change_id = id;
    return rc;
}

/* ---- history and revert ---- */

int store_edit_history(struct store *st, const char *layer, const char *key,
                       int (*fn)(void *ud, const struct store_edit_entry *e), void *ud,
                       struct err *err)
{
    if (st->pg) return pg_edit_history(st->pg, layer, key, fn, ud, err);
    if (store_exec(st, "SELECT 1 FROM spp_edits LIMIT 0", NULL)) return 0; /* never edited */
    sqlite3_stmt *s = store_prepare(st,
                                    "SELECT id, layer, fid, key, op, who, at, before, after,"
                                    " reverts, reverted_by FROM spp_edits WHERE layer = ?1 AND"
                                    " (key = ?2 OR CAST(fid AS TEXT) = ?2) ORDER BY id",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, layer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_edit_entry e;
        e.id = sqlite3_column_int64(s, 0);
        e.layer = (const char *)sqlite3_column_text(s, 1);
        e.fid = sqlite3_column_int64(s, 2);
        e.key = (const char *)sqlite3_column_text(s, 3);
        e.op = (const char *)sqlite3_column_text(s, 4);
        e.who = (const char *)sqlite3_column_text(s, 5);
        e.at = (const char *)sqlite3_column_text(s, 6);
        e.before = (const char *)sqlite3_column_text(s, 7);
        e.after = (const char *)sqlite3_column_text(s, 8);
        e.reverts = sqlite3_column_int64(s, 9);
        e.reverted_by = sqlite3_column_int64(s, 10);
        if ((rc = fn(ud, &e))) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_db_error(st, err, "spp_edits");
    sqlite3_reset(s);
    return rc;
}

/* Puts back the row as spp_edits row `from` had it before (insert: the row is re-created with
 * its fid; update: its fields and geometry are set back). */
static int restore_before(struct store_edit *ed, const struct layer_def *l, int64_t from,
                          int insert, struct err *err)
{
    struct buf q;
    buf_init(&q);
    int nomem = 0;
    if (insert) {
        nomem = buf_puts(&q, "INSERT INTO ") || store_put_ident(&q, l->id) || buf_puts(&q, " (fid");
        for (int i = 0; i < l->n_fields && !nomem; i++)
            nomem = buf_puts(&q, ", ") || store_put_ident(&q, l->fields[i].name);
        nomem = nomem || buf_puts(&q, ", geom) SELECT fid");
        for (int i = 0; i < l->n_fields && !nomem; i++)
            nomem = buf_printf(&q, ", json_extract(before, '$.%s')", l->fields[i].name);
        nomem = nomem || buf_puts(&q, ", before_geom FROM spp_edits WHERE id = ?4");
    } else {
        nomem = buf_puts(&q, "UPDATE ") || store_put_ident(&q, l->id) || buf_puts(&q, " SET ");
        for (int i = 0; i < l->n_fields && !nomem; i++)
            nomem = store_put_ident(&q, l->fields[i].name) ||
                    buf_printf(&q, " = json_extract(e.before, '$.%s'), ", l->fields[i].name);
        nomem = nomem ||
                buf_puts(&q, "geom = e.before_geom FROM spp_edits e WHERE e.id = ?4"
                             " AND ") ||
                store_put_ident(&q, l->id) || buf_puts(&q, ".fid = e.fid");
    }
    int rc = nomem ? err_set(err, ERR_NOMEM, "out of memory")
                   : run(ed->st, q.data, l->id, l, NULL, NULL, from, 0, err);
    buf_fini(&q);
    return rc;
}

int store_revert_check(const struct catalog *cat, int64_t change_id, const char *layer, int64_t fid,
                       int64_t by, int64_t last, const struct layer_def **l, struct err *err)
{
    if (!(*l = catalog_layer(cat, layer)))
        return err_set(err, ERR_PARAM, "change %lld: layer %s is not in the catalog",
                       (long long)change_id, layer);
    if (by)
        return err_set(err, ERR_PARAM, "change %lld was already reverted by change %lld",
                       (long long)change_id, (long long)by);
    if (last != change_id)
        return err_set(err, ERR_PARAM,
                       "feature %s/%lld changed later (change %lld): revert that first", layer,
                       (long long)fid, (long long)last);
    return 0;
}

int store_edit_revert(struct store_edit *ed, const struct catalog *cat, int64_t change_id,
                      int64_t *new_id, struct err *err)
{
    if (ed->st->pg) return pg_edit_revert(ed->st->pg, cat, ed->who, ed->at, change_id, new_id, err);
    sqlite3_stmt *s = store_prepare(ed->st,
                                    "SELECT layer, fid, op, reverted_by, (SELECT max(id) FROM"
                                    " spp_edits b WHERE b.layer = a.layer AND b.fid = a.fid)"
                                    " FROM spp_edits a WHERE id = ?",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_int64(s, 1, change_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return err_set(err, ERR_NOT_FOUND, "no change %lld", (long long)change_id);
    }
    char layer[128], op[16];
    snprintf(layer, sizeof layer, "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(op, sizeof op, "%s", (const char *)sqlite3_column_text(s, 2));
    int64_t fid = sqlite3_column_int64(s, 1), by = sqlite3_column_int64(s, 3);
    int64_t last = sqlite3_column_int64(s, 4);
    sqlite3_reset(s);
    const struct layer_def *l = NULL;
    int rc = store_revert_check(cat, change_id, layer, fid, by, last, &l, err);
    if (rc) return rc;
    int64_t id = 0;
    if ((rc = store_lock_check(ed->st, ed->lock_id, l, fid, err))) return rc;
    if (strcmp(op, "insert") == 0) {
        rc = log_before(ed, l, fid, "delete", change_id, &id, err);
        struct buf q;
        buf_init(&q);
        if (!rc)
            rc = buf_puts(&q, "DELETE FROM ") || store_put_ident(&q, l->id) ||
                         buf_puts(&q, " WHERE fid = ?4")
                     ? err_set(err, ERR_NOMEM, "out of memory")
                     : run(ed->st, q.data, l->id, l, NULL, NULL, fid, 0, err);
        buf_fini(&q);
        if (!rc) rc = log_after(ed, l, id, fid, -1, err);
    } else {
        int ins = strcmp(op, "delete") == 0;
        rc = log_before(ed, l, fid, ins ? "insert" : "update", change_id, &id, err);
        if (!rc) rc = restore_before(ed, l, change_id, ins, err);
        if (!rc) rc = log_after(ed, l, id, fid, ins ? 1 : 0, err);
    }
    if (!rc)
        rc = run(ed->st, "UPDATE spp_edits SET reverted_by = ?4 WHERE id = ?5 AND ?1 IS NOT NULL",
                 "spp_edits", l, NULL, NULL, id, change_id, err);
    if (!rc && new_id) *new_id = id;
    return rc;
}
