/* SPDX-License-Identifier: MIT */
/* keys.c: API keys on PostGIS (spp_keys, the SpatiaLite store's columns; keys.c hashes) and key
 * usage (spp_key_usage: in the database, so every replica counts against the same quota). */
#include "pg.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define KEY_COLS                                                                                   \
    "id, coalesce(name, ''), role, created, coalesce(revoked, ''), coalesce(agency, ''),"          \
    " coalesce(layers, ''), coalesce(fields, ''), coalesce(expires, ''), coalesce(quota, 0),"      \
    " coalesce(rows, '')"

#define NOW_UTC "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

int pg_key_add(struct pg_store *ps, const struct key_info *k, const char *hash, int64_t *id_out,
               struct err *err)
{
    struct value v[9];
    memset(v, 0, sizeof v);
    const char *texts[] = {k->name,   role_name(k->role), hash,      k->agency,
                           k->layers, k->fields,          k->expires};
    for (int i = 0; i < 7; i++)
        v[i] = i >= 3 && !texts[i][0] ? (struct value){.type = VAL_NULL}
                                      : (struct value){.type = VAL_TEXT, .s = texts[i], .len = -1};
    v[7] = (struct value){.type = VAL_INT, .i = k->quota};
    v[8] = k->rows[0] ? (struct value){.type = VAL_TEXT, .s = k->rows, .len = -1}
                      : (struct value){.type = VAL_NULL};
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      "INSERT INTO spp_keys (name, role, hash, created, agency, layers, fields,"
                      " expires, quota, rows) VALUES (?, ?, ?, " NOW_UTC ", ?, ?, ?, ?, ?, ?)"
                      " RETURNING id",
                      v, 9, &r, err);
    if (!rc && id_out) *id_out = pg_get_int(r, 0, 0);
    PQclear(r);
    return rc;
}

static void read_key(const PGresult *r, int row, struct key_info *k)
{
    memset(k, 0, sizeof *k);
    k->id = pg_get_int(r, row, 0);
    snprintf(k->name, sizeof k->name, "%s", pg_get_text(r, row, 1));
    if (role_parse(pg_get_text(r, row, 2), &k->role)) k->role = ROLE_PUBLIC;
    snprintf(k->created, sizeof k->created, "%s", pg_get_text(r, row, 3));
    snprintf(k->revoked, sizeof k->revoked, "%s", pg_get_text(r, row, 4));
    snprintf(k->agency, sizeof k->agency, "%s", pg_get_text(r, row, 5));
    snprintf(k->layers, sizeof k->layers, "%s", pg_get_text(r, row, 6));
    snprintf(k->fields, sizeof k->fields, "%s", pg_get_text(r, row, 7));
    snprintf(k->expires, sizeof k->expires, "%s", pg_get_text(r, row, 8));
    k->quota = pg_get_int(r, row, 9);
    snprintf(k->rows, sizeof k->rows, "%s", pg_get_text(r, row, 10));
}

int pg_key_list(struct pg_store *ps, void (*fn)(void *ud, const struct key_info *k), void *ud,
                struct err *err)
{
    PGresult *r = NULL;
    int rc = pg_query(ps, "SELECT " KEY_COLS " FROM spp_keys ORDER BY id", NULL, 0, &r, err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        struct key_info k;
        read_key(r, i, &k);
        fn(ud, &k);
    }
    PQclear(r);
    return rc;
}

int pg_key_revoke(struct pg_store *ps, int64_t id, struct err *err)
{
    struct value v = {.type = VAL_INT, .i = id};
    int64_t n = 0;
    int rc =
        pg_exec(ps, "UPDATE spp_keys SET revoked = " NOW_UTC " WHERE id = ? AND revoked IS NULL",
                &v, 1, &n, err);
    if (!rc && n == 0)
        rc = err_set(err, ERR_NOT_FOUND, "no active key with id %lld", (long long)id);
    return rc;
}

