/* ledger/smt_tree.c: updating the state tree, and the tree in memory
 * (smt.h).
 *
 * An update walks down from the old root once for all the changed keys of
 * a block: at each inner node the sorted updates split at the node's bit,
 * and only the halves that received updates are entered, so the top of the
 * tree, which every update shares, is read and hashed once per block.
 * Where a walk reaches an empty subtree or a leaf, the subtree is built
 * afresh from the updates that reached it (plus the leaf found there, when
 * its key is not among them), which puts every leaf at its shortest unique
 * prefix again.  Keys are never removed (licenses are never deleted), so no
 * subtree ever has to be collapsed.
 *
 * The walk reads and writes whole pages in working form: a new page is
 * written node by node into a buffer while the old one is read, unchanged
 * subtrees are copied over with their hashes and their pages, and only the
 * nodes on changed paths are hashed again.  The subtrees below the root
 * page are independent and go to all cores (par.h). */
#include "smt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "par.h"
#include "smt_page.h"

/* ---- pages in memory ----------------------------------------------------- */

struct smt_page {
    uint16_t len;           /* of w */
    uint8_t depth;          /* of the page root, / 4 */
    uint8_t n_child;        /* references in w, in order */
    uint64_t gen;           /* the store's generation when created; 0 when read */
    smt_page **child;       /* n_child pages; NULL where not in memory */
    uint8_t *w;             /* the page in working form */
};

#define SLAB_UNIT 64
#define SLAB_CLASSES ((sizeof(smt_page) + 16 * sizeof(smt_page *) + SMT_PAGE_MAX + SLAB_UNIT - 1) / SLAB_UNIT)
#define SLAB_CHUNK ((size_t)1 << 20)

typedef struct slab_chunk {
    struct slab_chunk *next;
} slab_chunk;

struct smt_mem {
    pthread_mutex_t mu;
    void *free[SLAB_CLASSES + 1];  /* free blocks of each class (64 * class bytes) */
    uint8_t *cur;                  /* the chunk being carved */
    size_t cur_left;
    slab_chunk *chunks;
    size_t pages, bytes, reserved;
};

/* Each thread takes blocks in batches into a cache of its own and gives
 * them back (with its count of pages and bytes) when its work is done, so
 * that the threads of one update do not queue on the lock.  Every public
 * function gives its thread's cache back before it returns: no thread keeps
 * blocks of a pool between calls. */
#define SLAB_BATCH 32

typedef struct {
    smt_mem *m;                      /* whose blocks these are */
    void *free[SLAB_CLASSES + 1];
    unsigned n[SLAB_CLASSES + 1];
    long d_pages, d_bytes;           /* not yet added to m's counts */
} slab_cache;

static _Thread_local slab_cache tcache;

static void slab_flush(void);

