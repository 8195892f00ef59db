/* SPDX-License-Identifier: MIT */
/* compile.c: a checked filter tree -> an SQL fragment over one layer table with '?' placeholders
 * and the values to bind. Column names come from the catalog (by the field index filter_check
 * resolved), never from the request. Spatial predicates are transformed into the storage CRS
 * through geo (the one official VN-2000 transformation), pre-filtered through the layer's
 * SpatiaLite R*Tree and then tested exactly with the SpatiaLite function. */
#include "filter_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL dialect (issue 24): each difference from the SQLite text is marked "PG:". */
#define PG(o) ((o)->dialect == FILTER_DIALECT_PG)

void filter_sql_init(struct filter_sql *out)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->sql);
    buf_init(&out->blobs);
}

void filter_sql_fini(struct filter_sql *out)
{
    buf_fini(&out->sql);
    buf_fini(&out->blobs);
    for (int i = 0; i < out->n_owned; i++)
        free(out->owned[i]);
    free(out->owned);
    free(out->params);
    memset(out, 0, sizeof *out);
}

static int own(struct filter_sql *o, void *p)
{
    if (!p) return ERR_NOMEM;
    if (o->n_owned == o->cap_owned) {
        int cap = o->cap_owned ? o->cap_owned * 2 : 8;
        void **n = realloc(o->owned, (size_t)cap * sizeof *n);
        if (!n) {
            free(p);
            return ERR_NOMEM;
        }
        o->owned = n;
        o->cap_owned = cap;
    }
    o->owned[o->n_owned++] = p;
    return 0;
}

static struct value *param(struct filter_sql *o)
{
    if (o->n_params == o->cap_params) {
        int cap = o->cap_params ? o->cap_params * 2 : 16;
        struct value *n = realloc(o->params, (size_t)cap * sizeof *n);
        if (!n) return NULL;
        o->params = n;
        o->cap_params = cap;
    }
    struct value *v = &o->params[o->n_params++];
    memset(v, 0, sizeof *v);
    return v;
}

static int bind_double(struct filter_sql *o, double d)
{
    struct value *v = param(o);
    if (!v) return ERR_NOMEM;
    v->type = VAL_REAL, v->d = d;
    return 0;
}

static int bind_int(struct filter_sql *o, int64_t i)
{
    struct value *v = param(o);
    if (!v) return ERR_NOMEM;
    v->type = VAL_INT, v->i = i, v->d = (double)i;
    return 0;
}

static int bind_bytes(struct filter_sql *o, enum value_type t, const void *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy || own(o, copy)) return ERR_NOMEM;
    memcpy(copy, data, len);
    copy[len] = '\0';
    struct value *v = param(o);
    if (!v) return ERR_NOMEM;
    v->type = t, v->s = copy, v->len = (int)len;
    return 0;
}

static int bind_lit(struct filter_sql *o, const struct filter_literal *l)
{
    switch (l->type) {
    case VAL_INT:
        return bind_int(o, l->i);
    case VAL_REAL:
        return bind_double(o, l->d);
    case VAL_TEXT:
        return bind_bytes(o, VAL_TEXT, l->s, strlen(l->s));
    default: {
        struct value *v = param(o);
        return v ? 0 : ERR_NOMEM;
    }
    }
}

static int put_col(struct buf *b, const struct layer_def *l, int field)
{
    if (field < 0) return buf_puts(b, "fid");
    return buf_printf(b, "\"%s\"", l->fields[field].name);
}

static int is_text_field(const struct layer_def *l, int field)
{
    return field >= 0 && (l->fields[field].type == FT_TEXT || l->fields[field].type == FT_DATE);
}

/* LIKE pattern ('%' '_' '\\'-escaped) -> GLOB pattern (case-sensitive) */
static char *like_to_glob(const char *p)
{
    struct buf b;
    buf_init(&b);
    for (; *p; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            c = *++p;
        } else if (c == '%') {
            buf_putc(&b, '*');
            continue;
        } else if (c == '_') {
            buf_putc(&b, '?');
            continue;
        }
        if (c == '*' || c == '?' || c == '[')
            buf_printf(&b, "[%c]", c);
        else
            buf_putc(&b, c);
    }
    if (buf_append(&b, "", 0)) return NULL;
    return buf_take(&b, NULL);
}

