/* Proof bundles and their offline verification (ledger/bundle.h,
 * ledger/audit.h, DESIGN §9): a license with a full history on a chain of
 * four validators whose certificates the test signs by hand, then every
 * tampering of DESIGN §9 / issue 5, each detected by the check it must be. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/audit.h"
#include "ledger/bundle.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/tx.h"
#include "ledgertest.h"

#define N_VAL 4 /* approval, market, tobacco, fire */

static lt_env *g_setup_env; /* the env lt_setup is building (for the genesis edit) */
static const char *g_chain_id = "permit-test";

static void four_validators(json_t *root)
{
    json_t *depts = json_object_get(root, "departments");
    for (size_t d = 0; d < N_VAL; d++) {
        json_t *o = json_array_get(depts, d);
        char hex[65], p2p[32];
        ledger_hex_encode(g_setup_env->node[d].pub, 32, hex);
        snprintf(p2p, sizeof p2p, "127.0.0.1:%zu", 9700 + d);
        json_object_set_new(o, "validator",
                            json_pack("{s:s, s:s}", "node_key", hex, "p2p", p2p));
    }
    json_object_set_new(root, "chain_id", json_string(g_chain_id));
}

static void setup_chain(lt_env *env, const char *chain_id)
{
    g_setup_env = env;
    g_chain_id = chain_id;
    lt_setup(env, four_validators);
    assert_int_equal(env->g->n_validators, N_VAL);
}

/* A certificate over `block_hash` at `height` by the validators listed. */
static void sign_cert(lt_env *env, ledger_commit *c, uint64_t height, const uint8_t hash[32],
                      const int *vals, size_t n)
{
    memset(c, 0, sizeof *c);
    c->height = height;
    c->round = 0;
    memcpy(c->block_hash, hash, 32);
    uint8_t msg[32];
    ledger_vote_sighash(env->g->chain_id, LEDGER_VOTE_PRECOMMIT, height, 0, hash, msg);
    for (size_t i = 0; i < n; i++) {
        c->sigs[i].validator = (uint32_t)vals[i];
        /* validator i is department i of the test genesis */
        assert_int_equal(ledger_sign(&env->node[vals[i] % LT_NDEPT], msg, NULL, c->sigs[i].sig), 0);
    }
    c->n_sigs = n;
}

/* Certify the tip with three of the four validators. */
static uint64_t certify_tip(lt_env *env)
{
    ledger_tip tip;
    ledger_get_tip(env->L, &tip);
    static const int three[] = {0, 1, 2};
    ledger_commit c;
    sign_cert(env, &c, tip.height, tip.hash, three, 3);
    ledger_err err;
    if (ledger_put_commit(env->L, &c, &err) != 0)
        fail_msg("put_commit: %s", err.msg);
    return tip.height;
}

/* len is read after the builder in tx has set it */
static void run(lt_env *env, uint8_t *tx, const size_t *len, char *id_out)
{
    ledger_err err;
    if (lt_run_free(env, 0, tx, *len, id_out, &err) != 0)
        fail_msg("tx refused: %s", err.msg);
}

/* ---- the fixture: one chain, built once ---- */

static lt_env g_env;
static char g_a[64], g_b[64];          /* the audited license, and another */
static uint8_t *g_bundle, *g_old, *g_bundle_b;
static size_t g_bundle_len, g_old_len, g_bundle_b_len;
static ledger_audit_checkpoint g_cp;   /* at the old bundle's header */

