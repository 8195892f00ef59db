/* SPDX-License-Identifier: MIT */
/* maplibre.c: /styles/{name}.json, a MapLibre GL style generated from the SLD styles that the
 * WMS draws with (render/), so a web map looks like the WMS: the same colours and widths, rule
 * filters as MapLibre expressions, scale denominators as zoom ranges, text symbolizers as symbol
 * layers with spp's own glyphs (/fonts/{fontstack}/{range}.pbf, fonts TILES_FONT/_BOLD), and
 * one vector source: spp's TileJSON for the same layers.
 * Approximations (MapLibre has no equivalent): hatch fills become a translucent fill of the hatch
 * colour, point marks other than circles are circles, spatial filter operators and LIKE's
 * single-character wildcard match everything they cannot express (documented in README). */
#include "tiles.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../render/render.h"

#define TILES_FONT      "DejaVu Sans Book" /* served by the web module's glyph endpoint */
#define TILES_FONT_BOLD "DejaVu Sans Bold"
/* Scale denominator at MapLibre zoom 0 (512 px world, 0.28 mm pixels), as render_scale computes
 * it for EPSG:3857 maps. */
#define ML_SCALE0 (559082264.0287178 / 2)

static int put_color(struct buf *b, uint32_t rgb)
{
    return buf_printf(b, "\"#%06X\"", rgb & 0xFFFFFFu);
}

