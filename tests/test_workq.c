/* ledger/workq.c, par.c and vpool.c: the bounded worker queue, jobs spread
 * over it, and signature batches.  No test here depends on timing: jobs
 * that must hold a thread wait on a gate the test opens. */
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/keys.h"
#include "ledger/par.h"
#include "ledger/vpool.h"
#include "ledger/workq.h"

/* ---- a gate a job waits on until the test opens it ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open, waiting;
} gate;

static void gate_init(gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = g->waiting = 0;
}

static void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* A job: wait until the gate opens. */
static void gate_wait(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->waiting++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Until a job waits at the gate: its thread is taken. */
static void gate_until_waiting(gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->waiting == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* A queue of `threads` threads and room for max_queued jobs, with `held`
 * jobs waiting at the (new) gate g in front of whatever comes next. */
static ledger_workq *queue_behind_gate(unsigned threads, size_t max_queued, gate *g,
                                       unsigned held)
{
    ledger_workq *q = ledger_workq_new("test", threads, max_queued, NULL);
    assert_non_null(q);
    gate_init(g);
    for (unsigned i = 0; i < held; i++)
        assert_int_equal(ledger_workq_submit(q, gate_wait, g), 0);
    return q;
}

/* ---- jobs that record that they ran ---- */

typedef struct {
    _Atomic size_t n;
    size_t order[256];
} runs;

typedef struct {
    runs *r;
    size_t id;
} mark_arg;

static void mark(void *arg)
{
    mark_arg *m = arg;
    size_t k = atomic_fetch_add(&m->r->n, 1);
    if (k < 256)
        m->r->order[k] = m->id;
}

static void test_jobs_start_in_submission_order(void **state)
{
    (void)state;
    ledger_err err;
    ledger_workq *q = ledger_workq_new("test", 1, 1000, &err);
    assert_non_null(q);
    assert_int_equal(err.code, LEDGER_OK);
    assert_int_equal(ledger_workq_threads(q), 1);
    runs r = {0};
    mark_arg a[200];
    for (size_t i = 0; i < 200; i++) {
        a[i] = (mark_arg){&r, i};
        assert_int_equal(ledger_workq_submit(q, mark, &a[i]), 0);
    }
    assert_int_equal(ledger_workq_wait_idle(q, LEDGER_WORKQ_FOREVER), 0);
    assert_int_equal(atomic_load(&r.n), 200);
    for (size_t i = 0; i < 200; i++)
        assert_int_equal(r.order[i], i);
    ledger_workq_free(q);
}

static void test_a_full_queue_refuses_and_runs_what_it_took(void **state)
{
    (void)state;
    gate g;
    ledger_workq *q = queue_behind_gate(1, 3, &g, 1);
    gate_until_waiting(&g); /* running: no longer queued */
    runs r = {0};
    mark_arg a[4];
    for (size_t i = 0; i < 4; i++)
        a[i] = (mark_arg){&r, i};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(ledger_workq_submit(q, mark, &a[i]), 0);
    assert_int_equal(ledger_workq_queued(q), 3);
    assert_int_equal(ledger_workq_submit(q, mark, &a[3]), -1);
    gate_open(&g);
    assert_int_equal(ledger_workq_wait_idle(q, LEDGER_WORKQ_FOREVER), 0);
    assert_int_equal(atomic_load(&r.n), 3);
    assert_int_equal(ledger_workq_queued(q), 0);
    /* room again */
    assert_int_equal(ledger_workq_submit(q, mark, &a[3]), 0);
    ledger_workq_free(q);
    assert_int_equal(atomic_load(&r.n), 4);
    gate_destroy(&g);
}

static void test_a_queue_of_no_room_refuses_every_job(void **state)
{
    (void)state;
    ledger_workq *q = ledger_workq_new("test", 2, 0, NULL);
    assert_non_null(q);
    runs r = {0};
    mark_arg a = {&r, 0};
    assert_int_equal(ledger_workq_submit(q, mark, &a), -1);
    assert_int_equal(ledger_workq_wait_idle(q, 0), 0);
    ledger_workq_free(q);
    assert_int_equal(atomic_load(&r.n), 0);
}

static void test_no_threads_is_refused(void **state)
{
    (void)state;
    ledger_err err;
    assert_null(ledger_workq_new("test", 0, 10, &err));
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    assert_non_null(strstr(err.msg, "test"));
}

static void test_wait_idle_times_out_while_a_job_runs(void **state)
{
    (void)state;
    gate g;
    ledger_workq *q = queue_behind_gate(2, 10, &g, 1);
    assert_int_equal(ledger_workq_wait_idle(q, 0), -1);
    assert_int_equal(ledger_workq_wait_idle(q, 20), -1);
    gate_open(&g);
    assert_int_equal(ledger_workq_wait_idle(q, LEDGER_WORKQ_FOREVER), 0);
    ledger_workq_free(q);
    gate_destroy(&g);
}

static void noop(void *arg)
{
    (void)arg;
}

typedef struct {
    ledger_workq *q;
    gate *g;
} opener;

/* Open the gate once the queue refuses jobs: shutdown has begun, with every
 * job still queued behind the gate. */
static void *open_at_shutdown(void *arg)
{
    opener *o = arg;
    while (ledger_workq_submit(o->q, noop, NULL) == 0)
        sched_yield();
    gate_open(o->g);
    return NULL;
}

static void test_shutdown_runs_every_queued_job(void **state)
{
    (void)state;
    gate g;
    ledger_workq *q = queue_behind_gate(1, SIZE_MAX, &g, 1);
    runs r = {0};
    mark_arg a[100];
    for (size_t i = 0; i < 100; i++) {
        a[i] = (mark_arg){&r, i};
        assert_int_equal(ledger_workq_submit(q, mark, &a[i]), 0); /* the ring grows */
    }
    pthread_t t;
    opener o = {q, &g};
    assert_int_equal(pthread_create(&t, NULL, open_at_shutdown, &o), 0);
    ledger_workq_free(q);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&r.n), 100);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(r.order[i], i);
    gate_destroy(&g);
}

