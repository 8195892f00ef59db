/* SPDX-License-Identifier: MIT */
/* pg/overview.c: the land-use overview's statements on PostGIS (pg/overview.h). overview.c decides
 * what is redone and computes every cell; this file only reads and writes the rows, in the orders
 * the SpatiaLite store uses (features by fid, children summed by x then y, cells by x, y, class
 * in byte order), so both backends give the same cells and the same tile. */
#include "overview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pg_overview_schema =
    "CREATE TABLE IF NOT EXISTS spp_overview (layer text NOT NULL, level integer NOT NULL,"
    " x bigint NOT NULL, y bigint NOT NULL, has_class integer NOT NULL, class text NOT NULL,"
    " n bigint NOT NULL, area double precision NOT NULL,"
    " PRIMARY KEY (layer, level, x, y, has_class, class));"
    "CREATE TABLE IF NOT EXISTS spp_overview_state (layer text PRIMARY KEY,"
    " class_field text NOT NULL, version bigint NOT NULL);";

static struct value text_value(const char *s)
{
    return s ? (struct value){.type = VAL_TEXT, .s = s, .len = -1} : (struct value){0};
}

static struct value int_value(int64_t i)
{
    return (struct value){.type = VAL_INT, .i = i};
}

int pg_overview_init(struct pg_store *ps, struct err *err)
{
    return pg_exec(ps, pg_overview_schema, NULL, 0, NULL, err);
}

