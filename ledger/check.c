/* ledger/check.c: whole-database consistency check (ledger_check_integrity). */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hash.h"
#include "index.h"
#include "instant.h"
#include "gov.h"
#include "ledger.h"
#include "merkle.h"
#include "permit.pb-c.h"
#include "store.h"

/* Count entries of a column family. */
static int count_cf(ledger_store *st, ledger_cf cf, uint64_t *n, ledger_err *err)
{
    ledger_iter *it = ledger_iter_new(st, cf);
    if (it == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    *n = 0;
    for (ledger_iter_seek_first(it); ledger_iter_valid(it); ledger_iter_next(it))
        (*n)++;
    int rc = ledger_iter_status(it, err);
    ledger_iter_free(it);
    return rc;
}

static int check_events(ledger *L, const char *id, uint32_t seq, const uint8_t head[32],
                        uint64_t log_size, uint64_t *events, ledger_err *err);

static int check_license(ledger *L, const ledger_license *l, uint64_t log_size,
                         uint64_t *expected, uint64_t *events, ledger_err *err)
{
    ledger_store *st = ledger_store_of(L);
    ledger_index_key *keys = NULL;
    size_t nk = 0;
    if (ledger_index_keys(l, &keys, &nk, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < nk && rc == 0; i++) {
        uint8_t *v;
        size_t vl;
        int r = ledger_store_get(st, (ledger_cf)keys[i].cf, keys[i].key, keys[i].len, &v, &vl,
                                 err);
        if (r < 0)
            rc = -1;
        else if (r == 0)
            rc = ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                             "license %s: index %s lacks its entry", l->id,
                             ledger_cf_name((ledger_cf)keys[i].cf));
        else
            free(v);
        expected[keys[i].cf]++;
    }
    free(keys);
    if (rc != 0)
        return -1;
    return check_events(L, l->id, l->seq, l->head, log_size, events, err);
}

/* The events of record id (a license or the governance record) form an
 * unbroken chain to head, each at its place in the event log. */
static int check_events(ledger *L, const char *id, uint32_t seq, const uint8_t head[32],
                        uint64_t log_size, uint64_t *events, ledger_err *err)
{
    ledger_event_rec *evs = NULL;
    size_t n = 0;
    if (ledger_get_events(L, id, &evs, &n, err) < 0)
        return -1;
    if (n != (size_t)seq + 1) {
        free(evs);
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "license %s: %zu events stored but seq is %u", id, n, seq);
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *want_prev = i == 0 ? NULL : evs[i - 1].hash;
        uint8_t zero[32] = {0};
        if (memcmp(evs[i].ev.prev, want_prev ? want_prev : zero, 32) != 0 ||
            strcmp(evs[i].ev.license_id, id) != 0) {
            free(evs);
            return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                               "license %s: event %zu does not chain to its predecessor",
                               id, i);
        }
        uint8_t leaf[32];
        if (evs[i].log_index >= log_size ||
            ledger_mlog_get(L, 0, evs[i].log_index, leaf, err) != 0 ||
            memcmp(leaf, evs[i].hash, 32) != 0) {
            free(evs);
            return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                               "license %s: event %zu is not at its place in the event log",
                               id, i);
        }
    }
    int head_ok = memcmp(evs[n - 1].hash, head, 32) == 0;
    free(evs);
    if (!head_ok)
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "license %s: head is not the hash of its last event", id);
    *events += n;
    return 0;
}

