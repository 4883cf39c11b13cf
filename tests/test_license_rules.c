/* License rules of issue 13: OVERDUE (DESIGN §2, rule license_overdue),
 * one non-final license per USCC and industry (license_duplicate), the
 * bound on a license's history (license_events_full), VERIFY evidence
 * (evidence_invalid), and the holder: the pledge of a commitment APPLY
 * (pledge_required, pledge_invalid), SET_HOLDER_KEY (holder_key_invalid)
 * and RENEW signed by the holder key (signer_not_holder), and 秒批: the rule
 * instant (instant_banned, instant_not_commitment, instant_no_pledge,
 * uscc_revocations_full) and its replay by the audit.  Each test breaks its rule and checks the error
 * names it; the state each rule protects is checked after the refusal. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/audit.h"
#include "ledger/bundle.h"
#include "ledger/hash.h"
#include "ledger/instant.h"
#include "ledger/license.h"
#include "ledger/limits.h"
#include "ledger/query.h"
#include "ledger/rules.h"
#include "ledger/smt.h"
#include "ledger/tx.h"
#include "ledgertest.h"

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

static const char *uscc(uint32_t n, char buf[19])
{
    lt_uscc(n, buf);
    return buf;
}

static void expect_refused(lt_env *env, uint8_t *tx, size_t len, const char *rule)
{
    ledger_err err;
    memset(&err, 0, sizeof err);
    uint64_t h = ledger_height(env->L);
    int r = lt_run_free(env, 0, tx, len, NULL, &err);
    if (r == 0)
        fail_msg("expected refusal by rule %s, but the transaction was accepted", rule);
    if (err.rule == NULL || strcmp(err.rule, rule) != 0)
        fail_msg("expected rule %s, got %s (%s)", rule, err.rule ? err.rule : "(none)", err.msg);
    assert_int_equal(err.code, LEDGER_ERR_RULE);
    assert_int_equal(ledger_height(env->L), h);
}

static void expect_ok(lt_env *env, uint8_t *tx, size_t len, char *id)
{
    ledger_err err;
    if (lt_run_free(env, 0, tx, len, id, &err) != 0)
        fail_msg("refused: rule %s: %s", err.rule ? err.rule : "-", err.msg);
}

static void apply(lt_env *env, uint32_t n, const char *industry, int commitment, char *id)
{
    char u[19];
    size_t len;
    uint8_t *tx = lt_apply(env, uscc(n, u), industry, commitment, &len);
    expect_ok(env, tx, len, id);
}

static uint8_t *verify_tx(lt_env *env, int dept, const char *id, size_t *len)
{
    return lt_decision(env, lt_dept(env, dept), PERMIT__TX_KIND__VERIFY, id, NULL, 0, NULL, len);
}

static int status_now(lt_env *env, const char *id)
{
    ledger_license l;
    lt_get(env, id, &l);
    int s = ledger_license_status_at(&l, env->now);
    ledger_license_clear(&l);
    return s;
}

/* license.overdue as the RPC asks it */
static int overdue_listed(lt_env *env, const char *id)
{
    ledger_query q = {.kind = LEDGER_Q_OVERDUE, .now = env->now};
    ledger_query_result res;
    ledger_err err;
    if (ledger_query_run(env->L, &q, &res, &err) != 0)
        fail_msg("query: %s", err.msg);
    int found = 0;
    for (size_t i = 0; i < res.n; i++) {
        assert_int_equal(ledger_license_status_at(&res.items[i], env->now), LIC_OVERDUE);
        found |= strcmp(res.items[i].id, id) == 0;
    }
    ledger_query_result_free(&res);
    return found;
}

/* ---------- OVERDUE ---------- */

/* The issue's report: an overdue, never-verified license was renewed and
 * stayed ISSUED_UNVERIFIED.  kiosk: validity 60 s, verify within 20 s,
 * renewal window 30 s before expiry. */
static void test_rule_license_overdue_refuses_renewal(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 1, "kiosk", 1, id);
    lt_tick(env, 34 * LT_SEC); /* 35 s after issue: past the deadline, inside the window */
    assert_int_equal(status_now(env, id), LIC_OVERDUE);
    size_t len;
    uint8_t *tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_refused(env, tx, len, "license_overdue");
    ledger_license l;
    lt_get(env, id, &l);
    uint64_t expires = l.expires_at;
    assert_int_equal(l.status, LIC_ISSUED_UNVERIFIED);
    ledger_license_clear(&l);

    /* nor amended, nor given or relieved of addresses */
    tx = lt_amend(env, &env->registrar, id, "新名称便利店", NULL, NULL, &len);
    expect_refused(env, tx, len, "license_overdue");
    tx = lt_add_address(env, &env->registrar, id, "320411", "新北区分店1号", &len);
    expect_refused(env, tx, len, "license_overdue");
    tx = lt_remove_address(env, &env->registrar, id, 1, &len);
    expect_refused(env, tx, len, "license_overdue");

    /* listed as overdue; the verification clears it and the renewal goes through */
    assert_true(overdue_listed(env, id));
    tx = verify_tx(env, LT_MARKET, id, &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, id), LIC_ISSUED);
    assert_false(overdue_listed(env, id));
    tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_ok(env, tx, len, NULL);
    lt_get(env, id, &l);
    assert_true(l.expires_at > expires);
    ledger_license_clear(&l);
}

/* Before its deadline the same license renews, amends and files addresses. */
static void test_overdue_is_derived_from_block_time(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 2, "kiosk", 1, id);
    assert_int_equal(status_now(env, id), LIC_ISSUED_UNVERIFIED);
    assert_false(overdue_listed(env, id));
    size_t len;
    uint8_t *tx = lt_amend(env, &env->registrar, id, "新名称便利店", NULL, NULL, &len);
    expect_ok(env, tx, len, NULL); /* 1 s after issue */
    lt_tick(env, 16 * LT_SEC);     /* 17 s after issue */
    assert_int_equal(status_now(env, id), LIC_ISSUED_UNVERIFIED);
    tx = lt_add_address(env, &env->registrar, id, "320411", "新北区分店2号", &len);
    expect_ok(env, tx, len, NULL); /* 18 s */
    assert_int_equal(status_now(env, id), LIC_ISSUED_UNVERIFIED);
    lt_tick(env, LT_SEC);          /* 19 s: one second before the deadline */
    assert_int_equal(status_now(env, id), LIC_ISSUED_UNVERIFIED);
    lt_tick(env, LT_SEC);          /* 20 s: the deadline itself */
    assert_int_equal(status_now(env, id), LIC_OVERDUE);
    tx = lt_add_address(env, &env->registrar, id, "320411", "新北区分店3号", &len);
    expect_refused(env, tx, len, "license_overdue");
    assert_true(overdue_listed(env, id));
    /* searching by status finds it under OVERDUE, not ISSUED_UNVERIFIED */
    ledger_query q = {.kind = LEDGER_Q_SEARCH, .status = LIC_OVERDUE, .now = env->now};
    ledger_query_result res;
    ledger_err err;
    assert_int_equal(ledger_query_run(env->L, &q, &res, &err), 0);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.items[0].id, id);
    ledger_query_result_free(&res);
    q.status = LIC_ISSUED_UNVERIFIED;
    assert_int_equal(ledger_query_run(env->L, &q, &res, &err), 0);
    assert_int_equal(res.n, 0);
    ledger_query_result_free(&res);
    assert_int_equal(ledger_status_parse("OVERDUE"), LIC_OVERDUE);
    assert_string_equal(ledger_status_name(LIC_OVERDUE), "OVERDUE");
}

/* Expired within the grace period, an unverified license past its deadline
 * still cannot be renewed (the renewal would carry the unverified commitment
 * into a new term), and an expired license is not verified any more
 * (license_not_unverified, as before): the holder applies anew. */
