/* The license state machine through block execution: every status
 * transition of DESIGN §2 and every rule of DESIGN §4 (except governance),
 * each with a test that breaks it and checks the error names the rule. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/license.h"
#include "ledger/merkle.h"
#include "ledger/rules.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "ledgertest.h"
#include "ledger/text.h"

static int setup(void **state)
{
    lt_env *env = calloc(1, sizeof *env);
    lt_setup(env, NULL);
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    lt_teardown(*state);
    free(*state);
    return 0;
}

static char g_uscc[19];

static const char *uscc(uint32_t n)
{
    lt_uscc(n, g_uscc);
    return g_uscc;
}

/* Run tx (freeing it) and expect refusal with this code and rule. */
static char g_last_msg[sizeof ((ledger_err *)0)->msg]; /* the last refusal's words */

static void expect_refused(lt_env *env, uint8_t *tx, size_t len, ledger_code code,
                           const char *rule)
{
    ledger_err err;
    memset(&err, 0, sizeof err);
    uint64_t h = ledger_height(env->L);
    int r = lt_run_free(env, 0, tx, len, NULL, &err);
    if (r == 0)
        fail_msg("expected refusal by rule %s, but the transaction was accepted", rule);
    if (err.rule == NULL || strcmp(err.rule, rule) != 0)
        fail_msg("expected rule %s, got %s (%s)", rule, err.rule ? err.rule : "(none)", err.msg);
    if (err.code != code)
        fail_msg("rule %s: expected code %s, got %s", rule, ledger_code_name(code),
                 ledger_code_name(err.code));
    assert_true(err.msg[0] != '\0');
    snprintf(g_last_msg, sizeof g_last_msg, "%s", err.msg);
    assert_int_equal(ledger_height(env->L), h); /* nothing committed */
}

static void expect_ok(lt_env *env, uint8_t *tx, size_t len, char *license_out)
{
    ledger_err err;
    if (lt_run_free(env, 0, tx, len, license_out, &err) != 0)
        fail_msg("refused: rule %s: %s", err.rule ? err.rule : "-", err.msg);
}

/* Apply for a license (convenience store unless industry given). */
static void apply(lt_env *env, const char *industry, int commitment, uint32_t n, char *id)
{
    size_t len;
    uint8_t *tx = lt_apply(env, uscc(n), industry ? industry : "convenience-store", commitment,
                           &len);
    expect_ok(env, tx, len, id);
}

static void decide(lt_env *env, int dept, int kind, const char *id, const char *reason)
{
    size_t len;
    uint8_t *tx = lt_decision(env, lt_dept(env, dept), kind, id, NULL, 0, reason, &len);
    expect_ok(env, tx, len, NULL);
}

static void reason_tx(lt_env *env, int dept_or_reg, int kind, const char *id,
                      const char *reason)
{
    size_t len;
    const ledger_keypair *kp = dept_or_reg < 0 ? &env->registrar : lt_dept(env, dept_or_reg);
    uint8_t *tx = lt_reason_tx(env, kp, kind, id, reason, &len);
    expect_ok(env, tx, len, NULL);
}

static int status_now(lt_env *env, const char *id)
{
    ledger_license l;
    lt_get(env, id, &l);
    int s = ledger_license_status_at(&l, env->now);
    ledger_license_clear(&l);
    return s;
}

/* An issued convenience-store license. */
static void issued(lt_env *env, uint32_t n, char *id)
{
    apply(env, NULL, 0, n, id);
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, id, NULL);
    decide(env, LT_TOBACCO, PERMIT__TX_KIND__APPROVE, id, NULL);
    assert_int_equal(status_now(env, id), LIC_ISSUED);
}

/* Sign raw body bytes as they are. */
static uint8_t *sign_raw(const ledger_keypair *kp, const char *chain_id, const uint8_t *body,
                         size_t blen, size_t *len)
{
    uint8_t *e = malloc(LEDGER_ENVELOPE_HEADER + blen);
    assert_non_null(e);
    memcpy(e + LEDGER_ENVELOPE_HEADER, body, blen);
    uint8_t h[32];
    ledger_tx_sighash(chain_id, body, blen, h);
    e[0] = LEDGER_ENVELOPE_VERSION;
    memcpy(e + 1, kp->pub, 32);
    assert_int_equal(ledger_sign(kp, h, NULL, e + 33), 0);
    *len = LEDGER_ENVELOPE_HEADER + blen;
    return e;
}

/* ---------- transitions ---------- */

static void test_apply_creates_pending_license_with_chained_event(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    assert_string_equal(id, "PL-320411-2025-000001");
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.status, LIC_PENDING);
    assert_string_equal(l.uscc, uscc(1));
    assert_string_equal(l.name, "常州新北便利超市有限公司");
    assert_string_equal(l.industry, "convenience-store");
    assert_int_equal(l.n_items, 2);
    assert_string_equal(l.items[0].department, "market");
    assert_string_equal(l.items[1].department, "tobacco");
    assert_int_equal(l.items[0].decision, DEC_PENDING);
    assert_int_equal(l.n_addresses, 1);
    assert_int_equal(l.addresses[0].primary, 1);
    assert_int_equal(l.addresses[0].id, 1);
    assert_int_equal(l.seq, 0);
    assert_int_equal(l.applied_at, env->now);
    assert_int_equal(l.issued_at, 0);

    ledger_event_rec *evs;
    size_t n;
    ledger_err err;
    assert_int_equal(ledger_get_events(env->L, id, &evs, &n, &err), 1);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].ev.seq, 0);
    assert_int_equal(evs[0].ev.kind, PERMIT__TX_KIND__APPLY);
    assert_int_equal(evs[0].ev.height, 1);
    assert_int_equal(evs[0].log_index, 0);
    uint8_t zero[32] = {0};
    assert_memory_equal(evs[0].ev.prev, zero, 32);
    assert_memory_equal(evs[0].hash, l.head, 32);
    free(evs);
    ledger_license_clear(&l);

    /* the next application gets the next number */
    apply(env, NULL, 0, 2, id);
    assert_string_equal(id, "PL-320411-2025-000002");
}

