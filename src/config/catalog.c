/* SPDX-License-Identifier: MIT */
/* catalog.c: loads the 24 layer definitions (layers/NAME.json), the common fields
 * (layers/common.json) and the code lists (layers/codelists/NAME.json) into immutable structs, and
 * rejects anything malformed with "file: path: message" so a broken catalog stops start-up. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    const char *file; /* base name for messages */
    struct err *err;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *path, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->err, ERR_PARAM, "%s: %s: %s", c->file, path, msg);
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int check_keys(struct ctx *c, const char *path, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0) ok = 1;
        if (!ok) return fail(c, path, "unknown key \"%s\"", key);
    }
    return 0;
}

static int get_str(struct ctx *c, const char *path, json_t *obj, const char *key, int required,
                   char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) return fail(c, path, "missing \"%s\"", key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fail(c, path, "\"%s\" must be a non-empty string", key);
    *out = str_dup(json_string_value(v));
    return *out ? 0 : err_set(c->err, ERR_NOMEM, "out of memory");
}

/* {"vi": "...", "en": "..."} */
static int get_text2(struct ctx *c, const char *path, json_t *obj, const char *key, int required,
                     char **vi, char **en)
{
    json_t *v = json_object_get(obj, key);
    *vi = *en = NULL;
    if (!v) return required ? fail(c, path, "missing \"%s\"", key) : 0;
    char sub[160];
    snprintf(sub, sizeof sub, "%s.%s", path, key);
    if (!json_is_object(v)) return fail(c, sub, "must be an object {\"vi\", \"en\"}");
    static const char *const keys[] = {"vi", "en", NULL};
    int rc;
    if ((rc = check_keys(c, sub, v, keys))) return rc;
    if ((rc = get_str(c, sub, v, "vi", 1, vi))) return rc;
    return get_str(c, sub, v, "en", 1, en);
}

static int valid_ident(const char *s)
{
    if (!s || !islower((unsigned char)s[0])) return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (!islower((unsigned char)s[n]) && !isdigit((unsigned char)s[n]) && s[n] != '_') return 0;
    return n <= 63;
}

static int parse_color(const char *s, uint32_t *rgb)
{
    if (!s || s[0] != '#' || strlen(s) != 7) return -1;
    uint32_t v = 0;
    for (int i = 1; i < 7; i++) {
        int ch = tolower((unsigned char)s[i]), d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else
            return -1;
        v = v * 16 + (uint32_t)d;
    }
    *rgb = v;
    return 0;
}

const char *role_name(enum role r)
{
    static const char *const names[] = {"public", "investor", "planner", "editor", "admin"};
    return (unsigned)r < ROLE_COUNT ? names[r] : "public";
}

int role_parse(const char *s, enum role *out)
{
    for (int r = 0; r < ROLE_COUNT; r++)
        if (s && strcmp(s, role_name((enum role)r)) == 0) {
            *out = (enum role)r;
            return 0;
        }
    return -1;
}

static const char *const geom_names[] = {NULL,         "POINT",           "LINESTRING",  "POLYGON",
                                         "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON"};
static const char *const type_names[] = {"text", "integer", "real", "date", "boolean"};

const char *geom_type_name(enum geom_type t)
{
    return (t >= GT_POINT && t <= GT_MULTIPOLYGON) ? geom_names[t] : "GEOMETRY";
}

const char *field_type_name(enum field_type t)
{
    return (unsigned)t < ARRAY_LEN(type_names) ? type_names[t] : "text";
}

/* ---- code lists ---- */

static void codelist_fini(struct codelist *cl)
{
    for (int i = 0; i < cl->n_codes; i++) {
        struct code_def *d = &cl->codes[i];
        free(d->code), free(d->scheme), free(d->name_vi), free(d->name_en), free(d->parent),
            free(d->group);
        for (int k = 0; k < d->n_aliases; k++)
            free(d->aliases[k]);
        free(d->aliases);
    }
    for (int i = 0; i < cl->n_crosswalk; i++) {
        struct crosswalk_def *x = &cl->crosswalk[i];
        free(x->from), free(x->to), free(x->from_scheme), free(x->to_scheme);
    }
    free(cl->codes), free(cl->crosswalk), free(cl->id), free(cl->title_vi), free(cl->title_en);
    memset(cl, 0, sizeof *cl);
}

