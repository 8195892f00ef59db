/* SPDX-License-Identifier: MIT */
/* table.c: coordinate tables (CSV/XLSX/ODS rows with X/Y, E/N or lon/lat columns, named in
 * Vietnamese or English, numbers with either decimal mark, angles in degrees, minutes and
 * seconds): one point per row, or one polygon per key with its corners in order; a title above
 * the header is found and skipped. Must not: read features with geometry (source.c). */
#include "source_int.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- coordinate tables ---- */

static int name_in(const char *folded, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(folded, *list) == 0) return 1;
    return 0;
}

/* A coordinate header folded for matching: the unit in brackets dropped ("X (m)", "Kinh độ
 * [độ]", "E [m]"), then case, diacritics and punctuation folded, then a trailing unit ("Xm",
 * "Y_m", "X met", "kinh do deg") and a leading "toa do"/"coord" word dropped: "Tọa độ X (m)" and
 * "toa_do_x" are both "x". */
static char *coord_fold(const char *name)
{
    char buf[256];
    size_t k = 0;
    int depth = 0;
    for (const char *p = name; *p && k + 1 < sizeof buf; p++) {
        if (*p == '(' || *p == '[' || *p == '{')
            depth++;
        else if (depth && (*p == ')' || *p == ']' || *p == '}'))
            depth--;
        else if (!depth)
            buf[k++] = *p;
    }
    buf[k] = 0;
    char *f = text_fold(buf);
    if (!f) return NULL;
    static const char *const units[] = {"met", "meter", "metre", "deg", "degree", "m", NULL};
    static const char *const heads[] = {"toado", "coordinate", "coord", "truc", NULL};
    for (int i = 0; heads[i]; i++) {
        size_t n = strlen(heads[i]);
        if (strncmp(f, heads[i], n) == 0 && f[n]) memmove(f, f + n, strlen(f + n) + 1);
    }
    size_t n = strlen(f);
    for (int i = 0; units[i]; i++) {
        size_t u = strlen(units[i]);
        /* only after a one-letter axis name (xm, em, ym, nm) or a known axis word */
        if (n > u && strcmp(f + n - u, units[i]) == 0 && (n - u == 1 || strcmp(units[i], "m"))) {
            f[n - u] = 0;
            break;
        }
    }
    return f;
}

/* The folded name a column is known by for the coordinate roles: the manifest's rename target
 * when it names the column, else the column's own name. */
static char *table_name(const struct rec_src *rs, const struct src_spec *spec, int i)
{
    char *own = text_fold(rs->names[i]);
    for (int r = 0; own && spec && r < spec->n_rename; r++) {
        char *from = text_fold(spec->rename_from[r]);
        int hit = from && strcmp(from, own) == 0;
        free(from);
        if (hit) {
            free(own);
            return coord_fold(spec->rename_to[r]);
        }
    }
    free(own);
    return coord_fold(rs->names[i]);
}

/* x: easting or longitude, y: northing or latitude (a survey table's X is the northing: the
 * CRS decision swaps by range) */
static const char *const coord_xs[] = {"lon",  "long",      "lng",       "longitude", "kinhdo",
                                       "kd",   "x",         "xn",        "e",         "easting",
                                       "dong", "huongdong", "toadodong", "east",      NULL};
static const char *const coord_ys[] = {"lat", "latitude", "vido", "vd",       "y",     "ye",
                                       "n",   "northing", "bac",  "huongbac", "north", NULL};

int source_coord_name(const char *name)
{
    char *f = coord_fold(name);
    int hit = f && (name_in(f, coord_xs) || name_in(f, coord_ys));
    free(f);
    return hit;
}

int src_table_columns(struct rec_src *rs, const struct src_spec *spec, int *cx, int *cy,
                      int *corder)
{
    static const char *const os[] = {"moc",    "stt",   "thutu",     "diem",   "order",
                                     "vertex", "dinh",  "sohieumoc", "tenmoc", "sothutu",
                                     "mocso",  "somoc", "tt",        NULL};
    *cx = *cy = *corder = -1;
    for (int i = 0; i < rs->n_fields; i++) {
        char *f = table_name(rs, spec, i);
        if (!f) continue;
        if (*cx < 0 && name_in(f, coord_xs))
            *cx = i;
        else if (*cy < 0 && name_in(f, coord_ys))
            *cy = i;
        else if (*corder < 0 && name_in(f, os))
            *corder = i;
        free(f);
    }
    return *cx >= 0 && *cy >= 0 ? 0 : ERR_PARAM;
}

