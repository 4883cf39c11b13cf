/* Backup and restore (DESIGN §13): `permit backup` copies a running node's
 * database while it takes transactions; the copy, put in a fresh home,
 * passes verify-chain, and the restored validator (its sign state is not in
 * a backup) signs nothing until it has synced past the copy's height, then
 * rejoins: with another validator stopped, blocks need its votes, and they
 * come.  Real permitd and permit processes. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nodetest.h"

static nt_cluster g_c;

static int permit_rpc(int port, char **out, const char *const *args)
{
    char rpc[64];
    snprintf(rpc, sizeof rpc, "http://127.0.0.1:%d", port);
    return nt_permitv(rpc, out, args);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    size_t len;
    char *data = tu_read_file(from, &len);
    assert_non_null(data);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(to, mode), 0);
    free(data);
}

static uint64_t submit_applications(unsigned first, unsigned n, const char *wait)
{
    uint64_t ok = 0;
    lt_env *env = &g_c.env;
    for (unsigned i = 0; i < n; i++) {
        char u[19];
        size_t len;
        env->now = nt_now_ms() - 1000;
        lt_uscc(first + i, u);
        uint8_t *tx = lt_apply(env, u, "convenience-store", 0, &len);
        json_t *r = nt_submit(g_c.rpc_port[0], tx, len, wait);
        ok += r && nt_error_code(r) == 0;
        json_decref(r);
        free(tx);
    }
    return ok;
}

static void test_a_backup_under_load_restores_and_rejoins(void **state)
{
    (void)state;
    nt_cluster_init(&g_c, 4, NULL);
    for (unsigned i = 0; i < 4; i++)
        nt_cluster_start(&g_c, i);
    assert_int_equal(submit_applications(1, 5, "commit"), 5);
    /* under load: transactions keep coming while the copy is made */
    assert_int_equal(submit_applications(100, 40, "none"), 40);
    char *dir = tu_tmpdir("backup"), backup[600];
    snprintf(backup, sizeof backup, "%s/copy", dir);
    char *out = NULL;
    const char *args[] = {"--json", "backup", "--out", backup, NULL};
    int rc = permit_rpc(g_c.rpc_port[3], &out, args);
    if (rc != 0)
        fail_msg("permit backup exited %d:\n%s", rc, out ? out : "");
    json_t *res = json_loads(out, 0, NULL);
    uint64_t backup_height = (uint64_t)json_integer_value(json_object_get(res, "height"));
    json_decref(res);
    free(out);
    assert_true(backup_height >= 1);
    /* a second backup into the same folder is refused */
    rc = permit_rpc(g_c.rpc_port[3], &out, args);
    assert_int_equal(rc, 1);
    free(out);
    /* validator 3 goes; its new home: its config, the copy as its database,
     * no sign state */
    nt_cluster_stop_clean(&g_c, 3);
    char *home = tu_tmpdir("restored"), p[700], q[700];
    snprintf(p, sizeof p, "%s/config", home);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/data", home);
    assert_int_equal(mkdir(p, 0700), 0);
    static const char *const files[] = {"genesis.json", "node.key", "permitd.conf"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/config/%s", g_c.home[3], files[i]);
        snprintf(q, sizeof q, "%s/config/%s", home, files[i]);
        copy_file(p, q, i == 1 ? 0600 : 0644);
    }
    snprintf(q, sizeof q, "%s/data/db", home);
    assert_int_equal(rename(backup, q), 0);
    /* the copy is a whole chain */
    const char *verify[] = {"verify-chain", "--home", home, NULL};
    rc = permit_rpc(g_c.rpc_port[0], &out, verify);
    if (rc != 0)
        fail_msg("verify-chain of the restored home exited %d:\n%s", rc, out ? out : "");
    free(out);
    tu_rmrf(g_c.home[3]);
    free(g_c.home[3]);
    g_c.home[3] = home;
    nt_cluster_start(&g_c, 3);
    /* the others go on past the copy (they have a quorum without it) ... */
    assert_int_equal(submit_applications(500, 3, "commit"), 3);
    /* ... it catches up; with validator 2 gone too, blocks need its votes */
    uint64_t until = nt_now_ms() + 30000;
    while (nt_status_u64(g_c.rpc_port[3], "height") < nt_status_u64(g_c.rpc_port[0], "height") &&
           nt_now_ms() < until)
        nt_sleep_ms(100);
    nt_cluster_stop_clean(&g_c, 2);
    assert_int_equal(submit_applications(1000, 3, "commit"), 3);
    uint64_t h0 = nt_status_u64(g_c.rpc_port[0], "height");
    until = nt_now_ms() + 30000;
    while (nt_status_u64(g_c.rpc_port[3], "height") < h0 && nt_now_ms() < until)
        nt_sleep_ms(100);
    assert_true(nt_status_u64(g_c.rpc_port[3], "height") >= h0);
    /* the restored validator said so in its log: it waited, then signed */
    snprintf(p, sizeof p, "%s/permitd.log", home);
    char *log = tu_read_file(p, NULL);
    assert_non_null(log);
    if (strstr(log, "signing again") == NULL)
        fail_msg("the restored validator never lifted its no-signing period:\n%.4000s", log);
    free(log);
    for (unsigned i = 0; i < 4; i++)
        if (i != 2)
            nt_cluster_stop_clean(&g_c, i);
    nt_cluster_cleanup(&g_c);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_backup_under_load_restores_and_rejoins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
