/* node/metrics.h: counters for GET /metrics (Prometheus text format).
 * Updated from any thread with atomics; rendered on the loop thread. */
#ifndef PERMIT_NODE_METRICS_H
#define PERMIT_NODE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#define NODE_RPC_MAX_METHODS 24
#define NODE_RPC_RESULTS 13
#define NODE_EXEC_BUCKETS 12

typedef struct {
    _Atomic uint64_t rpc[NODE_RPC_MAX_METHODS][NODE_RPC_RESULTS];
    _Atomic uint64_t txs_committed, txs_refused, blocks_committed;
    _Atomic uint64_t exec_bucket[NODE_EXEC_BUCKETS]; /* cumulative counts by le */
    _Atomic uint64_t exec_count, exec_sum_us;
    _Atomic uint64_t http_rejected_busy;             /* 503 answers */
    _Atomic uint64_t http_unauthorized;              /* 401 answers: no or unknown token */
    /* p2p (node/p2p.c): frames not sent, connections evicted before they
     * authenticated, failed handshakes */
    _Atomic uint64_t p2p_dropped, p2p_oversize, p2p_evicted, p2p_handshake_failed;
} node_metrics;

/* Result label index of a JSON-RPC error code (0 = ok). */
int node_metrics_result_index(int code);
void node_metrics_rpc(node_metrics *m, int method, int code);
void node_metrics_block(node_metrics *m, uint64_t exec_us, uint64_t txs, uint64_t refused);

struct evbuffer;
/* Append the text exposition; height and mempool come from the caller. */
void node_metrics_render(node_metrics *m, struct evbuffer *out, uint64_t height,
                         uint64_t mempool_txs, uint64_t mempool_bytes);

#endif
