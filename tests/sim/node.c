/* tests/sim/node.c: one validator: the node core (node/core.h), the very
 * code permitd runs, with a simulated executor, sign state, clock and
 * network around it.  What permitd does with threads and sockets
 * (node/bft.c) happens here at once, in simulated time:
 *  - SEND: the frame goes over the simulated links (net.c), through byz.c
 *    first when the node is Byzantine;
 *  - BUILD, VALIDATE, COMMIT, APPLY: the real ledger (RocksDB), one held
 *    execution per node, as permitd's executor;
 *  - SERVE: core_sync_answer on the node's ledger;
 *  - ADMIT: ledger_admit, then the mempool (node/mempool.c);
 *  - the sign state: persisted in memory that survives crashes;
 *  - crash: the core, the mempool and the held execution are lost; the
 *    ledger is closed; restart reopens it and starts a new core. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/tx.h"
#include "node/core.h"
#include "node/log.h"

/* Deterministic BIP340 auxiliary randomness: the nonce still depends on the
 * key and the message, and a seed replays byte for byte. */
static const uint8_t AUX[32];

static void drain(sim_world *w, sim_node *nd);

uint64_t node_clock(const sim_world *w, const sim_node *nd)
{
    return (uint64_t)((int64_t)(w->wall0 + w->now) + nd->skew);
}

void node_sighash(const sim_world *w, const cons_msg *m, uint8_t out[32])
{
    if (m->type == CONS_PROPOSAL)
        ledger_proposal_sighash(w->g->chain_id, m->height, m->round, m->pol_round, m->value.b,
                                out);
    else
        ledger_vote_sighash(w->g->chain_id, (int)m->type, m->height, m->round, m->value.b, out);
}

void node_sign(sim_world *w, const sim_node *nd, cons_msg *m)
{
    uint8_t h[32];
    node_sighash(w, m, h);
    if (ledger_sign(w->node_key[nd->idx], h, AUX, m->sig) != 0)
        sim_fail(w, "sim: node %u cannot sign", nd->idx);
}

/* ---- the core's hooks ---- */

static uint64_t h_mono(void *ctx)
{
    sim_node *nd = ctx;
    return nd->w->now;
}

static uint64_t h_wall(void *ctx)
{
    sim_node *nd = ctx;
    return node_clock(nd->w, nd);
}

static int h_persist(void *ctx, const node_sign_state *next, ledger_err *err)
{
    (void)err;
    sim_node *nd = ctx;
    sim_world *w = nd->w;
    nd->ss = *next; /* "fsynced": it survives a crash */
    check_signed(w, nd, next);
    int attacked = 0; /* a lock-breaking attack is under way at this height */
    for (unsigned i = 0; i < w->mix.n; i++)
        attacked |= w->nodes[i].byz && w->nodes[i].atk_height == next->height;
    if (next->step == SIGN_STEP_PRECOMMIT && next->lock_round == (int32_t)next->round &&
        memcmp(next->lock_hash, next->hash, 32) == 0 && !nd->byz && w->faults_on &&
        w->lock_crashes_left > 0 && sim_rng_chance(&w->rng, attacked ? 800 : 250)) {
        /* the worst moment to lose the node: just after taking a lock */
        w->lock_crashes_left--;
        uint32_t id = ++w->next_crash_id;
        sim_event c = {.kind = EV_CRASH, .node = nd->idx, .arg = id};
        c.time = w->now + sim_rng_below(&w->rng, 2500);
        sim_event r = {.kind = EV_RESTART, .node = nd->idx, .arg = id};
        r.time = c.time + sim_rng_range(&w->rng, 100, 1500);
        sim_schedule(w, &c);
        sim_schedule(w, &r);
    }
    return 0;
}

