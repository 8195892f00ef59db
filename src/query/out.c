/* SPDX-License-Identifier: MIT */
/* out.c: writing land-API answers: field values as JSON with their code-list names (Vietnamese
 * and English, from layers/codelists), GeoJSON geometries transformed to CRS84 through the one
 * official VN-2000 transformation (geo_transform), GeoJSON features and CSV cells. Values come
 * only from qsets, which hold only the fields access_field lets the role read. */
#include "query_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int q_put_num(struct buf *b, double v, int decimals)
{
    if (!isfinite(v)) return buf_puts(b, "null");
    return buf_put_double(b, v, decimals);
}

int q_put_value(struct buf *b, const struct field_def *fd, const struct qval *v)
{
    switch (v->type) {
    case VAL_INT:
        if (fd && fd->type == FT_BOOLEAN) return buf_puts(b, v->i ? "true" : "false");
        return buf_printf(b, "%lld", (long long)v->i);
    case VAL_REAL:
        return q_put_num(b, v->d, 6);
    case VAL_TEXT:
        return buf_put_json_str(b, v->s);
    default:
        return buf_puts(b, "null");
    }
}

int q_put_code_name(struct buf *b, const struct codelist *cl, const char *code, const char *scheme)
{
    const struct code_def *c = cl && code ? codelist_find(cl, code, scheme) : NULL;
    if (!c && cl && code && scheme) c = codelist_find(cl, code, NULL);
    if (!c) return buf_puts(b, "null");
    return buf_puts(b, "{\"vi\":") || buf_put_json_str(b, c->name_vi ? c->name_vi : "") ||
           buf_puts(b, ",\"en\":") || buf_put_json_str(b, c->name_en ? c->name_en : "") ||
           buf_putc(b, '}');
}

/* "[{"code":..,"vi":..,"en":..},...]" for "ODT+CLN". */
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
        rc = !code || (n && buf_putc(b, ',')) || buf_puts(b, "{\"code\":") ||
             buf_put_json_str(b, code) || buf_puts(b, ",\"name\":") ||
             q_put_code_name(b, cl, code, scheme) || buf_putc(b, '}');
        free(code);
        p = plus ? plus + 1 : p + len;
    }
    return rc || buf_putc(b, ']');
}

int q_put_props(struct qctx *q, struct buf *b, const struct qset *s, const struct qrow *r,
                int *first)
{
    (void)q;
    const char *scheme = q_str(s, r, "lu_scheme");
    int rc = 0;
    for (int i = 0; i < s->n_fields && !rc; i++) {
        const struct field_def *fd = &s->layer->fields[s->fields[i]];
        const struct qval *v = &r->vals[i];
        rc = (!*first && buf_putc(b, ',')) || buf_put_json_str(b, fd->name) || buf_putc(b, ':') ||
             q_put_value(b, fd, v);
        *first = 0;
        if (rc || !fd->codelist || v->type != VAL_TEXT) continue;
        if (fd->multi)
            rc = buf_printf(b, ",\"%s_codes\":", fd->name) ||
                 put_multi_codes(b, fd->codelist, v->s, scheme);
        else
            rc = buf_printf(b, ",\"%s_name\":", fd->name) ||
                 q_put_code_name(b, fd->codelist, v->s, scheme);
    }
    return rc ? ERR_NOMEM : 0;
}

/* Rings and linestrings as [[lon,lat],...] after transforming to CRS84. */
static int put_coords(struct qctx *q, struct buf *b, const struct geom_part *p, struct err *err)
{
    double stackxy[512];
    double *xy = p->n <= 256 ? stackxy : malloc((size_t)p->n * 2 * sizeof *xy);
    if (!xy) return err_set(err, ERR_NOMEM, "out of memory");
    memcpy(xy, p->xy, (size_t)p->n * 2 * sizeof *xy);
    int rc = geo_transform(q->geo, q->srid, GEO_SRID_CRS84, xy, (size_t)p->n, err);
    rc = rc || buf_putc(b, '[');
    for (int i = 0; i < p->n && !rc; i++)
        rc = (i && buf_putc(b, ',')) || buf_putc(b, '[') || buf_put_double(b, xy[2 * i], 7) ||
             buf_putc(b, ',') || buf_put_double(b, xy[2 * i + 1], 7) || buf_putc(b, ']');
    rc = rc || buf_putc(b, ']');
    if (xy != stackxy) free(xy);
    return rc;
}

static int put_polygons(struct qctx *q, struct buf *b, const struct geom *g, int multi,
                        struct err *err)
{
    int rc = multi ? buf_putc(b, '[') : 0, open = 0;
    for (int i = 0; i < g->n_parts && !rc; i++) {
        if (!g->parts[i].ring) { /* exterior ring starts a polygon */
            if (open) rc = buf_puts(b, "],");
            rc = rc || buf_putc(b, '[');
            open = 1;
        } else {
            rc = buf_putc(b, ',');
        }
        rc = rc || put_coords(q, b, &g->parts[i], err);
    }
    if (open) rc = rc || buf_putc(b, ']');
    return rc || (multi && buf_putc(b, ']'));
}

