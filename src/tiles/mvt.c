/* SPDX-License-Identifier: MIT */
/* mvt.c: Mapbox Vector Tile 2.1 protobuf written by hand: varints, zigzag, packed geometry
 * commands, and per-layer key and value tables deduplicated with small open-addressing hashes.
 * A layer keeps its features (tags and commands) until it is written, so that it can be written
 * within a byte budget: values are numbered by use (the most shared get one-byte indexes), and
 * above the budget the smallest features are replaced by generalized ones (mvt_layer_write).
 * Geometry clipping and snapping are in mvt_geom.c; what goes into a tile is decided in tile.c.
 * Must not: read the store, or decide budgets (tile.c does). */
#include "tiles.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- protobuf primitives ---- */

static int put_varint(struct buf *b, uint64_t v)
{
    unsigned char tmp[10];
    int n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    return buf_append(b, tmp, (size_t)n);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80)
        v >>= 7, n++;
    return n;
}

static unsigned char *put_raw(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static int put_tag(struct buf *b, int field, int wire)
{
    return put_varint(b, (uint64_t)((field << 3) | wire));
}

static int put_bytes(struct buf *b, int field, const void *data, size_t len)
{
    if (buf_reserve(b, len + 16)) return ERR_NOMEM;
    unsigned char *p = (unsigned char *)b->data + b->len;
    p = put_raw(p, (uint64_t)((field << 3) | 2));
    p = put_raw(p, len);
    if (len) memcpy(p, data, len);
    b->len = (size_t)(p + len - (unsigned char *)b->data);
    b->data[b->len] = '\0';
    return 0;
}

static uint32_t zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

/* ---- geometry commands ---- */

void mvt_geom_init(struct mvt_geom *g)
{
    memset(g, 0, sizeof *g);
}

void mvt_geom_fini(struct mvt_geom *g)
{
    free(g->cmd);
    mvt_scratch_free(g->scratch);
    mvt_geom_init(g);
}

void mvt_geom_reset(struct mvt_geom *g)
{
    g->n = 0;
    g->cx = g->cy = 0;
    g->type = 0;
}

static int geom_grow(struct mvt_geom *g, size_t extra)
{
    if (g->n + extra <= g->cap) return 0;
    size_t cap = g->cap ? g->cap : 64;
    while (cap < g->n + extra)
        cap *= 2;
    uint32_t *p = realloc(g->cmd, cap * sizeof *p);
    if (!p) return ERR_NOMEM;
    g->cmd = p;
    g->cap = cap;
    return 0;
}

static int geom_points(struct mvt_geom *g, int id, const int32_t *xy, int n)
{
    if (n <= 0) return 0;
    if (geom_grow(g, 1 + 2 * (size_t)n)) return ERR_NOMEM;
    g->cmd[g->n++] = (uint32_t)id | ((uint32_t)n << 3);
    for (int i = 0; i < n; i++) {
        int32_t x = xy[2 * i], y = xy[2 * i + 1];
        g->cmd[g->n++] = zigzag32(x - g->cx);
        g->cmd[g->n++] = zigzag32(y - g->cy);
        g->cx = x, g->cy = y;
    }
    return 0;
}

int mvt_geom_move(struct mvt_geom *g, const int32_t *xy, int n)
{
    return geom_points(g, 1, xy, n);
}

int mvt_geom_line(struct mvt_geom *g, const int32_t *xy, int n)
{
    return geom_points(g, 2, xy, n);
}

int mvt_geom_close(struct mvt_geom *g)
{
    if (geom_grow(g, 1)) return ERR_NOMEM;
    g->cmd[g->n++] = 7 | (1u << 3);
    return 0;
}

/* ---- deduplicating tables ---- */

struct table {
    struct buf blob; /* entries back to back */
    size_t *off;     /* entry i: blob.data + off[i], length len[i] */
    uint32_t *len;
    int n, cap;
    int32_t *slots; /* open addressing: index+1, 0 empty */
    size_t n_slots; /* power of two */
};

/* Word-at-a-time mixing hash (values are short: keys, codes, numbers). */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ (w * 0xBF58476D1CE4E5B9ull)) * 0x94D049BB133111EBull;
    }
    uint64_t t = 0;
    if (i + 4 <= n) { /* the last 4..7 bytes: two overlapping words */
        uint32_t lo, hi;
        memcpy(&lo, s + i, 4), memcpy(&hi, s + n - 4, 4);
        t = (uint64_t)lo | (uint64_t)hi << 32;
    } else {
        for (int k = 0; i < n; i++, k += 8)
            t |= (uint64_t)s[i] << k;
    }
    h ^= t;
    h ^= h >> 30; /* splitmix64 finaliser: every input bit reaches the low bits */
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

static void table_fini(struct table *t)
{
    buf_fini(&t->blob);
    free(t->off);
    free(t->len);
    free(t->slots);
}

static int table_rehash(struct table *t)
{
    size_t ns = t->n_slots ? t->n_slots * 2 : 64;
    int32_t *s = calloc(ns, sizeof *s);
    if (!s) return ERR_NOMEM;
    for (int i = 0; i < t->n; i++) {
        size_t h = (size_t)hash_bytes(t->blob.data + t->off[i], t->len[i]) & (ns - 1);
        while (s[h])
            h = (h + 1) & (ns - 1);
        s[h] = i + 1;
    }
    free(t->slots);
    t->slots = s;
    t->n_slots = ns;
    return 0;
}

