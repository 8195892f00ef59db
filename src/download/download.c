/* SPDX-License-Identifier: MIT */
/* download.c: a whole layer as a file (download.h). Formats:
 *   gpkg     GeoPackage in the storage CRS (VN-2000 with the official TOWGS84); licence,
 *            organisation and the metadata URL as layer metadata, the ISO 19139 record in the
 *            "xml:ISO19139" metadata domain (gpkg_metadata);
 *   shp      zipped ESRI Shapefile: .shp .shx .dbf, .cpg (UTF-8), .prj in VN-2000 with the official
 *            TOWGS84 (WKT1, so any client reprojects with Decision 05/2007's parameters),
 *            LAYER.xml (ISO 19139) and LICENCE.txt;
 *   geojson  RFC 7946 (lon/lat through the one EPSG:6960 path of src/geo), the licence and the
 *            metadata URL in the collection's "description";
 *   csv      zipped: LAYER.csv (WKT geometry in lon/lat), LAYER.xml and LICENCE.txt.
 * GDAL writes into a directory made with mkdtemp; the finished file is opened, every temporary
 * file removed, and the open descriptor handed to the server to stream (struct response). */
#include "download.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <errno.h>
#include <fcntl.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/config.h"
#include "../geo/geo.h"
#include "../meta/meta.h"
#include "../store/store.h"

enum dl_format { DL_GPKG, DL_SHP, DL_GEOJSON, DL_CSV };

/* VN-2000 -> WGS 84, Decision 05/2007 (EPSG:6960), position-vector signs as WKT1 TOWGS84 and
 * PROJ's +towgs84 take them. */
static const double VN2000_TOWGS84[7] = {-191.90441429, -39.30318279, -111.45032835, 0.00928836,
                                         -0.01975479,   0.00427372,   0.252906278};

struct dl {
    struct request *req;
    const struct layer_def *layer;
    enum dl_format fmt;
    char dir[256];
    char path[700]; /* the data file GDAL writes, then the file sent */
    GDALDatasetH ds;
    OGRLayerH ol;
    int fields[256];
    int ogr_index[256];
    int n_fields;
    int to_lonlat;
    struct geom g;
    struct buf wkb;
};

static OGRSpatialReferenceH storage_srs(int srid)
{
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    if (!srs) return NULL;
    if (OSRImportFromEPSG(srs, srid) != OGRERR_NONE) {
        OSRDestroySpatialReference(srs);
        return NULL;
    }
    /* a VN-2000 CRS: bind it to WGS 84 with the official parameters */
    const char *datum = OSRGetAttrValue(srs, "DATUM", 0);
    if (datum && strstr(datum, "2000") && strstr(datum, "Vietnam")) {
        OSRSetTOWGS84(srs, VN2000_TOWGS84[0], VN2000_TOWGS84[1], VN2000_TOWGS84[2],
                      VN2000_TOWGS84[3], VN2000_TOWGS84[4], VN2000_TOWGS84[5], VN2000_TOWGS84[6]);
        /* Without the CRS's own EPSG code: with it, GDAL/PROJ readers look the code up and take
         * EPSG's default operation (about 0.8 m off here), ignoring TOWGS84. */
        char *wkt = NULL;
        if (OSRExportToWkt(srs, &wkt) == OGRERR_NONE && wkt) {
            size_t n = strlen(wkt);
            char *auth = NULL;
            for (char *p = strstr(wkt, ",AUTHORITY["); p; p = strstr(p + 1, ",AUTHORITY["))
                auth = p;
            if (auth && n >= 2 && wkt[n - 1] == ']' && wkt[n - 2] == ']' &&
                strchr(auth, ']') == wkt + n - 2) {
                auth[0] = ']', auth[1] = '\0';
                OGRSpatialReferenceH bare = OSRNewSpatialReference(NULL);
                char *in = wkt;
                if (bare && OSRImportFromWkt(bare, &in) == OGRERR_NONE) {
                    OSRDestroySpatialReference(srs);
                    srs = bare;
                } else if (bare) {
                    OSRDestroySpatialReference(bare);
                }
            }
        }
        CPLFree(wkt);
    }
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    return srs;
}

static OGRFieldType ogr_type(enum field_type t, OGRFieldSubType *sub)
{
    *sub = OFSTNone;
    switch (t) {
    case FT_INTEGER:
        return OFTInteger64;
    case FT_REAL:
        return OFTReal;
    case FT_DATE:
        return OFTDate;
    case FT_BOOLEAN:
        *sub = OFSTBoolean;
        return OFTInteger;
    default:
        return OFTString;
    }
}

