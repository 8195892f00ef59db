/* SPDX-License-Identifier: MIT */
/* parcels.c: finding parcels the Vietnamese way (commune + map sheet number + parcel number, or
 * the 12-character parcel key) and GET /api/v1/parcels/{key}/planning: every zoning block, lot,
 * general-plan zone, land-use-plan area and plan overlapping the parcel with the overlap in m2 and
 * percent (GEOS intersections in the storage CRS), the road reserve, and the corner coordinates
 * in VN-2000 with X = northing first, as a cadastral extract lists them. */
#include "query_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parcels of one commune/sheet/parcel search into s (one page) with the total count. */
static int find_parcels(struct qctx *q, const struct layer_def *l, char **codes, int n_codes,
                        const long *sheet, const long *parcel, int64_t limit, int64_t offset,
                        struct qset *s, int64_t *total, struct err *err)
{
    struct value codev[QUERY_MAX_CODES];
    struct filter *w = NULL;
    int fc = layer_field_index(l, "commune_code"), fs = layer_field_index(l, "sheet_no");
    int fp = layer_field_index(l, "parcel_no");
    for (int i = 0; i < n_codes && i < QUERY_MAX_CODES; i++)
        codev[i] = (struct value){.type = VAL_TEXT, .s = codes[i], .len = (int)strlen(codes[i])};
    int rc = filter_and_in(&w, l, fc, codev, n_codes < QUERY_MAX_CODES ? n_codes : QUERY_MAX_CODES);
    struct value sv = {.type = VAL_INT, .i = sheet ? *sheet : 0};
    struct value pv = {.type = VAL_INT, .i = parcel ? *parcel : 0};
    if (!rc && sheet) rc = filter_and_compare(&w, l, fs, FOP_EQ, &sv);
    if (!rc && parcel) rc = filter_and_compare(&w, l, fp, FOP_EQ, &pv);
    int order[] = {fc, fs, fp};
    struct qfetch f = {
        .filter = w, .order = order, .n_order = 3, .sql_limit = limit, .sql_offset = offset};
    if (rc) rc = err_set(err, rc, rc == ERR_NOMEM ? "out of memory" : "parcel lookup");
    if (!rc) rc = q_count(q, l, &f, total, err);
    if (!rc && limit > 0) rc = q_fetch(q, l, &f, s, err);
    filter_free(w);
    return rc;
}

static int put_csv(struct buf *b, const struct qset *s, enum encode_csv_lang lang)
{
    int rc = encode_csv_bom(b);
    for (int i = 0; i < s->n_fields && !rc; i++)
        rc = encode_csv_title(b, s->layer, s->layer->fields[s->fields[i]].name, lang, NULL,
                              i + 1 < s->n_fields ? ',' : '\n');
    for (int r = 0; r < s->n && !rc; r++)
        for (int i = 0; i < s->n_fields && !rc; i++)
            rc = encode_csv_value(b, &s->rows[r].vals[i], i + 1 < s->n_fields ? ',' : '\n');
    return rc;
}

