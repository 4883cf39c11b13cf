#include "clusterload.h"

#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hex.h"

#define MAX_CLIENTS 32

typedef struct {
    uint8_t id[32];
    uint64_t height;
    uint64_t sent_ms; /* wall clock at submission */
    uint32_t took_ms; /* until the acknowledgement */
} cl_ack;

struct cl_load {
    nt_cluster *c;
    _Atomic int *up;
    unsigned timeout_ms;
    unsigned clients;
    pthread_t th[MAX_CLIENTS];
    _Atomic int stop;
    pthread_mutex_t mu; /* the acks, and the test chain's builders (they share state) */
    cl_ack *acks;
    size_t n_acks, cap_acks;
    _Atomic uint64_t failures;
    _Atomic uint64_t fail_by[6]; /* no answer, 1005, 1003, 1002, 1001, other */
    struct client {
        cl_load *l;
        unsigned me;
    } arg[MAX_CLIENTS];
};

static void record(cl_load *l, json_t *res, uint64_t sent, uint64_t took)
{
    cl_ack a = {.height = (uint64_t)json_integer_value(json_object_get(res, "height")),
                .sent_ms = sent,
                .took_ms = (uint32_t)took};
    if (ledger_hex_decode_exact(json_string_value(json_object_get(res, "tx_id")), a.id, 32) != 0)
        fail_msg("an acknowledgement without a tx_id");
    pthread_mutex_lock(&l->mu);
    if (l->n_acks == l->cap_acks) {
        l->cap_acks = l->cap_acks ? 2 * l->cap_acks : 4096;
        l->acks = realloc(l->acks, l->cap_acks * sizeof *l->acks);
        assert_non_null(l->acks);
    }
    l->acks[l->n_acks++] = a;
    pthread_mutex_unlock(&l->mu);
}

/* Send to some node that is up, in turn; the response or NULL. */
static json_t *submit(cl_load *l, const uint8_t *tx, size_t len, unsigned *rr)
{
    char *hex = malloc(2 * len + 1);
    assert_non_null(hex);
    ledger_hex_encode(tx, len, hex);
    json_t *params = json_pack("{s:s, s:s, s:i}", "tx", hex, "wait", "commit", "timeout_ms",
                               (int)l->timeout_ms);
    free(hex);
    json_t *r = NULL;
    for (unsigned k = 0; k < l->c->n && r == NULL; k++) {
        unsigned i = (*rr)++ % l->c->n;
        if (atomic_load(&l->up[i]))
            r = nt_rpc(l->c->rpc_port[i], "tx.submit", params);
    }
    json_decref(params);
    return r;
}

/* Applications, then market's and tobacco's approvals of each. */
static void *client_main(void *arg)
{
    struct client *cl = arg;
    cl_load *l = cl->l;
    lt_env *env = &l->c->env;
    unsigned rr = cl->me;
    uint32_t serial = 1 + cl->me * 10000000u;
    char pending[64] = "";
    int stage = 0;
    while (!atomic_load(&l->stop)) {
        size_t len;
        uint8_t *tx;
        pthread_mutex_lock(&l->mu);
        env->now = nt_now_ms() - 1000;
        if (stage == 0 || pending[0] == '\0') {
            char u[19];
            lt_uscc(serial++, u);
            tx = lt_apply(env, u, "convenience-store", 0, &len);
        } else {
            tx = lt_decision(env, lt_dept(env, stage == 1 ? LT_MARKET : LT_TOBACCO), 2, pending,
                             NULL, 0, NULL, &len);
        }
        pthread_mutex_unlock(&l->mu);
        uint64_t t0 = nt_now_ms();
        json_t *r = submit(l, tx, len, &rr);
        uint64_t t1 = nt_now_ms();
        free(tx);
        json_t *res = json_object_get(r, "result");
        if (res == NULL) {
            int code = r ? nt_error_code(r) : 0;
            atomic_fetch_add(&l->failures, 1);
            atomic_fetch_add(&l->fail_by[r == NULL ? 0
                                         : code == 1005 ? 1
                                         : code == 1003 ? 2
                                         : code == 1002 ? 3
                                         : code == 1001 ? 4
                                                        : 5],
                             1);
        }
        if (r == NULL) {
            nt_sleep_ms(100); /* no node answered */
            continue;
        }
        if (res) {
            record(l, res, t0, t1 - t0);
            if (stage == 0) {
                const char *id = json_string_value(json_object_get(res, "license_id"));
                if (id)
                    snprintf(pending, sizeof pending, "%s", id);
            }
        }
        if (res || nt_error_code(r) == 1002 || nt_error_code(r) == 1003)
            stage = (stage + 1) % 3;
        json_decref(r);
    }
    return NULL;
}

