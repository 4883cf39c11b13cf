/* The sparse Merkle tree behind state_root (ledger/smt.h): roots against a
 * naive reference over many random sets, membership and absence proofs for
 * present and absent keys (against old roots too), every way a proof can be
 * bent, the node cache, the integrity walk, and the tree inside the ledger. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/par.h"
#include "ledger/smt.h"
#include "ledger/store.h"
#include "ledgertest.h"

/* ---- an in-memory page store (holding stored forms, as RocksDB does) ---- */

typedef struct {
    uint8_t hash[32];
    uint8_t page[SMT_STORED_PAGE_MAX];
    size_t len;
    int used;
} mem_slot;

typedef struct {
    mem_slot *s;
    size_t cap, n;
    size_t gets, puts;
    int fail_get;           /* make every get a miss */
    smt_mem *mem;           /* where the tree's pages live */
    smt_page *root;         /* the current tree in memory */
    smt_delta d;
    int cold;               /* drop the tree in memory before an update */
    ledger_workq *par;      /* helpers for large updates, as a ledger has them */
} mem_store;

static void mem_init(mem_store *m)
{
    memset(m, 0, sizeof *m);
    m->cap = 1 << 16;
    m->s = calloc(m->cap, sizeof *m->s);
    m->mem = ledger_smt_mem_new();
    assert_non_null(m->mem);
    m->par = ledger_par_helpers_new(NULL);
}

static void mem_free(mem_store *m)
{
    ledger_smt_tree_free(m->root, m->mem);
    ledger_smt_delta_clear(&m->d);
    /* every page a tree held is freed with it */
    assert_int_equal(ledger_smt_mem_pages(m->mem), 0);
    assert_int_equal(ledger_smt_mem_bytes(m->mem), 0);
    ledger_smt_mem_free(m->mem);
    ledger_workq_free(m->par);
    free(m->s);
}

static size_t mem_home(const mem_store *m, const uint8_t h[32])
{
    uint64_t v;
    memcpy(&v, h + 8, 8);
    return (size_t)v & (m->cap - 1);
}

static void mem_put_raw(mem_store *m, const uint8_t h[32], const uint8_t *page, size_t len)
{
    if ((m->n + 1) * 2 > m->cap) {
        mem_store big = *m;
        big.cap = m->cap * 2;
        big.s = calloc(big.cap, sizeof *big.s);
        big.n = 0;
        for (size_t i = 0; i < m->cap; i++)
            if (m->s[i].used)
                mem_put_raw(&big, m->s[i].hash, m->s[i].page, m->s[i].len);
        free(m->s);
        m->s = big.s;
        m->cap = big.cap;
    }
    size_t i = mem_home(m, h);
    while (m->s[i].used) {
        if (memcmp(m->s[i].hash, h, 32) == 0)
            return;
        i = (i + 1) & (m->cap - 1);
    }
    m->s[i].used = 1;
    memcpy(m->s[i].hash, h, 32);
    memcpy(m->s[i].page, page, len);
    m->s[i].len = len;
    m->n++;
}

static mem_slot *mem_find(mem_store *m, const uint8_t h[32])
{
    for (size_t i = mem_home(m, h);; i = (i + 1) & (m->cap - 1)) {
        if (!m->s[i].used)
            return NULL;
        if (memcmp(m->s[i].hash, h, 32) == 0)
            return &m->s[i];
    }
}

static int mem_get(void *ctx, const uint8_t h[32], unsigned depth, uint8_t *page, size_t *len,
                   ledger_err *err)
{
    mem_store *m = ctx;
    m->gets++;
    assert_int_equal(depth % SMT_PAGE_LEVELS, 0);
    if (m->fail_get)
        return 0;
    mem_slot *s = mem_find(m, h);
    if (s == NULL)
        return 0;
    return ledger_smt_page_parse(h, depth, s->page, s->len, page, len, err) == 0 ? 1 : -1;
}

/* Every page written: its stored form parses back to the same page under
 * the same hash. */
static void mem_put(void *ctx, const uint8_t h[32], unsigned depth, const uint8_t *page,
                    size_t len)
{
    mem_store *m = ctx;
    m->puts++;
    assert_int_equal(depth % SMT_PAGE_LEVELS, 0);
    assert_true(len > 0 && len <= SMT_PAGE_MAX);
    uint8_t stored[SMT_STORED_PAGE_MAX], back[SMT_PAGE_MAX];
    size_t sl = ledger_smt_page_stored(page, len, stored), bl = 0;
    assert_true(sl <= SMT_STORED_PAGE_MAX);
    ledger_err err;
    if (ledger_smt_page_parse(h, depth, stored, sl, back, &bl, &err) != 0)
        fail_msg("a written page does not parse back: %s", err.msg);
    assert_int_equal(bl, len);
    assert_memory_equal(back, page, len);
    mem_put_raw(m, h, stored, sl);
}

static smt_store mem_ops(mem_store *m)
{
    smt_store st = {.get = mem_get, .put = mem_put, .ctx = m, .mem = m->mem, .gen = 1,
                    .par = m->par};
    return st;
}

/* ---- the reference: the definition of docs/formats.md, computed naively ---- */

typedef struct {
    uint8_t key[32];
    uint8_t value[32];
} kv;

