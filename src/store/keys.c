/* SPDX-License-Identifier: MIT */
/* keys.c: API keys. A key is 20 random bytes shown once as "spp_" + hex; the store keeps only
 * its SHA-256 (nettle), so a copied store file does not leak usable keys. A key may carry a
 * sharing agreement (agency, layers, fields, expiry, daily quota: issue 21); the columns are
 * added to stores made before it when a key is added. */
#include "store_int.h"

#include "pg/pg.h"

#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static void sha256_hex(const char *s, char out[65])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(s), (const uint8_t *)s);
    sha256_digest(&ctx, sizeof digest, digest);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Adds the agreement columns to a store made before them (a write connection). */
static int keys_migrate(struct store *st, struct err *err)
{
    static const char *const cols[] = {"agency TEXT",  "layers TEXT",   "fields TEXT",
                                       "expires TEXT", "quota INTEGER", "rows TEXT"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        char name[32], sql[128];
        sscanf(cols[i], "%31s", name);
        snprintf(sql, sizeof sql, "SELECT %s FROM spp_keys LIMIT 0", name);
        if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK) continue;
        snprintf(sql, sizeof sql, "ALTER TABLE spp_keys ADD COLUMN %s", cols[i]);
        if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return store_db_error(st, err, "spp_keys");
    }
    return 0;
}

