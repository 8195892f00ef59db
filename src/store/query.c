/* SPDX-License-Identifier: MIT */
/* query.c: the one query path. Builds SELECT text from catalog names only (fields, order, the
 * R*Tree sub-select for a bbox, the caller's filter tree compiled here with filter/'s SQLite
 * compiler), binds every request value, and streams rows into a feature sink. */
#include "search.h"
#include "store_int.h"

#include "../filter/filter.h"
#include "pg/pg.h"

#include <stdlib.h>
#include <string.h>

/* Compiles q's filter (SQLite dialect: filter_compile) into out; nothing when there is none. */
static int compile_filter(struct store *st, const struct store_query *q, struct filter_sql *out,
                          struct err *err)
{
    if (st->pg) return pg_compile_filter(st->pg, q, out, err);
    if (!q->filter) return 0;
    out->fold_index = store_search_index, out->fold_index_ud = st; /* search.c */
    return filter_compile(q->filter, q->layer, st->srid, q->geo, out, err);
}

/* Whether q reads its box's ids first (ids.c: store_box_ids, joined through spp_ids(?)) rather
 * than through an IN sub-select: a box without an explicit order (tiles, maps, WFS/OGC API pages
 * in fid order). The sub-select stays, for SQLite to weigh against the others, under a sort by
 * fields and under a filter that constrains fid itself (feature ids, a search index's or a
 * spatial operator's sub-select): those may select far fewer rows than the box. */
static int reads_box_ids(const struct store_query *q, const struct filter_sql *where)
{
    return q->has_bbox && q->n_order == 0 && !(where->sql.len && strstr(where->sql.data, "fid"));
}

/* Keeps the ids with (id / 64) % n == part (store_query.n_parts), in their order; C's division
 * and remainder truncate as SQLite's and PostgreSQL's do. */
static void keep_part(struct store_ids *ids, int part, int n)
{
    size_t k = 0;
    for (size_t i = 0; i < ids->n; i++)
        if (((ids->v[i] / 64 % n) + n) % n == part) ids->v[k++] = ids->v[i];
    ids->n = k;
}

/* Appends " FROM layer WHERE ..." (the R*Tree box, the compiled filter, the row rule); ids: the
 * box's ids come sorted from spp_ids(?) (reads_box_ids). */
static int put_from_where(struct store *st, const struct store_query *q,
                          const struct filter_sql *where, struct buf *b, int ids)
{
    const char *id = q->layer->id;
    /* Either way SQLite looks the rows up in fid order, neighbours on the same pages (a join led
     * by the R*Tree, in its order, cost a tile's and a map's cold pass 3-10 % more time in random
     * b-tree descents, though fewer instructions). CROSS JOIN keeps spp_ids the outer loop. */
    if (ids) {
        if (buf_puts(b, " FROM spp_ids(?) CROSS JOIN ") || store_put_ident(b, id) ||
            buf_puts(b, " WHERE fid = spp_id"))
            return ERR_NOMEM;
    } else if (buf_puts(b, " FROM ") || store_put_ident(b, id) || buf_puts(b, " WHERE 1")) {
        return ERR_NOMEM;
    }
    if (q->has_bbox && !ids &&
        (buf_puts(b, " AND fid IN (") || store_put_box_select(b, q) || buf_putc(b, ')')))
        return ERR_NOMEM;
    if (q->has_bbox && q->bbox_exact &&
        buf_printf(b, " AND ST_Intersects(geom, BuildMbr(?, ?, ?, ?, %d)) = 1", st->srid))
        return ERR_NOMEM;
    if (where->sql.len && buf_printf(b, " AND (%s)", where->sql.data)) return ERR_NOMEM;
    if (q->n_parts > 1 && !ids &&
        buf_printf(b, " AND (fid / 64 %% %d + %d) %% %d = %d", q->n_parts, q->n_parts, q->n_parts,
                   q->part))
        return ERR_NOMEM; /* the ids path keeps its part of the ids (keep_part) */
    int field;
    const struct value *v;
    if (access_row_rule(q->layer, q->role, &field, &v) && /* bound last: bind_all */
        (buf_puts(b, " AND ") || store_put_ident(b, q->layer->fields[field].name) ||
         buf_puts(b, " = ?")))
        return ERR_NOMEM;
    return 0;
}

