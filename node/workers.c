/* node/workers.c: the node's worker pools (workers.h) on ledger worker
 * queues: one thread per core by default, and threads that could not start
 * go to the log. */
#include "workers.h"

#include "log.h"

node_workers *node_workers_new(unsigned threads, size_t max_queue)
{
    if (threads == 0)
        threads = ledger_workq_cores();
    ledger_err err;
    node_workers *w = ledger_workq_new("workers", threads, max_queue, &err);
    if (err.code != LEDGER_OK)
        LOG_WARN("%s", err.msg);
    return w;
}

int node_workers_submit(node_workers *w, node_job_fn fn, void *arg)
{
    return ledger_workq_submit(w, fn, arg);
}

size_t node_workers_queued(node_workers *w)
{
    return ledger_workq_queued(w);
}

int node_workers_wait_idle(node_workers *w, uint64_t timeout_ms)
{
    return ledger_workq_wait_idle(w, timeout_ms);
}

void node_workers_free(node_workers *w)
{
    ledger_workq_free(w);
}
