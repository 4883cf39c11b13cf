/* ledger/commit.c: writing an executed block (ledger.h): in one synced
 * batch now (ledger_exec_commit), or on the committer thread while the next
 * block executes (ledger_exec_commit_async, ledger_sync); certificates of
 * committed blocks (ledger_put_commit). */
#include "ledger.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ledger_int.h"
#include "permit.pb-c.h"
#include "store.h"

static int commit_put(ledger_batch *b, const ledger_commit *c, ledger_err *err)
{
    if (c->n_sigs > LEDGER_MAX_DEPARTMENTS)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "certificate has too many signatures");
    ledger_commit_pb w;
    ledger_commit_to_pb(c, &w);
    size_t n = permit__commit__get_packed_size(&w.pc);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    permit__commit__pack(&w.pc, buf);
    uint8_t key[8];
    ledger_be64(key, c->height);
    ledger_batch_put(b, CF_COMMITS, key, 8, buf, n);
    free(buf);
    return 0;
}

/* Make x the head the next block builds on. */
static void advance_head(ledger *L, ledger_exec *x, const uint8_t hash[32])
{
    ledger_head *hd = &L->head;
    hd->tip.height = x->height;
    memcpy(hd->tip.hash, hash, 32);
    hd->tip.time = x->hdr.time;
    hd->tip.header = x->hdr;
    memcpy(hd->state_root, x->hdr.state_root, 32);
    hd->log = x->log;
    hd->log.batch = NULL;
    ledger_state_root_advance(L, x);
    ledger_vset_advance_head(L, ledger_gov_ref(L->head_gov));
    if (x->gov_cur != NULL) {
        ledger_gov_release(L->head_gov);
        L->head_gov = ledger_gov_ref(x->gov_cur);
    }
}

static void publish_tip(ledger *L, const ledger_exec *x)
{
    /* caller holds L->mu */
    L->tip.height = x->height;
    ledger_header_hash(&x->hdr, L->tip.hash);
    L->tip.time = x->hdr.time;
    L->tip.header = x->hdr;
    ledger_vset_advance_tip(L, ledger_gov_ref(L->tip_gov));
    if (x->gov_cur != NULL) {
        ledger_gov_release(L->tip_gov);
        L->tip_gov = ledger_gov_ref(x->gov_cur);
    }
    for (size_t i = 0; i < x->pending_delta.len; i++)
        if (x->pending_delta.v[i].n != 0) {
            const char *id = x->pending_delta.v[i].id;
            ledger_pending_add(&L->pending, (const uint8_t *)id, strlen(id) + 1,
                               x->pending_delta.v[i].n);
        }
}

static int prepare_commit(ledger_exec *x, const ledger_commit *cert, uint8_t hash[32],
                          ledger_err *err)
{
    if (!x->finished || x->broken || x->committed || x->owned)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "the block is not ready to commit");
    ledger_header_hash(&x->hdr, hash);
    if (cert) {
        if (cert->height != x->height || memcmp(cert->block_hash, hash, 32) != 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "certificate is not for this block");
        if (commit_put(x->batch, cert, err) != 0)
            return -1;
        x->cert = *cert;
        x->has_cert = 1;
    }
    if (x->has_last_commit && commit_put(x->batch, &x->last_commit, err) != 0)
        return -1;
    return 0;
}

/* The committer's job (a one-thread worker queue): write block x handed
 * over by ledger_exec_commit_async, then publish it, or record the failure
 * for the executing thread to find. */
static void write_block(void *arg)
{
    ledger_exec *x = arg;
    ledger *L = x->L;
    ledger_err werr;
    ledger_err_clear(&werr);
    ledger_state_root_store(x, x->smt_write, x->n_smt_write);
    int rc = ledger_store_write(L->st, x->batch, 1, &werr);
    pthread_mutex_lock(&L->mu);
    if (rc == 0) {
        x->committed = 1;
        publish_tip(L, x);
    } else {
        L->failed = 1;
        L->fail_err = werr;
    }
    pthread_mutex_unlock(&L->mu);
}

