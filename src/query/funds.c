/* SPDX-License-Identifier: MIT */
/* funds.c: the investor search over vacant land funds (vacant_land_fund) and land offered for
 * investment (investment_land), and one fund by id. Attribute filters go to SQL through
 * filter_and_* trees (indexed where an index exists), the area around bbox / near+within_m through
 * the R*Tree with an exact GEOS test after; sorting and paging happen here because distance and the
 * zoning indicators are computed. For each returned fund: the zoning indicators of the
 * detailed-plan lot (else the zoning block) containing its interior point, the floor area they
 * allow (area x FAR), and the nearest main road by growing R*Tree windows. Unpublished funds
 * (`public` = 0) are left out for roles below planner by the catalog's row rule, in the store's
 * query path (access_row_rule), not here. */
#include "funds_int.h"

#include "../core/worker.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_ROAD_MAX_M 5000.0 /* farthest main road looked for, m */

const struct fund_kind q_fund_kinds[Q_FUND_KINDS] = {
    {FUND_VACANT, "vacant_land_fund", "vacant", "fund_id", "planned_function", "manager", NULL},
    {FUND_INVESTMENT, "investment_land", "investment", "project_id", "function", "contact",
     "deadline"},
};

/* Road classes that count as main roads (road_class code list: expressway, national,
 * provincial, urban arterial): what an investor means by access to a main road. */
static const char *const main_road_classes[] = {"cao_toc", "quoc_lo", "tinh_lo", "do_thi_chinh"};

static const char *const zoning_layers[Q_ZONING_LAYERS] = {"detailed_plan_lots", "zoning_blocks"};
_Static_assert(ARRAY_LEN(zoning_layers) == WORKER_ZONING_LAYERS, "struct worker's zoning caches");

static void set_zoning(struct fund_item *it, const struct qset *s, const struct qrow *r)
{
    it->z.found = 1;
    it->z.s = s, it->z.r = r;
    it->z.source = strcmp(s->layer->id, "zoning_blocks") ? "detailed_plan_lot" : "zoning_block";
    it->far = q_num(s, r, "max_far");
}

