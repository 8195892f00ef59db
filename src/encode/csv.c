/* SPDX-License-Identifier: MIT */
/* csv.c: CSV (RFC 4180, CRLF line ends). The WFS rows (id, fields, geometry as WKT in the
 * requested CRS: a feature sink like the GeoJSON one) and the cells of the land API's tables
 * (values, rounded numbers, the byte order mark and header titles from the catalog's labels in
 * Vietnamese or English). Which columns a table has is the caller's. */
#include "encode_int.h"

#include <stdio.h>
#include <string.h>

/* Text, quoted when it holds a comma, a quote or a line break. */
static int put_text(struct buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) return buf_puts(b, s);
    int rc = buf_putc(b, '"');
    for (; *s && !rc; s++)
        rc = *s == '"' ? buf_puts(b, "\"\"") : buf_putc(b, *s);
    return rc ? rc : buf_putc(b, '"');
}

static int wkt_points(struct buf *b, const struct geom_part *p, int dec, int swap)
{
    int rc = buf_putc(b, '(');
    for (int i = 0; i < p->n && !rc; i++) {
        if (i) rc = buf_putc(b, ',');
        if (!rc) rc = encode_number(b, p->xy[2 * i + swap], dec);
        if (!rc) rc = buf_putc(b, ' ');
        if (!rc) rc = encode_number(b, p->xy[2 * i + 1 - swap], dec);
    }
    return rc ? rc : buf_putc(b, ')');
}

int encode_wkt(struct buf *b, const struct geom *g, int decimals, int swap)
{
    static const char *const names[] = {"",           "POINT",           "LINESTRING",  "POLYGON",
                                        "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON"};
    if (g->type < 1 || g->type > 6) return 0;
    int multi = g->type > 3, poly = g->type == GT_POLYGON || g->type == GT_MULTIPOLYGON;
    int rc = buf_puts(b, names[g->type]);
    if (!rc && (multi || poly)) rc = buf_putc(b, '(');
    for (int i = 0; i < g->n_parts && !rc; i++) {
        if (poly && multi && !g->parts[i].ring)
            rc = buf_puts(b, i ? "),(" : "(");
        else if (i)
            rc = buf_putc(b, ',');
        if (!rc) rc = wkt_points(b, &g->parts[i], decimals, swap);
    }
    if (!rc && poly && multi) rc = buf_putc(b, ')');
    if (!rc && (multi || poly)) rc = buf_putc(b, ')');
    return rc;
}

void encode_csv_init(struct encode_csv *w, struct buf *out, struct geo_ctx *geo, int src_srid,
                     int dst_srid, int geographic)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    encode_geom_init(&w->geom, geo, src_srid, dst_srid, geographic);
}

void encode_csv_fini(struct encode_csv *w)
{
    encode_geom_fini(&w->geom);
}

int encode_csv_header(struct buf *b, const struct layer_def *l, const int *fields, int n_fields)
{
    int rc = buf_puts(b, "id");
    for (int i = 0; i < n_fields && !rc; i++) {
        rc = buf_putc(b, ',');
        if (!rc) rc = buf_puts(b, l->fields[fields[i]].name);
    }
    return rc ? rc : buf_puts(b, ",geometry\r\n");
}

/* id and field cells of a WFS row, each followed by ','. */
static int put_row_values(struct buf *b, const struct feature *f)
{
    const struct layer_def *l = f->layer;
    int rc = encode_cat(b, l->id, ".", NULL);
    if (!rc) rc = encode_int(b, (long long)f->fid);
    for (int i = 0; i < f->n_fields && !rc; i++) {
        const struct value *v = &f->values[i];
        rc = buf_putc(b, ',');
        if (rc) break;
        if (v->type == VAL_TEXT)
            rc = put_text(b, v->s);
        else if (v->type != VAL_NULL)
            rc = encode_xml_value(b, &l->fields[f->fields[i]], v);
    }
    return rc ? rc : buf_putc(b, ',');
}

