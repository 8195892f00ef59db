/* SPDX-License-Identifier: MIT */
/* store/pg: the PostgreSQL/PostGIS store backend (issue 24). It owns one libpq connection per
 * struct store (one per worker), opened from a postgresql:// URI, and implements the public
 * store.h functions for it: the public functions route here when st->pg is set (one line at the
 * top of each). The schema is the SpatiaLite store's (same tables, columns and types: bigint,
 * double precision, text; geometry in the storage CRS with a GiST index; the spp_* tables).
 *
 * What it must not do: keep session state on the server. Statements are unnamed
 * (PQsendQueryParams: parse, bind and execute in one round trip), nothing is SET outside a
 * transaction, no LISTEN on a worker's connection, no temporary tables (the importer's change-feed
 * snapshot is dropped at its commit, pg/load.h): so spp works through
 * pgbouncer in transaction mode. A password is never taken from the command line (a URI with
 * one is refused): libpq reads PGPASSWORD or ~/.pgpass. Request values are always bound. */
#ifndef SPP_STORE_PG_H
#define SPP_STORE_PG_H

#include <libpq-fe.h>
#include <stdio.h>
#include <time.h>

#include "../store.h"

struct pg_store {
    PGconn *conn;
    char *uri;
    int readonly;
    int srid;
    int in_tx;               /* BEGIN sent, no COMMIT/ROLLBACK yet */
    int backoff_ms;          /* next reconnect wait: 100 ms doubling to 5 s */
    struct timespec next_try; /* no reconnect attempt before this (CLOCK_MONOTONIC) */
    struct timespec deadline;
    int has_deadline;
    char changed_mark[64]; /* store_changed: the last (max change id, sum of versions) seen */
    uint64_t watch_seen;   /* store_changed: the change watch's generation last seen */
};

/* 1 if path is a libpq URI (postgresql:// or postgres://). */
int pg_is_uri(const char *path);
/* Refuses a URI that carries a password (ERR_PARAM) or that libpq cannot parse. */
int pg_uri_check(const char *uri, struct err *err);

/* conn.c */
int pg_open(const char *uri, enum store_mode mode, struct pg_store **out, struct err *err);
void pg_close(struct pg_store *ps);
/* 0 when the database answers (reconnecting first if the connection was lost, within the
 * backoff); ERR_DB otherwise. */
int pg_ping(struct pg_store *ps, struct err *err);
/* The same on one process-wide connection to uri (opened on first use, behind a mutex). */
int pg_ping_uri(const char *uri, struct err *err);
void pg_set_deadline(struct pg_store *ps, int ms);
/* ps gets the deadline of from (or none). */
void pg_share_deadline(struct pg_store *ps, const struct pg_store *from);
/* Runs sql ('?' placeholders, renumbered to $n outside quotes) with params; *out gets the whole
 * result in binary format (PQclear it). A connection found closed before sending is replaced
 * (outside a transaction); a connection that breaks while the statement runs is retried once,
 * fresh, only for a plain SELECT: any other statement may have run, so it is sent at most once
 * (ERR_DB, 503). ERR_LIMIT: the deadline passed (the statement is cancelled). */
int pg_query(struct pg_store *ps, const char *sql, const struct value *params, int n_params,
             PGresult **out, struct err *err);
/* The same without a result (DDL, DML; several statements when n_params is 0). *n_rows gets
 * the rows a DML statement touched when not NULL. */
int pg_exec(struct pg_store *ps, const char *sql, const struct value *params, int n_params,
            int64_t *n_rows, struct err *err);
/* Streaming: sends sql in single-row mode; pg_stream_next gives each row's result (PQclear
 * it) and 0, then *res = NULL at the end. pg_stream_end cancels what is left and drains it for at
 * most a second (then drops the connection: the next statement reconnects). A cancel (here or at
 * the deadline) is sent by a detached helper thread, at most 8 in flight per process (libpq's
 * PQcancel waits on the network without a limit); the worker only waits the drain's bound, and
 * drops the connection when no cancel could be sent or it has not reached the server by then. */
int pg_stream_start(struct pg_store *ps, const char *sql, const struct value *params, int n_params,
                    struct err *err);
int pg_stream_next(struct pg_store *ps, PGresult **res, struct err *err);
void pg_stream_end(struct pg_store *ps);
/* Binary result readers: column col of row as a value (bigint, integer, double precision,
 * real, text, bytea, boolean; SQL NULL is VAL_NULL). Pointers stay valid while res lives. */
void pg_get_value(const PGresult *res, int row, int col, struct value *v);
int64_t pg_get_int(const PGresult *res, int row, int col);
double pg_get_double(const PGresult *res, int row, int col);
const char *pg_get_text(const PGresult *res, int row, int col); /* "" for NULL */
/* Appends a quoted identifier (names come from the catalog). */
int pg_put_ident(struct buf *b, const char *name);

/* schema.c */
int pg_init_schema(struct pg_store *ps, const struct catalog *cat, int srid, struct err *err);
int pg_check(struct pg_store *ps, const struct catalog *cat, struct buf *report, int *n_problems,
             struct err *err);
