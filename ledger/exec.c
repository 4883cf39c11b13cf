/* ledger/exec.c: executing a block (ledger.h): its transactions on an
 * overlay of the license records they touch, then the block record and
 * header (ledger_exec_finish).  The state root: stateroot.c; writing the
 * block: commit.c. */
#include "ledger.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "index.h"
#include "instant.h"
#include "ledger_int.h"
#include "merkle.h"
#include "mlog.h"
#include "permit.pb-c.h"
#include "rules.h"
#include "store.h"
#include "tx.h"

/* ---- the small index table (ledger_int.h) ---- */

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

/* Room for one more entry (at most half full): 0, or -1 when memory is
 * short (then t is unchanged). */
static int itab_reserve(itab *t, itab_hash_of rehash, const void *ctx)
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
    return 0;
}

static int itab_insert(itab *t, uint64_t h, uint32_t idx, itab_hash_of rehash,
                       const void *ctx)
{
    if (itab_reserve(t, rehash, ctx) != 0)
        return -1;
    size_t j = h & (t->cap - 1);
    while (t->slots[j])
        j = (j + 1) & (t->cap - 1);
    t->slots[j] = idx + 1;
    t->n++;
    return 0;
}

/* ---- block execution ---- */

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

static int uscc_eq(const void *ctx, uint32_t idx, const void *key)
{
    const ledger_exec *x = ctx;
    return strcmp(x->lics[idx].uscc, key) == 0;
}

static uint64_t uscc_hash(const void *ctx, uint32_t idx)
{
    const ledger_exec *x = ctx;
    return fnv1a(x->lics[idx].uscc, strlen(x->lics[idx].uscc));
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
    x->gov = ledger_gov_ref(L->head_gov);
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

void ledger_exec_release(ledger_exec *x)
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
    itab_free(&x->uscc_index);
    free(x->tx_ids);
    free(x->tx_leaves);
    itab_free(&x->tx_index);
    if (x->smt_changed)
        ledger_smt_delta_discard(&x->smt_d, x->L->smt_mem);
    ledger_smt_delta_clear(&x->smt_d);
    free(x->smt_write);
    ledger_batch_free(x->batch);
    ledger_gov_release(x->gov);
    ledger_gov_release(x->gov_cur);
    free(x);
}

void ledger_exec_free(ledger_exec *x)
{
    if (x == NULL)
        return;
    if (x->owned) /* the ledger frees it once written */
        return;
    x->L->exec_active = 0;
    ledger_exec_release(x);
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
        int r = ledger_meta_get_u64(x->L->st, key, &v, err);
        if (r < 0)
            return -1;
        x->next_seq = r ? v : 1;
    }
    snprintf(id, cap, "PL-%s-%04u-%06llu", x->L->g->region, x->year,
             (unsigned long long)x->next_seq);
    return 0;
}

/* Append the overlay entry of license id (hashed h), which takes over the
 * records orig (NULL for a new license) and cur.  0, or -1 when memory is
 * short (then nothing was taken). */
static int lic_append(ledger_exec *x, const char *id, uint64_t h, uint8_t *orig,
                      size_t orig_len, uint8_t *cur, size_t cur_len, int dirty, ledger_err *err)
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
    if (e->id == NULL || itab_insert(&x->lic_index, h, (uint32_t)x->n_lics, lic_hash, x) != 0) {
        free(e->id);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    e->orig = orig;
    e->orig_len = orig_len;
    e->cur = cur;
    e->cur_len = cur_len;
    e->dirty = dirty;
    e->uscc[0] = '\0';
    e->uscc_prev = 0;
    x->n_lics++;
    return 0;
}

long ledger_exec_new_of_uscc(const ledger_exec *x, const char *uscc)
{
    return itab_find(&x->uscc_index, fnv1a(uscc, strlen(uscc)), uscc_eq, x, uscc);
}

/* Index the new license at lics[i] by its USCC: it becomes the latest of
 * its USCC, and the one before it is chained behind.  The table has room
 * (itab_reserve), so nothing here fails. */
