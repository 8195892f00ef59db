/* SPDX-License-Identifier: MIT */
/* main.c: start-up only. Parses the command line, loads settings and the catalog, and runs one
 * command: serve, import, check, init, keys (and the commands the later modules add). Every
 * command prints --help, and exits 2 with one line on a usage error, 1 on a failure. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "config/config.h"
#include "core/core.h"
#include "core/worker.h"
#include "geo/geo.h"
#include "http/http.h"
#include "import/import.h"
#include "query/query.h"
#include "render/render.h"
#include "store/store.h"
#include "tiles/tiles.h"

struct opts {
    const char *db;
    const char *config;
    const char *listen;
    int threads;
    const char *role;
    const char *name;
    const char *agency, *layers, *fields, *expires, *quota; /* keys add: a sharing agreement */
    const char *rows;
    const char *since; /* audit */
    int quiet;
    const char *manifest, *layer, *report; /* import */
    int dry_run, allow_shrink;
    char **sets, **renames; /* import --set/--rename "A=B", argv strings */
    int n_sets, n_renames;
    const char *lang;
    const char *log_format;           /* serve */
    const char *zoom, *bbox, *format; /* seed (--layer is shared with import) */
    const char *tile_cache;           /* seed on PostGIS: the replica's cache file */
    const char *from;                 /* copy */
    const char *db_read;              /* serve */
};

struct command {
    const char *name;
    int (*fn)(struct config *cfg, struct opts *o, int argc, char **argv);
    unsigned bit; /* CMD_* */
    const char *usage;
    const char *help; /* first line: the summary in spp --help */
    const char *example;
};

static const char *prog_cmd = "spp";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", prog_cmd);
    va_end(ap);
    return 2;
}

static int fail(const struct err *err)
{
    fprintf(stderr, "%s: %s\n", prog_cmd, err->msg[0] ? err->msg : err_code_name(err->code));
    return 1;
}

static int load_catalog(struct config *cfg, struct err *err)
{
    return catalog_load(&cfg->catalog, cfg->layers_dir, err);
}

/* --listen HOST:PORT into the settings: 0, or 2 after the usage message. */
static int parse_listen(struct config *cfg, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    long port;
    if (!colon || colon == listen || str_to_long(colon + 1, &port) || port < 0 || port > 65535 ||
        (size_t)(colon - listen) >= sizeof cfg->listen_host)
        return usage_error("--listen wants HOST:PORT, got \"%s\"", listen);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "%.*s", (int)(colon - listen), listen);
    cfg->port = (int)port;
    return 0;
}

/* spp serve */
static int cmd_serve(struct config *cfg, struct opts *o, int argc, char **argv)
{
    if (argc > 0) return usage_error("unexpected argument \"%s\"", argv[0]);
    struct err err;
    err_clear(&err);
    if (o->listen && parse_listen(cfg, o->listen)) return 2;
    if (o->threads) cfg->threads = o->threads;
    if (o->db_read && (!store_is_remote(o->db_read) || !store_is_remote(cfg->db_path)))
        return usage_error(
            "--db-read wants a PostGIS database (postgresql://...) and --db one too");
    if (o->db_read && !(cfg->db_read_path = str_dup(o->db_read)))
        return usage_error("out of memory");
    if (o->log_format && config_log_format_parse(o->log_format, &cfg->log_format))
        return usage_error("--log-format wants text or json, got \"%s\"", o->log_format);
    log_quiet = o->quiet;
    if (load_catalog(cfg, &err) || render_styles_load(cfg, &err) || http_serve(cfg, &err))
        return fail(&err);
    return 0;
}

static int open_write(struct config *cfg, struct store **st, struct err *err)
{
    int rc = store_open(cfg->db_path, STORE_WRITE, st, err);
    if (!rc) rc = store_init_schema(*st, &cfg->catalog, cfg->storage_srid, err);
    return rc;
}

/* spp init */
static int cmd_init(struct config *cfg, struct opts *o, int argc, char **argv)
{
    (void)o;
    if (argc > 0) return usage_error("unexpected argument \"%s\"", argv[0]);
    struct err err;
    err_clear(&err);
    struct store *st = NULL;
    int rc = load_catalog(cfg, &err) || open_write(cfg, &st, &err);
    store_close(st);
    if (rc) return fail(&err);
    printf("%s: store ready, %d layers, storage CRS EPSG:%d\n", cfg->db_path, cfg->catalog.n_layers,
           cfg->storage_srid);
    return 0;
}

/* spp check */
static int cmd_check(struct config *cfg, struct opts *o, int argc, char **argv)
{
    (void)o;
    if (argc > 0) return usage_error("unexpected argument \"%s\"", argv[0]);
    struct err err;
    err_clear(&err);
    struct store *st = NULL;
    if (load_catalog(cfg, &err) || store_open(cfg->db_path, STORE_READ, &st, &err))
        return fail(&err);
    struct buf report;
    buf_init(&report);
    int n = 0;
    int rc = store_check(st, &cfg->catalog, &report, &n, &err);
    store_close(st);
    if (rc) {
        buf_fini(&report);
        return fail(&err);
    }
    fputs(report.data ? report.data : "", stdout);
    buf_fini(&report);
    if (n) {
        fprintf(stderr, "%s: %d problem%s in %s\n", prog_cmd, n, n == 1 ? "" : "s", cfg->db_path);
        return 1;
    }
    printf("%s: matches the catalog (%d layers)\n", cfg->db_path, cfg->catalog.n_layers);
    return 0;
}

