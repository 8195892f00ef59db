/* SPDX-License-Identifier: MIT */
/* filter_fuzz.h: the body shared by the three filter fuzz targets (FES, CQL2 text, CQL2 JSON).
 * Each target defines FILTER_FUZZ_PARSE(text, size, lim, out, err), a call to its parser; the
 * tree is then checked and compiled against the cadastral_parcels layer of the catalog (no store
 * needed: compile only builds SQL text). */
#ifndef SPP_FILTER_FUZZ_H
#define SPP_FILTER_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "filter/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catalog cat;
static int loaded;
static struct geo_ctx *geo;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err err;
    err_clear(&err);
    if (!loaded) {
        if (catalog_load(&cat, "layers", &err)) abort();
        geo = geo_ctx_new(&err);
        loaded = 1;
    }
    struct filter_limits lim = {16, 200, 65536};
    char *text = malloc(size + 1); /* NUL-terminated copy for the text parsers */
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct filter *f = NULL;
    if (FILTER_FUZZ_PARSE(text, size, &lim, &f, &err) == 0) {
        const struct layer_def *l = catalog_layer(&cat, "cadastral_parcels");
        if (filter_check(f, l, ROLE_PUBLIC, &err) == 0) {
            struct filter_sql sql;
            filter_sql_init(&sql);
            filter_compile(f, l, 5897, geo, &sql, &err);
            filter_sql_fini(&sql);
        }
    }
    filter_free(f);
    free(text);
    return 0;
}

#endif
