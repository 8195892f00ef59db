/* SPDX-License-Identifier: MIT */
/* report.c: what a batch did, for people and for tests: report.json and report.html with the
 * same content. First a summary (status and exit code, per layer: features before, read,
 * written, rejected, repaired, added/removed/changed against the previous batch, changed tile
 * cells; refused layers and failed sources with the reason), then the details per layer and
 * source, collapsed in the HTML (CRS declared/detected/used with the reason, the encoding of
 * each field with its confidence, fields mapped, codes mapped and unknown, rejections, repairs,
 * parcel topology, an SVG thumbnail drawn from the store through the batch's load,
 * store_load_scan). Vietnamese or English (report_lang). Also the progress bar (a terminal) or
 * plain progress lines (a log). */
#include "batch_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

json_t *report_layer(struct batch *b, const struct layer_def *l)
{
    json_t *lr = json_object_get(b->layers, l->id);
    if (lr) return lr;
    lr = json_object();
    json_object_set_new(lr, "title", json_string(l->title_vi));
    json_object_set_new(lr, "title_en", json_string(l->title_en ? l->title_en : l->title_vi));
    json_object_set_new(lr, "geometry", json_string(geom_type_name(l->geom)));
    json_object_set_new(lr, "read", json_integer(0));
    json_object_set_new(lr, "written", json_integer(0));
    json_object_set_new(lr, "rejected", json_integer(0));
    json_object_set_new(lr, "repaired", json_integer(0));
    json_object_set_new(lr, "sources", json_array());
    json_object_set_new(b->layers, l->id, lr);
    return lr;
}

/* ---- thumbnails ---- */

static void svg_path(struct buf *svg, const struct geom *g, const struct bbox *e, double scale,
                     int poly)
{
    for (int p = 0; p < g->n_parts; p++) {
        const struct geom_part *part = &g->parts[p];
        if (part->n == 1) {
            buf_printf(svg, "M%.1f %.1fh0.1", (part->xy[0] - e->minx) * scale,
                       (e->maxy - part->xy[1]) * scale);
            continue;
        }
        for (int k = 0; k < part->n; k++)
            buf_printf(svg, "%c%.1f %.1f", k ? 'L' : 'M', (part->xy[2 * k] - e->minx) * scale,
                       (e->maxy - part->xy[2 * k + 1]) * scale);
        if (poly) buf_putc(svg, 'Z');
    }
}

struct thumb {
    struct buf *svg;
    struct geom g;
    const struct bbox *e;
    double scale;
    int poly;
};

static int thumb_feature(void *ud, const struct feature *f, const struct bbox *box)
{
    (void)box;
    struct thumb *t = ud;
    struct err err;
    if (f->wkb && geom_from_wkb(&t->g, f->wkb, f->wkb_len, &err) == 0)
        svg_path(t->svg, &t->g, t->e, t->scale, t->poly);
    return 0;
}

/* The layer's first 4000 features drawn over its extent, 200 px on the longer side. */
static char *thumbnail(struct batch *b, const struct layer_def *l)
{
    struct layer_state ls;
    struct err err;
    err_clear(&err);
    if (store_layer_state(b->st, l, &ls, &err) || !ls.has_extent) return NULL;
    struct bbox e = ls.extent;
    double w = e.maxx - e.minx, h = e.maxy - e.miny, side = w > h ? w : h;
    if (side <= 0) side = 1;
    struct buf svg;
    buf_init(&svg);
    struct thumb t = {
        &svg, {0}, &e, 200.0 / side, l->geom == GT_POLYGON || l->geom == GT_MULTIPOLYGON};
    int pts = l->geom == GT_POINT;
    buf_printf(
        &svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"-2 -2 "
        "%.0f %.0f\">"
        "<path fill=\"%s\" stroke=\"#235\" stroke-width=\"%s\" stroke-linecap=\"round\" d=\"",
        w * t.scale + 4, h * t.scale + 4, w * t.scale + 4, h * t.scale + 4,
        t.poly ? "rgba(80,150,200,0.25)" : "none", pts ? "3" : "0.6");
    geom_init(&t.g);
    struct store_scan q = {l, NULL, 0, 1, 4000};
    int rc = store_load_scan(b->ld, &q, thumb_feature, &t, &err);
    geom_fini(&t.g);
    if (rc) { /* no thumbnail rather than a part of one */
        buf_fini(&svg);
        return NULL;
    }
    buf_puts(&svg, "\"/></svg>");
    return buf_take(&svg, NULL);
}