static int cmp_kv(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void ref_root(const kv *s, size_t n, unsigned depth, uint8_t out[32])
{
    if (n == 0) {
        memset(out, 0, 32);
        return;
    }
    if (n == 1) {
        ledger_smt_leaf_hash(s[0].key, s[0].value, out);
        return;
    }
    size_t m = 0;
    while (m < n && !smt_bit(s[m].key, depth))
        m++;
    uint8_t l[32], r[32];
    ref_root(s, m, depth + 1, l);
    ref_root(s + m, n - m, depth + 1, r);
    ledger_smt_inner_hash(l, r, out);
}

/* a set of key/value pairs kept sorted and unique */
typedef struct {
    kv *v;
    size_t n, cap;
} kvset;

static kv *kvset_find(kvset *s, const uint8_t key[32])
{
    if (s->n == 0)
        return NULL;
    return bsearch(key, s->v, s->n, sizeof *s->v, cmp_kv);
}

static uint64_t rng_next(uint64_t *st)
{
    /* splitmix64 */
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rand_bytes(uint64_t *st, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng_next(st);
        memcpy(out + i, &v, n - i < 8 ? n - i : 8);
    }
}

static int cmp_update(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Apply a batch to the tree and the reference. */
static void apply_batch(mem_store *m, kvset *ref, uint8_t root[32], smt_update *u, size_t n,
                        int unused)
{
    (void)unused;
    qsort(u, n, sizeof *u, cmp_update);
    smt_store st = mem_ops(m);
    ledger_err err;
    uint8_t nr[32];
    smt_page *np = NULL;
    if (m->cold) {
        ledger_smt_tree_free(m->root, m->mem);
        m->root = NULL;
    }
    if (ledger_smt_update_root(&m->root, root, u, n, &st, &m->d, &np, nr, &err) != 0)
        fail_msg("update: %s", err.msg);
    m->root = np;
    ledger_smt_delta_commit(&m->d, m->mem);
    /* the batch's keys are distinct: look up among the old keys only, append
     * the new ones, sort once */
    size_t n0 = ref->n;
    for (size_t i = 0; i < n; i++) {
        kv *e = n0 ? bsearch(u[i].key, ref->v, n0, sizeof *ref->v, cmp_kv) : NULL;
        if (e) {
            memcpy(e->value, u[i].value, 32);
            continue;
        }
        if (ref->n == ref->cap) {
            ref->cap = ref->cap ? ref->cap * 2 : 64;
            ref->v = realloc(ref->v, ref->cap * sizeof *ref->v);
        }
        memcpy(ref->v[ref->n].key, u[i].key, 32);
        memcpy(ref->v[ref->n].value, u[i].value, 32);
        ref->n++;
    }
    qsort(ref->v, ref->n, sizeof *ref->v, cmp_kv);
    uint8_t want[32];
    ref_root(ref->v, ref->n, 0, want);
    assert_memory_equal(nr, want, 32);
    memcpy(root, nr, 32);
}

/* The tree under root still holds exactly the reference set. */
static void kvset_check_root(mem_store *m, kvset *ref, const uint8_t root[32])
{
    uint8_t want[32];
    ref_root(ref->v, ref->n, 0, want);
    assert_memory_equal(root, want, 32);
    smt_store st = mem_ops(m);
    ledger_err err;
    for (size_t i = 0; i < ref->n; i += 37) {
        smt_proof p;
        assert_int_equal(ledger_smt_prove(root, ref->v[i].key, &st, &p, &err), 0);
        assert_int_equal(ledger_smt_verify(root, ref->v[i].key, ref->v[i].value, &p, &err), 0);
    }
}

/* ---- tests ---- */

static void test_empty_tree_root_is_zero_and_proves_absence(void **state)
{
    (void)state;
    mem_store m;
    mem_init(&m);
    smt_store st = mem_ops(&m);
    uint8_t root[32], nr[32], key[32] = {7};
    memset(root, 0, 32);
    ledger_err err;
    smt_page *np = (smt_page *)1, *none = NULL;
    smt_delta d = {0};
    assert_int_equal(ledger_smt_update_root(&none, root, NULL, 0, &st, &d, &np, nr, &err), 0);
    assert_memory_equal(nr, LEDGER_SMT_EMPTY, 32);
    assert_null(np);
    smt_proof p;
    assert_int_equal(ledger_smt_prove(root, key, &st, &p, &err), 0);
    assert_int_equal(p.n_siblings, 0);
    assert_int_equal(p.end, SMT_END_EMPTY);
    assert_int_equal(ledger_smt_verify(root, key, NULL, &p, &err), 0);
    uint8_t v[32] = {1};
    assert_int_equal(ledger_smt_verify(root, key, v, &p, &err), -1);
    mem_free(&m);
}

static void test_single_leaf_is_the_root(void **state)
{
    (void)state;
    mem_store m;
    mem_init(&m);
    kvset ref = {0};
    uint8_t root[32] = {0};
    smt_update u;
    memset(&u, 0, sizeof u);
    memset(u.key, 0xab, 32);
    memset(u.value, 0xcd, 32);
    apply_batch(&m, &ref, root, &u, 1, 1);
    uint8_t leaf[32];
    ledger_smt_leaf_hash(u.key, u.value, leaf);
    assert_memory_equal(root, leaf, 32);
    /* the layout of docs/formats.md: SHA-256(0x00 || k || v) */
    uint8_t buf[65], want[32];
    buf[0] = 0;
    memcpy(buf + 1, u.key, 32);
    memcpy(buf + 33, u.value, 32);
    ledger_sha256(buf, 65, want);
    assert_memory_equal(leaf, want, 32);
    free(ref.v);
    mem_free(&m);
}

static void test_random_sets_match_the_reference(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        uint64_t rs = seed * 7919;
        mem_store m;
        mem_init(&m);
        kvset ref = {0};
        uint8_t root[32] = {0};
        size_t batches = 6 + seed % 5;
        for (size_t b = 0; b < batches; b++) {
            size_t n = 1 + rng_next(&rs) % (seed < 4 ? 8 : 300);
            smt_update *u = calloc(n, sizeof *u);
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                /* half new keys, half updates of existing ones */
                if (ref.n > 0 && rng_next(&rs) % 2 == 0)
                    memcpy(u[k].key, ref.v[rng_next(&rs) % ref.n].key, 32);
                else
                    rand_bytes(&rs, u[k].key, 32);
                rand_bytes(&rs, u[k].value, 32);
                int dup = 0;
                for (size_t j = 0; j < k; j++)
                    dup |= memcmp(u[j].key, u[k].key, 32) == 0;
                if (!dup)
                    k++;
            }
            /* from the tree in memory, or read from the store: the same roots */
            m.cold = (seed + b) % 3 == 0;
            apply_batch(&m, &ref, root, u, k, 0);
            free(u);
        }
        free(ref.v);
        mem_free(&m);
    }
}

