/* SPDX-License-Identifier: MIT */
/* ogcapi: OGC API Features: landing page, conformance, collections (from the catalog with the
 * store's real extents and counts), items, queryables and the OpenAPI document. It owns the
 * protocol (parameters, links, paging, numberMatched); features are written by src/encode/, never
 * here, and nothing here is shared with ogc/ (issue 23). */
#ifndef SPP_OGCAPI_H
#define SPP_OGCAPI_H

#include "../core/request.h"
#include "../geo/geo.h"
#include "../store/store.h"

int ogcapi_landing(struct request *req, struct response *res, struct err *err);
int ogcapi_conformance(struct request *req, struct response *res, struct err *err);
int ogcapi_collections(struct request *req, struct response *res, struct err *err);
int ogcapi_collection(struct request *req, struct response *res, struct err *err);

int ogcapi_items(struct request *req, struct response *res, struct err *err);
int ogcapi_item(struct request *req, struct response *res, struct err *err);
int ogcapi_queryables(struct request *req, struct response *res, struct err *err);
int ogcapi_openapi(struct request *req, struct response *res, struct err *err);

/* Part 4 (edit.c, issue 20): POST items, PUT / PATCH / DELETE an item. */
int ogcapi_item_create(struct request *req, struct response *res, struct err *err);
int ogcapi_item_replace(struct request *req, struct response *res, struct err *err);
int ogcapi_item_update(struct request *req, struct response *res, struct err *err);
int ogcapi_item_delete(struct request *req, struct response *res, struct err *err);

#endif
