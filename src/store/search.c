/* SPDX-License-Identifier: MIT */
/* search.c: the folded-text substring indexes of the fields the catalog marks "search": true
 * (the web map's address search, /api/v1/search), and the text fold itself (store_text_fold: NFD,
 * marks dropped, đ -> d, case folded, white space collapsed), registered as spp_fold on every
 * SpatiaLite connection. Owns the index tables and their triggers; it does not decide what is
 * searched (webapp/search.c) nor how a pattern is matched (filter/compile.c asks
 * store_search_index and writes the sub-select).
 *
 * SpatiaLite: "spp_search_<layer>_<field>" is an FTS5 table with the trigram tokenizer (SQLite
 * >= 3.34), rowid = fid, t = spp_fold(column), rows only where that is not NULL. Case-sensitive
 * trigrams and GLOB: the folded text and pattern are lower case already, so GLOB on the index
 * answers exactly what spp_fold(column) LIKE pattern answers on the table (SQLite's LIKE folds
 * ASCII case only; a trigram LIKE would fold more). detail=none: the trigrams select candidate
 * rows and FTS5 tests the pattern on each, so a row is found iff it matches. A bulk load drops
 * the table and builds it from the loaded rows (store_search_build). After that, triggers on the
 * layer table (plain SQL: any writer, sqlite3 or a test fixture too, fires them without spp_fold)
 * put every inserted, updated or deleted fid into "spp_search_<layer>_<field>_dirty"; the
 * compiler reads the index for the other rows and folds the dirty ones (a few), so answers are
 * right whoever wrote; spp's own edits flush the list inside their transaction
 * (store_search_flush: re-fold those rows into the index). A store made before has no table:
 * spp import and spp init build it (store_search_ensure); a read-only server scans and says so
 * once in the log.
 *
 * PostGIS: a pg_trgm GIN index on spp_fold(column) (its schema's SQL function), which the
 * planner uses for the compiler's unchanged spp_fold(column) LIKE ? ESCAPE ''; without pg_trgm
 * (not installed, no right to create it) the scan stays and the log says so. */
#include "search.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

char *store_text_fold(const char *s)
{
    if (!s) return NULL;
    utf8proc_uint8_t *dec = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &dec,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                          UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) {
        free(dec);
        return NULL;
    }
    size_t o = 0;
    int space = 1; /* drops leading spaces */
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        unsigned char c = dec[i];
        if (c == 0xC4 && i + 1 < n && (dec[i + 1] == 0x91 || dec[i + 1] == 0x90)) {
            c = 'd'; /* U+0111 đ, U+0110 Đ (casefold maps Đ to đ already) */
            i++;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!space) out[o++] = ' ';
            space = 1;
            continue;
        }
        out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        space = 0;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    free(dec);
    return out;
}

static int put_name(struct buf *b, const struct layer_def *l, const struct field_def *f,
                    const char *suffix)
{
    return buf_printf(b, "\"spp_search_%s_%s%s\"", l->id, f->name, suffix);
}

static int field_drop(struct buf *b, const struct layer_def *l, const struct field_def *f)
{
    static const char *const trig[] = {"_ai", "_ad", "_au"};
    int nomem = 0;
    for (size_t i = 0; i < ARRAY_LEN(trig) && !nomem; i++)
        nomem = buf_puts(b, "DROP TRIGGER IF EXISTS ") || put_name(b, l, f, trig[i]) ||
                buf_puts(b, ";\n");
    return nomem || buf_puts(b, "DROP TABLE IF EXISTS ") || put_name(b, l, f, "") ||
           buf_puts(b, ";\nDROP TABLE IF EXISTS ") || put_name(b, l, f, "_dirty") ||
           buf_puts(b, ";\n");
}

