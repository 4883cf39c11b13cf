/* ledger/ledger.c: opening and closing a ledger, its tip, and the reads
 * of committed data (ledger.h).  Execution: exec.c; writing blocks:
 * commit.c; received blocks: apply.c; the state tree: stateroot.c. */
#include "ledger.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "instant.h"
#include "ledger_int.h"
#include "merkle.h"
#include "mlog.h"
#include "permit.pb-c.h"
#include "store.h"
#include "text.h"

/* ---- time ---- */

unsigned ledger_year_of(uint64_t time_ms)
{
    ledger_date d;
    ledger_cst_date(time_ms, &d);
    return (unsigned)d.year;
}

/* ---- open / close ---- */

int ledger_meta_get_u64(ledger_store *st, const char *key, uint64_t *v, ledger_err *err)
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

static int pending_recount(ledger *L, ledger_err *err);

int ledger_load_tip(ledger *L, ledger_err *err)
{
    uint64_t height = 0;
    int r = ledger_meta_get_u64(L->st, META_HEIGHT, &height, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "database has no height record");
    ledger_head *hd = &L->head;
    memset(hd, 0, sizeof *hd);
    /* the tree in memory may be ahead of the store (a failed write): it is
     * read again from the durable root when needed */
    ledger_smt_tree_free(L->smt_root, L->smt_mem);
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
        if (memcmp(hd->state_root, LEDGER_SMT_EMPTY, 32) != 0) {
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
        ledger_merkle_frontier_root(&hd->log.f, root);
        if (memcmp(root, hd->tip.header.log_root, 32) != 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "event log root does not match block %llu",
                               (unsigned long long)height);
    }
    ledger_gov *gv = NULL;
    if (ledger_gov_load(L, &gv, err) != 0)
        return -1;
    ledger_gov_release(L->head_gov);
    L->head_gov = ledger_gov_ref(gv);
    pthread_mutex_lock(&L->mu);
    L->tip = hd->tip;
    ledger_gov *old = L->tip_gov;
    L->tip_gov = gv;
    pthread_mutex_unlock(&L->mu);
    ledger_gov_release(old);
    if (ledger_vset_load(L, err) != 0)
        return -1;
    return L->readonly ? 0 : pending_recount(L, err);
}

/* Refuse a database laid out by a newer release; mark an older one (or one
 * from before the format was recorded) with this release's when opened for
 * writing: from now on it may hold what only this release reads. */
static int check_format(ledger *L, const char *db_path, ledger_err *err)
{
    uint64_t fmt = 0;
    int r = ledger_meta_get_u64(L->st, META_FORMAT, &fmt, err);
    if (r < 0)
        return -1;
    if (r == 1 && fmt > LEDGER_DB_FORMAT)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "database %s has format %llu, newer than this release reads (%d): "
                           "install the release that wrote it, or restore a backup made by "
                           "this one",
                           db_path, (unsigned long long)fmt, LEDGER_DB_FORMAT);
    if ((r == 1 && fmt == LEDGER_DB_FORMAT) || L->readonly)
        return 0;
    ledger_batch *b = ledger_batch_new(L->st);
    if (b == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    uint8_t v[8];
    ledger_be64(v, LEDGER_DB_FORMAT);
    ledger_batch_put(b, CF_META, META_FORMAT, strlen(META_FORMAT), v, 8);
    int w = ledger_store_write(L->st, b, 1, err);
    ledger_batch_free(b);
    return w;
}

