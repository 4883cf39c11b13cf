/* node/rpc_gov.h: the RPC methods of the membership and governance
 * (DESIGN §7, docs/rpc.md): industries.list, departments.list,
 * registrars.list, observers.list, gov.list, gov.get, chain.membership.
 * Each answers from the membership in force (ledger/gov.h), never from
 * genesis.json.  Run on worker threads, like every method. */
#ifndef PERMIT_NODE_RPC_GOV_H
#define PERMIT_NODE_RPC_GOV_H

#include <jansson.h>

#include "rpc_methods.h"

extern const char *const node_rpc_gov_list_params[];
extern const char *const node_rpc_gov_get_params[];
extern const char *const node_rpc_membership_params[];

void node_rpc_industries(node *n, json_t *params, rpc_outcome *o);
void node_rpc_departments(node *n, json_t *params, rpc_outcome *o);
void node_rpc_registrars(node *n, json_t *params, rpc_outcome *o);
void node_rpc_observers(node *n, json_t *params, rpc_outcome *o);
void node_rpc_gov_list(node *n, json_t *params, rpc_outcome *o);
void node_rpc_gov_get(node *n, json_t *params, rpc_outcome *o);
void node_rpc_membership(node *n, json_t *params, rpc_outcome *o);

#endif
