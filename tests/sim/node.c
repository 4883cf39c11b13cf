/* tests/sim/node.c: one validator: the glue between its consensus engine,
 * its ledger, its sign state and the simulated network.
 *
 * What a validator does around its engine, as permitd's node/bft.c does it
 * minus sockets and threads (README.md says where this goes further: the
 * consensus WAL, relaying proofs of lock, helping lagging peers):
 *  - BROADCAST: ask the sign state, record, sign (BIP340), send, hand back;
 *  - GET_VALUE: execute pending transactions into a block, keep the
 *    execution ("held"), answer cons_on_value;
 *  - VALIDATE: ledger_validate_block on the proposal's block (refusing a time
 *    too far ahead of our clock), keep the execution, answer;
 *  - COMMIT: verify the certificate, commit the held execution or apply the
 *    block, record it for the invariants;
 *  - block sync when a peer shows a higher height, or after a restart;
 *  - crash and restart: the engine is lost, the ledger, the sign state and
 *    the WAL are kept. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/merkle.h"

/* Deterministic BIP340 auxiliary randomness: the nonce still depends on the
 * key and the message, and a seed replays byte for byte. */
static const uint8_t AUX[32];

static void drain(sim_world *w, sim_node *nd);

uint64_t node_clock(const sim_world *w, const sim_node *nd)
{
    return (uint64_t)((int64_t)(w->wall0 + w->now) + nd->skew);
}

static int sign_step(cons_type t)
{
    return t == CONS_PROPOSAL ? SIGN_STEP_PROPOSAL
           : t == CONS_PREVOTE ? SIGN_STEP_PREVOTE
                               : SIGN_STEP_PRECOMMIT;
}

static const char *type_name(cons_type t)
{
    return t == CONS_PROPOSAL ? "proposal" : t == CONS_PREVOTE ? "prevote" : "precommit";
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

static int verify(sim_world *w, const cons_msg *m)
{
    uint8_t h[32];
    node_sighash(w, m, h);
    return sim_verify_msg(w, m, h);
}

static void hex8(const uint8_t *h, char out[17])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = d[h[i] >> 4];
        out[2 * i + 1] = d[h[i] & 15];
    }
    out[16] = '\0';
}

/* ---- per-height state: blocks, own messages, buffered next-height messages ---- */

sim_block *node_cache_find(sim_node *nd, const uint8_t hash[32])
{
    for (size_t i = 0; i < nd->n_cache; i++)
        if (memcmp(nd->cache[i]->hash, hash, 32) == 0)
            return nd->cache[i];
    return NULL;
}

static int pinned(const sim_node *nd, const sim_block *b)
{
    if (nd->held && memcmp(nd->held_hash, b->hash, 32) == 0)
        return 1;
    for (size_t i = 0; i < nd->n_own; i++)
        if (nd->own[i].blk == b)
            return 1;
    return 0;
}

void node_cache_add(sim_node *nd, sim_block *b)
{
    if (node_cache_find(nd, b->hash))
        return;
    if (nd->n_cache == SIM_BLOCK_CACHE) {
        size_t i = 0;
        while (i < nd->n_cache && pinned(nd, nd->cache[i]))
            i++;
        if (i == nd->n_cache)
            i = 0;
        sim_block_unref(nd->cache[i]);
        memmove(&nd->cache[i], &nd->cache[i + 1], (nd->n_cache - i - 1) * sizeof nd->cache[0]);
        nd->n_cache--;
    }
    nd->cache[nd->n_cache++] = sim_block_ref(b);
}

static void cache_clear(sim_node *nd)
{
    for (size_t i = 0; i < nd->n_cache; i++)
        sim_block_unref(nd->cache[i]);
    nd->n_cache = 0;
}

void node_own_add(sim_node *nd, const cons_msg *m, sim_block *blk)
{
    if (nd->n_own == SIM_OWN_CAP) {
        sim_block_unref(nd->own[0].blk);
        memmove(&nd->own[0], &nd->own[1], (SIM_OWN_CAP - 1) * sizeof nd->own[0]);
        nd->n_own--;
    }
    nd->own[nd->n_own].m = *m;
    nd->own[nd->n_own].blk = blk ? sim_block_ref(blk) : NULL;
    nd->n_own++;
}

static void own_clear(sim_node *nd)
{
    for (size_t i = 0; i < nd->n_own; i++)
        sim_block_unref(nd->own[i].blk);
    nd->n_own = 0;
}

static void future_clear(sim_node *nd)
{
    for (size_t i = 0; i < nd->n_future; i++)
        sim_msg_unref(nd->future[i]);
    nd->n_future = 0;
}

/* ---- the consensus WAL ---- */

static void wal_clear(sim_node *nd)
{
    for (size_t i = 0; i < nd->n_wal; i++)
        sim_msg_unref(nd->wal[i]);
    nd->n_wal = 0;
}

/* Follow the engine: a new height empties the WAL, a new round is noted
 * (durably, before anything is signed in it). */
static void wal_sync(sim_node *nd)
{
    uint64_t h = cons_height(nd->e);
    uint32_t r = cons_round(nd->e);
    if (nd->wal_height != h) {
        wal_clear(nd);
        nd->wal_height = h;
        nd->wal_round = r;
    } else if (r > nd->wal_round) {
        nd->wal_round = r;
    }
}

static int same_msg(const cons_msg *a, const cons_msg *b)
{
    return a->type == b->type && a->height == b->height && a->round == b->round &&
           a->validator == b->validator && a->pol_round == b->pol_round &&
           cons_hash_eq(&a->value, &b->value);
}

