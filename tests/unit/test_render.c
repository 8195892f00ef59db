/* SPDX-License-Identifier: MIT */
/* test_render.c: SLD parsing (the 24 styles of styles/, symbolizer values, scale limits),
 * rejections with file:line (unsupported elements, DOCTYPE, hidden fields, bad values), rule
 * selection (filters, ElseFilter, scales, LIKE on "ODT+CLN"), encoders round-tripping
 * through libpng, wide strokes against GEOS buffers and cairo's own stroker. */
#include <geos_c.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "config/config.h"
#include "render/render.h"
#include "render/render_int.h"

static struct catalog cat;
static struct style_limits lim = {1 << 20, 40, 1000, 1000};

#define HEAD                                                                                       \
    "<StyledLayerDescriptor version=\"1.1.0\" xmlns=\"http://www.opengis.net/sld\""                \
    " xmlns:se=\"http://www.opengis.net/se\" xmlns:ogc=\"http://www.opengis.net/ogc\">\n"          \
    "<NamedLayer><se:Name>%s</se:Name><UserStyle><se:Name>t</se:Name>\n"                           \
    "<se:FeatureTypeStyle>\n"
#define TAIL "</se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>\n"

static int parse(const char *layer, const char *rules, enum role role, struct style **s,
                 struct err *err)
{
    char xml[8192];
    snprintf(xml, sizeof xml, HEAD "%s" TAIL, layer, rules);
    err_clear(err);
    return style_parse(xml, strlen(xml), "t.sld", &cat, NULL, role, &lim, s, err);
}

static struct value text(const char *s)
{
    return (struct value){.type = VAL_TEXT, .s = s, .len = (int)strlen(s)};
}

static void test_styles_dir(void)
{
    int n = 0;
    for (int i = 0; i < cat.n_layers; i++) {
        const struct layer_def *l = &cat.layers[i];
        char path[256];
        snprintf(path, sizeof path, "styles/%s.sld", l->style ? l->style : l->id);
        size_t len;
        struct err err;
        err_clear(&err);
        char *xml = str_read_file(path, &len, &err);
        CHECK(xml != NULL);
        if (!xml) continue;
        struct style *s = NULL;
        int rc = style_parse(xml, len, path, &cat, l, ROLE_ADMIN, &lim, &s, &err);
        if (rc) fprintf(stderr, "%s\n", err.msg);
        CHECK(rc == 0);
        if (!rc) {
            CHECK(s->layer == l && s->n_fts >= 1 && s->min_role == l->min_role);
            n++;
        }
        style_free(s);
        free(xml);
    }
    CHECK(n == 24);
}

/* Land use: one rule per code in the code list's colour, multi-codes by their first code. */
static void test_land_use_rules(void)
{
    size_t len;
    struct err err;
    err_clear(&err);
    char *xml = str_read_file("styles/cadastral_parcels.sld", &len, &err);
    const struct layer_def *l = catalog_layer(&cat, "cadastral_parcels");
    struct style *s = NULL;
    CHECK(xml && style_parse(xml, len, "p", &cat, l, ROLE_PUBLIC, &lim, &s, &err) == 0);
    free(xml);
    if (!s) return;
    int f = layer_field_index(l, "lu_display");
    const struct codelist *cl = catalog_codelist(&cat, "land_use");
    const char *probe[] = {"ODT", "CLN", "LUC", "ODT+CLN", "SKC", "XYZ"};
    for (size_t i = 0; i < ARRAY_LEN(probe); i++) {
        struct value v = text(probe[i]);
        int r = style_next_rule(s, 0, -1, &v, &f, 1, 1000);
        CHECK(r >= 0);
        if (r < 0) continue;
        const struct style_rule *rule = &s->fts[0].rules[r];
        char first[8];
        snprintf(first, sizeof first, "%.3s", probe[i]);
        const struct code_def *c = codelist_find(cl, first, NULL);
        if (c) {
            CHECK(strcmp(rule->name, first) == 0);
            CHECK(rule->syms[0].kind == SYM_POLYGON && rule->syms[0].fill.color == c->rgb);
        } else {
            CHECK(rule->is_else); /* unknown code: the ElseFilter rule */
        }
        CHECK(style_next_rule(s, 0, r, &v, &f, 1, 1000) == -1); /* one rule per feature */
    }
    /* Out of scale: nothing. */
    struct value v = text("ODT");
    CHECK(style_next_rule(s, 0, -1, &v, &f, 1, 5e6) == -1);
    CHECK(!style_visible(s, 5e6) && style_visible(s, 1000));
    style_free(s);
}

