/* SPDX-License-Identifier: MIT */
/* batch.c: one import batch, in one write transaction of the store's load API (store.h,
 * "Loading"). Each layer the batch touches is replaced: its old features are hashed for the
 * change cells, the store empties it for a bulk load (store_load_layer_begin), every source of
 * the layer is read (sample pass: encodings and CRS; then the stream: attributes, geometry, put
 * with fids in source order), the store indexes it and refreshes its state
 * (store_load_layer_done), and the changed cells and the change feed are recorded. Readers see the
 * old store or the new one (store_load_finish publishes); a killed import leaves the old one.
 * --dry-run aborts the batch. The report (report.c) is built from what this file records. This
 * file decides, the store writes: no SQL here. */
#define GEOS_USE_ONLY_R_API
#include "batch_int.h"

#include <errno.h>
#include <stdint.h>
#include <cpl_error.h>
#include <geos_c.h>
#include <math.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static void now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t fnv_file(const char *path, int *ok)
{
    uint64_t h = 1469598103934665603ULL;
    FILE *f = fopen(path, "rb");
    *ok = f != NULL;
    if (!f) return 0;
    static unsigned char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, chunk + i, 8);
            h = (h ^ w) * 1099511628211ULL;
        }
        for (; i < n; i++)
            h = (h ^ chunk[i]) * 1099511628211ULL;
    }
    fclose(f);
    return h;
}

int batch_finding(struct batch *b, const char *layer, const char *file, int64_t row,
                  const char *severity, const char *kind, const char *msg)
{
    return store_load_finding(b->ld, layer, file, row, severity, kind, msg, NULL);
}

/* Before layer l is replaced: what change detection needs of it (cell and feature hashes), then
 * the store empties it for the bulk load (store_load_layer_begin). */
static int clear_layer(struct batch *b, const struct layer_def *l, struct err *err)
{
    b->n_cells = 0;
    batch_lineage_free(b);
    int rc = batch_cell_hashes(b, l, &b->old_hash, &b->n_old_hash, &b->old_feat, &b->n_old_feat,
                               &b->n_old, err);
    return rc ? rc : store_load_layer_begin(b->ld, l, err);
}

static int finish_layer(struct batch *b, const struct layer_def *l, struct err *err)
{
    int rc = store_load_layer_done(b->ld, err);
    if (!rc) rc = batch_write_changes(b, l, err);
    if (!rc && strcmp(l->id, "cadastral_parcels") == 0) {
        rc = batch_parcel_topology(b, l, err);
        b->ref_dirty = 1;
    }
    if (!rc) /* issue 22: what low-zoom tiles show of a polygon layer (land use), per cell */
        rc = store_load_overview(b->ld, l, -1, b->geo, err);
    return rc;
}

/* Layers are processed admin units and parcels first (they are the expected area and the
 * overlay reference for the others); sources of one layer keep the manifest's order. */
static int layer_rank(const struct layer_def *l)
{
    if (strcmp(l->id, "admin_units") == 0) return 0;
    if (strcmp(l->id, "cadastral_parcels") == 0) return 1;
    return 2 + l->number;
}

int batch_allow_shrink(const struct batch *b, const struct layer_def *l)
{
    if (b->o->allow_shrink || b->m->allow_shrink) return 1;
    for (int i = 0; i < b->m->n_specs; i++)
        if (b->m->specs[i].layer == l && b->m->specs[i].allow_shrink) return 1;
    return 0;
}

/* The shrink limit (issue 16): a batch that would leave a layer that had features empty, or
 * remove more than import_max_shrink of them, is refused unless allowed. Returns 1 if refused,
 * with the reason in the report and b->refused. */