static int bind_value(sqlite3_stmt *s, int i, const struct value *v)
{
    switch (v->type) {
    case VAL_INT:
        return sqlite3_bind_int64(s, i, v->i);
    case VAL_REAL:
        return sqlite3_bind_double(s, i, v->d);
    case VAL_TEXT:
        return sqlite3_bind_text(s, i, v->s, v->len >= 0 ? v->len : -1, SQLITE_STATIC);
    case VAL_BLOB:
        return sqlite3_bind_blob(s, i, v->s, v->len, SQLITE_STATIC);
    default:
        return sqlite3_bind_null(s, i);
    }
}

static int bind_doubles(sqlite3_stmt *s, int *pos, const double *d, int n)
{
    int rc = SQLITE_OK;
    for (int i = 0; i < n && rc == SQLITE_OK; i++)
        rc = sqlite3_bind_double(s, ++*pos, d[i]);
    return rc;
}

/* Binds in the order the SQL text has them: the geometry operation's (with_geom), the box, the
 * filter's, the row rule's. An SQLite result code. */
static int bind_all(const struct store_query *q, const struct filter_sql *where, sqlite3_stmt *s,
                    int *pos, int with_geom, const struct store_ids *ids)
{
    int rc = SQLITE_OK;
    if (with_geom && q->want_geom && q->geom_op == STORE_GEOM_SIMPLIFY)
        rc = sqlite3_bind_double(s, ++*pos, q->geom_tolerance);
    if (rc == SQLITE_OK && ids) rc = store_ids_bind(s, ++*pos, ids);
    if (rc == SQLITE_OK && q->has_bbox) {
        const struct bbox *b = &q->bbox;
        double exact[4] = {b->minx, b->miny, b->maxx, b->maxy};
        if (!ids) rc = store_bind_box_select(s, pos, q);
        if (rc == SQLITE_OK && q->bbox_exact) rc = bind_doubles(s, pos, exact, 4);
    }
    for (int i = 0; i < where->n_params && rc == SQLITE_OK; i++)
        rc = bind_value(s, ++*pos, &where->params[i]);
    int field;
    const struct value *v;
    if (rc == SQLITE_OK && access_row_rule(q->layer, q->role, &field, &v))
        rc = bind_value(s, ++*pos, v);
    return rc;
}

int store_query_check(struct store *st, const struct store_query *q, struct err *err)
{
    struct filter_sql where;
    filter_sql_init(&where);
    int rc = compile_filter(st, q, &where, err);
    filter_sql_fini(&where);
    return rc;
}

int store_query_count(struct store *st, const struct store_query *q, int64_t *count,
                      struct err *err)
{
    if (st->pg) return pg_query_count(st->pg, q, count, err);
    struct filter_sql where;
    filter_sql_init(&where);
    struct buf b;
    buf_init(&b);
    sqlite3_stmt *s = NULL;
    int rc = compile_filter(st, q, &where, err);
    if (!rc && (buf_puts(&b, "SELECT count(*)") || put_from_where(st, q, &where, &b, 0)))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc && !(s = store_prepare(st, b.data, err))) rc = ERR_DB;
    int pos = 0;
    if (!rc && bind_all(q, &where, s, &pos, 0, NULL) != SQLITE_OK)
        rc = store_db_error(st, err, q->layer->id);
    if (!rc) {
        if (sqlite3_step(s) == SQLITE_ROW)
            *count = sqlite3_column_int64(s, 0);
        else
            rc = store_db_error(st, err, q->layer->id);
    }
    if (s) sqlite3_reset(s);
    buf_fini(&b);
    filter_sql_fini(&where);
    return rc;
}

void store_track_reads(struct store *st, struct store_reads *reads)
{
    if (reads) memset(reads, 0, sizeof *reads);
    st->reads = reads;
}

/* Notes n features of q read, if anything in them is above public (store_track_reads); n < 0:
 * from the tile cache, not counted. */
