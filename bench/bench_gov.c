/* bench_gov: a license's proof bundle on a chain with many governance
 * changes (DESIGN §9: the bundle carries the governance record and its
 * events, and the verifier replays them from genesis).
 *
 * On the test chain of tests/ledgertest.h (six departments, one validator),
 * executes PERMIT_BENCH_GOV_CHANGES (default 100) governance changes, each a
 * proposal and the approvals that make its quorum (five of six: five events
 * a change), alternating registrars added and a parameter set; a license
 * approved after them is certified, its bundle built and verified offline.
 *
 * Prints last: RESULT bench=gov changes=.. gov_events=.. bundle_bytes=..
 *              gov_record_bytes=.. verify_ms=.. build_ms=.. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/ledgertest.h"
#include "../tests/testutil.h"
#include "benchutil.h"
#include "ledger/audit.h"
#include "ledger/block.h"
#include "ledger/bundle.h"
#include "ledger/gov.h"
#include "ledger/tx.h"

/* (the length by pointer: read after the builder that sets it ran) */
static void run_ok(lt_env *env, uint8_t *tx, const size_t *lenp)
{
    size_t len = *lenp;
    ledger_err err;
    if (lt_run_free(env, 0, tx, len, NULL, &err) != 0) {
        fprintf(stderr, "bench_gov: refused by %s: %s\n", err.rule ? err.rule : "-", err.msg);
        exit(1);
    }
}

static uint8_t *propose(lt_env *env, const ledger_keypair *kp, uint32_t i, const uint8_t key[32],
                        size_t *len)
{
    Permit__TxBody b;
    uint8_t nonce[LEDGER_NONCE_LEN];
    if (ledger_tx_body_init(&b, PERMIT__TX_KIND__GOV_PROPOSE, env->now + LT_SEC, nonce) != 0)
        exit(1);
    Permit__GovPropose gp = PERMIT__GOV_PROPOSE__INIT;
    Permit__GovChange gc = PERMIT__GOV_CHANGE__INIT;
    char name[32];
    snprintf(name, sizeof name, "窗口%u", i);
    if (i % 2 == 0) {
        gc.type = LEDGER_GOV_ADD_REGISTRAR;
        gc.name = name;
        gc.department = "approval";
        gc.key.data = (uint8_t *)key;
        gc.key.len = 32;
    } else {
        gc.type = LEDGER_GOV_SET_PARAM;
        gc.name = "max_addresses";
        gc.value = 4 + i % 20;
    }
    gp.change = &gc;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_GOV_PROPOSE;
    b.gov_propose = &gp;
    return lt_sign(env, kp, &b, len);
}

static uint8_t *approve(lt_env *env, const ledger_keypair *kp, uint32_t id, size_t *len)
{
    Permit__TxBody b;
    uint8_t nonce[LEDGER_NONCE_LEN];
    if (ledger_tx_body_init(&b, PERMIT__TX_KIND__GOV_APPROVE, env->now + LT_SEC, nonce) != 0)
        exit(1);
    Permit__GovApprove ga = PERMIT__GOV_APPROVE__INIT;
    ga.proposal_id = id;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_GOV_APPROVE;
    b.gov_approve = &ga;
    return lt_sign(env, kp, &b, len);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    size_t changes = bench_env_size("PERMIT_BENCH_GOV_CHANGES", 100);
    lt_env env_, *env = &env_;
    memset(env, 0, sizeof env_);
    lt_setup(env, NULL);
    size_t len;
    for (uint32_t i = 0; i < changes; i++) {
        ledger_keypair k;
        ledger_err err;
        if (ledger_keygen(&k, &err) != 0)
            return 1;
        ledger_gov *gv = ledger_gov_acquire(env->L);
        uint32_t id = gv->next_proposal;
        ledger_gov_release(gv);
        run_ok(env, propose(env, lt_dept(env, LT_APPROVAL), i, k.pub, &len), &len);
        for (int d = LT_MARKET; d <= LT_HEALTH; d++)
            run_ok(env, approve(env, lt_dept(env, d), id, &len), &len);
    }
    char lic[80];
    ledger_err err;
    uint8_t *tx = lt_apply(env, "91350100M000100Y43", "convenience-store", 0, &len);
    if (lt_run_free(env, 0, tx, len, lic, &err) != 0)
        return 1;
    run_ok(env, lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, lic, NULL, 0,
                            NULL, &len), &len);
    /* certify the tip with the one validator */
    const ledger_keypair *one[] = {&env->node[LT_MARKET]};
    if (lt_certify_tip(env, one, 1, &err) != 0)
        return 1;
    uint8_t *bundle;
    size_t blen;
    uint64_t h;
    double t0 = bench_now_s();
    if (ledger_bundle_build(env->L, lic, 0, &bundle, &blen, &h, &err) != 0) {
        fprintf(stderr, "bench_gov: %s\n", err.msg);
        return 1;
    }
    double build_ms = (bench_now_s() - t0) * 1e3;
    ledger_bundle b;
    if (ledger_bundle_decode(&b, bundle, blen, &err) != 0)
        return 1;
    size_t gov_events = b.n_gov_events, gov_bytes = b.gov_record_len;
    ledger_bundle_free(&b);
    double runs[11];
    for (int r = 0; r < 11; r++) {
        ledger_audit_report rep;
        ledger_audit_failure f;
        t0 = bench_now_s();
        if (ledger_audit_verify(env->g, bundle, blen, NULL, &rep, &f) != 0) {
            fprintf(stderr, "bench_gov: the bundle does not verify: %s\n", f.reason);
            return 1;
        }
        runs[r] = (bench_now_s() - t0) * 1e3;
        ledger_audit_report_clear(&rep);
    }
    qsort(runs, 11, sizeof runs[0], cmp_double);
    printf("a license after %zu governance changes (%zu governance events): bundle %zu bytes "
           "(governance record %zu), built in %.2f ms, verified offline in %.2f ms (median "
           "of 11)\n", changes, gov_events, blen, gov_bytes, build_ms, runs[5]);
    printf("RESULT bench=gov changes=%zu gov_events=%zu bundle_bytes=%zu gov_record_bytes=%zu "
           "verify_ms=%.2f build_ms=%.2f\n", changes, gov_events, blen, gov_bytes, runs[5],
           build_ms);
    free(bundle);
    lt_teardown(env);
    return 0;
}
