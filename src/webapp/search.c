/* SPDX-License-Identifier: MIT */
/* search.c: GET /api/v1/search?q=TEXT[&limit=N], the web map's one search box (issue 19). What a
 * citizen types at a land portal, ranked:
 *   - a certificate number (số GCN, "CS10396"), only when the caller's role may read
 *     certificate_no (the catalog says planner): otherwise it is not even looked for;
 *   - sheet + parcel ("tờ 7 thửa 12", "7/12", "thửa 12 tờ 7"), optionally with a commune name;
 *   - a commune by its name before or after the 2025 merger (admin_units names; the new name from
 *     the lookup code list commune_2025, keyed by the old commune code), with its box to zoom to;
 *   - a parcel address, diacritics and case optional ("30 thang 4").
 * Coordinates are read by the page itself (numbers.js). Text is folded as the land API folds
 * commune names (query_fold: NFD, marks dropped, đ -> d, lower case); the store's addresses are
 * folded by the same function (store_text_fold, spp_fold in SQL) and, for a field the catalog
 * marks "search" (cadastral_parcels.address), kept in the store's trigram index, which the
 * store's query path reads for the address LIKE below instead of folding every row. The
 * lookups are filter trees (filter_and_*): no SQL here. Every field passes access_field and the
 * row rules of the store's query path. */
#include "webapp.h"

#include <ctype.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../filter/filter.h"
#include "../geo/geo.h"
#include "../query/query.h"
#include "../query/query_int.h"
#include "../store/store.h"

#define SEARCH_MAX 50

struct hit {
    int score;
    char *kind, *match, *key, *label, *detail, *code;
    double bbox[4];
    int has_bbox;
};

struct hits {
    struct hit h[SEARCH_MAX];
    int n;
};

static void hits_fini(struct hits *hs)
{
    for (int i = 0; i < hs->n; i++) {
        struct hit *h = &hs->h[i];
        free(h->kind), free(h->match), free(h->key), free(h->label), free(h->detail), free(h->code);
    }
    hs->n = 0;
}

static struct hit *hit_add(struct hits *hs, int score, const char *kind, const char *match,
                           const char *key)
{
    for (int i = 0; i < hs->n; i++) /* the same thing found twice: its best score */
        if (key && hs->h[i].key && strcmp(hs->h[i].key, key) == 0 &&
            strcmp(hs->h[i].kind, kind) == 0) {
            if (score <= hs->h[i].score) return NULL;
            hs->h[i].score = score;
            free(hs->h[i].match);
            hs->h[i].match = str_dup(match);
            return NULL;
        }
    if (hs->n == SEARCH_MAX) return NULL;
    struct hit *h = &hs->h[hs->n++];
    memset(h, 0, sizeof *h);
    h->score = score;
    h->kind = str_dup(kind);
    h->match = str_dup(match);
    h->key = key ? str_dup(key) : NULL;
    return h;
}

/* "tờ 7 thửa 12", "to 7 thua 12", "thửa 12 tờ 7", "7/12", "sheet 7 parcel 12" (folded text):
 * 1 with sheet and parcel, the rest of the text (a commune, maybe) left in rest. */
static int parse_sheet_parcel(const char *f, long *sheet, long *parcel, char *rest, size_t rest_len)
{
    const char *p;
    char *end;
    rest[0] = '\0';
    const char *to = strstr(f, "to ");
    const char *sh = strstr(f, "sheet ");
    const char *th = strstr(f, "thua ");
    const char *pa = strstr(f, "parcel ");
    const char *a = to ? to + 3 : sh ? sh + 6 : NULL, *b = th ? th + 5 : pa ? pa + 7 : NULL;
    if (a && b && isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
        *sheet = strtol(a, NULL, 10);
        *parcel = strtol(b, NULL, 10);
        const char *first = to ? to : sh, *second = th ? th : pa;
        const char *start = first < second ? first : second;
        snprintf(rest, rest_len, "%.*s", (int)(start - f), f);
        /* text after the last number */
        const char *last = first > second ? a : b;
        while (isdigit((unsigned char)*last))
            last++;
        size_t n = strlen(rest);
        snprintf(rest + n, rest_len - n, " %s", last);
        return 1;
    }
    for (p = f; *p; p++) { /* N/M or N-M as a word */
        if (!isdigit((unsigned char)*p) || (p > f && isalnum((unsigned char)p[-1]))) continue;
        long s = strtol(p, &end, 10);
        if ((*end != '/' && *end != '-') || !isdigit((unsigned char)end[1])) continue;
        char *end2;
        long n = strtol(end + 1, &end2, 10);
        if (isalnum((unsigned char)*end2)) continue;
        *sheet = s, *parcel = n;
        snprintf(rest, rest_len, "%.*s %s", (int)(p - f), f, end2);
        return 1;
    }
    return 0;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s) && *s != ',') return 0;
    return 1;
}

