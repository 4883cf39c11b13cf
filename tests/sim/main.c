/* tests/sim/main.c: the simulator's driver: the test chains, the fault mix
 * of a seed, the event loop, liveness, and the command line.
 *
 *   sim --seed N [--validators 4|7] [-v|-vv]   one seed, replayed exactly
 *   sim --seeds N [--first S] [--jobs J]       seeds S..S+N-1 (n alternates),
 *                                              in J processes (default: one per core)
 *
 * Exit status 1 when any seed breaks an invariant, 2 on a usage error. */
#include "sim.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledgertest.h"
#include "node/core.h"

/* ---- the test chains: n = 4 and n = 7 validators ---- */

typedef struct {
    int ready;
    lt_env env;
    ledger_keypair extra_seal, extra_node; /* a seventh department for n = 7 */
    ledger_keypair join_seal, join_node;   /* the department that joins (govsim.c) */
    ledger_keypair rot_node;               /* a node key rotated to (govsim.c) */
} sim_chain;

static sim_chain chains[2];
static sim_chain *edit_chain;
static unsigned edit_n;

static json_t *hexkey(const uint8_t pub[32])
{
    char h[65];
    ledger_hex_encode(pub, 32, h);
    return json_string(h);
}

static json_t *validator_obj(const uint8_t node_pub[32], unsigned i)
{
    char p2p[32];
    snprintf(p2p, sizeof p2p, "127.0.0.1:%u", 8646 + 2 * i);
    json_t *v = json_object();
    json_object_set_new(v, "node_key", hexkey(node_pub));
    json_object_set_new(v, "p2p", json_string(p2p));
    return v;
}

/* The first n departments run validators (DESIGN §10, as permit testnet). */
static void edit_genesis(json_t *root)
{
    json_t *params = json_object_get(root, "params");
    json_object_set_new(params, "block_interval", json_string(SIM_BLOCK_INTERVAL));
    json_object_set_new(params, "heartbeat", json_string(SIM_HEARTBEAT));
    /* 秒批: the kiosk's item is decided by the rule instant, so replicas
     * execute and validate APPLY_INSTANT blocks */
    json_t *inds = json_object_get(root, "industries");
    for (size_t i = 0; i < json_array_size(inds); i++) {
        json_t *ind = json_array_get(inds, i);
        if (strcmp(json_string_value(json_object_get(ind, "code")), "kiosk") == 0)
            json_object_set_new(json_array_get(json_object_get(ind, "items"), 0), "instant",
                                json_true());
    }
    json_t *depts = json_object_get(root, "departments");
    size_t nd = json_array_size(depts);
    for (size_t d = 0; d < nd; d++) {
        json_t *o = json_array_get(depts, d);
        json_object_del(o, "validator");
        if (d < edit_n)
            json_object_set_new(o, "validator",
                                validator_obj(edit_chain->env.node[d].pub, (unsigned)d));
    }
    if (edit_n > nd) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string("sim7"));
        json_object_set_new(o, "name", json_string("数据资源管理局"));
        json_object_set_new(o, "seal_key", hexkey(edit_chain->extra_seal.pub));
        json_object_set_new(o, "validator", validator_obj(edit_chain->extra_node.pub, 6));
        json_array_append_new(depts, o);
    }
}

static void derive(ledger_keypair *kp, const char *label)
{
    uint8_t sec[32];
    ledger_sha256(label, strlen(label), sec);
    if (ledger_keypair_from_secret(kp, sec, NULL) != 0)
        abort();
}

static const ledger_keypair *node_key_of(sim_chain *c, unsigned i, unsigned nv)
{
    if (i == nv)
        return &c->join_node; /* the joiner (govsim.c) */
    return i < LT_NDEPT ? &c->env.node[i] : &c->extra_node;
}

static sim_chain *chain_for(unsigned n)
{
    sim_chain *c = &chains[n == 7];
    if (c->ready)
        return c;
    derive(&c->extra_seal, "permit-sim-key/seal/sim7");
    derive(&c->extra_node, "permit-sim-key/node/sim7");
    derive(&c->join_seal, "permit-sim-key/seal/simjoin");
    derive(&c->join_node, "permit-sim-key/node/simjoin");
    derive(&c->rot_node, "permit-sim-key/node/rotated");
    edit_chain = c;
    edit_n = n;
    lt_setup(&c->env, edit_genesis);
    if (c->env.g->n_validators != n) {
        fprintf(stderr, "sim: the test genesis has %zu validators, not %u\n",
                c->env.g->n_validators, n);
        exit(2);
    }
    for (unsigned i = 0; i < n; i++)
        if (ledger_genesis_validator_index(c->env.g, node_key_of(c, i, n)->pub) != (int)i) {
            fprintf(stderr, "sim: validator %u of the test genesis is out of order\n", i);
            exit(2);
        }
    c->ready = 1;
    return c;
}

