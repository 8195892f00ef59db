/* SPDX-License-Identifier: MIT */
/* overview.c: the precomputed land-use overview of a class-styled polygon layer (issue 22): per
 * cell of the WebMercatorQuad grid at STORE_OVERVIEW_CELL_BITS zooms below each overview zoom
 * (the cells of a tile's 32 x 32 generalization grid) and per class value, how many features have
 * their box centre in the cell (n) and how much of their area lies in it (area, m², each
 * feature's area spread over the cells its box covers in proportion to the overlap). Written
 * inside the import's batch (store_load_overview): the whole layer the first time, then only the
 * cells inside the batch's changed areas (spp_changes); read by the tile builder
 * (store_overview_cells) instead of every feature of a low-zoom tile. On a PostGIS store the same
 * code computes the same cells (pg/overview.c only runs its statements, in SpatiaLite's orders):
 * import, `spp copy` (pg_overview_rebuild) and edits (pg_overview_edit) write it there. Must not:
 * decide what a tile shows (tiles/ does), or be read when it is not in step with the layer
 * (version check). */
#include "load_int.h"
#include "pg/load.h"
#include "pg/overview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEBMERC_HALF_M 20037508.342789244
#define OVERVIEW_FULL  512 /* more changed areas than this: the whole layer is redone */

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS spp_overview (layer TEXT NOT NULL, level INTEGER NOT NULL,"
    " x INTEGER NOT NULL, y INTEGER NOT NULL, has_class INTEGER NOT NULL, class TEXT NOT NULL,"
    " n INTEGER NOT NULL, area REAL NOT NULL,"
    " PRIMARY KEY (layer, level, x, y, has_class, class)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS spp_overview_state (layer TEXT PRIMARY KEY,"
    " class_field TEXT NOT NULL, version INTEGER NOT NULL)";

/* ---- accumulating one region's cells ---- */

struct ocell {
    int64_t x, y;
    int cls; /* index into classes, -1: no class value */
    int64_t n;
    double area;
};

struct acc {
    struct ocell *cells;
    size_t n, cap;  /* entries */
    int32_t *slots; /* open addressing: index + 1 */
    size_t n_slots;
    char **classes;
    int n_classes, cap_classes;
};

static uint64_t cell_hash(int64_t x, int64_t y, int cls)
{
    uint64_t h = (uint64_t)x * 0x9E3779B97F4A7C15ull ^ (uint64_t)y * 0xBF58476D1CE4E5B9ull ^
                 (uint64_t)(cls + 1) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

static int acc_rehash(struct acc *a)
{
    size_t ns = a->n_slots ? a->n_slots * 2 : 4096;
    int32_t *s = calloc(ns, sizeof *s);
    if (!s) return ERR_NOMEM;
    for (size_t i = 0; i < a->n; i++) {
        size_t h = cell_hash(a->cells[i].x, a->cells[i].y, a->cells[i].cls) & (ns - 1);
        while (s[h])
            h = (h + 1) & (ns - 1);
        s[h] = (int32_t)i + 1;
    }
    free(a->slots);
    a->slots = s, a->n_slots = ns;
    return 0;
}

static int acc_add(struct acc *a, int64_t x, int64_t y, int cls, int64_t n, double area)
{
    if ((a->n + 1) * 2 > a->n_slots && acc_rehash(a)) return ERR_NOMEM;
    size_t mask = a->n_slots - 1, h = cell_hash(x, y, cls) & mask;
    while (a->slots[h]) {
        struct ocell *c = &a->cells[a->slots[h] - 1];
        if (c->x == x && c->y == y && c->cls == cls) {
            c->n += n, c->area += area;
            return 0;
        }
        h = (h + 1) & mask;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4096;
        struct ocell *p = realloc(a->cells, cap * sizeof *p);
        if (!p) return ERR_NOMEM;
        a->cells = p, a->cap = cap;
    }
    a->cells[a->n] = (struct ocell){x, y, cls, n, area};
    a->slots[h] = (int32_t)(++a->n);
    return 0;
}

static int acc_class(struct acc *a, const char *s)
{
    for (int i = a->n_classes - 1; i >= 0; i--) /* few classes (land uses): a scan is enough */
        if (strcmp(a->classes[i], s) == 0) return i;
    if (a->n_classes == a->cap_classes) {
        int cap = a->cap_classes ? a->cap_classes * 2 : 32;
        char **p = realloc(a->classes, (size_t)cap * sizeof *p);
        if (!p) return -2;
        a->classes = p, a->cap_classes = cap;
    }
    if (!(a->classes[a->n_classes] = str_dup(s))) return -2;
    return a->n_classes++;
}

static void acc_fini(struct acc *a)
{
    for (int i = 0; i < a->n_classes; i++)
        free(a->classes[i]);
    free(a->classes), free(a->cells), free(a->slots);
    memset(a, 0, sizeof *a);
}

/* ---- one region ---- */

struct region {
    int level;              /* finest level: cells are WebMercatorQuad tiles of this zoom */
    double cell;            /* cell side, EPSG:3857 metres */
    int whole;              /* the whole layer (else only cells x0..x1, y0..y1) */
    int64_t x0, y0, x1, y1; /* cells of the finest level redone */
};

static int64_t cell_x(const struct region *r, double mx)
{
    return (int64_t)floor((mx + WEBMERC_HALF_M) / r->cell);
}

static int64_t cell_y(const struct region *r, double my)
{
    return (int64_t)floor((WEBMERC_HALF_M - my) / r->cell);
}

static int inside(const struct region *r, int64_t x, int64_t y)
{
    return r->whole || (x >= r->x0 && x <= r->x1 && y >= r->y0 && y <= r->y1);
}

/* Storage CRS -> EPSG:3857 for many points: a grid of exactly transformed nodes (at most
 * XGRID_STEP m apart) interpolated bilinearly, as the tile builder maps coordinates; points off
 * the grid are transformed exactly. Four corners of 200,000 boxes through PROJ cost the bench
 * city's import a second; the grid's error is far below a cell. */
#define XGRID_STEP 250.0
#define XGRID_MAX  400

struct xgrid {
    struct geo_ctx *geo;
    int srid;
    int nx, ny;        /* cells */
    double minx, miny; /* origin, storage CRS */
    double cx, cy;     /* cell size */
    double *g;         /* (nx + 1) * (ny + 1) nodes, EPSG:3857 */
};

static int xgrid_init(struct xgrid *x, struct geo_ctx *geo, int srid, const struct bbox *b,
                      struct err *err)
{
    double w = b->maxx - b->minx + 2, h = b->maxy - b->miny + 2;
    x->geo = geo, x->srid = srid;
    x->nx = (int)fmin(XGRID_MAX, fmax(1, ceil(w / XGRID_STEP)));
    x->ny = (int)fmin(XGRID_MAX, fmax(1, ceil(h / XGRID_STEP)));
    x->minx = b->minx - 1, x->miny = b->miny - 1;
    x->cx = w / x->nx, x->cy = h / x->ny;
    size_t n = (size_t)(x->nx + 1) * (size_t)(x->ny + 1);
    x->g = malloc(n * 2 * sizeof *x->g);
    if (!x->g) return err_set(err, ERR_NOMEM, "out of memory");
    for (int j = 0, k = 0; j <= x->ny; j++)
        for (int i = 0; i <= x->nx; i++, k++)
            x->g[2 * k] = x->minx + i * x->cx, x->g[2 * k + 1] = x->miny + j * x->cy;
    return geo_transform(geo, srid, 3857, x->g, n, err);
}

static int xgrid_apply(struct xgrid *x, double *xy, size_t n, struct err *err)
{
    const int w = x->nx + 1;
    if (!x->g) return geo_transform(x->geo, x->srid, 3857, xy, n, err);
    for (size_t p = 0; p < n; p++) {
        double fx = (xy[2 * p] - x->minx) / x->cx, fy = (xy[2 * p + 1] - x->miny) / x->cy;
        if (!(fx >= 0 && fx <= x->nx && fy >= 0 && fy <= x->ny)) {
            int rc = geo_transform(x->geo, x->srid, 3857, xy + 2 * p, 1, err);
            if (rc) return rc;
            continue;
        }
        int i = fx >= x->nx ? x->nx - 1 : (int)fx, j = fy >= x->ny ? x->ny - 1 : (int)fy;
        double u = fx - i, v = fy - j;
        const double *a = &x->g[2 * (j * w + i)], *b = a + 2, *c = a + 2 * w, *d = c + 2;
        for (int k = 0; k < 2; k++)
            xy[2 * p + k] = (1 - v) * ((1 - u) * a[k] + u * b[k]) + v * ((1 - u) * c[k] + u * d[k]);
    }
    return 0;
}

/* Features read per transformation call. */
#define CHUNK 1024

struct pending {
    int cls[CHUNK];
    double area[CHUNK];
    double xy[CHUNK * 8]; /* the 4 corners of each box, storage CRS, then EPSG:3857 */
    int n;
};

/* Spreads the pending features over the cells of r. */
static int spread(struct acc *a, const struct region *r, struct pending *p, struct xgrid *xg,
                  struct err *err)
{
    int rc = p->n ? xgrid_apply(xg, p->xy, (size_t)p->n * 4, err) : 0;
    for (int i = 0; i < p->n && !rc; i++) {
        const double *c = &p->xy[i * 8];
        double minx = fmin(fmin(c[0], c[2]), fmin(c[4], c[6]));
        double maxx = fmax(fmax(c[0], c[2]), fmax(c[4], c[6]));
        double miny = fmin(fmin(c[1], c[3]), fmin(c[5], c[7]));
        double maxy = fmax(fmax(c[1], c[3]), fmax(c[5], c[7]));
        double box = (maxx - minx) * (maxy - miny);
        int64_t cx = cell_x(r, (minx + maxx) / 2), cy = cell_y(r, (miny + maxy) / 2);
        if (inside(r, cx, cy)) rc = acc_add(a, cx, cy, p->cls[i], 1, 0);
        int64_t x0 = cell_x(r, minx), x1 = cell_x(r, maxx);
        int64_t y0 = cell_y(r, maxy), y1 = cell_y(r, miny);
        if (!(box > 0) || (x0 == x1 && y0 == y1)) {
            if (!rc && inside(r, cx, cy)) rc = acc_add(a, cx, cy, p->cls[i], 0, p->area[i]);
            continue;
        }
        for (int64_t y = y0; y <= y1 && !rc; y++)
            for (int64_t x = x0; x <= x1 && !rc; x++) {
                if (!inside(r, x, y)) continue;
                double ex0 = -WEBMERC_HALF_M + (double)x * r->cell,
                       ey1 = WEBMERC_HALF_M - (double)y * r->cell;
                double w = fmin(maxx, ex0 + r->cell) - fmax(minx, ex0);
                double h = fmin(maxy, ey1) - fmax(miny, ey1 - r->cell);
                if (w > 0 && h > 0) rc = acc_add(a, x, y, p->cls[i], 0, p->area[i] * w * h / box);
            }
    }
    p->n = 0;
    return rc == ERR_NOMEM ? err_set(err, ERR_NOMEM, "out of memory") : rc;
}

/* The store the overview is made in: a SpatiaLite one (st) or a PostGIS one (pg). */
struct ovdb {
    struct store *st; /* SpatiaLite, or NULL */
    struct pg_store *pg;
    int srid;
};

/* One feature read: queued, and spread with the others of its chunk. */
struct feature_in {
    struct acc *a;
    const struct region *r;
    struct xgrid *xg;
    struct pending *p;
    struct err *err;
};

static int add_feature(void *ud, const char *v, const struct bbox *b, double area)
{
    struct feature_in *in = ud;
    struct pending *p = in->p;
    int cls = v ? acc_class(in->a, v) : -1;
    if (cls == -2) return err_set(in->err, ERR_NOMEM, "out of memory");
    double *c = &p->xy[p->n * 8];
    c[0] = b->minx, c[1] = b->miny, c[2] = b->maxx, c[3] = b->miny;
    c[4] = b->maxx, c[5] = b->maxy, c[6] = b->minx, c[7] = b->maxy;
    p->cls[p->n] = cls;
    p->area[p->n] = area;
    return ++p->n == CHUNK ? spread(in->a, in->r, p, in->xg, in->err) : 0;
}

/* Reads the features of layer whose box meets q (storage CRS; NULL: all), in fid order on both
 * backends (the cells' sums are then the same), and spreads them over the cells of r. */
static int read_features(struct ovdb *d, const struct layer_def *l, int cf, const struct bbox *q,
                         const struct region *r, struct acc *a, struct xgrid *xg, struct err *err)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p) return err_set(err, ERR_NOMEM, "out of memory");
    struct feature_in in = {a, r, xg, p, err};
    int rc;
    if (d->pg) {
        rc = pg_overview_features(d->pg, l, cf, q, add_feature, &in, err);
        if (!rc) rc = spread(a, r, p, xg, err);
        free(p);
        return rc;
    }
    struct store *st = d->st;
    struct buf sql;
    buf_init(&sql);
    rc = buf_puts(&sql, "SELECT ") || store_put_ident(&sql, l->fields[cf].name) ||
         buf_puts(&sql, ", MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom),"
                        " ST_Area(geom) FROM ") ||
         store_put_ident(&sql, l->id) || buf_puts(&sql, " WHERE geom IS NOT NULL");
    if (!rc && q) {
        char idx[160];
        snprintf(idx, sizeof idx, "idx_%s_geom", l->id);
        rc = buf_puts(&sql, " AND fid IN (SELECT pkid FROM ") || store_put_ident(&sql, idx) ||
             buf_puts(&sql, " WHERE xmin <= ? AND xmax >= ? AND ymin <= ? AND ymax >= ?)");
    }
    if (rc) {
        buf_fini(&sql);
        free(p);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql.data, -1, &s, NULL) != SQLITE_OK) {
        buf_fini(&sql);
        free(p);
        return store_db_error(st, err, "overview");
    }
    buf_fini(&sql);
    if (q) {
        sqlite3_bind_double(s, 1, q->maxx), sqlite3_bind_double(s, 2, q->minx);
        sqlite3_bind_double(s, 3, q->maxy), sqlite3_bind_double(s, 4, q->miny);
    }
    int step;
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 1) == SQLITE_NULL) continue;
        struct bbox b = {sqlite3_column_double(s, 1), sqlite3_column_double(s, 2),
                         sqlite3_column_double(s, 3), sqlite3_column_double(s, 4)};
        rc = add_feature(&in, (const char *)sqlite3_column_text(s, 0), &b,
                         sqlite3_column_double(s, 5));
    }
    if (!rc && step != SQLITE_DONE) rc = store_db_error(st, err, "overview");
    if (!rc) rc = spread(a, r, p, xg, err);
    free(p);
    sqlite3_finalize(s);
    return rc;
}