static int shrink_refused(struct batch *b, const struct layer_def *l, int64_t n_new)
{
    int64_t old = b->n_old;
    if (old <= 0 || batch_allow_shrink(b, l)) return 0;
    double share = (double)(old - n_new) / (double)old;
    if (n_new > 0 && share <= b->max_shrink) return 0;
    char why[1024];
    int n = snprintf(why, sizeof why,
                     "%s: refused: the batch would leave %lld of its %lld features (%.0f %% "
                     "removed, the limit is %.0f %%)",
                     l->id, (long long)n_new, (long long)old, share * 100, b->max_shrink * 100);
    if (b->n_layer_rejected > 0 && n > 0 && (size_t)n < sizeof why)
        n += snprintf(why + n, sizeof why - (size_t)n, "; %lld features rejected%s%s",
                      (long long)b->n_layer_rejected,
                      b->reject_same ? ", all because " : ", first: ", b->reject_reason);
    if (n > 0 && (size_t)n < sizeof why)
        snprintf(why + n, sizeof why - (size_t)n,
                 ". Nothing was changed; to replace the layer on purpose use --allow-shrink or "
                 "\"allow_shrink\": true in the manifest");
    json_t *r = json_object();
    json_object_set_new(r, "layer", json_string(l->id));
    json_object_set_new(r, "features_before", json_integer(old));
    json_object_set_new(r, "features_after", json_integer(n_new));
    json_object_set_new(r, "reason", json_string(why));
    json_array_append_new(b->refused, r);
    json_object_set_new(report_layer(b, l), "refused", json_string(why));
    b->n_refused++;
    return 1;
}

static void record_failed(struct batch *b, const struct src_spec *spec, const struct err *err)
{
    json_t *f = json_object();
    json_object_set_new(f, "file", json_string(spec->path));
    json_object_set_new(f, "layer", json_string(spec->layer->id));
    json_object_set_new(f, "error", json_string(err && err->msg[0] ? err->msg : "failed"));
    json_array_append_new(b->failed, f);
    b->n_failed++;
}

static int import_layer(struct batch *b, const struct layer_def *l, struct err *err)
{
    b->reject_reason[0] = 0, b->n_layer_rejected = 0, b->reject_same = 1;
    int rc = clear_layer(b, l, err);
    if (!rc) json_object_set_new(report_layer(b, l), "features_before", json_integer(b->n_old));
    int64_t fid = 0;
    for (int i = 0; i < b->m->n_specs && !rc; i++)
        if (b->m->specs[i].layer == l) {
            rc = batch_source(b, &b->m->specs[i], &fid, err);
            if (rc) record_failed(b, &b->m->specs[i], err);
        }
    if (!rc && shrink_refused(b, l, fid)) {
        /* run_layers fails the batch at the end (the layer is left open: the store will not
         * publish it); the layer's old cell hashes and features (finish_layer's to free) go now,
         * before the next layer takes their place */
        free(b->old_hash), free(b->old_feat);
        b->old_hash = NULL, b->old_feat = NULL;
        b->n_old_hash = 0, b->n_old_feat = 0;
        return 0;
    }
    if (!rc) rc = finish_layer(b, l, err);
    return rc;
}

/* ---- expected area and overlay reference ---- */

static void area_from_storage_crs(struct batch *b)
{
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    double w, s, e, n;
    const char *name = NULL;
    struct err err;
    err_clear(&err);
    if (OSRImportFromEPSG(srs, b->srid) == OGRERR_NONE &&
        OSRGetAreaOfUse(srs, &w, &s, &e, &n, &name)) {
        struct bbox ll = {w, s, e, n}, out;
        if (geo_transform_bbox(b->geo, 4326, b->srid, &ll, &out, &err) == 0) {
            b->cx.area = out;
            b->cx.has_area = 1;
            snprintf(b->cx.area_from, sizeof b->cx.area_from,
                     "area of use of the storage CRS EPSG:%d", b->srid);
        }
    }
    OSRDestroySpatialReference(srs);
}

struct area {
    const struct layer_def *cur;
    struct bbox all, admin;
    int n, has_admin;
};

static int area_layer(void *ud, const char *layer, const struct layer_state *ls)
{
    struct area *a = ud;
    if (ls->n_features <= 0 || !ls->has_extent || strcmp(layer, a->cur->id) == 0) return 0;
    if (strcmp(layer, "admin_units") == 0) a->admin = ls->extent, a->has_admin = 1;
    bbox_union(&a->all, &ls->extent);
    a->n++;
    return 0;
}

