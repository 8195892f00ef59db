/* SPDX-License-Identifier: MIT */
/* audit.c: DB.audit, the hash-chained log of restricted reads (audit.h). An entry is one line
 *   {"seq":N,"time":"...","key":ID,"agency":"...","client":"...","layer":"...","fields":[...],
 *    "rows":0|1,"features":N,"path":"...","prev":"<64 hex>","hash":"<64 hex>"}
 * where hash = SHA-256(prev + body) and body is the line up to (not including) ,"prev"... with
 * "}" appended. The first entry's prev is 64 zeros. One descriptor per process, opened with
 * O_APPEND; seq and the last hash are read from the file's last line when it is opened, and each
 * entry is written with one write(2) under a mutex (a few microseconds), before the response is
 * sent: a process killed right after answering has its entries in the file. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static int audit_fd = -1;
static char audit_path[4096];
static int64_t audit_seq;
static char audit_prev[65];

static void hash_hex(const char *prev, const char *body, size_t len, char out[65])
{
    struct sha256_ctx ctx;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, 64, (const uint8_t *)prev);
    sha256_update(&ctx, len, (const uint8_t *)body);
    sha256_digest(&ctx, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void log_path(const char *db_path, char *out, size_t size)
{
    snprintf(out, size, "%s.audit", db_path);
}

/* Splits a line into body (up to ,"prev") and its prev/hash; 0 on success. */
static int split_line(const char *line, size_t len, size_t *body_len, char prev[65], char hash[65])
{
    static const char tail[] = ",\"prev\":\"";
    /* ,"prev":"<64>","hash":"<64>"} is 9 + 64 + 10 + 64 + 2 = 149 characters */
    if (len < 149) return -1;
    const char *t = line + len - 149;
    if (memcmp(t, tail, 9) != 0 || memcmp(t + 73, "\",\"hash\":\"", 10) != 0 ||
        memcmp(t + 147, "\"}", 2) != 0)
        return -1;
    memcpy(prev, t + 9, 64), prev[64] = '\0';
    memcpy(hash, t + 83, 64), hash[64] = '\0';
    *body_len = (size_t)(t - line);
    return 0;
}

static int64_t line_seq(const char *line)
{
    return strncmp(line, "{\"seq\":", 7) == 0 ? strtoll(line + 7, NULL, 10) : -1;
}

