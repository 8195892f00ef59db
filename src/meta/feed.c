/* SPDX-License-Identifier: MIT */
/* feed.c: GET /api/v1/changes?layer=ID[&since=TIME][&after=ID][&limit=N] (issue 21): the
 * features each import inserted, updated and deleted (spp_feature_changes), oldest first, so an
 * agency that keeps a copy applies them instead of downloading the layer again. Each change:
 * id (the cursor), op, key (natural key, else fid), fid (fetch the feature at
 * /collections/{layer}/items/{fid}; none for a delete), batch, time. Paged by id: "next" carries
 * after=the last id. A layer the caller may not read is a 404; rows it may not see are left out. */
#include "meta_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct feed {
    struct buf *b;
    int n;
    int64_t last;
};

static int put_change(void *ud, const struct store_feature_change *c)
{
    struct feed *f = ud;
    struct buf *b = f->b;
    if (f->n++) buf_putc(b, ',');
    buf_printf(b, "{\"id\":%lld,\"op\":\"%s\",\"key\":", (long long)c->id, c->op);
    buf_put_json_str(b, c->key ? c->key : "");
    if (c->has_fid)
        buf_printf(b, ",\"fid\":%lld", (long long)c->fid);
    else
        buf_puts(b, ",\"fid\":null");
    buf_puts(b, ",\"batch\":");
    buf_put_json_str(b, c->batch ? c->batch : "");
    buf_puts(b, ",\"time\":");
    buf_put_json_str(b, c->at ? c->at : "");
    buf_putc(b, '}');
    f->last = c->id;
    return buf_putc(b, '\n') ? ERR_NOMEM : 0;
}

static int parse_int(const char *v, const char *name, int64_t min, int64_t max, int64_t *out,
                     struct err *err)
{
    char *end;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || n < min || n > max)
        return err_setl(err, ERR_PARAM, name, "%s must be an integer %lld..%lld", name,
                        (long long)min, (long long)max);
    *out = n;
    return 0;
}

int meta_changes(struct request *req, struct response *res, struct err *err)
{
    static const char *const known[] = {"layer", "since", "after", "limit", "f"};
    for (int i = 0; i < req->n_args; i++) {
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof *known; k++)
            ok |= !strcmp(req->args[i].key, known[k]);
        if (!ok)
            return err_setl(err, ERR_PARAM, req->args[i].key, "unknown parameter \"%s\"",
                            req->args[i].key);
    }
    const char *id = req_arg(req, "layer"), *since = req_arg(req, "since");
    const char *f = req_arg(req, "f");
    if (f && strcmp(f, "json")) return err_setl(err, ERR_PARAM, "f", "f must be json");
    if (!id || !*id) return err_setl(err, ERR_PARAM, "layer", "layer is required");
    const struct layer_def *l = catalog_layer(&req->cfg->catalog, id);
    if (!meta_visible(req, l)) return err_set(err, ERR_NOT_FOUND, "no layer \"%s\"", id);
    if (since && (strlen(since) < 10 || strlen(since) > 30 || since[4] != '-' || since[7] != '-'))
        return err_setl(err, ERR_PARAM, "since", "since must be an ISO date or time (UTC)");
    int64_t after = 0, limit = 1000;
    int max = req->cfg->limits.max_features > 0 ? req->cfg->limits.max_features : 10000;
    int rc;
    if (req_arg(req, "after") &&
        (rc = parse_int(req_arg(req, "after"), "after", 0, INT64_MAX / 2, &after, err)))
        return rc;
    if (req_arg(req, "limit") &&
        (rc = parse_int(req_arg(req, "limit"), "limit", 1, max, &limit, err)))
        return rc;
    resp_set(res, 200, "application/json");
    struct buf *b = &res->body;
    buf_puts(b, "{\"layer\":");
    buf_put_json_str(b, l->id);
    buf_puts(b, ",\"since\":");
    if (since)
        buf_put_json_str(b, since);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"changes\":[\n");
    struct feed fd = {b, 0, after};
    int more = 0;
    rc = store_feature_changes(req->store, l, req->role, since, after, limit, put_change, &fd,
                               &more, err);
    if (rc) return rc;
    buf_printf(b, "],\"numberReturned\":%d,\"links\":[", fd.n);
    if (more) {
        buf_puts(b, "{\"rel\":\"next\",\"type\":\"application/json\",\"href\":");
        struct buf u;
        buf_init(&u);
        buf_printf(&u, "%s/api/v1/changes?layer=%s&after=%lld&limit=%lld", req->base_url, l->id,
                   (long long)fd.last, (long long)limit);
        if (since) buf_printf(&u, "&since=%s", since);
        buf_put_json_str(b, buf_str(&u));
        buf_fini(&u);
        buf_putc(b, '}');
    }
    return buf_puts(b, "]}\n") ? ERR_NOMEM : 0;
}
