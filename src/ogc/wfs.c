/* SPDX-License-Identifier: MIT */
/* wfs.c: WFS 2.0.0 and 1.1.0 requests. Dispatch by REQUEST (KVP) or by the root element (POST
 * XML, read with no DTD, entities or network), and the parsing of both encodings into one
 * struct wfs_req: feature types checked against the catalog and the caller's role, BBOX with
 * its CRS and axis order, FILTER (FES), RESOURCEID, PROPERTYNAME, SORTBY, paging, SRSNAME and
 * output format. Also DescribeFeatureType (XSD from the catalog) and the stored-query
 * operations. GetCapabilities is in wfs_caps.c, GetFeature/GetPropertyValue in wfs_get.c. */
#include "wfs_int.h"

#include <libxml/tree.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wfs_error(struct err *err, enum err_code code, const char *ogc_code, const char *locator,
              const char *fmt, ...)
{
    if (!err || err->code) return code;
    va_list ap;
    va_start(ap, fmt);
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_setl(err, code, locator, "%s", msg);
    snprintf(err->ogc_code, sizeof err->ogc_code, "%s", ogc_code);
    return code;
}

const char *wfs_crs_urn(int srid, char out[64])
{
    if (srid == GEO_SRID_CRS84)
        snprintf(out, 64, "urn:ogc:def:crs:OGC:1.3:CRS84");
    else
        snprintf(out, 64, "urn:ogc:def:crs:EPSG::%d", srid);
    return out;
}

int wfs_put_url_encoded(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~:,", *p))
            rc = buf_putc(b, (char)*p);
        else
            rc = buf_putc(b, '%') || buf_putc(b, hex[*p >> 4]) || buf_putc(b, hex[*p & 15]);
    }
    return rc;
}

void wfs_req_fini(struct wfs_req *w)
{
    for (int i = 0; i < w->n_q; i++) {
        filter_free(w->q[i].filter);
        free(w->q[i].fields);
    }
    w->n_q = 0;
}

/* ---- the pieces of a query ---- */

static const char *strip_prefix(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static int add_query(struct request *req, struct wfs_req *w, const char *name, struct err *err)
{
    const char *id = strip_prefix(name);
    const struct layer_def *l = catalog_layer(&req->cfg->catalog, id);
    /* a layer the role may not read answers exactly like an unknown one */
    if (!l || !access_layer(l, req->role))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "typeNames",
                         "unknown feature type \"%s\"", name);
    if (w->n_q == WFS_MAX_QUERIES)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "typeNames",
                         "too many feature types");
    struct wfs_query *q = &w->q[w->n_q++];
    memset(q, 0, sizeof *q);
    q->layer = l;
    q->geom = 1;
    q->fields = calloc((size_t)l->n_fields + 1, sizeof *q->fields);
    if (!q->fields) return err_set(err, ERR_NOMEM, "out of memory");
    q->n_fields = encode_fields(l, req->role, q->fields, l->n_fields);
    return 0;
}

/* PROPERTYNAME list (names separated by ',') for one query. */
static int set_props(struct request *req, struct wfs_query *q, const char *list, struct err *err)
{
    if (!list || !*list || strcmp(list, "*") == 0) return 0;
    char *copy = str_dup(list);
    if (!copy) return err_set(err, ERR_NOMEM, "out of memory");
    q->n_fields = 0;
    q->geom = 0;
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",() ", &save); t && !rc; t = strtok_r(NULL, ",() ", &save)) {
        const char *name = strip_prefix(t);
        if (filter_is_geom_name(name)) {
            q->geom = 1;
            continue;
        }
        int f = access_field_index(q->layer, name, req->role);
        if (f < 0) {
            rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "PROPERTYNAME",
                           "unknown property \"%s\"", name);
            break;
        }
        int dup = 0;
        for (int i = 0; i < q->n_fields; i++)
            dup |= q->fields[i] == f;
        if (!dup) q->fields[q->n_fields++] = f;
    }
    free(copy);
    return rc;
}

/* SORTBY "a ASC,b DESC" (2.0) or "a A,b D" (1.1). */
static int set_sort(struct request *req, struct wfs_query *q, const char *list, struct err *err)
{
    if (!list || !*list) return 0;
    char *copy = str_dup(list);
    if (!copy) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        char *sp = strpbrk(t, " +");
        int desc = 0;
        if (sp) {
            *sp++ = '\0';
            while (*sp == ' ' || *sp == '+')
                sp++;
            if (str_ieq(sp, "DESC") || str_ieq(sp, "D"))
                desc = 1;
            else if (*sp && !str_ieq(sp, "ASC") && !str_ieq(sp, "A"))
                rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "SORTBY",
                               "sort order must be ASC or DESC, not \"%s\"", sp);
        }
        const char *name = strip_prefix(t);
        int f = str_ieq(name, "fid") ? -1 : access_field_index(q->layer, name, req->role);
        if (!rc && f < 0 && !str_ieq(name, "fid"))
            rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "SORTBY",
                           "unknown property \"%s\"", name);
        if (!rc && q->n_order == WFS_MAX_SORT)
            rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "SORTBY", "too many keys");
        if (!rc) {
            q->order[q->n_order] = f;
            q->order_desc[q->n_order++] = desc;
        }
    }
    free(copy);
    return rc;
}

/* A CRS as written by the client: srid and whether its axes are in authority order. */
static int parse_crs(struct wfs_req *w, const char *s, int *srid, int *authority,
                     const char *locator, struct err *err)
{
    if (geo_crs_parse(s, srid))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", locator, "unknown CRS \"%s\"", s);
    *authority = w->v2 || strncmp(s, "urn:", 4) == 0 ||
                 (strncmp(s, "http", 4) == 0 && !strstr(s, "epsg.xml#"));
    return 0;
}

