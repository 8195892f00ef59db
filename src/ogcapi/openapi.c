/* SPDX-License-Identifier: MIT */
/* openapi.c: /collections/{id}/queryables (a JSON Schema of the properties the caller's role may
 * filter on, from the catalog, with code lists as enums) and /api, the OpenAPI 3.0 document of
 * the OGC API Features endpoints (Parts 1, 2 and 3), built from the catalog so that every
 * collection id and parameter the server accepts is described. */
#include "ogcapi_int.h"

#include <stdio.h>
#include <string.h>

static const char *json_type(enum field_type t)
{
    switch (t) {
    case FT_INTEGER:
        return "integer";
    case FT_REAL:
        return "number";
    case FT_BOOLEAN:
        return "boolean";
    default:
        return "string";
    }
}

static const char *geom_format(enum geom_type t)
{
    switch (t) {
    case GT_POINT:
        return "geometry-point";
    case GT_LINESTRING:
        return "geometry-linestring";
    case GT_POLYGON:
        return "geometry-polygon";
    case GT_MULTIPOINT:
        return "geometry-multipoint";
    case GT_MULTILINESTRING:
        return "geometry-multilinestring";
    default:
        return "geometry-multipolygon";
    }
}

int ogcapi_queryables(struct request *req, struct response *res, struct err *err)
{
    const struct layer_def *l;
    int rc = ogcapi_layer_for(req, &l, err);
    if (rc) return rc;
    struct buf *b = &res->body;
    int en;
    if ((rc = ogcapi_lang(req, res, &en, err))) return rc;
    resp_set(res, 200, "application/schema+json");
    buf_puts(b, "{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\",\"$id\":");
    char href[300];
    snprintf(href, sizeof href, "%s/collections/%s/queryables", req->base_url, l->id);
    buf_put_json_str(b, href);
    buf_puts(b, ",\"type\":\"object\",\"title\":");
    buf_put_json_str(b, ogcapi_text(en, l->title_vi, l->title_en));
    buf_puts(b, ",\"properties\":{\"geom\":{\"title\":\"Geometry\",\"format\":");
    buf_printf(b, "\"%s\",\"x-ogc-role\":\"primary-geometry\"}", geom_format(l->geom));
    int fields[256], n_fields = encode_fields(l, req->role, fields, 256);
    for (int i = 0; i < n_fields; i++) {
        const struct field_def *fd = &l->fields[fields[i]];
        buf_printf(b, ",\"%s\":{\"title\":", fd->name);
        buf_put_json_str(b, fd->label_vi || fd->label_en
                                ? ogcapi_text(en, fd->label_vi, fd->label_en)
                                : fd->name);
        const char *desc = en ? fd->desc_en : fd->desc_vi;
        if (!desc) desc = en ? fd->label_vi : fd->label_en; /* the other language's label */
        if (desc) {
            buf_puts(b, ",\"description\":");
            buf_put_json_str(b, desc);
        }
        buf_printf(b, ",\"type\":\"%s\"", json_type(fd->type));
        if (fd->type == FT_DATE) buf_puts(b, ",\"format\":\"date\"");
        if (fd->codelist && !fd->multi) {
            buf_puts(b, ",\"enum\":[");
            for (int k = 0; k < fd->codelist->n_codes; k++) {
                if (k) buf_putc(b, ',');
                buf_put_json_str(b, fd->codelist->codes[k].code);
            }
            buf_putc(b, ']');
        }
        buf_putc(b, '}');
    }
    buf_puts(b, "},\"additionalProperties\":false}\n");
    return 0;
}

/* ---- OpenAPI ---- */

static void param_ref(struct buf *b, const char *const *names, size_t n)
{
    buf_puts(b, "\"parameters\":[");
    for (size_t i = 0; i < n; i++)
        buf_printf(b, "%s{\"$ref\":\"#/components/parameters/%s\"}", i ? "," : "", names[i]);
    buf_puts(b, "]");
}

static void response(struct buf *b, const char *desc, const char *type, const char *schema)
{
    buf_printf(b,
               "\"responses\":{\"200\":{\"description\":\"%s\",\"content\":{\"%s\":{\"schema\":"
               "%s}}},\"400\":{\"description\":\"Bad request\",\"content\":{"
               "\"application/problem+json\":{\"schema\":{\"type\":\"object\"}}}},"
               "\"404\":{\"description\":\"Not found\"}}",
               desc, type, schema);
}

static void path_get(struct buf *b, const char *path, const char *id, const char *summary,
                     const char *const *params, size_t n, const char *desc, const char *type)
{
    buf_printf(b, ",\"%s\":{\"get\":{\"operationId\":\"%s\",\"summary\":\"%s\",", path, id,
               summary);
    param_ref(b, params, n);
    buf_putc(b, ',');
    response(b, desc, type, "{\"type\":\"object\"}");
    buf_puts(b, "}}");
}