static void print_key(void *ud, const struct key_info *k)
{
    const struct config *cfg = ud;
    char last[32] = "";
    int64_t today = 0;
    struct err err;
    err_clear(&err);
    if (store_usage_get(cfg->db_path, k->id, last, &today, &err)) last[0] = '\0';
    char quota[32] = "-";
    if (k->quota > 0) snprintf(quota, sizeof quota, "%lld/day", (long long)k->quota);
    printf("%lld\t%-8s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%lld\t%s\n", (long long)k->id,
           role_name(k->role), k->created, k->revoked[0] ? k->revoked : "active",
           k->agency[0] ? k->agency : "-", k->layers[0] ? k->layers : "*",
           k->fields[0] ? k->fields : "*", k->rows[0] ? k->rows : "*",
           k->expires[0] ? k->expires : "-", quota, last[0] ? last : "-", (long long)today,
           k->name);
}

/* keys add: the key from --role/--name and the agreement options. 2 on a usage error. */
static int key_from_opts(const struct config *cfg, const struct opts *o, struct key_info *k)
{
    memset(k, 0, sizeof *k);
    int agreement = o->agency || o->layers || o->fields || o->expires || o->quota || o->rows;
    if (!o->role && !agreement) return usage_error("keys add needs --role ROLE or --agency NAME");
    if (o->role && (role_parse(o->role, &k->role) || k->role == ROLE_PUBLIC))
        return usage_error("--role must be investor, planner or admin, not \"%s\"", o->role);
    if (agreement && !o->agency)
        return usage_error("--layers, --fields, --rows, --expires and --quota need --agency NAME");
    if (o->layers && (!*o->layers || strlen(o->layers) >= sizeof k->layers))
        return usage_error("--layers wants a comma list of layer ids");
    if (o->fields && (!*o->fields || strlen(o->fields) >= sizeof k->fields))
        return usage_error("--fields wants a comma list of LAYER.FIELD");
    if (o->rows && (!*o->rows || strlen(o->rows) >= sizeof k->rows))
        return usage_error("--rows wants a comma list of LAYER.FIELD=VALUE");
    if (o->expires) {
        int y, m, d;
        char end;
        if (strlen(o->expires) != 10 ||
            sscanf(o->expires, "%4d-%2d-%2d%c", &y, &m, &d, &end) != 3 || m < 1 || m > 12 ||
            d < 1 || d > 31)
            return usage_error("--expires wants YYYY-MM-DD, got \"%s\"", o->expires);
        snprintf(k->expires, sizeof k->expires, "%s", o->expires);
    }
    if (o->quota) {
        long q;
        if (str_to_long(o->quota, &q) || q < 1)
            return usage_error("--quota wants a number of requests per day >= 1, got \"%s\"",
                               o->quota);
        k->quota = q;
    }
    if (o->agency && (!*o->agency || strlen(o->agency) >= sizeof k->agency))
        return usage_error("--agency wants a name");
    snprintf(k->agency, sizeof k->agency, "%s", o->agency ? o->agency : "");
    snprintf(k->layers, sizeof k->layers, "%s", o->layers ? o->layers : "");
    snprintf(k->fields, sizeof k->fields, "%s", o->fields ? o->fields : "");
    snprintf(k->rows, sizeof k->rows, "%s", o->rows ? o->rows : "");
    snprintf(k->name, sizeof k->name, "%s", o->name ? o->name : (o->agency ? o->agency : ""));
    (void)cfg;
    return 0;
}

/* spp keys add|list|revoke */
static int cmd_keys(struct config *cfg, struct opts *o, int argc, char **argv)
{
    struct err err;
    err_clear(&err);
    if (argc < 1) return usage_error("keys needs add, list or revoke");
    const char *sub = argv[0];
    struct key_info k;
    long id = 0;
    if (strcmp(sub, "add") == 0) {
        int u = key_from_opts(cfg, o, &k);
        if (u) return u;
        if (argc > 1) return usage_error("unexpected argument \"%s\"", argv[1]);
    } else if (strcmp(sub, "revoke") == 0) {
        if (argc != 2 || str_to_long(argv[1], &id) || id <= 0)
            return usage_error("keys revoke needs one key ID, a number from spp keys list");
    } else if (strcmp(sub, "list") == 0) {
        if (argc > 1) return usage_error("unexpected argument \"%s\"", argv[1]);
    } else {
        return usage_error("unknown keys command \"%s\" (add, list, revoke)", sub);
    }
    struct store *st = NULL;
    if (load_catalog(cfg, &err) || open_write(cfg, &st, &err)) {
        store_close(st);
        return fail(&err);
    }
    int rc = 0;
    if (strcmp(sub, "add") == 0) {
        /* An agreement's role is the lowest that reads all of it, unless --role says more. */
        enum role needed;
        rc = access_agreement_check(&cfg->catalog, k.layers, k.fields, &needed, &err);
        if (!rc && k.agency[0] && !o->role)
            k.role = needed > ROLE_INVESTOR ? needed : ROLE_INVESTOR;
        if (!rc && needed > k.role)
            rc = err_set(&err, ERR_PARAM, "the agreement needs role %s, more than --role %s",
                         role_name(needed), role_name(k.role));
        if (!rc) rc = access_agreement_check_rows(&cfg->catalog, k.layers, k.rows, k.role, &err);
        char key[64];
        int64_t kid;
        if (!rc) rc = store_key_add_agreement(st, &k, key, &kid, &err);
        if (!rc)
            printf("%s\n", key),
                fprintf(stderr, "key %lld (%s%s%s) created; it is shown once\n", (long long)kid,
                        role_name(k.role), k.agency[0] ? ", agency " : "", k.agency);
    } else if (strcmp(sub, "revoke") == 0) {
        rc = store_key_revoke(st, id, &err);
        if (!rc) printf("key %ld revoked\n", id);
    } else {
        printf("%s\t%-8s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", "ID", "ROLE", "CREATED",
               "STATUS", "AGENCY", "LAYERS", "FIELDS", "ROWS", "EXPIRES", "QUOTA", "LAST_USED",
               "TODAY", "NAME");
        rc = store_key_list(st, print_key, cfg, &err);
    }
    store_close(st);
    return rc ? fail(&err) : 0;
}

