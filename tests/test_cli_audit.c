/* `permit audit` and `permit verify-chain` against a live permitd, and the
 * license.proof RPC: fetching and verifying bundles online and offline,
 * --out, checkpoints that detect a rewritten history, tampered bundle files
 * named by their failing check, verify-chain while the node runs and after
 * its database was tampered with, and the exit codes. */
#include "testutil.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/bundle.h"
#include "ledger/codec.h"
#include "ledger/hex.h"
#include "ledger/store.h"
#include "nodetest.h"

static nt_node g_nd;
static char g_rpc[64];
static char g_reg[600], g_market[600], g_tobacco[600];
static char g_genesis[600], g_dir[600];
static char g_id[64];

/* Run permit; returns the exit code, output (stdout then stderr) in *out. */
static int cli(char **out, ...)
{
    va_list ap;
    va_start(ap, out);
    int rc = nt_vpermit(g_rpc, out, ap);
    va_end(ap);
    return rc;
}

/* Run permit, require exit code `want` and `needle` in the output (when not
 * NULL). */
static void must(int want, const char *needle, ...)
{
    va_list ap;
    va_start(ap, needle);
    char *out = NULL;
    int rc = nt_vpermit(g_rpc, &out, ap);
    va_end(ap);
    if (rc != want || (needle && strstr(out, needle) == NULL)) {
        char msg[3000];
        snprintf(msg, sizeof msg, "%s", out);
        free(out);
        fail_msg("permit exited %d (expected %d, with \"%s\"):\n%s", rc, want,
                 needle ? needle : "", msg);
    }
    free(out);
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static int setup(void **state)
{
    (void)state;
    nt_init(&g_nd, NULL);
    nt_start(&g_nd, NULL);
    snprintf(g_rpc, sizeof g_rpc, "http://127.0.0.1:%d", g_nd.port);
    nt_path(&g_nd, "registrar.key", g_reg, sizeof g_reg);
    nt_path(&g_nd, "market.key", g_market, sizeof g_market);
    nt_path(&g_nd, "tobacco.key", g_tobacco, sizeof g_tobacco);
    nt_path(&g_nd, "config/genesis.json", g_genesis, sizeof g_genesis);
    nt_path(&g_nd, "audit", g_dir, sizeof g_dir);
    assert_int_equal(mkdir(g_dir, 0700), 0);
    ledger_err err;
    assert_int_equal(ledger_keyfile_write(g_reg, &g_nd.env.registrar, &err), 0);
    assert_int_equal(ledger_keyfile_write(g_market, &g_nd.env.dept[LT_MARKET], &err), 0);
    assert_int_equal(ledger_keyfile_write(g_tobacco, &g_nd.env.dept[LT_TOBACCO], &err), 0);
    char *out;
    int rc = cli(&out, "apply", "--key", g_reg, "--uscc", "91350100M000100Y43", "--name",
                 "新北便利店", "--legal-rep", "张三", "--industry", "convenience-store",
                 "--division", "320411", "--address", "新北区太湖东路1号", NULL);
    if (rc != 0)
        fail_msg("apply: %s", out);
    out[strcspn(out, "\n")] = '\0';
    snprintf(g_id, sizeof g_id, "%s", out);
    free(out);
    must(0, NULL, "approve", g_id, "--key", g_market, NULL);
    must(0, NULL, "approve", g_id, "--key", g_tobacco, NULL);
    must(0, NULL, "suspend", g_id, "--key", g_market, "--reason", "抽检不合格", NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nt_cleanup(&g_nd);
    return 0;
}

static void test_audit_online_then_offline_from_the_saved_bundle(void **state)
{
    (void)state;
    char bundle[700];
    path_in(bundle, sizeof bundle, "b1.bundle");
    must(0, "Status         SUSPENDED", "audit", g_id, "--genesis", g_genesis, "--out", bundle,
         NULL);
    char *out;
    assert_int_equal(cli(&out, "audit", g_id, "--genesis", g_genesis, NULL), 0);
    assert_non_null(strstr(out, "Events         4,"));
    assert_non_null(strstr(out, "Certified by   1 of 1 validators: market 市场监督管理局"));
    assert_non_null(strstr(out, "1 certificate, 2 log, 3 chain, 4 state, 5 replay: passed"));
    free(out);
    /* no node at all: an RPC address where nothing listens */
    int port = nt_free_port();
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", port);
    const char *argv[] = {PERMIT_BIN_DIR "/permit", "--rpc", dead, "--json", "audit",
                          "--bundle", bundle, "--genesis", g_genesis, NULL};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char buf[8192];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fds[0]);
    int wst;
    waitpid(pid, &wst, 0);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "SUSPENDED");
    assert_int_equal(json_integer_value(json_object_get(j, "events")), 4);
    assert_string_equal(json_string_value(json_object_get(j, "license_id")), g_id);
    json_t *by = json_object_get(j, "certified_by");
    assert_int_equal(json_array_size(by), 1);
    json_decref(j);
}

