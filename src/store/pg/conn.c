/* SPDX-License-Identifier: MIT */
/* conn.c: the libpq connection of one store: the URI check (no password on the command line),
 * connecting, reconnecting with backoff, statements with bound values and a client-side
 * deadline (the statement is cancelled when it passes: no server-side SET, so transaction
 * pooling works), single-row streaming, and reading binary results. */
#include "pg.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25 };
enum { OID_FLOAT4 = 700, OID_FLOAT8 = 701 };
enum { BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000 };
/* After a cancel, how long the rest of a result may take to arrive before the connection is
 * dropped instead (a stalled network, a server that does not answer the cancel). */
enum { DRAIN_GRACE_MS = 1000 };

int pg_is_uri(const char *path)
{
    return path &&
           (strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0);
}

int pg_uri_check(const char *uri, struct err *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &msg);
    if (!opts) {
        int rc = err_set(err, ERR_PARAM, "--db: not a valid PostgreSQL URI: %s",
                         msg ? msg : "out of memory");
        PQfreemem(msg);
        return rc;
    }
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
            rc = err_set(err, ERR_PARAM,
                         "--db: the URI carries a password; give it in PGPASSWORD or ~/.pgpass,"
                         " never on the command line");
    PQconninfoFree(opts);
    return rc;
}

int pg_put_ident(struct buf *b, const char *name)
{
    int rc = buf_putc(b, '"');
    for (const char *p = name; *p && !rc; p++) {
        if (*p == '"') rc = buf_putc(b, '"');
        if (!rc) rc = buf_putc(b, *p);
    }
    return rc ? rc : buf_putc(b, '"');
}

/* A database that is away is a 503 at the edge (the load balancer retries another replica),
 * not a 500. */
static int unavailable(struct err *err, int rc)
{
    if (err) err->http_status = 503;
    return rc;
}

static void now(struct timespec *t)
{
    clock_gettime(CLOCK_MONOTONIC, t);
}

static long ms_until(const struct timespec *t)
{
    struct timespec n;
    now(&n);
    return (long)(t->tv_sec - n.tv_sec) * 1000 + (t->tv_nsec - n.tv_nsec) / 1000000;
}

static void add_ms(struct timespec *t, long ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) t->tv_sec++, t->tv_nsec -= 1000000000L;
}

/* The message of a libpq failure without its trailing newline. */
static int conn_error(struct pg_store *ps, struct err *err, const char *context)
{
    const char *m = ps->conn ? PQerrorMessage(ps->conn) : "out of memory";
    int n = (int)strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return err_set(err, ERR_DB, "%s: %.*s", context, n, m);
}

/* Server notices ("already exists, skipping") are not the user's business. */
static void no_notice(void *ud, const char *message)
{
    (void)ud, (void)message;
}

static int do_connect(struct pg_store *ps, struct err *err)
{
    /* the URI comes last: what it says wins over these defaults. Keepalives find a peer that is
     * gone while a worker waits for it (all client-side socket options: nothing reaches the
     * server or pgbouncer). No tcp_user_timeout: Linux also ends a connection whose peer's
     * window stays closed that long, which is a COPY waiting on a lock, not a broken network;
     * a worker's wait is bounded by its deadline and the drain instead. */
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "dbname",
                          NULL};
    const char *vals[] = {"2", "spp", "10", "5", "3", ps->uri, NULL};
    if (ps->conn) PQfinish(ps->conn);
    ps->conn = PQconnectdbParams(keys, vals, 1);
    if (ps->conn && PQstatus(ps->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(ps->conn, no_notice, NULL);
        ps->backoff_ms = 0;
        return 0;
    }
    int rc = unavailable(err, conn_error(ps, err, "database unavailable"));
    /* the next attempt waits: a database that is away is not hammered by every request */
    ps->backoff_ms = ps->backoff_ms ? ps->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (ps->backoff_ms > BACKOFF_MAX_MS) ps->backoff_ms = BACKOFF_MAX_MS;
    now(&ps->next_try);
    add_ms(&ps->next_try, ps->backoff_ms);
    return rc;
}

/* 0 when the connection still looks usable: nothing to read while idle, or what there is to
 * read (a notice, a status) leaves it open. A backend that was terminated or a server that
 * restarted has sent its FATAL message and closed the socket: that is seen here, before a
 * statement is sent, so the statement goes on a fresh connection instead of being lost on the
 * dead one (and nothing has to be sent twice). */
