/* SPDX-License-Identifier: MIT */
/* wms.c: WMS 1.3.0 and 1.1.1 (KVP) at /wms and /ows: GetCapabilities, GetMap, GetFeatureInfo
 * and GetLegendGraphic, drawn by render/. Parameters are parsed strictly and every bad one is a
 * ServiceExceptionReport with its OGC code (InvalidCRS/InvalidSRS, LayerNotDefined,
 * StyleNotDefined, InvalidFormat, InvalidPoint...); WIDTH/HEIGHT beyond the configured limits are
 * refused before anything is drawn. Axis order follows the version: 1.3.0 with EPSG:4326 (or any
 * CRS whose EPSG axis order is lat/lon) takes BBOX as lat,lon. Only layers and fields the role
 * may read are listed, drawn or returned (config/access.c). Capabilities details (layout, bounding
 * boxes) are in wms_caps.c; GetFeatureInfo in wms_info.c. */
#include "wms_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wms_version(const struct request *req)
{
    const char *v = req_arg_ci(req, "VERSION");
    if (!v) v = req_arg_ci(req, "WMTVER");
    if (v && (strcmp(v, "1.1.1") == 0 || strcmp(v, "1.1.0") == 0 || strcmp(v, "1.1") == 0 ||
              strcmp(v, "1.0.0") == 0))
        return WMS_111;
    return WMS_130;
}

int wms_fail(struct err *err, const char *code, const char *locator, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_setl(err, ERR_PARAM, locator, "%s", msg);
    if (err && code) snprintf(err->ogc_code, sizeof err->ogc_code, "%s", code);
    if (err) err->http_status = 400;
    return ERR_PARAM;
}

const char *wms_required(const struct request *req, const char *name, struct err *err)
{
    const char *v = req_arg_ci(req, name);
    if (!v || !*v) {
        wms_fail(err, "MissingParameterValue", name, "missing parameter %s", name);
        return NULL;
    }
    return v;
}

