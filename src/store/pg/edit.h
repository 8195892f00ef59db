/* SPDX-License-Identifier: MIT */
/* pg/edit.h: feature edits on a PostGIS store (pg/edit.c), called by store/edit.c, which owns
 * the process's write connection, its mutex and the ETag (a hash of the row as struct values and
 * ISO WKB, the same on both backends). Every function runs inside the edit's transaction
 * (pg_edit_begin .. store_commit / store_rollback); who and at are the editor and the edit's time
 * as the change log shows them. */
#ifndef SPP_STORE_PG_EDIT_H
#define SPP_STORE_PG_EDIT_H

#include "pg.h"

/* Makes spp_edits when a database made before it lacks it (once per write connection). */
int pg_edit_prepare(struct pg_store *ps, struct err *err);
/* BEGIN ISOLATION LEVEL READ COMMITTED, with a transaction-local lock wait limit. */
int pg_edit_begin(struct pg_store *ps, struct err *err);
/* Feature fid of l into out (owned: store_row_fini); lock: SELECT ... FOR UPDATE, so a second
 * writer (another replica) waits for this edit and then reads what it wrote. */
int pg_edit_get(struct pg_store *ps, const struct layer_def *l, int64_t fid, int lock,
                struct store_row *out, int *found, struct err *err);
int pg_edit_insert(struct pg_store *ps, const struct layer_def *l, const char *who, const char *at,
                   const struct store_row *r, int64_t *fid, int64_t *change_id, struct err *err);
int pg_edit_update(struct pg_store *ps, const struct layer_def *l, const char *who, const char *at,
                   const struct store_row *r, int64_t *change_id, struct err *err);
int pg_edit_delete(struct pg_store *ps, const struct layer_def *l, const char *who, const char *at,
                   int64_t fid, int64_t *change_id, struct err *err);
int pg_edit_history(struct pg_store *ps, const char *layer, const char *key,
                    int (*fn)(void *ud, const struct store_edit_entry *e), void *ud,
                    struct err *err);
int pg_edit_revert(struct pg_store *ps, const struct catalog *cat, const char *who, const char *at,
                   int64_t change_id, int64_t *new_id, struct err *err);

#endif
