/* tests/sim/check.c: the invariants, checked as the events happen.
 *
 *  - agreement: no two correct nodes commit different blocks at a height;
 *  - every committed block is stored with a certificate that
 *    ledger_commit_verify accepts against genesis;
 *  - state roots agree at equal heights;
 *  - no correct node signs two different messages for one (height, round,
 *    type), across crashes included;
 *  - at the end: ledger_check_integrity on every correct node, and every
 *    stored block is the one the chain record holds.
 * Liveness (progress after the heal) is checked by the main loop. */
#include "sim.h"

#include "ledger/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex8(const uint8_t *h, char out[17])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = d[h[i] >> 4];
        out[2 * i + 1] = d[h[i] & 15];
    }
    out[16] = '\0';
}

static const char *type_name(unsigned t)
{
    return t == CONS_PROPOSAL ? "proposal" : t == CONS_PREVOTE ? "prevote" : "precommit";
}

/* ---- what correct nodes signed: (node, height, round, type) -> value ---- */

static uint64_t slot_of(unsigned node, uint64_t h, uint32_t r, unsigned type)
{
    uint64_t x = h * UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t)r << 20) ^ (node << 4) ^ type;
    x ^= x >> 29;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    return x ^ (x >> 32);
}

static sim_signed_entry *signed_lookup(sim_signed_entry *tab, size_t cap, unsigned node,
                                       uint64_t h, uint32_t r, unsigned type)
{
    size_t i = (size_t)(slot_of(node, h, r, type) & (cap - 1));
    for (;;) {
        sim_signed_entry *e = &tab[i];
        if (!e->used || (e->node == node && e->height == h && e->round == r && e->type == type))
            return e;
        i = (i + 1) & (cap - 1);
    }
}

static int signed_grow(sim_world *w)
{
    size_t nc = w->signed_cap ? w->signed_cap * 2 : 4096;
    sim_signed_entry *nt = calloc(nc, sizeof *nt);
    if (nt == NULL)
        return -1;
    for (size_t i = 0; i < w->signed_cap; i++) {
        sim_signed_entry *e = &w->signed_tab[i];
        if (e->used)
            *signed_lookup(nt, nc, e->node, e->height, e->round, e->type) = *e;
    }
    free(w->signed_tab);
    w->signed_tab = nt;
    w->signed_cap = nc;
    return 0;
}

/* From the sign state the node persisted before signing: every new thing
 * it signs passes through it. */
void check_signed(sim_world *w, const sim_node *nd, const node_sign_state *s)
{
    if (nd->byz)
        return;
    if ((w->signed_n + 1) * 2 > w->signed_cap && signed_grow(w) != 0) {
        sim_fail(w, "sim: out of memory");
        return;
    }
    unsigned type = s->step == SIGN_STEP_PROPOSAL ? CONS_PROPOSAL
                    : s->step == SIGN_STEP_PREVOTE ? CONS_PREVOTE
                                                   : CONS_PRECOMMIT;
    sim_signed_entry *e = signed_lookup(w->signed_tab, w->signed_cap, nd->idx, s->height,
                                        s->round, type);
    cons_hash v;
    memcpy(v.b, s->hash, 32);
    if (!e->used) {
        e->used = 1;
        e->node = (uint8_t)nd->idx;
        e->height = s->height;
        e->round = s->round;
        e->type = (uint8_t)type;
        e->value = v;
        w->signed_n++;
        return;
    }
    if (!cons_hash_eq(&e->value, &v)) {
        char a[17], b[17];
        hex8(e->value.b, a);
        hex8(v.b, b);
        sim_fail(w, "conflicting signatures: correct node %u signed two %ss at height %llu round "
                    "%u: %s and %s",
                 nd->idx, type_name(type), (unsigned long long)s->height, s->round, a, b);
    }
}

/* ---- transactions: none stranded ---- */

static int still_valid(sim_world *w, const sim_node *nd, const mp_tx *t)
{
    ledger_tx tx;
    ledger_err err;
    int dept;
    int valid = ledger_admit(nd->L, t->env, t->len, node_clock(w, nd), 1, &tx, &dept, &err) == 0;
    ledger_tx_release(&tx);
    return valid;
}

size_t check_valid_waiting(sim_world *w, const sim_node *nd)
{
    size_t n = node_mempool_size(nd->mp), k = 0;
    if (n == 0)
        return 0;
    mp_tx **list = calloc(n, sizeof *list);
    if (list == NULL)
        abort();
    size_t got = node_mempool_peek(nd->mp, list, n);
    for (size_t i = 0; i < got; i++)
        k += (size_t)still_valid(w, nd, list[i]);
    free(list);
    return k;
}

/* After the heal, a transaction a correct node admitted must leave its
 * mempool within SIM_TX_BOUND_MS (of its admission, or of the heal): by
 * being committed (in any node's block), or refused by a rule once it no
 * longer holds.  One still valid and still waiting is stranded: it waits
 * for a proposer that never takes it, or for a heartbeat. */