static void test_symbolizers(void)
{
    struct style *s = NULL;
    struct err err;
    int rc =
        parse("roads",
              "<se:Rule><se:Name>a</se:Name><se:MinScaleDenominator>100</se:MinScaleDenominator>"
              "<se:MaxScaleDenominator>5000</se:MaxScaleDenominator>"
              "<ogc:Filter><ogc:And><ogc:PropertyIsEqualTo><ogc:PropertyName>road_class"
              "</ogc:PropertyName><ogc:Literal>hem</ogc:Literal></ogc:PropertyIsEqualTo>"
              "<ogc:PropertyIsGreaterThan><ogc:PropertyName>width_m</ogc:PropertyName>"
              "<ogc:Literal>3</ogc:Literal></ogc:PropertyIsGreaterThan></ogc:And></ogc:Filter>"
              "<se:LineSymbolizer><se:Stroke><se:SvgParameter name=\"stroke\">#FF0000"
              "</se:SvgParameter><se:SvgParameter name=\"stroke-width\">2.5</se:SvgParameter>"
              "<se:SvgParameter name=\"stroke-dasharray\">10 4</se:SvgParameter>"
              "<se:SvgParameter name=\"stroke-linecap\">round</se:SvgParameter></se:Stroke>"
              "<se:PerpendicularOffset>3</se:PerpendicularOffset></se:LineSymbolizer>"
              "<se:TextSymbolizer><se:Label><ogc:PropertyName>name</ogc:PropertyName>"
              "</se:Label><se:Font><se:SvgParameter name=\"font-size\">12</se:SvgParameter>"
              "<se:SvgParameter name=\"font-weight\">bold</se:SvgParameter></se:Font>"
              "<se:LabelPlacement><se:LinePlacement/></se:LabelPlacement><se:Halo><se:Radius>2"
              "</se:Radius></se:Halo></se:TextSymbolizer></se:Rule>"
              "<se:Rule><se:ElseFilter/><se:PointSymbolizer><se:Graphic><se:Mark>"
              "<se:WellKnownName>star</se:WellKnownName></se:Mark><se:Size>9</se:Size>"
              "<se:Rotation>45</se:Rotation></se:Graphic></se:PointSymbolizer></se:Rule>",
              ROLE_PUBLIC, &s, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    CHECK(rc == 0);
    if (rc) return;
    const struct style_rule *r = &s->fts[0].rules[0];
    CHECK(r->min_scale == 100 && r->max_scale == 5000 && r->n_syms == 2);
    const struct symbolizer *y = &r->syms[0];
    CHECK(y->kind == SYM_LINE && y->stroke.color == 0xFF0000 && y->stroke.width == 2.5);
    CHECK(y->stroke.n_dash == 2 && y->stroke.dash[0] == 10 && y->stroke.cap == CAP_ROUND);
    CHECK(y->offset == 3);
    y = &r->syms[1];
    CHECK(y->kind == SYM_TEXT && y->bold && y->font_size == 12 && y->line_placement);
    CHECK(y->halo_radius == 2 && y->label_field == layer_field_index(s->layer, "name"));
    CHECK(s->fts[0].rules[1].is_else && s->fts[0].rules[1].syms[0].mark == MARK_STAR);
    CHECK(s->fts[0].rules[1].syms[0].rotation == 45);
    /* Rule selection: both conditions, else otherwise. */
    int fields[2] = {layer_field_index(s->layer, "road_class"),
                     layer_field_index(s->layer, "width_m")};
    struct value v[2] = {text("hem"), {.type = VAL_REAL, .d = 4}};
    CHECK(style_next_rule(s, 0, -1, v, fields, 2, 1000) == 0);
    v[1].d = 2;
    CHECK(style_next_rule(s, 0, -1, v, fields, 2, 1000) == 1);
    v[1].type = VAL_NULL;
    CHECK(style_next_rule(s, 0, -1, v, fields, 2, 1000) == 1);
    v[1] = (struct value){.type = VAL_REAL, .d = 4};
    CHECK(style_next_rule(s, 0, -1, v, fields, 2, 50) == 1); /* rule 0 is out of scale */
    style_free(s);
}

/* Every rejection names the file and line of the offending element. */
static void test_rejections(void)
{
    struct style *s = NULL;
    struct err err;
    CHECK(parse("roads", "<se:Rule>\n<se:RasterSymbolizer/></se:Rule>", ROLE_PUBLIC, &s, &err));
    CHECK(strstr(err.msg, "t.sld:5:") && strstr(err.msg, "RasterSymbolizer"));
    CHECK(parse("roads",
                "<se:Rule><se:LineSymbolizer><se:Stroke><se:SvgParameter name=\"stroke\">red"
                "</se:SvgParameter></se:Stroke></se:LineSymbolizer></se:Rule>",
                ROLE_PUBLIC, &s, &err));
    CHECK(strstr(err.msg, "t.sld:4:") && strstr(err.msg, "colour"));
    /* A hidden field and a missing one: the same error. */
#define RULE_ON(p)                                                                                 \
    "<se:Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>" p                             \
    "</ogc:PropertyName><ogc:Literal>x</ogc:Literal></ogc:PropertyIsEqualTo>"                      \
    "</ogc:Filter><se:PolygonSymbolizer/></se:Rule>"
    const char *r1 = RULE_ON("owner_name"), *r2 = RULE_ON("no_such");
    char m1[256], m2[256];
    CHECK(parse("cadastral_parcels", r1, ROLE_PUBLIC, &s, &err) == ERR_PARAM);
    snprintf(m1, sizeof m1, "%s", err.msg);
    CHECK(parse("cadastral_parcels", r2, ROLE_PUBLIC, &s, &err) == ERR_PARAM);
    snprintf(m2, sizeof m2, "%s", err.msg);
    CHECK(strstr(m1, "unknown property") && strstr(m2, "unknown property"));
    CHECK(parse("cadastral_parcels", r1, ROLE_PLANNER, &s, &err) == 0); /* planners may */
    style_free(s);
    /* Label on a hidden field. */
    CHECK(parse("cadastral_parcels",
                "<se:Rule><se:TextSymbolizer><se:Label><ogc:PropertyName>owner_name"
                "</ogc:PropertyName></se:Label></se:TextSymbolizer></se:Rule>",
                ROLE_INVESTOR, &s, &err) == ERR_PARAM);
    /* Spatial operators in rules, DOCTYPE, entities, unknown layer, not XML, too deep. */
    CHECK(parse("roads",
                "<se:Rule><ogc:Filter><ogc:BBOX><ogc:PropertyName>geom</ogc:PropertyName>"
                "<gml:Envelope xmlns:gml=\"http://www.opengis.net/gml\"><gml:lowerCorner>0 0"
                "</gml:lowerCorner><gml:upperCorner>1 1</gml:upperCorner></gml:Envelope>"
                "</ogc:BBOX></ogc:Filter><se:LineSymbolizer/></se:Rule>",
                ROLE_PUBLIC, &s, &err) == ERR_PARAM);
    CHECK(strstr(err.msg, "t.sld:4:") != NULL);
    const char *bad[] = {
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><StyledLayerDescriptor/>",
        "<StyledLayerDescriptor><NamedLayer><Name>nope</Name><UserStyle><FeatureTypeStyle/>"
        "</UserStyle></NamedLayer></StyledLayerDescriptor>",
        "<StyledLayerDescriptor><NamedLayer>",
        "not xml at all",
        "<Other/>",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err_clear(&err);
        CHECK(style_parse(bad[i], strlen(bad[i]), "b.sld", &cat, NULL, ROLE_PUBLIC, &lim, &s,
                          &err) != 0);
        CHECK(strncmp(err.msg, "b.sld", 5) == 0);
    }
    char deep[4096] = "<StyledLayerDescriptor>";
    for (int i = 0; i < 60; i++)
        strcat(deep, "<a>");
    err_clear(&err);
    CHECK(style_parse(deep, strlen(deep), "d.sld", &cat, NULL, ROLE_PUBLIC, &lim, &s, &err) != 0);
    struct style_limits small = lim;
    small.max_size = 100;
    const char *big = HEAD TAIL HEAD TAIL;
    CHECK(style_parse(big, strlen(big), "s.sld", &cat, NULL, ROLE_PUBLIC, &small, &s, &err) != 0);
}

struct png_read {
    const unsigned char *p;
    size_t left;
};

static void read_fn(png_structp png, png_bytep out, png_size_t n)
{
    struct png_read *r = png_get_io_ptr(png);
    if (n > r->left) png_error(png, "short");
    memcpy(out, r->p, n);
    r->p += n, r->left -= n;
}

/* Encoders: a drawn image decodes back (libpng) with straight alpha. */
static void test_encode(void)
{
    struct render_image img = {calloc(4 * 8 * 4, 1), 8, 4, 32};
    uint32_t *px = (uint32_t *)img.data;
    px[0] = 0xFFFF0000; /* opaque red */
    px[1] = 0x80000080; /* half-transparent blue, premultiplied */
    struct buf out;
    buf_init(&out);
    struct err err;
    err_clear(&err);
    CHECK(render_encode(&img, 0, 0, 8, 4, RFMT_PNG, 1, 0, 0, &out, &err) == 0);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    struct png_read r = {(const unsigned char *)out.data, out.len};
    unsigned char row[32];
    if (!setjmp(png_jmpbuf(png))) {
        png_set_read_fn(png, &r, read_fn);
        png_read_info(png, info);
        CHECK(png_get_image_width(png, info) == 8 && png_get_image_height(png, info) == 4);
        png_read_row(png, row, NULL);
        CHECK(row[0] == 255 && row[1] == 0 && row[2] == 0 && row[3] == 255);
        CHECK(row[4] == 0 && row[5] == 0 && row[6] == 255 && row[7] == 128);
        CHECK(row[11] == 0); /* transparent */
    } else {
        CHECK(!"png decode failed");
    }
    png_destroy_read_struct(&png, &info, NULL);
    /* opaque: 24-bit RGB, half-transparent blue flattened onto the white background */
    buf_reset(&out);
    CHECK(render_encode(&img, 0, 0, 8, 4, RFMT_PNG, 0, 0xFFFFFF, 0, &out, &err) == 0);
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png_create_info_struct(png);
    r = (struct png_read){(const unsigned char *)out.data, out.len};
    if (!setjmp(png_jmpbuf(png))) {
        png_set_read_fn(png, &r, read_fn);
        png_read_info(png, info);
        CHECK(png_get_color_type(png, info) == PNG_COLOR_TYPE_RGB);
        png_read_row(png, row, NULL);
        CHECK(row[0] == 255 && row[1] == 0 && row[2] == 0);
        CHECK(row[3] == 127 && row[4] == 127 && row[5] == 255);
        CHECK(row[6] == 255 && row[7] == 255 && row[8] == 255); /* empty = background */
    } else {
        CHECK(!"png decode failed");
    }
    png_destroy_read_struct(&png, &info, NULL);
    for (int f = RFMT_PNG8; f <= RFMT_WEBP; f++) {
        buf_reset(&out);
        CHECK(render_encode(&img, 0, 0, 8, 4, (enum render_format)f, 0, 0xFFFFFF, 80, &out, &err) ==
                  0 &&
              out.len > 8);
    }
    CHECK(render_encode(&img, 4, 0, 8, 4, RFMT_PNG, 1, 0, 0, &out, &err) != 0); /* outside */
    buf_fini(&out);
    free(img.data);
}

/* Non-transparent pixels of a surface. */
static int inked(cairo_surface_t *s)
{
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int n = 0, w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            n += ((const uint32_t *)(d + (size_t)y * cairo_image_surface_get_stride(s)))[x] >> 24 !=
                 0;
    return n;
}

/* Draws the labels queued by fn on a fresh 200 x 60 surface; returns the inked pixels. */
static int draw_labels(const struct symbolizer *sym, int which)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 200, 60);
    cairo_t *cr = cairo_create(s);
    struct label_set *ls = label_set_new(200, 60, 0);
    const double line[] = {10, 50, 190, 10};
    switch (which) {
    case 0:
        label_add_point(ls, sym, 1, "Cần Thơ", 100, 30, 0, 1);
        break;
    case 1:
        label_add_point(ls, sym, 1, "Cần Thơ", 3, 30, 0, 1);
        break; /* would be cut */
    case 2:    /* overlapping */
        label_add_point(ls, sym, 1, "Cần Thơ", 100, 30, 0, 1);
        label_add_point(ls, sym, 1, "Cần Thơ", 104, 32, 0, 1);
        break;
    case 3:
        label_add_point(ls, sym, 1, "Cần Thơ", 100, 30, 10, 1);
        break; /* wider than room */
    case 4:
        label_add_line(ls, sym, 1, "Đường 3 Tháng 2", line, 2, 1);
        break;
    case 5:
        label_add_line(ls, sym, 1, "Đường 3 Tháng 2", line, 2, 1); /* the same twice */
        label_add_line(ls, sym, 1, "Đường 3 Tháng 2", line, 2, 1);
        break;
    case 6: { /* a long road whose middle and ends are off the image: labelled where seen */
        const double road[] = {-1500, 20, -400, 25, 3000, 35, 9000, 38};
        label_add_line(ls, sym, 1, "Đường 3 Tháng 2", road, 4, 1);
        break;
    }
    }
    label_draw(ls, cr);
    int n = inked(s);
    label_set_free(ls);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return n;
}