static void note_read(struct store *st, const struct store_query *q, int64_t n)
{
    struct store_reads *rs = st->reads;
    const struct layer_def *l = q->layer;
    if (!rs || n == 0 || q->role == ROLE_PUBLIC) return;
    int field, restricted_fields = 0;
    const struct value *v;
    int rows =
        access_row_rule(l, ROLE_PUBLIC, &field, &v) && !access_row_rule(l, q->role, &field, &v);
    for (int i = 0; i < q->n_fields; i++)
        if (q->fields[i] >= 0 && q->fields[i] < l->n_fields &&
            l->fields[q->fields[i]].role > ROLE_PUBLIC)
            restricted_fields = 1;
    if (!rows && !restricted_fields) return;
    struct store_read *r = NULL;
    for (int i = 0; i < rs->n && !r; i++)
        if (!strcmp(rs->r[i].layer->id, l->id)) r = &rs->r[i];
    if (!r && rs->n < STORE_READS_MAX) {
        r = &rs->r[rs->n++];
        r->layer = l;
    }
    if (!r) {
        rs->overflow = 1;
        r = &rs->r[rs->n - 1];
    }
    r->rows |= rows;
    if (n > 0)
        r->n_features += n;
    else
        r->cached = 1;
    if (r->layer != l && strcmp(r->layer->id, l->id)) return;
    for (int i = 0; i < q->n_fields; i++)
        if (q->fields[i] >= 0 && q->fields[i] < l->n_fields && q->fields[i] < 256 &&
            l->fields[q->fields[i]].role > ROLE_PUBLIC)
            r->fields[q->fields[i]] = 1;
}

void store_note_cached(struct store *st, const struct layer_def *layer, enum role role,
                       int with_fields)
{
    int fields[256], n = 0;
    for (int i = 0; with_fields && i < layer->n_fields && n < 256; i++)
        if (access_field(layer, i, role)) fields[n++] = i;
    struct store_query q = {.layer = layer, .role = role, .fields = fields, .n_fields = n};
    note_read(st, &q, -1);
}

