/* SPDX-License-Identifier: MIT */
/* edit.c: OGC API Features Part 4 (create, replace, update, delete; issue 20): POST on items,
 * PUT / PATCH / DELETE on an item, with optimistic concurrency by ETag (If-Match is required:
 * 428 without it, 412 when it is stale; 423 Locked when another editor's WFS lock holds the
 * feature: the store refuses the write, store.h "Locks"). It owns the protocol: who may write
 * (access_edit: 401 without a key, 403 for a role the layer's edit_roles does not list or a row its
 * row rule keeps from the role), reading the GeoJSON body, merging a PATCH into the stored row.
 * Every feature goes through the importer's normalisation (import_feature_normalize) and is written
 * through the store's edit API (change log, tile invalidation); nothing here holds SQL. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../import/import.h"
#include "ogcapi_int.h"

/* The layer of the path, writable by the caller: 404 when the role cannot read it, 401 without
 * a key, 403 for a role that may not write it. */
static int writable_layer(struct request *req, const struct layer_def **out, struct err *err)
{
    int rc = ogcapi_layer_for(req, out, err);
    if (rc) return rc;
    if (!req->key_id || req->role == ROLE_PUBLIC) {
        err_set(err, ERR_FORBIDDEN,
                "editing needs an API key (X-API-Key) of a role that may write %s", (*out)->id);
        err->http_status = 401;
        return ERR_FORBIDDEN;
    }
    if (!access_edit(*out, req->role)) {
        err_set(err, ERR_FORBIDDEN, "role %s may not edit collection %s", role_name(req->role),
                (*out)->id);
        err->http_status = 403;
        return ERR_FORBIDDEN;
    }
    return 0;
}

static void who_of(const struct request *req, char *out, size_t n)
{
    snprintf(out, n, "key %lld (%s, %s)", (long long)req->key_id,
             req->key_agency[0] ? req->key_agency : "unnamed", role_name(req->role));
}

static int row_allowed(const struct request *req, const struct layer_def *l,
                       const struct store_row *r, struct err *err)
{
    const struct value *v = l->row_field >= 0 && r->values ? &r->values[l->row_field] : NULL;
    if (access_edit_row(l, req->role, v)) return 0;
    err_set(err, ERR_FORBIDDEN, "role %s may only edit the rows of %s whose %s is %s",
            role_name(req->role), l->id, l->fields[l->row_field].name,
            l->row_value.type == VAL_TEXT ? l->row_value.s
            : l->row_value.i              ? "true"
                                          : "false");
    err->http_status = 403;
    return ERR_FORBIDDEN;
}

/* The feature id of the path; 404 when it is not one. */
static int path_fid(struct request *req, int64_t *fid, struct err *err)
{
    const char *s = req_param(req, "fid");
    long id;
    if (!s || str_to_long(s, &id) || id <= 0)
        return err_setl(err, ERR_NOT_FOUND, "featureId", "no feature \"%s\"", s ? s : "");
    *fid = id;
    return 0;
}

/* The body as a GeoJSON Feature: fills in[] (one per layer field, VAL_NULL where not given,
 * *given[i] = 1 where given) and the geometry's WKB (*has_geom). Texts point into doc. */
