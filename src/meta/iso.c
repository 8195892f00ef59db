/* SPDX-License-Identifier: MIT */
/* iso.c: ISO 19115 metadata of a layer in the ISO 19139 XML encoding (gmd:MD_Metadata), the
 * form GeoNetwork harvests and QGIS MetaSearch reads: identification (titles vi/en, abstract,
 * keywords, organisation, licence, scale), extent in WGS 84 and in the storage CRS, the
 * services that serve the layer (distribution), and data quality (positional accuracy, lineage:
 * each import batch as a process step, each source file as a source). */
#include "meta_int.h"

#include <stdio.h>
#include <string.h>

const struct meta_service meta_services[] = {
    /* bare endpoints: QGIS (MetaSearch's "Add WMS/WFS") appends its own request parameters */
    {"OGC:WMS", "/wms", NULL, "", "application/xml"},
    {"OGC:WFS", "/wfs", NULL, "spp:", "application/xml"},
    {"OGC:API-Features", "/collections/", NULL, NULL, "application/json"},
    {"WWW:LINK", "/collections/", "/items?f=json", NULL, "application/geo+json"},
};
const int meta_n_services = (int)(sizeof meta_services / sizeof meta_services[0]);

/* The service's URL for layer l: per-layer endpoints (name_prefix NULL) carry the id. */
void meta_service_url(struct buf *b, const struct request *req, const struct meta_service *s,
                      const struct layer_def *l)
{
    meta_link(b, req, s->path, s->name_prefix ? NULL : l->id, s->query);
}

static void cs(struct buf *b, const char *tag, const char *text)
{
    buf_printf(b, "<%s><gco:CharacterString>", tag);
    buf_put_xml(b, text ? text : "");
    buf_printf(b, "</gco:CharacterString></%s>", tag);
}

/* cs() of a scratch buffer's text: a failed one fails b. */
static void cs_buf(struct buf *b, const char *tag, const struct buf *text)
{
    if (buf_failed(text))
        buf_fail(b);
    else
        cs(b, tag, buf_str(text));
}

static void code(struct buf *b, const char *tag, const char *list, const char *value)
{
    buf_printf(b,
               "<%s><gmd:%s codeList=\"http://standards.iso.org/iso/19139/resources/"
               "gmxCodelists.xml#%s\" codeListValue=\"%s\">%s</gmd:%s></%s>",
               tag, list, list, value, value, list, tag);
}

static void party(struct buf *b, const char *tag, const struct layer_meta *m, const char *role)
{
    buf_printf(b, "<%s><gmd:CI_ResponsibleParty>", tag);
    cs(b, "gmd:individualName", m->contact_name);
    cs(b, "gmd:organisationName", m->org_vi);
    buf_puts(b, "<gmd:contactInfo><gmd:CI_Contact>");
    if (m->contact_phone) {
        buf_puts(b, "<gmd:phone><gmd:CI_Telephone>");
        cs(b, "gmd:voice", m->contact_phone);
        buf_puts(b, "</gmd:CI_Telephone></gmd:phone>");
    }
    buf_puts(b, "<gmd:address><gmd:CI_Address>");
    if (m->contact_address) cs(b, "gmd:deliveryPoint", m->contact_address);
    cs(b, "gmd:electronicMailAddress", m->contact_email);
    buf_puts(b, "</gmd:CI_Address></gmd:address></gmd:CI_Contact></gmd:contactInfo>");
    code(b, "gmd:role", "CI_RoleCode", role);
    buf_printf(b, "</gmd:CI_ResponsibleParty></%s>", tag);
}

static void keywords(struct buf *b, char **kw, int n, const char *thesaurus)
{
    buf_puts(b, "<gmd:descriptiveKeywords><gmd:MD_Keywords>");
    for (int i = 0; i < n; i++)
        cs(b, "gmd:keyword", kw[i]);
    code(b, "gmd:type", "MD_KeywordTypeCode", "theme");
    buf_puts(b, "<gmd:thesaurusName><gmd:CI_Citation>");
    cs(b, "gmd:title", thesaurus);
    buf_puts(b, "<gmd:date gco:nilReason=\"unknown\"/></gmd:CI_Citation></gmd:thesaurusName>");
    buf_puts(b, "</gmd:MD_Keywords></gmd:descriptiveKeywords>");
}

