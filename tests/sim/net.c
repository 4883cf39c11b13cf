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

#include "node/core.h"

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

void net_on_link_event(sim_world *w, const sim_event *ev)
{
    unsigned a = ev->node, b = ev->arg;
    if (a >= w->mix.n || b >= w->mix.n || w->link_gen[a][b] != ev->round ||
        w->link_state[a][b] != LINK_CONNECTING)
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

