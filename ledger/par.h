/* ledger/par.h: run independent jobs on all cores, for the hashing of a
 * block's state root (records, and subtrees of the state tree).
 *
 * The calling thread works too; helper threads are started per call (a few
 * tens of microseconds, against milliseconds of work), so nothing lingers
 * between blocks.  Jobs must not depend on each other's order: whatever they
 * produce must be combined by the caller afterwards. */
#ifndef PERMIT_LEDGER_PAR_H
#define PERMIT_LEDGER_PAR_H

#include <stddef.h>
#include <stdint.h>

/* Run fn(ctx, i) for i in [0, n) on up to `threads` threads (0: the number
 * of online CPUs, at most 8), including the caller's, and wait for all.
 * Falls back to running everything on the caller's thread when no thread
 * can be started. */
void ledger_par_run(size_t n, void (*fn)(void *ctx, size_t i), void *ctx, unsigned threads);

/* The number of threads ledger_par_run uses for `threads` = 0. */
unsigned ledger_par_threads(void);

/* CPU time (ns) all helper threads of ledger_par_run have used so far in
 * this process (the calling threads' share is theirs): for measuring what
 * work costs on all cores. */
uint64_t ledger_par_helper_cpu_ns(void);

#endif