static int load_code(struct ctx *c, const char *path, json_t *o, struct code_def *d)
{
    static const char *const keys[] = {"code",  "scheme", "name",    "parent",
                                       "group", "color",  "aliases", NULL};
    int rc;
    if (!json_is_object(o)) return fail(c, path, "must be an object");
    if ((rc = check_keys(c, path, o, keys))) return rc;
    if ((rc = get_str(c, path, o, "code", 1, &d->code))) return rc;
    if ((rc = get_str(c, path, o, "scheme", 0, &d->scheme))) return rc;
    if ((rc = get_text2(c, path, o, "name", 1, &d->name_vi, &d->name_en))) return rc;
    if ((rc = get_str(c, path, o, "parent", 0, &d->parent))) return rc;
    if ((rc = get_str(c, path, o, "group", 0, &d->group))) return rc;
    char *color = NULL;
    if ((rc = get_str(c, path, o, "color", 0, &color))) return rc;
    if (color) {
        d->has_color = 1;
        rc = parse_color(color, &d->rgb);
        if (rc) rc = fail(c, path, "bad colour \"%s\" (want #RRGGBB)", color);
        free(color);
        if (rc) return rc;
    }
    json_t *al = json_object_get(o, "aliases");
    if (al && !json_is_array(al)) return fail(c, path, "\"aliases\" must be an array");
    if (al) {
        d->aliases = calloc(json_array_size(al) + 1, sizeof *d->aliases);
        if (!d->aliases) return err_set(c->err, ERR_NOMEM, "out of memory");
        size_t i;
        json_t *a;
        json_array_foreach(al, i, a)
        {
            if (!json_is_string(a) || !json_string_value(a)[0])
                return fail(c, path, "aliases[%zu] must be a non-empty string", i);
            d->aliases[d->n_aliases++] = str_dup(json_string_value(a));
        }
    }
    return 0;
}

static int load_codelist(struct ctx *c, json_t *root, struct codelist *cl)
{
    static const char *const keys[] = {"id", "title", "codes", "crosswalk", "description", NULL};
    int rc;
    if (!json_is_object(root)) return fail(c, "$", "must be an object");
    if ((rc = check_keys(c, "$", root, keys))) return rc;
    if ((rc = get_str(c, "$", root, "id", 1, &cl->id))) return rc;
    if ((rc = get_text2(c, "$", root, "title", 1, &cl->title_vi, &cl->title_en))) return rc;
    json_t *codes = json_object_get(root, "codes");
    if (!json_is_array(codes) || json_array_size(codes) == 0)
        return fail(c, "$.codes", "must be a non-empty array");
    cl->codes = calloc(json_array_size(codes), sizeof *cl->codes);
    if (!cl->codes) return err_set(c->err, ERR_NOMEM, "out of memory");
    size_t i;
    json_t *o;
    json_array_foreach(codes, i, o)
    {
        char path[64];
        snprintf(path, sizeof path, "codes[%zu]", i);
        cl->n_codes = (int)i + 1;
        if ((rc = load_code(c, path, o, &cl->codes[i]))) return rc;
        for (size_t j = 0; j < i; j++) {
            const struct code_def *a = &cl->codes[j], *b = &cl->codes[i];
            if (strcmp(a->code, b->code) == 0 &&
                strcmp(a->scheme ? a->scheme : "", b->scheme ? b->scheme : "") == 0)
                return fail(c, path, "duplicate code \"%s\"", b->code);
        }
    }
    json_t *xw = json_object_get(root, "crosswalk");
    if (xw) {
        if (!json_is_array(xw)) return fail(c, "$.crosswalk", "must be an array");
        cl->crosswalk = calloc(json_array_size(xw) + 1, sizeof *cl->crosswalk);
        if (!cl->crosswalk) return err_set(c->err, ERR_NOMEM, "out of memory");
        json_array_foreach(xw, i, o)
        {
            static const char *const xkeys[] = {"from",       "to",   "from_scheme", "to_scheme",
                                                "confidence", "note", NULL};
            char path[64];
            snprintf(path, sizeof path, "crosswalk[%zu]", i);
            struct crosswalk_def *x = &cl->crosswalk[i];
            cl->n_crosswalk = (int)i + 1;
            if (!json_is_object(o)) return fail(c, path, "must be an object");
            if ((rc = check_keys(c, path, o, xkeys))) return rc;
            if ((rc = get_str(c, path, o, "from", 1, &x->from))) return rc;
            if ((rc = get_str(c, path, o, "to", 1, &x->to))) return rc;
            if ((rc = get_str(c, path, o, "from_scheme", 0, &x->from_scheme))) return rc;
            if ((rc = get_str(c, path, o, "to_scheme", 0, &x->to_scheme))) return rc;
            if (!codelist_find(cl, x->to, x->to_scheme))
                return fail(c, path, "crosswalk target \"%s\" is not in the list", x->to);
        }
    }
    return 0;
}

