/* node/bft.c: BFT consensus among the validators of genesis (DESIGN §5):
 * permitd's host for the node core (node/core.h).
 *
 * Every decision is the core's; this file only carries out its actions
 * with permitd's means:
 *  - frames go over the validator links of node/p2p.c;
 *  - blocks are made, validated, committed and applied on one executor
 *    thread (the ledger allows one execution at a time), which keeps the
 *    last block it validated ready to commit;
 *  - sync answers and the checks of gossiped transactions run on the p2p
 *    workers, apart from the RPC workers, so an RPC flood cannot starve the
 *    validators' own traffic;
 *  - DATA/sign_state is written with fsync before anything is signed
 *    (node/signstate.h);
 *  - one libevent timer wakes the core when its next deadline comes. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "engine.h"
#include "events.h"
#include "ledger/hash.h"
#include "ledger/limits.h"
#include "ledger/tx.h"
#include "log.h"
#include "node.h"
#include "p2p.h"
#include "permit.pb-c.h"
#include "signstate.h"

#define P2P_WORK_QUEUE 1024 /* sync answers and gossip checks waiting for a p2p worker */
/* DATA/lock: a block (LEDGER_MAX_BLOCK_BYTES_HARD of envelopes with their
 * framing) and a proof of lock */
#define LOCK_FILE_MAX (LEDGER_MAX_BLOCK_BYTES_HARD + (8u << 20))

typedef struct {
    node_engine base;
    node *n;
    core *core;
    node_p2p *p2p;
    node_workers *executor;   /* one thread: executes blocks */
    node_workers *p2p_work;   /* sync answers, gossip checks */
    struct event *timer;
    uint64_t timer_at;
    int stopped;
    char sign_path[NODE_PATH_MAX + 32];
    char lock_path[NODE_PATH_MAX + 32];
    /* executor thread only: the last block validated or made, ready to commit */
    ledger_exec *held;
    cons_hash held_hash;
    ledger_tx_result *held_results;
    size_t held_n;
} bft;

typedef struct {
    bft *b;
    core_action a;
    /* results */
    int ok;
    ledger_err err;
    core_block *built;
    uint8_t (*refused)[32];
    ledger_err *refused_errs;
    size_t n_refused;
    ledger_tx_result *results;
    uint64_t *heights;        /* APPLY: the block of each result */
    size_t n_results;
    uint64_t ledger_height;
    size_t applied;
    int bad;
    uint64_t exec_us;
} job;

static void drive(bft *b);

/* ---- clocks and hooks ---- */

static uint64_t mono_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_ms(void *ctx)
{
    (void)ctx;
    return node_now_ms();
}

static int persist(void *ctx, const node_sign_state *next, ledger_err *err)
{
    bft *b = ctx;
    return node_sign_state_save(b->sign_path, next, err);
}

static int persist_lock(void *ctx, const uint8_t *bytes, size_t len, ledger_err *err)
{
    bft *b = ctx;
    return node_file_save(b->lock_path, bytes, len, err);
}

static int sign(void *ctx, uint64_t height, const uint8_t msg[32], uint8_t sig[64])
{
    bft *b = ctx;
    (void)height; /* the core asks only at heights whose set holds our node key */
    if (b->n->observer >= 0)
        return -1; /* an observer never signs a vote (the core never asks it to) */
    return ledger_sign(&b->n->key, msg, NULL, sig);
}

/* The validators of a height (DESIGN §5): from the ledger. */
static struct ledger_gov *vset(void *ctx, uint64_t height)
{
    bft *b = ctx;
    return ledger_vset_acquire(b->n->L, height, NULL);
}

static const uint8_t *peer_key(void *ctx, uint32_t peer)
{
    bft *b = ctx;
    return node_p2p_peer_key(b->p2p, peer);
}

/* The core's lines, most of them about what peers sent: a Byzantine peer
 * must not flood the log.  Lines are rate-limited (one a second) per kind,
 * the kind being the line's first 24 bytes (what it is about, before the
 * numbers), in a small table where rare collisions share a limit. */
static void log_line(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (!node_log_enabled(level))
        return;
    if (level == NODE_LOG_DEBUG) {
        node_log(level, "%s", msg);
        return;
    }
    static node_log_rate rates[64];
    uint64_t h = 1469598103934665603ULL, left_out;
    for (size_t i = 0; i < 24 && msg[i] && (msg[i] < '0' || msg[i] > '9'); i++)
        h = (h ^ (uint8_t)msg[i]) * 1099511628211ULL;
    if (node_log_rate_pass(&rates[h % 64], &left_out))
        node_log_n(level, left_out, "%s", msg);
}

