/* SPDX-License-Identifier: MIT */
/* store_int.h: what the store's own files share: the connection struct and the statement cache. */
#ifndef SPP_STORE_INT_H
#define SPP_STORE_INT_H

#include <sqlite3.h>
#include <time.h>

#include "store.h"

struct pg_store; /* the PostGIS backend (pg/pg.h): set for a postgresql:// store */

#define STMT_CACHE 48

struct stmt_slot {
    char *sql;
    sqlite3_stmt *stmt;
    uint64_t used;
};

struct store {
    sqlite3 *db;
    void *spl_cache; /* SpatiaLite connection cache */
    int srid;        /* storage CRS, 0 if no schema yet */
    int readonly;
    struct stmt_slot stmts[STMT_CACHE];
    uint64_t tick;
    struct timespec deadline;
    int has_deadline;
    int64_t data_version; /* last PRAGMA data_version seen (store_changed) */
    int shm_fd;           /* the WAL-index (-shm) file read-only, -1 if none (changes.c) */
    int shm_known;        /* shm_seen holds its header as of the last PRAGMA */
    unsigned char shm_seen[96];
    struct store_reads *reads; /* restricted reads of the current request (audit), or NULL */
    char *(*text_fold)(const char *s); /* registered as spp_fold (store_set_text_fold) */
    struct pg_store *pg;               /* PostGIS: every public function routes to pg/ (issue 24) */
    size_t ids_max;                    /* store_box_ids' cap: STORE_IDS_MAX (a test lowers it) */
    /* ids.c: per layer whether its R*Tree is SQLite's float rtree of 2 dimensions, whose node
     * blobs store_box_ids walks itself (1), or something else, read through SQL (0) */
    struct rtree_kind {
        char layer[64];
        int direct;
    } rtree_kinds[64];
    int n_rtree_kinds;
};

/* changes.c: opens the -shm file store_changed reads first (nothing when there is none) */
void store_watch_open(struct store *st);

/* ids.c: a box query's ids, ascending, for spp_ids(?) (the table-valued function ids.c
 * registers on every connection: store_ids_register) */
struct store_ids {
    int64_t *v;
    size_t n;
};
int store_ids_register(sqlite3 *db); /* an SQLite result code */
/* The R*Tree read of q's box: "SELECT pkid FROM idx_<layer>_geom WHERE <box>[ AND <extent>]"
 * appended to b (ERR_NOMEM), and its values bound from *pos on (an SQLite result code); both
 * the id read and the IN sub-select (query.c) use them. */
int store_put_box_select(struct buf *b, const struct store_query *q);
int store_bind_box_select(sqlite3_stmt *s, int *pos, const struct store_query *q);
/* The ids of q's layer whose R*Tree box meets q->bbox (and q->index_min_extent), sorted; *fits
 * 0 (and none) above st->ids_max (STORE_IDS_MAX) of them, which the IN sub-select reads instead
 * (its temporary b-tree is bounded by the page cache and spills to disk; the array is 16 bytes an
 * id). */
#define STORE_IDS_MAX ((size_t)1 << 21)
int store_box_ids(struct store *st, const struct store_query *q, struct store_ids *out, int *fits,
                  struct err *err);
/* Binds ids to parameter pos of s (SQLite's pointer passing); ids must outlive the binding. */
int store_ids_bind(sqlite3_stmt *s, int pos, const struct store_ids *ids);
void store_ids_free(struct store_ids *ids);

/* Prepared statement for sql from the cache (reset, bindings cleared); NULL with err on failure.
 * The statement belongs to the cache: do not finalize it. */
sqlite3_stmt *store_prepare(struct store *st, const char *sql, struct err *err);
/* Converts a SpatiaLite geometry BLOB into 2D little-endian ISO WKB in out (reset first).
 * ERR_DB for a malformed or compressed blob. */
int store_blob_to_wkb(const unsigned char *blob, size_t len, struct buf *out, struct err *err);
/* err from the connection's last error ("context: message"). */
int store_db_error(struct store *st, struct err *err, const char *context);
/* Appends a quoted SQL identifier (names come from the catalog, checked at load). */
int store_put_ident(struct buf *b, const char *name);
/* overview.c: after an edit (its boxes are spp_changes rows of batch "edit:ID", the layer's
 * version just bumped) brings l's land-use overview in step for those boxes when it was in step
 * before; otherwise leaves it (tiles read the features until the next import). geo: storage CRS
 * to EPSG:3857. On PostGIS: pg_overview_edit (pg/edit.c calls it itself, with its own geo). */
int store_overview_edit(struct store *st, const struct layer_def *l, const char *batch,
                        struct geo_ctx *geo, struct err *err);
/* The connection an edit writes on (edit.c), for the lock functions (lock.c). */
struct store *store_edit_conn(struct store_edit *ed);
/* The lock id the edit acts for (store_edit_set_lock), "" for none. */
const char *store_edit_lock(const struct store_edit *ed);

/* edit.c: whether change change_id (of layer `layer`, feature fid; reverted_by `by`, 0 when not;
 * `last` the feature's latest change) may be reverted now: *l its catalog layer. ERR_PARAM with
 * the reason (not in the catalog, reverted already, changed later). Both backends' reverts. */
int store_revert_check(const struct catalog *cat, int64_t change_id, const char *layer, int64_t fid,
                       int64_t by, int64_t last, const struct layer_def **l, struct err *err);

#endif
