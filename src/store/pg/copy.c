/* SPDX-License-Identifier: MIT */
/* copy.c: `spp copy`: a SpatiaLite store into a PostGIS one, in one transaction (readers see the
 * old store or the new one). Each catalog layer is read through the store's own query path
 * (every field, every row: the admin role) and written with COPY (fids kept, geometry as EWKB
 * in the storage CRS); the spp_* tables (import history, findings, changes, change feed, API
 * keys) row by row with bound values. This is how a city moves from one machine to PostGIS, and
 * how the tests fill a PostGIS store until `spp import` writes through the store's load API. */
#include "../store_int.h"
#include "overview.h"
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The spp_* tables copied row by row, as they are (same columns on both sides). */
static const char *const meta_tables[] = {
    "spp_meta",    "spp_imports",       "spp_layers", "spp_findings",       "spp_changes",
    "spp_sources", "spp_layer_history", "spp_keys",   "spp_feature_changes"};
/* Those with a generated id whose sequence must follow the copied ids. */
static const char *const id_tables[] = {"spp_findings", "spp_changes", "spp_keys",
                                        "spp_feature_changes"};

struct copy_sink {
    struct pg_store *ps;
    int srid;
    struct buf line;
    int64_t n;
};

int pg_copy_put_text(struct buf *b, const char *s, int len)
{
    if (len < 0) len = (int)strlen(s);
    int rc = 0;
    for (int i = 0; i < len && !rc; i++) {
        char c = s[i];
        if (c == '\\')
            rc = buf_puts(b, "\\\\");
        else if (c == '\n')
            rc = buf_puts(b, "\\n");
        else if (c == '\r')
            rc = buf_puts(b, "\\r");
        else if (c == '\t')
            rc = buf_puts(b, "\\t");
        else
            rc = buf_putc(b, c);
    }
    return rc;
}

/* WKB (either byte order) -> hex EWKB with the storage SRID, as COPY reads a geometry. */
int pg_copy_put_ewkb(struct buf *b, const unsigned char *wkb, size_t len, int srid)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len < 5 || wkb[0] > 1) return ERR_PARAM;
    int le = wkb[0] == 1;
    uint32_t type = 0;
    for (int i = 0; i < 4; i++)
        type |= (uint32_t)wkb[le ? 1 + i : 4 - i] << (8 * i);
    type |= 0x20000000u; /* has SRID */
    unsigned char head[9];
    head[0] = wkb[0];
    for (int i = 0; i < 4; i++) {
        int at = le ? i : 3 - i;
        head[1 + at] = (unsigned char)(type >> (8 * i));
        head[5 + at] = (unsigned char)((uint32_t)srid >> (8 * i));
    }
    int rc = 0;
    for (size_t i = 0; i < 9 && !rc; i++)
        rc = buf_putc(b, hex[head[i] >> 4]) || buf_putc(b, hex[head[i] & 15]);
    for (size_t i = 5; i < len && !rc; i++)
        rc = buf_putc(b, hex[wkb[i] >> 4]) || buf_putc(b, hex[wkb[i] & 15]);
    return rc;
}

/* One feature as a COPY text line: fid, the fields, the geometry (or \N), '\n'. ERR_NOMEM;
 * ERR_PARAM when wkb is not WKB. */
int pg_copy_put_row(struct buf *b, int64_t fid, const struct value *values, int n,
                    const unsigned char *wkb, size_t wkb_len, int srid)
{
    buf_reset(b);
    int rc = buf_printf(b, "%lld", (long long)fid);
    for (int i = 0; i < n && !rc; i++) {
        const struct value *v = &values[i];
        rc = buf_putc(b, '\t');
        if (rc) break;
        switch (v->type) {
        case VAL_INT:
            rc = buf_printf(b, "%lld", (long long)v->i);
            break;
        case VAL_REAL:
            rc = buf_printf(b, "%.17g", v->d);
            break;
        case VAL_TEXT:
            rc = pg_copy_put_text(b, v->s, v->len);
            break;
        default: /* NULL; a blob has no column type in the catalog */
            rc = buf_puts(b, "\\N");
        }
    }
    rc = rc || buf_putc(b, '\t');
    if (!rc) rc = wkb ? pg_copy_put_ewkb(b, wkb, wkb_len, srid) : buf_puts(b, "\\N");
    if (!rc) rc = buf_putc(b, '\n');
    return rc;
}

