/* node/solo.c: block production for a single-validator chain (DESIGN §5,
 * n = 1, the development mode).  The loop thread decides when a block is
 * due (transactions waiting and the block interval passed, or the heartbeat
 * interval passed with none); an executor thread (a one-thread worker
 * queue) executes, signs and commits it, so RPC never waits behind a
 * block. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "events.h"
#include "ledger/block.h"
#include "ledger/gov.h"
#include "ledger/workq.h"
#include "log.h"
#include "node.h"

typedef struct solo solo;

typedef struct {
    solo *e;
    mp_tx **txs;
    size_t n;
    ledger_tx_result *res;
    ledger_err *errs;
    uint8_t *ok;
    uint64_t height;
    uint64_t exec_us;
    int failed;
    ledger_err fail_err;
} block_job;

struct solo {
    node_engine base;
    node *n;
    ledger_workq *executor;  /* one thread: the block being built */

    /* loop thread */
    int busy;                /* a job is out */
    int stopped;
    struct event *produce_ev, *heartbeat_ev;
    int produce_armed;
    uint64_t last_block_ms;
    unsigned failures;

    /* executor thread */
    ledger_commit last_cert;
    int have_cert;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- executor thread ---- */

static int sign_cert(solo *e, const ledger_header *h, ledger_commit *c)
{
    node *n = e->n;
    memset(c, 0, sizeof *c);
    c->height = h->height;
    c->round = 0;
    ledger_header_hash(h, c->block_hash);
    uint8_t msg[32];
    ledger_vote_sighash(n->g->chain_id, LEDGER_VOTE_PRECOMMIT, h->height, 0, c->block_hash, msg);
    c->n_sigs = 1;
    c->sigs[0].validator = (uint32_t)n->validator;
    return ledger_sign(&n->key, msg, NULL, c->sigs[0].sig);
}

static void build_block(solo *e, block_job *job)
{
    node *n = e->n;
    uint64_t t0 = mono_us();
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    uint64_t now = node_now_ms();
    ctx.time = now > tip.time ? now : tip.time + 1;
    memcpy(ctx.proposer, n->key.pub, 32);
    if (e->have_cert && e->last_cert.height == tip.height)
        ledger_commit_hash(&e->last_cert, ctx.last_commit_hash);
    ledger_exec *x = NULL;
    if (ledger_exec_begin(n->L, &ctx, &x, &job->fail_err) != 0) {
        job->failed = 1;
        return;
    }
    for (size_t i = 0; i < job->n; i++) {
        mp_tx *t = job->txs[i];
        if (ledger_exec_tx(x, t->env, t->len, LEDGER_SIG_TRUSTED, &job->res[i], &job->errs[i]) ==
            0) {
            job->ok[i] = 1;
        } else if (job->errs[i].code == LEDGER_ERR_IO || job->errs[i].code == LEDGER_ERR_NOMEM) {
            job->fail_err = job->errs[i];
            job->failed = 1;
            ledger_exec_free(x);
            return;
        }
    }
    ledger_header h;
    ledger_commit cert;
    if (ledger_exec_finish(x, &h, &job->fail_err) != 0 || sign_cert(e, &h, &cert) != 0 ||
        ledger_exec_commit(x, &cert, &job->fail_err) != 0) {
        if (job->fail_err.msg[0] == '\0')
            ledger_fail(&job->fail_err, LEDGER_ERR_IO, NULL, "signing the block failed");
        job->failed = 1;
        ledger_exec_free(x);
        return;
    }
    ledger_exec_free(x);
    e->last_cert = cert;
    e->have_cert = 1;
    job->height = h.height;
    job->exec_us = mono_us() - t0;
}

static void block_done(node *n, void *arg);
static void solo_free(node_engine *base);
static void solo_kick(node_engine *base);

