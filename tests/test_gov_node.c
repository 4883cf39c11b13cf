/* Governance against real processes (DESIGN §11): four permitd validators,
 * every change made with the permit CLI (gov propose / approve, key retire,
 * --sign-only and tx submit), and each node's answers checked, so that a
 * change executes the same on every validator and takes effect from the
 * next block.  The ledger's rules one by one: tests/test_gov.c. */
#include "testutil.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/hex.h"
#include "nodetest.h"

#define N 4

static nt_cluster g_c;
static char g_dir[512];
static char g_keys[LT_NDEPT + 1][600]; /* seal key files, registrar last */
static char g_rpc[64];

#define REG (g_keys[LT_NDEPT])
#define KEY(d) (g_keys[d])

static void fast_blocks(json_t *root)
{
    json_object_set_new(json_object_get(root, "params"), "heartbeat", json_string("500ms"));
}

static int setup(void **state)
{
    (void)state;
    nt_cluster_init(&g_c, N, fast_blocks);
    for (unsigned i = 0; i < N; i++)
        nt_cluster_start(&g_c, i);
    snprintf(g_rpc, sizeof g_rpc, "http://127.0.0.1:%d", g_c.rpc_port[0]);
    char *d = tu_tmpdir("govkeys");
    snprintf(g_dir, sizeof g_dir, "%s", d);
    free(d);
    static const char *const names[LT_NDEPT] = {"approval", "market", "tobacco",
                                                "fire",     "health", "police"};
    ledger_err err;
    for (int k = 0; k <= LT_NDEPT; k++) {
        snprintf(g_keys[k], sizeof g_keys[k], "%s/%s.key", g_dir,
                 k < LT_NDEPT ? names[k] : "registrar");
        const ledger_keypair *kp = k < LT_NDEPT ? &g_c.env.dept[k] : &g_c.env.registrar;
        assert_int_equal(ledger_keyfile_write(g_keys[k], kp, &err), 0);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* every node goes (and its home) even when one does not stop cleanly */
    int unclean = 0;
    for (unsigned i = 0; i < g_c.n; i++)
        if (g_c.pid[i] > 0) {
            int wst = nt_cluster_signal(&g_c, i, SIGTERM);
            if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
                fprintf(stderr, "node %u did not shut down cleanly (status %d)\n", i, wst);
                unclean = 1;
            }
        }
    nt_cluster_cleanup(&g_c);
    tu_rmrf(g_dir);
    return unclean ? -1 : 0;
}

/* Run permit against node 0; its exit code, and its output in *out. */
static int cli(char **out, ...)
{
    va_list ap;
    va_start(ap, out);
    int rc = nt_vpermit(g_rpc, out, ap);
    va_end(ap);
    return rc;
}

static void must(int want, const char *rule, ...)
{
    va_list ap;
    va_start(ap, rule);
    char *out = NULL;
    int rc = nt_vpermit(g_rpc, &out, ap);
    va_end(ap);
    if (rc != want || (rule && strstr(out, rule) == NULL))
        fail_msg("permit exited %d, expected %d%s%s:\n%s", rc, want, rule ? " naming " : "",
                 rule ? rule : "", out);
    free(out);
}

/* A fresh key in a file; its public key in hex. */
static void new_key(const char *name, char path[600], char pub[65])
{
    ledger_keypair kp;
    ledger_err err;
    assert_int_equal(ledger_keygen(&kp, &err), 0);
    snprintf(path, 600, "%s/%s.key", g_dir, name);
    assert_int_equal(ledger_keyfile_write(path, &kp, &err), 0);
    ledger_hex_encode(kp.pub, 32, pub);
}

