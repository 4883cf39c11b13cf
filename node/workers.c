#include "workers.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

typedef struct job {
    node_job_fn fn;
    void *arg;
    struct job *next;
} job;

struct node_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t idle;
    unsigned running;
    job *head, *tail;
    size_t queued, max_queue;
    int stop;
    unsigned n;
    pthread_t *threads;
};

static void *run(void *arg)
{
    node_workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->head == NULL)
            break;
        job *j = w->head;
        w->head = j->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        w->running++;
        pthread_mutex_unlock(&w->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&w->mu);
        if (--w->running == 0 && w->head == NULL)
            pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

node_workers *node_workers_new(unsigned threads, size_t max_queue)
{
    if (threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (unsigned)c : 1;
    }
    node_workers *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->threads = calloc(threads, sizeof *w->threads);
    if (w->threads == NULL) {
        free(w);
        return NULL;
    }
    w->max_queue = max_queue;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->idle, NULL);
    for (unsigned i = 0; i < threads; i++) {
        int rc = pthread_create(&w->threads[i], NULL, run, w);
        if (rc != 0) {
            LOG_WARN("workers: cannot start thread %u of %u: %s", i + 1, threads, strerror(rc));
            break;
        }
        w->n++;
    }
    if (w->n == 0) {
        node_workers_free(w);
        return NULL;
    }
    return w;
}

int node_workers_submit(node_workers *w, node_job_fn fn, void *arg)
{
    job *j = malloc(sizeof *j);
    if (j == NULL)
        return -1;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->queued >= w->max_queue || w->stop) {
        pthread_mutex_unlock(&w->mu);
        free(j);
        return -1;
    }
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    w->queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

size_t node_workers_queued(node_workers *w)
{
    pthread_mutex_lock(&w->mu);
    size_t q = w->queued;
    pthread_mutex_unlock(&w->mu);
    return q;
}

int node_workers_wait_idle(node_workers *w, uint64_t timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    while ((w->head || w->running) && rc == 0)
        rc = pthread_cond_timedwait(&w->idle, &w->mu, &until);
    int idle = w->head == NULL && w->running == 0;
    pthread_mutex_unlock(&w->mu);
    return idle ? 0 : -1;
}

void node_workers_free(node_workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->idle);
    pthread_mutex_destroy(&w->mu);
    free(w->threads);
    free(w);
}
