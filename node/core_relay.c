/* node/core_relay.c: what a node says again, relays and sends to help a
 * peer (core.h).
 *
 * Tendermint assumes that what one correct node receives reaches every
 * correct node.  Over links that drop (a restart, a partition) that takes
 * work: votes are sent once, so a peer that lost them would wait forever.
 * So, for the height being decided:
 *  - our own messages are said again while the height stalls (our votes
 *    every second, our proposals every CORE_RESEND_BLOCK_MS), and to any
 *    peer whose link comes up;
 *  - the verified votes of the others are relayed with them, one per
 *    (validator, type, round): a proof of lock or a round's precommits must
 *    reach a peer even when their signer is down;
 *  - a re-proposal goes with the prevotes of its proof of lock;
 *  - a peer that shows us an earlier round of our height gets, at most once
 *    a second, the precommits of its round (so it can time that round out)
 *    and what we hold of ours (f + 1 senders there let it join us).
 * Everything kept is bounded: CORE_OWN_MAX and CORE_RELAY_MAX packed frames. */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

core_buf *core_pack_msg(const cons_msg *m, const core_block *b)
{
    Permit__ConsensusMsg cm = PERMIT__CONSENSUS_MSG__INIT;
    cm.type = m->type;
    cm.height = m->height;
    cm.round = m->round;
    cm.pol_round = m->type == CONS_PROPOSAL ? m->pol_round : CONS_NIL_ROUND;
    cm.validator = m->validator;
    cm.sig.data = (uint8_t *)m->sig;
    cm.sig.len = 64;
    if (!cons_hash_is_nil(&m->value)) {
        cm.block_hash.data = (uint8_t *)m->value.b;
        cm.block_hash.len = 32;
    }
    Permit__Block pb;
    ProtobufCBinaryData *txs = NULL;
    static ledger_commit_pb lc; /* one thread */
    if (b) {
        txs = calloc(b->n ? b->n : 1, sizeof *txs);
        if (txs == NULL)
            return NULL;
        core_block_to_pb(b, &pb, txs, &lc);
        cm.block = &pb;
    }
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_CONSENSUS;
    f.consensus = &cm;
    core_buf *buf = core_buf_pack(&f);
    free(txs);
    return buf;
}

int core_msg_pack(const cons_msg *m, const core_block *b, uint8_t **frame, size_t *len)
{
    core_buf *buf = core_pack_msg(m, b);
    *frame = buf ? malloc(buf->len ? buf->len : 1) : NULL;
    if (*frame == NULL) {
        core_buf_unref(buf);
        return -1;
    }
    memcpy(*frame, buf->data, buf->len);
    *len = buf->len;
    core_buf_unref(buf);
    return 0;
}

static void kept_clear(kept_msg *k, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        core_buf_unref(k[i].buf);
    *n = 0;
}

void core_relay_reset(core *c, uint64_t height)
{
    if (c->msgs_height == height)
        return;
    kept_clear(c->own, &c->n_own);
    kept_clear(c->relay, &c->n_relay);
    c->msgs_height = height;
    c->resend_blocks_at = 0; /* a new height's proposal may go again at the first stall */
}

void core_relay_free(core *c)
{
    kept_clear(c->own, &c->n_own);
    kept_clear(c->relay, &c->n_relay);
}

void core_keep_own(core *c, const cons_msg *m, core_buf *buf)
{
    core_relay_reset(c, m->height);
    if (c->n_own == CORE_OWN_MAX) {
        core_buf_unref(c->own[0].buf);
        memmove(c->own, c->own + 1, (CORE_OWN_MAX - 1) * sizeof c->own[0]);
        c->n_own--;
    }
    kept_msg *k = &c->own[c->n_own++];
    k->buf = core_buf_ref(buf);
    k->validator = m->validator;
    k->type = m->type;
    k->round = m->round;
    k->peer = UINT32_MAX;
}

/* Votes behind the lock and the valid value are kept longest: they are the
 * proofs a peer may need to follow us (line 28). */
static int precious(core *c, const kept_msg *k)
{
    int32_t lr = cons_locked_round(c->e, NULL), vr = cons_valid_round(c->e, NULL);
    return k->type == CONS_PREVOTE && ((int64_t)k->round == lr || (int64_t)k->round == vr);
}

static uint64_t round_distance(uint32_t round, uint32_t ours)
{
    return round >= ours ? 2 * (uint64_t)(round - ours) : (uint64_t)(ours - round);
}