/* The expected area of the layer cur's sources: the admin_units boundary, else the extent of the
 * other layers in the store, else the storage CRS's area of use. */
int batch_refresh_area(struct batch *b, const struct layer_def *cur)
{
    struct area a = {cur, {0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0};
    bbox_empty(&a.all);
    b->cx.has_area = 0;
    int rc = store_load_layer_states(b->ld, area_layer, &a, NULL);
    if (rc) return rc;
    if (a.n) {
        b->cx.area = a.has_admin ? a.admin : a.all;
        b->cx.has_area = 1;
        snprintf(b->cx.area_from, sizeof b->cx.area_from, "%s",
                 a.has_admin ? "the admin_units boundary"
                             : "the extent of the layers in the store");
    } else {
        area_from_storage_crs(b);
    }
    return 0;
}

/* Land-use codes of public services and facilities (Circular 08/2024 and 27/2018): a public
 * facility point is expected on such a parcel. */
static char public_use(const char *lu)
{
    static const char *const pub[] = {"TSC", "DTS", "DVH", "DXH", "DYT", "DGD", "DTT", "DKH", "DNG",
                                      "DSK", "DSN", "TON", "TIN", "DCH", "DBV", "DKV", "DSH", "DDT",
                                      "DDL", "DDD", "CQP", "CAN", "DKT", "DMT", NULL};
    if (!lu || !*lu) return 0;
    for (const char *p = lu; *p;) {
        size_t n = strcspn(p, "+");
        int ok = 0;
        for (int i = 0; pub[i] && !ok; i++)
            ok = strlen(pub[i]) == n && strncmp(pub[i], p, n) == 0;
        if (!ok) return 0;
        p += n + (p[n] == '+');
    }
    return 1;
}

#define REF_MAX 200000 /* parcels in the overlay reference */

struct ref_load {
    struct batch *b;
    GEOSContextHandle_t h;
    GEOSWKBReader *rd;
    int n_rows, cap;
};

static int ref_parcel(void *ud, const struct feature *f, const struct bbox *box)
{
    (void)box;
    struct ref_load *r = ud;
    struct crs_context *cx = &r->b->cx;
    if (!f->wkb) return 0;
    if (r->n_rows++ >= REF_MAX) return -1; /* enough: stop the scan */
    GEOSGeometry *g = GEOSWKBReader_read_r(r->h, r->rd, f->wkb, f->wkb_len);
    if (!g) return 0;
    if (cx->n_ref == r->cap) {
        int cap = r->cap ? r->cap * 2 : 1024;
        void **a = realloc(cx->ref_geoms, (size_t)cap * sizeof *a);
        if (a) cx->ref_geoms = a;
        char *pub = a ? realloc(cx->ref_public, (size_t)cap) : NULL;
        if (pub) cx->ref_public = pub;
        if (!a || !pub) {
            GEOSGeom_destroy_r(r->h, g);
            return -1; /* out of memory: the reference is what was read so far */
        }
        r->cap = cap;
    }
    const struct value *lu = &f->values[0];
    cx->ref_public[cx->n_ref] = public_use(lu->type == VAL_TEXT ? lu->s : NULL);
    cx->ref_geoms[cx->n_ref++] = g;
    return 0;
}

/* The overlay reference for the CRS decision: the parcels in the store (the batch's own too),
 * each marked when its land use is a public one. */
int batch_refresh_ref(struct batch *b)
{
    if (!b->ref_dirty) return 0;
    b->ref_dirty = 0;
    crs_context_fini(&b->cx);
    const struct layer_def *l = catalog_layer(b->cat, "cadastral_parcels");
    int lu = l ? layer_field_index(l, "lu_display") : -1;
    if (lu < 0) return ERR_PARAM;
    GEOSContextHandle_t h = geo_geos(b->geo);
    struct ref_load r = {b, h, GEOSWKBReader_create_r(h), 0, 0};
    struct store_scan q = {l, &lu, 1, 1, -1};
    int rc = store_load_scan(b->ld, &q, ref_parcel, &r, NULL);
    GEOSWKBReader_destroy_r(h, r.rd);
    if (b->cx.n_ref) {
        b->cx.ref_tree = GEOSSTRtree_create_r(h, 10);
        for (int i = 0; i < b->cx.n_ref; i++)
            GEOSSTRtree_insert_r(h, b->cx.ref_tree, b->cx.ref_geoms[i], (void *)(intptr_t)i);
        snprintf(b->cx.ref_from, sizeof b->cx.ref_from, "cadastral_parcels (%d parcels)",
                 b->cx.n_ref);
    }
    return rc > 0 ? rc : 0;
}

/* ---- the batch ---- */

static int make_batch_id(struct batch *b, struct err *err)
{
    uint64_t h = 1469598103934665603ULL;
    json_t *sums = json_object();
    b->checksums = sums; /* owned by the batch from here, also on the error paths */
    for (int i = 0; i < b->m->n_specs; i++) {
        const struct src_spec *s = &b->m->specs[i];
        struct stat sb;
        if (stat(s->abs_path, &sb) != 0)
            return err_set(err, ERR_IO, "%s: %s", s->path, strerror(errno));
        if (S_ISDIR(sb.st_mode) && !str_ends(s->abs_path, ".gdb"))
            return err_set(err, ERR_IO, "%s: is a directory", s->path);
        int ok = 1;
        uint64_t f = S_ISDIR(sb.st_mode) ? (uint64_t)sb.st_size : fnv_file(s->abs_path, &ok);
        if (!ok) return err_set(err, ERR_IO, "%s: cannot read: %s", s->path, strerror(errno));
        char hex[20];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)f);
        json_object_set_new(sums, s->path, json_string(hex));
        h = (h ^ f) * 1099511628211ULL;
        for (const char *p = s->path; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ (uint64_t)(uintptr_t)s->layer->index) * 1099511628211ULL;
    }
    if (b->o->manifest) { /* the manifest's pins (crs, filter, renames...) are part of the batch */
        int ok = 1;
        h = (h ^ fnv_file(b->o->manifest, &ok)) * 1099511628211ULL;
    }
    for (int pass = 0; pass < 2; pass++) { /* and so are the command line's --set / --rename */
        char **v = pass ? b->o->renames : b->o->sets;
        int n = pass ? b->o->n_renames : b->o->n_sets;
        for (int i = 0; i < n; i++)
            for (const char *p = v[i]; p && *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ (uint64_t)(pass + 1)) * 1099511628211ULL;
    }
    b->checksums = sums;
    snprintf(b->batch_id, sizeof b->batch_id, "%.40s-%012llx", b->m->batch_name,
             (unsigned long long)(h & 0xFFFFFFFFFFFFULL));
    return 0;
}