static int check_blocks(ledger *L, uint64_t height, uint64_t *n_txs, ledger_err *err)
{
    ledger_store *st = ledger_store_of(L);
    *n_txs = 0;
    uint8_t prev[32];
    memcpy(prev, ledger_genesis_of(L)->hash, 32);
    for (uint64_t h = 1; h <= height; h++) {
        ledger_header hdr;
        uint8_t(*ids)[32] = NULL;
        size_t n = 0;
        int r = ledger_get_block(L, h, &hdr, NULL, NULL, &ids, &n, err);
        if (r <= 0)
            return r < 0 ? -1
                         : ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                                       "block %llu is missing", (unsigned long long)h);
        int bad = hdr.height != h || memcmp(hdr.prev_hash, prev, 32) != 0;
        for (size_t i = 0; i < n && !bad; i++) {
            uint64_t th;
            uint32_t ti;
            r = ledger_get_tx(L, ids[i], NULL, NULL, &th, &ti, err);
            if (r < 0) {
                free(ids);
                return -1;
            }
            bad = r == 0 || th != h || ti != i;
        }
        free(ids);
        if (bad)
            return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                               "block %llu does not link to its predecessor or its "
                               "transactions are not stored", (unsigned long long)h);
        ledger_header_hash(&hdr, prev);
        *n_txs += n;
    }
    uint8_t key[8], *v;
    size_t vl;
    ledger_be64(key, height + 1);
    int r = ledger_store_get(st, CF_BLOCKS, key, 8, &v, &vl, err);
    if (r < 0)
        return -1;
    if (r > 0) {
        free(v);
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "a block exists beyond the recorded height %llu",
                           (unsigned long long)height);
    }
    return 0;
}

/* The leaves state_root must hold: (SHA-256(id), SHA-256(record)) of every
 * record, in key order. */
typedef struct {
    uint8_t key[32];
    uint8_t value[32];
} state_leaf;

typedef struct {
    state_leaf *v;
    size_t n, cap;
    size_t seen;     /* leaves of the tree matched so far */
} state_set;

static int cmp_state_leaf(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static int state_set_add(state_set *s, const char *id, const uint8_t *rec, size_t len,
                         ledger_err *err)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        state_leaf *nv = realloc(s->v, nc * sizeof *nv);
        if (nv == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        s->v = nv;
        s->cap = nc;
    }
    ledger_sha256(id, strlen(id), s->v[s->n].key);
    ledger_sha256(rec, len, s->v[s->n].value);
    s->n++;
    return 0;
}

static int state_leaf_seen(void *ctx, const uint8_t key[32], const uint8_t value[32],
                           ledger_err *err)
{
    state_set *s = ctx;
    if (s->seen >= s->n || memcmp(s->v[s->seen].key, key, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "the state tree holds a leaf for which no license record exists "
                           "(or misses license %zu in key order)", s->seen);
    if (memcmp(s->v[s->seen].value, value, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "the state tree holds another value than the license record "
                           "(license %zu in key order)", s->seen);
    s->seen++;
    return 0;
}

/* The tree under root holds exactly the records collected in s. */
static int check_state_tree(ledger *L, const uint8_t root[32], state_set *s, ledger_err *err)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cmp_state_leaf);
    smt_store st = {.get = ledger_smt_get, .ctx = L};
    if (ledger_smt_walk(root, &st, state_leaf_seen, s, err) != 0) {
        ledger_err_prefix(err, "state_root");
        return -1;
    }
    if (s->seen != s->n)
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "state_root: the state tree holds %zu licenses; %zu are stored",
                           s->seen, s->n);
    return 0;
}