static int setup(void **state)
{
    (void)state;
    lt_env *e = &g_env;
    setup_chain(e, "permit-test");
    const ledger_keypair *reg = &e->registrar;
    size_t len;
    uint8_t *tx;
    run(e, lt_apply(e, "91350100M000100Y43", "convenience-store", 0, &len), &len, g_a);
    run(e, lt_apply(e, "91350100M000100Y43", "hotel", 0, &len), &len, g_b);
    run(e, lt_decision(e, lt_dept(e, LT_MARKET), PERMIT__TX_KIND__APPROVE, g_a, NULL, 0, NULL,
                       &len), &len, NULL);
    run(e, lt_decision(e, lt_dept(e, LT_POLICE), PERMIT__TX_KIND__APPROVE, g_b, NULL, 0, NULL,
                       &len), &len, NULL);
    run(e, lt_decision(e, lt_dept(e, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, g_a, NULL, 0, NULL,
                       &len), &len, NULL);
    run(e, lt_add_address(e, reg, g_a, "320411001", "常州市新北区河海路2号", &len), &len, NULL);
    run(e, lt_amend(e, reg, g_a, "常州新北便利有限公司", NULL, NULL, &len), &len, NULL);
    run(e, lt_reason_tx(e, lt_dept(e, LT_MARKET), PERMIT__TX_KIND__SUSPEND, g_a, "抽检不合格",
                        &len), &len, NULL);
    run(e, lt_reason_tx(e, lt_dept(e, LT_MARKET), PERMIT__TX_KIND__RESUME, g_a, "整改完成",
                        &len), &len, NULL);
    /* certified here: the old bundle (7 events, ISSUED) and a checkpoint */
    certify_tip(e);
    ledger_err err;
    uint64_t h;
    if (ledger_bundle_build(e->L, g_a, 0, &g_old, &g_old_len, &h, &err) != 0)
        fail_msg("build: %s", err.msg);
    ledger_tip tip;
    ledger_get_tip(e->L, &tip);
    snprintf(g_cp.chain_id, sizeof g_cp.chain_id, "%s", e->g->chain_id);
    g_cp.height = tip.height;
    g_cp.log_size = tip.header.log_size;
    memcpy(g_cp.log_root, tip.header.log_root, 32);
    /* the revocation, more events of B, then the latest certified block */
    run(e, lt_reason_tx(e, lt_dept(e, LT_TOBACCO), PERMIT__TX_KIND__REVOKE, g_a, "无证经营卷烟",
                        &len), &len, NULL);
    run(e, lt_decision(e, lt_dept(e, LT_HEALTH), PERMIT__TX_KIND__APPROVE, g_b, NULL, 0, NULL,
                       &len), &len, NULL);
    tx = lt_decision(e, lt_dept(e, LT_FIRE), PERMIT__TX_KIND__APPROVE, g_b, NULL, 0, NULL, &len);
    run(e, tx, &len, NULL);
    certify_tip(e);
    if (ledger_bundle_build(e->L, g_a, g_cp.log_size, &g_bundle, &g_bundle_len, &h, &err) != 0 ||
        ledger_bundle_build(e->L, g_b, 0, &g_bundle_b, &g_bundle_b_len, &h, &err) != 0)
        fail_msg("build: %s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_bundle);
    free(g_old);
    free(g_bundle_b);
    lt_teardown(&g_env);
    return 0;
}

/* Verify bytes and expect failure of check `want` (with `needle` in the
 * reason when not NULL). */
static void expect_fail(const uint8_t *b, size_t len, const ledger_audit_checkpoint *cp,
                        int want, long want_event, const char *needle)
{
    ledger_audit_report rep;
    ledger_audit_failure f;
    int rc = ledger_audit_verify(g_env.g, b, len, cp, &rep, &f);
    char line[600];
    ledger_audit_failure_format(&f, line, sizeof line);
    if (rc == 0)
        fail_msg("verified, expected check %d to fail", want);
    if (f.check != want)
        fail_msg("expected check %d (%s), got: %s", want, ledger_audit_check_name(want), line);
    if (want_event >= -1 && f.event != want_event)
        fail_msg("expected event %ld: %s", want_event, line);
    if (needle && strstr(f.reason, needle) == NULL)
        fail_msg("expected \"%s\" in: %s", needle, line);
    print_message("  detected: %s\n", line);
}

typedef void (*mutator)(ledger_bundle *b);

/* Decode the good bundle, change it, encode it again. */
static uint8_t *mutate(const uint8_t *src, size_t slen, mutator fn, size_t *len)
{
    ledger_bundle b;
    ledger_err err;
    if (ledger_bundle_decode(&b, src, slen, &err) != 0)
        fail_msg("decode: %s", err.msg);
    fn(&b);
    uint8_t *out;
    if (ledger_bundle_encode(&b, &out, len, &err) != 0)
        fail_msg("encode: %s", err.msg);
    ledger_bundle_free(&b);
    return out;
}

static void expect_mutation(mutator fn, int want, long want_event, const char *needle)
{
    size_t len;
    uint8_t *b = mutate(g_bundle, g_bundle_len, fn, &len);
    expect_fail(b, len, NULL, want, want_event, needle);
    free(b);
}

static void drop_event(ledger_bundle *b, size_t i)
{
    free(b->events[i].event);
    free(b->events[i].path);
    free(b->events[i].tx);
    memmove(&b->events[i], &b->events[i + 1], (b->n_events - i - 1) * sizeof b->events[0]);
    b->n_events--;
}

/* ---- the good bundles ---- */

static void test_a_genuine_bundle_verifies_with_what_it_proves(void **state)
{
    (void)state;
    ledger_audit_report rep;
    ledger_audit_failure f;
    if (ledger_audit_verify(g_env.g, g_bundle, g_bundle_len, &g_cp, &rep, &f) != 0) {
        char line[600];
        ledger_audit_failure_format(&f, line, sizeof line);
        fail_msg("%s", line);
    }
    assert_string_equal(rep.license_id, g_a);
    assert_int_equal(rep.status, LIC_REVOKED);
    assert_int_equal(rep.n_events, 8);
    assert_int_equal(rep.n_signers, 3);
    assert_int_equal(rep.signers[0], LT_APPROVAL);
    assert_int_equal(rep.signers[1], LT_MARKET);
    assert_int_equal(rep.signers[2], LT_TOBACCO);
    assert_int_equal(rep.consistency_checked, 1);
    assert_string_equal(rep.record.name, "常州新北便利有限公司");
    ledger_tip tip;
    ledger_get_tip(g_env.L, &tip);
    assert_int_equal(rep.header.height, tip.height);
    assert_int_equal(rep.header.time, tip.time);
    ledger_audit_report_clear(&rep);
    /* the older bundle: ISSUED, 7 events */
    assert_int_equal(ledger_audit_verify(g_env.g, g_old, g_old_len, NULL, &rep, &f), 0);
    assert_int_equal(rep.status, LIC_ISSUED);
    assert_int_equal(rep.n_events, 7);
    assert_int_equal(rep.consistency_checked, 0);
    ledger_audit_report_clear(&rep);
    /* the other license */
    assert_int_equal(ledger_audit_verify(g_env.g, g_bundle_b, g_bundle_b_len, NULL, &rep, &f), 0);
    assert_int_equal(rep.status, LIC_ISSUED);
    ledger_audit_report_clear(&rep);
    /* decoding and encoding give back the same bytes */
    ledger_bundle b;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&b, g_bundle, g_bundle_len, &err), 0);
    uint8_t *again;
    size_t alen;
    assert_int_equal(ledger_bundle_encode(&b, &again, &alen, &err), 0);
    assert_int_equal(alen, g_bundle_len);
    assert_memory_equal(again, g_bundle, alen);
    free(again);
    ledger_bundle_free(&b);
    print_message("  bundle of %zu bytes for 8 events\n", g_bundle_len);
}

