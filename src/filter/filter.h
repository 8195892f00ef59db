/* SPDX-License-Identifier: MIT */
/* filter: one filter tree for every query language. FES 2.0 / OGC Filter 1.1 and 1.0 XML (WFS,
 * SLD rules), CQL2 text and CQL2 JSON (OGC API Part 3) parse into the same tree; the tree is
 * checked against the catalog and the caller's role, then compiled to an SQL fragment with '?'
 * placeholders and a list of values to bind. Property names never reach SQL text: only catalog
 * column names do. Every parser has depth and size limits; XML is parsed without DTDs, entities
 * or network access. [libxml2, jansson] */
#ifndef SPP_FILTER_H
#define SPP_FILTER_H

#include <stdint.h>

#include "../config/config.h"
#include "../core/core.h"
#include "../geo/geo.h"

enum filter_op {
    FOP_AND,
    FOP_OR,
    FOP_NOT, /* logical: children */
    FOP_EQ,
    FOP_NE,
    FOP_LT,
    FOP_LE,
    FOP_GT,
    FOP_GE,      /* property op literal */
    FOP_LIKE,    /* property LIKE pattern */
    FOP_BETWEEN, /* property, lower, upper */
    FOP_IN,      /* property IN (values) */
    FOP_ISNULL,  /* property IS NULL */
    FOP_BBOX,
    FOP_INTERSECTS,
    FOP_WITHIN,
    FOP_CONTAINS,
    FOP_DISJOINT,
    FOP_EQUALS,
    FOP_TOUCHES,
    FOP_OVERLAPS,
    FOP_CROSSES,
    FOP_DWITHIN,
    FOP_BEYOND,      /* geom op literal */
    FOP_RESOURCE_ID, /* fid IN (ids) */
    FOP_INCLUDE,
    FOP_EXCLUDE,   /* always true / false */
    FOP_MBR,       /* built by code: the geometry's own bounding box meets the box in values
                    * (minx, miny, maxx, maxy; storage CRS), read from the geometry's header with
                    * no R*Tree: for few rows an attribute index picked, spread wide (the city's
                    * main roads), cheaper than the R*Tree whose answer is every row there */
    FOP_MIN_EXTENT /* built by code: the geometry's bounding box is at least values[0] wide or
                    * high (storage CRS units): low-zoom tiles skip what collapses anyway */
};

/* A literal: numbers, text, booleans, dates as text. */
struct filter_literal {
    enum value_type type; /* VAL_INT, VAL_REAL, VAL_TEXT (owned copy in s) */
    int64_t i;
    double d;
    char *s;
};

struct filter_node {
    enum filter_op op;
    struct filter_node **children; /* FOP_AND/OR/NOT */
    int n_children;
    char *property;                /* property name as the client wrote it (prefix stripped) */
    int field;                     /* after filter_check: index in layer->fields; -1 = geometry
                                    * (spatial ops) or fid */
    struct filter_literal *values; /* comparison: 1; BETWEEN: 2; IN: n */
    int n_values;
    int match_case;                     /* comparisons and LIKE: 1 (default) or 0 */
    char wildcard, single_char, escape; /* LIKE pattern characters, normalized to '%' '_' '\\' */
    unsigned char *wkb;                 /* spatial literal, 2D WKB, in srid, x = east/lon */
    size_t wkb_len;
    int srid;           /* CRS of the spatial literal (GEO_SRID_CRS84 for CRS84) */
    int authority_axes; /* 1: the literal is in the CRS's authority axis order
                         * (swapped at compile time when that order is lat/lon) */
    double distance;    /* DWITHIN/BEYOND, in metres (converted by the parsers) */
    int64_t *ids;       /* FOP_RESOURCE_ID: fids of this layer, set by filter_check
                         * from the ids as written (values, "layer.fid" text) */
    int n_ids;
    int by_code;       /* built by filter_and_* (field resolved): filter_check leaves it alone */
    int fold;          /* FOP_EQ/FOP_LIKE on text: both sides diacritic-folded (the store's
                        * text fold: store_set_text_fold); the literal is given folded */
    int ignore_spaces; /* FOP_EQ on text: spaces in the column do not count */
};

struct filter {
    struct filter_node *root;
    int n_nodes;
};

struct filter_limits {
    int max_depth;   /* nesting of logical operators and XML/JSON elements */
    int max_nodes;   /* nodes in the tree */
    size_t max_size; /* bytes of input */
};

/* Parsing. Each returns 0 and *out (caller frees with filter_free), or ERR_PARAM with a message
 * that says what was wrong and where (err->locator "FILTER"). default_srid applies to geometry
 * literals without a CRS (CRS84 for CQL2; the WFS request's CRS for FES). */
int filter_parse_fes(const char *xml, size_t len, const struct filter_limits *lim, int default_srid,
                     struct filter **out, struct err *err);
/* Parses an already-parsed <fes:Filter>/<ogc:Filter> element (an xmlNodePtr), as found inside
 * an SLD Rule or a WFS POST Query. */
int filter_parse_fes_node(const void *xml_node, const struct filter_limits *lim, int default_srid,
                          struct filter **out, struct err *err);
int filter_parse_cql2_text(const char *text, const struct filter_limits *lim, int default_srid,
                           struct filter **out, struct err *err);
int filter_parse_cql2_json(const char *json, size_t len, const struct filter_limits *lim,
                           int default_srid, struct filter **out, struct err *err);
