/* SPDX-License-Identifier: MIT */
/* funds.c: the investor search over vacant land funds (vacant_land_fund) and land offered for
 * investment (investment_land), and one fund by id. Attribute filters go to SQL through
 * store_where_* (indexed where an index exists), the area around bbox / near+within_m through the
 * R*Tree with an exact GEOS test after; sorting and paging happen here because distance and the
 * zoning indicators are computed. For each returned fund: the zoning indicators of the
 * detailed-plan lot (else the zoning block) containing its interior point, the floor area they
 * allow (area x FAR), and the nearest main road by growing R*Tree windows. Funds whose `public`
 * flag is 0 are unpublished and shown to planners and admins only. */
#include "query_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_ROAD_MAX_M 5000.0 /* farthest main road looked for, m */

struct fund_kind {
    int mask;
    const char *layer, *kind;
    const char *id_field, *function_field, *manager_field, *deadline_field;
};
static const struct fund_kind kinds[] = {
    {FUND_VACANT, "vacant_land_fund", "vacant", "fund_id", "planned_function", "manager", NULL},
    {FUND_INVESTMENT, "investment_land", "investment", "project_id", "function", "contact",
     "deadline"},
};

/* Road classes that count as main roads (road_class code list: expressway, national,
 * provincial, urban arterial): what an investor means by access to a main road. */
static const char *const main_road_classes[] = {"cao_toc", "quoc_lo", "tinh_lo", "do_thi_chinh"};

struct zoning {
    int found;
    const char *source; /* "detailed_plan_lot" or "zoning_block" */
    struct qset s;      /* owns the values below */
    int row;
};

struct fund_item {
    const struct fund_kind *k;
    struct qset *s;
    struct qrow *r;
    double area, dist, far;
    int zoned;
    struct zoning z;
};

static int zoning_at(struct qctx *q, const GEOSGeometry *g, struct zoning *z, struct err *err)
{
    static const char *const layers[] = {"detailed_plan_lots", "zoning_blocks"};
    memset(z, 0, sizeof *z);
    GEOSGeometry *pt = GEOSPointOnSurface_r(q->h, g);
    if (!pt) return 0;
    int rc = 0;
    for (size_t i = 0; i < ARRAY_LEN(layers) && !rc && !z->found; i++) {
        const struct layer_def *l = q_layer(q, layers[i]);
        if (!l) continue;
        qset_fini(q, &z->s);
        rc = q_intersecting(q, l, pt, &z->s, err);
        if (!rc && z->s.n) z->found = 1, z->source = layers[i] + 0, z->row = 0;
    }
    if (z->found) z->source = strcmp(z->s.layer->id, "zoning_blocks") ? "detailed_plan_lot"
                                                                       : "zoning_block";
    GEOSGeom_destroy_r(q->h, pt);
    return rc;
}

static int ensure_zoning(struct qctx *q, struct fund_item *it, struct err *err)
{
    if (it->zoned) return 0;
    it->zoned = 1;
    int rc = zoning_at(q, it->r->geom, &it->z, err);
    it->far = it->z.found ? q_num(&it->z.s, &it->z.s.rows[0], "max_far") : NAN;
    return rc;
}

static int cmp_id(const struct fund_item *a, const struct fund_item *b)
{
    const char *ia = q_str(a->s, a->r, a->k->id_field), *ib = q_str(b->s, b->r, b->k->id_field);
    int c = strcmp(ia ? ia : "", ib ? ib : "");
    if (c) return c;
    if (a->k != b->k) return a->k < b->k ? -1 : 1;
    return a->r->fid < b->r->fid ? -1 : a->r->fid > b->r->fid;
}

/* NAN sorts last in both directions. */
static int cmp_num(double a, double b, int desc)
{
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    if (a == b) return 0;
    return (a < b) == !desc ? -1 : 1;
}

static int cmp_items(const void *pa, const void *pb, void *arg)
{
    const struct fund_item *a = pa, *b = pb;
    int c = 0;
    switch (*(const enum fund_sort *)arg) {
    case SORT_AREA: c = cmp_num(a->area, b->area, 0); break;
    case SORT_AREA_DESC: c = cmp_num(a->area, b->area, 1); break;
    case SORT_DIST: c = cmp_num(a->dist, b->dist, 0); break;
    case SORT_DIST_DESC: c = cmp_num(a->dist, b->dist, 1); break;
    case SORT_FAR: c = cmp_num(a->far, b->far, 0); break;
    case SORT_FAR_DESC: c = cmp_num(a->far, b->far, 1); break;
    default: break;
    }
    return c ? c : cmp_id(a, b);
}

