/* SPDX-License-Identifier: MIT */
/* openapi.c: /collections/{id}/queryables (a JSON Schema of the properties the caller's role may
 * filter on, from the catalog, with code lists as enums) and /api, the OpenAPI 3.0 document of
 * the OGC API Features endpoints (Parts 1, 2 and 3, and the Part 4 writes of edit.c where a
 * layer has edit_roles: POST on items, PUT / PATCH / DELETE on an item, with If-Match, the 412,
 * 423 and 428 answers and the API key security schemes), built from the catalog so that every
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

/* ,"path":{"get":{..}} (writes: also the operations it writes before the closing brace) */
static void path_get_with(struct buf *b, const char *path, const char *id, const char *summary,
                          const char *const *params, size_t n, const char *desc, const char *type,
                          void (*writes)(struct buf *b))
{
    buf_printf(b, ",\"%s\":{\"get\":{\"operationId\":\"%s\",\"summary\":\"%s\",", path, id,
               summary);
    param_ref(b, params, n);
    buf_putc(b, ',');
    response(b, desc, type, "{\"type\":\"object\"}");
    buf_puts(b, "}");
    if (writes) writes(b);
    buf_puts(b, "}");
}

static void path_get(struct buf *b, const char *path, const char *id, const char *summary,
                     const char *const *params, size_t n, const char *desc, const char *type)
{
    path_get_with(b, path, id, summary, params, n, desc, type, NULL);
}

/* ---- Part 4 (edit.c) ---- */

/* 1 when the caller's /api lists the write operations: a layer it reads has edit_roles (a role
 * that may not write still sees them, with 401 / 403 among the answers), and the store can
 * write (the same condition as the Part 4 conformance classes in collections.c). */
static int has_writes(const struct request *req)
{
    const struct catalog *cat = &req->cfg->catalog;
    for (int i = 0; i < cat->n_layers; i++)
        if (cat->layers[i].edit_roles && access_layer(&cat->layers[i], req->role)) return 1;
    return 0;
}

/* "code":{"description":..,"content":{problem JSON}} (after a ',' unless first) */
static void problem(struct buf *b, const char *code, const char *text, int first)
{
    buf_printf(b,
               "%s\"%s\":{\"description\":\"%s\",\"content\":{\"application/problem+json\":{"
               "\"schema\":{\"$ref\":\"#/components/schemas/problem\"}}}}",
               first ? "" : ",", code, text);
}

/* The refusals of a write; item: also those of a write to an existing feature. */
static void refusals(struct buf *b, int item)
{
    problem(b, "400", "Invalid feature (the answer names the field)", 0);
    problem(b, "401", "No API key (X-API-Key or Authorization: Bearer)", 0);
    problem(b, "403", "The key's role may not write this collection or this row", 0);
    problem(b, "404", "No such collection or feature", 0);
    if (!item) return;
    problem(b, "412", "If-Match is not the feature's ETag: it changed since it was read", 0);
    problem(b, "423", "Another editor holds a lock on the feature (WFS LockFeature)", 0);
    problem(b, "428", "If-Match is missing", 0);
}

/* "name":{"operationId":..,"summary":..,"security":..,"parameters":[..]. Left open. */
static void write_op(struct buf *b, const char *method, const char *id, const char *summary,
                     int item, int if_match, int body)
{
    buf_printf(b,
               ",\"%s\":{\"operationId\":\"%s\",\"summary\":\"%s\",\"security\":[{\"apiKey\":"
               "[]},{\"bearer\":[]}],\"parameters\":[{\"$ref\":\"#/components/parameters/"
               "editableCollectionId\"}",
               method, id, summary);
    if (item) buf_puts(b, ",{\"$ref\":\"#/components/parameters/featureId\"}");
    if (if_match) buf_puts(b, ",{\"$ref\":\"#/components/parameters/If-Match\"}");
    if (body) buf_puts(b, ",{\"$ref\":\"#/components/parameters/Content-Crs\"}");
    buf_puts(b, "],");
    if (body)
        buf_puts(b, "\"requestBody\":{\"required\":true,\"content\":{\"application/geo+json\":{"
                    "\"schema\":{\"$ref\":\"#/components/schemas/featureInput\"}}}},");
}

static const char *const change_id_header =
    "\"X-Change-Id\":{\"description\":\"the change log entry (spp history, spp revert)\","
    "\"schema\":{\"type\":\"integer\"}}";

