/* SPDX-License-Identifier: MIT */
/* wms_int.h: what the WMS files share (wms.c: parameters and dispatch, wms_caps.c:
 * GetCapabilities, wms_info.c: GetFeatureInfo). */
#ifndef SPP_WMS_INT_H
#define SPP_WMS_INT_H

#include <stdarg.h>

#include "../render/render.h"
#include "../store/store.h"
#include "ogc.h"

enum { WMS_130, WMS_111 };

/* The layers of a request with their styles (SLD_BODY styles owned here). */
struct wms_map {
    struct render_layer *layers;
    int n_layers;
    struct style **sld;
    int n_sld;
};

int wms_version(const struct request *req);
/* Sets err (ERR_PARAM, 400) with an OGC exception code and locator; returns ERR_PARAM. */
int wms_fail(struct err *err, const char *code, const char *locator, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *wms_required(const struct request *req, const char *name, struct err *err);
const struct layer_def *wms_layer(const struct request *req, const char *name);
int wms_parse_layers(const struct request *req, const char *layers_param, struct wms_map *m,
                     struct err *err);
int wms_parse_crs(const struct request *req, int version, int *srid, struct err *err);
int wms_parse_bbox(const struct request *req, int version, int srid, struct bbox *b,
                   struct err *err);
int wms_parse_size(const struct request *req, int *w, int *h, struct err *err);
int wms_parse_format(const char *v, enum render_format *fmt);
int wms_parse_map(struct request *req, const char *layers_param, struct render_request *rq,
                  struct wms_map *m, struct err *err);
void wms_free_styles(struct wms_map *m);

int wms_capabilities(struct request *req, struct response *res, struct err *err);
int wms_feature_info(struct request *req, struct response *res, struct err *err);

#endif