int report_thumbnails(struct batch *b, struct err *err)
{
    (void)err;
    const char *id;
    json_t *lr;
    json_object_foreach(b->layers, id, lr)
    {
        const struct layer_def *l = catalog_layer(b->cat, id);
        char *svg = l ? thumbnail(b, l) : NULL;
        if (svg) json_object_set_new(lr, "thumbnail_svg", json_string(svg));
        free(svg);
        struct layer_state ls;
        struct err e2;
        if (l && store_layer_state(b->st, l, &ls, &e2) == 0 && ls.has_extent) {
            json_t *ex = json_pack("[f,f,f,f]", ls.extent.minx, ls.extent.miny, ls.extent.maxx,
                                   ls.extent.maxy);
            json_object_set_new(lr, "extent", ex);
            json_object_set_new(lr, "features_in_store", json_integer(ls.n_features));
        }
    }
    return 0;
}

/* ---- language ---- */

const char *report_lang(const struct import_opts *o)
{
    if (o->lang) return o->lang;
    const char *env = getenv("LC_ALL");
    if (!env || !*env) env = getenv("LC_MESSAGES");
    if (!env || !*env) env = getenv("LANG");
    if (env && strncmp(env, "vi", 2) == 0) return "vi";
    /* another language chosen in the locale: English; none (unset, C, POSIX): the catalog's
     * first language, Vietnamese (titles, code names and this report are written in it first) */
    if (env && *env && strcmp(env, "C") != 0 && strcmp(env, "POSIX") != 0 &&
        strncmp(env, "C.", 2) != 0)
        return "en";
    return "vi";
}

/* English text -> Vietnamese, for the report's fixed strings. */
static const char *const vi_text[][2] = {
    {"Import report", "Báo cáo nhập dữ liệu"},
    {"Summary", "Tóm tắt"},
    {"geometry", "hình học"},
    {"duplicate vertices removed", "đỉnh trùng đã bỏ"},
    {"area mismatches", "lệch diện tích pháp lý"},
    {"Details", "Chi tiết"},
    {"layer", "lớp"},
    {"before", "trước"},
    {"read", "đọc"},
    {"written", "ghi"},
    {"rejected", "loại"},
    {"repaired", "sửa"},
    {"added", "thêm"},
    {"removed", "bớt"},
    {"changed", "đổi"},
    {"tile cells", "ô bản đồ"},
    {"status", "trạng thái"},
    {"total", "tổng"},
    {"ok", "xong"},
    {"refused", "từ chối"},
    {"failed", "lỗi"},
    {"not_written", "không ghi"},
    {"Done.", "Đã nhập xong."},
    {"Done, with rejected features (exit code 3).", "Đã nhập, có đối tượng bị loại (mã thoát 3)."},
    {"Failed: nothing was changed, the store is as it was (exit code 1).",
     "Không thành công: kho dữ liệu giữ nguyên như trước (mã thoát 1)."},
    {"Dry run: nothing was written.", "Chạy thử: không ghi gì vào kho."},
    {"Refused layers", "Lớp bị từ chối"},
    {"Failed sources", "Tệp nguồn bị lỗi"},
    {"Error", "Lỗi"},
    {"Store", "Kho dữ liệu"},
    {"Batch", "Lô nhập"},
    {"Compared with the previous batch of each layer (features matched by their key).",
     "So với lần nhập trước của từng lớp (đối tượng khớp theo mã)."},
    {"format", "định dạng"},
    {"read as", "cách đọc"},
    {"features", "đối tượng"},
    {"CRS declared", "hệ tọa độ khai báo"},
    {"CRS used", "hệ tọa độ dùng"},
    {"why", "lý do"},
    {"encodings", "bảng mã"},
    {"all text is ASCII", "toàn bộ là ASCII"},
    {"fields mapped", "trường đã khớp"},
    {"fields not in the catalog", "trường ngoài danh mục"},
    {"codes", "mã"},
    {"no coded fields", "không có trường mã"},
    {"none", "không có"},
    {"commune from admin_units", "mã xã lấy từ admin_units"},
    {"parcel topology", "topo thửa đất"},
    {"Rejected", "Bị loại"},
    {"Repaired", "Đã sửa"},
    {"listed", "liệt kê"},
    {"row", "dòng"},
    {"mapped", "đã khớp"},
    {"unknown", "không rõ"},
    {"confidence", "độ tin cậy"},
    {"values", "giá trị"},
    {NULL, NULL},
};

