/* SPDX-License-Identifier: MIT */
/* err.c: the error struct every fallible function fills in on its first failure. */
#include "core.h"

#include <stdio.h>
#include <string.h>

static int err_vset(struct err *err, enum err_code code, const char *locator, const char *fmt,
                    va_list ap)
{
    if (!err || err->code != ERR_OK) return code;
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    snprintf(err->locator, sizeof err->locator, "%s", locator ? locator : "");
    return code;
}

int err_set(struct err *err, enum err_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int err_setl(struct err *err, enum err_code code, const char *locator, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, code, locator, fmt, ap);
    va_end(ap);
    return code;
}

void err_clear(struct err *err)
{
    if (!err) return;
    err->code = ERR_OK;
    err->msg[0] = '\0';
    err->locator[0] = '\0';
    err->http_status = 0;
    err->ogc_code[0] = '\0';
}

const char *err_code_name(enum err_code code)
{
    static const char *const names[] = {
        "ok",        "out of memory", "i/o error", "database", "bad parameter",
        "not found", "unsupported",   "forbidden", "limit",    "internal"};
    return (unsigned)code < ARRAY_LEN(names) ? names[code] : "unknown";
}