static int put_collection(struct qctx *q, struct buf *b, const struct qset *s, int64_t total,
                          int64_t limit, int64_t offset, struct err *err)
{
    int rc = encode_geojson_open(b);
    for (int i = 0; i < s->n && !rc; i++) {
        const struct qrow *r = &s->rows[i];
        if (i && buf_putc(b, ',')) return err_set(err, ERR_NOMEM, "out of memory");
        rc = encode_geojson_coded_feature(b, &q->enc, s->layer, r->fid, s->fields, r->vals,
                                          s->n_fields, q_str(s, r, "lu_scheme"), r->wkb, r->wkb_len,
                                          err);
    }
    if (rc) return rc;
    if (buf_printf(b,
                   "],\"numberMatched\":%lld,\"numberReturned\":%d,\"limit\":%lld,"
                   "\"offset\":%lld}\n",
                   (long long)total, s->n, (long long)limit, (long long)offset))
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

static int parse_search(const struct request *req, long *sheet, int *has_sheet, long *parcel,
                        int *has_parcel, struct err *err)
{
    static const char *const known[] = {"commune", "sheet", "parcel", "limit",
                                        "offset",  "f",     "lang",   NULL};
    int64_t v;
    if (q_check_known(req, known, err)) return ERR_PARAM;
    if (!req_arg(req, "commune") || !*req_arg(req, "commune"))
        return err_setl(err, ERR_PARAM, "commune", "commune (code or name) is required");
    *has_sheet = req_arg(req, "sheet") != NULL;
    *has_parcel = req_arg(req, "parcel") != NULL;
    if (q_integer(req, "sheet", 1, 99999, 0, &v, err)) return ERR_PARAM;
    *sheet = (long)v;
    if (q_integer(req, "parcel", 1, 999999, 0, &v, err)) return ERR_PARAM;
    *parcel = (long)v;
    if (*has_parcel && !*has_sheet)
        return err_setl(err, ERR_PARAM, "sheet", "parcel needs sheet (map sheet number)");
    return 0;
}

int query_parcels(struct request *req, struct response *res, struct err *err)
{
    struct qctx q;
    struct qset s;
    qset_init(&s);
    char *codes[QUERY_MAX_CODES];
    int n_codes = 0, has_sheet = 0, has_parcel = 0;
    long sheet = 0, parcel = 0;
    int64_t limit, offset, total = 0;
    enum out_format fmt;
    const struct layer_def *l = NULL;
    enum encode_csv_lang csv_lang = ENCODE_CSV_NAMES;
    int rc = qctx_init(&q, req, err);
    if (!rc) rc = parse_search(req, &sheet, &has_sheet, &parcel, &has_parcel, err);
    if (!rc) rc = q_csv_lang(req, &csv_lang, err);
    if (!rc)
        rc = q_integer(req, "limit", 0, INT64_MAX / 4, q.cfg->limits.default_features, &limit,
                       err) ||
             q_integer(req, "offset", 0, 1000000000, 0, &offset, err) ||
             q_format(req, 1, 0, OUT_GEOJSON, &fmt, err);
    if (!rc && limit > q.cfg->limits.max_features) limit = q.cfg->limits.max_features;
    if (!rc && !(l = q_layer(&q, "cadastral_parcels")))
        rc = err_set(err, ERR_NOT_FOUND, "no parcel layer");
    if (!rc)
        rc = q_resolve_commune(&q, req_arg(req, "commune"), codes, QUERY_MAX_CODES, &n_codes, err);
    if (!rc)
        rc = find_parcels(&q, l, codes, n_codes, has_sheet ? &sheet : NULL,
                          has_parcel ? &parcel : NULL, limit, offset, &s, &total, err);
    if (!rc && !s.layer) qset_layer(&q, &s, l); /* limit=0: fields for the CSV header */
    if (!rc && fmt == OUT_CSV) {
        if (put_csv(&res->body, &s, csv_lang)) rc = err_set(err, ERR_NOMEM, "out of memory");
        resp_set(res, 200, "text/csv; charset=utf-8");
    } else if (!rc) {
        rc = put_collection(&q, &res->body, &s, total, limit, offset, err);
        resp_set(res, 200, "application/geo+json");
    }
    for (int i = 0; i < n_codes; i++)
        free(codes[i]);
    qset_fini(&q, &s);
    qctx_fini(&q);
    return rc ? (err->code ? (int)err->code : ERR_NOMEM) : 0;
}

/* The parcel with this key into s (one row) or ERR_NOT_FOUND. */
static int get_parcel(struct qctx *q, const char *key, struct qset *s, struct err *err)
{
    const struct layer_def *l = q_layer(q, "cadastral_parcels");
    int fk = l ? layer_field_index(l, "parcel_key") : -1;
    if (!key || strlen(key) > 64 || fk < 0)
        return err_setl(err, ERR_NOT_FOUND, "parcel_key", "no parcel \"%.64s\"", key ? key : "");
    struct filter *w = NULL;
    struct value v = {.type = VAL_TEXT, .s = key, .len = (int)strlen(key)};
    int rc = filter_and_compare(&w, l, fk, FOP_EQ, &v);
    struct qfetch f = {.filter = w, .limit = 1};
    if (rc)
        rc = err_set(err, rc, rc == ERR_NOMEM ? "out of memory" : "parcel lookup");
    else
        rc = q_fetch(q, l, &f, s, err);
    filter_free(w);
    if (!rc && s->n == 0)
        rc = err_setl(err, ERR_NOT_FOUND, "parcel_key", "no parcel with key \"%s\"", key);
    return rc;
}

/* ERR_NOMEM with its message when a buf call failed (out is ERR_NOMEM), else out. */
static int nomem(int out, struct err *err)
{
    if (out == ERR_NOMEM) return err_set(err, ERR_NOMEM, "out of memory");
    return out; /* 0, or another code whose err is already set */
}

/* "commune_name":..,"geom_area_m2":.. of the parcel in row r (no leading comma). */
static int put_name_area(struct qctx *q, struct buf *b, const struct qset *s, const struct qrow *r,
                         struct err *err)
{
    char *cname = NULL;
    int rc = q_commune_name(q, q_str(s, r, "commune_code"), &cname, err);
    if (rc) return rc;
    rc = buf_puts(b, "\"commune_name\":");
    if (!rc) rc = cname ? buf_put_json_str(b, cname) : buf_puts(b, "null");
    if (!rc) rc = buf_puts(b, ",\"geom_area_m2\":");
    if (!rc) rc = encode_number_exact(b, q_area(q, r->geom), 2);
    free(cname);
    return rc;
}

/* {props, commune_name, geom_area_m2, geometry} of a parcel. */
static int put_parcel_object(struct qctx *q, struct buf *b, const struct qset *s,
                             const struct qrow *r, struct err *err)
{
    int first = 1;
    int rc = buf_putc(b, '{');
    if (!rc) rc = q_put_props(q, b, s, r, &first);
    if (!rc) rc = buf_putc(b, ',');
    if (!rc) rc = put_name_area(q, b, s, r, err);
    if (!rc) rc = buf_puts(b, ",\"geometry\":");
    if ((rc = nomem(rc, err))) return rc;
    if ((rc = q_put_geometry(q, b, r->wkb, r->wkb_len, err))) return rc;
    return nomem(buf_putc(b, '}'), err);
}

/* The parcel as a GeoJSON Feature: id its parcel_key, commune name and area first. */
static int put_parcel_feature(struct qctx *q, struct buf *b, const struct qset *s,
                              const struct qrow *r, struct err *err)
{
    int first = 0;
    int rc = buf_puts(b, "{\"type\":\"Feature\",\"id\":");
    if (!rc) rc = buf_put_json_str(b, q_str(s, r, "parcel_key"));
    if (!rc) rc = buf_puts(b, ",\"properties\":{");
    if (!rc) rc = put_name_area(q, b, s, r, err);
    if (!rc) rc = q_put_props(q, b, s, r, &first);
    if (!rc) rc = buf_puts(b, "},\"geometry\":");
    if ((rc = nomem(rc, err))) return rc;
    if ((rc = q_put_geometry(q, b, r->wkb, r->wkb_len, err))) return rc;
    return nomem(buf_puts(b, "}\n"), err);
}

/* Parses the {parcel_key} request (only f=) and looks the parcel up. */
static int parcel_request(struct qctx *q, const struct request *req, int allow_json,
                          enum out_format dflt, struct qset *s, struct err *err)
{
    static const char *const known[] = {"f", NULL};
    enum out_format fmt;
    int rc = q_check_known(req, known, err);
    if (!rc) rc = q_format(req, 0, allow_json, dflt, &fmt, err);
    if (!rc) rc = get_parcel(q, req_param(req, "parcel_key"), s, err);
    return rc;
}

int query_parcel(struct request *req, struct response *res, struct err *err)
{
    struct qctx q;
    struct qset s;
    qset_init(&s);
    int rc = qctx_init(&q, req, err);
    if (!rc) rc = parcel_request(&q, req, 0, OUT_GEOJSON, &s, err);
    if (!rc) rc = put_parcel_feature(&q, &res->body, &s, &s.rows[0], err);
    if (!rc) resp_set(res, 200, "application/geo+json");
    qset_fini(&q, &s);
    qctx_fini(&q);
    return rc;
}

/* {props, overlap_m2, overlap_pct} of one overlapping feature. */
static int put_overlap(struct qctx *q, struct buf *b, const struct qset *s, const struct qrow *r,
                       double a, double parcel_area)
{
    int first = 1;
    int rc = buf_putc(b, '{');
    if (!rc) rc = q_put_props(q, b, s, r, &first);
    if (!rc) rc = buf_puts(b, ",\"overlap_m2\":");
    if (!rc) rc = encode_number_exact(b, a, 3);
    if (!rc) rc = buf_puts(b, ",\"overlap_pct\":");
    if (!rc) rc = encode_number_exact(b, parcel_area > 0 ? 100 * a / parcel_area : NAN, 4);
    return rc ? rc : buf_putc(b, '}');
}

/* ,"<key>":[{props, overlap_m2, overlap_pct}...] for features of layer id overlapping the
 * parcel with a positive area. */
static int put_overlaps(struct qctx *q, struct buf *b, const char *key, const char *id,
                        const GEOSGeometry *parcel, double parcel_area, struct err *err)
{
    const struct layer_def *l = q_layer(q, id);
    if (!l) return 0;
    struct qset s;
    qset_init(&s);
    int rc = q_intersecting(q, l, parcel, &s, err), n = 0;
    int out = rc ? 0 : encode_cat(b, ",\"", key, "\":[", NULL);
    for (int i = 0; i < s.n && !rc && !out; i++) {
        double a = q_overlap(q, s.rows[i].geom, parcel);
        if (!(a > 0)) continue; /* touching only */
        if (n++) out = buf_putc(b, ',');
        if (!out) out = put_overlap(q, b, &s, &s.rows[i], a, parcel_area);
    }
    if (!rc && !out) out = buf_putc(b, ']');
    if (!rc) rc = nomem(out, err);
    qset_fini(q, &s);
    return rc;
}

/* One corner: {"no","x_n","y_e","edge_m"} of vertex a with the edge to c. */
static int put_corner(struct buf *b, int no, const double *a, const double *c)
{
    int rc = buf_puts(b, "{\"no\":");
    if (!rc) rc = encode_int(b, no);
    if (!rc) rc = buf_puts(b, ",\"x_n\":");
    if (!rc) rc = encode_number_exact(b, a[1], 3);
    if (!rc) rc = buf_puts(b, ",\"y_e\":");
    if (!rc) rc = encode_number_exact(b, a[0], 3);
    if (!rc) rc = buf_puts(b, ",\"edge_m\":");
    if (!rc) rc = encode_number_exact(b, hypot(c[0] - a[0], c[1] - a[1]), 2);
    return rc ? rc : buf_putc(b, '}');
}

/* The corners of one ring (its closing point left out), numbered from *no. */
static int put_ring_corners(struct buf *b, const struct geom_part *part, int *no)
{
    int n = part->n > 1 && part->xy[0] == part->xy[2 * (part->n - 1)] &&
                    part->xy[1] == part->xy[2 * (part->n - 1) + 1]
                ? part->n - 1
                : part->n;
    int rc = buf_putc(b, '[');
    for (int i = 0; i < n && !rc; i++) {
        if (i) rc = buf_putc(b, ',');
        if (!rc) rc = put_corner(b, ++*no, &part->xy[2 * i], &part->xy[2 * ((i + 1) % n)]);
    }
    return rc ? rc : buf_putc(b, ']');
}

/* ,"corners":{"crs":..,"rings":[[{"no","x_n","y_e","edge_m"}...]...]}: the parcel's vertices in
 * the storage CRS (VN-2000), X = northing, Y = easting, numbered as on a cadastral extract. */
static int put_corners(struct qctx *q, struct buf *b, const struct qrow *r, struct err *err)
{
    struct geom g;
    geom_init(&g);
    char crs[32];
    int rc = geom_from_wkb(&g, r->wkb, r->wkb_len, err), no = 0, out = 0;
    if (!rc) {
        out = buf_puts(b, ",\"corners\":{\"crs\":");
        if (!out) out = buf_put_json_str(b, geo_crs_name(q->srid, crs));
        if (!out) out = buf_puts(b, ",\"order\":\"X=N,Y=E\",\"rings\":[");
        for (int p = 0; p < g.n_parts && !out; p++) {
            if (p) out = buf_putc(b, ',');
            if (!out) out = put_ring_corners(b, &g.parts[p], &no);
        }
        if (!out) out = buf_puts(b, "]}");
        rc = nomem(out, err);
    }
    geom_fini(&g);
    return rc;
}

/* The planning answer of the parcel in row r of s. */
static int put_planning(struct qctx *q, struct buf *b, const struct qset *s, struct qrow *r,
                        struct err *err)
{
    static const char *const overlaps[][2] = {
        {"zoning_blocks", "zoning_blocks"},           {"detailed_plan_lots", "detailed_plan_lots"},
        {"general_plan_zones", "general_plan_zones"}, {"land_use_plan", "land_use_plan"},
        {"land_use_current", "land_use_current"},     {"plans", "plan_boundaries"}};
    double area = q_area(q, r->geom);
    int rc = nomem(buf_puts(b, "{\"parcel\":"), err);
    if (!rc) rc = put_parcel_object(q, b, s, r, err);
    for (size_t i = 0; i < ARRAY_LEN(overlaps) && !rc; i++)
        rc = put_overlaps(q, b, overlaps[i][0], overlaps[i][1], r->geom, area, err);
    if (!rc) rc = q_put_red_lines(q, b, r->geom, err);
    if (!rc) rc = put_corners(q, b, r, err);
    if (!rc)
        rc = nomem(buf_puts(b, ",\"note\":{\"vi\":\"" Q_NOTE_VI "\",\"en\":\"" Q_NOTE_EN "\"}}\n"),
                   err);
    return rc;
}

int query_parcel_planning(struct request *req, struct response *res, struct err *err)
{
    struct qctx q;
    struct qset s;
    qset_init(&s);
    int rc = qctx_init(&q, req, err);
    if (!rc) rc = parcel_request(&q, req, 1, OUT_JSON, &s, err);
    if (!rc) rc = put_planning(&q, &res->body, &s, &s.rows[0], err);
    if (!rc) resp_set(res, 200, "application/json");
    qset_fini(&q, &s);
    qctx_fini(&q);
    return rc;
}
