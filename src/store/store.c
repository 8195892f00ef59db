/* SPDX-License-Identifier: MIT */
/* store.c: opening the SpatiaLite file, creating the schema from the catalog, `spp check`, the
 * statement cache and layer state. Queries are in query.c, API keys in keys.c. */
#include "store_int.h"

#include "pg/pg.h"
#include "search.h"

#include <errno.h>
#include <pthread.h>
#include <spatialite.h>
#include <utf8proc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t spl_once = PTHREAD_ONCE_INIT;

static void spl_init(void)
{
    spatialite_initialize();
}

int store_db_error(struct store *st, struct err *err, const char *context)
{
    int code = sqlite3_errcode(st->db);
    if (code == SQLITE_INTERRUPT)
        return err_set(err, ERR_LIMIT, "%s: query time limit reached", context);
    return err_set(err, ERR_DB, "%s: %s", context, sqlite3_errmsg(st->db));
}

int store_put_ident(struct buf *b, const char *name)
{
    int rc = buf_putc(b, '"');
    for (const char *p = name; *p && !rc; p++) {
        if (*p == '"') rc = buf_putc(b, '"');
        if (!rc) rc = buf_putc(b, *p);
    }
    return rc ? rc : buf_putc(b, '"');
}

static int progress(void *ud)
{
    struct store *st = ud;
    if (!st->has_deadline) return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > st->deadline.tv_sec ||
           (now.tv_sec == st->deadline.tv_sec && now.tv_nsec > st->deadline.tv_nsec);
}

void store_set_deadline(struct store *st, int ms)
{
    if (st->pg) return pg_set_deadline(st->pg, ms);
    if (ms <= 0) {
        st->has_deadline = 0;
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &st->deadline);
    st->deadline.tv_sec += ms / 1000;
    st->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (st->deadline.tv_nsec >= 1000000000L) {
        st->deadline.tv_sec++;
        st->deadline.tv_nsec -= 1000000000L;
    }
    st->has_deadline = 1;
}

void store_share_deadline(struct store *st, const struct store *from)
{
    if (st->pg && from->pg) return pg_share_deadline(st->pg, from->pg);
    st->deadline = from->deadline;
    st->has_deadline = from->has_deadline;
}

int store_tracks_reads(const struct store *st)
{
    return st->reads != NULL;
}

int store_exec(struct store *st, const char *sql, struct err *err)
{
    if (st->pg) return pg_exec(st->pg, sql, NULL, 0, NULL, err);
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(err, ERR_DB, "%s", msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return ERR_DB;
    }
    return 0;
}

int store_begin(struct store *st, struct err *err)
{
    if (st->pg) {
        int rc = pg_exec(st->pg, "BEGIN", NULL, 0, NULL, err);
        st->pg->in_tx = !rc;
        return rc;
    }
    return store_exec(st, "BEGIN IMMEDIATE", err);
}

int store_begin_read(struct store *st, struct err *err)
{
    if (st->pg) {
        int rc =
            pg_exec(st->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, 0, NULL, err);
        st->pg->in_tx = !rc;
        return rc;
    }
    return store_exec(st, "BEGIN", err);
}

void store_end_read(struct store *st)
{
    struct err ignored;
    if (store_commit(st, &ignored)) store_rollback(st);
}

int store_commit(struct store *st, struct err *err)
{
    if (st->pg) {
        int rc = pg_exec(st->pg, "COMMIT", NULL, 0, NULL, err);
        st->pg->in_tx = 0;
        return rc;
    }
    return store_exec(st, "COMMIT", err);
}

