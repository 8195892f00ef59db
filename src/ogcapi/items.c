/* SPDX-License-Identifier: MIT */
/* items.c: OGC API Features items and item by id (Part 1 core with GeoJSON and HTML, Part 2 crs
 * / bbox-crs / Content-Crs, Part 3 filter / filter-lang / filter-crs, sortby, datetime on
 * valid_from/valid_to). Every parameter is parsed strictly (a bad value is a 400 problem, never
 * an empty 200); filters go through filter/ (checked against the catalog and the caller's role,
 * bound SQL); features stream from the store into the GeoJSON writer. */
#include "ogcapi.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../config/config.h"
#include "../filter/filter.h"
#include "ogcapi_int.h"

struct items_req {
    const struct layer_def *layer;
    int64_t limit, offset;
    int crs, swap;         /* output CRS, lat/lon axis order */
    struct filter *filter; /* owned */
    int *fields;           /* owned */
    int n_fields;
    int order[8], order_desc[8], n_order;
    int html;
    int en; /* titles in English (ogcapi_lang) */
};

static void items_fini(struct items_req *ir)
{
    filter_free(ir->filter);
    free(ir->fields);
}

int ogcapi_layer_for(struct request *req, const struct layer_def **out, struct err *err)
{
    const char *id = req_param(req, "layer");
    const struct layer_def *l = catalog_layer(&req->cfg->catalog, id);
    if (!l || !access_layer(l, req->role))
        return err_setl(err, ERR_NOT_FOUND, "collectionId", "no collection \"%s\"", id);
    *out = l;
    return 0;
}

/* crs / bbox-crs / filter-crs: one of the advertised CRSs */
int ogcapi_parse_crs(struct request *req, const char *value, const char *param, int *srid,
                     struct err *err)
{
    *srid = GEO_SRID_CRS84;
    if (!value) return 0;
    int s, adv[32], n = geo_advertised_crs(store_srid(req->store), adv, 32), ok = 0;
    if (geo_crs_parse(value, &s) == 0)
        for (int i = 0; i < n; i++)
            ok |= adv[i] == s;
    if (!ok || !geo_crs_known(req->geo, s))
        return err_setl(err, ERR_PARAM, param, "%s: \"%s\" is not one of the supported CRSs", param,
                        value);
    *srid = s;
    return 0;
}

static int parse_count(const char *s, const char *name, int64_t min, int64_t max, int64_t *out,
                       struct err *err)
{
    long v;
    if (str_to_long(s, &v) || v < min || v > max)
        return err_setl(err, ERR_PARAM, name, "%s must be a whole number between %lld and %lld",
                        name, (long long)min, (long long)max);
    *out = v;
    return 0;
}

static int parse_bbox(struct request *req, struct items_req *ir, const char *value, struct err *err)
{
    int srid;
    if (ogcapi_parse_crs(req, req_arg(req, "bbox-crs"), "bbox-crs", &srid, err)) return ERR_PARAM;
    char *copy = str_dup(value);
    double v[6];
    int n = 0, rc = copy ? 0 : ERR_NOMEM;
    char *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !rc;
         t = strtok_r(NULL, ",", &save))
        if (n == 6 || str_to_double(t, &v[n++])) rc = ERR_PARAM;
    free(copy);
    if (rc || (n != 4 && n != 6))
        return err_setl(err, ERR_PARAM, "bbox", "bbox must be 4 or 6 comma-separated numbers");
    struct bbox b = {v[0], v[1], v[n / 2], v[n / 2 + 1]};
    if (b.minx > b.maxx || b.miny > b.maxy)
        return err_setl(err, ERR_PARAM, "bbox", "bbox minimum is above its maximum");
    struct filter *f = NULL;
    if ((rc = filter_new_bbox(&b, srid, &f, err))) return rc;
    f->root->authority_axes = 1; /* bbox-crs coordinates follow the CRS's axis order */
    ir->filter = filter_and(ir->filter, f);
    return 0;
}

/* RFC 3339 date or date-time, strictly the characters they use */
static int is_datetime(const char *s)
{
    if (strlen(s) < 10 || strlen(s) > 40) return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("-:T.Z+tz", *p)) return 0;
    return isdigit((unsigned char)s[0]) && s[4] == '-' && s[7] == '-';
}