static int compile_compare(const struct filter_node *n, const struct layer_def *l,
                           struct filter_sql *o)
{
    static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">="};
    struct buf *b = &o->sql;
    int text = is_text_field(l, n->field) && n->values[0].type == VAL_TEXT;
    int ci = !n->match_case && text;
    /* Unicode case folding (the store's spp_casefold), not SQLite's ASCII lower(); diacritic
     * folding through the store's spp_fold. PG: lower() folds every letter of a UTF-8 database
     * with a UTF-8 LC_CTYPE ('Đ' too); spp_fold is an SQL function of the PostGIS schema. */
    const char *casefold = PG(o) ? "lower(" : "spp_casefold(";
    int fold = text && n->fold, nospace = text && n->ignore_spaces;
    if ((ci && buf_puts(b, casefold)) || (fold && buf_puts(b, "spp_fold(")) ||
        (nospace && buf_puts(b, "replace(")) || put_col(b, l, n->field) ||
        (nospace && buf_puts(b, ", ' ', '')")) || (fold && buf_putc(b, ')')) ||
        (ci && buf_putc(b, ')')) || (PG(o) && text && buf_puts(b, " COLLATE \"C\"")) ||
        buf_printf(b, " %s ", ops[n->op - FOP_EQ]) || (ci && buf_puts(b, casefold)) ||
        buf_putc(b, '?') || (ci && buf_putc(b, ')')))
        return ERR_NOMEM;
    return bind_lit(o, &n->values[0]);
}

/* A fold LIKE pattern ('%' '_', no escape) -> the GLOB pattern matching the same folded text
 * (lower case: SQLite's LIKE folds nothing more there than GLOB does) */
static char *fold_like_to_glob(const char *p)
{
    struct buf b;
    buf_init(&b);
    for (; *p; p++) {
        if (*p == '%')
            buf_putc(&b, '*');
        else if (*p == '_')
            buf_putc(&b, '?');
        else if (*p == '*' || *p == '?' || *p == '[')
            buf_printf(&b, "[%c]", *p);
        else
            buf_putc(&b, *p);
    }
    if (buf_append(&b, "", 0)) return NULL;
    return buf_take(&b, NULL);
}

/* The trigram index of the store's folded column (filter_sql.fold_index) finds the rows, but
 * those written since it was built (its dirty list) are folded and matched here as the scan
 * would; *done 0 when there is no index (the scan follows). */
static int compile_fold_indexed(const struct filter_node *n, const struct layer_def *l,
                                struct filter_sql *o, int *done)
{
    struct buf name;
    buf_init(&name);
    *done = 0;
    int rc = 0;
    if (!PG(o) && o->fold_index && n->values[0].type == VAL_TEXT &&
        o->fold_index(o->fold_index_ud, l, n->field, &name) && name.len) {
        char *g = fold_like_to_glob(n->values[0].s);
        struct filter_literal lit = {.type = VAL_TEXT, .s = g};
        struct buf *b = &o->sql;
        rc = !g || own(o, g) || buf_printf(b, "((fid IN (SELECT rowid FROM \"%s\"", name.data) ||
             buf_printf(b, " WHERE t GLOB ?) AND fid NOT IN (SELECT fid FROM \"%s_dirty\"))",
                        name.data) ||
             bind_lit(o, &lit) ||
             buf_printf(b, " OR (fid IN (SELECT fid FROM \"%s_dirty\") AND spp_fold(", name.data) ||
             put_col(b, l, n->field) || buf_puts(b, ") LIKE ?))") || bind_lit(o, &n->values[0]);
        *done = 1;
    }
    buf_fini(&name);
    return rc;
}