/* Index of the entry equal to data, adding it if new; -1 on ERR_NOMEM. */
static int table_intern(struct table *t, const void *data, size_t len)
{
    if ((size_t)(t->n + 1) * 2 > t->n_slots && table_rehash(t)) return -1;
    size_t mask = t->n_slots - 1, h = (size_t)hash_bytes(data, len) & mask;
    while (t->slots[h]) {
        int i = t->slots[h] - 1;
        if (t->len[i] == len && memcmp(t->blob.data + t->off[i], data, len) == 0) return i;
        h = (h + 1) & mask;
    }
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 32;
        size_t *o = realloc(t->off, (size_t)cap * sizeof *o);
        if (!o) return -1;
        t->off = o;
        uint32_t *l = realloc(t->len, (size_t)cap * sizeof *l);
        if (!l) return -1;
        t->len = l;
        t->cap = cap;
    }
    size_t off = t->blob.len;
    if (buf_append(&t->blob, data, len)) return -1;
    t->off[t->n] = off;
    t->len[t->n] = (uint32_t)len;
    t->slots[h] = t->n + 1;
    return t->n++;
}

/* ---- layers ---- */

#define MVT_KEY_CACHE 128 /* field positions whose key index a layer remembers */

/* A generalized feature: its class value, count value and commands (in gcmds). */
struct gfeat {
    int cls, vcount;
    size_t off, n;
};

/* One feature kept until the layer is written. */
struct mfeat {
    uint64_t id;
    int type;
    size_t tag_off, geom_off; /* in l->tags, l->cmds */
    int n_tags;               /* entries in l->tags: 2 per attribute */
    size_t n_geom;
    double size;    /* area (polygons), length (lines), in tile units: the drop order */
    int cls;        /* value index of the class field, -1 none */
    int16_t box[4]; /* cells covered (GEN_GRID grid): x0, y0, x1, y1 */
    size_t bytes;   /* encoded size of the Feature entry, its value indexes taken as 2 bytes
                     * each (the common case of a dense tile; they are numbered at the write) */
};

struct mvt_layer {
    char *name;
    struct mfeat *feats;
    int n_features, cap_features;
    uint32_t *tags; /* all features' tags */
    size_t n_tags, cap_tags;
    uint32_t *cmds; /* all features' geometry commands */
    size_t n_cmds, cap_cmds;
    struct table keys;   /* raw key strings */
    struct table values; /* encoded Value messages */
    struct buf scratch;
    char *class_field;            /* key whose value classes generalized features (NULL: none) */
    int64_t generalized, dropped; /* after a write within a budget */
    struct gfeat *pre;            /* generalized features given whole (mvt_layer_add_generalized) */
    int n_pre, cap_pre;
    uint32_t *pre_cmds; /* their commands */
    size_t n_pre_cmds, cap_pre_cmds;
    int64_t pre_dropped; /* the features they stand for */
    /* key index of each field position of the last names array mvt_layer_add was given (-1:
     * not interned yet), so a key is hashed once per layer, not once per feature */
    const char **kc_names;
    int kc_idx[MVT_KEY_CACHE];
    signed char kc_cls[MVT_KEY_CACHE]; /* 1: the class field, 0: not, -1: not known yet */
};

/* A thread keeps up to MVT_SPARE layers it freed, with the arrays earlier tiles grew, for its
 * next tiles (growing them from nothing again, with the copies and fresh pages that costs, was
 * 3 % of a cold tile); a layer that grew past MVT_SPARE_BYTES is freed. Freed at thread exit. */
#define MVT_SPARE       4
#define MVT_SPARE_BYTES ((size_t)16 << 20)

struct spare {
    struct mvt_layer *l[MVT_SPARE];
    int n;
};

static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static int spare_ok;

static void layer_destroy(struct mvt_layer *l)
{
    free(l->name);
    free(l->feats);
    free(l->tags);
    free(l->cmds);
    table_fini(&l->keys);
    table_fini(&l->values);
    buf_fini(&l->scratch);
    free(l->class_field);
    free(l->pre);
    free(l->pre_cmds);
    free(l);
}

static void spare_free(void *p)
{
    struct spare *s = p;
    for (int i = 0; i < s->n; i++)
        layer_destroy(s->l[i]);
    free(s);
}

static void spare_init(void)
{
    spare_ok = pthread_key_create(&spare_key, spare_free) == 0;
}

static void table_clear(struct table *t)
{
    buf_reset(&t->blob);
    t->n = 0;
    if (t->slots) memset(t->slots, 0, t->n_slots * sizeof *t->slots);
}

static size_t layer_bytes(const struct mvt_layer *l)
{
    return (size_t)l->cap_features * sizeof *l->feats + (l->cap_tags + l->cap_cmds) * 4 +
           l->keys.blob.cap + l->values.blob.cap +
           (size_t)(l->keys.cap + l->values.cap) * (sizeof(size_t) + 4) +
           (l->keys.n_slots + l->values.n_slots) * 4;
}

struct mvt_layer *mvt_layer_new(const char *name)
{
    pthread_once(&spare_once, spare_init);
    struct spare *s = spare_ok ? pthread_getspecific(spare_key) : NULL;
    struct mvt_layer *l = NULL;
    if (s && s->n) { /* a spare: its arrays kept, its content gone */
        l = s->l[--s->n];
        l->n_features = 0, l->n_tags = l->n_cmds = 0;
        table_clear(&l->keys), table_clear(&l->values);
        buf_reset(&l->scratch);
        l->generalized = l->dropped = l->pre_dropped = 0;
        l->n_pre = 0, l->n_pre_cmds = 0;
        l->kc_names = NULL;
    } else if (!(l = calloc(1, sizeof *l))) {
        return NULL;
    }
    l->name = str_dup(name);
    if (!l->name) {
        layer_destroy(l);
        return NULL;
    }
    return l;
}