/* spp seed */
static int cmd_seed(struct config *cfg, struct opts *o, int argc, char **argv)
{
    struct err err;
    err_clear(&err);
    if (argc > 0) return usage_error("unexpected argument \"%s\"", argv[0]);
    if (!o->layer) return usage_error("seed needs --layer ID (a layer, a comma list or all)");
    if (!o->zoom) return usage_error("seed needs --zoom A-B");
    /* PostGIS: the cache file is a replica's own (warming a replica, docs/deploy.md) */
    int remote = store_is_remote(cfg->db_path);
    if (remote && o->listen && parse_listen(cfg, o->listen)) return 2;
    if (remote && o->tile_cache && o->listen)
        return usage_error("give --tile-cache FILE or --listen (with tile_cache_dir), not both");
    if (remote && !o->tile_cache && !(o->listen && cfg->tile_cache_dir))
        return usage_error("a PostGIS store has no tile cache of its own: seed a replica's,"
                           " --tile-cache FILE or --listen HOST:PORT of the replica with"
                           " tile_cache_dir in --config");
    if (!remote && (o->tile_cache || o->listen))
        return usage_error("--tile-cache and --listen are for a PostGIS store (a SpatiaLite"
                           " store's cache is DB.tiles)");
    struct seed_opts so;
    memset(&so, 0, sizeof so);
    so.layers = o->layer;
    char extra;
    if (sscanf(o->zoom, "%d-%d%c", &so.z0, &so.z1, &extra) != 2) {
        if (sscanf(o->zoom, "%d%c", &so.z0, &extra) != 1)
            return usage_error("--zoom wants A-B (e.g. 15-17), got \"%s\"", o->zoom);
        so.z1 = so.z0;
    }
    if (so.z0 < 0 || so.z1 > TILE_MAX_ZOOM || so.z0 > so.z1)
        return usage_error("--zoom wants A-B with 0 <= A <= B <= %d", TILE_MAX_ZOOM);
    if (o->bbox) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", o->bbox);
        if (bbox_parse(tmp, &so.bbox, NULL, &err) || so.bbox.minx < -180 || so.bbox.maxx > 180 ||
            so.bbox.miny < -85.06 || so.bbox.maxy > 85.06)
            return usage_error("--bbox wants minlon,minlat,maxlon,maxlat, got \"%s\"", o->bbox);
        so.has_bbox = 1;
    }
    if (!o->format || strcmp(o->format, "mvt") == 0)
        so.fmt = TILE_FMT_MVT;
    else if (strcmp(o->format, "png") == 0)
        so.fmt = TILE_FMT_PNG;
    else
        return usage_error("--format wants png or mvt, got \"%s\"", o->format);
    so.role = ROLE_PUBLIC;
    if (o->role && role_parse(o->role, &so.role))
        return usage_error("--role must be public, investor, planner or admin");
    so.threads = o->threads ? o->threads : 2;
    so.progress = isatty(2) && !o->quiet;
    log_quiet = 1;
    int64_t n = 0;
    if (load_catalog(cfg, &err)) return fail(&err);
    struct tile_layers tl;
    if (tiles_parse_layers(&cfg->catalog, so.layers, so.role, &tl, &err))
        return usage_error("--layer: %s", err.msg);
    char *cache_path = !remote ? NULL
                       : o->tile_cache
                           ? str_dup(o->tile_cache)
                           : tile_cache_replica_path(cfg->tile_cache_dir, cfg->db_path, cfg->port);
    if (remote && !cache_path) return usage_error("out of memory");
    so.cache_path = cache_path;
    int rc = 0;
    if ((so.fmt == TILE_FMT_PNG && render_styles_load(cfg, &err)) || tiles_seed(cfg, &so, &n, &err))
        rc = fail(&err);
    else if (cache_path)
        printf("%lld tiles rendered into %s\n", (long long)n, cache_path);
    else
        printf("%lld tiles rendered into %s.tiles\n", (long long)n, cfg->db_path);
    free(cache_path);
    return rc;
}

/* spp import */
/* spp copy */
static int cmd_copy(struct config *cfg, struct opts *o, int argc, char **argv)
{
    if (argc > 0) return usage_error("unexpected argument \"%s\"", argv[0]);
    if (!o->from) return usage_error("copy needs --from FILE (a SpatiaLite store)");
    if (store_is_remote(o->from)) return usage_error("--from wants a SpatiaLite file");
    if (!store_is_remote(cfg->db_path))
        return usage_error("--db wants a PostGIS database (postgresql://USER@HOST:PORT/NAME)");
    struct err err;
    err_clear(&err);
    struct store *src = NULL, *dst = NULL;
    int64_t n = 0;
    int rc = load_catalog(cfg, &err) || store_open(o->from, STORE_READ, &src, &err) ||
             open_write(cfg, &dst, &err) || store_copy(src, dst, &cfg->catalog, &n, &err);
    store_close(src);
    store_close(dst);
    if (rc) return fail(&err);
    printf("%s: %lld features in %d layers copied from %s\n", cfg->db_path, (long long)n,
           cfg->catalog.n_layers, o->from);
    return 0;
}

