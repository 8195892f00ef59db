/* SPDX-License-Identifier: MIT */
/* csw.c: CSW 2.0.2 at /csw (issue 21): GetCapabilities, GetRecords and GetRecordById, in KVP
 * (GET) and XML (POST), as QGIS MetaSearch (through OWSLib) and GeoNetwork's harvester send
 * them. The catalogue is the layers the caller may read, one record each (meta_record_load).
 * Constraints: OGC Filter 1.1 (And, Or, Not, PropertyIsLike, PropertyIsEqualTo, BBOX) and CQL
 * text (the same operators: `AnyText LIKE '%...%'`, `prop = '...'`, `BBOX(ows:BoundingBox,
 * minx, miny, maxx, maxy)`) parse into one small tree evaluated on each record (csw_filter.c).
 * Text is matched ignoring case, diacritics and đ/d; a LIKE literal without wildcards matches as
 * "contains" (MetaSearch sends the words as typed). Output schemas: csw:Record (brief, summary,
 * full) and gmd:MD_Metadata (iso.c). Errors are OWS ExceptionReports with the CSW exception codes.
 */
#include "csw_int.h"

#include <ctype.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../filter/filter.h"

#define NS_CSW  "http://www.opengis.net/cat/csw/2.0.2"
#define NS_GMD  "http://www.isotc211.org/2005/gmd"
#define NS_OGC  "http://www.opengis.net/ogc"
#define MAX_REC 100 /* maxRecords cap */

int meta_csw_fail(struct err *err, enum err_code code, const char *ogc_code, const char *locator,
                  const char *fmt, ...)
{
    if (err && err->code) return err->code;
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_setl(err, code, locator ? locator : "", "%s", msg);
    if (err) snprintf(err->ogc_code, sizeof err->ogc_code, "%s", ogc_code);
    return code;
}

/* ---- the request ---- */

enum esn { ESN_BRIEF, ESN_SUMMARY, ESN_FULL };

struct csw_req {
    const char *request; /* GetCapabilities, GetRecords, GetRecordById */
    enum esn esn;
    int gmd;       /* outputSchema gmd */
    int hits;      /* resultType=hits */
    int validate;  /* resultType=validate */
    int64_t start; /* 1-based */
    int64_t max;   /* maxRecords */
    char *ids[32]; /* GetRecordById */
    int n_ids;
    struct cq_tree tree;
    char *owned[8]; /* strings owned by the request */
    int n_owned;
};

static void csw_req_fini(struct csw_req *q)
{
    meta_cq_free(&q->tree);
    for (int i = 0; i < q->n_ids; i++)
        free(q->ids[i]);
    for (int i = 0; i < q->n_owned; i++)
        free(q->owned[i]);
}

static int set_esn(struct csw_req *q, const char *v, struct err *err)
{
    if (!v || !*v) return 0;
    if (!strcasecmp(v, "brief"))
        q->esn = ESN_BRIEF;
    else if (!strcasecmp(v, "summary"))
        q->esn = ESN_SUMMARY;
    else if (!strcasecmp(v, "full"))
        q->esn = ESN_FULL;
    else
        return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "ElementSetName",
                             "ElementSetName \"%.40s\": brief, summary or full", v);
    return 0;
}

static int set_schema(struct csw_req *q, const char *v, struct err *err)
{
    if (!v || !*v || !strcmp(v, NS_CSW) || !strcasecmp(v, "csw:Record")) return 0;
    if (!strcmp(v, NS_GMD) || !strcasecmp(v, "gmd:MD_Metadata")) {
        q->gmd = 1;
        return 0;
    }
    return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "outputSchema",
                         "outputSchema \"%.80s\": %s or %s", v, NS_CSW, NS_GMD);
}

static int set_result_type(struct csw_req *q, const char *v, struct err *err)
{
    if (!v || !*v || !strcasecmp(v, "results")) return 0;
    if (!strcasecmp(v, "hits")) return q->hits = 1, 0;
    if (!strcasecmp(v, "validate")) return q->validate = 1, 0;
    return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "resultType",
                         "resultType \"%.40s\": results, hits or validate", v);
}

static int set_int(int64_t *out, const char *v, const char *name, int64_t min, struct err *err)
{
    if (!v || !*v) return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || n < min || n > 1000000000)
        return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", name,
                             "%s must be an integer >= %lld", name, (long long)min);
    *out = n;
    return 0;
}

