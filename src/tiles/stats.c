/* SPDX-License-Identifier: MIT */
/* stats.c: the tile cache's counters for /metrics (issue 15): hits, misses and evictions per
 * catalog layer and tile format, and how long making a tile took on a miss. A tile of several
 * layers counts once for each of its layers, so every series stays one per catalog layer
 * whatever layer lists clients ask for. Atomic adds, no lock; http/metrics.c writes them out. */
#include "tiles.h"

#include <string.h>

const double tile_render_bounds[TILE_RENDER_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                        0.5,   1,    2.5,   5,    10,  30};

static uint64_t counts[TILE_STATS_LAYERS][2][TILE_STAT_COUNT];
static uint64_t render_hist[2][TILE_RENDER_BUCKETS + 1];
static uint64_t render_sum_us[2];
static const struct catalog *bound; /* for layer names of evicted entries; set before serving */

void tile_stats_bind(const struct catalog *cat)
{
    bound = cat;
}

static void add(int layer, enum tile_format fmt, enum tile_stat what)
{
    if (layer >= 0 && layer < TILE_STATS_LAYERS && (unsigned)fmt < 2 && what < TILE_STAT_COUNT)
        __atomic_add_fetch(&counts[layer][fmt][what], 1, __ATOMIC_RELAXED);
}

void tile_stats_count(const struct tile_layers *tl, enum tile_format fmt, enum tile_stat what)
{
    for (int i = 0; i < tl->n; i++)
        add(tl->layers[i]->index, fmt, what);
}

void tile_stats_count_canon(const char *canon, const char *fmt, enum tile_stat what)
{
    if (!bound || !canon) return;
    enum tile_format f = strcmp(fmt, "mvt") == 0 ? TILE_FMT_MVT : TILE_FMT_PNG;
    for (int i = 0; i < bound->n_layers; i++) {
        const char *id = bound->layers[i].id;
        size_t n = strlen(id);
        for (const char *p = strstr(canon, id); p; p = strstr(p + 1, id))
            if (p > canon && p[-1] == ',' && p[n] == ',') {
                add(bound->layers[i].index, f, what);
                break;
            }
    }
}

uint64_t tile_stats_get(int layer, enum tile_format fmt, enum tile_stat what)
{
    if (layer < 0 || layer >= TILE_STATS_LAYERS || (unsigned)fmt >= 2 || what >= TILE_STAT_COUNT)
        return 0;
    return __atomic_load_n(&counts[layer][fmt][what], __ATOMIC_RELAXED);
}

void tile_stats_render(enum tile_format fmt, double seconds)
{
    if ((unsigned)fmt >= 2) return;
    size_t b = 0;
    while (b < TILE_RENDER_BUCKETS && seconds > tile_render_bounds[b])
        b++;
    __atomic_add_fetch(&render_hist[fmt][b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&render_sum_us[fmt], (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
}

void tile_stats_render_get(enum tile_format fmt, uint64_t buckets[TILE_RENDER_BUCKETS + 1],
                           uint64_t *sum_us)
{
    for (size_t b = 0; b <= TILE_RENDER_BUCKETS; b++)
        buckets[b] =
            (unsigned)fmt < 2 ? __atomic_load_n(&render_hist[fmt][b], __ATOMIC_RELAXED) : 0;
    *sum_us = (unsigned)fmt < 2 ? __atomic_load_n(&render_sum_us[fmt], __ATOMIC_RELAXED) : 0;
}
