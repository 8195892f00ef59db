/* SPDX-License-Identifier: MIT */
/* text.c: Vietnamese text from the encodings real GIS files carry (DOMAIN.md 2): decoding of
 * TCVN3, VNI-Windows, CP1258, VIQR, decomposed and double-encoded Unicode with our own tables
 * (vn_tables.c; glibc's iconv drops the last character of CP1258/TCVN3 strings), NFC via
 * utf8proc, and per-field detection by scoring how many tokens are valid Vietnamese syllables
 * under each candidate decoding (DOMAIN.md 2.4). Field reading is in source.c. */
#include "import_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- tables built once from vn_letters ---- */

struct shape {
    uint32_t cp;
    char base; /* a 1=ă 2=â e 3=ê i o 4=ô 5=ơ u 6=ư y D=đ */
    char tone; /* 0 none, 1 acute, 2 grave, 3 hook, 4 tilde, 5 dot */
    char upper;
};

static uint32_t tcvn3_map[256];     /* byte -> code point (0: not a letter byte) */
static uint16_t vni_pair[256][256]; /* base, mark -> letter index + 1 */
static uint16_t vni_single[256];    /* byte -> letter index + 1 */
static struct shape shapes[VN_N_LETTERS];
static int shape_by_cp[VN_N_LETTERS]; /* indexes into shapes, sorted by cp */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static int cmp_shape(const void *a, const void *b)
{
    uint32_t x = shapes[*(const int *)a].cp, y = shapes[*(const int *)b].cp;
    return x < y ? -1 : x > y;
}

static void shape_of(const struct vn_letter *l, struct shape *s)
{
    const char *v = l->viqr;
    s->cp = l->cp;
    s->upper = isupper((unsigned char)v[0]) != 0;
    char c = (char)tolower((unsigned char)v[0]);
    v++;
    s->base = c;
    s->tone = 0;
    if (c == 'd' && (*v == 'd' || *v == 'D')) s->base = 'D', v++;
    for (; *v; v++) {
        switch (*v) {
        case '^':
            s->base = c == 'a' ? '2' : c == 'e' ? '3' : '4';
            break;
        case '(':
            s->base = '1';
            break;
        case '+':
            s->base = c == 'o' ? '5' : '6';
            break;
        case '\'':
            s->tone = 1;
            break;
        case '`':
            s->tone = 2;
            break;
        case '?':
            s->tone = 3;
            break;
        case '~':
            s->tone = 4;
            break;
        case '.':
            s->tone = 5;
            break;
        default:
            break;
        }
    }
}

static void build_tables(void)
{
    /* uppercase first so that lowercase wins where TCVN3 shares one byte for both cases */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < VN_N_LETTERS; i++) {
            const struct vn_letter *l = &vn_letters[i];
            int lower = utf8proc_tolower((utf8proc_int32_t)l->cp) == (utf8proc_int32_t)l->cp;
            if (lower != pass) continue;
            if (l->n_tcvn3 == 1) tcvn3_map[l->tcvn3[0]] = l->cp;
            if (l->n_vni == 2)
                vni_pair[l->vni[0]][l->vni[1]] = (uint16_t)(i + 1);
            else
                vni_single[l->vni[0]] = (uint16_t)(i + 1);
        }
    for (int i = 0; i < VN_N_LETTERS; i++) {
        shape_of(&vn_letters[i], &shapes[i]);
        shape_by_cp[i] = i;
    }
    qsort(shape_by_cp, VN_N_LETTERS, sizeof(int), cmp_shape);
}

static void tables(void)
{
    pthread_once(&tables_once, build_tables);
}

