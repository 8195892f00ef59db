/* SPDX-License-Identifier: MIT */
/* style.c: SLD 1.0 / SE 1.1 into struct style (the subset a planner's QGIS export uses:
 * NamedLayer/UserStyle, FeatureTypeStyle, Rule with Filter or ElseFilter and scale limits,
 * Polygon/Line/Point/TextSymbolizer). Rule selection per feature and the registry of the styles
 * in styles/ loaded at start-up are in style_rules.c. The XML is parsed from memory with no DTD, no
 * entities and no network (a DOCTYPE is refused), with size and depth limits; an element outside
 * the subset is an error with file:line, never silently ignored (SLD parsers were the source of
 * MapServer CVEs). */
#include "render_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

struct sparse {
    const char *source;
    const struct catalog *cat;
    const struct layer_def *layer;
    enum role role;
    const struct style_limits *lim;
    struct err *err;
    int n_rules;
};

static int perr(struct sparse *p, xmlNodePtr n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct sparse *p, xmlNodePtr n, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_setl(p->err, ERR_PARAM, "SLD", "%s:%ld: %s", p->source, n ? xmlGetLineNo(n) : 0L,
                    msg);
}

static int is(xmlNodePtr n, const char *name)
{
    return strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr next_elem(xmlNodePtr n)
{
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE) return n;
    return NULL;
}
#define FOR_CHILDREN(c, e) for (xmlNodePtr c = next_elem((e)->children); c; c = next_elem(c->next))

/* Text content of an element, or of its single ogc:Literal child; trimmed into out. */
static int elem_text(struct sparse *p, xmlNodePtr e, char *out, size_t cap)
{
    FOR_CHILDREN(c, e)
    {
        if (!is(c, "Literal"))
            return perr(p, c, "unsupported expression <%s> in <%s>", (const char *)c->name,
                        (const char *)e->name);
    }
    xmlChar *t = xmlNodeGetContent(e);
    const char *s = t ? (const char *)t : "";
    s += strspn(s, " \t\r\n");
    size_t len = strlen(s);
    while (len && strchr(" \t\r\n", s[len - 1]))
        len--;
    if (len >= cap) {
        xmlFree(t);
        return perr(p, e, "value of <%s> too long", (const char *)e->name);
    }
    memcpy(out, s, len);
    out[len] = '\0';
    xmlFree(t);
    return 0;
}

static int elem_double(struct sparse *p, xmlNodePtr e, double lo, double hi, double *out)
{
    char t[64];
    int rc = elem_text(p, e, t, sizeof t);
    if (rc) return rc;
    if (str_to_double(t, out) || !isfinite(*out) || *out < lo || *out > hi)
        return perr(p, e, "<%s> wants a number, got \"%s\"", (const char *)e->name, t);
    return 0;
}

