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

#include "gov.h"
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

/* What the next block builds on: the last block executed and handed to the
 * store, durable or not yet.  Touched by the executing thread only. */
typedef struct {
    ledger_tip tip;
    uint8_t state_root[32];
    ledger_mlog log;
} ledger_head;

/* Counts by department id (departments come and go by governance; an id
 * stays while it has items waiting).  Every department in force fits with
 * room for as many removed ones. */
#define LEDGER_PENDING_IDS (2 * LEDGER_MAX_DEPARTMENTS)
typedef struct {
    struct {
        char id[33];   /* [a-z][a-z0-9_-]{0,31} */
        int64_t n;
    } v[LEDGER_PENDING_IDS];
    size_t len;
} ledger_pending_tab;

/* An open ledger (ledger.h). */
struct ledger {
    ledger_store *st;
    const ledger_genesis *g;
    pthread_mutex_t mu;      /* guards tip, pending, failed, fail_err */
    ledger_tip tip;          /* the last durable block: what readers see */
    /* permit items waiting per department as of tip: the entries of
     * CF_BY_PENDING, counted at open and kept by each block */
    ledger_pending_tab pending;
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

    /* the membership (gov.h): in force for the block after the head
     * (executing thread only), and after the durable tip (under mu) */
    ledger_gov *head_gov;
    ledger_gov *tip_gov;
    /* the validator sets (DESIGN §5: a change executed in block H certifies
     * from H+2): the membership whose validators certify the block after the
     * head, and the head itself (executing thread only); the same after the
     * durable tip (under mu).  Set(h) is the membership after block h-2. */
    ledger_gov *head_vset, *head_vset_prev;
    ledger_gov *tip_vset, *tip_vset_prev;
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
    char uscc[19];        /* a license new in this block: its USCC ("" otherwise) */
    uint32_t uscc_prev;   /* ... and the index + 1 of the block's previous new
                             license of that USCC (0: none) */
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
    itab uscc_index;      /* the licenses new in this block by USCC: the latest
                             of each, the others chained by uscc_prev */

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

    /* the membership in force at this block, and the record after the
     * governance transactions it executed so far (NULL: none yet) */
    ledger_gov *gov;
    ledger_gov *gov_cur;
    size_t n_gov;         /* governance transactions in the block so far */
    /* how this block changes ledger.pending (ledger_index_diff) */
    ledger_pending_tab pending_delta;

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

/* Add delta to the count of the department a CF_BY_PENDING key names. */
void ledger_pending_add(ledger_pending_tab *t, const uint8_t *key, size_t klen, int64_t delta);

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

/* The overlay entry of a record (a license or the governance record),
 * loaded from the block before or the store: 1 found, 0 absent, -1 error. */
int ledger_exec_lookup(ledger_exec *x, const char *id, lic_entry **out, ledger_err *err);
/* ---- exec_rules.c ---- */

/* license_duplicate: 0 when `uscc` holds no non-final license of `industry`
 * (this block, the pending one before it and the store), else -1 (a rule
 * refusal, or an I/O error that breaks the block). */
int ledger_exec_check_duplicate(ledger_exec *x, const char *uscc, const char *industry,
                                ledger_err *err);
/* license_duplicate at admission, against the committed state (ledger_precheck). */
int ledger_precheck_duplicate(ledger *L, const char *uscc, const char *industry,
                              ledger_err *err);

/* The rule `instant` (instant.h) for the license an APPLY just created,
 * whose event gets log index log_index: approves its instant items and sets
 * *kind to LEDGER_EVENT_APPLY_INSTANT when it applies, leaves both alone
 * when not.  0, or -1 on an I/O error (the block is broken). */
int ledger_exec_instant(ledger_exec *x, ledger_license *lic, uint64_t log_index, int *kind,
                        ledger_err *err);
/* Append a REVOKE of lic (event at log_index, this block's time) to its
 * USCC's record, creating it.  0, or -1 on an I/O error. */
int ledger_exec_note_revocation(ledger_exec *x, const ledger_license *lic, uint64_t log_index,
                                ledger_err *err);

/* A record new in this block (takes over rec): a license of `uscc`, or with
 * uscc NULL the governance record or a USCC record (instant.h). */
int ledger_exec_add_record(ledger_exec *x, const char *id, const char *uscc, uint8_t *rec,
                           size_t len, ledger_err *err);
/* The index in x->lics of the latest license new in block x of `uscc`
 * (the earlier ones follow lics[i].uscc_prev), or -1. */
long ledger_exec_new_of_uscc(const ledger_exec *x, const char *uscc);
/* What every accepted transaction leaves: its place in the block, the txs
 * entry, its event under the record's id and the event log leaf.  After
 * the record itself changed: a failure here breaks the block. */
int ledger_exec_record_tx(ledger_exec *x, const ledger_tx *tx, const ledger_event *ev,
                          const uint8_t *evbytes, size_t evlen, const uint8_t evhash[32],
                          ledger_tx_result *res, ledger_err *err);

/* ---- gov_exec.c ---- */

/* GOV_PROPOSE, GOV_APPROVE, RETIRE_KEY in block x (after the checks every
 * transaction passes): the governance record and its event. */
int ledger_gov_exec(ledger_exec *x, const ledger_tx *tx, int dept, ledger_tx_result *res,
                    ledger_err *err);
/* Keep the record after block x (if it changed) as the version of x's
 * height, for ledger_gov_at. */
int ledger_gov_finish(ledger_exec *x, ledger_err *err);
/* The membership recorded in the store (genesis when there is no record). */
int ledger_gov_load(ledger *L, ledger_gov **out, ledger_err *err);
/* At open and reload, the head being the durable tip: the validator sets of
 * the head and the block after it, read from the store. */
int ledger_vset_load(ledger *L, ledger_err *err);
/* The head moved one block on: the sets shift, and the membership in force
 * before that block (old_gov, a reference handed over) certifies the block
 * after the new head.  Executing thread. */
void ledger_vset_advance_head(ledger *L, ledger_gov *old_gov);
/* The same for the durable tip; caller holds L->mu. */
void ledger_vset_advance_tip(ledger *L, ledger_gov *old_gov);

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
