/* SPDX-License-Identifier: MIT */
/* access.c: the one place that decides what a role may read (DESIGN.md security model). Every
 * output path (WMS, WFS, OGC API, tiles, CSV, the land API, capabilities) asks here. */
#include "config.h"

#include <string.h>

int access_layer(const struct layer_def *layer, enum role role)
{
    return layer && role >= layer->min_role;
}

int access_field(const struct layer_def *layer, int field, enum role role)
{
    if (!access_layer(layer, role) || field < 0 || field >= layer->n_fields) return 0;
    return role >= layer->fields[field].role;
}

int access_field_index(const struct layer_def *layer, const char *name, enum role role)
{
    int i = layer_field_index(layer, name);
    return access_field(layer, i, role) ? i : -1;
}

int access_row_rule(const struct layer_def *layer, enum role role, int *field,
                    const struct value **value)
{
    if (!layer || layer->row_field < 0 || role >= layer->row_exempt) return 0;
    *field = layer->row_field;
    *value = &layer->row_value;
    return 1;
}

int access_edit(const struct layer_def *layer, enum role role)
{
    return layer && role != ROLE_PUBLIC && role < ROLE_COUNT && access_layer(layer, role) &&
           (layer->edit_roles & (1u << role));
}

int access_edit_row(const struct layer_def *layer, enum role role, const struct value *v)
{
    int field;
    const struct value *want;
    if (!access_row_rule(layer, role, &field, &want)) return 1;
    if (!v || v->type == VAL_NULL) return 0;
    if (want->type == VAL_TEXT) return v->type == VAL_TEXT && v->s && strcmp(v->s, want->s) == 0;
    return v->type == VAL_INT && v->i == want->i;
}

int access_any_edit(const struct catalog *cat)
{
    for (int i = 0; cat && i < cat->n_layers; i++)
        if (cat->layers[i].edit_roles) return 1;
    return 0;
}

/* ---- sharing agreements (issue 21) ---- */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* In a comma list? */
static int in_list(const char *list, const char *item, size_t item_len)
{
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == item_len && strncmp(p, item, n) == 0) return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static int field_in(const char *fields, const struct layer_def *l, const char *field)
{
    char want[256];
    int n = snprintf(want, sizeof want, "%s.%s", l->id, field);
    return n > 0 && (size_t)n < sizeof want && in_list(fields, want, (size_t)n);
}

/* 1 if fields lists any field of l. */
static int layer_has_fields(const char *fields, const struct layer_def *l)
{
    size_t n = strlen(l->id);
    for (const char *p = fields; p && *p;) {
        if (strncmp(p, l->id, n) == 0 && p[n] == '.') return 1;
        p = strchr(p, ',');
        if (p) p++;
    }
    return 0;
}

