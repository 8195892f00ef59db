/* SPDX-License-Identifier: MIT */
/* pg/load.c: the importer's batch on a PostGIS store (store.h, "Loading"; pg/load.h): one
 * transaction from pg_load_begin to pg_load_finish (COMMIT) or pg_load_abort (ROLLBACK), taken
 * with spp_layers locked against other writers (SHARE ROW EXCLUSIVE: a second import waits,
 * readers do not), the batch's findings (gathered, then copied into spp_findings), the layers'
 * recorded states, the changed areas (spp_changes: the replicas' tile caches read them, and a
 * NOTIFY on them is the schema's, not the importer's), and the batch's own record: spp_imports,
 * spp_sources, spp_layer_history. Replacing a layer and reading inside the batch are in
 * load_layer.c. */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sends data as COPY sql FROM STDIN (the text format), or fails the COPY when data is NULL. */
static int copy_end(struct pg_store *ps, const char *what, int failed, struct err *err)
{
    int rc = 0;
    if (PQputCopyEnd(ps->conn, failed ? "spp import stopped" : NULL) != 1)
        rc = err_set(err, ERR_DB, "COPY %s: %s", what, PQerrorMessage(ps->conn));
    PGresult *r;
    while ((r = PQgetResult(ps->conn))) {
        if (!rc && !failed && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = err_set(err, ERR_DB, "%s: %s", what, PQresultErrorMessage(r));
        PQclear(r);
    }
    return rc;
}

static int copy_start(struct pg_store *ps, const char *sql, const char *what, struct err *err)
{
    PGresult *r = PQexec(ps->conn, sql);
    int rc = PQresultStatus(r) == PGRES_COPY_IN
                 ? 0
                 : err_set(err, ERR_DB, "COPY %s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

int pg_load_quiet(struct pg_load *pl, struct err *err)
{
    if (!pl->copying) return 0;
    pl->copying = 0;
    return copy_end(pl->ps, pl->layer ? pl->layer->id : "layer", 0, err);
}

/* The findings gathered so far into spp_findings, in the order they were made. */
static int flush_findings(struct pg_load *pl, struct err *err)
{
    int rc = pg_load_quiet(pl, err);
    if (rc || !pl->findings.len) return rc;
    rc = copy_start(pl->ps,
                    "COPY spp_findings (batch, layer, src_file, src_row, severity, kind, message)"
                    " FROM STDIN",
                    "spp_findings", err);
    if (rc) return rc;
    int bad = PQputCopyData(pl->ps->conn, pl->findings.data, (int)pl->findings.len) != 1;
    if (bad) err_set(err, ERR_DB, "COPY spp_findings: %s", PQerrorMessage(pl->ps->conn));
    rc = copy_end(pl->ps, "spp_findings", bad, bad ? NULL : err);
    buf_reset(&pl->findings);
    return bad ? ERR_DB : rc;
}

static void load_free(struct pg_load *pl)
{
    if (pl->copying) copy_end(pl->ps, "layer", 1, NULL);
    buf_fini(&pl->line);
    buf_fini(&pl->findings);
    free(pl->fids);
    free(pl);
}

static void rollback(struct pg_store *ps)
{
    if (!ps->in_tx) return;
    ps->in_tx = 0;
    pg_exec(ps, "ROLLBACK", NULL, 0, NULL, NULL);
}

int pg_load_begin(struct pg_store *ps, const char *batch, struct pg_load **out, struct err *err)
{
    *out = NULL;
    if (ps->readonly) return err_set(err, ERR_DB, "the store is open read-only");
    struct pg_load *pl = calloc(1, sizeof *pl);
    if (!pl) return err_set(err, ERR_NOMEM, "out of memory");
    pl->ps = ps;
    snprintf(pl->batch, sizeof pl->batch, "%s", batch);
    buf_init(&pl->line);
    buf_init(&pl->findings);
    int rc = pg_exec(ps, "BEGIN", NULL, 0, NULL, err);
    if (!rc) ps->in_tx = 1;
    if (!rc)
        rc = pg_exec(ps, "LOCK TABLE spp_layers IN SHARE ROW EXCLUSIVE MODE", NULL, 0, NULL, err);
    if (!rc) rc = pg_exec(ps, "DELETE FROM spp_findings WHERE batch = ''", NULL, 0, NULL, err);
    struct value v = {.type = VAL_TEXT, .s = pl->batch, .len = -1};
    if (!rc) rc = pg_exec(ps, "DELETE FROM spp_findings WHERE batch = ?", &v, 1, NULL, err);
    if (rc) {
        load_free(pl);
        rollback(ps);
        return rc;
    }
    *out = pl;
    return 0;
}

int pg_load_finish(struct pg_load *pl, struct err *err)
{
    struct pg_store *ps = pl->ps;
    int rc = 0;
    if (pl->layer || pl->abandoned)
        rc = err_set(err, ERR_INTERNAL, "load: layer %s was not completed",
                     pl->layer ? pl->layer->id : "(abandoned)");
    if (!rc) rc = flush_findings(pl, err);
    load_free(pl);
    if (rc) {
        rollback(ps);
        return rc;
    }
    rc = pg_exec(ps, "COMMIT", NULL, 0, NULL, err);
    if (rc) rollback(ps);
    ps->in_tx = 0;
    return rc;
}

void pg_load_abort(struct pg_load *pl)
{
    if (!pl) return;
    struct pg_store *ps = pl->ps;
    load_free(pl);
    rollback(ps);
}

int pg_load_finding(struct pg_load *pl, const char *layer, const char *file, int64_t row,
                    const char *severity, const char *kind, const char *message, struct err *err)
{
    struct buf *b = &pl->findings;
    int bad = pg_copy_put_text(b, pl->batch, -1) || buf_putc(b, '\t') ||
              pg_copy_put_text(b, layer ? layer : "", -1) || buf_putc(b, '\t') ||
              pg_copy_put_text(b, file ? file : "", -1) || buf_putc(b, '\t');
    if (!bad) bad = row > 0 ? buf_printf(b, "%lld\t", (long long)row) : buf_puts(b, "\\N\t");
    bad = bad || pg_copy_put_text(b, severity ? severity : "", -1) || buf_putc(b, '\t') ||
          pg_copy_put_text(b, kind ? kind : "", -1) || buf_putc(b, '\t') ||
          pg_copy_put_text(b, message ? message : "", -1) || buf_putc(b, '\n');
    return bad ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

int pg_load_layer_states(struct pg_load *pl,
                         int (*fn)(void *ud, const char *layer, const struct layer_state *s),
                         void *ud, struct err *err)
{
    PGresult *r = NULL;
    int rc = pg_load_quiet(pl, err);
    if (!rc)
        rc = pg_query(pl->ps,
                      "SELECT layer, n_features, version, minx, miny, maxx, maxy, updated"
                      " FROM spp_layers ORDER BY layer COLLATE \"C\"",
                      NULL, 0, &r, err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        if (PQgetisnull(r, i, 0)) continue;
        struct layer_state ls;
        memset(&ls, 0, sizeof ls);
        ls.n_features = pg_get_int(r, i, 1);
        ls.version = pg_get_int(r, i, 2);
        if (!PQgetisnull(r, i, 3)) {
            ls.has_extent = 1;
            ls.extent.minx = pg_get_double(r, i, 3);
            ls.extent.miny = pg_get_double(r, i, 4);
            ls.extent.maxx = pg_get_double(r, i, 5);
            ls.extent.maxy = pg_get_double(r, i, 6);
        }
        snprintf(ls.updated, sizeof ls.updated, "%s", pg_get_text(r, i, 7));
        rc = fn(ud, pg_get_text(r, i, 0), &ls);
    }
    PQclear(r);
    return rc;
}

static struct value text_value(const char *s)
{
    return (struct value){.type = s ? VAL_TEXT : VAL_NULL, .s = s, .len = -1};
}

int pg_load_change(struct pg_load *pl, const struct layer_def *layer, const struct bbox *box,
                   const char *at, struct err *err)
{
    struct value v[7] = {text_value(layer->id),
                         text_value(pl->batch),
                         {.type = VAL_REAL, .d = box->minx},
                         {.type = VAL_REAL, .d = box->miny},
                         {.type = VAL_REAL, .d = box->maxx},
                         {.type = VAL_REAL, .d = box->maxy},
                         text_value(at)};
    int rc = pg_load_quiet(pl, err);
    return rc ? rc
              : pg_exec(pl->ps,
                        "INSERT INTO spp_changes (layer, batch, minx, miny, maxx, maxy, at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        v, 7, NULL, err);
}

int pg_load_record(struct pg_load *pl, const struct store_import_record *r, struct err *err)
{
    struct value v[7] = {text_value(pl->batch),  text_value(r->started), text_value(r->finished),
                         text_value(r->sources), text_value(r->counts),  text_value(r->checksums),
                         text_value(r->report)};
    int rc = pg_load_quiet(pl, err);
    return rc ? rc
              : pg_exec(pl->ps,
                        "INSERT INTO spp_imports (batch, started, finished, sources, counts,"
                        " checksums, report) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (batch) DO"
                        " UPDATE SET started = excluded.started, finished = excluded.finished,"
                        " sources = excluded.sources, counts = excluded.counts, checksums ="
                        " excluded.checksums, report = excluded.report",
                        v, 7, NULL, err);
}

int pg_load_source(struct pg_load *pl, const struct layer_def *layer, const char *path,
                   const char *abs_path, int position, struct err *err)
{
    struct value v[5] = {text_value(pl->batch),
                         text_value(layer->id),
                         text_value(path),
                         text_value(abs_path),
                         {.type = VAL_INT, .i = position}};
    int rc = pg_load_quiet(pl, err);
    return rc ? rc
              : pg_exec(pl->ps,
                        "INSERT INTO spp_sources (batch, layer, path, abs_path, position)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (batch, layer, path) DO UPDATE SET"
                        " abs_path = excluded.abs_path, position = excluded.position",
                        v, 5, NULL, err);
}

int pg_load_history(struct pg_load *pl, const struct layer_def *layer, struct err *err)
{
    struct value v[2] = {text_value(pl->batch), text_value(layer->id)};
    int rc = pg_load_quiet(pl, err);
    return rc ? rc
              : pg_exec(pl->ps,
                        "INSERT INTO spp_layer_history (batch, layer, n_features, at) SELECT ?,"
                        " layer, n_features, updated FROM spp_layers WHERE layer = ?"
                        " ON CONFLICT (batch, layer) DO UPDATE SET n_features ="
                        " excluded.n_features, at = excluded.at",
                        v, 2, NULL, err);
}
