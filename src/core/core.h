/* SPDX-License-Identifier: MIT */
/* core: errors, growable buffers, small string helpers and logging, the request/response pair
 * (request.h), a worker's named state (worker.h) and the failing-allocator test hook (alloc.c).
 *
 * Owns: the error codes and their meaning, struct buf and its sticky out-of-memory failure,
 * strict number parsing. Must not: include any GIS, database or HTTP library, or call into
 * another module (every other module depends on it, it depends on none). */
#ifndef SPP_CORE_H
#define SPP_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Errors: a return code, a message, one exit (STYLE.md section 3). */
enum err_code {
    ERR_OK,
    ERR_NOMEM,
    ERR_IO,
    ERR_DB,
    ERR_PARAM,       /* bad request or bad input: becomes a 4xx at the edge */
    ERR_NOT_FOUND,   /* becomes a 404 */
    ERR_UNSUPPORTED, /* valid but not supported: 400/501 depending on protocol */
    ERR_FORBIDDEN,   /* wrong or revoked key: 401 */
    ERR_LIMIT,       /* a configured limit was hit: 400/413/503 */
    ERR_INTERNAL
};
/* A chain of appends that can only run out of memory, `buf_puts(b, ..) || buf_putc(b, ..)`, yields
 * 1: that is ERR_NOMEM, and only such chains may use ||. A chain whose steps fail with other codes
 * keeps the step's code: `(rc = f(..)) || (rc = g(..))`. */
_Static_assert(ERR_NOMEM == 1, "|| chains of appends yield ERR_NOMEM");

struct err {
    enum err_code code;
    char msg[256];
    char locator[64];  /* parameter or element the error is about (OGC locator), may be "" */
    int http_status;   /* 0: derived from code at the edge; else the status to answer */
    char ogc_code[48]; /* OGC exceptionCode when the handler knows it better, else "" */
};

/* Fills err (if non-NULL and still empty) and returns code. */
int err_set(struct err *err, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with an OGC locator (parameter name). */
int err_setl(struct err *err, enum err_code code, const char *locator, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void err_clear(struct err *err);
const char *err_code_name(enum err_code code);

/* Growable byte buffer. b owns its memory until buf_take() hands it to the caller. Contents are
 * always NUL-terminated (not counted in len).
 *
 * Out of memory is sticky (as SQLite's StrAccum accError): the first append that cannot grow the
 * buffer returns ERR_NOMEM, leaves the contents as they were and sets `failed`; from then on every
 * append is a no-op returning ERR_NOMEM, so an unchecked return value can never leave a buffer
 * that looks complete. Whoever sends or keeps a buffer checks buf_failed() once at the end (the
 * router does for every response body: a failed body is answered 503, never a truncated 200).
 * buf_reset(), buf_fini() and buf_take() start it over. A NULL string handed to buf_puts,
 * buf_put_json_str or buf_put_xml (or NULL data with n > 0 to buf_append) is taken for what a
 * failed allocation leaves behind (a str_dup that returned NULL, a failed scratch buffer's data)
 * and fails b the same way. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    int failed; /* an append ran out of memory: the contents are incomplete */
};

void buf_init(struct buf *b);
void buf_fini(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends the contents of src, and its failure: a failed src fails b too. */
int buf_append_buf(struct buf *b, const struct buf *src);
/* Appends a double with up to `decimals` decimals, trailing zeros removed ("586184.889"). */
int buf_put_double(struct buf *b, double v, int decimals);
/* Appends s as a JSON string literal (quotes included). */
int buf_put_json_str(struct buf *b, const char *s);
/* Appends s escaped for XML/HTML text and attribute values. */
int buf_put_xml(struct buf *b, const char *s);
/* 1 when an append to b ran out of memory since it was last reset (the contents are incomplete). */
int buf_failed(const struct buf *b);
/* Marks b failed (a part of what it was to hold could not be made) and returns ERR_NOMEM. */
int buf_fail(struct buf *b);
/* ERR_NOMEM when b failed, else 0: the return code of a writer that appends without checking. */
int buf_status(const struct buf *b);
/* b's contents as a string: "" when nothing was appended, NULL when b failed, so that handing a
 * scratch buffer on (buf_put_xml(out, buf_str(&url))) carries its failure into out. */
const char *buf_str(const struct buf *b);
/* Hands the data over (caller frees) and resets b. NULL (and b reset, its memory freed) when b
 * failed or nothing could be allocated: an incomplete buffer is never handed on as a string. */
char *buf_take(struct buf *b, size_t *len);
/* Empties b (keeping its memory) and clears its failure. */
void buf_reset(struct buf *b);

/* Strings. */
char *str_dup(const char *s); /* NULL-safe strdup; caller frees */
char *str_ndup(const char *s, size_t n);
int str_ieq(const char *a, const char *b); /* ASCII case-insensitive equality, NULL-safe */
int str_starts(const char *s, const char *prefix);
int str_ends(const char *s, const char *suffix);
/* Parses a whole string as a decimal number (spaces around it allowed; not inf, nan or C hex
 * floats: strtod takes those, no request means them); returns 0 on success, *out untouched
 * otherwise. */
int str_to_double(const char *s, double *out);
int str_to_long(const char *s, long *out);
/* Decodes %XX and '+' in place; returns -1 on a malformed escape or an embedded NUL. */
int str_url_decode(char *s);
/* Reads a whole file (caller frees); NULL with err set on failure. */
char *str_read_file(const char *path, size_t *len, struct err *err);

/* Test hook: failing allocations (alloc.c). In a binary built with -DSPP_TEST_HOOKS (the
 * default `make` and `make asan` builds; not `make bench`), every malloc, calloc, realloc, strdup
 * and strndup made by spp's own code (not by the libraries it links) goes through a counting
 * wrapper (the linker's --wrap). alloc_test_arm(n, once) arms it for the calling thread: the nth
 * allocation from now fails, and with once = 0 every one after it too; alloc_test_disarm() stops
 * it and returns how many allocations were counted. Without SPP_TEST_HOOKS both do nothing.
 * alloc_test_parse() reads the hook's setting ("N" or "N,once"; "0", empty or NULL: off) from
 * SPP_TEST_FAIL_ALLOC or the X-Spp-Test-Fail-Alloc header; 0 on success. alloc_test_enabled() is
 * 1 when the binary has the hook and SPP_TEST_FAIL_ALLOC is set in the environment (only then
 * does the server read the header). */
void alloc_test_arm(long n, int once);
long alloc_test_disarm(void);
int alloc_test_parse(const char *s, long *n, int *once);
int alloc_test_enabled(void);

/* Logging to stderr with a timestamp. level: "info", "warn", "error". */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int log_quiet; /* set to 1 to silence info lines (tests) */

/* A value read from a feature or a request, borrowed. */
enum value_type { VAL_NULL, VAL_INT, VAL_REAL, VAL_TEXT, VAL_BLOB };
struct value {
    enum value_type type;
    int64_t i;
    double d;
    const char *s; /* VAL_TEXT (NUL-terminated) or VAL_BLOB */
    int len;       /* bytes in s */
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
