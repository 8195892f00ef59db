/* SPDX-License-Identifier: MIT */
/* topology.c: parcels should tile the land: overlaps between neighbouring parcels larger than
 * OVERLAP_M2 and gaps (holes of the union smaller than GAP_MAX_M2, i.e. slivers between parcels,
 * not blocks of roads or water) are reported as findings of the batch, with where they are. Run
 * after the parcels are loaded (read back through store_load_scan); above MAX_PARCELS it is
 * skipped and the report says so. */
#define GEOS_USE_ONLY_R_API
#include "batch_int.h"

#include <geos_c.h>
#include <stdio.h>
#include <stdlib.h>

#define OVERLAP_M2  1.0
#define GAP_MAX_M2  50.0
#define GAP_MIN_M2  0.01
#define MAX_PARCELS 50000

struct topo {
    struct batch *b;
    GEOSContextHandle_t h;
    const struct layer_def *l;
    GEOSGeometry **g;
    int64_t *fid;
    int n, self;
    int n_overlaps;
};

static void visit(void *item, void *ud)
{
    struct topo *t = ud;
    int j = (int)(intptr_t)item;
    if (j <= t->self || GEOSIntersects_r(t->h, t->g[t->self], t->g[j]) != 1) return;
    GEOSGeometry *x = GEOSIntersection_r(t->h, t->g[t->self], t->g[j]);
    double a = 0;
    if (x) GEOSArea_r(t->h, x, &a);
    if (a > OVERLAP_M2) {
        char msg[160];
        snprintf(msg, sizeof msg, "parcels fid %lld and %lld overlap by %.1f m2",
                 (long long)t->fid[t->self], (long long)t->fid[j], a);
        batch_finding(t->b, t->l->id, "", 0, "warning", "overlap", msg);
        t->n_overlaps++;
    }
    if (x) GEOSGeom_destroy_r(t->h, x);
}

static int gaps(struct topo *t)
{
    GEOSGeometry *coll =
        GEOSGeom_createCollection_r(t->h, GEOS_GEOMETRYCOLLECTION, t->g, (unsigned)t->n);
    if (!coll) return 0;
    GEOSGeometry *u = GEOSUnaryUnion_r(t->h, coll);
    int n_gaps = 0;
    for (int i = 0; u && i < GEOSGetNumGeometries_r(t->h, u); i++) {
        const GEOSGeometry *p = GEOSGetGeometryN_r(t->h, u, i);
        for (int k = 0; k < GEOSGetNumInteriorRings_r(t->h, p); k++) {
            const GEOSGeometry *ring = GEOSGetInteriorRingN_r(t->h, p, k);
            GEOSGeometry *hole =
                GEOSGeom_createPolygon_r(t->h, GEOSGeom_clone_r(t->h, ring), NULL, 0);
            double a = 0, x = 0, y = 0;
            if (hole) GEOSArea_r(t->h, hole, &a);
            if (hole && a > GAP_MIN_M2 && a < GAP_MAX_M2) {
                GEOSGeometry *c = GEOSGetCentroid_r(t->h, hole);
                if (c)
                    GEOSGeomGetX_r(t->h, c, &x), GEOSGeomGetY_r(t->h, c, &y),
                        GEOSGeom_destroy_r(t->h, c);
                char msg[160];
                snprintf(msg, sizeof msg, "gap of %.2f m2 between parcels near %.2f, %.2f", a, x,
                         y);
                batch_finding(t->b, t->l->id, "", 0, "warning", "gap", msg);
                n_gaps++;
            }
            if (hole) GEOSGeom_destroy_r(t->h, hole);
        }
    }
    if (u) GEOSGeom_destroy_r(t->h, u);
    /* the collection owns the parcels now: free it instead of them */
    GEOSGeom_destroy_r(t->h, coll);
    t->n = 0;
    return n_gaps;
}

struct topo_load {
    struct topo *t;
    GEOSWKBReader *rd;
    int cap, too_many, oom;
};

static int topo_row(void *ud, const struct feature *f, const struct bbox *box)
{
    (void)box;
    struct topo_load *x = ud;
    struct topo *t = x->t;
    if (t->n >= MAX_PARCELS) {
        x->too_many = 1;
        return -1; /* stop the scan */
    }
    if (!f->wkb) return 0;
    GEOSGeometry *g = GEOSWKBReader_read_r(t->h, x->rd, f->wkb, f->wkb_len);
    if (!g) return 0;
    if (t->n == x->cap) {
        int cap = x->cap ? x->cap * 2 : 1024;
        GEOSGeometry **gg = realloc(t->g, (size_t)cap * sizeof *gg);
        if (gg) t->g = gg;
        int64_t *ff = gg ? realloc(t->fid, (size_t)cap * sizeof *ff) : NULL;
        if (ff) t->fid = ff;
        if (!gg || !ff) {
            GEOSGeom_destroy_r(t->h, g);
            x->oom = 1;
            return -1;
        }
        x->cap = cap;
    }
    t->fid[t->n] = f->fid;
    t->g[t->n++] = g;
    return 0;
}

int batch_parcel_topology(struct batch *b, const struct layer_def *l, struct err *err)
{
    struct topo t = {b, geo_geos(b->geo), l, NULL, NULL, 0, 0, 0};
    json_t *lr = report_layer(b, l), *top = json_object();
    json_object_set_new(lr, "topology", top);
    struct topo_load x = {&t, GEOSWKBReader_create_r(t.h), 0, 0, 0};
    struct store_scan q = {l, NULL, 0, 1, -1};
    int rc = store_load_scan(b->ld, &q, topo_row, &x, err);
    GEOSWKBReader_destroy_r(t.h, x.rd);
    if (rc > 0 || x.oom) {
        for (int i = 0; i < t.n; i++)
            GEOSGeom_destroy_r(t.h, t.g[i]);
        free(t.g), free(t.fid);
        return rc > 0 ? rc : err_set(err, ERR_NOMEM, "out of memory");
    }
    if (x.too_many) {
        json_object_set_new(top, "skipped", json_string("more than 50000 parcels"));
    } else {
        GEOSSTRtree *tree = GEOSSTRtree_create_r(t.h, 10);
        for (int i = 0; i < t.n; i++)
            GEOSSTRtree_insert_r(t.h, tree, t.g[i], (void *)(intptr_t)i);
        for (t.self = 0; t.self < t.n; t.self++)
            GEOSSTRtree_query_r(t.h, tree, t.g[t.self], visit, &t);
        GEOSSTRtree_destroy_r(t.h, tree);
        json_object_set_new(top, "overlap_tolerance_m2", json_real(OVERLAP_M2));
        json_object_set_new(top, "overlaps", json_integer(t.n_overlaps));
        json_object_set_new(top, "gap_max_m2", json_real(GAP_MAX_M2));
        json_object_set_new(top, "gaps", json_integer(gaps(&t)));
    }
    for (int i = 0; i < t.n; i++)
        GEOSGeom_destroy_r(t.h, t.g[i]);
    free(t.g), free(t.fid);
    return 0;
}
