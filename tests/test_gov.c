/* tests/test_gov.c: governance (DESIGN §11, ledger/gov.h): the membership in
 * state, GOV_PROPOSE / GOV_APPROVE with their quorum and expiry, RETIRE_KEY,
 * and one test per governance rule of docs/rules.md that breaks it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/audit.h"
#include "ledger/block.h"
#include "ledger/bundle.h"
#include "ledger/gov.h"
#include "ledger/hex.h"
#include "ledger/license.h"
#include "ledger/ledger.h"
#include "ledgertest.h"
#include "testutil.h"

/* six departments: a quorum is 5 (more than 2/3 of 6) */
#define QUORUM 5

static int setup(void **state)
{
    lt_env *env = calloc(1, sizeof *env);
    lt_setup(env, NULL);
    env->now = LT_T0;
    *state = env;
    return 0;
}

/* market, tobacco, fire and health run validators (node keys node[d]);
 * the edit has no env of its own: the one being set up */
static lt_env *g_edit_env;

static void four_validators(json_t *root)
{
    json_t *depts = json_object_get(root, "departments");
    for (size_t i = LT_MARKET; i <= LT_HEALTH; i++) {
        char hex[65], addr[32];
        ledger_hex_encode(g_edit_env->node[i].pub, 32, hex);
        snprintf(addr, sizeof addr, "127.0.0.1:%zu", 8700 + i);
        json_object_set_new(json_array_get(depts, i), "validator",
                            json_pack("{s:s, s:s}", "node_key", hex, "p2p", addr));
    }
}

static int setup4(void **state)
{
    lt_env *env = calloc(1, sizeof *env);
    g_edit_env = env;
    lt_setup(env, four_validators);
    env->now = LT_T0;
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    lt_env *env = *state;
    lt_teardown(env);
    free(env);
    return 0;
}

static void uscc(uint32_t n, char out[19])
{
    lt_uscc(n, out);
}

/* ---- builders ------------------------------------------------------------ */

typedef struct {
    uint32_t type;
    const char *name, *department, *code, *p2p;
    const uint8_t *key, *node_key;
    uint64_t value;
    Permit__GovIndustry *industry;
} change;

static uint8_t *propose(lt_env *env, const ledger_keypair *kp, const change *c,
                        uint64_t expires_at, size_t *len)
{
    Permit__TxBody b;
    uint8_t nonce[LEDGER_NONCE_LEN];
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__GOV_PROPOSE, env->now + LT_SEC,
                                         nonce), 0);
    Permit__GovPropose gp = PERMIT__GOV_PROPOSE__INIT;
    Permit__GovChange gc = PERMIT__GOV_CHANGE__INIT;
    gc.type = c->type;
    gc.name = (char *)(c->name ? c->name : "");
    gc.department = (char *)(c->department ? c->department : "");
    gc.code = (char *)(c->code ? c->code : "");
    gc.p2p = (char *)(c->p2p ? c->p2p : "");
    if (c->key) {
        gc.key.data = (uint8_t *)c->key;
        gc.key.len = 32;
    }
    if (c->node_key) {
        gc.node_key.data = (uint8_t *)c->node_key;
        gc.node_key.len = 32;
    }
    gc.value = c->value;
    gc.industry = c->industry;
    gp.change = &gc;
    gp.expires_at = expires_at;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_GOV_PROPOSE;
    b.gov_propose = &gp;
    return lt_sign(env, kp, &b, len);
}

static uint8_t *approve(lt_env *env, const ledger_keypair *kp, uint32_t id, size_t *len)
{
    Permit__TxBody b;
    uint8_t nonce[LEDGER_NONCE_LEN];
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__GOV_APPROVE, env->now + LT_SEC,
                                         nonce), 0);
    Permit__GovApprove ga = PERMIT__GOV_APPROVE__INIT;
    ga.proposal_id = id;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_GOV_APPROVE;
    b.gov_approve = &ga;
    return lt_sign(env, kp, &b, len);
}

static uint8_t *retire(lt_env *env, const ledger_keypair *kp, size_t *len)
{
    Permit__TxBody b;
    uint8_t nonce[LEDGER_NONCE_LEN];
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__RETIRE_KEY, env->now + LT_SEC,
                                         nonce), 0);
    Permit__Reason r = PERMIT__REASON__INIT;
    r.reason = "";
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
    b.reason = &r;
    return lt_sign(env, kp, &b, len);
}

static void run_ok(lt_env *env, uint8_t *tx, const size_t *lenp)
{
    size_t len = *lenp;
    ledger_err err;
    memset(&err, 0, sizeof err);
    if (lt_run_free(env, 0, tx, len, NULL, &err) != 0)
        fail_msg("refused by %s: %s", err.rule ? err.rule : "(none)", err.msg);
}

/* (the length by pointer: read after the builder that sets it ran) */
static void expect_refused(lt_env *env, uint8_t *tx, const size_t *lenp, ledger_code code,
                           const char *rule)
{
    size_t len = *lenp;
    ledger_err err;
    memset(&err, 0, sizeof err);
    uint64_t h = ledger_height(env->L);
    if (lt_run_free(env, 0, tx, len, NULL, &err) == 0)
        fail_msg("expected refusal by rule %s, but the transaction was accepted", rule);
    if (err.rule == NULL || strcmp(err.rule, rule) != 0)
        fail_msg("expected rule %s, got %s (%s)", rule, err.rule ? err.rule : "(none)", err.msg);
    if (err.code != code)
        fail_msg("rule %s: expected code %s, got %s", rule, ledger_code_name(code),
                 ledger_code_name(err.code));
    assert_int_equal(ledger_height(env->L), h);
}

static uint32_t next_id(lt_env *env)
{
    ledger_gov *gv = ledger_gov_acquire(env->L);
    uint32_t id = gv->next_proposal;
    ledger_gov_release(gv);
    return id;
}

/* Propose c by `by` and approve it with the next departments in genesis
 * order until `approvals` departments (the proposer included) signed it. */
static uint32_t pass(lt_env *env, int by, const change *c, int approvals)
{
    size_t len;
    uint32_t id = next_id(env);
    run_ok(env, propose(env, lt_dept(env, by), c, 0, &len), &len);
    for (int d = 0, n = 1; n < approvals && d < LT_NDEPT; d++) {
        if (d == by)
            continue;
        run_ok(env, approve(env, lt_dept(env, d), id, &len), &len);
        n++;
    }
    return id;
}

static ledger_keypair fresh_key(void)
{
    ledger_keypair kp;
    ledger_err err;
    assert_int_equal(ledger_keygen(&kp, &err), 0);
    return kp;
}

static int is_open(lt_env *env, uint32_t id)
{
    ledger_gov *gv = ledger_gov_acquire(env->L);
    int open = 0;
    for (size_t i = 0; i < gv->n_open; i++)
        open |= gv->open[i].id == id;
    ledger_gov_release(gv);
    return open;
}

static char *apply_with(lt_env *env, const ledger_keypair *kp, uint32_t n, const char *industry,
                        ledger_err *err, char id[80])
{
    char u[19];
    uscc(n, u);
    size_t len;
    uint8_t *tx = lt_apply_full(env, kp, u, "店", "王五", industry, "320411", "新北区1号", 0, &len);
    return lt_run_free(env, 0, tx, len, id, err) == 0 ? id : NULL;
}

/* ---- behaviour ----------------------------------------------------------- */

static void test_gov_membership_starts_from_genesis(void **state)
{
    lt_env *env = *state;
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_false(gv->exists);
    assert_int_equal(gv->m->n_departments, LT_NDEPT);
    assert_int_equal(gv->m->n_registrars, 1);
    assert_int_equal(gv->m->n_industries, env->g->n_industries);
    assert_int_equal(gv->m->params.gov_window_ms, 7 * LT_DAY);
    assert_int_equal(ledger_gov_needed(gv), QUORUM);
    ledger_gov_release(gv);
}

