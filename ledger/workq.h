/* ledger/workq.h: a fixed set of threads running jobs from one bounded FIFO
 * queue: the one worker-queue implementation of the project.
 *
 * In the ledger: parallel signature checks (vpool.h) and hashing on all
 * cores (par.h) spread over one; the pipelined commit writes blocks on a
 * one-thread one (ledger.h, ledger_exec_commit_async).  In the node: the RPC
 * workers and consensus' executor and p2p work (node/workers.h), and
 * single-validator block production (node/solo.c).
 *
 * Jobs start in the order they were submitted; with one thread they also
 * finish in that order.  The queue is bounded: a full queue refuses a job
 * instead of growing, and the submitter decides what refusal means (answer
 * 503, do the work itself...).  Memory for the queue grows as it fills, up
 * to the bound, so a large bound costs nothing until it is used.
 *
 * Thread safety: every function may be called from any thread, except that
 * ledger_workq_wait_idle and ledger_workq_free must not be called from one
 * of the queue's own jobs (they would wait for themselves). */
#ifndef PERMIT_LEDGER_WORKQ_H
#define PERMIT_LEDGER_WORKQ_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct ledger_workq ledger_workq;

/* A job: runs once, on one of the queue's threads, with the argument given
 * at submission.  It owns arg from then on. */
typedef void (*ledger_work_fn)(void *arg);

/* ledger_workq_wait_idle without a time limit. */
#define LEDGER_WORKQ_FOREVER UINT64_MAX

/* Start `threads` threads (at least 1) serving a queue that holds at most
 * `max_queued` jobs waiting to start (SIZE_MAX: no bound but memory; 0:
 * every job is refused).  `name` (a static string) names the queue in error
 * messages.
 *
 * Every pthread_create is checked.  Returns the queue, or NULL when not even
 * one thread could start or memory ran out, with err saying why.  When some
 * threads start and others do not, the queue runs with those that did
 * (ledger_workq_threads says how many) and err (code LEDGER_ERR_NOMEM)
 * says how many could not and why, for the caller to report; on full
 * success err is cleared to LEDGER_OK.  err may be NULL. */
ledger_workq *ledger_workq_new(const char *name, unsigned threads, size_t max_queued,
                               ledger_err *err);

/* The online CPU cores (at least 1), by which pools are sized. */
unsigned ledger_workq_cores(void);

/* The number of threads running jobs (<= the number asked for). */
unsigned ledger_workq_threads(const ledger_workq *q);

/* Queue fn(arg).  Returns 0, or -1 when the queue already holds max_queued
 * waiting jobs, memory ran out, or the queue is shutting down; then nothing
 * was queued and arg is still the caller's. */
int ledger_workq_submit(ledger_workq *q, ledger_work_fn fn, void *arg) LEDGER_WUR;

/* Jobs waiting to start (not those running), for metrics. */
size_t ledger_workq_queued(ledger_workq *q);

/* Wait until no job is queued or running, at most timeout_ms milliseconds
 * (LEDGER_WORKQ_FOREVER: no limit; measured on the monotonic clock).
 * Returns 0 when idle, -1 when the time ran out.  Jobs submitted meanwhile
 * are waited for too. */
int ledger_workq_wait_idle(ledger_workq *q, uint64_t timeout_ms) LEDGER_WUR;

/* Shut down, in this order: refuse new jobs; let the threads run every job
 * already queued, in order (none is dropped: a job that must not run after
 * shutdown checks a flag of its owner's); wait for the running ones; join
 * the threads; free.  NULL-safe. */
void ledger_workq_free(ledger_workq *q);

#endif