static void test_last_approval_issues_license(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, id, NULL);
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.status, LIC_PENDING);
    assert_int_equal(l.items[0].decision, DEC_APPROVED);
    assert_int_equal(l.items[1].decision, DEC_PENDING);
    ledger_license_clear(&l);
    decide(env, LT_TOBACCO, PERMIT__TX_KIND__APPROVE, id, NULL);
    lt_get(env, id, &l);
    assert_int_equal(l.status, LIC_ISSUED);
    assert_int_equal(l.issued_at, env->now);
    assert_int_equal(l.expires_at, env->now + 5 * 365 * LT_DAY);
    assert_int_equal(l.seq, 2);
    ledger_license_clear(&l);
}

static void test_one_rejection_rejects_and_is_final(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, id, NULL);
    decide(env, LT_TOBACCO, PERMIT__TX_KIND__REJECT, id, "距离学校不足50米");
    assert_int_equal(status_now(env, id), LIC_REJECTED);
    size_t len;
    uint8_t *tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__CANCEL, id, "申请人撤回", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_final");
}

static void test_commitment_route_issues_at_once_then_verifies(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 1, 1, id);
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.status, LIC_ISSUED_UNVERIFIED);
    assert_int_equal(l.commitment, 1);
    assert_int_equal(l.issued_at, env->now);
    assert_int_equal(l.verify_deadline, env->now + 30 * LT_DAY);
    assert_int_equal(l.items[0].decision, DEC_COMMITTED);
    ledger_license_clear(&l);
    decide(env, LT_MARKET, PERMIT__TX_KIND__VERIFY, id, NULL);
    assert_int_equal(status_now(env, id), LIC_ISSUED_UNVERIFIED);
    decide(env, LT_TOBACCO, PERMIT__TX_KIND__VERIFY, id, NULL);
    lt_get(env, id, &l);
    assert_int_equal(l.status, LIC_ISSUED);
    assert_true(l.items[0].verified && l.items[1].verified);
    ledger_license_clear(&l);
}

static void test_false_commitment_is_revoked(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 1, 1, id);
    reason_tx(env, LT_TOBACCO, PERMIT__TX_KIND__REVOKE, id, "承诺内容与实际不符");
    assert_int_equal(status_now(env, id), LIC_REVOKED);
    size_t len;
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__VERIFY, id, NULL, 0,
                              NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_final");
}

static void test_suspend_and_resume_by_the_suspending_department(void **state)
{
    lt_env *env = *state;
    char id[80];
    issued(env, 1, id);
    reason_tx(env, LT_MARKET, PERMIT__TX_KIND__SUSPEND, id, "食品安全抽检不合格");
    assert_int_equal(status_now(env, id), LIC_SUSPENDED);
    size_t len;
    uint8_t *tx = lt_reason_tx(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__RESUME, id,
                               "整改完成", &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "resume_by_suspender");
    reason_tx(env, LT_MARKET, PERMIT__TX_KIND__RESUME, id, "整改完成");
    assert_int_equal(status_now(env, id), LIC_ISSUED);
    /* suspended licenses can be revoked */
    reason_tx(env, LT_MARKET, PERMIT__TX_KIND__SUSPEND, id, "再次抽检不合格");
    reason_tx(env, LT_TOBACCO, PERMIT__TX_KIND__REVOKE, id, "多次违规");
    assert_int_equal(status_now(env, id), LIC_REVOKED);
}

static void test_cancel_pending_and_issued(void **state)
{
    lt_env *env = *state;
    char a[80], b[80];
    apply(env, NULL, 0, 1, a);
    reason_tx(env, -1, PERMIT__TX_KIND__CANCEL, a, "申请人撤回申请");
    assert_int_equal(status_now(env, a), LIC_CANCELLED);
    issued(env, 2, b);
    reason_tx(env, -1, PERMIT__TX_KIND__CANCEL, b, "歇业注销");
    assert_int_equal(status_now(env, b), LIC_CANCELLED);
}

static void test_expiry_is_derived_from_block_time(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, "kiosk", 0, 1, id);
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, id, NULL);
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.status, LIC_ISSUED);
    uint64_t exp = l.expires_at;
    assert_int_equal(ledger_license_status_at(&l, exp - 1), LIC_ISSUED);
    assert_int_equal(ledger_license_status_at(&l, exp), LIC_EXPIRED);
    ledger_license_clear(&l);
    lt_tick(env, 61 * LT_SEC);
    assert_int_equal(status_now(env, id), LIC_EXPIRED);
    size_t len;
    uint8_t *tx = lt_add_address(env, &env->registrar, id, "320411", "新北区珠江路5号", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_active");
    tx = lt_amend(env, &env->registrar, id, "新名字", NULL, NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_expired");
    tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__SUSPEND, id, "检查", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_issued");
}

static void test_renewal_window_and_grace_period(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, "kiosk", 0, 1, id); /* validity 60s, window 30s, grace 30s */
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, id, NULL);
    ledger_license l;
    lt_get(env, id, &l);
    uint64_t exp = l.expires_at;
    ledger_license_clear(&l);
    size_t len;
    /* too early: the window opens 30 s before expiry */
    uint8_t *tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "renew_window");
    /* the dates in words a registrar reads, in the chain's local time */
    char when[LEDGER_CST_TEXT], want[160];
    ledger_cst_text(exp, when);
    snprintf(want, sizeof want, "expires %s; renewal opens ", when);
    if (strstr(g_last_msg, want) == NULL || strstr(g_last_msg, "(UTC+8)") == NULL)
        fail_msg("renew_window says \"%s\"", g_last_msg);
    /* inside the window: the new term follows the old one */
    lt_tick(env, exp - 20 * LT_SEC - env->now - LT_SEC);
    reason_tx(env, -1, PERMIT__TX_KIND__RENEW, id, "");
    lt_get(env, id, &l);
    assert_int_equal(l.expires_at, exp + 60 * LT_SEC);
    exp = l.expires_at;
    ledger_license_clear(&l);
    /* expired, inside the grace period: renewed from now */
    lt_tick(env, exp + 10 * LT_SEC - env->now - LT_SEC);
    assert_int_equal(status_now(env, id), LIC_EXPIRED);
    reason_tx(env, -1, PERMIT__TX_KIND__RENEW, id, "");
    lt_get(env, id, &l);
    assert_int_equal(l.expires_at, env->now + 60 * LT_SEC);
    exp = l.expires_at;
    ledger_license_clear(&l);
    assert_int_equal(status_now(env, id), LIC_ISSUED);
    /* beyond the grace period: too late */
    lt_tick(env, exp + 31 * LT_SEC - env->now);
    tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "renew_window");
}

