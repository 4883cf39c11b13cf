/* tests/sim/byz.c: a Byzantine validator.
 *
 * It runs the honest node core (so it keeps up with the chain and knows
 * when it proposes); every frame its core sends goes through byz_send, which
 * lies on the way out per the seed's flags, and its sync answers through
 * byz_serve.  It holds a valid node key: whatever it signs verifies.
 *  - BYZ_EQUIVOCATE: splits its peers in two for each round: as proposer it
 *    sends each side another block; it prevotes and precommits the round's
 *    proposal to one side and nil to the other.  As proposer it often plays
 *    the lock-breaking attack: its proposal and prevote reach all but f
 *    correct "victims", its precommit reaches one "decider" only, so the
 *    decider decides while the others are left locked without a decision and
 *    the victims without the proof; in later rounds of that height it backs
 *    whatever is proposed, and it never hands out the decided block by sync.
 *    A node that does not keep its lock then decides another block;
 *  - BYZ_GARBAGE: validly signed messages for wrong heights and rounds, votes
 *    for random values, bad signatures, proposals whose block does not match
 *    its header, whose transactions were swapped, whose time is an hour
 *    ahead, proposals for rounds it does not lead, and forged sync answers;
 *  - BYZ_MUTE: drops most of what it should send, and answers no sync
 *    request;
 *  - BYZ_LURE: signs messages for a height far ahead (the evidence that makes
 *    a node ask for blocks) and answers sync requests with nothing: a node
 *    that let a fruitless sync reset its consensus would lose its lock;
 *  - BYZ_FLOOD: signs proposals for every round it leads inside the engine's
 *    window and for rounds far beyond it, each with its own block: a node
 *    whose buffers fill up with them stops deciding;
 *  - BYZ_SILENT_PROPOSER: never sends its proposals.
 * It is excluded from the invariants about correct nodes, but counts as one
 * of the n validators. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include "node/core.h"

/* ---- frames ---- */

/* Pack a consensus message (with its block, if any); bytes are malloc'd.
 * tamper_header: one bit of the block's header flipped after the fact, so
 * that it no longer hashes to what was signed. */
static uint8_t *pack(const cons_msg *m, const core_block *b, size_t *len, int tamper_header,
                     sim_rng *rng)
{
    uint8_t *buf;
    if (core_msg_pack(m, b, &buf, len) != 0)
        abort();
    if (!tamper_header)
        return buf;
    Permit__Frame *f = permit__frame__unpack(NULL, *len, buf);
    if (f == NULL || f->consensus->block == NULL || f->consensus->block->header.len == 0)
        abort();
    ProtobufCBinaryData *hd = &f->consensus->block->header;
    hd->data[sim_rng_below(rng, hd->len)] ^= 0x01;
    free(buf);
    *len = permit__frame__get_packed_size(f);
    buf = malloc(*len ? *len : 1);
    if (buf == NULL)
        abort();
    permit__frame__pack(f, buf);
    permit__frame__free_unpacked(f, NULL);
    return buf;
}

static void send_to(sim_world *w, sim_node *nd, uint32_t to, const uint8_t *frame, size_t len)
{
    net_send_to(w, nd->idx, to, frame, len);
}

static void send_msg(sim_world *w, sim_node *nd, uint32_t to, const cons_msg *m,
                     const core_block *b)
{
    size_t len;
    uint8_t *buf = pack(m, b, &len, 0, NULL);
    send_to(w, nd, to, buf, len);
    free(buf);
}

/* Does a message for `to` (CORE_ALL_PEERS: everyone) reach peer p? */
static int reaches(uint32_t to, unsigned p)
{
    return to == CORE_ALL_PEERS || to == p;
}

/* ---- lies ---- */

/* The same (height, round, type) with another value, signed. */
static int conflicting(sim_world *w, sim_node *nd, const cons_msg *m, cons_msg *alt,
                       core_block **blk)
{
    *alt = *m;
    *blk = NULL;
    if (m->type == CONS_PROPOSAL) {
        uint64_t t = node_clock(w, nd) + 1 + sim_rng_below(&w->rng, 500);
        *blk = node_make_block(w, nd, t, sim_rng_below(&w->rng, 2));
        if (*blk == NULL || cons_hash_eq(&(*blk)->hash, &m->value)) {
            core_block_unref(*blk);
            *blk = NULL;
            return 0;
        }
        alt->value = (*blk)->hash;
        if (alt->pol_round >= 0 && sim_rng_chance(&w->rng, 500))
            alt->pol_round = CONS_NIL_ROUND;
    } else if (!cons_hash_is_nil(&m->value)) {
        memset(alt->value.b, 0, 32);
    } else {
        sim_rng_bytes(&w->rng, alt->value.b, 32); /* nil was the honest vote */
    }
    node_sign(w, nd, alt);
    return 1;
}

