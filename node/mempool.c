#include "mempool.h"

#include <stdlib.h>
#include <string.h>

struct node_mempool {
    mp_tx **buckets;
    size_t nbuckets;            /* power of two */
    mp_tx *head, *tail;         /* FIFO of transactions not yet taken */
    size_t size, waiting, bytes;
    size_t max_txs, max_bytes;
};

static size_t bucket_of(const node_mempool *mp, const uint8_t id[32])
{
    uint64_t h;
    memcpy(&h, id, 8); /* a SHA-256 output: already uniform */
    return (size_t)(h & (mp->nbuckets - 1));
}

node_mempool *node_mempool_new(size_t max_txs, size_t max_bytes)
{
    node_mempool *mp = calloc(1, sizeof *mp);
    if (mp == NULL)
        return NULL;
    mp->max_txs = max_txs ? max_txs : 1;
    mp->max_bytes = max_bytes;
    mp->nbuckets = 1024;
    while (mp->nbuckets < mp->max_txs && mp->nbuckets < (1u << 22))
        mp->nbuckets <<= 1;
    mp->buckets = calloc(mp->nbuckets, sizeof *mp->buckets);
    if (mp->buckets == NULL) {
        free(mp);
        return NULL;
    }
    return mp;
}

void node_mempool_free(node_mempool *mp)
{
    if (mp == NULL)
        return;
    for (size_t b = 0; b < mp->nbuckets; b++)
        for (mp_tx *t = mp->buckets[b], *next; t; t = next) {
            next = t->hash_next;
            free(t->env);
            free(t);
        }
    free(mp->buckets);
    free(mp);
}

static mp_tx *find(const node_mempool *mp, const uint8_t id[32])
{
    for (mp_tx *t = mp->buckets[bucket_of(mp, id)]; t; t = t->hash_next)
        if (memcmp(t->id, id, 32) == 0)
            return t;
    return NULL;
}

int node_mempool_contains(const node_mempool *mp, const uint8_t id[32])
{
    return find(mp, id) != NULL;
}

static void fifo_unlink(node_mempool *mp, mp_tx *t)
{
    if (t->fifo_prev)
        t->fifo_prev->fifo_next = t->fifo_next;
    else
        mp->head = t->fifo_next;
    if (t->fifo_next)
        t->fifo_next->fifo_prev = t->fifo_prev;
    else
        mp->tail = t->fifo_prev;
    t->fifo_next = t->fifo_prev = NULL;
}

int node_mempool_add(node_mempool *mp, const uint8_t id[32], const uint8_t *env, size_t len,
                     int kind, uint64_t now_ms)
{
    if (find(mp, id))
        return MP_DUPLICATE;
    if (mp->size >= mp->max_txs || len > mp->max_bytes - mp->bytes)
        return MP_FULL;
    mp_tx *t = calloc(1, sizeof *t);
    if (t == NULL)
        return MP_NOMEM;
    t->env = malloc(len);
    if (t->env == NULL) {
        free(t);
        return MP_NOMEM;
    }
    memcpy(t->id, id, 32);
    memcpy(t->env, env, len);
    t->len = len;
    t->kind = kind;
    t->received_ms = now_ms;
    size_t b = bucket_of(mp, id);
    t->hash_next = mp->buckets[b];
    mp->buckets[b] = t;
    t->fifo_prev = mp->tail;
    if (mp->tail)
        mp->tail->fifo_next = t;
    else
        mp->head = t;
    mp->tail = t;
    mp->size++;
    mp->waiting++;
    mp->bytes += len;
    return MP_ADDED;
}

size_t node_mempool_take(node_mempool *mp, mp_tx **out, size_t max)
{
    size_t n = 0;
    while (n < max && mp->head) {
        mp_tx *t = mp->head;
        fifo_unlink(mp, t);
        t->in_block = 1;
        mp->waiting--;
        out[n++] = t;
    }
    return n;
}

const mp_tx *node_mempool_get(const node_mempool *mp, const uint8_t id[32])
{
    return find(mp, id);
}

size_t node_mempool_peek(node_mempool *mp, mp_tx **out, size_t max)
{
    size_t n = 0;
    for (mp_tx *t = mp->head; t && n < max; t = t->fifo_next)
        out[n++] = t;
    return n;
}

void node_mempool_remove(node_mempool *mp, const uint8_t id[32])
{
    mp_tx **pp = &mp->buckets[bucket_of(mp, id)];
    while (*pp && memcmp((*pp)->id, id, 32) != 0)
        pp = &(*pp)->hash_next;
    mp_tx *t = *pp;
    if (t == NULL)
        return;
    *pp = t->hash_next;
    if (!t->in_block) {
        fifo_unlink(mp, t);
        mp->waiting--;
    }
    mp->size--;
    mp->bytes -= t->len;
    free(t->env);
    free(t);
}

void node_mempool_return(node_mempool *mp, const uint8_t id[32])
{
    mp_tx *t = find(mp, id);
    if (t == NULL || !t->in_block)
        return;
    t->in_block = 0;
    t->fifo_prev = NULL;
    t->fifo_next = mp->head;
    if (mp->head)
        mp->head->fifo_prev = t;
    else
        mp->tail = t;
    mp->head = t;
    mp->waiting++;
}

size_t node_mempool_size(const node_mempool *mp)
{
    return mp->size;
}

size_t node_mempool_waiting(const node_mempool *mp)
{
    return mp->waiting;
}

size_t node_mempool_bytes(const node_mempool *mp)
{
    return mp->bytes;
}

size_t node_mempool_max(const node_mempool *mp)
{
    return mp->max_txs;
}
