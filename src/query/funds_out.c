/* SPDX-License-Identifier: MIT */
/* funds_out.c: the land-fund search's answers: one result's properties (the same keys for both
 * kinds, zoning indicators, floor area, nearest main road) and the CSV table with titles in
 * Vietnamese or English. Values, code names and cells are written by src/encode/; which keys
 * and columns an answer has is decided here. */
#include "funds_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ,"key": (keys are code constants, never request text). */
static int put_key(struct buf *b, const char *key)
{
    return encode_cat(b, ",\"", key, "\":", NULL);
}

/* The commune's name, looked up once per code per answer: *out borrowed from se, NULL when the
 * code names no commune. ERR_NOMEM or the store's error (with err) otherwise. */
static int commune_name(struct search *se, const char *code, const char **out, struct err *err)
{
    *out = NULL;
    if (!code) return 0;
    for (int i = 0; i + 1 < se->n_names; i += 2)
        if (strcmp(se->names[i], code) == 0) {
            *out = se->names[i + 1];
            return 0;
        }
    if (se->n_names + 2 > se->cap_names) {
        int cap = se->cap_names ? 2 * se->cap_names : 32;
        char **grown = realloc(se->names, (size_t)cap * sizeof *grown);
        if (!grown) return err_set(err, ERR_NOMEM, "out of memory");
        se->names = grown;
        se->cap_names = cap;
    }
    char *name = NULL;
    int rc = q_commune_name(se->q, code, &name, err);
    if (rc) return rc;
    char *copy = str_dup(code);
    if (!copy) {
        free(name);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    se->names[se->n_names++] = copy;
    se->names[se->n_names++] = name;
    *out = name;
    return 0;
}

static int put_field(struct buf *b, const char *key, const struct qset *s, const struct qrow *r,
                     const char *name)
{
    const struct value *v = name ? q_get(s, r, name) : NULL;
    int f = name && s->layer ? layer_field_index(s->layer, name) : -1;
    int rc = put_key(b, key);
    if (rc) return rc;
    return v ? encode_json_value_rounded(b, f >= 0 ? &s->layer->fields[f] : NULL, v, 6)
             : buf_puts(b, "null");
}

static int put_zoning(struct buf *b, const struct zoning *z)
{
    static const char *const names[] = {"function_code", "plan_id",    "max_coverage_pct",
                                        "max_far",       "min_floors", "max_floors",
                                        "max_height_m",  "setback_m"};
    if (!z->found) return buf_puts(b, ",\"zoning\":null");
    const struct qset *s = z->s;
    const struct qrow *r = z->r;
    const char *code = strcmp(z->source, "zoning_block") ? "lot_code" : "block_code";
    int rc = buf_puts(b, ",\"zoning\":{\"source\":");
    if (!rc) rc = buf_put_json_str(b, z->source);
    if (!rc) rc = put_field(b, "code", s, r, code);
    for (size_t i = 0; i < ARRAY_LEN(names) && !rc; i++)
        if (q_get(s, r, names[i])) rc = put_field(b, names[i], s, r, names[i]);
    return rc ? rc : buf_putc(b, '}');
}

/* ,"key": then text as a JSON string, or null. */
static int put_text(struct buf *b, const char *key, const char *text)
{
    int rc = put_key(b, key);
    if (rc) return rc;
    return text ? buf_put_json_str(b, text) : buf_puts(b, "null");
}

/* ,"key": then v rounded to decimals. */
static int put_num(struct buf *b, const char *key, double v, int decimals)
{
    int rc = put_key(b, key);
    return rc ? rc : encode_number_exact(b, v, decimals);
}

/* ,"<key>":{"vi","en"} of the code of field name in s's layer (its code list). */
static int put_code_name(struct buf *b, const char *key, const struct qset *s, const struct qrow *r,
                         const char *name)
{
    int f = layer_field_index(s->layer, name);
    int rc = put_key(b, key);
    return rc ? rc
              : encode_json_code_name(b, f >= 0 ? s->layer->fields[f].codelist : NULL,
                                      q_str(s, r, name), NULL);
}

/* ,"nearest_main_road":{name, road_class, distance_m} or null. */
static int put_road(struct buf *b, const struct fund_item *it)
{
    if (!it->road) return buf_puts(b, ",\"nearest_main_road\":null");
    int rc = buf_puts(b, ",\"nearest_main_road\":{\"name\":");
    if (!rc) rc = buf_put_json_str(b, it->road);
    if (!rc) rc = put_text(b, "road_class", it->road_class);
    if (!rc) rc = put_num(b, "distance_m", it->road_m, 1);
    return rc ? rc : buf_putc(b, '}');
}

/* The properties of one result (no braces): the same keys for both kinds (id, kind, name,
 * address, commune and its name, area, planned function, status, managing agency, deadline),
 * the zoning indicators, the floor area they allow, the nearest main road, the distance to
 * near= when given, and "attributes": every field of the fund the role may read. */
int q_fund_props(struct search *se, struct buf *b, struct fund_item *it, int with_dist,
                 struct err *err)
{
    const struct fund_kind *k = it->k;
    const struct qset *s = it->s;
    const struct qrow *r = it->r;
    int first = 1;
    int rc = buf_puts(b, "\"id\":");
    if (!rc) rc = buf_put_json_str(b, it->id);
    if (!rc) rc = encode_cat(b, ",\"kind\":\"", k->kind, "\"", NULL);
    if (!rc) rc = put_field(b, "name", s, r, "name");
    if (!rc) rc = put_field(b, "address", s, r, "address");
    if (!rc) rc = put_field(b, "commune_code", s, r, "commune_code");
    const char *cname = NULL;
    if (!rc) rc = commune_name(se, q_str(s, r, "commune_code"), &cname, err);
    if (!rc) rc = put_text(b, "commune_name", cname);
    if (!rc) rc = put_num(b, "area_m2", it->area, 2);
    if (!rc) rc = put_field(b, "function", s, r, k->function_field);
    if (!rc) rc = put_code_name(b, "function_name", s, r, k->function_field);
    if (!rc) rc = put_field(b, "status", s, r, "status");
    if (!rc) rc = put_code_name(b, "status_name", s, r, "status");
    if (!rc) rc = put_field(b, "managing_agency", s, r, k->manager_field);
    if (!rc) rc = put_field(b, "deadline", s, r, k->deadline_field);
    if (!rc) rc = put_zoning(b, &it->z);
    if (!rc) rc = put_num(b, "buildable_floor_area_m2", it->area * it->far, 1);
    if (!rc) rc = put_road(b, it);
    if (!rc && with_dist) rc = put_num(b, "distance_m", it->dist, 1);
    if (!rc) rc = buf_puts(b, ",\"attributes\":{");
    if (!rc) rc = q_put_props(se->q, b, s, r, &first);
    return rc ? rc : buf_putc(b, '}');
}

/* CSV: id, kind, the union of the readable fields of the kinds searched, then the derived
 * columns that are not already fields. */
static const char *const csv_extras[] = {
    "commune_name",    "function",    "managing_agency",         "deadline",
    "zoning_source",   "zoning_code", "max_coverage_pct",        "max_far",
    "min_floors",      "max_floors",  "buildable_floor_area_m2", "nearest_main_road",
    "road_distance_m", "distance_m"};
#define CSV_MAX_COLS (2 * QSET_MAX_FIELDS + 16)

/* Titles of the columns the search derives (not catalog fields), in Vietnamese and English. */
static const struct {
    const char *col, *vi, *en;
} derived_titles[] = {
    {"id", "Mã", "Id"},
    {"kind", "Loại", "Kind"},
    {"commune_name", "Tên xã/phường", "Commune/ward name"},
    {"function", "Chức năng quy hoạch", "Planned function"},
    {"managing_agency", "Đơn vị quản lý", "Managing agency"},
    {"deadline", "Hạn kêu gọi đầu tư", "Investment call deadline"},
    {"zoning_source", "Nguồn chỉ tiêu", "Indicators from"},
    {"zoning_code", "Ký hiệu ô/lô", "Block/lot code"},
    {"max_coverage_pct", "Mật độ xây dựng tối đa (%)", "Maximum site coverage (%)"},
    {"max_far", "Hệ số sử dụng đất tối đa", "Maximum floor-area ratio"},
    {"min_floors", "Số tầng tối thiểu", "Minimum floors"},
    {"max_floors", "Số tầng tối đa", "Maximum floors"},
    {"buildable_floor_area_m2", "Tổng diện tích sàn tối đa (m²)", "Maximum floor area (m²)"},
    {"nearest_main_road", "Đường chính gần nhất", "Nearest main road"},
    {"road_distance_m", "Khoảng cách tới đường chính (m)", "Distance to a main road (m)"},
    {"distance_m", "Khoảng cách (m)", "Distance (m)"},
};

static const char *derived_title(const char *col, enum encode_csv_lang lang)
{
    for (size_t i = 0; i < ARRAY_LEN(derived_titles); i++)
        if (strcmp(derived_titles[i].col, col) == 0)
            return lang == ENCODE_CSV_EN ? derived_titles[i].en : derived_titles[i].vi;
    return NULL;
}

static int csv_has(const char *const *cols, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(cols[i], name) == 0) return 1;
    return 0;
}