static void test_gov_rotate_seal_key_takes_effect_next_block(void **state)
{
    lt_env *env = *state;
    char lic[80];
    ledger_err err;
    assert_non_null(apply_with(env, &env->registrar, 1, "convenience-store", &err, lic));
    ledger_keypair nk = fresh_key();
    change c = {.type = LEDGER_GOV_ROTATE_KEY, .department = "market", .key = nk.pub};
    uint8_t root_before[32];
    ledger_tip tip;
    ledger_get_tip(env->L, &tip);
    memcpy(root_before, tip.header.state_root, 32);
    /* four approvals are not a quorum of six */
    uint32_t id = pass(env, LT_APPROVAL, &c, QUORUM - 1);
    assert_true(is_open(env, id));
    size_t len;
    uint8_t *tx = lt_decision(env, &nk, PERMIT__TX_KIND__APPROVE, lic, NULL, 0, NULL, &len);
    expect_refused(env, tx, &len, LEDGER_ERR_UNAUTHORIZED, "signer_not_department");
    /* the fifth executes it */
    run_ok(env, approve(env, lt_dept(env, LT_HEALTH), id, &len), &len);
    assert_false(is_open(env, id));
    ledger_get_tip(env->L, &tip);
    assert_memory_not_equal(root_before, tip.header.state_root, 32); /* state commits to it */
    /* the old key is refused, the new one approves */
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, lic, NULL, 0, NULL,
                     &len);
    expect_refused(env, tx, &len, LEDGER_ERR_UNAUTHORIZED, "signer_not_department");
    run_ok(env, lt_decision(env, &nk, PERMIT__TX_KIND__APPROVE, lic, NULL, 0, NULL, &len), &len);
    ledger_license l;
    lt_get(env, lic, &l);
    assert_int_equal(l.items[0].decision, DEC_APPROVED);
    ledger_license_clear(&l);
    /* the membership outlives a restart, and the store passes its check */
    lt_reopen(env);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_true(gv->exists);
    assert_memory_equal(gv->m->departments[LT_MARKET].seal.raw, nk.pub, 32);
    assert_true(ledger_gov_key_retired(gv, lt_dept(env, LT_MARKET)->pub));
    assert_int_equal(gv->seq, QUORUM - 1); /* one event per governance transaction */
    ledger_gov_release(gv);
    assert_int_equal(ledger_check_integrity(env->L, &err), 0);
    /* its events are the governance record's, chained, in the event log */
    ledger_event_rec *evs = NULL;
    size_t n = 0;
    assert_true(ledger_get_events(env->L, "GOV-320411", &evs, &n, &err) >= 0);
    assert_int_equal(n, QUORUM);
    assert_int_equal(evs[0].ev.kind, PERMIT__TX_KIND__GOV_PROPOSE);
    assert_memory_equal(evs[1].ev.prev, evs[0].hash, 32);
    free(evs);
    /* the proposal is kept, executed */
    ledger_gov_proposal p;
    assert_int_equal(ledger_gov_get_proposal(env->L, id, &p, &err), 1);
    assert_int_equal(p.status, LEDGER_GOV_EXECUTED);
    assert_int_equal(p.n_approvals, QUORUM);
    assert_int_equal(p.ch.type, LEDGER_GOV_ROTATE_KEY);
    ledger_gov_proposal_clear(&p);
}

static void test_gov_add_and_remove_registrar(void **state)
{
    lt_env *env = *state;
    ledger_keypair r2 = fresh_key();
    char lic[80];
    ledger_err err;
    assert_null(apply_with(env, &r2, 1, "convenience-store", &err, lic));
    assert_string_equal(err.rule, "signer_not_registrar");
    change c = {.type = LEDGER_GOV_ADD_REGISTRAR, .name = "2号窗口", .department = "approval",
                .key = r2.pub};
    pass(env, LT_MARKET, &c, QUORUM);
    assert_non_null(apply_with(env, &r2, 2, "convenience-store", &err, lic));
    change rm = {.type = LEDGER_GOV_REMOVE_REGISTRAR, .key = r2.pub};
    pass(env, LT_MARKET, &rm, QUORUM);
    assert_null(apply_with(env, &r2, 3, "convenience-store", &err, lic));
    assert_string_equal(err.rule, "signer_not_registrar");
    assert_int_equal(ledger_check_integrity(env->L, &err), 0);
}

static void test_gov_set_industry_then_apply(void **state)
{
    lt_env *env = *state;
    char lic[80];
    ledger_err err;
    assert_null(apply_with(env, &env->registrar, 1, "gym", &err, lic));
    assert_string_equal(err.rule, "industry_unknown");
    Permit__GovItem it = PERMIT__GOV_ITEM__INIT;
    it.permit = "高危险性体育项目经营许可";
    it.department = "market";
    Permit__GovItem *items[] = {&it};
    Permit__GovIndustry ind = PERMIT__GOV_INDUSTRY__INIT;
    ind.code = "gym";
    ind.name = "健身房";
    ind.validity_ms = 3 * 365 * LT_DAY;
    ind.renew_window_ms = 90 * LT_DAY;
    ind.grace_ms = 30 * LT_DAY;
    ind.n_items = 1;
    ind.items = items;
    change c = {.type = LEDGER_GOV_SET_INDUSTRY, .industry = &ind};
    pass(env, LT_MARKET, &c, QUORUM);
    assert_non_null(apply_with(env, &env->registrar, 2, "gym", &err, lic));
    ledger_license l;
    lt_get(env, lic, &l);
    assert_int_equal(l.n_items, 1);
    assert_string_equal(l.items[0].department, "market");
    ledger_license_clear(&l);
    /* removed from the catalogue: no new applications, the license stays */
    change rm = {.type = LEDGER_GOV_REMOVE_INDUSTRY, .code = "gym"};
    pass(env, LT_MARKET, &rm, QUORUM);
    assert_null(apply_with(env, &env->registrar, 3, "gym", &err, lic));
    assert_string_equal(err.rule, "industry_unknown");
}

static void test_gov_set_param_max_addresses(void **state)
{
    lt_env *env = *state;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 7};
    pass(env, LT_MARKET, &c, QUORUM);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->m->params.max_addresses, 7);
    ledger_gov_release(gv);
}

static void test_gov_proposal_expires(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    uint32_t id = next_id(env);
    run_ok(env, propose(env, lt_dept(env, LT_MARKET), &c, env->now + 10 * LT_SEC, &len), &len);
    lt_tick(env, 20 * LT_SEC);
    expect_refused(env, approve(env, lt_dept(env, LT_FIRE), id, &len), &len, LEDGER_ERR_RULE,
                   "gov_proposal_expired");
    /* the next governance transaction drops it: it is closed, expired */
    change c2 = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 8};
    run_ok(env, propose(env, lt_dept(env, LT_MARKET), &c2, 0, &len), &len);
    expect_refused(env, approve(env, lt_dept(env, LT_FIRE), id, &len), &len, LEDGER_ERR_RULE,
                   "gov_proposal_closed");
    ledger_gov_proposal p;
    ledger_err err;
    assert_int_equal(ledger_gov_get_proposal(env->L, id, &p, &err), 1);
    assert_int_equal(p.status, LEDGER_GOV_EXPIRED);
    ledger_gov_proposal_clear(&p);
}

static void test_gov_retire_registrar_key(void **state)
{
    lt_env *env = *state;
    size_t len;
    run_ok(env, retire(env, &env->registrar, &len), &len);
    char lic[80];
    ledger_err err;
    assert_null(apply_with(env, &env->registrar, 1, "convenience-store", &err, lic));
    assert_string_equal(err.rule, "signer_not_registrar");
    /* once retired, it holds no role: it cannot retire again */
    expect_refused(env, retire(env, &env->registrar, &len), &len, LEDGER_ERR_UNAUTHORIZED,
                   "retire_key_unknown");
}

static void test_gov_retire_seal_key(void **state)
{
    lt_env *env = *state;
    size_t len;
    char lic[80];
    ledger_err err;
    assert_non_null(apply_with(env, &env->registrar, 1, "convenience-store", &err, lic));
    run_ok(env, retire(env, lt_dept(env, LT_TOBACCO), &len), &len);
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, lic, NULL,
                              0, NULL, &len);
    expect_refused(env, tx, &len, LEDGER_ERR_UNAUTHORIZED, "signer_not_department");
    /* the departments give tobacco a new seal key */
    ledger_keypair nk = fresh_key();
    change c = {.type = LEDGER_GOV_ROTATE_KEY, .department = "tobacco", .key = nk.pub};
    uint32_t id = next_id(env);
    run_ok(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len);
    const int others[] = {LT_APPROVAL, LT_FIRE, LT_HEALTH, LT_POLICE}; /* not tobacco */
    for (size_t i = 0; i < 4; i++)
        run_ok(env, approve(env, lt_dept(env, others[i]), id, &len), &len);
    assert_false(is_open(env, id));
    run_ok(env, lt_decision(env, &nk, PERMIT__TX_KIND__APPROVE, lic, NULL, 0, NULL, &len), &len);
}

static void test_gov_add_department_without_validator(void **state)
{
    lt_env *env = *state;
    ledger_keypair seal = fresh_key();
    change c = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "culture", .name = "文化广电旅游局",
                .key = seal.pub};
    pass(env, LT_MARKET, &c, QUORUM);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->m->n_departments, LT_NDEPT + 1);
    assert_int_equal(ledger_gov_needed(gv), 5); /* more than 2/3 of 7 */
    assert_int_equal(gv->m->n_validators, 1);
    ledger_gov_release(gv);
    /* the new department signs governance */
    size_t len;
    uint32_t id = next_id(env);
    change o = {.type = LEDGER_GOV_SET_PARAM, .name = "tx_window", .value = 7200 * LT_SEC};
    run_ok(env, propose(env, &seal, &o, 0, &len), &len);
    assert_true(is_open(env, id));
    /* and is removed again */
    change rm = {.type = LEDGER_GOV_REMOVE_DEPARTMENT, .department = "culture"};
    pass(env, LT_MARKET, &rm, QUORUM);
    expect_refused(env, approve(env, &seal, id, &len), &len, LEDGER_ERR_UNAUTHORIZED,
                   "signer_not_department");
}

