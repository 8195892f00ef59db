/* SPDX-License-Identifier: MIT */
/* meta.c: what the tile cache, the change feed and the metadata records read on PostGIS: the
 * change table (spp_changes) and a cheap "did anything commit" test, lineage, completeness,
 * findings and feature changes (the queries of store/changes.c and store/meta.c). NULLs sort as
 * SQLite sorts them (first ascending, last descending), text byte-wise. */
#include "pg.h"

#include <stdio.h>
#include <string.h>

/* SQLite's data_version has no PostgreSQL twin without session state: the change table's top
 * id and the layers' versions say the same for what readers cache. With the change watch
 * running (listen.c) its generation answers without a query. */
int pg_changed(struct pg_store *ps)
{
    uint64_t gen;
    if (pg_watch_gen(&gen)) { /* the change watch heard or polled it (listen.c) */
        int changed = gen != ps->watch_seen;
        ps->watch_seen = gen;
        return changed;
    }
    PGresult *r = NULL;
    if (pg_query(ps,
                 "SELECT (SELECT coalesce(max(id), 0) FROM spp_changes)::text || '/' ||"
                 " (SELECT coalesce(sum(version), 0) FROM spp_layers)::text",
                 NULL, 0, &r, NULL))
        return 1;
    const char *mark = pg_get_text(r, 0, 0);
    int changed = strcmp(mark, ps->changed_mark) != 0;
    snprintf(ps->changed_mark, sizeof ps->changed_mark, "%s", mark);
    PQclear(r);
    return changed;
}

int pg_changes_max(struct pg_store *ps, int64_t *id, struct err *err)
{
    PGresult *r = NULL;
    int rc = pg_query(ps, "SELECT coalesce(max(id), 0) FROM spp_changes", NULL, 0, &r, err);
    if (!rc) *id = pg_get_int(r, 0, 0);
    PQclear(r);
    return rc;
}

int pg_changes_since(struct pg_store *ps, int64_t after,
                     int (*fn)(void *ud, const struct store_change *c), void *ud, struct err *err)
{
    struct value v = {.type = VAL_INT, .i = after};
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      "SELECT id, layer, minx, miny, maxx, maxy FROM spp_changes WHERE id > ?"
                      " ORDER BY id",
                      &v, 1, &r, err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        struct store_change c = {.id = pg_get_int(r, i, 0), .layer = pg_get_text(r, i, 1)};
        c.has_bbox = !PQgetisnull(r, i, 2);
        c.bbox.minx = pg_get_double(r, i, 2), c.bbox.miny = pg_get_double(r, i, 3);
        c.bbox.maxx = pg_get_double(r, i, 4), c.bbox.maxy = pg_get_double(r, i, 5);
        rc = fn(ud, &c);
    }
    PQclear(r);
    return rc;
}

int pg_layer_lineage(struct pg_store *ps, const struct layer_def *layer, struct store_lineage *out,
                     struct err *err)
{
    memset(out, 0, sizeof *out);
    struct value v[2] = {{.type = VAL_TEXT, .s = layer->id, .len = -1},
                         {.type = VAL_INT, .i = STORE_LINEAGE_MAX}};
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      "SELECT coalesce(l.import_batch, ''), coalesce(i.finished, l.updated, '')"
                      " FROM spp_layers l LEFT JOIN spp_imports i ON i.batch = l.import_batch"
                      " WHERE l.layer = ?",
                      v, 1, &r, err);
    if (rc) return rc;
    if (PQntuples(r) == 1) {
        snprintf(out->last_batch, sizeof out->last_batch, "%s", pg_get_text(r, 0, 0));
        snprintf(out->last_date, sizeof out->last_date, "%s", pg_get_text(r, 0, 1));
    }
    PQclear(r);
    rc = pg_query(ps,
                  "SELECT h.batch, coalesce(h.at, i.finished, ''), h.n_features FROM"
                  " spp_layer_history h LEFT JOIN spp_imports i ON i.batch = h.batch"
                  " WHERE h.layer = ? ORDER BY coalesce(h.at, i.finished) COLLATE \"C\" DESC"
                  " NULLS LAST, h.batch COLLATE \"C\" DESC LIMIT ?",
                  v, 2, &r, err);
    if (rc) return rc;
    for (int i = 0; i < PQntuples(r) && out->n_batches < STORE_LINEAGE_MAX; i++) {
        struct store_batch *b = &out->batches[out->n_batches++];
        snprintf(b->batch, sizeof b->batch, "%s", pg_get_text(r, i, 0));
        snprintf(b->at, sizeof b->at, "%s", pg_get_text(r, i, 1));
        b->n_features = pg_get_int(r, i, 2);
    }
    PQclear(r);
    rc = pg_query(ps,
                  "SELECT s.batch, s.path FROM spp_sources s LEFT JOIN spp_imports i ON"
                  " i.batch = s.batch WHERE s.layer = ? ORDER BY i.finished COLLATE \"C\" DESC"
                  " NULLS LAST, s.batch COLLATE \"C\" DESC, s.position LIMIT ?",
                  v, 2, &r, err);
    if (rc) return rc;
    for (int i = 0; i < PQntuples(r) && out->n_sources < STORE_LINEAGE_MAX; i++) {
        struct store_source *src = &out->sources[out->n_sources++];
        snprintf(src->batch, sizeof src->batch, "%s", pg_get_text(r, i, 0));
        snprintf(src->path, sizeof src->path, "%s", pg_get_text(r, i, 1));
    }
    PQclear(r);
    return 0;
}