/* Blocks of thousands of changes: the subtrees below the root page are
 * updated on all cores, and must come out as they would on one. */
static void test_large_batches_match_the_reference(void **state)
{
    (void)state;
    uint64_t rs = 2024;
    mem_store m;
    mem_init(&m);
    kvset ref = {0};
    uint8_t root[32] = {0};
    enum { PER = 3000 };
    smt_update *u = calloc(PER, sizeof *u);
    for (int b = 0; b < 5; b++) {
        for (int i = 0; i < PER; i++) {
            if (ref.n > 0 && i % 2)
                memcpy(u[i].key, ref.v[rng_next(&rs) % ref.n].key, 32);
            else
                rand_bytes(&rs, u[i].key, 32);
            rand_bytes(&rs, u[i].value, 32);
        }
        /* distinct keys: sort and drop repeats */
        qsort(u, PER, sizeof *u, cmp_update);
        size_t k = 0;
        for (size_t i = 0; i < PER; i++)
            if (k == 0 || memcmp(u[k - 1].key, u[i].key, 32) != 0)
                u[k++] = u[i];
        m.cold = b == 3;
        apply_batch(&m, &ref, root, u, k, 0);
    }
    free(u);
    smt_store st = mem_ops(&m);
    ledger_err err;
    for (size_t i = 0; i < ref.n; i += 97) {
        smt_proof p;
        assert_int_equal(ledger_smt_prove(root, ref.v[i].key, &st, &p, &err), 0);
        assert_int_equal(ledger_smt_verify(root, ref.v[i].key, ref.v[i].value, &p, &err), 0);
    }
    free(ref.v);
    mem_free(&m);
}

static void test_membership_and_absence_proofs_over_random_sets(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        uint64_t rs = seed * 104729;
        mem_store m;
        mem_init(&m);
        kvset ref = {0};
        uint8_t root[32] = {0};
        size_t total = seed == 1 ? 2 : 40 * seed;
        smt_update *u = calloc(total, sizeof *u);
        for (size_t i = 0; i < total; i++) {
            rand_bytes(&rs, u[i].key, 32);
            rand_bytes(&rs, u[i].value, 32);
        }
        apply_batch(&m, &ref, root, u, total, 1);
        free(u);
        smt_store st = mem_ops(&m);
        ledger_err err;
        size_t max_depth = 0;
        for (size_t i = 0; i < ref.n; i++) {
            smt_proof p;
            assert_int_equal(ledger_smt_prove(root, ref.v[i].key, &st, &p, &err), 0);
            assert_int_equal(p.end, SMT_END_LEAF);
            if (p.n_siblings > max_depth)
                max_depth = p.n_siblings;
            if (ledger_smt_verify(root, ref.v[i].key, ref.v[i].value, &p, &err) != 0)
                fail_msg("membership: %s", err.msg);
            /* the key is present: absence must not verify */
            assert_int_equal(ledger_smt_verify(root, ref.v[i].key, NULL, &p, &err), -1);
            uint8_t other[32];
            memcpy(other, ref.v[i].value, 32);
            other[31] ^= 1;
            assert_int_equal(ledger_smt_verify(root, ref.v[i].key, other, &p, &err), -1);
        }
        /* leaves sit at the shortest unique prefix: about log2 n deep */
        assert_true(max_depth <= 2 * (size_t)(64 - __builtin_clzll(ref.n)) + 8);
        for (size_t i = 0; i < 200; i++) {
            uint8_t key[32];
            rand_bytes(&rs, key, 32);
            smt_proof p;
            assert_int_equal(ledger_smt_prove(root, key, &st, &p, &err), 0);
            if (ledger_smt_verify(root, key, NULL, &p, &err) != 0)
                fail_msg("absence: %s", err.msg);
            uint8_t v[32] = {0};
            assert_int_equal(ledger_smt_verify(root, key, v, &p, &err), -1);
            if (p.end == SMT_END_LEAF) {
                /* a leaf for another key proves absence only for keys on its path */
                uint8_t far[32];
                memcpy(far, key, 32);
                if (p.n_siblings > 0) {
                    far[0] ^= 0x80; /* leaves the path at bit 0 */
                    assert_int_equal(ledger_smt_verify(root, far, NULL, &p, &err), -1);
                }
            }
        }
        free(ref.v);
        mem_free(&m);
    }
}

