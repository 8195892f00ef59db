/* SPDX-License-Identifier: MIT */
/* encode.c: a rectangle of a rendered image (cairo ARGB32, premultiplied) to PNG 32-bit RGBA,
 * PNG 8-bit palette (popularity quantisation on a 4-bit-per-channel histogram, nearest colour
 * per bin), JPEG (libjpeg) or WebP (libwebp). PNG is written here with libdeflate (level 1, no
 * filter): encoding was a quarter of a tile's time with libpng + zlib. */
#include "render_int.h"

#include <libdeflate.h>
#include <png.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <webp/encode.h>

const char *render_format_mime(enum render_format fmt)
{
    switch (fmt) {
    case RFMT_PNG8:
        return "image/png; mode=8bit";
    case RFMT_JPEG:
        return "image/jpeg";
    case RFMT_WEBP:
        return "image/webp";
    default:
        return "image/png";
    }
}

/* One premultiplied ARGB32 pixel as straight-alpha RGBA bytes (rounded to nearest). */
static inline void straight_rgba(uint32_t p, unsigned char *d)
{
    unsigned a = p >> 24, r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
    if (a == 0) {
        d[0] = d[1] = d[2] = d[3] = 0;
    } else if (a == 255) {
        d[0] = (unsigned char)r, d[1] = (unsigned char)g, d[2] = (unsigned char)b;
        d[3] = 255;
    } else {
        d[0] = (unsigned char)((r * 255 + a / 2) / a);
        d[1] = (unsigned char)((g * 255 + a / 2) / a);
        d[2] = (unsigned char)((b * 255 + a / 2) / a);
        d[3] = (unsigned char)a;
    }
}

/* Rows of RGBA (straight alpha), flattened onto bg when !transparent. Caller frees. */
static unsigned char *to_rgba(const struct render_image *img, int x, int y, int w, int h,
                              int transparent, uint32_t bg)
{
    unsigned char *out = malloc((size_t)w * (size_t)h * 4);
    if (!out) return NULL;
    unsigned br = (bg >> 16) & 255, bgc = (bg >> 8) & 255, bb = bg & 255;
    for (int j = 0; j < h; j++) {
        const uint32_t *src = (const uint32_t *)(img->data + (size_t)(y + j) * img->stride) + x;
        unsigned char *d = out + (size_t)j * w * 4;
        for (int i = 0; i < w; i++, d += 4) {
            uint32_t p = src[i];
            unsigned a = p >> 24, r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
            if (!transparent) {
                /* premultiplied over an opaque background */
                d[0] = (unsigned char)(r + (br * (255 - a) + 127) / 255);
                d[1] = (unsigned char)(g + (bgc * (255 - a) + 127) / 255);
                d[2] = (unsigned char)(b + (bb * (255 - a) + 127) / 255);
                d[3] = 255;
            } else {
                straight_rgba(p, d);
            }
        }
    }
    return out;
}

/* PNG written directly: filtered rows deflated in one call by libdeflate (several times faster
 * than zlib at level 1 with a better ratio), CRCs by libdeflate. The compressor and the row and
 * output buffers are kept per thread (a tile's buffers are a few hundred KB: allocating them
 * afresh cost page faults on every tile). */
struct png_scratch {
    struct libdeflate_compressor *compressor;
    unsigned char *raw, *z;
    size_t raw_cap, z_cap;
};
static _Thread_local struct png_scratch *scratch;
static pthread_key_t scratch_key; /* frees a thread's scratch when the thread ends */
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    struct png_scratch *s = p;
    libdeflate_free_compressor(s->compressor);
    free(s->raw), free(s->z);
    free(s);
}

static void scratch_key_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

/* The thread's scratch with raw_len bytes of rows and room for their deflated form; NULL when
 * out of memory. */