/* Rewrite a bundle file through the ledger's codec. */
static void tamper_file(const char *src, const char *dst, void (*fn)(ledger_bundle *))
{
    size_t len;
    char *raw = tu_read_file(src, &len);
    assert_non_null(raw);
    ledger_bundle b;
    ledger_err err;
    if (ledger_bundle_decode(&b, (const uint8_t *)raw, len, &err) != 0)
        fail_msg("decode: %s", err.msg);
    free(raw);
    fn(&b);
    uint8_t *out;
    assert_int_equal(ledger_bundle_encode(&b, &out, &len, &err), 0);
    ledger_bundle_free(&b);
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(out, 1, len, f), len);
    fclose(f);
    free(out);
}

static void hide_last_event(ledger_bundle *b)
{
    size_t i = b->n_events - 1;
    free(b->events[i].event);
    free(b->events[i].path);
    free(b->events[i].tx);
    b->n_events--;
}

static void test_a_tampered_bundle_file_fails_naming_the_check(void **state)
{
    (void)state;
    char good[700], bad[700];
    path_in(good, sizeof good, "b2.bundle");
    path_in(bad, sizeof bad, "b2-bad.bundle");
    must(0, NULL, "audit", g_id, "--genesis", g_genesis, "--out", good, NULL);
    tamper_file(good, bad, hide_last_event);
    must(4, "check 3 (chain) failed at event 2", "audit", "--bundle", bad, "--genesis",
         g_genesis, NULL);
    /* cut short */
    size_t len;
    char *raw = tu_read_file(good, &len);
    FILE *f = fopen(bad, "wb");
    assert_int_equal(fwrite(raw, 1, len / 3, f), len / 3);
    fclose(f);
    free(raw);
    must(4, "check 0 (bundle)", "audit", "--bundle", bad, "--genesis", g_genesis, NULL);
    /* the bundle of another chain's genesis */
    char other[700];
    path_in(other, sizeof other, "other-genesis.json");
    raw = tu_read_file(g_genesis, &len);
    char *p = strstr(raw, "\"permit-test\"");
    assert_non_null(p);
    memcpy(p, "\"permit-tesX\"", 13);
    f = fopen(other, "wb");
    fwrite(raw, 1, len, f);
    fclose(f);
    free(raw);
    must(4, "check 1 (certificate)", "audit", "--bundle", good, "--genesis", other, NULL);
}

static void test_a_checkpoint_is_created_extended_and_catches_a_rewrite(void **state)
{
    (void)state;
    char cp[700];
    path_in(cp, sizeof cp, "checkpoint.json");
    must(0, "created at block", "audit", g_id, "--genesis", g_genesis, "--checkpoint", cp, NULL);
    size_t len;
    char *raw = tu_read_file(cp, &len);
    json_t *j = json_loads(raw, 0, NULL);
    free(raw);
    assert_non_null(j);
    json_int_t h1 = json_integer_value(json_object_get(j, "height"));
    json_int_t s1 = json_integer_value(json_object_get(j, "log_size"));
    assert_true(h1 > 0 && s1 > 0);
    json_decref(j);
    /* the chain goes on: the next audit proves the log extends the saved one */
    must(0, NULL, "resume", g_id, "--key", g_market, "--reason", "整改完成", NULL);
    must(0, "extends the checkpoint's", "audit", g_id, "--genesis", g_genesis,
         "--checkpoint", cp, NULL);
    raw = tu_read_file(cp, &len);
    j = json_loads(raw, 0, NULL);
    free(raw);
    assert_true(json_integer_value(json_object_get(j, "log_size")) > s1);
    /* a checkpoint whose root differs: the history it saw was not this one */
    char hex[65];
    memset(hex, 'a', 64);
    hex[64] = '\0';
    json_object_set_new(j, "log_root", json_string(hex));
    json_object_set_new(j, "log_size", json_integer(s1));
    char forged[700];
    path_in(forged, sizeof forged, "forged.json");
    assert_int_equal(json_dump_file(j, forged, 0), 0);
    json_decref(j);
    must(4, "check 6 (consistency)", "audit", g_id, "--genesis", g_genesis, "--checkpoint",
         forged, NULL);
    /* and a failed audit leaves the checkpoint as it was */
    raw = tu_read_file(forged, &len);
    assert_non_null(strstr(raw, "aaaaaaaa"));
    free(raw);
    /* not a checkpoint at all */
    FILE *f = fopen(forged, "w");
    fputs("{\"chain_id\": 5}", f);
    fclose(f);
    must(1, "not a checkpoint", "audit", g_id, "--genesis", g_genesis, "--checkpoint", forged,
         NULL);
}

