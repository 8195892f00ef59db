/* SPDX-License-Identifier: MIT */
/* geojson.c: the GeoJSON writer every JSON output uses (OGC API items, WFS
 * OUTPUTFORMAT=application/json, GetFeatureInfo, the land API's geometries): a feature sink
 * writing straight into the response buffer, coordinates from geom.c printed by the fixed-point
 * printer (or the exact one where the bytes were defined by printf), field values typed by the
 * catalog. The collection around the features is the caller's. */
#include "encode_int.h"

#include <string.h>

/* "x,y" pairs of a part, as [x,y],[x,y] (swap: y first) */
static int put_points(struct buf *b, const struct geom_part *part, int dec, int swap, int exact)
{
    if (buf_reserve(b, (size_t)part->n * (2 * ENCODE_NUM_ROOM + 4) + 8)) return ERR_NOMEM;
    char *p = b->data + b->len;
    for (int i = 0; i < part->n; i++) {
        double x = part->xy[2 * i + swap], y = part->xy[2 * i + 1 - swap];
        if (i) *p++ = ',';
        *p++ = '[';
        p = exact ? encode_exact_at(p, x, dec) : encode_fixed_at(p, x, dec);
        *p++ = ',';
        p = exact ? encode_exact_at(p, y, dec) : encode_fixed_at(p, y, dec);
        *p++ = ']';
    }
    b->len = (size_t)(p - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* The coordinates of a polygon or multipolygon: rings grouped by their exterior ring. */
static int put_rings(struct buf *b, const struct geom *g, int multi, int dec, int swap, int exact)
{
    int rc = 0;
    for (int i = 0; i < g->n_parts && !rc; i++) {
        const struct geom_part *part = &g->parts[i];
        if (multi && !part->ring)
            rc = buf_puts(b, i ? "]],[" : "[");
        else if (i)
            rc = buf_puts(b, "],");
        if (!rc) rc = buf_putc(b, '[');
        if (!rc) rc = put_points(b, part, dec, swap, exact);
    }
    return rc ? rc : buf_puts(b, multi ? "]]" : "]");
}

int encode_geojson_geometry(struct buf *b, const struct geom *g, int decimals, int swap, int multi,
                            int exact)
{
    static const char *const heads[] = {"",
                                        "{\"type\":\"Point\",\"coordinates\":",
                                        "{\"type\":\"LineString\",\"coordinates\":",
                                        "{\"type\":\"Polygon\",\"coordinates\":",
                                        "{\"type\":\"MultiPoint\",\"coordinates\":",
                                        "{\"type\":\"MultiLineString\",\"coordinates\":",
                                        "{\"type\":\"MultiPolygon\",\"coordinates\":"};
    if (g->type < 1 || g->type > 6 || g->n_parts == 0) return buf_puts(b, "null");
    int t = g->type;
    if (multi && t <= GT_POLYGON) t += GT_MULTIPOINT - GT_POINT; /* the Multi* of a single type */
    int rc = buf_puts(b, heads[t]);
    if (rc) return rc;
    if (t == GT_POINT) {
        rc = put_points(b, &g->parts[0], decimals, swap, exact); /* [x,y] */
        return rc ? rc : buf_putc(b, '}');
    }
    rc = buf_putc(b, '[');
    if (rc) return rc;
    if (t == GT_LINESTRING) {
        rc = put_points(b, &g->parts[0], decimals, swap, exact);
    } else if (t == GT_MULTIPOINT) {
        for (int i = 0; i < g->n_parts && !rc; i++) {
            if (i) rc = buf_putc(b, ',');
            if (!rc) rc = put_points(b, &g->parts[i], decimals, swap, exact);
        }
    } else if (t == GT_MULTILINESTRING) {
        for (int i = 0; i < g->n_parts && !rc; i++) {
            rc = buf_puts(b, i ? ",[" : "[");
            if (!rc) rc = put_points(b, &g->parts[i], decimals, swap, exact);
            if (!rc) rc = buf_putc(b, ']');
        }
    } else {
        rc = put_rings(b, g, t == GT_MULTIPOLYGON, decimals, swap, exact);
    }
    return rc ? rc : buf_puts(b, "]}");
}

int encode_geojson_wkb(struct buf *b, struct encode_geom *eg, const unsigned char *wkb, size_t len,
                       struct err *err)
{
    if (!wkb || !len || geom_from_wkb(&eg->g, wkb, len, NULL)) return buf_puts(b, "null");
    int rc = 0;
    if (eg->src_srid != eg->dst_srid && eg->g.n_coords)
        rc = encode_transform(&eg->cache, eg->geo, eg->src_srid, eg->dst_srid, eg->g.coords,
                              eg->g.n_coords / 2, err);
    if (rc) return rc;
    return encode_nomem(encode_geojson_geometry(b, &eg->g, eg->decimals, eg->swap_xy, 0, eg->exact),
                        err);
}

int encode_geojson_open(struct buf *b)
{
    return buf_puts(b, "{\"type\":\"FeatureCollection\",\"features\":[");
}

void encode_geojson_init(struct encode_geojson *w, struct buf *out, struct geo_ctx *geo,
                         int src_srid, int dst_srid, int geographic)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    encode_geom_init(&w->geom, geo, src_srid, dst_srid, geographic);
}

void encode_geojson_fini(struct encode_geojson *w)
{
    encode_geom_fini(&w->geom);
}

/* The feature's geometry in the output CRS (null when it has none). */
static int put_feature_geom(struct encode_geojson *w, const struct feature *f, struct err *err)
{
    struct encode_geom *eg = &w->geom;
    if (!f->wkb || !f->wkb_len) return encode_nomem(buf_puts(w->out, "null"), err);
    int rc = encode_geom_load(eg, f->wkb, f->wkb_len, err);
    if (rc) return rc;
    return encode_nomem(
        encode_geojson_geometry(w->out, &eg->g, eg->decimals, eg->swap_xy, 0, eg->exact), err);
}

static int put_id(struct encode_geojson *w, const struct feature *f)
{
    struct buf *b = w->out;
    int rc = buf_puts(b, w->n_written ? ",{\"type\":\"Feature\",\"id\":"
                                      : "{\"type\":\"Feature\",\"id\":");
    if (rc) return rc;
    if (!w->id_with_layer) return encode_int(b, (long long)f->fid);
    rc = buf_putc(b, '"');
    if (!rc) rc = buf_puts(b, f->layer->id);
    if (!rc) rc = buf_putc(b, '.');
    if (!rc) rc = encode_int(b, (long long)f->fid);
    return rc ? rc : buf_putc(b, '"');
}

int encode_geojson_feature(struct encode_geojson *w, const struct feature *f, struct err *err)
{
    struct buf *b = w->out;
    const struct layer_def *l = f->layer;
    int rc = put_id(w, f);
    if (!rc) rc = buf_puts(b, ",\"geometry\":");
    if (rc) return encode_nomem(rc, err);
    if (w->no_geometry)
        rc = encode_nomem(buf_puts(b, "null"), err);
    else
        rc = put_feature_geom(w, f, err);
    if (rc) return rc;
    rc = buf_puts(b, ",\"properties\":{");
    for (int i = 0; i < f->n_fields && !rc; i++) {
        const struct field_def *fd = &l->fields[f->fields[i]];
        rc = buf_puts(b, i ? ",\"" : "\"");
        if (!rc) rc = buf_puts(b, fd->name);
        if (!rc) rc = buf_append(b, "\":", 2);
        if (!rc) rc = encode_json_value(b, fd, &f->values[i]);
    }
    if (!rc) rc = buf_puts(b, "}}");
    if (rc) return encode_nomem(rc, err);
    w->n_written++;
    return 0;
}

static int sink_feature(void *ud, const struct feature *f, struct err *err)
{
    return encode_geojson_feature(ud, f, err);
}

struct feature_sink encode_geojson_sink(struct encode_geojson *w)
{
    struct feature_sink s = {NULL, sink_feature, NULL, w};
    return s;
}

int encode_geojson_coded_feature(struct buf *b, struct encode_geom *eg, const struct layer_def *l,
                                 int64_t fid, const int *fields, const struct value *values, int n,
                                 const char *scheme, const unsigned char *wkb, size_t len,
                                 struct err *err)
{
    const struct value *key = NULL;
    for (int i = 0; i < n && l->key >= 0 && !key; i++)
        if (fields[i] == l->key) key = &values[i];
    int first = 1;
    int rc = buf_puts(b, "{\"type\":\"Feature\",\"id\":");
    if (!rc) rc = key && key->type == VAL_TEXT ? buf_put_json_str(b, key->s) : encode_int(b, fid);
    if (!rc) rc = buf_puts(b, ",\"properties\":{");
    if (!rc) rc = encode_json_props(b, l, fields, values, n, scheme, &first);
    if (!rc) rc = buf_puts(b, "},\"geometry\":");
    if (rc) return encode_nomem(rc, err);
    if ((rc = encode_geojson_wkb(b, eg, wkb, len, err))) return rc;
    return encode_nomem(buf_putc(b, '}'), err);
}