int encode_csv_feature(struct encode_csv *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    int rc = put_row_values(b, f);
    if (rc) return encode_nomem(rc, err);
    if (!w->no_geometry && f->wkb && f->wkb_len) {
        struct encode_geom *eg = &w->geom;
        if ((rc = encode_geom_load(eg, f->wkb, f->wkb_len, err))) return rc;
        rc = buf_putc(b, '"');
        if (!rc) rc = encode_wkt(b, &eg->g, eg->decimals, eg->swap_xy);
        if (!rc) rc = buf_putc(b, '"');
    }
    if (!rc) rc = buf_puts(b, "\r\n");
    if (rc) return encode_nomem(rc, err);
    w->n_written++;
    return 0;
}

static int sink_feature(void *ud, const struct feature *f, struct err *err)
{
    return encode_csv_feature(ud, f, err);
}

struct feature_sink encode_csv_sink(struct encode_csv *w)
{
    struct feature_sink s = {NULL, sink_feature, NULL, w};
    return s;
}

int encode_csv_cell(struct buf *b, const char *s, char sep)
{
    int rc = 0;
    if (s && strpbrk(s, ",\"\r\n")) {
        rc = buf_putc(b, '"');
        for (const char *p = s; *p && !rc; p++) {
            if (*p == '"') rc = buf_putc(b, '"');
            if (!rc) rc = buf_putc(b, *p);
        }
        if (!rc) rc = buf_putc(b, '"');
    } else if (s) {
        rc = buf_puts(b, s);
    }
    if (rc) return rc;
    return sep == '\n' ? buf_puts(b, "\r\n") : buf_putc(b, sep);
}

int encode_csv_number(struct buf *b, double v, int decimals, char sep)
{
    char tmp[ENCODE_NUM_ROOM + 1];
    char *end = encode_exact_at(tmp, v, decimals);
    *end = '\0';
    return encode_csv_cell(b, strcmp(tmp, "null") == 0 ? "" : tmp, sep);
}

int encode_csv_value(struct buf *b, const struct value *v, char sep)
{
    char tmp[32];
    switch (v ? v->type : VAL_NULL) {
    case VAL_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->i);
        return encode_csv_cell(b, tmp, sep);
    case VAL_REAL:
        return encode_csv_number(b, v->d, 6, sep);
    case VAL_TEXT:
        return encode_csv_cell(b, v->s, sep);
    default:
        return encode_csv_cell(b, NULL, sep);
    }
}

int encode_csv_bom(struct buf *b)
{
    return buf_puts(b, "\xEF\xBB\xBF");
}

/* "Diện tích (m²)": a label with the unit its values are in, as one cell. */
static int put_label_with_unit(struct buf *b, const char *label, const char *unit, char sep)
{
    struct buf h;
    buf_init(&h);
    int rc = encode_cat(&h, label, " (", strcmp(unit, "m2") == 0 ? "m²" : unit, ")", NULL);
    if (!rc) rc = encode_csv_cell(b, h.data, sep);
    buf_fini(&h);
    return rc;
}

int encode_csv_title(struct buf *b, const struct layer_def *l, const char *col,
                     enum encode_csv_lang lang, const char *title, char sep)
{
    if (lang == ENCODE_CSV_NAMES) return encode_csv_cell(b, col, sep);
    for (int i = 0; l && i < l->n_fields; i++) {
        const struct field_def *f = &l->fields[i];
        if (strcmp(f->name, col) != 0) continue;
        const char *t =
            lang == ENCODE_CSV_EN && f->label_en && *f->label_en ? f->label_en : f->label_vi;
        if (!t || !*t) break;
        if (!f->unit || !*f->unit || strstr(t, "(")) return encode_csv_cell(b, t, sep);
        return put_label_with_unit(b, t, f->unit, sep);
    }
    return encode_csv_cell(b, title ? title : col, sep);
}