/* Labels: drawn inside, never cut by the edge, never on top of each other, not wider than the
 * polygon room, along lines. */
static void test_labels(void)
{
    struct symbolizer sym = {.kind = SYM_TEXT,
                             .font_family = "DejaVu Sans",
                             .font_size = 12,
                             .halo_radius = 1.5,
                             .halo_color = 0xFFFFFF,
                             .halo_opacity = 1,
                             .anchor_x = 0.5,
                             .anchor_y = 0.5,
                             .fill = {.has = 1, .color = 0x222222, .opacity = 1}};
    int one = draw_labels(&sym, 0);
    CHECK(one > 100);
    CHECK(draw_labels(&sym, 1) == 0);
    CHECK(draw_labels(&sym, 2) == one);
    CHECK(draw_labels(&sym, 3) == 0);
    /* the halo: on a mid-grey map, light pixels around the dark text, none without a halo */
    for (int halo = 0; halo < 2; halo++) {
        sym.halo_radius = halo ? 1.5 : 0;
        cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 200, 60);
        cairo_t *cr = cairo_create(s);
        cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
        cairo_paint(cr);
        struct label_set *ls = label_set_new(200, 60, 0);
        label_add_point(ls, &sym, 1, "Cần Thơ", 100, 30, 0, 1);
        label_draw(ls, cr);
        cairo_surface_flush(s);
        int light = 0, dark = 0;
        for (int y = 0; y < 60; y++)
            for (int x = 0; x < 200; x++) {
                uint32_t p = ((uint32_t *)(cairo_image_surface_get_data(s) +
                                           y * cairo_image_surface_get_stride(s)))[x];
                light += (p & 255) > 200, dark += (p & 255) < 60;
            }
        CHECKF(dark > 30 && (halo ? light > dark : light == 0), "halo %d: %d light, %d dark", halo,
               light, dark);
        label_set_free(ls);
        cairo_destroy(cr);
        cairo_surface_destroy(s);
    }
    sym.halo_radius = 1.5;
    sym.line_placement = 1;
    int along = draw_labels(&sym, 4);
    CHECK(along > 100);
    CHECK(draw_labels(&sym, 5) == along);
    CHECKF(draw_labels(&sym, 6) > 100, "%d px", draw_labels(&sym, 6));
}

