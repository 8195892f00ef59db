/* SPDX-License-Identifier: MIT */
/* legend.c: legends of a style (WMS GetLegendGraphic): a PNG with one row per rule (its symbol
 * drawn with the same cairo helpers as the map, then its title), or the same as JSON. Rules
 * that only label are left out unless asked for by name. */
#include "render_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int has_graphic(const struct style_rule *r)
{
    for (int i = 0; i < r->n_syms; i++)
        if (r->syms[i].kind != SYM_TEXT) return 1;
    return 0;
}

static int wanted(const struct style_rule *r, const char *rule, double scale)
{
    if (rule) return r->name && strcmp(r->name, rule) == 0;
    if (!has_graphic(r)) return 0;
    return scale <= 0 || (scale >= r->min_scale && scale < r->max_scale);
}

static void draw_symbol(cairo_t *cr, const struct style_rule *r, double x, double y, double w,
                        double h, double k)
{
    for (int i = 0; i < r->n_syms; i++) {
        const struct symbolizer *s = &r->syms[i];
        cairo_new_path(cr);
        if (s->kind == SYM_POLYGON) {
            double inset = s->stroke.has ? s->stroke.width * k / 2 : 0;
            if (inset > w / 4) inset = w / 4;
            cairo_rectangle(cr, x + inset + 1, y + inset + 1, w - 2 * inset - 2, h - 2 * inset - 2);
            draw_fill_path(cr, &s->fill, k);
            if (s->stroke.has) {
                struct style_stroke st = s->stroke;
                if (st.width > 4) st.width = 4;
                draw_stroke_style(cr, &st, k);
                cairo_stroke_preserve(cr);
            }
        } else if (s->kind == SYM_LINE) {
            cairo_move_to(cr, x + 1, y + h * 0.7);
            cairo_curve_to(cr, x + w * 0.4, y + h * 0.7, x + w * 0.6, y + h * 0.3, x + w - 1,
                           y + h * 0.3);
            struct style_stroke st = s->stroke;
            if (st.width > h / k / 2) st.width = h / k / 2;
            draw_stroke_style(cr, &st, k);
            cairo_stroke_preserve(cr);
        } else if (s->kind == SYM_POINT) {
            struct symbolizer m = *s;
            if (m.size * k > h - 2) m.size = (h - 2) / k;
            draw_mark(cr, &m, x + w / 2, y + h / 2, k);
        }
        cairo_new_path(cr);
    }
}

int render_legend_png(const struct style *s, const char *rule, double scale, int symbol_w,
                      int symbol_h, double scale_factor, struct buf *out, struct err *err)
{
    double k = scale_factor > 0 ? scale_factor : 1;
    int sw = (int)((symbol_w > 0 ? symbol_w : 20) * k),
        sh = (int)((symbol_h > 0 ? symbol_h : 20) * k);
    int rows = 0;
    double text_w = 0;
    cairo_surface_t *m = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
    cairo_t *mc = cairo_create(m);
    cairo_select_font_face(mc, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(mc, 11 * k);
    for (int i = 0; i < s->n_fts; i++)
        for (int j = 0; j < s->fts[i].n_rules; j++) {
            const struct style_rule *r = &s->fts[i].rules[j];
            if (!wanted(r, rule, scale)) continue;
            cairo_text_extents_t te;
            cairo_text_extents(mc, r->title ? r->title : r->name ? r->name : "", &te);
            if (te.x_advance > text_w) text_w = te.x_advance;
            rows++;
        }
    cairo_destroy(mc);
    cairo_surface_destroy(m);
    if (rule && rows == 0) {
        err_setl(err, ERR_NOT_FOUND, "RULE", "no rule \"%s\" in style %s", rule, s->name);
        err->http_status = 400;
        return ERR_NOT_FOUND;
    }
    int width = sw + (int)ceil(text_w) + (int)(12 * k), height = rows * (sh + (int)(4 * k));
    if (rows == 0) width = sw, height = sh;
    if (width > 2000) width = 2000;
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    cairo_t *cr = cairo_create(surf);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    int row = 0;
    for (int i = 0; i < s->n_fts; i++)
        for (int j = 0; j < s->fts[i].n_rules; j++) {
            const struct style_rule *r = &s->fts[i].rules[j];
            if (!wanted(r, rule, scale)) continue;
            double y = row * (sh + 4 * k) + 2 * k;
            draw_symbol(cr, r, 0, y, sw, sh, k);
            cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                                   CAIRO_FONT_WEIGHT_NORMAL);
            cairo_set_font_size(cr, 11 * k);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            cairo_move_to(cr, sw + 6 * k, y + sh / 2.0 + 4 * k);
            cairo_show_text(cr, r->title ? r->title : r->name ? r->name : "");
            row++;
        }
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    struct render_image img = {cairo_image_surface_get_data(surf), width, height,
                               cairo_image_surface_get_stride(surf)};
    int rc = render_encode(&img, 0, 0, width, height, RFMT_PNG, 1, 0xFFFFFF, 0, out, err);
    cairo_surface_destroy(surf);
    return rc;
}

static void put_color(struct buf *b, const char *key, uint32_t c, double opacity)
{
    buf_printf(b, ",\"%s\":\"#%06X\",\"%s-opacity\":", key, (unsigned)c, key);
    buf_put_double(b, opacity, 3);
}