static void garbage(sim_world *w, sim_node *nd, uint32_t to, const cons_msg *m,
                    const core_block *blk)
{
    cons_msg g = *m;
    unsigned kind = (unsigned)sim_rng_below(&w->rng, 8);
    if (kind >= 4 && kind <= 6 && (m->type != CONS_PROPOSAL || blk == NULL))
        kind = 1;
    w->st.byz_garbage++;
    switch (kind) {
    case 0: /* a wrong height */
        if (g.height > 1 && sim_rng_chance(&w->rng, 300))
            g.height -= 1;
        else
            g.height += 1 + sim_rng_below(&w->rng, 5);
        node_sign(w, nd, &g);
        send_msg(w, nd, to, &g, blk);
        break;
    case 1: /* a wrong round, possibly far ahead */
        g.round += 1 + (uint32_t)sim_rng_below(&w->rng, 200);
        node_sign(w, nd, &g);
        send_msg(w, nd, to, &g, blk);
        break;
    case 2: /* a vote for a block nobody has */
        g.type = sim_rng_chance(&w->rng, 500) ? CONS_PREVOTE : CONS_PRECOMMIT;
        g.pol_round = CONS_NIL_ROUND;
        sim_rng_bytes(&w->rng, g.value.b, 32);
        node_sign(w, nd, &g);
        send_msg(w, nd, to, &g, NULL);
        break;
    case 3: /* a signature that does not verify */
        node_sign(w, nd, &g);
        g.sig[sim_rng_below(&w->rng, 64)] ^= (uint8_t)(1u << sim_rng_below(&w->rng, 8));
        send_msg(w, nd, to, &g, blk);
        break;
    case 4: { /* header bytes that do not hash to the value */
        size_t len;
        uint8_t *buf = pack(m, blk, &len, 1, &w->rng);
        send_to(w, nd, to, buf, len);
        free(buf);
        break;
    }
    case 5: { /* a block whose header lies about the state, or whose transactions
                 were swapped (dropped: it does not hash, or does not execute) */
        ledger_header hdr = blk->hdr;
        hdr.state_root[sim_rng_below(&w->rng, 32)] ^= 0x40;
        uint8_t *hb = malloc(LEDGER_MAX_HEADER_BYTES);
        uint8_t **txs = calloc(blk->n + 1, sizeof *txs);
        size_t *lens = calloc(blk->n + 1, sizeof *lens), hl;
        if (hb == NULL || txs == NULL || lens == NULL ||
            ledger_header_encode(&hdr, hb, LEDGER_MAX_HEADER_BYTES, &hl) != 0)
            abort();
        size_t n = blk->n;
        for (size_t i = 0; i < n; i++) {
            txs[i] = malloc(blk->lens[i]);
            if (txs[i] == NULL)
                abort();
            memcpy(txs[i], blk->txs[i], blk->lens[i]);
            lens[i] = blk->lens[i];
        }
        if (n > 0 && sim_rng_chance(&w->rng, 500))
            free(txs[--n]); /* one transaction short of what the header holds */
        core_block *b = core_block_new(&hdr, hb, hl, txs, lens, n,
                                       blk->has_last_commit ? &blk->last_commit : NULL);
        if (b == NULL)
            abort();
        g.value = b->hash;
        g.pol_round = CONS_NIL_ROUND;
        node_sign(w, nd, &g);
        send_msg(w, nd, to, &g, b);
        core_block_unref(b);
        break;
    }
    case 6: { /* a block an hour ahead of everyone's clock */
        core_block *b = node_make_block(w, nd, node_clock(w, nd) + 3600 * 1000, 0);
        if (b == NULL)
            break;
        g.value = b->hash;
        g.pol_round = CONS_NIL_ROUND;
        node_sign(w, nd, &g);
        send_msg(w, nd, to, &g, b);
        core_block_unref(b);
        break;
    }
    default: /* a proposal for a round it does not lead */
        g.type = CONS_PROPOSAL;
        g.round += 1;
        g.pol_round = CONS_NIL_ROUND;
        if (blk == NULL)
            sim_rng_bytes(&w->rng, g.value.b, 32);
        node_sign(w, nd, &g);
        send_msg(w, nd, to, &g, blk);
        break;
    }
}

static uint64_t mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* The attack plan of (h, r), the same for every Byzantine validator of the
 * seed (a hash of the seed, not the shared PRNG): 1 when the round's
 * proposer is Byzantine and plays it, with f correct victims and a decider. */
