/* node/rpc_proof.c: license.proof (rpc_proof.h). */
#include "rpc_proof.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/bundle.h"
#include "ledger/hex.h"
#include "node.h"

const char *const node_rpc_proof_params[] = {"id", "since_log_size", NULL};

void node_rpc_license_proof(node *n, json_t *params, rpc_outcome *o)
{
    const char *id;
    json_int_t jsince = 0;
    if (node_rpc_license_id_param(params, &id, o) != 0 ||
        node_rpc_int_param(params, "since_log_size", 0, 0, INT64_MAX, &jsince, o) < 0)
        return;
    uint64_t since = (uint64_t)jsince;
    uint8_t *bundle = NULL;
    size_t len = 0;
    uint64_t height = 0;
    ledger_err e;
    if (ledger_bundle_build(n->L, id, since, &bundle, &len, &height, &e) != 0) {
        if (e.code == LEDGER_ERR_NOTFOUND)
            node_rpc_outcome_error(o, RPC_NOT_FOUND,
                              json_pack("{s:s}", "rule", e.rule ? e.rule : "license_not_found"),
                              "%s", e.msg);
        else if (e.rule && strcmp(e.rule, "bundle_too_large") == 0)
            node_rpc_outcome_error(o, RPC_REJECTED, json_pack("{s:s}", "rule", e.rule), "%s",
                                   e.msg);
        else if (e.code == LEDGER_ERR_INVALID && since > 0 && strstr(e.msg, "since_log_size"))
            node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "since_log_size"),
                              "%s", e.msg);
        else
            node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "internal error: %s", e.msg);
        return;
    }
    char *b64 = malloc(ledger_b64_len(len) + 1);
    if (b64 == NULL) {
        free(bundle);
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "out of memory");
        return;
    }
    ledger_b64_encode(bundle, len, b64);
    free(bundle);
    json_t *r = json_pack("{s:s, s:I, s:I, s:s}", "license_id", id, "height", (json_int_t)height,
                          "bytes", (json_int_t)len, "bundle", b64);
    free(b64);
    if (r == NULL)
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "out of memory");
    else
        o->result = r;
}
