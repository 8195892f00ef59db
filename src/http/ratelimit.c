/* SPDX-License-Identifier: MIT */
/* ratelimit.c: the per-key (or per-client-address) request rate limit. A token bucket per
 * identity (burst = one minute's budget, refilled continuously), kept in a fixed table of 16
 * shards, each with its own mutex and 256 slots probed in a window of 16: memory is bounded
 * whatever the traffic, a lock is held for a few comparisons and no library is called under it.
 * When a window is full the identity seen longest ago is evicted (its bucket starts full again). */
#include "http.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RL_SHARDS 16
#define RL_SLOTS  256
#define RL_WINDOW 16
#define RL_ID     56

struct rl_entry {
    uint64_t hash;
    char id[RL_ID];
    double tokens; /* requests left */
    double last;   /* when tokens was computed, monotonic seconds */
    int used;
};

struct rl_shard {
    pthread_mutex_t lock;
    struct rl_entry slots[RL_SLOTS];
};

static struct rl_shard shards[RL_SHARDS];
static pthread_once_t shards_once = PTHREAD_ONCE_INIT;

static void shards_init(void)
{
    for (int i = 0; i < RL_SHARDS; i++)
        pthread_mutex_init(&shards[i].lock, NULL);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot of id in the shard's probe window: its own, else a free one, else the stalest. */
static struct rl_entry *find_slot(struct rl_shard *sh, uint64_t h, const char *id)
{
    struct rl_entry *free_slot = NULL, *stalest = NULL;
    size_t start = (size_t)(h >> 16) % RL_SLOTS;
    for (size_t k = 0; k < RL_WINDOW; k++) {
        struct rl_entry *e = &sh->slots[(start + k) % RL_SLOTS];
        if (!e->used) {
            if (!free_slot) free_slot = e;
            continue;
        }
        if (e->hash == h && strcmp(e->id, id) == 0) return e;
        if (!stalest || e->last < stalest->last) stalest = e;
    }
    return free_slot ? free_slot : stalest;
}

int ratelimit_take(const char *who, int per_minute, double now)
{
    if (per_minute <= 0) return 0;
    pthread_once(&shards_once, shards_init);
    char id[RL_ID];
    snprintf(id, sizeof id, "%s", who ? who : "");
    uint64_t h = fnv1a(id);
    struct rl_shard *sh = &shards[h % RL_SHARDS];
    double cap = per_minute, rate = per_minute / 60.0; /* tokens per second */
    int wait = 0;
    pthread_mutex_lock(&sh->lock);
    struct rl_entry *e = find_slot(sh, h, id);
    if (!e->used || e->hash != h || strcmp(e->id, id) != 0) {
        e->used = 1;
        e->hash = h;
        memcpy(e->id, id, sizeof id);
        e->tokens = cap;
        e->last = now;
    }
    if (now > e->last) e->tokens = fmin(cap, e->tokens + (now - e->last) * rate);
    if (now > e->last) e->last = now;
    if (e->tokens > cap) e->tokens = cap; /* the limit was lowered (tests) */
    if (e->tokens >= 1) {
        e->tokens -= 1;
    } else {
        wait = (int)ceil((1 - e->tokens) / rate);
        if (wait < 1) wait = 1;
    }
    pthread_mutex_unlock(&sh->lock);
    return wait;
}

void ratelimit_clear(void)
{
    pthread_once(&shards_once, shards_init);
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_lock(&shards[i].lock);
        memset(shards[i].slots, 0, sizeof shards[i].slots);
        pthread_mutex_unlock(&shards[i].lock);
    }
}

double ratelimit_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
