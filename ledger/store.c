#include "store.h"

#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const cf_names[CF_COUNT] = {
    [CF_DEFAULT] = "default",     [CF_META] = "meta",
    [CF_BLOCKS] = "blocks",       [CF_COMMITS] = "commits",
    [CF_TXS] = "txs",             [CF_LICENSES] = "licenses",
    [CF_EVENTS] = "events",       [CF_MLOG] = "event_log",
    [CF_BY_USCC] = "by_uscc",     [CF_BY_NAME] = "by_name",
    [CF_BY_ADDRESS] = "by_address", [CF_BY_INDUSTRY] = "by_industry",
    [CF_BY_STATUS] = "by_status", [CF_BY_EXPIRY] = "by_expiry",
    [CF_BY_PENDING] = "by_pending", [CF_BY_OVERDUE] = "by_overdue",
    [CF_SMT] = "state_tree",
};

struct ledger_store {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_options_t *cf_opts[CF_COUNT];
    rocksdb_block_based_table_options_t *table;
    rocksdb_cache_t *cache;
    rocksdb_filterpolicy_t *bloom; /* owned by table options once set */
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wsync, *wnosync;
    rocksdb_writebatch_t *wb; /* reused by every write: keeps its capacity */
    struct ledger_batch *spare; /* a freed batch kept with its memory */
    int readonly;             /* a secondary instance: no writes */
    _Atomic uint64_t ops;     /* operations since the last inject call */
    _Atomic uint64_t fail_at; /* fail when ops reaches this (0: never) */
};

/* A batch collects operations in an arena and hands them to RocksDB sorted
 * by (column family, key): memtable inserts in key order reuse the skiplist's
 * last insert position instead of searching from the top, which more than
 * halves the cost of writing a block. */
typedef struct {
    const uint8_t *key, *val;
    uint32_t klen, vlen;
    uint64_t prefix;  /* first 8 key bytes, big-endian, zero-padded: cheap ordering */
    uint32_t seq;     /* order of arrival: the later of two ops on a key wins */
    uint8_t cf;
    uint8_t del;
} batch_op;

typedef struct batch_chunk {
    struct batch_chunk *next;
    size_t used, cap;
    uint8_t data[];
} batch_chunk;

struct ledger_batch {
    ledger_store *s;
    batch_op *ops;
    size_t n, cap;
    batch_chunk *chunks;
    size_t bytes;
    int oom;
};

struct ledger_iter {
    ledger_store *s;
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ropts;
    const rocksdb_snapshot_t *snap;
    int faulted;
};

const char *ledger_cf_name(ledger_cf cf)
{
    return (unsigned)cf < CF_COUNT ? cf_names[cf] : "?";
}

/* 1 when this operation is the one a test asked to fail. */
static int fault_now(ledger_store *s)
{
    uint64_t n = atomic_fetch_add(&s->ops, 1) + 1;
    uint64_t at = atomic_load(&s->fail_at);
    return at != 0 && n == at;
}

uint64_t ledger_store_inject_fault(ledger_store *s, uint64_t n)
{
    uint64_t ran = atomic_exchange(&s->ops, 0);
    atomic_store(&s->fail_at, n);
    return ran;
}

static int rocks_fail(ledger_err *err, const char *what, char *rerr)
{
    ledger_fail(err, LEDGER_ERR_IO, NULL, "rocksdb %s: %s", what, rerr ? rerr : "error");
    rocksdb_free(rerr);
    return -1;
}