static void wal_add(sim_node *nd, sim_msg *m)
{
    wal_sync(nd);
    const cons_msg *cm = &m->cm;
    int own = cm->validator == nd->idx;
    if (cm->height != nd->wal_height ||
        (!own && cm->round >= nd->wal_round + CONS_FUTURE_ROUNDS))
        return;
    for (size_t i = 0; i < nd->n_wal; i++)
        if (same_msg(&nd->wal[i]->cm, cm))
            return;
    if (nd->n_wal >= (own ? SIM_WAL_CAP : SIM_WAL_CAP - SIM_WAL_OWN_RESERVE))
        return;
    nd->wal[nd->n_wal++] = sim_msg_ref(m);
}

/* ---- mempool ---- */

static int pool_find(const sim_node *nd, const uint8_t id[32])
{
    for (size_t i = 0; i < nd->n_pool; i++)
        if (memcmp(nd->pool[i]->id, id, 32) == 0)
            return (int)i;
    return -1;
}

static void pool_remove(sim_node *nd, const uint8_t id[32])
{
    int i = pool_find(nd, id);
    if (i < 0)
        return;
    sim_tx_unref(nd->pool[i]);
    memmove(&nd->pool[i], &nd->pool[i + 1], (nd->n_pool - (size_t)i - 1) * sizeof nd->pool[0]);
    nd->n_pool--;
}

static void pool_clear(sim_node *nd)
{
    for (size_t i = 0; i < nd->n_pool; i++)
        sim_tx_unref(nd->pool[i]);
    nd->n_pool = 0;
}

/* ---- heights ---- */

static void free_held(sim_node *nd)
{
    ledger_exec_free(nd->held);
    nd->held = NULL;
}

static void schedule_node(sim_world *w, sim_node *nd, sim_ev_kind kind, uint64_t delay,
                          uint64_t height, uint32_t arg)
{
    sim_event ev = {.kind = kind, .node = nd->idx, .inc = nd->inc, .height = height,
                    .arg = arg};
    ev.time = w->now + delay;
    sim_schedule(w, &ev);
}

/* The engine is at height h now: forget what belonged to the last one. */
static void height_reset(sim_world *w, sim_node *nd, uint64_t h)
{
    cache_clear(nd);
    own_clear(nd);
    nd->want_value = 0;
    nd->heartbeat_due = 0;
    nd->cur_height = h;
    if (w->mix.wait_for_value) {
        schedule_node(w, nd, EV_HEARTBEAT, SIM_HEARTBEAT_MS, h, 0);
        if (nd->n_pool > 0)
            cons_activate(nd->e);
    }
}

static void sync_check_soon(sim_world *w, sim_node *nd, uint64_t delay, uint32_t force)
{
    if (nd->sync_check_set && !force)
        return;
    nd->sync_check_set = 1;
    schedule_node(w, nd, EV_SYNC_CHECK, delay, 0, force);
}

/* A peer is at a higher height: the heights between are decided. */
static void note_height(sim_world *w, sim_node *nd, uint64_t h, unsigned from)
{
    if (h <= cons_height(nd->e))
        return;
    if (h > nd->ahead_height) {
        nd->ahead_height = h;
        nd->ahead_from = from;
    }
    sync_check_soon(w, nd, SIM_SYNC_DELAY_MS, 0);
}

/* Block sync took the ledger past the engine's height: those heights are
 * decided, so the engine moves on (never back: a height it signed at keeps
 * its lock until it is decided). */
static void advance_engine(sim_world *w, sim_node *nd)
{
    uint64_t h = ledger_height(nd->L) + 1;
    if (cons_advance(nd->e, h) != 0)
        return;
    free_held(nd);
    height_reset(w, nd, h);
}

/* A block became part of this node's chain. */
static void after_commit(sim_world *w, sim_node *nd, uint64_t h, const sim_block *b)
{
    nd->height = h;
    nd->last_commit = w->now;
    if (w->faults_on && w->commit_cuts_left > 0 && sim_rng_chance(&w->rng, 150)) {
        /* cut the node off just after it decided: the others must now
         * decide the same block without its help (nor its sync answers) */
        w->commit_cuts_left--;
        uint32_t id = 1000 + w->commit_cuts_left;
        sim_event a = {.kind = EV_PARTITION, .time = w->now, .arg = 1u << nd->idx,
                       .height = id};
        sim_event z = {.kind = EV_UNPARTITION, .height = id};
        z.time = w->now + sim_rng_range(&w->rng, 500, 4000);
        if (z.time > w->mix.heal_at)
            z.time = w->mix.heal_at;
        sim_schedule(w, &a);
        sim_schedule(w, &z);
    }
    for (size_t i = 0; i < b->n_txs; i++)
        pool_remove(nd, b->txs[i]->id);
    check_commit(w, nd, h);
}

/* ---- actions ---- */

/* Send the prevotes of (round, value) we hold: the proof of lock a peer
 * needs to accept a re-proposed block (line 28), which it may have missed
 * (lost, partitioned, or sent only to us by an equivocating validator). */
static void relay_pol(sim_world *w, sim_node *nd, uint32_t round, const uint8_t value[32])
{
    for (size_t i = 0; i < nd->n_wal; i++) {
        sim_msg *m = nd->wal[i];
        if (m->cm.type == CONS_PREVOTE && m->cm.round == round &&
            memcmp(m->cm.value.b, value, 32) == 0 && m->cm.validator != nd->idx)
            net_broadcast(w, nd->idx, m);
    }
}