static int plan_of(const sim_world *w, uint64_t h, uint32_t r, unsigned *victims,
                   unsigned *decider)
{
    unsigned n = w->mix.nv; /* the validators of genesis (the sets may change: the plan is
                               then off, which only makes the attack weaker) */
    if (!(w->mix.byz_flags & BYZ_EQUIVOCATE) || !((w->mix.byz_mask >> ((h + r) % n)) & 1u))
        return 0;
    uint64_t x = mix64(w->seed ^ mix64(h * UINT64_C(0x100000001b3) + r));
    if (x % 1000 >= 600)
        return 0;
    unsigned correct[SIM_MAX_N], nc = 0;
    for (unsigned i = 0; i < n; i++)
        if (!((w->mix.byz_mask >> i) & 1u))
            correct[nc++] = i;
    for (unsigned i = nc; i-- > 1;) {
        x = mix64(x);
        unsigned j = (unsigned)(x % (i + 1)), t = correct[i];
        correct[i] = correct[j];
        correct[j] = t;
    }
    if (nc < w->mix.f + 1)
        return 0;
    *victims = 0;
    for (unsigned i = 0; i < w->mix.f; i++)
        *victims |= 1u << correct[i];
    *decider = correct[w->mix.f];
    return 1;
}

/* The block a vote of the attack is for: the round's proposal. */
static int round_value(const sim_node *nd, const cons_msg *m, cons_hash *out)
{
    unsigned k = m->round % 64;
    if (!cons_hash_is_nil(&m->value)) {
        *out = m->value;
        return 1;
    }
    if (nd->byz_prop_height[k] != m->height || nd->byz_prop_round[k] != m->round)
        return 0;
    *out = nd->byz_prop[k];
    return 1;
}

/* Send m to the peers in `to_mask` (and in `to`), nil (signed) to those in
 * nil_mask. */
static void send_masked(sim_world *w, sim_node *nd, uint32_t to, const cons_msg *m,
                        const core_block *blk, unsigned to_mask, unsigned nil_mask)
{
    size_t la, lb = 0;
    uint8_t *a = pack(m, blk, &la, 0, NULL), *b = NULL;
    if (m->type != CONS_PROPOSAL) {
        cons_msg nil = *m;
        memset(nil.value.b, 0, 32);
        node_sign(w, nd, &nil);
        b = pack(&nil, NULL, &lb, 0, NULL);
    }
    for (unsigned p = 0; p < w->mix.n; p++) {
        if (p == nd->idx || !reaches(to, p) || !net_link_up(w, nd->idx, p))
            continue;
        if ((to_mask >> p) & 1u)
            net_send(w, nd->idx, p, a, la);
        else if (b && ((nil_mask >> p) & 1u))
            net_send(w, nd->idx, p, b, lb);
    }
    free(a);
    free(b);
}

/* The lock-breaking attack; 1 when it handled the message. */
static int attack(sim_world *w, sim_node *nd, uint32_t to, const cons_msg *m,
                  const core_block *blk)
{
    unsigned victims, decider, all = (1u << w->mix.n) - 1;
    cons_msg v = *m;
    if (plan_of(w, m->height, m->round, &victims, &decider)) {
        if (nd->atk_height != m->height) {
            nd->atk_height = m->height;
            nd->atk_round = m->round;
            nd->atk_decider = decider;
            w->st.byz_attacks++;
        }
        if (m->type == CONS_PROPOSAL) {
            send_masked(w, nd, to, m, blk, all & ~victims, 0);
            return 1;
        }
        if (!round_value(nd, m, &v.value))
            return 0;
        node_sign(w, nd, &v);
        if (m->type == CONS_PREVOTE)
            send_masked(w, nd, to, &v, NULL, all & ~victims, victims);
        else
            send_masked(w, nd, to, &v, NULL, 1u << decider, all & ~(1u << decider));
        return 1;
    }
    if (nd->atk_height == m->height && m->round > nd->atk_round && m->type != CONS_PROPOSAL &&
        round_value(nd, m, &v.value)) {
        node_sign(w, nd, &v); /* back whatever is proposed now */
        send_masked(w, nd, to, &v, NULL, all & ~(1u << nd->atk_decider), 1u << nd->atk_decider);
        return 1;
    }
    return 0;
}

static void saw_proposal(sim_node *nd, const cons_msg *m)
{
    unsigned k = m->round % 64;
    nd->byz_prop[k] = m->value;
    nd->byz_prop_height[k] = m->height;
    nd->byz_prop_round[k] = m->round;
}

