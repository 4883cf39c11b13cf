/* ledger/genesis_index.c: the lookups of a parsed genesis (genesis.h).
 *
 * Lookups by key go through one sorted array of every key in the file (keys
 * are unique across roles, which the same array proves), so the
 * per-transaction lookups are binary searches; industries are looked up in
 * an array sorted by code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genesis_int.h"

enum key_kind { KEY_SEAL, KEY_NODE, KEY_REGISTRAR, KEY_OBSERVER };

typedef struct {
    uint8_t key[32];
    uint8_t kind;     /* enum key_kind */
    uint32_t idx;     /* department, validators[] position or registrar */
    uint32_t order;   /* enumeration order, to name the later of two uses */
} key_entry;

typedef struct {
    const char *code;
    uint32_t idx;
} code_entry;

struct ledger_genesis_index {
    size_t n_keys;
    key_entry *keys;        /* every key of the file, sorted by key bytes */
    code_entry *industries; /* sorted by code */
};

/* ---- keys and indexes ---------------------------------------------------- */

static int key_entry_cmp(const void *a, const void *b)
{
    const key_entry *x = a, *y = b;
    int c = memcmp(x->key, y->key, 32);
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int code_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const code_entry *)a)->code, ((const code_entry *)b)->code);
}

/* Where a key entry came from, as a JSON path. */
static const char *key_path(const ledger_genesis *g, const key_entry *e, ledger_gj_path *p)
{
    switch (e->kind) {
    case KEY_SEAL:
        snprintf(p->s, sizeof p->s, "departments[%u].seal_key", (unsigned)e->idx);
        break;
    case KEY_NODE:
        snprintf(p->s, sizeof p->s, "departments[%d].validator.node_key",
                 g->validators[e->idx]);
        break;
    case KEY_OBSERVER:
        snprintf(p->s, sizeof p->s, "observers[%u].node_key", (unsigned)e->idx);
        break;
    default:
        snprintf(p->s, sizeof p->s, "registrars[%u].key", (unsigned)e->idx);
        break;
    }
    return p->s;
}

/* Sort every key of the file, refuse any key used twice, and build the
 * lookup indexes. */
int ledger_genesis_index_build(ledger_genesis *g, ledger_err *err)
{
    struct ledger_genesis_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL)
        return ledger_gj_nomem(err);
    g->index = ix;
    size_t n = g->n_departments + g->n_validators + g->n_registrars + g->n_observers;
    ix->keys = calloc(n, sizeof *ix->keys);
    ix->industries = calloc(g->n_industries, sizeof *ix->industries);
    if (ix->keys == NULL || ix->industries == NULL)
        return ledger_gj_nomem(err);
    size_t k = 0;
    /* enumeration order: each department's seal key then node key, then the
     * registrars, so a clash is reported at the later field of the file's
     * usual layout */
    size_t v = 0;
    for (size_t i = 0; i < g->n_departments; i++) {
        key_entry *e = &ix->keys[k];
        if (!g->departments[i].seal_retired) {
            memcpy(e->key, g->departments[i].seal.raw, 32);
            e->kind = KEY_SEAL;
            e->idx = (uint32_t)i;
            e->order = (uint32_t)k++;
        }
        if (g->departments[i].validator) {
            e = &ix->keys[k];
            memcpy(e->key, g->departments[i].node.raw, 32);
            e->kind = KEY_NODE;
            e->idx = (uint32_t)v++;
            e->order = (uint32_t)k++;
        }
    }
    for (size_t i = 0; i < g->n_registrars; i++) {
        key_entry *e = &ix->keys[k];
        memcpy(e->key, g->registrars[i].key.raw, 32);
        e->kind = KEY_REGISTRAR;
        e->idx = (uint32_t)i;
        e->order = (uint32_t)k++;
    }
    for (size_t i = 0; i < g->n_observers; i++) {
        key_entry *e = &ix->keys[k];
        memcpy(e->key, g->observers[i].node.raw, 32);
        e->kind = KEY_OBSERVER;
        e->idx = (uint32_t)i;
        e->order = (uint32_t)k++;
    }
    ix->n_keys = k;
    qsort(ix->keys, k, sizeof *ix->keys, key_entry_cmp);
    for (size_t i = 1; i < k; i++) {
        if (memcmp(ix->keys[i - 1].key, ix->keys[i].key, 32) == 0) {
            ledger_gj_path a, b;
            return ledger_gj_fail(err, key_path(g, &ix->keys[i], &a),
                                  "key already used at %s (every key must be distinct)",
                                  key_path(g, &ix->keys[i - 1], &b));
        }
    }
    for (size_t i = 0; i < g->n_industries; i++) {
        ix->industries[i].code = g->industries[i].code;
        ix->industries[i].idx = (uint32_t)i;
    }
    qsort(ix->industries, g->n_industries, sizeof *ix->industries, code_entry_cmp);
    return 0;
}