void check_mempools(sim_world *w)
{
    if (!w->healed)
        return;
    for (unsigned i = 0; i < w->mix.n && !w->failed; i++) {
        sim_node *nd = &w->nodes[i];
        if (nd->byz || !nd->up)
            continue;
        size_t n = node_mempool_size(nd->mp);
        mp_tx **list = calloc(n ? n : 1, sizeof *list);
        if (list == NULL)
            abort();
        size_t got = node_mempool_peek(nd->mp, list, n);
        for (size_t k = 0; k < got; k++) {
            uint64_t since = list[k]->received_ms > w->mix.heal_at ? list[k]->received_ms
                                                                    : w->mix.heal_at;
            if (w->now <= since + SIM_TX_BOUND_MS) {
                if (w->now - since > w->st.tx_wait_max_ms)
                    w->st.tx_wait_max_ms = w->now - since;
                continue;
            }
            if (still_valid(w, nd, list[k])) {
                char h[17];
                hex8(list[k]->id, h);
                sim_fail(w, "stranded transaction: correct node %u has held valid transaction "
                            "%s since %llu.%03llu s, %llu s after the heal",
                         i, h, (unsigned long long)(list[k]->received_ms / 1000),
                         (unsigned long long)(list[k]->received_ms % 1000),
                         (unsigned long long)((w->now - w->mix.heal_at) / 1000));
                break;
            }
        }
        free(list);
    }
}

/* ---- commits ---- */

void check_commit(sim_world *w, sim_node *nd, uint64_t height)
{
    if (nd->byz)
        return;
    ledger_tip tip;
    ledger_get_tip(nd->L, &tip);
    if (tip.height != height) {
        sim_fail(w, "sim: node %u committed height %llu but its tip is %llu", nd->idx,
                 (unsigned long long)height, (unsigned long long)tip.height);
        return;
    }
    ledger_commit c;
    ledger_err err;
    int r = ledger_get_commit(nd->L, height, &c, &err);
    if (r != 1) {
        sim_fail(w, "certificate: node %u committed height %llu without a certificate", nd->idx,
                 (unsigned long long)height);
        return;
    }
    if (sim_commit_verify(w, nd->L, &c, tip.hash, height, &err) != 0) {
        sim_fail(w, "certificate: node %u height %llu: %s", nd->idx,
                 (unsigned long long)height, err.msg);
        return;
    }
    if (height > SIM_MAX_HEIGHT) {
        sim_fail(w, "sim: height %llu is beyond the simulator's record",
                 (unsigned long long)height);
        return;
    }
    sim_chain_entry *e = &w->chain[height];
    if (!e->set) {
        e->set = 1;
        e->node = nd->idx;
        memcpy(e->hash, tip.hash, 32);
        memcpy(e->state_root, tip.header.state_root, 32);
        return;
    }
    char a[17], b[17];
    if (memcmp(e->hash, tip.hash, 32) != 0) {
        hex8(e->hash, a);
        hex8(tip.hash, b);
        sim_fail(w, "agreement: height %llu: node %u committed %s, node %u committed %s",
                 (unsigned long long)height, e->node, a, nd->idx, b);
        return;
    }
    if (memcmp(e->state_root, tip.header.state_root, 32) != 0) {
        hex8(e->state_root, a);
        hex8(tip.header.state_root, b);
        sim_fail(w, "state root: height %llu: node %u has %s, node %u has %s",
                 (unsigned long long)height, e->node, a, nd->idx, b);
    }
}

void check_final(sim_world *w)
{
    for (unsigned i = 0; i < w->mix.n && !w->failed; i++) {
        sim_node *nd = &w->nodes[i];
        if (nd->byz || !nd->up)
            continue;
        ledger_err err;
        if (ledger_check_integrity(nd->L, &err) != 0) {
            sim_fail(w, "integrity: node %u: %s", i, err.msg);
            return;
        }
        uint64_t top = ledger_height(nd->L);
        for (uint64_t h = 1; h <= top && h <= SIM_MAX_HEIGHT; h++) {
            ledger_header hdr;
            uint8_t hash[32];
            if (ledger_get_block(nd->L, h, &hdr, NULL, NULL, NULL, NULL, &err) != 1) {
                sim_fail(w, "integrity: node %u lost block %llu", i, (unsigned long long)h);
                return;
            }
            ledger_header_hash(&hdr, hash);
            if (!w->chain[h].set || memcmp(hash, w->chain[h].hash, 32) != 0) {
                sim_fail(w, "agreement: node %u stores another block at height %llu", i,
                         (unsigned long long)h);
                return;
            }
        }
    }
}

void check_free(sim_world *w)
{
    free(w->signed_tab);
    w->signed_tab = NULL;
    w->signed_cap = w->signed_n = 0;
    free(w->chain);
    w->chain = NULL;
}
