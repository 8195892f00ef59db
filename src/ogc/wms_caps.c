/* SPDX-License-Identifier: MIT */
/* wms_caps.c: WMS GetCapabilities 1.3.0 (WMS_Capabilities) and 1.1.1 (WMT_MS_Capabilities).
 * Layers are grouped by the catalog's data groups, titled in Vietnamese and English, with their
 * styles and legend URLs, queryable flags, and a bounding box in every advertised CRS computed
 * with the one official transformation (geo_transform_bbox: EPSG:6960 for VN-2000), printed with
 * enough digits (QGIS clips maps and identify clicks to these boxes). Without VERSION the
 * highest version answers. */
#include "wms_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *id, *vi, *en;
} groups[] = {
    {"land", "Đất đai và nền địa lý", "Land and base geography"},
    {"construction", "Xây dựng", "Construction"},
    {"transport", "Giao thông", "Transport"},
    {"planning", "Quy hoạch, kiến trúc", "Planning and architecture"},
};

static void online(struct buf *b, const struct request *req)
{
    buf_puts(b, "<OnlineResource xmlns:xlink=\"http://www.w3.org/1999/xlink\" xlink:type=\"simple\""
                " xlink:href=\"");
    buf_put_xml(b, req->cfg->public_url ? req->cfg->public_url : req->base_url);
    buf_put_xml(b, str_starts(req->path, "/ows") ? "/ows?" : "/wms?");
    buf_puts(b, "\"/>");
}

static void dcp(struct buf *b, const struct request *req, const char *op, const char *const *fmts,
                int n)
{
    buf_printf(b, "<%s>", op);
    for (int i = 0; i < n; i++) {
        buf_puts(b, "<Format>");
        buf_put_xml(b, fmts[i]);
        buf_puts(b, "</Format>");
    }
    buf_puts(b, "<DCPType><HTTP><Get>");
    online(b, req);
    buf_printf(b, "</Get></HTTP></DCPType></%s>\n", op);
}

/* Digits: degrees to 1e-8 (mm), metres to mm. */
static void put_coord(struct buf *b, double v, int geographic)
{
    buf_put_double(b, v, geographic ? 8 : 3);
}

static void put_bboxes(struct buf *b, struct request *req, int version, const struct bbox *ext)
{
    int adv[32];
    int n = geo_advertised_crs(req->cfg->storage_srid, adv, 32);
    struct err e;
    struct bbox ll;
    err_clear(&e);
    if (geo_transform_bbox(req->geo, req->cfg->storage_srid, GEO_SRID_CRS84, ext, &ll, &e) == 0) {
        if (version == WMS_130) {
            buf_puts(b, "<EX_GeographicBoundingBox><westBoundLongitude>");
            put_coord(b, ll.minx, 1);
            buf_puts(b, "</westBoundLongitude><eastBoundLongitude>");
            put_coord(b, ll.maxx, 1);
            buf_puts(b, "</eastBoundLongitude><southBoundLatitude>");
            put_coord(b, ll.miny, 1);
            buf_puts(b, "</southBoundLatitude><northBoundLatitude>");
            put_coord(b, ll.maxy, 1);
            buf_puts(b, "</northBoundLatitude></EX_GeographicBoundingBox>\n");
        } else {
            buf_puts(b, "<LatLonBoundingBox minx=\"");
            put_coord(b, ll.minx, 1);
            buf_puts(b, "\" miny=\"");
            put_coord(b, ll.miny, 1);
            buf_puts(b, "\" maxx=\"");
            put_coord(b, ll.maxx, 1);
            buf_puts(b, "\" maxy=\"");
            put_coord(b, ll.maxy, 1);
            buf_puts(b, "\"/>\n");
        }
    }
    for (int i = 0; i < n; i++) {
        struct bbox o;
        err_clear(&e);
        if (!geo_crs_known(req->geo, adv[i]) ||
            geo_transform_bbox(req->geo, req->cfg->storage_srid, adv[i], ext, &o, &e))
            continue;
        char name[32];
        int geog = adv[i] == GEO_SRID_CRS84 || geo_crs_geographic(req->geo, adv[i]);
        int swap =
            version == WMS_130 && adv[i] != GEO_SRID_CRS84 && geo_crs_latlon(req->geo, adv[i]);
        double v[4] = {o.minx, o.miny, o.maxx, o.maxy};
        if (swap) v[0] = o.miny, v[1] = o.minx, v[2] = o.maxy, v[3] = o.maxx;
        buf_printf(b, "<BoundingBox %s=\"%s\" minx=\"", version == WMS_130 ? "CRS" : "SRS",
                   geo_crs_name(adv[i], name));
        put_coord(b, v[0], geog);
        buf_puts(b, "\" miny=\"");
        put_coord(b, v[1], geog);
        buf_puts(b, "\" maxx=\"");
        put_coord(b, v[2], geog);
        buf_puts(b, "\" maxy=\"");
        put_coord(b, v[3], geog);
        buf_puts(b, "\"/>\n");
    }
}