/* Opens the log and reads its head. Called with the lock held. */
static int audit_open(const char *db_path, struct err *err)
{
    char path[4096];
    log_path(db_path, path, sizeof path);
    if (audit_fd >= 0 && strcmp(path, audit_path) == 0) return 0;
    if (audit_fd >= 0) close(audit_fd), audit_fd = -1;
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    audit_seq = 0;
    memset(audit_prev, '0', 64), audit_prev[64] = '\0';
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (f && (n = getline(&line, &cap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        size_t body;
        char prev[65], hash[65];
        if (split_line(line, (size_t)n, &body, prev, hash) == 0) {
            audit_seq = line_seq(line);
            memcpy(audit_prev, hash, 65);
        }
    }
    free(line);
    if (f) fclose(f);
    audit_fd = fd;
    snprintf(audit_path, sizeof audit_path, "%s", path);
    return 0;
}

static void put_json(struct buf *b, const char *key, const char *v)
{
    buf_printf(b, ",\"%s\":", key);
    buf_put_json_str(b, v ? v : "");
}

int audit_record(const struct request *req, const char *agency, const struct store_reads *reads,
                 struct err *err)
{
    if (!reads || !reads->n || !req->cfg || !req->cfg->db_path) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40], sec[24];
    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, sizeof when, "%s.%03ldZ", sec, ts.tv_nsec / 1000000L);
    struct buf path;
    buf_init(&path);
    buf_puts(&path, req->path ? req->path : "");
    /* the arguments as the server decoded them (req->query is not always kept) */
    for (int i = 0; i < req->n_args; i++) {
        buf_putc(&path, i ? '&' : '?');
        buf_puts(&path, req->args[i].key);
        buf_putc(&path, '=');
        buf_puts(&path, req->args[i].value);
    }
    if (path.len > 2000) path.data[2000] = '\0';
    /* PostGIS (issue 24): the store numbers, hashes and appends: one chain for every replica */
    int remote = store_is_remote(req->cfg->db_path), n_rests = 0;
    char *rests[STORE_READS_MAX];
    pthread_mutex_lock(&audit_lock);
    int rc = buf_failed(&path) ? err_set(err, ERR_NOMEM, "audit: out of memory")
             : remote          ? 0
                               : audit_open(req->cfg->db_path, err);
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < reads->n && !rc; i++) {
        const struct store_read *r = &reads->r[i];
        buf_reset(&b);
        buf_printf(&b, "{\"seq\":%lld", (long long)(audit_seq + 1));
        put_json(&b, "time", when);
        buf_printf(&b, ",\"key\":%lld", (long long)req->key_id);
        put_json(&b, "agency", agency);
        put_json(&b, "client", req->client_addr);
        put_json(&b, "role", role_name(req->role));
        put_json(&b, "layer", r->layer->id);
        buf_puts(&b, ",\"fields\":[");
        int first = 1;
        for (int k = 0; k < r->layer->n_fields && k < 256; k++)
            if (r->fields[k]) {
                if (!first) buf_putc(&b, ',');
                first = 0;
                buf_put_json_str(&b, r->layer->fields[k].name);
            }
        buf_printf(&b, "],\"rows\":%d,\"features\":%lld", r->rows, (long long)r->n_features);
        if (r->cached) buf_puts(&b, ",\"from_tile_cache\":1");
        put_json(&b, "path", buf_str(&path));
        size_t body_len = b.len;
        if (remote) { /* the entry without its {"seq":N head; one cut short is never written */
            const char *rest = buf_failed(&b) ? NULL : strchr(b.data, ',');
            if (!rest || !(rests[n_rests] = strndup(rest, body_len - (size_t)(rest - b.data))))
                rc = err_set(err, ERR_NOMEM, "out of memory");
            else
                n_rests++;
            continue;
        }
        buf_putc(&b, '}');
        if (buf_failed(&b)) { /* an entry cut short is never hashed nor written */
            rc = err_set(err, ERR_NOMEM, "audit: out of memory");
            break;
        }
        char hash[65];
        hash_hex(audit_prev, b.data, b.len, hash);
        b.len = body_len;
        if (buf_printf(&b, ",\"prev\":\"%s\",\"hash\":\"%s\"}\n", audit_prev, hash)) {
            rc = err_set(err, ERR_NOMEM, "audit: out of memory");
            break;
        }
        ssize_t w = write(audit_fd, b.data, b.len);
        if (w != (ssize_t)b.len) {
            rc =
                err_set(err, ERR_IO, "%s: %s", audit_path, w < 0 ? strerror(errno) : "short write");
            break;
        }
        audit_seq++;
        memcpy(audit_prev, hash, 65);
    }
    if (remote && !rc)
        rc = store_audit_append(req->cfg->db_path, (const char *const *)rests, n_rests, err);
    for (int i = 0; i < n_rests; i++)
        free(rests[i]);
    pthread_mutex_unlock(&audit_lock);
    buf_fini(&b);
    buf_fini(&path);
    return rc;
}

/* A PostGIS store's log, as the file would read (a temporary copy); NULL with err set. */
static FILE *remote_log(const char *db_path, struct err *err)
{
    FILE *f = tmpfile();
    if (!f) {
        err_set(err, ERR_IO, "temporary file: %s", strerror(errno));
        return NULL;
    }
    if (store_audit_dump(db_path, f, err)) {
        fclose(f);
        return NULL;
    }
    rewind(f);
    return f;
}

/* A string value of "key":"..." in line (JSON-escaped as written), into out; "" if absent. */
static void field_of(const char *line, const char *key, char *out, size_t size)
{
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    out[0] = '\0';
    if (!p) return;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"' && n + 1 < size; p++) {
            if (*p == '\\' && p[1]) p++;
            out[n++] = *p;
        }
    } else if (*p == '[') {
        for (p++; *p && *p != ']' && n + 1 < size; p++)
            if (*p != '"') out[n++] = *p;
    } else {
        for (; *p && *p != ',' && *p != '}' && n + 1 < size; p++)
            out[n++] = *p;
    }
    out[n] = '\0';
}