static int compile_like(const struct filter_node *n, const struct layer_def *l,
                        struct filter_sql *o)
{
    struct buf *b = &o->sql;
    int done;
    if (n->fold) {
        int rc = compile_fold_indexed(n, l, o, &done);
        if (rc || done) return rc;
    }
    if (n->fold) /* the pattern is given folded ('%' '_' as written, no escape; PG: ESCAPE '') */
        return buf_puts(b, "spp_fold(") || put_col(b, l, n->field) ||
               buf_puts(b, PG(o) ? ") LIKE ? ESCAPE ''" : ") LIKE ?") || bind_lit(o, &n->values[0]);
    if (PG(o)) /* PG: LIKE is case-sensitive; ILIKE folds like lower(); a number or boolean
                * column is matched on its text, as SQLite does (PG has no bigint LIKE text) */
        return (is_text_field(l, n->field) ? put_col(b, l, n->field)
                                           : (buf_puts(b, "CAST(") || put_col(b, l, n->field) ||
                                              buf_puts(b, " AS text)"))) ||
               buf_puts(b, n->match_case ? " LIKE ? ESCAPE '\\'" : " ILIKE ? ESCAPE '\\'") ||
               bind_lit(o, &n->values[0]);
    if (n->match_case) {
        char *g = like_to_glob(n->values[0].s);
        if (!g || own(o, g)) return ERR_NOMEM;
        struct filter_literal lit = {.type = VAL_TEXT, .s = g};
        return put_col(b, l, n->field) || buf_puts(b, " GLOB ?") || bind_lit(o, &lit);
    }
    /* case-insensitive: both sides folded (Vietnamese letters too); the pattern's '%', '_' and
     * '\\' escapes are ASCII and survive folding */
    return buf_puts(b, "spp_casefold(") || put_col(b, l, n->field) ||
           buf_puts(b, ") LIKE spp_casefold(?) ESCAPE '\\'") || bind_lit(o, &n->values[0]);
}

static int compile_scalar(const struct filter_node *n, const struct layer_def *l,
                          struct filter_sql *o)
{
    struct buf *b = &o->sql;
    int rc = 0;
    switch (n->op) {
    case FOP_LIKE:
        return compile_like(n, l, o);
    case FOP_BETWEEN:
        /* PG: text compares byte-wise, as SQLite does, whatever the database's collation */
        return put_col(b, l, n->field) ||
               (PG(o) && is_text_field(l, n->field) && buf_puts(b, " COLLATE \"C\"")) ||
               buf_puts(b, " BETWEEN ? AND ?") || bind_lit(o, &n->values[0]) ||
               bind_lit(o, &n->values[1]);
    case FOP_IN:
        if (n->n_values == 0) return buf_puts(b, PG(o) ? "false" : "0");
        rc = put_col(b, l, n->field) || buf_puts(b, " IN (");
        for (int i = 0; i < n->n_values && !rc; i++)
            rc = buf_puts(b, i ? ",?" : "?") || bind_lit(o, &n->values[i]);
        return rc || buf_putc(b, ')');
    case FOP_ISNULL:
        if (n->field == -2) return buf_puts(b, "geom IS NULL");
        return put_col(b, l, n->field) || buf_puts(b, " IS NULL");
    case FOP_RESOURCE_ID:
        if (n->n_ids == 0) return buf_puts(b, PG(o) ? "false" : "0");
        rc = buf_puts(b, "fid IN (");
        for (int i = 0; i < n->n_ids && !rc; i++)
            rc = buf_puts(b, i ? ",?" : "?") || bind_int(o, n->ids[i]);
        return rc || buf_putc(b, ')');
    default:
        return compile_compare(n, l, o);
    }
}

/* Densifies the edges of the (envelope) rings of g so that a box keeps its shape in another CRS. */
static int densify(struct geom *g, struct geom *out)
{
    enum { STEPS = 16 };
    geom_init(out);
    out->type = g->type;
    for (int i = 0; i < g->n_parts; i++) {
        const struct geom_part *p = &g->parts[i];
        double *xy = malloc(((size_t)(p->n - 1) * STEPS + 1) * 2 * sizeof *xy);
        if (!xy) return ERR_NOMEM;
        int k = 0;
        for (int j = 0; j + 1 < p->n; j++)
            for (int s = 0; s < STEPS; s++) {
                double t = (double)s / STEPS;
                xy[k++] = p->xy[2 * j] + t * (p->xy[2 * j + 2] - p->xy[2 * j]);
                xy[k++] = p->xy[2 * j + 1] + t * (p->xy[2 * j + 3] - p->xy[2 * j + 1]);
            }
        xy[k++] = p->xy[2 * (p->n - 1)], xy[k++] = p->xy[2 * (p->n - 1) + 1];
        int rc = fgeom_add_part(out, p->ring, xy, k / 2);
        free(xy);
        if (rc) return rc;
    }
    return 0;
}