/* A folded text with the words "phuong", "xa", "thi tran", "dac khu" dropped. */
static void strip_unit(char *s)
{
    static const char *const words[] = {"phuong ",  "xa ",   "thi tran ",
                                        "dac khu ", "ward ", "commune "};
    for (size_t i = 0; i < ARRAY_LEN(words); i++) {
        size_t n = strlen(words[i]);
        if (strncmp(s, words[i], n) == 0) memmove(s, s + n, strlen(s + n) + 1);
    }
}

/* Communes matching the folded text: by their name (before the 2025 merger for units whose
 * valid_to ended then) or by their new name (code list commune_2025). */
static int find_communes(struct qctx *q, const char *want, struct hits *hs, char **codes,
                         int *n_codes, int max_codes, struct err *err)
{
    const struct layer_def *l = q_layer(q, "admin_units");
    if (!l || strlen(want) < 2) return 0;
    /* old commune code -> the new unit (layers/codelists/commune_2025.json, a lookup list no
     * field uses: admin_units.code stays free text for every other commune) */
    const struct codelist *merged = catalog_codelist(q->cat, "commune_2025");
    struct qset s;
    qset_init(&s);
    struct qfetch all = {0};
    int rc = q_fetch(q, l, &all, &s, err);
    char w[256];
    snprintf(w, sizeof w, "%s", want);
    strip_unit(w);
    for (int i = 0; i < s.n && !rc; i++) {
        const struct qrow *r = &s.rows[i];
        const char *code = q_str(&s, r, "code"), *name = q_str(&s, r, "name");
        double level = q_num(&s, r, "level");
        if (!code || !name || level != 3) continue;
        const struct code_def *nd = merged ? codelist_find(merged, code, NULL) : NULL;
        char *fn = query_fold(name), *fnew = nd ? query_fold(nd->name_vi) : NULL;
        if (fn) strip_unit(fn);
        if (fnew) { /* the new name itself, not the note in brackets after it */
            char *br = strchr(fnew, '(');
            if (br) *br = '\0';
            for (size_t k = strlen(fnew); k && fnew[k - 1] == ' ';)
                fnew[--k] = '\0';
            strip_unit(fnew);
        }
        int score = 0;
        const char *match = NULL;
        if (fn && strcmp(fn, w) == 0)
            score = 80, match = "commune";
        else if (fnew && strstr(fnew, w))
            score = strcmp(fnew, w) == 0 ? 78 : 58, match = "commune_2025";
        else if (fn && strstr(fn, w))
            score = 60, match = "commune";
        free(fn), free(fnew);
        if (!score) continue;
        if (*n_codes < max_codes) codes[(*n_codes)++] = str_dup(code);
        struct hit *h = hit_add(hs, score, "commune", match, code);
        if (!h) continue;
        struct buf lb;
        buf_init(&lb);
        buf_puts(&lb, name);
        h->label = buf_take(&lb, NULL);
        buf_fini(&lb);
        h->code = str_dup(code);
        if (nd) h->detail = str_dup(nd->name_vi);
        struct bbox b;
        if (r->geom) {
            q_geom_bbox(q, r->geom, &b);
            struct bbox o;
            if (!geo_transform_bbox(q->geo, q->srid, GEO_SRID_CRS84, &b, &o, err)) {
                h->bbox[0] = o.minx, h->bbox[1] = o.miny, h->bbox[2] = o.maxx, h->bbox[3] = o.maxy;
                h->has_bbox = 1;
            } else {
                err_clear(err);
            }
        }
    }
    qset_fini(q, &s);
    return rc;
}

/* Adds parcel row r as a hit. ERR_NOMEM or the store's error (with err): a hit is never added with
 * a label cut short. */
