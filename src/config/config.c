/* SPDX-License-Identifier: MIT */
/* config.c: server settings: defaults, then an optional JSON file (--config) over them. */
#include "config.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char home[PATH_MAX];

const char *config_home(void)
{
    if (home[0]) return home;
    const char *env = getenv("SPP_HOME");
    if (env && *env) {
        snprintf(home, sizeof home, "%s", env);
        return home;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(home, sizeof home, "%s", exe);
    } else {
        snprintf(home, sizeof home, ".");
    }
    return home;
}

static char *home_path(const char *sub)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", config_home(), sub);
    return str_dup(p);
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->port = 8080;
    cfg->threads = 4;
    cfg->storage_srid = 5897;
    /* Can Tho's urban core (Ninh Kieu, Binh Thuy, Cai Rang and the edges of O Mon and Phong
     * Dien), which holds the demo city and the benchmark city; a reading 25 km off (a TM-3 zone
     * off by 0.25 degrees, UTM for TM-3) lands outside it */
    cfg->city_extent[0] = 105.60, cfg->city_extent[1] = 9.90;
    cfg->city_extent[2] = 105.90, cfg->city_extent[3] = 10.20;
    cfg->layers_dir = home_path("layers");
    cfg->styles_dir = home_path("styles");
    cfg->web_dir = home_path("src/web");
    cfg->limits = (struct limits){
        .max_width = 4096,
        .max_height = 4096,
        .max_features = 10000,
        .default_features = 10,
        .max_body = 1 << 20,
        .max_xml_depth = 32,
        .max_json_depth = 32,
        .max_filter_nodes = 1000,
        .query_ms = 10000,
        .max_concurrent = 64,
        .rate_per_minute = 0,
        .max_connections = 4096,
        .per_client_connections = 32,
        .header_seconds = 10,
        .body_seconds = 60,
        .render_threads = 2,
        .layer_threads = -1,
        .render_queue = 16,
        .render_ms = 20000,
        .export_features = 1000,
    };
    cfg->import_max_shrink = 0.5;
    cfg->drain_seconds = 30;
    cfg->log_format = LOG_FORMAT_TEXT;
}

void config_fini(struct config *cfg)
{
    catalog_fini(&cfg->catalog);
    free(cfg->db_path), free(cfg->db_read_path), free(cfg->layers_dir), free(cfg->styles_dir),
        free(cfg->web_dir), free(cfg->tile_cache_dir), free(cfg->tile_cache_watch_db);
    free(cfg->public_url), free(cfg->config_path), free(cfg->trusted_proxies);
    memset(cfg, 0, sizeof *cfg);
}

static int set_int(json_t *o, const char *key, int lo, int hi, int *out, const char *file,
                   struct err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(err, ERR_PARAM, "%s: %s: must be an integer %d..%d", file, key, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int set_str(json_t *o, const char *key, char **out, const char *file, struct err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_string(v)) return err_set(err, ERR_PARAM, "%s: %s: must be a string", file, key);
    free(*out);
    *out = str_dup(json_string_value(v));
    return 0;
}

int config_log_format_parse(const char *s, enum log_format *out)
{
    if (s && strcmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (s && strcmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return ERR_PARAM;
    return 0;
}

/* Parses "ADDR" or "ADDR/BITS" (IPv4 or IPv6). An IPv4-mapped IPv6 address is kept as IPv4. */
static int parse_prefix(const char *s, struct net_prefix *p)
{
    char tmp[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (!n || n >= sizeof tmp) return ERR_PARAM;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    memset(p, 0, sizeof *p);
    int max;
    if (inet_pton(AF_INET, tmp, p->addr) == 1) {
        p->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, tmp, p->addr) == 1) {
        p->family = AF_INET6;
        max = 128;
    } else {
        return ERR_PARAM;
    }
    long bits = max;
    if (slash && (str_to_long(slash + 1, &bits) || bits < 0 || bits > max)) return ERR_PARAM;
    p->bits = (int)bits;
    return 0;
}

static int prefix_match(const struct net_prefix *p, int family, const unsigned char *a)
{
    if (p->family != family) return 0;
    int full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(p->addr, a, (size_t)full) != 0) return 0;
    if (!rest) return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (p->addr[full] & mask) == (a[full] & mask);
}

int config_trusted_proxy(const struct config *cfg, const char *addr)
{
    unsigned char a[16];
    int family;
    if (!addr || !cfg->n_trusted_proxies) return 0;
    if (inet_pton(AF_INET, addr, a) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, addr, a) == 1) {
        family = AF_INET6;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, sizeof mapped) == 0) { /* ::ffff:a.b.c.d is a.b.c.d */
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    } else {
        return 0;
    }
    for (int i = 0; i < cfg->n_trusted_proxies; i++)
        if (prefix_match(&cfg->trusted_proxies[i], family, a)) return 1;
    return 0;
}

