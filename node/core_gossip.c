/* node/core_gossip.c: transactions between validators (core.h, DESIGN §5).
 *
 * A transaction admitted by any correct validator must reach every
 * proposer, or it waits for its own node's turn (or a heartbeat):
 *  - one submitted here goes out whole to every peer (TxGossip);
 *  - one learnt from a peer is announced by id to the others (TxIds), who
 *    ask for it (TxRequest) only if they lack it: delivery does not depend on
 *    every pair of validators being linked, and costs 32 bytes when it is
 *    redundant;
 *  - when a link comes up, the whole mempool is announced to that peer: a
 *    transaction admitted before the link existed is not stranded.
 * Each peer has its own bounded queue of ids; when it overflows, the peer
 * gets the whole mempool announced instead.  What peers send is bounded
 * before use: counts per frame, envelope sizes, ADMIT actions under way per
 * peer; an id asked of a peer is not asked of it again for CORE_REQUEST_MS,
 * nor of another for CORE_REREQUEST_MS (another announcer is remembered and
 * asked then, if the first has not answered).  What a peer asks for it gets once
 * per request, within CORE_TX_SERVE_BYTES a second; what is beyond waits
 * (up to CORE_PEER_QUEUE ids) for the budget to refill. */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/limits.h"

int core_gossip_init(core *c)
{
    c->requested = calloc(CORE_REQUESTED, sizeof *c->requested);
    c->requested_at = calloc(CORE_REQUESTED, sizeof *c->requested_at);
    c->requested_of = calloc(CORE_REQUESTED, sizeof *c->requested_of);
    c->alt = calloc(CORE_ALT_MAX, sizeof *c->alt);
    c->alt_free = calloc(CORE_ALT_MAX, sizeof *c->alt_free);
    if (!c->requested || !c->requested_at || !c->requested_of || !c->alt || !c->alt_free)
        return -1;
    for (size_t i = 0; i < CORE_ALT_MAX; i++) {
        c->alt[i].peer = UINT32_MAX;
        c->alt_free[i] = CORE_ALT_MAX - 1 - i;
    }
    c->n_alt_free = CORE_ALT_MAX;
    return 0;
}

static void queue_free(peer_state *p)
{
    free(p->queue);
    free(p->qfull);
    free(p->deferred);
    p->queue = NULL;
    p->qfull = NULL;
    p->deferred = NULL;
    p->qhead = p->qlen = 0;
    p->dhead = p->dlen = 0;
    p->announce_all = 0;
}

void core_gossip_free(core *c)
{
    for (unsigned i = 0; i < CORE_MAX_PEERS; i++)
        queue_free(&c->peers[i]);
    free(c->requested);
    free(c->requested_at);
    free(c->requested_of);
    free(c->alt);
    free(c->alt_free);
}

static void wake_at(core *c, uint64_t at)
{
    if (c->gossip_at == 0 || at < c->gossip_at)
        c->gossip_at = at;
}

static void soon(core *c)
{
    wake_at(c, core_mono(c) + CORE_GOSSIP_MS);
}

void core_gossip_link(core *c, uint32_t peer, int up)
{
    peer_state *p = &c->peers[peer];
    queue_free(p);
    if (!up)
        return;
    p->queue = malloc(CORE_PEER_QUEUE * sizeof *p->queue);
    p->qfull = malloc(CORE_PEER_QUEUE);
    p->deferred = malloc(CORE_PEER_QUEUE * sizeof *p->deferred);
    if (p->queue == NULL || p->qfull == NULL || p->deferred == NULL) {
        queue_free(p);
        return; /* this peer hears nothing from us but consensus; sync covers it */
    }
    p->announce_all = 1; /* what it may have missed while the link was down */
    soon(c);
}

void core_gossip_queue(core *c, const uint8_t id[32], int from_peer)
{
    for (uint32_t i = 0; i < CORE_NODE_SLOTS; i++) {
        peer_state *p = &c->peers[i];
        if (!p->up || p->queue == NULL || (int)i == from_peer || p->announce_all)
            continue;
        if (p->qlen == CORE_PEER_QUEUE) {
            p->announce_all = 1;
            p->qlen = p->qhead = 0;
            continue;
        }
        size_t at = (p->qhead + p->qlen++) % CORE_PEER_QUEUE;
        memcpy(p->queue[at], id, 32);
        p->qfull[at] = from_peer < 0; /* ours go whole; what we learnt, by id */
    }
    soon(c);
}

