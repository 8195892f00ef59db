/* SPDX-License-Identifier: MIT */
/* collections.c: OGC API Features landing page, conformance and collections. Collections come
 * from the catalog, filtered by what the caller's role may read, with each layer's extent (the
 * storage extent through the official VN-2000 transformation) and feature count from the store. */
#include "ogcapi.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#include "../config/config.h"
#include "../geo/geo.h"
#include "../store/store.h"
#include "ogcapi_int.h"

static const char *const conformance[] = {
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-operators",
};

static void link(struct buf *b, int *first, const char *base, const char *href, const char *rel,
                 const char *type, const char *title)
{
    buf_puts(b, *first ? "" : ",");
    *first = 0;
    buf_puts(b, "{\"href\":");
    struct buf h;
    buf_init(&h);
    buf_printf(&h, "%s%s", base, href);
    buf_put_json_str(b, h.data);
    buf_fini(&h);
    buf_printf(b, ",\"rel\":\"%s\",\"type\":\"%s\"", rel, type);
    if (title) {
        buf_puts(b, ",\"title\":");
        buf_put_json_str(b, title);
    }
    buf_puts(b, "}");
}

static void html_head(struct buf *b, const char *title)
{
    buf_puts(b, "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    buf_put_xml(b, title);
    buf_puts(b, "</title><style>body{font-family:sans-serif;margin:2em;max-width:60em}"
                "td,th{padding:.2em .6em;text-align:left;border-bottom:1px solid #ddd}</style>"
                "</head><body><h1>");
    buf_put_xml(b, title);
    buf_puts(b, "</h1>");
}

/* q of one Accept-Language entry ("vi-VN;q=0.8" -> 0.8; 1 without q). */
static double lang_q(const char *entry, size_t n)
{
    const char *q = memchr(entry, ';', n);
    if (!q) return 1.0;
    while (q < entry + n && (*q == ';' || *q == ' '))
        q++;
    if (q + 2 > entry + n || q[0] != 'q' || q[1] != '=') return 1.0;
    char tmp[16];
    size_t k = (size_t)(entry + n - (q + 2));
    if (k >= sizeof tmp) k = sizeof tmp - 1;
    memcpy(tmp, q + 2, k);
    tmp[k] = '\0';
    double v;
    return str_to_double(tmp, &v) || v < 0 || v > 1 ? 0 : v;
}

int ogcapi_lang(const struct request *req, struct response *res, int *en, struct err *err)
{
    const char *v = req_arg(req, "lang");
    *en = 0;
    if (v) {
        if (str_ieq(v, "en") || strncasecmp(v, "en-", 3) == 0)
            *en = 1;
        else if (!str_ieq(v, "vi") && strncasecmp(v, "vi-", 3) != 0)
            return err_setl(err, ERR_PARAM, "lang", "lang must be vi or en, not \"%s\"", v);
    } else if (req->accept_language) {
        double best = 0;
        for (const char *p = req->accept_language; *p;) {
            while (*p == ' ' || *p == ',')
                p++;
            size_t n = strcspn(p, ",");
            if (!n) break;
            double q = lang_q(p, n);
            int is_en = n >= 2 && strncasecmp(p, "en", 2) == 0 && (n == 2 || !isalpha(p[2]));
            int is_vi = n >= 2 && strncasecmp(p, "vi", 2) == 0 && (n == 2 || !isalpha(p[2]));
            if ((is_en || is_vi) && q > best) best = q, *en = is_en;
            p += n;
        }
    }
    resp_header(res, "Content-Language", *en ? "en" : "vi");
    return 0;
}

const char *ogcapi_text(int en, const char *vi, const char *en_text)
{
    if (en && en_text && *en_text) return en_text;
    return vi && *vi ? vi : (en_text ? en_text : "");
}

int ogcapi_landing(struct request *req, struct response *res, struct err *err)
{
    struct buf *b = &res->body;
    if (req_wants_html(req)) {
        resp_set(res, 200, "text/html; charset=utf-8");
        html_head(b, "spp — Nền tảng quy hoạch không gian / Spatial planning server");
        buf_puts(b, "<ul><li><a href=\"map\">Bản đồ / Web map</a></li>"
                    "<li><a href=\"collections?f=html\">Collections</a></li>"
                    "<li><a href=\"conformance\">Conformance</a></li>"
                    "<li><a href=\"wms?SERVICE=WMS&amp;REQUEST=GetCapabilities\">WMS</a></li>"
                    "<li><a href=\"wfs?SERVICE=WFS&amp;REQUEST=GetCapabilities\">WFS</a></li>"
                    "</ul></body></html>\n");
        return 0;
    }
    int en, rc = ogcapi_lang(req, res, &en, err);
    if (rc) return rc;
    resp_set(res, 200, "application/json");
    int first = 1;
    buf_puts(b, "{\"title\":");
    buf_put_json_str(b, en ? "spp — spatial planning layer server"
                           : "spp — máy chủ dữ liệu quy hoạch không gian");
    buf_puts(b, ",\"description\":");
    buf_put_json_str(b, en ? "Can Tho spatial planning platform: the 24 base layers"
                           : "Nền tảng quy hoạch không gian TP. Cần Thơ: 24 lớp dữ liệu nền");
    buf_puts(b, ",\"links\":[");
    link(b, &first, req->base_url, "/", "self", "application/json", "This document");
    link(b, &first, req->base_url, "/?f=html", "alternate", "text/html", "This document as HTML");
    link(b, &first, req->base_url, "/api", "service-desc",
         "application/vnd.oai.openapi+json;version=3.0", "The API definition");
    link(b, &first, req->base_url, "/conformance", "conformance", "application/json",
         "Conformance classes");
    link(b, &first, req->base_url, "/collections", "data", "application/json", "Collections");
    buf_puts(b, "]}\n");
    return 0;
}

int ogcapi_conformance(struct request *req, struct response *res, struct err *err)
{
    (void)req, (void)err;
    resp_set(res, 200, "application/json");
    struct buf *b = &res->body;
    buf_puts(b, "{\"conformsTo\":[");
    for (size_t i = 0; i < ARRAY_LEN(conformance); i++) {
        if (i) buf_putc(b, ',');
        buf_put_json_str(b, conformance[i]);
    }
    /* Part 4 (edit.c), only when a layer is writable (on SpatiaLite and PostGIS alike) */
    if (access_any_edit(&req->cfg->catalog))
        buf_puts(b,
                 ",\"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete\""
                 ",\"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update\"");
    buf_puts(b, "]}\n");
    return 0;
}

/* Writes one collection object. */
static int write_collection(struct request *req, const struct layer_def *l, int en, struct buf *b,
                            struct err *err)
{
    struct layer_state ls;
    int rc = store_layer_state_role(req->store, l, req->role, &ls, err);
    if (rc) return rc;
    const char *title = ogcapi_text(en, l->title_vi, l->title_en);
    buf_puts(b, "{\"id\":");
    buf_put_json_str(b, l->id);
    buf_puts(b, ",\"title\":");
    buf_put_json_str(b, title);
    buf_puts(b, ",\"description\":");
    buf_put_json_str(b, ogcapi_text(en, l->desc_vi, l->desc_en));
    buf_puts(b, ",\"titles\":{\"vi\":");
    buf_put_json_str(b, l->title_vi);
    buf_puts(b, ",\"en\":");
    buf_put_json_str(b, l->title_en);
    buf_puts(b, "},\"descriptions\":{\"vi\":");
    buf_put_json_str(b, l->desc_vi ? l->desc_vi : "");
    buf_puts(b, ",\"en\":");
    buf_put_json_str(b, l->desc_en ? l->desc_en : "");
    buf_puts(b, "},\"group\":");
    buf_put_json_str(b, l->group);
    buf_printf(b, ",\"itemType\":\"feature\",\"geometryType\":\"%s\",\"itemCount\":%lld",
               geom_type_name(l->geom), (long long)ls.n_features);
    int srid = store_srid(req->store);
    if (ls.has_extent && ls.n_features > 0) {
        struct bbox wgs;
        if (geo_transform_bbox(req->geo, srid, GEO_SRID_CRS84, &ls.extent, &wgs, err) == 0) {
            buf_puts(b, ",\"extent\":{\"spatial\":{\"bbox\":[[");
            buf_put_double(b, wgs.minx, 7), buf_putc(b, ',');
            buf_put_double(b, wgs.miny, 7), buf_putc(b, ',');
            buf_put_double(b, wgs.maxx, 7), buf_putc(b, ',');
            buf_put_double(b, wgs.maxy, 7);
            buf_puts(b, "]],\"crs\":\"http://www.opengis.net/def/crs/OGC/1.3/CRS84\"}}");
        } else {
            err_clear(err);
        }
    }
    int crs[32];
    int n = geo_advertised_crs(srid, crs, 32);
    char uri[64];
    buf_puts(b, ",\"crs\":[");
    for (int i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        buf_put_json_str(b, geo_crs_uri(crs[i], uri));
    }
    buf_printf(b, "],\"storageCrs\":\"%s\",\"links\":[", geo_crs_uri(srid, uri));
    int first = 1;
    char href[256];
    snprintf(href, sizeof href, "/collections/%s", l->id);
    link(b, &first, req->base_url, href, "self", "application/json", title);
    snprintf(href, sizeof href, "/collections/%s/items", l->id);
    link(b, &first, req->base_url, href, "items", "application/geo+json", title);
    snprintf(href, sizeof href, "/collections/%s/queryables", l->id);
    link(b, &first, req->base_url, href, "http://www.opengis.net/def/rel/ogc/1.0/queryables",
         "application/schema+json", "Queryables");
    /* The layer's metadata record (src/meta/, issue 21). */
    snprintf(href, sizeof href, "/collections/%s/metadata", l->id);
    link(b, &first, req->base_url, href, "describedby", "application/geo+json", "Metadata");
    snprintf(href, sizeof href, "/collections/%s/metadata?f=xml", l->id);
    link(b, &first, req->base_url, href, "describedby", "application/xml", "ISO 19139");
    buf_puts(b, "]}");
    return 0;
}

static int collections_html(struct request *req, struct response *res, struct err *err)
{
    const struct catalog *cat = &req->cfg->catalog;
    struct buf *b = &res->body;
    resp_set(res, 200, "text/html; charset=utf-8");
    html_head(b, "Lớp dữ liệu / Collections");
    buf_puts(b, "<table><tr><th>#</th><th>id</th><th>Tên lớp</th><th>Layer</th><th>Nhóm</th>"
                "<th>Số đối tượng</th></tr>");
    for (int i = 0; i < cat->n_layers; i++) {
        const struct layer_def *l = &cat->layers[i];
        if (!access_layer(l, req->role)) continue;
        struct layer_state ls;
        int rc = store_layer_state_role(req->store, l, req->role, &ls, err);
        if (rc) return rc;
        buf_printf(b, "<tr><td>%d</td><td><a href=\"collections/", l->number);
        buf_put_xml(b, l->id);
        buf_puts(b, "/items?f=html\">");
        buf_put_xml(b, l->id);
        buf_puts(b, "</a></td><td>");
        buf_put_xml(b, l->title_vi);
        buf_puts(b, "</td><td>");
        buf_put_xml(b, l->title_en);
        buf_puts(b, "</td><td>");
        buf_put_xml(b, l->group);
        buf_printf(b, "</td><td>%lld</td></tr>", (long long)ls.n_features);
    }
    buf_puts(b, "</table></body></html>\n");
    return 0;
}

int ogcapi_collections(struct request *req, struct response *res, struct err *err)
{
    if (req_wants_html(req)) return collections_html(req, res, err);
    const struct catalog *cat = &req->cfg->catalog;
    struct buf *b = &res->body;
    int en, rc0 = ogcapi_lang(req, res, &en, err);
    if (rc0) return rc0;
    resp_set(res, 200, "application/json");
    buf_puts(b, "{\"links\":[");
    int first = 1;
    link(b, &first, req->base_url, "/collections", "self", "application/json", "Collections");
    link(b, &first, req->base_url, "/collections?f=html", "alternate", "text/html", "Collections");
    buf_puts(b, "],\"collections\":[");
    int n = 0;
    for (int i = 0; i < cat->n_layers; i++) {
        if (!access_layer(&cat->layers[i], req->role)) continue;
        if (n++) buf_putc(b, ',');
        int rc = write_collection(req, &cat->layers[i], en, b, err);
        if (rc) return rc;
    }
    buf_puts(b, "]}\n");
    return 0;
}

int ogcapi_collection(struct request *req, struct response *res, struct err *err)
{
    const char *id = req_param(req, "layer");
    const struct layer_def *l = catalog_layer(&req->cfg->catalog, id);
    /* a layer the role may not read answers exactly like an unknown one */
    if (!l || !access_layer(l, req->role))
        return err_setl(err, ERR_NOT_FOUND, "collectionId", "no collection \"%s\"", id);
    int en, rc = ogcapi_lang(req, res, &en, err);
    if (rc) return rc;
    resp_set(res, 200, "application/json");
    rc = write_collection(req, l, en, &res->body, err);
    if (!rc) buf_putc(&res->body, '\n');
    return rc;
}
