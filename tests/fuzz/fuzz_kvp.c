/* SPDX-License-Identifier: MIT */
/* fuzz_kvp.c: the KVP / query-string path. The input is a query string: it is split on '&' and
 * '=', each part percent-decoded (str_url_decode), and the values are read the way handlers read
 * them: req_arg / req_arg_ci, BBOX (bbox_parse with its CRS), CRS names (geo_crs_parse), numbers
 * (str_to_double, str_to_long). Checks the parsers' promises, not just the absence of crashes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/request.h"
#include "geo/geo.h"

#define MAX_ARGS 64

static void check_bbox(const char *v)
{
    char *copy = str_dup(v);
    if (!copy) return;
    struct bbox b;
    const char *crs = NULL;
    struct err err;
    err_clear(&err);
    if (bbox_parse(copy, &b, &crs, &err) == 0) {
        /* a parsed box is finite and ordered */
        if (!isfinite(b.minx) || !isfinite(b.maxy) || b.minx > b.maxx || b.miny > b.maxy) abort();
        int srid = 0;
        if (crs && geo_crs_parse(crs, &srid) == 0 && (srid <= 0 || srid > 999999)) abort();
    } else if (err.code != ERR_PARAM || !err.msg[0]) {
        abort(); /* a refusal always says why */
    }
    free(copy);
    char plain[] = "1,2,3,4"; /* the parser restores what it cuts */
    err_clear(&err);
    if (bbox_parse(plain, &b, NULL, &err) != 0 || strcmp(plain, "1,2,3,4") != 0) abort();
}

static void check_value(const char *v)
{
    double d;
    long l;
    if (str_to_double(v, &d) == 0 && isnan(d)) abort();
    if (str_to_long(v, &l) == 0 && str_to_double(v, &d) != 0) {
        /* every decimal long is also a double */
        abort();
    }
    int srid;
    if (geo_crs_parse(v, &srid) == 0 && srid <= 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *qs = str_ndup((const char *)data, size);
    if (!qs) return 0;
    struct kv args[MAX_ARGS];
    int n = 0;
    char *save = NULL;
    for (char *part = strtok_r(qs, "&", &save); part && n < MAX_ARGS;
         part = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(part, '=');
        if (eq) *eq = '\0';
        char *key = str_dup(part), *value = str_dup(eq ? eq + 1 : "");
        if (!key || !value || str_url_decode(key) || str_url_decode(value)) {
            free(key), free(value);
            continue;
        }
        if (strlen(key) > strlen(part) || (eq && strlen(value) > strlen(eq + 1))) abort();
        args[n].key = key;
        args[n].value = value;
        n++;
    }
    struct request req;
    memset(&req, 0, sizeof req);
    req.args = args;
    req.n_args = n;
    for (int i = 0; i < n; i++) {
        const char *v = req_arg(&req, args[i].key), *vi = req_arg_ci(&req, args[i].key);
        if (!v || !vi) abort(); /* every decoded key is found again */
        check_value(args[i].value);
    }
    const char *bbox = req_arg_ci(&req, "BBOX");
    if (bbox) check_bbox(bbox);
    const char *crs = req_arg_ci(&req, "CRS");
    int srid;
    if (crs) (void)geo_crs_parse(crs, &srid);
    (void)req_wants_html(&req);
    for (int i = 0; i < n; i++)
        free(args[i].key), free(args[i].value);
    free(qs);
    return 0;
}
