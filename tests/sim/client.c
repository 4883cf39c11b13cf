/* tests/sim/client.c: the service window and the departments, filing a
 * realistic stream of signed transactions: applications (APPLY by the
 * registrar), approvals of pending permit items (APPROVE by the owning
 * department's seal key) and extra business addresses on issued licenses
 * (ADD_ADDRESS, 一照多址).  What exists is read from a correct node's
 * ledger, as a client reads it over RPC.  Nonces and signatures come from
 * the seed, so the transactions (and their ids) replay exactly. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledgertest.h"
#include "ledger/hash.h"
#include "ledger/license.h"
#include "ledger/query.h"
#include "ledger/tx.h"
#include "permit.pb-c.h"

static const uint8_t AUX[32];

static const struct {
    const char *code;
    int commitment_allowed;
} industries[] = {
    {"convenience-store", 1},
    {"hotel", 0},
    {"bakery", 1},
    {"kiosk", 1},
};
#define N_INDUSTRIES (sizeof industries / sizeof industries[0])

sim_tx *client_sign(sim_world *w, const ledger_keypair *kp, Permit__TxBody *b)
{
    uint8_t nonce[LEDGER_NONCE_LEN];
    sim_rng_bytes(&w->rng, nonce, sizeof nonce);
    b->timestamp_ms = w->wall0 + w->now;
    b->nonce.data = nonce;
    b->nonce.len = sizeof nonce;
    size_t blen = permit__tx_body__get_packed_size(b);
    if (blen > LEDGER_MAX_BODY)
        return NULL;
    uint8_t *env = malloc(LEDGER_ENVELOPE_HEADER + blen);
    if (env == NULL)
        return NULL;
    permit__tx_body__pack(b, env + LEDGER_ENVELOPE_HEADER);
    uint8_t h[32];
    ledger_tx_sighash(w->g->chain_id, env + LEDGER_ENVELOPE_HEADER, blen, h);
    env[0] = LEDGER_ENVELOPE_VERSION;
    memcpy(env + 1, kp->pub, 32);
    sim_tx *t = NULL;
    if (ledger_sign(kp, h, AUX, env + 33) == 0)
        t = sim_tx_new(env, LEDGER_ENVELOPE_HEADER + blen);
    free(env);
    return t;
}

static sim_tx *make_apply(sim_world *w)
{
    if (w->n_apps == SIM_MAX_APPS)
        return NULL;
    sim_app *app = &w->apps[w->n_apps];
    memset(app, 0, sizeof *app);
    lt_uscc(w->next_uscc++, app->uscc);
    app->industry = (int)sim_rng_below(&w->rng, N_INDUSTRIES);
    char name[96], addr[96];
    snprintf(name, sizeof name, "常州新北第%u便利有限公司", w->next_uscc);
    snprintf(addr, sizeof addr, "常州市新北区太湖东路%u号", w->next_uscc);
    Permit__TxBody b;
    permit__tx_body__init(&b);
    Permit__Apply a = PERMIT__APPLY__INIT;
    Permit__Address ad = PERMIT__ADDRESS__INIT;
    b.kind = PERMIT__TX_KIND__APPLY;
    a.uscc = app->uscc;
    a.name = name;
    a.legal_rep = "张三";
    a.industry = (char *)industries[app->industry].code;
    a.scope = "预包装食品销售";
    ad.division = "320411";
    ad.text = addr;
    a.address = &ad;
    a.commitment = industries[app->industry].commitment_allowed && sim_rng_chance(&w->rng, 400);
    /* the notify-and-commit route carries the holder's pledge
     * (pledge_required); the registrar's key stands in for the holder's */
    uint8_t text_sha[32], digest[32], pledge_sig[64], holder[32];
    if (a.commitment) {
        static const char text[] = "本公司承诺符合经营许可条件。";
        ledger_sha256(text, sizeof text - 1, text_sha);
        ledger_pledge_digest(w->g->chain_id, a.uscc, a.industry, text_sha, digest);
        if (ledger_sign(w->registrar, digest, AUX, pledge_sig) != 0)
            return NULL;
        memcpy(holder, w->registrar->pub, 32);
        a.holder_key.data = holder;
        a.holder_key.len = 32;
        a.pledge_sha256.data = text_sha;
        a.pledge_sha256.len = 32;
        a.pledge_sig.data = pledge_sig;
        a.pledge_sig.len = 64;
    }
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_APPLY;
    b.apply = &a;
    sim_tx *t = client_sign(w, w->registrar, &b);
    if (t)
        w->n_apps++;
    return t;
}

/* The correct node that is furthest ahead: where the client reads. */
sim_node *client_reader(sim_world *w)
{
    sim_node *best = NULL;
    for (unsigned i = 0; i < w->mix.n; i++) {
        sim_node *nd = &w->nodes[i];
        if (!nd->byz && nd->up && (best == NULL || nd->height > best->height))
            best = nd;
    }
    return best;
}

static int learn_license(sim_node *obs, sim_app *app)
{
    ledger_query q;
    memset(&q, 0, sizeof q);
    q.kind = LEDGER_Q_SEARCH;
    q.uscc = app->uscc;
    q.limit = 1;
    ledger_query_result res;
    memset(&res, 0, sizeof res);
    ledger_err err;
    if (ledger_query_run(obs->L, &q, &res, &err) != 0)
        return 0;
    int found = res.n > 0;
    if (found)
        snprintf(app->license, sizeof app->license, "%s", res.items[0].id);
    ledger_query_result_free(&res);
    return found;
}

