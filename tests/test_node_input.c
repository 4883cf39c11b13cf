/* Bad input against a live permitd: every case gets its documented error
 * (docs/rpc.md) and the node keeps serving correctly afterwards. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/hex.h"
#include "ledger/tx.h"
#include "nodetest.h"

static int setup(void **state)
{
    nt_node *nd = calloc(1, sizeof *nd);
    nt_init(nd, NULL);
    snprintf(nd->extra_conf, sizeof nd->extra_conf, "rpc_timeout = 1s\nrpc_max_body = 64K\n");
    nt_start(nd, NULL);
    *state = nd;
    return 0;
}

static int teardown(void **state)
{
    nt_node *nd = *state;
    /* whatever happened, the node still works: a fresh application commits */
    char u[19];
    lt_uscc((uint32_t)rand(), u);
    size_t len;
    uint8_t *tx = lt_apply(&nd->env, u, "hotel", 0, &len);
    json_t *r = nt_submit(nd->port, tx, len, "commit");
    free(tx);
    if (r == NULL || nt_error_code(r) != 0)
        fail_msg("node no longer serves after the bad input");
    json_decref(r);
    int wst = nt_signal_wait(nd, SIGTERM);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    nt_cleanup(nd);
    free(nd);
    return 0;
}

/* POST raw text to /rpc; returns the parsed response (status in *st). */
static json_t *raw(nt_node *nd, const char *body, size_t len, int *st)
{
    char *resp = NULL;
    *st = nt_http(nd->port, "POST", "/rpc", body, len, &resp, NULL);
    json_t *j = resp ? json_loads(resp, JSON_DECODE_ANY, NULL) : NULL;
    free(resp);
    return j;
}

static void expect_code(json_t *r, int code)
{
    if (r == NULL)
        fail_msg("no JSON response (expected error %d)", code);
    if (nt_error_code(r) != code) {
        char *s = json_dumps(r, 0);
        fail_msg("expected error %d, got %s", code, s);
    }
}

static void test_malformed_json_is_a_parse_error(void **state)
{
    nt_node *nd = *state;
    int st;
    const char *bad[] = {"{", "{\"jsonrpc\":\"2.0\",", "nonsense", "{\"a\":1}}", "[1,2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *r = raw(nd, bad[i], strlen(bad[i]), &st);
        assert_int_equal(st, 200);
        expect_code(r, -32700);
        json_decref(r);
    }
}

static void test_invalid_utf8_is_a_parse_error(void **state)
{
    nt_node *nd = *state;
    const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.get\","
                        "\"params\":{\"id\":\"PL-\xff\xfe\"}}";
    int st;
    json_t *r = raw(nd, body, sizeof body - 1, &st);
    expect_code(r, -32700);
    json_decref(r);
}

static void test_not_a_request_and_wrong_types(void **state)
{
    nt_node *nd = *state;
    int st;
    const char *cases[][2] = {
        {"42", "-32600"},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"status\"}", "-32600"},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"status\"}", "-32600"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", "-32600"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"params\":\"x\"}", "-32600"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.get\",\"params\":[\"x\"]}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.get\",\"params\":{\"id\":5}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.get\",\"params\":{}}", "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.get\",\"params\":{\"id\":\"x\","
         "\"extra\":1}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"block.get\",\"params\":{\"height\":-1}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.search\",\"params\":{\"limit\":"
         "1001}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.search\",\"params\":{\"status\":"
         "\"WHATEVER\"}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tx.submit\",\"params\":{\"tx\":\"zz\"}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tx.submit\",\"params\":{\"tx\":\"00\","
         "\"wait\":\"maybe\"}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tx.submit\",\"params\":{\"tx\":\"00\","
         "\"timeout_ms\":600000}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tx.get\",\"params\":{\"tx_id\":\"ab\"}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.pending\",\"params\":{"
         "\"department\":\"nobody\"}}",
         "-32602"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"license.search\",\"params\":{\"cursor\":"
         "\"not-hex\"}}",
         "-32602"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r = raw(nd, cases[i][0], strlen(cases[i][0]), &st);
        assert_int_equal(st, 200);
        if (r == NULL || nt_error_code(r) != atoi(cases[i][1]))
            fail_msg("case %zu (%s): got %s", i, cases[i][0], r ? json_dumps(r, 0) : "nothing");
        json_decref(r);
    }
}

static void test_unknown_method(void **state)
{
    nt_node *nd = *state;
    json_t *r = nt_rpc(nd->port, "license.delete", NULL);
    expect_code(r, -32601);
    json_decref(r);
}

