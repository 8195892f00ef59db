/* SPDX-License-Identifier: MIT */
/* usage.c: requests per API key and UTC day, and each key's last use (issue 21: daily quotas of
 * sharing agreements, `spp keys list`). Kept in DB.usage, a SQLite file beside the store, as the
 * tile cache keeps DB.tiles: the workers' store connections are read-only and an import's long
 * write transaction must not hold requests up. One connection per process, opened on first use,
 * behind a mutex (a counter update is one short transaction in WAL mode). On PostGIS the counts
 * are in the database (store/pg/keys.c: at most once per request, no lock across the network). */
#include "store_int.h"

#include "pg/pg.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t usage_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *usage_db;
static char usage_path[4096];

static int usage_open(const char *db_path, struct err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.usage", db_path);
    if (usage_db && strcmp(path, usage_path) == 0) return 0;
    if (usage_db) sqlite3_close(usage_db), usage_db = NULL;
    if (sqlite3_open_v2(path, &usage_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        err_set(err, ERR_IO, "%s: %s", path, usage_db ? sqlite3_errmsg(usage_db) : "cannot open");
        sqlite3_close(usage_db);
        usage_db = NULL;
        return ERR_IO;
    }
    sqlite3_busy_timeout(usage_db, 2000);
    if (sqlite3_exec(usage_db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE IF NOT EXISTS usage (key_id INTEGER NOT NULL, day TEXT NOT NULL,"
                     " n INTEGER NOT NULL, last TEXT NOT NULL, PRIMARY KEY (key_id, day));",
                     NULL, NULL, NULL) != SQLITE_OK) {
        err_set(err, ERR_DB, "%s: %s", path, sqlite3_errmsg(usage_db));
        sqlite3_close(usage_db);
        usage_db = NULL;
        return ERR_DB;
    }
    snprintf(usage_path, sizeof usage_path, "%s", path);
    return 0;
}

static void now_utc(char day[11], char ts[21])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, 11, "%Y-%m-%d", &tm);
    strftime(ts, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int store_usage_hit(const char *db_path, int64_t key_id, int64_t quota, int *over, struct err *err)
{
    if (pg_is_uri(db_path)) return pg_usage_hit(db_path, key_id, quota, over, err);
    *over = 0;
    pthread_mutex_lock(&usage_lock);
    int rc = usage_open(db_path, err);
    char day[11], ts[21];
    now_utc(day, ts);
    sqlite3_stmt *s = NULL;
    if (!rc && quota > 0) {
        rc = sqlite3_prepare_v2(usage_db, "SELECT n FROM usage WHERE key_id = ? AND day = ?", -1,
                                &s, NULL) == SQLITE_OK
                 ? 0
                 : ERR_DB;
        if (!rc) {
            sqlite3_bind_int64(s, 1, key_id);
            sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
            if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) >= quota) *over = 1;
            sqlite3_finalize(s);
        }
    }
    if (!rc && !*over) {
        rc = sqlite3_prepare_v2(usage_db,
                                "INSERT INTO usage (key_id, day, n, last) VALUES (?, ?, 1, ?)"
                                " ON CONFLICT(key_id, day) DO UPDATE SET n = n + 1,"
                                " last = excluded.last",
                                -1, &s, NULL) == SQLITE_OK
                 ? 0
                 : ERR_DB;
        if (!rc) {
            sqlite3_bind_int64(s, 1, key_id);
            sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, ts, -1, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_DONE) rc = ERR_DB;
            sqlite3_finalize(s);
        }
    }
    if (rc == ERR_DB) err_set(err, ERR_DB, "%s: %s", usage_path, sqlite3_errmsg(usage_db));
    pthread_mutex_unlock(&usage_lock);
    return rc;
}

int store_usage_get(const char *db_path, int64_t key_id, char last[32], int64_t *today,
                    struct err *err)
{
    if (pg_is_uri(db_path)) return pg_usage_get(db_path, key_id, last, today, err);
    last[0] = '\0';
    *today = 0;
    pthread_mutex_lock(&usage_lock);
    int rc = usage_open(db_path, err);
    char day[11], ts[21];
    now_utc(day, ts);
    sqlite3_stmt *s = NULL;
    if (!rc && sqlite3_prepare_v2(usage_db,
                                  "SELECT max(last), sum(CASE WHEN day = ? THEN n ELSE 0 END)"
                                  " FROM usage WHERE key_id = ?",
                                  -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, key_id);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
            snprintf(last, 32, "%s", sqlite3_column_text(s, 0));
            *today = sqlite3_column_int64(s, 1);
        }
        sqlite3_finalize(s);
    } else if (!rc) {
        rc = err_set(err, ERR_DB, "%s: %s", usage_path, sqlite3_errmsg(usage_db));
    }
    pthread_mutex_unlock(&usage_lock);
    return rc;
}
