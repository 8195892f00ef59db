/* SPDX-License-Identifier: MIT */
/* import: reads the files a city really has (SHP, TAB/MIF, GeoJSON, GPKG, FileGDB, KML, CSV/XLSX
 * coordinate lists, DXF, DGN v7) through GDAL/OGR and normalises them into the catalog's layers:
 * CRS detected and repaired, text decoded from legacy Vietnamese encodings to NFC UTF-8, fields
 * mapped through the catalog aliases, codes through the code lists, geometries made valid. A batch
 * replaces the layers it touches in one write transaction, with lineage, spp_imports,
 * spp_changes and a report (report.json, report.html).
 *
 * Owns: reading sources and deciding what a feature becomes (also for one edited feature:
 * import_feature_normalize). Must not: write SQL or open the store any other way than the store's
 * load API, or publish part of a batch. */
#ifndef SPP_IMPORT_H
#define SPP_IMPORT_H

#include "../config/config.h"
#include "../core/core.h"
#include "../geo/geo.h"
#include "../store/store.h"

struct import_opts {
    const char *manifest; /* manifest JSON path, or NULL */
    const char *layer;    /* with sources: the target layer id */
    char **sources;       /* source files for --layer */
    int n_sources;
    const char *report_dir; /* NULL: no report files */
    int dry_run;            /* 1: everything but writing the store */
    int progress;           /* 1: progress bar (a terminal), 0: plain lines */
    int quiet;              /* 1: no progress output at all */
    /* Command-line pins for every source of the batch, same meaning as the manifest's keys:
     * --set FIELD=VALUE (a source's "defaults"), --rename SRC=DST (its "rename"). Strings are
     * "KEY=VALUE" as typed; a source's own manifest pins win over these. */
    char **sets;
    int n_sets;
    char **renames;
    int n_renames;
    int allow_shrink; /* --allow-shrink: a layer may lose more than the shrink limit */
    const char *lang; /* report language "vi" or "en"; NULL: from the locale/catalog */
};

struct import_summary {
    int n_layers; /* layers written */
    int64_t n_read, n_written, n_rejected;
    int n_refused; /* layers refused (shrink limit): the batch was rolled back */
    int n_failed;  /* sources that failed (read error, truncated file): rolled back */
    char batch[64];
    char first_reject[512]; /* "FILE row N: reason" of the first rejected feature, or "" */
    int usage;              /* 1: the error is a bad command-line value (--set, --rename, --lang) */
};

/* Exit codes of `spp import` (README "Importing data"). */
#define IMPORT_EXIT_OK       0 /* done: every feature read was written */
#define IMPORT_EXIT_FAILED   1 /* failed or refused: the store is as it was */
#define IMPORT_EXIT_REJECTED 3 /* done, but some features were rejected (see the report) */

/* Runs one batch. Opens (and if needed initialises) the store at cfg->db_path, unless dry_run
 * and the store does not exist. On any error the store is unchanged; err names the source.
 * ERR_PARAM for bad input (unknown layer, undecidable CRS, empty source), ERR_IO for missing or
 * unreadable files. */
int import_run(const struct config *cfg, const struct import_opts *o, struct import_summary *sum,
               struct err *err);

/* The process exit code for import_run's rc and summary: IMPORT_EXIT_FAILED for any rc != 0
 * (a failed source, a refused layer, bad input: nothing was changed), IMPORT_EXIT_REJECTED when
 * the batch was done but rejected features, IMPORT_EXIT_OK otherwise. A dry run answers as the
 * real run would have. */
int import_exit_code(int rc, const struct import_summary *sum);

/* One edited feature (issue 20; feature.c): the importer's normalisation and validation of a
 * batch, per feature. in[i] is the value the client wrote for l->fields[i] (VAL_NULL: none):
 * text is checked as UTF-8 and put in NFC, numbers, dates and booleans parsed and bounded, codes
 * mapped through the field's code list (an unknown code is refused, not kept), derived measures
 * computed; the geometry (ISO WKB in src_srid, Y first when swap_xy) is transformed to storage_srid
 * (VN-2000 with the official parameters), made valid and promoted to the layer's type; required
 * fields checked. Fills out (its fid kept; free with store_row_fini). ERR_PARAM with "field NAME:
 * why" and the field's name ("geometry" for the geometry) in field for the first problem; out is
 * empty then. */
int import_feature_normalize(struct geo_ctx *geo, const struct layer_def *l, int storage_srid,
                             int src_srid, int swap_xy, const struct value *in,
                             const unsigned char *wkb, size_t wkb_len, struct store_row *out,
                             char *field, size_t field_n, struct err *err);
/* The geometry of a GeoJSON geometry object (text) or a GML geometry element (text; *srid from
 * its srsName when it names an EPSG code, else 0) as ISO WKB in wkb. ERR_PARAM. */
int import_geom_from_geojson(const char *json, struct buf *wkb, struct err *err);
int import_geom_from_gml(const char *gml, struct buf *wkb, int *srid, struct err *err);

#endif
