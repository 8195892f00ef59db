/* SPDX-License-Identifier: MIT */
/* sld_filter.c: reads the <ogc:Filter> of an SLD rule into the shared filter tree (filter.h):
 * And, Or, Not, the binary comparisons, PropertyIsLike, PropertyIsNull, PropertyIsBetween.
 * Properties resolve against the layer as the caller's role sees it: a field the role may not
 * read is the same "unknown property" error as a missing one. Spatial operators in a style rule
 * are reported as unsupported with file:line. Rule filters are evaluated per feature in C
 * (style.c), so no SQL is built here. */
#include "render_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

struct fparse {
    const char *source;
    const struct layer_def *layer;
    enum role role;
    int max_nodes, n_nodes;
    struct err *err;
};

static int ferr(struct fparse *p, xmlNodePtr n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int ferr(struct fparse *p, xmlNodePtr n, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_setl(p->err, ERR_PARAM, "SLD", "%s:%ld: %s", p->source, xmlGetLineNo(n), msg);
}

static xmlNodePtr first_elem(xmlNodePtr n)
{
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE) return n;
    return NULL;
}

static char *node_text(xmlNodePtr n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = str_dup(t ? (const char *)t : "");
    xmlFree(t);
    /* trim */
    if (s) {
        size_t len = strlen(s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' ||
                       s[len - 1] == '\r'))
            s[--len] = '\0';
        size_t lead = strspn(s, " \n\t\r");
        if (lead) memmove(s, s + lead, len - lead + 1);
    }
    return s;
}

static struct filter_node *node_new(struct fparse *p, enum filter_op op)
{
    if (++p->n_nodes > p->max_nodes) return NULL;
    struct filter_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->op = op;
    n->field = -1;
    n->match_case = 1;
    return n;
}

static void node_free(struct filter_node *n)
{
    if (!n) return;
    for (int i = 0; i < n->n_children; i++) node_free(n->children[i]);
    free(n->children);
    free(n->property);
    for (int i = 0; i < n->n_values; i++) free(n->values[i].s);
    free(n->values);
    free(n->wkb);
    free(n->ids);
    free(n);
}

void sld_filter_free(struct filter *f)
{
    if (!f) return;
    node_free(f->root);
    free(f);
}

static int add_literal(struct filter_node *n, const char *text)
{
    struct filter_literal *v = realloc(n->values, (size_t)(n->n_values + 1) * sizeof *v);
    if (!v) return -1;
    n->values = v;
    struct filter_literal *l = &v[n->n_values++];
    memset(l, 0, sizeof *l);
    l->type = VAL_TEXT;
    l->s = str_dup(text);
    if (!l->s) return -1;
    long iv;
    double dv;
    if (!str_to_long(text, &iv)) {
        l->type = VAL_INT;
        l->i = iv;
        l->d = (double)iv;
    } else if (!str_to_double(text, &dv)) {
        l->type = VAL_REAL;
        l->d = dv;
    }
    return 0;
}

static int set_property(struct fparse *p, struct filter_node *fn, xmlNodePtr e)
{
    char *name = node_text(e);
    if (!name) return err_set(p->err, ERR_NOMEM, "out of memory");
    const char *local = strchr(name, ':') ? strchr(name, ':') + 1 : name;
    int idx = access_field_index(p->layer, local, p->role);
    if (idx < 0) {
        int rc = ferr(p, e, "unknown property \"%s\"", local);
        free(name);
        return rc;
    }
    fn->property = name;
    fn->field = idx;
    return 0;
}

/* Binary comparison, LIKE, NULL and BETWEEN: a PropertyName and literals. */
static int parse_comparison(struct fparse *p, xmlNodePtr e, struct filter_node *fn)
{
    xmlChar *mc = xmlGetProp(e, (const xmlChar *)"matchCase");
    if (mc && strcmp((const char *)mc, "false") == 0) fn->match_case = 0;
    xmlFree(mc);
    for (xmlNodePtr c = first_elem(e->children); c; c = first_elem(c->next)) {
        const char *name = (const char *)c->name;
        if (strcmp(name, "PropertyName") == 0 || strcmp(name, "ValueReference") == 0) {
            if (fn->property) return ferr(p, c, "%s", "two property names in one comparison");
            int rc = set_property(p, fn, c);
            if (rc) return rc;
        } else if (strcmp(name, "Literal") == 0 || strcmp(name, "LowerBoundary") == 0 ||
                   strcmp(name, "UpperBoundary") == 0) {
            char *t = node_text(c);
            int rc = !t || add_literal(fn, t);
            free(t);
            if (rc) return err_set(p->err, ERR_NOMEM, "out of memory");
        } else {
            return ferr(p, c, "unsupported element <%s> in a rule filter", name);
        }
    }
    if (!fn->property) return ferr(p, e, "<%s> needs a PropertyName", (const char *)e->name);
    int want = fn->op == FOP_ISNULL ? 0 : fn->op == FOP_BETWEEN ? 2 : 1;
    if (fn->n_values != want)
        return ferr(p, e, "<%s> has the wrong number of literals", (const char *)e->name);
    return 0;
}

