/* SPDX-License-Identifier: MIT */
/* accesslog.c: the access log, one line per request on stdout (diagnostics go to stderr), as
 * text in the combined log format with spp's fields appended, or as JSON lines (log_format).
 * API keys never reach it: key-like query parameters are redacted here and no request header
 * but Referer (redacted the same way) and User-Agent is written. Bytes a client sent that could
 * break a line (quotes, control characters, invalid UTF-8) are escaped. The client address
 * honours X-Forwarded-For only from the configured trusted proxies. */
#include "http.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const secret_names[] = {"key",       "api_key",      "apikey", "api-key",
                                           "x-api-key", "access_token", "token"};

static int is_secret_name(const char *name, size_t n)
{
    char tmp[64];
    if (n >= sizeof tmp) return 0;
    memcpy(tmp, name, n);
    tmp[n] = '\0';
    for (char *p = tmp; *p; p++)
        if (*p == '+') *p = ' ';
    str_url_decode(tmp);
    for (size_t i = 0; i < ARRAY_LEN(secret_names); i++)
        if (strcasecmp(tmp, secret_names[i]) == 0) return 1;
    return 0;
}

int access_redact_uri(struct buf *b, const char *uri)
{
    const char *q = strchr(uri, '?');
    if (!q) return buf_puts(b, uri);
    /* appends unchecked: the buffer's failure is sticky and read once at the end */
    buf_append(b, uri, (size_t)(q - uri + 1));
    for (const char *p = q + 1; *p && !buf_failed(b);) {
        size_t len = strcspn(p, "&;");
        const char *eq = memchr(p, '=', len);
        if (eq && is_secret_name(p, (size_t)(eq - p)))
            buf_append(b, p, (size_t)(eq - p + 1)), buf_puts(b, "REDACTED");
        else
            buf_append(b, p, len);
        p += len;
        if (*p) buf_putc(b, *p++);
    }
    return buf_status(b);
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 if s does not start one. */
static int utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || (s[0] >= 0xf0 && n != 4)) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && s[0] == 0xe0 && s[1] < 0xa0) return 0;  /* overlong */
    if (n == 3 && s[0] == 0xed && s[1] >= 0xa0) return 0; /* surrogate */
    if (n == 4 && s[0] == 0xf0 && s[1] < 0x90) return 0;
    if (n == 4 && s[0] == 0xf4 && s[1] >= 0x90) return 0;
    return n;
}