/* A department removed and then added again under the same id is another
 * department with another seal key: the approvals the removed one gave to
 * proposals still open are not the new one's, and the new one may give its
 * own.  (An approval signed by a retired seal key never counts again.) */
static void test_gov_removed_department_approvals_do_not_carry_over(void **state)
{
    lt_env *env = *state;
    size_t len;
    ledger_keypair old_seal = fresh_key(), new_seal = fresh_key();
    change add = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "culture",
                  .name = "文化广电旅游局", .key = old_seal.pub};
    pass(env, LT_MARKET, &add, QUORUM);
    /* the old culture proposes (its approval), then is removed */
    change sp = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    uint32_t id = next_id(env);
    run_ok(env, propose(env, &old_seal, &sp, 0, &len), &len);
    change rm = {.type = LEDGER_GOV_REMOVE_DEPARTMENT, .department = "culture"};
    pass(env, LT_MARKET, &rm, QUORUM);
    /* a new culture, with a new seal key */
    change add2 = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "culture",
                   .name = "文化广电旅游局", .key = new_seal.pub};
    pass(env, LT_MARKET, &add2, QUORUM);
    assert_true(is_open(env, id));
    ledger_gov_proposal p;
    ledger_err err;
    assert_int_equal(ledger_gov_get_proposal(env->L, id, &p, &err), 1);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_int_equal(ledger_gov_approvals(gv, &p), 0);
    ledger_gov_release(gv);
    ledger_gov_proposal_clear(&p);
    /* the new culture's own approval is its first */
    run_ok(env, approve(env, &new_seal, id, &len), &len);
    assert_int_equal(ledger_gov_get_proposal(env->L, id, &p, &err), 1);
    gv = ledger_gov_acquire(env->L);
    assert_int_equal(ledger_gov_approvals(gv, &p), 1);
    ledger_gov_release(gv);
    ledger_gov_proposal_clear(&p);
    /* and the reopened ledger reads the same record */
    lt_reopen(env);
    assert_int_equal(ledger_gov_get_proposal(env->L, id, &p, &err), 1);
    assert_int_equal(p.n_approvals, 1);
    assert_string_equal(p.approvals[0], "culture");
    ledger_gov_proposal_clear(&p);
}

/* ledger_precheck with a department index of an older membership (a
 * department removed since, the indices moved) is refused, never read past
 * the departments in force. */
static void test_gov_precheck_refuses_a_stale_department_index(void **state)
{
    lt_env *env = *state;
    char lic[80];
    ledger_err err;
    assert_non_null(apply_with(env, &env->registrar, 1, "convenience-store", &err, lic));
    ledger_keypair seal = fresh_key();
    change add = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "culture",
                  .name = "文化广电旅游局", .key = seal.pub};
    pass(env, LT_MARKET, &add, QUORUM);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    int stale = ledger_genesis_dept_index(gv->m, "culture");
    ledger_gov_release(gv);
    assert_int_equal(stale, LT_NDEPT);
    change rm = {.type = LEDGER_GOV_REMOVE_DEPARTMENT, .department = "culture"};
    pass(env, LT_MARKET, &rm, QUORUM);
    size_t len;
    uint8_t *env_tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, lic,
                                  NULL, 0, NULL, &len);
    ledger_tx tx;
    assert_int_equal(ledger_tx_decode(&tx, env_tx, len, env->g->chain_id, &err), 0);
    assert_int_equal(ledger_precheck(env->L, &tx, stale, env->now, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    /* the index in force passes */
    assert_int_equal(ledger_precheck(env->L, &tx, LT_MARKET, env->now, &err), 0);
    ledger_tx_release(&tx);
    free(env_tx);
}

/* The pending counts (permit_pending_items) follow departments by id: one
 * added by governance is counted, also after a reopen counts them again. */
static void test_gov_pending_items_of_an_added_department(void **state)
{
    lt_env *env = *state;
    ledger_keypair seal = fresh_key();
    change c = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "culture", .name = "文化广电旅游局",
                .key = seal.pub};
    pass(env, LT_MARKET, &c, QUORUM);
    Permit__GovItem it = PERMIT__GOV_ITEM__INIT;
    it.permit = "娱乐场所经营许可";
    it.department = "culture";
    Permit__GovItem *items[] = {&it};
    Permit__GovIndustry ind = PERMIT__GOV_INDUSTRY__INIT;
    ind.code = "ktv";
    ind.name = "歌舞娱乐场所";
    ind.validity_ms = 3 * 365 * LT_DAY;
    ind.renew_window_ms = 90 * LT_DAY;
    ind.grace_ms = 30 * LT_DAY;
    ind.n_items = 1;
    ind.items = items;
    change si = {.type = LEDGER_GOV_SET_INDUSTRY, .industry = &ind};
    pass(env, LT_MARKET, &si, QUORUM);
    assert_int_equal(ledger_pending_of(env->L, "culture"), 0);
    char lic[80];
    ledger_err err;
    assert_non_null(apply_with(env, &env->registrar, 1, "ktv", &err, lic));
    assert_non_null(apply_with(env, &env->registrar, 2, "ktv", &err, lic));
    assert_int_equal(ledger_pending_of(env->L, "culture"), 2);
    assert_int_equal(ledger_pending_of(env->L, "market"), 0);
    lt_reopen(env);
    assert_int_equal(ledger_pending_of(env->L, "culture"), 2);
    assert_int_equal(ledger_pending_of(env->L, "nobody"), 0);
}

static void test_gov_add_observer(void **state)
{
    lt_env *env = *state;
    ledger_keypair nk = fresh_key();
    change c = {.type = LEDGER_GOV_ADD_OBSERVER, .name = "审计局", .node_key = nk.pub};
    pass(env, LT_MARKET, &c, QUORUM);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->n_observers, 1);
    assert_int_equal(ledger_gov_observer(gv, nk.pub), 0);
    ledger_gov_release(gv);
    size_t len;
    run_ok(env, retire(env, &nk, &len), &len); /* an observer's key may retire itself */
    gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->n_observers, 0);
    ledger_gov_release(gv);
}

