/* The SIGKILL soak (`make soak`, not part of `make check`): four permitd
 * validators on loopback under client load; one validator after another (in
 * turn) is killed with SIGKILL at a random moment, left down for a random
 * while, and restarted, SOAK_KILLS times (1,000 by default).  Every
 * SOAK_CHECK_EVERY kills, and at the end: the chain went on, every node has
 * the same block at every new height, and every transaction acknowledged
 * (wait "commit") since the last check is in the block of its height on
 * every node.  At the end: the whole chain compared node by node, every
 * acknowledged transaction on every node, a sample of them through tx.get,
 * clean shutdowns and each database's integrity check.
 *
 * Environment: SOAK_KILLS (1000), SOAK_CHECK_EVERY (50), SOAK_CLIENTS (8),
 * SOAK_SEED (the time), SOAK_MAX_SECONDS (0 = no limit: stop killing after
 * this long and say so).  Prints one line per check and a RESULT line. */
#include "testutil.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clusterload.h"
#include "ledger/hex.h"
#include "ledger/ledger.h"
#include "nodetest.h"

#define N 4

static nt_cluster g_c;
static _Atomic int g_up[N];
static cl_load *g_load;
static int g_passed;

static unsigned long env_ul(const char *name, unsigned long def)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0')
        fail_msg("%s=%s is not a number", name, s);
    return v;
}

/* Wait until every node is at height h or above. */
static void wait_all_reach(uint64_t h, long timeout_ms, const char *what)
{
    uint64_t until = nt_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t lo, hi;
        cl_heights(&g_c, g_up, &lo, &hi);
        if (lo >= h)
            return;
        if (nt_now_ms() > until)
            fail_msg("%s: nodes at %llu..%llu, not all reached %llu", what,
                     (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)h);
        nt_sleep_ms(100);
    }
}

static void check_integrity(unsigned i)
{
    char db[600];
    snprintf(db, sizeof db, "%s/data/db", g_c.home[i]);
    ledger *L;
    ledger_err err;
    if (ledger_open(&L, db, g_c.env.g, &err) != 0)
        fail_msg("node %u: open: %s", i, err.msg);
    if (ledger_check_integrity(L, &err) != 0)
        fail_msg("node %u: integrity: %s", i, err.msg);
    ledger_close(L);
}

