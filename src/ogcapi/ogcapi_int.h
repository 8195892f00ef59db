/* SPDX-License-Identifier: MIT */
/* ogcapi_int.h: helpers the OGC API files share: links, URL encoding, the collection of a
 * request, CRS and sortby parameters, the HTML items page. */
#ifndef SPP_OGCAPI_INT_H
#define SPP_OGCAPI_INT_H

#include "../config/config.h"
#include "../encode/encode.h"
#include "../filter/filter.h"
#include "ogcapi.h"

/* Appends {"href":..,"rel":..,"type":..[,"title":..]} with a ',' after the first. */
void ogcapi_link(struct buf *b, int *first, const char *href, const char *rel, const char *type,
                 const char *title);
void ogcapi_url_encode(struct buf *b, const char *s);
/* The language of titles and descriptions (collections.c): ?lang=vi|en (anything else is
 * ERR_PARAM naming lang), else the language of Accept-Language with the highest q among vi and
 * en (vi, the catalog's first language, when it names neither). Sets Content-Language on res;
 * *en is 1 for English. */
int ogcapi_lang(const struct request *req, struct response *res, int *en, struct err *err);
/* text in that language, the other one when it has none. */
const char *ogcapi_text(int en, const char *vi, const char *en_text);
/* The {layer} path parameter as a layer the role may read; ERR_NOT_FOUND otherwise. */
int ogcapi_layer_for(struct request *req, const struct layer_def **out, struct err *err);
/* An advertised CRS (CRS84 when value is NULL); ERR_PARAM naming param otherwise. */
int ogcapi_parse_crs(struct request *req, const char *value, const char *param, int *srid,
                     struct err *err);
int ogcapi_parse_sortby(struct request *req, const struct layer_def *l, const char *value,
                        int *order, int *desc, int *n_order, struct err *err);
/* The HTML items page: a table of the features and a small SVG map. f is checked (may be NULL). */
int ogcapi_items_html(struct request *req, struct response *res, const struct layer_def *l,
                      const struct filter *f, int64_t limit, int64_t offset, struct err *err);

#endif