static const struct shape *shape_find(uint32_t cp)
{
    int lo = 0, hi = VN_N_LETTERS - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const struct shape *s = &shapes[shape_by_cp[mid]];
        if (s->cp == cp) return s;
        if (s->cp < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* ---- names ---- */

static const char *const enc_names[ENC_N] = {
    "ASCII",  "UTF-8", "UTF-8 NFD", "UTF-8 double-encoded", "TCVN3", "VNI-Windows",
    "CP1258", "VIQR",  "CP1252"};

const char *text_enc_name(enum text_enc e)
{
    return e < ENC_N ? enc_names[e] : "?";
}

int text_enc_parse(const char *s, enum text_enc *out)
{
    static const struct {
        const char *name;
        enum text_enc e;
    } names[] = {{"ascii", ENC_ASCII},
                 {"utf-8", ENC_UTF8},
                 {"utf8", ENC_UTF8},
                 {"nfd", ENC_NFD},
                 {"utf-8 nfd", ENC_NFD},
                 {"tcvn3", ENC_TCVN3},
                 {"abc", ENC_TCVN3},
                 {"tcvn5712-1", ENC_TCVN3},
                 {"vni", ENC_VNI},
                 {"vni-windows", ENC_VNI},
                 {"vni-win", ENC_VNI},
                 {"cp1258", ENC_CP1258},
                 {"1258", ENC_CP1258},
                 {"windows-1258", ENC_CP1258},
                 {"viqr", ENC_VIQR},
                 {"cp1252", ENC_CP1252},
                 {"1252", ENC_CP1252},
                 {"latin1", ENC_CP1252},
                 {"double-utf-8", ENC_DOUBLE_UTF8},
                 {"utf-8 double-encoded", ENC_DOUBLE_UTF8}};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (s && strcasecmp(s, names[i].name) == 0) {
            *out = names[i].e;
            return 0;
        }
    return ERR_PARAM;
}

/* ---- UTF-8 helpers ---- */

int text_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, end - p, &cp);
        if (n <= 0) return 0;
        p += n;
    }
    return 1;
}

static int has_high(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80) return 1;
    return 0;
}

static int put_cp(struct buf *b, uint32_t cp)
{
    utf8proc_uint8_t tmp[4];
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)cp, tmp);
    return buf_append(b, tmp, (size_t)n);
}

/* Appends NFC of valid UTF-8 s to out. */
/* Precomposed Latin and Vietnamese text without combining marks is already NFC: the common case,
 * checked without utf8proc's allocation (code points below U+0300 or in U+1E00..U+1EFF). */
static int quick_nfc(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, end - p, &cp);
        if (n <= 0 || !(cp < 0x300 || (cp >= 0x1E00 && cp <= 0x1EFF))) return 0;
        p += n;
    }
    return 1;
}

static int put_nfc(struct buf *out, const char *s, size_t len)
{
    if (!has_high(s, len) || quick_nfc(s, len)) return buf_append(out, s, len);
    utf8proc_uint8_t *r = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &r,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0) return ERR_PARAM;
    int rc = buf_append(out, r, (size_t)n);
    free(r);
    return rc;
}

static int is_nfc(const char *s, size_t len)
{
    struct buf b;
    buf_init(&b);
    int same =
        put_nfc(&b, s, len) == 0 && b.len == len && memcmp(b.data ? b.data : "", s, len) == 0;
    buf_fini(&b);
    return same;
}

int text_back_to_cp1252(const char *s, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, end - p, &cp);
        if (n <= 0) return ERR_PARAM;
        p += n;
        int byte = -1;
        if (cp < 0x80 || (cp >= 0xA0 && cp <= 0xFF) || (cp >= 0x80 && cp <= 0x9F)) {
            byte = cp; /* Latin-1 (GDAL's ISO-8859-1 recoding keeps C1 controls) */
        } else {
            for (int i = 0; i < 32; i++)
                if (vn_cp1252_high[i] == cp) byte = 0x80 + i;
        }
        if (byte < 0) return ERR_PARAM;
        if (buf_putc(out, (char)byte)) return ERR_NOMEM;
    }
    return 0;
}

/* ---- legacy decoders: bytes -> code points ---- */

static int up_at(const uint32_t *cps, size_t len, long i)
{
    return i >= 0 && (size_t)i < len && utf8proc_isupper((utf8proc_int32_t)cps[i]);
}

static int letter_at(const uint32_t *cps, size_t len, long i)
{
    return i >= 0 && (size_t)i < len && utf8proc_category((utf8proc_int32_t)cps[i]) >= 1 &&
           utf8proc_category((utf8proc_int32_t)cps[i]) <= 5;
}

/* A lowercase TCVN3 letter inside an all-caps word: both neighbours uppercase, or two uppercase
 * letters on the one side and the word ends on the other ("HÀ" stays "Hà", "CẦN" is caps). */
static int tcvn3_caps(const uint32_t *cps, size_t len, size_t i)
{
    long k = (long)i;
    if (up_at(cps, len, k - 1) && up_at(cps, len, k + 1)) return 1;
    if (up_at(cps, len, k - 1) && up_at(cps, len, k - 2) && !letter_at(cps, len, k + 1)) return 1;
    return up_at(cps, len, k + 1) && up_at(cps, len, k + 2) && !letter_at(cps, len, k - 1);
}

