/* SPDX-License-Identifier: MIT */
/* store: the SpatiaLite file, or a PostgreSQL/PostGIS database (pg/, `--db postgresql://`).
 * One table per catalog layer (fid, the catalog's fields, geom in the
 * storage CRS with an R*Tree index), spp_* metadata tables, the tile cache's blob file, and a
 * streaming query interface that every service uses: layer + bbox + filter tree + properties +
 * order + paging -> feature sink. The store compiles the tree in its own dialect; no caller holds
 * SQL (the importer writes through the load API, "Loading"), and store/ is the only module that
 * includes SQLite or SpatiaLite: this header is the seam a second backend implements. SQL text is
 * built only from catalog names; request values are always bound.
 *
 * Must not: know a protocol or a role's output (access.c decides, the store applies row rules),
 * or let a caller's SQL in. */
#ifndef SPP_STORE_H
#define SPP_STORE_H

#include <stdint.h>

#include "../config/config.h"
#include "../core/core.h"
#include "../geo/geo.h"

struct store; /* one SQLite connection with SpatiaLite loaded; used by one thread at a time */

/* Open and close. */
enum store_mode { STORE_READ, STORE_WRITE };
/* Opens an existing store (STORE_READ: read-only connection for a worker; STORE_WRITE:
 * read-write, creating the file if missing). ERR_IO if it cannot be opened, ERR_DB otherwise. */
int store_open(const char *path, enum store_mode mode, struct store **out, struct err *err);
void store_close(struct store *st);
/* 1 if path names a PostgreSQL/PostGIS store (a postgresql:// or postgres:// libpq URI, issue
 * 24): one shared database, no files beside it. A password in the URI is refused at open:
 * libpq takes it from PGPASSWORD or ~/.pgpass. */
int store_is_remote(const char *path);
/* 0 when the database of the store at path answers (PostGIS: on one process-wide connection,
 * reconnected with backoff, within a 2 s limit), ERR_DB when it does not; for /readyz, which
 * runs without a worker. A SpatiaLite path always answers (the file is the caller's to stat). */
int store_ping(const char *path, struct err *err);
/* The change watch of a PostGIS store (store/pg/listen.c): one thread with its own direct
 * connection to path (LISTEN spp_changes, and the change mark polled every second), so
 * store_changed on that store's connections costs no query. A no-op for a SpatiaLite path. */
int store_watch_start(const char *path, struct err *err);
void store_watch_stop(void);
/* 1 when the PostgreSQL server of path does not answer or does not accept connections yet
 * (starting, shutting down): worth waiting for, unlike a refused login or a missing database. */
int store_db_away(const char *path);
/* The raw sqlite3 handle, for store-internal helpers in other store files (the importer loads
 * through the load API below, not through this). */
void *store_db(struct store *st);

/* Schema. */
/* Creates spatial metadata, spp_* tables and every layer table that is missing; records the
 * storage CRS. An existing store with another storage CRS is ERR_PARAM. */
int store_init_schema(struct store *st, const struct catalog *cat, int srid, struct err *err);
/* The storage CRS recorded in the store (0 if the store has no schema). */
int store_srid(struct store *st);
/* Compares the store with the catalog: tables, columns and types, geometry column, CRS,
 * spatial index, invalid geometries. Appends one line per problem to report; *n_problems. */
int store_check(struct store *st, const struct catalog *cat, struct buf *report, int *n_problems,
                struct err *err);

/* Layer state (spp_layers, kept by the importer). */
struct layer_state {
    int64_t n_features;
    int64_t version; /* bumped by every change */
    int has_extent;
    struct bbox extent; /* storage CRS */
    char updated[32];   /* ISO timestamp or "" */
};
int store_layer_state(struct store *st, const struct layer_def *layer, struct layer_state *out,
                      struct err *err);
/* The same as role sees it: n_features counts only the rows the layer's row rule lets role see
 * (the extent stays the layer's). */
int store_layer_state_role(struct store *st, const struct layer_def *layer, enum role role,
                           struct layer_state *out, struct err *err);
/* Recomputes spp_layers for one layer from its table (count, extent), bumping its version. */
int store_refresh_layer(struct store *st, const struct layer_def *layer, const char *batch,
                        struct err *err);

/* Lineage of a layer for its metadata record (meta.c, issue 21). */
#define STORE_LINEAGE_MAX 16
struct store_batch {
    char batch[64];
    char at[32]; /* ISO time the batch finished, or "" */
    int64_t n_features;
};
struct store_source {
    char batch[64];
    char path[256]; /* as the import named it */
};
struct store_lineage {
    char last_batch[64]; /* spp_layers.import_batch: the batch that last replaced the layer */
    char last_date[32];  /* when it finished (spp_imports), else spp_layers.updated */
    struct store_batch batches[STORE_LINEAGE_MAX]; /* newest first (spp_layer_history) */
    int n_batches;
    struct store_source sources[STORE_LINEAGE_MAX]; /* newest batch first (spp_sources) */
    int n_sources;
};
/* Fills out for layer. A layer never imported has empty strings and no batches. ERR_DB. */
int store_layer_lineage(struct store *st, const struct layer_def *layer, struct store_lineage *out,
                        struct err *err);

