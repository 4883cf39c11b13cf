/* Crash safety: a child process commits blocks in a loop and is killed with
 * SIGKILL at random moments.  After every kill the reopened store must be at
 * a whole block, at or beyond every block the child acknowledged; its indexes
 * must agree with its records; and replaying its blocks from genesis on a
 * second ledger must reproduce every header. */
#include "testutil.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/query.h"
#include "ledger/tx.h"
#include "ledgertest.h"

#define KILLS 60

/* Build and commit one block of applications, approvals and address filings
 * against the current state.  Returns the committed height, 0 on failure. */
static uint64_t commit_one_block(lt_env *env, unsigned *rng)
{
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ledger_tip tip;
    ledger_get_tip(env->L, &tip);
    env->now = tip.time;
    ctx.time = tip.time + 1000;
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x;
    ledger_err err;
    if (ledger_exec_begin(env->L, &ctx, &x, &err) != 0)
        return 0;
    size_t len;
    uint8_t *tx;
    /* new applications */
    int napply = 1 + (int)(rand_r(rng) % 12);
    for (int i = 0; i < napply; i++) {
        char u[19];
        lt_uscc(rand_r(rng), u);
        tx = lt_apply(env, u, rand_r(rng) % 3 == 0 ? "bakery" : "convenience-store",
                      rand_r(rng) % 5 == 0, &len);
        if (ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, NULL, &err) != 0 &&
            err.code == LEDGER_ERR_IO) {
            free(tx);
            goto fail;
        }
        free(tx);
    }
    /* decisions for what awaits market and tobacco (pending or unverified) */
    static const int depts[] = {LT_MARKET, LT_TOBACCO};
    for (size_t d = 0; d < 2; d++) {
        ledger_query q = {.kind = LEDGER_Q_PENDING,
                          .department = depts[d] == LT_MARKET ? "market" : "tobacco",
                          .now = tip.time,
                          .limit = 8};
        ledger_query_result res;
        if (ledger_query_run(env->L, &q, &res, &err) != 0)
            goto fail;
        for (size_t i = 0; i < res.n; i++) {
            int kind = res.items[i].status == LIC_PENDING
                           ? (rand_r(rng) % 10 == 0 ? PERMIT__TX_KIND__REJECT
                                                    : PERMIT__TX_KIND__APPROVE)
                           : PERMIT__TX_KIND__VERIFY;
            tx = lt_decision(env, lt_dept(env, depts[d]), kind, res.items[i].id, NULL, 0,
                             "现场核查不合格", &len);
            int r = ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, NULL, &err);
            free(tx);
            if (r != 0 && err.code == LEDGER_ERR_IO)
                goto fail;
        }
        ledger_query_result_free(&res);
    }
    /* an extra address on an issued license */
    ledger_query q = {.kind = LEDGER_Q_SEARCH, .status = LIC_ISSUED, .now = tip.time, .limit = 2};
    ledger_query_result res;
    if (ledger_query_run(env->L, &q, &res, &err) != 0)
        goto fail;
    for (size_t i = 0; i < res.n; i++) {
        char text[64];
        snprintf(text, sizeof text, "新北区分店%u号", rand_r(rng) % 100000);
        tx = lt_add_address(env, &env->registrar, res.items[i].id, "320411", text, &len);
        int r = ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, NULL, &err);
        free(tx);
        if (r != 0 && err.code == LEDGER_ERR_IO) {
            ledger_query_result_free(&res);
            goto fail;
        }
    }
    ledger_query_result_free(&res);
    ledger_header h;
    if (ledger_exec_finish(x, &h, &err) != 0 || ledger_exec_commit(x, NULL, &err) != 0)
        goto fail;
    ledger_exec_free(x);
    return h.height;
fail:
    ledger_exec_free(x);
    return 0;
}

/* The child: reopen, commit blocks forever, report each committed height. */
static void child_main(lt_env *env, int fd, unsigned seed)
{
    lt_reopen(env);
    unsigned rng = seed;
    for (;;) {
        uint64_t h = commit_one_block(env, &rng);
        if (h == 0)
            _exit(3);
        if (write(fd, &h, sizeof h) != sizeof h)
            _exit(4);
    }
}