/* The signer's check of a prevote, through the seed's verdict cache. */
static int verify_prevote(void *ctx, const ledger_genesis *g, uint32_t v,
                          const uint8_t sighash[32], const uint8_t sig[64])
{
    (void)g;
    cons_msg m;
    memset(&m, 0, sizeof m);
    m.type = CONS_PREVOTE;
    m.validator = v;
    memcpy(m.sig, sig, 64);
    return sim_verify_msg(ctx, &m, sighash);
}

static void on_broadcast(sim_world *w, sim_node *nd, const cons_action *a)
{
    const cons_msg *msg = &a->msg;
    if (nd->byz) {
        byz_broadcast(w, nd, msg);
        return;
    }
    cons_msg m = *msg;
    int step = sign_step(m.type);
    sim_block *blk = NULL;
    if (m.type == CONS_PROPOSAL && (blk = node_cache_find(nd, m.value.b)) == NULL) {
        /* evicted from the cache: a proposal without its block is useless */
        sim_log(w, 1, "node %u: the block to propose at h=%llu r=%u is gone", nd->idx,
                (unsigned long long)m.height, m.round);
        return;
    }
    node_sign_evidence ev = {.round = a->ev_round, .n = a->n_sigs, .validators = a->signers,
                             .sigs = (const uint8_t(*)[64])a->sigs};
    const char *why = node_sign_refusal(&nd->ss, w->g, m.height, m.round, step, m.value.b, &ev,
                                        verify_prevote, w);
    if (why) {
        w->st.sign_refused++;
        sim_log(w, 2, "node %u: sign state refuses %s h=%llu r=%u: %s", nd->idx,
                type_name(m.type), (unsigned long long)m.height, m.round, why);
        return;
    }
    /* data/sign_state is written (and fsynced) before the message leaves */
    node_sign_state next;
    node_sign_state_next(&nd->ss, m.height, m.round, step, m.value.b, &next);
    nd->ss = next;
    check_signed(w, nd, &m);
    node_sign(w, nd, &m);
    node_own_add(nd, &m, blk);
    if (w->opt.verbose >= 2) {
        char hx[17];
        hex8(m.value.b, hx);
        sim_log(w, 2, "node %u: %s h=%llu r=%u %s pol=%d", nd->idx, type_name(m.type),
                (unsigned long long)m.height, m.round, hx, m.pol_round);
    }
    sim_msg *sm = sim_msg_new(MSG_CONS, nd->idx);
    sm->cm = m;
    sm->blk = blk ? sim_block_ref(blk) : NULL;
    wal_add(nd, sm); /* in the WAL before it leaves, as in the sign state */
    net_broadcast(w, nd->idx, sm);
    sim_msg_unref(sm);
    if (m.type == CONS_PROPOSAL && m.pol_round >= 0)
        relay_pol(w, nd, (uint32_t)m.pol_round, m.value.b);
    /* signed and sent: now it counts, with its signature for certificates */
    cons_on_msg(nd->e, &m);
    if (m.type == CONS_PRECOMMIT && !cons_hash_is_nil(&m.value) && w->faults_on &&
        w->lock_crashes_left > 0 && sim_rng_chance(&w->rng, 250)) {
        /* the worst moment to lose the engine: just after taking a lock */
        w->lock_crashes_left--;
        uint32_t id = ++w->next_crash_id;
        sim_event c = {.kind = EV_CRASH, .node = nd->idx, .arg = id};
        c.time = w->now + sim_rng_below(&w->rng, 2500);
        sim_event r = {.kind = EV_RESTART, .node = nd->idx, .arg = id};
        r.time = c.time + sim_rng_range(&w->rng, 100, 1500);
        sim_schedule(w, &c);
        sim_schedule(w, &r);
    }
}

sim_block *node_make_block(sim_world *w, sim_node *nd, uint64_t time, size_t skip_txs, int keep)
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
    sim_block *b = sim_block_new();
    if (have_last) {
        b->last_commit = last;
        b->has_last_commit = 1;
    }
    uint8_t refused[SIM_POOL_CAP][32];
    size_t n_refused = 0, skipped = 0;
    for (size_t i = 0; i < nd->n_pool && b->n_txs < SIM_BLOCK_TXS; i++) {
        sim_tx *t = nd->pool[i];
        if (skipped < skip_txs) {
            skipped++;
            continue;
        }
        /* signatures were verified at admission to the pool */
        if (ledger_exec_tx(x, t->env, t->len, LEDGER_SIG_TRUSTED, NULL, &err) == 0) {
            b->txs[b->n_txs++] = sim_tx_ref(t);
        } else if (err.code == LEDGER_ERR_IO || err.code == LEDGER_ERR_NOMEM) {
            sim_fail(w, "sim: node %u: exec_tx: %s", nd->idx, err.msg);
            goto fail;
        } else {
            memcpy(refused[n_refused++], t->id, 32);
        }
    }
    ledger_header hdr;
    if (ledger_exec_finish(x, &hdr, &err) != 0 ||
        ledger_header_encode(&hdr, b->hdr, sizeof b->hdr, &b->hdr_len) != 0) {
        sim_fail(w, "sim: node %u: exec_finish: %s", nd->idx, err.msg);
        goto fail;
    }
    ledger_header_hash(&hdr, b->hash);
    b->height = hdr.height;
    if (keep) {
        nd->held = x;
        memcpy(nd->held_hash, b->hash, 32);
        for (size_t i = 0; i < n_refused; i++)
            pool_remove(nd, refused[i]); /* refused for good: duplicate, wrong state */
    } else {
        ledger_exec_free(x);
    }
    node_cache_add(nd, b);
    return b;
