#include "ledgertest.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/tx.h"

static const char *const dept_ids[LT_NDEPT] = {"approval", "market", "tobacco",
                                               "fire",     "health", "police"};
static const char *const dept_names[LT_NDEPT] = {"行政审批局", "市场监督管理局", "烟草专卖局",
                                                 "消防救援大队", "卫生健康委员会", "公安分局"};

static void derive_key(ledger_keypair *kp, const char *label)
{
    uint8_t sec[32];
    char buf[128];
    snprintf(buf, sizeof buf, "permit-test-key/%s", label);
    ledger_sha256(buf, strlen(buf), sec);
    assert_int_equal(ledger_keypair_from_secret(kp, sec, NULL), 0);
}

static json_t *hexkey(const ledger_keypair *kp)
{
    char h[65];
    ledger_hex_encode(kp->pub, 32, h);
    return json_string(h);
}

static json_t *item(const char *permit, const char *dept)
{
    return json_pack("{s:s, s:s}", "permit", permit, "department", dept);
}

char *lt_genesis_json(lt_env *env, lt_genesis_edit edit)
{
    json_t *root = json_object();
    json_object_set_new(root, "chain_id", json_string("permit-test"));
    json_object_set_new(root, "genesis_time", json_integer((json_int_t)LT_T0));
    json_object_set_new(root, "region",
                        json_pack("{s:s, s:s}", "code", "320411", "name", "常州市新北区"));
    json_object_set_new(root, "params",
                        json_pack("{s:i, s:s, s:i}", "max_addresses", 4, "tx_window", "1h",
                                  "max_block_txs", 20000));
    json_t *depts = json_array();
    for (int d = 0; d < LT_NDEPT; d++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(dept_ids[d]));
        json_object_set_new(o, "name", json_string(dept_names[d]));
        json_object_set_new(o, "seal_key", hexkey(&env->dept[d]));
        if (d == LT_MARKET) {
            json_t *v = json_object();
            json_object_set_new(v, "node_key", hexkey(&env->node[d]));
            json_object_set_new(v, "p2p", json_string("127.0.0.1:8646"));
            json_object_set_new(o, "validator", v);
        }
        json_array_append_new(depts, o);
    }
    json_object_set_new(root, "departments", depts);
    json_t *regs = json_array();
    json_t *r = json_object();
    json_object_set_new(r, "name", json_string("政务服务中心1号窗口"));
    json_object_set_new(r, "department", json_string("approval"));
    json_object_set_new(r, "key", hexkey(&env->registrar));
    json_array_append_new(regs, r);
    json_object_set_new(root, "registrars", regs);

    json_t *inds = json_array();
    json_t *cs = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "code", "convenience-store",
                           "name", "便利店", "validity", "5y", "commitment_allowed", 1,
                           "verify_within", "30d", "renew_window", "90d", "grace", "180d");
    json_t *items = json_array();
    json_array_append_new(items, item("食品经营许可", "market"));
    json_array_append_new(items, item("烟草专卖零售许可", "tobacco"));
    json_object_set_new(cs, "items", items);
    json_array_append_new(inds, cs);

    json_t *hotel = json_pack("{s:s, s:s, s:s, s:b}", "code", "hotel", "name", "宾馆",
                              "validity", "3y", "commitment_allowed", 0);
    items = json_array();
    json_array_append_new(items, item("特种行业许可（旅馆业）", "police"));
    json_array_append_new(items, item("公共场所卫生许可", "health"));
    json_array_append_new(items, item("公众聚集场所投入使用、营业前消防安全检查", "fire"));
    json_object_set_new(hotel, "items", items);
    json_array_append_new(inds, hotel);

    json_t *bakery = json_pack("{s:s, s:s, s:s, s:b, s:s}", "code", "bakery", "name", "烘焙店",
                               "validity", "5y", "commitment_allowed", 1, "verify_within", "30d");
    items = json_array();
    json_array_append_new(items, item("食品生产许可（小作坊登记）", "market"));
    json_array_append_new(items, item("食品经营许可", "market"));
    json_object_set_new(bakery, "items", items);
    json_array_append_new(inds, bakery);

    /* expires within a minute, for expiry, renewal and overdue tests */
    json_t *kiosk = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "code", "kiosk", "name",
                              "报刊亭", "validity", "60s", "commitment_allowed", 1,
                              "verify_within", "20s", "renew_window", "30s", "grace", "30s");
    items = json_array();
    json_array_append_new(items, item("食品经营许可", "market"));
    json_object_set_new(kiosk, "items", items);
    json_array_append_new(inds, kiosk);
    json_object_set_new(root, "industries", inds);

    if (edit)
        edit(root);
    char *s = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    assert_non_null(s);
    return s;
}