/* datetime=instant | start/end | ../end | start/.. on [valid_from, valid_to] */
static int parse_datetime(struct request *req, struct items_req *ir, const char *value,
                          struct err *err)
{
    char a[96] = "", b[96] = "";
    const char *slash = strchr(value, '/');
    if (strlen(value) > 90) return err_setl(err, ERR_PARAM, "datetime", "datetime too long");
    if (slash) {
        snprintf(a, sizeof a, "%.*s", (int)(slash - value), value);
        snprintf(b, sizeof b, "%s", slash + 1);
    } else {
        snprintf(a, sizeof a, "%s", value);
        snprintf(b, sizeof b, "%s", value);
    }
    int open_a = !a[0] || strcmp(a, "..") == 0, open_b = !b[0] || strcmp(b, "..") == 0;
    if ((!open_a && !is_datetime(a)) || (!open_b && !is_datetime(b)) || (open_a && open_b))
        return err_setl(err, ERR_PARAM, "datetime",
                        "datetime must be an RFC 3339 instant or interval (a/b, ../b, a/..)");
    /* the literals are checked above to hold only date characters; they are bound anyway */
    char cql[400] = "";
    if (!open_b) snprintf(cql, sizeof cql, "(valid_from IS NULL OR valid_from <= '%s')", b);
    if (!open_a) {
        size_t l = strlen(cql);
        snprintf(cql + l, sizeof cql - l, "%s(valid_to IS NULL OR valid_to >= '%.10s')",
                 l ? " AND " : "", a);
    }
    struct filter_limits lim;
    filter_limits_from(&req->cfg->limits, &lim);
    struct filter *f = NULL;
    int rc = filter_parse_cql2_text(cql, &lim, GEO_SRID_CRS84, &f, err);
    if (!rc) ir->filter = filter_and(ir->filter, f);
    return rc;
}

static int parse_filter(struct request *req, struct items_req *ir, const char *value,
                        struct err *err)
{
    const char *lang = req_arg(req, "filter-lang");
    int srid;
    if (ogcapi_parse_crs(req, req_arg(req, "filter-crs"), "filter-crs", &srid, err))
        return ERR_PARAM;
    struct filter_limits lim;
    filter_limits_from(&req->cfg->limits, &lim);
    struct filter *f = NULL;
    int rc;
    if (!lang || strcmp(lang, "cql2-text") == 0)
        rc = filter_parse_cql2_text(value, &lim, srid, &f, err);
    else if (strcmp(lang, "cql2-json") == 0) {
        if (req->cfg->limits.max_json_depth > 0) lim.max_depth = req->cfg->limits.max_json_depth;
        rc = filter_parse_cql2_json(value, strlen(value), &lim, srid, &f, err);
    } else
        return err_setl(err, ERR_PARAM, "filter-lang",
                        "filter-lang must be cql2-text or cql2-json");
    if (rc) return rc;
    ir->filter = filter_and(ir->filter, f);
    return 0;
}

static int parse_properties(struct request *req, struct items_req *ir, const char *value,
                            struct err *err)
{
    char *copy = str_dup(value), *save = NULL;
    int rc = copy ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    ir->n_fields = 0;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !rc;
         t = strtok_r(NULL, ",", &save)) {
        int f = access_field_index(ir->layer, t, req->role);
        if (f < 0)
            rc = err_setl(err, ERR_PARAM, "properties", "unknown property \"%s\"", t);
        else
            ir->fields[ir->n_fields++] = f;
    }
    free(copy);
    return rc;
}

int ogcapi_parse_sortby(struct request *req, const struct layer_def *l, const char *value,
                        int *order, int *desc, int *n_order, struct err *err)
{
    char *copy = str_dup(value), *save = NULL;
    int rc = copy ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    *n_order = 0;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !rc;
         t = strtok_r(NULL, ",", &save)) {
        int d = 0;
        if (*t == '-' || *t == '+' || *t == ' ') d = *t++ == '-';
        int f = strcmp(t, "id") == 0 ? -1 : access_field_index(l, t, req->role);
        if (f < 0 && strcmp(t, "id") != 0)
            rc = err_setl(err, ERR_PARAM, "sortby", "unknown property \"%s\"", t);
        else if (*n_order == 8)
            rc = err_setl(err, ERR_PARAM, "sortby", "at most 8 sort keys");
        else
            order[*n_order] = f, desc[(*n_order)++] = d;
    }
    free(copy);
    return rc;
}

