/* SPDX-License-Identifier: MIT */
/* html.c: the HTML face of OGC API Features items: a page a person can browse (a table of the
 * features, every value escaped, and a small inline SVG map drawn from the same geometries in
 * CRS84, so no script or tile server is needed), plus the link and URL helpers of the module. */
#include "ogcapi_int.h"

#include <stdio.h>
#include <string.h>

void ogcapi_url_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~:,", *p)) {
            buf_putc(b, (char)*p);
        } else {
            buf_putc(b, '%');
            buf_putc(b, hex[*p >> 4]);
            buf_putc(b, hex[*p & 15]);
        }
    }
}

void ogcapi_link(struct buf *b, int *first, const char *href, const char *rel, const char *type,
                 const char *title)
{
    buf_puts(b, *first ? "{\"href\":" : ",{\"href\":");
    *first = 0;
    buf_put_json_str(b, href);
    buf_printf(b, ",\"rel\":\"%s\",\"type\":\"%s\"", rel, type);
    if (title) {
        buf_puts(b, ",\"title\":");
        buf_put_json_str(b, title);
    }
    buf_putc(b, '}');
}

struct html_state {
    struct buf rows, svg;
    struct bbox box;
    struct geom g;
    struct request *req;
    int storage;
    int64_t n;
};

static void svg_geom(struct html_state *s)
{
    struct buf *b = &s->svg;
    const struct geom *g = &s->g;
    int points = g->type == GT_POINT || g->type == GT_MULTIPOINT;
    int area = g->type == GT_POLYGON || g->type == GT_MULTIPOLYGON;
    if (points) {
        for (int i = 0; i < g->n_parts; i++) {
            buf_puts(b, "<circle r=\"3\" vector-effect=\"non-scaling-stroke\" cx=\"");
            encode_number(b, g->parts[i].xy[0], 7);
            buf_puts(b, "\" cy=\"");
            encode_number(b, -g->parts[i].xy[1], 7);
            buf_puts(b, "\" transform-origin=\"center\"/>");
        }
        return;
    }
    buf_printf(b, "<path fill=\"%s\" d=\"", area ? "rgba(40,120,200,.3)" : "none");
    for (int i = 0; i < g->n_parts; i++)
        for (int k = 0; k < g->parts[i].n; k++) {
            buf_putc(b, k ? 'L' : 'M');
            encode_number(b, g->parts[i].xy[2 * k], 7);
            buf_putc(b, ' ');
            encode_number(b, -g->parts[i].xy[2 * k + 1], 7);
        }
    buf_puts(b, "\"/>");
}

static int html_feature(void *ud, const struct feature *f, struct err *err)
{
    struct html_state *s = ud;
    const struct layer_def *l = f->layer;
    buf_printf(&s->rows, "<tr><td><a href=\"%s/collections/%s/items/%lld?f=html\">%lld</a></td>",
               s->req->base_url, l->id, (long long)f->fid, (long long)f->fid);
    for (int i = 0; i < f->n_fields; i++) {
        buf_puts(&s->rows, "<td>");
        encode_html_value(&s->rows, &l->fields[f->fields[i]], &f->values[i]);
        buf_puts(&s->rows, "</td>");
    }
    buf_puts(&s->rows, "</tr>\n");
    s->n++;
    if (!f->wkb || !f->wkb_len) return 0;
    int rc = geom_from_wkb(&s->g, f->wkb, f->wkb_len, err);
    if (!rc && s->g.n_coords)
        rc = geo_transform(s->req->geo, s->storage, GEO_SRID_CRS84, s->g.coords, s->g.n_coords / 2,
                           err);
    if (rc) return rc;
    struct bbox gb;
    geom_bbox(&s->g, &gb);
    bbox_union(&s->box, &gb);
    svg_geom(s);
    return 0;
}

