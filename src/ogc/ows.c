/* SPDX-License-Identifier: MIT */
/* ows.c: /ows, the one endpoint for every OGC web service, chosen by SERVICE= (KVP) or, for a
 * POST, taken as WFS (the only service here with an XML request encoding). WMS is added by the
 * WMS module; unknown or missing services get an OWS ExceptionReport. */
#include "ogc.h"

#include <stdio.h>
#include <string.h>

int ows_dispatch(struct request *req, struct response *res, struct err *err)
{
    req->err_form = FORM_OWS;
    if (strcmp(req->method, "POST") == 0 && req->body && req->body_len)
        return wfs_dispatch(req, res, err);
    const char *service = req_arg_ci(req, "SERVICE");
    if (service && str_ieq(service, "WFS")) return wfs_dispatch(req, res, err);
    int rc = err_setl(err, ERR_PARAM, "service",
                      service && *service ? "unknown service \"%s\" (WFS, WMS)"
                                          : "SERVICE is required%s (WFS, WMS)",
                      service ? service : "");
    snprintf(err->ogc_code, sizeof err->ogc_code, "%s",
             service && *service ? "InvalidParameterValue" : "MissingParameterValue");
    return rc;
}