/* POST on items (after its get). */
static void items_writes(struct buf *b)
{
    write_op(b, "post", "itemCreate", "Add a feature (Part 4)", 0, 0, 1);
    buf_printf(b,
               "\"responses\":{\"201\":{\"description\":\"Created\",\"headers\":{\"Location\":{"
               "\"description\":\"the new feature\",\"schema\":{\"type\":\"string\"}},\"ETag\":{"
               "\"schema\":{\"type\":\"string\"}},%s}}",
               change_id_header);
    refusals(b, 0);
    buf_puts(b, "}}");
}

/* PUT, PATCH and DELETE on an item (after its get). */
static void item_writes(struct buf *b)
{
    static const char *const ops[][3] = {
        {"put", "itemReplace", "Replace a feature (Part 4)"},
        {"patch", "itemUpdate", "Change some properties or the geometry of a feature (Part 4)"},
        {"delete", "itemDelete", "Delete a feature (Part 4)"}};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
        int del = ops[i][0][0] == 'd';
        write_op(b, ops[i][0], ops[i][1], ops[i][2], 1, 1, !del);
        buf_printf(b, "\"responses\":{\"204\":{\"description\":\"Done\",\"headers\":{%s%s}}",
                   del ? ""
                       : "\"ETag\":{\"description\":\"the feature's new ETag\","
                         "\"schema\":{\"type\":\"string\"}},",
                   change_id_header);
        refusals(b, 1);
        buf_puts(b, "}}");
    }
}

/* The components the writes refer to (after "parameters":{...}). */
static void write_components(struct buf *b)
{
    buf_puts(b, ",\"securitySchemes\":{\"apiKey\":{\"type\":\"apiKey\",\"in\":\"header\","
                "\"name\":\"X-API-Key\"},\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"}},"
                "\"schemas\":{\"problem\":{\"type\":\"object\",\"properties\":{\"type\":{\"type\":"
                "\"string\"},\"title\":{\"type\":\"string\"},\"status\":{\"type\":\"integer\"},"
                "\"detail\":{\"type\":\"string\"}}},\"featureInput\":{\"type\":\"object\","
                "\"required\":[\"type\"],\"properties\":{\"type\":{\"type\":\"string\",\"enum\":"
                "[\"Feature\"]},\"properties\":{\"type\":\"object\",\"nullable\":true},"
                "\"geometry\":{\"type\":\"object\",\"nullable\":true}}}}");
}

/* The parameters only the writes use (inside "parameters":{...}, after the others). */
static void write_parameters(struct request *req, struct buf *b)
{
    const struct catalog *cat = &req->cfg->catalog;
    buf_puts(b, ",\"editableCollectionId\":{\"name\":\"collectionId\",\"in\":\"path\","
                "\"required\":true,\"description\":\"a collection with edit_roles\",\"schema\":"
                "{\"type\":\"string\",\"enum\":[");
    int n = 0;
    for (int i = 0; i < cat->n_layers; i++)
        if (cat->layers[i].edit_roles && access_layer(&cat->layers[i], req->role))
            buf_printf(b, "%s\"%s\"", n++ ? "," : "", cat->layers[i].id);
    buf_puts(b, "]}},\"If-Match\":{\"name\":\"If-Match\",\"in\":\"header\",\"required\":true,"
                "\"description\":\"the ETag the feature was read with (428 without it, 412 when "
                "it changed since)\",\"schema\":{\"type\":\"string\"}},\"Content-Crs\":{\"name\":"
                "\"Content-Crs\",\"in\":\"header\",\"description\":\"the CRS of the body's "
                "geometry (default CRS84)\",\"schema\":{\"type\":\"string\"}}");
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
                "\"string\",\"enum\":[\"vi\",\"en\"]}}");
    if (has_writes(req)) write_parameters(req, b);
    buf_putc(b, '}');
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
    int writes = has_writes(req);
    path_get_with(b, "/collections/{collectionId}/items", "items", "Features of a collection",
                  items, ARRAY_LEN(items), "Features", "application/geo+json",
                  writes ? items_writes : NULL);
    path_get_with(b, "/collections/{collectionId}/items/{featureId}", "item", "One feature", item,
                  ARRAY_LEN(item), "Feature", "application/geo+json", writes ? item_writes : NULL);
    path_get(b, "/collections/{collectionId}/queryables", "queryables",
             "Properties usable in filters", (const char *const[]){"collectionId", "lang"}, 2,
             "Queryables", "application/schema+json");
    buf_puts(b, "},\"components\":{");
    parameters(req, b);
    if (writes) write_components(b);
    buf_puts(b, "}}\n");
    return 0;
}