static void test_oversized_body_is_refused_with_413(void **state)
{
    nt_node *nd = *state;
    size_t n = 200 * 1024;
    char *big = malloc(n);
    memset(big, ' ', n);
    memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}", 42);
    char *resp = NULL;
    int st = nt_http(nd->port, "POST", "/rpc", big, n, &resp, NULL);
    free(resp);
    free(big);
    assert_int_equal(st, 413);
}

static void test_deep_nesting_is_a_parse_error(void **state)
{
    nt_node *nd = *state;
    char body[4096];
    size_t o = 0;
    o += (size_t)sprintf(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"params\":{\"a\":");
    for (int i = 0; i < 1000; i++)
        body[o++] = '[';
    for (int i = 0; i < 1000; i++)
        body[o++] = ']';
    body[o++] = '}';
    body[o++] = '}';
    int st;
    json_t *r = raw(nd, body, o, &st);
    expect_code(r, -32700);
    json_decref(r);
}

static void test_batches(void **state)
{
    nt_node *nd = *state;
    /* a good batch answers every call that has an id, in order */
    const char *ok = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"},"
                     "{\"jsonrpc\":\"2.0\",\"method\":\"status\"},"
                     "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"nope\"}]";
    int st;
    json_t *r = raw(nd, ok, strlen(ok), &st);
    assert_true(json_is_array(r));
    assert_int_equal(json_array_size(r), 2);
    assert_int_equal(nt_error_code(json_array_get(r, 0)), 0);
    assert_int_equal(nt_error_code(json_array_get(r, 1)), -32601);
    json_decref(r);
    /* a huge batch is refused as a whole */
    size_t cap = 200 * 64;
    char *huge = malloc(cap);
    size_t o = 0;
    huge[o++] = '[';
    for (int i = 0; i < 150; i++)
        o += (size_t)snprintf(huge + o, cap - o, "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"status\"}",
                              i ? "," : "", i);
    huge[o++] = ']';
    r = raw(nd, huge, o, &st);
    free(huge);
    expect_code(r, -32600);
    json_decref(r);
    r = raw(nd, "[]", 2, &st);
    expect_code(r, -32600);
    json_decref(r);
    /* a notification gets no body */
    char *resp = NULL;
    st = nt_http(nd->port, "POST", "/rpc", "{\"jsonrpc\":\"2.0\",\"method\":\"status\"}", 35, &resp,
                 NULL);
    free(resp);
    assert_int_equal(st, 204);
}

static void test_http_methods_and_paths(void **state)
{
    nt_node *nd = *state;
    char *resp = NULL;
    assert_int_equal(nt_http(nd->port, "GET", "/rpc", NULL, 0, &resp, NULL), 405);
    free(resp);
    assert_int_equal(nt_http(nd->port, "GET", "/elsewhere", NULL, 0, &resp, NULL), 404);
    free(resp);
    json_t *r = nt_rpc(nd->port, "status", NULL);
    json_decref(r);
    assert_int_equal(nt_http(nd->port, "GET", "/metrics", NULL, 0, &resp, NULL), 200);
    assert_non_null(strstr(resp, "permit_height "));
    assert_non_null(strstr(resp, "permit_rpc_requests_total{method=\"status\",result=\"ok\"} 1"));
    free(resp);
}

static void expect_tx(nt_node *nd, uint8_t *tx, size_t len, int code, const char *rule)
{
    json_t *r = nt_submit(nd->port, tx, len, "commit");
    free(tx);
    if (r == NULL || nt_error_code(r) != code || strcmp(nt_error_rule(r), rule) != 0)
        fail_msg("expected %d %s, got %s", code, rule, r ? json_dumps(r, 0) : "nothing");
    json_decref(r);
}

