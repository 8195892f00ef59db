/* SPDX-License-Identifier: MIT */
/* wmts.c: WMTS 1.0.0, KVP (/wmts?SERVICE=WMTS&REQUEST=...) and RESTful
 * (/wmts/1.0.0/WMTSCapabilities.xml, /wmts/1.0.0/{layer}/{style}/{set}/{matrix}/{row}/{col}.png).
 * Two tile matrix sets: WebMercatorQuad (its tiles are the XYZ raster tiles of tiles/, same cache
 * and invalidation) and one in the storage CRS (VN-2000 TM-3, e.g. EPSG:5897) for planners, drawn
 * per request by the WMS renderer as a 2 x 2 metatile with a label buffer, then cut. GetFeatureInfo
 * is the WMS GetFeatureInfo of the tile's box and pixel. Errors are OWS ExceptionReports (the
 * route's FORM_OWS). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../tiles/tiles.h"
#include "wms_int.h"

#define WMTS_TILE 256
#define WMTS_BUF  64 /* px drawn around a storage-CRS tile so labels are not cut */

/* A tile matrix set: level n has resolution res0 / 2^n (CRS units per pixel). */
struct tms {
    char id[32];
    int srid;
    double left, top;     /* top-left corner, x = easting */
    double width, height; /* extent covered, CRS units */
    double res0;
    int n_levels;
    const char *wkss; /* well-known scale set URN or NULL */
};

static void tms_get(const struct request *req, int i, struct tms *t)
{
    memset(t, 0, sizeof *t);
    if (i == 0) {
        snprintf(t->id, sizeof t->id, "WebMercatorQuad");
        t->srid = 3857;
        t->left = -WEBMERC_HALF, t->top = WEBMERC_HALF;
        t->width = t->height = 2 * WEBMERC_HALF;
        t->res0 = 2 * WEBMERC_HALF / WMTS_TILE;
        t->n_levels = 23;
        t->wkss = "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible";
        return;
    }
    /* Storage CRS (a VN-2000 TM-3 zone, false easting 500 km): easting 300..700 km, northing
     * 800..2700 km covers Vietnam; 2048 m per pixel at level 0 down to 0.25 m at level 13. */
    t->srid = req->cfg->storage_srid;
    snprintf(t->id, sizeof t->id, "VN2000_EPSG%d", t->srid);
    t->left = 300000, t->top = 2700000;
    t->width = 400000, t->height = 1900000;
    t->res0 = 2048;
    t->n_levels = 14;
}

static long matrix_w(const struct tms *t, int level)
{
    return (long)ceil(t->width / (t->res0 / ldexp(1, level) * WMTS_TILE) - 1e-9);
}

static long matrix_h(const struct tms *t, int level)
{
    return (long)ceil(t->height / (t->res0 / ldexp(1, level) * WMTS_TILE) - 1e-9);
}

static int fail(struct err *err, const char *code, const char *locator, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct err *err, const char *code, const char *locator, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_setl(err, ERR_PARAM, locator, "%s", msg);
    snprintf(err->ogc_code, sizeof err->ogc_code, "%s", code);
    return ERR_PARAM;
}

static const char *required(const struct request *req, const char *name, struct err *err)
{
    const char *v = req_arg_ci(req, name);
    if (!v || !*v) fail(err, "MissingParameterValue", name, "%s is required", name);
    return v && *v ? v : NULL;
}

/* ---- capabilities ---- */