static void test_rule_license_overdue_expired_in_grace(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 3, "kiosk", 1, id);
    lt_tick(env, 64 * LT_SEC); /* 65 s: expired 5 s ago, grace 30 s */
    assert_int_equal(status_now(env, id), LIC_EXPIRED);
    size_t len;
    uint8_t *tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_refused(env, tx, len, "license_overdue");
    tx = verify_tx(env, LT_MARKET, id, &len);
    expect_refused(env, tx, len, "license_not_unverified");
    assert_false(overdue_listed(env, id)); /* EXPIRED, not OVERDUE */
    /* the same license verified in time renews in its grace period */
    char ok[80];
    apply(env, 6, "kiosk", 1, ok);
    tx = verify_tx(env, LT_MARKET, ok, &len);
    expect_ok(env, tx, len, NULL);
    lt_tick(env, 62 * LT_SEC);
    assert_int_equal(status_now(env, ok), LIC_EXPIRED);
    tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__RENEW, ok, "", &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, ok), LIC_ISSUED);
}

/* Partial verification leaves it overdue; the last department's clears it;
 * SUSPEND still needs ISSUED. */
static void test_overdue_until_every_department_verified(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 4, "convenience-store", 1, id); /* market and tobacco, 30 days */
    lt_tick(env, 31 * LT_DAY);
    assert_int_equal(status_now(env, id), LIC_OVERDUE);
    size_t len;
    uint8_t *tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__SUSPEND, id,
                               "抽查", &len);
    expect_refused(env, tx, len, "license_not_issued");
    tx = verify_tx(env, LT_MARKET, id, &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, id), LIC_OVERDUE);
    tx = lt_amend(env, &env->registrar, id, "新名称便利店", NULL, NULL, &len);
    expect_refused(env, tx, len, "license_overdue");
    tx = verify_tx(env, LT_TOBACCO, id, &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, id), LIC_ISSUED);
    tx = lt_amend(env, &env->registrar, id, "新名称便利店", NULL, NULL, &len);
    expect_ok(env, tx, len, NULL);
}

/* REVOKE ends it: REVOKED, no longer listed. */
static void test_overdue_revoked(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 5, "kiosk", 1, id);
    lt_tick(env, 25 * LT_SEC);
    assert_true(overdue_listed(env, id));
    size_t len;
    uint8_t *tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REVOKE, id,
                               "逾期未核查", &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, id), LIC_REVOKED);
    assert_false(overdue_listed(env, id));
}

/* ---------- license_duplicate ---------- */

static void test_rule_license_duplicate(void **state)
{
    lt_env *env = *state;
    char a[80], b[80], c[80], u[19];
    size_t len;
    apply(env, 10, "convenience-store", 0, a); /* PENDING counts */
    uint8_t *tx = lt_apply(env, uscc(10, u), "convenience-store", 1, &len);
    expect_refused(env, tx, len, "license_duplicate");
    /* refused at admission too, before it reaches a block */
    tx = lt_apply(env, uscc(10, u), "convenience-store", 0, &len);
    ledger_tx dtx;
    int dept;
    ledger_err err;
    assert_int_equal(ledger_admit(env->L, tx, len, env->now, 0, &dtx, &dept, &err), -1);
    assert_non_null(err.rule);
    assert_string_equal(err.rule, "license_duplicate");
    ledger_tx_release(&dtx);
    free(tx);
    /* another industry, or another USCC, is not a duplicate */
    apply(env, 10, "hotel", 0, b);
    apply(env, 11, "convenience-store", 0, c);
    /* once the first is final (rejected), the USCC may apply again */
    tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REJECT, a, NULL, 0,
                     "材料不全", &len);
    expect_ok(env, tx, len, NULL);
    char d[80];
    apply(env, 10, "convenience-store", 1, d);
    /* an issued one (verified) counts as well; a cancelled one does not */
    tx = lt_apply(env, uscc(10, u), "convenience-store", 1, &len);
    expect_refused(env, tx, len, "license_duplicate");
    tx = lt_reason_tx(env, &env->registrar, PERMIT__TX_KIND__CANCEL, d, "歇业", &len);
    expect_ok(env, tx, len, NULL);
    apply(env, 10, "convenience-store", 1, d);
}

/* Two APPLYs of one USCC and industry in the same block: the second is
 * refused (the first is not yet in the store's index). */
static void test_rule_license_duplicate_in_one_block(void **state)
{
    lt_env *env = *state;
    char u[19];
    size_t l1, l2, l3;
    uint8_t *t1 = lt_apply(env, uscc(20, u), "bakery", 1, &l1);
    uint8_t *t2 = lt_apply(env, uscc(20, u), "bakery", 0, &l2);
    uint8_t *t3 = lt_apply(env, uscc(20, u), "kiosk", 1, &l3);
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = env->now + LT_SEC;
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x = NULL;
    ledger_err err;
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
    ledger_tx_result res;
    assert_int_equal(ledger_exec_tx(x, t1, l1, LEDGER_SIG_CHECK, &res, &err), 0);
    assert_int_equal(ledger_exec_tx(x, t2, l2, LEDGER_SIG_CHECK, &res, &err), -1);
    assert_string_equal(err.rule, "license_duplicate");
    assert_int_equal(ledger_exec_tx(x, t3, l3, LEDGER_SIG_CHECK, &res, &err), 0);
    /* the block's latest license of the USCC is the kiosk; the bakery is
     * found behind it */
    size_t l4;
    uint8_t *t4 = lt_apply(env, uscc(20, u), "bakery", 0, &l4);
    assert_int_equal(ledger_exec_tx(x, t4, l4, LEDGER_SIG_CHECK, &res, &err), -1);
    assert_string_equal(err.rule, "license_duplicate");
    free(t4);
    /* another USCC in the same block is no duplicate */
    t4 = lt_apply(env, uscc(21, u), "bakery", 0, &l4);
    assert_int_equal(ledger_exec_tx(x, t4, l4, LEDGER_SIG_CHECK, &res, &err), 0);
    free(t4);
    ledger_header h;
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
    ledger_exec_free(x);
    env->now = ctx.time;
    free(t1);
    free(t2);
    free(t3);
    /* and in the next block, against the committed index */
    t2 = lt_apply(env, uscc(20, u), "bakery", 1, &l2);
    expect_refused(env, t2, l2, "license_duplicate");
}

/* ---------- license_events_full ---------- */

/* Run txs in blocks of up to 200 envelopes; each must be accepted. */
static void run_blocks(lt_env *env, uint8_t **txs, size_t *lens, size_t n)
{
    for (size_t i = 0; i < n;) {
        ledger_block_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        ctx.time = env->now + LT_SEC;
        memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
        ledger_exec *x = NULL;
        ledger_err err;
        assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
        for (size_t k = 0; k < 200 && i < n; k++, i++)
            if (ledger_exec_tx(x, txs[i], lens[i], LEDGER_SIG_CHECK, NULL, &err) != 0)
                fail_msg("tx %zu refused: %s: %s", i, err.rule ? err.rule : "-", err.msg);
        ledger_header h;
        assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
        assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
        ledger_exec_free(x);
        env->now = ctx.time;
    }
}