static int ledger_open_mode(ledger **out, const char *db_path, const char *secondary,
                            const ledger_genesis *g, ledger_err *err)
{
    ledger *L = calloc(1, sizeof *L);
    if (L == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    L->g = g;
    L->smt_mem = ledger_smt_mem_new();
    if (L->smt_mem == NULL) {
        free(L);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    pthread_mutex_init(&L->mu, NULL);
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
        uint8_t fmt[8];
        ledger_be64(fmt, LEDGER_DB_FORMAT);
        ledger_batch_put(b, CF_META, META_FORMAT, strlen(META_FORMAT), fmt, 8);
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
    if (check_format(L, db_path, err) != 0 || ledger_load_tip(L, err) != 0)
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

void ledger_close(ledger *L)
{
    if (L == NULL)
        return;
    ledger_workq_free(L->committer); /* writes the block still queued first */
    ledger_exec_release(L->inflight);
    ledger_workq_free(L->verifiers);
    ledger_workq_free(L->helpers);
    ledger_smt_tree_free(L->smt_root, L->smt_mem);
    ledger_smt_mem_free(L->smt_mem);
    ledger_gov_release(L->head_gov);
    ledger_gov_release(L->tip_gov);
    ledger_gov_release(L->head_vset);
    ledger_gov_release(L->head_vset_prev);
    ledger_gov_release(L->tip_vset);
    ledger_gov_release(L->tip_vset_prev);
    ledger_store_close(L->st);
    pthread_mutex_destroy(&L->mu);
    free(L);
}

const ledger_genesis *ledger_genesis_of(const ledger *L)
{
    return L->g;
}

ledger_gov *ledger_gov_acquire(ledger *L)
{
    pthread_mutex_lock(&L->mu);
    ledger_gov *gv = ledger_gov_ref(L->tip_gov);
    pthread_mutex_unlock(&L->mu);
    return gv;
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

uint64_t ledger_pending_of(ledger *L, const char *dept)
{
    int64_t n = 0;
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i < L->pending.len; i++)
        if (strcmp(L->pending.v[i].id, dept) == 0)
            n = L->pending.v[i].n;
    pthread_mutex_unlock(&L->mu);
    return n > 0 ? (uint64_t)n : 0;
}

void ledger_pending_add(ledger_pending_tab *t, const uint8_t *key, size_t klen, int64_t delta)
{
    const uint8_t *z = memchr(key, 0, klen);
    size_t n = z ? (size_t)(z - key) : 0;
    if (n == 0 || n >= sizeof t->v[0].id)
        return;
    size_t free_at = t->len;
    for (size_t i = 0; i < t->len; i++) {
        if (strncmp(t->v[i].id, (const char *)key, n) == 0 && t->v[i].id[n] == 0) {
            t->v[i].n += delta;
            return;
        }
        if (t->v[i].n == 0 && free_at == t->len)
            free_at = i;
    }
    if (free_at == LEDGER_PENDING_IDS)
        return; /* more departments with items than ever fit: not counted */
    if (free_at == t->len)
        t->len++;
    memcpy(t->v[free_at].id, key, n);
    t->v[free_at].id[n] = 0;
    t->v[free_at].n = delta;
}

/* Count the pending index into L->pending (at open, and after a failed
 * background write put the tip back). */
static int pending_recount(ledger *L, ledger_err *err)
{
    ledger_pending_tab *t = calloc(1, sizeof *t);
    ledger_iter *it = t ? ledger_iter_new(L->st, CF_BY_PENDING) : NULL;
    if (it == NULL) {
        free(t);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    for (ledger_iter_seek_first(it); ledger_iter_valid(it); ledger_iter_next(it)) {
        size_t klen;
        const uint8_t *k = ledger_iter_key(it, &klen);
        ledger_pending_add(t, k, klen, 1);
    }
    int rc = ledger_iter_status(it, err);
    ledger_iter_free(it);
    if (rc == 0) {
        pthread_mutex_lock(&L->mu);
        L->pending = *t;
        pthread_mutex_unlock(&L->mu);
    }
    free(t);
    return rc;
}

uint64_t ledger_height(ledger *L)
{
    pthread_mutex_lock(&L->mu);
    uint64_t h = L->tip.height;
    pthread_mutex_unlock(&L->mu);
    return h;
}

/* ---- event log nodes ---- */

int ledger_mlog_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32],
                    ledger_err *err)
{
    ledger *L = ctx;
    return ledger_mlog_node(L->st, level, index, out, err);
}

/* ---- reads ---- */

int ledger_get_license_bytes(ledger *L, const char *id, uint8_t **rec, size_t *len,
                             ledger_err *err)
{
    size_t n = strlen(id);
    if (n == 0 || n > LEDGER_MAX_LICENSE_ID || !ledger_is_license_id(id))
        return 0; /* the governance record (ledger_gov_load) and USCC records are no licenses */
    return ledger_store_get(L->st, CF_LICENSES, id, n, rec, len, err);
}

int ledger_get_record_bytes(ledger *L, const char *id, uint8_t **rec, size_t *len,
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
        ledger_merkle_leaf_hash(v + 8, vl - 8, e->hash);
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