static void put_tms(struct buf *b, const struct tms *t)
{
    buf_puts(b, "<TileMatrixSet><ows:Identifier>");
    buf_put_xml(b, t->id);
    /* the set's extent, so clients (GDAL's EXTENT_METHOD=TILE_MATRIX_SET) can read beyond a
     * layer's own box */
    buf_printf(
        b, "</ows:Identifier><ows:BoundingBox crs=\"urn:ogc:def:crs:EPSG::%d\"><ows:LowerCorner>",
        t->srid);
    buf_put_double(b, t->left, 8), buf_putc(b, ' '), buf_put_double(b, t->top - t->height, 8);
    buf_puts(b, "</ows:LowerCorner><ows:UpperCorner>");
    buf_put_double(b, t->left + t->width, 8), buf_putc(b, ' '), buf_put_double(b, t->top, 8);
    buf_puts(b, "</ows:UpperCorner></ows:BoundingBox>");
    buf_printf(b, "<ows:SupportedCRS>urn:ogc:def:crs:EPSG::%d</ows:SupportedCRS>", t->srid);
    if (t->wkss) buf_printf(b, "<WellKnownScaleSet>%s</WellKnownScaleSet>", t->wkss);
    for (int l = 0; l < t->n_levels; l++) {
        double res = t->res0 / ldexp(1, l);
        buf_printf(b, "<TileMatrix><ows:Identifier>%d</ows:Identifier><ScaleDenominator>", l);
        buf_put_double(b, res / 0.00028, 10);
        buf_puts(b, "</ScaleDenominator><TopLeftCorner>");
        buf_put_double(b, t->left, 8);
        buf_putc(b, ' ');
        buf_put_double(b, t->top, 8);
        buf_printf(b,
                   "</TopLeftCorner><TileWidth>%d</TileWidth><TileHeight>%d</TileHeight>"
                   "<MatrixWidth>%ld</MatrixWidth><MatrixHeight>%ld</MatrixHeight></TileMatrix>",
                   WMTS_TILE, WMTS_TILE, matrix_w(t, l), matrix_h(t, l));
    }
    buf_puts(b, "</TileMatrixSet>\n");
}

static void put_layer(struct buf *b, struct request *req, const struct layer_def *l,
                      const struct tms *sets, int n_sets)
{
    buf_puts(b, "<Layer><ows:Title>");
    buf_put_xml(b, l->title_vi);
    buf_puts(b, "</ows:Title><ows:Abstract>");
    buf_put_xml(b, l->title_en);
    buf_puts(b, "</ows:Abstract>");
    struct layer_state ls;
    struct err e;
    err_clear(&e);
    struct bbox ll;
    if (store_layer_state(req->store, l, &ls, &e) == 0 && ls.has_extent && ls.n_features > 0 &&
        geo_transform_bbox(req->geo, store_srid(req->store), GEO_SRID_CRS84, &ls.extent, &ll, &e) ==
            0) {
        buf_puts(b, "<ows:WGS84BoundingBox><ows:LowerCorner>");
        buf_put_double(b, ll.minx, 8), buf_putc(b, ' '), buf_put_double(b, ll.miny, 8);
        buf_puts(b, "</ows:LowerCorner><ows:UpperCorner>");
        buf_put_double(b, ll.maxx, 8), buf_putc(b, ' '), buf_put_double(b, ll.maxy, 8);
        buf_puts(b, "</ows:UpperCorner></ows:WGS84BoundingBox>");
    }
    buf_puts(b, "<ows:Identifier>");
    buf_put_xml(b, l->id);
    buf_puts(b, "</ows:Identifier><Style isDefault=\"true\"><ows:Identifier>default"
                "</ows:Identifier></Style><Format>image/png</Format>"
                "<InfoFormat>application/json</InfoFormat><InfoFormat>text/html</InfoFormat>"
                "<InfoFormat>application/vnd.ogc.gml</InfoFormat>"
                "<InfoFormat>text/plain</InfoFormat>");
    for (int i = 0; i < n_sets; i++) {
        buf_puts(b, "<TileMatrixSetLink><TileMatrixSet>");
        buf_put_xml(b, sets[i].id);
        buf_puts(b, "</TileMatrixSet></TileMatrixSetLink>");
    }
    buf_puts(b, "<ResourceURL format=\"image/png\" resourceType=\"tile\" template=\"");
    buf_put_xml(b, req->base_url);
    buf_puts(b, "/wmts/1.0.0/");
    buf_put_xml(b, l->id);
    buf_puts(b, "/{Style}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.png\"/></Layer>\n");
}