/* Run permit with --json; the JSON value of its output (a warning on
 * stderr may come first or after).  Requires exit code `want`. */
static json_t *cli_json(int want, ...)
{
    va_list ap;
    va_start(ap, want);
    char *out = NULL;
    int rc = nt_vpermit(g_rpc, &out, ap);
    va_end(ap);
    if (rc != want) {
        char msg[3000];
        snprintf(msg, sizeof msg, "%s", out);
        free(out);
        fail_msg("permit exited %d (expected %d):\n%s", rc, want, msg);
    }
    json_error_t je;
    const char *start = strstr(out, "\n{");
    start = out[0] == '{' || start == NULL ? out : start + 1;
    json_t *j = json_loads(start, JSON_DISABLE_EOF_CHECK, &je);
    if (j == NULL)
        fail_msg("not JSON: %s", out);
    free(out);
    return j;
}

static json_int_t jint(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    if (!json_is_integer(v))
        fail_msg("no integer \"%s\"", k);
    return json_integer_value(v);
}

static json_t *read_json(const char *path)
{
    size_t len;
    char *raw = tu_read_file(path, &len);
    assert_non_null(raw);
    json_t *j = json_loadb(raw, len, 0, NULL);
    free(raw);
    assert_non_null(j);
    return j;
}

static void test_a_verdict_states_its_age_and_max_age_refuses_a_stale_one(void **state)
{
    (void)state;
    char bundle[700];
    path_in(bundle, sizeof bundle, "age.bundle");
    json_t *j = cli_json(0, "--json", "audit", g_id, "--genesis", g_genesis, "--out", bundle,
                         NULL);
    json_int_t t = jint(j, "time");
    assert_int_equal(jint(j, "stale_after_ms"), 3 * 2000); /* three heartbeats of 2s */
    json_decref(j);
    char now[32];
    /* just certified: the age, no warning */
    snprintf(now, sizeof now, "%lld", (long long)t + 1500);
    char *out;
    assert_int_equal(cli(&out, "audit", "--bundle", bundle, "--genesis", g_genesis, "--now",
                         now, NULL), 0);
    assert_non_null(strstr(out, "Age            1s, by the clock of --now ("));
    assert_null(strstr(out, "Warning"));
    assert_null(strstr(out, "warning"));
    assert_non_null(strstr(out, "Proves         the license as it stood at block"));
    free(out);
    /* seven hours later: still exit 0 (it is genuine), with a clear warning */
    snprintf(now, sizeof now, "%lld", (long long)t + 7 * 3600000LL);
    assert_int_equal(cli(&out, "audit", "--bundle", bundle, "--genesis", g_genesis, "--now",
                         now, NULL), 0);
    assert_non_null(strstr(out, "Age            7h, by the clock of --now ("));
    assert_non_null(strstr(out, "Warning        the certified block is 7h old, more than three "
                                "heartbeats (6s)"));
    assert_non_null(strstr(out, "permit: warning: the certified block is 7h old"));
    free(out);
    j = cli_json(0, "--json", "audit", "--bundle", bundle, "--genesis", g_genesis, "--now", now,
                 NULL);
    assert_int_equal(jint(j, "age_ms"), 7 * 3600000LL);
    assert_int_equal(jint(j, "now"), t + 7 * 3600000LL);
    assert_true(json_is_true(json_object_get(j, "stale")));
    assert_true(json_is_null(json_object_get(j, "max_age_ms")));
    assert_string_equal(json_string_value(json_object_get(j, "status_now")), "ISSUED");
    json_decref(j);
    /* --max-age refuses it, naming the check; within it, it passes */
    must(4, "check 8 (freshness) failed at block", "audit", "--bundle", bundle, "--genesis",
         g_genesis, "--now", now, "--max-age", "1h", NULL);
    must(4, "7h old, more than the 1h allowed", "audit", "--bundle", bundle, "--genesis",
         g_genesis, "--now", now, "--max-age", "1h", NULL);
    must(0, "8 freshness: passed", "audit", "--bundle", bundle, "--genesis", g_genesis, "--now",
         now, "--max-age", "8h", NULL);
    j = cli_json(0, "--json", "audit", "--bundle", bundle, "--genesis", g_genesis, "--now", now,
                 "--max-age", "1d", NULL);
    assert_int_equal(jint(j, "max_age_ms"), 86400000);
    json_decref(j);
    /* an expiry the block's time hid: twenty years on */
    snprintf(now, sizeof now, "%lld", (long long)t + 20 * 365 * 86400000LL);
    must(0, "Expired        the license expired at", "audit", "--bundle", bundle, "--genesis",
         g_genesis, "--now", now, NULL);
    j = cli_json(0, "--json", "audit", "--bundle", bundle, "--genesis", g_genesis, "--now", now,
                 NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ISSUED");
    assert_string_equal(json_string_value(json_object_get(j, "status_now")), "EXPIRED");
    json_decref(j);
    /* usage */
    must(1, "--max-age", "audit", "--bundle", bundle, "--genesis", g_genesis, "--max-age", "7",
         NULL);
    must(1, "--max-age", "audit", "--bundle", bundle, "--genesis", g_genesis, "--max-age", "0s",
         NULL);
    must(1, "--now", "audit", "--bundle", bundle, "--genesis", g_genesis, "--now", "yesterday",
         NULL);
}

/* The defect of the attack review: blocks without events (heartbeats) keep
 * the log size, and a bundle of an older block was accepted against a newer
 * checkpoint, which then moved back. */
static void test_a_checkpoint_never_moves_back(void **state)
{
    (void)state;
    char old[700], cp[700];
    path_in(old, sizeof old, "older.bundle");
    path_in(cp, sizeof cp, "forward.json");
    json_t *j = cli_json(0, "--json", "audit", g_id, "--genesis", g_genesis, "--out", old, NULL);
    json_int_t h1 = jint(j, "height"), s1 = jint(j, "log_size");
    json_decref(j);
    /* wait for a newer certified block: heartbeats every 2s, no event */
    json_int_t h2 = h1, s2 = s1;
    for (int i = 0; i < 150 && h2 <= h1; i++) {
        nt_sleep_ms(100);
        j = cli_json(0, "--json", "audit", g_id, "--genesis", g_genesis, "--checkpoint", cp,
                     NULL);
        h2 = jint(j, "height");
        s2 = jint(j, "log_size");
        json_decref(j);
    }
    assert_true(h2 > h1);
    assert_int_equal(s2, s1); /* the same log: only the height tells them apart */
    j = read_json(cp);
    assert_int_equal(jint(j, "height"), h2);
    assert_int_equal(jint(j, "log_size"), s1);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "block_hash"))), 64);
    assert_true(jint(j, "time") > 0);
    json_decref(j);
    /* the older bundle against the newer checkpoint: refused, saying which
     * is newer, and the checkpoint stays */
    char want[200];
    snprintf(want, sizeof want, "check 7 (rollback) failed at block %lld: the checkpoint held "
             "is newer: it is of block %lld", (long long)h1, (long long)h2);
    must(4, want, "audit", "--bundle", old, "--genesis", g_genesis, "--checkpoint", cp, NULL);
    j = read_json(cp);
    assert_int_equal(jint(j, "height"), h2);
    json_decref(j);
    /* the same from a checkpoint written before block_hash and time were
     * kept: still refused; a newer bundle upgrades the file */
    char bare[700];
    path_in(bare, sizeof bare, "bare.json");
    j = read_json(cp);
    json_object_del(j, "block_hash");
    json_object_del(j, "time");
    assert_int_equal(json_dump_file(j, bare, 0), 0);
    json_decref(j);
    must(4, "check 7 (rollback)", "audit", "--bundle", old, "--genesis", g_genesis,
         "--checkpoint", bare, NULL);
    must(0, NULL, "audit", g_id, "--genesis", g_genesis, "--checkpoint", bare, NULL);
    j = read_json(bare);
    assert_non_null(json_object_get(j, "block_hash"));
    assert_true(jint(j, "height") >= h2);
    json_decref(j);
    /* a checkpoint that is neither whole nor old: block_hash without time */
    j = read_json(cp);
    json_object_del(j, "time");
    assert_int_equal(json_dump_file(j, bare, 0), 0);
    json_decref(j);
    must(1, "not a checkpoint", "audit", g_id, "--genesis", g_genesis, "--checkpoint", bare,
         NULL);
}

