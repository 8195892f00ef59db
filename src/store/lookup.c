/* SPDX-License-Identifier: MIT */
/* lookup.c: what the land API (query/) needs beyond the generic query path: WHERE fragments for
 * attribute lookups built from catalog field names (values stay '?' placeholders, bound by the
 * caller through store_query.params), and the attribute indexes that make those lookups
 * index-driven (natural keys, commune codes, commune + sheet + parcel). Additive: nothing here
 * changes the schema the catalog describes; `spp check` ignores extra indexes. */
#include "store_int.h"

#include <string.h>

int store_where_field(struct buf *b, const struct layer_def *l, int field, const char *op)
{
    static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">="};
    int ok = 0;
    for (size_t i = 0; i < ARRAY_LEN(ops) && !ok; i++)
        ok = strcmp(op, ops[i]) == 0;
    if (!ok || field < 0 || field >= l->n_fields) return ERR_INTERNAL;
    if (b->len && buf_puts(b, " AND ")) return ERR_NOMEM;
    if (store_put_ident(b, l->fields[field].name) || buf_printf(b, " %s ?", op)) return ERR_NOMEM;
    return 0;
}

int store_where_in(struct buf *b, const struct layer_def *l, int field, int n)
{
    if (field < 0 || field >= l->n_fields || n < 1) return ERR_INTERNAL;
    if (b->len && buf_puts(b, " AND ")) return ERR_NOMEM;
    if (store_put_ident(b, l->fields[field].name) || buf_puts(b, " IN (")) return ERR_NOMEM;
    for (int i = 0; i < n; i++)
        if (buf_puts(b, i ? ", ?" : "?")) return ERR_NOMEM;
    return buf_putc(b, ')') ? ERR_NOMEM : 0;
}

int store_where_mbr(struct buf *b)
{
    if (b->len && buf_puts(b, " AND ")) return ERR_NOMEM;
    return buf_puts(b, "MbrMaxX(geom) >= ? AND MbrMinX(geom) <= ? AND MbrMaxY(geom) >= ? AND"
                       " MbrMinY(geom) <= ?")
               ? ERR_NOMEM
               : 0;
}

/* CREATE INDEX IF NOT EXISTS "lk_<layer>_<first field>" ON layer (fields...). */
static int create_index(struct store *st, const struct layer_def *l, const char *const *names,
                        int n, struct err *err)
{
    int idx[4];
    for (int i = 0; i < n; i++)
        if ((idx[i] = layer_field_index(l, names[i])) < 0) return 0; /* layer lacks it */
    struct buf b;
    buf_init(&b);
    int rc = buf_printf(&b, "CREATE INDEX IF NOT EXISTS \"lk_%s_%s\" ON ", l->id, names[0]) ||
             store_put_ident(&b, l->id) || buf_putc(&b, '(');
    for (int i = 0; i < n && !rc; i++)
        rc = (i && buf_puts(&b, ", ")) || store_put_ident(&b, l->fields[idx[i]].name);
    rc = rc || buf_putc(&b, ')');
    if (rc)
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