/* The lot (else block) containing the fund's interior point, looked up for this fund alone. */
static int zoning_one(struct qctx *q, struct fund_item *it, struct err *err)
{
    it->zoned = 1;
    GEOSGeometry *g = q_geom(q, it->r), *pt = g ? GEOSPointOnSurface_r(q->h, g) : NULL;
    if (!pt) return 0;
    int rc = 0;
    for (size_t i = 0; i < Q_ZONING_LAYERS && !rc && !it->z.found; i++) {
        const struct layer_def *l = q_layer(q, zoning_layers[i]);
        if (!l) continue;
        qset_fini(q, &it->z.own);
        rc = q_intersecting(q, l, pt, &it->z.own, err);
        if (!rc && it->z.own.n) set_zoning(it, &it->z.own, &it->z.own.rows[0]);
    }
    GEOSGeom_destroy_r(q->h, pt);
    return rc;
}
static int cmp_id(const struct fund_item *a, const struct fund_item *b)
{
    int c = strcmp(a->id, b->id);
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

/* Field values: nulls last in both directions, numbers before text. */
static int cmp_val(const struct value *a, const struct value *b, int desc)
{
    int ra = !a || a->type == VAL_NULL ? 2 : a->type == VAL_TEXT;
    int rb = !b || b->type == VAL_NULL ? 2 : b->type == VAL_TEXT;
    if (ra != rb || ra == 2) return ra - rb;
    int c = ra ? strcmp(a->s, b->s) : (a->d > b->d) - (a->d < b->d);
    return desc ? -c : c;
}

static int cmp_items(const void *pa, const void *pb, void *arg)
{
    const struct fund_item *a = pa, *b = pb;
    const struct fund_params *p = arg;
    int c = 0;
    switch (p->sort) {
    case SORT_FIELD:
        c = cmp_val(a->sv, b->sv, p->sort_desc);
        break;
    case SORT_AREA:
        c = cmp_num(a->area, b->area, 0);
        break;
    case SORT_AREA_DESC:
        c = cmp_num(a->area, b->area, 1);
        break;
    case SORT_DIST:
        c = cmp_num(a->dist, b->dist, 0);
        break;
    case SORT_DIST_DESC:
        c = cmp_num(a->dist, b->dist, 1);
        break;
    case SORT_FAR:
        c = cmp_num(a->far, b->far, 0);
        break;
    case SORT_FAR_DESC:
        c = cmp_num(a->far, b->far, 1);
        break;
    default:
        break;
    }
    return c ? c : cmp_id(a, b);
}

static void search_fini(struct search *se)
{
    struct qctx *q = se->q;
    for (int i = 0; i < se->n; i++) {
        qset_fini(q, &se->items[i].z.own);
        free(se->items[i].road), free(se->items[i].road_class);
    }
    free(se->items);
    for (size_t i = 0; i < Q_FUND_KINDS; i++)
        qset_fini(q, &se->sets[i]);
    for (size_t i = 0; i < Q_FUND_KINDS; i++)
        qset_fini(q, &se->full[i]);
    for (size_t i = 0; i < Q_ZONING_LAYERS; i++)
        qset_fini(q, &se->zsets[i]);
    for (int i = 0; i < se->n_names; i++)
        free(se->names[i]);
    free(se->names);
    for (int i = 0; i < se->n_codes; i++)
        free(se->codes[i]);
    if (se->bbox_prep) GEOSPreparedGeom_destroy_r(q->h, se->bbox_prep);
    if (se->bbox_poly) GEOSGeom_destroy_r(q->h, se->bbox_poly);
    if (se->near_pt) GEOSGeom_destroy_r(q->h, se->near_pt);
    geom_fini(&se->g);
}

/* The CRS84 bbox as a polygon in the storage CRS: edges densified (20 steps) before the
 * transformation, so the test follows the box as the client drew it. */
static int bbox_polygon(struct search *se, struct err *err)
{
    struct qctx *q = se->q;
    const double *bb = se->p->bbox;
    double xy[2 * 81];
    int n = 0;
    const double cx[5] = {bb[0], bb[2], bb[2], bb[0], bb[0]},
                 cy[5] = {bb[1], bb[1], bb[3], bb[3], bb[1]};
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
    se->near_xy[0] = xy[0], se->near_xy[1] = xy[1];
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

/* The filter tree for one kind; *skip when a filter cannot match this kind. */
static int kind_where(struct search *se, const struct layer_def *l, const struct fund_kind *k,
                      struct filter **w, int *skip, struct err *err)
{
    const struct fund_params *p = se->p;
    enum role role = se->q->role;
    int fc = access_field_index(l, "commune_code", role);
    int ff = access_field_index(l, k->function_field, role);
    int fs = access_field_index(l, "status", role), fa = access_field_index(l, "area_m2", role);
    int rc = 0;
    *skip = (p->function && !code_known(l, k->function_field, p->function)) ||
            (p->status && !code_known(l, "status", p->status));
    if (se->n_codes) {
        struct value v[QUERY_MAX_CODES];
        int n = se->n_codes < QUERY_MAX_CODES ? se->n_codes : QUERY_MAX_CODES;
        for (int i = 0; i < n; i++)
            v[i] = (struct value){.type = VAL_TEXT, .s = se->codes[i], .len = -1};
        rc = filter_and_in(w, l, fc, v, n);
    }
    struct value fv = {.type = VAL_TEXT, .s = p->function, .len = -1};
    struct value sv = {.type = VAL_TEXT, .s = p->status, .len = -1};
    struct value minv = {.type = VAL_REAL, .d = p->min_area};
    struct value maxv = {.type = VAL_REAL, .d = p->max_area};
    if (!rc && p->function) rc = filter_and_compare(w, l, ff, FOP_EQ, &fv);
    if (!rc && p->status) rc = filter_and_compare(w, l, fs, FOP_EQ, &sv);
    if (!rc && p->has_min_area) rc = filter_and_compare(w, l, fa, FOP_GE, &minv);
    if (!rc && p->has_max_area) rc = filter_and_compare(w, l, fa, FOP_LE, &maxv);
    if (rc == ERR_NOMEM) return err_set(err, ERR_NOMEM, "out of memory");
    return rc ? err_set(err, rc, "%s: cannot filter", l->id) : 0;
}

static int add_item(struct search *se, const struct fund_kind *k, struct qset *s, struct qrow *r,
                    struct err *err)
{
    struct qctx *q = se->q;
    double dist = NAN;
    if (se->near_pt && r->wkb && !geom_from_wkb(&se->g, r->wkb, r->wkb_len, NULL)) {
        /* from the WKB in C: GEOS's general distance was most of a near= search */
        dist = geom_point_distance(&se->g, se->near_xy[0], se->near_xy[1]);
        if (isinf(dist)) dist = NAN;
    } else if (se->near_pt &&
               (!q_geom(q, r) || !GEOSDistance_r(q->h, se->near_pt, r->geom, &dist))) {
        dist = NAN;
    }
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
    it->id = q_str(s, r, k->id_field);
    if (!it->id) it->id = "";
    if (se->p->sort == SORT_FIELD) it->sv = q_get(s, r, se->p->sort_field);
    if (isnan(it->area)) it->area = q_area(q, q_geom(q, r));
    return 0;
}

/* Light search: when nothing spatial is tested and the order needs no zoning, candidates are read
 * with only the fields that filter and sort them (id, area, public flag) and no geometry; the
 * page's funds are then read whole by id (materialize). */
static void light_fields(struct qctx *q, struct qset *s, const struct layer_def *l,
                         const struct fund_kind *k)
{
    static const char *const keep[] = {"area_m2", "public"};
    qset_layer(q, s, l);
    int n = 0;
    for (int i = 0; i < s->n_fields; i++) {
        const char *name = l->fields[s->fields[i]].name;
        int ok = strcmp(name, k->id_field) == 0;
        for (size_t j = 0; j < ARRAY_LEN(keep) && !ok; j++)
            ok = strcmp(name, keep[j]) == 0;
        if (ok) s->fields[n++] = s->fields[i];
    }
    s->n_fields = n;
}

/* Reads the whole rows of light items [from, to) by id (fid picks among equal ids). */
static int materialize(struct search *se, int from, int to, struct err *err)
{
    struct qctx *q = se->q;
    int *rows = calloc((size_t)(to > from ? to - from : 1), sizeof *rows), rc = 0;
    if (!rows) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = from; i < to && !rc; i++) {
        struct fund_item *it = &se->items[i];
        size_t ki = (size_t)(it->k - q_fund_kinds);
        const struct layer_def *l = se->sets[ki].layer;
        struct qset *full = &se->full[ki];
        int fk = layer_field_index(l, it->k->id_field), before = full->n;
        struct value v = {.type = VAL_TEXT, .s = it->id, .len = (int)strlen(it->id)};
        struct filter *w = NULL;
        struct qfetch f = {.lazy_geom = 1};
        rc = filter_and_compare(&w, l, fk, FOP_EQ, &v);
        f.filter = w;
        if (rc)
            rc = err_set(err, rc, rc == ERR_NOMEM ? "out of memory" : "%s: bad key", l->id);
        else
            rc = q_fetch(q, l, &f, full, err);
        filter_free(w);
        rows[i - from] = -1;
        for (int j = before; !rc && j < full->n; j++)
            if (full->rows[j].fid == it->r->fid) rows[i - from] = j;
    }
    for (int i = from; i < to && !rc; i++) { /* rows no longer move: point items at them */
        struct fund_item *it = &se->items[i];
        struct qset *full = &se->full[it->k - q_fund_kinds];
        if (rows[i - from] < 0) continue; /* deleted meanwhile: cannot happen in one snapshot */
        it->s = full, it->r = &full->rows[rows[i - from]];
        it->id = q_str(full, it->r, it->k->id_field);
        if (!it->id) it->id = "";
    }
    free(rows);
    return rc;
}

static int fetch_kind(struct search *se, size_t ki, struct err *err)
{
    const struct fund_kind *k = &q_fund_kinds[ki];
    const struct layer_def *l = q_layer(se->q, k->layer);
    if (!l || !(se->p->kinds & k->mask)) return 0;
    int skip;
    struct filter *w = NULL;
    int rc = kind_where(se, l, k, &w, &skip, err);
    struct qset *s = &se->sets[ki];
    struct qfetch f = {.bbox = se->has_box ? &se->box : NULL,
                       .filter = w,
                       .test = se->bbox_prep,
                       .lazy_geom = 1,
                       .no_geom = se->light};
    if (se->light) light_fields(se->q, s, l, k);
    if (!rc && !skip) rc = q_fetch(se->q, l, &f, s, err);
    filter_free(w);
    /* items point into s->rows, which no longer moves */
    for (int i = 0; !rc && !skip && i < s->n; i++)
        rc = add_item(se, k, s, &s->rows[i], err);
    return rc;
}

/* 400 when a code is in none of the selected kinds' code lists. */
static int check_code(struct search *se, const char *param, const char *code, int function,
                      struct err *err)
{
    if (!code) return 0;
    for (size_t i = 0; i < Q_FUND_KINDS; i++) {
        const struct layer_def *l = q_layer(se->q, q_fund_kinds[i].layer);
        if (l && (se->p->kinds & q_fund_kinds[i].mask) &&
            code_known(l, function ? q_fund_kinds[i].function_field : "status", code))
            return 0;
    }
    return err_setl(err, ERR_PARAM, param, "unknown %s \"%.40s\"", param, code);
}

static int enrich_zoning(struct search *se, int from, int to, struct err *err);

/* sort=<field>: a field of a selected kind the role may read; anything else is refused the
 * same way, so an answer never tells that a hidden field exists. */
static int check_sort_field(struct search *se, struct err *err)
{
    if (se->p->sort != SORT_FIELD) return 0;
    for (size_t i = 0; i < Q_FUND_KINDS; i++) {
        const struct layer_def *l = q_layer(se->q, q_fund_kinds[i].layer);
        if (l && (se->p->kinds & q_fund_kinds[i].mask) &&
            access_field_index(l, se->p->sort_field, se->q->role) >= 0)
            return 0;
    }
    return err_setl(err, ERR_PARAM, "sort", "unknown sort key \"%s%s\"",
                    se->p->sort_desc ? "-" : "", se->p->sort_field);
}

static int run_search(struct search *se, struct err *err)
{
    const struct fund_params *p = se->p;
    int rc = 0;
    if (p->commune)
        rc = q_resolve_commune(se->q, p->commune, se->codes, QUERY_MAX_CODES, &se->n_codes, err);
    if (!rc) rc = check_code(se, "function", p->function, 1, err);
    if (!rc) rc = check_code(se, "status", p->status, 0, err);
    if (!rc) rc = check_sort_field(se, err);
    if (!rc && p->has_bbox) rc = bbox_polygon(se, err);
    if (!rc && p->has_near) rc = near_point(se, err);
    se->light = !p->has_bbox && !p->has_near && p->sort != SORT_FAR && p->sort != SORT_FAR_DESC &&
                p->sort != SORT_FIELD;
    for (size_t i = 0; i < Q_FUND_KINDS && !rc; i++)
        rc = fetch_kind(se, i, err);
    int no_area = 0;
    for (int i = 0; se->light && !rc && i < se->n; i++)
        no_area |= isnan(se->items[i].area);
    if (no_area) { /* area from the geometry, as the full search computes it: read it all */
        se->light = 0, se->n = 0;
        for (size_t i = 0; i < Q_FUND_KINDS; i++)
            qset_fini(se->q, &se->sets[i]);
        for (size_t i = 0; i < Q_FUND_KINDS && !rc; i++)
            rc = fetch_kind(se, i, err);
    }
    if (!rc && (p->sort == SORT_FAR || p->sort == SORT_FAR_DESC))
        rc = enrich_zoning(se, 0, se->n, err);
    if (!rc && se->n > 0) /* items is NULL when nothing matched */
        qsort_r(se->items, (size_t)se->n, sizeof *se->items, cmp_items, (void *)p);
    return rc ? (err->code ? (int)err->code : ERR_NOMEM) : 0;
}

/* Nearest main road of a fund (name, class, distance) into name, cls (owned) and dist. */
/* Page enrichment. A page of funds close together (a commune, a near= search) is enriched with
 * one query per layer around the whole page instead of one per fund; funds spread over the
 * whole city are looked up one by one, which reads less. */
#define Q_BATCH_MAX_M2 16e6 /* batch when the page's box is at most 4 km x 4 km... */
#define Q_BATCH_MIN_N  100  /* ...or when this many funds need it (sort=-area_ratio) */

static int use_batch(const struct bbox *u, int n)
{
    return n >= 2 &&
           ((u->maxx - u->minx) * (u->maxy - u->miny) <= Q_BATCH_MAX_M2 || n >= Q_BATCH_MIN_N);
}

struct hits {
    struct qctx *q;
    const struct qset *s;
    const GEOSGeometry *pt;
    int best; /* row index with the lowest fid containing pt */
};

static void tree_hit(void *item, void *ud)
{
    struct hits *h = ud;
    int i = (int)(intptr_t)item - 1;
    const struct qrow *r = &h->s->rows[i];
    if ((h->best < 0 || r->fid < h->s->rows[h->best].fid) &&
        GEOSIntersects_r(h->q->h, r->geom, h->pt) == 1)
        h->best = i;
}

/* The zoning layers, read whole once per worker and role and kept (struct worker) with a GEOS
 * STRtree until the layer's version changes, like the main roads: every page of funds needs the
 * lot or block of each fund, and funds spread over a city otherwise cost two queries each. A
 * layer of more than ZONING_CACHE_MAX features (a city's whole detailed plan) is not kept; its
 * funds are looked up in the store as before. */
#define ZONING_CACHE_MAX 20000

struct zoning_cache {
    GEOSContextHandle_t h;
    const struct layer_def *layer; /* the catalog or agreement view it was read through */
    int64_t version;
    struct qset set;
    GEOSSTRtree *tree;
    const GEOSPreparedGeometry **prep; /* per row, prepared on first use */
};

static void zoning_cache_free(void *p)
{
    struct zoning_cache *z = p;
    if (!z) return;
    struct qctx q = {.h = z->h};
    if (z->tree) GEOSSTRtree_destroy_r(z->h, z->tree);
    for (int i = 0; z->prep && i < z->set.n; i++)
        if (z->prep[i]) GEOSPreparedGeom_destroy_r(z->h, z->prep[i]);
    free(z->prep);
    qset_fini(&q, &z->set);
    free(z);
}

/* The worker's copy of zoning layer j, loaded or reloaded; NULL (no error) when too large. */
static struct zoning_cache *zoning_cache_get(struct qctx *q, size_t j, const struct layer_def *l,
                                             struct err *err)
{
    struct layer_state ls;
    if (store_layer_state(q->st, l, &ls, err) || ls.n_features > ZONING_CACHE_MAX) return NULL;
    struct zoning_cache *z = q->req->worker->zoning[j][q->role];
    /* the worker keeps one copy per role: a key with a data-sharing agreement reads through its
     * own view of the layer (its row rule, its fields), so a copy read through another view is
     * read again, never shared */
    if (z && z->version == ls.version && z->h == q->h && z->layer == l) return z;
    if (!(z = calloc(1, sizeof *z))) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    z->h = q->h, z->version = ls.version, z->layer = l;
    qset_init(&z->set);
    struct qfetch f = {0};
    int rc = q_fetch(q, l, &f, &z->set, err);
    if (!rc && (!(z->tree = GEOSSTRtree_create_r(q->h, 10)) ||
                !(z->prep = calloc((size_t)(z->set.n ? z->set.n : 1), sizeof *z->prep))))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < z->set.n; i++)
        if (z->set.rows[i].geom)
            GEOSSTRtree_insert_r(q->h, z->tree, z->set.rows[i].geom, (void *)(intptr_t)(i + 1));
    if (rc) {
        zoning_cache_free(z);
        return NULL;
    }
    worker_keep_zoning(q->req->worker, (int)j, q->role, z, zoning_cache_free);
    return z;
}