struct search {
    struct qctx *q;
    const struct fund_params *p;
    char *codes[QUERY_MAX_CODES];
    int n_codes;
    int has_box;
    struct bbox box;              /* storage CRS: R*Tree window */
    GEOSGeometry *bbox_poly;      /* the CRS84 bbox as a storage-CRS polygon (exact test) */
    const GEOSPreparedGeometry *bbox_prep;
    GEOSGeometry *near_pt;        /* storage CRS */
    struct qset sets[ARRAY_LEN(kinds)];
    struct fund_item *items;
    int n, cap;
};

static void search_fini(struct search *se)
{
    struct qctx *q = se->q;
    for (int i = 0; i < se->n; i++) qset_fini(q, &se->items[i].z.s);
    free(se->items);
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++) qset_fini(q, &se->sets[i]);
    for (int i = 0; i < se->n_codes; i++) free(se->codes[i]);
    if (se->bbox_prep) GEOSPreparedGeom_destroy_r(q->h, se->bbox_prep);
    if (se->bbox_poly) GEOSGeom_destroy_r(q->h, se->bbox_poly);
    if (se->near_pt) GEOSGeom_destroy_r(q->h, se->near_pt);
}

/* The CRS84 bbox as a polygon in the storage CRS: edges densified (20 steps) before the
 * transformation, so the test follows the box as the client drew it. */
static int bbox_polygon(struct search *se, struct err *err)
{
    struct qctx *q = se->q;
    const double *bb = se->p->bbox;
    double xy[2 * 81];
    int n = 0;
    const double cx[5] = {bb[0], bb[2], bb[2], bb[0], bb[0]}, cy[5] = {bb[1], bb[1], bb[3], bb[3], bb[1]};
    for (int e = 0; e < 4; e++)
        for (int i = 0; i < 20; i++, n++) {
            xy[2 * n] = cx[e] + (cx[e + 1] - cx[e]) * i / 20.0;
            xy[2 * n + 1] = cy[e] + (cy[e + 1] - cy[e]) * i / 20.0;
        }
    xy[2 * n] = xy[0], xy[2 * n + 1] = xy[1], n++;
    struct err e2;
    err_clear(&e2);
    if (geo_transform(q->geo, GEO_SRID_CRS84, q->srid, xy, (size_t)n, &e2))
        return err_setl(err, ERR_PARAM, "bbox", "bbox cannot be transformed: %s", e2.msg);
    GEOSCoordSequence *cs = GEOSCoordSeq_create_r(q->h, (unsigned)n, 2);
    bbox_empty(&se->box);
    for (int i = 0; cs && i < n; i++) {
        GEOSCoordSeq_setXY_r(q->h, cs, (unsigned)i, xy[2 * i], xy[2 * i + 1]);
        bbox_add(&se->box, xy[2 * i], xy[2 * i + 1]);
    }
    GEOSGeometry *ring = cs ? GEOSGeom_createLinearRing_r(q->h, cs) : NULL;
    se->bbox_poly = ring ? GEOSGeom_createPolygon_r(q->h, ring, NULL, 0) : NULL;
    se->bbox_prep = se->bbox_poly ? GEOSPrepare_r(q->h, se->bbox_poly) : NULL;
    if (!se->bbox_prep) return err_set(err, ERR_NOMEM, "out of memory");
    se->has_box = 1;
    return 0;
}