/* The newest finished import (spp_imports): its batch name and finish time, "" when none.
 * ERR_DB (a store without the table too). */
int store_last_import(struct store *st, char *batch, size_t batch_len, char *at, size_t at_len,
                      struct err *err);

/* Data quality (meta.c, issue 21). */
/* Rows of layer role may see (*total) and, per field of fields, how many have a value (not NULL,
 * not ''). ERR_DB. */
int store_layer_completeness(struct store *st, const struct layer_def *layer, enum role role,
                             const int *fields, int n_fields, int64_t *filled, int64_t *total,
                             struct err *err);
/* Calls fn for each finding kind and severity of layer in batch (spp_findings), most first. */
int store_layer_findings(struct store *st, const struct layer_def *layer, const char *batch,
                         int (*fn)(void *ud, const char *kind, const char *severity, int64_t n),
                         void *ud, struct err *err);

/* The change feed (spp_feature_changes, written by imports: issue 21). */
struct store_feature_change {
    int64_t id;      /* cursor: ascending */
    const char *op;  /* "insert", "update", "delete"; valid during the callback */
    const char *key; /* the natural key, else the fid, as text */
    int has_fid;     /* 0 for a delete */
    int64_t fid;     /* the feature's id (OGC API, WFS) after the batch */
    const char *batch, *at;
};
/* Calls fn for the changes of layer with id > after and batch time >= since (ISO, "" = all), at
 * most limit, in id order; *more = 1 when there are further ones. Changes of rows role may not
 * see (the layer's row rule, by the row's value when it changed) are left out. A store without
 * the table has no changes. fn's non-zero return stops and is returned. ERR_DB. */
int store_feature_changes(struct store *st, const struct layer_def *layer, enum role role,
                          const char *since, int64_t after, int64_t limit,
                          int (*fn)(void *ud, const struct store_feature_change *c), void *ud,
                          int *more, struct err *err);

/* Feature queries. Callers describe what they want (layer, box, a filter *tree*, fields, order,
 * paging, a geometry operation by name) and never hold SQL: the store compiles the tree with its
 * own dialect (SQLite/SpatiaLite through filter_compile today), so a second backend implements
 * these functions and nothing above store/ changes. */
struct filter; /* filter/filter.h */
enum store_geom_op {
    STORE_GEOM_AS_IS,   /* the stored geometry */
    STORE_GEOM_SIMPLIFY /* simplified with geom_tolerance (storage CRS units), topology kept */
};
struct store_query {
    const struct layer_def *layer;
    int has_bbox;
    struct bbox bbox;            /* storage CRS */
    int bbox_exact;              /* 1: geometry must intersect the box; 0: index boxes only */
    const struct filter *filter; /* checked (filter_check) or built by code (filter_and_*);
                                  * NULL = every row. Borrowed: compiled by the store per query */
    struct geo_ctx *geo;         /* transforms the filter's geometry literals into the storage
                                  * CRS; may be NULL when it has none in another CRS */
    const int *fields;           /* indexes into layer->fields to read */
    int n_fields;
    const int *order; /* field indexes; -1 = fid */
    const int *order_desc;
    int n_order;
    double index_min_extent; /* > 0: the filter drops every feature whose box is smaller than
                              * this on both axes (filter_and_min_extent); SQLite skips those by
                              * their R*Tree box before reading the row */
    int64_t limit;           /* < 0: no limit */
    int64_t offset;
    int want_geom;              /* 1: f->wkb is filled */
    enum store_geom_op geom_op; /* what f->wkb holds (want_geom) */
    double geom_tolerance;      /* STORE_GEOM_SIMPLIFY */
    enum role role; /* who asks: the layer's row rule for this role is applied (access.c);
                     * 0 is ROLE_PUBLIC, the most restricted, so a caller that forgets it
                     * shows less, never more */
    /* n_parts > 1: only the rows with (fid / 64) % n_parts == part (runs of 64 fids: about 1/n
     * of the pages each), so that n queries (on as many connections) read the rows between
     * them, each row in one (a share decided by the row alone, not by a count); each has its
     * own snapshot unless the caller holds one (store_begin_read). limit/offset per part. */
    int part, n_parts;
};

struct feature {
    const struct layer_def *layer;
    int64_t fid;
    const unsigned char *wkb; /* ISO WKB in the storage CRS, NULL when none; valid during call */
    size_t wkb_len;
    const struct value *values; /* parallel to query fields */
    const int *fields;
    int n_fields;
};

struct feature_sink {
    int (*begin)(void *ud, const struct layer_def *layer, struct err *err);
    int (*feature)(void *ud, const struct feature *f, struct err *err); /* f valid during call */
    int (*end)(void *ud, struct err *err);
    void *ud;
};

/* Streams the matching features into sink. ERR_PARAM from compiling q's filter (a geometry
 * literal that cannot be transformed: err's locator says where), ERR_DB on SQLite errors,
 * ERR_LIMIT when the query time limit (store_set_deadline) is hit; a sink's own error is passed
 * up unchanged. */