/* ---- sending ---- */

static void send_ids(core *c, uint32_t peer, int request, uint8_t (*ids)[32], size_t n)
{
    ProtobufCBinaryData *v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        v[i].data = ids[i];
        v[i].len = 32;
    }
    Permit__TxIds t = PERMIT__TX_IDS__INIT;
    t.n_ids = n;
    t.ids = v;
    Permit__Frame f = PERMIT__FRAME__INIT;
    if (request) {
        f.msg_case = PERMIT__FRAME__MSG_TX_REQUEST;
        f.tx_request = &t;
    } else {
        f.msg_case = PERMIT__FRAME__MSG_TX_ANNOUNCE;
        f.tx_announce = &t;
    }
    core_send_frame(c, peer, &f);
    free(v);
}

/* Envelopes of the ids (those still in the mempool) in TxGossip frames of
 * at most CORE_GOSSIP_TXS envelopes and CORE_GOSSIP_BYTES; with `budget`,
 * no more bytes than it holds (and it is spent). */
static size_t send_envelopes(core *c, uint32_t peer, uint8_t (*ids)[32], size_t n,
                             uint64_t *budget)
{
    size_t done = n;
    ProtobufCBinaryData *v = calloc(CORE_GOSSIP_TXS, sizeof *v);
    if (v == NULL)
        return 0;
    size_t k = 0, bytes = 0;
    for (size_t i = 0; i <= n; i++) {
        const mp_tx *t = i < n ? node_mempool_get(c->mp, ids[i]) : NULL;
        if (i < n && t == NULL)
            continue; /* committed or refused meanwhile */
        if (i < n && budget) {
            if (t->len > *budget) {
                done = n = i; /* the rest waits for the budget */
            } else {
                *budget -= t->len;
            }
        }
        if (k > 0 && (i == n || k == CORE_GOSSIP_TXS || bytes + t->len > CORE_GOSSIP_BYTES)) {
            Permit__TxGossip g = PERMIT__TX_GOSSIP__INIT;
            g.n_txs = k;
            g.txs = v;
            Permit__Frame f = PERMIT__FRAME__INIT;
            f.msg_case = PERMIT__FRAME__MSG_TXS;
            f.txs = &g;
            core_send_frame(c, peer, &f);
            k = 0;
            bytes = 0;
        }
        if (i == n)
            break;
        v[k].data = t->env;
        v[k].len = t->len;
        k++;
        bytes += t->len;
    }
    free(v);
    return done;
}

static void announce_mempool(core *c, uint32_t peer)
{
    size_t n = node_mempool_size(c->mp);
    mp_tx **list = calloc(n ? n : 1, sizeof *list);
    uint8_t(*ids)[32] = malloc(CORE_IDS_MAX * sizeof *ids);
    if (list && ids) {
        size_t got = node_mempool_peek(c->mp, list, n), k = 0;
        for (size_t i = 0; i < got; i++) {
            memcpy(ids[k++], list[i]->id, 32);
            if (k == CORE_IDS_MAX || i + 1 == got) {
                send_ids(c, peer, 0, ids, k);
                k = 0;
            }
        }
    }
    free(list);
    free(ids);
}

static void flush_peer(core *c, uint32_t peer)
{
    peer_state *p = &c->peers[peer];
    if (p->announce_all) {
        p->announce_all = 0;
        p->qhead = p->qlen = 0;
        announce_mempool(c, peer);
        return;
    }
    if (p->qlen == 0)
        return;
    uint8_t(*whole)[32] = malloc(p->qlen * sizeof *whole);
    uint8_t(*ids)[32] = malloc(p->qlen * sizeof *ids);
    size_t nw = 0, ni = 0;
    if (whole && ids) {
        for (size_t i = 0; i < p->qlen; i++) {
            size_t at = (p->qhead + i) % CORE_PEER_QUEUE;
            if (p->qfull[at])
                memcpy(whole[nw++], p->queue[at], 32);
            else
                memcpy(ids[ni++], p->queue[at], 32);
        }
        if (nw)
            send_envelopes(c, peer, whole, nw, NULL);
        for (size_t i = 0; i < ni; i += CORE_IDS_MAX)
            send_ids(c, peer, 0, ids + i, ni - i < CORE_IDS_MAX ? ni - i : CORE_IDS_MAX);
    }
    free(whole);
    free(ids);
    p->qhead = p->qlen = 0;
}