static void date_elem(struct buf *b, const char *date, const char *type)
{
    buf_puts(b, "<gmd:date><gmd:CI_Date><gmd:date><gco:Date>");
    buf_put_xml(b, date);
    buf_puts(b, "</gco:Date></gmd:date>");
    code(b, "gmd:dateType", "CI_DateTypeCode", type);
    buf_puts(b, "</gmd:CI_Date></gmd:date>");
}

static void extent(struct buf *b, const struct request *req, const struct meta_record *r)
{
    if (!r->has_extent) return;
    buf_puts(b, "<gmd:extent><gmd:EX_Extent><gmd:geographicElement><gmd:EX_GeographicBoundingBox>");
    const struct bbox *w = &r->wgs84;
    buf_puts(b, "<gmd:westBoundLongitude><gco:Decimal>");
    buf_put_double(b, w->minx, 7);
    buf_puts(b, "</gco:Decimal></gmd:westBoundLongitude><gmd:eastBoundLongitude><gco:Decimal>");
    buf_put_double(b, w->maxx, 7);
    buf_puts(b, "</gco:Decimal></gmd:eastBoundLongitude><gmd:southBoundLatitude><gco:Decimal>");
    buf_put_double(b, w->miny, 7);
    buf_puts(b, "</gco:Decimal></gmd:southBoundLatitude><gmd:northBoundLatitude><gco:Decimal>");
    buf_put_double(b, w->maxy, 7);
    buf_puts(b, "</gco:Decimal></gmd:northBoundLatitude></gmd:EX_GeographicBoundingBox>"
                "</gmd:geographicElement>");
    /* The storage extent, in the storage CRS's own axis order (EPSG:5897: northing first). */
    const struct bbox *e = &r->extent;
    int swap = geo_crs_latlon(req->geo, r->srid);
    double x0 = swap ? e->miny : e->minx, y0 = swap ? e->minx : e->miny;
    double x1 = swap ? e->maxy : e->maxx, y1 = swap ? e->maxx : e->maxy;
    buf_printf(b,
               "<gmd:geographicElement><gmd:EX_BoundingPolygon><gmd:polygon><gml:Polygon "
               "gml:id=\"storage-extent\" srsName=\"http://www.opengis.net/def/crs/EPSG/0/%d\">"
               "<gml:exterior><gml:LinearRing><gml:posList>",
               r->srid);
    double ring[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
    for (int i = 0; i < 10; i++) {
        if (i) buf_putc(b, ' ');
        buf_put_double(b, ring[i], 3);
    }
    buf_puts(b, "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gmd:polygon>"
                "</gmd:EX_BoundingPolygon></gmd:geographicElement></gmd:EX_Extent></gmd:extent>");
}

static void distribution(struct buf *b, const struct request *req, const struct meta_record *r)
{
    const struct layer_def *l = r->layer;
    buf_puts(b, "<gmd:distributionInfo><gmd:MD_Distribution><gmd:distributionFormat>"
                "<gmd:MD_Format>");
    cs(b, "gmd:name", "GeoJSON, GML, MVT, PNG");
    buf_puts(b, "<gmd:version gco:nilReason=\"inapplicable\"/></gmd:MD_Format>"
                "</gmd:distributionFormat><gmd:transferOptions><gmd:MD_DigitalTransferOptions>");
    for (int i = 0; i < meta_n_services; i++) {
        const struct meta_service *s = &meta_services[i];
        buf_puts(b, "<gmd:onLine><gmd:CI_OnlineResource><gmd:linkage><gmd:URL>");
        struct buf url;
        buf_init(&url);
        meta_service_url(&url, req, s, l);
        buf_put_xml(b, buf_str(&url));
        buf_fini(&url);
        buf_puts(b, "</gmd:URL></gmd:linkage>");
        cs(b, "gmd:protocol", s->protocol);
        char name[160];
        snprintf(name, sizeof name, "%s%s", s->name_prefix ? s->name_prefix : "", l->id);
        cs(b, "gmd:name", name);
        cs(b, "gmd:description", l->title_en);
        buf_puts(b, "</gmd:CI_OnlineResource></gmd:onLine>");
    }
    buf_puts(b, "</gmd:MD_DigitalTransferOptions></gmd:transferOptions></gmd:MD_Distribution>"
                "</gmd:distributionInfo>");
}

static void quality(struct buf *b, const struct meta_record *r)
{
    const struct layer_meta *m = &r->layer->meta;
    buf_puts(b, "<gmd:dataQualityInfo><gmd:DQ_DataQuality><gmd:scope><gmd:DQ_Scope>");
    code(b, "gmd:level", "MD_ScopeCode", "dataset");
    buf_puts(b, "</gmd:DQ_Scope></gmd:scope><gmd:report><gmd:DQ_AbsoluteExternalPositionalAccuracy>"
                "<gmd:result><gmd:DQ_QuantitativeResult><gmd:valueUnit xlink:href="
                "\"http://www.opengis.net/def/uom/EPSG/0/9001\"/><gmd:value><gco:Record>");
    buf_put_double(b, m->accuracy_m, 3);
    buf_puts(b, "</gco:Record></gmd:value></gmd:DQ_QuantitativeResult></gmd:result>"
                "</gmd:DQ_AbsoluteExternalPositionalAccuracy></gmd:report>"
                "<gmd:lineage><gmd:LI_Lineage>");
    struct buf st;
    buf_init(&st);
    buf_printf(&st,
               "Chuẩn hoá bằng spp import từ tệp nguồn của cơ quan quản lý; tọa độ VN-2000, "
               "chuyển sang WGS 84 theo tham số chính thức (EPSG:6960). Normalised by spp import "
               "from the managing agency's source files. %lld features",
               (long long)r->n_features);
    if (r->lineage.last_batch[0])
        buf_printf(&st, "; last import batch %s (%s)", r->lineage.last_batch, r->lineage.last_date);
    buf_putc(&st, '.');
    cs_buf(b, "gmd:statement", &st);
    buf_fini(&st);
    for (int i = 0; i < r->lineage.n_batches; i++) {
        const struct store_batch *bt = &r->lineage.batches[i];
        buf_puts(b, "<gmd:processStep><gmd:LI_ProcessStep>");
        char d[200];
        snprintf(d, sizeof d, "spp import batch %s: %lld features", bt->batch,
                 (long long)bt->n_features);
        cs(b, "gmd:description", d);
        if (bt->at[0]) {
            buf_puts(b, "<gmd:dateTime><gco:DateTime>");
            buf_put_xml(b, bt->at);
            buf_puts(b, "</gco:DateTime></gmd:dateTime>");
        }
        buf_puts(b, "</gmd:LI_ProcessStep></gmd:processStep>");
    }
    for (int i = 0; i < r->lineage.n_sources; i++) {
        const struct store_source *s = &r->lineage.sources[i];
        buf_puts(b, "<gmd:source><gmd:LI_Source>");
        char d[400];
        snprintf(d, sizeof d, "%s (batch %s)", s->path, s->batch);
        cs(b, "gmd:description", d);
        buf_puts(b, "</gmd:LI_Source></gmd:source>");
    }
    buf_puts(b, "</gmd:LI_Lineage></gmd:lineage></gmd:DQ_DataQuality></gmd:dataQualityInfo>");
}

int meta_iso_write(struct buf *b, const struct request *req, const struct meta_record *r)
{
    const struct layer_def *l = r->layer;
    const struct layer_meta *m = &l->meta;
    char date[11];
    meta_date(r, date);
    buf_puts(b, "<gmd:MD_Metadata xmlns:gmd=\"http://www.isotc211.org/2005/gmd\" "
                "xmlns:gco=\"http://www.isotc211.org/2005/gco\" "
                "xmlns:gml=\"http://www.opengis.net/gml/3.2\" "
                "xmlns:xlink=\"http://www.w3.org/1999/xlink\">");
    cs(b, "gmd:fileIdentifier", l->id);
    buf_puts(b, "<gmd:language><gmd:LanguageCode codeList=\"http://www.loc.gov/standards/"
                "iso639-2/\" codeListValue=\"");
    buf_put_xml(b, m->language);
    buf_puts(b, "\">");
    buf_put_xml(b, m->language);
    buf_puts(b, "</gmd:LanguageCode></gmd:language>");
    code(b, "gmd:characterSet", "MD_CharacterSetCode", "utf8");
    code(b, "gmd:hierarchyLevel", "MD_ScopeCode", "dataset");
    party(b, "gmd:contact", m, "pointOfContact");
    buf_puts(b, "<gmd:dateStamp><gco:Date>");
    buf_puts(b, date[0] ? date : "1970-01-01");
    buf_puts(b, "</gco:Date></gmd:dateStamp>");
    cs(b, "gmd:metadataStandardName", "ISO 19115:2003/19139");
    cs(b, "gmd:metadataStandardVersion", "1.0");
    buf_printf(b,
               "<gmd:referenceSystemInfo><gmd:MD_ReferenceSystem><gmd:referenceSystemIdentifier>"
               "<gmd:RS_Identifier><gmd:code><gco:CharacterString>EPSG:%d</gco:CharacterString>"
               "</gmd:code><gmd:codeSpace><gco:CharacterString>EPSG</gco:CharacterString>"
               "</gmd:codeSpace></gmd:RS_Identifier></gmd:referenceSystemIdentifier>"
               "</gmd:MD_ReferenceSystem></gmd:referenceSystemInfo>",
               r->srid);
    buf_puts(b, "<gmd:identificationInfo><gmd:MD_DataIdentification><gmd:citation>"
                "<gmd:CI_Citation>");
    cs(b, "gmd:title", l->title_vi);
    cs(b, "gmd:alternateTitle", l->title_en);
    if (date[0])
        date_elem(b, date, "revision");
    else
        buf_puts(b, "<gmd:date gco:nilReason=\"unknown\"/>");
    buf_puts(b, "<gmd:identifier><gmd:MD_Identifier>");
    cs(b, "gmd:code", l->id);
    buf_puts(b, "</gmd:MD_Identifier></gmd:identifier></gmd:CI_Citation></gmd:citation>");
    struct buf abs;
    buf_init(&abs);
    buf_printf(&abs, "%s\n\n%s", l->desc_vi ? l->desc_vi : l->title_vi,
               l->desc_en ? l->desc_en : l->title_en);
    cs_buf(b, "gmd:abstract", &abs);
    buf_fini(&abs);
    party(b, "gmd:pointOfContact", m, "custodian");
    buf_puts(b, "<gmd:resourceMaintenance><gmd:MD_MaintenanceInformation>");
    code(b, "gmd:maintenanceAndUpdateFrequency", "MD_MaintenanceFrequencyCode",
         m->update_frequency);
    buf_puts(b, "</gmd:MD_MaintenanceInformation></gmd:resourceMaintenance>");
    keywords(b, m->keywords_vi, m->n_keywords_vi, "spp keywords (vi)");
    keywords(b, m->keywords_en, m->n_keywords_en, "spp keywords (en)");
    buf_puts(b, "<gmd:resourceConstraints><gmd:MD_LegalConstraints>");
    code(b, "gmd:useConstraints", "MD_RestrictionCode", "license");
    struct buf lic;
    buf_init(&lic);
    buf_puts(&lic, m->licence_name);
    if (m->licence_url) buf_printf(&lic, " (%s)", m->licence_url);
    cs_buf(b, "gmd:otherConstraints", &lic);
    buf_fini(&lic);
    buf_puts(b, "</gmd:MD_LegalConstraints></gmd:resourceConstraints>");
    code(b, "gmd:spatialRepresentationType", "MD_SpatialRepresentationTypeCode", "vector");
    buf_printf(b,
               "<gmd:spatialResolution><gmd:MD_Resolution><gmd:equivalentScale>"
               "<gmd:MD_RepresentativeFraction><gmd:denominator><gco:Integer>%d</gco:Integer>"
               "</gmd:denominator></gmd:MD_RepresentativeFraction></gmd:equivalentScale>"
               "</gmd:MD_Resolution></gmd:spatialResolution>",
               m->scale_denominator);
    buf_puts(b, "<gmd:language><gmd:LanguageCode codeList=\"http://www.loc.gov/standards/"
                "iso639-2/\" codeListValue=\"vie\">vie</gmd:LanguageCode></gmd:language>");
    buf_puts(b, "<gmd:topicCategory><gmd:MD_TopicCategoryCode>planningCadastre"
                "</gmd:MD_TopicCategoryCode></gmd:topicCategory>");
    extent(b, req, r);
    char count[64];
    snprintf(count, sizeof count, "%lld features", (long long)r->n_features);
    cs(b, "gmd:supplementalInformation", count);
    buf_puts(b, "</gmd:MD_DataIdentification></gmd:identificationInfo>");
    distribution(b, req, r);
    quality(b, r);
    return buf_puts(b, "</gmd:MD_Metadata>") ? ERR_NOMEM : 0;
}
