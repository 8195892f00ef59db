/* SPDX-License-Identifier: MIT */
/* ows.c: /ows, the one endpoint for several OGC services, chosen by SERVICE= (kept tiny: each
 * service adds its one case). */
#include "ogc.h"

#include <stdio.h>

int ows_dispatch(struct request *req, struct response *res, struct err *err)
{
    const char *service = req_arg_ci(req, "SERVICE");
    if (!service || str_ieq(service, "WMS")) return wms_dispatch(req, res, err);
    req->err_form = FORM_OWS;
    err_setl(err, ERR_PARAM, "SERVICE", "unknown SERVICE \"%s\"", service);
    snprintf(err->ogc_code, sizeof err->ogc_code, "InvalidParameterValue");
    return ERR_PARAM;
}