static void test_department_with_several_items_decides_them_together_or_singly(void **state)
{
    lt_env *env = *state;
    char a[80], b[80];
    apply(env, "bakery", 0, 1, a);
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, a, NULL);
    assert_int_equal(status_now(env, a), LIC_ISSUED);

    apply(env, "bakery", 0, 2, b);
    uint32_t first = 0, second = 1;
    size_t len;
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, b, &first,
                              1, NULL, &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, b), LIC_PENDING);
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, b, &first, 1, NULL,
                     &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "item_already_decided");
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, b, &second, 1, NULL,
                     &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, b), LIC_ISSUED);
}

static void test_addresses_filed_and_removed(void **state)
{
    lt_env *env = *state;
    char id[80];
    issued(env, 1, id);
    size_t len;
    uint8_t *tx = lt_add_address(env, &env->registrar, id, "320411001", "新北区珠江路5号", &len);
    expect_ok(env, tx, len, NULL);
    tx = lt_add_address(env, &env->registrar, id, "320411002", "新北区衡山路8号", &len);
    expect_ok(env, tx, len, NULL);
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.n_addresses, 3);
    assert_int_equal(l.addresses[1].id, 2);
    assert_int_equal(l.addresses[2].id, 3);
    assert_string_equal(l.addresses[2].text, "新北区衡山路8号");
    ledger_license_clear(&l);
    tx = lt_remove_address(env, &env->registrar, id, 2, &len);
    expect_ok(env, tx, len, NULL);
    lt_get(env, id, &l);
    assert_int_equal(l.n_addresses, 2);
    assert_int_equal(l.addresses[1].id, 3);
    ledger_license_clear(&l);
    /* ids are never reused */
    tx = lt_add_address(env, &env->registrar, id, "320411", "新北区黄河路1号", &len);
    expect_ok(env, tx, len, NULL);
    lt_get(env, id, &l);
    assert_int_equal(l.addresses[2].id, 4);
    ledger_license_clear(&l);
}

static void test_amend_keeps_history(void **state)
{
    lt_env *env = *state;
    char id[80];
    issued(env, 1, id);
    size_t len;
    uint8_t *tx = lt_amend(env, &env->registrar, id, "常州新北便利有限公司", "李四", NULL, &len);
    expect_ok(env, tx, len, NULL);
    ledger_license l;
    lt_get(env, id, &l);
    assert_string_equal(l.name, "常州新北便利有限公司");
    assert_string_equal(l.legal_rep, "李四");
    assert_int_equal(l.seq, 3);
    ledger_license_clear(&l);
    /* the old values stay in the APPLY transaction the first event points at */
    ledger_event_rec *evs;
    size_t n;
    ledger_err err;
    assert_int_equal(ledger_get_events(env->L, id, &evs, &n, &err), 1);
    assert_int_equal(n, 4);
    assert_int_equal(evs[3].ev.kind, PERMIT__TX_KIND__AMEND);
    uint8_t *envl;
    size_t elen;
    assert_int_equal(ledger_get_tx(env->L, evs[0].ev.tx_id, &envl, &elen, NULL, NULL, &err), 1);
    ledger_tx tx0;
    assert_int_equal(ledger_tx_decode(&tx0, envl, elen, env->g->chain_id, &err), 0);
    assert_string_equal(tx0.body->apply->name, "常州新北便利超市有限公司");
    assert_string_equal(tx0.body->apply->legal_rep, "张三");
    ledger_tx_release(&tx0);
    free(envl);
    for (size_t i = 1; i < n; i++)
        assert_memory_equal(evs[i].ev.prev, evs[i - 1].hash, 32);
    free(evs);
}

/* ---------- envelope and body form ---------- */

static void test_rule_envelope_malformed(void **state)
{
    lt_env *env = *state;
    uint8_t *tx = calloc(1, 50);
    expect_refused(env, tx, 50, LEDGER_ERR_RULE, "envelope_malformed");
    size_t len;
    tx = lt_apply(env, uscc(1), "convenience-store", 0, &len);
    tx[0] = 2; /* unknown envelope version */
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "envelope_malformed");
}

static void test_rule_tx_too_large(void **state)
{
    lt_env *env = *state;
    size_t len = LEDGER_MAX_ENVELOPE + 1;
    uint8_t *tx = calloc(1, len);
    tx[0] = 1;
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "tx_too_large");
}

static void test_rule_body_malformed(void **state)
{
    lt_env *env = *state;
    const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    size_t len;
    uint8_t *tx = sign_raw(&env->registrar, env->g->chain_id, garbage, sizeof garbage, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "body_malformed");
}

/* A valid APPLY body's bytes. */
static uint8_t *apply_body(lt_env *env, size_t *blen)
{
    size_t len;
    uint8_t *tx = lt_apply(env, uscc(7), "convenience-store", 0, &len);
    *blen = len - LEDGER_ENVELOPE_HEADER;
    uint8_t *b = malloc(*blen + 16);
    memcpy(b, tx + LEDGER_ENVELOPE_HEADER, *blen);
    free(tx);
    return b;
}

static void test_rule_body_unknown_field(void **state)
{
    lt_env *env = *state;
    size_t blen;
    uint8_t *b = apply_body(env, &blen);
    /* field 99, varint 1: a field this ledger does not know */
    b[blen++] = (uint8_t)(0x98);
    b[blen++] = 0x06;
    b[blen++] = 0x01;
    size_t len;
    uint8_t *tx = sign_raw(&env->registrar, env->g->chain_id, b, blen, &len);
    free(b);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "body_unknown_field");
}

