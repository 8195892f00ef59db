/* SPDX-License-Identifier: MIT */
/* report.c: what a batch did, for people and for tests: report.json (per layer and per source:
 * read, written, rejected with reasons, repaired, CRS declared/detected/used with the reason, the
 * encoding of each field with its confidence, fields mapped, codes mapped and unknown, parcel
 * topology) and report.html (the same, readable, with an SVG thumbnail of each layer drawn from
 * the store), and the progress bar (a terminal) or plain progress lines (a log). */
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

static char *thumbnail(struct batch *b, const struct layer_def *l)
{
    struct layer_state ls;
    struct err err;
    err_clear(&err);
    if (store_layer_state(b->st, l, &ls, &err) || !ls.has_extent) return NULL;
    struct bbox e = ls.extent;
    double w = e.maxx - e.minx, h = e.maxy - e.miny, side = w > h ? w : h;
    if (side <= 0) side = 1;
    double scale = 200.0 / side;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT AsBinary(geom) FROM \"%s\" ORDER BY fid LIMIT 4000", l->id);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(b->db, sql, -1, &s, NULL) != SQLITE_OK) return NULL;
    struct buf svg;
    buf_init(&svg);
    int poly = l->geom == GT_POLYGON || l->geom == GT_MULTIPOLYGON, pts = l->geom == GT_POINT;
    buf_printf(
        &svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"-2 -2 "
        "%.0f %.0f\">"
        "<path fill=\"%s\" stroke=\"#235\" stroke-width=\"%s\" stroke-linecap=\"round\" d=\"",
        w * scale + 4, h * scale + 4, w * scale + 4, h * scale + 4,
        poly ? "rgba(80,150,200,0.25)" : "none", pts ? "3" : "0.6");
    struct geom g;
    geom_init(&g);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (geom_from_wkb(&g, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                          &err) == 0)
            svg_path(&svg, &g, &e, scale, poly);
    }
    geom_fini(&g);
    sqlite3_finalize(s);
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
static void html_map(struct buf *h, const char *k, json_t *obj)
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
    html_kv(h, k, t.len ? t.data : "none");
    buf_fini(&t);
}

static void html_list(struct buf *h, const char *k, json_t *arr)
{
    struct buf t;
    buf_init(&t);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) buf_printf(&t, "%s%s", t.len ? ", " : "", json_string_value(v));
    html_kv(h, k, t.len ? t.data : "none");
    buf_fini(&t);
}

static void html_encodings(struct buf *h, json_t *enc)
{
    struct buf t;
    buf_init(&t);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(enc, "fields"), key, v)
    {
        if (!json_integer_value(json_object_get(v, "non_ascii"))) continue;
        buf_printf(&t, "%s%s: %s (confidence %.2f, %lld values)", t.len ? "; " : "", key,
                   json_string_value(json_object_get(v, "encoding")),
                   json_number_value(json_object_get(v, "confidence")),
                   (long long)json_integer_value(json_object_get(v, "non_ascii")));
    }
    html_kv(h, "encodings", t.len ? t.data : "all text is ASCII");
    buf_fini(&t);
}

static void html_codes(struct buf *h, json_t *codes)
{
    struct buf t;
    buf_init(&t);
    const char *field, *k;
    json_t *f, *v;
    json_object_foreach(codes, field, f)
    {
        buf_printf(&t, "%s%s: %lld mapped (", t.len ? "; " : "", field,
                   (long long)json_integer_value(json_object_get(f, "mapped")));
        int n = 0;
        json_object_foreach(json_object_get(f, "how"), k, v)
        {
            buf_printf(&t, "%s%s %lld", n++ ? ", " : "", k, (long long)json_integer_value(v));
        }
        buf_puts(&t, ")");
        n = 0;
        json_object_foreach(json_object_get(f, "unknown"), k, v)
        {
            buf_printf(&t, "%s%s ×%lld", n++ ? ", " : ", unknown: ", k,
                       (long long)json_integer_value(v));
        }
    }
    html_kv(h, "codes", t.len ? t.data : "no coded fields");
    buf_fini(&t);
}

