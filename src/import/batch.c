/* SPDX-License-Identifier: MIT */
/* batch.c: one import batch, in one write transaction. Each layer the batch touches is replaced:
 * its old extents go to the change cells, its spatial index is dropped, its rows deleted, every
 * source of the layer is read (sample pass: encodings and CRS; then the stream: attributes,
 * geometry, insert with fids in source order), the R*Tree is rebuilt from the table, spp_layers
 * refreshed and the changed cells written to spp_changes. Readers in WAL mode see the old store or
 * the new one; a killed import leaves the old one. --dry-run rolls the transaction back. The report
 * (report.c) is built from what this file records. */
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
    sqlite3_stmt *s = b->ins_finding;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, b->batch_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, layer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, file, -1, SQLITE_STATIC);
    if (row > 0)
        sqlite3_bind_int64(s, 4, row);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_text(s, 5, severity, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, msg, -1, SQLITE_TRANSIENT);
    return sqlite3_step(s) == SQLITE_DONE ? 0 : ERR_DB;
}

/* SpatiaLite's per-row triggers (geometry constraint check, geometry_columns_time update) cost
 * more than the insert itself; the importer writes only geometries of the layer's type and CRS,
 * so they are dropped for the bulk load and re-created, unchanged, before the commit. */
static int save_triggers(struct batch *b, const struct layer_def *l, struct err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(
            b->db,
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?"
            " AND (name LIKE 'gg%' OR name LIKE 'gi%' OR name LIKE 'tm%') ORDER BY name",
            -1, &s, NULL) != SQLITE_OK)
        return store_db_error(b->st, err, "triggers");
    sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC);
    buf_reset(&b->triggers);
    struct buf drop;
    buf_init(&drop);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *def = (const char *)sqlite3_column_text(s, 1);
        if (def && strncmp(def, "CREATE TRIGGER ", 15) == 0)
            buf_printf(&b->triggers, "CREATE TRIGGER IF NOT EXISTS %s;\n", def + 15);
        buf_puts(&drop, "DROP TRIGGER ");
        store_put_ident(&drop, (const char *)sqlite3_column_text(s, 0));
        buf_puts(&drop, ";");
    }
    sqlite3_finalize(s);
    int rc = drop.len ? store_exec(b->st, drop.data, err) : 0;
    buf_fini(&drop);
    return rc;
}

static int restore_triggers(struct batch *b, const struct layer_def *l, struct err *err)
{
    int rc = b->triggers.len ? store_exec(b->st, b->triggers.data, err) : 0;
    buf_reset(&b->triggers);
    char sql[256];
    snprintf(
        sql, sizeof sql,
        "UPDATE geometry_columns_time SET last_insert = strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now')"
        " WHERE lower(f_table_name) = lower('%s')",
        l->id);
    if (!rc)
        store_exec(b->st, sql, NULL); /* bookkeeping only; older SpatiaLite has no such table */
    return rc;
}

static int clear_layer(struct batch *b, const struct layer_def *l, struct err *err)
{
    char sql[256];
    b->n_cells = 0;
    batch_lineage_free(b);
    int hrc = batch_cell_hashes(b, l, &b->old_hash, &b->n_old_hash, &b->old_feat, &b->n_old_feat,
                                &b->n_old, err);
    if (!hrc) hrc = batch_snapshot_keys(b, l, err); /* the change feed (issue 21) */
    if (hrc) return hrc;
    /* bulk load without the R*Tree and its triggers: the index is emptied here, loaded at the end
     */
    snprintf(sql, sizeof sql,
             "SELECT DisableSpatialIndex('%s', 'geom'); DROP TABLE IF EXISTS \"idx_%s_geom\";",
             l->id, l->id);
    int rc = store_exec(b->st, sql, err);
    if (!rc) rc = save_triggers(b, l, err); /* after DisableSpatialIndex, which re-creates them */
    /* the attribute indexes too: built once from the loaded table in finish_layer */
    if (!rc) rc = store_drop_layer_indexes(b->st, l, err);
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\";", l->id);
    if (!rc) rc = store_exec(b->st, sql, err);
    /* an empty spatial index now (SpatiaLite's tables, triggers and metadata), its triggers set
     * aside with the others; finish_layer fills it in one pass (store_rtree_load) */
    snprintf(sql, sizeof sql, "SELECT CreateSpatialIndex('%s', 'geom');", l->id);
    if (!rc) rc = store_exec(b->st, sql, err);
    return rc ? rc : save_triggers(b, l, err);
}

