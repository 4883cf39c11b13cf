/* ledger/mlog.h: the chain-wide event log (RFC 6962) stored in RocksDB.
 *
 * Nodes are kept as tiles: the 16 consecutive perfect subtrees (level, 16t)
 * .. (level, 16t + 15) share one key (level || t) and one value of up to 16
 * hashes.  A block of 10,000 events then writes ~1,300 keys instead of
 * ~20,000.  The right edge of the log (the frontier and the one partly
 * filled tile of each level) lives in memory, so appending never reads. */
#ifndef PERMIT_LEDGER_MLOG_H
#define PERMIT_LEDGER_MLOG_H

#include <stdint.h>

#include "err.h"
#include "merkle.h"
#include "store.h"

#define MLOG_TILE 16

typedef struct {
    uint64_t index;          /* tile number */
    unsigned n;              /* nodes present: slots 0 .. n-1 */
    int dirty;               /* changed since it was last written */
    uint8_t nodes[MLOG_TILE][32];
} mlog_tile;

typedef struct {
    merkle_frontier f;
    mlog_tile open[MERKLE_MAX_LEVELS]; /* the partly filled tile of each level */
    ledger_batch *batch;               /* where completed tiles go while appending */
} ledger_mlog;

/* Load the right edge of a log of `size` events from the store. */
int ledger_mlog_load(ledger_mlog *m, ledger_store *st, uint64_t size, ledger_err *err) LEDGER_WUR;

/* Append an event hash; full tiles are written to m->batch. */
void ledger_mlog_append(ledger_mlog *m, const uint8_t leaf[32]);

/* Write every partly filled tile that changed to m->batch. */
void ledger_mlog_flush(ledger_mlog *m);

/* Read a stored node (a merkle_get_fn when ctx is the ledger_store). */
int ledger_mlog_node(void *store, unsigned level, uint64_t index, uint8_t out[32],
                     ledger_err *err);

#endif
