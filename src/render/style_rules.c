/* SPDX-License-Identifier: MIT */
/* style_rules.c: what the renderer asks of a parsed style while it draws: filter matching on a
 * feature's values (the subset of the filter tree SLD rules use), the rule that applies to a
 * feature at a scale, whether a style draws at a scale, and the registry of the styles in
 * styles/ loaded once at start-up (render_styles_load) and read-only after. Parsing is in
 * style.c. Must not: read the store or parse XML itself. */
#include "render_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Rule selection. */

static const struct value *field_value(int field, const struct value *values, const int *fields,
                                       int n_fields)
{
    for (int i = 0; i < n_fields; i++)
        if (fields[i] == field) return &values[i];
    return NULL;
}

static int cmp_value(const struct value *v, const struct filter_literal *l, int match_case,
                     int *out)
{
    if (!v || v->type == VAL_NULL) return -1;
    if ((v->type == VAL_INT || v->type == VAL_REAL) && l->type != VAL_TEXT) {
        double a = v->type == VAL_INT ? (double)v->i : v->d,
               b = l->type == VAL_INT ? (double)l->i : l->d;
        *out = a < b ? -1 : a > b;
        return 0;
    }
    char num[64];
    const char *a = v->s;
    if (v->type == VAL_INT)
        snprintf(num, sizeof num, "%lld", (long long)v->i), a = num;
    else if (v->type == VAL_REAL)
        snprintf(num, sizeof num, "%.17g", v->d), a = num;
    else if (v->type != VAL_TEXT)
        return -1;
    int c = match_case ? strcmp(a, l->s) : strcasecmp(a, l->s);
    *out = c < 0 ? -1 : c > 0;
    return 0;
}

/* SQL LIKE with '%', '_' and '\\' escapes; ASCII case folding when !match_case. */
static int like_match(const char *s, const char *p, int match_case)
{
    while (*p) {
        if (*p == '%') {
            while (*p == '%')
                p++;
            if (!*p) return 1;
            for (; *s; s++)
                if (like_match(s, p, match_case)) return 1;
            return 0;
        }
        if (!*s) return 0;
        if (*p == '_') {
            s++, p++;
            continue;
        }
        if (*p == '\\' && p[1]) p++;
        char a = *s, b = *p;
        if (!match_case && a >= 'A' && a <= 'Z') a = (char)(a + 32);
        if (!match_case && b >= 'A' && b <= 'Z') b = (char)(b + 32);
        if (a != b) return 0;
        s++, p++;
    }
    return *s == '\0';
}

static int node_match(const struct filter_node *n, const struct value *values, const int *fields,
                      int n_fields)
{
    int c = 0;
    const struct value *v;
    switch (n->op) {
    case FOP_AND:
        for (int i = 0; i < n->n_children; i++)
            if (!node_match(n->children[i], values, fields, n_fields)) return 0;
        return 1;
    case FOP_OR:
        for (int i = 0; i < n->n_children; i++)
            if (node_match(n->children[i], values, fields, n_fields)) return 1;
        return 0;
    case FOP_NOT:
        return !node_match(n->children[0], values, fields, n_fields);
    case FOP_INCLUDE:
        return 1;
    case FOP_EXCLUDE:
        return 0;
    default:
        break;
    }
    v = field_value(n->field, values, fields, n_fields);
    if (n->op == FOP_ISNULL) return !v || v->type == VAL_NULL;
    if (n->op == FOP_LIKE) {
        if (!v || v->type != VAL_TEXT || n->n_values < 1) return 0;
        return like_match(v->s, n->values[0].s, n->match_case);
    }
    if (n->op == FOP_BETWEEN) {
        int lo, hi;
        return n->n_values == 2 && !cmp_value(v, &n->values[0], 1, &lo) &&
               !cmp_value(v, &n->values[1], 1, &hi) && lo >= 0 && hi <= 0;
    }
    if (n->op == FOP_IN) {
        for (int i = 0; i < n->n_values; i++)
            if (!cmp_value(v, &n->values[i], n->match_case, &c) && c == 0) return 1;
        return 0;
    }
    if (n->n_values < 1 || cmp_value(v, &n->values[0], n->match_case, &c)) return 0;
    switch (n->op) {
    case FOP_EQ:
        return c == 0;
    case FOP_NE:
        return c != 0;
    case FOP_LT:
        return c < 0;
    case FOP_LE:
        return c <= 0;
    case FOP_GT:
        return c > 0;
    case FOP_GE:
        return c >= 0;
    default:
        return 0; /* spatial operators are refused at parse time */
    }
}

int style_filter_match(const struct filter *f, const struct value *values, const int *fields,
                       int n_fields)
{
    return !f || !f->root || node_match(f->root, values, fields, n_fields);
}

static int in_scale(const struct style_rule *r, double scale)
{
    return scale >= r->min_scale && scale < r->max_scale;
}

int style_next_rule(const struct style *s, int fts, int after, const struct value *values,
                    const int *fields, int n_fields, double scale)
{
    const struct style_fts *f = &s->fts[fts];
    int matched = 0;
    for (int i = 0; i < f->n_rules; i++) {
        const struct style_rule *r = &f->rules[i];
        if (r->is_else || !in_scale(r, scale)) continue;
        if (!style_filter_match(r->filter, values, fields, n_fields)) continue;
        if (i > after) return i;
        matched = 1;
    }
    if (matched) return -1;
    for (int i = after + 1; i < f->n_rules; i++)
        if (f->rules[i].is_else && in_scale(&f->rules[i], scale)) return i;
    return -1;
}

int style_visible(const struct style *s, double scale)
{
    for (int i = 0; i < s->n_fts; i++)
        for (int j = 0; j < s->fts[i].n_rules; j++)
            if (in_scale(&s->fts[i].rules[j], scale)) return 1;
    return 0;
}

/* The registry. */

static struct style **registry;
static int n_registry;

void render_styles_free(void)
{
    style_free_all(registry, n_registry);
    registry = NULL;
    n_registry = 0;
}

int render_styles_load(const struct config *cfg, struct err *err)
{
    const struct catalog *cat = &cfg->catalog;
    struct style_limits lim;
    style_limits_default(cfg, &lim);
    lim.max_size = 16 << 20;
    render_styles_free();
    registry = calloc((size_t)cat->n_layers + 1, sizeof *registry);
    if (!registry) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < cat->n_layers; i++) {
        const struct layer_def *l = &cat->layers[i];
        char path[4096], label[512];
        const char *name = l->style ? l->style : l->id;
        snprintf(path, sizeof path, "%s/%s.sld", cfg->styles_dir, name);
        snprintf(label, sizeof label, "styles/%s.sld", name);
        size_t len = 0;
        char *xml = str_read_file(path, &len, err);
        if (!xml) return err->code ? err->code : ERR_IO;
        struct style *s = NULL;
        int rc = style_parse(xml, len, label, cat, l, ROLE_ADMIN, &lim, &s, err);
        free(xml);
        if (rc) {
            render_styles_free();
            return rc;
        }
        registry[n_registry++] = s;
    }
    return 0;
}

const struct style *render_style(const struct layer_def *layer, const char *name)
{
    int any = !name || !*name || str_ieq(name, "default");
    for (int i = 0; i < n_registry; i++) {
        const struct style *s = registry[i];
        /* by id: a data-sharing agreement's view of the catalog has its own layer_defs */
        if (s->layer != layer && (!layer || strcmp(s->layer->id, layer->id) != 0)) continue;
        if (any || strcmp(s->name, name) == 0) return s;
    }
    return NULL;
}
