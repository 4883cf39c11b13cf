/* libFuzzer target: genesis documents (ledger/genesis.h, docs/genesis.md).
 *
 * A genesis that parses is within its bounds, and its lookup indexes agree
 * with its arrays: every department, seal and validator key is found where
 * it is listed. */
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "ledger/genesis.h"
#include "ledger/hash.h"
#include "node/rpc_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ledger_genesis *g;
    ledger_err err;
    if (ledger_genesis_parse((const char *)data, size, &g, &err) != 0) {
        FZ_CHECK(g == NULL);
        return 0;
    }
    uint8_t h[32];
    ledger_sha256(data, size, h);
    FZ_CHECK(memcmp(h, g->hash, 32) == 0);
    FZ_CHECK(g->chain_id != NULL && strlen(g->chain_id) >= 1 && strlen(g->chain_id) <= 64);
    FZ_CHECK(g->n_validators >= 1 && g->n_validators <= LEDGER_MAX_DEPARTMENTS);
    for (size_t d = 0; d < g->n_departments; d++) {
        FZ_CHECK(ledger_genesis_dept_index(g, g->departments[d].id) == (int)d);
        FZ_CHECK(ledger_genesis_seal_dept(g, g->departments[d].seal.raw) == (int)d);
    }
    for (size_t r = 0; r < g->n_registrars; r++)
        FZ_CHECK(ledger_genesis_registrar(g, g->registrars[r].key.raw) == &g->registrars[r]);
    for (size_t i = 0; i < g->n_industries; i++)
        FZ_CHECK(ledger_genesis_industry(g, g->industries[i].code) == &g->industries[i]);
    for (size_t v = 0; v < g->n_validators; v++) {
        const ledger_department *d = &g->departments[g->validators[v]];
        FZ_CHECK(d->validator);
        FZ_CHECK(ledger_genesis_validator_index(g, d->node.raw) == (int)v);
    }
    json_t *j = node_json_departments(g);
    FZ_CHECK(j != NULL);
    json_decref(j);
    j = node_json_industries(g);
    FZ_CHECK(j != NULL);
    json_decref(j);
    ledger_genesis_free(g);
    return 0;
}