static struct png_scratch *thread_scratch(size_t raw_len)
{
    if (!scratch) {
        pthread_once(&scratch_once, scratch_key_init);
        struct png_scratch *s = calloc(1, sizeof *s);
        if (!s) return NULL;
        s->compressor = libdeflate_alloc_compressor(1);
        if (!s->compressor) {
            free(s);
            return NULL;
        }
        scratch = s;
        pthread_setspecific(scratch_key, s);
    }
    struct png_scratch *s = scratch;
    size_t bound = libdeflate_zlib_compress_bound(s->compressor, raw_len);
    if (raw_len > s->raw_cap) {
        unsigned char *r = realloc(s->raw, raw_len);
        if (!r) return NULL;
        s->raw = r, s->raw_cap = raw_len;
    }
    if (bound > s->z_cap) {
        unsigned char *z = realloc(s->z, bound);
        if (!z) return NULL;
        s->z = z, s->z_cap = bound;
    }
    return s;
}

static int put_be32(struct buf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    return buf_append(b, c, 4);
}

static int put_chunk(struct buf *b, const char *type, const unsigned char *data, size_t len)
{
    if (put_be32(b, (uint32_t)len) || buf_append(b, type, 4) || (len && buf_append(b, data, len)))
        return -1;
    uint32_t crc = libdeflate_crc32(0, type, 4);
    if (len) crc = libdeflate_crc32(crc, data, len);
    return put_be32(b, crc);
}

/* Writes PNG rows already laid out in raw (h rows of 1 filter byte + w * bpp bytes, bpp 4 RGBA,
 * 3 RGB or 1 palette index) as PNG. No row filter: a rendered map is flat colours and
 * anti-aliased edges that repeat exactly, which deflate matches as they are; SUB or UP turned
 * them into noise (the 200 benchmark tiles came out a third larger with SUB, and slower to
 * deflate). */
