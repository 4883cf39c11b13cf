/* node/rpc_json.h: the JSON shapes of ledger objects in the node's RPC
 * answers (docs/rpc.md).
 *
 * Every function returns a new reference (json_decref it), or NULL when out
 * of memory.  Hashes and keys are lowercase hex; times are milliseconds. */
#ifndef PERMIT_NODE_RPC_JSON_H
#define PERMIT_NODE_RPC_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "ledger/block.h"
#include "ledger/genesis.h"
#include "ledger/ledger.h"
#include "ledger/license.h"
#include "ledger/tx.h"

/* A hex string of n bytes. */
json_t *node_json_hex(const uint8_t *p, size_t n);

/* The full license (license.get); `now` decides the derived status. */
json_t *node_json_license(const ledger_license *l, uint64_t now);

/* The summary of search results. */
json_t *node_json_license_summary(const ledger_license *l, uint64_t now);

/* A decoded transaction body: timestamp_ms, nonce, license_id and the
 * kind's fields. */
json_t *node_json_tx_body(const ledger_tx *tx);

/* A block header with its hash. */
json_t *node_json_header(const ledger_header *h);

/* A commit certificate ({round, signatures[]}), or JSON null for NULL. */
json_t *node_json_commit(const ledger_commit *c);

/* license.history: every event with its transaction's signer and details;
 * for AMEND, `details.before` holds the values it replaced.  Returns 1 and
 * *out, 0 when the license does not exist, -1 on error. */
int node_json_history(ledger *L, const char *id, json_t **out, ledger_err *err);
/* Who signed with `key`, for people (history, tx.get): {"role": "department",
 * "id", "name", "as_of"} or {"role": "registrar", "department", "name",
 * "as_of"} from the membership in force ("in_force") or else genesis
 * ("genesis"); {"role": "holder", ...} when it is holder_key (may be NULL);
 * JSON null when nobody the node knows holds it. */
json_t *node_json_signer(ledger *L, const uint8_t key[32], const uint8_t *holder_key);

/* industries.list and departments.list. */
json_t *node_json_industries(const ledger_genesis *g);
json_t *node_json_departments(const ledger_genesis *g);

#endif
