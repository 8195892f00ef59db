/* SPDX-License-Identifier: MIT */
/* encode: the output writers, one per format (issue 23): GeoJSON (geojson.c), GML 3.2 / 3.1.1
 * and the GML 2 of GetFeatureInfo (gml.c), CSV (csv.c), HTML cells and tables (html.c), the
 * GetFeatureInfo records (info.c), and what they share: numbers without printf, values typed by
 * their catalog field, geometries decoded once and transformed through one vertex cache
 * (geom.c), and the one decision which fields a role sees (fields.c). Writers are feature sinks
 * fed by the store's one query path, or pieces the services call for one value or geometry.
 * This module owns no protocol: collections, numberMatched, paging links, WFS and WMS wrappers,
 * the land API's answers stay with the services (ogc/, ogcapi/, query/). MVT stays in tiles/.
 * Every writer appends to a struct buf and returns 0 or ERR_NOMEM (ERR_PARAM and the geo
 * errors only where a geometry is decoded or transformed, as noted). */
#ifndef SPP_ENCODE_H
#define SPP_ENCODE_H

#include <stdint.h>

#include "../config/config.h"
#include "../core/core.h"
#include "../geo/geo.h"
#include "../store/store.h"

/* Field selection (fields.c). */
/* Writes into out (room for max) the indexes of l's fields role may read, in catalog order, and
 * returns how many. Every writer's field list starts here, so a hidden field is hidden in every
 * format alike. */
int encode_fields(const struct layer_def *l, enum role role, int *out, int max);

/* Numbers and values (number.c). */
/* v with at most `decimals` (0..9) decimals, trailing zeros dropped, without printf; NaN and
 * infinities as null, magnitudes above 9e15 in %.17g. The writers' hot path. */
int encode_number(struct buf *b, double v, int decimals);
/* Appends the strings up to a NULL (the writers' printf-free concatenation). */
int encode_cat(struct buf *b, ...);
/* An integer without printf. */
int encode_int(struct buf *b, long long v);
/* v rounded as printf's %.*f rounds it (correctly rounded decimal), trailing zeros dropped,
 * "-0" as "0", NaN and infinities as null: the land API's and GetFeatureInfo's numbers, whose
 * last digit must not move. */
int encode_number_exact(struct buf *b, double v, int decimals);
/* A JSON value typed by its field (fd may be NULL): booleans as true/false, integers, reals with
 * 15 significant digits and at most 9 decimals, text escaped, NULL as null. */
int encode_json_value(struct buf *b, const struct field_def *fd, const struct value *v);
/* The same with reals through encode_number_exact at `decimals` (the land API writes 6). */
int encode_json_value_rounded(struct buf *b, const struct field_def *fd, const struct value *v,
                              int decimals);
/* An XML text value (GML, GetPropertyValue): booleans true/false, numbers as in JSON, text
 * XML-escaped, NULL as nothing. */
int encode_xml_value(struct buf *b, const struct field_def *fd, const struct value *v);
/* {"vi":..,"en":..} of code in code list cl (scheme first, then any scheme; either may be
 * NULL), or null. */
int encode_json_code_name(struct buf *b, const struct codelist *cl, const char *code,
                          const char *scheme);
/* "name":value,... of n fields of l (indexes in fields, values parallel, reals rounded to 6
 * decimals), each field with a code list followed by "<name>_name":{"vi","en"}, or for a multi
 * code field "<name>_codes":[{"code","name"}...]; scheme is the land-use scheme for the code
 * names (may be NULL). A ',' goes before each member unless *first, which is then cleared. */
int encode_json_props(struct buf *b, const struct layer_def *l, const int *fields,
                      const struct value *values, int n, const char *scheme, int *first);

/* Geometries of one response (geom.c). */
struct xy_cache; /* transformed vertices: shared vertices of a parcel fabric are transformed once */
struct encode_geom {
    struct geo_ctx *geo; /* borrowed, for src_srid -> dst_srid */
    int src_srid, dst_srid;
    int decimals;           /* 8 for degrees, 3 for metres (set by init) */
    int swap_xy;            /* 1: write y,x (a lat/lon axis order was asked for) */
    int exact;              /* 1: numbers through encode_number_exact (land API, GetFeatureInfo) */
    struct geom g;          /* the last geometry loaded, in dst_srid; reused across features */
    struct xy_cache *cache; /* owned, created on first use */
};
/* geographic: 1 when dst_srid is in degrees (picks 8 decimals, else 3). */
void encode_geom_init(struct encode_geom *eg, struct geo_ctx *geo, int src_srid, int dst_srid,
                      int geographic);
