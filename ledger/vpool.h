/* ledger/vpool.h: parallel BIP340 verification on worker threads.
 *
 * A batch of signature checks is spread over the pool's threads while the
 * submitting thread goes on with other work (executing the block whose
 * signatures these are); waiting on the batch makes the waiter verify what is
 * still unclaimed, so no core idles.  Jobs are claimed in small chunks with
 * an atomic counter: no per-job locking. */
#ifndef PERMIT_LEDGER_VPOOL_H
#define PERMIT_LEDGER_VPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

typedef struct {
    const ledger_pubkey *pk;
    const uint8_t *msg;  /* 32 bytes */
    const uint8_t *sig;  /* 64 bytes */
} ledger_vjob;

typedef struct ledger_vpool ledger_vpool;
typedef struct ledger_vbatch ledger_vbatch;

/* Start a pool of `threads` workers (0: one fewer than the online cores, at
 * least one).  NULL on failure. */
ledger_vpool *ledger_vpool_new(unsigned threads);
/* Stop the workers (waiting for any batch in flight); NULL-safe. */
void ledger_vpool_free(ledger_vpool *p);
unsigned ledger_vpool_threads(const ledger_vpool *p);

/* Queue n jobs.  jobs and ok (n bytes; ok[i] becomes 1 when job i verified)
 * must stay valid until ledger_vbatch_wait returns.  NULL on allocation
 * failure (then nothing was queued). */
ledger_vbatch *ledger_vpool_submit(ledger_vpool *p, const ledger_vjob *jobs, size_t n,
                                   uint8_t *ok);

/* Help verify, wait for the rest, free the batch.  Returns the number of
 * signatures that did not verify. */
size_t ledger_vbatch_wait(ledger_vbatch *b);

/* submit + wait. */
size_t ledger_vpool_verify(ledger_vpool *p, const ledger_vjob *jobs, size_t n, uint8_t *ok);

#endif