cl_load *cl_start(nt_cluster *c, _Atomic int *up, unsigned clients, unsigned timeout_ms)
{
    assert_true(clients >= 1 && clients <= MAX_CLIENTS);
    cl_load *l = calloc(1, sizeof *l);
    assert_non_null(l);
    l->c = c;
    l->up = up;
    l->clients = clients;
    l->timeout_ms = timeout_ms;
    pthread_mutex_init(&l->mu, NULL);
    for (unsigned k = 0; k < clients; k++) {
        l->arg[k].l = l;
        l->arg[k].me = k;
        assert_int_equal(pthread_create(&l->th[k], NULL, client_main, &l->arg[k]), 0);
    }
    return l;
}

void cl_stop(cl_load *l)
{
    if (atomic_exchange(&l->stop, 1))
        return;
    for (unsigned k = 0; k < l->clients; k++)
        pthread_join(l->th[k], NULL);
}

void cl_free(cl_load *l)
{
    if (l == NULL)
        return;
    cl_stop(l);
    pthread_mutex_destroy(&l->mu);
    free(l->acks);
    free(l);
}

size_t cl_acks(cl_load *l)
{
    pthread_mutex_lock(&l->mu);
    size_t n = l->n_acks;
    pthread_mutex_unlock(&l->mu);
    return n;
}

uint64_t cl_failures(cl_load *l)
{
    return atomic_load(&l->failures);
}

