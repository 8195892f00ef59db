/* SPDX-License-Identifier: MIT */
/* load_int.h: the state of one load batch on a SpatiaLite store, shared by load.c (the batch, its
 * records) and load_layer.c (replacing a layer, reading inside the batch). The importer sees only
 * the opaque struct store_load of store.h. */
#ifndef SPP_LOAD_INT_H
#define SPP_LOAD_INT_H

#include "store_int.h"

struct pg_load;

struct store_load {
    struct store *st;
    char batch[64];
    int new_store;                 /* created for this batch: back to WAL when published */
    sqlite3_stmt *finding;         /* INSERT INTO spp_findings, bound to the batch */
    const struct layer_def *layer; /* the layer being replaced, or NULL */
    sqlite3_stmt *put;             /* INSERT INTO the open layer */
    struct buf triggers;           /* SQL re-creating the open layer's SpatiaLite triggers */
    int abandoned;                 /* a layer was begun and not done: the batch cannot publish */
    struct pg_load *pg; /* a PostGIS store's batch (pg/load.h): everything routes there */
};

/* load_layer.c: finalizes the open layer's statement and marks it abandoned (NULL-safe). */
void load_layer_abandon(struct store_load *ld);

#endif
