/* SPDX-License-Identifier: MIT */
/* wfs_caps.c: WFS 2.0.0 and 1.1.0 GetCapabilities. Feature types are the catalog layers the
 * caller's role may read, with Vietnamese and English titles, the CRSs of geo_advertised_crs and
 * a WGS 84 bounding box computed from the store extent through the official VN-2000
 * transformation (the same one every other output uses). The filter capabilities list exactly
 * what filter/ implements. */
#include "wfs_int.h"

#include <stdio.h>
#include <string.h>

static void put_url(struct buf *b, const struct request *req)
{
    buf_put_xml(b, req->base_url);
    buf_puts(b, "/wfs?");
}

static void op_v2(struct buf *b, const struct request *req, const char *name, const char *extra)
{
    buf_printf(b,
               "    <ows:Operation name=\"%s\">\n      <ows:DCP><ows:HTTP><ows:Get xlink:href=\"",
               name);
    put_url(b, req);
    buf_puts(b, "\"/><ows:Post xlink:href=\"");
    put_url(b, req);
    buf_puts(b, "\"/></ows:HTTP></ows:DCP>\n");
    if (extra) buf_puts(b, extra);
    buf_puts(b, "    </ows:Operation>\n");
}

static const char *const formats_v2 =
    "      <ows:Parameter name=\"outputFormat\"><ows:AllowedValues>"
    "<ows:Value>application/gml+xml; version=3.2</ows:Value>"
    "<ows:Value>text/xml; subtype=gml/3.2</ows:Value>"
    "<ows:Value>text/xml; subtype=gml/3.1.1</ows:Value>"
    "<ows:Value>application/json</ows:Value><ows:Value>application/geo+json</ows:Value>"
    "<ows:Value>text/csv</ows:Value></ows:AllowedValues></ows:Parameter>\n";

static const char *const formats_v11 =
    "      <ows:Parameter name=\"outputFormat\"><ows:Value>text/xml; subtype=gml/3.1.1</ows:Value>"
    "<ows:Value>application/json</ows:Value><ows:Value>text/csv</ows:Value></ows:Parameter>\n";

/* DescribeFeatureType: the GML 3.2 schema by default in 2.0; the GML 3.1.1 one (which has
 * MultiLineString and MultiPolygon) on request, see describe_feature_type in wfs.c. */
static const char *const dft_formats_v2 =
    "      <ows:Parameter name=\"outputFormat\"><ows:AllowedValues>"
    "<ows:Value>application/gml+xml; version=3.2</ows:Value>"
    "<ows:Value>text/xml; subtype=gml/3.1.1</ows:Value></ows:AllowedValues></ows:Parameter>\n";

static const char *const dft_formats_v11 =
    "      <ows:Parameter name=\"outputFormat\"><ows:Value>text/xml; subtype=gml/3.1.1"
    "</ows:Value></ows:Parameter>\n";

static const char *const spatial_ops[] = {"BBOX",     "Equals",  "Disjoint", "Intersects",
                                          "Touches",  "Crosses", "Within",   "Contains",
                                          "Overlaps", "DWithin", "Beyond"};
static const char *const comparison_ops[] = {"PropertyIsEqualTo",
                                             "PropertyIsNotEqualTo",
                                             "PropertyIsLessThan",
                                             "PropertyIsGreaterThan",
                                             "PropertyIsLessThanOrEqualTo",
                                             "PropertyIsGreaterThanOrEqualTo",
                                             "PropertyIsLike",
                                             "PropertyIsNull",
                                             "PropertyIsBetween"};
static const char *const operands[] = {"Envelope",   "Point",      "LineString",  "Polygon",
                                       "MultiPoint", "MultiCurve", "MultiSurface"};

/* A feature type's WGS 84 box from the store extent (official transformation). */
static int wgs84_box(struct request *req, const struct layer_def *l, struct bbox *out)
{
    struct layer_state ls;
    struct err e;
    err_clear(&e);
    if (store_layer_state(req->store, l, &ls, &e) || !ls.has_extent || ls.n_features == 0)
        return -1;
    return geo_transform_bbox(req->geo, store_srid(req->store), GEO_SRID_CRS84, &ls.extent, out, &e)
               ? -1
               : 0;
}