static void test_rule_license_events_full(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 30, "convenience-store", 1, id); /* seq 0 */
    /* AMENDs with the largest scope a body allows, the history's worst case */
    size_t n = LEDGER_LICENSE_FILINGS_MAX - 1; /* events 1 .. 959 */
    uint8_t **txs = calloc(n, sizeof *txs);
    size_t *lens = calloc(n, sizeof *lens);
    char *scope = malloc(LEDGER_MAX_SCOPE + 1);
    assert_non_null(txs);
    assert_non_null(lens);
    assert_non_null(scope);
    for (size_t i = 0; i < n; i++) {
        memset(scope, 'a' + (int)(i % 2), LEDGER_MAX_SCOPE);
        scope[LEDGER_MAX_SCOPE] = '\0';
        txs[i] = lt_amend(env, &env->registrar, id, NULL, NULL, scope, &lens[i]);
    }
    run_blocks(env, txs, lens, n);
    for (size_t i = 0; i < n; i++)
        free(txs[i]);
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.seq, LEDGER_LICENSE_FILINGS_MAX - 1);
    ledger_license_clear(&l);

    /* the 960th event may not be a filing ... */
    size_t len;
    memset(scope, 'c', LEDGER_MAX_SCOPE);
    uint8_t *tx = lt_amend(env, &env->registrar, id, NULL, NULL, scope, &len);
    expect_refused(env, tx, len, "license_events_full");
    tx = lt_add_address(env, &env->registrar, id, "320411", "新北区分店3号", &len);
    expect_refused(env, tx, len, "license_events_full");
    /* ... refused at admission as well ... */
    tx = lt_amend(env, &env->registrar, id, NULL, NULL, scope, &len);
    ledger_tx dtx;
    int dept;
    ledger_err err;
    assert_int_equal(ledger_admit(env->L, tx, len, env->now, 0, &dtx, &dept, &err), -1);
    assert_string_equal(err.rule, "license_events_full");
    ledger_tx_release(&dtx);
    free(tx);
    /* ... but the departments' decisions and the end of the license still go in */
    tx = verify_tx(env, LT_MARKET, id, &len);
    expect_ok(env, tx, len, NULL);
    tx = verify_tx(env, LT_TOBACCO, id, &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, id), LIC_ISSUED);
    tx = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REVOKE, id, "违法经营",
                      &len);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, id), LIC_REVOKED);

    /* the hard bound: 1024 events, whatever the kind (checked on a record
     * with that many, as the ledger's check sees it) */
    lt_get(env, id, &l);
    l.status = LIC_ISSUED;
    l.seq = LEDGER_MAX_LICENSE_EVENTS - 2;
    assert_int_equal(ledger_rules_check_events(&l, PERMIT__TX_KIND__REVOKE, &err), 0);
    l.seq = LEDGER_MAX_LICENSE_EVENTS - 1;
    assert_int_equal(ledger_rules_check_events(&l, PERMIT__TX_KIND__REVOKE, &err), -1);
    assert_int_equal(ledger_rules_check_events(&l, PERMIT__TX_KIND__RENEW, &err), -1);
    ledger_license_clear(&l);
    free(scope);
    free(txs);
    free(lens);
}

/* A bundle past 16 MiB is its own error, naming the rule (license.proof
 * answers 1002 with it, the CLI exits 2 instead of 3). */
static void test_bundle_too_large_names_its_rule(void **state)
{
    (void)state;
    size_t n = 1100;
    static uint8_t tx[LEDGER_MAX_ENVELOPE], ev[LEDGER_EVENT_MAX_BYTES];
    ledger_bundle b;
    memset(&b, 0, sizeof b);
    b.version = 1;
    snprintf(b.license_id, sizeof b.license_id, "PL-320411-2025-000001");
    b.events = calloc(n, sizeof *b.events);
    assert_non_null(b.events);
    b.n_events = n;
    for (size_t i = 0; i < n; i++) {
        b.events[i].event = ev;
        b.events[i].event_len = sizeof ev;
        b.events[i].tx = tx;
        b.events[i].tx_len = sizeof tx;
    }
    uint8_t *out = NULL;
    size_t len = 0;
    ledger_err err;
    assert_int_equal(ledger_bundle_encode(&b, &out, &len, &err), -1);
    assert_null(out);
    assert_non_null(err.rule);
    assert_string_equal(err.rule, "bundle_too_large");
    assert_non_null(strstr(err.msg, "PL-320411-2025-000001"));
    /* the same bundle a third the size encodes */
    b.n_events = n / 3;
    assert_int_equal(ledger_bundle_encode(&b, &out, &len, &err), 0);
    assert_true(len < LEDGER_MAX_BUNDLE_BYTES);
    free(out);
    free(b.events);
}

/* ---------- VERIFY evidence ---------- */

static uint8_t g_nonce[LEDGER_NONCE_LEN];

static uint8_t *evidence_tx(lt_env *env, int kind, const char *id, const char *method,
                            size_t hash_len, const char *note, size_t *len)
{
    static uint8_t hash[40];
    memset(hash, 0xab, sizeof hash);
    Permit__TxBody b;
    assert_int_equal(ledger_tx_body_init(&b, kind, env->now + LT_SEC, g_nonce), 0);
    Permit__Decision d = PERMIT__DECISION__INIT;
    Permit__Evidence ev = PERMIT__EVIDENCE__INIT;
    ev.method = (char *)method;
    ev.sha256.data = hash;
    ev.sha256.len = hash_len;
    ev.note = (char *)note;
    d.reason = "";
    d.evidence = &ev;
    b.license_id = (char *)id;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_DECISION;
    b.decision = &d;
    return lt_sign(env, lt_dept(env, LT_MARKET), &b, len);
}

static void test_rule_evidence_invalid(void **state)
{
    lt_env *env = *state;
    char id[80], pend[80];
    apply(env, 40, "bakery", 1, id); /* both items market's */
    apply(env, 41, "bakery", 0, pend);
    size_t len;
    uint8_t *tx = evidence_tx(env, PERMIT__TX_KIND__VERIFY, id, "phone_call", 32, "", &len);
    expect_refused(env, tx, len, "evidence_invalid");
    tx = evidence_tx(env, PERMIT__TX_KIND__VERIFY, id, "", 32, "", &len);
    expect_refused(env, tx, len, "evidence_invalid");
    tx = evidence_tx(env, PERMIT__TX_KIND__VERIFY, id, "on_site", 31, "", &len);
    expect_refused(env, tx, len, "evidence_invalid");
    tx = evidence_tx(env, PERMIT__TX_KIND__VERIFY, id, "on_site", 33, "", &len);
    expect_refused(env, tx, len, "evidence_invalid");
    char big[LEDGER_MAX_REASON + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tx = evidence_tx(env, PERMIT__TX_KIND__VERIFY, id, "on_site", 32, big, &len);
    expect_refused(env, tx, len, "field_too_long");
    /* only VERIFY carries evidence */
    tx = evidence_tx(env, PERMIT__TX_KIND__APPROVE, pend, "on_site", 32, "", &len);
    expect_refused(env, tx, len, "evidence_invalid");
    /* each method goes in, with its note, kept in the signed body */
    tx = evidence_tx(env, PERMIT__TX_KIND__VERIFY, id, "remote_video", 32, "视频核查：证照齐全",
                     &len);
    uint8_t txid[32];
    ledger_tx dtx;
    ledger_err err;
    assert_int_equal(ledger_tx_decode(&dtx, tx, len, env->g->chain_id, &err), 0);
    memcpy(txid, dtx.id, 32);
    ledger_tx_release(&dtx);
    expect_ok(env, tx, len, NULL);
    assert_int_equal(status_now(env, id), LIC_ISSUED);
    uint8_t *env_bytes = NULL;
    size_t env_len = 0;
    assert_int_equal(ledger_get_tx(env->L, txid, &env_bytes, &env_len, NULL, NULL, &err), 1);
    assert_int_equal(ledger_tx_decode(&dtx, env_bytes, env_len, env->g->chain_id, &err), 0);
    assert_non_null(dtx.body->decision->evidence);
    assert_string_equal(dtx.body->decision->evidence->method, "remote_video");
    assert_string_equal(dtx.body->decision->evidence->note, "视频核查：证照齐全");
    assert_int_equal(dtx.body->decision->evidence->sha256.len, 32);
    ledger_tx_release(&dtx);
    free(env_bytes);
}


/* ---------- the holder: pledge, SET_HOLDER_KEY, RENEW by the holder ---------- */

/* The builders set *len: these read it after the builder ran. */
static void exp_no(lt_env *env, uint8_t *tx, const size_t *len, const char *rule)
{
    expect_refused(env, tx, *len, rule);
}

static void exp_yes(lt_env *env, uint8_t *tx, const size_t *len, char *id)
{
    expect_ok(env, tx, *len, id);
}

static void expect_refused_code(lt_env *env, uint8_t *tx, size_t len, const char *rule,
                                int code);

static void exp_no_code(lt_env *env, uint8_t *tx, const size_t *len, const char *rule, int code)
{
    expect_refused_code(env, tx, *len, rule, code);
}

static void expect_refused_code(lt_env *env, uint8_t *tx, size_t len, const char *rule,
                                int code)
{
    ledger_err err;
    memset(&err, 0, sizeof err);
    uint64_t h = ledger_height(env->L);
    if (lt_run_free(env, 0, tx, len, NULL, &err) == 0)
        fail_msg("expected refusal by rule %s, but the transaction was accepted", rule);
    if (err.rule == NULL || strcmp(err.rule, rule) != 0)
        fail_msg("expected rule %s, got %s (%s)", rule, err.rule ? err.rule : "(none)", err.msg);
    assert_int_equal(err.code, code);
    assert_int_equal(ledger_height(env->L), h);
}

static void test_rule_pledge_required(void **state)
{
    lt_env *env = *state;
    char u[19];
    size_t len;
    uint8_t *tx = lt_apply_pledged(env, uscc(60, u), "kiosk", 1, NULL, &len);
    expect_refused(env, tx, len, "pledge_required");
    /* a pledge without its signature is no pledge */
    lt_pledge pl;
    lt_pledge_sign(env, &env->holder, u, "kiosk", &pl);
    Permit__TxBody b;
    Permit__Apply a = PERMIT__APPLY__INIT;
    Permit__Address ad = PERMIT__ADDRESS__INIT;
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__APPLY, env->now + LT_SEC,
                                         g_nonce), 0);
    a.uscc = u;
    a.name = "报刊亭";
    a.legal_rep = "张三";
    a.industry = "kiosk";
    a.scope = "";
    ad.division = "320411";
    ad.text = "新北区1号";
    a.address = &ad;
    a.commitment = 1;
    a.holder_key.data = pl.key;
    a.holder_key.len = 32;
    a.pledge_sha256.data = pl.sha;
    a.pledge_sha256.len = 32;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_APPLY;
    b.apply = &a;
    tx = lt_sign(env, &env->registrar, &b, &len);
    expect_refused(env, tx, len, "pledge_required");
    /* with it, the license names the holder and the pledge text's hash */
    char id[80];
    tx = lt_apply_pledged(env, u, "kiosk", 1, &pl, &len);
    expect_ok(env, tx, len, id);
    ledger_license l;
    lt_get(env, id, &l);
    assert_true(l.has_holder);
    assert_memory_equal(l.holder_key, env->holder.pub, 32);
    uint8_t sha[32];
    ledger_sha256(LT_PLEDGE_TEXT, strlen(LT_PLEDGE_TEXT), sha);
    assert_memory_equal(l.pledge_sha256, sha, 32);
    assert_int_equal(l.status, LIC_ISSUED_UNVERIFIED);
    ledger_license_clear(&l);
}