static void ask_alternates(core *c, uint64_t now);
static void serve_deferred(core *c, uint32_t peer, uint64_t now);

void core_gossip_tick(core *c, uint64_t now)
{
    if (c->gossip_at == 0 || now < c->gossip_at)
        return;
    c->gossip_at = 0;
    for (uint32_t i = 0; i < CORE_NODE_SLOTS; i++)
        if (c->peers[i].up && c->peers[i].queue) {
            flush_peer(c, i);
            serve_deferred(c, i, now);
        }
    ask_alternates(c, now);
}

/* ---- receiving ---- */

/* Ids asked for lately, direct-mapped by id (a collision at worst asks
 * twice). */
static size_t slot_of(const uint8_t id[32])
{
    uint64_t h;
    memcpy(&h, id, 8); /* a SHA-256 output: uniform already */
    return (size_t)(h % CORE_REQUESTED);
}

/* Asked for lately: of this peer within CORE_REQUEST_MS, of another within
 * CORE_REREQUEST_MS (an announcer that never answers must not keep the
 * others' copies away for long). */
static int asked_lately(core *c, const uint8_t id[32], uint32_t peer, uint64_t now)
{
    size_t s = slot_of(id);
    if (c->requested_at[s] == 0 || memcmp(c->requested[s], id, 32) != 0)
        return 0;
    uint64_t wait = c->requested_of[s] == peer || c->requested_of[s] == CORE_ARRIVED
                        ? CORE_REQUEST_MS
                        : CORE_REREQUEST_MS;
    return now - c->requested_at[s] < wait;
}

static void mark_asked(core *c, const uint8_t id[32], uint32_t peer, uint64_t now)
{
    size_t s = slot_of(id);
    memcpy(c->requested[s], id, 32);
    c->requested_at[s] = now;
    c->requested_of[s] = peer;
}

/* Its envelope arrived lately and is being admitted (CORE_ARRIVED). */
static int arriving(core *c, const uint8_t id[32], uint64_t now)
{
    size_t s = slot_of(id);
    return c->requested_of[s] == CORE_ARRIVED && c->requested_at[s] != 0 &&
           memcmp(c->requested[s], id, 32) == 0 && now - c->requested_at[s] < CORE_REQUEST_MS;
}

void core_on_tx_gossip(core *c, uint32_t peer, const Permit__TxGossip *g)
{
    if (g == NULL || g->n_txs == 0)
        return;
    peer_state *p = &c->peers[peer];
    if (p->admitting >= CORE_ADMIT_INFLIGHT) {
        c->st.msgs_dropped++; /* a peer faster than our checks: it announces again later */
        return;
    }
    size_t k = g->n_txs < CORE_GOSSIP_TXS ? g->n_txs : CORE_GOSSIP_TXS;
    uint8_t **txs = calloc(k, sizeof *txs);
    size_t *lens = calloc(k, sizeof *lens), n = 0;
    uint8_t(*ids)[32] = malloc(k * sizeof *ids);
    uint64_t now = core_mono(c);
    if (txs == NULL || lens == NULL || ids == NULL)
        goto fail;
    for (size_t i = 0; i < k; i++) {
        if (g->txs[i].len == 0 || g->txs[i].len > LEDGER_MAX_ENVELOPE)
            continue;
        ledger_sha256(g->txs[i].data, g->txs[i].len, ids[n]);
        if (node_mempool_contains(c->mp, ids[n]))
            continue; /* here already: verified once, not again */
        if (arriving(c, ids[n], now)) {
            c->st.gossip_dup++; /* another peer's copy is being checked */
            continue;
        }
        txs[n] = malloc(g->txs[i].len);
        if (txs[n] == NULL)
            break;
        memcpy(txs[n], g->txs[i].data, g->txs[i].len);
        lens[n++] = g->txs[i].len;
    }
    if (n == 0)
        goto fail;
    core_action *a = core_push(c, CORE_ACT_ADMIT);
    if (a == NULL)
        goto fail;
    /* until admitted, announcements of these ids ask no one */
    for (size_t i = 0; i < n; i++)
        mark_asked(c, ids[i], CORE_ARRIVED, now);
    free(ids);
    a->peer = peer;
    a->txs = txs;
    a->lens = lens;
    a->n = n;
    p->admitting++;
    return;
fail:
    for (size_t i = 0; txs && i < n; i++)
        free(txs[i]);
    free(txs);
    free(lens);
    free(ids);
}

