/* SPDX-License-Identifier: MIT */
/* listen.c: the change watch of a PostGIS store (issue 24). One thread per process keeps its own
 * libpq connection (never a worker's, never pooled by spp) with LISTEN spp_changes; the schema's
 * trigger on spp_changes and spp_layers NOTIFYs at every commit that writes them (imports,
 * `spp copy`, edits). Every second it also reads the change mark (spp_changes' max id and the
 * layers' versions, pg_changed's query): that catches what a connection that cannot LISTEN
 * never hears (pgbouncer in transaction mode, a hot standby, a schema without the trigger).
 * Either bumps a generation; pg_changed compares it with what its worker last saw instead of
 * asking the database at every request. While the connection is down the watch says "unknown"
 * and pg_changed asks the database itself (which fails while it is away: the tile cache is
 * bypassed, never served stale); a reconnection bumps the generation.
 *
 * What it must not do: touch a worker's connection or the tile cache (callers read the
 * generation), block shutdown (a pipe wakes it), or take a password from the URI. */
#include "pg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/core.h"

static struct {
    pthread_mutex_t lock; /* started/thread/uri across start and stop */
    pthread_t thread;
    int started;
    int wake[2]; /* stop: a byte on wake[1] */
    char *uri;
    char mark[64];
    uint64_t gen;  /* __atomic */
    int healthy;   /* __atomic: the connection is up and the mark was read */
    int stopping;  /* __atomic */
    int listening; /* LISTEN accepted on the current connection (for the log) */
} w = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = {-1, -1}};

static PGconn *watch_connect(void)
{
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "dbname",
                          NULL};
    const char *vals[] = {"2", "spp-watch", "5", "2", "2", w.uri, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c && PQstatus(c) == CONNECTION_OK) return c;
    PQfinish(c);
    return NULL;
}

/* The mark into out; 0 when read. */
static int read_mark(PGconn *c, char out[64])
{
    PGresult *r = PQexec(c, "SELECT (SELECT coalesce(max(id), 0) FROM spp_changes)::text || '/' ||"
                            " (SELECT coalesce(sum(version), 0) FROM spp_layers)::text");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok) snprintf(out, 64, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ok ? 0 : -1;
}

static void bump(void)
{
    __atomic_add_fetch(&w.gen, 1, __ATOMIC_ACQ_REL);
}

/* Waits up to ms for the socket fd (or -1: only the wake pipe); 1 when fd is readable, 0 on
 * timeout, -1 when stopping. */
static int wait_for(int fd, int ms)
{
    struct pollfd p[2] = {{.fd = w.wake[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    int n = poll(p, fd >= 0 ? 2 : 1, ms);
    if (__atomic_load_n(&w.stopping, __ATOMIC_ACQUIRE) || (n > 0 && p[0].revents)) return -1;
    return n > 0 && fd >= 0 && p[1].revents ? 1 : 0;
}

static void *watch_main(void *arg)
{
    (void)arg;
    PGconn *c = NULL;
    int backoff = 100, down_logged = 0;
    while (!__atomic_load_n(&w.stopping, __ATOMIC_ACQUIRE)) {
        if (!c) {
            c = watch_connect();
            char mark[64];
            if (c && read_mark(c, mark) == 0) {
                PGresult *r = PQexec(c, "LISTEN spp_changes");
                w.listening = PQresultStatus(r) == PGRES_COMMAND_OK;
                PQclear(r);
                snprintf(w.mark, sizeof w.mark, "%s", mark);
                bump(); /* anything may have changed while it was away */
                __atomic_store_n(&w.healthy, 1, __ATOMIC_RELEASE);
                log_msg("info", "tile cache: watching the database's changes (%s)",
                        w.listening ? "LISTEN, and its change mark every second"
                                    : "its change mark every second; LISTEN refused");
                backoff = 100, down_logged = 0;
                continue;
            }
            PQfinish(c);
            c = NULL;
            if (!down_logged++)
                log_msg("warn", "tile cache: cannot watch the database's changes; retrying");
            if (wait_for(-1, backoff) < 0) break;
            backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
            continue;
        }
        int got = wait_for(PQsocket(c), 1000);
        if (got < 0) break;
        int lost = 0;
        if (got > 0) {
            if (!PQconsumeInput(c)) lost = 1;
            PGnotify *n;
            int heard = 0;
            while ((n = PQnotifies(c))) {
                heard = 1;
                PQfreemem(n);
            }
            if (heard) {
                bump();
                continue;
            }
        }
        char mark[64];
        if (!lost && PQstatus(c) == CONNECTION_OK && read_mark(c, mark) == 0) {
            if (strcmp(mark, w.mark) != 0) {
                snprintf(w.mark, sizeof w.mark, "%s", mark);
                bump();
            }
            /* notifications that came with the mark's answer */
            PGnotify *n;
            while ((n = PQnotifies(c)))
                PQfreemem(n), bump();
            continue;
        }
        __atomic_store_n(&w.healthy, 0, __ATOMIC_RELEASE);
        bump();
        log_msg("warn", "tile cache: lost the database's change watch; reconnecting");
        PQfinish(c);
        c = NULL;
    }
    __atomic_store_n(&w.healthy, 0, __ATOMIC_RELEASE);
    PQfinish(c);
    return NULL;
}

int pg_watch_start(const char *uri, struct err *err)
{
    pthread_mutex_lock(&w.lock);
    int rc = 0;
    if (w.started) {
        pthread_mutex_unlock(&w.lock);
        return 0;
    }
    free(w.uri);
    w.uri = str_dup(uri);
    if (!w.uri) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
    } else if (pipe2(w.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = err_set(err, ERR_IO, "change watch: pipe: %s", strerror(errno));
    } else {
        __atomic_store_n(&w.stopping, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&w.healthy, 0, __ATOMIC_RELEASE);
        if (pthread_create(&w.thread, NULL, watch_main, NULL) != 0) {
            close(w.wake[0]), close(w.wake[1]);
            w.wake[0] = w.wake[1] = -1;
            rc = err_set(err, ERR_INTERNAL, "change watch: cannot start its thread");
        } else {
            w.started = 1;
        }
    }
    pthread_mutex_unlock(&w.lock);
    return rc;
}

void pg_watch_stop(void)
{
    pthread_mutex_lock(&w.lock);
    if (w.started) {
        __atomic_store_n(&w.stopping, 1, __ATOMIC_RELEASE);
        ssize_t n = write(w.wake[1], "x", 1);
        (void)n;
        pthread_join(w.thread, NULL);
        close(w.wake[0]), close(w.wake[1]);
        w.wake[0] = w.wake[1] = -1;
        w.started = 0;
    }
    free(w.uri);
    w.uri = NULL;
    pthread_mutex_unlock(&w.lock);
}

int pg_watch_gen(uint64_t *gen)
{
    if (!__atomic_load_n(&w.healthy, __ATOMIC_ACQUIRE)) return 0;
    *gen = __atomic_load_n(&w.gen, __ATOMIC_ACQUIRE);
    return 1;
}

int store_watch_start(const char *path, struct err *err)
{
    if (!pg_is_uri(path)) return 0;
    int rc = pg_uri_check(path, err);
    return rc ? rc : pg_watch_start(path, err);
}

void store_watch_stop(void)
{
    pg_watch_stop();
}

int store_db_away(const char *path)
{
    if (!pg_is_uri(path)) return 0;
    const char *keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {"2", path, NULL};
    PGPing p = PQpingParams(keys, vals, 1);
    return p == PQPING_NO_RESPONSE || p == PQPING_REJECT;
}
