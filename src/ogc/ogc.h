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

#endif