static void test_ledger_refusals_over_rpc(void **state)
{
    nt_node *nd = *state;
    lt_env *env = &nd->env;
    size_t len;
    /* a forged signature */
    uint8_t *tx = lt_apply(env, "91350100M000100Y43", "convenience-store", 0, &len);
    tx[40] ^= 1;
    expect_tx(nd, tx, len, 1002, "signature_invalid");
    /* invalid USCC */
    tx = lt_apply(env, "91350100M000100Y44", "convenience-store", 0, &len);
    expect_tx(nd, tx, len, 1002, "uscc_invalid");
    /* invalid UTF-8 inside the transaction */
    tx = lt_apply_full(env, &env->registrar, "91350100M000100Y43", "店\xc3", "王五",
                       "convenience-store", "320411", "1号", 0, &len);
    expect_tx(nd, tx, len, 1002, "utf8_invalid");
    /* an address outside the region */
    tx = lt_apply_full(env, &env->registrar, "91350100M000100Y43", "店", "王五",
                       "convenience-store", "110105", "北京市朝阳区1号", 0, &len);
    expect_tx(nd, tx, len, 1002, "division_outside_region");
    /* a registrar acting as a department */
    tx = lt_decision(env, &env->registrar, 2, "PL-320411-2026-000001", NULL, 0, NULL, &len);
    expect_tx(nd, tx, len, 1006, "signer_not_department");
    /* a transaction signed two hours ago */
    uint64_t saved = env->now;
    env->now = nt_now_ms() - 2 * 3600 * 1000;
    tx = lt_apply(env, "91350100M000100Y43", "convenience-store", 0, &len);
    env->now = saved;
    expect_tx(nd, tx, len, 1002, "timestamp_window");
    /* a license that does not exist */
    tx = lt_decision(env, lt_dept(env, LT_MARKET), 2, "PL-320411-2026-999999", NULL, 0, NULL,
                     &len);
    expect_tx(nd, tx, len, 1001, "license_not_found");
    /* garbage envelope */
    tx = calloc(1, 200);
    tx[0] = 1;
    expect_tx(nd, tx, 200, 1002, "body_malformed");
}

static void test_replayed_tx_is_a_duplicate(void **state)
{
    nt_node *nd = *state;
    size_t len;
    uint8_t *tx = lt_apply(&nd->env, "91350100M000100Y43", "convenience-store", 0, &len);
    json_t *r = nt_submit(nd->port, tx, len, "commit");
    assert_int_equal(nt_error_code(r), 0);
    json_decref(r);
    r = nt_submit(nd->port, tx, len, "commit");
    assert_int_equal(nt_error_code(r), 1003);
    assert_string_equal(nt_error_rule(r), "tx_duplicate");
    json_decref(r);
    /* and while it is still in the mempool */
    uint8_t *tx2 = lt_apply(&nd->env, "91350100M000100Y43", "hotel", 0, &len);
    json_t *a = nt_submit(nd->port, tx2, len, "none");
    json_t *b = nt_submit(nd->port, tx2, len, "none");
    assert_int_equal(nt_error_code(a), 0);
    assert_int_equal(nt_error_code(b), 1003);
    json_decref(a);
    json_decref(b);
    free(tx);
    free(tx2);
}

/* How long the tests below wait for what a timeout or a pause brings (the
 * node's rpc_timeout is 1 s here), so that a slow or loaded machine only
 * makes them slower. */
#define SETTLE_WAIT_MS 30000

static void pause_100ms(void)
{
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
}

/* Has the peer of fd closed it (EOF or an error, after whatever answer it
 * sent)?  Reads what is there without waiting. */
static int peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[256];
    while (poll(&p, 1, 0) == 1)
        if (read(fd, buf, sizeof buf) <= 0)
            return 1;
    return 0;
}

static void test_slow_clients_do_not_stall_the_node(void **state)
{
    nt_node *nd = *state;
    enum { SLOW = 200 };
    int fds[SLOW];
    /* half send nothing, half a never-finished request */
    for (int i = 0; i < SLOW; i++) {
        fds[i] = nt_connect(nd->port);
        assert_true(fds[i] >= 0);
        if (i % 2) {
            const char *partial = "POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"js";
            assert_true(write(fds[i], partial, strlen(partial)) > 0);
        }
    }
    /* others are served meanwhile */
    uint64_t t0 = nt_now_ms();
    for (int i = 0; i < 20; i++) {
        json_t *r = nt_rpc(nd->port, "status", NULL);
        assert_non_null(r);
        assert_int_equal(nt_error_code(r), 0);
        json_decref(r);
    }
    assert_true(nt_now_ms() - t0 < 2000);
    /* and the slow ones are dropped after rpc_timeout (1 s here), an error
     * answer before the close or not */
    int closed = 0, is_closed[SLOW] = {0};
    uint64_t until = nt_now_ms() + SETTLE_WAIT_MS;
    for (;;) {
        for (int i = 0; i < SLOW; i++)
            if (!is_closed[i] && peer_closed(fds[i])) {
                is_closed[i] = 1;
                closed++;
            }
        if (closed >= SLOW * 9 / 10 || nt_now_ms() > until)
            break;
        pause_100ms();
    }
    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
    if (closed < SLOW * 9 / 10)
        fail_msg("only %d of %d slow connections were closed within %d ms", closed, SLOW,
                 SETTLE_WAIT_MS);
}