static int parse_color(const char *s, uint32_t *out)
{
    if (s[0] != '#' || strlen(s) != 7) return -1;
    uint32_t v = 0;
    for (int i = 1; i < 7; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* One <SvgParameter name=".."> or <CssParameter name="..">: name into pname, value into val. */
static int param(struct sparse *p, xmlNodePtr c, char *pname, size_t pcap, char *val, size_t vcap)
{
    if (!is(c, "SvgParameter") && !is(c, "CssParameter"))
        return perr(p, c, "unsupported element <%s> in <%s>", (const char *)c->name,
                    (const char *)c->parent->name);
    xmlChar *n = xmlGetProp(c, (const xmlChar *)"name");
    if (!n || strlen((const char *)n) >= pcap) {
        xmlFree(n);
        return perr(p, c, "<%s> needs a name", (const char *)c->name);
    }
    snprintf(pname, pcap, "%s", (const char *)n);
    xmlFree(n);
    return elem_text(p, c, val, vcap);
}

static int param_number(struct sparse *p, xmlNodePtr c, const char *v, double lo, double hi,
                        double *out)
{
    if (str_to_double(v, out) || !isfinite(*out) || *out < lo || *out > hi)
        return perr(p, c, "bad number \"%s\"", v);
    return 0;
}

static int parse_dash(struct sparse *p, xmlNodePtr c, const char *v, struct style_stroke *s)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", v);
    s->n_dash = 0;
    for (char *save = NULL, *tok = strtok_r(tmp, " ,", &save); tok;
         tok = strtok_r(NULL, " ,", &save)) {
        double d;
        if (s->n_dash == STYLE_MAX_DASH || str_to_double(tok, &d) || !(d >= 0 && d <= 1000))
            return perr(p, c, "bad stroke-dasharray \"%s\"", v);
        s->dash[s->n_dash++] = d;
    }
    return 0;
}

static int parse_stroke(struct sparse *p, xmlNodePtr e, struct style_stroke *s)
{
    s->has = 1, s->color = 0x000000, s->opacity = 1, s->width = 1;
    s->cap = CAP_BUTT, s->join = JOIN_MITER;
    FOR_CHILDREN(c, e)
    {
        char n[32], v[128];
        int rc = param(p, c, n, sizeof n, v, sizeof v);
        if (rc) return rc;
        if (!strcmp(n, "stroke")) {
            if (parse_color(v, &s->color)) return perr(p, c, "bad colour \"%s\"", v);
        } else if (!strcmp(n, "stroke-width")) {
            if ((rc = param_number(p, c, v, 0, 200, &s->width))) return rc;
        } else if (!strcmp(n, "stroke-opacity")) {
            if ((rc = param_number(p, c, v, 0, 1, &s->opacity))) return rc;
        } else if (!strcmp(n, "stroke-dasharray")) {
            if ((rc = parse_dash(p, c, v, s))) return rc;
        } else if (!strcmp(n, "stroke-linecap")) {
            s->cap = !strcmp(v, "round") ? CAP_ROUND : !strcmp(v, "square") ? CAP_SQUARE : CAP_BUTT;
        } else if (!strcmp(n, "stroke-linejoin")) {
            s->join = !strcmp(v, "round")   ? JOIN_ROUND
                      : !strcmp(v, "bevel") ? JOIN_BEVEL
                                            : JOIN_MITER;
        } else if (strcmp(n, "stroke-dashoffset") != 0) {
            return perr(p, c, "unsupported stroke parameter \"%s\"", n);
        }
    }
    return 0;
}

static const char *const hatch_names[] = {NULL,
                                          "shape://slash",
                                          "shape://backslash",
                                          "shape://horline",
                                          "shape://vertline",
                                          "shape://times",
                                          "shape://plus",
                                          "shape://dot"};
static const char *const mark_names[] = {"circle", "square", "triangle", "star", "cross", "x"};

/* <Mark>: WellKnownName, Fill, Stroke. */
static int parse_mark(struct sparse *p, xmlNodePtr e, char *wkn, size_t cap, struct style_fill *f,
                      struct style_stroke *s)
{
    wkn[0] = '\0';
    FOR_CHILDREN(c, e)
    {
        int rc = 0;
        if (is(c, "WellKnownName"))
            rc = elem_text(p, c, wkn, cap);
        else if (is(c, "Fill")) {
            FOR_CHILDREN(d, c)
            {
                char n[32], v[64];
                if ((rc = param(p, d, n, sizeof n, v, sizeof v))) return rc;
                f->has = 1;
                if (!strcmp(n, "fill")) {
                    if (parse_color(v, &f->color)) return perr(p, d, "bad colour \"%s\"", v);
                } else if (!strcmp(n, "fill-opacity")) {
                    if ((rc = param_number(p, d, v, 0, 1, &f->opacity))) return rc;
                } else
                    return perr(p, d, "unsupported fill parameter \"%s\"", n);
            }
            f->has = 1;
        } else if (is(c, "Stroke"))
            rc = parse_stroke(p, c, s);
        else
            rc = perr(p, c, "unsupported element <%s> in <Mark>", (const char *)c->name);
        if (rc) return rc;
    }
    return 0;
}

/* <Graphic>: one Mark, Size, Rotation, Opacity. For fills (hatch=1) the mark names a hatch. */
static int parse_graphic(struct sparse *p, xmlNodePtr e, struct symbolizer *sym, int hatch)
{
    char wkn[64] = "square";
    struct style_fill mf = {.has = 0, .color = 0x808080, .opacity = 1};
    struct style_stroke ms = {0};
    double size = hatch ? 8 : 6, rot = 0;
    FOR_CHILDREN(c, e)
    {
        int rc = 0;
        if (is(c, "Mark"))
            rc = parse_mark(p, c, wkn, sizeof wkn, &mf, &ms);
        else if (is(c, "Size"))
            rc = elem_double(p, c, 0, 500, &size);
        else if (is(c, "Rotation"))
            rc = elem_double(p, c, -3600, 3600, &rot);
        else if (is(c, "Opacity"))
            rc = elem_double(p, c, 0, 1, &mf.opacity);
        else if (!hatch && (is(c, "AnchorPoint") || is(c, "Displacement")))
            rc = 0;
        else
            rc = perr(p, c, "unsupported element <%s> in <Graphic>", (const char *)c->name);
        if (rc) return rc;
    }
    if (hatch) {
        struct style_fill *f = &sym->fill;
        f->hatch = HATCH_NONE;
        for (int i = 1; i < (int)ARRAY_LEN(hatch_names); i++)
            if (!strcmp(wkn, hatch_names[i])) f->hatch = (enum style_hatch)i;
        if (f->hatch == HATCH_NONE) return perr(p, e, "unsupported GraphicFill mark \"%s\"", wkn);
        f->hatch_color = ms.has ? ms.color : mf.color;
        f->hatch_width = ms.has ? ms.width : 1;
        f->hatch_size = size > 2 ? size : 2;
        return 0;
    }
    int k = -1;
    for (int i = 0; i < (int)ARRAY_LEN(mark_names); i++)
        if (!strcmp(wkn, mark_names[i])) k = i;
    if (k < 0) return perr(p, e, "unsupported mark \"%s\"", wkn);
    sym->mark = (enum style_mark)k;
    sym->size = size;
    sym->rotation = rot;
    sym->fill = mf;
    sym->stroke = ms;
    return 0;
}

static int parse_fill(struct sparse *p, xmlNodePtr e, struct symbolizer *sym)
{
    struct style_fill *f = &sym->fill;
    f->color = 0x808080, f->opacity = 1;
    int graphic = 0, solid = 0;
    FOR_CHILDREN(c, e)
    {
        int rc;
        if (is(c, "GraphicFill")) {
            graphic = 1;
            xmlNodePtr g = next_elem(c->children);
            if (!g || !is(g, "Graphic")) return perr(p, c, "GraphicFill needs a Graphic");
            if ((rc = parse_graphic(p, g, sym, 1))) return rc;
            continue;
        }
        char n[32], v[64];
        if ((rc = param(p, c, n, sizeof n, v, sizeof v))) return rc;
        if (!strcmp(n, "fill")) {
            solid = 1;
            if (parse_color(v, &f->color)) return perr(p, c, "bad colour \"%s\"", v);
        } else if (!strcmp(n, "fill-opacity")) {
            if ((rc = param_number(p, c, v, 0, 1, &f->opacity))) return rc;
        } else {
            return perr(p, c, "unsupported fill parameter \"%s\"", n);
        }
    }
    f->has = solid || !graphic; /* a GraphicFill alone draws only the hatch */
    return 0;
}

/* A property name (Label, Priority) resolved against the layer as the role sees it. */
static int property_field(struct sparse *p, xmlNodePtr e, int *field)
{
    xmlNodePtr pn = NULL;
    FOR_CHILDREN(c, e)
    {
        if (!is(c, "PropertyName") || pn)
            return perr(p, c, "unsupported expression <%s> in <%s> (one PropertyName only)",
                        (const char *)c->name, (const char *)e->name);
        pn = c;
    }
    if (!pn) return perr(p, e, "<%s> needs a PropertyName", (const char *)e->name);
    char name[128];
    int rc = elem_text(p, pn, name, sizeof name);
    if (rc) return rc;
    const char *local = strchr(name, ':') ? strchr(name, ':') + 1 : name;
    *field = access_field_index(p->layer, local, p->role);
    if (*field < 0) return perr(p, pn, "unknown property \"%s\"", local);
    return 0;
}

static int parse_font(struct sparse *p, xmlNodePtr e, struct symbolizer *sym)
{
    FOR_CHILDREN(c, e)
    {
        char n[32], v[128];
        int rc = param(p, c, n, sizeof n, v, sizeof v);
        if (rc) return rc;
        if (!strcmp(n, "font-family")) {
            free(sym->font_family);
            sym->font_family = str_dup(v);
        } else if (!strcmp(n, "font-size")) {
            if ((rc = param_number(p, c, v, 1, 200, &sym->font_size))) return rc;
        } else if (!strcmp(n, "font-style")) {
            sym->italic = !strcmp(v, "italic") || !strcmp(v, "oblique");
        } else if (!strcmp(n, "font-weight")) {
            sym->bold = !strcmp(v, "bold");
        } else {
            return perr(p, c, "unsupported font parameter \"%s\"", n);
        }
    }
    return 0;
}

static int parse_xy(struct sparse *p, xmlNodePtr e, const char *xn, const char *yn, double *x,
                    double *y)
{
    FOR_CHILDREN(c, e)
    {
        int rc;
        if (is(c, xn))
            rc = elem_double(p, c, -1000, 1000, x);
        else if (is(c, yn))
            rc = elem_double(p, c, -1000, 1000, y);
        else
            rc = perr(p, c, "unsupported element <%s> in <%s>", (const char *)c->name,
                      (const char *)e->name);
        if (rc) return rc;
    }
    return 0;
}

static int parse_placement(struct sparse *p, xmlNodePtr e, struct symbolizer *sym)
{
    FOR_CHILDREN(c, e)
    {
        int rc = 0;
        if (is(c, "PointPlacement")) {
            FOR_CHILDREN(d, c)
            {
                if (is(d, "AnchorPoint"))
                    rc = parse_xy(p, d, "AnchorPointX", "AnchorPointY", &sym->anchor_x,
                                  &sym->anchor_y);
                else if (is(d, "Displacement"))
                    rc = parse_xy(p, d, "DisplacementX", "DisplacementY", &sym->disp_x,
                                  &sym->disp_y);
                else if (is(d, "Rotation")) {
                    double r;
                    rc = elem_double(p, d, -360, 360, &r);
                    if (!rc && r != 0) rc = perr(p, d, "rotated point labels are unsupported");
                } else
                    rc = perr(p, d, "unsupported element <%s> in <PointPlacement>",
                              (const char *)d->name);
                if (rc) return rc;
            }
        } else if (is(c, "LinePlacement")) {
            sym->line_placement = 1;
            FOR_CHILDREN(d, c)
            {
                if (is(d, "PerpendicularOffset") || is(d, "IsRepeated") || is(d, "InitialGap") ||
                    is(d, "Gap") || is(d, "IsAligned") || is(d, "GeneralizeLine"))
                    continue; /* placement hints; labels follow the line's longest run */
                return perr(p, d, "unsupported element <%s> in <LinePlacement>",
                            (const char *)d->name);
            }
        } else {
            rc = perr(p, c, "unsupported element <%s> in <LabelPlacement>", (const char *)c->name);
        }
        if (rc) return rc;
    }
    return 0;
}

static int parse_text(struct sparse *p, xmlNodePtr e, struct symbolizer *sym)
{
    sym->label_field = -1, sym->priority_field = -1;
    sym->font_size = 10, sym->anchor_x = 0.5, sym->anchor_y = 0.5;
    sym->fill = (struct style_fill){.has = 1, .color = 0x000000, .opacity = 1};
    FOR_CHILDREN(c, e)
    {
        int rc = 0;
        if (is(c, "Label"))
            rc = property_field(p, c, &sym->label_field);
        else if (is(c, "Font"))
            rc = parse_font(p, c, sym);
        else if (is(c, "LabelPlacement"))
            rc = parse_placement(p, c, sym);
        else if (is(c, "Fill"))
            rc = parse_fill(p, c, sym);
        else if (is(c, "Priority"))
            rc = property_field(p, c, &sym->priority_field);
        else if (is(c, "VendorOption"))
            rc = 0; /* renderer hints of other servers */
        else if (is(c, "Halo")) {
            sym->halo_radius = 1, sym->halo_color = 0xFFFFFF, sym->halo_opacity = 1;
            FOR_CHILDREN(d, c)
            {
                if (is(d, "Radius"))
                    rc = elem_double(p, d, 0, 20, &sym->halo_radius);
                else if (is(d, "Fill")) {
                    struct symbolizer tmp = {0};
                    rc = parse_fill(p, d, &tmp);
                    sym->halo_color = tmp.fill.color, sym->halo_opacity = tmp.fill.opacity;
                } else
                    rc = perr(p, d, "unsupported element <%s> in <Halo>", (const char *)d->name);
                if (rc) return rc;
            }
        } else
            rc = perr(p, c, "unsupported element <%s> in <TextSymbolizer>", (const char *)c->name);
        if (rc) return rc;
    }
    if (sym->label_field < 0) return perr(p, e, "TextSymbolizer needs a Label");
    if (!sym->font_family) sym->font_family = str_dup("DejaVu Sans");
    return sym->font_family ? 0 : err_set(p->err, ERR_NOMEM, "out of memory");
}

static int check_uom(struct sparse *p, xmlNodePtr e)
{
    xmlChar *u = xmlGetProp(e, (const xmlChar *)"uom");
    int ok = !u || strstr((const char *)u, "pixel");
    int rc = ok ? 0 : perr(p, e, "unsupported uom \"%s\" (pixels only)", (const char *)u);
    xmlFree(u);
    return rc;
}

static int parse_symbolizer(struct sparse *p, xmlNodePtr e, struct symbolizer *sym)
{
    int rc = check_uom(p, e);
    if (rc) return rc;
    if (is(e, "TextSymbolizer")) {
        sym->kind = SYM_TEXT;
        return parse_text(p, e, sym);
    }
    sym->kind = is(e, "PolygonSymbolizer") ? SYM_POLYGON
                : is(e, "LineSymbolizer")  ? SYM_LINE
                                           : SYM_POINT;
    FOR_CHILDREN(c, e)
    {
        if (is(c, "Fill") && sym->kind == SYM_POLYGON)
            rc = parse_fill(p, c, sym);
        else if (is(c, "Stroke") && sym->kind != SYM_POINT)
            rc = parse_stroke(p, c, &sym->stroke);
        else if (is(c, "PerpendicularOffset") && sym->kind == SYM_LINE)
            rc = elem_double(p, c, -100, 100, &sym->offset);
        else if (is(c, "Graphic") && sym->kind == SYM_POINT)
            rc = parse_graphic(p, c, sym, 0);
        else if (is(c, "Name") || is(c, "Description"))
            rc = 0;
        else
            rc = perr(p, c, "unsupported element <%s> in <%s>", (const char *)c->name,
                      (const char *)e->name);
        if (rc) return rc;
    }
    if (sym->kind == SYM_POINT && sym->size <= 0) sym->size = 6;
    return 0;
}

static void sym_fini(struct symbolizer *s)
{
    free(s->font_family);
}

static char *desc_title(xmlNodePtr e)
{
    FOR_CHILDREN(c, e)
    if (is(c, "Title")) {
        xmlChar *t = xmlNodeGetContent(c);
        char *s = str_dup(t ? (const char *)t : "");
        xmlFree(t);
        return s;
    }
    return NULL;
}

static int set_text(char **dst, xmlNodePtr e)
{
    xmlChar *t = xmlNodeGetContent(e);
    free(*dst);
    *dst = str_dup(t ? (const char *)t : "");
    xmlFree(t);
    return *dst ? 0 : ERR_NOMEM;
}

static int add_sym(struct sparse *p, struct style_rule *r, xmlNodePtr c)
{
    struct symbolizer *s = realloc(r->syms, (size_t)(r->n_syms + 1) * sizeof *s);
    if (!s) return err_set(p->err, ERR_NOMEM, "out of memory");
    r->syms = s;
    memset(&s[r->n_syms], 0, sizeof *s);
    r->n_syms++;
    return parse_symbolizer(p, c, &s[r->n_syms - 1]);
}

static int parse_rule(struct sparse *p, xmlNodePtr e, struct style_rule *r)
{
    r->max_scale = INFINITY;
    r->line = (int)xmlGetLineNo(e);
    if (++p->n_rules > p->lim->max_rules) return perr(p, e, "too many rules");
    FOR_CHILDREN(c, e)
    {
        int rc = 0;
        if (is(c, "Name"))
            rc = set_text(&r->name, c) ? ERR_NOMEM : 0;
        else if (is(c, "Title"))
            rc = set_text(&r->title, c) ? ERR_NOMEM : 0;
        else if (is(c, "Description")) {
            free(r->title);
            r->title = desc_title(c);
        } else if (is(c, "Abstract") || is(c, "LegendGraphic"))
            rc = 0;
        else if (is(c, "Filter")) {
            if (r->filter)
                rc = perr(p, c, "two filters in one rule");
            else
                rc = sld_filter_parse(c, p->source, p->layer, p->role, p->lim->max_filter_nodes,
                                      &r->filter, p->err);
        } else if (is(c, "ElseFilter"))
            r->is_else = 1;
        else if (is(c, "MinScaleDenominator"))
            rc = elem_double(p, c, 0, 1e12, &r->min_scale);
        else if (is(c, "MaxScaleDenominator"))
            rc = elem_double(p, c, 0, 1e12, &r->max_scale);
        else if (is(c, "PolygonSymbolizer") || is(c, "LineSymbolizer") ||
                 is(c, "PointSymbolizer") || is(c, "TextSymbolizer"))
            rc = add_sym(p, r, c);
        else
            rc = perr(p, c, "unsupported element <%s> in <Rule>", (const char *)c->name);
        if (rc) return rc == ERR_NOMEM ? err_set(p->err, ERR_NOMEM, "out of memory") : rc;
    }
    if (r->filter && r->is_else) return perr(p, e, "a rule has both Filter and ElseFilter");
    return 0;
}

static void rule_fini(struct style_rule *r)
{
    free(r->name);
    free(r->title);
    sld_filter_free(r->filter);
    for (int i = 0; i < r->n_syms; i++)
        sym_fini(&r->syms[i]);
    free(r->syms);
}

static int parse_fts(struct sparse *p, xmlNodePtr e, struct style_fts *f)
{
    FOR_CHILDREN(c, e)
    {
        int rc = 0;
        if (is(c, "Rule")) {
            struct style_rule *r = realloc(f->rules, (size_t)(f->n_rules + 1) * sizeof *r);
            if (!r) return err_set(p->err, ERR_NOMEM, "out of memory");
            f->rules = r;
            memset(&r[f->n_rules], 0, sizeof *r);
            f->n_rules++;
            rc = parse_rule(p, c, &r[f->n_rules - 1]);
        } else if (is(c, "Name") || is(c, "Title") || is(c, "Abstract") || is(c, "Description") ||
                   is(c, "FeatureTypeName") || is(c, "SemanticTypeIdentifier")) {
            rc = 0;
        } else {
            rc =
                perr(p, c, "unsupported element <%s> in <FeatureTypeStyle>", (const char *)c->name);
        }
        if (rc) return rc;
    }
    return 0;
}

void style_free(struct style *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_fts; i++) {
        for (int j = 0; j < s->fts[i].n_rules; j++)
            rule_fini(&s->fts[i].rules[j]);
        free(s->fts[i].rules);
    }
    free(s->fts);
    free(s->name), free(s->title), free(s->abstract), free(s->fields), free(s->source);
    free(s->filter_fields);
    free(s);
}

