/* ledger/workq.c: the bounded worker queue (workq.h).
 *
 * One mutex guards a ring of waiting jobs, the count of running ones and the
 * stop flag.  Threads sleep on `work` until a job or the stop arrives;
 * waiters for idleness sleep on `idle`, signalled when the last running job
 * ends with nothing queued.  The ring grows by doubling up to max_queued,
 * so no job costs an allocation once the ring is as large as the queue has
 * been. */
#include "workq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The ring's first size: enough for the queues that hold a job or two. */
#define RING_MIN 16
/* A wait longer than this (139 years) has no limit: the deadline cannot
 * overflow. */
#define WAIT_MAX_MS (UINT64_C(1) << 42)

typedef struct {
    ledger_work_fn fn;
    void *arg;
} job;

struct ledger_workq {
    const char *name;
    pthread_mutex_t mu;
    pthread_cond_t work;      /* a job was queued, or stop */
    pthread_cond_t idle;      /* nothing queued and nothing running */
    job *ring;
    size_t cap, head, n;      /* n jobs from ring[head], wrapping at cap */
    size_t max_queued;
    unsigned running;
    int stop;
    unsigned n_threads;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    ledger_workq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->n == 0 && !q->stop)
            pthread_cond_wait(&q->work, &q->mu);
        if (q->n == 0)
            break; /* stopping, and everything queued has run */
        job j = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        q->running++;
        pthread_mutex_unlock(&q->mu);
        j.fn(j.arg);
        pthread_mutex_lock(&q->mu);
        if (--q->running == 0 && q->n == 0)
            pthread_cond_broadcast(&q->idle);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Make room for one more job (q->mu held): 0, or -1 out of memory. */
static int ring_grow(ledger_workq *q)
{
    size_t nc = q->cap * 2;
    if (nc > q->max_queued || nc < q->cap)
        nc = q->max_queued;
    job *nr = malloc(nc * sizeof *nr);
    if (nr == NULL)
        return -1;
    for (size_t i = 0; i < q->n; i++)
        nr[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = nr;
    q->cap = nc;
    q->head = 0;
    return 0;
}

ledger_workq *ledger_workq_new(const char *name, unsigned threads, size_t max_queued,
                               ledger_err *err)
{
    ledger_err_clear(err);
    if (threads == 0) {
        ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: a queue needs a thread", name);
        return NULL;
    }
    ledger_workq *q = calloc(1, sizeof *q);
    if (q == NULL)
        goto nomem;
    q->name = name;
    q->max_queued = max_queued;
    q->cap = max_queued < RING_MIN ? max_queued : RING_MIN;
    q->ring = q->cap > 0 ? malloc(q->cap * sizeof *q->ring) : NULL;
    q->threads = calloc(threads, sizeof *q->threads);
    if ((q->cap > 0 && q->ring == NULL) || q->threads == NULL) {
        free(q->ring);
        free(q->threads);
        free(q);
        goto nomem;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->idle, &ca);
    pthread_condattr_destroy(&ca);
    int first_rc = 0;
    unsigned failed = 0;
    for (unsigned i = 0; i < threads; i++) {
        int rc = pthread_create(&q->threads[q->n_threads], NULL, worker, q);
        if (rc != 0) {
            if (failed++ == 0)
                first_rc = rc;
            continue;
        }
        q->n_threads++;
    }
    if (failed > 0)
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "%s: %u of %u threads could not start: %s",
                    name, failed, threads, strerror(first_rc));
    if (q->n_threads == 0) {
        ledger_workq_free(q);
        return NULL;
    }
    return q;
nomem:
    ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "%s: out of memory", name);
    return NULL;
}

unsigned ledger_workq_cores(void)
{
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (unsigned)c : 1;
}

unsigned ledger_workq_threads(const ledger_workq *q)
{
    return q->n_threads;
}

int ledger_workq_submit(ledger_workq *q, ledger_work_fn fn, void *arg)
{
    int rc = -1;
    pthread_mutex_lock(&q->mu);
    if (q->stop || q->n >= q->max_queued)
        goto out;
    if (q->n == q->cap && ring_grow(q) != 0)
        goto out;
    q->ring[(q->head + q->n) % q->cap] = (job){fn, arg};
    q->n++;
    pthread_cond_signal(&q->work);
    rc = 0;
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

size_t ledger_workq_queued(ledger_workq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int ledger_workq_wait_idle(ledger_workq *q, uint64_t timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    int forever = timeout_ms > WAIT_MAX_MS;
    if (!forever) {
        until.tv_sec += (time_t)(timeout_ms / 1000);
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    while ((q->n > 0 || q->running > 0) && rc == 0) {
        if (forever)
            pthread_cond_wait(&q->idle, &q->mu);
        else
            rc = pthread_cond_timedwait(&q->idle, &q->mu, &until);
    }
    int idle = q->n == 0 && q->running == 0;
    pthread_mutex_unlock(&q->mu);
    return idle ? 0 : -1;
}

void ledger_workq_free(ledger_workq *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->mu);
    free(q->threads);
    free(q->ring);
    free(q);
}