static int cmd_import(struct config *cfg, struct opts *o, int argc, char **argv)
{
    struct err err;
    err_clear(&err);
    if (!o->manifest && !o->layer)
        return usage_error("import needs --manifest FILE or --layer ID SOURCE...");
    if (o->manifest && o->layer) return usage_error("--manifest and --layer exclude each other");
    if (o->layer && argc < 1)
        return usage_error("--layer %s needs at least one SOURCE file", o->layer);
    if (o->manifest && argc > 0) return usage_error("unexpected argument \"%s\"", argv[0]);
    struct import_opts io = {.manifest = o->manifest,
                             .layer = o->layer,
                             .sources = argv,
                             .n_sources = argc,
                             .report_dir = o->report,
                             .dry_run = o->dry_run,
                             .progress = isatty(2),
                             .quiet = o->quiet,
                             .sets = o->sets,
                             .n_sets = o->n_sets,
                             .renames = o->renames,
                             .n_renames = o->n_renames,
                             .allow_shrink = o->allow_shrink,
                             .lang = o->lang};
    struct import_summary sum;
    memset(&sum, 0, sizeof sum);
    if (load_catalog(cfg, &err)) return fail(&err);
    if (o->layer && !catalog_layer(&cfg->catalog, o->layer))
        return usage_error("--layer: unknown layer \"%s\" (the 24 ids are in layers/)", o->layer);
    int rc = import_run(cfg, &io, &sum, &err);
    if (rc && sum.usage) return usage_error("%s", err.msg);
    if (rc) {
        fail(&err);
    } else {
        printf("%s: batch %s: %d layer%s, %lld features read, %lld written, %lld rejected%s\n",
               cfg->db_path, sum.batch, sum.n_layers, sum.n_layers == 1 ? "" : "s",
               (long long)sum.n_read, (long long)sum.n_written, (long long)sum.n_rejected,
               o->dry_run ? " (dry run: store unchanged)" : "");
        if (sum.n_rejected > 0)
            fprintf(stderr,
                    "%s: %lld feature%s rejected, the first: %s (every one is in the report and in "
                    "spp_findings)\n",
                    prog_cmd, (long long)sum.n_rejected, sum.n_rejected == 1 ? "" : "s",
                    sum.first_reject);
    }
    return import_exit_code(rc, &sum);
}

/* spp query: the land API's handlers called in-process, so the answers are the API's. */
static int query_args(int argc, char **argv, int from, struct kv *args, int max, int *n)
{
    for (int i = from; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        if (*n >= max) return usage_error("too many query arguments");
        if (str_starts(a, "--"))
            a += 2;
        else if (!eq)
            return usage_error("unexpected argument \"%s\" (want --name value)", a);
        char *key = eq ? str_ndup(a, (size_t)(eq - a)) : str_dup(a);
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            free(key);
            return usage_error("option --%s needs a value", a);
        }
        for (char *c = key; *c; c++)
            if (*c == '-') *c = '_';
        args[*n].key = key;
        args[(*n)++].value = str_dup(val);
    }
    return 0;
}

/* Fills path and arguments for one query subcommand; 2 on a usage error. */
static int query_target(int argc, char **argv, char *path, size_t path_len, struct kv *args, int *n,
                        http_handler *fn)
{
    const char *sub = argc ? argv[0] : "";
    int fixed = 0;
    if (strcmp(sub, "land-at") == 0 && argc >= 2 && str_starts(argv[1], "--")) {
        snprintf(path, path_len, "/api/v1/land/at"); /* --x X --y Y [--order xy-vn] */
        *fn = query_land_at;
    } else if (strcmp(sub, "land-at") == 0 && argc >= 3) {
        static const char *const names[] = {"lon", "lat"};
        for (int i = 0; i < 2; i++)
            args[i].key = str_dup(names[i]), args[i].value = str_dup(argv[1 + i]);
        *n = fixed = 2;
        snprintf(path, path_len, "/api/v1/land/at");
        *fn = query_land_at;
    } else if (strcmp(sub, "parcel") == 0 && argc >= 4 && argv[1][0] != '-') {
        static const char *const names[] = {"commune", "sheet", "parcel"};
        for (int i = 0; i < 3; i++)
            args[i].key = str_dup(names[i]), args[i].value = str_dup(argv[1 + i]);
        *n = fixed = 3;
        snprintf(path, path_len, "/api/v1/parcels");
        *fn = query_parcels;
    } else if ((strcmp(sub, "planning") == 0 || strcmp(sub, "parcel") == 0) && argc >= 2) {
        snprintf(path, path_len, "/api/v1/parcels/%s%s", argv[1],
                 strcmp(sub, "planning") == 0 ? "/planning" : "");
        *fn = strcmp(sub, "planning") == 0 ? query_parcel_planning : query_parcel;
        fixed = 1;
    } else if (strcmp(sub, "land-fund") == 0 && argc >= 2) {
        snprintf(path, path_len, "/api/v1/land-funds/%s", argv[1]);
        *fn = query_land_fund;
        fixed = 1;
    } else if (strcmp(sub, "land-funds") == 0) {
        snprintf(path, path_len, "/api/v1/land-funds");
        *fn = query_land_funds;
    } else {
        return usage_error("query wants land-at LON LAT | parcel COMMUNE SHEET PARCEL | parcel KEY"
                           " | planning KEY | land-funds [--name value...] | land-fund ID");
    }
    return query_args(argc, argv, fixed + 1, args, 24, n);
}

