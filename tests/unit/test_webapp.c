/* SPDX-License-Identifier: MIT */
/* test_webapp.c: the web map's serving module without a server: glyph ranges (protobuf shape,
 * ids, bitmap sizes, errors), the gzip helper (inflated back with zlib), and static files (safe
 * names only, ETag and 304, gzip). Run from the repository root (src/web and the font needed). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../check.h"
#include "config/config.h"
#include "webapp/webapp.h"

#define FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

/* Reads a varint at *p (bounded by end); 0 on success. */
static int varint(const unsigned char **p, const unsigned char *end, unsigned long long *v)
{
    *v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char c = *(*p)++;
        *v |= (unsigned long long)(c & 0x7f) << shift;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

struct glyph_info {
    unsigned id, width, height;
    size_t bitmap_len;
};

/* Decodes glyphs { stacks { name range glyphs* } } into out (at most max glyphs). Returns the
 * glyph count or -1 when the bytes are not that message. */
static int decode(const char *data, size_t len, char *range, struct glyph_info *out, int max)
{
    const unsigned char *p = (const unsigned char *)data, *end = p + len;
    unsigned long long key, n;
    if (varint(&p, end, &key) || key != (1 << 3 | 2) || varint(&p, end, &n) || p + n != end)
        return -1;
    int count = 0;
    while (p < end) {
        if (varint(&p, end, &key) || (key & 7) != 2 || varint(&p, end, &n) || p + n > end)
            return -1;
        const unsigned char *q = p, *qend = p + n;
        p += n;
        if (key >> 3 == 2) {
            memcpy(range, q, n < 31 ? n : 31), range[n < 31 ? n : 31] = '\0';
        } else if (key >> 3 == 3 && count < max) {
            struct glyph_info g = {0};
            while (q < qend) {
                unsigned long long k, v;
                if (varint(&q, qend, &k)) return -1;
                if ((k & 7) == 2) {
                    if (varint(&q, qend, &v) || q + v > qend) return -1;
                    g.bitmap_len = v, q += v;
                    continue;
                }
                if (varint(&q, qend, &v)) return -1;
                if (k >> 3 == 1) g.id = (unsigned)v;
                if (k >> 3 == 3) g.width = (unsigned)v;
                if (k >> 3 == 4) g.height = (unsigned)v;
            }
            out[count++] = g;
        }
    }
    return count;
}

static void test_glyphs(void)
{
    char *pbf = NULL;
    size_t len = 0;
    struct err err;
    err_clear(&err);
    CHECK(webapp_glyph_range(FONT, "DejaVu Sans Book", 7680, &pbf, &len, &err) == 0);
    static struct glyph_info g[256];
    char range[32] = "";
    int n = pbf ? decode(pbf, len, range, g, 256) : -1;
    CHECK(n > 200 && n <= 256);
    CHECK(strcmp(range, "7680-7935") == 0);
    int found_e = 0, sizes_ok = 1, sorted = 1;
    for (int i = 0; i < n; i++) {
        if (g[i].id == 0x1EC7) found_e = g[i].width > 0; /* ệ */
        if (g[i].width && g[i].bitmap_len != (size_t)(g[i].width + 6) * (g[i].height + 6))
            sizes_ok = 0;
        if (i && g[i].id <= g[i - 1].id) sorted = 0;
    }
    CHECK(found_e && sizes_ok && sorted);

    /* gzip round trip with zlib's own inflate. */
    char *gz = NULL;
    size_t gz_len = 0;
    CHECK(webapp_gzip(pbf, len, &gz, &gz_len, &err) == 0 && gz_len < len);
    char *back = malloc(len + 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(inflateInit2(&z, 31) == Z_OK);
    z.next_in = (Bytef *)gz, z.avail_in = (uInt)gz_len;
    z.next_out = (Bytef *)back, z.avail_out = (uInt)len + 1;
    CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len);
    CHECK(memcmp(back, pbf, len) == 0);
    inflateEnd(&z);
    free(back), free(gz), free(pbf);

    err_clear(&err);
    CHECK(webapp_glyph_range(FONT, "x", 100, &pbf, &len, &err) == ERR_PARAM);
    err_clear(&err);
    CHECK(webapp_glyph_range(FONT, "x", 65536, &pbf, &len, &err) == ERR_PARAM);
    err_clear(&err);
    CHECK(webapp_glyph_range("/nonexistent.ttf", "x", 0, &pbf, &len, &err) == ERR_IO);
}

/* A GET of /web/{file} through webapp_static. */
static int get_static(struct config *cfg, const char *file, const char *inm, const char *ae,
                      struct response *res)
{
    struct request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.cfg = cfg;
    char *names[1] = {"file"}, *values[1] = {(char *)file};
    req.param_names[0] = names[0], req.params[0] = values[0], req.n_params = 1;
    req.if_none_match = inm;
    req.accept_encoding = ae;
    struct err err;
    err_clear(&err);
    resp_init(res);
    return webapp_static(&req, res, &err);
}

static void test_static(void)
{
    struct config cfg;
    config_defaults(&cfg);
    free(cfg.web_dir);
    cfg.web_dir = str_dup("src/web");
    struct response res;
    CHECK(get_static(&cfg, "index.html", NULL, NULL, &res) == 0);
    CHECK(res.status == 200 && strncmp(res.content_type, "text/html", 9) == 0);
    CHECK(res.body.len > 0 && strstr(res.body.data, "/web/app.js"));
    char etag[80];
    snprintf(etag, sizeof etag, "%s", resp_get_header(&res, "ETag"));
    resp_fini(&res);
    CHECK(get_static(&cfg, "index.html", etag, NULL, &res) == 0 && res.status == 304);
    CHECK(res.body.len == 0);
    resp_fini(&res);
    CHECK(get_static(&cfg, "app.js", NULL, "gzip, deflate", &res) == 0);
    const char *enc = resp_get_header(&res, "Content-Encoding");
    CHECK(enc && strcmp(enc, "gzip") == 0 && (unsigned char)res.body.data[0] == 0x1f);
    resp_fini(&res);
    const char *bad[] = {"../Makefile", "..",       ".hidden.js", "a/b.js", "app.c", "",
                         "x%2f.js",     "app.js\n", "nope.js"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        CHECK(get_static(&cfg, bad[i], NULL, NULL, &res) == ERR_NOT_FOUND);
        resp_fini(&res);
    }
    config_fini(&cfg);
}

int main(void)
{
    test_glyphs();
    test_static();
    CHECK_DONE();
}
