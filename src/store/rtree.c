/* SPDX-License-Identifier: MIT */
/* rtree.c: bulk load of a layer's empty SpatiaLite spatial index (idx_<layer>_geom, an SQLite
 * rtree of 2D float32 boxes) from the boxes of its table: Sort-Tile-Recursive packing, nodes
 * written straight into the rtree's shadow tables (_node, _rowid, _parent) in SQLite's node
 * format, as GDAL loads GeoPackage indexes. CreateSpatialIndex decodes every geometry and inserts
 * one row at a time: it was half of a 200k-parcel import. `SELECT rtreecheck(...)` verifies the
 * result (test_store.c). */
#include "store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ent {
    int64_t id;  /* a feature's fid (leaves) or a child node number */
    float b[4];  /* xmin, xmax, ymin, ymax, as the rtree stores them */
    double c[2]; /* centre, for the sort */
};

/* float32 bounds that contain the double ones, as SQLite's rtree rounds them */
static float down(double v)
{
    float f = (float)v;
    return (double)f > v ? nextafterf(f, -INFINITY) : f;
}

static float up(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

static int by_x(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    return x->c[0] < y->c[0] ? -1 : x->c[0] > y->c[0] ? 1 : (x->id > y->id) - (x->id < y->id);
}

static int by_y(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    return x->c[1] < y->c[1] ? -1 : x->c[1] > y->c[1] ? 1 : (x->id > y->id) - (x->id < y->id);
}

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

struct loader {
    struct store *st;
    sqlite3_stmt *node, *root, *rowid, *parent;
    unsigned char *blob;
    int size, cap; /* node bytes, cells per node */
};

/* Writes node no (1 = the root, with its depth) holding e[0..n); maps its cells to it. */
static int write_node(struct loader *ld, int64_t no, int depth, const struct ent *e, int n)
{
    memset(ld->blob, 0, (size_t)ld->size);
    put_be(ld->blob, no == 1 ? (uint64_t)depth : 0, 2);
    put_be(ld->blob + 2, (uint64_t)n, 2);
    for (int i = 0; i < n; i++) {
        unsigned char *c = ld->blob + 4 + 24 * i;
        put_be(c, (uint64_t)e[i].id, 8);
        for (int k = 0; k < 4; k++) {
            uint32_t u;
            memcpy(&u, &e[i].b[k], 4);
            put_be(c + 8 + 4 * k, u, 4);
        }
    }
    sqlite3_stmt *s = no == 1 ? ld->root : ld->node;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, no);
    sqlite3_bind_blob(s, 2, ld->blob, ld->size, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) return ERR_DB;
    sqlite3_stmt *m = depth == 0 ? ld->rowid : ld->parent; /* leaf cells: rows; else nodes */
    for (int i = 0; i < n; i++) {
        sqlite3_reset(m);
        sqlite3_bind_int64(m, 1, e[i].id);
        sqlite3_bind_int64(m, 2, no);
        if (sqlite3_step(m) != SQLITE_DONE) return ERR_DB;
    }
    return 0;
}

/* One level of the tree over e[0..n): slices by x, runs by y, nodes of cap cells; the level
 * above (one entry per node) replaces e[0..*n). */
static int pack_level(struct loader *ld, struct ent *e, int *n, int depth, int64_t *next)
{
    int cap = ld->cap, nodes = (*n + cap - 1) / cap;
    int slices = (int)ceil(sqrt((double)nodes)), per = slices * cap, out = 0;
    qsort(e, (size_t)*n, sizeof *e, by_x);
    for (int s0 = 0; s0 < *n; s0 += per) {
        int len = *n - s0 < per ? *n - s0 : per;
        qsort(e + s0, (size_t)len, sizeof *e, by_y);
    }
    for (int i = 0; i < *n; i += cap) {
        int len = *n - i < cap ? *n - i : cap;
        struct ent up_ = {(*next)++, {e[i].b[0], e[i].b[1], e[i].b[2], e[i].b[3]}, {0, 0}};
        for (int k = 1; k < len; k++) {
            up_.b[0] = fminf(up_.b[0], e[i + k].b[0]), up_.b[1] = fmaxf(up_.b[1], e[i + k].b[1]);
            up_.b[2] = fminf(up_.b[2], e[i + k].b[2]), up_.b[3] = fmaxf(up_.b[3], e[i + k].b[3]);
        }
        int rc = write_node(ld, up_.id, depth, e + i, len);
        if (rc) return rc;
        up_.c[0] = ((double)up_.b[0] + up_.b[1]) / 2, up_.c[1] = ((double)up_.b[2] + up_.b[3]) / 2;
        e[out++] = up_; /* out <= i / cap < i: never overwrites what is still to be read */
    }
    *n = out;
    return 0;
}

