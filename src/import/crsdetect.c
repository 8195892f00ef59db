/* SPDX-License-Identifier: MIT */
/* crsdetect.c: which CRS a source's numbers are really in (DOMAIN.md 1.4). The declaration (.prj,
 * MapInfo CoordSys, GeoPackage srs) is read as parameters, not trusted by name: a WGS 84 datum with
 * TM-3 parameters is VN-2000 TM-3; then the sample must land in the expected area (the city's admin
 * boundary, the layers already in the store, or the configured city_extent), else every VN-2000
 * zone and UTM variant is tried (wrong central meridian, no .prj, X=N/Y=E survey tables); then
 * confusable pairs (TM-3 k 0.9999 vs UTM k 0.9996, VN-2000 lon/lat vs WGS 84) are told apart by
 * overlaying the sample on the cadastral parcels. Every decision carries its reason. */
#define GEOS_USE_ONLY_R_API
#include "import_int.h"

#include <geos_c.h>
#include <math.h>
#include <stdint.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    double lon0;
    int srid;
} tm3_zones[] = {{105, 5897}, {105.5, 9209},  {105.75, 9210}, {104.75, 9208}, {104.5, 9207},
                 {106, 9211}, {104, 9206},    {106.25, 9212}, {106.5, 9213},  {103, 9205},
                 {107, 9214}, {107.25, 9215}, {107.5, 9216},  {107.75, 5899}, {102, 5896},
                 {108, 5898}, {108.25, 9217}, {108.5, 9218}};

static int tm3_srid(double lon0)
{
    for (size_t i = 0; i < ARRAY_LEN(tm3_zones); i++)
        if (fabs(tm3_zones[i].lon0 - lon0) < 1e-6) return tm3_zones[i].srid;
    return 0;
}

static double tm3_lon0(int srid)
{
    for (size_t i = 0; i < ARRAY_LEN(tm3_zones); i++)
        if (tm3_zones[i].srid == srid) return tm3_zones[i].lon0;
    return NAN;
}

enum datum_kind { DATUM_UNKNOWN, DATUM_WGS84, DATUM_VN2000 };

static enum datum_kind datum_of(OGRSpatialReferenceH srs)
{
    const char *code = OSRGetAuthorityCode(srs, "DATUM");
    const char *name = OSRGetAttrValue(srs, "DATUM", 0);
    if ((code && strcmp(code, "6756") == 0) ||
        (name && (strstr(name, "Vietnam") || strstr(name, "VN_2000") || strstr(name, "VN-2000"))))
        return DATUM_VN2000;
    if ((code && strcmp(code, "6326") == 0) ||
        (name && (strstr(name, "WGS_1984") || strstr(name, "WGS 84") ||
                  strstr(name, "World Geodetic System 1984"))))
        return DATUM_WGS84;
    return DATUM_UNKNOWN;
}

void crs_describe(void *srs_, char *out, size_t n)
{
    OGRSpatialReferenceH srs = srs_;
    if (!srs) {
        snprintf(out, n, "none");
        return;
    }
    const char *auth = OSRGetAuthorityName(srs, NULL), *code = OSRGetAuthorityCode(srs, NULL);
    enum datum_kind dk = datum_of(srs);
    const char *dn = dk == DATUM_VN2000 ? "VN-2000" : dk == DATUM_WGS84 ? "WGS 84" : "unknown";
    if (OSRIsProjected(srs)) {
        const char *proj = OSRGetAttrValue(srs, "PROJECTION", 0);
        snprintf(out, n, "%s%s%s%s %s lon_0=%g k=%g x_0=%g datum %s", auth ? auth : "",
                 auth ? ":" : "", code ? code : "", auth ? "" : "", proj ? proj : "?",
                 OSRGetProjParm(srs, SRS_PP_CENTRAL_MERIDIAN, 0, NULL),
                 OSRGetProjParm(srs, SRS_PP_SCALE_FACTOR, 1, NULL),
                 OSRGetProjParm(srs, SRS_PP_FALSE_EASTING, 0, NULL), dn);
    } else {
        snprintf(out, n, "%s%s%s geographic, datum %s", auth ? auth : "", auth ? ":" : "",
                 code ? code : "", dn);
    }
}