static void put_operation(struct buf *b, const struct request *req, const char *name)
{
    buf_printf(b, "<ows:Operation name=\"%s\"><ows:DCP><ows:HTTP><ows:Get xlink:href=\"", name);
    buf_put_xml(b, req->base_url);
    buf_puts(b, "/wmts?\"><ows:Constraint name=\"GetEncoding\"><ows:AllowedValues><ows:Value>KVP"
                "</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get>");
    if (strcmp(name, "GetFeatureInfo") != 0) {
        buf_puts(b, "<ows:Get xlink:href=\"");
        buf_put_xml(b, req->base_url);
        buf_puts(b, "/wmts/1.0.0/\"><ows:Constraint name=\"GetEncoding\"><ows:AllowedValues>"
                    "<ows:Value>RESTful</ows:Value></ows:AllowedValues></ows:Constraint>"
                    "</ows:Get>");
    }
    buf_puts(b, "</ows:HTTP></ows:DCP></ows:Operation>\n");
}

static int capabilities(struct request *req, struct response *res, struct err *err)
{
    struct tms sets[2];
    tms_get(req, 0, &sets[0]);
    tms_get(req, 1, &sets[1]);
    struct buf *b = &res->body;
    buf_puts(
        b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Capabilities"
           " xmlns=\"http://www.opengis.net/wmts/1.0\" xmlns:ows=\"http://www.opengis.net/ows/1.1\""
           " xmlns:xlink=\"http://www.w3.org/1999/xlink\""
           " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation="
           "\"http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/"
           "wmtsGetCapabilities_response.xsd\" version=\"1.0.0\">\n"
           "<ows:ServiceIdentification><ows:Title>spp WMTS</ows:Title>"
           "<ows:ServiceType>OGC WMTS</ows:ServiceType>"
           "<ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>"
           "</ows:ServiceIdentification>\n<ows:OperationsMetadata>\n");
    put_operation(b, req, "GetCapabilities");
    put_operation(b, req, "GetTile");
    put_operation(b, req, "GetFeatureInfo");
    buf_puts(b, "</ows:OperationsMetadata>\n<Contents>\n");
    const struct catalog *cat = &req->cfg->catalog;
    for (int i = 0; i < cat->n_layers; i++)
        if (access_layer(&cat->layers[i], req->role) && render_style(&cat->layers[i], NULL))
            put_layer(b, req, &cat->layers[i], sets, 2);
    for (int i = 0; i < 2; i++)
        put_tms(b, &sets[i]);
    buf_puts(b, "</Contents>\n<ServiceMetadataURL xlink:href=\"");
    buf_put_xml(b, req->base_url);
    if (buf_puts(b, "/wmts/1.0.0/WMTSCapabilities.xml\"/>\n</Capabilities>\n"))
        return err_set(err, ERR_NOMEM, "out of memory");
    resp_set(res, 200, "application/xml");
    return 0;
}

/* ---- tiles ---- */

struct tile_ref {
    const struct layer_def *layer;
    struct tms set;
    int level;
    long row, col;
};

static int parse_long(const char *s, long max, long *out)
{
    if (!s || !*s || strlen(s) > 9) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    if (str_to_long(s, out) || *out < 0 || *out > max) return -1;
    return 0;
}

