/* ledger/ledger.c: opening the store, executing and committing blocks. */
#include "ledger.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "hash.h"
#include "hex.h"
#include "index.h"
#include "merkle.h"
#include "mlog.h"
#include "permit.pb-c.h"
#include "rules.h"
#include "par.h"
#include "smt.h"
#include "text.h"
#include "tx.h"
#include "vpool.h"

#define META_CHAIN_ID "chain_id"
#define META_GENESIS "genesis_hash"
#define META_HEIGHT "height"

/* What the next block builds on: the last block executed and handed to the
 * store, durable or not yet.  Touched by the executing thread only. */
typedef struct {
    ledger_tip tip;
    uint8_t state_root[32];
    ledger_mlog log;
} ledger_head;

struct ledger {
    ledger_store *st;
    const ledger_genesis *g;
    pthread_mutex_t mu;      /* guards tip, queued, failed */
    pthread_cond_t cv;       /* a block was queued for writing, or written */
    ledger_tip tip;          /* the last durable block: what readers see */
    ledger_head head;
    ledger_vpool *pool;      /* created on first parallel verification */
    /* the state tree of the head, as far as it is in memory (executing
     * thread only): NULL until an update first reads it */
    smt_page *smt_root;
    smt_mem *smt_mem;        /* where its pages live */
    int readonly;            /* opened with ledger_open_readonly: no blocks */
    _Atomic uint64_t state_ns; /* time spent on state_root (ledger_state_root_ns) */
    _Atomic uint64_t state_cpu_ns;
    int exec_active;

    /* pipelined commit: one block may be written in the background while
     * the next executes (ledger_exec_commit_async) */
    pthread_t committer;
    int committer_started, stop;
    ledger_exec *queued;     /* handed to the committer, not yet written */
    ledger_exec *inflight;   /* the last block handed over; freed by the executor */
    int failed;              /* a background write failed: reload before going on */
    ledger_err fail_err;
};

/* ---- small open-addressing table of entry indices ---- */

typedef struct {
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t cap;      /* power of two */
    size_t n;
} itab;

static uint64_t fnv1a(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

typedef int (*itab_eq)(const void *ctx, uint32_t idx, const void *key);
typedef uint64_t (*itab_hash_of)(const void *ctx, uint32_t idx);

static void itab_free(itab *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static long itab_find(const itab *t, uint64_t h, itab_eq eq, const void *ctx,
                      const void *key)
{
    if (t->cap == 0)
        return -1;
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        uint32_t s = t->slots[i];
        if (s == 0)
            return -1;
        if (eq(ctx, s - 1, key))
            return (long)(s - 1);
    }
}

static int itab_insert(itab *t, uint64_t h, uint32_t idx, itab_hash_of rehash,
                       const void *ctx)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        uint32_t *ns = calloc(nc, sizeof *ns);
        if (ns == NULL)
            return -1;
        for (size_t i = 0; i < t->cap; i++) {
            uint32_t s = t->slots[i];
            if (s == 0)
                continue;
            size_t j = rehash(ctx, s - 1) & (nc - 1);
            while (ns[j])
                j = (j + 1) & (nc - 1);
            ns[j] = s;
        }
        free(t->slots);
        t->slots = ns;
        t->cap = nc;
    }
    size_t j = h & (t->cap - 1);
    while (t->slots[j])
        j = (j + 1) & (t->cap - 1);
    t->slots[j] = idx + 1;
    t->n++;
    return 0;
}

/* ---- time ---- */

unsigned ledger_year_of(uint64_t time_ms)
{
    ledger_date d;
    ledger_cst_date(time_ms, &d);
    return (unsigned)d.year;
}

/* ---- open / close ---- */

static int meta_get_u64(ledger_store *st, const char *key, uint64_t *v, ledger_err *err)
{
    uint8_t *val;
    size_t n;
    int r = ledger_store_get(st, CF_META, key, strlen(key), &val, &n, err);
    if (r <= 0)
        return r;
    if (n != 8) {
        free(val);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "meta %s is corrupt", key);
    }
    *v = ledger_rd_be64(val);
    free(val);
    return 1;
}

static int load_tip(ledger *L, ledger_err *err)
{
    uint64_t height = 0;
    int r = meta_get_u64(L->st, META_HEIGHT, &height, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "database has no height record");
    ledger_head *hd = &L->head;
    memset(hd, 0, sizeof *hd);
    /* the tree in memory may be ahead of the store (a failed write): it is
     * read again from the durable root when needed */
    smt_tree_free(L->smt_root, L->smt_mem);
    L->smt_root = NULL;
    hd->tip.height = height;
    if (height == 0) {
        memcpy(hd->tip.hash, L->g->hash, 32);
        hd->tip.time = L->g->genesis_time_ms;
    } else {
        if (ledger_get_block(L, height, &hd->tip.header, NULL, NULL, NULL, NULL, err) != 1)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "database height is %llu but that block is missing",
                               (unsigned long long)height);
        ledger_header_hash(&hd->tip.header, hd->tip.hash);
        hd->tip.time = hd->tip.header.time;
        memcpy(hd->state_root, hd->tip.header.state_root, 32);
        if (ledger_mlog_load(&hd->log, L->st, hd->tip.header.log_size, err) != 0)
            return -1;
        if (memcmp(hd->state_root, SMT_EMPTY, 32) != 0) {
            uint8_t *v;
            size_t vn;
            int r2 = ledger_store_get(L->st, CF_SMT, hd->state_root, 32, &v, &vn, err);
            if (r2 < 0)
                return -1;
            free(v);
            if (r2 == 0)
                return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                                   "the state tree of block %llu is missing (a database "
                                   "made before the sparse Merkle state root: resync it)",
                                   (unsigned long long)height);
        }
        uint8_t root[32];
        merkle_frontier_root(&hd->log.f, root);
        if (memcmp(root, hd->tip.header.log_root, 32) != 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "event log root does not match block %llu",
                               (unsigned long long)height);
    }
    pthread_mutex_lock(&L->mu);
    L->tip = hd->tip;
    pthread_mutex_unlock(&L->mu);
    return 0;
}