static void uscc_index_add(ledger_exec *x, size_t i, const char *uscc)
{
    lic_entry *e = &x->lics[i];
    snprintf(e->uscc, sizeof e->uscc, "%s", uscc);
    uint64_t h = fnv1a(e->uscc, strlen(e->uscc));
    long before = itab_find(&x->uscc_index, h, uscc_eq, x, e->uscc);
    if (before < 0) {
        (void)itab_insert(&x->uscc_index, h, (uint32_t)i, uscc_hash, x);
        return;
    }
    /* the slot that names `before` names i from now on */
    for (size_t j = h & (x->uscc_index.cap - 1);; j = (j + 1) & (x->uscc_index.cap - 1))
        if (x->uscc_index.slots[j] == (uint32_t)before + 1) {
            x->uscc_index.slots[j] = (uint32_t)i + 1;
            break;
        }
    e->uscc_prev = (uint32_t)before + 1;
}

int ledger_exec_lookup(ledger_exec *x, const char *id, lic_entry **out, ledger_err *err)
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
    uint8_t *cur = malloc(n ? n : 1);
    if (cur == NULL) {
        free(val);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    memcpy(cur, val, n);
    if (lic_append(x, id, h, val, n, cur, n, 0, err) != 0) {
        free(cur);
        free(val);
        return -1;
    }
    *out = &x->lics[x->n_lics - 1];
    return 1;
}