void core_on_admitted(core *c, uint32_t peer)
{
    if (peer < c->n_peers && c->peers[peer].admitting > 0)
        c->peers[peer].admitting--;
}

/* Another peer announced an id already asked of someone: if that one never
 * answers (it went down, it is Byzantine), this one is asked once the
 * first had CORE_REREQUEST_MS.  A table with a free list; each peer holds
 * at most CORE_ALT_MAX / n entries, so that one peer repeating ids cannot
 * push out what the others announced. */
static void remember_alternate(core *c, const uint8_t id[32], uint32_t peer, uint64_t now)
{
    if (c->n_alt_free == 0 || c->peers[peer].alts >= CORE_ALT_MAX / cons_validators(c->e))
        return;
    size_t s = slot_of(id);
    uint64_t due = c->requested_at[s] + CORE_REREQUEST_MS;
    alt_entry *a = &c->alt[c->alt_free[--c->n_alt_free]];
    memcpy(a->id, id, 32);
    a->peer = peer;
    a->due = due > now ? due : now;
    c->peers[peer].alts++;
    wake_at(c, a->due);
}

static void alt_release(core *c, size_t i)
{
    c->peers[c->alt[i].peer].alts--;
    c->alt[i].peer = UINT32_MAX;
    c->alt_free[c->n_alt_free++] = i;
}

static void ask_alternates(core *c, uint64_t now)
{
    uint8_t(*want)[32] = NULL;
    uint64_t next = 0;
    for (uint32_t p = 0; p < CORE_NODE_SLOTS; p++) {
        if (c->peers[p].alts == 0)
            continue;
        size_t k = 0;
        for (size_t i = 0; i < CORE_ALT_MAX; i++) {
            alt_entry *a = &c->alt[i];
            if (a->peer != p)
                continue;
            if (a->due > now) {
                next = next == 0 || a->due < next ? a->due : next;
                continue;
            }
            if (!c->peers[p].up || node_mempool_contains(c->mp, a->id)) {
                alt_release(c, i);
                continue;
            }
            if (asked_lately(c, a->id, p, now)) {
                size_t sl = slot_of(a->id);
                if (c->requested_of[sl] == p || c->requested_of[sl] == CORE_ARRIVED) {
                    /* it was asked itself meanwhile, or a copy arrived */
                    alt_release(c, i);
                    continue;
                }
                /* another alternate was just asked: this one's turn comes
                 * if that one does not answer either (strictly later: the
                 * id was asked less than CORE_REREQUEST_MS ago) */
                a->due = c->requested_at[sl] + CORE_REREQUEST_MS;
                next = next == 0 || a->due < next ? a->due : next;
                continue;
            }
            if (want == NULL && (want = malloc(CORE_IDS_MAX * sizeof *want)) == NULL)
                return; /* tried again at the next tick */
            memcpy(want[k++], a->id, 32);
            mark_asked(c, a->id, p, now);
            alt_release(c, i);
            if (k == CORE_IDS_MAX) {
                send_ids(c, p, 1, want, k);
                k = 0;
            }
        }
        if (k)
            send_ids(c, p, 1, want, k);
    }
    free(want);
    if (next)
        wake_at(c, next);
}

