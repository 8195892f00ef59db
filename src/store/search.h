/* SPDX-License-Identifier: MIT */
/* search.h: the store's folded-text substring indexes (search.c), shared by the store's own
 * files: the schema (store.c), the load batch (load_layer.c) and the query path (query.c). A
 * field the catalog marks "search": true gets one: on SpatiaLite an FTS5 trigram table
 * "spp_search_<layer>_<field>" (rowid = fid, t = spp_fold(column)) and its dirty list, which
 * triggers on the layer table fill; on PostGIS a pg_trgm GIN index on spp_fold(column). Nothing
 * outside store/. */
#ifndef SPP_STORE_SEARCH_H
#define SPP_STORE_SEARCH_H

#include "store_int.h"

/* Drops layer l's search tables and their triggers (a bulk load refills them from the table). */
int store_search_drop(struct store *st, const struct layer_def *l, struct err *err);
/* (Re)builds layer l's search tables from its rows and adds the triggers that list every later
 * inserted, updated or deleted fid as dirty (read by folding the row until flushed). */
int store_search_build(struct store *st, const struct layer_def *l, struct err *err);
/* Folds the dirty rows of l into its index and empties the list (an edit, in its transaction). */
int store_search_flush(struct store *st, const struct layer_def *l, struct err *err);
/* Builds the search indexes a store made before them lacks (store_init_schema: spp import, spp
 * init). PostGIS: the pg_trgm GIN indexes, when the extension can be had; else nothing. */
int store_search_ensure(struct store *st, const struct catalog *cat, struct err *err);
/* The filter compiler's question (filter_sql.fold_index, ud = the store): 1 and the name of the
 * FTS5 table in *name (its dirty list: name + "_dirty", column fid) when field f of layer l has
 * its index in this store; 0 otherwise
 * (a field marked "search" without one, in a store made before: logged once, then scanned). */
int store_search_index(void *ud, const struct layer_def *l, int f, struct buf *name);

#endif
