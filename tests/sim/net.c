/* tests/sim/net.c: the simulated network.
 *
 * Validators talk over links, as permitd's p2p layer gives them: a link is
 * up while both ends run and can reach each other; it comes up one
 * handshake (two message delays) after that becomes true, and every node is
 * told (core_on_link), so the core's link-up behaviour (saying its messages
 * again, announcing its mempool) runs as it does in permitd.  A link that
 * goes down loses what is in flight on it (a broken TCP connection).
 *
 * Every message gets its own delay drawn from the seed's range, so
 * reordering falls out of the delays.  Until the heal a message may also be
 * lost or delivered twice (harsher than TCP: the core must not rely on
 * either). */
#include "sim.h"

#include <string.h>

#include "node/core.h"
#include "node/handshake.h"
#include "permit.pb-c.h"

enum { LINK_DOWN = 0, LINK_CONNECTING, LINK_UP };

static int reachable(const sim_world *w, unsigned a, unsigned b)
{
    if (!w->partitioned)
        return 1;
    return ((w->side >> a) & 1u) == ((w->side >> b) & 1u);
}

static uint64_t delay(sim_world *w)
{
    return sim_rng_range(&w->rng, w->mix.delay_min, w->mix.delay_max);
}

int net_link_up(const sim_world *w, unsigned a, unsigned b)
{
    return a != b && w->link_state[a][b] == LINK_UP;
}

static void set_state(sim_world *w, unsigned a, unsigned b, uint8_t st)
{
    w->link_state[a][b] = w->link_state[b][a] = st;
    w->link_gen[a][b]++;
    w->link_gen[b][a] = w->link_gen[a][b];
}

void net_links_changed(sim_world *w)
{
    for (unsigned a = 0; a < w->mix.n; a++)
        for (unsigned b = a + 1; b < w->mix.n; b++) {
            int want = w->nodes[a].up && w->nodes[b].up && reachable(w, a, b);
            uint8_t st = w->link_state[a][b];
            if (want && st == LINK_DOWN) {
                set_state(w, a, b, LINK_CONNECTING);
                sim_event ev = {.kind = EV_LINK, .node = a, .arg = b,
                                .round = w->link_gen[a][b]};
                ev.time = w->now + delay(w) + delay(w); /* the handshake */
                sim_schedule(w, &ev);
            } else if (!want && st != LINK_DOWN) {
                set_state(w, a, b, LINK_DOWN);
                if (st == LINK_UP) {
                    if (w->nodes[a].up)
                        node_on_link(w, &w->nodes[a], b, 0);
                    if (w->nodes[b].up)
                        node_on_link(w, &w->nodes[b], a, 0);
                }
            }
        }
}

/* One side's Hello and, for a session with exporter e and the peer's
 * nonce, its Auth: the code permitd runs (node/handshake.c). */
typedef struct {
    uint8_t nonce[32], sig[64];
    Permit__Hello hello;
    Permit__Auth auth;
} hs_side;

static void hs_hello(sim_world *w, unsigned v, hs_side *s)
{
    sim_rng_bytes(&w->rng, s->nonce, 32);
    permit__hello__init(&s->hello);
    s->hello.chain_id = w->g->chain_id;
    s->hello.node_key.data = (uint8_t *)w->node_key[v]->pub;
    s->hello.node_key.len = 32;
    s->hello.nonce.data = s->nonce;
    s->hello.nonce.len = 32;
}

static int hs_auth(sim_world *w, unsigned v, hs_side *s, const uint8_t peer_nonce[32],
                   const uint8_t exporter[32])
{
    permit__auth__init(&s->auth);
    s->auth.sig.data = s->sig;
    s->auth.sig.len = 64;
    return node_hs_sign_auth(w->node_key[v], w->g->chain_id, s->nonce, peer_nonce, exporter,
                             s->sig);
}

/* What `me` accepts from the other end of a session with exporter e: its
 * Hello names `them` by its node key of the moment (keys rotate: govsim.c),
 * on this chain, and its Auth verifies on this session (node/handshake.c). */
