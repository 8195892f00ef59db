/* SPDX-License-Identifier: MIT */
/* source.c: reading one source through GDAL/OGR into records (raw field strings + ISO WKB).
 * Shapefiles are opened with ENCODING="" so GDAL hands over the DBF's raw bytes (DOMAIN.md 2.5:
 * its iconv path drops the last character of CP1258/TCVN3 strings); text.c decodes them. Three
 * shapes of source: plain features (streamed), CAD drawings (DXF/DGN: closed polylines become
 * polygons and the text entities inside each polygon become its attributes, named by their CAD
 * layer), and coordinate tables (CSV/XLSX rows with X/Y or lon/lat columns: one point per row, or
 * one polygon per key with corners in order). */
#define GEOS_USE_ONLY_R_API
#include "import_int.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <geos_c.h>
#include <ogr_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum src_mode { MODE_FEATURES, MODE_CAD, MODE_TABLE };

struct mrec {
    int64_t row;
    char **vals;
    unsigned char *wkb;
    size_t wkb_len;
};

struct rec_src {
    GDALDatasetH ds;
    OGRLayerH lyr;
    enum src_mode mode;
    int coord_x, coord_y; /* coordinate tables: the columns of the first and second number */
    char format[64];
    int n_fields;
    char **names;
    /* streaming */
    OGRFeatureH feat;
    char **vals;
    char *owned; /* vals[i] was allocated (not OGR's own string) */
    int *ftype;  /* OGRFieldType per field */
    double *num;
    char *is_num, *num_only;
    unsigned char *wkb;
    size_t wkb_cap;
    int64_t row;
    /* assembled */
    struct mrec *recs;
    int n_recs, cap_recs, next;
    /* integrity (issue 16): GDAL errors while reading, and records declared vs read */
    struct read_errors {
        int n;           /* CE_Failure/CE_Fatal reported by GDAL during reads */
        char first[200]; /* the first of them */
    } rerr;
    char *path;       /* as the user wrote it, for messages */
    char *abs_path;   /* to read the shapefile headers (/vsizip/ inside a .zip) */
    char *zip_member; /* the source's path inside its .zip, NULL when not zipped */
    int64_t declared; /* records the file says it holds (shapefile DBF header), -1 unknown */
    int header_row;   /* a table's header is its row header_row (1-based) when > 0: the rows
                       * above are a title (find_header_row); 0: GDAL's own header */
    int filtered;     /* an attribute filter: fewer records than declared is expected */
};

int rec_src_n_fields(const struct rec_src *rs)
{
    return rs->n_fields;
}

const char *rec_src_field_name(const struct rec_src *rs, int i)
{
    return rs->names[i];
}

const char *rec_src_format(const struct rec_src *rs)
{
    return rs->format;
}

const char *rec_src_mode(const struct rec_src *rs)
{
    return rs->mode == MODE_CAD     ? "CAD drawing: closed polylines + text labels"
           : rs->mode == MODE_TABLE ? "coordinate table"
                                    : "features";
}

int rec_src_coord_columns(const struct rec_src *rs, int *cx, int *cy)
{
    *cx = *cy = -1;
    if (rs->mode != MODE_TABLE) return 0;
    *cx = rs->coord_x, *cy = rs->coord_y;
    return 1;
}

void *rec_src_srs(const struct rec_src *rs)
{
    return rs->mode == MODE_TABLE ? NULL : OGR_L_GetSpatialRef(rs->lyr);
}

int64_t rec_src_count(const struct rec_src *rs)
{
    if (rs->mode != MODE_FEATURES) return rs->n_recs;
    return OGR_L_GetFeatureCount(rs->lyr, 0);
}