static int read_feature(struct request *req, const struct layer_def *l, json_t **doc,
                        struct value *in, unsigned char *given, struct buf *wkb, int *has_geom,
                        int *srid, struct err *err)
{
    *has_geom = 0;
    json_error_t je;
    *doc = req->body ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!*doc || !json_is_object(*doc))
        return err_set(err, ERR_PARAM, "the body must be a GeoJSON Feature object%s%s",
                       *doc ? "" : ": ", *doc ? "" : (req->body ? je.text : "(none)"));
    const char *type = json_string_value(json_object_get(*doc, "type"));
    if (!type || strcmp(type, "Feature") != 0)
        return err_set(err, ERR_PARAM,
                       "the body must be a GeoJSON Feature (\"type\": \"Feature\")");
    const char *crs = req->content_crs;
    char crs_buf[256];
    if (crs && crs[0] == '<') {
        snprintf(crs_buf, sizeof crs_buf, "%s", crs + 1);
        char *gt = strchr(crs_buf, '>');
        if (gt) *gt = '\0';
        crs = crs_buf;
    }
    int rc = ogcapi_parse_crs(req, crs, "Content-Crs", srid, err);
    if (rc) return rc;
    json_t *props = json_object_get(*doc, "properties");
    if (props && !json_is_object(props) && !json_is_null(props))
        return err_set(err, ERR_PARAM, "\"properties\" must be an object");
    const char *name;
    json_t *v;
    json_object_foreach(props, name, v)
    {
        int i = access_field_index(l, name, req->role);
        if (i < 0)
            return err_set(err, ERR_PARAM, "field %s: collection %s has no such field", name,
                           l->id);
        given[i] = 1;
        struct value *o = &in[i];
        memset(o, 0, sizeof *o);
        if (json_is_integer(v))
            o->type = VAL_INT, o->i = json_integer_value(v);
        else if (json_is_real(v))
            o->type = VAL_REAL, o->d = json_real_value(v);
        else if (json_is_boolean(v))
            o->type = VAL_INT, o->i = json_is_true(v);
        else if (json_is_string(v))
            o->type = VAL_TEXT, o->s = json_string_value(v), o->len = (int)json_string_length(v);
        else if (!json_is_null(v))
            return err_set(err, ERR_PARAM, "field %s: must be a string, number, boolean or null",
                           name);
    }
    json_t *g = json_object_get(*doc, "geometry");
    if (g && !json_is_null(g)) {
        char *text = json_dumps(g, JSON_COMPACT);
        if (!text) return err_set(err, ERR_NOMEM, "out of memory");
        rc = import_geom_from_geojson(text, wkb, err);
        free(text);
        if (!rc) *has_geom = 1;
    }
    return rc;
}

/* ETag precondition: If-Match must be given (428) and match the stored feature's (412). */
static int check_if_match(const struct request *req, const char *etag, struct err *err)
{
    const char *m = req->if_match;
    if (!m || !*m) {
        err_set(err, ERR_PARAM,
                "this change needs If-Match with the feature's ETag (read the feature first)");
        err->http_status = 428;
        return ERR_PARAM;
    }
    /* a list of entity tags or "*"; compared strongly (RFC 9110 13.1.1): a weak W/"..." never
     * matches, nor does a tag that merely contains the feature's */
    size_t n = strlen(etag);
    for (const char *p = m; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((t - p == 1 && *p == '*') || ((size_t)(t - p) == n && strncmp(p, etag, n) == 0))
            return 0;
        p = e;
    }
    err_set(err, ERR_PARAM, "the feature changed since it was read (its ETag is now %s)", etag);
    err->http_status = 412;
    return ERR_PARAM;
}

static void set_location(struct request *req, struct response *res, const struct layer_def *l,
                         int64_t fid, const char *etag)
{
    char href[512];
    snprintf(href, sizeof href, "%s/collections/%s/items/%lld", req->base_url, l->id,
             (long long)fid);
    resp_header(res, "Location", href);
    if (etag[0]) resp_header(res, "ETag", etag);
}

enum op { OP_CREATE, OP_REPLACE, OP_UPDATE, OP_DELETE };