int pg_read_srid(struct pg_store *ps);
int pg_refresh_layer(struct pg_store *ps, const struct layer_def *layer, const char *batch,
                     struct err *err);

/* query.c */
int pg_query_run(struct pg_store *ps, const struct store_query *q, const struct feature_sink *sink,
                 int64_t *n_read, struct err *err);
struct filter_sql;
int pg_compile_filter(const struct pg_store *ps, const struct store_query *q,
                      struct filter_sql *out, struct err *err);
int pg_query_count(struct pg_store *ps, const struct store_query *q, int64_t *count,
                   struct err *err);
int pg_layer_state(struct pg_store *ps, const struct layer_def *layer, struct layer_state *out,
                   struct err *err);

/* keys.c (the key hash is the SQLite store's: store_key_hash) */
int pg_key_add(struct pg_store *ps, const struct key_info *k, const char *hash, int64_t *id_out,
               struct err *err);
int pg_key_list(struct pg_store *ps, void (*fn)(void *ud, const struct key_info *k), void *ud,
                struct err *err);
int pg_key_revoke(struct pg_store *ps, int64_t id, struct err *err);
int pg_key_lookup(struct pg_store *ps, const char *hash, struct key_info *out, struct err *err);
int pg_usage_hit(const char *uri, int64_t key_id, int64_t quota, int *over, struct err *err);
int pg_usage_get(const char *uri, int64_t key_id, char last[32], int64_t *today,
                 struct err *err);

/* audit.c: the audit log's lines in spp_audit. rests are entries without their "{\"seq\":N"
 * head and closing brace; pg_audit_dump writes every line, in order, one per line. */
int pg_audit_append(const char *uri, const char *const *rests, int n, struct err *err);
int pg_audit_dump(const char *uri, FILE *out, struct err *err);

/* meta.c */
int pg_changed(struct pg_store *ps);
int pg_changes_max(struct pg_store *ps, int64_t *id, struct err *err);
int pg_changes_since(struct pg_store *ps, int64_t after,
                     int (*fn)(void *ud, const struct store_change *c), void *ud,
                     struct err *err);
int pg_layer_lineage(struct pg_store *ps, const struct layer_def *layer,
                     struct store_lineage *out, struct err *err);
int pg_layer_completeness(struct pg_store *ps, const struct layer_def *layer, enum role role,
                          const int *fields, int n_fields, int64_t *filled, int64_t *total,
                          struct err *err);
int pg_last_import(struct pg_store *ps, char *batch, size_t batch_len, char *at, size_t at_len,
                   struct err *err);
int pg_layer_findings(struct pg_store *ps, const struct layer_def *layer, const char *batch,
                      int (*fn)(void *ud, const char *kind, const char *severity, int64_t n),
                      void *ud, struct err *err);
int pg_feature_changes(struct pg_store *ps, const struct layer_def *layer, enum role role,
                       const char *since, int64_t after, int64_t limit,
                       int (*fn)(void *ud, const struct store_feature_change *c), void *ud,
                       int *more, struct err *err);

/* listen.c: the process's change watch (one thread, its own connection: LISTEN spp_changes and
 * the change mark every second) on the database the workers read (serve's only store).
 * pg_watch_gen gives 1 and the generation (bumped at every change) while the watch is
 * connected, 0 when it is not or was never started (ask the database). */
int pg_watch_start(const char *uri, struct err *err);
void pg_watch_stop(void);
int pg_watch_gen(uint64_t *gen);

/* COPY's text format (copy.c; spp copy and the load API): s (len bytes; len < 0: NUL-terminated)
 * escaped into b, and WKB of either byte order as hex EWKB with srid. ERR_NOMEM; ERR_PARAM for
 * a WKB that is not one. */
int pg_copy_put_text(struct buf *b, const char *s, int len);
int pg_copy_put_ewkb(struct buf *b, const unsigned char *wkb, size_t len, int srid);
/* One feature as a COPY text line (fid, fields, geometry or \N, newline), b emptied first:
 * `spp copy` and the load API write the same lines. ERR_NOMEM; ERR_PARAM: not WKB. */
int pg_copy_put_row(struct buf *b, int64_t fid, const struct value *values, int n,
                    const unsigned char *wkb, size_t wkb_len, int srid);

/* lock.c (store/lock.c runs the lock statements on the edit's connection through these) */
/* Locks feature fid's row of l (SELECT .. FOR UPDATE) for the rest of the transaction, so a
 * feature lock and an edit of the feature on two replicas are ordered. No row: nothing. */
int pg_lock_row(struct pg_store *ps, const struct layer_def *l, int64_t fid, struct err *err);
/* store_lock_check on ps (for pg/ code that has no struct store, e.g. a revert's row). */
int pg_lock_check(struct pg_store *ps, const char *lock_id, const struct layer_def *l,
                  int64_t fid, struct err *err);
/* The first row's text (column 0) and double precision (column 1) of sql; *found. */
int pg_lock_query_one(struct pg_store *ps, const char *sql, const struct value *params,
                      int n_params, char *text_out, size_t text_len, double *real_out,
                      int *found, struct err *err);

#endif
