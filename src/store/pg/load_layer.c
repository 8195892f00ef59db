/* SPDX-License-Identifier: MIT */
/* pg/load_layer.c: replacing one layer inside a load batch on a PostGIS store (store.h,
 * "Loading"; pg/load.h), and reading inside the batch. A layer is replaced by one DELETE that
 * also notes its features' identities for the change feed (into a temporary table dropped at
 * commit), then its rows go in through COPY; its indexes stay (dropping them would lock the
 * table against the replicas until the commit, where a DELETE lets them read the old rows), the
 * table is analysed and spp_layers refreshed. Deciding what the rows are is the importer's. */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the change feed: identities before and after ---- */

/* A feature's identity: its natural key's value as text, else its fid; and its row-rule value
 * as text (spp_feature_changes.rowval). p is the table's alias. */
static int identity_sql(const struct layer_def *l, const char *p, struct buf *b)
{
    int rc = 0;
    if (l->key >= 0) {
        rc = buf_printf(b, "coalesce(CAST(%s.", p) || pg_put_ident(b, l->fields[l->key].name) ||
             buf_printf(b, " AS text), CAST(%s.fid AS text))", p);
    } else {
        rc = buf_printf(b, "CAST(%s.fid AS text)", p);
    }
    rc = rc || buf_puts(b, ", ");
    if (!rc && l->row_field >= 0)
        rc = buf_printf(b, "CAST(%s.", p) || pg_put_ident(b, l->fields[l->row_field].name) ||
             buf_puts(b, " AS text)");
    else if (!rc)
        rc = buf_puts(b, "NULL::text");
    return rc;
}

/* The fids of unchanged features into spp_unchanged (a temporary table dropped at commit), sent
 * as one bigint[] literal. */
static int note_unchanged(struct pg_load *pl, const int64_t *fids, size_t n, struct err *err)
{
    int rc = pg_exec(pl->ps,
                     "CREATE TEMP TABLE IF NOT EXISTS spp_unchanged (fid bigint PRIMARY KEY)"
                     " ON COMMIT DROP",
                     NULL, 0, NULL, err);
    if (!rc) rc = pg_exec(pl->ps, "TRUNCATE spp_unchanged", NULL, 0, NULL, err);
    if (rc || !n) return rc;
    struct buf a;
    buf_init(&a);
    int bad = buf_putc(&a, '{');
    for (size_t i = 0; i < n && !bad; i++)
        bad = buf_printf(&a, i ? ",%lld" : "%lld", (long long)fids[i]);
    bad = bad || buf_putc(&a, '}');
    struct value v = {.type = VAL_TEXT, .s = a.data, .len = -1};
    rc = bad ? err_set(err, ERR_NOMEM, "out of memory")
             : pg_exec(pl->ps,
                       "INSERT INTO spp_unchanged SELECT DISTINCT unnest(CAST(? AS bigint[]))", &v,
                       1, NULL, err);
    buf_fini(&a);
    return rc;
}