void core_on_tx_announce(core *c, uint32_t peer, const Permit__TxIds *t)
{
    if (t == NULL)
        return;
    size_t k = t->n_ids < CORE_IDS_MAX ? t->n_ids : CORE_IDS_MAX;
    uint8_t(*want)[32] = malloc((k ? k : 1) * sizeof *want);
    if (want == NULL)
        return;
    uint64_t now = core_mono(c);
    size_t n = 0;
    for (size_t i = 0; i < k; i++) {
        if (t->ids[i].len != 32 || node_mempool_contains(c->mp, t->ids[i].data))
            continue;
        if (asked_lately(c, t->ids[i].data, peer, now)) {
            /* observers are asked once: alternates are validators */
            uint32_t of = c->requested_of[slot_of(t->ids[i].data)];
            if (of != peer && of != CORE_ARRIVED && peer < CORE_NODE_SLOTS)
                remember_alternate(c, t->ids[i].data, peer, now);
            continue;
        }
        memcpy(want[n++], t->ids[i].data, 32);
        mark_asked(c, t->ids[i].data, peer, now);
    }
    if (n)
        send_ids(c, peer, 1, want, n);
    free(want);
}

static void refill(peer_state *p, uint64_t now)
{
    if (p->tx_budget_at == 0 || now < p->tx_budget_at) {
        p->tx_budget = CORE_TX_SERVE_BYTES;
    } else {
        uint64_t add = (now - p->tx_budget_at) * (CORE_TX_SERVE_BYTES / 1000);
        p->tx_budget = p->tx_budget + add > CORE_TX_SERVE_BYTES ? CORE_TX_SERVE_BYTES
                                                                : p->tx_budget + add;
    }
    p->tx_budget_at = now;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* What a peer asks for, it gets once per request (an id asked for twice in
 * one frame goes once) and within its byte budget: a request of 32 bytes
 * per id must not make this node send megabytes again and again. */
void core_on_tx_request(core *c, uint32_t peer, const Permit__TxIds *t)
{
    if (t == NULL || peer >= CORE_NODE_SLOTS)
        return;
    size_t k = t->n_ids < CORE_IDS_MAX ? t->n_ids : CORE_IDS_MAX;
    uint8_t(*ids)[32] = malloc((k ? k : 1) * sizeof *ids);
    if (ids == NULL)
        return;
    size_t n = 0;
    for (size_t i = 0; i < k; i++)
        if (t->ids[i].len == 32)
            memcpy(ids[n++], t->ids[i].data, 32);
    qsort(ids, n, sizeof *ids, id_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || memcmp(ids[u - 1], ids[i], 32) != 0)
            memcpy(ids[u++], ids[i], 32);
    peer_state *p = &c->peers[peer];
    refill(p, core_mono(c));
    size_t sent = p->dlen ? 0 : send_envelopes(c, peer, ids, u, &p->tx_budget);
    /* what the budget does not cover now goes as it refills (a link that
     * came up asks for a whole mempool at once) */
    for (size_t i = sent; i < u && p->deferred; i++) {
        if (p->dlen == CORE_PEER_QUEUE) {
            c->st.msgs_dropped++;
            break;
        }
        memcpy(p->deferred[(p->dhead + p->dlen++) % CORE_PEER_QUEUE], ids[i], 32);
    }
    if (p->dlen)
        wake_at(c, core_mono(c) + CORE_DEFER_MS);
    free(ids);
}

/* Envelopes asked for beyond the budget, as it refills. */
static void serve_deferred(core *c, uint32_t peer, uint64_t now)
{
    peer_state *p = &c->peers[peer];
    if (p->dlen == 0 || p->deferred == NULL)
        return;
    refill(p, now);
    size_t k = p->dlen < CORE_IDS_MAX ? p->dlen : CORE_IDS_MAX;
    uint8_t(*ids)[32] = malloc(k * sizeof *ids);
    if (ids == NULL)
        return;
    for (size_t i = 0; i < k; i++)
        memcpy(ids[i], p->deferred[(p->dhead + i) % CORE_PEER_QUEUE], 32);
    size_t sent = send_envelopes(c, peer, ids, k, &p->tx_budget);
    free(ids);
    p->dhead = (p->dhead + sent) % CORE_PEER_QUEUE;
    p->dlen -= sent;
    if (p->dlen)
        wake_at(c, now + CORE_DEFER_MS);
}