static void free_strv(char **v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void rec_src_close(struct rec_src *rs)
{
    if (!rs) return;
    if (rs->feat) OGR_F_Destroy(rs->feat);
    for (int i = 0; i < rs->n_recs; i++) {
        free_strv(rs->recs[i].vals, rs->n_fields);
        free(rs->recs[i].wkb);
    }
    free(rs->recs);
    free_strv(rs->names, rs->n_fields);
    for (int i = 0; rs->vals && i < rs->n_fields; i++)
        if (rs->owned[i]) free(rs->vals[i]);
    free(rs->vals), free(rs->owned), free(rs->ftype), free(rs->num), free(rs->is_num),
        free(rs->num_only);
    free(rs->wkb);
    free(rs->path), free(rs->abs_path), free(rs->zip_member);
    if (rs->ds) GDALClose(rs->ds);
    free(rs);
}

/* ---- integrity: no silent loss (issue 16) ----
 * A source is complete or it fails: any GDAL error while its records are read (a handler
 * collects them around each read, so errors of other GDAL calls, such as the CRS candidates, do
 * not count), a shapefile whose .dbf is shorter than its header declares (a copy that broke off),
 * whose .shx and .dbf disagree or whose .shp is shorter than the .shx says, or a stream that ends
 * before the declared record count (deleted DBF records excepted). Checked on the headers at open
 * (a few bytes, no extra pass) and at the end of the stream. */

static void CPL_STDCALL collect_error(CPLErr cls, CPLErrorNum no, const char *msg)
{
    (void)no;
    struct read_errors *re = CPLGetErrorHandlerUserData();
    if (!re || cls < CE_Failure) return;
    if (re->n++ == 0) snprintf(re->first, sizeof re->first, "%s", msg ? msg : "GDAL error");
}

static void reads_begin(struct rec_src *rs)
{
    CPLPushErrorHandlerEx(collect_error, &rs->rerr);
}

static int reads_end(struct rec_src *rs, struct err *err)
{
    CPLPopErrorHandler();
    if (!rs->rerr.n) return 0;
    return err_set(err, ERR_IO,
                   "%s: read error after record %lld (%s): the file is damaged or incomplete, "
                   "nothing of it is imported",
                   rs->path, (long long)rs->row, rs->rerr.first);
}

/* Files are read through GDAL's VSI layer: a shapefile inside a .zip (/vsizip/) is checked as
 * one on disk. */
static long file_size(const char *path)
{
    VSIStatBufL sb;
    return VSIStatL(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static int read_at(const char *path, long off, unsigned char *out, size_t n)
{
    VSILFILE *f = VSIFOpenL(path, "rb");
    if (!f) return -1;
    int ok = VSIFSeekL(f, (vsi_l_offset)off, SEEK_SET) == 0 && VSIFReadL(out, 1, n, f) == n;
    VSIFCloseL(f);
    return ok ? 0 : -1;
}

/* The sibling file of a shapefile with extension ext (".dbf", ".shx"...), either case. */
static void sibling(const char *path, const char *ext, char *out, size_t n)
{
    const char *dot = strrchr(path, '.');
    size_t stem = dot ? (size_t)(dot - path) : strlen(path);
    int upper = dot && dot[1] >= 'A' && dot[1] <= 'Z';
    snprintf(out, n, "%.*s%s", (int)stem, path, ext);
    if (upper)
        for (char *c = out + stem; *c; c++)
            if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 32);
}

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
}

/* Header checks of a shapefile's .dbf, .shx and .shp; sets rs->declared. */
static int shp_check_files(struct rec_src *rs, struct err *err)
{
    char dbf[4096], shx[4096], shp[4096];
    sibling(rs->abs_path, ".dbf", dbf, sizeof dbf);
    sibling(rs->abs_path, ".shx", shx, sizeof shx);
    sibling(rs->abs_path, ".shp", shp, sizeof shp);
    unsigned char h[12];
    long size = file_size(dbf);
    if (size < 0) return 0; /* GDAL opened it: a .shp without .dbf has no attributes */
    if (size < 32 || read_at(dbf, 0, h, 12))
        return err_set(err, ERR_IO, "%s: the .dbf is shorter than its header", rs->path);
    uint32_t n = le32(h + 4), hlen = (uint32_t)h[8] | (uint32_t)h[9] << 8,
             rlen = (uint32_t)h[10] | (uint32_t)h[11] << 8;
    long have = rlen ? (size - (long)hlen) / (long)rlen : 0;
    if ((long)hlen + (long)n * (long)rlen > size)
        return err_set(err, ERR_IO,
                       "%s: the .dbf declares %lu records but holds %ld (%ld of %ld bytes): the "
                       "file was cut off (an interrupted copy?); nothing of it is imported",
                       rs->path, (unsigned long)n, have < 0 ? 0 : have, size,
                       (long)hlen + (long)n * (long)rlen);
    rs->declared = n;
    long shx_size = file_size(shx);
    if (shx_size >= 100) {
        long n_shx = (shx_size - 100) / 8;
        if (n_shx != (long)n)
            return err_set(err, ERR_IO,
                           "%s: the .shx indexes %ld shapes but the .dbf declares %lu records: "
                           "the files do not belong together or one was cut off; nothing of it "
                           "is imported",
                           rs->path, n_shx, (unsigned long)n);
        unsigned char last[8];
        long shp_size = file_size(shp);
        if (n_shx > 0 && shp_size >= 0 && read_at(shx, 100 + (n_shx - 1) * 8, last, 8) == 0) {
            long end = ((long)be32(last) + (long)be32(last + 4)) * 2 + 8;
            if (end > shp_size)
                return err_set(err, ERR_IO,
                               "%s: the .shp holds %ld bytes but its last shape ends at byte %ld: "
                               "the file was cut off; nothing of it is imported",
                               rs->path, shp_size, end);
        }
    }
    return 0;
}

/* Records deleted in the .dbf (flag '*'): GDAL skips them, so they are not missing. */
static long dbf_deleted(const char *abs_path)
{
    char dbf[4096];
    sibling(abs_path, ".dbf", dbf, sizeof dbf);
    VSILFILE *f = VSIFOpenL(dbf, "rb");
    if (!f) return 0;
    unsigned char h[12];
    long n_del = 0;
    if (VSIFReadL(h, 1, 12, f) == 12) {
        uint32_t n = le32(h + 4), hlen = (uint32_t)h[8] | (uint32_t)h[9] << 8,
                 rlen = (uint32_t)h[10] | (uint32_t)h[11] << 8;
        for (uint32_t i = 0; i < n && rlen; i++) {
            unsigned char c;
            if (VSIFSeekL(f, (vsi_l_offset)hlen + (vsi_l_offset)i * rlen, SEEK_SET) != 0 ||
                VSIFReadL(&c, 1, 1, f) != 1)
                break;
            n_del += c == '*';
        }
    }
    VSIFCloseL(f);
    return n_del;
}

/* At the end of a stream: every declared record was read. */
static int check_complete(struct rec_src *rs, struct err *err)
{
    if (rs->declared < 0 || rs->filtered || rs->row >= rs->declared) return 0;
    long missing = (long)(rs->declared - rs->row) - dbf_deleted(rs->abs_path);
    if (missing <= 0) return 0;
    return err_set(err, ERR_IO,
                   "%s: %lld records read of %lld declared in its header: the file is damaged "
                   "or incomplete, nothing of it is imported",
                   rs->path, (long long)rs->row, (long long)rs->declared);
}

static int add_rec(struct rec_src *rs, char **vals, unsigned char *wkb, size_t len)
{
    if (rs->n_recs == rs->cap_recs) {
        int cap = rs->cap_recs ? rs->cap_recs * 2 : 64;
        struct mrec *r = realloc(rs->recs, (size_t)cap * sizeof *r);
        if (!r) return ERR_NOMEM;
        rs->recs = r, rs->cap_recs = cap;
    }
    rs->recs[rs->n_recs] = (struct mrec){rs->n_recs + 1, vals, wkb, len};
    rs->n_recs++;
    return 0;
}

static unsigned char *export_wkb(OGRGeometryH g, size_t *len)
{
    *len = (size_t)OGR_G_WkbSize(g);
    unsigned char *b = malloc(*len ? *len : 1);
    if (b && OGR_G_ExportToIsoWkb(g, wkbNDR, b) != OGRERR_NONE) {
        free(b);
        b = NULL;
    }
    return b;
}

/* ---- CAD drawings ---- */

struct label {
    double x, y;
    char *layer, *text;
};

static int is_closed_line(OGRGeometryH g)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t != wkbLineString) return t == wkbPolygon || t == wkbMultiPolygon;
    int n = OGR_G_GetPointCount(g);
    return n >= 4 && OGR_G_GetX(g, 0) == OGR_G_GetX(g, n - 1) &&
           OGR_G_GetY(g, 0) == OGR_G_GetY(g, n - 1);
}

