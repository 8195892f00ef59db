/* SPDX-License-Identifier: MIT */
/* test_core.c: core/: buffers (escaping, numbers, the sticky out-of-memory failure, through the
 * failing-allocator hook), strict number parsing, URL decoding, errors, and the request and
 * response helpers every handler uses; par.h's helper threads (every part once, on whichever
 * worker took it, never waiting for a busy helper). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <unistd.h>

#include "../check.h"
#include "core/core.h"
#include "core/par.h"
#include "core/request.h"
#include "core/worker.h"

static const char *json_of(struct buf *b, const char *s)
{
    buf_reset(b);
    buf_put_json_str(b, s);
    return b->data;
}

static const char *xml_of(struct buf *b, const char *s)
{
    buf_reset(b);
    buf_put_xml(b, s);
    return b->data;
}

static const char *num_of(struct buf *b, double v, int decimals)
{
    buf_reset(b);
    buf_put_double(b, v, decimals);
    return b->data;
}

static void test_escaping(void)
{
    struct buf b;
    buf_init(&b);
    CHECK(strcmp(json_of(&b, "plain"), "\"plain\"") == 0);
    CHECK(strcmp(json_of(&b, "a\"b\\c"), "\"a\\\"b\\\\c\"") == 0);
    CHECK(strcmp(json_of(&b, "l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"") == 0);
    CHECK(strcmp(json_of(&b, "\x01\x1f"), "\"\\u0001\\u001f\"") == 0);
    CHECK(strcmp(json_of(&b, "Đường 30/4"), "\"Đường 30/4\"") == 0); /* UTF-8 as is */
    CHECK(strcmp(json_of(&b, ""), "\"\"") == 0);
    CHECK(strcmp(xml_of(&b, "<a href=\"x\">&'</a>"),
                 "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;") == 0);
    CHECK(strcmp(xml_of(&b, "tab\there\x01\x02!"), "tab\there!") == 0); /* no XML 1.0 control */
    CHECK(strcmp(xml_of(&b, "Cần Thơ"), "Cần Thơ") == 0);
    /* a long run crosses the first allocation's 256 bytes */
    char big[1000];
    memset(big, '&', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    xml_of(&b, big);
    CHECK(b.len == 5 * (sizeof big - 1) && strncmp(b.data + b.len - 5, "&amp;", 5) == 0);
    buf_fini(&b);
}

