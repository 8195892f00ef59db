/* SPDX-License-Identifier: MIT */
/* draw.c: the cairo renderer. One store query per layer (the fields its style reads, an index
 * bbox), rules chosen per feature in C while the rows stream in, geometry decoded from WKB into
 * growable arrays (no per-feature allocation), all coordinates of the map mapped to pixels in
 * one pass (through a grid of exactly transformed nodes when the map's CRS differs from the
 * storage CRS), then each rule's features drawn as one cairo path per symbolizer, anti-aliased,
 * or past cairo: hairlines (thin.c), wide round strokes and the fills under an outline (wide.c).
 * Labels are queued and placed last (label.c). Encoding is in encode.c. */
#include "render_int.h"

#include "../encode/encode.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct part {
    int off, n; /* points in coords */
    int ring;   /* 0 exterior / line / point, 1 interior ring */
};

struct feat {
    int layer; /* index in rq->layers */
    int part_off, n_parts;
    int rule_off;   /* ints: per FTS the matched rules, each list ended by -1 */
    int label_off;  /* ints: per label field a char offset (or -1) */
    double px_area; /* filled after projection: bbox area in px (label priority) */
    int drawn;      /* its symbols reach the window drawn (labels are placed for all) */
};

/* Rule choice depends only on the filter fields, which take few distinct values in a map (a
 * dozen land-use codes): the rule lists are memoised per layer by those values. */
#define MEMO_SLOTS 512
struct memo_slot {
    uint64_t hash;
    int key_off, key_len; /* in memo_keys */
    int rules_off, n;     /* in memo_rules */
};

struct collect {
    const struct render_request *rq;
    struct memo_slot memo[MEMO_SLOTS];
    int memo_used;
    struct buf memo_keys, key;
    int *memo_rules;
    size_t n_memo_rules, cap_memo_rules;
    double scale;
    int layer; /* current layer */
    const struct style *style;
    int lf[RENDER_MAX_LAYERS][16]; /* label fields per layer */
    int n_lf[RENDER_MAX_LAYERS];
    struct geom g;
    double *coords;              /* x, y interleaved */
    size_t n_coords, cap_coords; /* points */
    struct part *parts;
    size_t n_parts, cap_parts;
    struct feat *feats;
    size_t n_feats, cap_feats;
    int *ints;
    size_t n_ints, cap_ints;
    struct buf text;
    struct wide *wide; /* coverage mask of wide round strokes, made on first use */
    double margin;     /* px symbols reach beyond their geometry (symbol_margin) */
    int img_w, img_h;  /* the image drawn: the window, or the whole map */
    int labels_known;  /* the placement was replayed (label_key): no label is queued */
};

#define GROW(ptr, n, cap, extra)                                                                   \
    ((n) + (extra) <= (cap) ? 0 : grow((void **)&(ptr), &(cap), (n) + (extra), sizeof *(ptr)))

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int push_int(struct collect *c, int v)
{
    if (GROW(c->ints, c->n_ints, c->cap_ints, 1)) return -1;
    c->ints[c->n_ints++] = v;
    return 0;
}

static int add_geom(struct collect *c, struct feat *f)
{
    const struct geom *g = &c->g;
    if (GROW(c->parts, c->n_parts, c->cap_parts, (size_t)g->n_parts)) return -1;
    size_t pts = 0;
    for (int i = 0; i < g->n_parts; i++)
        pts += (size_t)g->parts[i].n;
    if (GROW(c->coords, 2 * c->n_coords, c->cap_coords, 2 * pts)) return -1;
    f->part_off = (int)c->n_parts;
    f->n_parts = g->n_parts;
    for (int i = 0; i < g->n_parts; i++) {
        const struct geom_part *gp = &g->parts[i];
        c->parts[c->n_parts++] = (struct part){(int)c->n_coords, gp->n, gp->ring};
        memcpy(c->coords + 2 * c->n_coords, gp->xy, 2 * sizeof(double) * (size_t)gp->n);
        c->n_coords += (size_t)gp->n;
    }
    return 0;
}

/* The rule lists of a feature (per FTS, each ended by -1) appended to c->ints; *any = 1 when a
 * rule applies. */
static int eval_rules(struct collect *c, const struct feature *fe, int *any)
{
    const struct style *s = c->style;
    *any = 0;
    for (int i = 0; i < s->n_fts; i++) {
        for (int r = style_next_rule(s, i, -1, fe->values, fe->fields, fe->n_fields, c->scale);
             r >= 0; r = style_next_rule(s, i, r, fe->values, fe->fields, fe->n_fields, c->scale)) {
            if (push_int(c, r)) return ERR_NOMEM;
            *any = 1;
        }
        if (push_int(c, -1)) return ERR_NOMEM;
    }
    return 0;
}

static int memo_key(struct collect *c, const struct feature *fe, uint64_t *hash)
{
    const struct style *s = c->style;
    buf_reset(&c->key);
    for (int k = 0; k < s->n_filter_fields; k++) {
        const struct value *v = NULL;
        for (int j = 0; j < fe->n_fields; j++)
            if (fe->fields[j] == s->filter_fields[k]) v = &fe->values[j];
        int rc = !v || v->type == VAL_NULL ? buf_putc(&c->key, 'n')
                 : v->type == VAL_TEXT
                     ? buf_putc(&c->key, 's') || buf_append(&c->key, v->s, (size_t)v->len)
                 : v->type == VAL_INT  ? buf_printf(&c->key, "i%lld", (long long)v->i)
                 : v->type == VAL_REAL ? buf_printf(&c->key, "r%.17g", v->d)
                                       : buf_putc(&c->key, 'b');
        if (rc || buf_putc(&c->key, '\x1f')) return ERR_NOMEM;
    }
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < c->key.len; i++)
        h = (h ^ (unsigned char)c->key.data[i]) * 1099511628211ULL;
    *hash = h;
    return 0;
}