static void put_style(struct buf *b, const struct request *req, const struct layer_def *l,
                      const struct style *s)
{
    buf_puts(b, "<Style><Name>");
    buf_put_xml(b, s->name);
    buf_puts(b, "</Name><Title>");
    buf_put_xml(b, s->title ? s->title : l->title_vi);
    buf_puts(b, "</Title><LegendURL width=\"20\" height=\"20\"><Format>image/png</Format>"
                "<OnlineResource xmlns:xlink=\"http://www.w3.org/1999/xlink\""
                " xlink:type=\"simple\" xlink:href=\"");
    buf_put_xml(b, req->cfg->public_url ? req->cfg->public_url : req->base_url);
    buf_puts(b, "/wms?SERVICE=WMS&amp;VERSION=1.3.0&amp;REQUEST=GetLegendGraphic&amp;"
                "FORMAT=image%2Fpng&amp;LAYER=");
    buf_put_xml(b, l->id);
    buf_puts(b, "&amp;STYLE=");
    buf_put_xml(b, s->name);
    buf_puts(b, "\"/></LegendURL></Style>\n");
}

static void put_layer(struct buf *b, struct request *req, int version, const struct layer_def *l,
                      const struct bbox *ext)
{
    buf_puts(b, "<Layer queryable=\"1\" opaque=\"0\"><Name>");
    buf_put_xml(b, l->id);
    buf_puts(b, "</Name><Title>");
    enum ogc_lang lang = ogc_language(req);
    ogc_put_text(b, lang, l->title_vi, l->title_en, " / ");
    buf_puts(b, "</Title><Abstract>");
    ogc_put_text(b, lang, l->desc_vi, l->desc_en, " — ");
    buf_puts(b, "</Abstract><KeywordList><Keyword>");
    buf_put_xml(b, l->group);
    buf_puts(b, "</Keyword></KeywordList>\n");
    put_bboxes(b, req, version, ext);
    /* The layer's ISO 19139 record (src/meta/, issue 21). */
    buf_printf(b,
               "<MetadataURL type=\"%s\"><Format>text/xml</Format><OnlineResource "
               "xmlns:xlink=\"http://www.w3.org/1999/xlink\" xlink:type=\"simple\" "
               "xlink:href=\"",
               version == WMS_130 ? "ISO19115:2003" : "TC211");
    buf_put_xml(b, req->base_url);
    buf_printf(b, "/collections/%s/metadata?f=xml\"/></MetadataURL>\n", l->id);
    const struct style *s = render_style(l, NULL);
    if (s && s->min_role <= req->role) put_style(b, req, l, s);
    buf_puts(b, "</Layer>\n");
}