/* One window (origin ox of a 400 x 100 map) of two labels, one across x = 200: placed afresh,
 * or replayed from the memo under key (nothing queued then). Returns the surface. */
static cairo_surface_t *memo_window(const struct symbolizer *sym, int ox, const char *replay,
                                    const char *keep, int *hit)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 200, 100);
    cairo_t *cr = cairo_create(s);
    struct label_set *ls = label_set_new(400, 100, 0);
    label_set_origin(ls, ox, 0);
    *hit = replay ? label_replay(ls, replay) : 0;
    if (!*hit) {
        label_add_point(ls, sym, 1, "Cần Thơ", 200 - ox, 40, 0, 1);
        label_add_point(ls, sym, 1, "Ninh Kiều", 90 - ox, 70, 0, 2);
        label_add_point(ls, sym, 1, "Cái Răng", 205 - ox, 44, 0, 0.5); /* overlaps: not placed */
    }
    label_draw(ls, cr);
    if (keep) label_keep(ls, keep);
    label_set_free(ls);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    return s;
}

static int same_pixels(cairo_surface_t *a, cairo_surface_t *b)
{
    return memcmp(cairo_image_surface_get_data(a), cairo_image_surface_get_data(b),
                  (size_t)cairo_image_surface_get_stride(a) * 100) == 0;
}

