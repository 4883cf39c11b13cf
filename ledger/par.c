/* ledger/par.c: jobs spread over a worker queue and the caller (par.h).
 *
 * A run lives on the heap with a reference for the caller and one per
 * helper on the queue: a helper that starts after the caller has finished
 * every job finds none to claim, drops its reference, and the last one out
 * frees the run.  So the caller waits only for jobs being run, never for a
 * helper still queued behind other work. */
#include "par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define MAX_THREADS 8

struct ledger_par {
    ledger_par_fn fn;
    void *ctx;
    size_t n;
    _Atomic uint64_t *cpu_ns;  /* where helpers add their CPU time, or NULL */
    _Atomic size_t next;       /* first unclaimed job */
    _Atomic size_t done;       /* jobs finished */
    _Atomic unsigned refs;     /* the caller, and each helper not yet returned */
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* the last job finished */
    int complete;
};

static _Atomic uint64_t helper_cpu;

uint64_t ledger_par_helper_cpu_ns(void)
{
    return atomic_load(&helper_cpu);
}

unsigned ledger_par_threads(void)
{
    unsigned c = ledger_workq_cores();
    return c > MAX_THREADS ? MAX_THREADS : c;
}

ledger_workq *ledger_par_helpers_new(ledger_err *err)
{
    unsigned t = ledger_par_threads();
    ledger_err_clear(err);
    if (t < 2)
        return NULL;
    /* a run queues at most t - 1 helpers; room for a few runs' late ones */
    return ledger_workq_new("parallel hashing", t - 1, 4 * (size_t)(t - 1), err);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void release(ledger_par *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Claim and run jobs until none is left; the one that finishes the last
 * job wakes the caller. */
static void claim(ledger_par *p, int helper)
{
    int timed = helper && p->cpu_ns != NULL;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            return;
        uint64_t t0 = timed ? thread_cpu_ns() : 0;
        p->fn(p->ctx, i);
        if (timed)
            atomic_fetch_add(p->cpu_ns, thread_cpu_ns() - t0);
        if (atomic_fetch_add(&p->done, 1) + 1 == p->n) {
            pthread_mutex_lock(&p->mu);
            p->complete = 1;
            pthread_cond_broadcast(&p->cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void help(void *arg)
{
    ledger_par *p = arg;
    claim(p, 1);
    release(p);
}

ledger_par *ledger_par_start(ledger_workq *q, size_t n, ledger_par_fn fn, void *ctx,
                             unsigned threads, _Atomic uint64_t *cpu_ns)
{
    ledger_par *p = malloc(sizeof *p);
    if (p == NULL)
        return NULL;
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->cpu_ns = cpu_ns;
    atomic_init(&p->next, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->complete = n == 0;
    if (threads == 0)
        threads = ledger_par_threads();
    size_t helpers = threads - 1;
    if (helpers > n - (n > 0))
        helpers = n - (n > 0); /* the caller takes one job at least */
    if (q == NULL)
        helpers = 0;
    else if (helpers > ledger_workq_threads(q))
        helpers = ledger_workq_threads(q);
    for (size_t h = 0; h < helpers; h++) {
        atomic_fetch_add(&p->refs, 1);
        if (ledger_workq_submit(q, help, p) != 0) {
            atomic_fetch_sub(&p->refs, 1); /* full: the caller does more itself */
            break;
        }
    }
    return p;
}

void ledger_par_finish(ledger_par *p)
{
    claim(p, 0);
    pthread_mutex_lock(&p->mu);
    while (!p->complete)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    release(p);
}

void ledger_par_run(ledger_workq *q, size_t n, ledger_par_fn fn, void *ctx, unsigned threads)
{
    ledger_par *p = NULL;
    if (q != NULL && threads != 1 && n > 1)
        p = ledger_par_start(q, n, fn, ctx, threads, &helper_cpu);
    if (p == NULL) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    ledger_par_finish(p);
}