static void test_build_refuses_unknown_licenses_and_bad_since(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t len;
    uint64_t h;
    ledger_err err;
    assert_int_equal(ledger_bundle_build(g_env.L, "PL-320411-2025-999999", 0, &out, &len, &h,
                                         &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_NOTFOUND);
    assert_int_equal(ledger_bundle_build(g_env.L, "not an id!", 0, &out, &len, &h, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_NOTFOUND);
    assert_int_equal(ledger_bundle_build(g_env.L, g_a, 1u << 30, &out, &len, &h, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
}

/* ---- check 2: log ---- */

static void change_event_time(ledger_bundle *b)
{
    /* the event's time: 8 bytes before prev (the last 32 bytes) */
    b->events[3].event[b->events[3].event_len - 33] ^= 0x01;
}

static void test_a_changed_event_field_fails_the_log_check(void **state)
{
    (void)state;
    expect_mutation(change_event_time, AUDIT_LOG, 3, "not in the event log");
}

static void flip_log_path(ledger_bundle *b)
{
    b->events[1].path[0][5] ^= 0x40;
}

static void test_a_flipped_inclusion_proof_hash_fails_the_log_check(void **state)
{
    (void)state;
    expect_mutation(flip_log_path, AUDIT_LOG, 1, NULL);
}

/* ---- check 3: chain ---- */

static void drop_middle(ledger_bundle *b)
{
    drop_event(b, 4);
}

static void drop_last(ledger_bundle *b)
{
    drop_event(b, b->n_events - 1);
}

static void swap_two(ledger_bundle *b)
{
    ledger_bundle_event t = b->events[2];
    b->events[2] = b->events[3];
    b->events[3] = t;
}

static void test_an_event_dropped_from_the_middle_fails_the_chain_check(void **state)
{
    (void)state;
    expect_mutation(drop_middle, AUDIT_CHAIN, 4, "seq");
}

static void test_a_hidden_revocation_fails_the_chain_check(void **state)
{
    (void)state;
    /* the revocation is the last event: without it the chain stops short of
     * the record's head */
    expect_mutation(drop_last, AUDIT_CHAIN, 6, "missing from the end");
}

static void test_two_swapped_events_fail_the_chain_check(void **state)
{
    (void)state;
    expect_mutation(swap_two, AUDIT_CHAIN, 2, NULL);
}

static void test_an_event_of_another_license_spliced_in_fails_the_chain_check(void **state)
{
    (void)state;
    ledger_bundle a, b;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&a, g_bundle, g_bundle_len, &err), 0);
    assert_int_equal(ledger_bundle_decode(&b, g_bundle_b, g_bundle_b_len, &err), 0);
    /* B's second event (proven in the same log) in place of A's */
    ledger_bundle_event t = a.events[1];
    a.events[1] = b.events[1];
    b.events[1] = t;
    uint8_t *out;
    size_t len;
    assert_int_equal(ledger_bundle_encode(&a, &out, &len, &err), 0);
    expect_fail(out, len, NULL, AUDIT_CHAIN, 1, "belongs to license");
    free(out);
    ledger_bundle_free(&a);
    ledger_bundle_free(&b);
}

/* ---- check 4: state ---- */

static void flip_state_sibling(ledger_bundle *b)
{
    assert_true(b->state.n_siblings > 0);
    b->state.siblings[0][0] ^= 0x80;
}

static void test_a_flipped_state_proof_hash_fails_the_state_check(void **state)
{
    (void)state;
    expect_mutation(flip_state_sibling, AUDIT_STATE, -1, "state");
}

/* The attack a dishonest node would make to hide the revocation: the latest
 * header, the events before the revocation (each proven in the latest log),
 * and the record and state proof from before it. */
static void test_a_stale_state_proof_from_before_the_last_event_fails_the_state_check(
    void **state)
{
    (void)state;
    ledger_bundle cur, old;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&cur, g_bundle, g_bundle_len, &err), 0);
    assert_int_equal(ledger_bundle_decode(&old, g_old, g_old_len, &err), 0);
    drop_event(&cur, cur.n_events - 1);
    uint8_t *t = cur.record;
    size_t tl = cur.record_len;
    cur.record = old.record;
    cur.record_len = old.record_len;
    old.record = t;
    old.record_len = tl;
    cur.state = old.state;
    uint8_t *out;
    size_t len;
    assert_int_equal(ledger_bundle_encode(&cur, &out, &len, &err), 0);
    expect_fail(out, len, NULL, AUDIT_STATE, -1, "not the license's state");
    free(out);
    /* only the state proof stale (the record current): also refused */
    ledger_bundle cur2;
    assert_int_equal(ledger_bundle_decode(&cur2, g_bundle, g_bundle_len, &err), 0);
    cur2.state = old.state;
    assert_int_equal(ledger_bundle_encode(&cur2, &out, &len, &err), 0);
    expect_fail(out, len, NULL, AUDIT_STATE, -1, NULL);
    free(out);
    ledger_bundle_free(&cur2);
    ledger_bundle_free(&cur);
    ledger_bundle_free(&old);
}

/* ---- check 1: certificate ---- */

static void with_cert(const int *vals, size_t n, int other_block, int want_event,
                      const char *needle)
{
    ledger_bundle b;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&b, g_bundle, g_bundle_len, &err), 0);
    ledger_header h;
    assert_int_equal(ledger_header_decode(&h, b.header, b.header_len, &err), 0);
    uint8_t hash[32];
    ledger_sha256(b.header, b.header_len, hash);
    ledger_commit c;
    sign_cert(&g_env, &c, h.height, hash, vals, n);
    if (other_block) {
        /* validator 2 signs the precommit of another block (at the same
         * height) while the certificate names this one */
        uint8_t other[32], msg[32];
        memcpy(other, hash, 32);
        other[0] ^= 1;
        ledger_vote_sighash(g_env.g->chain_id, LEDGER_VOTE_PRECOMMIT, h.height, 0, other, msg);
        assert_int_equal(ledger_sign(&g_env.node[2], msg, NULL, c.sigs[2].sig), 0);
    }
    b.commit = c;
    uint8_t *out;
    size_t len;
    assert_int_equal(ledger_bundle_encode(&b, &out, &len, &err), 0);
    expect_fail(out, len, NULL, AUDIT_CERTIFICATE, want_event, needle);
    free(out);
    ledger_bundle_free(&b);
}

static void test_a_certificate_with_too_few_signatures_fails_the_certificate_check(void **state)
{
    (void)state;
    static const int two[] = {0, 3};
    with_cert(two, 2, 0, -1, "3 are needed");
}

