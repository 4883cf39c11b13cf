/* Durability: clients submit transactions with wait "commit" while the node
 * is killed with SIGKILL mid-load, 20 times.  After every restart each
 * acknowledged transaction is present at the height it was acknowledged
 * with, blocks seen before are unchanged, and at the end the database
 * passes the integrity check. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/hex.h"
#include "ledger/tx.h"
#include "nodetest.h"

#define ROUNDS 20
#define CLIENTS 4
#define PER_CLIENT 150

typedef struct {
    uint8_t id[32];
    uint64_t height;
} acked;

typedef struct {
    int port;
    uint8_t **tx;
    size_t *len;
    size_t n;
    acked *acks;
    size_t n_acks;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        json_t *r = nt_submit(c->port, c->tx[i], c->len[i], "commit");
        if (r == NULL)
            break; /* the node is gone */
        json_t *res = json_object_get(r, "result");
        if (res) {
            acked *a = &c->acks[c->n_acks++];
            if (ledger_hex_decode_exact(json_string_value(json_object_get(res, "tx_id")), a->id,
                                        32) != 0)
                c->n_acks--;
            a->height = (uint64_t)json_integer_value(json_object_get(res, "height"));
        }
        json_decref(r);
    }
    return NULL;
}

static void test_acknowledged_transactions_survive_sigkill(void **state)
{
    (void)state;
    nt_node nd;
    nt_init(&nd, NULL);
    nt_start(&nd, NULL);
    unsigned seed = (unsigned)time(NULL);
    printf("durability seed %u\n", seed);
    acked *all = NULL;
    size_t n_all = 0;
    uint32_t serial = 1;
    uint8_t seen_hash[32];
    uint64_t seen_height = 0;
    for (int round = 0; round < ROUNDS; round++) {
        client cl[CLIENTS];
        pthread_t th[CLIENTS];
        for (int c = 0; c < CLIENTS; c++) {
            cl[c].port = nd.port;
            cl[c].n = PER_CLIENT;
            cl[c].tx = calloc(PER_CLIENT, sizeof *cl[c].tx);
            cl[c].len = calloc(PER_CLIENT, sizeof *cl[c].len);
            cl[c].acks = calloc(PER_CLIENT, sizeof *cl[c].acks);
            cl[c].n_acks = 0;
            nd.env.now = nt_now_ms() - 1000;
            for (size_t i = 0; i < PER_CLIENT; i++) {
                char u[19];
                lt_uscc(serial++, u);
                cl[c].tx[i] = lt_apply(&nd.env, u, i % 2 ? "hotel" : "convenience-store", 0,
                                       &cl[c].len[i]);
            }
        }
        for (int c = 0; c < CLIENTS; c++)
            pthread_create(&th[c], NULL, client_main, &cl[c]);
        struct timespec ts = {0, (long)(150 + rand_r(&seed) % 500) * 1000000L};
        nanosleep(&ts, NULL);
        nt_signal_wait(&nd, SIGKILL);
        size_t round_acks = 0;
        for (int c = 0; c < CLIENTS; c++) {
            pthread_join(th[c], NULL);
            all = realloc(all, (n_all + cl[c].n_acks) * sizeof *all);
            memcpy(all + n_all, cl[c].acks, cl[c].n_acks * sizeof *all);
            n_all += cl[c].n_acks;
            round_acks += cl[c].n_acks;
            for (size_t i = 0; i < PER_CLIENT; i++)
                free(cl[c].tx[i]);
            free(cl[c].tx);
            free(cl[c].len);
            free(cl[c].acks);
        }
        nt_start(&nd, NULL);
        /* every acknowledged transaction, at its height */
        for (size_t i = 0; i < n_all; i++) {
            char hex[65];
            ledger_hex_encode(all[i].id, 32, hex);
            json_t *p = json_pack("{s:s}", "tx_id", hex);
            json_t *r = nt_rpc(nd.port, "tx.get", p);
            json_decref(p);
            json_t *res = json_object_get(r, "result");
            if (res == NULL)
                fail_msg("round %d: acknowledged transaction %s is missing", round, hex);
            assert_int_equal((uint64_t)json_integer_value(json_object_get(res, "height")),
                             all[i].height);
            json_decref(r);
        }
        /* the block seen last round is still the same */
        if (seen_height > 0) {
            json_t *p = json_pack("{s:I}", "height", (json_int_t)seen_height);
            json_t *r = nt_rpc(nd.port, "block.get", p);
            json_decref(p);
            uint8_t h[32];
            assert_int_equal(ledger_hex_decode_exact(
                                 json_string_value(json_object_get(json_object_get(r, "result"),
                                                                   "hash")),
                                 h, 32),
                             0);
            assert_memory_equal(h, seen_hash, 32);
            json_decref(r);
        }
        json_t *r = nt_rpc(nd.port, "block.get", NULL);
        json_t *res = json_object_get(r, "result");
        if (res) {
            seen_height = (uint64_t)json_integer_value(json_object_get(res, "height"));
            assert_int_equal(ledger_hex_decode_exact(json_string_value(json_object_get(res, "hash")),
                                                     seen_hash, 32),
                             0);
        }
        json_decref(r);
        printf("round %d: %zu acknowledged before the kill, %zu in all, height %llu\n", round,
               round_acks, n_all, (unsigned long long)seen_height);
    }
    assert_true(n_all > 0);
    nt_signal_wait(&nd, SIGTERM);
    /* the database itself: whole blocks, indexes agree with records */
    char db[600];
    nt_path(&nd, "data/db", db, sizeof db);
    ledger *L;
    ledger_err err;
    assert_int_equal(ledger_open(&L, db, nd.env.g, &err), 0);
    if (ledger_check_integrity(L, &err) != 0)
        fail_msg("integrity: %s", err.msg);
    ledger_close(L);
    free(all);
    nt_cleanup(&nd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acknowledged_transactions_survive_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