/* The placement memo: a window replaying the placement kept by another window of the same map
 * draws the very pixels a fresh placement draws there; another key is not replayed. */
static void test_label_memo(void)
{
    struct symbolizer sym = {.kind = SYM_TEXT,
                             .font_family = "DejaVu Sans",
                             .font_size = 12,
                             .halo_radius = 1.5,
                             .halo_color = 0xFFFFFF,
                             .halo_opacity = 1,
                             .anchor_x = 0.5,
                             .anchor_y = 0.5,
                             .fill = {.has = 1, .color = 0x222222, .opacity = 1}};
    int hit;
    cairo_surface_t *left = memo_window(&sym, 0, NULL, NULL, &hit);
    cairo_surface_t *right = memo_window(&sym, 200, NULL, "test|map", &hit);
    CHECK(inked(left) > 100 && inked(right) > 100);
    cairo_surface_t *left2 = memo_window(&sym, 0, "test|map", NULL, &hit);
    CHECK(hit == 1);
    CHECK(same_pixels(left, left2));
    cairo_surface_t *right2 = memo_window(&sym, 200, "test|map", NULL, &hit);
    CHECK(hit == 1 && same_pixels(right, right2));
    cairo_surface_t *other = memo_window(&sym, 0, "test|other", NULL, &hit);
    CHECK(hit == 0 && same_pixels(left, other));
    cairo_surface_destroy(left), cairo_surface_destroy(right), cairo_surface_destroy(left2);
    cairo_surface_destroy(right2), cairo_surface_destroy(other);
}