static int set_format(const char *v, struct err *err)
{
    if (!v || !*v || !strcasecmp(v, "application/xml") || !strcasecmp(v, "text/xml")) return 0;
    return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "outputFormat",
                         "outputFormat \"%.60s\": application/xml", v);
}

static int set_type_names(const char *v, struct err *err)
{
    if (!v || !*v) return 0;
    char *copy = str_dup(v), *save = NULL;
    int rc = copy ? 0 : ERR_NOMEM;
    for (char *tok = copy ? strtok_r(copy, " ,", &save) : NULL; tok && !rc;
         tok = strtok_r(NULL, " ,", &save)) {
        const char *local = strchr(tok, ':') ? strchr(tok, ':') + 1 : tok;
        if (strcmp(local, "Record") && strcmp(local, "MD_Metadata"))
            rc = meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "typeNames",
                               "typeNames \"%.60s\": csw:Record or gmd:MD_Metadata", tok);
    }
    free(copy);
    return rc;
}

static int add_ids(struct csw_req *q, const char *v, struct err *err)
{
    char *copy = str_dup(v ? v : ""), *save = NULL;
    if (!copy) return err_set(err, ERR_NOMEM, "out of memory");
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok) continue;
        if (q->n_ids == 32) {
            free(copy);
            return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Id", "more than 32 ids");
        }
        q->ids[q->n_ids++] = str_dup(tok);
    }
    free(copy);
    return 0;
}

static int parse_kvp(struct request *req, struct csw_req *q, struct err *err)
{
    const char *service = req_arg_ci(req, "service");
    if (service && strcasecmp(service, "CSW"))
        return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "service",
                             "service \"%.40s\": CSW", service);
    q->request = req_arg_ci(req, "request");
    if (!q->request)
        return meta_csw_fail(err, ERR_PARAM, "MissingParameterValue", "request",
                             "request is missing (GetCapabilities, GetRecords, GetRecordById)");
    const char *version = req_arg_ci(req, "version");
    if (version && strcasecmp(q->request, "GetCapabilities") && strcmp(version, "2.0.2"))
        return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "version",
                             "version \"%.20s\": 2.0.2", version);
    int rc;
    if ((rc = set_esn(q, req_arg_ci(req, "elementSetName"), err)) ||
        (rc = set_schema(q, req_arg_ci(req, "outputSchema"), err)) ||
        (rc = set_result_type(q, req_arg_ci(req, "resultType"), err)) ||
        (rc = set_int(&q->start, req_arg_ci(req, "startPosition"), "startPosition", 1, err)) ||
        (rc = set_int(&q->max, req_arg_ci(req, "maxRecords"), "maxRecords", 0, err)) ||
        (rc = set_format(req_arg_ci(req, "outputFormat"), err)) ||
        (rc = set_type_names(req_arg_ci(req, "typeNames"), err)))
        return rc;
    if (!strcasecmp(q->request, "GetRecordById")) {
        if (!req_arg_ci(req, "elementSetName")) q->esn = ESN_FULL;
        const char *id = req_arg_ci(req, "id");
        if (!id || !*id)
            return meta_csw_fail(err, ERR_PARAM, "MissingParameterValue", "Id", "Id is missing");
        return add_ids(q, id, err);
    }
    const char *constraint = req_arg_ci(req, "constraint");
    if (!constraint || !*constraint) return 0;
    const char *lang = req_arg_ci(req, "constraintLanguage");
    if (!lang)
        return meta_csw_fail(err, ERR_PARAM, "MissingParameterValue", "constraintLanguage",
                             "constraintLanguage is missing (CQL_TEXT or FILTER)");
    if (!strcasecmp(lang, "CQL_TEXT")) return meta_cq_parse_cql(&q->tree, constraint, err);
    if (strcasecmp(lang, "FILTER"))
        return meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "constraintLanguage",
                             "constraintLanguage \"%.30s\": CQL_TEXT or FILTER", lang);
    struct filter_limits lim;
    filter_limits_from(&req->cfg->limits, &lim);
    void *doc = NULL;
    if ((rc = filter_xml_read(constraint, strlen(constraint), &lim, &doc, err))) {
        snprintf(err->ogc_code, sizeof err->ogc_code, "InvalidParameterValue");
        return rc;
    }
    xmlNodePtr root = xmlDocGetRootElement((xmlDocPtr)doc);
    rc = strcmp(meta_xml_name(root), "Filter")
             ? meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "Constraint",
                             "constraint must be an ogc:Filter")
             : meta_cq_parse_filter(&q->tree, root, err);
    filter_xml_free(doc);
    return rc;
}