static int field_idx(OGRFeatureDefnH d, const char *name)
{
    return OGR_FD_GetFieldIndex(d, name);
}

/* Each label goes to the smallest polygon containing it (a sheet frame contains every label but
 * owns none), in label order; a polygon keeps the first label of each CAD layer. */
static int attach_labels(struct rec_src *rs, OGRGeometryH *polys, int n_polys,
                         const struct label *labels, int n_labels, struct err *err)
{
    char ***vals = calloc((size_t)n_polys + 1, sizeof *vals);
    double *area = calloc((size_t)n_polys + 1, sizeof *area);
    int rc = vals && area ? 0 : ERR_NOMEM;
    for (int i = 0; i < n_polys && !rc; i++) {
        vals[i] = calloc((size_t)rs->n_fields + 1, sizeof(char *));
        area[i] = OGR_G_Area(polys[i]);
        if (!vals[i]) rc = ERR_NOMEM;
    }
    OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
    for (int i = 0; i < n_labels && !rc; i++) {
        OGR_G_SetPoint_2D(pt, 0, labels[i].x, labels[i].y);
        int best = -1;
        for (int k = 0; k < n_polys; k++)
            if ((best < 0 || area[k] < area[best]) && OGR_G_Contains(polys[k], pt)) best = k;
        if (best < 0) continue;
        for (int f = 0; f < rs->n_fields; f++)
            if (!vals[best][f] && strcmp(rs->names[f], labels[i].layer) == 0)
                vals[best][f] = str_dup(labels[i].text);
    }
    OGR_G_DestroyGeometry(pt);
    for (int i = 0; i < n_polys && !rc; i++) {
        size_t len;
        unsigned char *wkb = export_wkb(polys[i], &len);
        if (!wkb || add_rec(rs, vals[i], wkb, len)) {
            free(wkb);
            rc = ERR_NOMEM;
            break;
        }
        vals[i] = NULL;
    }
    for (int i = 0; vals && i < n_polys; i++)
        free_strv(vals[i], rs->n_fields);
    free(vals), free(area);
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

static int read_cad(struct rec_src *rs, const struct src_spec *spec, struct err *err)
{
    struct label *labels = NULL;
    OGRGeometryH *polys = NULL;
    int n_labels = 0, cap = 0, rc = 0, n_polys = 0, cap_polys = 0;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(rs->lyr);
    /* DXF names a text's CAD layer "Layer"; DGN v7 has numbered levels instead */
    int f_text = field_idx(defn, "Text"), f_layer = field_idx(defn, "Layer");
    if (f_layer < 0) f_layer = field_idx(defn, "Level");
    /* pass 1: every text entity, whatever the filter says */
    OGR_L_SetAttributeFilter(rs->lyr, NULL);
    OGR_L_ResetReading(rs->lyr);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(rs->lyr)) != NULL) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        if (g && f_text >= 0 && OGR_F_IsFieldSetAndNotNull(f, f_text) &&
            wkbFlatten(OGR_G_GetGeometryType(g)) == wkbPoint) {
            if (n_labels == cap) {
                cap = cap ? cap * 2 : 64;
                struct label *l = realloc(labels, (size_t)cap * sizeof *l);
                if (!l) {
                    OGR_F_Destroy(f);
                    rc = err_set(err, ERR_NOMEM, "out of memory");
                    goto done;
                }
                labels = l;
            }
            labels[n_labels++] =
                (struct label){OGR_G_GetX(g, 0), OGR_G_GetY(g, 0),
                               str_dup(f_layer >= 0 ? OGR_F_GetFieldAsString(f, f_layer) : "TEXT"),
                               str_dup(OGR_F_GetFieldAsString(f, f_text))};
        }
        OGR_F_Destroy(f);
    }
    /* the label layers become the record's fields */
    rs->names = calloc((size_t)n_labels + 1, sizeof(char *));
    if (!rs->names) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_labels; i++) {
        int seen = 0;
        for (int k = 0; k < rs->n_fields; k++)
            seen |= strcmp(rs->names[k], labels[i].layer) == 0;
        if (!seen) rs->names[rs->n_fields++] = str_dup(labels[i].layer);
    }
    /* pass 2: closed polylines (through the manifest filter) with the labels inside them */
    if (spec->filter && OGR_L_SetAttributeFilter(rs->lyr, spec->filter) != OGRERR_NONE) {
        rc = err_set(err, ERR_PARAM, "%s: bad filter \"%s\"", spec->path, spec->filter);
        goto done;
    }
    OGR_L_ResetReading(rs->lyr);
    while ((f = OGR_L_GetNextFeature(rs->lyr)) != NULL) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        if (!g || (f_text >= 0 && OGR_F_IsFieldSetAndNotNull(f, f_text)) || !is_closed_line(g)) {
            OGR_F_Destroy(f);
            continue;
        }
        OGRGeometryH poly = wkbFlatten(OGR_G_GetGeometryType(g)) == wkbLineString
                                ? OGR_G_ForceToPolygon(OGR_G_Clone(g))
                                : OGR_G_Clone(g);
        if (wkbFlatten(OGR_G_GetGeometryType(poly)) == wkbLineString) {
            OGRGeometryH p = OGR_G_CreateGeometry(wkbPolygon);
            OGRGeometryH ring = OGR_G_ForceToLineString(poly);
            OGRGeometryH lr = OGR_G_CreateGeometry(wkbLinearRing);
            for (int i = 0; i < OGR_G_GetPointCount(ring); i++)
                OGR_G_AddPoint_2D(lr, OGR_G_GetX(ring, i), OGR_G_GetY(ring, i));
            OGR_G_AddGeometryDirectly(p, lr);
            OGR_G_DestroyGeometry(ring);
            poly = p;
        }
        if (n_polys == cap_polys) {
            cap_polys = cap_polys ? cap_polys * 2 : 64;
            OGRGeometryH *pp = realloc(polys, (size_t)cap_polys * sizeof *pp);
            if (!pp) {
                OGR_G_DestroyGeometry(poly);
                OGR_F_Destroy(f);
                rc = err_set(err, ERR_NOMEM, "out of memory");
                goto done;
            }
            polys = pp;
        }
        polys[n_polys++] = poly;
        OGR_F_Destroy(f);
    }
    rc = attach_labels(rs, polys, n_polys, labels, n_labels, err);
