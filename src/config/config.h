/* SPDX-License-Identifier: MIT */
/* config: server settings, the layer catalog (layers/NAME.json, layers/codelists/NAME.json) and the
 * access rules that read it. Everything here is built once at start-up and is immutable after;
 * request handlers get a `const struct config *`.
 *
 * Owns: what a role or a data-sharing agreement may read (access.c is the only place that
 * decides it), and validation of every settings and catalog file at start-up. Must not: open
 * the store, touch a request's output, or change after start-up (SIGHUP builds a new generation
 * in http/, it never edits one in use). */
#ifndef SPP_CONFIG_H
#define SPP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"
#include "../core/request.h"

enum field_type { FT_TEXT, FT_INTEGER, FT_REAL, FT_DATE, FT_BOOLEAN };

/* OGC/WKB geometry type codes. */
enum geom_type {
    GT_POINT = 1,
    GT_LINESTRING = 2,
    GT_POLYGON = 3,
    GT_MULTIPOINT = 4,
    GT_MULTILINESTRING = 5,
    GT_MULTIPOLYGON = 6
};

enum derive_kind { DERIVE_NONE, DERIVE_AREA, DERIVE_LENGTH };

struct code_def {
    char *code;
    char *scheme; /* "TT27_2018", "TT08_2024" or NULL */
    char *name_vi;
    char *name_en;
    char *parent; /* parent code or NULL */
    char *group;  /* top group (NNP, PNN, CSD...) or NULL */
    uint32_t rgb; /* 0xRRGGBB */
    int has_color;
    char **aliases; /* other spellings seen in source data ("QL" for quoc_lo), for the importer */
    int n_aliases;
};

struct crosswalk_def {
    char *from, *to;
    char *from_scheme, *to_scheme;
};

struct codelist {
    char *id;
    char *title_vi, *title_en;
    struct code_def *codes;
    int n_codes;
    struct crosswalk_def *crosswalk;
    int n_crosswalk;
};

struct field_def {
    char *name; /* column name: [a-z][a-z0-9_]*, checked at load */
    enum field_type type;
    int required;
    char *label_vi, *label_en;
    char *desc_vi, *desc_en;
    char **aliases; /* source field names seen in the wild */
    int n_aliases;
    const struct codelist *codelist; /* NULL if free values */
    int multi;                       /* several codes joined by '+' */
    char *unit;
    enum derive_kind derive;
    enum role role; /* lowest role that may read it */
    int personal;   /* personal data (Decree 13/2023) */
    int has_min, has_max;
    double min, max;
    int common; /* from layers/common.json */
    int search; /* "search": true: the store keeps a folded-text substring index of it (text) */
};

/* Static metadata of a layer (layers/meta/metadata.json, issue 21): what the store cannot know. The
 * rest of a metadata record (extent, counts, imports, lineage) comes from the store (src/meta/). */
struct layer_meta {
    char *org_vi, *org_en; /* responsible organisation */
    char *contact_name, *contact_email, *contact_phone, *contact_address;
    char *licence_name, *licence_url;
    char *update_frequency; /* ISO 19115 MD_MaintenanceFrequencyCode value ("asNeeded") */
    char *language;         /* ISO 639-2 ("vie") */
    int scale_denominator;  /* 1:N of the source survey or plan */
    double accuracy_m;      /* horizontal positional accuracy, metres */
    char **keywords_vi, **keywords_en;
    int n_keywords_vi, n_keywords_en;
};

struct layer_def {
    char *id;
    int number; /* 1..24, order of DOMAIN.md section 5 */
    char *title_vi, *title_en;
    char *desc_vi, *desc_en;
    char *group; /* land, construction, transport, planning */
    enum geom_type geom;
    enum role min_role;
    char *style;
    int minzoom, maxzoom;
    int key;                  /* index of the natural key field, -1 if none */
    int label;                /* index of the label field, -1 if none */
    struct field_def *fields; /* layer fields, then the common ones */
    int n_fields;
    int index; /* position in catalog.layers */
    /* Row rule (catalog "row_rule"): roles below row_exempt see only the rows whose field
     * row_field equals row_value (NULL does not). row_field -1: every row is visible. */
    int row_field;
    struct value row_value; /* VAL_INT (booleans 0/1) or VAL_TEXT (s owned) */
    enum role row_exempt;
    unsigned edit_roles;    /* "edit_roles": bit 1 << role for each role that may write (issue 20);
                             * 0: nobody (the default); never ROLE_PUBLIC */
    struct layer_meta meta; /* layers/meta/metadata.json */
};

struct catalog {
    struct layer_def *layers; /* sorted by number */
    int n_layers;
    struct codelist *codelists;
    int n_codelists;
};

