/* SPDX-License-Identifier: MIT */
/* static.c: the map page and its static files. Files come from the web directory (src/web/ or
 * the "web_dir" setting) and, for MapLibre GL JS, from <web_dir>/vendor/ or else
 * <repository>/node_modules/maplibre-gl/dist (npm ci). A file name is one path segment of
 * [A-Za-z0-9._-] without a leading dot and with a known extension, so no request can reach
 * outside those directories. Files are kept in memory with their gzip bytes and re-read when
 * their size or mtime changes; answers carry an ETag (If-None-Match -> 304). */
#include "webapp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "../config/config.h"

#define CACHE_SLOTS 64

struct cached_file {
    char *path;     /* absolute path, owned */
    struct stat st; /* size and mtime when read */
    char *data;     /* file bytes, owned */
    size_t len;
    char *gz; /* gzip bytes or NULL when not worth it, owned */
    size_t gz_len;
    char etag[64]; /* quoted, without the gzip suffix */
};

static struct cached_file cache[CACHE_SLOTS];
static int n_cached;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

struct file_type {
    const char *ext;
    const char *mime;
    int compress;
};

static const struct file_type types[] = {
    {".html", "text/html; charset=utf-8", 1},
    {".js", "text/javascript; charset=utf-8", 1},
    {".mjs", "text/javascript; charset=utf-8", 1},
    {".css", "text/css; charset=utf-8", 1},
    {".json", "application/json", 1},
    {".map", "application/json", 1},
    {".svg", "image/svg+xml", 1},
    {".txt", "text/plain; charset=utf-8", 1},
    {".png", "image/png", 0},
    {".ico", "image/x-icon", 0},
};

int webapp_gzip(const char *data, size_t len, char **out, size_t *out_len, struct err *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return err_set(err, ERR_INTERNAL, "gzip: deflateInit2 failed");
    size_t cap = deflateBound(&z, (uLong)len);
    char *dst = malloc(cap ? cap : 1);
    if (!dst) {
        deflateEnd(&z);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)dst;
    z.avail_out = (uInt)cap;
    int zrc = deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    if (zrc != Z_STREAM_END) {
        free(dst);
        return err_set(err, ERR_INTERNAL, "gzip: deflate failed");
    }
    *out = dst;
    *out_len = n;
    return 0;
}

/* The type of a safe file name, NULL if the name is not one we serve. */
static const struct file_type *safe_name(const char *name)
{
    if (!name || !*name || name[0] == '.' || strlen(name) > 128) return NULL;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return NULL;
    for (size_t i = 0; i < ARRAY_LEN(types); i++)
        if (str_ends(name, types[i].ext)) return &types[i];
    return NULL;
}

static int accepts_gzip(const struct request *req)
{
    const char *ae = req->accept_encoding;
    if (!ae) return 0;
    const char *g = strstr(ae, "gzip");
    if (!g) return 0;
    const char *q = g + 4;
    while (*q == ' ')
        q++;
    return !(strncmp(q, ";q=0", 4) == 0 &&
             (q[4] == '\0' || q[4] == ',' || strncmp(q + 4, ".0", 2) == 0));
}

static int same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ino == b->st_ino;
}

