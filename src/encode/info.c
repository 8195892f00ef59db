/* SPDX-License-Identifier: MIT */
/* info.c: the records of WMS GetFeatureInfo in the four forms clients ask for: text/plain and
 * text/html (MapServer's layouts), GeoJSON (geometry always Multi*, in the map's CRS) and GML 2
 * (msGMLOutput, as QGIS reads it). Which features were hit, and in which order, is wms_info.c's;
 * this file only writes them. */
#include "encode_int.h"

int encode_info_value(struct buf *b, enum encode_info_fmt fmt, const struct value *v)
{
    switch (v->type) {
    case VAL_INT:
        return encode_int(b, (long long)v->i);
    case VAL_REAL:
        return encode_number_exact(b, v->d, 6);
    case VAL_TEXT:
        if (fmt == ENCODE_INFO_JSON) return buf_put_json_str(b, v->s);
        if (fmt == ENCODE_INFO_TEXT) return encode_cat(b, "'", v->s, "'", NULL);
        return buf_put_xml(b, v->s);
    default:
        if (fmt == ENCODE_INFO_JSON) return buf_puts(b, "null");
        if (fmt == ENCODE_INFO_TEXT) return buf_puts(b, "NULL");
        return 0;
    }
}

const char *encode_info_type(enum encode_info_fmt fmt)
{
    static const char *const types[] = {"text/plain; charset=utf-8", "text/html; charset=utf-8",
                                        "application/json", "application/vnd.ogc.gml"};
    return types[fmt];
}

int encode_info_begin(struct encode_info *w)
{
    switch (w->fmt) {
    case ENCODE_INFO_JSON:
        return buf_puts(w->out, "{\"type\":\"FeatureCollection\",\"features\":[");
    case ENCODE_INFO_HTML:
        return buf_puts(w->out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
                                "GetFeatureInfo</title></head><body>\n");
    case ENCODE_INFO_GML:
        return buf_puts(w->out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<msGMLOutput"
                                " xmlns:gml=\"http://www.opengis.net/gml\""
                                " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
    default:
        return buf_puts(w->out, "GetFeatureInfo results:\n\n");
    }
}

int encode_info_end(struct encode_info *w)
{
    switch (w->fmt) {
    case ENCODE_INFO_JSON:
        return buf_puts(w->out, "]}\n");
    case ENCODE_INFO_HTML:
        return buf_puts(w->out, "</body></html>\n");
    case ENCODE_INFO_GML:
        return buf_puts(w->out, "</msGMLOutput>\n");
    default:
        return 0;
    }
}

int encode_info_layer_begin(struct encode_info *w, const struct layer_def *l, int n_features)
{
    struct buf *b = w->out;
    int rc = 0;
    switch (w->fmt) {
    case ENCODE_INFO_TEXT:
        return encode_cat(b, "Layer '", l->id, "'\n", NULL);
    case ENCODE_INFO_HTML:
        if (!n_features) return 0;
        rc = buf_puts(b, "<h2>");
        if (!rc) rc = buf_put_xml(b, l->title_vi);
        return rc ? rc : buf_puts(b, "</h2>\n");
    case ENCODE_INFO_GML:
        return encode_cat(b, "<", l->id, "_layer><gml:name>", l->id, "</gml:name>\n", NULL);
    default:
        return 0;
    }
}

int encode_info_layer_end(struct encode_info *w, const struct layer_def *l)
{
    return w->fmt == ENCODE_INFO_GML ? encode_cat(w->out, "</", l->id, "_layer>\n", NULL) : 0;
}

static int put_text(struct buf *b, const struct layer_def *l, int64_t fid, const int *fields,
                    const struct value *values, int n)
{
    int rc = buf_puts(b, "  Feature ");
    if (!rc) rc = encode_int(b, (long long)fid);
    if (!rc) rc = buf_puts(b, ":\n");
    for (int k = 0; k < n && !rc; k++) {
        rc = encode_cat(b, "    ", l->fields[fields[k]].name, " = ", NULL);
        if (!rc) rc = encode_info_value(b, ENCODE_INFO_TEXT, &values[k]);
        if (!rc) rc = buf_putc(b, '\n');
    }
    return rc;
}

static int put_json(struct encode_info *w, const struct layer_def *l, int64_t fid,
                    const int *fields, const struct value *values, int n, const struct geom *g)
{
    struct buf *b = w->out;
    int rc = encode_cat(b, w->n_written++ ? "," : "", "{\"type\":\"Feature\",\"id\":\"", l->id, ".",
                        NULL);
    if (!rc) rc = encode_int(b, (long long)fid);
    if (!rc) rc = encode_cat(b, "\",\"layer\":\"", l->id, "\",\"properties\":{", NULL);
    for (int k = 0; k < n && !rc; k++) {
        rc = encode_cat(b, k ? ",\"" : "\"", l->fields[fields[k]].name, "\":", NULL);
        if (!rc) rc = encode_info_value(b, ENCODE_INFO_JSON, &values[k]);
    }
    if (!rc) rc = buf_puts(b, "},\"geometry\":");
    if (!rc) rc = g ? encode_geojson_geometry(b, g, w->decimals, 0, 1, 1) : buf_puts(b, "null");
    return rc ? rc : buf_putc(b, '}');
}

static int put_gml(struct encode_info *w, const struct layer_def *l, int64_t fid, const int *fields,
                   const struct value *values, int n, const struct geom *g)
{
    struct buf *b = w->out;
    int rc = encode_cat(b, "<", l->id, "_feature fid=\"", l->id, ".", NULL);
    if (!rc) rc = encode_int(b, (long long)fid);
    if (!rc) rc = buf_puts(b, "\">");
    for (int k = 0; k < n && !rc; k++) {
        const char *name = l->fields[fields[k]].name;
        rc = encode_cat(b, "<", name, ">", NULL);
        if (!rc) rc = encode_info_value(b, ENCODE_INFO_GML, &values[k]);
        if (!rc) rc = encode_cat(b, "</", name, ">", NULL);
    }
    if (!rc && g) {
        rc = buf_puts(b, "<gml:boundedBy/><geometry>");
        if (!rc) rc = encode_gml2_geometry(b, g, w->srs, w->decimals);
        if (!rc) rc = buf_puts(b, "</geometry>");
    }
    return rc ? rc : encode_cat(b, "</", l->id, "_feature>\n", NULL);
}

int encode_info_feature(struct encode_info *w, const struct layer_def *l, int64_t fid,
                        const int *fields, const struct value *values, int n, const struct geom *g)
{
    switch (w->fmt) {
    case ENCODE_INFO_TEXT:
        return put_text(w->out, l, fid, fields, values, n);
    case ENCODE_INFO_HTML:
        return encode_html_table(w->out, l, fid, fields, values, n);
    case ENCODE_INFO_JSON:
        return put_json(w, l, fid, fields, values, n, g);
    default:
        return put_gml(w, l, fid, fields, values, n, g);
    }
}
