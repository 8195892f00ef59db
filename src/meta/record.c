/* SPDX-License-Identifier: MIT */
/* record.c: a layer's metadata record from the catalog and the store: the extent in the storage
 * CRS and in WGS 84 (the one geo_transform_bbox path, EPSG:6960), the feature count the caller's
 * role may read, the last import and the lineage. */
#include "meta_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int meta_record_load(struct request *req, const struct layer_def *layer, struct meta_record *r,
                     struct err *err)
{
    memset(r, 0, sizeof *r);
    if (!meta_visible(req, layer))
        return err_setl(err, ERR_NOT_FOUND, "id", "no layer \"%s\"", layer ? layer->id : "");
    r->layer = layer;
    struct layer_state ls;
    int rc = store_layer_state_role(req->store, layer, req->role, &ls, err);
    if (rc) return rc;
    r->n_features = ls.n_features;
    r->srid = store_srid(req->store);
    if (ls.has_extent && ls.n_features > 0 && !bbox_is_empty(&ls.extent)) {
        r->extent = ls.extent;
        if (geo_transform_bbox(req->geo, r->srid, GEO_SRID_CRS84, &ls.extent, &r->wgs84, err))
            return err->code ? err->code : ERR_INTERNAL;
        r->has_extent = 1;
    }
    return store_layer_lineage(req->store, layer, &r->lineage, err);
}

void meta_date(const struct meta_record *r, char out[11])
{
    const char *d = r->lineage.last_date;
    size_t n = strlen(d) >= 10 ? 10 : 0;
    memcpy(out, d, n);
    out[n] = '\0';
}

int meta_visible(const struct request *req, const struct layer_def *layer)
{
    return layer && access_layer(layer, req->role);
}

void meta_link(struct buf *b, const struct request *req, const char *path, const char *id,
               const char *query)
{
    buf_puts(b, req->base_url);
    buf_puts(b, path);
    if (id) buf_puts(b, id);
    if (query) buf_puts(b, query);
}

char *meta_fold(const char *s)
{
    utf8proc_uint8_t *dec = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)(s ? s : ""), 0, &dec,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                          UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0) return NULL;
    size_t o = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        if (dec[i] == 0xC4 && i + 1 < n && (dec[i + 1] == 0x91 || dec[i + 1] == 0x90)) {
            dec[o++] = 'd'; /* đ (casefold maps Đ to đ already) */
            i++;
            continue;
        }
        dec[o++] = dec[i];
    }
    dec[o] = '\0';
    return (char *)dec;
}
