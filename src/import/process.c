/* SPDX-License-Identifier: MIT */
/* process.c: one source into its layer. A sample pass (the first SAMPLE records) detects each
 * text field's encoding and collects coordinates and geometries for the CRS decision; field names
 * are decoded and mapped to the catalog (manifest renames, then aliases, case- and
 * diacritics-insensitive). Then every record is normalised: text decoded to NFC, values mapped,
 * coerced and range-checked, codes normalised, defaults and derived values filled, geometry made
 * valid in the storage CRS, lineage added; a record that cannot be normalised is rejected with its
 * row and reason, the rest is inserted with fids in source order. */
#define GEOS_USE_ONLY_R_API
#include "batch_int.h"

#include <geos_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE     2000
#define MAX_LISTED 200

struct fieldinfo {
    int target; /* catalog field index, -1 unmapped */
    enum text_enc enc;
    double conf;
    struct text_detect det;
    struct numcol num; /* decimal mark of the column, from all its values */
};

/* The lineage fields every layer has (layers/common.json): filled by the importer. */
enum lineage_field { LIN_NONE, LIN_FILE, LIN_CRS, LIN_ENCODING, LIN_BATCH };

#define MEMO 32 /* coded values repeat: the last distinct ones per field, with their result */
struct memo {
    char *key, *out;
    char how[64], unknown[128];
    int unk;
};

struct srcstate {
    const struct src_spec *spec;
    const struct layer_def *l;
    struct rec_src *rs;
    struct fieldinfo *fi;
    int nf;
    struct crs_decision crs;
    const char *layer_enc;
    json_t *rep, *rejects, *repairs, *codes;
    int64_t read, written, rejected, repaired;
    int64_t commune_joined; /* commune_code taken from the admin_units polygon containing it */
    int commune_t;          /* index of a required commune_code field, -1 if none */
    /* one record's values, per catalog field */
    int *vt; /* 0 null, 1 int, 2 real, 3 text */
    int64_t *vi;
    double *vd;
    struct buf *vs;
    struct buf wkb, tmp;
    struct value *vals;     /* the record as the store takes it (put_record), per catalog field */
    unsigned char *lineage; /* per catalog field: LIN_NONE or which lineage value it carries */
    struct memo *memo;      /* MEMO per catalog field */
    int *memo_next;
    int cur;           /* source field being filled (-1: a default) */
    int64_t sampled;   /* records read by the sample pass */
    int64_t dups0;     /* geomfix's duplicate-vertex count when the source started */
    int64_t area_diff; /* features whose legal area is off their geometry's */
};

/* ---- sample pass ---- */

static void sample_geom(struct batch *b, struct crs_sample *smp, const struct rec *r, int *cap_xy)
{
    struct geom g;
    geom_init(&g);
    struct err e;
    err_clear(&e);
    if (geom_from_wkb(&g, r->wkb, r->wkb_len, &e) == 0) {
        for (int p = 0; p < g.n_parts; p++)
            for (int k = 0; k < g.parts[p].n && k < 8; k++) {
                if ((int)smp->n >= *cap_xy) {
                    int cap = *cap_xy ? *cap_xy * 2 : 1024;
                    double *xy = realloc(smp->xy, (size_t)cap * 2 * sizeof *xy);
                    if (!xy) break;
                    smp->xy = xy, *cap_xy = cap;
                }
                smp->xy[2 * smp->n] = g.parts[p].xy[2 * k];
                smp->xy[2 * smp->n + 1] = g.parts[p].xy[2 * k + 1];
                smp->n++;
            }
    }
    geom_fini(&g);
    if (smp->n_geoms < 200) {
        GEOSContextHandle_t h = geo_geos(b->geo);
        GEOSWKBReader *rd = GEOSWKBReader_create_r(h);
        GEOSGeometry *gg = GEOSWKBReader_read_r(h, rd, r->wkb, r->wkb_len);
        GEOSWKBReader_destroy_r(h, rd);
        if (gg) smp->geoms[smp->n_geoms++] = gg;
    }
}

static int sample(struct batch *b, struct srcstate *s, struct crs_sample *smp, struct err *err)
{
    struct rec r;
    int rc = 0, n = 0, cap_xy = 0;
    smp->geoms = calloc(200, sizeof(void *));
    enum geom_type t = s->l->geom;
    smp->geom_dim = (t == GT_POINT || t == GT_MULTIPOINT)             ? 0
                    : (t == GT_LINESTRING || t == GT_MULTILINESTRING) ? 1
                                                                      : 2;
    while (n < SAMPLE && (rc = rec_src_next(s->rs, &r, err)) == 1) {
        n++;
        for (int i = 0; i < s->nf; i++)
            if (r.vals[i]) {
                text_detect_add(&s->fi[i].det, r.vals[i], strlen(r.vals[i]));
                if (!r.is_num || !r.is_num[i]) numcol_add(&s->fi[i].num, r.vals[i]);
            }
        if (r.wkb) sample_geom(b, smp, &r, &cap_xy);
    }
    if (rc < 0) return -rc;
    rec_src_rewind(s->rs);
    s->sampled = n;
    if (n == 0)
        return err_set(err, ERR_PARAM, "%s: no features%s", s->spec->path,
                       s->spec->filter ? " (after the filter)" : "");
    return 0;
}