static int record_import(struct batch *b, struct err *err)
{
    json_t *srcs = json_array(), *counts = json_object();
    for (int i = 0; i < b->m->n_specs; i++)
        json_array_append_new(srcs, json_string(b->m->specs[i].path));
    json_object_set_new(counts, "read", json_integer(b->n_read));
    json_object_set_new(counts, "written", json_integer(b->n_written));
    json_object_set_new(counts, "rejected", json_integer(b->n_rejected));
    char *js = json_dumps(srcs, JSON_COMPACT), *jc = json_dumps(counts, JSON_COMPACT),
         *jk = json_dumps(b->checksums, JSON_COMPACT | JSON_SORT_KEYS),
         *jr = json_dumps(b->report, JSON_COMPACT);
    char fin[32];
    now_iso(fin);
    int rc = 0;
    if (!js || !jc || !jk || !jr) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
    } else {
        struct store_import_record r = {b->started, fin, js, jc, jk, jr};
        rc = store_load_record(b->ld, &r, err);
    }
    free(js), free(jc), free(jk), free(jr);
    json_decref(srcs), json_decref(counts);
    return rc;
}

static int run_layers(struct batch *b, struct err *err)
{
    const struct layer_def *order[64];
    int n = 0;
    for (int i = 0; i < b->m->n_specs; i++) {
        const struct layer_def *l = b->m->specs[i].layer;
        int seen = 0;
        for (int k = 0; k < n; k++)
            seen |= order[k] == l;
        if (!seen && n < 64) order[n++] = l;
    }
    for (int i = 1; i < n; i++) /* insertion sort by rank */
        for (int k = i; k > 0 && layer_rank(order[k]) < layer_rank(order[k - 1]); k--) {
            const struct layer_def *t = order[k];
            order[k] = order[k - 1], order[k - 1] = t;
        }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int refused = b->n_refused;
        rc = import_layer(b, order[i], err);
        if (!rc && b->n_refused == refused) b->n_layers++;
    }
    if (!rc && b->n_refused) {
        json_t *first = json_array_get(b->refused, 0);
        rc = err_set(err, ERR_PARAM, "%s%s", json_string_value(json_object_get(first, "reason")),
                     b->n_refused > 1 ? " (and other layers: see the report)" : "");
    }
    return rc;
}