static void test_gov_record_codec_round_trip(void **state)
{
    lt_env *env = *state;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    size_t len;
    run_ok(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    uint8_t *a, *b;
    size_t na, nb;
    ledger_err err;
    assert_int_equal(ledger_gov_encode(gv, "GOV-320411", &a, &na, &err), 0);
    ledger_gov *back = NULL;
    assert_int_equal(ledger_gov_decode(env->g, a, na, &back, &err), 0);
    assert_int_equal(ledger_gov_encode(back, "GOV-320411", &b, &nb, &err), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    /* every truncation is refused, never read past */
    for (size_t cut = 0; cut < na; cut += 7) {
        ledger_gov *bad = NULL;
        assert_int_equal(ledger_gov_decode(env->g, a, cut, &bad, &err), -1);
    }
    free(a);
    free(b);
    ledger_gov_release(back);
    ledger_gov_release(gv);
}

/* ---- audit across governance ------------------------------------------- */


/* Certify the tip with the test chain's one validator (market's node). */
static void certify_tip(lt_env *env)
{
    const ledger_keypair *one[] = {&env->node[LT_MARKET]};
    ledger_err err;
    if (lt_certify_tip(env, one, 1, &err) != 0)
        fail_msg("put_commit: %s", err.msg);
}

static void bundle_of(lt_env *env, const char *id, uint8_t **out, size_t *len)
{
    certify_tip(env);
    uint64_t h;
    ledger_err err;
    if (ledger_bundle_build(env->L, id, 0, out, len, &h, &err) != 0)
        fail_msg("bundle: %s", err.msg);
}

static int verify(lt_env *env, const uint8_t *b, size_t len, ledger_audit_failure *f)
{
    ledger_audit_report rep;
    int rc = ledger_audit_verify(env->g, b, len, NULL, &rep, f);
    ledger_audit_report_clear(&rep);
    return rc;
}

/* ---- 秒批 through governance --------------------------------------------- */

/* A flower stall whose one item is instant (or not), commitment allowed. */
static void flower_stall(Permit__GovIndustry *ind, Permit__GovItem *it, Permit__GovItem **items,
                         int instant, int commitment)
{
    permit__gov_item__init(it);
    it->permit = "食品经营备案（仅销售预包装食品）";
    it->department = "market";
    it->instant = instant;
    items[0] = it;
    permit__gov_industry__init(ind);
    ind->code = "flower-stall";
    ind->name = "花卉摊点";
    ind->validity_ms = 3 * 365 * LT_DAY;
    ind->renew_window_ms = 90 * LT_DAY;
    ind->grace_ms = 30 * LT_DAY;
    ind->commitment_allowed = commitment;
    ind->verify_within_ms = commitment ? 30 * LT_DAY : 0;
    ind->n_items = 1;
    ind->items = items;
}

static int apply_kind(lt_env *env, uint32_t n, const char *industry, char id[80])
{
    char u[19];
    uscc(n, u);
    size_t len;
    uint8_t *tx = lt_apply(env, u, industry, 1, &len);
    ledger_err err;
    if (lt_run_free(env, 0, tx, len, id, &err) != 0)
        fail_msg("apply: %s", err.msg);
    ledger_event_rec *evs = NULL;
    size_t ne = 0;
    assert_int_equal(ledger_get_events(env->L, id, &evs, &ne, &err), 1);
    int k = evs[0].ev.kind;
    free(evs);
    return k;
}

/* set_industry with an instant item, then without: the rule asks the
 * catalogue in force at the APPLY's block, and the audit replays both
 * applications through the governance record (version 2 while it holds an
 * instant item or a changed instant_ban). */
static void test_gov_set_industry_instant_then_apply(void **state)
{
    lt_env *env = *state;
    Permit__GovIndustry ind;
    Permit__GovItem it, *items[1];
    flower_stall(&ind, &it, items, 1, 1);
    change c = {.type = LEDGER_GOV_SET_INDUSTRY, .industry = &ind};
    pass(env, LT_MARKET, &c, QUORUM);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    const ledger_industry *fi = ledger_genesis_industry(gv->m, "flower-stall");
    assert_non_null(fi);
    assert_true(fi->items[0].instant);
    uint8_t *a, *b;
    size_t na, nb;
    ledger_err err;
    assert_int_equal(ledger_gov_encode(gv, "GOV-320411", &a, &na, &err), 0);
    assert_int_equal(a[0], 2); /* version 2: an instant item */
    ledger_gov *back = NULL;
    assert_int_equal(ledger_gov_decode(env->g, a, na, &back, &err), 0);
    assert_int_equal(ledger_gov_encode(back, "GOV-320411", &b, &nb, &err), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    for (size_t cut = na - 40; cut < na; cut++) {
        ledger_gov *bad = NULL;
        assert_int_equal(ledger_gov_decode(env->g, a, cut, &bad, &err), -1);
    }
    /* a mask bit past the industry's one item is refused */
    a[na - 1] |= 0x80;
    ledger_gov *bad = NULL;
    assert_int_equal(ledger_gov_decode(env->g, a, na, &bad, &err), -1);
    free(a);
    free(b);
    ledger_gov_release(back);
    ledger_gov_release(gv);

    char first[80], second[80];
    assert_int_equal(apply_kind(env, 31, "flower-stall", first), LEDGER_EVENT_APPLY_INSTANT);
    ledger_license l;
    lt_get(env, first, &l);
    assert_int_equal(l.status, LIC_ISSUED);
    ledger_license_clear(&l);

    flower_stall(&ind, &it, items, 0, 1);
    pass(env, LT_MARKET, &c, QUORUM);
    assert_int_equal(apply_kind(env, 32, "flower-stall", second), PERMIT__TX_KIND__APPLY);
    lt_get(env, second, &l);
    assert_int_equal(l.status, LIC_ISSUED_UNVERIFIED);
    ledger_license_clear(&l);
    /* no instant item left: the record is of version 1 again */
    gv = ledger_gov_acquire(env->L);
    assert_int_equal(ledger_gov_encode(gv, "GOV-320411", &a, &na, &err), 0);
    assert_int_equal(a[0], 1);
    free(a);
    ledger_gov_release(gv);

    uint8_t *bundle;
    size_t blen;
    ledger_audit_failure f;
    bundle_of(env, first, &bundle, &blen);
    if (verify(env, bundle, blen, &f) != 0)
        fail_msg("audit of the instant license: check %d: %s", f.check, f.reason);
    free(bundle);
    bundle_of(env, second, &bundle, &blen);
    if (verify(env, bundle, blen, &f) != 0)
        fail_msg("audit of the later license: check %d: %s", f.check, f.reason);
    free(bundle);
}

static void test_gov_set_param_instant_ban(void **state)
{
    lt_env *env = *state;
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->m->params.instant_ban_ms, LEDGER_INSTANT_BAN_DEFAULT_MS);
    ledger_gov_release(gv);
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "instant_ban", .value = 30 * LT_DAY};
    pass(env, LT_MARKET, &c, QUORUM);
    gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->m->params.instant_ban_ms, 30 * LT_DAY);
    uint8_t *a;
    size_t na;
    ledger_err err;
    assert_int_equal(ledger_gov_encode(gv, "GOV-320411", &a, &na, &err), 0);
    assert_int_equal(a[0], 2);
    ledger_gov *back = NULL;
    assert_int_equal(ledger_gov_decode(env->g, a, na, &back, &err), 0);
    assert_int_equal(back->m->params.instant_ban_ms, 30 * LT_DAY);
    ledger_gov_release(back);
    free(a);
    ledger_gov_release(gv);
    size_t len;
    change bad = {.type = LEDGER_GOV_SET_PARAM, .name = "instant_ban", .value = 500};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &bad, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_param_invalid");
}

/* A version 2 record that could be version 1 (no instant item, the default
 * instant_ban) is refused: one record, one encoding. */
static void test_gov_record_version_2_only_when_needed(void **state)
{
    lt_env *env = *state;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    size_t len;
    run_ok(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    uint8_t *a;
    size_t na;
    ledger_err err;
    assert_int_equal(ledger_gov_encode(gv, "GOV-320411", &a, &na, &err), 0);
    assert_int_equal(a[0], 1);
    /* the same record as version 2: the default ban, all masks zero (the open
     * proposal carries no industry, so no mask of its own) */
    size_t n2 = na + 8 + 2 * gv->m->n_industries;
    uint8_t *v2 = calloc(1, n2);
    memcpy(v2, a, na);
    v2[0] = 2;
    uint64_t ban = LEDGER_INSTANT_BAN_DEFAULT_MS;
    for (int i = 0; i < 8; i++)
        v2[na + i] = (uint8_t)(ban >> (56 - 8 * i));
    ledger_gov *bad = NULL;
    assert_int_equal(ledger_gov_decode(env->g, v2, n2, &bad, &err), -1);
    /* with another ban it is a version 2 record */
    v2[na + 7] ^= 1;
    assert_int_equal(ledger_gov_decode(env->g, v2, n2, &bad, &err), 0);
    assert_int_equal(bad->m->params.instant_ban_ms, ban ^ 1);
    ledger_gov_release(bad);
    free(v2);
    free(a);
    ledger_gov_release(gv);
}

static void test_rule_instant_without_commitment(void **state)
{
    lt_env *env = *state;
    Permit__GovIndustry ind;
    Permit__GovItem it, *items[1];
    flower_stall(&ind, &it, items, 1, 0);
    change c = {.type = LEDGER_GOV_SET_INDUSTRY, .industry = &ind};
    size_t len;
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len,
                   LEDGER_ERR_RULE, "instant_without_commitment");
}