static void test_numbers_out(void)
{
    struct buf b;
    buf_init(&b);
    CHECK(strcmp(num_of(&b, 586184.889, 3), "586184.889") == 0);
    CHECK(strcmp(num_of(&b, 586184.8890001, 3), "586184.889") == 0);
    CHECK(strcmp(num_of(&b, 12.5, 6), "12.5") == 0);
    CHECK(strcmp(num_of(&b, 3.0, 6), "3") == 0);
    CHECK(strcmp(num_of(&b, 100, 0), "100") == 0);   /* zeros of the integer part stay */
    CHECK(strcmp(num_of(&b, -0.0001, 2), "0") == 0); /* no "-0" */
    CHECK(strcmp(num_of(&b, -1.25, 1), "-1.2") == 0 || strcmp(b.data, "-1.3") == 0);
    CHECK(strcmp(num_of(&b, NAN, 2), "null") == 0);
    CHECK(strcmp(num_of(&b, INFINITY, 2), "null") == 0);
    num_of(&b, 1e300, 2); /* too long for %.2f: the shortest exact form, still a number */
    CHECK(strtod(b.data, NULL) == 1e300 && strchr(b.data, 'e'));
    buf_reset(&b);
    CHECK(buf_printf(&b, "%s-%d", "x", 7) == 0 && strcmp(b.data, "x-7") == 0);
    char longer[600];
    memset(longer, 'y', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK(buf_printf(&b, "[%s]", longer) == 0 && b.len == 3 + 1 + 599 + 1);
    CHECK(b.data[b.len] == '\0' && b.data[b.len - 1] == ']');
    buf_fini(&b);
}

static void test_numbers_in(void)
{
    double d = -1;
    long l = -1;
    CHECK(str_to_double("586184.889", &d) == 0 && d == 586184.889);
    CHECK(str_to_double(" -12.5e2 ", &d) == 0 && d == -1250);
    CHECK(str_to_double("12x", &d) != 0);
    CHECK(str_to_double("", &d) != 0 && str_to_double("  ", &d) != 0);
    CHECK(str_to_double(NULL, &d) != 0);
    CHECK(str_to_double("nan", &d) != 0);
    CHECK(str_to_double("inf", &d) != 0 && str_to_double("-Infinity", &d) != 0);
    CHECK(str_to_double("1e999", &d) != 0); /* out of range */
    CHECK(str_to_double("0x10", &d) != 0);  /* decimal only: no C hex floats in requests */
    CHECK(str_to_double("1,5", &d) != 0);
    d = 7;
    CHECK(str_to_double("abc", &d) != 0 && d == 7); /* untouched on failure */
    CHECK(str_to_long("42", &l) == 0 && l == 42);
    CHECK(str_to_long(" -7 ", &l) == 0 && l == -7);
    CHECK(str_to_long("4.2", &l) != 0 && str_to_long("", &l) != 0);
    CHECK(str_to_long("99999999999999999999999", &l) != 0);
    CHECK(str_to_long(NULL, &l) != 0);
}

static void test_url_decode(void)
{
    char s1[] = "a%20b+c%C3%A1";
    CHECK(str_url_decode(s1) == 0 && strcmp(s1, "a b cá") == 0);
    char s2[] = "bad%2";
    CHECK(str_url_decode(s2) != 0);
    char s3[] = "nul%00byte";
    CHECK(str_url_decode(s3) != 0);
    char s4[] = "%zz";
    CHECK(str_url_decode(s4) != 0);
    char s5[] = "%2f%2F";
    CHECK(str_url_decode(s5) == 0 && strcmp(s5, "//") == 0);
}

static void test_err(void)
{
    struct err e;
    err_clear(&e);
    CHECK(e.code == ERR_OK && e.msg[0] == '\0');
    CHECK(err_setl(&e, ERR_PARAM, "BBOX", "bad %s", "bbox") == ERR_PARAM);
    CHECK(strcmp(e.msg, "bad bbox") == 0 && strcmp(e.locator, "BBOX") == 0);
    /* the first failure is kept; later ones only return their code */
    CHECK(err_set(&e, ERR_DB, "later") == ERR_DB);
    CHECK(e.code == ERR_PARAM && strcmp(e.msg, "bad bbox") == 0);
    CHECK(err_set(NULL, ERR_IO, "no err struct") == ERR_IO);
    err_clear(&e);
    CHECK(e.code == ERR_OK && e.locator[0] == '\0' && e.http_status == 0);
    CHECK(strcmp(err_code_name(ERR_NOMEM), "out of memory") == 0);
    CHECK(strcmp(err_code_name(ERR_INTERNAL), "internal") == 0);
    CHECK(strcmp(err_code_name((enum err_code)99), "unknown") == 0);
    char longmsg[400];
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    err_set(&e, ERR_IO, "%s", longmsg);
    CHECK(strlen(e.msg) == sizeof e.msg - 1); /* truncated, still a string */
}

static void test_request_helpers(void)
{
    struct kv args[] = {{"SERVICE", "WMS"}, {"f", "json"}, {"layers", "a,b"}};
    char n0[] = "layer", v0[] = "roads";
    struct request r;
    memset(&r, 0, sizeof r);
    r.args = args;
    r.n_args = 3;
    r.param_names[0] = n0;
    r.params[0] = v0;
    r.n_params = 1;
    CHECK(req_arg(&r, "SERVICE") && strcmp(req_arg(&r, "SERVICE"), "WMS") == 0);
    CHECK(req_arg(&r, "service") == NULL); /* exact */
    CHECK(req_arg_ci(&r, "service") && strcmp(req_arg_ci(&r, "LAYERS"), "a,b") == 0);
    CHECK(req_arg_ci(&r, "bbox") == NULL);
    CHECK(req_param(&r, "layer") && strcmp(req_param(&r, "layer"), "roads") == 0);
    CHECK(req_param(&r, "z") == NULL);
    CHECK(!req_wants_html(&r)); /* f=json */
    args[1].value = "html";
    CHECK(req_wants_html(&r));
    r.n_args = 1; /* no f= : the Accept header decides, first of html and json */
    r.accept = "text/html,application/json";
    CHECK(req_wants_html(&r));
    r.accept = "application/json, text/html";
    CHECK(!req_wants_html(&r));
    r.accept = NULL;
    CHECK(!req_wants_html(&r));

    struct response res;
    resp_init(&res);
    CHECK(res.status == 0 && res.body.len == 0 && !res.has_body_fd);
    resp_set(&res, 404, "application/problem+json");
    CHECK(res.status == 404 && strcmp(res.content_type, "application/problem+json") == 0);
    resp_header(&res, "ETag", "\"1\"");
    resp_header(&res, "etag", "\"2\""); /* same header, any case: replaced */
    CHECK(res.n_headers == 1 && strcmp(resp_get_header(&res, "ETAG"), "\"2\"") == 0);
    for (int i = 0; i < RESP_MAX_HEADERS + 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "X-H%d", i);
        resp_header(&res, name, "v");
    }
    CHECK(res.n_headers == RESP_MAX_HEADERS);
    CHECK(resp_get_header(&res, "X-Missing") == NULL);
    resp_fini(&res);
}