int store_query_run(struct store *st, const struct store_query *q, const struct feature_sink *sink,
                    struct err *err);
/* Number of features matching q (ignoring limit/offset/order). */
int store_query_count(struct store *st, const struct store_query *q, int64_t *count,
                      struct err *err);
/* Compiles q's filter as store_query_run would, without running it: a request's ERR_PARAM comes
 * out here, before an answer is started. */
int store_query_check(struct store *st, const struct store_query *q, struct err *err);
/* Registers fold (diacritic folding, returning a malloc'd string or NULL) as the text fold of
 * FILTER_MATCH_FOLDED nodes on this connection. ERR_DB. */
int store_set_text_fold(struct store *st, char *(*fold)(const char *s), struct err *err);
/* The text fold of searches (search.c): NFD, combining marks dropped, đ -> d, case folded, runs
 * of white space one space, trimmed; malloc'd, NULL for invalid UTF-8 or no memory. Every
 * SpatiaLite connection has it as spp_fold from store_open on (the search indexes' triggers call
 * it); query_fold is this function. */
char *store_text_fold(const char *s);
/* Restricted reads (issue 21 audit): while a request runs, the router lets the store note every
 * query that returned fields above public or rows the public may not see (a row rule the
 * caller's role is exempt from), per layer, with the features streamed. */
#define STORE_READS_MAX 8
struct store_read {
    const struct layer_def *layer;
    unsigned char fields[256]; /* 1 for each restricted field index returned */
    int rows;                  /* 1: rows hidden from the public were readable */
    int64_t n_features;
    int cached; /* 1: (also) answered from the tile cache, where features are not counted */
};
struct store_reads {
    struct store_read r[STORE_READS_MAX];
    int n;
    int overflow; /* more layers than STORE_READS_MAX: counted into the last entry */
};
/* Starts noting into reads (cleared first); NULL stops. */
void store_track_reads(struct store *st, struct store_reads *reads);
/* A tile answered from the tile cache carries what role's query of layer read when it was made:
 * noted like that query (with_fields: the fields role may read, as in a vector tile; else only
 * its rows, as in a raster tile), marked cached, so restricted tiles are audited on a hit too. */
void store_note_cached(struct store *st, const struct layer_def *layer, enum role role,
                       int with_fields);

/* Caps SQLite work for the next queries: ms milliseconds from now (0 = no limit). */
void store_set_deadline(struct store *st, int ms);
/* Gives st the deadline `from` has (or none): a helper connection reading part of a request
 * (core/par.h) stops when the request's connection would. */
void store_share_deadline(struct store *st, const struct store *from);
/* Whether st notes restricted reads for a request now (store_track_reads): such a request reads
 * on its own connection only, so that every read is noted. */
int store_tracks_reads(const struct store *st);

/* Attribute indexes (lookup.c), for the land API. */
/* Creates the attribute indexes lookups use, if missing: each layer's natural key, commune_code,
 * and (commune_code, sheet_no, parcel_no) for parcels. Needs a writable store. ERR_DB. */
int store_ensure_lookup_indexes(struct store *st, const struct catalog *cat, struct err *err);
/* Fills the layer's spatial index, created empty by CreateSpatialIndex, from its table in one
 * packed pass (rtree.c). */
int store_rtree_load(struct store *st, const struct layer_def *l, struct err *err);
/* The same for one layer; and dropping them (a bulk load builds them once at its end). */
int store_ensure_layer_indexes(struct store *st, const struct layer_def *l, struct err *err);
int store_drop_layer_indexes(struct store *st, const struct layer_def *l, struct err *err);

/* API keys (spp_keys): stored as SHA-256 hex of the key. A key may carry a sharing agreement
 * (issue 21): the agency it was given to, the layers and fields it may read, an expiry date and
 * a daily request quota. */
struct key_info {
    int64_t id;
    char name[128];
    enum role role;
    char created[32];
    char revoked[32];  /* "" if active */
    char agency[128];  /* "" for a plain role key */
    char layers[1024]; /* comma list of layer ids, "" = every layer the role may read */
    char fields[2048]; /* comma list of layer.field, "" = every field the role may read */
    char rows[512];    /* comma list of layer.field=value, "" = the role's rows */
    char expires[16];  /* YYYY-MM-DD (last valid day, UTC), "" = never */
    int64_t quota;     /* requests per UTC day, 0 = unlimited */
};
/* Creates a key; writes the clear key (once) into key_out (at least 48 bytes). */
int store_key_add(struct store *st, enum role role, const char *name, char *key_out,
                  int64_t *id_out, struct err *err);
/* The same with a sharing agreement: k gives role, name, agency, layers, fields, expires and
 * quota (id, created, revoked are ignored). */
int store_key_add_agreement(struct store *st, const struct key_info *k, char *key_out,
                            int64_t *id_out, struct err *err);
/* Calls fn for each key, newest last. */
int store_key_list(struct store *st, void (*fn)(void *ud, const struct key_info *k), void *ud,
                   struct err *err);