static int set_srs(struct request *req, struct wfs_req *w, const char *s, struct err *err)
{
    int storage = store_srid(req->store);
    w->srid = storage;
    char urn[64];
    snprintf(w->srs_name, sizeof w->srs_name, "%s", wfs_crs_urn(storage, urn));
    if (!s || !*s) return 0;
    int srid, auth;
    if (parse_crs(w, s, &srid, &auth, "srsName", err)) return ERR_PARAM;
    int adv[32], n = geo_advertised_crs(storage, adv, 32), ok = 0;
    for (int i = 0; i < n; i++)
        ok |= adv[i] == srid;
    if (!ok || !geo_crs_known(req->geo, srid))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "srsName",
                         "CRS \"%s\" is not offered for this feature type", s);
    w->srid = srid;
    w->swap = auth && geo_crs_latlon(req->geo, srid);
    if (auth || srid == GEO_SRID_CRS84)
        snprintf(w->srs_name, sizeof w->srs_name, "%s", wfs_crs_urn(srid, urn));
    else
        snprintf(w->srs_name, sizeof w->srs_name, "EPSG:%d", srid);
    return 0;
}

/* BBOX=minx,miny,maxx,maxy[,crs] as a filter in each query. */
static int add_bbox(struct request *req, struct wfs_req *w, const char *value, struct err *err)
{
    char *copy = str_dup(value);
    if (!copy) return err_set(err, ERR_NOMEM, "out of memory");
    struct bbox b;
    const char *crs = NULL;
    struct err e2;
    err_clear(&e2);
    int rc = bbox_parse(copy, &b, &crs, &e2);
    int srid = 0, auth = 0;
    if (rc) rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "BBOX", "%s", e2.msg);
    if (!rc && crs) rc = parse_crs(w, crs, &srid, &auth, "BBOX", err);
    if (!rc && crs && !geo_crs_known(req->geo, srid))
        rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "BBOX", "unknown CRS \"%s\"", crs);
    if (!rc && !crs) {
        srid = w->srid;
        auth = w->swap;
    }
    for (int i = 0; i < w->n_q && !rc; i++) {
        struct filter *f = NULL;
        if ((rc = filter_new_bbox(&b, srid, &f, err))) break;
        f->root->authority_axes = auth;
        w->q[i].filter = filter_and(w->q[i].filter, f);
        if (!w->q[i].filter) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    free(copy);
    return rc;
}

static void filter_limits_of(struct request *req, struct filter_limits *lim)
{
    filter_limits_from(&req->cfg->limits, lim);
}

/* FILTER: one filter for all types, or a list "(f1)(f2)" with one per type. */
static int add_filters(struct request *req, struct wfs_req *w, const char *value, struct err *err)
{
    struct filter_limits lim;
    filter_limits_of(req, &lim);
    const char *p = value;
    while (*p == ' ' || *p == '\n')
        p++;
    int listed = *p == '(';
    for (int i = 0; i < w->n_q; i++) {
        const char *start = p, *end = p + strlen(p);
        if (listed) {
            if (*p != '(')
                return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "FILTER",
                                 "one filter in parentheses per type name");
            const char *close = strstr(p, ")(");
            if (!close) close = strrchr(p, ')');
            if (!close)
                return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "FILTER",
                                 "bad filter list");
            start = p + 1, end = close;
            p = close + 1;
        }
        struct filter *f = NULL;
        struct err e2;
        err_clear(&e2);
        if (filter_parse_fes(start, (size_t)(end - start), &lim, w->srid, &f, &e2))
            return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "FILTER", "%s", e2.msg);
        w->q[i].filter = filter_and(w->q[i].filter, f);
        if (!listed) {
            p = value; /* same text again for the next type */
        }
    }
    return 0;
}

/* RESOURCEID=layer.fid,... (types from the ids when TYPENAMES is absent). */
static int add_resource_ids(struct request *req, struct wfs_req *w, const char *value,
                            int add_types, struct err *err)
{
    char *copy = str_dup(value);
    const char *ids[256];
    int n = 0, rc = copy ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !rc;
         t = strtok_r(NULL, ",", &save)) {
        char *dot = strrchr(t, '.');
        long fid;
        if (!dot || str_to_long(dot + 1, &fid))
            rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "RESOURCEID",
                           "\"%s\" is not a feature id (type.number)", t);
        else if (n == (int)ARRAY_LEN(ids))
            rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "RESOURCEID", "too many ids");
        if (rc) break;
        t = (char *)strip_prefix(t);
        dot = strrchr(t, '.');
        if (add_types) {
            *dot = '\0';
            int have = 0;
            for (int i = 0; i < w->n_q; i++)
                have |= strcmp(w->q[i].layer->id, t) == 0;
            if (!have) rc = add_query(req, w, t, err);
            *dot = '.';
        }
        ids[n++] = t;
    }
    for (int i = 0; i < w->n_q && !rc; i++) {
        struct filter *f = NULL;
        if ((rc = filter_new_resource_ids(ids, n, &f, err))) break;
        w->q[i].filter = filter_and(w->q[i].filter, f);
    }
    free(copy);
    return rc;
}

/* ---- KVP ---- */