void store_rollback(struct store *st)
{
    if (st && st->pg && st->pg->in_tx) {
        st->pg->in_tx = 0;
        pg_exec(st->pg, "ROLLBACK", NULL, 0, NULL, NULL);
        return;
    }
    if (st && st->pg) return;
    if (st && !sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_is_remote(const char *path)
{
    return pg_is_uri(path);
}

int store_audit_append(const char *uri, const char *const *rests, int n, struct err *err)
{
    return pg_audit_append(uri, rests, n, err);
}

int store_audit_dump(const char *uri, void *file, struct err *err)
{
    return pg_audit_dump(uri, file, err);
}

int store_ping(const char *path, struct err *err)
{
    return pg_is_uri(path) ? pg_ping_uri(path, err) : 0;
}

void *store_db(struct store *st)
{
    if (st->pg) return NULL; /* no SQLite handle behind a PostGIS store */
    return st->db;
}

static int read_srid(struct store *st)
{
    sqlite3_stmt *s = NULL;
    int srid = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM spp_meta WHERE key = 'storage_srid'", -1, &s,
                           NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        srid = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return srid;
}

/* spp_casefold(text): NFC and Unicode case folding (utf8proc), so CQL2 CASEI and FES
 * matchCase="false" compare Vietnamese letters too ('Đ' with 'đ', 'Ề' with 'ề'), which SQLite's
 * own lower() and LIKE fold only for ASCII. NULL stays NULL; invalid UTF-8 is compared as is. */
static void sql_casefold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const unsigned char *s = sqlite3_value_text(argv[0]);
    int n = sqlite3_value_bytes(argv[0]);
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t m =
        s ? utf8proc_map(s, n, &out, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD) : -1;
    if (m < 0) {
        sqlite3_result_value(ctx, argv[0]);
        return;
    }
    sqlite3_result_text(ctx, (const char *)out, (int)m, free);
}

/* spp_fold(text): the fold store_set_text_fold registered (its user data). */
static void sql_fold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    char *(*fold)(const char *) = (char *(*)(const char *))sqlite3_user_data(ctx);
    const unsigned char *s = sqlite3_value_text(argv[0]);
    char *f = s ? fold((const char *)s) : NULL;
    if (f)
        sqlite3_result_text(ctx, f, -1, free);
    else
        sqlite3_result_null(ctx);
}

int store_set_text_fold(struct store *st, char *(*fold)(const char *s), struct err *err)
{
    /* once per connection: registering again would expire every cached statement */
    if (st->text_fold == fold || st->pg) return 0; /* PostGIS: spp_fold is in its schema */
    if (sqlite3_create_function_v2(st->db, "spp_fold", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   (void *)fold, sql_fold, NULL, NULL, NULL) != SQLITE_OK)
        return store_db_error(st, err, "spp_fold");
    st->text_fold = fold;
    return 0;
}