smt_mem *ledger_smt_mem_new(void)
{
    smt_mem *m = calloc(1, sizeof *m);
    if (m != NULL)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void ledger_smt_mem_free(smt_mem *m)
{
    if (m == NULL)
        return;
    if (tcache.m == m)
        slab_flush();
    for (slab_chunk *c = m->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

size_t ledger_smt_mem_pages(const smt_mem *m)
{
    if (tcache.m == m)
        slab_flush();
    return m->pages;
}

size_t ledger_smt_mem_bytes(const smt_mem *m)
{
    if (tcache.m == m)
        slab_flush();
    return m->bytes;
}

size_t ledger_smt_mem_reserved(const smt_mem *m)
{
    return m->reserved;
}

/* Carve a block of class cls from m's chunks (m->mu held). */
static void *carve(smt_mem *m, size_t cls)
{
    size_t sz = cls * SLAB_UNIT;
    if (m->cur_left < sz) {
        /* the rest of the old chunk goes to the free lists it fits */
        while (m->cur_left >= SLAB_UNIT) {
            size_t c = m->cur_left / SLAB_UNIT;
            if (c > SLAB_CLASSES)
                c = SLAB_CLASSES;
            *(void **)m->cur = m->free[c];
            m->free[c] = m->cur;
            m->cur += c * SLAB_UNIT;
            m->cur_left -= c * SLAB_UNIT;
        }
        slab_chunk *ch = malloc(SLAB_CHUNK);
        if (ch == NULL)
            return NULL;
        ch->next = m->chunks;
        m->chunks = ch;
        m->reserved += SLAB_CHUNK;
        m->cur = (uint8_t *)ch + SLAB_UNIT; /* the header takes the first unit */
        m->cur_left = SLAB_CHUNK - SLAB_UNIT;
    }
    void *p = m->cur;
    m->cur += sz;
    m->cur_left -= sz;
    return p;
}

/* Give this thread's cached blocks and counts back to their owner. */
static void slab_flush(void)
{
    smt_mem *m = tcache.m;
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    for (size_t c = 1; c <= SLAB_CLASSES; c++) {
        while (tcache.free[c] != NULL) {
            void *p = tcache.free[c];
            tcache.free[c] = *(void **)p;
            *(void **)p = m->free[c];
            m->free[c] = p;
        }
        tcache.n[c] = 0;
    }
    m->pages = (size_t)((long)m->pages + tcache.d_pages);
    m->bytes = (size_t)((long)m->bytes + tcache.d_bytes);
    pthread_mutex_unlock(&m->mu);
    tcache.d_pages = tcache.d_bytes = 0;
    tcache.m = NULL;
}

static void *slab_alloc(smt_mem *m, size_t size)
{
    size_t cls = (size + SLAB_UNIT - 1) / SLAB_UNIT;
    if (cls > SLAB_CLASSES)
        return NULL;
    if (tcache.m != m) {
        slab_flush();
        tcache.m = m;
    }
    if (tcache.free[cls] == NULL) {
        pthread_mutex_lock(&m->mu);
        for (unsigned k = 0; k < SLAB_BATCH; k++) {
            void *p = m->free[cls];
            if (p != NULL)
                m->free[cls] = *(void **)p;
            else if ((p = carve(m, cls)) == NULL)
                break;
            *(void **)p = tcache.free[cls];
            tcache.free[cls] = p;
            tcache.n[cls]++;
        }
        pthread_mutex_unlock(&m->mu);
        if (tcache.free[cls] == NULL)
            return NULL;
    }
    void *p = tcache.free[cls];
    tcache.free[cls] = *(void **)p;
    tcache.n[cls]--;
    tcache.d_pages++;
    tcache.d_bytes += (long)(cls * SLAB_UNIT);
    return p;
}

static void slab_free(smt_mem *m, void *p, size_t size)
{
    size_t cls = (size + SLAB_UNIT - 1) / SLAB_UNIT;
    if (tcache.m != m) {
        slab_flush();
        tcache.m = m;
    }
    *(void **)p = tcache.free[cls];
    tcache.free[cls] = p;
    tcache.d_pages--;
    tcache.d_bytes -= (long)(cls * SLAB_UNIT);
    if (++tcache.n[cls] > 4 * SLAB_BATCH)
        slab_flush(); /* a thread that mostly frees hands the blocks back */
}

static size_t page_bytes(const smt_page *p)
{
    return sizeof *p + p->n_child * sizeof(smt_page *) + p->len;
}

static smt_page *page_new(const smt_store *st, unsigned depth, const uint8_t *w, size_t len,
                          smt_page *const *child, unsigned n_child, uint64_t gen)
{
    size_t sz = sizeof(smt_page) + n_child * sizeof(smt_page *) + len;
    smt_page *p = slab_alloc(st->mem, sz);
    if (p == NULL)
        return NULL;
    p->len = (uint16_t)len;
    p->depth = (uint8_t)(depth / SMT_PAGE_LEVELS);
    p->n_child = (uint8_t)n_child;
    p->gen = gen;
    p->child = (smt_page **)(p + 1);
    p->w = (uint8_t *)(p->child + n_child);
    for (unsigned i = 0; i < n_child; i++)
        p->child[i] = child ? child[i] : NULL;
    memcpy(p->w, w, len);
    return p;
}

size_t ledger_smt_page_store_form(const smt_page *p, uint8_t hash[32], uint8_t *out)
{
    memcpy(hash, w_hash(p->w), 32);
    return ledger_smt_page_stored(p->w, p->len, out);
}

static void page_free(smt_page *p, smt_mem *mem)
{
    slab_free(mem, p, page_bytes(p));
}

static void tree_free(smt_page *p, smt_mem *mem)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; i < p->n_child; i++)
        tree_free(p->child[i], mem);
    page_free(p, mem);
}

void ledger_smt_tree_free(smt_page *p, smt_mem *mem)
{
    tree_free(p, mem);
    slab_flush();
}

static int delta_push(smt_page ***arr, size_t *n, size_t *cap, smt_page *p)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        smt_page **na = realloc(*arr, nc * sizeof *na);
        if (na == NULL)
            return -1;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

static void delta_discard(smt_delta *d, smt_mem *mem)
{
    for (size_t i = 0; i < d->n_created; i++)
        page_free(d->created[i], mem);
    d->n_replaced = d->n_created = 0;
    d->oom = 0;
}

void ledger_smt_delta_commit(smt_delta *d, smt_mem *mem)
{
    for (size_t i = 0; i < d->n_replaced; i++)
        page_free(d->replaced[i], mem);
    d->n_replaced = d->n_created = 0;
    d->oom = 0;
    slab_flush();
}

void ledger_smt_delta_discard(smt_delta *d, smt_mem *mem)
{
    delta_discard(d, mem);
    slab_flush();
}

void ledger_smt_delta_clear(smt_delta *d)
{
    if (d == NULL)
        return;
    free(d->created);
    free(d->replaced);
    memset(d, 0, sizeof *d);
}

static void trim(smt_page *p, unsigned depth, uint64_t durable_gen, smt_mem *mem)
{
    if (p == NULL)
        return;
    unsigned below = (p->depth + 1u) * SMT_PAGE_LEVELS; /* depth of its children */
    for (unsigned i = 0; i < p->n_child; i++) {
        smt_page *c = p->child[i];
        if (c == NULL)
            continue;
        if (below >= depth && p->gen <= durable_gen && c->gen <= durable_gen) {
            tree_free(c, mem);
            p->child[i] = NULL;
        } else {
            trim(c, depth, durable_gen, mem);
        }
    }
}

void ledger_smt_trim(smt_page *p, unsigned depth, uint64_t durable_gen, smt_mem *mem)
{
    trim(p, depth, durable_gen, mem);
    slab_flush();
}

void ledger_smt_mem_by_depth(const smt_page *p, size_t *bytes, size_t n)
{
    if (p == NULL)
        return;
    if (p->depth < n)
        bytes[p->depth] += page_bytes(p);
    for (unsigned i = 0; i < p->n_child; i++)
        ledger_smt_mem_by_depth(p->child[i], bytes, n);
}

/* Read page h from the store into memory. */
static smt_page *page_load(const smt_store *st, const uint8_t h[32], unsigned depth,
                           ledger_err *err)
{
    uint8_t w[SMT_PAGE_MAX];
    size_t len;
    if (ledger_smt_read_page(st, h, depth, w, &len, err) != 0)
        return NULL;
    const uint8_t *q = w_skip(w, w + len);
    if (q != w + len) {
        char hx[17];
        hex8(h, hx);
        ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                    "state tree page %s... (depth %u) is malformed", hx, depth);
        return NULL;
    }
    smt_page *p = page_new(st, depth, w, len, NULL, w_refs(w), 0);
    if (p == NULL)
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    return p;
}