/* 0 when every zoning layer the role reads is kept by the worker (se->zc), -1 when one is too
 * large (the store is searched instead), an error code otherwise. Looked up once per search, so
 * the copies cannot change under its items. */
static int zoning_cached(struct search *se, struct err *err)
{
    if (se->zc_state) return se->zc_state > 0 ? 0 : -1;
    se->zc_state = 1;
    for (size_t j = 0; j < Q_ZONING_LAYERS; j++) {
        const struct layer_def *l = q_layer(se->q, zoning_layers[j]);
        if (!l) continue;
        if (!(se->zc[j] = zoning_cache_get(se->q, j, l, err))) {
            se->zc_state = -1;
            return err->code ? (int)err->code : -1;
        }
    }
    return 0;
}

/* The lowest fid of the cached zones containing pt (boundary included), -1 if none. */
struct zhits {
    struct zoning_cache *z;
    const GEOSGeometry *pt;
    int best;
};

static void zone_hit(void *item, void *ud)
{
    struct zhits *h = ud;
    struct zoning_cache *z = h->z;
    int i = (int)(intptr_t)item - 1;
    if (h->best >= 0 && z->set.rows[i].fid >= z->set.rows[h->best].fid) return;
    if (!z->prep[i]) z->prep[i] = GEOSPrepare_r(z->h, z->set.rows[i].geom);
    if (z->prep[i] && GEOSPreparedIntersects_r(z->h, z->prep[i], h->pt) == 1) h->best = i;
}

