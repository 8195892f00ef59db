/* SPDX-License-Identifier: MIT */
/* attrs.c: attribute values into catalog types and codes: Vietnamese number formats ("1.234,5"),
 * dates (dd/mm/yyyy), booleans (có/không), and codes through the code lists: the code itself, its
 * Vietnamese or English name with or without diacritics, Circular 27/2018 codes through the
 * crosswalk to Circular 08/2024, and multi-purpose values ("ODT+CLN"), the whole value before any
 * split. Unknown codes are kept as the source wrote them and returned for the report; nothing is
 * dropped silently. Numbers take the decimal mark of their column (attr_number_evidence). */
#include "import_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proj.h>

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

/* The separators of one number: counts, last positions, and whether the text is only digits,
 * separators, blanks, a sign and an exponent. */
struct numshape {
    int dots, commas, ok;
    const char *last_dot, *last_comma;
};

static void num_shape(const char *s, size_t n, struct numshape *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->ok = n > 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') sh->dots++, sh->last_dot = s + i;
        if (c == ',') sh->commas++, sh->last_comma = s + i;
        if (!isdigit((unsigned char)c) && !strchr(".,+- 'eE", c)) sh->ok = 0;
    }
}

/* 1 if every sep in s[0..n) is followed by exactly three digits and the first group has 1-3. */
static int groups_ok(const char *s, size_t n, char sep)
{
    int digits = 0, first = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (isdigit((unsigned char)c)) {
            digits++;
        } else if (c == sep) {
            if (first ? digits < 1 || digits > 3 : digits != 3) return 0;
            first = 0, digits = 0;
        } else if (c == '.' || c == ',' || c == 'e' || c == 'E') {
            break; /* the decimal part */
        } else if (c != '+' && c != '-' && c != ' ') {
            return 0;
        }
    }
    return first || digits == 3;
}

int attr_number_evidence(const char *s)
{
    size_t n;
    s = trim(s, &n);
    struct numshape sh;
    num_shape(s, n, &sh);
    if (!sh.ok || (!sh.dots && !sh.commas)) return NUMEV_NONE;
    if (sh.dots && sh.commas) return sh.last_dot > sh.last_comma ? NUMEV_DOT : NUMEV_COMMA;
    char sep = sh.dots ? '.' : ',';
    int count = sh.dots ? sh.dots : sh.commas;
    const char *last = sh.dots ? sh.last_dot : sh.last_comma;
    if (count > 1)
        return groups_ok(s, n, sep) ? (sep == '.' ? NUMEV_COMMA : NUMEV_DOT) : NUMEV_NONE;
    /* one separator: three digits after it and a 1-3 digit group before could be either */
    size_t after = 0;
    while (last + 1 + after < s + n && isdigit((unsigned char)last[1 + after]))
        after++;
    const char *d0 = s + strspn(s, "+- ");
    if (after == 3 && last + 4 == s + n && groups_ok(s, n, sep) && *d0 != '0') return NUMEV_AMBIG;
    return sep == '.' ? NUMEV_DOT : NUMEV_COMMA;
}

/* Writes s without its thousands separators and with '.' as the decimal mark into tmp. */
/* Spaces and apostrophes group thousands only: "1 234 567", "1'234" ("10 02 15.3" is three
 * numbers, not 100215.3): between digits, the group before the first is 1-3 digits long and
 * each group after one is 3. */
static int space_groups_ok(const char *s, size_t n)
{
    int run = 0, seps = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (isdigit((unsigned char)c)) {
            run++;
        } else if ((c == ' ' || c == '\'') && run > 0 && i + 1 < n &&
                   isdigit((unsigned char)s[i + 1])) {
            if (seps ? run != 3 : run > 3) return 0;
            seps++, run = 0;
        } else {
            if (seps && run != 3) return 0; /* the decimal part or the end closes the last */
            if (c == '.' || c == ',' || c == 'e' || c == 'E') return 1;
            seps = seps && (c == ' ' || c == '\''), run = 0;
        }
    }
    return !seps || run == 3;
}