static int parcel_hit(struct qctx *q, struct hits *hs, const struct qset *s, const struct qrow *r,
                      int score, const char *match, struct err *err)
{
    const char *key = q_str(s, r, "parcel_key");
    struct hit *h = key ? hit_add(hs, score, "parcel", match, key) : NULL;
    if (!h) return 0;
    double sh = q_num(s, r, "sheet_no"), no = q_num(s, r, "parcel_no");
    const char *addr = q_str(s, r, "address"), *cc = q_str(s, r, "commune_code");
    char *cn = NULL;
    int rc = cc ? q_commune_name(q, cc, &cn, err) : 0;
    struct buf b;
    buf_init(&b);
    if (!rc && isfinite(sh) && isfinite(no)) rc = buf_printf(&b, "%.0f/%.0f", sh, no);
    if (!rc && cn) rc = buf_printf(&b, "%s%s", b.len ? ", " : "", cn);
    if (!rc && !(h->label = buf_take(&b, NULL))) rc = ERR_NOMEM;
    buf_fini(&b);
    if (!rc && addr && !(h->detail = str_dup(addr))) rc = ERR_NOMEM;
    if (!rc && cc && !(h->code = str_dup(cc))) rc = ERR_NOMEM;
    free(cn);
    return rc == ERR_NOMEM ? err_set(err, ERR_NOMEM, "out of memory") : rc;
}

/* Parcels matching filter w (freed here; NULL after a failed filter_and_*: rc says why). */
static int fetch_parcels(struct qctx *q, const struct layer_def *l, struct filter *w, int rc,
                         struct hits *hs, int score, const char *match, struct err *err)
{
    struct qset s;
    qset_init(&s);
    struct qfetch f = {.filter = w, .no_geom = 1, .limit = 20};
    if (rc) rc = err_set(err, rc, rc == ERR_NOMEM ? "out of memory" : "search: no such field");
    if (!rc) rc = q_fetch(q, l, &f, &s, err);
    filter_free(w);
    for (int i = 0; i < s.n && !rc; i++)
        rc = parcel_hit(q, hs, &s, &s.rows[i], score, match, err);
    qset_fini(q, &s);
    return rc;
}

static int cmp_hit(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->score != y->score) return y->score - x->score;
    return strcmp(x->label ? x->label : "", y->label ? y->label : "");
}

static int put_hits(struct buf *b, const char *qtext, struct hits *hs, int limit)
{
    qsort(hs->h, (size_t)hs->n, sizeof hs->h[0], cmp_hit);
    int rc =
        buf_puts(b, "{\"query\":") || buf_put_json_str(b, qtext) || buf_puts(b, ",\"results\":[");
    for (int i = 0; i < hs->n && i < limit && !rc; i++) {
        const struct hit *h = &hs->h[i];
        rc = (i && buf_putc(b, ',')) || buf_puts(b, "{\"kind\":") || buf_put_json_str(b, h->kind) ||
             buf_puts(b, ",\"match\":") || buf_put_json_str(b, h->match) ||
             buf_printf(b, ",\"score\":%d", h->score) ||
             (h->key && (buf_puts(b, ",\"key\":") || buf_put_json_str(b, h->key))) ||
             (h->code && (buf_puts(b, ",\"code\":") || buf_put_json_str(b, h->code))) ||
             (h->label && (buf_puts(b, ",\"label\":") || buf_put_json_str(b, h->label))) ||
             (h->detail && (buf_puts(b, ",\"detail\":") || buf_put_json_str(b, h->detail))) ||
             (h->has_bbox && buf_printf(b, ",\"bbox\":[%.7f,%.7f,%.7f,%.7f]", h->bbox[0],
                                        h->bbox[1], h->bbox[2], h->bbox[3])) ||
             buf_putc(b, '}');
    }
    return rc || buf_puts(b, "]}");
}