static int near_point(struct search *se, struct err *err)
{
    struct qctx *q = se->q;
    double xy[2] = {se->p->near_lon, se->p->near_lat};
    struct err e2;
    err_clear(&e2);
    if (geo_transform(q->geo, GEO_SRID_CRS84, q->srid, xy, 1, &e2))
        return err_setl(err, ERR_PARAM, "near", "near cannot be transformed: %s", e2.msg);
    if (!(se->near_pt = q_point(q, xy[0], xy[1]))) return err_set(err, ERR_NOMEM, "out of memory");
    if (se->p->has_within) {
        double w = se->p->within_m;
        struct bbox nb = {xy[0] - w, xy[1] - w, xy[0] + w, xy[1] + w};
        if (se->has_box) { /* both: the intersection of the windows */
            se->box.minx = fmax(se->box.minx, nb.minx), se->box.miny = fmax(se->box.miny, nb.miny);
            se->box.maxx = fmin(se->box.maxx, nb.maxx), se->box.maxy = fmin(se->box.maxy, nb.maxy);
            if (se->box.minx > se->box.maxx || se->box.miny > se->box.maxy)
                se->box = (struct bbox){0, 0, -1, -1}; /* empty: nothing can match */
        } else {
            se->box = nb;
        }
        se->has_box = 1;
    }
    return 0;
}

/* Is code in the code list of field `name` of l? */
static int code_known(const struct layer_def *l, const char *name, const char *code)
{
    int f = layer_field_index(l, name);
    const struct codelist *cl = f >= 0 ? l->fields[f].codelist : NULL;
    return !cl || codelist_find(cl, code, NULL) != NULL;
}

/* The WHERE and its values for one kind; *skip when a filter cannot match this kind. */
static int kind_where(struct search *se, const struct layer_def *l, const struct fund_kind *k,
                      struct buf *w, struct value *v, int *nv, int *skip, struct err *err)
{
    const struct fund_params *p = se->p;
    enum role role = se->q->role;
    int fc = access_field_index(l, "commune_code", role);
    int ff = access_field_index(l, k->function_field, role);
    int fs = access_field_index(l, "status", role), fa = access_field_index(l, "area_m2", role);
    int rc = 0;
    *nv = 0;
    *skip = (p->function && !code_known(l, k->function_field, p->function)) ||
            (p->status && !code_known(l, "status", p->status));
    if (se->n_codes) {
        rc = rc || fc < 0 || store_where_in(w, l, fc, se->n_codes);
        for (int i = 0; i < se->n_codes; i++)
            v[(*nv)++] = (struct value){.type = VAL_TEXT, .s = se->codes[i], .len = -1};
    }
    if (p->function) {
        rc = rc || ff < 0 || store_where_field(w, l, ff, "=");
        v[(*nv)++] = (struct value){.type = VAL_TEXT, .s = p->function, .len = -1};
    }
    if (p->status) {
        rc = rc || fs < 0 || store_where_field(w, l, fs, "=");
        v[(*nv)++] = (struct value){.type = VAL_TEXT, .s = p->status, .len = -1};
    }
    if (p->has_min_area) {
        rc = rc || fa < 0 || store_where_field(w, l, fa, ">=");
        v[(*nv)++] = (struct value){.type = VAL_REAL, .d = p->min_area};
    }
    if (p->has_max_area) {
        rc = rc || fa < 0 || store_where_field(w, l, fa, "<=");
        v[(*nv)++] = (struct value){.type = VAL_REAL, .d = p->max_area};
    }
    return rc ? err_set(err, ERR_INTERNAL, "%s: cannot filter", l->id) : 0;
}

static int add_item(struct search *se, const struct fund_kind *k, struct qset *s, struct qrow *r,
                    struct err *err)
{
    struct qctx *q = se->q;
    const struct qval *pub = q_get(s, r, "public");
    if (q->role < ROLE_PLANNER && pub && pub->type == VAL_INT && pub->i == 0) return 0;
    double dist = NAN;
    if (se->near_pt && !GEOSDistance_r(q->h, se->near_pt, r->geom, &dist)) dist = NAN;
    if (se->p->has_within && !(dist <= se->p->within_m)) return 0;
    if (se->n == se->cap) {
        int cap = se->cap ? 2 * se->cap : 64;
        struct fund_item *items = realloc(se->items, (size_t)cap * sizeof *items);
        if (!items) return err_set(err, ERR_NOMEM, "out of memory");
        se->items = items, se->cap = cap;
    }
    struct fund_item *it = &se->items[se->n++];
    memset(it, 0, sizeof *it);
    it->k = k, it->s = s, it->r = r, it->dist = dist, it->far = NAN;
    it->area = q_num(s, r, "area_m2");
    if (isnan(it->area)) it->area = q_area(q, r->geom);
    return 0;
}

