/* ledger/par.c: ledger_par_run (par.h). */
#include "par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 8

typedef struct {
    void (*fn)(void *, size_t);
    void *ctx;
    size_t n;
    _Atomic size_t next;
} par_job;

static _Atomic uint64_t helper_cpu;

uint64_t ledger_par_helper_cpu_ns(void)
{
    return atomic_load(&helper_cpu);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *helper(void *arg);

static void *worker(void *arg)
{
    par_job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            break;
        j->fn(j->ctx, i);
    }
    return NULL;
}

static void *helper(void *arg)
{
    uint64_t t0 = thread_cpu_ns();
    worker(arg);
    atomic_fetch_add(&helper_cpu, thread_cpu_ns() - t0);
    return NULL;
}

unsigned ledger_par_threads(void)
{
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    if (c < 1)
        c = 1;
    return c > MAX_THREADS ? MAX_THREADS : (unsigned)c;
}

void ledger_par_run(size_t n, void (*fn)(void *ctx, size_t i), void *ctx, unsigned threads)
{
    par_job j;
    j.fn = fn;
    j.ctx = ctx;
    j.n = n;
    atomic_init(&j.next, 0);
    if (threads == 0)
        threads = ledger_par_threads();
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    if ((size_t)threads > n)
        threads = (unsigned)(n ? n : 1);
    pthread_t th[MAX_THREADS];
    unsigned started = 0;
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&th[started], NULL, helper, &j) != 0)
            break;
        started++;
    }
    worker(&j);
    for (unsigned t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}