static void free_sample(struct batch *b, struct crs_sample *smp)
{
    GEOSContextHandle_t h = geo_geos(b->geo);
    for (int i = 0; i < smp->n_geoms; i++)
        GEOSGeom_destroy_r(h, smp->geoms[i]);
    free(smp->geoms);
    free(smp->xy);
}

/* ---- encodings and field mapping ---- */

static int is_lineage(const char *name)
{
    return strcmp(name, "src_file") == 0 || strcmp(name, "src_crs") == 0 ||
           strcmp(name, "src_encoding") == 0 || strcmp(name, "import_batch") == 0;
}

static int match_field(const struct layer_def *l, const struct src_spec *spec, const char *raw,
                       const char *name)
{
    char *f = text_fold(name), *fr = text_fold(raw);
    int hit = -1;
    for (int i = 0; i < spec->n_rename && hit < 0; i++) {
        char *fa = text_fold(spec->rename_from[i]);
        if (fa && ((f && strcmp(fa, f) == 0) || (fr && strcmp(fa, fr) == 0)))
            hit = layer_field_index(l, spec->rename_to[i]);
        free(fa);
    }
    for (int i = 0; i < l->n_fields && hit < 0 && f && *f; i++) {
        const struct field_def *fd = &l->fields[i];
        if (is_lineage(fd->name)) continue;
        char *fn = text_fold(fd->name);
        if (fn && strcmp(fn, f) == 0) hit = i;
        free(fn);
        for (int a = 0; a < fd->n_aliases && hit < 0; a++) {
            char *fa = text_fold(fd->aliases[a]);
            if (fa && strcmp(fa, f) == 0) hit = i;
            free(fa);
        }
    }
    free(f), free(fr);
    if (hit < 0) { /* "Độ cao (m)", "Diện tích [m2]": the unit in brackets is not the name */
        const char *open = strrchr(name, '('), *sq = strrchr(name, '[');
        if (!open || (sq && sq > open)) open = sq;
        const char *close = open ? strchr(open, *open == '(' ? ')' : ']') : NULL;
        if (open && open > name && close && close[1 + strspn(close + 1, " ")] == '\0') {
            char *bare = str_ndup(name, (size_t)(open - name));
            if (bare) hit = match_field(l, spec, bare, bare);
            free(bare);
        }
    }
    return hit;
}

static void decide_encodings(struct srcstate *s)
{
    long best_n = -1;
    s->layer_enc = text_enc_name(ENC_ASCII);
    for (int i = 0; i < s->nf; i++) {
        struct fieldinfo *fi = &s->fi[i];
        if (s->spec->has_enc) {
            fi->enc = s->spec->enc, fi->conf = 1;
        } else {
            fi->enc = text_detect_result(&fi->det, &fi->conf);
        }
        if (fi->det.n_nonascii > best_n && fi->enc != ENC_ASCII) {
            best_n = fi->det.n_nonascii;
            s->layer_enc = text_enc_name(fi->enc);
        }
    }
    if (s->spec->has_enc) s->layer_enc = text_enc_name(s->spec->enc);
}

static void map_fields(struct srcstate *s)
{
    struct text_detect names;
    text_detect_init(&names);
    for (int i = 0; i < s->nf; i++) {
        const char *n = rec_src_field_name(s->rs, i);
        text_detect_add(&names, n, strlen(n));
    }
    double c;
    enum text_enc ne = s->spec->has_enc ? s->spec->enc : text_detect_result(&names, &c);
    json_t *mapped = json_object(), *unmapped = json_array(), *enc = json_object();
    int taken[512] = {0};
    /* the first source field wins; a KML's own fields (its placemark Name...) only after the
     * attributes of its description table */
    for (int k = 0; k < 2 * s->nf; k++) {
        int i = k % s->nf;
        if (rec_src_field_weak(s->rs, i) != (k >= s->nf)) continue;
        const char *raw = rec_src_field_name(s->rs, i);
        struct buf nm;
        buf_init(&nm);
        if (text_decode(raw, strlen(raw), ne, &nm)) buf_puts(&nm, raw);
        int t = match_field(s->l, s->spec, raw, nm.data ? nm.data : "");
        if (t >= 0 && t < 512 && taken[t]) t = -1;
        s->fi[i].target = t;
        if (t >= 0) {
            if (t < 512) taken[t] = 1;
            json_object_set_new(mapped, nm.data ? nm.data : raw, json_string(s->l->fields[t].name));
        } else {
            json_array_append_new(unmapped, json_string(nm.data ? nm.data : raw));
        }
        if (s->fi[i].det.n_values) {
            json_t *e = json_object();
            json_object_set_new(e, "encoding", json_string(text_enc_name(s->fi[i].enc)));
            json_object_set_new(e, "confidence", json_real(round(s->fi[i].conf * 1000) / 1000));
            json_object_set_new(e, "values_sampled", json_integer(s->fi[i].det.n_values));
            json_object_set_new(e, "non_ascii", json_integer(s->fi[i].det.n_nonascii));
            json_object_set_new(enc, nm.data ? nm.data : raw, e);
        }
        buf_fini(&nm);
    }
    json_t *fields = json_object();
    json_object_set_new(fields, "mapped", mapped);
    json_object_set_new(fields, "unmapped", unmapped);
    json_object_set_new(fields, "names_encoding", json_string(text_enc_name(ne)));
    json_object_set_new(s->rep, "fields", fields);
    json_t *encs = json_object();
    json_object_set_new(encs, "layer", json_string(s->layer_enc));
    json_object_set_new(encs, "fields", enc);
    json_object_set_new(encs, "pinned", json_boolean(s->spec->has_enc));
    json_object_set_new(s->rep, "encoding", encs);
}