void lt_setup(lt_env *env, lt_genesis_edit edit)
{
    memset(env, 0, sizeof *env);
    for (int d = 0; d < LT_NDEPT; d++) {
        char label[64];
        snprintf(label, sizeof label, "seal/%s", dept_ids[d]);
        derive_key(&env->dept[d], label);
        snprintf(label, sizeof label, "node/%s", dept_ids[d]);
        derive_key(&env->node[d], label);
    }
    derive_key(&env->registrar, "registrar/1");
    derive_key(&env->outsider, "outsider");
    derive_key(&env->holder, "holder");
    env->genesis_json = lt_genesis_json(env, edit);
    ledger_err err;
    if (ledger_genesis_parse(env->genesis_json, strlen(env->genesis_json), &env->g, &err) != 0)
        fail_msg("test genesis refused: %s", err.msg);
    env->dir = tu_tmpdir("ledger");
    char db[512];
    snprintf(db, sizeof db, "%s/db", env->dir);
    if (ledger_open(&env->L, db, env->g, &err) != 0)
        fail_msg("ledger_open: %s", err.msg);
    env->now = LT_T0;
}

void lt_reopen(lt_env *env)
{
    ledger_close(env->L);
    env->L = NULL;
    char db[512];
    snprintf(db, sizeof db, "%s/db", env->dir);
    ledger_err err;
    if (ledger_open(&env->L, db, env->g, &err) != 0)
        fail_msg("ledger reopen: %s", err.msg);
}

void lt_teardown(lt_env *env)
{
    ledger_close(env->L);
    ledger_genesis_free(env->g);
    tu_rmrf(env->dir);
    free(env->dir);
    free(env->genesis_json);
    memset(env, 0, sizeof *env);
}

const ledger_keypair *lt_dept(lt_env *env, int d)
{
    return &env->dept[d];
}

static uint8_t nonce_store[LEDGER_NONCE_LEN];

static void body_init(lt_env *env, Permit__TxBody *b, int kind)
{
    assert_int_equal(ledger_tx_body_init(b, kind, env->now + LT_SEC, nonce_store), 0);
}

uint8_t *lt_sign(lt_env *env, const ledger_keypair *kp, Permit__TxBody *b, size_t *len)
{
    uint8_t *out = NULL;
    ledger_err err;
    if (ledger_tx_sign(env->g->chain_id, b, kp, &out, len, &err) != 0)
        fail_msg("sign: %s", err.msg);
    return out;
}

void lt_pledge_sign(lt_env *env, const ledger_keypair *holder, const char *uscc,
                    const char *industry, lt_pledge *pl)
{
    uint8_t d[32];
    memcpy(pl->key, holder->pub, 32);
    ledger_sha256(LT_PLEDGE_TEXT, strlen(LT_PLEDGE_TEXT), pl->sha);
    ledger_pledge_digest(env->g->chain_id, uscc, industry, pl->sha, d);
    assert_int_equal(ledger_sign(holder, d, NULL, pl->sig), 0);
}

static uint8_t *apply_body(lt_env *env, const ledger_keypair *kp, const char *uscc,
                           const char *name, const char *rep, const char *industry,
                           const char *division, const char *address, int commitment,
                           const lt_pledge *pl, size_t *len)
{
    Permit__TxBody b;
    Permit__Apply a = PERMIT__APPLY__INIT;
    Permit__Address ad = PERMIT__ADDRESS__INIT;
    body_init(env, &b, PERMIT__TX_KIND__APPLY);
    a.uscc = (char *)uscc;
    a.name = (char *)name;
    a.legal_rep = (char *)rep;
    a.industry = (char *)industry;
    a.scope = "预包装食品销售；卷烟零售";
    ad.division = (char *)division;
    ad.text = (char *)address;
    a.address = &ad;
    a.commitment = commitment;
    if (pl) {
        a.holder_key.data = (uint8_t *)pl->key;
        a.holder_key.len = 32;
        a.pledge_sha256.data = (uint8_t *)pl->sha;
        a.pledge_sha256.len = 32;
        a.pledge_sig.data = (uint8_t *)pl->sig;
        a.pledge_sig.len = 64;
    }
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_APPLY;
    b.apply = &a;
    return lt_sign(env, kp, &b, len);
}