static void parameters(struct request *req, struct buf *b)
{
    const struct catalog *cat = &req->cfg->catalog;
    buf_puts(b, "\"parameters\":{\"collectionId\":{\"name\":\"collectionId\",\"in\":\"path\","
                "\"required\":true,\"schema\":{\"type\":\"string\",\"enum\":[");
    int n = 0;
    for (int i = 0; i < cat->n_layers; i++)
        if (access_layer(&cat->layers[i], req->role))
            buf_printf(b, "%s\"%s\"", n++ ? "," : "", cat->layers[i].id);
    buf_printf(b,
               "]}},\"featureId\":{\"name\":\"featureId\",\"in\":\"path\",\"required\":true,"
               "\"schema\":{\"type\":\"integer\"}},"
               "\"limit\":{\"name\":\"limit\",\"in\":\"query\",\"schema\":{\"type\":\"integer\","
               "\"minimum\":1,\"maximum\":%d,\"default\":%d},\"style\":\"form\",\"explode\":false},"
               "\"offset\":{\"name\":\"offset\",\"in\":\"query\",\"schema\":{\"type\":\"integer\","
               "\"minimum\":0,\"default\":0}},"
               "\"bbox\":{\"name\":\"bbox\",\"in\":\"query\",\"schema\":{\"type\":\"array\","
               "\"minItems\":4,\"maxItems\":6,\"items\":{\"type\":\"number\"}},\"style\":\"form\","
               "\"explode\":false},",
               req->cfg->limits.max_features, req->cfg->limits.default_features);
    static const char *const strs[] = {"bbox-crs",   "crs",        "datetime", "filter",
                                       "filter-crs", "properties", "sortby"};
    for (size_t i = 0; i < ARRAY_LEN(strs); i++)
        buf_printf(b, "\"%s\":{\"name\":\"%s\",\"in\":\"query\",\"schema\":{\"type\":\"string\"}},",
                   strs[i], strs[i]);
    buf_puts(b, "\"filter-lang\":{\"name\":\"filter-lang\",\"in\":\"query\",\"schema\":{\"type\":"
                "\"string\",\"enum\":[\"cql2-text\",\"cql2-json\"],\"default\":\"cql2-text\"}},"
                "\"f\":{\"name\":\"f\",\"in\":\"query\",\"schema\":{\"type\":\"string\",\"enum\":"
                "[\"json\",\"html\"]}},"
                "\"lang\":{\"name\":\"lang\",\"in\":\"query\",\"description\":\"language of "
                "titles and descriptions (else Accept-Language, else vi)\",\"schema\":{\"type\":"
                "\"string\",\"enum\":[\"vi\",\"en\"]}}}");
}

int ogcapi_openapi(struct request *req, struct response *res, struct err *err)
{
    (void)err;
    struct buf *b = &res->body;
    resp_set(res, 200, "application/vnd.oai.openapi+json;version=3.0");
    buf_puts(b, "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"spp — spatial planning layer "
                "server (Can Tho)\",\"version\":\"1.0.0\",\"description\":\"OGC API Features "
                "Parts 1, 2 and 3 over the 24 planning layers\",\"license\":{\"name\":\"MIT\"}},"
                "\"servers\":[{\"url\":");
    buf_put_json_str(b, req->base_url[0] ? req->base_url : "/");
    buf_puts(b, "}],\"paths\":{\"/\":{\"get\":{\"operationId\":\"landing\",\"summary\":"
                "\"Landing page\",\"parameters\":[{\"$ref\":\"#/components/parameters/f\"},"
                "{\"$ref\":\"#/components/parameters/lang\"}],");
    response(b, "Landing page", "application/json", "{\"type\":\"object\"}");
    buf_puts(b, "}}");
    static const char *const f[] = {"f"};
    static const char *const fl[] = {"f", "lang"};
    static const char *const coll[] = {"collectionId", "f", "lang"};
    static const char *const items[] = {
        "collectionId", "limit",       "offset",     "bbox",       "bbox-crs", "crs", "datetime",
        "filter",       "filter-lang", "filter-crs", "properties", "sortby",   "f",   "lang"};
    static const char *const item[] = {"collectionId", "featureId", "crs", "f", "lang"};
    path_get(b, "/conformance", "conformance", "Conformance classes", f, 1, "Conformance",
             "application/json");
    path_get(b, "/api", "api", "This document", f, 1, "OpenAPI document",
             "application/vnd.oai.openapi+json;version=3.0");
    path_get(b, "/collections", "collections", "Feature collections", fl, 2, "Collections",
             "application/json");
    path_get(b, "/collections/{collectionId}", "collection", "One feature collection", coll, 3,
             "Collection", "application/json");
    path_get(b, "/collections/{collectionId}/items", "items", "Features of a collection", items,
             ARRAY_LEN(items), "Features", "application/geo+json");
    path_get(b, "/collections/{collectionId}/items/{featureId}", "item", "One feature", item,
             ARRAY_LEN(item), "Feature", "application/geo+json");
    path_get(b, "/collections/{collectionId}/queryables", "queryables",
             "Properties usable in filters", (const char *const[]){"collectionId", "lang"}, 2,
             "Queryables", "application/schema+json");
    buf_puts(b, "},\"components\":{");
    parameters(req, b);
    buf_puts(b, "}}\n");
    return 0;
}