static int h_persist_lock(void *ctx, const uint8_t *bytes, size_t len, ledger_err *err)
{
    (void)err;
    sim_node *nd = ctx;
    uint8_t *c = malloc(len);
    if (c == NULL)
        abort();
    memcpy(c, bytes, len);
    free(nd->lock_rec);
    nd->lock_rec = c;
    nd->lock_len = len;
    return 0;
}

static int h_sign(void *ctx, uint64_t height, const uint8_t msg[32], uint8_t sig[64])
{
    sim_node *nd = ctx;
    (void)height;
    return ledger_sign(nd->w->node_key[nd->idx], msg, AUX, sig);
}

static int h_verify(void *ctx, const ledger_pubkey *key, const uint8_t msg[32],
                    const uint8_t sig[64])
{
    sim_node *nd = ctx;
    int ok = sim_verify_key(nd->w, key, msg, sig);
    if (!ok)
        nd->w->st.bad_sig++;
    return ok;
}

/* The validators of a height: the node's own ledger says (DESIGN §5). */
static struct ledger_gov *h_vset(void *ctx, uint64_t height)
{
    sim_node *nd = ctx;
    return ledger_vset_acquire(nd->L, height, NULL);
}

/* Peer indexes are node indexes: node i's key. */
static const uint8_t *h_peer_key(void *ctx, uint32_t peer)
{
    sim_node *nd = ctx;
    return peer < nd->w->mix.n ? nd->w->node_key[peer]->pub : NULL;
}

static void h_log(void *ctx, int level, const char *msg)
{
    sim_node *nd = ctx;
    sim_log(nd->w, level <= NODE_LOG_INFO ? 1 : 2, "node %u: %s", nd->idx, msg);
}

/* ---- the executor ---- */

static void free_held(sim_node *nd)
{
    ledger_exec_free(nd->held);
    nd->held = NULL;
}

static int io_error(const ledger_err *e)
{
    return e->code == LEDGER_ERR_IO || e->code == LEDGER_ERR_NOMEM;
}

/* A block on the tip from `txs` (taken: kept ones move into the block, the
 * refused ones' ids go to refused[]); the execution is held when keep. */
static core_block *build(sim_world *w, sim_node *nd, uint64_t time, uint8_t **txs, size_t *lens,
                         size_t n, uint8_t (*refused)[32], size_t *n_refused, int keep)
{
    free_held(nd);
    ledger_tip tip;
    ledger_get_tip(nd->L, &tip);
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = time > tip.time ? time : tip.time + 1;
    memcpy(ctx.proposer, w->node_key[nd->idx]->pub, 32);
    ledger_err err;
    ledger_commit last;
    int have_last = tip.height > 0 && ledger_get_commit(nd->L, tip.height, &last, &err) == 1;
    if (have_last)
        ledger_commit_hash(&last, ctx.last_commit_hash);
    ledger_exec *x = NULL;
    if (ledger_exec_begin(nd->L, &ctx, &x, &err) != 0) {
        sim_fail(w, "sim: node %u: exec_begin: %s", nd->idx, err.msg);
        return NULL;
    }
    uint8_t **kept = calloc(n ? n : 1, sizeof *kept);
    size_t *klens = calloc(n ? n : 1, sizeof *klens), k = 0;
    uint8_t *hb = malloc(LEDGER_MAX_HEADER_BYTES);
    if (kept == NULL || klens == NULL || hb == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        /* signatures were verified at admission to the mempool */
        if (ledger_exec_tx(x, txs[i], lens[i], LEDGER_SIG_TRUSTED, NULL, &err) == 0) {
            kept[k] = txs[i];
            klens[k++] = lens[i];
            txs[i] = NULL;
        } else if (io_error(&err)) {
            sim_fail(w, "sim: node %u: exec_tx: %s", nd->idx, err.msg);
        } else if (refused) {
            ledger_sha256(txs[i], lens[i], refused[(*n_refused)++]);
        }
    }
    ledger_header hdr;
    size_t hl;
    if (ledger_exec_finish(x, &hdr, &err) != 0 ||
        ledger_header_encode(&hdr, hb, LEDGER_MAX_HEADER_BYTES, &hl) != 0) {
        sim_fail(w, "sim: node %u: exec_finish: %s", nd->idx, err.msg);
        ledger_exec_free(x);
        for (size_t i = 0; i < k; i++)
            free(kept[i]);
        free(kept);
        free(klens);
        free(hb);
        return NULL;
    }
    core_block *b = core_block_new(&hdr, hb, hl, kept, klens, k, have_last ? &last : NULL);
    if (b && keep) {
        nd->held = x;
        memcpy(nd->held_hash, b->hash.b, 32);
    } else {
        ledger_exec_free(x);
    }
    return b;
}