int pg_load_feature_changes(struct pg_load *pl, const struct layer_def *l, const char *at,
                            const int64_t *unchanged, size_t n_unchanged, struct err *err)
{
    int rc = pg_load_quiet(pl, err);
    if (!rc) rc = note_unchanged(pl, unchanged, n_unchanged, err);
    if (rc) return rc;
    struct buf del, ins;
    buf_init(&del);
    buf_init(&ins);
    /* deletes: identities no longer there, in byte order (SQLite's) */
    int bad = buf_puts(&del, "INSERT INTO spp_feature_changes (layer, batch, at, op, key, fid,"
                             " rowval) SELECT ?, ?, ?, 'delete', p.k, NULL, p.rowval FROM"
                             " spp_prev_keys p WHERE NOT EXISTS (SELECT 1 FROM (SELECT ") ||
              identity_sql(l, "n", &del) || buf_puts(&del, " FROM ") || pg_put_ident(&del, l->id) ||
              buf_puts(&del, " n) n (k, rowval) WHERE n.k = p.k) ORDER BY p.k COLLATE \"C\"");
    /* inserts and updates: the rows this batch wrote, in fid order */
    bad = bad ||
          buf_puts(&ins, "INSERT INTO spp_feature_changes (layer, batch, at, op, key, fid, rowval)"
                         " SELECT ?, ?, ?, CASE WHEN EXISTS (SELECT 1 FROM spp_prev_keys p WHERE"
                         " p.k = n.k) THEN 'update' ELSE 'insert' END, n.k, n.fid, n.rowval"
                         " FROM (SELECT ") ||
          identity_sql(l, "n", &ins) || buf_puts(&ins, ", n.fid, n.import_batch FROM ") ||
          pg_put_ident(&ins, l->id) ||
          buf_puts(&ins, " n) n (k, rowval, fid, batch) WHERE n.batch = ? AND NOT EXISTS"
                         " (SELECT 1 FROM spp_unchanged u WHERE u.fid = n.fid) ORDER BY n.fid");
    struct value v[4] = {{.type = VAL_TEXT, .s = l->id, .len = -1},
                         {.type = VAL_TEXT, .s = pl->batch, .len = -1},
                         {.type = VAL_TEXT, .s = at, .len = -1},
                         {.type = VAL_TEXT, .s = pl->batch, .len = -1}};
    if (bad) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc)
        rc = pg_exec(pl->ps,
                     "CREATE TEMP TABLE IF NOT EXISTS spp_prev_keys (k text, rowval text)"
                     " ON COMMIT DROP",
                     NULL, 0, NULL, err);
    if (!rc) rc = pg_exec(pl->ps, del.data, v, 3, NULL, err);
    if (!rc) rc = pg_exec(pl->ps, ins.data, v, 4, NULL, err);
    if (!rc) rc = pg_exec(pl->ps, "TRUNCATE spp_prev_keys", NULL, 0, NULL, err);
    buf_fini(&del);
    buf_fini(&ins);
    return rc;
}

/* ---- replacing a layer ---- */

int pg_load_layer_begin(struct pg_load *pl, const struct layer_def *l, struct err *err)
{
    int rc = pg_load_quiet(pl, err);
    if (pl->layer) pl->abandoned = 1; /* a layer left open is abandoned */
    pl->layer = NULL;
    if (rc) return rc;
    /* the rows go and their identities are noted, in one pass (the change feed, issue 21) */
    struct buf q;
    buf_init(&q);
    int bad = buf_puts(&q, "CREATE TEMP TABLE IF NOT EXISTS spp_prev_keys (k text, rowval text)"
                           " ON COMMIT DROP; CREATE INDEX IF NOT EXISTS spp_prev_keys_k ON"
                           " spp_prev_keys (k); TRUNCATE spp_prev_keys; WITH d AS (DELETE FROM ") ||
              pg_put_ident(&q, l->id) || buf_puts(&q, " n RETURNING ") ||
              identity_sql(l, "n", &q) ||
              buf_puts(&q, ") INSERT INTO spp_prev_keys SELECT * FROM d; ANALYZE spp_prev_keys");
    rc = bad ? err_set(err, ERR_NOMEM, "out of memory")
             : pg_exec(pl->ps, q.data, NULL, 0, NULL, err);
    buf_fini(&q);
    free(pl->fids); /* a new set of fids */
    pl->fids = NULL, pl->fid_cap = pl->n_fids = 0;
    pl->layer = l; /* from here on it is open: a failure above leaves it to be abandoned */
    return rc;
}

