/* SPDX-License-Identifier: MIT */
/* ows.c: /ows, the one endpoint for several OGC services, chosen by SERVICE= (kept tiny: each
 * service adds its one case). A POST is WFS, the only service here with an XML encoding. Also the
 * LANGUAGE parameter the capabilities documents share. */
#include "ogc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

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

enum ogc_lang ogc_language(const struct request *req)
{
    const char *l = req_arg_ci(req, "LANGUAGE");
    if (!l || !*l) return OGC_LANG_BOTH;
    if (str_ieq(l, "vie") || str_ieq(l, "vi") || strncasecmp(l, "vi-", 3) == 0) return OGC_LANG_VI;
    if (str_ieq(l, "eng") || str_ieq(l, "en") || strncasecmp(l, "en-", 3) == 0) return OGC_LANG_EN;
    return OGC_LANG_BOTH;
}

void ogc_put_text(struct buf *b, enum ogc_lang lang, const char *vi, const char *en,
                  const char *sep)
{
    if (lang == OGC_LANG_EN && en && *en) {
        buf_put_xml(b, en);
    } else if (lang == OGC_LANG_VI || !en || !*en) {
        buf_put_xml(b, vi ? vi : "");
    } else {
        if (vi && *vi) buf_put_xml(b, vi), buf_puts(b, sep);
        buf_put_xml(b, en);
    }
}