int pg_layer_completeness(struct pg_store *ps, const struct layer_def *layer, enum role role,
                          const int *fields, int n_fields, int64_t *filled, int64_t *total,
                          struct err *err)
{
    struct buf q;
    buf_init(&q);
    int rc = buf_puts(&q, "SELECT count(*)");
    for (int i = 0; i < n_fields && !rc; i++)
        rc = buf_puts(&q, ", count(NULLIF(CAST(") ||
             pg_put_ident(&q, layer->fields[fields[i]].name) || buf_puts(&q, " AS text), ''))");
    rc = rc || buf_puts(&q, " FROM ") || pg_put_ident(&q, layer->id);
    int field, n = 0;
    const struct value *v;
    struct value bound;
    if (access_row_rule(layer, role, &field, &v)) {
        rc = rc || buf_puts(&q, " WHERE ") || pg_put_ident(&q, layer->fields[field].name) ||
             buf_puts(&q, " = ?");
        bound = *v, n = 1;
    }
    PGresult *r = NULL;
    rc = rc ? err_set(err, ERR_NOMEM, "out of memory") : pg_query(ps, q.data, &bound, n, &r, err);
    buf_fini(&q);
    if (rc) return rc;
    *total = pg_get_int(r, 0, 0);
    for (int i = 0; i < n_fields; i++)
        filled[i] = pg_get_int(r, 0, i + 1);
    PQclear(r);
    return 0;
}

int pg_layer_findings(struct pg_store *ps, const struct layer_def *layer, const char *batch,
                      int (*fn)(void *ud, const char *kind, const char *severity, int64_t n),
                      void *ud, struct err *err)
{
    struct value v[2] = {{.type = VAL_TEXT, .s = layer->id, .len = -1},
                         {.type = VAL_TEXT, .s = batch ? batch : "", .len = -1}};
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      "SELECT coalesce(kind, '') COLLATE \"C\", coalesce(severity, '') COLLATE"
                      " \"C\", count(*) FROM spp_findings WHERE layer = ? AND batch = ? GROUP BY"
                      " 1, 2 ORDER BY 3 DESC, 1",
                      v, 2, &r, err);
    for (int i = 0; !rc && i < PQntuples(r); i++)
        rc = fn(ud, pg_get_text(r, i, 0), pg_get_text(r, i, 1), pg_get_int(r, i, 2));
    PQclear(r);
    return rc;
}

int pg_feature_changes(struct pg_store *ps, const struct layer_def *layer, enum role role,
                       const char *since, int64_t after, int64_t limit,
                       int (*fn)(void *ud, const struct store_feature_change *c), void *ud,
                       int *more, struct err *err)
{
    *more = 0;
    int field;
    const struct value *rv;
    int ruled = access_row_rule(layer, role, &field, &rv);
    struct value v[5] = {{.type = VAL_TEXT, .s = layer->id, .len = -1},
                         {.type = VAL_INT, .i = after},
                         {.type = VAL_TEXT, .s = since ? since : "", .len = -1}};
    int n = 3;
    char num[32];
    if (ruled) { /* rowval is text here: the rule's value compared as text */
        if (rv->type == VAL_TEXT) {
            v[n++] = *rv;
        } else {
            snprintf(num, sizeof num, "%lld", (long long)rv->i);
            v[n++] = (struct value){.type = VAL_TEXT, .s = num, .len = -1};
        }
    }
    v[n++] = (struct value){.type = VAL_INT, .i = limit + 1};
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      ruled ? "SELECT id, op, key, fid, batch, at FROM spp_feature_changes WHERE"
                              " layer = ? AND id > ? AND at COLLATE \"C\" >= ? AND rowval = ?"
                              " ORDER BY id LIMIT ?"
                            : "SELECT id, op, key, fid, batch, at FROM spp_feature_changes WHERE"
                              " layer = ? AND id > ? AND at COLLATE \"C\" >= ? ORDER BY id LIMIT ?",
                      v, n, &r, err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        if (i == limit) {
            *more = 1;
            break;
        }
        struct store_feature_change c = {
            .id = pg_get_int(r, i, 0),
            .op = pg_get_text(r, i, 1),
            .key = pg_get_text(r, i, 2),
            .has_fid = !PQgetisnull(r, i, 3),
            .fid = pg_get_int(r, i, 3),
            .batch = pg_get_text(r, i, 4),
            .at = pg_get_text(r, i, 5),
        };
        rc = fn(ud, &c);
    }
    PQclear(r);
    return rc;
}

int pg_last_import(struct pg_store *ps, char *batch, size_t batch_len, char *at, size_t at_len,
                   struct err *err)
{
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      "SELECT batch, finished FROM spp_imports WHERE finished IS NOT NULL"
                      " ORDER BY finished COLLATE \"C\" DESC LIMIT 1",
                      NULL, 0, &r, err);
    if (!rc && PQntuples(r) == 1) {
        if (batch_len) snprintf(batch, batch_len, "%s", pg_get_text(r, 0, 0));
        if (at_len) snprintf(at, at_len, "%s", pg_get_text(r, 0, 1));
    }
    PQclear(r);
    return rc;
}
