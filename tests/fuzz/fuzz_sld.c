/* SPDX-License-Identifier: MIT */
/* fuzz_sld.c: libFuzzer target for the SLD parser (SLD_BODY of WMS GetMap): parse every
 * NamedLayer as the public role, then select rules and draw the legend of each parsed style so
 * the structs the parser builds are walked too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "render/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catalog cat;
static int loaded;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err err;
    err_clear(&err);
    if (!loaded) {
        if (catalog_load(&cat, "layers", &err)) abort();
        loaded = 1;
    }
    struct style_limits lim = {65536, 40, 200, 200};
    struct style **styles = NULL;
    int n = 0;
    if (style_parse_all((const char *)data, size, "fuzz", &cat, ROLE_PUBLIC, &lim, &styles, &n,
                        &err) == 0) {
        for (int i = 0; i < n; i++) {
            const struct style *s = styles[i];
            struct value v[64];
            for (int k = 0; k < s->n_fields && k < 64; k++)
                v[k] = (struct value){.type = VAL_TEXT, .s = "ODT", .len = 3};
            for (int f = 0; f < s->n_fts; f++)
                for (int r = style_next_rule(s, f, -1, v, s->fields, s->n_fields, 1000); r >= 0;
                     r = style_next_rule(s, f, r, v, s->fields, s->n_fields, 1000)) {
                }
            struct buf out;
            buf_init(&out);
            render_legend_json(s, NULL, 0, &out, &err);
            buf_fini(&out);
        }
        style_free_all(styles, n);
    }
    return 0;
}