static int hs_accepts(sim_world *w, unsigned me, unsigned them, const hs_side *other,
                      const uint8_t my_nonce[32], const uint8_t e[32])
{
    const Permit__Hello *h = &other->hello;
    ledger_pubkey pk;
    return me != them && h->chain_id != NULL && strcmp(h->chain_id, w->g->chain_id) == 0 &&
           h->node_key.len == 32 &&
           memcmp(h->node_key.data, w->node_key[them]->pub, 32) == 0 &&
           ledger_pubkey_parse(&pk, h->node_key.data) == 0 &&
           node_hs_verify_auth_key(w->g->chain_id, &pk, other->nonce, my_nonce, e, &other->auth);
}

/* The handshake of a new link between a and b, inside a session of its
 * own (a fresh exporter); and, in seeds with a splicer, a keyless relay that
 * holds a session with each and hands each one's Hello and Auth to the
 * other.  Binding Auth to the session is what defeats it: a relayed
 * handshake that authenticates is a violation. */
static int handshake(sim_world *w, unsigned a, unsigned b)
{
    uint8_t e[32];
    hs_side sa, sb;
    sim_rng_bytes(&w->rng, e, 32);
    hs_hello(w, a, &sa);
    hs_hello(w, b, &sb);
    if (hs_auth(w, a, &sa, sb.nonce, e) != 0 || hs_auth(w, b, &sb, sa.nonce, e) != 0 ||
        !hs_accepts(w, a, b, &sb, sa.nonce, e) || !hs_accepts(w, b, a, &sa, sb.nonce, e)) {
        sim_fail(w, "p2p: the handshake of validators %u and %u failed", a, b);
        return -1;
    }
    if (!w->mix.splicer)
        return 0;
    /* the relay: its session with a has exporter ea, with b eb; a's Auth
     * (made for ea, answering b's Hello relayed to it) goes to b over eb */
    uint8_t ea[32], eb[32];
    sim_rng_bytes(&w->rng, ea, 32);
    sim_rng_bytes(&w->rng, eb, 32);
    hs_side ra, rb;
    hs_hello(w, a, &ra);
    hs_hello(w, b, &rb);
    w->st.splices_tried++;
    if (hs_auth(w, a, &ra, rb.nonce, ea) == 0 && hs_accepts(w, b, a, &ra, rb.nonce, eb)) {
        sim_fail(w, "p2p: a keyless relay spliced validators %u and %u: a Hello and Auth relayed "
                    "from another session authenticated",
                 a, b);
        return -1;
    }
    return 0;
}

void net_on_link_event(sim_world *w, const sim_event *ev)
{
    unsigned a = ev->node, b = ev->arg;
    if (a >= w->mix.n || b >= w->mix.n || w->link_gen[a][b] != ev->round ||
        w->link_state[a][b] != LINK_CONNECTING)
        return;
    if (handshake(w, a, b) != 0)
        return;
    set_state(w, a, b, LINK_UP);
    w->st.links_up++;
    node_on_link(w, &w->nodes[a], b, 1);
    if (w->link_state[a][b] == LINK_UP)
        node_on_link(w, &w->nodes[b], a, 1);
}

void net_send(sim_world *w, unsigned from, unsigned to, const uint8_t *frame, size_t len)
{
    w->st.msgs_sent++;
    if (from == to || w->link_state[from][to] != LINK_UP) {
        w->st.msgs_cut++;
        return;
    }
    if (w->faults_on && sim_rng_chance(&w->rng, w->mix.loss_pm)) {
        w->st.msgs_lost++;
        return;
    }
    int copies = 1;
    if (w->faults_on && sim_rng_chance(&w->rng, w->mix.dup_pm)) {
        copies = 2;
        w->st.msgs_dup++;
    }
    sim_msg *m = sim_msg_new(from, frame, len);
    for (int c = 0; c < copies; c++) {
        sim_event ev = {.kind = EV_DELIVER, .node = to, .ptr = sim_msg_ref(m),
                        .round = w->link_gen[from][to]};
        ev.time = w->now + delay(w);
        sim_schedule(w, &ev);
    }
    sim_msg_unref(m);
}


void net_send_to(sim_world *w, unsigned from, uint32_t to, const uint8_t *frame, size_t len)
{
    if (to != CORE_ALL_PEERS) {
        net_send(w, from, to, frame, len);
        return;
    }
    for (unsigned p = 0; p < w->mix.n; p++)
        if (p != from && net_link_up(w, from, p))
            net_send(w, from, p, frame, len);
}