/* Sum of alpha (in pixels) of an ARGB32 surface, and alpha at (x, y). */
static double ink(cairo_surface_t *s)
{
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    double sum = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            sum +=
                (((const uint32_t *)(d + (size_t)y * cairo_image_surface_get_stride(s)))[x] >> 24) /
                255.0;
    return sum;
}

static unsigned alpha_at(cairo_surface_t *s, int x, int y)
{
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    return ((const uint32_t *)(d + (size_t)y * cairo_image_surface_get_stride(s)))[x] >> 24;
}

/* The area GEOS gives the round-capped, round-joined buffer of a polyline (the stroke). */
static double geos_stroke_area(GEOSContextHandle_t g, const double *xy, int n, double width)
{
    GEOSCoordSequence *cs = GEOSCoordSeq_create_r(g, (unsigned)n, 2);
    for (int i = 0; i < n; i++)
        GEOSCoordSeq_setXY_r(g, cs, (unsigned)i, xy[2 * i], xy[2 * i + 1]);
    GEOSGeometry *line = GEOSGeom_createLineString_r(g, cs);
    GEOSGeometry *buf = GEOSBuffer_r(g, line, width / 2, 64);
    double area = 0;
    GEOSArea_r(g, buf, &area);
    GEOSGeom_destroy_r(g, buf);
    GEOSGeom_destroy_r(g, line);
    return area;
}

/* Wide strokes (wide.c): the ink of a stroke is the area of its GEOS buffer, pixels match
 * cairo's stroker of the same path, overlapping features of one symbolizer are covered once,
 * opacity applies, a ring is closed, far-away and degenerate geometry is harmless. */
static void test_wide(void)
{
    GEOSContextHandle_t g = GEOS_init_r();
    const int W = 160, H = 120;
    static const double lines[][8] = {
        {20, 60, 140, 60, 140, 60, 140, 60},                     /* horizontal */
        {30, 10, 130, 110, 130, 110, 130, 110},                  /* diagonal */
        {20, 100, 70, 20.3, 90.7, 95.2, 140, 33.3},              /* zigzag, sharp joins */
        {80.25, 15.5, 80.25, 105.5, 80.25, 105.5, 80.25, 105.5}, /* vertical, off-centre */
    };
    static const double widths[] = {2, 4.5, 9, 11};
    for (size_t li = 0; li < sizeof lines / sizeof lines[0]; li++)
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
            int n = li == 2 ? 4 : 2;
            cairo_surface_t *ours = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
            struct wide *w = wide_new(W, H);
            wide_polyline(w, lines[li], n, 0, widths[wi]);
            wide_composite(w, ours, 0x000000, 1);
            cairo_surface_mark_dirty(ours);
            double area = geos_stroke_area(g, lines[li], n, widths[wi]);
            CHECKF(fabs(ink(ours) - area) < 0.02 * area, "line %zu width %g: ink %.1f, GEOS %.1f",
                   li, widths[wi], ink(ours), area);
            /* cairo's own stroker, anti-aliased at its best */
            cairo_surface_t *ref = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
            cairo_t *cr = cairo_create(ref);
            cairo_set_antialias(cr, CAIRO_ANTIALIAS_BEST);
            cairo_set_line_width(cr, widths[wi]);
            cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
            cairo_move_to(cr, lines[li][0], lines[li][1]);
            for (int i = 1; i < n; i++)
                cairo_line_to(cr, lines[li][2 * i], lines[li][2 * i + 1]);
            cairo_stroke(cr);
            cairo_destroy(cr);
            double diff = 0;
            unsigned worst = 0;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    unsigned a = alpha_at(ours, x, y), b = alpha_at(ref, x, y);
                    unsigned d = a > b ? a - b : b - a;
                    diff += d;
                    if (d > worst) worst = d;
                }
            CHECKF(diff / 255 < 0.015 * area && worst <= 80,
                   "line %zu width %g: differs from cairo by %.1f px, worst pixel %u", li,
                   widths[wi], diff / 255, worst);
            wide_free(w);
            cairo_surface_destroy(ref);
            cairo_surface_destroy(ours);
        }
    /* two crossing features of one symbolizer at half opacity: the crossing is not darker */
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
    struct wide *w = wide_new(W, H);
    const double a[] = {10, 60, 150, 60}, b[] = {80, 5, 80, 115};
    wide_polyline(w, a, 2, 0, 8);
    wide_polyline(w, b, 2, 0, 8);
    wide_composite(w, s, 0xFF0000, 0.5);
    cairo_surface_mark_dirty(s);
    CHECK(abs((int)alpha_at(s, 80, 60) - 128) <= 1 && abs((int)alpha_at(s, 40, 60) - 128) <= 1);
    CHECK(alpha_at(s, 40, 70) == 0);
    /* the mask is cleared after compositing: a second composite draws nothing */
    double before = ink(s);
    wide_composite(w, s, 0xFF0000, 1);
    CHECK(ink(s) == before);
    /* a closed ring gets its closing side */
    cairo_surface_t *r = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
    const double ring[] = {20, 20, 140, 20, 140, 100, 20, 100};
    wide_polyline(w, ring, 4, 1, 4);
    wide_composite(w, r, 0, 1);
    cairo_surface_mark_dirty(r);
    CHECK(alpha_at(r, 20, 60) == 255 && alpha_at(r, 80, 60) == 0);
    /* far outside, huge, a single point (a dot of the stroke width) */
    cairo_surface_t *e = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
    const double far[] = {-4e6, -4e6, -3e6, 4e6, 1e9, 1e9, 1e300, -1e300, NAN, 5, 60, INFINITY},
                 dot[] = {50, 50};
    wide_polyline(w, far, 6, 0, 10);
    wide_composite(w, e, 0, 1);
    cairo_surface_mark_dirty(e);
    CHECK(ink(e) == 0);
    /* a line from far outside through the image is drawn where it crosses it */
    const double across[] = {-1e12, 60.5, 1e12, 60.5};
    wide_polyline(w, across, 2, 0, 4);
    wide_composite(w, e, 0, 1);
    cairo_surface_mark_dirty(e);
    CHECKF(fabs(ink(e) - W * 4) < 1, "line across ink %.1f", ink(e));
    cairo_surface_destroy(e);
    e = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
    wide_polyline(w, dot, 1, 0, 10);
    wide_composite(w, e, 0, 1);
    cairo_surface_mark_dirty(e);
    CHECKF(fabs(ink(e) - M_PI * 25) < 2, "dot ink %.1f", ink(e));
    wide_free(w);
    cairo_surface_destroy(s);
    cairo_surface_destroy(r);
    cairo_surface_destroy(e);
    GEOS_finish_r(g);
}

