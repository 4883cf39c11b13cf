/* node/rpc_http.h: the HTTP side of the RPC server (libevent evhttp):
 * POST /rpc (JSON-RPC 2.0, single or batch), GET /health, GET /metrics, and
 * GET /events (events.h).
 *
 * Bounds: request bodies (rpc_max_body, 413 beyond), headers (8 KiB), JSON
 * nesting (32), batches (100 calls), requests waiting for a worker
 * (rpc_queue, 503 beyond), slow or silent connections (rpc_timeout), and
 * how long a tx.submit waits for its block (timeout_ms ≤ 60 s). */
#ifndef PERMIT_NODE_RPC_HTTP_H
#define PERMIT_NODE_RPC_HTTP_H

#include <stddef.h>

#include "ledger/err.h"
#include "rpc_auth.h"
#include "rpc_methods.h"

typedef struct node node;

#define RPC_MAX_DEPTH 32
#define RPC_MAX_BATCH 100

struct evhttp_request;

/* The role of the request's bearer token; RPC_ROLE_NONE when one is needed
 * and missing or unknown, and the request is then answered 401 already.
 * Every role may read (GET /metrics, GET /events). */
rpc_role node_rpc_authorize(node *n, struct evhttp_request *req, const char **name);

/* Bind and start serving on cfg.rpc_listen. */
int node_rpc_start(node *n, ledger_err *err);

/* Answer every request still waiting for a block with an error (the node is
 * stopping); requests still with a worker are answered when they return. */
void node_rpc_drain(node *n);

/* Close the server and every connection. */
void node_rpc_free(node *n);

/* 1 when JSON text nests arrays/objects deeper than max (strings are
 * skipped correctly); checked before parsing so the parser's own recursion
 * stays shallow. */
int node_json_too_deep(const char *s, size_t len, int max);

/* One call of a request body. */
typedef struct {
    json_t *id;          /* NULL for a notification (no answer) */
    int method;          /* index, or -1 */
    rpc_outcome out;
    json_t *response;    /* the answer once known (loop thread) */
    int waiting;         /* for its transaction's block (loop thread) */
} rpc_call;

/* A request body once parsed and run: either whole_error (a parse error, an
 * empty or oversized batch: the answer to the request as a whole) or ncalls
 * calls with their outcomes. */
typedef struct {
    int batch;
    rpc_call *calls;
    size_t ncalls;
    json_t *whole_error;
} rpc_body;

/* The worker's half of POST /rpc: bound the nesting, parse the body, check
 * each request's form and run its method (node_rpc_call) into *out (zeroed
 * first; clear it with node_rpc_body_clear).  Touches no libevent object and
 * not the mempool: a tx.submit only says in its outcome what to add.  role is
 * the bearer token's (a write needs RPC_ROLE_SUBMIT), token its name. */
void node_rpc_run_body(node *n, const char *body, size_t len, rpc_role role, const char *token,
                       rpc_body *out);
void node_rpc_body_clear(rpc_body *b);

/* The JSON-RPC answer to a call whose outcome is final (not a tx.submit
 * still to be added to the mempool): a new reference. */
json_t *node_rpc_call_response(const rpc_call *c);

#endif