static int fetch_kind(struct search *se, size_t ki, struct err *err)
{
    const struct fund_kind *k = &kinds[ki];
    const struct layer_def *l = q_layer(se->q, k->layer);
    if (!l || !(se->p->kinds & k->mask)) return 0;
    struct value v[QUERY_MAX_CODES + 5];
    int nv, skip;
    struct buf w;
    buf_init(&w);
    int rc = kind_where(se, l, k, &w, v, &nv, &skip, err);
    for (int i = 0; i < nv; i++)
        if (v[i].type == VAL_TEXT) v[i].len = (int)strlen(v[i].s);
    struct qset *s = &se->sets[ki];
    struct qfetch f = {.bbox = se->has_box ? &se->box : NULL, .where = w.data, .params = v,
                       .n_params = nv, .test = se->bbox_prep};
    if (!rc && !skip) rc = q_fetch(se->q, l, &f, s, err);
    buf_fini(&w);
    /* items point into s->rows, which no longer moves */
    for (int i = 0; !rc && !skip && i < s->n; i++) rc = add_item(se, k, s, &s->rows[i], err);
    return rc;
}

/* 400 when a code is in none of the selected kinds' code lists. */
static int check_code(struct search *se, const char *param, const char *code, int function,
                      struct err *err)
{
    if (!code) return 0;
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
        const struct layer_def *l = q_layer(se->q, kinds[i].layer);
        if (l && (se->p->kinds & kinds[i].mask) &&
            code_known(l, function ? kinds[i].function_field : "status", code))
            return 0;
    }
    return err_setl(err, ERR_PARAM, param, "unknown %s \"%.40s\"", param, code);
}

static int run_search(struct search *se, struct err *err)
{
    const struct fund_params *p = se->p;
    int rc = 0;
    if (p->commune)
        rc = q_resolve_commune(se->q, p->commune, se->codes, QUERY_MAX_CODES, &se->n_codes, err);
    rc = rc || check_code(se, "function", p->function, 1, err) ||
         check_code(se, "status", p->status, 0, err);
    if (!rc && p->has_bbox) rc = bbox_polygon(se, err);
    if (!rc && p->has_near) rc = near_point(se, err);
    for (size_t i = 0; i < ARRAY_LEN(kinds) && !rc; i++) rc = fetch_kind(se, i, err);
    if (!rc && (p->sort == SORT_FAR || p->sort == SORT_FAR_DESC))
        for (int i = 0; i < se->n && !rc; i++) rc = ensure_zoning(se->q, &se->items[i], err);
    enum fund_sort sort = p->sort;
    if (!rc) qsort_r(se->items, (size_t)se->n, sizeof *se->items, cmp_items, &sort);
    return rc ? (err->code ? (int)err->code : ERR_NOMEM) : 0;
}

/* Nearest main road of a fund (name, class, distance) into name, cls (owned) and dist. */
static int main_road(struct qctx *q, const GEOSGeometry *g, char **name, char **cls, double *dist,
                     struct err *err)
{
    *name = *cls = NULL;
    *dist = NAN;
    const struct layer_def *l = q_layer(q, "roads");
    int fc = l ? access_field_index(l, "road_class", q->role) : -1;
    if (fc < 0) return 0;
    struct value v[ARRAY_LEN(main_road_classes)];
    for (size_t i = 0; i < ARRAY_LEN(main_road_classes); i++)
        v[i] = (struct value){.type = VAL_TEXT, .s = main_road_classes[i],
                              .len = (int)strlen(main_road_classes[i])};
    struct buf w;
    buf_init(&w);
    struct qset s;
    qset_init(&s);
    int best = -1;
    int rc = store_where_in(&w, l, fc, (int)ARRAY_LEN(main_road_classes));
    if (rc) rc = err_set(err, ERR_NOMEM, "out of memory");
    else rc = q_nearest(q, l, g, w.data, v, (int)ARRAY_LEN(main_road_classes), Q_ROAD_MAX_M, &s,
                        &best, dist, err);
    if (!rc && best >= 0) {
        *name = str_dup(q_str(&s, &s.rows[best], "name"));
        *cls = str_dup(q_str(&s, &s.rows[best], "road_class"));
    }
    qset_fini(q, &s);
    buf_fini(&w);
    return rc;
}