int store_open(const char *path, enum store_mode mode, struct store **out, struct err *err)
{
    *out = NULL;
    pthread_once(&spl_once, spl_init);
    struct store *st = calloc(1, sizeof *st);
    if (!st) return err_set(err, ERR_NOMEM, "out of memory");
    st->shm_fd = -1;
    if (pg_is_uri(path)) {
        int rc = pg_open(path, mode, &st->pg, err);
        if (rc)
            free(st);
        else
            *out = st;
        return rc;
    }
    int flags =
        mode == STORE_READ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX;
    st->readonly = mode == STORE_READ;
    st->ids_max = STORE_IDS_MAX;
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        err_set(err, ERR_IO, "%s: cannot open store: %s", path,
                st->db ? sqlite3_errmsg(st->db) : "out of memory");
        store_close(st);
        return ERR_IO;
    }
    sqlite3_extended_result_codes(st->db, 0);
    sqlite3_busy_timeout(st->db, 5000);
    st->spl_cache = spatialite_alloc_connection();
    spatialite_init_ex(st->db, st->spl_cache, 0);
    store_ids_register(st->db); /* spp_ids(?): ids.c */
    sqlite3_create_function_v2(st->db, "spp_casefold", 1,
                               SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                               sql_casefold, NULL, NULL, NULL);
    struct err fold_err; /* spp_fold (search.c), which the search indexes' triggers call */
    err_clear(&fold_err);
    if (store_set_text_fold(st, store_text_fold, &fold_err)) {
        err_set(err, ERR_DB, "%s: %s", path, fold_err.msg);
        store_close(st);
        return ERR_DB;
    }
    sqlite3_progress_handler(st->db, 1000, progress, st);
    /* A read-only open of a file that is not a database fails here, not later. */
    if (sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
        err_set(err, ERR_IO, "%s: cannot read the store: %s", path, sqlite3_errmsg(st->db));
        store_close(st);
        return ERR_IO;
    }
    if (mode == STORE_WRITE) {
        if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL,
                         NULL) != SQLITE_OK) {
            err_set(err, ERR_DB, "%s: cannot switch the store to WAL mode: %s", path,
                    sqlite3_errmsg(st->db));
            store_close(st);
            return ERR_DB;
        }
    } else {
        sqlite3_exec(st->db, "PRAGMA cache_size=-65536; PRAGMA mmap_size=1073741824", NULL, NULL,
                     NULL);
    }
    st->srid = read_srid(st);
    store_watch_open(st);
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st) return;
    pg_close(st->pg);
    for (int i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(st->stmts[i].stmt);
        free(st->stmts[i].sql);
    }
    if (st->db) sqlite3_close(st->db);
    if (st->spl_cache) spatialite_cleanup_ex(st->spl_cache);
    if (st->shm_fd >= 0) close(st->shm_fd);
    free(st);
}

int store_srid(struct store *st)
{
    if (st->pg) return st->pg->srid;
    return st->srid;
}

sqlite3_stmt *store_prepare(struct store *st, const char *sql, struct err *err)
{
    struct stmt_slot *lru = &st->stmts[0];
    st->tick++;
    for (int i = 0; i < STMT_CACHE; i++) {
        struct stmt_slot *s = &st->stmts[i];
        if (s->sql && strcmp(s->sql, sql) == 0) {
            s->used = st->tick;
            sqlite3_reset(s->stmt);
            sqlite3_clear_bindings(s->stmt);
            return s->stmt;
        }
        if (s->used < lru->used) lru = s;
    }
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
        store_db_error(st, err, "prepare");
        return NULL;
    }
    char *copy = str_dup(sql);
    if (!copy) {
        sqlite3_finalize(stmt);
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    sqlite3_finalize(lru->stmt);
    free(lru->sql);
    lru->sql = copy;
    lru->stmt = stmt;
    lru->used = st->tick;
    return stmt;
}

/* ---- schema ---- */

static const char *const meta_sql =
    "CREATE TABLE IF NOT EXISTS spp_meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS spp_imports (batch TEXT PRIMARY KEY, started TEXT, finished TEXT,"
    " sources TEXT, counts TEXT, checksums TEXT, report TEXT);"
    "CREATE TABLE IF NOT EXISTS spp_layers (layer TEXT PRIMARY KEY, version INTEGER NOT NULL"
    " DEFAULT 0, n_features INTEGER NOT NULL DEFAULT 0, minx REAL, miny REAL, maxx REAL,"
    " maxy REAL, updated TEXT, import_batch TEXT);"
    "CREATE TABLE IF NOT EXISTS spp_findings (id INTEGER PRIMARY KEY, batch TEXT, layer TEXT,"
    " src_file TEXT, src_row INTEGER, severity TEXT, kind TEXT, message TEXT);"
    "CREATE TABLE IF NOT EXISTS spp_changes (id INTEGER PRIMARY KEY, layer TEXT NOT NULL,"
    " batch TEXT, minx REAL, miny REAL, maxx REAL, maxy REAL, at TEXT);"
    "CREATE TABLE IF NOT EXISTS spp_sources (batch TEXT NOT NULL, layer TEXT NOT NULL,"
    " path TEXT NOT NULL, abs_path TEXT, position INTEGER, PRIMARY KEY (batch, layer, path));"
    "CREATE TABLE IF NOT EXISTS spp_layer_history (batch TEXT NOT NULL, layer TEXT NOT NULL,"
    " n_features INTEGER NOT NULL, at TEXT, PRIMARY KEY (batch, layer));"
    "CREATE TABLE IF NOT EXISTS spp_keys (id INTEGER PRIMARY KEY, name TEXT, role TEXT NOT NULL,"
    " hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, revoked TEXT);"
    /* feature locks (lock.c; WFS LockFeature) */
    "CREATE TABLE IF NOT EXISTS spp_lock_ids (id TEXT PRIMARY KEY, expires REAL NOT NULL,"
    " seconds INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS spp_locks (layer TEXT NOT NULL, fid INTEGER NOT NULL,"
    " lock_id TEXT NOT NULL, PRIMARY KEY (layer, fid));"
    "CREATE INDEX IF NOT EXISTS spp_locks_id ON spp_locks (lock_id);";