static int cmd_query(struct config *cfg, struct opts *o, int argc, char **argv)
{
    struct kv args[24];
    int n = 0, rc;
    char path[256];
    http_handler fn = NULL;
    enum role role = ROLE_PUBLIC;
    if (o->role && role_parse(o->role, &role))
        return usage_error("--role must be public, investor, planner or admin");
    memset(args, 0, sizeof args);
    if ((rc = query_target(argc, argv, path, sizeof path, args, &n, &fn))) goto out;
    struct err err;
    err_clear(&err);
    struct store *st = NULL;
    struct geo_ctx *geo = NULL;
    struct worker worker; /* the handler's caches live as long as this one answer */
    memset(&worker, 0, sizeof worker);
    if (load_catalog(cfg, &err) || store_open(cfg->db_path, STORE_READ, &st, &err) ||
        !(geo = geo_ctx_new(&err))) {
        rc = fail(&err);
    } else {
        struct request req = {.method = "GET",
                              .path = path,
                              .query = "",
                              .args = args,
                              .n_args = n,
                              .role = role,
                              .err_form = FORM_PROBLEM,
                              .cfg = cfg,
                              .worker = &worker,
                              .store = st,
                              .geo = geo};
        worker.store = st, worker.geo = geo;
        snprintf(req.base_url, sizeof req.base_url, "http://localhost");
        const char *slash = strrchr(path, '/');
        char *param = NULL;
        if (fn == query_parcel_planning || fn == query_parcel || fn == query_land_fund) {
            const char *seg =
                fn == query_parcel_planning ? path + strlen("/api/v1/parcels/") : slash + 1;
            param = fn == query_parcel_planning ? str_ndup(seg, strcspn(seg, "/")) : str_dup(seg);
            req.param_names[0] = (char *)(fn == query_land_fund ? "id" : "parcel_key");
            req.params[0] = param;
            req.n_params = 1;
        }
        struct response res;
        resp_init(&res);
        int frc = fn(&req, &res, &err);
        if (frc && err.code == ERR_PARAM && err.locator[0]) {
            /* a bad query parameter is a bad option: name it as typed (--min-area), exit 2 */
            char opt[128];
            snprintf(opt, sizeof opt, "--%s", err.locator);
            for (char *c = opt + 2; *c; c++)
                if (*c == '_') *c = '-';
            rc = usage_error("%s: %s", opt, err.msg[0] ? err.msg : err_code_name(err.code));
        } else if (frc) {
            fprintf(stderr, "%s: %s%s%s\n", prog_cmd, err.locator[0] ? err.locator : "",
                    err.locator[0] ? ": " : "", err.msg[0] ? err.msg : err_code_name(err.code));
            rc = 1;
        } else if (buf_failed(&res.body)) { /* never half an answer */
            fprintf(stderr, "%s: out of memory\n", prog_cmd);
            rc = 1;
        } else {
            fwrite(res.body.data ? res.body.data : "", 1, res.body.len, stdout);
        }
        resp_fini(&res);
        free(param);
    }
    worker_drop_caches(&worker); /* GEOS geometries: before their context */
    geo_ctx_free(geo);
    store_close(st);
out:
    for (int i = 0; i < n; i++)
        free(args[i].key), free(args[i].value);
    return rc;
}

/* spp audit [verify] */
static int cmd_audit(struct config *cfg, struct opts *o, int argc, char **argv)
{
    int verify = argc >= 1 && strcmp(argv[0], "verify") == 0;
    if (argc > verify) return usage_error("unexpected argument \"%s\"", argv[verify]);
    if (verify && (o->since || o->agency || o->layer))
        return usage_error("audit verify checks the whole log: no --since, --agency, --layer");
    if (o->since && (strlen(o->since) < 10 || o->since[4] != '-' || o->since[7] != '-'))
        return usage_error("--since wants YYYY-MM-DD[THH:MM:SS], got \"%s\"", o->since);
    struct err err;
    err_clear(&err);
    int64_t n = 0;
    if (verify) {
        if (audit_verify(cfg->db_path, &n, &err)) return fail(&err);
        printf("%s%s: %lld entries, hash chain intact\n", cfg->db_path,
               store_is_remote(cfg->db_path) ? " spp_audit" : ".audit", (long long)n);
        return 0;
    }
    struct audit_filter f = {o->since, o->agency, o->layer};
    if (audit_print(cfg->db_path, &f, stdout, &n, &err)) return fail(&err);
    return 0;
}

/* spp history LAYER KEY: the change log of one feature (issue 20) */
static int print_edit(void *ud, const struct store_edit_entry *e)
{
    (void)ud;
    printf("change %lld  %s  %s  %s %s/%lld (key %s)", (long long)e->id, e->at, e->who, e->op,
           e->layer, (long long)e->fid, e->key);
    if (e->reverts) printf("  reverts change %lld", (long long)e->reverts);
    if (e->reverted_by) printf("  reverted by change %lld", (long long)e->reverted_by);
    printf("\n  before: %s\n  after:  %s\n", e->before ? e->before : "(none)",
           e->after ? e->after : "(none)");
    return 0;
}

static int cmd_history(struct config *cfg, struct opts *o, int argc, char **argv)
{
    (void)o;
    if (argc != 2) return usage_error("history wants LAYER KEY");
    struct err err;
    err_clear(&err);
    if (load_catalog(cfg, &err)) return fail(&err);
    if (!catalog_layer(&cfg->catalog, argv[0]))
        return usage_error("no layer \"%s\" in the catalog", argv[0]);
    struct store *st = NULL;
    int rc = store_open(cfg->db_path, STORE_READ, &st, &err);
    if (!rc) rc = store_edit_history(st, argv[0], argv[1], print_edit, NULL, &err);
    store_close(st);
    return rc ? fail(&err) : 0;
}

