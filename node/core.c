/* node/core.c: the node core's life, its actions, the engine's actions and
 * signing (core.h).  Blocks and messages: core_store.c; what is said again:
 * core_relay.c; block sync: core_sync.c; transactions: core_gossip.c. */
#include "core_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "log.h"

/* ---- clocks, logging ---- */

uint64_t core_mono(core *c)
{
    return c->h.mono_ms(c->h.ctx);
}

uint64_t core_wall(core *c)
{
    return c->h.wall_ms(c->h.ctx);
}

void core_logf(core *c, int level, const char *fmt, ...)
{
    if (c->h.log == NULL)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->h.log(c->h.ctx, level, msg);
}

/* ---- packed frames ---- */

core_buf *core_buf_pack(const Permit__Frame *f)
{
    size_t len = permit__frame__get_packed_size(f);
    core_buf *b = malloc(sizeof *b + (len ? len : 1));
    if (b == NULL)
        return NULL;
    b->refs = 1;
    b->len = len;
    permit__frame__pack(f, b->data);
    return b;
}

core_buf *core_buf_ref(core_buf *b)
{
    if (b)
        b->refs++;
    return b;
}

void core_buf_unref(core_buf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

/* ---- actions ---- */

void core_action_release(core_action *a)
{
    if (a == NULL)
        return;
    if (a->frame) {
        /* the frame lives inside a core_buf: data is its last member */
        core_buf_unref((core_buf *)(void *)(a->frame - offsetof(core_buf, data)));
    }
    core_block_unref(a->block);
    free(a->trusted);
    free(a->cert);
    for (size_t i = 0; a->txs && i < a->n; i++)
        free(a->txs[i]);
    free(a->txs);
    free(a->lens);
    for (size_t i = 0; a->blocks && i < a->n_blocks; i++)
        core_block_unref(a->blocks[i]);
    free(a->blocks);
    free(a->certs);
    memset(a, 0, sizeof *a);
}

void core_fail(core *c, const char *why)
{
    if (c->failed)
        return;
    c->failed = 1;
    snprintf(c->why, sizeof c->why, "%s", why);
    core_logf(c, NODE_LOG_ERROR, "consensus stops: %s", why);
    /* the FAIL action must get out even when the queue is full */
    if (c->qlen == c->qcap) {
        core_action *a = &c->q[(c->qhead + c->qlen - 1) % c->qcap];
        if (a->kind == CORE_ACT_SEND) {
            core_action_release(a);
            c->qlen--;
        }
    }
    core_action *a = core_push(c, CORE_ACT_FAIL);
    if (a)
        a->why = c->why;
}

core_action *core_push(core *c, core_act_kind kind)
{
    if (c->qlen == c->qcap) {
        if (c->qcap >= CORE_MAX_QUEUE) {
            if (kind == CORE_ACT_SEND) {
                c->st.msgs_dropped++; /* the network may lose a message; nothing else */
                return NULL;
            }
            if (kind != CORE_ACT_FAIL)
                core_fail(c, "the node core's action queue is full");
            return NULL;
        }
        size_t nc = c->qcap ? c->qcap * 2 : 64;
        core_action *nq = malloc(nc * sizeof *nq);
        if (nq == NULL) {
            if (kind != CORE_ACT_SEND && kind != CORE_ACT_FAIL)
                core_fail(c, "out of memory for the node core's actions");
            return NULL;
        }
        for (size_t i = 0; i < c->qlen; i++)
            nq[i] = c->q[(c->qhead + i) % c->qcap];
        free(c->q);
        c->q = nq;
        c->qcap = nc;
        c->qhead = 0;
    }
    core_action *a = &c->q[(c->qhead + c->qlen) % c->qcap];
    c->qlen++;
    memset(a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

int core_next_action(core *c, core_action *out)
{
    if (c->qlen == 0)
        return 0;
    *out = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    return 1;
}

void core_send_buf(core *c, uint32_t peer, core_buf *buf)
{
    if (buf == NULL)
        return;
    if (peer != CORE_ALL_PEERS && (peer >= c->n_peers || !c->peers[peer].up))
        return;
    core_action *a = core_push(c, CORE_ACT_SEND);
    if (a == NULL)
        return;
    a->peer = peer;
    a->frame = core_buf_ref(buf)->data;
    a->len = buf->len;
}

void core_send_frame(core *c, uint32_t peer, const Permit__Frame *f)
{
    core_buf *b = core_buf_pack(f);
    if (b == NULL) {
        c->st.msgs_dropped++;
        return;
    }
    core_send_buf(c, peer, b);
    core_buf_unref(b);
}

/* ---- signing ---- */

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

/* The sign state checks the prevotes of a proof of lock with this: m's
 * height is the one asked (sign_height). */
static int verify_for_signer(void *ctx, const ledger_genesis *g, uint32_t v,
                             const uint8_t msg[32], const uint8_t sig[64])
{
    core *c = ctx;
    (void)g;
    return core_verify(c, c->sign_height, v, msg, sig);
}

/* Ask the sign state, record durably, sign, send, keep it to say again,
 * and hand it back to the engine (which counts its own message only now). */
static void sign_and_send(core *c, const cons_msg *m, const node_sign_evidence *ev)
{
    int step = sign_step(m->type);
    core_block *blk = NULL;
    if (m->type == CONS_PROPOSAL && (blk = core_store_find(c, &m->value)) == NULL) {
        core_logf(c, NODE_LOG_WARN, "consensus: the block to propose at %llu/%u is not here",
                  (unsigned long long)m->height, m->round);
        return;
    }
    if (c->quarantine) {
        if (c->ledger_height > c->quarantine_height && c->ledger_height >= c->own_seen_height &&
            m->height > c->own_seen_height) {
            c->quarantine = 0;
            core_logf(c, NODE_LOG_INFO,
                      "consensus: synced past height %llu (the ledger's at start) and every "
                      "height this validator was seen voting at: signing again",
                      (unsigned long long)c->quarantine_height);
        } else {
            c->st.sign_refused++;
            core_logf(c, NODE_LOG_WARN,
                      "consensus: not signing %s %llu/%u: no sign state, and not yet synced past "
                      "height %llu and the votes of this validator seen up to height %llu",
                      type_name(m->type), (unsigned long long)m->height, m->round,
                      (unsigned long long)c->quarantine_height,
                      (unsigned long long)c->own_seen_height);
            return;
        }
    }
    const ledger_genesis *vs = core_vset(c, m->height);
    if (vs == NULL || core_self_at(c, m->height) != (int)m->validator) {
        c->st.sign_refused++;
        core_logf(c, NODE_LOG_WARN, "consensus: not signing %s %llu/%u: not validator %u of "
                                    "that height",
                  type_name(m->type), (unsigned long long)m->height, m->round, m->validator);
        return;
    }
    c->sign_height = m->height;
    const char *why = node_sign_refusal(&c->ss, vs, m->height, m->round, step, m->value.b, ev,
                                        verify_for_signer, c);
    if (why) {
        c->st.sign_refused++;
        core_logf(c, NODE_LOG_WARN, "consensus: not signing %s %llu/%u: %s", type_name(m->type),
                  (unsigned long long)m->height, m->round, why);
        return;
    }
    node_sign_state next;
    node_sign_state_next(&c->ss, m->height, m->round, step, m->value.b, &next);
    if (memcmp(&next, &c->ss, sizeof next) != 0) {
        ledger_err err;
        /* the lock this precommit takes, with its block and proof, first */
        if (m->type == CONS_PRECOMMIT && !cons_hash_is_nil(&m->value) &&
            core_lock_record(c, m, ev) != 0)
            return;
        if (c->h.persist(c->h.ctx, &next, &err) != 0) {
            core_logf(c, NODE_LOG_ERROR,
                      "consensus: cannot record what is signed (%s): not signing", err.msg);
            core_lock_settle(c, 0);
            return;
        }
        core_lock_settle(c, 1);
        c->ss = next;
    }
    uint8_t msg[32];
    cons_msg own = *m;
    if (m->type == CONS_PROPOSAL)
        ledger_proposal_sighash(c->g->chain_id, m->height, m->round, m->pol_round, m->value.b,
                                msg);
    else
        ledger_vote_sighash(c->g->chain_id, (int)m->type, m->height, m->round, m->value.b, msg);
    if (c->h.sign(c->h.ctx, m->height, msg, own.sig) != 0) {
        core_logf(c, NODE_LOG_ERROR, "consensus: signing failed");
        return;
    }
    core_logf(c, NODE_LOG_DEBUG, "consensus: sending %s %llu/%u %s", type_name(m->type),
              (unsigned long long)m->height, m->round,
              cons_hash_is_nil(&m->value) ? "nil" : "block");
    core_buf *buf = core_pack_msg(&own, blk);
    if (buf == NULL) {
        c->st.msgs_dropped++;
    } else {
        core_send_buf(c, CORE_ALL_PEERS, buf);
        core_keep_own(c, &own, buf);
        core_buf_unref(buf);
    }
    /* a re-proposal goes with its proof of lock: peers that missed those
     * prevotes (a partition, a restart) could not accept it otherwise */
    if (m->type == CONS_PROPOSAL && m->pol_round >= 0 && ev && ev->round == m->pol_round)
        core_relay_pol(c, CORE_ALL_PEERS, m->height, ev->round, &m->value, ev->n, ev->validators,
                       ev->sigs);
    cons_on_msg(c->e, &own);
}

/* ---- making, validating and committing blocks ---- */

void core_try_build(core *c)
{
    if (!c->want_value || c->building || c->committing || c->failed)
        return;
    if (c->want_h != cons_height(c->e) || c->want_r != cons_round(c->e) ||
        c->ledger_height + 1 != c->want_h) {
        c->want_value = 0; /* stale, or the ledger is elsewhere: the round times out */
        return;
    }
    const ledger_params *p = core_params(c, c->want_h);
    size_t waiting = node_mempool_waiting(c->mp);
    uint64_t now = core_mono(c);
    int heartbeat = now - c->last_commit_mono >= p->heartbeat_ms;
    /* an empty block only for the heartbeat, or to close a height that
     * needed more than one round already */
    if (waiting == 0 && !heartbeat && c->want_r == 0)
        return;
    uint64_t due = c->last_commit_mono + p->block_interval_ms;
    if (now < due && waiting < p->max_block_txs) {
        c->build_at = due;
        return;
    }
    c->build_at = 0;
    size_t want = waiting < p->max_block_txs ? waiting : p->max_block_txs;
    mp_tx **list = calloc(want ? want : 1, sizeof *list);
    core_action *a = list ? core_push(c, CORE_ACT_BUILD) : NULL;
    if (a == NULL) {
        free(list);
        return;
    }
    a->height = c->want_h;
    a->round = c->want_r;
    a->time = core_wall(c);
    a->txs = calloc(want ? want : 1, sizeof *a->txs);
    a->lens = calloc(want ? want : 1, sizeof *a->lens);
    size_t got = a->txs && a->lens ? node_mempool_peek(c->mp, list, want) : 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < got; i++) {
        if (bytes + list[i]->len > p->max_block_bytes)
            break; /* the ledger would refuse the rest: do not copy it */
        a->txs[i] = malloc(list[i]->len);
        if (a->txs[i] == NULL)
            break;
        memcpy(a->txs[i], list[i]->env, list[i]->len);
        a->lens[i] = list[i]->len;
        a->n = i + 1;
        bytes += list[i]->len;
    }
    free(list);
    c->want_value = 0;
    c->building = 1;
}

static void on_commit_action(core *c, const cons_action *ca)
{
    uint64_t h = ca->height;
    core_block *b = core_store_find(c, &ca->value);
    ledger_commit *cert = calloc(1, sizeof *cert);
    if (cert == NULL) {
        core_fail(c, "out of memory for a certificate");
        return;
    }
    cert->height = h;
    cert->round = ca->round;
    memcpy(cert->block_hash, ca->value.b, 32);
    cert->n_sigs = ca->n_sigs;
    for (size_t i = 0; i < ca->n_sigs; i++) {
        cert->sigs[i].validator = ca->signers[i];
        memcpy(cert->sigs[i].sig, ca->sigs[i], 64);
    }
    if (b == NULL || c->ledger_height + 1 != h) {
        /* decided without the block here (or with the ledger elsewhere):
         * the others have it, so it comes by sync */
        free(cert);
        core_logf(c, NODE_LOG_WARN,
                  "consensus: block %llu was decided but is not here: fetching it",
                  (unsigned long long)h);
        core_behind(c, CORE_ALL_PEERS, NULL, h, CORE_KNOWN);
    } else {
        core_action *a = core_push(c, CORE_ACT_COMMIT);
        if (a == NULL) {
            free(cert);
            return;
        }
        a->height = h;
        a->block = core_block_ref(b);
        a->cert = cert;
        c->committing = 1;
        c->committing_h = h;
        core_block_unref(c->committing_block);
        c->committing_block = core_block_ref(b);
    }
    /* the next height starts: what was kept for this one goes, and what
     * came early for the next is handed over */
    c->want_value = 0;
    c->build_at = 0;
    c->last_progress_mono = core_mono(c);
    core_store_drop_below(c, h + 1);
    core_relay_reset(c, h + 1);
    core_ahead_replay(c);
}

static void on_engine_action(core *c, const cons_action *a)
{
    switch (a->kind) {
    case CONS_ACT_BROADCAST: {
        node_sign_evidence ev = {.round = a->ev_round, .n = a->n_sigs, .validators = a->signers,
                                 .sigs = (const uint8_t(*)[64])a->sigs};
        sign_and_send(c, &a->msg, &ev);
        break;
    }
    case CONS_ACT_GET_VALUE:
        core_logf(c, NODE_LOG_DEBUG, "consensus: to propose at %llu/%u",
                  (unsigned long long)a->height, a->round);
        c->want_value = 1;
        c->want_h = a->height;
        c->want_r = a->round;
        core_try_build(c);
        break;
    case CONS_ACT_VALIDATE: {
        core_block *b = core_store_find(c, &a->value);
        if (b)
            core_validate(c, b);
        else
            core_await_add(c, &a->value);
        break;
    }
    case CONS_ACT_TIMEOUT:
        if (a->step <= CONS_STEP_PRECOMMIT) {
            c->eto[a->step].at = core_mono(c) + a->delay_ms;
            c->eto[a->step].height = a->height;
            c->eto[a->step].round = a->round;
        }
        break;
    case CONS_ACT_COMMIT:
        on_commit_action(c, a);
        break;
    }
}

void core_drain(core *c)
{
    static cons_action a; /* large; the core runs on one thread and never re-enters here */
    if (c->failed)
        return;
    while (!c->failed && cons_next_action(c->e, &a))
        on_engine_action(c, &a);
    if (cons_failed(c->e)) {
        char why[128];
        if (c->vset_missing)
            snprintf(why, sizeof why, "the validators of height %llu are not known",
                     (unsigned long long)c->vset_missing);
        else
            snprintf(why, sizeof why, "the consensus engine had to drop an action");
        core_fail(c, why);
    }
}

/* ---- life ---- */

core *core_new(const core_config *cfg, const core_hooks *hooks, node_mempool *mp,
               const node_sign_state *ss, const uint8_t *lock, size_t lock_len,
               uint64_t ledger_height)
{
    if (cfg->g == NULL || cfg->g->n_validators == 0 ||
        cfg->g->n_validators > LEDGER_MAX_DEPARTMENTS ||
        (cfg->self >= 0 && (size_t)cfg->self >= cfg->g->n_validators) ||
        (cfg->observer && (cfg->self >= 0 || cfg->node_key != NULL)) ||
        (hooks->vset != NULL && cfg->self >= 0) || hooks->mono_ms == NULL ||
        hooks->wall_ms == NULL || hooks->persist == NULL || hooks->sign == NULL || mp == NULL)
        return NULL;
    core *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->cfg = *cfg;
    c->h = *hooks;
    c->g = cfg->g;
    c->voter = !cfg->observer && (hooks->vset ? cfg->node_key != NULL : cfg->self >= 0);
    /* a validator's peers are the department nodes and the observers; an
     * observer's, the department nodes */
    c->n_peers = cfg->observer ? CORE_NODE_SLOTS : CORE_MAX_PEERS;
    c->mp = mp;
    c->ss = *ss;
    c->ledger_height = ledger_height;
    /* a validator whose ledger has blocks but whose sign state is gone (a
     * home restored from a backup, say) does not know what it signed after
     * the copy was made: it signs nothing until it has synced past that
     * height and past every height it is seen to have voted at (DESIGN §13) */
    if (c->voter && !ss->present && ledger_height > 0) {
        c->quarantine = 1;
        c->quarantine_height = ledger_height;
    }
    /* n and self here are the first height's until cons_start asks */
    cons_config cc = {.n = (unsigned)cfg->g->n_validators,
                      .self = hooks->vset ? -1 : cfg->self,
                      .validators = core_engine_validators, .ctx = c,
                      .propose_ms = cfg->propose_ms, .propose_delta_ms = cfg->delta_ms,
                      .prevote_ms = cfg->vote_ms, .prevote_delta_ms = cfg->delta_ms,
                      .precommit_ms = cfg->vote_ms, .precommit_delta_ms = cfg->delta_ms,
                      .wait_for_value = 1,
                      .own_propose_extra_ms = cfg->g->params.block_interval_ms};
    c->e = cons_new(&cc);
    if (lock && lock_len) {
        c->lock_rec = malloc(lock_len);
        if (c->lock_rec) {
            memcpy(c->lock_rec, lock, lock_len);
            c->lock_rec_len = lock_len;
        }
    }
    if (c->e == NULL || core_gossip_init(c) != 0 || (lock_len && c->lock_rec == NULL)) {
        core_free(c);
        return NULL;
    }
    return c;
}

void core_free(core *c)
{
    if (c == NULL)
        return;
    core_action a;
    while (core_next_action(c, &a))
        core_action_release(&a);
    free(c->q);
    core_block_unref(c->committing_block);
    for (size_t i = 0; i < c->n_applying; i++)
        core_block_unref(c->applying_blocks[i]);
    free(c->applying_blocks);
    free(c->lock_rec);
    free(c->lock_last);
    free(c->lock_pending);
    core_store_free(c);
    core_relay_free(c);
    core_gossip_free(c);
    cons_free(c->e);
    core_vsets_free(c);
    free(c);
}

void core_start(core *c)
{
    uint64_t now = core_mono(c);
    uint64_t h = c->ledger_height + 1;
    c->last_commit_mono = now;
    c->last_progress_mono = now;
    c->heartbeat_at = now + core_params(c, h)->heartbeat_ms;
    c->resend_at = now + CORE_RESEND_MS;
    core_relay_reset(c, h);
    /* After a restart in the middle of a height, holding the lock it had:
     * when the last thing signed was a vote, go on in its round and say that
     * vote again (it may have been lost with the crash, and the others may
     * need it for a quorum of the round); after a proposal, whose block is
     * gone, in the round after.  The sign state keeps the node from signing
     * anything that conflicts either way. */
    const node_sign_state *s = &c->ss;
    int resume = s->present && s->height == h;
    int revote = resume && s->step != SIGN_STEP_PROPOSAL;
    uint32_t round = !resume ? 0 : revote ? s->round : s->round + 1;
    cons_start(c->e, h, round);
    if (c->cfg.observer)
        core_logf(c, NODE_LOG_INFO, "observer: following %u validators from height %llu",
                  cons_validators(c->e), (unsigned long long)h);
    else
        core_logf(c, NODE_LOG_INFO,
                  "consensus: validator %d of %u, starting at height %llu round %u",
                  cons_self(c->e), cons_validators(c->e), (unsigned long long)h, round);
    if (resume && s->lock_round >= 0) {
        cons_hash lock;
        memcpy(lock.b, s->lock_hash, 32);
        cons_restore_lock(c->e, s->lock_round, &lock);
    }
    core_lock_restore(c);
    if (revote && cons_self(c->e) >= 0) {
        core_logf(c, NODE_LOG_INFO, "consensus: resuming height %llu in round %u, saying its %s "
                                    "again",
                  (unsigned long long)h, round,
                  s->step == SIGN_STEP_PREVOTE ? "prevote" : "precommit");
        cons_msg v;
        memset(&v, 0, sizeof v);
        v.type = s->step == SIGN_STEP_PREVOTE ? CONS_PREVOTE : CONS_PRECOMMIT;
        v.height = h;
        v.round = s->round;
        v.pol_round = CONS_NIL_ROUND;
        v.validator = (uint32_t)cons_self(c->e);
        memcpy(v.value.b, s->hash, 32);
        sign_and_send(c, &v, NULL); /* the very same vote: the sign state allows it */
    }
    if (node_mempool_waiting(c->mp) > 0)
        cons_activate(c->e);
    core_drain(c);
}

/* ---- events ---- */

/* A frame from an observer (on a validator): it may ask for blocks and hand
 * over the transactions submitted to it; nothing it says counts in
 * consensus. */
static void on_observer_frame(core *c, uint32_t peer, const Permit__Frame *f)
{
    switch (f->msg_case) {
    case PERMIT__FRAME__MSG_TXS:
        core_on_tx_gossip(c, peer, f->txs);
        break;
    case PERMIT__FRAME__MSG_TX_ANNOUNCE:
        core_on_tx_announce(c, peer, f->tx_announce);
        break;
    case PERMIT__FRAME__MSG_SYNC_REQUEST:
        core_on_sync_request(c, peer, f->sync_request);
        break;
    default:
        c->st.msgs_dropped++;
        break;
    }
}

/* A frame from a validator, on an observer: certified blocks, and the
 * requests for transactions it announced.  Consensus messages are not
 * followed: an observer never votes, and applies only blocks whose
 * certificates verify. */
static void on_frame_as_observer(core *c, uint32_t peer, const Permit__Frame *f)
{
    switch (f->msg_case) {
    case PERMIT__FRAME__MSG_TX_REQUEST:
        core_on_tx_request(c, peer, f->tx_request);
        break;
    case PERMIT__FRAME__MSG_SYNC_RESPONSE:
        core_on_sync_response(c, peer, f->sync_response);
        break;
    default:
        break;
    }
}

void core_on_frame(core *c, uint32_t peer, const Permit__Frame *f)
{
    if (c->failed || peer >= c->n_peers || f == NULL)
        return;
    if (peer >= CORE_NODE_SLOTS || c->cfg.observer) {
        if (peer >= CORE_NODE_SLOTS)
            on_observer_frame(c, peer, f);
        else
            on_frame_as_observer(c, peer, f);
        core_drain(c);
        return;
    }
    switch (f->msg_case) {
    case PERMIT__FRAME__MSG_CONSENSUS:
        core_on_consensus(c, peer, f->consensus);
        break;
    case PERMIT__FRAME__MSG_TXS:
        core_on_tx_gossip(c, peer, f->txs);
        break;
    case PERMIT__FRAME__MSG_TX_ANNOUNCE:
        core_on_tx_announce(c, peer, f->tx_announce);
        break;
    case PERMIT__FRAME__MSG_TX_REQUEST:
        core_on_tx_request(c, peer, f->tx_request);
        break;
    case PERMIT__FRAME__MSG_SYNC_REQUEST:
        core_on_sync_request(c, peer, f->sync_request);
        break;
    case PERMIT__FRAME__MSG_SYNC_RESPONSE:
        core_on_sync_response(c, peer, f->sync_response);
        break;
    default:
        break; /* the link layer's own frames, or unknown ones */
    }
    core_drain(c);
}

void core_on_link(core *c, uint32_t peer, int up, uint64_t hello_height)
{
    if (c->failed || peer >= c->n_peers)
        return;
    peer_state *p = &c->peers[peer];
    if (p->up == !!up)
        return;
    if (up) {
        /* its node key: who it is in each height's set */
        const uint8_t *key = NULL;
        if (c->h.peer_key)
            key = c->h.peer_key(c->h.ctx, peer);
        else if (peer < c->g->n_validators)
            key = c->g->departments[c->g->validators[peer]].node.raw;
        p->has_key = key != NULL;
        if (key)
            memcpy(p->key, key, 32);
        if (key && c->cfg.node_key && memcmp(key, c->cfg.node_key, 32) == 0)
            return; /* ourselves */
    }
    p->up = !!up;
    if (peer >= CORE_NODE_SLOTS) {
        /* an observer: it follows by asking and by the blocks we push; it
         * hears no gossip and no consensus */
        return;
    }
    c->st.peers += up ? 1 : -1;
    core_gossip_link(c, peer, up);
    if (up) {
        /* a peer that (re)joins hears what we said at this height, and what
         * we relay; its handshake height is a hint, never evidence */
        core_say_again(c, peer, 1);
        if (hello_height > c->ledger_height)
            core_behind(c, peer, NULL, hello_height, CORE_HINT);
    } else if (c->sync_inflight && c->sync_peer == peer) {
        c->sync_inflight = 0; /* its answer will not come: ask another */
        core_behind(c, c->target_peer, NULL, c->sync_target, CORE_KNOWN);
    }
    core_drain(c);
}

void core_on_tick(core *c)
{
    if (c->failed)
        return;
    uint64_t now = core_mono(c);
    for (int s = 0; s <= CONS_STEP_PRECOMMIT; s++)
        if (c->eto[s].at && now >= c->eto[s].at) {
            c->eto[s].at = 0;
            core_logf(c, NODE_LOG_DEBUG, "consensus: timeout %d at %llu/%u", s,
                      (unsigned long long)c->eto[s].height, c->eto[s].round);
            cons_on_timeout(c->e, (cons_step)s, c->eto[s].height, c->eto[s].round);
        }
    if (c->build_at && now >= c->build_at) {
        c->build_at = 0;
        core_try_build(c);
    }
    if (c->heartbeat_at && now >= c->heartbeat_at) {
        c->heartbeat_at = 0; /* again after the next commit */
        cons_activate(c->e);
        core_try_build(c);
    }
    if (c->cfg.observer)
        core_observer_prune(c, now);
    core_relay_tick(c, now);
    core_sync_tick(c, now);
    core_gossip_tick(c, now);
    core_drain(c);
}

uint64_t core_next_deadline(const core *c)
{
    uint64_t d = UINT64_MAX;
#define EARLIER(t)                                                                       \
    do {                                                                                 \
        if ((t) && (t) < d)                                                              \
            d = (t);                                                                     \
    } while (0)
    for (int s = 0; s <= CONS_STEP_PRECOMMIT; s++)
        EARLIER(c->eto[s].at);
    EARLIER(c->build_at);
    EARLIER(c->heartbeat_at);
    EARLIER(c->resend_at);
    EARLIER(c->gossip_at);
    EARLIER(core_sync_deadline(c));
    if (c->cfg.observer)
        EARLIER(c->prune_at ? c->prune_at : 1);
#undef EARLIER
    return d;
}

void core_on_tx(core *c, const uint8_t id[32], int from_peer)
{
    if (c->failed)
        return;
    core_gossip_queue(c, id, from_peer);
    cons_activate(c->e);
    core_try_build(c);
    core_drain(c);
}

void core_kick(core *c)
{
    if (c->failed)
        return;
    if (node_mempool_waiting(c->mp) > 0)
        cons_activate(c->e);
    core_try_build(c);
    core_drain(c);
}

void core_on_built(core *c, uint64_t height, uint32_t round, core_block *built,
                   const uint8_t (*refused)[32], size_t n_refused)
{
    c->building = 0;
    for (size_t i = 0; i < n_refused; i++)
        node_mempool_remove(c->mp, refused[i]);
    if (c->failed) {
        core_block_unref(built);
        return;
    }
    if (built == NULL) {
        core_logf(c, NODE_LOG_WARN, "consensus: no block made for %llu/%u",
                  (unsigned long long)height, round);
    } else if (height != cons_height(c->e)) {
        core_block_unref(built); /* the height was decided meanwhile */
    } else if (cons_self(c->e) >= 0 &&
               core_store_add(c, built, height, round, (uint32_t)cons_self(c->e))) {
        cons_on_value(c->e, height, round, &built->hash);
    }
    core_drain(c);
}

void core_on_validated(core *c, uint64_t height, const cons_hash *hash, int ok)
{
    if (c->failed)
        return;
    cons_on_validated(c->e, height, hash, ok);
    core_drain(c);
}

/* Every height up to the ledger's is decided: what was kept for them goes,
 * the engine moves on if it was behind, and consensus goes on. */
void core_height_advanced(core *c)
{
    uint64_t h = c->ledger_height + 1;
    uint64_t now = core_mono(c);
    c->last_commit_mono = now;
    c->heartbeat_at = now + core_params(c, h)->heartbeat_ms;
    if (h > cons_height(c->e)) {
        cons_advance(c->e, h);
        c->want_value = 0;
        c->build_at = 0;
        c->last_progress_mono = now;
        core_store_drop_below(c, h);
        core_relay_reset(c, h);
        core_ahead_replay(c);
    }
    if (node_mempool_waiting(c->mp) > 0)
        cons_activate(c->e);
    core_try_build(c);
}

void core_mempool_drop_block(core *c, const core_block *b)
{
    for (size_t i = 0; i < b->n; i++)
        node_mempool_remove(c->mp, b->ids[i]);
}

void core_on_committed(core *c, uint64_t height, int ok)
{
    core_block *b = NULL;
    if (c->committing && c->committing_h == height) {
        c->committing = 0;
        b = c->committing_block;
        c->committing_block = NULL;
    }
    if (ok && b)
        core_mempool_drop_block(c, b);
    core_block_unref(b);
    if (c->failed)
        return;
    if (ok) {
        if (height > c->ledger_height)
            c->ledger_height = height;
        core_push_observers(c, height);
        core_height_advanced(c);
    } else if (c->ledger_height < height) {
        core_logf(c, NODE_LOG_ERROR,
                  "consensus: block %llu was decided but cannot be committed: fetching it",
                  (unsigned long long)height);
        core_behind(c, CORE_ALL_PEERS, NULL, height, CORE_KNOWN);
    }
    core_drain(c);
}

/* ---- introspection ---- */

void core_get_stats(const core *c, core_stats *out)
{
    *out = c->st;
    out->height = cons_height(c->e);
    out->round = cons_round(c->e);
    out->ledger_height = c->ledger_height;
    /* an observer applies every block as a push: that is following, not
     * catching up (its /health stays 200) */
    out->syncing = (c->sync_inflight && !(c->cfg.observer && c->probe_inflight)) ||
                   (c->applying && (!c->cfg.observer || c->applying_asked));
    out->sync_target = c->sync_target;
    out->equivocations = cons_equivocations(c->e);
}

const cons_engine *core_engine(const core *c)
{
    return c->e;
}

const node_sign_state *core_sign_state(const core *c)
{
    return &c->ss;
}
