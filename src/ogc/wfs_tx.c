/* SPDX-License-Identifier: MIT */
/* wfs_tx.c: WFS-T (issue 20): the Transaction operation of WFS 1.1.0 and 2.0.0 with Insert,
 * Update and Delete (Update and Delete select features with an FES filter). It owns the
 * protocol: who may write (access_edit: a key, a role the layer's edit_roles lists, rows its row
 * rule lets it see), reading features and property values out of the XML (GML geometries in
 * their srsName), and the TransactionResponse. A transaction is all-or-nothing: every feature goes
 * through the importer's normalisation (import_feature_normalize) and the whole request is one
 * store edit (change log, tile invalidation); the first problem refuses it all with an OWS
 * exception naming the field. Filters of Update and Delete are evaluated on the request's reading
 * connection, so they see the store as it was before the transaction. Locks (wfs_lock.c): the
 * Transaction's lockId (2.0 attribute, 1.1 wfs:LockId) must be a live lock of this server
 * (InvalidLockId, LockHasExpired); an Update or Delete of a feature another live lock holds
 * refuses the whole transaction with FeaturesNotLocked (409); after the writes the lock is
 * released, all of it (releaseAction ALL, the default) or only the features written (SOME), in
 * the same store edit. No SQL here. */
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../import/import.h"
#include "wfs_int.h"

#define TX_MAX_FIDS 10000

struct tx {
    struct request *req;
    struct wfs_req *w;
    struct store_edit *ed;
    int srid; /* the storage CRS */
    int v10;  /* a WFS 1.0.0 Transaction (what QGIS 3.22 sends for a 2.0.0 layer) */
    int n_ins, n_upd, n_del;
    struct buf inserted;             /* the InsertResults' Feature elements */
    struct store_lock_item *touched; /* updated and deleted features (releaseAction SOME) */
    int n_touched, cap_touched;
};

/* Remembers a written feature for releaseAction SOME. */
static int touch(struct tx *t, const struct layer_def *l, int64_t fid, struct err *err)
{
    if (!t->w->lock_id[0] || !t->w->release_some) return 0;
    if (t->n_touched == t->cap_touched) {
        int cap = t->cap_touched ? t->cap_touched * 2 : 16;
        struct store_lock_item *g = realloc(t->touched, (size_t)cap * sizeof *g);
        if (!g) return err_set(err, ERR_NOMEM, "out of memory");
        t->touched = g, t->cap_touched = cap;
    }
    t->touched[t->n_touched++] = (struct store_lock_item){l, fid, 0};
    return 0;
}

/* A write the store refused because another lock holds the feature, in WFS terms. */
static int locked_error(struct tx *t, int rc, struct err *err)
{
    if (!rc || err->http_status != STORE_LOCKED_STATUS) return rc;
    snprintf(err->ogc_code, sizeof err->ogc_code, "FeaturesNotLocked");
    if (!t->w->lock_id[0] && strlen(err->msg) + 40 < sizeof err->msg)
        strcat(err->msg, " (name its lockId in the Transaction)");
    err->http_status = 409;
    return rc;
}

static int is(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* "spp:name" -> "name" */
static const char *local(const char *s)
{
    const char *c = s ? strrchr(s, ':') : NULL;
    return c ? c + 1 : s ? s : "";
}

static xmlNodePtr first_element(xmlNodePtr n)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return c;
    return NULL;
}

/* 401 / 403 as an OWS exception: "role R may not ACT LAYER" (role NULL: without a key). */
static int refused(struct err *err, int status, const char *role, const char *act,
                   const char *layer)
{
    if (!role)
        wfs_error(err, ERR_FORBIDDEN, "OperationProcessingFailed", "Transaction",
                  "a Transaction needs an API key (X-API-Key) of a role that may write");
    else
        wfs_error(err, ERR_FORBIDDEN, "OperationProcessingFailed", "Transaction",
                  "role %s may not %s %s", role, act, layer);
    err->http_status = status;
    return ERR_FORBIDDEN;
}