static sqlite3_stmt *prep(struct store *st, const char *fmt, const char *idx, struct err *err)
{
    struct buf b;
    buf_init(&b);
    char name[300];
    snprintf(name, sizeof name, "%s_%s", idx,
             fmt[0] == 'n'   ? "node"
             : fmt[0] == 'r' ? "rowid"
                             : "parent");
    sqlite3_stmt *s = NULL;
    if (buf_puts(&b, fmt[1] == 'u' ? "UPDATE " : "INSERT INTO ") || store_put_ident(&b, name) ||
        buf_puts(&b, fmt[1] == 'u'   ? " SET data = ?2 WHERE nodeno = ?1"
                     : fmt[0] == 'r' ? " (rowid, nodeno) VALUES (?1, ?2)"
                     : fmt[0] == 'n' ? " (nodeno, data) VALUES (?1, ?2)"
                                     : " (nodeno, parentnode) VALUES (?1, ?2)")) {
        err_set(err, ERR_NOMEM, "out of memory");
    } else if (sqlite3_prepare_v2(st->db, b.data, -1, &s, NULL) != SQLITE_OK) {
        store_db_error(st, err, name);
        s = NULL;
    }
    buf_fini(&b);
    return s;
}

int store_rtree_load(struct store *st, const struct layer_def *l, struct err *err)
{
    if (st->pg) return 0; /* PostGIS keeps its GiST index itself */
    char idx[256];
    snprintf(idx, sizeof idx, "idx_%s_geom", l->id);
    struct loader ld = {st, NULL, NULL, NULL, NULL, NULL, 0, 0};
    struct ent *e = NULL;
    int n = 0, cap_e = 0, rc = 0;
    struct buf q;
    buf_init(&q);
    /* the empty root made by CreateSpatialIndex gives the node size the rtree will expect */
    char node_tbl[300];
    snprintf(node_tbl, sizeof node_tbl, "%s_node", idx);
    sqlite3_stmt *s = NULL;
    if (buf_puts(&q, "SELECT length(data), substr(data, 3, 2) = x'0000' FROM ") ||
        store_put_ident(&q, node_tbl) || buf_puts(&q, " WHERE nodeno = 1"))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    else if (sqlite3_prepare_v2(st->db, q.data, -1, &s, NULL) != SQLITE_OK)
        rc = store_db_error(st, err, idx);
    else if (sqlite3_step(s) != SQLITE_ROW || !sqlite3_column_int(s, 1))
        rc = err_set(err, ERR_INTERNAL, "%s: no empty spatial index to load", idx);
    else
        ld.size = sqlite3_column_int(s, 0), ld.cap = (ld.size - 4) / 24;
    sqlite3_finalize(s);
    s = NULL;
    if (!rc && ld.cap < 2) rc = err_set(err, ERR_INTERNAL, "%s: node of %d bytes", idx, ld.size);
    /* the boxes: SpatiaLite blobs carry their MBR, read without decoding the geometry */
    buf_reset(&q);
    if (!rc && (buf_puts(&q, "SELECT fid, MbrMinX(geom), MbrMaxX(geom), MbrMinY(geom),"
                             " MbrMaxY(geom) FROM ") ||
                store_put_ident(&q, l->id) || buf_puts(&q, " WHERE geom IS NOT NULL")))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc && sqlite3_prepare_v2(st->db, q.data, -1, &s, NULL) != SQLITE_OK)
        rc = store_db_error(st, err, l->id);
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 1) == SQLITE_NULL) continue; /* empty geometry */
        if (n == cap_e) {
            int c = cap_e ? 2 * cap_e : 4096;
            struct ent *ne = realloc(e, (size_t)c * sizeof *e);
            if (!ne) {
                rc = err_set(err, ERR_NOMEM, "out of memory");
                break;
            }
            e = ne, cap_e = c;
        }
        double v[4];
        for (int k = 0; k < 4; k++)
            v[k] = sqlite3_column_double(s, k + 1);
        e[n] = (struct ent){sqlite3_column_int64(s, 0),
                            {down(v[0]), up(v[1]), down(v[2]), up(v[3])},
                            {(v[0] + v[1]) / 2, (v[2] + v[3]) / 2}};
        n++;
    }
    sqlite3_finalize(s);
    buf_fini(&q);
    if (!rc && !(ld.blob = malloc((size_t)ld.size))) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc && (!(ld.node = prep(st, "ni", idx, err)) || !(ld.root = prep(st, "nu", idx, err)) ||
                !(ld.rowid = prep(st, "ri", idx, err)) || !(ld.parent = prep(st, "pi", idx, err))))
        rc = ERR_DB;
    int64_t next = 2; /* node 1 is the root */
    int depth = 0;
    while (!rc && n > ld.cap) {
        rc = pack_level(&ld, e, &n, depth, &next);
        depth++;
    }
    if (!rc && n > 0) {
        qsort(e, (size_t)n, sizeof *e, by_x);
        rc = write_node(&ld, 1, depth, e, n);
    }
    if (rc == ERR_DB && !err->code) store_db_error(st, err, idx);
    sqlite3_finalize(ld.node), sqlite3_finalize(ld.root);
    sqlite3_finalize(ld.rowid), sqlite3_finalize(ld.parent);
    free(ld.blob);
    free(e);
    return rc;
}