static void test_a_duplicated_signer_fails_the_certificate_check(void **state)
{
    (void)state;
    static const int dup[] = {1, 1, 2};
    with_cert(dup, 3, 0, -1, "signed twice");
}

static void test_a_signer_outside_the_validator_set_fails_the_certificate_check(void **state)
{
    (void)state;
    static const int out[] = {0, 1, 4};
    with_cert(out, 3, 0, -1, "not in the validator set");
}

static void test_a_signature_over_another_block_fails_the_certificate_check(void **state)
{
    (void)state;
    static const int three[] = {0, 1, 2};
    with_cert(three, 3, 1, -1, "does not verify");
}

static void test_a_certificate_for_another_block_fails_the_certificate_check(void **state)
{
    (void)state;
    /* the genuine signatures, pasted under the older header */
    ledger_bundle b, old;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&b, g_bundle, g_bundle_len, &err), 0);
    assert_int_equal(ledger_bundle_decode(&old, g_old, g_old_len, &err), 0);
    b.commit = old.commit;
    uint8_t *out;
    size_t len;
    assert_int_equal(ledger_bundle_encode(&b, &out, &len, &err), 0);
    expect_fail(out, len, NULL, AUDIT_CERTIFICATE, -1, NULL);
    free(out);
    ledger_bundle_free(&b);
    ledger_bundle_free(&old);
}

static void test_a_header_from_another_chain_fails_the_certificate_check(void **state)
{
    (void)state;
    /* a genuine, certified bundle of a chain with the same validators but
     * another chain id */
    lt_env other;
    setup_chain(&other, "permit-test-other");
    size_t len;
    char id[64];
    run(&other, lt_apply(&other, "91350100M000100Y43", "convenience-store", 0, &len), &len, id);
    certify_tip(&other);
    uint8_t *b;
    uint64_t h;
    ledger_err err;
    assert_int_equal(ledger_bundle_build(other.L, id, 0, &b, &len, &h, &err), 0);
    ledger_audit_report rep;
    ledger_audit_failure f;
    assert_int_equal(ledger_audit_verify(other.g, b, len, NULL, &rep, &f), 0);
    ledger_audit_report_clear(&rep);
    expect_fail(b, len, NULL, AUDIT_CERTIFICATE, -1, "permit-test-other");
    free(b);
    lt_teardown(&other);
}

/* ---- check 5: replay ---- */

static void swap_tx(ledger_bundle *b)
{
    uint8_t *t = b->events[5].tx;
    size_t tl = b->events[5].tx_len;
    b->events[5].tx = b->events[6].tx;
    b->events[5].tx_len = b->events[6].tx_len;
    b->events[6].tx = t;
    b->events[6].tx_len = tl;
}

static void test_an_envelope_that_is_not_the_events_transaction_fails_the_replay_check(
    void **state)
{
    (void)state;
    expect_mutation(swap_tx, AUDIT_REPLAY, 5, "tx_id");
}

/* Validators that certify a false state: a header whose state_root commits
 * to a record claiming ISSUED although the license's own transactions
 * revoked it.  Checks 1 to 4 pass (the validators signed it); replaying the
 * transactions does not. */
static void test_a_status_that_does_not_follow_from_the_transactions_fails_the_replay_check(
    void **state)
{
    (void)state;
    ledger_bundle b;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&b, g_bundle, g_bundle_len, &err), 0);
    ledger_license rec;
    assert_int_equal(ledger_license_decode(&rec, b.record, b.record_len, &err), 0);
    assert_int_equal(rec.status, LIC_REVOKED);
    rec.status = LIC_ISSUED;
    free(b.record);
    assert_int_equal(ledger_license_encode(&rec, &b.record, &b.record_len, &err), 0);
    ledger_license_clear(&rec);
    /* a one-leaf state tree holding the forged record */
    uint8_t key[32], value[32];
    ledger_sha256(b.license_id, strlen(b.license_id), key);
    ledger_sha256(b.record, b.record_len, value);
    memset(&b.state, 0, sizeof b.state);
    b.state.end = SMT_END_LEAF;
    memcpy(b.state.leaf_key, key, 32);
    memcpy(b.state.leaf_value, value, 32);
    ledger_header h;
    assert_int_equal(ledger_header_decode(&h, b.header, b.header_len, &err), 0);
    ledger_smt_leaf_hash(key, value, h.state_root);
    uint8_t hb[LEDGER_MAX_HEADER_BYTES];
    size_t hl;
    assert_int_equal(ledger_header_encode(&h, hb, sizeof hb, &hl), 0);
    memcpy(b.header, hb, hl);
    uint8_t hash[32];
    ledger_sha256(hb, hl, hash);
    static const int all[] = {0, 1, 2, 3};
    sign_cert(&g_env, &b.commit, h.height, hash, all, 4);
    uint8_t *out;
    size_t len;
    assert_int_equal(ledger_bundle_encode(&b, &out, &len, &err), 0);
    expect_fail(out, len, NULL, AUDIT_REPLAY, 7, "gives status REVOKED; the record claims ISSUED");
    free(out);
    ledger_bundle_free(&b);
}

/* ---- check 0: bundle ---- */

