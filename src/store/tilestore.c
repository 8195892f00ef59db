/* SPDX-License-Identifier: MIT */
/* tilestore.c: the tile cache's blob store. Its own SQLite file beside the store ("DB.tiles"), so
 * the workers' store connections stay read-only: one row per (key, encoding) with what the
 * cache's invalidation needs (canon layer list, format, z/x/y), the ETag, the bytes, their size
 * and the Unix second of their last use (the file's LRU order). Incremental auto_vacuum gives an
 * eviction's pages back to the file system. No policy here: what to cache, the keys, the memory
 * front and when to drop what are tiles/cache.c's. One connection, not thread-safe: the caller
 * serialises. */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_blobs {
    sqlite3 *db;
    sqlite3_stmt *get, *put, *touch, *drop;
};

/* `size` is length(data); `used` the Unix second of the last read or write. */
static const char *const schema =
    "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS spp_tiles (id INTEGER PRIMARY KEY, key TEXT NOT NULL,"
    " enc TEXT NOT NULL, layers TEXT NOT NULL, fmt TEXT NOT NULL, z INTEGER NOT NULL,"
    " x INTEGER NOT NULL, y INTEGER NOT NULL, etag TEXT NOT NULL, data BLOB,"
    " created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')), size INTEGER NOT NULL"
    " DEFAULT 0, used INTEGER NOT NULL DEFAULT 0, UNIQUE (key, enc));"
    "CREATE INDEX IF NOT EXISTS spp_tiles_zxy ON spp_tiles (z, x, y);"
    "CREATE INDEX IF NOT EXISTS spp_tiles_used ON spp_tiles (used);"
    "CREATE TABLE IF NOT EXISTS spp_tiles_meta (key TEXT PRIMARY KEY, value);";

static int blobs_error(struct store_blobs *b, struct err *err, enum err_code code, const char *what)
{
    return err_set(err, code, "%s%s%s", what ? what : "", what ? ": " : "",
                   b->db ? sqlite3_errmsg(b->db) : "out of memory");
}

/* A cache file from before the size cap (no `used` column) is emptied: it is only a cache. */
static int upgrade_schema(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int have_table =
        sqlite3_prepare_v2(db, "SELECT 1 FROM spp_tiles LIMIT 0", -1, &s, NULL) == SQLITE_OK;
    sqlite3_finalize(s);
    s = NULL;
    if (!have_table) return SQLITE_OK;
    int current = sqlite3_prepare_v2(db, "SELECT used, size FROM spp_tiles LIMIT 0", -1, &s,
                                     NULL) == SQLITE_OK;
    sqlite3_finalize(s);
    return current ? SQLITE_OK : sqlite3_exec(db, "DROP TABLE spp_tiles", NULL, NULL, NULL);
}

void store_blobs_close(struct store_blobs *b)
{
    if (!b) return;
    sqlite3_finalize(b->get);
    sqlite3_finalize(b->put);
    sqlite3_finalize(b->touch);
    sqlite3_finalize(b->drop);
    if (b->db) sqlite3_close(b->db);
    free(b);
}

/* store_blobs_get's, on either connection */
static const char *const get_sql =
    "SELECT etag, data, layers, fmt, z, x, y, id, used FROM spp_tiles"
    " WHERE key = ? AND enc = ?";

static int prepare(struct store_blobs *b, const char *sql, sqlite3_stmt **out)
{
    return sqlite3_prepare_v2(b->db, sql, -1, out, NULL) != SQLITE_OK;
}