/* The writable layer named name (prefix allowed). */
static int tx_layer(struct tx *t, const char *name, const struct layer_def **out, struct err *err)
{
    const struct layer_def *l = catalog_layer(&t->req->cfg->catalog, local(name));
    if (!l || !access_layer(l, t->req->role))
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "typeName",
                         "unknown feature type \"%s\"", name ? name : "");
    if (!access_edit(l, t->req->role))
        return refused(err, 403, role_name(t->req->role), "edit", l->id);
    *out = l;
    return 0;
}

/* A GML geometry element as ISO WKB with its CRS (srsName, else the storage CRS) and axis order
 * (a URN or URI of a lat/lon CRS is Y first). */
static int read_geom(struct tx *t, xmlNodePtr g, struct buf *wkb, int *srid, int *swap,
                     struct err *err)
{
    xmlBufferPtr xb = xmlBufferCreate();
    if (!xb) return err_set(err, ERR_NOMEM, "out of memory");
    xmlNodeDump(xb, g->doc, g, 0, 0);
    struct err e2;
    err_clear(&e2);
    int ignored, rc = import_geom_from_gml((const char *)xmlBufferContent(xb), wkb, &ignored, &e2);
    xmlBufferFree(xb);
    if (rc) return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "geom", "%s", e2.msg);
    *srid = t->srid;
    *swap = 0;
    char *srs = (char *)xmlGetProp(g, (const xmlChar *)"srsName");
    if (srs) {
        int s;
        if (geo_crs_parse(srs, &s) || !geo_crs_known(t->req->geo, s))
            rc = wfs_error(err, ERR_PARAM, "InvalidParameterValue", "srsName",
                           "field geom: unknown CRS \"%s\"", srs);
        else {
            *srid = s;
            *swap = geo_crs_latlon(t->req->geo, s) &&
                    (str_starts(srs, "urn:") || str_starts(srs, "http"));
        }
        xmlFree(srs);
    }
    return rc;
}

/* A property value: text (NULL when empty or xsi:nil), kept in *text (xmlFree). */
static void read_text(xmlNodePtr v, struct value *out, char **text)
{
    memset(out, 0, sizeof *out);
    *text = v ? (char *)xmlNodeGetContent(v) : NULL;
    if (*text && **text) out->type = VAL_TEXT, out->s = *text, out->len = -1;
}

struct fields_in {
    struct value *in;
    char **texts;
    int n;
    struct buf wkb;
    int has_geom, srid, swap;
};

static int fields_new(struct fields_in *f, const struct layer_def *l)
{
    memset(f, 0, sizeof *f);
    f->n = l->n_fields;
    f->in = calloc((size_t)l->n_fields + 1, sizeof *f->in);
    f->texts = calloc((size_t)l->n_fields + 1, sizeof *f->texts);
    buf_init(&f->wkb);
    return f->in && f->texts ? 0 : ERR_NOMEM;
}

static void fields_fini(struct fields_in *f)
{
    for (int i = 0; f->texts && i < f->n; i++)
        if (f->texts[i]) xmlFree(f->texts[i]);
    free(f->texts);
    free(f->in);
    buf_fini(&f->wkb);
}

/* Sets property name (prefix allowed) from value element v (NULL: no value). */
static int set_prop(struct tx *t, const struct layer_def *l, struct fields_in *f, const char *name,
                    xmlNodePtr v, struct err *err)
{
    const char *n = local(name);
    if (strcmp(n, "geom") == 0 || strcmp(n, "geometry") == 0) {
        xmlNodePtr g = first_element(v);
        if (!g) {
            f->has_geom = 0;
            return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "geom",
                             "field geom: a feature of %s needs a geometry", l->id);
        }
        f->has_geom = 1;
        return read_geom(t, g, &f->wkb, &f->srid, &f->swap, err);
    }
    int i = access_field_index(l, n, t->req->role);
    if (i < 0)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", n,
                         "field %s: %s has no such field", n, l->id);
    if (f->texts[i]) xmlFree(f->texts[i]);
    read_text(v, &f->in[i], &f->texts[i]);
    return 0;
}