static void test_a_truncated_or_padded_bundle_fails_the_bundle_check(void **state)
{
    (void)state;
    /* cut anywhere: malformed, or (cut exactly between two events) short
     * of events */
    for (size_t cut = 1; cut < g_bundle_len; cut++) {
        ledger_audit_report rep;
        ledger_audit_failure f;
        assert_int_equal(ledger_audit_verify(g_env.g, g_bundle, g_bundle_len - cut, NULL, &rep,
                                             &f), -1);
        if (f.check != AUDIT_BUNDLE &&
            !(f.check == AUDIT_CHAIN && strstr(f.reason, "missing from the end")))
            fail_msg("cut %zu: check %d: %s", cut, f.check, f.reason);
        if (getenv("PERMIT_SANITIZED") && cut > 64)
            cut += 37; /* fewer cuts under the sanitizers */
    }
    expect_fail(g_bundle, g_bundle_len / 2, NULL, AUDIT_BUNDLE, -1, NULL);
    uint8_t *pad = malloc(g_bundle_len + 16);
    memcpy(pad, g_bundle, g_bundle_len);
    memset(pad + g_bundle_len, 0, 16);
    expect_fail(pad, g_bundle_len + 16, NULL, AUDIT_BUNDLE, -1, NULL);
    memset(pad + g_bundle_len, 0xff, 16);
    expect_fail(pad, g_bundle_len + 16, NULL, AUDIT_BUNDLE, -1, NULL);
    /* a second copy of a singular field */
    memcpy(pad + g_bundle_len, "\x08\x01", 2);
    expect_fail(pad, g_bundle_len + 2, NULL, AUDIT_BUNDLE, -1, "more than once");
    free(pad);
    expect_fail((const uint8_t *)"", 0, NULL, AUDIT_BUNDLE, -1, "empty");
    /* a length past the end */
    static const uint8_t huge[] = {0x4a, 0xff, 0xff, 0xff, 0x7f};
    expect_fail(huge, sizeof huge, NULL, AUDIT_BUNDLE, -1, "truncated");
    /* more events than any bundle may carry are refused before decoding */
    size_t n = LEDGER_MAX_BUNDLE_EVENTS + 1;
    uint8_t *many = malloc(2 * n);
    for (size_t i = 0; i < n; i++) {
        many[2 * i] = 0x4a; /* field 9, length-delimited */
        many[2 * i + 1] = 0;
    }
    expect_fail(many, 2 * n, NULL, AUDIT_BUNDLE, -1, "more than the allowed number");
    free(many);
}

static void test_random_byte_flips_never_verify(void **state)
{
    (void)state;
    /* the old bundle carries no consistency proof, so every byte matters */
    uint64_t rs = 12345;
    uint8_t *b = malloc(g_old_len);
    size_t n = getenv("PERMIT_SANITIZED") ? 60 : 300;
    for (size_t k = 0; k < n; k++) {
        memcpy(b, g_old, g_old_len);
        rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t pos = (size_t)(rs >> 33) % g_old_len;
        b[pos] ^= (uint8_t)(1u << ((rs >> 20) & 7));
        ledger_audit_report rep;
        ledger_audit_failure f;
        if (ledger_audit_verify(g_env.g, b, g_old_len, NULL, &rep, &f) == 0)
            fail_msg("a flip at byte %zu of %zu still verifies", pos, g_old_len);
    }
    free(b);
}

/* ---- check 0: one bundle, one encoding ---- */

/* The top-level fields of a bundle as they lie in its bytes. */
typedef struct {
    uint32_t num;
    size_t start, end;      /* the whole field, tag included */
    size_t val;             /* where its value (or length-delimited payload) starts */
} wire_field;

static uint64_t wire_varint(const uint8_t *p, size_t *off)
{
    uint64_t v = 0;
    for (unsigned sh = 0;; sh += 7) {
        uint8_t b = p[(*off)++];
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            return v;
    }
}

static size_t wire_split(const uint8_t *p, size_t len, wire_field *out, size_t cap)
{
    size_t n = 0, off = 0;
    while (off < len) {
        assert_true(n < cap);
        wire_field *w = &out[n++];
        w->start = off;
        uint64_t tag = wire_varint(p, &off);
        w->num = (uint32_t)(tag >> 3);
        if ((tag & 7) == 0) {
            w->val = off;
            (void)wire_varint(p, &off);
        } else {
            assert_int_equal(tag & 7, 2);
            uint64_t l = wire_varint(p, &off);
            w->val = off;
            off += (size_t)l;
        }
        w->end = off;
    }
    assert_int_equal(off, len);
    return n;
}

static size_t wire_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* A growing byte string for rebuilding bundles. */
typedef struct {
    uint8_t *p;
    size_t n;
} wbuf;

static void wb_put(wbuf *w, const void *p, size_t n)
{
    w->p = realloc(w->p, w->n + n + 1);
    assert_non_null(w->p);
    memcpy(w->p + w->n, p, n);
    w->n += n;
}

static void wb_varint(wbuf *w, uint64_t v)
{
    uint8_t b[10];
    wb_put(w, b, wire_put_varint(b, v));
}

/* Verify the encoding `bad` and require check 0 with `needle`; and the
 * same bundle in its one encoding verifies (so the refusal is about the
 * encoding alone). */
static void expect_noncanonical(wbuf *bad, const char *needle)
{
    expect_fail(bad->p, bad->n, NULL, AUDIT_BUNDLE, -1, needle);
    ledger_bundle b;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&b, bad->p, bad->n, &err), -1);
    ledger_bundle_free(&b);
    free(bad->p);
    bad->p = NULL;
    bad->n = 0;
}