core_block *node_make_block(sim_world *w, sim_node *nd, uint64_t time, size_t skip_txs)
{
    size_t n = node_mempool_waiting(nd->mp);
    mp_tx **list = calloc(n ? n : 1, sizeof *list);
    uint8_t **txs = calloc(n ? n : 1, sizeof *txs);
    size_t *lens = calloc(n ? n : 1, sizeof *lens), k = 0;
    if (list == NULL || txs == NULL || lens == NULL)
        abort();
    size_t got = node_mempool_peek(nd->mp, list, n);
    for (size_t i = skip_txs; i < got && k < 8; i++) {
        txs[k] = malloc(list[i]->len);
        if (txs[k] == NULL)
            abort();
        memcpy(txs[k], list[i]->env, list[i]->len);
        lens[k++] = list[i]->len;
    }
    core_block *b = build(w, nd, time, txs, lens, k, NULL, NULL, 0);
    for (size_t i = 0; i < k; i++)
        free(txs[i]);
    free(txs);
    free(lens);
    free(list);
    return b;
}

/* Execute a block (held, ready to commit); 1 when valid. */
static int execute(sim_world *w, sim_node *nd, const core_block *b, const uint8_t *trusted)
{
    free_held(nd);
    ledger_err err;
    ledger_exec *x = NULL;
    if (ledger_validate_block(nd->L, b->hdr_bytes, b->hdr_len, (const uint8_t *const *)b->txs,
                              b->lens, b->n, b->has_last_commit ? &b->last_commit : NULL, trusted,
                              NULL, &x, &err) != 0) {
        if (io_error(&err))
            sim_fail(w, "sim: node %u: validate: %s", nd->idx, err.msg);
        w->st.bad_block++;
        sim_log(w, 2, "node %u: block at h=%llu invalid: %s", nd->idx,
                (unsigned long long)b->hdr.height, err.msg);
        return 0;
    }
    nd->held = x;
    memcpy(nd->held_hash, b->hash.b, 32);
    return 1;
}

static int all_verified(sim_world *w, const core_block *b, uint8_t *trusted)
{
    int all = 1;
    for (size_t i = 0; i < b->n; i++) {
        trusted[i] = (uint8_t)sim_tx_verified(w, b->ids[i]);
        all &= trusted[i];
    }
    return all;
}

static void after_commit(sim_world *w, sim_node *nd, uint64_t h, uint32_t round)
{
    nd->height = h;
    if (round > w->st.rounds_max)
        w->st.rounds_max = round;
    if (!nd->byz && w->faults_on && w->commit_cuts_left > 0 && sim_rng_chance(&w->rng, 150)) {
        /* cut the node off just after it decided: the others must now
         * decide the same block without its help (nor its sync answers) */
        w->commit_cuts_left--;
        uint32_t id = 1000 + w->commit_cuts_left;
        sim_event a = {.kind = EV_PARTITION, .time = w->now, .arg = 1u << nd->idx, .height = id};
        sim_event z = {.kind = EV_UNPARTITION, .height = id};
        z.time = w->now + sim_rng_range(&w->rng, 500, 4000);
        if (z.time > w->mix.heal_at)
            z.time = w->mix.heal_at;
        sim_schedule(w, &a);
        sim_schedule(w, &z);
    }
    check_commit(w, nd, h);
}