/* ---- par ---- */

typedef struct {
    _Atomic unsigned *seen;
} par_ctx;

static void count(void *ctx, size_t i)
{
    par_ctx *c = ctx;
    atomic_fetch_add(&c->seen[i], 1);
}

static void assert_each_once(_Atomic unsigned *seen, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(atomic_load(&seen[i]), 1);
}

static void test_par_runs_every_job_once(void **state)
{
    (void)state;
    ledger_workq *q = ledger_workq_new("test", 3, 64, NULL);
    assert_non_null(q);
    enum { N = 10000 };
    _Atomic unsigned *seen = calloc(N, sizeof *seen);
    assert_non_null(seen);
    par_ctx c = {seen};
    for (unsigned threads = 0; threads <= 5; threads++) {
        memset(seen, 0, N * sizeof *seen);
        ledger_par_run(q, N, count, &c, threads);
        assert_each_once(seen, N);
    }
    /* no queue, and no jobs */
    memset(seen, 0, N * sizeof *seen);
    ledger_par_run(NULL, N, count, &c, 0);
    assert_each_once(seen, N);
    ledger_par_run(q, 0, count, &c, 0);
    ledger_workq_free(q);
    free(seen);
}

/* Helpers stuck behind other work do not hold the caller up: it runs every
 * job itself, and the helpers that start later find none (their run
 * outlives the caller's context safely). */
static void test_par_does_not_wait_for_helpers_that_have_not_started(void **state)
{
    (void)state;
    gate g;
    ledger_workq *q = queue_behind_gate(2, 64, &g, 2);
    enum { N = 100 };
    _Atomic unsigned *seen = calloc(N, sizeof *seen);
    assert_non_null(seen);
    par_ctx c = {seen};
    ledger_par_run(q, N, count, &c, 0);
    assert_each_once(seen, N);
    free(seen); /* the helpers still queued must not touch it */
    gate_open(&g);
    ledger_workq_free(q);
    gate_destroy(&g);
}