static const char *tr(const char *lang, const char *en)
{
    if (strcmp(lang, "vi") != 0) return en;
    for (int i = 0; vi_text[i][0]; i++)
        if (strcmp(vi_text[i][0], en) == 0) return vi_text[i][1];
    return en;
}

/* ---- summary (report.json "summary", and the top of report.html) ---- */

static json_int_t geti(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *gets(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static json_t *summary(struct batch *b, const char *lang)
{
    static const char *const cols[] = {"features_before", "read",     "written",
                                       "rejected",        "repaired", "added",
                                       "removed",         "changed",  "changed_cells"};
    enum { N_COLS = 9 };
    json_t *sum = json_object(), *layers = json_array(), *tot = json_object();
    json_int_t t[N_COLS] = {0};
    int ok = json_is_true(json_object_get(b->report, "ok"));
    const char *id;
    json_t *lr;
    json_object_foreach(b->layers, id, lr)
    {
        json_t *row = json_object();
        json_object_set_new(row, "layer", json_string(id));
        json_object_set_new(row, "title",
                            json_string(gets(lr, strcmp(lang, "vi") ? "title_en" : "title")));
        for (int i = 0; i < N_COLS; i++) {
            json_t *v = json_object_get(lr, cols[i]);
            json_object_set_new(row, cols[i],
                                v ? json_integer(json_integer_value(v)) : json_null());
            t[i] += json_integer_value(v);
        }
        /* a layer of a failed or refused batch was not written, whatever its own state */
        const char *st = json_object_get(lr, "refused") ? "refused" : !ok ? "not_written" : "ok";
        json_object_set_new(row, "status", json_string(st));
        if (json_object_get(lr, "refused"))
            json_object_set_new(row, "reason", json_string(gets(lr, "refused")));
        int64_t joined = 0;
        size_t k;
        json_t *src;
        json_array_foreach(json_object_get(lr, "sources"), k, src) joined +=
            geti(src, "commune_from_admin_units");
        if (joined) json_object_set_new(row, "commune_from_admin_units", json_integer(joined));
        json_array_append_new(layers, row);
    }
    for (int i = 0; i < N_COLS; i++)
        json_object_set_new(tot, cols[i], json_integer(t[i]));
    const char *status = !ok ? "failed" : b->n_rejected ? "done_with_rejected" : "done";
    json_object_set_new(sum, "status", json_string(status));
    json_object_set_new(sum, "exit_code",
                        json_integer(!ok             ? IMPORT_EXIT_FAILED
                                     : b->n_rejected ? IMPORT_EXIT_REJECTED
                                                     : IMPORT_EXIT_OK));
    json_object_set_new(sum, "store_changed", json_boolean(ok && !b->o->dry_run));
    json_object_set_new(sum, "totals", tot);
    json_object_set_new(sum, "layers", layers);
    json_object_set(sum, "refused", b->refused);
    json_object_set(sum, "failed", b->failed);
    json_t *e = json_object_get(b->report, "error");
    if (e) json_object_set(sum, "error", e);
    return sum;
}

/* ---- html ---- */

static void html_kv(struct buf *h, const char *k, const char *v)
{
    buf_puts(h, "<tr><th>");
    buf_put_xml(h, k);
    buf_puts(h, "</th><td>");
    buf_put_xml(h, v ? v : "");
    buf_puts(h, "</td></tr>\n");
}

/* {"A": "x", "B": "y"} as "A → x, B → y" */
static void html_map(struct buf *h, const char *k, json_t *obj, const char *lang)
{
    struct buf t;
    buf_init(&t);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        buf_printf(&t, "%s%s → %s", t.len ? ", " : "", key,
                   json_string_value(v) ? json_string_value(v) : "?");
    }
    html_kv(h, k, t.len ? t.data : tr(lang, "none"));
    buf_fini(&t);
}

static void html_list(struct buf *h, const char *k, json_t *arr, const char *lang)
{
    struct buf t;
    buf_init(&t);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) buf_printf(&t, "%s%s", t.len ? ", " : "", json_string_value(v));
    html_kv(h, k, t.len ? t.data : tr(lang, "none"));
    buf_fini(&t);
}

