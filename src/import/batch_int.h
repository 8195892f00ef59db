/* SPDX-License-Identifier: MIT */
/* batch_int.h: the state of one import batch, shared by batch.c (transaction, layers, changes),
 * process.c (one source: sample, decide, stream, insert), topology.c (parcel overlaps and gaps)
 * and report.c (report.json, report.html, progress). */
#ifndef SPP_BATCH_INT_H
#define SPP_BATCH_INT_H

#include <jansson.h>
#include <sqlite3.h>

#include "../store/store_int.h"
#include "import_int.h"

struct cellhash {
    int64_t cell;
    uint64_t h;
};

struct batch {
    const struct import_opts *o;
    const struct catalog *cat;
    struct manifest *m;
    struct store *st;
    sqlite3 *db;
    struct geo_ctx *geo;
    struct geomfix *gf;
    struct crs_context cx;
    int ref_dirty; /* parcels changed: rebuild the overlay reference */
    int srid;      /* storage CRS */
    char batch_id[64];
    char started[32];
    sqlite3_stmt *ins_finding;
    json_t *report, *layers, *sources, *checksums;
    int64_t n_read, n_written, n_rejected;
    int n_layers;
    int64_t *cells; /* changed 500 m cells of the current layer */
    size_t n_cells, cap_cells;
    struct cellhash *old_hash; /* the layer before the batch: per cell, XOR of feature hashes */
    size_t n_old_hash;
    int progress_fd;     /* -1: silent */
    struct buf triggers; /* SQL of the layer's SpatiaLite triggers during its load */
};

/* changes.c: what the batch changed, in 500 m cells of the storage CRS (spp_changes). */
void batch_cells_add(struct batch *b, const struct bbox *box);
void batch_cells_compact(struct batch *b);
/* Per cell, the XOR of the hashes of the layer's features touching it (every column but
 * import_batch, and the geometry); sorted by cell. Caller frees *out. */
int batch_cell_hashes(struct batch *b, const struct layer_def *l, struct cellhash **out, size_t *n,
                      struct err *err);
/* Writes the changed cells of layer l: all cells of the new features when the layer was empty,
 * else the cells whose content differs from b->old_hash. */
int batch_write_changes(struct batch *b, const struct layer_def *l, struct err *err);

/* batch.c */
int batch_finding(struct batch *b, const char *layer, const char *file, int64_t row,
                  const char *severity, const char *kind, const char *msg);
int batch_refresh_area(struct batch *b, const struct layer_def *cur);
int batch_refresh_ref(struct batch *b);

/* process.c: reads one source into the layer through ins; *fid counts the layer's features. */
int batch_source(struct batch *b, const struct src_spec *spec, sqlite3_stmt *ins, int64_t *fid,
                 struct err *err);

/* topology.c: overlaps and gaps between neighbouring parcels above a tolerance, as findings. */
int batch_parcel_topology(struct batch *b, const struct layer_def *l, struct err *err);

/* lineage.c: the batch's sources (spp_sources) and its layers' counts (spp_layer_history). */
int batch_record_lineage(struct batch *b, struct err *err);

/* report.c */
json_t *report_layer(struct batch *b, const struct layer_def *l);
int report_thumbnails(struct batch *b, struct err *err);
int report_write(struct batch *b, const char *dir, struct err *err);
void progress_update(struct batch *b, const char *label, int64_t done, int64_t total, int final);

#endif
