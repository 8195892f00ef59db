/* SPDX-License-Identifier: MIT */
/* label.c: label placement. Labels are queued while features are drawn and placed at the end,
 * on top of every layer: highest priority first (larger polygons, longer lines), each as an
 * oriented box that must not overlap a placed one (separating-axis test) and must lie wholly
 * inside the image minus a buffer, so no label is ever cut by the edge. Line labels are straight,
 * follow the chord of the line around the candidate point and are kept upright; three candidate
 * positions are tried along a line. Text is Vietnamese UTF-8 (NFC) drawn with DejaVu Sans through
 * cairo's FreeType/fontconfig backend, with a halo. */
#include "render_int.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CANDIDATES 3

struct obox {
    double cx, cy, hw, hh, angle; /* centre, half sizes, radians */
};

struct label {
    const struct symbolizer *sym;
    double k;
    size_t text; /* offset in ls->text */
    struct obox cand[CANDIDATES];
    int n_cand;
    double priority;
    int seq;
};

/* A label placed: what its other windows need to draw it again (label_keep, label_replay). */
struct placed_label {
    const struct symbolizer *sym; /* styles live until exit */
    double k;
    struct obox box;
    size_t text; /* offset in the text buffer it goes with */
};

/* A placed box and the axis-aligned box around it (most pairs are told apart by those). */
struct placed {
    struct obox b;
    double x0, y0, x1, y1;
};

struct label_set {
    int width, height, buffer;
    double ox, oy; /* origin of the drawn window in the map (label_set_origin) */
    struct label *labels;
    size_t n, cap;
    struct buf text;
    struct placed *placed;
    size_t n_placed, cap_placed;
    struct placed_label *done; /* what label_draw placed (or the replayed placement) */
    size_t n_done, cap_done;
    int replay; /* done came from the memo: label_draw draws it, places nothing */
    int lost;   /* done is incomplete (out of memory): not kept */
    cairo_surface_t *measure_surf;
    cairo_t *measure;
    unsigned char *mask, *halo; /* scratch coverage of the label being drawn */
    size_t cap_mask;
};

/* No hinting: map labels are rotated and scaled anyway, and the TrueType bytecode interpreter
 * was a visible part of a tile's time. */
