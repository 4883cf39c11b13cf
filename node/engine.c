#include "engine.h"

#include "node.h"

node_engine *node_engine_new(node *n, ledger_err *err)
{
    if (n->g->n_validators == 1 && n->observer < 0)
        return node_solo_new(n, err);
    return node_bft_new(n, err);
}

void node_engine_kick(node_engine *e)
{
    if (e)
        e->ops->kick(e);
}

void node_engine_stop(node_engine *e)
{
    if (e)
        e->ops->stop(e);
}

void node_engine_free(node_engine *e)
{
    if (e)
        e->ops->free(e);
}

void node_engine_status(node_engine *e, unsigned *peers, int *syncing)
{
    *peers = 0;
    *syncing = 0;
    if (e && e->ops->status)
        e->ops->status(e, peers, syncing);
}

void node_engine_admitted(node_engine *e, const uint8_t *env, size_t len)
{
    if (e && e->ops->admitted)
        e->ops->admitted(e, env, len);
}
