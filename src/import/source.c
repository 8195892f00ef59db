/* SPDX-License-Identifier: MIT */
/* source.c: reading one source through GDAL/OGR into records (raw field strings + ISO WKB).
 * Shapefiles are opened with ENCODING="" so GDAL hands over the DBF's raw bytes (DOMAIN.md 2.5:
 * its iconv path drops the last character of CP1258/TCVN3 strings); text.c decodes them. Three
 * shapes of source: plain features (streamed here), CAD drawings (cad.c) and coordinate tables
 * (table.c). A .zip is read in place (/vsizip/); a file or archive of several sources is never
 * read by its first. */
#include "source_int.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <ogr_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rec_src_n_fields(const struct rec_src *rs)
{
    return rs->n_fields;
}

const char *rec_src_field_name(const struct rec_src *rs, int i)
{
    return rs->names[i];
}

int rec_src_keys_filled(const struct rec_src *rs)
{
    return rs->keys_filled;
}

int rec_src_header_row(const struct rec_src *rs)
{
    return rs->header_row;
}

int rec_src_field_weak(const struct rec_src *rs, int i)
{
    return rs->desc_field >= 0 && i < rs->n_ogr;
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

void src_free_strv(char **v, int n)
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
        src_free_strv(rs->recs[i].vals, rs->n_fields);
        free(rs->recs[i].wkb);
    }
    free(rs->recs);
    src_free_strv(rs->names, rs->n_fields);
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

void src_reads_begin(struct rec_src *rs)
{
    CPLPushErrorHandlerEx(collect_error, &rs->rerr);
}

int src_reads_end(struct rec_src *rs, struct err *err)
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

int src_add_rec(struct rec_src *rs, char **vals, unsigned char *wkb, size_t len)
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

unsigned char *src_export_wkb(OGRGeometryH g, size_t *len)
{
    *len = (size_t)OGR_G_WkbSize(g);
    unsigned char *b = malloc(*len ? *len : 1);
    if (b && OGR_G_ExportToIsoWkb(g, wkbNDR, b) != OGRERR_NONE) {
        free(b);
        b = NULL;
    }
    return b;
}

/* ---- open ---- */

static int stream_arrays(struct rec_src *rs, OGRFeatureDefnH defn, struct err *err);

/* "a", "b" and "c" (at most 8 names, then "..."), into out. */
void src_name_list(char *out, size_t n, const char *(*name)(void *ud, int i), void *ud, int count)
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
        src_name_list(names, sizeof names, layer_name_at, rs->ds, n);
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
        src_name_list(names, sizeof names, member_at, &m, m.n);
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

/* A KML whose placemarks carry their attributes only as an HTML table in the description
 * (ArcGIS's Layer To KML): each name found in any placemark's table, and not a field GDAL
 * already gives, becomes a field after GDAL's (rs->names[n_ogr..]); the description itself is
 * then no value of its own. One pass over the placemarks at open. */
