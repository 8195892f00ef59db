/* SPDX-License-Identifier: MIT */
/* test_search.c: the fold LIKE of the address search compiled with and without the store's
 * search index (filter/compile.c, filter_sql.fold_index): the index's GLOB pattern escapes what
 * GLOB would read as wildcards, the rows written since (the dirty list) are matched by the scan's
 * own LIKE, PostgreSQL's dialect and an unindexed field keep the scan; the catalog attribute;
 * and the store's text fold. */
#include "../check.h"
#include "filter/filter.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static int calls;

static int fake_index(void *ud, const struct layer_def *l, int f, struct buf *name)
{
    (void)ud;
    calls++;
    if (!l->fields[f].search) return 0;
    return buf_printf(name, "spp_search_%s_%s", l->id, l->fields[f].name) ? 0 : 1;
}

/* Compiles field LIKE pattern (folded) in dialect d; the SQL in sql (caller frees; the built
 * tree's AND puts it in brackets), the bound values' text in p[0..1]. */
static int compile(const struct layer_def *l, const char *field, const char *pattern,
                   enum filter_dialect d, int with_index, char **sql, char p[2][128])
{
    struct filter *f = NULL;
    struct err err;
    err_clear(&err);
    int rc = filter_and_text_match(&f, l, layer_field_index(l, field), FOP_LIKE, pattern,
                                   FILTER_MATCH_FOLDED);
    struct filter_sql o;
    filter_sql_init(&o);
    if (with_index) o.fold_index = fake_index;
    if (!rc) rc = filter_compile_dialect(f, l, 5897, NULL, d, &o, &err);
    p[0][0] = p[1][0] = '\0';
    for (int i = 0; i < o.n_params && i < 2; i++)
        snprintf(p[i], 128, "%s", o.params[i].type == VAL_TEXT ? o.params[i].s : "?");
    *sql = rc ? NULL : strdup(o.sql.data);
    filter_sql_fini(&o);
    filter_free(f);
    return rc;
}

int main(void)
{
    struct catalog cat;
    struct err err;
    err_clear(&err);
    CHECK(catalog_load(&cat, "layers", &err) == 0);
    const struct layer_def *parcels = catalog_layer(&cat, "cadastral_parcels");
    const struct layer_def *roads = catalog_layer(&cat, "roads");
    CHECK(parcels->fields[layer_field_index(parcels, "address")].search);
    CHECK(!roads->fields[layer_field_index(roads, "name")].search);

    char *sql, p[2][128];
    /* indexed: GLOB on the index ('*' '?' '[' escaped, '%' '_' the wildcards), LIKE on the
     * dirty rows with the pattern as given */
    CHECK(compile(parcels, "address", "%a*b_[c?%", FILTER_DIALECT_SQLITE, 1, &sql, p) == 0);
    CHECKF(sql &&
               strcmp(sql, "(((fid IN (SELECT rowid FROM \"spp_search_cadastral_parcels_address\""
                           " WHERE t GLOB ?) AND fid NOT IN (SELECT fid FROM"
                           " \"spp_search_cadastral_parcels_address_dirty\")) OR (fid IN"
                           " (SELECT fid FROM \"spp_search_cadastral_parcels_address_dirty\")"
                           " AND spp_fold(\"address\") LIKE ?)))") == 0,
           "%s", sql ? sql : "(null)");
    CHECKF(strcmp(p[0], "*a[*]b?[[]c[?]*") == 0, "%s", p[0]);
    CHECKF(strcmp(p[1], "%a*b_[c?%") == 0, "%s", p[1]);
    free(sql);
    /* no index (a store made before): the scan, as it always was */
    CHECK(compile(parcels, "address", "%tran phu%", FILTER_DIALECT_SQLITE, 0, &sql, p) == 0);
    CHECKF(sql && strcmp(sql, "(spp_fold(\"address\") LIKE ?)") == 0, "%s", sql ? sql : "(null)");
    free(sql);
    /* a field without "search": asked, refused, scanned */
    calls = 0;
    CHECK(compile(roads, "name", "%le loi%", FILTER_DIALECT_SQLITE, 1, &sql, p) == 0);
    CHECK(calls == 1 && sql && strcmp(sql, "(spp_fold(\"name\") LIKE ?)") == 0);
    free(sql);
    /* PostgreSQL: the GIN index serves the unchanged expression; the callback is not asked */
    calls = 0;
    CHECK(compile(parcels, "address", "%tran phu%", FILTER_DIALECT_PG, 1, &sql, p) == 0);
    CHECK(calls == 0 && sql && strcmp(sql, "(spp_fold(\"address\") LIKE ? ESCAPE '')") == 0);
    free(sql);

    /* the one fold: marks, đ, case, white space */
    char *f = store_text_fold("  Số 5  ĐƯỜNG\tTrần Phú ");
    CHECKF(f && strcmp(f, "so 5 duong tran phu") == 0, "%s", f ? f : "(null)");
    free(f);
    CHECK(store_text_fold("\xff\xfe") == NULL);
    catalog_fini(&cat);
    CHECK_DONE();
}
