/* SPDX-License-Identifier: MIT */
/* changes.c: reading spp_changes (the areas every import batch or edit changed, in the storage
 * CRS) for the tile cache's exact invalidation, and a cheap "did anything commit since I last
 * looked" test on a connection (PRAGMA data_version). Writing changes is the importer's job. */
#include "store_int.h"

#include "pg/pg.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The change watch. PRAGMA data_version answers "has another connection committed since this
 * one last looked", but through a read transaction (fcntl locks on the WAL index and an fstat:
 * 11 % of a cached tile request's CPU). Every commit to a WAL database rewrites the WAL-index
 * header at the start of the -shm file (SQLite's documented WAL format: two copies of a 48-byte
 * header whose iChange counts transactions, with the WAL's size, salts and checksum), so a
 * header byte for byte the same as at the connection's last PRAGMA means nothing has committed
 * since, and the PRAGMA is skipped. Any other header (a commit, a checkpoint, a copy caught
 * mid-write, a short read) runs the PRAGMA as before. The header is read with pread, not mapped:
 * a -shm truncated under us gives a short read, not a SIGBUS. */
void store_watch_open(struct store *st)
{
    const char *db = sqlite3_db_filename(st->db, "main");
    char path[4096];
    if (!db || !*db || snprintf(path, sizeof path, "%s-shm", db) >= (int)sizeof path) return;
    st->shm_fd = open(path, O_RDONLY | O_CLOEXEC);
}

int store_changed(struct store *st)
{
    if (st->pg) return pg_changed(st->pg);
    if (st->shm_fd >= 0) {
        unsigned char h[sizeof st->shm_seen];
        if (pread(st->shm_fd, h, sizeof h, 0) == (ssize_t)sizeof h) {
            if (st->shm_known && memcmp(h, st->shm_seen, sizeof h) == 0) return 0;
            memcpy(st->shm_seen, h, sizeof h); /* read before the PRAGMA: a commit between the
                                                * two makes the next look run it again */
            st->shm_known = 1;
        } else {
            st->shm_known = 0;
        }
    }
    sqlite3_stmt *s = store_prepare(st, "PRAGMA data_version", NULL);
    if (!s) return 1;
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    int changed = v < 0 || v != st->data_version;
    st->data_version = v;
    return changed;
}

int store_changes_max(struct store *st, int64_t *id, struct err *err)
{
    if (st->pg) return pg_changes_max(st->pg, id, err);
    sqlite3_stmt *s = store_prepare(st, "SELECT coalesce(max(id), 0) FROM spp_changes", err);
    if (!s) return ERR_DB;
    int rc = sqlite3_step(s) == SQLITE_ROW ? 0 : store_db_error(st, err, "spp_changes");
    if (!rc) *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc;
}

int store_changes_since(struct store *st, int64_t after,
                        int (*fn)(void *ud, const struct store_change *c), void *ud,
                        struct err *err)
{
    if (st->pg) return pg_changes_since(st->pg, after, fn, ud, err);
    sqlite3_stmt *s = store_prepare(st,
                                    "SELECT id, layer, minx, miny, maxx, maxy FROM spp_changes"
                                    " WHERE id > ? ORDER BY id",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_int64(s, 1, after);
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_change c;
        c.id = sqlite3_column_int64(s, 0);
        c.layer = (const char *)sqlite3_column_text(s, 1);
        c.has_bbox = sqlite3_column_type(s, 2) != SQLITE_NULL;
        c.bbox.minx = sqlite3_column_double(s, 2);
        c.bbox.miny = sqlite3_column_double(s, 3);
        c.bbox.maxx = sqlite3_column_double(s, 4);
        c.bbox.maxy = sqlite3_column_double(s, 5);
        if (!c.layer) continue;
        if ((rc = fn(ud, &c))) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_db_error(st, err, "spp_changes");
    sqlite3_reset(s);
    return rc;
}
