/* SPDX-License-Identifier: MIT */
/* fuzz_tile_path.c: libFuzzer target for the tile address parsers: the input is the part of a
 * /tiles/ path after the prefix ("{layers}/{z}/{x}/{y}[@2x]"), split at '/' the way the router
 * does, then parsed by tiles_parse_layers and tiles_parse_zxy for every role. Any input must
 * give 0, ERR_PARAM or ERR_NOT_FOUND, never a crash or another code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/tiles/tiles.h"

static struct catalog cat;
static int loaded;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loaded) {
        struct err err;
        err_clear(&err);
        if (catalog_load(&cat, "layers", &err)) abort();
        loaded = 1;
    }
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *seg[4] = {s, NULL, NULL, NULL};
    int n = 1;
    for (char *p = s; *p && n < 4; p++)
        if (*p == '/') {
            *p = '\0';
            seg[n++] = p + 1;
        }
    for (int role = ROLE_PUBLIC; role <= ROLE_ADMIN; role++) {
        struct err err;
        err_clear(&err);
        struct tile_layers tl;
        int rc = tiles_parse_layers(&cat, seg[0], (enum role)role, &tl, &err);
        if (rc != 0 && rc != ERR_PARAM && rc != ERR_NOT_FOUND) abort();
        if (!rc && (tl.n < 1 || tl.n > TILE_MAX_LAYERS || tl.canon[0] != ',')) abort();
    }
    int z, x, y, scale;
    struct err err;
    err_clear(&err);
    int rc = tiles_parse_zxy(seg[1], seg[2], seg[3], &z, &x, &y, &scale, &err);
    if (rc != 0 && rc != ERR_PARAM && rc != ERR_NOT_FOUND) abort();
    if (!rc && !tile_valid(z, x, y)) abort();
    free(s);
    return 0;
}