/* Wait at the gate, then hash for a while. */
static void gate_then_work(void *ctx, size_t i)
{
    (void)i;
    gate_wait(ctx);
    uint8_t h[32] = {0};
    for (int k = 0; k < 20000; k++)
        ledger_sha256(h, sizeof h, h);
}

static void test_par_helpers_count_their_cpu_time(void **state)
{
    (void)state;
    gate g;
    ledger_workq *q = queue_behind_gate(1, 8, &g, 0);
    _Atomic uint64_t cpu = 0;
    /* two jobs; the helper takes one before the caller starts on the rest,
     * so it certainly runs one */
    ledger_par *p = ledger_par_start(q, 2, gate_then_work, &g, 2, &cpu);
    assert_non_null(p);
    gate_until_waiting(&g);
    gate_open(&g);
    ledger_par_finish(p);
    assert_true(atomic_load(&cpu) > 0);
    ledger_workq_free(q);
    gate_destroy(&g);
}

/* ---- vpool ---- */

static void test_vpool_verifies_every_signature_and_counts_the_bad(void **state)
{
    (void)state;
    ledger_err err;
    ledger_workq *q = ledger_vpool_new(&err);
    assert_non_null(q);
    enum { N = 301 };
    ledger_keypair kp;
    assert_int_equal(ledger_keygen(&kp, &err), 0);
    ledger_pubkey pk;
    assert_int_equal(ledger_pubkey_parse(&pk, kp.pub), 0);
    uint8_t (*msg)[32] = calloc(N, 32), (*sig)[64] = calloc(N, 64);
    ledger_vjob *jobs = calloc(N, sizeof *jobs);
    uint8_t *ok = calloc(N, 1);
    assert_true(msg && sig && jobs && ok);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        ledger_sha256(&i, sizeof i, msg[i]);
        assert_int_equal(ledger_sign(&kp, msg[i], NULL, sig[i]), 0);
        if (i % 7 == 3) {
            sig[i][5] ^= 1;
            bad++;
        }
        jobs[i] = (ledger_vjob){&pk, msg[i], sig[i]};
    }
    ledger_vbatch *b1 = ledger_vpool_submit(q, jobs, 150, ok);
    ledger_vbatch *b2 = ledger_vpool_submit(q, jobs + 150, N - 150, ok + 150);
    assert_non_null(b1);
    assert_non_null(b2);
    size_t got = ledger_vbatch_wait(b2) + ledger_vbatch_wait(b1);
    assert_int_equal(got, bad);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(ok[i], i % 7 != 3);
    /* without a queue the waiter verifies them all */
    memset(ok, 0, N);
    ledger_vbatch *b = ledger_vpool_submit(NULL, jobs, N, ok);
    assert_non_null(b);
    assert_int_equal(ledger_vbatch_wait(b), bad);
    ledger_workq_free(q);
    free(msg);
    free(sig);
    free(jobs);
    free(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_start_in_submission_order),
        cmocka_unit_test(test_a_full_queue_refuses_and_runs_what_it_took),
        cmocka_unit_test(test_a_queue_of_no_room_refuses_every_job),
        cmocka_unit_test(test_no_threads_is_refused),
        cmocka_unit_test(test_wait_idle_times_out_while_a_job_runs),
        cmocka_unit_test(test_shutdown_runs_every_queued_job),
        cmocka_unit_test(test_par_runs_every_job_once),
        cmocka_unit_test(test_par_does_not_wait_for_helpers_that_have_not_started),
        cmocka_unit_test(test_par_helpers_count_their_cpu_time),
        cmocka_unit_test(test_vpool_verifies_every_signature_and_counts_the_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