static int parse_version(struct request *req, struct wfs_req *w, struct err *err)
{
    const char *v = req_arg_ci(req, "VERSION");
    w->v2 = 1;
    if (!v || !*v || strcmp(v, "2.0.0") == 0 || strcmp(v, "2.0") == 0) return 0;
    if (strcmp(v, "1.1.0") == 0 || strcmp(v, "1.1") == 0) {
        w->v2 = 0;
        return 0;
    }
    return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "version",
                     "WFS version \"%s\" is not supported (2.0.0, 1.1.0)", v);
}

static int parse_format(const char *f, struct wfs_req *w, struct err *err)
{
    w->fmt = w->v2 ? WFS_GML32 : WFS_GML31;
    if (!f || !*f) return 0;
    if (strstr(f, "json") || strstr(f, "JSON"))
        w->fmt = WFS_GEOJSON;
    else if (strstr(f, "csv") || strstr(f, "CSV"))
        w->fmt = WFS_CSV;
    else if (strstr(f, "3.2") || str_ieq(f, "gml32"))
        w->fmt = WFS_GML32;
    else if (strstr(f, "3.1") || str_ieq(f, "gml3"))
        w->fmt = WFS_GML31;
    else if (str_ieq(f, "text/xml") || str_ieq(f, "application/xml"))
        return 0;
    else
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "outputFormat",
                         "output format \"%s\" is not supported", f);
    return 0;
}

static int parse_int(const char *s, const char *locator, int64_t *out, struct err *err)
{
    long v;
    if (str_to_long(s, &v) || v < 0)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", locator,
                         "%s must be a whole number >= 0, not \"%s\"", locator, s);
    *out = v;
    return 0;
}

static int paging(struct request *req, struct wfs_req *w, struct err *err)
{
    const char *c = req_arg_ci(req, "COUNT");
    if (!c) c = req_arg_ci(req, "MAXFEATURES");
    const char *s = req_arg_ci(req, "STARTINDEX");
    const char *rt = req_arg_ci(req, "RESULTTYPE");
    w->count = -1;
    if (c && parse_int(c, "COUNT", &w->count, err)) return ERR_PARAM;
    if (s && parse_int(s, "STARTINDEX", &w->start, err)) return ERR_PARAM;
    if (rt && !str_ieq(rt, "results") && !str_ieq(rt, "hits"))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "resultType",
                         "resultType must be results or hits");
    w->hits = rt && str_ieq(rt, "hits");
    return 0;
}

/* LOCKID, EXPIRY, LOCKACTION, RELEASEACTION (KVP or the root's attributes; NULL: not given). */
static int lock_params(struct wfs_req *w, const char *id, const char *expiry, const char *action,
                       const char *release, struct err *err)
{
    w->expiry = -1;
    if (id && strlen(id) >= sizeof w->lock_id)
        return wfs_error(err, ERR_PARAM, "InvalidLockId", "lockId",
                         "lockId \"%.60s\" is not a lock of this server", id);
    if (id) snprintf(w->lock_id, sizeof w->lock_id, "%s", id);
    if (expiry && parse_int(expiry, "EXPIRY", &w->expiry, err)) return ERR_PARAM;
    if (action && !str_ieq(action, "ALL") && !str_ieq(action, "SOME"))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "lockAction",
                         "lockAction must be ALL or SOME, not \"%s\"", action);
    if (release && !str_ieq(release, "ALL") && !str_ieq(release, "SOME"))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "releaseAction",
                         "releaseAction must be ALL or SOME, not \"%s\"", release);
    w->lock_some = action && str_ieq(action, "SOME");
    w->release_some = release && str_ieq(release, "SOME");
    return 0;
}

static int kvp_lock_params(struct request *req, struct wfs_req *w, struct err *err)
{
    return lock_params(w, req_arg_ci(req, "LOCKID"), req_arg_ci(req, "EXPIRY"),
                       req_arg_ci(req, "LOCKACTION"), req_arg_ci(req, "RELEASEACTION"), err);
}

/* TYPENAMES / TYPENAME: "a,b" or "(a)(b)", prefixes stripped */
static int add_typenames(struct request *req, struct wfs_req *w, const char *list, struct err *err)
{
    char *copy = str_dup(list);
    if (!copy) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",() ", &save); t && !rc; t = strtok_r(NULL, ",() ", &save))
        rc = add_query(req, w, t, err);
    free(copy);
    return rc;
}

/* CQL_FILTER (the GeoServer/MapServer vendor parameter): CQL2 text, literals in the request
 * CRS, the same filter for every type. */
static int add_cql(struct request *req, struct wfs_req *w, const char *text, struct err *err)
{
    struct filter_limits lim;
    filter_limits_of(req, &lim);
    for (int i = 0; i < w->n_q; i++) {
        struct filter *f = NULL;
        struct err e2;
        err_clear(&e2);
        if (filter_parse_cql2_text(text, &lim, w->srid, &f, &e2))
            return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "CQL_FILTER", "%s", e2.msg);
        w->q[i].filter = filter_and(w->q[i].filter, f);
    }
    return 0;
}

static int kvp_selection(struct request *req, struct wfs_req *w, struct err *err)
{
    const char *bbox = req_arg_ci(req, "BBOX"), *filter = req_arg_ci(req, "FILTER");
    const char *rid = req_arg_ci(req, "RESOURCEID");
    if (!rid) rid = req_arg_ci(req, "FEATUREID");
    if (!!bbox + !!filter + !!rid > 1)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", bbox ? "BBOX" : "FILTER",
                         "BBOX, FILTER and RESOURCEID cannot be combined");
    const char *lang = req_arg_ci(req, "FILTER_LANGUAGE");
    if (filter && lang && !strstr(lang, "FES") && !strstr(lang, "Filter") &&
        !strstr(lang, "filter"))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "FILTER_LANGUAGE",
                         "filter language \"%s\" is not supported", lang);
    const char *cql = req_arg_ci(req, "CQL_FILTER");
    if (cql && (bbox || filter || rid))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "CQL_FILTER",
                         "CQL_FILTER cannot be combined with BBOX, FILTER or RESOURCEID");
    if (cql) return add_cql(req, w, cql, err);
    if (bbox) return add_bbox(req, w, bbox, err);
    if (filter) return add_filters(req, w, filter, err);
    if (rid && !w->by_id) return add_resource_ids(req, w, rid, 0, err);
    return 0;
}

