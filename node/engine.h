/* node/engine.h: what turns mempool transactions into committed blocks.
 *
 * This is the seam DESIGN §3 describes between the node and consensus: the
 * node calls these functions and the engine calls back node_tx_finished for
 * every transaction a block settled.  Two implementations: single-validator
 * block production (node/solo.c) and BFT consensus among the validators of
 * genesis (node/bft.c, driving consensus/engine.c). */
#ifndef PERMIT_NODE_ENGINE_H
#define PERMIT_NODE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/err.h"

typedef struct node node;
typedef struct node_engine node_engine;

typedef struct {
    void (*kick)(node_engine *e);
    void (*stop)(node_engine *e);
    void (*free)(node_engine *e);
    /* peers connected, and whether the node is catching up */
    void (*status)(node_engine *e, unsigned *peers, int *syncing);
    /* transactions admitted through RPC, for the engine to share */
    void (*admitted)(node_engine *e, const uint8_t *env, size_t len);
} node_engine_ops;

/* Every engine begins with this. */
struct node_engine {
    const node_engine_ops *ops;
};

/* The engine for this node's genesis: solo for one validator, BFT for more.
 * Loop thread. */
node_engine *node_engine_new(node *n, ledger_err *err);

node_engine *node_solo_new(node *n, ledger_err *err);
node_engine *node_bft_new(node *n, ledger_err *err);

/* Transactions are waiting in the mempool.  Loop thread. */
void node_engine_kick(node_engine *e);

/* Stop making blocks and wait (up to cfg.shutdown_grace) for the block in
 * progress to be written.  Loop thread. */
void node_engine_stop(node_engine *e);

void node_engine_free(node_engine *e);

void node_engine_status(node_engine *e, unsigned *peers, int *syncing);

/* A transaction admitted through RPC (already in the mempool). */
void node_engine_admitted(node_engine *e, const uint8_t *env, size_t len);

#endif