static int put_field(struct buf *b, const char *key, const struct qset *s, const struct qrow *r,
                     const char *name)
{
    const struct qval *v = name ? q_get(s, r, name) : NULL;
    int f = name && s->layer ? layer_field_index(s->layer, name) : -1;
    return buf_printf(b, ",\"%s\":", key) ||
           (v ? q_put_value(b, f >= 0 ? &s->layer->fields[f] : NULL, v) : buf_puts(b, "null"));
}

static int put_zoning(struct buf *b, const struct zoning *z)
{
    static const char *const names[] = {"function_code", "plan_id",   "max_coverage_pct",
                                        "max_far",       "min_floors", "max_floors",
                                        "max_height_m",  "setback_m"};
    if (!z->found) return buf_puts(b, ",\"zoning\":null");
    const struct qset *s = &z->s;
    const struct qrow *r = &s->rows[0];
    const char *code = strcmp(z->source, "zoning_block") ? "lot_code" : "block_code";
    int rc = buf_puts(b, ",\"zoning\":{\"source\":") || buf_put_json_str(b, z->source) ||
             put_field(b, "code", s, r, code);
    for (size_t i = 0; i < ARRAY_LEN(names) && !rc; i++)
        if (q_get(s, r, names[i])) rc = put_field(b, names[i], s, r, names[i]);
    return rc || buf_putc(b, '}');
}

/* The properties of one result (no braces); *road... are the nearest main road. */
static int put_fund_props(struct qctx *q, struct buf *b, struct fund_item *it, int with_dist,
                          struct err *err)
{
    const struct fund_kind *k = it->k;
    const struct qset *s = it->s;
    const struct qrow *r = it->r;
    char *road = NULL, *cls = NULL;
    double road_m;
    int rc = ensure_zoning(q, it, err) || main_road(q, r->geom, &road, &cls, &road_m, err);
    char *cname = rc ? NULL : q_commune_name(q, q_str(s, r, "commune_code"));
    int ff = layer_field_index(s->layer, k->function_field), fs = layer_field_index(s->layer, "status");
    const char *fn = q_str(s, r, k->function_field), *st = q_str(s, r, "status");
    rc = rc || buf_puts(b, "\"id\":") ||
         (q_str(s, r, k->id_field) ? buf_put_json_str(b, q_str(s, r, k->id_field))
                                   : buf_printf(b, "%lld", (long long)r->fid)) ||
         buf_printf(b, ",\"kind\":\"%s\"", k->kind) || put_field(b, "name", s, r, "name") ||
         put_field(b, "address", s, r, "address") ||
         put_field(b, "commune_code", s, r, "commune_code") || buf_puts(b, ",\"commune_name\":") ||
         (cname ? buf_put_json_str(b, cname) : buf_puts(b, "null")) ||
         buf_puts(b, ",\"area_m2\":") || q_put_num(b, it->area, 2) ||
         put_field(b, "function", s, r, k->function_field) || buf_puts(b, ",\"function_name\":") ||
         q_put_code_name(b, ff >= 0 ? s->layer->fields[ff].codelist : NULL, fn, NULL) ||
         put_field(b, "status", s, r, "status") || buf_puts(b, ",\"status_name\":") ||
         q_put_code_name(b, fs >= 0 ? s->layer->fields[fs].codelist : NULL, st, NULL) ||
         put_field(b, "managing_agency", s, r, k->manager_field) ||
         put_field(b, "deadline", s, r, k->deadline_field) || put_zoning(b, &it->z) ||
         buf_puts(b, ",\"buildable_floor_area_m2\":") || q_put_num(b, it->area * it->far, 1) ||
         buf_puts(b, ",\"nearest_main_road\":");
    if (!rc && road)
        rc = buf_puts(b, "{\"name\":") || buf_put_json_str(b, road) ||
             buf_puts(b, ",\"road_class\":") || (cls ? buf_put_json_str(b, cls) : buf_puts(b, "null")) ||
             buf_puts(b, ",\"distance_m\":") || q_put_num(b, road_m, 1) || buf_putc(b, '}');
    else
        rc = rc || buf_puts(b, "null");
    if (with_dist) rc = rc || buf_puts(b, ",\"distance_m\":") || q_put_num(b, it->dist, 1);
    int first = 1;
    rc = rc || buf_puts(b, ",\"attributes\":{") || q_put_props(q, b, s, r, &first) || buf_putc(b, '}');
    free(road), free(cls), free(cname);
    return rc;
}

