/* SPDX-License-Identifier: MIT */
/* errors.c: the edge where a handler's error becomes an answer: RFC 7807 problem JSON for OGC API
 * and /api, OWS ExceptionReport for WFS/WMTS, ServiceExceptionReport for WMS. */
#include "http.h"

#include <unistd.h>

#include "../ogc/ogc.h"

int http_status_for(const struct err *err)
{
    if (err->http_status) return err->http_status;
    switch (err->code) {
    case ERR_NOMEM:
        return 503; /* out of memory is passing: the client may retry (Retry-After) */
    case ERR_PARAM:
    case ERR_UNSUPPORTED:
    case ERR_LIMIT:
        return 400; /* 413/429/503 are set explicitly where they apply */
    case ERR_NOT_FOUND:
        return 404;
    case ERR_FORBIDDEN:
        return 401;
    default:
        return 500;
    }
}

static const char *title_for(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 423:
        return "Locked";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

void http_write_error(const struct request *req, struct response *res, const struct err *err)
{
    int status = http_status_for(err);
    if (res->has_body_fd) /* an error never goes out with a file body (a download) attached */
        for (int i = 0; i < res->n_headers; i++) /* the file's name went with the file */
            if (str_ieq(res->headers[i].name, "Content-Disposition"))
                res->headers[i--] = res->headers[--res->n_headers];
    resp_body_clear(res); /* nor with a cached tile's bytes, nor a file */
    if (status == 401) resp_header(res, "WWW-Authenticate", "Bearer realm=\"spp\"");
    switch (req->err_form) {
    case FORM_OWS:
        ows_exception_report(res, status, err);
        return;
    case FORM_WMS:
        wms_service_exception(req, res, status, err);
        return;
    case FORM_TEXT:
        resp_set(res, status, "text/plain; charset=utf-8");
        buf_printf(&res->body, "%s\n", err->msg);
        return;
    default:
        break;
    }
    resp_set(res, status, "application/problem+json");
    buf_printf(&res->body, "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,\"detail\":",
               title_for(status), status);
    buf_put_json_str(&res->body, err->msg[0] ? err->msg : title_for(status));
    if (err->locator[0]) {
        buf_puts(&res->body, ",\"parameter\":");
        buf_put_json_str(&res->body, err->locator);
    }
    buf_puts(&res->body, "}\n");
}