int ledger_sync(ledger *L, ledger_err *err)
{
    /* the committer runs one block at a time: idle means written (without
     * a time limit the wait only ends idle) */
    while (L->committer != NULL && ledger_workq_wait_idle(L->committer, LEDGER_WORKQ_FOREVER) != 0)
        ;
    pthread_mutex_lock(&L->mu);
    int failed = L->failed;
    ledger_err fe = L->fail_err;
    pthread_mutex_unlock(&L->mu);
    ledger_exec_release(L->inflight);
    L->inflight = NULL;
    if (!failed)
        return 0;
    /* the head ran ahead of what is durable: go back to the store's state */
    pthread_mutex_lock(&L->mu);
    L->failed = 0;
    pthread_mutex_unlock(&L->mu);
    ledger_err lerr;
    if (ledger_load_tip(L, &lerr) != 0) {
        pthread_mutex_lock(&L->mu);
        L->failed = 1;
        L->fail_err = lerr;
        pthread_mutex_unlock(&L->mu);
    }
    if (err)
        *err = fe;
    return -1;
}

int ledger_exec_commit(ledger_exec *x, const ledger_commit *cert, ledger_err *err)
{
    ledger *L = x->L;
    uint8_t hash[32];
    if (x->prev != NULL) {
        /* the block this one extends must be durable first */
        x->prev = NULL;
        if (ledger_sync(L, err) != 0)
            return -1;
    }
    if (prepare_commit(x, cert, hash, err) != 0)
        return -1;
    if (x->smt_changed && !x->smt_stored) {
        ledger_state_root_store(x, x->smt_d.created, x->smt_d.n_created);
        x->smt_stored = 1;
    }
    if (ledger_store_write(L->st, x->batch, 1, err) != 0)
        return -1;
    x->committed = 1;
    pthread_mutex_lock(&L->mu);
    publish_tip(L, x);
    pthread_mutex_unlock(&L->mu);
    advance_head(L, x, hash);
    return 0;
}

int ledger_exec_commit_async(ledger_exec *x, const ledger_commit *cert, ledger_err *err)
{
    ledger *L = x->L;
    uint8_t hash[32];
    if (prepare_commit(x, cert, hash, err) != 0)
        return -1;
    /* one write at a time, in order: wait for the previous block's */
    x->prev = NULL;
    if (ledger_sync(L, err) != 0)
        return -1;
    if (L->committer == NULL) {
        ledger_err qerr;
        L->committer = ledger_workq_new("commit", 1, 1, &qerr);
        if (L->committer == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "cannot start the commit thread: %s",
                               qerr.msg);
    }
    advance_head(L, x, hash);
    x->owned = 1;
    L->exec_active = 0;
    L->inflight = x;
    /* the queue is idle (synced above) and holds one block: never full */
    if (ledger_workq_submit(L->committer, write_block, x) != 0)
        write_block(x); /* out of memory: write it here instead */
    return 0;
}

int ledger_put_commit(ledger *L, const ledger_commit *cert, ledger_err *err)
{
    ledger_header h;
    int r = ledger_get_block(L, cert->height, &h, NULL, NULL, NULL, NULL, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, NULL, "no block at height %llu",
                           (unsigned long long)cert->height);
    uint8_t hash[32];
    ledger_header_hash(&h, hash);
    if (memcmp(hash, cert->block_hash, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "certificate is not for that block");
    ledger_batch *b = ledger_batch_new(L->st);
    if (b == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    int rc = commit_put(b, cert, err);
    if (rc == 0)
        rc = ledger_store_write(L->st, b, 1, err);
    ledger_batch_free(b);
    return rc;
}

int ledger_backup(ledger *L, const char *dir, uint64_t *height, ledger_err *err)
{
    /* each block is one write: the copy holds whole blocks; which ones, its
     * own height record says */
    if (ledger_store_checkpoint(L->st, dir, err) != 0)
        return -1;
    ledger_store *copy;
    if (ledger_store_open(&copy, dir, err) != 0) /* nobody else has it open */
        return -1;
    int rc = ledger_meta_get_u64(copy, META_HEIGHT, height, err);
    ledger_store_close(copy);
    return rc < 0 ? -1 : 0;
}
