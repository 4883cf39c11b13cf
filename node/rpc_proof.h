/* node/rpc_proof.h: the license.proof method (DESIGN §7, §9; docs/rpc.md).
 *
 * Builds the proof bundle of a license (ledger/bundle.h) against the latest
 * certified block and answers it base64-encoded.  Runs on an RPC worker
 * thread like every method of rpc_methods.c, whose table lists it. */
#ifndef PERMIT_NODE_RPC_PROOF_H
#define PERMIT_NODE_RPC_PROOF_H

#include <jansson.h>

#include "rpc_methods.h"

/* Params it accepts: id, since_log_size. */
extern const char *const node_rpc_proof_params[];

void node_rpc_license_proof(node *n, json_t *params, rpc_outcome *o);

#endif