/* Re-folds the rows whose fids are in the dirty list into the index and empties the list. */
static int field_flush(struct buf *b, const struct layer_def *l, const struct field_def *f)
{
    return buf_puts(b, "DELETE FROM ") || put_name(b, l, f, "") ||
           buf_puts(b, " WHERE rowid IN (SELECT fid FROM ") || put_name(b, l, f, "_dirty") ||
           buf_puts(b, ");\nINSERT INTO ") || put_name(b, l, f, "") ||
           buf_puts(b, " (rowid, t) SELECT fid, t FROM (SELECT fid, spp_fold(") ||
           store_put_ident(b, f->name) || buf_puts(b, ") AS t FROM ") ||
           store_put_ident(b, l->id) || buf_puts(b, " WHERE fid IN (SELECT fid FROM ") ||
           put_name(b, l, f, "_dirty") || buf_puts(b, ")) WHERE t IS NOT NULL;\nDELETE FROM ") ||
           put_name(b, l, f, "_dirty") || buf_puts(b, ";\n");
}

/* The trigger named suffix: after `what` on the layer, the fids in `fids` become dirty. */
static int put_trigger(struct buf *b, const struct layer_def *l, const struct field_def *f,
                       const char *suffix, const char *what, const char *fids)
{
    return buf_puts(b, "CREATE TRIGGER ") || put_name(b, l, f, suffix) ||
           buf_printf(b, " AFTER %s", what) ||
           (strcmp(what, "UPDATE") == 0 &&
            (buf_puts(b, " OF fid, ") || store_put_ident(b, f->name))) ||
           buf_puts(b, " ON ") || store_put_ident(b, l->id) ||
           buf_puts(b, " BEGIN INSERT OR IGNORE INTO ") || put_name(b, l, f, "_dirty") ||
           buf_printf(b, " (fid) VALUES %s; END;\n", fids);
}

/* The index filled from the table, an empty dirty list and the triggers (after the fill, so
 * the bulk fill pays no trigger). */
static int field_build(struct buf *b, const struct layer_def *l, const struct field_def *f)
{
    return field_drop(b, l, f) || buf_puts(b, "CREATE VIRTUAL TABLE ") || put_name(b, l, f, "") ||
           buf_puts(b, " USING fts5(t, tokenize = 'trigram case_sensitive 1', detail = none);\n") ||
           buf_puts(b, "CREATE TABLE ") || put_name(b, l, f, "_dirty") ||
           buf_puts(b, " (fid INTEGER PRIMARY KEY);\nINSERT INTO ") || put_name(b, l, f, "") ||
           buf_puts(b, " (rowid, t) SELECT fid, t FROM (SELECT fid, spp_fold(") ||
           store_put_ident(b, f->name) || buf_puts(b, ") AS t FROM ") ||
           store_put_ident(b, l->id) || buf_puts(b, ") WHERE t IS NOT NULL;\n") ||
           put_trigger(b, l, f, "_ai", "INSERT", "(new.fid)") ||
           put_trigger(b, l, f, "_ad", "DELETE", "(old.fid)") ||
           put_trigger(b, l, f, "_au", "UPDATE", "(old.fid), (new.fid)");
}

static int have_index(struct store *st, const struct layer_def *l, const struct field_def *f);

static int has_search(const struct layer_def *l)
{
    for (int i = 0; i < l->n_fields; i++)
        if (l->fields[i].search) return 1;
    return 0;
}

/* Runs what each searchable field of l adds to b (drop or build). */
static int each_field(struct store *st, const struct layer_def *l,
                      int (*add)(struct buf *, const struct layer_def *, const struct field_def *),
                      struct err *err)
{
    if (st->pg || !has_search(l)) return 0;
    struct buf b;
    buf_init(&b);
    int nomem = 0;
    for (int i = 0; i < l->n_fields && !nomem; i++)
        if (l->fields[i].search) nomem = add(&b, l, &l->fields[i]);
    int rc = nomem ? err_set(err, ERR_NOMEM, "out of memory") : store_exec(st, b.data, err);
    buf_fini(&b);
    return rc;
}