static int parse_tile(struct request *req, const char *layer, const char *style, const char *set,
                      const char *matrix, const char *row, const char *col, struct tile_ref *t,
                      struct err *err)
{
    t->layer = catalog_layer(&req->cfg->catalog, layer);
    if (!t->layer || !access_layer(t->layer, req->role) || !render_style(t->layer, NULL))
        return fail(err, "InvalidParameterValue", "LAYER", "unknown layer \"%s\"", layer);
    if (style && *style && !str_ieq(style, "default") &&
        !(render_style(t->layer, style) &&
          render_style(t->layer, style) == render_style(t->layer, NULL)))
        return fail(err, "InvalidParameterValue", "STYLE", "unknown style \"%s\"", style);
    int found = 0;
    for (int i = 0; i < 2 && !found; i++) {
        tms_get(req, i, &t->set);
        found = strcmp(t->set.id, set) == 0;
    }
    if (!found)
        return fail(err, "InvalidParameterValue", "TILEMATRIXSET", "unknown TileMatrixSet \"%s\"",
                    set);
    long level;
    if (parse_long(matrix, t->set.n_levels - 1, &level))
        return fail(err, "InvalidParameterValue", "TILEMATRIX", "unknown TileMatrix \"%s\"",
                    matrix);
    t->level = (int)level;
    if (parse_long(row, matrix_h(&t->set, t->level) - 1, &t->row))
        return fail(err, "TileOutOfRange", "TILEROW", "TileRow \"%s\" is out of range", row);
    if (parse_long(col, matrix_w(&t->set, t->level) - 1, &t->col))
        return fail(err, "TileOutOfRange", "TILECOL", "TileCol \"%s\" is out of range", col);
    return 0;
}

/* 1 if the size x size square at (x, y) of img is fully transparent. */
static int wmts_rect_empty(const struct render_image *img, int x0, int y0, int size)
{
    for (int y = y0; y < y0 + size; y++) {
        const uint32_t *row = (const uint32_t *)(img->data + (size_t)y * (size_t)img->stride);
        for (int x = x0; x < x0 + size; x++)
            if (row[x]) return 0;
    }
    return 1;
}

static void tile_box(const struct tile_ref *t, struct bbox *b)
{
    double size = t->set.res0 / ldexp(1, t->level) * WMTS_TILE;
    b->minx = t->set.left + (double)t->col * size;
    b->maxx = b->minx + size;
    b->maxy = t->set.top - (double)t->row * size;
    b->miny = b->maxy - size;
}

/* A storage-CRS tile, drawn as raster XYZ tiles are (tiles/raster.c): the 2 x 2 metatile
 * holding it (tile rows and columns rounded down to even) with a WMTS_BUF px buffer that labels
 * stay out of, then cut. A label may cross the tile edges inside the metatile and is the same
 * pixels in both tiles; drawn per tile, a label crossing a tile edge was dropped from both. */
