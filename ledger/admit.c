/* ledger/admit.c: what a node checks before a transaction enters its
 * mempool (ledger.h, ledger_admit, ledger_precheck). */
#include <string.h>

#include "gov.h"
#include "ledger.h"
#include "ledger_int.h"
#include "rules.h"

/* The state rules against membership gv, the one whose department index
 * `dept` is (an index into another membership, one a block changed in the
 * meantime, could name another department or none). */
static int precheck_in(ledger *L, const ledger_gov *gv, const ledger_tx *tx, int dept,
                       uint64_t now, ledger_err *err)
{
    if (dept >= 0 && (size_t)dept >= gv->m->n_departments)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "department index out of range");
    if (tx->kind == PERMIT__TX_KIND__APPLY) /* the id is assigned by the block */
        return ledger_precheck_duplicate(L, tx->body->apply->uscc, tx->body->apply->industry,
                                         err);
    if (ledger_tx_kind_is_gov(tx->kind)) {
        /* the rules of the block, against the membership of the tip */
        ledger_tip tip;
        ledger_get_tip(L, &tip);
        ledger_gov *vs = ledger_vset_acquire(L, tip.height + 1, err);
        if (vs == NULL)
            return -1;
        ledger_gov_outcome o;
        int rc = ledger_gov_step(gv, gv, vs, tx, dept, now, tip.height + 1, &o, err);
        ledger_gov_outcome_clear(&o);
        ledger_gov_release(vs);
        return rc;
    }
    ledger_license lic;
    int r = ledger_get_license(L, tx->body->license_id, &lic, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, "license_not_found",
                           "license %.64s does not exist", tx->body->license_id);
    if (ledger_rules_check_events(&lic, tx->kind, err) != 0) {
        ledger_license_clear(&lic);
        return -1;
    }
    int rc = ledger_rules_apply(gv->m, tx, dept, now, NULL, &lic, err);
    ledger_license_clear(&lic);
    return rc;
}

int ledger_precheck(ledger *L, const ledger_tx *tx, int dept, uint64_t now, ledger_err *err)
{
    ledger_gov *gv = ledger_gov_acquire(L);
    int rc = precheck_in(L, gv, tx, dept, now, err);
    ledger_gov_release(gv);
    return rc;
}

int ledger_admit(ledger *L, const uint8_t *env, size_t len, uint64_t now, int skip_sig,
                 ledger_tx *tx, int *dept, ledger_err *err)
{
    ledger_gov *gv = ledger_gov_acquire(L);
    const ledger_genesis *g = gv->m; /* the membership in force at the tip */
    const ledger_pubkey *pk = NULL;
    *dept = -1;
    if (ledger_tx_decode(tx, env, len, g->chain_id, err) != 0 ||
        ledger_gov_authorize(gv, tx, &pk, dept, err) != 0 ||
        ledger_tx_check_fields(g, tx, err) != 0 ||
        ledger_tx_check_time(tx, now, g->params.tx_window_ms, err) != 0) {
        ledger_gov_release(gv);
        return -1;
    }
    /* committed before the signature: a lookup is cheaper than a BIP340
     * check, and the same bytes (the id is their hash) verified once */
    int r = ledger_get_tx(L, tx->id, NULL, NULL, NULL, NULL, err);
    if (r != 0) {
        ledger_gov_release(gv);
        return r < 0 ? -1
                     : ledger_fail(err, LEDGER_ERR_DUPLICATE, "tx_duplicate",
                                   "the transaction is already committed");
    }
    /* pk lives in the membership: checked before it is released */
    if (!skip_sig && !ledger_tx_sig_ok(tx, pk)) {
        ledger_gov_release(gv);
        return ledger_fail(err, LEDGER_ERR_RULE, "signature_invalid",
                           "the signature does not verify for this chain and signer");
    }
    /* the state rules against the same membership that gave *dept: a block
     * committed meanwhile may have removed a department and moved the
     * indices (ledger_gov_acquire again could read past the array) */
    ledger_tip tip;
    ledger_get_tip(L, &tip);
    int rc = precheck_in(L, gv, tx, *dept, tip.time > now ? tip.time : now, err);
    ledger_gov_release(gv);
    return rc;
}