static const char *sql_type(enum field_type t)
{
    switch (t) {
    case FT_INTEGER:
    case FT_BOOLEAN:
        return "INTEGER";
    case FT_REAL:
        return "REAL";
    default:
        return "TEXT";
    }
}

static int table_exists(struct store *st, const char *name)
{
    sqlite3_stmt *s = NULL;
    int yes = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1,
                           &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        yes = sqlite3_step(s) == SQLITE_ROW;
    }
    sqlite3_finalize(s);
    return yes;
}

static int create_layer(struct store *st, const struct layer_def *l, int srid, struct err *err)
{
    struct buf b;
    buf_init(&b);
    int nomem = buf_puts(&b, "CREATE TABLE ") || store_put_ident(&b, l->id) ||
                buf_puts(&b, " (fid INTEGER PRIMARY KEY");
    for (int i = 0; i < l->n_fields && !nomem; i++)
        nomem = buf_puts(&b, ", ") || store_put_ident(&b, l->fields[i].name) ||
                buf_printf(&b, " %s", sql_type(l->fields[i].type));
    if (!nomem)
        nomem = buf_puts(&b, ");") ||
                buf_printf(&b, "SELECT AddGeometryColumn('%s', 'geom', %d, '%s', 'XY');", l->id,
                           srid, geom_type_name(l->geom)) ||
                buf_printf(&b, "SELECT CreateSpatialIndex('%s', 'geom');", l->id) ||
                buf_printf(&b, "INSERT OR IGNORE INTO spp_layers (layer) VALUES ('%s');", l->id);
    if (nomem) {
        buf_fini(&b);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    int rc = store_exec(st, b.data, err);
    buf_fini(&b);
    return rc;
}

int store_init_schema(struct store *st, const struct catalog *cat, int srid, struct err *err)
{
    int rc = 0;
    char sql[256];
    if (st->pg) {
        rc = pg_init_schema(st->pg, cat, srid, err);
        if (!rc) rc = store_ensure_lookup_indexes(st, cat, err); /* portable SQL */
        return rc ? rc : store_search_ensure(st, cat, err);      /* search.c: pg_trgm */
    }
    if (st->srid && st->srid != srid)
        return err_set(err, ERR_PARAM, "store has storage CRS EPSG:%d, not EPSG:%d", st->srid,
                       srid);
    if ((rc = store_begin(st, err))) return rc;
    if (!table_exists(st, "spatial_ref_sys") &&
        (rc = store_exec(st, "SELECT InitSpatialMetadata(0, 'WGS84_ONLY')", err)))
        goto done;
    snprintf(sql, sizeof sql,
             "SELECT InsertEpsgSrid(%d) WHERE NOT EXISTS (SELECT 1 FROM spatial_ref_sys"
             " WHERE srid = %d)",
             srid, srid);
    if ((rc = store_exec(st, sql, err))) goto done;
    snprintf(sql, sizeof sql, "SELECT 1 FROM spatial_ref_sys WHERE srid = %d", srid);
    sqlite3_stmt *s = NULL;
    int have =
        sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    if (!have) {
        rc = err_set(err, ERR_PARAM, "storage CRS EPSG:%d is unknown to SpatiaLite", srid);
        goto done;
    }
    if ((rc = store_exec(st, meta_sql, err))) goto done;
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO spp_meta VALUES ('storage_srid', '%d');"
             "INSERT OR IGNORE INTO spp_meta VALUES ('schema_version', '1');",
             srid);
    if ((rc = store_exec(st, sql, err))) goto done;
    for (int i = 0; i < cat->n_layers && !rc; i++)
        if (!table_exists(st, cat->layers[i].id)) rc = create_layer(st, &cat->layers[i], srid, err);
    if (!rc) rc = store_ensure_lookup_indexes(st, cat, err); /* lookup.c: keys, communes */
    if (!rc) rc = store_search_ensure(st, cat, err); /* search.c: a store made before them */
done:
    if (rc) {
        store_rollback(st);
        return rc;
    }
    rc = store_commit(st, err);
    if (!rc) st->srid = srid;
    return rc;
}

