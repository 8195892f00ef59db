/* SPDX-License-Identifier: MIT */
/* cad.c: a CAD drawing (DXF/DGN) for a polygon layer: its closed polylines become the features and
 * each text entity goes to the smallest polygon containing it, as a field named after its CAD
 * layer (e.g. SOTHUA, LOAIDAT). Must not: read other shapes of source (source.c, table.c). */
#include "source_int.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        unsigned char *wkb = src_export_wkb(polys[i], &len);
        if (!wkb || src_add_rec(rs, vals[i], wkb, len)) {
            free(wkb);
            rc = ERR_NOMEM;
            break;
        }
        vals[i] = NULL;
    }
    for (int i = 0; vals && i < n_polys; i++)
        src_free_strv(vals[i], rs->n_fields);
    free(vals), free(area);
    return rc ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

int src_read_cad(struct rec_src *rs, const struct src_spec *spec, struct err *err)
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