static void test_rule_pledge_invalid(void **state)
{
    lt_env *env = *state;
    char u[19], other[19];
    uscc(61, u);
    uscc(62, other);
    size_t len;
    lt_pledge pl;
    /* signed for another USCC, another industry */
    lt_pledge_sign(env, &env->holder, other, "kiosk", &pl);
    exp_no(env, lt_apply_pledged(env, u, "kiosk", 1, &pl, &len), &len, "pledge_invalid");
    lt_pledge_sign(env, &env->holder, u, "bakery", &pl);
    exp_no(env, lt_apply_pledged(env, u, "kiosk", 1, &pl, &len), &len, "pledge_invalid");
    /* signed by another key than the one it names */
    lt_pledge_sign(env, &env->outsider, u, "kiosk", &pl);
    memcpy(pl.key, env->holder.pub, 32);
    exp_no(env, lt_apply_pledged(env, u, "kiosk", 1, &pl, &len), &len, "pledge_invalid");
    /* another text than the one signed */
    lt_pledge_sign(env, &env->holder, u, "kiosk", &pl);
    pl.sha[0] ^= 1;
    exp_no(env, lt_apply_pledged(env, u, "kiosk", 1, &pl, &len), &len, "pledge_invalid");
    /* a key that is no curve point */
    lt_pledge_sign(env, &env->holder, u, "kiosk", &pl);
    memset(pl.key, 0xff, 32);
    exp_no(env, lt_apply_pledged(env, u, "kiosk", 1, &pl, &len), &len, "pledge_invalid");
    /* a pledge on the ordinary route */
    lt_pledge_sign(env, &env->holder, u, "kiosk", &pl);
    exp_no(env, lt_apply_pledged(env, u, "kiosk", 0, &pl, &len), &len, "pledge_invalid");
    /* the same pledge, on its route, goes in */
    exp_yes(env, lt_apply_pledged(env, u, "kiosk", 1, &pl, &len), &len, NULL);
}

/* 无感智办: the holder confirms the renewal with its key, inside the same
 * window as a registrar's; any other key is refused. */
static void test_rule_signer_not_holder(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 63, "kiosk", 1, id); /* pledged by env->holder */
    size_t len;
    exp_yes(env, verify_tx(env, LT_MARKET, id, &len), &len, NULL);
    /* outside the window, the holder is refused as a registrar would be */
    uint8_t *tx = lt_reason_tx(env, &env->holder, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_refused(env, tx, len, "renew_window");
    lt_tick(env, 34 * LT_SEC);
    tx = lt_reason_tx(env, &env->outsider, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_refused_code(env, tx, len, "signer_not_holder", LEDGER_ERR_UNAUTHORIZED);
    /* another license's holder is not this one's */
    char other[80];
    ledger_keypair h2;
    uint8_t sec[32];
    memset(sec, 0x42, 32);
    assert_int_equal(ledger_keypair_from_secret(&h2, sec, NULL), 0);
    apply(env, 64, "bakery", 0, other);
    exp_yes(env, lt_set_holder(env, &env->registrar, other, &h2, &len), &len, NULL);
    tx = lt_reason_tx(env, &h2, PERMIT__TX_KIND__RENEW, id, "", &len);
    expect_refused_code(env, tx, len, "signer_not_holder", LEDGER_ERR_UNAUTHORIZED);
    /* at admission too (the mempool asks the same rule) */
    ledger_license l;
    lt_get(env, id, &l);
    uint64_t expires = l.expires_at;
    ledger_license_clear(&l);
    ledger_tx dtx;
    int dept;
    ledger_err err;
    tx = lt_reason_tx(env, &env->outsider, PERMIT__TX_KIND__RENEW, id, "", &len);
    assert_int_equal(ledger_admit(env->L, tx, len, env->now + LT_SEC, 0, &dtx, &dept, &err), -1);
    assert_string_equal(err.rule, "signer_not_holder");
    ledger_tx_release(&dtx);
    free(tx);
    tx = lt_reason_tx(env, &env->holder, PERMIT__TX_KIND__RENEW, id, "", &len);
    assert_int_equal(ledger_admit(env->L, tx, len, env->now + LT_SEC, 0, &dtx, &dept, &err), 0);
    assert_int_equal(dept, LEDGER_DEPT_HOLDER);
    ledger_tx_release(&dtx);
    /* the holder's confirmation renews it */
    expect_ok(env, tx, len, NULL);
    lt_get(env, id, &l);
    assert_int_equal(l.expires_at, expires + 60 * LT_SEC);
    ledger_license_clear(&l);
}

static void test_rule_holder_key_invalid(void **state)
{
    lt_env *env = *state;
    char id[80], other[80];
    apply(env, 65, "kiosk", 0, id);
    apply(env, 66, "bakery", 0, other);
    size_t len;
    /* the new key signs the license id: over another license's id, or a
     * signature by another key, proves nothing */
    Permit__TxBody b;
    Permit__HolderKey h = PERMIT__HOLDER_KEY__INIT;
    uint8_t d[32], sig[64];
    ledger_holder_digest(env->g->chain_id, other, d);
    assert_int_equal(ledger_sign(&env->holder, d, NULL, sig), 0);
    assert_int_equal(ledger_tx_body_init(&b, PERMIT__TX_KIND__SET_HOLDER_KEY, env->now + LT_SEC,
                                         g_nonce), 0);
    b.license_id = id;
    h.key.data = env->holder.pub;
    h.key.len = 32;
    h.sig.data = sig;
    h.sig.len = 64;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_HOLDER_KEY;
    b.holder_key = &h;
    exp_no(env, lt_sign(env, &env->registrar, &b, &len), &len, "holder_key_invalid");
    ledger_holder_digest(env->g->chain_id, id, d);
    assert_int_equal(ledger_sign(&env->outsider, d, NULL, sig), 0);
    exp_no(env, lt_sign(env, &env->registrar, &b, &len), &len, "holder_key_invalid");
    h.sig.len = 63;
    exp_no(env, lt_sign(env, &env->registrar, &b, &len), &len, "holder_key_invalid");
    /* only a registrar files it */
    exp_no_code(env, lt_set_holder(env, &env->outsider, id, &env->holder, &len), &len,
                        "signer_not_registrar", LEDGER_ERR_UNAUTHORIZED);
    exp_no_code(env, lt_set_holder(env, &env->holder, id, &env->holder, &len), &len,
                        "signer_not_registrar", LEDGER_ERR_UNAUTHORIZED);
    ledger_license l;
    lt_get(env, id, &l);
    assert_false(l.has_holder);
    ledger_license_clear(&l);
    /* done right, the license names the key (and a later one replaces it) */
    exp_yes(env, lt_set_holder(env, &env->registrar, id, &env->outsider, &len), &len, NULL);
    exp_yes(env, lt_set_holder(env, &env->registrar, id, &env->holder, &len), &len, NULL);
    lt_get(env, id, &l);
    assert_true(l.has_holder);
    assert_memory_equal(l.holder_key, env->holder.pub, 32);
    ledger_license_clear(&l);
    /* the key replaced no longer renews; the new one does */
    exp_yes(env, lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, id, NULL,
                               0, NULL, &len), &len, NULL);
    lt_tick(env, 35 * LT_SEC);
    exp_no_code(env, lt_reason_tx(env, &env->outsider, PERMIT__TX_KIND__RENEW, id, "",
                                          &len), &len, "signer_not_holder",
                        LEDGER_ERR_UNAUTHORIZED);
    exp_yes(env, lt_reason_tx(env, &env->holder, PERMIT__TX_KIND__RENEW, id, "", &len), &len,
              NULL);
}