int store_key_add_agreement(struct store *st, const struct key_info *k, char *key_out,
                            int64_t *id_out, struct err *err)
{
    unsigned char raw[20];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return err_set(err, ERR_IO, "cannot read random bytes");
    int rc = st->pg ? 0 : keys_migrate(st, err);
    if (rc) return rc;
    strcpy(key_out, "spp_");
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(key_out + 4 + 2 * i, 3, "%02x", raw[i]);
    char hash[65];
    sha256_hex(key_out, hash);
    if (st->pg) return pg_key_add(st->pg, k, hash, id_out, err);
    sqlite3_stmt *s = store_prepare(st,
                                    "INSERT INTO spp_keys (name, role, hash, created, agency,"
                                    " layers, fields, expires, quota, rows) VALUES (?, ?, ?,"
                                    " strftime('%Y-%m-%dT%H:%M:%SZ','now'), ?, ?, ?, ?, ?, ?)",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, role_name(k->role), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
    const char *texts[] = {k->agency, k->layers, k->fields, k->expires};
    for (int i = 0; i < 4; i++)
        if (texts[i][0])
            sqlite3_bind_text(s, 4 + i, texts[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 4 + i);
    sqlite3_bind_int64(s, 8, k->quota);
    if (k->rows[0])
        sqlite3_bind_text(s, 9, k->rows, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 9);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_keys");
    sqlite3_reset(s);
    if (!rc && id_out) *id_out = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int store_key_add(struct store *st, enum role role, const char *name, char *key_out,
                  int64_t *id_out, struct err *err)
{
    struct key_info k;
    memset(&k, 0, sizeof k);
    k.role = role;
    snprintf(k.name, sizeof k.name, "%s", name ? name : "");
    return store_key_add_agreement(st, &k, key_out, id_out, err);
}

/* Columns 0..9 of the key queries: with the agreement, or (a store older than it) without. */
#define KEY_COLS                                                                                   \
    "id, coalesce(name, ''), role, created, coalesce(revoked, ''), coalesce(agency, ''),"          \
    " coalesce(layers, ''), coalesce(fields, ''), coalesce(expires, ''), coalesce(quota, 0),"      \
    " coalesce(rows, '')"
#define KEY_COLS_OLD                                                                               \
    "id, coalesce(name, ''), role, created, coalesce(revoked, ''), '', '', '', '', 0, ''"

/* The key query. The old column list is only for a store older than data-sharing agreements
 * (no agency column: no key there has an agreement). A key table that has agreements but not
 * every column is refused, never read without its limits. */
static sqlite3_stmt *prepare_keys(struct store *st, const char *tail, struct err *err)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT " KEY_COLS " FROM spp_keys %s", tail);
    sqlite3_stmt *s = store_prepare(st, sql, NULL);
    if (s) return s;
    if ((s = store_prepare(st, "SELECT agency FROM spp_keys LIMIT 0", NULL))) {
        err_set(err, ERR_DB,
                "spp_keys: the key table lacks agreement columns (a store from another version:"
                " run spp keys list, which updates it)");
        return NULL;
    }
    snprintf(sql, sizeof sql, "SELECT " KEY_COLS_OLD " FROM spp_keys %s", tail);
    return store_prepare(st, sql, err);
}

static void read_key(sqlite3_stmt *s, struct key_info *k)
{
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(s, 0);
    snprintf(k->name, sizeof k->name, "%s", sqlite3_column_text(s, 1));
    if (role_parse((const char *)sqlite3_column_text(s, 2), &k->role)) k->role = ROLE_PUBLIC;
    snprintf(k->created, sizeof k->created, "%s", sqlite3_column_text(s, 3));
    snprintf(k->revoked, sizeof k->revoked, "%s", sqlite3_column_text(s, 4));
    snprintf(k->agency, sizeof k->agency, "%s", sqlite3_column_text(s, 5));
    snprintf(k->layers, sizeof k->layers, "%s", sqlite3_column_text(s, 6));
    snprintf(k->fields, sizeof k->fields, "%s", sqlite3_column_text(s, 7));
    snprintf(k->expires, sizeof k->expires, "%s", sqlite3_column_text(s, 8));
    k->quota = sqlite3_column_int64(s, 9);
    snprintf(k->rows, sizeof k->rows, "%s", sqlite3_column_text(s, 10));
}

int store_key_list(struct store *st, void (*fn)(void *ud, const struct key_info *k), void *ud,
                   struct err *err)
{
    if (st->pg) return pg_key_list(st->pg, fn, ud, err);
    sqlite3_stmt *s = prepare_keys(st, "ORDER BY id", err);
    if (!s) return ERR_DB;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct key_info k;
        read_key(s, &k);
        fn(ud, &k);
    }
    int rc = step == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_keys");
    sqlite3_reset(s);
    return rc;
}

int store_key_revoke(struct store *st, int64_t id, struct err *err)
{
    if (st->pg) return pg_key_revoke(st->pg, id, err);
    sqlite3_stmt *s = store_prepare(
        st,
        "UPDATE spp_keys SET revoked = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?"
        " AND revoked IS NULL",
        err);
    if (!s) return ERR_DB;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_keys");
    sqlite3_reset(s);
    if (!rc && sqlite3_changes(st->db) == 0)
        rc = err_set(err, ERR_NOT_FOUND, "no active key with id %lld", (long long)id);
    return rc;
}

int store_key_lookup(struct store *st, const char *key, struct key_info *out, struct err *err)
{
    char hash[65];
    sha256_hex(key, hash);
    if (st->pg) return pg_key_lookup(st->pg, hash, out, err);
    sqlite3_stmt *s = prepare_keys(st, "WHERE hash = ?", err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    int step = sqlite3_step(s), rc;
    if (step == SQLITE_ROW) read_key(s, out);
    if (step == SQLITE_ROW && !out->revoked[0] && sqlite3_column_type(s, 2) == SQLITE_TEXT &&
        role_parse((const char *)sqlite3_column_text(s, 2), &out->role) == 0) {
        rc = 0;
    } else if (step == SQLITE_ROW || step == SQLITE_DONE) {
        rc = err_set(err, ERR_FORBIDDEN, "invalid or revoked API key");
    } else {
        rc = store_db_error(st, err, "spp_keys");
    }
    sqlite3_reset(s);
    return rc;
}

int store_key_check(struct store *st, const char *key, enum role *role, int64_t *id,
                    struct err *err)
{
    struct key_info k;
    int rc = store_key_lookup(st, key, &k, err);
    if (!rc) *role = k.role, *id = k.id;
    return rc;
}
