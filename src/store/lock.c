/* SPDX-License-Identifier: MIT */
/* lock.c: feature locks in the store (store.h, "Locks"; WFS LockFeature, issue 20). It owns the
 * lock tables (spp_lock_ids: id, expiry, duration; spp_locks: (layer, fid) -> lock id), taking,
 * renewing and releasing locks inside an edit, and the check the edit functions run before they
 * change or delete a row. The statements are written once, with '?' placeholders both SQLite and
 * pg_query accept; on PostGIS they run on the edit's connection through pg/lock.c, which also
 * locks the feature's row first. Times are epoch seconds of this host's clock (replicas on one
 * database are expected to keep their clocks in step, as for the change feed's times).
 *
 * Must not: know a protocol (the caller turns "locked" into its exception), hold a lock in
 * process memory (another process or replica would not see it). */
#include "store_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pg/pg.h"

#define LOCK_KEEP_EXPIRED 3600 /* an expired id is remembered this long (LockHasExpired) */

static const char *const lock_tables_sql =
    "CREATE TABLE IF NOT EXISTS spp_lock_ids (id TEXT PRIMARY KEY, expires REAL NOT NULL,"
    " seconds INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS spp_locks (layer TEXT NOT NULL, fid INTEGER NOT NULL,"
    " lock_id TEXT NOT NULL, PRIMARY KEY (layer, fid));"
    "CREATE INDEX IF NOT EXISTS spp_locks_id ON spp_locks (lock_id);";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct value text(const char *s)
{
    return (struct value){.type = VAL_TEXT, .s = s, .len = (int)strlen(s)};
}

static struct value integer(int64_t i)
{
    return (struct value){.type = VAL_INT, .i = i};
}

static struct value real(double d)
{
    return (struct value){.type = VAL_REAL, .d = d};
}

/* SQLite: the tables exist from store_init_schema on; a store made before them gets them here
 * (on the edit's write connection, inside its transaction). */
static int ensure_tables(struct store *st, struct err *err)
{
    return st->pg ? 0 : store_exec(st, lock_tables_sql, err);
}

static void bind_all(sqlite3_stmt *s, const struct value *p, int n)
{
    for (int i = 0; i < n; i++) {
        if (p[i].type == VAL_INT)
            sqlite3_bind_int64(s, i + 1, p[i].i);
        else if (p[i].type == VAL_REAL)
            sqlite3_bind_double(s, i + 1, p[i].d);
        else if (p[i].type == VAL_TEXT)
            sqlite3_bind_text(s, i + 1, p[i].s, p[i].len, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, i + 1);
    }
}

/* Runs a statement; *changes (may be NULL) the rows it wrote. */
static int exec(struct store *st, const char *sql, const struct value *p, int n, int64_t *changes,
                struct err *err)
{
    if (st->pg) return pg_exec(st->pg, sql, p, n, changes, err);
    sqlite3_stmt *s = store_prepare(st, sql, err);
    if (!s) return ERR_DB;
    bind_all(s, p, n);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_locks");
    sqlite3_reset(s);
    if (!rc && changes) *changes = sqlite3_changes(st->db);
    return rc;
}

/* The first row's text and real columns (0, 1) of a query: *found 0 when it has none. */
static int query_one(struct store *st, const char *sql, const struct value *p, int n,
                     char *text_out, size_t text_len, double *real_out, int *found, struct err *err)
{
    *found = 0;
    if (st->pg)
        return pg_lock_query_one(st->pg, sql, p, n, text_out, text_len, real_out, found, err);
    struct err first;
    err_clear(&first);
    sqlite3_stmt *s = store_prepare(st, sql, &first);
    if (!s && !ensure_tables(st, err)) /* a store made before the lock tables */
        s = store_prepare(st, sql, err);
    if (!s) return ERR_DB;
    bind_all(s, p, n);
    int step = sqlite3_step(s), rc = 0;
    if (step == SQLITE_ROW) {
        *found = 1;
        const char *t = (const char *)sqlite3_column_text(s, 0);
        snprintf(text_out, text_len, "%s", t ? t : "");
        *real_out = sqlite3_column_double(s, 1);
    } else if (step != SQLITE_DONE)
        rc = store_db_error(st, err, "spp_locks");
    sqlite3_reset(s);
    return rc;
}

int store_lock_state(struct store_edit *ed, const char *lock_id, enum store_lock_state *out,
                     struct err *err)
{
    struct store *st = store_edit_conn(ed);
    *out = STORE_LOCK_UNKNOWN;
    int rc = ensure_tables(st, err);
    char id[STORE_LOCK_ID_LEN];
    double expires = 0;
    int found = 0;
    struct value p[] = {text(lock_id)};
    if (!rc)
        rc = query_one(st, "SELECT id, expires FROM spp_lock_ids WHERE id = ?", p, 1, id, sizeof id,
                       &expires, &found, err);
    if (!rc && found) *out = expires > now_s() ? STORE_LOCK_LIVE : STORE_LOCK_EXPIRED;
    return rc;
}

/* Deletes the features of expired locks, and the ids expired more than an hour ago. */
static int clean_expired(struct store *st, double now, struct err *err)
{
    struct value p[] = {real(now)};
    int rc = exec(st,
                  "DELETE FROM spp_locks WHERE lock_id IN (SELECT id FROM spp_lock_ids WHERE"
                  " expires <= ?)",
                  p, 1, NULL, err);
    p[0] = real(now - LOCK_KEEP_EXPIRED);
    if (!rc) rc = exec(st, "DELETE FROM spp_lock_ids WHERE expires <= ?", p, 1, NULL, err);
    return rc;
}