int wfs_parse_kvp(struct request *req, struct wfs_req *w, struct err *err)
{
    if (parse_version(req, w, err)) return ERR_PARAM;
    const char *types = req_arg_ci(req, "TYPENAMES");
    if (!types) types = req_arg_ci(req, "TYPENAME");
    const char *sq = req_arg_ci(req, "STOREDQUERY_ID");
    const char *rid = req_arg_ci(req, "RESOURCEID");
    if (!rid) rid = req_arg_ci(req, "FEATUREID");
    int rc = 0;
    if (sq) {
        if (!str_ieq(sq, WFS_GETBYID))
            return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "STOREDQUERY_ID",
                             "unknown stored query \"%s\"", sq);
        const char *id = req_arg_ci(req, "ID");
        if (!id || !*id)
            return wfs_error(err, ERR_PARAM, "MissingParameterValue", "ID",
                             "GetFeatureById needs ID");
        if (strchr(id, ','))
            return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "ID", "one ID only");
        w->by_id = 1;
        rc = add_resource_ids(req, w, id, 1, err);
    } else if (types && *types) {
        rc = add_typenames(req, w, types, err);
    } else if (rid && *rid) {
        rc = add_resource_ids(req, w, rid, 1, err);
        rid = NULL;
    } else {
        return wfs_error(err, ERR_PARAM, "MissingParameterValue", "typeNames",
                         "TYPENAMES (or RESOURCEID or STOREDQUERY_ID) is required");
    }
    if (rc || (rc = set_srs(req, w, req_arg_ci(req, "SRSNAME"), err))) return rc;
    if (!sq && (rc = kvp_selection(req, w, err))) return rc;
    const char *props = req_arg_ci(req, "PROPERTYNAME"), *sort = req_arg_ci(req, "SORTBY");
    for (int i = 0; i < w->n_q && !rc; i++) {
        rc = set_props(req, &w->q[i], props, err);
        if (!rc) rc = set_sort(req, &w->q[i], sort, err);
    }
    if (rc || (rc = paging(req, w, err))) return rc;
    const char *vr = req_arg_ci(req, "VALUEREFERENCE");
    if (vr) snprintf(w->value_ref, sizeof w->value_ref, "%s", vr);
    return parse_format(req_arg_ci(req, "OUTPUTFORMAT"), w, err);
}

/* ---- POST XML ---- */

static int xis(xmlNodePtr e, const char *name)
{
    if (!e || e->type != XML_ELEMENT_NODE) return 0;
    /* an undeclared prefix ("fes:Filter" without xmlns:fes) stays in the name: compare the
     * local part */
    const char *n = (const char *)e->name, *colon = strchr(n, ':');
    return strcmp(colon ? colon + 1 : n, name) == 0;
}

/* An attribute by case-insensitive local name, with or without a namespace prefix: clients
 * spell them differently (OWSLib 0.27 writes typenames= and outputformat= in WFS 2.0, the
 * schema says typeNames= and outputFormat=). Caller frees with xmlFree. */
static char *xattr(xmlNodePtr e, const char *name)
{
    for (xmlAttrPtr a = e->properties; a; a = a->next) {
        const char *n = (const char *)a->name, *colon = strchr(n, ':');
        if (str_ieq(colon ? colon + 1 : n, name)) {
            xmlChar *v = xmlNodeListGetString(e->doc, a->children, 1);
            return (char *)(v ? v : xmlStrdup((const xmlChar *)""));
        }
    }
    return NULL;
}

/* s without white space around it (s is changed) */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* appends the element's text to a comma list */
static int xml_text_to_list(xmlNodePtr e, struct buf *list)
{
    char *t = (char *)xmlNodeGetContent(e);
    int rc = (list->len ? buf_putc(list, ',') : 0) || buf_puts(list, t ? t : "");
    if (t) xmlFree(t);
    return rc;
}

static int xml_sortby(xmlNodePtr e, struct buf *sort)
{
    int rc = 0;
    for (xmlNodePtr p = e->children; p && !rc; p = p->next) {
        if (!xis(p, "SortProperty")) continue;
        for (xmlNodePtr c = p->children; c && !rc; c = c->next) {
            if (xis(c, "ValueReference") || xis(c, "PropertyName")) {
                rc = xml_text_to_list(c, sort);
            } else if (xis(c, "SortOrder")) {
                char *t = (char *)xmlNodeGetContent(c);
                rc = buf_printf(sort, " %s", t ? t : "ASC");
                if (t) xmlFree(t);
            }
        }
    }
    return rc;
}