/* ERR_NOT_FOUND if no such key. */
int store_key_revoke(struct store *st, int64_t id, struct err *err);
/* Looks up a presented key: ERR_FORBIDDEN if unknown or revoked; fills out. Expiry is the
 * caller's to judge (access_key_valid). */
int store_key_lookup(struct store *st, const char *key, struct key_info *out, struct err *err);
/* The same, role and id only. */
int store_key_check(struct store *st, const char *key, enum role *role, int64_t *id,
                    struct err *err);

/* Key usage (usage.c): requests per key and UTC day and the last use, in a small SQLite file
 * beside the store (DB.usage; the workers' store connections are read-only). One process-wide
 * connection behind a mutex, opened on first use. */
/* Counts one request of key_id today; *over = 1 (and nothing counted) when quota (> 0) requests
 * were already counted today. ERR_DB / ERR_IO. */
int store_usage_hit(const char *db_path, int64_t key_id, int64_t quota, int *over, struct err *err);
/* The last use of key_id ("" if never) and today's count. */
int store_usage_get(const char *db_path, int64_t key_id, char last[32], int64_t *today,
                    struct err *err);

/* The audit log of a PostGIS store (issue 24): the lines audit.c writes to DB.audit for a
 * SpatiaLite store, in the database, one chain for every replica (pg/audit.c). rests are the
 * entries without their {"seq":N head and closing brace: the store numbers and hashes them
 * after the last entry, under a table lock. store_audit_dump writes every line in order to
 * file (a FILE *). ERR_DB. */
int store_audit_append(const char *uri, const char *const *rests, int n, struct err *err);
int store_audit_dump(const char *uri, void *file, struct err *err);

/* Changes (spp_changes): areas changed by imports and edits, for exact tile invalidation. */
struct store_change {
    int64_t id;
    const char *layer; /* valid during the callback */
    int has_bbox;      /* 0: the whole layer changed */
    struct bbox bbox;  /* storage CRS */
};
/* 1 if another connection committed since the last call on this connection (or on the first
 * call), 0 otherwise. Cheap: a read of the WAL-index header, and PRAGMA data_version only when
 * that header moved (changes.c). */
int store_changed(struct store *st);
/* Largest spp_changes id (0 when none). */
int store_changes_max(struct store *st, int64_t *id, struct err *err);
/* Calls fn for each change with id > after, in id order; fn's non-zero return stops and is
 * returned. ERR_DB. */
int store_changes_since(struct store *st, int64_t after,
                        int (*fn)(void *ud, const struct store_change *c), void *ud,
                        struct err *err);

/* Tile cache (tilestore.c): the blob store behind tiles/cache.c. Its own file beside the store
 * ("DB.tiles"), so the workers' store connections stay read-only. Entries are keyed by (key,
 * encoding) and carry what invalidation needs: the canon layer list (",a,b,"), the format and
 * z/x/y; plus the ETag, the bytes, their size and the Unix second of their last use (the LRU
 * order of the file). No policy: what to cache, keys and invalidation are the caller's. One
 * connection: not thread-safe, the caller serialises every call on one blob store. */
struct store_blobs;
struct store_blob_info {
    char layers[1024]; /* canon layer list */
    char fmt[8];       /* "mvt", "png" */
    int z, x, y;
    char etag[40];
    int complete;     /* store_blobs_get: 1 when layers and fmt were both recorded */
    int64_t id, used; /* store_blobs_get: the row, its last use (store_blobs_touch) */
};
/* Opens (creating) the blob file path. ERR_IO if it cannot be opened or set up, ERR_DB. */
int store_blobs_open(const char *path, struct store_blobs **out, struct err *err);
void store_blobs_close(struct store_blobs *b); /* accepts NULL */
/* A second connection to the file store_blobs_open made, for store_blobs_get with now 0 only:
 * WAL readers never wait for the writer's transaction (tiles/cache.c looks up misses on it
 * while the writer thread writes a batch). ERR_IO, ERR_DB. */
int store_blobs_open_reader(const char *path, struct store_blobs **out, struct err *err);
/* Looks up (key, enc): *found = 1 with the bytes appended to data and info filled, else 0.
 * Refreshes the entry's last use to now when it is a minute old or more (now 0: never); a
 * refresh the file refuses is ERR_IO with *found and data still set (the bytes are good).
 * ERR_DB, ERR_NOMEM. */
int store_blobs_get(struct store_blobs *b, const char *key, const char *enc, int64_t now,
                    struct buf *data, struct store_blob_info *info, int *found, struct err *err);
/* Sets the last use of row id (store_blob_info.id) to now. ERR_IO when the file refuses. */
int store_blobs_touch(struct store_blobs *b, int64_t id, int64_t now, struct err *err);
/* Stores (replacing) (key, enc) with info's layers, fmt, z/x/y and etag, last used now. ERR_IO
 * with the file's message when it refuses the write (disk full, read-only). */
int store_blobs_put(struct store_blobs *b, const char *key, const char *enc,
                    const struct store_blob_info *info, const char *data, size_t len, int64_t now,
                    struct err *err);
