/* tests/sim/byz.c: a Byzantine validator.
 *
 * It runs the honest engine (so it keeps up with the chain and knows when it
 * proposes) but ignores its sign state and, per the seed's flags, lies on the
 * way out:
 *  - BYZ_EQUIVOCATE: splits its peers in two for each round: as proposer it
 *    sends each side another block; it prevotes and precommits the round's
 *    proposal to one side and nil to the other, whatever its engine decided
 *    (the attack that makes some correct nodes lock and decide while the
 *    others never see the proof), or the other value when it saw no proposal;
 *    and, when it is the proposer, often the lock-breaking attack: its
 *    proposal and prevote for the block reach all but f correct "victims",
 *    its precommit reaches one "decider" only, so the decider decides while
 *    the others are left locked without a decision and the victims without
 *    the proof; in later rounds of that height it backs whatever is
 *    proposed.  A node that ignores its lock then decides another block
 *    (both Byzantine validators of a seed play the same plan);
 *  - BYZ_GARBAGE: validly signed messages for wrong heights and rounds,
 *    votes for random values, bad signatures, proposals whose block does not
 *    match its header, whose transactions were swapped, whose time is an hour
 *    ahead, proposals for rounds it does not lead, and forged sync answers;
 *  - BYZ_MUTE: drops most of what it should send, and answers no sync request.
 * It is excluded from the invariants about correct nodes, but counts as one
 * of the n validators. */
#include "sim.h"

#include <string.h>

static sim_msg *msg_of(const cons_msg *m, sim_block *blk, unsigned from)
{
    sim_msg *sm = sim_msg_new(MSG_CONS, from);
    sm->cm = *m;
    sm->blk = blk ? sim_block_ref(blk) : NULL;
    return sm;
}

/* The same (height, round, type) with another value, signed. */
static sim_msg *conflicting(sim_world *w, sim_node *nd, const cons_msg *m)
{
    cons_msg alt = *m;
    sim_block *blk = NULL;
    if (m->type == CONS_PROPOSAL) {
        uint64_t t = node_clock(w, nd) + 1 + sim_rng_below(&w->rng, 500);
        blk = node_make_block(w, nd, t, sim_rng_below(&w->rng, 2), 0);
        if (blk == NULL || memcmp(blk->hash, m->value.b, 32) == 0) {
            sim_block_unref(blk);
            return NULL;
        }
        memcpy(alt.value.b, blk->hash, 32);
        if (alt.pol_round >= 0 && sim_rng_chance(&w->rng, 500))
            alt.pol_round = CONS_NIL_ROUND;
    } else if (!cons_hash_is_nil(&m->value)) {
        memset(alt.value.b, 0, 32);
    } else {
        /* nil was the honest vote: vote for some block instead */
        if (nd->n_cache > 0)
            memcpy(alt.value.b, nd->cache[sim_rng_below(&w->rng, nd->n_cache)]->hash, 32);
        else
            sim_rng_bytes(&w->rng, alt.value.b, 32);
    }
    node_sign(w, nd, &alt);
    sim_msg *sm = msg_of(&alt, blk, nd->idx);
    sim_block_unref(blk);
    return sm;
}

static void send_all(sim_world *w, sim_node *nd, sim_msg *sm)
{
    net_broadcast(w, nd->idx, sm);
    sim_msg_unref(sm);
}