#define WMTS_META 2
#define WMTS_PAD  4 /* px drawn around the tile's window and cut off */
static int storage_tile(struct request *req, struct response *res, const struct tile_ref *t,
                        struct err *err)
{
    struct render_layer rl = {t->layer, render_style(t->layer, NULL)};
    if (req->role < rl.style->min_role)
        return fail(err, "InvalidParameterValue", "LAYER", "unknown layer \"%s\"", t->layer->id);
    if (req->defer_render) { /* drawn on a render thread (issue 18) */
        req->render_wanted = 1;
        return err_set(err, ERR_LIMIT, "drawn on a render thread");
    }
    struct tile_ref meta = *t;
    meta.row -= t->row % WMTS_META;
    meta.col -= t->col % WMTS_META;
    struct bbox b;
    tile_box(&meta, &b);
    double res_m = (b.maxx - b.minx) / WMTS_TILE, side = WMTS_META * WMTS_TILE * res_m;
    b.maxx = b.minx + side, b.miny = b.maxy - side;
    struct render_request rq;
    memset(&rq, 0, sizeof rq);
    rq.cfg = req->cfg, rq.store = req->store, rq.geo = req->geo, rq.role = req->role;
    rq.layers = &rl, rq.n_layers = 1;
    rq.srid = t->set.srid;
    rq.bbox = (struct bbox){b.minx - WMTS_BUF * res_m, b.miny - WMTS_BUF * res_m,
                            b.maxx + WMTS_BUF * res_m, b.maxy + WMTS_BUF * res_m};
    rq.width = rq.height = WMTS_META * WMTS_TILE + 2 * WMTS_BUF;
    rq.scale_factor = 1;
    rq.format = RFMT_PNG;
    rq.transparent = 1;
    rq.bgcolor = 0xffffff;
    rq.label_buffer = WMTS_BUF;
    /* only the tile's window (plus WMTS_PAD px, not kept: anti-aliasing at the clip edge) is
     * drawn; labels are still placed over the whole metatile (tiles/raster.c does the same) */
    int px = WMTS_BUF + (int)(t->col - meta.col) * WMTS_TILE,
        py = WMTS_BUF + (int)(t->row - meta.row) * WMTS_TILE;
    rq.win_x = px - WMTS_PAD, rq.win_y = py - WMTS_PAD;
    rq.win_w = rq.win_h = WMTS_TILE + 2 * WMTS_PAD;
    px = py = WMTS_PAD; /* the tile's place in the window's image */
    struct render_image img;
    memset(&img, 0, sizeof img);
    int rc = render_draw(&rq, &img, err);
    char etag[40];
    const char *blank_tag = NULL;
    if (!rc && wmts_rect_empty(&img, px, py, WMTS_TILE)) {
        const char *data;
        size_t len;
        rc = tiles_blank_image(RFMT_PNG, WMTS_TILE, WMTS_TILE, &data, &len, &blank_tag, err);
        if (!rc && buf_append(&res->body, data, len)) rc = err_set(err, ERR_NOMEM, "no memory");
    } else if (!rc) {
        rc = render_encode(&img, px, py, WMTS_TILE, WMTS_TILE, RFMT_PNG, 1, 0xffffff, 0, &res->body,
                           err);
    }
    render_image_fini(&img);
    if (rc) return rc;
    if (blank_tag)
        memcpy(etag, blank_tag, sizeof etag);
    else
        tile_etag(res->body.data, res->body.len, "identity", etag);
    resp_header(res, "ETag", etag);
    resp_header(res, "Cache-Control", "public, no-cache");
    if (req->if_none_match && strstr(req->if_none_match, etag)) {
        buf_reset(&res->body);
        resp_set(res, 304, "image/png");
        return 0;
    }
    resp_set(res, 200, "image/png");
    return 0;
}

static int get_tile(struct request *req, struct response *res, const struct tile_ref *t,
                    struct err *err)
{
    if (t->set.srid == 3857) /* an empty tile is the shared blank PNG there too */
        return tiles_png_answer(req, res, t->layer->id, t->level, (int)t->col, (int)t->row, 1, err);
    return storage_tile(req, res, t, err);
}

static int kvp_tile(struct request *req, struct tile_ref *t, struct err *err)
{
    const char *layer, *set, *matrix, *row, *col, *fmt;
    if (!(layer = required(req, "LAYER", err)) || !(set = required(req, "TILEMATRIXSET", err)) ||
        !(matrix = required(req, "TILEMATRIX", err)) || !(row = required(req, "TILEROW", err)) ||
        !(col = required(req, "TILECOL", err)) || !(fmt = required(req, "FORMAT", err)))
        return ERR_PARAM;
    if (!str_ieq(fmt, "image/png"))
        return fail(err, "InvalidParameterValue", "FORMAT", "FORMAT \"%s\" is not offered", fmt);
    return parse_tile(req, layer, req_arg_ci(req, "STYLE"), set, matrix, row, col, t, err);
}