int mvt_layer_set_class(struct mvt_layer *l, const char *field)
{
    free(l->class_field);
    l->class_field = field ? str_dup(field) : NULL;
    l->kc_names = NULL; /* the cached class marks are stale */
    return field && !l->class_field ? ERR_NOMEM : 0;
}

void mvt_layer_free(struct mvt_layer *l)
{
    if (!l) return;
    free(l->name), free(l->class_field);
    l->name = l->class_field = NULL;
    struct spare *s = spare_ok ? pthread_getspecific(spare_key) : NULL;
    if (!s && spare_ok && (s = calloc(1, sizeof *s)) && pthread_setspecific(spare_key, s)) {
        free(s);
        s = NULL;
    }
    if (s && s->n < MVT_SPARE && layer_bytes(l) <= MVT_SPARE_BYTES)
        s->l[s->n++] = l;
    else
        layer_destroy(l);
}

int mvt_layer_count(const struct mvt_layer *l)
{
    return l->n_features;
}

void mvt_layer_generalized(const struct mvt_layer *l, int64_t *dropped, int64_t *generalized)
{
    *dropped = l->dropped;
    *generalized = l->generalized;
}

/* Encodes a Value message into b (reset first): one reserve, then raw writes (this runs for
 * every attribute of every feature). */
static int encode_value(struct buf *b, const struct value *v)
{
    buf_reset(b);
    size_t len = v->type == VAL_TEXT ? (v->len >= 0 ? (size_t)v->len : strlen(v->s)) : 0;
    if (buf_reserve(b, len + 16)) return -1;
    unsigned char *p = (unsigned char *)b->data;
    switch (v->type) {
    case VAL_INT:
        if (v->i < 0) {
            *p++ = 6 << 3;
            p = put_raw(p, ((uint64_t)v->i << 1) ^ (uint64_t)(v->i >> 63));
        } else {
            *p++ = 5 << 3;
            p = put_raw(p, (uint64_t)v->i);
        }
        break;
    case VAL_REAL:
        *p++ = 3 << 3 | 1;
        memcpy(p, &v->d, 8); /* little endian host, as protobuf fixed64 */
        p += 8;
        break;
    case VAL_TEXT:
        *p++ = 1 << 3 | 2;
        p = put_raw(p, len);
        memcpy(p, v->s, len);
        p += len;
        break;
    default:
        return -1;
    }
    b->len = (size_t)(p - (unsigned char *)b->data);
    b->data[b->len] = '\0';
    return 0;
}

#define GEN_GRID                                                                                   \
    32 /* cells per tile side for generalized features (8 px each: a 64 x 64 grid cost the densest \
          tile 30 ms of unions) */

static int16_t cell_of(double v)
{
    double c = floor(v / (TILE_EXTENT / GEN_GRID));
    return (int16_t)(c < 0 ? 0 : c >= GEN_GRID ? GEN_GRID - 1 : c);
}

/* Size (area of polygons, length of lines) and covered cells of a feature's commands. */
static void measure_geom(const struct mvt_geom *g, double *size, int16_t box[4])
{
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY, a = 0, len = 0;
    int64_t x = 0, y = 0, sx = 0, sy = 0;
    for (size_t i = 0; i < g->n;) {
        uint32_t c = g->cmd[i++], id = c & 7, cnt = c >> 3;
        if (id == 7) {
            a += (double)(x * sy - sx * y); /* closing edge */
            continue;
        }
        for (uint32_t k = 0; k < cnt && i + 1 < g->n; k++, i += 2) {
            int32_t dx = (int32_t)((g->cmd[i] >> 1) ^ -(g->cmd[i] & 1));
            int32_t dy = (int32_t)((g->cmd[i + 1] >> 1) ^ -(g->cmd[i + 1] & 1));
            int64_t nx = x + dx, ny = y + dy;
            if (id == 1) {
                sx = nx, sy = ny;
            } else {
                a += (double)(x * ny - nx * y);
                len += sqrt((double)dx * dx + (double)dy * dy);
            }
            x = nx, y = ny;
            minx = fmin(minx, (double)x), maxx = fmax(maxx, (double)x);
            miny = fmin(miny, (double)y), maxy = fmax(maxy, (double)y);
        }
    }
    *size = g->type == 3 ? a / 2 : len;
    box[0] = cell_of(minx), box[1] = cell_of(miny), box[2] = cell_of(maxx), box[3] = cell_of(maxy);
}

static int grow_u32(uint32_t **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    uint32_t *q = realloc(*p, c * sizeof *q);
    if (!q) return ERR_NOMEM;
    *p = q, *cap = c;
    return 0;
}

/* The encoded size of f's Feature entry, its geometry gbytes long (value indexes as 2 bytes:
 * they are numbered at the write). */
static size_t feature_bytes(const struct mvt_layer *l, const struct mfeat *f, size_t gbytes)
{
    size_t tbytes = 0;
    for (int i = 0; i < f->n_tags; i += 2)
        tbytes += varint_len(l->tags[f->tag_off + (size_t)i]) + 2;
    size_t body = 1 + varint_len(f->id) + 3 + varint_len(gbytes) + gbytes +
                  (f->n_tags ? 1 + varint_len(tbytes) + tbytes : 0);
    return 1 + varint_len(body) + body;
}