static void test_old_roots_stay_provable(void **state)
{
    (void)state;
    uint64_t rs = 99;
    mem_store m;
    mem_init(&m);
    kvset ref = {0};
    enum { ROUNDS = 10, PER = 50 };
    uint8_t roots[ROUNDS][32];
    kvset snaps[ROUNDS];
    uint8_t root[32] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        smt_update u[PER];
        memset(u, 0, sizeof u);
        size_t k = 0;
        for (int i = 0; i < PER; i++) {
            if (ref.n > 0 && i % 3 == 0)
                memcpy(u[k].key, ref.v[rng_next(&rs) % ref.n].key, 32);
            else
                rand_bytes(&rs, u[k].key, 32);
            rand_bytes(&rs, u[k].value, 32);
            int dup = 0;
            for (size_t j = 0; j < k; j++)
                dup |= memcmp(u[j].key, u[k].key, 32) == 0;
            if (!dup)
                k++;
        }
        apply_batch(&m, &ref, root, u, k, 1);
        memcpy(roots[r], root, 32);
        snaps[r].n = snaps[r].cap = ref.n;
        snaps[r].v = malloc(ref.n * sizeof *ref.v);
        memcpy(snaps[r].v, ref.v, ref.n * sizeof *ref.v);
    }
    smt_store st = mem_ops(&m);
    ledger_err err;
    for (int r = 0; r < ROUNDS; r++) {
        /* every key of the last set: under root r with its value then, or absent */
        for (size_t i = 0; i < ref.n; i++) {
            smt_proof p;
            assert_int_equal(ledger_smt_prove(roots[r], ref.v[i].key, &st, &p, &err), 0);
            kv *then = kvset_find(&snaps[r], ref.v[i].key);
            if (then) {
                if (ledger_smt_verify(roots[r], then->key, then->value, &p, &err) != 0)
                    fail_msg("round %d: %s", r, err.msg);
                if (r + 1 < ROUNDS && memcmp(then->value, ref.v[i].value, 32) != 0)
                    /* the newest value is not provable under an old root */
                    assert_int_equal(ledger_smt_verify(roots[r], ref.v[i].key, ref.v[i].value, &p,
                                                &err), -1);
            } else {
                if (ledger_smt_verify(roots[r], ref.v[i].key, NULL, &p, &err) != 0)
                    fail_msg("round %d absence: %s", r, err.msg);
            }
        }
        free(snaps[r].v);
    }
    free(ref.v);
    mem_free(&m);
}

/* Keys that share long prefixes: deep chains of inner nodes with empty
 * siblings, up to two keys differing only in the last bit (256 levels). */
static void test_deep_paths_up_to_256_levels(void **state)
{
    (void)state;
    mem_store m;
    mem_init(&m);
    kvset ref = {0};
    uint8_t root[32] = {0};
    smt_update u[4];
    memset(u, 0, sizeof u);
    memset(u[0].key, 0x5a, 32);
    memcpy(u[1].key, u[0].key, 32);
    u[1].key[31] ^= 1; /* differs in bit 255 only */
    memcpy(u[2].key, u[0].key, 32);
    u[2].key[25] ^= 0x10; /* differs at bit 203 */
    memcpy(u[3].key, u[0].key, 32);
    u[3].key[0] ^= 0x80;
    for (int i = 0; i < 4; i++)
        memset(u[i].value, 0x11 * (i + 1), 32);
    apply_batch(&m, &ref, root, u, 2, 1);
    apply_batch(&m, &ref, root, u + 2, 2, 1);
    smt_store st = mem_ops(&m);
    ledger_err err;
    smt_proof p;
    for (size_t i = 0; i < ref.n; i++) {
        assert_int_equal(ledger_smt_prove(root, ref.v[i].key, &st, &p, &err), 0);
        assert_int_equal(ledger_smt_verify(root, ref.v[i].key, ref.v[i].value, &p, &err), 0);
    }
    uint8_t k0[32];
    memset(k0, 0x5a, 32);
    assert_int_equal(ledger_smt_prove(root, k0, &st, &p, &err), 0);
    assert_int_equal(p.n_siblings, 256);
    /* a key on the deep path but absent */
    uint8_t k[32];
    memcpy(k, k0, 32);
    k[20] ^= 0x01;
    assert_int_equal(ledger_smt_prove(root, k, &st, &p, &err), 0);
    assert_int_equal(ledger_smt_verify(root, k, NULL, &p, &err), 0);
    free(ref.v);
    mem_free(&m);
}

