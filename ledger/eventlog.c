#include "eventlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gov.h"
#include "permit.pb-c.h"
#include "store.h"
#include "tx.h"

int ledger_log_block_get(ledger *L, uint64_t height, ledger_log_block *b, ledger_err *err)
{
    memset(b, 0, sizeof *b);
    if (height == 0)
        return 0;
    ledger_header h;
    int r = ledger_get_block(L, height, &h, NULL, NULL, NULL, NULL, err);
    if (r <= 0)
        return r;
    b->height = height;
    b->time = h.time;
    b->end = h.log_size;
    if (height == 1) {
        b->prev_time = ledger_genesis_of(L)->genesis_time_ms;
        b->first = 0;
        return 1;
    }
    ledger_header p;
    r = ledger_get_block(L, height - 1, &p, NULL, NULL, NULL, NULL, err);
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "block %llu is missing",
                           (unsigned long long)(height - 1));
    if (r < 0)
        return -1;
    b->prev_time = p.time;
    b->first = p.log_size;
    if (b->first > b->end)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "block %llu: log_size went back",
                           (unsigned long long)height);
    return 1;
}

int ledger_log_find(ledger *L, uint64_t index, uint64_t *height, ledger_err *err)
{
    ledger_tip tip;
    ledger_get_tip(L, &tip);
    if (tip.height == 0 || index >= tip.header.log_size)
        return 0;
    uint64_t lo = 1, hi = tip.height; /* log_size(hi) > index */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        ledger_header h;
        int r = ledger_get_block(L, mid, &h, NULL, NULL, NULL, NULL, err);
        if (r == 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "block %llu is missing",
                               (unsigned long long)mid);
        if (r < 0)
            return -1;
        if (h.log_size > index)
            hi = mid;
        else
            lo = mid + 1;
    }
    *height = lo;
    return 1;
}

/* Event `seq` of license `id`: 1 with its log index and event, 0 absent. */
static int event_at(ledger *L, const char *id, uint32_t seq, uint64_t *index, ledger_event *ev,
                    ledger_err *err)
{
    size_t idlen = strlen(id);
    uint8_t key[LEDGER_MAX_LICENSE_ID + 5];
    memcpy(key, id, idlen);
    key[idlen] = 0;
    ledger_be32(key + idlen + 1, seq);
    uint8_t *v;
    size_t vn;
    int r = ledger_store_get(ledger_store_of(L), CF_EVENTS, key, idlen + 5, &v, &vn, err);
    if (r <= 0)
        return r;
    int ok = vn >= 8 && ledger_event_decode(ev, v + 8, vn - 8) == 0;
    if (ok)
        *index = ledger_rd_be64(v);
    free(v);
    if (!ok)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "event %u of %s is corrupt", seq, id);
    return 1;
}

/* The event of license `id` at log index `index`: a license's events are in
 * log order by seq, so search for the first seq at or past it (doubling,
 * then halving: O(log seq) point reads).  1 found, 0 not this license's. */
static int find_in_license(ledger *L, const char *id, uint64_t index, ledger_event *out,
                           ledger_err *err)
{
    size_t idlen = strlen(id);
    if (idlen == 0 || idlen > LEDGER_MAX_LICENSE_ID)
        return 0;
    uint64_t at;
    ledger_event ev;
    /* P(s): event s is absent or at index or later; monotone in s */
    uint64_t lo = 0, hi = 1; /* find hi with P(hi) */
    for (;;) {
        int r = event_at(L, id, (uint32_t)hi, &at, &ev, err);
        if (r < 0)
            return -1;
        if (r == 0 || at >= index)
            break;
        lo = hi + 1;
        if (hi >= UINT32_MAX / 2)
            return 0;
        hi *= 2;
    }
    /* the first s in [lo, hi] with P(s) */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = event_at(L, id, (uint32_t)mid, &at, &ev, err);
        if (r < 0)
            return -1;
        if (r == 0 || at >= index)
            hi = mid;
        else
            lo = mid + 1;
    }
    int r = event_at(L, id, (uint32_t)lo, &at, out, err);
    if (r <= 0)
        return r;
    return at == index ? 1 : 0;
}

/* An APPLY's license: the one of its USCC whose first event is this
 * transaction. */