static int parse_items(struct request *req, struct items_req *ir, struct err *err)
{
    const struct limits *lim = &req->cfg->limits;
    ir->limit = lim->default_features;
    const char *v;
    int rc = 0;
    ir->fields = calloc((size_t)ir->layer->n_fields + 1, sizeof *ir->fields);
    if (!ir->fields) return err_set(err, ERR_NOMEM, "out of memory");
    ir->n_fields = encode_fields(ir->layer, req->role, ir->fields, ir->layer->n_fields);
    /* a limit above the maximum is served with the maximum (Part 1, permission 6) */
    if ((v = req_arg(req, "limit")) && parse_count(v, "limit", 1, INT32_MAX, &ir->limit, err))
        return ERR_PARAM;
    if (ir->limit > lim->max_features) ir->limit = lim->max_features;
    if ((v = req_arg(req, "offset")) && parse_count(v, "offset", 0, INT32_MAX, &ir->offset, err))
        return ERR_PARAM;
    if ((rc = ogcapi_parse_crs(req, req_arg(req, "crs"), "crs", &ir->crs, err))) return rc;
    ir->swap = ir->crs != GEO_SRID_CRS84 && geo_crs_latlon(req->geo, ir->crs);
    if ((v = req_arg(req, "bbox")) && (rc = parse_bbox(req, ir, v, err))) return rc;
    if ((v = req_arg(req, "datetime")) && (rc = parse_datetime(req, ir, v, err))) return rc;
    if ((v = req_arg(req, "filter")) && (rc = parse_filter(req, ir, v, err))) return rc;
    if ((v = req_arg(req, "properties")) && (rc = parse_properties(req, ir, v, err))) return rc;
    if ((v = req_arg(req, "sortby")) &&
        (rc = ogcapi_parse_sortby(req, ir->layer, v, ir->order, ir->order_desc, &ir->n_order, err)))
        return rc;
    if (ir->filter && (rc = filter_check(ir->filter, ir->layer, req->role, err))) return rc;
    ir->html = req_wants_html(req);
    return 0;
}

/* The items URL with offset moved (next/prev links keep every other parameter as given). */
static void page_link(struct request *req, struct buf *b, const char *rel, int64_t offset,
                      int64_t limit, const char *type, int *first)
{
    struct buf u;
    buf_init(&u);
    buf_printf(&u, "%s%s?", req->base_url, req->path);
    int n = 0;
    for (int i = 0; i < req->n_args; i++) {
        const char *k = req->args[i].key;
        if (strcmp(k, "offset") == 0 || strcmp(k, "limit") == 0) continue;
        if (n++) buf_putc(&u, '&');
        ogcapi_url_encode(&u, k);
        buf_putc(&u, '=');
        ogcapi_url_encode(&u, req->args[i].value);
    }
    buf_printf(&u, "%soffset=%lld&limit=%lld", n ? "&" : "", (long long)offset, (long long)limit);
    ogcapi_link(b, first, u.data, rel, type, NULL);
    buf_fini(&u);
}

static void content_crs(struct request *req, struct response *res, int crs)
{
    (void)req;
    char uri[64], h[80];
    snprintf(h, sizeof h, "<%s>", geo_crs_uri(crs, uri));
    resp_header(res, "Content-Crs", h);
}

static int run_items(struct request *req, struct items_req *ir, struct store_query *q,
                     struct err *err)
{
    memset(q, 0, sizeof *q);
    q->layer = ir->layer;
    q->role = req->role;
    q->filter = ir->filter, q->geo = req->geo;
    if (ir->filter) {
        int rc = store_query_check(req->store, q, err);
        if (rc) return rc;
    }
    q->fields = ir->fields, q->n_fields = ir->n_fields;
    q->order = ir->order, q->order_desc = ir->order_desc, q->n_order = ir->n_order;
    q->limit = ir->limit, q->offset = ir->offset;
    q->want_geom = 1;
    return 0;
}

static int items_json(struct request *req, struct response *res, struct items_req *ir,
                      struct err *err)
{
    struct store_query q;
    int rc = run_items(req, ir, &q, err);
    struct buf *b = &res->body;
    struct encode_geojson gw;
    int storage = store_srid(req->store);
    encode_geojson_init(&gw, b, req->geo, storage, ir->crs,
                        ir->crs == GEO_SRID_CRS84 || geo_crs_geographic(req->geo, ir->crs));
    gw.geom.swap_xy = ir->swap;
    struct feature_sink sink = encode_geojson_sink(&gw);
    resp_set(res, 200, "application/geo+json");
    buf_reserve(b, (size_t)(ir->limit < 512 ? ir->limit : 512) * 512 + 1024);
    if (!rc && encode_geojson_open(b)) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) rc = store_query_run(req->store, &q, &sink, err);
    int64_t returned = gw.n_written, matched = -1;
    encode_geojson_fini(&gw);
    if (!rc && returned < ir->limit && (returned > 0 || ir->offset == 0))
        matched = ir->offset + returned;
    else if (!rc)
        rc = store_query_count(req->store, &q, &matched, err);
    if (rc) return rc;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(b,
               "],\"numberMatched\":%lld,\"numberReturned\":%lld,\"timeStamp\":\"%s\",\"links\":[",
               (long long)matched, (long long)returned, ts);
    int first = 1;
    page_link(req, b, "self", ir->offset, ir->limit, "application/geo+json", &first);
    if (ir->offset + returned < matched)
        page_link(req, b, "next", ir->offset + returned, ir->limit, "application/geo+json", &first);
    if (ir->offset > 0)
        page_link(req, b, "prev", ir->offset > ir->limit ? ir->offset - ir->limit : 0, ir->limit,
                  "application/geo+json", &first);
    char href[300];
    snprintf(href, sizeof href, "%s/collections/%s", req->base_url, ir->layer->id);
    ogcapi_link(b, &first, href, "collection", "application/json",
                ogcapi_text(ir->en, ir->layer->title_vi, ir->layer->title_en));
    buf_puts(b, "]}\n");
    content_crs(req, res, ir->crs);
    return 0;
}