static void put_box(struct buf *b, const struct bbox *box, const char *lower, const char *upper)
{
    buf_printf(b, "<%s>", lower);
    encode_number(b, box->minx, 8), buf_putc(b, ' '), encode_number(b, box->miny, 8);
    buf_printf(b, "</%s><%s>", lower, upper);
    encode_number(b, box->maxx, 8), buf_putc(b, ' '), encode_number(b, box->maxy, 8);
    buf_printf(b, "</%s>", upper);
}

static void feature_type(struct request *req, struct buf *b, const struct layer_def *l, int v2)
{
    int storage = store_srid(req->store);
    int crs[32], n = geo_advertised_crs(storage, crs, 32);
    char urn[64];
    buf_printf(b, "    <FeatureType>\n      <Name>spp:%s</Name>\n", l->id);
    enum ogc_lang lang = ogc_language(req);
    if (v2) {
        /* every language, the requested one first (QGIS and OWSLib read the first Title) */
        int en_first = lang == OGC_LANG_EN;
        const char *tags[2] = {"vi", "en"}, *titles[2] = {l->title_vi, l->title_en},
                   *descs[2] = {l->desc_vi, l->desc_en};
        for (int k = 0; k < 2; k++) {
            int i = en_first ? 1 - k : k;
            buf_printf(b, "      <Title xml:lang=\"%s\">", tags[i]);
            buf_put_xml(b, titles[i] ? titles[i] : "");
            buf_puts(b, "</Title>\n");
        }
        for (int k = 0; k < 2; k++) {
            int i = en_first ? 1 - k : k;
            buf_printf(b, "      <Abstract xml:lang=\"%s\">", tags[i]);
            buf_put_xml(b, descs[i] ? descs[i] : "");
            buf_puts(b, "</Abstract>\n");
        }
    } else {
        buf_puts(b, "      <Title>");
        ogc_put_text(b, lang == OGC_LANG_BOTH ? OGC_LANG_VI : lang, l->title_vi, l->title_en, "");
        buf_puts(b, "</Title>\n      <Abstract>");
        ogc_put_text(b, lang, l->desc_vi, l->desc_en, " — ");
        buf_puts(b, "</Abstract>\n");
    }
    buf_puts(b, "      <ows:Keywords><ows:Keyword>");
    buf_put_xml(b, l->group);
    buf_puts(b, "</ows:Keyword></ows:Keywords>\n");
    const char *def = v2 ? "DefaultCRS" : "DefaultSRS", *other = v2 ? "OtherCRS" : "OtherSRS";
    for (int i = 0; i < n; i++) {
        if (crs[i] == GEO_SRID_CRS84) continue; /* CRS:84 is EPSG:4326 in x/y order */
        buf_printf(b, "      <%s>%s</%s>\n", i ? other : def, wfs_crs_urn(crs[i], urn),
                   i ? other : def);
    }
    if (!v2 && l->edit_roles) /* WFS-T (wfs_tx.c) */
        buf_puts(b, "      <Operations><Operation>Query</Operation><Operation>Insert</Operation>"
                    "<Operation>Update</Operation><Operation>Delete</Operation>"
                    "<Operation>Lock</Operation></Operations>\n");
    buf_puts(b, "      <OutputFormats>");
    if (v2) buf_puts(b, "<Format>application/gml+xml; version=3.2</Format>");
    buf_puts(b, "<Format>text/xml; subtype=gml/3.1.1</Format><Format>application/json</Format>"
                "<Format>text/csv</Format></OutputFormats>\n");
    struct bbox box;
    if (wgs84_box(req, l, &box) == 0) {
        buf_puts(b, "      <ows:WGS84BoundingBox>");
        put_box(b, &box, "ows:LowerCorner", "ows:UpperCorner");
        buf_puts(b, "</ows:WGS84BoundingBox>\n");
    }
    /* The layer's ISO 19139 record (src/meta/, issue 21). */
    buf_puts(b, v2 ? "      <MetadataURL xmlns:xlink=\"http://www.w3.org/1999/xlink\" xlink:href=\""
                   : "      <MetadataURL type=\"19115\" format=\"text/xml\">");
    buf_put_xml(b, req->base_url);
    buf_printf(b, "/collections/%s/metadata?f=xml%s\n", l->id, v2 ? "\"/>" : "</MetadataURL>");
    buf_puts(b, "    </FeatureType>\n");
}