static void test_rule_body_noncanonical(void **state)
{
    lt_env *env = *state;
    size_t blen;
    uint8_t *b = apply_body(env, &blen);
    /* the body starts with field 1 (kind) = APPLY: 08 01.  Encode the same
     * value with a redundant varint byte: 08 81 00. */
    assert_int_equal(b[0], 0x08);
    assert_int_equal(b[1], 0x01);
    memmove(b + 3, b + 2, blen - 2);
    b[1] = 0x81;
    b[2] = 0x00;
    blen++;
    size_t len;
    uint8_t *tx = sign_raw(&env->registrar, env->g->chain_id, b, blen, &len);
    free(b);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "body_noncanonical");
}

static void test_rule_kind_unknown(void **state)
{
    lt_env *env = *state;
    Permit__TxBody b;
    uint8_t nonce[16];
    assert_int_equal(ledger_tx_body_init(&b, 99, env->now + LT_SEC, nonce), 0);
    b.license_id = "PL-320411-2025-000001";
    size_t len;
    uint8_t *tx = lt_sign(env, &env->registrar, &b, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "kind_unknown");
}

static void test_rule_payload_mismatch(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    /* an APPROVE carrying a Reason instead of a Decision */
    size_t len;
    Permit__TxBody b;
    Permit__Reason r = PERMIT__REASON__INIT;
    uint8_t nonce[16];
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__APPROVE, env->now + LT_SEC, nonce), 0);
    b.license_id = id;
    r.reason = "x";
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
    b.reason = &r;
    uint8_t *tx = lt_sign(env, lt_dept(env, LT_MARKET), &b, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "payload_mismatch");
}

static void test_rule_nonce_invalid(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    Permit__TxBody b;
    Permit__Reason r = PERMIT__REASON__INIT;
    uint8_t nonce[16];
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__CANCEL, env->now + LT_SEC, nonce), 0);
    b.nonce.len = 8;
    b.license_id = id;
    r.reason = "撤回";
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
    b.reason = &r;
    size_t len;
    uint8_t *tx = lt_sign(env, &env->registrar, &b, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "nonce_invalid");
}

static void test_rule_license_id_invalid(void **state)
{
    lt_env *env = *state;
    size_t len;
    uint8_t *tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__CANCEL, "", "x", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_id_invalid");
}

static void test_rule_signature_invalid(void **state)
{
    lt_env *env = *state;
    size_t len;
    uint8_t *tx = lt_apply(env, uscc(1), "convenience-store", 0, &len);
    tx[40] ^= 0x01; /* a forged signature */
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "signature_invalid");
    /* a valid signature, but for another chain */
    size_t blen;
    uint8_t *b = apply_body(env, &blen);
    tx = sign_raw(&env->registrar, "another-chain", b, blen, &len);
    free(b);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "signature_invalid");
}

static void test_rule_timestamp_window(void **state)
{
    lt_env *env = *state;
    lt_tick(env, 3 * 3600 * LT_SEC);
    Permit__TxBody b;
    Permit__Apply a = PERMIT__APPLY__INIT;
    Permit__Address ad = PERMIT__ADDRESS__INIT;
    uint8_t nonce[16];
    /* signed two hours before the block */
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__APPLY,
                                         env->now - 2 * 3600 * LT_SEC, nonce), 0);
    a.uscc = (char *)uscc(1);
    a.name = "店";
    a.legal_rep = "王五";
    a.industry = "convenience-store";
    ad.division = "320411";
    ad.text = "新北区1号";
    a.address = &ad;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_APPLY;
    b.apply = &a;
    size_t len;
    uint8_t *tx = lt_sign(env, &env->registrar, &b, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "timestamp_window");
    assert_non_null(strstr(g_last_msg, "before the block time"));
    /* and one from two hours in the future */
    b.timestamp_ms = env->now + 2 * 3600 * LT_SEC;
    tx = lt_sign(env, &env->registrar, &b, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "timestamp_window");
    char when[LEDGER_CST_TEXT];
    ledger_cst_text(b.timestamp_ms, when);
    if (strstr(g_last_msg, when) == NULL || strstr(g_last_msg, " s after the block time ") == NULL)
        fail_msg("timestamp_window says \"%s\"", g_last_msg);
}

static void test_rule_tx_duplicate(void **state)
{
    lt_env *env = *state;
    size_t len;
    uint8_t *tx = lt_apply(env, uscc(1), "convenience-store", 0, &len);
    ledger_err err;
    assert_int_equal(lt_run(env, 0, tx, len, NULL, &err), 0);
    /* replayed after commit */
    uint8_t *again = malloc(len);
    memcpy(again, tx, len);
    expect_refused(env, again, len, LEDGER_ERR_DUPLICATE, "tx_duplicate");
    /* twice in one block */
    uint8_t *tx2 = lt_apply(env, uscc(2), "convenience-store", 0, &len);
    ledger_block_ctx ctx = {.time = env->now + LT_SEC};
    ledger_exec *x;
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
    assert_int_equal(ledger_exec_tx(x, tx2, len, LEDGER_SIG_CHECK, NULL, &err), 0);
    assert_int_equal(ledger_exec_tx(x, tx2, len, LEDGER_SIG_CHECK, NULL, &err), -1);
    assert_string_equal(err.rule, "tx_duplicate");
    assert_int_equal(ledger_exec_count(x), 1);
    ledger_exec_free(x);
    free(tx);
    free(tx2);
}

/* ---------- who may sign ---------- */

static void test_rule_signer_not_registrar(void **state)
{
    lt_env *env = *state;
    size_t len;
    uint8_t *tx = lt_apply_full(env, lt_dept(env, LT_MARKET), uscc(1), "店", "王五",
                                "convenience-store", "320411", "新北区1号", 0, &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "signer_not_registrar");
    tx = lt_apply_full(env, &env->outsider, uscc(1), "店", "王五", "convenience-store", "320411",
                       "新北区1号", 0, &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "signer_not_registrar");
}