int mvt_layer_add(struct mvt_layer *l, uint64_t id, const struct mvt_geom *g, const char **names,
                  const struct value *values, int n, struct err *err)
{
    if (!g->type || !g->n) return 0;
    if (grow_u32(&l->tags, &l->cap_tags, l->n_tags + 2 * (size_t)n) ||
        grow_u32(&l->cmds, &l->cap_cmds, l->n_cmds + g->n))
        return err_set(err, ERR_NOMEM, "out of memory");
    if (l->n_features == l->cap_features) {
        int cap = l->cap_features ? l->cap_features * 2 : 256;
        struct mfeat *f = realloc(l->feats, (size_t)cap * sizeof *f);
        if (!f) return err_set(err, ERR_NOMEM, "out of memory");
        l->feats = f, l->cap_features = cap;
    }
    struct mfeat *f = &l->feats[l->n_features];
    memset(f, 0, sizeof *f);
    f->id = id, f->type = g->type, f->cls = -1;
    f->tag_off = l->n_tags, f->geom_off = l->n_cmds, f->n_geom = g->n;
    if (names != l->kc_names) { /* another field list: forget the cached key indexes */
        l->kc_names = names;
        for (int i = 0; i < MVT_KEY_CACHE; i++)
            l->kc_idx[i] = -1, l->kc_cls[i] = -1;
    }
    for (int i = 0; i < n; i++) {
        if (values[i].type != VAL_INT && values[i].type != VAL_REAL && values[i].type != VAL_TEXT)
            continue;
        if (encode_value(&l->scratch, &values[i])) return err_set(err, ERR_NOMEM, "out of memory");
        int cached = i < MVT_KEY_CACHE, k = cached ? l->kc_idx[i] : -1;
        if (k < 0) k = table_intern(&l->keys, names[i], strlen(names[i]));
        int v = table_intern(&l->values, l->scratch.data, l->scratch.len);
        if (k < 0 || v < 0) return err_set(err, ERR_NOMEM, "out of memory");
        l->tags[l->n_tags++] = (uint32_t)k;
        l->tags[l->n_tags++] = (uint32_t)v;
        f->n_tags += 2;
        int is_cls = cached ? l->kc_cls[i] : -1;
        if (is_cls < 0) is_cls = l->class_field && strcmp(names[i], l->class_field) == 0;
        if (cached) l->kc_idx[i] = k, l->kc_cls[i] = (signed char)is_cls;
        if (is_cls) f->cls = v;
    }
    size_t gbytes = 0;
    uint32_t *dst = l->cmds + l->n_cmds;
    for (size_t i = 0; i < g->n; i++)
        gbytes += varint_len(dst[i] = g->cmd[i]);
    l->n_cmds += g->n;
    f->bytes = feature_bytes(l, f, gbytes);
    measure_geom(g, &f->size, f->box);
    l->n_features++;
    return 0;
}