static int memo_rules(struct collect *c, const struct feature *fe, int *any)
{
    uint64_t h;
    if (memo_key(c, fe, &h)) return ERR_NOMEM;
    size_t slot = h & (MEMO_SLOTS - 1);
    for (;; slot = (slot + 1) & (MEMO_SLOTS - 1)) {
        struct memo_slot *m = &c->memo[slot];
        if (m->n == 0) break;
        if (m->hash == h && (size_t)m->key_len == c->key.len &&
            (c->key.len == 0 || /* no rule reads a field: key and keys may be NULL */
             memcmp(c->memo_keys.data + m->key_off, c->key.data, c->key.len) == 0)) {
            if (GROW(c->ints, c->n_ints, c->cap_ints, (size_t)m->n)) return ERR_NOMEM;
            memcpy(c->ints + c->n_ints, c->memo_rules + m->rules_off, sizeof(int) * (size_t)m->n);
            c->n_ints += (size_t)m->n;
            *any = m->n > c->style->n_fts; /* more than the terminators */
            return 0;
        }
    }
    size_t start = c->n_ints;
    int rc = eval_rules(c, fe, any);
    if (rc || c->memo_used >= MEMO_SLOTS * 3 / 4) return rc;
    size_t n = c->n_ints - start;
    if (GROW(c->memo_rules, c->n_memo_rules, c->cap_memo_rules, n)) return ERR_NOMEM;
    struct memo_slot *m = &c->memo[slot];
    *m =
        (struct memo_slot){h, (int)c->memo_keys.len, (int)c->key.len, (int)c->n_memo_rules, (int)n};
    if (buf_append(&c->memo_keys, c->key.data, c->key.len)) return ERR_NOMEM;
    memcpy(c->memo_rules + c->n_memo_rules, c->ints + start, sizeof(int) * n);
    c->n_memo_rules += n;
    c->memo_used++;
    return 0;
}

static void memo_reset(struct collect *c)
{
    memset(c->memo, 0, sizeof c->memo);
    c->memo_used = 0;
    buf_reset(&c->memo_keys);
    c->n_memo_rules = 0;
}

