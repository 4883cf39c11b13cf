/* ledger/index.h: the secondary indexes of license records (DESIGN §4).
 *
 * Index entries are a pure function of a license record, so they are never
 * updated by hand: when a block changes a record, the entries of the old and
 * the new record are computed and only the difference is written, in the
 * block's batch.  The same function lets the integrity check rebuild what the
 * indexes must hold. */
#ifndef PERMIT_LEDGER_INDEX_H
#define PERMIT_LEDGER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "license.h"
#include "limits.h"
#include "store.h"

#define LEDGER_INDEX_KEY_MAX (LEDGER_MAX_ADDRESS_TEXT + 1 + LEDGER_MAX_LICENSE_ID + 8)

typedef struct {
    uint8_t cf;     /* ledger_cf */
    uint16_t len;
    uint8_t key[LEDGER_INDEX_KEY_MAX];
} ledger_index_key;

/* Every index entry of a record, sorted by (cf, key), without duplicates.
 * *keys is malloc'd. */
int ledger_index_keys(const ledger_license *l, ledger_index_key **keys, size_t *n,
                      ledger_err *err) LEDGER_WUR;

/* Called for every entry of the pending index (CF_BY_PENDING: department ||
 * 0 || license id) a diff adds (+1) or removes (-1). */
typedef void (*ledger_index_count_fn)(void *ctx, const uint8_t *key, size_t klen, int delta);

/* Queue in b the index changes from record `orig` (NULL for a new license) to
 * record `cur`, both canonical bytes; count (may be NULL) hears of the
 * pending index's changes. */
int ledger_index_diff(ledger_batch *b, const char *id, const uint8_t *orig, size_t olen,
                      const uint8_t *cur, size_t clen, ledger_index_count_fn count,
                      void *ctx, ledger_err *err) LEDGER_WUR;

/* The license id a key of the given index ends with (points into key). */
const char *ledger_index_key_id(ledger_cf cf, const uint8_t *key, size_t klen,
                                size_t *idlen);

#endif