/* Commit the decided block with its certificate; 1 when done. */
static int commit(sim_world *w, sim_node *nd, const core_block *b, const ledger_commit *cert)
{
    ledger_err err;
    if (sim_commit_verify(w, nd->L, cert, b->hash.b, cert->height, &err) != 0) {
        sim_fail(w, "certificate: node %u decided h=%llu without a valid certificate: %s",
                 nd->idx, (unsigned long long)cert->height, err.msg);
        return 0;
    }
    if (nd->held == NULL || memcmp(nd->held_hash, b->hash.b, 32) != 0) {
        uint8_t *trusted = calloc(b->n ? b->n : 1, 1);
        if (trusted == NULL)
            abort();
        all_verified(w, b, trusted);
        int ok = execute(w, nd, b, trusted);
        free(trusted);
        if (!ok)
            return 0;
    }
    int rc = ledger_exec_commit(nd->held, cert, &err);
    free_held(nd);
    if (rc != 0) {
        if (io_error(&err))
            sim_fail(w, "sim: node %u: commit: %s", nd->idx, err.msg);
        return 0;
    }
    sim_log(w, 1, "node %u: commit h=%llu r=%u (%zu txs, %zu sigs)", nd->idx,
            (unsigned long long)cert->height, cert->round, b->n, cert->n_sigs);
    after_commit(w, nd, cert->height, cert->round);
    return 1;
}

static void apply(sim_world *w, sim_node *nd, const core_action *a)
{
    size_t applied = 0;
    int bad = 0;
    for (size_t i = 0; i < a->n_blocks && !w->failed; i++) {
        const core_block *b = a->blocks[i];
        uint64_t next = ledger_height(nd->L) + 1;
        if (b->hdr.height < next)
            continue;
        ledger_err err;
        if (b->hdr.height > next ||
            sim_commit_verify(w, nd->L, &a->certs[i], b->hash.b, b->hdr.height, &err) != 0) {
            bad = 1;
            break;
        }
        uint8_t *trusted = calloc(b->n ? b->n : 1, 1);
        if (trusted == NULL)
            abort();
        all_verified(w, b, trusted);
        int ok = execute(w, nd, b, trusted) && ledger_exec_commit(nd->held, &a->certs[i], &err) == 0;
        free(trusted);
        free_held(nd);
        if (!ok) {
            bad = 1;
            break;
        }
        applied++;
        w->st.syncs_applied++;
        sim_log(w, 1, "node %u: synced h=%llu from node %u", nd->idx,
                (unsigned long long)b->hdr.height, a->peer);
        after_commit(w, nd, b->hdr.height, a->certs[i].round);
    }
    if (bad)
        w->st.sync_refused++;
    core_on_applied(nd->c, a->peer, ledger_height(nd->L), applied, bad);
}

/* Admission, as permitd's tx.submit and gossip checks: ledger_admit, then
 * the mempool.  from_peer -1: the client submitted it here. */
static void admit(sim_world *w, sim_node *nd, const uint8_t *env, size_t len, int from_peer)
{
    uint8_t id[32];
    ledger_sha256(env, len, id);
    if (node_mempool_contains(nd->mp, id))
        return;
    ledger_tx tx;
    ledger_err err;
    int dept;
    int rc = ledger_admit(nd->L, env, len, node_clock(w, nd), sim_tx_verified(w, id), &tx, &dept,
                          &err);
    int kind = tx.kind;
    ledger_tx_release(&tx);
    if (rc != 0)
        return;
    sim_tx_remember(w, id);
    if (node_mempool_add(nd->mp, id, env, len, kind, w->now) != MP_ADDED)
        return;
    core_on_tx(nd->c, id, from_peer);
}

/* ---- sending ---- */