/* ---- spp check ---- */

static int check_layer(struct store *st, const struct layer_def *l, struct buf *rep, int *n)
{
    sqlite3_stmt *s = NULL;
    char sql[512];
    if (!table_exists(st, l->id)) {
        buf_printf(rep, "%s: table missing\n", l->id);
        (*n)++;
        return 0;
    }
    /* columns */
    snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", l->id);
    int seen[512] = {0}, have_fid = 0, have_geom = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return ERR_DB;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 1);
        const char *type = (const char *)sqlite3_column_text(s, 2);
        if (!name) continue;
        if (strcmp(name, "fid") == 0) {
            have_fid = 1;
            if (!sqlite3_column_int(s, 5))
                buf_printf(rep, "%s: fid is not the primary key\n", l->id), (*n)++;
            continue;
        }
        if (strcmp(name, "geom") == 0) {
            have_geom = 1;
            continue;
        }
        int i = layer_field_index(l, name);
        if (i < 0) {
            buf_printf(rep, "%s: column %s is not in the catalog\n", l->id, name);
            (*n)++;
            continue;
        }
        if (i < 512) seen[i] = 1;
        if (!type || !str_ieq(type, sql_type(l->fields[i].type))) {
            buf_printf(rep, "%s: column %s has type %s, catalog says %s\n", l->id, name,
                       type ? type : "(none)", sql_type(l->fields[i].type));
            (*n)++;
        }
    }
    sqlite3_finalize(s);
    if (!have_fid) buf_printf(rep, "%s: column fid missing\n", l->id), (*n)++;
    if (!have_geom) buf_printf(rep, "%s: column geom missing\n", l->id), (*n)++;
    for (int i = 0; i < l->n_fields && i < 512; i++)
        if (!seen[i]) buf_printf(rep, "%s: column %s missing\n", l->id, l->fields[i].name), (*n)++;
    /* geometry column registration */
    snprintf(sql, sizeof sql,
             "SELECT srid, geometry_type, spatial_index_enabled FROM geometry_columns"
             " WHERE f_table_name = lower('%s') AND f_geometry_column = 'geom'",
             l->id);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return ERR_DB;
    if (sqlite3_step(s) == SQLITE_ROW) {
        int srid = sqlite3_column_int(s, 0), gt = sqlite3_column_int(s, 1);
        if (srid != st->srid)
            buf_printf(rep, "%s: geometry CRS EPSG:%d, store CRS EPSG:%d\n", l->id, srid, st->srid),
                (*n)++;
        if (gt != (int)l->geom)
            buf_printf(rep, "%s: geometry type %d, catalog says %s\n", l->id, gt,
                       geom_type_name(l->geom)),
                (*n)++;
        if (sqlite3_column_int(s, 2) != 1)
            buf_printf(rep, "%s: spatial index missing\n", l->id), (*n)++;
    } else {
        buf_printf(rep, "%s: geometry column not registered\n", l->id);
        (*n)++;
    }
    sqlite3_finalize(s);
    char idx[160];
    snprintf(idx, sizeof idx, "idx_%s_geom", l->id);
    if (!table_exists(st, idx)) buf_printf(rep, "%s: R*Tree %s missing\n", l->id, idx), (*n)++;
    /* validity of stored geometries */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM \"%s\" WHERE geom IS NOT NULL AND ST_IsValid(geom) = 0", l->id);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) > 0) {
        buf_printf(rep, "%s: %lld invalid geometries\n", l->id,
                   (long long)sqlite3_column_int64(s, 0));
        (*n)++;
    }
    sqlite3_finalize(s);
    return 0;
}