static int open_store(struct batch *b, const struct config *cfg, int *created, struct err *err)
{
    int rc = store_load_open(cfg->db_path, &cfg->catalog, cfg->storage_srid, b->o->dry_run, &b->st,
                             created, err);
    if (!rc) b->srid = store_srid(b->st);
    b->new_store = *created; /* the load writes it without WAL until it is published */
    return rc;
}

static int run(struct batch *b, struct err *err)
{
    int rc = make_batch_id(b, err);
    if (!rc) rc = store_load_begin(b->st, b->batch_id, b->new_store, &b->ld, err);
    if (rc) return rc;
    json_object_set_new(b->report, "batch", json_string(b->batch_id));
    rc = run_layers(b, err);
    if (!rc) rc = report_thumbnails(b, err);
    json_object_set_new(b->report, "read", json_integer(b->n_read));
    json_object_set_new(b->report, "written", json_integer(b->n_written));
    json_object_set_new(b->report, "rejected", json_integer(b->n_rejected));
    if (!rc && !b->o->dry_run) rc = record_import(b, err);
    if (!rc && !b->o->dry_run) rc = batch_record_lineage(b, err);
    struct store_load *ld = b->ld;
    b->ld = NULL;
    if (rc || b->o->dry_run) {
        store_load_abort(ld);
        return rc;
    }
    return store_load_finish(ld, err); /* publish: the commit */
}

