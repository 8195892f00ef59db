/* SPDX-License-Identifier: MIT */
/* json.c: a layer's metadata record as JSON at /collections/{id}/metadata (a GeoJSON Feature in
 * the style of OGC API Records: the extent as geometry, the record in properties, links to the
 * services) or as ISO 19139 XML with f=xml; and the DCAT 2 catalog in JSON-LD at
 * /catalog.jsonld for open-data portals (CKAN, data.gov.vn-style harvesters). */
#include "meta_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void jstr(struct buf *b, const char *key, const char *v, int *first)
{
    if (!v) return;
    if (!*first) buf_putc(b, ',');
    *first = 0;
    buf_put_json_str(b, key);
    buf_putc(b, ':');
    buf_put_json_str(b, v);
}

static void jarr(struct buf *b, char **v, int n)
{
    buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        buf_put_json_str(b, v[i]);
    }
    buf_putc(b, ']');
}

static void jbox(struct buf *b, const struct bbox *x, int dec)
{
    buf_putc(b, '[');
    buf_put_double(b, x->minx, dec), buf_putc(b, ',');
    buf_put_double(b, x->miny, dec), buf_putc(b, ',');
    buf_put_double(b, x->maxx, dec), buf_putc(b, ',');
    buf_put_double(b, x->maxy, dec);
    buf_putc(b, ']');
}

static void url_str(struct buf *b, const struct request *req, const char *path, const char *id,
                    const char *query)
{
    struct buf u;
    buf_init(&u);
    meta_link(&u, req, path, id, query);
    buf_put_json_str(b, buf_str(&u));
    buf_fini(&u);
}

static void link_obj(struct buf *b, const struct request *req, const char *path, const char *id,
                     const char *query, const char *rel, const char *type, const char *title)
{
    buf_puts(b, "{\"href\":");
    url_str(b, req, path, id, query);
    buf_printf(b, ",\"rel\":\"%s\",\"type\":\"%s\",\"title\":", rel, type);
    buf_put_json_str(b, title);
    buf_putc(b, '}');
}

