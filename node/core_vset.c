/* node/core_vset.c: the validators of each height (DESIGN §5) as the node
 * core sees them: a small cache of the host's sets, our index and our
 * peers' in them, the proposer, signature checks against the set of a
 * message's height, and the parameters in force (core_int.h). */
#include "core_int.h"

#include <string.h>

#include "ledger/gov.h"

/* ---- the validators of each height ---- */

const ledger_genesis *core_vset(core *c, uint64_t height)
{
    if (c->h.vset == NULL)
        return c->g;
    vset_entry *oldest = &c->vs[0];
    for (size_t i = 0; i < CORE_VSETS; i++) {
        if (c->vs[i].height == height && c->vs[i].gv != NULL)
            return c->vs[i].gv->m;
        if (c->vs[i].height < oldest->height)
            oldest = &c->vs[i];
    }
    struct ledger_gov *gv = c->h.vset(c->h.ctx, height);
    if (gv == NULL)
        return NULL;
    ledger_gov_release(oldest->gv);
    oldest->gv = gv;
    oldest->height = height;
    return gv->m;
}

void core_vsets_free(core *c)
{
    for (size_t i = 0; i < CORE_VSETS; i++) {
        ledger_gov_release(c->vs[i].gv);
        c->vs[i].gv = NULL;
        c->vs[i].height = 0;
    }
}

const uint8_t *core_val_key(core *c, uint64_t height, uint32_t v)
{
    const ledger_genesis *vs = core_vset(c, height);
    if (vs == NULL || v >= vs->n_validators)
        return NULL;
    return vs->departments[vs->validators[v]].node.raw;
}

int core_self_at(core *c, uint64_t height)
{
    if (!c->voter)
        return -1;
    if (c->h.vset == NULL)
        return c->cfg.self;
    const ledger_genesis *vs = core_vset(c, height);
    return vs ? ledger_genesis_validator_index(vs, c->cfg.node_key) : -1;
}

uint32_t core_val_peer(core *c, uint64_t height, uint32_t v)
{
    const uint8_t *key = core_val_key(c, height, v);
    if (key == NULL)
        return UINT32_MAX;
    for (uint32_t p = 0; p < CORE_NODE_SLOTS && p < c->n_peers; p++)
        if (c->peers[p].up && c->peers[p].has_key && memcmp(c->peers[p].key, key, 32) == 0)
            return p;
    return UINT32_MAX;
}

int core_peer_is_val(core *c, uint32_t p, uint64_t height, uint32_t v)
{
    const uint8_t *key = core_val_key(c, height, v);
    return key != NULL && p < CORE_NODE_SLOTS && p < c->n_peers && c->peers[p].has_key &&
           memcmp(c->peers[p].key, key, 32) == 0;
}

uint32_t core_proposer(core *c, uint64_t height, uint32_t round)
{
    const ledger_genesis *vs = core_vset(c, height);
    if (vs == NULL || vs->n_validators == 0)
        return UINT32_MAX;
    return (uint32_t)((height + round) % vs->n_validators);
}

int core_verify(core *c, uint64_t height, uint32_t v, const uint8_t msg[32],
                const uint8_t sig[64])
{
    const ledger_genesis *vs = core_vset(c, height);
    if (vs == NULL || v >= vs->n_validators)
        return 0;
    const ledger_pubkey *key = &vs->departments[vs->validators[v]].node;
    if (c->h.verify)
        return c->h.verify(c->h.ctx, key, msg, sig);
    return ledger_verify(key, msg, 32, sig);
}

const ledger_params *core_params(core *c, uint64_t height)
{
    /* in force at `height`: the membership after the block before it, which
     * is the validators' set of the height after (DESIGN §5, §11) */
    const ledger_genesis *m = core_vset(c, height + 1);
    if (m == NULL)
        m = core_vset(c, height);
    return m ? &m->params : &c->g->params;
}

/* The engine enters `height`: its validators, and our place among them. */
int core_engine_validators(void *ctx, uint64_t height, unsigned *n, int *self)
{
    core *c = ctx;
    const ledger_genesis *vs = core_vset(c, height);
    if (vs == NULL) {
        c->vset_missing = height;
        return -1;
    }
    *n = (unsigned)vs->n_validators;
    *self = core_self_at(c, height);
    return 0;
}