/* The layer against its import history (spp_layers, spp_layer_history, spp_sources): its row
 * count is the one the last import recorded, it is not empty when it had features, and the
 * source files of its last import can still be read. */
static int check_history(struct store *st, const struct layer_def *l, struct buf *rep, int *n)
{
    sqlite3_stmt *s = NULL;
    char sql[512];
    int64_t recorded = -1, rows = -1;
    char batch[128] = "";
    if (sqlite3_prepare_v2(st->db,
                           "SELECT n_features, import_batch FROM spp_layers WHERE layer = ?", -1,
                           &s, NULL) != SQLITE_OK)
        return ERR_DB;
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        recorded = sqlite3_column_int64(s, 0);
        const char *bt = (const char *)sqlite3_column_text(s, 1);
        snprintf(batch, sizeof batch, "%s", bt ? bt : "");
    }
    sqlite3_finalize(s);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", l->id);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return ERR_DB;
    if (sqlite3_step(s) == SQLITE_ROW) rows = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (recorded >= 0 && batch[0] && rows != recorded)
        buf_printf(rep, "%s: %lld features, but its last import (%s) left %lld\n", l->id,
                   (long long)rows, batch, (long long)recorded),
            (*n)++;
    if (!table_exists(st, "spp_layer_history") || !table_exists(st, "spp_sources")) return 0;
    if (rows == 0) {
        if (sqlite3_prepare_v2(st->db,
                               "SELECT batch, n_features FROM spp_layer_history WHERE layer = ?"
                               " AND n_features > 0 ORDER BY at DESC, rowid DESC LIMIT 1",
                               -1, &s, NULL) != SQLITE_OK)
            return ERR_DB;
        sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            buf_printf(rep, "%s: empty, but it had %lld features after batch %s\n", l->id,
                       (long long)sqlite3_column_int64(s, 1), sqlite3_column_text(s, 0)),
                (*n)++;
        sqlite3_finalize(s);
    }
    if (!batch[0]) return 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT path, abs_path FROM spp_sources WHERE batch = ? AND layer = ?"
                           " ORDER BY position",
                           -1, &s, NULL) != SQLITE_OK)
        return ERR_DB;
    sqlite3_bind_text(s, 1, batch, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, l->id, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *path = (const char *)sqlite3_column_text(s, 0);
        const char *abs = (const char *)sqlite3_column_text(s, 1);
        if (!abs) continue;
        /* a shapefile is read with its .shx and .dbf: each must be there */
        static const char *const parts[] = {"", ".shx", ".dbf"};
        size_t len = strlen(abs);
        int shp = len > 4 && str_ieq(abs + len - 4, ".shp");
        for (size_t k = 0; k < (shp ? 3u : 1u); k++) {
            char file[4096];
            snprintf(file, sizeof file, "%.*s%s", (int)(k ? len - 4 : len), abs, parts[k]);
            if (access(file, R_OK) == 0) continue;
            int e = errno;
            if (k && e == ENOENT) { /* .SHX / .DBF in upper case */
                char upper[4096];
                snprintf(upper, sizeof upper, "%s", file);
                for (char *c = upper + len - 4; *c; c++)
                    *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
                if (access(upper, R_OK) == 0) continue;
            }
            errno = e;
            buf_printf(rep, "%s: source %s of the last import cannot be read (%s: %s)\n", l->id,
                       path ? path : "?", file, strerror(errno));
            (*n)++;
        }
    }
    sqlite3_finalize(s);
    return 0;
}