static void html_encodings(struct buf *h, json_t *enc, const char *lang)
{
    struct buf t;
    buf_init(&t);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(enc, "fields"), key, v)
    {
        if (!json_integer_value(json_object_get(v, "non_ascii"))) continue;
        buf_printf(&t, "%s%s: %s (%s %.2f, %lld %s)", t.len ? "; " : "", key,
                   json_string_value(json_object_get(v, "encoding")), tr(lang, "confidence"),
                   json_number_value(json_object_get(v, "confidence")),
                   (long long)json_integer_value(json_object_get(v, "non_ascii")),
                   tr(lang, "values"));
    }
    html_kv(h, tr(lang, "encodings"), t.len ? t.data : tr(lang, "all text is ASCII"));
    buf_fini(&t);
}

static void html_codes(struct buf *h, json_t *codes, const char *lang)
{
    struct buf t;
    buf_init(&t);
    const char *field, *k;
    json_t *f, *v;
    json_object_foreach(codes, field, f)
    {
        buf_printf(&t, "%s%s: %lld %s (", t.len ? "; " : "", field,
                   (long long)json_integer_value(json_object_get(f, "mapped")), tr(lang, "mapped"));
        int n = 0;
        json_object_foreach(json_object_get(f, "how"), k, v)
        {
            buf_printf(&t, "%s%s %lld", n++ ? ", " : "", k, (long long)json_integer_value(v));
        }
        buf_puts(&t, ")");
        n = 0;
        json_object_foreach(json_object_get(f, "unknown"), k, v)
        {
            buf_printf(&t, "%s%s ×%lld",
                       n++ ? ", " : (strcmp(lang, "vi") ? ", unknown: " : ", không rõ: "), k,
                       (long long)json_integer_value(v));
        }
    }
    html_kv(h, tr(lang, "codes"), t.len ? t.data : tr(lang, "no coded fields"));
    buf_fini(&t);
}