void wms_free_styles(struct wms_map *m)
{
    style_free_all(m->sld, m->n_sld);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

/* Picks the style of one layer: from SLD_BODY (by layer, and by name when given), else the
 * registry. */
static int pick_style(const struct request *req, struct wms_map *m, const struct layer_def *layer,
                      const char *name, struct err *err)
{
    const struct style *s = NULL;
    for (int i = 0; i < m->n_sld && !s; i++)
        if (m->sld[i]->layer == layer && (!name || !*name || !strcmp(m->sld[i]->name, name)))
            s = m->sld[i];
    if (!s) s = render_style(layer, name);
    if (!s || s->min_role > req->role)
        return wms_fail(err, "StyleNotDefined", "STYLES", "no style \"%s\" for layer %s",
                        name && *name ? name : "default", layer->id);
    m->layers[m->n_layers++] = (struct render_layer){layer, s};
    return 0;
}

const struct layer_def *wms_layer(const struct request *req, const char *name)
{
    const struct layer_def *l = catalog_layer(&req->cfg->catalog, name);
    return l && access_layer(l, req->role) ? l : NULL;
}

/* LAYERS, STYLES and SLD_BODY into m. */
int wms_parse_layers(const struct request *req, const char *layers_param, struct wms_map *m,
                     struct err *err)
{
    memset(m, 0, sizeof *m);
    if (req_arg_ci(req, "SLD"))
        return wms_fail(err, "InvalidParameterValue", "SLD",
                        "remote SLD documents are not fetched; send SLD_BODY");
    const char *body = req_arg_ci(req, "SLD_BODY");
    if (body && *body) {
        struct style_limits lim;
        style_limits_default(req->cfg, &lim);
        int rc = style_parse_all(body, strlen(body), "SLD_BODY", &req->cfg->catalog, req->role,
                                 &lim, &m->sld, &m->n_sld, err);
        if (rc) {
            if (err->code == ERR_NOT_FOUND)
                snprintf(err->ogc_code, sizeof err->ogc_code, "LayerNotDefined");
            else if (!err->ogc_code[0])
                snprintf(err->ogc_code, sizeof err->ogc_code, "InvalidParameterValue");
            err->code = ERR_PARAM;
            err->http_status = 400;
            return rc;
        }
    }
    const char *lp = req_arg_ci(req, layers_param);
    const char *sp = req_arg_ci(req, "STYLES");
    int n_names = 1;
    for (const char *p = lp ? lp : ""; *p; p++)
        n_names += *p == ',';
    m->layers = calloc((size_t)(n_names + m->n_sld + 1), sizeof *m->layers);
    if (!m->layers) return err_set(err, ERR_NOMEM, "out of memory");
    if ((!lp || !*lp) && m->n_sld) { /* SLD_BODY alone names the layers */
        for (int i = 0; i < m->n_sld; i++)
            m->layers[m->n_layers++] = (struct render_layer){m->sld[i]->layer, m->sld[i]};
        return 0;
    }
    if (!lp || !*lp)
        return wms_fail(err, "LayerNotDefined", layers_param, "missing %s", layers_param);
    if (n_names > 64)
        return wms_fail(err, "InvalidParameterValue", layers_param, "too many layers");
    char *names = str_dup(lp), *styles = str_dup(sp ? sp : "");
    if (!names || !styles) {
        free(names), free(styles);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    int rc = 0, n_styles = 0;
    char *save1 = NULL, *save2 = NULL, *sv = styles;
    char *style_list[65];
    for (char *t = styles; t && n_styles < 65;) { /* empty entries are meaningful */
        char *c = strchr(t, ',');
        if (c) *c = '\0';
        style_list[n_styles++] = t;
        t = c ? c + 1 : NULL;
    }
    (void)save2, (void)sv;
    if (sp && *sp && n_styles != n_names)
        rc = wms_fail(err, "StyleNotDefined", "STYLES", "STYLES has %d entries for %d layers",
                      n_styles, n_names);
    int i = 0;
    for (char *t = names; !rc && (t = strtok_r(i ? NULL : names, ",", &save1)); i++) {
        const struct layer_def *l = wms_layer(req, t);
        if (!l) {
            rc = wms_fail(err, "LayerNotDefined", layers_param, "unknown layer \"%s\"", t);
            break;
        }
        rc = pick_style(req, m, l, sp && *sp && i < n_styles ? style_list[i] : NULL, err);
    }
    free(names);
    free(styles);
    return rc;
}

/* CRS (1.3.0) or SRS (1.1.1): one of the advertised CRSs. */
int wms_parse_crs(const struct request *req, int version, int *srid, struct err *err)
{
    const char *name = version == WMS_111 ? "SRS" : "CRS";
    const char *code = version == WMS_111 ? "InvalidSRS" : "InvalidCRS";
    const char *v = req_arg_ci(req, name);
    if (!v) v = req_arg_ci(req, version == WMS_111 ? "CRS" : "SRS");
    if (!v || !*v) return wms_fail(err, code, name, "missing %s", name);
    int s, adv[32];
    int n = geo_advertised_crs(req->cfg->storage_srid, adv, 32);
    if (geo_crs_parse(v, &s)) return wms_fail(err, code, name, "unknown %s \"%s\"", name, v);
    for (int i = 0; i < n; i++)
        if (adv[i] == s && geo_crs_known(req->geo, s)) {
            *srid = s;
            return 0;
        }
    return wms_fail(err, code, name, "%s \"%s\" is not offered by this service", name, v);
}

/* BBOX in the CRS's axis order for the version, into x = east order. */
int wms_parse_bbox(const struct request *req, int version, int srid, struct bbox *b,
                   struct err *err)
{
    const char *v = wms_required(req, "BBOX", err);
    if (!v) return ERR_PARAM;
    double d[4];
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", v);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == 4 || str_to_double(t, &d[n]) || !isfinite(d[n]))
            return wms_fail(err, "InvalidParameterValue", "BBOX", "BBOX wants 4 numbers: \"%s\"",
                            v);
        n++;
    }
    if (n != 4) return wms_fail(err, "InvalidParameterValue", "BBOX", "BBOX wants 4 numbers");
    if (version == WMS_130 && srid != GEO_SRID_CRS84 && geo_crs_latlon(req->geo, srid))
        *b = (struct bbox){d[1], d[0], d[3], d[2]};
    else
        *b = (struct bbox){d[0], d[1], d[2], d[3]};
    if (!(b->maxx > b->minx) || !(b->maxy > b->miny))
        return wms_fail(err, "InvalidParameterValue", "BBOX",
                        "BBOX minimum must be below maximum: \"%s\"", v);
    return 0;
}

int wms_parse_size(const struct request *req, int *w, int *h, struct err *err)
{
    const char *names[2] = {"WIDTH", "HEIGHT"};
    int lim[2] = {req->cfg->limits.max_width, req->cfg->limits.max_height};
    int *out[2] = {w, h};
    for (int i = 0; i < 2; i++) {
        const char *v = wms_required(req, names[i], err);
        long n;
        if (!v) return ERR_PARAM;
        if (str_to_long(v, &n) || n <= 0)
            return wms_fail(err, "InvalidParameterValue", names[i], "%s must be a positive integer",
                            names[i]);
        if (n > lim[i])
            return wms_fail(err, "InvalidParameterValue", names[i],
                            "%s %ld exceeds the limit of %d pixels", names[i], n, lim[i]);
        *out[i] = (int)n;
    }
    return 0;
}

int wms_parse_format(const char *v, enum render_format *fmt)
{
    if (!v) return -1;
    if (str_ieq(v, "image/png") || str_ieq(v, "png") || str_ieq(v, "image/png32"))
        *fmt = RFMT_PNG;
    else if (str_ieq(v, "image/png; mode=8bit") || str_ieq(v, "image/png;mode=8bit") ||
             str_ieq(v, "image/png8") || str_ieq(v, "png8"))
        *fmt = RFMT_PNG8;
    else if (str_ieq(v, "image/jpeg") || str_ieq(v, "jpeg") || str_ieq(v, "image/jpg"))
        *fmt = RFMT_JPEG;
    else if (str_ieq(v, "image/webp") || str_ieq(v, "webp"))
        *fmt = RFMT_WEBP;
    else
        return -1;
    return 0;
}

static int parse_color(const char *v, uint32_t *out)
{
    if (!v) return 0;
    const char *h = v;
    if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X'))
        h += 2;
    else if (h[0] == '#')
        h++;
    if (strlen(h) != 6) return -1;
    char *end;
    unsigned long c = strtoul(h, &end, 16);
    if (*end) return -1;
    *out = (uint32_t)c;
    return 0;
}

/* Everything GetMap and GetFeatureInfo share. */
int wms_parse_map(struct request *req, const char *layers_param, struct render_request *rq,
                  struct wms_map *m, struct err *err)
{
    int version = wms_version(req);
    memset(rq, 0, sizeof *rq);
    rq->cfg = req->cfg, rq->store = req->store, rq->geo = req->geo, rq->role = req->role;
    rq->scale_factor = 1;
    rq->bgcolor = 0xFFFFFF;
    int rc = wms_parse_layers(req, layers_param, m, err);
    if (!rc) rc = wms_parse_crs(req, version, &rq->srid, err);
    if (!rc) rc = wms_parse_bbox(req, version, rq->srid, &rq->bbox, err);
    if (!rc) rc = wms_parse_size(req, &rq->width, &rq->height, err);
    if (rc) return rc;
    const char *t = req_arg_ci(req, "TRANSPARENT");
    if (t && !str_ieq(t, "TRUE") && !str_ieq(t, "FALSE"))
        return wms_fail(err, "InvalidParameterValue", "TRANSPARENT",
                        "TRANSPARENT is TRUE or FALSE");
    rq->transparent = t && str_ieq(t, "TRUE");
    if (parse_color(req_arg_ci(req, "BGCOLOR"), &rq->bgcolor))
        return wms_fail(err, "InvalidParameterValue", "BGCOLOR", "BGCOLOR wants 0xRRGGBB");
    rq->layers = m->layers;
    rq->n_layers = m->n_layers;
    return 0;
}

static int get_map(struct request *req, struct response *res, struct err *err)
{
    struct render_request rq;
    struct wms_map m;
    int rc = wms_parse_map(req, "LAYERS", &rq, &m, err);
    const char *f = rc ? NULL : wms_required(req, "FORMAT", err);
    if (!rc && !f) rc = ERR_PARAM;
    if (!rc && wms_parse_format(f, &rq.format))
        rc = wms_fail(err, "InvalidFormat", "FORMAT", "unsupported FORMAT \"%s\"", f);
    if (!rc) {
        store_set_deadline(req->store, req->cfg->limits.query_ms);
        rc = render_map(&rq, &res->body, err);
        store_set_deadline(req->store, 0);
    }
    if (!rc)
        resp_set(res, 200, rq.format == RFMT_PNG8 ? "image/png" : render_format_mime(rq.format));
    wms_free_styles(&m);
    return rc;
}

static int get_legend(struct request *req, struct response *res, struct err *err)
{
    const char *ln = wms_required(req, "LAYER", err);
    if (!ln) return ERR_PARAM;
    const struct layer_def *l = wms_layer(req, ln);
    if (!l) return wms_fail(err, "LayerNotDefined", "LAYER", "unknown layer \"%s\"", ln);
    struct wms_map m;
    memset(&m, 0, sizeof m);
    const char *sname = req_arg_ci(req, "STYLE");
    const struct style *s = render_style(l, sname);
    if (!s || s->min_role > req->role)
        return wms_fail(err, "StyleNotDefined", "STYLE", "no style \"%s\" for layer %s",
                        sname ? sname : "default", l->id);
    const char *f = req_arg_ci(req, "FORMAT");
    const char *rule = req_arg_ci(req, "RULE");
    double scale = 0;
    const char *sc = req_arg_ci(req, "SCALE");
    if (sc && (str_to_double(sc, &scale) || scale < 0))
        return wms_fail(err, "InvalidParameterValue", "SCALE", "SCALE wants a number");
    long w = 20, h = 20;
    const char *ws = req_arg_ci(req, "WIDTH"), *hs = req_arg_ci(req, "HEIGHT");
    if ((ws && (str_to_long(ws, &w) || w <= 0 || w > 512)) ||
        (hs && (str_to_long(hs, &h) || h <= 0 || h > 512)))
        return wms_fail(err, "InvalidParameterValue", ws ? "WIDTH" : "HEIGHT",
                        "legend symbol size is 1..512 px");
    int rc;
    if (f && (str_ieq(f, "application/json") || str_ieq(f, "json"))) {
        rc = render_legend_json(s, rule, scale, &res->body, err);
        if (!rc) resp_set(res, 200, "application/json");
    } else if (!f || str_ieq(f, "image/png")) {
        rc = render_legend_png(s, rule, scale, (int)w, (int)h, 1, &res->body, err);
        if (!rc) resp_set(res, 200, "image/png");
    } else {
        return wms_fail(err, "InvalidFormat", "FORMAT",
                        "legend FORMAT is image/png or application/json");
    }
    if (rc == ERR_NOT_FOUND) {
        err->code = ERR_PARAM;
        snprintf(err->ogc_code, sizeof err->ogc_code, "InvalidParameterValue");
    }
    return rc;
}

static const struct {
    const char *name;
    int (*fn)(struct request *, struct response *, struct err *);
} operations[] = {
    {"GetCapabilities", wms_capabilities},
    {"capabilities", wms_capabilities}, /* WMS 1.0 spelling some clients still send */
    {"GetMap", get_map},
    {"map", get_map},
    {"GetFeatureInfo", wms_feature_info},
    {"GetLegendGraphic", get_legend},
};

int wms_dispatch(struct request *req, struct response *res, struct err *err)
{
    req->err_form = FORM_WMS;
    const char *service = req_arg_ci(req, "SERVICE");
    const char *op = req_arg_ci(req, "REQUEST");
    if (service && *service && !str_ieq(service, "WMS"))
        return wms_fail(err, "InvalidParameterValue", "SERVICE", "SERVICE must be WMS");
    if (!op || !*op) {
        wms_fail(err, "MissingParameterValue", "REQUEST", "missing REQUEST");
        return ERR_PARAM;
    }
    for (size_t i = 0; i < ARRAY_LEN(operations); i++)
        if (str_ieq(op, operations[i].name)) return operations[i].fn(req, res, err);
    return wms_fail(err, "OperationNotSupported", "REQUEST", "unknown REQUEST \"%s\"", op);
}

int wms_exception_image(const struct request *req, struct response *res, const struct err *err)
{
    const char *ex = req_arg_ci(req, "EXCEPTIONS");
    const char *op = req_arg_ci(req, "REQUEST");
    if (!ex || !op || !(str_ieq(op, "GetMap") || str_ieq(op, "map"))) return 0;
    int blank = str_ieq(ex, "BLANK") || str_ieq(ex, "application/vnd.ogc.se_blank");
    int inimage = str_ieq(ex, "INIMAGE") || str_ieq(ex, "application/vnd.ogc.se_inimage");
    if (!blank && !inimage) return 0;
    int w, h;
    struct err e;
    err_clear(&e);
    if (wms_parse_size(req, &w, &h, &e)) return 0; /* no sane image size: the XML answer */
    enum render_format fmt;
    if (wms_parse_format(req_arg_ci(req, "FORMAT"), &fmt)) fmt = RFMT_PNG;
    const char *t = req_arg_ci(req, "TRANSPARENT");
    uint32_t bg = 0xFFFFFF;
    if (parse_color(req_arg_ci(req, "BGCOLOR"), &bg)) bg = 0xFFFFFF;
    struct buf img;
    buf_init(&img);
    if (render_message_image(w, h, fmt, t && str_ieq(t, "TRUE"), bg, inimage ? err->msg : NULL,
                             &img, &e)) {
        buf_fini(&img);
        return 0;
    }
    buf_reset(&res->body);
    buf_append(&res->body, img.data, img.len);
    buf_fini(&img);
    resp_set(res, 200, render_format_mime(fmt == RFMT_PNG8 ? RFMT_PNG : fmt));
    return 1;
}