static int on_feature(void *ud, const struct feature *fe, struct err *err)
{
    struct collect *c = ud;
    size_t rule_off = c->n_ints;
    int any = 0;
    if (memo_rules(c, fe, &any)) return err_set(err, ERR_NOMEM, "out of memory");
    if (!any || !fe->wkb) {
        c->n_ints = rule_off;
        return 0;
    }
    int grc = geom_from_wkb(&c->g, fe->wkb, fe->wkb_len, NULL);
    if (grc == ERR_NOMEM) return err_set(err, ERR_NOMEM, "out of memory");
    if (grc || c->g.n_parts == 0) {
        c->n_ints = rule_off; /* a broken geometry is skipped, not fatal for the map */
        return 0;
    }
    if (GROW(c->feats, c->n_feats, c->cap_feats, 1))
        return err_set(err, ERR_NOMEM, "out of memory");
    struct feat *f = &c->feats[c->n_feats];
    memset(f, 0, sizeof *f);
    f->layer = c->layer;
    f->drawn = 1;
    f->rule_off = (int)rule_off;
    f->label_off = (int)c->n_ints;
    for (int k = 0; k < c->n_lf[c->layer]; k++) {
        const struct value *v = NULL;
        for (int j = 0; j < fe->n_fields; j++)
            if (fe->fields[j] == c->lf[c->layer][k]) v = &fe->values[j];
        int off = -1;
        if (v && v->type != VAL_NULL && v->type != VAL_BLOB) {
            off = (int)c->text.len;
            int rc = v->type == VAL_TEXT  ? buf_append(&c->text, v->s, (size_t)v->len)
                     : v->type == VAL_INT ? encode_int(&c->text, (long long)v->i)
                                          : buf_put_double(&c->text, v->d, 2);
            if (rc || buf_putc(&c->text, '\0')) return err_set(err, ERR_NOMEM, "out of memory");
        }
        if (push_int(c, off)) return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (add_geom(c, f)) return err_set(err, ERR_NOMEM, "out of memory");
    c->n_feats++;
    return 0;
}

/* The label fields of the rules visible at this scale. */
static void find_label_fields(struct collect *c)
{
    const struct style *s = c->style;
    int *lf = c->lf[c->layer], *n = &c->n_lf[c->layer];
    *n = 0;
    for (int i = 0; i < s->n_fts; i++)
        for (int j = 0; j < s->fts[i].n_rules; j++)
            for (int k = 0; k < s->fts[i].rules[j].n_syms; k++) {
                const struct symbolizer *y = &s->fts[i].rules[j].syms[k];
                const struct style_rule *r = &s->fts[i].rules[j];
                if (y->kind != SYM_TEXT || c->scale < r->min_scale || c->scale >= r->max_scale)
                    continue;
                int seen = 0;
                for (int m = 0; m < *n; m++)
                    seen |= lf[m] == y->label_field;
                if (!seen && *n < 16) lf[(*n)++] = y->label_field;
            }
}

static int label_slot(const struct collect *c, int layer, int field)
{
    for (int m = 0; m < c->n_lf[layer]; m++)
        if (c->lf[layer][m] == field) return m;
    return -1;
}

double render_scale(int srid, const struct bbox *bbox, int width, double scale_factor,
                    struct geo_ctx *geo)
{
    double w = bbox->maxx - bbox->minx;
    if (srid == GEO_SRID_CRS84 || (geo && geo_crs_geographic(geo, srid)))
        w *= 6378137.0 * 2 * M_PI / 360.0; /* OGC: degrees to metres on the equator */
    double px = width / (scale_factor > 0 ? scale_factor : 1);
    return px > 0 ? w / px / 0.00028 : 0;
}

/* The query box in the storage CRS: the map's bbox plus a margin for wide symbols. */
/* Pixels a symbol drawn at scale reaches beyond its geometry: half the widest stroke plus its
 * offset, half the largest mark, and a pixel of anti-aliasing. Features within that margin of
 * the map are queried; a fixed generous margin cost a third more features per tile. */
static double symbol_margin(const struct render_request *rq, double scale)
{
    double m = 0;
    for (int i = 0; i < rq->n_layers; i++) {
        const struct style *s = rq->layers[i].style;
        for (int f = 0; s && f < s->n_fts; f++)
            for (int r = 0; r < s->fts[f].n_rules; r++) {
                const struct style_rule *rule = &s->fts[f].rules[r];
                if (scale < rule->min_scale || scale >= rule->max_scale) continue;
                for (int k = 0; k < rule->n_syms; k++) {
                    const struct symbolizer *y = &rule->syms[k];
                    double w = y->stroke.has ? y->stroke.width / 2 + fabs(y->offset) : 0;
                    if (y->kind == SYM_POINT)
                        w = y->size / 2 + (y->stroke.has ? y->stroke.width : 0);
                    if (y->kind != SYM_TEXT && w > m) m = w;
                }
            }
    }
    return (m + 1.5) * (rq->scale_factor > 0 ? rq->scale_factor : 1);
}

/* The query box of the pixels (x, y, w, h) of the map (the whole map, or its window). */
static int query_box(const struct render_request *rq, int storage, double margin_px, int x, int y,
                     int w, int h, struct bbox *out, struct err *err)
{
    double rx = (rq->bbox.maxx - rq->bbox.minx) / rq->width;
    double ry = (rq->bbox.maxy - rq->bbox.miny) / rq->height;
    double mx = rx * margin_px, my = ry * margin_px;
    struct bbox b = {rq->bbox.minx + x * rx - mx, rq->bbox.maxy - (y + h) * ry - my,
                     rq->bbox.minx + (x + w) * rx + mx, rq->bbox.maxy - y * ry + my};
    if (x == 0 && y == 0 && w == rq->width && h == rq->height)
        b = (struct bbox){rq->bbox.minx - mx, rq->bbox.miny - my, rq->bbox.maxx + mx,
                          rq->bbox.maxy + my}; /* exactly as before windows: the same mesh */
    if (rq->srid == storage) {
        *out = b;
        return 0;
    }
    return geo_transform_bbox(rq->geo, rq->srid, storage, &b, out, err);
}

#define GRID 8
/* Maps storage coordinates to pixels in place. Same CRS: affine. Otherwise a GRID x GRID mesh
 * over the query box is transformed exactly (the official operation) and points are
 * interpolated bilinearly: the error of TM -> Mercator/geographic over cells this small is far
 * below a pixel, and one PROJ call replaces one per vertex. Points outside the mesh extrapolate
 * from the edge cells (they are outside the image). */
static int project(const struct render_request *rq, int storage, const struct bbox *qb, double *xy,
                   size_t n, struct err *err)
{
    double sx = rq->width / (rq->bbox.maxx - rq->bbox.minx);
    double sy = rq->height / (rq->bbox.maxy - rq->bbox.miny);
    if (rq->srid == storage) {
        for (size_t i = 0; i < n; i++) {
            xy[2 * i] = (xy[2 * i] - rq->bbox.minx) * sx;
            xy[2 * i + 1] = (rq->bbox.maxy - xy[2 * i + 1]) * sy;
        }
        return 0;
    }
    double node[(GRID + 1) * (GRID + 1) * 2];
    double cw = (qb->maxx - qb->minx) / GRID, ch = (qb->maxy - qb->miny) / GRID;
    for (int j = 0; j <= GRID; j++)
        for (int i = 0; i <= GRID; i++) {
            node[2 * (j * (GRID + 1) + i)] = qb->minx + i * cw;
            node[2 * (j * (GRID + 1) + i) + 1] = qb->miny + j * ch;
        }
    int rc = geo_transform(rq->geo, storage, rq->srid, node, (GRID + 1) * (GRID + 1), err);
    if (rc) return rc;
    for (int k = 0; k < (GRID + 1) * (GRID + 1); k++) {
        node[2 * k] = (node[2 * k] - rq->bbox.minx) * sx;
        node[2 * k + 1] = (rq->bbox.maxy - node[2 * k + 1]) * sy;
    }
    for (size_t p = 0; p < n; p++) {
        double u = (xy[2 * p] - qb->minx) / cw, v = (xy[2 * p + 1] - qb->miny) / ch;
        /* the cell, clamped to the mesh (floor without a libm call; NaN goes to cell 0) */
        int i = u >= GRID ? GRID - 1 : u >= 0 ? (int)u : 0;
        int j = v >= GRID ? GRID - 1 : v >= 0 ? (int)v : 0;
        double fu = u - i, fv = v - j;
        const double *a = &node[2 * (j * (GRID + 1) + i)], *b = a + 2;
        const double *c = a + 2 * (GRID + 1), *d = c + 2;
        for (int k = 0; k < 2; k++)
            xy[2 * p + k] =
                (a[k] * (1 - fu) + b[k] * fu) * (1 - fv) + (c[k] * (1 - fu) + d[k] * fu) * fv;
    }
    return 0;
}

static int collect_layers(const struct render_request *rq, struct collect *c, double scale,
                          struct err *err)
{
    int storage = rq->cfg->storage_srid;
    struct bbox qb, wb;
    c->margin = symbol_margin(rq, scale);
    int rc = query_box(rq, storage, c->margin, 0, 0, rq->width, rq->height, &qb, err);
    /* a layer without labels at this scale is read over the window only: the others are read
     * over the whole map, where their labels compete for places */
    if (!rc && rq->win_w > 0)
        rc =
            query_box(rq, storage, c->margin, rq->win_x, rq->win_y, rq->win_w, rq->win_h, &wb, err);
    if (rc) return rc;
    int fields[256];
    struct feature_sink sink = {NULL, on_feature, NULL, c};
    if (rq->n_layers > RENDER_MAX_LAYERS)
        return err_setl(err, ERR_PARAM, "LAYERS", "more than %d layers", RENDER_MAX_LAYERS);
    for (int i = 0; i < rq->n_layers && !rc; i++) {
        const struct style *s = rq->layers[i].style;
        if (!s || !style_visible(s, scale)) continue;
        c->layer = i;
        c->style = s;
        memo_reset(c);
        find_label_fields(c);
        if (c->labels_known) c->n_lf[i] = 0; /* read over the window, without label fields */
        /* read what rule choice and the labels visible at this scale need, nothing more */
        int n_fields = 0;
        for (int k = 0; k < s->n_filter_fields && n_fields < 240; k++)
            fields[n_fields++] = s->filter_fields[k];
        for (int k = 0; k < c->n_lf[i]; k++)
            fields[n_fields++] = c->lf[i][k];
        struct store_query q = {.layer = rq->layers[i].layer,
                                .role = rq->role,
                                .has_bbox = 1,
                                .bbox = rq->win_w > 0 && !c->n_lf[i] ? wb : qb,
                                .fields = fields,
                                .n_fields = n_fields,
                                .limit = -1,
                                .want_geom = 1};
        rc = store_query_run(rq->store, &q, &sink, err);
    }
    if (!rc) rc = project(rq, storage, &qb, c->coords, c->n_coords, err);
    return rc;
}

/* Drawing. */

void draw_set_source(cairo_t *cr, uint32_t rgb, double opacity)
{
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                          (rgb & 255) / 255.0, opacity);
}