static void test_audit_follows_a_seal_key_rotation(void **state)
{
    lt_env *env = *state;
    char before[80], after[80];
    ledger_err err;
    size_t len;
    /* one license approved by market's old key, before the rotation */
    assert_non_null(apply_with(env, &env->registrar, 1, "convenience-store", &err, before));
    run_ok(env, lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, before, NULL,
                            0, NULL, &len), &len);
    assert_non_null(apply_with(env, &env->registrar, 2, "convenience-store", &err, after));
    ledger_keypair nk = fresh_key();
    change c = {.type = LEDGER_GOV_ROTATE_KEY, .department = "market", .key = nk.pub};
    pass(env, LT_APPROVAL, &c, QUORUM);
    /* another approved by the new key, after it */
    run_ok(env, lt_decision(env, &nk, PERMIT__TX_KIND__APPROVE, after, NULL, 0, NULL, &len),
           &len);
    uint8_t *b1, *b2;
    size_t l1, l2;
    bundle_of(env, before, &b1, &l1);
    bundle_of(env, after, &b2, &l2);
    ledger_audit_failure f;
    if (verify(env, b1, l1, &f) != 0 || verify(env, b2, l2, &f) != 0) {
        char msg[600];
        ledger_audit_failure_format(&f, msg, sizeof msg);
        fail_msg("%s", msg);
    }
    /* the bundle carries the governance record: without it, the new key is
     * no department's (genesis alone) */
    ledger_bundle b;
    assert_int_equal(ledger_bundle_decode(&b, b2, l2, &err), 0);
    assert_non_null(b.gov_record);
    assert_int_equal(b.n_gov_events, QUORUM);
    ledger_bundle_event *keep = b.gov_events;
    size_t nkeep = b.n_gov_events;
    uint8_t *rec = b.gov_record;
    b.gov_events = NULL;
    b.n_gov_events = 0;
    b.gov_record = NULL;
    uint8_t *stripped;
    size_t sl;
    assert_int_equal(ledger_bundle_encode(&b, &stripped, &sl, &err), 0);
    assert_int_equal(verify(env, stripped, sl, &f), -1);
    assert_int_equal(f.check, AUDIT_REPLAY);
    assert_non_null(strstr(f.reason, "signer_not_department"));
    free(stripped);
    /* a governance event left out at the end: the record's head says so */
    b.gov_record = rec;
    b.gov_events = keep;
    b.n_gov_events = nkeep - 1;
    assert_int_equal(ledger_bundle_encode(&b, &stripped, &sl, &err), 0);
    assert_int_equal(verify(env, stripped, sl, &f), -1);
    assert_int_equal(f.check, AUDIT_REPLAY);
    free(stripped);
    /* a governance event's transaction swapped for another: its id differs */
    b.n_gov_events = nkeep;
    uint8_t *t = b.gov_events[1].tx;
    b.gov_events[1].tx = b.gov_events[2].tx;
    assert_int_equal(ledger_bundle_encode(&b, &stripped, &sl, &err), 0);
    b.gov_events[1].tx = t;
    assert_int_equal(verify(env, stripped, sl, &f), -1);
    assert_int_equal(f.check, AUDIT_REPLAY);
    assert_non_null(strstr(f.reason, "governance event 1"));
    free(stripped);
    /* a flipped byte in the record: no longer the one under state_root */
    b.gov_record[b.gov_record_len - 1] ^= 1;
    assert_int_equal(ledger_bundle_encode(&b, &stripped, &sl, &err), 0);
    assert_int_equal(verify(env, stripped, sl, &f), -1);
    assert_int_equal(f.check, AUDIT_STATE);
    free(stripped);
    ledger_bundle_free(&b);
    free(b1);
    free(b2);
}

static void test_membership_history_holds_each_key_while_in_force(void **state)
{
    lt_env *env = *state;
    /* the ledger refuses the old key after the rotation; the history of
     * the membership (what chain.membership and the auditor's replay of the
     * governance record rest on) holds each key while it was in force */
    char lic[80];
    ledger_err err;
    size_t len;
    assert_non_null(apply_with(env, &env->registrar, 1, "convenience-store", &err, lic));
    ledger_keypair nk = fresh_key();
    change c = {.type = LEDGER_GOV_ROTATE_KEY, .department = "market", .key = nk.pub};
    pass(env, LT_APPROVAL, &c, QUORUM);
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, lic, NULL, 0,
                              NULL, &len);
    expect_refused(env, tx, &len, LEDGER_ERR_UNAUTHORIZED, "signer_not_department");
    /* the gov history a bundle yields: old key in force before, not after */
    uint8_t *b;
    size_t l;
    bundle_of(env, lic, &b, &l);
    ledger_audit_failure f;
    assert_int_equal(verify(env, b, l, &f), 0);
    free(b);
    ledger_gov *at0 = NULL, *now = NULL;
    assert_int_equal(ledger_gov_at(env->L, 1, &at0, &err), 0);
    assert_int_equal(ledger_gov_at(env->L, ledger_height(env->L) + 1, &now, &err), 0);
    assert_int_equal(ledger_genesis_seal_dept(at0->m, lt_dept(env, LT_MARKET)->pub), LT_MARKET);
    assert_int_equal(ledger_genesis_seal_dept(now->m, lt_dept(env, LT_MARKET)->pub), -1);
    assert_int_equal(ledger_genesis_seal_dept(now->m, nk.pub), LT_MARKET);
    ledger_gov_release(at0);
    ledger_gov_release(now);
}

/* The validators of `height` as the ledger says: how many, and whether
 * `key` is one of them. */
static size_t vset_n(lt_env *env, uint64_t height, const uint8_t *key, int *has)
{
    ledger_err err;
    ledger_gov *gv = ledger_vset_acquire(env->L, height, &err);
    if (gv == NULL)
        fail_msg("vset %llu: %s", (unsigned long long)height, err.msg);
    size_t n = gv->m->n_validators;
    if (has)
        *has = key && ledger_genesis_validator_index(gv->m, key) >= 0;
    ledger_gov_release(gv);
    return n;
}

static void tick(lt_env *env)
{
    lt_tick(env, LT_SEC);
}

/* DESIGN §5: a change to the validator set executed in block H certifies
 * from H+2, and every header names the set that certifies it (here fire's
 * node key rotates; a seal key's rotation leaves the hash as it was). */
static void test_validator_set_changes_two_blocks_after_the_change(void **state)
{
    lt_env *env = *state;
    ledger_err err;
    ledger_keypair sk = fresh_key();
    /* health's seal (a validator's department; the approvals below do
     * without it) */
    change s = {.type = LEDGER_GOV_ROTATE_KEY, .department = "health", .key = sk.pub};
    pass(env, LT_POLICE, &s, QUORUM);
    tick(env);
    tick(env);
    assert_int_equal(vset_n(env, ledger_height(env->L) + 2, NULL, NULL), 4);
    ledger_gov *same = ledger_vset_acquire(env->L, ledger_height(env->L) + 2, &err);
    assert_memory_equal(same->m->validators_hash, env->g->validators_hash, 32);
    ledger_gov_release(same);
    ledger_keypair nk = fresh_key();
    change c = {.type = LEDGER_GOV_ROTATE_KEY, .department = "fire", .node_key = nk.pub};
    pass(env, LT_POLICE, &c, QUORUM);
    uint64_t H = ledger_height(env->L); /* the block that executed it */
    ledger_gov *at1 = ledger_vset_acquire(env->L, H + 1, &err);
    ledger_gov *at2 = ledger_vset_acquire(env->L, H + 2, &err);
    ledger_gov *atH = ledger_vset_acquire(env->L, H, &err);
    assert_non_null(at1);
    assert_non_null(at2);
    assert_non_null(atH);
    assert_memory_equal(atH->m->validators_hash, env->g->validators_hash, 32);
    assert_memory_equal(at1->m->validators_hash, env->g->validators_hash, 32);
    assert_memory_not_equal(at2->m->validators_hash, env->g->validators_hash, 32);
    assert_null(ledger_vset_acquire(env->L, H + 3, &err)); /* not known yet */
    /* the headers of H+1 and H+2 name them */
    char lic[80];
    assert_non_null(apply_with(env, &env->registrar, 7, "convenience-store", &err, lic));
    ledger_tip tip;
    ledger_get_tip(env->L, &tip);
    assert_int_equal(tip.height, H + 1);
    assert_memory_equal(tip.header.validators_hash, at1->m->validators_hash, 32);
    /* block H+2 built by hand: with the set of H+2 it validates; naming
     * the genesis set instead, it is refused */
    size_t len;
    uint8_t *tx = lt_apply(env, "91350100M000100Y43", "convenience-store", 0, &len);
    ledger_block_ctx ctx = {.time = tip.time + LT_SEC};
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x;
    ledger_header h;
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
    assert_int_equal(ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, NULL, &err), 0);
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    ledger_exec_free(x);
    assert_memory_equal(h.validators_hash, at2->m->validators_hash, 32);
    const uint8_t *txs[1] = {tx};
    uint8_t hb[LEDGER_MAX_HEADER_BYTES];
    size_t hl;
    ledger_exec *held = NULL;
    memcpy(h.validators_hash, env->g->validators_hash, 32);
    assert_int_equal(ledger_header_encode(&h, hb, sizeof hb, &hl), 0);
    assert_int_equal(
        ledger_validate_block(env->L, hb, hl, txs, &len, 1, NULL, NULL, NULL, &held, &err), -1);
    assert_string_equal(err.rule, "block_invalid");
    assert_non_null(strstr(err.msg, "validator set in force"));
    memcpy(h.validators_hash, at2->m->validators_hash, 32);
    assert_int_equal(ledger_header_encode(&h, hb, sizeof hb, &hl), 0);
    if (ledger_validate_block(env->L, hb, hl, txs, &len, 1, NULL, NULL, NULL, &held, &err) != 0)
        fail_msg("%s", err.msg);
    ledger_exec_free(held);
    free(tx);
    /* the sets come back from the store after a restart */
    lt_reopen(env);
    ledger_gov *r1 = ledger_vset_acquire(env->L, H + 1, &err);
    ledger_gov *r2 = ledger_vset_acquire(env->L, H + 2, &err);
    ledger_gov *r0 = ledger_vset_acquire(env->L, 1, &err);
    assert_memory_equal(r1->m->validators_hash, at1->m->validators_hash, 32);
    assert_memory_equal(r2->m->validators_hash, at2->m->validators_hash, 32);
    assert_memory_equal(r0->m->validators_hash, env->g->validators_hash, 32);
    ledger_gov_release(r0);
    ledger_gov_release(r1);
    ledger_gov_release(r2);
    ledger_gov_release(at1);
    ledger_gov_release(at2);
    ledger_gov_release(atH);
}