static void html_page_links(struct request *req, struct buf *b, const struct layer_def *l,
                            int64_t limit, int64_t offset, int64_t n)
{
    buf_printf(b, "<p><a href=\"%s/collections?f=html\">Lớp dữ liệu / Collections</a>",
               req->base_url);
    if (offset > 0)
        buf_printf(b,
                   " · <a href=\"%s/collections/%s/items?f=html&amp;limit=%lld&amp;offset=%lld\">"
                   "&larr; trước / previous</a>",
                   req->base_url, l->id, (long long)limit,
                   (long long)(offset > limit ? offset - limit : 0));
    if (n == limit)
        buf_printf(b,
                   " · <a href=\"%s/collections/%s/items?f=html&amp;limit=%lld&amp;offset=%lld\">"
                   "sau / next &rarr;</a>",
                   req->base_url, l->id, (long long)limit, (long long)(offset + limit));
    buf_printf(b,
               " · <a href=\"%s/collections/%s/items?f=json&amp;limit=%lld&amp;offset=%lld\">"
               "GeoJSON</a></p>\n",
               req->base_url, l->id, (long long)limit, (long long)offset);
}

static void write_page(struct request *req, struct response *res, const struct layer_def *l,
                       const int *fields, int n_fields, const struct html_state *s, int64_t limit,
                       int64_t offset)
{
    struct buf *b = &res->body;
    resp_set(res, 200, "text/html; charset=utf-8");
    buf_puts(b, "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>");
    buf_put_xml(b, l->title_vi);
    buf_puts(b, "</title><style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:"
                "collapse;font-size:90%}td,th{padding:.2em .5em;border-bottom:1px solid #ddd;"
                "text-align:left}svg{border:1px solid #ccc;background:#f8f8f4;width:480px;"
                "height:360px}path,circle{stroke:#c33;stroke-width:1.5;"
                "vector-effect:non-scaling-stroke}</style></head><body><h1>");
    buf_put_xml(b, l->title_vi);
    buf_puts(b, " / ");
    buf_put_xml(b, l->title_en);
    buf_puts(b, "</h1>\n");
    html_page_links(req, b, l, limit, offset, s->n);
    if (!bbox_is_empty(&s->box)) {
        double w = s->box.maxx - s->box.minx, h = s->box.maxy - s->box.miny;
        double pad = (w > h ? w : h) * 0.05 + 1e-5;
        buf_puts(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" preserveAspectRatio=\"xMidYMid "
                    "meet\" viewBox=\"");
        encode_number(b, s->box.minx - pad, 7), buf_putc(b, ' ');
        encode_number(b, -s->box.maxy - pad, 7), buf_putc(b, ' ');
        encode_number(b, w + 2 * pad, 7), buf_putc(b, ' ');
        encode_number(b, h + 2 * pad, 7);
        buf_puts(b, "\">");
        buf_append(b, s->svg.data, s->svg.len);
        buf_puts(b, "</svg>\n");
    }
    buf_puts(b, "<table><tr><th>id</th>");
    for (int i = 0; i < n_fields; i++) {
        buf_puts(b, "<th title=\"");
        buf_put_xml(b, l->fields[fields[i]].name);
        buf_puts(b, "\">");
        buf_put_xml(b, l->fields[fields[i]].label_vi ? l->fields[fields[i]].label_vi
                                                     : l->fields[fields[i]].name);
        buf_puts(b, "</th>");
    }
    buf_puts(b, "</tr>\n");
    if (s->rows.len) buf_append(b, s->rows.data, s->rows.len);
    buf_puts(b, "</table></body></html>\n");
}

int ogcapi_items_html(struct request *req, struct response *res, const struct layer_def *l,
                      const struct filter *f, int64_t limit, int64_t offset, struct err *err)
{
    int fields[256], n_fields = encode_fields(l, req->role, fields, 256);
    struct store_query q = {.layer = l,
                            .filter = f,
                            .geo = req->geo,
                            .role = req->role,
                            .fields = fields,
                            .n_fields = n_fields,
                            .limit = limit,
                            .offset = offset,
                            .want_geom = 1};
    int rc = 0;
    if (f) rc = store_query_check(req->store, &q, err);
    struct html_state s;
    memset(&s, 0, sizeof s);
    buf_init(&s.rows), buf_init(&s.svg), geom_init(&s.g);
    bbox_empty(&s.box);
    s.req = req;
    s.storage = store_srid(req->store);
    struct feature_sink sink = {NULL, html_feature, NULL, &s};
    if (!rc) rc = store_query_run(req->store, &q, &sink, err);
    if (!rc) write_page(req, res, l, fields, n_fields, &s, limit, offset);
    buf_fini(&s.rows), buf_fini(&s.svg), geom_fini(&s.g);
    return rc;
}