/* Reads an XML document safely: no DTD (a DOCTYPE is ERR_PARAM), no entities, no network,
 * depth and size limits. *doc_out is an xmlDocPtr the caller frees with filter_xml_free. */
int filter_xml_read(const char *xml, size_t len, const struct filter_limits *lim, void **doc_out,
                    struct err *err);
void filter_xml_free(void *doc);
/* A BBOX filter on the geometry (for bbox= and BBOX= parameters combined with others). */
int filter_new_bbox(const struct bbox *b, int srid, struct filter **out, struct err *err);
/* A ResourceId filter from ids as written ("layer.12"); filter_check keeps those of its layer. */
int filter_new_resource_ids(const char *const *ids, int n, struct filter **out, struct err *err);
/* AND of two filters; takes ownership of both (either may be NULL). */
struct filter *filter_and(struct filter *a, struct filter *b);
void filter_free(struct filter *f);

/* Trees built by code (build.c): the land API's lookups, search, tiles, a feature by id. Nodes
 * name fields of layer l by index, so the caller picks fields the role may read and no
 * filter_check is needed. Each ANDs its node into *f (NULL *f starts a tree; the caller frees it
 * with filter_free); values are copied. ERR_NOMEM (*f keeps what it had), ERR_INTERNAL for a bad
 * field index, operator or value type. */
/* field op v, op one of FOP_EQ .. FOP_GE; v is VAL_INT, VAL_REAL or VAL_TEXT. */
int filter_and_compare(struct filter **f, const struct layer_def *l, int field, enum filter_op op,
                       const struct value *v);
/* field IN (v[0], ..., v[n - 1]), n >= 1. */
int filter_and_in(struct filter **f, const struct layer_def *l, int field, const struct value *v,
                  int n);
/* Text matching: op FOP_EQ or FOP_LIKE ('%' '_' pattern) with how a set of FILTER_MATCH_*. */
enum {
    FILTER_MATCH_NOCASE = 1,   /* Unicode case folding on both sides */
    FILTER_MATCH_NOSPACES = 2, /* FOP_EQ: spaces in the column ignored */
    FILTER_MATCH_FOLDED = 4    /* the column diacritic-folded; text is given folded */
};
int filter_and_text_match(struct filter **f, const struct layer_def *l, int field,
                          enum filter_op op, const char *text, int how);
/* The feature fid. */
int filter_and_fid(struct filter **f, int64_t fid);
/* FOP_MBR: the geometry's own box meets b (storage CRS). */
int filter_and_mbr(struct filter **f, const struct bbox *b);
/* FOP_MIN_EXTENT: the geometry's box is at least size wide or high (storage CRS units). */
int filter_and_min_extent(struct filter **f, double size);

/* Limits from the server configuration. */
void filter_limits_from(const struct limits *l, struct filter_limits *out);
/* 1 if name denotes the geometry property ("geom", "geometry", "the_geom", with any prefix). */
int filter_is_geom_name(const char *name);

/* Checking: resolves every property against the layer as the role sees it. An unknown property
 * and one the role may not read give the same ERR_PARAM "unknown property \"x\"" (no oracle).
 * Type-checks literals against field types; converts distances to metres. */
int filter_check(struct filter *f, const struct layer_def *layer, enum role role, struct err *err);

/* Compiling: SQL fragment over the layer's table (columns quoted from the catalog, spatial
 * predicates as SpatiaLite functions on geom with an R*Tree pre-filter) and values to bind in
 * order. Geometry literals are transformed into the storage CRS through geo. This is the SQLite /
 * SpatiaLite dialect (or PostgreSQL's: filter_compile_dialect) and only the store calls it
 * (store_query_run compiles store_query.filter): no other module holds SQL. */
/* The SQL dialect a fragment is written in (issue 24): SQLite/SpatiaLite, or PostgreSQL/PostGIS
 * (GiST `&&` instead of the R*Tree sub-select, lower() instead of spp_casefold, LIKE instead of
 * GLOB, boolean spatial predicates, true/false). */
enum filter_dialect { FILTER_DIALECT_SQLITE, FILTER_DIALECT_PG };
struct filter_sql {
    enum filter_dialect dialect; /* set by the compile call */
    struct buf sql;              /* the WHERE fragment */
    struct value *params;        /* bound in order; point into blobs/strings owned here */
    int n_params, cap_params;
    struct buf blobs; /* owned storage for transformed WKB and strings */
    void **owned;     /* other allocations freed by filter_sql_fini */
    int n_owned, cap_owned;
    /* Set by the store before compiling (NULL: none): 1 and the name of field f's folded-text
     * index in *name when the store has one: an FTS5 trigram table (rowid = fid, column t =
     * spp_fold(column)) and NAME_dirty (fid: rows written since, not in step); a fold LIKE on
     * such a field then reads the index (SQLite dialect) */
    int (*fold_index)(void *ud, const struct layer_def *l, int f, struct buf *name);
    void *fold_index_ud;
};
void filter_sql_init(struct filter_sql *out);
int filter_compile(const struct filter *f, const struct layer_def *layer, int storage_srid,
                   struct geo_ctx *geo, struct filter_sql *out, struct err *err);
void filter_sql_fini(struct filter_sql *out);
/* The same in a given dialect: the PostGIS store (store/pg) compiles with FILTER_DIALECT_PG. */
int filter_compile_dialect(const struct filter *f, const struct layer_def *layer, int storage_srid,
                           struct geo_ctx *geo, enum filter_dialect dialect, struct filter_sql *out,
                           struct err *err);

#endif
