/* ledger/apply.c: blocks received from elsewhere (ledger.h): validated by
 * re-executing them, their signatures verified on all cores meanwhile
 * (vpool.h), and applied. */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_int.h"
#include "vpool.h"

/* ---- applying a received block ---- */

#define APPLY_CHUNK 512

/* The signature checkers, started on first use; NULL when no thread can
 * start (the signatures are then verified on this thread). */
static ledger_workq *verifiers_of(ledger *L)
{
    if (L->verifiers == NULL)
        L->verifiers = ledger_vpool_new(NULL);
    return L->verifiers;
}

static int block_invalid(ledger_err *err, const char *what)
{
    return ledger_fail(err, LEDGER_ERR_RULE, "block_invalid", "%s", what);
}

/* Turn the refusal of transaction i into the refusal of its block, keeping
 * the transaction's own rule in the message. */
static void block_tx_invalid(ledger_err *err, size_t i)
{
    if (err == NULL)
        return;
    char pre[96];
    snprintf(pre, sizeof pre, "block_invalid: transaction %zu refused (rule %s)", i,
             err->rule ? err->rule : "-");
    ledger_err_prefix(err, pre);
    err->code = LEDGER_ERR_RULE;
    err->rule = "block_invalid";
}

/* The certificate of the previous block this ledger holds: the one in
 * the block still being written, or the stored one (1 found, 0 none, -1). */
static int own_last_commit(ledger *L, ledger_commit *c, ledger_err *err)
{
    uint64_t h = L->head.tip.height;
    if (L->inflight && L->inflight->height == h && L->inflight->has_cert) {
        *c = L->inflight->cert;
        return 1;
    }
    return ledger_get_commit(L, h, c, err);
}

static int check_last_commit(ledger *L, const ledger_header *want, const ledger_commit *carried,
                             ledger_err *err)
{
    static const uint8_t zero[32];
    uint8_t h[32];
    if (want->height == 1) {
        if (memcmp(want->last_commit_hash, zero, 32) != 0)
            return block_invalid(err, "the first block names a certificate before it");
        return 0;
    }
    if (carried) {
        ledger_err e;
        ledger_commit_hash(carried, h);
        if (memcmp(h, want->last_commit_hash, 32) != 0)
            return block_invalid(err, "last_commit_hash is not the hash of the previous block's "
                                      "certificate carried with it");
        if (ledger_commit_verify(L->head_vset_prev->m, carried, L->head.tip.hash,
                                 L->head.tip.height, &e) != 0)
            return ledger_fail(err, LEDGER_ERR_RULE, "block_invalid",
                               "the previous block's certificate carried with it does not "
                               "verify: %s",
                               e.msg);
        return 0;
    }
    ledger_commit own;
    int r = own_last_commit(L, &own, err);
    if (r < 0)
        return -1;
    if (r == 0)
        memset(h, 0, 32);
    else
        ledger_commit_hash(&own, h);
    if (memcmp(h, want->last_commit_hash, 32) != 0)
        return block_invalid(err, "last_commit_hash names a certificate of the previous block "
                                  "that this node does not hold, and none came with the block");
    return 0;
}