static void garbage(sim_world *w, sim_node *nd, const cons_msg *m, sim_block *blk)
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
        send_all(w, nd, msg_of(&g, blk, nd->idx));
        break;
    case 1: /* a wrong round, possibly far ahead */
        g.round += 1 + (uint32_t)sim_rng_below(&w->rng, 200);
        node_sign(w, nd, &g);
        send_all(w, nd, msg_of(&g, blk, nd->idx));
        break;
    case 2: /* a vote for a block nobody has */
        g.type = sim_rng_chance(&w->rng, 500) ? CONS_PREVOTE : CONS_PRECOMMIT;
        g.pol_round = CONS_NIL_ROUND;
        sim_rng_bytes(&w->rng, g.value.b, 32);
        node_sign(w, nd, &g);
        send_all(w, nd, msg_of(&g, NULL, nd->idx));
        break;
    case 3: /* a signature that does not verify */
        node_sign(w, nd, &g);
        g.sig[sim_rng_below(&w->rng, 64)] ^= (uint8_t)(1u << sim_rng_below(&w->rng, 8));
        send_all(w, nd, msg_of(&g, blk, nd->idx));
        break;
    case 4: { /* header bytes that do not hash to the value */
        sim_block *b = sim_block_new();
        *b = *blk;
        b->refs = 1;
        for (size_t i = 0; i < b->n_txs; i++)
            sim_tx_ref(b->txs[i]);
        b->hdr[sim_rng_below(&w->rng, b->hdr_len)] ^= 0x01;
        send_all(w, nd, msg_of(m, b, nd->idx));
        sim_block_unref(b);
        break;
    }
    case 5: { /* a block whose transactions were swapped (dropped on receipt: tx_root), or
                 whose header lies about the state (refused by ledger_validate_block) */
        sim_block *b = sim_block_new();
        *b = *blk;
        b->refs = 1;
        for (size_t i = 0; i < b->n_txs; i++)
            sim_tx_ref(b->txs[i]);
        ledger_header hdr;
        if (sim_rng_chance(&w->rng, 500) &&
            ledger_header_decode(&hdr, b->hdr, b->hdr_len, NULL) == 0) {
            hdr.state_root[sim_rng_below(&w->rng, 32)] ^= 0x40;
            if (ledger_header_encode(&hdr, b->hdr, sizeof b->hdr, &b->hdr_len) == 0) {
                ledger_header_hash(&hdr, b->hash);
                memcpy(g.value.b, b->hash, 32);
                g.pol_round = CONS_NIL_ROUND;
                node_sign(w, nd, &g);
            }
        } else if (b->n_txs > 0 && (b->n_txs > SIM_BLOCK_TXS || sim_rng_chance(&w->rng, 500))) {
            sim_tx_unref(b->txs[--b->n_txs]);
        } else {
            uint8_t junk[120];
            sim_rng_bytes(&w->rng, junk, sizeof junk);
            junk[0] = LEDGER_ENVELOPE_VERSION;
            b->txs[b->n_txs++] = sim_tx_new(junk, sizeof junk);
        }
        send_all(w, nd, msg_of(&g, b, nd->idx));
        sim_block_unref(b);
        break;
    }
    case 6: { /* a block an hour ahead of everyone's clock */
        sim_block *b = node_make_block(w, nd, node_clock(w, nd) + 3600 * 1000, 0, 0);
        if (b == NULL)
            break;
        memcpy(g.value.b, b->hash, 32);
        g.pol_round = CONS_NIL_ROUND;
        node_sign(w, nd, &g);
        send_all(w, nd, msg_of(&g, b, nd->idx));
        sim_block_unref(b);
        break;
    }
    default: /* a proposal for a round it does not lead */
        g.type = CONS_PROPOSAL;
        g.round += 1;
        g.pol_round = CONS_NIL_ROUND;
        if (blk)
            g.value = m->value;
        else
            sim_rng_bytes(&w->rng, g.value.b, 32);
        node_sign(w, nd, &g);
        send_all(w, nd, msg_of(&g, blk, nd->idx));
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
    unsigned n = w->mix.n;
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

/* Send m to the peers in `to_mask`, nil (signed) to the others but `skip`. */
static void send_masked(sim_world *w, sim_node *nd, const cons_msg *m, sim_block *blk,
                        unsigned to_mask, unsigned nil_mask)
{
    sim_msg *a = msg_of(m, blk, nd->idx), *b = NULL;
    if (m->type != CONS_PROPOSAL) {
        cons_msg nil = *m;
        memset(nil.value.b, 0, 32);
        node_sign(w, nd, &nil);
        b = msg_of(&nil, NULL, nd->idx);
    }
    for (unsigned to = 0; to < w->mix.n; to++) {
        if (to == nd->idx)
            continue;
        if ((to_mask >> to) & 1u)
            net_send(w, nd->idx, to, a);
        else if (b && ((nil_mask >> to) & 1u))
            net_send(w, nd->idx, to, b);
    }
    sim_msg_unref(a);
    sim_msg_unref(b);
}