static int store_open(ledger_store **out, const char *path, const char *secondary,
                      ledger_err *err)
{
    ledger_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    s->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->opts, 1);
    rocksdb_options_set_create_missing_column_families(s->opts, 1);
    rocksdb_options_increase_parallelism(s->opts, 2);
    rocksdb_options_set_max_background_jobs(s->opts, 2);
    rocksdb_options_set_keep_log_file_num(s->opts, 4);
    rocksdb_options_set_max_total_wal_size(s->opts, 256u << 20);

    s->cache = rocksdb_cache_create_lru(128u << 20);
    s->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(s->table, s->cache);
    s->bloom = rocksdb_filterpolicy_create_bloom_full(10);
    rocksdb_block_based_options_set_filter_policy(s->table, s->bloom);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(s->table, 1);

    const char *names[CF_COUNT];
    const rocksdb_options_t *cfo[CF_COUNT];
    for (int i = 0; i < CF_COUNT; i++) {
        s->cf_opts[i] = rocksdb_options_create_copy(s->opts);
        rocksdb_options_set_block_based_table_factory(s->cf_opts[i], s->table);
        /* point-lookup heavy families get a larger memtable */
        if (i == CF_TXS || i == CF_LICENSES || i == CF_EVENTS || i == CF_MLOG ||
            i == CF_SMT)
            rocksdb_options_set_write_buffer_size(s->cf_opts[i], 64u << 20);
        else
            rocksdb_options_set_write_buffer_size(s->cf_opts[i], 16u << 20);
        if (i == CF_TXS) {
            /* every transaction is looked up here to refuse replays, and
             * almost all are absent: a memtable bloom filter answers that
             * without walking the skiplist */
            rocksdb_options_set_memtable_prefix_bloom_size_ratio(s->cf_opts[i], 0.05);
            rocksdb_options_set_memtable_whole_key_filtering(s->cf_opts[i], 1);
        }
        names[i] = cf_names[i];
        cfo[i] = s->cf_opts[i];
    }
    char *rerr = NULL;
    if (secondary != NULL) {
        /* a secondary instance keeps every file open */
        rocksdb_options_set_max_open_files(s->opts, -1);
        for (int i = 0; i < CF_COUNT; i++)
            rocksdb_options_set_max_open_files(s->cf_opts[i], -1);
        s->readonly = 1;
        rocksdb_options_set_create_if_missing(s->opts, 0);
        rocksdb_options_set_create_missing_column_families(s->opts, 0);
        s->db = rocksdb_open_as_secondary_column_families(s->opts, path, secondary, CF_COUNT,
                                                          names, cfo, s->cf, &rerr);
    } else {
        s->db = rocksdb_open_column_families(s->opts, path, CF_COUNT, names, cfo, s->cf, &rerr);
    }
    if (rerr != NULL) {
        rocks_fail(err, "open", rerr);
        s->db = NULL;
        ledger_store_close(s);
        return -1;
    }
    s->wb = rocksdb_writebatch_create();
    s->ropts = rocksdb_readoptions_create();
    s->wsync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wsync, 1);
    s->wnosync = rocksdb_writeoptions_create();
    *out = s;
    return 0;
}

int ledger_store_open(ledger_store **out, const char *path, ledger_err *err)
{
    return store_open(out, path, NULL, err);
}

int ledger_store_open_readonly(ledger_store **out, const char *path, const char *secondary_path,
                               ledger_err *err)
{
    return store_open(out, path, secondary_path, err);
}

int ledger_store_checkpoint(ledger_store *s, const char *dir, ledger_err *err)
{
    char *rerr = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(s->db, &rerr);
    if (cp != NULL && rerr == NULL)
        rocksdb_checkpoint_create(cp, dir, 0 /* flush the memtables into it */, &rerr);
    if (cp)
        rocksdb_checkpoint_object_destroy(cp);
    if (rerr != NULL) {
        ledger_fail(err, LEDGER_ERR_IO, NULL, "checkpoint into %s: %s", dir, rerr);
        rocksdb_free(rerr);
        return -1;
    }
    return 0;
}

void ledger_store_close(ledger_store *s)
{
    if (s == NULL)
        return;
    if (s->db) {
        for (int i = 0; i < CF_COUNT; i++)
            if (s->cf[i])
                rocksdb_column_family_handle_destroy(s->cf[i]);
        rocksdb_close(s->db);
    }
    if (s->spare) {
        s->spare->s = NULL; /* really free it */
        ledger_batch_free(s->spare);
    }
    if (s->wb)
        rocksdb_writebatch_destroy(s->wb);
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->wsync)
        rocksdb_writeoptions_destroy(s->wsync);
    if (s->wnosync)
        rocksdb_writeoptions_destroy(s->wnosync);
    for (int i = 0; i < CF_COUNT; i++)
        if (s->cf_opts[i])
            rocksdb_options_destroy(s->cf_opts[i]);
    if (s->table)
        rocksdb_block_based_options_destroy(s->table); /* also frees the bloom policy */
    if (s->cache)
        rocksdb_cache_destroy(s->cache);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    free(s);
}

