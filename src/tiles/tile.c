/* SPDX-License-Identifier: MIT */
/* tile.c: one MVT tile from the store. Parses tile addresses and layer lists, maps storage CRS
 * coordinates into tile units (a grid interpolation of the official VN-2000 transformation, exact
 * PROJ outside the grid), queries each layer through the one store query path into a sink that
 * encodes features, applies the catalog's zoom ranges and the role's field rights, and keeps the
 * tile within its byte budget (TILE_BUDGET_BYTES shared between layers; above it features are
 * generalized by mvt.c, never cut) and a generalized overview of class-styled polygon layers
 * (parcels' land use) OVERVIEW_ZOOMS below their minzoom. Must not: write to the store or cache. */
#include "tiles.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/worker.h"
#include "../filter/filter.h"
#include "../store/store.h"

/* ---- addresses ---- */

static int parse_uint(const char *s, size_t len, long *out)
{
    if (!len || len > 9 || (len > 1 && s[0] == '0')) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int tiles_parse_zxy(const char *zs, const char *xs, const char *ys, int *z, int *x, int *y,
                    int *scale, struct err *err)
{
    long zv, xv, yv;
    size_t ylen = ys ? strlen(ys) : 0;
    if (scale) {
        *scale = 1;
        if (ylen > 3 && strcmp(ys + ylen - 3, "@2x") == 0) {
            *scale = 2;
            ylen -= 3;
        }
    }
    if (!zs || parse_uint(zs, strlen(zs), &zv))
        return err_setl(err, ERR_PARAM, "z", "zoom level must be a non-negative integer");
    if (!xs || parse_uint(xs, strlen(xs), &xv))
        return err_setl(err, ERR_PARAM, "x", "tile column must be a non-negative integer");
    if (!ys || parse_uint(ys, ylen, &yv))
        return err_setl(err, ERR_PARAM, "y", "tile row must be a non-negative integer");
    if (zv > TILE_MAX_ZOOM)
        return err_setl(err, ERR_NOT_FOUND, "z", "zoom level %ld is outside 0..%d", zv,
                        TILE_MAX_ZOOM);
    if (!tile_valid((int)zv, (int)xv, (int)yv))
        return err_setl(err, ERR_NOT_FOUND, "x", "tile %ld/%ld/%ld is outside the tile matrix", zv,
                        xv, yv);
    *z = (int)zv, *x = (int)xv, *y = (int)yv;
    return 0;
}

int tiles_parse_layers(const struct catalog *cat, const char *spec, enum role role,
                       struct tile_layers *out, struct err *err)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec || strlen(spec) > 900)
        return err_setl(err, ERR_PARAM, "layers", "layers must be \"all\" or layer ids");
    int want[256] = {0};
    if (strcmp(spec, "all") == 0) {
        for (int i = 0; i < cat->n_layers && i < 256; i++)
            want[i] = access_layer(&cat->layers[i], role);
    } else {
        const char *p = spec;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            char id[64];
            if (!n || n >= sizeof id)
                return err_setl(err, ERR_PARAM, "layers", "empty or overlong layer id in list");
            memcpy(id, p, n);
            id[n] = '\0';
            const struct layer_def *l = catalog_layer(cat, id);
            if (!l || !access_layer(l, role) || l->index >= 256)
                return err_setl(err, ERR_NOT_FOUND, "layers", "unknown layer \"%s\"", id);
            want[l->index] = 1;
            p += n;
            if (*p == ',' && !*++p)
                return err_setl(err, ERR_PARAM, "layers", "empty layer id at the end of list");
        }
    }
    size_t len = 1;
    out->canon[0] = ',';
    for (int i = 0; i < cat->n_layers && i < 256; i++) {
        if (!want[i]) continue;
        const struct layer_def *l = &cat->layers[i];
        size_t n = strlen(l->id);
        if (out->n == TILE_MAX_LAYERS || len + n + 2 > sizeof out->canon)
            return err_setl(err, ERR_PARAM, "layers", "too many layers");
        out->layers[out->n++] = l;
        memcpy(out->canon + len, l->id, n);
        len += n;
        out->canon[len++] = ',';
    }
    out->canon[len] = '\0';
    if (!out->n) return err_setl(err, ERR_NOT_FOUND, "layers", "no layer to serve");
    return 0;
}