void draw_stroke_style(cairo_t *cr, const struct style_stroke *s, double k)
{
    draw_set_source(cr, s->color, s->opacity);
    cairo_set_line_width(cr, s->width * k < 0.3 ? 0.3 : s->width * k);
    static const cairo_line_cap_t caps[] = {CAIRO_LINE_CAP_BUTT, CAIRO_LINE_CAP_ROUND,
                                            CAIRO_LINE_CAP_SQUARE};
    static const cairo_line_join_t joins[] = {CAIRO_LINE_JOIN_MITER, CAIRO_LINE_JOIN_ROUND,
                                              CAIRO_LINE_JOIN_BEVEL};
    cairo_set_line_cap(cr, caps[s->cap]);
    cairo_set_line_join(cr, joins[s->join]);
    double d[STYLE_MAX_DASH];
    for (int i = 0; i < s->n_dash; i++)
        d[i] = s->dash[i] * k;
    cairo_set_dash(cr, d, s->n_dash, 0);
}

static cairo_pattern_t *hatch_pattern(const struct style_fill *f, double k)
{
    int size = (int)ceil(f->hatch_size * k);
    if (size < 3) size = 3;
    cairo_surface_t *tile = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
    cairo_t *cr = cairo_create(tile);
    draw_set_source(cr, f->hatch_color, 1);
    cairo_set_line_width(cr, f->hatch_width * k);
    double s = size;
    switch (f->hatch) {
    case HATCH_SLASH:
    case HATCH_TIMES:
        cairo_move_to(cr, -1, s + 1), cairo_line_to(cr, s + 1, -1);
        cairo_move_to(cr, -1, 1), cairo_line_to(cr, 1, -1);
        cairo_move_to(cr, s - 1, s + 1), cairo_line_to(cr, s + 1, s - 1);
        if (f->hatch == HATCH_SLASH) break;
        /* fall through */
    case HATCH_BACKSLASH:
        cairo_move_to(cr, -1, -1), cairo_line_to(cr, s + 1, s + 1);
        cairo_move_to(cr, s - 1, -1), cairo_line_to(cr, s + 1, 1);
        cairo_move_to(cr, -1, s - 1), cairo_line_to(cr, 1, s + 1);
        break;
    case HATCH_HORLINE:
    case HATCH_PLUS:
        cairo_move_to(cr, 0, s / 2), cairo_line_to(cr, s, s / 2);
        if (f->hatch == HATCH_HORLINE) break;
        /* fall through */
    case HATCH_VERTLINE:
        cairo_move_to(cr, s / 2, 0), cairo_line_to(cr, s / 2, s);
        break;
    case HATCH_DOT:
        cairo_arc(cr, s / 2, s / 2, f->hatch_width * k, 0, 2 * M_PI);
        break;
    default:
        break;
    }
    if (f->hatch == HATCH_DOT)
        cairo_fill(cr);
    else
        cairo_stroke(cr);
    cairo_destroy(cr);
    cairo_pattern_t *p = cairo_pattern_create_for_surface(tile);
    cairo_surface_destroy(tile);
    cairo_pattern_set_extend(p, CAIRO_EXTEND_REPEAT);
    return p;
}

/* Fills the current path (preserved) with the solid colour and then the hatch. */
void draw_fill_path(cairo_t *cr, const struct style_fill *f, double k)
{
    if (f->has) {
        draw_set_source(cr, f->color, f->opacity);
        cairo_fill_preserve(cr);
    }
    if (f->hatch != HATCH_NONE) {
        cairo_pattern_t *p = hatch_pattern(f, k);
        cairo_set_source(cr, p);
        cairo_fill_preserve(cr);
        cairo_pattern_destroy(p);
    }
}

void draw_mark(cairo_t *cr, const struct symbolizer *sym, double x, double y, double k)
{
    double r = sym->size * k / 2;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    if (sym->rotation != 0) cairo_rotate(cr, sym->rotation * M_PI / 180);
    cairo_new_path(cr);
    switch (sym->mark) {
    case MARK_CIRCLE:
        cairo_arc(cr, 0, 0, r, 0, 2 * M_PI);
        break;
    case MARK_SQUARE:
        cairo_rectangle(cr, -r, -r, 2 * r, 2 * r);
        break;
    case MARK_TRIANGLE:
        cairo_move_to(cr, 0, -r);
        cairo_line_to(cr, r * 0.866, r * 0.5);
        cairo_line_to(cr, -r * 0.866, r * 0.5);
        cairo_close_path(cr);
        break;
    case MARK_STAR:
        for (int i = 0; i < 10; i++) {
            double a = -M_PI / 2 + i * M_PI / 5, rr = i % 2 ? r * 0.45 : r;
            if (i == 0)
                cairo_move_to(cr, rr * cos(a), rr * sin(a));
            else
                cairo_line_to(cr, rr * cos(a), rr * sin(a));
        }
        cairo_close_path(cr);
        break;
    case MARK_CROSS:
    case MARK_X:
        if (sym->mark == MARK_X) cairo_rotate(cr, M_PI / 4);
        cairo_rectangle(cr, -r, -r * 0.2, 2 * r, r * 0.4);
        cairo_rectangle(cr, -r * 0.2, -r, r * 0.4, 2 * r);
        break;
    }
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
    struct style_fill f = sym->fill;
    f.hatch = HATCH_NONE;
    draw_fill_path(cr, &f, k);
    if (sym->stroke.has) {
        draw_stroke_style(cr, &sym->stroke, k);
        cairo_stroke_preserve(cr);
    }
    cairo_new_path(cr);
    cairo_restore(cr);
}

/* Appends a part to the path, dropping vertices closer than a third of a pixel. Rings are
 * oriented so that exteriors wind one way and holes the other (non-zero fill rule), whatever
 * their orientation in the data. */