static void certify_tip_by(lt_env *env, const ledger_keypair *const *keys, size_t n)
{
    ledger_err err;
    if (lt_certify_tip(env, keys, n, &err) != 0)
        fail_msg("put_commit: %s", err.msg);
}

/* DESIGN §11: a department joins with a validator; it certifies from two
 * blocks after the change; a second validator cannot join while the first
 * does not certify yet (the validators in force would not make a quorum of
 * six without both newcomers), and can once it does. */
static void test_gov_add_validator(void **state)
{
    lt_env *env = *state;
    ledger_keypair seal = fresh_key(), node = fresh_key(), seal2 = fresh_key(),
                   node2 = fresh_key();
    change c = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "culture", .name = "文旅局",
                .key = seal.pub, .node_key = node.pub, .p2p = "127.0.0.1:9100"};
    pass(env, LT_APPROVAL, &c, QUORUM);
    uint64_t H = ledger_height(env->L);
    int has;
    assert_int_equal(vset_n(env, H + 1, node.pub, &has), 4);
    assert_false(has);
    assert_int_equal(vset_n(env, H + 2, node.pub, &has), 5);
    assert_true(has);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    int d = ledger_genesis_dept_index(gv->m, "culture");
    assert_true(d >= 0);
    assert_true(gv->m->departments[d].validator);
    assert_string_equal(gv->m->departments[d].p2p, "127.0.0.1:9100");
    ledger_gov_release(gv);
    /* a second one at once: refused when proposed */
    change c2 = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "sports", .name = "体育局",
                 .key = seal2.pub, .node_key = node2.pub, .p2p = "127.0.0.1:9101"};
    size_t len;
    expect_refused(env, propose(env, lt_dept(env, LT_APPROVAL), &c2, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_validators_unreachable");
    /* once culture certifies (height H+2 on), it may */
    tick(env);
    assert_int_equal(ledger_height(env->L), H + 1);
    pass(env, LT_APPROVAL, &c2, QUORUM);
    assert_int_equal(vset_n(env, ledger_height(env->L) + 2, node2.pub, &has), 6);
    assert_true(has);
    /* the same node key or address again: refused */
    ledger_keypair seal3 = fresh_key();
    change c3 = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "water", .name = "水务局",
                 .key = seal3.pub, .node_key = node.pub, .p2p = "127.0.0.1:9102"};
    expect_refused(env, propose(env, lt_dept(env, LT_APPROVAL), &c3, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_key_in_use");
    ledger_keypair node3 = fresh_key();
    c3.node_key = node3.pub;
    c3.p2p = "127.0.0.1:9100";
    expect_refused(env, propose(env, lt_dept(env, LT_APPROVAL), &c3, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_change_invalid");
    c3.p2p = "no port";
    expect_refused(env, propose(env, lt_dept(env, LT_APPROVAL), &c3, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_change_invalid");
    assert_int_equal(ledger_check_integrity(env->L, &(ledger_err){0}), 0);
}

/* The set's hash depends on the node keys only, the same however the
 * membership was reached: one that joins and leaves again brings back the
 * genesis value, in memory and after a reopen (a node that restarts must
 * make the same headers as one that did not). */
static void test_validators_hash_back_to_genesis(void **state)
{
    lt_env *env = *state;
    ledger_err err;
    ledger_keypair seal = fresh_key(), node = fresh_key();
    change c = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "culture", .name = "文旅局",
                .key = seal.pub, .node_key = node.pub, .p2p = "127.0.0.1:9100"};
    pass(env, LT_APPROVAL, &c, QUORUM);
    tick(env);
    tick(env);
    ledger_gov *five = ledger_vset_acquire(env->L, ledger_height(env->L) + 1, &err);
    assert_int_equal(five->m->n_validators, 5);
    assert_memory_not_equal(five->m->validators_hash, env->g->validators_hash, 32);
    ledger_gov_release(five);
    size_t len;
    run_ok(env, retire(env, &node, &len), &len);
    tick(env);
    uint64_t t = ledger_height(env->L);
    ledger_gov *back = ledger_vset_acquire(env->L, t + 1, &err);
    assert_int_equal(back->m->n_validators, 4);
    assert_memory_equal(back->m->validators_hash, env->g->validators_hash, 32);
    ledger_gov_release(back);
    tick(env);
    ledger_tip tip;
    ledger_get_tip(env->L, &tip);
    assert_memory_equal(tip.header.validators_hash, env->g->validators_hash, 32);
    lt_reopen(env);
    back = ledger_vset_acquire(env->L, t + 1, &err);
    assert_memory_equal(back->m->validators_hash, env->g->validators_hash, 32);
    ledger_gov_release(back);
    ledger_gov *now = ledger_gov_acquire(env->L);
    assert_memory_equal(now->m->validators_hash, env->g->validators_hash, 32);
    ledger_gov_release(now);
}

/* A validator's node key rotated by the departments, another retired by
 * itself: each set changes from two blocks after, and the old keys are
 * never accepted again. */
static void test_gov_rotate_and_retire_node_keys(void **state)
{
    lt_env *env = *state;
    ledger_keypair nk = fresh_key();
    change c = {.type = LEDGER_GOV_ROTATE_KEY, .department = "fire", .node_key = nk.pub};
    pass(env, LT_APPROVAL, &c, QUORUM);
    uint64_t H = ledger_height(env->L);
    int has;
    assert_int_equal(vset_n(env, H + 1, env->node[LT_FIRE].pub, &has), 4);
    assert_true(has);
    assert_int_equal(vset_n(env, H + 2, env->node[LT_FIRE].pub, &has), 4);
    assert_false(has);
    vset_n(env, H + 2, nk.pub, &has);
    assert_true(has);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_true(ledger_gov_key_retired(gv, env->node[LT_FIRE].pub));
    ledger_gov_release(gv);
    /* tobacco's node key withdraws itself: no quorum needed */
    size_t len;
    tick(env);
    run_ok(env, retire(env, &env->node[LT_TOBACCO], &len), &len);
    uint64_t R = ledger_height(env->L);
    assert_int_equal(vset_n(env, R + 1, env->node[LT_TOBACCO].pub, &has), 4);
    assert_true(has);
    assert_int_equal(vset_n(env, R + 2, env->node[LT_TOBACCO].pub, &has), 3);
    assert_false(has);
    gv = ledger_gov_acquire(env->L);
    int d = ledger_genesis_dept_index(gv->m, "tobacco");
    assert_false(gv->m->departments[d].validator);
    ledger_gov_release(gv);
    /* the retired key cannot come back as anyone's node key */
    change back = {.type = LEDGER_GOV_ROTATE_KEY, .department = "health",
                   .node_key = env->node[LT_TOBACCO].pub};
    expect_refused(env, propose(env, lt_dept(env, LT_APPROVAL), &back, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_key_retired");
    /* the audit replays it all from genesis: at the tip the set is market,
     * tobacco (retired: it no longer counts), fire's new key, health */
    char lic[80];
    ledger_err err;
    assert_non_null(apply_with(env, &env->registrar, 3, "convenience-store", &err, lic));
    tick(env);
    tick(env);
    assert_int_equal(vset_n(env, ledger_height(env->L), NULL, NULL), 3);
    assert_int_equal(ledger_check_integrity(env->L, &err), 0);
    const ledger_keypair *good[] = {&env->node[LT_MARKET], &nk, &env->node[LT_HEALTH]};
    const ledger_keypair *old[] = {&env->node[LT_MARKET], &env->node[LT_FIRE],
                                   &env->node[LT_HEALTH]};
    uint8_t *b;
    size_t l;
    uint64_t h;
    ledger_audit_failure f;
    certify_tip_by(env, good, 3);
    assert_int_equal(ledger_bundle_build(env->L, lic, 0, &b, &l, &h, &err), 0);
    if (verify(env, b, l, &f) != 0) {
        char msg[600];
        ledger_audit_failure_format(&f, msg, sizeof msg);
        fail_msg("%s", msg);
    }
    free(b);
    /* a checkpoint keeps the governance history: the same bundle passes
     * with it, and fails when the history differs or is shorter */
    {
        ledger_audit_report rep;
        assert_int_equal(ledger_bundle_build(env->L, lic, 0, &b, &l, &h, &err), 0);
        assert_int_equal(ledger_audit_verify(env->g, b, l, NULL, &rep, &f), 0);
        assert_true(rep.n_gov_events > 0);
        ledger_audit_checkpoint cp;
        memset(&cp, 0, sizeof cp);
        snprintf(cp.chain_id, sizeof cp.chain_id, "%s", env->g->chain_id);
        cp.height = rep.header.height;
        cp.log_size = rep.header.log_size;
        memcpy(cp.log_root, rep.header.log_root, 32);
        cp.has_block = 1;
        memcpy(cp.block_hash, rep.block_hash, 32);
        cp.time = rep.header.time;
        cp.has_gov = 1;
        cp.gov_seq = (uint32_t)rep.n_gov_events;
        memcpy(cp.gov_head, rep.gov_head, 32);
        ledger_audit_report_clear(&rep);
        assert_int_equal(ledger_audit_verify(env->g, b, l, &cp, &rep, &f), 0);
        ledger_audit_report_clear(&rep);
        cp.gov_head[0] ^= 1;
        assert_int_equal(ledger_audit_verify(env->g, b, l, &cp, &rep, &f), -1);
        assert_int_equal(f.check, AUDIT_CONSISTENCY);
        assert_non_null(strstr(f.reason, "governance"));
        cp.gov_head[0] ^= 1;
        cp.gov_seq++;
        assert_int_equal(ledger_audit_verify(env->g, b, l, &cp, &rep, &f), -1);
        assert_int_equal(f.check, AUDIT_CONSISTENCY);
        free(b);
    }
    /* fire's old key after its rotation took effect: refused, check 1 */
    certify_tip_by(env, old, 3);
    assert_int_equal(ledger_bundle_build(env->L, lic, 0, &b, &l, &h, &err), 0);
    assert_int_equal(verify(env, b, l, &f), -1);
    assert_int_equal(f.check, AUDIT_CERTIFICATE);
    assert_non_null(strstr(f.reason, "does not verify"));
    free(b);
}

/* ---- one test per rule --------------------------------------------------- */

static void test_rule_gov_signer_not_department(void **state)
{
    lt_env *env = *state;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    size_t len;
    expect_refused(env, propose(env, &env->registrar, &c, 0, &len), &len,
                   LEDGER_ERR_UNAUTHORIZED, "signer_not_department");
    expect_refused(env, approve(env, &env->outsider, 1, &len), &len, LEDGER_ERR_UNAUTHORIZED,
                   "signer_not_department");
}

static void test_rule_retire_key_unknown(void **state)
{
    lt_env *env = *state;
    size_t len;
    expect_refused(env, retire(env, &env->outsider, &len), &len, LEDGER_ERR_UNAUTHORIZED,
                   "retire_key_unknown");
}

static void test_rule_gov_change_invalid(void **state)
{
    lt_env *env = *state;
    size_t len;
    change unknown = {.type = 99};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &unknown, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_change_invalid");
    uint8_t bad[32];
    memset(bad, 0xff, 32); /* not a point */
    change badkey = {.type = LEDGER_GOV_ADD_REGISTRAR, .name = "x", .department = "approval",
                     .key = bad};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &badkey, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_change_invalid");
    ledger_keypair k = fresh_key();
    change extra = {.type = LEDGER_GOV_REMOVE_REGISTRAR, .key = k.pub, .name = "stray"};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &extra, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_change_invalid");
}

static void test_rule_gov_key_in_use(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_ADD_REGISTRAR, .name = "x", .department = "approval",
                .key = lt_dept(env, LT_FIRE)->pub};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_key_in_use");
}

static void test_rule_gov_key_retired(void **state)
{
    lt_env *env = *state;
    size_t len;
    ledger_keypair old = env->registrar;
    run_ok(env, retire(env, &env->registrar, &len), &len);
    change c = {.type = LEDGER_GOV_ADD_REGISTRAR, .name = "x", .department = "approval",
                .key = old.pub};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_key_retired");
}

static void test_rule_gov_department_not_found(void **state)
{
    lt_env *env = *state;
    size_t len;
    ledger_keypair k = fresh_key();
    change c = {.type = LEDGER_GOV_ROTATE_KEY, .department = "nosuch", .key = k.pub};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_department_not_found");
}

static void test_rule_gov_department_exists(void **state)
{
    lt_env *env = *state;
    size_t len;
    ledger_keypair k = fresh_key();
    change c = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "fire", .name = "消防",
                .key = k.pub};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_department_exists");
}

static void test_rule_gov_department_in_use(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_REMOVE_DEPARTMENT, .department = "fire"};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_department_in_use");
}

static void test_rule_gov_registrar_not_found(void **state)
{
    lt_env *env = *state;
    size_t len;
    ledger_keypair k = fresh_key();
    change c = {.type = LEDGER_GOV_REMOVE_REGISTRAR, .key = k.pub};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_registrar_not_found");
}

static void test_rule_gov_observer_not_found(void **state)
{
    lt_env *env = *state;
    size_t len;
    ledger_keypair k = fresh_key();
    change c = {.type = LEDGER_GOV_REMOVE_OBSERVER, .node_key = k.pub};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_observer_not_found");
}

static void test_rule_gov_industry_not_found(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_REMOVE_INDUSTRY, .code = "nosuch"};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_industry_not_found");
}

static void test_rule_gov_industry_last(void **state)
{
    lt_env *env = *state;
    /* remove all but one, then the last */
    const char *codes[] = {"convenience-store", "hotel", "bakery"};
    for (size_t i = 0; i < 3; i++) {
        change c = {.type = LEDGER_GOV_REMOVE_INDUSTRY, .code = codes[i]};
        pass(env, LT_MARKET, &c, QUORUM);
    }
    size_t len;
    change c = {.type = LEDGER_GOV_REMOVE_INDUSTRY, .code = "kiosk"};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_industry_last");
}

static void test_rule_gov_param_unknown(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "colour", .value = 1};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_param_unknown");
}

/* set_param of the block parameters (DESIGN §11): in force from the next
 * block, for the blocks made and those received alike */
static void test_gov_set_block_params(void **state)
{
    lt_env *env = *state;
    ledger_err err;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_block_txs", .value = 1};
    pass(env, LT_APPROVAL, &c, QUORUM);
    change hb = {.type = LEDGER_GOV_SET_PARAM, .name = "heartbeat", .value = 120000};
    pass(env, LT_APPROVAL, &hb, QUORUM);
    change bi = {.type = LEDGER_GOV_SET_PARAM, .name = "block_interval", .value = 250};
    pass(env, LT_APPROVAL, &bi, QUORUM);
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->m->params.max_block_txs, 1);
    assert_int_equal(gv->m->params.heartbeat_ms, 120000);
    assert_int_equal(gv->m->params.block_interval_ms, 250);
    ledger_gov_release(gv);
    /* a block of two transactions: the builder stops at one ... */
    size_t l1, l2;
    uint8_t *t1 = lt_apply(env, "91350100M000100Y43", "convenience-store", 0, &l1);
    char u[19];
    uscc(77, u);
    uint8_t *t2 = lt_apply(env, u, "convenience-store", 0, &l2);
    ledger_block_ctx ctx = {.time = env->now + LT_SEC};
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x;
    ledger_header h;
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
    assert_int_equal(ledger_exec_tx(x, t1, l1, LEDGER_SIG_CHECK, NULL, &err), 0);
    assert_int_equal(ledger_exec_tx(x, t2, l2, LEDGER_SIG_CHECK, NULL, &err), -1);
    assert_string_equal(err.rule, "block_full");
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    ledger_exec_free(x);
    /* ... and one received with two is refused before anything executes */
    const uint8_t *txs[2] = {t1, t2};
    size_t lens[2] = {l1, l2};
    uint8_t hbuf[LEDGER_MAX_HEADER_BYTES];
    size_t hl;
    assert_int_equal(ledger_header_encode(&h, hbuf, sizeof hbuf, &hl), 0);
    ledger_exec *held = NULL;
    assert_int_equal(
        ledger_validate_block(env->L, hbuf, hl, txs, lens, 2, NULL, NULL, NULL, &held, &err), -1);
    assert_string_equal(err.rule, "block_invalid");
    assert_non_null(strstr(err.msg, "max_block_txs"));
    free(t1);
    free(t2);
    /* out of range: refused */
    size_t len;
    change bad[] = {{.type = LEDGER_GOV_SET_PARAM, .name = "max_block_txs", .value = 0},
                    {.type = LEDGER_GOV_SET_PARAM, .name = "max_block_bytes", .value = 100},
                    {.type = LEDGER_GOV_SET_PARAM, .name = "block_interval", .value = 200000},
                    {.type = LEDGER_GOV_SET_PARAM, .name = "heartbeat", .value = 100}};
    for (size_t i = 0; i < 4; i++)
        expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &bad[i], 0, &len), &len,
                       LEDGER_ERR_RULE, "gov_param_invalid");
    lt_reopen(env);
    gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->m->params.max_block_txs, 1);
    ledger_gov_release(gv);
}