int store_blobs_open(const char *path, struct store_blobs **out, struct err *err)
{
    *out = NULL;
    struct store_blobs *b = calloc(1, sizeof *b);
    if (!b) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    if (sqlite3_open_v2(path, &b->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        rc = err_set(err, ERR_IO, "%s: cannot open tile cache: %s", path,
                     b->db ? sqlite3_errmsg(b->db) : "out of memory");
    if (!rc) sqlite3_busy_timeout(b->db, 5000);
    if (!rc && (upgrade_schema(b->db) != SQLITE_OK ||
                sqlite3_exec(b->db, schema, NULL, NULL, NULL) != SQLITE_OK))
        rc = err_set(err, ERR_IO, "%s: tile cache: %s", path, sqlite3_errmsg(b->db));
    if (!rc &&
        (prepare(b, get_sql, &b->get) ||
         prepare(b,
                 "INSERT OR REPLACE INTO spp_tiles (key, enc, layers, fmt, z, x, y, etag, data,"
                 " size, used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 &b->put) ||
         prepare(b, "UPDATE spp_tiles SET used = ? WHERE id = ?", &b->touch) ||
         prepare(b,
                 "DELETE FROM spp_tiles WHERE z = ? AND x BETWEEN ? AND ? AND y BETWEEN"
                 " ? AND ? AND fmt = ? AND instr(layers, ?) > 0",
                 &b->drop)))
        rc = err_set(err, ERR_DB, "%s: tile cache: %s", path, sqlite3_errmsg(b->db));
    if (rc) {
        store_blobs_close(b);
        return rc;
    }
    *out = b;
    return 0;
}

int store_blobs_open_reader(const char *path, struct store_blobs **out, struct err *err)
{
    *out = NULL;
    struct store_blobs *b = calloc(1, sizeof *b);
    if (!b) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    if (sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        rc = err_set(err, ERR_IO, "%s: cannot open tile cache: %s", path,
                     b->db ? sqlite3_errmsg(b->db) : "out of memory");
    if (!rc) sqlite3_busy_timeout(b->db, 5000);
    if (!rc && prepare(b, get_sql, &b->get))
        rc = err_set(err, ERR_DB, "%s: tile cache: %s", path, sqlite3_errmsg(b->db));
    if (rc) {
        store_blobs_close(b);
        return rc;
    }
    *out = b;
    return 0;
}

int store_blobs_get(struct store_blobs *b, const char *key, const char *enc, int64_t now,
                    struct buf *data, struct store_blob_info *info, int *found, struct err *err)
{
    sqlite3_stmt *s = b->get;
    int rc = 0;
    *found = 0;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, enc, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    int64_t id = 0, used = 0;
    if (step == SQLITE_ROW) {
        const char *tag = (const char *)sqlite3_column_text(s, 0);
        const char *layers = (const char *)sqlite3_column_text(s, 2);
        const char *fmt = (const char *)sqlite3_column_text(s, 3);
        snprintf(info->etag, sizeof info->etag, "%s", tag ? tag : "\"0\"");
        snprintf(info->layers, sizeof info->layers, "%s", layers ? layers : "");
        snprintf(info->fmt, sizeof info->fmt, "%s", fmt ? fmt : "");
        info->complete = layers && fmt;
        info->z = sqlite3_column_int(s, 4);
        info->x = sqlite3_column_int(s, 5);
        info->y = sqlite3_column_int(s, 6);
        info->id = id = sqlite3_column_int64(s, 7);
        info->used = used = sqlite3_column_int64(s, 8);
        const void *bytes = sqlite3_column_blob(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        if (buf_append(data, bytes, len))
            rc = err_set(err, ERR_NOMEM, "out of memory");
        else
            *found = 1;
    } else if (step != SQLITE_DONE) {
        rc = blobs_error(b, err, ERR_DB, "cannot read");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc || !*found || now - used < 60) return rc; /* the file's LRU order, a minute fine */
    return store_blobs_touch(b, id, now, err);
}

int store_blobs_touch(struct store_blobs *b, int64_t id, int64_t now, struct err *err)
{
    int rc = 0;
    sqlite3_bind_int64(b->touch, 1, now);
    sqlite3_bind_int64(b->touch, 2, id);
    if (sqlite3_step(b->touch) != SQLITE_DONE) rc = blobs_error(b, err, ERR_IO, NULL);
    sqlite3_reset(b->touch);
    return rc;
}

int store_blobs_put(struct store_blobs *b, const char *key, const char *enc,
                    const struct store_blob_info *info, const char *data, size_t len, int64_t now,
                    struct err *err)
{
    sqlite3_stmt *s = b->put;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, enc, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, info->layers, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, info->fmt, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, info->z);
    sqlite3_bind_int(s, 6, info->x);
    sqlite3_bind_int(s, 7, info->y);
    sqlite3_bind_text(s, 8, info->etag, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 9, len ? data : "", (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, (int64_t)len);
    sqlite3_bind_int64(s, 11, now);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : blobs_error(b, err, ERR_IO, NULL);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

int store_blobs_drop_range(struct store_blobs *b, const char *fmt, const char *layers_part, int z,
                           int x0, int y0, int x1, int y1, int64_t *n_dropped, struct err *err)
{
    sqlite3_stmt *s = b->drop;
    sqlite3_bind_int(s, 1, z);
    sqlite3_bind_int(s, 2, x0);
    sqlite3_bind_int(s, 3, x1);
    sqlite3_bind_int(s, 4, y0);
    sqlite3_bind_int(s, 5, y1);
    sqlite3_bind_text(s, 6, fmt, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, layers_part, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : blobs_error(b, err, ERR_DB, "cannot drop");
    if (!rc && n_dropped) *n_dropped += sqlite3_changes(b->db);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

int store_blobs_clear(struct store_blobs *b, struct err *err)
{
    if (sqlite3_exec(b->db, "DELETE FROM spp_tiles", NULL, NULL, NULL) != SQLITE_OK)
        return blobs_error(b, err, ERR_DB, "cannot clear");
    return 0;
}

int store_blobs_total(struct store_blobs *b, int64_t *bytes, struct err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = 0;
    if (prepare(b, "SELECT coalesce(sum(size), 0) FROM spp_tiles", &s) ||
        sqlite3_step(s) != SQLITE_ROW)
        rc = blobs_error(b, err, ERR_DB, "cannot sum");
    else
        *bytes = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc;
}

int store_blobs_evict(struct store_blobs *b, int64_t goal, int64_t *bytes, int64_t *n_evicted,
                      struct err *err)
{
    sqlite3_stmt *pick = NULL, *del = NULL;
    int rc = 0;
    if (prepare(b, "SELECT id, size FROM spp_tiles ORDER BY used, id LIMIT 256", &pick) ||
        prepare(b, "DELETE FROM spp_tiles WHERE id = ?", &del) ||
        sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = blobs_error(b, err, ERR_IO, NULL);
        goto out;
    }
    int ok = 1, any = 1;
    int64_t left = *bytes, n = 0;
    while (ok && any && left > goal) {
        any = 0;
        while (ok && left > goal && sqlite3_step(pick) == SQLITE_ROW) {
            any = 1;
            sqlite3_bind_int64(del, 1, sqlite3_column_int64(pick, 0));
            ok = sqlite3_step(del) == SQLITE_DONE;
            sqlite3_reset(del);
            if (ok) left -= sqlite3_column_int64(pick, 1), n++;
        }
        sqlite3_reset(pick);
    }
    if (!ok || sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = blobs_error(b, err, ERR_IO, NULL);
        sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
        struct err ignore;
        if (store_blobs_total(b, bytes, &ignore)) *bytes = 0;
        goto out;
    }
    *bytes = left;
    *n_evicted += n;
    sqlite3_exec(b->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
out:
    sqlite3_finalize(pick);
    sqlite3_finalize(del);
    return rc;
}

int store_blobs_meta_get(struct store_blobs *b, const char *key, int64_t dflt, int64_t *value)
{
    sqlite3_stmt *s = NULL;
    *value = dflt;
    if (prepare(b, "SELECT value FROM spp_tiles_meta WHERE key = ?", &s) == 0) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) *value = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return 0;
}

int store_blobs_meta_set(struct store_blobs *b, const char *key, int64_t value, struct err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = prepare(b, "INSERT OR REPLACE INTO spp_tiles_meta VALUES (?, ?)", &s);
    if (!rc) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, value);
        rc = sqlite3_step(s) != SQLITE_DONE;
    }
    if (rc) rc = blobs_error(b, err, ERR_DB, "cannot write");
    sqlite3_finalize(s);
    return rc;
}

int store_blobs_begin(struct store_blobs *b, struct err *err)
{
    if (sqlite3_exec(b->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return blobs_error(b, err, ERR_DB, "cannot begin");
    return 0;
}

int store_blobs_commit(struct store_blobs *b, struct err *err)
{
    if (sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return blobs_error(b, err, ERR_DB, "cannot commit");
    return 0;
}

void store_blobs_rollback(struct store_blobs *b)
{
    if (!sqlite3_get_autocommit(b->db)) sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
}