static void test_rule_signer_not_department(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    /* a registrar acting as a department */
    size_t len;
    uint8_t *tx = lt_decision(env, &env->registrar, PERMIT__TX_KIND__APPROVE, id, NULL, 0, NULL,
                              &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "signer_not_department");
    tx = lt_decision(env, &env->outsider, PERMIT__TX_KIND__APPROVE, id, NULL, 0, NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "signer_not_department");
    /* a validator's node key is not a seal key */
    tx = lt_decision(env, &env->node[LT_MARKET], PERMIT__TX_KIND__APPROVE, id, NULL, 0, NULL,
                     &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "signer_not_department");
}

static void test_rule_department_not_owner(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    size_t len;
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_FIRE), PERMIT__TX_KIND__APPROVE, id, NULL, 0,
                              NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "department_not_owner");
    /* naming another department's item */
    uint32_t tobacco_item = 1;
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, id, &tobacco_item, 1,
                     NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "department_not_owner");
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, id, NULL);
    decide(env, LT_TOBACCO, PERMIT__TX_KIND__APPROVE, id, NULL);
    tx = lt_reason_tx(env, lt_dept(env, LT_POLICE), PERMIT__TX_KIND__SUSPEND, id, "x", &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "department_not_owner");
    tx = lt_reason_tx(env, lt_dept(env, LT_HEALTH), PERMIT__TX_KIND__REVOKE, id, "x", &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "department_not_owner");
}

/* ---------- APPLY fields ---------- */

static void apply_expect(lt_env *env, const char *u, const char *name, const char *rep,
                         const char *industry, const char *division, const char *addr,
                         int commitment, const char *rule)
{
    size_t len;
    uint8_t *tx = lt_apply_full(env, &env->registrar, u, name, rep, industry, division, addr,
                                commitment, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, rule);
}

static void test_rule_uscc_invalid(void **state)
{
    lt_env *env = *state;
    char bad[19];
    lt_uscc(5, bad);
    bad[17] = bad[17] == '0' ? '1' : '0'; /* wrong check character */
    apply_expect(env, bad, "店", "王五", "convenience-store", "320411", "1号", 0, "uscc_invalid");
    apply_expect(env, "91350100M000100Y4", "店", "王五", "convenience-store", "320411", "1号", 0,
                 "uscc_invalid");
    /* the published example is accepted */
    size_t len;
    uint8_t *tx = lt_apply_full(env, &env->registrar, "91350100M000100Y43", "店", "王五",
                                "convenience-store", "320411", "1号", 0, &len);
    expect_ok(env, tx, len, NULL);
}

static void test_rule_name_and_legal_rep_required(void **state)
{
    lt_env *env = *state;
    apply_expect(env, uscc(1), "", "王五", "convenience-store", "320411", "1号", 0,
                 "name_required");
    apply_expect(env, uscc(1), "店", "", "convenience-store", "320411", "1号", 0,
                 "legal_rep_required");
}

static void test_rule_field_too_long(void **state)
{
    lt_env *env = *state;
    char name[LEDGER_MAX_NAME + 2];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    apply_expect(env, uscc(1), name, "王五", "convenience-store", "320411", "1号", 0,
                 "field_too_long");
}

static void test_rule_utf8_invalid(void **state)
{
    lt_env *env = *state;
    apply_expect(env, uscc(1), "店\xc0\x80", "王五", "convenience-store", "320411", "1号", 0,
                 "utf8_invalid");
    apply_expect(env, uscc(1), "店", "王\xed\xa0\x80", "convenience-store", "320411", "1号", 0,
                 "utf8_invalid");
    apply_expect(env, uscc(1), "店\n名", "王五", "convenience-store", "320411", "1号", 0,
                 "utf8_invalid");
}

static void test_rule_industry_unknown(void **state)
{
    lt_env *env = *state;
    apply_expect(env, uscc(1), "店", "王五", "casino", "320411", "1号", 0, "industry_unknown");
}

static void test_rule_commitment_not_allowed(void **state)
{
    lt_env *env = *state;
    apply_expect(env, uscc(1), "宾馆", "王五", "hotel", "320411", "1号", 1,
                 "commitment_not_allowed");
}

static void test_rule_address_required_and_division(void **state)
{
    lt_env *env = *state;
    apply_expect(env, uscc(1), "店", "王五", "convenience-store", "320411", "", 0,
                 "address_required");
    apply_expect(env, uscc(1), "店", "王五", "convenience-store", "32041", "1号", 0,
                 "division_invalid");
    apply_expect(env, uscc(1), "店", "王五", "convenience-store", "32041A", "1号", 0,
                 "division_invalid");
    apply_expect(env, uscc(1), "店", "王五", "convenience-store", "320412", "1号", 0,
                 "division_outside_region");
    apply_expect(env, uscc(1), "店", "王五", "convenience-store", "110101001", "1号", 0,
                 "division_outside_region");
}

static uint8_t *apply_with_documents(lt_env *env, size_t n, size_t doclen, size_t *len)
{
    Permit__TxBody b;
    Permit__Apply a = PERMIT__APPLY__INIT;
    Permit__Address ad = PERMIT__ADDRESS__INIT;
    uint8_t nonce[16];
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__APPLY, env->now + LT_SEC, nonce), 0);
    a.uscc = (char *)uscc(1);
    a.name = "店";
    a.legal_rep = "王五";
    a.industry = "convenience-store";
    ad.division = "320411";
    ad.text = "新北区1号";
    a.address = &ad;
    uint8_t hashbuf[32] = {1};
    ProtobufCBinaryData docs[20];
    for (size_t i = 0; i < n; i++) {
        docs[i].data = hashbuf;
        docs[i].len = doclen;
    }
    a.documents = docs;
    a.n_documents = n;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_APPLY;
    b.apply = &a;
    return lt_sign(env, &env->registrar, &b, len);
}