/* ---- update -------------------------------------------------------------- */

/* A subtree below the root page, updated on its own thread. */
typedef struct sub_job sub_job;

typedef struct {
    const smt_store *st;
    ledger_err *err;
    smt_delta *d;
    sub_job *pre;       /* the root page's references, already updated */
    size_t n_pre;
} upd_ctx;

static int corrupt(upd_ctx *c, const char *what, unsigned depth)
{
    return ledger_fail(c->err, LEDGER_ERR_INVALID, NULL, "state tree: %s at depth %u", what,
                       depth);
}

static int oom(upd_ctx *c)
{
    return ledger_fail(c->err, LEDGER_ERR_NOMEM, NULL, "out of memory");
}

/* Index of the first update whose bit `depth` is 1 (the updates are sorted
 * and share their first `depth` bits, so the zeros come first). */
static size_t split_at(const smt_update *u, size_t n, unsigned depth)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (smt_bit(u[mid].key, depth))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* 1 when key is among the (sorted) updates. */
static int has_key(const smt_update *u, size_t n, const uint8_t key[32])
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(u[mid].key, key, 32);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Turn the page written in w into a page in memory (recorded as created,
 * and handed to st->put). */
static smt_page *finish_page(upd_ctx *c, wbuf *w, unsigned depth, const uint8_t h[32])
{
    smt_page *p = page_new(c->st, depth, w->b, w->n, w->child, w->n_child, c->st->gen);
    if (p == NULL) {
        oom(c);
        return NULL;
    }
    if (delta_push(&c->d->created, &c->d->n_created, &c->d->cap_created, p) != 0) {
        page_free(p, c->st->mem);
        oom(c);
        return NULL;
    }
    if (c->st->put)
        c->st->put(c->st->ctx, h, depth, p->w, p->len);
    return p;
}