/* gov propose ... --json: the proposal id (and whether it executed). */
static long propose(const char *key, int *executed, ...)
{
    const char *args[32];
    int k = 0;
    args[k++] = "--json";
    args[k++] = "gov";
    args[k++] = "propose";
    va_list ap;
    va_start(ap, executed);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && k < 26)
        args[k++] = a;
    va_end(ap);
    args[k++] = "--key";
    args[k++] = key;
    args[k] = NULL;
    char *out = NULL;
    int rc = nt_permitv(g_rpc, &out, args);
    if (rc != 0)
        fail_msg("gov propose exited %d:\n%s", rc, out);
    json_t *j = json_loads(out, 0, NULL);
    if (j == NULL || !json_is_integer(json_object_get(j, "proposal_id")))
        fail_msg("gov propose: no proposal_id in:\n%s", out);
    long id = (long)json_integer_value(json_object_get(j, "proposal_id"));
    if (executed)
        *executed = json_is_true(json_object_get(j, "executed"));
    json_decref(j);
    free(out);
    return id;
}

/* gov approve by the departments in `by` (LT_* indexes, -1 ends); 1 when the
 * last approval executed the proposal. */
static int approve_by(long id, const int *by)
{
    char ids[16];
    snprintf(ids, sizeof ids, "%ld", id);
    int executed = 0;
    for (size_t i = 0; by[i] >= 0; i++) {
        char *out = NULL;
        int rc = cli(&out, "--json", "gov", "approve", ids, "--key", KEY(by[i]), NULL);
        if (rc != 0)
            fail_msg("gov approve %s by %d exited %d:\n%s", ids, by[i], rc, out);
        json_t *j = json_loads(out, 0, NULL);
        executed = j && json_is_true(json_object_get(j, "executed"));
        json_decref(j);
        free(out);
    }
    return executed;
}

/* The answer of method on node i, as JSON text. */
static char *rpc_text(unsigned i, const char *method, json_t *params)
{
    json_t *r = nt_rpc(g_c.rpc_port[i], method, params);
    assert_non_null(r);
    json_t *res = json_object_get(r, "result");
    if (res == NULL)
        fail_msg("%s on node %u: %s", method, i, json_dumps(r, 0));
    char *s = json_dumps(res, 0);
    json_decref(r);
    return s;
}

/* Every running node's answer of method contains (want=1) or lacks (0)
 * needle once it has caught up (a follower may be a block behind). */
static void all_nodes(const char *method, const char *needle, int want)
{
    for (unsigned i = 0; i < g_c.n; i++) {
        if (g_c.pid[i] <= 0)
            continue; /* stopped (a validator that left) */
        uint64_t until = nt_now_ms() + 10000;
        for (;;) {
            char *s = rpc_text(i, method, NULL);
            int has = strstr(s, needle) != NULL;
            if (has == want) {
                free(s);
                break;
            }
            if (nt_now_ms() > until)
                fail_msg("node %u %s: expected %s \"%s\" in:\n%s", i, method,
                         want ? "to find" : "not to find", needle, s);
            free(s);
            nt_sleep_ms(100);
        }
    }
}

static void apply(const char *key, const char *uscc, const char *industry, char id[64])
{
    char *out;
    int rc = cli(&out, "apply", "--key", key, "--uscc", uscc, "--name", "新北店", "--legal-rep",
                 "张三", "--industry", industry, "--division", "320411", "--address",
                 "新北区太湖东路1号", NULL);
    if (rc != 0)
        fail_msg("apply exited %d:\n%s", rc, out);
    out[strcspn(out, "\n")] = '\0';
    snprintf(id, 64, "%s", out);
    free(out);
}