static int copy_layer_start(struct pg_load *pl, struct err *err)
{
    const struct layer_def *l = pl->layer;
    struct buf q;
    buf_init(&q);
    int bad = buf_puts(&q, "COPY ") || pg_put_ident(&q, l->id) || buf_puts(&q, " (fid");
    for (int i = 0; i < l->n_fields && !bad; i++)
        bad = buf_puts(&q, ", ") || pg_put_ident(&q, l->fields[i].name);
    bad = bad || buf_puts(&q, ", geom) FROM STDIN");
    int rc = 0;
    if (bad) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
    } else {
        PGresult *r = PQexec(pl->ps->conn, q.data);
        if (PQresultStatus(r) != PGRES_COPY_IN)
            rc = err_set(err, ERR_DB, "COPY %s: %s", l->id, PQresultErrorMessage(r));
        PQclear(r);
    }
    buf_fini(&q);
    if (!rc) pl->copying = 1;
    return rc;
}

/* Adds fid to the open layer's set: 1 if it was there already, -1 out of memory, else 0. */
static int fid_seen(struct pg_load *pl, int64_t fid)
{
    if (2 * (pl->n_fids + 1) > pl->fid_cap) {
        size_t cap = pl->fid_cap ? 2 * pl->fid_cap : 4096;
        int64_t *t = calloc(cap, sizeof *t);
        if (!t) return -1;
        for (size_t i = 0; i < pl->fid_cap; i++) {
            if (!pl->fids[i]) continue;
            size_t h = (size_t)((uint64_t)pl->fids[i] * 0x9E3779B97F4A7C15ull) & (cap - 1);
            while (t[h])
                h = (h + 1) & (cap - 1);
            t[h] = pl->fids[i];
        }
        free(pl->fids);
        pl->fids = t, pl->fid_cap = cap;
    }
    size_t h = (size_t)((uint64_t)fid * 0x9E3779B97F4A7C15ull) & (pl->fid_cap - 1);
    for (; pl->fids[h]; h = (h + 1) & (pl->fid_cap - 1))
        if (pl->fids[h] == fid) return 1;
    pl->fids[h] = fid;
    pl->n_fids++;
    return 0;
}

int pg_load_put(struct pg_load *pl, int64_t fid, const struct value *values,
                const unsigned char *wkb, size_t wkb_len, struct err *err)
{
    const struct layer_def *l = pl->layer;
    if (!l) return err_set(err, ERR_INTERNAL, "load: no layer open");
    if (fid <= 0) return err_set(err, ERR_DB, "%s: fid %lld is not > 0", l->id, (long long)fid);
    int rc = fid_seen(pl, fid);
    if (rc < 0) return err_set(err, ERR_NOMEM, "out of memory");
    if (rc) return err_set(err, ERR_DB, "%s: fid %lld used twice", l->id, (long long)fid);
    rc = pl->copying ? 0 : copy_layer_start(pl, err);
    if (rc) return rc;
    struct buf *b = &pl->line;
    rc = pg_copy_put_row(b, fid, values, l->n_fields, wkb, wkb_len, pl->ps->srid);
    if (rc == ERR_PARAM)
        return err_set(err, ERR_DB, "%s: feature %lld: geometry is not WKB", l->id, (long long)fid);
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if (PQputCopyData(pl->ps->conn, b->data, (int)b->len) != 1)
        return err_set(err, ERR_DB, "COPY %s: %s", l->id, PQerrorMessage(pl->ps->conn));
    return 0;
}

int pg_load_layer_done(struct pg_load *pl, struct err *err)
{
    const struct layer_def *l = pl->layer;
    if (!l) return err_set(err, ERR_INTERNAL, "load: no layer open");
    int rc = pg_load_quiet(pl, err); /* the server checks the rows now: a fid used twice */
    struct buf q;
    buf_init(&q);
    if (!rc)
        rc = buf_puts(&q, "ANALYZE ") || pg_put_ident(&q, l->id)
                 ? err_set(err, ERR_NOMEM, "out of memory")
                 : pg_exec(pl->ps, q.data, NULL, 0, NULL, err);
    buf_fini(&q);
    if (!rc) rc = pg_refresh_layer(pl->ps, l, pl->batch, err);
    if (!rc) pl->layer = NULL; /* else left open: the batch cannot be published */
    return rc;
}