/* A node that lags behind the checkpoint: at the same log size it answers
 * with an older block; with a shorter log it cannot prove consistency and
 * the audit fetches what it has.  Either way: refused, check 7, exit 4. */
static void test_a_node_behind_the_checkpoint_is_refused_as_rollback(void **state)
{
    (void)state;
    char cp[700];
    path_in(cp, sizeof cp, "ahead.json");
    must(0, NULL, "audit", g_id, "--genesis", g_genesis, "--checkpoint", cp, NULL);
    json_t *j = read_json(cp);
    json_int_t h = jint(j, "height"), s = jint(j, "log_size");
    /* as if this auditor had seen block h+1000 of the same log */
    json_object_set_new(j, "height", json_integer(h + 1000));
    json_object_set_new(j, "time", json_integer(jint(j, "time") + 2000000));
    assert_int_equal(json_dump_file(j, cp, 0), 0);
    must(4, "check 7 (rollback)", "audit", g_id, "--genesis", g_genesis, "--checkpoint", cp,
         NULL);
    /* and of a longer log */
    json_object_set_new(j, "log_size", json_integer(s + 5));
    assert_int_equal(json_dump_file(j, cp, 0), 0);
    json_decref(j);
    must(4, "the checkpoint held is newer", "audit", g_id, "--genesis", g_genesis,
         "--checkpoint", cp, NULL);
    j = read_json(cp);
    assert_int_equal(jint(j, "height"), h + 1000);
    assert_int_equal(jint(j, "log_size"), s + 5);
    json_decref(j);
}

