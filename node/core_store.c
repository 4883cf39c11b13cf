/* node/core_store.c: blocks and consensus messages of the current height
 * and the next (core.h).
 *
 * Everything a peer sends is bounded before it is kept: a proposal is
 * looked at only inside the engine's round window and from the round's
 * proposer; its block is decoded within the genesis limits and must hash to
 * what was signed; blocks are kept by (height, round, proposer), at most
 * CORE_STORE_MAX and CORE_STORE_BYTES, and when the store is full the block
 * furthest from the current round that no rule needs gives way.  A
 * Byzantine validator flooding proposals for far rounds fills nothing. */
#include "core_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/limits.h"
#include "log.h"

/* ---- blocks ---- */

static void block_free(core_block *b)
{
    for (size_t i = 0; b->txs && i < b->n; i++)
        free(b->txs[i]);
    free(b->txs);
    free(b->lens);
    free(b->ids);
    free(b->hdr_bytes);
    free(b);
}

core_block *core_block_ref(core_block *b)
{
    if (b)
        atomic_fetch_add(&b->refs, 1);
    return b;
}

void core_block_unref(core_block *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        block_free(b);
}

static core_block *block_alloc(size_t n)
{
    core_block *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->txs = calloc(n ? n : 1, sizeof *b->txs);
    b->lens = calloc(n ? n : 1, sizeof *b->lens);
    b->ids = calloc(n ? n : 1, sizeof *b->ids);
    if (!b->txs || !b->lens || !b->ids) {
        block_free(b);
        return NULL;
    }
    return b;
}

