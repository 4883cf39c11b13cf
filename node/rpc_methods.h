/* node/rpc_methods.h: the JSON-RPC methods of DESIGN §7 (docs/rpc.md).
 *
 * Handlers run on RPC worker threads: they validate params, read the
 * ledger, and for tx.submit decode the envelope, verify its signature and
 * check it against the latest state.  Adding the transaction to the mempool
 * and waiting for its block are the loop thread's (node/rpc_http.c). */
#ifndef PERMIT_NODE_RPC_METHODS_H
#define PERMIT_NODE_RPC_METHODS_H

#include <jansson.h>
#include <stdint.h>

#include "ledger/err.h"

typedef struct node node;

/* JSON-RPC error codes (standard and DESIGN §7). */
enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_UNKNOWN_METHOD = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL = -32000,
    RPC_FORBIDDEN = -32001, /* the bearer token's role does not allow the method */
    RPC_NOT_FOUND = 1001,
    RPC_REJECTED = 1002,
    RPC_DUPLICATE = 1003,
    RPC_MEMPOOL_FULL = 1004,
    RPC_TIMEOUT = 1005,
    RPC_UNAUTHORIZED = 1006,
};

#define RPC_MAX_TIMEOUT_MS 60000
#define RPC_DEFAULT_TIMEOUT_MS 10000

typedef struct {
    json_t *result;        /* success (owned) */
    int code;              /* error code when result is NULL */
    char msg[400];
    json_t *data;          /* error data (owned, may be NULL) */
    /* tx.submit: what the loop thread adds to the mempool */
    int submit;
    uint8_t tx_id[32];
    uint8_t *env;          /* owned */
    size_t env_len;
    int kind;
    int wait_commit;
    uint64_t timeout_ms;
} rpc_outcome;

int node_rpc_method_count(void);
const char *node_rpc_method_name(int i);
/* Index of a method name; -1 when unknown. */
int node_rpc_method_index(const char *name);

/* 1 when method m writes (tx.submit, node.backup): a bearer token of role
 * read may not call it. */
int node_rpc_method_needs_submit(int m);

/* Run method `m` with params (may be NULL) into *out (zeroed first). */
void node_rpc_call(node *n, int m, json_t *params, rpc_outcome *out);

void node_rpc_outcome_clear(rpc_outcome *o);

/* Param checks shared by the methods (each reports its -32602 error in o):
 * the required license id "id" (0, or -1), and an integer param within
 * [lo, hi] (1 present, 0 absent when optional, -1). */
int node_rpc_license_id_param(json_t *params, const char **id, rpc_outcome *o);
int node_rpc_int_param(json_t *params, const char *name, int required, json_int_t lo,
                       json_int_t hi, json_int_t *out, rpc_outcome *o);
void node_rpc_outcome_error(rpc_outcome *o, int code, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Map a ledger refusal to its RPC error (code, message, data.rule). */
void node_rpc_outcome_ledger_error(rpc_outcome *o, const ledger_err *e, const uint8_t *tx_id);

#endif