/* A text field: '"', '\' and bytes that are not printable UTF-8 as \xHH (as nginx does). */
static void put_text(struct buf *b, const char *s)
{
    if (!s || !*s) {
        buf_putc(b, '-');
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (n == 1 && (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')) n = 0;
        if (n) {
            buf_append(b, p, (size_t)n);
            p += n;
        } else {
            buf_printf(b, "\\x%02X", *p++);
        }
    }
}

/* A JSON string (or null): invalid UTF-8 bytes are written as the code point of the byte. */
static void put_json(struct buf *b, const char *s)
{
    if (!s) {
        buf_puts(b, "null");
        return;
    }
    buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (n == 1 && *p == '"')
            buf_puts(b, "\\\"");
        else if (n == 1 && *p == '\\')
            buf_puts(b, "\\\\");
        else if (n == 1 && *p < 0x20)
            buf_printf(b, "\\u%04x", *p);
        else if (n)
            buf_append(b, p, (size_t)n);
        else
            buf_printf(b, "\\u%04x", *p);
        p += n ? n : 1;
    }
    buf_putc(b, '"');
}

static void write_text(struct buf *b, const struct access_entry *e, const char *uri,
                       const char *referer)
{
    time_t t = (time_t)e->time;
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[40];
    strftime(stamp, sizeof stamp, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    put_text(b, e->client);
    if (e->key_id)
        buf_printf(b, " - key:%lld [%s] \"", (long long)e->key_id, stamp);
    else
        buf_printf(b, " - - [%s] \"", stamp);
    if (e->method) {
        put_text(b, e->method);
        buf_putc(b, ' ');
        put_text(b, uri);
        buf_putc(b, ' ');
        put_text(b, e->protocol);
    } else {
        buf_putc(b, '-');
    }
    buf_printf(b, "\" %d %llu \"", e->status, (unsigned long long)e->bytes);
    put_text(b, referer);
    buf_puts(b, "\" \"");
    put_text(b, e->user_agent);
    buf_printf(b, "\" %.3f ", e->ms);
    put_text(b, e->route);
    buf_putc(b, ' ');
    put_text(b, e->role);
    buf_puts(b, " \"");
    put_text(b, e->reason);
    buf_puts(b, "\"\n");
}

static void write_json(struct buf *b, const struct access_entry *e, const char *uri,
                       const char *referer)
{
    time_t t = (time_t)e->time;
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[40];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    int msec = (int)((e->time - (double)t) * 1000);
    if (msec > 999) msec = 999;
    buf_printf(b, "{\"time\":\"%s.%03dZ\",\"client\":", stamp, msec < 0 ? 0 : msec);
    put_json(b, e->client);
    buf_puts(b, ",\"method\":");
    put_json(b, e->method);
    buf_puts(b, ",\"uri\":");
    put_json(b, e->method ? uri : NULL);
    buf_puts(b, ",\"protocol\":");
    put_json(b, e->protocol);
    buf_printf(b, ",\"status\":%d,\"bytes\":%llu,\"duration_ms\":%.3f,\"route\":", e->status,
               (unsigned long long)e->bytes, e->ms);
    put_json(b, e->route);
    if (e->key_id)
        buf_printf(b, ",\"key_id\":%lld,\"role\":", (long long)e->key_id);
    else
        buf_puts(b, ",\"key_id\":null,\"role\":");
    put_json(b, e->role);
    buf_puts(b, ",\"referer\":");
    put_json(b, referer);
    buf_puts(b, ",\"user_agent\":");
    put_json(b, e->user_agent);
    buf_puts(b, ",\"reason\":");
    put_json(b, e->reason && *e->reason ? e->reason : NULL);
    buf_puts(b, "}\n");
}

void access_log_write(enum log_format fmt, const struct access_entry *e)
{
    if (log_quiet) return;
    struct buf uri, ref, line;
    buf_init(&uri), buf_init(&ref), buf_init(&line);
    access_redact_uri(&uri, e->uri ? e->uri : "");
    if (e->referer) access_redact_uri(&ref, e->referer);
    /* a target or referer cut short by out of memory is logged as "-", never half redacted */
    const char *u = buf_failed(&uri) ? "-" : buf_str(&uri);
    const char *r = !e->referer ? NULL : buf_failed(&ref) ? "-" : buf_str(&ref);
    if (fmt == LOG_FORMAT_JSON)
        write_json(&line, e, u, r);
    else
        write_text(&line, e, u, r);
    /* One write per line under a lock: lines from the workers never interleave. */
    if (buf_failed(&line)) { /* never half a line */
        log_msg("warn", "access log: out of memory, a line for %s is lost", u);
        buf_fini(&uri), buf_fini(&ref), buf_fini(&line);
        return;
    }
    pthread_mutex_lock(&out_lock);
    for (size_t off = 0; line.data && off < line.len;) {
        ssize_t n = write(STDOUT_FILENO, line.data + off, line.len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    pthread_mutex_unlock(&out_lock);
    buf_fini(&uri), buf_fini(&ref), buf_fini(&line);
}

/* 1 if s is an IPv4 or IPv6 address (and copies it, trimmed, into out). */
static int parse_addr(const char *s, size_t len, char *out, size_t n)
{
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char tmp[64];
    unsigned char bin[16];
    if (!len || len >= sizeof tmp) return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (inet_pton(AF_INET, tmp, bin) != 1 && inet_pton(AF_INET6, tmp, bin) != 1) return 0;
    snprintf(out, n, "%s", tmp);
    return 1;
}

void http_client_addr(const struct config *cfg, const char *peer, const char *xff, char *out,
                      size_t n)
{
    snprintf(out, n, "%s", peer ? peer : "");
    if (!xff || !*xff || !config_trusted_proxy(cfg, peer)) return;
    /* From the right: each hop was added by the proxy in front of it; the first address that
     * is not one of ours is the client. Something that is not an address ends the walk. */
    char cand[64];
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        if (!parse_addr(start, (size_t)(end - start), cand, sizeof cand)) return;
        snprintf(out, n, "%s", cand);
        if (!config_trusted_proxy(cfg, cand)) return;
        end = start > xff ? start - 1 : start;
    }
}