/* Limits: every bound a request can hit (issue 9). */
struct limits {
    int max_width, max_height; /* WMS/WMTS image pixels */
    int max_features;          /* features per response */
    int default_features;      /* when the client gives no limit */
    size_t max_body;           /* request body bytes */
    int max_xml_depth, max_json_depth;
    int max_filter_nodes;
    int query_ms;        /* SQLite work per request, ms */
    int max_concurrent;  /* in-flight requests, 503 past it */
    int rate_per_minute; /* per key (or per client address without key), 0 = off */
    /* Connections (issue 18). The first two are read at start-up only. */
    int max_connections;        /* open connections in all (libmicrohttpd's cap) */
    int per_client_connections; /* open connections per socket peer address; more are closed */
    int header_seconds; /* from accept (or the end of the previous answer) to a whole request
                         * head; not reset by bytes arriving (slowloris) */
    int body_seconds;   /* from the request head to the last byte of the body */
    /* Heavy work (issue 18): WMS maps and legends, raster tiles drawn on a miss, WMTS tiles,
     * feature exports of more than export_features run on render_threads threads of their own. */
    int render_threads; /* start-up only */
    /* Threads that help one vector tile read its layers at once (core/par.h), each with its own
     * store connection; -1: the CPUs less one, at most 4; 0: none. Start-up only. */
    int layer_threads;
    int render_queue;    /* heavy requests waiting for a render thread; 503 past it */
    int render_ms;       /* a heavy request's budget from its request line, 503 past it */
    int export_features; /* a feature request asking for more (or not bounding WFS) is heavy */
};

/* Access log format (issue 15): text is combined-log-like, json one object per line. */
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* An address prefix ("10.0.0.0/8", "::1"): a trusted proxy. */
struct net_prefix {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network byte order; 4 bytes used for AF_INET */
    int bits;               /* prefix length */
};

struct config {
    char *db_path;
    char *db_read_path; /* serve --db-read: the workers' queries go there (a PostGIS streaming
                         * replica); NULL: to db_path */
    char *config_path; /* the --config file as read (absolute), NULL without one: SIGHUP reads it */
    char listen_host[64];
    int port;
    int threads;
    int storage_srid; /* default EPSG:5897 */
    char *layers_dir, *styles_dir, *web_dir;
    char *public_url; /* base URL for links, NULL = from the Host header */
    struct limits limits;
    /* The city or province the data belongs to, lon/lat WGS 84 (minlon, minlat, maxlon, maxlat):
     * where spp import expects a source to land when the store has no admin_units boundary and no
     * layers yet ("city_extent" in --config; default: Can Tho's urban core, the demo city). */
    double city_extent[4];
    int drain_seconds;          /* SIGTERM/SIGINT: how long requests in flight may finish (30) */
    int tile_cache_max_mb;      /* tile cache file's content cap, MiB; 0: a quarter of the free disk
                                 * space at start-up, at most 4096 and at least 64 */
    char *tile_cache_dir;       /* PostGIS store: the directory of this replica's tile cache file
                                 * (docs/deploy.md); NULL: /var/cache/spp when writable, else none */
    char *tile_cache_watch_db;  /* PostGIS: a direct (unpooled) URI of the database the workers
                                 * read, for the change watch's LISTEN; NULL: the workers' URI */
    enum log_format log_format; /* access log lines (stdout) */
    struct net_prefix *trusted_proxies; /* peers whose X-Forwarded-For is believed */
    int n_trusted_proxies;
    struct catalog catalog;
    /* spp import: the largest share of a layer's features a batch may remove (0..1, default
     * 0.5); emptying a layer is always refused. --allow-shrink / "allow_shrink" override it. */
    double import_max_shrink;
};

/* Settings. */
/* Fills cfg with defaults (no catalog loaded). */
void config_defaults(struct config *cfg);
/* Reads a JSON settings file over the defaults. ERR_IO / ERR_PARAM with file:key in the message. */
int config_load_file(struct config *cfg, const char *path, struct err *err);
void config_fini(struct config *cfg);
/* "text" or "json" into *out; ERR_PARAM otherwise (for --log-format and the log_format key). */
int config_log_format_parse(const char *s, enum log_format *out);
/* 1 if addr (a textual IPv4/IPv6 address) is inside one of the trusted proxy prefixes. */
int config_trusted_proxy(const struct config *cfg, const char *addr);
/* Directory of the running executable's repository (where layers/ is), for defaults. */
const char *config_home(void);

/* Catalog. */
/* Loads and validates layers/ (every NAME.json, common.json, codelists/). Fails with
 * "file: path: message" on the first error (ERR_PARAM) or ERR_IO. */
