/* SPDX-License-Identifier: MIT */
/* fuzz_wkb.c: WKB decoding (geom_from_wkb), which reads geometries from the store and from
 * requests. A decoded geometry must be self-consistent (parts inside the coordinate array,
 * polygon count matching exterior rings) and survive encode -> decode unchanged. The same
 * struct geom is reused across inputs, as workers do. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"

static struct geom g, g2;

static void check_consistent(const struct geom *x)
{
    size_t total = 0;
    int exteriors = 0;
    for (int i = 0; i < x->n_parts; i++) {
        const struct geom_part *p = &x->parts[i];
        if (p->n < 0 || p->xy < x->coords || p->xy + 2 * (size_t)p->n > x->coords + x->n_coords)
            abort();
        total += 2 * (size_t)p->n;
        exteriors += !p->ring;
    }
    if (total != x->n_coords) abort();
    if ((x->type == 3 || x->type == 6) && x->n_polys != exteriors) abort();
    if (x->type == 1 && x->n_parts != 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err err;
    err_clear(&err);
    if (geom_from_wkb(&g, data, size, &err)) {
        if (err.code != ERR_PARAM && err.code != ERR_NOMEM) abort();
        return 0;
    }
    if (g.type < 1 || g.type > 6) abort();
    check_consistent(&g);
    struct bbox b;
    geom_bbox(&g, &b);
    if (g.n_parts == 0 || (g.type == 3 && g.n_polys == 0)) return 0; /* empty: nothing to encode */
    struct buf out;
    buf_init(&out);
    if (geom_to_wkb(&g, &out) == 0) {
        err_clear(&err);
        if (geom_from_wkb(&g2, (const unsigned char *)out.data, out.len, &err)) abort();
        if (g2.type != g.type || g2.n_parts != g.n_parts || g2.n_coords != g.n_coords) abort();
        for (size_t i = 0; i < g.n_coords; i++)
            if (memcmp(&g.coords[i], &g2.coords[i], sizeof(double)) != 0) abort();
    }
    buf_fini(&out);
    return 0;
}