/* A box that does not transform as a whole (QGIS sends BBOX=-1e8,-1e8,1e8,1e8): sample a grid
 * over it, keep the points inside the CRS's area, and use their envelope in the storage CRS. */
static int clamp_box(struct geo_ctx *geo, int src, int dst, struct bbox *in, struct geom *out,
                     struct err *err)
{
    enum { N = 41 };
    if (geo_crs_geographic(geo, src) || src == GEO_SRID_CRS84) {
        in->minx = fmax(in->minx, -180), in->maxx = fmin(in->maxx, 180);
        in->miny = fmax(in->miny, -90), in->maxy = fmin(in->maxy, 90);
    }
    double *xy = malloc(N * N * 2 * sizeof *xy);
    if (!xy) return err_set(err, ERR_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            xy[k++] = in->minx + (in->maxx - in->minx) * i / (N - 1);
            xy[k++] = in->miny + (in->maxy - in->miny) * j / (N - 1);
        }
    struct err ignore;
    err_clear(&ignore);
    geo_transform(geo, src, dst, xy, N * N, &ignore);
    struct bbox b;
    bbox_empty(&b);
    for (int i = 0; i < N * N; i++)
        if (isfinite(xy[2 * i]) && isfinite(xy[2 * i + 1]) && fabs(xy[2 * i]) < 1e15 &&
            fabs(xy[2 * i + 1]) < 1e15)
            bbox_add(&b, xy[2 * i], xy[2 * i + 1]);
    free(xy);
    geom_fini(out);
    if (bbox_is_empty(&b))
        return err_setl(err, ERR_PARAM, "BBOX", "the box lies outside the area of its CRS");
    return fgeom_envelope(out, b.minx, b.miny, b.maxx, b.maxy) ? ERR_NOMEM : 0;
}

/* The node's literal in the storage CRS, x = easting. */
static int literal_in_storage(const struct filter_node *n, int storage_srid, struct geo_ctx *geo,
                              struct geom *g, struct err *err)
{
    geom_init(g);
    int rc = geom_from_wkb(g, n->wkb, n->wkb_len, err);
    if (rc) return rc;
    int src = n->srid ? n->srid : storage_srid;
    if (n->authority_axes && src != GEO_SRID_CRS84 && geo && geo_crs_latlon(geo, src))
        for (size_t i = 0; i + 1 < g->n_coords; i += 2) {
            double t = g->coords[i];
            g->coords[i] = g->coords[i + 1], g->coords[i + 1] = t;
        }
    if (src == storage_srid) return 0;
    if (!geo) return err_set(err, ERR_INTERNAL, "no CRS context");
    struct bbox box;
    geom_bbox(g, &box);
    if (n->op == FOP_BBOX) {
        struct geom d;
        if ((rc = densify(g, &d))) {
            geom_fini(&d);
            return err_set(err, ERR_NOMEM, "out of memory");
        }
        geom_fini(g);
        *g = d;
    }
    struct err terr;
    err_clear(&terr);
    rc = geo_transform(geo, src, storage_srid, g->coords, g->n_coords / 2, &terr);
    if (rc && n->op == FOP_BBOX && geo_crs_known(geo, src))
        return clamp_box(geo, src, storage_srid, &box, g, err);
    if (rc) {
        char name[32];
        return err_setl(err, ERR_PARAM, "FILTER", "geometry cannot be transformed from %s: %s",
                        geo_crs_name(src, name), terr.msg);
    }
    return 0;
}

static int rtree_prefilter(struct filter_sql *o, const struct layer_def *l, const struct bbox *b,
                           double grow, int negate, int srid)
{
    if (PG(o)) /* PG: the GiST index; a NULL geometry is outside, as it is outside the R*Tree */
        return buf_puts(&o->sql, negate ? "NOT coalesce(geom && ST_MakeEnvelope(?, ?, ?, ?, "
                                        : "geom && ST_MakeEnvelope(?, ?, ?, ?, ") ||
               buf_printf(&o->sql, "%d)%s", srid, negate ? ", false)" : "") ||
               bind_double(o, b->minx - grow) || bind_double(o, b->miny - grow) ||
               bind_double(o, b->maxx + grow) || bind_double(o, b->maxy + grow);
    int rc = buf_printf(&o->sql,
                        "fid %sIN (SELECT pkid FROM \"idx_%s_geom\" WHERE xmin <= ? AND xmax >= ?"
                        " AND ymin <= ? AND ymax >= ?)",
                        negate ? "NOT " : "", l->id);
    return rc || bind_double(o, b->maxx + grow) || bind_double(o, b->minx - grow) ||
           bind_double(o, b->maxy + grow) || bind_double(o, b->miny - grow);
}