static int conn_alive(struct pg_store *ps)
{
    if (!ps->conn || PQstatus(ps->conn) != CONNECTION_OK) return 0;
    if (PQisBusy(ps->conn)) return 1;
    /* the FATAL message and the end of the stream may come in two reads */
    for (int i = 0; i < 4; i++) {
        struct pollfd pfd = {.fd = PQsocket(ps->conn), .events = POLLIN};
        if (pfd.fd < 0) return 0;
        if (poll(&pfd, 1, 0) <= 0) return 1;
        if (!PQconsumeInput(ps->conn) || PQstatus(ps->conn) != CONNECTION_OK) return 0;
    }
    return 1;
}

/* A usable connection, reconnecting when the last one broke (never inside a transaction:
 * what it did is gone, so the caller's transaction fails). */
static int ensure_conn(struct pg_store *ps, struct err *err)
{
    if (conn_alive(ps)) return 0;
    if (ps->in_tx)
        return unavailable(err,
                           err_set(err, ERR_DB, "database connection lost inside a transaction"));
    if (ps->backoff_ms && ms_until(&ps->next_try) > 0)
        return unavailable(err, err_set(err, ERR_DB, "database unavailable (retrying in %ld ms)",
                                        ms_until(&ps->next_try)));
    return do_connect(ps, err);
}

int pg_open(const char *uri, enum store_mode mode, struct pg_store **out, struct err *err)
{
    *out = NULL;
    int rc = pg_uri_check(uri, err);
    if (rc) return rc;
    struct pg_store *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->uri = str_dup(uri))) {
        free(ps);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    ps->readonly = mode == STORE_READ;
    if ((rc = do_connect(ps, err))) {
        pg_close(ps);
        return rc;
    }
    ps->srid = pg_read_srid(ps);
    *out = ps;
    return 0;
}

void pg_close(struct pg_store *ps)
{
    if (!ps) return;
    if (ps->conn) PQfinish(ps->conn);
    free(ps->uri);
    free(ps);
}

void pg_set_deadline(struct pg_store *ps, int ms)
{
    ps->has_deadline = ms > 0;
    if (ms <= 0) return;
    now(&ps->deadline);
    add_ms(&ps->deadline, ms);
}

void pg_share_deadline(struct pg_store *ps, const struct pg_store *from)
{
    ps->deadline = from->deadline;
    ps->has_deadline = from->has_deadline;
}

/* '?' -> $1, $2... outside quoted identifiers and string literals. */
static int renumber(const char *sql, struct buf *out)
{
    int n = 0, rc = 0;
    char quote = 0;
    for (const char *p = sql; *p && !rc; p++) {
        if (quote) {
            if (*p == quote) quote = 0;
            rc = buf_putc(out, *p);
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
            rc = buf_putc(out, *p);
        } else if (*p == '?') {
            rc = buf_printf(out, "$%d", ++n);
        } else {
            rc = buf_putc(out, *p);
        }
    }
    return rc ? rc : buf_append(out, "", 0);
}

struct pg_params {
    Oid *types;
    char **values;
    int *lengths, *formats;
    char (*text)[32];
    char **owned; /* copies of text values not NUL-terminated at their length */
    int n;
};

static void params_free(struct pg_params *p)
{
    for (int i = 0; p->owned && i < p->n; i++)
        free(p->owned[i]);
    free(p->types), free(p->values), free(p->lengths), free(p->formats), free(p->text);
    free(p->owned);
}

/* Integers and reals go as text with their type; text as text of unknown type (the column's
 * type decides, as SQLite's affinity does); blobs as binary bytea. */
