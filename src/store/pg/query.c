/* SPDX-License-Identifier: MIT */
/* query.c: the one query path on PostGIS, as store/query.c on SpatiaLite: SELECT text from
 * catalog names only (the bbox through the GiST index, a WHERE fragment compiled by filter/ in
 * the PostgreSQL dialect), every request value bound, rows streamed (single-row mode) into the
 * feature sink with values typed as SpatiaLite's (bigint -> integer, double -> real, text) and
 * geometry as 2D little-endian ISO WKB (ST_AsBinary(geom, 'NDR')). Text orders byte-wise
 * (COLLATE "C") with NULLs first, as SQLite orders. */
#include "pg.h"

#include "../../filter/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bound values of the query, in the order put_from_where writes their placeholders. */
struct bound {
    struct value v[16];
    int n;
};

static int put_from_where(const struct pg_store *ps, const struct store_query *q,
                          const struct filter_sql *where, struct buf *b, struct bound *pre,
                          struct bound *post)
{
    int rc = buf_puts(b, " FROM ") || pg_put_ident(b, q->layer->id) || buf_puts(b, " WHERE true");
    if (q->has_bbox) {
        const struct bbox *x = &q->bbox;
        rc = rc || buf_printf(b, " AND geom && ST_MakeEnvelope(?, ?, ?, ?, %d)", ps->srid);
        double box[4] = {x->minx, x->miny, x->maxx, x->maxy};
        for (int k = 0; k < (q->bbox_exact ? 2 : 1); k++)
            for (int i = 0; i < 4; i++)
                pre->v[pre->n++] = (struct value){.type = VAL_REAL, .d = box[i]};
        if (q->bbox_exact)
            rc = rc || buf_printf(b, " AND ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?, %d))",
                                  ps->srid);
    }
    if (where->sql.len) rc = rc || buf_printf(b, " AND (%s)", where->sql.data);
    if (q->n_parts > 1) /* as SQLite's: a negative fid's remainder is negative */
        rc = rc || buf_printf(b, " AND (fid / 64 %% %d + %d) %% %d = %d", q->n_parts, q->n_parts,
                              q->n_parts, q->part);
    int field;
    const struct value *v;
    if (access_row_rule(q->layer, q->role, &field, &v)) {
        rc = rc || buf_puts(b, " AND ") || pg_put_ident(b, q->layer->fields[field].name) ||
             buf_puts(b, " = ?");
        post->v[post->n++] = *v;
    }
    return rc;
}

/* All values in order: pre (geometry operation, bbox), the filter's, post (row rule, limit,
 * offset). */
static struct value *all_params(const struct filter_sql *where, const struct bound *pre,
                                const struct bound *post, int *n)
{
    *n = pre->n + where->n_params + post->n;
    struct value *all = calloc((size_t)*n + 1, sizeof *all);
    if (!all) return NULL;
    memcpy(all, pre->v, (size_t)pre->n * sizeof *all);
    if (where->n_params) memcpy(all + pre->n, where->params, (size_t)where->n_params * sizeof *all);
    memcpy(all + pre->n + where->n_params, post->v, (size_t)post->n * sizeof *all);
    return all;
}

/* q's filter tree in the PostgreSQL dialect (nothing when there is none). */
int pg_compile_filter(const struct pg_store *ps, const struct store_query *q,
                      struct filter_sql *out, struct err *err)
{
    if (!q->filter) return 0;
    return filter_compile_dialect(q->filter, q->layer, ps->srid, q->geo, FILTER_DIALECT_PG, out,
                                  err);
}

int pg_query_count(struct pg_store *ps, const struct store_query *q, int64_t *count,
                   struct err *err)
{
    struct buf b;
    buf_init(&b);
    struct bound pre = {.n = 0}, post = {.n = 0};
    int n = 0;
    struct value *params = NULL;
    struct filter_sql where;
    filter_sql_init(&where);
    int rc = pg_compile_filter(ps, q, &where, err);
    if (!rc && (buf_puts(&b, "SELECT count(*)") || put_from_where(ps, q, &where, &b, &pre, &post) ||
                !(params = all_params(&where, &pre, &post, &n))))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    PGresult *r = NULL;
    if (!rc) rc = pg_query(ps, b.data, params, n, &r, err);
    if (!rc) *count = pg_get_int(r, 0, 0);
    PQclear(r);
    free(params);
    buf_fini(&b);
    filter_sql_fini(&where);
    return rc;
}

static int is_text(const struct layer_def *l, int f)
{
    return f >= 0 && (l->fields[f].type == FT_TEXT || l->fields[f].type == FT_DATE);
}