int mvt_layer_merge(struct mvt_layer *dst, const struct mvt_layer *src, struct err *err)
{
    if (src->n_pre) return err_set(err, ERR_INTERNAL, "mvt_layer_merge: generalized features");
    int nk = src->keys.n, nv = src->values.n;
    int *kmap = malloc(((size_t)nk + 1) * sizeof *kmap),
        *vmap = malloc(((size_t)nv + 1) * sizeof *vmap);
    int rc = !kmap || !vmap || grow_u32(&dst->tags, &dst->cap_tags, dst->n_tags + src->n_tags) ||
             grow_u32(&dst->cmds, &dst->cap_cmds, dst->n_cmds + src->n_cmds);
    /* src's keys and values in dst's tables, in src's order (the bytes do not depend on it:
     * mvt_layer_write numbers them by first use) */
    for (int i = 0; i < nk && !rc; i++)
        rc = (kmap[i] = table_intern(&dst->keys, src->keys.blob.data + src->keys.off[i],
                                     src->keys.len[i])) < 0;
    for (int i = 0; i < nv && !rc; i++)
        rc = (vmap[i] = table_intern(&dst->values, src->values.blob.data + src->values.off[i],
                                     src->values.len[i])) < 0;
    if (!rc && dst->n_features + src->n_features > dst->cap_features) {
        int cap = dst->n_features + src->n_features;
        struct mfeat *f = realloc(dst->feats, (size_t)cap * sizeof *f);
        if (f)
            dst->feats = f, dst->cap_features = cap;
        else
            rc = 1;
    }
    for (int k = 0; k < src->n_features && !rc; k++) {
        const struct mfeat *s = &src->feats[k];
        struct mfeat *f = &dst->feats[dst->n_features++];
        *f = *s;
        f->tag_off = dst->n_tags, f->geom_off = dst->n_cmds;
        f->cls = s->cls >= 0 ? vmap[s->cls] : -1;
        for (int t = 0; t < s->n_tags; t += 2) {
            dst->tags[dst->n_tags++] = (uint32_t)kmap[src->tags[s->tag_off + (size_t)t]];
            dst->tags[dst->n_tags++] = (uint32_t)vmap[src->tags[s->tag_off + (size_t)t + 1]];
        }
        size_t gbytes = 0;
        for (size_t i = 0; i < s->n_geom; i++)
            gbytes += varint_len(dst->cmds[dst->n_cmds++] = src->cmds[s->geom_off + i]);
        f->bytes = feature_bytes(dst, f, gbytes);
    }
    free(kmap), free(vmap);
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

int mvt_layer_add_generalized(struct mvt_layer *l, const struct value *cls, int64_t n,
                              const struct mvt_geom *g, struct err *err)
{
    if (!g->type || !g->n) return 0;
    int vc = -1, vn = -1;
    struct value cnt = {.type = VAL_INT, .i = n};
    if (cls && cls->type != VAL_NULL && !encode_value(&l->scratch, cls))
        vc = table_intern(&l->values, l->scratch.data, l->scratch.len);
    if (!encode_value(&l->scratch, &cnt))
        vn = table_intern(&l->values, l->scratch.data, l->scratch.len);
    if (vn < 0 || (cls && cls->type != VAL_NULL && vc < 0) ||
        grow_u32(&l->pre_cmds, &l->cap_pre_cmds, l->n_pre_cmds + g->n))
        return err_set(err, ERR_NOMEM, "out of memory");
    if (l->n_pre == l->cap_pre) {
        int cap = l->cap_pre ? l->cap_pre * 2 : 16;
        struct gfeat *p = realloc(l->pre, (size_t)cap * sizeof *p);
        if (!p) return err_set(err, ERR_NOMEM, "out of memory");
        l->pre = p, l->cap_pre = cap;
    }
    memcpy(l->pre_cmds + l->n_pre_cmds, g->cmd, g->n * sizeof *g->cmd);
    l->pre[l->n_pre++] = (struct gfeat){vc, vn, l->n_pre_cmds, g->n};
    l->n_pre_cmds += g->n;
    l->pre_dropped += n;
    return 0;
}

/* ---- writing ---- */

/* Appends one Feature entry (field 2): id (1, when non-zero), tags (2, packed, value indexes
 * through vmap), type (3), geometry (4, packed). Sized first and written in place. */
static int write_feature(struct buf *b, uint64_t id, int type, const uint32_t *tags, int n_tags,
                         const int *kmap, const int *vmap, const uint32_t *cmd, size_t n_cmd)
{
    size_t tbytes = 0, gbytes = 0;
    for (int i = 0; i < n_tags; i += 2)
        tbytes += varint_len((uint64_t)kmap[tags[i]]) + varint_len((uint64_t)vmap[tags[i + 1]]);
    for (size_t i = 0; i < n_cmd; i++)
        gbytes += varint_len(cmd[i]);
    size_t body = (id ? 1 + varint_len(id) : 0) + 2 + 1 + varint_len(gbytes) + gbytes;
    if (n_tags) body += 1 + varint_len(tbytes) + tbytes;
    if (buf_reserve(b, body + 12)) return ERR_NOMEM;
    unsigned char *p = (unsigned char *)b->data + b->len;
    *p++ = 2 << 3 | 2;
    p = put_raw(p, body);
    if (id) {
        *p++ = 1 << 3;
        p = put_raw(p, id);
    }
    if (n_tags) {
        *p++ = 2 << 3 | 2;
        p = put_raw(p, tbytes);
        for (int i = 0; i < n_tags; i += 2) {
            p = put_raw(p, (uint64_t)kmap[tags[i]]);
            p = put_raw(p, (uint64_t)vmap[tags[i + 1]]);
        }
    }
    *p++ = 3 << 3;
    *p++ = (unsigned char)type;
    *p++ = 4 << 3 | 2;
    p = put_raw(p, gbytes);
    for (size_t i = 0; i < n_cmd; i++)
        p = put_raw(p, cmd[i]);
    b->len = (size_t)(p - (unsigned char *)b->data);
    b->data[b->len] = '\0';
    return 0;
}

size_t mvt_layer_size(struct mvt_layer *l)
{
    size_t n = 16 + strlen(l->name);
    for (int i = 0; i < l->n_features; i++)
        n += l->feats[i].bytes;
    for (int i = 0; i < l->keys.n; i++)
        n += 2 + l->keys.len[i];
    for (int i = 0; i < l->values.n; i++)
        n += 2 + l->values.len[i];
    return n;
}

/* Generalized features: one per class value, covering the GEN_GRID cells of the dropped
 * features (each cell taken by the class of the largest dropped feature over it), with the
 * class value and n_features = how many features of that class it stands for. */
struct gen {
    int *cell_cls;     /* GEN_GRID^2: class value index + 1, 0 none */
    double *cell_size; /* size of the feature that set the cell */
    int64_t *count;    /* per value index: dropped features */
    unsigned char *mask;
};

static void gen_drop(struct gen *g, const struct mfeat *f)
{
    int c = f->cls >= 0 ? f->cls : -1;
    g->count[c + 1]++; /* slot 0: polygons without a class value */
    for (int y = f->box[1]; y <= f->box[3]; y++)
        for (int x = f->box[0]; x <= f->box[2]; x++) {
            int k = y * GEN_GRID + x;
            if (!g->cell_cls[k] || f->size > g->cell_size[k])
                g->cell_cls[k] = c + 2, g->cell_size[k] = f->size; /* c + 2: 1 = no class */
        }
}

/* Stable LSD radix sort of n keys (a[] and its scratch b[]); the sorted keys end in *out (a or
 * b). A qsort of pointers by size was 7 % of the densest tile. */
struct sort_key {
    uint64_t key;
    uint32_t i;
};

static struct sort_key *radix_sort(struct sort_key *a, struct sort_key *b, size_t n)
{
    uint64_t all_or = 0, all_and = ~0ull;
    for (size_t i = 0; i < n; i++)
        all_or |= a[i].key, all_and &= a[i].key;
    for (int shift = 0; shift < 64 && n; shift += 8) {
        if (!(((all_or ^ all_and) >> shift) & 0xff)) continue; /* a byte every key shares */
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i].key >> shift) & 0xff) + 1]++;
        if (count[((a[0].key >> shift) & 0xff) + 1] == n) continue; /* one value: in order */
        for (int k = 0; k < 256; k++)
            count[k + 1] += count[k];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i].key >> shift) & 0xff]++] = a[i];
        struct sort_key *t = a;
        a = b, b = t;
    }
    return a;
}