/* The EPSG code a declaration means, read from its parameters. *note says why (may be ""). */
static int srs_to_srid(OGRSpatialReferenceH srs, char *note, size_t n)
{
    note[0] = 0;
    enum datum_kind dk = datum_of(srs);
    double a = OSRGetSemiMajor(srs, NULL);
    int wgs_ellps = fabs(a - 6378137.0) < 0.5;
    if (OSRIsProjected(srs)) {
        const char *proj = OSRGetAttrValue(srs, "PROJECTION", 0);
        double lon0 = OSRGetProjParm(srs, SRS_PP_CENTRAL_MERIDIAN, 0, NULL);
        double k = OSRGetProjParm(srs, SRS_PP_SCALE_FACTOR, 1, NULL);
        double fe = OSRGetProjParm(srs, SRS_PP_FALSE_EASTING, 0, NULL);
        double fn = OSRGetProjParm(srs, SRS_PP_FALSE_NORTHING, 0, NULL);
        double lat0 = OSRGetProjParm(srs, SRS_PP_LATITUDE_OF_ORIGIN, 0, NULL);
        if (proj && strstr(proj, "Transverse_Mercator") && wgs_ellps && fabs(fe - 500000) < 1e-3 &&
            fabs(fn) < 1e-3 && fabs(lat0) < 1e-9) {
            if (fabs(k - 0.9999) < 1e-9 && tm3_srid(lon0)) {
                if (dk == DATUM_WGS84)
                    snprintf(note, n,
                             "the declaration has a WGS 84 datum but VN-2000 TM-3 parameters "
                             "(lon_0=%g, k=0.9999, x_0=500000): VN-2000 uses the WGS 84 ellipsoid, "
                             "so this is VN-2000 TM-3 mislabelled",
                             lon0);
                return tm3_srid(lon0);
            }
            if (fabs(k - 0.9996) < 1e-9 && (fabs(lon0 - 105) < 1e-9 || fabs(lon0 - 111) < 1e-9)) {
                int zone48 = fabs(lon0 - 105) < 1e-9;
                if (dk == DATUM_VN2000) return zone48 ? 3405 : 3406;
                return zone48 ? 32648 : 32649;
            }
        }
    } else if (OSRIsGeographic(srs)) {
        if (dk == DATUM_VN2000) return 4756;
        if (dk == DATUM_WGS84) return 4326;
    }
    const char *auth = OSRGetAuthorityName(srs, NULL), *code = OSRGetAuthorityCode(srs, NULL);
    if (auth && code && strcmp(auth, "EPSG") == 0) return atoi(code);
    OGRSpatialReferenceH c = OSRClone(srs);
    int srid = 0;
    if (c && OSRAutoIdentifyEPSG(c) == OGRERR_NONE) {
        code = OSRGetAuthorityCode(c, NULL);
        if (code) srid = atoi(code);
    }
    OSRDestroySpatialReference(c);
    return srid;
}

/* Transforms the sample (swapped if asked) into the storage CRS; returns the fraction of points
 * inside the expected area (grown by margin metres), -1 if the CRS cannot transform them. */
static double fit(struct crs_context *cx, int srid, int swap, const struct crs_sample *s,
                  double *dist_km)
{
    if (!s->n) return 0;
    double *xy = malloc(s->n * 2 * sizeof *xy);
    if (!xy) return -1;
    for (size_t i = 0; i < s->n; i++) {
        xy[2 * i] = s->xy[2 * i + (swap ? 1 : 0)];
        xy[2 * i + 1] = s->xy[2 * i + (swap ? 0 : 1)];
    }
    struct err e;
    err_clear(&e);
    double frac = -1;
    if (geo_transform(cx->geo, srid, cx->storage_srid, xy, s->n, &e) == 0) {
        size_t in = 0;
        double margin = 2000, far = 0;
        for (size_t i = 0; i < s->n; i++) {
            double x = xy[2 * i], y = xy[2 * i + 1];
            double dx = x < cx->area.minx   ? cx->area.minx - x
                        : x > cx->area.maxx ? x - cx->area.maxx
                                            : 0;
            double dy = y < cx->area.miny   ? cx->area.miny - y
                        : y > cx->area.maxy ? y - cx->area.maxy
                                            : 0;
            double d = sqrt(dx * dx + dy * dy);
            if (d <= margin) in++;
            if (d > far) far = d;
        }
        frac = (double)in / (double)s->n;
        if (dist_km) *dist_km = far / 1000;
    }
    free(xy);
    return frac;
}