void node_send(sim_world *w, sim_node *nd, uint32_t to, const uint8_t *frame, size_t len)
{
    if (nd->byz)
        byz_send(w, nd, to, frame, len);
    else
        net_send_to(w, nd->idx, to, frame, len);
}

static void serve(sim_world *w, sim_node *nd, uint32_t to, uint64_t from, uint32_t max)
{
    if (nd->byz) {
        byz_serve(w, nd, to, from, max);
        return;
    }
    uint8_t *frame;
    size_t len;
    ledger_err err;
    if (core_sync_answer(nd->L, from, max, &frame, &len, &err) != 0) {
        sim_fail(w, "sim: node %u: sync answer: %s", nd->idx, err.msg);
        return;
    }
    net_send(w, nd->idx, to, frame, len);
    free(frame);
}

/* ---- actions ---- */

static void handle(sim_world *w, sim_node *nd, core_action *a)
{
    switch (a->kind) {
    case CORE_ACT_SEND:
        node_send(w, nd, a->peer, a->frame, a->len);
        break;
    case CORE_ACT_BUILD: {
        uint8_t(*refused)[32] = calloc(a->n ? a->n : 1, 32);
        size_t n_refused = 0;
        core_block *b = NULL;
        if (refused == NULL)
            abort();
        if (w->faults_on && sim_rng_chance(&w->rng, w->mix.build_fail_pm)) {
            /* the executor fails: the proposal never goes out, and the
             * proposer must time its own round out */
            w->st.builds_failed++;
            sim_log(w, 1, "node %u: making block %llu/%u fails", nd->idx,
                    (unsigned long long)a->height, a->round);
        } else if (ledger_height(nd->L) + 1 == a->height) {
            b = build(w, nd, a->time, a->txs, a->lens, a->n, refused, &n_refused, 1);
        }
        core_on_built(nd->c, a->height, a->round, b, (const uint8_t(*)[32])refused, n_refused);
        free(refused);
        break;
    }
    case CORE_ACT_VALIDATE:
        core_on_validated(nd->c, a->height, &a->block->hash, execute(w, nd, a->block, a->trusted));
        break;
    case CORE_ACT_COMMIT:
        core_on_committed(nd->c, a->height, commit(w, nd, a->block, a->cert));
        break;
    case CORE_ACT_APPLY:
        apply(w, nd, a);
        break;
    case CORE_ACT_SERVE:
        serve(w, nd, a->peer, a->from, a->max);
        core_on_served(nd->c, a->peer);
        break;
    case CORE_ACT_ADMIT:
        for (size_t i = 0; i < a->n && nd->up; i++)
            admit(w, nd, a->txs[i], a->lens[i], (int)a->peer);
        core_on_admitted(nd->c, a->peer);
        break;
    case CORE_ACT_FAIL:
        sim_fail(w, "node %u: the node core stopped: %s", nd->idx, a->why ? a->why : "?");
        break;
    }
}

static void drain(sim_world *w, sim_node *nd)
{
    core_action a;
    while (nd->up && !w->failed && core_next_action(nd->c, &a)) {
        handle(w, nd, &a);
        core_action_release(&a);
    }
    if (!nd->up || w->failed)
        return;
    uint64_t d = core_next_deadline(nd->c);
    if (d == UINT64_MAX)
        return;
    if (d < w->now)
        d = w->now;
    if (nd->tick_at != 0 && nd->tick_at <= d)
        return; /* a tick at or before it is pending */
    nd->tick_at = d;
    sim_event ev = {.kind = EV_TICK, .node = nd->idx, .inc = nd->inc, .time = d};
    sim_schedule(w, &ev);
}

/* ---- events ---- */

void node_on_msg(sim_world *w, sim_node *nd, sim_msg *m)
{
    if (!nd->up || m->len > SIM_MAX_FRAME)
        return;
    Permit__Frame *f = permit__frame__unpack(NULL, m->len, m->data);
    if (f == NULL)
        return; /* permitd closes the link; here the frame is just gone */
    if (nd->byz)
        byz_saw(nd, f);
    core_on_frame(nd->c, m->from, f);
    permit__frame__free_unpacked(f, NULL);
    drain(w, nd);
}

