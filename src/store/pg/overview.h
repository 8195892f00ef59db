/* SPDX-License-Identifier: MIT */
/* pg/overview.h: the land-use overview's tables on a PostGIS store (pg/overview.c; issues 22 and
 * 24). overview.c owns the overview: which cells a batch or an edit redoes and how a feature is
 * spread over them (the same C code on both backends, so both give the same tile); these are its
 * statements on PostgreSQL: spp_overview / spp_overview_state (the SpatiaLite tables' columns),
 * the features' boxes and areas in fid order, the changed areas, and the coarser levels summed
 * in the order SQLite sums them. Must not: decide which cells are redone, or compute a cell. */
#ifndef SPP_STORE_PG_OVERVIEW_H
#define SPP_STORE_PG_OVERVIEW_H

#include "pg.h"

/* The tables (also made by pg_init_schema; a database made before them gets them here). */
extern const char *const pg_overview_schema;
int pg_overview_init(struct pg_store *ps, struct err *err);
/* The version the overview of layer was made at by class field field (-1: none; field NULL: by
 * any field, whose name goes to field_out[field_n]). */
int pg_overview_version(struct pg_store *ps, const char *layer, const char *field,
                        int64_t *version, char *field_out, size_t field_n, struct err *err);
int pg_overview_set_version(struct pg_store *ps, const char *layer, const char *field,
                            int64_t version, struct err *err);
/* Calls fn with each changed area (spp_changes) of layer in batch, in id order. */
int pg_overview_changes(struct pg_store *ps, const char *layer, const char *batch,
                        int (*fn)(void *ud, const struct bbox *b), void *ud, struct err *err);
/* Calls fn, in fid order, with each feature of l that has a geometry whose box meets q (storage
 * CRS; NULL: every feature): its class field cf as text (NULL: none), its box and its area. */
int pg_overview_features(struct pg_store *ps, const struct layer_def *l, int cf,
                         const struct bbox *q,
                         int (*fn)(void *ud, const char *cls, const struct bbox *box,
                                   double area),
                         void *ud, struct err *err);
/* Deletes the cells of layer at level in x0..x1, y0..y1 (rect NULL: at every level >= level). */
int pg_overview_delete(struct pg_store *ps, const char *layer, int level, const int64_t *rect,
                       struct err *err);
/* Adds n cells of layer at level; cell(ud, i, &c) gives the i-th. */
int pg_overview_insert(struct pg_store *ps, const char *layer, int level, size_t n,
                       void (*cell)(void *ud, size_t i, struct store_overview_cell *c), void *ud,
                       struct err *err);
/* Makes level's cells (within rect: x0, x1, y0, y1 of its children's level; NULL: all) as the
 * sums of their four children at level + 1. */
int pg_overview_coarsen(struct pg_store *ps, const char *layer, int level, const int64_t *rect,
                        struct err *err);
/* store_overview_cells on PostGIS: one statement, so the state and the cells are one snapshot. */
int pg_overview_cells(struct pg_store *ps, const char *layer, const char *class_field, int level,
                      int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                      int (*fn)(void *ud, const struct store_overview_cell *c), void *ud,
                      struct err *err);

/* overview.c, on PostGIS: the overview of l after an edit of batch "edit:ID" (pg/edit.c, inside
 * the edit's transaction and store/edit.c's mutex), and a whole-layer rebuild (spp copy). */
int pg_overview_edit(struct pg_store *ps, const struct layer_def *l, const char *batch,
                     struct err *err);
int pg_overview_rebuild(struct pg_store *ps, const struct layer_def *l, struct geo_ctx *geo,
                        struct err *err);

#endif