void ledger_genesis_index_free(struct ledger_genesis_index *ix)
{
    if (ix == NULL)
        return;
    free(ix->keys);
    free(ix->industries);
    free(ix);
}

/* ---- lookups ------------------------------------------------------------- */

int ledger_genesis_dept_index(const ledger_genesis *g, const char *id)
{
    if (g == NULL || id == NULL)
        return -1;
    for (size_t i = 0; i < g->n_departments; i++)
        if (g->departments[i].id != NULL && strcmp(g->departments[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* The index entry of `key` when it has role `kind`, or NULL. */
static const key_entry *find_key(const ledger_genesis *g, const uint8_t key[32],
                                 enum key_kind kind)
{
    const struct ledger_genesis_index *ix = g->index;
    size_t lo = 0, hi = ix->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(ix->keys[mid].key, key, 32);
        if (c == 0)
            return ix->keys[mid].kind == kind ? &ix->keys[mid] : NULL;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int ledger_genesis_seal_dept(const ledger_genesis *g, const uint8_t key[32])
{
    if (g == NULL || key == NULL)
        return -1;
    if (g->index != NULL) {
        const key_entry *e = find_key(g, key, KEY_SEAL);
        return e ? (int)e->idx : -1;
    }
    for (size_t i = 0; i < g->n_departments; i++)
        if (!g->departments[i].seal_retired && memcmp(g->departments[i].seal.raw, key, 32) == 0)
            return (int)i;
    return -1;
}

const ledger_registrar *ledger_genesis_registrar(const ledger_genesis *g,
                                                 const uint8_t key[32])
{
    if (g == NULL || key == NULL)
        return NULL;
    if (g->index != NULL) {
        const key_entry *e = find_key(g, key, KEY_REGISTRAR);
        return e ? &g->registrars[e->idx] : NULL;
    }
    for (size_t i = 0; i < g->n_registrars; i++)
        if (memcmp(g->registrars[i].key.raw, key, 32) == 0)
            return &g->registrars[i];
    return NULL;
}

int ledger_genesis_validator_index(const ledger_genesis *g, const uint8_t node_key[32])
{
    if (g == NULL || node_key == NULL)
        return -1;
    if (g->index != NULL) {
        const key_entry *e = find_key(g, node_key, KEY_NODE);
        return e ? (int)e->idx : -1;
    }
    for (size_t i = 0; i < g->n_validators; i++)
        if (memcmp(g->departments[g->validators[i]].node.raw, node_key, 32) == 0)
            return (int)i;
    return -1;
}

int ledger_genesis_observer_index(const ledger_genesis *g, const uint8_t node_key[32])
{
    if (g == NULL || node_key == NULL)
        return -1;
    if (g->index != NULL) {
        const key_entry *e = find_key(g, node_key, KEY_OBSERVER);
        return e ? (int)e->idx : -1;
    }
    for (size_t i = 0; i < g->n_observers; i++)
        if (memcmp(g->observers[i].node.raw, node_key, 32) == 0)
            return (int)i;
    return -1;
}

const ledger_industry *ledger_genesis_industry(const ledger_genesis *g, const char *code)
{
    if (g == NULL || code == NULL)
        return NULL;
    if (g->index == NULL) {
        for (size_t i = 0; i < g->n_industries; i++)
            if (strcmp(g->industries[i].code, code) == 0)
                return &g->industries[i];
        return NULL;
    }
    const code_entry *ix = g->index->industries;
    size_t lo = 0, hi = g->n_industries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix[mid].code, code);
        if (c == 0)
            return &g->industries[ix[mid].idx];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