static int set_proxies(json_t *root, struct config *cfg, const char *file, struct err *err)
{
    json_t *v = json_object_get(root, "trusted_proxies");
    if (!v) return 0;
    if (!json_is_array(v))
        return err_set(err, ERR_PARAM, "%s: trusted_proxies: must be a list of addresses or CIDRs",
                       file);
    size_t n = json_array_size(v);
    struct net_prefix *p = n ? calloc(n, sizeof *p) : NULL;
    if (n && !p) return err_set(err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (!s || parse_prefix(s, &p[i])) {
            free(p);
            return err_set(err, ERR_PARAM,
                           "%s: trusted_proxies[%zu]: want an IPv4/IPv6 address or CIDR, got %s",
                           file, i, s ? s : "a non-string");
        }
    }
    free(cfg->trusted_proxies);
    cfg->trusted_proxies = p;
    cfg->n_trusted_proxies = (int)n;
    return 0;
}

int config_load_file(struct config *cfg, const char *path, struct err *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return err_set(err, ERR_PARAM, "%s:%d: %s", path, je.line, je.text);
    static const char *const keys[] = {"listen",
                                       "threads",
                                       "storage_srid",
                                       "layers_dir",
                                       "styles_dir",
                                       "web_dir",
                                       "public_url",
                                       "limits",
                                       "drain_seconds",
                                       "log_format",
                                       "trusted_proxies",
                                       "import_max_shrink",
                                       "city_extent",
                                       "tile_cache_max_mb",
                                       "tile_cache_dir",
                                       "tile_cache_watch_db",
                                       NULL};
    static const char *const lkeys[] = {"max_width",
                                        "max_height",
                                        "max_features",
                                        "default_features",
                                        "max_body",
                                        "max_xml_depth",
                                        "max_json_depth",
                                        "max_filter_nodes",
                                        "query_ms",
                                        "max_concurrent",
                                        "rate_per_minute",
                                        "max_connections",
                                        "per_client_connections",
                                        "header_seconds",
                                        "body_seconds",
                                        "render_threads",
                                        "layer_threads",
                                        "render_queue",
                                        "render_ms",
                                        "export_features",
                                        NULL};
    int rc = 0;
    const char *key;
    json_t *v;
    if (!json_is_object(root)) {
        rc = err_set(err, ERR_PARAM, "%s: must be a JSON object", path);
        goto done;
    }
    json_object_foreach(root, key, v)
    {
        int ok = 0;
        for (const char *const *k = keys; *k; k++)
            ok |= strcmp(*k, key) == 0;
        if (!ok) {
            rc = err_set(err, ERR_PARAM, "%s: unknown setting \"%s\"", path, key);
            goto done;
        }
    }
    if ((v = json_object_get(root, "listen"))) {
        const char *s = json_string_value(v);
        const char *colon = s ? strrchr(s, ':') : NULL;
        long port;
        if (!colon || colon == s || (size_t)(colon - s) >= sizeof cfg->listen_host ||
            str_to_long(colon + 1, &port) || port < 0 || port > 65535) {
            rc = err_set(err, ERR_PARAM, "%s: listen: want \"HOST:PORT\"", path);
            goto done;
        }
        snprintf(cfg->listen_host, sizeof cfg->listen_host, "%.*s", (int)(colon - s), s);
        cfg->port = (int)port;
    }
    if ((rc = set_int(root, "threads", 1, 256, &cfg->threads, path, err))) goto done;
    if ((rc = set_int(root, "storage_srid", 1, 999999, &cfg->storage_srid, path, err))) goto done;
    if ((rc = set_str(root, "layers_dir", &cfg->layers_dir, path, err))) goto done;
    if ((rc = set_str(root, "styles_dir", &cfg->styles_dir, path, err))) goto done;
    if ((rc = set_str(root, "web_dir", &cfg->web_dir, path, err))) goto done;
    if ((rc = set_str(root, "tile_cache_dir", &cfg->tile_cache_dir, path, err))) goto done;
    if ((rc = set_str(root, "tile_cache_watch_db", &cfg->tile_cache_watch_db, path, err)))
        goto done;
    if ((rc = set_str(root, "public_url", &cfg->public_url, path, err))) goto done;
    if ((v = json_object_get(root, "import_max_shrink"))) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
            rc = err_set(err, ERR_PARAM, "%s: import_max_shrink: must be a number 0..1", path);
            goto done;
        }
        cfg->import_max_shrink = json_number_value(v);
    }
    if ((v = json_object_get(root, "city_extent"))) {
        double e[4];
        int ok = json_is_array(v) && json_array_size(v) == 4;
        for (int i = 0; ok && i < 4; i++) {
            json_t *x = json_array_get(v, (size_t)i);
            ok = json_is_number(x);
            e[i] = ok ? json_number_value(x) : 0;
        }
        if (!ok || e[0] < -180 || e[2] > 180 || e[1] < -90 || e[3] > 90 || e[0] >= e[2] ||
            e[1] >= e[3]) {
            rc = err_set(err, ERR_PARAM,
                         "%s: city_extent: want [minlon, minlat, maxlon, maxlat] in degrees "
                         "(WGS 84), min < max",
                         path);
            goto done;
        }
        memcpy(cfg->city_extent, e, sizeof e);
    }
    if ((rc = set_int(root, "drain_seconds", 0, 3600, &cfg->drain_seconds, path, err))) goto done;
    if ((rc = set_int(root, "tile_cache_max_mb", 0, 1 << 24, &cfg->tile_cache_max_mb, path, err)))
        goto done;
    if ((v = json_object_get(root, "log_format")) &&
        config_log_format_parse(json_string_value(v), &cfg->log_format)) {
        rc = err_set(err, ERR_PARAM, "%s: log_format: want \"text\" or \"json\"", path);
        goto done;
    }
    if ((rc = set_proxies(root, cfg, path, err))) goto done;
    json_t *lim = json_object_get(root, "limits");
    if (lim) {
        if (!json_is_object(lim)) {
            rc = err_set(err, ERR_PARAM, "%s: limits: must be an object", path);
            goto done;
        }
        json_object_foreach(lim, key, v)
        {
            int ok = 0;
            for (const char *const *k = lkeys; *k; k++)
                ok |= strcmp(*k, key) == 0;
            if (!ok) {
                rc = err_set(err, ERR_PARAM, "%s: limits: unknown setting \"%s\"", path, key);
                goto done;
            }
        }
        struct limits *l = &cfg->limits;
        int body = (int)l->max_body;
        if ((rc = set_int(lim, "max_width", 1, 16384, &l->max_width, path, err)) ||
            (rc = set_int(lim, "max_height", 1, 16384, &l->max_height, path, err)) ||
            (rc = set_int(lim, "max_features", 1, 10000000, &l->max_features, path, err)) ||
            (rc = set_int(lim, "default_features", 1, 10000000, &l->default_features, path, err)) ||
            (rc = set_int(lim, "max_body", 1024, 1 << 30, &body, path, err)) ||
            (rc = set_int(lim, "max_xml_depth", 4, 1000, &l->max_xml_depth, path, err)) ||
            (rc = set_int(lim, "max_json_depth", 4, 1000, &l->max_json_depth, path, err)) ||
            (rc = set_int(lim, "max_filter_nodes", 1, 1000000, &l->max_filter_nodes, path, err)) ||
            (rc = set_int(lim, "query_ms", 1, 3600000, &l->query_ms, path, err)) ||
            (rc = set_int(lim, "max_concurrent", 1, 100000, &l->max_concurrent, path, err)) ||
            (rc = set_int(lim, "rate_per_minute", 0, 10000000, &l->rate_per_minute, path, err)) ||
            (rc = set_int(lim, "max_connections", 16, 1000000, &l->max_connections, path, err)) ||
            (rc = set_int(lim, "per_client_connections", 1, 1000000, &l->per_client_connections,
                          path, err)) ||
            (rc = set_int(lim, "header_seconds", 1, 3600, &l->header_seconds, path, err)) ||
            (rc = set_int(lim, "body_seconds", 1, 86400, &l->body_seconds, path, err)) ||
            (rc = set_int(lim, "render_threads", 1, 256, &l->render_threads, path, err)) ||
            (rc = set_int(lim, "layer_threads", 0, 64, &l->layer_threads, path, err)) ||
            (rc = set_int(lim, "render_queue", 0, 100000, &l->render_queue, path, err)) ||
            (rc = set_int(lim, "render_ms", 100, 3600000, &l->render_ms, path, err)) ||
            (rc = set_int(lim, "export_features", 1, 10000000, &l->export_features, path, err)))
            goto done;
        l->max_body = (size_t)body;
    }
    /* Kept (absolute, so a later chdir cannot change it) for SIGHUP, which reads it again. */
    char *abs = realpath(path, NULL);
    free(cfg->config_path);
    cfg->config_path = abs ? abs : str_dup(path);
done:
    json_decref(root);
    return rc;
}