/* Deletes the entries of format fmt at zoom z with x0 <= x <= x1, y0 <= y <= y1 whose layer list
 * contains layers_part (",a,"); adds their number to *n_dropped. ERR_DB. */
int store_blobs_drop_range(struct store_blobs *b, const char *fmt, const char *layers_part, int z,
                           int x0, int y0, int x1, int y1, int64_t *n_dropped, struct err *err);
/* Deletes every entry. ERR_DB. */
int store_blobs_clear(struct store_blobs *b, struct err *err);
/* Bytes of entry data kept. ERR_DB. */
int store_blobs_total(struct store_blobs *b, int64_t *bytes, struct err *err);
/* Deletes least recently used entries while *bytes (the data kept, updated) exceeds goal, in one
 * transaction, then gives the freed pages back; adds the number deleted to *n_evicted. ERR_IO
 * when the file refuses (nothing deleted; *bytes recounted). */
int store_blobs_evict(struct store_blobs *b, int64_t goal, int64_t *bytes, int64_t *n_evicted,
                      struct err *err);
/* A number kept in the file under key (*value = dflt when none or unreadable). */
int store_blobs_meta_get(struct store_blobs *b, const char *key, int64_t dflt, int64_t *value);
int store_blobs_meta_set(struct store_blobs *b, const char *key, int64_t value, struct err *err);
/* Groups writes (a sync's drops) into one transaction. ERR_DB. */
int store_blobs_begin(struct store_blobs *b, struct err *err);
int store_blobs_commit(struct store_blobs *b, struct err *err);
void store_blobs_rollback(struct store_blobs *b); /* of a failed batch; no transaction: a no-op */

/* Loading (the importer). A batch is one write transaction on the store: store_load_begin
 * starts it, store_load_finish publishes it (readers see the store before the batch or after it,
 * never a mix; a killed import leaves the old store), store_load_abort drops it. Inside a batch
 * the importer replaces whole layers (store_load_layer_begin, store_load_put for each feature,
 * store_load_layer_done) and records what the batch did: findings, changed areas, the change
 * feed, its sources and the layers' counts. Everything is said in catalog terms (layer_def, field
 * indexes, struct value, ISO WKB in the storage CRS), never in SQL: a second backend (PostGIS)
 * implements these functions and the importer does not change (docs/design-notes.md, "Store":
 * the contract). Every function returns 0 or ERR_DB (the store refused: busy, full, a constraint),
 * ERR_NOMEM, or ERR_INTERNAL for a call out of order. */
struct store_load; /* one batch in progress on one store; one thread at a time */

/* Opens the store at path for loading into it, creating it if it does not exist (*created = 1),
 * and makes its schema from cat with storage CRS srid (store_init_schema). With dry_run, a store
 * that does not exist is not created: an empty scratch store (in memory) is opened instead.
 * ERR_IO, ERR_DB, ERR_PARAM as store_open and store_init_schema. */
int store_load_open(const char *path, const struct catalog *cat, int srid, int dry_run,
                    struct store **out, int *created, struct err *err);
/* Removes the store at path that store_load_open created, once its first batch failed (the file
 * and its journals). Close it first. */
void store_load_remove(const char *path);

/* Starts the batch named batch (at most 63 bytes; spp_imports.batch and the import_batch of the
 * rows it writes): one write transaction; findings an earlier run of the same batch left are
 * cleared. new_store: the store was created for this batch and has no readers yet (SpatiaLite
 * writes it with a rollback journal and switches it to WAL when it is published). On success *out
 * is owned by the caller until store_load_finish or store_load_abort. */
int store_load_begin(struct store *st, const char *batch, int new_store, struct store_load **out,
                     struct err *err);
/* Publishes the batch (commit) and frees ld, also when it fails (the batch is rolled back then).
 * ERR_INTERNAL, rolled back, when a layer was begun and not done. */
int store_load_finish(struct store_load *ld, struct err *err);
/* Drops the batch (rollback) and frees ld. NULL is a no-op. */
void store_load_abort(struct store_load *ld);

/* A finding of the batch (spp_findings): row <= 0 when it is not about one source row; file may
 * be "". Strings are copied. */
int store_load_finding(struct store_load *ld, const char *layer, const char *file, int64_t row,
                       const char *severity, const char *kind, const char *message,
                       struct err *err);

/* Reading inside the batch (it sees the batch's own writes). */
struct store_scan {
    const struct layer_def *layer;
    const int *fields; /* indexes into layer->fields; f->values is parallel to them */
    int n_fields;
    int want_geom; /* 1: f->wkb is the geometry as ISO WKB (storage CRS), NULL when it has none */
    int64_t limit; /* at most this many features (< 0: all) */
};
/* Calls fn for each feature of q->layer in fid order, with its bounding box (storage CRS; NULL
 * when it has no geometry). f and box are valid during the call only. fn's non-zero return stops
 * the scan and is returned as it is. */
int store_load_scan(struct store_load *ld, const struct store_scan *q,
                    int (*fn)(void *ud, const struct feature *f, const struct bbox *box), void *ud,
                    struct err *err);