/* A coordinate table's columns also fill the survey fields x_n (northing) and y_e (easting) when
 * the layer has them; "X"/"Y" headers say nothing of the order, the CRS decision does: the first
 * column is the northing only when it swapped the axes. */
static void survey_axes(struct srcstate *s)
{
    int cx, cy, xn = layer_field_index(s->l, "x_n"), ye = layer_field_index(s->l, "y_e");
    if (!rec_src_coord_columns(s->rs, &cx, &cy) || cx < 0 || cy < 0 || xn < 0 || ye < 0) return;
    int want_x = s->crs.swap_xy ? xn : ye, want_y = s->crs.swap_xy ? ye : xn;
    if (s->fi[cx].target == want_y && s->fi[cy].target == want_x) {
        s->fi[cx].target = want_x, s->fi[cy].target = want_y;
        json_t *m = json_object_get(json_object_get(s->rep, "fields"), "mapped");
        json_object_set_new(m, rec_src_field_name(s->rs, cx),
                            json_string(s->l->fields[want_x].name));
        json_object_set_new(m, rec_src_field_name(s->rs, cy),
                            json_string(s->l->fields[want_y].name));
    }
}

/* ---- number formats, per column ---- */

/* Decides each text column's decimal mark from its values. The sample pass saw SAMPLE records;
 * when a column that goes to a number stayed ambiguous there and the source has more, the rest of
 * that column is read too (only then: the second pass costs a read of the source). */
static int decide_numbers(struct batch *b, struct srcstate *s, struct err *err)
{
    int more = 0;
    int64_t total = rec_src_count(s->rs);
    for (int i = 0; i < s->nf; i++) {
        int t = s->fi[i].target;
        if (t < 0) continue;
        enum field_type ft = s->l->fields[t].type;
        const struct numcol *c = &s->fi[i].num;
        if ((ft == FT_REAL || ft == FT_INTEGER) && !c->dot && !c->comma &&
            (c->amb_dot || c->amb_comma) && (total < 0 || total > s->sampled))
            more = 1;
    }
    if (more) {
        struct rec r;
        int rc;
        for (int i = 0; i < s->nf; i++)
            memset(&s->fi[i].num, 0, sizeof s->fi[i].num);
        while ((rc = rec_src_next(s->rs, &r, err)) == 1)
            for (int i = 0; i < s->nf; i++)
                if (s->fi[i].target >= 0 && r.vals[i] && (!r.is_num || !r.is_num[i]))
                    numcol_add(&s->fi[i].num, r.vals[i]);
        if (rc < 0) return -rc;
        rec_src_rewind(s->rs);
    }
    /* the mark the source's columns show, when they agree (one file, one writer) */
    int n_dot = 0, n_comma = 0;
    for (int i = 0; i < s->nf; i++) {
        const struct numcol *c = &s->fi[i].num;
        n_dot += c->dot > 0 && !c->comma, n_comma += c->comma > 0 && !c->dot;
    }
    char hint = n_dot && !n_comma ? '.' : n_comma && !n_dot ? ',' : 0;
    json_t *nf = json_object();
    for (int i = 0; i < s->nf; i++) {
        int t = s->fi[i].target;
        if (t < 0) continue;
        const struct field_def *fd = &s->l->fields[t];
        if (fd->type != FT_REAL && fd->type != FT_INTEGER) continue;
        struct numcol *c = &s->fi[i].num;
        char why[320];
        int bad = numcol_decide(c, fd->type == FT_INTEGER, hint, why, sizeof why);
        if (!why[0]) continue;
        json_t *o = json_object();
        json_object_set_new(o, "decimal_mark", c->dec ? json_sprintf("%c", c->dec) : json_null());
        json_object_set_new(o, "ambiguous", json_boolean(c->ambiguous || c->mixed));
        json_object_set_new(o, "why", json_string(why));
        json_object_set_new(nf, fd->name, o);
        if (bad) {
            char msg[400];
            snprintf(msg, sizeof msg, "field %s: number format: %s", fd->name, why);
            batch_finding(b, s->l->id, s->spec->path, 0, "warning", "number_format", msg);
        }
    }
    json_object_set_new(s->rep, "number_format", nf);
    return 0;
}