const struct code_def *codelist_find(const struct codelist *cl, const char *code,
                                     const char *scheme)
{
    const struct code_def *best = NULL;
    for (int i = 0; i < cl->n_codes; i++) {
        const struct code_def *d = &cl->codes[i];
        if (strcmp(d->code, code) != 0) continue;
        if (scheme && (!d->scheme || strcmp(d->scheme, scheme) != 0)) continue;
        /* newest scheme wins when none is asked for: schemes sort by year suffix */
        if (!best || (d->scheme && best->scheme &&
                      strcmp(d->scheme + strlen(d->scheme) - 4,
                             best->scheme + strlen(best->scheme) - 4) > 0))
            best = d;
    }
    return best;
}

/* ---- fields and layers ---- */

static void field_fini(struct field_def *f)
{
    for (int i = 0; i < f->n_aliases; i++)
        free(f->aliases[i]);
    free(f->aliases), free(f->name), free(f->label_vi), free(f->label_en), free(f->unit);
    free(f->desc_vi), free(f->desc_en);
}

static int load_field(struct ctx *c, const struct catalog *cat, const char *path, json_t *o,
                      struct field_def *f)
{
    static const char *const keys[] = {
        "name",   "type", "required", "label", "aliases", "codelist",    "multi",  "unit",
        "derive", "role", "personal", "min",   "max",     "description", "search", NULL};
    int rc;
    if (!json_is_object(o)) return fail(c, path, "must be an object");
    if ((rc = check_keys(c, path, o, keys))) return rc;
    if ((rc = get_str(c, path, o, "name", 1, &f->name))) return rc;
    if (!valid_ident(f->name) || strcmp(f->name, "fid") == 0 || strcmp(f->name, "geom") == 0 ||
        strncmp(f->name, "spp_", 4) == 0)
        return fail(c, path, "bad field name \"%s\" (want [a-z][a-z0-9_]*, not fid/geom/spp_*)",
                    f->name);
    char *s = NULL;
    if ((rc = get_str(c, path, o, "type", 1, &s))) return rc;
    int t = -1;
    for (size_t i = 0; i < ARRAY_LEN(type_names); i++)
        if (strcmp(s, type_names[i]) == 0) t = (int)i;
    if (t < 0) rc = fail(c, path, "field \"%s\": unknown type \"%s\"", f->name, s);
    free(s);
    if (rc) return rc;
    f->type = (enum field_type)t;
    json_t *v;
    if ((v = json_object_get(o, "required")) && !json_is_boolean(v))
        return fail(c, path, "\"required\" must be true or false");
    f->required = v && json_is_true(v);
    if ((rc = get_text2(c, path, o, "label", 1, &f->label_vi, &f->label_en))) return rc;
    if ((rc = get_text2(c, path, o, "description", 0, &f->desc_vi, &f->desc_en))) return rc;
    if ((v = json_object_get(o, "aliases"))) {
        if (!json_is_array(v)) return fail(c, path, "\"aliases\" must be an array of strings");
        f->aliases = calloc(json_array_size(v) + 1, sizeof *f->aliases);
        if (!f->aliases) return err_set(c->err, ERR_NOMEM, "out of memory");
        size_t i;
        json_t *a;
        json_array_foreach(v, i, a)
        {
            if (!json_is_string(a) || !json_string_length(a))
                return fail(c, path, "aliases[%zu] must be a non-empty string", i);
            f->aliases[f->n_aliases++] = str_dup(json_string_value(a));
        }
    }
    if ((rc = get_str(c, path, o, "codelist", 0, &s))) return rc;
    if (s) {
        f->codelist = catalog_codelist(cat, s);
        if (!f->codelist) rc = fail(c, path, "field \"%s\": code list \"%s\" missing", f->name, s);
        free(s);
        if (rc) return rc;
    }
    if ((v = json_object_get(o, "multi")) && !json_is_boolean(v))
        return fail(c, path, "\"multi\" must be true or false");
    f->multi = v && json_is_true(v);
    if ((v = json_object_get(o, "personal")) && !json_is_boolean(v))
        return fail(c, path, "\"personal\" must be true or false");
    f->personal = v && json_is_true(v);
    if ((v = json_object_get(o, "search")) && !json_is_boolean(v))
        return fail(c, path, "\"search\" must be true or false");
    f->search = v && json_is_true(v);
    if (f->search && f->type != FT_TEXT)
        return fail(c, path, "field \"%s\": search needs type text", f->name);
    if ((rc = get_str(c, path, o, "unit", 0, &f->unit))) return rc;
    if ((rc = get_str(c, path, o, "derive", 0, &s))) return rc;
    if (s) {
        if (strcmp(s, "area") == 0)
            f->derive = DERIVE_AREA;
        else if (strcmp(s, "length") == 0)
            f->derive = DERIVE_LENGTH;
        else
            rc = fail(c, path, "field \"%s\": unknown derive \"%s\"", f->name, s);
        free(s);
        if (rc) return rc;
        if (f->type != FT_REAL)
            return fail(c, path, "field \"%s\": derive needs type real", f->name);
    }
    if ((rc = get_str(c, path, o, "role", 1, &s))) return rc;
    enum role r;
    if (role_parse(s, &r)) rc = fail(c, path, "field \"%s\": unknown role \"%s\"", f->name, s);
    free(s);
    if (rc) return rc;
    f->role = r;
    if (f->personal && f->role < ROLE_PLANNER)
        return fail(c, path, "field \"%s\": personal data must need role planner or above",
                    f->name);
    if ((v = json_object_get(o, "min"))) {
        if (!json_is_number(v)) return fail(c, path, "\"min\" must be a number");
        f->has_min = 1, f->min = json_number_value(v);
    }
    if ((v = json_object_get(o, "max"))) {
        if (!json_is_number(v)) return fail(c, path, "\"max\" must be a number");
        f->has_max = 1, f->max = json_number_value(v);
    }
    return 0;
}