static void path_part(cairo_t *cr, const double *xy, int n, int polygon, int hole)
{
    if (n < 1) return;
    int reverse = 0;
    if (polygon) {
        double a = 0;
        for (int i = 0; i + 1 < n; i++)
            a += xy[2 * i] * xy[2 * i + 3] - xy[2 * i + 2] * xy[2 * i + 1];
        reverse = hole ? a > 0 : a < 0;
    }
    double lx = 0, ly = 0;
    for (int k = 0; k < n; k++) {
        int i = reverse ? n - 1 - k : k;
        double x = clampc(xy[2 * i]), y = clampc(xy[2 * i + 1]);
        if (k == 0)
            cairo_move_to(cr, x, y);
        else if (fabs(x - lx) + fabs(y - ly) > 0.33 || k == n - 1)
            cairo_line_to(cr, x, y);
        else
            continue;
        lx = x, ly = y;
    }
    if (polygon) cairo_close_path(cr);
}

/* Offsets a polyline by d px to its left (SE PerpendicularOffset), into out (2n doubles). */
static void offset_line(const double *xy, int n, double d, double *out)
{
    for (int i = 0; i < n; i++) {
        int a = i > 0 ? i - 1 : i, b = i + 1 < n ? i + 1 : i;
        double dx = xy[2 * b] - xy[2 * a], dy = xy[2 * b + 1] - xy[2 * a + 1];
        double len = hypot(dx, dy);
        if (len == 0) len = 1;
        out[2 * i] = xy[2 * i] + d * dy / len;
        out[2 * i + 1] = xy[2 * i + 1] - d * dx / len;
    }
}

/* A label point inside a polygon feature: on the horizontal line through the middle of its
 * largest exterior ring, the midpoint of the widest inside interval (holes counted). *w gets
 * that interval's width (labels wider than it are not placed). 0 if none. */
static int interior_point(const struct collect *c, const struct feat *f, double *x, double *y,
                          double *w)
{
    int best = -1;
    double best_area = -1, cy = 0;
    for (int i = 0; i < f->n_parts; i++) {
        const struct part *p = &c->parts[f->part_off + i];
        if (p->ring) continue;
        double minx = INFINITY, maxx = -INFINITY, miny = INFINITY, maxy = -INFINITY;
        for (int k = 0; k < p->n; k++) {
            const double *q = &c->coords[2 * (p->off + k)];
            minx = q[0] < minx ? q[0] : minx, maxx = q[0] > maxx ? q[0] : maxx;
            miny = q[1] < miny ? q[1] : miny, maxy = q[1] > maxy ? q[1] : maxy;
        }
        if ((maxx - minx) * (maxy - miny) > best_area) {
            best_area = (maxx - minx) * (maxy - miny);
            best = i;
            cy = (miny + maxy) / 2;
        }
    }
    if (best < 0) return 0;
    double xs[64];
    int n = 0;
    for (int i = best; i < f->n_parts && n < 64; i++) {
        const struct part *p = &c->parts[f->part_off + i];
        if (i > best && !p->ring) break;
        for (int k = 0; k + 1 < p->n && n < 64; k++) {
            const double *a = &c->coords[2 * (p->off + k)], *b = a + 2;
            if ((a[1] <= cy) == (b[1] <= cy)) continue;
            xs[n++] = a[0] + (cy - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
        }
    }
    for (int i = 1; i < n; i++) /* insertion sort: few crossings */
        for (int j = i; j > 0 && xs[j - 1] > xs[j]; j--) {
            double t = xs[j];
            xs[j] = xs[j - 1], xs[j - 1] = t;
        }
    double bw = 0;
    for (int i = 0; i + 1 < n; i += 2)
        if (xs[i + 1] - xs[i] > bw) bw = xs[i + 1] - xs[i], *x = (xs[i] + xs[i + 1]) / 2;
    *y = cy;
    *w = bw;
    return bw > 0;
}

static void queue_label(const struct render_request *rq, struct collect *c, struct label_set *ls,
                        const struct feat *f, const struct symbolizer *sym)
{
    int slot = label_slot(c, f->layer, sym->label_field);
    if (slot < 0) return;
    int off = c->ints[f->label_off + slot];
    if (off < 0) return;
    const char *text = c->text.data + off;
    if (!*text) return;
    enum geom_type gt = rq->layers[f->layer].layer->geom;
    double k = rq->scale_factor;
    if (gt == GT_POINT || gt == GT_MULTIPOINT) {
        const double *p = &c->coords[2 * c->parts[f->part_off].off];
        label_add_point(ls, sym, k, text, p[0], p[1], 0, 1);
    } else if (gt == GT_LINESTRING || gt == GT_MULTILINESTRING) {
        int best = -1;
        double best_len = 0;
        for (int i = 0; i < f->n_parts; i++) {
            const struct part *p = &c->parts[f->part_off + i];
            double len = 0;
            for (int j = 0; j + 1 < p->n; j++) {
                const double *a = &c->coords[2 * (p->off + j)];
                len += hypot(a[2] - a[0], a[3] - a[1]);
            }
            if (len > best_len) best_len = len, best = i;
        }
        if (best >= 0) {
            const struct part *p = &c->parts[f->part_off + best];
            label_add_line(ls, sym, k, text, &c->coords[2 * p->off], p->n, best_len);
        }
    } else {
        double x, y, w;
        if (interior_point(c, f, &x, &y, &w)) label_add_point(ls, sym, k, text, x, y, w, w);
    }
}

static void draw_points(const struct render_request *rq, cairo_t *cr, struct collect *c,
                        const struct feat *f, const struct symbolizer *sym)
{
    enum geom_type gt = rq->layers[f->layer].layer->geom;
    if (gt == GT_POINT || gt == GT_MULTIPOINT) {
        for (int i = 0; i < f->n_parts; i++) {
            const double *p = &c->coords[2 * c->parts[f->part_off + i].off];
            if (p[0] > -50 && p[1] > -50 && p[0] < c->img_w + 50 && p[1] < c->img_h + 50)
                draw_mark(cr, sym, p[0], p[1], rq->scale_factor);
        }
        return;
    }
    double x, y, w;
    if (gt != GT_LINESTRING && gt != GT_MULTILINESTRING && interior_point(c, f, &x, &y, &w))
        draw_mark(cr, sym, x, y, rq->scale_factor);
}

/* Hairlines of the features idx[0..n), past cairo (thin.c). */
static void thin_lines(const struct render_request *rq, cairo_t *cr, struct collect *c,
                       const struct symbolizer *sym, const int *idx, int n)
{
    cairo_surface_t *surf = cairo_get_target(cr);
    cairo_surface_flush(surf);
    enum geom_type gt = rq->layers[c->feats[idx[0]].layer].layer->geom;
    int polygon = gt == GT_POLYGON || gt == GT_MULTIPOLYGON;
    double w = sym->stroke.width * rq->scale_factor;
    for (int i = 0; i < n; i++) {
        const struct feat *f = &c->feats[idx[i]];
        for (int j = 0; j < f->n_parts; j++) {
            const struct part *p = &c->parts[f->part_off + j];
            thin_polyline(surf, &c->coords[2 * p->off], p->n, polygon, sym->stroke.color,
                          sym->stroke.opacity, w < 0.3 ? 0.3 : w);
        }
    }
    cairo_surface_mark_dirty(surf);
}

/* The coverage mask of wide.c for the image drawn, made (or remade for another size) on use. */
static int wide_ready(struct collect *c)
{
    if (c->wide && !wide_fits(c->wide, c->img_w, c->img_h)) {
        wide_free(c->wide);
        c->wide = NULL;
    }
    return !c->wide && !(c->wide = wide_new(c->img_w, c->img_h)) ? ERR_NOMEM : 0;
}

/* Wide solid strokes with round joins (and round caps, or closed rings): wide.c. */
static int wide_ok(const struct symbolizer *sym, int polygon, double k)
{
    const struct style_stroke *st = &sym->stroke;
    return st->has && st->n_dash == 0 && sym->offset == 0 && st->width * k > THIN_MAX &&
           st->join == JOIN_ROUND && (st->cap == CAP_ROUND || polygon);
}

static int wide_lines(const struct render_request *rq, cairo_t *cr, struct collect *c,
                      const struct symbolizer *sym, int polygon, const int *idx, int n)
{
    cairo_surface_t *surf = cairo_get_target(cr);
    if (wide_ready(c)) return ERR_NOMEM;
    cairo_surface_flush(surf);
    for (int i = 0; i < n; i++) {
        const struct feat *f = &c->feats[idx[i]];
        for (int j = 0; j < f->n_parts; j++) {
            const struct part *p = &c->parts[f->part_off + j];
            wide_polyline(c->wide, &c->coords[2 * p->off], p->n, polygon,
                          sym->stroke.width * rq->scale_factor);
        }
    }
    wide_composite(c->wide, surf, sym->stroke.color, sym->stroke.opacity);
    cairo_surface_mark_dirty(surf);
    return 0;
}

/* The solid fill of outlined polygons through the mask of wide.c: each feature's rings, then
 * one composite in the fill colour (overlapping features are covered once, as in one path). */
static int mask_fills(cairo_t *cr, struct collect *c, const struct symbolizer *sym, const int *idx,
                      int n)
{
    cairo_surface_t *surf = cairo_get_target(cr);
    if (wide_ready(c)) return ERR_NOMEM;
    /* an opaque fill is set straight in the image (the features' union is the same) */
    int opaque = sym->fill.opacity >= 1;
    uint32_t argb = 0xff000000u | (sym->fill.color & 0xffffffu);
    cairo_surface_flush(surf);
    unsigned char *img = opaque ? cairo_image_surface_get_data(surf) : NULL;
    int stride = cairo_image_surface_get_stride(surf), rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const struct feat *f = &c->feats[idx[i]];
        for (int j = 0; j < f->n_parts && !rc; j++) {
            const struct part *p = &c->parts[f->part_off + j];
            rc = wide_fill_ring(c->wide, &c->coords[2 * p->off], p->n, p->ring);
        }
        if (!rc) rc = wide_fill_end(c->wide, img, stride, argb);
    }
    if (!opaque) wide_composite(c->wide, surf, sym->fill.color, sym->fill.opacity);
    cairo_surface_mark_dirty(surf);
    return rc ? ERR_NOMEM : 0;
}