/* The sticky failure (issue 23), driven by the failing-allocator hook. */
static void test_buf_failure(void)
{
    /* the hook is linked in (TEST_HOOKS=1): an armed allocation fails */
    alloc_test_arm(1, 0);
    void *p = malloc(16);
    alloc_test_disarm();
    CHECKF(p == NULL, "the failing-allocator hook is not in this build (TEST_HOOKS=0?)");
    free(p);

    struct buf b;
    buf_init(&b);
    alloc_test_arm(1, 1); /* the first allocation only */
    CHECK(buf_puts(&b, "abc") == ERR_NOMEM);
    CHECK(buf_failed(&b));
    /* later appends are no-ops, though memory is back */
    CHECK(buf_puts(&b, "def") == ERR_NOMEM && buf_putc(&b, 'x') == ERR_NOMEM);
    CHECK(buf_printf(&b, "%d", 5) == ERR_NOMEM && buf_put_double(&b, 1, 0) == ERR_NOMEM);
    CHECK(buf_put_json_str(&b, "s") == ERR_NOMEM && buf_put_xml(&b, "s") == ERR_NOMEM);
    CHECK(b.len == 0 && buf_failed(&b));
    alloc_test_disarm();
    size_t len = 99;
    CHECK(buf_take(&b, &len) == NULL && len == 0); /* never handed on as a string */
    CHECK(!buf_failed(&b) && b.data == NULL);

    /* a failure in the middle: the growth fails, a later append that would fit is refused too */
    CHECK(buf_puts(&b, "head") == 0 && !buf_failed(&b));
    char big[600];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    alloc_test_arm(1, 1);
    CHECK(buf_puts(&b, big) == ERR_NOMEM);
    alloc_test_disarm();
    CHECK(strcmp(b.data, "head") == 0 && b.len == 4); /* contents as they were */
    CHECK(buf_putc(&b, '!') == ERR_NOMEM && b.len == 4);
    /* buf_append_buf carries the failure to the buffer it appends to */
    struct buf out;
    buf_init(&out);
    CHECK(buf_puts(&out, "x") == 0);
    CHECK(buf_append_buf(&out, &b) == ERR_NOMEM && buf_failed(&out));
    buf_reset(&out); /* reset: a new start */
    CHECK(!buf_failed(&out) && buf_puts(&out, "ok") == 0 && strcmp(out.data, "ok") == 0);
    buf_reset(&b);
    CHECK(!buf_failed(&b) && buf_puts(&b, big) == 0 && b.len == sizeof big - 1);
    CHECK(buf_append_buf(&out, &b) == 0 && out.len == 2 + sizeof big - 1);

    /* a NULL string is what a failed str_dup leaves: it fails the buffer */
    alloc_test_arm(1, 1);
    char *dup = str_dup("lost");
    alloc_test_disarm();
    CHECK(dup == NULL);
    buf_reset(&out);
    CHECK(buf_put_json_str(&out, dup) == ERR_NOMEM && buf_failed(&out));
    buf_reset(&out);
    CHECK(buf_put_xml(&out, dup) == ERR_NOMEM && buf_failed(&out));
    buf_reset(&out);
    CHECK(buf_puts(&out, dup) == ERR_NOMEM && buf_failed(&out));
    buf_reset(&out);
    CHECK(buf_append(&out, NULL, 3) == ERR_NOMEM && buf_failed(&out));
    buf_reset(&out);
    CHECK(buf_append(&out, NULL, 0) == 0 && !buf_failed(&out));

    /* the hook's settings */
    long n;
    int once;
    CHECK(alloc_test_parse("12", &n, &once) == 0 && n == 12 && !once);
    CHECK(alloc_test_parse("3,once", &n, &once) == 0 && n == 3 && once);
    CHECK(alloc_test_parse(NULL, &n, &once) == 0 && n == 0);
    CHECK(alloc_test_parse("x", &n, &once) != 0 && alloc_test_parse("-1", &n, &once) != 0);
    CHECK(alloc_test_parse("3,twice", &n, &once) != 0);
    buf_fini(&b);
    buf_fini(&out);
}

