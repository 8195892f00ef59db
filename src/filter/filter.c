/* SPDX-License-Identifier: MIT */
/* filter.c: the filter tree itself: construction helpers the parsers share, AND/BBOX
 * combinators, safe XML reading (no DTD, no entities, no network) and filter_check, which
 * resolves every property against the layer as the caller's role sees it and type-checks the
 * literals. SQL generation is in compile.c; the parsers are fes.c, cql2_text.c, cql2_json.c. */
#include "filter_int.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct filter_node *fnode_new(struct fctx *c, enum filter_op op)
{
    if (c && c->lim && c->lim->max_nodes > 0 && c->n_nodes >= c->lim->max_nodes) {
        err_setl(c->err, ERR_PARAM, "FILTER", "filter has more than %d nodes", c->lim->max_nodes);
        return NULL;
    }
    struct filter_node *n = calloc(1, sizeof *n);
    if (!n) {
        if (c) err_set(c->err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    n->op = op;
    n->field = -1;
    n->match_case = 1;
    n->wildcard = '%', n->single_char = '_', n->escape = '\\';
    if (c) c->n_nodes++;
    return n;
}

void fnode_free(struct filter_node *n)
{
    if (!n) return;
    for (int i = 0; i < n->n_children; i++)
        fnode_free(n->children[i]);
    free(n->children);
    free(n->property);
    for (int i = 0; i < n->n_values; i++)
        free(n->values[i].s);
    free(n->values);
    free(n->wkb);
    free(n->ids);
    free(n);
}

int fnode_add_child(struct filter_node *n, struct filter_node *child)
{
    struct filter_node **p = realloc(n->children, (size_t)(n->n_children + 1) * sizeof *p);
    if (!p) return ERR_NOMEM;
    n->children = p;
    n->children[n->n_children++] = child;
    return 0;
}

int fnode_add_value(struct filter_node *n, struct filter_literal *v)
{
    struct filter_literal *p = realloc(n->values, (size_t)(n->n_values + 1) * sizeof *p);
    if (!p) {
        free(v->s);
        v->s = NULL;
        return ERR_NOMEM;
    }
    n->values = p;
    n->values[n->n_values++] = *v;
    v->s = NULL;
    return 0;
}

int fnode_set_property(struct filter_node *n, const char *name, size_t len)
{
    /* strip a namespace prefix ("spp:name") and an XPath child step ("a/b" keeps "b") */
    const char *start = name;
    for (size_t i = 0; i < len; i++)
        if (name[i] == ':' || name[i] == '/') start = name + i + 1;
    len -= (size_t)(start - name);
    while (len && (start[len - 1] == ' ' || start[len - 1] == '\n' || start[len - 1] == '\t'))
        len--;
    while (len && (*start == ' ' || *start == '\n' || *start == '\t'))
        start++, len--;
    free(n->property);
    n->property = str_ndup(start, len);
    return n->property ? 0 : ERR_NOMEM;
}

int flit_text(struct filter_literal *v, const char *s, size_t len)
{
    memset(v, 0, sizeof *v);
    v->type = VAL_TEXT;
    v->s = str_ndup(s, len);
    return v->s ? 0 : ERR_NOMEM;
}

int flit_number_or_text(struct filter_literal *v, const char *s, size_t len)
{
    if (flit_text(v, s, len)) return ERR_NOMEM;
    long l;
    double d;
    if (len < 20 && str_to_long(v->s, &l) == 0) {
        v->type = VAL_INT, v->i = l, v->d = (double)l;
    } else if (str_to_double(v->s, &d) == 0 && isfinite(d)) {
        v->type = VAL_REAL, v->d = d;
    }
    if (v->type != VAL_TEXT) {
        free(v->s);
        v->s = NULL;
    }
    return 0;
}

struct filter *fwrap(struct fctx *c, struct filter_node *root)
{
    struct filter *f = calloc(1, sizeof *f);
    if (!f) {
        fnode_free(root);
        err_set(c ? c->err : NULL, ERR_NOMEM, "out of memory");
        return NULL;
    }
    f->root = root;
    f->n_nodes = c ? c->n_nodes : 1;
    return f;
}

double funits_to_m(double v, const char *unit)
{
    static const struct {
        const char *name;
        double m;
    } units[] = {{"m", 1},
                 {"meter", 1},
                 {"meters", 1},
                 {"metre", 1},
                 {"metres", 1},
                 {"km", 1000},
                 {"kilometers", 1000},
                 {"kilometres", 1000},
                 {"ft", 0.3048},
                 {"feet", 0.3048},
                 {"mi", 1609.344},
                 {"miles", 1609.344},
                 {"nm", 1852},
                 {"nautical miles", 1852},
                 {"urn:ogc:def:uom:EPSG::9001", 1},
                 {"http://www.opengis.net/def/uom/EPSG/0/9001", 1},
                 {"urn:ogc:def:uom:EPSG::9036", 1000}};
    if (!unit || !*unit) return v;
    for (size_t i = 0; i < ARRAY_LEN(units); i++)
        if (str_ieq(unit, units[i].name)) return v * units[i].m;
    return -1;
}

int fgeom_add_part(struct geom *g, int ring, const double *xy, int n)
{
    if (g->n_parts == g->cap_parts) {
        int cap = g->cap_parts ? g->cap_parts * 2 : 4;
        struct geom_part *p = realloc(g->parts, (size_t)cap * sizeof *p);
        if (!p) return ERR_NOMEM;
        g->parts = p;
        g->cap_parts = cap;
    }
    if (g->n_coords + 2 * (size_t)n > g->cap_coords) {
        size_t cap = g->cap_coords ? g->cap_coords : 32;
        while (cap < g->n_coords + 2 * (size_t)n)
            cap *= 2;
        double *c = realloc(g->coords, cap * sizeof *c);
        if (!c) return ERR_NOMEM;
        for (int i = 0; i < g->n_parts; i++)
            g->parts[i].xy = c + (g->parts[i].xy - g->coords);
        g->coords = c;
        g->cap_coords = cap;
    }
    struct geom_part *part = &g->parts[g->n_parts++];
    part->n = n;
    part->ring = ring;
    part->xy = g->coords + g->n_coords;
    memcpy(part->xy, xy, 2 * (size_t)n * sizeof(double));
    g->n_coords += 2 * (size_t)n;
    if (!ring && (g->type == GT_POLYGON || g->type == GT_MULTIPOLYGON)) g->n_polys++;
    return 0;
}

int fgeom_envelope(struct geom *g, double minx, double miny, double maxx, double maxy)
{
    double xy[10] = {minx, miny, maxx, miny, maxx, maxy, minx, maxy, minx, miny};
    g->type = GT_POLYGON;
    return fgeom_add_part(g, 0, xy, 5);
}

int fgeom_to_node(struct fctx *c, struct geom *g, struct filter_node *n)
{
    if (g->n_parts == 0 || g->type < 1 || g->type > 6)
        return err_setl(c->err, ERR_PARAM, "FILTER", "empty or unsupported geometry literal");
    for (size_t i = 0; i < g->n_coords; i++)
        if (!isfinite(g->coords[i]))
            return err_setl(c->err, ERR_PARAM, "FILTER", "geometry literal is not finite");
    for (int i = 0; i < g->n_parts; i++) {
        int t = g->type > 3 ? g->type - 3 : g->type;
        int need = t == 1 ? 1 : t == 2 ? 2 : 4;
        if (g->parts[i].n < need)
            return err_setl(c->err, ERR_PARAM, "FILTER", "geometry literal has too few points");
    }
    struct buf b;
    buf_init(&b);
    if (geom_to_wkb(g, &b)) {
        buf_fini(&b);
        return err_set(c->err, ERR_NOMEM, "out of memory");
    }
    free(n->wkb);
    n->wkb = (unsigned char *)buf_take(&b, &n->wkb_len);
    return 0;
}

int fop_spatial_by_name(const char *name, size_t len)
{
    static const struct {
        const char *name;
        enum filter_op op;
    } ops[] = {{"BBOX", FOP_BBOX},         {"Intersects", FOP_INTERSECTS}, {"Within", FOP_WITHIN},
               {"Contains", FOP_CONTAINS}, {"Disjoint", FOP_DISJOINT},     {"Equals", FOP_EQUALS},
               {"Touches", FOP_TOUCHES},   {"Overlaps", FOP_OVERLAPS},     {"Crosses", FOP_CROSSES},
               {"DWithin", FOP_DWITHIN},   {"Beyond", FOP_BEYOND}};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++)
        if (strlen(ops[i].name) == len && strncasecmp(name, ops[i].name, len) == 0)
            return (int)ops[i].op;
    return -1;
}

void filter_free(struct filter *f)
{
    if (!f) return;
    fnode_free(f->root);
    free(f);
}

struct filter *filter_and(struct filter *a, struct filter *b)
{
    if (!a) return b;
    if (!b) return a;
    struct filter_node *n = fnode_new(NULL, FOP_AND);
    if (!n || fnode_add_child(n, a->root)) {
        fnode_free(n);
        filter_free(a);
        filter_free(b);
        return NULL;
    }
    if (fnode_add_child(n, b->root)) {
        a->root = n;
        filter_free(a);
        filter_free(b);
        return NULL;
    }
    a->root = n;
    a->n_nodes += b->n_nodes + 1;
    b->root = NULL;
    filter_free(b);
    return a;
}

int filter_new_bbox(const struct bbox *b, int srid, struct filter **out, struct err *err)
{
    struct fctx c = {NULL, 0, srid, err};
    struct filter_node *n = fnode_new(&c, FOP_BBOX);
    if (!n) return ERR_NOMEM;
    struct geom g;
    geom_init(&g);
    n->srid = srid;
    int rc = fgeom_envelope(&g, b->minx, b->miny, b->maxx, b->maxy);
    if (rc)
        err_set(err, ERR_NOMEM, "out of memory");
    else
        rc = fgeom_to_node(&c, &g, n);
    geom_fini(&g);
    if (rc) {
        fnode_free(n);
        return rc;
    }
    *out = fwrap(&c, n);
    return *out ? 0 : ERR_NOMEM;
}

int filter_new_resource_ids(const char *const *ids, int n, struct filter **out, struct err *err)
{
    struct fctx c = {NULL, 0, 0, err};
    struct filter_node *node = fnode_new(&c, FOP_RESOURCE_ID);
    if (!node) return ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        struct filter_literal v;
        if (flit_text(&v, ids[i], strlen(ids[i])) || fnode_add_value(node, &v)) {
            fnode_free(node);
            return err_set(err, ERR_NOMEM, "out of memory");
        }
    }
    *out = fwrap(&c, node);
    return *out ? 0 : ERR_NOMEM;
}