int ogcapi_items(struct request *req, struct response *res, struct err *err)
{
    struct items_req ir;
    memset(&ir, 0, sizeof ir);
    int rc = ogcapi_layer_for(req, &ir.layer, err);
    if (!rc) rc = parse_items(req, &ir, err);
    if (!rc) rc = ogcapi_lang(req, res, &ir.en, err);
    if (!rc)
        rc = ir.html ? ogcapi_items_html(req, res, ir.layer, ir.filter, ir.limit, ir.offset, err)
                     : items_json(req, res, &ir, err);
    items_fini(&ir);
    return rc;
}

struct one {
    struct encode_geojson *gw;
    int found;
};

static int one_feature(void *ud, const struct feature *f, struct err *err)
{
    struct one *o = ud;
    o->found = 1;
    return encode_geojson_feature(o->gw, f, err);
}

int ogcapi_item(struct request *req, struct response *res, struct err *err)
{
    const struct layer_def *l;
    int rc = ogcapi_layer_for(req, &l, err);
    if (rc) return rc;
    const char *fid = req_param(req, "fid");
    long id;
    if (str_to_long(fid, &id) || id < 0)
        return err_setl(err, ERR_NOT_FOUND, "featureId", "no feature \"%s\"", fid);
    struct items_req ir;
    memset(&ir, 0, sizeof ir);
    ir.layer = l;
    rc = parse_items(req, &ir, err);
    if (!rc) rc = ogcapi_lang(req, res, &ir.en, err);
    struct filter *byid = NULL;
    if (!rc && filter_and_fid(&byid, id)) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc && ir.html) {
        struct store_query cq = {.layer = l, .filter = byid, .role = req->role};
        int64_t n = 0;
        rc = store_query_count(req->store, &cq, &n, err);
        if (!rc && n == 0) rc = err_setl(err, ERR_NOT_FOUND, "featureId", "no feature \"%s\"", fid);
    }
    if (!rc && ir.html) {
        char ids[64];
        snprintf(ids, sizeof ids, "%s.%ld", l->id, id);
        const char *list[] = {ids};
        struct filter *f = NULL;
        rc = filter_new_resource_ids(list, 1, &f, err);
        if (!rc) rc = filter_check(f, l, req->role, err);
        if (!rc) rc = ogcapi_items_html(req, res, l, f, 1, 0, err);
        filter_free(f);
        filter_free(byid);
        items_fini(&ir);
        return rc;
    }
    struct store_query q = {.layer = l,
                            .role = req->role,
                            .filter = byid,
                            .fields = ir.fields,
                            .n_fields = ir.n_fields,
                            .limit = 1,
                            .want_geom = 1};
    struct encode_geojson gw;
    encode_geojson_init(&gw, &res->body, req->geo, store_srid(req->store), ir.crs,
                        ir.crs == GEO_SRID_CRS84 || geo_crs_geographic(req->geo, ir.crs));
    gw.geom.swap_xy = ir.swap;
    struct one o = {&gw, 0};
    struct feature_sink sink = {NULL, one_feature, NULL, &o};
    if (!rc) rc = store_query_run(req->store, &q, &sink, err);
    encode_geojson_fini(&gw);
    if (!rc && !o.found) rc = err_setl(err, ERR_NOT_FOUND, "featureId", "no feature \"%s\"", fid);
    if (!rc) {
        /* add links inside the Feature object: replace the final '}' */
        struct buf *b = &res->body;
        b->len--;
        int first = 1;
        char href[300];
        buf_puts(b, ",\"links\":[");
        snprintf(href, sizeof href, "%s/collections/%s/items/%ld", req->base_url, l->id, id);
        ogcapi_link(b, &first, href, "self", "application/geo+json", NULL);
        snprintf(href, sizeof href, "%s/collections/%s", req->base_url, l->id);
        ogcapi_link(b, &first, href, "collection", "application/json",
                    ogcapi_text(ir.en, l->title_vi, l->title_en));
        buf_puts(b, "]}\n");
        resp_set(res, 200, "application/geo+json");
        content_crs(req, res, ir.crs);
        /* Part 4: the ETag a PUT / PATCH / DELETE gives back in If-Match (edit.c) */
        char etag[STORE_ETAG_LEN];
        int found = 0;
        if (!store_feature_etag(req->store, l, id, etag, &found, NULL) && found)
            resp_header(res, "ETag", etag);
    }
    filter_free(byid);
    items_fini(&ir);
    return rc;
}