int ledger_exec_add_record(ledger_exec *x, const char *id, const char *uscc, uint8_t *rec,
                           size_t len, ledger_err *err)
{
    if (uscc != NULL && itab_reserve(&x->uscc_index, uscc_hash, x) != 0)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    if (lic_append(x, id, fnv1a(id, strlen(id)), NULL, 0, rec, len, 1, err) != 0)
        return -1;
    if (uscc != NULL)
        uscc_index_add(x, x->n_lics - 1, uscc);
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

int ledger_exec_decoded(ledger_exec *x, const ledger_tx *tx, int dept, ledger_tx_result *res,
                        ledger_err *err)
{
    ledger *L = x->L;
    (void)L;
    /* the membership in force at this block: its rules and its bounds */
    const ledger_genesis *m = x->gov->m;
    if (x->n_txs >= m->params.max_block_txs)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_full",
                           "the block already holds %zu transactions", x->n_txs);
    if (x->n_bytes + tx->env_len > m->params.max_block_bytes)
        return ledger_fail(err, LEDGER_ERR_RULE, "block_full",
                           "the block already holds %llu bytes of %llu",
                           (unsigned long long)x->n_bytes,
                           (unsigned long long)m->params.max_block_bytes);
    if (ledger_tx_check_fields(m, tx, err) != 0 ||
        ledger_tx_check_time(tx, x->ctx.time, m->params.tx_window_ms, err) != 0)
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

    if (ledger_tx_kind_is_gov(tx->kind))
        return ledger_gov_exec(x, tx, dept, res, err);

    ledger_license lic;
    memset(&lic, 0, sizeof lic);
    lic_entry *e = NULL;
    char new_id[LEDGER_MAX_LICENSE_ID + 1] = "";
    int is_apply = tx->kind == PERMIT__TX_KIND__APPLY;
    if (is_apply) {
        if (ledger_exec_check_duplicate(x, tx->body->apply->uscc, tx->body->apply->industry,
                                        err) != 0)
            return -1; /* an I/O error marked the block broken */
        if (next_license_id(x, new_id, sizeof new_id, err) != 0)
            goto io;
    } else {
        r = !ledger_is_license_id(tx->body->license_id)
                ? 0 /* the governance record or a USCC record: not a license */
                : ledger_exec_lookup(x, tx->body->license_id, &e, err);
        if (r < 0)
            goto io;
        if (r == 0)
            return ledger_fail(err, LEDGER_ERR_NOTFOUND, "license_not_found",
                               "license %.64s does not exist", tx->body->license_id);
        if (ledger_license_decode(&lic, e->cur, e->cur_len, err) != 0)
            goto io;
        if (ledger_rules_check_events(&lic, tx->kind, err) != 0) {
            ledger_license_clear(&lic);
            return -1;
        }
    }
    int was_revoked = lic.status == LIC_REVOKED;
    if (ledger_rules_apply(m, tx, dept, x->ctx.time, new_id, &lic, err) != 0) {
        ledger_license_clear(&lic);
        return -1;
    }
    int ev_kind = tx->kind;
    if (is_apply && lic.commitment &&
        ledger_exec_instant(x, &lic, x->log.f.size, &ev_kind, err) != 0) {
        ledger_license_clear(&lic);
        goto io;
    }

    ledger_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.license_id, sizeof ev.license_id, "%s", lic.id);
    ev.seq = is_apply ? 0 : lic.seq + 1;
    ev.kind = (uint8_t)ev_kind;
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
    ledger_merkle_leaf_hash(evbytes, evlen, evhash);
    lic.seq = ev.seq;
    memcpy(lic.head, evhash, 32);

    uint8_t *rec;
    size_t reclen;
    char uscc[19];
    snprintf(uscc, sizeof uscc, "%s", lic.uscc ? lic.uscc : "");
    int enc = ledger_license_encode(&lic, &rec, &reclen, err);
    /* a revocation goes on its USCC's record (the rule `instant` reads it) */
    if (enc == 0 && !was_revoked && lic.status == LIC_REVOKED &&
        ledger_exec_note_revocation(x, &lic, x->log.f.size, err) != 0) {
        ledger_license_clear(&lic);
        free(rec);
        goto io;
    }
    ledger_license_clear(&lic);
    if (enc != 0)
        return -1;
    if (is_apply) {
        if (ledger_exec_add_record(x, new_id, uscc, rec, reclen, err) != 0) {
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
    return ledger_exec_record_tx(x, tx, &ev, evbytes, evlen, evhash, res, err);
io:
    x->broken = 1;
    return -1;
}

int ledger_exec_record_tx(ledger_exec *x, const ledger_tx *tx, const ledger_event *evp,
                          const uint8_t *evbytes, size_t evlen, const uint8_t evhash[32],
                          ledger_tx_result *res, ledger_err *err)
{
    const ledger_event ev = *evp;
    uint8_t leaf[32];
    ledger_merkle_leaf_hash(tx->env, tx->env_len, leaf);
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
        ledger_gov_authorize(x->gov, &tx, &pk, &dept, err) != 0)
        goto out;
    if (mode == LEDGER_SIG_CHECK && !ledger_tx_sig_ok(&tx, pk)) {
        ledger_fail(err, LEDGER_ERR_RULE, "signature_invalid",
                    "the signature does not verify for this chain and signer");
        goto out;
    }
    rc = ledger_exec_decoded(x, &tx, dept, res, err);
out:
    ledger_tx_release(&tx);
    return rc;
}

static void count_pending(void *ctx, const uint8_t *key, size_t klen, int delta)
{
    ledger_exec *x = ctx;
    ledger_pending_add(&x->pending_delta, key, klen, delta);
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
        if (ledger_is_license_id(e->id) &&
            ledger_index_diff(x->batch, e->id, e->orig, e->orig_len, e->cur, e->cur_len,
                              count_pending, x, err) != 0)
            goto fail;
        ledger_batch_put(x->batch, CF_LICENSES, e->id, strlen(e->id), e->cur, e->cur_len);
    }
    if (ledger_gov_finish(x, err) != 0)
        goto fail;
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
    ledger_merkle_root_of_leaves((const uint8_t(*)[32])x->tx_leaves, x->n_txs, h->tx_root);
    if (ledger_state_root_compute(x, h->state_root, err) != 0)
        goto fail;
    ledger_mlog_flush(&x->log);
    h->log_size = x->log.f.size;
    ledger_merkle_frontier_root(&x->log.f, h->log_root);
    memcpy(h->validators_hash, L->head_vset->m->validators_hash, 32);
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