static int exec_bound(struct store *st, const char *sql, const struct layer_def *l, int level,
                      const int64_t *rect, struct err *err)
{
    sqlite3_stmt *s = store_prepare(st, sql, err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, level);
    for (int i = 0; rect && i < 4; i++)
        sqlite3_bind_int64(s, 3 + i, rect[i]);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(st, err, "spp_overview");
    sqlite3_reset(s);
    return rc;
}

/* Deletes the cells of l at level within rect (x0, x1, y0, y1; NULL: every level >= level). */
static int delete_cells(struct ovdb *d, const struct layer_def *l, int level, const int64_t *rect,
                        struct err *err)
{
    if (d->pg) return pg_overview_delete(d->pg, l->id, level, rect, err);
    return exec_bound(d->st,
                      rect ? "DELETE FROM spp_overview WHERE layer = ? AND level = ?"
                             " AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?"
                           : "DELETE FROM spp_overview WHERE layer = ? AND level >= ?",
                      l, level, rect, err);
}

/* Makes level's cells within its children's rect (NULL: all) from the sums of their children. */
static int coarsen(struct ovdb *d, const struct layer_def *l, int level, const int64_t *rect,
                   struct err *err)
{
    if (d->pg) return pg_overview_coarsen(d->pg, l->id, level, rect, err);
    return exec_bound(d->st,
                      !rect ? "INSERT INTO spp_overview SELECT layer, ?2 , x >> 1, y >> 1,"
                              " has_class, class, sum(n), sum(area) FROM spp_overview"
                              " WHERE layer = ?1 AND level = ?2 + 1"
                              " GROUP BY x >> 1, y >> 1, has_class, class"
                            : "INSERT INTO spp_overview SELECT layer, ?2, x >> 1, y >> 1,"
                              " has_class, class, sum(n), sum(area) FROM spp_overview"
                              " WHERE layer = ?1 AND level = ?2 + 1 AND x BETWEEN ?3 AND"
                              " ?4 AND y BETWEEN ?5 AND ?6"
                              " GROUP BY x >> 1, y >> 1, has_class, class",
                      l, level, rect, err);
}

