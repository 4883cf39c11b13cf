/* ledger/par.h: independent jobs spread over the threads of a worker queue
 * (workq.h) and the calling thread: the hashing of a block's state root
 * (records, and subtrees of the state tree) and signature checks (vpool.h).
 *
 * A run of n jobs fn(ctx, 0..n-1) puts up to `threads` - 1 helpers on the
 * queue; each helper, and the caller when it waits, claims the next job with
 * an atomic counter until none is left, so the caller never waits for a
 * helper that has not started (a queue busy with other work only means fewer
 * hands).  Jobs must not depend on each other's order: whatever they produce
 * is the caller's to combine afterwards. */
#ifndef PERMIT_LEDGER_PAR_H
#define PERMIT_LEDGER_PAR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "workq.h"

typedef struct ledger_par ledger_par;

typedef void (*ledger_par_fn)(void *ctx, size_t i);

/* The number of threads, the caller's included, that a run uses for
 * `threads` = 0: the online CPUs, at most 8. */
unsigned ledger_par_threads(void);

/* A queue of ledger_par_threads() - 1 helper threads for ledger_par_run.
 * NULL on a single core (everything then runs on the caller) or when no
 * thread could start (err; partial starts as ledger_workq_new). */
ledger_workq *ledger_par_helpers_new(ledger_err *err);

/* Start n jobs: up to threads - 1 helpers (threads 0: ledger_par_threads())
 * go on q (NULL: none; a full queue takes fewer) and begin claiming jobs.
 * ctx, and whatever fn reaches through it, must stay valid until
 * ledger_par_finish returns.  With cpu_ns not NULL, the CPU time helpers
 * spend in fn is added to it (nanoseconds) before the jobs count as done.
 * NULL when memory is short: then nothing was started. */
ledger_par *ledger_par_start(ledger_workq *q, size_t n, ledger_par_fn fn, void *ctx,
                             unsigned threads, _Atomic uint64_t *cpu_ns);

/* Run the jobs no helper has claimed on this thread, wait for those they
 * did, and release the run.  Every fn(ctx, i) has returned afterwards. */
void ledger_par_finish(ledger_par *p);

/* start + finish, for `threads` as above; runs everything on the calling
 * thread when a run cannot start.  The helpers' CPU time is counted in
 * ledger_par_helper_cpu_ns. */
void ledger_par_run(ledger_workq *q, size_t n, ledger_par_fn fn, void *ctx, unsigned threads);

/* CPU time (ns) the helpers of ledger_par_run have spent in jobs so far in
 * this process (the calling threads' share is theirs): for measuring what
 * work costs on all cores. */
uint64_t ledger_par_helper_cpu_ns(void);

#endif