static void filter_caps_v2(struct buf *b)
{
    static const char *const yes[] = {"ImplementsQuery",          "ImplementsAdHocQuery",
                                      "ImplementsResourceId",     "ImplementsMinStandardFilter",
                                      "ImplementsStandardFilter", "ImplementsMinSpatialFilter",
                                      "ImplementsSpatialFilter",  "ImplementsSorting",
                                      "ImplementsMinimumXPath"};
    static const char *const no[] = {"ImplementsFunctions",         "ImplementsMinTemporalFilter",
                                     "ImplementsTemporalFilter",    "ImplementsVersionNav",
                                     "ImplementsExtendedOperators", "ImplementsSchemaElementFunc"};
    buf_puts(b, "  <fes:Filter_Capabilities>\n    <fes:Conformance>\n");
    for (size_t i = 0; i < ARRAY_LEN(yes); i++)
        buf_printf(b,
                   "      <fes:Constraint name=\"%s\"><ows:NoValues/><ows:DefaultValue>TRUE"
                   "</ows:DefaultValue></fes:Constraint>\n",
                   yes[i]);
    for (size_t i = 0; i < ARRAY_LEN(no); i++)
        buf_printf(b,
                   "      <fes:Constraint name=\"%s\"><ows:NoValues/><ows:DefaultValue>FALSE"
                   "</ows:DefaultValue></fes:Constraint>\n",
                   no[i]);
    buf_puts(b, "    </fes:Conformance>\n    <fes:Id_Capabilities><fes:ResourceIdentifier "
                "name=\"fes:ResourceId\"/></fes:Id_Capabilities>\n    <fes:Scalar_Capabilities>"
                "<fes:LogicalOperators/><fes:ComparisonOperators>");
    for (size_t i = 0; i < ARRAY_LEN(comparison_ops); i++)
        buf_printf(b, "<fes:ComparisonOperator name=\"%s\"/>", comparison_ops[i]);
    buf_puts(b, "</fes:ComparisonOperators></fes:Scalar_Capabilities>\n"
                "    <fes:Spatial_Capabilities><fes:GeometryOperands>");
    for (size_t i = 0; i < ARRAY_LEN(operands); i++)
        buf_printf(b, "<fes:GeometryOperand name=\"gml:%s\"/>", operands[i]);
    buf_puts(b, "</fes:GeometryOperands><fes:SpatialOperators>");
    for (size_t i = 0; i < ARRAY_LEN(spatial_ops); i++)
        buf_printf(b, "<fes:SpatialOperator name=\"%s\"/>", spatial_ops[i]);
    buf_puts(b, "</fes:SpatialOperators></fes:Spatial_Capabilities>\n"
                "  </fes:Filter_Capabilities>\n");
}

static void filter_caps_v11(struct buf *b)
{
    buf_puts(b,
             "  <ogc:Filter_Capabilities>\n    <ogc:Spatial_Capabilities><ogc:GeometryOperands>");
    for (size_t i = 0; i < ARRAY_LEN(operands); i++)
        buf_printf(b, "<ogc:GeometryOperand>gml:%s</ogc:GeometryOperand>", operands[i]);
    buf_puts(b, "</ogc:GeometryOperands><ogc:SpatialOperators>");
    for (size_t i = 0; i < ARRAY_LEN(spatial_ops); i++)
        buf_printf(b, "<ogc:SpatialOperator name=\"%s\"/>", spatial_ops[i]);
    buf_puts(b, "</ogc:SpatialOperators></ogc:Spatial_Capabilities>\n"
                "    <ogc:Scalar_Capabilities><ogc:LogicalOperators/><ogc:ComparisonOperators>"
                "<ogc:ComparisonOperator>LessThan</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>GreaterThan</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>LessThanEqualTo</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>GreaterThanEqualTo</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>EqualTo</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>NotEqualTo</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>Like</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>Between</ogc:ComparisonOperator>"
                "<ogc:ComparisonOperator>NullCheck</ogc:ComparisonOperator>"
                "</ogc:ComparisonOperators></ogc:Scalar_Capabilities>\n"
                "    <ogc:Id_Capabilities><ogc:EID/><ogc:FID/></ogc:Id_Capabilities>\n"
                "  </ogc:Filter_Capabilities>\n");
}