fail:
    ledger_exec_free(x);
    sim_block_unref(b);
    return NULL;
}

static void propose(sim_world *w, sim_node *nd, uint64_t h, uint32_t r)
{
    nd->want_value = 0;
    if (ledger_height(nd->L) + 1 != h)
        return;
    sim_block *b = node_make_block(w, nd, node_clock(w, nd), 0, 1);
    if (b == NULL)
        return;
    cons_hash v;
    memcpy(v.b, b->hash, 32);
    sim_block_unref(b);
    cons_on_value(nd->e, h, r, &v);
}

static void on_get_value(sim_world *w, sim_node *nd, uint64_t h, uint32_t r)
{
    /* as permitd: with wait_for_value an empty block only for the heartbeat
     * or in a later round; and no block before the interval has passed
     * since the last commit, unless a full one is waiting */
    nd->want_value = 1;
    nd->want_h = h;
    nd->want_r = r;
    if (w->mix.wait_for_value && r == 0 && nd->n_pool == 0 && !nd->heartbeat_due)
        return;
    uint64_t due = nd->last_commit + SIM_BLOCK_INTERVAL_MS;
    if (w->now < due && nd->n_pool < SIM_BLOCK_TXS) {
        schedule_node(w, nd, EV_BUILD, due - w->now, h, r);
        return;
    }
    propose(w, nd, h, r);
}

static int validate(sim_world *w, sim_node *nd, uint64_t h, const cons_hash *v)
{
    if (nd->held && memcmp(nd->held_hash, v->b, 32) == 0)
        return 1;
    if (ledger_height(nd->L) + 1 != h)
        return 0;
    sim_block *b = node_cache_find(nd, v->b);
    if (b == NULL)
        return 0;
    ledger_header hdr;
    ledger_err err;
    if (ledger_header_decode(&hdr, b->hdr, b->hdr_len, &err) != 0)
        return 0;
    if (hdr.time > node_clock(w, nd) + SIM_CLOCK_AHEAD_MS) {
        sim_log(w, 2, "node %u: block at h=%llu is %llu ms ahead of its clock", nd->idx,
                (unsigned long long)h, (unsigned long long)(hdr.time - node_clock(w, nd)));
        return 0;
    }
    if (ledger_genesis_validator_index(w->g, hdr.proposer) < 0)
        return 0;
    free_held(nd);
    const uint8_t *txs[SIM_BLOCK_TXS + 1];
    size_t lens[SIM_BLOCK_TXS + 1];
    uint8_t trusted[SIM_BLOCK_TXS + 1];
    for (size_t i = 0; i < b->n_txs; i++) {
        txs[i] = b->txs[i]->env;
        lens[i] = b->txs[i]->len;
        trusted[i] = (uint8_t)sim_tx_verified(w, b->txs[i]->id); /* at admission */
    }
    ledger_exec *x = NULL;
    if (ledger_validate_block(nd->L, b->hdr, b->hdr_len, txs, lens, b->n_txs,
                              b->has_last_commit ? &b->last_commit : NULL, trusted, NULL, &x,
                              &err) != 0) {
        if (err.code == LEDGER_ERR_IO || err.code == LEDGER_ERR_NOMEM)
            sim_fail(w, "sim: node %u: validate: %s", nd->idx, err.msg);
        sim_log(w, 2, "node %u: block at h=%llu invalid: %s", nd->idx, (unsigned long long)h,
                err.msg);
        return 0;
    }
    nd->held = x;
    memcpy(nd->held_hash, v->b, 32);
    return 1;
}

static int all_verified(sim_world *w, const sim_block *b)
{
    for (size_t i = 0; i < b->n_txs; i++)
        if (!sim_tx_verified(w, b->txs[i]->id))
            return 0;
    return 1;
}