/* ---- par.h ---- */

#define PAR_PARTS 16

struct par_trace {
    int ran[PAR_PARTS];            /* times each part ran */
    struct worker *on[PAR_PARTS];  /* the worker it ran on */
    int order[PAR_PARTS], n_order; /* the parts self ran, in order */
    struct worker *self;
    pthread_mutex_t lock;
    int sleep_us;
};

static void par_record(void *ud, int i, struct worker *w)
{
    struct par_trace *t = ud;
    if (t->sleep_us) usleep((useconds_t)t->sleep_us);
    pthread_mutex_lock(&t->lock);
    t->ran[i]++;
    t->on[i] = w;
    if (w == t->self) t->order[t->n_order++] = i;
    pthread_mutex_unlock(&t->lock);
}

/* A helper held in its part until `release` (`holding` says it is in); the caller's own part
 * takes 20 ms, time for the idle helper to take the other. */
struct par_hold {
    int holding, release, on_self;
    struct worker *self;
};

static void par_hold_part(void *ud, int i, struct worker *w)
{
    struct par_hold *h = ud;
    (void)i;
    if (w == h->self) {
        usleep(20000);
        __atomic_add_fetch(&h->on_self, 1, __ATOMIC_SEQ_CST);
        return;
    }
    __atomic_store_n(&h->holding, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&h->release, __ATOMIC_SEQ_CST))
        usleep(1000);
}

struct par_runner {
    struct par *p;
    struct par_hold *h;
};

static void *par_run_hold(void *arg)
{
    struct par_runner *r = arg;
    par_run(r->p, 2, par_hold_part, r->h, r->h->self);
    return NULL;
}

struct par_stress {
    struct par *p;
    int bad;
};

static void par_count(void *ud, int i, struct worker *w)
{
    (void)w;
    __atomic_add_fetch(&((int *)ud)[i], 1, __ATOMIC_SEQ_CST);
}