static int to_c_number(const char *s, size_t n, char dec, char *tmp, double *out)
{
    if (!space_groups_ok(s, n)) return ERR_PARAM;
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

int attr_parse_number_dec(const char *s, char dec, double *out)
{
    size_t n;
    s = trim(s, &n);
    if (!n || n > 62) return ERR_PARAM;
    char tmp[64];
    struct numshape sh;
    num_shape(s, n, &sh);
    if (dec == '.' || dec == ',') {
        /* the column's decimal mark: the other separator groups thousands, nothing else */
        char th = dec == '.' ? ',' : '.';
        int n_dec = dec == '.' ? sh.dots : sh.commas;
        const char *last_dec = dec == '.' ? sh.last_dot : sh.last_comma;
        const char *last_th = dec == '.' ? sh.last_comma : sh.last_dot;
        int fits =
            n_dec <= 1 && groups_ok(s, n, th) && (!last_dec || !last_th || last_th < last_dec);
        if (fits) return to_c_number(s, n, dec, tmp, out);
        return attr_parse_number(s, out) ? ERR_PARAM : 1;
    }
    return attr_parse_number(s, out);
}

void numcol_add(struct numcol *c, const char *v)
{
    switch (attr_number_evidence(v)) {
    case NUMEV_DOT:
        c->dot++;
        break;
    case NUMEV_COMMA:
        c->comma++;
        break;
    case NUMEV_AMBIG:
        if (strchr(v, '.'))
            c->amb_dot++;
        else
            c->amb_comma++;
        break;
    default:
        break;
    }
}

int numcol_decide(struct numcol *c, int integer, char hint, char *why, size_t wn)
{
    why[0] = 0;
    c->ambiguous = c->mixed = 0;
    if (c->dot && c->comma) {
        c->dec = c->dot >= c->comma ? '.' : ',';
        c->mixed = 1;
        snprintf(why, wn,
                 "%ld values have '.' and %ld have ',' as the decimal mark: read with '%c' (the "
                 "majority); the others are read value by value",
                 c->dot, c->comma, c->dec);
        return 1;
    }
    if (c->dot || c->comma) {
        c->dec = c->dot ? '.' : ',';
        snprintf(why, wn, "%ld values show '%c' as the decimal mark%s", c->dot + c->comma, c->dec,
                 c->amb_dot + c->amb_comma ? ", so the other separator groups thousands" : "");
        return 0;
    }
    c->dec = 0;
    if (!c->amb_dot && !c->amb_comma) return 0;
    if (integer || (c->amb_dot && c->amb_comma)) {
        /* whole numbers, or "2.099" beside "2,099": only a thousands reading fits both */
        c->dec = c->amb_dot && !c->amb_comma ? ',' : c->amb_comma && !c->amb_dot ? '.' : 0;
        if (c->dec) {
            snprintf(why, wn, "whole numbers: '%c' groups thousands", c->dec == ',' ? '.' : ',');
            return 0;
        }
        c->mixed = 1;
        snprintf(why, wn,
                 "values like 2.099 and 2,099 in one column of whole numbers: read value "
                 "by value");
        return 1;
    }
    if (hint == '.' || hint == ',') {
        /* one file, one writer: its other number columns show the mark */
        c->dec = hint;
        snprintf(why, wn,
                 "%ld values such as 2%c099 could be thousands or decimals; the source's other "
                 "number columns use '%c' as the decimal mark",
                 c->amb_dot + c->amb_comma, c->amb_dot ? '.' : ',', hint);
        return 0;
    }
    c->ambiguous = 1;
    snprintf(why, wn,
             "%ld values such as 2%c099 could be thousands or decimals and no value shows the "
             "decimal mark: read with '%c' as the decimal mark (pin it with the manifest's "
             "\"values\" or fix the source)",
             c->amb_dot + c->amb_comma, c->amb_dot ? '.' : ',', c->amb_dot ? '.' : ',');
    return 1;
}

int attr_parse_number(const char *s, double *out)
{
    size_t n;
    s = trim(s, &n);
    if (!n || n > 62) return ERR_PARAM;
    char tmp[64];
    struct numshape sh;
    num_shape(s, n, &sh);
    /* the separator that comes last (or the only one) is the decimal mark; a repeated one groups
     * thousands: "1.234,5" and "1,234.5" are 1234.5, "1.234.567" is 1234567 */
    char dec = 0;
    if (sh.dots && sh.commas)
        dec = sh.last_dot > sh.last_comma ? '.' : ',';
    else if (sh.dots == 1)
        dec = '.';
    else if (sh.commas == 1)
        dec = ',';
    return to_c_number(s, n, dec, tmp, out);
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

static int folded_eq(const char *s, const char *fv)
{
    char *f = text_fold(s);
    int eq = f && strcmp(f, fv) == 0;
    free(f);
    return eq;
}

/* One whole value: the code (case-insensitive, or folded: "Cao toc" for cao_toc), its Vietnamese
 * or English name with or without diacritics, or one of its aliases; an old code (Circular
 * 27/2018 only) goes through the crosswalk. Returns the catalog's spelling, or NULL. */
static const char *one_code(const struct codelist *cl, const char *v, char *how, size_t n)
{
    int only_old;
    const char *c = newest_scheme(cl, v, &only_old);
    if (!c) {
        char *fv = text_fold(v);
        const char *kind = "name";
        for (int i = 0; fv && *fv && i < cl->n_codes && !c; i++) {
            const struct code_def *d = &cl->codes[i];
            if (folded_eq(d->name_vi, fv) || folded_eq(d->name_en, fv)) c = d->code;
            for (int a = 0; !c && a < d->n_aliases; a++)
                if (folded_eq(d->aliases[a], fv)) c = d->code, kind = "alias";
            if (!c && folded_eq(d->code, fv)) c = d->code, kind = "code";
        }
        free(fv);
        if (!c) return NULL;
        snprintf(how, n, "%s", kind);
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

struct codes_out {
    struct buf *out;
    int n_out, n_unknown;
    char *how, *unknown;
    size_t how_n, unknown_n;
};

static void put_code(struct codes_out *o, const char *c, const char *h)
{
    if (o->n_out++) buf_putc(o->out, '+');
    buf_puts(o->out, c);
    if (strcmp(h, "code") != 0 || !o->how[0]) snprintf(o->how, o->how_n, "%s", h);
}

static void put_unknown(struct codes_out *o, const char *v, size_t len)
{
    size_t u = strlen(o->unknown);
    snprintf(o->unknown + u, o->unknown_n - u, "%s%.*s", o->n_unknown++ ? "+" : "", (int)len, v);
    text_utf8_clip(o->unknown);
}

/* One part of a multi-purpose value (between '+', ';' or '/'): the whole part, else its comma
 * pieces, joined greedily so that a name with commas ("Đất thương mại, dịch vụ") stays one code:
 * from each piece, the longest run of pieces that is a known value. */
static void comma_part(const struct codelist *cl, const char *p, size_t len, struct codes_out *o)
{
    int cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += p[i] == ',';
    const char **piece = malloc((size_t)cap * sizeof *piece);
    size_t *plen = malloc((size_t)cap * sizeof *plen);
    int n = 0;
    if (!piece || !plen) { /* out of memory: the part stays unknown, as written */
        put_unknown(o, p, len);
        free(piece), free(plen);
        return;
    }
    for (const char *q = p, *end = p + len; q <= end && n < cap;) {
        const char *c = q;
        while (c < end && *c != ',')
            c++;
        size_t tl;
        char *tmp = str_ndup(q, (size_t)(c - q));
        const char *t = tmp ? trim(tmp, &tl) : "";
        if (tmp && tl) piece[n] = q + (t - tmp), plen[n++] = tl;
        free(tmp);
        q = c + 1;
    }
    for (int i = 0; i < n;) {
        int took = 0;
        for (int j = n - 1; j >= i && !took; j--) {
            char *run = str_ndup(piece[i], (size_t)(piece[j] + plen[j] - piece[i]));
            char h[64];
            const char *c = run ? one_code(cl, run, h, sizeof h) : NULL;
            if (c) put_code(o, c, h), took = j - i + 1;
            free(run);
        }
        if (!took) put_unknown(o, piece[i], plen[i]), took = 1;
        i += took;
    }
    free(piece), free(plen);
}

int attr_code(const struct field_def *fd, const char *v, struct buf *out, char *how, size_t how_n,
              char *unknown, size_t unknown_n)
{
    how[0] = unknown[0] = 0;
    size_t len;
    v = trim(v, &len);
    char *whole = str_ndup(v, len);
    if (!whole) return ERR_NOMEM;
    size_t mark = out->len;
    /* the whole value first: a name may hold any separator */
    const char *c = one_code(fd->codelist, whole, how, how_n);
    if (c) {
        buf_puts(out, c);
        free(whole);
        return 0;
    }
    struct codes_out o = {out, 0, 0, how, unknown, how_n, unknown_n};
    if (fd->multi) { /* several purposes: ODT+CLN, ODT;CLN, ODT/CLN, "ODT, CLN" */
        const char *p = whole, *end = whole + len;
        while (p < end) {
            const char *q = p;
            while (q < end && *q != '+' && *q != ';' && *q != '/')
                q++;
            if (q > p) comma_part(fd->codelist, p, (size_t)(q - p), &o);
            p = q + 1;
        }
    } else {
        put_unknown(&o, whole, len);
    }
    if (o.n_unknown || !o.n_out) {
        /* an unknown value is kept as the source wrote it (trimmed), never dropped */
        out->len = mark;
        if (out->data) out->data[mark] = 0;
        buf_puts(out, whole);
        if (!unknown[0] || !o.n_out) snprintf(unknown, unknown_n, "%s", whole);
        text_utf8_clip(unknown);
        how[0] = 0;
    }
    free(whole);
    return o.n_unknown || !o.n_out ? 1 : 0;
}

/* ---- angles in degrees, minutes and seconds ---- */

/* Appends the bytes of one normalised character for attr_parse_dms: PROJ's proj_dmstor reads
 * 'd' (or the degree sign), '\'' and '"' after numbers with a '.' decimal mark. */
static int dms_put(char *out, size_t *n, size_t cap, char c)
{
    if (*n + 1 >= cap) return -1;
    out[(*n)++] = c;
    return 0;
}

int attr_parse_dms(const char *s, double *deg)
{
    char t[96];
    size_t n = 0;
    char hemi = 0;
    int parts = 0, in_num = 0, marks = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int c = *p, len = 1;
        char put = 0;
        if (isdigit(c)) {
            put = (char)c;
            if (!in_num) parts++;
            in_num = 1;
        } else if ((c == '.' || c == ',') && in_num && isdigit(p[1])) {
            put = '.';
        } else if (c == 0xC2 && (p[1] == 0xB0 || p[1] == 0xBA)) { /* ° º */
            put = 'd', len = 2, marks++;
        } else if (c == 0xE2 && p[1] == 0x80 && (p[2] == 0xB2 || p[2] == 0x99)) { /* ′ ’ */
            put = '\'', len = 3, marks++;
        } else if (c == 0xE2 && p[1] == 0x80 && (p[2] == 0xB3 || p[2] == 0x9D)) { /* ″ ” */
            put = '"', len = 3, marks++;
        } else if (c == '\'' && p[1] == '\'') {
            put = '"', len = 2, marks++;
        } else if (c == 'd' || c == 'D' || c == '\'' || c == '"' || c == 'm' || c == 's') {
            put = c == 'D' ? 'd' : c == 'm' ? '\'' : c == 's' ? '"' : (char)c;
            if (c == 's' && !in_num) return ERR_PARAM;
            marks++;
        } else if (strchr("NSEWnew", c) && !hemi) { /* 's' is seconds, 'S' south */
            hemi = (char)toupper(c);
            in_num = 0;
            p += len;
            continue;
        } else if (c == ' ' || c == '\t') {
            /* "10 02 15.3": a space between two numbers separates the parts */
            if (in_num) {
                const unsigned char *q = p;
                while (*q == ' ' || *q == '\t')
                    q++;
                if (isdigit(*q)) put = parts == 1 ? 'd' : parts == 2 ? '\'' : 0;
                if (isdigit(*q) && !put) return ERR_PARAM;
                if (put) marks++;
            }
            in_num = 0;
            if (!put) {
                p += len;
                continue;
            }
        } else {
            return ERR_PARAM;
        }
        if (put != '.' && !isdigit((unsigned char)put)) in_num = 0;
        if (dms_put(t, &n, sizeof t, put)) return ERR_PARAM;
        p += len;
    }
    if (!marks || parts < 1 || parts > 3) return ERR_PARAM;   /* a plain number is not an angle */
    if (n && isdigit((unsigned char)t[n - 1]) && parts > 1 && /* "10 02 15.3": its last unit */
        dms_put(t, &n, sizeof t, parts == 2 ? '\'' : '"'))
        return ERR_PARAM;
    /* minutes and seconds below 60 */
    double part[3] = {0, 0, 0};
    int k = 0;
    for (size_t i = 0; i < n && k < 3;) {
        if (!isdigit((unsigned char)t[i])) {
            i++;
            continue;
        }
        char *end;
        part[k++] = strtod(t + i, &end);
        i = (size_t)(end - t);
    }
    if ((k > 1 && part[1] >= 60) || (k > 2 && part[2] >= 60)) return ERR_PARAM;
    if (hemi && dms_put(t, &n, sizeof t, hemi)) return ERR_PARAM;
    t[n] = 0;
    char *rest = NULL;
    double r = proj_dmstor(t, &rest);
    if (!rest || *rest || rest == t || !isfinite(r) || r == HUGE_VAL) return ERR_PARAM;
    *deg = r * 180.0 / M_PI;
    return 0;
}