/* spp revert CHANGE_ID: undoes one edit as a new change */
static int cmd_revert(struct config *cfg, struct opts *o, int argc, char **argv)
{
    long id;
    if (argc != 1 || str_to_long(argv[0], &id) || id <= 0)
        return usage_error("revert wants one CHANGE_ID (a number, see spp history)");
    struct err err;
    err_clear(&err);
    if (load_catalog(cfg, &err)) return fail(&err);
    char who[160];
    const char *user = getenv("USER");
    snprintf(who, sizeof who, "%s (spp revert)", o->name ? o->name : user ? user : "cli");
    struct store_edit *ed = NULL;
    int64_t new_id = 0;
    int rc = store_edit_begin(cfg->db_path, who, &ed, &err);
    if (!rc) rc = store_edit_revert(ed, &cfg->catalog, id, &new_id, &err);
    if (rc)
        store_edit_abort(ed);
    else
        rc = store_edit_commit(ed, &err);
    store_edit_close_all();
    if (rc) return fail(&err);
    printf("change %ld reverted by change %lld\n", id, (long long)new_id);
    return 0;
}

/* Options. One table: the parser (getopt_long) and every command's --help are built from it, so
 * a command accepts exactly the options its help lists. `cmds` is the set of commands (CMD_*) that
 * take the option. */
enum {
    CMD_SERVE = 1 << 0,
    CMD_IMPORT = 1 << 1,
    CMD_INIT = 1 << 2,
    CMD_CHECK = 1 << 3,
    CMD_SEED = 1 << 4,
    CMD_KEYS = 1 << 5,
    CMD_QUERY = 1 << 6,
    CMD_AUDIT = 1 << 7,
    CMD_COPY = 1 << 8,
    CMD_HISTORY = 1 << 9, /* issue 20 */
    CMD_REVERT = 1 << 10,
    CMD_ALL = 0x7ff
};

struct optdef {
    const char *name;
    int val;          /* getopt_long's value */
    const char *meta; /* NULL: a flag without a value */
    unsigned cmds;
    const char *help;
};

static const struct optdef optdefs[] = {
    {"db", 'd', "DB", CMD_ALL,
     "the store: a SpatiaLite file (created by init or import), or a PostGIS database"
     " postgresql://USER@HOST:PORT/NAME (password: PGPASSWORD or ~/.pgpass)"},
    {"from", 'J', "FILE", CMD_COPY, "copy: the SpatiaLite store to copy from"},
    {"db-read", 'K', "DB", CMD_SERVE,
     "queries from this PostGIS database (a streaming replica of --db), writes to --db"},
    {"config", 'c', "FILE", CMD_ALL,
     "JSON settings (listen, threads, storage_srid, limits, ...; docs/operations.md)"},
    {"listen", 'l', "HOST:PORT", CMD_SERVE | CMD_SEED,
     "address to serve on (default 127.0.0.1:8080); seed on PostGIS: the replica's, whose"
     " cache file in tile_cache_dir to fill"},
    {"threads", 't', "N", CMD_SERVE | CMD_SEED,
     "worker threads, 1..256 (serve: default from settings; seed: 2)"},
    {"log-format", 'G', "text|json", CMD_SERVE,
     "access log (stdout) as text lines (default) or JSON lines; overrides the settings"},
    {"quiet", 'q', NULL, CMD_SERVE | CMD_IMPORT | CMD_SEED,
     "serve: no access log; import, seed: no progress output"},
    {"manifest", 'm', "FILE", CMD_IMPORT,
     "JSON list of sources with optional pins (crs, encoding, rename, values, defaults, filter,"
     " sheet); paths relative to the manifest"},
    {"layer", 'L', "ID", CMD_IMPORT | CMD_SEED | CMD_AUDIT,
     "import: import SOURCE... into layer ID; seed: a layer, a comma list or all; audit: only"
     " entries of layer ID"},
    {"set", 'S', "FIELD=VALUE", CMD_IMPORT,
     "value of FIELD where a source has none, for every source (a manifest's \"defaults\");"
     " repeatable"},
    {"rename", 'N', "SRC=DST", CMD_IMPORT,
     "read source field SRC as catalog field DST (a manifest's \"rename\"); repeatable"},
    {"allow-shrink", 'A', NULL, CMD_IMPORT,
     "let the batch remove more of a layer than the shrink limit (a deliberate replacement)"},
    {"report", 'R', "DIR", CMD_IMPORT, "write DIR/report.html and DIR/report.json"},
    {"lang", 'V', "vi|en", CMD_IMPORT, "language of the report (default: from the locale)"},
    {"dry-run", 'D', NULL, CMD_IMPORT, "do everything and write the report, but leave the store"},
    {"zoom", 'Z', "A-B", CMD_SEED, "zoom levels to render, e.g. 15-17 (or one level)"},
    {"bbox", 'B', "W,S,E,N", CMD_SEED, "only tiles touching this box, in lon/lat (default: all)"},
    {"format", 'F', "png|mvt", CMD_SEED, "raster (png) or vector (mvt, default) tiles"},
    {"tile-cache", 'T', "FILE", CMD_SEED,
     "seed on PostGIS: the replica's tile cache file to fill (as serve names it:"
     " tile_cache_dir/spp-HASH-PORT.tiles)"},
    {"role", 'r', "ROLE", CMD_SEED | CMD_KEYS | CMD_QUERY,
     "public, investor, planner or admin (keys add: the key's role; seed, query: answer as)"},
    {"name", 'n', "NAME", CMD_KEYS | CMD_REVERT,
     "keys add: a label for the key (who holds it); revert: who reverts (default: the user)"},
    {"agency", 'a', "NAME", CMD_KEYS | CMD_AUDIT,
     "keys add: the agency of a data-sharing agreement (its role: the lowest that reads it);"
     " audit: only its entries"},
    {"layers", 'y', "A,B", CMD_KEYS, "keys add: the only layers the agreement's key may read"},
    {"fields", 'f', "L.F,...", CMD_KEYS,
     "keys add: the only fields of those layers it may read (LAYER.FIELD; others: all)"},
    {"rows", 'w', "L.F=V,...", CMD_KEYS,
     "keys add: only the rows of layer L whose field F is V (one per layer; e.g. "
     "cadastral_parcels.commune_code=31117)"},
    {"expires", 'e', "YYYY-MM-DD", CMD_KEYS, "keys add: the agreement's last valid day (UTC)"},
    {"quota", 'Q', "N", CMD_KEYS, "keys add: requests per UTC day (then 429 until midnight)"},
    {"since", 'W', "TIME", CMD_AUDIT,
     "audit: entries at or after TIME (UTC, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)"},
    {"help", 'h', NULL, CMD_ALL, "this text"},
};