static void *par_stress_main(void *arg)
{
    struct par_stress *s = arg;
    struct worker self = {0};
    for (int k = 0; k < 300; k++) {
        int n = 1 + k % 5, ran[5] = {0};
        par_run(s->p, n, par_count, ran, &self);
        for (int i = 0; i < 5; i++)
            if (ran[i] != (i < n)) __atomic_add_fetch(&s->bad, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void test_par(void)
{
    struct err err;
    err_clear(&err);
    struct worker self = {0}, helpers[3] = {{0}};
    struct par_trace t = {.self = &self};
    pthread_mutex_init(&t.lock, NULL);
    /* no helpers: every part on self, in order */
    struct par *p = (struct par *)1;
    CHECK(par_start(helpers, 0, &p, &err) == 0 && p == NULL && par_size(p) == 0);
    par_run(NULL, 5, par_record, &t, &self);
    CHECK(t.n_order == 5);
    for (int i = 0; i < 5; i++)
        CHECKF(t.ran[i] == 1 && t.order[i] == i && t.on[i] == &self, "part %d", i);

    /* three helpers: every part exactly once; idle helpers take some (they start idle: a few
     * tries leave them time to get there on a loaded machine) */
    CHECK(par_start(helpers, 3, &p, &err) == 0 && p && par_size(p) == 3);
    int helped = 0;
    for (int attempt = 0; attempt < 50 && !helped; attempt++) {
        memset(t.ran, 0, sizeof t.ran);
        memset(t.on, 0, sizeof t.on);
        t.n_order = 0;
        t.sleep_us = 2000;
        par_run(p, 8, par_record, &t, &self);
        int once = 1;
        for (int i = 0; i < 8; i++) {
            once &= t.ran[i] == 1;
            helped |= t.on[i] >= helpers && t.on[i] < helpers + 3;
        }
        for (int i = 8; i < PAR_PARTS; i++)
            once &= t.ran[i] == 0;
        CHECKF(once, "attempt %d: a part ran twice, never or beyond n", attempt);
        if (!helped) usleep(10000);
    }
    CHECK(helped);
    for (int k = 1; k < t.n_order; k++) /* self takes its parts in order */
        CHECK(t.order[k] > t.order[k - 1]);

    /* one helper held in a part: another request never waits for it, it runs all its parts on
     * its own worker while the helper is still held */
    par_stop(p);
    CHECK(par_start(helpers, 1, &p, &err) == 0 && p);
    struct worker self2 = {0};
    struct par_hold h;
    struct par_runner r = {p, &h};
    pthread_t a;
    int held = 0;
    for (int attempt = 0; attempt < 20 && !held; attempt++) {
        h = (struct par_hold){.self = &self2};
        usleep(10000); /* the helper idle again */
        CHECK(pthread_create(&a, NULL, par_run_hold, &r) == 0);
        while (!__atomic_load_n(&h.holding, __ATOMIC_SEQ_CST) &&
               __atomic_load_n(&h.on_self, __ATOMIC_SEQ_CST) < 2)
            usleep(1000);
        held = __atomic_load_n(&h.holding, __ATOMIC_SEQ_CST);
        if (!held) pthread_join(a, NULL); /* both parts ran on self2: try again */
    }
    CHECK(held);
    if (held) {
        memset(t.ran, 0, sizeof t.ran);
        t.n_order = 0;
        t.sleep_us = 0;
        par_run(p, 4, par_record, &t, &self);
        CHECK(t.n_order == 4 && !__atomic_load_n(&h.release, __ATOMIC_SEQ_CST));
        __atomic_store_n(&h.release, 1, __ATOMIC_SEQ_CST);
        pthread_join(a, NULL);
        CHECK(h.on_self == 1);
    }
    par_stop(p);

    /* four requests at once on two helpers: every part of every run once */
    CHECK(par_start(helpers, 2, &p, &err) == 0 && p);
    struct par_stress st = {p, 0};
    pthread_t th[4];
    for (int k = 0; k < 4; k++)
        CHECK(pthread_create(&th[k], NULL, par_stress_main, &st) == 0);
    for (int k = 0; k < 4; k++)
        pthread_join(th[k], NULL);
    CHECKF(st.bad == 0, "%d runs with a part run twice or never", st.bad);
    par_stop(p);
    par_stop(NULL);
    pthread_mutex_destroy(&t.lock);
}

int main(void)
{
    test_escaping();
    test_numbers_out();
    test_numbers_in();
    test_url_decode();
    test_err();
    test_request_helpers();
    test_buf_failure();
    test_par();
    CHECK_DONE();
}
