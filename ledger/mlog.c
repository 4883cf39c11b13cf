#include "mlog.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"

static void tile_key(uint8_t key[9], unsigned level, uint64_t tile)
{
    key[0] = (uint8_t)level;
    ledger_be64(key + 1, tile);
}

static int tile_read(ledger_store *st, unsigned level, uint64_t tile, uint8_t **val,
                     size_t *n, ledger_err *err)
{
    uint8_t key[9];
    tile_key(key, level, tile);
    int r = ledger_store_get(st, CF_MLOG, key, sizeof key, val, n, err);
    if (r < 0)
        return -1;
    if (r == 0 || *n == 0 || *n % 32 != 0 || *n > MLOG_TILE * 32) {
        if (r > 0)
            free(*val);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "event log tile (%u, %llu) is missing or corrupt", level,
                           (unsigned long long)tile);
    }
    return 0;
}

int ledger_mlog_node(void *store, unsigned level, uint64_t index, uint8_t out[32],
                     ledger_err *err)
{
    uint8_t *val;
    size_t n;
    if (tile_read(store, level, index / MLOG_TILE, &val, &n, err) != 0)
        return -1;
    size_t slot = index % MLOG_TILE;
    if ((slot + 1) * 32 > n) {
        free(val);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "event log node (%u, %llu) is missing",
                           level, (unsigned long long)index);
    }
    memcpy(out, val + slot * 32, 32);
    free(val);
    return 0;
}

int ledger_mlog_load(ledger_mlog *m, ledger_store *st, uint64_t size, ledger_err *err)
{
    memset(m, 0, sizeof *m);
    for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++) {
        uint64_t count = size >> l; /* nodes at this level */
        mlog_tile *t = &m->open[l];
        t->index = count / MLOG_TILE;
        t->n = (unsigned)(count % MLOG_TILE);
        if (t->n == 0)
            continue;
        uint8_t *val;
        size_t n;
        if (tile_read(st, l, t->index, &val, &n, err) != 0)
            return -1;
        if (n < t->n * 32u) {
            free(val);
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "event log tile (%u, %llu) holds %zu nodes, not %u", l,
                               (unsigned long long)t->index, n / 32, t->n);
        }
        memcpy(t->nodes, val, t->n * 32u);
        free(val);
    }
    return ledger_merkle_frontier_load(&m->f, size, ledger_mlog_node, st, err);
}

static void tile_write(ledger_batch *b, unsigned level, mlog_tile *t)
{
    uint8_t key[9];
    tile_key(key, level, t->index);
    ledger_batch_put(b, CF_MLOG, key, sizeof key, t->nodes, t->n * 32u);
    t->dirty = 0;
}

static void put_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    ledger_mlog *m = ctx;
    mlog_tile *t = &m->open[level];
    /* nodes of a level arrive in index order: this one fills slot t->n of
     * tile t->index, and a full tile is written and the next one begun */
    t->index = index / MLOG_TILE;
    t->n = (unsigned)(index % MLOG_TILE);
    memcpy(t->nodes[t->n], hash, 32);
    t->n++;
    t->dirty = 1;
    if (t->n == MLOG_TILE) {
        tile_write(m->batch, level, t);
        t->n = 0;
        t->index++;
    }
}

void ledger_mlog_append(ledger_mlog *m, const uint8_t leaf[32])
{
    ledger_merkle_frontier_append(&m->f, leaf, put_node, m);
}

void ledger_mlog_flush(ledger_mlog *m)
{
    for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++)
        if (m->open[l].dirty && m->open[l].n > 0)
            tile_write(m->batch, l, &m->open[l]);
}