static int gdal_fail(struct err *err, const char *what)
{
    const char *m = CPLGetLastErrorMsg();
    return err_set(err, ERR_IO, "download: %s%s%s", what, m && *m ? ": " : "", m ? m : "");
}

static const char *licence_text(const struct layer_meta *m, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s", m->licence_name, m->licence_url ? " " : "",
             m->licence_url ? m->licence_url : "");
    return out;
}

static int open_output(struct dl *d, struct err *err)
{
    const struct layer_def *l = d->layer;
    static const char *const drivers[] = {"GPKG", "ESRI Shapefile", "GeoJSON", "CSV"};
    static const char *const exts[] = {"gpkg", "shp", "geojson", "csv"};
    snprintf(d->path, sizeof d->path, "%s/%s.%s", d->dir, l->id, exts[d->fmt]);
    GDALDriverH drv = GDALGetDriverByName(drivers[d->fmt]);
    if (!drv) return err_set(err, ERR_UNSUPPORTED, "download: no GDAL driver %s", drivers[d->fmt]);
    d->ds = GDALCreate(drv, d->path, 0, 0, 0, GDT_Unknown, NULL);
    if (!d->ds) return gdal_fail(err, "cannot create the file");
    char **opts = NULL;
    char lic[600], desc[1200], murl[400];
    const struct layer_meta *m = &l->meta;
    licence_text(m, lic, sizeof lic);
    snprintf(murl, sizeof murl, "%s/collections/%s/metadata", d->req->base_url, l->id);
    snprintf(desc, sizeof desc, "%s / %s. %s. Licence: %s. Metadata: %s", l->title_vi, l->title_en,
             m->org_vi, lic, murl);
    OGRSpatialReferenceH srs = NULL;
    int srid = store_srid(d->req->store);
    switch (d->fmt) {
    case DL_SHP:
        opts = CSLSetNameValue(opts, "ENCODING", "UTF-8");
        srs = storage_srs(srid);
        break;
    case DL_GPKG:
        opts = CSLSetNameValue(opts, "DESCRIPTION", desc);
        opts = CSLSetNameValue(opts, "IDENTIFIER", l->title_vi);
        srs = storage_srs(srid);
        break;
    case DL_GEOJSON:
        opts = CSLSetNameValue(opts, "RFC7946", "YES");
        opts = CSLSetNameValue(opts, "DESCRIPTION", desc);
        opts = CSLSetNameValue(opts, "COORDINATE_PRECISION", "8");
        srs = OSRNewSpatialReference(NULL);
        if (srs)
            OSRImportFromEPSG(srs, 4326),
                OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
        d->to_lonlat = 1;
        break;
    case DL_CSV:
        opts = CSLSetNameValue(opts, "GEOMETRY", "AS_WKT");
        opts = CSLSetNameValue(opts, "CREATE_CSVT", "YES");
        d->to_lonlat = 1;
        break;
    }
    d->ol = GDALDatasetCreateLayer(d->ds, l->id, srs, (OGRwkbGeometryType)l->geom, opts);
    CSLDestroy(opts);
    if (srs) OSRDestroySpatialReference(srs);
    if (!d->ol) return gdal_fail(err, "cannot create the layer");
    for (int i = 0; i < d->n_fields; i++) {
        const struct field_def *f = &l->fields[d->fields[i]];
        OGRFieldSubType sub;
        OGRFieldDefnH fd = OGR_Fld_Create(f->name, ogr_type(f->type, &sub));
        OGR_Fld_SetSubType(fd, sub);
        OGRErr e = OGR_L_CreateField(d->ol, fd, TRUE);
        OGR_Fld_Destroy(fd);
        if (e != OGRERR_NONE) return gdal_fail(err, "cannot create a field");
        d->ogr_index[i] = OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(d->ol)) - 1;
    }
    if (d->fmt == DL_GPKG) {
        GDALSetMetadataItem((GDALMajorObjectH)d->ol, "LICENCE", lic, NULL);
        GDALSetMetadataItem((GDALMajorObjectH)d->ol, "ORGANISATION", m->org_vi, NULL);
        GDALSetMetadataItem((GDALMajorObjectH)d->ol, "CONTACT", m->contact_email, NULL);
        GDALSetMetadataItem((GDALMajorObjectH)d->ol, "METADATA_URL", murl, NULL);
    }
    return OGR_L_StartTransaction(d->ol) == OGRERR_NONE ? 0 : gdal_fail(err, "transaction");
}

