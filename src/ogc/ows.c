/* SPDX-License-Identifier: MIT */
/* ows.c: /ows, the one endpoint for several OGC services, chosen by SERVICE= (kept tiny: each
 * service adds its one case). A POST is WFS, the only service here with an XML encoding. */
#include "ogc.h"

#include <stdio.h>
#include <string.h>

int ows_dispatch(struct request *req, struct response *res, struct err *err)
{
    if (strcmp(req->method, "POST") == 0) return wfs_dispatch(req, res, err);
    const char *service = req_arg_ci(req, "SERVICE");
    if (service && str_ieq(service, "WFS")) return wfs_dispatch(req, res, err);
    if (!service || str_ieq(service, "WMS")) return wms_dispatch(req, res, err);
    if (str_ieq(service, "WMTS")) {
        req->err_form = FORM_OWS;
        return wmts_kvp(req, res, err);
    }
    req->err_form = FORM_OWS;
    err_setl(err, ERR_PARAM, "SERVICE", "unknown SERVICE \"%s\" (WMS, WFS)", service);
    snprintf(err->ogc_code, sizeof err->ogc_code, "InvalidParameterValue");
    return ERR_PARAM;
}
