/* SPDX-License-Identifier: MIT */
/* batch_int.h: the state of one import batch, shared by batch.c (the batch, its layers),
 * changes.c (what changed), process.c (one source: sample, decide, stream, put), topology.c
 * (parcel overlaps and gaps), lineage.c and report.c (report.json, report.html, progress). The
 * batch writes and reads the store only through the store's load API (store.h, "Loading"): no
 * SQL here. */
#ifndef SPP_BATCH_INT_H
#define SPP_BATCH_INT_H

#include <jansson.h>

#include "../store/store.h"
#include "import_int.h"

struct cellhash {
    int64_t cell;
    uint64_t h;
};

/* One feature of a layer for the diff against the previous batch: its identity (the natural
 * key's value, else its content) and its content (geometry and attributes, not lineage). */
struct feathash {
    uint64_t key;     /* the natural key's value hashed, else content */
    uint64_t content; /* geometry and attributes */
    uint64_t h;       /* content and fid: the cell hash's part (MVT ids are fids) */
    uint32_t lineage; /* index into batch.lineage of its src_file/src_crs/src_encoding/batch */
    int64_t fid;
};

/* The communes of admin_units (GEOS prepared polygons in an STRtree), for parcels without a
 * commune code (process.c). */
struct communes {
    int loaded;
    int n;
    void **geoms;    /* GEOSGeometry *, owned */
    void **prepared; /* const GEOSPreparedGeometry *, owned */
    char **codes;
    void *tree; /* GEOSSTRtree */
};

struct batch {
    const struct import_opts *o;
    const struct catalog *cat;
    struct manifest *m;
    struct store *st;
    struct store_load *ld; /* the batch's write transaction, from store_load_begin */
    int new_store;         /* the store was created for this batch */
    struct geo_ctx *geo;
    struct geomfix *gf;
    struct crs_context cx;
    int ref_dirty; /* parcels changed: rebuild the overlay reference */
    int srid;      /* storage CRS */
    char batch_id[64];
    char started[32];
    json_t *report, *layers, *sources, *checksums;
    int64_t n_read, n_written, n_rejected;
    int n_layers;
    int64_t *cells; /* changed 500 m cells of the current layer */
    size_t n_cells, cap_cells;
    struct cellhash *old_hash; /* the layer before the batch: per cell, XOR of feature hashes */
    size_t n_old_hash;
    struct feathash *old_feat; /* the layer before the batch: per feature, sorted */
    size_t n_old_feat;
    int64_t n_old;     /* features of the current layer before the batch */
    double max_shrink; /* import_max_shrink: largest share of a layer a batch may remove */
    int n_refused, n_failed;
    json_t *refused, *failed; /* [{layer, reason}], [{file, layer, error}] for the summary */
    char reject_reason[384];  /* current layer: the first rejection reason */
    char first_reject[512];   /* the batch: "FILE row N: reason" of its first rejection */
    int64_t n_layer_rejected; /* current layer: rejected features */
    int reject_same;          /* current layer: every rejection had that reason */
    struct communes communes;
    char **lineage; /* distinct old lineage tuples, 4 strings each (NULL = null) */
    uint32_t n_lineage;
    int progress_fd; /* -1: silent */
};

/* changes.c: what the batch changed, in 500 m cells of the storage CRS (spp_changes). */
void batch_cells_add(struct batch *b, const struct bbox *box);
void batch_cells_compact(struct batch *b);
/* Per cell, the XOR of the hashes of the layer's features touching it; the hash covers the
 * geometry and the attributes only (not fid, import_batch, src_file, src_crs, src_encoding), so
 * an unchanged re-import changes no cell. Sorted by cell. With feat, also one feathash per
 * feature, sorted. *n_rows gets the number of features. Caller frees *out and *feat. */
int batch_cell_hashes(struct batch *b, const struct layer_def *l, struct cellhash **out, size_t *n,
                      struct feathash **feat, size_t *n_feat, int64_t *n_rows, struct err *err);
/* Writes the changed cells of layer l: all cells of the new features when the layer was empty,
 * else the cells whose content differs from b->old_hash; then the change feed of l
 * (store_load_feature_changes against the identities store_load_layer_begin noted). */
int batch_write_changes(struct batch *b, const struct layer_def *l, struct err *err);

void batch_lineage_free(struct batch *b);
/* Features added, removed and changed (same key, other content) between two sorted lists. */
void batch_feature_diff(const struct feathash *o, size_t no, const struct feathash *nw, size_t nn,
                        int64_t *added, int64_t *removed, int64_t *changed);

/* batch.c */
/* 1 if the batch may shrink layer l past the limit (--allow-shrink, manifest flags). */
int batch_allow_shrink(const struct batch *b, const struct layer_def *l);
/* The communes of admin_units, loaded once per batch (after admin_units is written). */
int batch_communes_load(struct batch *b, struct err *err);
/* The commune code whose polygon contains the point (storage CRS), or NULL. */
const char *batch_commune_at(struct batch *b, const void *point);
void batch_communes_free(struct batch *b);
/* A finding of the batch (store_load_finding). ERR_DB. */
int batch_finding(struct batch *b, const char *layer, const char *file, int64_t row,
                  const char *severity, const char *kind, const char *msg);
int batch_refresh_area(struct batch *b, const struct layer_def *cur);
int batch_refresh_ref(struct batch *b);

/* process.c: reads one source into the layer open in b->ld; *fid counts the layer's features. */
int batch_source(struct batch *b, const struct src_spec *spec, int64_t *fid, struct err *err);

/* topology.c: overlaps and gaps between neighbouring parcels above a tolerance, as findings. */
int batch_parcel_topology(struct batch *b, const struct layer_def *l, struct err *err);

/* lineage.c: the batch's sources (spp_sources) and its layers' counts (spp_layer_history). */
int batch_record_lineage(struct batch *b, struct err *err);

/* report.c */
json_t *report_layer(struct batch *b, const struct layer_def *l);
int report_thumbnails(struct batch *b, struct err *err);
int report_write(struct batch *b, const char *dir, struct err *err);
/* "vi" or "en": o->lang, else vi for a vi* locale (LC_ALL, LC_MESSAGES, LANG), en for another
 * locale, vi (the catalog's first language) when none is set or it is C/POSIX. */
const char *report_lang(const struct import_opts *o);
void progress_update(struct batch *b, const char *label, int64_t done, int64_t total, int final);

#endif