static void report_numbers(struct batch *b, struct srcstate *s)
{
    json_t *nf = json_object_get(s->rep, "number_format");
    for (int i = 0; i < s->nf; i++) {
        const struct numcol *c = &s->fi[i].num;
        int t = s->fi[i].target;
        if (t < 0 || !c->contrary) continue;
        const char *name = s->l->fields[t].name;
        json_t *o = json_object_get(nf, name);
        if (o) json_object_set_new(o, "values_contrary", json_integer(c->contrary));
        char msg[256];
        snprintf(msg, sizeof msg,
                 "field %s: %ld values do not follow the column's decimal mark '%c' and were read "
                 "value by value",
                 name, c->contrary, c->dec);
        batch_finding(b, s->l->id, s->spec->path, 0, "warning", "number_format", msg);
    }
}

/* ---- one record ---- */

static void count_in(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static void code_stat(struct srcstate *s, const char *field, const char *how, const char *unknown)
{
    json_t *f = json_object_get(s->codes, field);
    if (!f) {
        f = json_object();
        json_object_set_new(f, "mapped", json_integer(0));
        json_object_set_new(f, "how", json_object());
        json_object_set_new(f, "unknown", json_object());
        json_object_set_new(s->codes, field, f);
    }
    if (how[0]) {
        count_in(f, "mapped");
        count_in(json_object_get(f, "how"), how);
    }
    if (unknown[0]) count_in(json_object_get(f, "unknown"), unknown);
}

/* A value quoted in a message: at most 60 bytes, never half a letter. */
static const char *clip60(const char *v, char buf[61])
{
    snprintf(buf, 61, "%s", v);
    text_utf8_clip(buf);
    return buf;
}

static int set_number(struct srcstate *s, int t, double d, char *why, size_t wn)
{
    const struct field_def *fd = &s->l->fields[t];
    if ((fd->has_min && d < fd->min) || (fd->has_max && d > fd->max)) {
        snprintf(why, wn, "field %s: %g is outside [%g, %g]", fd->name, d,
                 fd->has_min ? fd->min : -INFINITY, fd->has_max ? fd->max : INFINITY);
        return 1;
    }
    if (fd->type == FT_INTEGER) {
        if (fabs(d - round(d)) > 1e-9) {
            snprintf(why, wn, "field %s: %g is not a whole number", fd->name, d);
            return 1;
        }
        s->vt[t] = 1, s->vi[t] = (int64_t)llround(d);
    } else {
        s->vt[t] = 2, s->vd[t] = d;
    }
    return 0;
}

static int set_text_value(struct srcstate *s, int t, const char *v, char *why, size_t wn,
                          struct batch *b, int64_t row)
{
    const struct field_def *fd = &s->l->fields[t];
    buf_reset(&s->vs[t]);
    s->vt[t] = 0;
    if (!v || !*v) return 0;
    char q[61];
    switch (fd->type) {
    case FT_INTEGER:
    case FT_REAL: {
        double d;
        int nr = attr_parse_number_dec(v, s->cur >= 0 ? s->fi[s->cur].num.dec : 0, &d);
        if (nr < 0 || nr > 1) {
            snprintf(why, wn, "field %s: \"%s\" is not a number", fd->name, clip60(v, q));
            return 1;
        }
        if (nr == 1) s->fi[s->cur].num.contrary++;
        return set_number(s, t, d, why, wn);
    }
    case FT_BOOLEAN: {
        int yes;
        if (attr_parse_bool(v, &yes)) {
            snprintf(why, wn, "field %s: \"%s\" is not yes/no", fd->name, clip60(v, q));
            return 1;
        }
        s->vt[t] = 1, s->vi[t] = yes;
        return 0;
    }
    case FT_DATE: {
        char iso[11];
        if (attr_parse_date(v, iso)) {
            snprintf(why, wn, "field %s: \"%s\" is not a date", fd->name, clip60(v, q));
            return 1;
        }
        s->vt[t] = 3;
        return buf_puts(&s->vs[t], iso) ? -ERR_NOMEM : 0;
    }
    default:
        break;
    }
    if (fd->codelist) {
        struct memo *m = NULL, *row_memo = &s->memo[t * MEMO];
        for (int i = 0; i < MEMO && !m; i++)
            if (row_memo[i].key && row_memo[i].key[0] == v[0] && strcmp(row_memo[i].key, v) == 0)
                m = &row_memo[i];
        if (!m) {
            m = &row_memo[s->memo_next[t]];
            s->memo_next[t] = (s->memo_next[t] + 1) % MEMO;
            free(m->key), free(m->out);
            struct buf o;
            buf_init(&o);
            m->unk = attr_code(fd, v, &o, m->how, sizeof m->how, m->unknown, sizeof m->unknown);
            m->key = str_dup(v);
            m->out = o.len ? buf_take(&o, NULL) : NULL; /* an empty buf_take is not a string */
            buf_fini(&o);
        }
        if (m->out && buf_puts(&s->vs[t], m->out)) return -ERR_NOMEM;
        int unk = m->unk;
        const char *how = m->how, *unknown = m->unknown;
        code_stat(s, fd->name, how, unknown);
        if (unk) {
            char msg[320];
            snprintf(msg, sizeof msg,
                     "field %s: unknown code \"%s\" in \"%s\" (not in code list %s): kept as "
                     "the source wrote it",
                     fd->name, unknown, clip60(v, q), fd->codelist->id);
            batch_finding(b, s->l->id, s->spec->path, row, "warning", "unknown_code", msg);
        }
        s->vt[t] = 3; /* known codes, or the source's value as written */
        return 0;
    }
    s->vt[t] = 3;
    return buf_puts(&s->vs[t], v) ? -ERR_NOMEM : 0;
}

static const char *mapped_value(struct srcstate *s, int t, const char *v, char *num)
{
    json_t *vm = s->spec->values ? json_object_get(s->spec->values, s->l->fields[t].name) : NULL;
    json_t *x = vm && v ? json_object_get(vm, v) : NULL;
    if (!x) return v;
    if (json_is_string(x)) return json_string_value(x);
    if (json_is_integer(x)) return snprintf(num, 32, "%lld", (long long)json_integer_value(x)), num;
    if (json_is_real(x)) return snprintf(num, 32, "%.17g", json_real_value(x)), num;
    return NULL;
}

static int fill_values(struct batch *b, struct srcstate *s, const struct rec *r, char *why,
                       size_t wn)
{
    for (int t = 0; t < s->l->n_fields; t++)
        s->vt[t] = 0;
    for (int i = 0; i < s->nf; i++) {
        int t = s->fi[i].target;
        if (t < 0) continue;
        if (!r->vals[i] && r->is_num && r->is_num[i]) { /* a number for a numeric column */
            int rc = set_number(s, t, r->num[i], why, wn);
            if (rc) return rc;
            continue;
        }
        if (!r->vals[i]) continue;
        buf_reset(&s->tmp);
        if (text_decode(r->vals[i], strlen(r->vals[i]), s->fi[i].enc, &s->tmp))
            text_decode(r->vals[i], strlen(r->vals[i]), ENC_CP1252, &s->tmp);
        char *v = s->tmp.data ? s->tmp.data : (char *)"";
        while (*v == ' ')
            v++;
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\r' || v[n - 1] == '\n'))
            v[--n] = 0;
        char num[32];
        s->cur = i;
        int rc = set_text_value(s, t, mapped_value(s, t, v, num), why, wn, b, r->row);
        if (rc) return rc;
    }
    s->cur = -1;
    if (s->spec->defaults) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)s->spec->defaults, k, x)
        {
            int t = layer_field_index(s->l, k);
            if (t < 0 || s->vt[t]) continue;
            char num[32];
            const char *v = json_is_string(x) ? json_string_value(x)
                            : json_is_integer(x)
                                ? (snprintf(num, 32, "%lld", (long long)json_integer_value(x)), num)
                            : json_is_real(x)
                                ? (snprintf(num, 32, "%.17g", json_real_value(x)), num)
                                : NULL;
            int rc = set_text_value(s, t, v, why, wn, b, r->row);
            if (rc) return rc;
        }
    }
    return 0;
}