void cl_failures_print(cl_load *l, const char *label)
{
    printf("%s: %llu submissions without an acknowledgement: %llu no node answered or the "
           "connection broke, %llu not committed within the timeout (1005), %llu duplicates "
           "(1003: a resubmission of one in a mempool), %llu refused by a ledger rule (1002: "
           "a decision on a license decided meanwhile), %llu not found (1001: a decision sent to "
           "a node that has not yet applied the application's block), %llu other\n",
           label, (unsigned long long)atomic_load(&l->failures),
           (unsigned long long)atomic_load(&l->fail_by[0]),
           (unsigned long long)atomic_load(&l->fail_by[1]),
           (unsigned long long)atomic_load(&l->fail_by[2]),
           (unsigned long long)atomic_load(&l->fail_by[3]),
           (unsigned long long)atomic_load(&l->fail_by[4]),
           (unsigned long long)atomic_load(&l->fail_by[5]));
    fflush(stdout);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

size_t cl_latency(cl_load *l, uint64_t from_ms, uint64_t to_ms, const unsigned *p, size_t np,
                  uint64_t *out)
{
    pthread_mutex_lock(&l->mu);
    uint32_t *v = malloc((l->n_acks + 1) * sizeof *v);
    assert_non_null(v);
    size_t n = 0;
    for (size_t k = 0; k < l->n_acks; k++)
        if (l->acks[k].sent_ms >= from_ms && l->acks[k].sent_ms < to_ms)
            v[n++] = l->acks[k].took_ms;
    pthread_mutex_unlock(&l->mu);
    if (n > 0) {
        qsort(v, n, sizeof *v, cmp_u32);
        for (size_t j = 0; j < np; j++) {
            size_t rank = (n * p[j] + 99) / 100; /* nearest rank */
            out[j] = v[rank == 0 ? 0 : rank - 1];
        }
    }
    free(v);
    return n;
}

void cl_latency_print(cl_load *l, const char *label, uint64_t from_ms, uint64_t to_ms)
{
    static const unsigned p[] = {50, 90, 99, 100};
    uint64_t v[4];
    size_t n = cl_latency(l, from_ms, to_ms, p, 4, v);
    if (n == 0)
        printf("%s: no commits\n", label);
    else
        printf("%s: %zu commits, p50 %llu ms, p90 %llu ms, p99 %llu ms, max %llu ms\n", label, n,
               (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
               (unsigned long long)v[3]);
    fflush(stdout);
}

void cl_check_acks(cl_load *l, size_t from, size_t to)
{
    for (size_t k = from; k < to; k++) {
        pthread_mutex_lock(&l->mu);
        cl_ack a = l->acks[k];
        pthread_mutex_unlock(&l->mu);
        char hex[65];
        ledger_hex_encode(a.id, 32, hex);
        json_t *p = json_pack("{s:s}", "tx_id", hex);
        for (unsigned i = 0; i < l->c->n; i++) {
            if (!atomic_load(&l->up[i]))
                continue;
            json_t *r = nt_rpc(l->c->rpc_port[i], "tx.get", p);
            json_t *res = json_object_get(r, "result");
            if (res == NULL)
                fail_msg("node %u lacks acknowledged transaction %s (acknowledged at height "
                         "%llu)",
                         i, hex, (unsigned long long)a.height);
            uint64_t h = (uint64_t)json_integer_value(json_object_get(res, "height"));
            if (h != a.height)
                fail_msg("node %u has transaction %s at height %llu, acknowledged at %llu", i,
                         hex, (unsigned long long)h, (unsigned long long)a.height);
            json_decref(r);
        }
        json_decref(p);
    }
}

void cl_heights(nt_cluster *c, _Atomic int *up, uint64_t *lo, uint64_t *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (unsigned i = 0; i < c->n; i++)
        if (atomic_load(&up[i])) {
            uint64_t h = nt_status_u64(c->rpc_port[i], "height");
            *lo = h < *lo ? h : *lo;
            *hi = h > *hi ? h : *hi;
        }
    if (*lo == UINT64_MAX)
        *lo = 0;
}

uint64_t cl_max_height(nt_cluster *c, _Atomic int *up)
{
    uint64_t lo, hi;
    cl_heights(c, up, &lo, &hi);
    return hi;
}

static int block_hash(int port, uint64_t height, uint8_t out[32])
{
    json_t *p = json_pack("{s:I}", "height", (json_int_t)height);
    json_t *r = nt_rpc(port, "block.get", p);
    json_decref(p);
    const char *h = json_string_value(json_object_get(json_object_get(r, "result"), "hash"));
    int ok = h && ledger_hex_decode_exact(h, out, 32) == 0;
    json_decref(r);
    return ok ? 0 : -1;
}

void cl_check_agreement(nt_cluster *c, _Atomic int *up, uint64_t from, uint64_t to)
{
    for (uint64_t h = from < 1 ? 1 : from; h <= to; h++) {
        uint8_t ref[32], other[32];
        int ref_node = -1;
        for (unsigned i = 0; i < c->n; i++) {
            if (!atomic_load(&up[i]))
                continue;
            uint8_t *dst = ref_node < 0 ? ref : other;
            if (block_hash(c->rpc_port[i], h, dst) != 0)
                fail_msg("node %u does not answer block.get %llu", i, (unsigned long long)h);
            if (ref_node < 0)
                ref_node = (int)i;
            else if (memcmp(ref, other, 32) != 0)
                fail_msg("nodes %d and %u disagree on block %llu", ref_node, i,
                         (unsigned long long)h);
        }
    }
}

uint64_t cl_wait_same_height(nt_cluster *c, _Atomic int *up, long timeout_ms)
{
    uint64_t until = nt_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t lo, hi;
        cl_heights(c, up, &lo, &hi);
        if (lo == hi)
            return lo;
        if (nt_now_ms() > until)
            fail_msg("nodes stay at different heights (%llu..%llu)", (unsigned long long)lo,
                     (unsigned long long)hi);
        nt_sleep_ms(200);
    }
}

uint64_t cl_ack_max_height(cl_load *l, size_t from, size_t to)
{
    uint64_t m = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t k = from; k < to && k < l->n_acks; k++)
        m = l->acks[k].height > m ? l->acks[k].height : m;
    pthread_mutex_unlock(&l->mu);
    return m;
}