static char **row_values(struct rec_src *rs, OGRFeatureH f)
{
    char **vals = calloc((size_t)rs->n_fields + 1, sizeof(char *));
    for (int i = 0; vals && i < rs->n_fields; i++)
        if (OGR_F_IsFieldSetAndNotNull(f, i)) vals[i] = str_dup(OGR_F_GetFieldAsString(f, i));
    return vals;
}

static int key_column(struct rec_src *rs, const struct src_spec *spec, int cx, int cy, int co)
{
    const struct layer_def *l = spec->layer;
    if (l->key >= 0) {
        const struct field_def *kf = &l->fields[l->key];
        for (int i = 0; i < rs->n_fields; i++) {
            char *f = text_fold(rs->names[i]);
            int hit = 0;
            for (int r = 0; f && r < spec->n_rename && !hit; r++) {
                char *from = text_fold(spec->rename_from[r]);
                hit = from && strcmp(from, f) == 0 && strcmp(spec->rename_to[r], kf->name) == 0;
                free(from);
            }
            if (!hit && f) {
                char *fk = text_fold(kf->name);
                hit = fk && strcmp(fk, f) == 0;
                free(fk);
            }
            for (int a = 0; f && a < kf->n_aliases && !hit; a++) {
                char *fa = text_fold(kf->aliases[a]);
                hit = fa && strcmp(fa, f) == 0;
                free(fa);
            }
            free(f);
            if (hit) return i;
        }
    }
    for (int i = 0; i < rs->n_fields; i++)
        if (i != cx && i != cy && i != co) return i;
    return -1;
}

/* A spreadsheet whose first row is a title ("BẢNG TỌA ĐỘ MỐC RANH GIỚI"), maybe a blank row,
 * and only then the header: when the first row names no coordinate columns, the sheet is read
 * again without a header and the first of its rows (up to HEADER_SEARCH) that names them is
 * taken as the header; the rows above it are not data. 0 when found (rs->names, rs->ds, rs->lyr
 * and rs->header_row replaced), ERR_NOT_FOUND when not (rs unchanged), ERR_NOMEM. */
#define HEADER_SEARCH 15
int src_find_header_row(struct rec_src *rs, const struct src_spec *spec, const char *open_path)
{
    const char *cfg = str_ieq(rs->format, "XLSX")  ? "OGR_XLSX_HEADERS"
                      : str_ieq(rs->format, "ODS") ? "OGR_ODS_HEADERS"
                      : str_ieq(rs->format, "XLS") ? "OGR_XLS_HEADERS"
                                                   : NULL;
    if (!cfg && !str_ieq(rs->format, "CSV")) return ERR_NOT_FOUND;
    const char *csv_opts[] = {"HEADERS=NO", NULL};
    if (cfg) CPLSetThreadLocalConfigOption(cfg, "DISABLE");
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH ds =
        GDALOpenEx(open_path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, cfg ? NULL : csv_opts, NULL);
    CPLPopErrorHandler();
    if (cfg) CPLSetThreadLocalConfigOption(cfg, NULL);
    OGRLayerH lyr = ds ? GDALDatasetGetLayerByName(ds, OGR_L_GetName(rs->lyr)) : NULL;
    if (!lyr) {
        if (ds) GDALClose(ds);
        return ERR_NOT_FOUND;
    }
    int n = OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(lyr)), found = 0, rc = 0, row = 0;
    char **old_names = rs->names;
    int old_n = rs->n_fields;
    char **names = NULL;
    OGRFeatureH f;
    rs->n_fields = n;
    while (!found && !rc && row < HEADER_SEARCH && (f = OGR_L_GetNextFeature(lyr)) != NULL) {
        row++;
        names = calloc((size_t)n + 1, sizeof *names);
        for (int i = 0; names && i < n; i++)
            names[i] =
                str_dup(OGR_F_IsFieldSetAndNotNull(f, i) ? OGR_F_GetFieldAsString(f, i) : "");
        OGR_F_Destroy(f);
        for (int i = 0; names && i < n; i++)
            if (!names[i]) rc = ERR_NOMEM;
        if (!names) rc = ERR_NOMEM;
        if (rc) break;
        rs->names = names;
        int cx, cy, co;
        found = src_table_columns(rs, spec, &cx, &cy, &co) == 0;
        if (!found) src_free_strv(names, n), names = NULL;
    }
    if (!found || rc) {
        if (names) src_free_strv(names, n);
        rs->names = old_names, rs->n_fields = old_n;
        GDALClose(ds);
        return rc ? rc : ERR_NOT_FOUND;
    }
    src_free_strv(old_names, old_n);
    GDALClose(rs->ds);
    rs->ds = ds, rs->lyr = lyr, rs->names = names, rs->header_row = row;
    return 0;
}