static void on_commit(sim_world *w, sim_node *nd, const cons_action *a)
{
    uint64_t h = a->height;
    ledger_commit cert;
    memset(&cert, 0, sizeof cert);
    cert.height = h;
    cert.round = a->round;
    memcpy(cert.block_hash, a->value.b, 32);
    for (size_t k = 0; k < a->n_sigs && cert.n_sigs < LEDGER_MAX_DEPARTMENTS; k++) {
        cert.sigs[cert.n_sigs].validator = a->signers[k];
        memcpy(cert.sigs[cert.n_sigs].sig, a->sigs[k], 64);
        cert.n_sigs++;
    }
    char hx[17];
    hex8(a->value.b, hx);
    ledger_err err;
    int ok = ledger_height(nd->L) + 1 == h;
    if (ok && sim_commit_verify(w, &cert, a->value.b, h, &err) != 0) {
        /* not a certificate, so not a commit (the engine should never
         * decide without one: counted, and reported by the summary) */
        w->st.decisions_uncertified++;
        sim_log(w, 1, "node %u: decision h=%llu r=%u %s has no valid certificate: %s", nd->idx,
                (unsigned long long)h, a->round, hx, err.msg);
        ok = 0;
    }
    sim_block *b = ok ? node_cache_find(nd, a->value.b) : NULL;
    if (ok && b == NULL)
        ok = 0;
    if (ok) {
        sim_block_ref(b);
        int rc;
        if (nd->held && memcmp(nd->held_hash, a->value.b, 32) == 0) {
            rc = ledger_exec_commit(nd->held, &cert, &err);
            free_held(nd);
        } else {
            free_held(nd);
            const uint8_t *txs[SIM_BLOCK_TXS + 1];
            size_t lens[SIM_BLOCK_TXS + 1];
            for (size_t i = 0; i < b->n_txs; i++) {
                txs[i] = b->txs[i]->env;
                lens[i] = b->txs[i]->len;
            }
            rc = ledger_apply_block(nd->L, b->hdr, b->hdr_len, txs, lens, b->n_txs,
                                    b->has_last_commit ? &b->last_commit : NULL, &cert,
                                    all_verified(w, b) ? LEDGER_APPLY_SIG_TRUSTED : 0, &err);
        }
        if (rc != 0) {
            if (err.code == LEDGER_ERR_IO || err.code == LEDGER_ERR_NOMEM)
                sim_fail(w, "sim: node %u: commit: %s", nd->idx, err.msg);
            sim_log(w, 1, "node %u: cannot commit decided block h=%llu: %s", nd->idx,
                    (unsigned long long)h, err.msg);
            ok = 0;
        } else {
            sim_log(w, 1, "node %u: commit h=%llu r=%u %s (%zu txs, %zu sigs)", nd->idx,
                    (unsigned long long)h, a->round, hx, b->n_txs, cert.n_sigs);
            if (a->round > w->st.rounds_max)
                w->st.rounds_max = a->round;
            after_commit(w, nd, h, b);
        }
        sim_block_unref(b);
    }
    if (!ok) {
        /* the engine went on to h + 1 anyway; block h comes by sync */
        free_held(nd);
        height_reset(w, nd, h + 1);
        sync_check_soon(w, nd, SIM_SYNC_DELAY_MS, 1);
        return;
    }
    height_reset(w, nd, h + 1);
}

static void handle(sim_world *w, sim_node *nd, const cons_action *a)
{
    switch (a->kind) {
    case CONS_ACT_BROADCAST:
        on_broadcast(w, nd, a);
        break;
    case CONS_ACT_GET_VALUE:
        on_get_value(w, nd, a->height, a->round);
        break;
    case CONS_ACT_VALIDATE:
        cons_on_validated(nd->e, a->height, &a->value, validate(w, nd, a->height, &a->value));
        break;
    case CONS_ACT_TIMEOUT: {
        sim_event ev = {.kind = EV_TIMEOUT, .node = nd->idx, .inc = nd->inc, .step = a->step,
                        .height = a->height, .round = a->round};
        ev.time = w->now + a->delay_ms;
        sim_schedule(w, &ev);
        break;
    }
    case CONS_ACT_COMMIT:
        on_commit(w, nd, a);
        break;
    }
}

/* Hand a (verified) message to the engine. */
static void feed(sim_node *nd, sim_msg *m)
{
    wal_add(nd, m);
    if (m->cm.type == CONS_PROPOSAL && m->blk)
        node_cache_add(nd, m->blk);
    cons_on_msg(nd->e, &m->cm);
}

/* Messages buffered for the height the engine is at now. */
static int replay_future(sim_node *nd)
{
    uint64_t h = cons_height(nd->e);
    sim_msg *now[SIM_FUTURE_CAP];
    size_t n_now = 0, keep = 0;
    for (size_t i = 0; i < nd->n_future; i++) {
        sim_msg *m = nd->future[i];
        if (m->cm.height == h)
            now[n_now++] = m;
        else if (m->cm.height > h)
            nd->future[keep++] = m;
        else
            sim_msg_unref(m);
    }
    nd->n_future = keep;
    for (size_t i = 0; i < n_now; i++) {
        feed(nd, now[i]);
        sim_msg_unref(now[i]);
    }
    return n_now > 0;
}

static void drain(sim_world *w, sim_node *nd)
{
    static cons_action a; /* large; the simulator runs one drain at a time */
    for (;;) {
        while (nd->up && !w->failed && cons_next_action(nd->e, &a))
            handle(w, nd, &a);
        if (!nd->up || w->failed)
            return;
        wal_sync(nd);
        if (!replay_future(nd))
            return;
    }
}

/* ---- messages ---- */

/* The block of a proposal: its header decodes, is for that height, hashes
 * to the proposed value, and its transactions are the ones the header's
 * tx_root commits to (else a sender could pair a good header with other
 * transactions and have that copy stand for the block). */
static int block_ok(const sim_world *w, const sim_block *b, const cons_msg *m)
{
    (void)w;
    ledger_header hdr;
    uint8_t h[32], leaves[SIM_BLOCK_TXS + 1][32];
    if (b == NULL || b->hdr_len > sizeof b->hdr || b->n_txs > SIM_BLOCK_TXS + 1 ||
        ledger_header_decode(&hdr, b->hdr, b->hdr_len, NULL) != 0 || hdr.height != m->height)
        return 0;
    ledger_header_hash(&hdr, h);
    if (memcmp(h, m->value.b, 32) != 0 || memcmp(h, b->hash, 32) != 0)
        return 0;
    for (size_t i = 0; i < b->n_txs; i++)
        merkle_leaf_hash(b->txs[i]->env, b->txs[i]->len, leaves[i]);
    merkle_root_of_leaves((const uint8_t(*)[32])leaves, b->n_txs, h);
    return memcmp(h, hdr.tx_root, 32) == 0;
}