static void test_each_noncanonical_encoding_fails_the_bundle_check(void **state)
{
    (void)state;
    /* the old bundle carries no consistency proof: it verifies without a
     * checkpoint, so each encoding below would verify if it were accepted */
    const uint8_t *g = g_old;
    wire_field w[64];
    size_t n = wire_split(g, g_old_len, w, 64);
    assert_true(n >= 5);
    assert_int_equal(w[0].num, 1); /* version */
    assert_int_equal(w[1].num, 2); /* license_id */
    size_t idlen = w[1].end - w[1].val;
    wbuf b = {NULL, 0};

    /* a NUL and more bytes inside license_id: protobuf-c's string ends at
     * the NUL, the rest would ride along unseen */
    wb_put(&b, g, w[1].start);
    wb_varint(&b, (2 << 3) | 2);
    wb_varint(&b, idlen + 4);
    wb_put(&b, g + w[1].val, idlen);
    wb_put(&b, "\0XYZ", 4);
    wb_put(&b, g + w[1].end, g_old_len - w[1].end);
    expect_noncanonical(&b, "NUL");

    /* the version as a padded varint: 0x81 0x00 reads as 1 */
    wb_put(&b, "\x08\x81\x00", 3);
    wb_put(&b, g + w[1].start, g_old_len - w[1].start);
    expect_noncanonical(&b, "shortest form");

    /* license_id's length padded */
    wb_put(&b, g, w[1].start);
    wb_varint(&b, (2 << 3) | 2);
    uint8_t pad[2] = {(uint8_t)(idlen | 0x80), 0x00};
    wb_put(&b, pad, 2);
    wb_put(&b, g + w[1].val, g_old_len - w[1].val);
    expect_noncanonical(&b, "shortest form");

    /* a field tag padded */
    wb_put(&b, "\x88\x00\x01", 3);
    wb_put(&b, g + w[1].start, g_old_len - w[1].start);
    expect_noncanonical(&b, "shortest form");

    /* license_id before version */
    wb_put(&b, g + w[1].start, w[1].end - w[1].start);
    wb_put(&b, g + w[0].start, w[0].end - w[0].start);
    wb_put(&b, g + w[1].end, g_old_len - w[1].end);
    expect_noncanonical(&b, "out of order");

    /* the record (field 5) before the header (field 3) */
    assert_true(w[2].num == 3 && w[3].num == 4 && w[4].num == 5);
    wb_put(&b, g, w[2].start);
    wb_put(&b, g + w[4].start, w[4].end - w[4].start);
    wb_put(&b, g + w[2].start, w[4].start - w[2].start);
    wb_put(&b, g + w[4].end, g_old_len - w[4].end);
    expect_noncanonical(&b, "out of order");

    /* since_log_size = 0 written out: a default value is never written */
    size_t first_event = 0;
    while (w[first_event].num != 9)
        first_event++;
    wb_put(&b, g, w[first_event].start);
    wb_put(&b, "\x38\x00", 2);
    wb_put(&b, g + w[first_event].start, g_old_len - w[first_event].start);
    expect_noncanonical(&b, "default value");

    /* and inside a message: the first event's log_index 0 written out */
    const wire_field *ev = &w[first_event];
    wire_field iw[16];
    size_t in = wire_split(g + ev->val, ev->end - ev->val, iw, 16);
    assert_true(in >= 2 && iw[0].num == 1 && iw[1].num != 2); /* log_index 0 is not written */
    wb_put(&b, g, ev->start);
    wb_varint(&b, (9 << 3) | 2);
    wb_varint(&b, ev->end - ev->val + 2);
    wb_put(&b, g + ev->val, iw[0].end);
    wb_put(&b, "\x10\x00", 2);
    wb_put(&b, g + ev->val + iw[0].end, g_old_len - (ev->val + iw[0].end));
    expect_noncanonical(&b, "default value");

    /* a state proof sibling of 32 zero bytes: that is the empty subtree,
     * which travels as an empty string; decoded, it re-encoded shorter (a
     * second encoding found by fuzz_bundle) */
    size_t st = 0;
    while (w[st].num != 6)
        st++;
    wire_field sw[300];
    size_t sn = wire_split(g + w[st].val, w[st].end - w[st].val, sw, 300);
    assert_true(sn > 0 && sw[0].num == 1);
    size_t sib_len = sw[0].end - sw[0].val;
    static const uint8_t zero32[32];
    wb_put(&b, g, w[st].start);
    wb_varint(&b, (6 << 3) | 2);
    wb_varint(&b, w[st].end - w[st].val - sib_len + 32);
    wb_put(&b, "\x0a\x20", 2);
    wb_put(&b, zero32, 32);
    wb_put(&b, g + w[st].val + sw[0].end, g_old_len - (w[st].val + sw[0].end));
    expect_noncanonical(&b, "empty subtree");

    /* the same rule holds for transaction bodies: one shared check
     * (ledger/pbcheck.h); a body with a padded varint is refused there */
    ledger_bundle dec;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&dec, g_old, g_old_len, &err), 0);
    const ledger_bundle_event *e0 = &dec.events[0];
    wire_field bw[32];
    size_t bn = wire_split(e0->tx + LEDGER_ENVELOPE_HEADER, e0->tx_len - LEDGER_ENVELOPE_HEADER,
                           bw, 32);
    assert_true(bn > 0 && bw[0].num == 1); /* kind */
    const uint8_t *body = e0->tx + LEDGER_ENVELOPE_HEADER;
    wb_put(&b, e0->tx, LEDGER_ENVELOPE_HEADER);
    wb_put(&b, body, bw[0].val);
    uint8_t k[3] = {(uint8_t)(body[bw[0].val] | 0x80), 0x00};
    wb_put(&b, k, 2);
    wb_put(&b, body + bw[0].end, e0->tx_len - LEDGER_ENVELOPE_HEADER - bw[0].end);
    ledger_tx tx;
    assert_int_equal(ledger_tx_decode(&tx, b.p, b.n, g_env.g->chain_id, &err), -1);
    assert_string_equal(err.rule, "body_noncanonical");
    ledger_tx_release(&tx);
    free(b.p);
    ledger_bundle_free(&dec);
}

/* ---- check 6: consistency with a checkpoint ---- */

