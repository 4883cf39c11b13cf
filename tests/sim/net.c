/* tests/sim/net.c: the simulated network.
 *
 * Every message gets its own delay drawn from the seed's range, so
 * reordering falls out of the delays.  Until the heal a message may also be
 * lost or delivered twice; a partition drops what crosses it at send time
 * (what was already in flight still arrives, as packets on a wire do). */
#include "sim.h"

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

void net_send(sim_world *w, unsigned from, unsigned to, sim_msg *m)
{
    w->st.msgs_sent++;
    if (!reachable(w, from, to)) {
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
    for (int c = 0; c < copies; c++) {
        sim_event ev = {.kind = EV_DELIVER, .node = to, .ptr = sim_msg_ref(m)};
        ev.time = w->now + delay(w);
        sim_schedule(w, &ev);
    }
}

void net_broadcast(sim_world *w, unsigned from, sim_msg *m)
{
    for (unsigned to = 0; to < w->mix.n; to++)
        if (to != from)
            net_send(w, from, to, m);
}

/* A client hands a transaction to every node (its RPC reaches each one
 * separately), so a copy may be late or, until the heal, lost. */
void net_deliver_tx(sim_world *w, sim_tx *t)
{
    for (unsigned to = 0; to < w->mix.n; to++) {
        if (w->faults_on && sim_rng_chance(&w->rng, w->mix.tx_loss_pm))
            continue;
        sim_event ev = {.kind = EV_TX_ARRIVE, .node = to, .ptr = sim_tx_ref(t)};
        ev.time = w->now + delay(w);
        sim_schedule(w, &ev);
    }
}
