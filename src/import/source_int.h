/* SPDX-License-Identifier: MIT */
/* source_int.h: what the source readers share (source.c opens and streams a source; cad.c reads
 * CAD drawings, table.c coordinate tables, both into assembled records). Private to import/. */
#ifndef SPP_IMPORT_SOURCE_INT_H
#define SPP_IMPORT_SOURCE_INT_H

#include "import_int.h"

#include <gdal.h>
#include <ogr_api.h>

enum src_mode { MODE_FEATURES, MODE_CAD, MODE_TABLE };

struct mrec {
    int64_t row;
    char **vals;
    unsigned char *wkb;
    size_t wkb_len;
};

struct rec_src {
    GDALDatasetH ds;
    OGRLayerH lyr;
    enum src_mode mode;
    int coord_x, coord_y; /* coordinate tables: the columns of the first and second number */
    char format[64];
    int n_fields;
    char **names;
    /* streaming */
    OGRFeatureH feat;
    char **vals;
    char *owned; /* vals[i] was allocated (not OGR's own string) */
    int *ftype;  /* OGRFieldType per field */
    double *num;
    char *is_num, *num_only;
    unsigned char *wkb;
    size_t wkb_cap;
    int64_t row;
    /* assembled */
    struct mrec *recs;
    int n_recs, cap_recs, next;
    /* integrity (issue 16): GDAL errors while reading, and records declared vs read */
    struct read_errors {
        int n;           /* CE_Failure/CE_Fatal reported by GDAL during reads */
        char first[200]; /* the first of them */
    } rerr;
    char *path;       /* as the user wrote it, for messages */
    char *abs_path;   /* to read the shapefile headers (/vsizip/ inside a .zip) */
    char *zip_member; /* the source's path inside its .zip, NULL when not zipped */
    int64_t declared; /* records the file says it holds (shapefile DBF header), -1 unknown */
    int header_row;   /* a table's header is its row header_row (1-based) when > 0: the rows
                       * above are a title (find_header_row); 0: GDAL's own header */
    int filtered;     /* an attribute filter: fewer records than declared is expected */
    int n_ogr;        /* fields GDAL gives; names[n_ogr..n_fields) are read from each KML
                       * description's HTML table (kmldesc.c) */
    int desc_field;   /* that description field, -1 when none is read */
    int keys_filled;  /* corner tables: blank keys taken from the row above (merged cells) */
};

/* source.c */
void src_free_strv(char **v, int n);
/* Around each read: GDAL errors are collected; src_reads_end turns them into ERR_IO. */
void src_reads_begin(struct rec_src *rs);
int src_reads_end(struct rec_src *rs, struct err *err);
int src_add_rec(struct rec_src *rs, char **vals, unsigned char *wkb, size_t len); /* ERR_NOMEM */
unsigned char *src_export_wkb(OGRGeometryH g, size_t *len); /* ISO WKB, malloc'd; NULL */
/* "a", "b" and "c" (at most 8 names, then "...") into out. */
void src_name_list(char *out, size_t n, const char *(*name)(void *ud, int i), void *ud, int count);

/* kmldesc.c: the name/value rows of an HTML table in a KML description (ArcGIS's Layer To KML).
 * values[i] NULL: no value ("<Null>"). 0, ERR_NOMEM; no table: 0 pairs. */
struct kml_pairs {
    char **names, **values;
    int n, cap;
};
int kml_desc_parse(const char *html, struct kml_pairs *out);
const char *kml_pairs_get(const struct kml_pairs *p, const char *name, int *found);
void kml_pairs_fini(struct kml_pairs *p);

/* cad.c: closed polylines of a DXF/DGN become polygons, its texts their attributes. */
int src_read_cad(struct rec_src *rs, const struct src_spec *spec, struct err *err);

/* table.c: coordinate tables. src_table_columns: 0 when the names give the X and Y columns.
 * src_find_header_row: a header below a title (0, ERR_NOT_FOUND, ERR_NOMEM). */
int src_table_columns(struct rec_src *rs, const struct src_spec *spec, int *cx, int *cy,
                      int *corder);
int src_find_header_row(struct rec_src *rs, const struct src_spec *spec, const char *open_path);
int src_read_table(struct rec_src *rs, const struct src_spec *spec, enum geom_type want,
                   struct err *err);

#endif