static const char *const csv_columns[] = {
    "id",        "kind",       "name",      "address",   "commune_code", "area_m2",
    "function",  "status",     "managing_agency", "deadline", "zoning_source", "zoning_code",
    "max_coverage_pct", "max_far", "min_floors", "max_floors", "buildable_floor_area_m2",
    "nearest_main_road", "road_distance_m", "distance_m"};

static int csv_num(struct buf *b, double v, int decimals, char sep)
{
    struct buf t;
    buf_init(&t);
    if (isfinite(v)) buf_put_double(&t, v, decimals);
    int rc = q_csv_cell(b, t.data ? t.data : "", sep);
    buf_fini(&t);
    return rc;
}

static int put_fund_csv(struct qctx *q, struct buf *b, struct fund_item *it, struct err *err)
{
    const struct qset *s = it->s, *zs = &it->z.s;
    const struct qrow *r = it->r;
    char *road = NULL, *cls = NULL, id[32];
    double road_m;
    int rc = ensure_zoning(q, it, err) || main_road(q, r->geom, &road, &cls, &road_m, err);
    const struct qrow *zr = it->z.found ? &zs->rows[0] : NULL;
    const char *zcode = !zr ? NULL : strcmp(it->z.source, "zoning_block") ? "lot_code" : "block_code";
    snprintf(id, sizeof id, "%lld", (long long)r->fid);
    const char *idv = q_str(s, r, it->k->id_field);
    rc = rc || q_csv_cell(b, idv ? idv : id, ',') || q_csv_cell(b, it->k->kind, ',') ||
         q_csv_value(b, q_get(s, r, "name"), ',') || q_csv_value(b, q_get(s, r, "address"), ',') ||
         q_csv_value(b, q_get(s, r, "commune_code"), ',') || csv_num(b, it->area, 2, ',') ||
         q_csv_value(b, q_get(s, r, it->k->function_field), ',') ||
         q_csv_value(b, q_get(s, r, "status"), ',') ||
         q_csv_value(b, q_get(s, r, it->k->manager_field), ',') ||
         q_csv_value(b, it->k->deadline_field ? q_get(s, r, it->k->deadline_field) : NULL, ',') ||
         q_csv_cell(b, zr ? it->z.source : NULL, ',') ||
         q_csv_value(b, zr ? q_get(zs, zr, zcode) : NULL, ',') ||
         q_csv_value(b, zr ? q_get(zs, zr, "max_coverage_pct") : NULL, ',') ||
         csv_num(b, it->far, 6, ',') || q_csv_value(b, zr ? q_get(zs, zr, "min_floors") : NULL, ',') ||
         q_csv_value(b, zr ? q_get(zs, zr, "max_floors") : NULL, ',') ||
         csv_num(b, it->area * it->far, 1, ',') || q_csv_cell(b, road, ',') ||
         csv_num(b, road ? road_m : NAN, 1, ',') || csv_num(b, it->dist, 1, '\n');
    free(road), free(cls);
    return rc;
}

static int put_results(struct search *se, struct buf *b, struct err *err)
{
    const struct fund_params *p = se->p;
    int64_t from = p->offset < se->n ? p->offset : se->n;
    int64_t to = from + p->limit < se->n ? from + p->limit : se->n;
    int rc = 0;
    if (p->format == OUT_CSV) {
        for (size_t i = 0; i < ARRAY_LEN(csv_columns) && !rc; i++)
            rc = q_csv_cell(b, csv_columns[i], i + 1 < ARRAY_LEN(csv_columns) ? ',' : '\n');
        for (int64_t i = from; i < to && !rc; i++) rc = put_fund_csv(se->q, b, &se->items[i], err);
        return rc;
    }
    int geo = p->format == OUT_GEOJSON;
    rc = buf_puts(b, geo ? "{\"type\":\"FeatureCollection\",\"features\":[" : "{\"results\":[");
    for (int64_t i = from; i < to && !rc; i++) {
        struct fund_item *it = &se->items[i];
        rc = (i > from && buf_putc(b, ',')) ||
             buf_puts(b, geo ? "{\"type\":\"Feature\",\"properties\":{" : "{") ||
             put_fund_props(se->q, b, it, p->has_near, err) || buf_putc(b, '}');
        if (geo)
            rc = rc || buf_puts(b, ",\"geometry\":") ||
                 q_put_geometry(se->q, b, it->r->wkb, it->r->wkb_len, err) || buf_putc(b, '}');
    }
    return rc || buf_printf(b,
                            "],\"numberMatched\":%d,\"numberReturned\":%lld,\"limit\":%lld,"
                            "\"offset\":%lld,\"note\":{\"vi\":\"" Q_NOTE_VI "\",\"en\":\"" Q_NOTE_EN
                            "\"}}\n",
                            se->n, (long long)(to - from), (long long)p->limit,
                            (long long)p->offset);
}