static int load_fields(struct ctx *c, const struct catalog *cat, json_t *arr, const char *what,
                       struct field_def **out, int *n_out, int extra)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fail(c, what, "must be a non-empty array");
    *out = calloc(json_array_size(arr) + (size_t)extra, sizeof **out);
    if (!*out) return err_set(c->err, ERR_NOMEM, "out of memory");
    size_t i;
    json_t *o;
    int rc;
    json_array_foreach(arr, i, o)
    {
        char path[64];
        snprintf(path, sizeof path, "%s[%zu]", what, i);
        *n_out = (int)i + 1;
        if ((rc = load_field(c, cat, path, o, &(*out)[i]))) return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp((*out)[j].name, (*out)[i].name) == 0)
                return fail(c, path, "duplicate field \"%s\"", (*out)[i].name);
    }
    return 0;
}

/* "row_rule": {"field": F, "equals": V, "exempt": ROLE}: roles below ROLE see only the rows
 * whose F equals V. F must be a boolean, integer or text field every role may read. */
static int load_row_rule(struct ctx *c, json_t *o, struct layer_def *l)
{
    static const char *const keys[] = {"field", "equals", "exempt", "description", NULL};
    l->row_field = -1;
    if (!o) return 0;
    if (!json_is_object(o)) return fail(c, "row_rule", "must be an object");
    int rc = check_keys(c, "row_rule", o, keys);
    if (rc) return rc;
    const char *f = json_string_value(json_object_get(o, "field"));
    const char *ex = json_string_value(json_object_get(o, "exempt"));
    json_t *v = json_object_get(o, "equals");
    int i = f ? layer_field_index(l, f) : -1;
    if (i < 0) return fail(c, "row_rule.field", "no field \"%s\"", f ? f : "");
    if (l->fields[i].role != ROLE_PUBLIC)
        return fail(c, "row_rule.field", "\"%s\" must be readable by every role", f);
    if (!ex || role_parse(ex, &l->row_exempt) || l->row_exempt == ROLE_PUBLIC)
        return fail(c, "row_rule.exempt", "must be investor, planner or admin");
    enum field_type t = l->fields[i].type;
    if (t == FT_BOOLEAN && json_is_boolean(v))
        l->row_value = (struct value){.type = VAL_INT, .i = json_is_true(v)};
    else if (t == FT_INTEGER && json_is_integer(v))
        l->row_value = (struct value){.type = VAL_INT, .i = json_integer_value(v)};
    else if (t == FT_TEXT && json_is_string(v))
        l->row_value = (struct value){.type = VAL_TEXT,
                                      .s = str_dup(json_string_value(v)),
                                      .len = (int)json_string_length(v)};
    else
        return fail(c, "row_rule.equals", "must be a value of field \"%s\"'s type", f);
    l->row_field = i;
    return 0;
}

/* "edit_roles": ["editor", ...]: the roles that may write the layer (issue 20); none by default. */
static int load_edit_roles(struct ctx *c, json_t *a, struct layer_def *l)
{
    l->edit_roles = 0;
    if (!a) return 0;
    if (!json_is_array(a)) return fail(c, "edit_roles", "must be an array of roles");
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        enum role r;
        if (!s || role_parse(s, &r) || r == ROLE_PUBLIC)
            return fail(c, "edit_roles",
                        "\"%s\" is not a role that may write (investor, planner,"
                        " editor, admin)",
                        s ? s : "");
        l->edit_roles |= 1u << r;
    }
    return 0;
}