static void html_source(struct buf *h, json_t *src, const char *lang)
{
    json_t *crs = json_object_get(src, "crs");
    buf_puts(h, "<details class=\"src\"><summary>");
    buf_put_xml(h, gets(src, "file"));
    buf_printf(h, " — %lld %s, %lld %s, %lld %s, %lld %s</summary>\n<table>\n",
               (long long)geti(src, "read"), tr(lang, "read"), (long long)geti(src, "written"),
               tr(lang, "written"), (long long)geti(src, "rejected"), tr(lang, "rejected"),
               (long long)geti(src, "repaired"), tr(lang, "repaired"));
    html_kv(h, tr(lang, "format"), gets(src, "format"));
    html_kv(h, tr(lang, "read as"), gets(src, "mode"));
    html_kv(h, tr(lang, "CRS declared"), gets(crs, "declared"));
    html_kv(h, tr(lang, "CRS used"), gets(crs, "used"));
    html_kv(h, tr(lang, "why"), gets(crs, "reason"));
    html_encodings(h, json_object_get(src, "encoding"), lang);
    html_map(h, tr(lang, "fields mapped"),
             json_object_get(json_object_get(src, "fields"), "mapped"), lang);
    html_list(h, tr(lang, "fields not in the catalog"),
              json_object_get(json_object_get(src, "fields"), "unmapped"), lang);
    html_codes(h, json_object_get(src, "codes"), lang);
    if (json_object_get(src, "commune_from_admin_units")) {
        char n[32];
        snprintf(n, sizeof n, "%lld", (long long)geti(src, "commune_from_admin_units"));
        html_kv(h, tr(lang, "commune from admin_units"), n);
    }
    {
        char counts[160];
        snprintf(counts, sizeof counts, "%lld %s, %lld %s",
                 (long long)geti(src, "duplicate_vertices_removed"),
                 tr(lang, "duplicate vertices removed"), (long long)geti(src, "area_mismatches"),
                 tr(lang, "area mismatches"));
        html_kv(h, tr(lang, "geometry"), counts);
    }
    buf_puts(h, "</table>\n");
    json_t *lists[2] = {json_object_get(src, "rejects"), json_object_get(src, "repairs")};
    const char *titles[2] = {"Rejected", "Repaired"}, *keys[2] = {"reason", "repair"};
    for (int i = 0; i < 2; i++) {
        if (!json_array_size(lists[i])) continue;
        buf_printf(h, "<details><summary>%s (%zu %s)</summary><ul class=\"rows\">\n",
                   tr(lang, titles[i]), json_array_size(lists[i]), tr(lang, "listed"));
        size_t k;
        json_t *it;
        json_array_foreach(lists[i], k, it)
        {
            buf_printf(h, "<li>%s %lld: ", tr(lang, "row"), (long long)geti(it, "row"));
            buf_put_xml(h, gets(it, keys[i]));
            buf_puts(h, "</li>\n");
        }
        buf_puts(h, "</ul></details>\n");
    }
    buf_puts(h, "</details>\n");
}

static void html_cell(struct buf *h, json_t *v)
{
    if (json_is_integer(v))
        buf_printf(h, "<td class=\"n\">%lld</td>", (long long)json_integer_value(v));
    else
        buf_puts(h, "<td class=\"n\">–</td>");
}

static void html_summary(struct buf *h, json_t *sum, const char *lang)
{
    static const char *const cols[] = {"features_before", "read",     "written",
                                       "rejected",        "repaired", "added",
                                       "removed",         "changed",  "changed_cells"};
    static const char *const heads[] = {"before", "read",    "written", "rejected",  "repaired",
                                        "added",  "removed", "changed", "tile cells"};
    buf_printf(h, "<h2>%s</h2>\n<table class=\"sum\"><tr><th>%s</th>", tr(lang, "Summary"),
               tr(lang, "layer"));
    for (int i = 0; i < 9; i++)
        buf_printf(h, "<th class=\"n\">%s</th>", tr(lang, heads[i]));
    buf_printf(h, "<th>%s</th></tr>\n", tr(lang, "status"));
    size_t k;
    json_t *row;
    json_array_foreach(json_object_get(sum, "layers"), k, row)
    {
        buf_puts(h, "<tr><td>");
        buf_put_xml(h, gets(row, "layer"));
        buf_puts(h, "<br><small>");
        buf_put_xml(h, gets(row, "title"));
        buf_puts(h, "</small></td>");
        for (int i = 0; i < 9; i++)
            html_cell(h, json_object_get(row, cols[i]));
        const char *st = gets(row, "status");
        buf_printf(h, "<td class=\"%s\">%s</td></tr>\n", st,
                   strcmp(st, "not_written") == 0 && strcmp(lang, "vi") != 0 ? "not written"
                                                                             : tr(lang, st));
    }
    buf_printf(h, "<tr class=\"tot\"><td>%s</td>", tr(lang, "total"));
    for (int i = 0; i < 9; i++)
        html_cell(h, json_object_get(json_object_get(sum, "totals"), cols[i]));
    buf_puts(h, "<td></td></tr>\n</table>\n");
    buf_printf(h, "<p><small>%s</small></p>\n",
               tr(lang, "Compared with the previous batch of each layer (features matched by "
                        "their key)."));
    json_t *lists[2] = {json_object_get(sum, "refused"), json_object_get(sum, "failed")};
    const char *titles[2] = {"Refused layers", "Failed sources"};
    for (int i = 0; i < 2; i++) {
        if (!json_array_size(lists[i])) continue;
        buf_printf(h, "<h3 class=\"bad\">%s</h3><ul>\n", tr(lang, titles[i]));
        json_t *it;
        json_array_foreach(lists[i], k, it)
        {
            buf_puts(h, "<li>");
            buf_put_xml(h, gets(it, i ? "error" : "reason"));
            buf_puts(h, "</li>\n");
        }
        buf_puts(h, "</ul>\n");
    }
}