static int xml_query(struct request *req, struct wfs_req *w, xmlNodePtr q, struct err *err)
{
    char *types = xattr(q, "typeNames"); /* any case: typeNames, typenames, TYPENAMES */
    if (!types) types = xattr(q, "typeName");
    char *srs = xattr(q, "srsName");
    int first = w->n_q;
    int rc = types ? add_typenames(req, w, types, err)
                   : wfs_error(err, ERR_PARAM, "MissingParameterValue", "typeNames",
                               "Query without typeNames");
    if (!rc && first == 0) rc = set_srs(req, w, srs, err);
    struct buf props, sort;
    buf_init(&props);
    buf_init(&sort);
    struct filter_limits lim;
    filter_limits_of(req, &lim);
    for (xmlNodePtr c = q->children; c && !rc; c = c->next) {
        if (xis(c, "PropertyName") || xis(c, "ValueReference")) {
            rc = xml_text_to_list(c, &props);
        } else if (xis(c, "SortBy")) {
            rc = xml_sortby(c, &sort);
        } else if (xis(c, "Filter")) {
            for (int i = first; i < w->n_q && !rc; i++) {
                struct filter *f = NULL;
                struct err e2;
                err_clear(&e2);
                if (filter_parse_fes_node(c, &lim, w->srid, &f, &e2))
                    rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "Filter", "%s", e2.msg);
                else
                    w->q[i].filter = filter_and(w->q[i].filter, f);
            }
        }
    }
    for (int i = first; i < w->n_q && !rc; i++)
        if (set_props(req, &w->q[i], props.data, err) || set_sort(req, &w->q[i], sort.data, err))
            rc = err->code;
    buf_fini(&props);
    buf_fini(&sort);
    if (types) xmlFree(types);
    if (srs) xmlFree(srs);
    return rc;
}

static int xml_stored_query(struct request *req, struct wfs_req *w, xmlNodePtr q, struct err *err)
{
    char *id = xattr(q, "id");
    int rc = 0;
    if (!id || !str_ieq(id, WFS_GETBYID))
        rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "STOREDQUERY_ID",
                       "unknown stored query \"%s\"", id ? id : "");
    if (id) xmlFree(id);
    char *value = NULL;
    for (xmlNodePtr c = q->children; c && !rc && !value; c = c->next) {
        char *name = xis(c, "Parameter") ? xattr(c, "name") : NULL;
        if (name && str_ieq(name, "ID")) value = (char *)xmlNodeGetContent(c);
        if (name) xmlFree(name);
    }
    if (!rc && !value)
        rc = wfs_error(err, ERR_PARAM, "MissingParameterValue", "ID", "GetFeatureById needs ID");
    w->by_id = 1;
    if (!rc) rc = add_resource_ids(req, w, value, 1, err);
    if (!rc) rc = set_srs(req, w, NULL, err);
    if (value) xmlFree(value);
    return rc;
}

static int xml_root_attrs(struct wfs_req *w, xmlNodePtr root, struct err *err)
{
    char *v = xattr(root, "version");
    w->v2 = !(v && strncmp(v, "1.1", 3) == 0);
    int bad = v && strncmp(v, "1.1", 3) != 0 && strncmp(v, "2.0", 3) != 0;
    /* QGIS 3.22 sends a WFS 1.0.0 Transaction (GML 2) for layers it reads as 2.0.0 (wfs_tx.c) */
    if (bad && strncmp(v, "1.0", 3) == 0 && str_ieq((const char *)root->name, "Transaction"))
        bad = 0, w->v2 = 0;
    if (v) xmlFree(v);
    if (bad)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "version",
                         "WFS version is not supported (2.0.0, 1.1.0)");
    char *c = xattr(root, "count"), *m = xattr(root, "maxFeatures"), *s = xattr(root, "startIndex");
    char *rt = xattr(root, "resultType"), *f = xattr(root, "outputFormat"),
         *vr = xattr(root, "valueReference");
    char *lid = xattr(root, "lockId"), *ex = xattr(root, "expiry"), *la = xattr(root, "lockAction"),
         *ra = xattr(root, "releaseAction");
    int rc = lock_params(w, lid, ex, la, ra, err);
    w->count = -1;
    if (!rc && (c || m)) rc = parse_int(c ? c : m, "COUNT", &w->count, err);
    if (!rc && s) rc = parse_int(s, "STARTINDEX", &w->start, err);
    w->hits = rt && str_ieq(rt, "hits");
    if (!rc && rt && !w->hits && !str_ieq(rt, "results"))
        rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "resultType",
                       "resultType must be results or hits");
    if (!rc) rc = parse_format(f, w, err);
    if (vr) snprintf(w->value_ref, sizeof w->value_ref, "%s", vr);
    char *all[] = {c, m, s, rt, f, vr, lid, ex, la, ra};
    for (size_t i = 0; i < ARRAY_LEN(all); i++)
        if (all[i]) xmlFree(all[i]);
    return rc;
}

