/* SPDX-License-Identifier: MIT */
/* load.c: the importer's batch on a SpatiaLite store (store.h, "Loading"): the store file opened
 * or created for it (and removed when the first batch into a new file fails), one write transaction
 * from store_load_begin to store_load_finish (commit) or store_load_abort (rollback), the batch's
 * findings (spp_findings), the layers' recorded states read back, the changed areas
 * (spp_changes), and the batch's own record: spp_imports, spp_sources, spp_layer_history.
 * Replacing a layer and reading inside the batch are in load_layer.c. What is loaded and why is
 * the importer's (src/import/); this file only writes what it is given. */
#include "load_int.h"
#include "pg/load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int store_load_open(const char *path, const struct catalog *cat, int srid, int dry_run,
                    struct store **out, int *created, struct err *err)
{
    struct stat sb;
    int exists = store_is_remote(path) || stat(path, &sb) == 0; /* PostGIS: the database is */
    *created = 0;
    *out = NULL;
    if (dry_run && !exists)
        path = ":memory:";
    else if (!exists)
        *created = 1;
    int rc = store_open(path, STORE_WRITE, out, err);
    if (!rc) rc = store_init_schema(*out, cat, srid, err);
    return rc;
}

void store_load_remove(const char *path)
{
    char p[4096];
    if (store_is_remote(path)) return; /* a PostGIS batch left nothing: it was rolled back */
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int step_done(struct store_load *ld, sqlite3_stmt *s, const char *what, struct err *err)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(ld->st, err, what);
    sqlite3_reset(s);
    return rc;
}

static void load_free(struct store_load *ld)
{
    load_layer_abandon(ld);
    sqlite3_finalize(ld->finding);
    buf_fini(&ld->triggers);
    free(ld);
}

/* Clears the findings an earlier run of this batch left (and those of the unnamed batch of old
 * stores), then prepares the batch's finding insert. */
