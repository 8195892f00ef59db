/* SPDX-License-Identifier: MIT */
/* pg/load.h: the load API (store.h, "Loading") on a PostGIS store, issue 24. load.c and
 * load_layer.c in store/ route here when the batch's store is a PostGIS one (ld->pg set): one
 * line at the top of each public function. The batch is one transaction (BEGIN in
 * pg_load_begin, COMMIT in pg_load_finish); a layer's rows go in through COPY (text format,
 * geometry as hex EWKB in the storage CRS), and the batch's findings are gathered in memory and
 * copied into spp_findings when the layer or the batch is done (a COPY in progress holds the
 * connection). What it must not do: keep anything on the server beyond the transaction (the
 * change feed's snapshot is a temporary table dropped at commit), or decide what is loaded
 * (that is the importer's). */
#ifndef SPP_STORE_PG_LOAD_H
#define SPP_STORE_PG_LOAD_H

#include "pg.h"

struct pg_load {
    struct pg_store *ps;
    char batch[64];
    const struct layer_def *layer; /* the layer being replaced, or NULL */
    int copying;                   /* COPY INTO the open layer in progress */
    int abandoned;                 /* a layer was begun and not done */
    struct buf line;               /* one COPY row */
    int64_t *fids;                 /* the open layer's fids so far (open addressing, 0 = free): a
                                    * fid put twice is refused at once, as on SpatiaLite, not
                                    * at the end of the COPY */
    size_t fid_cap, n_fids;
    struct buf findings; /* spp_findings rows in COPY text format, not yet sent */
};

/* load.c */
int pg_load_begin(struct pg_store *ps, const char *batch, struct pg_load **out, struct err *err);
int pg_load_finish(struct pg_load *pl, struct err *err); /* frees pl */
void pg_load_abort(struct pg_load *pl);                  /* frees pl */
int pg_load_finding(struct pg_load *pl, const char *layer, const char *file, int64_t row,
                    const char *severity, const char *kind, const char *message, struct err *err);
int pg_load_layer_states(struct pg_load *pl,
                         int (*fn)(void *ud, const char *layer, const struct layer_state *s),
                         void *ud, struct err *err);
int pg_load_change(struct pg_load *pl, const struct layer_def *layer, const struct bbox *box,
                   const char *at, struct err *err);
int pg_load_record(struct pg_load *pl, const struct store_import_record *r, struct err *err);
int pg_load_source(struct pg_load *pl, const struct layer_def *layer, const char *path,
                   const char *abs_path, int position, struct err *err);
int pg_load_history(struct pg_load *pl, const struct layer_def *layer, struct err *err);
/* Ends a COPY in progress (its rows are then checked by the server); every function that sends
 * another statement calls it first. */
int pg_load_quiet(struct pg_load *pl, struct err *err);

/* load_layer.c */
int pg_load_layer_begin(struct pg_load *pl, const struct layer_def *layer, struct err *err);
int pg_load_put(struct pg_load *pl, int64_t fid, const struct value *values,
                const unsigned char *wkb, size_t wkb_len, struct err *err);
int pg_load_layer_done(struct pg_load *pl, struct err *err);
int pg_load_update(struct pg_load *pl, const struct layer_def *layer, int64_t fid,
                   const int *fields, const struct value *values, int n, struct err *err);
int pg_load_feature_changes(struct pg_load *pl, const struct layer_def *layer, const char *at,
                            const int64_t *unchanged, size_t n_unchanged, struct err *err);
int pg_load_scan(struct pg_load *pl, const struct store_scan *q,
                 int (*fn)(void *ud, const struct feature *f, const struct bbox *box), void *ud,
                 struct err *err);

#endif