static int load_layer(struct ctx *c, const struct catalog *cat, json_t *root, struct layer_def *l,
                      const struct field_def *common, int n_common)
{
    static const char *const keys[] = {"id",       "number",   "title",    "description", "group",
                                       "geometry", "min_role", "style",    "zoom",        "key",
                                       "label",    "fields",   "row_rule", "edit_roles",  NULL};
    static const char *const groups[] = {"land", "construction", "transport", "planning"};
    int rc;
    char *s = NULL;
    if (!json_is_object(root)) return fail(c, "$", "must be an object");
    if ((rc = check_keys(c, "$", root, keys))) return rc;
    if ((rc = get_str(c, "$", root, "id", 1, &l->id))) return rc;
    if (!valid_ident(l->id) || strncmp(l->id, "spp_", 4) == 0) /* spp_*: the store's own */
        return fail(c, "id", "bad layer id \"%s\" (want [a-z][a-z0-9_]*, not spp_*)", l->id);
    json_t *v = json_object_get(root, "number");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 99)
        return fail(c, "number", "must be an integer 1..99");
    l->number = (int)json_integer_value(v);
    if ((rc = get_text2(c, "$", root, "title", 1, &l->title_vi, &l->title_en))) return rc;
    if ((rc = get_text2(c, "$", root, "description", 0, &l->desc_vi, &l->desc_en))) return rc;
    if ((rc = get_str(c, "$", root, "group", 1, &l->group))) return rc;
    int ok = 0;
    for (size_t i = 0; i < ARRAY_LEN(groups); i++)
        ok |= strcmp(groups[i], l->group) == 0;
    if (!ok) return fail(c, "group", "unknown group \"%s\"", l->group);
    if ((rc = get_str(c, "$", root, "geometry", 1, &s))) return rc;
    for (int t = GT_POINT; t <= GT_MULTIPOLYGON; t++)
        if (strcmp(s, geom_names[t]) == 0) l->geom = (enum geom_type)t;
    if (!l->geom) rc = fail(c, "geometry", "unknown geometry type \"%s\"", s);
    free(s);
    if (rc) return rc;
    if ((rc = get_str(c, "$", root, "min_role", 1, &s))) return rc;
    if (role_parse(s, &l->min_role)) rc = fail(c, "min_role", "unknown role \"%s\"", s);
    free(s);
    if (rc) return rc;
    if ((rc = get_str(c, "$", root, "style", 1, &l->style))) return rc;
    v = json_object_get(root, "zoom");
    json_t *zmin = json_object_get(v, "min"), *zmax = json_object_get(v, "max");
    if (!json_is_object(v) || !json_is_integer(zmin) || !json_is_integer(zmax) ||
        json_integer_value(zmin) < 0 || json_integer_value(zmax) > 24 ||
        json_integer_value(zmin) > json_integer_value(zmax) || json_object_size(v) != 2)
        return fail(c, "zoom", "must be {\"min\": 0..24, \"max\": min..24}");
    l->minzoom = (int)json_integer_value(zmin);
    l->maxzoom = (int)json_integer_value(zmax);
    if ((rc = load_fields(c, cat, json_object_get(root, "fields"), "fields", &l->fields,
                          &l->n_fields, n_common)))
        return rc;
    for (int i = 0; i < n_common; i++) {
        if (layer_field_index(l, common[i].name) >= 0)
            return fail(c, "fields", "field \"%s\" is a common field (layers/common.json)",
                        common[i].name);
        struct field_def *f = &l->fields[l->n_fields++];
        *f = common[i];
        f->name = str_dup(common[i].name);
        f->label_vi = str_dup(common[i].label_vi), f->label_en = str_dup(common[i].label_en);
        f->desc_vi = str_dup(common[i].desc_vi), f->desc_en = str_dup(common[i].desc_en);
        f->unit = str_dup(common[i].unit);
        f->aliases = calloc((size_t)common[i].n_aliases + 1, sizeof *f->aliases);
        f->n_aliases = 0;
        for (int k = 0; f->aliases && k < common[i].n_aliases; k++)
            f->aliases[f->n_aliases++] = str_dup(common[i].aliases[k]);
        f->common = 1;
    }
    l->key = l->label = -1;
    if ((rc = get_str(c, "$", root, "key", 0, &s))) return rc;
    if (s) {
        l->key = layer_field_index(l, s);
        if (l->key < 0) rc = fail(c, "key", "no field \"%s\"", s);
        free(s);
        if (rc) return rc;
    }
    if ((rc = get_str(c, "$", root, "label", 0, &s))) return rc;
    if (s) {
        l->label = layer_field_index(l, s);
        if (l->label < 0) rc = fail(c, "label", "no field \"%s\"", s);
        free(s);
        if (rc) return rc;
    }
    if ((rc = load_edit_roles(c, json_object_get(root, "edit_roles"), l))) return rc;
    return load_row_rule(c, json_object_get(root, "row_rule"), l);
}