static int parse_query_xml(struct csw_req *q, xmlNodePtr query, struct err *err)
{
    char *tn = meta_xml_attr(query, "typeNames");
    int rc = set_type_names(tn, err);
    free(tn);
    if (rc) return rc;
    xmlNodePtr esn = meta_xml_child(query, "ElementSetName");
    if (esn) {
        char *v = meta_xml_text(esn);
        rc = set_esn(q, v, err);
        free(v);
        if (rc) return rc;
    } else if (meta_xml_child(query, "ElementName")) {
        q->esn = ESN_FULL; /* named elements: the full record carries them all */
    }
    xmlNodePtr con = meta_xml_child(query, "Constraint");
    if (!con) return 0;
    xmlNodePtr f = meta_xml_child(con, "Filter"), cql = meta_xml_child(con, "CqlText");
    if (f) return meta_cq_parse_filter(&q->tree, f, err);
    if (cql) {
        char *text = meta_xml_text(cql);
        rc = text ? meta_cq_parse_cql(&q->tree, text, err) : ERR_NOMEM;
        free(text);
        return rc;
    }
    return meta_csw_fail(err, ERR_PARAM, "MissingParameterValue", "Constraint",
                         "csw:Constraint needs ogc:Filter or csw:CqlText");
}

static int parse_xml(struct request *req, struct csw_req *q, xmlNodePtr root, struct err *err)
{
    const char *name = meta_xml_name(root);
    char *v = meta_xml_attr(root, "service");
    int rc = v && strcasecmp(v, "CSW") ? meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue",
                                                       "service", "service \"%.40s\": CSW", v)
                                       : 0;
    free(v);
    if (rc) return rc;
    (void)req;
    static const char *const known[] = {"GetCapabilities", "GetRecords", "GetRecordById"};
    q->request = NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(name, known[i])) q->request = known[i];
    if (!q->request)
        return meta_csw_fail(err, ERR_UNSUPPORTED, "OperationNotSupported", "request",
                             "operation %.60s is not supported (GetCapabilities, GetRecords, "
                             "GetRecordById)",
                             name);
    if (!strcmp(q->request, "GetCapabilities")) return 0;
    v = meta_xml_attr(root, "version");
    rc = v && strcmp(v, "2.0.2") ? meta_csw_fail(err, ERR_PARAM, "InvalidParameterValue", "version",
                                                 "version \"%.20s\": 2.0.2", v)
                                 : 0;
    free(v);
    const char *attrs[] = {"outputSchema", "resultType", "startPosition", "maxRecords",
                           "outputFormat"};
    for (int i = 0; i < 5 && !rc; i++) {
        v = meta_xml_attr(root, attrs[i]);
        switch (i) {
        case 0:
            rc = set_schema(q, v, err);
            break;
        case 1:
            rc = set_result_type(q, v, err);
            break;
        case 2:
            rc = set_int(&q->start, v, "startPosition", 1, err);
            break;
        case 3:
            rc = set_int(&q->max, v, "maxRecords", 0, err);
            break;
        default:
            rc = set_format(v, err);
        }
        free(v);
    }
    if (rc) return rc;
    if (!strcmp(q->request, "GetRecordById")) {
        q->esn = ESN_FULL;
        xmlNodePtr esn = meta_xml_child(root, "ElementSetName");
        if (esn) {
            v = meta_xml_text(esn);
            rc = set_esn(q, v, err);
            free(v);
            if (rc) return rc;
        }
        for (xmlNodePtr c = root->children; c && !rc; c = c->next)
            if (c->type == XML_ELEMENT_NODE && !strcmp(meta_xml_name(c), "Id")) {
                v = meta_xml_text(c);
                rc = add_ids(q, v, err);
                free(v);
            }
        if (!rc && !q->n_ids)
            rc = meta_csw_fail(err, ERR_PARAM, "MissingParameterValue", "Id", "csw:Id is missing");
        return rc;
    }
    xmlNodePtr query = meta_xml_child(root, "Query");
    if (!query)
        return meta_csw_fail(err, ERR_PARAM, "MissingParameterValue", "Query",
                             "csw:GetRecords needs a csw:Query");
    return parse_query_xml(q, query, err);
}