/* The offline audit replays the pledge, SET_HOLDER_KEY and the holder's
 * RENEW under the same rules, and a record that claims another holder key
 * fails the replay. */
static void test_audit_replays_the_holder(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 67, "kiosk", 1, id);
    size_t len;
    exp_yes(env, verify_tx(env, LT_MARKET, id, &len), &len, NULL);
    lt_tick(env, 34 * LT_SEC);
    exp_yes(env, lt_reason_tx(env, &env->holder, PERMIT__TX_KIND__RENEW, id, "", &len), &len,
              NULL);
    exp_yes(env, lt_set_holder(env, &env->registrar, id, &env->outsider, &len), &len, NULL);
    /* certify the tip: the test chain's one validator */
    const ledger_keypair *one[] = {&env->node[env->g->validators[0]]};
    ledger_err err;
    assert_int_equal(lt_certify_tip(env, one, 1, &err), 0);
    uint8_t *bundle;
    size_t blen;
    uint64_t h;
    if (ledger_bundle_build(env->L, id, 0, &bundle, &blen, &h, &err) != 0)
        fail_msg("build: %s", err.msg);
    ledger_audit_report rep;
    ledger_audit_failure f;
    if (ledger_audit_verify(env->g, bundle, blen, NULL, &rep, &f) != 0)
        fail_msg("audit: check %d: %s", (int)f.check, f.reason);
    assert_true(rep.record.has_holder);
    assert_memory_equal(rep.record.holder_key, env->outsider.pub, 32);
    assert_int_equal(rep.n_events, 4);
    ledger_audit_report_clear(&rep);
    free(bundle);
}


/* ---------- 秒批: the rule instant ---------- */

/* The test catalogue with instant items: the convenience store's food
 * permit (market; the tobacco permit stays the department's) and the
 * kiosk's one item; instant_ban 30 s. */
static void instant_catalogue(json_t *root)
{
    json_t *inds = json_object_get(root, "industries"), *ind;
    size_t i;
    json_array_foreach(inds, i, ind) {
        const char *code = json_string_value(json_object_get(ind, "code"));
        if (strcmp(code, "convenience-store") == 0 || strcmp(code, "kiosk") == 0)
            json_object_set_new(json_array_get(json_object_get(ind, "items"), 0), "instant",
                                json_true());
    }
    json_t *params = json_object_get(root, "params");
    if (params == NULL) {
        params = json_object();
        json_object_set_new(root, "params", params);
    }
    json_object_set_new(params, "instant_ban", json_string("30s"));
}

static int setup_instant(void **state)
{
    lt_env *env = calloc(1, sizeof *env);
    lt_setup(env, instant_catalogue);
    *state = env;
    return 0;
}

/* The kind of event seq of license id. */
static int event_kind(lt_env *env, const char *id, uint32_t seq)
{
    ledger_event_rec *evs = NULL;
    size_t n = 0;
    ledger_err err;
    assert_int_equal(ledger_get_events(env->L, id, &evs, &n, &err), 1);
    assert_true(seq < n);
    int k = evs[seq].ev.kind;
    free(evs);
    return k;
}

static void revoke(lt_env *env, const char *id)
{
    size_t len;
    exp_yes(env, lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REVOKE, id,
                              "承诺不实", &len), &len, NULL);
}

static void test_instant_approved_in_the_apply_block(void **state)
{
    lt_env *env = *state;
    char id[80], kid[80];
    apply(env, 81, "convenience-store", 1, id);
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.items[0].decision, DEC_INSTANT);
    assert_int_equal(l.items[0].verified, 1);
    assert_int_equal(l.items[0].decided_at, l.applied_at);
    assert_int_equal(l.items[1].decision, DEC_COMMITTED);
    assert_int_equal(l.items[1].verified, 0);
    assert_int_equal(l.status, LIC_ISSUED_UNVERIFIED); /* tobacco still verifies */
    assert_int_equal(l.seq, 0);                        /* one event: the APPLY's */
    ledger_license_clear(&l);
    assert_int_equal(event_kind(env, id, 0), LEDGER_EVENT_APPLY_INSTANT);
    assert_string_equal(ledger_tx_kind_name(LEDGER_EVENT_APPLY_INSTANT), "APPLY_INSTANT");
    assert_string_equal(ledger_decision_name(DEC_INSTANT), "INSTANT");
    /* no transaction has the rule's event kind: a signed body of kind 17 is
     * refused before anything else */
    Permit__TxBody fb;
    uint8_t nonce[LEDGER_NONCE_LEN];
    assert_int_equal(ledger_tx_body_init(&fb, PERMIT__TX_KIND__APPLY, env->now + LT_SEC, nonce),
                     0);
    fb.kind = (Permit__TxKind)LEDGER_EVENT_APPLY_INSTANT;
    size_t flen;
    uint8_t *forged = lt_sign(env, &env->registrar, &fb, &flen);
    exp_no(env, forged, &flen, "kind_unknown");
    /* market delegated its item: nothing of it is left to verify */
    size_t len;
    exp_no(env, verify_tx(env, LT_MARKET, id, &len), &len, "already_verified");
    /* every item instant: ISSUED in the APPLY's block */
    apply(env, 82, "kiosk", 1, kid);
    assert_int_equal(status_now(env, kid), LIC_ISSUED);
    assert_int_equal(event_kind(env, kid, 0), LEDGER_EVENT_APPLY_INSTANT);
}