/* ---- coordinates ---- */

struct tile_xform {
    struct geo_ctx *geo;
    int srid;
    int n;                     /* grid cells per side */
    double minx, miny, cx, cy; /* grid origin and cell size, storage CRS */
    double *g;                 /* (n+1)^2 points in tile units */
    double ox, oy, k;          /* 3857 -> tile units: u = (X - ox) * k, v = (oy - Y) * k */
    double *tmp;
    size_t tmp_cap;
};

void tile_xform_free(struct tile_xform *t)
{
    if (!t) return;
    free(t->g);
    free(t->tmp);
    free(t);
}

int tile_xform_clone(const struct tile_xform *t, struct geo_ctx *geo, struct tile_xform **out,
                     struct err *err)
{
    size_t np = (size_t)(t->n + 1) * (size_t)(t->n + 1);
    struct tile_xform *c = calloc(1, sizeof *c);
    if (c) { /* only what never changes: the request's thread may be growing t's scratch */
        c->geo = geo, c->srid = t->srid, c->n = t->n;
        c->minx = t->minx, c->miny = t->miny, c->cx = t->cx, c->cy = t->cy;
        c->ox = t->ox, c->oy = t->oy, c->k = t->k;
        c->g = malloc(np * 2 * sizeof *c->g);
    }
    if (!c || !c->g) {
        free(c);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    memcpy(c->g, t->g, np * 2 * sizeof *c->g);
    *out = c;
    return 0;
}

int tile_xform_new(struct geo_ctx *geo, int storage_srid, int z, int x, int y, int extent,
                   struct tile_xform **out, struct bbox *query_bbox, struct err *err)
{
    struct bbox tb, area;
    tile_bbox(z, x, y, &tb);
    double size = tb.maxx - tb.minx, buf = size * TILE_BUFFER / extent;
    /* Clamp to a box around Vietnam (95..120 E, 0..30 N in EPSG:3857): the storage CRS is a
     * VN-2000 zone and low-zoom tiles would otherwise ask PROJ for the whole world. */
    struct bbox lim = {10575351.62, 0.0, 13358338.90, 3503549.84};
    area.minx = fmax(tb.minx - buf, lim.minx), area.maxx = fmin(tb.maxx + buf, lim.maxx);
    area.miny = fmax(tb.miny - buf, lim.miny), area.maxy = fmin(tb.maxy + buf, lim.maxy);
    *out = NULL;
    if (bbox_is_empty(&area)) {
        bbox_empty(query_bbox);
        return 0;
    }
    /* From z12 on the corners and edge midpoints, widened by 1e-4 of the box (~1 m at z12):
     * a straight tile edge bends in the storage CRS by under 0.1 m there (4 % of the tile's
     * PROJ calls were the 80 points of the full densification). */
    struct bbox sb;
    int rc = geo_transform_bbox_steps(geo, 3857, storage_srid, &area, z >= 12 ? 2 : 20, &sb, err);
    if (rc) return rc;
    if (z >= 12) {
        double e = fmax(sb.maxx - sb.minx, sb.maxy - sb.miny) * 1e-4; /* a clipped strip too */
        sb.minx -= e, sb.maxx += e, sb.miny -= e, sb.maxy += e;
    }
    *query_bbox = sb;
    struct tile_xform *t = calloc(1, sizeof *t);
    if (!t) return err_set(err, ERR_NOMEM, "out of memory");
    t->geo = geo, t->srid = storage_srid;
    /* Cells of 300-600 m from z14 on (the map is near affine there: worst 0.003 tile units,
     * 0.8 mm at z15, against PROJ at every point), 16 and 64 cells a side above; a quarter of
     * the box beyond each side, so that features crossing the tile edge stay on the grid (each
     * node, and each point off the grid, is a PROJ call of ~4,000 instructions). */
    t->n = z >= 15 ? 4 : z >= 14 ? 8 : z >= 12 ? 16 : 64;
    double mx = (sb.maxx - sb.minx) * 0.25, my = (sb.maxy - sb.miny) * 0.25;
    t->minx = sb.minx - mx, t->miny = sb.miny - my;
    t->cx = (sb.maxx - sb.minx + 2 * mx) / t->n, t->cy = (sb.maxy - sb.miny + 2 * my) / t->n;
    t->k = extent / size, t->ox = tb.minx, t->oy = tb.maxy;
    size_t np = (size_t)(t->n + 1) * (size_t)(t->n + 1);
    t->g = malloc(np * 2 * sizeof *t->g);
    if (!t->g) {
        tile_xform_free(t);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    for (int j = 0, k = 0; j <= t->n; j++)
        for (int i = 0; i <= t->n; i++, k++) {
            t->g[2 * k] = t->minx + i * t->cx;
            t->g[2 * k + 1] = t->miny + j * t->cy;
        }
    rc = geo_transform(geo, storage_srid, 3857, t->g, np, err);
    if (rc) {
        tile_xform_free(t);
        return rc;
    }
    for (size_t k = 0; k < np; k++) {
        t->g[2 * k] = (t->g[2 * k] - t->ox) * t->k;
        t->g[2 * k + 1] = (t->oy - t->g[2 * k + 1]) * t->k;
    }
    *out = t;
    return 0;
}

/* Exact transformation of the points outside the grid (idx lists them). */
static int xform_exact(struct tile_xform *t, double *xy, const size_t *idx, size_t n,
                       struct err *err)
{
    if (n * 2 > t->tmp_cap) {
        double *p = realloc(t->tmp, n * 2 * sizeof *p);
        if (!p) return err_set(err, ERR_NOMEM, "out of memory");
        t->tmp = p;
        t->tmp_cap = n * 2;
    }
    for (size_t i = 0; i < n; i++)
        t->tmp[2 * i] = xy[2 * idx[i]], t->tmp[2 * i + 1] = xy[2 * idx[i] + 1];
    int rc = geo_transform(t->geo, t->srid, 3857, t->tmp, n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        xy[2 * idx[i]] = (t->tmp[2 * i] - t->ox) * t->k;
        xy[2 * idx[i] + 1] = (t->oy - t->tmp[2 * i + 1]) * t->k;
    }
    return 0;
}

int tile_xform_apply(struct tile_xform *t, double *xy, size_t n, struct err *err)
{
    size_t stack_idx[256], *idx = stack_idx, n_out = 0;
    int rc = 0;
    const int w = t->n + 1;
    for (size_t p = 0; p < n; p++) {
        double fx = (xy[2 * p] - t->minx) / t->cx, fy = (xy[2 * p + 1] - t->miny) / t->cy;
        if (!(fx >= 0 && fx <= t->n && fy >= 0 && fy <= t->n)) {
            if (n_out == 256 && idx == stack_idx) {
                idx = malloc(n * sizeof *idx);
                if (!idx) return err_set(err, ERR_NOMEM, "out of memory");
                memcpy(idx, stack_idx, sizeof stack_idx);
            }
            idx[n_out++] = p;
            continue;
        }
        int i = fx >= t->n ? t->n - 1 : (int)fx, j = fy >= t->n ? t->n - 1 : (int)fy;
        double u = fx - i, v = fy - j;
        const double *a = &t->g[2 * (j * w + i)], *b = a + 2, *c = a + 2 * w, *d = c + 2;
        for (int k = 0; k < 2; k++)
            xy[2 * p + k] = (1 - v) * ((1 - u) * a[k] + u * b[k]) + v * ((1 - u) * c[k] + u * d[k]);
    }
    if (n_out) rc = xform_exact(t, xy, idx, n_out, err);
    if (idx != stack_idx) free(idx);
    return rc;
}

/* ---- building a tile ---- */

struct mvt_sink {
    struct mvt_layer *layer;
    struct tile_xform *xf;
    void *geos;
    struct geom g;
    struct mvt_geom cmds;
    const char **names;
    int overview; /* only the feature's box counts (every feature is generalized) */
};

/* The box of g (storage CRS) in tile units as a ring: all an overview needs of a feature (its
 * four corners are transformed, not every vertex). */
static int box_cmds(struct tile_xform *xf, const struct geom *g, struct mvt_geom *out,
                    struct err *err)
{
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (size_t i = 0; i + 1 < g->n_coords; i += 2) {
        minx = fmin(minx, g->coords[i]), maxx = fmax(maxx, g->coords[i]);
        miny = fmin(miny, g->coords[i + 1]), maxy = fmax(maxy, g->coords[i + 1]);
    }
    mvt_geom_reset(out);
    double c[8] = {minx, miny, maxx, miny, maxx, maxy, minx, maxy};
    int rc = tile_xform_apply(xf, c, 4, err);
    if (rc) return rc;
    minx = miny = INFINITY, maxx = maxy = -INFINITY;
    for (int i = 0; i < 8; i += 2) {
        minx = fmin(minx, c[i]), maxx = fmax(maxx, c[i]);
        miny = fmin(miny, c[i + 1]), maxy = fmax(maxy, c[i + 1]);
    }
    if (maxx < 0 || maxy < 0 || minx > TILE_EXTENT || miny > TILE_EXTENT) return 0;
    int32_t a[2] = {(int32_t)floor(minx), (int32_t)floor(miny)};
    int32_t b[6] = {(int32_t)ceil(maxx), a[1], (int32_t)ceil(maxx),
                    (int32_t)ceil(maxy), a[0], (int32_t)ceil(maxy)};
    if (mvt_geom_move(out, a, 1) || mvt_geom_line(out, b, 3) || mvt_geom_close(out))
        return err_set(err, ERR_NOMEM, "out of memory");
    out->type = 3;
    return 0;
}

static int sink_feature(void *ud, const struct feature *f, struct err *err)
{
    struct mvt_sink *s = ud;
    if (!f->wkb) return 0;
    int rc = geom_from_wkb(&s->g, f->wkb, f->wkb_len, err);
    if (rc) return rc == ERR_NOMEM ? rc : 0; /* a broken geometry is skipped, not fatal */
    if (s->overview)
        rc = box_cmds(s->xf, &s->g, &s->cmds, err);
    else if (!(rc = tile_xform_apply(s->xf, s->g.coords, s->g.n_coords / 2, err)))
        rc = mvt_encode_geom(s->geos, &s->g, TILE_BUFFER, &s->cmds, err);
    if (rc) return rc;
    if (!s->cmds.type) return 0;
    return mvt_layer_add(s->layer, (uint64_t)f->fid, &s->cmds, s->names, f->values, f->n_fields,
                         err);
}

/* The field a layer's generalized features are classed by: the first field its style's rules
 * choose by (land use for parcels, kind for buildings); -1 none. */
static int class_field(const struct layer_def *l)
{
    const struct style *st = render_style(l, NULL);
    return st && st->n_filter_fields > 0 ? st->filter_fields[0] : -1;
}

/* A layer has a generalized overview OVERVIEW_ZOOMS zooms below its minzoom when it is a
 * polygon layer with a class field: every feature is generalized (land use at z12-14 for
 * parcels, which start at z15). */
static int has_overview(const struct layer_def *l, int z, enum role role)
{
    int cf = z < l->minzoom && z >= l->minzoom - OVERVIEW_ZOOMS &&
                     (l->geom == GT_POLYGON || l->geom == GT_MULTIPOLYGON)
                 ? class_field(l)
                 : -1;
    return cf >= 0 && access_field(l, cf, role);
}

int tiles_overview_zooms(const struct layer_def *l, enum role role, int *minz, int *maxz)
{
    if (!has_overview(l, l->minzoom - 1, role)) return 0;
    *minz = l->minzoom - OVERVIEW_ZOOMS < 0 ? 0 : l->minzoom - OVERVIEW_ZOOMS;
    *maxz = l->minzoom - 1;
    return 1;
}

/* Reads part `part` of n_parts of l's features in the tile (store_query.n_parts). */
static int read_layer(struct store *st, struct mvt_sink *s, const struct layer_def *l,
                      enum role role, int z, const struct bbox *qb, int part, int n_parts,
                      struct mvt_layer **out, struct err *err)
{
    int fields[128];
    const char *names[128];
    int nf = 0, cf = class_field(l);
    s->overview = z < l->minzoom;
    for (int i = 0; i < l->n_fields && nf < 128; i++)
        if (access_field(l, i, role) && (!s->overview || i == cf)) {
            names[nf] = l->fields[i].name;
            fields[nf++] = i;
        }
    struct store_query q;
    memset(&q, 0, sizeof q);
    q.layer = l;
    q.role = role;
    q.has_bbox = 1;
    q.bbox = *qb;
    q.fields = fields;
    q.n_fields = nf;
    q.limit = -1; /* no cap: above the tile budget features are generalized, not cut */
    q.want_geom = 1;
    q.part = part, q.n_parts = n_parts;
    /* Low zooms: features smaller than one tile unit collapse anyway; skip reading them (an
     * overview counts every feature). */
    struct filter *small = NULL;
    if (z < 14 && !s->overview && l->geom != GT_POINT && l->geom != GT_MULTIPOINT) {
        double u = 2 * WEBMERC_HALF / (double)(1u << z) / TILE_EXTENT * 0.9;
        if (filter_and_min_extent(&small, u)) return err_set(err, ERR_NOMEM, "out of memory");
        q.filter = small;
        q.index_min_extent = u; /* the same test on the index box first (it is never smaller) */
    }
    s->layer = mvt_layer_new(l->id);
    if (!s->layer) {
        filter_free(small);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    int rc = cf >= 0 && access_field(l, cf, role)
                 ? mvt_layer_set_class(s->layer, l->fields[cf].name)
                 : 0;
    if (rc) rc = err_set(err, ERR_NOMEM, "out of memory");
    s->names = names;
    struct feature_sink sink = {NULL, sink_feature, NULL, s};
    if (!rc) rc = store_query_run(st, &q, &sink, err);
    filter_free(small);
    *out = s->layer;
    s->layer = NULL;
    return rc;
}

/* ---- the precomputed land-use overview ---- */

#define OV_GRID (1 << STORE_OVERVIEW_CELL_BITS) /* cells per tile side: GEN_GRID in mvt.c */
_Static_assert(OVERVIEW_ZOOMS == STORE_OVERVIEW_ZOOMS, "overview zooms of tiles/ and store/");

struct ov_class {
    const char *name; /* NULL: features without a class value */
    int64_t n;
};

struct ov_read {
    int64_t x0, y0;
    struct ov_class classes[256];
    int n_classes;
    int cell_cls[OV_GRID * OV_GRID];                /* index into classes + 1, 0: no feature */
    double cell_area[OV_GRID * OV_GRID];            /* the chosen class's area in the cell */
    unsigned char seen[256][OV_GRID * OV_GRID / 8]; /* cells each class has area in */
    struct buf names;                               /* class names, NUL-separated */
    size_t name_off[256];
};

static int ov_class(struct ov_read *r, const char *cls)
{
    for (int i = 0; i < r->n_classes; i++) {
        const char *nm = r->classes[i].name ? r->names.data + r->name_off[i] : NULL;
        if ((!nm && !cls) || (nm && cls && strcmp(nm, cls) == 0)) return i;
    }
    if (r->n_classes == 256) return -1; /* the caller reads the features instead */
    int i = r->n_classes++;
    r->classes[i].name = cls ? "" : NULL, r->classes[i].n = 0;
    r->name_off[i] = r->names.len;
    if (cls && buf_append(&r->names, cls, strlen(cls) + 1)) return -2;
    return i;
}

static int ov_cell(void *ud, const struct store_overview_cell *c)
{
    struct ov_read *r = ud;
    int i = ov_class(r, c->cls);
    if (i < 0) return i == -1 ? ERR_NOT_FOUND : ERR_NOMEM; /* -1: over 256 classes */
    r->classes[i].n += c->n;
    int64_t cx = c->x - r->x0, cy = c->y - r->y0;
    if (cx < 0 || cy < 0 || cx >= OV_GRID || cy >= OV_GRID || !(c->area > 0)) return 0;
    int k = (int)(cy * OV_GRID + cx);
    r->seen[i][k / 8] |= (unsigned char)(1u << (k % 8));
    const char *best = r->cell_cls[k] && r->classes[r->cell_cls[k] - 1].name
                           ? r->names.data + r->name_off[r->cell_cls[k] - 1]
                           : NULL;
    /* the class with the most area; equal areas: the smaller name, so rows' order is moot */
    if (!r->cell_cls[k] || c->area > r->cell_area[k] ||
        (c->area == r->cell_area[k] && c->cls && (!best || strcmp(c->cls, best) < 0)))
        r->cell_cls[k] = i + 1, r->cell_area[k] = c->area;
    return 0;
}

/* The overview of l for tile z/x/y from the store's precomputed cells (store_overview_cells): a
 * cell goes to the class with the most area in it, a class left with no cell keeps the cells it
 * has area in; each class is one generalized feature with the count of its features whose box
 * centre is in the tile. ERR_NOT_FOUND when the store has none in step, or the role sees fewer
 * rows than the cells count (a row rule): the caller reads the features then. */
static int read_overview(struct store *st, void *geos, const struct layer_def *l, int cf,
                         enum role role, int z, int x, int y, struct mvt_layer **out,
                         struct err *err)
{
    if (l->fields[cf].type != FT_TEXT || (l->row_field >= 0 && role < l->row_exempt))
        return ERR_NOT_FOUND;
    struct ov_read *r = calloc(1, sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    buf_init(&r->names);
    r->x0 = (int64_t)x * OV_GRID, r->y0 = (int64_t)y * OV_GRID;
    int rc = store_overview_cells(st, l, l->fields[cf].name, z + STORE_OVERVIEW_CELL_BITS, r->x0,
                                  r->y0, r->x0 + OV_GRID - 1, r->y0 + OV_GRID - 1, ov_cell, r, err);
    if (rc == ERR_NOMEM) rc = err_set(err, ERR_NOMEM, "out of memory");
    struct mvt_layer *ml = rc ? NULL : mvt_layer_new(l->id);
    if (!rc && (!ml || mvt_layer_set_class(ml, l->fields[cf].name)))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    unsigned char mask[OV_GRID * OV_GRID];
    struct mvt_geom cells;
    mvt_geom_init(&cells);
    for (int i = 0; i < r->n_classes && !rc; i++) {
        int any = 0;
        for (int k = 0; k < OV_GRID * OV_GRID; k++)
            any |= mask[k] = r->cell_cls[k] == i + 1;
        if (!any)
            for (int k = 0; k < OV_GRID * OV_GRID; k++)
                mask[k] = (r->seen[i][k / 8] >> (k % 8)) & 1;
        struct value v = {.type = VAL_NULL};
        if (r->classes[i].name) v.type = VAL_TEXT, v.s = r->names.data + r->name_off[i], v.len = -1;
        rc = mvt_encode_cells(geos, mask, OV_GRID, TILE_EXTENT / OV_GRID, &cells, err);
        if (!rc && (cells.n || r->classes[i].n))
            rc = mvt_layer_add_generalized(ml, &v, r->classes[i].n, &cells, err);
    }
    mvt_geom_fini(&cells);
    buf_fini(&r->names);
    free(r);
    if (rc) {
        mvt_layer_free(ml);
        ml = NULL;
    }
    *out = ml;
    return rc;
}

/* Per-layer byte budgets within TILE_BUDGET_BYTES (water-filling: a layer under its equal share
 * keeps everything and leaves the rest to the others). An overview layer's budget is 1 byte:
 * all of it generalized. */
static void share_budget(struct mvt_layer **ml, const int *overview, int n, size_t *budget)
{
    size_t size[TILE_MAX_LAYERS], left = TILE_BUDGET_BYTES;
    int open = 0, done[TILE_MAX_LAYERS] = {0};
    for (int i = 0; i < n; i++) {
        size[i] = ml[i] ? mvt_layer_size(ml[i]) : 0;
        budget[i] = overview[i] ? 1 : 0;
        if (overview[i] || !ml[i])
            done[i] = 1;
        else
            open++;
    }
    for (int changed = 1; changed && open;) {
        changed = 0;
        size_t share = left / (size_t)open;
        for (int i = 0; i < n; i++)
            if (!done[i] && size[i] <= share) {
                done[i] = 1, open--, left -= size[i], changed = 1;
                budget[i] = 0; /* all of it */
            }
    }
    for (int i = 0; i < n; i++)
        if (!done[i]) budget[i] = left / (size_t)open;
}

/* A tile's layers read at once (core/par.h): part t reads layer layer[t] (or its share
 * share[t] of n_shares[layer] when the layer is dense: store_query.n_parts) on worker w, the
 * request's own or a helper's, each with its own sink; the request's connection lends its
 * deadline. The shares of a layer are merged before the write. */
#define TILE_MAX_PARTS (3 * TILE_MAX_LAYERS) /* two shares, and one more to read it again */
#define SPLIT_FEATURES 256 /* features a layer is expected to have in the tile to be split */

struct mvt_read {
    struct store *st;      /* the request's connection */
    struct tile_xform *xf; /* the request's (a helper transforms with a copy on its own geo) */
    const struct tile_layers *tl;
    enum role role;
    int z, x, y;
    struct bbox qb;
    int n_parts;
    int layer[TILE_MAX_PARTS], share[TILE_MAX_PARTS], n_shares[TILE_MAX_LAYERS];
    int64_t seen[TILE_MAX_PARTS]; /* a share's last spp_changes id, in its rows' snapshot */
    struct mvt_layer *ml[TILE_MAX_PARTS];
    int overview[TILE_MAX_LAYERS];
    int rc[TILE_MAX_PARTS];
    struct err err[TILE_MAX_PARTS];
    int failed; /* a part failed: the parts not started yet are skipped */
};

static void read_part(void *ud, int t, struct worker *w)
{
    struct mvt_read *r = ud;
    int i = r->layer[t];
    const struct layer_def *l = r->tl->layers[i];
    int z = r->z, rc = 0, features = 1;
    if (!has_overview(l, z, r->role) && (z < l->minzoom || z > l->maxzoom)) return;
    if (__atomic_load_n(&r->failed, __ATOMIC_RELAXED)) return;
    struct err *err = &r->err[t];
    struct mvt_sink s;
    memset(&s, 0, sizeof s);
    int helper = w->store != r->st;
    if (helper) {
        store_share_deadline(w->store, r->st);
        rc = tile_xform_clone(r->xf, w->geo, &s.xf, err);
    } else {
        s.xf = r->xf;
    }
    s.geos = geo_geos(w->geo);
    geom_init(&s.g);
    mvt_geom_init(&s.cmds);
    if (!rc && r->overview[i]) { /* precomputed (issue 22), else every feature's box */
        struct err e = {0};
        rc = read_overview(w->store, s.geos, l, class_field(l), r->role, z, r->x, r->y, &r->ml[t],
                           &e);
        features = rc == ERR_NOT_FOUND;
        if (features)
            rc = 0;
        else if (rc)
            *err = e;
    }
    /* a share reads its rows and the last change id in one snapshot: shares of one layer made
     * in different states of the store are told apart (tiles_build_mvt reads it again whole) */
    int snap = !rc && features && r->n_shares[i] > 1;
#ifdef SPP_TEST_HOOKS
    /* a test build run with SPP_TEST_SHARE_PAUSE_MS: the second share starts late (a commit
     * can land between the two) */
    const char *pause = getenv("SPP_TEST_SHARE_PAUSE_MS");
    if (snap && r->share[t] == 1 && pause && atoi(pause) > 0) {
        struct timespec ts = {atoi(pause) / 1000, (long)(atoi(pause) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
#endif
    if (snap && !(rc = store_begin_read(w->store, err)))
        rc = store_changes_max(w->store, &r->seen[t], err);
    if (!rc && features)
        rc = read_layer(w->store, &s, l, r->role, z, &r->qb, r->share[t], r->n_shares[i], &r->ml[t],
                        err);
    if (snap) store_end_read(w->store);
    geom_fini(&s.g);
    mvt_geom_fini(&s.cmds);
    if (helper) {
        tile_xform_free(s.xf);
        store_set_deadline(w->store, 0);
    }
    r->rc[t] = rc;
    if (rc) __atomic_store_n(&r->failed, 1, __ATOMIC_RELAXED);
}

/* Into how many shares l's features in the tile are read: 2 when helpers are idle and the
 * layer's average density (spp_layers: count over extent) puts SPLIT_FEATURES or more in the
 * query box, else 1. A guess, so it is cheap: a share is a query of its own and a merge. */
static int shares_for(struct store *st, const struct layer_def *l, const struct bbox *qb)
{
    struct layer_state ls;
    struct err e = {0};
    if (store_layer_state(st, l, &ls, &e) || !ls.has_extent || ls.n_features < SPLIT_FEATURES)
        return 1;
    double w = ls.extent.maxx - ls.extent.minx, h = ls.extent.maxy - ls.extent.miny;
    double iw = fmin(qb->maxx, ls.extent.maxx) - fmax(qb->minx, ls.extent.minx);
    double ih = fmin(qb->maxy, ls.extent.maxy) - fmax(qb->miny, ls.extent.miny);
    if (!(iw > 0 && ih > 0)) return 1;
    double share = w > 0 && h > 0 ? fmin(1.0, iw * ih / (w * h)) : 1.0;
    return (double)ls.n_features * share >= SPLIT_FEATURES ? 2 : 1;
}

int tiles_build_mvt(struct store *st, struct geo_ctx *geo, struct par *par,
                    const struct config *cfg, const struct tile_layers *tl, enum role role, int z,
                    int x, int y, struct buf *out, struct err *err)
{
    (void)cfg;
    int any = 0;
    for (int i = 0; i < tl->n; i++)
        any |= (z >= tl->layers[i]->minzoom && z <= tl->layers[i]->maxzoom) ||
               has_overview(tl->layers[i], z, role);
    if (!any) return 0;
    struct mvt_read *r = calloc(1, sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    r->st = st, r->tl = tl, r->role = role, r->z = z, r->x = x, r->y = y;
    int rc = tile_xform_new(geo, store_srid(st), z, x, y, TILE_EXTENT, &r->xf, &r->qb, err);
    if (rc || !r->xf) {
        free(r);
        return rc;
    }
    /* A request whose restricted reads are audited reads on its own connection only, where
     * the store notes them (store_tracks_reads). */
    if (store_tracks_reads(st)) par = NULL;
    int split = par_idle(par) > 0;
    for (int i = 0; i < tl->n; i++) {
        const struct layer_def *l = tl->layers[i];
        r->overview[i] = z < l->minzoom;
        r->n_shares[i] =
            split && z >= l->minzoom && z <= l->maxzoom ? shares_for(st, l, &r->qb) : 1;
        for (int k = 0; k < r->n_shares[i]; k++)
            r->layer[r->n_parts] = i, r->share[r->n_parts++] = k;
    }
    struct worker self = {.store = st, .geo = geo};
    par_run(par, r->n_parts, read_part, r, &self);
    for (int t = 0; t < r->n_parts && !rc; t++)
        if (r->rc[t]) {
            rc = r->rc[t];
            if (err) *err = r->err[t];
        }
    /* each layer in the slot of its first part, its other shares merged into it; shares read
     * in different states of the store (a commit between them) are dropped and the layer read
     * again whole, on the request's connection */
    struct mvt_layer *ml[TILE_MAX_LAYERS] = {0};
    int again[TILE_MAX_LAYERS] = {0};
    for (int t = 1; t < r->n_parts; t++)
        if (r->layer[t] == r->layer[t - 1] && r->seen[t] != r->seen[t - 1]) again[r->layer[t]] = 1;
    for (int t = 0; t < r->n_parts; t++) {
        struct mvt_layer **m = &ml[r->layer[t]];
        if (again[r->layer[t]]) {
            mvt_layer_free(r->ml[t]);
        } else if (!*m) {
            *m = r->ml[t];
        } else if (r->ml[t]) {
            if (!rc) rc = mvt_layer_merge(*m, r->ml[t], err);
            mvt_layer_free(r->ml[t]);
        }
        r->ml[t] = NULL;
    }
    for (int i = 0; i < tl->n && !rc; i++)
        if (again[i]) { /* a part of its own: a free slot, as only split layers have two */
            int t = r->n_parts++;
            r->layer[t] = i, r->share[t] = 0, r->n_shares[i] = 1;
            read_part(r, t, &self);
            if ((rc = r->rc[t]) && err) *err = r->err[t];
            ml[i] = r->ml[t], r->ml[t] = NULL;
        }
    size_t budget[TILE_MAX_LAYERS];
    if (!rc) share_budget(ml, r->overview, tl->n, budget);
    void *geos = geo_geos(geo);
    for (int i = 0; i < tl->n && !rc; i++)
        if (ml[i]) rc = mvt_layer_write(ml[i], geos, budget[i], out, err);
    for (int i = 0; i < tl->n; i++)
        mvt_layer_free(ml[i]);
    tile_xform_free(r->xf);
    free(r);
    return rc;
}