/* parcel_key = commune (5) + sheet (3) + parcel (4), when the source has the parts only */
static void derive_key(struct srcstate *s)
{
    int k = layer_field_index(s->l, "parcel_key"), c = layer_field_index(s->l, "commune_code"),
        sh = layer_field_index(s->l, "sheet_no"), p = layer_field_index(s->l, "parcel_no");
    if (k < 0 || c < 0 || sh < 0 || p < 0 || s->vt[k] || s->vt[c] != 3 || s->vt[sh] != 1 ||
        s->vt[p] != 1)
        return;
    if (s->vi[sh] < 0 || s->vi[sh] > 999 || s->vi[p] < 0 || s->vi[p] > 9999)
        return; /* no 3+4 digit key */
    char digits[8];
    long long sv = s->vi[sh], pv = s->vi[p];
    for (int i = 2; i >= 0; i--)
        digits[i] = (char)('0' + sv % 10), sv /= 10;
    for (int i = 6; i >= 3; i--)
        digits[i] = (char)('0' + pv % 10), pv /= 10;
    digits[7] = 0;
    buf_reset(&s->vs[k]);
    buf_append(&s->vs[k], s->vs[c].data, s->vs[c].len);
    buf_puts(&s->vs[k], digits);
    s->vt[k] = 3;
}

/* The record's values as the store takes them, lineage filled in; then the store's put. */
static int put_record(struct batch *b, struct srcstate *s, int64_t fid, struct err *err)
{
    for (int t = 0; t < s->l->n_fields; t++) {
        struct value *v = &s->vals[t];
        const char *lin = NULL;
        switch (s->lineage[t]) {
        case LIN_FILE:
            lin = s->spec->path;
            break;
        case LIN_CRS:
            lin = s->crs.detected;
            break;
        case LIN_ENCODING:
            lin = s->layer_enc;
            break;
        case LIN_BATCH:
            lin = b->batch_id;
            break;
        default:
            break;
        }
        if (s->lineage[t] != LIN_NONE)
            v->type = VAL_TEXT, v->s = lin, v->len = -1;
        else if (s->vt[t] == 1)
            v->type = VAL_INT, v->i = s->vi[t];
        else if (s->vt[t] == 2)
            v->type = VAL_REAL, v->d = s->vd[t];
        else if (s->vt[t] == 3)
            v->type = VAL_TEXT, v->s = s->vs[t].data, v->len = (int)s->vs[t].len;
        else
            v->type = VAL_NULL;
    }
    return store_load_put(b->ld, fid, s->vals, (const unsigned char *)s->wkb.data, s->wkb.len, err);
}