static int enrich_zoning(struct search *se, int from, int to, struct err *err)
{
    struct qctx *q = se->q;
    int n = 0, rc = zoning_cached(se, err);
    if (rc > 0) return rc;
    if (rc == 0) { /* the worker's copies */
        for (int i = from; i < to; i++) {
            struct fund_item *it = &se->items[i];
            if (it->zoned) continue;
            it->zoned = 1;
            GEOSGeometry *g = q_geom(q, it->r), *pt = g ? GEOSPointOnSurface_r(q->h, g) : NULL;
            for (size_t j = 0; pt && j < Q_ZONING_LAYERS && !it->z.found; j++) {
                if (!se->zc[j]) continue;
                struct zhits h = {se->zc[j], pt, -1};
                GEOSSTRtree_query_r(q->h, se->zc[j]->tree, pt, zone_hit, &h);
                if (h.best >= 0) set_zoning(it, &se->zc[j]->set, &se->zc[j]->set.rows[h.best]);
            }
            if (pt) GEOSGeom_destroy_r(q->h, pt);
        }
        return 0;
    }
    rc = 0;
    struct bbox u;
    bbox_empty(&u);
    for (int i = from; i < to; i++) {
        struct bbox b;
        if (se->items[i].zoned) continue;
        q_geom_bbox(q, q_geom(q, se->items[i].r), &b);
        if (!bbox_is_empty(&b)) bbox_union(&u, &b), n++;
    }
    if (!use_batch(&u, n)) {
        for (int i = from; i < to && !rc; i++)
            if (!se->items[i].zoned) rc = zoning_one(q, &se->items[i], err);
        return rc;
    }
    GEOSSTRtree *trees[Q_ZONING_LAYERS] = {NULL};
    for (size_t j = 0; j < Q_ZONING_LAYERS && !rc; j++) {
        const struct layer_def *l = q_layer(q, zoning_layers[j]);
        struct qfetch f = {.bbox = &u};
        qset_fini(q, &se->zsets[j]);
        if (!l || (rc = q_fetch(q, l, &f, &se->zsets[j], err))) continue;
        if (!(trees[j] = GEOSSTRtree_create_r(q->h, 10))) rc = err_set(err, ERR_NOMEM, "no memory");
        for (int i = 0; !rc && i < se->zsets[j].n; i++)
            GEOSSTRtree_insert_r(q->h, trees[j], se->zsets[j].rows[i].geom,
                                 (void *)(intptr_t)(i + 1));
    }
    for (int i = from; i < to && !rc; i++) {
        struct fund_item *it = &se->items[i];
        if (it->zoned) continue;
        it->zoned = 1;
        GEOSGeometry *g = q_geom(q, it->r), *pt = g ? GEOSPointOnSurface_r(q->h, g) : NULL;
        for (size_t j = 0; pt && j < Q_ZONING_LAYERS && !it->z.found; j++) {
            struct hits h = {q, &se->zsets[j], pt, -1};
            if (trees[j]) GEOSSTRtree_query_r(q->h, trees[j], pt, tree_hit, &h);
            if (h.best >= 0) set_zoning(it, &se->zsets[j], &se->zsets[j].rows[h.best]);
        }
        if (pt) GEOSGeom_destroy_r(q->h, pt);
    }
    for (size_t j = 0; j < Q_ZONING_LAYERS; j++)
        if (trees[j]) GEOSSTRtree_destroy_r(q->h, trees[j]);
    return rc;
}

