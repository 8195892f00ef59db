/* SPDX-License-Identifier: MIT */
/* crs.c: CRS names and PROJ transformations, one PROJ context per worker.
 *
 * Every CRS on the VN-2000 datum is wrapped in a bound CRS whose transformation to WGS 84 is
 * EPSG:6960 (the Decision 05/2007 parameters, coordinate frame convention), so every
 * transformation to or from WGS 84 uses exactly that Helmert transformation, and one between two
 * VN-2000 CRSs is a pure projection change. Created from "EPSG:5897" directly, PROJ would pick
 * EPSG:5194 inside the Mekong delta (DOMAIN.md 1.2), 0.8 m away, and differently per point. */
#define GEOS_USE_ONLY_R_API
#include "geo.h"

#include <ctype.h>
#include <geos_c.h>
#include <math.h>
#include <proj.h>
#include <proj_experimental.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRS_CACHE 48
#define OP_CACHE  64

struct crs_entry {
    int srid;
    PJ *crs;    /* NULL if unknown */
    int latlon; /* authority axis order is north/lat first */
    int geographic;
};

struct op_entry {
    int src, dst;
    PJ *op; /* normalized for visualisation: x = east/lon in and out */
};

struct geo_ctx {
    PJ_CONTEXT *pj;
    GEOSContextHandle_t geos;
    struct crs_entry crs[CRS_CACHE];
    int n_crs;
    struct op_entry ops[OP_CACHE];
    int n_ops, next_op;
};

static void geos_msg(const char *fmt, ...)
{
    (void)fmt; /* GEOS notices are reported through return values instead */
}

struct geo_ctx *geo_ctx_new(struct err *err)
{
    struct geo_ctx *g = calloc(1, sizeof *g);
    if (!g) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->pj = proj_context_create();
    g->geos = GEOS_init_r();
    if (!g->pj || !g->geos) {
        geo_ctx_free(g);
        err_set(err, ERR_INTERNAL, "cannot create PROJ/GEOS context");
        return NULL;
    }
    proj_context_use_proj4_init_rules(g->pj, 0);
    proj_context_set_enable_network(g->pj, 0);
    proj_log_level(g->pj, PJ_LOG_NONE);
    GEOSContext_setNoticeHandler_r(g->geos, geos_msg);
    GEOSContext_setErrorHandler_r(g->geos, geos_msg);
    return g;
}

void geo_ctx_free(struct geo_ctx *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_ops; i++)
        proj_destroy(g->ops[i].op);
    for (int i = 0; i < g->n_crs; i++)
        proj_destroy(g->crs[i].crs);
    if (g->geos) GEOS_finish_r(g->geos);
    if (g->pj) proj_context_destroy(g->pj);
    free(g);
}

void *geo_geos(struct geo_ctx *g)
{
    return g->geos;
}

int geo_crs_parse(const char *s, int *srid)
{
    static const char *const prefixes[] = {"EPSG:",
                                           "urn:ogc:def:crs:EPSG::",
                                           "urn:ogc:def:crs:EPSG:6.6:",
                                           "urn:x-ogc:def:crs:EPSG:",
                                           "http://www.opengis.net/def/crs/EPSG/0/",
                                           "https://www.opengis.net/def/crs/EPSG/0/",
                                           "http://www.opengis.net/gml/srs/epsg.xml#",
                                           "epsg:"};
    static const char *const crs84[] = {"CRS:84",
                                        "CRS84",
                                        "urn:ogc:def:crs:OGC:1.3:CRS84",
                                        "urn:ogc:def:crs:OGC::CRS84",
                                        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                                        "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
                                        "OGC:CRS84"};
    if (!s) return ERR_PARAM;
    for (size_t i = 0; i < ARRAY_LEN(crs84); i++)
        if (str_ieq(s, crs84[i])) {
            *srid = GEO_SRID_CRS84;
            return 0;
        }
    for (size_t i = 0; i < ARRAY_LEN(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncasecmp(s, prefixes[i], n) != 0) continue;
        const char *num = s + n;
        long v;
        if (!isdigit((unsigned char)num[0]) || str_to_long(num, &v) || v <= 0 || v > 999999)
            return ERR_PARAM;
        *srid = (int)v;
        return 0;
    }
    return ERR_PARAM;
}