static int start_findings(struct store_load *ld, struct err *err)
{
    int rc = store_exec(ld->st, "DELETE FROM spp_findings WHERE batch = ''", err);
    if (rc) return rc;
    sqlite3_stmt *del = store_prepare(ld->st, "DELETE FROM spp_findings WHERE batch = ?", err);
    if (!del) return ERR_DB;
    sqlite3_bind_text(del, 1, ld->batch, -1, SQLITE_STATIC);
    if ((rc = step_done(ld, del, "spp_findings", err))) return rc;
    if (sqlite3_prepare_v3(ld->st->db,
                           "INSERT INTO spp_findings (batch, layer, src_file, src_row, severity,"
                           " kind, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           -1, SQLITE_PREPARE_PERSISTENT, &ld->finding, NULL) != SQLITE_OK)
        return store_db_error(ld->st, err, "spp_findings");
    return 0;
}

int store_load_begin(struct store *st, const char *batch, int new_store, struct store_load **out,
                     struct err *err)
{
    *out = NULL;
    if (strlen(batch) >= sizeof((struct store_load *)NULL)->batch)
        return err_set(err, ERR_INTERNAL, "batch name too long: %s", batch);
    struct store_load *ld = calloc(1, sizeof *ld);
    if (!ld) return err_set(err, ERR_NOMEM, "out of memory");
    ld->st = st;
    ld->new_store = new_store;
    snprintf(ld->batch, sizeof ld->batch, "%s", batch);
    buf_init(&ld->triggers);
    if (st->pg) {
        int rc = pg_load_begin(st->pg, batch, &ld->pg, err);
        if (rc)
            load_free(ld);
        else
            *out = ld;
        return rc;
    }
    /* one big transaction: keep its pages in memory rather than spilling them repeatedly (a
     * cache size is a wish, not a requirement: its failure is not the batch's) */
    (void)store_exec(st, "PRAGMA cache_size = -262144", NULL);
    int rc = 0;
    /* a new store has no readers: a rollback journal writes the pages once (WAL writes them
     * twice, to the log and at the checkpoint) and still rolls a killed import back; the store
     * returns to WAL when the batch is published */
    if (new_store) rc = store_exec(st, "PRAGMA journal_mode = DELETE", err);
    if (!rc) rc = store_begin(st, err);
    if (rc) {
        load_free(ld);
        return rc;
    }
    if ((rc = start_findings(ld, err))) {
        store_load_abort(ld);
        return rc;
    }
    *out = ld;
    return 0;
}

int store_load_finish(struct store_load *ld, struct err *err)
{
    if (ld->pg) {
        struct pg_load *pl = ld->pg;
        ld->pg = NULL;
        load_free(ld);
        return pg_load_finish(pl, err);
    }
    int rc = 0;
    if (ld->layer || ld->abandoned)
        rc = err_set(err, ERR_INTERNAL, "load: layer %s was not completed",
                     ld->layer ? ld->layer->id : "(abandoned)");
    struct store *st = ld->st;
    int new_store = ld->new_store;
    load_free(ld); /* finalizes the batch's statements before the commit */
    if (rc) {
        store_rollback(st);
        return rc;
    }
    if ((rc = store_commit(st, err))) {
        store_rollback(st);
        return rc;
    }
    return new_store ? store_exec(st, "PRAGMA journal_mode = WAL", err) : 0;
}

void store_load_abort(struct store_load *ld)
{
    if (!ld) return;
    pg_load_abort(ld->pg);
    struct store *st = ld->st;
    ld->pg = NULL;
    load_free(ld);
    store_rollback(st);
}

int store_load_finding(struct store_load *ld, const char *layer, const char *file, int64_t row,
                       const char *severity, const char *kind, const char *message, struct err *err)
{
    if (ld->pg) return pg_load_finding(ld->pg, layer, file, row, severity, kind, message, err);
    sqlite3_stmt *s = ld->finding;
    sqlite3_bind_text(s, 1, ld->batch, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, layer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, file, -1, SQLITE_STATIC);
    if (row > 0)
        sqlite3_bind_int64(s, 4, row);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_text(s, 5, severity, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, message, -1, SQLITE_STATIC);
    return step_done(ld, s, "spp_findings", err);
}

int store_load_layer_states(struct store_load *ld,
                            int (*fn)(void *ud, const char *layer, const struct layer_state *s),
                            void *ud, struct err *err)
{
    if (ld->pg) return pg_load_layer_states(ld->pg, fn, ud, err);
    sqlite3_stmt *s = store_prepare(ld->st,
                                    "SELECT layer, n_features, version, minx, miny, maxx, maxy,"
                                    " updated FROM spp_layers ORDER BY layer",
                                    err);
    if (!s) return ERR_DB;
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (!id) continue;
        struct layer_state ls;
        memset(&ls, 0, sizeof ls);
        ls.n_features = sqlite3_column_int64(s, 1);
        ls.version = sqlite3_column_int64(s, 2);
        if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
            ls.has_extent = 1;
            ls.extent.minx = sqlite3_column_double(s, 3);
            ls.extent.miny = sqlite3_column_double(s, 4);
            ls.extent.maxx = sqlite3_column_double(s, 5);
            ls.extent.maxy = sqlite3_column_double(s, 6);
        }
        const char *u = (const char *)sqlite3_column_text(s, 7);
        snprintf(ls.updated, sizeof ls.updated, "%s", u ? u : "");
        if ((rc = fn(ud, id, &ls))) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_db_error(ld->st, err, "spp_layers");
    sqlite3_reset(s);
    return rc;
}

int store_load_change(struct store_load *ld, const struct layer_def *layer, const struct bbox *box,
                      const char *at, struct err *err)
{
    if (ld->pg) return pg_load_change(ld->pg, layer, box, at, err);
    sqlite3_stmt *s = store_prepare(ld->st,
                                    "INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy,"
                                    " at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, layer->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, ld->batch, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, box->minx);
    sqlite3_bind_double(s, 4, box->miny);
    sqlite3_bind_double(s, 5, box->maxx);
    sqlite3_bind_double(s, 6, box->maxy);
    sqlite3_bind_text(s, 7, at, -1, SQLITE_STATIC);
    return step_done(ld, s, "spp_changes", err);
}

int store_load_record(struct store_load *ld, const struct store_import_record *r, struct err *err)
{
    if (ld->pg) return pg_load_record(ld->pg, r, err);
    sqlite3_stmt *s =
        store_prepare(ld->st,
                      "INSERT OR REPLACE INTO spp_imports (batch, started, finished, sources,"
                      " counts, checksums, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      err);
    if (!s) return ERR_DB;
    const char *v[] = {ld->batch, r->started,   r->finished, r->sources,
                       r->counts, r->checksums, r->report};
    for (int i = 0; i < 7; i++)
        sqlite3_bind_text(s, i + 1, v[i], -1, SQLITE_STATIC);
    return step_done(ld, s, "spp_imports", err);
}

int store_load_source(struct store_load *ld, const struct layer_def *layer, const char *path,
                      const char *abs_path, int position, struct err *err)
{
    if (ld->pg) return pg_load_source(ld->pg, layer, path, abs_path, position, err);
    sqlite3_stmt *s = store_prepare(ld->st,
                                    "INSERT OR REPLACE INTO spp_sources (batch, layer, path,"
                                    " abs_path, position) VALUES (?, ?, ?, ?, ?)",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, ld->batch, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, layer->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, abs_path, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, position);
    return step_done(ld, s, "spp_sources", err);
}

int store_load_history(struct store_load *ld, const struct layer_def *layer, struct err *err)
{
    if (ld->pg) return pg_load_history(ld->pg, layer, err);
    sqlite3_stmt *s = store_prepare(ld->st,
                                    "INSERT OR REPLACE INTO spp_layer_history (batch, layer,"
                                    " n_features, at) SELECT ?, layer, n_features, updated FROM"
                                    " spp_layers WHERE layer = ?",
                                    err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, ld->batch, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, layer->id, -1, SQLITE_STATIC);
    return step_done(ld, s, "spp_layer_history", err);
}
