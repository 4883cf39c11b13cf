/* Fault injection in the SQLite manner: store operation N fails (N = 1, 2,
 * ...) while a block is executed and committed.  Each time the block must be
 * refused with an I/O error and nothing half-written: the database's whole
 * content and the ledger's tip are exactly as before, and the integrity check
 * passes.  Once N exceeds the operations the block needs, it commits, and
 * its header equals the one an undisturbed copy produced. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "ledgertest.h"

/* SHA-256 over every key and value of every column family. */
static void db_digest(ledger *L, uint8_t out[32])
{
    ledger_store *st = ledger_store_of(L);
    ledger_sha256_ctx c;
    ledger_sha256_init(&c);
    for (int cf = 0; cf < CF_COUNT; cf++) {
        ledger_iter *it = ledger_iter_new(st, (ledger_cf)cf);
        assert_non_null(it);
        for (ledger_iter_seek_first(it); ledger_iter_valid(it); ledger_iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = ledger_iter_key(it, &kl);
            const uint8_t *v = ledger_iter_value(it, &vl);
            uint8_t lens[16];
            memcpy(lens, &kl, 8);
            memcpy(lens + 8, &vl, 8);
            ledger_sha256_update(&c, &cf, sizeof cf);
            ledger_sha256_update(&c, lens, 16);
            ledger_sha256_update(&c, k, kl);
            ledger_sha256_update(&c, v, vl);
        }
        ledger_err err;
        assert_int_equal(ledger_iter_status(it, &err), 0);
        ledger_iter_free(it);
    }
    ledger_sha256_final(&c, out);
}

typedef struct {
    uint8_t *tx[16];
    size_t len[16];
    size_t n;
} txset;

/* A history to build on: two issued licenses, one pending. */
static void history(lt_env *env, char ids[3][80])
{
    for (int i = 0; i < 3; i++) {
        char u[19];
        size_t len;
        ledger_err err;
        lt_uscc((uint32_t)(100 + i), u);
        uint8_t *tx = lt_apply(env, u, "convenience-store", 0, &len);
        assert_int_equal(lt_run_free(env, 0, tx, len, ids[i], &err), 0);
        if (i == 2)
            break;
        tx = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, ids[i], NULL, 0,
                         NULL, &len);
        assert_int_equal(lt_run_free(env, 0, tx, len, NULL, &err), 0);
        tx = lt_decision(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, ids[i], NULL,
                         0, NULL, &len);
        assert_int_equal(lt_run_free(env, 0, tx, len, NULL, &err), 0);
    }
}

/* The block under test: an application, approvals, an address, an amendment. */
static void block_txs(lt_env *env, char ids[3][80], txset *s)
{
    char u[19];
    lt_uscc(999, u);
    s->n = 0;
    s->tx[s->n] = lt_apply(env, u, "bakery", 1, &s->len[s->n]);
    s->n++;
    s->tx[s->n] = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, ids[2],
                              NULL, 0, NULL, &s->len[s->n]);
    s->n++;
    s->tx[s->n] = lt_add_address(env, &env->registrar, ids[0], "320411001", "新北区珠江路5号",
                                 &s->len[s->n]);
    s->n++;
    s->tx[s->n] = lt_amend(env, &env->registrar, ids[1], NULL, "赵六", NULL, &s->len[s->n]);
    s->n++;
    s->tx[s->n] = lt_decision(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, ids[2],
                              NULL, 0, NULL, &s->len[s->n]);
    s->n++;
}

/* Execute and commit the block; 0 on success, -1 with err on any failure. */
static int run_block(lt_env *env, const txset *s, uint64_t time, ledger_header *h,
                     ledger_err *err)
{
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = time;
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x;
    if (ledger_exec_begin(env->L, &ctx, &x, err) != 0)
        return -1;
    int rc = -1;
    for (size_t i = 0; i < s->n; i++)
        if (ledger_exec_tx(x, s->tx[i], s->len[i], LEDGER_SIG_CHECK, NULL, err) != 0)
            goto out;
    if (ledger_exec_finish(x, h, err) != 0 || ledger_exec_commit(x, NULL, err) != 0)
        goto out;
    rc = 0;
out:
    ledger_exec_free(x);
    return rc;
}