static const struct command commands[] = {
    {"serve", cmd_serve, CMD_SERVE, "serve --db DB [options]",
     "Serve the store over HTTP: WMS, WFS, OGC API, tiles, the land API and the web map.\n"
     "SIGTERM/SIGINT drain requests in flight and exit; SIGHUP reloads settings and API keys.",
     "spp serve --db data/demo/spp.sqlite --listen 0.0.0.0:8080 --threads 4"},
    {"import", cmd_import, CMD_IMPORT,
     "import --db DB (--manifest FILE | --layer ID SOURCE...) [options]",
     "Normalise source files into the catalog layers in one atomic batch (README, Importing"
     " data).\nExit 0: done; 1: failed or refused, store unchanged; 3: done, some features"
     " rejected.",
     "spp import --db city.sqlite --layer cadastral_parcels thua_dat.shp --set "
     "commune_code=31135"},
    {"init", cmd_init, CMD_INIT, "init --db DB [--config FILE]",
     "Create an empty store with the 24 catalog layers (import does this too).",
     "spp init --db city.sqlite"},
    {"check", cmd_check, CMD_CHECK, "check --db DB [--config FILE]",
     "Compare a store with the catalog and its import history; exit 1 on any problem.\n"
     "Problems: a layer that does not match the catalog, a layer emptied since it had\n"
     "features, a source file of a layer's last import that is gone or unreadable.",
     "spp check --db city.sqlite"},
    {"seed", cmd_seed, CMD_SEED, "seed --db DB --layer ID --zoom A-B [options]",
     "Pre-render tiles into the tile cache (both cores by default), with a progress bar.",
     "spp seed --db city.sqlite --layer roads,cadastral_parcels --zoom 14-16 --format png"},
    {"keys", cmd_keys, CMD_KEYS,
     "keys --db DB add (--role ROLE | --agency NAME [--layers A,B] [--fields L.F,...] [--rows"
     " L.F=V,...] [--expires DATE] [--quota N]) [--name NAME] | list | revoke ID",
     "Manage API keys (roles: investor, planner, admin); a new key is printed once.\n"
     "--agency makes a data-sharing agreement: the key reads only its layers and fields.",
     "spp keys --db city.sqlite add --role planner --name \"So TN&MT\""},
    {"audit", cmd_audit, CMD_AUDIT,
     "audit --db DB [--since TIME] [--agency NAME] [--layer ID] | audit --db DB verify",
     "Read the log of restricted reads (DB.audit: every answer that carried a field or row above"
     "\npublic), or verify its hash chain (exit 1 naming the first removed or edited entry).",
     "spp audit --db city.sqlite --since 2026-12-01 --agency \"So Xay dung\""},
    {"copy", cmd_copy, CMD_COPY, "copy --db postgresql://... --from FILE [--config FILE]",
     "Copy a SpatiaLite store into a PostGIS database: every layer with its fids, the import\n"
     "history, findings, changes and API keys, in one transaction (docs/deploy.md).\n"
     "The database password comes from PGPASSWORD or ~/.pgpass, never from --db.",
     "spp copy --db postgresql://spp@db1:5432/city --from city.sqlite"},
    {"query", cmd_query, CMD_QUERY,
     "query --db DB [--role ROLE] land-at LON LAT | parcel COMMUNE SHEET PARCEL | parcel KEY |"
     " planning KEY | land-funds [--kind vacant --min-area 500 ...] | land-fund ID",
     "Ask the land API on the command line (same answers as /api/v1).\n"
     "Options after the query's name are the API's parameters (--min-area 500 is min_area=500).",
     "spp query --db city.sqlite land-funds --kind vacant --min-area 500"},
    {"history", cmd_history, CMD_HISTORY, "history --db DB LAYER KEY",
     "The change log of one feature (WFS-T and OGC API edits): who, when, before and after.\n"
     "KEY is the layer's natural key or the feature id.",
     "spp history --db city.sqlite zoning_blocks NK-01"},
    {"revert", cmd_revert, CMD_REVERT, "revert --db DB [--name NAME] CHANGE_ID",
     "Undo one edit as a new change (an insert is deleted, a delete restored, an update set\n"
     "back); refused when the feature changed after it: revert the later change first.",
     "spp revert --db city.sqlite 42"},
};

static void print_help(const struct command *c)
{
    if (c) {
        printf("usage: spp %s\n\n%s\n\noptions:\n", c->usage, c->help);
        for (size_t i = 0; i < ARRAY_LEN(optdefs); i++) {
            const struct optdef *d = &optdefs[i];
            if (!(d->cmds & c->bit)) continue;
            char left[64];
            snprintf(left, sizeof left, "--%s%s%s", d->name, d->meta ? " " : "",
                     d->meta ? d->meta : "");
            printf("  %-24s %s\n", left, d->help);
        }
        printf("\nexample:\n  %s\n", c->example);
        return;
    }
    printf("spp — spatial-planning layer server\n\nusage: spp COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        printf("  %-8s %.*s\n", commands[i].name, (int)strcspn(commands[i].help, "\n"),
               commands[i].help);
    printf("\n'spp COMMAND --help' lists a command's options, with an example.\n");
}

