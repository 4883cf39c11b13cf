/* node/rpc_http.h: the HTTP side of the RPC server (libevent evhttp):
 * POST /rpc (JSON-RPC 2.0, single or batch), GET /health, GET /metrics.
 *
 * Bounds: request bodies (rpc_max_body, 413 beyond), headers (8 KiB), JSON
 * nesting (32), batches (100 calls), requests waiting for a worker
 * (rpc_queue, 503 beyond), slow or silent connections (rpc_timeout), and
 * how long a tx.submit waits for its block (timeout_ms ≤ 60 s). */
#ifndef PERMIT_NODE_RPC_HTTP_H
#define PERMIT_NODE_RPC_HTTP_H

#include <stddef.h>

#include "ledger/err.h"

typedef struct node node;

#define RPC_MAX_DEPTH 32
#define RPC_MAX_BATCH 100

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

#endif
