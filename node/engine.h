/* node/engine.h: what turns mempool transactions into committed blocks.
 *
 * This is the seam DESIGN §3 describes between the node and consensus: the
 * node calls these four functions and the engine calls back
 * node_tx_finished for every transaction it took.  The single-validator
 * producer (node/solo.c) is one implementation; the BFT engine is another. */
#ifndef PERMIT_NODE_ENGINE_H
#define PERMIT_NODE_ENGINE_H

#include "ledger/err.h"

typedef struct node node;
typedef struct node_engine node_engine;

/* The engine for this node's genesis.  Loop thread. */
node_engine *node_engine_new(node *n, ledger_err *err);

/* Transactions are waiting in the mempool.  Loop thread. */
void node_engine_kick(node_engine *e);

/* Stop making blocks and wait (up to cfg.shutdown_grace) for the block in
 * progress to be written.  Loop thread. */
void node_engine_stop(node_engine *e);

void node_engine_free(node_engine *e);

#endif