static int dl_feature(void *ud, const struct feature *f, struct err *err)
{
    struct dl *d = ud;
    OGRFeatureH of = OGR_F_Create(OGR_L_GetLayerDefn(d->ol));
    if (!of) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < f->n_fields; i++) {
        const struct value *v = &f->values[i];
        int k = d->ogr_index[i];
        switch (v->type) {
        case VAL_INT:
            OGR_F_SetFieldInteger64(of, k, v->i);
            break;
        case VAL_REAL:
            OGR_F_SetFieldDouble(of, k, v->d);
            break;
        case VAL_TEXT: {
            char *s = str_ndup(v->s, (size_t)v->len);
            if (s) OGR_F_SetFieldString(of, k, s);
            free(s);
            break;
        }
        default:
            OGR_F_SetFieldNull(of, k);
        }
    }
    if (f->wkb) {
        const unsigned char *wkb = f->wkb;
        size_t len = f->wkb_len;
        if (d->to_lonlat) {
            rc = geom_from_wkb(&d->g, f->wkb, f->wkb_len, err);
            if (!rc && d->g.n_coords)
                rc = geo_transform(d->req->geo, store_srid(d->req->store), GEO_SRID_CRS84,
                                   d->g.coords, d->g.n_coords / 2, err);
            buf_reset(&d->wkb);
            if (!rc && geom_to_wkb(&d->g, &d->wkb)) rc = err_set(err, ERR_NOMEM, "out of memory");
            wkb = (const unsigned char *)d->wkb.data;
            len = d->wkb.len;
        }
        OGRGeometryH g = NULL;
        if (!rc && OGR_G_CreateFromWkb(wkb, NULL, &g, (int)len) != OGRERR_NONE)
            rc = err_set(err, ERR_INTERNAL, "download: bad geometry of feature %lld",
                         (long long)f->fid);
        if (g) OGR_F_SetGeometryDirectly(of, g);
    }
    if (!rc && OGR_L_CreateFeature(d->ol, of) != OGRERR_NONE)
        rc = gdal_fail(err, "cannot write a feature");
    OGR_F_Destroy(of);
    return rc;
}

static int write_text(const char *path, const char *text, size_t len, struct err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return err_set(err, ERR_IO, "download: %s: %s", path, strerror(errno));
    size_t w = fwrite(text, 1, len, f);
    int bad = fclose(f) != 0 || w != len;
    return bad ? err_set(err, ERR_IO, "download: cannot write %s", path) : 0;
}