/* order[] = the features by size, largest first, equal sizes in layer order. ERR_NOMEM. */
static int sort_by_size_desc(struct mfeat *feats, int nf, struct mfeat **order)
{
    struct sort_key *a = malloc(((size_t)nf + 1) * sizeof *a),
                    *b = malloc(((size_t)nf + 1) * sizeof *b);
    if (!a || !b) {
        free(a), free(b);
        return ERR_NOMEM;
    }
    for (int i = 0; i < nf; i++) {
        double d = feats[i].size == 0 ? 0.0 : feats[i].size; /* -0 sorts with 0 */
        uint64_t u;
        memcpy(&u, &d, 8);
        u = u >> 63 ? ~u : u | (1ull << 63); /* IEEE order as unsigned order */
        a[i].key = ~u, a[i].i = (uint32_t)i; /* ascending key: descending size */
    }
    struct sort_key *r = radix_sort(a, b, (size_t)nf);
    for (int i = 0; i < nf; i++)
        order[i] = &feats[r[i].i];
    free(a), free(b);
    return 0;
}

/* The layer's features in id order (rows may come in any order: the store reads a tile's in
 * R*Tree order), so that what is written does not depend on the order they were added in. */
static int sort_by_id(struct mvt_layer *l)
{
    int nf = l->n_features, sorted = 1;
    for (int i = 1; i < nf && sorted; i++)
        sorted = l->feats[i - 1].id <= l->feats[i].id;
    if (sorted) return 0;
    struct sort_key *a = malloc((size_t)nf * sizeof *a), *b = malloc((size_t)nf * sizeof *b);
    struct mfeat *f = malloc((size_t)nf * sizeof *f);
    if (!a || !b || !f) {
        free(a), free(b), free(f);
        return ERR_NOMEM;
    }
    for (int i = 0; i < nf; i++)
        a[i].key = l->feats[i].id, a[i].i = (uint32_t)i;
    struct sort_key *r = radix_sort(a, b, (size_t)nf);
    for (int i = 0; i < nf; i++)
        f[i] = l->feats[r[i].i];
    free(l->feats);
    l->feats = f, l->cap_features = nf;
    free(a), free(b);
    return 0;
}

/* rank[i] of each of the n entries of a key or value table: the order of first use by the
 * features in layer order (tags at parity 0 for keys, 1 for values), then the unused ones in
 * table order. Numbering by rank, not by table index, keeps the bytes independent of the order
 * features were added in. */
static void first_use_rank(const struct mvt_layer *l, int parity, int n, int *rank)
{
    int next = 0;
    for (int i = 0; i < n; i++)
        rank[i] = -1;
    for (int i = 0; i < l->n_features; i++) {
        const struct mfeat *f = &l->feats[i];
        for (int t = parity; t < f->n_tags; t += 2) {
            uint32_t k = l->tags[f->tag_off + (size_t)t];
            if ((int)k < n && rank[k] < 0) rank[k] = next++;
        }
    }
    for (int i = 0; i < n; i++)
        if (rank[i] < 0) rank[i] = next++;
}

/* vorder[] = the n values with use[v] > 0, the most used first, equal use by rank (first_use_rank
 * for v < n_ranked, later ones by index). ERR_NOMEM. */
static int sort_by_use_desc(const int64_t *use, const int *rank, int n_ranked, int n, int *vorder,
                            int *n_used)
{
    struct sort_key *a = malloc(((size_t)n + 1) * sizeof *a),
                    *b = malloc(((size_t)n + 1) * sizeof *b);
    if (!a || !b) {
        free(a), free(b);
        return ERR_NOMEM;
    }
    size_t m = 0;
    for (int v = 0; v < n; v++)
        if (use[v] > 0) {
            uint64_t u = use[v] > 0xffffffffLL ? 0xffffffffu : (uint64_t)use[v];
            uint64_t r = (uint64_t)(v < n_ranked ? rank[v] : v);
            a[m].key = (0xffffffffu - u) << 32 | r, a[m++].i = (uint32_t)v;
        }
    struct sort_key *r = radix_sort(a, b, m);
    for (size_t i = 0; i < m; i++)
        vorder[i] = (int)r[i].i;
    *n_used = (int)m;
    free(a), free(b);
    return 0;
}

/* Chooses what is kept within budget bytes (0: no limit): the largest features first while they
 * fit; the rest go to g (polygons) or are only counted (lines, points). */