int access_agreement_check(const struct catalog *cat, const char *layers, const char *fields,
                           enum role *needed, struct err *err)
{
    *needed = ROLE_PUBLIC;
    char item[256];
    for (const char *p = layers; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(item, sizeof item, "%.*s", (int)(n < sizeof item ? n : sizeof item - 1), p);
        const struct layer_def *l = catalog_layer(cat, item);
        if (!l) return err_set(err, ERR_PARAM, "--layers: no layer \"%s\"", item);
        if (l->min_role > *needed) *needed = l->min_role;
        p = end ? end + 1 : NULL;
    }
    for (const char *p = fields; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(item, sizeof item, "%.*s", (int)(n < sizeof item ? n : sizeof item - 1), p);
        char *dot = strchr(item, '.');
        if (!dot) return err_set(err, ERR_PARAM, "--fields: \"%s\" is not LAYER.FIELD", item);
        *dot = '\0';
        const struct layer_def *l = catalog_layer(cat, item);
        if (!l) return err_set(err, ERR_PARAM, "--fields: no layer \"%s\"", item);
        if (layers && *layers && !in_list(layers, item, strlen(item)))
            return err_set(err, ERR_PARAM, "--fields: layer \"%s\" is not in --layers", item);
        int f = layer_field_index(l, dot + 1);
        if (f < 0)
            return err_set(err, ERR_PARAM, "--fields: layer %s has no field \"%s\"", item, dot + 1);
        if (l->fields[f].role > *needed) *needed = l->fields[f].role;
        if (l->min_role > *needed) *needed = l->min_role;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* One "layer.field=value" of a row filter: the layer, the field index and the value (text in
 * out_text, owned by the caller's buffer). 0 or ERR_PARAM. */
static int parse_row(const struct catalog *cat, const char *item, size_t n,
                     const struct layer_def **l, int *field, struct value *v, char *text,
                     size_t text_size, struct err *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), item);
    char *dot = strchr(buf, '.'), *eq = strchr(buf, '=');
    if (!dot || !eq || eq < dot)
        return err_set(err, ERR_PARAM, "--rows: \"%s\" is not LAYER.FIELD=VALUE", buf);
    *dot = *eq = '\0';
    *l = catalog_layer(cat, buf);
    if (!*l) return err_set(err, ERR_PARAM, "--rows: no layer \"%s\"", buf);
    *field = layer_field_index(*l, dot + 1);
    if (*field < 0)
        return err_set(err, ERR_PARAM, "--rows: layer %s has no field \"%s\"", buf, dot + 1);
    const struct field_def *f = &(*l)->fields[*field];
    if (f->role != ROLE_PUBLIC)
        return err_set(err, ERR_PARAM, "--rows: %s.%s is not readable by every role", buf, dot + 1);
    const char *val = eq + 1;
    char *end = NULL;
    if (f->type == FT_BOOLEAN) {
        int t = !strcmp(val, "true") || !strcmp(val, "1");
        if (!t && strcmp(val, "false") && strcmp(val, "0"))
            return err_set(err, ERR_PARAM, "--rows: %s.%s wants true or false", buf, dot + 1);
        *v = (struct value){.type = VAL_INT, .i = t};
    } else if (f->type == FT_INTEGER) {
        long long i = strtoll(val, &end, 10);
        if (!*val || *end)
            return err_set(err, ERR_PARAM, "--rows: %s.%s wants an integer", buf, dot + 1);
        *v = (struct value){.type = VAL_INT, .i = i};
    } else if (f->type == FT_TEXT) {
        snprintf(text, text_size, "%s", val);
        *v = (struct value){.type = VAL_TEXT, .s = text, .len = (int)strlen(text)};
    } else {
        return err_set(err, ERR_PARAM, "--rows: %s.%s is not a text, integer or boolean field", buf,
                       dot + 1);
    }
    return 0;
}

int access_agreement_check_rows(const struct catalog *cat, const char *layers, const char *rows,
                                enum role role, struct err *err)
{
    const char *seen[64];
    int n_seen = 0;
    for (const char *p = rows; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const struct layer_def *l;
        int field;
        struct value v;
        char text[256];
        int rc = parse_row(cat, p, n, &l, &field, &v, text, sizeof text, err);
        if (rc) return rc;
        if (layers && *layers && !in_list(layers, l->id, strlen(l->id)))
            return err_set(err, ERR_PARAM, "--rows: layer \"%s\" is not in --layers", l->id);
        for (int i = 0; i < n_seen; i++)
            if (!strcmp(seen[i], l->id))
                return err_set(err, ERR_PARAM, "--rows: one filter per layer (%s)", l->id);
        if (n_seen < 64) seen[n_seen++] = l->id;
        if (l->row_field >= 0 && role < l->row_exempt)
            return err_set(err, ERR_PARAM,
                           "--rows: layer %s already has a row rule for role %s (%s)", l->id,
                           role_name(role), l->fields[l->row_field].name);
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int access_agreement_expired(const char *expires)
{
    if (!expires || !*expires) return 0;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char today[16];
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    return strcmp(today, expires) > 0; /* the expiry day itself is still valid */
}

/* The scoped views, one per key and settings generation, built on first use and kept until exit
 * (like the settings generations they are made from). A short list behind a mutex: a request
 * with a scoped key looks its view up once. */
static pthread_mutex_t scope_lock = PTHREAD_MUTEX_INITIALIZER;
static struct access_scope *scopes;

static int build_view(struct access_scope *sc, const struct config *base)
{
    sc->cfg = *base;
    const struct catalog *cat = &base->catalog;
    struct layer_def *layers = calloc((size_t)cat->n_layers + 1, sizeof *layers);
    if (!layers) return ERR_NOMEM;
    for (int i = 0; i < cat->n_layers; i++) {
        const struct layer_def *l = &cat->layers[i];
        layers[i] = *l;
        if (sc->layers[0] && !in_list(sc->layers, l->id, strlen(l->id))) {
            layers[i].min_role = ROLE_CLOSED;
            continue;
        }
        /* the agreement's row filter of this layer: its row rule for every role */
        for (const char *p = sc->rows; *p;) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            const struct layer_def *rl;
            int field;
            struct value v;
            char *text = calloc(1, 256);
            if (!text) {
                free(layers);
                return ERR_NOMEM;
            }
            size_t idl = strlen(l->id);
            if (parse_row(&base->catalog, p, n, &rl, &field, &v, text, 256, NULL) == 0) {
                if (!strcmp(rl->id, l->id)) {
                    layers[i].row_field = field;
                    layers[i].row_value = v; /* text kept with the view until exit */
                    layers[i].row_exempt = ROLE_CLOSED;
                } else {
                    free(text);
                }
            } else {
                free(text);
                /* a stored row filter of this layer that no longer fits the catalog (a field
                 * renamed or retyped since the key was made) fails closed: the layer is hidden
                 * from the key, never shown unfiltered */
                if (n > idl && !strncmp(p, l->id, idl) && p[idl] == '.') {
                    layers[i].min_role = ROLE_CLOSED;
                    log_msg("warn",
                            "key agreement %s: row filter \"%.*s\" no longer fits the catalog; "
                            "%s is hidden from the key",
                            sc->agency[0] ? sc->agency : "?", (int)n, p, l->id);
                }
            }
            p = end ? end + 1 : "";
        }
        if (!layer_has_fields(sc->fields, l)) continue;
        struct field_def *f = calloc((size_t)l->n_fields + 1, sizeof *f);
        if (!f) {
            free(layers);
            return ERR_NOMEM;
        }
        for (int k = 0; k < l->n_fields; k++) {
            f[k] = l->fields[k];
            if (!field_in(sc->fields, l, l->fields[k].name)) f[k].role = ROLE_CLOSED;
        }
        layers[i].fields = f;
    }
    sc->cfg.catalog.layers = layers;
    return 0;
}

int access_scope_get(const struct config *base, int64_t key_id, const char *agency,
                     const char *layers, const char *fields, const char *rows,
                     const struct access_scope **out, struct err *err)
{
    *out = NULL;
    pthread_mutex_lock(&scope_lock);
    struct access_scope *sc;
    for (sc = scopes; sc; sc = sc->next)
        if (sc->base == base && sc->key_id == key_id && !strcmp(sc->layers, layers) &&
            !strcmp(sc->fields, fields) && !strcmp(sc->rows, rows))
            break;
    int rc = 0;
    if (!sc && (sc = calloc(1, sizeof *sc))) {
        sc->base = base;
        sc->key_id = key_id;
        snprintf(sc->agency, sizeof sc->agency, "%s", agency);
        snprintf(sc->layers, sizeof sc->layers, "%s", layers);
        snprintf(sc->fields, sizeof sc->fields, "%s", fields);
        snprintf(sc->rows, sizeof sc->rows, "%s", rows);
        if (build_view(sc, base)) {
            free(sc);
            sc = NULL;
        } else {
            sc->next = scopes;
            scopes = sc;
        }
    }
    if (!sc) rc = err_set(err, ERR_NOMEM, "out of memory");
    pthread_mutex_unlock(&scope_lock);
    *out = sc;
    return rc;
}

/* ERR_FORBIDDEN with status 403 naming what is outside the agreement. */
static int outside(const struct access_scope *sc, struct err *err, const char *what,
                   const char *name)
{
    err_set(err, ERR_FORBIDDEN,
            "%s \"%s\" is outside the data-sharing agreement of %s (layers: %s; fields: %s%s%s)",
            what, name, sc->agency[0] ? sc->agency : "this key", sc->layers[0] ? sc->layers : "all",
            sc->fields[0] ? sc->fields : "all the key's role may read",
            sc->rows[0] ? "; rows: " : "", sc->rows);
    err->http_status = 403;
    return ERR_FORBIDDEN;
}

/* Each name of a comma (or space, or parenthesised) list, with a "prefix:" dropped. */
static int each_name(const char *list, int (*fn)(void *ud, const char *name), void *ud)
{
    char name[160];
    size_t n = 0;
    for (const char *p = list;; p++) {
        int sep = !*p || *p == ',' || *p == ' ' || *p == '(' || *p == ')' || *p == '+';
        if (!sep && n + 1 < sizeof name) {
            name[n++] = *p;
            if (*p == ':') n = 0; /* spp:roads */
            continue;
        }
        if (n) {
            name[n] = '\0';
            if (name[0] == '-') memmove(name, name + 1, n);
            int rc = fn(ud, name);
            if (rc) return rc;
        }
        n = 0;
        if (!*p) return 0;
    }
}

struct refuse_ctx {
    const struct access_scope *sc;
    enum role role;
    struct err *err;
};

static int refuse_layer(void *ud, const char *name)
{
    struct refuse_ctx *c = ud;
    const struct layer_def *l = catalog_layer(&c->sc->base->catalog, name);
    /* only a layer the key's role could read: a hidden one stays "unknown" */
    if (l && access_layer(l, c->role) &&
        !access_layer(catalog_layer(&c->sc->cfg.catalog, name), c->role))
        return outside(c->sc, c->err, "layer", name);
    return 0;
}

static int refuse_field(void *ud, const char *name)
{
    struct refuse_ctx *c = ud;
    const struct catalog *base = &c->sc->base->catalog, *view = &c->sc->cfg.catalog;
    for (int i = 0; i < base->n_layers; i++) {
        const struct layer_def *l = &base->layers[i];
        int f = layer_field_index(l, name);
        if (f < 0 || !access_field(l, f, c->role) || !access_layer(&view->layers[i], c->role))
            continue;
        if (!access_field(&view->layers[i], f, c->role)) {
            char full[256];
            snprintf(full, sizeof full, "%s.%s", l->id, name);
            return outside(c->sc, c->err, "field", full);
        }
    }
    return 0;
}

int access_scope_refuse(const struct access_scope *sc, const struct request *req, struct err *err)
{
    if (!sc) return 0;
    struct refuse_ctx c = {sc, req->role, err};
    static const char *const layer_args[] = {"typeName",     "typeNames", "layers",
                                             "query_layers", "layer",     "collections"};
    static const char *const field_args[] = {"properties", "propertyName", "sortby", "sortBy"};
    int rc = 0;
    for (int i = 0; i < req->n_params && !rc; i++)
        if (!strcmp(req->param_names[i], "layer") || !strcmp(req->param_names[i], "layers"))
            rc = each_name(req->params[i], refuse_layer, &c);
    for (int i = 0; i < req->n_args && !rc; i++) {
        for (size_t k = 0; k < sizeof layer_args / sizeof *layer_args && !rc; k++)
            if (!strcasecmp(req->args[i].key, layer_args[k]))
                rc = each_name(req->args[i].value, refuse_layer, &c);
        for (size_t k = 0; k < sizeof field_args / sizeof *field_args && !rc; k++)
            if (!strcasecmp(req->args[i].key, field_args[k]))
                rc = each_name(req->args[i].value, refuse_field, &c);
    }
    return rc;
}