static void test_consistency_with_a_checkpoint(void **state)
{
    (void)state;
    ledger_audit_report rep;
    ledger_audit_failure f;
    /* a rewritten history: another root for the checkpoint's log size */
    ledger_audit_checkpoint cp = g_cp;
    cp.log_root[7] ^= 1;
    expect_fail(g_bundle, g_bundle_len, &cp, AUDIT_CONSISTENCY, -1, "rewritten");
    /* a checkpoint of another chain */
    cp = g_cp;
    snprintf(cp.chain_id, sizeof cp.chain_id, "elsewhere");
    expect_fail(g_bundle, g_bundle_len, &cp, AUDIT_CONSISTENCY, -1, "elsewhere");
    /* newer than the bundle: the old bundle cannot prove anything about it */
    ledger_tip tip;
    ledger_get_tip(g_env.L, &tip);
    cp.log_size = tip.header.log_size;
    memcpy(cp.log_root, tip.header.log_root, 32);
    snprintf(cp.chain_id, sizeof cp.chain_id, "%s", g_env.g->chain_id);
    expect_fail(g_old, g_old_len, &cp, AUDIT_CONSISTENCY, -1, "newer");
    /* the same log: the roots must agree (the other license's bundle is of
     * the same header, and carries no proof) */
    assert_int_equal(ledger_audit_verify(g_env.g, g_bundle_b, g_bundle_b_len, &cp, &rep, &f), 0);
    assert_int_equal(rep.consistency_checked, 1);
    ledger_audit_report_clear(&rep);
    /* a proof carried from another log size than the checkpoint's: nothing
     * could check it, so it is refused rather than ignored */
    expect_fail(g_bundle, g_bundle_len, &cp, AUDIT_CONSISTENCY, -1, "nothing can check");
    /* a bundle without a proof from the checkpoint's size */
    expect_fail(g_bundle_b, g_bundle_b_len, &g_cp, AUDIT_CONSISTENCY, -1, "no consistency proof");
    /* a consistency proof hash flipped */
    ledger_bundle b;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&b, g_bundle, g_bundle_len, &err), 0);
    assert_true(b.n_consistency > 0);
    b.consistency[0][3] ^= 0x10;
    uint8_t *out;
    size_t len;
    assert_int_equal(ledger_bundle_encode(&b, &out, &len, &err), 0);
    expect_fail(out, len, &g_cp, AUDIT_CONSISTENCY, -1, NULL);
    /* without a checkpoint a carried proof is refused, flipped or not: a
     * bundle holds no bytes the verifier ignores */
    expect_fail(out, len, NULL, AUDIT_CONSISTENCY, -1, "no checkpoint was given");
    expect_fail(g_bundle, g_bundle_len, NULL, AUDIT_CONSISTENCY, -1, "no checkpoint was given");
    free(out);
    ledger_bundle_free(&b);
}

/* ---- check 7: a checkpoint never moves back ---- */

static void checkpoint_of(ledger_audit_checkpoint *cp, const ledger_audit_report *r)
{
    memset(cp, 0, sizeof *cp);
    snprintf(cp->chain_id, sizeof cp->chain_id, "%s", r->header.chain_id);
    cp->height = r->header.height;
    cp->log_size = r->header.log_size;
    memcpy(cp->log_root, r->header.log_root, 32);
    cp->has_block = 1;
    memcpy(cp->block_hash, r->block_hash, 32);
    cp->time = r->header.time;
}

/* Moves the tip: keep it after every test that compares with the tip. */
static void test_an_older_header_with_the_same_log_fails_the_rollback_check(void **state)
{
    (void)state;
    lt_env *e = &g_env;
    ledger_err err;
    uint64_t h;
    /* a bundle of the latest certified block, without a consistency proof */
    uint8_t *older;
    size_t older_len;
    assert_int_equal(ledger_bundle_build(e->L, g_a, 0, &older, &older_len, &h, &err), 0);
    ledger_audit_report rep;
    ledger_audit_failure f;
    assert_int_equal(ledger_audit_verify(e->g, older, older_len, NULL, &rep, &f), 0);
    ledger_audit_checkpoint at_older;
    checkpoint_of(&at_older, &rep);
    ledger_audit_report_clear(&rep);
    /* heartbeats: three blocks with no event, then a certificate */
    lt_tick(e, 1000);
    lt_tick(e, 1000);
    lt_tick(e, 1000);
    uint64_t top = certify_tip(e);
    uint8_t *newer;
    size_t newer_len;
    assert_int_equal(ledger_bundle_build(e->L, g_a, 0, &newer, &newer_len, &h, &err), 0);
    assert_int_equal(h, top);
    assert_int_equal(ledger_audit_verify(e->g, newer, newer_len, &at_older, &rep, &f), 0);
    assert_int_equal(rep.header.log_size, at_older.log_size); /* the same log */
    assert_true(rep.header.height > at_older.height);
    ledger_audit_checkpoint cp;
    checkpoint_of(&cp, &rep);
    ledger_audit_report_clear(&rep);
    /* the regression: the older header against the newer checkpoint, with
     * the same log size and root.  Comparing log sizes alone accepted it
     * (and moved the checkpoint back). */
    expect_fail(older, older_len, &cp, AUDIT_ROLLBACK, -1, "the checkpoint held is newer");
    /* a checkpoint file from before block_hash and time were kept */
    ledger_audit_checkpoint bare = cp;
    bare.has_block = 0;
    expect_fail(older, older_len, &bare, AUDIT_ROLLBACK, -1, "newer");
    /* the checkpoint's own block again: fine */
    assert_int_equal(ledger_audit_verify(e->g, newer, newer_len, &cp, &rep, &f), 0);
    ledger_audit_report_clear(&rep);
    /* another block at the checkpoint's height: a fork */
    ledger_audit_checkpoint fork = cp;
    fork.block_hash[0] ^= 1;
    expect_fail(newer, newer_len, &fork, AUDIT_CONSISTENCY, -1, "forked");
    /* a later block with an earlier time than the checkpoint's */
    ledger_audit_checkpoint early = at_older;
    early.time = cp.time + 1;
    expect_fail(newer, newer_len, &early, AUDIT_CONSISTENCY, -1, "time is earlier");
    free(older);
    free(newer);
}

/* ---- check 8: freshness ---- */