void style_free_all(struct style **s, int n)
{
    for (int i = 0; i < n; i++)
        style_free(s[i]);
    free(s);
}

static void add_field(void *ud, int field)
{
    struct style *s = ud;
    for (int i = 0; i < s->n_fields; i++)
        if (s->fields[i] == field) return;
    s->fields[s->n_fields++] = field;
}

static void add_filter_field(void *ud, int field)
{
    struct style *s = ud;
    add_field(s, field);
    for (int i = 0; i < s->n_filter_fields; i++)
        if (s->filter_fields[i] == field) return;
    s->filter_fields[s->n_filter_fields++] = field;
}

/* Fields the style reads and the lowest role that may use it. */
static int collect_fields(struct style *s)
{
    s->fields = calloc((size_t)s->layer->n_fields + 1, sizeof *s->fields);
    s->filter_fields = calloc((size_t)s->layer->n_fields + 1, sizeof *s->filter_fields);
    if (!s->fields || !s->filter_fields) return -1;
    for (int i = 0; i < s->n_fts; i++)
        for (int j = 0; j < s->fts[i].n_rules; j++) {
            struct style_rule *r = &s->fts[i].rules[j];
            sld_filter_fields(r->filter, add_filter_field, s);
            for (int k = 0; k < r->n_syms; k++) {
                if (r->syms[k].kind != SYM_TEXT) continue;
                add_field(s, r->syms[k].label_field);
                if (r->syms[k].priority_field >= 0) add_field(s, r->syms[k].priority_field);
            }
        }
    s->min_role = s->layer->min_role;
    for (int i = 0; i < s->n_fields; i++)
        if (s->layer->fields[s->fields[i]].role > s->min_role)
            s->min_role = s->layer->fields[s->fields[i]].role;
    return 0;
}

