/* SPDX-License-Identifier: MIT */
/* exception.c: OWS ExceptionReport (WFS, WMTS) and WMS ServiceExceptionReport documents. */
#include "ogc.h"

#include <string.h>

static const char *ows_code(const struct err *err)
{
    if (err->ogc_code[0]) return err->ogc_code;
    switch (err->code) {
    case ERR_PARAM:
        return err->locator[0] ? "InvalidParameterValue" : "InvalidRequest";
    case ERR_NOT_FOUND:
        return "NotFound";
    case ERR_UNSUPPORTED:
        return "OperationNotSupported";
    case ERR_FORBIDDEN:
        return "AccessDenied";
    case ERR_LIMIT:
        return "NoApplicableCode";
    default:
        return "NoApplicableCode";
    }
}

void ows_exception_report(struct response *res, int status, const struct err *err)
{
    resp_set(res, status, "application/xml; charset=utf-8");
    struct buf *b = &res->body;
    buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<ows:ExceptionReport xmlns:ows=\"http://www.opengis.net/ows/1.1\""
                " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                " xsi:schemaLocation=\"http://www.opengis.net/ows/1.1"
                " http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd\""
                " version=\"2.0.0\" xml:lang=\"en\">\n  <ows:Exception exceptionCode=\"");
    buf_put_xml(b, ows_code(err));
    buf_puts(b, "\"");
    if (err->locator[0]) {
        buf_puts(b, " locator=\"");
        buf_put_xml(b, err->locator);
        buf_puts(b, "\"");
    }
    buf_puts(b, ">\n    <ows:ExceptionText>");
    buf_put_xml(b, err->msg);
    buf_puts(b, "</ows:ExceptionText>\n  </ows:Exception>\n</ows:ExceptionReport>\n");
}

void wms_service_exception(const struct request *req, struct response *res, int status,
                           const struct err *err)
{
    if (wms_exception_image(req, res, err)) return; /* EXCEPTIONS=INIMAGE / BLANK */
    const char *version = req_arg_ci(req, "VERSION");
    if (!version) version = req_arg_ci(req, "WMTVER");
    int v111 = version && strcmp(version, "1.1.1") == 0;
    const char *code = err->ogc_code[0] ? err->ogc_code : NULL;
    /* WMS 1.3.0 6.11: exceptions are returned with a 200 status in the XML form by default; most
     * clients (QGIS, OWSLib) read the XML either way, so the status says what went wrong. */
    resp_set(res, status,
             v111 ? "application/vnd.ogc.se_xml; charset=utf-8" : "text/xml; charset=utf-8");
    struct buf *b = &res->body;
    if (v111)
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<ServiceExceptionReport version=\"1.1.1\">\n  <ServiceException");
    else
        buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<ServiceExceptionReport version=\"1.3.0\""
                    " xmlns=\"http://www.opengis.net/ogc\""
                    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                    " xsi:schemaLocation=\"http://www.opengis.net/ogc"
                    " http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd\">\n"
                    "  <ServiceException");
    if (code) {
        buf_puts(b, " code=\"");
        buf_put_xml(b, code);
        buf_puts(b, "\"");
    }
    if (err->locator[0]) {
        buf_puts(b, " locator=\"");
        buf_put_xml(b, err->locator);
        buf_puts(b, "\"");
    }
    buf_puts(b, ">");
    buf_put_xml(b, err->msg);
    buf_puts(b, "</ServiceException>\n</ServiceExceptionReport>\n");
}
