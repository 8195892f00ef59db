/* SPDX-License-Identifier: MIT */
/* blob.c: SpatiaLite's internal geometry BLOB to 2D ISO WKB, in C. Reading `geom` raw and
 * converting here costs a copy; asking SQLite for AsBinary(geom) costs a SpatiaLite parse and a
 * serialisation per row (about a fifth of a map tile's time, measured by the wms engineer).
 * Layout (SpatiaLite "BLOB-Geometry"): 0x00, endian, srid, MBR (4 doubles), 0x7C, class type,
 * geometry, 0xFE; collection members are 0x69 + class type + geometry. Compressed classes
 * (1000000+) are not written by spp and are refused. */
#include "store_int.h"

#include <string.h>

struct rd {
    const unsigned char *p, *end;
    int le;
};

static int rd_u32(struct rd *r, uint32_t *v)
{
    if (r->end - r->p < 4) return -1;
    const unsigned char *b = r->p;
    *v = r->le ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
               : (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
    r->p += 4;
    return 0;
}

/* The WKB is written through w, into room reserved once: it is never longer than the blob (the
 * 43-byte header and end mark become a 5-byte one, each member's 0x69 mark its byte order, Z and
 * M are dropped). */
static void put_u32(unsigned char **w, uint32_t v)
{
    unsigned char *p = *w;
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
    *w = p + 4;
}

/* Copies n points of dims doubles as 2D little-endian doubles. */
static int copy_points(struct rd *r, uint32_t n, int dims, unsigned char **w)
{
    size_t stride = 8u * (size_t)dims;
    if ((size_t)(r->end - r->p) / stride < n) return -1;
    if (r->le && dims == 2) { /* already 2D little-endian: one copy */
        memcpy(*w, r->p, (size_t)n * 16);
        *w += (size_t)n * 16;
        r->p += (size_t)n * 16;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++, r->p += stride) {
        for (int k = 0; k < 16; k++)
            (*w)[k] = r->le ? r->p[k] : r->p[(k / 8) * 8 + 7 - k % 8];
        *w += 16;
    }
    return 0;
}

static int conv(struct rd *r, uint32_t cls, unsigned char **w, int depth)
{
    if (depth > 4 || cls >= 1000000) return -1;
    int dims = cls >= 3000 ? 4 : cls >= 1000 ? 3 : 2;
    uint32_t type = cls % 1000, n, m;
    if (type < 1 || type > 7) return -1;
    *(*w)++ = 1;
    put_u32(w, type);
    switch (type) {
    case 1:
        return copy_points(r, 1, dims, w);
    case 2:
        if (rd_u32(r, &n)) return -1;
        put_u32(w, n);
        return copy_points(r, n, dims, w);
    case 3:
        if (rd_u32(r, &n) || n > (size_t)(r->end - r->p) / 4) return -1;
        put_u32(w, n);
        for (uint32_t i = 0; i < n; i++) {
            int rc;
            if (rd_u32(r, &m)) return -1;
            put_u32(w, m);
            if ((rc = copy_points(r, m, dims, w))) return rc;
        }
        return 0;
    default:
        if (rd_u32(r, &n) || n > (size_t)(r->end - r->p) / 5) return -1;
        put_u32(w, n);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t sub;
            int rc;
            if (r->p >= r->end || *r->p++ != 0x69 || rd_u32(r, &sub)) return -1;
            if ((rc = conv(r, sub, w, depth + 1))) return rc;
        }
        return 0;
    }
}

int store_blob_to_wkb(const unsigned char *blob, size_t len, struct buf *out, struct err *err)
{
    buf_reset(out);
    if (len < 44 || blob[0] != 0x00 || blob[38] != 0x7C || blob[len - 1] != 0xFE ||
        (blob[1] != 0 && blob[1] != 1))
        return err_set(err, ERR_DB, "not a SpatiaLite geometry blob");
    struct rd r = {blob + 43, blob + len - 1, blob[1] == 1};
    struct rd head = {blob + 39, blob + 43, r.le};
    uint32_t cls;
    rd_u32(&head, &cls);
    if (buf_reserve(out, len)) return err_set(err, ERR_NOMEM, "out of memory");
    unsigned char *w = (unsigned char *)out->data;
    int rc = conv(&r, cls, &w, 0);
    if (rc || r.p != r.end) return err_set(err, ERR_DB, "malformed SpatiaLite geometry blob");
    out->len = (size_t)(w - (unsigned char *)out->data);
    out->data[out->len] = '\0';
    return 0;
}