static int choose(struct mvt_layer *l, size_t budget, unsigned char *keep, struct gen *g)
{
    int nf = l->n_features, nv = l->values.n;
    size_t total = mvt_layer_size(l);
    if (!budget || total <= budget) {
        memset(keep, 1, (size_t)nf);
        return 0;
    }
    struct mfeat **order = malloc(((size_t)nf + 1) * sizeof *order);
    unsigned char *seen = calloc((size_t)nv + 1, 1);
    g->cell_cls = calloc(GEN_GRID * GEN_GRID, sizeof *g->cell_cls);
    g->cell_size = calloc(GEN_GRID * GEN_GRID, sizeof *g->cell_size);
    g->count = calloc((size_t)nv + 2, sizeof *g->count);
    g->mask = malloc(GEN_GRID * GEN_GRID);
    if (!order || !seen || !g->cell_cls || !g->cell_size || !g->count || !g->mask) {
        free(order), free(seen);
        return ERR_NOMEM;
    }
    size_t used = 16 + strlen(l->name) + budget / 20; /* 5 %: the generalized features */
    for (int i = 0; i < l->keys.n; i++)
        used += 2 + l->keys.len[i];
    if (used < budget && nf > 0 && sort_by_size_desc(l->feats, nf, order)) {
        free(order), free(seen);
        return ERR_NOMEM;
    } /* (an overview's budget keeps nothing: no order needed) */
    for (int i = 0; i < nf && used < budget; i++) {
        const struct mfeat *f = order[i];
        size_t cost = f->bytes;
        for (int t = 1; t < f->n_tags; t += 2) {
            uint32_t v = l->tags[f->tag_off + (size_t)t];
            if (!seen[v]) cost += 2 + l->values.len[v];
        }
        if (used + cost > budget) continue; /* a smaller one may still fit */
        used += cost;
        keep[f - l->feats] = 1;
        for (int t = 1; t < f->n_tags; t += 2)
            seen[l->tags[f->tag_off + (size_t)t]] = 1;
    }
    free(seen);
    free(order);
    for (int i = 0; i < nf; i++) {
        if (keep[i]) continue;
        if (l->feats[i].type == 3)
            gen_drop(g, &l->feats[i]);
        else
            l->dropped++; /* lines, points: left out, counted (mvt_layer_generalized) */
    }
    return 0;
}

/* Builds the generalized features of g (one per class with dropped polygons) into gf/gcmds,
 * interning their values. */
static int build_generalized(struct mvt_layer *l, void *geos, struct gen *g, int nv,
                             const int *vbyrank, const unsigned char *keep, struct gfeat **gf,
                             int *n_gf, uint32_t **gcmds, struct err *err)
{
    struct mvt_geom cells;
    mvt_geom_init(&cells);
    size_t n_cmds = 0, cap_cmds = 0;
    int rc = 0;
    *gf = calloc((size_t)nv + 2, sizeof **gf);
    if (!*gf) return err_set(err, ERR_NOMEM, "out of memory");
    for (int r = -1; r < nv && !rc; r++) { /* -1: polygons without a class value */
        int c = r < 0 ? -1 : vbyrank[r];   /* classes in first_use_rank order */
        int64_t n = g->count[c + 1];
        if (!n) continue;
        int any = 0;
        for (int k = 0; k < GEN_GRID * GEN_GRID; k++)
            any |= g->mask[k] = g->cell_cls[k] == c + 2;
        if (!any) /* every cell went to a larger class: this one keeps the cells it touches, so
                   * that its count is still written */
            for (int i = 0; i < l->n_features; i++) {
                const struct mfeat *f = &l->feats[i];
                if (keep[i] || f->type != 3 || (f->cls >= 0 ? f->cls : -1) != c) continue;
                for (int y = f->box[1]; y <= f->box[3]; y++)
                    for (int x = f->box[0]; x <= f->box[2]; x++)
                        g->mask[y * GEN_GRID + x] = 1;
            }
        if ((rc = mvt_encode_cells(geos, g->mask, GEN_GRID, TILE_EXTENT / GEN_GRID, &cells, err)))
            break;
        l->dropped += n;
        if (!cells.n) continue; /* counted; nothing to draw */
        struct value cnt = {.type = VAL_INT, .i = n};
        int vc = -1;
        if (!encode_value(&l->scratch, &cnt))
            vc = table_intern(&l->values, l->scratch.data, l->scratch.len);
        if (vc < 0 || grow_u32(gcmds, &cap_cmds, n_cmds + cells.n)) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(*gcmds + n_cmds, cells.cmd, cells.n * sizeof *cells.cmd);
        (*gf)[(*n_gf)++] = (struct gfeat){c, vc, n_cmds, cells.n};
        n_cmds += cells.n;
        l->generalized++;
    }
    mvt_geom_fini(&cells);
    return rc;
}