static void html_source(struct buf *h, json_t *src)
{
    json_t *crs = json_object_get(src, "crs");
    buf_puts(h, "<h3>");
    buf_put_xml(h, json_string_value(json_object_get(src, "file")));
    buf_printf(h, "</h3>\n<table>\n");
    html_kv(h, "format", json_string_value(json_object_get(src, "format")));
    html_kv(h, "read as", json_string_value(json_object_get(src, "mode")));
    char counts[160];
    snprintf(counts, sizeof counts, "%lld read, %lld written, %lld rejected, %lld repaired",
             (long long)json_integer_value(json_object_get(src, "read")),
             (long long)json_integer_value(json_object_get(src, "written")),
             (long long)json_integer_value(json_object_get(src, "rejected")),
             (long long)json_integer_value(json_object_get(src, "repaired")));
    html_kv(h, "features", counts);
    snprintf(counts, sizeof counts, "%lld duplicate vertices removed, %lld area mismatches",
             (long long)json_integer_value(json_object_get(src, "duplicate_vertices_removed")),
             (long long)json_integer_value(json_object_get(src, "area_mismatches")));
    html_kv(h, "geometry", counts);
    html_kv(h, "CRS declared", json_string_value(json_object_get(crs, "declared")));
    html_kv(h, "CRS used", json_string_value(json_object_get(crs, "used")));
    html_kv(h, "why", json_string_value(json_object_get(crs, "reason")));
    html_encodings(h, json_object_get(src, "encoding"));
    html_map(h, "fields mapped", json_object_get(json_object_get(src, "fields"), "mapped"));
    html_list(h, "fields not in the catalog",
              json_object_get(json_object_get(src, "fields"), "unmapped"));
    html_codes(h, json_object_get(src, "codes"));
    buf_puts(h, "</table>\n");
    json_t *lists[2] = {json_object_get(src, "rejects"), json_object_get(src, "repairs")};
    const char *titles[2] = {"Rejected", "Repaired"}, *keys[2] = {"reason", "repair"};
    for (int i = 0; i < 2; i++) {
        if (!json_array_size(lists[i])) continue;
        buf_printf(h, "<details><summary>%s (%zu listed)</summary><ul>\n", titles[i],
                   json_array_size(lists[i]));
        size_t k;
        json_t *it;
        json_array_foreach(lists[i], k, it)
        {
            buf_printf(h,
                       "<li>row %lld: ", (long long)json_integer_value(json_object_get(it, "row")));
            buf_put_xml(h, json_string_value(json_object_get(it, keys[i])));
            buf_puts(h, "</li>\n");
        }
        buf_puts(h, "</ul></details>\n");
    }
}

static char *html(struct batch *b)
{
    struct buf h;
    buf_init(&h);
    buf_puts(&h,
             "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>spp import ");
    buf_put_xml(&h, b->batch_id);
    buf_puts(
        &h,
        "</title><style>body{font:14px sans-serif;margin:2em;max-width:70em}table{border-collapse:"
        "collapse;table-layout:fixed;width:100%}th,td{overflow-wrap:anywhere;border:1px solid "
        "#ccc;padding:2px 6px;text-align:left;vertical-align:top}"
        "th{background:#f4f4f4;width:12em}.layer{display:flex;gap:1.5em;border-top:2px solid #357;"
        "margin-top:1.5em}.thumb{flex:none;padding-top:1em}</style></head><body>\n<h1>Import ");
    buf_put_xml(&h, b->batch_id);
    buf_printf(&h, "</h1>\n<p>%lld features read, %lld written, %lld rejected%s. Store: ",
               (long long)b->n_read, (long long)b->n_written, (long long)b->n_rejected,
               b->o->dry_run ? " (dry run: nothing written)" : "");
    buf_put_xml(&h, json_string_value(json_object_get(b->report, "store")));
    buf_puts(&h, "</p>\n");
    const char *err = json_string_value(json_object_get(b->report, "error"));
    if (err) {
        buf_puts(&h, "<p style=\"color:#b00\"><b>Failed:</b> ");
        buf_put_xml(&h, err);
        buf_puts(&h, " (the store is unchanged)</p>\n");
    }
    const char *id;
    json_t *lr;
    json_object_foreach(b->layers, id, lr)
    {
        buf_puts(&h, "<div class=\"layer\"><div class=\"thumb\">");
        const char *svg = json_string_value(json_object_get(lr, "thumbnail_svg"));
        if (svg) buf_puts(&h, svg);
        buf_puts(&h, "</div><div><h2>");
        buf_put_xml(&h, id);
        buf_puts(&h, " — ");
        buf_put_xml(&h, json_string_value(json_object_get(lr, "title")));
        buf_printf(&h, "</h2><p>%lld read, %lld written, %lld rejected, %lld repaired</p>\n",
                   (long long)json_integer_value(json_object_get(lr, "read")),
                   (long long)json_integer_value(json_object_get(lr, "written")),
                   (long long)json_integer_value(json_object_get(lr, "rejected")),
                   (long long)json_integer_value(json_object_get(lr, "repaired")));
        json_t *top = json_object_get(lr, "topology");
        if (top) {
            char t[160];
            if (json_object_get(top, "skipped"))
                snprintf(t, sizeof t, "not checked: %s",
                         json_string_value(json_object_get(top, "skipped")));
            else
                snprintf(t, sizeof t,
                         "%lld overlaps above %.0f m2, %lld gaps below %.0f m2 (see spp_findings)",
                         (long long)json_integer_value(json_object_get(top, "overlaps")),
                         json_number_value(json_object_get(top, "overlap_tolerance_m2")),
                         (long long)json_integer_value(json_object_get(top, "gaps")),
                         json_number_value(json_object_get(top, "gap_max_m2")));
            buf_puts(&h, "<table>");
            html_kv(&h, "parcel topology", t);
            buf_puts(&h, "</table>");
        }
        size_t k;
        json_t *src;
        json_array_foreach(json_object_get(lr, "sources"), k, src) html_source(&h, src);
        buf_puts(&h, "</div></div>\n");
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
    char *js = json_dumps(b->report, JSON_INDENT(1) | JSON_SORT_KEYS);
    char *hs = html(b);
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
