/* ledger/merkle.h: RFC 6962 (Certificate Transparency) Merkle trees.
 *
 *   leaf hash  = SHA-256(0x00 || leaf bytes)
 *   node hash  = SHA-256(0x01 || left || right)
 *   empty tree = SHA-256("")
 *
 * A log of n leaves is addressed by perfect, aligned subtrees: node
 * (level, index) covers leaves [index << level, (index + 1) << level).  The
 * store keeps exactly those nodes, so appending costs O(log n) writes and any
 * root, inclusion proof or consistency proof is assembled from O(log^2 n)
 * reads, without a scan.  Everything here is storage-agnostic: the caller
 * supplies a function that returns a stored node. */
#ifndef PERMIT_LEDGER_MERKLE_H
#define PERMIT_LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MERKLE_MAX_PROOF 64   /* hashes in a proof for any 64-bit tree size */
#define MERKLE_MAX_LEVELS 64

void ledger_merkle_leaf_hash(const void *data, size_t len, uint8_t out[32]);
void ledger_merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);
void ledger_merkle_empty_root(uint8_t out[32]);

/* Root of a list of leaf hashes held in memory (e.g. a block's tx_root).
 * n may be 0. Uses O(log n) stack. */
void ledger_merkle_root_of_leaves(const uint8_t (*leaves)[32], size_t n, uint8_t out[32]);

/* Reads the stored perfect subtree (level, index) into out.  Returns 0, or -1
 * on failure (missing node or I/O error; the callback fills err). */
typedef int (*merkle_get_fn)(void *ctx, unsigned level, uint64_t index,
                             uint8_t out[32], ledger_err *err);

/* The right edge of a log of `size` leaves: one perfect subtree per set bit of
 * size, highest first.  Enough to append and to compute the root in O(log n)
 * without reads. */
typedef struct {
    uint64_t size;
    uint8_t nodes[MERKLE_MAX_LEVELS][32]; /* nodes[level] valid when bit `level` of size is set */
} merkle_frontier;

void ledger_merkle_frontier_init(merkle_frontier *f);

/* Called for each newly completed perfect subtree when appending, so the
 * caller can store it. */
typedef void (*merkle_put_fn)(void *ctx, unsigned level, uint64_t index,
                              const uint8_t hash[32]);

/* Append a leaf hash: stores (0, size) and every parent it completes through
 * put, and advances the frontier. */
void ledger_merkle_frontier_append(merkle_frontier *f, const uint8_t leaf_hash[32],
                            merkle_put_fn put, void *ctx);

/* Root of the tree the frontier describes (empty-tree hash for size 0). */
void ledger_merkle_frontier_root(const merkle_frontier *f, uint8_t out[32]);

/* Rebuild the frontier of a log of `size` leaves from stored nodes. */
int ledger_merkle_frontier_load(merkle_frontier *f, uint64_t size, merkle_get_fn get,
                         void *ctx, ledger_err *err) LEDGER_WUR;

/* Root of the first `size` leaves of a stored log (size may be smaller than
 * the log's current size: historical roots are always available). */
int ledger_merkle_root_at(uint64_t size, merkle_get_fn get, void *ctx, uint8_t out[32],
                   ledger_err *err) LEDGER_WUR;

/* Inclusion proof (audit path, leaf to root) of leaf `index` in the tree of
 * the first `size` leaves.  proof must hold MERKLE_MAX_PROOF hashes. */
int ledger_merkle_inclusion_proof(uint64_t index, uint64_t size, merkle_get_fn get,
                           void *ctx, uint8_t (*proof)[32], size_t *n,
                           ledger_err *err) LEDGER_WUR;

/* Consistency proof between the trees of size1 and size2 leaves
 * (0 < size1 <= size2; empty when size1 == size2), as RFC 6962 2.1.2. */
int ledger_merkle_consistency_proof(uint64_t size1, uint64_t size2, merkle_get_fn get,
                             void *ctx, uint8_t (*proof)[32], size_t *n,
                             ledger_err *err) LEDGER_WUR;

/* The number of hashes the consistency proof between trees of size1 and
 * size2 leaves has (0 < size1 <= size2; 0 when equal). */
size_t ledger_merkle_consistency_proof_len(uint64_t size1, uint64_t size2);

/* Verify an inclusion proof (RFC 9162 2.1.3.2).  0 when leaf_hash at index is
 * in the tree of `size` leaves with root `root`; -1 otherwise, with err
 * (code LEDGER_ERR_VERIFY) saying why. */
int ledger_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[32],
                            const uint8_t (*proof)[32], size_t n,
                            const uint8_t root[32], ledger_err *err) LEDGER_WUR;

/* Verify a consistency proof (RFC 9162 2.1.4.2) between (size1, root1) and
 * (size2, root2). */
int ledger_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                              const uint8_t root1[32], const uint8_t root2[32],
                              const uint8_t (*proof)[32], size_t n,
                              ledger_err *err) LEDGER_WUR;

#endif