/* ---- writing ---- */

static void el(struct buf *b, const char *tag, const char *text)
{
    if (!text) return;
    buf_printf(b, "<%s>", tag);
    buf_put_xml(b, text);
    buf_printf(b, "</%s>", tag);
}

static void ows_bbox(struct buf *b, const struct request *req, const struct meta_record *r)
{
    if (!r->has_extent) return;
    const struct bbox *w = &r->wgs84;
    buf_puts(b, "<ows:BoundingBox crs=\"urn:ogc:def:crs:EPSG::4326\" dimensions=\"2\">"
                "<ows:LowerCorner>");
    buf_put_double(b, w->miny, 7), buf_putc(b, ' '), buf_put_double(b, w->minx, 7);
    buf_puts(b, "</ows:LowerCorner><ows:UpperCorner>");
    buf_put_double(b, w->maxy, 7), buf_putc(b, ' '), buf_put_double(b, w->maxx, 7);
    buf_puts(b, "</ows:UpperCorner></ows:BoundingBox>");
    (void)req;
}

static void links(struct buf *b, const struct request *req, const struct meta_record *r)
{
    const struct layer_def *l = r->layer;
    for (int i = 0; i < meta_n_services; i++) {
        const struct meta_service *s = &meta_services[i];
        struct buf url;
        buf_init(&url);
        meta_service_url(&url, req, s, l);
        buf_printf(b, "<dc:URI protocol=\"%s\" name=\"%s%s\" description=\"", s->protocol,
                   s->name_prefix ? s->name_prefix : "", l->id);
        buf_put_xml(b, l->title_en);
        buf_puts(b, "\">");
        buf_put_xml(b, buf_str(&url));
        buf_puts(b, "</dc:URI>");
        buf_printf(b, "<dct:references scheme=\"%s\">", s->protocol);
        buf_put_xml(b, buf_str(&url));
        buf_puts(b, "</dct:references>");
        buf_fini(&url);
    }
    buf_puts(b, "<dct:references scheme=\"ISO 19139\">");
    struct buf url;
    buf_init(&url);
    meta_link(&url, req, "/collections/", l->id, "/metadata?f=xml");
    buf_put_xml(b, buf_str(&url));
    buf_fini(&url);
    buf_puts(b, "</dct:references>");
}

static void csw_record(struct buf *b, const struct request *req, const struct meta_record *r,
                       enum esn esn)
{
    const struct layer_def *l = r->layer;
    const struct layer_meta *m = &l->meta;
    static const char *const tags[] = {"csw:BriefRecord", "csw:SummaryRecord", "csw:Record"};
    buf_printf(b, "<%s>", tags[esn]);
    el(b, "dc:identifier", l->id);
    el(b, "dc:title", l->title_vi);
    if (esn == ESN_FULL) el(b, "dct:alternative", l->title_en);
    el(b, "dc:type", "dataset");
    if (esn >= ESN_SUMMARY) {
        for (int i = 0; i < m->n_keywords_vi; i++)
            el(b, "dc:subject", m->keywords_vi[i]);
        for (int i = 0; i < m->n_keywords_en; i++)
            el(b, "dc:subject", m->keywords_en[i]);
        el(b, "dc:format", "application/geo+json");
        char date[11];
        meta_date(r, date);
        if (date[0]) el(b, "dct:modified", date);
        struct buf abs;
        buf_init(&abs);
        buf_printf(&abs, "%s\n\n%s", l->desc_vi ? l->desc_vi : l->title_vi,
                   l->desc_en ? l->desc_en : l->title_en);
        if (buf_failed(&abs))
            buf_fail(b);
        else
            el(b, "dct:abstract", buf_str(&abs));
        buf_fini(&abs);
    }
    if (esn == ESN_FULL) {
        el(b, "dc:creator", m->org_vi);
        el(b, "dc:publisher", m->org_vi);
        el(b, "dc:contributor", m->contact_name);
        el(b, "dc:language", m->language);
        el(b, "dc:rights", m->licence_name);
        if (m->licence_url) el(b, "dct:license", m->licence_url);
        char src[200];
        snprintf(src, sizeof src, "%lld features; last import %s %s; storage CRS EPSG:%d",
                 (long long)r->n_features, r->lineage.last_batch[0] ? r->lineage.last_batch : "-",
                 r->lineage.last_date, r->srid);
        el(b, "dc:source", src);
        for (int i = 0; i < r->lineage.n_sources; i++)
            el(b, "dct:provenance", r->lineage.sources[i].path);
    }
    if (esn >= ESN_SUMMARY) links(b, req, r);
    ows_bbox(b, req, r);
    buf_printf(b, "</%s>", tags[esn]);
}