static int find_apply(ledger *L, const char *uscc, const uint8_t tx_id[32], uint64_t index,
                      ledger_event *out, ledger_err *err)
{
    size_t ul = strlen(uscc);
    ledger_iter *it = ledger_iter_new(ledger_store_of(L), CF_BY_USCC);
    if (it == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    int found = 0;
    for (ledger_iter_seek(it, uscc, ul); ledger_iter_valid(it); ledger_iter_next(it)) {
        size_t kl;
        const uint8_t *k = ledger_iter_key(it, &kl);
        if (kl <= ul || kl - ul > LEDGER_MAX_LICENSE_ID || memcmp(k, uscc, ul) != 0)
            break;
        char id[LEDGER_MAX_LICENSE_ID + 1];
        memcpy(id, k + ul, kl - ul);
        id[kl - ul] = '\0';
        uint64_t at;
        ledger_event ev;
        int r = event_at(L, id, 0, &at, &ev, err);
        if (r < 0) {
            found = -1;
            break;
        }
        if (r == 1 && at == index && memcmp(ev.tx_id, tx_id, 32) == 0) {
            *out = ev;
            found = 1;
            break;
        }
    }
    if (found >= 0 && ledger_iter_status(it, err) != 0)
        found = -1;
    ledger_iter_free(it);
    return found;
}

static void departments_of(const ledger_license *lic, size_t *n,
                           char out[LEDGER_MAX_ITEMS][LEDGER_DEPT_ID_MAX + 1])
{
    *n = 0;
    for (size_t i = 0; i < lic->n_items && i < LEDGER_MAX_ITEMS; i++) {
        const char *d = lic->items[i].department ? lic->items[i].department : "";
        int seen = 0;
        for (size_t j = 0; j < *n; j++)
            seen |= strcmp(out[j], d) == 0;
        if (!seen && strlen(d) <= LEDGER_DEPT_ID_MAX)
            memcpy(out[(*n)++], d, strlen(d) + 1);
    }
}

static int one_event(ledger *L, const uint8_t tx_id[32], uint64_t index, ledger_log_event *o,
                     ledger_err *err)
{
    memset(o, 0, sizeof *o);
    o->index = index;
    uint8_t *env;
    size_t len;
    uint64_t height;
    uint32_t txi;
    int r = ledger_get_tx(L, tx_id, &env, &len, &height, &txi, err);
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "the transaction of event %llu is missing", (unsigned long long)index);
    if (r < 0)
        return -1;
    const ledger_genesis *g = ledger_genesis_of(L);
    ledger_tx tx;
    if (ledger_tx_decode(&tx, env, len, g->chain_id, err) != 0) {
        ledger_tx_release(&tx);
        free(env);
        return -1;
    }
    memcpy(o->signer, tx.signer, 32);
    char id[LEDGER_MAX_LICENSE_ID + 1] = "";
    if (ledger_tx_kind_is_gov(tx.kind))
        ledger_gov_record_id(g, id, sizeof id);
    else if (tx.body->license_id)
        snprintf(id, sizeof id, "%s", tx.body->license_id);
    if (tx.kind == PERMIT__TX_KIND__APPLY && tx.body->apply && tx.body->apply->uscc)
        r = find_apply(L, tx.body->apply->uscc, tx_id, index, &o->ev, err);
    else
        r = find_in_license(L, id, index, &o->ev, err);
    ledger_tx_release(&tx);
    free(env);
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "event %llu is not in the store",
                           (unsigned long long)index);
    if (r < 0)
        return -1;
    if (ledger_gov_is_record_id(o->ev.license_id))
        return 0;
    ledger_license lic;
    r = ledger_get_license(L, o->ev.license_id, &lic, err);
    if (r < 0)
        return -1;
    if (r == 1) {
        departments_of(&lic, &o->n_departments, o->departments);
        ledger_license_clear(&lic);
    }
    return 0;
}

int ledger_log_events(ledger *L, const ledger_log_block *b, uint64_t from, size_t max,
                      ledger_log_event *out, size_t *n, ledger_err *err)
{
    *n = 0;
    if (from < b->first || from >= b->end || max == 0)
        return 0;
    uint8_t(*ids)[32] = NULL;
    size_t nids = 0;
    ledger_header h;
    int r = ledger_get_block(L, b->height, &h, NULL, NULL, &ids, &nids, err);
    if (r <= 0) {
        free(ids);
        return r == 0 ? ledger_fail(err, LEDGER_ERR_INVALID, NULL, "block %llu is missing",
                                    (unsigned long long)b->height)
                      : -1;
    }
    if (nids != b->end - b->first) {
        free(ids);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "block %llu: %zu transactions but %llu events", (unsigned long long)b->height,
                           nids, (unsigned long long)(b->end - b->first));
    }
    int rc = 0;
    for (uint64_t i = from; i < b->end && *n < max; i++) {
        if (one_event(L, ids[i - b->first], i, &out[*n], err) != 0) {
            rc = -1;
            break;
        }
        (*n)++;
    }
    free(ids);
    return rc;
}