int ledger_store_get(ledger_store *s, ledger_cf cf, const void *key, size_t klen,
                     uint8_t **val, size_t *vlen, ledger_err *err)
{
    *val = NULL;
    *vlen = 0;
    if (fault_now(s))
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "rocksdb get: injected fault");
    char *rerr = NULL;
    size_t n = 0;
    char *v = rocksdb_get_cf(s->db, s->ropts, s->cf[cf], key, klen, &n, &rerr);
    if (rerr != NULL)
        return rocks_fail(err, "get", rerr);
    if (v == NULL)
        return 0;
    /* hand back plain malloc memory so callers never need rocksdb_free */
    uint8_t *copy = malloc(n ? n : 1);
    if (copy == NULL) {
        rocksdb_free(v);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    memcpy(copy, v, n);
    rocksdb_free(v);
    *val = copy;
    *vlen = n;
    return 1;
}

/* Batches are large (megabytes per block) and first touches of fresh memory
 * are expensive: the store keeps one freed batch, with its arena, for the
 * next block.  Blocks are executed one at a time, so one spare suffices. */
ledger_batch *ledger_batch_new(ledger_store *s)
{
    ledger_batch *b = s->spare;
    if (b != NULL) {
        s->spare = NULL;
        return b;
    }
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->s = s;
    return b;
}

void ledger_batch_free(ledger_batch *b)
{
    if (b == NULL)
        return;
    if (b->s != NULL && b->s->spare == NULL && !b->oom) {
        /* keep the largest chunk only; empty everything */
        batch_chunk *keep = b->chunks;
        for (batch_chunk *c = b->chunks; c; c = c->next)
            if (c->cap > keep->cap)
                keep = c;
        for (batch_chunk *c = b->chunks, *next; c; c = next) {
            next = c->next;
            if (c != keep)
                free(c);
        }
        if (keep) {
            keep->next = NULL;
            keep->used = 0;
        }
        b->chunks = keep;
        b->n = 0;
        b->bytes = 0;
        b->s->spare = b;
        return;
    }
    for (batch_chunk *c = b->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(b->ops);
    free(b);
}

static uint8_t *batch_alloc(ledger_batch *b, size_t n)
{
    batch_chunk *c = b->chunks;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > (4u << 20) ? n : (4u << 20);
        batch_chunk *nc = malloc(sizeof *nc + cap);
        if (nc == NULL)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        nc->next = c;
        b->chunks = c = nc;
    }
    uint8_t *p = c->data + c->used;
    c->used += n;
    return p;
}

static void batch_add(ledger_batch *b, ledger_cf cf, int del, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    if (b->oom)
        return;
    if (klen > UINT32_MAX || vlen > UINT32_MAX || b->n >= UINT32_MAX) {
        b->oom = 1;
        return;
    }
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        batch_op *no = realloc(b->ops, nc * sizeof *no);
        if (no == NULL) {
            b->oom = 1;
            return;
        }
        b->ops = no;
        b->cap = nc;
    }
    uint8_t *p = batch_alloc(b, klen + vlen);
    if (p == NULL && klen + vlen > 0) {
        b->oom = 1;
        return;
    }
    if (klen)
        memcpy(p, key, klen);
    if (vlen)
        memcpy(p + klen, val, vlen);
    batch_op *o = &b->ops[b->n];
    o->key = p;
    o->klen = (uint32_t)klen;
    o->val = p + klen;
    o->vlen = (uint32_t)vlen;
    o->seq = (uint32_t)b->n;
    o->prefix = 0;
    for (size_t i = 0; i < 8; i++)
        o->prefix = o->prefix << 8 | (i < klen ? ((const uint8_t *)key)[i] : 0);
    o->cf = (uint8_t)cf;
    o->del = (uint8_t)del;
    b->n++;
    b->bytes += klen + vlen;
}

void ledger_batch_put(ledger_batch *b, ledger_cf cf, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    batch_add(b, cf, 0, key, klen, val, vlen);
}

void ledger_batch_delete(ledger_batch *b, ledger_cf cf, const void *key, size_t klen)
{
    batch_add(b, cf, 1, key, klen, NULL, 0);
}

size_t ledger_batch_count(const ledger_batch *b)
{
    return b->n;
}

