/* SPDX-License-Identifier: MIT */
/* watchdog.c: the connection watchdog (issue 18). Every open connection is linked into the
 * server's list with the deadline of the part it is reading; a thread shuts those past it. It
 * never reads or answers a request (server.c does), and never closes a descriptor itself:
 * libmicrohttpd sees the end of the stream and closes the connection. */
#include "server_int.h"

#include <stdlib.h>
#include <sys/socket.h>

/* ---- the connection watchdog (issue 18) ----
 * libmicrohttpd's connection timeout starts again with every byte, so a client trickling a
 * header byte every few seconds kept a connection (and, past 4,096 of them, the server) forever.
 * Each connection here has a deadline for the part it is reading that no byte moves: its
 * request head within limits.header_seconds of the accept or of the end of the previous answer
 * (an idle keep-alive connection is closed then too), its body within limits.body_seconds of the
 * head. A thread shuts the sockets past it (shutdown(2): libmicrohttpd sees the end of the
 * stream and closes the connection itself); one that had sent a request line gets a 408 first. */

struct sock_ctx *http_sock_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void http_watch_state(struct server *s, struct sock_ctx *sc, enum sock_state st)
{
    if (!sc) return;
    pthread_mutex_lock(&s->watch_lock);
    sc->state = st;
    sc->got_line = 0;
    clock_gettime(CLOCK_MONOTONIC, &sc->since);
    pthread_mutex_unlock(&s->watch_lock);
}

void http_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    struct server *s = cls;
    struct sock_ctx *sc = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        sc = calloc(1, sizeof *sc);
        *socket_context = sc;
        if (!sc) return;
        clock_gettime(CLOCK_MONOTONIC, &sc->accepted);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        sc->fd = ci ? (int)ci->connect_fd : -1;
        sc->state = SOCK_HEAD;
        sc->since = sc->accepted;
        pthread_mutex_lock(&s->watch_lock);
        sc->next = s->watch;
        if (s->watch) s->watch->prev = sc;
        s->watch = sc;
        pthread_mutex_unlock(&s->watch_lock);
    } else if (sc) {
        /* Unlinked before libmicrohttpd closes the descriptor, so the watchdog never shuts a
         * descriptor number that a new connection got. */
        pthread_mutex_lock(&s->watch_lock);
        if (sc->prev) sc->prev->next = sc->next;
        if (sc->next) sc->next->prev = sc->prev;
        if (s->watch == sc) s->watch = sc->next;
        pthread_mutex_unlock(&s->watch_lock);
        free(sc);
        *socket_context = NULL;
    }
}

void *http_watchdog_main(void *arg)
{
    struct server *s = arg;
    static const char late[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                               "Content-Type: text/plain\r\nContent-Length: 36\r\n\r\n"
                               "request not received in time, closed";
    for (;;) {
        struct timespec tick = {0, 200 * 1000000L};
        nanosleep(&tick, NULL);
        const struct config *cfg = __atomic_load_n(&s->cfg, __ATOMIC_ACQUIRE);
        double head = cfg->limits.header_seconds, body = cfg->limits.body_seconds;
        pthread_mutex_lock(&s->watch_lock);
        if (s->watchdog_stop) {
            pthread_mutex_unlock(&s->watch_lock);
            return NULL;
        }
        for (struct sock_ctx *sc = s->watch; sc; sc = sc->next) {
            if (sc->cut || sc->fd < 0 || sc->state == SOCK_BUSY) continue;
            int is_body = sc->state == SOCK_BODY;
            if (http_elapsed(&sc->since) < (is_body ? body : head)) continue;
            if (is_body || sc->got_line)
                (void)!send(sc->fd, late, sizeof late - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            shutdown(sc->fd, SHUT_RDWR);
            sc->cut = is_body ? 2 : 1;
            metrics_conn_cut(is_body);
        }
        pthread_mutex_unlock(&s->watch_lock);
    }
}

void http_watchdog_stop(struct server *s)
{
    if (!s->watchdog_started) return;
    pthread_mutex_lock(&s->watch_lock);
    s->watchdog_stop = 1;
    pthread_mutex_unlock(&s->watch_lock);
    pthread_join(s->watchdog, NULL);
    s->watchdog_started = 0;
}
