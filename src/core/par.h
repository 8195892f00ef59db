/* SPDX-License-Identifier: MIT */
/* par.h: a few threads that help one request run its independent parts at once (issue 22: the
 * layers of a vector tile, each read by its own query), each thread with a worker of its own
 * (its own store connection and PROJ/GEOS contexts, core/worker.h).
 *
 * par_run never queues: the request's own thread runs the parts in order and a helper that is
 * idle at that moment takes the next part not yet started, so a request never waits for a busy
 * helper, and under load (no helper idle) it runs as it would alone. The caller waits only for
 * the parts a helper has started.
 *
 * Owned here: the threads and the hand-over. Not owned: the workers (whoever made them opens and
 * closes their handles; par_stop returns before that), what a part does, how the results are
 * put together (the caller's fn writes into its own arrays, one slot per part). */
#ifndef SPP_PAR_H
#define SPP_PAR_H

#include "core.h"

struct worker;
struct par;

/* One part: runs part i of the caller's work on worker w (the caller's own or a helper's). */
typedef void (*par_fn)(void *ud, int i, struct worker *w);

/* Starts n helper threads, helper k with workers[k] (each must stay open until par_stop).
 * n == 0 gives NULL (every part runs on the caller). ERR_NOMEM, ERR_INTERNAL (no thread). */
int par_start(struct worker *workers, int n, struct par **out, struct err *err);
/* Joins the helpers (after the parts they run). NULL-safe. */
void par_stop(struct par *p);
/* Runs fn(ud, i, w) for every i in [0, n) and returns when all have run: on self, and on the
 * helpers idle when a part is handed out. p NULL: all on self, in order. */
void par_run(struct par *p, int n, par_fn fn, void *ud, struct worker *self);
/* Helper threads started (0 for NULL). */
int par_size(const struct par *p);
/* Helpers idle at this moment (0 for NULL): whether splitting work would likely help now. */
int par_idle(struct par *p);

#endif