done:
    for (int i = 0; i < n_polys; i++)
        OGR_G_DestroyGeometry(polys[i]);
    free(polys);
    for (int i = 0; i < n_labels; i++)
        free(labels[i].layer), free(labels[i].text);
    free(labels);
    return rc;
}

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

static int table_columns(struct rec_src *rs, const struct src_spec *spec, int *cx, int *cy,
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
static int find_header_row(struct rec_src *rs, const struct src_spec *spec, const char *open_path)
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
        found = table_columns(rs, spec, &cx, &cy, &co) == 0;
        if (!found) free_strv(names, n), names = NULL;
    }
    if (!found || rc) {
        if (names) free_strv(names, n);
        rs->names = old_names, rs->n_fields = old_n;
        GDALClose(ds);
        return rc ? rc : ERR_NOT_FOUND;
    }
    free_strv(old_names, old_n);
    GDALClose(rs->ds);
    rs->ds = ds, rs->lyr = lyr, rs->names = names, rs->header_row = row;
    return 0;
}

/* A coordinate cell: a number with its column's decimal mark (0, or 1 when it did not follow
 * it), else an angle in degrees, minutes and seconds ("10°02'15.3\"N": 0); ERR_PARAM. */
static int coord_value(const char *v, char dec, double *out)
{
    if (!v) return ERR_PARAM;
    int rc = attr_parse_number_dec(v, dec, out);
    return rc == ERR_PARAM ? attr_parse_dms(v, out) : rc;
}

