/* SPDX-License-Identifier: MIT */
/* manifest.c: the import manifest (README "Import manifest"): a JSON object {"batch": NAME,
 * "allow_shrink": BOOL, "sources": [{"path", "layer", "crs", "encoding", "rename", "values",
 * "defaults", "filter", "sheet", "allow_shrink"}]}; paths are relative to the manifest's
 * directory. Every key is checked against the catalog here, before any file is opened. The
 * command line's --set and --rename are merged into every source here too (manifest_apply_cli). */
#include "import_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void manifest_fini(struct manifest *m)
{
    for (int i = 0; i < m->n_specs; i++) {
        struct src_spec *s = &m->specs[i];
        free(s->path), free(s->abs_path), free(s->filter), free(s->sheet);
        for (int k = 0; k < s->n_rename; k++)
            free(s->rename_from[k]), free(s->rename_to[k]);
        free(s->rename_from), free(s->rename_to);
    }
    free(m->specs);
    free(m->batch_name);
    if (m->root) json_decref(m->root);
    if (m->owned) json_decref(m->owned);
    memset(m, 0, sizeof *m);
}

static char *join_path(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir || !dir[0]) return str_dup(path);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%s/%s", dir, path);
    return buf_take(&b, NULL);
}

static int known_field(const struct layer_def *l, const char *name)
{
    return layer_field_index(l, name) >= 0;
}

static int parse_spec(struct src_spec *s, json_t *o, int i, const char *mpath, const char *dir,
                      const struct catalog *cat, struct err *err)
{
    static const char *const keys[] = {"path",   "layer",  "crs",          "encoding",
                                       "rename", "values", "defaults",     "filter",
                                       "sheet",  "note",   "allow_shrink", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (int j = 0; keys[j]; j++)
            ok |= strcmp(k, keys[j]) == 0;
        if (!ok) return err_set(err, ERR_PARAM, "%s: sources[%d]: unknown key \"%s\"", mpath, i, k);
    }
    const char *path = json_string_value(json_object_get(o, "path"));
    const char *layer = json_string_value(json_object_get(o, "layer"));
    if (!path) return err_set(err, ERR_PARAM, "%s: sources[%d]: \"path\" missing", mpath, i);
    if (!layer) return err_set(err, ERR_PARAM, "%s: sources[%d]: \"layer\" missing", mpath, i);
    s->layer = catalog_layer(cat, layer);
    if (!s->layer)
        return err_set(err, ERR_PARAM, "%s: sources[%d]: unknown layer \"%s\"", mpath, i, layer);
    s->path = str_dup(path);
    s->abs_path = join_path(dir, path);
    s->order = i;
    const char *crs = json_string_value(json_object_get(o, "crs"));
    if (crs && geo_crs_parse(crs, &s->crs))
        return err_set(err, ERR_PARAM, "%s: sources[%d]: bad crs \"%s\"", mpath, i, crs);
    if (s->crs == GEO_SRID_CRS84) s->crs = 4326;
    const char *enc = json_string_value(json_object_get(o, "encoding"));
    if (enc) {
        if (text_enc_parse(enc, &s->enc))
            return err_set(err, ERR_PARAM, "%s: sources[%d]: unknown encoding \"%s\"", mpath, i,
                           enc);
        s->has_enc = 1;
    }
    json_t *shrink = json_object_get(o, "allow_shrink");
    if (shrink && !json_is_boolean(shrink))
        return err_set(err, ERR_PARAM, "%s: sources[%d]: allow_shrink must be true or false", mpath,
                       i);
    s->allow_shrink = json_is_true(shrink);
    const char *f = json_string_value(json_object_get(o, "filter"));
    const char *sh = json_string_value(json_object_get(o, "sheet"));
    s->filter = f ? str_dup(f) : NULL;
    s->sheet = sh ? str_dup(sh) : NULL;
    json_t *ren = json_object_get(o, "rename");
    if (ren && json_is_object(ren)) {
        size_t n = json_object_size(ren);
        s->rename_from = calloc(n + 1, sizeof(char *));
        s->rename_to = calloc(n + 1, sizeof(char *));
        json_object_foreach(ren, k, v)
        {
            if (!json_is_string(v) || (!known_field(s->layer, json_string_value(v)) &&
                                       !source_coord_name(json_string_value(v))))
                return err_set(err, ERR_PARAM,
                               "%s: sources[%d]: rename %s: not a field of %s nor a coordinate "
                               "(x, y, lon, lat, e, n)",
                               mpath, i, k, s->layer->id);
            s->rename_from[s->n_rename] = str_dup(k);
            s->rename_to[s->n_rename++] = str_dup(json_string_value(v));
        }
    }
    json_t *maps[2] = {json_object_get(o, "values"), json_object_get(o, "defaults")};
    for (int m = 0; m < 2; m++) {
        if (!maps[m]) continue;
        if (!json_is_object(maps[m]))
            return err_set(err, ERR_PARAM, "%s: sources[%d]: %s must be an object", mpath, i,
                           m ? "defaults" : "values");
        json_object_foreach(maps[m], k, v)
        {
            if (!known_field(s->layer, k))
                return err_set(err, ERR_PARAM, "%s: sources[%d]: %s: \"%s\" is not a field of %s",
                               mpath, i, m ? "defaults" : "values", k, s->layer->id);
        }
    }
    s->values = maps[0];
    s->defaults = maps[1];
    return 0;
}

