/* ledger/ledger.h: the ledger of one node: a RocksDB store, the genesis it
 * belongs to, and block execution.
 *
 * Executing a block (its transactions and its time) yields the header roots
 * (tx_root, state_root, log_size, log_root) and one WriteBatch that commits
 * the whole block with sync = true.  Two ways in:
 *
 *  - a proposer builds a block: ledger_exec_begin, then ledger_exec_tx per
 *    candidate transaction (a refused one changes nothing and the block goes
 *    on without it), ledger_exec_finish for the header, ledger_exec_commit;
 *  - a validator or a node catching up applies a block it received:
 *    ledger_apply_block re-executes it, checks every root against the header
 *    and commits, or refuses the whole block.
 *
 * One thread executes blocks.  Reads (ledger_get_*, queries) may run on any
 * thread at the same time. */
#ifndef PERMIT_LEDGER_LEDGER_H
#define PERMIT_LEDGER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "err.h"
#include "genesis.h"
#include "license.h"
#include "smt.h"
#include "tx.h"

typedef struct ledger ledger;
typedef struct ledger_exec ledger_exec;
/* The RocksDB store under a ledger (store.h, which users of the store API
 * include themselves). */
typedef struct ledger_store ledger_store;

/* Open (or create) the database at db_path for chain g; g must outlive the
 * ledger.  Refuses a database that belongs to another chain or genesis.
 * Resumes at the last committed height. */
int ledger_open(ledger **out, const char *db_path, const ledger_genesis *g,
                ledger_err *err) LEDGER_WUR;
/* Open an existing ledger for reading only, while its node may be running
 * (a RocksDB secondary instance, store.h; its own files go to the folder
 * secondary_path).  It sees the ledger as it was when opened; executing
 * blocks is refused.  For verify-chain and offline inspection. */
int ledger_open_readonly(ledger **out, const char *db_path, const char *secondary_path,
                         const ledger_genesis *g, ledger_err *err) LEDGER_WUR;
/* Close; NULL-safe.  No exec may be in progress. */
void ledger_close(ledger *L);

const ledger_genesis *ledger_genesis_of(const ledger *L);

struct ledger_gov;
/* The membership in force after the durable tip (gov.h): a reference the
 * caller drops with ledger_gov_release.  Its `m` is what every "who may sign
 * this" asks; genesis is only the chain's identity and starting point. */
struct ledger_gov *ledger_gov_acquire(ledger *L);
/* The membership whose validators certify block `height` (DESIGN §5: a
 * validator-set change executed in block H certifies from H+2; the header's
 * validators_hash is its m->validators_hash): the membership after block
 * height-2, genesis for blocks 1 and 2.  Known up to two blocks past the
 * durable tip.  A reference (ledger_gov_release), or NULL with err.  Any
 * thread. */
struct ledger_gov *ledger_vset_acquire(ledger *L, uint64_t height, ledger_err *err);
/* A certificate of block `height` checked against the validators in force
 * at that height (ledger_commit_verify on ledger_vset_acquire's set). */
int ledger_commit_verify_at(ledger *L, const ledger_commit *c, const uint8_t block_hash[32],
                            uint64_t height, ledger_err *err) LEDGER_WUR;
/* The store the ledger reads and writes (store.h), for the ledger's own
 * modules (bundles, queries, the integrity check) and tests. */
ledger_store *ledger_store_of(ledger *L);

typedef struct {
    uint64_t height;          /* 0 before the first block */
    uint8_t hash[32];         /* block hash; the genesis hash at height 0 */
    uint64_t time;            /* block time; genesis_time at height 0 */
    ledger_header header;     /* meaningful when height > 0 */
} ledger_tip;

/* The layout of the database (docs/formats.md, "Storage keys", db_format):
 * a release that changes it raises this; opening a database for writing
 * marks it with this release's format, and a database newer than this
 * release reads (after a downgrade) is refused instead of misread.
 *   1  the first recorded layout
 *   2  the governance record GOV-<region> and the gov/ keys of meta
 *   3  USCC records USCC-<uscc> beside the licenses (秒批, instant.h) */