const char *geo_crs_name(int srid, char out[32])
{
    if (srid == GEO_SRID_CRS84)
        snprintf(out, 32, "CRS:84");
    else
        snprintf(out, 32, "EPSG:%d", srid);
    return out;
}

const char *geo_crs_uri(int srid, char out[64])
{
    if (srid == GEO_SRID_CRS84)
        snprintf(out, 64, "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    else
        snprintf(out, 64, "http://www.opengis.net/def/crs/EPSG/0/%d", srid);
    return out;
}

/* Is this CRS on the VN-2000 datum (EPSG:6756)? */
static int is_vn2000(PJ_CONTEXT *ctx, PJ *crs)
{
    PJ *datum = proj_crs_get_datum(ctx, crs);
    if (!datum) {
        PJ *geod = proj_crs_get_geodetic_crs(ctx, crs);
        if (geod) {
            datum = proj_crs_get_datum(ctx, geod);
            proj_destroy(geod);
        }
    }
    int yes = 0;
    if (datum) {
        const char *code = proj_get_id_code(datum, 0);
        const char *name = proj_get_name(datum);
        yes = (code && strcmp(code, "6756") == 0) || (name && strstr(name, "Vietnam 2000"));
        proj_destroy(datum);
    }
    return yes;
}

static struct crs_entry *crs_get(struct geo_ctx *g, int srid)
{
    for (int i = 0; i < g->n_crs; i++)
        if (g->crs[i].srid == srid) return &g->crs[i];
    if (g->n_crs == CRS_CACHE) return NULL;
    struct crs_entry *e = &g->crs[g->n_crs];
    memset(e, 0, sizeof *e);
    e->srid = srid;
    char def[32];
    if (srid == GEO_SRID_CRS84)
        snprintf(def, sizeof def, "OGC:CRS84");
    else
        snprintf(def, sizeof def, "EPSG:%d", srid);
    PJ *crs = proj_create(g->pj, def);
    if (crs && !proj_is_crs(crs)) {
        proj_destroy(crs);
        crs = NULL;
    }
    if (crs) {
        PJ_TYPE t = proj_get_type(crs);
        e->geographic = t == PJ_TYPE_GEOGRAPHIC_2D_CRS || t == PJ_TYPE_GEOGRAPHIC_3D_CRS;
        PJ *cs = proj_crs_get_coordinate_system(g->pj, crs);
        if (cs) {
            const char *dir = NULL;
            proj_cs_get_axis_info(g->pj, cs, 0, NULL, NULL, &dir, NULL, NULL, NULL, NULL);
            e->latlon = dir && (str_ieq(dir, "north") || str_ieq(dir, "south"));
            proj_destroy(cs);
        }
        if (is_vn2000(g->pj, crs)) {
            PJ *op = proj_create(g->pj, "urn:ogc:def:coordinateOperation:EPSG::6960");
            PJ *hub = proj_create(g->pj, "EPSG:4326");
            PJ *bound = op && hub ? proj_crs_create_bound_crs(g->pj, crs, hub, op) : NULL;
            proj_destroy(op);
            proj_destroy(hub);
            proj_destroy(crs);
            crs = bound; /* NULL (unknown) rather than silently using another operation */
        }
    }
    e->crs = crs;
    g->n_crs++;
    return e;
}

int geo_crs_known(struct geo_ctx *g, int srid)
{
    struct crs_entry *e = crs_get(g, srid);
    return e && e->crs;
}

int geo_crs_latlon(struct geo_ctx *g, int srid)
{
    struct crs_entry *e = crs_get(g, srid);
    return e && e->crs && e->latlon;
}

int geo_crs_geographic(struct geo_ctx *g, int srid)
{
    struct crs_entry *e = crs_get(g, srid);
    return e && e->crs && e->geographic;
}

static PJ *op_get(struct geo_ctx *g, int src, int dst, struct err *err)
{
    for (int i = 0; i < g->n_ops; i++)
        if (g->ops[i].src == src && g->ops[i].dst == dst) return g->ops[i].op;
    struct crs_entry *a = crs_get(g, src), *b = crs_get(g, dst);
    char name[32];
    if (!a || !a->crs) {
        err_set(err, ERR_PARAM, "unknown CRS %s", geo_crs_name(src, name));
        return NULL;
    }
    if (!b || !b->crs) {
        err_set(err, ERR_PARAM, "unknown CRS %s", geo_crs_name(dst, name));
        return NULL;
    }
    PJ *op = proj_create_crs_to_crs_from_pj(g->pj, a->crs, b->crs, NULL, NULL);
    PJ *norm = op ? proj_normalize_for_visualization(g->pj, op) : NULL;
    proj_destroy(op);
    if (!norm) {
        err_set(err, ERR_PARAM, "no transformation from %s", geo_crs_name(src, name));
        return NULL;
    }
    int slot;
    if (g->n_ops < OP_CACHE) {
        slot = g->n_ops++;
    } else {
        slot = g->next_op;
        g->next_op = (g->next_op + 1) % OP_CACHE;
        proj_destroy(g->ops[slot].op);
    }
    g->ops[slot] = (struct op_entry){src, dst, norm};
    return norm;
}

int geo_transform(struct geo_ctx *g, int src, int dst, double *xy, size_t n, struct err *err)
{
    if (src == dst || n == 0) return 0;
    if ((src == GEO_SRID_CRS84 && dst == 4326) || (src == 4326 && dst == GEO_SRID_CRS84)) return 0;
    PJ *op = op_get(g, src, dst, err);
    if (!op) return ERR_PARAM;
    proj_errno_reset(op);
    size_t done = proj_trans_generic(op, PJ_FWD, xy, 2 * sizeof(double), n, xy + 1,
                                     2 * sizeof(double), n, NULL, 0, 0, NULL, 0, 0);
    if (done != n) return err_set(err, ERR_PARAM, "coordinate transformation failed");
    for (size_t i = 0; i < 2 * n; i++)
        if (!isfinite(xy[i]))
            return err_set(err, ERR_PARAM, "coordinates outside the area of the CRS");
    return 0;
}

void geo_warm(struct geo_ctx *g, int storage_srid)
{
    const int other[] = {3857, 4326};
    for (int i = 0; i < 2; i++) {
        struct err e;
        err_clear(&e);
        op_get(g, storage_srid, other[i], &e);
        op_get(g, other[i], storage_srid, &e);
    }
}

int geo_transform_bbox(struct geo_ctx *g, int src, int dst, const struct bbox *in, struct bbox *out,
                       struct err *err)
{
    return geo_transform_bbox_steps(g, src, dst, in, 20, out, err);
}

int geo_transform_bbox_steps(struct geo_ctx *g, int src, int dst, const struct bbox *in, int steps,
                             struct bbox *out, struct err *err)
{
    enum { STEPS = 20 };
    double xy[4 * STEPS * 2];
    int k = 0;
    steps = steps < 1 ? 1 : steps > STEPS ? STEPS : steps;
    for (int i = 0; i < steps; i++) {
        double t = (double)i / steps;
        double x = in->minx + t * (in->maxx - in->minx), y = in->miny + t * (in->maxy - in->miny);
        xy[k++] = x, xy[k++] = in->miny;
        xy[k++] = in->maxx, xy[k++] = y;
        xy[k++] = in->maxx - (x - in->minx), xy[k++] = in->maxy;
        xy[k++] = in->minx, xy[k++] = in->maxy - (y - in->miny);
    }
    int rc = geo_transform(g, src, dst, xy, (size_t)(4 * steps), err);
    if (rc) return rc;
    bbox_empty(out);
    for (int i = 0; i < 4 * steps; i++)
        bbox_add(out, xy[2 * i], xy[2 * i + 1]);
    return 0;
}
