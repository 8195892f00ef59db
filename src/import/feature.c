/* SPDX-License-Identifier: MIT */
/* feature.c: one edited feature through the importer's normalisation and validation (issue 20):
 * the same functions a batch uses (text.c NFC, attrs.c numbers, dates, booleans and codes,
 * geomfix.c CRS transform with the official VN-2000 parameters, make-valid and promotion to the
 * layer's type), applied to one feature a client wrote, with the first problem refused by field
 * name instead of recorded as a finding. And the geometry of a GeoJSON or GML document read
 * through OGR. It decides nothing about who may write, and writes nothing. */
#include "import_int.h"

#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Vietnam with its islands (Hoàng Sa, Trường Sa), WGS 84 degrees: EPSG:4756's area of use
 * widened to the sea areas VN-2000 is used in. */
#define VN_LON_MIN 102.0
#define VN_LON_MAX 117.9
#define VN_LAT_MIN 6.0
#define VN_LAT_MAX 23.6

static int refuse(char *field, size_t fn, const char *name, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int refuse(char *field, size_t fn, const char *name, struct err *err, const char *fmt, ...)
{
    if (field) snprintf(field, fn, "%s", name);
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(err, ERR_PARAM, "field %s: %s", name, msg);
}

static int set_text(struct value *v, const char *s, size_t len)
{
    char *t = str_ndup(s, len);
    if (!t) return ERR_NOMEM;
    v->type = VAL_TEXT, v->s = t, v->len = (int)len;
    return 0;
}

static int set_num(const struct field_def *fd, struct value *v, double d, char *field, size_t fn,
                   struct err *err)
{
    if (!isfinite(d)) return refuse(field, fn, fd->name, err, "not a finite number");
    if ((fd->has_min && d < fd->min) || (fd->has_max && d > fd->max))
        return refuse(field, fn, fd->name, err, "%g is outside [%g, %g]", d,
                      fd->has_min ? fd->min : -INFINITY, fd->has_max ? fd->max : INFINITY);
    if (fd->type == FT_INTEGER) {
        if (fabs(d - round(d)) > 1e-9)
            return refuse(field, fn, fd->name, err, "%g is not a whole number", d);
        v->type = VAL_INT, v->i = (int64_t)llround(d);
    } else {
        v->type = VAL_REAL, v->d = d;
    }
    return 0;
}

/* One value of field fd (in: VAL_NULL, VAL_INT, VAL_REAL or VAL_TEXT) into out. */
static int one_value(const struct field_def *fd, const struct value *in, struct value *out,
                     char *field, size_t fn, struct err *err)
{
    memset(out, 0, sizeof *out);
    char num[64];
    const char *s = NULL;
    if (in->type == VAL_INT) {
        if (fd->type == FT_INTEGER || fd->type == FT_REAL)
            return set_num(fd, out, (double)in->i, field, fn, err);
        if (fd->type == FT_BOOLEAN) {
            if (in->i != 0 && in->i != 1)
                return refuse(field, fn, fd->name, err, "%lld is not yes/no", (long long)in->i);
            out->type = VAL_INT, out->i = in->i;
            return 0;
        }
        snprintf(num, sizeof num, "%lld", (long long)in->i);
        s = num;
    } else if (in->type == VAL_REAL) {
        if (fd->type == FT_INTEGER || fd->type == FT_REAL)
            return set_num(fd, out, in->d, field, fn, err);
        snprintf(num, sizeof num, "%.15g", in->d);
        s = num;
    } else if (in->type == VAL_TEXT) {
        s = in->s ? in->s : "";
    } else {
        return 0;
    }
    struct buf nfc;
    buf_init(&nfc);
    size_t len = in->type == VAL_TEXT && in->len >= 0 ? (size_t)in->len : strlen(s);
    int rc = text_decode(s, len, ENC_UTF8, &nfc); /* NFC; ERR_PARAM: not UTF-8 */
    if (rc == ERR_PARAM) rc = refuse(field, fn, fd->name, err, "not valid UTF-8 text");
    if (rc || buf_putc(&nfc, '\0')) {
        buf_fini(&nfc);
        return rc ? rc : err_set(err, ERR_NOMEM, "out of memory");
    }
    const char *t = nfc.data;
    char q[61], how[64], unknown[128], iso[11];
    snprintf(q, sizeof q, "%s", t);
    text_utf8_clip(q);
    double d;
    int yes;
    if (!*t) {
        rc = 0; /* an empty value is no value */
    } else if (fd->type == FT_INTEGER || fd->type == FT_REAL) {
        rc = attr_parse_number(t, &d)
                 ? refuse(field, fn, fd->name, err, "\"%s\" is not a number", q)
                 : set_num(fd, out, d, field, fn, err);
    } else if (fd->type == FT_BOOLEAN) {
        rc = attr_parse_bool(t, &yes) ? refuse(field, fn, fd->name, err, "\"%s\" is not yes/no", q)
                                      : (out->type = VAL_INT, out->i = yes, 0);
    } else if (fd->type == FT_DATE) {
        rc = attr_parse_date(t, iso) ? refuse(field, fn, fd->name, err, "\"%s\" is not a date", q)
                                     : set_text(out, iso, strlen(iso));
    } else if (fd->codelist) {
        struct buf code;
        buf_init(&code);
        if (attr_code(fd, t, &code, how, sizeof how, unknown, sizeof unknown)) {
            rc = refuse(field, fn, fd->name, err, "\"%.60s\" is not in code list %s", unknown,
                        fd->codelist->id);
        } else {
            rc = set_text(out, code.data ? code.data : "", code.len);
        }
        buf_fini(&code);
    } else {
        rc = set_text(out, t, strlen(t));
    }
    buf_fini(&nfc);
    if (rc == ERR_NOMEM) rc = err_set(err, ERR_NOMEM, "out of memory");
    return rc;
}

int import_feature_normalize(struct geo_ctx *geo, const struct layer_def *l, int storage_srid,
                             int src_srid, int swap_xy, const struct value *in,
                             const unsigned char *wkb, size_t wkb_len, struct store_row *out,
                             char *field, size_t field_n, struct err *err)
{
    if (field && field_n) field[0] = '\0';
    int64_t fid = out->fid;
    memset(out, 0, sizeof *out);
    out->fid = fid;
    out->n_values = l->n_fields;
    if (!(out->values = calloc((size_t)l->n_fields + 1, sizeof *out->values)))
        return err_set(err, ERR_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < l->n_fields && !rc; i++)
        rc = one_value(&l->fields[i], &in[i], &out->values[i], field, field_n, err);
    if (rc) goto fail;
    if (!wkb) {
        if (field) snprintf(field, field_n, "geometry");
        rc = err_set(err, ERR_PARAM, "field geometry: a feature of layer %s needs a %s", l->id,
                     geom_type_name(l->geom));
        goto fail;
    }
    struct geomfix *gf = geomfix_new(geo);
    if (!gf) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
        goto fail;
    }
    struct buf g;
    buf_init(&g);
    double measure = 0;
    struct bbox box;
    char repaired[160] = "", why[384] = "";
    int fx = geomfix_run(gf, wkb, wkb_len, swap_xy, src_srid, storage_srid, l->geom, &g, &measure,
                         &box, repaired, sizeof repaired, why, sizeof why);
    geomfix_free(gf);
    if (fx < 0)
        rc = err_set(err, (enum err_code) - fx, "geometry: %s", why[0] ? why : "cannot be read");
    else if (fx > 0) {
        if (field) snprintf(field, field_n, "geometry");
        rc = err_set(err, ERR_PARAM, "field geometry: %s", why);
    }
    /* an edit far from Vietnam is a client's CRS mistake (lat/lon swapped, another zone, an
     * undeclared CRS), never data: VN-2000's area of use with the islands, in WGS 84 */
    struct bbox ll;
    if (!rc &&
        (geo_transform_bbox(geo, storage_srid, 4326, &box, &ll, NULL) || ll.minx < VN_LON_MIN ||
         ll.maxx > VN_LON_MAX || ll.miny < VN_LAT_MIN || ll.maxy > VN_LAT_MAX)) {
        if (field) snprintf(field, field_n, "geometry");
        rc = err_set(err, ERR_PARAM,
                     "field geometry: lies outside Vietnam (%.4f,%.4f .. %.4f,%.4f in WGS 84): "
                     "check the CRS the client declared (srsName, Content-Crs) and the axis order",
                     ll.minx, ll.miny, ll.maxx, ll.maxy);
    }
    if (rc) {
        buf_fini(&g);
        goto fail;
    }
    out->wkb_len = g.len;
    out->wkb = (unsigned char *)buf_take(&g, NULL);
    buf_fini(&g);
    for (int i = 0; i < l->n_fields; i++) {
        const struct field_def *fd = &l->fields[i];
        struct value *v = &out->values[i];
        if (fd->derive != DERIVE_NONE && measure > 0)
            v->type = VAL_REAL, v->d = round(measure * 100) / 100, v->s = NULL;
        if (fd->required && v->type == VAL_NULL) {
            if (field) snprintf(field, field_n, "%s", fd->name);
            rc = err_set(err, ERR_PARAM, "field %s: required, and missing", fd->name);
            goto fail;
        }
    }
    return 0;
fail:
    store_row_fini(out);
    out->fid = fid;
    return rc;
}