/* ---- world helpers ---- */

void sim_fail(sim_world *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->violation, sizeof w->violation, fmt, ap);
    va_end(ap);
    w->failed = 1;
}

void sim_log(sim_world *w, int level, const char *fmt, ...)
{
    if (w->opt.verbose < level)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("[%6llu.%03llu] ", (unsigned long long)(w->now / 1000),
           (unsigned long long)(w->now % 1000));
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

void sim_schedule(sim_world *w, sim_event *ev)
{
    if (sim_queue_push(&w->q, ev) != 0) {
        if (ev->kind == EV_DELIVER)
            sim_msg_unref(ev->ptr);
        else if (ev->kind == EV_TX_ARRIVE)
            sim_tx_unref(ev->ptr);
        sim_fail(w, "sim: out of memory for events");
    }
}

uint64_t sim_correct_min_height(sim_world *w)
{
    uint64_t m = UINT64_MAX;
    for (unsigned i = 0; i < w->mix.n; i++)
        if (!w->nodes[i].byz && !w->nodes[i].dormant && w->nodes[i].height < m)
            m = w->nodes[i].height;
    return m == UINT64_MAX ? 0 : m;
}

uint64_t sim_correct_max_height(sim_world *w)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < w->mix.n; i++)
        if (!w->nodes[i].byz && w->nodes[i].height > m)
            m = w->nodes[i].height;
    return m;
}

/* ---- the fault mix ---- */

static unsigned popcount(unsigned x)
{
    unsigned k = 0;
    for (; x; x &= x - 1)
        k++;
    return k;
}

void sim_mix_describe(const sim_mix *m, char *out, size_t cap)
{
    char byz[96] = "none";
    if (m->byz_mask) {
        size_t k = 0;
        k += (size_t)snprintf(byz + k, sizeof byz - k, "[");
        for (unsigned i = 0; i < m->n && k < sizeof byz; i++)
            if ((m->byz_mask >> i) & 1u)
                k += (size_t)snprintf(byz + k, sizeof byz - k, "%s%u", k > 1 ? "," : "", i);
        if (k < sizeof byz)
            snprintf(byz + k, sizeof byz - k, "]%s%s%s%s%s%s",
                     (m->byz_flags & BYZ_EQUIVOCATE) ? " equivocate" : "",
                     (m->byz_flags & BYZ_GARBAGE) ? " garbage" : "",
                     (m->byz_flags & BYZ_MUTE) ? " mute" : "",
                     (m->byz_flags & BYZ_LURE) ? " lure" : "",
                     (m->byz_flags & BYZ_FLOOD) ? " flood" : "",
                     (m->byz_flags & BYZ_SILENT_PROPOSER) ? " silent-proposer" : "");
    }
    snprintf(out, cap,
             "n=%u f=%u delay=%u-%ums loss=%u.%u%% dup=%u.%u%% partitions=%u+%u+%u crashes=%u+%u "
             "skew=±%ums byzantine=%s heal=%llu.%llus target=%llu "
             "tx_every=%ums tx_to_restarted=%u.%u%% build_fail=%u.%u%% splicer=%s "
             "validator_changes=%s",
             m->nv, m->f, m->delay_min, m->delay_max, m->loss_pm / 10, m->loss_pm % 10,
             m->dup_pm / 10, m->dup_pm % 10, m->n_partitions, m->n_blips, m->commit_cuts,
             m->n_crashes, m->lock_crashes, m->skew_max, byz,
             (unsigned long long)(m->heal_at / 1000),
             (unsigned long long)(m->heal_at % 1000 / 100), (unsigned long long)m->target,
             m->tx_every, m->tx_restart_pm / 10, m->tx_restart_pm % 10, m->build_fail_pm / 10,
             m->build_fail_pm % 10, m->splicer ? "yes" : "no",
             m->vchange ? "add+rotate+retire" : "no");
}

