/* SPDX-License-Identifier: MIT */
/* lock.c: what the feature locks (store/lock.c, store.h "Locks") need from a PostGIS store
 * beyond pg_exec: the feature's row locked before its lock is read or written, one row of a
 * query read back, and the lock check for pg/ code that holds a pg_store only (a revert). The lock
 * tables are in the schema (schema.c). Must not keep a lock anywhere but in the database: replicas
 * share nothing else. */
#include "pg.h"

#include <stdio.h>
#include <string.h>

#include "../store_int.h"

int pg_lock_row(struct pg_store *ps, const struct layer_def *l, int64_t fid, struct err *err)
{
    struct buf q;
    buf_init(&q);
    if (buf_puts(&q, "SELECT fid FROM ") || pg_put_ident(&q, l->id) ||
        buf_puts(&q, " WHERE fid = ? FOR UPDATE")) {
        buf_fini(&q);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    struct value p = {.type = VAL_INT, .i = fid};
    int rc = pg_exec(ps, q.data, &p, 1, NULL, err);
    buf_fini(&q);
    return rc;
}

int pg_lock_query_one(struct pg_store *ps, const char *sql, const struct value *params,
                      int n_params, char *text_out, size_t text_len, double *real_out, int *found,
                      struct err *err)
{
    PGresult *r = NULL;
    *found = 0;
    int rc = pg_query(ps, sql, params, n_params, &r, err);
    if (!rc && PQntuples(r) > 0) {
        *found = 1;
        snprintf(text_out, text_len, "%s", pg_get_text(r, 0, 0));
        *real_out = pg_get_double(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

int pg_lock_check(struct pg_store *ps, const char *lock_id, const struct layer_def *l, int64_t fid,
                  struct err *err)
{
    struct store st;
    memset(&st, 0, sizeof st);
    st.pg = ps; /* the lock statements use only the PostGIS connection */
    return store_lock_check(&st, lock_id, l, fid, err);
}