static void note(json_t *list, int64_t row, const char *key, const char *msg)
{
    if (json_array_size(list) >= MAX_LISTED) return;
    json_t *o = json_object();
    json_object_set_new(o, "row", json_integer(row));
    json_object_set_new(o, key, json_string(msg));
    json_array_append_new(list, o);
}

static int reject(struct batch *b, struct srcstate *s, int64_t row, const char *why)
{
    s->rejected++;
    if (!b->first_reject[0])
        snprintf(b->first_reject, sizeof b->first_reject, "%s row %lld: %s", s->spec->path,
                 (long long)row, why);
    if (b->n_layer_rejected++ == 0)
        snprintf(b->reject_reason, sizeof b->reject_reason, "%s", why);
    else if (b->reject_same && strcmp(b->reject_reason, why) != 0)
        b->reject_same = 0;
    note(s->rejects, row, "reason", why);
    return batch_finding(b, s->l->id, s->spec->path, row, "error", "rejected", why);
}

/* A parcel without a commune code takes it from the admin_units commune containing a point on
 * its surface (storage CRS), when the store has communes. */
static int join_commune(struct batch *b, struct srcstate *s, struct err *err)
{
    int rc = batch_communes_load(b, err);
    if (rc || !b->communes.n) return rc;
    GEOSContextHandle_t h = geo_geos(b->geo);
    GEOSWKBReader *rd = GEOSWKBReader_create_r(h);
    GEOSGeometry *g =
        rd ? GEOSWKBReader_read_r(h, rd, (const unsigned char *)s->wkb.data, s->wkb.len) : NULL;
    GEOSGeometry *pt = g ? GEOSPointOnSurface_r(h, g) : NULL;
    const char *code = pt ? batch_commune_at(b, pt) : NULL;
    if (code) {
        buf_reset(&s->vs[s->commune_t]);
        if (buf_puts(&s->vs[s->commune_t], code)) rc = err_set(err, ERR_NOMEM, "out of memory");
        s->vt[s->commune_t] = 3;
        s->commune_joined++;
    }
    if (pt) GEOSGeom_destroy_r(h, pt);
    if (g) GEOSGeom_destroy_r(h, g);
    if (rd) GEOSWKBReader_destroy_r(h, rd);
    return rc;
}

/* The first required field without a value, named with its cause and fix: the parts of a
 * derived key before the key itself, and a missing commune with the three ways to give it. */
static int missing_required(struct batch *b, struct srcstate *s, char *why, size_t wn)
{
    for (int pass = 0; pass < 2; pass++)
        for (int t = 0; t < s->l->n_fields; t++) {
            const struct field_def *fd = &s->l->fields[t];
            if (!fd->required || s->vt[t] || is_lineage(fd->name) || (t == s->l->key) != pass)
                continue;
            if (t != s->commune_t) {
                snprintf(why, wn,
                         "required field %s is missing: map a source column to it with --rename "
                         "COLUMN=%s or a manifest \"rename\", or give it with --set %s=VALUE or "
                         "a manifest \"defaults\"",
                         fd->name, fd->name, fd->name);
            } else if (b->communes.n) {
                snprintf(why, wn,
                         "commune_code is missing and the feature lies in no commune of "
                         "admin_units: give it with --set commune_code=%s or a manifest "
                         "\"defaults\"",
                         b->communes.codes[0]);
            } else {
                snprintf(why, wn,
                         "commune_code is missing: give it with --set commune_code=31135, a "
                         "manifest \"defaults\", or import admin_units first");
            }
            return 1;
        }
    return 0;
}

/* The area the source gives (a parcel's legal area) against its geometry's: a difference of more
 * than AREA_TOL_REL of the stated area and more than AREA_TOL_M2 is a finding. Survey error at
 * 1:500-1:2000 and rounding of certificate areas stay well inside it; what is outside is another
 * parcel's area, a typo, or a geometry in the wrong units. */
#define AREA_TOL_REL 0.05
#define AREA_TOL_M2  1.0

static void check_area(struct batch *b, struct srcstate *s, int64_t row, double measure)
{
    for (int t = 0; t < s->l->n_fields; t++) {
        const struct field_def *fd = &s->l->fields[t];
        if (fd->derive != DERIVE_AREA || s->vt[t] != 2 || !(measure > 0)) continue;
        double stated = s->vd[t], diff = fabs(stated - measure);
        if (diff <= AREA_TOL_M2 || diff <= AREA_TOL_REL * fabs(stated)) continue;
        char msg[256];
        snprintf(msg, sizeof msg,
                 "field %s: the source says %.2f m2, the geometry measures %.2f m2 (%+.1f%%, "
                 "tolerance %.0f%% and %.0f m2)",
                 fd->name, stated, measure, stated ? 100 * (measure - stated) / stated : 100.0,
                 100 * AREA_TOL_REL, AREA_TOL_M2);
        s->area_diff++;
        batch_finding(b, s->l->id, s->spec->path, row, "warning", "area_mismatch", msg);
    }
}

