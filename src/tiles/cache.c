/* SPDX-License-Identifier: MIT */
/* cache.c: the tile cache. Tiles live in an SQLite file beside the store ("DB.tiles"), so the
 * workers' store connections stay read-only; an in-memory LRU sits in front so a hit costs a hash
 * lookup and a copy. One mutex guards both (the cache has its own connection). Keys carry
 * everything that changes the bytes (format, layer list, style, z/x/y, role) and each encoding
 * is its own entry: gzip bytes are stored once and served as they are.
 *
 * Exact invalidation: spp_changes rows (layer, changed box in the storage CRS) not yet processed
 * drop, at every zoom and format, the tiles whose layer list has that layer and whose buffered
 * box meets the changed box; nothing else. The last processed id is kept in the cache file, so a
 * restart catches up; a store whose changes are behind that id (replaced file) empties the cache.
 * The file itself is the store's blob store (store/tilestore.c, "Tile cache" in store.h): this
 * file keeps the policy (keys, memory front, size cap, what a change drops) and no SQL.
 * On a PostGIS store the file is the replica's own (tile_cache_dir, http/server.c) and the same
 * sync keeps it exact: store_changed there reads the change watch (store/pg/listen.c).
 *
 * Write-behind: a put goes into the memory LRU at once (the next request hits) and is queued
 * for one writer thread, which writes what is queued in batches, one transaction each, off the
 * request path. The writer holds dblock for a batch and drops the queued tiles of an older
 * generation than the cache's (a change was processed since they were made): sync bumps the
 * generation under dblock, so a batch is either written before a sync (which then drops what
 * the change touched, from the file) or checked after it. The queue is bounded (QUEUE_BYTES):
 * past it the server skips the disk write (it is only a cache; the tile stays in memory), other
 * users (spp seed) wait for room, so every tile reaches the file. tile_cache_flush waits for
 * what was queued before it; tile_cache_close flushes, so a seed or a stopped server leaves
 * every tile on disk. Lock order: dblock, then lock; qlock is only ever taken alone. */
#include "tiles.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <zlib.h>

#include "../store/store.h"

#define N_BUCKETS   (1u << 16)
#define QUEUE_BYTES ((size_t)32 << 20) /* tile bytes waiting for the writer, at most */
#define BATCH_TILES 128                /* per transaction, at most */
#define BATCH_BYTES ((size_t)8 << 20)

/* Generations are unique within the process, across caches (raster.c keys the label placement
 * of a metatile by one): every bump takes the next value. */