static int finish_layer(struct batch *b, const struct layer_def *l, struct err *err)
{
    int rc = store_rtree_load(b->st, l, err);
    if (!rc) rc = restore_triggers(b, l, err);
    if (!rc) rc = store_ensure_layer_indexes(b->st, l, err);
    if (!rc) rc = store_refresh_layer(b->st, l, b->batch_id, err);
    if (!rc) rc = batch_write_changes(b, l, err);
    if (!rc && strcmp(l->id, "cadastral_parcels") == 0) {
        rc = batch_parcel_topology(b, l, err);
        b->ref_dirty = 1;
    }
    return rc;
}

static int prepare_insert(struct batch *b, const struct layer_def *l, sqlite3_stmt **out,
                          struct err *err)
{
    struct buf q;
    buf_init(&q);
    buf_puts(&q, "INSERT INTO ");
    store_put_ident(&q, l->id);
    buf_puts(&q, " (fid");
    for (int i = 0; i < l->n_fields; i++) {
        buf_puts(&q, ", ");
        store_put_ident(&q, l->fields[i].name);
    }
    buf_puts(&q, ", geom) VALUES (?");
    for (int i = 0; i < l->n_fields; i++)
        buf_puts(&q, ", ?");
    buf_printf(&q, ", GeomFromWKB(?, %d))", b->srid);
    int rc = sqlite3_prepare_v2(b->db, q.data, -1, out, NULL) == SQLITE_OK
                 ? 0
                 : store_db_error(b->st, err, "insert");
    buf_fini(&q);
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
    sqlite3_stmt *ins = NULL;
    if (!rc) rc = prepare_insert(b, l, &ins, err);
    int64_t fid = 0;
    for (int i = 0; i < b->m->n_specs && !rc; i++)
        if (b->m->specs[i].layer == l) {
            rc = batch_source(b, &b->m->specs[i], ins, &fid, err);
            if (rc) record_failed(b, &b->m->specs[i], err);
        }
    sqlite3_finalize(ins);
    if (!rc && shrink_refused(b, l, fid)) {
        /* run_layers fails the batch at the end; the layer's old cell hashes and features
         * (finish_layer's to free) go now, before the next layer takes their place */
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

int batch_refresh_area(struct batch *b, const struct layer_def *cur)
{
    sqlite3_stmt *s = NULL;
    b->cx.has_area = 0;
    if (sqlite3_prepare_v2(
            b->db,
            "SELECT layer, minx, miny, maxx, maxy FROM spp_layers WHERE n_features > 0"
            " AND minx IS NOT NULL AND layer <> ? ORDER BY layer <> 'admin_units', layer",
            -1, &s, NULL) != SQLITE_OK)
        return ERR_DB;
    sqlite3_bind_text(s, 1, cur->id, -1, SQLITE_STATIC);
    struct bbox all;
    bbox_empty(&all);
    int n = 0, admin = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        struct bbox e = {sqlite3_column_double(s, 1), sqlite3_column_double(s, 2),
                         sqlite3_column_double(s, 3), sqlite3_column_double(s, 4)};
        if (n == 0 && id && strcmp(id, "admin_units") == 0) admin = 1;
        if (admin && n > 0) break;
        bbox_union(&all, &e);
        n++;
    }
    sqlite3_finalize(s);
    if (n) {
        b->cx.area = all;
        b->cx.has_area = 1;
        snprintf(b->cx.area_from, sizeof b->cx.area_from, "%s",
                 admin ? "the admin_units boundary" : "the extent of the layers in the store");
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

int batch_refresh_ref(struct batch *b)
{
    if (!b->ref_dirty) return 0;
    b->ref_dirty = 0;
    crs_context_fini(&b->cx);
    GEOSContextHandle_t h = geo_geos(b->geo);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(b->db,
                           "SELECT AsBinary(geom), lu_display FROM cadastral_parcels WHERE geom IS "
                           "NOT NULL LIMIT 200000",
                           -1, &s, NULL) != SQLITE_OK)
        return ERR_DB;
    GEOSWKBReader *rd = GEOSWKBReader_create_r(h);
    int cap = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        GEOSGeometry *g = GEOSWKBReader_read_r(h, rd, sqlite3_column_blob(s, 0),
                                               (size_t)sqlite3_column_bytes(s, 0));
        if (!g) continue;
        if (b->cx.n_ref == cap) {
            cap = cap ? cap * 2 : 1024;
            void **a = realloc(b->cx.ref_geoms, (size_t)cap * sizeof *a);
            if (!a) {
                GEOSGeom_destroy_r(h, g);
                break;
            }
            b->cx.ref_geoms = a;
            char *pub = realloc(b->cx.ref_public, (size_t)cap);
            if (!pub) {
                GEOSGeom_destroy_r(h, g);
                break;
            }
            b->cx.ref_public = pub;
        }
        b->cx.ref_public[b->cx.n_ref] = public_use((const char *)sqlite3_column_text(s, 1));
        b->cx.ref_geoms[b->cx.n_ref++] = g;
    }
    GEOSWKBReader_destroy_r(h, rd);
    sqlite3_finalize(s);
    if (b->cx.n_ref) {
        b->cx.ref_tree = GEOSSTRtree_create_r(h, 10);
        for (int i = 0; i < b->cx.n_ref; i++)
            GEOSSTRtree_insert_r(h, b->cx.ref_tree, b->cx.ref_geoms[i], (void *)(intptr_t)i);
        snprintf(b->cx.ref_from, sizeof b->cx.ref_from, "cadastral_parcels (%d parcels)",
                 b->cx.n_ref);
    }
    return 0;
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
    sqlite3_stmt *s = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(
            b->db,
            "INSERT OR REPLACE INTO spp_imports (batch, started, finished, sources, counts,"
            " checksums, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
            -1, &s, NULL) != SQLITE_OK) {
        rc = store_db_error(b->st, err, "spp_imports");
    } else {
        const char *v[] = {b->batch_id, b->started, fin, js, jc, jk, jr};
        for (int i = 0; i < 7; i++)
            sqlite3_bind_text(s, i + 1, v[i], -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) rc = store_db_error(b->st, err, "spp_imports");
    }
    sqlite3_finalize(s);
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
    struct stat sb;
    int exists = stat(cfg->db_path, &sb) == 0;
    *created = 0;
    const char *path = cfg->db_path;
    if (b->o->dry_run && !exists)
        path = ":memory:";
    else if (!exists)
        *created = 1;
    int rc = store_open(path, STORE_WRITE, &b->st, err);
    if (!rc) rc = store_init_schema(b->st, &cfg->catalog, cfg->storage_srid, err);
    if (!rc) {
        b->db = store_db(b->st);
        b->srid = store_srid(b->st);
        /* one big transaction: keep its pages in memory rather than spilling them repeatedly */
        store_exec(b->st, "PRAGMA cache_size = -262144", NULL);
        /* a new store has no readers: a rollback journal writes the pages once (WAL writes them
         * twice, to the log and at the checkpoint) and still rolls a killed import back; the
         * store returns to WAL after the commit */
        if (*created) rc = store_exec(b->st, "PRAGMA journal_mode = DELETE", err);
    }
    return rc;
}