static void layer_fini(struct layer_def *l)
{
    for (int i = 0; i < l->n_fields; i++)
        field_fini(&l->fields[i]);
    free(l->fields), free(l->id), free(l->title_vi), free(l->title_en), free(l->desc_vi);
    free(l->desc_en), free(l->group), free(l->style);
    if (l->row_value.type == VAL_TEXT) free((char *)l->row_value.s);
    struct layer_meta *m = &l->meta;
    free(m->org_vi), free(m->org_en), free(m->contact_name), free(m->contact_email);
    free(m->contact_phone), free(m->contact_address), free(m->licence_name), free(m->licence_url);
    free(m->update_frequency), free(m->language);
    for (int i = 0; i < m->n_keywords_vi; i++)
        free(m->keywords_vi[i]);
    for (int i = 0; i < m->n_keywords_en; i++)
        free(m->keywords_en[i]);
    free(m->keywords_vi), free(m->keywords_en);
    memset(l, 0, sizeof *l);
}

/* layers/meta/metadata.json (issue 21): "defaults" and "layers": {id: {...}}; a layer's own key
 * wins. Every catalog layer must have an entry, every entry a catalog layer, and the merged record
 * of each must have an organisation, contact name and email, licence, scale, accuracy and at least
 * one keyword in each language. */
static json_t *meta_get(json_t *own, json_t *defaults, const char *key)
{
    json_t *v = json_object_get(own, key);
    return v ? v : json_object_get(defaults, key);
}

static int meta_str(struct ctx *c, const char *path, json_t *obj, const char *key, int required,
                    char **out)
{
    char sub[200];
    snprintf(sub, sizeof sub, "%s.%s", path, key);
    if (!obj) {
        *out = NULL;
        return required ? fail(c, path, "missing \"%s\"", key) : 0;
    }
    if (!json_is_object(obj)) return fail(c, path, "must be an object");
    return get_str(c, path, obj, key, required, out);
}