void filter_limits_from(const struct limits *l, struct filter_limits *out)
{
    out->max_depth = l->max_xml_depth > 0 ? l->max_xml_depth : 32;
    out->max_nodes = l->max_filter_nodes > 0 ? l->max_filter_nodes : 1000;
    out->max_size = l->max_body > 0 ? l->max_body : 1 << 20;
}

int filter_is_geom_name(const char *name)
{
    if (!name) return 0;
    const char *p = strrchr(name, ':');
    p = p ? p + 1 : name;
    return str_ieq(p, "geom") || str_ieq(p, "geometry") || str_ieq(p, "the_geom") ||
           str_ieq(p, "msGeometry");
}

/* ---- safe XML ---- */

static void xml_silent(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
}

static int xml_depth_ok(xmlNodePtr n, int depth, int max)
{
    if (depth > max) return 0;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !xml_depth_ok(c, depth + 1, max)) return 0;
    return 1;
}

int filter_xml_read(const char *xml, size_t len, const struct filter_limits *lim, void **doc_out,
                    struct err *err)
{
    *doc_out = NULL;
    if (lim && lim->max_size && len > lim->max_size)
        return err_setl(err, ERR_PARAM, "FILTER", "XML larger than %zu bytes", lim->max_size);
    if (len > INT32_MAX) return err_setl(err, ERR_PARAM, "FILTER", "XML too large");
    /* DTDs (and with them entity declarations) are refused before libxml2 sees them */
    for (size_t i = 0; i + 2 < len; i++)
        if (xml[i] == '<' && xml[i + 1] == '!' && xml[i + 2] != '-' && xml[i + 2] != '[')
            return err_setl(err, ERR_PARAM, "FILTER",
                            "XML with a DOCTYPE or entity declaration is not accepted");
    xmlSetGenericErrorFunc(NULL, xml_silent);
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                      XML_PARSE_NOCDATA);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        char msg[160] = "";
        if (e && e->message) {
            snprintf(msg, sizeof msg, "%s", e->message);
            size_t m = strlen(msg);
            while (m && (msg[m - 1] == '\n' || msg[m - 1] == ' '))
                msg[--m] = '\0';
        }
        return err_setl(err, ERR_PARAM, "FILTER", "malformed XML (line %d): %s", e ? e->line : 0,
                        msg[0] ? msg : "parse error");
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int max = lim && lim->max_depth > 0 ? lim->max_depth : 32;
    if (doc->intSubset || !root || !xml_depth_ok(root, 1, max)) {
        int dtd = doc->intSubset != NULL;
        xmlFreeDoc(doc);
        if (dtd) return err_setl(err, ERR_PARAM, "FILTER", "XML with a DOCTYPE is not accepted");
        return err_setl(err, ERR_PARAM, "FILTER", "XML nested deeper than %d elements", max);
    }
    *doc_out = doc;
    return 0;
}

