/* SPDX-License-Identifier: MIT */
/* fuzz_query_params.c: libFuzzer target for the land API's parameter parsing: the input is a
 * query string ("lon=..&lat=..", "kind=..&near=..&bbox=.."), split and percent-decoded the way the
 * server does, then given to query_parse_point, query_parse_fund_params and query_fold. None may
 * crash, hang or leak; every rejection must name a parameter. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/core.h"
#include "../../src/query/query.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *qs = malloc(size + 1);
    if (!qs) return 0;
    memcpy(qs, data, size);
    qs[size] = '\0';
    struct kv args[MAX_ARGS];
    struct request req;
    memset(&req, 0, sizeof req);
    req.args = args;
    for (char *p = qs, *amp; p && *p && req.n_args < MAX_ARGS; p = amp ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        if (amp) *amp = '\0';
        char *eq = strchr(p, '=');
        char *val = eq ? eq + 1 : p + strlen(p);
        if (eq) *eq = '\0';
        if (str_url_decode(p) || str_url_decode(val)) continue; /* the server answers 400 */
        args[req.n_args].key = p;
        args[req.n_args].value = val;
        req.n_args++;
    }
    struct err err;
    struct query_point pt;
    err_clear(&err);
    if (query_parse_point(&req, 5897, &pt, &err) && !err.locator[0]) abort();
    struct fund_params fp;
    err_clear(&err);
    if (query_parse_fund_params(&req, 10, 10000, &fp, &err) && !err.locator[0]) abort();
    if (!err.code && (fp.limit < 0 || fp.limit > 10000 || fp.offset < 0)) abort();
    for (int i = 0; i < req.n_args; i++)
        free(query_fold(req.args[i].value));
    free(qs);
    return 0;
}