/* The layer's features within budget bytes (0: no limit). */
static int write_layer(struct mvt_layer *l, void *geos, size_t budget, struct buf *out,
                       struct err *err)
{
    int nf = l->n_features, rc = 0, n_gf = 0;
    unsigned char *keep = calloc((size_t)nf + 1, 1);
    struct gen g = {0};
    struct gfeat *gf = NULL;
    uint32_t *gcmds = NULL;
    int64_t *use = NULL;
    int *vorder = NULL, *vmap = NULL, *vrank = NULL, *vbyrank = NULL, *krank = NULL, *korder = NULL;
    struct buf b;
    buf_init(&b);
    l->dropped = l->pre_dropped, l->generalized = l->n_pre;
    int nv0 = l->values.n;
    if (!keep || sort_by_id(l)) goto nomem;
    vrank = malloc(((size_t)nv0 + 1) * sizeof *vrank);
    vbyrank = malloc(((size_t)nv0 + 1) * sizeof *vbyrank);
    if (!vrank || !vbyrank || choose(l, budget, keep, &g)) goto nomem;
    first_use_rank(l, 1, nv0, vrank);
    for (int v = 0; v < nv0; v++)
        vbyrank[vrank[v]] = v;
    int k_class = -1, k_count = -1, k_gen = -1, v_one = -1;
    if (g.count || l->n_pre) { /* keys and values of the generalized features */
        if (g.count &&
            (rc = build_generalized(l, geos, &g, nv0, vbyrank, keep, &gf, &n_gf, &gcmds, err)))
            goto done;
        struct value one = {.type = VAL_INT, .i = 1};
        if (l->class_field)
            k_class = table_intern(&l->keys, l->class_field, strlen(l->class_field));
        k_count = table_intern(&l->keys, "n_features", 10);
        k_gen = table_intern(&l->keys, "generalized", 11);
        if (!encode_value(&l->scratch, &one))
            v_one = table_intern(&l->values, l->scratch.data, l->scratch.len);
        if (k_count < 0 || k_gen < 0 || v_one < 0 || (l->class_field && k_class < 0)) goto nomem;
    }
    /* values numbered by use among what is written, the most used first */
    int nv = l->values.n, n_used = 0;
    use = calloc((size_t)nv + 1, sizeof *use);
    vorder = malloc(((size_t)nv + 1) * sizeof *vorder);
    vmap = malloc(((size_t)nv + 1) * sizeof *vmap);
    if (!use || !vorder || !vmap) goto nomem;
    for (int i = 0; i < nf; i++)
        if (keep[i])
            for (int t = 1; t < l->feats[i].n_tags; t += 2)
                use[l->tags[l->feats[i].tag_off + (size_t)t]]++;
    for (int i = 0; i < n_gf; i++) {
        if (k_class >= 0 && gf[i].cls >= 0) use[gf[i].cls]++;
        use[gf[i].vcount]++, use[v_one]++;
    }
    for (int i = 0; i < l->n_pre; i++) {
        if (k_class >= 0 && l->pre[i].cls >= 0) use[l->pre[i].cls]++;
        use[l->pre[i].vcount]++, use[v_one]++;
    }
    int n_kept = 0;
    for (int i = 0; i < nf; i++)
        n_kept += keep[i];
    if (!n_kept && !n_gf && !l->n_pre) goto done; /* all of it counted, nothing to draw: no layer */
    if (sort_by_use_desc(use, vrank, nv0, nv, vorder, &n_used)) goto nomem;
    for (int i = 0; i < n_used; i++)
        vmap[vorder[i]] = i;
    int nk = l->keys.n;
    krank = malloc(((size_t)nk + 1) * sizeof *krank);
    korder = malloc(((size_t)nk + 1) * sizeof *korder);
    if (!krank || !korder) goto nomem;
    first_use_rank(l, 0, nk, krank);
    for (int k = 0; k < nk; k++)
        korder[krank[k]] = k;
    rc = put_tag(&b, 15, 0);
    if (!rc) rc = put_varint(&b, 2);
    if (!rc) rc = put_bytes(&b, 1, l->name, strlen(l->name));
    /* generalized features first (drawn under the features kept), without id: each stands for
     * several features; those given whole before those made here */
    for (int i = 0; i < l->n_pre + n_gf && !rc; i++) {
        const struct gfeat *e = i < l->n_pre ? &l->pre[i] : &gf[i - l->n_pre];
        const uint32_t *cmds = i < l->n_pre ? l->pre_cmds : gcmds;
        uint32_t tags[6];
        int nt = 0;
        if (k_class >= 0 && e->cls >= 0)
            tags[nt++] = (uint32_t)k_class, tags[nt++] = (uint32_t)e->cls;
        tags[nt++] = (uint32_t)k_count, tags[nt++] = (uint32_t)e->vcount;
        tags[nt++] = (uint32_t)k_gen, tags[nt++] = (uint32_t)v_one;
        rc = write_feature(&b, 0, 3, tags, nt, krank, vmap, cmds + e->off, e->n);
    }
    for (int i = 0; i < nf && !rc; i++) {
        const struct mfeat *f = &l->feats[i];
        if (keep[i])
            rc = write_feature(&b, f->id, f->type, l->tags + f->tag_off, f->n_tags, krank, vmap,
                               l->cmds + f->geom_off, f->n_geom);
    }
    for (int i = 0; i < nk && !rc; i++)
        rc = put_bytes(&b, 3, l->keys.blob.data + l->keys.off[korder[i]], l->keys.len[korder[i]]);
    for (int i = 0; i < n_used && !rc; i++)
        rc = put_bytes(&b, 4, l->values.blob.data + l->values.off[vorder[i]],
                       l->values.len[vorder[i]]);
    if (!rc) rc = put_tag(&b, 5, 0);
    if (!rc) rc = put_varint(&b, TILE_EXTENT);
    if (!rc) rc = put_bytes(out, 3, b.data, b.len);
    if (rc) goto nomem;
done:
    free(keep), free(use), free(vorder), free(vmap), free(gf), free(gcmds);
    free(vrank), free(vbyrank), free(krank), free(korder);
    free(g.cell_cls), free(g.cell_size), free(g.count), free(g.mask);
    buf_fini(&b);
    return rc;
nomem:
    rc = err_set(err, ERR_NOMEM, "out of memory");
    goto done;
}

int mvt_layer_write(struct mvt_layer *l, void *geos, size_t budget, struct buf *out,
                    struct err *err)
{
    if (!l->n_features && !l->n_pre) return 0;
    return write_layer(l, geos, budget, out, err);
}
