/* ledger/ledger_int.h: the internals the files of the ledger (ledger.h)
 * share: the ledger and an execution in progress, and what the files that
 * open, execute, commit and apply blocks call of each other.
 *
 * Private: only the .c files of ledger/ include it.
 *
 *   ledger.c     opening, closing, the tip, reads
 *   exec.c       executing a block's transactions and closing the block
 *   stateroot.c  the state tree of a block (state_root)
 *   commit.c     writing a block, now or in the background
 *   apply.c      validating and applying a block received from elsewhere */
#ifndef PERMIT_LEDGER_LEDGER_INT_H
#define PERMIT_LEDGER_LEDGER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "mlog.h"
#include "smt.h"
#include "store.h"
#include "workq.h"

/* keys of CF_META */
#define META_CHAIN_ID "chain_id"
#define META_GENESIS "genesis_hash"
#define META_HEIGHT "height"
#define META_FORMAT "db_format"
/* The layout of the database (docs/formats.md, "Storage keys"): a release
 * that changes it raises this, and a binary refuses a database newer than
 * it knows (after a downgrade) instead of misreading it. */
#define LEDGER_DB_FORMAT 1

/* What the next block builds on: the last block executed and handed to the
 * store, durable or not yet.  Touched by the executing thread only. */
typedef struct {
    ledger_tip tip;
    uint8_t state_root[32];
    ledger_mlog log;
} ledger_head;

/* An open ledger (ledger.h). */
struct ledger {
    ledger_store *st;
    const ledger_genesis *g;
    pthread_mutex_t mu;      /* guards tip, pending, failed, fail_err */
    ledger_tip tip;          /* the last durable block: what readers see */
    /* permit items waiting per department (genesis order) as of tip: the
     * entries of CF_BY_PENDING, counted at open and kept by each block */
    uint64_t pending[LEDGER_MAX_DEPARTMENTS];
    ledger_head head;
    /* worker queues (workq.h), each started when first needed */
    ledger_workq *verifiers; /* signature checks of received blocks (vpool.h) */
    ledger_workq *helpers;   /* hashing the state root of large blocks (par.h) */
    /* the state tree of the head, as far as it is in memory (executing
     * thread only): NULL until an update first reads it */
    smt_page *smt_root;
    smt_mem *smt_mem;        /* where its pages live */
    int readonly;            /* opened with ledger_open_readonly: no blocks */
    _Atomic uint64_t state_ns; /* time spent on state_root (ledger_state_root_ns) */
    _Atomic uint64_t state_cpu_ns;
    int exec_active;

    /* pipelined commit: one block may be written in the background while
     * the next executes (ledger_exec_commit_async) */
    ledger_workq *committer; /* one thread writing the blocks handed to it */
    ledger_exec *inflight;   /* the last block handed over; freed by the executor */
    int failed;              /* a background write failed: reload before going on */
    ledger_err fail_err;
};

/* A small open-addressing table of entry indices (exec.c): the licenses and
 * the transactions of a block, found by id. */
typedef struct {
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t cap;      /* power of two */
    size_t n;
} itab;

/* A license record as the block being executed sees it: its overlay entry. */
typedef struct {
    char *id;
    uint8_t *orig;        /* record before this block; NULL for a new license */
    size_t orig_len;
    uint8_t *cur;         /* record now */
    size_t cur_len;
    int dirty;            /* changed by a transaction of this block (a lookup
                             for a refused one only loads it) */
} lic_entry;

/* A block being executed, then committed (ledger.h, ledger_exec_*). */
struct ledger_exec {
    ledger *L;
    ledger_exec *prev;    /* the block before, if its write is still pending:
                             its overlay is the state this block reads first */
    ledger_block_ctx ctx;
    uint64_t height;
    uint8_t base_hash[32];       /* the block this one extends */
    uint8_t base_state_root[32];
    ledger_batch *batch;
    int finished, committed, broken;
    int owned;            /* handed to the ledger by ledger_exec_commit_async */

    lic_entry *lics;
    size_t n_lics, cap_lics;
    itab lic_index;

    uint8_t (*tx_ids)[32];
    uint8_t (*tx_leaves)[32];
    size_t n_txs, cap_txs;
    uint64_t n_bytes;     /* of the envelopes */
    itab tx_index;
    /* the certificate of the previous block the header names, carried with
     * the block: it replaces the stored one at commit */
    int has_last_commit;
    ledger_commit last_commit;
    /* this block's own certificate, once committed with one */
    int has_cert;
    ledger_commit cert;

    /* how this block changes ledger.pending (ledger_index_diff) */
    int64_t pending_delta[LEDGER_MAX_DEPARTMENTS];

    unsigned year;        /* of the block time: every APPLY in the block */
    uint64_t next_seq;    /* next license sequence number; 0 = not loaded */
    int seq_dirty;

    ledger_mlog log;
    ledger_header hdr;

    /* state tree: the tree after this block (which becomes the head's when
     * the block is committed), and the pages it created and replaced */
    smt_page *smt_new;
    smt_delta smt_d;
    int smt_changed;      /* smt_new and smt_d are pending */
    /* the pages this block created, to be stored with its batch: by the
     * committing thread, just before the write (they live in the head's tree
     * at least until the next block is committed, which waits for this
     * write) */
    smt_page **smt_write;
    size_t n_smt_write;
    int smt_stored;       /* the pages are in the batch already */
};

/* ---- ledger.c ---- */

/* The department (index in genesis) of a CF_BY_PENDING key, or -1. */
int ledger_pending_dept(const ledger_genesis *g, const uint8_t *key, size_t klen);

/* A u64 of CF_META (1 found, 0 absent, -1 error). */
int ledger_meta_get_u64(ledger_store *st, const char *key, uint64_t *v, ledger_err *err);

/* Set the head and the tip to the last durable block, dropping the state
 * tree in memory (it may be ahead of the store after a failed write). */
int ledger_load_tip(ledger *L, ledger_err *err);

/* ---- exec.c ---- */

/* Free an execution whoever owns it (ledger_exec_free leaves those the
 * ledger owns); NULL-safe. */
void ledger_exec_release(ledger_exec *x);

/* The stateful part of executing a transaction that has been decoded and
 * authorised.  Nothing is changed unless it succeeds. */
int ledger_exec_decoded(ledger_exec *x, const ledger_tx *tx, int dept, ledger_tx_result *res,
                        ledger_err *err);

/* ---- stateroot.c ---- */

/* The new state_root of block x: every license record the block changed
 * goes into the tree as leaf (SHA-256(id), SHA-256(record)). */
int ledger_state_root_compute(ledger_exec *x, uint8_t out[32], ledger_err *err);

/* Once block x is the head: its tree becomes the head's, and the pages of
 * the old tree that the new one does not share are freed. */
void ledger_state_root_advance(ledger *L, ledger_exec *x);

/* Put the pages of the state tree a block created into its batch, in
 * stored form. */
void ledger_state_root_store(ledger_exec *x, smt_page *const *pages, size_t n);

#endif