static void service_id(struct buf *b, int v2)
{
    buf_printf(b,
               "  <ows:ServiceIdentification>\n"
               "    <ows:Title>spp — Dữ liệu quy hoạch không gian TP. Cần Thơ</ows:Title>\n"
               "    <ows:Abstract>Can Tho spatial planning layers (24 base layers, VN-2000). "
               "Các lớp dữ liệu nền quy hoạch.</ows:Abstract>\n"
               "    <ows:Keywords><ows:Keyword>quy hoạch</ows:Keyword><ows:Keyword>planning"
               "</ows:Keyword><ows:Keyword>VN-2000</ows:Keyword></ows:Keywords>\n"
               "    <ows:ServiceType>WFS</ows:ServiceType>\n"
               "    <ows:ServiceTypeVersion>%s</ows:ServiceTypeVersion>\n"
               "    <ows:Fees>NONE</ows:Fees>\n    <ows:AccessConstraints>NONE"
               "</ows:AccessConstraints>\n  </ows:ServiceIdentification>\n"
               "  <ows:ServiceProvider><ows:ProviderName>spp</ows:ProviderName>"
               "<ows:ServiceContact/></ows:ServiceProvider>\n",
               v2 ? "2.0.0" : "1.1.0");
}

static void constraint(struct buf *b, const char *name, const char *value)
{
    buf_printf(b,
               "    <ows:Constraint name=\"%s\"><ows:NoValues/><ows:DefaultValue>%s"
               "</ows:DefaultValue></ows:Constraint>\n",
               name, value);
}

static void operations(struct request *req, struct buf *b, int v2)
{
    buf_puts(b, "  <ows:OperationsMetadata>\n");
    if (v2)
        op_v2(b, req, "GetCapabilities",
              "      <ows:Parameter name=\"AcceptVersions\"><ows:AllowedValues><ows:Value>2.0.0"
              "</ows:Value><ows:Value>1.1.0</ows:Value></ows:AllowedValues></ows:Parameter>\n"
              "      <ows:Parameter name=\"LANGUAGE\"><ows:AllowedValues><ows:Value>vie"
              "</ows:Value><ows:Value>eng</ows:Value></ows:AllowedValues></ows:Parameter>\n");
    else
        op_v2(b, req, "GetCapabilities",
              "      <ows:Parameter name=\"AcceptVersions\"><ows:Value>2.0.0</ows:Value>"
              "<ows:Value>1.1.0</ows:Value></ows:Parameter>\n"
              "      <ows:Parameter name=\"LANGUAGE\"><ows:Value>vie</ows:Value>"
              "<ows:Value>eng</ows:Value></ows:Parameter>\n");
    op_v2(b, req, "DescribeFeatureType", v2 ? dft_formats_v2 : dft_formats_v11);
    struct buf gf;
    buf_init(&gf);
    buf_puts(&gf, v2 ? formats_v2 : formats_v11);
    /* QGIS asks a WFS 1.1 server for a count (resultType=hits) only when GetFeature lists
     * "hits" here, and caps its page size by DefaultMaxFeatures (qgswfscapabilities.cpp) */
    buf_puts(&gf, v2 ? "      <ows:Parameter name=\"resultType\"><ows:AllowedValues><ows:Value>"
                       "results</ows:Value><ows:Value>hits</ows:Value></ows:AllowedValues>"
                       "</ows:Parameter>\n"
                     : "      <ows:Parameter name=\"resultType\"><ows:Value>results</ows:Value>"
                       "<ows:Value>hits</ows:Value></ows:Parameter>\n");
    op_v2(b, req, "GetFeature", gf.data);
    buf_fini(&gf);
    /* WFS-T (wfs_tx.c) when a layer is writable; a role that may not write gets a 401/403 */
    int tx = access_any_edit(&req->cfg->catalog);
    if (tx) op_v2(b, req, "Transaction", NULL);
    if (tx) { /* locking (wfs_lock.c) where editing is */
        op_v2(b, req, "LockFeature",
              v2 ? "      <ows:Parameter name=\"lockAction\"><ows:AllowedValues><ows:Value>ALL"
                   "</ows:Value><ows:Value>SOME</ows:Value></ows:AllowedValues>"
                   "</ows:Parameter>\n"
                 : "      <ows:Parameter name=\"lockAction\"><ows:Value>ALL</ows:Value>"
                   "<ows:Value>SOME</ows:Value></ows:Parameter>\n");
        op_v2(b, req, "GetFeatureWithLock",
              v2 ? "      <ows:Parameter name=\"outputFormat\"><ows:AllowedValues>"
                   "<ows:Value>application/gml+xml; version=3.2</ows:Value>"
                   "<ows:Value>text/xml; subtype=gml/3.1.1</ows:Value></ows:AllowedValues>"
                   "</ows:Parameter>\n"
                 : "      <ows:Parameter name=\"outputFormat\"><ows:Value>text/xml; "
                   "subtype=gml/3.1.1</ows:Value></ows:Parameter>\n");
    }
    if (v2) {
        op_v2(b, req, "GetPropertyValue", formats_v2);
        op_v2(b, req, "ListStoredQueries", NULL);
        op_v2(b, req, "DescribeStoredQueries", NULL);
        char n[32];
        snprintf(n, sizeof n, "%d", req->cfg->limits.max_features);
        static const char *const t[] = {"ImplementsBasicWFS", "KVPEncoding", "XMLEncoding",
                                        "ImplementsResultPaging"};
        constraint(b, "ImplementsTransactionalWFS", tx ? "TRUE" : "FALSE");
        constraint(b, "ImplementsLockingWFS", tx ? "TRUE" : "FALSE");
        static const char *const f[] = {"SOAPEncoding",
                                        "ImplementsInheritance",
                                        "ImplementsRemoteResolve",
                                        "ImplementsStandardJoins",
                                        "ImplementsSpatialJoins",
                                        "ImplementsTemporalJoins",
                                        "ImplementsFeatureVersioning",
                                        "ManageStoredQueries"};
        for (size_t i = 0; i < ARRAY_LEN(t); i++)
            constraint(b, t[i], "TRUE");
        for (size_t i = 0; i < ARRAY_LEN(f); i++)
            constraint(b, f[i], "FALSE");
        constraint(b, "CountDefault", n);
        buf_puts(b, "    <ows:Constraint name=\"QueryExpressions\"><ows:AllowedValues>"
                    "<ows:Value>wfs:Query</ows:Value><ows:Value>wfs:StoredQuery</ows:Value>"
                    "</ows:AllowedValues></ows:Constraint>\n");
    } else {
        buf_printf(b,
                   "    <ows:Constraint name=\"DefaultMaxFeatures\"><ows:Value>%d</ows:Value>"
                   "</ows:Constraint>\n",
                   req->cfg->limits.max_features);
    }
    buf_puts(b, "  </ows:OperationsMetadata>\n");
}