int import_geom_from_geojson(const char *json, struct buf *wkb, struct err *err)
{
    OGRGeometryH g = OGR_G_CreateGeometryFromJson(json);
    if (!g) return err_set(err, ERR_PARAM, "field geometry: not a GeoJSON geometry");
    int rc = 0;
    size_t n = (size_t)OGR_G_WkbSize(g);
    buf_reset(wkb);
    if (buf_reserve(wkb, n))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    else if (OGR_G_ExportToIsoWkb(g, wkbNDR, (unsigned char *)wkb->data) != OGRERR_NONE)
        rc = err_set(err, ERR_PARAM, "field geometry: cannot be written as WKB");
    else
        wkb->len = n;
    OGR_G_DestroyGeometry(g);
    return rc;
}

int import_geom_from_gml(const char *gml, struct buf *wkb, int *srid, struct err *err)
{
    OGRGeometryH g = OGR_G_CreateFromGML(gml);
    if (!g) return err_set(err, ERR_PARAM, "field geometry: not a GML geometry");
    int rc = 0;
    *srid = 0;
    OGRSpatialReferenceH srs = OGR_G_GetSpatialReference(g);
    if (srs) {
        const char *auth = OSRGetAuthorityName(srs, NULL);
        const char *code = OSRGetAuthorityCode(srs, NULL);
        if (auth && code && strcmp(auth, "EPSG") == 0) *srid = atoi(code);
    }
    size_t n = (size_t)OGR_G_WkbSize(g);
    buf_reset(wkb);
    if (buf_reserve(wkb, n))
        rc = err_set(err, ERR_NOMEM, "out of memory");
    else if (OGR_G_ExportToIsoWkb(g, wkbNDR, (unsigned char *)wkb->data) != OGRERR_NONE)
        rc = err_set(err, ERR_PARAM, "field geometry: cannot be written as WKB");
    else
        wkb->len = n;
    OGR_G_DestroyGeometry(g);
    return rc;
}