/* CPU seconds (user + system) process pid has used. */
static double cpu_seconds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *st = tu_read_file(path, NULL);
    assert_non_null(st);
    const char *p = strrchr(st, ')'); /* after the command name */
    unsigned long long ut = 0, stime = 0;
    /* fields 14 and 15 (utime, stime); p points at field 2's end */
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                            &stime),
                     2);
    free(st);
    return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int open_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 2;
}

/* At its descriptor limit the node pauses accepting instead of calling
 * accept() again and again (libevent's default, a spinning core): the
 * clients left in the backlog wait, the node stays idle, and once
 * descriptors are free it serves again. */
static void test_descriptor_limit_does_not_spin_the_node(void **state)
{
    nt_node *nd = *state;
    int used = open_fds(nd->pid);
    struct rlimit old;
    assert_int_equal(prlimit(nd->pid, RLIMIT_NOFILE, NULL, &old), 0);
    struct rlimit lim = {.rlim_cur = (rlim_t)used + 16, .rlim_max = old.rlim_max};
    assert_int_equal(prlimit(nd->pid, RLIMIT_NOFILE, &lim, NULL), 0);
    enum { CONNS = 64 };
    int fds[CONNS];
    for (int i = 0; i < CONNS; i++) {
        fds[i] = nt_connect(nd->port); /* the kernel completes them: backlog */
        assert_true(fds[i] >= 0);
    }
    /* once it has met its limit (it says so in its log), it must idle */
    char log[600];
    nt_path(nd, "permitd.log", log, sizeof log);
    uint64_t until = nt_now_ms() + SETTLE_WAIT_MS;
    for (;;) {
        char *l = tu_read_file(log, NULL);
        int at_limit = l != NULL && strstr(l, "rpc: cannot accept connections") != NULL;
        free(l);
        if (at_limit)
            break;
        if (nt_now_ms() > until)
            fail_msg("the node did not reach its descriptor limit within %d ms", SETTLE_WAIT_MS);
        pause_100ms();
    }
    struct timespec window = {0, 600 * 1000000L};
    double c0 = cpu_seconds(nd->pid);
    nanosleep(&window, NULL);
    double used_cpu = cpu_seconds(nd->pid) - c0;
    printf("node CPU over 0.6 s at its descriptor limit: %.2f s\n", used_cpu);
    assert_true(used_cpu < 0.2);
    for (int i = 0; i < CONNS; i++)
        close(fds[i]);
    assert_int_equal(prlimit(nd->pid, RLIMIT_NOFILE, &old, NULL), 0);
    /* and serves again (teardown also commits a transaction) */
    until = nt_now_ms() + SETTLE_WAIT_MS;
    for (;;) {
        json_t *r = nt_rpc(nd->port, "status", NULL);
        int ok = r != NULL && nt_error_code(r) == 0;
        json_decref(r);
        if (ok)
            break;
        if (nt_now_ms() > until)
            fail_msg("the node does not serve within %d ms after its descriptors are free "
                     "again", SETTLE_WAIT_MS);
        pause_100ms();
    }
}

static void test_second_instance_refuses_to_start(void **state)
{
    nt_node *nd = *state;
    char cmd[1200], out[600];
    nt_path(nd, "second.log", out, sizeof out);
    snprintf(cmd, sizeof cmd, "%s/permitd --home %s --rpc-listen 127.0.0.1:%d >%s 2>&1",
             PERMIT_BIN_DIR, nd->home, nt_free_port(), out);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    char *log = tu_read_file(out, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "already running"));
    free(log);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_malformed_json_is_a_parse_error),
        T(test_invalid_utf8_is_a_parse_error),
        T(test_not_a_request_and_wrong_types),
        T(test_unknown_method),
        T(test_oversized_body_is_refused_with_413),
        T(test_deep_nesting_is_a_parse_error),
        T(test_batches),
        T(test_http_methods_and_paths),
        T(test_ledger_refusals_over_rpc),
        T(test_replayed_tx_is_a_duplicate),
        T(test_slow_clients_do_not_stall_the_node),
        T(test_descriptor_limit_does_not_spin_the_node),
        T(test_second_instance_refuses_to_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