/* Write into w, at `depth` (rel levels below w's page root), the subtree
 * holding the updates u[0..n) and, when xleaf is not NULL, an existing leaf
 * (working form) whose key is not among them; out gets its hash. */
static int build(upd_ctx *c, wbuf *w, unsigned depth, unsigned rel, const smt_update *u,
                 size_t n, const uint8_t *xleaf, uint8_t out[32])
{
    size_t total = n + (xleaf != NULL);
    if (total == 0) {
        w->b[w->n++] = T_EMPTY;
        memset(out, 0, 32);
        return 0;
    }
    if (total == 1) {
        if (n == 1) {
            wb_leaf(w, u[0].key, u[0].value, out);
        } else {
            wb_put(w, xleaf, W_LEAF);
            memcpy(out, xleaf + 1, 32);
        }
        return 0;
    }
    if (depth >= SMT_KEY_BITS)
        return ledger_fail(c->err, LEDGER_ERR_INVALID, NULL,
                           "state tree: two updates for the same key");
    if (rel == SMT_PAGE_LEVELS) {
        /* an inner node 4 levels down: the root of a new page */
        wbuf child;
        child.n = 0;
        child.n_child = 0;
        if (build(c, &child, depth, 0, u, n, xleaf, out) != 0)
            return -1;
        smt_page *p = finish_page(c, &child, depth, out);
        if (p == NULL)
            return -1;
        wb_ref(w, out, p);
        return 0;
    }
    size_t m = split_at(u, n, depth);
    int xbit = xleaf ? (int)smt_bit(xleaf + 33, depth) : -1;
    uint8_t l[32], r[32];
    unsigned before;
    size_t at = wb_inner_begin(w, &before);
    if (build(c, w, depth + 1, rel + 1, u, m, xbit == 0 ? xleaf : NULL, l) != 0 ||
        build(c, w, depth + 1, rel + 1, u + m, n - m, xbit == 1 ? xleaf : NULL, r) != 0)
        return -1;
    wb_inner_end(w, at, before, l, r, out);
    return 0;
}

static smt_page *update_page(upd_ctx *c, smt_page *old, unsigned depth, const smt_update *u,
                             size_t n, uint8_t out[32]);

/* ---- the subtrees below the root page, on all cores ----------------------- */

/* Below this many updates a block's tree is updated on one thread. */
#define PAR_MIN_UPDATES 1024

typedef struct {
    uint8_t hash[32];
    const uint8_t *w;        /* the new page's bytes: it lives in the new tree */
    size_t len;
    unsigned depth;
} put_rec;

struct sub_job {
    /* in */
    smt_page *root;          /* the old root page */
    unsigned ci;             /* the reference's index in it */
    const uint8_t *ref;      /* the reference node */
    const smt_update *u;
    size_t n;
    unsigned depth;
    const smt_store *st;
    /* out */
    smt_page *page;          /* the new page below, or NULL on error */
    uint8_t hash[32];
    ledger_err err;
    smt_delta d;             /* pages this job created and replaced */
    put_rec *puts;           /* pages it created, for st->put afterwards */
    size_t n_puts, cap_puts;
    int oom;
};

