/* ledger/stateroot.c: the state tree of a block (ledger.h, state_root):
 * hashing the records a block changed, updating the sparse Merkle tree
 * (smt.h), keeping the head's tree in memory, storing its new pages, and
 * reading the durable tree (pages and proofs). */
#include "ledger.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "ledger_int.h"
#include "par.h"
#include "smt.h"
#include "store.h"

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
    r = ledger_smt_page_parse(h, depth, v, vn, page, len, err);
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
void ledger_state_root_store(ledger_exec *x, smt_page *const *pages, size_t n)
{
    uint8_t stored[SMT_STORED_PAGE_MAX], h[32];
    for (size_t i = 0; i < n; i++) {
        size_t sl = ledger_smt_page_store_form(pages[i], h, stored);
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

/* Below this many changed records a block's state root is computed on the
 * executing thread alone (the hashing here, and the tree update, smt.h). */
#define PAR_MIN_RECORDS 1024

/* The helper threads of large blocks, started on the first one; NULL on a
 * single core or when no thread can start (all then runs on this thread). */
static ledger_workq *helpers_of(ledger *L)
{
    if (L->helpers == NULL)
        L->helpers = ledger_par_helpers_new(NULL);
    return L->helpers;
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
int ledger_state_root_compute(ledger_exec *x, uint8_t out[32], ledger_err *err)
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
    ledger_workq *helpers = n >= PAR_MIN_RECORDS ? helpers_of(x->L) : NULL;
    hash_jobs hj = {dirty, u, n, 256};
    size_t chunks = (n + hj.chunk - 1) / hj.chunk;
    ledger_par_run(helpers, chunks, hash_records, &hj, 0);
    free(dirty);
    int rc = sort_updates(u, n);
    if (rc != 0)
        rc = ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    smt_store st = {.get = exec_smt_get, .ctx = x, .mem = x->L->smt_mem, .gen = x->height,
                    .par = helpers};
    if (rc == 0)
        rc = ledger_smt_update_root(&x->L->smt_root, x->base_state_root, u, n, &st, &x->smt_d,
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
void ledger_state_root_advance(ledger *L, ledger_exec *x)
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
        ledger_smt_delta_commit(&x->smt_d, L->smt_mem);
        x->smt_new = NULL;
        x->smt_changed = 0;
    }
    if (ledger_smt_mem_bytes(L->smt_mem) > STATE_TREE_MEM) {
        /* keep the upper levels, which every block walks, within half the
         * budget; only pages of blocks already written are unloaded */
        size_t by_depth[SMT_KEY_BITS / SMT_PAGE_LEVELS + 1] = {0}, sum = 0;
        ledger_smt_mem_by_depth(L->smt_root, by_depth, SMT_KEY_BITS / SMT_PAGE_LEVELS + 1);
        unsigned d = 0;
        while (d < SMT_KEY_BITS / SMT_PAGE_LEVELS && sum + by_depth[d] <= STATE_TREE_MEM / 2)
            sum += by_depth[d++];
        ledger_smt_trim(L->smt_root, d * SMT_PAGE_LEVELS, x->height - 1, L->smt_mem);
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

/* ---- the durable tree ---- */

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
    return ledger_smt_prove(state_root, key, &st, p, err);
}
