/* SPDX-License-Identifier: MIT */
/* worker.h: one worker's state, named (issue 23, STYLE.md section 5). A worker is what a request
 * checks out to run: its own read-only store connection (with the statements it prepared), its
 * PROJ and GEOS contexts, and the caches services keep between requests, each a named member of
 * its own type. No numbered slots, no thread-locals, no lookups by thread id: whoever runs a
 * request hands it a worker (req->worker), and a worker serves one request at a time.
 *
 * Owned here: the struct and its caches' lifetime. The handles are opened and closed by whoever
 * makes workers (http/server.c for the pool; the router lends a request-long worker to in-process
 * callers that bring only a store and a geo context; main.c for `spp query`); this header never
 * includes a library header and core never calls into the modules whose caches it holds: each
 * cache comes with the function that frees it. */
#ifndef SPP_WORKER_H
#define SPP_WORKER_H

#include "request.h"

struct store;
struct geo_ctx;
struct main_roads;   /* query/funds.c: the city's main roads, GEOS geometries with their boxes */
struct zoning_cache; /* query/funds.c: a zoning layer read whole, with a GEOS STRtree */

#define WORKER_ZONING_LAYERS 2 /* zoning_blocks, detailed_plan_lots */

struct worker {
    struct store *store; /* read-only connection and its prepared statements (not owned here) */
    struct geo_ctx *geo; /* PROJ context with its transformations, GEOS context (not owned) */
    /* query/'s caches, one per role (roles read different rows and fields), built with geo's
     * GEOS handle: freed by worker_drop_caches(), which must run before geo is freed. Each is
     * reloaded by its owner when the layer's version changes, and when the request reads the
     * layer through another view (a data-sharing agreement's layer_def: its rows, its fields)
     * than the one the copy was read through: a copy is never shared across views. */
    struct main_roads *main_roads[ROLE_COUNT];
    struct zoning_cache *zoning[WORKER_ZONING_LAYERS][ROLE_COUNT];
    void (*main_roads_free)(void *);
    void (*zoning_free)(void *);
    int busy; /* checked out by a request (http/server.c's pool) */
};

/* Keeps m as role's main roads, freeing the previous ones with the free function they came
 * with; the worker owns m from here on (free_fn frees it). */
void worker_keep_main_roads(struct worker *w, enum role role, struct main_roads *m,
                            void (*free_fn)(void *));
/* The same for zoning layer `layer` (< WORKER_ZONING_LAYERS). */
void worker_keep_zoning(struct worker *w, int layer, enum role role, struct zoning_cache *z,
                        void (*free_fn)(void *));
/* Frees every cache (before the GEOS context they were built with goes). NULL-safe. */
void worker_drop_caches(struct worker *w);

#endif