/* The executor's job: build the block, then hand it to the loop. */
static void produce(void *arg)
{
    block_job *job = arg;
    build_block(job->e, job);
    node_post(job->e->n, block_done, job);
}

/* ---- loop thread ---- */

static void job_free(block_job *job)
{
    free(job->txs);
    free(job->res);
    free(job->errs);
    free(job->ok);
    free(job);
}

static void schedule(solo *e, uint64_t delay_ms)
{
    if (e->stopped || e->busy || e->produce_armed)
        return;
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
    if (evtimer_add(e->produce_ev, &tv) == 0) {
        e->produce_armed = 1;
    } else {
        LOG_ERROR("cannot arm the block timer (evtimer_add failed): stopping");
        node_stop(e->n);
    }
}

/* The parameters in force after the tip (governance's set_param). */
static ledger_params params_now(node *n)
{
    ledger_gov *gv = ledger_gov_acquire(n->L);
    ledger_params p = gv ? gv->m->params : n->g->params;
    ledger_gov_release(gv);
    return p;
}

static void start_block(solo *e, int allow_empty)
{
    node *n = e->n;
    size_t max = params_now(n).max_block_txs;
    block_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return;
    size_t waiting = node_mempool_waiting(n->mp);
    size_t want = waiting < max ? waiting : max;
    job->txs = calloc(want ? want : 1, sizeof *job->txs);
    job->res = calloc(want ? want : 1, sizeof *job->res);
    job->errs = calloc(want ? want : 1, sizeof *job->errs);
    job->ok = calloc(want ? want : 1, 1);
    if (!job->txs || !job->res || !job->errs || !job->ok) {
        job_free(job);
        return;
    }
    job->n = node_mempool_take(n->mp, job->txs, want);
    if (job->n == 0 && !allow_empty) {
        job_free(job);
        return;
    }
    job->e = e;
    /* one job at a time (busy), so the queue has room */
    if (ledger_workq_submit(e->executor, produce, job) != 0) {
        LOG_ERROR("block production: cannot queue the block; %zu transactions go back to the "
                  "mempool", job->n);
        for (size_t i = job->n; i > 0; i--)
            node_mempool_return(n->mp, job->txs[i - 1]->id);
        job_free(job);
        return;
    }
    e->busy = 1;
}

static void on_produce(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    solo *e = arg;
    e->produce_armed = 0;
    if (e->busy || e->stopped)
        return;
    start_block(e, 0);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    solo *e = arg;
    if (e->busy || e->stopped)
        return;
    if (node_now_ms() - e->last_block_ms >= params_now(e->n).heartbeat_ms)
        start_block(e, 1);
}

static void block_done(node *n, void *arg)
{
    block_job *job = arg;
    solo *e = (solo *)n->engine;
    if (e == NULL) {
        /* the engine is gone (a block that outlived the shutdown grace):
         * nobody waits for its answers any more */
        job_free(job);
        return;
    }
    e->busy = 0;
    if (job->failed) {
        e->failures++;
        LOG_ERROR("block production failed (%s); %zu transactions go back to the mempool",
                  job->fail_err.msg, job->n);
        for (size_t i = job->n; i > 0; i--)
            node_mempool_return(n->mp, job->txs[i - 1]->id);
        job_free(job);
        node_mempool_changed(n);
        /* back off: 100 ms doubling to 10 s */
        uint64_t d = 100u << (e->failures < 7 ? e->failures : 7);
        schedule(e, d > 10000 ? 10000 : d);
        return;
    }
    e->failures = 0;
    e->last_block_ms = node_now_ms();
    size_t refused = 0;
    for (size_t i = 0; i < job->n; i++) {
        uint8_t id[32];
        memcpy(id, job->txs[i]->id, 32);
        if (job->ok[i]) {
            node_tx_finished(n, id, &job->res[i], job->height, NULL);
        } else {
            refused++;
            LOG_DEBUG("block %llu: transaction refused: %s", (unsigned long long)job->height,
                      job->errs[i].msg);
            node_tx_finished(n, id, NULL, job->height, &job->errs[i]);
        }
        node_mempool_remove(n->mp, id);
    }
    node_metrics_block(&n->metrics, job->exec_us, job->n - refused, refused);
    if (job->n > 0 || node_log_enabled(NODE_LOG_DEBUG))
        LOG_INFO("block %llu: %zu transactions (%zu refused), %.1f ms",
                 (unsigned long long)job->height, job->n - refused, refused,
                 (double)job->exec_us / 1000.0);
    job_free(job);
    node_mempool_changed(n);
    node_events_committed(n);
    if (node_mempool_waiting(n->mp) > 0)
        solo_kick(&e->base);
}