static int parse_user_style(struct sparse *p, xmlNodePtr e, struct style *s)
{
    FOR_CHILDREN(c, e)
    {
        int rc = 0;
        if (is(c, "Name"))
            rc = set_text(&s->name, c);
        else if (is(c, "Title"))
            rc = set_text(&s->title, c);
        else if (is(c, "Abstract"))
            rc = set_text(&s->abstract, c);
        else if (is(c, "Description")) {
            FOR_CHILDREN(d, c)
            {
                if (!rc && is(d, "Title"))
                    rc = set_text(&s->title, d);
                else if (!rc && is(d, "Abstract"))
                    rc = set_text(&s->abstract, d);
            }
        } else if (is(c, "IsDefault"))
            rc = 0;
        else if (is(c, "FeatureTypeStyle")) {
            struct style_fts *f = realloc(s->fts, (size_t)(s->n_fts + 1) * sizeof *f);
            if (!f) return err_set(p->err, ERR_NOMEM, "out of memory");
            s->fts = f;
            memset(&f[s->n_fts], 0, sizeof *f);
            s->n_fts++;
            int r = parse_fts(p, c, &f[s->n_fts - 1]);
            if (r) return r;
        } else {
            return perr(p, c, "unsupported element <%s> in <UserStyle>", (const char *)c->name);
        }
        if (rc) return err_set(p->err, ERR_NOMEM, "out of memory");
    }
    if (s->n_fts == 0) return perr(p, e, "UserStyle has no FeatureTypeStyle");
    return 0;
}