/* Appends "KEY=VALUE" to a repeatable option's list (argv strings, not copied). */
static int push_pair(char ***list, int *n, const char *opt, const char *val)
{
    const char *eq = strchr(val, '=');
    if (!eq || eq == val) return usage_error("--%s wants NAME=VALUE, got \"%s\"", opt, val);
    char **grown = realloc(*list, (size_t)(*n + 1) * sizeof **list);
    if (!grown) return usage_error("out of memory");
    *list = grown;
    (*list)[(*n)++] = (char *)val;
    return 0;
}

/* Parses the command's options into o; 0, or 2 after a one-line usage error, or -1 after --help. */
static int parse_options(const struct command *cmd, int argc, char **argv, struct opts *o)
{
    struct option longopts[ARRAY_LEN(optdefs) + 1];
    int n = 0;
    for (size_t i = 0; i < ARRAY_LEN(optdefs); i++)
        if (optdefs[i].cmds & cmd->bit)
            longopts[n++] =
                (struct option){optdefs[i].name, optdefs[i].meta ? required_argument : no_argument,
                                NULL, optdefs[i].val};
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    /* getopt_long takes an unambiguous prefix: --layer would be keys' --layers. Only whole names
     * are options here, so a command accepts exactly what its --help lists. */
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0 || (cmd->bit == CMD_QUERY && a[0] != '-')) break;
        if (!str_starts(a, "--")) continue;
        size_t len = strcspn(a + 2, "=");
        int exact = -1;
        for (int k = 0; k < n; k++)
            if (strlen(longopts[k].name) == len && strncmp(longopts[k].name, a + 2, len) == 0)
                exact = k;
        if (exact < 0) {
            for (size_t k = 0; k < ARRAY_LEN(optdefs); k++)
                if (strlen(optdefs[k].name) == len && strncmp(optdefs[k].name, a + 2, len) == 0)
                    return usage_error("option %.*s is not one of %s's", (int)len + 2, a,
                                       cmd->name);
            return usage_error("unknown option \"%.*s\"", (int)len + 2, a);
        }
        if (longopts[exact].has_arg == required_argument && !a[2 + len]) i++;
    }
    opterr = 0;
    optind = 2;
    int ch;
    /* query: options after the subcommand belong to the query (--kind, --min-area...) */
    const char *optstring = cmd->bit == CMD_QUERY ? "+:h" : ":h";
    while ((ch = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->db = optarg;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 't': {
            long t;
            if (str_to_long(optarg, &t) || t < 1 || t > 256)
                return usage_error("--threads wants 1..256, got \"%s\"", optarg);
            o->threads = (int)t;
            break;
        }
        case 'G': {
            enum log_format lf;
            if (config_log_format_parse(optarg, &lf))
                return usage_error("--log-format wants text or json, got \"%s\"", optarg);
            o->log_format = optarg;
            break;
        }
        case 'r':
            o->role = optarg;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'a':
            o->agency = optarg;
            break;
        case 'y':
            o->layers = optarg;
            break;
        case 'f':
            o->fields = optarg;
            break;
        case 'e':
            o->expires = optarg;
            break;
        case 'Q':
            o->quota = optarg;
            break;
        case 'W':
            o->since = optarg;
            break;
        case 'w':
            o->rows = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'Z':
            o->zoom = optarg;
            break;
        case 'B':
            o->bbox = optarg;
            break;
        case 'F':
            o->format = optarg;
            break;
        case 'J':
            o->from = optarg;
            break;
        case 'T':
            o->tile_cache = optarg;
            break;
        case 'K':
            o->db_read = optarg;
            break;
        case 'm':
            o->manifest = optarg;
            break;
        case 'L':
            o->layer = optarg;
            break;
        case 'R':
            o->report = optarg;
            break;
        case 'D':
            o->dry_run = 1;
            break;
        case 'A':
            o->allow_shrink = 1;
            break;
        case 'V':
            if (strcmp(optarg, "vi") != 0 && strcmp(optarg, "en") != 0)
                return usage_error("--lang wants vi or en, got \"%s\"", optarg);
            o->lang = optarg;
            break;
        case 'S':
            if (push_pair(&o->sets, &o->n_sets, "set", optarg)) return 2;
            break;
        case 'N':
            if (push_pair(&o->renames, &o->n_renames, "rename", optarg)) return 2;
            break;
        case 'h':
            print_help(cmd);
            return -1;
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        default: {
            const char *bad = argv[optind - 1];
            for (size_t i = 0; i < ARRAY_LEN(optdefs); i++)
                if (str_starts(bad, "--") && strcmp(bad + 2, optdefs[i].name) == 0)
                    return usage_error("option %s is not one of %s's", bad, cmd->name);
            return usage_error("unknown option \"%s\"", bad);
        }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(NULL);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(NULL);
        return 0;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0) cmd = &commands[i];
    if (!cmd) return usage_error("unknown command \"%s\"", argv[1]);
    static char cmdname[64];
    snprintf(cmdname, sizeof cmdname, "spp %s", cmd->name);
    prog_cmd = cmdname;

    struct opts o;
    memset(&o, 0, sizeof o);
    int prc = parse_options(cmd, argc, argv, &o);
    if (prc) {
        free(o.sets), free(o.renames);
        return prc < 0 ? 0 : prc;
    }
    struct config cfg;
    config_defaults(&cfg);
    struct err err;
    err_clear(&err);
    if (o.config && config_load_file(&cfg, o.config, &err)) {
        config_fini(&cfg);
        return fail(&err);
    }
    if (!o.db) {
        config_fini(&cfg);
        return usage_error("missing --db DB");
    }
    cfg.db_path = str_dup(o.db);
    int rc = cmd->fn(&cfg, &o, argc - optind, argv + optind);
    config_fini(&cfg);
    free(o.sets), free(o.renames);
    return rc;
}
