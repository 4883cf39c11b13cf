/* ledger/gov_exec.c: governance in the ledger (gov.h): executing
 * GOV_PROPOSE, GOV_APPROVE and RETIRE_KEY in a block (the rules themselves:
 * gov_rules.c), loading the membership from the store, and the reads of
 * proposals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ledger_int.h"
#include "license.h"
#include "merkle.h"
#include "permit.pb-c.h"
#include "store.h"

#define GOV_META_PREFIX "gov/p/"
#define GOV_VERSION_PREFIX "gov/v/"

static void version_key(uint8_t key[16], size_t *klen, uint64_t height)
{
    size_t n = strlen(GOV_VERSION_PREFIX);
    memcpy(key, GOV_VERSION_PREFIX, n);
    ledger_be64(key + n, height);
    *klen = n + 8;
}

int ledger_gov_finish(ledger_exec *x, ledger_err *err)
{
    if (x->gov_cur == NULL)
        return 0;
    char id[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(x->L->g, id, sizeof id);
    uint8_t *rec;
    size_t n;
    if (ledger_gov_encode(x->gov_cur, id, &rec, &n, err) != 0)
        return -1;
    uint8_t key[16];
    size_t klen;
    version_key(key, &klen, x->height);
    ledger_batch_put(x->batch, CF_META, key, klen, rec, n);
    free(rec);
    return 0;
}

int ledger_gov_at(ledger *L, uint64_t height, ledger_gov **out, ledger_err *err)
{
    *out = NULL;
    uint8_t key[16];
    size_t klen;
    version_key(key, &klen, height);
    ledger_iter *it = ledger_iter_new(L->st, CF_META);
    if (it == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    ledger_iter_seek(it, key, klen);
    if (ledger_iter_valid(it))
        ledger_iter_prev(it);
    else
        ledger_iter_seek_last(it);
    int rc = 0, found = 0;
    size_t pn = strlen(GOV_VERSION_PREFIX);
    if (ledger_iter_valid(it)) {
        size_t kl, vl;
        const uint8_t *k = ledger_iter_key(it, &kl);
        const uint8_t *v = ledger_iter_value(it, &vl);
        if (kl == klen && memcmp(k, GOV_VERSION_PREFIX, pn) == 0) {
            found = 1;
            rc = ledger_gov_decode(L->g, v, vl, out, err);
        }
    }
    if (rc == 0 && ledger_iter_status(it, err) != 0)
        rc = -1;
    ledger_iter_free(it);
    if (rc == 0 && !found)
        rc = ledger_gov_from_genesis(L->g, out, err);
    if (rc != 0) {
        ledger_gov_release(*out);
        *out = NULL;
    }
    return rc;
}

static void proposal_key(uint8_t key[16], size_t *klen, uint32_t id)
{
    size_t n = strlen(GOV_META_PREFIX);
    memcpy(key, GOV_META_PREFIX, n);
    ledger_be32(key + n, id);
    *klen = n + 4;
}

int ledger_gov_load(ledger *L, ledger_gov **out, ledger_err *err)
{
    char id[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(L->g, id, sizeof id);
    uint8_t *v;
    size_t n;
    int r = ledger_store_get(L->st, CF_LICENSES, id, strlen(id), &v, &n, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return ledger_gov_from_genesis(L->g, out, err);
    r = ledger_gov_decode(L->g, v, n, out, err);
    free(v);
    return r;
}

int ledger_gov_exec(ledger_exec *x, const ledger_tx *tx, int dept, ledger_tx_result *res,
                    ledger_err *err)
{
    const ledger_gov *base = x->gov_cur ? x->gov_cur : x->gov;
    if (x->n_gov >= LEDGER_GOV_MAX_PER_BLOCK)
        return ledger_fail(err, LEDGER_ERR_RULE, "gov_block_full",
                           "the block already holds %d governance transactions",
                           LEDGER_GOV_MAX_PER_BLOCK);
    ledger_gov_outcome o;
    if (ledger_gov_step(base, x->gov, x->L->head_vset, tx, dept, x->ctx.time, x->height, &o,
                        err) != 0)
        return -1;
    char id[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(x->L->g, id, sizeof id);

    ledger_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.license_id, sizeof ev.license_id, "%s", id);
    ev.seq = base->exists ? base->seq + 1 : 0;
    ev.kind = (uint8_t)tx->kind;
    memcpy(ev.tx_id, tx->id, 32);
    ev.height = x->height;
    ev.time = x->ctx.time;
    if (base->exists)
        memcpy(ev.prev, base->head, 32);
    uint8_t evbytes[LEDGER_EVENT_MAX_BYTES];
    size_t evlen;
    if (ledger_event_encode(&ev, evbytes, sizeof evbytes, &evlen) != 0) {
        ledger_gov_outcome_clear(&o);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "event cannot be encoded");
    }
    uint8_t evhash[32];
    ledger_merkle_leaf_hash(evbytes, evlen, evhash);
    ledger_gov *after = o.after;
    after->exists = 1;
    after->seq = ev.seq;
    memcpy(after->head, evhash, 32);

    uint8_t *rec;
    size_t reclen;
    if (ledger_gov_encode(after, id, &rec, &reclen, err) != 0) {
        ledger_gov_outcome_clear(&o);
        return -1;
    }
    lic_entry *e = NULL;
    int r = ledger_exec_lookup(x, id, &e, err);
    if (r < 0) {
        free(rec);
        ledger_gov_outcome_clear(&o);
        x->broken = 1;
        return -1;
    }
    if (r == 0) {
        if (ledger_exec_add_record(x, id, NULL, rec, reclen, err) != 0) {
            free(rec);
            ledger_gov_outcome_clear(&o);
            return -1;
        }
    } else {
        free(e->cur);
        e->cur = rec;
        e->cur_len = reclen;
        e->dirty = 1;
    }
    /* proposals closed by this transaction, for gov.list and gov.get */
    for (size_t i = 0; i < o.n_closed; i++) {
        uint8_t *pb;
        size_t pn;
        if (ledger_gov_proposal_encode(&o.closed[i], &pb, &pn, err) != 0) {
            x->broken = 1;
            ledger_gov_outcome_clear(&o);
            return -1;
        }
        uint8_t key[16];
        size_t klen;
        proposal_key(key, &klen, o.closed[i].id);
        ledger_batch_put(x->batch, CF_META, key, klen, pb, pn);
        free(pb);
    }
    ledger_gov_release(x->gov_cur);
    x->gov_cur = ledger_gov_ref(after);
    x->n_gov++;
    uint32_t pid = o.proposal_id;
    int executed = o.executed;
    ledger_gov_outcome_clear(&o);
    if (ledger_exec_record_tx(x, tx, &ev, evbytes, evlen, evhash, res, err) != 0)
        return -1;
    if (res) {
        res->proposal_id = pid;
        res->gov_executed = executed;
    }
    return 0;
}