/* <NamedLayer>: Name picks the layer (must match `want` when given), one UserStyle. */
static int parse_named_layer(struct sparse *p, xmlNodePtr e, const struct layer_def *want,
                             struct style **out)
{
    xmlNodePtr us = NULL;
    const struct layer_def *layer = want;
    FOR_CHILDREN(c, e)
    {
        if (is(c, "Name")) {
            char name[128];
            int rc = elem_text(p, c, name, sizeof name);
            if (rc) return rc;
            const struct layer_def *l = catalog_layer(p->cat, name);
            if (!l || !access_layer(l, p->role)) {
                rc = perr(p, c, "unknown layer \"%s\"", name);
                p->err->code = ERR_NOT_FOUND;
                return rc;
            }
            if (want && l != want)
                return perr(p, c, "NamedLayer \"%s\" is not layer \"%s\"", name, want->id);
            layer = l;
        } else if (is(c, "UserStyle")) {
            if (us) return perr(p, c, "one UserStyle per NamedLayer is supported");
            us = c;
        } else if (is(c, "Description") || is(c, "Title") || is(c, "Abstract")) {
            continue;
        } else {
            return perr(p, c, "unsupported element <%s> in <%s>", (const char *)c->name,
                        (const char *)e->name);
        }
    }
    if (!layer) return perr(p, e, "NamedLayer needs a Name");
    if (!us) return perr(p, e, "NamedLayer has no UserStyle");
    struct style *s = calloc(1, sizeof *s);
    if (!s) return err_set(p->err, ERR_NOMEM, "out of memory");
    s->layer = layer;
    p->layer = layer;
    s->source = str_dup(p->source);
    int rc = parse_user_style(p, us, s);
    if (!rc && !s->name) s->name = str_dup(layer->style ? layer->style : layer->id);
    if (!rc && (!s->name || collect_fields(s))) rc = err_set(p->err, ERR_NOMEM, "out of memory");
    if (rc) {
        style_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int xml_depth_ok(xmlNodePtr n, int depth, int max)
{
    if (depth > max) return 0;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !xml_depth_ok(c, depth + 1, max)) return 0;
    return 1;
}

/* Parses the document safely: size limit, no DOCTYPE, no entities, no network. */
static int read_doc(const char *xml, size_t len, const char *source, const struct style_limits *lim,
                    xmlDocPtr *out, struct err *err)
{
    if (len > lim->max_size)
        return err_setl(err, ERR_PARAM, "SLD", "%s: SLD larger than %zu bytes", source,
                        lim->max_size);
    if (len > INT32_MAX) return err_setl(err, ERR_PARAM, "SLD", "%s: too large", source);
    /* DTDs and entities are refused outright (billion laughs, XXE). */
    if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8))
        return err_setl(err, ERR_PARAM, "SLD", "%s: DOCTYPE and entities are not allowed", source);
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, source, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                                      XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (!doc) {
        const xmlError *xe = xmlGetLastError();
        return err_setl(err, ERR_PARAM, "SLD", "%s:%d: not well-formed XML: %s", source,
                        xe ? xe->line : 0, xe && xe->message ? xe->message : "parse error");
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (doc->intSubset || !root || !xml_depth_ok(root, 1, lim->max_depth)) {
        xmlFreeDoc(doc);
        return err_setl(err, ERR_PARAM, "SLD", "%s: DOCTYPE or nesting deeper than %d", source,
                        lim->max_depth);
    }
    if (!is(root, "StyledLayerDescriptor")) {
        long line = xmlGetLineNo(root);
        xmlFreeDoc(doc);
        return err_setl(err, ERR_PARAM, "SLD", "%s:%ld: root is not StyledLayerDescriptor", source,
                        line);
    }
    *out = doc;
    return 0;
}