static int set_road(struct fund_item *it, const char *name, const char *cls, double d)
{
    it->roaded = 1;
    it->road_m = d;
    it->road = name ? str_dup(name) : NULL;
    it->road_class = cls ? str_dup(cls) : NULL;
    return (name && !it->road) || (cls && !it->road_class) ? ERR_NOMEM : 0;
}

/* The city's main roads, read once per worker and role and kept (struct worker) until the roads
 * layer's version in spp_layers, bumped by every import, changes: a few hundred geometries that
 * every land-fund page needs, and that would otherwise be read and parsed per request. */
struct main_roads {
    GEOSContextHandle_t h;
    const struct layer_def *layer; /* the catalog or agreement view it was read through */
    int64_t version;
    int n;
    int64_t *fid;
    GEOSGeometry **geom;
    struct bbox *box;
    char **name, **cls;
};

static void main_roads_free(void *p)
{
    struct main_roads *m = p;
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        if (m->geom[i]) GEOSGeom_destroy_r(m->h, m->geom[i]);
        free(m->name[i]), free(m->cls[i]);
    }
    free(m->fid), free(m->geom), free(m->box), free(m->name), free(m->cls), free(m);
}

static struct main_roads *main_roads_load(struct qctx *q, const struct layer_def *l, int fc,
                                          int64_t version, struct err *err)
{
    enum { NC = ARRAY_LEN(main_road_classes) };
    struct value v[NC];
    for (size_t i = 0; i < NC; i++)
        v[i] = (struct value){
            .type = VAL_TEXT, .s = main_road_classes[i], .len = (int)strlen(main_road_classes[i])};
    struct filter *w = NULL;
    struct qset s;
    qset_init(&s);
    int rc = filter_and_in(&w, l, fc, v, NC);
    if (rc) rc = err_set(err, rc, rc == ERR_NOMEM ? "out of memory" : "%s: bad class", l->id);
    struct qfetch f = {.filter = w};
    if (!rc) rc = q_fetch(q, l, &f, &s, err);
    filter_free(w);
    struct main_roads *m = rc ? NULL : calloc(1, sizeof *m);
    size_t n = (size_t)(s.n ? s.n : 1);
    if (m) {
        m->h = q->h, m->version = version, m->layer = l;
        m->fid = calloc(n, sizeof *m->fid), m->geom = calloc(n, sizeof *m->geom);
        m->box = calloc(n, sizeof *m->box), m->name = calloc(n, sizeof *m->name);
        m->cls = calloc(n, sizeof *m->cls);
    }
    if (m && (!m->fid || !m->geom || !m->box || !m->name || !m->cls)) {
        main_roads_free(m);
        m = NULL;
    }
    for (int i = 0; m && i < s.n; i++) {
        struct qrow *r = &s.rows[i];
        if (!r->geom) continue;
        int k = m->n++;
        m->fid[k] = r->fid, m->geom[k] = r->geom, r->geom = NULL; /* the cache owns it now */
        q_geom_bbox(q, m->geom[k], &m->box[k]);
        m->name[k] = str_dup(q_str(&s, r, "name"));
        m->cls[k] = str_dup(q_str(&s, r, "road_class"));
    }
    qset_fini(q, &s);
    if (!m && !rc) err_set(err, ERR_NOMEM, "out of memory");
    return m;
}