/* Draws one symbolizer for the features idx[0..n) of a layer as one path. */
static int draw_sym(const struct render_request *rq, cairo_t *cr, struct collect *c,
                    struct label_set *ls, const struct symbolizer *sym, const int *idx, int n)
{
    double k = rq->scale_factor;
    if (sym->kind == SYM_TEXT || sym->kind == SYM_POINT) {
        for (int i = 0; i < n; i++) {
            if (sym->kind == SYM_TEXT)
                queue_label(rq, c, ls, &c->feats[idx[i]], sym);
            else
                draw_points(rq, cr, c, &c->feats[idx[i]], sym);
        }
        return 0;
    }
    enum geom_type gt = rq->layers[c->feats[idx[0]].layer].layer->geom;
    int polygon = gt == GT_POLYGON || gt == GT_MULTIPOLYGON;
    if (sym->kind == SYM_POLYGON && !polygon) return 0;
    if (gt == GT_POINT || gt == GT_MULTIPOINT) return 0;
    int wide = wide_ok(sym, polygon, k) && sym->stroke.opacity > 0;
    if (sym->kind == SYM_LINE && wide) return wide_lines(rq, cr, c, sym, 0, idx, n);
    const struct style_stroke *st = &sym->stroke;
    int thin = st->has && st->n_dash == 0 && st->width * k <= THIN_MAX && sym->offset == 0;
    int cairo_stroke = st->has && st->opacity > 0 && !thin && !wide;
    /* An outline drawn over the fill hides its edge: anti-aliasing it is wasted work, and a
     * solid one is set in the mask of wide.c (the pixels whose centre is inside) */
    int outlined = sym->kind == SYM_POLYGON && st->has && st->opacity >= 0.5 && st->n_dash == 0;
    int mask_fill = outlined && sym->fill.has && sym->fill.hatch == HATCH_NONE;
    int cairo_fill =
        sym->kind == SYM_POLYGON && !mask_fill && (sym->fill.has || sym->fill.hatch != HATCH_NONE);
    if (mask_fill && sym->fill.opacity > 0) {
        int rc = mask_fills(cr, c, sym, idx, n);
        if (rc) return rc;
    }
    if (cairo_fill || cairo_stroke) {
        double *tmp = NULL;
        size_t tmp_cap = 0;
        cairo_new_path(cr);
        for (int i = 0; i < n; i++) {
            const struct feat *f = &c->feats[idx[i]];
            for (int j = 0; j < f->n_parts; j++) {
                const struct part *p = &c->parts[f->part_off + j];
                const double *xy = &c->coords[2 * p->off];
                if (sym->kind == SYM_LINE && sym->offset != 0) {
                    if ((size_t)p->n * 2 > tmp_cap) {
                        double *t = realloc(tmp, (size_t)p->n * 2 * sizeof *t);
                        if (!t) {
                            free(tmp);
                            return ERR_NOMEM;
                        }
                        tmp = t, tmp_cap = (size_t)p->n * 2;
                    }
                    offset_line(xy, p->n, sym->offset * k, tmp);
                    xy = tmp;
                }
                path_part(cr, xy, p->n, sym->kind == SYM_POLYGON, p->ring);
            }
        }
        free(tmp);
        if (cairo_fill) {
            cairo_antialias_t aa = cairo_get_antialias(cr);
            if (outlined) cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
            cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
            draw_fill_path(cr, &sym->fill, k);
            cairo_set_antialias(cr, aa);
        }
        if (cairo_stroke) {
            draw_stroke_style(cr, st, k);
            cairo_stroke_preserve(cr);
        }
        cairo_new_path(cr);
    }
    if (thin && st->opacity > 0) thin_lines(rq, cr, c, sym, idx, n);
    if (wide) return wide_lines(rq, cr, c, sym, polygon, idx, n);
    return 0;
}