static int ledger_open_mode(ledger **out, const char *db_path, const char *secondary,
                            const ledger_genesis *g, ledger_err *err)
{
    ledger *L = calloc(1, sizeof *L);
    if (L == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    L->g = g;
    L->smt_mem = smt_mem_new();
    if (L->smt_mem == NULL) {
        free(L);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    L->readonly = secondary != NULL;
    if ((secondary ? ledger_store_open_readonly(&L->st, db_path, secondary, err)
                   : ledger_store_open(&L->st, db_path, err)) != 0)
        goto fail;
    uint8_t *gh = NULL;
    size_t ghlen = 0;
    int r = ledger_store_get(L->st, CF_META, META_GENESIS, strlen(META_GENESIS), &gh, &ghlen,
                             err);
    if (r < 0)
        goto fail;
    if (r == 0 && L->readonly) {
        ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s holds no ledger", db_path);
        goto fail;
    }
    if (r == 0) {
        /* a new database: record which chain it belongs to */
        ledger_batch *b = ledger_batch_new(L->st);
        if (b == NULL) {
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto fail;
        }
        uint8_t zero[8] = {0};
        ledger_batch_put(b, CF_META, META_CHAIN_ID, strlen(META_CHAIN_ID), g->chain_id,
                         strlen(g->chain_id));
        ledger_batch_put(b, CF_META, META_GENESIS, strlen(META_GENESIS), g->hash, 32);
        ledger_batch_put(b, CF_META, META_HEIGHT, strlen(META_HEIGHT), zero, 8);
        int w = ledger_store_write(L->st, b, 1, err);
        ledger_batch_free(b);
        if (w != 0)
            goto fail;
    } else {
        int same = ghlen == 32 && memcmp(gh, g->hash, 32) == 0;
        free(gh);
        if (!same) {
            ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                        "database %s belongs to another genesis than chain %s "
                        "(wrong home folder or changed genesis.json)",
                        db_path, g->chain_id);
            goto fail;
        }
    }
    if (load_tip(L, err) != 0)
        goto fail;
    *out = L;
    return 0;
fail:
    ledger_close(L);
    return -1;
}

int ledger_open(ledger **out, const char *db_path, const ledger_genesis *g, ledger_err *err)
{
    return ledger_open_mode(out, db_path, NULL, g, err);
}

int ledger_open_readonly(ledger **out, const char *db_path, const char *secondary_path,
                         const ledger_genesis *g, ledger_err *err)
{
    return ledger_open_mode(out, db_path, secondary_path, g, err);
}

static void exec_release(ledger_exec *x);

void ledger_close(ledger *L)
{
    if (L == NULL)
        return;
    if (L->committer_started) {
        pthread_mutex_lock(&L->mu);
        while (L->queued != NULL)
            pthread_cond_wait(&L->cv, &L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->committer, NULL);
    }
    exec_release(L->inflight);
    ledger_vpool_free(L->pool);
    smt_tree_free(L->smt_root, L->smt_mem);
    smt_mem_free(L->smt_mem);
    ledger_store_close(L->st);
    pthread_cond_destroy(&L->cv);
    pthread_mutex_destroy(&L->mu);
    free(L);
}

const ledger_genesis *ledger_genesis_of(const ledger *L)
{
    return L->g;
}

ledger_store *ledger_store_of(ledger *L)
{
    return L->st;
}

void ledger_get_tip(ledger *L, ledger_tip *tip)
{
    pthread_mutex_lock(&L->mu);
    *tip = L->tip;
    pthread_mutex_unlock(&L->mu);
}

uint64_t ledger_height(ledger *L)
{
    pthread_mutex_lock(&L->mu);
    uint64_t h = L->tip.height;
    pthread_mutex_unlock(&L->mu);
    return h;
}

static ledger_vpool *pool_of(ledger *L)
{
    if (L->pool == NULL)
        L->pool = ledger_vpool_new(0);
    return L->pool;
}

static int smt_store_read(ledger_store *st, const uint8_t h[32], unsigned depth,
                          uint8_t *page, size_t *len, ledger_err *err);

/* ---- event log nodes ---- */

int ledger_mlog_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32],
                    ledger_err *err)
{
    ledger *L = ctx;
    return ledger_mlog_node(L->st, level, index, out, err);
}

int ledger_smt_get(void *ctx, const uint8_t h[32], unsigned depth, uint8_t *page, size_t *len,
                   ledger_err *err)
{
    ledger *L = ctx;
    return smt_store_read(L->st, h, depth, page, len, err);
}

int ledger_state_proof(ledger *L, const uint8_t state_root[32], const char *id,
                       smt_proof *p, ledger_err *err)
{
    uint8_t key[32];
    ledger_sha256(id, strlen(id), key);
    smt_store st = {.get = ledger_smt_get, .ctx = L};
    return smt_prove(state_root, key, &st, p, err);
}

/* ---- block execution ---- */

typedef struct {
    char *id;
    uint8_t *orig;        /* record before this block; NULL for a new license */
    size_t orig_len;
    uint8_t *cur;         /* record now */
    size_t cur_len;
    int dirty;            /* changed by a transaction of this block (a lookup
                             for a refused one only loads it) */
} lic_entry;

struct ledger_exec {
    ledger *L;
    ledger_exec *prev;    /* the block before, if its write is still pending:
                             its overlay is the state this block reads first */
    ledger_block_ctx ctx;
    uint64_t height;
    uint8_t base_hash[32];       /* the block this one extends */
    uint8_t base_state_root[32];
    ledger_batch *batch;
    int finished, committed, broken;
    int owned;            /* handed to the ledger by ledger_exec_commit_async */
    int write_rc;         /* result of the background write */

    lic_entry *lics;
    size_t n_lics, cap_lics;
    itab lic_index;

    uint8_t (*tx_ids)[32];
    uint8_t (*tx_leaves)[32];
    size_t n_txs, cap_txs;
    uint64_t n_bytes;     /* of the envelopes */
    itab tx_index;
    /* the certificate of the previous block the header names, carried with
     * the block: it replaces the stored one at commit */
    int has_last_commit;
    ledger_commit last_commit;
    /* this block's own certificate, once committed with one */
    int has_cert;
    ledger_commit cert;

    unsigned year;        /* of the block time: every APPLY in the block */
    uint64_t next_seq;    /* next license sequence number; 0 = not loaded */
    int seq_dirty;

    ledger_mlog log;
    ledger_header hdr;

    /* state tree: the tree after this block (which becomes the head's when
     * the block is committed), and the pages it created and replaced */
    smt_page *smt_new;
    smt_delta smt_d;
    int smt_changed;      /* smt_new and smt_d are pending */
    /* the pages this block created, to be stored with its batch: by the
     * committing thread, just before the write (they live in the head's tree
     * at least until the next block is committed, which waits for this
     * write) */
    smt_page **smt_write;
    size_t n_smt_write;
    int smt_stored;       /* the pages are in the batch already */
};

static int lic_eq(const void *ctx, uint32_t idx, const void *key)
{
    const ledger_exec *x = ctx;
    return strcmp(x->lics[idx].id, key) == 0;
}

static uint64_t lic_hash(const void *ctx, uint32_t idx)
{
    const ledger_exec *x = ctx;
    return fnv1a(x->lics[idx].id, strlen(x->lics[idx].id));
}

static int txid_eq(const void *ctx, uint32_t idx, const void *key)
{
    const ledger_exec *x = ctx;
    return memcmp(x->tx_ids[idx], key, 32) == 0;
}

static uint64_t txid_hash(const void *ctx, uint32_t idx)
{
    const ledger_exec *x = ctx;
    uint64_t h;
    memcpy(&h, x->tx_ids[idx], 8); /* already uniformly distributed */
    return h;
}

static int check_failed(ledger *L, ledger_err *err)
{
    pthread_mutex_lock(&L->mu);
    int failed = L->failed;
    ledger_err fe = L->fail_err;
    pthread_mutex_unlock(&L->mu);
    if (!failed)
        return 0;
    if (err)
        *err = fe;
    return -1;
}

int ledger_exec_begin(ledger *L, const ledger_block_ctx *ctx, ledger_exec **out,
                      ledger_err *err)
{
    if (L->exec_active)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "a block is already being executed");
    if (L->readonly)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "the ledger is open for reading only");
    if (check_failed(L, err) != 0)
        return -1;
    if (ctx->time <= L->head.tip.time)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_time",
                           "block time %llu is not after the previous block's %llu",
                           (unsigned long long)ctx->time, (unsigned long long)L->head.tip.time);
    ledger_exec *x = calloc(1, sizeof *x);
    if (x == NULL || (x->batch = ledger_batch_new(L->st)) == NULL) {
        free(x);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    x->L = L;
    x->prev = L->inflight;
    x->ctx = *ctx;
    x->height = L->head.tip.height + 1;
    memcpy(x->base_hash, L->head.tip.hash, 32);
    memcpy(x->base_state_root, L->head.state_root, 32);
    x->year = ledger_year_of(ctx->time);
    x->log = L->head.log;
    x->log.batch = x->batch;
    L->exec_active = 1;
    *out = x;
    return 0;
}