static int read_table(struct rec_src *rs, const struct src_spec *spec, enum geom_type want,
                      struct err *err)
{
    int cx, cy, co;
    int found = table_columns(rs, spec, &cx, &cy, &co);
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
        rc = add_rec(rs, vals, NULL, 0);
        if (!rc) rs->recs[rs->n_recs - 1].row = row;
    }
    char why[320];
    char hint = ncx.dot || ncy.dot       ? (ncx.comma || ncy.comma ? 0 : '.')
                : ncx.comma || ncy.comma ? ','
                                         : 0;
    numcol_decide(&ncx, 0, hint, why, sizeof why), numcol_decide(&ncy, 0, hint, why, sizeof why);
    int k = 0, r = 0;
    for (; r < rs->n_recs && !rc; r++) {
        struct mrec m = rs->recs[r];
        double x, y;
        /* 0 or 1 is a number (1: read against the column's decimal mark), ERR_PARAM is not */
        int px = coord_value(m.vals[cx], ncx.dec, &x);
        int py = coord_value(m.vals[cy], ncy.dec, &y);
        if ((px != 0 && px != 1) || (py != 0 && py != 1)) {
            /* a title or blank row (no number in any cell, no digit in its coordinate cells) is
             * not data: skipped; a row with data but no usable coordinates ("10°75'") goes on
             * without geometry and is rejected, with its row and reason, like any feature that
             * cannot be normalised */
            int data = (m.vals[cx] && strpbrk(m.vals[cx], "0123456789")) ||
                       (m.vals[cy] && strpbrk(m.vals[cy], "0123456789"));
            for (int c = 0; c < rs->n_fields && !data; c++) {
                double d;
                data = m.vals[c] && attr_parse_number(m.vals[c], &d) == 0;
            }
            if (!data) {
                free_strv(m.vals, rs->n_fields);
                continue;
            }
            m.wkb = NULL, m.wkb_len = 0;
            rs->recs[k++] = m;
            continue;
        }
        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(pt, 0, x, y);
        m.wkb = export_wkb(pt, &m.wkb_len);
        OGR_G_DestroyGeometry(pt);
        if (!m.wkb) rc = ERR_NOMEM;
        rs->recs[k++] = m;
    }
    for (; r < rs->n_recs; r++) /* after an error: the rows not reached */
        free_strv(rs->recs[r].vals, rs->n_fields);
    rs->n_recs = k;
    if (rc || !polygons) return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
    if (kc < 0) return err_set(err, ERR_PARAM, "%s: corner table without a key column", spec->path);
    /* group corners by key (first appearance order), ordered by the corner column */
    struct mrec *pts = rs->recs;
    int n = rs->n_recs;
    rs->recs = NULL, rs->n_recs = rs->cap_recs = 0;
    char *done = calloc((size_t)n + 1, 1);
    for (int i = 0; i < n && !rc; i++) {
        if (done[i] || !pts[i].vals[kc]) continue;
        OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
        int corner_missing = 0; /* a corner row without coordinates: no polygon, rejected */
        for (;;) {              /* the key's corners by their order column (row order on ties) */
            int pick = -1;
            double best = 1e300;
            for (int j = i; j < n; j++) {
                if (done[j] || !pts[j].vals[kc] || strcmp(pts[j].vals[kc], pts[i].vals[kc]))
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
        unsigned char *wkb = corner_missing ? NULL : export_wkb(poly, &len);
        OGR_G_DestroyGeometry(poly);
        char **vals = pts[i].vals;
        pts[i].vals = NULL;
        rc = add_rec(rs, vals, wkb, len);
        if (!rc) rs->recs[rs->n_recs - 1].row = pts[i].row;
    }
    for (int i = 0; i < n; i++)
        free_strv(pts[i].vals, rs->n_fields), free(pts[i].wkb);
    free(pts);
    free(done);
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

/* ---- open ---- */

static int stream_arrays(struct rec_src *rs, OGRFeatureDefnH defn, struct err *err);

/* "a", "b" and "c" (at most 8 names, then "..."), into out. */
static void name_list(char *out, size_t n, const char *(*name)(void *ud, int i), void *ud,
                      int count)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < count && len + 1 < n; i++) {
        const char *sep = i == 0 ? "" : i == count - 1 ? " and " : ", ";
        len += (size_t)snprintf(out + len, n - len, i < 8 ? "%s\"%s\"" : "%s...", sep, name(ud, i));
        if (i >= 8 || len >= n) break;
    }
}

