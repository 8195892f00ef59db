/* SPDX-License-Identifier: MIT */
/* render: SLD 1.0 / SE 1.1 styles parsed into plain structs (style.c), and the cairo renderer
 * that draws the features of a store query with them into an image (draw.c, label.c), encoded
 * as PNG (32-bit or 8-bit palette), JPEG or WebP (encode.c), plus legend graphics (legend.c).
 * Styles are loaded once at start-up (render_styles_load) into an immutable registry; only a
 * request's SLD_BODY is parsed per request, with the same bounded parser. The structs are plain
 * so that tiles/ can read them to write a MapLibre style (colours, rules, filters, scales).
 * [cairo, libxml2, libpng, libjpeg, libwebp]
 *
 * Owns: styles and pixels. Must not: read the store except through store_query_run, cache tiles
 * (tiles/ does), or change a style after start-up. */
#ifndef SPP_RENDER_H
#define SPP_RENDER_H

#include <stdint.h>

#include "../config/config.h"
#include "../core/core.h"
#include "../filter/filter.h"
#include "../geo/geo.h"
#include "../store/store.h"

/* Styles. Colours are 0xRRGGBB with a separate opacity 0..1; lengths are pixels at scale
 * factor 1 (render_request.scale_factor multiplies them). */
enum style_hatch {
    HATCH_NONE,
    HATCH_SLASH,     /* shape://slash */
    HATCH_BACKSLASH, /* shape://backslash */
    HATCH_HORLINE,   /* shape://horline */
    HATCH_VERTLINE,  /* shape://vertline */
    HATCH_TIMES,     /* shape://times */
    HATCH_PLUS,      /* shape://plus */
    HATCH_DOT        /* shape://dot */
};
enum style_mark { MARK_CIRCLE, MARK_SQUARE, MARK_TRIANGLE, MARK_STAR, MARK_CROSS, MARK_X };
enum style_cap { CAP_BUTT, CAP_ROUND, CAP_SQUARE };
enum style_join { JOIN_MITER, JOIN_ROUND, JOIN_BEVEL };
enum sym_kind { SYM_POLYGON, SYM_LINE, SYM_POINT, SYM_TEXT };

#define STYLE_MAX_DASH 8

struct style_stroke {
    int has;                     /* 0: no outline / line */
    uint32_t color;              /* 0xRRGGBB */
    double opacity;              /* 0..1 */
    double width;                /* px */
    double dash[STYLE_MAX_DASH]; /* on/off lengths, px */
    int n_dash;                  /* 0 = solid */
    enum style_cap cap;
    enum style_join join;
};

struct style_fill {
    int has; /* 0: no fill */
    uint32_t color;
    double opacity;
    enum style_hatch hatch; /* GraphicFill with a shape:// mark; color/opacity of the
                             * hatch lines are hatch_color and opacity */
    uint32_t hatch_color;
    double hatch_width; /* px */
    double hatch_size;  /* spacing of the pattern, px */
};

struct symbolizer {
    enum sym_kind kind;
    struct style_fill fill;     /* polygon, point mark, text colour */
    struct style_stroke stroke; /* polygon outline, line, point mark outline */
    double offset;              /* line: perpendicular offset, px (left positive) */
    enum style_mark mark;       /* point */
    double size;                /* point: mark size, px */
    double rotation;            /* point: degrees clockwise */
    int label_field;            /* text: index in layer->fields */
    char *font_family;          /* text: "DejaVu Sans" */
    double font_size;           /* text: px */
    int bold, italic;
    double halo_radius; /* text: px, 0 = none */
    uint32_t halo_color;
    double halo_opacity;
    int line_placement;        /* text: 1 along lines, 0 at a point / polygon interior */
    double anchor_x, anchor_y; /* text: 0..1, 0.5 0.5 = centred */
    double disp_x, disp_y;     /* text: px, y up (SE convention) */
    int priority_field;        /* text: field index whose value orders labels, -1 none */
};

struct style_rule {
    char *name;                  /* rule name (legend key, GetLegendGraphic RULE=) */
    char *title;                 /* human title (Vietnamese in styles/) */
    struct filter *filter;       /* NULL: every feature (unless is_else) */
    int is_else;                 /* ElseFilter: features no other rule of the FTS matched */
    double min_scale, max_scale; /* applies when min_scale <= scale < max_scale (0, INFINITY) */
    struct symbolizer *syms;
    int n_syms;
    int line; /* source line of the <Rule> element */
};

struct style_fts {
    struct style_rule *rules;
    int n_rules;
};

struct style {
    char *name; /* UserStyle name (the WMS STYLES= value) */
    char *title, *abstract;
    const struct layer_def *layer;
    struct style_fts *fts; /* drawn in order: later FTS on top */
    int n_fts;
    int *fields; /* field indexes the style reads (filters, labels) */
    int n_fields;
    int *filter_fields; /* the subset rule filters read (rule choice depends on them) */
    int n_filter_fields;
    enum role min_role; /* lowest role that may read every field the style uses */
    char *source;       /* file name or "SLD_BODY" */
};

/* Parsing limits (defaults from cfg->limits). */
struct style_limits {
    size_t max_size; /* bytes of SLD */
    int max_depth;   /* XML element depth */
    int max_rules;   /* rules per style */
    int max_filter_nodes;
};

/* Parses one SLD document for `layer` (NULL: the NamedLayer's name picks it from cat). Every
 * property is resolved against the layer as `role` sees it (an unreadable field is the same
 * ERR_PARAM "unknown property" as a missing one). Unsupported elements are ERR_PARAM with
 * "source:line: message". Caller frees *out with style_free. XML is parsed without DTD,
 * entities or network; a DOCTYPE is refused. */