int store_check(struct store *st, const struct catalog *cat, struct buf *report, int *n_problems,
                struct err *err)
{
    static const char *const meta[] = {"spp_meta",     "spp_imports", "spp_layers",
                                       "spp_findings", "spp_changes", "spp_keys"};
    if (st->pg) return pg_check(st->pg, cat, report, n_problems, err);
    *n_problems = 0;
    if (!st->srid) {
        buf_puts(report, "store: no spp schema (spp_meta.storage_srid missing)\n");
        (*n_problems)++;
        return 0;
    }
    for (size_t i = 0; i < ARRAY_LEN(meta); i++)
        if (!table_exists(st, meta[i]))
            buf_printf(report, "store: table %s missing\n", meta[i]), (*n_problems)++;
    for (int i = 0; i < cat->n_layers; i++)
        if (check_layer(st, &cat->layers[i], report, n_problems) ||
            (table_exists(st, cat->layers[i].id) &&
             check_history(st, &cat->layers[i], report, n_problems)))
            return store_db_error(st, err, cat->layers[i].id);
    return 0;
}

/* ---- layer state ---- */

int store_layer_state(struct store *st, const struct layer_def *layer, struct layer_state *out,
                      struct err *err)
{
    if (st->pg) return pg_layer_state(st->pg, layer, out, err);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s =
        store_prepare(st,
                      "SELECT n_features, version, minx, miny, maxx, maxy, updated FROM spp_layers"
                      " WHERE layer = ?",
                      err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, layer->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->n_features = sqlite3_column_int64(s, 0);
        out->version = sqlite3_column_int64(s, 1);
        if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
            out->has_extent = 1;
            out->extent.minx = sqlite3_column_double(s, 2);
            out->extent.miny = sqlite3_column_double(s, 3);
            out->extent.maxx = sqlite3_column_double(s, 4);
            out->extent.maxy = sqlite3_column_double(s, 5);
        }
        const char *u = (const char *)sqlite3_column_text(s, 6);
        snprintf(out->updated, sizeof out->updated, "%s", u ? u : "");
    } else if (rc != SQLITE_DONE) {
        rc = store_db_error(st, err, "spp_layers");
        sqlite3_reset(s);
        return rc;
    }
    sqlite3_reset(s);
    return 0;
}

int store_refresh_layer(struct store *st, const struct layer_def *layer, const char *batch,
                        struct err *err)
{
    if (st->pg) return pg_refresh_layer(st->pg, layer, batch, err);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO spp_layers (layer, version, n_features, minx, miny, maxx, maxy,"
             " updated, import_batch) SELECT '%s', coalesce((SELECT version FROM spp_layers"
             " WHERE layer = '%s'), 0) + 1, count(*), min(MbrMinX(geom)), min(MbrMinY(geom)),"
             " max(MbrMaxX(geom)), max(MbrMaxY(geom)), strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ','now'),"
             " ? FROM \"%s\" WHERE 1 ON CONFLICT(layer) DO UPDATE SET version = excluded.version,"
             " n_features = excluded.n_features, minx = excluded.minx, miny = excluded.miny,"
             " maxx = excluded.maxx, maxy = excluded.maxy, updated = excluded.updated,"
             " import_batch = excluded.import_batch",
             layer->id, layer->id, layer->id);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return store_db_error(st, err, "spp_layers");
    sqlite3_bind_text(s, 1, batch, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_layers");
    sqlite3_finalize(s);
    return rc;
}