int store_search_drop(struct store *st, const struct layer_def *l, struct err *err)
{
    return each_field(st, l, field_drop, err);
}

int store_search_build(struct store *st, const struct layer_def *l, struct err *err)
{
    return each_field(st, l, field_build, err);
}

int store_search_flush(struct store *st, const struct layer_def *l, struct err *err)
{
    for (int i = 0; i < l->n_fields && !st->pg; i++)
        if (l->fields[i].search && !have_index(st, l, &l->fields[i])) return 0; /* made before */
    return each_field(st, l, field_flush, err);
}

/* 1 when the index table of f, its dirty list and its three triggers are in the store. */
static int have_index(struct store *st, const struct layer_def *l, const struct field_def *f)
{
    sqlite3_stmt *s = store_prepare(st,
                                    "SELECT count(*) FROM sqlite_master WHERE name IN (?1,"
                                    " ?1 || '_dirty', ?1 || '_ai', ?1 || '_ad', ?1 || '_au')",
                                    NULL);
    if (!s) return 0;
    char name[256];
    snprintf(name, sizeof name, "spp_search_%s_%s", l->id, f->name);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int yes = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 5;
    sqlite3_reset(s);
    return yes;
}

/* PostGIS: CREATE EXTENSION pg_trgm and one GIN index per searchable field; 0 and a log line
 * when the extension cannot be had (the scan stays). */
static int ensure_pg(struct store *st, const struct catalog *cat, struct err *err)
{
    struct err ignore;
    err_clear(&ignore);
    int have_fields = 0;
    for (int i = 0; i < cat->n_layers; i++)
        have_fields |= has_search(&cat->layers[i]);
    if (!have_fields) return 0;
    if (store_exec(st, "CREATE EXTENSION IF NOT EXISTS pg_trgm", &ignore)) {
        log_msg("notice", "search: no pg_trgm in the database (%s): address search scans",
                ignore.msg);
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        const struct layer_def *l = &cat->layers[i];
        for (int k = 0; k < l->n_fields && !rc; k++) {
            if (!l->fields[k].search) continue;
            struct buf b;
            buf_init(&b);
            if (buf_puts(&b, "CREATE INDEX IF NOT EXISTS ") || put_name(&b, l, &l->fields[k], "") ||
                buf_puts(&b, " ON ") || store_put_ident(&b, l->id) ||
                buf_puts(&b, " USING gin (spp_fold(") || store_put_ident(&b, l->fields[k].name) ||
                buf_puts(&b, ") gin_trgm_ops)"))
                rc = err_set(err, ERR_NOMEM, "out of memory");
            else
                rc = store_exec(st, b.data, err);
            buf_fini(&b);
        }
    }
    return rc;
}

int store_search_ensure(struct store *st, const struct catalog *cat, struct err *err)
{
    if (st->pg) return ensure_pg(st, cat, err);
    int rc = 0;
    for (int i = 0; i < cat->n_layers && !rc; i++) {
        const struct layer_def *l = &cat->layers[i];
        int missing = 0;
        for (int k = 0; k < l->n_fields; k++)
            if (l->fields[k].search && !have_index(st, l, &l->fields[k])) missing = 1;
        if (missing) rc = store_search_build(st, l, err);
    }
    return rc;
}

int store_search_index(void *ud, const struct layer_def *l, int f, struct buf *name)
{
    static atomic_int said; /* the fallback is logged once per process */
    struct store *st = ud;
    if (st->pg || f < 0 || f >= l->n_fields || !l->fields[f].search) return 0;
    if (have_index(st, l, &l->fields[f]))
        return buf_printf(name, "spp_search_%s_%s", l->id, l->fields[f].name) ? 0 : 1;
    if (!atomic_exchange(&said, 1))
        log_msg("notice",
                "search: %s.%s has no search index in this store (made before it): scanning"
                " every row; spp import or spp init (on the writable store) builds it",
                l->id, l->fields[f].name);
    return 0;
}
