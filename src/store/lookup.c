/* SPDX-License-Identifier: MIT */
/* lookup.c: what the land API (query/) needs beyond the generic query path: the attribute
 * indexes that make its lookups (filter trees of filter_and_compare / filter_and_in nodes)
 * index-driven: natural keys, commune codes, commune + sheet + parcel, road classes. Additive:
 * nothing here changes the schema the catalog describes; `spp check` ignores extra indexes. */
#include "store_int.h"

#include <string.h>

/* CREATE INDEX IF NOT EXISTS "lk_<layer>_<first field>" ON layer (fields...). */
static int create_index(struct store *st, const struct layer_def *l, const char *const *names,
                        int n, struct err *err)
{
    int idx[4];
    for (int i = 0; i < n; i++)
        if ((idx[i] = layer_field_index(l, names[i])) < 0) return 0; /* layer lacks it */
    struct buf b;
    buf_init(&b);
    int nomem = buf_printf(&b, "CREATE INDEX IF NOT EXISTS \"lk_%s_%s\" ON ", l->id, names[0]) ||
                store_put_ident(&b, l->id) || buf_putc(&b, '(');
    for (int i = 0; i < n && !nomem; i++)
        nomem = (i && buf_puts(&b, ", ")) || store_put_ident(&b, l->fields[idx[i]].name);
    if (!nomem) nomem = buf_putc(&b, ')');
    int rc;
    if (nomem)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    else
        rc = store_exec(st, b.data, err);
    buf_fini(&b);
    return rc;
}

int store_ensure_layer_indexes(struct store *st, const struct layer_def *l, struct err *err)
{
    static const char *const parcel[] = {"commune_code", "sheet_no", "parcel_no"};
    static const char *const commune[] = {"commune_code"};
    static const char *const road_class[] = {"road_class"}; /* main roads (query/funds.c) */
    const char *key = l->key >= 0 ? l->fields[l->key].name : NULL;
    int rc = key ? create_index(st, l, &key, 1, err) : 0;
    if (!rc && layer_field_index(l, "sheet_no") >= 0 && layer_field_index(l, "parcel_no") >= 0)
        rc = create_index(st, l, parcel, 3, err);
    else if (!rc && (!key || strcmp(key, "commune_code") != 0))
        rc = create_index(st, l, commune, 1, err);
    return rc ? rc : create_index(st, l, road_class, 1, err);
}

int store_ensure_lookup_indexes(struct store *st, const struct catalog *cat, struct err *err)
{
    int rc = 0;
    for (int i = 0; i < cat->n_layers && !rc; i++)
        rc = store_ensure_layer_indexes(st, &cat->layers[i], err);
    return rc;
}

int store_drop_layer_indexes(struct store *st, const struct layer_def *l, struct err *err)
{
    if (st->pg) return 0; /* kept on PostGIS: CREATE INDEX IF NOT EXISTS finds them */
    sqlite3_stmt *s = store_prepare(st,
                                    "SELECT name FROM sqlite_master WHERE type = 'index' AND"
                                    " tbl_name = ? AND name LIKE 'lk\\_%' ESCAPE '\\'",
                                    err);
    if (!s) return ERR_DB;
    struct buf b;
    buf_init(&b);
    int rc = sqlite3_bind_text(s, 1, l->id, -1, SQLITE_STATIC) != SQLITE_OK;
    while (!rc && sqlite3_step(s) == SQLITE_ROW)
        rc = buf_puts(&b, "DROP INDEX ") ||
             store_put_ident(&b, (const char *)sqlite3_column_text(s, 0)) || buf_puts(&b, ";");
    sqlite3_reset(s);
    if (rc)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    else if (b.len)
        rc = store_exec(st, b.data, err);
    buf_fini(&b);
    return rc;
}