static struct main_roads *main_roads_get(struct qctx *q, const struct layer_def *l, int fc,
                                         struct err *err)
{
    struct layer_state ls;
    if (store_layer_state(q->st, l, &ls, err)) return NULL;
    struct main_roads *m = q->req->worker->main_roads[q->role];
    if (m && m->version == ls.version && m->h == q->h && m->layer == l) return m; /* as zoning */
    m = main_roads_load(q, l, fc, ls.version, err);
    if (m) worker_keep_main_roads(q->req->worker, q->role, m, main_roads_free);
    return m;
}

/* Squared distance between two boxes (0 when they meet). */
static double bbox_gap2(const struct bbox *a, const struct bbox *b)
{
    double dx = a->minx - b->maxx > b->minx - a->maxx ? a->minx - b->maxx : b->minx - a->maxx;
    double dy = a->miny - b->maxy > b->miny - a->maxy ? a->miny - b->maxy : b->miny - a->maxy;
    dx = dx > 0 ? dx : 0, dy = dy > 0 ? dy : 0;
    return dx * dx + dy * dy;
}

/* The main road nearest to g (box ib) within max_m, -1 if none (lowest fid among equally near
 * ones): roads taken in order of their box's distance (a selection, not a sort: only the first
 * few are measured), stopping at the first box farther than the best distance found. */