static int is_blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == 0;
}

/* A coordinate cell: a number with its column's decimal mark (0, or 1 when it did not follow
 * it), else an angle in degrees, minutes and seconds ("10°02'15.3\"N": 0); ERR_PARAM. */
static int coord_value(const char *v, char dec, double *out)
{
    if (!v) return ERR_PARAM;
    int rc = attr_parse_number_dec(v, dec, out);
    return rc == ERR_PARAM ? attr_parse_dms(v, out) : rc;
}

int src_read_table(struct rec_src *rs, const struct src_spec *spec, enum geom_type want,
                   struct err *err)
{
    int cx, cy, co;
    int found = src_table_columns(rs, spec, &cx, &cy, &co);
    rs->coord_x = cx, rs->coord_y = cy;
    if (found)
        return err_set(err, ERR_PARAM,
                       "%s: no geometry and no coordinate columns (X/Y, lon/lat, E/N, Kinh độ/Vĩ "
                       "độ, Đông/Bắc; give others with the manifest's \"rename\": {\"COL\": "
                       "\"x\"})",
                       spec->path);
    int polygons = want == GT_POLYGON || want == GT_MULTIPOLYGON;
    int kc = polygons ? key_column(rs, spec, cx, cy, co) : -1;
    OGR_L_ResetReading(rs->lyr);
    OGRFeatureH f;
    int64_t row = 0;
    int rc = 0;
    for (int i = 0; i < rs->header_row && (f = OGR_L_GetNextFeature(rs->lyr)) != NULL; i++)
        OGR_F_Destroy(f); /* the title rows above the header, and the header */
    /* every row first: the coordinate columns' decimal mark is decided from all their values
     * ("586.034,5" and "1.109.012" in one sheet: ',' is the decimal mark, '.' groups thousands) */
    struct numcol ncx, ncy;
    memset(&ncx, 0, sizeof ncx), memset(&ncy, 0, sizeof ncy);
    while (!rc && (f = OGR_L_GetNextFeature(rs->lyr)) != NULL) {
        row++;
        char **vals = row_values(rs, f);
        OGR_F_Destroy(f);
        if (!vals) {
            rc = ERR_NOMEM;
            break;
        }
        if (vals[cx]) numcol_add(&ncx, vals[cx]);
        if (vals[cy]) numcol_add(&ncy, vals[cy]);
        rc = src_add_rec(rs, vals, NULL, 0);
        if (!rc) rs->recs[rs->n_recs - 1].row = row;
    }
    char why[320];
    char hint = ncx.dot || ncy.dot       ? (ncx.comma || ncy.comma ? 0 : '.')
                : ncx.comma || ncy.comma ? ','
                                         : 0;
    numcol_decide(&ncx, 0, hint, why, sizeof why), numcol_decide(&ncy, 0, hint, why, sizeof why);
    int k = 0, r = 0, seen_data = 0;
    for (; r < rs->n_recs && !rc; r++) {
        struct mrec m = rs->recs[r];
        double x, y;
        /* 0 or 1 is a number (1: read against the column's decimal mark), ERR_PARAM is not */
        int px = coord_value(m.vals[cx], ncx.dec, &x);
        int py = coord_value(m.vals[cy], ncy.dec, &y);
        if ((px != 0 && px != 1) || (py != 0 && py != 1)) {
            /* not data: a blank row, and a title between the header and the first point (no
             * number in any cell, no digit in its coordinate cells). Any other row (after the
             * first point, a row with a name or a note but no coordinates) goes on without
             * geometry and is rejected with its row and reason, like any feature that cannot be
             * normalised: never dropped unseen */
            int data = 0;
            for (int c = 0; c < rs->n_fields && !data; c++)
                data = m.vals[c] && !is_blank(m.vals[c]) && seen_data;
            data = data || (m.vals[cx] && strpbrk(m.vals[cx], "0123456789")) ||
                   (m.vals[cy] && strpbrk(m.vals[cy], "0123456789"));
            for (int c = 0; c < rs->n_fields && !data; c++) {
                double d;
                data = m.vals[c] && attr_parse_number(m.vals[c], &d) == 0;
            }
            if (!data) {
                src_free_strv(m.vals, rs->n_fields);
                continue;
            }
            m.wkb = NULL, m.wkb_len = 0;
            rs->recs[k++] = m;
            continue;
        }
        seen_data = 1;
        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(pt, 0, x, y);
        m.wkb = src_export_wkb(pt, &m.wkb_len);
        OGR_G_DestroyGeometry(pt);
        if (!m.wkb) rc = ERR_NOMEM;
        rs->recs[k++] = m;
    }
    for (; r < rs->n_recs; r++) /* after an error: the rows not reached */
        src_free_strv(rs->recs[r].vals, rs->n_fields);
    rs->n_recs = k;
    if (rc || !polygons) return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
    if (kc < 0) return err_set(err, ERR_PARAM, "%s: corner table without a key column", spec->path);
    /* group corners by key (first appearance order), ordered by the corner column */
    struct mrec *pts = rs->recs;
    int n = rs->n_recs;
    rs->recs = NULL, rs->n_recs = rs->cap_recs = 0;
    char *done = calloc((size_t)n + 1, 1);
    if (!done) rc = ERR_NOMEM;
    /* a blank key below a key is that key (a merged cell in the sheet, read as one value and
     * blanks): filled down and counted for the report; a corner row with no key above it is
     * rejected on its own, never drawn into another key's polygon */
    const char *above = NULL;
    for (int i = 0; i < n && !rc; i++) {
        char **kv = &pts[i].vals[kc];
        if (*kv && !is_blank(*kv)) {
            above = *kv;
        } else if (above) {
            free(*kv);
            if (!(*kv = str_dup(above))) rc = ERR_NOMEM;
            rs->keys_filled++;
        } else {
            char **vals = pts[i].vals;
            pts[i].vals = NULL, done[i] = 1;
            rc = src_add_rec(rs, vals, NULL, 0);
            if (!rc)
                rs->recs[rs->n_recs - 1].row = pts[i].row;
            else
                src_free_strv(vals, rs->n_fields);
        }
    }
    for (int i = 0; i < n && !rc; i++) {
        if (done[i] || !pts[i].vals || !pts[i].vals[kc]) continue;
        OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
        int corner_missing = 0; /* a corner row without coordinates: no polygon, rejected */
        for (;;) {              /* the key's corners by their order column (row order on ties) */
            int pick = -1;
            double best = 1e300;
            for (int j = i; j < n; j++) {
                if (done[j] || !pts[j].vals || !pts[j].vals[kc] ||
                    strcmp(pts[j].vals[kc], pts[i].vals[kc]))
                    continue;
                double o = j;
                if (co >= 0 && pts[j].vals[co]) attr_parse_number(pts[j].vals[co], &o);
                if (o < best) best = o, pick = j;
            }
            if (pick < 0) break;
            done[pick] = 1;
            double x, y;
            if (!pts[pick].wkb) { /* kept above without geometry: its cells are not numbers */
                corner_missing = 1;
                continue;
            }
            coord_value(pts[pick].vals[cx], ncx.dec, &x);
            coord_value(pts[pick].vals[cy], ncy.dec, &y);
            OGR_G_AddPoint_2D(ring, x, y);
        }
        OGRGeometryH poly = OGR_G_CreateGeometry(wkbPolygon);
        OGR_G_AddGeometryDirectly(poly, ring);
        OGR_G_CloseRings(poly);
        size_t len = 0;
        unsigned char *wkb = corner_missing ? NULL : src_export_wkb(poly, &len);
        OGR_G_DestroyGeometry(poly);
        char **vals = pts[i].vals;
        pts[i].vals = NULL;
        rc = src_add_rec(rs, vals, wkb, len);
        if (!rc) rs->recs[rs->n_recs - 1].row = pts[i].row;
    }
    for (int i = 0; i < n; i++)
        src_free_strv(pts[i].vals, rs->n_fields), free(pts[i].wkb);
    free(pts);
    free(done);
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}