int wfs_parse_xml(struct request *req, struct wfs_req *w, struct err *err)
{
    struct filter_limits lim;
    filter_limits_of(req, &lim);
    void *doc = NULL;
    struct err e2;
    err_clear(&e2);
    w->post = 1;
    if (filter_xml_read(req->body, req->body_len, &lim, &doc, &e2))
        return wfs_error(err, ERR_PARAM, "OperationParsingFailed", "request", "%s", e2.msg);
    xmlNodePtr root = xmlDocGetRootElement((xmlDocPtr)doc);
    snprintf(w->op, sizeof w->op, "%s", (const char *)root->name);
    int rc = xml_root_attrs(w, root, err);
    for (xmlNodePtr c = root->children; c && !rc; c = c->next) {
        if (xis(c, "Query") || xis(c, "Lock")) /* wfs:Lock: a WFS 1.1 LockFeature's query */
            rc = xml_query(req, w, c, err);
        else if (xis(c, "LockId")) { /* a WFS 1.1 Transaction's lock */
            char *t = (char *)xmlNodeGetContent(c);
            if (t && strlen(t) >= sizeof w->lock_id)
                rc = wfs_error(err, ERR_PARAM, "InvalidLockId", "lockId",
                               "LockId \"%.60s\" is not a lock of this server", t);
            else
                snprintf(w->lock_id, sizeof w->lock_id, "%s", t ? trim(t) : "");
            if (t) xmlFree(t);
        } else if (xis(c, "StoredQuery"))
            rc = xml_stored_query(req, w, c, err);
        else if (xis(c, "TypeName")) {
            char *t = (char *)xmlNodeGetContent(c);
            rc = add_typenames(req, w, t ? t : "", err);
            if (t) xmlFree(t);
        }
    }
    if (!rc && w->n_q == 0 &&
        (str_ieq(w->op, "GetFeature") || str_ieq(w->op, "GetPropertyValue") ||
         str_ieq(w->op, "GetFeatureWithLock")))
        rc = wfs_error(err, ERR_PARAM, "MissingParameterValue", "typeNames", "no Query");
    if (!rc && !w->srs_name[0]) rc = set_srs(req, w, NULL, err);
    filter_xml_free(doc);
    return rc;
}

/* ---- dispatch ---- */

static int describe_feature_type(struct request *req, struct response *res, struct wfs_req *w,
                                 struct err *err);
static int list_stored_queries(struct request *req, struct response *res, struct wfs_req *w,
                               int describe, struct err *err);

/* Every readable layer, for DescribeFeatureType and stored queries without TYPENAMES. */
static int all_layers(struct request *req, struct wfs_req *w, struct err *err)
{
    const struct catalog *cat = &req->cfg->catalog;
    for (int i = 0; i < cat->n_layers; i++)
        if (access_layer(&cat->layers[i], req->role)) {
            int rc = add_query(req, w, cat->layers[i].id, err);
            if (rc) return rc;
        }
    return 0;
}

static int run_op(struct request *req, struct response *res, struct wfs_req *w, struct err *err)
{
    const char *op = w->op;
    if (str_ieq(op, "GetFeature")) return wfs_get_feature(req, res, w, err);
    if (str_ieq(op, "GetPropertyValue")) {
        if (!w->v2)
            return wfs_error(err, ERR_UNSUPPORTED, "OperationNotSupported", "request",
                             "GetPropertyValue is a WFS 2.0 operation");
        return wfs_get_property_value(req, res, w, err);
    }
    if (str_ieq(op, "DescribeFeatureType")) {
        if (w->n_q == 0 && all_layers(req, w, err)) return err->code;
        return describe_feature_type(req, res, w, err);
    }
    if (str_ieq(op, "ListStoredQueries") || str_ieq(op, "DescribeStoredQueries")) {
        if (!w->v2)
            return wfs_error(err, ERR_UNSUPPORTED, "OperationNotSupported", "request",
                             "stored queries are a WFS 2.0 feature");
        if (all_layers(req, w, err)) return err->code;
        return list_stored_queries(req, res, w, str_ieq(op, "DescribeStoredQueries"), err);
    }
    if (str_ieq(op, "Transaction") && w->post) return wfs_transaction(req, res, w, err);
    if (str_ieq(op, "LockFeature")) return wfs_lock_feature(req, res, w, err);
    if (str_ieq(op, "GetFeatureWithLock")) return wfs_get_feature_with_lock(req, res, w, err);
    if (str_ieq(op, "Transaction") || str_ieq(op, "CreateStoredQuery") ||
        str_ieq(op, "DropStoredQuery"))
        return wfs_error(err, ERR_UNSUPPORTED, "OperationNotSupported", "request",
                         "%s is not supported here (a Transaction is an XML POST)", op);
    return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "request",
                     "unknown WFS request \"%s\"", op);
}

/* GetCapabilities version negotiation: ACCEPTVERSIONS (first supported) or VERSION. */
static int caps_version(struct request *req, int *v2, struct err *err)
{
    const char *av = req_arg_ci(req, "ACCEPTVERSIONS");
    *v2 = 1;
    if (!av) {
        const char *v = req_arg_ci(req, "VERSION");
        if (v && (strcmp(v, "1.1.0") == 0 || strcmp(v, "1.1") == 0)) *v2 = 0;
        return 0;
    }
    char *copy = str_dup(av), *save = NULL;
    int found = 0;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !found;
         t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "2.0.0") == 0 || strcmp(t, "2.0") == 0)
            found = 1, *v2 = 1;
        else if (strcmp(t, "1.1.0") == 0 || strcmp(t, "1.1") == 0)
            found = 1, *v2 = 0;
    }
    free(copy);
    if (!found)
        return wfs_error(err, ERR_PARAM, "VersionNegotiationFailed", "AcceptVersions",
                         "none of the versions \"%s\" is supported (2.0.0, 1.1.0)", av);
    return 0;
}

static int dispatch(struct request *req, struct response *res, struct err *err);

/* POST with KVP in a form-encoded body: served like the same GET (the body's pairs replace the
 * query string's for the duration of the call). */
static int dispatch_form(struct request *req, struct response *res, struct err *err)
{
    char *copy = str_ndup(req->body, req->body_len);
    struct kv pairs[128];
    int n = 0, rc = copy ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *t = copy ? strtok_r(copy, "&", &save) : NULL; t && !rc;
         t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        if (eq) *eq++ = '\0';
        if (n == (int)ARRAY_LEN(pairs) || str_url_decode(t) || (eq && str_url_decode(eq)))
            rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "request",
                           "malformed form-encoded request body");
        else
            pairs[n++] = (struct kv){t, eq ? eq : (char *)""};
    }
    struct kv *args = req->args;
    int n_args = req->n_args;
    const char *body = req->body;
    if (!rc) {
        req->args = pairs, req->n_args = n, req->body = NULL;
        rc = dispatch(req, res, err);
        req->args = args, req->n_args = n_args, req->body = body;
    }
    free(copy);
    return rc;
}