static void test_sigkill_soak(void **state)
{
    (void)state;
    unsigned long kills = env_ul("SOAK_KILLS", 1000);
    unsigned long every = env_ul("SOAK_CHECK_EVERY", 50);
    unsigned long clients = env_ul("SOAK_CLIENTS", 8);
    unsigned long max_s = env_ul("SOAK_MAX_SECONDS", 0);
    unsigned seed0 = (unsigned)env_ul("SOAK_SEED", (unsigned long)time(NULL)), seed = seed0;
    if (every == 0)
        every = 1;
    printf("soak: %lu SIGKILLs of a validator (in turn) among %d, %lu clients, seed %u%s\n",
           kills, N, clients, seed0, max_s ? " (time-limited)" : "");
    fflush(stdout);

    nt_cluster_init(&g_c, N, NULL);
    for (unsigned i = 0; i < N; i++) {
        nt_cluster_start(&g_c, i);
        atomic_store(&g_up[i], 1);
    }
    uint64_t t_start = nt_now_ms();
    cl_load *l = g_load = cl_start(&g_c, g_up, (unsigned)clients, 10000);
    wait_all_reach(3, 30000, "start");

    uint64_t checked_h = 0, restart_max = 0, restart_sum = 0, down_sum = 0;
    size_t checked_acks = 0;
    uint64_t last_hi = cl_max_height(&g_c, g_up), window_t = nt_now_ms();
    unsigned long done = 0;
    for (unsigned long k = 0; k < kills; k++) {
        if (max_s && nt_now_ms() - t_start > max_s * 1000u) {
            printf("soak: SOAK_MAX_SECONDS=%lu reached after %lu kills\n", max_s, done);
            break;
        }
        unsigned v = (unsigned)(k % N);
        nt_sleep_ms(100 + (long)(rand_r(&seed) % 600)); /* under load */
        atomic_store(&g_up[v], 0);
        int wst = nt_cluster_signal(&g_c, v, SIGKILL);
        if (!WIFSIGNALED(wst) || WTERMSIG(wst) != SIGKILL)
            fail_msg("kill %lu: node %u had exited before the kill (status %d)", k + 1, v, wst);
        long down = (long)(rand_r(&seed) % 500);
        nt_sleep_ms(down);
        down_sum += (uint64_t)down;
        uint64_t t0 = nt_now_ms();
        nt_cluster_start(&g_c, v); /* returns once /health answers 200: not syncing */
        uint64_t took = nt_now_ms() - t0;
        restart_sum += took;
        restart_max = took > restart_max ? took : restart_max;
        atomic_store(&g_up[v], 1);
        done = k + 1;

        if (done % every == 0 || done == kills) {
            /* the chain went on since the last check */
            uint64_t hi = cl_max_height(&g_c, g_up);
            if (hi <= last_hi)
                fail_msg("after kill %lu: no block since the last check (height %llu)", done,
                         (unsigned long long)hi);
            size_t n = cl_acks(l);
            uint64_t need = cl_ack_max_height(l, checked_acks, n);
            wait_all_reach(need > hi ? need : hi, 60000, "check");
            uint64_t blocks = cl_verify(l, checked_h + 1, hi, checked_acks, n);
            uint64_t now = nt_now_ms();
            printf("kill %lu: height %llu (+%llu in %.1f s), %zu acknowledged (+%zu), %llu "
                   "blocks compared on %d nodes, restart to healthy max %llu ms, %.0f s elapsed\n",
                   done, (unsigned long long)hi, (unsigned long long)(hi - last_hi),
                   (double)(now - window_t) / 1000.0, n, n - checked_acks,
                   (unsigned long long)blocks, N, (unsigned long long)restart_max,
                   (double)(now - t_start) / 1000.0);
            fflush(stdout);
            checked_h = hi;
            checked_acks = n;
            last_hi = hi;
            window_t = now;
        }
    }
    cl_stop(l);
    uint64_t t_kills = nt_now_ms() - t_start;
    uint64_t final_h = cl_wait_same_height(&g_c, g_up, 60000);
    size_t n = cl_acks(l);
    printf("soak: load stopped at height %llu; comparing the whole chain on every node\n",
           (unsigned long long)final_h);
    fflush(stdout);
    cl_verify(l, 1, final_h, 0, n);
    /* the transaction index too, for a sample */
    size_t step = n > 2000 ? n / 2000 : 1;
    for (size_t k = 0; k < n; k += step)
        cl_check_acks(l, k, k + 1);
    cl_latency_print(l, "soak commit latency (all)", 0, UINT64_MAX);
    cl_failures_print(l, "soak");
    for (unsigned i = 0; i < N; i++) {
        atomic_store(&g_up[i], 0);
        nt_cluster_stop_clean(&g_c, i);
        check_integrity(i);
    }
    uint64_t wall = nt_now_ms() - t_start;
    printf("RESULT soak kills=%lu/%lu acked=%zu lost=0 diverged=0 height=%llu "
           "failed_submissions=%llu mean_down_ms=%llu mean_restart_ms=%llu max_restart_ms=%llu "
           "kill_phase_s=%.0f wall_s=%.0f seed=%u\n",
           done, kills, n, (unsigned long long)final_h,
           (unsigned long long)cl_failures(l),
           (unsigned long long)(done ? down_sum / done : 0),
           (unsigned long long)(done ? restart_sum / done : 0), (unsigned long long)restart_max,
           (double)t_kills / 1000.0, (double)wall / 1000.0, seed0);
    g_passed = 1;
}

/* Also after a failure: no client threads or nodes left behind; the homes
 * and logs of a failed soak are kept (their paths printed). */
static int teardown(void **state)
{
    (void)state;
    /* the nodes first: a client waiting on one returns when it dies */
    for (unsigned i = 0; i < N; i++)
        if (g_c.pid[i] > 0)
            nt_cluster_signal(&g_c, i, SIGKILL);
    cl_free(g_load);
    g_load = NULL;
    if (!g_passed)
        setenv("PERMIT_TEST_KEEP", "1", 1);
    if (g_c.n)
        nt_cluster_cleanup(&g_c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sigkill_soak, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