void encode_geom_fini(struct encode_geom *eg);
/* Decodes WKB into eg->g and transforms it to dst_srid. ERR_PARAM for WKB that cannot be
 * decoded, the errors of geo_transform. */
int encode_geom_load(struct encode_geom *eg, const unsigned char *wkb, size_t len, struct err *err);
/* Transforms n points (x = east) from src to dst in place, reusing results for vertices already
 * seen through *cache (created on first use, freed with encode_cache_free). Same errors as
 * geo_transform. */
int encode_transform(struct xy_cache **cache, struct geo_ctx *geo, int src, int dst, double *xy,
                     size_t n, struct err *err);
void encode_cache_free(struct xy_cache *c);

/* GeoJSON (geojson.c). */
/* A feature sink writing comma-separated Feature objects into out; the caller writes the
 * surrounding collection (or, for one feature, the links inside it). */
struct encode_geojson {
    struct buf *out; /* borrowed */
    struct encode_geom geom;
    int id_with_layer; /* 1: "id":"layer.fid" (WFS), 0: "id":fid (OGC API) */
    int no_geometry;   /* 1: "geometry":null */
    int64_t n_written;
};
void encode_geojson_init(struct encode_geojson *w, struct buf *out, struct geo_ctx *geo,
                         int src_srid, int dst_srid, int geographic);
void encode_geojson_fini(struct encode_geojson *w);
/* Appends one Feature (preceded by ',' after the first). ERR_PARAM if the geometry cannot be
 * decoded or transformed, ERR_NOMEM. */
int encode_geojson_feature(struct encode_geojson *w, const struct feature *f, struct err *err);
struct feature_sink encode_geojson_sink(struct encode_geojson *w);
/* The opening of a FeatureCollection up to its features array ("...\"features\":["); the
 * caller writes the members after the features (numberMatched, links...) and the closing. */
int encode_geojson_open(struct buf *b);
/* A GeoJSON geometry object for g (null when it has no parts); multi: written as the Multi*
 * type (a GetFeatureInfo answer); exact: numbers through encode_number_exact. */
int encode_geojson_geometry(struct buf *b, const struct geom *g, int decimals, int swap, int multi,
                            int exact);
/* A geometry from storage WKB through eg (the land API: CRS84, 7 decimals, exact): null when
 * wkb is NULL or cannot be decoded; the errors of the transformation. */
int encode_geojson_wkb(struct buf *b, struct encode_geom *eg, const unsigned char *wkb, size_t len,
                       struct err *err);
/* A Feature of the land API: "id" the layer's natural key (when among fields and text) else
 * fid, properties as encode_json_props (code names of scheme), then the geometry as
 * encode_geojson_wkb. */
int encode_geojson_coded_feature(struct buf *b, struct encode_geom *eg, const struct layer_def *l,
                                 int64_t fid, const int *fields, const struct value *values, int n,
                                 const char *scheme, const unsigned char *wkb, size_t len,
                                 struct err *err);

/* GML (gml.c). */
/* GML 3.2 (WFS 2.0) and 3.1.1 (WFS 1.1) features: a feature sink like encode_geojson. */
struct encode_gml {
    struct buf *out; /* borrowed */
    struct encode_geom geom;
    int v32;                /* 1: GML 3.2 (gml:id on every geometry), 0: GML 3.1.1 */
    const char *srs_name;   /* srsName on each top geometry */
    const char *member;     /* "wfs:member" or "gml:featureMember"; NULL: no wrapper */
    const char *root_attrs; /* extra attributes on the feature element (namespaces) or NULL */
    int no_geometry;
    int64_t n_written;
};
void encode_gml_init(struct encode_gml *w, struct buf *out, struct geo_ctx *geo, int src_srid,
                     int dst_srid, int geographic);
void encode_gml_fini(struct encode_gml *w);
int encode_gml_feature(struct encode_gml *w, const struct feature *f, struct err *err);
struct feature_sink encode_gml_sink(struct encode_gml *w);
/* The geometry w->geom.g (after encode_geom_load); id prefixes the gml:ids (GML 3.2). */
int encode_gml_geometry(struct buf *b, const struct encode_gml *w, const char *id);
/* A GML 2 geometry (GetFeatureInfo's msGMLOutput): always the Multi* type with srsName, points
 * as gml:coordinates, numbers exact at `decimals`. */