int audit_print(const char *db_path, const struct audit_filter *flt, void *out_file,
                int64_t *n_printed, struct err *err)
{
    FILE *out = out_file;
    char path[4096];
    log_path(db_path, path, sizeof path);
    *n_printed = 0;
    if (store_is_remote(db_path)) snprintf(path, sizeof path, "%s", db_path);
    FILE *f = store_is_remote(db_path) ? remote_log(db_path, err) : fopen(path, "r");
    if (!f && store_is_remote(db_path)) return err->code;
    if (!f && errno != ENOENT) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    fprintf(out, "SEQ\tTIME\tKEY\tAGENCY\tCLIENT\tLAYER\tFIELDS\tROWS\tFEATURES\tPATH\n");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (f && (n = getline(&line, &cap, f)) > 0) {
        char seq[24], when[40], key[24], agency[256], client[64], layer[128], fields[2048], rows[8],
            feats[24], rpath[2100];
        field_of(line, "seq", seq, sizeof seq);
        field_of(line, "time", when, sizeof when);
        field_of(line, "key", key, sizeof key);
        field_of(line, "agency", agency, sizeof agency);
        field_of(line, "client", client, sizeof client);
        field_of(line, "layer", layer, sizeof layer);
        field_of(line, "fields", fields, sizeof fields);
        field_of(line, "rows", rows, sizeof rows);
        field_of(line, "features", feats, sizeof feats);
        field_of(line, "path", rpath, sizeof rpath);
        if (flt->since && strcmp(when, flt->since) < 0) continue;
        if (flt->agency && strcmp(agency, flt->agency) != 0) continue;
        if (flt->layer && strcmp(layer, flt->layer) != 0) continue;
        fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", seq, when, key, agency, client,
                layer, fields, rows, feats, rpath);
        (*n_printed)++;
    }
    free(line);
    if (f) fclose(f);
    return 0;
}

int audit_verify(const char *db_path, int64_t *count, struct err *err)
{
    char path[4096];
    log_path(db_path, path, sizeof path);
    *count = 0;
    if (store_is_remote(db_path)) snprintf(path, sizeof path, "%s", db_path);
    FILE *f = store_is_remote(db_path) ? remote_log(db_path, err) : fopen(path, "r");
    if (!f && store_is_remote(db_path)) return err->code;
    if (!f) {
        if (errno == ENOENT) return 0;
        return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    }
    char prev[65];
    memset(prev, '0', 64), prev[64] = '\0';
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t lineno = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] != '\n') {
            rc = err_set(err, ERR_PARAM, "%s line %lld: truncated entry (no end of line)", path,
                         (long long)lineno);
            break;
        }
        line[--n] = '\0';
        size_t body_len;
        char lprev[65], lhash[65], want[65];
        if (split_line(line, (size_t)n, &body_len, lprev, lhash)) {
            rc = err_set(err, ERR_PARAM, "%s line %lld: not an audit entry", path,
                         (long long)lineno);
            break;
        }
        int64_t seq = line_seq(line);
        if (seq != lineno) {
            rc = err_set(err, ERR_PARAM,
                         "%s line %lld: entry %lld where %lld was expected: an entry was removed"
                         " or reordered",
                         path, (long long)lineno, (long long)seq, (long long)lineno);
            break;
        }
        if (strcmp(lprev, prev) != 0) {
            rc = err_set(err, ERR_PARAM,
                         "%s line %lld: entry %lld does not follow the entry before it (chain"
                         " broken: an entry before it was removed or edited)",
                         path, (long long)lineno, (long long)seq);
            break;
        }
        char save = line[body_len];
        line[body_len] = '}';
        hash_hex(prev, line, body_len + 1, want);
        line[body_len] = save;
        if (strcmp(want, lhash) != 0) {
            rc = err_set(err, ERR_PARAM, "%s line %lld: entry %lld was edited (hash mismatch)",
                         path, (long long)lineno, (long long)seq);
            break;
        }
        memcpy(prev, lhash, 65);
        (*count)++;
    }
    free(line);
    fclose(f);
    return rc;
}
