/* SPDX-License-Identifier: MIT */
/* str.c: small string helpers (parsing numbers strictly, URL decoding, reading files). */
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *str_dup(const char *s)
{
    return s ? str_ndup(s, strlen(s)) : NULL;
}

char *str_ndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int str_ieq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

int str_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int str_to_double(const char *s, double *out)
{
    if (!s) return -1;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s) return -1;
    /* decimal numbers only: strtod would also take "inf", "nan" and C hex floats ("0x1p3"),
     * which no request, file or setting means as a number */
    const char *digits = s + (*s == '-' || *s == '+');
    if (!(isdigit((unsigned char)*digits) || *digits == '.') ||
        (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno == ERANGE || end == s) return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end) return -1;
    if (v != v) return -1; /* NaN */
    *out = v;
    return 0;
}

int str_to_long(const char *s, long *out)
{
    if (!s) return -1;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE || end == s) return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end) return -1;
    *out = v;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int str_url_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%') {
            int h = hexval((unsigned char)r[1]), l = h < 0 ? -1 : hexval((unsigned char)r[2]);
            if (h < 0 || l < 0) return -1;
            int c = h * 16 + l;
            if (c == 0) return -1;
            *w++ = (char)c;
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return 0;
}

char *str_read_file(const char *path, size_t *len, struct err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(&b, chunk, n)) {
            fclose(f);
            buf_fini(&b);
            err_set(err, ERR_NOMEM, "%s: out of memory", path);
            return NULL;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        buf_fini(&b);
        err_set(err, ERR_IO, "%s: read error", path);
        return NULL;
    }
    return buf_take(&b, len);
}
