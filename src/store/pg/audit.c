/* SPDX-License-Identifier: MIT */
/* audit.c: the audit log of a PostGIS store (spp_audit: one row per entry, the line audit.c
 * writes to DB.audit for a SpatiaLite store). Every replica appends to the one chain: the table
 * is locked for the append (readers go on), the entry numbered after the last one and hashed on
 * its hash, as audit.c does for the file. One process-wide connection behind a mutex. */
#include "pg.h"

#include <nettle/sha2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pg_store *audit_conn;

static void hash_hex(const char *prev, const char *body, size_t len, char out[65])
{
    struct sha256_ctx ctx;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, 64, (const uint8_t *)prev);
    sha256_update(&ctx, len, (const uint8_t *)body);
    sha256_digest(&ctx, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int append_locked(const char *const *rests, int n, struct err *err)
{
    struct pg_store *ps = audit_conn;
    int rc = pg_exec(ps, "BEGIN", NULL, 0, NULL, err);
    if (rc) return rc;
    ps->in_tx = 1;
    PGresult *r = NULL;
    rc = pg_exec(ps, "LOCK TABLE spp_audit IN EXCLUSIVE MODE", NULL, 0, NULL, err);
    if (!rc)
        rc = pg_query(ps, "SELECT seq, line FROM spp_audit ORDER BY seq DESC LIMIT 1", NULL, 0, &r,
                      err);
    int64_t seq = 0;
    char prev[65];
    memset(prev, '0', 64), prev[64] = '\0';
    if (!rc && PQntuples(r) == 1) {
        seq = pg_get_int(r, 0, 0);
        const char *line = pg_get_text(r, 0, 1);
        size_t len = strlen(line);
        if (len >= 66) memcpy(prev, line + len - 66, 64); /* ..."hash":"<64>"} */
    }
    PQclear(r);
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < n && !rc; i++) {
        buf_reset(&b);
        if (buf_printf(&b, "{\"seq\":%lld%s}", (long long)(seq + 1), rests[i])) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            break;
        }
        char hash[65];
        hash_hex(prev, b.data, b.len, hash);
        b.len--; /* the closing brace: prev and hash follow */
        buf_printf(&b, ",\"prev\":\"%s\",\"hash\":\"%s\"}", prev, hash);
        struct value v[2] = {{.type = VAL_INT, .i = seq + 1},
                             {.type = VAL_TEXT, .s = b.data, .len = (int)b.len}};
        rc = pg_exec(ps, "INSERT INTO spp_audit (seq, line) VALUES (?, ?)", v, 2, NULL, err);
        seq++;
        memcpy(prev, hash, 65);
    }
    buf_fini(&b);
    struct err ignore;
    rc = rc ? rc : pg_exec(ps, "COMMIT", NULL, 0, NULL, err);
    if (rc) pg_exec(ps, "ROLLBACK", NULL, 0, NULL, &ignore);
    ps->in_tx = 0;
    return rc;
}

int pg_audit_append(const char *uri, const char *const *rests, int n, struct err *err)
{
    pthread_mutex_lock(&audit_lock);
    int rc = audit_conn ? 0 : pg_open(uri, STORE_WRITE, &audit_conn, err);
    if (!rc) {
        pg_set_deadline(audit_conn, 5000);
        rc = append_locked(rests, n, err);
    }
    pthread_mutex_unlock(&audit_lock);
    return rc;
}

int pg_audit_dump(const char *uri, FILE *out, struct err *err)
{
    struct pg_store *ps = NULL;
    int rc = pg_open(uri, STORE_READ, &ps, err);
    PGresult *r = NULL;
    if (!rc) rc = pg_query(ps, "SELECT line FROM spp_audit ORDER BY seq", NULL, 0, &r, err);
    for (int i = 0; !rc && i < PQntuples(r); i++)
        fprintf(out, "%s\n", pg_get_text(r, i, 0));
    PQclear(r);
    pg_close(ps);
    return rc;
}