/* instant_not_commitment: the ordinary route waits for every department. */
static void test_instant_not_without_commitment(void **state)
{
    lt_env *env = *state;
    char id[80];
    apply(env, 83, "convenience-store", 0, id);
    ledger_license l;
    lt_get(env, id, &l);
    assert_int_equal(l.status, LIC_PENDING);
    assert_int_equal(l.items[0].decision, DEC_PENDING);
    ledger_instant_why why;
    assert_int_equal(ledger_instant_decide(env->g, &l, env->now, 0, NULL, &why), 0);
    assert_string_equal(why.rule, "instant_not_commitment");
    /* instant_no_pledge: on the commitment route the APPLY must carry it
     * (pledge_required); the rule asks again of the record */
    l.commitment = 1;
    assert_int_equal(ledger_instant_decide(env->g, &l, env->now, 0, NULL, &why), 0);
    assert_string_equal(why.rule, "instant_no_pledge");
    ledger_license_clear(&l);
    assert_int_equal(event_kind(env, id, 0), PERMIT__TX_KIND__APPLY);
    char u[19];
    size_t len;
    exp_no(env, lt_apply_pledged(env, uscc(84, u), "kiosk", 1, NULL, &len), &len,
           "pledge_required");
}

/* instant_banned: a license of the USCC revoked within instant_ban before
 * the APPLY; approved again once the ban has passed. */
static void test_rule_instant_banned(void **state)
{
    lt_env *env = *state;
    char k1[80], cs[80], k2[80];
    apply(env, 85, "kiosk", 1, k1);
    lt_tick(env, 5 * LT_SEC);
    revoke(env, k1);
    /* the revocation is on the USCC's record */
    char u[19], rid[32];
    uscc(85, u);
    ledger_uscc_record_id(u, rid, sizeof rid);
    uint8_t *rb;
    size_t rl;
    ledger_err err;
    assert_int_equal(ledger_get_record_bytes(env->L, rid, &rb, &rl, &err), 1);
    ledger_uscc_record rec;
    assert_int_equal(ledger_uscc_record_decode(&rec, rb, rl, &err), 0);
    free(rb);
    assert_int_equal(rec.n, 1);
    assert_string_equal(rec.v[0].license_id, k1);
    assert_int_equal(rec.v[0].time, env->now);
    /* USCC records are no licenses */
    ledger_license l;
    assert_int_equal(ledger_get_license(env->L, rid, &l, &err), 0);

    lt_tick(env, 10 * LT_SEC);
    apply(env, 85, "convenience-store", 1, cs);
    lt_get(env, cs, &l);
    assert_int_equal(l.items[0].decision, DEC_COMMITTED); /* market verifies it, as today */
    assert_int_equal(l.status, LIC_ISSUED_UNVERIFIED);
    ledger_instant_why why;
    assert_int_equal(ledger_instant_decide(env->g, &l, l.applied_at, UINT64_MAX, &rec, &why), 0);
    assert_string_equal(why.rule, "instant_banned");
    ledger_license_clear(&l);
    assert_int_equal(event_kind(env, cs, 0), PERMIT__TX_KIND__APPLY);

    /* 31 s after the revocation: the ban is over */
    lt_tick(env, 20 * LT_SEC);
    apply(env, 85, "kiosk", 1, k2);
    assert_int_equal(status_now(env, k2), LIC_ISSUED);
    assert_int_equal(event_kind(env, k2, 0), LEDGER_EVENT_APPLY_INSTANT);
    /* another USCC was never banned */
    apply(env, 86, "convenience-store", 1, cs);
    assert_int_equal(event_kind(env, cs, 0), LEDGER_EVENT_APPLY_INSTANT);
    /* the integrity check walks the USCC record with the licenses, and after
     * a reopen the rule reads it from the store */
    if (ledger_check_integrity(env->L, &err) != 0)
        fail_msg("integrity: %s", err.msg);
    lt_reopen(env);
    revoke(env, k2);
    apply(env, 85, "kiosk", 1, k1);
    assert_int_equal(event_kind(env, k1, 0), PERMIT__TX_KIND__APPLY);
    assert_int_equal(status_now(env, k1), LIC_ISSUED_UNVERIFIED);
    if (ledger_check_integrity(env->L, &err) != 0)
        fail_msg("integrity: %s", err.msg);
}

/* Two transactions in one block at env->now + 1 s. */
static void run_two(lt_env *env, uint8_t *t1, size_t l1, uint8_t *t2, size_t l2,
                    ledger_tx_result *r1, ledger_tx_result *r2)
{
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = env->now + LT_SEC;
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x;
    ledger_err err;
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
    if (ledger_exec_tx(x, t1, l1, LEDGER_SIG_CHECK, r1, &err) != 0 ||
        ledger_exec_tx(x, t2, l2, LEDGER_SIG_CHECK, r2, &err) != 0)
        fail_msg("refused: %s", err.msg);
    assert_int_equal(ledger_exec_finish(x, NULL, &err), 0);
    assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
    ledger_exec_free(x);
    env->now = ctx.time;
    free(t1);
    free(t2);
}

/* Within one block the log order decides: a revocation after the APPLY
 * does not count, one before it does. */
static void test_instant_revocation_in_the_same_block(void **state)
{
    lt_env *env = *state;
    char k1[80], k2[80], u[19];
    apply(env, 87, "kiosk", 1, k1);
    apply(env, 92, "kiosk", 1, k2);
    size_t l1, l2;
    ledger_tx_result r1, r2;
    uint8_t *ap = lt_apply(env, uscc(87, u), "convenience-store", 1, &l1);
    uint8_t *rv = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REVOKE, k1, "x",
                               &l2);
    run_two(env, ap, l1, rv, l2, &r1, &r2);
    assert_int_equal(event_kind(env, r1.license_id, 0), LEDGER_EVENT_APPLY_INSTANT);
    rv = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__REVOKE, k2, "x", &l1);
    ap = lt_apply(env, uscc(92, u), "convenience-store", 1, &l2);
    run_two(env, rv, l1, ap, l2, &r1, &r2);
    assert_int_equal(event_kind(env, r2.license_id, 0), PERMIT__TX_KIND__APPLY);
}

/* uscc_revocations_full: the record lists 64 revocations, then only where
 * the first one left out is; the rule approves nothing after it. */
static void test_rule_uscc_revocations_full(void **state)
{
    lt_env *env = *state;
    ledger_uscc_record *u = calloc(1, sizeof *u);
    char us[19];
    snprintf(u->uscc, sizeof u->uscc, "%s", uscc(88, us));
    for (uint64_t i = 0; i < LEDGER_USCC_REVOCATIONS_MAX + 3; i++)
        ledger_uscc_record_add(u, 10 + i, LT_T0 + i, "PL-320411-2025-000001");
    assert_int_equal(u->n, LEDGER_USCC_REVOCATIONS_MAX);
    assert_true(u->full);
    assert_int_equal(u->unlisted_from, 10 + LEDGER_USCC_REVOCATIONS_MAX);
    uint8_t *b;
    size_t n;
    ledger_err err;
    assert_int_equal(ledger_uscc_record_encode(u, &b, &n, &err), 0);
    assert_true(n <= LEDGER_MAX_USCC_RECORD);
    ledger_uscc_record *d = calloc(1, sizeof *d);
    assert_int_equal(ledger_uscc_record_decode(d, b, n, &err), 0);
    assert_int_equal(d->n, u->n);
    assert_int_equal(d->unlisted_from, u->unlisted_from);
    /* bounded: a count past the limit, a trailing byte, a short record */
    uint8_t *bad = malloc(n + 1);
    memcpy(bad, b, n);
    bad[n] = 0;
    assert_int_equal(ledger_uscc_record_decode(d, bad, n + 1, &err), -1);
    assert_int_equal(ledger_uscc_record_decode(d, b, n - 1, &err), -1);
    size_t at = 1 + 2 + strlen("USCC-") + 18; /* the count */
    memcpy(bad, b, n);
    bad[at] = LEDGER_USCC_REVOCATIONS_MAX + 1;
    assert_int_equal(ledger_uscc_record_decode(d, bad, n, &err), -1);
    free(bad);
    free(b);

    char id[80];
    apply(env, 88, "kiosk", 1, id);
    ledger_license l;
    lt_get(env, id, &l);
    ledger_instant_why why;
    /* an APPLY after the first revocation left out */
    assert_int_equal(ledger_instant_decide(env->g, &l, LT_T0 + 400 * LT_DAY, 1000, u, &why), 0);
    assert_string_equal(why.rule, "uscc_revocations_full");
    /* one before it sees the list, whose newest is long past */
    assert_int_not_equal(ledger_instant_decide(env->g, &l, LT_T0 + 400 * LT_DAY,
                                               10 + LEDGER_USCC_REVOCATIONS_MAX, u, &why), 0);
    assert_string_equal(why.rule, "instant");
    ledger_license_clear(&l);
    free(u);
    free(d);
}

