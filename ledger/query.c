#include "query.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hex.h"
#include "index.h"
#include "store.h"

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* The smallest address text of l that starts with prefix, or NULL. */
static const char *first_matching_address(const ledger_license *l, const char *prefix)
{
    const char *best = NULL;
    for (size_t i = 0; i < l->n_addresses; i++) {
        const char *t = l->addresses[i].text;
        if (has_prefix(t, prefix) && (best == NULL || strcmp(t, best) < 0))
            best = t;
    }
    return best;
}

static int matches(const ledger_query *q, const ledger_license *l)
{
    int st = ledger_license_status_at(l, q->now);
    switch (q->kind) {
    case LEDGER_Q_PENDING:
        return 1; /* the index holds exactly these */
    case LEDGER_Q_EXPIRING:
        return st == LIC_ISSUED || st == LIC_ISSUED_UNVERIFIED || st == LIC_OVERDUE;
    case LEDGER_Q_OVERDUE:
        return st == LIC_OVERDUE;
    case LEDGER_Q_SEARCH:
        break;
    }
    if (q->uscc && strcmp(l->uscc, q->uscc) != 0)
        return 0;
    if (q->name && !has_prefix(l->name, q->name))
        return 0;
    if (q->industry && strcmp(l->industry, q->industry) != 0)
        return 0;
    if (q->address && first_matching_address(l, q->address) == NULL)
        return 0;
    if (q->status && st != q->status)
        return 0;
    return 1;
}

typedef struct {
    ledger_cf cf;
    uint8_t lo[LEDGER_INDEX_KEY_MAX]; /* first key of the range */
    size_t lolen;
    uint8_t hi[LEDGER_INDEX_KEY_MAX]; /* keys must be < hi (if hilen) ... */
    size_t hilen;
    int hi_is_prefix;                 /* ... or start with hi when set */
} range;

static void range_prefix(range *r, ledger_cf cf, const void *p, size_t n, int sep)
{
    r->cf = cf;
    memcpy(r->lo, p, n);
    if (sep)
        r->lo[n++] = 0;
    r->lolen = n;
    memcpy(r->hi, r->lo, n);
    r->hilen = n;
    r->hi_is_prefix = 1;
}

static void range_be64(range *r, ledger_cf cf, uint64_t lo, uint64_t hi)
{
    r->cf = cf;
    ledger_be64(r->lo, lo);
    r->lolen = 8;
    ledger_be64(r->hi, hi);
    r->hilen = 8;
    r->hi_is_prefix = 0;
}

static int in_range(const range *r, const uint8_t *k, size_t kl)
{
    if (r->hi_is_prefix)
        return kl >= r->hilen && memcmp(k, r->hi, r->hilen) == 0;
    size_t m = kl < r->hilen ? kl : r->hilen;
    int c = memcmp(k, r->hi, m);
    return c < 0 || (c == 0 && kl < r->hilen);
}

static int plan(const ledger_query *q, range *r, ledger_err *err)
{
    memset(r, 0, sizeof *r);
    switch (q->kind) {
    case LEDGER_Q_PENDING:
        if (q->department == NULL || *q->department == '\0' || strlen(q->department) > 64)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "department is required");
        range_prefix(r, CF_BY_PENDING, q->department, strlen(q->department), 1);
        return 0;
    case LEDGER_Q_EXPIRING: {
        uint64_t hi = q->now + q->within_ms;
        if (hi < q->now)
            hi = UINT64_MAX;
        range_be64(r, CF_BY_EXPIRY, q->now, hi);
        return 0;
    }
    case LEDGER_Q_OVERDUE:
        range_be64(r, CF_BY_OVERDUE, 0, q->now + 1);
        return 0;
    case LEDGER_Q_SEARCH:
        break;
    }
    if (q->uscc) {
        if (strlen(q->uscc) != 18)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "uscc must be 18 characters");
        range_prefix(r, CF_BY_USCC, q->uscc, 18, 0);
    } else if (q->address && strlen(q->address) <= LEDGER_MAX_ADDRESS_TEXT) {
        range_prefix(r, CF_BY_ADDRESS, q->address, strlen(q->address), 0);
    } else if (q->name && strlen(q->name) <= LEDGER_MAX_NAME) {
        range_prefix(r, CF_BY_NAME, q->name, strlen(q->name), 0);
    } else if (q->industry && strlen(q->industry) <= 64) {
        range_prefix(r, CF_BY_INDUSTRY, q->industry, strlen(q->industry), 1);
    } else if (q->status == LIC_EXPIRED) {
        range_be64(r, CF_BY_EXPIRY, 0, q->now + 1);
    } else if (q->status == LIC_OVERDUE) {
        range_be64(r, CF_BY_OVERDUE, 0, q->now + 1);
    } else if (q->status) {
        uint8_t s = (uint8_t)q->status;
        range_prefix(r, CF_BY_STATUS, &s, 1, 0);
    } else {
        r->cf = CF_LICENSES; /* no filter: every license, by id */
        r->hi_is_prefix = 1;
    }
    if (q->status && (q->status < LIC_PENDING || q->status > LIC_OVERDUE))
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "unknown status");
    return 0;
}

