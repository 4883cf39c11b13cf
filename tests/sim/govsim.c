/* tests/sim/govsim.c: validator-set changes under the faults (DESIGN §5,
 * §11).  In a seed that draws them (mix.vchange), the departments, through
 * the client like any other filing, in turn:
 *
 *   1. add a department with a validator: node nv, dormant until then,
 *      boots from genesis, syncs across the change and votes from two
 *      blocks after it;
 *   2. once it certifies, rotate the node key of a correct validator of
 *      genesis: once the new key certifies (two blocks after the change),
 *      that node restarts with it, as an operator does
 *      (docs/operations.md);
 *   3. once the new key certifies, another correct validator's node key
 *      retires itself (RETIRE_KEY, no quorum): it follows from two blocks
 *      after and never votes again.
 *
 * With f Byzantine validators among nv = 3f + 1, the sets stay within f:
 * nv + 1, then nv + 1, then nv validators.  Each step is read back from the
 * ledger of a correct node, and filed again (or approved further) until it
 * is there: messages are lost, nodes crash and proposals expire. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/gov.h"
#include "permit.pb-c.h"

#define GOV_RETRY_MS 1500
#define JOIN_DEPT "simjoin"
#define JOIN_P2P "127.0.0.1:8700"

enum { G_ADD = 0, G_ROTATE, G_RETIRE, G_DONE };

/* To a correct node that is up (a client that cannot reach one files
 * again later). */
static void file(sim_world *w, sim_tx *t)
{
    if (t == NULL)
        return;
    unsigned start = (unsigned)sim_rng_below(&w->rng, w->mix.n);
    for (unsigned k = 0; k < w->mix.n; k++) {
        unsigned i = (start + k) % w->mix.n;
        if (w->nodes[i].up && !w->nodes[i].byz) {
            sim_event ev = {.kind = EV_TX_ARRIVE, .node = i, .ptr = sim_tx_ref(t)};
            ev.time = w->now + sim_rng_range(&w->rng, 1, 20);
            sim_schedule(w, &ev);
            w->st.txs_filed++;
            break;
        }
    }
    sim_tx_unref(t);
}

static void propose(sim_world *w, Permit__GovChange *gc)
{
    Permit__TxBody b;
    permit__tx_body__init(&b);
    Permit__GovPropose gp = PERMIT__GOV_PROPOSE__INIT;
    gp.change = gc;
    b.kind = PERMIT__TX_KIND__GOV_PROPOSE;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_GOV_PROPOSE;
    b.gov_propose = &gp;
    file(w, client_sign(w, w->dept_key[0], &b));
}

/* The departments of genesis that have not approved open proposal p yet
 * approve it, as many as the quorum still needs. */
static void approve(sim_world *w, const ledger_gov *gv, const ledger_gov_proposal *p)
{
    size_t have = p->n_approvals, need = ledger_gov_needed(gv);
    for (size_t d = 0; d < w->n_dept_keys && have < need; d++) {
        const char *id = w->g->departments[d].id;
        int done = 0;
        for (size_t a = 0; a < p->n_approvals; a++)
            done |= strcmp(p->approvals[a], id) == 0;
        if (done)
            continue;
        Permit__TxBody b;
        permit__tx_body__init(&b);
        Permit__GovApprove ga = PERMIT__GOV_APPROVE__INIT;
        ga.proposal_id = p->id;
        b.kind = PERMIT__TX_KIND__GOV_APPROVE;
        b.payload_case = PERMIT__TX_BODY__PAYLOAD_GOV_APPROVE;
        b.gov_approve = &ga;
        file(w, client_sign(w, w->dept_key[d], &b));
        have++;
    }
}

/* The open proposal of this change type (for this department), or NULL. */
static const ledger_gov_proposal *open_of(const ledger_gov *gv, uint32_t type, const char *dept)
{
    for (size_t i = 0; i < gv->n_open; i++)
        if (gv->open[i].ch.type == type && strcmp(gv->open[i].ch.department, dept) == 0)
            return &gv->open[i];
    return NULL;
}

/* Whether node key `key` is a validator of `height` on node nd's ledger. */
static int certifies(sim_node *nd, uint64_t height, const uint8_t key[32])
{
    ledger_gov *vs = ledger_vset_acquire(nd->L, height, NULL);
    int r = vs != NULL && ledger_genesis_validator_index(vs->m, key) >= 0;
    ledger_gov_release(vs);
    return r;
}

/* A correct validator of genesis other than `not`, for steps 2 and 3. */
static unsigned pick(sim_world *w, unsigned not)
{
    unsigned k = (unsigned)sim_rng_below(&w->rng, w->mix.nv);
    for (unsigned i = 0; i < w->mix.nv; i++, k = (k + 1) % w->mix.nv)
        if (!w->nodes[k].byz && k != not)
            return k;
    return not;
}