int ledger_validate_block(ledger *L, const uint8_t *hb, size_t hlen,
                          const uint8_t *const *txs, const size_t *tx_lens, size_t n,
                          const ledger_commit *last_commit, const uint8_t *trusted,
                          ledger_tx_result *results, ledger_exec **held, ledger_err *err)
{
    const ledger_genesis *g = L->g;
    *held = NULL;
    ledger_header want;
    if (ledger_header_decode(&want, hb, hlen, err) != 0)
        return -1;
    /* bounds first: those in force at this block (governance may change them) */
    const ledger_params *bp = &L->head_gov->m->params;
    if (n > bp->max_block_txs)
        return block_invalid(err, "block holds more transactions than max_block_txs");
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += tx_lens[i];
    if (bytes > bp->max_block_bytes)
        return block_invalid(err, "block holds more bytes than max_block_bytes");
    if (strcmp(want.chain_id, g->chain_id) != 0)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_invalid", "block is for chain %s",
                           want.chain_id);
    if (want.height != L->head.tip.height + 1)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_invalid",
                           "block height %llu does not follow %llu",
                           (unsigned long long)want.height,
                           (unsigned long long)L->head.tip.height);
    if (memcmp(want.prev_hash, L->head.tip.hash, 32) != 0)
        return block_invalid(err, "block does not extend this chain (prev_hash differs)");
    /* the set in force at this height (DESIGN §5) */
    const ledger_genesis *vs = L->head_vset->m;
    if (memcmp(want.validators_hash, vs->validators_hash, 32) != 0)
        return block_invalid(err, "validators_hash is not the hash of the validator set in "
                                  "force at this height");
    if (ledger_genesis_validator_index(vs, want.proposer) < 0)
        return block_invalid(err, "the proposer is not a validator in force at this height");
    if (check_last_commit(L, &want, last_commit, err) != 0)
        return -1;

    ledger_block_ctx ctx;
    ctx.time = want.time;
    memcpy(ctx.proposer, want.proposer, 32);
    memcpy(ctx.last_commit_hash, want.last_commit_hash, 32);
    ledger_exec *x = NULL;
    if (ledger_exec_begin(L, &ctx, &x, err) != 0)
        return -1;

    int rc = -1;
    size_t cap = n ? n : 1;
    ledger_tx *dec = calloc(cap, sizeof *dec);
    ledger_vjob *jobs = calloc(cap, sizeof *jobs); /* signatures still to check */
    size_t *job_tx = calloc(cap, sizeof *job_tx);  /* the transaction of each job */
    int *depts = calloc(cap, sizeof *depts);
    uint8_t *ok = calloc(cap, 1);
    ledger_vbatch *batches[(LEDGER_MAX_BLOCK_TXS_HARD + APPLY_CHUNK - 1) / APPLY_CHUNK];
    size_t n_batches = 0, n_jobs = 0;
    ledger_workq *verifiers = verifiers_of(L);
    if (!dec || !jobs || !job_tx || !depts || !ok) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    /* decode everything, handing signatures to the workers chunk by chunk;
     * those verified before (at mempool admission) are not checked twice */
    for (size_t start = 0; start < n; start += APPLY_CHUNK) {
        size_t end = start + APPLY_CHUNK < n ? start + APPLY_CHUNK : n;
        size_t first_job = n_jobs;
        for (size_t i = start; i < end; i++) {
            const ledger_pubkey *pk = NULL;
            if (ledger_tx_decode(&dec[i], txs[i], tx_lens[i], g->chain_id, err) != 0 ||
                ledger_gov_authorize(x->gov, &dec[i], &pk, &depts[i], err) != 0) {
                block_tx_invalid(err, i);
                goto out;
            }
            if (trusted && trusted[i])
                continue;
            jobs[n_jobs].pk = pk;
            jobs[n_jobs].msg = dec[i].sighash;
            jobs[n_jobs].sig = dec[i].sig;
            job_tx[n_jobs++] = i;
        }
        if (n_jobs == first_job)
            continue;
        ledger_vbatch *b = verifiers ? ledger_vpool_submit(verifiers, jobs + first_job,
                                                           n_jobs - first_job, ok + first_job)
                                     : NULL;
        if (b == NULL) {
            for (size_t k = first_job; k < n_jobs; k++)
                ok[k] = (uint8_t)ledger_verify(jobs[k].pk, jobs[k].msg, 32, jobs[k].sig);
        } else {
            batches[n_batches++] = b;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (ledger_exec_decoded(x, &dec[i], depts[i], results ? &results[i] : NULL, err) != 0) {
            if (err == NULL || (err->code != LEDGER_ERR_IO && err->code != LEDGER_ERR_NOMEM))
                block_tx_invalid(err, i);
            goto out;
        }
    }
    if (last_commit && want.height > 1) {
        x->last_commit = *last_commit;
        x->has_last_commit = 1;
    }
    ledger_header got;
    if (ledger_exec_finish(x, &got, err) != 0)
        goto out;
    for (size_t b = 0; b < n_batches; b++)
        ledger_vbatch_wait(batches[b]);
    n_batches = 0;
    for (size_t k = 0; k < n_jobs; k++)
        if (!ok[k]) {
            ledger_fail(err, LEDGER_ERR_RULE, "signature_invalid", "the signature does not verify");
            block_tx_invalid(err, job_tx[k]);
            goto out;
        }
    if (memcmp(got.tx_root, want.tx_root, 32) != 0) {
        block_invalid(err, "tx_root differs");
        goto out;
    }
    if (memcmp(got.state_root, want.state_root, 32) != 0) {
        block_invalid(err, "state_root differs");
        goto out;
    }
    if (got.log_size != want.log_size || memcmp(got.log_root, want.log_root, 32) != 0) {
        block_invalid(err, "event log (log_size, log_root) differs");
        goto out;
    }
    uint8_t h1[32], h2[32];
    ledger_header_hash(&got, h1);
    ledger_header_hash(&want, h2);
    if (memcmp(h1, h2, 32) != 0) {
        block_invalid(err, "header differs from its re-execution");
        goto out;
    }
    *held = x;
    x = NULL;
    rc = 0;
out:
    for (size_t b = 0; b < n_batches; b++)
        ledger_vbatch_wait(batches[b]);
    if (dec)
        for (size_t i = 0; i < n; i++)
            ledger_tx_release(&dec[i]);
    free(dec);
    free(jobs);
    free(job_tx);
    free(depts);
    free(ok);
    ledger_exec_free(x);
    return rc;
}

int ledger_apply_block(ledger *L, const uint8_t *hb, size_t hlen,
                       const uint8_t *const *txs, const size_t *tx_lens, size_t n,
                       const ledger_commit *last_commit, const ledger_commit *cert,
                       unsigned flags, ledger_err *err)
{
    uint8_t *trusted = NULL;
    if (flags & LEDGER_APPLY_SIG_TRUSTED) {
        trusted = malloc(n ? n : 1);
        if (trusted == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        memset(trusted, 1, n ? n : 1);
    }
    ledger_exec *x = NULL;
    int rc = ledger_validate_block(L, hb, hlen, txs, tx_lens, n, last_commit, trusted, NULL, &x,
                                   err);
    free(trusted);
    if (rc != 0)
        return -1;
    rc = flags & LEDGER_APPLY_ASYNC ? ledger_exec_commit_async(x, cert, err)
                                    : ledger_exec_commit(x, cert, err);
    ledger_exec_free(x);
    return rc;
}