/* Calls fn with the recorded state of every layer the store has state for (spp_layers, also
 * layers the catalog no longer has), in layer id order; fn's non-zero return stops and is
 * returned. */
int store_load_layer_states(struct store_load *ld,
                            int (*fn)(void *ud, const char *layer, const struct layer_state *s),
                            void *ud, struct err *err);

/* Replacing a layer. */
/* Starts replacing layer: notes the identity of each feature it has now for the change feed (the
 * natural key's value as text, else the fid; with the row-rule field's value), then empties it
 * for a bulk load. One layer at a time: beginning another while one is open abandons the open
 * one, and the batch can then only be aborted (store_load_finish refuses it). */
int store_load_layer_begin(struct store_load *ld, const struct layer_def *layer, struct err *err);
/* Adds a feature to the open layer: fid (unique in the layer, > 0), values[i] the value of
 * layer->fields[i] for every field (VAL_NULL, VAL_INT, VAL_REAL, VAL_TEXT; len < 0: NUL-
 * terminated), wkb the geometry as ISO WKB of the layer's type in the storage CRS (NULL: none).
 * Everything is borrowed for the call. ERR_DB for a fid used twice. */
int store_load_put(struct store_load *ld, int64_t fid, const struct value *values,
                   const unsigned char *wkb, size_t wkb_len, struct err *err);
/* Completes the open layer: its spatial and attribute indexes, and its state (spp_layers: count,
 * extent, version + 1, updated now, import_batch the batch). */
int store_load_layer_done(struct store_load *ld, struct err *err);
/* Sets n fields (indexes into layer->fields) of feature fid of a layer already loaded in this
 * batch; a fid the layer does not have is not an error. */
int store_load_update(struct store_load *ld, const struct layer_def *layer, int64_t fid,
                      const int *fields, const struct value *values, int n, struct err *err);
/* Records that box (storage CRS) of layer changed in this batch at time at (ISO), for the tile
 * caches (spp_changes). */
int store_load_change(struct store_load *ld, const struct layer_def *layer, const struct bbox *box,
                      const char *at, struct err *err);
/* Records the change feed of layer (spp_feature_changes), after its updates: each feature whose
 * import_batch is this batch is an insert, or an update when its identity was there before the
 * layer was replaced; each identity no longer there is a delete. at: the batch's time (ISO).
 * unchanged[0..n_unchanged): fids of features the importer found identical to the ones they
 * replace (same fid, geometry and attributes): they are no change, even when the batch has the
 * same name as the one that wrote them. */
int store_load_feature_changes(struct store_load *ld, const struct layer_def *layer, const char *at,
                               const int64_t *unchanged, size_t n_unchanged, struct err *err);

/* The batch's own record. */
struct store_import_record {
    const char *started, *finished; /* ISO times */
    const char *sources;            /* JSON array of the source paths */
    const char *counts;             /* JSON object: read, written, rejected */
    const char *checksums;          /* JSON object: source path -> checksum */
    const char *report;             /* the report, JSON */
};
/* Records the batch (spp_imports), replacing an earlier record of the same batch. */
int store_load_record(struct store_load *ld, const struct store_import_record *r, struct err *err);
/* Records a source of the batch (spp_sources): path as the import named it, abs_path where it
 * was read, position its place in the batch. */
int store_load_source(struct store_load *ld, const struct layer_def *layer, const char *path,
                      const char *abs_path, int position, struct err *err);
/* Records layer's feature count after the batch (spp_layer_history), from its state. */
int store_load_history(struct store_load *ld, const struct layer_def *layer, struct err *err);

/* ---- Land-use overview (issue 22; overview.c) ---- */
/* The precomputed overview of a class-styled polygon layer for the STORE_OVERVIEW_ZOOMS zooms
 * below its minzoom: per cell (a WebMercatorQuad tile STORE_OVERVIEW_CELL_BITS zooms below the
 * tile's zoom, so 32 x 32 cells per tile) and class value, the features whose box centre is in it
 * (n) and their area in it (m², a feature's area spread over the cells its box covers by
 * overlap). The same C code (overview.c) computes the cells on both backends, so SpatiaLite and
 * PostGIS (pg/overview.c: the statements) hold the same cells and give the same tiles. */
#define STORE_OVERVIEW_ZOOMS     3
#define STORE_OVERVIEW_CELL_BITS 5
struct store_overview_cell {
    int64_t x, y;    /* the cell: a tile at level (= zoom + STORE_OVERVIEW_CELL_BITS) */
    const char *cls; /* the class value as text, NULL for features without one */
    int64_t n;       /* features whose box centre is in the cell */
    double area;     /* their area inside it, m² */
};
/* Brings the overview of layer (just loaded in this batch, store_load_layer_done) in step, class
 * field class_field (an index into layer->fields; -1: the first field with a code list, the one
 * styles class polygons by). A layer that is not a polygon layer with such a field, or whose
 * minzoom is below STORE_OVERVIEW_ZOOMS, has none (0, nothing done). Made the first time, or when
 * it was made at another version or field, for the whole layer; otherwise only the cells inside the
 * batch's changed areas of the layer (store_load_change), all of them above 512 areas. geo
 * transforms the storage CRS into EPSG:3857. ERR_DB, ERR_NOMEM. */