static int params_make(const struct value *v, int n, struct pg_params *p)
{
    size_t k = n > 0 ? (size_t)n : 1;
    p->types = calloc(k, sizeof *p->types);
    p->values = calloc(k, sizeof *p->values);
    p->lengths = calloc(k, sizeof *p->lengths);
    p->formats = calloc(k, sizeof *p->formats);
    p->text = calloc(k, sizeof *p->text);
    p->owned = calloc(k, sizeof *p->owned);
    p->n = n;
    if (!p->types || !p->values || !p->lengths || !p->formats || !p->text || !p->owned)
        return ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        switch (v[i].type) {
        case VAL_INT:
            snprintf(p->text[i], sizeof p->text[i], "%lld", (long long)v[i].i);
            p->values[i] = p->text[i], p->types[i] = OID_INT8;
            break;
        case VAL_REAL:
            snprintf(p->text[i], sizeof p->text[i], "%.17g", v[i].d);
            p->values[i] = p->text[i], p->types[i] = OID_FLOAT8;
            break;
        case VAL_TEXT:
            p->values[i] = (char *)(v[i].s ? v[i].s : "");
            if (v[i].len >= 0 && v[i].s && v[i].s[v[i].len] != '\0') {
                if (!(p->owned[i] = malloc((size_t)v[i].len + 1))) return ERR_NOMEM;
                memcpy(p->owned[i], v[i].s, (size_t)v[i].len);
                p->owned[i][v[i].len] = '\0';
                p->values[i] = p->owned[i];
            }
            break;
        case VAL_BLOB:
            p->values[i] = (char *)v[i].s, p->lengths[i] = v[i].len, p->formats[i] = 1;
            p->types[i] = OID_BYTEA;
            break;
        default:
            p->values[i] = NULL;
        }
    }
    return 0;
}

/* Cancel requests go out on helper threads, never on a worker: libpq 15's PQcancel connects
 * and then waits for the server to close the cancel connection, both without a time limit (a
 * network partition holds it for minutes). At most CANCEL_THREADS_MAX are in flight in the
 * process (a partition must not pile up threads); past that no cancel is sent. */
enum { CANCEL_THREADS_MAX = 8 };

struct cancel_job {
    PGcancel *cancel;
    int done; /* PQcancel returned (sent or failed): no cancel of it can arrive later */
    int refs; /* the helper thread and the worker: the last one frees it */
};

static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_done; /* broadcast at every job's end; CLOCK_MONOTONIC */
static pthread_once_t cancel_once = PTHREAD_ONCE_INIT;
static int cancel_threads;

static void cancel_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cancel_done, &a);
    pthread_condattr_destroy(&a);
}

static void cancel_job_unref(struct cancel_job *job) /* under cancel_lock */
{
    if (--job->refs == 0) free(job);
}

static void *cancel_main(void *arg)
{
    struct cancel_job *job = arg;
    char msg[256];
    PQcancel(job->cancel, msg, sizeof msg); /* a failed cancel: the drain's bound still holds */
    PQfreeCancel(job->cancel);
    pthread_mutex_lock(&cancel_lock);
    job->done = 1;
    cancel_threads--;
    cancel_job_unref(job);
    pthread_cond_broadcast(&cancel_done);
    pthread_mutex_unlock(&cancel_lock);
    return NULL;
}

/* Sends a cancel for conn's statement on a detached helper thread: the job (cancel_wait ends
 * it), or NULL when none could be sent (the cap, out of memory, no thread). */
static struct cancel_job *cancel_send(PGconn *conn)
{
    pthread_once(&cancel_once, cancel_init);
    pthread_mutex_lock(&cancel_lock);
    int room = cancel_threads < CANCEL_THREADS_MAX;
    if (room) cancel_threads++;
    pthread_mutex_unlock(&cancel_lock);
    if (!room) return NULL;
    struct cancel_job *job = calloc(1, sizeof *job);
    pthread_attr_t attr;
    pthread_t t;
    int started = 0;
    if (job && (job->cancel = PQgetCancel(conn)) && pthread_attr_init(&attr) == 0) {
        job->refs = 2;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&t, &attr, cancel_main, job) == 0;
        pthread_attr_destroy(&attr);
    }
    if (started) return job;
    if (job && job->cancel) PQfreeCancel(job->cancel);
    free(job);
    pthread_mutex_lock(&cancel_lock);
    cancel_threads--;
    pthread_mutex_unlock(&cancel_lock);
    return NULL;
}

/* Waits until the job's cancel has reached the server, or until passes: 1 if it has. The job
 * is the worker's no more. */
