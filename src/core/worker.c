/* SPDX-License-Identifier: MIT */
/* worker.c: the lifetime of a worker's caches (worker.h). The handles themselves are opened and
 * closed by whoever makes the worker. */
#include "worker.h"

#include <stddef.h>

void worker_keep_main_roads(struct worker *w, enum role role, struct main_roads *m,
                            void (*free_fn)(void *))
{
    if ((unsigned)role >= ROLE_COUNT) return;
    if (w->main_roads[role] && w->main_roads[role] != m && w->main_roads_free)
        w->main_roads_free(w->main_roads[role]);
    w->main_roads[role] = m;
    w->main_roads_free = free_fn;
}

void worker_keep_zoning(struct worker *w, int layer, enum role role, struct zoning_cache *z,
                        void (*free_fn)(void *))
{
    if (layer < 0 || layer >= WORKER_ZONING_LAYERS || (unsigned)role >= ROLE_COUNT) return;
    if (w->zoning[layer][role] && w->zoning[layer][role] != z && w->zoning_free)
        w->zoning_free(w->zoning[layer][role]);
    w->zoning[layer][role] = z;
    w->zoning_free = free_fn;
}

void worker_drop_caches(struct worker *w)
{
    if (!w) return;
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (w->main_roads[r] && w->main_roads_free) w->main_roads_free(w->main_roads[r]);
        w->main_roads[r] = NULL;
        for (int l = 0; l < WORKER_ZONING_LAYERS; l++) {
            if (w->zoning[l][r] && w->zoning_free) w->zoning_free(w->zoning[l][r]);
            w->zoning[l][r] = NULL;
        }
    }
}