int import_run(const struct config *cfg, const struct import_opts *o, struct import_summary *sum,
               struct err *err)
{
    struct batch b;
    memset(&b, 0, sizeof b);
    b.o = o;
    b.cat = &cfg->catalog;
    b.ref_dirty = 1;
    b.progress_fd = o->quiet ? -1 : 2;
    CPLSetErrorHandler(CPLQuietErrorHandler); /* GDAL's notices: the report says what matters */
    now_iso(b.started);
    struct manifest m;
    int rc = o->manifest
                 ? manifest_load(&m, o->manifest, &cfg->catalog, err)
                 : manifest_from_args(&m, o->layer, o->sources, o->n_sources, &cfg->catalog, err);
    if (!rc && o->lang && strcmp(o->lang, "vi") != 0 && strcmp(o->lang, "en") != 0)
        rc = err_set(err, ERR_PARAM, "--lang %s: want vi or en", o->lang);
    if (!rc && (o->n_sets || o->n_renames))
        rc = manifest_apply_cli(&m, o->sets, o->n_sets, o->renames, o->n_renames, err);
    if (rc == ERR_PARAM && sum && (o->lang || o->n_sets || o->n_renames) &&
        str_starts(err->msg, "--"))
        sum->usage = 1; /* a bad value of a command-line option: main exits 2 */
    b.m = &m;
    b.max_shrink = cfg->import_max_shrink;
    b.refused = json_array();
    b.failed = json_array();
    int created = 0;
    if (!rc) {
        b.geo = geo_ctx_new(err);
        if (!b.geo) rc = ERR_INTERNAL;
    }
    if (!rc) rc = open_store(&b, cfg, &created, err);
    if (!rc) {
        b.gf = geomfix_new(b.geo);
        b.cx.geo = b.geo;
        b.cx.storage_srid = b.srid;
        memcpy(b.cx.city, cfg->city_extent, sizeof b.cx.city); /* plausibility: city_extent */
        b.report = json_object();
        b.layers = json_object();
        b.sources = json_array();
        json_object_set_new(b.report, "store", json_string(cfg->db_path));
        json_object_set_new(b.report, "storage_crs", json_integer(b.srid));
        json_object_set_new(b.report, "started", json_string(b.started));
        json_object_set_new(b.report, "dry_run", json_boolean(o->dry_run));
        json_object_set(b.report, "layers", b.layers);
        json_object_set(b.report, "sources", b.sources);
        json_object_set(b.report, "refused", b.refused);
        json_object_set(b.report, "failed", b.failed);
        json_object_set_new(b.report, "max_shrink", json_real(b.max_shrink));
        json_object_set_new(b.report, "allow_shrink",
                            json_boolean(o->allow_shrink || m.allow_shrink));
        rc = run(&b, err);
    }
    if (b.report && o->report_dir) {
        json_object_set_new(b.report, "ok", json_boolean(rc == 0));
        if (rc) json_object_set_new(b.report, "error", json_string(err ? err->msg : ""));
        int r2 = report_write(&b, o->report_dir, err);
        if (!rc) rc = r2;
    }
    if (sum) {
        sum->n_refused = b.n_refused, sum->n_failed = b.n_failed;
        sum->n_layers = b.n_layers;
        sum->n_read = b.n_read, sum->n_written = b.n_written, sum->n_rejected = b.n_rejected;
        snprintf(sum->batch, sizeof sum->batch, "%s", b.batch_id);
        snprintf(sum->first_reject, sizeof sum->first_reject, "%s", b.first_reject);
    }
    batch_communes_free(&b);
    batch_lineage_free(&b);
    free(b.old_feat);
    json_decref(b.refused), json_decref(b.failed);
    crs_context_fini(&b.cx);
    geomfix_free(b.gf);
    store_close(b.st);
    if (rc && created) store_load_remove(cfg->db_path);
    geo_ctx_free(b.geo);
    json_decref(b.report), json_decref(b.layers), json_decref(b.sources), json_decref(b.checksums);
    free(b.cells);
    free(b.old_hash);
    manifest_fini(&m);
    return rc;
}

int import_exit_code(int rc, const struct import_summary *sum)
{
    if (rc || (sum && (sum->n_refused || sum->n_failed))) return IMPORT_EXIT_FAILED;
    if (sum && sum->n_rejected > 0) return IMPORT_EXIT_REJECTED;
    return IMPORT_EXIT_OK;
}

/* ---- communes (admin_units level 3) for parcels without a commune code ---- */

void batch_communes_free(struct batch *b)
{
    struct communes *c = &b->communes;
    GEOSContextHandle_t h = b->geo ? geo_geos(b->geo) : NULL;
    if (h && c->tree) GEOSSTRtree_destroy_r(h, c->tree);
    for (int i = 0; h && i < c->n; i++) {
        if (c->prepared[i]) GEOSPreparedGeom_destroy_r(h, c->prepared[i]);
        GEOSGeom_destroy_r(h, c->geoms[i]);
        free(c->codes[i]);
    }
    free(c->geoms), free(c->prepared), free(c->codes);
    memset(c, 0, sizeof *c);
}