static int new_id(char out[STORE_LOCK_ID_LEN], struct err *err)
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return err_set(err, ERR_INTERNAL, "no random bytes for a lock id");
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return 0;
}

/* Takes (or keeps) one feature for lock_id: *got 1 unless another live lock holds it. */
static int take(struct store *st, const char *lock_id, const struct layer_def *l, int64_t fid,
                double now, int *got, struct err *err)
{
    *got = 0;
    int rc = st->pg ? pg_lock_row(st->pg, l, fid, err) : 0;
    struct value p[] = {text(l->id), integer(fid), text(lock_id), real(now)};
    int64_t n = 0;
    if (!rc)
        rc = exec(st,
                  "INSERT INTO spp_locks (layer, fid, lock_id) VALUES (?, ?, ?)"
                  " ON CONFLICT (layer, fid) DO UPDATE SET lock_id = excluded.lock_id"
                  " WHERE spp_locks.lock_id = excluded.lock_id OR NOT EXISTS (SELECT 1 FROM"
                  " spp_lock_ids i WHERE i.id = spp_locks.lock_id AND i.expires > ?)",
                  p, 4, &n, err);
    if (!rc) *got = n > 0;
    return rc;
}

int store_lock_acquire(struct store_edit *ed, char lock_id[STORE_LOCK_ID_LEN], int seconds, int all,
                       struct store_lock_item *items, int n, int *n_locked, struct err *err)
{
    struct store *st = store_edit_conn(ed);
    double now = now_s();
    *n_locked = 0;
    int fresh = !lock_id[0];
    int rc = ensure_tables(st, err);
    if (!rc) rc = clean_expired(st, now, err);
    if (!rc && fresh) rc = new_id(lock_id, err);
    if (!rc) rc = exec(st, "SAVEPOINT spp_lock", NULL, 0, NULL, err);
    if (rc) return rc;
    struct value p[] = {real(now + seconds), integer(seconds), text(lock_id)};
    int64_t changed = 0;
    rc = exec(st,
              fresh ? "INSERT INTO spp_lock_ids (expires, seconds, id) VALUES (?, ?, ?)"
                    : "UPDATE spp_lock_ids SET expires = ?, seconds = ? WHERE id = ?",
              p, 3, &changed, err);
    if (!rc && changed != 1)
        rc =
            err_setl(err, ERR_PARAM, "lockId", "lock %s is not held (unknown or expired)", lock_id);
    for (int i = 0; i < n && !rc; i++) {
        rc = take(st, lock_id, items[i].layer, items[i].fid, now, &items[i].locked, err);
        if (!rc) *n_locked += items[i].locked;
    }
    if (!rc && all && *n_locked < n) { /* all or none: nothing stays */
        rc = exec(st, "ROLLBACK TO SAVEPOINT spp_lock", NULL, 0, NULL, err);
        for (int i = 0; i < n; i++)
            items[i].locked = 0;
        *n_locked = 0;
        if (fresh) lock_id[0] = '\0';
    }
    if (rc) {
        exec(st, "ROLLBACK TO SAVEPOINT spp_lock", NULL, 0, NULL, NULL);
        if (fresh) lock_id[0] = '\0';
    }
    int rc2 = exec(st, "RELEASE SAVEPOINT spp_lock", NULL, 0, NULL, rc ? NULL : err);
    return rc ? rc : rc2;
}

int store_lock_release(struct store_edit *ed, const char *lock_id,
                       const struct store_lock_item *items, int n, struct err *err)
{
    struct store *st = store_edit_conn(ed);
    int rc = ensure_tables(st, err);
    struct value p[] = {text(lock_id), text(""), integer(0)};
    if (!rc && n < 0) {
        rc = exec(st, "DELETE FROM spp_locks WHERE lock_id = ?", p, 1, NULL, err);
        if (!rc) rc = exec(st, "DELETE FROM spp_lock_ids WHERE id = ?", p, 1, NULL, err);
        return rc;
    }
    for (int i = 0; i < n && !rc; i++) {
        p[1] = text(items[i].layer->id), p[2] = integer(items[i].fid);
        rc = exec(st, "DELETE FROM spp_locks WHERE lock_id = ? AND layer = ? AND fid = ?", p, 3,
                  NULL, err);
    }
    /* the features still held are held for the lock's duration again from now */
    struct value q[] = {real(now_s()), text(lock_id)};
    if (!rc)
        rc =
            exec(st, "UPDATE spp_lock_ids SET expires = ? + seconds WHERE id = ?", q, 2, NULL, err);
    return rc;
}

int store_lock_check(struct store *st, const char *lock_id, const struct layer_def *l, int64_t fid,
                     struct err *err)
{
    /* no ensure_tables here: query_one makes them only when its statement cannot be prepared,
     * so an edit of many features costs one cached statement per feature */
    int rc = st->pg ? pg_lock_row(st->pg, l, fid, err) : 0;
    double now = now_s(), expires = 0;
    char holder[STORE_LOCK_ID_LEN];
    int found = 0;
    struct value p[] = {text(l->id), integer(fid), real(now)};
    if (!rc)
        rc = query_one(st,
                       "SELECT k.lock_id, i.expires FROM spp_locks k JOIN spp_lock_ids i ON"
                       " i.id = k.lock_id WHERE k.layer = ? AND k.fid = ? AND i.expires > ?",
                       p, 3, holder, sizeof holder, &expires, &found, err);
    if (rc || !found || (lock_id && strcmp(holder, lock_id) == 0)) return rc;
    err_setl(err, ERR_PARAM, "lockId",
             "feature %s.%lld is locked by another editor for %.0f s more", l->id, (long long)fid,
             expires - now + 0.5);
    err->http_status = STORE_LOCKED_STATUS;
    return ERR_PARAM;
}
