/* SPDX-License-Identifier: MIT */
/* keys.c: API keys on PostGIS (spp_keys, the SpatiaLite store's columns; keys.c hashes) and key
 * usage (spp_key_usage: in the database, so every replica counts against the same quota). */
#include "pg.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

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

/* ---- usage: one process-wide connection behind a mutex, as usage.c's DB.usage ---- */

static pthread_mutex_t usage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pg_store *usage_conn;

static int usage_open(const char *uri, struct err *err)
{
    if (usage_conn) return 0;
    return pg_open(uri, STORE_WRITE, &usage_conn, err);
}

int pg_usage_hit(const char *uri, int64_t key_id, int64_t quota, int *over, struct err *err)
{
    *over = 0;
    pthread_mutex_lock(&usage_lock);
    int rc = usage_open(uri, err);
    /* one statement: counts unless the quota is reached; answers the count after it */
    struct value v[3] = {{.type = VAL_INT, .i = key_id},
                         {.type = VAL_INT, .i = quota},
                         {.type = VAL_INT, .i = quota}};
    PGresult *r = NULL;
    if (!rc) {
        pg_set_deadline(usage_conn, 2000);
        rc = pg_query(usage_conn,
                      "INSERT INTO spp_key_usage AS u (key_id, day, n, last) VALUES (?,"
                      " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 1, " NOW_UTC ")"
                      " ON CONFLICT (key_id, day) DO UPDATE SET n = u.n + 1, last = excluded.last"
                      " WHERE ? <= 0 OR u.n < ? RETURNING n",
                      v, 3, &r, err);
    }
    if (!rc && PQntuples(r) == 0) *over = 1;
    PQclear(r);
    pthread_mutex_unlock(&usage_lock);
    return rc;
}

int pg_usage_get(const char *uri, int64_t key_id, char last[32], int64_t *today, struct err *err)
{
    last[0] = '\0';
    *today = 0;
    pthread_mutex_lock(&usage_lock);
    int rc = usage_open(uri, err);
    struct value v = {.type = VAL_INT, .i = key_id};
    PGresult *r = NULL;
    if (!rc)
        rc = pg_query(usage_conn,
                      "SELECT coalesce(max(last), ''), coalesce(sum(n) FILTER (WHERE day ="
                      " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')), 0)::bigint"
                      " FROM spp_key_usage WHERE key_id = ?",
                      &v, 1, &r, err);
    if (!rc) {
        snprintf(last, 32, "%s", pg_get_text(r, 0, 0));
        *today = pg_get_int(r, 0, 1);
    }
    PQclear(r);
    pthread_mutex_unlock(&usage_lock);
    return rc;
}