core_block *core_block_from_pb(const Permit__Block *pb, size_t max_txs, size_t max_bytes,
                               ledger_err *err)
{
    if (pb == NULL || pb->header.len == 0 || pb->header.len > LEDGER_MAX_HEADER_BYTES)
        return ledger_fail(err, LEDGER_ERR_INVALID, "block_invalid", "block header missing or "
                                                                     "too large"),
               NULL;
    if (pb->n_txs > max_txs)
        return ledger_fail(err, LEDGER_ERR_INVALID, "block_invalid",
                           "block holds %zu transactions; at most %zu", pb->n_txs, max_txs),
               NULL;
    size_t total = 0;
    for (size_t i = 0; i < pb->n_txs; i++) {
        if (pb->txs[i].len == 0 || pb->txs[i].len > LEDGER_MAX_ENVELOPE)
            return ledger_fail(err, LEDGER_ERR_INVALID, "block_invalid",
                               "transaction %zu of the block has %zu bytes", i, pb->txs[i].len),
                   NULL;
        total += pb->txs[i].len;
    }
    if (total > max_bytes)
        return ledger_fail(err, LEDGER_ERR_INVALID, "block_invalid",
                           "block holds %zu bytes; at most %zu", total, max_bytes),
               NULL;
    core_block *b = block_alloc(pb->n_txs);
    if (b == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory"), NULL;
    if (ledger_header_decode(&b->hdr, pb->header.data, pb->header.len, err) != 0)
        goto bad;
    if (pb->last_commit) {
        if (ledger_commit_from_pb(&b->last_commit, pb->last_commit, err) != 0)
            goto bad;
        b->has_last_commit = 1;
    }
    ledger_header_hash(&b->hdr, b->hash.b);
    b->hdr_bytes = malloc(pb->header.len);
    if (b->hdr_bytes == NULL)
        goto nomem;
    memcpy(b->hdr_bytes, pb->header.data, pb->header.len);
    b->hdr_len = pb->header.len;
    for (size_t i = 0; i < pb->n_txs; i++) {
        b->txs[i] = malloc(pb->txs[i].len);
        if (b->txs[i] == NULL)
            goto nomem;
        memcpy(b->txs[i], pb->txs[i].data, pb->txs[i].len);
        b->lens[i] = pb->txs[i].len;
        ledger_sha256(b->txs[i], b->lens[i], b->ids[i]);
        b->n = i + 1;
    }
    b->bytes = total + b->hdr_len;
    return b;
nomem:
    ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
bad:
    block_free(b);
    return NULL;
}

core_block *core_block_new(const ledger_header *hdr, uint8_t *hdr_bytes, size_t hdr_len,
                           uint8_t **txs, size_t *lens, size_t n, const ledger_commit *last_commit)
{
    core_block *b = calloc(1, sizeof *b);
    uint8_t(*ids)[32] = calloc(n ? n : 1, 32);
    if (b == NULL || ids == NULL) {
        for (size_t i = 0; i < n; i++)
            free(txs[i]);
        free(txs);
        free(lens);
        free(hdr_bytes);
        free(ids);
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->hdr = *hdr;
    ledger_header_hash(hdr, b->hash.b);
    b->hdr_bytes = hdr_bytes;
    b->hdr_len = hdr_len;
    b->txs = txs;
    b->lens = lens;
    b->ids = ids;
    b->n = n;
    b->bytes = hdr_len;
    for (size_t i = 0; i < n; i++) {
        ledger_sha256(txs[i], lens[i], ids[i]);
        b->bytes += lens[i];
    }
    if (last_commit) {
        b->last_commit = *last_commit;
        b->has_last_commit = 1;
    }
    return b;
}

void core_block_to_pb(const core_block *b, Permit__Block *pb, ProtobufCBinaryData *txs,
                      ledger_commit_pb *lc)
{
    permit__block__init(pb);
    pb->header.data = b->hdr_bytes;
    pb->header.len = b->hdr_len;
    for (size_t i = 0; i < b->n; i++) {
        txs[i].data = b->txs[i];
        txs[i].len = b->lens[i];
    }
    pb->n_txs = b->n;
    pb->txs = txs;
    if (b->has_last_commit) {
        ledger_commit_to_pb(&b->last_commit, lc);
        pb->last_commit = &lc->pc;
    }
}

/* ---- the store ---- */

core_block *core_store_find(core *c, const cons_hash *h)
{
    for (size_t i = 0; i < c->n_store; i++)
        if (cons_hash_eq(&c->store[i].b->hash, h))
            return c->store[i].b;
    for (size_t i = 0; i < c->n_ahead; i++)
        if (c->ahead[i].b && cons_hash_eq(&c->ahead[i].b->hash, h))
            return c->ahead[i].b;
    return NULL;
}

/* Blocks a rule may still need: the lock, the valid value (a re-proposal),
 * our own of this height, and the current round's. */
static int pinned(core *c, const store_entry *e)
{
    cons_hash v;
    if (cons_locked_round(c->e, &v) >= 0 && cons_hash_eq(&v, &e->b->hash))
        return 1;
    if (cons_valid_round(c->e, &v) >= 0 && cons_hash_eq(&v, &e->b->hash))
        return 1;
    if (e->height != cons_height(c->e))
        return 0;
    return e->round == cons_round(c->e); /* ours of earlier rounds may go: they are many */
}

/* How far an entry is from where the engine is: the one furthest away
 * goes first.  Rounds ahead count from the current one, rounds behind
 * likewise, the next height after all of this one. */
static uint64_t distance(core *c, uint64_t height, uint32_t round)
{
    uint64_t h = cons_height(c->e);
    uint32_t r = cons_round(c->e);
    if (height > h)
        return (uint64_t)1 << 32 | round;
    return round >= r ? (uint64_t)(round - r) * 2 : (uint64_t)(r - round) * 2 + 1;
}

static void entry_drop(core *c, size_t i)
{
    c->store_bytes -= c->store[i].b->bytes;
    core_block_unref(c->store[i].b);
    c->store[i] = c->store[--c->n_store];
}

int core_store_add(core *c, core_block *b, uint64_t height, uint32_t round, uint32_t proposer)
{
    for (size_t i = 0; i < c->n_store; i++) {
        store_entry *e = &c->store[i];
        if (cons_hash_eq(&e->b->hash, &b->hash)) {
            if (e->height == height && round > e->round)
                e->round = round; /* proposed again: as close as its latest round */
            core_block_unref(b);
            return 1;
        }
        if (e->height == height && e->round == round && e->proposer == proposer) {
            core_block_unref(b); /* the proposer's second block for a round: the first stays */
            c->st.blocks_dropped++;
            return 0;
        }
    }
    uint64_t d = distance(c, height, round);
    while (c->n_store == CORE_STORE_MAX || c->store_bytes + b->bytes > CORE_STORE_BYTES) {
        size_t victim = SIZE_MAX;
        uint64_t far = 0;
        for (size_t i = 0; i < c->n_store; i++) {
            uint64_t di = distance(c, c->store[i].height, c->store[i].round);
            if (di > far && !pinned(c, &c->store[i])) {
                far = di;
                victim = i;
            }
        }
        if (victim == SIZE_MAX || far <= d) {
            core_block_unref(b);
            c->st.blocks_dropped++;
            return 0;
        }
        entry_drop(c, victim);
        c->st.blocks_dropped++;
    }
    store_entry *e = &c->store[c->n_store++];
    e->b = b;
    e->height = height;
    e->round = round;
    e->proposer = proposer;
    c->store_bytes += b->bytes;
    /* the engine may be waiting for this block to validate it */
    if (height == cons_height(c->e))
        for (size_t i = 0; i < c->n_await; i++)
            if (cons_hash_eq(&c->await[i], &b->hash)) {
                c->await[i] = c->await[--c->n_await];
                core_validate(c, b);
                break;
            }
    return 1;
}

void core_store_drop_below(core *c, uint64_t height)
{
    for (size_t i = c->n_store; i-- > 0;)
        if (c->store[i].height < height)
            entry_drop(c, i);
    c->n_await = 0;
}

void core_await_add(core *c, const cons_hash *h)
{
    for (size_t i = 0; i < c->n_await; i++)
        if (cons_hash_eq(&c->await[i], h))
            return;
    if (c->n_await == CORE_AWAIT_MAX)
        memmove(c->await, c->await + 1, (CORE_AWAIT_MAX - 1) * sizeof c->await[0]), c->n_await--;
    c->await[c->n_await++] = *h;
}

/* Before a block is executed: its height, its time against our clock
 * (DESIGN §5: a block too far ahead gets no vote), its proposer. */
void core_validate(core *c, core_block *b)
{
    uint64_t h = cons_height(c->e), wall = core_wall(c);
    const char *why = NULL;
    if (b->hdr.height != h)
        why = "it is for another height";
    else if (b->hdr.time > wall + c->cfg.max_clock_drift_ms)
        why = "its time is ahead of this node's clock by more than max_clock_drift";
    else if (core_vset(c, h) == NULL ||
             ledger_genesis_validator_index(core_vset(c, h), b->hdr.proposer) < 0)
        why = "its proposer is not a validator of its height";
    if (why) {
        core_logf(c, NODE_LOG_WARN, "consensus: proposed block %llu is invalid: %s",
                  (unsigned long long)b->hdr.height, why);
        cons_on_validated(c->e, h, &b->hash, 0);
        return;
    }
    core_action *a = core_push(c, CORE_ACT_VALIDATE);
    if (a == NULL)
        return;
    a->height = h;
    a->block = core_block_ref(b);
    a->trusted = calloc(b->n ? b->n : 1, 1);
    /* signatures verified at admission to the mempool are not checked again */
    for (size_t i = 0; a->trusted && i < b->n; i++)
        a->trusted[i] = (uint8_t)node_mempool_contains(c->mp, b->ids[i]);
}

/* ---- the next height ---- */

static void ahead_drop(core *c, size_t i)
{
    core_block_unref(c->ahead[i].b);
    c->ahead[i] = c->ahead[--c->n_ahead];
}

void core_ahead_clear(core *c)
{
    while (c->n_ahead)
        ahead_drop(c, c->n_ahead - 1);
    c->ahead_since = 0;
}

/* One per (validator, type, round); when full, the message of the
 * furthest round gives way to one of a nearer round.  Blocks of the next
 * height are few: at most CORE_STORE_MAX / 4 of them, the furthest round's
 * giving way likewise. */
void core_ahead_add(core *c, const cons_msg *m, core_block *b, uint32_t peer, int unchecked)
{
    size_t blocks = 0, far = SIZE_MAX, far_block = SIZE_MAX;
    for (size_t i = 0; i < c->n_ahead; i++) {
        const cons_msg *x = &c->ahead[i].m;
        if (x->validator == m->validator && x->type == m->type && x->round == m->round &&
            x->height == m->height) {
            if (c->ahead[i].unchecked && !unchecked) {
                /* a checked one takes the place of one nobody could check */
                ahead_drop(c, i);
                core_ahead_add(c, m, b, peer, unchecked);
                return;
            }
            if (!c->ahead[i].unchecked || !unchecked) {
                core_block_unref(b);
                return;
            }
            /* two unchecked: a forgery must not keep the real one out (the
             * bounds below still hold; replay checks both) */
        }
        if (c->ahead[i].b != NULL) {
            blocks++;
            if (far_block == SIZE_MAX || x->round > c->ahead[far_block].m.round)
                far_block = i;
        }
        if (far == SIZE_MAX || x->round > c->ahead[far].m.round)
            far = i;
    }
    if (b && blocks >= CORE_STORE_MAX / 4) {
        /* a proposal of a nearer round takes the place of the furthest */
        if (c->ahead[far_block].m.round <= m->round) {
            core_block_unref(b);
            c->st.blocks_dropped++;
            return;
        }
        ahead_drop(c, far_block);
        c->st.blocks_dropped++;
        far = SIZE_MAX;
        for (size_t i = 0; i < c->n_ahead; i++)
            if (far == SIZE_MAX || c->ahead[i].m.round > c->ahead[far].m.round)
                far = i;
    }
    if (c->n_ahead == CORE_AHEAD_MAX) {
        if (c->ahead[far].m.round <= m->round) {
            core_block_unref(b);
            c->st.msgs_dropped++;
            return;
        }
        ahead_drop(c, far);
        c->st.msgs_dropped++;
    }
    c->ahead[c->n_ahead].m = *m;
    c->ahead[c->n_ahead].b = b;
    c->ahead[c->n_ahead].peer = peer;
    c->ahead[c->n_ahead].unchecked = unchecked;
    c->n_ahead++;
    if (c->ahead_since == 0)
        c->ahead_since = core_mono(c);
}

static int msg_checks(core *c, uint32_t peer, const cons_msg *m, const core_block *b);

/* A restored validator without its sign state signs nothing until past
 * every height it is seen to have voted at (core.c, quarantine): a message
 * it signed before is recognised by its own node key, whatever index the
 * set of that height gives it.  msg: m's signed hash, or NULL to compute. */
void core_saw_own(core *c, const cons_msg *m, const uint8_t *msg)
{
    if (!c->quarantine || m->height <= c->own_seen_height)
        return;
    if (c->cfg.node_key == NULL) { /* genesis' validators throughout: our index */
        if ((int)m->validator == c->cfg.self)
            c->own_seen_height = m->height;
        return;
    }
    uint8_t h[32];
    if (msg == NULL) {
        if (m->type == CONS_PROPOSAL)
            ledger_proposal_sighash(c->g->chain_id, m->height, m->round, m->pol_round,
                                    m->value.b, h);
        else
            ledger_vote_sighash(c->g->chain_id, (int)m->type, m->height, m->round, m->value.b,
                                h);
        msg = h;
    }
    ledger_pubkey own;
    if (ledger_pubkey_parse(&own, c->cfg.node_key) == 0 && ledger_verify(&own, msg, 32, m->sig))
        c->own_seen_height = m->height; /* signed before a restart (or a restore) */
}

/* The engine reached the height some messages were kept for: hand them
 * over (those kept before their height's validators were known are checked
 * now); drop what is for heights already left. */
void core_ahead_replay(core *c)
{
    uint64_t h = cons_height(c->e);
    size_t k = c->n_ahead;
    ahead_entry *now = malloc((k ? k : 1) * sizeof *now);
    size_t n_now = 0;
    for (size_t i = c->n_ahead; i-- > 0;) {
        ahead_entry *a = &c->ahead[i];
        if (a->m.height == h && now) {
            now[n_now++] = *a;
            a->b = NULL;
            c->ahead[i] = c->ahead[--c->n_ahead];
        } else if (a->m.height < h || now == NULL) {
            ahead_drop(c, i);
        }
    }
    if (c->n_ahead == 0)
        c->ahead_since = 0;
    for (size_t i = n_now; i-- > 0;) {
        if (now[i].unchecked) {
            if (!msg_checks(c, now[i].peer, &now[i].m, now[i].b)) {
                core_block_unref(now[i].b);
                continue;
            }
            core_saw_own(c, &now[i].m, NULL);
        }
        if (now[i].b)
            core_store_add(c, now[i].b, h, now[i].m.round, now[i].m.validator);
        else
            core_keep_relay(c, &now[i].m);
        cons_on_msg(c->e, &now[i].m);
    }
    free(now);
}

void core_store_free(core *c)
{
    while (c->n_store)
        entry_drop(c, c->n_store - 1);
    core_ahead_clear(c);
}

/* ---- consensus messages from peers ---- */

int core_msg_from_pb(const Permit__ConsensusMsg *cm, unsigned n, cons_msg *m)
{
    if (cm->validator >= n || cm->sig.len != 64 || cm->type < CONS_PREVOTE ||
        cm->type > CONS_PROPOSAL || (cm->block_hash.len != 0 && cm->block_hash.len != 32) ||
        cm->pol_round < CONS_NIL_ROUND)
        return -1;
    memset(m, 0, sizeof *m);
    m->type = (cons_type)cm->type;
    m->height = cm->height;
    m->round = cm->round;
    m->pol_round = cm->pol_round;
    m->validator = cm->validator;
    if (cm->block_hash.len == 32)
        memcpy(m->value.b, cm->block_hash.data, 32);
    memcpy(m->sig, cm->sig.data, 64);
    return 0;
}

/* What needs the validators of m's height: the signature, and for a
 * proposal, that it is the round's proposer's, sent by it (votes may be
 * relayed; proposals come straight from their proposer), with its own block
 * unless it re-proposes one.  1 when m passes. */
static int msg_checks(core *c, uint32_t peer, const cons_msg *m, const core_block *b)
{
    uint8_t msg[32];
    if (m->type == CONS_PROPOSAL)
        ledger_proposal_sighash(c->g->chain_id, m->height, m->round, m->pol_round, m->value.b,
                                msg);
    else
        ledger_vote_sighash(c->g->chain_id, (int)m->type, m->height, m->round, m->value.b, msg);
    if (!core_verify(c, m->height, m->validator, msg, m->sig)) {
        c->st.bad_sigs++;
        core_logf(c, NODE_LOG_DEBUG, "consensus: bad signature from validator %u (via %u)",
                  m->validator, peer);
        return 0;
    }
    if (m->type == CONS_PROPOSAL &&
        (core_proposer(c, m->height, m->round) != m->validator ||
         !core_peer_is_val(c, peer, m->height, m->validator) ||
         (m->pol_round < 0 &&
          memcmp(b->hdr.proposer, core_val_key(c, m->height, m->validator), 32) != 0))) {
        c->st.bad_blocks++;
        return 0;
    }
    return 1;
}

void core_on_consensus(core *c, uint32_t peer, const Permit__ConsensusMsg *cm)
{
    /* bounds and form first; proposals come straight from their proposer,
     * votes may be relayed (their signature is what counts), our own votes
     * too: after a restart, what we signed before it and lost with it
     * (a proof of lock may need our prevote; the sign state keeps us from
     * signing anything that conflicts with it) */
    cons_msg m;
    if (cm == NULL || core_msg_from_pb(cm, CONS_MAX_VALIDATORS, &m) != 0) {
        c->st.msgs_dropped++;
        return;
    }
    uint64_t h = cons_height(c->e);
    if (m.height < h) {
        core_help_behind(c, peer, m.height); /* the peer is still deciding a block we have */
        return;
    }
    /* inside the engine's window, before anything costs a verification */
    uint32_t base = m.height == h ? cons_round(c->e) : 0;
    if (m.height <= h + 1 && m.round >= base + CONS_FUTURE_ROUNDS) {
        c->st.msgs_dropped++;
        return;
    }
    if (m.height > h + 1) {
        /* a validator signed for a later height: those below are decided.
         * That height's validators are not known here: its signer must be
         * one of the newest set this node knows */
        uint64_t at = core_vset(c, m.height) ? m.height : core_vset(c, h + 1) ? h + 1 : h;
        uint8_t msg[32];
        if (m.type == CONS_PROPOSAL)
            ledger_proposal_sighash(c->g->chain_id, m.height, m.round, m.pol_round, m.value.b,
                                    msg);
        else
            ledger_vote_sighash(c->g->chain_id, (int)m.type, m.height, m.round, m.value.b, msg);
        if (!core_verify(c, at, m.validator, msg, m.sig)) {
            c->st.bad_sigs++;
            return;
        }
        core_saw_own(c, &m, msg);
        core_behind(c, peer, core_val_key(c, at, m.validator), m.height - 1, CORE_SIGNED);
        return;
    }
    if (m.type == CONS_PROPOSAL && (int)m.validator == core_self_at(c, m.height)) {
        c->st.msgs_dropped++; /* ours come from us, not back */
        return;
    }
    core_block *b = NULL;
    if (m.type == CONS_PROPOSAL) {
        if (cm->block == NULL || cons_hash_is_nil(&m.value) ||
            (m.pol_round >= 0 && (uint32_t)m.pol_round >= m.round)) {
            c->st.bad_blocks++;
            return;
        }
        /* the bounds in force at its height, the hard ones while unknown
         * (the ledger checks those in force before it executes) */
        const ledger_genesis *pm = core_vset(c, m.height + 1);
        b = core_block_from_pb(cm->block,
                               pm ? pm->params.max_block_txs : LEDGER_MAX_BLOCK_TXS_HARD,
                               pm ? pm->params.max_block_bytes : LEDGER_MAX_BLOCK_BYTES_HARD,
                               NULL);
        if (b == NULL || !cons_hash_eq(&b->hash, &m.value) || b->hdr.height != m.height) {
            core_block_unref(b);
            c->st.bad_blocks++;
            return;
        }
    }
    /* the next height's validators may not be known yet (its block two
     * back is still being written): then its messages wait unchecked */
    int known = core_vset(c, m.height) != NULL;
    if (known && !msg_checks(c, peer, &m, b)) {
        core_block_unref(b);
        return;
    }
    if (known)
        core_saw_own(c, &m, NULL);
    if (m.height == h + 1) {
        core_ahead_add(c, &m, b, peer, !known);
        /* a peer is a height ahead and we do not get there: fetch blocks */
        if (c->ahead_since && core_mono(c) - c->ahead_since > CORE_AHEAD_SYNC_MS)
            core_behind(c, peer, known ? core_val_key(c, m.height, m.validator) : NULL, h,
                        known ? CORE_SIGNED : CORE_HINT);
        return;
    }
    if (!known) {
        c->st.msgs_dropped++; /* this height's validators are always known */
        return;
    }
    if (b)
        core_store_add(c, b, m.height, m.round, m.validator);
    else
        core_keep_relay(c, &m);
    cons_on_msg(c->e, &m);
    /* its signer is in an earlier round of this height: help it on */
    if (m.round < cons_round(c->e) && m.height == cons_height(c->e)) {
        uint32_t p = core_val_peer(c, m.height, m.validator);
        if (p != UINT32_MAX)
            core_help_peer(c, p, m.round);
    }
}
