/* SPDX-License-Identifier: MIT */
/* main.c: start-up only. Parses the command line, loads settings and the catalog, and runs one
 * command: serve, import, check, init, keys (and the commands the later modules add). Every
 * command prints --help, and exits 2 with one line on a usage error, 1 on a failure. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/core.h"
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
    int quiet;
    const char *manifest, *layer, *report; /* import */
    int dry_run;
    const char *zoom, *bbox, *format; /* seed (--layer is shared with import) */
};

struct command {
    const char *name;
    int (*fn)(struct config *cfg, struct opts *o, int argc, char **argv);
    const char *usage;
    const char *help;
    int needs_db;
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

/* spp serve */
static int cmd_serve(struct config *cfg, struct opts *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    struct err err;
    err_clear(&err);
    if (o->listen) {
        const char *colon = strrchr(o->listen, ':');
        long port;
        if (!colon || colon == o->listen || str_to_long(colon + 1, &port) || port < 0 ||
            port > 65535 || (size_t)(colon - o->listen) >= sizeof cfg->listen_host)
            return usage_error("--listen wants HOST:PORT, got \"%s\"", o->listen);
        snprintf(cfg->listen_host, sizeof cfg->listen_host, "%.*s", (int)(colon - o->listen),
                 o->listen);
        cfg->port = (int)port;
    }
    if (o->threads) cfg->threads = o->threads;
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
    (void)o, (void)argc, (void)argv;
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
    (void)o, (void)argc, (void)argv;
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
    (void)ud;
    printf("%lld\t%-8s\t%s\t%s\t%s\n", (long long)k->id, role_name(k->role), k->created,
           k->revoked[0] ? k->revoked : "active", k->name);
}

/* spp keys add|list|revoke */
static int cmd_keys(struct config *cfg, struct opts *o, int argc, char **argv)
{
    struct err err;
    err_clear(&err);
    if (argc < 1) return usage_error("keys needs add, list or revoke");
    const char *sub = argv[0];
    enum role role = ROLE_PUBLIC;
    long id = 0;
    if (strcmp(sub, "add") == 0) {
        if (!o->role) return usage_error("keys add needs --role ROLE");
        if (role_parse(o->role, &role) || role == ROLE_PUBLIC)
            return usage_error("--role must be investor, planner or admin, not \"%s\"", o->role);
        if (argc > 1) return usage_error("unexpected argument \"%s\"", argv[1]);
    } else if (strcmp(sub, "revoke") == 0) {
        if (argc != 2 || str_to_long(argv[1], &id) || id <= 0)
            return usage_error("keys revoke needs one key ID (see spp keys list)");
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
        char key[64];
        int64_t kid;
        rc = store_key_add(st, role, o->name ? o->name : "", key, &kid, &err);
        if (!rc)
            printf("%s\n", key), fprintf(stderr, "key %lld (%s) created; it is shown once\n",
                                         (long long)kid, role_name(role));
    } else if (strcmp(sub, "revoke") == 0) {
        rc = store_key_revoke(st, id, &err);
        if (!rc) printf("key %ld revoked\n", id);
    } else {
        rc = store_key_list(st, print_key, NULL, &err);
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
    if (load_catalog(cfg, &err) || (so.fmt == TILE_FMT_PNG && render_styles_load(cfg, &err)) ||
        tiles_seed(cfg, &so, &n, &err))
        return fail(&err);
    printf("%lld tiles rendered into %s.tiles\n", (long long)n, cfg->db_path);
    return 0;
}

/* spp import */
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
                             .quiet = o->quiet};
    struct import_summary sum;
    memset(&sum, 0, sizeof sum);
    if (load_catalog(cfg, &err)) return fail(&err);
    int rc = import_run(cfg, &io, &sum, &err);
    if (rc) {
        fail(&err);
    } else {
        printf("%s: batch %s: %d layer%s, %lld features read, %lld written, %lld rejected%s\n",
               cfg->db_path, sum.batch, sum.n_layers, sum.n_layers == 1 ? "" : "s",
               (long long)sum.n_read, (long long)sum.n_written, (long long)sum.n_rejected,
               o->dry_run ? " (dry run: store unchanged)" : "");
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
                              .store = st,
                              .geo = geo};
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
        if (fn(&req, &res, &err)) {
            fprintf(stderr, "%s: %s%s%s\n", prog_cmd, err.locator[0] ? err.locator : "",
                    err.locator[0] ? ": " : "", err.msg[0] ? err.msg : err_code_name(err.code));
            rc = 1;
        } else {
            fwrite(res.body.data ? res.body.data : "", 1, res.body.len, stdout);
        }
        resp_fini(&res);
        free(param);
    }
    geo_ctx_free(geo);
    store_close(st);
out:
    for (int i = 0; i < n; i++)
        free(args[i].key), free(args[i].value);
    return rc;
}

