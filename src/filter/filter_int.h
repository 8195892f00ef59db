/* SPDX-License-Identifier: MIT */
/* filter_int.h: what the filter's own files share: node construction, literal helpers, the
 * geometry-literal builder and the parse context with its limits. */
#ifndef SPP_FILTER_INT_H
#define SPP_FILTER_INT_H

#include "filter.h"

/* Parse context: limits and counters shared by the three parsers. */
struct fctx {
    const struct filter_limits *lim;
    int n_nodes;
    int default_srid;
    struct err *err;
};

/* Nodes. */
struct filter_node *fnode_new(struct fctx *c, enum filter_op op);
void fnode_free(struct filter_node *n);
int fnode_add_child(struct filter_node *n, struct filter_node *child);
/* Appends a literal (takes ownership of v->s). */
int fnode_add_value(struct filter_node *n, struct filter_literal *v);
int fnode_set_property(struct filter_node *n, const char *name, size_t len);
/* Literal from text as written: number if it parses as one, text otherwise (owned copy). */
int flit_text(struct filter_literal *v, const char *s, size_t len);
int flit_number_or_text(struct filter_literal *v, const char *s, size_t len);
/* Wraps a root node into a struct filter (NULL on ERR_NOMEM: root freed). */
struct filter *fwrap(struct fctx *c, struct filter_node *root);
/* Distance in metres from a value and a unit name (NULL = metres); -1 for an unknown unit. */
double funits_to_m(double v, const char *unit);

/* Geometry literals: parts appended into a struct geom, then WKB into the node. */
int fgeom_add_part(struct geom *g, int ring, const double *xy, int n);
int fgeom_to_node(struct fctx *c, struct geom *g, struct filter_node *n);
/* Envelope polygon (5 points) in g. */
int fgeom_envelope(struct geom *g, double minx, double miny, double maxx, double maxy);

/* Spatial operator by FES/CQL2 name (case-insensitive, without "S_"), -1 if none. */
int fop_spatial_by_name(const char *name, size_t len);

#endif
