/* ledger/vpool.h: BIP340 verification of many signatures at once, spread
 * over the threads of a worker queue (workq.h) with par.h.
 *
 * A batch of signature checks goes to the queue's threads while the
 * submitting thread goes on with other work (executing the block whose
 * signatures these are); waiting on the batch makes the waiter verify what
 * is still unclaimed, so no core idles.  Threads claim a few signatures at a
 * time with an atomic counter: no per-signature locking. */
#ifndef PERMIT_LEDGER_VPOOL_H
#define PERMIT_LEDGER_VPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"
#include "workq.h"

typedef struct {
    const ledger_pubkey *pk;
    const uint8_t *msg;  /* 32 bytes */
    const uint8_t *sig;  /* 64 bytes */
} ledger_vjob;

typedef struct ledger_vbatch ledger_vbatch;

/* A queue for signature batches: one thread fewer than the online cores (the
 * waiter verifies too), at least one.  NULL when no thread could start
 * (err; partial starts as ledger_workq_new).  Free with ledger_workq_free
 * once no batch is in flight. */
ledger_workq *ledger_vpool_new(ledger_err *err);

/* Queue n jobs on q (NULL: the waiter verifies them all).  jobs and ok (n
 * bytes; ok[i] becomes 1 when job i verified) must stay valid until
 * ledger_vbatch_wait returns.  NULL on allocation failure (then nothing was
 * queued). */
ledger_vbatch *ledger_vpool_submit(ledger_workq *q, const ledger_vjob *jobs, size_t n,
                                   uint8_t *ok);

/* Help verify, wait for the rest, free the batch.  Returns the number of
 * signatures that did not verify. */
size_t ledger_vbatch_wait(ledger_vbatch *b);

#endif