static int bind_geom(struct filter_sql *o, const struct geom *g, int srid)
{
    struct buf w;
    buf_init(&w);
    int rc = geom_to_wkb(g, &w);
    if (!rc) rc = buf_printf(&o->sql, PG(o) ? "ST_GeomFromWKB(?, %d)" : "GeomFromWKB(?, %d)", srid);
    if (!rc) rc = bind_bytes(o, VAL_BLOB, w.data, w.len);
    buf_fini(&w);
    return rc;
}

static int compile_spatial(const struct filter_node *n, const struct layer_def *l, int storage_srid,
                           struct geo_ctx *geo, struct filter_sql *o, struct err *err)
{
    static const char *const fn[] = {"ST_Intersects", "ST_Intersects", "ST_Within",
                                     "ST_Contains",   "ST_Disjoint",   "ST_Equals",
                                     "ST_Touches",    "ST_Overlaps",   "ST_Crosses"};
    struct geom g;
    int rc = literal_in_storage(n, storage_srid, geo, &g, err);
    if (rc) {
        geom_fini(&g);
        return rc;
    }
    struct bbox box;
    geom_bbox(&g, &box);
    struct buf *b = &o->sql;
    double d = n->distance;
    const char *is_true = PG(o) ? ")" : ") = 1"; /* PG: the predicates are boolean */
    int srid = storage_srid;
    switch (n->op) {
    case FOP_DISJOINT:
        rc = buf_putc(b, '(') || rtree_prefilter(o, l, &box, 0, 1, srid) ||
             buf_puts(b, " OR ST_Disjoint(geom, ") || bind_geom(o, &g, storage_srid) ||
             buf_puts(b, is_true) || buf_putc(b, ')');
        break;
    case FOP_BEYOND:
        rc = buf_putc(b, '(') || rtree_prefilter(o, l, &box, d, 1, srid) ||
             buf_puts(b, " OR ST_Distance(geom, ") || bind_geom(o, &g, storage_srid) ||
             buf_puts(b, ") > ?)") || bind_double(o, d);
        break;
    case FOP_DWITHIN:
        rc = rtree_prefilter(o, l, &box, d, 0, srid) || buf_puts(b, " AND ST_Distance(geom, ") ||
             bind_geom(o, &g, storage_srid) || buf_puts(b, ") <= ?") || bind_double(o, d);
        break;
    case FOP_BBOX:
        /* features whose own box lies inside the query box intersect it: skip GEOS for them */
        rc =
            rtree_prefilter(o, l, &box, 0, 0, srid) ||
            buf_puts(
                b, PG(o) ? " AND ((ST_XMin(geom) >= ? AND ST_XMax(geom) <= ? AND"
                           " ST_YMin(geom) >= ? AND ST_YMax(geom) <= ?) OR ST_Intersects(geom, "
                         : " AND ((MbrMinX(geom) >= ? AND MbrMaxX(geom) <= ? AND"
                           " MbrMinY(geom) >= ? AND MbrMaxY(geom) <= ?) OR ST_Intersects(geom, ") ||
            bind_double(o, box.minx) || bind_double(o, box.maxx) || bind_double(o, box.miny) ||
            bind_double(o, box.maxy) || bind_geom(o, &g, storage_srid) || buf_puts(b, is_true) ||
            buf_putc(b, ')');
        break;
    default:
        rc = rtree_prefilter(o, l, &box, 0, 0, srid) ||
             buf_printf(b, " AND %s(geom, ", fn[n->op - FOP_BBOX]) ||
             bind_geom(o, &g, storage_srid) || buf_puts(b, is_true);
    }
    geom_fini(&g);
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

static int nomem(struct err *err)
{
    return err_set(err, ERR_NOMEM, "out of memory");
}

/* FOP_MBR, FOP_MIN_EXTENT: the geometry's bounding box from its blob header (no GEOS). */
static int compile_mbr(const struct filter_node *n, struct filter_sql *o, struct err *err)
{
    const struct filter_literal *v = n->values;
    int rc;
    if (n->op == FOP_MBR) {
        if (n->n_values != 4) return err_set(err, ERR_INTERNAL, "MBR takes a box");
        rc = buf_puts(&o->sql, "(MbrMaxX(geom) >= ? AND MbrMinX(geom) <= ? AND MbrMaxY(geom) >= ?"
                               " AND MbrMinY(geom) <= ?)") ||
             bind_double(o, v[0].d) || bind_double(o, v[2].d) || bind_double(o, v[1].d) ||
             bind_double(o, v[3].d);
    } else {
        if (n->n_values != 1) return err_set(err, ERR_INTERNAL, "MIN_EXTENT takes a size");
        rc = buf_puts(&o->sql, "(MbrMaxX(geom) - MbrMinX(geom) >= ? OR MbrMaxY(geom) -"
                               " MbrMinY(geom) >= ?)") ||
             bind_double(o, v[0].d) || bind_double(o, v[0].d);
    }
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

static int compile_node(const struct filter_node *n, const struct layer_def *l, int storage_srid,
                        struct geo_ctx *geo, struct filter_sql *o, struct err *err)
{
    struct buf *b = &o->sql;
    int rc = 0;
    switch (n->op) {
    case FOP_AND:
    case FOP_OR:
        if (n->n_children == 0)
            return buf_puts(b, n->op == FOP_AND ? (PG(o) ? "true" : "1") : (PG(o) ? "false" : "0"))
                       ? nomem(err)
                       : 0;
        if (buf_putc(b, '(')) return nomem(err);
        for (int i = 0; i < n->n_children && !rc; i++) {
            if (i && buf_puts(b, n->op == FOP_AND ? " AND " : " OR ")) return nomem(err);
            rc = compile_node(n->children[i], l, storage_srid, geo, o, err);
        }
        if (!rc && buf_putc(b, ')')) rc = nomem(err);
        return rc;
    case FOP_NOT:
        if (n->n_children != 1) return err_setl(err, ERR_PARAM, "FILTER", "NOT takes one operand");
        if (buf_puts(b, "NOT coalesce(")) return nomem(err);
        rc = compile_node(n->children[0], l, storage_srid, geo, o, err);
        if (!rc && buf_puts(b, PG(o) ? ", false)" : ", 0)")) rc = nomem(err);
        return rc;
    case FOP_INCLUDE:
        return buf_puts(b, PG(o) ? "true" : "1") ? nomem(err) : 0;
    case FOP_EXCLUDE:
        return buf_puts(b, PG(o) ? "false" : "0") ? nomem(err) : 0;
    case FOP_MBR:
    case FOP_MIN_EXTENT:
        return compile_mbr(n, o, err);
    default:
        break;
    }
    if (n->op >= FOP_BBOX && n->op <= FOP_BEYOND)
        return compile_spatial(n, l, storage_srid, geo, o, err);
    if (n->op != FOP_RESOURCE_ID && n->op != FOP_ISNULL && n->field < -1)
        return err_set(err, ERR_INTERNAL, "filter not checked");
    int need = n->op == FOP_BETWEEN                                                 ? 2
               : n->op == FOP_IN || n->op == FOP_ISNULL || n->op == FOP_RESOURCE_ID ? 0
                                                                                    : 1;
    if (n->n_values < need)
        return err_setl(err, ERR_PARAM, "FILTER", "operator is missing a value");
    return compile_scalar(n, l, o) ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

int filter_compile(const struct filter *f, const struct layer_def *layer, int storage_srid,
                   struct geo_ctx *geo, struct filter_sql *out, struct err *err)
{
    return filter_compile_dialect(f, layer, storage_srid, geo, FILTER_DIALECT_SQLITE, out, err);
}

int filter_compile_dialect(const struct filter *f, const struct layer_def *layer, int storage_srid,
                           struct geo_ctx *geo, enum filter_dialect dialect, struct filter_sql *out,
                           struct err *err)
{
    out->dialect = dialect;
    if (!f || !f->root) return buf_puts(&out->sql, PG(out) ? "true" : "1") ? nomem(err) : 0;
    return compile_node(f->root, layer, storage_srid, geo, out, err);
}
