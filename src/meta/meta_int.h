/* SPDX-License-Identifier: MIT */
/* meta_int.h: helpers shared inside src/meta/. */
#ifndef SPP_META_INT_H
#define SPP_META_INT_H

#include "meta.h"

/* 1 if the caller may discover layer (it may read it). */
int meta_visible(const struct request *req, const struct layer_def *layer);
/* Appends base_url + path [+ id] [+ query] (unescaped: ids come from the catalog). */
void meta_link(struct buf *b, const struct request *req, const char *path, const char *id,
               const char *query);

/* The service endpoints a record links to, as (protocol, path, query, layer-name prefix). */
struct meta_service {
    const char *protocol;    /* "OGC:WMS", "OGC:WFS", "OGC:API-Features", ... */
    const char *path;        /* "/wms" */
    const char *query;       /* "?SERVICE=WMS&REQUEST=GetCapabilities" or NULL */
    const char *name_prefix; /* prefix of the layer's name in that service ("spp:") */
    const char *mime;        /* media type of the link */
};
extern const struct meta_service meta_services[];
extern const int meta_n_services;
/* Appends the service's URL for layer l (per-layer endpoints, name_prefix NULL, carry the id). */
void meta_service_url(struct buf *b, const struct request *req, const struct meta_service *s,
                      const struct layer_def *l);
/* Case-, mark- and đ-insensitive form of s for text search (caller frees); NULL on ERR_NOMEM. */
char *meta_fold(const char *s);

#endif