/* Features [from, to) of one layer grouped by the rule they matched in FTS `fts`, drawn rule by
 * rule (so each symbolizer is one path: the speed of a tile depends on it). */
static int draw_fts(const struct render_request *rq, cairo_t *cr, struct collect *c,
                    struct label_set *ls, const struct style *s, int fts, size_t from, size_t to)
{
    int n_rules = s->fts[fts].n_rules;
    int *count = calloc((size_t)n_rules + 1, sizeof *count);
    int *idx = NULL;
    size_t total = 0;
    if (!count) return ERR_NOMEM;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            idx = malloc((total ? total : 1) * sizeof *idx);
            if (!idx) {
                free(count);
                return ERR_NOMEM;
            }
            int sum = 0;
            for (int r = 0; r <= n_rules; r++) {
                int t = count[r];
                count[r] = sum;
                sum += t;
            }
        }
        for (size_t i = from; i < to; i++) {
            const int *l = &c->ints[c->feats[i].rule_off];
            for (int f = 0; f < fts; f++)
                while (*l++ >= 0) {
                }
            for (; *l >= 0; l++) {
                if (pass == 0)
                    count[*l]++, total++;
                else
                    idx[count[*l]++] = (int)i;
            }
        }
    }
    /* vis: the features of each rule whose symbols reach the window (all without a window) */
    int rc = 0, start = 0, *vis = malloc((total ? total : 1) * sizeof *vis);
    if (!vis) rc = ERR_NOMEM;
    for (int r = 0; r < n_rules && !rc; r++) {
        int end = count[r], n_vis = 0;
        for (int i = start; i < end; i++)
            if (c->feats[idx[i]].drawn) vis[n_vis++] = idx[i];
        const struct style_rule *rule = &s->fts[fts].rules[r];
        for (int k = 0; k < rule->n_syms && end > start && !rc; k++) {
            const struct symbolizer *y = &rule->syms[k];
            if (y->kind == SYM_TEXT)
                rc = draw_sym(rq, cr, c, ls, y, idx + start, end - start);
            else if (n_vis)
                rc = draw_sym(rq, cr, c, ls, y, vis, n_vis);
        }
        start = end;
    }
    free(vis);
    free(idx);
    free(count);
    return rc ? err_set(NULL, ERR_NOMEM, "out of memory") : 0;
}

static void collect_fini(struct collect *c)
{
    geom_fini(&c->g);
    free(c->coords), free(c->parts), free(c->feats), free(c->ints), free(c->memo_rules);
    buf_fini(&c->text);
    buf_fini(&c->memo_keys);
    buf_fini(&c->key);
    wide_free(c->wide);
}

/* A thread's last collect and image buffer, kept for its next map: a map grew its arrays from
 * nothing and took a fresh image, paying the reallocations and page faults on every tile. Only
 * moderate sizes are kept (a big WMS map's arrays are freed), so a render thread holds at most
 * KEEP_BYTES of each. */
#define KEEP_BYTES ((size_t)8 << 20)
struct spare {
    struct collect *c;
    unsigned char *image;
    size_t image_len;
};
static _Thread_local struct spare spare;
static pthread_key_t spare_key; /* frees a thread's spare when the thread ends */
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_free(void *p)
{
    struct spare *sp = p;
    if (sp->c) collect_fini(sp->c);
    free(sp->c), free(sp->image);
    sp->c = NULL, sp->image = NULL;
}

static void spare_key_init(void)
{
    pthread_key_create(&spare_key, spare_free);
}

static void spare_register(void)
{
    pthread_once(&spare_once, spare_key_init);
    pthread_setspecific(spare_key, &spare);
}

/* An empty collect: the thread's spare (its arrays kept, emptied) or a new one. */
static struct collect *collect_take(void)
{
    struct collect *c = spare.c;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (c) geom_init(&c->g), buf_init(&c->text);
        return c;
    }
    spare.c = NULL;
    struct collect keep = *c;
    memset(c, 0, sizeof *c);
    c->g = keep.g;
    c->memo_keys = keep.memo_keys, c->key = keep.key, c->text = keep.text;
    buf_reset(&c->memo_keys), buf_reset(&c->key), buf_reset(&c->text);
    c->memo_rules = keep.memo_rules, c->cap_memo_rules = keep.cap_memo_rules;
    c->coords = keep.coords, c->cap_coords = keep.cap_coords;
    c->parts = keep.parts, c->cap_parts = keep.cap_parts;
    c->feats = keep.feats, c->cap_feats = keep.cap_feats;
    c->ints = keep.ints, c->cap_ints = keep.cap_ints;
    c->wide = keep.wide; /* left clear by wide_composite; kept only for the same image size */
    return c;
}