void filter_xml_free(void *doc)
{
    if (doc) xmlFreeDoc((xmlDocPtr)doc);
}

/* ---- checking ---- */

static int check_literal(struct filter_literal *v, const struct field_def *fd, struct err *err)
{
    switch (fd->type) {
    case FT_INTEGER:
    case FT_REAL:
        if (v->type == VAL_TEXT) {
            struct filter_literal n;
            if (flit_number_or_text(&n, v->s, strlen(v->s))) return ERR_NOMEM;
            if (n.type == VAL_TEXT) {
                free(n.s);
                return err_setl(err, ERR_PARAM, "FILTER", "\"%s\" is not a number (property %s)",
                                v->s, fd->name);
            }
            free(v->s);
            *v = n;
        }
        return 0;
    case FT_BOOLEAN:
        if (v->type == VAL_TEXT) {
            int t = str_ieq(v->s, "true") || strcmp(v->s, "1") == 0;
            int f = str_ieq(v->s, "false") || strcmp(v->s, "0") == 0;
            if (!t && !f)
                return err_setl(err, ERR_PARAM, "FILTER", "\"%s\" is not a boolean (property %s)",
                                v->s, fd->name);
            free(v->s);
            v->s = NULL;
            v->type = VAL_INT, v->i = t, v->d = t;
        }
        return 0;
    default:
        if (v->type != VAL_TEXT) {
            char tmp[64];
            if (v->type == VAL_INT)
                snprintf(tmp, sizeof tmp, "%lld", (long long)v->i);
            else
                snprintf(tmp, sizeof tmp, "%.17g", v->d);
            v->s = str_dup(tmp);
            if (!v->s) return ERR_NOMEM;
            v->type = VAL_TEXT;
        }
        return 0;
    }
}