/* ---- the executor thread ---- */

static void drop_held(bft *b)
{
    ledger_exec_free(b->held);
    b->held = NULL;
    free(b->held_results);
    b->held_results = NULL;
    b->held_n = 0;
}

static void keep_held(bft *b, ledger_exec *x, const cons_hash *h, ledger_tx_result *res, size_t n)
{
    drop_held(b);
    b->held = x;
    b->held_hash = *h;
    b->held_results = res;
    b->held_n = n;
}

static void run_build(bft *b, job *j)
{
    node *n = b->n;
    core_action *a = &j->a;
    drop_held(b);
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    if (tip.height + 1 != a->height) {
        ledger_fail(&j->err, LEDGER_ERR_INVALID, NULL, "the ledger moved on to height %llu",
                    (unsigned long long)tip.height);
        return;
    }
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = a->time > tip.time ? a->time : tip.time + 1;
    memcpy(ctx.proposer, n->key.pub, 32);
    ledger_commit last;
    int have_last = tip.height > 0 && ledger_get_commit(n->L, tip.height, &last, &j->err) == 1;
    if (have_last)
        ledger_commit_hash(&last, ctx.last_commit_hash);
    ledger_exec *x = NULL;
    if (ledger_exec_begin(n->L, &ctx, &x, &j->err) != 0)
        return;
    size_t cap = a->n ? a->n : 1;
    uint8_t **txs = calloc(cap, sizeof *txs);
    size_t *lens = calloc(cap, sizeof *lens), kept = 0;
    ledger_tx_result *res = calloc(cap, sizeof *res);
    j->refused = calloc(cap, 32);
    j->refused_errs = calloc(cap, sizeof *j->refused_errs);
    uint8_t *hb = malloc(LEDGER_MAX_HEADER_BYTES);
    if (!txs || !lens || !res || !j->refused || !j->refused_errs || !hb) {
        ledger_fail(&j->err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < a->n; i++) {
        ledger_err e;
        if (ledger_exec_tx(x, a->txs[i], a->lens[i], LEDGER_SIG_TRUSTED, &res[kept], &e) == 0) {
            txs[kept] = a->txs[i];
            lens[kept++] = a->lens[i];
            a->txs[i] = NULL; /* the block owns it now */
            continue;
        }
        if (e.code == LEDGER_ERR_IO || e.code == LEDGER_ERR_NOMEM) {
            j->err = e;
            goto fail;
        }
        ledger_sha256(a->txs[i], a->lens[i], j->refused[j->n_refused]);
        j->refused_errs[j->n_refused++] = e;
    }
    ledger_header h;
    size_t hl;
    if (ledger_exec_finish(x, &h, &j->err) != 0 ||
        ledger_header_encode(&h, hb, LEDGER_MAX_HEADER_BYTES, &hl) != 0)
        goto fail;
    j->built = core_block_new(&h, hb, hl, txs, lens, kept, have_last ? &last : NULL);
    if (j->built == NULL) {
        ledger_exec_free(x);
        free(res);
        return;
    }
    keep_held(b, x, &j->built->hash, res, kept);
    j->ok = 1;
    return;
fail:
    for (size_t i = 0; txs && i < kept; i++)
        free(txs[i]);
    free(txs);
    free(lens);
    free(hb);
    free(res);
    ledger_exec_free(x);
}

/* Execute a received block; kept, ready to commit. */
static int execute(bft *b, const core_block *bl, const uint8_t *trusted, ledger_err *err)
{
    node *n = b->n;
    drop_held(b);
    ledger_tx_result *res = calloc(bl->n ? bl->n : 1, sizeof *res);
    ledger_exec *x = NULL;
    if (res == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    if (ledger_validate_block(n->L, bl->hdr_bytes, bl->hdr_len, (const uint8_t *const *)bl->txs,
                              bl->lens, bl->n, bl->has_last_commit ? &bl->last_commit : NULL,
                              trusted, res, &x, err) != 0) {
        free(res);
        return -1;
    }
    keep_held(b, x, &bl->hash, res, bl->n);
    return 0;
}

static void run_commit(bft *b, job *j)
{
    uint64_t t0 = mono_us();
    const core_block *bl = j->a.block;
    if ((b->held == NULL || !cons_hash_eq(&b->held_hash, &bl->hash)) &&
        execute(b, bl, NULL, &j->err) != 0)
        return; /* decided a block we did not execute last: executed now */
    if (ledger_exec_commit(b->held, j->a.cert, &j->err) != 0) {
        drop_held(b);
        return;
    }
    j->results = b->held_results;
    j->n_results = b->held_n;
    b->held_results = NULL;
    drop_held(b);
    j->exec_us = mono_us() - t0;
    j->ok = 1;
}

/* Sync: blocks that follow the ledger, each with a certificate that
 * verifies, until one does not. */
static void run_apply(bft *b, job *j)
{
    node *n = b->n;
    /* the block executed for this height stays held until a block here
     * replaces it (execute drops it): blocks we have already cost nothing */
    for (size_t i = 0; i < j->a.n_blocks; i++) {
        const core_block *bl = j->a.blocks[i];
        uint64_t next = ledger_height(n->L) + 1;
        if (bl->hdr.height < next)
            continue; /* have it */
        if (bl->hdr.height > next ||
            ledger_commit_verify_at(n->L, &j->a.certs[i], bl->hash.b, bl->hdr.height,
                                    &j->err) != 0 ||
            execute(b, bl, NULL, &j->err) != 0) {
            j->bad = 1; /* a certificate that fails leaves what consensus holds */
            break;
        }
        if (ledger_exec_commit(b->held, &j->a.certs[i], &j->err) != 0) {
            drop_held(b); /* it executed, and then failed to commit */
            j->bad = 1;
            break;
        }
        /* clients waiting for these transactions hear of them too */
        ledger_tx_result *res = b->held_results;
        size_t nr = b->held_n;
        b->held_results = NULL;
        drop_held(b);
        ledger_tx_result *all = realloc(j->results, (j->n_results + nr + 1) * sizeof *all);
        if (all)
            j->results = all;
        uint64_t *hs = realloc(j->heights, (j->n_results + nr + 1) * sizeof *hs);
        if (hs)
            j->heights = hs;
        if (all && hs) {
            memcpy(all + j->n_results, res, nr * sizeof *res);
            for (size_t k = 0; k < nr; k++)
                hs[j->n_results + k] = bl->hdr.height;
            j->n_results += nr;
        }
        free(res);
        j->applied++;
    }
    j->ledger_height = ledger_height(n->L);
    j->ok = 1;
}

static void job_done(node *n, void *arg);

static void run_job(void *arg)
{
    job *j = arg;
    bft *b = j->b;
    switch (j->a.kind) {
    case CORE_ACT_BUILD:
        run_build(b, j);
        break;
    case CORE_ACT_VALIDATE:
        j->ok = execute(b, j->a.block, j->a.trusted, &j->err) == 0;
        break;
    case CORE_ACT_COMMIT:
        run_commit(b, j);
        break;
    case CORE_ACT_APPLY:
        run_apply(b, j);
        break;
    default:
        break;
    }
    node_post(b->n, job_done, j);
}

static void job_free(job *j)
{
    core_action_release(&j->a);
    core_block_unref(j->built);
    free(j->refused);
    free(j->refused_errs);
    free(j->results);
    free(j->heights);
    free(j);
}

/* ---- executor results (loop thread) ---- */

/* Clients waiting for the transactions of blocks now in the ledger. */
static void report_results(node *n, const job *j)
{
    uint64_t h = j->a.kind == CORE_ACT_COMMIT ? j->a.height : j->ledger_height;
    for (size_t i = 0; i < j->n_results; i++)
        node_tx_finished(n, j->results[i].tx_id, &j->results[i], j->heights ? j->heights[i] : h,
                         NULL);
}

static void job_done(node *n, void *arg)
{
    job *j = arg;
    bft *b = (bft *)n->engine;
    if (b == NULL || b->stopped) {
        /* stopping: a block written while we stopped is still reported to
         * whoever waits for its transactions (before they are told the node
         * is going) */
        if (b != NULL && (j->a.kind == CORE_ACT_COMMIT || j->a.kind == CORE_ACT_APPLY))
            report_results(n, j);
        job_free(j);
        return;
    }
    core_action *a = &j->a;
    switch (a->kind) {
    case CORE_ACT_BUILD:
        for (size_t i = 0; i < j->n_refused; i++)
            node_tx_finished(n, j->refused[i], NULL, a->height, &j->refused_errs[i]);
        if (!j->ok)
            LOG_ERROR("consensus: cannot make block %llu: %s", (unsigned long long)a->height,
                      j->err.msg);
        core_on_built(b->core, a->height, a->round, j->built, (const uint8_t(*)[32])j->refused,
                      j->n_refused);
        j->built = NULL;
        if (j->n_refused)
            node_mempool_changed(n);
        break;
    case CORE_ACT_VALIDATE:
        if (!j->ok)
            LOG_WARN("consensus: proposed block %llu is invalid: %s",
                     (unsigned long long)a->height, j->err.msg);
        core_on_validated(b->core, a->height, &a->block->hash, j->ok);
        break;
    case CORE_ACT_COMMIT:
    case CORE_ACT_APPLY: {
        uint64_t h = a->kind == CORE_ACT_COMMIT ? a->height : j->ledger_height;
        report_results(n, j);
        if (a->kind == CORE_ACT_COMMIT) {
            if (j->ok) {
                node_metrics_block(&n->metrics, j->exec_us, j->n_results, 0);
                if (j->n_results > 0 || node_log_enabled(NODE_LOG_DEBUG))
                    LOG_INFO("block %llu: %zu transactions, round %u, %zu signatures",
                             (unsigned long long)h, j->n_results, a->cert->round,
                             a->cert->n_sigs);
            }
            core_on_committed(b->core, a->height, j->ok);
        } else {
            if (j->bad)
                LOG_WARN("sync: a block from validator %u was refused: %s", a->peer, j->err.msg);
            core_on_applied(b->core, a->peer, j->ledger_height, j->applied, j->bad);
        }
        node_p2p_set_height(b->p2p, ledger_height(n->L));
        node_mempool_changed(n);
        node_events_committed(n);
        break;
    }
    default:
        break;
    }
    job_free(j);
    drive(b);
}

/* ---- p2p work ---- */

typedef struct {
    bft *b;
    core_action a;
    uint8_t *frame; /* SERVE: the answer */
    size_t len;
    uint8_t (*ids)[32]; /* ADMIT: what passed, with kinds */
    int *kinds;
    uint8_t *ok;
} p2p_job;

static void p2p_job_free(p2p_job *w)
{
    core_action_release(&w->a);
    free(w->frame);
    free(w->ids);
    free(w->kinds);
    free(w->ok);
    free(w);
}

static void p2p_done(node *n, void *arg)
{
    p2p_job *w = arg;
    bft *b = (bft *)n->engine;
    if (b == NULL || b->stopped) {
        p2p_job_free(w);
        return;
    }
    if (w->a.kind == CORE_ACT_SERVE) {
        if (w->frame && node_p2p_send_packed(b->p2p, w->a.peer, w->frame, w->len) != 0)
            LOG_WARN("sync: the answer to validator %u (%zu bytes) could not be queued",
                     w->a.peer, w->len);
        core_on_served(b->core, w->a.peer);
    } else {
        int added = 0;
        for (size_t i = 0; i < w->a.n; i++)
            if (w->ok[i] && node_mempool_add(n->mp, w->ids[i], w->a.txs[i], w->a.lens[i],
                                             w->kinds[i], node_now_ms()) == MP_ADDED) {
                core_on_tx(b->core, w->ids[i], (int)w->a.peer);
                added = 1;
            }
        if (added)
            node_mempool_changed(n);
        core_on_admitted(b->core, w->a.peer);
    }
    p2p_job_free(w);
    drive(b);
}

/* p2p worker: what a gossiped transaction must pass to enter the mempool:
 * the very checks of tx.submit (ledger_admit), time window and state
 * included. */
static void run_p2p(void *arg)
{
    p2p_job *w = arg;
    node *n = w->b->n;
    ledger_err err;
    if (w->a.kind == CORE_ACT_SERVE) {
        if (core_sync_answer(n->L, w->a.from, w->a.max, &w->frame, &w->len, &err) != 0)
            LOG_WARN("sync: cannot answer validator %u: %s", w->a.peer, err.msg);
    } else {
        size_t k = w->a.n ? w->a.n : 1;
        w->ids = calloc(k, sizeof *w->ids);
        w->kinds = calloc(k, sizeof *w->kinds);
        w->ok = calloc(k, 1);
        for (size_t i = 0; w->ids && w->kinds && w->ok && i < w->a.n; i++) {
            ledger_tx tx;
            int dept;
            w->ok[i] =
                ledger_admit(n->L, w->a.txs[i], w->a.lens[i], node_now_ms(), 0, &tx, &dept, &err) ==
                0;
            if (w->ok[i]) {
                memcpy(w->ids[i], tx.id, 32);
                w->kinds[i] = tx.kind;
            }
            ledger_tx_release(&tx);
        }
        if (!w->ids || !w->kinds || !w->ok)
            w->a.n = 0;
    }
    node_post(n, p2p_done, w);
}

/* ---- carrying out the core's actions (loop thread) ---- */

static void arm_timer(bft *b)
{
    uint64_t at = core_next_deadline(b->core);
    if (at == UINT64_MAX || b->stopped) {
        evtimer_del(b->timer);
        b->timer_at = 0;
        return;
    }
    if (b->timer_at == at && evtimer_pending(b->timer, NULL))
        return;
    uint64_t now = mono_ms(NULL), d = at > now ? at - now : 0;
    struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000};
    if (evtimer_add(b->timer, &tv) != 0) {
        LOG_ERROR("consensus: cannot arm its timer (evtimer_add failed): stopping");
        node_stop(b->n);
        return;
    }
    b->timer_at = at;
}

static void drive(bft *b)
{
    if (b->stopped)
        return;
    core_action a;
    while (core_next_action(b->core, &a)) {
        switch (a.kind) {
        case CORE_ACT_SEND:
            if (a.peer == CORE_ALL_PEERS)
                node_p2p_broadcast_packed(b->p2p, a.frame, a.len);
            else
                node_p2p_send_packed(b->p2p, a.peer, a.frame, a.len);
            core_action_release(&a);
            break;
        case CORE_ACT_BUILD:
        case CORE_ACT_VALIDATE:
        case CORE_ACT_COMMIT:
        case CORE_ACT_APPLY: {
            job *j = calloc(1, sizeof *j);
            if (j) {
                j->b = b;
                j->a = a;
            }
            if (j == NULL || node_workers_submit(b->executor, run_job, j) != 0) {
                free(j);
                core_action_release(&a);
                LOG_ERROR("consensus: cannot queue work for the executor: stopping");
                node_stop(b->n);
                return;
            }
            break;
        }
        case CORE_ACT_SERVE:
        case CORE_ACT_ADMIT: {
            p2p_job *w = calloc(1, sizeof *w);
            if (w) {
                w->b = b;
                w->a = a;
            }
            if (w == NULL || node_workers_submit(b->p2p_work, run_p2p, w) != 0) {
                /* the p2p workers are saturated: a sync request goes
                 * unanswered (its asker tries another), gossip is announced
                 * again */
                if (a.kind == CORE_ACT_ADMIT)
                    core_on_admitted(b->core, a.peer);
                else
                    core_on_served(b->core, a.peer);
                free(w);
                core_action_release(&a);
            }
            break;
        }
        case CORE_ACT_FAIL:
            LOG_ERROR("consensus: %s: stopping", a.why ? a.why : "failed");
            core_action_release(&a);
            node_stop(b->n);
            return;
        }
    }
    core_stats st;
    core_get_stats(b->core, &st);
    atomic_store(&b->n->syncing, st.syncing);
    atomic_store(&b->n->peers, node_p2p_connected(b->p2p));
    atomic_store(&b->n->observers, node_p2p_observers_connected(b->p2p));
    atomic_store(&b->n->round, st.round);
    atomic_store(&b->n->sync_target, st.sync_target);
    arm_timer(b);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bft *b = arg;
    b->timer_at = 0;
    if (b->stopped)
        return;
    core_on_tick(b->core);
    node_mempool_changed(b->n); /* an observer's tick may drop what can no longer commit */
    drive(b);
}

static void on_frame(void *ctx, unsigned peer, const Permit__Frame *f)
{
    bft *b = ctx;
    if (b->stopped)
        return;
    core_on_frame(b->core, peer, f);
    drive(b);
}

static void on_link(void *ctx, unsigned peer, int up, uint64_t peer_height)
{
    bft *b = ctx;
    atomic_store(&b->n->peers, node_p2p_connected(b->p2p));
    if (b->stopped)
        return;
    core_on_link(b->core, peer, up, peer_height);
    drive(b);
}

/* ---- the engine interface ---- */

static void bft_kick(node_engine *base)
{
    bft *b = (bft *)base;
    if (b->stopped)
        return;
    core_kick(b->core);
    drive(b);
}

static void bft_admitted(node_engine *base, const uint8_t *env, size_t len)
{
    bft *b = (bft *)base;
    if (b->stopped)
        return;
    uint8_t id[32];
    ledger_sha256(env, len, id);
    core_on_tx(b->core, id, -1);
    drive(b);
}

static void bft_status(node_engine *base, unsigned *peers, int *syncing)
{
    bft *b = (bft *)base;
    core_stats st;
    core_get_stats(b->core, &st);
    *peers = node_p2p_connected(b->p2p);
    *syncing = st.syncing;
}

static void bft_stop(node_engine *base)
{
    bft *b = (bft *)base;
    if (b->stopped)
        return;
    b->stopped = 1;
    if (b->timer)
        evtimer_del(b->timer);
    if (b->executor && node_workers_wait_idle(b->executor, b->n->cfg.shutdown_grace_ms) != 0)
        LOG_WARN("shutdown: the block in progress did not finish within %llu ms",
                 (unsigned long long)b->n->cfg.shutdown_grace_ms);
}

static void bft_free(node_engine *base)
{
    bft *b = (bft *)base;
    node_workers_free(b->executor); /* runs what is queued: job_done drops it (stopped) */
    node_workers_free(b->p2p_work);
    node_p2p_free(b->p2p);
    drop_held(b);
    if (b->timer)
        event_free(b->timer);
    core_free(b->core);
    free(b);
}

static const node_engine_ops bft_ops = {
    .kick = bft_kick,
    .stop = bft_stop,
    .free = bft_free,
    .status = bft_status,
    .admitted = bft_admitted,
};

node_engine *node_bft_new(node *n, ledger_err *err)
{
    if (n->validator < 0 && n->observer < 0)
        LOG_WARN("consensus: config/node.key is not the node key of a validator in genesis: "
                 "this node follows the chain, and votes from the height whose validator set "
                 "names it (a department added by governance; DESIGN §5)");
    bft *b = calloc(1, sizeof *b);
    if (b == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory"), NULL;
    b->base.ops = &bft_ops;
    b->n = n;
    snprintf(b->sign_path, sizeof b->sign_path, "%s/data/sign_state", n->cfg.home);
    snprintf(b->lock_path, sizeof b->lock_path, "%s/data/lock", n->cfg.home);
    node_sign_state ss;
    uint8_t *lock = NULL;
    size_t lock_len = 0;
    memset(&ss, 0, sizeof ss);
    if (n->observer < 0) { /* an observer signs nothing: it has no sign state */
        if (node_sign_state_load(b->sign_path, &ss, err) != 0) {
            free(b);
            return NULL;
        }
        ledger_err lerr;
        if (node_file_load(b->lock_path, LOCK_FILE_MAX, &lock, &lock_len, &lerr) < 0)
            LOG_WARN("consensus: %s: ignored (the sign state still holds the lock)", lerr.msg);
    }
    core_config cc = {.g = n->g, .self = -1, .observer = n->observer >= 0,
                      .node_key = n->observer >= 0 ? NULL : n->key.pub,
                      .propose_ms = n->cfg.timeout_propose_ms,
                      .vote_ms = n->cfg.timeout_vote_ms, .delta_ms = n->cfg.timeout_delta_ms,
                      .max_clock_drift_ms = n->cfg.max_clock_drift_ms};
    core_hooks hk = {.ctx = b, .mono_ms = mono_ms, .wall_ms = wall_ms, .persist = persist,
                     .persist_lock = persist_lock, .sign = sign, .vset = vset,
                     .peer_key = peer_key, .log = log_line};
    b->core = core_new(&cc, &hk, n->mp, &ss, lock, lock_len, ledger_height(n->L));
    free(lock);
    b->timer = evtimer_new(n->base, on_timer, b);
    b->executor = node_workers_new(1, SIZE_MAX);
    b->p2p_work = node_workers_new(0, P2P_WORK_QUEUE);
    if (b->core == NULL || b->timer == NULL || b->executor == NULL || b->p2p_work == NULL) {
        bft_free(&b->base);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL,
                           "cannot start consensus (memory, a timer or a thread)"),
               NULL;
    }
    b->p2p = node_p2p_start(n, on_frame, on_link, b, err);
    if (b->p2p == NULL) {
        bft_free(&b->base);
        return NULL;
    }
    core_start(b->core);
    drive(b);
    return &b->base;
}