static const char *layer_name_at(void *ud, int i)
{
    return OGR_L_GetName(GDALDatasetGetLayer(ud, i));
}

static int pick_layer(struct rec_src *rs, const struct src_spec *spec, struct err *err)
{
    int n = GDALDatasetGetLayerCount(rs->ds);
    if (spec->sheet) {
        rs->lyr = GDALDatasetGetLayerByName(rs->ds, spec->sheet);
        if (!rs->lyr && n == 1 && rs->zip_member) rs->lyr = GDALDatasetGetLayer(rs->ds, 0);
        if (!rs->lyr)
            return err_set(err, ERR_PARAM, "%s: no layer or sheet \"%s\"", spec->path, spec->sheet);
        return 0;
    }
    if (n < 1) return err_set(err, ERR_PARAM, "%s: no layers in this file", spec->path);
    /* several layers (a GeoPackage, a file geodatabase, a workbook of several sheets): which one
     * is the caller's to say, never the first by chance; empty sheets of a workbook don't count */
    int with_rows = 0, last = 0;
    for (int i = 0; i < n; i++)
        if (OGR_L_GetFeatureCount(GDALDatasetGetLayer(rs->ds, i), 0) != 0) with_rows++, last = i;
    if (n > 1 && with_rows != 1) {
        char names[512];
        name_list(names, sizeof names, layer_name_at, rs->ds, n);
        return err_set(err, ERR_PARAM,
                       "%s: the file holds %d layers or sheets (%s): name the one to import with "
                       "the manifest's \"sheet\"",
                       spec->path, n, names);
    }
    rs->lyr = GDALDatasetGetLayer(rs->ds, n > 1 ? last : 0);
    return 0;
}

/* ---- zip archives ---- */

static const char *const vector_exts[] = {".shp", ".gpkg", ".geojson", ".json", ".kml", ".tab",
                                          ".mif", ".gml",  ".dxf",     ".dgn",  ".csv", ".xlsx",
                                          ".xls", ".ods",  ".sqlite",  ".fgb",  ".gdb", NULL};

struct members {
    char **v;
    int n;
};

static const char *member_at(void *ud, int i)
{
    return ((struct members *)ud)->v[i];
}

/* The data source inside a .zip (a city's e-mailed shapefile): its /vsizip/ path into out. One
 * source: it; several: the one whose name (without extension) is spec->sheet, else an error
 * naming them. macOS resource forks (__MACOSX/, ._*) are not sources. */