/* LAYER.xml (ISO 19139) and LICENCE.txt beside the data. */
static int write_sidecars(struct dl *d, struct err *err)
{
    struct meta_record *r = malloc(sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = meta_record_load(d->req, d->layer, r, err);
    struct buf b;
    buf_init(&b);
    char path[600];
    if (!rc) {
        buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        rc = meta_iso_write(&b, d->req, r);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/%s.xml", d->dir, d->layer->id);
        rc = write_text(path, b.data, b.len, err);
    }
    if (!rc && d->fmt == DL_GPKG) {
        char *dom[2] = {b.data, NULL};
        GDALSetMetadata((GDALMajorObjectH)d->ol, dom, "xml:ISO19139");
    }
    free(r);
    const struct layer_meta *m = &d->layer->meta;
    buf_reset(&b);
    buf_printf(&b,
               "%s / %s\n\nGiấy phép / Licence: %s\n%s\n\n%s / %s\nLiên hệ / Contact: %s <%s>\n",
               d->layer->title_vi, d->layer->title_en, m->licence_name,
               m->licence_url ? m->licence_url : "", m->org_vi, m->org_en, m->contact_name,
               m->contact_email);
    if (!rc && d->fmt != DL_GPKG && d->fmt != DL_GEOJSON) {
        snprintf(path, sizeof path, "%s/LICENCE.txt", d->dir);
        rc = write_text(path, b.data, b.len, err);
    }
    buf_fini(&b);
    return rc;
}

static int write_prj(struct dl *d, struct err *err)
{
    OGRSpatialReferenceH srs = storage_srs(store_srid(d->req->store));
    char *wkt = NULL;
    if (!srs || OSRExportToWkt(srs, &wkt) != OGRERR_NONE) {
        if (srs) OSRDestroySpatialReference(srs);
        return gdal_fail(err, "cannot write the .prj");
    }
    char path[600];
    snprintf(path, sizeof path, "%s/%s.prj", d->dir, d->layer->id);
    int rc = write_text(path, wkt, strlen(wkt), err);
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    return rc;
}

/* GDAL's GeoPackage writer files the CRS under its EPSG code, which readers resolve with EPSG's
 * default operation; rewrite the layer's entry as our own CRS with the official TOWGS84. */
static int gpkg_bind_towgs84(struct dl *d, struct err *err)
{
    OGRSpatialReferenceH srs = storage_srs(store_srid(d->req->store));
    char *wkt = NULL;
    if (!srs || OSRExportToWkt(srs, &wkt) != OGRERR_NONE || strchr(wkt, '\'')) {
        if (srs) OSRDestroySpatialReference(srs);
        CPLFree(wkt);
        return gdal_fail(err, "GeoPackage CRS");
    }
    /* ... and without the datum's EPSG code either: GDAL's GeoPackage reader strips TOWGS84
     * from a datum it knows by code (OSR_STRIP_TOWGS84). */
    for (char *a; (a = strstr(wkt, ",AUTHORITY["));) {
        char *end = strchr(a, ']');
        if (!end) break;
        memmove(a, end + 1, strlen(end + 1) + 1);
    }
    /* and by name: a datum GDAL recognises as EPSG's Vietnam 2000 loses TOWGS84 too */
    struct buf def;
    buf_init(&def);
    const char *dn = strstr(wkt, "DATUM[\"Vietnam_2000\"");
    if (dn) {
        buf_append(&def, wkt, (size_t)(dn - wkt));
        buf_puts(&def, "DATUM[\"VN_2000_Decision_05_2007\"");
        buf_puts(&def, dn + strlen("DATUM[\"Vietnam_2000\""));
    } else {
        buf_puts(&def, wkt);
    }
    struct buf sql;
    buf_init(&sql);
    buf_printf(&sql,
               "UPDATE gpkg_spatial_ref_sys SET organization = 'spp', organization_coordsys_id = "
               "srs_id, srs_name = 'VN-2000 (Decision 05/2007 TOWGS84)', definition = '%s' WHERE "
               "srs_id = (SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = '%s')",
               def.data, d->layer->id);
    buf_fini(&def);
    CPLErrorReset();
    OGRLayerH r = sql.data ? GDALDatasetExecuteSQL(d->ds, sql.data, NULL, NULL) : NULL;
    if (r) GDALDatasetReleaseResultSet(d->ds, r);
    int rc = CPLGetLastErrorType() >= CE_Failure ? gdal_fail(err, "GeoPackage CRS") : 0;
    buf_fini(&sql);
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    return rc;
}

/* Zips every file of d->dir into d->dir/LAYER.zip (which becomes d->path). */
static int zip_dir(struct dl *d, struct err *err)
{
    static const char *const shp_ext[] = {"shp", "shx", "dbf", "cpg", "prj", "xml", NULL};
    static const char *const csv_ext[] = {"csv", "csvt", "xml", NULL};
    const char *const *exts = d->fmt == DL_SHP ? shp_ext : csv_ext;
    char zpath[600];
    snprintf(zpath, sizeof zpath, "%s/%s.zip", d->dir, d->layer->id);
    void *z = CPLCreateZip(zpath, NULL);
    if (!z) return gdal_fail(err, "cannot create the zip");
    int rc = 0;
    char *chunk = malloc(1 << 16);
    if (!chunk) rc = err_set(err, ERR_NOMEM, "out of memory");
    for (int i = -1; !rc && (i < 0 || exts[i]); i++) {
        char name[300], path[600];
        if (i < 0)
            snprintf(name, sizeof name, "LICENCE.txt");
        else
            snprintf(name, sizeof name, "%s.%s", d->layer->id, exts[i]);
        snprintf(path, sizeof path, "%s/%s", d->dir, name);
        FILE *f = fopen(path, "rb");
        if (!f) continue; /* e.g. no .csvt */
        if (CPLCreateFileInZip(z, name, NULL) != CE_None) rc = gdal_fail(err, "zip entry");
        size_t n;
        while (!rc && (n = fread(chunk, 1, 1 << 16, f)) > 0)
            if (CPLWriteFileInZip(z, chunk, (int)n) != CE_None) rc = gdal_fail(err, "zip write");
        fclose(f);
        if (CPLCloseFileInZip(z) != CE_None && !rc) rc = gdal_fail(err, "zip entry");
    }
    free(chunk);
    if (CPLCloseZip(z) != CE_None && !rc) rc = gdal_fail(err, "zip close");
    snprintf(d->path, sizeof d->path, "%s", zpath);
    return rc;
}

static void remove_dir(const char *dir)
{
    char cmd_path[600];
    /* every file GDAL or we made, then the directory */
    char **list = VSIReadDir(dir);
    for (int i = 0; list && list[i]; i++) {
        if (!strcmp(list[i], ".") || !strcmp(list[i], "..")) continue;
        snprintf(cmd_path, sizeof cmd_path, "%s/%s", dir, list[i]);
        unlink(cmd_path);
    }
    CSLDestroy(list);
    rmdir(dir);
}

static pthread_once_t gdal_once = PTHREAD_ONCE_INIT;

static void gdal_register(void)
{
    GDALAllRegister();
}

int download_layer(struct request *req, struct response *res, struct err *err)
{
    const char *id = req_param(req, "layer");
    const struct layer_def *l = catalog_layer(&req->cfg->catalog, id ? id : "");
    if (!l || !access_layer(l, req->role))
        return err_set(err, ERR_NOT_FOUND, "no collection \"%s\"", id ? id : "");
    const char *f = req_arg(req, "f");
    static const char *const names[] = {"gpkg", "shp", "geojson", "csv"};
    int fmt = -1;
    for (int i = 0; i < 4 && f; i++)
        if (!strcmp(f, names[i])) fmt = i;
    if (fmt < 0) return err_setl(err, ERR_PARAM, "f", "f must be gpkg, shp, geojson or csv");
    for (int i = 0; i < req->n_args; i++)
        if (strcmp(req->args[i].key, "f"))
            return err_setl(err, ERR_PARAM, req->args[i].key, "unknown parameter \"%s\"",
                            req->args[i].key);
    struct dl d;
    memset(&d, 0, sizeof d);
    d.req = req, d.layer = l, d.fmt = (enum dl_format)fmt;
    geom_init(&d.g);
    buf_init(&d.wkb);
    for (int i = 0; i < l->n_fields && d.n_fields < 256; i++)
        if (access_field(l, i, req->role)) d.fields[d.n_fields++] = i;
    const char *tmp = getenv("TMPDIR");
    snprintf(d.dir, sizeof d.dir, "%s/spp-download-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d.dir)) return err_set(err, ERR_IO, "download: mkdtemp: %s", strerror(errno));
    pthread_once(&gdal_once, gdal_register);
    CPLErrorReset();
    int rc = open_output(&d, err);
    if (!rc) {
        struct store_query q = {.layer = l,
                                .fields = d.fields,
                                .n_fields = d.n_fields,
                                .limit = -1,
                                .want_geom = 1,
                                .role = req->role};
        struct feature_sink sink = {NULL, dl_feature, NULL, &d};
        /* a whole layer may take longer than an ordinary request's query budget */
        store_set_deadline(req->store, 0);
        rc = store_query_run(req->store, &q, &sink, err);
        store_set_deadline(req->store, req->cfg->limits.query_ms);
    }
    if (!rc && OGR_L_CommitTransaction(d.ol) != OGRERR_NONE) rc = gdal_fail(err, "commit");
    if (!rc) rc = write_sidecars(&d, err);
    if (!rc && d.fmt == DL_GPKG) rc = gpkg_bind_towgs84(&d, err);
    if (d.ds) GDALClose(d.ds);
    d.ds = NULL;
    if (!rc && d.fmt == DL_SHP) rc = write_prj(&d, err);
    if (!rc && (d.fmt == DL_SHP || d.fmt == DL_CSV)) rc = zip_dir(&d, err);
    int fd = -1;
    struct stat stt;
    if (!rc && ((fd = open(d.path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &stt) != 0))
        rc = err_set(err, ERR_IO, "download: %s: %s", d.path, strerror(errno));
    remove_dir(d.dir); /* the open descriptor keeps the file until it is sent */
    geom_fini(&d.g);
    buf_fini(&d.wkb);
    if (rc) {
        if (fd >= 0) close(fd);
        return rc;
    }
    static const char *const types[] = {"application/geopackage+sqlite3", "application/zip",
                                        "application/geo+json", "application/zip"};
    static const char *const files[] = {"gpkg", "shp.zip", "geojson", "csv.zip"};
    resp_set(res, 200, types[fmt]);
    char disp[300];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.%s\"", l->id, files[fmt]);
    resp_header(res, "Content-Disposition", disp);
    resp_body_fd(res, fd, (uint64_t)stt.st_size);
    return 0;
}
