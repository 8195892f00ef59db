/* SPDX-License-Identifier: MIT */
/* query: the land, zoning and land-fund API (DESIGN.md "Land, zoning and land-fund API", issue 7):
 * what applies at a point, parcels by commune + sheet + parcel number, the planning that overlaps
 * a parcel, and the investor search over vacant and investment land funds. Every answer comes from
 * the normalized layers through the store's query path (R*Tree first, exact GEOS test after);
 * every field passes access_field. Handlers return ERR_PARAM / ERR_NOT_FOUND with the parameter
 * in err->locator; the edge writes problem JSON. `spp query` calls the same handlers.
 *
 * Owns: which keys a land answer has and the worker's copies of main roads and zoning (per role
 * and layer view). Must not: build SQL (filters are trees, filter/build.c), write features any
 * other way than src/encode/, or share a cached copy across agreement views. */
#ifndef SPP_QUERY_H
#define SPP_QUERY_H

#include "../core/request.h"

/* Handlers (route table: src/http/router.c). */
/* GET /api/v1/land/at?lon=&lat= | x=&y=[&crs=EPSG:5897][&order=xy-vn] */
int query_land_at(struct request *req, struct response *res, struct err *err);
/* GET /api/v1/parcels?commune=&sheet=&parcel=[&limit=&offset=&f=json|geojson|csv] */
int query_parcels(struct request *req, struct response *res, struct err *err);
/* GET /api/v1/parcels/{parcel_key} */
int query_parcel(struct request *req, struct response *res, struct err *err);
/* GET /api/v1/parcels/{parcel_key}/planning */
int query_parcel_planning(struct request *req, struct response *res, struct err *err);
/* GET /api/v1/land-funds?kind=&commune=&function=&min_area=&max_area=&status=&bbox=&near=
 *     &within_m=&sort=&limit=&offset=&f= */
int query_land_funds(struct request *req, struct response *res, struct err *err);
/* GET /api/v1/land-funds/{id} */
int query_land_fund(struct request *req, struct response *res, struct err *err);

/* Parameter parsing without a store (also the fuzz target's entry). */
struct query_point {
    int has_lonlat; /* lon/lat given (CRS84) */
    double lon, lat;
    double x, y; /* x=easting, y=northing in crs (after order=xy-vn swapping) */
    int crs;     /* srid of x/y; 0 when lon/lat were given */
};
/* Reads lon/lat or x/y/crs/order from req. ERR_PARAM naming the parameter. */
int query_parse_point(const struct request *req, int default_srid, struct query_point *p,
                      struct err *err);

enum fund_kind_mask { FUND_VACANT = 1, FUND_INVESTMENT = 2 };
enum fund_sort {
    SORT_ID,
    SORT_AREA,
    SORT_AREA_DESC,
    SORT_DIST,
    SORT_DIST_DESC,
    SORT_FAR,
    SORT_FAR_DESC,
    SORT_FIELD
};
enum out_format { OUT_JSON, OUT_GEOJSON, OUT_CSV };

#define QUERY_MAX_CODES 16
struct fund_params {
    int kinds;            /* enum fund_kind_mask bits */
    const char *commune;  /* raw; resolved against admin_units later */
    const char *function; /* planned function code (zoning_function) */
    const char *status;
    int has_min_area, has_max_area;
    double min_area, max_area; /* m2 */
    int has_bbox;
    double bbox[4]; /* minlon, minlat, maxlon, maxlat (CRS84) */
    int has_near;
    double near_lon, near_lat;
    int has_within;
    double within_m;
    enum fund_sort sort;
    const char *sort_field; /* SORT_FIELD: a layer field name, checked against the role */
    int sort_desc;          /* SORT_FIELD: "-name" */
    int64_t limit, offset;
    enum out_format format;
};
/* Reads the land-fund search parameters; max_features caps limit, default_features is the
 * limit when none is given. ERR_PARAM naming the parameter. */
int query_parse_fund_params(const struct request *req, int default_features, int max_features,
                            struct fund_params *p, struct err *err);

/* Folds Vietnamese text for matching: NFD, combining marks removed, đ/Đ -> d, ASCII lowercase,
 * runs of spaces collapsed, trimmed. "Phường Ninh Kiều" -> "phuong ninh kieu". Caller frees;
 * NULL on invalid UTF-8 or no memory. */
char *query_fold(const char *s);

#endif