static int push(ledger_query_result *res, size_t limit, ledger_license *l)
{
    if (res->items == NULL) {
        res->items = calloc(limit, sizeof *res->items);
        if (res->items == NULL)
            return -1;
    }
    res->items[res->n++] = *l;
    memset(l, 0, sizeof *l);
    return 0;
}

int ledger_query_run(ledger *L, const ledger_query *q, ledger_query_result *res,
                     ledger_err *err)
{
    memset(res, 0, sizeof *res);
    size_t limit = q->limit ? q->limit : LEDGER_QUERY_DEFAULT_LIMIT;
    if (limit > LEDGER_QUERY_MAX_LIMIT)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "limit must be at most %d",
                           LEDGER_QUERY_MAX_LIMIT);
    range r;
    if (plan(q, &r, err) != 0)
        return -1;
    uint8_t cur[LEDGER_INDEX_KEY_MAX];
    size_t curlen = 0;
    if (q->cursor && *q->cursor) {
        size_t cl = strlen(q->cursor);
        if (cl > 2 * LEDGER_INDEX_KEY_MAX ||
            ledger_hex_decode(q->cursor, cl, cur, sizeof cur, &curlen) != 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "malformed cursor");
    }
    ledger_iter *it = ledger_iter_new(ledger_store_of(L), r.cf);
    if (it == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    if (curlen > 0)
        ledger_iter_seek(it, cur, curlen);
    else if (r.lolen > 0)
        ledger_iter_seek(it, r.lo, r.lolen);
    else
        ledger_iter_seek_first(it);
    int rc = 0;
    size_t scanned = 0;
    uint8_t last[LEDGER_INDEX_KEY_MAX];
    size_t lastlen = 0;
    int more = 0;
    for (; ledger_iter_valid(it); ledger_iter_next(it)) {
        size_t kl;
        const uint8_t *k = ledger_iter_key(it, &kl);
        if (kl > LEDGER_INDEX_KEY_MAX || !in_range(&r, k, kl))
            break;
        if (curlen > 0 && kl == curlen && memcmp(k, cur, kl) == 0)
            continue; /* the cursor's own key was returned last time */
        if (res->n == limit || scanned == LEDGER_QUERY_MAX_SCAN) {
            more = 1;
            break;
        }
        scanned++;
        memcpy(last, k, kl);
        lastlen = kl;
        char id[LEDGER_MAX_LICENSE_ID + 1];
        size_t idlen;
        const char *idp = r.cf == CF_LICENSES ? (const char *)k
                                              : ledger_index_key_id(r.cf, k, kl, &idlen);
        if (r.cf == CF_LICENSES)
            idlen = kl;
        if (idp == NULL || idlen == 0 || idlen > LEDGER_MAX_LICENSE_ID) {
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL, "corrupt index entry in %s",
                             ledger_cf_name(r.cf));
            break;
        }
        memcpy(id, idp, idlen);
        id[idlen] = '\0';
        ledger_license l;
        int g = ledger_get_license(L, id, &l, err);
        if (g < 0) {
            rc = -1;
            break;
        }
        if (g == 0)
            continue; /* cannot happen with one batch per block; skip defensively */
        int keep = matches(q, &l);
        /* a license with several matching addresses is listed once, at its
         * first matching address */
        if (keep && r.cf == CF_BY_ADDRESS) {
            const char *first = first_matching_address(&l, q->address);
            size_t fl = first ? strlen(first) : 0;
            keep = first && kl == fl + 1 + idlen && memcmp(k, first, fl) == 0;
        }
        if (keep && push(res, limit, &l) != 0) {
            ledger_license_clear(&l);
            rc = ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        ledger_license_clear(&l);
    }
    if (rc == 0 && ledger_iter_status(it, err) != 0)
        rc = -1;
    ledger_iter_free(it);
    if (rc != 0) {
        ledger_query_result_free(res);
        return -1;
    }
    if (more && lastlen > 0)
        ledger_hex_encode(last, lastlen, res->next_cursor);
    return 0;
}

void ledger_query_result_free(ledger_query_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->n; i++)
        ledger_license_clear(&res->items[i]);
    free(res->items);
    res->items = NULL;
    res->n = 0;
}