int ledger_check_integrity(ledger *L, ledger_err *err)
{
    ledger_store *st = ledger_store_of(L);
    ledger_tip tip;
    ledger_get_tip(L, &tip);
    uint64_t log_size = tip.height ? tip.header.log_size : 0;

    uint64_t n_txs = 0;
    if (check_blocks(L, tip.height, &n_txs, err) != 0)
        return -1;
    uint64_t stored_txs = 0;
    if (count_cf(st, CF_TXS, &stored_txs, err) != 0)
        return -1;
    if (stored_txs != n_txs)
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "%llu transactions stored, blocks list %llu",
                           (unsigned long long)stored_txs, (unsigned long long)n_txs);

    uint64_t expected[CF_COUNT] = {0};
    uint64_t events = 0;
    state_set leaves;
    memset(&leaves, 0, sizeof leaves);
    ledger_iter *it = ledger_iter_new(st, CF_LICENSES);
    if (it == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    int rc = 0;
    for (ledger_iter_seek_first(it); rc == 0 && ledger_iter_valid(it); ledger_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = ledger_iter_key(it, &kl);
        const uint8_t *v = ledger_iter_value(it, &vl);
        char kid[LEDGER_MAX_LICENSE_ID + 1];
        if (kl <= LEDGER_MAX_LICENSE_ID) {
            memcpy(kid, k, kl);
            kid[kl] = '\0';
        } else {
            kid[0] = '\0';
        }
        if (ledger_uscc_is_record_id(kid)) {
            /* a USCC record (instant.h): decodes, names its own USCC, no events */
            ledger_uscc_record *u = malloc(sizeof *u);
            char want[32] = "";
            if (u == NULL)
                rc = ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            else if (ledger_uscc_record_decode(u, v, vl, err) != 0)
                rc = -1;
            else if (ledger_uscc_record_id(u->uscc, want, sizeof want), strcmp(want, kid) != 0)
                rc = ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                                 "USCC record %s names another USCC", kid);
            /* every revocation it lists is a revoked license of that USCC */
            for (size_t ri = 0; rc == 0 && u != NULL && ri < u->n; ri++) {
                ledger_license rl;
                int g = ledger_get_license(L, u->v[ri].license_id, &rl, err);
                if (g < 0) {
                    rc = -1;
                    break;
                }
                int fits = g == 1 && rl.status == LIC_REVOKED && strcmp(rl.uscc, u->uscc) == 0;
                if (g == 1)
                    ledger_license_clear(&rl);
                if (!fits)
                    rc = ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                                     "USCC record %s lists %s, which is no revoked license of "
                                     "that USCC", kid, u->v[ri].license_id);
            }
            free(u);
            if (rc == 0)
                rc = state_set_add(&leaves, kid, v, vl, err);
            continue;
        }
        if (ledger_gov_is_record_id(kid)) {
            /* the governance record (gov.h): decodes, chains its events */
            ledger_gov *gv = NULL;
            char want[LEDGER_MAX_LICENSE_ID + 1];
            ledger_gov_record_id(ledger_genesis_of(L), want, sizeof want);
            if (strcmp(kid, want) != 0)
                rc = ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                                 "a governance record of another region (%s)", kid);
            else if (ledger_gov_decode(ledger_genesis_of(L), v, vl, &gv, err) != 0)
                rc = -1;
            else
                rc = check_events(L, kid, gv->seq, gv->head, log_size, &events, err);
            ledger_gov_release(gv);
            if (rc == 0)
                rc = state_set_add(&leaves, kid, v, vl, err);
            continue;
        }
        ledger_license l;
        if (ledger_license_decode(&l, v, vl, err) != 0) {
            rc = -1;
            break;
        }
        if (strlen(l.id) != kl || memcmp(l.id, k, kl) != 0)
            rc = ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                             "license record stored under another id (%s)", l.id);
        else
            rc = check_license(L, &l, log_size, expected, &events, err);
        if (rc == 0)
            rc = state_set_add(&leaves, l.id, v, vl, err);
        ledger_license_clear(&l);
    }
    if (rc == 0 && ledger_iter_status(it, err) != 0)
        rc = -1;
    ledger_iter_free(it);
    if (rc == 0)
        rc = check_state_tree(L, tip.height ? tip.header.state_root : LEDGER_SMT_EMPTY, &leaves, err);
    free(leaves.v);
    if (rc != 0)
        return -1;

    static const ledger_cf idx[] = {CF_BY_USCC,   CF_BY_NAME,   CF_BY_ADDRESS,
                                    CF_BY_INDUSTRY, CF_BY_STATUS, CF_BY_EXPIRY,
                                    CF_BY_PENDING, CF_BY_OVERDUE};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        uint64_t n = 0;
        if (count_cf(st, idx[i], &n, err) != 0)
            return -1;
        if (n != expected[idx[i]])
            return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                               "index %s holds %llu entries; the records call for %llu",
                               ledger_cf_name(idx[i]), (unsigned long long)n,
                               (unsigned long long)expected[idx[i]]);
    }
    uint64_t stored_events = 0;
    if (count_cf(st, CF_EVENTS, &stored_events, err) != 0)
        return -1;
    if (events != log_size || stored_events != log_size)
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "event log size %llu, %llu events stored, %llu reachable",
                           (unsigned long long)log_size, (unsigned long long)stored_events,
                           (unsigned long long)events);
    uint8_t root[32];
    if (ledger_merkle_root_at(log_size, ledger_mlog_get, L, root, err) != 0)
        return -1;
    uint8_t empty[32];
    ledger_merkle_empty_root(empty);
    if (memcmp(root, tip.height ? tip.header.log_root : empty, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, "integrity",
                           "event log root differs from the tip header");
    return 0;
}