static int cmp_op(const void *pa, const void *pb, void *ctx)
{
    const batch_op *ops = ctx;
    const batch_op *a = &ops[*(const uint32_t *)pa], *b = &ops[*(const uint32_t *)pb];
    if (a->cf != b->cf)
        return a->cf < b->cf ? -1 : 1;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    size_t m = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->key, b->key, m);
    if (c != 0)
        return c;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int ledger_store_write(ledger_store *s, ledger_batch *b, int sync, ledger_err *err)
{
    if (b->s != s)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "batch belongs to another store");
    if (s->readonly)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "the database is open for reading only");
    if (b->oom)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "batch: out of memory");
    if (fault_now(s))
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "rocksdb write: injected fault");
    /* sort 4-byte indices rather than the 48-byte ops themselves */
    uint32_t *order = malloc((b->n ? b->n : 1) * sizeof *order);
    if (order == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "batch: out of memory");
    for (size_t i = 0; i < b->n; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, b->n, sizeof *order, cmp_op, b->ops);
    rocksdb_writebatch_clear(s->wb);
    for (size_t i = 0; i < b->n; i++) {
        const batch_op *o = &b->ops[order[i]];
        if (o->del)
            rocksdb_writebatch_delete_cf(s->wb, s->cf[o->cf], (const char *)o->key, o->klen);
        else
            rocksdb_writebatch_put_cf(s->wb, s->cf[o->cf], (const char *)o->key, o->klen,
                                      (const char *)o->val, o->vlen);
    }
    free(order);
    char *rerr = NULL;
    rocksdb_write(s->db, sync ? s->wsync : s->wnosync, s->wb, &rerr);
    rocksdb_writebatch_clear(s->wb);
    if (rerr != NULL)
        return rocks_fail(err, "write", rerr);
    return 0;
}

ledger_iter *ledger_iter_new(ledger_store *s, ledger_cf cf)
{
    ledger_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return NULL;
    it->s = s;
    it->ropts = rocksdb_readoptions_create();
    /* a secondary instance has no snapshots, and needs none: it changes
     * only when told to catch up with the primary, which it never is */
    if (!s->readonly) {
        it->snap = rocksdb_create_snapshot(s->db);
        rocksdb_readoptions_set_snapshot(it->ropts, it->snap);
    }
    it->it = rocksdb_create_iterator_cf(s->db, it->ropts, s->cf[cf]);
    return it;
}

void ledger_iter_free(ledger_iter *it)
{
    if (it == NULL)
        return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ropts);
    if (it->snap)
        rocksdb_release_snapshot(it->s->db, it->snap);
    free(it);
}

static void iter_step_fault(ledger_iter *it)
{
    if (fault_now(it->s))
        it->faulted = 1;
}

void ledger_iter_seek(ledger_iter *it, const void *key, size_t klen)
{
    iter_step_fault(it);
    rocksdb_iter_seek(it->it, key, klen);
}

void ledger_iter_seek_first(ledger_iter *it)
{
    iter_step_fault(it);
    rocksdb_iter_seek_to_first(it->it);
}

void ledger_iter_seek_last(ledger_iter *it)
{
    iter_step_fault(it);
    rocksdb_iter_seek_to_last(it->it);
}

void ledger_iter_next(ledger_iter *it)
{
    iter_step_fault(it);
    rocksdb_iter_next(it->it);
}

void ledger_iter_prev(ledger_iter *it)
{
    iter_step_fault(it);
    rocksdb_iter_prev(it->it);
}

int ledger_iter_valid(const ledger_iter *it)
{
    return !it->faulted && rocksdb_iter_valid(it->it);
}

const uint8_t *ledger_iter_key(const ledger_iter *it, size_t *klen)
{
    return (const uint8_t *)rocksdb_iter_key(it->it, klen);
}

const uint8_t *ledger_iter_value(const ledger_iter *it, size_t *vlen)
{
    return (const uint8_t *)rocksdb_iter_value(it->it, vlen);
}

int ledger_iter_status(const ledger_iter *it, ledger_err *err)
{
    if (it->faulted)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "rocksdb iterator: injected fault");
    char *rerr = NULL;
    rocksdb_iter_get_error(it->it, &rerr);
    if (rerr != NULL)
        return rocks_fail(err, "iterator", rerr);
    return 0;
}