/* Certify the tip with the test chain's one validator and build the bundle
 * of license id. */
static uint8_t *certified_bundle(lt_env *env, const char *id, size_t *blen)
{
    const ledger_keypair *one[] = {&env->node[env->g->validators[0]]};
    ledger_err err;
    assert_int_equal(lt_certify_tip(env, one, 1, &err), 0);
    uint8_t *bundle;
    uint64_t h;
    if (ledger_bundle_build(env->L, id, 0, &bundle, blen, &h, &err) != 0)
        fail_msg("build: %s", err.msg);
    return bundle;
}

static void audit_ok(lt_env *env, const uint8_t *b, size_t n)
{
    ledger_audit_report rep;
    ledger_audit_failure f;
    if (ledger_audit_verify(env->g, b, n, NULL, &rep, &f) != 0)
        fail_msg("audit: check %d: %s", (int)f.check, f.reason);
    ledger_audit_report_clear(&rep);
}

/* Decode, let edit change the bundle, encode: the audit must fail check. */
static void audit_fails(lt_env *env, const uint8_t *b, size_t n,
                        void (*edit)(ledger_bundle *), int check, const char *words)
{
    ledger_bundle d;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&d, b, n, &err), 0);
    edit(&d);
    uint8_t *t;
    size_t tn;
    assert_int_equal(ledger_bundle_encode(&d, &t, &tn, &err), 0);
    ledger_bundle_free(&d);
    ledger_audit_report rep;
    ledger_audit_failure f;
    if (ledger_audit_verify(env->g, t, tn, NULL, &rep, &f) == 0)
        fail_msg("the tampered bundle passed the audit");
    char line[600];
    ledger_audit_failure_format(&f, line, sizeof line);
    if (f.check != check || strstr(line, words) == NULL)
        fail_msg("expected check %d (%s), got: %s", check, words, line);
    free(t);
}

static void drop_uscc_proof(ledger_bundle *b)
{
    b->has_uscc = 0;
    free(b->uscc_record);
    b->uscc_record = NULL;
    memset(&b->uscc_state, 0, sizeof b->uscc_state);
}

static void drop_uscc_record(ledger_bundle *b)
{
    free(b->uscc_record); /* claim there was no revocation */
    b->uscc_record = NULL;
}

static void forget_revocation(ledger_bundle *b)
{
    ledger_uscc_record u;
    ledger_err err;
    assert_int_equal(ledger_uscc_record_decode(&u, b->uscc_record, b->uscc_record_len, &err), 0);
    u.n = 0;
    free(b->uscc_record);
    assert_int_equal(ledger_uscc_record_encode(&u, &b->uscc_record, &b->uscc_record_len, &err),
                     0);
}

/* The rule event: APPLY_INSTANT turned into a plain APPLY. */
static void plain_apply(ledger_bundle *b)
{
    ledger_event ev;
    assert_int_equal(ledger_event_decode(&ev, b->events[0].event, b->events[0].event_len), 0);
    assert_int_equal(ev.kind, LEDGER_EVENT_APPLY_INSTANT);
    ev.kind = PERMIT__TX_KIND__APPLY;
    size_t n;
    assert_int_equal(ledger_event_encode(&ev, b->events[0].event, b->events[0].event_len, &n),
                     0);
}

/* The offline audit decides the rule again from the bundle and genesis:
 * approved, and banned (the USCC's record proven at the bundle's block);
 * a bundle without the proof, with the record left out, or with a
 * revocation struck from it, or with the rule event altered, fails and the
 * failure names its check. */
static void test_audit_replays_instant(void **state)
{
    lt_env *env = *state;
    char k1[80], cs[80], ok[80];
    apply(env, 89, "kiosk", 1, k1);
    revoke(env, k1);
    apply(env, 89, "convenience-store", 1, cs); /* banned */
    apply(env, 90, "convenience-store", 1, ok); /* approved */
    size_t n1, n2, n3;
    uint8_t *b1 = certified_bundle(env, ok, &n1);
    uint8_t *b2 = certified_bundle(env, cs, &n2);
    audit_ok(env, b1, n1);
    audit_ok(env, b2, n2);
    ledger_audit_report rep;
    ledger_audit_failure f;
    assert_int_equal(ledger_audit_verify(env->g, b1, n1, NULL, &rep, &f), 0);
    assert_int_equal(rep.record.items[0].decision, DEC_INSTANT);
    ledger_audit_report_clear(&rep);
    assert_int_equal(ledger_audit_verify(env->g, b2, n2, NULL, &rep, &f), 0);
    assert_int_equal(rep.record.items[0].decision, DEC_COMMITTED);
    ledger_audit_report_clear(&rep);

    audit_fails(env, b1, n1, drop_uscc_proof, AUDIT_STATE, "no proof of its USCC's record");
    audit_fails(env, b2, n2, drop_uscc_proof, AUDIT_STATE, "no proof of its USCC's record");
    audit_fails(env, b2, n2, drop_uscc_record, AUDIT_STATE, "is not proven absent");
    audit_fails(env, b2, n2, forget_revocation, AUDIT_STATE, "is not the state");
    audit_fails(env, b1, n1, plain_apply, AUDIT_LOG, "not in the event log");
    /* an ordinary license carries none */
    char pend[80];
    apply(env, 91, "convenience-store", 0, pend);
    uint8_t *b3 = certified_bundle(env, pend, &n3);
    audit_ok(env, b3, n3);
    ledger_bundle d;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&d, b3, n3, &err), 0);
    assert_false(d.has_uscc);
    ledger_bundle_free(&d);
    free(b1);
    free(b2);
    free(b3);
}

/* ---- validators that certify a false USCC record ----
 * The bundle's header is re-made with a state_root over a two-leaf tree
 * (the license's own record and a USCC record of the forger's choosing;
 * one leaf when the record is to be absent) and certified by the chain's
 * validator key: checks 1 to 4 pass, and only the replay of the rule
 * instant can tell that the APPLY's event does not follow from the state. */

static int key_bit(const uint8_t k[32], size_t d)
{
    return (k[d / 8] >> (7 - d % 8)) & 1;
}

/* The proof of key k in a tree of two leaves, k's and another's (ol)
 * diverging at bit d. */
static void two_leaf_proof(const uint8_t k[32], const uint8_t v[32], size_t d,
                           const uint8_t ol[32], smt_proof *p)
{
    memset(p, 0, sizeof *p);
    p->n_siblings = d + 1;
    for (size_t i = 0; i < d; i++)
        memcpy(p->siblings[i], LEDGER_SMT_EMPTY, 32);
    memcpy(p->siblings[d], ol, 32);
    p->end = SMT_END_LEAF;
    memcpy(p->leaf_key, k, 32);
    memcpy(p->leaf_value, v, 32);
}