static void test_license_proof_rpc(void **state)
{
    (void)state;
    json_t *p = json_pack("{s:s}", "id", g_id);
    json_t *r = nt_rpc(g_nd.port, "license.proof", p);
    json_decref(p);
    json_t *res = json_object_get(r, "result");
    assert_non_null(res);
    assert_string_equal(json_string_value(json_object_get(res, "license_id")), g_id);
    const char *b64 = json_string_value(json_object_get(res, "bundle"));
    assert_non_null(b64);
    size_t cap = strlen(b64), len;
    uint8_t *bytes = malloc(cap);
    assert_int_equal(ledger_b64_decode(b64, strlen(b64), bytes, cap, &len), 0);
    assert_int_equal(len, (size_t)json_integer_value(json_object_get(res, "bytes")));
    ledger_bundle b;
    ledger_err err;
    assert_int_equal(ledger_bundle_decode(&b, bytes, len, &err), 0);
    ledger_header h;
    assert_int_equal(ledger_header_decode(&h, b.header, b.header_len, &err), 0);
    assert_int_equal(h.height, (uint64_t)json_integer_value(json_object_get(res, "height")));
    ledger_bundle_free(&b);
    free(bytes);
    json_decref(r);
    /* errors */
    r = nt_rpc(g_nd.port, "license.proof", NULL);
    assert_int_equal(nt_error_code(r), -32602);
    json_decref(r);
    p = json_pack("{s:s}", "id", "PL-320411-2020-999999");
    r = nt_rpc(g_nd.port, "license.proof", p);
    assert_int_equal(nt_error_code(r), 1001);
    assert_string_equal(nt_error_rule(r), "license_not_found");
    json_decref(r);
    json_decref(p);
    p = json_pack("{s:s, s:I}", "id", g_id, "since_log_size", (json_int_t)1 << 40);
    r = nt_rpc(g_nd.port, "license.proof", p);
    assert_int_equal(nt_error_code(r), -32602);
    json_decref(r);
    json_decref(p);
    p = json_pack("{s:s, s:i}", "id", g_id, "since", 1);
    r = nt_rpc(g_nd.port, "license.proof", p);
    assert_int_equal(nt_error_code(r), -32602);
    json_decref(r);
    json_decref(p);
}