static void test_store_fault_n_refuses_block_cleanly(void **state)
{
    (void)state;
    lt_env env;
    lt_setup(&env, NULL);
    char ids[3][80];
    history(&env, ids);
    txset s;
    block_txs(&env, ids, &s);
    uint64_t t = env.now + LT_SEC;

    /* the undisturbed outcome, on a copy of the database */
    ledger_close(env.L);
    env.L = NULL;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -a %s/db %s/ref", env.dir, env.dir);
    assert_int_equal(system(cmd), 0);
    char refpath[600];
    snprintf(refpath, sizeof refpath, "%s/ref", env.dir);
    ledger *ref;
    ledger_err err;
    assert_int_equal(ledger_open(&ref, refpath, env.g, &err), 0);
    ledger *saved = env.L;
    env.L = ref;
    ledger_header want;
    assert_int_equal(run_block(&env, &s, t, &want, &err), 0);
    env.L = saved;
    ledger_close(ref);
    lt_reopen(&env);

    uint8_t before[32], after[32];
    db_digest(env.L, before);
    ledger_tip tip0;
    ledger_get_tip(env.L, &tip0);
    ledger_store *st = ledger_store_of(env.L);
    int faults = 0;
    for (uint64_t n = 1;; n++) {
        ledger_store_inject_fault(st, n);
        ledger_header h;
        int r = run_block(&env, &s, t, &h, &err);
        ledger_store_inject_fault(st, 0);
        if (r == 0) {
            assert_memory_equal(&h, &want, sizeof h);
            ledger_tip tip;
            ledger_get_tip(env.L, &tip);
            assert_int_equal(tip.height, tip0.height + 1);
            break;
        }
        faults++;
        if (err.code != LEDGER_ERR_IO)
            fail_msg("fault %llu: expected an I/O error, got %s: %s", (unsigned long long)n,
                     ledger_code_name(err.code), err.msg);
        db_digest(env.L, after);
        if (memcmp(before, after, 32) != 0)
            fail_msg("fault %llu left the database changed", (unsigned long long)n);
        ledger_tip tip;
        ledger_get_tip(env.L, &tip);
        assert_int_equal(tip.height, tip0.height);
        assert_memory_equal(tip.hash, tip0.hash, 32);
        assert_int_equal(ledger_check_integrity(env.L, &err), 0);
        assert_true(n < 10000);
    }
    printf("%d injected faults refused cleanly before the block committed\n", faults);
    assert_true(faults >= 10); /* reads of every touched record, and the write */
    assert_int_equal(ledger_check_integrity(env.L, &err), 0);

    for (size_t i = 0; i < s.n; i++)
        free(s.tx[i]);
    lt_teardown(&env);
}