static int one_record(struct batch *b, struct srcstate *s, const struct rec *r, int64_t *fid,
                      struct err *err)
{
    char why[384] = "", fixed[160];
    int rc = fill_values(b, s, r, why, sizeof why);
    if (rc < 0) return err_set(err, -rc, "out of memory");
    if (rc) return reject(b, s, r->row, why);
    double measure;
    struct bbox box;
    rc = geomfix_run(b->gf, r->wkb, r->wkb_len, s->crs.swap_xy, s->crs.srid, b->srid, s->l->geom,
                     &s->wkb, &measure, &box, fixed, sizeof fixed, why, sizeof why);
    if (rc < 0) return err_set(err, -rc, "out of memory");
    if (rc) return reject(b, s, r->row, why);
    if (s->commune_t >= 0 && !s->vt[s->commune_t] && (rc = join_commune(b, s, err))) return rc;
    derive_key(s);
    for (int t = 0; t < s->l->n_fields; t++) {
        const struct field_def *fd = &s->l->fields[t];
        if (fd->derive != DERIVE_NONE && (!s->vt[t] || s->vt[t] == 4) && measure > 0)
            s->vt[t] = 2, s->vd[t] = round(measure * 100) / 100;
    }
    if (missing_required(b, s, why, sizeof why)) return reject(b, s, r->row, why);
    if (s->l->geom == GT_POLYGON || s->l->geom == GT_MULTIPOLYGON)
        check_area(b, s, r->row, measure);
    if (fixed[0]) {
        s->repaired++;
        note(s->repairs, r->row, "repair", fixed);
        batch_finding(b, s->l->id, s->spec->path, r->row, "info", "repaired", fixed);
    }
    batch_cells_add(b, &box);
    s->written++;
    return put_record(b, s, ++*fid, err);
}

/* ---- the source ---- */

static json_t *crs_json(const struct crs_decision *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "declared", json_string(d->declared));
    json_object_set_new(o, "detected", json_string(d->detected));
    json_object_set_new(o, "used", json_string(d->detected));
    json_object_set_new(o, "swap_xy", json_boolean(d->swap_xy));
    json_object_set_new(o, "repaired", json_boolean(d->repaired));
    json_object_set_new(o, "reason", json_string(d->reason));
    return o;
}

static int stream(struct batch *b, struct srcstate *s, int64_t *fid, struct err *err)
{
    struct rec r;
    int rc, more;
    int64_t total = rec_src_count(s->rs);
    char label[160];
    snprintf(label, sizeof label, "%s <- %s", s->l->id, s->spec->path);
    progress_update(b, label, 0, total, 0);
    while ((more = rec_src_next(s->rs, &r, err)) == 1) {
        s->read++;
        if ((rc = one_record(b, s, &r, fid, err))) return rc;
        if ((s->read & 1023) == 0) progress_update(b, label, s->read, total, 0);
    }
    progress_update(b, label, s->read, total, 1);
    return more < 0 ? -more : 0;
}

static void state_fini(struct srcstate *s)
{
    for (int t = 0; s->vs && t < s->l->n_fields; t++)
        buf_fini(&s->vs[t]);
    for (int i = 0; s->memo && i < s->l->n_fields * MEMO; i++)
        free(s->memo[i].key), free(s->memo[i].out);
    free(s->memo), free(s->memo_next);
    free(s->vs), free(s->vt), free(s->vi), free(s->vd), free(s->fi);
    free(s->vals), free(s->lineage);
    buf_fini(&s->wkb), buf_fini(&s->tmp);
    rec_src_close(s->rs);
}

static int state_init(struct srcstate *s, const struct src_spec *spec, struct err *err)
{
    memset(s, 0, sizeof *s);
    s->cur = -1;
    s->spec = spec;
    s->l = spec->layer;
    s->commune_t = layer_field_index(s->l, "commune_code");
    if (s->commune_t >= 0 && !s->l->fields[s->commune_t].required) s->commune_t = -1;
    int rc = rec_src_open(spec, s->l->geom, &s->rs, err);
    if (rc) return rc;
    s->nf = rec_src_n_fields(s->rs);
    int n = s->l->n_fields;
    s->fi = calloc((size_t)s->nf + 1, sizeof *s->fi);
    s->vt = calloc((size_t)n, sizeof *s->vt);
    s->vi = calloc((size_t)n, sizeof *s->vi);
    s->vd = calloc((size_t)n, sizeof *s->vd);
    s->vs = calloc((size_t)n, sizeof *s->vs);
    s->memo = calloc((size_t)n * MEMO, sizeof *s->memo);
    s->memo_next = calloc((size_t)n, sizeof *s->memo_next);
    s->vals = calloc((size_t)n + 1, sizeof *s->vals);
    s->lineage = calloc((size_t)n + 1, sizeof *s->lineage);
    if (!s->fi || !s->vt || !s->vi || !s->vd || !s->vs || !s->memo || !s->memo_next || !s->vals ||
        !s->lineage)
        return err_set(err, ERR_NOMEM, "out of memory");
    static const char *const lineage_names[] = {"", "src_file", "src_crs", "src_encoding",
                                                "import_batch"};
    for (int t = 0; t < n; t++)
        for (int k = LIN_FILE; k <= LIN_BATCH; k++)
            if (strcmp(s->l->fields[t].name, lineage_names[k]) == 0)
                s->lineage[t] = (unsigned char)k;
    for (int i = 0; i < s->nf; i++)
        text_detect_init(&s->fi[i].det);
    buf_init(&s->wkb), buf_init(&s->tmp);
    return 0;
}