static void test_rotate_the_market_seal_key(void **state)
{
    (void)state;
    char lic[64], old[64];
    apply(REG, "91350100M000100Y43", "convenience-store", lic);
    /* one license's market item approved with the old key, before the rotation */
    apply(REG, "91350100M000100Y43", "bakery", old);
    must(0, NULL, "approve", old, "--key", KEY(LT_MARKET), NULL);
    uint64_t before = nt_status_u64(g_c.rpc_port[0], "height");
    char nkey[600], npub[65], opub[65];
    new_key("market-2", nkey, npub);
    ledger_hex_encode(g_c.env.dept[LT_MARKET].pub, 32, opub);
    int executed = 1;
    long id = propose(KEY(LT_APPROVAL), &executed, "rotate-key", "market", "--seal", npub, NULL);
    assert_false(executed);
    /* four of six are not more than 2/3: the old key still signs, the new not yet */
    const int three[] = {LT_TOBACCO, LT_FIRE, LT_HEALTH, -1};
    assert_false(approve_by(id, three));
    must(2, "signer_not_department", "approve", lic, "--key", nkey, NULL);
    const int fifth[] = {LT_POLICE, -1};
    assert_true(approve_by(id, fifth));
    /* from the next block: the old key is refused, the new one approves */
    must(2, "signer_not_department", "approve", lic, "--key", KEY(LT_MARKET), NULL);
    must(0, NULL, "approve", lic, "--key", nkey, NULL);
    all_nodes("departments.list", npub, 1);
    all_nodes("departments.list", opub, 0);
    /* the proposal, executed, on every node */
    char *out;
    char ids[16];
    snprintf(ids, sizeof ids, "%ld", id);
    assert_int_equal(cli(&out, "--json", "gov", "show", ids, NULL), 0);
    assert_non_null(strstr(out, "\"executed\""));
    free(out);
    /* the membership in force at a height before the change still has the old key */
    json_t *p = json_pack("{s:I}", "height", (json_int_t)before);
    char *m = rpc_text(3, "chain.membership", p);
    json_decref(p);
    assert_non_null(strstr(m, opub));
    assert_null(strstr(m, npub));
    free(m);
    /* offline audits from genesis alone: the old key's approval before the
     * rotation and the new key's after it both verify */
    char gpath[600];
    snprintf(gpath, sizeof gpath, "%s/config/genesis.json", g_c.home[0]);
    must(0, NULL, "audit", old, "--genesis", gpath, NULL);
    must(0, "Governance", "audit", lic, "--genesis", gpath, NULL);
}

static void test_add_and_remove_a_registrar(void **state)
{
    (void)state;
    char rkey[600], rpub[65], lic[64];
    new_key("registrar-2", rkey, rpub);
    must(2, "signer_not_registrar", "apply", "--key", rkey, "--uscc", "91350100M000100Y43",
         "--name", "店", "--legal-rep", "李四", "--industry", "hotel", "--division", "320411",
         "--address", "新北区1号", NULL);
    long id = propose(KEY(LT_TOBACCO), NULL, "add-registrar", "政务服务中心2号窗口", rpub,
                      "--department", "approval", NULL);
    const int others[] = {LT_APPROVAL, LT_FIRE, LT_HEALTH, LT_POLICE, -1};
    assert_true(approve_by(id, others));
    all_nodes("registrars.list", rpub, 1);
    apply(rkey, "91350100M000100Y43", "hotel", lic);
    char *out;
    assert_int_equal(cli(&out, "registrars", NULL), 0);
    assert_non_null(strstr(out, rpub));
    free(out);
    /* removed again, the proposal signed offline (--sign-only) and handed to a node */
    char gpath[600];
    snprintf(gpath, sizeof gpath, "%s/config/genesis.json", g_c.home[0]);
    assert_int_equal(cli(&out, "gov", "propose", "remove-registrar", rpub, "--key",
                         KEY(LT_FIRE), "--sign-only", "--genesis", gpath, NULL),
                     0);
    out[strcspn(out, "\n")] = '\0';
    char *hex = strdup(out);
    free(out);
    assert_int_equal(cli(&out, "--json", "tx", "submit", hex, NULL), 0);
    json_t *j = json_loads(out, 0, NULL);
    if (j == NULL)
        fail_msg("tx submit: %s", out);
    id = (long)json_integer_value(json_object_get(j, "proposal_id"));
    json_decref(j);
    free(out);
    free(hex);
    assert_true(id > 0);
    const int rest[] = {LT_APPROVAL, LT_TOBACCO, LT_HEALTH, LT_POLICE, -1};
    assert_true(approve_by(id, rest));
    all_nodes("registrars.list", rpub, 0);
    must(2, "signer_not_registrar", "apply", "--key", rkey, "--uscc", "91350100M000100Y43",
         "--name", "店", "--legal-rep", "李四", "--industry", "hotel", "--division", "320411",
         "--address", "新北区2号", NULL);
}