static void test_bent_proofs_are_refused(void **state)
{
    (void)state;
    uint64_t rs = 4242;
    mem_store m;
    mem_init(&m);
    kvset ref = {0};
    uint8_t root[32] = {0};
    smt_update u[300];
    memset(u, 0, sizeof u);
    for (int i = 0; i < 300; i++) {
        rand_bytes(&rs, u[i].key, 32);
        rand_bytes(&rs, u[i].value, 32);
    }
    apply_batch(&m, &ref, root, u, 300, 1);
    smt_store st = mem_ops(&m);
    ledger_err err;
    const kv *e = &ref.v[17];
    smt_proof p, q;
    assert_int_equal(ledger_smt_prove(root, e->key, &st, &p, &err), 0);
    assert_true(p.n_siblings >= 4);
    /* every sibling bit matters */
    for (size_t i = 0; i < p.n_siblings; i++) {
        q = p;
        q.siblings[i][i % 32] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(ledger_smt_verify(root, e->key, e->value, &q, &err), -1);
    }
    /* a sibling dropped, or one added */
    q = p;
    q.n_siblings--;
    assert_int_equal(ledger_smt_verify(root, e->key, e->value, &q, &err), -1);
    q = p;
    memset(q.siblings[q.n_siblings], 0x33, 32);
    q.n_siblings++;
    assert_int_equal(ledger_smt_verify(root, e->key, e->value, &q, &err), -1);
    /* longer than any key */
    q = p;
    q.n_siblings = SMT_MAX_PROOF + 1;
    assert_int_equal(ledger_smt_verify(root, e->key, e->value, &q, &err), -1);
    assert_non_null(strstr(err.msg, "256"));
    /* the leaf swapped for another key's */
    q = p;
    memcpy(q.leaf_key, ref.v[18].key, 32);
    assert_int_equal(ledger_smt_verify(root, e->key, e->value, &q, &err), -1);
    /* claims an empty end where the leaf is */
    q = p;
    q.end = SMT_END_EMPTY;
    assert_int_equal(ledger_smt_verify(root, e->key, NULL, &q, &err), -1);
    q.end = (smt_end)7;
    assert_int_equal(ledger_smt_verify(root, e->key, NULL, &q, &err), -1);
    /* another root */
    uint8_t other[32];
    memcpy(other, root, 32);
    other[0] ^= 1;
    assert_int_equal(ledger_smt_verify(other, e->key, e->value, &p, &err), -1);
    /* a non-canonical path: the leaf pushed one level down beside an empty
     * sibling hashes differently, but the verifier refuses it outright */
    q = p;
    memcpy(q.siblings[q.n_siblings], LEDGER_SMT_EMPTY, 32);
    q.n_siblings++;
    assert_int_equal(ledger_smt_verify(root, e->key, e->value, &q, &err), -1);
    assert_non_null(strstr(err.msg, "canonical"));
    free(ref.v);
    mem_free(&m);
}

static void test_missing_nodes_are_reported(void **state)
{
    (void)state;
    mem_store m;
    mem_init(&m);
    kvset ref = {0};
    uint8_t root[32] = {0};
    smt_update u[3];
    memset(u, 0, sizeof u);
    for (int i = 0; i < 3; i++) {
        memset(u[i].key, 0x10 * (i + 1), 32);
        memset(u[i].value, i + 1, 32);
    }
    apply_batch(&m, &ref, root, u, 3, 1);
    m.fail_get = 1;
    smt_store st = mem_ops(&m);
    ledger_err err;
    smt_proof p;
    assert_int_equal(ledger_smt_prove(root, u[0].key, &st, &p, &err), -1);
    assert_non_null(strstr(err.msg, "missing"));
    uint8_t nr[32];
    smt_page *np = NULL, *none = NULL;
    smt_update one = u[0];
    memset(one.value, 0x77, 32);
    assert_int_equal(ledger_smt_update_root(&none, root, &one, 1, &st, &m.d, &np, nr, &err), -1);
    assert_null(np);
    /* unsorted updates are a programming error reported as such */
    m.fail_get = 0;
    smt_update two[2] = {u[1], u[0]};
    assert_int_equal(ledger_smt_update_root(&m.root, root, two, 2, &st, &m.d, &np, nr, &err), -1);
    free(ref.v);
    mem_free(&m);
    /* a page below the root missing: nothing of the update stays */
    uint64_t rs = 9;
    mem_init(&m);
    memset(&ref, 0, sizeof ref);
    memset(root, 0, 32);
    smt_update many[300];
    memset(many, 0, sizeof many);
    for (int i = 0; i < 300; i++) {
        rand_bytes(&rs, many[i].key, 32);
        rand_bytes(&rs, many[i].value, 32);
    }
    apply_batch(&m, &ref, root, many, 300, 0);
    st = mem_ops(&m);
    ledger_smt_trim(m.root, SMT_PAGE_LEVELS, 1, m.mem);
    size_t pages = ledger_smt_mem_pages(m.mem);
    m.fail_get = 1;
    one = many[0];
    memset(one.value, 0x77, 32);
    assert_int_equal(ledger_smt_update_root(&m.root, root, &one, 1, &st, &m.d, &np, nr, &err), -1);
    assert_non_null(strstr(err.msg, "missing"));
    assert_int_equal(ledger_smt_mem_pages(m.mem), pages);
    m.fail_get = 0;
    free(ref.v);
    mem_free(&m);
}

