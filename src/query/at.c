/* SPDX-License-Identifier: MIT */
/* at.c: GET /api/v1/land/at: everything that applies at a point, the way Vietnamese planning
 * portals answer a map click or pasted VN-2000 X/Y (DOMAIN.md section 7): the parcel, current
 * land use, land-use plan, zoning block, detailed-plan lot, general-plan zone, red lines and the
 * parcel's m2 inside the road reserve, the plans that apply, the land-price segment of the nearest
 * road, and the "reference only" note. A point outside every parcel still gets the zoning. */
#include "query_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Q_PRICE_MAX_M 2000.0 /* farthest road a land-price segment is looked for, m */

/* {props} of row r of s. */
static int put_row(struct qctx *q, struct buf *b, const struct qset *s, const struct qrow *r)
{
    int first = 1;
    int rc = buf_putc(b, '{');
    if (!rc) rc = q_put_props(q, b, s, r, &first);
    return rc ? rc : buf_putc(b, '}');
}

int q_put_at_one(struct qctx *q, struct buf *b, const char *key, const char *id,
                 const GEOSGeometry *pt, struct err *err)
{
    const struct layer_def *l = q_layer(q, id);
    if (!l) return 0;
    struct qset s;
    qset_init(&s);
    int rc = q_intersecting(q, l, pt, &s, err);
    if (!rc) {
        /* overlapping features (plan adjustments): the first stored answers */
        int out = encode_cat(b, ",\"", key, "\":", NULL);
        if (!out) out = s.n ? put_row(q, b, &s, &s.rows[0]) : buf_puts(b, "null");
        if (out) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    qset_fini(q, &s);
    return rc;
}

int q_put_at_all(struct qctx *q, struct buf *b, const char *key, const char *id,
                 const GEOSGeometry *g, struct err *err)
{
    const struct layer_def *l = q_layer(q, id);
    if (!l) return 0;
    struct qset s;
    qset_init(&s);
    int rc = q_intersecting(q, l, g, &s, err);
    if (!rc) {
        int out = encode_cat(b, ",\"", key, "\":[", NULL);
        for (int i = 0; i < s.n && !out; i++) {
            if (i) out = buf_putc(b, ',');
            if (!out) out = put_row(q, b, &s, &s.rows[i]);
        }
        if (!out) out = buf_putc(b, ']');
        if (out) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    qset_fini(q, &s);
    return rc;
}

/* The point in the storage CRS (*x, *y) and in CRS84 (*lon, *lat). */
static int locate(struct qctx *q, const struct query_point *p, double xy[2], double ll[2],
                  struct err *err)
{
    struct err e;
    err_clear(&e);
    const char *loc = p->has_lonlat ? "lon" : "x";
    if (p->has_lonlat) {
        ll[0] = xy[0] = p->lon, ll[1] = xy[1] = p->lat;
        if (geo_transform(q->geo, GEO_SRID_CRS84, q->srid, xy, 1, &e))
            return err_setl(err, ERR_PARAM, loc, "the point cannot be transformed: %s", e.msg);
        return 0;
    }
    if (!geo_crs_known(q->geo, p->crs) || geo_crs_geographic(q->geo, p->crs))
        return err_setl(err, ERR_PARAM, "crs", "crs EPSG:%d is not a known projected CRS", p->crs);
    ll[0] = xy[0] = p->x, ll[1] = xy[1] = p->y;
    if (geo_transform(q->geo, p->crs, q->srid, xy, 1, &e) ||
        (ll[0] = xy[0], ll[1] = xy[1], geo_transform(q->geo, q->srid, GEO_SRID_CRS84, ll, 1, &e)))
        return err_setl(err, ERR_PARAM, loc, "the point cannot be transformed: %s", e.msg);
    if (ll[0] < -180 || ll[0] > 180 || ll[1] < -90 || ll[1] > 90)
        return err_setl(err, ERR_PARAM, loc, "x/y lie outside the area of EPSG:%d", p->crs);
    return 0;
}

static int put_point(struct qctx *q, struct buf *b, const double xy[2], const double ll[2])
{
    char crs[32];
    int rc = buf_puts(b, "{\"point\":{\"lon\":");
    if (!rc) rc = encode_number_exact(b, ll[0], 7);
    if (!rc) rc = buf_puts(b, ",\"lat\":");
    if (!rc) rc = encode_number_exact(b, ll[1], 7);
    if (!rc) rc = buf_puts(b, ",\"crs\":");
    if (!rc) rc = buf_put_json_str(b, geo_crs_name(q->srid, crs));
    if (!rc) rc = buf_puts(b, ",\"x\":");
    if (!rc) rc = encode_number_exact(b, xy[0], 3);
    if (!rc) rc = buf_puts(b, ",\"y\":");
    if (!rc) rc = encode_number_exact(b, xy[1], 3);
    if (!rc) rc = buf_puts(b, ",\"x_n\":");
    if (!rc) rc = encode_number_exact(b, xy[1], 3);
    if (!rc) rc = buf_puts(b, ",\"y_e\":");
    if (!rc) rc = encode_number_exact(b, xy[0], 3);
    return rc ? rc : buf_putc(b, '}');
}

/* {props, commune_name, geom_area_m2, geometry} of the parcel in row r of s. */
static int put_parcel_row(struct qctx *q, struct buf *b, const struct qset *s, struct qrow *r,
                          struct err *err)
{
    char *cname = NULL;
    int rc = q_commune_name(q, q_str(s, r, "commune_code"), &cname, err);
    if (rc) return rc;
    int first = 1;
    rc = buf_putc(b, '{');
    if (!rc) rc = q_put_props(q, b, s, r, &first);
    if (!rc) rc = buf_puts(b, ",\"commune_name\":");
    if (!rc) rc = cname ? buf_put_json_str(b, cname) : buf_puts(b, "null");
    if (!rc) rc = buf_puts(b, ",\"geom_area_m2\":");
    if (!rc) rc = encode_number_exact(b, q_area(q, r->geom), 2);
    if (!rc) rc = buf_puts(b, ",\"geometry\":");
    free(cname);
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if ((rc = q_put_geometry(q, b, r->wkb, r->wkb_len, err))) return rc;
    return buf_putc(b, '}') ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

/* ,"parcel":{...} or null. *geom gets a clone. */
static int put_parcel(struct qctx *q, struct buf *b, const GEOSGeometry *pt, GEOSGeometry **geom,
                      struct err *err)
{
    *geom = NULL;
    const struct layer_def *l = q_layer(q, "cadastral_parcels");
    if (!l) return 0;
    struct qset s;
    qset_init(&s);
    int rc = q_intersecting(q, l, pt, &s, err);
    if (!rc && buf_puts(b, ",\"parcel\":")) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc && s.n) {
        rc = put_parcel_row(q, b, &s, &s.rows[0], err);
        *geom = GEOSGeom_clone_r(q->h, s.rows[0].geom);
    } else if (!rc && buf_puts(b, "null")) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    qset_fini(q, &s);
    return rc;
}

/* ,"land_price":{props, distance_m} of the segment nearest to g, or null. */
static int put_price(struct qctx *q, struct buf *b, const GEOSGeometry *g, struct err *err)
{
    const struct layer_def *l = q_layer(q, "land_price_segments");
    if (!l) return 0;
    struct qset s;
    qset_init(&s);
    int best, first = 1;
    double d;
    int rc = q_nearest(q, l, g, NULL, Q_PRICE_MAX_M, &s, &best, &d, err);
    if (!rc) {
        int out = buf_puts(b, ",\"land_price\":");
        if (!out && best >= 0) {
            out = buf_putc(b, '{');
            if (!out) out = q_put_props(q, b, &s, &s.rows[best], &first);
            if (!out) out = buf_puts(b, ",\"distance_m\":");
            if (!out) out = encode_number_exact(b, d, 2);
            if (!out) out = buf_putc(b, '}');
        } else if (!out) {
            out = buf_puts(b, "null");
        }
        if (out) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    qset_fini(q, &s);
    return rc;
}

static int answer(struct qctx *q, struct buf *b, const double xy[2], const double ll[2],
                  struct err *err)
{
    GEOSGeometry *pt = q_point(q, xy[0], xy[1]), *parcel = NULL;
    if (!pt) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = put_point(q, b, xy, ll) ? err_set(err, ERR_NOMEM, "out of memory") : 0;
    if (!rc) rc = put_parcel(q, b, pt, &parcel, err);
    if (!rc) rc = q_put_at_all(q, b, "current_land_use", "land_use_current", pt, err);
    if (!rc) rc = q_put_at_all(q, b, "land_use_plan", "land_use_plan", pt, err);
    if (!rc) rc = q_put_at_one(q, b, "zoning_block", "zoning_blocks", pt, err);
    if (!rc) rc = q_put_at_one(q, b, "detailed_plan_lot", "detailed_plan_lots", pt, err);
    if (!rc) rc = q_put_at_one(q, b, "general_plan_zone", "general_plan_zones", pt, err);
    if (!rc && parcel) rc = q_put_red_lines(q, b, parcel, err);
    if (!rc && !parcel && buf_puts(b, ",\"red_lines\":null"))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) rc = q_put_at_all(q, b, "plans", "plan_boundaries", pt, err);
    if (!rc) rc = put_price(q, b, parcel ? parcel : pt, err);
    if (!rc && buf_puts(b, ",\"note\":{\"vi\":\"" Q_NOTE_VI "\",\"en\":\"" Q_NOTE_EN "\"}}\n"))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (parcel) GEOSGeom_destroy_r(q->h, parcel);
    GEOSGeom_destroy_r(q->h, pt);
    return rc;
}

int query_land_at(struct request *req, struct response *res, struct err *err)
{
    struct qctx q;
    struct query_point p;
    double xy[2], ll[2];
    int rc = qctx_init(&q, req, err);
    if (!rc) rc = query_parse_point(req, q.srid, &p, err);
    if (!rc) rc = locate(&q, &p, xy, ll, err);
    if (!rc) {
        enum out_format fmt;
        rc = q_format(req, 0, 1, OUT_JSON, &fmt, err);
    }
    if (!rc) rc = answer(&q, &res->body, xy, ll, err);
    if (!rc) resp_set(res, 200, "application/json");
    qctx_fini(&q);
    return rc;
}