static void test_audit_exit_codes(void **state)
{
    (void)state;
    char bundle[700];
    path_in(bundle, sizeof bundle, "b1.bundle");
    must(1, "either LICENSE", "audit", g_id, "--bundle", bundle, "--genesis", g_genesis, NULL);
    must(1, "missing argument LICENSE", "audit", "--genesis", g_genesis, NULL);
    must(1, "--genesis", "audit", g_id, NULL);
    must(1, "--bundle", "audit", "--bundle", "/nonexistent/file", "--genesis", g_genesis, NULL);
    must(5, NULL, "audit", "PL-320411-2020-999999", "--genesis", g_genesis, NULL);
    int port = nt_free_port();
    char dead[64];
    snprintf(dead, sizeof dead, "--rpc=http://127.0.0.1:%d", port);
    must(3, NULL, dead, "audit", g_id, "--genesis", g_genesis, NULL);
}

/* Last: stops the node to tamper with its database. */
static void test_verify_chain_while_running_and_after_tampering(void **state)
{
    (void)state;
    must(0, "every root and certificate checks out", "verify-chain", "--home", g_nd.home, NULL);
    /* progress lines (stderr), here after every block */
    must(0, "verify-chain: block 1 of ", "verify-chain", "--home", g_nd.home, "--progress", "1",
         NULL);
    must(1, "--progress", "verify-chain", "--home", g_nd.home, "--progress", "soon", NULL);
    assert_int_equal(nt_signal_wait(&g_nd, SIGTERM) & 0x7f, 0);
    must(0, NULL, "verify-chain", "--home", g_nd.home, NULL);
    /* one byte of a stored transaction changed */
    char db[700];
    nt_path(&g_nd, "data/db", db, sizeof db);
    ledger_store *st;
    ledger_err err;
    assert_int_equal(ledger_store_open(&st, db, &err), 0);
    ledger_iter *it = ledger_iter_new(st, CF_TXS);
    ledger_iter_seek_first(it);
    assert_true(ledger_iter_valid(it));
    size_t kl, vl;
    uint8_t key[32], *val;
    memcpy(key, ledger_iter_key(it, &kl), 32);
    const uint8_t *v = ledger_iter_value(it, &vl);
    val = malloc(vl);
    memcpy(val, v, vl);
    ledger_iter_free(it);
    uint64_t height = ledger_rd_be64(val);
    val[vl - 1] ^= 0x01; /* the last byte of the body */
    ledger_batch *b = ledger_batch_new(st);
    ledger_batch_put(b, CF_TXS, key, 32, val, vl);
    assert_int_equal(ledger_store_write(st, b, 1, &err), 0);
    ledger_batch_free(b);
    char want[64];
    snprintf(want, sizeof want, "block %llu", (unsigned long long)height);
    ledger_store_close(st);
    must(4, want, "verify-chain", "--home", g_nd.home, NULL);
    /* put it back; then break a certificate instead */
    val[vl - 1] ^= 0x01;
    assert_int_equal(ledger_store_open(&st, db, &err), 0);
    b = ledger_batch_new(st);
    ledger_batch_put(b, CF_TXS, key, 32, val, vl);
    uint8_t hk[8], *cv;
    size_t cl;
    ledger_be64(hk, 2);
    assert_int_equal(ledger_store_get(st, CF_COMMITS, hk, 8, &cv, &cl, &err), 1);
    cv[cl - 1] ^= 0x01; /* inside the signature */
    ledger_batch_put(b, CF_COMMITS, hk, 8, cv, cl);
    assert_int_equal(ledger_store_write(st, b, 1, &err), 0);
    ledger_batch_free(b);
    ledger_store_close(st);
    free(cv);
    free(val);
    must(4, "block 2: certificate", "verify-chain", "--home", g_nd.home, NULL);
    must(1, NULL, "verify-chain", "--home", "/nonexistent", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_online_then_offline_from_the_saved_bundle),
        cmocka_unit_test(test_a_tampered_bundle_file_fails_naming_the_check),
        cmocka_unit_test(test_a_checkpoint_is_created_extended_and_catches_a_rewrite),
        cmocka_unit_test(test_a_verdict_states_its_age_and_max_age_refuses_a_stale_one),
        cmocka_unit_test(test_a_checkpoint_never_moves_back),
        cmocka_unit_test(test_a_node_behind_the_checkpoint_is_refused_as_rollback),
        cmocka_unit_test(test_license_proof_rpc),
        cmocka_unit_test(test_audit_exit_codes),
        cmocka_unit_test(test_verify_chain_while_running_and_after_tampering),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