/* Characters (not bytes) of UTF-8 text, as SQLite's length() counts them. */
static size_t utf8_chars(const char *s, int len)
{
    size_t n = 0;
    for (int i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

struct commune_load {
    struct batch *b;
    GEOSContextHandle_t h;
    GEOSWKBReader *rd;
    int cap;
    struct err *err;
};

/* A commune: level 3, or a 5-digit GSO code when the level is not given (DOMAIN.md 5). */
static int is_commune(const struct value *code, const struct value *level)
{
    if (code->type != VAL_TEXT) return 0;
    if (level->type == VAL_INT) return level->i == 3;
    if (level->type == VAL_REAL) return level->d == 3.0;
    return level->type == VAL_NULL && utf8_chars(code->s, code->len) == 5;
}

static int commune_row(void *ud, const struct feature *f, const struct bbox *box)
{
    (void)box;
    struct commune_load *cl = ud;
    struct communes *c = &cl->b->communes;
    if (!f->wkb || !is_commune(&f->values[0], &f->values[1])) return 0;
    GEOSGeometry *g = GEOSWKBReader_read_r(cl->h, cl->rd, f->wkb, f->wkb_len);
    if (!g) return 0;
    if (c->n == cl->cap) {
        int cap = cl->cap ? cl->cap * 2 : 64;
        void **gg = realloc(c->geoms, (size_t)cap * sizeof *gg);
        if (gg) c->geoms = gg;
        void **pp = realloc(c->prepared, (size_t)cap * sizeof *pp);
        if (pp) c->prepared = pp;
        char **cc = realloc(c->codes, (size_t)cap * sizeof *cc);
        if (cc) c->codes = cc;
        if (!gg || !pp || !cc) {
            GEOSGeom_destroy_r(cl->h, g);
            return err_set(cl->err, ERR_NOMEM, "out of memory");
        }
        cl->cap = cap;
    }
    c->geoms[c->n] = g;
    c->prepared[c->n] = (void *)GEOSPrepare_r(cl->h, g);
    c->codes[c->n] = str_dup(f->values[0].s);
    c->n++;
    return 0;
}

int batch_communes_load(struct batch *b, struct err *err)
{
    struct communes *c = &b->communes;
    if (c->loaded) return 0;
    c->loaded = 1;
    const struct layer_def *l = catalog_layer(b->cat, "admin_units");
    int fields[2] = {l ? layer_field_index(l, "code") : -1, l ? layer_field_index(l, "level") : -1};
    if (fields[0] < 0 || fields[1] < 0)
        return err_set(err, ERR_PARAM, "admin_units: the catalog has no code and level fields");
    GEOSContextHandle_t h = geo_geos(b->geo);
    struct commune_load cl = {b, h, GEOSWKBReader_create_r(h), 0, err};
    struct store_scan q = {l, fields, 2, 1, -1};
    int rc = store_load_scan(b->ld, &q, commune_row, &cl, err);
    GEOSWKBReader_destroy_r(h, cl.rd);
    if (!rc && c->n) {
        c->tree = GEOSSTRtree_create_r(h, 10);
        for (int i = 0; i < c->n; i++)
            GEOSSTRtree_insert_r(h, c->tree, c->geoms[i], (void *)(intptr_t)i);
    }
    return rc;
}

struct commune_hit {
    struct batch *b;
    const GEOSGeometry *pt;
    int found;
};

static void commune_visit(void *item, void *ud)
{
    struct commune_hit *q = ud;
    int i = (int)(intptr_t)item;
    if (q->found >= 0 && q->found < i) return; /* the first commune in store order wins */
    GEOSContextHandle_t h = geo_geos(q->b->geo);
    const GEOSPreparedGeometry *p = q->b->communes.prepared[i];
    if (p && GEOSPreparedContains_r(h, p, q->pt) == 1) q->found = i;
}

const char *batch_commune_at(struct batch *b, const void *point)
{
    struct communes *c = &b->communes;
    if (!c->tree) return NULL;
    struct commune_hit q = {b, point, -1};
    GEOSSTRtree_query_r(geo_geos(b->geo), c->tree, (GEOSGeometry *)point, commune_visit, &q);
    return q.found >= 0 ? c->codes[q.found] : NULL;
}
