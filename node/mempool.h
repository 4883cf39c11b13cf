/* node/mempool.h: transactions admitted but not yet in a block.
 *
 * Bounded by count and bytes; first in, first out; every transaction at
 * most once.  Owned by the event-loop thread: no locking.  Signatures and
 * rules were checked before a transaction gets here (node/rpc_methods.c). */
#ifndef PERMIT_NODE_MEMPOOL_H
#define PERMIT_NODE_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct mp_tx {
    uint8_t id[32];
    uint8_t *env;
    size_t len;
    int kind;
    uint64_t received_ms;
    int in_block;               /* handed to the block producer */
    struct mp_tx *fifo_next, *fifo_prev;
    struct mp_tx *hash_next;
} mp_tx;

typedef struct node_mempool node_mempool;

node_mempool *node_mempool_new(size_t max_txs, size_t max_bytes);
void node_mempool_free(node_mempool *mp);

enum { MP_ADDED = 0, MP_DUPLICATE = 1, MP_FULL = 2, MP_NOMEM = 3 };

/* Add a copy of the envelope.  Returns MP_ADDED, MP_DUPLICATE (already
 * waiting or in a block being made), MP_FULL or MP_NOMEM. */
int node_mempool_add(node_mempool *mp, const uint8_t id[32], const uint8_t *env, size_t len,
                     int kind, uint64_t now_ms);

int node_mempool_contains(const node_mempool *mp, const uint8_t id[32]);

/* The transaction with this id, or NULL; valid until the pool next changes. */
const mp_tx *node_mempool_get(const node_mempool *mp, const uint8_t id[32]);

/* Hand up to `max` waiting transactions (oldest first) to the producer:
 * they stay in the pool, marked in_block, until removed or returned. */
size_t node_mempool_take(node_mempool *mp, mp_tx **out, size_t max);

/* Up to `max` waiting transactions, oldest first, left where they are (the
 * pointers stay valid until the pool next changes). */
size_t node_mempool_peek(node_mempool *mp, mp_tx **out, size_t max);

/* Drop a transaction (committed, or refused by the block). */
void node_mempool_remove(node_mempool *mp, const uint8_t id[32]);

/* Put a taken transaction back at the front (its block failed). */
void node_mempool_return(node_mempool *mp, const uint8_t id[32]);

size_t node_mempool_size(const node_mempool *mp);       /* all, in blocks or not */
size_t node_mempool_waiting(const node_mempool *mp);    /* not yet taken */
size_t node_mempool_bytes(const node_mempool *mp);
size_t node_mempool_max(const node_mempool *mp);

#endif