static void acc_cell(void *ud, size_t i, struct store_overview_cell *out)
{
    const struct acc *a = ud;
    const struct ocell *c = &a->cells[i];
    *out = (struct store_overview_cell){c->x, c->y, c->cls >= 0 ? a->classes[c->cls] : NULL, c->n,
                                        c->area};
}

static int insert_cells(struct ovdb *d, const struct layer_def *l, int level, struct acc *a,
                        struct err *err)
{
    if (d->pg) return pg_overview_insert(d->pg, l->id, level, a->n, acc_cell, a, err);
    struct store *st = d->st;
    sqlite3_stmt *ins =
        store_prepare(st,
                      "INSERT INTO spp_overview (layer, level, x, y, has_class, class, n, area)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      err);
    if (!ins) return ERR_DB;
    int rc = 0;
    for (size_t i = 0; i < a->n && !rc; i++) {
        const struct ocell *c = &a->cells[i];
        sqlite3_bind_text(ins, 1, l->id, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 2, level);
        sqlite3_bind_int64(ins, 3, c->x);
        sqlite3_bind_int64(ins, 4, c->y);
        sqlite3_bind_int(ins, 5, c->cls >= 0);
        sqlite3_bind_text(ins, 6, c->cls >= 0 ? a->classes[c->cls] : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 7, c->n);
        sqlite3_bind_double(ins, 8, c->area);
        if (sqlite3_step(ins) != SQLITE_DONE) rc = store_db_error(st, err, "spp_overview");
        sqlite3_reset(ins);
    }
    return rc;
}

/* Redoes the cells of r (finest level) from the features, then the coarser levels above them. */
static int redo_region(struct ovdb *d, const struct layer_def *l, int cf, int min_level,
                       const struct region *r, const struct bbox *q, struct xgrid *xg,
                       struct err *err)
{
    int64_t rect[4] = {r->x0, r->x1, r->y0, r->y1};
    int rc = r->whole ? delete_cells(d, l, min_level, NULL, err)
                      : delete_cells(d, l, r->level, rect, err);
    struct acc a;
    memset(&a, 0, sizeof a);
    if (!rc) rc = read_features(d, l, cf, q, r, &a, xg, err);
    if (!rc) rc = insert_cells(d, l, r->level, &a, err);
    acc_fini(&a);
    /* coarser levels: each cell the sum of its four children */
    for (int level = r->level - 1, sh = 1; level >= min_level && !rc; level--, sh++) {
        int64_t pr[4] = {r->x0 >> sh, r->x1 >> sh, r->y0 >> sh, r->y1 >> sh};
        if (!r->whole) rc = delete_cells(d, l, level, pr, err);
        int64_t cr[4] = {pr[0] * 2, pr[1] * 2 + 1, pr[2] * 2, pr[3] * 2 + 1};
        if (!rc) rc = coarsen(d, l, level, r->whole ? NULL : cr, err);
    }
    return rc;
}

/* The finest cells a changed area (storage CRS) can touch, and the box whose features cover them
 * (the area grown by two cells: a cell of the rectangle reaches at most one cell beyond the
 * area's transformed corners). */
static int changed_region(struct geo_ctx *geo, int srid, const struct bbox *b, struct region *r,
                          struct bbox *q, struct err *err)
{
    double xy[16] = {b->minx, b->miny, b->maxx, b->miny, b->maxx, b->maxy, b->minx, b->maxy};
    double mx = (b->minx + b->maxx) / 2, my = (b->miny + b->maxy) / 2;
    double mid[8] = {mx, b->miny, b->maxx, my, mx, b->maxy, b->minx, my};
    memcpy(xy + 8, mid, sizeof mid);
    int rc = geo_transform(geo, srid, 3857, xy, 8, err);
    if (rc) return rc;
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (int i = 0; i < 16; i += 2) {
        minx = fmin(minx, xy[i]), maxx = fmax(maxx, xy[i]);
        miny = fmin(miny, xy[i + 1]), maxy = fmax(maxy, xy[i + 1]);
    }
    r->whole = 0;
    r->x0 = cell_x(r, minx), r->x1 = cell_x(r, maxx);
    r->y0 = cell_y(r, maxy), r->y1 = cell_y(r, miny);
    double grow = 2 * r->cell + 10; /* storage metres are at most EPSG:3857's (scale >= 1) */
    *q = (struct bbox){b->minx - grow, b->miny - grow, b->maxx + grow, b->maxy + grow};
    return 0;
}

struct changed {
    struct bbox *boxes;
    size_t n, cap;
    struct err *err;
};

static int changed_add(void *ud, const struct bbox *b)
{
    struct changed *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct bbox *p = realloc(c->boxes, cap * sizeof *p);
        if (!p) return err_set(c->err, ERR_NOMEM, "out of memory");
        c->boxes = p, c->cap = cap;
    }
    c->boxes[c->n++] = *b;
    return 0;
}

