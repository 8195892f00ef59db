/* SPDX-License-Identifier: MIT */
/* funds_int.h: what the land-fund search (funds.c) shares with its output (funds_out.c): the
 * two kinds of fund, a result with its zoning and nearest main road, and the search state. */
#ifndef SPP_FUNDS_INT_H
#define SPP_FUNDS_INT_H

#include "query_int.h"

struct fund_kind {
    int mask;
    const char *layer, *kind;
    const char *id_field, *function_field, *manager_field, *deadline_field;
};
#define Q_FUND_KINDS 2
/* vacant_land_fund and investment_land, in the order results of a tie are listed */
extern const struct fund_kind q_fund_kinds[Q_FUND_KINDS];
#define Q_ZONING_LAYERS 2 /* detailed-plan lots, then zoning blocks */

struct zoning {
    int found;
    const char *source;   /* "detailed_plan_lot" or "zoning_block" */
    const struct qset *s; /* the lot or block: row r of s */
    const struct qrow *r;
    struct qset own; /* rows looked up for this fund alone */
};

struct fund_item {
    const struct fund_kind *k;
    struct qset *s;
    struct qrow *r;
    const char *id;         /* the fund's id (borrowed from r), "" when missing */
    const struct value *sv; /* sort=<field>: its value in r, NULL when the layer has none */
    double area, dist, far;
    int zoned, roaded;
    struct zoning z;
    char *road, *road_class; /* nearest main road (owned), NULL when none within range */
    double road_m;
};

struct search {
    struct qctx *q;
    const struct fund_params *p;
    char *codes[QUERY_MAX_CODES];
    int n_codes;
    int has_box;
    struct bbox box;         /* storage CRS: R*Tree window */
    GEOSGeometry *bbox_poly; /* the CRS84 bbox as a storage-CRS polygon (exact test) */
    const GEOSPreparedGeometry *bbox_prep;
    GEOSGeometry *near_pt; /* storage CRS */
    double near_xy[2];     /* the same point */
    struct geom g;         /* scratch: a candidate's geometry decoded from its WKB */
    struct qset sets[Q_FUND_KINDS];
    struct fund_item *items;
    int n, cap;
    struct qset zsets[Q_ZONING_LAYERS]; /* lots and blocks around a page (batch) */
    char **names;                       /* commune code, name pairs looked up (grown) */
    int light;                          /* candidates without geometry (materialize) */
    struct qset full[Q_FUND_KINDS];     /* whole rows of a light search's page */
    int n_names, cap_names;
    struct zoning_cache *zc[Q_ZONING_LAYERS]; /* worker's copies, fixed for the search */
    int zc_state;                             /* 0 not looked up, 1 usable, -1 not */
};

/* Output (funds_out.c). */
/* The properties of one result (no braces); with_dist adds distance_m to near=. ERR_NOMEM. */
int q_fund_props(struct search *se, struct buf *b, struct fund_item *it, int with_dist,
                 struct err *err);
/* The JSON or GeoJSON (se->p->format) answer of results from..to-1, with paging and the note.
 * ERR_NOMEM, the errors of the geometries' transformation. */
int q_fund_results(struct search *se, struct buf *b, int64_t from, int64_t to, struct err *err);
/* One fund as a GeoJSON Feature with id, properties, geometry and the disclaimer. */
int q_fund_feature(struct search *se, struct buf *b, const char *id, struct fund_item *it,
                   struct err *err);
/* The CSV of results from..to-1 (byte order mark, header in the request's lang, rows). */
int q_fund_csv(struct search *se, struct buf *b, int64_t from, int64_t to, struct err *err);

#endif
