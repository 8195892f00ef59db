/* SPDX-License-Identifier: MIT */
/* csw_int.h: what csw.c (the CSW requests and answers) and csw_filter.c (the constraint tree:
 * OGC Filter 1.1 and CQL text parsed into it, evaluated per record) share. Inside src/meta/
 * only. */
#ifndef SPP_META_CSW_INT_H
#define SPP_META_CSW_INT_H

#include <libxml/tree.h>

#include "../geo/geo.h"
#include "meta_int.h"

#define MAX_CQ 64 /* nodes of one constraint */

enum cq_kind { CQ_AND, CQ_OR, CQ_NOT, CQ_LIKE, CQ_EQ, CQ_BBOX };
enum cq_prop { P_ANYTEXT, P_TITLE, P_ABSTRACT, P_SUBJECT, P_IDENTIFIER, P_TYPE, P_FORMAT, P_N };

struct cq {
    enum cq_kind kind;
    enum cq_prop prop;
    char *text; /* folded pattern or value (owned) */
    char wild, single, esc;
    int contains;    /* LIKE without wildcards: substring */
    struct bbox box; /* CRS84 */
    int kids[8];
    int n_kids;
};

struct cq_tree {
    struct cq n[MAX_CQ];
    int count;
    int root; /* -1: no constraint */
};

/* One record's searchable text, folded: per queryable, a list of values. */
struct rec_text {
    char *v[P_N][48];
    int n[P_N];
};

/* An error with its CSW exception code (ogc_code) and locator; returns code. The first error
 * is kept. */
int meta_csw_fail(struct err *err, enum err_code code, const char *ogc_code, const char *locator,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The constraint tree (csw_filter.c). */
void meta_cq_free(struct cq_tree *t);
/* Parses an OGC Filter 1.1 element into t. ERR_PARAM (CSW code) for what is not understood. */
int meta_cq_parse_filter(struct cq_tree *t, xmlNodePtr filter, struct err *err);
/* Parses CQL text into t. ERR_PARAM. */
int meta_cq_parse_cql(struct cq_tree *t, const char *text, struct err *err);
/* Fills rt with r's searchable text, folded (caller finis). ERR_NOMEM. */
int meta_rec_text_fill(struct rec_text *rt, const struct meta_record *r, struct err *err);
void meta_rec_text_fini(struct rec_text *rt);
/* 1 when node i of t matches record r (rt: its text). */
int meta_cq_eval(const struct cq_tree *t, int i, const struct meta_record *r,
                 const struct rec_text *rt);

/* libxml2 helpers: the element's local name; its text (caller frees, NULL on ERR_NOMEM); its
 * first child element of that local name; an attribute's value (caller frees, NULL if absent). */
const char *meta_xml_name(xmlNodePtr n);
char *meta_xml_text(xmlNodePtr n);
xmlNodePtr meta_xml_child(xmlNodePtr n, const char *name);
char *meta_xml_attr(xmlNodePtr n, const char *name);

#endif