static int roads_nearest(const struct main_roads *m, const GEOSGeometry *g, const struct bbox *ib,
                         double max_m, double *gap2, double *bd)
{
    int best = -1, n = 0;
    *bd = INFINITY;
    for (int i = 0; i < m->n; i++)
        gap2[i] = bbox_gap2(ib, &m->box[i]), n += gap2[i] <= max_m * max_m;
    while (n-- > 0) {
        int k = -1;
        for (int i = 0; i < m->n; i++)
            if (gap2[i] <= max_m * max_m && (k < 0 || gap2[i] < gap2[k])) k = i;
        if (k < 0 || sqrt(gap2[k]) > *bd) break;
        gap2[k] = INFINITY; /* measured */
        double d;
        if (GEOSDistance_r(m->h, g, m->geom[k], &d) != 1 || d > max_m) continue;
        if (d < *bd || (d == *bd && m->fid[k] < m->fid[best])) best = k, *bd = d;
    }
    return best;
}

/* Nearest main road (within Q_ROAD_MAX_M) of each fund on the page, from the cached main roads;
 * the same answer as a search of the store, lowest fid on ties. */
static int enrich_roads(struct search *se, int from, int to, struct err *err)
{
    struct qctx *q = se->q;
    const struct layer_def *l = q_layer(q, "roads");
    int fc = l ? access_field_index(l, "road_class", q->role) : -1, rc = 0;
    for (int i = from; i < to; i++)
        se->items[i].roaded = 1;
    if (fc < 0 || to <= from) return 0;
    struct main_roads *m = main_roads_get(q, l, fc, err);
    if (!m) return err->code ? (int)err->code : ERR_NOMEM;
    double *gap2 = malloc((size_t)(m->n ? m->n : 1) * sizeof *gap2);
    if (!gap2) rc = err_set(err, ERR_NOMEM, "out of memory");
    for (int i = from; i < to && !rc; i++) {
        struct fund_item *it = &se->items[i];
        struct bbox ib;
        if (!q_geom(q, it->r)) continue;
        q_geom_bbox(q, it->r->geom, &ib);
        double bd;
        int best = roads_nearest(m, it->r->geom, &ib, Q_ROAD_MAX_M, gap2, &bd);
        if (best >= 0) rc = set_road(it, m->name[best], m->cls[best], bd);
    }
    free(gap2);
    return rc;
}