/* GetFeatureInfo: the WMS GetFeatureInfo of the tile's box at pixel I, J. */
static int feature_info(struct request *req, struct response *res, const struct tile_ref *t,
                        struct err *err)
{
    const char *i = required(req, "I", err), *j = i ? required(req, "J", err) : NULL;
    const char *f = j ? required(req, "INFOFORMAT", err) : NULL;
    long iv, jv;
    if (!f) return ERR_PARAM;
    if (parse_long(i, WMTS_TILE - 1, &iv))
        return fail(err, "PointIJOutOfRange", "I", "I \"%s\" is outside the tile", i);
    if (parse_long(j, WMTS_TILE - 1, &jv))
        return fail(err, "PointIJOutOfRange", "J", "J \"%s\" is outside the tile", j);
    struct bbox b;
    tile_box(t, &b);
    char bbox[200], crs[32], is[16], js[16], size[8];
    snprintf(bbox, sizeof bbox, "%.6f,%.6f,%.6f,%.6f", b.minx, b.miny, b.maxx, b.maxy);
    snprintf(crs, sizeof crs, "EPSG:%d", t->set.srid);
    snprintf(is, sizeof is, "%ld", iv);
    snprintf(js, sizeof js, "%ld", jv);
    snprintf(size, sizeof size, "%d", WMTS_TILE);
    struct kv args[] = {
        {"SERVICE", "WMS"},
        {"VERSION", "1.3.0"},
        {"REQUEST", "GetFeatureInfo"},
        {"LAYERS", (char *)t->layer->id},
        {"QUERY_LAYERS", (char *)t->layer->id},
        {"STYLES", ""},
        {"CRS", crs},
        {"BBOX", bbox},
        {"WIDTH", size},
        {"HEIGHT", size},
        {"I", is},
        {"J", js},
        {"INFO_FORMAT", (char *)f},
        {"FEATURE_COUNT", "10"},
    };
    struct request r2 = *req;
    r2.args = args;
    r2.n_args = (int)ARRAY_LEN(args);
    return wms_feature_info(&r2, res, err);
}

int wmts_kvp(struct request *req, struct response *res, struct err *err)
{
    const char *service = req_arg_ci(req, "SERVICE"), *request = req_arg_ci(req, "REQUEST");
    if (!service || !*service)
        return fail(err, "MissingParameterValue", "SERVICE", "SERVICE=WMTS is required");
    if (!str_ieq(service, "WMTS"))
        return fail(err, "InvalidParameterValue", "SERVICE", "unknown SERVICE \"%s\"", service);
    if (!request || !*request)
        return fail(err, "MissingParameterValue", "REQUEST", "REQUEST is required");
    const char *version = req_arg_ci(req, "VERSION");
    if (version && *version && strcmp(version, "1.0.0") != 0 &&
        !str_ieq(request, "GetCapabilities"))
        return fail(err, "VersionNegotiationFailed", "VERSION", "VERSION \"%s\" is not 1.0.0",
                    version);
    if (str_ieq(request, "GetCapabilities")) return capabilities(req, res, err);
    struct tile_ref t;
    if (str_ieq(request, "GetTile")) {
        int rc = kvp_tile(req, &t, err);
        return rc ? rc : get_tile(req, res, &t, err);
    }
    if (str_ieq(request, "GetFeatureInfo")) {
        int rc = kvp_tile(req, &t, err);
        return rc ? rc : feature_info(req, res, &t, err);
    }
    err_setl(err, ERR_PARAM, "REQUEST", "REQUEST \"%s\" is not offered", request);
    snprintf(err->ogc_code, sizeof err->ogc_code, "OperationNotSupported");
    return ERR_PARAM;
}

int wmts_rest_capabilities(struct request *req, struct response *res, struct err *err)
{
    return capabilities(req, res, err);
}

int wmts_rest_tile(struct request *req, struct response *res, struct err *err)
{
    struct tile_ref t;
    int rc =
        parse_tile(req, req_param(req, "layer"), req_param(req, "style"), req_param(req, "set"),
                   req_param(req, "matrix"), req_param(req, "row"), req_param(req, "col"), &t, err);
    if (rc) {
        if (str_ieq(err->ogc_code, "InvalidParameterValue") ||
            str_ieq(err->ogc_code, "TileOutOfRange"))
            err->http_status = 404; /* a REST resource that does not exist */
        return rc;
    }
    return get_tile(req, res, &t, err);
}