static int dec_tcvn3(const unsigned char *p, size_t len, struct buf *out)
{
    /* TCVN3 has no uppercase toned letters (the .VnTimeH font draws capitals): a decoded
     * lowercase letter between uppercase letters is made uppercase (DOMAIN.md 2.1). */
    uint32_t *cps = malloc((len + 1) * sizeof *cps);
    char *from_high = malloc(len + 1);
    if (!cps || !from_high) {
        free(cps), free(from_high);
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        from_high[i] = p[i] >= 0x80 && tcvn3_map[p[i]];
        cps[i] = p[i] < 0x80       ? p[i]
                 : tcvn3_map[p[i]] ? tcvn3_map[p[i]]
                                   : vn_cp1252_high[p[i] - 0x80];
        if (!cps[i]) cps[i] = 0xFFFD;
    }
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        uint32_t cp = cps[i];
        if (from_high[i] && tcvn3_caps(cps, len, i))
            cp = (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp);
        rc = put_cp(out, cp);
    }
    free(cps);
    free(from_high);
    return rc;
}

static int dec_vni(const unsigned char *p, size_t len, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        uint16_t k = i + 1 < len ? vni_pair[p[i]][p[i + 1]] : 0;
        if (k) {
            rc = buf_puts(out, vn_letters[k - 1].utf8);
            i++;
        } else if (p[i] < 0x80) {
            rc = buf_putc(out, (char)p[i]);
        } else if ((k = vni_single[p[i]])) {
            rc = buf_puts(out, vn_letters[k - 1].utf8);
        } else {
            uint32_t cp = vn_cp1252_high[p[i] - 0x80];
            rc = put_cp(out, cp ? cp : 0xFFFD);
        }
    }
    return rc;
}

static int dec_8bit(const unsigned char *p, size_t len, const uint16_t *high, struct buf *out)
{
    struct buf tmp;
    buf_init(&tmp);
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        uint32_t cp = p[i] < 0x80 ? p[i] : high[p[i] - 0x80];
        rc = put_cp(&tmp, cp ? cp : 0xFFFD);
    }
    if (!rc) rc = put_nfc(out, tmp.data ? tmp.data : "", tmp.len);
    buf_fini(&tmp);
    return rc;
}

static int is_vowel_ascii(int c)
{
    return c && strchr("aeiouyAEIOUY", c) != NULL;
}

/* VIQR: a vowel followed by shape marks ^ ( + and a tone ' ` ? ~ . ; dd = đ; \ escapes. */
static int dec_viqr(const char *s, size_t len, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < len && !rc;) {
        if (s[i] == '\\' && i + 1 < len) {
            rc = buf_putc(out, s[i + 1]);
            i += 2;
            continue;
        }
        int best = -1;
        size_t best_len = 0;
        if (is_vowel_ascii(s[i]) || s[i] == 'd' || s[i] == 'D') {
            for (int k = 0; k < VN_N_LETTERS; k++) {
                const char *v = vn_letters[k].viqr;
                size_t n = strlen(v);
                if (n > best_len && n <= len - i && memcmp(v, s + i, n) == 0)
                    best = k, best_len = n;
            }
        }
        if (best >= 0) {
            rc = buf_puts(out, vn_letters[best].utf8);
            i += best_len;
        } else {
            rc = buf_putc(out, s[i]);
            i++;
        }
    }
    return rc;
}