static void draw_mix(sim_world *w, unsigned n)
{
    sim_mix *m = &w->mix;
    sim_rng *r = &w->rng;
    m->n = m->nv = n;
    m->f = (n - 1) / 3;
    m->delay_min = (uint32_t)sim_rng_range(r, 1, 20);
    m->delay_max = m->delay_min + (uint32_t)sim_rng_range(r, 10, 290);
    m->loss_pm = sim_rng_chance(r, 600) ? (unsigned)sim_rng_range(r, 5, 100) : 0;
    m->dup_pm = sim_rng_chance(r, 500) ? (unsigned)sim_rng_range(r, 5, 50) : 0;
    m->n_partitions = (unsigned)sim_rng_range(r, 0, 3);
    m->n_blips = sim_rng_chance(r, 600) ? (unsigned)sim_rng_range(r, 1, 12) : 0;
    m->n_crashes = (unsigned)sim_rng_range(r, 0, 2);
    m->lock_crashes = sim_rng_chance(r, 500) ? (unsigned)sim_rng_range(r, 1, 3) : 0;
    m->commit_cuts = sim_rng_chance(r, 500) ? (unsigned)sim_rng_range(r, 1, 4) : 0;
    m->skew_max = sim_rng_chance(r, 500) ? (uint32_t)sim_rng_range(r, 100, 2000) : 0;
    if (sim_rng_chance(r, 450)) {
        unsigned k = (unsigned)sim_rng_range(r, 1, m->f);
        while (popcount(m->byz_mask) < k)
            m->byz_mask |= 1u << sim_rng_below(r, n);
        do {
            m->byz_flags = 0;
            if (sim_rng_chance(r, 700))
                m->byz_flags |= BYZ_EQUIVOCATE;
            if (sim_rng_chance(r, 700))
                m->byz_flags |= BYZ_GARBAGE;
            if (sim_rng_chance(r, 200))
                m->byz_flags |= BYZ_MUTE;
            if (sim_rng_chance(r, 300))
                m->byz_flags |= BYZ_LURE;
            if (sim_rng_chance(r, 200))
                m->byz_flags |= BYZ_FLOOD;
            if (sim_rng_chance(r, 200))
                m->byz_flags |= BYZ_SILENT_PROPOSER;
        } while (m->byz_flags == 0);
    }
    m->heal_at = sim_rng_range(r, 5000, 25000);
    m->target = sim_rng_range(r, 8, 20);
    m->tx_every = (uint32_t)sim_rng_range(r, 150, 600);
    m->tx_restart_pm = sim_rng_chance(r, 500) ? (unsigned)sim_rng_range(r, 100, 600) : 0;
    m->build_fail_pm = sim_rng_chance(r, 300) ? (unsigned)sim_rng_range(r, 50, 400) : 0;
    m->splicer = sim_rng_chance(r, 300);
    /* validator-set changes: node n joins when the departments add it */
    m->vchange = sim_rng_chance(r, 350);
    if (m->vchange)
        m->n = n + 1;
}

static void schedule_faults(sim_world *w)
{
    sim_mix *m = &w->mix;
    sim_rng *r = &w->rng;
    for (unsigned k = 0; k < m->n_partitions + m->n_blips; k++) {
        uint64_t start = sim_rng_below(r, m->heal_at - 500);
        uint64_t end = start + (k < m->n_partitions ? sim_rng_range(r, 500, 15000)
                                                     : sim_rng_range(r, 100, 2000));
        uint32_t mask;
        if (sim_rng_chance(r, 500))
            mask = 1u << sim_rng_below(r, m->n); /* cut one node off */
        else
            mask = (uint32_t)sim_rng_range(r, 1, (1u << m->n) - 2); /* any split */
        sim_event a = {.kind = EV_PARTITION, .time = start, .arg = mask, .height = k + 1};
        sim_event b = {.kind = EV_UNPARTITION, .height = k + 1};
        b.time = end < m->heal_at ? end : m->heal_at;
        sim_schedule(w, &a);
        sim_schedule(w, &b);
    }
    for (unsigned k = 0; k < m->n_crashes; k++) {
        unsigned node = (unsigned)sim_rng_below(r, m->n);
        uint64_t at = sim_rng_below(r, m->heal_at - 200);
        uint64_t down = sim_rng_range(r, 200, 12000);
        sim_event a = {.kind = EV_CRASH, .time = at, .node = node, .arg = k + 1};
        sim_event b = {.kind = EV_RESTART, .time = at + down, .node = node, .arg = k + 1};
        sim_schedule(w, &a);
        sim_schedule(w, &b);
    }
    w->lock_crashes_left = m->lock_crashes;
    w->commit_cuts_left = m->commit_cuts;
    w->next_crash_id = m->n_crashes;
    sim_event heal = {.kind = EV_HEAL, .time = m->heal_at};
    sim_schedule(w, &heal);
    sim_event client = {.kind = EV_CLIENT, .time = sim_rng_below(r, 300)};
    sim_schedule(w, &client);
}

