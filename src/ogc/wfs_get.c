/* SPDX-License-Identifier: MIT */
/* wfs_get.c: WFS GetFeature and GetPropertyValue. Each query's filter is checked against the
 * catalog and the caller's role and compiled to bound SQL; the store streams rows straight into
 * the output writer (GML 3.2, GML 3.1.1, GeoJSON, CSV). Paging runs across the queries of one
 * request; numberMatched is taken from the page itself when the page is not full and counted
 * only when it is. WFS 2.0 KVP answers carry next/previous links. */
#include "wfs_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ERR_NOMEM with its message when a buf call failed (rc set), else 0. */
static int nomem(int rc, struct err *err)
{
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

struct counted {
    const struct feature_sink *inner;
    int64_t n;
};

static int counted_feature(void *ud, const struct feature *f, struct err *err)
{
    struct counted *c = ud;
    c->n++;
    return c->inner->feature(c->inner->ud, f, err);
}

/* Checks q's filter (the store compiles it); fills sq. */
static int prepare(struct request *req, struct wfs_query *q, struct store_query *sq,
                   struct err *err)
{
    memset(sq, 0, sizeof *sq);
    sq->layer = q->layer;
    sq->role = req->role;
    sq->filter = q->filter, sq->geo = req->geo;
    if (q->filter) {
        struct err e2;
        err_clear(&e2);
        int rc = filter_check(q->filter, q->layer, req->role, &e2);
        if (!rc) rc = store_query_check(req->store, sq, &e2);
        if (rc) {
            if (rc != ERR_PARAM) {
                *err = e2;
                return rc;
            }
            return wfs_error(err, ERR_PARAM, "InvalidParameterValue",
                             e2.locator[0] ? e2.locator : "FILTER", "%s", e2.msg);
        }
    }
    sq->fields = q->fields;
    sq->n_fields = q->n_fields;
    sq->order = q->order;
    sq->order_desc = q->order_desc;
    sq->n_order = q->n_order;
    sq->want_geom = q->geom;
    return 0;
}

typedef int (*before_query_fn)(void *ud, const struct wfs_query *q);

/* Runs every query of w into sink with paging across them. */
static int run_all(struct request *req, struct wfs_req *w, const struct feature_sink *sink,
                   before_query_fn before, void *before_ud, int64_t *matched, int64_t *returned,
                   struct err *err)
{
    int64_t max = req->cfg->limits.max_features;
    int64_t remaining = w->count < 0 || w->count > max ? max : w->count;
    if (w->hits) remaining = 0;
    int64_t skip = w->start;
    *matched = 0, *returned = 0;
    struct counted cs = {sink, 0};
    struct feature_sink wrapped = {NULL, counted_feature, NULL, &cs};
    for (int i = 0; i < w->n_q; i++) {
        struct store_query sq;
        int rc = prepare(req, &w->q[i], &sq, err);
        if (w->ids_only) sq.n_fields = 0, sq.want_geom = 0;
        int64_t r = 0, cq = -1;
        if (!rc && remaining > 0) {
            if (before) before(before_ud, &w->q[i]);
            sq.limit = remaining;
            sq.offset = skip;
            cs.n = 0;
            rc = store_query_run(req->store, &sq, &wrapped, err);
            r = cs.n;
            if (r < remaining && (r > 0 || skip == 0)) cq = skip + r;
        }
        if (!rc && cq < 0) rc = store_query_count(req->store, &sq, &cq, err);
        if (rc) return rc;
        skip = skip > cq ? skip - cq : 0;
        remaining -= r;
        *matched += cq;
        *returned += r;
    }
    return 0;
}

int wfs_run_queries(struct request *req, struct wfs_req *w, const struct feature_sink *sink,
                    int64_t *matched, int64_t *returned, struct err *err)
{
    return run_all(req, w, sink, NULL, NULL, matched, returned, err);
}

/* GetFeatureWithLock: the lockId attribute of the collection (none otherwise). */
static int lock_attr(struct wfs_req *w, struct buf *b)
{
    if (!w->lock_id[0]) return 0;
    return buf_puts(b, " lockId=\"") || buf_put_xml(b, w->lock_id) || buf_putc(b, '"');
}

static void timestamp(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The request's own URL with STARTINDEX moved to start (KVP requests only). */
static int page_url(struct request *req, struct buf *b, int64_t start, int64_t count)
{
    int rc = buf_puts(b, req->base_url);
    if (!rc) rc = buf_puts(b, req->path);
    if (!rc) rc = buf_putc(b, '?');
    int n = 0;
    for (int i = 0; i < req->n_args && !rc; i++) {
        const char *k = req->args[i].key;
        if (str_ieq(k, "STARTINDEX") || str_ieq(k, "COUNT") || str_ieq(k, "MAXFEATURES")) continue;
        if (n++) rc = buf_putc(b, '&');
        if (!rc) rc = wfs_put_url_encoded(b, k);
        if (!rc) rc = buf_putc(b, '=');
        if (!rc) rc = wfs_put_url_encoded(b, req->args[i].value);
    }
    return rc ? rc
              : buf_printf(b, "%sSTARTINDEX=%lld&COUNT=%lld", n ? "&" : "", (long long)start,
                           (long long)count);
}

static int64_t page_size(struct request *req, struct wfs_req *w)
{
    int64_t max = req->cfg->limits.max_features;
    return w->count < 0 || w->count > max ? max : w->count;
}

static int want_links(struct wfs_req *w)
{
    return w->v2 && !w->post && !w->by_id && !w->hits;
}

static int is_geographic(struct request *req, int srid)
{
    return srid == GEO_SRID_CRS84 || geo_crs_geographic(req->geo, srid);
}

/* ---- GeoJSON ---- */

/* One {"rel":..,"type":..,"href":..} member of the links (after a ',' unless first). */
static int geojson_link(struct request *req, struct buf *b, const char *rel, int64_t start,
                        int64_t size, int first)
{
    int rc = buf_puts(b, first ? "{\"rel\":\"" : ",{\"rel\":\"");
    if (!rc) rc = buf_puts(b, rel);
    if (!rc) rc = buf_puts(b, "\",\"type\":\"application/geo+json\",\"href\":\"");
    if (!rc) rc = page_url(req, b, start, size);
    return rc ? rc : buf_puts(b, "\"}");
}

static int geojson_links(struct request *req, struct wfs_req *w, struct buf *b, int64_t matched,
                         int64_t returned)
{
    int64_t size = page_size(req, w);
    int rc = buf_puts(b, ",\"links\":[");
    int n = 0;
    if (!rc && w->start + returned < matched && size > 0) {
        rc = geojson_link(req, b, "next", w->start + returned, size, 1);
        n++;
    }
    if (!rc && w->start > 0)
        rc = geojson_link(req, b, "previous", w->start > size ? w->start - size : 0, size, !n);
    return rc ? rc : buf_putc(b, ']');
}

static int get_geojson(struct request *req, struct response *res, struct wfs_req *w,
                       struct err *err)
{
    struct buf *b = &res->body;
    int storage = store_srid(req->store);
    struct encode_geojson gw;
    encode_geojson_init(&gw, b, req->geo, storage, w->srid, is_geographic(req, w->srid));
    gw.id_with_layer = 1;
    struct feature_sink sink = encode_geojson_sink(&gw);
    int64_t matched, returned;
    resp_set(res, 200, "application/geo+json");
    buf_reserve(b, (size_t)(page_size(req, w) < 512 ? page_size(req, w) : 512) * 512 + 1024);
    int rc = !w->by_id && encode_geojson_open(b) ? err_set(err, ERR_NOMEM, "out of memory") : 0;
    if (!rc) rc = run_all(req, w, &sink, NULL, NULL, &matched, &returned, err);
    encode_geojson_fini(&gw);
    if (rc) return rc;
    if (w->by_id) {
        if (returned == 0)
            return wfs_error(err, ERR_NOT_FOUND, "NotFound", "ID", "no feature with this id");
        return buf_putc(b, '\n');
    }
    char ts[32], urn[64];
    timestamp(ts);
    buf_printf(b, "],\"numberMatched\":%lld,\"numberReturned\":%lld,\"timeStamp\":\"%s\"",
               (long long)matched, (long long)returned, ts);
    if (w->srid != 4326 && w->srid != GEO_SRID_CRS84)
        buf_printf(b, ",\"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"%s\"}}",
                   wfs_crs_urn(w->srid, urn));
    if (want_links(w)) geojson_links(req, w, b, matched, returned);
    return buf_puts(b, "}\n") ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

/* ---- GML ---- */

/* A next="..." or previous="..." attribute with the page URL. */
static int gml_page_attr(struct request *req, struct buf *b, const char *name, int64_t start,
                         int64_t size)
{
    struct buf u;
    buf_init(&u);
    int rc = page_url(req, &u, start, size);
    if (!rc) rc = buf_printf(b, " %s=\"", name);
    if (!rc) rc = buf_put_xml(b, u.data);
    if (!rc) rc = buf_putc(b, '"');
    buf_fini(&u);
    return rc;
}

static int gml_header(struct request *req, struct wfs_req *w, struct buf *b, int64_t matched,
                      int64_t returned)
{
    char ts[32];
    timestamp(ts);
    int rc;
    if (w->v2 && w->fmt == WFS_GML32) {
        rc = buf_printf(b,
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:FeatureCollection "
                        "xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
                        "xmlns:gml=\"http://www.opengis.net/gml/3.2\" xmlns:spp=\"" WFS_NS "\" "
                        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                        "xsi:schemaLocation=\"http://www.opengis.net/wfs/2.0 "
                        "http://schemas.opengis.net/wfs/2.0/wfs.xsd\" numberMatched=\"%lld\" "
                        "numberReturned=\"%lld\" timeStamp=\"%s\"",
                        (long long)matched, (long long)returned, ts);
        if (!rc) rc = lock_attr(w, b);
        if (!rc && want_links(w)) {
            int64_t size = page_size(req, w);
            if (w->start + returned < matched && size > 0)
                rc = gml_page_attr(req, b, "next", w->start + returned, size);
            if (!rc && w->start > 0)
                rc = gml_page_attr(req, b, "previous", w->start > size ? w->start - size : 0, size);
        }
        return rc ? rc : buf_puts(b, ">\n");
    }
    /* GML 3.1.1 in a WFS 1.1 collection (also for WFS 2.0 asking for GML 3.1.1) */
    rc = buf_printf(b,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:FeatureCollection "
                    "xmlns:wfs=\"http://www.opengis.net/wfs\" "
                    "xmlns:gml=\"http://www.opengis.net/gml\" xmlns:spp=\"" WFS_NS "\" "
                    "numberOfFeatures=\"%lld\" timeStamp=\"%s\"",
                    (long long)(w->hits ? matched : returned), ts);
    if (!rc) rc = lock_attr(w, b);
    return rc ? rc : buf_puts(b, ">\n");
}

static int get_gml(struct request *req, struct response *res, struct wfs_req *w, struct err *err)
{
    int v32 = w->fmt == WFS_GML32;
    struct buf features;
    buf_init(&features);
    struct encode_gml gw;
    encode_gml_init(&gw, &features, req->geo, store_srid(req->store), w->srid,
                    is_geographic(req, w->srid));
    gw.v32 = v32;
    gw.geom.swap_xy = w->swap;
    gw.srs_name = w->srs_name;
    gw.member = w->by_id ? NULL : v32 && w->v2 ? "wfs:member" : "gml:featureMember";
    if (w->by_id)
        gw.root_attrs = v32 ? " xmlns:spp=\"" WFS_NS
                              "\" xmlns:gml=\"http://www.opengis.net/gml/3.2\""
                            : " xmlns:spp=\"" WFS_NS "\" xmlns:gml=\"http://www.opengis.net/gml\"";
    struct feature_sink sink = encode_gml_sink(&gw);
    int64_t matched, returned;
    int rc = run_all(req, w, &sink, NULL, NULL, &matched, &returned, err);
    encode_gml_fini(&gw);
    struct buf *b = &res->body;
    if (!rc && w->by_id && returned == 0)
        rc = wfs_error(err, ERR_NOT_FOUND, "NotFound", "ID", "no feature with this id");
    if (!rc) {
        resp_set(res, 200,
                 v32 ? "application/gml+xml; version=3.2" : "text/xml; subtype=gml/3.1.1");
        if (w->by_id) {
            rc = buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
            if (!rc) rc = buf_append(b, features.data, features.len);
        } else {
            rc = buf_reserve(b, features.len + 1024);
            if (!rc) rc = gml_header(req, w, b, matched, returned);
            if (!rc) rc = buf_append(b, features.data, features.len);
            if (!rc) rc = buf_puts(b, "</wfs:FeatureCollection>\n");
        }
        rc = nomem(rc, err);
    }
    buf_fini(&features);
    return rc;
}

/* ---- CSV ---- */

struct csv_state {
    struct encode_csv cw;
    int n_headers;
};

static int csv_before(void *ud, const struct wfs_query *q)
{
    struct csv_state *s = ud;
    int rc = s->n_headers++ ? buf_puts(s->cw.out, "\r\n") : 0;
    return rc ? rc : encode_csv_header(s->cw.out, q->layer, q->fields, q->n_fields);
}

static int get_csv(struct request *req, struct response *res, struct wfs_req *w, struct err *err)
{
    struct csv_state s;
    memset(&s, 0, sizeof s);
    encode_csv_init(&s.cw, &res->body, req->geo, store_srid(req->store), w->srid,
                    is_geographic(req, w->srid));
    s.cw.geom.swap_xy = w->swap;
    struct feature_sink sink = encode_csv_sink(&s.cw);
    int64_t matched, returned;
    resp_set(res, 200, "text/csv; charset=utf-8");
    int rc = run_all(req, w, &sink, csv_before, &s, &matched, &returned, err);
    encode_csv_fini(&s.cw);
    if (!rc && w->hits && buf_printf(&res->body, "numberMatched\r\n%lld\r\n", (long long)matched))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    return rc;
}

int wfs_get_feature(struct request *req, struct response *res, struct wfs_req *w, struct err *err)
{
    switch (w->fmt) {
    case WFS_GEOJSON:
        return get_geojson(req, res, w, err);
    case WFS_CSV:
        return get_csv(req, res, w, err);
    default:
        return get_gml(req, res, w, err);
    }
}

/* ---- GetPropertyValue ---- */

struct value_state {
    struct encode_gml gw;
    int field; /* -1: geometry */
};

static int value_feature(void *ud, const struct feature *f, struct err *err)
{
    struct value_state *s = ud;
    struct buf *b = s->gw.out;
    int rc = 0;
    if (s->field < 0) {
        if (!f->wkb || !f->wkb_len)
            return nomem(buf_puts(b, "<wfs:member xsi:nil=\"true\"/>\n"), err);
        char id[96];
        snprintf(id, sizeof id, "%s.%lld", f->layer->id, (long long)f->fid);
        if ((rc = encode_geom_load(&s->gw.geom, f->wkb, f->wkb_len, err))) return rc;
        rc = buf_puts(b, "<wfs:member>");
        if (!rc) rc = encode_gml_geometry(b, &s->gw, id);
        if (!rc) rc = buf_puts(b, "</wfs:member>\n");
    } else if (f->values[0].type == VAL_NULL) {
        rc = buf_puts(b, "<wfs:member xsi:nil=\"true\"/>\n");
    } else {
        rc = buf_puts(b, "<wfs:member>");
        if (!rc) rc = encode_xml_value(b, &f->layer->fields[f->fields[0]], &f->values[0]);
        if (!rc) rc = buf_puts(b, "</wfs:member>\n");
    }
    return nomem(rc, err);
}

int wfs_get_property_value(struct request *req, struct response *res, struct wfs_req *w,
                           struct err *err)
{
    const char *ref = strrchr(w->value_ref, ':');
    ref = ref ? ref + 1 : w->value_ref;
    int geom = filter_is_geom_name(ref);
    for (int i = 0; i < w->n_q; i++) {
        struct wfs_query *q = &w->q[i];
        int f = geom ? -1 : access_field_index(q->layer, ref, req->role);
        if (!geom && f < 0)
            return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "valueReference",
                             "unknown property \"%s\"", ref);
        q->n_fields = geom ? 0 : 1;
        if (!geom) q->fields[0] = f;
        q->geom = geom;
    }
    struct value_state s;
    memset(&s, 0, sizeof s);
    s.field = geom ? -1 : 0;
    struct buf items;
    buf_init(&items);
    encode_gml_init(&s.gw, &items, req->geo, store_srid(req->store), w->srid,
                    is_geographic(req, w->srid));
    s.gw.geom.swap_xy = w->swap;
    s.gw.srs_name = w->srs_name;
    struct feature_sink sink = {NULL, value_feature, NULL, &s};
    int64_t matched, returned;
    int rc = run_all(req, w, &sink, NULL, NULL, &matched, &returned, err);
    encode_gml_fini(&s.gw);
    if (!rc) {
        char ts[32];
        timestamp(ts);
        resp_set(res, 200, "application/xml; charset=utf-8");
        buf_printf(&res->body,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:ValueCollection "
                   "xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
                   "xmlns:gml=\"http://www.opengis.net/gml/3.2\" xmlns:spp=\"" WFS_NS "\" "
                   "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                   "numberMatched=\"%lld\" numberReturned=\"%lld\" timeStamp=\"%s\">\n",
                   (long long)matched, (long long)returned, ts);
        buf_append(&res->body, items.data, items.len);
        buf_puts(&res->body, "</wfs:ValueCollection>\n");
    }
    buf_fini(&items);
    return rc;
}