static void set_options(cairo_t *cr)
{
    cairo_font_options_t *o = cairo_font_options_create();
    cairo_font_options_set_hint_style(o, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(o, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_antialias(o, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(cr, o);
    cairo_font_options_destroy(o);
}

struct label_set *label_set_new(int width, int height, int buffer)
{
    struct label_set *ls = calloc(1, sizeof *ls);
    if (!ls) return NULL;
    ls->width = width, ls->height = height, ls->buffer = buffer;
    buf_init(&ls->text);
    ls->measure_surf = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
    ls->measure = cairo_create(ls->measure_surf);
    set_options(ls->measure);
    return ls;
}

void label_set_origin(struct label_set *ls, int ox, int oy)
{
    ls->ox = ox, ls->oy = oy;
}

void label_set_free(struct label_set *ls)
{
    if (!ls) return;
    cairo_destroy(ls->measure);
    cairo_surface_destroy(ls->measure_surf);
    free(ls->done);
    free(ls->labels);
    free(ls->placed);
    free(ls->mask), free(ls->halo);
    buf_fini(&ls->text);
    free(ls);
}

static void set_font(cairo_t *cr, const struct symbolizer *sym, double k)
{
    cairo_select_font_face(cr, sym->font_family ? sym->font_family : "DejaVu Sans",
                           sym->italic ? CAIRO_FONT_SLANT_ITALIC : CAIRO_FONT_SLANT_NORMAL,
                           sym->bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, sym->font_size * k);
}

/* Measured texts, per thread and for the life of the process (a worker renders one map at a
 * time): the same parcel numbers and street names are measured over and over, and cairo's
 * text_to_glyphs was most of a label's cost (issue 22). Direct-mapped: a collision replaces the
 * entry. The result is what cairo answers, so maps are byte for byte the same. */
#define MEASURE_SLOTS 16384
#define MEASURE_TEXT  48

struct measured {
    const struct symbolizer *sym; /* font family, size, weight, slant (styles live until exit) */
    double k;
    char text[MEASURE_TEXT];
    double advance, height; /* x_advance, ascent + descent */
};

static _Thread_local struct measured *measured;
static pthread_key_t measured_key; /* frees a thread's table when the thread ends */
static pthread_once_t measured_once = PTHREAD_ONCE_INIT;

static void measured_key_init(void)
{
    pthread_key_create(&measured_key, free);
}

static struct measured *thread_measured(void)
{
    if (!measured) {
        pthread_once(&measured_once, measured_key_init);
        measured = calloc(MEASURE_SLOTS, sizeof *measured);
        if (measured) pthread_setspecific(measured_key, measured);
    }
    return measured;
}

/* Text size in px (advance width, ascent + descent) plus the halo. */
static void measure(struct label_set *ls, const struct symbolizer *sym, double k, const char *text,
                    double *w, double *h)
{
    size_t len = strlen(text);
    struct measured *m = NULL;
    if (len < MEASURE_TEXT) {
        struct measured *table = thread_measured();
        uint64_t hv = 0xcbf29ce484222325ull ^ (uint64_t)(uintptr_t)sym;
        for (size_t i = 0; i < len; i++)
            hv = (hv ^ (unsigned char)text[i]) * 0x100000001b3ull;
        if (table) m = &table[(hv ^ (hv >> 29)) % MEASURE_SLOTS];
    }
    double pad = sym->halo_radius * k + 1;
    if (m && m->sym == sym && m->k == k && strcmp(m->text, text) == 0) {
        *w = m->advance + 2 * pad;
        *h = m->height + 2 * pad;
        return;
    }
    set_font(ls->measure, sym, k);
    cairo_text_extents_t te;
    cairo_font_extents_t fe;
    cairo_text_extents(ls->measure, text, &te);
    cairo_font_extents(ls->measure, &fe);
    if (m) {
        m->sym = sym, m->k = k;
        memcpy(m->text, text, len + 1);
        m->advance = te.x_advance, m->height = fe.ascent + fe.descent;
    }
    *w = te.x_advance + 2 * pad;
    *h = fe.ascent + fe.descent + 2 * pad;
}

static struct label *new_label(struct label_set *ls, const struct symbolizer *sym, double k,
                               const char *text, double priority)
{
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 64;
        struct label *l = realloc(ls->labels, cap * sizeof *l);
        if (!l) return NULL;
        ls->labels = l, ls->cap = cap;
    }
    size_t off = ls->text.len;
    if (buf_puts(&ls->text, text) || buf_putc(&ls->text, '\0')) return NULL;
    struct label *l = &ls->labels[ls->n];
    memset(l, 0, sizeof *l);
    l->sym = sym, l->k = k, l->text = off, l->priority = priority, l->seq = (int)ls->n;
    ls->n++;
    return l;
}

int label_add_point(struct label_set *ls, const struct symbolizer *sym, double scale_factor,
                    const char *text, double x, double y, double max_w, double priority)
{
    double w, h;
    x += ls->ox, y += ls->oy; /* placement in map coordinates */
    if (x < -ls->width || y < -ls->height || x > 2 * ls->width || y > 2 * ls->height) return 0;
    measure(ls, sym, scale_factor, text, &w, &h);
    if (max_w > 0 && w - 2 * (sym->halo_radius * scale_factor + 1) > max_w) return 0;
    struct label *l = new_label(ls, sym, scale_factor, text, priority);
    if (!l) return ERR_NOMEM;
    double k = scale_factor;
    l->cand[0] = (struct obox){x + sym->disp_x * k + (0.5 - sym->anchor_x) * w,
                               y - sym->disp_y * k + (sym->anchor_y - 0.5) * h, w / 2, h / 2, 0};
    l->n_cand = 1;
    return 0;
}

/* The point at distance d along the polyline. */
static void along(const double *xy, int n, double d, double *x, double *y)
{
    for (int i = 0; i + 1 < n; i++) {
        double sl = hypot(xy[2 * i + 2] - xy[2 * i], xy[2 * i + 3] - xy[2 * i + 1]);
        if (d <= sl || i + 2 == n) {
            double t = sl > 0 ? d / sl : 0;
            if (t > 1) t = 1;
            *x = xy[2 * i] + t * (xy[2 * i + 2] - xy[2 * i]);
            *y = xy[2 * i + 1] + t * (xy[2 * i + 3] - xy[2 * i + 1]);
            return;
        }
        d -= sl;
    }
    *x = xy[0], *y = xy[1];
}

/* The longest run of a polyline inside the area where labels may go, into out (n + 1 points at
 * most); its number of points, its length in *len. A road crossing a map zoomed in far has its
 * middle, and often both ends, off the image: the label goes on the part that is seen. */
static int visible_run(const struct label_set *ls, const double *xy, int n, double *out,
                       double *len)
{
    double lo = ls->buffer, hx = ls->width - ls->buffer, hy = ls->height - ls->buffer;
    int best = 0, cur = 0;
    double best_len = 0, cur_len = 0;
    double *run = out + 2 * (n + 1); /* the run being built, after the best one */
    for (int i = 0; i + 1 <= n; i++) {
        int end = i + 1 == n;
        double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
        int in = !end;
        if (in) {
            x0 = xy[2 * i] + ls->ox, y0 = xy[2 * i + 1] + ls->oy;
            x1 = xy[2 * i + 2] + ls->ox, y1 = xy[2 * i + 3] + ls->oy;
            in = clip_segment(&x0, &y0, &x1, &y1, lo, hx, hy);
        }
        if (in && cur > 0 && run[2 * cur - 2] == x0 && run[2 * cur - 1] == y0) {
            run[2 * cur] = x1, run[2 * cur + 1] = y1, cur++;
            cur_len += hypot(x1 - x0, y1 - y0);
            continue;
        }
        if (cur > 1 && cur_len > best_len) { /* the run ends here */
            memcpy(out, run, sizeof(double) * 2 * (size_t)cur);
            best = cur, best_len = cur_len;
        }
        cur = 0, cur_len = 0;
        if (in) {
            run[0] = x0, run[1] = y0, run[2] = x1, run[3] = y1, cur = 2;
            cur_len = hypot(x1 - x0, y1 - y0);
        }
    }
    *len = best_len;
    return best;
}

static int add_line(struct label_set *ls, const struct symbolizer *sym, double scale_factor,
                    const char *text, const double *xy, int n, double len, double priority);

int label_add_line(struct label_set *ls, const struct symbolizer *sym, double scale_factor,
                   const char *text, const double *line, int n_line, double priority)
{
    double len = 0;
    double *xy = n_line > 0 ? malloc(sizeof(double) * 4 * ((size_t)n_line + 1)) : NULL;
    if (!xy) return n_line > 0 ? ERR_NOMEM : 0;
    int n = visible_run(ls, line, n_line, xy, &len);
    int rc = add_line(ls, sym, scale_factor, text, xy, n, len, priority);
    free(xy);
    return rc;
}

static int add_line(struct label_set *ls, const struct symbolizer *sym, double scale_factor,
                    const char *text, const double *xy, int n, double len, double priority)
{
    if (n < 2) return 0;
    double w, h;
    measure(ls, sym, scale_factor, text, &w, &h);
    if (len < w * 1.15) return 0; /* the line is shorter than its name */
    struct label *l = new_label(ls, sym, scale_factor, text, priority);
    if (!l) return ERR_NOMEM;
    static const double at[CANDIDATES] = {0.5, 0.25, 0.75};
    for (int c = 0; c < CANDIDATES; c++) {
        double mid = len * at[c];
        if (mid - w / 2 < 0 || mid + w / 2 > len) continue;
        double x0, y0, x1, y1, cx, cy;
        along(xy, n, mid - w / 2, &x0, &y0);
        along(xy, n, mid + w / 2, &x1, &y1);
        along(xy, n, mid, &cx, &cy);
        double chord = hypot(x1 - x0, y1 - y0);
        if (chord < w * 0.8) continue; /* too curved here for straight text */
        double a = atan2(y1 - y0, x1 - x0);
        if (a > M_PI / 2) a -= M_PI;
        if (a < -M_PI / 2) a += M_PI;
        /* whole degrees: a name sits at most half a degree off its line (0.4 px at the ends
         * of a 100 px name), and cairo renders a rotated glyph once per angle (its scaled fonts
         * are keyed by the matrix): free angles made every road name rasterise its glyphs
         * anew, 2 % of a PNG metatile's instructions */
        a = round(a * (180 / M_PI)) * (M_PI / 180);
        l->cand[l->n_cand++] = (struct obox){cx, cy, w / 2, h / 2, a};
    }
    if (l->n_cand == 0) ls->n--;
    return 0;
}

static void corners(const struct obox *b, double out[8])
{
    double c = cos(b->angle), s = sin(b->angle);
    static const double sx[4] = {-1, 1, 1, -1}, sy[4] = {-1, -1, 1, 1};
    for (int i = 0; i < 4; i++) {
        double x = sx[i] * b->hw, y = sy[i] * b->hh;
        out[2 * i] = b->cx + x * c - y * s;
        out[2 * i + 1] = b->cy + x * s + y * c;
    }
}

/* Separating-axis test of two oriented boxes. */
static int overlap(const struct obox *a, const struct obox *b)
{
    if (hypot(a->cx - b->cx, a->cy - b->cy) > hypot(a->hw, a->hh) + hypot(b->hw, b->hh)) return 0;
    double ca[8], cb[8];
    corners(a, ca), corners(b, cb);
    const struct obox *boxes[2] = {a, b};
    for (int bi = 0; bi < 2; bi++)
        for (int ax = 0; ax < 2; ax++) {
            double ang = boxes[bi]->angle + ax * M_PI / 2, nx = cos(ang), ny = sin(ang);
            double amin = INFINITY, amax = -INFINITY, bmin = INFINITY, bmax = -INFINITY;
            for (int i = 0; i < 4; i++) {
                double pa = ca[2 * i] * nx + ca[2 * i + 1] * ny;
                double pb = cb[2 * i] * nx + cb[2 * i + 1] * ny;
                amin = fmin(amin, pa), amax = fmax(amax, pa);
                bmin = fmin(bmin, pb), bmax = fmax(bmax, pb);
            }
            if (amax < bmin || bmax < amin) return 0;
        }
    return 1;
}

/* Whether b lies inside the map's label area and overlaps no placed label; bb gets the
 * axis-aligned box around it. */
static int fits(const struct label_set *ls, const struct obox *b, double bb[4])
{
    double c[8];
    corners(b, c);
    double lo = ls->buffer, hx = ls->width - ls->buffer, hy = ls->height - ls->buffer;
    bb[0] = bb[1] = INFINITY, bb[2] = bb[3] = -INFINITY;
    for (int i = 0; i < 4; i++) {
        if (c[2 * i] < lo || c[2 * i + 1] < lo || c[2 * i] > hx || c[2 * i + 1] > hy) return 0;
        bb[0] = fmin(bb[0], c[2 * i]), bb[2] = fmax(bb[2], c[2 * i]);
        bb[1] = fmin(bb[1], c[2 * i + 1]), bb[3] = fmax(bb[3], c[2 * i + 1]);
    }
    for (size_t i = 0; i < ls->n_placed; i++) {
        const struct placed *p = &ls->placed[i];
        /* apart on x or y: apart (the separating-axis test would say so, at more cost) */
        if (p->x1 < bb[0] || bb[2] < p->x0 || p->y1 < bb[1] || bb[3] < p->y0) continue;
        if (overlap(b, &p->b)) return 0;
    }
    return 1;
}

static int by_priority(const void *a, const void *b)
{
    const struct label *x = a, *y = b;
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    return x->seq - y->seq;
}

/* Grey-scale dilation of an A8 mask by a disk of radius r px (anti-aliased rim): the halo. Glyph
 * pixels are a fraction of a label's box, so each one is spread over the disk (scatter). */
static void dilate(const unsigned char *m, int stride, int w, int h, double r, unsigned char *out)
{
    int R = (int)ceil(r + 0.5), n = 0;
    if (R > 8) R = 8; /* halos are a few px; the box margin bounds them anyway */
    struct {
        int dx, dy;
        unsigned wt;
    } tap[17 * 17];
    for (int dy = -R; dy <= R; dy++)
        for (int dx = -R; dx <= R; dx++) {
            double c = r + 0.5 - hypot(dx, dy);
            if (c > 0)
                tap[n].dx = dx, tap[n].dy = dy, tap[n++].wt = c >= 1 ? 256 : (unsigned)(c * 256);
        }
    memset(out, 0, (size_t)stride * (size_t)h);
    for (int y = 0; y < h; y++) {
        const unsigned char *src = m + (size_t)y * (size_t)stride;
        for (int x = 0; x < w; x++) {
            unsigned v = src[x];
            if (!v) continue;
            for (int k = 0; k < n; k++) {
                int tx = x + tap[k].dx, ty = y + tap[k].dy;
                if ((unsigned)tx >= (unsigned)w || (unsigned)ty >= (unsigned)h) continue;
                unsigned char *d = out + (size_t)ty * (size_t)stride + tx;
                unsigned q = (v * tap[k].wt) >> 8;
                if (q > *d) *d = (unsigned char)q;
            }
        }
    }
}

/* The text is drawn by cairo (FreeType glyphs, cached) into an A8 mask around its box; the halo
 * is that mask dilated by the halo radius, composited first in the halo colour. Stroking the
 * glyph outlines for the halo cost a tenth of a tile's time. */
static void draw_one(struct label_set *ls, cairo_t *cr, const struct label *l, const struct obox *b,
                     const char *text)
{
    const struct symbolizer *sym = l->sym;
    double c[8], minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    corners(b, c);
    for (int i = 0; i < 4; i++) {
        minx = fmin(minx, c[2 * i]), maxx = fmax(maxx, c[2 * i]);
        miny = fmin(miny, c[2 * i + 1]), maxy = fmax(maxy, c[2 * i + 1]);
    }
    int x0 = (int)floor(minx) - 3, y0 = (int)floor(miny) - 3;
    int w = (int)ceil(maxx) + 3 - x0, h = (int)ceil(maxy) + 3 - y0;
    cairo_surface_t *target = cairo_get_target(cr);
    int tx = x0 - (int)ls->ox, ty = y0 - (int)ls->oy; /* where the box falls in the window */
    if (tx >= cairo_image_surface_get_width(target) ||
        ty >= cairo_image_surface_get_height(target) || tx + w <= 0 || ty + h <= 0)
        return; /* placed (it keeps others away) but outside the window drawn */
    int stride = cairo_format_stride_for_width(CAIRO_FORMAT_A8, w);
    size_t need = (size_t)stride * (size_t)h;
    if (need > ls->cap_mask) {
        unsigned char *m = realloc(ls->mask, need), *hl = m ? realloc(ls->halo, need) : NULL;
        if (m) ls->mask = m;
        if (hl) ls->halo = hl;
        if (!m || !hl) return;
        ls->cap_mask = need;
    }
    memset(ls->mask, 0, need);
    cairo_surface_t *ms =
        cairo_image_surface_create_for_data(ls->mask, CAIRO_FORMAT_A8, w, h, stride);
    cairo_t *mc = cairo_create(ms);
    set_options(mc);
    /* the mask is clear and a label's glyphs do not overlap: ADD draws what OVER would, and lets
     * cairo add the cached glyphs straight into the mask, instead of through a temporary mask of
     * their extents cleared for every label (pixman_composite_glyphs): -2 % of the bench tiles'
     * instructions, the same bytes */
    cairo_set_operator(mc, CAIRO_OPERATOR_ADD);
    set_font(mc, sym, l->k);
    cairo_text_extents_t te;
    cairo_font_extents_t fe;
    cairo_text_extents(mc, text, &te);
    cairo_font_extents(mc, &fe);
    cairo_translate(mc, b->cx - x0, b->cy - y0);
    cairo_rotate(mc, b->angle);
    cairo_move_to(mc, -te.x_advance / 2, (fe.ascent - fe.descent) / 2);
    cairo_show_text(mc, text);
    cairo_destroy(mc);
    cairo_surface_flush(ms);
    cairo_surface_destroy(ms);
    cairo_surface_flush(target);
    if (sym->halo_radius > 0) {
        dilate(ls->mask, stride, w, h, sym->halo_radius * l->k, ls->halo);
        mask_composite(target, ls->halo, stride, tx, ty, w, h, sym->halo_color, sym->halo_opacity);
    }
    mask_composite(target, ls->mask, stride, tx, ty, w, h, sym->fill.color,
                   sym->fill.has ? sym->fill.opacity : 1);
    cairo_surface_mark_dirty(target);
}

static int push_done(struct label_set *ls, const struct label *l, const struct obox *b)
{
    if (ls->n_done == ls->cap_done) {
        size_t cap = ls->cap_done ? ls->cap_done * 2 : 64;
        struct placed_label *p = realloc(ls->done, cap * sizeof *p);
        if (!p) return -1;
        ls->done = p, ls->cap_done = cap;
    }
    ls->done[ls->n_done++] = (struct placed_label){l->sym, l->k, *b, l->text};
    return 0;
}

void label_draw(struct label_set *ls, cairo_t *cr)
{
    if (ls->replay) { /* placed for another window of the same map: draw, in the same order */
        for (size_t i = 0; i < ls->n_done; i++) {
            const struct placed_label *p = &ls->done[i];
            struct label l = {.sym = p->sym, .k = p->k};
            draw_one(ls, cr, &l, &p->box, ls->text.data + p->text);
        }
        return;
    }
    if (ls->n == 0) return;
    qsort(ls->labels, ls->n, sizeof *ls->labels, by_priority);
    for (size_t i = 0; i < ls->n; i++) {
        const struct label *l = &ls->labels[i];
        for (int c = 0; c < l->n_cand; c++) {
            const struct obox *b = &l->cand[c];
            double bb[4];
            if (!fits(ls, b, bb)) continue;
            if (ls->n_placed == ls->cap_placed) {
                size_t cap = ls->cap_placed ? ls->cap_placed * 2 : 64;
                struct placed *p = realloc(ls->placed, cap * sizeof *p);
                if (!p) {
                    ls->lost = 1;
                    return;
                }
                ls->placed = p, ls->cap_placed = cap;
            }
            ls->placed[ls->n_placed++] = (struct placed){*b, bb[0], bb[1], bb[2], bb[3]};
            if (!ls->lost && push_done(ls, l, b)) ls->lost = 1;
            draw_one(ls, cr, l, b, ls->text.data + l->text);
            break;
        }
    }
}

/* ---- the placement memo: one map's placed labels for its other windows ---- */

/* A raster tile is a window of its metatile, whose labels are placed over the whole metatile
 * (so reading every labelled feature of it); the metatile's other tiles, asked for next by any
 * map client, replay the placement and read their window only. Keys carry everything the
 * placement depends on (tiles/raster.c: format, layers, z, metatile, role and the tile cache's
 * generation, which moves on every data change). Direct-mapped: a collision replaces. */
#define MEMO_SLOTS 256

struct memo_entry {
    char *key;
    struct placed_label *done;
    size_t n_done;
    char *text;
    size_t text_len;
};

static struct memo_entry memo[MEMO_SLOTS];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t memo_slot(const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return (size_t)((h ^ (h >> 29)) % MEMO_SLOTS);
}

int label_replay(struct label_set *ls, const char *key)
{
    struct memo_entry *e = &memo[memo_slot(key)];
    int hit = 0;
    pthread_mutex_lock(&memo_lock);
    if (e->key && strcmp(e->key, key) == 0) {
        struct placed_label *d = malloc((e->n_done ? e->n_done : 1) * sizeof *d);
        buf_reset(&ls->text);
        if (d && !buf_append(&ls->text, e->text, e->text_len)) {
            memcpy(d, e->done, e->n_done * sizeof *d);
            free(ls->done);
            ls->done = d, ls->n_done = ls->cap_done = e->n_done;
            ls->replay = hit = 1;
        } else {
            free(d);
        }
    }
    pthread_mutex_unlock(&memo_lock);
    return hit;
}

void label_keep(const struct label_set *ls, const char *key)
{
    if (ls->replay || ls->lost) return;
    struct memo_entry n = {0};
    size_t len = 0;
    for (size_t i = 0; i < ls->n_done; i++)
        len += strlen(ls->text.data + ls->done[i].text) + 1;
    n.key = str_dup(key);
    n.done = malloc((ls->n_done ? ls->n_done : 1) * sizeof *n.done);
    n.text = malloc(len ? len : 1);
    if (!n.key || !n.done || !n.text) {
        free(n.key), free(n.done), free(n.text);
        return;
    }
    for (size_t i = 0; i < ls->n_done; i++) { /* the texts of the placed labels only */
        const char *t = ls->text.data + ls->done[i].text;
        size_t tl = strlen(t) + 1;
        n.done[i] = ls->done[i];
        n.done[i].text = n.text_len;
        memcpy(n.text + n.text_len, t, tl);
        n.text_len += tl;
    }
    n.n_done = ls->n_done;
    struct memo_entry *e = &memo[memo_slot(key)];
    pthread_mutex_lock(&memo_lock);
    struct memo_entry old = *e;
    *e = n;
    pthread_mutex_unlock(&memo_lock);
    free(old.key), free(old.done), free(old.text);
}