#define LEDGER_DB_FORMAT 3

/* A consistent copy of the last committed block's identity. */
void ledger_get_tip(ledger *L, ledger_tip *tip);
uint64_t ledger_height(ledger *L);
/* The permit items waiting for department `dept` as of the last committed
 * block (decisions of PENDING licenses, verifications of ISSUED_UNVERIFIED
 * ones).  Cheap (a lookup under the tip's lock); 0 in a ledger opened
 * read-only. */
uint64_t ledger_pending_of(ledger *L, const char *dept);

/* How the signature of a transaction is handled during execution. */
typedef enum {
    LEDGER_SIG_CHECK = 0,    /* verify it now */
    LEDGER_SIG_TRUSTED = 1,  /* already verified (e.g. at mempool admission) */
} ledger_sig_mode;

typedef struct {
    uint64_t time;                /* block time, > the previous block's */
    uint8_t proposer[32];         /* node key of the proposer */
    uint8_t last_commit_hash[32]; /* hash of the previous block's certificate */
} ledger_block_ctx;

typedef struct {
    uint8_t tx_id[32];
    uint32_t index;               /* position in the block */
    int kind;                     /* permit TxKind */
    char license_id[LEDGER_MAX_LICENSE_ID + 1];
    uint32_t seq;                 /* the event's seq on that license */
    uint32_t proposal_id;         /* GOV_PROPOSE / GOV_APPROVE: the proposal */
    int gov_executed;             /* the proposal's change was executed */
} ledger_tx_result;

/* Start executing block tip+1.  Only one exec may exist per ledger. */
int ledger_exec_begin(ledger *L, const ledger_block_ctx *ctx, ledger_exec **out,
                      ledger_err *err) LEDGER_WUR;

/* Execute one envelope.  On success the transaction is part of the block and
 * res (may be NULL) says what it did.  On refusal nothing changed and err
 * names the rule; the exec stays usable.  An I/O error (LEDGER_ERR_IO) makes
 * the exec unusable: free it. */
int ledger_exec_tx(ledger_exec *x, const uint8_t *env, size_t len, ledger_sig_mode mode,
                   ledger_tx_result *res, ledger_err *err) LEDGER_WUR;

size_t ledger_exec_count(const ledger_exec *x);

/* Close the block: compute roots and the header.  After this only
 * ledger_exec_commit and ledger_exec_free are allowed. */
int ledger_exec_finish(ledger_exec *x, ledger_header *hdr, ledger_err *err) LEDGER_WUR;

/* Write the block (and its certificate, which may be NULL, or must be for
 * this block) in one synced batch and advance the tip.  Waits first for a
 * block still being written in the background.  x stays the caller's. */
int ledger_exec_commit(ledger_exec *x, const ledger_commit *cert, ledger_err *err) LEDGER_WUR;

/* Pipelined commit: hand the block to a background thread that writes it
 * (one synced batch, as above) while the caller goes on executing the next
 * block on top of it.  Returns once the previous block's write has finished
 * and this one is queued; the ledger owns x from then on (ledger_exec_free
 * on it does nothing).  Readers (ledger_get_tip and every ledger_get_*) see
 * the block only once it is durable.  If a background write fails, the next
 * ledger_exec_begin / ledger_sync reports it, and the ledger goes back to the
 * last durable block. */
int ledger_exec_commit_async(ledger_exec *x, const ledger_commit *cert,
                             ledger_err *err) LEDGER_WUR;

/* Wait until every block handed to ledger_exec_commit_async is durable.
 * Returns -1 with the write's error if one failed (the ledger is then back
 * at the last durable block). */
int ledger_sync(ledger *L, ledger_err *err) LEDGER_WUR;