static void test_a_stale_verdict_is_flagged_and_refused_past_max_age(void **state)
{
    (void)state;
    ledger_audit_report rep;
    ledger_audit_failure f;
    ledger_audit_age age;
    /* the old bundle: ISSUED, while a later block revoked the license */
    assert_int_equal(ledger_audit_verify(g_env.g, g_old, g_old_len, NULL, &rep, &f), 0);
    assert_int_equal(rep.status, LIC_ISSUED);
    uint64_t t = rep.header.time;
    uint64_t limit = ledger_audit_stale_after_ms(g_env.g);
    assert_int_equal(limit, 3 * g_env.g->params.heartbeat_ms);
    /* within three heartbeats: no warning */
    assert_int_equal(ledger_audit_freshness(g_env.g, &rep, t + limit, 0, &age, &f), 0);
    assert_int_equal(age.age_ms, limit);
    assert_int_equal(age.stale, 0);
    assert_int_equal(age.status_now, LIC_ISSUED);
    /* past them: warned, still verified */
    assert_int_equal(ledger_audit_freshness(g_env.g, &rep, t + limit + 1, 0, &age, &f), 0);
    assert_int_equal(age.stale, 1);
    assert_int_equal(age.max_age_ms, 0);
    /* --max-age: refused, naming the check */
    uint64_t day = 86400000;
    assert_int_equal(ledger_audit_freshness(g_env.g, &rep, t + 2 * day, day, &age, &f), -1);
    assert_int_equal(f.check, AUDIT_FRESHNESS);
    assert_int_equal(f.height, rep.header.height);
    assert_non_null(strstr(f.reason, "2d old, more than the 1d allowed"));
    char line[600];
    ledger_audit_failure_format(&f, line, sizeof line);
    assert_non_null(strstr(line, "check 8 (freshness) failed at block"));
    /* exactly max-age old passes */
    assert_int_equal(ledger_audit_freshness(g_env.g, &rep, t + day, day, &age, &f), 0);
    /* a block ahead of the auditor's clock is not stale */
    assert_int_equal(ledger_audit_freshness(g_env.g, &rep, t - 5000, day, &age, &f), 0);
    assert_int_equal(age.age_ms, 0);
    assert_int_equal(age.ahead_ms, 5000);
    assert_int_equal(age.stale, 0);
    /* an expiry the block's time hid shows at the auditor's clock */
    assert_true(rep.record.expires_at > t);
    assert_int_equal(ledger_audit_freshness(g_env.g, &rep, rep.record.expires_at, 0, &age, &f),
                     0);
    assert_int_equal(rep.status, LIC_ISSUED);
    assert_int_equal(age.status_now, LIC_EXPIRED);
    ledger_audit_report_clear(&rep);
    /* ages for people */
    static const struct {
        uint64_t ms;
        const char *s;
    } ages[] = {{850, "850ms"},    {41000, "41s"},        {725000, "12m 5s"},
                {11520000, "3h 12m"}, {183600000, "2d 3h"}, {86400000, "1d"}};
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
        char a[32];
        ledger_audit_age_format(ages[i].ms, a, sizeof a);
        assert_string_equal(a, ages[i].s);
    }
}

static void test_failures_format_as_one_line(void **state)
{
    (void)state;
    ledger_audit_failure f = {AUDIT_CHAIN, 4, 17, "prev is not the hash of event 3"};
    char line[600];
    ledger_audit_failure_format(&f, line, sizeof line);
    assert_string_equal(line, "check 3 (chain) failed at event 4 (block 17): prev is not the "
                              "hash of event 3");
    f.event = -1;
    f.check = AUDIT_CERTIFICATE;
    ledger_audit_failure_format(&f, line, sizeof line);
    assert_string_equal(line, "check 1 (certificate) failed at block 17: prev is not the hash "
                              "of event 3");
    assert_string_equal(ledger_audit_check_name(AUDIT_STATE), "state");
    assert_string_equal(ledger_audit_check_name(AUDIT_ROLLBACK), "rollback");
    assert_string_equal(ledger_audit_check_name(AUDIT_FRESHNESS), "freshness");
    assert_string_equal(ledger_audit_check_name(99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_genuine_bundle_verifies_with_what_it_proves),
        cmocka_unit_test(test_build_refuses_unknown_licenses_and_bad_since),
        cmocka_unit_test(test_a_changed_event_field_fails_the_log_check),
        cmocka_unit_test(test_a_flipped_inclusion_proof_hash_fails_the_log_check),
        cmocka_unit_test(test_an_event_dropped_from_the_middle_fails_the_chain_check),
        cmocka_unit_test(test_a_hidden_revocation_fails_the_chain_check),
        cmocka_unit_test(test_two_swapped_events_fail_the_chain_check),
        cmocka_unit_test(test_an_event_of_another_license_spliced_in_fails_the_chain_check),
        cmocka_unit_test(test_a_flipped_state_proof_hash_fails_the_state_check),
        cmocka_unit_test(test_a_stale_state_proof_from_before_the_last_event_fails_the_state_check),
        cmocka_unit_test(test_a_certificate_with_too_few_signatures_fails_the_certificate_check),
        cmocka_unit_test(test_a_duplicated_signer_fails_the_certificate_check),
        cmocka_unit_test(test_a_signer_outside_the_validator_set_fails_the_certificate_check),
        cmocka_unit_test(test_a_signature_over_another_block_fails_the_certificate_check),
        cmocka_unit_test(test_a_certificate_for_another_block_fails_the_certificate_check),
        cmocka_unit_test(test_a_header_from_another_chain_fails_the_certificate_check),
        cmocka_unit_test(test_an_envelope_that_is_not_the_events_transaction_fails_the_replay_check),
        cmocka_unit_test(test_a_status_that_does_not_follow_from_the_transactions_fails_the_replay_check),
        cmocka_unit_test(test_a_truncated_or_padded_bundle_fails_the_bundle_check),
        cmocka_unit_test(test_random_byte_flips_never_verify),
        cmocka_unit_test(test_each_noncanonical_encoding_fails_the_bundle_check),
        cmocka_unit_test(test_consistency_with_a_checkpoint),
        cmocka_unit_test(test_failures_format_as_one_line),
        cmocka_unit_test(test_a_stale_verdict_is_flagged_and_refused_past_max_age),
        cmocka_unit_test(test_an_older_header_with_the_same_log_fails_the_rollback_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