static void put_symbolizer(struct buf *b, const struct style *s, const struct symbolizer *y)
{
    static const char *kinds[] = {"polygon", "line", "point", "text"};
    static const char *marks[] = {"circle", "square", "triangle", "star", "cross", "x"};
    buf_printf(b, "{\"type\":\"%s\"", kinds[y->kind]);
    if (y->kind == SYM_TEXT) {
        buf_puts(b, ",\"label\":");
        buf_put_json_str(b, s->layer->fields[y->label_field].name);
        buf_puts(b, ",\"font-size\":");
        buf_put_double(b, y->font_size, 1);
        put_color(b, "fill", y->fill.color, y->fill.opacity);
        buf_puts(b, "}");
        return;
    }
    if (y->kind == SYM_POINT) {
        buf_printf(b, ",\"mark\":\"%s\",\"size\":", marks[y->mark]);
        buf_put_double(b, y->size, 1);
    }
    if (y->fill.has) put_color(b, "fill", y->fill.color, y->fill.opacity);
    if (y->fill.hatch != HATCH_NONE) buf_printf(b, ",\"hatch\":%d", (int)y->fill.hatch);
    if (y->stroke.has) {
        put_color(b, "stroke", y->stroke.color, y->stroke.opacity);
        buf_puts(b, ",\"stroke-width\":");
        buf_put_double(b, y->stroke.width, 2);
        if (y->stroke.n_dash) {
            buf_puts(b, ",\"stroke-dasharray\":[");
            for (int i = 0; i < y->stroke.n_dash; i++) {
                if (i) buf_putc(b, ',');
                buf_put_double(b, y->stroke.dash[i], 2);
            }
            buf_puts(b, "]");
        }
    }
    buf_puts(b, "}");
}

int render_legend_json(const struct style *s, const char *rule, double scale, struct buf *out,
                       struct err *err)
{
    struct buf *b = out;
    buf_puts(b, "{\"layer\":");
    buf_put_json_str(b, s->layer->id);
    buf_puts(b, ",\"style\":");
    buf_put_json_str(b, s->name);
    buf_puts(b, ",\"title\":");
    buf_put_json_str(b, s->title ? s->title : s->layer->title_vi);
    buf_puts(b, ",\"rules\":[");
    int n = 0;
    for (int i = 0; i < s->n_fts; i++)
        for (int j = 0; j < s->fts[i].n_rules; j++) {
            const struct style_rule *r = &s->fts[i].rules[j];
            if (!wanted(r, rule, scale)) continue;
            if (n++) buf_putc(b, ',');
            buf_puts(b, "{\"name\":");
            buf_put_json_str(b, r->name ? r->name : "");
            buf_puts(b, ",\"title\":");
            buf_put_json_str(b, r->title ? r->title : r->name ? r->name : "");
            if (r->min_scale > 0) {
                buf_puts(b, ",\"minScaleDenominator\":");
                buf_put_double(b, r->min_scale, 0);
            }
            if (isfinite(r->max_scale)) {
                buf_puts(b, ",\"maxScaleDenominator\":");
                buf_put_double(b, r->max_scale, 0);
            }
            if (r->is_else) buf_puts(b, ",\"else\":true");
            buf_puts(b, ",\"symbolizers\":[");
            for (int k = 0; k < r->n_syms; k++) {
                if (k) buf_putc(b, ',');
                put_symbolizer(b, s, &r->syms[k]);
            }
            buf_puts(b, "]}");
        }
    buf_puts(b, "]}\n");
    if (rule && n == 0) {
        err_setl(err, ERR_NOT_FOUND, "RULE", "no rule \"%s\" in style %s", rule, s->name);
        err->http_status = 400;
        return ERR_NOT_FOUND;
    }
    return 0;
}

int render_message_image(int width, int height, enum render_format fmt, int transparent,
                         uint32_t bgcolor, const char *msg, struct buf *out, struct err *err)
{
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surf);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    cairo_t *cr = cairo_create(surf);
    if (msg) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 12);
        cairo_set_source_rgb(cr, 0.7, 0, 0);
        /* word-wrap the message into the image */
        char line[512] = "";
        double y = 16;
        const char *p = msg;
        while (*p && y < height) {
            size_t wl = strcspn(p, " ");
            char try[512];
            snprintf(try, sizeof try, "%s%s%.*s", line, *line ? " " : "", (int)wl, p);
            cairo_text_extents_t te;
            cairo_text_extents(cr, try, &te);
            if (te.x_advance > width - 8 && *line) {
                cairo_move_to(cr, 4, y);
                cairo_show_text(cr, line);
                y += 15;
                line[0] = '\0';
                continue;
            }
            snprintf(line, sizeof line, "%s", try);
            p += wl;
            p += strspn(p, " ");
        }
        if (*line && y < height) {
            cairo_move_to(cr, 4, y);
            cairo_show_text(cr, line);
        }
    }
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    struct render_image img = {cairo_image_surface_get_data(surf), width, height,
                               cairo_image_surface_get_stride(surf)};
    int rc = render_encode(&img, 0, 0, width, height, fmt, transparent, bgcolor, 0, out, err);
    cairo_surface_destroy(surf);
    return rc;
}