int wfs_capabilities(struct request *req, struct response *res, int v2, struct err *err)
{
    (void)err;
    struct buf *b = &res->body;
    resp_set(res, 200, "application/xml; charset=utf-8");
    if (v2)
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:WFS_Capabilities "
                    "version=\"2.0.0\" xmlns=\"http://www.opengis.net/wfs/2.0\" "
                    "xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
                    "xmlns:ows=\"http://www.opengis.net/ows/1.1\" "
                    "xmlns:fes=\"http://www.opengis.net/fes/2.0\" "
                    "xmlns:gml=\"http://www.opengis.net/gml/3.2\" "
                    "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
                    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                    "xmlns:spp=\"" WFS_NS "\" xsi:schemaLocation=\"http://www.opengis.net/wfs/2.0 "
                    "http://schemas.opengis.net/wfs/2.0/wfs.xsd\">\n");
    else
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:WFS_Capabilities "
                    "version=\"1.1.0\" xmlns=\"http://www.opengis.net/wfs\" "
                    "xmlns:wfs=\"http://www.opengis.net/wfs\" "
                    "xmlns:ows=\"http://www.opengis.net/ows\" "
                    "xmlns:ogc=\"http://www.opengis.net/ogc\" "
                    "xmlns:gml=\"http://www.opengis.net/gml\" "
                    "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
                    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                    "xmlns:spp=\"" WFS_NS "\" xsi:schemaLocation=\"http://www.opengis.net/wfs "
                    "http://schemas.opengis.net/wfs/1.1.0/wfs.xsd\">\n");
    service_id(b, v2);
    operations(req, b, v2);
    buf_puts(b, "  <FeatureTypeList>\n");
    if (!v2) buf_puts(b, "    <Operations><Operation>Query</Operation></Operations>\n");
    const struct catalog *cat = &req->cfg->catalog;
    for (int i = 0; i < cat->n_layers; i++)
        if (access_layer(&cat->layers[i], req->role)) feature_type(req, b, &cat->layers[i], v2);
    buf_puts(b, "  </FeatureTypeList>\n");
    if (v2)
        filter_caps_v2(b);
    else
        filter_caps_v11(b);
    buf_puts(b, "</wfs:WFS_Capabilities>\n");
    return 0;
}