int ledger_gov_get_proposal(ledger *L, uint32_t id, ledger_gov_proposal *out, ledger_err *err)
{
    memset(out, 0, sizeof *out);
    ledger_gov *gv = ledger_gov_acquire(L);
    for (size_t i = 0; i < gv->n_open; i++)
        if (gv->open[i].id == id) {
            ledger_gov *cp = NULL;
            if (ledger_gov_copy(gv->m, gv, &cp, err) != 0) {
                ledger_gov_release(gv);
                return -1;
            }
            *out = cp->open[i];
            memset(&cp->open[i].ch, 0, sizeof cp->open[i].ch); /* moved to out */
            ledger_gov_release(cp);
            ledger_gov_release(gv);
            return 1;
        }
    ledger_gov_release(gv);
    uint8_t key[16];
    size_t klen;
    proposal_key(key, &klen, id);
    uint8_t *v;
    size_t n;
    int r = ledger_store_get(ledger_store_of(L), CF_META, key, klen, &v, &n, err);
    if (r <= 0)
        return r;
    r = ledger_gov_proposal_decode(v, n, out, err);
    free(v);
    return r == 0 ? 1 : -1;
}

int ledger_gov_record_bytes(ledger *L, uint8_t **out, size_t *len, ledger_err *err)
{
    char id[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(L->g, id, sizeof id);
    return ledger_store_get(L->st, CF_LICENSES, id, strlen(id), out, len, err);
}

/* ---- the validator sets by height (DESIGN §5) ---- */

int ledger_vset_load(ledger *L, ledger_err *err)
{
    uint64_t t = L->head.tip.height;
    ledger_gov *next = NULL, *cur = NULL;
    if (ledger_gov_at(L, t, &next, err) != 0)
        return -1;
    if (ledger_gov_at(L, t ? t - 1 : 0, &cur, err) != 0) {
        ledger_gov_release(next);
        return -1;
    }
    ledger_gov_release(L->head_vset);
    ledger_gov_release(L->head_vset_prev);
    L->head_vset = ledger_gov_ref(next);
    L->head_vset_prev = ledger_gov_ref(cur);
    pthread_mutex_lock(&L->mu);
    ledger_gov *o1 = L->tip_vset, *o2 = L->tip_vset_prev;
    L->tip_vset = next;
    L->tip_vset_prev = cur;
    pthread_mutex_unlock(&L->mu);
    ledger_gov_release(o1);
    ledger_gov_release(o2);
    return 0;
}

void ledger_vset_advance_head(ledger *L, ledger_gov *old_gov)
{
    ledger_gov_release(L->head_vset_prev);
    L->head_vset_prev = L->head_vset;
    L->head_vset = old_gov;
}

void ledger_vset_advance_tip(ledger *L, ledger_gov *old_gov)
{
    ledger_gov_release(L->tip_vset_prev);
    L->tip_vset_prev = L->tip_vset;
    L->tip_vset = old_gov;
}

ledger_gov *ledger_vset_acquire(ledger *L, uint64_t height, ledger_err *err)
{
    ledger_gov *gv = NULL;
    pthread_mutex_lock(&L->mu);
    uint64_t t = L->tip.height;
    if (height == t + 1)
        gv = ledger_gov_ref(L->tip_vset);
    else if (height == t + 2)
        gv = ledger_gov_ref(L->tip_gov);
    else if (height == t && t > 0)
        gv = ledger_gov_ref(L->tip_vset_prev);
    pthread_mutex_unlock(&L->mu);
    if (gv != NULL)
        return gv;
    if (height > t + 2) {
        ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                    "the validators of block %llu are not known yet: this node is at block %llu",
                    (unsigned long long)height, (unsigned long long)t);
        return NULL;
    }
    /* an older block: the membership after the block two before it */
    if (ledger_gov_at(L, height >= 2 ? height - 1 : 0, &gv, err) != 0)
        return NULL;
    return gv;
}

int ledger_commit_verify_at(ledger *L, const ledger_commit *c, const uint8_t block_hash[32],
                            uint64_t height, ledger_err *err)
{
    ledger_gov *vs = ledger_vset_acquire(L, height, err);
    if (vs == NULL)
        return -1;
    int rc = ledger_commit_verify(vs->m, c, block_hash, height, err);
    ledger_gov_release(vs);
    return rc;
}