int style_parse_all(const char *xml, size_t len, const char *source, const struct catalog *cat,
                    enum role role, const struct style_limits *lim, struct style ***out, int *n,
                    struct err *err)
{
    xmlDocPtr doc = NULL;
    int rc = read_doc(xml, len, source, lim, &doc, err);
    if (rc) return rc;
    struct sparse p = {source, cat, NULL, role, lim, err, 0};
    struct style **list = NULL;
    int count = 0;
    FOR_CHILDREN(c, xmlDocGetRootElement(doc))
    {
        if (is(c, "Name") || is(c, "Title") || is(c, "Abstract") || is(c, "Description")) continue;
        if (!is(c, "NamedLayer")) {
            rc = perr(&p, c, "unsupported element <%s> in <StyledLayerDescriptor>",
                      (const char *)c->name);
            break;
        }
        struct style **l = realloc(list, (size_t)(count + 1) * sizeof *l);
        if (!l) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            break;
        }
        list = l;
        p.n_rules = 0;
        if ((rc = parse_named_layer(&p, c, NULL, &list[count]))) break;
        count++;
    }
    if (!rc && count == 0) rc = err_setl(err, ERR_PARAM, "SLD", "%s: no NamedLayer", source);
    xmlFreeDoc(doc);
    if (rc) {
        style_free_all(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

int style_parse(const char *xml, size_t len, const char *source, const struct catalog *cat,
                const struct layer_def *layer, enum role role, const struct style_limits *lim,
                struct style **out, struct err *err)
{
    struct style **list = NULL;
    int n = 0;
    int rc = style_parse_all(xml, len, source, cat, role, lim, &list, &n, err);
    if (rc) return rc;
    if (n != 1 || (layer && list[0]->layer != layer)) {
        style_free_all(list, n);
        return err_setl(err, ERR_PARAM, "SLD", "%s: expected one NamedLayer for layer \"%s\"",
                        source, layer ? layer->id : "?");
    }
    *out = list[0];
    free(list);
    return 0;
}

void style_limits_default(const struct config *cfg, struct style_limits *lim)
{
    lim->max_size = cfg && cfg->limits.max_body ? cfg->limits.max_body : 1 << 20;
    lim->max_depth = 40;
    lim->max_rules = 1000;
    lim->max_filter_nodes =
        cfg && cfg->limits.max_filter_nodes ? cfg->limits.max_filter_nodes : 1000;
}