static void record_json(struct buf *b, const struct request *req, const struct meta_record *r)
{
    const struct layer_def *l = r->layer;
    const struct layer_meta *m = &l->meta;
    buf_puts(b, "{\"type\":\"Feature\",\"id\":");
    buf_put_json_str(b, l->id);
    buf_puts(b, ",\"conformsTo\":[\"http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/"
                "record-core\"],\"geometry\":");
    if (r->has_extent) {
        const struct bbox *w = &r->wgs84;
        double ring[10] = {w->minx, w->miny, w->maxx, w->miny, w->maxx,
                           w->maxy, w->minx, w->maxy, w->minx, w->miny};
        buf_puts(b, "{\"type\":\"Polygon\",\"coordinates\":[[");
        for (int i = 0; i < 5; i++) {
            if (i) buf_putc(b, ',');
            buf_putc(b, '['), buf_put_double(b, ring[2 * i], 7), buf_putc(b, ',');
            buf_put_double(b, ring[2 * i + 1], 7), buf_putc(b, ']');
        }
        buf_puts(b, "]]}");
    } else {
        buf_puts(b, "null");
    }
    buf_puts(b, ",\"properties\":{");
    int first = 1;
    jstr(b, "type", "dataset", &first);
    jstr(b, "title", l->title_vi, &first);
    buf_puts(b, ",\"titles\":{\"vi\":");
    buf_put_json_str(b, l->title_vi);
    buf_puts(b, ",\"en\":");
    buf_put_json_str(b, l->title_en);
    buf_puts(b, "}");
    jstr(b, "description", l->desc_vi, &first);
    buf_puts(b, ",\"descriptions\":{\"vi\":");
    buf_put_json_str(b, l->desc_vi ? l->desc_vi : "");
    buf_puts(b, ",\"en\":");
    buf_put_json_str(b, l->desc_en ? l->desc_en : "");
    buf_puts(b, "},\"keywords\":");
    jarr(b, m->keywords_vi, m->n_keywords_vi);
    buf_puts(b, ",\"keywords_vi\":");
    jarr(b, m->keywords_vi, m->n_keywords_vi);
    buf_puts(b, ",\"keywords_en\":");
    jarr(b, m->keywords_en, m->n_keywords_en);
    jstr(b, "language", m->language, &first);
    jstr(b, "license", m->licence_name, &first);
    jstr(b, "license_url", m->licence_url, &first);
    char date[11];
    meta_date(r, date);
    if (date[0]) jstr(b, "updated", r->lineage.last_date, &first);
    buf_puts(b, ",\"contacts\":[{\"organization\":");
    buf_put_json_str(b, m->org_vi);
    buf_puts(b, ",\"organization_en\":");
    buf_put_json_str(b, m->org_en);
    buf_puts(b, ",\"name\":");
    buf_put_json_str(b, m->contact_name);
    buf_puts(b, ",\"emails\":[{\"value\":");
    buf_put_json_str(b, m->contact_email);
    buf_puts(b, "}]");
    if (m->contact_phone) {
        buf_puts(b, ",\"phones\":[{\"value\":");
        buf_put_json_str(b, m->contact_phone);
        buf_puts(b, "}]");
    }
    buf_puts(b, ",\"roles\":[\"custodian\",\"pointOfContact\"]}]");
    buf_printf(b, ",\"scale_denominator\":%d,\"positional_accuracy_m\":", m->scale_denominator);
    buf_put_double(b, m->accuracy_m, 3);
    jstr(b, "update_frequency", m->update_frequency, &first);
    buf_printf(b, ",\"feature_count\":%lld,\"geometry_type\":\"%s\"", (long long)r->n_features,
               geom_type_name(l->geom));
    if (r->has_extent) {
        buf_puts(b, ",\"extent\":{\"spatial\":{\"bbox\":[");
        jbox(b, &r->wgs84, 7);
        buf_printf(b, "],\"crs\":\"http://www.opengis.net/def/crs/OGC/1.3/CRS84\"},"
                      "\"storage\":{\"bbox\":[");
        jbox(b, &r->extent, 3);
        buf_printf(b, "],\"crs\":\"http://www.opengis.net/def/crs/EPSG/0/%d\"}}", r->srid);
    }
    buf_puts(b, ",\"last_import\":");
    if (r->lineage.last_batch[0]) {
        buf_puts(b, "{\"batch\":");
        buf_put_json_str(b, r->lineage.last_batch);
        buf_puts(b, ",\"date\":");
        buf_put_json_str(b, r->lineage.last_date);
        buf_putc(b, '}');
    } else {
        buf_puts(b, "null");
    }
    buf_puts(b, ",\"lineage\":{\"batches\":[");
    for (int i = 0; i < r->lineage.n_batches; i++) {
        const struct store_batch *bt = &r->lineage.batches[i];
        if (i) buf_putc(b, ',');
        buf_puts(b, "{\"batch\":");
        buf_put_json_str(b, bt->batch);
        buf_puts(b, ",\"at\":");
        buf_put_json_str(b, bt->at);
        buf_printf(b, ",\"n_features\":%lld}", (long long)bt->n_features);
    }
    buf_puts(b, "],\"sources\":[");
    for (int i = 0; i < r->lineage.n_sources; i++) {
        const struct store_source *s = &r->lineage.sources[i];
        if (i) buf_putc(b, ',');
        buf_puts(b, "{\"batch\":");
        buf_put_json_str(b, s->batch);
        buf_puts(b, ",\"path\":");
        buf_put_json_str(b, s->path);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}},\"links\":[");
    link_obj(b, req, "/collections/", l->id, "/metadata", "self", "application/geo+json",
             "this record");
    buf_putc(b, ',');
    link_obj(b, req, "/collections/", l->id, "/metadata?f=xml", "alternate", "application/xml",
             "ISO 19139");
    buf_putc(b, ',');
    link_obj(b, req, "/collections/", l->id, NULL, "collection", "application/json", l->title_en);
    for (int i = 0; i < meta_n_services; i++) {
        const struct meta_service *s = &meta_services[i];
        buf_puts(b, ",{\"href\":");
        struct buf u;
        buf_init(&u);
        meta_service_url(&u, req, s, l);
        buf_put_json_str(b, buf_str(&u));
        buf_fini(&u);
        buf_printf(b, ",\"rel\":\"item\",\"type\":\"%s\",\"protocol\":\"%s\",\"name\":\"%s%s\"}",
                   s->mime, s->protocol, s->name_prefix ? s->name_prefix : "", l->id);
    }
    buf_puts(b, "]}");
}