static int cancel_wait(struct cancel_job *job, const struct timespec *until)
{
    pthread_mutex_lock(&cancel_lock);
    while (!job->done && ms_until(until) > 0)
        pthread_cond_timedwait(&cancel_done, &cancel_lock, until);
    int done = job->done;
    cancel_job_unref(job);
    pthread_mutex_unlock(&cancel_lock);
    return done;
}

/* Closes the connection without waiting on it: the socket is shut first, so PQfinish's
 * goodbye message cannot block on a full send buffer. The next statement reconnects. */
static void drop_conn(struct pg_store *ps)
{
    int fd = PQsocket(ps->conn);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
    PQfinish(ps->conn);
    ps->conn = NULL;
}

/* Ends the statement in progress: a cancel (when cancel is set, sent by a helper thread), then
 * what is left of its results read and thrown away, for at most DRAIN_GRACE_MS (or what is left
 * of the deadline, if more). The connection is dropped (the next statement reconnects) when
 * that time passes before the results end, when no cancel could be sent (the cap on helper
 * threads: waiting would only let the statement run on), or when the cancel request has not
 * reached the server by then (it could cancel the connection's next statement instead). A
 * worker never waits on the network without this bound. */
static void cancel_and_drain(struct pg_store *ps, int cancel)
{
    if (!ps->conn || PQstatus(ps->conn) != CONNECTION_OK) return;
    struct cancel_job *job = NULL;
    if (cancel && PQtransactionStatus(ps->conn) == PQTRANS_ACTIVE &&
        !(job = cancel_send(ps->conn))) {
        drop_conn(ps);
        return;
    }
    struct timespec until;
    now(&until);
    add_ms(&until, DRAIN_GRACE_MS);
    if (ps->has_deadline && ms_until(&ps->deadline) > DRAIN_GRACE_MS) until = ps->deadline;
    for (;;) {
        while (PQisBusy(ps->conn)) {
            long ms = ms_until(&until);
            struct pollfd pfd = {.fd = PQsocket(ps->conn), .events = POLLIN};
            int n = ms > 0 ? poll(&pfd, 1, (int)ms) : 0;
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0 || !PQconsumeInput(ps->conn)) {
                if (job) cancel_wait(job, &until); /* passed: only gives the job up */
                drop_conn(ps);                     /* no bounded way to finish it: start afresh */
                return;
            }
        }
        PGresult *r = PQgetResult(ps->conn);
        if (!r) break;
        PQclear(r);
    }
    if (job && !cancel_wait(job, &until)) drop_conn(ps);
}

/* Waits until a result can be read without blocking, or the deadline passes (the statement is
 * then cancelled: ERR_LIMIT). */
static int wait_ready(struct pg_store *ps, struct err *err)
{
    while (PQisBusy(ps->conn)) {
        long ms = ps->has_deadline ? ms_until(&ps->deadline) : -1;
        if (ps->has_deadline && ms <= 0) {
            cancel_and_drain(ps, 1);
            return err_set(err, ERR_LIMIT, "query time limit reached");
        }
        struct pollfd pfd = {.fd = PQsocket(ps->conn), .events = POLLIN};
        int n = poll(&pfd, 1, ms < 0 ? -1 : (int)ms);
        if (n < 0 && errno != EINTR) return err_set(err, ERR_DB, "poll: %s", strerror(errno));
        if (n > 0 && !PQconsumeInput(ps->conn))
            return unavailable(err, conn_error(ps, err, "database"));
    }
    return 0;
}

static int send_query(struct pg_store *ps, const char *sql, const struct value *params,
                      int n_params, struct err *err)
{
    struct buf b;
    buf_init(&b);
    struct pg_params p;
    memset(&p, 0, sizeof p);
    int rc = renumber(sql, &b) || params_make(params, n_params, &p);
    if (rc) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc && !PQsendQueryParams(ps->conn, b.data, n_params, p.types,
                                  (const char *const *)p.values, p.lengths, p.formats, 1))
        rc = conn_error(ps, err, "database");
    params_free(&p);
    buf_fini(&b);
    return rc;
}

/* The error of a failed result. Lost connections say so (a later call reconnects): a broken
 * socket, or the server ending the session (57P01 terminated by an administrator, 57P02/57P03
 * shutdown or start-up, class 08 connection exceptions), whose connection is closed here. */