static void remove_store(const char *path)
{
    char p[4096];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int run(struct batch *b, struct err *err)
{
    int rc = make_batch_id(b, err);
    if (!rc) rc = store_begin(b->st, err);
    if (rc) return rc;
    if (sqlite3_prepare_v2(
            b->db,
            "INSERT INTO spp_findings (batch, layer, src_file, src_row, severity, kind,"
            " message) VALUES (?, ?, ?, ?, ?, ?, ?)",
            -1, &b->ins_finding, NULL) != SQLITE_OK)
        return store_db_error(b->st, err, "spp_findings");
    store_exec(b->st, "DELETE FROM spp_findings WHERE batch = '' ", NULL);
    sqlite3_stmt *del = NULL;
    if (sqlite3_prepare_v2(b->db, "DELETE FROM spp_findings WHERE batch = ?", -1, &del, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(del, 1, b->batch_id, -1, SQLITE_STATIC);
        sqlite3_step(del);
    }
    sqlite3_finalize(del);
    json_object_set_new(b->report, "batch", json_string(b->batch_id));
    rc = run_layers(b, err);
    if (!rc) rc = report_thumbnails(b, err);
    json_object_set_new(b->report, "read", json_integer(b->n_read));
    json_object_set_new(b->report, "written", json_integer(b->n_written));
    json_object_set_new(b->report, "rejected", json_integer(b->n_rejected));
    if (!rc && !b->o->dry_run) rc = record_import(b, err);
    if (!rc && !b->o->dry_run) rc = batch_record_lineage(b, err);
    sqlite3_finalize(b->ins_finding);
    b->ins_finding = NULL;
    if (rc || b->o->dry_run) {
        store_rollback(b->st);
        return rc;
    }
    return store_commit(b->st, err);
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
        if (!rc && created) rc = store_exec(b.st, "PRAGMA journal_mode = WAL", err);
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
    if (rc && created) remove_store(cfg->db_path);
    geo_ctx_free(b.geo);
    json_decref(b.report), json_decref(b.layers), json_decref(b.sources), json_decref(b.checksums);
    free(b.cells);
    free(b.old_hash);
    buf_fini(&b.triggers);
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

int batch_communes_load(struct batch *b, struct err *err)
{
    struct communes *c = &b->communes;
    if (c->loaded) return 0;
    c->loaded = 1;
    GEOSContextHandle_t h = geo_geos(b->geo);
    sqlite3_stmt *s = NULL;
    /* communes: level 3, or a 5-digit GSO code when the level is not given (DOMAIN.md 5) */
    if (sqlite3_prepare_v2(b->db,
                           "SELECT code, AsBinary(geom) FROM admin_units WHERE geom IS NOT NULL"
                           " AND code IS NOT NULL AND (level = 3 OR (level IS NULL AND"
                           " length(code) = 5)) ORDER BY fid",
                           -1, &s, NULL) != SQLITE_OK)
        return store_db_error(b->st, err, "admin_units");
    GEOSWKBReader *rd = GEOSWKBReader_create_r(h);
    int cap = 0, rc = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        GEOSGeometry *g = GEOSWKBReader_read_r(h, rd, sqlite3_column_blob(s, 1),
                                               (size_t)sqlite3_column_bytes(s, 1));
        if (!g) continue;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 64;
            void **gg = realloc(c->geoms, (size_t)cap * sizeof *gg);
            if (gg) c->geoms = gg;
            void **pp = realloc(c->prepared, (size_t)cap * sizeof *pp);
            if (pp) c->prepared = pp;
            char **cc = realloc(c->codes, (size_t)cap * sizeof *cc);
            if (cc) c->codes = cc;
            if (!gg || !pp || !cc) {
                GEOSGeom_destroy_r(h, g);
                rc = err_set(err, ERR_NOMEM, "out of memory");
                break;
            }
        }
        c->geoms[c->n] = g;
        c->prepared[c->n] = (void *)GEOSPrepare_r(h, g);
        c->codes[c->n] = str_dup((const char *)sqlite3_column_text(s, 0));
        c->n++;
    }
    GEOSWKBReader_destroy_r(h, rd);
    sqlite3_finalize(s);
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