static int write_png_raw(struct png_scratch *sc, size_t raw_len, int w, int h, int bpp,
                         const png_color *pal, const png_byte *trans, int n_pal, struct buf *out,
                         struct err *err)
{
    size_t zlen = libdeflate_zlib_compress(sc->compressor, sc->raw, raw_len, sc->z, sc->z_cap);
    if (!zlen) return err_set(err, ERR_INTERNAL, "PNG encoding failed");
    unsigned char ihdr[13] = {(unsigned char)(w >> 24),
                              (unsigned char)(w >> 16),
                              (unsigned char)(w >> 8),
                              (unsigned char)w,
                              (unsigned char)(h >> 24),
                              (unsigned char)(h >> 16),
                              (unsigned char)(h >> 8),
                              (unsigned char)h,
                              8,
                              pal        ? 3
                              : bpp == 3 ? 2
                                         : 6,
                              0,
                              0,
                              0};
    int rc = 0;
    if (buf_append(out, "\x89PNG\r\n\x1a\n", 8) || put_chunk(out, "IHDR", ihdr, 13)) rc = ERR_NOMEM;
    if (!rc && pal) {
        unsigned char plte[768];
        for (int i = 0; i < n_pal; i++)
            plte[3 * i] = pal[i].red, plte[3 * i + 1] = pal[i].green, plte[3 * i + 2] = pal[i].blue;
        if (put_chunk(out, "PLTE", plte, (size_t)n_pal * 3) ||
            (trans && put_chunk(out, "tRNS", trans, (size_t)n_pal)))
            rc = ERR_NOMEM;
    }
    if (!rc && (put_chunk(out, "IDAT", sc->z, zlen) || put_chunk(out, "IEND", NULL, 0)))
        rc = ERR_NOMEM;
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

/* Writes rows (palette indexes, 1 byte per pixel) as PNG. */
static int write_png_rows(const unsigned char *rows, int w, int h, const png_color *pal,
                          const png_byte *trans, int n_pal, struct buf *out, struct err *err)
{
    size_t row = (size_t)w, raw_len = (row + 1) * (size_t)h;
    struct png_scratch *sc = thread_scratch(raw_len);
    if (!sc) return err_set(err, ERR_NOMEM, "out of memory");
    for (int j = 0; j < h; j++) {
        unsigned char *d = sc->raw + (size_t)j * (row + 1);
        d[0] = 0; /* filter NONE */
        memcpy(d + 1, rows + (size_t)j * row, row);
    }
    return write_png_raw(sc, raw_len, w, h, 1, pal, trans, n_pal, out, err);
}

/* A rectangle of the image as 32-bit RGBA PNG, or as 24-bit RGB when !transparent (flattened
 * onto bg: what MapServer and most servers write for TRANSPARENT=FALSE, a quarter fewer bytes to
 * deflate). A transparent map stays RGBA even when it covers the whole rectangle: level 1
 * deflate matches 4-byte pixels better, RGB tiles came out a tenth larger. Rows are converted
 * from premultiplied ARGB straight into the deflate input. */
static int encode_png(const struct render_image *img, int x, int y, int w, int h, int transparent,
                      uint32_t bg, struct buf *out, struct err *err)
{
    int bpp = transparent ? 4 : 3;
    size_t row = (size_t)w * (size_t)bpp, raw_len = (row + 1) * (size_t)h;
    struct png_scratch *sc = thread_scratch(raw_len);
    if (!sc) return err_set(err, ERR_NOMEM, "out of memory");
    unsigned br = (bg >> 16) & 255, bgc = (bg >> 8) & 255, bb = bg & 255;
    for (int j = 0; j < h; j++) {
        const uint32_t *src = (const uint32_t *)(img->data + (size_t)(y + j) * img->stride) + x;
        unsigned char *d = sc->raw + (size_t)j * (row + 1);
        *d++ = 0; /* filter NONE */
        if (!transparent) {
            for (int i = 0; i < w; i++, d += 3) {
                uint32_t p = src[i];
                unsigned a = p >> 24, r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
                if (a == 255) {
                    d[0] = (unsigned char)r, d[1] = (unsigned char)g, d[2] = (unsigned char)b;
                    continue;
                }
                /* premultiplied over an opaque background */
                d[0] = (unsigned char)(r + (br * (255 - a) + 127) / 255);
                d[1] = (unsigned char)(g + (bgc * (255 - a) + 127) / 255);
                d[2] = (unsigned char)(b + (bb * (255 - a) + 127) / 255);
            }
        } else {
            for (int i = 0; i < w; i++, d += 4)
                straight_rgba(src[i], d);
        }
    }
    return write_png_raw(sc, raw_len, w, h, bpp, NULL, NULL, 0, out, err);
}

static int write_png(const unsigned char *rows, int w, int h, const png_color *pal,
                     const png_byte *trans, int n_pal, struct buf *out, struct err *err)
{
    return write_png_rows(rows, w, h, pal, trans, n_pal, out, err);
}

#define BIN(p) (((p)[0] >> 4) << 12 | ((p)[1] >> 4) << 8 | ((p)[2] >> 4) << 4 | ((p)[3] >> 4))

struct qbin {
    uint32_t count;
    uint32_t sum[4];
    int16_t index; /* palette index, -1 unset */
};

static int cmp_count(const void *a, const void *b, void *bins_)
{
    const struct qbin *bins = bins_;
    uint32_t x = bins[*(const int *)a].count, y = bins[*(const int *)b].count;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* 8-bit palette PNG: the 256 most used histogram bins become the palette; every bin maps to
 * its nearest palette colour. */
static int encode_png8(const unsigned char *rgba, int w, int h, struct buf *out, struct err *err)
{
    struct qbin *bins = calloc(65536, sizeof *bins);
    int *order = malloc(65536 * sizeof *order);
    unsigned char *idx = malloc((size_t)w * (size_t)h);
    int rc = 0;
    if (!bins || !order || !idx) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t n = (size_t)w * (size_t)h;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = rgba + 4 * i;
        struct qbin *b = &bins[BIN(p)];
        b->count++;
        for (int c = 0; c < 4; c++)
            b->sum[c] += p[c];
    }
    int used = 0;
    for (int i = 0; i < 65536; i++)
        if (bins[i].count) order[used++] = i;
    qsort_r(order, (size_t)used, sizeof *order, cmp_count, bins);
    int n_pal = used < 256 ? used : 256;
    png_color pal[256];
    png_byte trans[256];
    int pc[256][4];
    for (int i = 0; i < 65536; i++)
        bins[i].index = -1;
    for (int i = 0; i < n_pal; i++) {
        struct qbin *b = &bins[order[i]];
        for (int c = 0; c < 4; c++)
            pc[i][c] = (int)(b->sum[c] / b->count);
        pal[i] = (png_color){(png_byte)pc[i][0], (png_byte)pc[i][1], (png_byte)pc[i][2]};
        trans[i] = (png_byte)pc[i][3];
        b->index = (int16_t)i;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = rgba + 4 * i;
        struct qbin *b = &bins[BIN(p)];
        if (b->index < 0) {
            int best = 0;
            long bd = -1;
            int mean[4];
            for (int c = 0; c < 4; c++)
                mean[c] = (int)(b->sum[c] / b->count);
            for (int k = 0; k < n_pal; k++) {
                long d = 0;
                for (int c = 0; c < 4; c++)
                    d += (long)(mean[c] - pc[k][c]) * (mean[c] - pc[k][c]);
                if (bd < 0 || d < bd) bd = d, best = k;
            }
            b->index = (int16_t)best;
        }
        idx[i] = (unsigned char)b->index;
    }
    rc = write_png(idx, w, h, pal, trans, n_pal ? n_pal : 1, out, err);
done:
    free(bins), free(order), free(idx);
    return rc;
}

static int encode_jpeg(const unsigned char *rgba, int w, int h, int quality, struct buf *out,
                       struct err *err)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long size = 0;
    unsigned char *row = malloc((size_t)w * 3);
    if (!row) return err_set(err, ERR_NOMEM, "out of memory");
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &mem, &size);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    for (int j = 0; j < h; j++) {
        for (int i = 0; i < w; i++)
            memcpy(row + 3 * i, rgba + ((size_t)j * w + i) * 4, 3);
        JSAMPROW r = row;
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(row);
    int rc = buf_append(out, mem, size) ? err_set(err, ERR_NOMEM, "out of memory") : 0;
    free(mem);
    return rc;
}