/* Overlay: share of sample features lying inside one cadastral parcel (points: scaled by their
 * clearance from the parcel edge, up to 5 m). -1 when it cannot be computed. */
struct overlay_ud {
    struct crs_context *cx;
    GEOSContextHandle_t h;
    const GEOSGeometry *g;
    double best;
    int dim;
};

static void overlay_visit(void *item, void *ud_)
{
    struct overlay_ud *ud = ud_;
    int idx = (int)(intptr_t)item;
    const GEOSGeometry *ref = ud->cx->ref_geoms[idx];
    if (ud->best >= 1) return;
    if (GEOSContains_r(ud->h, ref, ud->g) != 1) return;
    double sc = 1;
    if (ud->dim == 0 && ud->cx->want_public) {
        sc = ud->cx->ref_public && ud->cx->ref_public[idx] ? 1 : 0;
    } else if (ud->dim == 0) {
        GEOSGeometry *b = GEOSBoundary_r(ud->h, ref);
        double d = 0;
        if (b && GEOSDistance_r(ud->h, b, ud->g, &d) == 1) sc = d >= 5 ? 1 : d / 5;
        if (b) GEOSGeom_destroy_r(ud->h, b);
    }
    if (sc > ud->best) ud->best = sc;
}

static double overlay(struct crs_context *cx, int srid, int swap, const struct crs_sample *s)
{
    if (!cx->ref_tree || !s->n_geoms || s->geom_dim == 1) return -1;
    GEOSContextHandle_t h = geo_geos(cx->geo);
    double sum = 0;
    int n = 0;
    struct err e;
    for (int i = 0; i < s->n_geoms; i++) {
        GEOSGeometry *g = GEOSGeom_clone_r(h, s->geoms[i]);
        if (!g) continue;
        GEOSCoordSequence *cs = NULL;
        /* points and polygons: transform the vertices through a WKB round trip */
        GEOSWKBWriter *w = GEOSWKBWriter_create_r(h);
        size_t len = 0;
        unsigned char *wkb = GEOSWKBWriter_write_r(h, w, g, &len);
        GEOSWKBWriter_destroy_r(h, w);
        GEOSGeom_destroy_r(h, g);
        g = NULL;
        (void)cs;
        struct geom gm;
        geom_init(&gm);
        err_clear(&e);
        int ok = wkb && geom_from_wkb(&gm, wkb, len, &e) == 0;
        for (int p = 0; ok && p < gm.n_parts; p++) {
            double *xy = gm.parts[p].xy;
            if (swap)
                for (int k = 0; k < gm.parts[p].n; k++) {
                    double t = xy[2 * k];
                    xy[2 * k] = xy[2 * k + 1], xy[2 * k + 1] = t;
                }
            ok = geo_transform(cx->geo, srid, cx->storage_srid, xy, (size_t)gm.parts[p].n, &e) == 0;
        }
        GEOSFree_r(h, wkb);
        if (ok) {
            struct buf b;
            buf_init(&b);
            if (geom_to_wkb(&gm, &b) == 0) {
                GEOSWKBReader *r = GEOSWKBReader_create_r(h);
                g = GEOSWKBReader_read_r(h, r, (const unsigned char *)b.data, b.len);
                GEOSWKBReader_destroy_r(h, r);
            }
            buf_fini(&b);
        }
        geom_fini(&gm);
        if (!g) continue;
        struct overlay_ud ud = {cx, h, g, 0, s->geom_dim};
        GEOSSTRtree_query_r(h, cx->ref_tree, g, overlay_visit, &ud);
        sum += ud.best;
        n++;
        GEOSGeom_destroy_r(h, g);
    }
    return n ? sum / n : -1;
}

/* Sources whose numbers look like lon/lat, TM-3/UTM E,N, or survey N,E. */
static void ranges(const struct crs_sample *s, int *lonlat, int *en, int *ne)
{
    struct bbox b;
    bbox_empty(&b);
    for (size_t i = 0; i < s->n; i++)
        bbox_add(&b, s->xy[2 * i], s->xy[2 * i + 1]);
    *lonlat = b.minx >= 100 && b.maxx <= 112 && b.miny >= 5 && b.maxy <= 25;
    *en = b.minx >= 1e5 && b.maxx <= 9e5 && b.miny >= 5e5 && b.maxy <= 2.7e6;
    *ne = b.miny >= 1e5 && b.maxy <= 9e5 && b.minx >= 8e5 && b.maxx <= 2.7e6;
}