int store_load_overview(struct store_load *ld, const struct layer_def *layer, int class_field,
                        struct geo_ctx *geo, struct err *err);
/* Calls fn for each overview cell of layer at level within x0..x1, y0..y1 (any order). The rows
 * are counted regardless of row rules (callers fall back when one applies). ERR_NOT_FOUND when
 * the store has no overview of layer by class_field at its current version (never made, made by
 * an older import, or the layer changed since). fn's non-zero return stops and is returned. */
int store_overview_cells(struct store *st, const struct layer_def *layer, const char *class_field,
                         int level, int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                         int (*fn)(void *ud, const struct store_overview_cell *c), void *ud,
                         struct err *err);
/* ---- end of the land-use overview ---- */

/* ---- Editing (issue 20; edit.c, pg/edit.c) ----
 * Feature edits by fid: one write connection per process to db_path (SpatiaLite or PostGIS: the
 * primary, never a --db-read standby), opened on first use and serialised by a mutex (workers'
 * connections stay read-only; WAL keeps them unblocked). An edit is one write transaction:
 * store_edit_begin .. store_edit_commit (all of it) or store_edit_abort (none). On PostGIS,
 * where replicas are separate processes, store_edit_get locks the row (SELECT ... FOR UPDATE)
 * until the edit ends, so a second writer checks its ETag against what the first wrote. An edit
 * brings a land-use overview that was in step with the layer along (overview.c, both backends).
 * Every write is recorded in spp_edits (who, when, before/after), in spp_changes (the boxes of the
 * old and new geometry, from which every process's tile cache drops exactly those cells) and in
 * the change feed; the layer's version is bumped. Values are said in catalog terms (struct value
 * per layer field, ISO WKB in the storage CRS); pg/edit.c implements them on PostGIS. */
#define STORE_ETAG_LEN 24
struct store_edit;
struct store_row {
    int64_t fid;          /* > 0; 0 in store_edit_insert: the store picks one */
    struct value *values; /* layer->n_fields values (VAL_NULL, VAL_INT, VAL_REAL, VAL_TEXT) */
    int n_values;
    unsigned char *wkb; /* ISO WKB, storage CRS, of the layer's type; NULL: none */
    size_t wkb_len;
};
/* Frees what store_edit_get filled (texts and wkb are owned by the row then). */
void store_row_fini(struct store_row *r);
/* who: the editor as the log shows it ("key 3 (planning office)"). ERR_IO, ERR_DB. */
int store_edit_begin(const char *db_path, const char *who, struct store_edit **out,
                     struct err *err);
/* Commits (ERR_DB: rolled back) and frees ed. */
int store_edit_commit(struct store_edit *ed, struct err *err);
void store_edit_abort(struct store_edit *ed); /* NULL is a no-op */
/* Closes the process's write connection (at exit). */
void store_edit_close_all(void);
/* Feature fid of l as it is inside the edit: *found, the row (when out; owned, store_row_fini)
 * and its ETag (a quoted hash of the fid, the field values and the geometry as ISO WKB: the same
 * as store_feature_etag gives, on either backend). On PostGIS the row stays locked. */
int store_edit_get(struct store_edit *ed, const struct layer_def *l, int64_t fid,
                   struct store_row *out, char etag[STORE_ETAG_LEN], int *found, struct err *err);
/* The ETag of feature fid on a reading connection; *found 0 when there is no such feature. */
int store_feature_etag(struct store *st, const struct layer_def *l, int64_t fid,
                       char etag[STORE_ETAG_LEN], int *found, struct err *err);
/* Writes; *change_id is the spp_edits id (may be NULL). ERR_DB for a refused row (a fid used
 * twice, a geometry of another type). Update replaces every field and the geometry of r->fid. */
int store_edit_insert(struct store_edit *ed, const struct layer_def *l, const struct store_row *r,
                      int64_t *fid, int64_t *change_id, struct err *err);
int store_edit_update(struct store_edit *ed, const struct layer_def *l, const struct store_row *r,
                      int64_t *change_id, struct err *err);
int store_edit_delete(struct store_edit *ed, const struct layer_def *l, int64_t fid,
                      int64_t *change_id, struct err *err);
/* The change log (spp_edits) of one feature: key is the natural key's value or the fid. */
struct store_edit_entry {
    int64_t id, fid, reverts, reverted_by; /* reverts/reverted_by: 0 when none */
    const char *layer, *key, *op, *who, *at;
    const char *before, *after; /* JSON objects of the fields, NULL when none */
};
int store_edit_history(struct store *st, const char *layer, const char *key,
                       int (*fn)(void *ud, const struct store_edit_entry *e), void *ud,
                       struct err *err);