static int zip_source(const struct src_spec *spec, char *out, size_t n, char **member,
                      struct err *err)
{
    char root[4096];
    snprintf(root, sizeof root, "/vsizip/%s", spec->abs_path);
    char **all = VSIReadDirRecursive(root);
    struct members m = {NULL, 0};
    int cap = 0, rc = 0;
    for (int i = 0; all && all[i] && !rc; i++) {
        char name[1024];
        snprintf(name, sizeof name, "%s", all[i]);
        size_t len = strlen(name);
        int dir = len && name[len - 1] == '/';
        if (dir) name[--len] = 0;
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        const char *ext = strrchr(base, '.');
        if (!ext || strncmp(name, "__MACOSX", 8) == 0 || base[0] == '.') continue;
        if (dir != str_ieq(ext, ".gdb")) continue; /* a geodatabase is a folder; others files */
        if (strstr(name, ".gdb/")) continue;       /* files inside a geodatabase */
        int known = 0;
        for (int k = 0; vector_exts[k] && !known; k++)
            known = str_ieq(ext, vector_exts[k]);
        if (!known) continue;
        if (m.n == cap) {
            cap = cap ? cap * 2 : 8;
            char **v = realloc(m.v, (size_t)cap * sizeof *v);
            if (!v) {
                rc = ERR_NOMEM;
                break;
            }
            m.v = v;
        }
        if (!(m.v[m.n] = str_dup(name)))
            rc = ERR_NOMEM;
        else
            m.n++;
    }
    CSLDestroy(all);
    int pick = m.n == 1 ? 0 : -1;
    for (int i = 0; i < m.n && pick < 0 && spec->sheet && !rc; i++) {
        const char *base = strrchr(m.v[i], '/') ? strrchr(m.v[i], '/') + 1 : m.v[i];
        size_t stem = (size_t)(strrchr(base, '.') - base);
        if (strlen(spec->sheet) == stem && strncasecmp(base, spec->sheet, stem) == 0) pick = i;
    }
    if (rc) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
    } else if (m.n == 0) {
        rc = err_set(err, ERR_PARAM,
                     "%s: the zip archive holds no data source GDAL reads (.shp, .gpkg, .geojson, "
                     ".kml, .tab, .gdb, .dxf, .csv, .xlsx ...)",
                     spec->path);
    } else if (pick < 0) {
        char names[512];
        name_list(names, sizeof names, member_at, &m, m.n);
        rc = err_set(err, ERR_PARAM,
                     "%s: the zip archive holds %d data sources (%s): name the one to import with "
                     "the manifest's \"sheet\" (its name without extension)",
                     spec->path, m.n, names);
    } else {
        snprintf(out, n, "%s/%s", root, m.v[pick]);
        *member = str_dup(m.v[pick]);
        if (!*member) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < m.n; i++)
        free(m.v[i]);
    free(m.v);
    return rc;
}

int rec_src_open(const struct src_spec *spec, enum geom_type want, struct rec_src **out,
                 struct err *err)
{
    *out = NULL;
    struct rec_src *rs = calloc(1, sizeof *rs);
    if (!rs) return err_set(err, ERR_NOMEM, "out of memory");
    const char *open_opts[] = {"ENCODING=", NULL};
    static int registered;
    if (!registered) GDALAllRegister(), registered = 1;
    char open_path[4096 + 1100];
    snprintf(open_path, sizeof open_path, "%s", spec->abs_path);
    const char *ext = strrchr(spec->abs_path, '.');
    int rc = 0;
    if (ext && str_ieq(ext, ".zip") &&
        (rc = zip_source(spec, open_path, sizeof open_path, &rs->zip_member, err))) {
        free(rs);
        return rc;
    }
    ext = strrchr(open_path, '.');
    int shp = ext && (str_ieq(ext, ".shp") || str_ieq(ext, ".dbf"));
    CPLSetThreadLocalConfigOption("SHAPE_ENCODING", "");
    CPLPushErrorHandler(CPLQuietErrorHandler);
    rs->ds = GDALOpenEx(open_path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, shp ? open_opts : NULL,
                        NULL);
    CPLPopErrorHandler();
    rs->path = str_dup(spec->path);
    rs->abs_path = str_dup(open_path);
    rs->declared = -1;
    rs->filtered = spec->filter != NULL;
    if (!rs->ds) {
        rc = err_set(err, ERR_IO, "%s: cannot open as a vector source%s%s", spec->path,
                     CPLGetLastErrorMsg()[0] ? ": " : "", CPLGetLastErrorMsg());
        goto fail;
    }
    snprintf(rs->format, sizeof rs->format, "%s",
             GDALGetDriverShortName(GDALGetDatasetDriver(rs->ds)));
    if ((rc = pick_layer(rs, spec, err))) goto fail;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(rs->lyr);
    int cad = str_ieq(rs->format, "DXF") || str_ieq(rs->format, "DGN");
    int polygons = want == GT_POLYGON || want == GT_MULTIPOLYGON;
    rs->mode = cad && polygons                         ? MODE_CAD
               : OGR_L_GetGeomType(rs->lyr) == wkbNone ? MODE_TABLE
                                                       : MODE_FEATURES;
    if (rs->mode != MODE_CAD) {
        rs->n_fields = OGR_FD_GetFieldCount(defn);
        rs->names = calloc((size_t)rs->n_fields + 1, sizeof(char *));
        for (int i = 0; rs->names && i < rs->n_fields; i++)
            rs->names[i] = str_dup(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)));
    }
    if (shp && str_ieq(rs->format, "ESRI Shapefile") && (rc = shp_check_files(rs, err))) goto fail;
    if (rs->mode == MODE_CAD) {
        reads_begin(rs);
        rc = read_cad(rs, spec, err);
        int r2 = reads_end(rs, rc ? NULL : err);
        if (!rc) rc = r2;
    } else {
        int cx, cy, co;
        if (rs->mode == MODE_TABLE && table_columns(rs, spec, &cx, &cy, &co) &&
            find_header_row(rs, spec, open_path) == ERR_NOMEM) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (spec->filter && OGR_L_SetAttributeFilter(rs->lyr, spec->filter) != OGRERR_NONE) {
            rc = err_set(err, ERR_PARAM, "%s: bad filter \"%s\"", spec->path, spec->filter);
            goto fail;
        }
        if (rs->mode == MODE_TABLE) {
            reads_begin(rs);
            rc = read_table(rs, spec, want, err);
            int r2 = reads_end(rs, rc ? NULL : err);
            if (!rc) rc = r2;
        } else {
            rc = stream_arrays(rs, defn, err);
        }
    }
    if (rc) goto fail;
    *out = rs;
    return 0;