static void test_rule_documents(void **state)
{
    lt_env *env = *state;
    size_t len;
    uint8_t *tx = apply_with_documents(env, LEDGER_MAX_DOCUMENTS + 1, 32, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "documents_limit");
    tx = apply_with_documents(env, 2, 31, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "document_invalid");
    char id[80];
    tx = apply_with_documents(env, 3, 32, &len);
    expect_ok(env, tx, len, id);
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.n_documents, 3);
    assert_int_equal(l.documents[2][0], 1);
    ledger_license_clear(&l);
}

/* ---------- decisions ---------- */

static void test_rule_item_invalid(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    size_t len;
    uint32_t out_of_range = 5;
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, id,
                              &out_of_range, 1, NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "item_invalid");
    uint32_t twice[2] = {0, 0};
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, id, twice, 2, NULL,
                     &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "item_invalid");
}

static void test_rule_reason_required(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    size_t len;
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REJECT, id, NULL, 0,
                              "", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "reason_required");
    tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__CANCEL, id, "", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "reason_required");
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, id, NULL);
    decide(env, LT_TOBACCO, PERMIT__TX_KIND__APPROVE, id, NULL);
    tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__SUSPEND, id, "", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "reason_required");
    tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REVOKE, id, "", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "reason_required");
}

static void test_rule_license_not_found(void **state)
{
    lt_env *env = *state;
    size_t len;
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE,
                              "PL-320411-2025-999999", NULL, 0, NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_NOTFOUND, "license_not_found");
}

static void test_rule_license_not_pending_and_item_already_decided(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    decide(env, LT_MARKET, PERMIT__TX_KIND__APPROVE, id, NULL);
    size_t len;
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, id, NULL, 0,
                              NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "item_already_decided");
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REJECT, id, NULL, 0, "晚了",
                     &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "item_already_decided");
    decide(env, LT_TOBACCO, PERMIT__TX_KIND__APPROVE, id, NULL);
    tx = lt_decision(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, id, NULL, 0, NULL,
                     &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_pending");
}

static void test_rule_verify_only_unverified_and_once(void **state)
{
    lt_env *env = *state;
    char a[80], b[80];
    apply(env, NULL, 0, 1, a);
    size_t len;
    uint8_t *tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__VERIFY, a, NULL, 0,
                              NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_unverified");
    apply(env, NULL, 1, 2, b);
    decide(env, LT_MARKET, PERMIT__TX_KIND__VERIFY, b, NULL);
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__VERIFY, b, NULL, 0, NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "already_verified");
    /* APPROVE is for the ordinary route only */
    tx = lt_decision(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, b, NULL, 0, NULL,
                     &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_pending");
}

/* ---------- addresses ---------- */

static void test_rule_address_rules(void **state)
{
    lt_env *env = *state;
    char pending[80], id[80];
    apply(env, NULL, 0, 1, pending);
    size_t len;
    uint8_t *tx = lt_add_address(env, &env->registrar, pending, "320411", "新北区2号", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_active");
    issued(env, 2, id);
    tx = lt_add_address(env, &env->registrar, id, "320411", "常州市新北区太湖东路101号", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "address_duplicate");
    tx = lt_add_address(env, &env->registrar, id, "320412", "武进区1号", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "division_outside_region");
    tx = lt_add_address(env, &env->registrar, id, "320411", "", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "address_required");
    /* max_addresses is 4 in the test genesis, the primary included */
    for (int i = 0; i < 3; i++) {
        char text[64];
        snprintf(text, sizeof text, "新北区分店%d号", i);
        tx = lt_add_address(env, &env->registrar, id, "320411", text, &len);
        expect_ok(env, tx, len, NULL);
    }
    tx = lt_add_address(env, &env->registrar, id, "320411", "新北区分店9号", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "address_limit");
    tx = lt_remove_address(env, &env->registrar, id, 1, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "address_primary");
    tx = lt_remove_address(env, &env->registrar, id, 42, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "address_not_found");
    /* a department cannot file addresses */
    tx = lt_add_address(env, lt_dept(env, LT_MARKET), id, "320411", "新北区3号", &len);
    expect_refused(env, tx, len, LEDGER_ERR_UNAUTHORIZED, "signer_not_registrar");
}

/* ---------- amend ---------- */

static void test_rule_amend_empty_and_unchanged(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    size_t len;
    uint8_t *tx = lt_amend(env, &env->registrar, id, NULL, NULL, NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "amend_empty");
    tx = lt_amend(env, &env->registrar, id, "常州新北便利超市有限公司", NULL, NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "amend_unchanged");
    tx = lt_amend(env, &env->registrar, id, "", NULL, NULL, &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "name_required");
    /* scope may be cleared */
    tx = lt_amend(env, &env->registrar, id, NULL, NULL, "", &len);
    expect_ok(env, tx, len, NULL);
}

/* ---------- status rules ---------- */

static void test_rule_status_rules(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, NULL, 0, 1, id);
    size_t len;
    uint8_t *tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__SUSPEND, id, "x", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_issued");
    tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__RESUME, id, "x", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_suspended");
    tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REVOKE, id, "x", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_revocable");
    tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_refused(env, tx, len, LEDGER_ERR_RULE, "license_not_active");
}

/* ---------- blocks ---------- */

static void small_blocks(json_t *root)
{
    json_object_set_new(json_object_get(root, "params"), "max_block_txs", json_integer(2));
}

static void test_rule_block_full(void **state)
{
    (void)state;
    lt_env env;
    lt_setup(&env, small_blocks);
    ledger_block_ctx ctx = {.time = env.now + LT_SEC};
    ledger_exec *x;
    ledger_err err;
    assert_int_equal(ledger_exec_begin(env.L, &ctx, &x, &err), 0);
    for (uint32_t i = 0; i < 3; i++) {
        size_t len;
        uint8_t *tx = lt_apply(&env, uscc(i + 1), "convenience-store", 0, &len);
        int r = ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, NULL, &err);
        free(tx);
        if (i < 2) {
            assert_int_equal(r, 0);
        } else {
            assert_int_equal(r, -1);
            assert_string_equal(err.rule, "block_full");
        }
    }
    ledger_exec_free(x);
    lt_teardown(&env);
}