/* 1 if the body (not necessarily NUL-terminated) starts with '<' after blanks */
static int body_is_xml(const struct request *req)
{
    for (size_t i = 0; i < req->body_len; i++)
        if (!strchr(" \t\r\n", req->body[i]) || !req->body[i]) return req->body[i] == '<';
    return 0;
}

int wfs_dispatch(struct request *req, struct response *res, struct err *err)
{
    req->err_form = FORM_OWS;
    /* XML is sometimes sent with the form type (urllib, curl -d): look at the body too */
    if (strcmp(req->method, "POST") == 0 && req->body && req->body_len && req->content_type &&
        str_starts(req->content_type, "application/x-www-form-urlencoded") && !body_is_xml(req))
        return dispatch_form(req, res, err);
    return dispatch(req, res, err);
}

/* DescribeFeatureType's OUTPUTFORMAT: an XML schema for GML 3.2 or GML 3.1.1. */
static int dft_format(const char *f, struct wfs_req *w, struct err *err)
{
    w->fmt = w->v2 ? WFS_GML32 : WFS_GML31;
    if (strstr(f, "3.1") || str_ieq(f, "gml3"))
        w->fmt = WFS_GML31;
    else if (!strstr(f, "3.2") && !str_ieq(f, "gml32") && !str_ieq(f, "text/xml") &&
             !str_ieq(f, "application/xml") && !str_ieq(f, "XMLSCHEMA"))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "outputFormat",
                         "DescribeFeatureType output format \"%s\" is not supported", f);
    return 0;
}

static int dispatch(struct request *req, struct response *res, struct err *err)
{
    struct wfs_req w;
    memset(&w, 0, sizeof w);
    int rc;
    if (strcmp(req->method, "POST") == 0 && req->body && req->body_len) {
        rc = wfs_parse_xml(req, &w, err);
        if (!rc && str_ieq(w.op, "GetCapabilities"))
            rc = wfs_capabilities(req, res, w.v2, err);
        else if (!rc)
            rc = run_op(req, res, &w, err);
        wfs_req_fini(&w);
        return rc;
    }
    const char *service = req_arg_ci(req, "SERVICE");
    const char *op = req_arg_ci(req, "REQUEST");
    if (service && *service && !str_ieq(service, "WFS"))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "service",
                         "service \"%s\" is not WFS", service);
    if (!op || !*op)
        return wfs_error(err, ERR_PARAM, "MissingParameterValue", "request",
                         "REQUEST is required (GetCapabilities, DescribeFeatureType, "
                         "GetFeature, ...)");
    if (str_ieq(op, "GetCapabilities")) {
        int v2;
        if ((rc = caps_version(req, &v2, err))) return rc;
        return wfs_capabilities(req, res, v2, err);
    }
    snprintf(w.op, sizeof w.op, "%s", op);
    if (str_ieq(op, "DescribeFeatureType") || str_ieq(op, "ListStoredQueries") ||
        str_ieq(op, "DescribeStoredQueries")) {
        rc = parse_version(req, &w, err);
        const char *types = req_arg_ci(req, "TYPENAMES");
        if (!types) types = req_arg_ci(req, "TYPENAME");
        if (!rc && types && *types && str_ieq(op, "DescribeFeatureType"))
            rc = add_typenames(req, &w, types, err);
        const char *fmt = req_arg_ci(req, "OUTPUTFORMAT");
        if (!rc && fmt && *fmt && str_ieq(op, "DescribeFeatureType")) rc = dft_format(fmt, &w, err);
        const char *sq = req_arg_ci(req, "STOREDQUERY_ID");
        if (!rc && sq && !str_ieq(sq, WFS_GETBYID))
            rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "STOREDQUERY_ID",
                           "unknown stored query \"%s\"", sq);
    } else if (str_ieq(op, "LockFeature") && !req_arg_ci(req, "TYPENAMES") &&
               !req_arg_ci(req, "TYPENAME") && !req_arg_ci(req, "RESOURCEID") &&
               !req_arg_ci(req, "FEATUREID") && !req_arg_ci(req, "STOREDQUERY_ID")) {
        rc = parse_version(req, &w, err); /* a renewal: LOCKID alone */
        if (!rc) rc = kvp_lock_params(req, &w, err);
    } else if (str_ieq(op, "GetFeature") || str_ieq(op, "GetPropertyValue") ||
               str_ieq(op, "GetFeatureWithLock") || str_ieq(op, "LockFeature")) {
        rc = wfs_parse_kvp(req, &w, err);
        if (!rc) rc = kvp_lock_params(req, &w, err);
        if (!rc && str_ieq(op, "GetPropertyValue") && !w.value_ref[0])
            rc = wfs_error(err, ERR_PARAM, "MissingParameterValue", "valueReference",
                           "GetPropertyValue needs VALUEREFERENCE");
    } else {
        rc = 0;
    }
    if (!rc) rc = run_op(req, res, &w, err);
    wfs_req_fini(&w);
    return rc;
}

/* ---- DescribeFeatureType and stored queries ---- */

static const char *xsd_type(enum field_type t)
{
    switch (t) {
    case FT_INTEGER:
        return "xsd:long";
    case FT_REAL:
        return "xsd:double";
    case FT_DATE:
        return "xsd:date";
    case FT_BOOLEAN:
        return "xsd:boolean";
    default:
        return "xsd:string";
    }
}

