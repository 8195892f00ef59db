/* SPDX-License-Identifier: MIT */
/* glyphs.c: label glyphs for MapLibre, as Martin and node-fontnik make them: FreeType loads each
 * glyph of a 256-code-point range (24 px, no hinting), its outline is flattened into rings, and
 * every pixel of the glyph box plus a 3 px buffer gets the distance to the nearest outline
 * segment (radius 8 px, cutoff 0.25, negative inside by the even-odd rule), stored as
 * 255 - clamp(d * 32 + 64). The glyphs protobuf (fontstack name, range, glyph id, bitmap,
 * width, height, left, top - ascender, advance) is written by hand. A rendered range is kept in
 * memory with its gzip bytes for the life of the process. */
#include "webapp.h"

#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_OUTLINE_H

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GLYPH_SIZE   24
#define GLYPH_BUFFER 3
#define GLYPH_RADIUS 8
#define GLYPH_CUTOFF 0.25
#define FONT_DIR     "/usr/share/fonts/truetype/dejavu"

/* Fonts of fonts-dejavu-core, by the names Martin gives them (family + style) and aliases. */
struct font_def {
    const char *name; /* fontstack name written in the answer */
    const char *file;
};

static const struct font_def fonts[] = {
    {"DejaVu Sans Book", "DejaVuSans.ttf"},
    {"DejaVu Sans Bold", "DejaVuSans-Bold.ttf"},
    {"DejaVu Sans Mono Book", "DejaVuSansMono.ttf"},
    {"DejaVu Sans Mono Bold", "DejaVuSansMono-Bold.ttf"},
    {"DejaVu Serif Book", "DejaVuSerif.ttf"},
    {"DejaVu Serif Bold", "DejaVuSerif-Bold.ttf"},
};
#define N_FONTS ((int)ARRAY_LEN(fonts))

static const struct {
    const char *alias;
    int font;
} aliases[] = {
    {"DejaVu Sans", 0},      {"DejaVu Sans Regular", 0},
    {"DejaVu Sans Mono", 2}, {"DejaVu Sans Mono Regular", 2},
    {"DejaVu Serif", 4},     {"DejaVu Serif Regular", 4},
};

struct glyph_range {
    char *pbf, *gz;
    size_t pbf_len, gz_len;
};

static struct glyph_range ranges[N_FONTS][256];
static pthread_mutex_t range_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;

/* Outline rings, flattened. */
struct pt {
    double x, y;
};

struct rings {
    struct pt *pts;
    int n, cap;
    int *starts; /* index of the first point of each ring */
    int n_rings, cap_rings;
};

static int push_pt(struct rings *r, double x, double y)
{
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 256;
        struct pt *p = realloc(r->pts, (size_t)cap * sizeof *p);
        if (!p) return -1;
        r->pts = p, r->cap = cap;
    }
    r->pts[r->n++] = (struct pt){x, y};
    return 0;
}

/* Closes the open ring (repeats its first point when needed). */
static void close_ring(struct rings *r)
{
    if (!r->n_rings) return;
    int s = r->starts[r->n_rings - 1];
    if (r->n - s < 1) return;
    if (r->pts[s].x != r->pts[r->n - 1].x || r->pts[s].y != r->pts[r->n - 1].y)
        push_pt(r, r->pts[s].x, r->pts[s].y);
}

static int move_to(const FT_Vector *to, void *ud)
{
    struct rings *r = ud;
    close_ring(r);
    if (r->n_rings == r->cap_rings) {
        int cap = r->cap_rings ? r->cap_rings * 2 : 16;
        int *p = realloc(r->starts, (size_t)cap * sizeof *p);
        if (!p) return 1;
        r->starts = p, r->cap_rings = cap;
    }
    r->starts[r->n_rings++] = r->n;
    return push_pt(r, to->x / 64.0, to->y / 64.0) ? 1 : 0;
}

static int line_to(const FT_Vector *to, void *ud)
{
    struct rings *r = ud;
    if (!r->n_rings) return 0;
    return push_pt(r, to->x / 64.0, to->y / 64.0) ? 1 : 0;
}

/* Steps for a curve whose control polygon is len pixels long (about one point per pixel). */
static int curve_steps(double len)
{
    int n = (int)ceil(len);
    return n < 2 ? 2 : n > 16 ? 16 : n;
}