static void test_rule_block_time_increases(void **state)
{
    lt_env *env = *state;
    lt_tick(env, LT_SEC);
    ledger_block_ctx ctx = {.time = env->now};
    ledger_exec *x = NULL;
    ledger_err err;
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), -1);
    assert_string_equal(err.rule, "block_time");
    assert_null(x);
}

static void test_refused_tx_leaves_block_usable(void **state)
{
    lt_env *env = *state;
    ledger_block_ctx ctx = {.time = env->now + LT_SEC};
    ledger_exec *x;
    ledger_err err;
    ledger_tx_result res;
    size_t len;
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
    uint8_t *a = lt_apply(env, uscc(1), "convenience-store", 0, &len);
    assert_int_equal(ledger_exec_tx(x, a, len, LEDGER_SIG_CHECK, &res, &err), 0);
    free(a);
    /* approve in the same block: it sees the pending license */
    uint8_t *ap = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE,
                              res.license_id, NULL, 0, NULL, &len);
    assert_int_equal(ledger_exec_tx(x, ap, len, LEDGER_SIG_CHECK, NULL, &err), 0);
    /* the same department again: refused, and nothing changes */
    uint8_t *ap2 = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE,
                               res.license_id, NULL, 0, NULL, &len);
    assert_int_equal(ledger_exec_tx(x, ap2, len, LEDGER_SIG_CHECK, NULL, &err), -1);
    assert_string_equal(err.rule, "item_already_decided");
    uint8_t *ap3 = lt_decision(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE,
                               res.license_id, NULL, 0, NULL, &len);
    assert_int_equal(ledger_exec_tx(x, ap3, len, LEDGER_SIG_CHECK, NULL, &err), 0);
    ledger_header h;
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
    ledger_exec_free(x);
    env->now = ctx.time;
    assert_int_equal(h.log_size, 3);
    assert_int_equal(status_now(env, res.license_id), LIC_ISSUED);
    ledger_license l;
    lt_get(env, res.license_id, &l);
    assert_int_equal(l.seq, 2);
    ledger_license_clear(&l);
    /* the refused one is not stored */
    ledger_tx tx2;
    assert_int_equal(ledger_tx_decode(&tx2, ap2, len, env->g->chain_id, &err), 0);
    assert_int_equal(ledger_get_tx(env->L, tx2.id, NULL, NULL, NULL, NULL, &err), 0);
    ledger_tx_release(&tx2);
    free(ap);
    free(ap2);
    free(ap3);
    assert_int_equal(ledger_check_integrity(env->L, &err), 0);
}

static void test_header_roots_and_reopen(void **state)
{
    lt_env *env = *state;
    char id[80];
    issued(env, 1, id);
    ledger_tip tip;
    ledger_get_tip(env->L, &tip);
    assert_int_equal(tip.height, 3);
    assert_int_equal(tip.header.log_size, 3);
    /* the log root is the RFC 6962 root of the three events */
    ledger_event_rec *evs;
    size_t n;
    ledger_err err;
    assert_int_equal(ledger_get_events(env->L, id, &evs, &n, &err), 1);
    uint8_t leaves[3][32], root[32];
    for (size_t i = 0; i < 3; i++)
        memcpy(leaves[i], evs[i].hash, 32);
    free(evs);
    ledger_merkle_root_of_leaves((const uint8_t(*)[32])leaves, 3, root);
    assert_memory_equal(root, tip.header.log_root, 32);
    /* tx_root of block 3 is the root over its one envelope */
    uint8_t(*ids)[32];
    ledger_header h;
    assert_int_equal(ledger_get_block(env->L, 3, &h, NULL, NULL, &ids, &n, &err), 1);
    assert_int_equal(n, 1);
    uint8_t *envl;
    size_t elen;
    assert_int_equal(ledger_get_tx(env->L, ids[0], &envl, &elen, NULL, NULL, &err), 1);
    uint8_t leaf[32];
    ledger_merkle_leaf_hash(envl, elen, leaf);
    assert_memory_equal(leaf, h.tx_root, 32);
    free(envl);
    free(ids);
    /* reopening resumes at the same tip */
    lt_reopen(env);
    ledger_tip again;
    ledger_get_tip(env->L, &again);
    assert_int_equal(again.height, 3);
    assert_memory_equal(again.hash, tip.hash, 32);
    assert_int_equal(ledger_check_integrity(env->L, &err), 0);
    /* and goes on */
    issued(env, 2, id);
    assert_int_equal(ledger_height(env->L), 6);
    assert_string_equal(id, "PL-320411-2025-000002");
}

static void other_chain(json_t *root)
{
    json_object_set_new(root, "chain_id", json_string("permit-other"));
}

static void test_database_of_another_chain_is_refused(void **state)
{
    lt_env *env = *state;
    lt_tick(env, LT_SEC);
    lt_env other;
    memset(&other, 0, sizeof other);
    for (int d = 0; d < LT_NDEPT; d++) {
        other.dept[d] = env->dept[d];
        other.node[d] = env->node[d];
    }
    other.registrar = env->registrar;
    char *json = lt_genesis_json(&other, other_chain);
    ledger_genesis *g2;
    ledger_err err;
    assert_int_equal(ledger_genesis_parse(json, strlen(json), &g2, &err), 0);
    char db[512];
    snprintf(db, sizeof db, "%s/db", env->dir);
    ledger_close(env->L);
    env->L = NULL;
    ledger *L2 = NULL;
    assert_int_equal(ledger_open(&L2, db, g2, &err), -1);
    assert_non_null(strstr(err.msg, "another genesis"));
    ledger_genesis_free(g2);
    free(json);
    lt_reopen(env);
}

/* A database written by a newer release (db_format above what this one
 * reads) is refused with a message, not misread; an older one, or one from
 * before the record, is marked with this release's format when opened. */