static void test_apply_block_fault_n_refuses_cleanly(void **state)
{
    (void)state;
    lt_env env;
    lt_setup(&env, NULL);
    char ids[3][80];
    history(&env, ids);
    txset s;
    block_txs(&env, ids, &s);
    uint64_t t = env.now + LT_SEC;

    /* a second node with the same history receives the block */
    char *dir2 = tu_tmpdir("peer");
    char cmd[1200];
    ledger_close(env.L);
    env.L = NULL;
    snprintf(cmd, sizeof cmd, "cp -a %s/db %s/db", env.dir, dir2);
    assert_int_equal(system(cmd), 0);
    lt_reopen(&env);
    ledger_header h;
    ledger_err err;
    assert_int_equal(run_block(&env, &s, t, &h, &err), 0);
    uint8_t hb[LEDGER_MAX_HEADER_BYTES];
    size_t hl;
    assert_int_equal(ledger_header_encode(&h, hb, sizeof hb, &hl), 0);

    char p2[600];
    snprintf(p2, sizeof p2, "%s/db", dir2);
    ledger *peer;
    assert_int_equal(ledger_open(&peer, p2, env.g, &err), 0);
    uint8_t before[32], after[32];
    db_digest(peer, before);
    ledger_store *st = ledger_store_of(peer);
    int faults = 0;
    for (uint64_t n = 1;; n++) {
        ledger_store_inject_fault(st, n);
        int r = ledger_apply_block(peer, hb, hl, (const uint8_t *const *)s.tx, s.len, s.n, NULL, NULL, 0,
                                   &err);
        ledger_store_inject_fault(st, 0);
        if (r == 0)
            break;
        faults++;
        assert_int_equal(err.code, LEDGER_ERR_IO);
        db_digest(peer, after);
        assert_memory_equal(before, after, 32);
        assert_int_equal(ledger_height(peer), h.height - 1);
        assert_true(n < 10000);
    }
    assert_true(faults >= 10);
    ledger_tip tip, ptip;
    ledger_get_tip(env.L, &tip);
    ledger_get_tip(peer, &ptip);
    assert_memory_equal(tip.hash, ptip.hash, 32);
    assert_int_equal(ledger_check_integrity(peer, &err), 0);
    ledger_close(peer);
    tu_rmrf(dir2);
    free(dir2);
    for (size_t i = 0; i < s.n; i++)
        free(s.tx[i]);
    lt_teardown(&env);
}

static void test_reopen_after_failed_write_resumes_at_previous_block(void **state)
{
    (void)state;
    lt_env env;
    lt_setup(&env, NULL);
    char ids[3][80];
    history(&env, ids);
    txset s;
    block_txs(&env, ids, &s);
    ledger_tip tip0;
    ledger_get_tip(env.L, &tip0);
    /* make the very last operation, the batch write, fail */
    ledger_store *st = ledger_store_of(env.L);
    ledger_header h;
    ledger_err err;
    uint64_t ops = 0;
    ledger_store_inject_fault(st, 0);
    {
        /* count the operations of a successful run on a copy */
        char cmd[1200];
        ledger_close(env.L);
        env.L = NULL;
        snprintf(cmd, sizeof cmd, "cp -a %s/db %s/copy", env.dir, env.dir);
        assert_int_equal(system(cmd), 0);
        char p[600];
        snprintf(p, sizeof p, "%s/copy", env.dir);
        ledger *c;
        assert_int_equal(ledger_open(&c, p, env.g, &err), 0);
        ledger *saved = env.L;
        env.L = c;
        ledger_store_inject_fault(ledger_store_of(c), 0);
        assert_int_equal(run_block(&env, &s, env.now + LT_SEC, &h, &err), 0);
        ops = ledger_store_inject_fault(ledger_store_of(c), 0);
        ledger_close(c);
        env.L = saved;
        lt_reopen(&env);
        st = ledger_store_of(env.L);
    }
    ledger_store_inject_fault(st, ops);
    assert_int_equal(run_block(&env, &s, env.now + LT_SEC, &h, &err), -1);
    assert_non_null(strstr(err.msg, "write"));
    ledger_store_inject_fault(st, 0);
    lt_reopen(&env);
    ledger_tip tip;
    ledger_get_tip(env.L, &tip);
    assert_int_equal(tip.height, tip0.height);
    assert_memory_equal(tip.hash, tip0.hash, 32);
    assert_int_equal(ledger_check_integrity(env.L, &err), 0);
    for (size_t i = 0; i < s.n; i++)
        free(s.tx[i]);
    lt_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_fault_n_refuses_block_cleanly),
        cmocka_unit_test(test_apply_block_fault_n_refuses_cleanly),
        cmocka_unit_test(test_reopen_after_failed_write_resumes_at_previous_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