/* Normalises and writes one feature (fid 0: insert). */
static int write_feature(struct tx *t, const struct layer_def *l, struct fields_in *f, int64_t fid,
                         const struct store_row *old, struct err *err)
{
    struct store_row row;
    memset(&row, 0, sizeof row);
    row.fid = fid;
    char field[64];
    const unsigned char *g = f->has_geom ? (const unsigned char *)f->wkb.data : NULL;
    size_t glen = f->wkb.len;
    int gsrid = f->srid, swap = f->swap;
    if (!f->has_geom && old) g = old->wkb, glen = old->wkb_len, gsrid = t->srid, swap = 0;
    struct err e2;
    err_clear(&e2);
    int rc = import_feature_normalize(t->req->geo, l, t->srid, gsrid, swap, f->in, g, glen, &row,
                                      field, sizeof field, &e2);
    if (rc == ERR_PARAM)
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", field, "%s: %s", l->id, e2.msg);
    if (rc) return err_set(err, (enum err_code)rc, "%s", e2.msg);
    const struct value *rv = l->row_field >= 0 ? &row.values[l->row_field] : NULL;
    if (!access_edit_row(l, t->req->role, rv))
        rc = refused(err, 403, role_name(t->req->role), "write this row of", l->id);
    int64_t newfid = fid;
    if (!rc && fid == 0) {
        rc = store_edit_insert(t->ed, l, &row, &newfid, NULL, err);
        if (!rc) {
            t->n_ins++;
            buf_printf(&t->inserted,
                       t->v10 ? "  <wfs:InsertResult><ogc:FeatureId fid=\"%s.%lld\"/>"
                                "</wfs:InsertResult>\n"
                       : t->w->v2
                           ? "    <wfs:Feature><fes:ResourceId rid=\"%s.%lld\"/></wfs:Feature>\n"
                           : "    <wfs:Feature><ogc:FeatureId fid=\"%s.%lld\"/></wfs:Feature>\n",
                       l->id, (long long)newfid);
        }
    } else if (!rc) {
        rc = locked_error(t, store_edit_update(t->ed, l, &row, NULL, err), err);
        if (!rc) t->n_upd++;
        if (!rc) rc = touch(t, l, fid, err);
    }
    store_row_fini(&row);
    return rc;
}

static int do_insert(struct tx *t, xmlNodePtr action, struct err *err)
{
    int rc = 0;
    for (xmlNodePtr fe = action->children; fe && !rc; fe = fe->next) {
        if (fe->type != XML_ELEMENT_NODE) continue;
        const struct layer_def *l;
        if ((rc = tx_layer(t, (const char *)fe->name, &l, err))) break;
        struct fields_in f;
        if (fields_new(&f, l)) {
            fields_fini(&f);
            return err_set(err, ERR_NOMEM, "out of memory");
        }
        f.srid = t->srid;
        for (xmlNodePtr p = fe->children; p && !rc; p = p->next)
            if (p->type == XML_ELEMENT_NODE && strcmp((const char *)p->name, "boundedBy") != 0)
                rc = set_prop(t, l, &f, (const char *)p->name, p, err);
        if (!rc) rc = write_feature(t, l, &f, 0, NULL, err);
        fields_fini(&f);
    }
    return rc;
}

struct fid_list {
    int64_t *fids;
    int n, cap;
};

static int collect_fid(void *ud, const struct feature *f, struct err *err)
{
    struct fid_list *fl = ud;
    if (fl->n == fl->cap) {
        int cap = fl->cap ? fl->cap * 2 : 16;
        if (cap > TX_MAX_FIDS)
            return wfs_error(err, ERR_LIMIT, "OperationProcessingFailed", "Filter",
                             "the filter selects more than %d features", TX_MAX_FIDS);
        int64_t *g = realloc(fl->fids, (size_t)cap * sizeof *g);
        if (!g) return err_set(err, ERR_NOMEM, "out of memory");
        fl->fids = g, fl->cap = cap;
    }
    fl->fids[fl->n++] = f->fid;
    return 0;
}