typedef struct {
    kvset *ref;
    size_t i;
} walk_state;

static int walk_fn(void *ctx, const uint8_t key[32], const uint8_t value[32], ledger_err *err)
{
    (void)err;
    walk_state *w = ctx;
    assert_true(w->i < w->ref->n);
    assert_memory_equal(key, w->ref->v[w->i].key, 32);
    assert_memory_equal(value, w->ref->v[w->i].value, 32);
    w->i++;
    return 0;
}

static void test_walk_visits_every_leaf_in_order_and_checks_hashes(void **state)
{
    (void)state;
    uint64_t rs = 31337;
    mem_store m;
    mem_init(&m);
    kvset ref = {0};
    uint8_t root[32] = {0};
    smt_update u[500];
    memset(u, 0, sizeof u);
    for (int i = 0; i < 500; i++) {
        rand_bytes(&rs, u[i].key, 32);
        rand_bytes(&rs, u[i].value, 32);
    }
    apply_batch(&m, &ref, root, u, 500, 1);
    smt_store st = mem_ops(&m);
    ledger_err err;
    walk_state w = {&ref, 0};
    assert_int_equal(ledger_smt_walk(root, &st, walk_fn, &w, &err), 0);
    assert_int_equal(w.i, ref.n);
    /* corrupt a stored page below the root: the walk notices */
    int done = 0;
    for (size_t i = 0; i < m.cap && !done; i++) {
        mem_slot *s = &m.s[i];
        if (!s->used || memcmp(s->hash, root, 32) == 0 || s->page[0] != 0x01)
            continue;
        s->page[s->len - 1] ^= 1;
        done = 1;
    }
    assert_true(done);
    w.i = 0;
    assert_int_equal(ledger_smt_walk(root, &st, walk_fn, &w, &err), -1);
    assert_non_null(strstr(err.msg, "does not hash"));
    free(ref.v);
    mem_free(&m);
}

/* The tree in memory: an update copies the changed paths and shares the
 * rest; committing frees the replaced pages, discarding the created ones;
 * unloaded pages are read again from the store when an update needs them. */
static void test_the_tree_in_memory_commits_discards_and_unloads(void **state)
{
    (void)state;
    uint64_t rs = 77;
    mem_store m;
    mem_init(&m);
    kvset ref = {0};
    uint8_t root[32] = {0};
    smt_update u[400];
    memset(u, 0, sizeof u);
    for (int i = 0; i < 400; i++) {
        rand_bytes(&rs, u[i].key, 32);
        rand_bytes(&rs, u[i].value, 32);
    }
    apply_batch(&m, &ref, root, u, 400, 0);
    size_t pages = ledger_smt_mem_pages(m.mem);
    assert_true(pages > 1);
    /* an update that is dropped leaves the tree and its memory as they were */
    smt_store st = mem_ops(&m);
    ledger_err err;
    smt_update one = u[0];
    memset(one.value, 0x55, 32);
    smt_page *np;
    uint8_t nr[32];
    assert_int_equal(ledger_smt_update_root(&m.root, root, &one, 1, &st, &m.d, &np, nr, &err), 0);
    assert_true(ledger_smt_mem_pages(m.mem) > pages);
    assert_true(m.d.n_created > 0 && m.d.n_created == m.d.n_replaced);
    ledger_smt_delta_discard(&m.d, m.mem);
    assert_int_equal(ledger_smt_mem_pages(m.mem), pages);
    kvset_check_root(&m, &ref, root);
    /* one that is adopted replaces exactly its path */
    apply_batch(&m, &ref, root, &one, 1, 0);
    assert_int_equal(ledger_smt_mem_pages(m.mem), pages);
    /* unload all but the root page; the next update reads what it needs */
    ledger_smt_trim(m.root, SMT_PAGE_LEVELS, 1, m.mem);
    assert_int_equal(ledger_smt_mem_pages(m.mem), 1);
    size_t gets = m.gets;
    memset(u[1].value, 0x66, 32);
    apply_batch(&m, &ref, root, &u[1], 1, 0);
    assert_true(m.gets > gets);
    /* pages of a generation not yet stored are never unloaded */
    size_t by[70] = {0};
    ledger_smt_mem_by_depth(m.root, by, 70);
    assert_true(by[0] > 0);
    ledger_smt_trim(m.root, SMT_PAGE_LEVELS, 0, m.mem);
    size_t by2[70] = {0};
    ledger_smt_mem_by_depth(m.root, by2, 70);
    assert_memory_equal(by, by2, sizeof by);
    free(ref.v);
    mem_free(&m);
}

/* Stored pages are parsed strictly: the layout of docs/formats.md and
 * nothing else. */
