/* SPDX-License-Identifier: MIT */
/* ogc: the OGC web services (WMS, WFS, WMTS), their capabilities and exception reports. */
#ifndef SPP_OGC_H
#define SPP_OGC_H

#include "../config/config.h"
#include "../core/request.h"

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

/* /ows: dispatches by SERVICE= (WMS here; other services add their case). */
int ows_dispatch(struct request *req, struct response *res, struct err *err);

#endif
