/* What an operator relies on (DESIGN §13, docs/operations.md): the log as
 * JSON lines in a file that SIGHUP reopens after logrotate moved it; flags
 * spelled with dashes, the old underscore spelling accepted with a warning;
 * /health answering 503 "stale" when no block came for three heartbeats,
 * and the operational metrics.  Real permitd processes. */
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nodetest.h"

static int count_json_lines(const char *path, const char *needle, int *all_json)
{
    char *text = tu_read_file(path, NULL);
    if (text == NULL)
        return -1;
    int n = 0, found = 0;
    *all_json = 1;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!json_is_object(j) || !json_is_string(json_object_get(j, "time")) ||
            !json_is_string(json_object_get(j, "level")) ||
            !json_is_string(json_object_get(j, "msg")))
            *all_json = 0;
        else if (needle && strstr(json_string_value(json_object_get(j, "msg")), needle))
            found = 1;
        json_decref(j);
        n++;
    }
    free(text);
    return needle && !found ? 0 : n;
}

static void test_json_log_in_a_file_reopened_on_sighup(void **state)
{
    (void)state;
    nt_node nd;
    nt_init(&nd, NULL);
    snprintf(nd.extra_conf, sizeof nd.extra_conf, "log_format = json\nlog_file = node.log\n");
    nt_start(&nd, NULL);
    char path[700], moved[720];
    nt_path(&nd, "node.log", path, sizeof path);
    snprintf(moved, sizeof moved, "%s.1", path);
    int all_json = 0;
    int n = count_json_lines(path, "running", &all_json);
    if (n <= 0)
        fail_msg("node.log has no JSON line saying the node runs (%d)", n);
    assert_true(all_json);
    /* logrotate: move the file, then SIGHUP */
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(kill(nd.pid, SIGHUP), 0);
    uint64_t until = nt_now_ms() + 10000;
    while (nt_now_ms() < until && count_json_lines(path, "opened again", &all_json) <= 0)
        nt_sleep_ms(50);
    if (count_json_lines(path, "opened again", &all_json) <= 0)
        fail_msg("after SIGHUP the node did not write to a new node.log");
    assert_true(all_json);
    assert_int_equal(nt_signal_wait(&nd, SIGTERM), 0);
    nd.pid = 0;
    /* the last lines went to the new file, none to the moved one */
    assert_true(count_json_lines(path, "stopped", &all_json) > 0);
    assert_int_equal(count_json_lines(moved, "stopped", &all_json), 0);
    nt_cleanup(&nd);
}