int style_parse(const char *xml, size_t len, const char *source, const struct catalog *cat,
                const struct layer_def *layer, enum role role, const struct style_limits *lim,
                struct style **out, struct err *err);
/* Same for an SLD_BODY holding several NamedLayers: returns *n styles (array caller frees with
 * style_free_all). */
int style_parse_all(const char *xml, size_t len, const char *source, const struct catalog *cat,
                    enum role role, const struct style_limits *lim, struct style ***out, int *n,
                    struct err *err);
void style_free(struct style *s);
void style_free_all(struct style **s, int n);
void style_limits_default(const struct config *cfg, struct style_limits *lim);

/* Rule selection: index of the first rule of fts (or the next after `after`, start with -1)
 * that applies to a feature with values[] read for fields[] (as in struct feature) at scale.
 * -1 when no more rules apply. ElseFilter rules apply when no filtered rule matched. */
int style_next_rule(const struct style *s, int fts, int after, const struct value *values,
                    const int *fields, int n_fields, double scale);
/* 1 if a filter matches (values as above). */
int style_filter_match(const struct filter *f, const struct value *values, const int *fields,
                       int n_fields);
/* 1 if any rule of the style applies at this scale. */
int style_visible(const struct style *s, double scale);

/* The registry: loaded in main before serving, immutable after. styles_dir/<style>.sld for each
 * catalog layer (layer->style). Unsupported elements fail start-up with file:line. */
int render_styles_load(const struct config *cfg, struct err *err);
void render_styles_free(void);
/* The style of a layer by name (NULL name or "" or "default": the layer's own style). NULL if
 * none. Valid until render_styles_free(). */
const struct style *render_style(const struct layer_def *layer, const char *name);

/* Rendering. */
enum render_format { RFMT_PNG, RFMT_PNG8, RFMT_JPEG, RFMT_WEBP };

struct render_layer {
    const struct layer_def *layer;
    const struct style *style; /* borrowed */
};

#define RENDER_MAX_LAYERS 64

struct render_request {
    const struct config *cfg;
    struct store *store; /* the worker's handles */
    struct geo_ctx *geo;
    enum role role;
    const struct render_layer *layers; /* bottom first */
    int n_layers;
    int srid;            /* CRS of bbox and of the image (GEO_SRID_CRS84 ok) */
    struct bbox bbox;    /* x = easting/longitude, whatever the CRS's axis order */
    int width, height;   /* output pixels (already multiplied by scale_factor) */
    double scale_factor; /* 1, or 2 for @2x: symbols, widths and fonts scale */
    enum render_format format;
    int transparent;  /* 1: transparent background (PNG/WebP) */
    uint32_t bgcolor; /* 0xRRGGBB, used when !transparent or for JPEG */
    int quality;      /* JPEG/WebP quality 1..100 (0 = 85) */
    int label_buffer; /* px around the image where labels may not be placed from a
                       * neighbouring metatile; 0 for WMS (labels stay inside) */
    /* Draw only this rectangle of the map (px of the width x height image; win_w = 0: all of
     * it). Features are still read and labels still placed for the whole map, so the image
     * (win_w x win_h) is that rectangle of the whole map's image: one raster tile drawn alone
     * is its metatile's cut, labels crossing its edges included, at the cost of one tile. */
    int win_x, win_y, win_w, win_h;
    /* With a window: the key of this map's label placement (NULL: none). The first window drawn
     * places the labels over the whole map and keeps the placement under it; the map's other
     * windows replay it and read their labelled layers over the window only. The caller makes
     * the key unique to everything the placement depends on (map, layers, styles, role, data). */
    const char *label_key;
};

/* An image: cairo ARGB32 (premultiplied, native endian), owned. */
struct render_image {
    unsigned char *data;
    int width, height, stride;
};

/* Draws the request (its window, if set) into *img (caller frees with render_image_fini).
 * ERR_PARAM for a bad CRS, bbox or window, ERR_LIMIT when the store's deadline is hit, ERR_DB
 * from the store. */
int render_draw(const struct render_request *rq, struct render_image *img, struct err *err);
/* Encodes the rectangle (x, y, w, h) of img in fmt into out (appended). For metatiles: draw once,
 * encode each tile's rectangle. transparent=0 flattens onto bgcolor. */
int render_encode(const struct render_image *img, int x, int y, int w, int h,
                  enum render_format fmt, int transparent, uint32_t bgcolor, int quality,
                  struct buf *out, struct err *err);
void render_image_fini(struct render_image *img);
/* render_draw + render_encode of the whole image. */
int render_map(const struct render_request *rq, struct buf *out, struct err *err);
/* MIME type of a format ("image/png"...). */
const char *render_format_mime(enum render_format fmt);
/* Standard scale denominator (0.28 mm pixels) of a map: bbox width over width/scale_factor. */
double render_scale(int srid, const struct bbox *bbox, int width, double scale_factor,
                    struct geo_ctx *geo);

/* Legends. */
/* PNG legend of a style: one row per rule visible at scale (scale <= 0: all rules), or only the
 * rule named `rule`. ERR_NOT_FOUND for an unknown rule. */
int render_legend_png(const struct style *s, const char *rule, double scale, int symbol_w,
                      int symbol_h, double scale_factor, struct buf *out, struct err *err);
/* The same as JSON: {"layer":..,"style":..,"rules":[{"name","title","symbolizers":[...]}]}. */
int render_legend_json(const struct style *s, const char *rule, double scale, struct buf *out,
                       struct err *err);

/* An image of width x height with msg written in it (msg NULL: blank), for WMS
 * EXCEPTIONS=INIMAGE / BLANK. */
int render_message_image(int width, int height, enum render_format fmt, int transparent,
                         uint32_t bgcolor, const char *msg, struct buf *out, struct err *err);

#endif