static char *html(struct batch *b, json_t *sum, const char *lang)
{
    struct buf h;
    buf_init(&h);
    buf_printf(
        &h, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\"><title>spp: ", lang);
    buf_puts(&h, tr(lang, "Import report"));
    buf_puts(&h, " ");
    buf_put_xml(&h, b->batch_id);
    buf_puts(&h,
             "</title><style>body{font:14px sans-serif;margin:1.5em;max-width:72em}"
             "table{border-collapse:collapse;width:100%}th,td{overflow-wrap:anywhere;border:1px "
             "solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}th{background:#f4f4f4}"
             ".src th{width:12em}.n{text-align:right}.sum td small{color:#555}.tot td{font-weight:"
             "bold}.refused,.failed,.bad,.not_written{color:#b00}.ok{color:#060}.warn{color:#a60}"
             "details{margin:"
             ".3em 0}summary{"
             "cursor:pointer}details.layer>summary{font-weight:bold;font-size:15px}details.src{"
             "margin-left:1.5em}.thumb{float:right;margin:0 0 .5em 1em}.rows{max-height:20em;"
             "overflow:auto}p.status{font-size:16px}</style></head><body>\n<h1>");
    buf_puts(&h, tr(lang, "Import report"));
    buf_puts(&h, "</h1>\n<p>");
    buf_printf(&h, "%s: <code>", tr(lang, "Batch"));
    buf_put_xml(&h, b->batch_id);
    buf_printf(&h, "</code> · %s: <code>", tr(lang, "Store"));
    buf_put_xml(&h, gets(b->report, "store"));
    buf_puts(&h, "</code></p>\n");
    const char *st = gets(sum, "status");
    buf_printf(&h, "<p class=\"status %s\"><b>%s</b>%s%s",
               !strcmp(st, "failed") ? "failed"
               : !strcmp(st, "done") ? "ok"
                                     : "warn",
               tr(lang, !strcmp(st, "failed")               ? "Failed: nothing was changed, the "
                                                              "store is as it was (exit code 1)."
                        : !strcmp(st, "done_with_rejected") ? "Done, with rejected features (exit "
                                                              "code 3)."
                                                            : "Done."),
               b->o->dry_run ? " " : "",
               b->o->dry_run ? tr(lang, "Dry run: nothing was written.") : "");
    const char *err = json_string_value(json_object_get(sum, "error"));
    if (err) {
        buf_printf(&h, "<br>%s: ", tr(lang, "Error"));
        buf_put_xml(&h, err);
    }
    buf_puts(&h, "</p>\n");
    html_summary(&h, sum, lang);
    buf_printf(&h, "<h2>%s</h2>\n", tr(lang, "Details"));
    const char *id;
    json_t *lr;
    json_object_foreach(b->layers, id, lr)
    {
        buf_puts(&h, "<details class=\"layer\"><summary>");
        buf_put_xml(&h, id);
        buf_puts(&h, " — ");
        buf_put_xml(&h, gets(lr, strcmp(lang, "vi") ? "title_en" : "title"));
        buf_puts(&h, "</summary>\n<div class=\"thumb\">");
        const char *svg = json_string_value(json_object_get(lr, "thumbnail_svg"));
        if (svg) buf_puts(&h, svg);
        buf_puts(&h, "</div>\n");
        json_t *top = json_object_get(lr, "topology");
        if (top) {
            char t[200];
            if (json_object_get(top, "skipped"))
                snprintf(t, sizeof t, "not checked: %s", gets(top, "skipped"));
            else
                snprintf(t, sizeof t,
                         "%lld overlaps above %.0f m2, %lld gaps below %.0f m2 (see spp_findings)",
                         (long long)geti(top, "overlaps"),
                         json_number_value(json_object_get(top, "overlap_tolerance_m2")),
                         (long long)geti(top, "gaps"),
                         json_number_value(json_object_get(top, "gap_max_m2")));
            buf_puts(&h, "<table class=\"src\">");
            html_kv(&h, tr(lang, "parcel topology"), t);
            buf_puts(&h, "</table>");
        }
        size_t k;
        json_t *src;
        json_array_foreach(json_object_get(lr, "sources"), k, src) html_source(&h, src, lang);
        buf_puts(&h, "<div style=\"clear:both\"></div></details>\n");
    }
    buf_puts(&h, "</body></html>\n");
    return buf_take(&h, NULL);
}