static void test_add_an_industry_and_apply_for_it(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/gym.json", g_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"code\": \"gym\", \"name\": \"健身房\", \"validity\": \"3y\", "
          "\"commitment_allowed\": false, \"items\": [{\"permit\": "
          "\"高危险性体育项目经营许可\", \"department\": \"health\"}]}\n",
          f);
    fclose(f);
    must(2, "industry_unknown", "apply", "--key", REG, "--uscc", "91350100M000100Y43", "--name",
         "店", "--legal-rep", "李四", "--industry", "gym", "--division", "320411", "--address",
         "新北区3号", NULL);
    long id = propose(KEY(LT_HEALTH), NULL, "set-industry", path, NULL);
    const int by[] = {LT_APPROVAL, LT_TOBACCO, LT_FIRE, LT_POLICE, -1};
    assert_true(approve_by(id, by));
    all_nodes("industries.list", "\"gym\"", 1);
    char lic[64];
    apply(REG, "91350100M000100Y43", "gym", lic);
    char *out;
    assert_int_equal(cli(&out, "--json", "show", lic, NULL), 0);
    assert_non_null(strstr(out, "高危险性体育项目经营许可"));
    free(out);
    assert_int_equal(cli(&out, "industries", NULL), 0);
    assert_non_null(strstr(out, "健身房"));
    free(out);
}

static void test_a_proposal_expires(void **state)
{
    (void)state;
    long id = propose(KEY(LT_FIRE), NULL, "set-param", "max_addresses", "9", "--expires-in",
                      "5s", NULL);
    /* heartbeat blocks carry the block time past it */
    uint64_t until = nt_now_ms() + 6000;
    while (nt_now_ms() < until)
        nt_sleep_ms(200);
    char ids[16];
    snprintf(ids, sizeof ids, "%ld", id);
    must(2, "gov_proposal_expired", "gov", "approve", ids, "--key", KEY(LT_POLICE), NULL);
    char *out;
    assert_int_equal(cli(&out, "--json", "gov", "list", "--status", "expired", NULL), 0);
    char want[32];
    snprintf(want, sizeof want, "\"id\": %ld", id);
    assert_non_null(strstr(out, want));
    free(out);
    assert_int_equal(cli(&out, "gov", "list", NULL), 0);
    assert_non_null(strstr(out, "expired"));
    free(out);
    /* the RPC's refusals */
    json_t *p = json_pack("{s:i}", "id", 9999);
    json_t *r = nt_rpc(g_c.rpc_port[1], "gov.get", p);
    assert_int_equal(nt_error_code(r), 1001);
    assert_string_equal(nt_error_rule(r), "gov_proposal_not_found");
    json_decref(r);
    json_decref(p);
    p = json_pack("{s:s}", "status", "pending");
    r = nt_rpc(g_c.rpc_port[1], "gov.list", p);
    assert_int_equal(nt_error_code(r), -32602);
    json_decref(r);
    json_decref(p);
    /* a cursor past every id lists nothing (it must not wrap to the start) */
    p = json_pack("{s:s}", "cursor", "4294967295");
    r = nt_rpc(g_c.rpc_port[1], "gov.list", p);
    json_t *res = json_object_get(r, "result");
    assert_non_null(res);
    assert_int_equal(json_array_size(json_object_get(res, "proposals")), 0);
    json_t *nc = json_object_get(res, "next_cursor");
    assert_true(nc == NULL || json_is_null(nc));
    json_decref(r);
    json_decref(p);
    p = json_pack("{s:s}", "cursor", "4294967296");
    r = nt_rpc(g_c.rpc_port[1], "gov.list", p);
    assert_int_equal(nt_error_code(r), -32602);
    json_decref(r);
    json_decref(p);
    p = json_pack("{s:i}", "cursor", 3);
    r = nt_rpc(g_c.rpc_port[1], "gov.list", p);
    assert_int_equal(nt_error_code(r), -32602);
    json_decref(r);
    json_decref(p);
    p = json_pack("{s:s}", "id", "1");
    r = nt_rpc(g_c.rpc_port[1], "gov.get", p);
    assert_int_equal(nt_error_code(r), -32602);
    json_decref(r);
    json_decref(p);
    p = json_pack("{s:i}", "height", -1);
    r = nt_rpc(g_c.rpc_port[1], "chain.membership", p);
    assert_int_equal(nt_error_code(r), -32602);
    json_decref(r);
    json_decref(p);
    p = json_pack("{s:i}", "height", 1000000);
    r = nt_rpc(g_c.rpc_port[1], "chain.membership", p);
    assert_int_equal(nt_error_code(r), 1001);
    json_decref(r);
    json_decref(p);
    must(5, NULL, "gov", "show", "9999", NULL);
}

