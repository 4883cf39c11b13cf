#include "metrics.h"

#include <event2/buffer.h>

#include "rpc_methods.h"

static const int result_codes[NODE_RPC_RESULTS] = {0,    -32700, -32600, -32601, -32602,
                                                   1001, 1002,   1003,   1004,   1005,
                                                   1006, -32000, 503};
static const char *const result_names[NODE_RPC_RESULTS] = {
    "ok",       "parse_error",  "invalid_request", "unknown_method", "invalid_params",
    "not_found", "rejected",    "duplicate",       "mempool_full",   "timeout",
    "unauthorized", "internal", "busy"};

/* upper bounds of the block execution histogram, seconds */
static const double exec_le[NODE_EXEC_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1,    2.5,  5};

int node_metrics_result_index(int code)
{
    for (int i = 0; i < NODE_RPC_RESULTS; i++)
        if (result_codes[i] == code)
            return i;
    return 11; /* internal */
}

void node_metrics_rpc(node_metrics *m, int method, int code)
{
    if (method < 0 || method >= NODE_RPC_MAX_METHODS)
        return;
    atomic_fetch_add(&m->rpc[method][node_metrics_result_index(code)], 1);
}

void node_metrics_block(node_metrics *m, uint64_t exec_us, uint64_t txs, uint64_t refused)
{
    atomic_fetch_add(&m->blocks_committed, 1);
    atomic_fetch_add(&m->txs_committed, txs);
    atomic_fetch_add(&m->txs_refused, refused);
    atomic_fetch_add(&m->exec_count, 1);
    atomic_fetch_add(&m->exec_sum_us, exec_us);
    for (int i = 0; i < NODE_EXEC_BUCKETS; i++)
        if ((double)exec_us / 1e6 <= exec_le[i])
            atomic_fetch_add(&m->exec_bucket[i], 1);
}

void node_metrics_render(node_metrics *m, struct evbuffer *out, uint64_t height,
                         uint64_t mempool_txs, uint64_t mempool_bytes)
{
    evbuffer_add_printf(out,
                        "# HELP permit_height Height of the last committed block.\n"
                        "# TYPE permit_height gauge\npermit_height %llu\n"
                        "# HELP permit_mempool_txs Transactions waiting for a block.\n"
                        "# TYPE permit_mempool_txs gauge\npermit_mempool_txs %llu\n"
                        "# HELP permit_mempool_bytes Bytes of transactions waiting.\n"
                        "# TYPE permit_mempool_bytes gauge\npermit_mempool_bytes %llu\n",
                        (unsigned long long)height, (unsigned long long)mempool_txs,
                        (unsigned long long)mempool_bytes);
    evbuffer_add_printf(out,
                        "# HELP permit_txs_committed_total Transactions committed in blocks.\n"
                        "# TYPE permit_txs_committed_total counter\n"
                        "permit_txs_committed_total %llu\n"
                        "# HELP permit_txs_refused_total Admitted transactions a block refused.\n"
                        "# TYPE permit_txs_refused_total counter\n"
                        "permit_txs_refused_total %llu\n"
                        "# HELP permit_blocks_committed_total Blocks committed by this node.\n"
                        "# TYPE permit_blocks_committed_total counter\n"
                        "permit_blocks_committed_total %llu\n"
                        "# HELP permit_rpc_busy_total Requests answered 503 (work queue full).\n"
                        "# TYPE permit_rpc_busy_total counter\npermit_rpc_busy_total %llu\n"
                        "# HELP permit_rpc_unauthorized_total Requests answered 401 (no or "
                        "unknown bearer token).\n"
                        "# TYPE permit_rpc_unauthorized_total counter\n"
                        "permit_rpc_unauthorized_total %llu\n",
                        (unsigned long long)atomic_load(&m->txs_committed),
                        (unsigned long long)atomic_load(&m->txs_refused),
                        (unsigned long long)atomic_load(&m->blocks_committed),
                        (unsigned long long)atomic_load(&m->http_rejected_busy),
                        (unsigned long long)atomic_load(&m->http_unauthorized));
    evbuffer_add_printf(out,
                        "# HELP permit_p2p_frames_dropped_total Frames to peers not sent: queue "
                        "full, or over the frame limit.\n"
                        "# TYPE permit_p2p_frames_dropped_total counter\n"
                        "permit_p2p_frames_dropped_total{reason=\"queue_full\"} %llu\n"
                        "permit_p2p_frames_dropped_total{reason=\"oversize\"} %llu\n"
                        "# HELP permit_p2p_evicted_total Connections closed before they "
                        "authenticated, to make room for others.\n"
                        "# TYPE permit_p2p_evicted_total counter\npermit_p2p_evicted_total %llu\n"
                        "# HELP permit_p2p_handshake_failures_total Inbound handshakes that "
                        "failed (TLS, Hello, Auth, deadline).\n"
                        "# TYPE permit_p2p_handshake_failures_total counter\n"
                        "permit_p2p_handshake_failures_total %llu\n",
                        (unsigned long long)atomic_load(&m->p2p_dropped),
                        (unsigned long long)atomic_load(&m->p2p_oversize),
                        (unsigned long long)atomic_load(&m->p2p_evicted),
                        (unsigned long long)atomic_load(&m->p2p_handshake_failed));
    evbuffer_add_printf(out, "# HELP permit_rpc_requests_total JSON-RPC calls by method and "
                             "result.\n# TYPE permit_rpc_requests_total counter\n");
    for (int i = 0; i < node_rpc_method_count() && i < NODE_RPC_MAX_METHODS; i++)
        for (int r = 0; r < NODE_RPC_RESULTS; r++) {
            uint64_t v = atomic_load(&m->rpc[i][r]);
            if (v)
                evbuffer_add_printf(out,
                                    "permit_rpc_requests_total{method=\"%s\",result=\"%s\"} "
                                    "%llu\n",
                                    node_rpc_method_name(i), result_names[r],
                                    (unsigned long long)v);
        }
    evbuffer_add_printf(out, "# HELP permit_block_exec_seconds Time to execute and commit a "
                             "block.\n# TYPE permit_block_exec_seconds histogram\n");
    for (int i = 0; i < NODE_EXEC_BUCKETS; i++)
        evbuffer_add_printf(out, "permit_block_exec_seconds_bucket{le=\"%g\"} %llu\n", exec_le[i],
                            (unsigned long long)atomic_load(&m->exec_bucket[i]));
    uint64_t count = atomic_load(&m->exec_count);
    evbuffer_add_printf(out,
                        "permit_block_exec_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "permit_block_exec_seconds_sum %.6f\n"
                        "permit_block_exec_seconds_count %llu\n",
                        (unsigned long long)count,
                        (double)atomic_load(&m->exec_sum_us) / 1e6, (unsigned long long)count);
}
