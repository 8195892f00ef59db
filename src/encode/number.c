/* SPDX-License-Identifier: MIT */
/* number.c: numbers and field values for every format. The fixed-point printer is the writers'
 * hot path (printf dominated their profile); the exact printer keeps printf's correctly rounded
 * %.*f for the outputs whose bytes were defined by it (the land API, GetFeatureInfo). Values are
 * typed by their catalog field: a boolean is stored as an integer and written true/false. */
#include "encode_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_tab[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

char *encode_fixed_at(char *p, double v, int dec)
{
    if (dec < 0) dec = 0;
    if (dec > 9) dec = 9;
    double scaled = v * pow10_tab[dec];
    if (!isfinite(v) || fabs(scaled) >= 9e15) {
        int n = isfinite(v) ? snprintf(p, 40, "%.*g", 17, v) : snprintf(p, 40, "null");
        return p + (n > 0 ? n : 0);
    }
    long long n = (long long)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    if (n < 0) {
        *p++ = '-';
        n = -n;
    }
    unsigned long long p10 = (unsigned long long)pow10_tab[dec];
    unsigned long long ip = (unsigned long long)n / p10, fp = (unsigned long long)n % p10;
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (k)
        *p++ = tmp[--k];
    if (fp) {
        int d = dec;
        while (fp % 10 == 0)
            fp /= 10, d--;
        *p++ = '.';
        char *end = p + d;
        for (char *q = end - 1; q >= p; q--) {
            *q = (char)('0' + fp % 10);
            fp /= 10;
        }
        p = end;
    }
    return p;
}

char *encode_exact_at(char *p, double v, int dec)
{
    char tmp[64];
    if (!isfinite(v)) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    if (dec < 0) dec = 0;
    if (dec > 15) dec = 15;
    int n = snprintf(tmp, sizeof tmp, "%.*f", dec, v);
    if (n <= 0 || (size_t)n >= sizeof tmp) {
        n = snprintf(tmp, sizeof tmp, "%.17g", v);
        if (n < 0) n = 0;
    } else if (memchr(tmp, '.', (size_t)n)) {
        while (n > 0 && tmp[n - 1] == '0')
            n--;
        if (n > 0 && tmp[n - 1] == '.') n--;
    }
    if (n == 2 && tmp[0] == '-' && tmp[1] == '0') {
        *p = '0';
        return p + 1;
    }
    memcpy(p, tmp, (size_t)n);
    return p + n;
}