static int csv_columns(struct search *se, const char **cols)
{
    int n = 0, fields[QSET_MAX_FIELDS];
    cols[n++] = "id", cols[n++] = "kind";
    for (size_t k = 0; k < Q_FUND_KINDS; k++) {
        const struct layer_def *l = q_layer(se->q, q_fund_kinds[k].layer);
        if (!l || !(se->p->kinds & q_fund_kinds[k].mask)) continue;
        int nf = encode_fields(l, se->q->role, fields, QSET_MAX_FIELDS);
        for (int i = 0; i < nf && n < CSV_MAX_COLS - 16; i++)
            if (!csv_has(cols, n, l->fields[fields[i]].name)) cols[n++] = l->fields[fields[i]].name;
    }
    for (size_t i = 0; i < ARRAY_LEN(csv_extras); i++)
        if (!csv_has(cols, n, csv_extras[i])) cols[n++] = csv_extras[i];
    return n;
}

/* One derived cell. */
static int csv_extra(struct search *se, struct buf *b, struct fund_item *it, const char *col,
                     char sep, struct err *err)
{
    const struct qset *s = it->s, *zs = it->z.s;
    const struct qrow *r = it->r, *zr = it->z.found ? it->z.r : NULL;
    if (strcmp(col, "id") == 0) return encode_csv_cell(b, it->id, sep);
    if (strcmp(col, "kind") == 0) return encode_csv_cell(b, it->k->kind, sep);
    if (strcmp(col, "commune_name") == 0) {
        const char *cname = NULL;
        int rc = commune_name(se, q_str(s, r, "commune_code"), &cname, err);
        return rc ? rc : encode_csv_cell(b, cname, sep);
    }
    if (strcmp(col, "function") == 0)
        return encode_csv_value(b, q_get(s, r, it->k->function_field), sep);
    if (strcmp(col, "managing_agency") == 0)
        return encode_csv_value(b, q_get(s, r, it->k->manager_field), sep);
    if (strcmp(col, "zoning_source") == 0) return encode_csv_cell(b, zr ? it->z.source : NULL, sep);
    if (strcmp(col, "zoning_code") == 0)
        return encode_csv_value(
            b,
            zr ? q_get(zs, zr, strcmp(it->z.source, "zoning_block") ? "lot_code" : "block_code")
               : NULL,
            sep);
    if (strcmp(col, "max_far") == 0) return encode_csv_number(b, it->far, 6, sep);
    if (strcmp(col, "max_coverage_pct") == 0 || strcmp(col, "min_floors") == 0 ||
        strcmp(col, "max_floors") == 0)
        return encode_csv_value(b, zr ? q_get(zs, zr, col) : NULL, sep);
    if (strcmp(col, "buildable_floor_area_m2") == 0)
        return encode_csv_number(b, it->area * it->far, 1, sep);
    if (strcmp(col, "nearest_main_road") == 0) return encode_csv_cell(b, it->road, sep);
    if (strcmp(col, "road_distance_m") == 0)
        return encode_csv_number(b, it->road ? it->road_m : NAN, 1, sep);
    if (strcmp(col, "distance_m") == 0) return encode_csv_number(b, it->dist, 1, sep);
    return encode_csv_cell(b, NULL, sep); /* deadline of a kind without one */
}