int text_decode(const char *s, size_t len, enum text_enc e, struct buf *out)
{
    tables();
    int high = has_high(s, len);
    if (!high && e != ENC_VIQR) return buf_append(out, s, len);
    int valid = high ? text_utf8_valid(s, len) : 1;
    switch (e) {
    case ENC_ASCII:
    case ENC_UTF8:
    case ENC_NFD:
        return valid ? put_nfc(out, s, len) : ERR_PARAM;
    case ENC_VIQR:
        if (high) return valid ? put_nfc(out, s, len) : ERR_PARAM;
        return dec_viqr(s, len, out);
    default:
        break;
    }
    struct buf bytes;
    buf_init(&bytes);
    const unsigned char *p = (const unsigned char *)s;
    size_t n = len;
    if (valid) {
        if (text_back_to_cp1252(s, len, &bytes)) {
            buf_fini(&bytes);
            return e == ENC_DOUBLE_UTF8 ? ERR_PARAM : put_nfc(out, s, len);
        }
        p = (const unsigned char *)bytes.data;
        n = bytes.len;
    }
    int rc;
    switch (e) {
    case ENC_DOUBLE_UTF8:
        rc = valid && text_utf8_valid((const char *)p, n) ? put_nfc(out, (const char *)p, n)
                                                          : ERR_PARAM;
        break;
    case ENC_TCVN3:
        rc = dec_tcvn3(p, n, out);
        break;
    case ENC_VNI:
        rc = dec_vni(p, n, out);
        break;
    case ENC_CP1258:
        rc = dec_8bit(p, n, vn_cp1258_high, out);
        break;
    default:
        rc = dec_8bit(p, n, vn_cp1252_high, out);
        break;
    }
    buf_fini(&bytes);
    return rc;
}

/* ---- syllables ---- */

static int in_list(const char *s, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, s, n) == 0) return 1;
    return 0;
}

static int syllable_shape_ok(const char *sh, size_t n, int tone)
{
    static const char *const onsets[] = {
        "ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr", "b", "c", "d",
        "D",   "g",  "h",  "k",  "l",  "m",  "n",  "p",  "r",  "s",  "t",  "v", "x", ""};
    static const char *const nuclei[] = {
        "a",   "1",   "2",   "e",   "3",   "i",   "o",   "4",   "5",   "u",   "6",
        "y",   "ai",  "ao",  "au",  "ay",  "2u",  "2y",  "eo",  "3u",  "ia",  "i3",
        "iu",  "oa",  "o1",  "oe",  "oi",  "4i",  "5i",  "oo",  "ua",  "u2",  "u3",
        "ui",  "u4",  "u5",  "6a",  "6i",  "6u",  "65",  "uy",  "y3",  "oai", "oay",
        "oeo", "u2y", "u4i", "65i", "65u", "uya", "uy3", "uyu", "i3u", "y3u", NULL};
    static const char *const codas[] = {"", "c", "ch", "m", "n", "ng", "nh", "p", "t", NULL};
    for (size_t o = 0; o < ARRAY_LEN(onsets); o++) {
        size_t on = strlen(onsets[o]);
        if (on > n || memcmp(sh, onsets[o], on) != 0) continue;
        size_t v = on;
        while (v < n && strchr("a12e3io45u6y", sh[v]))
            v++;
        if (v == on) continue;
        if (!in_list(sh + on, v - on, nuclei)) continue;
        if (!in_list(sh + v, n - v, codas)) continue;
        size_t cn = n - v;
        if (cn && (sh[v] == 'c' || sh[v] == 'p' || sh[v] == 't') && tone != 1 && tone != 5)
            continue;
        return 1;
    }
    return 0;
}

int text_syllable_ok(const char *s, size_t len)
{
    tables();
    char sh[16];
    size_t n = 0;
    int tone = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, end - p, &cp);
        if (k <= 0 || n >= sizeof sh) return 0;
        p += k;
        if (cp < 0x80) {
            int c = tolower(cp);
            if (c < 'a' || c > 'z' || c == 'f' || c == 'j' || c == 'w' || c == 'z') return 0;
            sh[n++] = (char)c;
            continue;
        }
        const struct shape *x = shape_find((uint32_t)cp);
        if (!x) return 0;
        if (x->tone) {
            if (tone) return 0;
            tone = x->tone;
        }
        sh[n++] = x->base;
    }
    return n > 0 && syllable_shape_ok(sh, n, tone);
}

void text_score(const char *s, size_t len, int *n_tokens, int *n_valid)
{
    *n_tokens = *n_valid = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *start = NULL;
    while (p <= end) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t k = 1;
        int letter = 0;
        if (p < end) {
            k = utf8proc_iterate(p, end - p, &cp);
            if (k <= 0) k = 1, cp = 0xFFFD;
            utf8proc_category_t c = utf8proc_category(cp);
            letter = (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME) || cp == 0xFFFD;
        }
        if (letter && !start) start = p;
        if (!letter && start) {
            (*n_tokens)++;
            if (text_syllable_ok((const char *)start, (size_t)(p - start))) (*n_valid)++;
            start = NULL;
        }
        if (p == end) break;
        p += k;
    }
}