int pg_key_lookup(struct pg_store *ps, const char *hash, struct key_info *out, struct err *err)
{
    struct value v = {.type = VAL_TEXT, .s = hash, .len = -1};
    PGresult *r = NULL;
    int rc = pg_query(ps, "SELECT " KEY_COLS " FROM spp_keys WHERE hash = ?", &v, 1, &r, err);
    if (rc) return rc;
    if (PQntuples(r) == 1) read_key(r, 0, out);
    if (PQntuples(r) != 1 || out->revoked[0] || role_parse(pg_get_text(r, 0, 2), &out->role))
        rc = err_set(err, ERR_FORBIDDEN, "invalid or revoked API key");
    PQclear(r);
    return rc;
}

/* ---- usage: a few process-wide connections (spp_key_usage) ----
 *
 * The lock guards only the pool's bookkeeping: it is never held across a network wait (a
 * connect, a statement). The pool's state is shared by every request: while the database is
 * away, one request at a time tries to reconnect, no earlier than the backoff allows (100 ms
 * doubling to 5 s), and every other keyed request fails at once with the 503 meanwhile.
 *
 * Counting is at most once: the increment is one statement, sent once (pg_query never sends a
 * non-SELECT again after its connection broke under it); when the connection breaks while it
 * runs, whether it counted is unknown and the request is refused (503), never counted twice. */

enum { USAGE_CONNS = 4, USAGE_WAIT_MS = 2000, USAGE_STATEMENT_MS = 2000 };
enum { USAGE_BACKOFF_MIN_MS = 100, USAGE_BACKOFF_MAX_MS = 5000 };

static struct {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct pg_store *idle[USAGE_CONNS];
    int n_idle;
    int n_open;  /* idle, lent or being connected */
    int down;    /* the last connect failed or a connection broke: one prober at a time */
    int probing; /* a reconnect is in flight */
    int backoff_ms;
    struct timespec next_try; /* CLOCK_MONOTONIC */
} usage = {.lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER};

static long usage_ms_until(const struct timespec *t)
{
    struct timespec n;
    clock_gettime(CLOCK_MONOTONIC, &n);
    return (long)(t->tv_sec - n.tv_sec) * 1000 + (t->tv_nsec - n.tv_nsec) / 1000000;
}

static int usage_away(struct err *err, const char *why)
{
    int rc = err_set(err, ERR_DB, "database unavailable (%s)", why);
    if (err) err->http_status = 503;
    return rc;
}

/* A connect failed (lock held): no other attempt before the backoff has passed. */
static void usage_failed(void)
{
    usage.down = 1;
    usage.backoff_ms = usage.backoff_ms ? usage.backoff_ms * 2 : USAGE_BACKOFF_MIN_MS;
    if (usage.backoff_ms > USAGE_BACKOFF_MAX_MS) usage.backoff_ms = USAGE_BACKOFF_MAX_MS;
    clock_gettime(CLOCK_MONOTONIC, &usage.next_try);
    long ns = usage.next_try.tv_nsec + (long)usage.backoff_ms * 1000000L;
    usage.next_try.tv_sec += ns / 1000000000L;
    usage.next_try.tv_nsec = ns % 1000000000L;
}

