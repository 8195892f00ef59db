/* SPDX-License-Identifier: MIT */
/* keys.c: API keys. A key is 32 random bytes shown once as "spp_" + hex; the store keeps only
 * its SHA-256 (nettle), so a copied store file does not leak usable keys. */
#include "store_int.h"

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

int store_key_add(struct store *st, enum role role, const char *name, char *key_out,
                  int64_t *id_out, struct err *err)
{
    unsigned char raw[20];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return err_set(err, ERR_IO, "cannot read random bytes");
    strcpy(key_out, "spp_");
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(key_out + 4 + 2 * i, 3, "%02x", raw[i]);
    char hash[65];
    sha256_hex(key_out, hash);
    sqlite3_stmt *s = store_prepare(st,
                                    "INSERT INTO spp_keys (name, role, hash, created) VALUES"
                                    " (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_keys");
    sqlite3_reset(s);
    if (!rc && id_out) *id_out = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int store_key_list(struct store *st, void (*fn)(void *ud, const struct key_info *k), void *ud,
                   struct err *err)
{
    sqlite3_stmt *s = store_prepare(
        st,
        "SELECT id, coalesce(name, ''), role, created, coalesce(revoked, '') FROM spp_keys"
        " ORDER BY id",
        err);
    if (!s) return ERR_DB;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct key_info k;
        memset(&k, 0, sizeof k);
        k.id = sqlite3_column_int64(s, 0);
        snprintf(k.name, sizeof k.name, "%s", sqlite3_column_text(s, 1));
        if (role_parse((const char *)sqlite3_column_text(s, 2), &k.role)) k.role = ROLE_PUBLIC;
        snprintf(k.created, sizeof k.created, "%s", sqlite3_column_text(s, 3));
        snprintf(k.revoked, sizeof k.revoked, "%s", sqlite3_column_text(s, 4));
        fn(ud, &k);
    }
    int rc = step == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_keys");
    sqlite3_reset(s);
    return rc;
}

int store_key_revoke(struct store *st, int64_t id, struct err *err)
{
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

int store_key_check(struct store *st, const char *key, enum role *role, int64_t *id,
                    struct err *err)
{
    char hash[65];
    sha256_hex(key, hash);
    sqlite3_stmt *s =
        store_prepare(st, "SELECT id, role, revoked FROM spp_keys WHERE hash = ?", err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    int step = sqlite3_step(s), rc;
    if (step == SQLITE_ROW && sqlite3_column_type(s, 2) == SQLITE_NULL &&
        role_parse((const char *)sqlite3_column_text(s, 1), role) == 0) {
        *id = sqlite3_column_int64(s, 0);
        rc = 0;
    } else if (step == SQLITE_ROW || step == SQLITE_DONE) {
        rc = err_set(err, ERR_FORBIDDEN, "invalid or revoked API key");
    } else {
        rc = store_db_error(st, err, "spp_keys");
    }
    sqlite3_reset(s);
    return rc;
}