static int changed_boxes(struct ovdb *d, const struct layer_def *l, const char *batch,
                         struct changed *c, struct err *err)
{
    c->err = err;
    if (d->pg) return pg_overview_changes(d->pg, l->id, batch, changed_add, c, err);
    struct store *st = d->st;
    sqlite3_stmt *s = store_prepare(
        st, "SELECT minx, miny, maxx, maxy FROM spp_changes WHERE layer = ? AND batch = ?", err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, batch, -1, SQLITE_STATIC);
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) == SQLITE_NULL) continue;
        struct bbox b = {sqlite3_column_double(s, 0), sqlite3_column_double(s, 1),
                         sqlite3_column_double(s, 2), sqlite3_column_double(s, 3)};
        if ((rc = changed_add(c, &b))) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_db_error(st, err, "spp_changes");
    sqlite3_reset(s);
    return rc;
}

/* The version the overview of layer was made at (-1: none, or made by another class field). */
static int overview_version(struct ovdb *d, const struct layer_def *l, const char *field,
                            int64_t *version, struct err *err)
{
    if (d->pg) return pg_overview_version(d->pg, l->id, field, version, NULL, 0, err);
    struct store *st = d->st;
    sqlite3_stmt *s = store_prepare(
        st, "SELECT version FROM spp_overview_state WHERE layer = ? AND class_field = ?", err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, field, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    *version = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : store_db_error(st, err, "overview");
    sqlite3_reset(s);
    return rc;
}

static int set_version(struct ovdb *d, const struct layer_def *l, const char *field,
                       int64_t version, struct err *err)
{
    if (d->pg) return pg_overview_set_version(d->pg, l->id, field, version, err);
    sqlite3_stmt *s =
        store_prepare(d->st,
                      "INSERT OR REPLACE INTO spp_overview_state (layer, class_field, version)"
                      " VALUES (?, ?, ?)",
                      err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, field, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, version);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(d->st, err, "spp_overview_state");
    sqlite3_reset(s);
    return rc;
}

static int init_tables(struct ovdb *d, struct err *err)
{
    if (d->pg) return pg_overview_init(d->pg, err);
    char *e = NULL;
    if (sqlite3_exec(d->st->db, schema, NULL, NULL, &e) != SQLITE_OK) {
        int rc = err_set(err, ERR_DB, "spp_overview: %s", e ? e : "?");
        sqlite3_free(e);
        return rc;
    }
    return 0;
}

static int layer_state(struct ovdb *d, const struct layer_def *l, struct layer_state *ls,
                       struct err *err)
{
    return d->pg ? pg_layer_state(d->pg, l, ls, err) : store_layer_state(d->st, l, ls, err);
}

/* Brings the overview of l in step after batch: the whole layer when force or when it was not in
 * step before the batch, else the cells of the batch's changed areas. */
static int overview_update(struct ovdb *d, const struct layer_def *l, int class_field,
                           const char *batch, int force, struct geo_ctx *geo, struct err *err)
{
    for (int i = 0; i < l->n_fields && class_field < 0; i++)
        if (l->fields[i].codelist) class_field = i;
    if ((l->geom != GT_POLYGON && l->geom != GT_MULTIPOLYGON) || class_field < 0 ||
        class_field >= l->n_fields || l->minzoom < STORE_OVERVIEW_ZOOMS)
        return 0; /* no overview for this layer */
    int rc = init_tables(d, err);
    if (rc) return rc;
    struct layer_state ls;
    int64_t had;
    const char *field = l->fields[class_field].name;
    rc = layer_state(d, l, &ls, err);
    if (!rc) rc = overview_version(d, l, field, &had, err);
    if (rc) return rc;
    if (force) had = -1;
    struct region r;
    r.level = l->minzoom - 1 + STORE_OVERVIEW_CELL_BITS;
    r.cell = 2 * WEBMERC_HALF_M / (double)(1ll << r.level);
    int min_level = l->minzoom - STORE_OVERVIEW_ZOOMS + STORE_OVERVIEW_CELL_BITS;
    struct changed c = {0};
    if (had == ls.version - 1) rc = changed_boxes(d, l, batch, &c, err);
    struct xgrid xg = {.geo = geo, .srid = d->srid}; /* no grid: every point exactly */
    if (!rc && (had != ls.version - 1 || c.n > OVERVIEW_FULL)) {
        r.whole = 1;
        if (ls.has_extent) rc = xgrid_init(&xg, geo, d->srid, &ls.extent, err);
        if (!rc) rc = redo_region(d, l, class_field, min_level, &r, NULL, &xg, err);
    } else {
        for (size_t i = 0; i < c.n && !rc; i++) {
            struct bbox q;
            rc = changed_region(geo, d->srid, &c.boxes[i], &r, &q, err);
            free(xg.g);
            xg.g = NULL;
            if (!rc) rc = xgrid_init(&xg, geo, d->srid, &q, err);
            if (!rc) rc = redo_region(d, l, class_field, min_level, &r, &q, &xg, err);
        }
    }
    free(xg.g);
    free(c.boxes);
    return rc ? rc : set_version(d, l, field, ls.version, err);
}

int store_load_overview(struct store_load *ld, const struct layer_def *l, int class_field,
                        struct geo_ctx *geo, struct err *err)
{
    struct ovdb d = {ld->pg ? NULL : ld->st, ld->st->pg,
                     ld->st->pg ? ld->st->pg->srid : ld->st->srid};
    int rc = ld->pg ? pg_load_quiet(ld->pg, err) : 0;
    return rc ? rc : overview_update(&d, l, class_field, ld->batch, 0, geo, err);
}

/* After an edit: only an overview that was in step before it (made by field at version had) is
 * kept in step; one that was not stays so (a whole-layer rebuild is the import's, not an
 * edit's). */
static int overview_edit(struct ovdb *d, const struct layer_def *l, const char *field, int64_t had,
                         const char *batch, struct geo_ctx *geo, struct err *err)
{
    int cf = field ? layer_field_index(l, field) : -1;
    struct layer_state ls;
    int rc = cf < 0 ? 0 : layer_state(d, l, &ls, err);
    if (rc || cf < 0 || had != ls.version - 1) return rc;
    return overview_update(d, l, cf, batch, 0, geo, err);
}

int store_overview_edit(struct store *st, const struct layer_def *l, const char *batch,
                        struct geo_ctx *geo, struct err *err)
{
    if (st->pg) return pg_overview_edit(st->pg, l, batch, err);
    struct err ignore;
    err_clear(&ignore);
    /* a store never imported with an overview has no state table: nothing to follow */
    sqlite3_stmt *s = store_prepare(
        st, "SELECT class_field, version FROM spp_overview_state WHERE layer = ?", &ignore);
    if (!s) return 0;
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    char field[128] = "";
    int64_t had = -1;
    if (step == SQLITE_ROW) {
        snprintf(field, sizeof field, "%s", (const char *)sqlite3_column_text(s, 0));
        had = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE) return store_db_error(st, err, "overview");
    struct ovdb d = {st, NULL, st->srid};
    return overview_edit(&d, l, step == SQLITE_ROW ? field : NULL, had, batch, geo, err);
}

/* The PostGIS edit path's transformations: edits run one at a time (store/edit.c's mutex), so
 * one context made on first use serves them all. */
static struct geo_ctx *pg_edit_geo;

int pg_overview_edit(struct pg_store *ps, const struct layer_def *l, const char *batch,
                     struct err *err)
{
    char field[128] = "";
    int64_t had = -1;
    /* a database never given an overview may lack its tables: nothing to follow (and no DDL
     * inside an edit) */
    PGresult *r = NULL;
    int rc = pg_query(ps, "SELECT to_regclass('spp_overview_state') IS NOT NULL", NULL, 0, &r, err);
    int have = !rc && PQntuples(r) == 1 && pg_get_int(r, 0, 0);
    PQclear(r);
    if (!rc && have) rc = pg_overview_version(ps, l->id, NULL, &had, field, sizeof field, err);
    if (rc || had < 0) return rc;
    if (!pg_edit_geo && !(pg_edit_geo = geo_ctx_new(err)))
        return err && err->code ? err->code : ERR_NOMEM;
    struct ovdb d = {NULL, ps, ps->srid};
    return overview_edit(&d, l, field, had, batch, pg_edit_geo, err);
}

int pg_overview_rebuild(struct pg_store *ps, const struct layer_def *l, struct geo_ctx *geo,
                        struct err *err)
{
    struct ovdb d = {NULL, ps, ps->srid};
    return overview_update(&d, l, -1, "", 1, geo, err);
}

int store_overview_cells(struct store *st, const struct layer_def *l, const char *class_field,
                         int level, int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                         int (*fn)(void *ud, const struct store_overview_cell *c), void *ud,
                         struct err *err)
{
    if (st->pg) /* one statement: the state and the cells are one snapshot */
        return pg_overview_cells(st->pg, l->id, class_field, level, x0, y0, x1, y1, fn, ud, err);
    /* in step: made by this class field at the layer's current version */
    sqlite3_stmt *s = store_prepare(st,
                                    "SELECT 1 FROM spp_overview_state o JOIN spp_layers l"
                                    " ON l.layer = o.layer AND l.version = o.version"
                                    " WHERE o.layer = ? AND o.class_field = ?",
                                    NULL);
    if (!s) return err_set(err, ERR_NOT_FOUND, "no overview of %s", l->id);
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, class_field, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    if (step == SQLITE_DONE)
        return err_set(err, ERR_NOT_FOUND, "overview of %s not in step", l->id);
    if (step != SQLITE_ROW) return store_db_error(st, err, "spp_overview_state");
    s = store_prepare(st,
                      "SELECT x, y, has_class, class, n, area FROM spp_overview WHERE layer = ?"
                      " AND level = ? AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?",
                      err);
    if (!s) return ERR_DB;
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, level);
    sqlite3_bind_int64(s, 3, x0), sqlite3_bind_int64(s, 4, x1);
    sqlite3_bind_int64(s, 5, y0), sqlite3_bind_int64(s, 6, y1);
    int rc = 0;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_overview_cell c;
        c.x = sqlite3_column_int64(s, 0), c.y = sqlite3_column_int64(s, 1);
        c.cls = sqlite3_column_int(s, 2) ? (const char *)sqlite3_column_text(s, 3) : NULL;
        c.n = sqlite3_column_int64(s, 4), c.area = sqlite3_column_double(s, 5);
        if ((rc = fn(ud, &c))) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_db_error(st, err, "spp_overview");
    sqlite3_reset(s);
    return rc;
}