/* Undoes change change_id as a new change (*new_id): an insert is deleted, a delete re-inserted
 * with its fid, an update set back. ERR_NOT_FOUND; ERR_PARAM when it was reverted already or the
 * feature changed after it (revert the later change first). */
int store_edit_revert(struct store_edit *ed, const struct catalog *cat, int64_t change_id,
                      int64_t *new_id, struct err *err);
/* ---- end of Editing ---- */

/* ---- Locks (WFS LockFeature / GetFeatureWithLock, issue 20; lock.c, pg/lock.c) ----
 * Feature locks live in the store, so every process on a SpatiaLite file and every replica on a
 * PostGIS database sees the same ones: spp_lock_ids (a lock id and its expiry, epoch seconds)
 * and spp_locks ((layer, fid) -> lock id, one lock per feature). A lock id is 32 hex digits of
 * 128 random bits. A lock whose expiry has passed holds nothing: its features may be taken by
 * another lock or edited by anyone; its rows are deleted by the next acquire, and its id is kept
 * for an hour after expiry so that a late user hears STORE_LOCK_EXPIRED rather than
 * STORE_LOCK_UNKNOWN. Locks are taken, renewed and released inside an edit
 * (store_edit_begin .. store_edit_commit, on its write connection): a refused lockAction=ALL
 * leaves nothing behind, and on PostGIS a feature's row is locked (FOR UPDATE) before its lock
 * is read or written, so a lock and a concurrent edit on two replicas cannot both win.
 * store_edit_update and store_edit_delete (and store_edit_revert) refuse a feature that a live
 * lock other than the edit's own (store_edit_set_lock) holds: ERR_PARAM with err->locator
 * "lockId" and err->http_status STORE_LOCKED_STATUS (423, "Locked"); a protocol edge may say it
 * in its own terms. */
#define STORE_LOCK_ID_LEN   33
#define STORE_LOCKED_STATUS 423
enum store_lock_state { STORE_LOCK_UNKNOWN, STORE_LOCK_LIVE, STORE_LOCK_EXPIRED };
struct store_lock_item {
    const struct layer_def *layer;
    int64_t fid;
    int locked; /* out: 1 when lock_id holds the feature after store_lock_acquire */
};
/* The state of lock id (STORE_LOCK_UNKNOWN: not made here, released, or expired long ago). */
int store_lock_state(struct store_edit *ed, const char *lock_id, enum store_lock_state *out,
                     struct err *err);
/* Takes the n items for lock_id, valid for seconds from now (> 0). lock_id "" makes a new id
 * (written back; kept even when no feature was locked); a given id must be live (ERR_PARAM
 * otherwise, checked by the caller with store_lock_state) and its expiry is reset: every
 * feature it holds is renewed. A feature held by another live lock is not taken: all = 1 takes
 * every item or none (*n_locked 0, the edit unchanged; the new id is not kept), all = 0 takes
 * what it can. items[i].locked and *n_locked say what lock_id holds. */
int store_lock_acquire(struct store_edit *ed, char lock_id[STORE_LOCK_ID_LEN], int seconds, int all,
                       struct store_lock_item *items, int n, int *n_locked, struct err *err);
/* Releases lock_id: n < 0 every feature it holds and the id itself (releaseAction ALL);
 * otherwise only the n items (releaseAction SOME), the others staying locked. */
int store_lock_release(struct store_edit *ed, const char *lock_id,
                       const struct store_lock_item *items, int n, struct err *err);
/* The lock the edit's writes act for (NULL or "": none); copied. */
void store_edit_set_lock(struct store_edit *ed, const char *lock_id);
/* 0 when fid of l may be changed by an editor holding lock_id (NULL: none): no live lock, or
 * lock_id's own; else the "locked" error above. Called by the edit functions (edit.c,
 * pg/edit.c) on the edit's connection before they change or delete a row. */
int store_lock_check(struct store *st, const char *lock_id, const struct layer_def *l, int64_t fid,
                     struct err *err);
/* ---- end of Locks ---- */

/* Copies a SpatiaLite store (src) into a PostGIS one (dst, schema made by store_init_schema):
 * every catalog layer with its fids and the spp_* tables, in one transaction; *n_features
 * counts the features copied (pg/copy.c, `spp copy`). API keys are copied only into a database
 * without keys (a database's own keys are never replaced); layer versions continue above the
 * database's. ERR_PARAM for another pair of backends or another storage CRS. */
int store_copy(struct store *src, struct store *dst, const struct catalog *cat, int64_t *n_features,
               struct err *err);

/* Transactions for writers (the importer, the key commands). */
int store_exec(struct store *st, const char *sql, struct err *err);
int store_begin(struct store *st, struct err *err);
int store_commit(struct store *st, struct err *err);
/* A read snapshot across several queries (one answer reading several layers sees one state of
 * the store): SQLite's deferred BEGIN, PostgreSQL's REPEATABLE READ READ ONLY. store_end_read
 * ends it, rolling back when the commit fails, so the connection never stays in a transaction. */
int store_begin_read(struct store *st, struct err *err);
void store_end_read(struct store *st);
void store_rollback(struct store *st); /* no-op outside a transaction */

#endif