static int confusables(int srid, int *out)
{
    double lon0 = tm3_lon0(srid);
    int n = 0;
    if (fabs(lon0 - 105) < 1e-9) out[n++] = 3405, out[n++] = 32648;
    if (srid == 3405) out[n++] = 5897;
    if (srid == 32648) out[n++] = 5897, out[n++] = 3405;
    if (srid == 4326) out[n++] = 4756;
    if (srid == 4756) out[n++] = 4326;
    return n;
}

static int search_zones(struct crs_context *cx, const struct crs_sample *s, int swap, int lonlat,
                        int *found)
{
    int cands[32], n = 0;
    if (lonlat) {
        cands[n++] = 4326;
        cands[n++] = 4756;
    } else {
        cands[n++] = cx->storage_srid;
        for (size_t i = 0; i < ARRAY_LEN(tm3_zones); i++)
            if (tm3_zones[i].srid != cx->storage_srid) cands[n++] = tm3_zones[i].srid;
        cands[n++] = 3405, cands[n++] = 3406, cands[n++] = 32648, cands[n++] = 32649;
    }
    for (int i = 0; i < n; i++)
        if (fit(cx, cands[i], swap, s, NULL) >= 0.9) {
            *found = cands[i];
            return 0;
        }
    return ERR_NOT_FOUND;
}

static void name_of(int srid, char *out, size_t n)
{
    snprintf(out, n, "EPSG:%d", srid);
}

/* The CRS whose reading lands in the expected area: the declaration, a pin, or a search. */
static int by_area(struct crs_context *cx, const char *path, const struct crs_sample *s,
                   int declared, int pinned, const char *note, int swap, int lonlat_only,
                   int *chosen, char *why, size_t wn, struct err *err)
{
    char nm[32], dn[32];
    double dist = 0;
    name_of(declared, dn, sizeof dn);
    if (declared && geo_crs_known(cx->geo, declared) && fit(cx, declared, swap, s, &dist) >= 0.9) {
        *chosen = declared;
        snprintf(why, wn, "%s%s%s fits the expected area (%s)", note, note[0] ? "; " : "",
                 pinned ? "the pinned CRS" : "declared CRS", cx->area_from);
        return 0;
    }
    if (pinned && geo_crs_known(cx->geo, pinned)) {
        *chosen = pinned; /* the manifest's word is final; the distance goes into the report */
        snprintf(why, wn,
                 "pinned by the manifest; the data lands %.1f km from the expected area (%s)", dist,
                 cx->area_from);
        return 0;
    }
    if (search_zones(cx, s, swap, lonlat_only, chosen))
        return err_set(
            err, ERR_PARAM,
            "%s: undecidable CRS: %s%s puts the data %.0f km from the expected area (%s) "
            "and no VN-2000 zone, UTM or WGS 84 reading fits; if the data is right, pin its CRS "
            "(manifest \"crs\") or set city_extent in --config",
            path, declared ? "declared " : "no declared CRS", declared ? dn : "", dist,
            cx->area_from);
    name_of(*chosen, nm, sizeof nm);
    if (declared)
        snprintf(why, wn,
                 "%s%sread as the declared %s the data lands %.1f km from the expected area (%s); "
                 "the numbers fit %s (wrong central meridian or mislabelled zone)",
                 note, note[0] ? "; " : "", dn, dist, cx->area_from, nm);
    else
        snprintf(why, wn, "no CRS declared; the coordinate ranges fit %s in the expected area (%s)",
                 nm, cx->area_from);
    return 0;
}

/* Confusable pairs (TM-3/UTM, VN-2000/WGS 84 lon/lat), told apart by overlay with the parcels. */
static int by_overlay(struct crs_context *cx, const struct crs_sample *s, int chosen, int swap,
                      char *why, size_t wn)
{
    int alts[4], n_alts = confusables(chosen, alts);
    double base = n_alts ? overlay(cx, chosen, swap, s) : -1;
    if (base < 0) return chosen;
    int best = chosen;
    double best_sc = base;
    for (int i = 0; i < n_alts; i++) {
        if (fit(cx, alts[i], swap, s, NULL) < 0.9) continue;
        double sc = overlay(cx, alts[i], swap, s);
        if (sc >= best_sc + 0.25 && sc >= 0.6) best = alts[i], best_sc = sc;
    }
    char a[32], b[32];
    name_of(chosen, a, sizeof a);
    name_of(best, b, sizeof b);
    size_t n = strlen(why);
    if (best != chosen)
        snprintf(why + n, wn - n,
                 "; but overlaid on %s only %.0f%% of the sample fits as %s against %.0f%% as %s: "
                 "reinterpreted as %s",
                 cx->ref_from, 100 * base, a, 100 * best_sc, b, b);
    else
        snprintf(why + n, wn - n,
                 "; overlaid on %s, %.0f%% of the sample fits and no confusable CRS "
                 "(TM-3/UTM, VN-2000/WGS 84) fits better",
                 cx->ref_from, 100 * base);
    return best;
}