/* The features of l (that the role sees) matching the action's Filter. */
static int select_fids(struct tx *t, const struct layer_def *l, xmlNodePtr action,
                       struct fid_list *fl, struct err *err)
{
    xmlNodePtr fnode = NULL;
    for (xmlNodePtr c = action->children; c; c = c->next)
        if (is(c, "Filter")) fnode = c;
    if (!fnode)
        return wfs_error(err, ERR_PARAM, "MissingParameterValue", "Filter",
                         "%s needs a Filter saying which features", (const char *)action->name);
    struct filter_limits lim;
    filter_limits_from(&t->req->cfg->limits, &lim);
    struct filter *f = NULL;
    struct err e2;
    err_clear(&e2);
    int rc = filter_parse_fes_node(fnode, &lim, t->w->srid ? t->w->srid : t->srid, &f, &e2);
    if (!rc) rc = filter_check(f, l, t->req->role, &e2);
    if (rc) {
        filter_free(f);
        return wfs_error(err, ERR_PARAM, "InvalidParameterValue", "Filter", "%s", e2.msg);
    }
    struct store_query q = {
        .layer = l, .filter = f, .geo = t->req->geo, .limit = -1, .role = t->req->role};
    struct feature_sink sink = {NULL, collect_fid, NULL, fl};
    rc = store_query_run(t->req->store, &q, &sink, err);
    filter_free(f);
    return rc;
}

static int do_update_delete(struct tx *t, xmlNodePtr action, int del, struct err *err)
{
    char *tn = (char *)xmlGetProp(action, (const xmlChar *)"typeName");
    const struct layer_def *l = NULL;
    int rc = tx_layer(t, tn, &l, err);
    if (tn) xmlFree(tn);
    struct fid_list fl = {0};
    if (!rc) rc = select_fids(t, l, action, &fl, err);
    for (int k = 0; k < fl.n && !rc; k++) {
        if (del) {
            rc = locked_error(t, store_edit_delete(t->ed, l, fl.fids[k], NULL, err), err);
            if (rc == ERR_NOT_FOUND) { /* deleted earlier in this transaction */
                err_clear(err);
                rc = 0;
                continue;
            }
            if (!rc) t->n_del++;
            if (!rc) rc = touch(t, l, fl.fids[k], err);
            continue;
        }
        struct store_row old;
        int found = 0;
        char etag[STORE_ETAG_LEN];
        if ((rc = store_edit_get(t->ed, l, fl.fids[k], &old, etag, &found, err)) || !found)
            continue; /* deleted earlier in this transaction */
        struct fields_in f;
        if (fields_new(&f, l)) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
        } else {
            for (int i = 0; i < l->n_fields; i++)
                f.in[i] = old.values[i];
            for (xmlNodePtr p = action->children; p && !rc; p = p->next) {
                if (!is(p, "Property")) continue;
                xmlNodePtr name = NULL, value = NULL;
                for (xmlNodePtr c = p->children; c; c = c->next)
                    if (is(c, "Name") || is(c, "ValueReference"))
                        name = c;
                    else if (is(c, "Value"))
                        value = c;
                char *nm = name ? (char *)xmlNodeGetContent(name) : NULL;
                rc = nm ? set_prop(t, l, &f, nm, value, err)
                        : wfs_error(err, ERR_PARAM, "MissingParameterValue", "Property",
                                    "a Property without a Name");
                if (nm) xmlFree(nm);
            }
            if (!rc) rc = write_feature(t, l, &f, fl.fids[k], &old, err);
        }
        fields_fini(&f);
        store_row_fini(&old);
    }
    free(fl.fids);
    return rc;
}

