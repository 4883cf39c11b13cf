/* libFuzzer target: JSON-RPC request bodies, through the real worker half
 * of POST /rpc (node_rpc_run_body: depth bound, parse, batch, request form,
 * the method table and every method) on a node whose ledger holds the
 * certified chain of tests/fuzz/data.  No sockets, no event loop: the loop
 * thread's half (adding a tx.submit to the mempool, waiting for its block)
 * is not run.
 *
 * Invariants: a body gets either one error about the whole request or one
 * outcome per call (at most RPC_MAX_BATCH); every answer owed serialises; a
 * tx.submit that passed carries the envelope and its id. */
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "ledger/hash.h"
#include "node/node.h"
#include "node/rpc_http.h"

static node g_node;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_node.g = (ledger_genesis *)fz_genesis();
    g_node.L = fz_ledger(fz_chain()->n_blocks);
    g_node.validator = 0;
    g_node.dept = g_node.g->validators[0];
    g_node.cfg.mempool_max_txs = 1000;
    g_node.lock_fd = -1;
    return 0;
}

static void check_json(json_t *j)
{
    FZ_CHECK(j != NULL);
    char *s = json_dumps(j, JSON_COMPACT);
    FZ_CHECK(s != NULL);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) /* rpc_max_body's default is 1 MiB */
        return 0;
    rpc_body b;
    node_rpc_run_body(&g_node, (const char *)data, size, RPC_ROLE_SUBMIT, NULL, &b);
    FZ_CHECK((b.whole_error != NULL) != (b.ncalls > 0));
    FZ_CHECK(b.ncalls <= RPC_MAX_BATCH);
    if (b.whole_error)
        check_json(b.whole_error);
    for (size_t i = 0; i < b.ncalls; i++) {
        const rpc_call *c = &b.calls[i];
        if (c->out.submit) {
            uint8_t id[32];
            FZ_CHECK(c->out.env != NULL && c->out.env_len > 0);
            ledger_sha256(c->out.env, c->out.env_len, id);
            FZ_CHECK(memcmp(id, c->out.tx_id, 32) == 0);
            continue;
        }
        FZ_CHECK(c->out.result != NULL || c->out.code != 0);
        if (c->id == NULL)
            continue; /* a notification: nobody is answered */
        json_t *r = node_rpc_call_response(c);
        check_json(r);
        json_decref(r);
    }
    node_rpc_body_clear(&b);
    return 0;
}