/* The property type of a geometry in the application schema. GML 3.2 has no multi-line or
 * multi-polygon type other than MultiCurve/MultiSurface; GML 3.1.1 still has MultiLineString and
 * MultiPolygon (deprecated there), the only multi types OWSLib's schema reader maps (it reads
 * MultiCurvePropertyType as an attribute and no geometry). GDAL reads both forms. */
static const char *gml_prop_type(enum geom_type t, int gml31)
{
    if (gml31 && t == GT_MULTILINESTRING) return "gml:MultiLineStringPropertyType";
    if (gml31 && t == GT_MULTIPOLYGON) return "gml:MultiPolygonPropertyType";
    switch (t) {
    case GT_POINT:
        return "gml:PointPropertyType";
    case GT_LINESTRING:
        return "gml:LineStringPropertyType";
    case GT_POLYGON:
        return "gml:PolygonPropertyType";
    case GT_MULTIPOINT:
        return "gml:MultiPointPropertyType";
    case GT_MULTILINESTRING:
        return "gml:MultiCurvePropertyType";
    default:
        return "gml:MultiSurfacePropertyType";
    }
}

static int describe_feature_type(struct request *req, struct response *res, struct wfs_req *w,
                                 struct err *err)
{
    (void)err, (void)req;
    struct buf *b = &res->body;
    int v32 = w->v2 && w->fmt != WFS_GML31; /* 2.0 answers GML 3.1.1 when asked for it */
    resp_set(res, 200, v32 ? "application/gml+xml; version=3.2" : "text/xml; subtype=gml/3.1.1");
    const char *gml = v32 ? "http://www.opengis.net/gml/3.2" : "http://www.opengis.net/gml";
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<xsd:schema xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:gml=\"%s\" "
               "xmlns:spp=\"" WFS_NS "\" targetNamespace=\"" WFS_NS "\" "
               "elementFormDefault=\"qualified\" version=\"1.0\">\n"
               "  <xsd:import namespace=\"%s\" schemaLocation=\"%s\"/>\n",
               gml, gml,
               v32 ? "http://schemas.opengis.net/gml/3.2.1/gml.xsd"
                   : "http://schemas.opengis.net/gml/3.1.1/base/gml.xsd");
    for (int i = 0; i < w->n_q; i++) {
        const struct wfs_query *q = &w->q[i];
        const struct layer_def *l = q->layer;
        buf_printf(b,
                   "  <xsd:complexType name=\"%sType\">\n    <xsd:complexContent>\n"
                   "      <xsd:extension base=\"gml:AbstractFeatureType\">\n"
                   "        <xsd:sequence>\n",
                   l->id);
        for (int k = 0; k < q->n_fields; k++) {
            const struct field_def *fd = &l->fields[q->fields[k]];
            buf_printf(b,
                       "          <xsd:element name=\"%s\" type=\"%s\" minOccurs=\"0\" "
                       "nillable=\"true\"/>\n",
                       fd->name, xsd_type(fd->type));
        }
        buf_printf(b,
                   "          <xsd:element name=\"geom\" type=\"%s\" minOccurs=\"0\" "
                   "nillable=\"true\"/>\n        </xsd:sequence>\n      </xsd:extension>\n"
                   "    </xsd:complexContent>\n  </xsd:complexType>\n"
                   "  <xsd:element name=\"%s\" type=\"spp:%sType\" substitutionGroup=\"%s\"/>\n",
                   gml_prop_type(l->geom, !v32), l->id, l->id,
                   v32 ? "gml:AbstractFeature" : "gml:_Feature");
    }
    buf_puts(b, "</xsd:schema>\n");
    return 0;
}

static int list_stored_queries(struct request *req, struct response *res, struct wfs_req *w,
                               int describe, struct err *err)
{
    (void)req, (void)err;
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    const char *root = describe ? "DescribeStoredQueriesResponse" : "ListStoredQueriesResponse";
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:%s "
               "xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
               "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:spp=\"" WFS_NS "\">\n",
               root);
    if (describe) {
        buf_puts(b, "  <wfs:StoredQueryDescription id=\"" WFS_GETBYID "\">\n"
                    "    <wfs:Title>Get feature by identifier</wfs:Title>\n"
                    "    <wfs:Abstract>Returns the feature whose gml:id is ID "
                    "(layer.fid).</wfs:Abstract>\n"
                    "    <wfs:Parameter name=\"ID\" type=\"xs:string\"/>\n"
                    "    <wfs:QueryExpressionText returnFeatureTypes=\"");
        for (int i = 0; i < w->n_q; i++)
            buf_printf(b, "%sspp:%s", i ? " " : "", w->q[i].layer->id);
        buf_puts(b, "\" language=\"urn:ogc:def:queryLanguage:OGC-WFS::WFS_QueryExpression\" "
                    "isPrivate=\"true\"/>\n  </wfs:StoredQueryDescription>\n");
    } else {
        buf_puts(b, "  <wfs:StoredQuery id=\"" WFS_GETBYID "\">\n"
                    "    <wfs:Title>Get feature by identifier</wfs:Title>\n");
        for (int i = 0; i < w->n_q; i++)
            buf_printf(b, "    <wfs:ReturnFeatureType>spp:%s</wfs:ReturnFeatureType>\n",
                       w->q[i].layer->id);
        buf_puts(b, "  </wfs:StoredQuery>\n");
    }
    buf_printf(b, "</wfs:%s>\n", root);
    return 0;
}