/* A layer's extent in the storage CRS, or the union of all when it has none yet. */
static void layer_extent(struct request *req, const struct layer_def *l, const struct bbox *all,
                         struct bbox *out)
{
    struct layer_state st;
    struct err e;
    err_clear(&e);
    if (store_layer_state(req->store, l, &st, &e) == 0 && st.has_extent &&
        st.extent.maxx >= st.extent.minx && st.extent.maxy >= st.extent.miny) {
        *out = st.extent;
        if (out->maxx - out->minx < 1) out->minx -= 50, out->maxx += 50; /* a single point */
        if (out->maxy - out->miny < 1) out->miny -= 50, out->maxy += 50;
    } else {
        *out = *all;
    }
}

static void all_extent(struct request *req, struct bbox *all)
{
    bbox_empty(all);
    for (int i = 0; i < req->cfg->catalog.n_layers; i++) {
        struct layer_state st;
        struct err e;
        err_clear(&e);
        if (store_layer_state(req->store, &req->cfg->catalog.layers[i], &st, &e) == 0 &&
            st.has_extent)
            bbox_union(all, &st.extent);
    }
    if (bbox_is_empty(all)) { /* an empty store: the city of Can Tho */
        struct bbox ll = {105.2, 9.9, 105.95, 10.35};
        struct err e;
        if (geo_transform_bbox(req->geo, GEO_SRID_CRS84, req->cfg->storage_srid, &ll, all, &e))
            *all = ll;
    }
}

static void put_service(struct buf *b, const struct request *req, int version)
{
    buf_puts(b, "<Service><Name>");
    buf_puts(b, version == WMS_130 ? "WMS" : "OGC:WMS");
    enum ogc_lang lang = ogc_language(req);
    buf_puts(b, "</Name><Title>spp — ");
    ogc_put_text(b, lang, "Bản đồ quy hoạch Cần Thơ", "Can Tho planning layers", " / ");
    buf_puts(b, "</Title><Abstract>");
    ogc_put_text(b, lang,
                 "Lớp dữ liệu đất đai, xây dựng, giao thông và quy hoạch. Thông tin chỉ để tham "
                 "khảo.",
                 "Land, construction, transport and planning layers; for reference only.", " / ");
    buf_puts(b, "</Abstract><KeywordList><Keyword>quy hoạch</Keyword>"
                "<Keyword>planning</Keyword><Keyword>Cần Thơ</Keyword></KeywordList>");
    online(b, req);
    buf_puts(b, "<Fees>none</Fees><AccessConstraints>none</AccessConstraints>");
    if (version == WMS_130)
        buf_printf(b, "<LayerLimit>64</LayerLimit><MaxWidth>%d</MaxWidth><MaxHeight>%d</MaxHeight>",
                   req->cfg->limits.max_width, req->cfg->limits.max_height);
    buf_puts(b, "</Service>\n");
}

static void put_requests(struct buf *b, const struct request *req, int version)
{
    static const char *map_fmts[] = {"image/png", "image/png; mode=8bit", "image/jpeg",
                                     "image/webp"};
    /* QGIS uses the last INFO_FORMAT: the richest goes last. */
    static const char *info_fmts[] = {"text/plain", "text/html", "application/json",
                                      "application/vnd.ogc.gml"};
    const char *caps_fmt = version == WMS_130 ? "text/xml" : "application/vnd.ogc.wms_xml";
    buf_puts(b, "<Capability><Request>\n");
    dcp(b, req, "GetCapabilities", &caps_fmt, 1);
    dcp(b, req, "GetMap", map_fmts, 4);
    dcp(b, req, "GetFeatureInfo", info_fmts, 4);
    static const char *legend_fmts[] = {"image/png", "application/json"};
    dcp(b, req, version == WMS_130 ? "sld:GetLegendGraphic" : "GetLegendGraphic", legend_fmts, 2);
    buf_puts(b, "</Request>\n<Exception>");
    if (version == WMS_130)
        buf_puts(b, "<Format>XML</Format><Format>INIMAGE</Format><Format>BLANK</Format>");
    else
        buf_puts(b, "<Format>application/vnd.ogc.se_xml</Format>"
                    "<Format>application/vnd.ogc.se_inimage</Format>"
                    "<Format>application/vnd.ogc.se_blank</Format>");
    buf_puts(b, "</Exception>\n");
    if (version == WMS_130) { /* the languages, as INSPIRE view services list them */
        enum ogc_lang lang = ogc_language(req);
        buf_printf(b,
                   "<inspire_vs:ExtendedCapabilities "
                   "xmlns:inspire_vs=\"http://inspire.ec.europa.eu/schemas/inspire_vs/1.0\" "
                   "xmlns:inspire_common=\"http://inspire.ec.europa.eu/schemas/common/1.0\">"
                   "<inspire_common:SupportedLanguages><inspire_common:DefaultLanguage>"
                   "<inspire_common:Language>vie</inspire_common:Language>"
                   "</inspire_common:DefaultLanguage><inspire_common:SupportedLanguage>"
                   "<inspire_common:Language>eng</inspire_common:Language>"
                   "</inspire_common:SupportedLanguage></inspire_common:SupportedLanguages>"
                   "<inspire_common:ResponseLanguage><inspire_common:Language>%s"
                   "</inspire_common:Language></inspire_common:ResponseLanguage>"
                   "</inspire_vs:ExtendedCapabilities>\n",
                   lang == OGC_LANG_EN ? "eng" : "vie");
    }
}