void core_keep_relay(core *c, const cons_msg *m)
{
    if (m->type == CONS_PROPOSAL)
        return;
    core_relay_reset(c, m->height);
    for (size_t i = 0; i < c->n_relay; i++)
        if (c->relay[i].validator == m->validator && c->relay[i].type == (uint32_t)m->type &&
            c->relay[i].round == m->round)
            return;
    if (c->n_relay == CORE_RELAY_MAX) {
        /* the round furthest from ours goes first (rounds ahead count
         * double: a validator that signs votes for far rounds must not crowd
         * out the rounds being decided), proofs of lock last */
        uint32_t ours = cons_round(c->e);
        size_t v = SIZE_MAX;
        for (size_t i = 0; i < c->n_relay; i++)
            if (!precious(c, &c->relay[i]) &&
                (v == SIZE_MAX ||
                 round_distance(c->relay[i].round, ours) > round_distance(c->relay[v].round, ours)))
                v = i;
        if (v == SIZE_MAX ||
            round_distance(c->relay[v].round, ours) <= round_distance(m->round, ours))
            return;
        core_buf_unref(c->relay[v].buf);
        c->relay[v] = c->relay[--c->n_relay];
    }
    core_buf *buf = core_pack_msg(m, NULL);
    if (buf == NULL)
        return;
    kept_msg *k = &c->relay[c->n_relay++];
    k->buf = buf;
    k->validator = m->validator;
    k->type = m->type;
    k->round = m->round;
    k->peer = core_val_peer(c, m->height, m->validator); /* its own goes not back to it */
}

void core_relay_pol(core *c, uint32_t peer, uint64_t height, int32_t round,
                    const cons_hash *value, size_t n, const uint32_t *validators,
                    const uint8_t (*sigs)[64])
{
    for (size_t i = 0; i < n; i++) {
        if ((int)validators[i] == core_self_at(c, height))
            continue; /* ours went out already, and goes out again with our messages */
        cons_msg m;
        memset(&m, 0, sizeof m);
        m.type = CONS_PREVOTE;
        m.height = height;
        m.round = (uint32_t)round;
        m.pol_round = CONS_NIL_ROUND;
        m.value = *value;
        m.validator = validators[i];
        memcpy(m.sig, sigs[i], 64);
        core_keep_relay(c, &m);
        core_buf *buf = core_pack_msg(&m, NULL);
        core_send_buf(c, peer, buf);
        core_buf_unref(buf);
    }
}

void core_say_again(core *c, uint32_t peer, int proposals)
{
    if (c->msgs_height != cons_height(c->e))
        return;
    for (size_t i = 0; i < c->n_own; i++)
        if (proposals || c->own[i].type != CONS_PROPOSAL)
            core_send_buf(c, peer, c->own[i].buf);
    for (size_t i = 0; i < c->n_relay; i++)
        if (c->relay[i].peer != peer || peer == CORE_ALL_PEERS)
            core_send_buf(c, peer, c->relay[i].buf);
}

void core_help_peer(core *c, uint32_t peer, uint32_t their_round)
{
    if (peer >= CORE_NODE_SLOTS || !c->peers[peer].up || c->msgs_height != cons_height(c->e))
        return;
    uint64_t now = core_mono(c);
    if (now < c->peers[peer].help_next)
        return;
    c->peers[peer].help_next = now + CORE_HELP_MS;
    uint32_t ours = cons_round(c->e);
    for (size_t i = 0; i < c->n_own; i++)
        if (c->own[i].round == ours)
            core_send_buf(c, peer, c->own[i].buf);
    for (size_t i = 0; i < c->n_relay; i++) {
        const kept_msg *k = &c->relay[i];
        if (k->peer != peer &&
            ((k->round == their_round && k->type == CONS_PRECOMMIT) || k->round == ours))
            core_send_buf(c, peer, k->buf);
    }
}

/* While a height does not advance, say the votes again once a second, and
 * our proposals (whole blocks, up to max_block_bytes each) only every
 * CORE_RESEND_BLOCK_MS: a link that came up got them already. */
void core_relay_tick(core *c, uint64_t now)
{
    if (now < c->resend_at)
        return;
    c->resend_at = now + CORE_RESEND_MS;
    if (now - c->last_progress_mono < CORE_RESEND_MS)
        return;
    int blocks = now >= c->resend_blocks_at;
    if (blocks)
        c->resend_blocks_at = now + CORE_RESEND_BLOCK_MS;
    core_say_again(c, CORE_ALL_PEERS, blocks);
}
