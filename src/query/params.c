/* SPDX-License-Identifier: MIT */
/* params.c: checking the query API's parameters before any store work: points (lon/lat, or
 * VN-2000 x/y with the Vietnamese X=northing order), land-fund filters, sorting and paging.
 * Pure functions of the request (the fuzz target calls them); each error names its parameter.
 * Commune names and code-list values are checked later against the store and the catalog. */
#include "query_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../geo/geo.h"

int q_number(const struct request *req, const char *name, double lo, double hi, int *has,
             double *out, struct err *err)
{
    const char *s = req_arg(req, name);
    *has = 0;
    if (!s) return 0;
    double v;
    if (str_to_double(s, &v) || !isfinite(v))
        return err_setl(err, ERR_PARAM, name, "%s must be a number, not \"%.40s\"", name, s);
    if (v < lo || v > hi)
        return err_setl(err, ERR_PARAM, name, "%s must be between %g and %g", name, lo, hi);
    *has = 1;
    *out = v;
    return 0;
}

int q_integer(const struct request *req, const char *name, int64_t lo, int64_t hi, int64_t dflt,
              int64_t *out, struct err *err)
{
    const char *s = req_arg(req, name);
    *out = dflt;
    if (!s) return 0;
    long v;
    if (str_to_long(s, &v))
        return err_setl(err, ERR_PARAM, name, "%s must be an integer, not \"%.40s\"", name, s);
    if (v < lo || v > hi)
        return err_setl(err, ERR_PARAM, name, "%s must be between %lld and %lld", name,
                        (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

int q_check_known(const struct request *req, const char *const *known, struct err *err)
{
    for (int i = 0; i < req->n_args; i++) {
        int ok = !req->args[i].key[0]; /* "&&" or "=v": nothing asked, nothing to name */
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(req->args[i].key, *k) == 0;
        if (!ok)
            return err_setl(err, ERR_PARAM, req->args[i].key, "unknown parameter \"%.60s\"",
                            req->args[i].key);
    }
    return 0;
}

int q_format(const struct request *req, int allow_csv, int allow_json, enum out_format dflt,
             enum out_format *out, struct err *err)
{
    const char *f = req_arg(req, "f");
    *out = dflt;
    if (!f) return 0;
    if (allow_json && str_ieq(f, "json"))
        *out = OUT_JSON;
    else if (str_ieq(f, "geojson") || str_ieq(f, "application/geo+json"))
        *out = OUT_GEOJSON;
    else if (allow_csv && (str_ieq(f, "csv") || str_ieq(f, "text/csv")))
        *out = OUT_CSV;
    else if (str_ieq(f, "application/json") && (allow_json || dflt == OUT_GEOJSON))
        *out = dflt;
    else
        return err_setl(
            err, ERR_PARAM, "f", "f must be %s, not \"%.40s\"",
            allow_csv ? (allow_json ? "json, geojson or csv" : "geojson or csv") : "json", f);
    return 0;
}

/* Parses "lon,lat" into two numbers in range. */
static int parse_lonlat_pair(const char *s, const char *name, double *lon, double *lat,
                             struct err *err)
{
    const char *comma = s ? strchr(s, ',') : NULL;
    char a[64], b[64];
    if (!comma || (size_t)(comma - s) >= sizeof a || strlen(comma + 1) >= sizeof b)
        return err_setl(err, ERR_PARAM, name, "%s must be \"lon,lat\"", name);
    memcpy(a, s, (size_t)(comma - s));
    a[comma - s] = '\0';
    strcpy(b, comma + 1);
    if (str_to_double(a, lon) || str_to_double(b, lat) || !isfinite(*lon) || !isfinite(*lat))
        return err_setl(err, ERR_PARAM, name, "%s must be \"lon,lat\" in degrees", name);
    if (*lon < -180 || *lon > 180 || *lat < -90 || *lat > 90)
        return err_setl(err, ERR_PARAM, name, "%s is outside lon -180..180, lat -90..90", name);
    return 0;
}

static int parse_xy(const struct request *req, int default_srid, struct query_point *p,
                    struct err *err)
{
    int has;
    const char *crs = req_arg(req, "crs"), *order = req_arg(req, "order");
    if (!req_arg(req, "x")) return err_setl(err, ERR_PARAM, "x", "y given without x");
    if (!req_arg(req, "y")) return err_setl(err, ERR_PARAM, "y", "x given without y");
    if (q_number(req, "x", -1e8, 1e8, &has, &p->x, err) ||
        q_number(req, "y", -1e8, 1e8, &has, &p->y, err))
        return ERR_PARAM;
    p->crs = default_srid;
    if (crs && (geo_crs_parse(crs, &p->crs) || p->crs == GEO_SRID_CRS84 || p->crs == 4326))
        return err_setl(err, ERR_PARAM, "crs",
                        "crs must be a projected EPSG CRS such as EPSG:%d (use lon/lat for "
                        "degrees), not \"%.40s\"",
                        default_srid, crs);
    if (order && str_ieq(order, "xy-vn")) {
        double t = p->x; /* Vietnamese survey tables: X = northing, Y = easting */
        p->x = p->y;
        p->y = t;
    } else if (order && !str_ieq(order, "xy")) {
        return err_setl(err, ERR_PARAM, "order", "order must be xy or xy-vn, not \"%.20s\"", order);
    }
    return 0;
}

int query_parse_point(const struct request *req, int default_srid, struct query_point *p,
                      struct err *err)
{
    static const char *const known[] = {"lon", "lat", "x", "y", "crs", "order", "f", NULL};
    memset(p, 0, sizeof *p);
    if (q_check_known(req, known, err)) return ERR_PARAM;
    int has_lon = req_arg(req, "lon") != NULL, has_lat = req_arg(req, "lat") != NULL;
    int has_xy = req_arg(req, "x") || req_arg(req, "y");
    if ((has_lon || has_lat) && has_xy)
        return err_setl(err, ERR_PARAM, "x", "give lon and lat, or x and y, not both");
    if (has_xy) return parse_xy(req, default_srid, p, err);
    if (!has_lon) return err_setl(err, ERR_PARAM, "lon", "lon and lat (or x and y) are required");
    if (!has_lat) return err_setl(err, ERR_PARAM, "lat", "lat is required with lon");
    int has;
    if (q_number(req, "lon", -180, 180, &has, &p->lon, err) ||
        q_number(req, "lat", -90, 90, &has, &p->lat, err))
        return ERR_PARAM;
    p->has_lonlat = 1;
    return 0;
}

/* A field name as the catalog spells them: [a-z][a-z0-9_]{0,63}. */
static int field_like(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] < 'a' || s[0] > 'z') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static int parse_sort(const char *s, int has_near, struct fund_params *p, struct err *err)
{
    enum fund_sort *out = &p->sort;
    static const struct {
        const char *name;
        enum fund_sort sort;
    } keys[] = {{"id", SORT_ID},
                {"area", SORT_AREA},
                {"-area", SORT_AREA_DESC},
                {"distance", SORT_DIST},
                {"-distance", SORT_DIST_DESC},
                {"area_ratio", SORT_FAR},
                {"-area_ratio", SORT_FAR_DESC}};
    *out = SORT_ID;
    if (!s) return 0;
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (strcmp(s, keys[i].name) == 0) {
            *out = keys[i].sort;
            if ((*out == SORT_DIST || *out == SORT_DIST_DESC) && !has_near)
                return err_setl(err, ERR_PARAM, "sort", "sort=%s needs near=lon,lat", s);
            return 0;
        }
    const char *name = s[0] == '-' ? s + 1 : s;
    if (field_like(name)) { /* a layer field: checked against the catalog and the role later */
        *out = SORT_FIELD;
        p->sort_field = name;
        p->sort_desc = s[0] == '-';
        return 0;
    }
    return err_setl(err, ERR_PARAM, "sort",
                    "sort must be id, area, -area, distance, -distance, area_ratio, "
                    "-area_ratio or a field name (-name descending), not \"%.30s\"",
                    s);
}

static int parse_bbox(const char *s, struct fund_params *p, struct err *err)
{
    char tmp[256];
    struct err e;
    err_clear(&e);
    struct bbox b;
    const char *crs = NULL;
    if (strlen(s) >= sizeof tmp) return err_setl(err, ERR_PARAM, "bbox", "bbox is too long");
    strcpy(tmp, s);
    if (bbox_parse(tmp, &b, &crs, &e)) return err_setl(err, ERR_PARAM, "bbox", "%s", e.msg);
    int srid = GEO_SRID_CRS84;
    if (crs && (geo_crs_parse(crs, &srid) || (srid != GEO_SRID_CRS84 && srid != 4326)))
        return err_setl(err, ERR_PARAM, "bbox", "bbox must be minlon,minlat,maxlon,maxlat (CRS84)");
    if (b.minx < -180 || b.maxx > 180 || b.miny < -90 || b.maxy > 90)
        return err_setl(err, ERR_PARAM, "bbox", "bbox is outside lon -180..180, lat -90..90");
    p->has_bbox = 1;
    p->bbox[0] = b.minx, p->bbox[1] = b.miny, p->bbox[2] = b.maxx, p->bbox[3] = b.maxy;
    return 0;
}

static int parse_text(const struct request *req, const char *name, const char **out,
                      struct err *err)
{
    const char *s = req_arg(req, name);
    *out = NULL;
    if (!s) return 0;
    if (!*s || strlen(s) > 120)
        return err_setl(err, ERR_PARAM, name, "%s must be 1 to 120 characters", name);
    *out = s;
    return 0;
}

static int parse_kind(const char *s, int *kinds, struct err *err)
{
    *kinds = FUND_VACANT | FUND_INVESTMENT;
    if (!s) return 0;
    if (strcmp(s, "vacant") == 0)
        *kinds = FUND_VACANT;
    else if (strcmp(s, "investment") == 0)
        *kinds = FUND_INVESTMENT;
    else
        return err_setl(err, ERR_PARAM, "kind", "kind must be vacant or investment");
    return 0;
}

int query_parse_fund_params(const struct request *req, int default_features, int max_features,
                            struct fund_params *p, struct err *err)
{
    static const char *const known[] = {"kind",   "commune", "function", "min_area", "max_area",
                                        "status", "bbox",    "near",     "within_m", "sort",
                                        "limit",  "offset",  "f",        "lang",     NULL};
    memset(p, 0, sizeof *p);
    const char *near = req_arg(req, "near"), *bbox = req_arg(req, "bbox");
    int rc;
    enum encode_csv_lang csv_lang;
    if ((rc = q_check_known(req, known, err)) ||
        (rc = parse_kind(req_arg(req, "kind"), &p->kinds, err)) ||
        (rc = parse_text(req, "commune", &p->commune, err)) ||
        (rc = parse_text(req, "function", &p->function, err)) ||
        (rc = parse_text(req, "status", &p->status, err)) ||
        (rc = q_number(req, "min_area", 0, 1e12, &p->has_min_area, &p->min_area, err)) ||
        (rc = q_number(req, "max_area", 0, 1e12, &p->has_max_area, &p->max_area, err)) ||
        (bbox && (rc = parse_bbox(bbox, p, err))) ||
        (near && (rc = parse_lonlat_pair(near, "near", &p->near_lon, &p->near_lat, err))) ||
        (rc = q_number(req, "within_m", 0.001, 100000, &p->has_within, &p->within_m, err)) ||
        (rc = q_csv_lang(req, &csv_lang, err)))
        return rc;
    p->has_near = near != NULL;
    if (p->has_min_area && p->has_max_area && p->min_area > p->max_area)
        return err_setl(err, ERR_PARAM, "max_area", "max_area is smaller than min_area");
    if (p->has_within && !p->has_near)
        return err_setl(err, ERR_PARAM, "within_m", "within_m needs near=lon,lat");
    if ((rc = parse_sort(req_arg(req, "sort"), p->has_near, p, err)) ||
        (rc = q_integer(req, "limit", 0, INT64_MAX / 4, default_features, &p->limit, err)) ||
        (rc = q_integer(req, "offset", 0, 1000000000, 0, &p->offset, err)) ||
        (rc = q_format(req, 1, 1, OUT_JSON, &p->format, err)))
        return rc;
    if (p->limit > max_features) p->limit = max_features; /* capped, as OGC API does */
    return 0;
}

int q_csv_lang(const struct request *req, enum encode_csv_lang *lang, struct err *err)
{
    const char *l = req_arg(req, "lang");
    *lang = ENCODE_CSV_NAMES;
    if (!l) return 0;
    if (str_ieq(l, "vi"))
        *lang = ENCODE_CSV_VI;
    else if (str_ieq(l, "en"))
        *lang = ENCODE_CSV_EN;
    else
        return err_setl(err, ERR_PARAM, "lang", "lang must be vi or en, not \"%.20s\"", l);
    return 0;
}