static int result_error(struct pg_store *ps, PGresult *r, struct err *err)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *m = PQresultErrorMessage(r);
    int n = (int)strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    if (state && strcmp(state, "57014") == 0)
        return err_set(err, ERR_LIMIT, "query time limit reached");
    int ended = state && (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0);
    if (ended || PQstatus(ps->conn) != CONNECTION_OK) {
        int rc = unavailable(err, err_set(err, ERR_DB, "database: %.*s", n, m));
        if (ended) PQfinish(ps->conn), ps->conn = NULL;
        return rc;
    }
    return err_set(err, ERR_DB, "%.*s", n, m);
}

/* *sent: the statement went out on a connection (else no connection could be had: the
 * backoff or a failed connect, nothing to try again now). */
static int run_once(struct pg_store *ps, const char *sql, const struct value *params, int n_params,
                    PGresult **out, int *sent, struct err *err)
{
    *out = NULL;
    int rc = ensure_conn(ps, err);
    *sent = !rc;
    if (!rc) rc = send_query(ps, sql, params, n_params, err);
    PGresult *r, *keep = NULL;
    while (!rc && !(rc = wait_ready(ps, err)) && (r = PQgetResult(ps->conn))) {
        ExecStatusType s = PQresultStatus(r);
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK && !keep) {
            rc = result_error(ps, r, err);
            PQclear(r);
            cancel_and_drain(ps, 0);
            break;
        }
        if (keep) PQclear(keep);
        keep = r;
    }
    if (rc) {
        PQclear(keep);
        return rc;
    }
    *out = keep;
    return 0;
}

/* 1 for a statement that may be sent again after its connection broke under it: a plain
 * SELECT (spp's SELECTs change nothing). Anything else may have run on the server before the
 * connection broke (an INSERT that counted a key's use, an UPDATE): it is sent at most once. */
static int read_only(const char *sql)
{
    while (*sql == ' ' || *sql == '\n' || *sql == '\t')
        sql++;
    return strncasecmp(sql, "SELECT", 6) == 0 && !strchr(sql, ';');
}

int pg_query(struct pg_store *ps, const char *sql, const struct value *params, int n_params,
             PGresult **out, struct err *err)
{
    int sent;
    int rc = run_once(ps, sql, params, n_params, out, &sent, err);
    /* a connection that broke during a read-only statement (a failover, a restart not yet
     * seen by conn_alive) is tried once more, fresh, outside a transaction; any other
     * statement's outcome is unknown and stays the caller's error (503). No connection at all
     * (within the backoff, a failed connect) is not tried again: the backoff holds. */
    if (rc == ERR_DB && sent && !ps->in_tx && read_only(sql) &&
        (!ps->conn || PQstatus(ps->conn) != CONNECTION_OK)) {
        if (err) err_clear(err);
        rc = run_once(ps, sql, params, n_params, out, &sent, err);
    }
    if (!rc && !*out)
        rc = ps->conn ? err_set(err, ERR_DB, "database: no result")
                      : unavailable(err, err_set(err, ERR_DB, "database connection lost"));
    return rc;
}

int pg_exec(struct pg_store *ps, const char *sql, const struct value *params, int n_params,
            int64_t *n_rows, struct err *err)
{
    PGresult *r = NULL;
    int rc;
    if (n_params == 0 && strchr(sql, ';')) { /* several statements: the simple protocol */
        if ((rc = ensure_conn(ps, err))) return rc;
        r = PQexec(ps->conn, sql);
        ExecStatusType s = PQresultStatus(r);
        rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : result_error(ps, r, err);
    } else {
        rc = pg_query(ps, sql, params, n_params, &r, err);
    }
    if (!rc && n_rows) *n_rows = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

int pg_stream_start(struct pg_store *ps, const char *sql, const struct value *params, int n_params,
                    struct err *err)
{
    int rc = ensure_conn(ps, err);
    int sent = !rc;
    if (!rc) rc = send_query(ps, sql, params, n_params, err);
    /* a send that failed on a broken connection: once more, fresh (a SELECT; never within the
     * backoff after a failed connect) */
    if (rc && sent && !ps->in_tx && ps->conn && PQstatus(ps->conn) != CONNECTION_OK) {
        if (err) err_clear(err);
        rc = ensure_conn(ps, err);
        if (!rc) rc = send_query(ps, sql, params, n_params, err);
    }
    if (!rc) PQsetSingleRowMode(ps->conn);
    return rc;
}

int pg_stream_next(struct pg_store *ps, PGresult **res, struct err *err)
{
    *res = NULL;
    int rc = wait_ready(ps, err);
    if (rc) return rc;
    PGresult *r = PQgetResult(ps->conn);
    if (!r) return 0;
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_SINGLE_TUPLE) {
        *res = r;
        return 0;
    }
    if (s == PGRES_TUPLES_OK) { /* the end */
        PQclear(r);
        cancel_and_drain(ps, 0);
        return 0;
    }
    rc = result_error(ps, r, err);
    PQclear(r);
    cancel_and_drain(ps, 0);
    return rc;
}