uint8_t *lt_apply_full(lt_env *env, const ledger_keypair *kp, const char *uscc,
                       const char *name, const char *rep, const char *industry,
                       const char *division, const char *address, int commitment,
                       size_t *len)
{
    /* the notify-and-commit route needs the holder's pledge (pledge_required) */
    lt_pledge pl;
    if (commitment)
        lt_pledge_sign(env, &env->holder, uscc, industry, &pl);
    return apply_body(env, kp, uscc, name, rep, industry, division, address, commitment,
                      commitment ? &pl : NULL, len);
}

uint8_t *lt_apply_pledged(lt_env *env, const char *uscc, const char *industry, int commitment,
                          const lt_pledge *pl, size_t *len)
{
    return apply_body(env, &env->registrar, uscc, "常州新北便利超市有限公司", "张三", industry,
                      "320411", "常州市新北区太湖东路101号", commitment, pl, len);
}

uint8_t *lt_set_holder(lt_env *env, const ledger_keypair *signer, const char *license,
                       const ledger_keypair *holder, size_t *len)
{
    Permit__TxBody b;
    Permit__HolderKey h = PERMIT__HOLDER_KEY__INIT;
    uint8_t d[32], sig[64], pub[32];
    ledger_holder_digest(env->g->chain_id, license, d);
    assert_int_equal(ledger_sign(holder, d, NULL, sig), 0);
    memcpy(pub, holder->pub, 32);
    body_init(env, &b, PERMIT__TX_KIND__SET_HOLDER_KEY);
    b.license_id = (char *)license;
    h.key.data = pub;
    h.key.len = 32;
    h.sig.data = sig;
    h.sig.len = 64;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_HOLDER_KEY;
    b.holder_key = &h;
    return lt_sign(env, signer, &b, len);
}

uint8_t *lt_apply(lt_env *env, const char *uscc, const char *industry, int commitment,
                  size_t *len)
{
    return lt_apply_full(env, &env->registrar, uscc, "常州新北便利超市有限公司", "张三",
                         industry, "320411", "常州市新北区太湖东路101号", commitment, len);
}

uint8_t *lt_decision(lt_env *env, const ledger_keypair *kp, int kind, const char *license,
                     const uint32_t *items, size_t n_items, const char *reason, size_t *len)
{
    Permit__TxBody b;
    Permit__Decision d = PERMIT__DECISION__INIT;
    body_init(env, &b, kind);
    b.license_id = (char *)license;
    d.items = (uint32_t *)items;
    d.n_items = n_items;
    d.reason = (char *)(reason ? reason : "");
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_DECISION;
    b.decision = &d;
    return lt_sign(env, kp, &b, len);
}

uint8_t *lt_reason_tx(lt_env *env, const ledger_keypair *kp, int kind, const char *license,
                      const char *reason, size_t *len)
{
    Permit__TxBody b;
    Permit__Reason r = PERMIT__REASON__INIT;
    body_init(env, &b, kind);
    b.license_id = (char *)license;
    r.reason = (char *)(reason ? reason : "");
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
    b.reason = &r;
    return lt_sign(env, kp, &b, len);
}

uint8_t *lt_add_address(lt_env *env, const ledger_keypair *kp, const char *license,
                        const char *division, const char *text, size_t *len)
{
    Permit__TxBody b;
    Permit__AddAddress aa = PERMIT__ADD_ADDRESS__INIT;
    Permit__Address ad = PERMIT__ADDRESS__INIT;
    body_init(env, &b, PERMIT__TX_KIND__ADD_ADDRESS);
    b.license_id = (char *)license;
    ad.division = (char *)division;
    ad.text = (char *)text;
    aa.address = &ad;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_ADD_ADDRESS;
    b.add_address = &aa;
    return lt_sign(env, kp, &b, len);
}

uint8_t *lt_remove_address(lt_env *env, const ledger_keypair *kp, const char *license,
                           uint32_t id, size_t *len)
{
    Permit__TxBody b;
    Permit__RemoveAddress ra = PERMIT__REMOVE_ADDRESS__INIT;
    body_init(env, &b, PERMIT__TX_KIND__REMOVE_ADDRESS);
    b.license_id = (char *)license;
    ra.address_id = id;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REMOVE_ADDRESS;
    b.remove_address = &ra;
    return lt_sign(env, kp, &b, len);
}

