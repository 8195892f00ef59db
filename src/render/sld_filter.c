/* SPDX-License-Identifier: MIT */
/* sld_filter.c: the <ogc:Filter> of an SLD rule, read with the shared FES parser of filter/
 * (filter_parse_fes_node) and checked against the layer as the caller's role sees it
 * (filter_check: a field the role may not read is the same "unknown property" as a missing
 * one). Rule filters are evaluated per feature in C (style.c) while rows stream in, so one query
 * per layer serves every rule; spatial operators and feature ids, which that evaluation does not
 * cover, are reported as unsupported with file:line. */
#include "render_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

void sld_filter_free(struct filter *f)
{
    filter_free(f);
}

static int supported(const struct filter_node *n)
{
    if (n->op >= FOP_BBOX && n->op <= FOP_RESOURCE_ID) return 0;
    if (n->op != FOP_AND && n->op != FOP_OR && n->op != FOP_NOT && n->op != FOP_INCLUDE &&
        n->op != FOP_EXCLUDE && n->field < 0)
        return 0; /* fid or geometry comparisons */
    for (int i = 0; i < n->n_children; i++)
        if (!supported(n->children[i])) return 0;
    return 1;
}

int sld_filter_parse(xmlNodePtr node, const char *source, const struct layer_def *layer,
                     enum role role, int max_nodes, struct filter **out, struct err *err)
{
    struct filter_limits lim = {
        .max_depth = 32, .max_nodes = max_nodes > 0 ? max_nodes : 1000, .max_size = 1 << 20};
    struct filter *f = NULL;
    struct err e;
    err_clear(&e);
    int rc = filter_parse_fes_node(node, &lim, 4326, &f, &e);
    if (!rc) rc = filter_check(f, layer, role, &e);
    if (!rc && !supported(f->root)) {
        rc = ERR_PARAM;
        snprintf(e.msg, sizeof e.msg,
                 "spatial and feature-id operators are not supported in"
                 " style rules");
    }
    if (rc) {
        filter_free(f);
        if (rc == ERR_NOMEM) return err_set(err, ERR_NOMEM, "out of memory");
        return err_setl(err, ERR_PARAM, "SLD", "%s:%ld: %s", source, xmlGetLineNo(node), e.msg);
    }
    *out = f;
    return 0;
}

static void walk_fields(const struct filter_node *n, void (*fn)(void *, int), void *ud)
{
    if (!n) return;
    if (n->field >= 0) fn(ud, n->field);
    for (int i = 0; i < n->n_children; i++)
        walk_fields(n->children[i], fn, ud);
}

void sld_filter_fields(const struct filter *f, void (*fn)(void *ud, int field), void *ud)
{
    if (f) walk_fields(f->root, fn, ud);
}