int pg_load_update(struct pg_load *pl, const struct layer_def *l, int64_t fid, const int *fields,
                   const struct value *values, int n, struct err *err)
{
    if (n <= 0) return 0;
    for (int i = 0; i < n; i++)
        if (fields[i] < 0 || fields[i] >= l->n_fields)
            return err_set(err, ERR_INTERNAL, "%s: no field %d", l->id, fields[i]);
    int rc = pg_load_quiet(pl, err);
    if (rc) return rc;
    struct value *v = calloc((size_t)n + 1, sizeof *v);
    struct buf q;
    buf_init(&q);
    int bad = !v || buf_puts(&q, "UPDATE ") || pg_put_ident(&q, l->id);
    for (int i = 0; i < n && !bad; i++) {
        v[i] = values[i];
        if (v[i].type == VAL_BLOB) v[i].type = VAL_NULL; /* as in COPY */
        bad = buf_puts(&q, i ? ", " : " SET ") || pg_put_ident(&q, l->fields[fields[i]].name) ||
              buf_puts(&q, " = ?");
    }
    bad = bad || buf_puts(&q, " WHERE fid = ?");
    if (bad) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
    } else {
        v[n] = (struct value){.type = VAL_INT, .i = fid};
        rc = pg_exec(pl->ps, q.data, v, n + 1, NULL, err);
    }
    buf_fini(&q);
    free(v);
    return rc;
}

/* ---- reading inside the batch ---- */

int pg_load_scan(struct pg_load *pl, const struct store_scan *q,
                 int (*fn)(void *ud, const struct feature *f, const struct bbox *box), void *ud,
                 struct err *err)
{
    const struct layer_def *l = q->layer;
    for (int i = 0; i < q->n_fields; i++)
        if (q->fields[i] < 0 || q->fields[i] >= l->n_fields)
            return err_set(err, ERR_INTERNAL, "%s: no field %d", l->id, q->fields[i]);
    int rc = pg_load_quiet(pl, err);
    if (rc) return rc;
    struct buf sql;
    buf_init(&sql);
    int bad = buf_puts(&sql, "SELECT fid, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom),"
                             " ST_YMax(geom), ");
    bad = bad || buf_puts(&sql, q->want_geom ? "ST_AsBinary(geom, 'NDR')" : "NULL::bytea");
    for (int i = 0; i < q->n_fields && !bad; i++)
        bad = buf_puts(&sql, ", ") || pg_put_ident(&sql, l->fields[q->fields[i]].name);
    bad = bad || buf_puts(&sql, " FROM ") || pg_put_ident(&sql, l->id) ||
          buf_puts(&sql, " ORDER BY fid");
    if (!bad && q->limit >= 0) bad = buf_printf(&sql, " LIMIT %lld", (long long)q->limit);
    struct value *vals = calloc((size_t)q->n_fields + 1, sizeof *vals);
    if (bad || !vals) rc = err_set(err, ERR_NOMEM, "out of memory");
    PGresult *r = NULL;
    if (!rc) rc = pg_query(pl->ps, sql.data, NULL, 0, &r, err);
    struct feature f = {l, 0, NULL, 0, vals, q->fields, q->n_fields};
    for (int row = 0; !rc && row < PQntuples(r); row++) {
        f.fid = pg_get_int(r, row, 0);
        int has_box = !PQgetisnull(r, row, 1);
        struct bbox box = {pg_get_double(r, row, 1), pg_get_double(r, row, 2),
                           pg_get_double(r, row, 3), pg_get_double(r, row, 4)};
        f.wkb = NULL, f.wkb_len = 0;
        if (q->want_geom && !PQgetisnull(r, row, 5)) {
            f.wkb = (const unsigned char *)PQgetvalue(r, row, 5);
            f.wkb_len = (size_t)PQgetlength(r, row, 5);
        }
        for (int i = 0; i < q->n_fields; i++)
            pg_get_value(r, row, 6 + i, &vals[i]);
        rc = fn(ud, &f, has_box ? &box : NULL);
    }
    PQclear(r);
    free(vals);
    buf_fini(&sql);
    return rc;
}