/* Keeps c as the thread's spare when its arrays are moderate, else frees it. */
static void collect_give(struct collect *c)
{
    size_t bytes = c->cap_coords * sizeof *c->coords + c->cap_parts * sizeof *c->parts +
                   c->cap_feats * sizeof *c->feats + c->cap_ints * sizeof *c->ints +
                   c->cap_memo_rules * sizeof *c->memo_rules + c->text.cap + c->memo_keys.cap +
                   (size_t)c->g.cap_coords * sizeof(double);
    if (spare.c || bytes > KEEP_BYTES) {
        collect_fini(c);
        free(c);
        return;
    }
    spare.c = c;
    spare_register();
}

/* Moves the map's pixels to the window's (origin ox, oy) and marks the features whose symbols
 * reach it (their box grown by the symbol margin meets w x h). */
static void to_window(struct collect *c, int ox, int oy, int w, int h)
{
    for (size_t i = 0; i < c->n_coords; i++)
        c->coords[2 * i] -= ox, c->coords[2 * i + 1] -= oy;
    double m = c->margin + 1;
    for (size_t i = 0; i < c->n_feats; i++) {
        struct feat *f = &c->feats[i];
        double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
        for (int j = 0; j < f->n_parts; j++) {
            const struct part *p = &c->parts[f->part_off + j];
            for (int k = 0; k < p->n; k++) {
                const double *q = &c->coords[2 * (p->off + k)];
                minx = q[0] < minx ? q[0] : minx, maxx = q[0] > maxx ? q[0] : maxx;
                miny = q[1] < miny ? q[1] : miny, maxy = q[1] > maxy ? q[1] : maxy;
            }
        }
        f->drawn = maxx >= -m && maxy >= -m && minx <= w + m && miny <= h + m;
    }
}

static int draw_all(const struct render_request *rq, cairo_t *cr, struct collect *c,
                    struct label_set *ls)
{
    size_t i = 0;
    while (i < c->n_feats) {
        size_t j = i;
        int layer = c->feats[i].layer;
        while (j < c->n_feats && c->feats[j].layer == layer)
            j++;
        const struct style *s = rq->layers[layer].style;
        for (int f = 0; f < s->n_fts; f++) {
            int rc = draw_fts(rq, cr, c, ls, s, f, i, j);
            if (rc) return rc;
        }
        i = j;
    }
    return 0;
}

int render_draw(const struct render_request *rq, struct render_image *img, struct err *err)
{
    memset(img, 0, sizeof *img);
    if (rq->width <= 0 || rq->height <= 0 || !(rq->bbox.maxx > rq->bbox.minx) ||
        !(rq->bbox.maxy > rq->bbox.miny))
        return err_setl(err, ERR_PARAM, "BBOX", "empty map extent or size");
    double k = rq->scale_factor > 0 ? rq->scale_factor : 1;
    double scale = render_scale(rq->srid, &rq->bbox, rq->width, k, rq->geo);
    struct collect *cp = collect_take();
    if (!cp) return err_set(err, ERR_NOMEM, "out of memory");
    cp->rq = rq;
    cp->scale = scale;
    int win = rq->win_w > 0;
    cp->img_w = win ? rq->win_w : rq->width;
    cp->img_h = win ? rq->win_h : rq->height;
    cairo_surface_t *surf = NULL;
    cairo_t *cr = NULL;
    struct label_set *ls = NULL;
    int rc = 0;
    if (win && (rq->win_x < 0 || rq->win_y < 0 || rq->win_h <= 0 ||
                rq->win_x + rq->win_w > rq->width || rq->win_y + rq->win_h > rq->height)) {
        rc = err_set(err, ERR_PARAM, "window %d,%d %dx%d outside the %dx%d map", rq->win_x,
                     rq->win_y, rq->win_w, rq->win_h, rq->width, rq->height);
        goto done;
    }
    ls = label_set_new(rq->width, rq->height, rq->label_buffer);
    if (!ls) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (win) label_set_origin(ls, rq->win_x, rq->win_y);
    cp->labels_known = win && rq->label_key && label_replay(ls, rq->label_key);
    if ((rc = collect_layers(rq, cp, scale, err))) goto done;
    if (win) to_window(cp, rq->win_x, rq->win_y, cp->img_w, cp->img_h);
    img->width = cp->img_w;
    img->height = cp->img_h;
    img->stride = cairo_format_stride_for_width(CAIRO_FORMAT_ARGB32, img->width);
    size_t img_len = (size_t)img->stride * (size_t)img->height;
    if (spare.image && spare.image_len == img_len) { /* the thread's last image, cleared */
        img->data = spare.image, spare.image = NULL;
        memset(img->data, 0, img_len); /* transparent */
    } else {
        img->data = calloc((size_t)img->stride, (size_t)img->height); /* transparent */
    }
    if (!img->data) {
        rc = err_set(err, ERR_NOMEM, "cannot allocate a %dx%d image", img->width, img->height);
        goto done;
    }
    surf = cairo_image_surface_create_for_data(img->data, CAIRO_FORMAT_ARGB32, img->width,
                                               img->height, img->stride);
    cr = cairo_create(surf);
    /* cairo's FAST rasteriser is visually the same on map geometry and a third cheaper. */
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_FAST);
    if ((rc = draw_all(rq, cr, cp, ls))) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    label_draw(ls, cr);
    if (win && rq->label_key) label_keep(ls, rq->label_key);
    cairo_surface_flush(surf);
done:
    label_set_free(ls);
    if (cr) cairo_destroy(cr);
    if (surf) cairo_surface_destroy(surf);
    collect_give(cp);
    if (rc) render_image_fini(img);
    return rc;
}

void render_image_fini(struct render_image *img)
{
    size_t len = (size_t)img->stride * (size_t)img->height;
    if (img->data && !spare.image && len <= KEEP_BYTES) { /* kept for the thread's next map */
        spare.image = img->data, spare.image_len = len;
        spare_register();
    } else {
        free(img->data);
    }
    memset(img, 0, sizeof *img);
}

int render_map(const struct render_request *rq, struct buf *out, struct err *err)
{
    struct render_image img;
    int rc = render_draw(rq, &img, err);
    if (!rc)
        rc = render_encode(&img, 0, 0, img.width, img.height, rq->format, rq->transparent,
                           rq->bgcolor, rq->quality, out, err);
    render_image_fini(&img);
    return rc;
}