static void step_add(sim_world *w, sim_node *rd, const ledger_gov *gv)
{
    sim_node *j = &w->nodes[w->mix.nv];
    if (ledger_genesis_dept_index(gv->m, JOIN_DEPT) >= 0) {
        sim_log(w, 1, "gov: department %s added with node %u's key: it boots from genesis",
                JOIN_DEPT, j->idx);
        j->dormant = 0;
        node_boot(w, j);
        w->st.vset_adds++;
        w->gov_stage = G_ROTATE;
        w->gov_rotated = pick(w, UINT32_MAX);
        return;
    }
    const ledger_gov_proposal *p = open_of(gv, LEDGER_GOV_ADD_DEPARTMENT, JOIN_DEPT);
    if (p != NULL) {
        approve(w, gv, p);
        return;
    }
    (void)rd;
    Permit__GovChange gc = PERMIT__GOV_CHANGE__INIT;
    gc.type = LEDGER_GOV_ADD_DEPARTMENT;
    gc.department = JOIN_DEPT;
    gc.name = "模拟加入局";
    gc.key.data = (uint8_t *)w->join_seal->pub;
    gc.key.len = 32;
    gc.node_key.data = (uint8_t *)w->node_key[j->idx]->pub;
    gc.node_key.len = 32;
    gc.p2p = JOIN_P2P;
    propose(w, &gc);
}

static void step_rotate(sim_world *w, sim_node *rd, const ledger_gov *gv)
{
    unsigned k = w->gov_rotated;
    /* the newcomer first certifies: one change at a time */
    if (!certifies(rd, rd->height + 1, w->node_key[w->mix.nv]->pub))
        return;
    const char *dept = w->g->departments[w->g->validators[k]].id;
    int d = ledger_genesis_dept_index(gv->m, dept);
    if (d >= 0 && memcmp(gv->m->departments[d].node.raw, w->rot_key->pub, 32) == 0) {
        /* executed in block H: the old key signs up to H+1, the new one from
         * H+2, so the node restarts with it once H+2 is being decided (as
         * its operator does: the validator is away only for the restart) */
        if (!certifies(rd, rd->height + 1, w->rot_key->pub)) {
            w->gov_next = w->now + 100;
            return;
        }
        sim_node *nd = &w->nodes[k];
        sim_log(w, 1, "gov: node %u's key rotated: it restarts with the new one", k);
        if (nd->up)
            node_crash(w, nd);
        w->node_key[k] = w->rot_key;
        node_boot(w, nd);
        w->st.vset_rotations++;
        w->gov_stage = G_RETIRE;
        w->gov_retired = pick(w, k);
        return;
    }
    const ledger_gov_proposal *p = open_of(gv, LEDGER_GOV_ROTATE_KEY, dept);
    if (p != NULL) {
        approve(w, gv, p);
        return;
    }
    Permit__GovChange gc = PERMIT__GOV_CHANGE__INIT;
    gc.type = LEDGER_GOV_ROTATE_KEY;
    gc.department = (char *)dept;
    gc.node_key.data = (uint8_t *)w->rot_key->pub;
    gc.node_key.len = 32;
    propose(w, &gc);
}

static void step_retire(sim_world *w, sim_node *rd, const ledger_gov *gv)
{
    unsigned r = w->gov_retired;
    if (r == w->gov_rotated || !certifies(rd, rd->height + 1, w->rot_key->pub))
        return;
    if (ledger_genesis_validator_index(gv->m, w->node_key[r]->pub) < 0) {
        sim_log(w, 1, "gov: node %u's key retired: it follows from two blocks after", r);
        w->st.vset_retirements++;
        w->gov_stage = G_DONE;
        return;
    }
    Permit__TxBody b;
    permit__tx_body__init(&b);
    Permit__Reason rs = PERMIT__REASON__INIT;
    rs.reason = "";
    b.kind = PERMIT__TX_KIND__RETIRE_KEY;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
    b.reason = &rs;
    file(w, client_sign(w, w->node_key[r], &b));
}

void gov_tick(sim_world *w)
{
    if (!w->mix.vchange || w->gov_stage == G_DONE || w->now < w->gov_next)
        return;
    sim_node *rd = client_reader(w);
    if (rd == NULL)
        return;
    ledger_gov *gv = ledger_gov_acquire(rd->L);
    if (gv == NULL)
        return;
    w->gov_next = w->now + GOV_RETRY_MS;
    switch (w->gov_stage) {
    case G_ADD:
        step_add(w, rd, gv);
        break;
    case G_ROTATE:
        step_rotate(w, rd, gv);
        break;
    case G_RETIRE:
        step_retire(w, rd, gv);
        break;
    }
    ledger_gov_release(gv);
}