/* A peer shows a lower round of our height.  Tendermint assumes that what
 * one correct node received reaches every correct node; without relaying,
 * a node can wait forever for the precommit that moved us on (a Byzantine
 * validator's, cut by a partition and never sent again) while we wait alone
 * in the next round.  Send it (at most once a second) the precommits of its
 * round (line 47 then times that round out) and what we hold of ours (f + 1
 * senders there let it join us, line 55). */
static void help_peer(sim_world *w, sim_node *nd, unsigned peer, uint32_t round)
{
    if (w->now < nd->help_next[peer] || nd->wal_height != cons_height(nd->e))
        return;
    nd->help_next[peer] = w->now + SIM_GOSSIP_MS;
    uint32_t ours = cons_round(nd->e);
    for (size_t i = 0; i < nd->n_wal; i++) {
        const cons_msg *c = &nd->wal[i]->cm;
        if (c->validator != peer &&
            ((c->round == round && c->type == CONS_PRECOMMIT) || c->round == ours))
            net_send(w, nd->idx, peer, nd->wal[i]);
    }
}

static void on_cons(sim_world *w, sim_node *nd, sim_msg *m)
{
    const cons_msg *cm = &m->cm;
    if (cm->validator >= w->mix.n || cm->validator == nd->idx || cm->type < CONS_PREVOTE ||
        cm->type > CONS_PROPOSAL)
        return;
    if (!verify(w, cm)) {
        w->st.bad_sig++;
        return;
    }
    uint64_t h = cons_height(nd->e);
    note_height(w, nd, cm->height, cm->validator);
    if (cm->height != h && cm->height != h + 1)
        return;
    if (cm->type == CONS_PROPOSAL) {
        if (cm->validator != cons_proposer(nd->e, cm->height, cm->round))
            return;
        if (!block_ok(w, m->blk, cm)) {
            w->st.bad_block++;
            return;
        }
    }
    if (nd->byz && cm->type == CONS_PROPOSAL)
        byz_saw_proposal(nd, cm);
    if (cm->height == h) {
        feed(nd, m);
        drain(w, nd);
        if (nd->up && !nd->byz && cm->height == cons_height(nd->e) &&
            cm->round < cons_round(nd->e))
            help_peer(w, nd, cm->validator, cm->round);
    } else if (nd->n_future < SIM_FUTURE_CAP) {
        nd->future[nd->n_future++] = sim_msg_ref(m);
    }
}

void node_send_sync_items(sim_world *w, sim_node *nd, unsigned to, uint64_t from_h,
                          uint64_t until, int corrupt)
{
    uint64_t top = ledger_height(nd->L);
    if (top > until)
        top = until;
    if (from_h == 0 || from_h > top)
        return;
    sim_msg *r = sim_msg_new(MSG_SYNC_RESP, nd->idx);
    for (uint64_t h = from_h; h <= top && r->n_items < SIM_SYNC_BATCH; h++) {
        ledger_header hdr;
        uint8_t *hb = NULL;
        uint8_t(*ids)[32] = NULL;
        size_t hl = 0, nt = 0;
        ledger_err err;
        if (ledger_get_block(nd->L, h, &hdr, &hb, &hl, &ids, &nt, &err) != 1)
            break;
        sim_block *b = sim_block_new();
        int bad = hl > sizeof b->hdr || nt > SIM_BLOCK_TXS + 1;
        if (!bad) {
            memcpy(b->hdr, hb, hl);
            b->hdr_len = hl;
            b->height = h;
            ledger_header_hash(&hdr, b->hash);
        }
        for (size_t i = 0; !bad && i < nt; i++) {
            uint8_t *env = NULL;
            size_t len = 0;
            uint64_t th;
            uint32_t ti;
            if (ledger_get_tx(nd->L, ids[i], &env, &len, &th, &ti, &err) != 1) {
                bad = 1;
                break;
            }
            b->txs[b->n_txs++] = sim_tx_new(env, len);
            free(env);
        }
        free(hb);
        free(ids);
        sim_sync_item *it = &r->items[r->n_items];
        if (!bad && h > 1) {
            bad = ledger_get_commit(nd->L, h - 1, &b->last_commit, &err) != 1;
            b->has_last_commit = !bad;
        }
        if (bad || ledger_get_commit(nd->L, h, &it->cert, &err) != 1) {
            sim_block_unref(b);
            break;
        }
        if (corrupt) {
            switch (sim_rng_below(&w->rng, 3)) {
            case 0:
                it->cert.sigs[0].sig[7] ^= 0x20; /* a forged signature */
                break;
            case 1:
                it->cert.n_sigs = 1;             /* too few signers */
                break;
            default:
                if (b->n_txs > 0)                /* the block without a transaction */
                    sim_tx_unref(b->txs[--b->n_txs]);
                else
                    it->cert.round += 1;
                break;
            }
        }
        it->blk = b;
        r->n_items++;
    }
    if (r->n_items > 0)
        net_send(w, nd->idx, to, r);
    sim_msg_unref(r);
}