void byz_saw(sim_node *nd, const Permit__Frame *f)
{
    if (f->msg_case != PERMIT__FRAME__MSG_CONSENSUS || f->consensus->type != CONS_PROPOSAL ||
        f->consensus->block_hash.len != 32)
        return;
    cons_msg m;
    memset(&m, 0, sizeof m);
    m.height = f->consensus->height;
    m.round = f->consensus->round;
    memcpy(m.value.b, f->consensus->block_hash.data, 32);
    saw_proposal(nd, &m);
}

/* One split of the peers per (height, round), so that both votes of a
 * round go the same way. */
static unsigned split_of(sim_world *w, sim_node *nd, const cons_msg *m)
{
    if (nd->byz_split_height != m->height || nd->byz_split_round != m->round) {
        nd->byz_split_height = m->height;
        nd->byz_split_round = m->round;
        nd->byz_split = (unsigned)sim_rng_below(&w->rng, 1u << w->mix.n);
    }
    return nd->byz_split;
}

/* Proposals for every round it leads in the window ahead and far beyond,
 * each with a block of its own. */
static void flood(sim_world *w, sim_node *nd, const cons_msg *m)
{
    if (nd->flood_height == m->height && nd->flood_round == m->round)
        return;
    nd->flood_height = m->height;
    nd->flood_round = m->round;
    w->st.byz_floods++;
    unsigned sent = 0;
    for (uint32_t k = 1; k < 2 * CONS_FUTURE_ROUNDS && sent < 24; k++) {
        uint32_t r = k < CONS_FUTURE_ROUNDS ? m->round + k : m->round + 100000 + k;
        if ((m->height + r) % w->mix.nv != nd->idx)
            continue;
        core_block *b = node_make_block(w, nd, node_clock(w, nd) + 1 + sent, 0);
        if (b == NULL)
            return;
        cons_msg p = {.type = CONS_PROPOSAL, .height = m->height, .round = r,
                      .pol_round = CONS_NIL_ROUND, .value = b->hash, .validator = nd->idx};
        node_sign(w, nd, &p);
        send_msg(w, nd, CORE_ALL_PEERS, &p, b);
        core_block_unref(b);
        sent++;
    }
}

/* A signed vote for a height far ahead, to one correct peer; during a
 * lock-breaking attack, to every correct validator but the decider: the
 * ones it left locked. */
static void lure(sim_world *w, sim_node *nd, const cons_msg *m)
{
    cons_msg v = {.type = CONS_PREVOTE, .height = m->height + 2 + sim_rng_below(&w->rng, 5),
                  .round = 0, .pol_round = CONS_NIL_ROUND, .validator = nd->idx};
    node_sign(w, nd, &v);
    int attack = nd->atk_height == m->height;
    unsigned pick = (unsigned)sim_rng_below(&w->rng, w->mix.n);
    for (unsigned p = 0; p < w->mix.n; p++) {
        if (p == nd->idx || ((w->mix.byz_mask >> p) & 1u) || (attack ? p == nd->atk_decider : p != pick))
            continue;
        send_msg(w, nd, p, &v, NULL);
        w->st.byz_lures++;
    }
}