/* Lends a connection (lock not held on return). */
static int usage_take(const char *uri, struct pg_store **out, struct err *err)
{
    *out = NULL;
    struct timespec until; /* pthread_cond_timedwait's clock */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += USAGE_WAIT_MS / 1000;
    pthread_mutex_lock(&usage.lock);
    for (;;) {
        if (usage.n_idle) {
            *out = usage.idle[--usage.n_idle];
            pthread_mutex_unlock(&usage.lock);
            return 0;
        }
        if (usage.down && (usage.probing || usage_ms_until(&usage.next_try) > 0)) {
            char why[64];
            if (usage.probing)
                snprintf(why, sizeof why, "reconnecting");
            else
                snprintf(why, sizeof why, "retrying in %ld ms", usage_ms_until(&usage.next_try));
            pthread_mutex_unlock(&usage.lock);
            return usage_away(err, why);
        }
        if (usage.n_open < USAGE_CONNS) break;
        if (pthread_cond_timedwait(&usage.freed, &usage.lock, &until)) {
            pthread_mutex_unlock(&usage.lock);
            return usage_away(err, "every usage connection busy");
        }
    }
    usage.n_open++;
    int probe = usage.down;
    if (probe) usage.probing = 1;
    pthread_mutex_unlock(&usage.lock);
    int rc = pg_open(uri, STORE_WRITE, out, err); /* the network wait, unlocked */
    pthread_mutex_lock(&usage.lock);
    if (probe) usage.probing = 0;
    if (rc) {
        usage.n_open--;
        usage_failed();
        if (err) err->http_status = 503;
    } else {
        usage.down = 0;
        usage.backoff_ms = 0;
    }
    pthread_cond_broadcast(&usage.freed);
    pthread_mutex_unlock(&usage.lock);
    return rc;
}

/* Gives a lent connection back; a broken one is closed (the next request reconnects at once,
 * one at a time: a failed reconnect starts the backoff). */
static void usage_give(struct pg_store *ps)
{
    int broken = !ps->conn || PQstatus(ps->conn) != CONNECTION_OK;
    pthread_mutex_lock(&usage.lock);
    if (broken && ps->backoff_ms) { /* its own reconnect failed too: the backoff grows */
        usage.n_open--;
        usage_failed();
    } else if (broken) {
        usage.n_open--;
        usage.down = 1;
        clock_gettime(CLOCK_MONOTONIC, &usage.next_try);
    } else {
        usage.idle[usage.n_idle++] = ps;
    }
    pthread_cond_signal(&usage.freed);
    pthread_mutex_unlock(&usage.lock);
    if (broken) pg_close(ps);
}

int pg_usage_hit(const char *uri, int64_t key_id, int64_t quota, int *over, struct err *err)
{
    *over = 0;
    struct pg_store *ps = NULL;
    int rc = usage_take(uri, &ps, err);
    if (rc) return rc;
    /* one statement: counts unless the quota is reached; answers the count after it */
    struct value v[3] = {{.type = VAL_INT, .i = key_id},
                         {.type = VAL_INT, .i = quota},
                         {.type = VAL_INT, .i = quota}};
    PGresult *r = NULL;
    pg_set_deadline(ps, USAGE_STATEMENT_MS);
    rc = pg_query(ps,
                  "INSERT INTO spp_key_usage AS u (key_id, day, n, last) VALUES (?,"
                  " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 1, " NOW_UTC ")"
                  " ON CONFLICT (key_id, day) DO UPDATE SET n = u.n + 1, last = excluded.last"
                  " WHERE ? <= 0 OR u.n < ? RETURNING n",
                  v, 3, &r, err);
    if (!rc && PQntuples(r) == 0) *over = 1;
    PQclear(r);
    usage_give(ps);
    return rc;
}

int pg_usage_get(const char *uri, int64_t key_id, char last[32], int64_t *today, struct err *err)
{
    last[0] = '\0';
    *today = 0;
    struct pg_store *ps = NULL;
    int rc = usage_take(uri, &ps, err);
    if (rc) return rc;
    struct value v = {.type = VAL_INT, .i = key_id};
    PGresult *r = NULL;
    pg_set_deadline(ps, USAGE_STATEMENT_MS);
    rc = pg_query(ps,
                  "SELECT coalesce(max(last), ''), coalesce(sum(n) FILTER (WHERE day ="
                  " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')), 0)::bigint"
                  " FROM spp_key_usage WHERE key_id = ?",
                  &v, 1, &r, err);
    if (!rc) {
        snprintf(last, 32, "%s", pg_get_text(r, 0, 0));
        *today = pg_get_int(r, 0, 1);
    }
    PQclear(r);
    usage_give(ps);
    return rc;
}