/* The SELECT text of q: fid, fields, geometry (blob.c converts it), FROM/WHERE, ORDER, LIMIT. */
static int put_select(struct store *st, const struct store_query *q, const struct filter_sql *where,
                      int ids, struct buf *b, struct err *err)
{
    const struct layer_def *l = q->layer;
    if (buf_puts(b, "SELECT fid")) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < q->n_fields; i++) {
        if (q->fields[i] < 0 || q->fields[i] >= l->n_fields)
            return err_set(err, ERR_INTERNAL, "bad field index");
        if (buf_puts(b, ", ") || store_put_ident(b, l->fields[q->fields[i]].name))
            return err_set(err, ERR_NOMEM, "out of memory");
    }
    /* SpatiaLite's simplification returns a one-part multi geometry as a single part: cast back
     * so the layer's geometry type holds */
    const char *geom = ", geom";
    if (q->geom_op == STORE_GEOM_SIMPLIFY)
        geom = l->geom >= GT_MULTIPOINT ? ", CastToMulti(SimplifyPreserveTopology(geom, ?))"
                                        : ", SimplifyPreserveTopology(geom, ?)";
    if ((q->want_geom && buf_puts(b, geom)) || put_from_where(st, q, where, b, ids) ||
        buf_puts(b, " ORDER BY "))
        return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < q->n_order; i++) {
        int f = q->order[i];
        if (f >= l->n_fields) f = -1;
        if ((f < 0 ? buf_puts(b, "fid") : store_put_ident(b, l->fields[f].name)) ||
            buf_puts(b, q->order_desc && q->order_desc[i] ? " DESC, " : " ASC, "))
            return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (buf_puts(b, ids ? "spp_id" : "fid") || /* spp_id = fid, in the order spp_ids gives */
        ((q->limit >= 0 || q->offset > 0) && buf_puts(b, " LIMIT ? OFFSET ?")))
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

int store_query_run(struct store *st, const struct store_query *q, const struct feature_sink *sink,
                    struct err *err)
{
    int64_t n_read = 0;
    if (st->pg) {
        int prc = pg_query_run(st->pg, q, sink, &n_read, err);
        note_read(st, q, n_read);
        return prc;
    }
    const struct layer_def *l = q->layer;
    struct filter_sql where; /* its values stay bound until the statement is reset */
    filter_sql_init(&where);
    struct buf b, wkb; /* wkb: the current row's geometry as WKB (blob.c) */
    buf_init(&b), buf_init(&wkb);
    struct store_ids ids = {0}; /* bound to s until its reset */
    struct value stackvals[64], *vals = stackvals;
    sqlite3_stmt *s = NULL;
    int snapshot = 0, rc = compile_filter(st, q, &where, err);
    int use_ids = !rc && reads_box_ids(q, &where);
    /* the ids and the rows are read in one snapshot, as the sub-select read them: without it an
     * edit or an import committed between the two reads would mix two states of the layer */
    if (use_ids && sqlite3_get_autocommit(st->db)) {
        rc = store_begin_read(st, err);
        snapshot = !rc;
    }
    if (!rc && use_ids) rc = store_box_ids(st, q, &ids, &use_ids, err); /* 0: too many */
    if (!rc && use_ids && q->n_parts > 1) keep_part(&ids, q->part, q->n_parts);
    if (!rc) rc = put_select(st, q, &where, use_ids, &b, err);
    if (!rc && !(s = store_prepare(st, b.data, err))) rc = ERR_DB;
    int pos = 0;
    if (!rc && bind_all(q, &where, s, &pos, 1, use_ids ? &ids : NULL) != SQLITE_OK)
        rc = store_db_error(st, err, l->id);
    if (!rc && (q->limit >= 0 || q->offset > 0) &&
        (sqlite3_bind_int64(s, ++pos, q->limit >= 0 ? q->limit : -1) != SQLITE_OK ||
         sqlite3_bind_int64(s, ++pos, q->offset > 0 ? q->offset : 0) != SQLITE_OK))
        rc = store_db_error(st, err, l->id);
    if (!rc && q->n_fields > 64 && !(vals = calloc((size_t)q->n_fields, sizeof *vals)))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (rc) goto done;
    if (sink->begin && (rc = sink->begin(sink->ud, l, err))) goto done;
    struct feature f = {.layer = l, .values = vals, .fields = q->fields, .n_fields = q->n_fields};
    int step;
    /* Columns are read through sqlite3_column_value: one call per column instead of two or three
     * (each sqlite3_column_* call also checks for a malloc failure and the API's exit). The value
     * is "unprotected", which only matters on a serialized connection; the store's are opened
     * NOMUTEX (multi-thread mode), where SQLite makes no difference between the two. */
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        f.fid = sqlite3_column_int64(s, 0);
        for (int i = 0; i < q->n_fields; i++) {
            struct value *v = &vals[i];
            sqlite3_value *sv = sqlite3_column_value(s, i + 1);
            switch (sqlite3_value_type(sv)) {
            case SQLITE_INTEGER:
                v->type = VAL_INT;
                v->i = sqlite3_value_int64(sv);
                v->d = (double)v->i;
                break;
            case SQLITE_FLOAT:
                v->type = VAL_REAL;
                v->d = sqlite3_value_double(sv);
                break;
            case SQLITE_TEXT:
                v->type = VAL_TEXT;
                v->s = (const char *)sqlite3_value_text(sv);
                v->len = sqlite3_value_bytes(sv);
                break;
            case SQLITE_BLOB:
                v->type = VAL_BLOB;
                v->s = sqlite3_value_blob(sv);
                v->len = sqlite3_value_bytes(sv);
                break;
            default:
                v->type = VAL_NULL;
            }
        }
        if (q->want_geom) {
            sqlite3_value *sv = sqlite3_column_value(s, q->n_fields + 1);
            const unsigned char *blob = sqlite3_value_blob(sv);
            f.wkb = NULL;
            f.wkb_len = 0;
            if (blob) {
                size_t n = (size_t)sqlite3_value_bytes(sv);
                if ((rc = store_blob_to_wkb(blob, n, &wkb, err))) goto done;
                f.wkb = (const unsigned char *)wkb.data;
                f.wkb_len = wkb.len;
            }
        }
        n_read++;
        if (sink->feature && (rc = sink->feature(sink->ud, &f, err))) goto done;
    }
    if (step != SQLITE_DONE) {
        rc = store_db_error(st, err, l->id);
        goto done;
    }
    if (sink->end) rc = sink->end(sink->ud, err);
done:
    note_read(st, q, n_read);
    if (s) sqlite3_reset(s);
    if (snapshot) store_end_read(st);
    filter_sql_fini(&where);
    store_ids_free(&ids);
    buf_fini(&b), buf_fini(&wkb);
    if (vals != stackvals) free(vals);
    return rc;
}

int store_layer_state_role(struct store *st, const struct layer_def *layer, enum role role,
                           struct layer_state *out, struct err *err)
{
    int rc = store_layer_state(st, layer, out, err), field;
    const struct value *v;
    if (rc || !access_row_rule(layer, role, &field, &v)) return rc;
    struct store_query q = {.layer = layer, .role = role, .limit = -1};
    return store_query_count(st, &q, &out->n_features, err);
}