void byz_send(sim_world *w, sim_node *nd, uint32_t to, const uint8_t *frame, size_t len)
{
    unsigned flags = w->mix.byz_flags;
    if ((flags & BYZ_MUTE) && sim_rng_chance(&w->rng, 700))
        return;
    Permit__Frame *f = permit__frame__unpack(NULL, len, frame);
    if (f == NULL || f->msg_case != PERMIT__FRAME__MSG_CONSENSUS) {
        send_to(w, nd, to, frame, len); /* transactions and sync requests go as they are */
        if (f)
            permit__frame__free_unpacked(f, NULL);
        return;
    }
    const Permit__ConsensusMsg *cm = f->consensus;
    cons_msg m;
    if (core_msg_from_pb(cm, SIM_MAX_N, &m) != 0) {
        permit__frame__free_unpacked(f, NULL);
        send_to(w, nd, to, frame, len);
        return;
    }
    core_block *blk = cm->block ? core_block_from_pb(cm->block, SIZE_MAX, SIZE_MAX, NULL) : NULL;
    permit__frame__free_unpacked(f, NULL);
    if (m.validator != nd->idx) {
        send_to(w, nd, to, frame, len); /* others' votes it relays: as they are */
        goto out;
    }
    if (m.type == CONS_PROPOSAL) {
        saw_proposal(nd, &m);
        if (flags & BYZ_SILENT_PROPOSER) {
            w->st.byz_silent++;
            goto out;
        }
    }
    if (flags & BYZ_FLOOD)
        flood(w, nd, &m);
    if ((flags & BYZ_LURE) && (nd->atk_height == m.height || sim_rng_chance(&w->rng, 300)))
        lure(w, nd, &m);
    if ((flags & BYZ_EQUIVOCATE) && attack(w, nd, to, &m, blk))
        goto out;
    cons_msg alt;
    core_block *alt_blk = NULL;
    int have_alt = 0;
    if ((flags & BYZ_EQUIVOCATE) && sim_rng_chance(&w->rng, 700)) {
        if (m.type != CONS_PROPOSAL && cons_hash_is_nil(&m.value)) {
            /* the round's proposal to one side, nil (the honest vote) to the other */
            cons_hash v;
            if (round_value(nd, &m, &v)) {
                alt = m;
                alt.value = v;
                node_sign(w, nd, &alt);
                have_alt = 1;
            }
        } else {
            have_alt = conflicting(w, nd, &m, &alt, &alt_blk);
        }
    }
    if (have_alt) {
        w->st.byz_equiv++;
        unsigned split = split_of(w, nd, &m);
        for (unsigned p = 0; p < w->mix.n; p++)
            if (p != nd->idx && reaches(to, p) && net_link_up(w, nd->idx, p)) {
                if ((split >> p) & 1u)
                    send_msg(w, nd, p, &alt, alt_blk);
                else
                    send_msg(w, nd, p, &m, blk);
            }
        core_block_unref(alt_blk);
    } else {
        send_to(w, nd, to, frame, len);
    }
    if ((flags & BYZ_GARBAGE) && sim_rng_chance(&w->rng, 400))
        garbage(w, nd, to, &m, blk);
out:
    core_block_unref(blk);
}

/* ---- sync answers ---- */

void byz_serve(sim_world *w, sim_node *nd, uint32_t to, uint64_t from_h, uint32_t max)
{
    unsigned flags = w->mix.byz_flags;
    if (flags & BYZ_MUTE)
        return; /* never helps anyone catch up */
    if (flags & BYZ_LURE) {
        /* nothing to show for the height it claimed, or it claims to be
         * behind: either way a node that asks it again and again never
         * catches up */
        Permit__SyncResponse r = PERMIT__SYNC_RESPONSE__INIT;
        r.peer_height = sim_rng_chance(&w->rng, 500) ? from_h + 10 : 0;
        Permit__Frame f = PERMIT__FRAME__INIT;
        f.msg_case = PERMIT__FRAME__MSG_SYNC_RESPONSE;
        f.sync_response = &r;
        uint8_t buf[64];
        size_t len = permit__frame__pack(&f, buf);
        net_send(w, nd->idx, to, buf, len);
        return;
    }
    /* an attacker does not hand out the block it got one node to decide */
    if (nd->atk_height != 0 && nd->atk_height >= from_h) {
        uint64_t until = nd->atk_height - 1;
        if (until < from_h)
            return;
        if (until - from_h + 1 < max)
            max = (uint32_t)(until - from_h + 1);
    }
    uint8_t *frame;
    size_t len;
    ledger_err err;
    if (core_sync_answer(nd->L, from_h, max, &frame, &len, &err) != 0)
        return;
    Permit__Frame *f = NULL;
    if ((flags & BYZ_GARBAGE) && sim_rng_chance(&w->rng, 600) &&
        (f = permit__frame__unpack(NULL, len, frame)) != NULL && f->sync_response->n_blocks > 0) {
        Permit__Block *b = f->sync_response->blocks[0];
        switch (sim_rng_below(&w->rng, 3)) {
        case 0: /* a forged signature */
            if (b->commit && b->commit->n_sigs > 0 && b->commit->sigs[0]->sig.len == 64)
                b->commit->sigs[0]->sig.data[7] ^= 0x20;
            break;
        case 1: /* too few signers */
            while (b->commit && b->commit->n_sigs > 1)
                permit__commit_sig__free_unpacked(b->commit->sigs[--b->commit->n_sigs], NULL);
            break;
        default: /* the block without a transaction */
            if (b->n_txs > 0)
                free(b->txs[--b->n_txs].data);
            else if (b->commit)
                b->commit->round += 1;
            break;
        }
        free(frame);
        len = permit__frame__get_packed_size(f);
        frame = malloc(len ? len : 1);
        if (frame == NULL)
            abort();
        permit__frame__pack(f, frame);
    }
    if (f)
        permit__frame__free_unpacked(f, NULL);
    net_send(w, nd->idx, to, frame, len);
    free(frame);
}
