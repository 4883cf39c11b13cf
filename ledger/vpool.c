/* ledger/vpool.c: signature batches over a worker queue (vpool.h). */
#include "vpool.h"

#include <stdlib.h>

#include "par.h"

/* Signatures a thread claims at a time: one claim per ~0.5 ms of work. */
#define CHUNK 8

struct ledger_vbatch {
    const ledger_vjob *jobs;
    uint8_t *ok;
    size_t n;
    ledger_par *run;  /* one job per chunk */
};

static void verify_chunk(void *ctx, size_t c)
{
    ledger_vbatch *b = ctx;
    size_t end = (c + 1) * CHUNK < b->n ? (c + 1) * CHUNK : b->n;
    for (size_t k = c * CHUNK; k < end; k++) {
        const ledger_vjob *j = &b->jobs[k];
        b->ok[k] = (uint8_t)ledger_verify(j->pk, j->msg, 32, j->sig);
    }
}

ledger_workq *ledger_vpool_new(ledger_err *err)
{
    unsigned cores = ledger_workq_cores();
    unsigned threads = cores > 1 ? cores - 1 : 1;
    /* a block of the largest size queues a few tens of batches, each with
     * one helper per thread */
    return ledger_workq_new("signature checks", threads, 64 * (size_t)threads, err);
}

ledger_vbatch *ledger_vpool_submit(ledger_workq *q, const ledger_vjob *jobs, size_t n,
                                   uint8_t *ok)
{
    ledger_vbatch *b = malloc(sizeof *b);
    if (b == NULL)
        return NULL;
    b->jobs = jobs;
    b->ok = ok;
    b->n = n;
    unsigned threads = q ? ledger_workq_threads(q) + 1 : 1;
    b->run = ledger_par_start(q, (n + CHUNK - 1) / CHUNK, verify_chunk, b, threads, NULL);
    if (b->run == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

size_t ledger_vbatch_wait(ledger_vbatch *b)
{
    ledger_par_finish(b->run);
    size_t bad = 0;
    for (size_t i = 0; i < b->n; i++)
        bad += !b->ok[i];
    free(b);
    return bad;
}