/* Apply blocks replica.height+1 .. upto from the source ledger. */
static void replay(ledger *src, ledger *dst, uint64_t upto)
{
    ledger_err err;
    for (uint64_t hgt = ledger_height(dst) + 1; hgt <= upto; hgt++) {
        ledger_header h;
        uint8_t *hb;
        size_t hl, n;
        uint8_t(*ids)[32];
        assert_int_equal(ledger_get_block(src, hgt, &h, &hb, &hl, &ids, &n, &err), 1);
        uint8_t **txs = calloc(n + 1, sizeof *txs);
        size_t *lens = calloc(n + 1, sizeof *lens);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(ledger_get_tx(src, ids[i], &txs[i], &lens[i], NULL, NULL, &err), 1);
        if (ledger_apply_block(dst, hb, hl, (const uint8_t *const *)txs, lens, n, NULL, NULL, 0,
                               &err) != 0)
            fail_msg("replaying block %llu: %s", (unsigned long long)hgt, err.msg);
        ledger_tip a, b;
        ledger_get_tip(dst, &a);
        uint8_t want[32];
        ledger_header_hash(&h, want);
        assert_memory_equal(a.hash, want, 32);
        (void)b;
        for (size_t i = 0; i < n; i++)
            free(txs[i]);
        free(txs);
        free(lens);
        free(ids);
        free(hb);
    }
}

static void test_sigkill_at_random_moments(void **state)
{
    (void)state;
    lt_env env;
    lt_setup(&env, NULL);
    char *rdir = tu_tmpdir("replica");
    char rdb[512];
    snprintf(rdb, sizeof rdb, "%s/db", rdir);
    ledger *replica;
    ledger_err err;
    assert_int_equal(ledger_open(&replica, rdb, env.g, &err), 0);

    unsigned seed = (unsigned)time(NULL);
    const char *s = getenv("PERMIT_TEST_SEED");
    if (s)
        seed = (unsigned)strtoul(s, NULL, 10);
    printf("crash test seed %u (PERMIT_TEST_SEED=%u replays it)\n", seed, seed);
    unsigned rng = seed;
    uint64_t acked_total = 0;
    int killed_mid_run = 0;
    int stuck = 0;
    for (int k = 0; k < KILLS; k++) {
        /* the child owns the database while it runs; the replica is closed
         * too, so that no RocksDB thread of ours is in the middle of
         * something when we fork (a child that inherits a held lock hangs) */
        ledger_close(env.L);
        env.L = NULL;
        ledger_close(replica);
        replica = NULL;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(&env, fds[1], seed + (unsigned)k);
        }
        close(fds[1]);
        /* wait for at least one block (20 s at most: a child that makes
         * none is killed all the same, and counted), then a random moment */
        uint64_t acked = 0, h;
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        if (poll(&pf, 1, 20000) <= 0) {
            stuck++;
            printf("kill %d: the child made no block within 20 s: killed\n", k);
        } else if (read(fds[0], &h, sizeof h) == sizeof h) {
            acked = h;
        }
        struct timespec ts = {0, (long)(rand_r(&rng) % 40000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        while (read(fds[0], &h, sizeof h) == sizeof h)
            acked = h;
        close(fds[0]);
        int wst;
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        if (!(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL))
            fail_msg("child ended on its own (status %d) before the kill", wst);
        killed_mid_run++;

        lt_reopen(&env);
        uint64_t height = ledger_height(env.L);
        if (height < acked)
            fail_msg("kill %d: block %llu was acknowledged but the store is at %llu", k,
                     (unsigned long long)acked, (unsigned long long)height);
        if (ledger_check_integrity(env.L, &err) != 0)
            fail_msg("kill %d at height %llu: %s", k, (unsigned long long)height, err.msg);
        assert_int_equal(ledger_open(&replica, rdb, env.g, &err), 0);
        replay(env.L, replica, height);
        acked_total = height;
    }
    if (stuck > KILLS / 10)
        fail_msg("%d of %d children made no block within 20 s", stuck, KILLS);
    printf("%d kills, %llu blocks committed\n", killed_mid_run, (unsigned long long)acked_total);
    assert_true(killed_mid_run >= 50);
    assert_true(acked_total >= (uint64_t)KILLS);

    /* and once more from scratch: a fresh replica replays the whole chain */
    ledger_close(replica);
    tu_rmrf(rdir);
    free(rdir);
    rdir = tu_tmpdir("replica2");
    snprintf(rdb, sizeof rdb, "%s/db", rdir);
    assert_int_equal(ledger_open(&replica, rdb, env.g, &err), 0);
    replay(env.L, replica, ledger_height(env.L));
    assert_int_equal(ledger_check_integrity(replica, &err), 0);
    ledger_close(replica);
    tu_rmrf(rdir);
    free(rdir);
    lt_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_at_random_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