int webapp_search(struct request *req, struct response *res, struct err *err)
{
    static const char *const known[] = {"q", "limit", NULL};
    const char *text = req_arg(req, "q");
    int64_t limit;
    int rc =
        q_check_known(req, known, err) || q_integer(req, "limit", 1, SEARCH_MAX, 10, &limit, err);
    if (rc) return rc;
    if (!text || !*text || strlen(text) > 200)
        return err_setl(err, ERR_PARAM, "q", "q (1 to 200 characters) is required");
    char *f = query_fold(text);
    if (!f) return err_setl(err, ERR_PARAM, "q", "q is not valid UTF-8");
    struct qctx q;
    struct hits hs = {.n = 0};
    char *codes[16];
    int n_codes = 0;
    rc = qctx_init(&q, req, err);
    const struct layer_def *lp = rc ? NULL : q_layer(&q, "cadastral_parcels");
    long sheet, parcel;
    char rest[256];
    /* certificate number: letters then digits, only for a role that may read it */
    size_t tl = strlen(text);
    int alpha = 0, digit = 0;
    for (size_t i = 0; i < tl; i++)
        alpha += isalpha((unsigned char)text[i]), digit += isdigit((unsigned char)text[i]);
    if (!rc && lp && alpha && digit >= 4 && !strchr(text, ' ') &&
        access_field_index(lp, "certificate_no", q.role) >= 0) {
        struct filter *w = NULL;
        int fc = access_field_index(lp, "certificate_no", q.role);
        rc = filter_and_text_match(&w, lp, fc, FOP_EQ, text,
                                   FILTER_MATCH_NOCASE | FILTER_MATCH_NOSPACES);
        rc = fetch_parcels(&q, lp, w, rc, &hs, 100, "certificate", err);
    }
    if (!rc && lp && parse_sheet_parcel(f, &sheet, &parcel, rest, sizeof rest)) {
        struct hits ch = {.n = 0};
        char *r = rest;
        while (*r == ' ' || *r == ',')
            r++;
        size_t rl = strlen(r);
        while (rl && (r[rl - 1] == ' ' || r[rl - 1] == ',' || r[rl - 1] == '-'))
            r[--rl] = '\0';
        if (!blank(r)) rc = find_communes(&q, r, &ch, codes, &n_codes, 16, err);
        hits_fini(&ch);
        struct value v[3] = {{.type = VAL_INT, .i = sheet}, {.type = VAL_INT, .i = parcel}};
        int fs = layer_field_index(lp, "sheet_no"), fp = layer_field_index(lp, "parcel_no");
        int fc = layer_field_index(lp, "commune_code");
        for (int i = 0; i <= n_codes && !rc; i++) {
            if (i == n_codes && (n_codes || !blank(r))) break; /* a commune was named: only it */
            struct filter *w = NULL;
            rc = filter_and_compare(&w, lp, fs, FOP_EQ, &v[0]);
            if (!rc) rc = filter_and_compare(&w, lp, fp, FOP_EQ, &v[1]);
            if (!rc && i < n_codes) {
                v[2] =
                    (struct value){.type = VAL_TEXT, .s = codes[i], .len = (int)strlen(codes[i])};
                rc = filter_and_compare(&w, lp, fc, FOP_EQ, &v[2]);
            }
            rc = fetch_parcels(&q, lp, w, rc, &hs, 90, "sheet_parcel", err);
        }
    }
    int cn = n_codes;
    if (!rc) rc = find_communes(&q, f, &hs, codes, &n_codes, 16, err);
    (void)cn;
    if (!rc && lp && strlen(f) >= 3 && access_field_index(lp, "address", q.role) >= 0) {
        struct buf pat;
        buf_init(&pat);
        rc = buf_printf(&pat, "%%%s%%", f) ? ERR_NOMEM : 0;
        struct filter *w = NULL;
        if (!rc) {
            rc = filter_and_text_match(&w, lp, access_field_index(lp, "address", q.role), FOP_LIKE,
                                       pat.data, FILTER_MATCH_FOLDED);
            rc = fetch_parcels(&q, lp, w, rc, &hs, 50, "address", err);
        }
        /* an address that starts with what was typed ranks above one that merely contains it */
        for (int i = 0; i < hs.n; i++)
            if (strcmp(hs.h[i].match, "address") == 0 && hs.h[i].detail) {
                char *fa = query_fold(hs.h[i].detail);
                if (fa && strncmp(fa, f, strlen(f)) == 0) hs.h[i].score = 55;
                free(fa);
            }
        buf_fini(&pat);
    }
    if (!rc) rc = put_hits(&res->body, text, &hs, (int)limit);
    if (!rc) {
        resp_set(res, 200, "application/json");
        resp_header(res, "Cache-Control", req->key_id ? "private, no-store" : "no-cache");
    }
    for (int i = 0; i < n_codes; i++)
        free(codes[i]);
    hits_fini(&hs);
    qctx_fini(&q);
    free(f);
    return rc;
}