/* ids as written ("layer.12", "12") -> fids of this layer */
static int check_ids(struct filter_node *n, const struct layer_def *layer, struct err *err)
{
    free(n->ids);
    n->ids = calloc((size_t)(n->n_values ? n->n_values : 1), sizeof *n->ids);
    if (!n->ids) return err_set(err, ERR_NOMEM, "out of memory");
    n->n_ids = 0;
    size_t idlen = strlen(layer->id);
    for (int i = 0; i < n->n_values; i++) {
        const struct filter_literal *v = &n->values[i];
        if (v->type == VAL_INT) {
            n->ids[n->n_ids++] = v->i;
            continue;
        }
        if (v->type != VAL_TEXT) continue;
        const char *s = v->s, *dot = strrchr(s, '.');
        if (dot) {
            if ((size_t)(dot - s) != idlen || strncmp(s, layer->id, idlen) != 0) continue;
            s = dot + 1;
        }
        long id;
        if (str_to_long(s, &id) == 0)
            n->ids[n->n_ids++] = id;
        else if (!dot)
            return err_setl(err, ERR_PARAM, "RESOURCEID", "\"%s\" is not a feature id", v->s);
    }
    return 0;
}

static int check_node(struct filter_node *n, const struct layer_def *layer, enum role role,
                      struct err *err)
{
    int rc = 0;
    for (int i = 0; i < n->n_children && !rc; i++)
        rc = check_node(n->children[i], layer, role, err);
    if (rc || n->by_code) return rc;
    switch (n->op) {
    case FOP_AND:
    case FOP_OR:
    case FOP_NOT:
    case FOP_INCLUDE:
    case FOP_EXCLUDE:
        return 0;
    case FOP_RESOURCE_ID:
        return check_ids(n, layer, err);
    default:
        break;
    }
    if (n->op >= FOP_BBOX && n->op <= FOP_BEYOND) {
        if (n->property && *n->property && !filter_is_geom_name(n->property))
            return err_setl(err, ERR_PARAM, "FILTER", "unknown property \"%s\"", n->property);
        if (!n->wkb) return err_setl(err, ERR_PARAM, "FILTER", "spatial operator without geometry");
        if ((n->op == FOP_DWITHIN || n->op == FOP_BEYOND) && !(n->distance >= 0))
            return err_setl(err, ERR_PARAM, "FILTER", "distance must be a number >= 0");
        n->field = -1;
        return 0;
    }
    if (!n->property) return err_setl(err, ERR_PARAM, "FILTER", "comparison without a property");
    if (n->op == FOP_ISNULL && filter_is_geom_name(n->property)) {
        n->field = -2; /* geometry IS NULL */
        return 0;
    }
    static const struct field_def fid = {.name = "fid", .type = FT_INTEGER};
    const struct field_def *fd = &fid;
    if (str_ieq(n->property, "fid") || str_ieq(n->property, "id")) {
        n->field = -1;
    } else {
        int f = access_field_index(layer, n->property, role);
        if (f < 0)
            return err_setl(err, ERR_PARAM, "FILTER", "unknown property \"%s\"", n->property);
        n->field = f, fd = &layer->fields[f];
    }
    if (n->op == FOP_LIKE) {
        /* LIKE compares text, on the feature id too: keep the pattern as written */
        for (int i = 0; i < n->n_values; i++)
            if (n->values[i].type != VAL_TEXT)
                return err_setl(err, ERR_PARAM, "FILTER", "LIKE needs a text pattern");
        return 0;
    }
    for (int i = 0; i < n->n_values && !rc; i++)
        rc = check_literal(&n->values[i], fd, err);
    return rc;
}

int filter_check(struct filter *f, const struct layer_def *layer, enum role role, struct err *err)
{
    if (!f || !f->root) return 0;
    return check_node(f->root, layer, role, err);
}