int encode_number(struct buf *b, double v, int decimals)
{
    if (buf_reserve(b, ENCODE_NUM_ROOM)) return ERR_NOMEM;
    char *end = encode_fixed_at(b->data + b->len, v, decimals);
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int encode_number_exact(struct buf *b, double v, int decimals)
{
    if (buf_reserve(b, ENCODE_NUM_ROOM)) return ERR_NOMEM;
    char *end = encode_exact_at(b->data + b->len, v, decimals);
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int encode_int(struct buf *b, long long v)
{
    if (buf_reserve(b, 24)) return ERR_NOMEM;
    char tmp[24], *p = b->data + b->len;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int k = 0;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *p++ = '-';
    while (k)
        *p++ = tmp[--k];
    b->len = (size_t)(p - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* A real with 15 significant digits (like %.15g) through the fixed-point printer where the
 * magnitude allows, printf otherwise. */
static int put_real(struct buf *b, double v)
{
    double a = fabs(v);
    if (!isfinite(v)) return buf_puts(b, "null");
    if (v != 0 && (a < 1e-3 || a >= 1e15)) return buf_printf(b, "%.15g", v);
    int digits = 1;
    for (double t = 10; t <= a && digits < 16; t *= 10)
        digits++;
    int dec = 15 - digits;
    return encode_number(b, v, dec < 0 ? 0 : dec > 9 ? 9 : dec);
}

int encode_json_value(struct buf *b, const struct field_def *fd, const struct value *v)
{
    switch (v->type) {
    case VAL_NULL:
        return buf_puts(b, "null");
    case VAL_INT:
        if (fd && fd->type == FT_BOOLEAN) return buf_puts(b, v->i ? "true" : "false");
        return encode_int(b, (long long)v->i);
    case VAL_REAL:
        return put_real(b, v->d);
    case VAL_TEXT:
        return buf_put_json_str(b, v->s);
    default:
        return buf_puts(b, "null");
    }
}

int encode_json_value_rounded(struct buf *b, const struct field_def *fd, const struct value *v,
                              int decimals)
{
    if (v->type == VAL_REAL) return encode_number_exact(b, v->d, decimals);
    return encode_json_value(b, fd, v);
}

int encode_xml_value(struct buf *b, const struct field_def *fd, const struct value *v)
{
    switch (v->type) {
    case VAL_INT:
        if (fd && fd->type == FT_BOOLEAN) return buf_puts(b, v->i ? "true" : "false");
        return encode_int(b, (long long)v->i);
    case VAL_REAL:
        return put_real(b, v->d);
    case VAL_TEXT:
        return buf_put_xml(b, v->s);
    default:
        return 0;
    }
}

int encode_json_code_name(struct buf *b, const struct codelist *cl, const char *code,
                          const char *scheme)
{
    const struct code_def *c = cl && code ? codelist_find(cl, code, scheme) : NULL;
    if (!c && cl && code && scheme) c = codelist_find(cl, code, NULL);
    if (!c) return buf_puts(b, "null");
    int rc = buf_puts(b, "{\"vi\":");
    if (!rc) rc = buf_put_json_str(b, c->name_vi ? c->name_vi : "");
    if (!rc) rc = buf_puts(b, ",\"en\":");
    if (!rc) rc = buf_put_json_str(b, c->name_en ? c->name_en : "");
    if (!rc) rc = buf_putc(b, '}');
    return rc;
}

/* "[{"code":..,"name":{..}},...]" for "ODT+CLN". */
static int put_multi_codes(struct buf *b, const struct codelist *cl, const char *codes,
                           const char *scheme)
{
    int rc = buf_putc(b, '[');
    const char *p = codes;
    for (int n = 0; *p && !rc; n++) {
        const char *plus = strchr(p, '+');
        size_t len = plus ? (size_t)(plus - p) : strlen(p);
        /* whole: a value the code list does not know is stored as the source wrote it, of any
         * length (a cut would split a UTF-8 letter) */
        char *code = str_ndup(p, len);
        if (!code) return ERR_NOMEM;
        if (n) rc = buf_putc(b, ',');
        if (!rc) rc = buf_puts(b, "{\"code\":");
        if (!rc) rc = buf_put_json_str(b, code);
        if (!rc) rc = buf_puts(b, ",\"name\":");
        if (!rc) rc = encode_json_code_name(b, cl, code, scheme);
        if (!rc) rc = buf_putc(b, '}');
        free(code);
        p = plus ? plus + 1 : p + len;
    }
    return rc ? rc : buf_putc(b, ']');
}

int encode_json_props(struct buf *b, const struct layer_def *l, const int *fields,
                      const struct value *values, int n, const char *scheme, int *first)
{
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const struct field_def *fd = &l->fields[fields[i]];
        const struct value *v = &values[i];
        if (!*first) rc = buf_putc(b, ',');
        if (!rc) rc = buf_put_json_str(b, fd->name);
        if (!rc) rc = buf_putc(b, ':');
        if (!rc) rc = encode_json_value_rounded(b, fd, v, 6);
        *first = 0;
        if (rc || !fd->codelist || v->type != VAL_TEXT) continue;
        rc = encode_cat(b, ",\"", fd->name, fd->multi ? "_codes\":" : "_name\":", NULL);
        if (!rc)
            rc = fd->multi ? put_multi_codes(b, fd->codelist, v->s, scheme)
                           : encode_json_code_name(b, fd->codelist, v->s, scheme);
    }
    return rc ? ERR_NOMEM : 0;
}

int encode_cat(struct buf *b, ...)
{
    va_list ap;
    va_start(ap, b);
    int rc = 0;
    for (const char *s = va_arg(ap, const char *); s && !rc; s = va_arg(ap, const char *))
        rc = buf_puts(b, s);
    va_end(ap);
    return rc;
}

int encode_nomem(int rc, struct err *err)
{
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}