static int meta_keywords(struct ctx *c, const char *path, json_t *arr, char ***out, int *n)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 64)
        return fail(c, path, "must be an array of 1..64 non-empty strings");
    *out = calloc(json_array_size(arr), sizeof **out);
    if (!*out) return err_set(c->err, ERR_NOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return fail(c, path, "must be an array of 1..64 non-empty strings");
        if (!((*out)[(*n)++] = str_dup(json_string_value(v))))
            return err_set(c->err, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int load_layer_meta(struct ctx *c, json_t *own, json_t *defaults, struct layer_meta *m)
{
    static const char *const keys[] = {"organisation",     "contact",  "licence",
                                       "update_frequency", "language", "scale_denominator",
                                       "accuracy_m",       "keywords", NULL};
    static const char *const contact_keys[] = {"name", "email", "phone", "address", NULL};
    static const char *const licence_keys[] = {"name", "url", NULL};
    int rc;
    if ((rc = check_keys(c, "layers", own, keys))) return rc;
    json_t *org = meta_get(own, defaults, "organisation");
    json_t *wrap = json_object();
    if (!wrap) return err_set(c->err, ERR_NOMEM, "out of memory");
    if (org) json_object_set(wrap, "organisation", org);
    rc = get_text2(c, "layers", wrap, "organisation", 1, &m->org_vi, &m->org_en);
    json_decref(wrap);
    if (rc) return rc;
    json_t *contact = meta_get(own, defaults, "contact");
    if (contact && json_is_object(contact) &&
        (rc = check_keys(c, "contact", contact, contact_keys)))
        return rc;
    if ((rc = meta_str(c, "contact", contact, "name", 1, &m->contact_name)) ||
        (rc = meta_str(c, "contact", contact, "email", 1, &m->contact_email)) ||
        (rc = meta_str(c, "contact", contact, "phone", 0, &m->contact_phone)) ||
        (rc = meta_str(c, "contact", contact, "address", 0, &m->contact_address)))
        return rc;
    if (!strchr(m->contact_email, '@')) return fail(c, "contact.email", "not an e-mail address");
    json_t *lic = meta_get(own, defaults, "licence");
    if (lic && json_is_object(lic) && (rc = check_keys(c, "licence", lic, licence_keys))) return rc;
    if ((rc = meta_str(c, "licence", lic, "name", 1, &m->licence_name)) ||
        (rc = meta_str(c, "licence", lic, "url", 0, &m->licence_url)))
        return rc;
    json_t *tmp = json_object();
    if (!tmp) return err_set(c->err, ERR_NOMEM, "out of memory");
    json_t *v;
    if ((v = meta_get(own, defaults, "update_frequency"))) json_object_set(tmp, "f", v);
    if ((v = meta_get(own, defaults, "language"))) json_object_set(tmp, "l", v);
    rc = get_str(c, "update_frequency", tmp, "f", 0, &m->update_frequency);
    if (!rc) rc = get_str(c, "language", tmp, "l", 0, &m->language);
    json_decref(tmp);
    if (rc) return rc;
    if (!m->update_frequency && !(m->update_frequency = str_dup("asNeeded")))
        return err_set(c->err, ERR_NOMEM, "out of memory");
    if (!m->language && !(m->language = str_dup("vie")))
        return err_set(c->err, ERR_NOMEM, "out of memory");
    v = meta_get(own, defaults, "scale_denominator");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000000)
        return fail(c, "scale_denominator", "must be an integer 1..100000000");
    m->scale_denominator = (int)json_integer_value(v);
    v = meta_get(own, defaults, "accuracy_m");
    if (!json_is_number(v) || json_number_value(v) <= 0)
        return fail(c, "accuracy_m", "must be a number > 0 (metres)");
    m->accuracy_m = json_number_value(v);
    json_t *kw = meta_get(own, defaults, "keywords");
    static const char *const kw_keys[] = {"vi", "en", NULL};
    if (!json_is_object(kw)) return fail(c, "keywords", "must be {\"vi\": [...], \"en\": [...]}");
    if ((rc = check_keys(c, "keywords", kw, kw_keys))) return rc;
    if ((rc = meta_keywords(c, "keywords.vi", json_object_get(kw, "vi"), &m->keywords_vi,
                            &m->n_keywords_vi)))
        return rc;
    return meta_keywords(c, "keywords.en", json_object_get(kw, "en"), &m->keywords_en,
                         &m->n_keywords_en);
}

static json_t *load_json(const char *path, struct err *err);

static int load_metadata(struct catalog *cat, const char *dir, struct err *err)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/meta/metadata.json", dir);
    json_t *root = load_json(path, err);
    if (!root) return ERR_PARAM;
    struct ctx c = {path, err};
    static const char *const keys[] = {"description", "defaults", "layers", NULL};
    int rc =
        json_is_object(root) ? check_keys(&c, "$", root, keys) : fail(&c, "$", "not an object");
    json_t *defaults = json_object_get(root, "defaults"), *layers = json_object_get(root, "layers");
    if (!rc && defaults && !json_is_object(defaults))
        rc = fail(&c, "defaults", "must be an object");
    if (!rc && !json_is_object(layers)) rc = fail(&c, "layers", "must be an object {id: {...}}");
    const char *id;
    json_t *v;
    if (!rc) json_object_foreach(layers, id, v)
        {
            if (!catalog_layer(cat, id)) {
                rc = fail(&c, "layers", "no catalog layer \"%s\"", id);
                break;
            }
        }
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        struct layer_def *l = &cat->layers[i];
        json_t *own = json_object_get(layers, l->id);
        char where[2400];
        snprintf(where, sizeof where, "%.2000s (layer %.300s)", path, l->id);
        struct ctx lc = {where, err};
        if (!json_is_object(own))
            rc = fail(&c, "layers", "missing entry for layer \"%s\"", l->id);
        else
            rc = load_layer_meta(&lc, own, defaults, &l->meta);
    }
    json_decref(root);
    return rc;
}

void catalog_fini(struct catalog *cat)
{
    for (int i = 0; i < cat->n_layers; i++)
        layer_fini(&cat->layers[i]);
    for (int i = 0; i < cat->n_codelists; i++)
        codelist_fini(&cat->codelists[i]);
    free(cat->layers), free(cat->codelists);
    memset(cat, 0, sizeof *cat);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of .json file names in dir (caller frees each and the array). */
static char **list_json(const char *dir, int *n, struct err *err)
{
    DIR *d = opendir(dir);
    *n = 0;
    if (!d) {
        err_set(err, ERR_IO, "%s: cannot open directory", dir);
        return NULL;
    }
    char **names = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!str_ends(e->d_name, ".json") || e->d_name[0] == '.') continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **p = realloc(names, (size_t)cap * sizeof *names);
            if (!p) break;
            names = p;
        }
        names[(*n)++] = str_dup(e->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, (size_t)*n, sizeof *names, cmp_str);
    else
        names = calloc(1, sizeof *names);
    return names;
}

