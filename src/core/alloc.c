/* SPDX-License-Identifier: MIT */
/* alloc.c: the failing-allocator test hook (issue 23). Built with -DSPP_TEST_HOOKS and linked
 * with -Wl,--wrap=malloc,... (Makefile: TEST_HOOKS=1, the default and asan builds), every
 * allocation spp's own objects make comes through the wrappers here, which count the allocations
 * of a thread armed by alloc_test_arm() (the router arms it for the request it runs) and fail the
 * chosen ones, so that tests can prove out of memory anywhere in a response ends as a 503, never a
 * truncated 200 (tests/integration/test_oom.py). Libraries (SQLite, GDAL, jansson...) allocate
 * with the real allocator. Without SPP_TEST_HOOKS the functions below do nothing.
 *
 * The counter is per thread (a thread-local) on purpose: it must follow whatever runs on the
 * request's thread, down to code that never sees the request. It is test machinery only. */
#include "core.h"

#include <errno.h>
#include <stdlib.h>
#ifdef SPP_TEST_HOOKS
#include <execinfo.h>
#include <unistd.h>
#endif
#include <string.h>

int alloc_test_parse(const char *s, long *n, int *once)
{
    *n = 0, *once = 0;
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || v < 0) return ERR_PARAM;
    if (*end == ',') {
        if (strcmp(end, ",once") != 0) return ERR_PARAM;
        *once = 1;
    } else if (*end) {
        return ERR_PARAM;
    }
    *n = v;
    return 0;
}

#ifdef SPP_TEST_HOOKS

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static _Thread_local long fail_at;  /* 0: disarmed; else the allocation number that fails */
static _Thread_local int fail_once; /* only that one, else that one and every later one */
static _Thread_local long counted;

int alloc_test_enabled(void)
{
    return getenv("SPP_TEST_FAIL_ALLOC") != NULL;
}

void alloc_test_arm(long n, int once)
{
    fail_at = n > 0 ? n : 0;
    fail_once = once;
    counted = 0;
}

long alloc_test_disarm(void)
{
    long n = counted;
    fail_at = 0;
    counted = 0;
    return n;
}

/* 1 when this allocation is to fail. With SPP_TEST_FAIL_ALLOC_TRACE set, the first failure of
 * a request writes its call stack to stderr (finding the code that mishandled it). */
static int failing(void)
{
    if (!fail_at) return 0;
    long k = ++counted;
    int fail = fail_once ? k == fail_at : k >= fail_at;
    if (fail && k == fail_at && getenv("SPP_TEST_FAIL_ALLOC_TRACE")) {
        void *frames[16];
        int n = backtrace(frames, 16);
        backtrace_symbols_fd(frames, n, STDERR_FILENO);
    }
    return fail;
}

void *__wrap_malloc(size_t size)
{
    if (failing()) return errno = ENOMEM, NULL;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (failing()) return errno = ENOMEM, NULL;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    if (failing()) return errno = ENOMEM, NULL;
    return __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    if (failing()) return errno = ENOMEM, NULL;
    return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    if (failing()) return errno = ENOMEM, NULL;
    return __real_strndup(s, n);
}

#else

int alloc_test_enabled(void)
{
    return 0;
}

void alloc_test_arm(long n, int once)
{
    (void)n, (void)once;
}

long alloc_test_disarm(void)
{
    return 0;
}

#endif
