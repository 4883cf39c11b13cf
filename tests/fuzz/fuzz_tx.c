/* libFuzzer target: transaction envelopes and bodies (ledger/tx.h), under
 * the genesis of tests/fuzz/data.
 *
 * Beyond "no crash, no leak, no undefined behaviour", an envelope that
 * decodes must be what docs/formats.md says it is: 97 bytes of prefix and a
 * body within LEDGER_MAX_ENVELOPE, tx_id = SHA-256(envelope), sighash over
 * the body as given, and a body that protobuf-c packs back to exactly the
 * bytes received (one body, one encoding, one tx_id).  Then the checks a
 * node runs next (authority, fields, time, signature) and the JSON that
 * tx.get answers with, which must exist for every transaction that could be
 * committed (its text passed the field rules, its license id is UTF-8; the
 * decoder itself does not judge text, so others may have no JSON). */
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "ledger/hash.h"
#include "ledger/text.h"
#include "ledger/tx.h"
#include "node/rpc_json.h"

static const ledger_genesis *g;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g = fz_genesis();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ledger_tx tx;
    ledger_err err;
    memset(&tx, 0, sizeof tx);
    if (ledger_tx_decode(&tx, data, size, g->chain_id, &err) == 0) {
        FZ_CHECK(size > LEDGER_ENVELOPE_HEADER && size <= LEDGER_MAX_ENVELOPE);
        FZ_CHECK(data[0] == LEDGER_ENVELOPE_VERSION && tx.body != NULL);
        uint8_t h[32];
        ledger_sha256(data, size, h);
        FZ_CHECK(memcmp(h, tx.id, 32) == 0);
        ledger_tx_sighash(g->chain_id, data + LEDGER_ENVELOPE_HEADER,
                          size - LEDGER_ENVELOPE_HEADER, h);
        FZ_CHECK(memcmp(h, tx.sighash, 32) == 0);
        FZ_CHECK(memcmp(tx.signer, data + 1, 32) == 0 && memcmp(tx.sig, data + 33, 64) == 0);
        size_t blen = permit__tx_body__get_packed_size(tx.body);
        FZ_CHECK(blen == size - LEDGER_ENVELOPE_HEADER);
        uint8_t *body = malloc(blen ? blen : 1);
        FZ_CHECK(body != NULL);
        permit__tx_body__pack(tx.body, body);
        FZ_CHECK(memcmp(body, data + LEDGER_ENVELOPE_HEADER, blen) == 0);
        free(body);
        const ledger_pubkey *pk;
        int dept, fields_ok = 0;
        if (ledger_tx_authorize(g, &tx, &pk, &dept, &err) == 0) {
            (void)ledger_tx_sig_ok(&tx, pk);
            fields_ok = ledger_tx_check_fields(g, &tx, &err) == 0;
        }
        (void)ledger_tx_check_time(&tx, g->genesis_time_ms, g->params.tx_window_ms, &err);
        const char *lic = tx.body->license_id ? tx.body->license_id : "";
        json_t *j = node_json_tx_body(&tx);
        if (fields_ok && ledger_utf8_valid(lic, strlen(lic)))
            FZ_CHECK(j != NULL);
        if (j) {
            char *text = json_dumps(j, 0);
            FZ_CHECK(text != NULL);
            free(text);
            json_decref(j);
        }
    }
    ledger_tx_release(&tx);
    return 0;
}