int query_land_funds(struct request *req, struct response *res, struct err *err)
{
    struct qctx q;
    struct fund_params p;
    struct search se;
    memset(&se, 0, sizeof se);
    int rc = qctx_init(&q, req, err);
    se.q = &q, se.p = &p;
    if (!rc)
        rc = query_parse_fund_params(req, q.cfg->limits.default_features,
                                     q.cfg->limits.max_features, &p, err);
    if (!rc) rc = run_search(&se, err);
    if (!rc) rc = put_results(&se, &res->body, err);
    if (!rc)
        resp_set(res, 200,
                 p.format == OUT_CSV       ? "text/csv; charset=utf-8"
                 : p.format == OUT_GEOJSON ? "application/geo+json"
                                           : "application/json");
    if (q.h) search_fini(&se);
    qctx_fini(&q);
    return rc ? (err->code ? (int)err->code : ERR_NOMEM) : 0;
}

int query_land_fund(struct request *req, struct response *res, struct err *err)
{
    struct qctx q;
    struct search se;
    struct fund_params p;
    memset(&se, 0, sizeof se);
    memset(&p, 0, sizeof p);
    static const char *const known[] = {"f", NULL};
    enum out_format fmt;
    const char *id = req_param(req, "id");
    int rc = qctx_init(&q, req, err);
    se.q = &q, se.p = &p;
    rc = rc || q_check_known(req, known, err) || q_format(req, 0, 0, OUT_GEOJSON, &fmt, err);
    if (!rc && (!id || strlen(id) > 120)) rc = err_setl(err, ERR_NOT_FOUND, "id", "no land fund");
    for (size_t i = 0; i < ARRAY_LEN(kinds) && !rc && se.n == 0; i++) {
        const struct layer_def *l = q_layer(&q, kinds[i].layer);
        int fk = l ? access_field_index(l, kinds[i].id_field, q.role) : -1;
        if (fk < 0) continue;
        struct buf w;
        buf_init(&w);
        struct value v = {.type = VAL_TEXT, .s = id, .len = (int)strlen(id)};
        struct qfetch f = {.params = &v, .n_params = 1};
        rc = store_where_field(&w, l, fk, "=");
        f.where = w.data;
        if (rc) rc = err_set(err, ERR_NOMEM, "out of memory");
        else rc = q_fetch(&q, l, &f, &se.sets[i], err);
        buf_fini(&w);
        for (int j = 0; !rc && j < se.sets[i].n && se.n == 0; j++)
            rc = add_item(&se, &kinds[i], &se.sets[i], &se.sets[i].rows[j], err);
    }
    if (!rc && se.n == 0) rc = err_setl(err, ERR_NOT_FOUND, "id", "no land fund with id \"%s\"", id);
    if (!rc) {
        struct buf *b = &res->body;
        rc = buf_puts(b, "{\"type\":\"Feature\",\"id\":") || buf_put_json_str(b, id) ||
             buf_puts(b, ",\"properties\":{") || put_fund_props(&q, b, &se.items[0], 0, err) ||
             buf_puts(b, ",\"note\":{\"vi\":\"" Q_NOTE_VI "\",\"en\":\"" Q_NOTE_EN "\"}") ||
             buf_puts(b, "},\"geometry\":") ||
             q_put_geometry(&q, b, se.items[0].r->wkb, se.items[0].r->wkb_len, err) ||
             buf_puts(b, "}\n");
        resp_set(res, 200, "application/geo+json");
    }
    if (q.h) search_fini(&se);
    qctx_fini(&q);
    return rc ? (err->code ? (int)err->code : ERR_NOMEM) : 0;
}