int pg_overview_version(struct pg_store *ps, const char *layer, const char *field, int64_t *version,
                        char *field_out, size_t field_n, struct err *err)
{
    struct value p[2] = {text_value(layer), text_value(field)};
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      field ? "SELECT version, class_field FROM spp_overview_state"
                              " WHERE layer = ? AND class_field = ?"
                            : "SELECT version, class_field FROM spp_overview_state"
                              " WHERE layer = ?",
                      p, field ? 2 : 1, &r, err);
    *version = -1;
    if (!rc && PQntuples(r) == 1) {
        *version = pg_get_int(r, 0, 0);
        if (field_out) snprintf(field_out, field_n, "%s", pg_get_text(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

int pg_overview_set_version(struct pg_store *ps, const char *layer, const char *field,
                            int64_t version, struct err *err)
{
    struct value p[3] = {text_value(layer), text_value(field), int_value(version)};
    return pg_exec(ps,
                   "INSERT INTO spp_overview_state (layer, class_field, version) VALUES (?, ?, ?)"
                   " ON CONFLICT (layer) DO UPDATE SET class_field = EXCLUDED.class_field,"
                   " version = EXCLUDED.version",
                   p, 3, NULL, err);
}

int pg_overview_changes(struct pg_store *ps, const char *layer, const char *batch,
                        int (*fn)(void *ud, const struct bbox *b), void *ud, struct err *err)
{
    struct value p[2] = {text_value(layer), text_value(batch)};
    PGresult *r = NULL;
    int rc = pg_query(ps,
                      "SELECT minx, miny, maxx, maxy FROM spp_changes WHERE layer = ? AND batch = ?"
                      " AND minx IS NOT NULL ORDER BY id",
                      p, 2, &r, err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        struct bbox b = {pg_get_double(r, i, 0), pg_get_double(r, i, 1), pg_get_double(r, i, 2),
                         pg_get_double(r, i, 3)};
        rc = fn(ud, &b);
    }
    PQclear(r);
    return rc;
}

int pg_overview_features(struct pg_store *ps, const struct layer_def *l, int cf,
                         const struct bbox *q,
                         int (*fn)(void *ud, const char *cls, const struct bbox *box, double area),
                         void *ud, struct err *err)
{
    struct buf sql;
    buf_init(&sql);
    int nomem = buf_puts(&sql, "SELECT CAST(") || pg_put_ident(&sql, l->fields[cf].name) ||
                buf_puts(&sql, " AS text), ST_XMin(geom), ST_YMin(geom), ST_XMax(geom),"
                               " ST_YMax(geom), ST_Area(geom) FROM ") ||
                pg_put_ident(&sql, l->id) || buf_puts(&sql, " WHERE geom IS NOT NULL");
    if (!nomem && q)
        nomem = buf_printf(&sql, " AND geom && ST_MakeEnvelope(?, ?, ?, ?, %d)", ps->srid);
    nomem = nomem || buf_puts(&sql, " ORDER BY fid");
    if (nomem) {
        buf_fini(&sql);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    struct value p[4] = {
        {.type = VAL_REAL}, {.type = VAL_REAL}, {.type = VAL_REAL}, {.type = VAL_REAL}};
    if (q) p[0].d = q->minx, p[1].d = q->miny, p[2].d = q->maxx, p[3].d = q->maxy;
    int rc = pg_stream_start(ps, sql.data, p, q ? 4 : 0, err);
    buf_fini(&sql);
    PGresult *r = NULL;
    while (!rc && !(rc = pg_stream_next(ps, &r, err)) && r) {
        if (!PQgetisnull(r, 0, 1)) {
            struct bbox b = {pg_get_double(r, 0, 1), pg_get_double(r, 0, 2), pg_get_double(r, 0, 3),
                             pg_get_double(r, 0, 4)};
            rc = fn(ud, PQgetisnull(r, 0, 0) ? NULL : pg_get_text(r, 0, 0), &b,
                    pg_get_double(r, 0, 5));
        }
        PQclear(r);
        r = NULL;
    }
    pg_stream_end(ps);
    return rc;
}

int pg_overview_delete(struct pg_store *ps, const char *layer, int level, const int64_t *rect,
                       struct err *err)
{
    struct value p[6] = {text_value(layer), int_value(level)};
    for (int i = 0; rect && i < 4; i++)
        p[2 + i] = int_value(rect[i]);
    return pg_exec(ps,
                   rect ? "DELETE FROM spp_overview WHERE layer = ? AND level = ?"
                          " AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?"
                        : "DELETE FROM spp_overview WHERE layer = ? AND level >= ?",
                   p, rect ? 6 : 2, NULL, err);
}

static int copy_end(struct pg_store *ps, int failed, struct err *err)
{
    int rc = 0;
    if (PQputCopyEnd(ps->conn, failed ? "spp overview stopped" : NULL) != 1)
        rc = err_set(err, ERR_DB, "COPY spp_overview: %s", PQerrorMessage(ps->conn));
    PGresult *r;
    while ((r = PQgetResult(ps->conn))) {
        if (!rc && !failed && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = err_set(err, ERR_DB, "spp_overview: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    return rc;
}

int pg_overview_insert(struct pg_store *ps, const char *layer, int level, size_t n,
                       void (*cell)(void *ud, size_t i, struct store_overview_cell *c), void *ud,
                       struct err *err)
{
    if (!n) return 0;
    PGresult *r = PQexec(ps->conn, "COPY spp_overview (layer, level, x, y, has_class, class, n,"
                                   " area) FROM STDIN");
    int rc = PQresultStatus(r) == PGRES_COPY_IN
                 ? 0
                 : err_set(err, ERR_DB, "COPY spp_overview: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (rc) return rc;
    struct buf b;
    buf_init(&b);
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        struct store_overview_cell c;
        cell(ud, i, &c);
        bad = pg_copy_put_text(&b, layer, -1) ||
              buf_printf(&b, "\t%d\t%lld\t%lld\t%d\t", level, (long long)c.x, (long long)c.y,
                         c.cls != NULL) ||
              pg_copy_put_text(&b, c.cls ? c.cls : "", -1) ||
              buf_printf(&b, "\t%lld\t%.17g\n", (long long)c.n, c.area);
        if (!bad && (b.len > (1u << 20) || i + 1 == n)) {
            if (PQputCopyData(ps->conn, b.data, (int)b.len) != 1) {
                copy_end(ps, 1, NULL);
                buf_fini(&b);
                return err_set(err, ERR_DB, "COPY spp_overview: %s", PQerrorMessage(ps->conn));
            }
            buf_reset(&b);
        }
    }
    buf_fini(&b);
    if (bad) {
        copy_end(ps, 1, NULL);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    return copy_end(ps, 0, err);
}

int pg_overview_coarsen(struct pg_store *ps, const char *layer, int level, const int64_t *rect,
                        struct err *err)
{
    /* SQLite sums a group's rows in the order it scans them (its primary key: x, then y) */
    struct value p[6] = {text_value(layer), int_value(level)};
    for (int i = 0; rect && i < 4; i++)
        p[2 + i] = int_value(rect[i]);
    return pg_exec(ps,
                   rect ? "INSERT INTO spp_overview (layer, level, x, y, has_class, class, n, area)"
                          " SELECT layer, $2, x >> 1, y >> 1, has_class, class, sum(n),"
                          " sum(area ORDER BY x, y) FROM spp_overview WHERE layer = $1"
                          " AND level = $2 + 1 AND x BETWEEN $3 AND $4 AND y BETWEEN $5 AND $6"
                          " GROUP BY layer, x >> 1, y >> 1, has_class, class"
                        : "INSERT INTO spp_overview (layer, level, x, y, has_class, class, n, area)"
                          " SELECT layer, $2, x >> 1, y >> 1, has_class, class, sum(n),"
                          " sum(area ORDER BY x, y) FROM spp_overview WHERE layer = $1"
                          " AND level = $2 + 1 GROUP BY layer, x >> 1, y >> 1, has_class, class",
                   p, rect ? 6 : 2, NULL, err);
}

int pg_overview_cells(struct pg_store *ps, const char *layer, const char *class_field, int level,
                      int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                      int (*fn)(void *ud, const struct store_overview_cell *c), void *ud,
                      struct err *err)
{
    /* no row: not in step; one row of NULLs: in step and empty here. Ordered as SQLite reads its
     * primary key, so the tile's classes come in the same order. */
    struct value p[7] = {text_value(layer), text_value(class_field), int_value(level),
                         int_value(x0),     int_value(x1),           int_value(y0),
                         int_value(y1)};
    PGresult *r = NULL;
    int rc = pg_query(
        ps,
        "SELECT c.x, c.y, c.has_class, c.class, c.n, c.area FROM (SELECT 1 FROM"
        " spp_overview_state o JOIN spp_layers l ON l.layer = o.layer AND l.version = o.version"
        " WHERE o.layer = $1 AND o.class_field = $2) s LEFT JOIN spp_overview c ON c.layer = $1"
        " AND c.level = $3 AND c.x BETWEEN $4 AND $5 AND c.y BETWEEN $6 AND $7"
        " ORDER BY c.x, c.y, c.has_class, c.class COLLATE \"C\"",
        p, 7, &r, err);
    if (rc) {
        PQclear(r);
        /* a database made before the overview has no tables: the tile reads the features */
        return rc == ERR_DB && err && strstr(err->msg, "spp_overview")
                   ? err_set(err, ERR_NOT_FOUND, "no overview of %s", layer)
                   : rc;
    }
    if (PQntuples(r) == 0) rc = err_set(err, ERR_NOT_FOUND, "overview of %s not in step", layer);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        if (PQgetisnull(r, i, 0)) continue;
        struct store_overview_cell c;
        c.x = pg_get_int(r, i, 0), c.y = pg_get_int(r, i, 1);
        c.cls = pg_get_int(r, i, 2) ? pg_get_text(r, i, 3) : NULL;
        c.n = pg_get_int(r, i, 4), c.area = pg_get_double(r, i, 5);
        rc = fn(ud, &c);
    }
    PQclear(r);
    return rc;
}
