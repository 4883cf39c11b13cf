/* ledger/store.h: the RocksDB database of one node (DESIGN §4 "Store").
 *
 * One database, one column family per concern.  Every change a block makes
 * goes into one WriteBatch written with sync = true, so a crash leaves the
 * database at the previous block or the next, never between.  This wrapper
 * is the only place that talks to RocksDB: it translates RocksDB's errptr
 * into ledger_err and counts operations so tests can make the Nth one fail
 * (fault injection in the SQLite manner). */
#ifndef PERMIT_LEDGER_STORE_H
#define PERMIT_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum {
    CF_DEFAULT = 0,
    CF_META,        /* chain id, genesis hash, height, counters */
    CF_BLOCKS,      /* height (be64) -> StoredBlock */
    CF_COMMITS,     /* height (be64) -> Commit certificate */
    CF_TXS,         /* tx_id -> height (be64) || index (be32) || envelope */
    CF_LICENSES,    /* license id -> canonical record */
    CF_EVENTS,      /* license id || 0 || seq (be32) -> log index (be64) || event */
    CF_MLOG,        /* level (u8) || index (be64) -> event log node hash */
    CF_BY_USCC,     /* uscc || id */
    CF_BY_NAME,     /* name || 0 || id */
    CF_BY_ADDRESS,  /* address text || 0 || id */
    CF_BY_INDUSTRY, /* industry || 0 || id */
    CF_BY_STATUS,   /* stored status (u8) || id */
    CF_BY_EXPIRY,   /* expires_at (be64) || id, live licenses only */
    CF_BY_PENDING,  /* department || 0 || id, items awaiting the department */
    CF_BY_OVERDUE,  /* verify_deadline (be64) || id, ISSUED_UNVERIFIED only */
    CF_SMT,         /* node hash -> state tree node (smt.h), content-addressed */
    CF_COUNT
} ledger_cf;

typedef struct ledger_store ledger_store;
typedef struct ledger_batch ledger_batch;
typedef struct ledger_iter ledger_iter;

/* Open (creating if missing) the database in `path`. */
int ledger_store_open(ledger_store **out, const char *path, ledger_err *err) LEDGER_WUR;
/* Open the database in `path` for reading only, as a RocksDB secondary
 * instance: it works while a node has the database open and writing, and
 * sees the database as it was when opened.  The secondary keeps its own
 * small files in secondary_path (a folder of the caller's).  Writes through
 * it fail. */
int ledger_store_open_readonly(ledger_store **out, const char *path,
                               const char *secondary_path, ledger_err *err) LEDGER_WUR;
/* Close; NULL-safe. */
void ledger_store_close(ledger_store *s);

/* A consistent copy of the whole database in dir (which must not exist), made
 * while it serves: RocksDB's checkpoint (hard links where it can). */
int ledger_store_checkpoint(ledger_store *s, const char *dir, ledger_err *err) LEDGER_WUR;

/* Point read.  Returns 1 and a malloc'd value (free with free()) when found,
 * 0 when absent, -1 on error. */
int ledger_store_get(ledger_store *s, ledger_cf cf, const void *key, size_t klen,
                     uint8_t **val, size_t *vlen, ledger_err *err) LEDGER_WUR;

/* A batch of changes to store s; NULL on allocation failure. */
ledger_batch *ledger_batch_new(ledger_store *s);
void ledger_batch_free(ledger_batch *b);
void ledger_batch_put(ledger_batch *b, ledger_cf cf, const void *key, size_t klen,
                      const void *val, size_t vlen);
void ledger_batch_delete(ledger_batch *b, ledger_cf cf, const void *key, size_t klen);
size_t ledger_batch_count(const ledger_batch *b);

/* Write the batch atomically; `sync` fsyncs the WAL before returning. */
int ledger_store_write(ledger_store *s, ledger_batch *b, int sync, ledger_err *err) LEDGER_WUR;

/* Iterators over one column family, reading a consistent snapshot taken at
 * creation. */
ledger_iter *ledger_iter_new(ledger_store *s, ledger_cf cf);
void ledger_iter_free(ledger_iter *it);
void ledger_iter_seek(ledger_iter *it, const void *key, size_t klen);
void ledger_iter_seek_first(ledger_iter *it);
void ledger_iter_seek_last(ledger_iter *it);
void ledger_iter_next(ledger_iter *it);
void ledger_iter_prev(ledger_iter *it);
int ledger_iter_valid(const ledger_iter *it);
const uint8_t *ledger_iter_key(const ledger_iter *it, size_t *klen);
const uint8_t *ledger_iter_value(const ledger_iter *it, size_t *vlen);
/* After a loop: 0, or -1 with err if the iteration stopped on an error
 * (rocksdb_iter_get_error, or an injected fault). */
int ledger_iter_status(const ledger_iter *it, ledger_err *err) LEDGER_WUR;

/* Fault injection for tests: the n-th store operation from now (reads,
 * iterator steps and writes; 1 = the very next) fails with an I/O error.
 * 0 disables.  Returns how many operations ran since the last call. */
uint64_t ledger_store_inject_fault(ledger_store *s, uint64_t n);

const char *ledger_cf_name(ledger_cf cf);

#endif