static int conic_to(const FT_Vector *c, const FT_Vector *to, void *ud)
{
    struct rings *r = ud;
    if (!r->n_rings || !r->n) return 0;
    struct pt p0 = r->pts[r->n - 1], p1 = {c->x / 64.0, c->y / 64.0},
              p2 = {to->x / 64.0, to->y / 64.0};
    int n = curve_steps(hypot(p1.x - p0.x, p1.y - p0.y) + hypot(p2.x - p1.x, p2.y - p1.y));
    for (int i = 1; i <= n; i++) {
        double t = (double)i / n, u = 1 - t;
        if (push_pt(r, u * u * p0.x + 2 * u * t * p1.x + t * t * p2.x,
                    u * u * p0.y + 2 * u * t * p1.y + t * t * p2.y))
            return 1;
    }
    return 0;
}

static int cubic_to(const FT_Vector *c1, const FT_Vector *c2, const FT_Vector *to, void *ud)
{
    struct rings *r = ud;
    if (!r->n_rings || !r->n) return 0;
    struct pt p0 = r->pts[r->n - 1], p1 = {c1->x / 64.0, c1->y / 64.0},
              p2 = {c2->x / 64.0, c2->y / 64.0}, p3 = {to->x / 64.0, to->y / 64.0};
    int n = curve_steps(hypot(p1.x - p0.x, p1.y - p0.y) + hypot(p2.x - p1.x, p2.y - p1.y) +
                        hypot(p3.x - p2.x, p3.y - p2.y));
    for (int i = 1; i <= n; i++) {
        double t = (double)i / n, u = 1 - t;
        double a = u * u * u, b = 3 * u * u * t, cc = 3 * u * t * t, d = t * t * t;
        if (push_pt(r, a * p0.x + b * p1.x + cc * p2.x + d * p3.x,
                    a * p0.y + b * p1.y + cc * p2.y + d * p3.y))
            return 1;
    }
    return 0;
}

/* Squared distance from p to the segment a-b. */
static double seg_dist2(struct pt p, struct pt a, struct pt b)
{
    double dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = a.x + t * dx - p.x, ey = a.y + t * dy - p.y;
    return ex * ex + ey * ey;
}

static int ring_end(const struct rings *r, int k)
{
    return k + 1 < r->n_rings ? r->starts[k + 1] : r->n;
}

/* Count of outline crossings of the horizontal line y right of x (fontnik's even-odd test). */
static int inside(const struct rings *r, double x, double y)
{
    int c = 0;
    for (int k = 0; k < r->n_rings; k++)
        for (int i = r->starts[k]; i + 1 < ring_end(r, k); i++) {
            struct pt a = r->pts[i], b = r->pts[i + 1];
            if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) c = !c;
        }
    return c;
}

/* Fills bitmap (bw x bh, top row first) with the signed distance field of the shifted rings. */
static void sdf(const struct rings *r, unsigned char *bitmap, int bw, int bh)
{
    const double radius = GLYPH_RADIUS;
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            struct pt p = {x + 0.5, y + 0.5};
            double best = INFINITY;
            for (int k = 0; k < r->n_rings; k++)
                for (int i = r->starts[k]; i + 1 < ring_end(r, k); i++) {
                    struct pt a = r->pts[i], b = r->pts[i + 1];
                    if ((a.x < p.x - radius && b.x < p.x - radius) ||
                        (a.x > p.x + radius && b.x > p.x + radius) ||
                        (a.y < p.y - radius && b.y < p.y - radius) ||
                        (a.y > p.y + radius && b.y > p.y + radius))
                        continue;
                    double d2 = seg_dist2(p, a, b);
                    if (d2 < best) best = d2;
                }
            double d = sqrt(best) * (256 / GLYPH_RADIUS);
            if (inside(r, p.x, p.y)) d = -d;
            d += GLYPH_CUTOFF * 256;
            int n = d > 255 ? 255 : d < 0 ? 0 : (int)d;
            bitmap[(bh - y - 1) * bw + x] = (unsigned char)(255 - n);
        }
}

/* Protobuf writing. */
static int pb_varint(struct buf *b, uint64_t v)
{
    unsigned char tmp[10];
    int n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    return buf_append(b, tmp, (size_t)n);
}

static int pb_bytes(struct buf *b, int field, const void *data, size_t len)
{
    if (pb_varint(b, (uint64_t)field << 3 | 2) || pb_varint(b, len)) return ERR_NOMEM;
    return buf_append(b, data, len);
}