static int rem_cmp(const void *a, const void *b)
{
    const ledger_reminder *x = a, *y = b;
    if (x->opens != y->opens)
        return x->opens < y->opens ? -1 : 1;
    return strcmp(x->license_id, y->license_id);
}

/* Licenses of industries with renewal window w whose window opens in the
 * block: expires_at in (prev_time + w, time + w]. */
static int scan_window(ledger *L, const ledger_log_block *b, uint64_t w, ledger_reminder *all,
                       size_t cap, size_t *n, ledger_err *err)
{
    const ledger_genesis *g = ledger_genesis_of(L);
    ledger_iter *it = ledger_iter_new(ledger_store_of(L), CF_BY_EXPIRY);
    if (it == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    uint8_t start[8];
    ledger_be64(start, b->prev_time + w + 1);
    int rc = 0;
    for (ledger_iter_seek(it, start, 8); ledger_iter_valid(it) && *n < cap;
         ledger_iter_next(it)) {
        size_t kl;
        const uint8_t *k = ledger_iter_key(it, &kl);
        if (kl <= 8 || kl - 8 > LEDGER_MAX_LICENSE_ID)
            continue;
        uint64_t exp = ledger_rd_be64(k);
        if (exp > b->time + w)
            break;
        char id[LEDGER_MAX_LICENSE_ID + 1];
        memcpy(id, k + 8, kl - 8);
        id[kl - 8] = '\0';
        ledger_license lic;
        int r = ledger_get_license(L, id, &lic, err);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0)
            continue;
        const ledger_industry *ind = ledger_genesis_industry(g, lic.industry);
        if (ind && ind->renew_window_ms == w && lic.expires_at == exp) {
            ledger_reminder *m = &all[(*n)++];
            memset(m, 0, sizeof *m);
            snprintf(m->license_id, sizeof m->license_id, "%s", id);
            snprintf(m->industry, sizeof m->industry, "%s", lic.industry);
            m->height = b->height;
            m->time = b->time;
            m->expires_at = exp;
            m->opens = exp - w;
            m->status = (int)ledger_license_status_at(&lic, b->time);
            departments_of(&lic, &m->n_departments, m->departments);
        }
        ledger_license_clear(&lic);
    }
    if (rc == 0 && ledger_iter_status(it, err) != 0)
        rc = -1;
    ledger_iter_free(it);
    return rc;
}

int ledger_log_reminders(ledger *L, const ledger_log_block *b, uint64_t after_opens,
                         const char *after_id, size_t max, ledger_reminder *out, size_t *n,
                         ledger_err *err)
{
    *n = 0;
    if (max == 0 || b->time <= b->prev_time)
        return 0;
    const ledger_genesis *g = ledger_genesis_of(L);
    ledger_reminder *all = malloc(LEDGER_REMINDERS_MAX_PER_BLOCK * sizeof *all);
    if (all == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    size_t na = 0;
    int rc = 0;
    /* one scan per distinct renewal window of the catalogue */
    for (size_t i = 0; i < g->n_industries && rc == 0; i++) {
        uint64_t w = g->industries[i].renew_window_ms;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= g->industries[j].renew_window_ms == w;
        if (!seen)
            rc = scan_window(L, b, w, all, LEDGER_REMINDERS_MAX_PER_BLOCK, &na, err);
    }
    if (rc == 0) {
        qsort(all, na, sizeof *all, rem_cmp);
        for (size_t i = 0; i < na && *n < max; i++) {
            if (after_id) {
                ledger_reminder key = {.opens = after_opens};
                snprintf(key.license_id, sizeof key.license_id, "%s", after_id);
                if (rem_cmp(&all[i], &key) <= 0)
                    continue;
            }
            out[(*n)++] = all[i];
        }
    }
    free(all);
    return rc;
}