void text_utf8_clip(char *s)
{
    size_t n = strlen(s), k = n;
    while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80 && n - k < 3)
        k--; /* continuation bytes at the end */
    if (k == 0 || ((unsigned char)s[k - 1] & 0x80) == 0) return;
    unsigned char lead = (unsigned char)s[k - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (k - 1) < want) s[k - 1] = 0; /* an incomplete letter: dropped */
}

char *text_fold(const char *s)
{
    if (!s) return NULL;
    utf8proc_uint8_t *r = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, -1, &r,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                          UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0) return str_dup("");
    char *out = malloc((size_t)n + 1);
    size_t k = 0;
    if (out) {
        const utf8proc_uint8_t *p = r, *end = r + n;
        while (p < end) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t m = utf8proc_iterate(p, end - p, &cp);
            if (m <= 0) break;
            p += m;
            if (cp == 0x111 || cp == 0x110) cp = 'd';
            if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) out[k++] = (char)cp;
        }
        out[k] = 0;
    }
    free(r);
    return out;
}

/* ---- detection ---- */

void text_detect_init(struct text_detect *d)
{
    memset(d, 0, sizeof *d);
}

static int viqr_signature(const char *s, size_t len)
{
    int hits = 0;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (strchr("'`?~.^(+", c) && (is_vowel_ascii(s[i - 1]) || strchr("^(+", s[i - 1]))) hits++;
        if ((c == 'd' || c == 'D') && (s[i - 1] == 'd' || s[i - 1] == 'D') &&
            (i < 2 || !isalnum((unsigned char)s[i - 2])))
            hits++;
    }
    return hits;
}

static void score_as(struct text_detect *d, enum text_enc e, const char *s, size_t len)
{
    struct buf b;
    buf_init(&b);
    if (text_decode(s, len, e, &b)) {
        d->impossible[e] = 1;
    } else {
        int t, v;
        text_score(b.data ? b.data : "", b.len, &t, &v);
        d->tokens[e] += t;
        d->valid[e] += v;
    }
    buf_fini(&b);
}

void text_detect_add(struct text_detect *d, const char *s, size_t len)
{
    if (!s || !len) return;
    d->n_values++;
    if (!has_high(s, len)) {
        if (viqr_signature(s, len) >= 1) d->n_viqr++;
        score_as(d, ENC_ASCII, s, len);
        score_as(d, ENC_VIQR, s, len);
        return;
    }
    d->n_nonascii++;
    int valid = text_utf8_valid(s, len);
    if (valid && !is_nfc(s, len)) d->n_nfd++;
    static const enum text_enc cands[] = {ENC_UTF8, ENC_DOUBLE_UTF8, ENC_TCVN3,
                                          ENC_VNI,  ENC_CP1258,      ENC_CP1252};
    for (size_t i = 0; i < ARRAY_LEN(cands); i++) {
        if (cands[i] == ENC_UTF8 && !valid)
            d->impossible[ENC_UTF8] = 1;
        else
            score_as(d, cands[i], s, len);
    }
}

enum text_enc text_detect_result(const struct text_detect *d, double *confidence)
{
    if (!d->n_nonascii) {
        double a = d->tokens[ENC_ASCII] ? (double)d->valid[ENC_ASCII] / d->tokens[ENC_ASCII] : 1;
        double v = d->tokens[ENC_VIQR] ? (double)d->valid[ENC_VIQR] / d->tokens[ENC_VIQR] : 0;
        if (d->n_viqr >= 2 && d->n_viqr * 5 >= d->n_values && v > a + 0.05) {
            *confidence = v;
            return ENC_VIQR;
        }
        *confidence = 1.0;
        return ENC_ASCII;
    }
    /* order = preference on ties */
    static const enum text_enc order[] = {ENC_UTF8, ENC_CP1258,      ENC_TCVN3,
                                          ENC_VNI,  ENC_DOUBLE_UTF8, ENC_CP1252};
    enum text_enc best = ENC_CP1252;
    double best_score = -1;
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        enum text_enc e = order[i];
        if (d->impossible[e]) continue;
        double sc = d->tokens[e] ? (double)d->valid[e] / d->tokens[e] : 0;
        if (sc > best_score + 1e-9) best = e, best_score = sc;
    }
    if (best == ENC_UTF8 && d->n_nfd) best = ENC_NFD;
    *confidence = best_score < 0 ? 0 : best_score;
    return best;
}