static void exec_release(ledger_exec *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->n_lics; i++) {
        free(x->lics[i].id);
        free(x->lics[i].orig);
        free(x->lics[i].cur);
    }
    free(x->lics);
    itab_free(&x->lic_index);
    free(x->tx_ids);
    free(x->tx_leaves);
    itab_free(&x->tx_index);
    if (x->smt_changed)
        smt_delta_discard(&x->smt_d, x->L->smt_mem);
    smt_delta_clear(&x->smt_d);
    free(x->smt_write);
    ledger_batch_free(x->batch);
    free(x);
}

void ledger_exec_free(ledger_exec *x)
{
    if (x == NULL)
        return;
    if (x->owned) /* the ledger frees it once written */
        return;
    x->L->exec_active = 0;
    exec_release(x);
}

size_t ledger_exec_count(const ledger_exec *x)
{
    return x->n_txs;
}

const ledger_header *ledger_exec_header(const ledger_exec *x)
{
    return x->finished ? &x->hdr : NULL;
}

static void seq_key(char *key, size_t cap, unsigned year)
{
    snprintf(key, cap, "seq/%04u", year);
}

/* Assign the next license id of the block's year. */
static int next_license_id(ledger_exec *x, char *id, size_t cap, ledger_err *err)
{
    if (x->next_seq == 0 && x->prev && x->prev->year == x->year && x->prev->next_seq != 0)
        x->next_seq = x->prev->next_seq;
    if (x->next_seq == 0) {
        char key[16];
        seq_key(key, sizeof key, x->year);
        uint64_t v = 0;
        int r = meta_get_u64(x->L->st, key, &v, err);
        if (r < 0)
            return -1;
        x->next_seq = r ? v : 1;
    }
    snprintf(id, cap, "PL-%s-%04u-%06llu", x->L->g->region, x->year,
             (unsigned long long)x->next_seq);
    return 0;
}