static uint64_t next_gen(void)
{
    static uint64_t last;
    return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

/* A tile's bytes, shared by reference (tile_bytes_*): the memory entry, the write queue and
 * answers being sent (zero-copy hits) each hold one; the last to let go frees them. */
struct tile_bytes {
    size_t refs; /* atomic */
    char data[];
};

static struct tile_bytes *bytes_of(const char *data)
{
    return (struct tile_bytes *)(void *)(data - offsetof(struct tile_bytes, data));
}

/* New bytes (one reference): a copy of data, NULL without memory. */
static char *bytes_new(const char *data, size_t len)
{
    struct tile_bytes *b = malloc(sizeof *b + (len ? len : 1));
    if (!b) return NULL;
    b->refs = 1;
    if (len) memcpy(b->data, data, len);
    return b->data;
}

static char *bytes_ref(char *data)
{
    __atomic_add_fetch(&bytes_of(data)->refs, 1, __ATOMIC_RELAXED);
    return data;
}

void tile_bytes_release(void *data)
{
    if (data && __atomic_sub_fetch(&bytes_of(data)->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(bytes_of(data));
}

struct mem_entry {
    char *key;    /* "key\x1f" enc */
    char *layers; /* canon ",a,b," */
    char fmt[8];
    int z, x, y;
    char *data; /* tile_bytes */
    size_t len;
    char etag[40];
    uint64_t hash;
    struct mem_entry *prev, *next, *hnext;
};

/* A tile waiting for the writer: what store_blobs_put needs, and the generation it was made in. */
struct pending {
    char *key;
    char enc[16];
    struct store_blob_info info;
    uint64_t gen, seq;
    char *data;
    size_t len;
    struct pending *next;
};

struct tile_cache {
    pthread_mutex_t lock;   /* the memory LRU, gen, last_change (across SQLite only in sync) */
    pthread_mutex_t dblock; /* the blob store (one connection); taken before lock, never after */
    struct store_blobs *db; /* the file (store/tilestore.c) */
    /* Misses look the file up on a connection of their own (rdlock, taken alone): a WAL reader
     * never waits for the writer thread's batch, which holds dblock while it writes. */
    pthread_mutex_t rdlock;
    struct store_blobs *rdb;
    int64_t read_errors; /* lookups the file failed (rdlock): made again, logged once a minute */
    time_t read_warned;
    struct mem_entry **buckets;
    struct mem_entry *head, *tail; /* most recent first */
    size_t bytes, max_bytes;
    int64_t last_change; /* last processed spp_changes id, -1 unknown */
    uint64_t gen;
    int synced;
    /* The file (dblock held): bytes of tile data it keeps, the cap, tiles evicted for room,
     * failed writes (the tile was served uncached) and when one was last logged. */
    int64_t disk_bytes, disk_max, disk_evicted, write_errors;
    time_t last_warn;
    /* The write queue (qlock): FIFO, its bytes, the sequence numbers queued and written (a
     * flush waits for the former), whether the writer is running, stopping, skipping when full
     * (the server) or waiting for room (everyone else), and the tiles skipped. */
    pthread_mutex_t qlock;
    pthread_cond_t qwork; /* something queued, or stopping */
    pthread_cond_t qdone; /* a batch written (room, flushes) */
    struct pending *qhead, *qtail;
    size_t q_bytes;
    uint64_t q_seq, q_written;
    int q_stop, skip_when_full, writer_started;
    int64_t q_skipped;
    time_t q_last_warn;
    pthread_t writer;
};

static uint64_t hash64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h ^= w * 0xBF58476D1CE4E5B9ull;
        h = (h << 31 | h >> 33) * 0x94D049BB133111EBull;
    }
    for (; i < n; i++)
        h = (h ^ s[i]) * 0x100000001B3ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

void tile_etag(const char *data, size_t len, const char *enc, char out[40])
{
    snprintf(out, 40, "\"%016llx%s\"", (unsigned long long)hash64(data, len),
             strcmp(enc, "gzip") == 0 ? "-gz" : "");
}

int tile_gzip(const char *data, size_t len, struct buf *out, struct err *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return err_set(err, ERR_NOMEM, "zlib: cannot initialise");
    size_t bound = deflateBound(&zs, (uLong)len);
    if (buf_reserve(out, bound)) {
        deflateEnd(&zs);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)bound;
    int zrc = deflate(&zs, Z_FINISH);
    out->len += zs.total_out;
    out->data[out->len] = '\0';
    deflateEnd(&zs);
    return zrc == Z_STREAM_END ? 0 : err_set(err, ERR_INTERNAL, "zlib: deflate failed");
}

char *tile_cache_path(const char *db_path)
{
    size_t n = strlen(db_path);
    char *p = malloc(n + 7);
    if (p) snprintf(p, n + 7, "%s.tiles", db_path);
    return p;
}

char *tile_cache_replica_path(const char *dir, const char *uri, int port)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    size_t n = strlen(dir) + 64;
    char *path = malloc(n);
    if (path) snprintf(path, n, "%s/spp-%016llx-%d.tiles", dir, (unsigned long long)h, port);
    return path;
}

/* ---- memory LRU (lock held) ---- */

static void mem_unlink(struct tile_cache *c, struct mem_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void mem_push_front(struct tile_cache *c, struct mem_entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static void mem_remove(struct tile_cache *c, struct mem_entry *e)
{
    struct mem_entry **pp = &c->buckets[e->hash & (N_BUCKETS - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    mem_unlink(c, e);
    c->bytes -= e->len + strlen(e->key) + sizeof *e;
    free(e->key);
    free(e->layers);
    tile_bytes_release(e->data);
    free(e);
}

static struct mem_entry *mem_find(struct tile_cache *c, const char *mkey, uint64_t h)
{
    for (struct mem_entry *e = c->buckets[h & (N_BUCKETS - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->key, mkey) == 0) return e;
    return NULL;
}

/* Returns the entry's bytes (tile_bytes, owned by the entry), NULL when not kept. */
static char *mem_put(struct tile_cache *c, const char *mkey, const char *layers, const char *fmt,
                     int z, int x, int y, const char *data, size_t len, const char *etag)
{
    uint64_t h = hash64(mkey, strlen(mkey));
    struct mem_entry *old = mem_find(c, mkey, h);
    if (old) mem_remove(c, old);
    if (len > c->max_bytes / 8) return NULL;
    struct mem_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->key = str_dup(mkey);
    e->layers = str_dup(layers);
    e->data = bytes_new(data, len);
    if (!e->key || !e->layers || !e->data) {
        free(e->key), free(e->layers), tile_bytes_release(e->data), free(e);
        return NULL;
    }
    e->len = len;
    snprintf(e->fmt, sizeof e->fmt, "%s", fmt);
    e->z = z, e->x = x, e->y = y;
    snprintf(e->etag, sizeof e->etag, "%s", etag);
    e->hash = h;
    e->hnext = c->buckets[h & (N_BUCKETS - 1)];
    c->buckets[h & (N_BUCKETS - 1)] = e;
    mem_push_front(c, e);
    c->bytes += len + strlen(mkey) + sizeof *e;
    while (c->bytes > c->max_bytes && c->tail && c->tail != e) {
        tile_stats_count_canon(c->tail->layers, c->tail->fmt, TILE_STAT_EVICT);
        mem_remove(c, c->tail);
    }
    return e->data;
}

/* ---- open / close ---- */

static void *writer_main(void *arg);

static void pending_free(struct pending *p)
{
    if (!p) return;
    free(p->key);
    tile_bytes_release(p->data);
    free(p);
}

void tile_cache_close(struct tile_cache *c)
{
    if (!c) return;
    if (c->writer_started) { /* the writer writes what is queued, then ends */
        pthread_mutex_lock(&c->qlock);
        c->q_stop = 1;
        pthread_cond_broadcast(&c->qwork);
        pthread_mutex_unlock(&c->qlock);
        pthread_join(c->writer, NULL);
    }
    while (c->qhead) { /* only when the writer never started */
        struct pending *p = c->qhead;
        c->qhead = p->next;
        pending_free(p);
    }
    while (c->head)
        mem_remove(c, c->head);
    free(c->buckets);
    store_blobs_close(c->db);
    store_blobs_close(c->rdb);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->dblock);
    pthread_mutex_destroy(&c->rdlock);
    pthread_mutex_destroy(&c->qlock);
    pthread_cond_destroy(&c->qwork);
    pthread_cond_destroy(&c->qdone);
    free(c);
}

int tile_cache_open(const char *path, size_t mem_bytes, struct tile_cache **out, struct err *err)
{
    *out = NULL;
    struct tile_cache *c = calloc(1, sizeof *c);
    if (!c) return err_set(err, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->dblock, NULL);
    pthread_mutex_init(&c->rdlock, NULL);
    pthread_mutex_init(&c->qlock, NULL);
    pthread_cond_init(&c->qwork, NULL);
    pthread_cond_init(&c->qdone, NULL);
    c->max_bytes = mem_bytes;
    c->gen = next_gen();
    c->buckets = calloc(N_BUCKETS, sizeof *c->buckets);
    int rc = 0;
    if (!c->buckets) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) rc = store_blobs_open(path, &c->db, err);
    if (!rc) rc = store_blobs_open_reader(path, &c->rdb, err);
    struct err e2;
    if (!rc && store_blobs_total(c->db, &c->disk_bytes, &e2)) c->disk_bytes = 0;
    if (rc) {
        tile_cache_close(c);
        return rc;
    }
    store_blobs_meta_get(c->db, "last_change", -1, &c->last_change);
    /* without a writer thread (none could be started) puts write synchronously */
    c->writer_started = pthread_create(&c->writer, NULL, writer_main, c) == 0;
    *out = c;
    return 0;
}

void tile_cache_skip_when_full(struct tile_cache *c, int skip)
{
    pthread_mutex_lock(&c->qlock);
    c->skip_when_full = skip;
    pthread_mutex_unlock(&c->qlock);
}

/* ---- the file's size cap (dblock held) ---- */

/* n tiles the file refused: a failed write costs the cache, never the answer; logged at most
 * once a minute. */
static void write_failed(struct tile_cache *c, int64_t n, const char *what, const struct err *e)
{
    c->write_errors += n;
    time_t now = time(NULL);
    if (now - c->last_warn < 60) return;
    c->last_warn = now;
    log_msg("warn", "tile cache: %s: %s (tiles are served uncached meanwhile; %lld failed writes)",
            what, e->msg, (long long)c->write_errors);
}

/* Deletes least recently used tiles until the file keeps at most 90 % of its cap. */
static void disk_evict(struct tile_cache *c)
{
    struct err e;
    err_clear(&e);
    if (store_blobs_total(c->db, &c->disk_bytes, &e) ||
        store_blobs_evict(c->db, c->disk_max / 10 * 9, &c->disk_bytes, &c->disk_evicted, &e))
        write_failed(c, 1, "cannot evict", &e);
}

void tile_cache_set_disk_limit(struct tile_cache *c, const char *path, int max_mb)
{
    int64_t max = (int64_t)max_mb << 20;
    struct statvfs fs;
    if (!max_mb) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path ? path : ".");
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else if (!dir[0])
            snprintf(dir, sizeof dir, "/");
        int64_t quarter = statvfs(dir, &fs) == 0 ? (int64_t)fs.f_bavail * (int64_t)fs.f_frsize / 4
                                                 : (int64_t)4096 << 20;
        max = quarter > ((int64_t)4096 << 20) ? (int64_t)4096 << 20 : quarter;
        if (max < ((int64_t)64 << 20)) max = (int64_t)64 << 20;
    }
    pthread_mutex_lock(&c->dblock);
    c->disk_max = max;
    if (c->disk_bytes > c->disk_max) disk_evict(c);
    pthread_mutex_unlock(&c->dblock);
}

void tile_cache_disk_stats(struct tile_cache *c, int64_t *bytes, int64_t *limit, int64_t *evicted,
                           int64_t *write_errors)
{
    tile_cache_flush(c); /* the file's state with what was queued before this call */
    pthread_mutex_lock(&c->dblock);
    *bytes = c->disk_bytes, *limit = c->disk_max;
    *evicted = c->disk_evicted, *write_errors = c->write_errors;
    pthread_mutex_unlock(&c->dblock);
}

uint64_t tile_cache_generation(struct tile_cache *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t g = c->gen;
    pthread_mutex_unlock(&c->lock);
    return g;
}

/* ---- get / put ---- */

int tile_cache_get(struct tile_cache *c, const char *key, const char *enc, struct buf *out,
                   char etag[40])
{
    char mkey[1200];
    snprintf(mkey, sizeof mkey, "%s\x1f%s", key, enc);
    uint64_t h = hash64(mkey, strlen(mkey));
    int found = 0;
    pthread_mutex_lock(&c->lock);
    struct mem_entry *e = mem_find(c, mkey, h);
    if (e) { /* the hit path: a hash lookup and a copy, never waiting for SQLite */
        mem_unlink(c, e);
        mem_push_front(c, e);
        snprintf(etag, 40, "%s", e->etag);
        found = !out || !buf_append(out, e->data, e->len);
        pthread_mutex_unlock(&c->lock);
        return found;
    }
    uint64_t gen = c->gen;
    pthread_mutex_unlock(&c->lock);
    struct buf tmp;
    buf_init(&tmp);
    struct buf *dst = out ? out : &tmp;
    size_t at = dst->len;
    struct store_blob_info info;
    struct err fe;
    err_clear(&fe);
    pthread_mutex_lock(&c->rdlock);
    if (store_blobs_get(c->rdb, key, enc, 0, dst, &info, &found, &fe)) {
        c->read_errors++; /* a miss: the tile is made again, never an error answer */
        time_t now = time(NULL);
        if (now - c->read_warned >= 60) {
            c->read_warned = now;
            log_msg("warn",
                    "tile cache: cannot read: %s (tiles are made again meanwhile; %lld "
                    "failed reads)",
                    fe.msg, (long long)c->read_errors);
        }
    }
    pthread_mutex_unlock(&c->rdlock);
#ifdef SPP_TEST_HOOKS
    /* a test build run with SPP_TEST_TILE_LOOKUP_PAUSE_MS: time for a sync after the read */
    const char *pause = getenv("SPP_TEST_TILE_LOOKUP_PAUSE_MS");
    if (found && pause && atoi(pause) > 0) {
        struct timespec ts = {atoi(pause) / 1000, (long)(atoi(pause) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
#endif
    if (found) {
        pthread_mutex_lock(&c->lock);
        /* A sync since the lookup may have dropped what it read (its snapshot can predate the
         * drop): then it is a miss. Else the promotion is in before any later sync, which drops
         * it from memory too. */
        found = c->gen == gen;
        if (found && info.complete)
            mem_put(c, mkey, info.layers, info.fmt, info.z, info.x, info.y, dst->data + at,
                    dst->len - at, info.etag);
        pthread_mutex_unlock(&c->lock);
    }
    if (found) {
        snprintf(etag, 40, "%s", info.etag);
        /* the file's LRU order, a minute fine; skipped while the writer holds the file (the
         * next lookup of the tile after its eviction from memory refreshes it) */
        int64_t now = (int64_t)time(NULL);
        if (now - info.used >= 60 && pthread_mutex_trylock(&c->dblock) == 0) {
            if (store_blobs_touch(c->db, info.id, now, &fe))
                write_failed(c, 1, "cannot write", &fe);
            pthread_mutex_unlock(&c->dblock);
        }
    } else {
        dst->len = at; /* nothing of a dropped read */
    }
    buf_fini(&tmp);
    return found;
}

/* Writes queued tiles (a list) in one transaction, those of the current generation only
 * (dblock taken here: no sync can bump it meanwhile), then evicts for room. Frees the list. */
static void write_batch(struct tile_cache *c, struct pending *list)
{
    pthread_mutex_lock(&c->dblock);
#ifdef SPP_TEST_HOOKS
    /* a test build run with SPP_TEST_TILE_WRITE_HOLD_MS: a batch slow to write (the file held) */
    const char *hold = getenv("SPP_TEST_TILE_WRITE_HOLD_MS");
    if (hold && atoi(hold) > 0) {
        struct timespec ts = {atoi(hold) / 1000, (long)(atoi(hold) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
#endif
    pthread_mutex_lock(&c->lock);
    uint64_t gen = c->gen;
    pthread_mutex_unlock(&c->lock);
    struct err e;
    err_clear(&e);
    int64_t now = (int64_t)time(NULL), added = 0;
    int any = 0;
    for (struct pending *p = list; p; p = p->next)
        any |= p->gen == gen;
    int rc = any ? store_blobs_begin(c->db, &e) : 0;
    for (struct pending *p = list; p && any && !rc; p = p->next)
        if (p->gen == gen) { /* else a change was processed since it was made: dropped */
            rc = store_blobs_put(c->db, p->key, p->enc, &p->info, p->data, p->len, now, &e);
            if (!rc) added += (int64_t)p->len;
        }
    if (any && !rc) rc = store_blobs_commit(c->db, &e);
    if (rc) { /* disk full, read-only...: the batch is not kept, its tiles stay uncached */
        store_blobs_rollback(c->db);
        int64_t n = 0;
        for (struct pending *p = list; p; p = p->next)
            n += p->gen == gen;
        write_failed(c, n, "cannot write", &e);
    } else {
        c->disk_bytes += added;
    }
    if (c->disk_max && c->disk_bytes > c->disk_max) disk_evict(c);
    pthread_mutex_unlock(&c->dblock);
    while (list) {
        struct pending *p = list;
        list = p->next;
        pending_free(p);
    }
}

/* The writer thread: takes up to a batch off the queue, writes it, until stopped and empty. */
static void *writer_main(void *arg)
{
    struct tile_cache *c = arg;
    pthread_mutex_lock(&c->qlock);
    for (;;) {
        while (!c->qhead && !c->q_stop)
            pthread_cond_wait(&c->qwork, &c->qlock);
        if (!c->qhead) break; /* stopping, and everything written */
#ifdef SPP_TEST_HOOKS
        /* a test build run with SPP_TEST_TILE_WRITER_MS: a slow disk (each batch waits first) */
        const char *slow = getenv("SPP_TEST_TILE_WRITER_MS");
        if (slow && atoi(slow) > 0) {
            pthread_mutex_unlock(&c->qlock);
            struct timespec ts = {atoi(slow) / 1000, (long)(atoi(slow) % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&c->qlock);
        }
#endif
        struct pending *list = c->qhead, *last = list;
        size_t n = 1, bytes = list->len;
        while (last->next && n < BATCH_TILES && bytes + last->next->len <= BATCH_BYTES) {
            last = last->next;
            n++, bytes += last->len;
        }
        c->qhead = last->next;
        if (!c->qhead) c->qtail = NULL;
        last->next = NULL;
        uint64_t seq = last->seq;
        pthread_mutex_unlock(&c->qlock);
        write_batch(c, list);
        pthread_mutex_lock(&c->qlock);
        c->q_bytes -= bytes;
        c->q_written = seq;
        pthread_cond_broadcast(&c->qdone);
    }
    pthread_mutex_unlock(&c->qlock);
    return NULL;
}

void tile_cache_flush(struct tile_cache *c)
{
    if (!c || !c->writer_started) return;
    pthread_mutex_lock(&c->qlock);
    uint64_t upto = c->q_seq;
    while (c->q_written < upto)
        pthread_cond_wait(&c->qdone, &c->qlock);
    pthread_mutex_unlock(&c->qlock);
}

void tile_cache_queue_stats(struct tile_cache *c, int64_t *queued_bytes, int64_t *skipped)
{
    pthread_mutex_lock(&c->qlock);
    *queued_bytes = (int64_t)c->q_bytes;
    *skipped = c->q_skipped;
    pthread_mutex_unlock(&c->qlock);
}

/* Queues a tile for the writer (qlock). 0 when it was queued; 1 when the queue is full and
 * this cache skips (the server: logged at most once a minute). */
static int enqueue(struct tile_cache *c, struct pending *p)
{
    pthread_mutex_lock(&c->qlock);
    while (c->q_bytes + p->len > QUEUE_BYTES && c->q_bytes && !c->skip_when_full)
        pthread_cond_wait(&c->qdone, &c->qlock); /* spp seed: every tile reaches the file */
    if (c->q_bytes + p->len > QUEUE_BYTES && c->q_bytes) {
        c->q_skipped++;
        time_t now = time(NULL);
        int warn = now - c->q_last_warn >= 60;
        if (warn) c->q_last_warn = now;
        int64_t n = c->q_skipped;
        pthread_mutex_unlock(&c->qlock);
        if (warn)
            log_msg("warn",
                    "tile cache: the disk writes are behind (%zu MiB queued): tiles are kept in "
                    "memory only meanwhile (%lld skipped)",
                    QUEUE_BYTES >> 20, (long long)n);
        return 1;
    }
    p->seq = ++c->q_seq;
    if (c->qtail)
        c->qtail->next = p;
    else
        c->qhead = p;
    c->qtail = p;
    c->q_bytes += p->len;
    pthread_cond_signal(&c->qwork);
    pthread_mutex_unlock(&c->qlock);
    return 0;
}

int tile_cache_get_shared(struct tile_cache *c, const char *key, const char *enc, const char **data,
                          size_t *len, char etag[40])
{
    char mkey[1200];
    snprintf(mkey, sizeof mkey, "%s\x1f%s", key, enc);
    uint64_t h = hash64(mkey, strlen(mkey));
    pthread_mutex_lock(&c->lock);
    struct mem_entry *e = mem_find(c, mkey, h);
    if (e) {
        mem_unlink(c, e);
        mem_push_front(c, e);
        memcpy(etag, e->etag, 40);
        *data = bytes_ref(e->data);
        *len = e->len;
    }
    pthread_mutex_unlock(&c->lock);
    return e != NULL;
}

int tile_cache_put(struct tile_cache *c, const char *key, const char *enc, const char *layers,
                   int z, int x, int y, const char *fmt, uint64_t gen, const char *data, size_t len,
                   char etag_out[40], struct err *err)
{
    (void)err; /* a write that fails costs the cache, not the answer (write_failed) */
    tile_etag(data, len, enc, etag_out);
    char mkey[1200];
    snprintf(mkey, sizeof mkey, "%s\x1f%s", key, enc);
    struct pending *p = calloc(1, sizeof *p);
    pthread_mutex_lock(&c->lock);
    int fresh = gen == c->gen; /* else a change was processed while the tile was made */
    char *kept = fresh ? mem_put(c, mkey, layers, fmt, z, x, y, data, len, etag_out) : NULL;
    if (kept && p) p->data = bytes_ref(kept); /* the queue shares the entry's bytes */
    pthread_mutex_unlock(&c->lock);
    if (!fresh || !p) { /* out of memory: the tile stays in memory only */
        free(p);
        return 0;
    }
    p->key = str_dup(key);
    if (!p->data) p->data = bytes_new(data, len);
    if (!p->key || !p->data) {
        pending_free(p);
        return 0;
    }
    p->len = len;
    p->gen = gen;
    snprintf(p->enc, sizeof p->enc, "%s", enc);
    p->info = (struct store_blob_info){.z = z, .x = x, .y = y};
    snprintf(p->info.layers, sizeof p->info.layers, "%s", layers);
    snprintf(p->info.fmt, sizeof p->info.fmt, "%s", fmt);
    memcpy(p->info.etag, etag_out, 40);
    if (!c->writer_started) { /* no writer thread: written now, as one batch */
        write_batch(c, p);
        return 0;
    }
    if (enqueue(c, p)) pending_free(p);
    return 0;
}

int tiles_get(struct tile_cache *c, const struct tile_entry *e, const char *enc,
              int (*build)(void *ud, struct buf *out, struct err *err), void *ud, struct buf *out,
              char etag[40], int *hit, struct err *err)
{
    *hit = 0;
    uint64_t gen = c ? tile_cache_generation(c) : 0;
    if (c && tile_cache_get(c, e->key, enc, out, etag)) {
        *hit = 1;
        return 0;
    }
    size_t at = out->len;
    int rc = build(ud, out, err);
    if (rc) return rc;
    if (!c) {
        tile_etag(out->data + at, out->len - at, enc, etag);
        return 0;
    }
    return tile_cache_put(c, e->key, enc, e->layers, e->z, e->x, e->y, e->fmt, gen, out->data + at,
                          out->len - at, etag, err);
}

/* ---- invalidation (lock held) ---- */

/* Fraction of a tile its content depends on beyond its edges, per format: the MVT buffer, and
 * for raster tiles the metatile render buffer. */
static double margin_for(const char *fmt)
{
    return strcmp(fmt, "mvt") == 0 ? (double)TILE_BUFFER / TILE_EXTENT : 0.25;
}

struct sync_ctx {
    struct tile_cache *c;
    struct geo_ctx *geo;
    int srid;
    struct err *err;
    int64_t n_dropped;
    int mem_cleared; /* the memory LRU was emptied instead of scanned (many changes) */
};

/* Drops the memory entries of layer pattern pat whose buffered tile meets the box: one pass. */
static void drop_memory(struct tile_cache *c, const char *pat, const struct bbox *b3857)
{
    for (struct mem_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        if (!strstr(e->layers, pat)) continue;
        struct bbox t;
        tile_bbox(e->z, e->x, e->y, &t);
        double m = (t.maxx - t.minx) * (margin_for(e->fmt) + 1e-9); /* a superset of drop_area */
        if (t.minx - m <= b3857->maxx && b3857->minx <= t.maxx + m && t.miny - m <= b3857->maxy &&
            b3857->miny <= t.maxy + m)
            mem_remove(c, e);
    }
}

static int drop_area(struct sync_ctx *s, const char *layer, const struct bbox *b3857,
                     struct err *err)
{
    struct tile_cache *c = s->c;
    char pat[80];
    snprintf(pat, sizeof pat, ",%s,", layer);
    static const char *const fmts[] = {"mvt", "png"};
    int rc = 0;
    for (size_t f = 0; f < ARRAY_LEN(fmts) && !rc; f++)
        for (int z = 0; z <= TILE_MAX_ZOOM && !rc; z++) {
            double m = 2 * WEBMERC_HALF / (double)(1u << z) * margin_for(fmts[f]);
            struct bbox e = {b3857->minx - m, b3857->miny - m, b3857->maxx + m, b3857->maxy + m};
            int x0, y0, x1, y1;
            tile_range(z, &e, &x0, &y0, &x1, &y1);
            rc = store_blobs_drop_range(c->db, fmts[f], pat, z, x0, y0, x1, y1, &s->n_dropped, err);
        }
    if (!rc && !s->mem_cleared) drop_memory(c, pat, b3857);
    return rc;
}

static int on_change(void *ud, const struct store_change *ch)
{
    struct sync_ctx *s = ud;
    struct bbox b = {-WEBMERC_HALF, -WEBMERC_HALF, WEBMERC_HALF, WEBMERC_HALF};
    struct err e2;
    err_clear(&e2);
    /* A box that cannot be transformed (or no box) drops the layer everywhere. */
    if (ch->has_bbox && !bbox_is_empty(&ch->bbox))
        if (geo_transform_bbox(s->geo, s->srid, 3857, &ch->bbox, &b, &e2))
            b = (struct bbox){-WEBMERC_HALF, -WEBMERC_HALF, WEBMERC_HALF, WEBMERC_HALF};
    if (strlen(ch->layer) > 64) return 0;
    int rc = drop_area(s, ch->layer, &b, s->err);
    if (!rc) s->c->last_change = ch->id;
    return rc;
}

static int clear_all(struct tile_cache *c, struct err *err)
{
    while (c->head)
        mem_remove(c, c->head);
    return store_blobs_clear(c->db, err);
}

int tile_cache_sync(struct tile_cache *c, struct store *st, struct geo_ctx *geo, int storage_srid,
                    struct err *err)
{
    if (!store_changed(st) && c->synced) return 0;
    int64_t max_id = 0;
    int rc = store_changes_max(st, &max_id, err);
    if (rc) { /* store_changed() has marked the commit seen: the next request must try again */
        pthread_mutex_lock(&c->lock);
        c->synced = 0;
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    pthread_mutex_lock(&c->dblock);
    pthread_mutex_lock(&c->lock);
    if (c->last_change < 0 || max_id < c->last_change) {
        /* A new cache file, or a store replaced by one with fewer changes: nothing cached can
         * be trusted to match it. */
        rc = clear_all(c, err);
        c->gen = next_gen();
        if (!rc) rc = store_blobs_meta_set(c->db, "last_change", max_id, err);
        if (!rc) c->last_change = max_id;
    } else if (max_id > c->last_change) {
        struct sync_ctx s = {c, geo, storage_srid, err, 0, 0};
        size_t n_mem = 0;
        for (struct mem_entry *e = c->head; e; e = e->next)
            n_mem++;
        if ((double)(max_id - c->last_change) * (double)n_mem > 2e7) {
            /* an import with thousands of changed cells: emptying the memory front is cheaper
             * than scanning it per cell, and harmless (the file cache stays exact) */
            while (c->head)
                mem_remove(c, c->head);
            s.mem_cleared = 1;
        }
        rc = store_blobs_begin(c->db, err);
        if (!rc) rc = store_changes_since(st, c->last_change, on_change, &s, err);
        /* what was dropped stays dropped; the changes after a failure are read again */
        struct err e2;
        err_clear(&e2);
        int rc2 = store_blobs_meta_set(c->db, "last_change", c->last_change, &e2);
        if (!rc2) rc2 = store_blobs_commit(c->db, &e2);
        if (!rc && rc2) {
            rc = rc2;
            if (err) *err = e2;
        }
        c->gen = next_gen();
        log_msg("info", "tile cache: %lld tiles dropped up to change %lld", (long long)s.n_dropped,
                (long long)c->last_change);
    }
    c->synced = !rc; /* a failed sync is tried again by the next request, which bypasses */
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->dblock);
    return rc;
}
