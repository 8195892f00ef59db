/* SPDX-License-Identifier: MIT */
/* buf.c: growable byte buffers with JSON and XML escaping, used by every output writer. */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void buf_fini(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data) b->data[0] = '\0';
}

int buf_failed(const struct buf *b)
{
    return b->failed;
}

int buf_fail(struct buf *b)
{
    b->failed = 1;
    return ERR_NOMEM;
}

int buf_status(const struct buf *b)
{
    return b->failed ? ERR_NOMEM : 0;
}

const char *buf_str(const struct buf *b)
{
    if (b->failed) return NULL;
    return b->data ? b->data : "";
}

/* The one place a buffer grows: a failure here marks the buffer failed for good. */
int buf_reserve(struct buf *b, size_t extra)
{
    if (b->failed) return ERR_NOMEM;
    if (extra < SIZE_MAX - b->len - 1 && b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    if (extra >= SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return ERR_NOMEM;
    }
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
    if (!data && n) {
        b->failed = 1;
        return ERR_NOMEM;
    }
    if (buf_reserve(b, n)) return ERR_NOMEM;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_append_buf(struct buf *b, const struct buf *src)
{
    if (src->failed) {
        b->failed = 1;
        return ERR_NOMEM;
    }
    return buf_append(b, src->data ? src->data : "", src->len);
}

/* A NULL string is what a failed allocation leaves behind (str_dup, a failed scratch buffer's
 * data): appending one fails b, so the failure reaches whoever checks b. */
static int null_fails(struct buf *b)
{
    b->failed = 1;
    return ERR_NOMEM;
}

int buf_puts(struct buf *b, const char *s)
{
    if (!s) return null_fails(b);
    return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
    if (buf_reserve(b, 1)) return ERR_NOMEM;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0) { /* an encoding error: the text is incomplete just the same */
        b->failed = 1;
        return ERR_INTERNAL;
    }
    if ((size_t)n < sizeof small) return buf_append(b, small, (size_t)n);
    if (buf_reserve(b, (size_t)n)) return ERR_NOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_put_double(struct buf *b, double v, int decimals)
{
    char tmp[64];
    if (!isfinite(v)) return buf_puts(b, "null");
    if (decimals < 0) decimals = 0;
    if (decimals > 15) decimals = 15;
    int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    if (n <= 0 || (size_t)n >= sizeof tmp) {
        n = snprintf(tmp, sizeof tmp, "%.17g", v);
    } else if (strchr(tmp, '.')) {
        while (n > 0 && tmp[n - 1] == '0')
            n--;
        if (n > 0 && tmp[n - 1] == '.') n--;
        tmp[n] = '\0';
    }
    if (strcmp(tmp, "-0") == 0) return buf_puts(b, "0");
    return buf_append(b, tmp, (size_t)n);
}

int buf_put_json_str(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) return null_fails(b);
    if (buf_reserve(b, strlen(s) + 2)) return ERR_NOMEM;
    buf_putc(b, '"');
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\') continue;
        if (buf_append(b, run, (size_t)((const char *)p - run))) return ERR_NOMEM;
        char esc[7];
        switch (*p) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        default:
            esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15], esc[6] = 0;
            buf_puts(b, esc);
        }
        run = (const char *)p + 1;
    }
    if (buf_puts(b, run)) return ERR_NOMEM;
    return buf_putc(b, '"');
}

int buf_put_xml(struct buf *b, const char *s)
{
    if (!s) return null_fails(b);
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') rep = "";
        }
        if (!rep) continue;
        if (buf_append(b, run, (size_t)(p - run)) || buf_puts(b, rep)) return ERR_NOMEM;
        run = p + 1;
    }
    return buf_puts(b, run);
}

char *buf_take(struct buf *b, size_t *len)
{
    if (len) *len = 0;
    if (b->failed || (!b->data && buf_reserve(b, 0))) {
        buf_fini(b);
        return NULL;
    }
    char *d = b->data;
    if (len) *len = b->len;
    buf_init(b);
    return d;
}