/* The polygon of rings (xy, n points each; hole flags) in GEOS, without a closing point. */
static GEOSGeometry *geos_polygon(GEOSContextHandle_t g, const double *const *rings, const int *n,
                                  int n_rings)
{
    GEOSGeometry *shell = NULL, *holes[4];
    int n_holes = 0;
    for (int r = 0; r < n_rings; r++) {
        GEOSCoordSequence *cs = GEOSCoordSeq_create_r(g, (unsigned)n[r] + 1, 2);
        for (int i = 0; i <= n[r]; i++) {
            int k = i % n[r];
            GEOSCoordSeq_setXY_r(g, cs, (unsigned)i, rings[r][2 * k], rings[r][2 * k + 1]);
        }
        GEOSGeometry *ring = GEOSGeom_createLinearRing_r(g, cs);
        if (r == 0)
            shell = ring;
        else
            holes[n_holes++] = ring;
    }
    return GEOSGeom_createPolygon_r(g, shell, holes, (unsigned)n_holes);
}

/* Fills of outlined polygons (wide.c: wide_fill_ring, wide_fill_end): a pixel is set exactly
 * when GEOS puts its centre inside the polygon (pixels within 1e-6 of an edge not compared),
 * holes stay empty whichever way the data winds them, opaque fills go straight into the image
 * and others through the mask (overlapping features covered once), far and broken coordinates
 * are harmless. */