int crs_decide(struct crs_context *cx, const char *path, void *srs_, int pinned,
               const struct crs_sample *s, struct crs_decision *d, struct err *err)
{
    OGRSpatialReferenceH srs = srs_;
    memset(d, 0, sizeof *d);
    crs_describe(srs, d->declared, sizeof d->declared);
    int lonlat, en, ne;
    ranges(s, &lonlat, &en, &ne);
    d->swap_xy = ne && !en;
    char note[256] = "", why[1024] = "";
    int declared = 0, chosen = 0;
    if (pinned) {
        declared = pinned;
        snprintf(note, sizeof note, "pinned by the manifest");
    } else if (srs) {
        declared = srs_to_srid(srs, note, sizeof note);
    }
    if (!s->n) {
        if (!declared)
            return err_set(err, ERR_PARAM, "%s: no coordinates to decide the CRS from", path);
        d->srid = declared;
        snprintf(d->reason, sizeof d->reason, "no coordinates; used the declaration");
        name_of(d->srid, d->detected, sizeof d->detected);
        return 0;
    }
    int rc = by_area(cx, path, s, declared, pinned, note, d->swap_xy, lonlat && !en, &chosen, why,
                     sizeof why, err);
    if (rc) return rc;
    if (d->swap_xy)
        snprintf(why + strlen(why), sizeof why - strlen(why),
                 "; columns hold X = northing, Y = easting (survey order): swapped");
    if (!pinned) chosen = by_overlay(cx, s, chosen, d->swap_xy, why, sizeof why);
    d->srid = chosen;
    d->repaired = chosen != declared || d->swap_xy || (note[0] && !pinned);
    name_of(chosen, d->detected, sizeof d->detected);
    snprintf(d->reason, sizeof d->reason, "%s", why);
    return 0;
}

void crs_prefer_city(struct crs_context *cx)
{
    const double *c = cx->city;
    if (!(c[2] > c[0] && c[3] > c[1])) return;
    /* the admin_units boundary is the city's own word: it stays the expected area */
    if (cx->has_area && strncmp(cx->area_from, "the admin_units", 15) == 0) return;
    struct bbox ll = {c[0], c[1], c[2], c[3]}, out;
    struct err e;
    err_clear(&e);
    if (geo_transform_bbox(cx->geo, 4326, cx->storage_srid, &ll, &out, &e)) return;
    if (cx->has_area && strncmp(cx->area_from, "area of use", 11) != 0) {
        /* the layers already imported cover only part of the city: a source for another
         * district is expected anywhere in the city extent too */
        bbox_union(&cx->area, &out);
        snprintf(cx->area_from, sizeof cx->area_from,
                 "the extent of the layers in the store and the configured city extent "
                 "%.2f,%.2f,%.2f,%.2f (setting city_extent)",
                 c[0], c[1], c[2], c[3]);
        return;
    }
    cx->area = out;
    cx->has_area = 1;
    snprintf(cx->area_from, sizeof cx->area_from,
             "the configured city extent %.2f,%.2f,%.2f,%.2f (setting city_extent)", c[0], c[1],
             c[2], c[3]);
}

void crs_context_fini(struct crs_context *cx)
{
    if (!cx->geo) return;
    GEOSContextHandle_t h = geo_geos(cx->geo);
    if (cx->ref_tree) GEOSSTRtree_destroy_r(h, cx->ref_tree);
    for (int i = 0; i < cx->n_ref; i++)
        GEOSGeom_destroy_r(h, cx->ref_geoms[i]);
    free(cx->ref_geoms);
    free(cx->ref_public);
    cx->ref_public = NULL;
    cx->ref_tree = NULL;
    cx->ref_geoms = NULL;
    cx->n_ref = 0;
}