static void test_rule_gov_param_invalid(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 5000};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_param_invalid");
}

static void test_rule_gov_validators_unreachable(void **state)
{
    lt_env *env = *state;
    size_t len;
    ledger_keypair s = fresh_key(), n = fresh_key();
    /* one validator: a second makes a set of two whose quorum is two, which
     * the one in force cannot make alone */
    change add = {.type = LEDGER_GOV_ADD_DEPARTMENT, .department = "culture", .name = "文旅",
                  .key = s.pub, .node_key = n.pub, .p2p = "127.0.0.1:9000"};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &add, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_validators_unreachable");
    /* nor can its node key rotate: the new key alone would have to decide */
    change rot = {.type = LEDGER_GOV_ROTATE_KEY, .department = "market", .node_key = n.pub};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &rot, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_validators_unreachable");
    /* and the only validator's node key cannot retire */
    expect_refused(env, retire(env, &env->node[LT_MARKET], &len), &len, LEDGER_ERR_RULE,
                   "gov_no_validator");
}

static void test_rule_gov_no_validator(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_REMOVE_DEPARTMENT, .department = "market"};
    expect_refused(env, propose(env, lt_dept(env, LT_APPROVAL), &c, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_no_validator");
}

static void test_rule_gov_quorum_unreachable(void **state)
{
    lt_env *env = *state;
    size_t len;
    /* two of six seal keys retire: four can sign, five are needed */
    run_ok(env, retire(env, lt_dept(env, LT_FIRE), &len), &len);
    run_ok(env, retire(env, lt_dept(env, LT_POLICE), &len), &len);
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_quorum_unreachable");
}

/* genesis with the most registrars allowed */
static void full_registrars(json_t *root)
{
    json_t *regs = json_object_get(root, "registrars");
    while (json_array_size(regs) < LEDGER_MAX_REGISTRARS) {
        ledger_keypair kp = fresh_key();
        char hex[65];
        ledger_hex_encode(kp.pub, 32, hex);
        json_array_append_new(regs, json_pack("{s:s, s:s, s:s}", "name", "窗口", "department",
                                              "approval", "key", hex));
    }
}

static void test_rule_gov_limit(void **state)
{
    (void)state;
    lt_env *env = calloc(1, sizeof *env);
    lt_setup(env, full_registrars);
    size_t len;
    ledger_keypair k = fresh_key();
    change c = {.type = LEDGER_GOV_ADD_REGISTRAR, .name = "x", .department = "approval",
                .key = k.pub};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len,
                   LEDGER_ERR_RULE, "gov_limit");
    lt_teardown(env);
    free(env);
}