/* A consistent copy of the database in dir (which must not exist; its parent
 * must), made while the ledger serves: every block committed before the call
 * is in it (*height, at least), none is in it in part.  The copy is a
 * database folder: a home's data/db restored from it opens as it was. */
int ledger_backup(ledger *L, const char *dir, uint64_t *height, ledger_err *err) LEDGER_WUR;

/* Total time this ledger spent on state_root since it was opened, in
 * nanoseconds: updating the sparse Merkle tree (hashing the changed records
 * included) and keeping its node cache.  For metrics and benchmarks; any
 * thread. */
uint64_t ledger_state_root_ns(ledger *L);
/* The same as CPU time, summed over the executing thread and the helper
 * threads the work spread to (ledger_par_helper_cpu_ns, par.h): the cost,
 * whatever else competes for the cores. */
uint64_t ledger_state_root_cpu_ns(ledger *L);

/* Discard an exec, committed or not; NULL-safe. */
void ledger_exec_free(ledger_exec *x);

enum {
    LEDGER_APPLY_SIG_TRUSTED = 1, /* signatures were verified already */
    LEDGER_APPLY_ASYNC = 2,       /* commit with ledger_exec_commit_async */
};

/* Re-execute and commit a block received from elsewhere.  Every transaction
 * must succeed and every root must match the header; otherwise nothing is
 * written and err says what differed (rule "block_invalid").  Signatures are
 * verified on all cores in parallel with execution unless flags has
 * LEDGER_APPLY_SIG_TRUSTED.  last_commit is the certificate of the previous
 * block that the header names (see ledger_validate_block), or NULL; cert, the
 * block's own certificate, may be NULL. */
int ledger_apply_block(ledger *L, const uint8_t *header, size_t header_len,
                       const uint8_t *const *txs, const size_t *tx_lens, size_t n,
                       const ledger_commit *last_commit, const ledger_commit *cert,
                       unsigned flags, ledger_err *err) LEDGER_WUR;

/* Would a decoded, authorised transaction pass the state rules if it were
 * executed now on the durable state at block time `now`?  Reads only; for
 * admission to a mempool (the block that includes it decides for good).
 * dept is an index into the membership in force at the tip
 * (ledger_gov_acquire); one out of its range is refused. */
int ledger_precheck(ledger *L, const ledger_tx *tx, int dept, uint64_t now,
                    ledger_err *err) LEDGER_WUR;

/* Everything a node checks before a transaction enters its mempool, the
 * same for one submitted by RPC and one gossiped by a peer: its form, the
 * signer's authority, its fields, its time against `now` (wall-clock ms,
 * params.tx_window), its signature (unless skip_sig: verified already), that
 * it is not committed already, and the state rules on the durable state at
 * max(now, tip time) (ledger_precheck).  tx is filled on success and failure
 * alike (release it); dept gets the signing department, or -1.  0, or -1
 * with err naming the rule. */
int ledger_admit(ledger *L, const uint8_t *env, size_t len, uint64_t now, int skip_sig,
                 ledger_tx *tx, int *dept, ledger_err *err) LEDGER_WUR;

/* Validate a received block without committing it: re-execute it as
 * ledger_apply_block does; on success *held is the finished execution,
 * ready for ledger_exec_commit (or ledger_exec_free if another block is
 * decided).  trusted may be NULL, or say per transaction that its signature
 * was verified already (the mempool's), so it is not verified twice.
 * results (may be NULL) gets what each transaction did.
 *
 * Besides re-execution the header must name a validator as its proposer,
 * the block must hold at most max_block_bytes of envelopes, and its
 * last_commit_hash must name a valid certificate of the previous block: the
 * first block names none (zero); a later one names the certificate carried
 * with it (last_commit, checked against the validators and hashed), or, when
 * last_commit is NULL, the one this ledger holds (zero if it holds none).  A
 * carried certificate replaces the one this ledger holds for the previous
 * block when the block is committed, so every block but the tip keeps the
 * certificate its successor names. */