int catalog_load(struct catalog *cat, const char *dir, struct err *err);
void catalog_fini(struct catalog *cat);
const struct layer_def *catalog_layer(const struct catalog *cat, const char *id);
const struct codelist *catalog_codelist(const struct catalog *cat, const char *id);
/* Index of a field by name, -1 if none (no access check: use access_field for requests). */
int layer_field_index(const struct layer_def *layer, const char *name);
const char *geom_type_name(enum geom_type t);
const char *field_type_name(enum field_type t);
/* Looks up a code in a list (scheme may be NULL = any, newest scheme first). */
const struct code_def *codelist_find(const struct codelist *cl, const char *code,
                                     const char *scheme);

/* Access: the one place that decides what a role may see (issue 9). */
const char *role_name(enum role r);
int role_parse(const char *s, enum role *out); /* 0 on success */
int access_layer(const struct layer_def *layer, enum role role);
int access_field(const struct layer_def *layer, int field, enum role role);
/* Field index by name if the role may read it; -1 both when it does not exist and when the role
 * may not read it, so an answer never tells that a hidden field exists. */
int access_field_index(const struct layer_def *layer, const char *name, enum role role);
/* The row rule that applies to role on layer: 1 with *field and *value (the only rows role may see
 * have field = value), or 0 when role sees every row. Every query of a layer's rows for a
 * request goes through this (store_query role). */
int access_row_rule(const struct layer_def *layer, enum role role, int *field,
                    const struct value **value);
/* 1 if role may write layer (WFS-T, OGC API Features Part 4: issue 20): the layer's "edit_roles"
 * lists it and the role may read the layer. Never for ROLE_PUBLIC (anonymous). The row rule still
 * bounds what it may change (access_edit_row). */
int access_edit(const struct layer_def *layer, enum role role);
/* 1 if a row whose row-rule field holds v (NULL: the row has none) is one role may write: the
 * rows role may see under the layer's row rule, before and after an edit. */
int access_edit_row(const struct layer_def *layer, enum role role, const struct value *v);
/* 1 if any layer of cat is writable by some role (capabilities advertise editing then). */
int access_any_edit(const struct catalog *cat);

/* Sharing agreements (issue 21): a key given to an agency sees exactly the layers and fields of
 * its agreement. The agreement is applied by giving the key's requests a view of the settings
 * whose catalog closes every layer and field outside it (min_role / role ROLE_CLOSED, which no
 * role reaches), so every output path, which already asks access_layer / access_field, obeys
 * it; rows follow the key's role's row rules, and an agreement's own row filter (--rows) becomes
 * the view's row rule of that layer, applied to every role. */
#define ROLE_CLOSED ((enum role)ROLE_COUNT)
struct access_scope {
    int64_t key_id;
    char agency[128];
    char layers[1024]; /* comma list, "" = every layer the role may read */
    char fields[2048]; /* comma list of layer.field; a layer without entries keeps all fields */
    char rows[512];    /* comma list of layer.field=value: the only rows of that layer */
    const struct config *base; /* the settings generation the view is made from */
    struct config cfg;         /* the view: base with the catalog closed outside the agreement */
    struct access_scope *next;
};
/* Checks an agreement against the catalog (every layer and layer.field exists, fields only of
 * listed layers) and gives the lowest role that reads all of it. ERR_PARAM naming the item. */
int access_agreement_check(const struct catalog *cat, const char *layers, const char *fields,
                           enum role *needed, struct err *err);
/* Checks an agreement's row filters ("layer.field=value,..."; one per layer, a field every role
 * reads, a value of its type, a layer of --layers without a row rule of its own for role).
 * ERR_PARAM naming the item. */
int access_agreement_check_rows(const struct catalog *cat, const char *layers, const char *rows,
                                enum role role, struct err *err);
/* 1 if expires ("YYYY-MM-DD", the last valid day in UTC) is past; 0 for "" (never). */
int access_agreement_expired(const char *expires);
/* The view for a key's agreement over base, built on first use and kept until exit (borrowed).
 * ERR_NOMEM. */
int access_scope_get(const struct config *base, int64_t key_id, const char *agency,
                     const char *layers, const char *fields, const char *rows,
                     const struct access_scope **out, struct err *err);
/* ERR_FORBIDDEN (http_status 403) naming the first layer or field the request names (path
 * parameters, typeName(s), LAYERS, QUERY_LAYERS, properties, propertyName, sortby) that the
 * key's role could read but its agreement does not include; 0 otherwise or without sc. */
int access_scope_refuse(const struct access_scope *sc, const struct request *req, struct err *err);

#endif