static const struct command commands[] = {
    {"serve", cmd_serve, "serve --db DB [--listen 127.0.0.1:8080] [--threads N] [--config FILE]",
     "Serve the store over HTTP: WMS, WFS, OGC API, tiles, the land API and the web map.", 1},
    {"import", cmd_import,
     "import --db DB (--manifest FILE | --layer ID SOURCE...) [--report DIR] [--dry-run]",
     "Normalise source files into the catalog layers in one atomic batch (see README).\n\n"
     "  --manifest FILE  JSON list of sources with optional pins (crs, encoding, rename, values,\n"
     "                   defaults, filter, sheet); paths relative to the manifest\n"
     "  --layer ID       import SOURCE... into layer ID, detecting everything\n"
     "  --report DIR     write DIR/report.json and DIR/report.html\n"
     "  --dry-run        do everything but write the store\n"
     "  --quiet          no progress output",
     1},
    {"init", cmd_init, "init --db DB [--config FILE]",
     "Create an empty store with the 24 catalog layers (import does this too).", 1},
    {"check", cmd_check, "check --db DB [--config FILE]",
     "Compare a store with the catalog; exit 1 on any mismatch.", 1},
    {"seed", cmd_seed,
     "seed --db DB --layer ID --zoom A-B [--bbox minlon,minlat,maxlon,maxlat] [--format png|mvt]"
     " [--role ROLE] [--threads N]",
     "Pre-render tiles into the tile cache (both cores by default), with a progress bar.", 1},
    {"keys", cmd_keys, "keys --db DB add --role ROLE [--name NAME] | list | revoke ID",
     "Manage API keys (roles: investor, planner, admin); a new key is printed once.", 1},
    {"query", cmd_query,
     "query --db DB [--role ROLE] land-at LON LAT | parcel COMMUNE SHEET PARCEL | parcel KEY |"
     " planning KEY | land-funds [--kind vacant --min-area 500 ...] | land-fund ID",
     "Ask the land API on the command line (same answers as /api/v1).", 1},
};

static void print_help(const struct command *c)
{
    if (c) {
        printf("usage: spp %s\n\n%s\n\noptions:\n"
               "  --db FILE       the SpatiaLite store\n"
               "  --config FILE   JSON settings (listen, threads, storage_srid, limits...)\n"
               "  --help          this text\n",
               c->usage, c->help);
        return;
    }
    printf("spp — spatial-planning layer server\n\nusage: spp COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        printf("  %-8s %s\n", commands[i].name, commands[i].help);
    printf("\n'spp COMMAND --help' shows a command's options.\n");
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

    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},     {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'}, {"threads", required_argument, NULL, 't'},
        {"role", required_argument, NULL, 'r'},   {"name", required_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"zoom", required_argument, NULL, 'Z'},   {"bbox", required_argument, NULL, 'B'},
        {"format", required_argument, NULL, 'F'}, {"manifest", required_argument, NULL, 'm'},
        {"layer", required_argument, NULL, 'L'},  {"report", required_argument, NULL, 'R'},
        {"dry-run", no_argument, NULL, 'D'},      {NULL, 0, NULL, 0}};
    struct opts o;
    memset(&o, 0, sizeof o);
    opterr = 0;
    optind = 2;
    int ch;
    /* query: options after the subcommand belong to the query (--kind, --min-area...) */
    const char *optstring = strcmp(cmd->name, "query") == 0 ? "+:h" : ":h";
    while ((ch = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o.db = optarg;
            break;
        case 'c':
            o.config = optarg;
            break;
        case 'l':
            o.listen = optarg;
            break;
        case 't': {
            long t;
            if (str_to_long(optarg, &t) || t < 1 || t > 256)
                return usage_error("--threads wants 1..256, got \"%s\"", optarg);
            o.threads = (int)t;
            break;
        }
        case 'r':
            o.role = optarg;
            break;
        case 'n':
            o.name = optarg;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'Z':
            o.zoom = optarg;
            break;
        case 'B':
            o.bbox = optarg;
            break;
        case 'F':
            o.format = optarg;
            break;
        case 'm':
            o.manifest = optarg;
            break;
        case 'L':
            o.layer = optarg;
            break;
        case 'R':
            o.report = optarg;
            break;
        case 'D':
            o.dry_run = 1;
            break;
        case 'h':
            print_help(cmd);
            return 0;
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option \"%s\"", argv[optind - 1]);
        }
    }
    struct config cfg;
    config_defaults(&cfg);
    struct err err;
    err_clear(&err);
    if (o.config && config_load_file(&cfg, o.config, &err)) {
        config_fini(&cfg);
        return fail(&err);
    }
    if (cmd->needs_db && !o.db) {
        config_fini(&cfg);
        return usage_error("missing --db DB");
    }
    cfg.db_path = str_dup(o.db);
    int rc = cmd->fn(&cfg, &o, argc - optind, argv + optind);
    config_fini(&cfg);
    return rc;
}