int wms_capabilities(struct request *req, struct response *res, struct err *err)
{
    (void)err;
    int version = wms_version(req);
    struct buf *b = &res->body;
    buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (version == WMS_130)
        buf_puts(b, "<WMS_Capabilities version=\"1.3.0\" xmlns=\"http://www.opengis.net/wms\""
                    " xmlns:sld=\"http://www.opengis.net/sld\""
                    " xmlns:xlink=\"http://www.w3.org/1999/xlink\""
                    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                    " xsi:schemaLocation=\"http://www.opengis.net/wms"
                    " http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd"
                    " http://www.opengis.net/sld"
                    " http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd\">\n");
    else
        buf_puts(b, "<WMT_MS_Capabilities version=\"1.1.1\">\n");
    put_service(b, req, version);
    put_requests(b, req, version);
    struct bbox all;
    all_extent(req, &all);
    buf_puts(b, "<Layer><Title>spp — Cần Thơ</Title>\n");
    int adv[32];
    int n = geo_advertised_crs(req->cfg->storage_srid, adv, 32);
    for (int i = 0; i < n; i++) {
        char name[32];
        if (!geo_crs_known(req->geo, adv[i])) continue;
        buf_printf(b, version == WMS_130 ? "<CRS>%s</CRS>" : "<SRS>%s</SRS>",
                   geo_crs_name(adv[i], name));
    }
    buf_puts(b, "\n");
    put_bboxes(b, req, version, &all);
    for (size_t g = 0; g < ARRAY_LEN(groups); g++) {
        int any = 0;
        for (int i = 0; i < req->cfg->catalog.n_layers; i++) {
            const struct layer_def *l = &req->cfg->catalog.layers[i];
            if (!l->group || strcmp(l->group, groups[g].id) != 0 || !access_layer(l, req->role))
                continue;
            if (!any) {
                buf_puts(b, "<Layer><Title>");
                ogc_put_text(b, ogc_language(req), groups[g].vi, groups[g].en, " / ");
                buf_puts(b, "</Title>\n");
                put_bboxes(b, req, version, &all);
                any = 1;
            }
            struct bbox ext;
            layer_extent(req, l, &all, &ext);
            put_layer(b, req, version, l, &ext);
        }
        if (any) buf_puts(b, "</Layer>\n");
    }
    buf_puts(b, "</Layer>\n</Capability>\n");
    buf_puts(b, version == WMS_130 ? "</WMS_Capabilities>\n" : "</WMT_MS_Capabilities>\n");
    resp_set(res, 200,
             version == WMS_130 ? "text/xml; charset=utf-8"
                                : "application/vnd.ogc.wms_xml; charset=utf-8");
    return 0;
}