/* The header cell of column c: a field's title from the first kind searched that has it. */
static int csv_title(struct search *se, struct buf *b, const char *col, int c,
                     enum encode_csv_lang lang, char sep)
{
    const struct layer_def *l = NULL;
    for (size_t k = 0; k < Q_FUND_KINDS && !l && c >= 2; k++) {
        const struct layer_def *kl = q_layer(se->q, q_fund_kinds[k].layer);
        if (kl && (se->p->kinds & q_fund_kinds[k].mask) &&
            access_field_index(kl, col, se->q->role) >= 0)
            l = kl;
    }
    return encode_csv_title(b, l, col, lang, derived_title(col, lang), sep);
}

int q_fund_csv(struct search *se, struct buf *b, int64_t from, int64_t to, struct err *err)
{
    const char *cols[CSV_MAX_COLS];
    int n = csv_columns(se, cols);
    enum encode_csv_lang lang;
    struct err ignored = {0};
    if (q_csv_lang(se->q->req, &lang, &ignored)) return ERR_PARAM; /* checked before */
    int rc = encode_csv_bom(b);
    for (int c = 0; c < n && !rc; c++)
        rc = csv_title(se, b, cols[c], c, lang, c + 1 < n ? ',' : '\n');
    for (int64_t i = from; i < to && !rc; i++) {
        struct fund_item *it = &se->items[i];
        for (int c = 0; c < n && !rc; c++) {
            char sep = c + 1 < n ? ',' : '\n';
            int f = c >= 2 ? access_field_index(it->s->layer, cols[c], se->q->role) : -1;
            rc = f >= 0 ? encode_csv_value(b, q_get(it->s, it->r, cols[c]), sep)
                        : csv_extra(se, b, it, cols[c], sep, err);
        }
    }
    return rc;
}