/* ---- the event loop ---- */

static void dispatch(sim_world *w, sim_event *ev)
{
    sim_node *nd = ev->node < w->mix.n ? &w->nodes[ev->node] : NULL;
    switch (ev->kind) {
    case EV_DELIVER: {
        sim_msg *m = ev->ptr;
        /* what was in flight on a link that went down is lost with it */
        if (m->from < w->mix.n && w->link_gen[m->from][ev->node] == ev->round)
            node_on_msg(w, nd, m);
        else
            w->st.msgs_cut++;
        sim_msg_unref(m);
        break;
    }
    case EV_TX_ARRIVE:
        node_on_tx(w, nd, ev->ptr);
        sim_tx_unref(ev->ptr);
        break;
    case EV_TICK:
        node_on_tick(w, nd, ev);
        break;
    case EV_LINK:
        net_on_link_event(w, ev);
        break;
    case EV_CLIENT:
        client_tick(w);
        break;
    case EV_CRASH:
        if (nd->byz || !nd->up || !w->faults_on)
            break; /* Byzantine validators do not need to crash to misbehave */
        sim_log(w, 1, "node %u crashes at height %llu (signed up to h=%llu r=%u)", nd->idx,
                (unsigned long long)nd->height, (unsigned long long)nd->ss.height, nd->ss.round);
        node_crash(w, nd);
        nd->crash_id = ev->arg;
        w->st.crashes++;
        break;
    case EV_RESTART:
        if (nd->up || nd->crash_id != ev->arg || !w->faults_on)
            break;
        sim_log(w, 1, "node %u restarts", nd->idx);
        w->st.restarts++;
        node_boot(w, nd);
        break;
    case EV_PARTITION:
        if (!w->faults_on)
            break;
        w->partitioned = 1;
        w->side = ev->arg;
        w->partition_id = ev->height;
        w->st.partitions++;
        sim_log(w, 1, "partition %llu: nodes 0x%x apart from the rest",
                (unsigned long long)ev->height, ev->arg);
        net_links_changed(w);
        break;
    case EV_UNPARTITION:
        if (w->partitioned && w->partition_id == ev->height) {
            w->partitioned = 0;
            sim_log(w, 1, "partition %llu heals", (unsigned long long)ev->height);
            net_links_changed(w);
        }
        break;
    case EV_HEAL:
        w->faults_on = 0;
        w->partitioned = 0;
        for (unsigned i = 0; i < w->mix.n; i++)
            if (!w->nodes[i].up && !w->nodes[i].dormant) {
                w->st.restarts++;
                node_boot(w, &w->nodes[i]);
            }
        net_links_changed(w);
        w->healed = 1;
        w->heal_height = sim_correct_max_height(w);
        sim_log(w, 1, "network healed: faults stop at height %llu",
                (unsigned long long)w->heal_height);
        break;
    }
}

static uint64_t goal(const sim_world *w)
{
    return w->mix.target > w->heal_height + 2 ? w->mix.target : w->heal_height + 2;
}

static int goal_reached(const sim_world *w)
{
    if (!w->healed)
        return 0;
    for (unsigned i = 0; i < w->mix.n; i++) {
        const sim_node *nd = &w->nodes[i];
        if (!nd->byz && !nd->dormant && (!nd->up || nd->height < goal(w)))
            return 0;
    }
    return 1;
}

/* Once the goal is reached, the quiet tail: a correct node restarts and the
 * client's last transaction reaches it before any of its links is up; then
 * nothing happens but what that transaction causes.  It must commit within
 * the bound all the same: announced when the links come up, it reaches the
 * proposers, or it waits for the heartbeat (60 s) and fails the seed. */
static void tail_step(sim_world *w)
{
    if (w->tail == 0) {
        unsigned k = (unsigned)sim_rng_below(&w->rng, w->mix.n);
        while (((w->mix.byz_mask >> k) & 1u) || w->nodes[k].dormant)
            k = (k + 1) % w->mix.n;
        w->tail = 1;
        w->tail_node = k;
        w->tail_at = w->now;
        sim_log(w, 1, "tail: node %u restarts, then one last transaction goes to it", k);
        node_crash(w, &w->nodes[k]);
        node_boot(w, &w->nodes[k]);
        client_file_to(w, k);
        w->tail = 2;
    }
}