/* Find (loading from the store) the overlay entry of a license. */
static int lic_lookup(ledger_exec *x, const char *id, lic_entry **out, ledger_err *err)
{
    uint64_t h = fnv1a(id, strlen(id));
    long i = itab_find(&x->lic_index, h, lic_eq, x, id);
    if (i >= 0) {
        *out = &x->lics[i];
        return 1;
    }
    uint8_t *val;
    size_t n;
    int r;
    long pi = x->prev ? itab_find(&x->prev->lic_index, h, lic_eq, x->prev, id) : -1;
    if (pi >= 0) {
        const lic_entry *pe = &x->prev->lics[pi];
        n = pe->cur_len;
        val = malloc(n ? n : 1);
        if (val == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        memcpy(val, pe->cur, n);
    } else {
        r = ledger_store_get(x->L->st, CF_LICENSES, id, strlen(id), &val, &n, err);
        if (r <= 0)
            return r;
    }
    if (x->n_lics == x->cap_lics) {
        size_t nc = x->cap_lics ? x->cap_lics * 2 : 64;
        lic_entry *nl = realloc(x->lics, nc * sizeof *nl);
        if (nl == NULL) {
            free(val);
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        }
        x->lics = nl;
        x->cap_lics = nc;
    }
    lic_entry *e = &x->lics[x->n_lics];
    e->id = strdup(id);
    e->cur = malloc(n ? n : 1);
    if (e->id == NULL || e->cur == NULL ||
        itab_insert(&x->lic_index, h, (uint32_t)x->n_lics, lic_hash, x) != 0) {
        free(e->id);
        free(e->cur);
        free(val);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    memcpy(e->cur, val, n);
    e->cur_len = n;
    e->orig = val;
    e->orig_len = n;
    e->dirty = 0;
    x->n_lics++;
    *out = e;
    return 1;
}

static int lic_add_new(ledger_exec *x, const char *id, uint8_t *rec, size_t len,
                       ledger_err *err)
{
    if (x->n_lics == x->cap_lics) {
        size_t nc = x->cap_lics ? x->cap_lics * 2 : 64;
        lic_entry *nl = realloc(x->lics, nc * sizeof *nl);
        if (nl == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        x->lics = nl;
        x->cap_lics = nc;
    }
    lic_entry *e = &x->lics[x->n_lics];
    e->id = strdup(id);
    if (e->id == NULL ||
        itab_insert(&x->lic_index, fnv1a(id, strlen(id)), (uint32_t)x->n_lics, lic_hash,
                    x) != 0) {
        free(e->id);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    e->orig = NULL;
    e->orig_len = 0;
    e->cur = rec;
    e->cur_len = len;
    e->dirty = 1;
    x->n_lics++;
    return 0;
}

static int tx_seen(ledger_exec *x, const uint8_t id[32])
{
    uint64_t h;
    memcpy(&h, id, 8);
    return itab_find(&x->tx_index, h, txid_eq, x, id) >= 0;
}

static int tx_record(ledger_exec *x, const uint8_t id[32], const uint8_t leaf[32],
                     ledger_err *err)
{
    if (x->n_txs == x->cap_txs) {
        size_t nc = x->cap_txs ? x->cap_txs * 2 : 256;
        uint8_t(*ni)[32] = realloc(x->tx_ids, nc * 32);
        if (ni == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        x->tx_ids = ni;
        uint8_t(*nl)[32] = realloc(x->tx_leaves, nc * 32);
        if (nl == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        x->tx_leaves = nl;
        x->cap_txs = nc;
    }
    memcpy(x->tx_ids[x->n_txs], id, 32);
    memcpy(x->tx_leaves[x->n_txs], leaf, 32);
    uint64_t h;
    memcpy(&h, id, 8);
    if (itab_insert(&x->tx_index, h, (uint32_t)x->n_txs, txid_hash, x) != 0)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    x->n_txs++;
    return 0;
}

static void events_key(uint8_t *key, size_t *klen, const char *id, uint32_t seq)
{
    size_t n = strlen(id);
    memcpy(key, id, n);
    key[n] = 0;
    ledger_be32(key + n + 1, seq);
    *klen = n + 5;
}

/* The stateful part of executing a transaction that has been decoded and
 * authorised.  Nothing is changed unless it succeeds. */
static int exec_decoded(ledger_exec *x, const ledger_tx *tx, int dept,
                        ledger_tx_result *res, ledger_err *err)
{
    ledger *L = x->L;
    const ledger_genesis *g = L->g;
    if (x->n_txs >= g->params.max_block_txs)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_full",
                           "the block already holds %zu transactions", x->n_txs);
    if (x->n_bytes + tx->env_len > g->params.max_block_bytes)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_full",
                           "the block already holds %llu bytes of %llu",
                           (unsigned long long)x->n_bytes,
                           (unsigned long long)g->params.max_block_bytes);
    if (ledger_tx_check_fields(g, tx, err) != 0 ||
        ledger_tx_check_time(tx, x->ctx.time, g->params.tx_window_ms, err) != 0)
        return -1;
    if (tx_seen(x, tx->id))
        return ledger_fail(err, LEDGER_ERR_DUPLICATE, "tx_duplicate",
                           "the transaction is already in this block");
    if (x->prev && tx_seen(x->prev, tx->id))
        return ledger_fail(err, LEDGER_ERR_DUPLICATE, "tx_duplicate",
                           "the transaction is already in block %llu",
                           (unsigned long long)x->prev->height);
    uint8_t *val;
    size_t vn;
    int r = ledger_store_get(L->st, CF_TXS, tx->id, 32, &val, &vn, err);
    if (r < 0)
        goto io;
    if (r > 0) {
        uint64_t h = vn >= 8 ? ledger_rd_be64(val) : 0;
        free(val);
        return ledger_fail(err, LEDGER_ERR_DUPLICATE, "tx_duplicate",
                           "the transaction was already committed at height %llu",
                           (unsigned long long)h);
    }

    ledger_license lic;
    memset(&lic, 0, sizeof lic);
    lic_entry *e = NULL;
    char new_id[LEDGER_MAX_LICENSE_ID + 1] = "";
    int is_apply = tx->kind == PERMIT__TX_KIND__APPLY;
    if (is_apply) {
        if (next_license_id(x, new_id, sizeof new_id, err) != 0)
            goto io;
    } else {
        r = lic_lookup(x, tx->body->license_id, &e, err);
        if (r < 0)
            goto io;
        if (r == 0)
            return ledger_fail(err, LEDGER_ERR_NOTFOUND, "license_not_found",
                               "license %.64s does not exist", tx->body->license_id);
        if (ledger_license_decode(&lic, e->cur, e->cur_len, err) != 0)
            goto io;
    }
    if (ledger_rules_apply(g, tx, dept, x->ctx.time, new_id, &lic, err) != 0) {
        ledger_license_clear(&lic);
        return -1;
    }

    ledger_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.license_id, sizeof ev.license_id, "%s", lic.id);
    ev.seq = is_apply ? 0 : lic.seq + 1;
    ev.kind = (uint8_t)tx->kind;
    memcpy(ev.tx_id, tx->id, 32);
    ev.height = x->height;
    ev.time = x->ctx.time;
    if (!is_apply)
        memcpy(ev.prev, lic.head, 32);
    uint8_t evbytes[LEDGER_EVENT_MAX_BYTES];
    size_t evlen;
    if (ledger_event_encode(&ev, evbytes, sizeof evbytes, &evlen) != 0) {
        ledger_license_clear(&lic);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "event cannot be encoded");
    }
    uint8_t evhash[32];
    merkle_leaf_hash(evbytes, evlen, evhash);
    lic.seq = ev.seq;
    memcpy(lic.head, evhash, 32);

    uint8_t *rec;
    size_t reclen;
    int enc = ledger_license_encode(&lic, &rec, &reclen, err);
    ledger_license_clear(&lic);
    if (enc != 0)
        return -1;
    uint8_t leaf[32];
    merkle_leaf_hash(tx->env, tx->env_len, leaf);
    if (is_apply) {
        if (lic_add_new(x, new_id, rec, reclen, err) != 0) {
            free(rec);
            return -1;
        }
        x->next_seq++;
        x->seq_dirty = 1;
    } else {
        free(e->cur);
        e->cur = rec;
        e->cur_len = reclen;
        e->dirty = 1;
    }
    if (tx_record(x, tx->id, leaf, err) != 0) {
        x->broken = 1; /* the overlay already moved on: the block cannot go on */
        return -1;
    }
    x->n_bytes += tx->env_len;

    /* the transaction, its event and the event log nodes it completes */
    uint32_t index = (uint32_t)(x->n_txs - 1);
    uint8_t txhead[12];
    ledger_be64(txhead, x->height);
    ledger_be32(txhead + 8, index);
    uint8_t *txval = malloc(12 + tx->env_len);
    if (txval == NULL) {
        x->broken = 1;
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    memcpy(txval, txhead, 12);
    memcpy(txval + 12, tx->env, tx->env_len);
    ledger_batch_put(x->batch, CF_TXS, tx->id, 32, txval, 12 + tx->env_len);
    free(txval);

    uint8_t ekey[LEDGER_MAX_LICENSE_ID + 5], evval[8 + LEDGER_EVENT_MAX_BYTES];
    size_t eklen;
    events_key(ekey, &eklen, ev.license_id, ev.seq);
    ledger_be64(evval, x->log.f.size);
    memcpy(evval + 8, evbytes, evlen);
    ledger_batch_put(x->batch, CF_EVENTS, ekey, eklen, evval, 8 + evlen);
    ledger_mlog_append(&x->log, evhash);

    if (res) {
        memcpy(res->tx_id, tx->id, 32);
        res->index = index;
        res->kind = tx->kind;
        snprintf(res->license_id, sizeof res->license_id, "%s", ev.license_id);
        res->seq = ev.seq;
    }
    return 0;
io:
    x->broken = 1;
    return -1;
}

int ledger_exec_tx(ledger_exec *x, const uint8_t *env, size_t len, ledger_sig_mode mode,
                   ledger_tx_result *res, ledger_err *err)
{
    if (x->finished || x->broken)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "the block is closed");
    ledger_tx tx;
    const ledger_pubkey *pk = NULL;
    int dept, rc = -1;
    if (ledger_tx_decode(&tx, env, len, x->L->g->chain_id, err) != 0 ||
        ledger_tx_authorize(x->L->g, &tx, &pk, &dept, err) != 0)
        goto out;
    if (mode == LEDGER_SIG_CHECK && !ledger_tx_sig_ok(&tx, pk)) {
        ledger_fail(err, LEDGER_ERR_RULE, "signature_invalid",
                    "the signature does not verify for this chain and signer");
        goto out;
    }
    rc = exec_decoded(x, &tx, dept, res, err);
out:
    ledger_tx_release(&tx);
    return rc;
}

/* ---- state_root: the sparse Merkle tree (smt.h) ---- */

/* A durable page of the state tree, read from the store and checked
 * against its hash (1 found, 0 absent, -1 error). */
static int smt_store_read(ledger_store *st, const uint8_t h[32], unsigned depth,
                          uint8_t *page, size_t *len, ledger_err *err)
{
    uint8_t *v;
    size_t vn;
    int r = ledger_store_get(st, CF_SMT, h, 32, &v, &vn, err);
    if (r <= 0)
        return r;
    r = smt_page_parse(h, depth, v, vn, page, len, err);
    free(v);
    return r == 0 ? 1 : -1;
}

/* Pages not in memory are read from the store: every page of the tree this
 * block builds on is durable, since the trees of blocks not yet written are
 * wholly in memory. */
static int exec_smt_get(void *ctx, const uint8_t h[32], unsigned depth, uint8_t *page,
                        size_t *len, ledger_err *err)
{
    ledger_exec *x = ctx;
    return smt_store_read(x->L->st, h, depth, page, len, err);
}

/* Every page a block created goes into its batch, in stored form. */
static void smt_store_pages(ledger_exec *x, smt_page *const *pages, size_t n)
{
    uint8_t stored[SMT_STORED_PAGE_MAX], h[32];
    for (size_t i = 0; i < n; i++) {
        size_t sl = smt_page_store_form(pages[i], h, stored);
        ledger_batch_put(x->batch, CF_SMT, h, 32, stored, sl);
    }
}

static int cmp_update(const void *a, const void *b)
{
    return memcmp(((const smt_update *)a)->key, ((const smt_update *)b)->key, 32);
}

/* Sort updates by key: the keys are hashes, so a counting sort on their
 * first 16 bits leaves almost nothing for the insertion sort after it. */
static int sort_updates(smt_update *u, size_t n)
{
    if (n < 512) {
        qsort(u, n, sizeof *u, cmp_update);
        return 0;
    }
    smt_update *tmp = malloc(n * sizeof *tmp);
    uint32_t *count = calloc(65537, sizeof *count);
    if (tmp == NULL || count == NULL) {
        free(tmp);
        free(count);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        count[((unsigned)u[i].key[0] << 8 | u[i].key[1]) + 1]++;
    for (size_t b = 1; b <= 65536; b++)
        count[b] += count[b - 1];
    for (size_t i = 0; i < n; i++)
        tmp[count[(unsigned)u[i].key[0] << 8 | u[i].key[1]]++] = u[i];
    for (size_t i = 1; i < n; i++) {
        if (memcmp(tmp[i - 1].key, tmp[i].key, 32) <= 0)
            continue;
        smt_update v = tmp[i];
        size_t j = i;
        while (j > 0 && memcmp(tmp[j - 1].key, v.key, 32) > 0) {
            tmp[j] = tmp[j - 1];
            j--;
        }
        tmp[j] = v;
    }
    memcpy(u, tmp, n * sizeof *u);
    free(tmp);
    free(count);
    return 0;
}

/* Hashing the changed records, on all cores. */
typedef struct {
    const lic_entry *const *dirty;
    smt_update *u;
    size_t n, chunk;
} hash_jobs;

static void hash_records(void *ctx, size_t i)
{
    hash_jobs *h = ctx;
    size_t lo = i * h->chunk, hi = lo + h->chunk < h->n ? lo + h->chunk : h->n;
    for (size_t k = lo; k < hi; k++) {
        const lic_entry *e = h->dirty[k];
        ledger_sha256(e->id, strlen(e->id), h->u[k].key);
        ledger_sha256(e->cur, e->cur_len, h->u[k].value);
    }
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread and of the parallel helpers so far. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + ledger_par_helper_cpu_ns();
}

/* The new state_root: every license record the block changed goes into the
 * tree as leaf (SHA-256(id), SHA-256(record)). */
static int compute_state_root(ledger_exec *x, uint8_t out[32], ledger_err *err)
{
    uint64_t t0 = mono_ns(), c0 = cpu_ns();
    size_t n = 0;
    for (size_t i = 0; i < x->n_lics; i++)
        n += x->lics[i].dirty != 0;
    if (n == 0) {
        memcpy(out, x->base_state_root, 32);
        return 0;
    }
    smt_update *u = malloc(n * sizeof *u);
    const lic_entry **dirty = malloc(n * sizeof *dirty);
    if (u == NULL || dirty == NULL) {
        free(u);
        free(dirty);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    n = 0;
    for (size_t i = 0; i < x->n_lics; i++)
        if (x->lics[i].dirty)
            dirty[n++] = &x->lics[i];
    hash_jobs hj = {dirty, u, n, 256};
    size_t chunks = (n + hj.chunk - 1) / hj.chunk;
    ledger_par_run(chunks, hash_records, &hj, n >= 1024 ? 0 : 1);
    free(dirty);
    int rc = sort_updates(u, n);
    if (rc != 0)
        rc = ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    smt_store st = {.get = exec_smt_get, .ctx = x, .mem = x->L->smt_mem, .gen = x->height};
    if (rc == 0)
        rc = smt_update_root(&x->L->smt_root, x->base_state_root, u, n, &st, &x->smt_d,
                             &x->smt_new, out, err);
    x->smt_changed = rc == 0;
    free(u);
    atomic_fetch_add(&x->L->state_ns, mono_ns() - t0);
    atomic_fetch_add(&x->L->state_cpu_ns, cpu_ns() - c0);
    return rc;
}

/* Memory the head's state tree may keep; past it, durable pages deep in the
 * tree are unloaded (and read again when an update reaches them).  A tree of
 * a million licenses takes about 200 MB. */
#define STATE_TREE_MEM ((size_t)384 << 20)

/* Once block x is the head: its tree becomes the head's, and the pages of
 * the old tree that the new one does not share are freed. */
static void smt_advance(ledger *L, ledger_exec *x)
{
    uint64_t t0 = mono_ns(), c0 = cpu_ns();
    if (x->smt_changed) {
        L->smt_root = x->smt_new;
        if (!x->committed) {
            /* written in the background: the pages go to the batch there */
            x->smt_write = x->smt_d.created;
            x->n_smt_write = x->smt_d.n_created;
            x->smt_d.created = NULL;
            x->smt_d.n_created = x->smt_d.cap_created = 0;
        }
        smt_delta_commit(&x->smt_d, L->smt_mem);
        x->smt_new = NULL;
        x->smt_changed = 0;
    }
    if (smt_mem_bytes(L->smt_mem) > STATE_TREE_MEM) {
        /* keep the upper levels, which every block walks, within half the
         * budget; only pages of blocks already written are unloaded */
        size_t by_depth[SMT_KEY_BITS / SMT_PAGE_LEVELS + 1] = {0}, sum = 0;
        smt_mem_by_depth(L->smt_root, by_depth, SMT_KEY_BITS / SMT_PAGE_LEVELS + 1);
        unsigned d = 0;
        while (d < SMT_KEY_BITS / SMT_PAGE_LEVELS && sum + by_depth[d] <= STATE_TREE_MEM / 2)
            sum += by_depth[d++];
        smt_trim(L->smt_root, d * SMT_PAGE_LEVELS, x->height - 1, L->smt_mem);
    }
    atomic_fetch_add(&L->state_ns, mono_ns() - t0);
    atomic_fetch_add(&L->state_cpu_ns, cpu_ns() - c0);
}

uint64_t ledger_state_root_ns(ledger *L)
{
    return atomic_load(&L->state_ns);
}

uint64_t ledger_state_root_cpu_ns(ledger *L)
{
    return atomic_load(&L->state_cpu_ns);
}

int ledger_exec_finish(ledger_exec *x, ledger_header *hdr, ledger_err *err)
{
    ledger *L = x->L;
    if (x->finished || x->broken)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "the block is closed");
    /* license records and the index entries that changed with them */
    for (size_t i = 0; i < x->n_lics; i++) {
        lic_entry *e = &x->lics[i];
        if (!e->dirty)
            continue;
        if (ledger_index_diff(x->batch, e->id, e->orig, e->orig_len, e->cur, e->cur_len,
                              err) != 0)
            goto fail;
        ledger_batch_put(x->batch, CF_LICENSES, e->id, strlen(e->id), e->cur, e->cur_len);
    }
    if (x->seq_dirty) {
        char key[16];
        uint8_t v[8];
        seq_key(key, sizeof key, x->year);
        ledger_be64(v, x->next_seq);
        ledger_batch_put(x->batch, CF_META, key, strlen(key), v, 8);
    }
    ledger_header *h = &x->hdr;
    memset(h, 0, sizeof *h);
    snprintf(h->chain_id, sizeof h->chain_id, "%s", L->g->chain_id);
    h->height = x->height;
    h->time = x->ctx.time;
    memcpy(h->prev_hash, x->base_hash, 32);
    merkle_root_of_leaves((const uint8_t(*)[32])x->tx_leaves, x->n_txs, h->tx_root);
    if (compute_state_root(x, h->state_root, err) != 0)
        goto fail;
    ledger_mlog_flush(&x->log);
    h->log_size = x->log.f.size;
    merkle_frontier_root(&x->log.f, h->log_root);
    memcpy(h->validators_hash, L->g->validators_hash, 32);
    memcpy(h->proposer, x->ctx.proposer, 32);
    memcpy(h->last_commit_hash, x->ctx.last_commit_hash, 32);

    uint8_t hb[LEDGER_MAX_HEADER_BYTES];
    size_t hlen;
    if (ledger_header_encode(h, hb, sizeof hb, &hlen) != 0) {
        ledger_fail(err, LEDGER_ERR_INVALID, NULL, "header cannot be encoded");
        goto fail;
    }
    Permit__StoredBlock sb = PERMIT__STORED_BLOCK__INIT;
    sb.header.data = hb;
    sb.header.len = hlen;
    ProtobufCBinaryData *ids = NULL;
    if (x->n_txs > 0) {
        ids = malloc(x->n_txs * sizeof *ids);
        if (ids == NULL) {
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < x->n_txs; i++) {
            ids[i].data = x->tx_ids[i];
            ids[i].len = 32;
        }
    }
    sb.n_tx_ids = x->n_txs;
    sb.tx_ids = ids;
    size_t sblen = permit__stored_block__get_packed_size(&sb);
    uint8_t *sbuf = malloc(sblen ? sblen : 1);
    if (sbuf == NULL) {
        free(ids);
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    permit__stored_block__pack(&sb, sbuf);
    free(ids);
    uint8_t hkey[8], hval[8];
    ledger_be64(hkey, x->height);
    ledger_batch_put(x->batch, CF_BLOCKS, hkey, 8, sbuf, sblen);
    free(sbuf);
    ledger_be64(hval, x->height);
    ledger_batch_put(x->batch, CF_META, META_HEIGHT, strlen(META_HEIGHT), hval, 8);
    x->finished = 1;
    if (hdr)
        *hdr = *h;
    return 0;
fail:
    x->broken = 1;
    return -1;
}

static int commit_put(ledger_batch *b, const ledger_commit *c, ledger_err *err)
{
    if (c->n_sigs > LEDGER_MAX_DEPARTMENTS)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "certificate has too many signatures");
    ledger_commit_pb w;
    ledger_commit_to_pb(c, &w);
    size_t n = permit__commit__get_packed_size(&w.pc);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    permit__commit__pack(&w.pc, buf);
    uint8_t key[8];
    ledger_be64(key, c->height);
    ledger_batch_put(b, CF_COMMITS, key, 8, buf, n);
    free(buf);
    return 0;
}

/* Make x the head the next block builds on. */
static void advance_head(ledger *L, ledger_exec *x, const uint8_t hash[32])
{
    ledger_head *hd = &L->head;
    hd->tip.height = x->height;
    memcpy(hd->tip.hash, hash, 32);
    hd->tip.time = x->hdr.time;
    hd->tip.header = x->hdr;
    memcpy(hd->state_root, x->hdr.state_root, 32);
    hd->log = x->log;
    hd->log.batch = NULL;
    smt_advance(L, x);
}

static void publish_tip(ledger *L, const ledger_exec *x)
{
    /* caller holds L->mu */
    L->tip.height = x->height;
    ledger_header_hash(&x->hdr, L->tip.hash);
    L->tip.time = x->hdr.time;
    L->tip.header = x->hdr;
}

static int prepare_commit(ledger_exec *x, const ledger_commit *cert, uint8_t hash[32],
                          ledger_err *err)
{
    if (!x->finished || x->broken || x->committed || x->owned)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "the block is not ready to commit");
    ledger_header_hash(&x->hdr, hash);
    if (cert) {
        if (cert->height != x->height || memcmp(cert->block_hash, hash, 32) != 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "certificate is not for this block");
        if (commit_put(x->batch, cert, err) != 0)
            return -1;
        x->cert = *cert;
        x->has_cert = 1;
    }
    if (x->has_last_commit && commit_put(x->batch, &x->last_commit, err) != 0)
        return -1;
    return 0;
}

static void *committer_main(void *arg)
{
    ledger *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && L->queued == NULL)
            pthread_cond_wait(&L->cv, &L->mu);
        if (L->queued == NULL)
            break;
        ledger_exec *x = L->queued;
        pthread_mutex_unlock(&L->mu);
        ledger_err werr;
        ledger_err_clear(&werr);
        smt_store_pages(x, x->smt_write, x->n_smt_write);
        int rc = ledger_store_write(L->st, x->batch, 1, &werr);
        pthread_mutex_lock(&L->mu);
        x->write_rc = rc;
        if (rc == 0) {
            x->committed = 1;
            publish_tip(L, x);
        } else {
            L->failed = 1;
            L->fail_err = werr;
        }
        L->queued = NULL;
        pthread_cond_broadcast(&L->cv);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

int ledger_sync(ledger *L, ledger_err *err)
{
    pthread_mutex_lock(&L->mu);
    while (L->queued != NULL)
        pthread_cond_wait(&L->cv, &L->mu);
    int failed = L->failed;
    ledger_err fe = L->fail_err;
    pthread_mutex_unlock(&L->mu);
    exec_release(L->inflight);
    L->inflight = NULL;
    if (!failed)
        return 0;
    /* the head ran ahead of what is durable: go back to the store's state */
    pthread_mutex_lock(&L->mu);
    L->failed = 0;
    pthread_mutex_unlock(&L->mu);
    ledger_err lerr;
    if (load_tip(L, &lerr) != 0) {
        pthread_mutex_lock(&L->mu);
        L->failed = 1;
        L->fail_err = lerr;
        pthread_mutex_unlock(&L->mu);
    }
    if (err)
        *err = fe;
    return -1;
}

int ledger_exec_commit(ledger_exec *x, const ledger_commit *cert, ledger_err *err)
{
    ledger *L = x->L;
    uint8_t hash[32];
    if (x->prev != NULL) {
        /* the block this one extends must be durable first */
        x->prev = NULL;
        if (ledger_sync(L, err) != 0)
            return -1;
    }
    if (prepare_commit(x, cert, hash, err) != 0)
        return -1;
    if (x->smt_changed && !x->smt_stored) {
        smt_store_pages(x, x->smt_d.created, x->smt_d.n_created);
        x->smt_stored = 1;
    }
    if (ledger_store_write(L->st, x->batch, 1, err) != 0)
        return -1;
    x->committed = 1;
    pthread_mutex_lock(&L->mu);
    publish_tip(L, x);
    pthread_mutex_unlock(&L->mu);
    advance_head(L, x, hash);
    return 0;
}

int ledger_exec_commit_async(ledger_exec *x, const ledger_commit *cert, ledger_err *err)
{
    ledger *L = x->L;
    uint8_t hash[32];
    if (prepare_commit(x, cert, hash, err) != 0)
        return -1;
    /* one write at a time, in order: wait for the previous block's */
    x->prev = NULL;
    if (ledger_sync(L, err) != 0)
        return -1;
    if (!L->committer_started) {
        if (pthread_create(&L->committer, NULL, committer_main, L) != 0)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "cannot start the commit thread");
        L->committer_started = 1;
    }
    advance_head(L, x, hash);
    x->owned = 1;
    L->exec_active = 0;
    L->inflight = x;
    pthread_mutex_lock(&L->mu);
    L->queued = x;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return 0;
}

int ledger_put_commit(ledger *L, const ledger_commit *cert, ledger_err *err)
{
    ledger_header h;
    int r = ledger_get_block(L, cert->height, &h, NULL, NULL, NULL, NULL, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, NULL, "no block at height %llu",
                           (unsigned long long)cert->height);
    uint8_t hash[32];
    ledger_header_hash(&h, hash);
    if (memcmp(hash, cert->block_hash, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "certificate is not for that block");
    ledger_batch *b = ledger_batch_new(L->st);
    if (b == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    int rc = commit_put(b, cert, err);
    if (rc == 0)
        rc = ledger_store_write(L->st, b, 1, err);
    ledger_batch_free(b);
    return rc;
}

/* ---- applying a received block ---- */

#define APPLY_CHUNK 512

static int block_invalid(ledger_err *err, const char *what)
{
    return ledger_fail(err, LEDGER_ERR_RULE, "block_invalid", "%s", what);
}

/* Turn the refusal of transaction i into the refusal of its block, keeping
 * the transaction's own rule in the message. */
static void block_tx_invalid(ledger_err *err, size_t i)
{
    if (err == NULL)
        return;
    char pre[96];
    snprintf(pre, sizeof pre, "block_invalid: transaction %zu refused (rule %s)", i,
             err->rule ? err->rule : "-");
    ledger_err_prefix(err, pre);
    err->code = LEDGER_ERR_RULE;
    err->rule = "block_invalid";
}

/* The certificate of the previous block this ledger holds: the one in
 * the block still being written, or the stored one (1 found, 0 none, -1). */
static int own_last_commit(ledger *L, ledger_commit *c, ledger_err *err)
{
    uint64_t h = L->head.tip.height;
    if (L->inflight && L->inflight->height == h && L->inflight->has_cert) {
        *c = L->inflight->cert;
        return 1;
    }
    return ledger_get_commit(L, h, c, err);
}

static int check_last_commit(ledger *L, const ledger_header *want, const ledger_commit *carried,
                             ledger_err *err)
{
    static const uint8_t zero[32];
    uint8_t h[32];
    if (want->height == 1) {
        if (memcmp(want->last_commit_hash, zero, 32) != 0)
            return block_invalid(err, "the first block names a certificate before it");
        return 0;
    }
    if (carried) {
        ledger_err e;
        ledger_commit_hash(carried, h);
        if (memcmp(h, want->last_commit_hash, 32) != 0)
            return block_invalid(err, "last_commit_hash is not the hash of the previous block's "
                                      "certificate carried with it");
        if (ledger_commit_verify(L->g, carried, L->head.tip.hash, L->head.tip.height, &e) != 0)
            return ledger_fail(err, LEDGER_ERR_RULE, "block_invalid",
                               "the previous block's certificate carried with it does not "
                               "verify: %s",
                               e.msg);
        return 0;
    }
    ledger_commit own;
    int r = own_last_commit(L, &own, err);
    if (r < 0)
        return -1;
    if (r == 0)
        memset(h, 0, 32);
    else
        ledger_commit_hash(&own, h);
    if (memcmp(h, want->last_commit_hash, 32) != 0)
        return block_invalid(err, "last_commit_hash names a certificate of the previous block "
                                  "that this node does not hold, and none came with the block");
    return 0;
}

int ledger_validate_block(ledger *L, const uint8_t *hb, size_t hlen,
                          const uint8_t *const *txs, const size_t *tx_lens, size_t n,
                          const ledger_commit *last_commit, const uint8_t *trusted,
                          ledger_tx_result *results, ledger_exec **held, ledger_err *err)
{
    const ledger_genesis *g = L->g;
    *held = NULL;
    ledger_header want;
    if (ledger_header_decode(&want, hb, hlen, err) != 0)
        return -1;
    /* bounds first */
    if (n > g->params.max_block_txs)
        return block_invalid(err, "block holds more transactions than max_block_txs");
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += tx_lens[i];
    if (bytes > g->params.max_block_bytes)
        return block_invalid(err, "block holds more bytes than max_block_bytes");
    if (strcmp(want.chain_id, g->chain_id) != 0)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_invalid", "block is for chain %s",
                           want.chain_id);
    if (want.height != L->head.tip.height + 1)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_invalid",
                           "block height %llu does not follow %llu",
                           (unsigned long long)want.height,
                           (unsigned long long)L->head.tip.height);
    if (memcmp(want.prev_hash, L->head.tip.hash, 32) != 0)
        return block_invalid(err, "block does not extend this chain (prev_hash differs)");
    if (memcmp(want.validators_hash, g->validators_hash, 32) != 0)
        return block_invalid(err, "validators_hash differs from genesis");
    if (ledger_genesis_validator_index(g, want.proposer) < 0)
        return block_invalid(err, "the proposer is not a validator");
    if (check_last_commit(L, &want, last_commit, err) != 0)
        return -1;

    ledger_block_ctx ctx;
    ctx.time = want.time;
    memcpy(ctx.proposer, want.proposer, 32);
    memcpy(ctx.last_commit_hash, want.last_commit_hash, 32);
    ledger_exec *x = NULL;
    if (ledger_exec_begin(L, &ctx, &x, err) != 0)
        return -1;

    int rc = -1;
    size_t cap = n ? n : 1;
    ledger_tx *dec = calloc(cap, sizeof *dec);
    ledger_vjob *jobs = calloc(cap, sizeof *jobs); /* signatures still to check */
    size_t *job_tx = calloc(cap, sizeof *job_tx);  /* the transaction of each job */
    int *depts = calloc(cap, sizeof *depts);
    uint8_t *ok = calloc(cap, 1);
    ledger_vbatch *batches[(LEDGER_MAX_BLOCK_TXS_HARD + APPLY_CHUNK - 1) / APPLY_CHUNK];
    size_t n_batches = 0, n_jobs = 0;
    ledger_vpool *pool = pool_of(L);
    if (!dec || !jobs || !job_tx || !depts || !ok) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    /* decode everything, handing signatures to the workers chunk by chunk;
     * those verified before (at mempool admission) are not checked twice */
    for (size_t start = 0; start < n; start += APPLY_CHUNK) {
        size_t end = start + APPLY_CHUNK < n ? start + APPLY_CHUNK : n;
        size_t first_job = n_jobs;
        for (size_t i = start; i < end; i++) {
            const ledger_pubkey *pk = NULL;
            if (ledger_tx_decode(&dec[i], txs[i], tx_lens[i], g->chain_id, err) != 0 ||
                ledger_tx_authorize(g, &dec[i], &pk, &depts[i], err) != 0) {
                block_tx_invalid(err, i);
                goto out;
            }
            if (trusted && trusted[i])
                continue;
            jobs[n_jobs].pk = pk;
            jobs[n_jobs].msg = dec[i].sighash;
            jobs[n_jobs].sig = dec[i].sig;
            job_tx[n_jobs++] = i;
        }
        if (n_jobs == first_job)
            continue;
        ledger_vbatch *b = pool ? ledger_vpool_submit(pool, jobs + first_job, n_jobs - first_job,
                                                      ok + first_job)
                                : NULL;
        if (b == NULL) {
            for (size_t k = first_job; k < n_jobs; k++)
                ok[k] = (uint8_t)ledger_verify(jobs[k].pk, jobs[k].msg, 32, jobs[k].sig);
        } else {
            batches[n_batches++] = b;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (exec_decoded(x, &dec[i], depts[i], results ? &results[i] : NULL, err) != 0) {
            if (err == NULL || (err->code != LEDGER_ERR_IO && err->code != LEDGER_ERR_NOMEM))
                block_tx_invalid(err, i);
            goto out;
        }
    }
    if (last_commit && want.height > 1) {
        x->last_commit = *last_commit;
        x->has_last_commit = 1;
    }
    ledger_header got;
    if (ledger_exec_finish(x, &got, err) != 0)
        goto out;
    for (size_t b = 0; b < n_batches; b++)
        ledger_vbatch_wait(batches[b]);
    n_batches = 0;
    for (size_t k = 0; k < n_jobs; k++)
        if (!ok[k]) {
            ledger_fail(err, LEDGER_ERR_RULE, "signature_invalid", "the signature does not verify");
            block_tx_invalid(err, job_tx[k]);
            goto out;
        }
    if (memcmp(got.tx_root, want.tx_root, 32) != 0) {
        block_invalid(err, "tx_root differs");
        goto out;
    }
    if (memcmp(got.state_root, want.state_root, 32) != 0) {
        block_invalid(err, "state_root differs");
        goto out;
    }
    if (got.log_size != want.log_size || memcmp(got.log_root, want.log_root, 32) != 0) {
        block_invalid(err, "event log (log_size, log_root) differs");
        goto out;
    }
    uint8_t h1[32], h2[32];
    ledger_header_hash(&got, h1);
    ledger_header_hash(&want, h2);
    if (memcmp(h1, h2, 32) != 0) {
        block_invalid(err, "header differs from its re-execution");
        goto out;
    }
    *held = x;
    x = NULL;
    rc = 0;
out:
    for (size_t b = 0; b < n_batches; b++)
        ledger_vbatch_wait(batches[b]);
    if (dec)
        for (size_t i = 0; i < n; i++)
            ledger_tx_release(&dec[i]);
    free(dec);
    free(jobs);
    free(job_tx);
    free(depts);
    free(ok);
    ledger_exec_free(x);
    return rc;
}

int ledger_apply_block(ledger *L, const uint8_t *hb, size_t hlen,
                       const uint8_t *const *txs, const size_t *tx_lens, size_t n,
                       const ledger_commit *last_commit, const ledger_commit *cert,
                       unsigned flags, ledger_err *err)
{
    uint8_t *trusted = NULL;
    if (flags & LEDGER_APPLY_SIG_TRUSTED) {
        trusted = malloc(n ? n : 1);
        if (trusted == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        memset(trusted, 1, n ? n : 1);
    }
    ledger_exec *x = NULL;
    int rc = ledger_validate_block(L, hb, hlen, txs, tx_lens, n, last_commit, trusted, NULL, &x,
                                   err);
    free(trusted);
    if (rc != 0)
        return -1;
    rc = flags & LEDGER_APPLY_ASYNC ? ledger_exec_commit_async(x, cert, err)
                                    : ledger_exec_commit(x, cert, err);
    ledger_exec_free(x);
    return rc;
}

int ledger_precheck(ledger *L, const ledger_tx *tx, int dept, uint64_t now, ledger_err *err)
{
    if (tx->kind == PERMIT__TX_KIND__APPLY)
        return 0; /* nothing stateful: the id is assigned by the block */
    ledger_license lic;
    int r = ledger_get_license(L, tx->body->license_id, &lic, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, "license_not_found",
                           "license %.64s does not exist", tx->body->license_id);
    int rc = ledger_rules_apply(L->g, tx, dept, now, NULL, &lic, err);
    ledger_license_clear(&lic);
    return rc;
}

/* ---- reads ---- */

int ledger_get_license_bytes(ledger *L, const char *id, uint8_t **rec, size_t *len,
                             ledger_err *err)
{
    size_t n = strlen(id);
    if (n == 0 || n > LEDGER_MAX_LICENSE_ID)
        return 0;
    return ledger_store_get(L->st, CF_LICENSES, id, n, rec, len, err);
}

int ledger_get_license(ledger *L, const char *id, ledger_license *out, ledger_err *err)
{
    uint8_t *rec;
    size_t n;
    int r = ledger_get_license_bytes(L, id, &rec, &n, err);
    if (r <= 0)
        return r;
    r = ledger_license_decode(out, rec, n, err);
    free(rec);
    return r == 0 ? 1 : -1;
}

int ledger_get_tx(ledger *L, const uint8_t id[32], uint8_t **env, size_t *len,
                  uint64_t *height, uint32_t *index, ledger_err *err)
{
    uint8_t *val;
    size_t n;
    int r = ledger_store_get(L->st, CF_TXS, id, 32, &val, &n, err);
    if (r <= 0)
        return r;
    if (n < 12 + LEDGER_ENVELOPE_HEADER) {
        free(val);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "corrupt transaction record");
    }
    if (height)
        *height = ledger_rd_be64(val);
    if (index)
        *index = ledger_rd_be32(val + 8);
    if (env) {
        *env = malloc(n - 12);
        if (*env == NULL) {
            free(val);
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        }
        memcpy(*env, val + 12, n - 12);
        *len = n - 12;
    }
    free(val);
    return 1;
}

int ledger_get_block(ledger *L, uint64_t height, ledger_header *h, uint8_t **hdr_bytes,
                     size_t *hdr_len, uint8_t (**tx_ids)[32], size_t *n, ledger_err *err)
{
    uint8_t key[8], *val;
    size_t vn;
    ledger_be64(key, height);
    int r = ledger_store_get(L->st, CF_BLOCKS, key, 8, &val, &vn, err);
    if (r <= 0)
        return r;
    Permit__StoredBlock *sb = permit__stored_block__unpack(NULL, vn, val);
    free(val);
    if (sb == NULL)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "block %llu is corrupt",
                           (unsigned long long)height);
    int rc = -1;
    if (ledger_header_decode(h, sb->header.data, sb->header.len, err) != 0)
        goto out;
    if (hdr_bytes) {
        *hdr_bytes = malloc(sb->header.len);
        if (*hdr_bytes == NULL) {
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        memcpy(*hdr_bytes, sb->header.data, sb->header.len);
        *hdr_len = sb->header.len;
    }
    if (tx_ids) {
        *tx_ids = malloc((sb->n_tx_ids ? sb->n_tx_ids : 1) * 32);
        if (*tx_ids == NULL) {
            if (hdr_bytes)
                free(*hdr_bytes);
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < sb->n_tx_ids; i++) {
            if (sb->tx_ids[i].len != 32) {
                free(*tx_ids);
                if (hdr_bytes)
                    free(*hdr_bytes);
                ledger_fail(err, LEDGER_ERR_INVALID, NULL, "block %llu is corrupt",
                            (unsigned long long)height);
                goto out;
            }
            memcpy((*tx_ids)[i], sb->tx_ids[i].data, 32);
        }
        *n = sb->n_tx_ids;
    }
    rc = 1;
out:
    permit__stored_block__free_unpacked(sb, NULL);
    return rc;
}

int ledger_get_commit(ledger *L, uint64_t height, ledger_commit *c, ledger_err *err)
{
    uint8_t key[8], *val;
    size_t vn;
    ledger_be64(key, height);
    int r = ledger_store_get(L->st, CF_COMMITS, key, 8, &val, &vn, err);
    if (r <= 0)
        return r;
    Permit__Commit *pc = permit__commit__unpack(NULL, vn, val);
    free(val);
    ledger_err e;
    int rc = pc && ledger_commit_from_pb(c, pc, &e) == 0 ? 1 : -1;
    if (pc)
        permit__commit__free_unpacked(pc, NULL);
    if (rc < 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "certificate %llu is corrupt",
                           (unsigned long long)height);
    return 1;
}

int ledger_get_events(ledger *L, const char *license_id, ledger_event_rec **evs,
                      size_t *n, ledger_err *err)
{
    *evs = NULL;
    *n = 0;
    size_t idlen = strlen(license_id);
    if (idlen == 0 || idlen > LEDGER_MAX_LICENSE_ID)
        return 0;
    ledger_iter *it = ledger_iter_new(L->st, CF_EVENTS);
    if (it == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    uint8_t prefix[LEDGER_MAX_LICENSE_ID + 1];
    memcpy(prefix, license_id, idlen);
    prefix[idlen] = 0;
    size_t cap = 0;
    ledger_event_rec *out = NULL;
    int rc = 1;
    for (ledger_iter_seek(it, prefix, idlen + 1); ledger_iter_valid(it); ledger_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = ledger_iter_key(it, &kl);
        if (kl != idlen + 5 || memcmp(k, prefix, idlen + 1) != 0)
            break;
        const uint8_t *v = ledger_iter_value(it, &vl);
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            ledger_event_rec *no = realloc(out, cap * sizeof *no);
            if (no == NULL) {
                rc = ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
                break;
            }
            out = no;
        }
        ledger_event_rec *e = &out[*n];
        if (vl < 8 || ledger_event_decode(&e->ev, v + 8, vl - 8) != 0 ||
            e->ev.seq != *n || ledger_rd_be32(k + idlen + 1) != *n) {
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                             "event %zu of license %s is corrupt", *n, license_id);
            break;
        }
        e->log_index = ledger_rd_be64(v);
        merkle_leaf_hash(v + 8, vl - 8, e->hash);
        (*n)++;
    }
    if (rc == 1 && ledger_iter_status(it, err) != 0)
        rc = -1;
    ledger_iter_free(it);
    if (rc != 1) {
        free(out);
        *n = 0;
        return -1;
    }
    if (*n == 0) {
        free(out);
        return 0;
    }
    *evs = out;
    return 1;
}