void node_on_link(sim_world *w, sim_node *nd, unsigned peer, int up)
{
    if (!nd->up)
        return;
    /* the handshake's height: the peer's committed height (a hint only); a
     * Byzantine lure claims more than it has */
    uint64_t hello = w->nodes[peer].height;
    if (w->nodes[peer].byz && (w->mix.byz_flags & BYZ_LURE))
        hello += 10;
    core_on_link(nd->c, peer, up, up ? hello : 0);
    drain(w, nd);
}

void node_on_tx(sim_world *w, sim_node *nd, sim_tx *t)
{
    if (!nd->up)
        return; /* the client's connection is refused: nothing was admitted */
    admit(w, nd, t->env, t->len, -1);
    drain(w, nd);
}

void node_on_tick(sim_world *w, sim_node *nd, const sim_event *ev)
{
    if (!nd->up || ev->inc != nd->inc)
        return; /* a timer of an earlier life */
    if (ev->time == nd->tick_at)
        nd->tick_at = 0;
    core_on_tick(nd->c);
    drain(w, nd);
}

/* ---- life ---- */

void node_boot(sim_world *w, sim_node *nd)
{
    ledger_err err;
    nd->w = w;
    if (ledger_open(&nd->L, nd->db, w->g, &err) != 0) {
        sim_fail(w, "sim: node %u: ledger_open: %s", nd->idx, err.msg);
        return;
    }
    nd->mp = node_mempool_new(SIM_POOL_TXS, 64u << 20);
    core_config cfg = {.g = w->g, .self = -1, .node_key = w->node_key[nd->idx]->pub,
                       .propose_ms = 1000, .vote_ms = 500,
                       .delta_ms = 500, .max_clock_drift_ms = SIM_CLOCK_AHEAD_MS};
    core_hooks hk = {.ctx = nd, .mono_ms = h_mono, .wall_ms = h_wall, .persist = h_persist,
                     .persist_lock = h_persist_lock, .sign = h_sign, .verify = h_verify,
                     .vset = h_vset, .peer_key = h_peer_key, .log = h_log};
    nd->c = nd->mp ? core_new(&cfg, &hk, nd->mp, &nd->ss, nd->lock_rec, nd->lock_len,
                              ledger_height(nd->L))
                   : NULL;
    if (nd->c == NULL) {
        sim_fail(w, "sim: node %u: core_new failed", nd->idx);
        return;
    }
    nd->up = 1;
    nd->inc++;
    nd->tick_at = 0;
    nd->up_since = w->now;
    nd->height = ledger_height(nd->L);
    core_start(nd->c);
    drain(w, nd);
    net_links_changed(w);
}

static void release_all(sim_world *w, sim_node *nd)
{
    if (nd->c && !nd->byz) {
        core_stats st;
        core_get_stats(nd->c, &st);
        w->st.equivocations_seen += st.equivocations;
        w->st.sign_refused += st.sign_refused;
        w->st.bad_block += st.bad_blocks;
    }
    core_free(nd->c);
    nd->c = NULL;
    node_mempool_free(nd->mp);
    nd->mp = NULL;
    free_held(nd);
    ledger_close(nd->L);
    nd->L = NULL;
    nd->up = 0;
    nd->inc++;
    nd->tick_at = 0;
}

void node_crash(sim_world *w, sim_node *nd)
{
    nd->crashes++;
    release_all(w, nd);
    net_links_changed(w);
}

void node_close(sim_world *w, sim_node *nd)
{
    if (nd->up)
        release_all(w, nd);
    free(nd->lock_rec);
    nd->lock_rec = NULL;
    nd->lock_len = 0;
}
