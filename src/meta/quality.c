/* SPDX-License-Identifier: MIT */
/* quality.c: data quality per layer (issue 21): GET /api/v1/quality[?layer=ID] as JSON and, for
 * staff (planner and above), GET /quality as a page. Per layer: features, the completeness of each
 * field the caller may read (share of the rows it may see that have a value), the findings of the
 * last import by kind and severity (spp_findings), and the last import's batch, date and age. */
#include "meta_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kinds {
    struct buf *b;
    int n;
    int html;
};

static int put_kind(void *ud, const char *kind, const char *severity, int64_t n)
{
    struct kinds *k = ud;
    if (k->html) {
        buf_puts(k->b, k->n++ ? ", " : "");
        buf_put_xml(k->b, kind);
        buf_printf(k->b, " (%s) %lld", severity, (long long)n);
        return 0;
    }
    if (k->n++) buf_putc(k->b, ',');
    buf_puts(k->b, "{\"kind\":");
    buf_put_json_str(k->b, kind);
    buf_puts(k->b, ",\"severity\":");
    buf_put_json_str(k->b, severity);
    buf_printf(k->b, ",\"count\":%lld}", (long long)n);
    return 0;
}

/* Seconds since an ISO UTC time "YYYY-MM-DDTHH:MM:SS...", -1 if unreadable. */
static int64_t age_of(const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900, tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : (int64_t)(time(NULL) - t);
}

static int layer_quality(struct request *req, const struct layer_def *l, struct buf *b, int html,
                         struct err *err)
{
    int fields[256], n = 0;
    for (int i = 0; i < l->n_fields && n < 256; i++)
        if (access_field(l, i, req->role)) fields[n++] = i;
    int64_t filled[256], total = 0;
    int rc = store_layer_completeness(req->store, l, req->role, fields, n, filled, &total, err);
    struct store_lineage *lin = malloc(sizeof *lin);
    if (!lin) return err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) rc = store_layer_lineage(req->store, l, lin, err);
    if (rc) {
        free(lin);
        return rc;
    }
    int64_t age = lin->last_date[0] ? age_of(lin->last_date) : -1;
    if (html) {
        buf_puts(b, "<tr><td>");
        buf_put_xml(b, l->id);
        buf_puts(b, "</td><td>");
        buf_put_xml(b, l->title_vi);
        buf_printf(b, "</td><td>%lld</td><td>", (long long)total);
        for (int i = 0; i < n; i++) {
            double pct = total ? 100.0 * (double)filled[i] / (double)total : 0;
            buf_printf(b, "%s<span class=\"%s\">", i ? ", " : "", pct < 90 ? "low" : "ok");
            buf_put_xml(b, l->fields[fields[i]].name);
            buf_printf(b, " %.0f%%</span>", pct);
        }
        buf_puts(b, "</td><td>");
        struct kinds k = {b, 0, 1};
        rc = store_layer_findings(req->store, l, lin->last_batch, put_kind, &k, err);
        buf_puts(b, "</td><td>");
        buf_put_xml(b, lin->last_batch[0] ? lin->last_batch : "—");
        buf_puts(b, "</td><td>");
        if (age >= 0) buf_printf(b, "%.1f", (double)age / 86400.0);
        buf_puts(b, "</td></tr>\n");
        free(lin);
        return rc;
    }
    buf_puts(b, "{\"layer\":");
    buf_put_json_str(b, l->id);
    buf_printf(b, ",\"features\":%lld,\"completeness\":{", (long long)total);
    for (int i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        buf_put_json_str(b, l->fields[fields[i]].name);
        buf_printf(b, ":{\"filled\":%lld,\"ratio\":", (long long)filled[i]);
        buf_put_double(b, total ? (double)filled[i] / (double)total : 0, 4);
        buf_putc(b, '}');
    }
    buf_puts(b, "},\"findings\":[");
    struct kinds k = {b, 0, 0};
    rc = store_layer_findings(req->store, l, lin->last_batch, put_kind, &k, err);
    buf_puts(b, "],\"last_import\":");
    if (lin->last_batch[0]) {
        buf_puts(b, "{\"batch\":");
        buf_put_json_str(b, lin->last_batch);
        buf_puts(b, ",\"date\":");
        buf_put_json_str(b, lin->last_date);
        buf_printf(b, ",\"age_seconds\":%lld}", (long long)age);
    } else {
        buf_puts(b, "null");
    }
    buf_putc(b, '}');
    free(lin);
    return rc;
}

static int quality(struct request *req, struct response *res, int html, struct err *err)
{
    for (int i = 0; i < req->n_args; i++)
        if (strcmp(req->args[i].key, "layer"))
            return err_setl(err, ERR_PARAM, req->args[i].key, "unknown parameter \"%s\"",
                            req->args[i].key);
    const char *id = req_arg(req, "layer");
    const struct catalog *cat = &req->cfg->catalog;
    if (id && !meta_visible(req, catalog_layer(cat, id)))
        return err_set(err, ERR_NOT_FOUND, "no layer \"%s\"", id);
    struct buf *b = &res->body;
    if (html) {
        resp_set(res, 200, "text/html; charset=utf-8");
        buf_puts(b, "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Chất "
                    "lượng dữ liệu / Data quality</title><style>body{font:14px sans-serif;margin:"
                    "1em}td,th{border-bottom:1px solid #ccc;padding:4px;vertical-align:top;"
                    "text-align:left}.low{color:#b00}</style></head><body><h1>Chất lượng dữ liệu"
                    " / Data quality</h1><table><tr><th>id</th><th>Lớp</th><th>Số đối tượng</th>"
                    "<th>Độ đầy đủ / completeness</th><th>Phát hiện / findings</th><th>Lô nhập "
                    "/ batch</th><th>Tuổi (ngày) / age (days)</th></tr>\n");
    } else {
        resp_set(res, 200, "application/json");
        buf_puts(b, "{\"layers\":[");
    }
    int rc = 0, n = 0;
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        const struct layer_def *l = &cat->layers[i];
        if (!meta_visible(req, l) || (id && strcmp(id, l->id))) continue;
        if (!html && n) buf_putc(b, ',');
        n++;
        rc = layer_quality(req, l, b, html, err);
    }
    if (rc) return rc;
    return buf_puts(b, html ? "</table></body></html>\n" : "]}\n") ? ERR_NOMEM : 0;
}

int meta_quality(struct request *req, struct response *res, struct err *err)
{
    return quality(req, res, 0, err);
}

int meta_quality_page(struct request *req, struct response *res, struct err *err)
{
    if (req->role < ROLE_PLANNER) {
        err_set(err, ERR_FORBIDDEN, "the data-quality page is for staff (a planner or admin key)");
        err->http_status = 403;
        return ERR_FORBIDDEN;
    }
    return quality(req, res, 1, err);
}