int manifest_load(struct manifest *m, const char *path, const struct catalog *cat, struct err *err)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        FILE *f = fopen(path, "r");
        if (!f) return err_set(err, ERR_IO, "%s: cannot read the manifest", path);
        fclose(f);
        return err_set(err, ERR_PARAM, "%s:%d: %s", path, je.line, je.text);
    }
    m->root = root;
    json_t *srcs = json_object_get(root, "sources");
    if (!json_is_array(srcs) || json_array_size(srcs) == 0)
        return err_set(err, ERR_PARAM, "%s: \"sources\" must be a non-empty array", path);
    json_t *shrink = json_object_get(root, "allow_shrink");
    if (shrink && !json_is_boolean(shrink))
        return err_set(err, ERR_PARAM, "%s: allow_shrink must be true or false", path);
    m->allow_shrink = json_is_true(shrink);
    const char *b = json_string_value(json_object_get(root, "batch"));
    m->batch_name = str_dup(b ? b : "import");
    char *dir = str_dup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = 0;
    else if (dir)
        dir[0] = 0;
    m->specs = calloc(json_array_size(srcs), sizeof *m->specs);
    int rc = m->specs ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(srcs) && !rc; i++) {
        json_t *o = json_array_get(srcs, i);
        if (!json_is_object(o)) {
            rc = err_set(err, ERR_PARAM, "%s: sources[%zu] must be an object", path, i);
            break;
        }
        m->n_specs++;
        rc = parse_spec(&m->specs[i], o, (int)i, path, dir, cat, err);
    }
    free(dir);
    return rc;
}

int manifest_from_args(struct manifest *m, const char *layer, char **sources, int n,
                       const struct catalog *cat, struct err *err)
{
    memset(m, 0, sizeof *m);
    const struct layer_def *l = catalog_layer(cat, layer);
    if (!l) return err_set(err, ERR_PARAM, "unknown layer \"%s\"", layer);
    m->batch_name = str_dup(layer);
    m->specs = calloc((size_t)n, sizeof *m->specs);
    if (!m->specs) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        struct src_spec *s = &m->specs[m->n_specs++];
        s->path = str_dup(sources[i]);
        s->abs_path = str_dup(sources[i]);
        s->layer = l;
        s->order = i;
    }
    return 0;
}

/* "KEY=VALUE" split at the first '='; both sides non-empty (spaces around KEY trimmed). */
static int split_pin(const char *opt, const char *s, char **key, const char **value,
                     struct err *err)
{
    const char *eq = s ? strchr(s, '=') : NULL;
    const char *k = s, *ke = eq;
    while (k && k < ke && *k == ' ')
        k++;
    while (ke && ke > k && ke[-1] == ' ')
        ke--;
    if (!eq || ke == k || !eq[1])
        return err_set(err, ERR_PARAM, "%s \"%s\": want %s", opt, s ? s : "",
                       strcmp(opt, "--set") == 0 ? "FIELD=VALUE" : "SOURCE_FIELD=CATALOG_FIELD");
    *key = str_ndup(k, (size_t)(ke - k));
    *value = eq + 1;
    return *key ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

static int add_default(struct manifest *m, struct src_spec *s, const char *field, const char *value)
{
    json_t *d = s->defaults;
    if (d && json_object_get(d, field)) return 0; /* the manifest's own default wins */
    if (!d) {
        if (!m->owned) m->owned = json_array();
        d = json_object();
        json_array_append_new(m->owned, d);
        s->defaults = d;
    }
    return json_object_set_new(d, field, json_string(value)) ? ERR_NOMEM : 0;
}

static int add_rename(struct src_spec *s, const char *from, const char *to)
{
    for (int i = 0; i < s->n_rename; i++) /* the manifest's rename of that field wins */
        if (str_ieq(s->rename_from[i], from)) return 0;
    char **f = realloc(s->rename_from, (size_t)(s->n_rename + 2) * sizeof *f);
    if (!f) return ERR_NOMEM;
    s->rename_from = f;
    char **t = realloc(s->rename_to, (size_t)(s->n_rename + 2) * sizeof *t);
    if (!t) return ERR_NOMEM;
    s->rename_to = t;
    s->rename_from[s->n_rename] = str_dup(from);
    s->rename_to[s->n_rename++] = str_dup(to);
    return 0;
}

int manifest_apply_cli(struct manifest *m, char **sets, int n_sets, char **renames, int n_renames,
                       struct err *err)
{
    for (int pass = 0; pass < 2; pass++) {
        char **list = pass ? renames : sets;
        int n = pass ? n_renames : n_sets;
        const char *opt = pass ? "--rename" : "--set";
        for (int i = 0; i < n; i++) {
            char *key = NULL;
            const char *value = NULL;
            int rc = split_pin(opt, list[i], &key, &value, err);
            if (rc) return rc;
            const char *field = pass ? value : key;
            int used = 0;
            for (int k = 0; k < m->n_specs && !rc; k++) {
                struct src_spec *s = &m->specs[k];
                if (!known_field(s->layer, field)) continue;
                used = 1;
                rc = pass ? add_rename(s, key, value) : add_default(m, s, key, value);
            }
            if (rc) {
                free(key);
                return err_set(err, ERR_NOMEM, "out of memory");
            }
            if (!used) {
                rc = err_set(err, ERR_PARAM, "%s %s: \"%s\" is not a field of %s%s", opt, list[i],
                             field, m->n_specs ? m->specs[0].layer->id : "the batch",
                             m->n_specs > 1 ? " or the batch's other layers" : "");
                free(key);
                return rc;
            }
            free(key);
        }
    }
    return 0;
}