static int pb_uint(struct buf *b, int field, uint64_t v)
{
    return pb_varint(b, (uint64_t)field << 3) || pb_varint(b, v) ? ERR_NOMEM : 0;
}

static int pb_sint(struct buf *b, int field, int64_t v)
{
    return pb_uint(b, field, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* Renders code point cp (if the font has it) and appends it to stack as a glyph message. */
static int add_glyph(FT_Face face, unsigned cp, struct buf *stack)
{
    FT_UInt index = FT_Get_Char_Index(face, cp);
    if (!index || FT_Load_Glyph(face, index, FT_LOAD_NO_HINTING)) return 0;
    long advance = face->glyph->metrics.horiAdvance / 64;
    long ascender = face->size->metrics.ascender / 64;
    struct rings r = {0};
    int rc = 0, left = 0, top = 0, width = 0, height = 0;
    unsigned char *bitmap = NULL;
    size_t bitmap_len = 0;
    FT_Outline_Funcs fn = {move_to, line_to, conic_to, cubic_to, 0, 0};
    if (face->glyph->format == FT_GLYPH_FORMAT_OUTLINE &&
        FT_Outline_Decompose(&face->glyph->outline, &fn, &r) == 0 && r.n_rings) {
        close_ring(&r);
        double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
        for (int i = 0; i < r.n; i++) {
            minx = fmin(minx, r.pts[i].x), miny = fmin(miny, r.pts[i].y);
            maxx = fmax(maxx, r.pts[i].x), maxy = fmax(maxy, r.pts[i].y);
        }
        minx = round(minx), miny = round(miny), maxx = round(maxx), maxy = round(maxy);
        if (maxx > minx && maxy > miny) {
            for (int i = 0; i < r.n; i++)
                r.pts[i].x += -minx + GLYPH_BUFFER, r.pts[i].y += -miny + GLYPH_BUFFER;
            left = (int)minx, top = (int)maxy;
            width = (int)(maxx - minx), height = (int)(maxy - miny);
            int bw = width + 2 * GLYPH_BUFFER, bh = height + 2 * GLYPH_BUFFER;
            bitmap_len = (size_t)bw * (size_t)bh;
            if (!(bitmap = malloc(bitmap_len)))
                rc = ERR_NOMEM;
            else
                sdf(&r, bitmap, bw, bh);
        }
    }
    struct buf g;
    buf_init(&g);
    if (!rc) {
        rc = pb_uint(&g, 1, cp);
        if (!rc && bitmap) rc = pb_bytes(&g, 2, bitmap, bitmap_len);
        if (!rc)
            rc = pb_uint(&g, 3, (uint64_t)width) || pb_uint(&g, 4, (uint64_t)height) ||
                 pb_sint(&g, 5, left) || pb_sint(&g, 6, top - ascender) ||
                 pb_uint(&g, 7, (uint64_t)(advance < 0 ? 0 : advance));
        if (!rc) rc = pb_bytes(stack, 3, g.data, g.len);
    }
    buf_fini(&g);
    free(bitmap), free(r.pts), free(r.starts);
    return rc ? ERR_NOMEM : 0;
}

int webapp_glyph_range(const char *font_path, const char *name, unsigned start, char **out,
                       size_t *out_len, struct err *err)
{
    if (start % 256 || start > 65280)
        return err_set(err, ERR_PARAM, "glyph range start %u is not a multiple of 256", start);
    FT_Library lib;
    FT_Face face;
    if (FT_Init_FreeType(&lib)) return err_set(err, ERR_INTERNAL, "FreeType: cannot start");
    if (FT_New_Face(lib, font_path, 0, &face)) {
        FT_Done_FreeType(lib);
        return err_set(err, ERR_IO, "font %s: cannot open", font_path);
    }
    int rc = 0;
    struct buf stack, all;
    buf_init(&stack), buf_init(&all);
    char range[32];
    snprintf(range, sizeof range, "%u-%u", start, start + 255);
    if (FT_Set_Char_Size(face, 0, GLYPH_SIZE * 64, 0, 0)) {
        rc = err_set(err, ERR_INTERNAL, "font %s: cannot set size", font_path);
    } else {
        rc = pb_bytes(&stack, 1, name, strlen(name)) || pb_bytes(&stack, 2, range, strlen(range));
        for (unsigned cp = start; !rc && cp <= start + 255; cp++)
            rc = add_glyph(face, cp, &stack);
        if (!rc) rc = pb_bytes(&all, 1, stack.data, stack.len);
        if (rc) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    FT_Done_Face(face);
    FT_Done_FreeType(lib);
    buf_fini(&stack);
    if (rc) {
        buf_fini(&all);
        return rc;
    }
    *out = buf_take(&all, out_len);
    return 0;
}

/* The font for a fontstack: the first name spp has, else DejaVu Sans (Bold if asked). */
static int pick_font(const char *stack)
{
    const char *p = stack;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        for (int i = 0; i < N_FONTS; i++)
            if (strlen(fonts[i].name) == n && strncmp(fonts[i].name, p, n) == 0) return i;
        for (size_t i = 0; i < ARRAY_LEN(aliases); i++)
            if (strlen(aliases[i].alias) == n && strncmp(aliases[i].alias, p, n) == 0)
                return aliases[i].font;
        if (!comma) break;
        p = comma + 1;
    }
    return strstr(stack, "Bold") ? 1 : 0;
}

/* Parses "START-END" (END = START + 255, START a multiple of 256). */
static int parse_range(const char *s, unsigned *start)
{
    const char *dash = s ? strchr(s, '-') : NULL;
    if (!dash || dash == s || dash - s > 5) return -1;
    char a[8];
    memcpy(a, s, (size_t)(dash - s));
    a[dash - s] = '\0';
    long lo, hi;
    if (str_to_long(a, &lo) || str_to_long(dash + 1, &hi)) return -1;
    if (lo < 0 || lo > 65280 || lo % 256 || hi != lo + 255) return -1;
    *start = (unsigned)lo;
    return 0;
}

/* Returns the cached range, rendering it first when needed. */
static int get_range(int font, unsigned start, const struct glyph_range **out, struct err *err)
{
    struct glyph_range *g = &ranges[font][start / 256];
    pthread_mutex_lock(&range_lock);
    int ready = g->pbf != NULL;
    pthread_mutex_unlock(&range_lock);
    if (!ready) {
        /* One rendering at a time: a page asks for a few ranges at once and they are quick. */
        pthread_mutex_lock(&render_lock);
        pthread_mutex_lock(&range_lock);
        ready = g->pbf != NULL;
        pthread_mutex_unlock(&range_lock);
        int rc = 0;
        if (!ready) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", FONT_DIR, fonts[font].file);
            struct glyph_range fresh = {0};
            rc = webapp_glyph_range(path, fonts[font].name, start, &fresh.pbf, &fresh.pbf_len, err);
            if (!rc && webapp_gzip(fresh.pbf, fresh.pbf_len, &fresh.gz, &fresh.gz_len, NULL))
                fresh.gz = NULL;
            if (!rc) {
                pthread_mutex_lock(&range_lock);
                *g = fresh;
                pthread_mutex_unlock(&range_lock);
            }
        }
        pthread_mutex_unlock(&render_lock);
        if (rc == ERR_IO) {
            err_clear(err);
            return err_set(err, ERR_NOT_FOUND, "font %s is not installed (fonts-dejavu-core)",
                           fonts[font].name);
        }
        if (rc) return rc;
    }
    *out = g; /* published ranges are never changed or freed */
    return 0;
}

int webapp_glyphs(struct request *req, struct response *res, struct err *err)
{
    const char *stack = req_param(req, "fontstack");
    unsigned start;
    if (!stack || !*stack || strlen(stack) > 256)
        return err_setl(err, ERR_PARAM, "fontstack", "fontstack must be 1 to 256 characters");
    if (parse_range(req_param(req, "range"), &start))
        return err_setl(err, ERR_PARAM, "range",
                        "glyph range must be START-END with START a multiple of 256 and "
                        "END = START + 255");
    const struct glyph_range *g;
    int rc = get_range(pick_font(stack), start, &g, err);
    if (rc) return rc;
    const char *ae = req->accept_encoding;
    int gz = g->gz && ae && strstr(ae, "gzip");
    resp_header(res, "Cache-Control", "public, max-age=86400");
    resp_header(res, "Vary", "Accept-Encoding");
    resp_set(res, 200, "application/x-protobuf");
    if (gz) resp_header(res, "Content-Encoding", "gzip");
    if (buf_append(&res->body, gz ? g->gz : g->pbf, gz ? g->gz_len : g->pbf_len))
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}
