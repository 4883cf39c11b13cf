/* libFuzzer target: the proof bundle decoder (ledger/bundle.h) and the
 * whole offline verifier (ledger/audit.h) under the genesis the seed bundles
 * were made under (tests/fuzz/data/genesis.json).
 *
 * Invariants checked beyond "no crash, no leak, no undefined behaviour":
 * whatever decodes re-encodes into exactly the bytes it was decoded from
 * (one bundle, one encoding), which decode again to the same bundle; and
 * the verifier's answer, without a checkpoint, is one of its checks.
 * Seeds: tests/fuzz/corpus/bundle (real bundles: tests/test_fuzz_seeds.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "ledger/audit.h"
#include "ledger/bundle.h"
#include "ledger/genesis.h"

static const ledger_genesis *g_genesis;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_genesis = fz_genesis();
    return 0;
}

static void same_bundle(const ledger_bundle *a, const ledger_bundle *b)
{
    if (a->n_events != b->n_events || a->header_len != b->header_len ||
        a->record_len != b->record_len || a->state.n_siblings != b->state.n_siblings ||
        a->commit.n_sigs != b->commit.n_sigs || a->n_consistency != b->n_consistency ||
        a->since_log_size != b->since_log_size || strcmp(a->license_id, b->license_id) != 0 ||
        memcmp(a->header, b->header, a->header_len) != 0 ||
        memcmp(a->record, b->record, a->record_len) != 0 ||
        memcmp(&a->state, &b->state, sizeof a->state) != 0)
        abort();
    for (size_t i = 0; i < a->n_events; i++)
        if (a->events[i].event_len != b->events[i].event_len ||
            a->events[i].tx_len != b->events[i].tx_len ||
            a->events[i].n_path != b->events[i].n_path ||
            a->events[i].log_index != b->events[i].log_index ||
            memcmp(a->events[i].event, b->events[i].event, a->events[i].event_len) != 0 ||
            memcmp(a->events[i].tx, b->events[i].tx, a->events[i].tx_len) != 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ledger_bundle b;
    ledger_err err;
    if (ledger_bundle_decode(&b, data, size, &err) == 0) {
        uint8_t *out = NULL;
        size_t len = 0;
        if (ledger_bundle_encode(&b, &out, &len, &err) != 0 || len != size ||
            memcmp(out, data, size) != 0)
            abort();
        ledger_bundle again;
        if (ledger_bundle_decode(&again, out, len, &err) != 0)
            abort();
        same_bundle(&b, &again);
        ledger_bundle_free(&again);
        free(out);
    }
    ledger_bundle_free(&b);
    ledger_audit_report rep;
    ledger_audit_failure f;
    if (ledger_audit_verify(g_genesis, data, size, NULL, &rep, &f) == 0)
        ledger_audit_report_clear(&rep);
    else if (f.check < AUDIT_BUNDLE || f.check > AUDIT_CONSISTENCY)
        abort();
    return 0;
}
