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

static int put_u32(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return buf_append(b, x, 4);
}

/* Copies n points of dims doubles as 2D little-endian doubles. */
static int copy_points(struct rd *r, uint32_t n, int dims, struct buf *out)
{
    size_t stride = 8u * (size_t)dims;
    if ((size_t)(r->end - r->p) / stride < n) return -1;
    if (buf_reserve(out, (size_t)n * 16)) return -2;
    if (r->le && dims == 2) { /* already 2D little-endian: one copy */
        memcpy(out->data + out->len, r->p, (size_t)n * 16);
        out->len += (size_t)n * 16;
        out->data[out->len] = '\0';
        r->p += (size_t)n * 16;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++, r->p += stride) {
        unsigned char xy[16];
        for (int k = 0; k < 16; k++)
            xy[k] = r->le ? r->p[k] : r->p[(k / 8) * 8 + 7 - k % 8];
        memcpy(out->data + out->len, xy, 16);
        out->len += 16;
    }
    out->data[out->len] = '\0';
    return 0;
}

static int conv(struct rd *r, uint32_t cls, struct buf *out, int depth)
{
    if (depth > 4 || cls >= 1000000) return -1;
    int dims = cls >= 3000 ? 4 : cls >= 1000 ? 3 : 2;
    uint32_t type = cls % 1000, n, m;
    if (type < 1 || type > 7) return -1;
    if (buf_putc(out, 1) || put_u32(out, type)) return -2;
    switch (type) {
    case 1:
        return copy_points(r, 1, dims, out);
    case 2:
        if (rd_u32(r, &n) || put_u32(out, n)) return -1;
        return copy_points(r, n, dims, out);
    case 3:
        if (rd_u32(r, &n) || n > (size_t)(r->end - r->p) / 4 || put_u32(out, n)) return -1;
        for (uint32_t i = 0; i < n; i++) {
            int rc;
            if (rd_u32(r, &m) || put_u32(out, m)) return -1;
            if ((rc = copy_points(r, m, dims, out))) return rc;
        }
        return 0;
    default:
        if (rd_u32(r, &n) || n > (size_t)(r->end - r->p) / 5 || put_u32(out, n)) return -1;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t sub;
            int rc;
            if (r->p >= r->end || *r->p++ != 0x69 || rd_u32(r, &sub)) return -1;
            if ((rc = conv(r, sub, out, depth + 1))) return rc;
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
    int rc = conv(&r, cls, out, 0);
    if (rc == -2) return err_set(err, ERR_NOMEM, "out of memory");
    if (rc || r.p != r.end) return err_set(err, ERR_DB, "malformed SpatiaLite geometry blob");
    return 0;
}
