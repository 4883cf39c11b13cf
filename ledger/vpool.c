#include "vpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define CHUNK 8

struct ledger_vbatch {
    const ledger_vjob *jobs;
    uint8_t *ok;
    size_t n;
    _Atomic size_t next;      /* first unclaimed job */
    _Atomic size_t done;      /* jobs finished */
    _Atomic size_t failed;
    int workers_in;           /* workers inside this batch (under pool lock) */
    struct ledger_vbatch *qnext;
};

struct ledger_vpool {
    pthread_mutex_t mu;
    pthread_cond_t work;      /* a batch was queued, or stop */
    pthread_cond_t idle;      /* a worker left a batch */
    ledger_vbatch *head, *tail;
    int stop;
    unsigned nthreads;
    pthread_t *threads;
};

/* Claim and verify chunks until none is left. */
static void run_batch(ledger_vbatch *b)
{
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, CHUNK);
        if (i >= b->n)
            return;
        size_t end = i + CHUNK < b->n ? i + CHUNK : b->n;
        size_t bad = 0;
        for (size_t k = i; k < end; k++) {
            const ledger_vjob *j = &b->jobs[k];
            int v = ledger_verify(j->pk, j->msg, 32, j->sig);
            b->ok[k] = (uint8_t)v;
            bad += !v;
        }
        if (bad)
            atomic_fetch_add(&b->failed, bad);
        atomic_fetch_add(&b->done, end - i);
    }
}

static void *worker(void *arg)
{
    ledger_vpool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->head == NULL)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        ledger_vbatch *b = p->head;
        /* a fully claimed batch leaves the queue; its waiter finishes it */
        if (atomic_load(&b->next) >= b->n) {
            p->head = b->qnext;
            if (p->head == NULL)
                p->tail = NULL;
            continue;
        }
        b->workers_in++;
        pthread_mutex_unlock(&p->mu);
        run_batch(b);
        pthread_mutex_lock(&p->mu);
        b->workers_in--;
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ledger_vpool *ledger_vpool_new(unsigned threads)
{
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 1 ? (unsigned)cores - 1 : 1;
    }
    ledger_vpool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->threads = calloc(threads, sizeof *p->threads);
    if (p->threads == NULL) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            break;
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        ledger_vpool_free(p);
        return NULL;
    }
    return p;
}

void ledger_vpool_free(ledger_vpool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

unsigned ledger_vpool_threads(const ledger_vpool *p)
{
    return p->nthreads;
}

typedef struct {
    ledger_vpool *p;
    ledger_vbatch b;
} batch_box;

ledger_vbatch *ledger_vpool_submit(ledger_vpool *p, const ledger_vjob *jobs, size_t n,
                                   uint8_t *ok)
{
    batch_box *box = calloc(1, sizeof *box);
    if (box == NULL)
        return NULL;
    box->p = p;
    ledger_vbatch *b = &box->b;
    b->jobs = jobs;
    b->ok = ok;
    b->n = n;
    atomic_init(&b->next, 0);
    atomic_init(&b->done, 0);
    atomic_init(&b->failed, 0);
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->qnext = b;
    else
        p->head = b;
    p->tail = b;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    return b;
}

size_t ledger_vbatch_wait(ledger_vbatch *b)
{
    batch_box *box = (batch_box *)((char *)b - offsetof(batch_box, b));
    ledger_vpool *p = box->p;
    run_batch(b);
    pthread_mutex_lock(&p->mu);
    /* unlink it if still queued, then wait for workers still inside it */
    ledger_vbatch **pp = &p->head, *prev = NULL;
    while (*pp && *pp != b) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp == b) {
        *pp = b->qnext;
        if (p->tail == b)
            p->tail = prev;
    }
    while (b->workers_in > 0 || atomic_load(&b->done) < b->n)
        pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
    size_t failed = atomic_load(&b->failed);
    free(box);
    return failed;
}

size_t ledger_vpool_verify(ledger_vpool *p, const ledger_vjob *jobs, size_t n, uint8_t *ok)
{
    ledger_vbatch *b = ledger_vpool_submit(p, jobs, n, ok);
    if (b == NULL) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            ok[i] = (uint8_t)ledger_verify(jobs[i].pk, jobs[i].msg, 32, jobs[i].sig);
            bad += !ok[i];
        }
        return bad;
    }
    return ledger_vbatch_wait(b);
}
