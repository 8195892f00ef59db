/* SPDX-License-Identifier: MIT */
/* mvt.c: Mapbox Vector Tile 2.1 protobuf written by hand: varints, zigzag, packed geometry
 * commands, and per-layer key and value tables deduplicated with small open-addressing hashes.
 * Geometry clipping and snapping are in mvt_geom.c; what goes into a tile is decided in tile.c. */
#include "tiles.h"

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
    return put_tag(b, field, 2) || put_varint(b, len) || buf_append(b, data, len);
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
    for (int k = 0; i < n; i++, k += 8)
        t |= (uint64_t)s[i] << k;
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

struct mvt_layer {
    char *name;
    struct buf features; /* encoded Layer.features entries (field 2) */
    struct table keys;   /* raw key strings */
    struct table values; /* encoded Value messages */
    int n_features;
    struct buf scratch;
    uint32_t *tags;
    int tags_cap;
};

struct mvt_layer *mvt_layer_new(const char *name)
{
    struct mvt_layer *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->name = str_dup(name);
    if (!l->name) {
        free(l);
        return NULL;
    }
    return l;
}

void mvt_layer_free(struct mvt_layer *l)
{
    if (!l) return;
    free(l->name);
    buf_fini(&l->features);
    table_fini(&l->keys);
    table_fini(&l->values);
    buf_fini(&l->scratch);
    free(l->tags);
    free(l);
}

int mvt_layer_count(const struct mvt_layer *l)
{
    return l->n_features;
}

/* Encodes a Value message into b (reset first). */
static int encode_value(struct buf *b, const struct value *v)
{
    buf_reset(b);
    switch (v->type) {
    case VAL_INT:
        if (v->i < 0)
            return put_tag(b, 6, 0) ||
                   put_varint(b, ((uint64_t)v->i << 1) ^ (uint64_t)(v->i >> 63));
        return put_tag(b, 5, 0) || put_varint(b, (uint64_t)v->i);
    case VAL_REAL: {
        unsigned char d[8];
        memcpy(d, &v->d, 8); /* little endian host, as protobuf fixed64 */
        return put_tag(b, 3, 1) || buf_append(b, d, 8);
    }
    case VAL_TEXT:
        return put_bytes(b, 1, v->s, v->len >= 0 ? (size_t)v->len : strlen(v->s));
    default:
        return -1;
    }
}

int mvt_layer_add(struct mvt_layer *l, uint64_t id, const struct mvt_geom *g, const char **names,
                  const struct value *values, int n, struct err *err)
{
    if (!g->type || !g->n) return 0;
    if (2 * n > l->tags_cap) {
        uint32_t *t = realloc(l->tags, (size_t)(2 * n) * sizeof *t);
        if (!t) return err_set(err, ERR_NOMEM, "out of memory");
        l->tags = t;
        l->tags_cap = 2 * n;
    }
    int n_tags = 0;
    for (int i = 0; i < n; i++) {
        if (values[i].type != VAL_INT && values[i].type != VAL_REAL && values[i].type != VAL_TEXT)
            continue;
        if (encode_value(&l->scratch, &values[i])) return err_set(err, ERR_NOMEM, "out of memory");
        int k = table_intern(&l->keys, names[i], strlen(names[i]));
        int v = table_intern(&l->values, l->scratch.data, l->scratch.len);
        if (k < 0 || v < 0) return err_set(err, ERR_NOMEM, "out of memory");
        l->tags[n_tags++] = (uint32_t)k;
        l->tags[n_tags++] = (uint32_t)v;
    }
    /* Feature message: id (1), tags (2, packed), type (3), geometry (4, packed), sized first
     * and written in place: this is the hot loop of a dense tile. */
    size_t tbytes = 0, gbytes = 0;
    for (int i = 0; i < n_tags; i++)
        tbytes += varint_len(l->tags[i]);
    for (size_t i = 0; i < g->n; i++)
        gbytes += varint_len(g->cmd[i]);
    size_t body = 1 + varint_len(id) + 2 + 1 + varint_len(gbytes) + gbytes;
    if (n_tags) body += 1 + varint_len(tbytes) + tbytes;
    if (buf_reserve(&l->features, body + 12)) return err_set(err, ERR_NOMEM, "out of memory");
    unsigned char *p = (unsigned char *)l->features.data + l->features.len;
    *p++ = 2 << 3 | 2;
    p = put_raw(p, body);
    *p++ = 1 << 3;
    p = put_raw(p, id);
    if (n_tags) {
        *p++ = 2 << 3 | 2;
        p = put_raw(p, tbytes);
        for (int i = 0; i < n_tags; i++)
            p = put_raw(p, l->tags[i]);
    }
    *p++ = 3 << 3;
    *p++ = (unsigned char)g->type;
    *p++ = 4 << 3 | 2;
    p = put_raw(p, gbytes);
    for (size_t i = 0; i < g->n; i++)
        p = put_raw(p, g->cmd[i]);
    l->features.len = (size_t)(p - (unsigned char *)l->features.data);
    l->features.data[l->features.len] = '\0';
    l->n_features++;
    return 0;
}

int mvt_layer_write(const struct mvt_layer *l, struct buf *out)
{
    if (!l->n_features) return 0;
    struct buf b;
    buf_init(&b);
    int rc = put_tag(&b, 15, 0) || put_varint(&b, 2) ||
             put_bytes(&b, 1, l->name, strlen(l->name)) ||
             buf_append(&b, l->features.data, l->features.len);
    for (int i = 0; i < l->keys.n && !rc; i++)
        rc = put_bytes(&b, 3, l->keys.blob.data + l->keys.off[i], l->keys.len[i]);
    for (int i = 0; i < l->values.n && !rc; i++)
        rc = put_bytes(&b, 4, l->values.blob.data + l->values.off[i], l->values.len[i]);
    rc = rc || put_tag(&b, 5, 0) || put_varint(&b, TILE_EXTENT);
    rc = rc || put_bytes(out, 3, b.data, b.len);
    buf_fini(&b);
    return rc ? ERR_NOMEM : 0;
}