static void test_rule_gov_expiry_invalid(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, env->now + 8 * LT_DAY, &len),
                   &len, LEDGER_ERR_RULE, "gov_expiry_invalid");
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, env->now, &len), &len,
                   LEDGER_ERR_RULE, "gov_expiry_invalid");
}

static void test_rule_gov_block_full(void **state)
{
    lt_env *env = *state;
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = env->now + LT_SEC;
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x = NULL;
    ledger_err err;
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
    for (int i = 0; i <= LEDGER_GOV_MAX_PER_BLOCK; i++) {
        change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 2 + i};
        size_t len;
        uint8_t *tx = propose(env, lt_dept(env, LT_MARKET), &c, 0, &len);
        int r = ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, NULL, &err);
        free(tx);
        if (i < LEDGER_GOV_MAX_PER_BLOCK) {
            if (r != 0)
                fail_msg("governance transaction %d refused: %s", i, err.msg);
            continue;
        }
        assert_int_equal(r, -1);
        assert_string_equal(err.rule, "gov_block_full");
    }
    /* the block holds the 64 and commits */
    ledger_header h;
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
    ledger_exec_free(x);
    env->now = ctx.time;
    ledger_gov *gv = ledger_gov_acquire(env->L);
    assert_int_equal(gv->n_open, LEDGER_GOV_MAX_PER_BLOCK);
    ledger_gov_release(gv);
}

static void test_rule_gov_proposals_full(void **state)
{
    lt_env *env = *state;
    size_t len;
    for (int i = 0; i < LEDGER_GOV_MAX_OPEN; i++) {
        change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 2 + i};
        run_ok(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len);
    }
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 99};
    expect_refused(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len, LEDGER_ERR_RULE,
                   "gov_proposals_full");
}

static void test_rule_gov_proposal_not_found(void **state)
{
    lt_env *env = *state;
    size_t len;
    expect_refused(env, approve(env, lt_dept(env, LT_MARKET), 42, &len), &len,
                   LEDGER_ERR_NOTFOUND, "gov_proposal_not_found");
}

static void test_rule_gov_already_approved(void **state)
{
    lt_env *env = *state;
    size_t len;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    uint32_t id = next_id(env);
    run_ok(env, propose(env, lt_dept(env, LT_MARKET), &c, 0, &len), &len);
    expect_refused(env, approve(env, lt_dept(env, LT_MARKET), id, &len), &len, LEDGER_ERR_RULE,
                   "gov_already_approved");
}

static void test_rule_gov_proposal_closed(void **state)
{
    lt_env *env = *state;
    change c = {.type = LEDGER_GOV_SET_PARAM, .name = "max_addresses", .value = 9};
    uint32_t id = pass(env, LT_APPROVAL, &c, QUORUM);
    size_t len;
    expect_refused(env, approve(env, lt_dept(env, LT_POLICE), id, &len), &len, LEDGER_ERR_RULE,
                   "gov_proposal_closed");
}

static void test_rule_gov_license_id_invalid(void **state)
{
    lt_env *env = *state;
    /* a governance transaction names no license */
    Permit__TxBody b;
    uint8_t nonce[LEDGER_NONCE_LEN];
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__RETIRE_KEY, env->now + LT_SEC,
                                         nonce), 0);
    Permit__Reason r = PERMIT__REASON__INIT;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
    b.reason = &r;
    b.license_id = "GOV-320411";
    size_t len;
    uint8_t *tx = lt_sign(env, &env->registrar, &b, &len);
    expect_refused(env, tx, &len, LEDGER_ERR_RULE, "license_id_invalid");
    /* and a license transaction cannot name the governance record */
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, "GOV-320411", NULL,
                     0, NULL, &len);
    expect_refused(env, tx, &len, LEDGER_ERR_NOTFOUND, "license_not_found");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_gov_membership_starts_from_genesis),
        T(test_gov_rotate_seal_key_takes_effect_next_block),
        T(test_gov_add_and_remove_registrar),
        T(test_gov_set_industry_then_apply),
        T(test_gov_set_param_max_addresses),
        T(test_gov_proposal_expires),
        T(test_gov_retire_registrar_key),
        T(test_gov_retire_seal_key),
        T(test_gov_add_department_without_validator),
        T(test_gov_pending_items_of_an_added_department),
        T(test_gov_removed_department_approvals_do_not_carry_over),
        T(test_gov_precheck_refuses_a_stale_department_index),
        T(test_gov_add_observer),
        T(test_gov_record_codec_round_trip),
        T(test_gov_set_industry_instant_then_apply),
        T(test_gov_set_param_instant_ban),
        T(test_gov_record_version_2_only_when_needed),
        T(test_rule_instant_without_commitment),
        T(test_audit_follows_a_seal_key_rotation),
        T(test_membership_history_holds_each_key_while_in_force),
        T(test_rule_gov_signer_not_department),
        T(test_rule_retire_key_unknown),
        T(test_rule_gov_change_invalid),
        T(test_rule_gov_key_in_use),
        T(test_rule_gov_key_retired),
        T(test_rule_gov_department_not_found),
        T(test_rule_gov_department_exists),
        T(test_rule_gov_department_in_use),
        T(test_rule_gov_registrar_not_found),
        T(test_rule_gov_observer_not_found),
        T(test_rule_gov_industry_not_found),
        T(test_rule_gov_industry_last),
        T(test_rule_gov_param_unknown),
        T(test_gov_set_block_params),
        T(test_rule_gov_param_invalid),
        cmocka_unit_test_setup_teardown(test_validator_set_changes_two_blocks_after_the_change,
                                        setup4, teardown),
        T(test_rule_gov_validators_unreachable),
        cmocka_unit_test_setup_teardown(test_gov_add_validator, setup4, teardown),
        cmocka_unit_test_setup_teardown(test_validators_hash_back_to_genesis, setup4, teardown),
        cmocka_unit_test_setup_teardown(test_gov_rotate_and_retire_node_keys, setup4, teardown),
        T(test_rule_gov_no_validator),
        T(test_rule_gov_quorum_unreachable),
        T(test_rule_gov_expiry_invalid),
        cmocka_unit_test(test_rule_gov_limit),
        T(test_rule_gov_proposals_full),
        T(test_rule_gov_block_full),
        T(test_rule_gov_proposal_not_found),
        T(test_rule_gov_already_approved),
        T(test_rule_gov_proposal_closed),
        T(test_rule_gov_license_id_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