/* The store a job works through: st->put deferred to the calling thread. */
static void job_put(void *ctx, const uint8_t h[32], unsigned depth, const uint8_t *page,
                    size_t len)
{
    sub_job *j = ctx;
    if (j->n_puts == j->cap_puts) {
        size_t nc = j->cap_puts ? j->cap_puts * 2 : 256;
        put_rec *np = realloc(j->puts, nc * sizeof *np);
        if (np == NULL) {
            j->oom = 1;
            return;
        }
        j->puts = np;
        j->cap_puts = nc;
    }
    put_rec *r = &j->puts[j->n_puts++];
    memcpy(r->hash, h, 32);
    r->w = page;
    r->len = len;
    r->depth = depth;
}

static int job_get(void *ctx, const uint8_t h[32], unsigned depth, uint8_t *page, size_t *len,
                   ledger_err *err)
{
    sub_job *j = ctx;
    return j->st->get(j->st->ctx, h, depth, page, len, err);
}

static void run_job(void *ctx, size_t i)
{
    sub_job *j = &((sub_job *)ctx)[i];
    smt_store st = {.get = job_get, .put = job_put, .ctx = j, .mem = j->st->mem,
                    .gen = j->st->gen};
    upd_ctx c = {&st, &j->err, &j->d, NULL, 0};
    smt_page **slot = &j->root->child[j->ci];
    if (*slot == NULL && (*slot = page_load(&st, j->ref + 1, j->depth, &j->err)) == NULL)
        return;
    j->page = update_page(&c, *slot, j->depth, j->u, j->n, j->hash);
    if (j->page != NULL && (j->oom || j->d.oom)) {
        j->page = NULL;
        oom(&c);
    }
    slab_flush(); /* the thread may end: its cached blocks go back */
}

/* The references of the root page that receive updates, with their
 * updates, in page order. */
static void collect_jobs(const uint8_t *p, const uint8_t *end, unsigned *ci, unsigned depth,
                         const smt_update *u, size_t n, sub_job *jobs, size_t *nj)
{
    const uint8_t *q = w_skip(p, end);
    if (q == NULL)
        return; /* the serial pass reports it */
    if (n == 0) {
        *ci += w_refs(p);
        return;
    }
    if (*p == T_REF) {
        sub_job *j = &jobs[(*nj)++];
        j->ci = (*ci)++;
        j->ref = p;
        j->u = u;
        j->n = n;
        j->depth = depth;
        return;
    }
    if (*p != T_INNER || depth >= SMT_KEY_BITS)
        return;
    size_t m = split_at(u, n, depth);
    const uint8_t *l = p + W_INNER, *r = w_skip(l, end);
    if (r == NULL)
        return;
    collect_jobs(l, end, ci, depth + 1, u, m, jobs, nj);
    collect_jobs(r, end, ci, depth + 1, u + m, n - m, jobs, nj);
}

/* The result of the job for reference ci, for the serial pass (NULL when
 * there is none). */
static smt_page *take_pre(upd_ctx *c, unsigned ci, uint8_t out[32])
{
    for (size_t i = 0; i < c->n_pre; i++)
        if (c->pre[i].ci == ci && c->pre[i].page != NULL) {
            smt_page *p = c->pre[i].page;
            c->pre[i].page = NULL;
            memcpy(out, c->pre[i].hash, 32);
            return p;
        }
    return NULL;
}

static int delta_reserve(smt_page ***arr, size_t *cap, size_t want)
{
    if (want <= *cap)
        return 0;
    smt_page **na = realloc(*arr, want * sizeof *na);
    if (na == NULL)
        return -1;
    *arr = na;
    *cap = want;
    return 0;
}

/* Append the pages of src to dst (room reserved). */
static void delta_merge(smt_delta *dst, const smt_delta *src)
{
    memcpy(dst->created + dst->n_created, src->created, src->n_created * sizeof *src->created);
    dst->n_created += src->n_created;
    memcpy(dst->replaced + dst->n_replaced, src->replaced,
           src->n_replaced * sizeof *src->replaced);
    dst->n_replaced += src->n_replaced;
}