static int kml_desc_fields(struct rec_src *rs, struct err *err)
{
    int di = -1;
    for (int i = 0; i < rs->n_ogr && di < 0; i++)
        if (str_ieq(rs->names[i], "description")) di = i;
    if (di < 0) return 0;
    int rc = 0, cap = rs->n_fields + 1, tables = 0;
    OGRFeatureH f;
    OGR_L_ResetReading(rs->lyr);
    src_reads_begin(rs);
    while (!rc && (f = OGR_L_GetNextFeature(rs->lyr)) != NULL) {
        struct kml_pairs kp;
        rc = kml_desc_parse(OGR_F_GetFieldAsString(f, di), &kp);
        OGR_F_Destroy(f);
        tables += kp.n >= 2;
        for (int k = 0; !rc && k < kp.n; k++) {
            /* a name GDAL's KML fields also have (NAME beside the placemark's Name) is still
             * the table's: it maps before GDAL's, which are weak (rec_src_field_weak) */
            int known = 0;
            for (int i = rs->n_ogr; i < rs->n_fields && !known; i++)
                known = strcmp(rs->names[i], kp.names[k]) == 0;
            if (known) continue;
            if (rs->n_fields + 1 >= cap) {
                cap *= 2;
                char **v = realloc(rs->names, (size_t)cap * sizeof *v);
                if (!v) {
                    rc = ERR_NOMEM;
                    break;
                }
                rs->names = v;
            }
            if (!(rs->names[rs->n_fields] = str_dup(kp.names[k])))
                rc = ERR_NOMEM;
            else
                rs->names[++rs->n_fields] = NULL;
        }
        kml_pairs_fini(&kp);
    }
    int r2 = src_reads_end(rs, rc ? NULL : err);
    OGR_L_ResetReading(rs->lyr);
    if (rc) return err_set(err, ERR_NOMEM, "out of memory");
    if (r2) return r2;
    if (tables)
        rs->desc_field = di;
    else { /* names from stray two-cell rows of plain descriptions are not a table */
        for (int i = rs->n_ogr; i < rs->n_fields; i++)
            free(rs->names[i]), rs->names[i] = NULL;
        rs->n_fields = rs->n_ogr;
    }
    return 0;
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
    rs->desc_field = -1;
    if (rs->mode != MODE_CAD) {
        rs->n_fields = rs->n_ogr = OGR_FD_GetFieldCount(defn);
        rs->names = calloc((size_t)rs->n_fields + 1, sizeof(char *));
        for (int i = 0; rs->names && i < rs->n_fields; i++)
            rs->names[i] = str_dup(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)));
    }
    if (rs->mode == MODE_FEATURES &&
        (str_ieq(rs->format, "KML") || str_ieq(rs->format, "LIBKML")) &&
        (rc = kml_desc_fields(rs, err)))
        goto fail;
    if (shp && str_ieq(rs->format, "ESRI Shapefile") && (rc = shp_check_files(rs, err))) goto fail;
    if (rs->mode == MODE_CAD) {
        src_reads_begin(rs);
        rc = src_read_cad(rs, spec, err);
        int r2 = src_reads_end(rs, rc ? NULL : err);
        if (!rc) rc = r2;
    } else {
        int cx, cy, co;
        if (rs->mode == MODE_TABLE && src_table_columns(rs, spec, &cx, &cy, &co) &&
            src_find_header_row(rs, spec, open_path) == ERR_NOMEM) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (spec->filter && OGR_L_SetAttributeFilter(rs->lyr, spec->filter) != OGRERR_NONE) {
            rc = err_set(err, ERR_PARAM, "%s: bad filter \"%s\"", spec->path, spec->filter);
            goto fail;
        }
        if (rs->mode == MODE_TABLE) {
            src_reads_begin(rs);
            rc = src_read_table(rs, spec, want, err);
            int r2 = src_reads_end(rs, rc ? NULL : err);
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
        rs->ftype[i] = i < rs->n_ogr ? OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, i)) : OFTString;
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
    src_reads_begin(rs);
    rs->feat = OGR_L_GetNextFeature(rs->lyr);
    int rc = src_reads_end(rs, err);
    if (rc) return -rc;
    if (!rs->feat) return (rc = check_complete(rs, err)) ? -rc : 0;
    rs->row++;
    for (int i = 0; i < rs->n_ogr; i++)
        read_field(rs, i);
    if (rs->desc_field >= 0) { /* the description's table gives the fields after GDAL's */
        struct kml_pairs kp;
        if (kml_desc_parse(OGR_F_GetFieldAsString(rs->feat, rs->desc_field), &kp))
            return -err_set(err, ERR_NOMEM, "out of memory");
        for (int i = rs->n_ogr; i < rs->n_fields; i++) {
            const char *v = kml_pairs_get(&kp, rs->names[i], NULL);
            rs->vals[i] = v ? str_dup(v) : NULL;
            rs->owned[i] = rs->vals[i] != NULL;
        }
        if (kp.n >= 2) { /* the description was the table: no value of its own */
            if (rs->owned[rs->desc_field]) free(rs->vals[rs->desc_field]);
            rs->vals[rs->desc_field] = NULL, rs->owned[rs->desc_field] = 0;
        }
        kml_pairs_fini(&kp);
    }
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