static int copy_feature(void *ud, const struct feature *f, struct err *err)
{
    struct copy_sink *cs = ud;
    struct buf *b = &cs->line;
    int rc = pg_copy_put_row(b, f->fid, f->values, f->n_fields, f->wkb, f->wkb_len, cs->srid);
    if (rc == ERR_PARAM)
        return err_set(err, ERR_DB, "%s: feature %lld: geometry is not little-endian WKB",
                       f->layer->id, (long long)f->fid);
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if (PQputCopyData(cs->ps->conn, b->data, (int)b->len) != 1)
        return err_set(err, ERR_DB, "COPY %s: %s", f->layer->id, PQerrorMessage(cs->ps->conn));
    cs->n++;
    return 0;
}

static int copy_end(struct pg_store *ps, const char *what, int failed, struct err *err)
{
    int rc = 0;
    if (PQputCopyEnd(ps->conn, failed ? "spp copy stopped" : NULL) != 1)
        rc = err_set(err, ERR_DB, "COPY %s: %s", what, PQerrorMessage(ps->conn));
    PGresult *r;
    while ((r = PQgetResult(ps->conn))) {
        if (!rc && !failed && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = err_set(err, ERR_DB, "COPY %s: %s", what, PQresultErrorMessage(r));
        PQclear(r);
    }
    return rc;
}

/* One layer: emptied, then every row of the source through COPY. */
static int copy_layer(struct store *src, struct pg_store *ps, const struct layer_def *l, int64_t *n,
                      struct err *err)
{
    struct buf sql;
    buf_init(&sql);
    int rc = buf_puts(&sql, "DELETE FROM ") || pg_put_ident(&sql, l->id);
    rc = rc ? err_set(err, ERR_NOMEM, "out of memory") : pg_exec(ps, sql.data, NULL, 0, NULL, err);
    sql.len = 0;
    int *fields = calloc((size_t)l->n_fields + 1, sizeof *fields);
    if (!rc && !fields) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) {
        int bad = buf_puts(&sql, "COPY ") || pg_put_ident(&sql, l->id) || buf_puts(&sql, " (fid");
        for (int i = 0; i < l->n_fields && !bad; i++)
            fields[i] = i, bad = buf_puts(&sql, ", ") || pg_put_ident(&sql, l->fields[i].name);
        bad = bad || buf_puts(&sql, ", geom) FROM STDIN");
        if (bad) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    if (!rc) {
        PGresult *r = PQexec(ps->conn, sql.data);
        if (PQresultStatus(r) != PGRES_COPY_IN)
            rc = err_set(err, ERR_DB, "COPY %s: %s", l->id, PQresultErrorMessage(r));
        PQclear(r);
    }
    struct copy_sink cs = {.ps = ps, .srid = ps->srid};
    buf_init(&cs.line);
    if (!rc) {
        struct store_query q = {.layer = l,
                                .fields = fields,
                                .n_fields = l->n_fields,
                                .limit = -1,
                                .want_geom = 1,
                                .role = ROLE_ADMIN};
        struct feature_sink sink = {.feature = copy_feature, .ud = &cs};
        rc = store_query_run(src, &q, &sink, err);
        int end = copy_end(ps, l->id, rc != 0, rc ? NULL : err);
        if (!rc) rc = end;
    }
    buf_fini(&cs.line);
    buf_fini(&sql);
    free(fields);
    *n = cs.n;
    return rc;
}

/* One spp_* table, row by row. A source store without it (older) leaves it empty. */
static int copy_table(struct store *src, struct pg_store *ps, const char *table, struct err *err)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM %s", table);
    int rc = pg_exec(ps, sql, NULL, 0, NULL, err);
    if (rc) return rc;
    sqlite3_stmt *s = NULL;
    snprintf(sql, sizeof sql, "SELECT * FROM %s", table);
    if (sqlite3_prepare_v2(src->db, sql, -1, &s, NULL) != SQLITE_OK) {
        if (strstr(sqlite3_errmsg(src->db), "no such table")) return 0; /* an older store */
        return err_set(err, ERR_DB, "copy: %s: %s", table, sqlite3_errmsg(src->db));
    }
    int n = sqlite3_column_count(s);
    struct buf ins;
    buf_init(&ins);
    int bad = buf_printf(&ins, "INSERT INTO %s (", table);
    for (int i = 0; i < n && !bad; i++)
        bad = (i && buf_puts(&ins, ", ")) || pg_put_ident(&ins, sqlite3_column_name(s, i));
    bad = bad || buf_puts(&ins, ") VALUES (");
    for (int i = 0; i < n && !bad; i++)
        bad = buf_puts(&ins, i ? ", ?" : "?");
    bad = bad || buf_putc(&ins, ')');
    struct value *v = calloc((size_t)n + 1, sizeof *v);
    if (bad || !v) rc = err_set(err, ERR_NOMEM, "out of memory");
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < n; i++) {
            switch (sqlite3_column_type(s, i)) {
            case SQLITE_INTEGER:
                v[i] = (struct value){.type = VAL_INT, .i = sqlite3_column_int64(s, i)};
                break;
            case SQLITE_FLOAT:
                v[i] = (struct value){.type = VAL_REAL, .d = sqlite3_column_double(s, i)};
                break;
            case SQLITE_NULL:
                v[i] = (struct value){.type = VAL_NULL};
                break;
            default:
                v[i] = (struct value){.type = VAL_TEXT,
                                      .s = (const char *)sqlite3_column_text(s, i),
                                      .len = sqlite3_column_bytes(s, i)};
            }
        }
        rc = pg_exec(ps, ins.data, v, n, NULL, err);
    }
    if (!rc && step != SQLITE_DONE) /* a busy or damaged source must not publish half a table */
        rc = err_set(err, ERR_DB, "copy: %s: %s", table, sqlite3_errmsg(src->db));
    sqlite3_finalize(s);
    buf_fini(&ins);
    free(v);
    return rc;
}