/* Update the subtrees below the root page on all cores; fills c->pre. */
static int update_below_root(upd_ctx *c, smt_page *root, const smt_update *u, size_t n,
                             sub_job *jobs, size_t *nj)
{
    unsigned ci = 0;
    *nj = 0;
    collect_jobs(root->w, root->w + root->len, &ci, 0, u, n, jobs, nj);
    if (*nj < 2) {
        *nj = 0;
        return 0;
    }
    for (size_t i = 0; i < *nj; i++) {
        sub_job *j = &jobs[i];
        j->root = root;
        j->st = c->st;
        j->page = NULL;
        memset(&j->d, 0, sizeof j->d);
        j->puts = NULL;
        j->n_puts = j->cap_puts = 0;
        j->oom = 0;
        ledger_err_clear(&j->err);
    }
    ledger_par_run(c->st->par, *nj, run_job, jobs, 0);
    int rc = 0;
    size_t nc = c->d->n_created, nr = c->d->n_replaced;
    for (size_t i = 0; i < *nj; i++) {
        nc += jobs[i].d.n_created;
        nr += jobs[i].d.n_replaced;
    }
    /* room first, so that every job's pages are merged or none */
    if (delta_reserve(&c->d->created, &c->d->cap_created, nc) != 0 ||
        delta_reserve(&c->d->replaced, &c->d->cap_replaced, nr) != 0) {
        for (size_t i = 0; i < *nj; i++) {
            delta_discard(&jobs[i].d, c->st->mem);
            ledger_smt_delta_clear(&jobs[i].d);
            free(jobs[i].puts);
        }
        return oom(c);
    }
    for (size_t i = 0; i < *nj; i++) {
        sub_job *j = &jobs[i];
        if (j->page == NULL && rc == 0) {
            if (c->err)
                *c->err = j->err;
            rc = -1;
        }
        /* the created pages are the caller's to keep or free from now on */
        delta_merge(c->d, &j->d);
        ledger_smt_delta_clear(&j->d);
    }
    for (size_t i = 0; i < *nj && rc == 0; i++)
        for (size_t k = 0; k < jobs[i].n_puts && c->st->put; k++)
            c->st->put(c->st->ctx, jobs[i].puts[k].hash, jobs[i].puts[k].depth,
                       jobs[i].puts[k].w, jobs[i].puts[k].len);
    for (size_t i = 0; i < *nj; i++) {
        free(jobs[i].puts);
        jobs[i].puts = NULL;
    }
    if (rc != 0)
        return -1;
    c->pre = jobs;
    c->n_pre = *nj;
    return 0;
}

/* Rewrite the node at *pp (relative depth rel of page `old`, absolute
 * depth `depth`; *ci indexes its first reference among old's) with the
 * updates u[0..n) into w; advances *pp and *ci past the old node. */
static int update_node(upd_ctx *c, wbuf *w, smt_page *old, const uint8_t **pp, unsigned *ci,
                       unsigned depth, unsigned rel, const smt_update *u, size_t n,
                       uint8_t out[32])
{
    const uint8_t *p = *pp;
    const uint8_t *q = w_skip(p, old->w + old->len);
    unsigned refs = q ? w_refs(p) : 0;
    if (q == NULL || *ci + refs > old->n_child)
        return corrupt(c, "a page is cut short", depth);
    *pp = q;
    if (n == 0) {
        /* untouched: the old subtree, its hashes and its pages as they are */
        wb_put(w, p, (size_t)(q - p));
        memcpy(w->child + w->n_child, old->child + *ci, refs * sizeof(smt_page *));
        w->n_child += refs;
        *ci += refs;
        memcpy(out, w_hash(p), 32);
        return 0;
    }
    switch (*p) {
    case T_EMPTY:
        return build(c, w, depth, rel, u, n, NULL, out);
    case T_LEAF: {
        const uint8_t *k0 = p + 33;
        if (!same_prefix(k0, u[0].key, depth))
            return corrupt(c, "a leaf lies off its key's path", depth);
        if (n == 1 && memcmp(u[0].key, k0, 32) == 0) {
            wb_leaf(w, u[0].key, u[0].value, out);
            return 0;
        }
        return build(c, w, depth, rel, u, n, has_key(u, n, k0) ? NULL : p, out);
    }
    case T_REF: {
        unsigned idx = (*ci)++;
        smt_page *np = c->pre ? take_pre(c, idx, out) : NULL;
        if (np == NULL) {
            smt_page **slot = &old->child[idx];
            if (*slot == NULL && (*slot = page_load(c->st, p + 1, depth, c->err)) == NULL)
                return -1;
            np = update_page(c, *slot, depth, u, n, out);
        }
        if (np == NULL)
            return -1;
        wb_ref(w, out, np);
        return 0;
    }
    case T_INNER: {
        if (depth >= SMT_KEY_BITS)
            return corrupt(c, "an inner node below the last key bit", depth);
        size_t m = split_at(u, n, depth);
        const uint8_t *child = p + W_INNER;
        uint8_t l[32], r[32];
        unsigned before;
        size_t at = wb_inner_begin(w, &before);
        if (update_node(c, w, old, &child, ci, depth + 1, rel + 1, u, m, l) != 0 ||
            update_node(c, w, old, &child, ci, depth + 1, rel + 1, u + m, n - m, r) != 0)
            return -1;
        wb_inner_end(w, at, before, l, r, out);
        return 0;
    }
    }
    return corrupt(c, "an unknown node", depth);
}