static void on_sync_resp(sim_world *w, sim_node *nd, const sim_msg *m)
{
    size_t applied = 0;
    for (size_t i = 0; i < m->n_items; i++) {
        const sim_sync_item *it = &m->items[i];
        const sim_block *b = it->blk;
        uint64_t want = ledger_height(nd->L) + 1;
        if (b->height < want)
            continue;
        if (b->height > want)
            break;
        ledger_header hdr;
        uint8_t hash[32];
        ledger_err err;
        if (ledger_header_decode(&hdr, b->hdr, b->hdr_len, &err) != 0 || hdr.height != want)
            break;
        ledger_header_hash(&hdr, hash);
        if (sim_commit_verify(w, &it->cert, hash, want, &err) != 0) {
            w->st.sync_refused++;
            sim_log(w, 2, "node %u: sync block h=%llu from %u refused: %s", nd->idx,
                    (unsigned long long)want, m->from, err.msg);
            break;
        }
        free_held(nd);
        const uint8_t *txs[SIM_BLOCK_TXS + 1];
        size_t lens[SIM_BLOCK_TXS + 1];
        for (size_t k = 0; k < b->n_txs; k++) {
            txs[k] = b->txs[k]->env;
            lens[k] = b->txs[k]->len;
        }
        if (ledger_apply_block(nd->L, b->hdr, b->hdr_len, txs, lens, b->n_txs,
                               b->has_last_commit ? &b->last_commit : NULL, &it->cert,
                               all_verified(w, b) ? LEDGER_APPLY_SIG_TRUSTED : 0, &err) != 0) {
            if (err.code == LEDGER_ERR_IO || err.code == LEDGER_ERR_NOMEM)
                sim_fail(w, "sim: node %u: apply: %s", nd->idx, err.msg);
            w->st.sync_refused++;
            sim_log(w, 2, "node %u: sync block h=%llu from %u does not apply: %s", nd->idx,
                    (unsigned long long)want, m->from, err.msg);
            break;
        }
        applied++;
        w->st.syncs_applied++;
        sim_log(w, 1, "node %u: synced h=%llu from node %u", nd->idx, (unsigned long long)want,
                m->from);
        after_commit(w, nd, want, b);
        if (w->failed)
            return;
    }
    if (applied == 0)
        return;
    advance_engine(w, nd);
    drain(w, nd);
    if (nd->up && nd->ahead_height > cons_height(nd->e))
        sync_check_soon(w, nd, 1, 0);
}

void node_on_msg(sim_world *w, sim_node *nd, sim_msg *m)
{
    if (!nd->up)
        return;
    switch (m->kind) {
    case MSG_CONS:
        on_cons(w, nd, m);
        break;
    case MSG_SYNC_REQ:
        if (nd->byz)
            byz_on_sync_req(w, nd, m->from, m->sync_from);
        else
            node_send_sync_items(w, nd, m->from, m->sync_from, UINT64_MAX, 0);
        break;
    case MSG_SYNC_RESP:
        on_sync_resp(w, nd, m);
        break;
    }
}

void node_on_tx(sim_world *w, sim_node *nd, sim_tx *t)
{
    if (!nd->up || nd->n_pool >= SIM_POOL_CAP || pool_find(nd, t->id) >= 0)
        return;
    ledger_tx tx;
    ledger_err err;
    int rc = ledger_tx_admit(w->g, &tx, t->env, t->len, sim_tx_verified(w, t->id), &err);
    ledger_tx_release(&tx);
    if (rc != 0)
        return;
    sim_tx_remember(w, t->id);
    uint8_t *env = NULL;
    size_t len;
    uint64_t th;
    uint32_t ti;
    if (ledger_get_tx(nd->L, t->id, &env, &len, &th, &ti, &err) == 1) {
        free(env); /* committed already */
        return;
    }
    nd->pool[nd->n_pool++] = sim_tx_ref(t);
    if (w->mix.wait_for_value)
        cons_activate(nd->e);
    if (nd->want_value && nd->want_h == cons_height(nd->e))
        on_get_value(w, nd, nd->want_h, nd->want_r);
    drain(w, nd);
}

/* ---- timers ---- */

static void gossip(sim_world *w, sim_node *nd)
{
    /* every message we signed at this height, as signed, so that what was
     * lost is eventually delivered once the network heals ... */
    uint64_t h = cons_height(nd->e);
    if (nd->wal_height != h)
        return;
    for (size_t i = 0; i < nd->n_wal; i++)
        if (nd->wal[i]->cm.validator == nd->idx)
            net_broadcast(w, nd->idx, nd->wal[i]);
    /* ... and the proofs of lock behind our lock and our re-proposals */
    if (nd->ss.present && nd->ss.height == h && nd->ss.lock_round >= 0)
        relay_pol(w, nd, (uint32_t)nd->ss.lock_round, nd->ss.lock_hash);
    for (size_t i = 0; i < nd->n_own; i++) {
        const cons_msg *m = &nd->own[i].m;
        if (m->type == CONS_PROPOSAL && m->height == h && m->pol_round >= 0)
            relay_pol(w, nd, (uint32_t)m->pol_round, m->value.b);
    }
}

static void sync_check(sim_world *w, sim_node *nd, int force)
{
    nd->sync_check_set = 0;
    if (!force && nd->ahead_height <= cons_height(nd->e)) {
        nd->sync_tries = 0;
        return;
    }
    unsigned to = nd->ahead_from;
    if (force || nd->sync_tries > 0 || to == nd->idx || nd->ahead_height == 0) {
        to = (unsigned)sim_rng_below(&w->rng, w->mix.n - 1);
        if (to >= nd->idx)
            to++;
    }
    nd->sync_tries++;
    sim_log(w, 2, "node %u: asks node %u for blocks from h=%llu", nd->idx, to,
            (unsigned long long)ledger_height(nd->L) + 1);
    sim_msg *r = sim_msg_new(MSG_SYNC_REQ, nd->idx);
    r->sync_from = ledger_height(nd->L) + 1;
    net_send(w, nd->idx, to, r);
    sim_msg_unref(r);
    if (nd->ahead_height > cons_height(nd->e))
        sync_check_soon(w, nd, SIM_SYNC_RETRY_MS, 0);
}

