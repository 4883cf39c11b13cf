/* node/workers.h: a fixed pool of threads running queued jobs (RPC requests
 * with their signature checks; consensus' executor and p2p work).  The
 * queue is bounded: a full queue refuses the job, and the caller answers 503
 * instead of growing memory.  A pool is a ledger worker queue
 * (ledger/workq.h); these are the node's names and defaults for it. */
#ifndef PERMIT_NODE_WORKERS_H
#define PERMIT_NODE_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/workq.h"

typedef ledger_workq node_workers;
typedef void (*node_job_fn)(void *arg);

/* Start `threads` workers (0: one per core) with a queue of `max_queue`.
 * Threads that cannot start are logged; NULL when none can. */
node_workers *node_workers_new(unsigned threads, size_t max_queue);

/* Queue a job; -1 when the queue is full or memory is short. */
int node_workers_submit(node_workers *w, node_job_fn fn, void *arg);

/* Jobs waiting, for metrics. */
size_t node_workers_queued(node_workers *w);

/* Wait until no job is queued or running, at most timeout_ms; 0 when idle,
 * -1 when the time ran out. */
int node_workers_wait_idle(node_workers *w, uint64_t timeout_ms);

/* Run what is queued, then stop and join the threads; NULL-safe. */
void node_workers_free(node_workers *w);

#endif