static int write_file(const char *dir, const char *name, const char *data, struct err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    int ok = fputs(data, f) >= 0;
    ok &= fclose(f) == 0;
    return ok ? 0 : err_set(err, ERR_IO, "%s: write failed", path);
}

int report_write(struct batch *b, const char *dir, struct err *err)
{
    struct err local;
    err_clear(&local);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return err_set(err && !err->code ? err : &local, ERR_IO, "%s: %s", dir, strerror(errno));
    const char *lang = report_lang(b->o);
    json_t *sum = summary(b, lang);
    json_object_set_new(b->report, "lang", json_string(lang));
    json_object_set_new(b->report, "summary", sum);
    char *js = json_dumps(b->report, JSON_INDENT(1) | JSON_SORT_KEYS);
    char *hs = html(b, sum, lang);
    int rc = js && hs ? 0 : ERR_NOMEM;
    struct err *e = err && !err->code ? err : &local;
    if (!rc) rc = write_file(dir, "report.json", js, e);
    if (!rc) rc = write_file(dir, "report.html", hs, e);
    free(js), free(hs);
    return rc;
}

/* ---- progress ---- */

void progress_update(struct batch *b, const char *label, int64_t done, int64_t total, int final)
{
    static struct timespec t0, last;
    struct timespec now;
    if (b->progress_fd < 0) return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (done == 0 && !final) {
        t0 = last = now;
        if (!b->o->progress) fprintf(stderr, "import: %s ...\n", label);
        return;
    }
    double since = (double)(now.tv_sec - last.tv_sec) + (double)(now.tv_nsec - last.tv_nsec) / 1e9;
    double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
    double rate = el > 0 ? (double)done / el : 0;
    if (!b->o->progress) {
        if (final)
            fprintf(stderr, "import: %s: %lld features in %.1f s\n", label, (long long)done, el);
        else if (since >= 10)
            fprintf(stderr, "import: %s: %lld features (%.0f/s)\n", label, (long long)done, rate),
                last = now;
        return;
    }
    if (!final && since < 0.1) return;
    last = now;
    int width = 30, filled = total > 0 ? (int)(width * (double)done / (double)total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    double eta = total > 0 && rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r%-48.48s [%s] %lld/%lld %.0f f/s ETA %.0fs\033[K", label,
            total > 0 ? bar : "", (long long)done, (long long)(total > 0 ? total : done), rate,
            final ? 0 : eta);
    if (final) fputc('\n', stderr);
}