static void test_fill(void)
{
    GEOSContextHandle_t g = GEOS_init_r();
    const int W = 96, H = 80;
    static const double outer[] = {10.3, 8.7, 85.1, 12.2, 80.6, 70.4, 40.5, 75.9, 6.2, 50.05},
                        outer_cw[] = {6.2, 50.05, 40.5, 75.9, 80.6, 70.4, 85.1, 12.2, 10.3, 8.7},
                        hole[] = {30.5, 25.5, 60.25, 27.75, 55.5, 55.5},
                        hole_cw[] = {55.5, 55.5, 60.25, 27.75, 30.5, 25.5},
                        star[] = {48, 2, 58.4, 70, 4.1, 28.3, 91.9, 28.3, 37.6, 70},
                        thin_sliver[] = {2, 40, 94, 40.6, 94, 40.9};
    struct {
        const double *rings[2];
        int n[2], n_rings;
        const char *what;
    } cases[] = {
        {{outer, hole}, {5, 3}, 2, "polygon with a hole"},
        {{outer, outer}, {5, 5}, 1, "polygon"},
        {{outer_cw, hole_cw}, {5, 3}, 2, "wound the other way"},
        {{outer, hole_cw}, {5, 3}, 2, "hole wound as its exterior"},
        {{thin_sliver, NULL}, {3, 0}, 1, "sliver"},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        for (int opaque = 0; opaque < 2; opaque++) {
            cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
            struct wide *w = wide_new(W, H);
            for (int r = 0; r < cases[ci].n_rings; r++)
                CHECK(wide_fill_ring(w, cases[ci].rings[r], cases[ci].n[r], r > 0) == 0);
            cairo_surface_flush(s);
            CHECK(wide_fill_end(w, opaque ? cairo_image_surface_get_data(s) : NULL,
                                cairo_image_surface_get_stride(s), 0xff204060u) == 0);
            if (!opaque) wide_composite(w, s, 0x204060, 1);
            cairo_surface_mark_dirty(s);
            GEOSGeometry *poly = geos_polygon(g, cases[ci].rings, cases[ci].n, cases[ci].n_rings);
            GEOSGeometry *edge = GEOSBoundary_r(g, poly);
            int wrong = 0, set = 0;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(g, x + 0.5, y + 0.5);
                    double d = 0;
                    GEOSDistance_r(g, pt, edge, &d);
                    int in = GEOSContains_r(g, poly, pt) == 1;
                    unsigned a = alpha_at(s, x, y);
                    set += a != 0;
                    if (d > 1e-6 && (a == 255) != in) wrong++;
                    if (a != 0 && a != 255) wrong++; /* no anti-aliasing */
                    GEOSGeom_destroy_r(g, pt);
                }
            CHECKF(wrong == 0 && set > 0, "%s (%s): %d pixels differ from GEOS, %d set",
                   cases[ci].what, opaque ? "opaque" : "mask", wrong, set);
            GEOSGeom_destroy_r(g, edge);
            GEOSGeom_destroy_r(g, poly);
            wide_free(w);
            cairo_surface_destroy(s);
        }
    }
    /* a self-crossing ring (a pentagram) is filled by the non-zero rule: its centre too */
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
    struct wide *w = wide_new(W, H);
    wide_fill_ring(w, star, 5, 0);
    wide_fill_end(w, NULL, 0, 0);
    wide_composite(w, s, 0, 1);
    cairo_surface_mark_dirty(s);
    CHECK(alpha_at(s, 48, 40) == 255 && alpha_at(s, 48, 10) == 255 && alpha_at(s, 5, 70) == 0);
    /* two overlapping features at half opacity: the overlap is not darker */
    cairo_surface_destroy(s);
    s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
    const double sq1[] = {10, 10, 50, 10, 50, 50, 10, 50}, sq2[] = {30, 30, 70, 30, 70, 70, 30, 70};
    wide_fill_ring(w, sq1, 4, 0);
    wide_fill_end(w, NULL, 0, 0);
    wide_fill_ring(w, sq2, 4, 0);
    wide_fill_end(w, NULL, 0, 0);
    wide_composite(w, s, 0xFF0000, 0.5);
    cairo_surface_mark_dirty(s);
    CHECK(abs((int)alpha_at(s, 40, 40) - 128) <= 1 && abs((int)alpha_at(s, 20, 20) - 128) <= 1);
    CHECK(alpha_at(s, 60, 20) == 0);
    /* far, huge and broken coordinates: a square around the image fills all of it, NaN and a
     * ring of two points draw nothing */
    cairo_surface_destroy(s);
    s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
    const double huge[] = {-1e300, -1e300, 1e300, -1e300, 1e300, 1e300, -1e300, 1e300},
                 broken[] = {NAN, 5, 60, INFINITY, 20, 20, NAN, NAN}, two[] = {1, 1, 90, 70};
    wide_fill_ring(w, broken, 4, 0);
    wide_fill_ring(w, two, 2, 0);
    wide_fill_end(w, NULL, 0, 0);
    wide_composite(w, s, 0, 1);
    cairo_surface_mark_dirty(s);
    CHECK(ink(s) == 0);
    wide_fill_ring(w, huge, 4, 0);
    wide_fill_end(w, NULL, 0, 0);
    wide_composite(w, s, 0, 1);
    cairo_surface_mark_dirty(s);
    CHECKF(ink(s) == W * H, "huge square ink %.0f of %d", ink(s), W * H);
    cairo_surface_destroy(s);
    wide_free(w);
    GEOS_finish_r(g);
}

int main(void)
{
    struct err err;
    err_clear(&err);
    if (catalog_load(&cat, "layers", &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_styles_dir();
    test_land_use_rules();
    test_symbolizers();
    test_rejections();
    test_encode();
    test_labels();
    test_label_memo();
    test_wide();
    test_fill();
    catalog_fini(&cat);
    CHECK_DONE();
}
