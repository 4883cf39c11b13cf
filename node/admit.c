/* node/admit.c: eviction among connections that have not authenticated
 * (admit.h). */
#include "admit.h"

#include <string.h>

int node_admit_same_addr(const node_admit_conn *a, const node_admit_conn *b)
{
    return a->addr_len == b->addr_len && memcmp(a->addr, b->addr, a->addr_len) == 0;
}

static int anonymous(const node_admit_conn *c)
{
    return c->stage != NODE_ADMIT_NAMED;
}

/* 1 when a should go before b: less progress, then a worse claim to the
 * key it named, then older. */
static int weaker(const node_admit_conn *a, const node_admit_conn *b)
{
    if (a->stage != b->stage)
        return a->stage < b->stage;
    if (a->key_addr != b->key_addr)
        return a->key_addr < b->key_addr;
    return a->seq < b->seq;
}

typedef int (*admit_filter)(const node_admit_conn *x, const node_admit_conn *c);

static int f_anon_same_addr(const node_admit_conn *x, const node_admit_conn *c)
{
    return anonymous(x) && node_admit_same_addr(x, c);
}

static int f_anon(const node_admit_conn *x, const node_admit_conn *c)
{
    (void)c;
    return anonymous(x);
}

static int f_anon_unreserved(const node_admit_conn *x, const node_admit_conn *c)
{
    (void)c;
    return anonymous(x) && !x->reserved;
}

static int f_same_key(const node_admit_conn *x, const node_admit_conn *c)
{
    return x->stage == NODE_ADMIT_NAMED && x->key == c->key;
}

/* How many of pending[] pass f, and the index of the weakest of them. */
static size_t count(const node_admit_conn *pending, size_t n, const node_admit_conn *c,
                    admit_filter f, int *weakest)
{
    size_t k = 0;
    *weakest = -1;
    for (size_t i = 0; i < n; i++) {
        if (!f(&pending[i], c))
            continue;
        k++;
        if (*weakest < 0 || weaker(&pending[i], &pending[*weakest]))
            *weakest = (int)i;
    }
    return k;
}

int node_admit_victim(const node_admit_limits *lim, const node_admit_conn *pending, size_t n,
                      const node_admit_conn *c)
{
    int w;
    if (c->stage == NODE_ADMIT_NAMED) {
        if (count(pending, n, c, f_same_key, &w) + 1 > lim->per_key)
            return w >= 0 ? w : NODE_ADMIT_REFUSE;
        return NODE_ADMIT_ROOM;
    }
    if (count(pending, n, c, f_anon_same_addr, &w) + 1 > lim->per_addr)
        return w >= 0 ? w : NODE_ADMIT_REFUSE;
    if (count(pending, n, c, f_anon, &w) + 1 > lim->anon_max) {
        int u;
        /* reserved capacity: connections from elsewhere go first, and are
         * the only ones a newcomer from elsewhere may push out */
        if (count(pending, n, c, f_anon_unreserved, &u) > 0)
            return u;
        if (c->reserved && w >= 0)
            return w;
        return NODE_ADMIT_REFUSE;
    }
    return NODE_ADMIT_ROOM;
}