static int encode_webp(const unsigned char *rgba, int w, int h, int quality, struct buf *out,
                       struct err *err)
{
    uint8_t *data = NULL;
    size_t size = WebPEncodeRGBA(rgba, w, h, w * 4, (float)quality, &data);
    if (!size) return err_set(err, ERR_INTERNAL, "WebP encoding failed");
    int rc = buf_append(out, data, size) ? err_set(err, ERR_NOMEM, "out of memory") : 0;
    WebPFree(data);
    return rc;
}

int render_encode(const struct render_image *img, int x, int y, int w, int h,
                  enum render_format fmt, int transparent, uint32_t bgcolor, int quality,
                  struct buf *out, struct err *err)
{
    if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > img->width || y + h > img->height)
        return err_set(err, ERR_INTERNAL, "encode rectangle outside the image");
    if (quality <= 0 || quality > 100) quality = 85;
    if (fmt == RFMT_JPEG) transparent = 0;
    if (fmt == RFMT_PNG) return encode_png(img, x, y, w, h, transparent, bgcolor, out, err);
    unsigned char *rgba = to_rgba(img, x, y, w, h, transparent, bgcolor);
    if (!rgba) return err_set(err, ERR_NOMEM, "out of memory");
    int rc;
    switch (fmt) {
    case RFMT_PNG8:
        rc = encode_png8(rgba, w, h, out, err);
        break;
    case RFMT_JPEG:
        rc = encode_jpeg(rgba, w, h, quality, out, err);
        break;
    case RFMT_WEBP:
        rc = encode_webp(rgba, w, h, quality, out, err);
        break;
    default:
        rc = err_set(err, ERR_INTERNAL, "unknown image format");
        break;
    }
    free(rgba);
    return rc;
}