static int put_results(struct search *se, struct buf *b, struct err *err)
{
    const struct fund_params *p = se->p;
    int64_t from = p->offset < se->n ? p->offset : se->n;
    int64_t to = from + p->limit < se->n ? from + p->limit : se->n;
    int rc = se->light ? materialize(se, (int)from, (int)to, err) : 0;
    if (!rc) rc = enrich_zoning(se, (int)from, (int)to, err);
    if (!rc) rc = enrich_roads(se, (int)from, (int)to, err);
    if (rc) return rc;
    if (p->format == OUT_CSV) {
        rc = q_fund_csv(se, b, from, to, err);
        return rc == ERR_NOMEM ? err_set(err, ERR_NOMEM, "out of memory") : rc;
    }
    return q_fund_results(se, b, from, to, err);
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
    if (!rc) rc = q_check_known(req, known, err);
    if (!rc) rc = q_format(req, 0, 0, OUT_GEOJSON, &fmt, err);
    if (!rc && (!id || strlen(id) > 120)) rc = err_setl(err, ERR_NOT_FOUND, "id", "no land fund");
    for (size_t i = 0; i < Q_FUND_KINDS && !rc && se.n == 0; i++) {
        const struct layer_def *l = q_layer(&q, q_fund_kinds[i].layer);
        int fk = l ? access_field_index(l, q_fund_kinds[i].id_field, q.role) : -1;
        if (fk < 0) continue;
        struct filter *w = NULL;
        struct value v = {.type = VAL_TEXT, .s = id, .len = (int)strlen(id)};
        struct qfetch f = {.filter = NULL};
        rc = filter_and_compare(&w, l, fk, FOP_EQ, &v);
        f.filter = w;
        if (rc)
            rc = err_set(err, rc, rc == ERR_NOMEM ? "out of memory" : "%s: bad key", l->id);
        else
            rc = q_fetch(&q, l, &f, &se.sets[i], err);
        filter_free(w);
        for (int j = 0; !rc && j < se.sets[i].n && se.n == 0; j++)
            rc = add_item(&se, &q_fund_kinds[i], &se.sets[i], &se.sets[i].rows[j], err);
    }
    if (!rc && se.n == 0)
        rc = err_setl(err, ERR_NOT_FOUND, "id", "no land fund with id \"%s\"", id);
    if (!rc) rc = enrich_zoning(&se, 0, 1, err);
    if (!rc) rc = enrich_roads(&se, 0, 1, err);
    if (!rc) rc = q_fund_feature(&se, &res->body, id, &se.items[0], err);
    if (!rc) resp_set(res, 200, "application/geo+json");
    if (q.h) search_fini(&se);
    qctx_fini(&q);
    return rc ? (err->code ? (int)err->code : ERR_NOMEM) : 0;
}