static const char *const RESP_NS =
    "xmlns:csw=\"" NS_CSW "\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
    "xmlns:dct=\"http://purl.org/dc/terms/\" xmlns:ows=\"http://www.opengis.net/ows\" "
    "xmlns:gmd=\"" NS_GMD "\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";

static int write_record(struct buf *b, struct request *req, const struct meta_record *r,
                        const struct csw_req *q)
{
    if (q->gmd) return meta_iso_write(b, req, r);
    csw_record(b, req, r, q->esn);
    return 0;
}

static void op(struct buf *b, const struct request *req, const char *name, int post)
{
    buf_printf(b, "<ows:Operation name=\"%s\"><ows:DCP><ows:HTTP><ows:Get xlink:href=\"", name);
    buf_put_xml(b, req->base_url);
    buf_puts(b, "/csw\"/>");
    if (post) {
        buf_puts(b, "<ows:Post xlink:href=\"");
        buf_put_xml(b, req->base_url);
        buf_puts(b, "/csw\"/>");
    }
    buf_puts(b, "</ows:HTTP></ows:DCP>");
}

static void param(struct buf *b, const char *name, const char *const *values)
{
    buf_printf(b, "<ows:Parameter name=\"%s\">", name);
    for (; *values; values++)
        buf_printf(b, "<ows:Value>%s</ows:Value>", *values);
    buf_puts(b, "</ows:Parameter>");
}

