/* The genesis ceremony (DESIGN §13): four departments make their keys in
 * their own folders, hand over public keys only; the genesis is assembled
 * with `permit genesis ...`, checked with `permit genesis hash`; each
 * department lays out its node with `permitd init` and the four validators
 * run the chain.  Also: what a step refuses, and an incomplete genesis. */
#include "testutil.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/hash.h"
#include "ledger/hex.h"
#include "nodetest.h"

#define N 4

static char *g_dir;

/* permit with the arguments (NULL-ended); fails the test unless it exits
 * `want`; returns its output (free it). */
static char *permit_must(int want, ...)
{
    const char *args[32];
    int k = 0;
    va_list ap;
    va_start(ap, want);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && k < 31)
        args[k++] = a;
    va_end(ap);
    args[k] = NULL;
    char *out = NULL;
    int rc = nt_permitv("http://127.0.0.1:1", &out, args);
    if (rc != want)
        fail_msg("permit %s %s exited %d, expected %d:\n%s", args[0], k > 1 ? args[1] : "", rc,
                 want, out ? out : "");
    return out;
}

/* The public key `permit keygen` printed (the first 64 hex digits). */
static void keygen(const char *path, char pub[65])
{
    char *out = permit_must(0, "keygen", "--out", path, NULL);
    const char *p = out;
    while (*p && strspn(p, "0123456789abcdef") < 64)
        p++;
    assert_true(strlen(p) >= 64);
    memcpy(pub, p, 64);
    pub[64] = '\0';
    free(out);
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_four_departments_make_a_chain_from_public_keys(void **state)
{
    (void)state;
    g_dir = tu_tmpdir("ceremony");
    static const char *const ids[N] = {"approval", "market", "tobacco", "fire"};
    static const char *const names[N] = {"行政审批局", "市场监督管理局", "烟草专卖局",
                                         "消防救援大队"};
    char seal[N][65], node[N][65], reg[65], path[700], genesis[700];
    int p2p = nt_free_port_range(2 * N), rpc[N];
    /* each department, on its own machine: a seal key and a node key */
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "%s/%s", g_dir, ids[i]);
        assert_int_equal(mkdir(path, 0700), 0);
        snprintf(path, sizeof path, "%s/%s/seal.key", g_dir, ids[i]);
        keygen(path, seal[i]);
        snprintf(path, sizeof path, "%s/%s/node.key", g_dir, ids[i]);
        keygen(path, node[i]);
        rpc[i] = nt_free_port();
    }
    snprintf(path, sizeof path, "%s/approval/registrar.key", g_dir);
    keygen(path, reg);
    /* the officer who assembles the genesis holds public keys only */
    snprintf(genesis, sizeof genesis, "%s/genesis.json", g_dir);
    free(permit_must(0, "genesis", "init", "--out", genesis, "--chain-id", "permitchain-ceremony",
                     "--region", "320411", "--region-name", "常州市新北区", "--block-interval",
                     "1s", "--heartbeat", "2s", NULL));
    free(permit_must(1, "genesis", "init", "--out", genesis, "--chain-id", "x", "--region",
                     "320411", "--region-name", "x", NULL)); /* never overwritten */
    for (int i = 0; i < N; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", p2p + 2 * i);
        free(permit_must(0, "genesis", "add-department", "--genesis", genesis, "--id", ids[i],
                         "--name", names[i], "--seal", seal[i], "--node", node[i], "--p2p", addr,
                         NULL));
    }
    /* what a step refuses: a key twice, an id twice, a key that is no point */
    free(permit_must(1, "genesis", "add-department", "--genesis", genesis, "--id", "tax",
                     "--name", "税务局", "--seal", seal[0], NULL));
    free(permit_must(1, "genesis", "add-department", "--genesis", genesis, "--id", "fire",
                     "--name", "x", "--seal", reg, NULL));
    free(permit_must(1, "genesis", "add-registrar", "--genesis", genesis, "--name", "窗口",
                     "--department", "approval", "--key",
                     "0000000000000000000000000000000000000000000000000000000000000000", NULL));
    /* incomplete: no industry yet */
    char *o = permit_must(1, "genesis", "hash", "--genesis", genesis, NULL);
    assert_non_null(strstr(o, "industries"));
    free(o);
    free(permit_must(0, "genesis", "add-registrar", "--genesis", genesis, "--name",
                     "政务服务中心1号窗口", "--department", "approval", "--key", reg, NULL));
    /* an observer (the public gateway): its key, once, and no other's */
    char obs[65], obs_path[700];
    snprintf(obs_path, sizeof obs_path, "%s/observer.key", g_dir);
    keygen(obs_path, obs);
    free(permit_must(1, "genesis", "add-observer", "--genesis", genesis, "--name", "公众查询节点",
                     "--node-key", node[1], NULL));
    free(permit_must(0, "genesis", "add-observer", "--genesis", genesis, "--name", "公众查询节点",
                     "--node-key", obs, NULL));
    free(permit_must(1, "genesis", "add-observer", "--genesis", genesis, "--name", "again",
                     "--node-key", obs, NULL));
    char ind[700];
    snprintf(ind, sizeof ind, "%s/industry.json", g_dir);
    FILE *f = fopen(ind, "w");
    assert_non_null(f);
    fputs("{\"code\": \"convenience-store\", \"name\": \"便利店\", \"validity\": \"5y\",\n"
          " \"commitment_allowed\": true, \"verify_within\": \"30d\",\n"
          " \"items\": [{\"permit\": \"食品经营许可\", \"department\": \"market\"},\n"
          "           {\"permit\": \"烟草专卖零售许可\", \"department\": \"tobacco\"}]}\n",
          f);
    fclose(f);
    free(permit_must(0, "genesis", "add-industry", "--genesis", genesis, "--industry", ind,
                     NULL));
    /* every department checks the same hash: SHA-256 of the file */
    o = permit_must(0, "genesis", "hash", "--genesis", genesis, NULL);
    size_t glen;
    char *gtext = tu_read_file(genesis, &glen);
    assert_non_null(gtext);
    uint8_t h[32];
    char hex[65];
    ledger_sha256(gtext, glen, h);
    ledger_hex_encode(h, 32, hex);
    free(gtext);
    if (strncmp(o, hex, 64) != 0)
        fail_msg("genesis hash printed %.64s, the file's SHA-256 is %s", o, hex);
    assert_non_null(strstr(o, "4 departments (4 validators)"));
    free(o);
    ledger_genesis *pg = NULL;
    ledger_err perr;
    assert_int_equal(ledger_genesis_load(genesis, &pg, &perr), 0);
    assert_int_equal(pg->n_observers, 1);
    assert_string_equal(pg->observers[0].name, "公众查询节点");
    ledger_genesis_free(pg);
    /* each department lays out its node with its own node key, and runs it */
    char homes[N][700];
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        snprintf(homes[i], sizeof homes[i], "%s/%s/home", g_dir, ids[i]);
        char cmd[4096];
        int cl = snprintf(cmd, sizeof cmd,
                 "%s/permitd init --home %s --genesis %s --node-key %s/%s/node.key >%s/%s/init.txt 2>&1",
                 PERMIT_BIN_DIR, homes[i], genesis, g_dir, ids[i], g_dir, ids[i]);
        assert_true(cl > 0 && (size_t)cl < sizeof cmd);
        assert_int_equal(run(cmd), 0);
        snprintf(path, sizeof path, "%s/%s/init.txt", g_dir, ids[i]);
        char *txt = tu_read_file(path, NULL);
        assert_non_null(txt);
        if (strstr(txt, "the validator of this department") == NULL)
            fail_msg("permitd init did not recognise the validator key:\n%s", txt);
        free(txt);
        assert_int_equal(run(cmd), 1); /* never made over another */
        char conf[800];
        int k = snprintf(conf, sizeof conf, "%s/config/permitd.conf", homes[i]);
        assert_true(k > 0 && (size_t)k < sizeof conf);
        f = fopen(conf, "a");
        assert_non_null(f);
        fprintf(f, "rpc_listen = 127.0.0.1:%d\n", rpc[i]);
        fclose(f);
    }
    for (int i = 0; i < N; i++)
        pids[i] = nt_start_home(homes[i], rpc[i]);
    /* heartbeat blocks come every 2 s: height 2 on every node, one chain */
    uint64_t until = nt_now_ms() + 30000;
    int done = 0;
    while (!done && nt_now_ms() < until) {
        done = 1;
        for (int i = 0; i < N; i++)
            if (nt_status_u64(rpc[i], "height") < 2)
                done = 0;
        if (!done)
            nt_sleep_ms(100);
    }
    assert_true(done);
    char first[65] = "";
    for (int i = 0; i < N; i++) {
        json_t *p = json_pack("{s:I}", "height", (json_int_t)1);
        json_t *r = nt_rpc(rpc[i], "block.get", p);
        const char *bh = json_string_value(json_object_get(json_object_get(r, "result"), "hash"));
        assert_non_null(bh);
        if (i == 0)
            snprintf(first, sizeof first, "%s", bh);
        else
            assert_string_equal(bh, first);
        json_decref(r);
        json_decref(p);
    }
    for (int i = 0; i < N; i++) {
        kill(pids[i], SIGTERM);
        int st;
        waitpid(pids[i], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (getenv("PERMIT_TEST_KEEP") == NULL)
        assert_int_equal(run(cmd), 0);
    free(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_departments_make_a_chain_from_public_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