static void finish_report(struct batch *b, struct srcstate *s)
{
    json_object_set_new(s->rep, "read", json_integer(s->read));
    json_object_set_new(s->rep, "written", json_integer(s->written));
    json_object_set_new(s->rep, "rejected", json_integer(s->rejected));
    json_object_set_new(s->rep, "repaired", json_integer(s->repaired));
    if (s->commune_t >= 0)
        json_object_set_new(s->rep, "commune_from_admin_units", json_integer(s->commune_joined));
    int64_t dups = geomfix_dups_removed(b->gf) - s->dups0;
    json_object_set_new(s->rep, "duplicate_vertices_removed", json_integer(dups));
    json_object_set_new(s->rep, "area_mismatches", json_integer(s->area_diff));
    json_t *lr = report_layer(b, s->l);
    const char *keys[] = {"read", "written", "rejected", "repaired", "duplicate_vertices_removed"};
    int64_t vals[] = {s->read, s->written, s->rejected, s->repaired, dups};
    for (int i = 0; i < 5; i++)
        json_object_set_new(
            lr, keys[i], json_integer(json_integer_value(json_object_get(lr, keys[i])) + vals[i]));
    json_array_append(json_object_get(lr, "sources"), s->rep);
    b->n_read += s->read, b->n_written += s->written, b->n_rejected += s->rejected;
}

int batch_source(struct batch *b, const struct src_spec *spec, int64_t *fid, struct err *err)
{
    struct srcstate s;
    struct crs_sample smp;
    memset(&smp, 0, sizeof smp);
    int rc = state_init(&s, spec, err);
    if (!rc) rc = sample(b, &s, &smp, err);
    if (!rc) {
        s.rep = json_object();
        s.rejects = json_array(), s.repairs = json_array(), s.codes = json_object();
        json_object_set_new(s.rep, "file", json_string(spec->path));
        json_object_set_new(s.rep, "layer", json_string(s.l->id));
        json_object_set_new(s.rep, "format", json_string(rec_src_format(s.rs)));
        json_object_set_new(s.rep, "mode", json_string(rec_src_mode(s.rs)));
        if (spec->filter) json_object_set_new(s.rep, "filter", json_string(spec->filter));
        if (rec_src_keys_filled(s.rs)) /* corner rows whose blank key was the one above */
            json_object_set_new(s.rep, "keys_filled_down", json_integer(rec_src_keys_filled(s.rs)));
        if (rec_src_header_row(s.rs)) /* a title above a table's header */
            json_object_set_new(s.rep, "header_row", json_integer(rec_src_header_row(s.rs)));
        decide_encodings(&s);
        map_fields(&s);
        for (int i = 0; i < s.nf; i++) {
            int t = s.fi[i].target;
            enum field_type ft = t >= 0 ? s.l->fields[t].type : FT_TEXT;
            json_t *vm =
                spec->values && t >= 0 ? json_object_get(spec->values, s.l->fields[t].name) : NULL;
            if ((ft == FT_INTEGER || ft == FT_REAL) && !vm) rec_src_numeric_only(s.rs, i);
        }
        rc = decide_numbers(b, &s, err);
        batch_refresh_area(b, s.l);
        crs_prefer_city(&b->cx);
        if (s.l->geom != GT_LINESTRING && s.l->geom != GT_MULTILINESTRING &&
            strcmp(s.l->id, "cadastral_parcels"))
            batch_refresh_ref(b);
        b->cx.want_public = strcmp(s.l->id, "public_facilities") == 0;
        if (!rc)
            rc = crs_decide(&b->cx, spec->path, rec_src_srs(s.rs), spec->crs, &smp, &s.crs, err);
    }
    free_sample(b, &smp);
    if (!rc) {
        json_object_set_new(s.rep, "crs", crs_json(&s.crs));
        if (s.crs.repaired) batch_finding(b, s.l->id, spec->path, 0, "info", "crs", s.crs.reason);
        survey_axes(&s);
        s.dups0 = geomfix_dups_removed(b->gf);
        rc = stream(b, &s, fid, err);
    }
    if (!rc) report_numbers(b, &s);
    if (!rc) {
        json_object_set(s.rep, "rejects", s.rejects);
        json_object_set(s.rep, "repairs", s.repairs);
        json_object_set(s.rep, "codes", s.codes);
        finish_report(b, &s);
        json_array_append(b->sources, s.rep);
    }
    json_decref(s.rep), json_decref(s.rejects), json_decref(s.repairs), json_decref(s.codes);
    state_fini(&s);
    return rc;
}