static int capabilities(struct request *req, struct response *res)
{
    const struct catalog *cat = &req->cfg->catalog;
    const struct layer_meta *m = cat->n_layers ? &cat->layers[0].meta : NULL;
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<csw:Capabilities version=\"2.0.2\" "
               "%s xmlns:ogc=\"" NS_OGC "\" xmlns:gml=\"http://www.opengis.net/gml\" "
               "xmlns:xlink=\"http://www.w3.org/1999/xlink\">",
               RESP_NS);
    buf_puts(b, "<ows:ServiceIdentification><ows:Title>spp — Danh mục siêu dữ liệu lớp bản đồ / "
                "layer metadata catalogue</ows:Title><ows:Abstract>Siêu dữ liệu ISO 19115 của "
                "các lớp dữ liệu quy hoạch, đất đai. ISO 19115 metadata of the planning and "
                "land layers served by spp (WMS, WFS, OGC API Features, tiles).</ows:Abstract>"
                "<ows:Keywords><ows:Keyword>quy hoạch</ows:Keyword><ows:Keyword>đất đai"
                "</ows:Keyword><ows:Keyword>planning</ows:Keyword><ows:Keyword>land"
                "</ows:Keyword></ows:Keywords><ows:ServiceType>CSW</ows:ServiceType>"
                "<ows:ServiceTypeVersion>2.0.2</ows:ServiceTypeVersion><ows:Fees>none</ows:Fees>"
                "<ows:AccessConstraints>");
    buf_puts(b, req->role > ROLE_PUBLIC ? "API key" : "none");
    buf_puts(b, "</ows:AccessConstraints></ows:ServiceIdentification>");
    if (m) {
        buf_puts(b, "<ows:ServiceProvider>");
        el(b, "ows:ProviderName", m->org_vi);
        buf_puts(b, "<ows:ServiceContact>");
        el(b, "ows:IndividualName", m->contact_name);
        buf_puts(b, "<ows:ContactInfo>");
        if (m->contact_phone) {
            buf_puts(b, "<ows:Phone>");
            el(b, "ows:Voice", m->contact_phone);
            buf_puts(b, "</ows:Phone>");
        }
        buf_puts(b, "<ows:Address>");
        if (m->contact_address) el(b, "ows:DeliveryPoint", m->contact_address);
        el(b, "ows:ElectronicMailAddress", m->contact_email);
        buf_puts(b, "</ows:Address></ows:ContactInfo></ows:ServiceContact></ows:ServiceProvider>");
    }
    static const char *const schemas[] = {NS_CSW, NS_GMD, NULL};
    static const char *const types[] = {"csw:Record", "gmd:MD_Metadata", NULL};
    static const char *const esns[] = {"brief", "summary", "full", NULL};
    static const char *const rts[] = {"hits", "results", "validate", NULL};
    static const char *const formats[] = {"application/xml", NULL};
    static const char *const langs[] = {"FILTER", "CQL_TEXT", NULL};
    static const char *const ops[] = {"GetCapabilities", "GetRecords", "GetRecordById", NULL};
    static const char *const qs[] = {"csw:AnyText", "dc:title",        "dct:abstract",
                                     "dc:subject",  "dc:identifier",   "dc:type",
                                     "dc:format",   "ows:BoundingBox", NULL};
    buf_puts(b, "<ows:OperationsMetadata>");
    op(b, req, "GetCapabilities", 1);
    static const char *const sections[] = {"ServiceIdentification", "ServiceProvider",
                                           "OperationsMetadata", "Filter_Capabilities", NULL};
    param(b, "sections", sections);
    buf_puts(b, "</ows:Operation>");
    op(b, req, "GetRecords", 1);
    param(b, "typeNames", types);
    param(b, "outputFormat", formats);
    param(b, "outputSchema", schemas);
    param(b, "resultType", rts);
    param(b, "ElementSetName", esns);
    param(b, "CONSTRAINTLANGUAGE", langs);
    buf_puts(b, "<ows:Constraint name=\"SupportedDublinCoreQueryables\">");
    for (const char *const *p = qs; *p; p++)
        buf_printf(b, "<ows:Value>%s</ows:Value>", *p);
    buf_puts(b, "</ows:Constraint></ows:Operation>");
    op(b, req, "GetRecordById", 1);
    param(b, "outputSchema", schemas);
    param(b, "outputFormat", formats);
    param(b, "ElementSetName", esns);
    buf_puts(b, "</ows:Operation>");
    static const char *const svc[] = {"CSW", NULL};
    static const char *const ver[] = {"2.0.2", NULL};
    param(b, "service", svc);
    param(b, "version", ver);
    (void)ops;
    buf_puts(b, "</ows:OperationsMetadata>");
    buf_puts(b, "<ogc:Filter_Capabilities><ogc:Spatial_Capabilities><ogc:GeometryOperands>"
                "<ogc:GeometryOperand>gml:Envelope</ogc:GeometryOperand></ogc:GeometryOperands>"
                "<ogc:SpatialOperators><ogc:SpatialOperator name=\"BBOX\"/></ogc:SpatialOperators>"
                "</ogc:Spatial_Capabilities><ogc:Scalar_Capabilities><ogc:LogicalOperators/>"
                "<ogc:ComparisonOperators><ogc:ComparisonOperator>Like</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>EqualTo</ogc:ComparisonOperator>"
                "</ogc:ComparisonOperators></ogc:Scalar_Capabilities><ogc:Id_Capabilities>"
                "<ogc:EID/><ogc:FID/></ogc:Id_Capabilities></ogc:Filter_Capabilities>");
    return buf_puts(b, "</csw:Capabilities>\n") ? ERR_NOMEM : 0;
}