static void test_malformed_pages_are_refused(void **state)
{
    (void)state;
    uint8_t k1[32], k2[32], v[32], out[SMT_PAGE_MAX];
    size_t ol;
    memset(k1, 0x00, 32);
    memset(k2, 0xff, 32);
    memset(v, 7, 32);
    /* a good page: an inner node over two leaves */
    uint8_t pg[200];
    size_t n = 0;
    pg[n++] = 0x01;
    pg[n++] = 0x00;
    memcpy(pg + n, k1, 32), n += 32;
    memcpy(pg + n, v, 32), n += 32;
    pg[n++] = 0x00;
    memcpy(pg + n, k2, 32), n += 32;
    memcpy(pg + n, v, 32), n += 32;
    uint8_t l1[32], l2[32], h[32];
    ledger_smt_leaf_hash(k1, v, l1);
    ledger_smt_leaf_hash(k2, v, l2);
    ledger_smt_inner_hash(l1, l2, h);
    ledger_err err;
    assert_int_equal(ledger_smt_page_parse(h, 0, pg, n, out, &ol, &err), 0);
    assert_int_equal(ol, 36 + 97 + 97);
    /* trailing byte, cut short, another hash, unknown tag */
    pg[n] = 0x02;
    assert_int_equal(ledger_smt_page_parse(h, 0, pg, n + 1, out, &ol, &err), -1);
    assert_int_equal(ledger_smt_page_parse(h, 0, pg, n - 1, out, &ol, &err), -1);
    uint8_t h2[32];
    memcpy(h2, h, 32);
    h2[0] ^= 1;
    assert_int_equal(ledger_smt_page_parse(h2, 0, pg, n, out, &ol, &err), -1);
    assert_non_null(strstr(err.msg, "does not hash"));
    pg[0] = 0x07;
    assert_int_equal(ledger_smt_page_parse(h, 0, pg, n, out, &ol, &err), -1);
    /* a page that is an empty subtree, or a reference at its root */
    static const uint8_t empty[] = {0x02};
    assert_int_equal(ledger_smt_page_parse(LEDGER_SMT_EMPTY, 0, empty, 1, out, &ol, &err), -1);
    uint8_t ref[33] = {0x03};
    memset(ref + 1, 9, 32);
    assert_int_equal(ledger_smt_page_parse(ref + 1, 0, ref, 33, out, &ol, &err), -1);
    /* a reference above the fourth level, and an inner node below it */
    uint8_t deep[400];
    size_t dn = 0;
    for (int i = 0; i < 5; i++)
        deep[dn++] = 0x01; /* five inner nodes down the left edge */
    assert_int_equal(ledger_smt_page_parse(h, 0, deep, dn, out, &ol, &err), -1);
    uint8_t early[] = {0x01, 0x03};
    assert_int_equal(ledger_smt_page_parse(h, 0, early, sizeof early, out, &ol, &err), -1);
    assert_int_equal(ledger_smt_page_parse(h, 0, pg, 0, out, &ol, &err), -1);
}

/* ---- inside the ledger ---- */