static uint64_t db_format(lt_env *env)
{
    ledger_err err;
    uint8_t *v = NULL;
    size_t n = 0;
    assert_int_equal(ledger_store_get(ledger_store_of(env->L), CF_META, "db_format", 9, &v, &n,
                                      &err),
                     1);
    assert_int_equal(n, 8);
    uint64_t f = ledger_rd_be64(v);
    free(v);
    return f;
}

static void put_format(ledger_store *st, uint64_t f)
{
    ledger_err err;
    uint8_t v[8];
    ledger_be64(v, f);
    ledger_batch *b = ledger_batch_new(st);
    if (f == 0)
        ledger_batch_delete(b, CF_META, "db_format", 9);
    else
        ledger_batch_put(b, CF_META, "db_format", 9, v, 8);
    assert_int_equal(ledger_store_write(st, b, 1, &err), 0);
    ledger_batch_free(b);
}

static void test_database_of_a_newer_format_is_refused(void **state)
{
    lt_env *env = *state;
    lt_tick(env, LT_SEC);
    assert_int_equal(db_format(env), LEDGER_DB_FORMAT);
    /* from before the record, and from the release before: marked */
    put_format(ledger_store_of(env->L), 0);
    lt_reopen(env);
    assert_int_equal(db_format(env), LEDGER_DB_FORMAT);
    put_format(ledger_store_of(env->L), LEDGER_DB_FORMAT - 1);
    lt_reopen(env);
    assert_int_equal(db_format(env), LEDGER_DB_FORMAT);
    /* from a newer release */
    put_format(ledger_store_of(env->L), LEDGER_DB_FORMAT + 1);
    char db[512], want[80];
    snprintf(db, sizeof db, "%s/db", env->dir);
    ledger_close(env->L);
    env->L = NULL;
    ledger *L2 = NULL;
    ledger_err err;
    assert_int_equal(ledger_open(&L2, db, env->g, &err), -1);
    snprintf(want, sizeof want, "has format %d, newer than this release reads",
             LEDGER_DB_FORMAT + 1);
    assert_non_null(strstr(err.msg, want));
    /* put it back for the teardown */
    ledger_store *raw = NULL;
    assert_int_equal(ledger_store_open(&raw, db, &err), 0);
    put_format(raw, LEDGER_DB_FORMAT);
    ledger_store_close(raw);
    lt_reopen(env);
}

static void test_year_of_block_time_uses_china_standard_time(void **state)
{
    (void)state;
    /* 2025-12-31T16:00:00Z is 2026-01-01 00:00 in Beijing */
    assert_int_equal(ledger_year_of(1767196800000ULL - 1), 2025);
    assert_int_equal(ledger_year_of(1767196800000ULL), 2026);
    assert_int_equal(ledger_year_of(0), 1970);
    assert_int_equal(ledger_year_of(951782400000ULL), 2000); /* 2000-02-29 */
}

static void test_license_record_codec_refuses_corruption(void **state)
{
    lt_env *env = *state;
    char id[80];
    issued(env, 1, id);
    uint8_t *rec;
    size_t n;
    ledger_err err;
    assert_int_equal(ledger_get_license_bytes(env->L, id, &rec, &n, &err), 1);
    ledger_license l;
    assert_int_equal(ledger_license_decode(&l, rec, n, &err), 0);
    uint8_t *again;
    size_t n2;
    assert_int_equal(ledger_license_encode(&l, &again, &n2, &err), 0);
    assert_int_equal(n, n2);
    assert_memory_equal(rec, again, n); /* canonical: decode then encode is the identity */
    free(again);
    ledger_license_clear(&l);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(ledger_license_decode(&l, rec, cut, &err), -1);
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, rec, n);
    longer[n] = 0;
    assert_int_equal(ledger_license_decode(&l, longer, n + 1, &err), -1);
    free(longer);
    free(rec);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_apply_creates_pending_license_with_chained_event),
        T(test_last_approval_issues_license),
        T(test_one_rejection_rejects_and_is_final),
        T(test_commitment_route_issues_at_once_then_verifies),
        T(test_false_commitment_is_revoked),
        T(test_suspend_and_resume_by_the_suspending_department),
        T(test_cancel_pending_and_issued),
        T(test_expiry_is_derived_from_block_time),
        T(test_renewal_window_and_grace_period),
        T(test_department_with_several_items_decides_them_together_or_singly),
        T(test_addresses_filed_and_removed),
        T(test_amend_keeps_history),
        T(test_rule_envelope_malformed),
        T(test_rule_tx_too_large),
        T(test_rule_body_malformed),
        T(test_rule_body_unknown_field),
        T(test_rule_body_noncanonical),
        T(test_rule_kind_unknown),
        T(test_rule_payload_mismatch),
        T(test_rule_nonce_invalid),
        T(test_rule_license_id_invalid),
        T(test_rule_signature_invalid),
        T(test_rule_timestamp_window),
        T(test_rule_tx_duplicate),
        T(test_rule_signer_not_registrar),
        T(test_rule_signer_not_department),
        T(test_rule_department_not_owner),
        T(test_rule_uscc_invalid),
        T(test_rule_name_and_legal_rep_required),
        T(test_rule_field_too_long),
        T(test_rule_utf8_invalid),
        T(test_rule_industry_unknown),
        T(test_rule_commitment_not_allowed),
        T(test_rule_address_required_and_division),
        T(test_rule_documents),
        T(test_rule_item_invalid),
        T(test_rule_reason_required),
        T(test_rule_license_not_found),
        T(test_rule_license_not_pending_and_item_already_decided),
        T(test_rule_verify_only_unverified_and_once),
        T(test_rule_address_rules),
        T(test_rule_amend_empty_and_unchanged),
        T(test_rule_status_rules),
        cmocka_unit_test(test_rule_block_full),
        T(test_rule_block_time_increases),
        T(test_refused_tx_leaves_block_usable),
        T(test_header_roots_and_reopen),
        T(test_database_of_another_chain_is_refused),
        T(test_database_of_a_newer_format_is_refused),
        cmocka_unit_test(test_year_of_block_time_uses_china_standard_time),
        T(test_license_record_codec_refuses_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