/* Wait until node i's ledger reaches `height` (fails after 20 s). */
static void wait_height(unsigned i, uint64_t height)
{
    uint64_t until = nt_now_ms() + 20000;
    while (nt_status_u64(g_c.rpc_port[i], "height") < height) {
        if (nt_now_ms() > until)
            fail_msg("node %u did not reach height %llu (at %llu)", i,
                     (unsigned long long)height,
                     (unsigned long long)nt_status_u64(g_c.rpc_port[i], "height"));
        nt_sleep_ms(100);
    }
}

/* An application (of a new USCC) filed through node 0 and committed
 * (apply waits for it). */
static void commits(uint32_t n)
{
    char id[64], uscc[19];
    lt_uscc(n, uscc);
    apply(REG, uscc, "hotel", id);
    assert_non_null(strstr(id, "PL-"));
}

/* DESIGN §5, §11 (issue 11, test 6b): a fifth department joins with a
 * validator; its node, started from genesis, syncs across the change and
 * votes from two blocks after it (with one of the four stopped, blocks need
 * its vote); then another validator's node key retires itself and that node
 * stops: blocks go on; an audit from genesis alone verifies across both. */
static void test_a_validator_joins_and_another_leaves(void **state)
{
    (void)state;
    const unsigned J = N; /* the newcomer's slot in the cluster */
    char spath[600], spub[65];
    new_key("culture-seal", spath, spub);
    ledger_keypair nk;
    ledger_err err;
    assert_int_equal(ledger_keygen(&nk, &err), 0);
    char npub[65], p2p[32];
    ledger_hex_encode(nk.pub, 32, npub);
    /* its home: genesis and its own node key, as permitd init lays it out */
    g_c.rpc_port[J] = nt_free_port();
    do
        g_c.p2p_port[J] = nt_free_port();
    while (g_c.p2p_port[J] == g_c.rpc_port[J]);
    g_c.home[J] = tu_tmpdir("joiner");
    g_c.n = N + 1; /* the cluster's teardown stops and removes it too */
    char path[700];
    snprintf(path, sizeof path, "%s/config", g_c.home[J]);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/config/genesis.json", g_c.home[J]);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(g_c.env.genesis_json, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/config/node.key", g_c.home[J]);
    assert_int_equal(ledger_keyfile_write(path, &nk, &err), 0);
    snprintf(p2p, sizeof p2p, "127.0.0.1:%d", g_c.p2p_port[J]);

    int executed = 1;
    long id = propose(KEY(LT_POLICE), &executed, "add-department", "culture", "文旅局", "--seal",
                      spub, "--node", npub, "--p2p", p2p, "--validator", NULL);
    assert_false(executed);
    /* (market's seal key was rotated by the first test) */
    const int by[] = {LT_APPROVAL, LT_TOBACCO, LT_FIRE, LT_HEALTH, -1};
    assert_true(approve_by(id, by));
    uint64_t H = nt_status_u64(g_c.rpc_port[0], "height");
    all_nodes("departments.list", npub, 1);
    /* a second validator while the first does not certify yet: refused */
    char s2[600], p2[65], n2[600], q2[65];
    new_key("sports-seal", s2, p2);
    new_key("sports-node", n2, q2);
    must(2, "gov_validators_unreachable", "gov", "propose", "add-department", "sports",
         "体育局", "--seal", p2, "--node", q2, "--p2p", "127.0.0.1:1", "--validator", "--key",
         KEY(LT_APPROVAL), NULL);

    /* the newcomer starts from genesis and syncs across the change */
    nt_cluster_start(&g_c, J);
    wait_height(J, H + 2);
    /* with fire's node stopped, blocks need the newcomer's vote: 4 of 5 */
    nt_cluster_stop_clean(&g_c, 3);
    commits(601);
    uint64_t h5 = nt_status_u64(g_c.rpc_port[0], "height");
    wait_height(J, h5);
    nt_cluster_start(&g_c, 3);

    /* tobacco's node key retires itself; once that is in force, its node
     * stops and blocks go on with three of four */
    char tkey[700];
    snprintf(tkey, sizeof tkey, "%s/config/node.key", g_c.home[2]);
    must(0, NULL, "key", "retire", "--key", tkey, "--reason", "换机", NULL);
    uint64_t R = nt_status_u64(g_c.rpc_port[0], "height");
    wait_height(0, R + 2);
    nt_cluster_stop_clean(&g_c, 2);
    commits(602);
    char tpub[65];
    ledger_hex_encode(g_c.env.node[2].pub, 32, tpub);
    for (unsigned i = 0; i <= J; i++) {
        if (i == 2)
            continue;
        json_t *r = nt_rpc(g_c.rpc_port[i], "departments.list", NULL);
        char *t = json_dumps(r, 0);
        assert_null(strstr(t, tpub)); /* no longer anyone's node key */
        free(t);
        json_decref(r);
    }
    /* every node agrees on the tip it reached; an audit from genesis alone
     * checks certificates made by the sets before, between and after */
    char lic[64], u[19];
    lt_uscc(603, u);
    apply(REG, u, "bakery", lic);
    char gpath[600];
    snprintf(gpath, sizeof gpath, "%s/config/genesis.json", g_c.home[0]);
    must(0, "Governance", "audit", lic, "--genesis", gpath, NULL);
    /* the newcomer's own chain re-executes from genesis across the changes */
    must(0, "every root and certificate checks out", "verify-chain", "--home", g_c.home[J],
         NULL);
    /* tobacco's node stays stopped: no validator links to a key that left */
}

static void test_a_retired_registrar_key_files_nothing(void **state)
{
    (void)state;
    must(0, NULL, "key", "retire", "--key", REG, "--reason", "窗口撤并", NULL);
    must(2, "signer_not_registrar", "apply", "--key", REG, "--uscc", "91350100M000100Y43",
         "--name", "店", "--legal-rep", "李四", "--industry", "hotel", "--division", "320411",
         "--address", "新北区4号", NULL);
    char pub[65];
    ledger_hex_encode(g_c.env.registrar.pub, 32, pub);
    all_nodes("registrars.list", pub, 0);
    /* a retired key holds no role: retiring it again is refused */
    must(2, "retire_key_unknown", "key", "retire", "--key", REG, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotate_the_market_seal_key),
        cmocka_unit_test(test_add_and_remove_a_registrar),
        cmocka_unit_test(test_add_an_industry_and_apply_for_it),
        cmocka_unit_test(test_a_proposal_expires),
        cmocka_unit_test(test_a_validator_joins_and_another_leaves),
        cmocka_unit_test(test_a_retired_registrar_key_files_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