static int build_select(const struct pg_store *ps, const struct store_query *q,
                        const struct filter_sql *where, struct buf *b, struct bound *pre,
                        struct bound *post, struct err *err)
{
    const struct layer_def *l = q->layer;
    int rc = buf_puts(b, "SELECT fid");
    for (int i = 0; i < q->n_fields && !rc; i++) {
        if (q->fields[i] < 0 || q->fields[i] >= l->n_fields)
            return err_set(err, ERR_INTERNAL, "bad field index");
        rc = buf_puts(b, ", ") || pg_put_ident(b, l->fields[q->fields[i]].name);
    }
    /* the simplification SpatiaLite does (GEOS's topology-preserving simplifier), kept in the
     * layer's multi type as store/query.c does */
    if (q->want_geom && q->geom_op == STORE_GEOM_SIMPLIFY) {
        rc = rc || buf_puts(b, q->layer->geom >= GT_MULTIPOINT
                                   ? ", ST_AsBinary(ST_Multi(ST_SimplifyPreserveTopology(geom, ?)),"
                                     " 'NDR')"
                                   : ", ST_AsBinary(ST_SimplifyPreserveTopology(geom, ?), 'NDR')");
        pre->v[pre->n++] = (struct value){.type = VAL_REAL, .d = q->geom_tolerance};
    } else if (q->want_geom) {
        rc = rc || buf_puts(b, ", ST_AsBinary(geom, 'NDR')");
    }
    rc = rc || put_from_where(ps, q, where, b, pre, post) || buf_puts(b, " ORDER BY ");
    for (int i = 0; i < q->n_order && !rc; i++) {
        int f = q->order[i] < l->n_fields ? q->order[i] : -1;
        int desc = q->order_desc && q->order_desc[i];
        rc = (f < 0 ? buf_puts(b, "fid") : pg_put_ident(b, l->fields[f].name)) ||
             (is_text(l, f) && buf_puts(b, " COLLATE \"C\"")) ||
             buf_puts(b, desc ? " DESC NULLS LAST, " : " ASC NULLS FIRST, ");
    }
    rc = rc || buf_puts(b, "fid");
    if (q->limit >= 0 || q->offset > 0) {
        rc = rc || buf_puts(b, " LIMIT ? OFFSET ?");
        post->v[post->n++] = q->limit >= 0 ? (struct value){.type = VAL_INT, .i = q->limit}
                                           : (struct value){.type = VAL_NULL};
        post->v[post->n++] = (struct value){.type = VAL_INT, .i = q->offset > 0 ? q->offset : 0};
    }
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

int pg_query_run(struct pg_store *ps, const struct store_query *q, const struct feature_sink *sink,
                 int64_t *n_read, struct err *err)
{

    const struct layer_def *l = q->layer;
    *n_read = 0;
    struct buf b;
    buf_init(&b);
    struct bound pre = {.n = 0}, post = {.n = 0};
    int n_params = 0;
    struct value *params = NULL;
    struct filter_sql where;
    filter_sql_init(&where);
    int rc = pg_compile_filter(ps, q, &where, err);
    if (!rc) rc = build_select(ps, q, &where, &b, &pre, &post, err);
    if (!rc && !(params = all_params(&where, &pre, &post, &n_params)))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) rc = pg_stream_start(ps, b.data, params, n_params, err);
    free(params);
    buf_fini(&b);
    filter_sql_fini(&where); /* the values were sent with the statement */
    if (rc) return rc;
    struct value stackvals[64];
    struct value *vals = q->n_fields <= 64 ? stackvals : calloc((size_t)q->n_fields, sizeof *vals);
    if (!vals) {
        pg_stream_end(ps);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (sink->begin && (rc = sink->begin(sink->ud, l, err))) goto done;
    struct feature f = {.layer = l, .values = vals, .fields = q->fields, .n_fields = q->n_fields};
    PGresult *r = NULL;
    while (!(rc = pg_stream_next(ps, &r, err)) && r) {
        f.fid = pg_get_int(r, 0, 0);
        for (int i = 0; i < q->n_fields; i++)
            pg_get_value(r, 0, i + 1, &vals[i]);
        f.wkb = NULL, f.wkb_len = 0;
        if (q->want_geom && !PQgetisnull(r, 0, q->n_fields + 1)) {
            f.wkb = (const unsigned char *)PQgetvalue(r, 0, q->n_fields + 1);
            f.wkb_len = (size_t)PQgetlength(r, 0, q->n_fields + 1);
        }
        (*n_read)++;
        if (sink->feature) rc = sink->feature(sink->ud, &f, err);
        PQclear(r);
        r = NULL;
        if (rc) break;
    }
    if (!rc && sink->end) rc = sink->end(sink->ud, err);
done:
    pg_stream_end(ps);
    if (vals != stackvals) free(vals);
    return rc;
}

int pg_layer_state(struct pg_store *ps, const struct layer_def *layer, struct layer_state *out,
                   struct err *err)
{
    memset(out, 0, sizeof *out);
    struct value v = {.type = VAL_TEXT, .s = layer->id, .len = -1};
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      "SELECT n_features, version, minx, miny, maxx, maxy, coalesce(updated, '')"
                      " FROM spp_layers WHERE layer = ?",
                      &v, 1, &r, err);
    if (rc) return rc;
    if (PQntuples(r) == 1) {
        out->n_features = pg_get_int(r, 0, 0);
        out->version = pg_get_int(r, 0, 1);
        if (!PQgetisnull(r, 0, 2)) {
            out->has_extent = 1;
            out->extent.minx = pg_get_double(r, 0, 2);
            out->extent.miny = pg_get_double(r, 0, 3);
            out->extent.maxx = pg_get_double(r, 0, 4);
            out->extent.maxy = pg_get_double(r, 0, 5);
        }
        snprintf(out->updated, sizeof out->updated, "%s", pg_get_text(r, 0, 6));
    }
    PQclear(r);
    return 0;
}