static int cmp_ack_height(const void *a, const void *b)
{
    uint64_t x = ((const cl_ack *)a)->height, y = ((const cl_ack *)b)->height;
    return x < y ? -1 : x > y;
}

/* One node's block at height: its hash, and whether each of the acks (all
 * of that height) is among its transactions. */
static void verify_block(cl_load *l, unsigned i, uint64_t h, uint8_t hash[32], const cl_ack *acks,
                         size_t n)
{
    json_t *p = json_pack("{s:I}", "height", (json_int_t)h);
    json_t *r = nt_rpc(l->c->rpc_port[i], "block.get", p);
    json_decref(p);
    json_t *res = json_object_get(r, "result");
    const char *hx = json_string_value(json_object_get(res, "hash"));
    if (hx == NULL || ledger_hex_decode_exact(hx, hash, 32) != 0)
        fail_msg("node %u does not answer block.get %llu", i, (unsigned long long)h);
    json_t *ids = json_object_get(res, "tx_ids");
    for (size_t k = 0; k < n; k++) {
        char want[65];
        ledger_hex_encode(acks[k].id, 32, want);
        int found = 0;
        for (size_t j = 0; j < json_array_size(ids) && !found; j++) {
            const char *s = json_string_value(json_array_get(ids, j));
            found = s && strcmp(s, want) == 0;
        }
        if (!found)
            fail_msg("node %u: acknowledged transaction %s is not in block %llu", i, want,
                     (unsigned long long)h);
    }
    json_decref(r);
}

uint64_t cl_verify(cl_load *l, uint64_t h_from, uint64_t h_to, size_t ack_from, size_t ack_to)
{
    pthread_mutex_lock(&l->mu);
    if (ack_to > l->n_acks)
        ack_to = l->n_acks;
    size_t n = ack_from < ack_to ? ack_to - ack_from : 0;
    cl_ack *a = malloc((n + 1) * sizeof *a);
    assert_non_null(a);
    memcpy(a, l->acks + ack_from, n * sizeof *a);
    pthread_mutex_unlock(&l->mu);
    qsort(a, n, sizeof *a, cmp_ack_height);
    if (h_from < 1)
        h_from = 1;
    /* the heights to visit: [h_from, h_to] and those of the acks, merged */
    size_t k = 0;
    uint64_t blocks = 0, h = h_from;
    for (;;) {
        int in_range = h <= h_to;
        if (!in_range && k >= n)
            break;
        uint64_t at = in_range && (k >= n || h <= a[k].height) ? h : a[k].height;
        size_t e = k;
        while (e < n && a[e].height == at)
            e++;
        uint8_t ref[32], other[32];
        int ref_node = -1;
        for (unsigned i = 0; i < l->c->n; i++) {
            if (!atomic_load(&l->up[i]))
                continue;
            verify_block(l, i, at, ref_node < 0 ? ref : other, a + k, e - k);
            if (ref_node < 0)
                ref_node = (int)i;
            else if (memcmp(ref, other, 32) != 0)
                fail_msg("nodes %d and %u disagree on block %llu", ref_node, i,
                         (unsigned long long)at);
        }
        blocks++;
        k = e;
        if (at >= h)
            h = at + 1;
    }
    free(a);
    return blocks;
}