static void test_ledger_state_proofs_for_every_license_and_old_heights(void **state)
{
    (void)state;
    lt_env env;
    lt_setup(&env, NULL);
    ledger_err err;
    char ids[12][64];
    uint8_t roots[12][32];
    for (int i = 0; i < 12; i++) {
        char u[19];
        lt_uscc((uint32_t)i + 1, u);
        size_t len;
        uint8_t *e = lt_apply(&env, u, "convenience-store", i % 2, &len);
        assert_int_equal(lt_run_free(&env, 0, e, len, ids[i], &err), 0);
        ledger_tip tip;
        ledger_get_tip(env.L, &tip);
        memcpy(roots[i], tip.header.state_root, 32);
    }
    /* one more event on the first license changes its leaf */
    size_t len;
    uint8_t *e = lt_decision(&env, lt_dept(&env, LT_MARKET), PERMIT__TX_KIND__APPROVE, ids[0],
                             NULL, 0, NULL, &len);
    assert_int_equal(lt_run_free(&env, 0, e, len, NULL, &err), 0);
    ledger_tip tip;
    ledger_get_tip(env.L, &tip);
    for (int i = 0; i < 12; i++) {
        uint8_t *rec;
        size_t rl;
        assert_int_equal(ledger_get_license_bytes(env.L, ids[i], &rec, &rl, &err), 1);
        uint8_t key[32], val[32];
        ledger_sha256(ids[i], strlen(ids[i]), key);
        ledger_sha256(rec, rl, val);
        free(rec);
        smt_proof p;
        assert_int_equal(ledger_state_proof(env.L, tip.header.state_root, ids[i], &p, &err), 0);
        if (ledger_smt_verify(tip.header.state_root, key, val, &p, &err) != 0)
            fail_msg("%s: %s", ids[i], err.msg);
        /* at the height before it existed, the license is absent */
        if (i > 0) {
            assert_int_equal(ledger_state_proof(env.L, roots[i - 1], ids[i], &p, &err), 0);
            assert_int_equal(ledger_smt_verify(roots[i - 1], key, NULL, &p, &err), 0);
        }
    }
    /* the first license's old record is still provable at the old root,
     * the new one is not */
    smt_proof p;
    assert_int_equal(ledger_state_proof(env.L, roots[11], ids[0], &p, &err), 0);
    assert_int_equal(p.end, SMT_END_LEAF);
    uint8_t *rec;
    size_t rl;
    assert_int_equal(ledger_get_license_bytes(env.L, ids[0], &rec, &rl, &err), 1);
    uint8_t key[32], val[32];
    ledger_sha256(ids[0], strlen(ids[0]), key);
    ledger_sha256(rec, rl, val);
    free(rec);
    assert_int_equal(ledger_smt_verify(roots[11], key, val, &p, &err), -1);
    assert_int_equal(ledger_smt_verify(roots[11], key, p.leaf_value, &p, &err), 0);
    assert_int_equal(ledger_check_integrity(env.L, &err), 0);
    /* a reopened ledger (cold cache) goes on from the same tree */
    lt_reopen(&env);
    e = lt_decision(&env, lt_dept(&env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, ids[0], NULL, 0,
                    NULL, &len);
    assert_int_equal(lt_run_free(&env, 0, e, len, NULL, &err), 0);
    if (ledger_check_integrity(env.L, &err) != 0)
        fail_msg("integrity: %s", err.msg);
    lt_teardown(&env);
}

static void test_integrity_check_finds_a_record_the_tree_does_not_hold(void **state)
{
    (void)state;
    lt_env env;
    lt_setup(&env, NULL);
    ledger_err err;
    char id[64];
    size_t len;
    uint8_t *e = lt_apply(&env, "91350100M000100Y43", "convenience-store", 0, &len);
    assert_int_equal(lt_run_free(&env, 0, e, len, id, &err), 0);
    e = lt_apply(&env, "91350100M000100Y43", "hotel", 0, &len);
    assert_int_equal(lt_run_free(&env, 0, e, len, NULL, &err), 0);
    assert_int_equal(ledger_check_integrity(env.L, &err), 0);
    /* change a record behind the tree's back (its bytes stay decodable) */
    uint8_t *rec;
    size_t rl;
    assert_int_equal(ledger_get_license_bytes(env.L, id, &rec, &rl, &err), 1);
    ledger_license l;
    assert_int_equal(ledger_license_decode(&l, rec, rl, &err), 0);
    free(rec);
    l.expires_at += 1;
    assert_int_equal(ledger_license_encode(&l, &rec, &rl, &err), 0);
    ledger_license_clear(&l);
    ledger_batch *b = ledger_batch_new(ledger_store_of(env.L));
    ledger_batch_put(b, CF_LICENSES, id, strlen(id), rec, rl);
    assert_int_equal(ledger_store_write(ledger_store_of(env.L), b, 1, &err), 0);
    ledger_batch_free(b);
    free(rec);
    assert_int_equal(ledger_check_integrity(env.L, &err), -1);
    assert_non_null(strstr(err.msg, "state"));
    lt_teardown(&env);
}

static void test_integrity_check_finds_a_missing_tree_node(void **state)
{
    (void)state;
    lt_env env;
    lt_setup(&env, NULL);
    ledger_err err;
    for (int i = 0; i < 5; i++) {
        char u[19];
        lt_uscc((uint32_t)i + 100, u);
        size_t len;
        uint8_t *e = lt_apply(&env, u, "hotel", 0, &len);
        assert_int_equal(lt_run_free(&env, 0, e, len, NULL, &err), 0);
    }
    ledger_tip tip;
    ledger_get_tip(env.L, &tip);
    ledger_batch *b = ledger_batch_new(ledger_store_of(env.L));
    ledger_batch_delete(b, CF_SMT, tip.header.state_root, 32); /* the root page */
    assert_int_equal(ledger_store_write(ledger_store_of(env.L), b, 1, &err), 0);
    ledger_batch_free(b);
    assert_int_equal(ledger_check_integrity(env.L, &err), -1);
    assert_non_null(strstr(err.msg, "missing"));
    /* and a ledger reopened on it refuses to go on */
    ledger_close(env.L);
    char db[600];
    snprintf(db, sizeof db, "%s/db", env.dir);
    assert_int_equal(ledger_open(&env.L, db, env.g, &err), -1);
    assert_non_null(strstr(err.msg, "state tree"));
    env.L = NULL;
    lt_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_tree_root_is_zero_and_proves_absence),
        cmocka_unit_test(test_single_leaf_is_the_root),
        cmocka_unit_test(test_random_sets_match_the_reference),
        cmocka_unit_test(test_large_batches_match_the_reference),
        cmocka_unit_test(test_membership_and_absence_proofs_over_random_sets),
        cmocka_unit_test(test_old_roots_stay_provable),
        cmocka_unit_test(test_deep_paths_up_to_256_levels),
        cmocka_unit_test(test_bent_proofs_are_refused),
        cmocka_unit_test(test_missing_nodes_are_reported),
        cmocka_unit_test(test_walk_visits_every_leaf_in_order_and_checks_hashes),
        cmocka_unit_test(test_the_tree_in_memory_commits_discards_and_unloads),
        cmocka_unit_test(test_malformed_pages_are_refused),
        cmocka_unit_test(test_ledger_state_proofs_for_every_license_and_old_heights),
        cmocka_unit_test(test_integrity_check_finds_a_record_the_tree_does_not_hold),
        cmocka_unit_test(test_integrity_check_finds_a_missing_tree_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
