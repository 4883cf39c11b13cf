#include "index.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"

typedef struct {
    ledger_index_key *v;
    size_t n, cap;
    int err;
} keyvec;

static ledger_index_key *kv_new(keyvec *kv, ledger_cf cf)
{
    if (kv->err)
        return NULL;
    if (kv->n == kv->cap) {
        size_t nc = kv->cap ? kv->cap * 2 : 16;
        ledger_index_key *nv = realloc(kv->v, nc * sizeof *nv);
        if (nv == NULL) {
            kv->err = 1;
            return NULL;
        }
        kv->v = nv;
        kv->cap = nc;
    }
    ledger_index_key *k = &kv->v[kv->n++];
    k->cf = (uint8_t)cf;
    k->len = 0;
    return k;
}

/* prefix (raw bytes) || [0 separator] || id */
static void kv_add(keyvec *kv, ledger_cf cf, const void *prefix, size_t plen, int sep,
                   const char *id)
{
    size_t idlen = strlen(id);
    if (plen + 1 + idlen > LEDGER_INDEX_KEY_MAX) {
        kv->err = 1;
        return;
    }
    ledger_index_key *k = kv_new(kv, cf);
    if (k == NULL)
        return;
    memcpy(k->key, prefix, plen);
    size_t o = plen;
    if (sep)
        k->key[o++] = 0;
    memcpy(k->key + o, id, idlen);
    k->len = (uint16_t)(o + idlen);
}

static int cmp_key(const void *a, const void *b)
{
    const ledger_index_key *x = a, *y = b;
    if (x->cf != y->cf)
        return x->cf < y->cf ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, m);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int live(int status)
{
    return status == LIC_ISSUED || status == LIC_ISSUED_UNVERIFIED || status == LIC_SUSPENDED;
}

int ledger_index_keys(const ledger_license *l, ledger_index_key **keys, size_t *n,
                      ledger_err *err)
{
    keyvec kv = {0};
    const char *id = l->id;
    kv_add(&kv, CF_BY_USCC, l->uscc, strlen(l->uscc), 0, id);
    kv_add(&kv, CF_BY_NAME, l->name, strlen(l->name), 1, id);
    for (size_t i = 0; i < l->n_addresses; i++)
        kv_add(&kv, CF_BY_ADDRESS, l->addresses[i].text, strlen(l->addresses[i].text), 1, id);
    kv_add(&kv, CF_BY_INDUSTRY, l->industry, strlen(l->industry), 1, id);
    uint8_t st = l->status;
    kv_add(&kv, CF_BY_STATUS, &st, 1, 0, id);
    uint8_t be[8];
    if (live(l->status) && l->expires_at != 0) {
        ledger_be64(be, l->expires_at);
        kv_add(&kv, CF_BY_EXPIRY, be, 8, 0, id);
    }
    if (l->status == LIC_PENDING || l->status == LIC_ISSUED_UNVERIFIED) {
        for (size_t i = 0; i < l->n_items; i++) {
            const ledger_item *it = &l->items[i];
            int waiting = l->status == LIC_PENDING ? it->decision == DEC_PENDING : !it->verified;
            if (waiting)
                kv_add(&kv, CF_BY_PENDING, it->department, strlen(it->department), 1, id);
        }
    }
    if (l->status == LIC_ISSUED_UNVERIFIED) {
        ledger_be64(be, l->verify_deadline);
        kv_add(&kv, CF_BY_OVERDUE, be, 8, 0, id);
    }
    if (kv.err) {
        free(kv.v);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "index keys of %s: out of memory", id);
    }
    qsort(kv.v, kv.n, sizeof *kv.v, cmp_key);
    size_t w = 0;
    for (size_t r = 0; r < kv.n; r++)
        if (w == 0 || cmp_key(&kv.v[w - 1], &kv.v[r]) != 0)
            kv.v[w++] = kv.v[r];
    *keys = kv.v;
    *n = w;
    return 0;
}

static int keys_of(const uint8_t *rec, size_t len, ledger_index_key **keys, size_t *n,
                   ledger_err *err)
{
    *keys = NULL;
    *n = 0;
    if (rec == NULL)
        return 0;
    ledger_license l;
    if (ledger_license_decode(&l, rec, len, err) != 0)
        return -1;
    int r = ledger_index_keys(&l, keys, n, err);
    ledger_license_clear(&l);
    return r;
}

int ledger_index_diff(ledger_batch *b, const char *id, const uint8_t *orig, size_t olen,
                      const uint8_t *cur, size_t clen, ledger_index_count_fn count,
                      void *ctx, ledger_err *err)
{
    (void)id;
    ledger_index_key *ok = NULL, *nk = NULL;
    size_t on = 0, nn = 0;
    if (keys_of(orig, olen, &ok, &on, err) != 0 || keys_of(cur, clen, &nk, &nn, err) != 0) {
        free(ok);
        return -1;
    }
    size_t i = 0, j = 0;
    while (i < on || j < nn) {
        int c = i == on ? 1 : j == nn ? -1 : cmp_key(&ok[i], &nk[j]);
        if (c < 0) {
            ledger_batch_delete(b, (ledger_cf)ok[i].cf, ok[i].key, ok[i].len);
            if (count && ok[i].cf == CF_BY_PENDING)
                count(ctx, ok[i].key, ok[i].len, -1);
            i++;
        } else if (c > 0) {
            ledger_batch_put(b, (ledger_cf)nk[j].cf, nk[j].key, nk[j].len, "", 0);
            if (count && nk[j].cf == CF_BY_PENDING)
                count(ctx, nk[j].key, nk[j].len, 1);
            j++;
        } else {
            i++;
            j++;
        }
    }
    free(ok);
    free(nk);
    return 0;
}

const char *ledger_index_key_id(ledger_cf cf, const uint8_t *key, size_t klen,
                                size_t *idlen)
{
    size_t off;
    switch (cf) {
    case CF_BY_USCC:
        off = 18;
        break;
    case CF_BY_STATUS:
        off = 1;
        break;
    case CF_BY_EXPIRY:
    case CF_BY_OVERDUE:
        off = 8;
        break;
    default: {
        const uint8_t *z = memchr(key, 0, klen);
        if (z == NULL)
            return NULL;
        off = (size_t)(z - key) + 1;
    }
    }
    if (off > klen)
        return NULL;
    *idlen = klen - off;
    return (const char *)key + off;
}
