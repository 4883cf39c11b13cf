/* License rules of issue 13 that need no new field: OVERDUE (DESIGN §2,
 * rule license_overdue), one non-final license per USCC and industry
 * (license_duplicate) and the bound on a license's history
 * (license_events_full).  Each test breaks its rule and checks the error
 * names it; the state each rule protects is checked after the refusal. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/bundle.h"
#include "ledger/license.h"
#include "ledger/limits.h"
#include "ledger/query.h"
#include "ledger/rules.h"
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

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

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
        cmocka_unit_test(test_bundle_too_large_names_its_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