static void response(struct tx *t, struct response *res)
{
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    if (t->v10) {
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:WFS_TransactionResponse "
                    "version=\"1.0.0\" xmlns:wfs=\"http://www.opengis.net/wfs\" "
                    "xmlns:ogc=\"http://www.opengis.net/ogc\">\n");
        buf_append(b, t->inserted.data, t->inserted.len);
        buf_puts(b, "  <wfs:TransactionResult><wfs:Status><wfs:SUCCESS/></wfs:Status>"
                    "</wfs:TransactionResult>\n</wfs:WFS_TransactionResponse>\n");
        return;
    }
    if (t->w->v2)
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:TransactionResponse "
                    "version=\"2.0.0\" xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
                    "xmlns:fes=\"http://www.opengis.net/fes/2.0\">\n");
    else
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:TransactionResponse "
                    "version=\"1.1.0\" xmlns:wfs=\"http://www.opengis.net/wfs\" "
                    "xmlns:ogc=\"http://www.opengis.net/ogc\">\n");
    buf_printf(b,
               "  <wfs:TransactionSummary>\n    <wfs:totalInserted>%d</wfs:totalInserted>\n"
               "    <wfs:totalUpdated>%d</wfs:totalUpdated>\n"
               "    <wfs:totalDeleted>%d</wfs:totalDeleted>\n  </wfs:TransactionSummary>\n",
               t->n_ins, t->n_upd, t->n_del);
    if (t->n_ins) {
        buf_puts(b, t->w->v2 ? "  <wfs:InsertResults>\n" : "  <wfs:InsertResults>\n");
        buf_append(b, t->inserted.data, t->inserted.len);
        buf_puts(b, "  </wfs:InsertResults>\n");
    }
    buf_puts(b, "</wfs:TransactionResponse>\n");
}

int wfs_transaction(struct request *req, struct response *res, struct wfs_req *w, struct err *err)
{
    if (!req->key_id || req->role == ROLE_PUBLIC) return refused(err, 401, NULL, NULL, NULL);
    struct filter_limits lim;
    filter_limits_from(&req->cfg->limits, &lim);
    void *doc = NULL;
    struct err e2;
    err_clear(&e2);
    if (filter_xml_read(req->body, req->body_len, &lim, &doc, &e2))
        return wfs_error(err, ERR_PARAM, "OperationParsingFailed", "request", "%s", e2.msg);
    struct tx t = {.req = req, .w = w, .srid = store_srid(req->store)};
    buf_init(&t.inserted);
    char who[200];
    snprintf(who, sizeof who, "key %lld (%s, %s) WFS-T", (long long)req->key_id,
             req->key_agency[0] ? req->key_agency : "unnamed", role_name(req->role));
    int rc = store_edit_begin(req->cfg->db_path, who, &t.ed, err);
    if (!rc && w->lock_id[0]) {
        rc = wfs_lock_check_id(t.ed, w->lock_id, err);
        if (!rc) store_edit_set_lock(t.ed, w->lock_id);
    }
    xmlNodePtr root = xmlDocGetRootElement((xmlDocPtr)doc);
    char *version = (char *)xmlGetProp(root, (const xmlChar *)"version");
    t.v10 = version && strncmp(version, "1.0", 3) == 0;
    if (version) xmlFree(version);
    for (xmlNodePtr a = root->children; a && !rc; a = a->next) {
        if (a->type != XML_ELEMENT_NODE) continue;
        if (is(a, "Insert"))
            rc = do_insert(&t, a, err);
        else if (is(a, "Update"))
            rc = do_update_delete(&t, a, 0, err);
        else if (is(a, "Delete"))
            rc = do_update_delete(&t, a, 1, err);
        else if (!is(a, "LockId"))
            rc = wfs_error(err, ERR_UNSUPPORTED, "OperationNotSupported", (const char *)a->name,
                           "Transaction action %s is not supported (Insert, Update, Delete)",
                           (const char *)a->name);
    }
    if (!rc && w->lock_id[0])
        rc = store_lock_release(t.ed, w->lock_id, t.touched, w->release_some ? t.n_touched : -1,
                                err);
    if (!rc) {
        rc = store_edit_commit(t.ed, err);
        t.ed = NULL;
    }
    store_edit_abort(t.ed);
    if (!rc) response(&t, res);
    buf_fini(&t.inserted);
    free(t.touched);
    filter_xml_free(doc);
    return rc;
}