void pg_stream_end(struct pg_store *ps)
{
    /* a sink stopped early (a client gone, a limit): the rest is cancelled rather than read,
     * and the drain is bounded (a stalled network drops the connection instead) */
    cancel_and_drain(ps, 1);
}

int pg_ping(struct pg_store *ps, struct err *err)
{
    PGresult *r = NULL;
    int saved = ps->has_deadline;
    struct timespec d = ps->deadline;
    pg_set_deadline(ps, 2000);
    int rc = pg_query(ps, "SELECT 1", NULL, 0, &r, err);
    PQclear(r);
    ps->has_deadline = saved, ps->deadline = d;
    return rc;
}

static pthread_mutex_t ping_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pg_store *ping_conn;

int pg_ping_uri(const char *uri, struct err *err)
{
    pthread_mutex_lock(&ping_lock);
    int rc = 0;
    if (!ping_conn) {
        /* a first connection that fails is kept with its backoff, as a lost one is */
        struct pg_store *ps = calloc(1, sizeof *ps);
        if (!ps || !(ps->uri = str_dup(uri))) {
            free(ps);
            rc = err_set(err, ERR_NOMEM, "out of memory");
        } else {
            ps->readonly = 1;
            ping_conn = ps;
        }
    }
    if (!rc) rc = pg_ping(ping_conn, err);
    pthread_mutex_unlock(&ping_lock);
    return rc;
}

/* ---- binary results ---- */

static uint64_t be64(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return be64toh(x);
}

static uint32_t be32(const char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return be32toh(x);
}

void pg_get_value(const PGresult *res, int row, int col, struct value *v)
{
    memset(v, 0, sizeof *v);
    if (PQgetisnull(res, row, col)) {
        v->type = VAL_NULL;
        return;
    }
    const char *p = PQgetvalue(res, row, col);
    int len = PQgetlength(res, row, col);
    switch (PQftype(res, col)) {
    case OID_INT8:
        v->type = VAL_INT, v->i = (int64_t)be64(p);
        break;
    case OID_INT4:
        v->type = VAL_INT, v->i = (int32_t)be32(p);
        break;
    case OID_INT2:
        v->type = VAL_INT, v->i = (int16_t)((unsigned char)p[0] << 8 | (unsigned char)p[1]);
        break;
    case OID_BOOL:
        v->type = VAL_INT, v->i = p[0] != 0;
        break;
    case OID_FLOAT8: {
        uint64_t u = be64(p);
        v->type = VAL_REAL;
        memcpy(&v->d, &u, sizeof v->d);
        return;
    }
    case OID_FLOAT4: {
        uint32_t u = be32(p);
        float f;
        memcpy(&f, &u, sizeof f);
        v->type = VAL_REAL, v->d = f;
        return;
    }
    case OID_BYTEA:
        v->type = VAL_BLOB, v->s = p, v->len = len;
        return;
    default: /* text, varchar, name: the bytes (libpq appends a NUL) */
        v->type = VAL_TEXT, v->s = p, v->len = len;
        return;
    }
    v->d = (double)v->i;
}

int64_t pg_get_int(const PGresult *res, int row, int col)
{
    struct value v;
    pg_get_value(res, row, col, &v);
    return v.type == VAL_INT ? v.i : v.type == VAL_REAL ? (int64_t)v.d : 0;
}

double pg_get_double(const PGresult *res, int row, int col)
{
    struct value v;
    pg_get_value(res, row, col, &v);
    return v.type == VAL_REAL || v.type == VAL_INT ? v.d : 0;
}

const char *pg_get_text(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col);
}