static void solo_kick(node_engine *base)
{
    solo *e = (solo *)base;
    node *n = e->n;
    ledger_params p = params_now(n);
    uint64_t now = node_now_ms(), due = e->last_block_ms + p.block_interval_ms;
    uint64_t delay = due > now ? due - now : 0;
    if (node_mempool_waiting(n->mp) >= p.max_block_txs)
        delay = 0;
    schedule(e, delay);
}

static const node_engine_ops solo_ops;

node_engine *node_solo_new(node *n, ledger_err *err)
{
    if (n->validator != 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "config/node.key is not the validator key of this chain"),
               NULL;
    solo *e = calloc(1, sizeof *e);
    if (e == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory"), NULL;
    e->base.ops = &solo_ops;
    e->n = n;
    uint64_t h = ledger_height(n->L);
    if (h > 0) {
        ledger_err ce;
        if (ledger_get_commit(n->L, h, &e->last_cert, &ce) == 1)
            e->have_cert = 1;
    }
    e->produce_ev = evtimer_new(n->base, on_produce, e);
    e->heartbeat_ev = event_new(n->base, -1, EV_PERSIST, on_heartbeat, e);
    uint64_t hb = n->g->params.heartbeat_ms / 4;
    if (hb < 100)
        hb = 100;
    struct timeval tv = {(time_t)(hb / 1000), (suseconds_t)(hb % 1000) * 1000};
    ledger_err qerr;
    if (e->produce_ev == NULL || e->heartbeat_ev == NULL || event_add(e->heartbeat_ev, &tv) != 0 ||
        (e->executor = ledger_workq_new("block production", 1, 1, &qerr)) == NULL) {
        solo_free(&e->base);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "cannot start block production"), NULL;
    }
    e->last_block_ms = node_now_ms();
    LOG_INFO("engine: single validator (%s), block interval %llu ms, heartbeat %llu ms",
             n->g->departments[n->g->validators[0]].id,
             (unsigned long long)n->g->params.block_interval_ms,
             (unsigned long long)n->g->params.heartbeat_ms);
    return &e->base;
}

static void solo_stop(node_engine *base)
{
    solo *e = (solo *)base;
    if (e->stopped)
        return;
    e->stopped = 1;
    if (e->produce_ev)
        evtimer_del(e->produce_ev);
    if (e->heartbeat_ev)
        event_del(e->heartbeat_ev);
    /* wait for the block being written, within the grace period */
    uint64_t g = e->n->cfg.shutdown_grace_ms;
    if (e->executor && ledger_workq_wait_idle(e->executor, g) != 0)
        LOG_WARN("shutdown: the block in progress did not finish within %llu ms",
                 (unsigned long long)g);
}

static void solo_free(node_engine *base)
{
    solo *e = (solo *)base;
    ledger_workq_free(e->executor); /* waits for a block still in progress */
    if (e->produce_ev)
        event_free(e->produce_ev);
    if (e->heartbeat_ev)
        event_free(e->heartbeat_ev);
    free(e);
}

static const node_engine_ops solo_ops = {
    .kick = solo_kick,
    .stop = solo_stop,
    .free = solo_free,
};
