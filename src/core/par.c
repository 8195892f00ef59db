/* SPDX-License-Identifier: MIT */
/* par.c: helper threads for the independent parts of one request (par.h). One lock guards the
 * list of running jobs and each job's counters; a part is claimed under it (a job has a handful
 * of parts, each milliseconds of work: the lock is never the cost). */
#include "par.h"

#include <pthread.h>
#include <stdlib.h>

#include "worker.h"

struct job {
    par_fn fn;
    void *ud;
    int n;       /* parts */
    int next;    /* the next part nobody has started */
    int helping; /* parts a helper is running */
    struct job *link;
};

struct helper {
    struct par *p;
    struct worker *w;
    pthread_t t;
};

struct par {
    pthread_mutex_t lock;
    pthread_cond_t work;     /* a job with parts not started, or stopping */
    pthread_cond_t finished; /* a helper finished a part */
    struct job *jobs;        /* jobs with parts not started */
    int idle;                /* helpers waiting for work */
    int stopping;
    int n; /* helpers started */
    struct helper *h;
};

/* The first job with a part not started, taken off the list once its last part is claimed; its
 * part in *i. Under the lock. */
static struct job *claim(struct par *p, int *i)
{
    struct job **pj = &p->jobs;
    while (*pj && (*pj)->next >= (*pj)->n)
        *pj = (*pj)->link; /* all claimed (by its own thread) */
    struct job *j = *pj;
    if (!j) return NULL;
    *i = j->next++;
    if (j->next >= j->n) *pj = j->link;
    return j;
}

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    struct par *p = h->p;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        int i;
        struct job *j = claim(p, &i);
        if (!j) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->lock);
            p->idle--;
            continue;
        }
        j->helping++;
        pthread_mutex_unlock(&p->lock);
        j->fn(j->ud, i, h->w);
        pthread_mutex_lock(&p->lock);
        if (--j->helping == 0) pthread_cond_broadcast(&p->finished); /* j may go from here on */
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void par_stop(struct par *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int k = 0; k < p->n; k++)
        pthread_join(p->h[k].t, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->finished);
    free(p->h);
    free(p);
}

int par_start(struct worker *workers, int n, struct par **out, struct err *err)
{
    *out = NULL;
    if (n <= 0) return 0;
    struct par *p = calloc(1, sizeof *p);
    if (!p || !(p->h = calloc((size_t)n, sizeof *p->h))) {
        free(p);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->finished, NULL);
    for (int k = 0; k < n; k++) {
        p->h[k] = (struct helper){p, &workers[k], 0};
        if (pthread_create(&p->h[k].t, NULL, helper_main, &p->h[k])) {
            par_stop(p);
            return err_set(err, ERR_INTERNAL, "cannot start layer thread %d", k + 1);
        }
        p->n = k + 1;
    }
    *out = p;
    return 0;
}

int par_size(const struct par *p)
{
    return p ? p->n : 0;
}

int par_idle(struct par *p)
{
    if (!p) return 0;
    pthread_mutex_lock(&p->lock);
    int n = p->stopping ? 0 : p->idle;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void par_run(struct par *p, int n, par_fn fn, void *ud, struct worker *self)
{
    struct job j = {fn, ud, n, 0, 0, NULL};
    int offered = 0;
    if (p && n > 1) {
        pthread_mutex_lock(&p->lock);
        if (p->idle > 0 && !p->stopping) { /* none idle: the parts run here, in order */
            j.link = p->jobs;
            p->jobs = &j;
            offered = 1;
            for (int k = 0; k < p->idle && k < n - 1; k++)
                pthread_cond_signal(&p->work);
        }
        pthread_mutex_unlock(&p->lock);
    }
    if (!offered) {
        for (int i = 0; i < n; i++)
            fn(ud, i, self);
        return;
    }
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int i = j.next;
        if (i >= n) break; /* the lock is held */
        j.next++;
        pthread_mutex_unlock(&p->lock);
        fn(ud, i, self);
    }
    /* every part claimed: off the list (a helper that claimed the last one took it off) */
    for (struct job **pj = &p->jobs; *pj; pj = &(*pj)->link)
        if (*pj == &j) {
            *pj = j.link;
            break;
        }
    while (j.helping > 0)
        pthread_cond_wait(&p->finished, &p->lock);
    pthread_mutex_unlock(&p->lock);
}