static void forge_uscc_state(lt_env *env, ledger_bundle *b, const uint8_t *urec, size_t ulen)
{
    ledger_license rec;
    ledger_err err;
    assert_int_equal(ledger_license_decode(&rec, b->record, b->record_len, &err), 0);
    char uid[32];
    ledger_uscc_record_id(rec.uscc, uid, sizeof uid);
    ledger_license_clear(&rec);
    uint8_t k1[32], v1[32], k2[32], v2[32], l1[32], l2[32], root[32];
    ledger_sha256(b->license_id, strlen(b->license_id), k1);
    ledger_sha256(b->record, b->record_len, v1);
    ledger_sha256(uid, strlen(uid), k2);
    ledger_smt_leaf_hash(k1, v1, l1);
    free(b->uscc_record);
    b->uscc_record = NULL;
    b->has_uscc = 1;
    if (urec == NULL) {
        /* one leaf: the license's; the USCC key ends at it (absence) */
        memcpy(root, l1, 32);
        memset(&b->state, 0, sizeof b->state);
        b->state.end = SMT_END_LEAF;
        memcpy(b->state.leaf_key, k1, 32);
        memcpy(b->state.leaf_value, v1, 32);
        b->uscc_state = b->state;
    } else {
        b->uscc_record = malloc(ulen);
        memcpy(b->uscc_record, urec, ulen);
        b->uscc_record_len = ulen;
        ledger_sha256(urec, ulen, v2);
        ledger_smt_leaf_hash(k2, v2, l2);
        size_t d = 0;
        while (key_bit(k1, d) == key_bit(k2, d))
            d++;
        uint8_t node[32];
        if (key_bit(k1, d) == 0)
            ledger_smt_inner_hash(l1, l2, node);
        else
            ledger_smt_inner_hash(l2, l1, node);
        for (size_t i = d; i-- > 0;) {
            uint8_t up[32];
            if (key_bit(k1, i) == 0)
                ledger_smt_inner_hash(node, LEDGER_SMT_EMPTY, up);
            else
                ledger_smt_inner_hash(LEDGER_SMT_EMPTY, node, up);
            memcpy(node, up, 32);
        }
        memcpy(root, node, 32);
        two_leaf_proof(k1, v1, d, l2, &b->state);
        two_leaf_proof(k2, v2, d, l1, &b->uscc_state);
    }
    ledger_header h;
    assert_int_equal(ledger_header_decode(&h, b->header, b->header_len, &err), 0);
    memcpy(h.state_root, root, 32);
    uint8_t hb[LEDGER_MAX_HEADER_BYTES], hash[32];
    size_t hl;
    assert_int_equal(ledger_header_encode(&h, hb, sizeof hb, &hl), 0);
    assert_int_equal(hl, b->header_len);
    memcpy(b->header, hb, hl);
    ledger_sha256(hb, hl, hash);
    memset(&b->commit, 0, sizeof b->commit);
    b->commit.height = h.height;
    memcpy(b->commit.block_hash, hash, 32);
    uint8_t msg[32];
    ledger_vote_sighash(env->g->chain_id, LEDGER_VOTE_PRECOMMIT, h.height, 0, hash, msg);
    assert_int_equal(ledger_sign(&env->node[env->g->validators[0]], msg, NULL,
                                 b->commit.sigs[0].sig), 0);
    b->commit.n_sigs = 1;
}

static void expect_forged_fails(lt_env *env, ledger_bundle *b, int check, const char *words)
{
    uint8_t *t;
    size_t tn;
    ledger_err err;
    assert_int_equal(ledger_bundle_encode(b, &t, &tn, &err), 0);
    ledger_audit_report rep;
    ledger_audit_failure f;
    if (ledger_audit_verify(env->g, t, tn, NULL, &rep, &f) == 0)
        fail_msg("the forged bundle passed the audit");
    char line[600];
    ledger_audit_failure_format(&f, line, sizeof line);
    if (f.check != check || strstr(line, words) == NULL)
        fail_msg("expected check %d (%s), got: %s", check, words, line);
    free(t);
}

/* An APPLY_INSTANT under a state whose USCC record lists a revocation just
 * before it, and a plain APPLY under a state where the USCC has none: both
 * certified, both caught by the replay (check 5), which names the rule. */
static void test_audit_catches_a_certified_false_instant_decision(void **state)
{
    lt_env *env = *state;
    char k1[80], cs[80], ok[80];
    apply(env, 93, "kiosk", 1, k1);
    revoke(env, k1);
    apply(env, 93, "convenience-store", 1, cs); /* banned: a plain APPLY */
    apply(env, 94, "convenience-store", 1, ok); /* approved: APPLY_INSTANT */
    size_t n1, n2;
    uint8_t *b1 = certified_bundle(env, ok, &n1);
    uint8_t *b2 = certified_bundle(env, cs, &n2);
    ledger_bundle b;
    ledger_err err;

    /* the forger's record: a revocation one event before the APPLY */
    assert_int_equal(ledger_bundle_decode(&b, b1, n1, &err), 0);
    ledger_event ev;
    assert_int_equal(ledger_event_decode(&ev, b.events[0].event, b.events[0].event_len), 0);
    ledger_uscc_record u;
    memset(&u, 0, sizeof u);
    char us[19];
    snprintf(u.uscc, sizeof u.uscc, "%s", uscc(94, us));
    ledger_uscc_record_add(&u, b.events[0].log_index - 1, ev.time, k1);
    uint8_t *ub;
    size_t ul;
    assert_int_equal(ledger_uscc_record_encode(&u, &ub, &ul, &err), 0);
    forge_uscc_state(env, &b, ub, ul);
    free(ub);
    expect_forged_fails(env, &b, AUDIT_REPLAY,
                        "says APPLY_INSTANT but the rule instant approves nothing: "
                        "instant_banned");
    ledger_bundle_free(&b);

    /* the forger hides the revocation: no USCC record at all */
    assert_int_equal(ledger_bundle_decode(&b, b2, n2, &err), 0);
    forge_uscc_state(env, &b, NULL, 0);
    expect_forged_fails(env, &b, AUDIT_REPLAY, "says APPLY but the rule instant approves");
    ledger_bundle_free(&b);

    /* the same forging with the truth passes: the harness itself is sound */
    assert_int_equal(ledger_bundle_decode(&b, b2, n2, &err), 0);
    uint8_t *truth = malloc(b.uscc_record_len);
    memcpy(truth, b.uscc_record, b.uscc_record_len);
    size_t tl = b.uscc_record_len;
    forge_uscc_state(env, &b, truth, tl);
    free(truth);
    uint8_t *t;
    size_t tn;
    assert_int_equal(ledger_bundle_encode(&b, &t, &tn, &err), 0);
    audit_ok(env, t, tn);
    free(t);
    ledger_bundle_free(&b);
    free(b1);
    free(b2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TI(f) cmocka_unit_test_setup_teardown(f, setup_instant, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rule_license_overdue_refuses_renewal),
        T(test_overdue_is_derived_from_block_time),
        T(test_rule_license_overdue_expired_in_grace),
        T(test_overdue_until_every_department_verified),
        T(test_overdue_revoked),
        T(test_rule_license_duplicate),
        T(test_rule_license_duplicate_in_one_block),
        T(test_rule_license_events_full),
        T(test_rule_evidence_invalid),
        T(test_rule_pledge_required),
        T(test_rule_pledge_invalid),
        T(test_rule_signer_not_holder),
        T(test_rule_holder_key_invalid),
        T(test_audit_replays_the_holder),
        TI(test_instant_approved_in_the_apply_block),
        TI(test_instant_not_without_commitment),
        TI(test_rule_instant_banned),
        TI(test_instant_revocation_in_the_same_block),
        TI(test_rule_uscc_revocations_full),
        TI(test_audit_replays_instant),
        TI(test_audit_catches_a_certified_false_instant_decision),
        cmocka_unit_test(test_bundle_too_large_names_its_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
