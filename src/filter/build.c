/* SPDX-License-Identifier: MIT */
/* build.c: filter trees built by code rather than parsed from a request: the land API's
 * attribute lookups, the web app's search, the tiles' low-zoom size cut, OGC API's feature by
 * id. Nodes name catalog fields by index (the caller picked fields the role may read), so they
 * need no filter_check; each constructor ANDs its node into a tree the store compiles like any
 * other (compile.c). Values are copied into the tree. */
#include "filter_int.h"

#include <stdlib.h>
#include <string.h>

/* ANDs n into *f (a NULL *f starts a tree with an AND root); frees n on failure. */
static int and_node(struct filter **f, struct filter_node *n)
{
    if (!n) return ERR_NOMEM;
    n->by_code = 1;
    if (!*f) {
        struct filter_node *root = fnode_new(NULL, FOP_AND);
        struct filter *nf = root ? calloc(1, sizeof *nf) : NULL;
        if (!nf) {
            fnode_free(root);
            fnode_free(n);
            return ERR_NOMEM;
        }
        root->by_code = 1;
        nf->root = root;
        nf->n_nodes = 1;
        *f = nf;
    } else if ((*f)->root->op != FOP_AND || !(*f)->root->by_code) {
        struct filter_node *root = fnode_new(NULL, FOP_AND);
        if (!root || fnode_add_child(root, (*f)->root)) {
            fnode_free(root);
            fnode_free(n);
            return ERR_NOMEM;
        }
        root->by_code = 1;
        (*f)->root = root;
        (*f)->n_nodes++;
    }
    if (fnode_add_child((*f)->root, n)) {
        fnode_free(n);
        return ERR_NOMEM;
    }
    (*f)->n_nodes++;
    return 0;
}

static int add_value(struct filter_node *n, const struct value *v)
{
    struct filter_literal lit = {.type = v->type};
    switch (v->type) {
    case VAL_INT:
        lit.i = v->i, lit.d = (double)v->i;
        break;
    case VAL_REAL:
        lit.d = v->d;
        break;
    case VAL_TEXT: {
        size_t len = v->len >= 0 ? (size_t)v->len : strlen(v->s);
        if (!(lit.s = malloc(len + 1))) return ERR_NOMEM;
        memcpy(lit.s, v->s, len);
        lit.s[len] = '\0';
        break;
    }
    default:
        return ERR_INTERNAL; /* NULL and BLOB literals are not compared */
    }
    int rc = fnode_add_value(n, &lit);
    if (rc) free(lit.s);
    return rc ? ERR_NOMEM : 0;
}

static int field_ok(const struct layer_def *l, int field)
{
    return l && field >= 0 && field < l->n_fields;
}

int filter_and_compare(struct filter **f, const struct layer_def *l, int field, enum filter_op op,
                       const struct value *v)
{
    if (!field_ok(l, field) || op < FOP_EQ || op > FOP_GE) return ERR_INTERNAL;
    struct filter_node *n = fnode_new(NULL, op);
    if (!n) return ERR_NOMEM;
    n->field = field;
    int rc = add_value(n, v);
    if (rc) {
        fnode_free(n);
        return rc;
    }
    return and_node(f, n);
}

int filter_and_in(struct filter **f, const struct layer_def *l, int field, const struct value *v,
                  int n_values)
{
    if (!field_ok(l, field) || n_values < 1) return ERR_INTERNAL;
    struct filter_node *n = fnode_new(NULL, FOP_IN);
    if (!n) return ERR_NOMEM;
    n->field = field;
    int rc = 0;
    for (int i = 0; i < n_values && !rc; i++)
        rc = add_value(n, &v[i]);
    if (rc) {
        fnode_free(n);
        return rc;
    }
    return and_node(f, n);
}

int filter_and_text_match(struct filter **f, const struct layer_def *l, int field,
                          enum filter_op op, const char *text, int how)
{
    if (!field_ok(l, field) || (op != FOP_EQ && op != FOP_LIKE) || !text) return ERR_INTERNAL;
    struct filter_node *n = fnode_new(NULL, op);
    if (!n) return ERR_NOMEM;
    n->field = field;
    n->match_case = !(how & FILTER_MATCH_NOCASE);
    n->ignore_spaces = (how & FILTER_MATCH_NOSPACES) != 0;
    n->fold = (how & FILTER_MATCH_FOLDED) != 0;
    struct value v = {.type = VAL_TEXT, .s = text, .len = -1};
    int rc = add_value(n, &v);
    if (rc) {
        fnode_free(n);
        return rc;
    }
    return and_node(f, n);
}

int filter_and_fid(struct filter **f, int64_t fid)
{
    struct filter_node *n = fnode_new(NULL, FOP_RESOURCE_ID);
    if (!n) return ERR_NOMEM;
    if (!(n->ids = malloc(sizeof *n->ids))) {
        fnode_free(n);
        return ERR_NOMEM;
    }
    n->ids[0] = fid;
    n->n_ids = 1;
    return and_node(f, n);
}

/* A node with real values (storage CRS coordinates or sizes). */
static int and_reals(struct filter **f, enum filter_op op, const double *d, int n_values)
{
    struct filter_node *n = fnode_new(NULL, op);
    if (!n) return ERR_NOMEM;
    int rc = 0;
    for (int i = 0; i < n_values && !rc; i++) {
        struct value v = {.type = VAL_REAL, .d = d[i]};
        rc = add_value(n, &v);
    }
    if (rc) {
        fnode_free(n);
        return rc;
    }
    return and_node(f, n);
}

int filter_and_mbr(struct filter **f, const struct bbox *b)
{
    double d[4] = {b->minx, b->miny, b->maxx, b->maxy};
    return and_reals(f, FOP_MBR, d, 4);
}

int filter_and_min_extent(struct filter **f, double size)
{
    return and_reals(f, FOP_MIN_EXTENT, &size, 1);
}
