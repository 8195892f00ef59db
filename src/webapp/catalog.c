/* SPDX-License-Identifier: MIT */
/* catalog.c: /web/catalog.json, the catalog as the map page reads it: layer groups in catalog
 * order, each layer the caller's role may read (titles, group, zoom range, key and label field,
 * readable fields with labels and units) and the code lists those fields use (names in both
 * languages and colours), so the page writes nothing about a layer twice. */
#include "webapp.h"

#include <string.h>

#include "../config/config.h"

static void put_pair(struct buf *b, const char *key, const char *vi, const char *en)
{
    buf_printf(b, "\"%s\":{\"vi\":", key);
    buf_put_json_str(b, vi ? vi : "");
    buf_puts(b, ",\"en\":");
    buf_put_json_str(b, en ? en : "");
    buf_putc(b, '}');
}

static void put_field(struct buf *b, const struct field_def *f)
{
    buf_puts(b, "{\"name\":");
    buf_put_json_str(b, f->name);
    buf_printf(b, ",\"type\":\"%s\",", field_type_name(f->type));
    put_pair(b, "label", f->label_vi, f->label_en);
    if (f->unit) {
        buf_puts(b, ",\"unit\":");
        buf_put_json_str(b, f->unit);
    }
    if (f->codelist) {
        buf_puts(b, ",\"codelist\":");
        buf_put_json_str(b, f->codelist->id);
    }
    if (f->multi) buf_puts(b, ",\"multi\":true");
    if (f->common) buf_puts(b, ",\"common\":true");
    buf_putc(b, '}');
}

static void put_layer(struct buf *b, const struct layer_def *l, enum role role)
{
    buf_puts(b, "{\"id\":");
    buf_put_json_str(b, l->id);
    buf_printf(b, ",\"number\":%d,\"group\":", l->number);
    buf_put_json_str(b, l->group);
    buf_putc(b, ',');
    put_pair(b, "title", l->title_vi, l->title_en);
    buf_printf(b, ",\"geometry\":\"%s\",\"minzoom\":%d,\"maxzoom\":%d,\"key\":",
               geom_type_name(l->geom), l->minzoom, l->maxzoom);
    if (l->key >= 0 && access_field(l, l->key, role))
        buf_put_json_str(b, l->fields[l->key].name);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"label\":");
    if (l->label >= 0 && access_field(l, l->label, role))
        buf_put_json_str(b, l->fields[l->label].name);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"fields\":[");
    int first = 1;
    for (int i = 0; i < l->n_fields; i++) {
        if (!access_field(l, i, role)) continue;
        if (!first) buf_putc(b, ',');
        first = 0;
        put_field(b, &l->fields[i]);
    }
    buf_puts(b, "]}");
}

/* 1 if a field the role may read uses the code list. */
static int codelist_used(const struct catalog *cat, const struct codelist *cl, enum role role)
{
    for (int i = 0; i < cat->n_layers; i++)
        for (int j = 0; j < cat->layers[i].n_fields; j++)
            if (cat->layers[i].fields[j].codelist == cl && access_field(&cat->layers[i], j, role))
                return 1;
    return 0;
}

static void put_codelist(struct buf *b, const struct codelist *cl)
{
    buf_put_json_str(b, cl->id);
    buf_puts(b, ":{");
    put_pair(b, "title", cl->title_vi, cl->title_en);
    buf_puts(b, ",\"codes\":[");
    for (int i = 0; i < cl->n_codes; i++) {
        const struct code_def *c = &cl->codes[i];
        if (i) buf_putc(b, ',');
        buf_puts(b, "{\"code\":");
        buf_put_json_str(b, c->code);
        if (c->scheme) {
            buf_puts(b, ",\"scheme\":");
            buf_put_json_str(b, c->scheme);
        }
        buf_putc(b, ',');
        put_pair(b, "name", c->name_vi, c->name_en);
        if (c->has_color) buf_printf(b, ",\"color\":\"#%06X\"", (unsigned)c->rgb);
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
}

int webapp_catalog(struct request *req, struct response *res, struct err *err)
{
    const struct catalog *cat = &req->cfg->catalog;
    struct buf *b = &res->body;
    resp_set(res, 200, "application/json");
    resp_header(res, "Cache-Control", "no-cache");
    buf_puts(b, "{\"groups\":[");
    const char *seen[32];
    int n_seen = 0;
    for (int i = 0; i < cat->n_layers && n_seen < 32; i++) {
        const char *g = cat->layers[i].group;
        int dup = 0;
        for (int k = 0; k < n_seen; k++)
            dup |= strcmp(seen[k], g) == 0;
        if (dup || !access_layer(&cat->layers[i], req->role)) continue;
        if (n_seen) buf_putc(b, ',');
        buf_put_json_str(b, g);
        seen[n_seen++] = g;
    }
    buf_puts(b, "],\"layers\":[");
    int first = 1;
    for (int i = 0; i < cat->n_layers; i++) {
        if (!access_layer(&cat->layers[i], req->role)) continue;
        if (!first) buf_putc(b, ',');
        first = 0;
        put_layer(b, &cat->layers[i], req->role);
    }
    buf_puts(b, "],\"codelists\":{");
    first = 1;
    for (int i = 0; i < cat->n_codelists; i++) {
        if (!codelist_used(cat, &cat->codelists[i], req->role)) continue;
        if (!first) buf_putc(b, ',');
        first = 0;
        put_codelist(b, &cat->codelists[i]);
    }
    buf_puts(b, "}}\n");
    if (b->data == NULL) return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}