int q_put_geometry(struct qctx *q, struct buf *b, const unsigned char *wkb, size_t len,
                   struct err *err)
{
    if (!wkb || !len) return buf_puts(b, "null");
    struct geom g;
    geom_init(&g);
    int rc = geom_from_wkb(&g, wkb, len, err);
    static const char *const names[] = {"",           "Point",           "LineString",  "Polygon",
                                        "MultiPoint", "MultiLineString", "MultiPolygon"};
    if (rc || g.type < 1 || g.type > 6) {
        geom_fini(&g);
        return buf_puts(b, "null");
    }
    rc = buf_printf(b, "{\"type\":\"%s\",\"coordinates\":", names[g.type]);
    if (g.type == GT_POLYGON || g.type == GT_MULTIPOLYGON) {
        rc = rc || put_polygons(q, b, &g, g.type == GT_MULTIPOLYGON, err);
    } else if (g.type == GT_POINT) {
        if (g.n_parts) {
            struct buf t;
            buf_init(&t);
            rc = rc || put_coords(q, &t, &g.parts[0], err) ||
                 buf_append(b, t.data + 1, t.len - 2); /* [[x,y]] -> [x,y] */
            buf_fini(&t);
        }
    } else {
        int multi = g.type != GT_LINESTRING;
        rc = rc || (multi && buf_putc(b, '['));
        for (int i = 0; i < g.n_parts && !rc; i++)
            rc = (i && buf_putc(b, ',')) || put_coords(q, b, &g.parts[i], err);
        rc = rc || (multi && buf_putc(b, ']'));
    }
    rc = rc || buf_putc(b, '}');
    geom_fini(&g);
    return rc;
}

int q_put_feature(struct qctx *q, struct buf *b, const struct qset *s, const struct qrow *r,
                  struct err *err)
{
    int first = 1;
    const struct layer_def *l = s->layer;
    const struct qval *key = l->key >= 0 ? q_get(s, r, l->fields[l->key].name) : NULL;
    int rc = buf_puts(b, "{\"type\":\"Feature\",\"id\":");
    if (key && key->type == VAL_TEXT)
        rc = rc || buf_put_json_str(b, key->s);
    else
        rc = rc || buf_printf(b, "%lld", (long long)r->fid);
    rc = rc || buf_puts(b, ",\"properties\":{") || q_put_props(q, b, s, r, &first) ||
         buf_puts(b, "},\"geometry\":");
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if ((rc = q_put_geometry(q, b, r->wkb, r->wkb_len, err))) return rc;
    return buf_putc(b, '}') ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

int q_csv_cell(struct buf *b, const char *s, char sep)
{
    int rc = 0;
    if (s && strpbrk(s, ",\"\r\n")) {
        rc = buf_putc(b, '"');
        for (const char *p = s; *p && !rc; p++)
            rc = (*p == '"' && buf_putc(b, '"')) || buf_putc(b, *p);
        rc = rc || buf_putc(b, '"');
    } else if (s) {
        rc = buf_puts(b, s);
    }
    return rc || (sep == '\n' ? buf_puts(b, "\r\n") : buf_putc(b, sep));
}

int q_csv_value(struct buf *b, const struct qval *v, char sep)
{
    char tmp[64];
    struct buf t;
    switch (v ? v->type : VAL_NULL) {
    case VAL_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->i);
        return q_csv_cell(b, tmp, sep);
    case VAL_REAL:
        buf_init(&t);
        buf_put_double(&t, v->d, 6);
        snprintf(tmp, sizeof tmp, "%s", t.data ? t.data : "");
        buf_fini(&t);
        return q_csv_cell(b, tmp, sep);
    case VAL_TEXT:
        return q_csv_cell(b, v->s, sep);
    default:
        return q_csv_cell(b, NULL, sep);
    }
}

int q_csv_lang(const struct request *req, int *lang, struct err *err)
{
    const char *l = req_arg(req, "lang");
    *lang = Q_CSV_NAMES;
    if (!l) return 0;
    if (str_ieq(l, "vi"))
        *lang = Q_CSV_VI;
    else if (str_ieq(l, "en"))
        *lang = Q_CSV_EN;
    else
        return err_setl(err, ERR_PARAM, "lang", "lang must be vi or en, not \"%.20s\"", l);
    return 0;
}

int q_csv_bom(struct buf *b)
{
    return buf_puts(b, "\xEF\xBB\xBF");
}

/* Titles of the columns the land API derives (not catalog fields). */
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

int q_csv_header(struct buf *b, const struct layer_def *l, const char *col, int lang, char sep)
{
    if (lang == Q_CSV_NAMES) return q_csv_cell(b, col, sep);
    for (int i = 0; l && i < l->n_fields; i++) {
        const struct field_def *f = &l->fields[i];
        if (strcmp(f->name, col) != 0) continue;
        const char *t = lang == Q_CSV_EN && f->label_en && *f->label_en ? f->label_en : f->label_vi;
        if (!t || !*t) break;
        if (!f->unit || !*f->unit || strstr(t, "(")) return q_csv_cell(b, t, sep);
        /* "Diện tích (m²)": the unit the values are in */
        struct buf h;
        buf_init(&h);
        int rc = buf_printf(&h, "%s (%s)", t, strcmp(f->unit, "m2") == 0 ? "m²" : f->unit) ||
                 q_csv_cell(b, h.data, sep);
        buf_fini(&h);
        return rc;
    }
    for (size_t i = 0; i < ARRAY_LEN(derived_titles); i++)
        if (strcmp(derived_titles[i].col, col) == 0)
            return q_csv_cell(b, lang == Q_CSV_EN ? derived_titles[i].en : derived_titles[i].vi,
                              sep);
    return q_csv_cell(b, col, sep);
}