static int put_literal(struct buf *b, const struct filter_literal *v, int lower)
{
    if (v->type == VAL_INT) return buf_printf(b, "%lld", (long long)v->i);
    if (v->type == VAL_REAL) return buf_put_double(b, v->d, 10);
    if (!lower) return buf_put_json_str(b, v->s ? v->s : "");
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", v->s ? v->s : "");
    for (char *p = tmp; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    return buf_put_json_str(b, tmp);
}

/* ["get", name], lower-cased text when the comparison ignores case. */
static int put_get(struct buf *b, const struct layer_def *l, const struct filter_node *n, int lower)
{
    const char *name =
        n->field >= 0 && n->field < l->n_fields ? l->fields[n->field].name : n->property;
    int rc = buf_puts(b, lower ? "[\"downcase\",[\"to-string\",[\"get\"," : "[\"get\",") ||
             buf_put_json_str(b, name ? name : "");
    return rc || buf_puts(b, lower ? "]]]" : "]");
}

/* ["to-string", ["get", name]] (lower-cased when the LIKE ignores case). */
static int put_sget(struct buf *b, const struct layer_def *l, const struct filter_node *n,
                    int lower)
{
    if (lower) return put_get(b, l, n, 1);
    return buf_puts(b, "[\"to-string\",") || put_get(b, l, n, 0) || buf_putc(b, ']');
}

/* LIKE (normalized: '%' any run, '_' one char, '\\' escape) as slices and index-of checks on
 * the literal pieces between wildcards. */
static int put_like(struct buf *b, const struct layer_def *l, const struct filter_node *n)
{
    const char *pat = n->n_values > 0 && n->values[0].s ? n->values[0].s : "";
    int lower = !n->match_case;
    char piece[256];
    int np = 0, first = 1, anchored = 1, rc = buf_puts(b, "[\"all\"");
    for (const char *p = pat;; p++) {
        int wild = *p == '%' || *p == '_' || !*p;
        if (*p == '\\' && p[1]) {
            if (np < 255) piece[np++] = *++p;
            continue;
        }
        if (!wild) {
            if (np < 255) piece[np++] = (char)(lower && *p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            continue;
        }
        piece[np] = '\0';
        struct filter_literal lit = {.type = VAL_TEXT, .s = piece};
        if (np && anchored && first) { /* prefix */
            if (!rc)
                rc = buf_printf(b, ",[\"==\",[\"slice\",") || put_sget(b, l, n, lower) ||
                     buf_printf(b, ",0,%d],", np) || put_literal(b, &lit, 0) || buf_puts(b, "]");
        } else if (np && !*p) { /* suffix */
            if (!rc)
                rc = buf_puts(b, ",[\"==\",[\"slice\",") || put_sget(b, l, n, lower) ||
                     buf_printf(b, ",[\"-\",[\"length\",") || put_sget(b, l, n, lower) ||
                     buf_printf(b, "],%d]],", np) || put_literal(b, &lit, 0) || buf_puts(b, "]");
        } else if (np) { /* somewhere in between */
            if (!rc)
                rc = buf_puts(b, ",[\">=\",[\"index-of\",") || put_literal(b, &lit, 0) ||
                     buf_putc(b, ',') || put_sget(b, l, n, lower) || buf_puts(b, "],0]");
        }
        if (!*p) {
            if (first && !strchr(pat, '%') && !strchr(pat, '_')) { /* no wildcard: equality */
                buf_reset(b);
                return buf_puts(b, "[\"==\",") || put_sget(b, l, n, lower) || buf_putc(b, ',') ||
                       put_literal(b, &lit, 0) || buf_putc(b, ']');
            }
            break;
        }
        first = 0, anchored = 0, np = 0;
    }
    return rc || buf_putc(b, ']');
}

static int put_filter(struct buf *b, const struct layer_def *l, const struct filter_node *n);

static int put_children(struct buf *b, const struct layer_def *l, const struct filter_node *n,
                        const char *op)
{
    int rc = buf_printf(b, "[\"%s\"", op);
    for (int i = 0; i < n->n_children && !rc; i++)
        rc = buf_putc(b, ',') || put_filter(b, l, n->children[i]);
    return rc || buf_putc(b, ']');
}

static int put_compare(struct buf *b, const struct layer_def *l, const struct filter_node *n,
                       const char *op)
{
    int lower = !n->match_case && n->n_values && n->values[0].type == VAL_TEXT;
    return buf_printf(b, "[\"%s\",", op) || put_get(b, l, n, lower) || buf_putc(b, ',') ||
           (n->n_values ? put_literal(b, &n->values[0], lower) : buf_puts(b, "null")) ||
           buf_putc(b, ']');
}

static int put_filter(struct buf *b, const struct layer_def *l, const struct filter_node *n)
{
    static const char *const cmp[] = {"==", "!=", "<", "<=", ">", ">="};
    switch (n->op) {
    case FOP_AND:
        return put_children(b, l, n, "all");
    case FOP_OR:
        return put_children(b, l, n, "any");
    case FOP_NOT:
        return buf_puts(b, "[\"!\",") ||
               (n->n_children ? put_filter(b, l, n->children[0]) : buf_puts(b, "false")) ||
               buf_putc(b, ']');
    case FOP_EQ:
    case FOP_NE:
    case FOP_LT:
    case FOP_LE:
    case FOP_GT:
    case FOP_GE:
        return put_compare(b, l, n, cmp[n->op - FOP_EQ]);
    case FOP_LIKE: {
        struct buf t;
        buf_init(&t);
        int rc = put_like(&t, l, n) || buf_append(b, t.data, t.len);
        buf_fini(&t);
        return rc;
    }
    case FOP_BETWEEN:
        if (n->n_values < 2) return buf_puts(b, "false");
        return buf_puts(b, "[\"all\",[\">=\",") || put_get(b, l, n, 0) || buf_putc(b, ',') ||
               put_literal(b, &n->values[0], 0) || buf_puts(b, "],[\"<=\",") ||
               put_get(b, l, n, 0) || buf_putc(b, ',') || put_literal(b, &n->values[1], 0) ||
               buf_puts(b, "]]");
    case FOP_IN: {
        if (!n->n_values) return buf_puts(b, "false");
        int rc = buf_puts(b, "[\"match\",") || put_get(b, l, n, 0) || buf_puts(b, ",[");
        for (int i = 0; i < n->n_values && !rc; i++)
            rc = (i && buf_putc(b, ',')) || put_literal(b, &n->values[i], 0);
        return rc || buf_puts(b, "],true,false]");
    }
    case FOP_ISNULL:
        return buf_puts(b, "[\"!\",[\"has\",") || buf_put_json_str(b, l->fields[n->field].name) ||
               buf_puts(b, "]]");
    case FOP_RESOURCE_ID: {
        if (!n->n_ids) return buf_puts(b, "false");
        int rc = buf_puts(b, "[\"match\",[\"id\"],[");
        for (int i = 0; i < n->n_ids && !rc; i++)
            rc = buf_printf(b, "%s%lld", i ? "," : "", (long long)n->ids[i]);
        return rc || buf_puts(b, "],true,false]");
    }
    case FOP_EXCLUDE:
        return buf_puts(b, "false");
    default:
        return buf_puts(b, "true"); /* INCLUDE and spatial operators */
    }
}

/* The filter of a rule: its own, or for an ElseFilter "none of the FTS's other rules". */
static int put_rule_filter(struct buf *b, const struct layer_def *l, const struct style_fts *f,
                           const struct style_rule *r)
{
    if (!r->is_else) return r->filter && r->filter->root ? put_filter(b, l, r->filter->root) : 1;
    int rc = buf_puts(b, "[\"!\",[\"any\"");
    for (int i = 0; i < f->n_rules && !rc; i++) {
        const struct style_rule *o = &f->rules[i];
        if (o->is_else) continue;
        rc = buf_putc(b, ',') || (o->filter && o->filter->root ? put_filter(b, l, o->filter->root)
                                                               : buf_puts(b, "true"));
    }
    return rc || buf_puts(b, "]]");
}

struct ml_layer {
    const struct layer_def *l;
    const struct style_fts *fts;
    const struct style_rule *r;
    const struct symbolizer *s;
    char id[160];
    double minz, maxz;
};

static int put_head(struct buf *b, const struct ml_layer *m, const char *type, const char *suffix)
{
    int rc = buf_puts(b, ",\n{\"id\":") || buf_putc(b, '"') || buf_puts(b, m->id) ||
             buf_puts(b, suffix) ||
             buf_printf(b,
                        "\",\"type\":\"%s\",\"source\":\"spp\","
                        "\"source-layer\":\"%s\",\"minzoom\":",
                        type, m->l->id) ||
             buf_put_double(b, m->minz, 3) || buf_puts(b, ",\"maxzoom\":") ||
             buf_put_double(b, m->maxz, 3);
    struct buf f;
    buf_init(&f);
    int has = put_rule_filter(&f, m->l, m->fts, m->r);
    if (has == 0 && !rc)
        rc = buf_puts(b, ",\"filter\":") || buf_append(b, f.data, f.len);
    else if (has != 0 && has != 1)
        rc = 1;
    buf_fini(&f);
    return rc;
}

static int put_stroke_paint(struct buf *b, const struct style_stroke *st, double offset)
{
    int rc = buf_puts(b, "\"line-color\":") || put_color(b, st->color) ||
             buf_puts(b, ",\"line-opacity\":") || buf_put_double(b, st->opacity, 3) ||
             buf_puts(b, ",\"line-width\":") || buf_put_double(b, st->width, 3);
    if (offset != 0 && !rc) rc = buf_puts(b, ",\"line-offset\":") || buf_put_double(b, -offset, 3);
    if (st->n_dash) {
        if (!rc) rc = buf_puts(b, ",\"line-dasharray\":[");
        for (int i = 0; i < st->n_dash && !rc; i++) /* MapLibre dashes are in line widths */
            rc = (i && buf_putc(b, ',')) ||
                 buf_put_double(b, st->dash[i] / (st->width > 0 ? st->width : 1), 3);
        if (!rc) rc = buf_putc(b, ']');
    }
    return rc;
}

static int put_line(struct buf *b, const struct ml_layer *m, const struct style_stroke *st,
                    double offset, const char *suffix)
{
    static const char *const caps[] = {"butt", "round", "square"};
    static const char *const joins[] = {"miter", "round", "bevel"};
    return put_head(b, m, "line", suffix) ||
           buf_printf(b, ",\"layout\":{\"line-cap\":\"%s\",\"line-join\":\"%s\"},\"paint\":{",
                      caps[st->cap], joins[st->join]) ||
           put_stroke_paint(b, st, offset) || buf_puts(b, "}}");
}

static int put_symbolizer(struct buf *b, const struct ml_layer *m)
{
    const struct symbolizer *s = m->s;
    int rc = 0;
    switch (s->kind) {
    case SYM_POLYGON:
        if (s->fill.has) {
            uint32_t c = s->fill.hatch ? s->fill.hatch_color : s->fill.color;
            double op = s->fill.hatch ? s->fill.opacity * 0.35 : s->fill.opacity;
            rc = put_head(b, m, "fill", "-fill") || buf_puts(b, ",\"paint\":{\"fill-color\":") ||
                 put_color(b, c) || buf_puts(b, ",\"fill-opacity\":") || buf_put_double(b, op, 3) ||
                 buf_puts(b, "}}");
        }
        if (!rc && s->stroke.has) rc = put_line(b, m, &s->stroke, 0, "-outline");
        return rc;
    case SYM_LINE:
        return s->stroke.has ? put_line(b, m, &s->stroke, s->offset, "") : 0;
    case SYM_POINT:
        return put_head(b, m, "circle", "") || buf_puts(b, ",\"paint\":{\"circle-radius\":") ||
               buf_put_double(b, s->size / 2, 3) || buf_puts(b, ",\"circle-color\":") ||
               put_color(b, s->fill.has ? s->fill.color : 0x808080) ||
               buf_puts(b, ",\"circle-opacity\":") ||
               buf_put_double(b, s->fill.has ? s->fill.opacity : 0, 3) ||
               buf_puts(b, ",\"circle-stroke-color\":") || put_color(b, s->stroke.color) ||
               buf_puts(b, ",\"circle-stroke-width\":") ||
               buf_put_double(b, s->stroke.has ? s->stroke.width : 0, 3) || buf_puts(b, "}}");
    case SYM_TEXT: {
        if (s->label_field < 0 || s->label_field >= m->l->n_fields) return 0;
        double fs = s->font_size > 0 ? s->font_size : 12;
        rc = put_head(b, m, "symbol", "") ||
             buf_puts(b, ",\"layout\":{\"text-field\":[\"to-string\",[\"get\",") ||
             buf_put_json_str(b, m->l->fields[s->label_field].name) ||
             buf_printf(b, "]],\"text-font\":[\"%s\"],\"text-size\":",
                        s->bold ? TILES_FONT_BOLD : TILES_FONT) ||
             buf_put_double(b, fs, 2) ||
             buf_printf(b, ",\"symbol-placement\":\"%s\"", s->line_placement ? "line" : "point");
        if (!s->line_placement && !rc)
            rc = buf_puts(b, ",\"text-offset\":[") || buf_put_double(b, s->disp_x / fs, 3) ||
                 buf_putc(b, ',') || buf_put_double(b, -s->disp_y / fs, 3) || buf_putc(b, ']');
        if (!rc)
            rc = buf_puts(b, "},\"paint\":{\"text-color\":") ||
                 put_color(b, s->fill.has ? s->fill.color : 0) ||
                 buf_puts(b, ",\"text-opacity\":") ||
                 buf_put_double(b, s->fill.has ? s->fill.opacity : 1, 3);
        if (s->halo_radius > 0 && !rc)
            rc = buf_puts(b, ",\"text-halo-color\":") || put_color(b, s->halo_color) ||
                 buf_puts(b, ",\"text-halo-width\":") || buf_put_double(b, s->halo_radius, 2);
        return rc || buf_puts(b, "}}");
    }
    }
    return 0;
}

/* Zoom range of a rule: scale = ML_SCALE0 / 2^zoom, within the layer's catalog range. */
static int rule_zooms(const struct layer_def *l, const struct style_rule *r, double *minz,
                      double *maxz)
{
    *minz = l->minzoom;
    *maxz = l->maxzoom + 1;
    if (isfinite(r->max_scale) && r->max_scale > 0)
        *minz = fmax(*minz, log2(ML_SCALE0 / r->max_scale));
    if (r->min_scale > 0) *maxz = fmin(*maxz, log2(ML_SCALE0 / r->min_scale));
    *minz = fmax(0, *minz), *maxz = fmin(24, *maxz);
    return *minz < *maxz;
}

/* The land-use overview below the layer's minzoom (tiles_overview_zooms): the fills of its
 * polygon rules over the generalized features, which carry the class field the rules choose by;
 * no outlines (they would draw the cells' edges), whatever the rules' scale ranges. */
static int put_overview(struct buf *b, const struct layer_def *l, const struct style *st, int minz,
                        int maxz)
{
    int rc = 0;
    for (int f = 0; f < st->n_fts && !rc; f++)
        for (int r = 0; r < st->fts[f].n_rules && !rc; r++)
            for (int k = 0; k < st->fts[f].rules[r].n_syms && !rc; k++) {
                const struct symbolizer *s = &st->fts[f].rules[r].syms[k];
                if (s->kind != SYM_POLYGON || !s->fill.has) continue;
                struct ml_layer m = {l, &st->fts[f], &st->fts[f].rules[r], s, "", minz, maxz + 1};
                snprintf(m.id, sizeof m.id, "%s-%d-%d-%d-overview", l->id, f, r, k);
                uint32_t c = s->fill.hatch ? s->fill.hatch_color : s->fill.color;
                double op = s->fill.hatch ? s->fill.opacity * 0.35 : s->fill.opacity;
                rc = put_head(b, &m, "fill", "-fill") ||
                     buf_puts(b, ",\"paint\":{\"fill-color\":") || put_color(b, c) ||
                     buf_puts(b, ",\"fill-opacity\":") || buf_put_double(b, op, 3) ||
                     buf_puts(b, "}}");
            }
    return rc;
}

static int put_layer_style(struct buf *b, const struct layer_def *l, const struct style *st,
                           enum role role)
{
    int rc = 0, minz, maxz;
    if (tiles_overview_zooms(l, role, &minz, &maxz)) rc = put_overview(b, l, st, minz, maxz);
    for (int f = 0; f < st->n_fts && !rc; f++)
        for (int r = 0; r < st->fts[f].n_rules && !rc; r++)
            for (int k = 0; k < st->fts[f].rules[r].n_syms && !rc; k++) {
                struct ml_layer m = {
                    l, &st->fts[f], &st->fts[f].rules[r], &st->fts[f].rules[r].syms[k], "", 0, 0};
                if (!rule_zooms(l, m.r, &m.minz, &m.maxz)) continue;
                snprintf(m.id, sizeof m.id, "%s-%d-%d-%d", l->id, f, r, k);
                rc = put_symbolizer(b, &m);
            }
    return rc;
}

int tiles_style(struct request *req, struct response *res, struct err *err)
{
    const char *name = req_param(req, "name");
    const char *spec = name && strcmp(name, "default") == 0 ? "all" : name;
    struct tile_layers tl;
    int rc = tiles_parse_layers(&req->cfg->catalog, spec, req->role, &tl, err);
    if (rc) return rc;
    struct buf *b = &res->body;
    rc = buf_puts(b, "{\"version\":8,\"name\":") || buf_put_json_str(b, name) ||
         buf_puts(b, ",\"sources\":{\"spp\":{\"type\":\"vector\",\"url\":\"") ||
         buf_puts(b, req->base_url) || buf_puts(b, "/tiles/") || buf_puts(b, spec) ||
         buf_puts(b, ".json\"}},\"glyphs\":\"") || buf_puts(b, req->base_url) ||
         buf_puts(b, "/fonts/{fontstack}/{range}.pbf\",\"layers\":[\n{\"id\":\"background\","
                     "\"type\":\"background\",\"paint\":{\"background-color\":\"#F3F1EC\"}}");
    for (int i = 0; i < tl.n && !rc; i++) {
        const struct style *st = render_style(tl.layers[i], NULL);
        if (!st || req->role < st->min_role) continue;
        rc = put_layer_style(b, tl.layers[i], st, req->role);
    }
    if (!rc) rc = buf_puts(b, "\n]}\n");
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    resp_set(res, 200, "application/json");
    resp_header(res, "Cache-Control", "public, no-cache");
    return 0;
}
