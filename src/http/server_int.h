/* SPDX-License-Identifier: MIT */
/* server_int.h: what the files of the HTTP server share (server.c: the server's life and each
 * request's way through it; pool.c: the render pool; watchdog.c: the connection watchdog):
 * struct server, the per-connection and per-request records, and the functions they call across
 * files. Nothing outside src/http/ includes it: services see struct request and struct response
 * only (core/request.h), and a request's worker (core/worker.h). */
#ifndef SPP_HTTP_SERVER_INT_H
#define SPP_HTTP_SERVER_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <time.h>

#include "../core/worker.h"
#include "http.h"

/* One reading of the settings: what requests see (the start-up config with the file's reloadable
 * settings) and the file as read, which owns the strings cfg borrows. Freed at exit only. */
struct cfg_gen {
    struct config cfg;
    struct config file;
    struct cfg_gen *prev;
};

/* The running server: its settings (each generation since start-up; the catalog is part of
 * them), the listener's port, the workers and their checkout, the render pool, the connection
 * watchdog and the tile cache. One per http_serve(). Still process-wide, not here yet: the
 * styles (render/'s registry, loaded before serving), the metrics (metrics.c) and the rate-limit
 * buckets (ratelimit.c). */
struct server {
    const struct config *base; /* the start-up config (main's) */
    const struct config *cfg;  /* the current generation; read with __atomic_load_n */
    struct cfg_gen *gens;
    const struct config *last_file; /* the settings file as last read, NULL without one */
    int log_format_pinned;          /* the command line chose log_format: SIGHUP keeps it */
    struct worker *workers; /* the libmicrohttpd threads', the render threads', the helpers' */
    int n_workers;          /* opened (of n_cheap + render_threads + n_helpers) */
    /* Helper threads for a request's independent parts (core/par.h: a vector tile's layers),
     * each with its own worker (workers[n_cheap + render_threads + i]). */
    int n_helpers;
    struct par *par;
    struct tile_cache *tiles;
    pthread_mutex_t lock;
    pthread_cond_t freed;  /* a worker was checked in */
    pthread_cond_t phased; /* the phase left HTTP_STARTING */
    int inflight;          /* requests being handled (max_concurrent) */
    int active;            /* requests from request line to completion (drain waits for 0) */
    int port;              /* the port bound (links without public_url) */
    /* The render pool (issue 18): heavy requests wait in a FIFO for one of n_render threads,
     * each with its own worker (workers[n_workers_cheap + i]), so they never hold the
     * libmicrohttpd threads or the workers that cheap requests use. */
    int n_cheap; /* workers[0 .. n_cheap): the libmicrohttpd threads' */
    pthread_t *render_threads;
    int n_render; /* threads started */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct conn *queue_head, *queue_tail;
    int queued;  /* waiting in the queue */
    int running; /* taken by a render thread */
    int pool_stopping;
    /* The connection watchdog (issue 18): every open connection, with the deadline of the
     * part it is reading; a thread shuts those past it. */
    pthread_mutex_t watch_lock;
    struct sock_ctx *watch;
    pthread_t watchdog;
    int watchdog_started, watchdog_stop;
};

enum sock_state {
    SOCK_HEAD, /* waiting for a request head: from accept, or from the end of the last answer */
    SOCK_BODY, /* the head arrived, the body is being read */
    SOCK_BUSY  /* the request is being handled or answered: no deadline here */
};

/* Per TCP connection: when it was accepted, how many requests it carried, and what the
 * watchdog needs. Fields below n_requests are guarded by server.watch_lock. */
struct sock_ctx {
    struct timespec accepted;
    int n_requests;
    int fd;
    enum sock_state state;
    struct timespec since; /* when state began */
    int got_line;          /* a request line arrived in SOCK_HEAD (a 408 is owed, not silence) */
    int cut;               /* 1: shut for a late head, 2: for a late body */
    struct sock_ctx *prev, *next;
};

/* Per request, from its request line (URI log callback) to its completion. */
struct conn {
    struct buf body;
    int too_big;
    int started;              /* the access handler has seen it */
    int answered;             /* a response was queued */
    struct timespec start;    /* the request line */
    struct timespec queued;   /* where its wait for a worker starts (note_queued) */
    double wall;              /* Unix time of the request line */
    const struct config *cfg; /* the settings generation the request runs with */
    char *uri;                /* the request target as sent */
    char method[16], protocol[16];
    char client[48];
    char peer[48]; /* the socket peer's address (client may be X-Forwarded-For's) */
    char *referer, *user_agent;
    int route, status;
    uint64_t bytes;
    int64_t key_id;
    enum role role;
    char reason[256];
    /* A request handed to the render pool keeps its state here while its connection is
     * suspended (the headers and the URL stay in libmicrohttpd's memory meanwhile). */
    struct MHD_Connection *mhd;
    struct request req;
    struct response res;
    struct err err;
    struct kv *args;
    int n_args;
    int counted;       /* holds one of s->inflight */
    int job;           /* JOB_NONE, JOB_QUEUED, JOB_DONE */
    struct conn *next; /* in the render queue */
};

enum { JOB_NONE, JOB_QUEUED, JOB_DONE };

/* server.c */
double http_elapsed(const struct timespec *start); /* seconds since start (monotonic) */

/* watchdog.c: the connection watchdog (issue 18). */
struct sock_ctx *http_sock_of(struct MHD_Connection *c);
void http_watch_state(struct server *s, struct sock_ctx *sc, enum sock_state st);
/* MHD_OPTION_NOTIFY_CONNECTION: links each connection into s->watch, and out when it closes. */
void http_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe);
void *http_watchdog_main(void *arg); /* the thread: arg is the struct server */
void http_watchdog_stop(struct server *s);

/* pool.c: the render pool (issue 18). */
/* 1 for requests known from their URL to be heavy (maps, big exports). */
int http_heavy_request(const struct request *req, const struct limits *l);
/* Answers cn 503 in its route's form: queue full (0) or past its time budget (1). */
void http_refuse_heavy(struct conn *cn, int over_budget);
/* Queues cn and suspends its connection; 0 when the queue is full. */
int http_enqueue(struct server *s, struct conn *cn, struct MHD_Connection *c);
/* Starts n render threads, each with workers[n_cheap + i]. ERR_NOMEM, ERR_INTERNAL. */
int http_pool_start(struct server *s, int n, struct err *err);
/* Answers the queued requests 503, lets running ones finish, joins the threads. */
void http_pool_stop(struct server *s);

#endif