int encode_gml2_geometry(struct buf *b, const struct geom *g, const char *srs, int decimals);

/* CSV (csv.c), RFC 4180 with CRLF line ends. */
/* WFS rows: id (layer.fid), the fields, geometry as WKT in the writer's CRS. */
struct encode_csv {
    struct buf *out; /* borrowed */
    struct encode_geom geom;
    int no_geometry;
    int64_t n_written;
};
void encode_csv_init(struct encode_csv *w, struct buf *out, struct geo_ctx *geo, int src_srid,
                     int dst_srid, int geographic);
void encode_csv_fini(struct encode_csv *w);
/* The header line "id,<fields>,geometry". */
int encode_csv_header(struct buf *b, const struct layer_def *l, const int *fields, int n_fields);
int encode_csv_feature(struct encode_csv *w, const struct feature *f, struct err *err);
struct feature_sink encode_csv_sink(struct encode_csv *w);
/* WKT of g (nothing for an unknown type). */
int encode_wkt(struct buf *b, const struct geom *g, int decimals, int swap);
/* A cell (quoted when it holds , " CR or LF; NULL is empty) followed by sep (',' or '\n', which
 * is written as CRLF). */
int encode_csv_cell(struct buf *b, const char *s, char sep);
/* A cell from a value: integers, reals rounded to 6 decimals (exact), text, NULL empty. */
int encode_csv_value(struct buf *b, const struct value *v, char sep);
/* A cell from a number rounded to `decimals` (exact); NaN is empty. */
int encode_csv_number(struct buf *b, double v, int decimals, char sep);
/* The UTF-8 byte order mark a CSV for people starts with (Excel reads it as UTF-8 then). */
int encode_csv_bom(struct buf *b);
/* Header languages: field names (for programs) or the catalog's labels in vi or en. */
enum encode_csv_lang { ENCODE_CSV_NAMES, ENCODE_CSV_VI, ENCODE_CSV_EN };
/* The header cell of column col: its name (ENCODE_CSV_NAMES), else the label of l's field col
 * in lang with its unit ("Diện tích (m²)"), else title (a derived column's title; NULL: col). */
int encode_csv_title(struct buf *b, const struct layer_def *l, const char *col,
                     enum encode_csv_lang lang, const char *title, char sep);

/* HTML (html.c). */
/* A table cell's content: text escaped, numbers as in JSON, NULL empty. */
int encode_html_value(struct buf *b, const struct field_def *fd, const struct value *v);
/* A feature as a two-column table (GetFeatureInfo text/html): fid, then per field its label
 * (its name when it has none) and its value as encode_info_value writes it for HTML. */
int encode_html_table(struct buf *b, const struct layer_def *l, int64_t fid, const int *fields,
                      const struct value *values, int n);

/* GetFeatureInfo records (info.c): text/plain, text/html, GeoJSON and GML 2, the forms QGIS and
 * MapServer clients read. */
enum encode_info_fmt { ENCODE_INFO_TEXT, ENCODE_INFO_HTML, ENCODE_INFO_JSON, ENCODE_INFO_GML };
struct encode_info {
    struct buf *out; /* borrowed */
    enum encode_info_fmt fmt;
    const char *srs; /* srsName of GML geometries */
    int decimals;    /* of coordinates: 8 for degrees, 3 for metres */
    int n_written;   /* JSON features written (for the commas) */
};
/* The document's opening and closing. */
int encode_info_begin(struct encode_info *w);
int encode_info_end(struct encode_info *w);
/* The content type of the format. */
const char *encode_info_type(enum encode_info_fmt fmt);
/* One layer's opening / closing (n_features: how many follow). */
int encode_info_layer_begin(struct encode_info *w, const struct layer_def *l, int n_features);
int encode_info_layer_end(struct encode_info *w, const struct layer_def *l);
/* One feature: its fields' values (parallel to fields) and its geometry in the map's CRS (NULL:
 * none, or it could not be transformed). */
int encode_info_feature(struct encode_info *w, const struct layer_def *l, int64_t fid,
                        const int *fields, const struct value *values, int n, const struct geom *g);
/* A value as GetFeatureInfo writes it: integers (booleans too) as numbers, reals rounded to 6
 * decimals; text in fmt's form (JSON string, 'quoted' in text, escaped in HTML and GML); NULL as
 * null, NULL or nothing. */
int encode_info_value(struct buf *b, enum encode_info_fmt fmt, const struct value *v);

#endif