static int get_records(struct request *req, struct response *res, struct csw_req *q,
                       struct err *err)
{
    const struct catalog *cat = &req->cfg->catalog;
    int64_t matched = 0, returned = 0;
    int64_t max = q->max < 0 ? 10 : q->max > MAX_REC ? MAX_REC : q->max;
    int64_t start = q->start > 0 ? q->start : 1;
    struct buf recs;
    buf_init(&recs);
    int rc = 0;
    struct meta_record *r = malloc(sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        const struct layer_def *l = &cat->layers[i];
        if (!meta_visible(req, l)) continue;
        if ((rc = meta_record_load(req, l, r, err))) break;
        int ok = 1;
        if (q->tree.root >= 0) {
            struct rec_text rt;
            memset(&rt, 0, sizeof rt);
            rc = meta_rec_text_fill(&rt, r, err);
            ok = !rc && meta_cq_eval(&q->tree, q->tree.root, r, &rt);
            meta_rec_text_fini(&rt);
        }
        if (rc || !ok) continue;
        matched++;
        if (!q->hits && matched >= start && returned < max) {
            rc = write_record(&recs, req, r, q);
            returned++;
        }
    }
    free(r);
    if (rc) {
        buf_fini(&recs);
        return rc;
    }
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<csw:GetRecordsResponse %s "
               "version=\"2.0.2\">",
               RESP_NS);
    if (q->validate) {
        buf_fini(&recs);
        return buf_puts(b, "<csw:Acknowledgement/></csw:GetRecordsResponse>\n") ? ERR_NOMEM : 0;
    }
    int64_t next = start + returned <= matched && returned ? start + returned : 0;
    if (q->hits) next = 0;
    static const char *const esn_names[] = {"brief", "summary", "full"};
    buf_printf(b,
               "<csw:SearchStatus timestamp=\"%s\"/><csw:SearchResults "
               "numberOfRecordsMatched=\"%lld\" numberOfRecordsReturned=\"%lld\" "
               "nextRecord=\"%lld\" recordSchema=\"%s\" elementSet=\"%s\">",
               "1970-01-01T00:00:00Z", (long long)matched, (long long)returned, (long long)next,
               q->gmd ? NS_GMD : NS_CSW, esn_names[q->esn]);
    buf_append_buf(b, &recs); /* a failed recs fails b */
    buf_fini(&recs);
    return buf_puts(b, "</csw:SearchResults></csw:GetRecordsResponse>\n") ? ERR_NOMEM : 0;
}

static int get_record_by_id(struct request *req, struct response *res, struct csw_req *q,
                            struct err *err)
{
    const struct catalog *cat = &req->cfg->catalog;
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<csw:GetRecordByIdResponse %s>",
               RESP_NS);
    struct meta_record *r = malloc(sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < q->n_ids && !rc; i++) {
        const struct layer_def *l = catalog_layer(cat, q->ids[i]);
        if (!l || !meta_visible(req, l)) continue; /* an unknown id: no record (CSW 2.0.2) */
        if (!(rc = meta_record_load(req, l, r, err))) rc = write_record(b, req, r, q);
    }
    free(r);
    if (rc) return rc;
    return buf_puts(b, "</csw:GetRecordByIdResponse>\n") ? ERR_NOMEM : 0;
}

static void timestamp_now(struct response *res)
{
    /* The SearchStatus timestamp placeholder is replaced by the current UTC time. */
    char *p = res->body.data ? strstr(res->body.data, "1970-01-01T00:00:00Z") : NULL;
    if (!p) return;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    memcpy(p, ts, 20);
}

int meta_csw(struct request *req, struct response *res, struct err *err)
{
    struct csw_req q;
    memset(&q, 0, sizeof q);
    q.esn = ESN_SUMMARY;
    q.max = -1;
    q.tree.root = -1;
    int rc;
    if (!strcmp(req->method, "POST")) {
        if (!req->body || !req->body_len) {
            rc = meta_csw_fail(err, ERR_PARAM, "MissingParameterValue", "request",
                               "POST without a CSW request document");
            goto done;
        }
        struct filter_limits lim;
        filter_limits_from(&req->cfg->limits, &lim);
        void *doc = NULL;
        if ((rc = filter_xml_read(req->body, req->body_len, &lim, &doc, err))) {
            snprintf(err->ogc_code, sizeof err->ogc_code, "NoApplicableCode");
            snprintf(err->locator, sizeof err->locator, "request");
            goto done;
        }
        rc = parse_xml(req, &q, xmlDocGetRootElement((xmlDocPtr)doc), err);
        filter_xml_free(doc);
    } else {
        rc = parse_kvp(req, &q, err);
    }
    if (rc) goto done;
    if (!strcasecmp(q.request, "GetCapabilities"))
        rc = capabilities(req, res);
    else if (!strcasecmp(q.request, "GetRecords"))
        rc = get_records(req, res, &q, err);
    else if (!strcasecmp(q.request, "GetRecordById"))
        rc = get_record_by_id(req, res, &q, err);
    else
        rc = meta_csw_fail(err, ERR_UNSUPPORTED, "OperationNotSupported", "request",
                           "operation %.60s is not supported (GetCapabilities, GetRecords, "
                           "GetRecordById)",
                           q.request);
    if (!rc) timestamp_now(res);
done:
    csw_req_fini(&q);
    return rc;
}