uint8_t *lt_amend(lt_env *env, const ledger_keypair *kp, const char *license,
                  const char *name, const char *rep, const char *scope, size_t *len)
{
    Permit__TxBody b;
    Permit__Amend am = PERMIT__AMEND__INIT;
    body_init(env, &b, PERMIT__TX_KIND__AMEND);
    b.license_id = (char *)license;
    if (name) {
        am.name_opt_case = PERMIT__AMEND__NAME_OPT_NAME;
        am.name = (char *)name;
    }
    if (rep) {
        am.legal_rep_opt_case = PERMIT__AMEND__LEGAL_REP_OPT_LEGAL_REP;
        am.legal_rep = (char *)rep;
    }
    if (scope) {
        am.scope_opt_case = PERMIT__AMEND__SCOPE_OPT_SCOPE;
        am.scope = (char *)scope;
    }
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_AMEND;
    b.amend = &am;
    return lt_sign(env, kp, &b, len);
}

int lt_run(lt_env *env, uint64_t dt, const uint8_t *envl, size_t len, char *license_out,
           ledger_err *err)
{
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = env->now + (dt ? dt : LT_SEC);
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32); /* the test chain's validator */
    ledger_exec *x = NULL;
    ledger_err e2;
    if (ledger_exec_begin(env->L, &ctx, &x, &e2) != 0)
        fail_msg("exec_begin: %s", e2.msg);
    ledger_tx_result res;
    if (ledger_exec_tx(x, envl, len, LEDGER_SIG_CHECK, &res, err) != 0) {
        ledger_exec_free(x);
        return -1;
    }
    ledger_header h;
    if (ledger_exec_finish(x, &h, &e2) != 0 || ledger_exec_commit(x, NULL, &e2) != 0)
        fail_msg("commit: %s", e2.msg);
    ledger_exec_free(x);
    env->now = ctx.time;
    if (license_out)
        strcpy(license_out, res.license_id);
    return 0;
}

int lt_run_free(lt_env *env, uint64_t dt, uint8_t *envl, size_t len, char *license_out,
                ledger_err *err)
{
    int r = lt_run(env, dt, envl, len, license_out, err);
    free(envl);
    return r;
}

void lt_tick(lt_env *env, uint64_t dt)
{
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = env->now + dt;
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x = NULL;
    ledger_err err;
    ledger_header h;
    if (ledger_exec_begin(env->L, &ctx, &x, &err) != 0 || ledger_exec_finish(x, &h, &err) != 0 ||
        ledger_exec_commit(x, NULL, &err) != 0)
        fail_msg("tick: %s", err.msg);
    ledger_exec_free(x);
    env->now = ctx.time;
}

void lt_get(lt_env *env, const char *id, ledger_license *out)
{
    ledger_err err;
    int r = ledger_get_license(env->L, id, out, &err);
    if (r != 1)
        fail_msg("license %s: %s", id, r < 0 ? err.msg : "not found");
}

void lt_uscc(uint32_t n, char out[19])
{
    static const char alpha[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    /* 91 + 320411 + 9-digit organisation part from n */
    snprintf(out, 19, "91320411%09u", n % 1000000000u);
    int sum = 0, w = 1;
    for (int i = 0; i < 17; i++) {
        int v = (int)(strchr(alpha, out[i]) - alpha);
        sum += v * w;
        w = w * 3 % 31;
    }
    out[17] = alpha[(31 - sum % 31) % 31];
    out[18] = '\0';
}

int lt_certify_tip(lt_env *env, const ledger_keypair *const *keys, size_t n, ledger_err *err)
{
    ledger_tip tip;
    ledger_get_tip(env->L, &tip);
    ledger_commit c;
    memset(&c, 0, sizeof c);
    c.height = tip.height;
    memcpy(c.block_hash, tip.hash, 32);
    uint8_t msg[32];
    ledger_vote_sighash(env->g->chain_id, LEDGER_VOTE_PRECOMMIT, tip.height, 0, tip.hash, msg);
    for (size_t i = 0; i < n && i < LEDGER_MAX_DEPARTMENTS; i++) {
        c.sigs[i].validator = (uint32_t)i;
        if (ledger_sign(keys[i], msg, NULL, c.sigs[i].sig) != 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "signing failed");
        c.n_sigs = i + 1;
    }
    return ledger_put_commit(env->L, &c, err);
}