static int edit(struct request *req, struct response *res, enum op op, struct err *err)
{
    const struct layer_def *l;
    int64_t fid = 0, change = 0;
    int rc = writable_layer(req, &l, err);
    if (!rc && op != OP_CREATE) rc = path_fid(req, &fid, err);
    if (rc) return rc;
    struct value *in = calloc((size_t)l->n_fields + 1, sizeof *in);
    unsigned char *given = calloc((size_t)l->n_fields + 1, 1);
    json_t *doc = NULL;
    struct buf wkb;
    buf_init(&wkb);
    struct store_row old, row;
    memset(&old, 0, sizeof old);
    memset(&row, 0, sizeof row);
    struct store_edit *ed = NULL;
    char who[200], etag[STORE_ETAG_LEN] = "", field[64];
    int has_geom = 0, srid = GEO_SRID_CRS84, found = 0;
    if (!in || !given) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (op != OP_DELETE &&
        (rc = read_feature(req, l, &doc, in, given, &wkb, &has_geom, &srid, err)))
        goto done;
    who_of(req, who, sizeof who);
    if ((rc = store_edit_begin(req->cfg->db_path, who, &ed, err))) goto done;
    if (op != OP_CREATE) {
        if ((rc = store_edit_get(ed, l, fid, &old, etag, &found, err))) goto done;
        if (!found ||
            !access_edit_row(l, req->role, l->row_field >= 0 ? &old.values[l->row_field] : NULL)) {
            rc = err_setl(err, ERR_NOT_FOUND, "featureId", "no feature \"%lld\"", (long long)fid);
            goto done;
        }
        if ((rc = check_if_match(req, etag, err))) goto done;
    }
    if (op == OP_DELETE) {
        rc = store_edit_delete(ed, l, fid, &change, err);
        etag[0] = '\0';
        goto commit;
    }
    /* the values to normalise: the body's; for PATCH the stored ones where the body has none;
     * fields the role cannot read keep their stored value (a new feature: none) */
    for (int i = 0; i < l->n_fields; i++)
        if (op != OP_CREATE && (!given[i] && (op == OP_UPDATE || !access_field(l, i, req->role))))
            in[i] = old.values[i];
    const unsigned char *g = has_geom ? (const unsigned char *)wkb.data : NULL;
    size_t glen = wkb.len;
    int gsrid = srid;
    if (!has_geom && op == OP_UPDATE)
        g = old.wkb, glen = old.wkb_len, gsrid = store_srid(req->store);
    row.fid = fid;
    if ((rc = import_feature_normalize(req->geo, l, store_srid(req->store), gsrid, 0, in, g, glen,
                                       &row, field, sizeof field, err)))
        goto done;
    if ((rc = row_allowed(req, l, &row, err))) goto done;
    if (op == OP_CREATE)
        rc = store_edit_insert(ed, l, &row, &fid, &change, err);
    else
        rc = store_edit_update(ed, l, &row, &change, err);
    if (!rc) rc = store_edit_get(ed, l, fid, NULL, etag, &found, err);
commit:
    if (!rc) {
        rc = store_edit_commit(ed, err);
        ed = NULL;
    }
    if (rc) goto done;
    char cid[32];
    snprintf(cid, sizeof cid, "%lld", (long long)change);
    resp_header(res, "X-Change-Id", cid);
    if (op == OP_CREATE) {
        resp_set(res, 201, "application/geo+json");
        set_location(req, res, l, fid, etag);
        buf_printf(&res->body, "{\"type\":\"Feature\",\"id\":%lld}\n", (long long)fid);
    } else {
        resp_set(res, 204, "");
        if (etag[0]) resp_header(res, "ETag", etag);
    }
done:
    store_edit_abort(ed);
    store_row_fini(&row);
    old.n_values = l->n_fields;
    store_row_fini(&old);
    buf_fini(&wkb);
    json_decref(doc);
    free(in);
    free(given);
    return rc;
}

int ogcapi_item_create(struct request *req, struct response *res, struct err *err)
{
    return edit(req, res, OP_CREATE, err);
}

int ogcapi_item_replace(struct request *req, struct response *res, struct err *err)
{
    return edit(req, res, OP_REPLACE, err);
}

int ogcapi_item_update(struct request *req, struct response *res, struct err *err)
{
    return edit(req, res, OP_UPDATE, err);
}

int ogcapi_item_delete(struct request *req, struct response *res, struct err *err)
{
    return edit(req, res, OP_DELETE, err);
}