/* permitd --print-config with the given flag: its exit status and stderr */
static int print_config(nt_node *nd, const char *flag, const char *value, char **err_text)
{
    char errpath[700];
    nt_path(nd, "stderr.txt", errpath, sizeof errpath);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(errpath, "w", stderr);
        if (f == NULL || freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        execl(PERMIT_BIN_DIR "/permitd", "permitd", "--home", nd->home, flag, value,
              "--print-config", (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *err_text = tu_read_file(errpath, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_flags_are_spelled_with_dashes_and_the_old_spelling_warns(void **state)
{
    (void)state;
    nt_node nd;
    nt_init(&nd, NULL);
    char *e = NULL;
    assert_int_equal(print_config(&nd, "--log-level", "debug", &e), 0);
    assert_true(e == NULL || strstr(e, "warning") == NULL);
    free(e);
    assert_int_equal(print_config(&nd, "--log_level", "debug", &e), 0);
    if (e == NULL || strstr(e, "--log_level is spelled --log-level") == NULL)
        fail_msg("no warning for --log_level: %s", e ? e : "");
    free(e);
    assert_int_equal(print_config(&nd, "--log-format", "yaml", &e), 0); /* checked at start */
    free(e);
    assert_int_equal(print_config(&nd, "--no-such-flag", "1", &e), 1);
    free(e);
    nt_cleanup(&nd);
}

static void fast_heartbeat(json_t *root)
{
    json_t *p = json_object_get(root, "params");
    if (p == NULL) {
        p = json_object();
        json_object_set_new(root, "params", p);
    }
    json_object_set_new(p, "block_interval", json_string("200ms"));
    json_object_set_new(p, "heartbeat", json_string("1s"));
}

static int health(int port, char *status, size_t cap)
{
    char *body = NULL;
    int st = nt_http(port, "GET", "/health", NULL, 0, &body, NULL);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    snprintf(status, cap, "%s",
             json_string_value(json_object_get(j, "status")) ? json_string_value(
                                                                   json_object_get(j, "status"))
                                                             : "");
    json_decref(j);
    free(body);
    return st;
}

/* Two validators, one of them never started: no block can be decided, so
 * after three heartbeats (3 s here) /health says 503 "stale"; the metrics
 * say so too. */
static void test_health_is_stale_after_three_heartbeats_without_a_block(void **state)
{
    (void)state;
    nt_cluster c;
    nt_cluster_init(&c, 2, fast_heartbeat);
    nt_cluster_start(&c, 0);
    char status[32];
    uint64_t until = nt_now_ms() + 15000;
    int st = 0;
    while (nt_now_ms() < until && (st = health(c.rpc_port[0], status, sizeof status)) == 200)
        nt_sleep_ms(100);
    assert_int_equal(st, 503);
    assert_string_equal(status, "stale");
    char *body = NULL;
    assert_int_equal(nt_http(c.rpc_port[0], "GET", "/metrics", NULL, 0, &body, NULL), 200);
    assert_non_null(body);
    assert_non_null(strstr(body, "permit_peers 0"));
    assert_non_null(strstr(body, "permit_last_block_age_seconds"));
    assert_non_null(strstr(body, "permit_consensus_round"));
    free(body);
    /* the other validator comes: blocks again, and /health is 200 */
    nt_cluster_start(&c, 1);
    until = nt_now_ms() + 15000;
    while (nt_now_ms() < until && (st = health(c.rpc_port[0], status, sizeof status)) != 200)
        nt_sleep_ms(100);
    assert_int_equal(st, 200);
    assert_string_equal(status, "ok");
    nt_cluster_stop_clean(&c, 1);
    nt_cluster_stop_clean(&c, 0);
    nt_cluster_cleanup(&c);
}

/* The value of one line of /metrics, or -1. */
static long long metric(int port, const char *name)
{
    char *body = NULL;
    if (nt_http(port, "GET", "/metrics", NULL, 0, &body, NULL) != 200 || body == NULL) {
        free(body);
        return -1;
    }
    long long v = -1;
    size_t n = strlen(name);
    for (const char *p = body; (p = strstr(p, name)) != NULL; p += n)
        if ((p == body || p[-1] == '\n') && p[n] == ' ') {
            v = strtoll(p + n + 1, NULL, 10);
            break;
        }
    free(body);
    return v;
}

/* permit_pending_items{department} follows the pending index block by block,
 * and is counted again from the store when the node restarts. */
static void test_pending_items_per_department(void **state)
{
    (void)state;
    const char *market = "permit_pending_items{department=\"market\"}";
    const char *tobacco = "permit_pending_items{department=\"tobacco\"}";
    const char *fire = "permit_pending_items{department=\"fire\"}";
    nt_node nd;
    nt_init(&nd, NULL);
    nt_start(&nd, NULL);
    assert_int_equal(metric(nd.port, market), 0);
    char lid[2][80];
    const char *uscc[2] = {"91350100M000100Y43", "91320411MA1N2P3Q4G"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *tx = lt_apply(&nd.env, uscc[i], "convenience-store", 0, &len);
        json_t *r = nt_submit(nd.port, tx, len, "commit");
        free(tx);
        if (r == NULL || nt_error_code(r))
            fail_msg("apply %d: %s", i, r ? json_dumps(r, 0) : "no answer");
        snprintf(lid[i], sizeof lid[i], "%s",
                 json_string_value(json_object_get(json_object_get(r, "result"), "license_id")));
        json_decref(r);
    }
    /* convenience-store: one item of market, one of tobacco */
    assert_int_equal(metric(nd.port, market), 2);
    assert_int_equal(metric(nd.port, tobacco), 2);
    assert_int_equal(metric(nd.port, fire), 0);
    size_t len;
    uint8_t *tx = lt_decision(&nd.env, lt_dept(&nd.env, LT_MARKET), PERMIT__TX_KIND__APPROVE,
                              lid[0], NULL, 0, NULL, &len);
    json_t *r = nt_submit(nd.port, tx, len, "commit");
    free(tx);
    assert_int_equal(nt_error_code(r), 0);
    json_decref(r);
    assert_int_equal(metric(nd.port, market), 1);
    assert_int_equal(metric(nd.port, tobacco), 2);
    /* a rejection ends every item of the license: market's of lid[1] too */
    tx = lt_decision(&nd.env, lt_dept(&nd.env, LT_TOBACCO), PERMIT__TX_KIND__REJECT, lid[1],
                     NULL, 0, "no", &len);
    r = nt_submit(nd.port, tx, len, "commit");
    free(tx);
    assert_int_equal(nt_error_code(r), 0);
    json_decref(r);
    assert_int_equal(metric(nd.port, market), 0);
    assert_int_equal(metric(nd.port, tobacco), 1);
    /* counted again from the store after a restart */
    int wst = nt_signal_wait(&nd, SIGTERM);
    assert_true(WIFEXITED(wst));
    nt_start(&nd, NULL);
    assert_int_equal(metric(nd.port, market), 0);
    assert_int_equal(metric(nd.port, tobacco), 1);
    nt_signal_wait(&nd, SIGTERM);
    nt_cleanup(&nd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_log_in_a_file_reopened_on_sighup),
        cmocka_unit_test(test_flags_are_spelled_with_dashes_and_the_old_spelling_warns),
        cmocka_unit_test(test_health_is_stale_after_three_heartbeats_without_a_block),
        cmocka_unit_test(test_pending_items_per_department),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