void node_on_event(sim_world *w, sim_node *nd, const sim_event *ev)
{
    if (!nd->up || ev->inc != nd->inc)
        return; /* a timer of an earlier life */
    switch (ev->kind) {
    case EV_TIMEOUT:
        if (ev->height == cons_height(nd->e) && ev->round == cons_round(nd->e))
            sim_log(w, 2, "node %u: timeout %s h=%llu r=%u", nd->idx,
                    ev->step == CONS_STEP_PROPOSE   ? "propose"
                    : ev->step == CONS_STEP_PREVOTE ? "prevote"
                                                    : "precommit",
                    (unsigned long long)ev->height, ev->round);
        cons_on_timeout(nd->e, ev->step, ev->height, ev->round);
        break;
    case EV_GOSSIP:
        if (!nd->byz)
            gossip(w, nd);
        schedule_node(w, nd, EV_GOSSIP, SIM_GOSSIP_MS, 0, 0);
        break;
    case EV_SYNC_CHECK:
        sync_check(w, nd, ev->arg != 0);
        break;
    case EV_HEARTBEAT:
        if (cons_height(nd->e) != ev->height)
            break;
        nd->heartbeat_due = 1;
        cons_activate(nd->e);
        if (nd->want_value && nd->want_h == ev->height)
            on_get_value(w, nd, nd->want_h, nd->want_r);
        break;
    case EV_BUILD:
        if (nd->want_value && nd->want_h == ev->height && nd->want_r == ev->arg &&
            cons_height(nd->e) == ev->height)
            on_get_value(w, nd, nd->want_h, nd->want_r);
        break;
    default:
        break;
    }
    drain(w, nd);
}

/* ---- life ---- */

void node_boot(sim_world *w, sim_node *nd)
{
    ledger_err err;
    if (ledger_open(&nd->L, nd->db, w->g, &err) != 0) {
        sim_fail(w, "sim: node %u: ledger_open: %s", nd->idx, err.msg);
        return;
    }
    cons_config cfg = {.n = w->mix.n, .self = (int)nd->idx, .propose_ms = 1000,
                       .propose_delta_ms = 500, .prevote_ms = 500, .prevote_delta_ms = 250,
                       .precommit_ms = 500, .precommit_delta_ms = 250,
                       .wait_for_value = w->mix.wait_for_value};
    nd->e = cons_new(&cfg);
    if (nd->e == NULL) {
        sim_fail(w, "sim: cons_new failed");
        return;
    }
    nd->up = 1;
    nd->inc++;
    nd->height = ledger_height(nd->L);
    nd->last_commit = w->now;
    nd->ahead_height = 0;
    nd->sync_check_set = 0;
    nd->sync_tries = 0;
    /* after a crash in the middle of a height: back to the round the engine
     * was in (the WAL), holding the lock it had (the sign state), with every
     * message of the height replayed (the WAL); the sign state still keeps
     * it from signing anything that conflicts with what it signed before */
    uint64_t h = nd->height + 1;
    int resume = nd->wal_height == h;
    if (!resume)
        wal_clear(nd);
    cons_start(nd->e, h, resume ? nd->wal_round : 0);
    if (nd->ss.present && nd->ss.height == h && nd->ss.lock_round >= 0) {
        cons_hash lock;
        memcpy(lock.b, nd->ss.lock_hash, 32);
        cons_restore_lock(nd->e, nd->ss.lock_round, &lock);
    }
    height_reset(w, nd, h);
    if (resume) {
        size_t n = nd->n_wal;
        sim_msg **log = malloc((n ? n : 1) * sizeof *log);
        if (log == NULL) {
            sim_fail(w, "sim: out of memory");
            return;
        }
        for (size_t i = 0; i < n; i++)
            log[i] = sim_msg_ref(nd->wal[i]);
        for (size_t i = 0; i < n; i++) {
            if (log[i]->cm.validator == nd->idx)
                node_own_add(nd, &log[i]->cm, log[i]->blk);
            feed(nd, log[i]);
            sim_msg_unref(log[i]);
        }
        free(log);
        gossip(w, nd);
    }
    schedule_node(w, nd, EV_GOSSIP, SIM_GOSSIP_MS + sim_rng_below(&w->rng, 200), 0, 0);
    if (nd->crashes > 0)
        sync_check_soon(w, nd, 1, 1); /* after a restart: ask a peer at once */
    drain(w, nd);
}

static void release_all(sim_world *w, sim_node *nd)
{
    if (!nd->byz)
        w->st.equivocations_seen += cons_equivocations(nd->e);
    free_held(nd);
    ledger_close(nd->L);
    nd->L = NULL;
    cons_free(nd->e);
    nd->e = NULL;
    cache_clear(nd);
    own_clear(nd);
    pool_clear(nd);
    future_clear(nd);
    nd->want_value = 0;
    nd->up = 0;
    nd->inc++;
}

void node_crash(sim_world *w, sim_node *nd)
{
    nd->crashes++;
    release_all(w, nd);
}

void node_close(sim_world *w, sim_node *nd)
{
    if (nd->up)
        release_all(w, nd);
    wal_clear(nd);
}