/* The lock-breaking attack; 1 when it handled the message. */
static int attack(sim_world *w, sim_node *nd, const cons_msg *m, sim_block *blk)
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
            send_masked(w, nd, m, blk, all & ~victims, 0);
            return 1;
        }
        if (!round_value(nd, m, &v.value))
            return 0;
        node_sign(w, nd, &v);
        if (m->type == CONS_PREVOTE)
            send_masked(w, nd, &v, NULL, all & ~victims, victims);
        else
            send_masked(w, nd, &v, NULL, 1u << decider, all & ~(1u << decider));
        return 1;
    }
    if (nd->atk_height == m->height && m->round > nd->atk_round && m->type != CONS_PROPOSAL &&
        round_value(nd, m, &v.value)) {
        node_sign(w, nd, &v); /* back whatever is proposed now */
        send_masked(w, nd, &v, NULL, all & ~(1u << nd->atk_decider), 1u << nd->atk_decider);
        return 1;
    }
    return 0;
}

void byz_saw_proposal(sim_node *nd, const cons_msg *m)
{
    unsigned k = m->round % 64;
    nd->byz_prop[k] = m->value;
    nd->byz_prop_height[k] = m->height;
    nd->byz_prop_round[k] = m->round;
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

/* The split vote: the round's proposal to one side, nil to the other. */
static sim_msg *split_vote(sim_world *w, sim_node *nd, const cons_msg *m, sim_msg **nil_side)
{
    cons_msg a = *m, b = *m;
    unsigned k = m->round % 64;
    if (cons_hash_is_nil(&m->value)) {
        if (nd->byz_prop_height[k] != m->height || nd->byz_prop_round[k] != m->round)
            return NULL;
        a.value = nd->byz_prop[k];
    }
    memset(b.value.b, 0, 32);
    node_sign(w, nd, &a);
    node_sign(w, nd, &b);
    *nil_side = msg_of(&b, NULL, nd->idx);
    return msg_of(&a, NULL, nd->idx);
}

void byz_broadcast(sim_world *w, sim_node *nd, const cons_msg *m0)
{
    unsigned flags = w->mix.byz_flags;
    cons_msg m = *m0;
    node_sign(w, nd, &m);
    sim_block *blk = m.type == CONS_PROPOSAL ? node_cache_find(nd, m.value.b) : NULL;
    if (blk)
        sim_block_ref(blk);
    node_own_add(nd, &m, blk); /* what its engine meant: for its own certificates */
    if ((flags & BYZ_MUTE) && sim_rng_chance(&w->rng, 700))
        goto out;
    if (m.type == CONS_PROPOSAL)
        byz_saw_proposal(nd, &m);
    sim_msg *good = NULL, *alt = NULL;
    if ((flags & BYZ_EQUIVOCATE) && attack(w, nd, &m, blk))
        goto out;
    if ((flags & BYZ_EQUIVOCATE) && sim_rng_chance(&w->rng, 700)) {
        if (m.type != CONS_PROPOSAL)
            good = split_vote(w, nd, &m, &alt);
        if (good == NULL)
            alt = conflicting(w, nd, &m);
    }
    if (good == NULL)
        good = msg_of(&m, blk, nd->idx);
    if (alt)
        w->st.byz_equiv++;
    unsigned split = split_of(w, nd, &m);
    for (unsigned to = 0; to < w->mix.n; to++)
        if (to != nd->idx)
            net_send(w, nd->idx, to, alt && ((split >> to) & 1u) ? alt : good);
    sim_msg_unref(good);
    sim_msg_unref(alt);
    if ((flags & BYZ_GARBAGE) && sim_rng_chance(&w->rng, 400))
        garbage(w, nd, &m, blk);
out:
    sim_block_unref(blk);
    cons_on_msg(nd->e, &m); /* its engine counts what it meant to send */
}

void byz_on_sync_req(sim_world *w, sim_node *nd, unsigned to, uint64_t from_h)
{
    unsigned flags = w->mix.byz_flags;
    if (flags & BYZ_MUTE)
        return; /* never helps anyone catch up */
    /* an attacker does not hand out the block it got one node to decide */
    uint64_t until = nd->atk_height >= from_h ? nd->atk_height - 1 : UINT64_MAX;
    int corrupt = (flags & BYZ_GARBAGE) && sim_rng_chance(&w->rng, 600);
    node_send_sync_items(w, nd, to, from_h, until, corrupt);
}