static json_t *load_json(const char *path, struct err *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) err_set(err, ERR_PARAM, "%s:%d: %s", path, je.line, je.text);
    return root;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int load_codelists(struct catalog *cat, const char *dir, struct err *err)
{
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/codelists", dir);
    int n = 0, rc = 0;
    char **names = list_json(sub, &n, err);
    if (!names) return ERR_IO;
    cat->codelists = calloc((size_t)n + 1, sizeof *cat->codelists);
    for (int i = 0; i < n && !rc; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", sub, names[i]);
        json_t *root = load_json(path, err);
        if (!root) {
            rc = ERR_PARAM;
            break;
        }
        struct ctx c = {path, err};
        rc = load_codelist(&c, root, &cat->codelists[cat->n_codelists++]);
        json_decref(root);
        if (!rc) {
            const char *id = cat->codelists[cat->n_codelists - 1].id;
            if (catalog_codelist(cat, id) != &cat->codelists[cat->n_codelists - 1])
                rc = fail(&c, "id", "duplicate code list id \"%s\"", id);
        }
    }
    free_names(names, n);
    return rc;
}

static int cmp_layer(const void *a, const void *b)
{
    return ((const struct layer_def *)a)->number - ((const struct layer_def *)b)->number;
}

int catalog_load(struct catalog *cat, const char *dir, struct err *err)
{
    memset(cat, 0, sizeof *cat);
    int rc = load_codelists(cat, dir, err);
    struct field_def *common = NULL;
    int n_common = 0, n = 0;
    char **names = NULL;
    char path[2048];
    if (rc) goto done;
    snprintf(path, sizeof path, "%s/common.json", dir);
    json_t *croot = load_json(path, err);
    if (!croot) {
        rc = ERR_PARAM;
        goto done;
    }
    struct ctx cc = {path, err};
    static const char *const ckeys[] = {"fields", "description", NULL};
    rc = json_is_object(croot) ? check_keys(&cc, "$", croot, ckeys)
                               : fail(&cc, "$", "not an object");
    if (!rc)
        rc = load_fields(&cc, cat, json_object_get(croot, "fields"), "fields", &common, &n_common,
                         0);
    json_decref(croot);
    if (rc) goto done;
    names = list_json(dir, &n, err);
    if (!names) {
        rc = ERR_IO;
        goto done;
    }
    cat->layers = calloc((size_t)n + 1, sizeof *cat->layers);
    if (!cat->layers) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n && !rc; i++) {
        if (strcmp(names[i], "common.json") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        json_t *root = load_json(path, err);
        if (!root) {
            rc = ERR_PARAM;
            break;
        }
        struct ctx c = {path, err};
        struct layer_def *l = &cat->layers[cat->n_layers++];
        rc = load_layer(&c, cat, root, l, common, n_common);
        json_decref(root);
        if (rc) break;
        char want[256];
        snprintf(want, sizeof want, "%s.json", l->id);
        if (strcmp(want, names[i]) != 0)
            rc = fail(&c, "id", "layer \"%s\" must be in a file named %s", l->id, want);
        for (int j = 0; j + 1 < cat->n_layers && !rc; j++) {
            if (strcmp(cat->layers[j].id, l->id) == 0)
                rc = fail(&c, "id", "duplicate layer id \"%s\"", l->id);
            else if (cat->layers[j].number == l->number)
                rc = fail(&c, "number", "number %d already used by %s", l->number,
                          cat->layers[j].id);
        }
    }
    if (!rc && cat->n_layers == 0) rc = err_set(err, ERR_PARAM, "%s: no layer definitions", dir);
    if (!rc) {
        qsort(cat->layers, (size_t)cat->n_layers, sizeof *cat->layers, cmp_layer);
        for (int i = 0; i < cat->n_layers; i++)
            cat->layers[i].index = i;
        rc = load_metadata(cat, dir, err);
    }
done:
    for (int i = 0; i < n_common; i++)
        field_fini(&common[i]);
    free(common);
    free_names(names, n);
    if (rc) catalog_fini(cat);
    return rc;
}

const struct layer_def *catalog_layer(const struct catalog *cat, const char *id)
{
    for (int i = 0; i < cat->n_layers; i++)
        if (strcmp(cat->layers[i].id, id) == 0) return &cat->layers[i];
    return NULL;
}

const struct codelist *catalog_codelist(const struct catalog *cat, const char *id)
{
    for (int i = 0; i < cat->n_codelists; i++)
        if (cat->codelists[i].id && strcmp(cat->codelists[i].id, id) == 0)
            return &cat->codelists[i];
    return NULL;
}

int layer_field_index(const struct layer_def *layer, const char *name)
{
    for (int i = 0; i < layer->n_fields; i++)
        if (strcmp(layer->fields[i].name, name) == 0) return i;
    return -1;
}
