/* SPDX-License-Identifier: MIT */
/* render_int.h: what the render files share: the SLD rule filter (sld_filter.c, through the
 * shared FES parser of filter/) and label placement. */
#ifndef SPP_RENDER_INT_H
#define SPP_RENDER_INT_H

#include <cairo.h>
#include <libxml/tree.h>

#include "render.h"

/* Parses an <ogc:Filter> element into the shared filter tree; properties resolved against the
 * layer as the role sees it (node->field). ERR_PARAM with "source:line: message". */
int sld_filter_parse(xmlNodePtr node, const char *source, const struct layer_def *layer,
                     enum role role, int max_nodes, struct filter **out, struct err *err);
void sld_filter_free(struct filter *f);
/* Calls fn for every field index a filter reads. */
void sld_filter_fields(const struct filter *f, void (*fn)(void *ud, int field), void *ud);

/* Labels: collected while drawing, placed after every layer (on top), without overlaps and
 * never cut by the image edge. */
struct label_set;
struct label_set *label_set_new(int width, int height, int buffer);
/* Labels are queued in the coordinates of an image whose origin is (ox, oy) of the width x
 * height map (a window of it): placement is decided for the whole map and each label drawn
 * where it falls in the window. Default (0, 0). */
void label_set_origin(struct label_set *ls, int ox, int oy);
void label_set_free(struct label_set *ls);
/* Queues a label at a point (x, y in px; max_w > 0: only if the text is narrower, for polygon
 * interiors) or along a polyline (xy px, n points). */
int label_add_point(struct label_set *ls, const struct symbolizer *sym, double scale_factor,
                    const char *text, double x, double y, double max_w, double priority);
int label_add_line(struct label_set *ls, const struct symbolizer *sym, double scale_factor,
                   const char *text, const double *xy, int n, double priority);
/* Places and draws the queued labels, highest priority first (after label_replay: draws the
 * replayed placement, queues nothing). */
void label_draw(struct label_set *ls, cairo_t *cr);
/* The placement memo (render_request.label_key): label_keep stores what label_draw placed under
 * key; label_replay loads it into an empty set (1; 0 when key is not kept), whose label_draw
 * then draws those labels where they fall in its window. Process-wide, thread-safe, bounded. */
int label_replay(struct label_set *ls, const char *key);
void label_keep(const struct label_set *ls, const char *key);

/* Hairline strokes (solid, width <= THIN_MAX px) drawn into an image surface (thin.c); the
 * caller flushes the surface before and marks it dirty after. */
#define THIN_MAX 1.5
void thin_polyline(cairo_surface_t *surf, const double *xy, int n, int closed, uint32_t rgb,
                   double opacity, double width);

/* Steps of anti-aliased coverage of the strokes drawn past cairo (thin.c, wide.c): finer ones
 * are not seen on a map and only grow the PNG (32 rather than 256 levels made the 200 bench
 * tiles 11 % smaller). */
#define AA_LEVELS 32

/* Source over of colour (r, g, b) at alpha a (0..255) onto one premultiplied ARGB32 pixel, in
 * integers (x / 255 rounded exactly for x <= 255 * 255 + 255). Shared by thin.c and wide.c. Two
 * channels are worked in the 16-bit halves of one word (red and blue, alpha and green), each half
 * as DIV255 would: every sum stays below 65536, so no half carries into the other. Alpha is
 * DIV255(255 a + da inv), which equals a + DIV255(da inv). */
#define DIV255(x) (((x) + 128 + (((x) + 128) >> 8)) >> 8)
static inline uint32_t div255x2(uint32_t x)
{
    x += 0x00800080u;
    return ((x + ((x >> 8) & 0x00ff00ffu)) >> 8) & 0x00ff00ffu;
}
static inline uint32_t blend_px(uint32_t d, unsigned r, unsigned g, unsigned b, unsigned a)
{
    unsigned inv = 255 - a;
    uint32_t rb = (r << 16 | b) * a + (d & 0x00ff00ffu) * inv;
    uint32_t ag = (255u << 16 | g) * a + ((d >> 8) & 0x00ff00ffu) * inv;
    return div255x2(ag) << 8 | div255x2(rb);
}

/* Pixel coordinates clamped to +-4e6: far vertices of a map zoomed in a long way, for cairo's
 * fixed point and wide.c's fills alike. */
#define CLAMP_PX 4.0e6
static inline double clampc(double v)
{
    return v < -CLAMP_PX ? -CLAMP_PX : v > CLAMP_PX ? CLAMP_PX : v;
}

/* Liang-Barsky clip of a segment to [lo, hx] x [lo, hy]; 0 if nothing is left (thin.c). A NaN
 * coordinate leaves nothing. */
int clip_segment(double *x0, double *y0, double *x1, double *y1, double lo, double hx, double hy);

/* Wide solid strokes with round joins and caps (wide.c): polylines in px are accumulated into a
 * coverage mask (their union), then composited in one colour and the mask cleared. The caller
 * flushes the surface before compositing and marks it dirty after. */
struct wide;
struct wide *wide_new(int width, int height);
void wide_free(struct wide *w);
/* 1 if w is a mask for a width x height image (a clear mask is reused for the next map). */
int wide_fits(const struct wide *w, int width, int height);
void wide_polyline(struct wide *w, const double *xy, int n, int closed, double width);
void wide_composite(struct wide *w, cairo_surface_t *surf, uint32_t rgb, double opacity);
/* Solid fills without anti-aliasing (for polygons whose outline hides their edge): the rings of
 * one feature (px; hole: an interior ring) are added, then wide_fill_end sets the pixels whose
 * centre is inside them (non-zero rule, exteriors and holes oriented apart as for cairo): in the
 * mask (img NULL; composited by wide_composite), or to the opaque pixel argb in the ARGB32 image
 * img (stride bytes per row, w's size; flushed by the caller). -1 when out of memory. */
int wide_fill_ring(struct wide *w, const double *xy, int n, int hole);
int wide_fill_end(struct wide *w, unsigned char *img, int stride, uint32_t argb);
/* Source over of a colour through an A8 coverage mask (w x h at x0, y0 of the surface, clipped
 * to it). The caller flushes the surface before and marks it dirty after. */
void mask_composite(cairo_surface_t *surf, const unsigned char *m, int mstride, int x0, int y0,
                    int w, int h, uint32_t rgb, double opacity);

/* Drawing helpers shared with legend.c. */
void draw_set_source(cairo_t *cr, uint32_t rgb, double opacity);
void draw_stroke_style(cairo_t *cr, const struct style_stroke *s, double k);
void draw_fill_path(cairo_t *cr, const struct style_fill *f, double k);
void draw_mark(cairo_t *cr, const struct symbolizer *sym, double x, double y, double k);

#endif
