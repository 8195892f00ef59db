/* SPDX-License-Identifier: MIT */
/* ogc: the OGC web services (WMS, WFS, WMTS), their capabilities and exception reports. It owns
 * the protocols (KVP and XML requests, collections, paging, GetFeatureInfo hit picking); feature
 * values and geometries are written by src/encode/, and nothing is borrowed from ogcapi/. */
#ifndef SPP_OGC_H
#define SPP_OGC_H

#include "../config/config.h"
#include "../core/request.h"
#include "../encode/encode.h"
#include "../geo/geo.h"
#include "../store/store.h"

/* Exceptions (exception.c). */
/* OWS 1.1/2.0 ExceptionReport with exceptionCode (err->ogc_code or derived) and locator. */
void ows_exception_report(struct response *res, int status, const struct err *err);
/* WMS ServiceExceptionReport (1.3.0 or 1.1.1 from VERSION=); honours EXCEPTIONS=. */
void wms_service_exception(const struct request *req, struct response *res, int status,
                           const struct err *err);

/* WMS (wms.c): GET /wms and SERVICE=WMS at /ows. REQUEST= picks GetCapabilities, GetMap,
 * GetFeatureInfo or GetLegendGraphic; errors are ERR_PARAM with err->ogc_code set. */
int wms_dispatch(struct request *req, struct response *res, struct err *err);
/* EXCEPTIONS=INIMAGE / BLANK of a GetMap: writes an image (the message drawn in it, or empty)
 * into res and returns 1; 0 when the request did not ask for it or cannot be answered so. */
int wms_exception_image(const struct request *req, struct response *res, const struct err *err);

/* WMTS 1.0.0 (wmts.c): KVP at /wmts (and SERVICE=WMTS at /ows), RESTful capabilities and
 * tiles under /wmts/1.0.0/. Errors are ERR_PARAM with err->ogc_code (OWS ExceptionReport). */
int wmts_kvp(struct request *req, struct response *res, struct err *err);
int wmts_rest_capabilities(struct request *req, struct response *res, struct err *err);
int wmts_rest_tile(struct request *req, struct response *res, struct err *err);

/* /ows: dispatches by SERVICE= (WMS here; other services add their case). */
int ows_dispatch(struct request *req, struct response *res, struct err *err);

/* Capabilities language (ows.c): the INSPIRE-style LANGUAGE parameter of WMS 1.3.0 / 1.1.1 and
 * WFS 2.0.0 / 1.1.0 GetCapabilities. "vie"/"vi" (also vi-VN) and "eng"/"en" (en-*) pick one
 * language; without it, or with a language spp does not have, the answer stays bilingual (the
 * default language, as INSPIRE asks for an unsupported one). */
enum ogc_lang { OGC_LANG_BOTH, OGC_LANG_VI, OGC_LANG_EN };
enum ogc_lang ogc_language(const struct request *req);
/* The catalog text in lang: vi, en, or "vi / en" (sep between) for OGC_LANG_BOTH; NULL parts are
 * skipped. Appends XML-escaped to b. */
void ogc_put_text(struct buf *b, enum ogc_lang lang, const char *vi, const char *en,
                  const char *sep);

/* WFS 2.0.0 and 1.1.0 (wfs.c, wfs_get.c): KVP (GET) and XML (POST) on /wfs. */
int wfs_dispatch(struct request *req, struct response *res, struct err *err);

#endif
