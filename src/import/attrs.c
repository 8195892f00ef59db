/* SPDX-License-Identifier: MIT */
/* attrs.c: attribute values into catalog types and codes: Vietnamese number formats ("1.234,5"),
 * dates (dd/mm/yyyy), booleans (có/không), and codes through the code lists: the code itself, its
 * Vietnamese or English name with or without diacritics, Circular 27/2018 codes through the
 * crosswalk to Circular 08/2024, and multi-purpose values ("ODT+CLN"). Unknown codes are returned
 * as such for the report; nothing is dropped silently. */
#include "import_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *trim(const char *s, size_t *len)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

int attr_parse_number(const char *s, double *out)
{
    size_t n;
    s = trim(s, &n);
    if (!n || n > 62) return ERR_PARAM;
    char tmp[64];
    int dots = 0, commas = 0;
    const char *last_dot = NULL, *last_comma = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') dots++, last_dot = s + i;
        if (s[i] == ',') commas++, last_comma = s + i;
    }
    /* the separator that comes last (or the only one) is the decimal mark; a repeated one groups
     * thousands: "1.234,5" and "1,234.5" are 1234.5, "1.234.567" is 1234567 */
    char dec = 0;
    if (dots && commas)
        dec = last_dot > last_comma ? '.' : ',';
    else if (dots == 1)
        dec = '.';
    else if (commas == 1)
        dec = ',';
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.' || c == ',') {
            if (c == dec) tmp[k++] = '.';
            continue;
        }
        if (c == ' ' || c == '\'') continue;
        tmp[k++] = c;
    }
    tmp[k] = 0;
    char *end;
    double v = strtod(tmp, &end);
    if (end == tmp || *end || !isfinite(v)) return ERR_PARAM;
    *out = v;
    return 0;
}

static int valid_ymd(int y, int m, int d)
{
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1800 || y > 2200 || m < 1 || m > 12 || d < 1 || d > days[m - 1]) return 0;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 0;
    return 1;
}

int attr_parse_date(const char *s, char out[11])
{
    size_t n;
    s = trim(s, &n);
    int a, b, c, len = 0;
    char s1, s2;
    char tmp[32];
    if (n >= sizeof tmp) n = sizeof tmp - 1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (sscanf(tmp, "%d%c%d%c%d%n", &a, &s1, &b, &s2, &c, &len) != 5 || s1 != s2 ||
        !strchr("-/.", s1))
        return ERR_PARAM;
    if (tmp[len] && tmp[len] != 'T' && tmp[len] != ' ') return ERR_PARAM;
    int y, m, d;
    if (a > 31)
        y = a, m = b, d = c; /* 2022/02/28 */
    else
        y = c, m = b, d = a; /* 28/02/2022: Vietnamese order */
    if (!valid_ymd(y, m, d)) return ERR_PARAM;
    snprintf(out, 11, "%04d-%02d-%02d", y % 10000, (m % 100 + 100) % 100, (d % 100 + 100) % 100);
    return 0;
}

int attr_parse_bool(const char *s, int *out)
{
    char *f = text_fold(s);
    if (!f) return ERR_NOMEM;
    static const char *const yes[] = {"1", "true", "t", "yes", "y", "co", "x", "da", "dacap", NULL};
    static const char *const no[] = {"0",     "false", "f",    "no",      "n",
                                     "khong", "k",     "chua", "chuacap", NULL};
    int rc = ERR_PARAM;
    for (int i = 0; yes[i]; i++)
        if (strcmp(f, yes[i]) == 0) *out = 1, rc = 0;
    for (int i = 0; no[i]; i++)
        if (strcmp(f, no[i]) == 0) *out = 0, rc = 0;
    free(f);
    return rc;
}

static const char *newest_scheme(const struct codelist *cl, const char *code, int *only_old)
{
    const char *found = NULL;
    *only_old = 0;
    int any_new = 0, any = 0;
    for (int i = 0; i < cl->n_codes; i++) {
        const struct code_def *c = &cl->codes[i];
        if (!str_ieq(c->code, code)) continue;
        any = 1;
        found = c->code;
        if (!c->scheme || strcmp(c->scheme, "TT27_2018") != 0) any_new = 1;
    }
    *only_old = any && !any_new;
    return found;
}

/* One code: exact, crosswalked or by name. Returns the catalog's spelling, or NULL. */
static const char *one_code(const struct codelist *cl, const char *v, char *how, size_t n)
{
    int only_old;
    const char *c = newest_scheme(cl, v, &only_old);
    if (!c) {
        char *fv = text_fold(v);
        for (int i = 0; fv && *fv && i < cl->n_codes && !c; i++) {
            char *fn = text_fold(cl->codes[i].name_vi);
            char *fe = text_fold(cl->codes[i].name_en);
            if ((fn && strcmp(fn, fv) == 0) || (fe && strcmp(fe, fv) == 0)) c = cl->codes[i].code;
            free(fn), free(fe);
        }
        free(fv);
        if (!c) return NULL;
        snprintf(how, n, "name");
        newest_scheme(cl, c, &only_old);
    } else {
        snprintf(how, n, "code");
    }
    if (only_old)
        for (int i = 0; i < cl->n_crosswalk; i++)
            if (str_ieq(cl->crosswalk[i].from, c)) {
                snprintf(how, n, "crosswalk %s->%s", c, cl->crosswalk[i].to);
                return cl->crosswalk[i].to;
            }
    return c;
}

int attr_code(const struct field_def *fd, const char *v, struct buf *out, char *how, size_t how_n,
              char *unknown, size_t unknown_n)
{
    how[0] = unknown[0] = 0;
    size_t len;
    v = trim(v, &len);
    if (!fd->multi) {
        char *tmp = str_ndup(v, len);
        const char *c = tmp ? one_code(fd->codelist, tmp, how, how_n) : NULL;
        if (c)
            buf_puts(out, c);
        else
            snprintf(unknown, unknown_n, "%s", tmp ? tmp : "");
        free(tmp);
        return c ? 0 : 1;
    }
    /* several purposes: ODT+CLN, "ODT, CLN", ODT;CLN */
    int n_unknown = 0, n_out = 0;
    const char *p = v, *end = v + len;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '+' && *q != ',' && *q != ';')
            q++;
        size_t tl;
        char *part = str_ndup(p, (size_t)(q - p));
        const char *t = part ? trim(part, &tl) : "";
        char *tok = str_ndup(t, part ? tl : 0);
        if (tok && *tok) {
            char h[64];
            const char *c = one_code(fd->codelist, tok, h, sizeof h);
            if (c) {
                if (n_out++) buf_putc(out, '+');
                buf_puts(out, c);
                if (strcmp(h, "code") != 0 || !how[0]) snprintf(how, how_n, "%s", h);
            } else {
                size_t u = strlen(unknown);
                snprintf(unknown + u, unknown_n - u, "%s%s", n_unknown ? "+" : "", tok);
                n_unknown++;
            }
        }
        free(tok), free(part);
        p = q < end ? q + 1 : end;
    }
    return n_unknown ? 1 : 0;
}