fail:
    rec_src_close(rs);
    return rc;
}

void rec_src_numeric_only(struct rec_src *rs, int i)
{
    if (rs->mode == MODE_FEATURES && i >= 0 && i < rs->n_fields) rs->num_only[i] = 1;
}

static int stream_arrays(struct rec_src *rs, OGRFeatureDefnH defn, struct err *err)
{
    size_t n = (size_t)rs->n_fields + 1;
    rs->vals = calloc(n, sizeof(char *));
    rs->owned = calloc(n, 1);
    rs->ftype = calloc(n, sizeof(int));
    rs->num = calloc(n, sizeof(double));
    rs->is_num = calloc(n, 1);
    rs->num_only = calloc(n, 1);
    if (!rs->vals || !rs->owned || !rs->ftype || !rs->num || !rs->is_num || !rs->num_only)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < rs->n_fields; i++)
        rs->ftype[i] = OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, i));
    return 0;
}

/* One field of the current feature: strings are borrowed from OGR, numbers read as numbers. */
static void read_field(struct rec_src *rs, int i)
{
    if (rs->owned[i]) free(rs->vals[i]);
    rs->vals[i] = NULL, rs->owned[i] = 0, rs->is_num[i] = 0;
    if (!OGR_F_IsFieldSetAndNotNull(rs->feat, i)) return;
    int t = rs->ftype[i];
    if (t == OFTInteger || t == OFTInteger64 || t == OFTReal) {
        rs->num[i] = t == OFTReal ? OGR_F_GetFieldAsDouble(rs->feat, i)
                                  : (double)OGR_F_GetFieldAsInteger64(rs->feat, i);
        rs->is_num[i] = 1;
        if (rs->num_only[i]) return;
    }
    if (t == OFTString) {
        rs->vals[i] = (char *)OGR_F_GetFieldAsString(rs->feat, i);
    } else {
        rs->vals[i] = str_dup(OGR_F_GetFieldAsString(rs->feat, i));
        rs->owned[i] = 1;
    }
}

void rec_src_rewind(struct rec_src *rs)
{
    if (rs->mode == MODE_FEATURES) {
        OGR_L_ResetReading(rs->lyr);
        rs->row = 0;
    }
    rs->next = 0;
}

int rec_src_next(struct rec_src *rs, struct rec *r, struct err *err)
{
    if (rs->mode != MODE_FEATURES) {
        if (rs->next >= rs->n_recs) return 0;
        struct mrec *m = &rs->recs[rs->next++];
        *r = (struct rec){m->row, m->vals, m->wkb, m->wkb_len, NULL, NULL};
        return 1;
    }
    for (int i = 0; i < rs->n_fields; i++) { /* strings borrowed from the feature go with it */
        if (rs->owned[i]) free(rs->vals[i]);
        rs->vals[i] = NULL, rs->owned[i] = 0;
    }
    if (rs->feat) OGR_F_Destroy(rs->feat);
    reads_begin(rs);
    rs->feat = OGR_L_GetNextFeature(rs->lyr);
    int rc = reads_end(rs, err);
    if (rc) return -rc;
    if (!rs->feat) return (rc = check_complete(rs, err)) ? -rc : 0;
    rs->row++;
    for (int i = 0; i < rs->n_fields; i++)
        read_field(rs, i);
    r->row = rs->row;
    r->vals = rs->vals;
    r->num = rs->num;
    r->is_num = rs->is_num;
    r->wkb = NULL;
    r->wkb_len = 0;
    OGRGeometryH g = OGR_F_GetGeometryRef(rs->feat);
    if (g && !OGR_G_IsEmpty(g)) {
        size_t len = (size_t)OGR_G_WkbSize(g);
        if (len > rs->wkb_cap) {
            unsigned char *b = realloc(rs->wkb, len);
            if (!b) return -err_set(err, ERR_NOMEM, "out of memory");
            rs->wkb = b, rs->wkb_cap = len;
        }
        if (OGR_G_ExportToIsoWkb(g, wkbNDR, rs->wkb) == OGRERR_NONE) {
            r->wkb = rs->wkb;
            r->wkb_len = len;
        }
    }
    return 1;
}