/* Generated ids continue after the copied ones. */
static int fix_sequence(struct pg_store *ps, const char *table, const char *col, struct err *err)
{
    struct buf q;
    buf_init(&q);
    int rc = buf_printf(&q,
                        "SELECT setval(pg_get_serial_sequence(quote_ident('%s'), '%s'),"
                        " coalesce(max(%s), 0) + 1, false) FROM ",
                        table, col, col) ||
             pg_put_ident(&q, table);
    PGresult *r = NULL;
    rc = rc ? err_set(err, ERR_NOMEM, "out of memory") : pg_query(ps, q.data, NULL, 0, &r, err);
    PQclear(r);
    buf_fini(&q);
    return rc;
}

int store_copy(struct store *src, struct store *dst, const struct catalog *cat, int64_t *n_features,
               struct err *err)
{
    *n_features = 0;
    if (!dst->pg)
        return err_set(err, ERR_PARAM, "copy writes into a PostGIS store (--db postgresql://...)");
    if (src->pg) return err_set(err, ERR_PARAM, "copy reads a SpatiaLite store (--from FILE)");
    struct pg_store *ps = dst->pg;
    if (!src->srid || src->srid != ps->srid)
        return err_set(err, ERR_PARAM, "the stores' CRS differ (EPSG:%d into EPSG:%d)", src->srid,
                       ps->srid);
    int rc = store_begin(dst, err);
    /* layer versions only grow: the copied ones continue above what replicas have seen, so
     * every cache keyed on a version (the land API's roads and zoning) reloads */
    int64_t old_max = 0;
    PGresult *r = NULL;
    if (!rc)
        rc = pg_query(ps, "SELECT coalesce(max(version), 0) FROM spp_layers", NULL, 0, &r, err);
    if (!rc && PQntuples(r) == 1) old_max = pg_get_int(r, 0, 0);
    PQclear(r);
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        int64_t n = 0;
        rc = copy_layer(src, ps, &cat->layers[i], &n, err);
        *n_features += n;
        if (!rc) rc = fix_sequence(ps, cat->layers[i].id, "fid", err);
    }
    /* the database's own API keys (issued through any replica) are never replaced: a store's
     * keys are copied only into a database that has none yet (a first publication) */
    int64_t n_keys = 0;
    if (!rc) rc = pg_query(ps, "SELECT count(*) FROM spp_keys", NULL, 0, &r, err);
    if (!rc && PQntuples(r) == 1) n_keys = pg_get_int(r, 0, 0);
    PQclear(r);
    for (size_t i = 0; i < ARRAY_LEN(meta_tables) && !rc; i++)
        if (!(n_keys > 0 && strcmp(meta_tables[i], "spp_keys") == 0))
            rc = copy_table(src, ps, meta_tables[i], err);
    for (size_t i = 0; i < ARRAY_LEN(id_tables) && !rc; i++)
        rc = fix_sequence(ps, id_tables[i], "id", err);
    if (!rc) { /* above every version the database had, even when the copied ones are 0 */
        struct value bump = {.type = VAL_INT, .i = old_max + 1};
        rc = pg_exec(ps, "UPDATE spp_layers SET version = version + ?", &bump, 1, NULL, err);
    }
    /* the land-use overview, made from the copied features at their new versions (the same C
     * code and order as the source's: the same cells) */
    struct geo_ctx *geo = rc ? NULL : geo_ctx_new(err);
    if (!rc && !geo) rc = err->code ? err->code : ERR_NOMEM;
    for (int i = 0; i < cat->n_layers && !rc; i++)
        rc = pg_overview_rebuild(ps, &cat->layers[i], geo, err);
    geo_ctx_free(geo);
    if (rc) {
        store_rollback(dst);
        return rc;
    }
    return store_commit(dst, err);
}