/* An approval or an address for one application, if its state calls for one. */
static sim_tx *follow_up(sim_world *w, sim_node *obs, sim_app *app)
{
    if (app->license[0] == '\0' && !learn_license(obs, app))
        return NULL;
    ledger_license lic;
    ledger_err err;
    if (ledger_get_license(obs->L, app->license, &lic, &err) != 1)
        return NULL;
    sim_tx *t = NULL;
    Permit__TxBody b;
    permit__tx_body__init(&b);
    b.license_id = app->license;
    if (lic.status == LIC_PENDING) {
        for (size_t i = 0; i < lic.n_items; i++) {
            if (lic.items[i].decision != DEC_PENDING)
                continue;
            int d = ledger_genesis_dept_index(w->g, lic.items[i].department);
            if (d < 0 || (size_t)d >= w->n_dept_keys)
                break;
            Permit__Decision dec = PERMIT__DECISION__INIT;
            dec.reason = "";
            b.kind = PERMIT__TX_KIND__APPROVE;
            b.payload_case = PERMIT__TX_BODY__PAYLOAD_DECISION;
            b.decision = &dec;
            t = client_sign(w, w->dept_key[d], &b);
            break;
        }
    } else if ((lic.status == LIC_ISSUED || lic.status == LIC_ISSUED_UNVERIFIED) &&
               sim_rng_chance(&w->rng, 100)) {
        /* now and then a department revokes: the USCC record (秒批) every
         * replica must write alike */
        int d = ledger_genesis_dept_index(w->g, lic.items[0].department);
        if (d >= 0 && (size_t)d < w->n_dept_keys) {
            Permit__Reason r = PERMIT__REASON__INIT;
            r.reason = "承诺不实";
            b.kind = PERMIT__TX_KIND__REVOKE;
            b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
            b.reason = &r;
            t = client_sign(w, w->dept_key[d], &b);
        }
    } else if ((lic.status == LIC_ISSUED || lic.status == LIC_ISSUED_UNVERIFIED) &&
               lic.n_addresses < 4) {
        char addr[96];
        snprintf(addr, sizeof addr, "常州市新北区河海东路%u号", ++app->addresses);
        Permit__AddAddress aa = PERMIT__ADD_ADDRESS__INIT;
        Permit__Address ad = PERMIT__ADDRESS__INIT;
        ad.division = "320411";
        ad.text = addr;
        aa.address = &ad;
        b.kind = PERMIT__TX_KIND__ADD_ADDRESS;
        b.payload_case = PERMIT__TX_BODY__PAYLOAD_ADD_ADDRESS;
        b.add_address = &aa;
        t = client_sign(w, w->registrar, &b);
    }
    ledger_license_clear(&lic);
    return t;
}

/* The service window submits to one node, as a registrar's CLI talks to
 * one RPC endpoint: the others learn of it by gossip only.  Now and then it
 * is a node that has just restarted, before its links are up (the
 * transaction must not be stranded there). */
static void submit(sim_world *w, sim_tx *t)
{
    unsigned to = (unsigned)sim_rng_below(&w->rng, w->mix.n);
    if (sim_rng_chance(&w->rng, w->mix.tx_restart_pm)) {
        for (unsigned k = 0; k < w->mix.n; k++) {
            unsigned i = (to + k) % w->mix.n;
            const sim_node *nd = &w->nodes[i];
            if (nd->up && nd->crashes > 0 && w->now - nd->up_since < 2000) {
                to = i;
                w->st.txs_to_restarted++;
                break;
            }
        }
    }
    sim_event ev = {.kind = EV_TX_ARRIVE, .node = to, .ptr = sim_tx_ref(t)};
    ev.time = w->now + sim_rng_range(&w->rng, 1, 20);
    sim_schedule(w, &ev);
}

static int ensure_apps(sim_world *w)
{
    if (w->apps == NULL) {
        w->apps = calloc(SIM_MAX_APPS, sizeof *w->apps);
        if (w->apps == NULL) {
            sim_fail(w, "sim: out of memory");
            return -1;
        }
    }
    return 0;
}

void client_file_to(sim_world *w, unsigned to)
{
    if (ensure_apps(w) != 0)
        return;
    sim_tx *t = make_apply(w);
    if (t == NULL)
        return;
    w->st.txs_filed++;
    sim_event ev = {.kind = EV_TX_ARRIVE, .node = to, .ptr = t};
    ev.time = w->now;
    sim_schedule(w, &ev);
}

void client_tick(sim_world *w)
{
    if (w->tail)
        return; /* quiet: nothing but the tail's transaction */
    if (ensure_apps(w) != 0)
        return;
    gov_tick(w); /* the departments' validator-set changes, in their turn */
    sim_tx *t = NULL;
    sim_node *obs = client_reader(w);
    if (obs && w->n_apps > 0 && !sim_rng_chance(&w->rng, 350)) {
        for (int tries = 0; tries < 3 && t == NULL; tries++) {
            sim_app *app = &w->apps[sim_rng_below(&w->rng, w->n_apps)];
            if (app->last_tx + 2000 > w->now && app->last_tx != 0)
                continue; /* give the last one time to commit */
            t = follow_up(w, obs, app);
            if (t)
                app->last_tx = w->now;
        }
    }
    if (t == NULL)
        t = make_apply(w);
    if (t) {
        w->st.txs_filed++;
        submit(w, t);
        sim_tx_unref(t);
    }
    uint64_t next = sim_rng_range(&w->rng, w->mix.tx_every / 2, w->mix.tx_every * 3 / 2);
    sim_event ev = {.kind = EV_CLIENT};
    ev.time = w->now + next;
    sim_schedule(w, &ev);
}

void client_free(sim_world *w)
{
    free(w->apps);
    w->apps = NULL;
    w->n_apps = 0;
}