/* Reads path into a new cache entry (not yet published). */
static int load_entry(const char *path, const struct stat *st, int compress, struct cached_file *e,
                      struct err *err)
{
    memset(e, 0, sizeof *e);
    e->data = str_read_file(path, &e->len, err);
    if (!e->data) return ERR_IO;
    e->path = str_dup(path);
    e->st = *st;
    snprintf(e->etag, sizeof e->etag, "\"%llx-%llx-%lx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
    if (compress && e->len > 256) {
        char *gz;
        size_t gz_len;
        if (webapp_gzip(e->data, e->len, &gz, &gz_len, NULL) == 0) {
            if (gz_len + 64 < e->len) {
                e->gz = gz;
                e->gz_len = gz_len;
            } else {
                free(gz);
            }
        }
    }
    return 0;
}

static void free_entry(struct cached_file *e)
{
    free(e->path), free(e->data), free(e->gz);
    memset(e, 0, sizeof *e);
}

/* Publishes e (ownership moves into the cache). Called with cache_lock held. */
static struct cached_file *publish(struct cached_file *e)
{
    for (int i = 0; i < n_cached; i++)
        if (strcmp(cache[i].path, e->path) == 0) {
            free_entry(&cache[i]);
            cache[i] = *e;
            return &cache[i];
        }
    int slot = n_cached < CACHE_SLOTS ? n_cached++ : (int)(e->len % CACHE_SLOTS);
    if (cache[slot].path) free_entry(&cache[slot]);
    cache[slot] = *e;
    return &cache[slot];
}

static struct cached_file *lookup(const char *path, const struct stat *st)
{
    for (int i = 0; i < n_cached; i++)
        if (strcmp(cache[i].path, path) == 0 && same_stat(&cache[i].st, st)) return &cache[i];
    return NULL;
}

/* Answers with a cached file (copying its bytes into the response under the lock). */
static int answer(struct request *req, struct response *res, const struct cached_file *e,
                  const struct file_type *t, const char *cache_control, struct err *err)
{
    int gz = e->gz && accepts_gzip(req);
    char etag[72];
    if (gz) {
        snprintf(etag, sizeof etag, "%.*s-gz\"", (int)strlen(e->etag) - 1, e->etag);
    } else {
        snprintf(etag, sizeof etag, "%s", e->etag);
    }
    resp_header(res, "ETag", etag);
    resp_header(res, "Cache-Control", cache_control);
    if (t->compress) resp_header(res, "Vary", "Accept-Encoding");
    if (req->if_none_match && strstr(req->if_none_match, etag)) {
        resp_set(res, 304, "");
        return 0;
    }
    resp_set(res, 200, t->mime);
    if (gz) resp_header(res, "Content-Encoding", "gzip");
    if (buf_append(&res->body, gz ? e->gz : e->data, gz ? e->gz_len : e->len))
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

/* Serves dir/name if it is a regular file. ERR_NOT_FOUND otherwise. */
static int serve_file(struct request *req, struct response *res, const char *dir, const char *name,
                      const char *cache_control, struct err *err)
{
    const struct file_type *t = safe_name(name);
    if (!t || !dir) return err_set(err, ERR_NOT_FOUND, "no file %s", name ? name : "");
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return err_set(err, ERR_NOT_FOUND, "no file %s", name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return err_set(err, ERR_NOT_FOUND, "no file %s", name);
    pthread_mutex_lock(&cache_lock);
    struct cached_file *e = lookup(path, &st);
    if (!e) {
        pthread_mutex_unlock(&cache_lock);
        struct cached_file fresh;
        int rc = load_entry(path, &st, t->compress, &fresh, err);
        if (rc) return rc;
        pthread_mutex_lock(&cache_lock);
        e = publish(&fresh);
    }
    int rc = answer(req, res, e, t, cache_control, err);
    pthread_mutex_unlock(&cache_lock);
    return rc;
}

int webapp_page(struct request *req, struct response *res, struct err *err)
{
    int rc = serve_file(req, res, req->cfg->web_dir, "index.html", "no-cache", err);
    if (rc == ERR_NOT_FOUND) {
        err_clear(err);
        return err_set(err, ERR_NOT_FOUND, "the web map is not installed (%s/index.html)",
                       req->cfg->web_dir);
    }
    return rc;
}

int webapp_static(struct request *req, struct response *res, struct err *err)
{
    return serve_file(req, res, req->cfg->web_dir, req_param(req, "file"), "no-cache", err);
}

int webapp_vendor(struct request *req, struct response *res, struct err *err)
{
    const char *name = req_param(req, "file");
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/vendor", req->cfg->web_dir ? req->cfg->web_dir : ".");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        snprintf(dir, sizeof dir, "%s/node_modules/maplibre-gl/dist", config_home());
    int rc = serve_file(req, res, dir, name, "public, max-age=86400", err);
    if (rc == ERR_NOT_FOUND) {
        err_clear(err);
        return err_set(err, ERR_NOT_FOUND, "no file %s in %s (run npm ci)", name ? name : "", dir);
    }
    return rc;
}