/* Converts a LIKE pattern to '%' '_' '\\' in place. */
static int parse_like(struct fparse *p, xmlNodePtr e, struct filter_node *fn)
{
    int rc = parse_comparison(p, e, fn);
    if (rc) return rc;
    const char *attrs[3] = {"wildCard", "singleChar", "escape"};
    const char *alt[3] = {"wildcard", "singlechar", "escapeChar"};
    char chars[3] = {'*', '.', '!'};
    for (int i = 0; i < 3; i++) {
        xmlChar *v = xmlGetProp(e, (const xmlChar *)attrs[i]);
        if (!v) v = xmlGetProp(e, (const xmlChar *)alt[i]);
        if (v && strlen((const char *)v) == 1) chars[i] = (char)v[0];
        else if (v) {
            xmlFree(v);
            return ferr(p, e, "%s must be one character", attrs[i]);
        }
        xmlFree(v);
    }
    struct filter_literal *l = &fn->values[0];
    if (l->type != VAL_TEXT) l->type = VAL_TEXT;
    struct buf b;
    buf_init(&b);
    for (const char *s = l->s; *s; s++) {
        if (*s == chars[2] && s[1]) {
            s++;
            if (*s == '%' || *s == '_' || *s == '\\') buf_putc(&b, '\\');
            buf_putc(&b, *s);
        } else if (*s == chars[0]) buf_putc(&b, '%');
        else if (*s == chars[1]) buf_putc(&b, '_');
        else if (*s == '%' || *s == '_' || *s == '\\') buf_putc(&b, '\\'), buf_putc(&b, *s);
        else buf_putc(&b, *s);
    }
    free(l->s);
    l->s = buf_take(&b, NULL);
    fn->wildcard = '%', fn->single_char = '_', fn->escape = '\\';
    return l->s ? 0 : err_set(p->err, ERR_NOMEM, "out of memory");
}

static const struct {
    const char *name;
    enum filter_op op;
} ops[] = {
    {"And", FOP_AND},
    {"Or", FOP_OR},
    {"Not", FOP_NOT},
    {"PropertyIsEqualTo", FOP_EQ},
    {"PropertyIsNotEqualTo", FOP_NE},
    {"PropertyIsLessThan", FOP_LT},
    {"PropertyIsLessThanOrEqualTo", FOP_LE},
    {"PropertyIsGreaterThan", FOP_GT},
    {"PropertyIsGreaterThanOrEqualTo", FOP_GE},
    {"PropertyIsLike", FOP_LIKE},
    {"PropertyIsNull", FOP_ISNULL},
    {"PropertyIsBetween", FOP_BETWEEN},
};

static int parse_node(struct fparse *p, xmlNodePtr e, int depth, struct filter_node **out)
{
    if (depth > 32) return ferr(p, e, "%s", "filter nested too deeply");
    int k = -1;
    for (int i = 0; i < (int)ARRAY_LEN(ops); i++)
        if (strcmp((const char *)e->name, ops[i].name) == 0) k = i;
    if (k < 0) return ferr(p, e, "unsupported filter element <%s>", (const char *)e->name);
    struct filter_node *fn = node_new(p, ops[k].op);
    if (!fn) return ferr(p, e, "%s", "filter too large");
    int rc = 0;
    if (fn->op == FOP_AND || fn->op == FOP_OR || fn->op == FOP_NOT) {
        for (xmlNodePtr c = first_elem(e->children); c && !rc; c = first_elem(c->next)) {
            struct filter_node *child = NULL;
            rc = parse_node(p, c, depth + 1, &child);
            if (rc) break;
            struct filter_node **ch =
                realloc(fn->children, (size_t)(fn->n_children + 1) * sizeof *ch);
            if (!ch) {
                node_free(child);
                rc = err_set(p->err, ERR_NOMEM, "out of memory");
                break;
            }
            fn->children = ch;
            ch[fn->n_children++] = child;
        }
        if (!rc && (fn->n_children == 0 || (fn->op == FOP_NOT && fn->n_children != 1)))
            rc = ferr(p, e, "<%s> has the wrong number of operands", (const char *)e->name);
    } else if (fn->op == FOP_LIKE) {
        rc = parse_like(p, e, fn);
    } else {
        rc = parse_comparison(p, e, fn);
    }
    if (rc) {
        node_free(fn);
        return rc;
    }
    *out = fn;
    return 0;
}

int sld_filter_parse(xmlNodePtr node, const char *source, const struct layer_def *layer,
                     enum role role, int max_nodes, struct filter **out, struct err *err)
{
    struct fparse p = {source, layer, role, max_nodes > 0 ? max_nodes : 1000, 0, err};
    xmlNodePtr e = first_elem(node->children);
    if (!e) return ferr(&p, node, "%s", "empty Filter");
    if (first_elem(e->next)) return ferr(&p, node, "%s", "Filter holds more than one operator");
    struct filter *f = calloc(1, sizeof *f);
    if (!f) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = parse_node(&p, e, 0, &f->root);
    if (rc) {
        free(f);
        return rc;
    }
    f->n_nodes = p.n_nodes;
    *out = f;
    return 0;
}

static void walk_fields(const struct filter_node *n, void (*fn)(void *, int), void *ud)
{
    if (!n) return;
    if (n->field >= 0) fn(ud, n->field);
    for (int i = 0; i < n->n_children; i++) walk_fields(n->children[i], fn, ud);
}

void sld_filter_fields(const struct filter *f, void (*fn)(void *ud, int field), void *ud)
{
    if (f) walk_fields(f->root, fn, ud);
}