/* ERR_NOMEM with its message when a buf call failed (out is ERR_NOMEM); another code (err already
 * set by whoever failed) is passed on; else 0. */
static int nomem(int out, struct err *err)
{
    if (out == ERR_NOMEM) return err_set(err, ERR_NOMEM, "out of memory");
    return out;
}

/* One result: {props} (JSON) or a Feature with the fund's geometry (GeoJSON). */
static int put_result(struct search *se, struct buf *b, struct fund_item *it, int geo,
                      struct err *err)
{
    int out = buf_puts(b, geo ? "{\"type\":\"Feature\",\"properties\":{" : "{");
    if (!out) out = q_fund_props(se, b, it, se->p->has_near, err);
    if (!out) out = buf_putc(b, '}');
    if (!out && geo) out = buf_puts(b, ",\"geometry\":");
    if (out || !geo) return nomem(out, err);
    int rc = q_put_geometry(se->q, b, it->r->wkb, it->r->wkb_len, err);
    return rc ? rc : nomem(buf_putc(b, '}'), err);
}

int q_fund_results(struct search *se, struct buf *b, int64_t from, int64_t to, struct err *err)
{
    const struct fund_params *p = se->p;
    int geo = p->format == OUT_GEOJSON;
    int rc = nomem(geo ? encode_geojson_open(b) : buf_puts(b, "{\"results\":["), err);
    for (int64_t i = from; i < to && !rc; i++) {
        if (i > from && buf_putc(b, ',')) return nomem(1, err);
        rc = put_result(se, b, &se->items[i], geo, err);
    }
    if (rc) return rc;
    return nomem(buf_printf(b,
                            "],\"numberMatched\":%d,\"numberReturned\":%lld,\"limit\":%lld,"
                            "\"offset\":%lld,\"note\":{\"vi\":\"" Q_NOTE_VI "\",\"en\":\"" Q_NOTE_EN
                            "\"}}\n",
                            se->n, (long long)(to - from), (long long)p->limit,
                            (long long)p->offset),
                 err);
}

int q_fund_feature(struct search *se, struct buf *b, const char *id, struct fund_item *it,
                   struct err *err)
{
    int out = buf_puts(b, "{\"type\":\"Feature\",\"id\":");
    if (!out) out = buf_put_json_str(b, id);
    if (!out) out = buf_puts(b, ",\"properties\":{");
    if (!out) out = q_fund_props(se, b, it, 0, err);
    if (!out) out = buf_puts(b, "},\"geometry\":");
    int rc = nomem(out, err);
    if (!rc) rc = q_put_geometry(se->q, b, it->r->wkb, it->r->wkb_len, err);
    if (!rc)
        rc = nomem(
            buf_puts(b, ",\"disclaimer\":{\"vi\":\"" Q_NOTE_VI "\",\"en\":\"" Q_NOTE_EN "\"}}\n"),
            err);
    return rc;
}