static int done(sim_world *w)
{
    if (w->finished)
        return 1;
    if (!goal_reached(w))
        return 0;
    if (w->tail == 0) {
        tail_step(w);
        return 0;
    }
    /* every correct mempool empty, or holding only transactions no longer
     * valid (looked at in detail at most every 200 ms: it executes rules) */
    int empty = 1;
    for (unsigned i = 0; i < w->mix.n; i++) {
        const sim_node *nd = &w->nodes[i];
        if (nd->dormant)
            continue;
        if (!nd->byz && !nd->up)
            return 0;
        if (!nd->byz && node_mempool_size(nd->mp) > 0)
            empty = 0;
    }
    if (!empty) {
        if (w->now < w->tail_next_look)
            return 0;
        w->tail_next_look = w->now + 200;
        for (unsigned i = 0; i < w->mix.n; i++)
            if (!w->nodes[i].byz && !w->nodes[i].dormant &&
                check_valid_waiting(w, &w->nodes[i]) > 0)
                return 0;
    }
    if (w->now - w->tail_at > w->st.tail_ms_max)
        w->st.tail_ms_max = w->now - w->tail_at;
    w->finished = 1;
    return 1;
}

static void liveness_failure(sim_world *w)
{
    char buf[512];
    size_t k = 0;
    for (unsigned i = 0; i < w->mix.n && k < sizeof buf; i++) {
        const sim_node *nd = &w->nodes[i];
        k += (size_t)snprintf(buf + k, sizeof buf - k, " node%u%s:h=%llu", i,
                              nd->byz ? "(byz)" : "", (unsigned long long)nd->height);
        if (nd->up && k < sizeof buf) {
            core_stats st;
            core_get_stats(nd->c, &st);
            k += (size_t)snprintf(buf + k, sizeof buf - k, ",at=%llu/%u,step=%d,pool=%zu",
                                  (unsigned long long)st.height, st.round,
                                  (int)cons_current_step(core_engine(nd->c)),
                                  node_mempool_size(nd->mp));
        }
    }
    sim_fail(w, "liveness: %u s after the heal the chain has not reached height %llu:%s",
             SIM_LIVENESS_MS / 1000, (unsigned long long)goal(w), buf);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rmrf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void add_stats(sim_stats *t, const sim_stats *s)
{
    uint64_t rmax = t->rounds_max > s->rounds_max ? t->rounds_max : s->rounds_max;
    uint64_t wmax = t->tx_wait_max_ms > s->tx_wait_max_ms ? t->tx_wait_max_ms : s->tx_wait_max_ms;
    uint64_t tmax = t->tail_ms_max > s->tail_ms_max ? t->tail_ms_max : s->tail_ms_max;
    const uint64_t *a = (const uint64_t *)s; /* every field is a uint64_t counter */
    uint64_t *b = (uint64_t *)t;
    for (size_t i = 0; i < sizeof *s / sizeof(uint64_t); i++)
        b[i] += a[i];
    t->rounds_max = rmax;
    t->tx_wait_max_ms = wmax;
    t->tail_ms_max = tmax;
}

static int run_seed(uint64_t seed, unsigned n, const sim_opts *opt, const char *base,
                    sim_stats *total)
{
    sim_world *w = calloc(1, sizeof *w);
    if (w == NULL)
        abort();
    sim_chain *c = chain_for(n);
    w->seed = seed;
    w->opt = *opt;
    sim_rng_seed(&w->rng, seed);
    w->g = c->env.g;
    w->join_seal = &c->join_seal;
    w->rot_key = &c->rot_node;
    for (unsigned d = 0; d < LT_NDEPT; d++)
        w->dept_key[w->n_dept_keys++] = &c->env.dept[d];
    if (n > LT_NDEPT)
        w->dept_key[w->n_dept_keys++] = &c->extra_seal;
    w->registrar = &c->env.registrar;
    w->wall0 = LT_T0 + 10 * LT_SEC;
    w->chain = calloc(SIM_MAX_HEIGHT + 1, sizeof *w->chain);
    w->verified = calloc(SIM_VERIFIED, sizeof *w->verified);
    if (w->chain == NULL || w->verified == NULL)
        abort();
    w->faults_on = 1;
    draw_mix(w, n);
    for (unsigned i = 0; i < w->mix.n; i++)
        w->node_key[i] = node_key_of(c, i, n);
    char mix[512];
    sim_mix_describe(&w->mix, mix, sizeof mix);
    snprintf(w->dir, sizeof w->dir, "%.400s/s%llu", base, (unsigned long long)seed);
    if (mkdir(w->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "sim: mkdir %s: %s\n", w->dir, strerror(errno));
        exit(2);
    }
    for (unsigned i = 0; i < w->mix.n; i++) {
        sim_node *nd = &w->nodes[i];
        nd->idx = i;
        nd->byz = (w->mix.byz_mask >> i) & 1u;
        nd->dormant = i >= n; /* the joiner boots when its department is added */
        if (w->mix.skew_max)
            nd->skew = (int64_t)sim_rng_below(&w->rng, 2 * (uint64_t)w->mix.skew_max + 1) -
                       (int64_t)w->mix.skew_max;
        snprintf(nd->db, sizeof nd->db, "%.500s/node%u", w->dir, i);
    }
    schedule_faults(w);
    if (opt->verbose)
        printf("seed %llu: %s\n", (unsigned long long)seed, mix);
    for (unsigned i = 0; i < n && !w->failed; i++)
        node_boot(w, &w->nodes[i]);

    sim_event ev;
    uint64_t next_check = 0;
    while (!w->failed && sim_queue_pop(&w->q, &ev)) {
        w->now = ev.time;
        w->st.events++;
        if (w->healed && w->now >= next_check) {
            check_mempools(w);
            next_check = w->now + 1000;
        }
        if (w->healed && w->now > w->mix.heal_at + SIM_LIVENESS_MS + (w->tail ? SIM_TX_BOUND_MS : 0)) {
            if (ev.kind == EV_DELIVER)
                sim_msg_unref(ev.ptr);
            else if (ev.kind == EV_TX_ARRIVE)
                sim_tx_unref(ev.ptr);
            liveness_failure(w);
            break;
        }
        dispatch(w, &ev);
        if (w->st.events > SIM_MAX_EVENTS)
            sim_fail(w, "sim: more than %d events", SIM_MAX_EVENTS);
        if (done(w))
            break;
    }
    if (!w->failed && !done(w))
        liveness_failure(w); /* the queue ran dry */
    if (!w->failed)
        check_mempools(w);
    if (!w->failed)
        check_final(w);

    w->st.seeds = 1;
    w->st.seeds_n4 = n == 4;
    w->st.seeds_n7 = n == 7;
    w->st.heights = sim_correct_max_height(w);
    w->st.sim_ms = w->now;
    for (unsigned i = 0; i < n; i++) {
        sim_node *nd = &w->nodes[i];
        if (!nd->byz && nd->up && w->st.txs_committed == 0) {
            for (uint64_t h = 1; h <= nd->height; h++) {
                size_t nt = 0;
                ledger_header hdr;
                uint8_t(*ids)[32] = NULL;
                if (ledger_get_block(nd->L, h, &hdr, NULL, NULL, &ids, &nt, NULL) == 1)
                    w->st.txs_committed += nt;
                free(ids);
            }
        }
    }
    int failed = w->failed;
    if (failed) {
        printf("FAIL seed %llu (n=%u) at %llu.%03llu s: %s\n", (unsigned long long)seed, n,
               (unsigned long long)(w->now / 1000), (unsigned long long)(w->now % 1000),
               w->violation);
        printf("  mix: %s\n", mix);
        printf("  replay: sim --seed %llu --validators %u -v\n", (unsigned long long)seed, n);
    } else if (opt->verbose || (getenv("PERMIT_SIM_SLOW_TX") &&
                                w->st.tx_wait_max_ms > strtoull(getenv("PERMIT_SIM_SLOW_TX"),
                                                                NULL, 10))) {
        printf("seed %llu: ok, height %llu at %llu.%03llu s, %llu events, a transaction waited "
               "%llu ms after the heal\n",
               (unsigned long long)seed, (unsigned long long)w->st.heights,
               (unsigned long long)(w->now / 1000), (unsigned long long)(w->now % 1000),
               (unsigned long long)w->st.events, (unsigned long long)w->st.tx_wait_max_ms);
    }
    fflush(stdout);
    for (unsigned i = 0; i < w->mix.n; i++)
        node_close(w, &w->nodes[i]);
    sim_queue_free(&w->q);
    rmrf(w->dir);
    add_stats(total, &w->st);
    check_free(w);
    client_free(w);
    free(w->verified);
    free(w);
    return failed;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sim --seed N [--validators 4|7] [-v|-vv]\n"
            "       sim --seeds N [--first S] [--jobs J] [--validators 4|7] [-v]\n"
            "Runs the deterministic consensus simulator (tests/sim/README.md).  Without\n"
            "--validators, odd seeds run 4 validators and even seeds 7.  --jobs runs the\n"
            "seeds in J processes (default: one per core; each seed is independent).\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* for the summary only: never seen by a seed */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *make_base(void)
{
    const char *root = getenv("PERMIT_SIM_DIR");
    if (root == NULL || *root == '\0')
        root = "/dev/shm"; /* tmpfs: fsync is cheap */
    if (access(root, W_OK) != 0) {
        root = getenv("TMPDIR");
        if (root == NULL || *root == '\0')
            root = "/tmp";
    }
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/permit-sim-XXXXXX", root);
    char *d = mkdtemp(tmpl);
    if (d == NULL) {
        fprintf(stderr, "sim: cannot create a folder under %s: %s\n", root, strerror(errno));
        exit(2);
    }
    return strdup(d);
}

/* Seeds first + k, first + k + stride, ... below first + count. */
static unsigned run_share(uint64_t first, uint64_t count, uint64_t k, uint64_t stride,
                          uint64_t validators, const sim_opts *opt, const char *base,
                          sim_stats *tot, int progress, double t0)
{
    unsigned failures = 0;
    uint64_t done = 0;
    for (uint64_t s = first + k; s < first + count; s += stride) {
        unsigned n = validators ? (unsigned)validators : (s % 2 ? 4 : 7);
        failures += (unsigned)run_seed(s, n, opt, base, tot);
        if (progress && ++done % 100 == 0) {
            printf("sim: %llu seeds done, %u failed (%.1f s)\n", (unsigned long long)done,
                   failures, wall_seconds() - t0);
            fflush(stdout);
        }
    }
    for (int i = 0; i < 2; i++)
        if (chains[i].ready) {
            lt_teardown(&chains[i].env);
            chains[i].ready = 0;
        }
    return failures;
}

typedef struct {
    sim_stats st;
    unsigned failures;
} share_result;

/* Run the shares in `jobs` child processes and add up what they report. */
static unsigned run_forked(unsigned jobs, uint64_t first, uint64_t count, uint64_t validators,
                           const sim_opts *opt, const char *base, sim_stats *tot)
{
    int fds[64];
    pid_t pids[64];
    unsigned failures = 0, started = 0;
    fflush(stdout);
    for (unsigned k = 0; k < jobs; k++) {
        int p[2];
        if (pipe(p) != 0) {
            perror("sim: pipe");
            exit(2);
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("sim: fork");
            exit(2);
        }
        if (pid == 0) {
            close(p[0]);
            share_result r;
            memset(&r, 0, sizeof r);
            r.failures = run_share(first, count, k, jobs, validators, opt, base, &r.st, 0, 0);
            fflush(stdout);
            ssize_t wr = write(p[1], &r, sizeof r);
            close(p[1]);
            exit(wr == (ssize_t)sizeof r ? 0 : 3); /* exit, not _exit: leak checks run */
        }
        close(p[1]);
        fds[started] = p[0];
        pids[started++] = pid;
    }
    for (unsigned k = 0; k < started; k++) {
        share_result r;
        size_t got = 0;
        while (got < sizeof r) {
            ssize_t n = read(fds[k], (char *)&r + got, sizeof r - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        close(fds[k]);
        int status = 0;
        waitpid(pids[k], &status, 0);
        if (got != sizeof r || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("sim: worker %u died (status 0x%x): its seeds count as failed\n", k, status);
            failures++;
            continue;
        }
        add_stats(tot, &r.st);
        failures += r.failures;
    }
    return failures;
}

int main(int argc, char **argv)
{
    /* RocksDB starts (and joins) a dozen threads per column family on every
     * open; with the default 8 MB stacks most of a seed's time went to
     * mapping and unmapping them.  Small stacks stay in glibc's cache. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
#ifdef __SANITIZE_ADDRESS__
    pthread_attr_setstacksize(&attr, 2u << 20);
#else
    pthread_attr_setstacksize(&attr, 512u << 10);
#endif
    pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);

    uint64_t seed = 0, seeds = 0, first = 1, validators = 0, jobs = 0;
    int have_seed = 0;
    sim_opts opt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t *dst = NULL;
        if (strcmp(a, "--seed") == 0) {
            dst = &seed;
            have_seed = 1;
        } else if (strcmp(a, "--seeds") == 0) {
            dst = &seeds;
        } else if (strcmp(a, "--first") == 0) {
            dst = &first;
        } else if (strcmp(a, "--jobs") == 0) {
            dst = &jobs;
        } else if (strcmp(a, "--validators") == 0) {
            dst = &validators;
        } else if (strcmp(a, "-v") == 0) {
            opt.verbose = 1;
        } else if (strcmp(a, "-vv") == 0) {
            opt.verbose = 2;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
        if (dst && (i + 1 >= argc || parse_u64(argv[++i], dst) != 0)) {
            fprintf(stderr, "sim: %s needs a non-negative number\n", a);
            return 2;
        }
    }
    if (have_seed == (seeds > 0) || (validators != 0 && validators != 4 && validators != 7)) {
        usage(stderr);
        return 2;
    }
    if (have_seed) {
        first = seed;
        seeds = 1;
    }
    if (jobs == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = cores > 0 ? (uint64_t)cores : 1;
    }
    if (jobs > 64)
        jobs = 64;
    if (jobs > seeds)
        jobs = seeds;
    if (opt.verbose)
        jobs = 1; /* one trace, in order */
    char *base = make_base();
    sim_stats tot;
    memset(&tot, 0, sizeof tot);
    double t0 = wall_seconds();
    unsigned failures =
        jobs > 1 ? run_forked((unsigned)jobs, first, seeds, validators, &opt, base, &tot)
                 : run_share(first, seeds, 0, 1, validators, &opt, base, &tot, !have_seed, t0);
    double dt = wall_seconds() - t0;
    rmrf(base);
    free(base);

    printf("sim: %llu seeds (%llu with n=4, %llu with n=7), %u failed, %.1f s in %llu "
           "process%s\n",
           (unsigned long long)tot.seeds, (unsigned long long)tot.seeds_n4,
           (unsigned long long)tot.seeds_n7, failures, dt, (unsigned long long)jobs,
           jobs == 1 ? "" : "es");
    printf("  committed: %llu heights, %llu of %llu transactions filed (%llu to a node just "
           "restarted); %llu s simulated, %llu events, highest round %llu\n",
           (unsigned long long)tot.heights, (unsigned long long)tot.txs_committed,
           (unsigned long long)tot.txs_filed, (unsigned long long)tot.txs_to_restarted,
           (unsigned long long)(tot.sim_ms / 1000), (unsigned long long)tot.events,
           (unsigned long long)tot.rounds_max);
    printf("  after the heal, the longest a transaction waited in a correct mempool: %llu ms "
           "(bound %d ms); the quiet tail's transaction, filed to a node just restarted, "
           "committed everywhere within %llu ms at most\n",
           (unsigned long long)tot.tx_wait_max_ms, SIM_TX_BOUND_MS,
           (unsigned long long)tot.tail_ms_max);
    printf("  messages: %llu sent, %llu lost, %llu duplicated, %llu cut by partitions\n",
           (unsigned long long)tot.msgs_sent, (unsigned long long)tot.msgs_lost,
           (unsigned long long)tot.msgs_dup, (unsigned long long)tot.msgs_cut);
    printf("  faults: %llu partitions, %llu crashes, %llu restarts, %llu links up (%llu "
           "splices of them tried by a keyless relay), %llu blocks "
           "the proposer failed to make; Byzantine "
           "validators: %llu lock-breaking attacks, %llu equivocations, %llu garbage messages, "
           "%llu lures to a far height, %llu proposal floods, %llu proposals withheld\n",
           (unsigned long long)tot.partitions, (unsigned long long)tot.crashes,
           (unsigned long long)tot.restarts, (unsigned long long)tot.links_up,
           (unsigned long long)tot.splices_tried, (unsigned long long)tot.builds_failed, (unsigned long long)tot.byz_attacks, (unsigned long long)tot.byz_equiv,
           (unsigned long long)tot.byz_garbage, (unsigned long long)tot.byz_lures,
           (unsigned long long)tot.byz_floods, (unsigned long long)tot.byz_silent);
    printf("  defences: %llu signatures refused by the sign state, %llu bad signatures and "
           "%llu bad blocks dropped, %llu equivocations seen by engines, %llu blocks synced, "
           "%llu sync answers refused\n",
           (unsigned long long)tot.sign_refused, (unsigned long long)tot.bad_sig,
           (unsigned long long)tot.bad_block, (unsigned long long)tot.equivocations_seen,
           (unsigned long long)tot.syncs_applied, (unsigned long long)tot.sync_refused);
    printf("  validator-set changes: %llu validators added (each synced from genesis), %llu "
           "node keys rotated, %llu node keys retired\n",
           (unsigned long long)tot.vset_adds, (unsigned long long)tot.vset_rotations,
           (unsigned long long)tot.vset_retirements);
    return failures ? 1 : 0;
}