int ledger_validate_block(ledger *L, const uint8_t *header, size_t header_len,
                          const uint8_t *const *txs, const size_t *tx_lens, size_t n,
                          const ledger_commit *last_commit, const uint8_t *trusted,
                          ledger_tx_result *results, ledger_exec **held,
                          ledger_err *err) LEDGER_WUR;

/* The header a finished execution produced. */
const ledger_header *ledger_exec_header(const ledger_exec *x);

/* Store (or replace) the certificate of a committed block. */
int ledger_put_commit(ledger *L, const ledger_commit *cert, ledger_err *err) LEDGER_WUR;

/* ---- reads ---- (1 found, 0 absent, -1 error) */

int ledger_get_license(ledger *L, const char *id, ledger_license *out,
                       ledger_err *err) LEDGER_WUR;

/* The raw canonical record bytes (malloc'd). */
int ledger_get_license_bytes(ledger *L, const char *id, uint8_t **rec, size_t *len,
                             ledger_err *err) LEDGER_WUR;
/* The stored bytes of any record under state_root: a license, the
 * governance record or a USCC record (instant.h). */
int ledger_get_record_bytes(ledger *L, const char *id, uint8_t **rec, size_t *len,
                            ledger_err *err) LEDGER_WUR;

int ledger_get_tx(ledger *L, const uint8_t id[32], uint8_t **env, size_t *len,
                  uint64_t *height, uint32_t *index, ledger_err *err) LEDGER_WUR;

/* Header, canonical header bytes (hdr_bytes may be NULL; else malloc'd) and
 * transaction ids (tx_ids may be NULL; else malloc'd array of n ids). */
int ledger_get_block(ledger *L, uint64_t height, ledger_header *h, uint8_t **hdr_bytes,
                     size_t *hdr_len, uint8_t (**tx_ids)[32], size_t *n,
                     ledger_err *err) LEDGER_WUR;

int ledger_get_commit(ledger *L, uint64_t height, ledger_commit *c, ledger_err *err) LEDGER_WUR;

typedef struct {
    ledger_event ev;
    uint64_t log_index;      /* position in the event log */
    uint8_t hash[32];
} ledger_event_rec;

/* Every event of a license in seq order; *evs malloc'd. */
int ledger_get_events(ledger *L, const char *license_id, ledger_event_rec **evs,
                      size_t *n, ledger_err *err) LEDGER_WUR;

/* Node hash reader for the event log (a merkle_get_fn over the store). */
int ledger_mlog_get(void *L, unsigned level, uint64_t index, uint8_t out[32],
                    ledger_err *err);

/* Reader of durable state tree pages (an smt_store.get over the store, with
 * the ledger as ctx; any thread).  Each page is checked against its hash. */
int ledger_smt_get(void *L, const uint8_t h[32], unsigned depth, uint8_t *page, size_t *len,
                   ledger_err *err);

/* The state proof of license `id` under `state_root`, the state_root of any
 * committed block (every past root stays provable).  A membership proof
 * when the license existed at that block, else a proof of absence.  Any
 * thread.  Returns 0 or -1 (err). */
int ledger_state_proof(ledger *L, const uint8_t state_root[32], const char *id,
                       smt_proof *p, ledger_err *err) LEDGER_WUR;

/* Check the whole database for consistency: every index entry matches a
 * record and every record has its index entries, every license's events
 * form its hash chain and end at its head, the event log holds exactly the
 * events and its root matches the tip header, the state tree under the tip's
 * state_root holds exactly the license records (every node hashing to its
 * key, every leaf on its key's path), the tip block exists and no block
 * beyond it.  For tests, crash recovery checks and verify-chain. */
int ledger_check_integrity(ledger *L, ledger_err *err) LEDGER_WUR;

/* The year (UTC+8, China Standard Time) of a block time, used in license ids. */
unsigned ledger_year_of(uint64_t time_ms);

#endif