int meta_collection_metadata(struct request *req, struct response *res, struct err *err)
{
    const char *id = req_param(req, "layer");
    const struct layer_def *l = catalog_layer(&req->cfg->catalog, id ? id : "");
    if (!l || !meta_visible(req, l))
        return err_set(err, ERR_NOT_FOUND, "no collection \"%s\"", id ? id : "");
    const char *f = req_arg(req, "f");
    int xml = f && (!strcmp(f, "xml") || !strcmp(f, "iso"));
    if (f && !xml && strcmp(f, "json"))
        return err_setl(err, ERR_PARAM, "f", "f=%s: json or xml", f);
    struct meta_record *r = malloc(sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = meta_record_load(req, l, r, err);
    if (!rc && xml) {
        resp_set(res, 200, "application/xml; charset=utf-8");
        buf_puts(&res->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        rc = meta_iso_write(&res->body, req, r);
        buf_putc(&res->body, '\n');
    } else if (!rc) {
        resp_set(res, 200, "application/geo+json");
        record_json(&res->body, req, r);
        buf_putc(&res->body, '\n');
    }
    free(r);
    return rc;
}

static void dataset_jsonld(struct buf *b, const struct request *req, const struct meta_record *r)
{
    const struct layer_def *l = r->layer;
    const struct layer_meta *m = &l->meta;
    buf_puts(b, "{\"@id\":");
    url_str(b, req, "/collections/", l->id, "/metadata");
    buf_puts(b, ",\"@type\":\"dcat:Dataset\",\"dct:identifier\":");
    buf_put_json_str(b, l->id);
    buf_puts(b, ",\"dct:title\":[{\"@value\":");
    buf_put_json_str(b, l->title_vi);
    buf_puts(b, ",\"@language\":\"vi\"},{\"@value\":");
    buf_put_json_str(b, l->title_en);
    buf_puts(b, ",\"@language\":\"en\"}],\"dct:description\":[{\"@value\":");
    buf_put_json_str(b, l->desc_vi ? l->desc_vi : l->title_vi);
    buf_puts(b, ",\"@language\":\"vi\"},{\"@value\":");
    buf_put_json_str(b, l->desc_en ? l->desc_en : l->title_en);
    buf_puts(b, ",\"@language\":\"en\"}],\"dcat:keyword\":[");
    for (int i = 0; i < m->n_keywords_vi + m->n_keywords_en; i++) {
        int vi = i < m->n_keywords_vi;
        if (i) buf_putc(b, ',');
        buf_puts(b, "{\"@value\":");
        buf_put_json_str(b, vi ? m->keywords_vi[i] : m->keywords_en[i - m->n_keywords_vi]);
        buf_printf(b, ",\"@language\":\"%s\"}", vi ? "vi" : "en");
    }
    buf_puts(b, "],\"dct:publisher\":{\"@type\":\"foaf:Organization\",\"foaf:name\":");
    buf_put_json_str(b, m->org_vi);
    buf_puts(b, "},\"dcat:contactPoint\":{\"@type\":\"vcard:Organization\",\"vcard:fn\":");
    buf_put_json_str(b, m->contact_name);
    buf_puts(b, ",\"vcard:hasEmail\":");
    char mail[200];
    snprintf(mail, sizeof mail, "mailto:%s", m->contact_email);
    buf_put_json_str(b, mail);
    buf_puts(b, "},\"dct:license\":");
    buf_put_json_str(b, m->licence_url ? m->licence_url : m->licence_name);
    buf_puts(b, ",\"dct:rights\":");
    buf_put_json_str(b, m->licence_name);
    if (r->lineage.last_date[0]) {
        buf_puts(b, ",\"dct:modified\":{\"@value\":");
        buf_put_json_str(b, r->lineage.last_date);
        buf_puts(b, ",\"@type\":\"xsd:dateTime\"}");
    }
    if (r->has_extent) {
        const struct bbox *w = &r->wgs84;
        buf_puts(b, ",\"dct:spatial\":{\"@type\":\"dct:Location\",\"dcat:bbox\":{\"@value\":"
                    "\"POLYGON((");
        double ring[10] = {w->minx, w->miny, w->maxx, w->miny, w->maxx,
                           w->maxy, w->minx, w->maxy, w->minx, w->miny};
        for (int i = 0; i < 5; i++) {
            if (i) buf_putc(b, ',');
            buf_put_double(b, ring[2 * i], 7), buf_putc(b, ' ');
            buf_put_double(b, ring[2 * i + 1], 7);
        }
        buf_puts(b, "))\",\"@type\":\"gsp:wktLiteral\"}}");
    }
    buf_puts(b, ",\"dcat:distribution\":[");
    for (int i = 0; i < meta_n_services; i++) {
        const struct meta_service *s = &meta_services[i];
        if (i) buf_putc(b, ',');
        buf_puts(b, "{\"@type\":\"dcat:Distribution\",\"dcat:accessURL\":");
        struct buf u;
        buf_init(&u);
        meta_service_url(&u, req, s, l);
        buf_put_json_str(b, buf_str(&u));
        buf_fini(&u);
        buf_printf(b, ",\"dcat:mediaType\":\"%s\",\"dct:conformsTo\":\"%s\",\"dct:title\":\"%s%s\"",
                   s->mime, s->protocol, s->name_prefix ? s->name_prefix : "", l->id);
        buf_puts(b, ",\"dct:license\":");
        buf_put_json_str(b, m->licence_url ? m->licence_url : m->licence_name);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
}

int meta_dcat(struct request *req, struct response *res, struct err *err)
{
    const struct catalog *cat = &req->cfg->catalog;
    struct meta_record *r = malloc(sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    struct buf *b = &res->body;
    resp_set(res, 200, "application/ld+json");
    buf_puts(b, "{\"@context\":{\"dcat\":\"http://www.w3.org/ns/dcat#\",\"dct\":"
                "\"http://purl.org/dc/terms/\",\"foaf\":\"http://xmlns.com/foaf/0.1/\","
                "\"vcard\":\"http://www.w3.org/2006/vcard/ns#\",\"xsd\":"
                "\"http://www.w3.org/2001/XMLSchema#\",\"gsp\":"
                "\"http://www.opengis.net/ont/geosparql#\"},\"@id\":");
    url_str(b, req, "/catalog.jsonld", NULL, NULL);
    buf_puts(b, ",\"@type\":\"dcat:Catalog\",\"dct:title\":\"spp — dữ liệu quy hoạch, đất đai / "
                "planning and land data\",\"dcat:service\":{\"@type\":\"dcat:DataService\","
                "\"dcat:endpointURL\":");
    url_str(b, req, "/csw", NULL, NULL);
    buf_puts(b, ",\"dct:conformsTo\":\"http://www.opengis.net/cat/csw/2.0.2\"},\"dcat:dataset\":[");
    int rc = 0, n = 0;
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        const struct layer_def *l = &cat->layers[i];
        if (!meta_visible(req, l)) continue;
        if ((rc = meta_record_load(req, l, r, err))) break;
        if (n++) buf_putc(b, ',');
        dataset_jsonld(b, req, r);
    }
    free(r);
    if (rc) return rc;
    return buf_puts(b, "]}\n") ? ERR_NOMEM : 0;
}