/* The new version of page `old` with the updates (old is recorded as
 * replaced); NULL on error. */
static smt_page *update_page(upd_ctx *c, smt_page *old, unsigned depth, const smt_update *u,
                             size_t n, uint8_t out[32])
{
    wbuf w;
    w.n = 0;
    w.n_child = 0;
    const uint8_t *p = old->w;
    unsigned ci = 0;
    if (update_node(c, &w, old, &p, &ci, depth, 0, u, n, out) != 0)
        return NULL;
    if (p != old->w + old->len) {
        corrupt(c, "a page with trailing bytes", depth);
        return NULL;
    }
    if (delta_push(&c->d->replaced, &c->d->n_replaced, &c->d->cap_replaced, old) != 0) {
        oom(c);
        return NULL;
    }
    return finish_page(c, &w, depth, out);
}

static int update_root(smt_page **root, const uint8_t root_hash[32], const smt_update *u,
                       size_t n, const smt_store *st, smt_delta *d, smt_page **new_root,
                       uint8_t new_hash[32], ledger_err *err)
{
    for (size_t i = 1; i < n; i++)
        if (memcmp(u[i - 1].key, u[i].key, 32) >= 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "state tree: updates are not sorted by distinct keys");
    upd_ctx c = {st, err, d, NULL, 0};
    uint8_t out[32];
    if (!is_empty(root_hash) && *root == NULL &&
        (*root = page_load(st, root_hash, 0, err)) == NULL)
        return -1;
    if (n == 0) {
        *new_root = *root;
        memcpy(new_hash, root_hash, 32);
        return 0;
    }
    smt_page *np;
    if (is_empty(root_hash)) {
        wbuf w;
        w.n = 0;
        w.n_child = 0;
        np = build(&c, &w, 0, 0, u, n, NULL, out) == 0 ? finish_page(&c, &w, 0, out) : NULL;
    } else {
        sub_job jobs[16];
        size_t nj = 0;
        np = NULL;
        if (n < PAR_MIN_UPDATES || st->par == NULL ||
            update_below_root(&c, *root, u, n, jobs, &nj) == 0)
            np = update_page(&c, *root, 0, u, n, out);
    }
    if (np == NULL) {
        /* nothing of the failed update stays: the head's tree is as it was
         * (except for pages read into it) */
        delta_discard(d, st->mem);
        return -1;
    }
    *new_root = np;
    memcpy(new_hash, out, 32);
    return 0;
}

int ledger_smt_update_root(smt_page **root, const uint8_t root_hash[32], const smt_update *u,
                    size_t n, const smt_store *st, smt_delta *d, smt_page **new_root,
                    uint8_t new_hash[32], ledger_err *err)
{
    int rc = update_root(root, root_hash, u, n, st, d, new_root, new_hash, err);
    slab_flush();
    return rc;
}

