/* The permit CLI against a live permitd: the whole license lifecycle, every
 * status transition, and every exit code of DESIGN §8. */
#include "testutil.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "ledger/hex.h"
#include "nodetest.h"

static nt_node g_nd;
static char g_keys[LT_NDEPT + 1][600]; /* seal key files, registrar last */
static char g_holder[600], g_holder_pub[65]; /* the applicant's e-seal key */
static char g_pledge[600];                   /* the pledge text the holder signs */
static char g_rpc[64];

/* How long a license may take to show as expired once its validity is
 * over: heartbeat blocks (every 500 ms) carry the block time past it, on a
 * slow machine too.  Renewal stays open (grace) well beyond this. */
#define EXPIRY_WAIT_MS 60000

/* short-lived licenses for expiry and renewal: 4 s validity, a 3 s renewal
 * window before expiry and a grace period after it longer than any wait */
static void fast_kiosk(json_t *root)
{
    json_t *inds = json_object_get(root, "industries");
    for (size_t i = 0; i < json_array_size(inds); i++) {
        json_t *ind = json_array_get(inds, i);
        if (strcmp(json_string_value(json_object_get(ind, "code")), "kiosk") == 0) {
            json_object_set_new(ind, "validity", json_string("4s"));
            json_object_set_new(ind, "renew_window", json_string("3s"));
            json_object_set_new(ind, "grace", json_string("180s"));
        }
        /* the commitment route's deadline passes within seconds, while the
         * license is inside its renewal window (OVERDUE) */
        if (strcmp(json_string_value(json_object_get(ind, "code")), "bakery") == 0) {
            json_object_set_new(ind, "validity", json_string("600s"));
            json_object_set_new(ind, "renew_window", json_string("599s"));
            json_object_set_new(ind, "verify_within", json_string("2s"));
            json_object_set_new(ind, "grace", json_string("180s"));
        }
    }
    json_object_set_new(json_object_get(root, "params"), "heartbeat", json_string("500ms"));
    /* 秒批: a flower stall's one permit item is decided by the rule instant */
    json_t *stall = json_pack("{s:s, s:s, s:s, s:b, s:s}", "code", "flower-stall", "name",
                              "花卉摊点", "validity", "3y", "commitment_allowed", 1,
                              "verify_within", "30d");
    json_object_set_new(stall, "items",
                        json_pack("[{s:s, s:s, s:b}]", "permit", "食品经营备案（仅销售预包装食品）",
                                  "department", "market", "instant", 1));
    json_array_append_new(inds, stall);
}

static int setup(void **state)
{
    (void)state;
    nt_init(&g_nd, fast_kiosk);
    nt_start(&g_nd, NULL);
    snprintf(g_rpc, sizeof g_rpc, "http://127.0.0.1:%d", g_nd.port);
    static const char *const names[LT_NDEPT] = {"approval", "market", "tobacco",
                                                "fire",     "health", "police"};
    ledger_err err;
    for (int d = 0; d <= LT_NDEPT; d++) {
        char rel[64];
        snprintf(rel, sizeof rel, "%s.key", d < LT_NDEPT ? names[d] : "registrar");
        nt_path(&g_nd, rel, g_keys[d], sizeof g_keys[d]);
        const ledger_keypair *kp = d < LT_NDEPT ? &g_nd.env.dept[d] : &g_nd.env.registrar;
        assert_int_equal(ledger_keyfile_write(g_keys[d], kp, &err), 0);
    }
    nt_path(&g_nd, "holder.key", g_holder, sizeof g_holder);
    assert_int_equal(ledger_keyfile_write(g_holder, &g_nd.env.holder, &err), 0);
    ledger_hex_encode(g_nd.env.holder.pub, 32, g_holder_pub);
    nt_path(&g_nd, "pledge.txt", g_pledge, sizeof g_pledge);
    FILE *f = fopen(g_pledge, "w");
    assert_non_null(f);
    fputs("本公司承诺：申报信息真实，经营条件符合要求，承担不实承诺的责任。\n", f);
    assert_int_equal(fclose(f), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int wst = nt_signal_wait(&g_nd, SIGTERM);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    nt_cleanup(&g_nd);
    return 0;
}

#define REG (g_keys[LT_NDEPT])
#define KEY(d) (g_keys[d])

static int cli(char **out, ...)
{
    va_list ap;
    va_start(ap, out);
    int rc = nt_vpermit(g_rpc, out, ap);
    va_end(ap);
    return rc;
}

/* Run permit and require exit code `want`. */
static void must(int want, ...)
{
    va_list ap;
    va_start(ap, want);
    char *out = NULL;
    int rc = nt_vpermit(g_rpc, &out, ap);
    va_end(ap);
    if (rc != want) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", out);
        free(out);
        fail_msg("permit exited %d, expected %d:\n%s", rc, want, msg);
    }
    free(out);
}

/* The holder's pledge signature for uscc and industry (permit pledge sign,
 * the chain id asked from the node), into sig (129 bytes). */
static void pledge_sign(const char *uscc, const char *industry, char *sig)
{
    char *out;
    int rc = cli(&out, "pledge", "sign", "--key", g_holder, "--uscc", uscc, "--industry",
                 industry, "--text", g_pledge, NULL);
    if (rc != 0)
        fail_msg("pledge sign failed (%d): %s", rc, out);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(strlen(out), 128);
    strcpy(sig, out);
    free(out);
}

/* apply and return the license id (trimmed); the commitment route with the
 * holder's pledge */
static void apply(const char *uscc, const char *industry, int commitment, char *id)
{
    char *out, sig[129] = "";
    if (commitment)
        pledge_sign(uscc, industry, sig);
    int rc = commitment
                 ? cli(&out, "apply", "--key", REG, "--uscc", uscc, "--name", "新北便利店",
                       "--legal-rep", "张三", "--industry", industry, "--division", "320411",
                       "--address", "新北区太湖东路1号", "--commitment", "--holder-key",
                       g_holder_pub, "--pledge-text", g_pledge, "--pledge-sig", sig, NULL)
                 : cli(&out, "apply", "--key", REG, "--uscc", uscc, "--name", "新北便利店",
                       "--legal-rep", "张三", "--industry", industry, "--division", "320411",
                       "--address", "新北区太湖东路1号", NULL);
    if (rc != 0)
        fail_msg("apply failed (%d): %s", rc, out);
    out[strcspn(out, "\n")] = '\0';
    assert_true(strncmp(out, "PL-320411-", 10) == 0);
    strcpy(id, out);
    free(out);
}

/* The status of a license from `show`, malloc'd. */
static char *status_of(const char *id)
{
    char *out;
    int rc = cli(&out, "--json", "show", id, NULL);
    if (rc != 0)
        fail_msg("show %s exited %d:\n%s", id, rc, out);
    json_t *j = json_loads(out, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "status"));
    if (s == NULL)
        fail_msg("show %s: no status:\n%s", id, out);
    char *status = strdup(s);
    json_decref(j);
    free(out);
    return status;
}

static void expect_status(const char *id, const char *status)
{
    char *s = status_of(id);
    if (strcmp(s, status) != 0)
        fail_msg("%s: expected %s, the node says %s", id, status, s);
    free(s);
}

/* Poll until the license shows `status`, at most wait_ms. */
static void await_status(const char *id, const char *status, uint64_t wait_ms)
{
    uint64_t until = nt_now_ms() + wait_ms;
    for (;;) {
        char *s = status_of(id);
        int done = strcmp(s, status) == 0;
        if (!done && nt_now_ms() > until)
            fail_msg("%s: still %s after %llu ms, expected %s", id, s,
                     (unsigned long long)wait_ms, status);
        free(s);
        if (done)
            return;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void test_every_status_transition_through_the_cli(void **state)
{
    (void)state;
    char a[64], b[64], c[64], d[64], e[64];
    char *out;
    /* PENDING -> ISSUED */
    apply("91350100M000100Y43", "convenience-store", 0, a);
    expect_status(a, "PENDING");
    must(0, "approve", a, "--key", KEY(LT_MARKET), NULL);
    expect_status(a, "PENDING");
    must(0, "approve", a, "--key", KEY(LT_TOBACCO), NULL);
    expect_status(a, "ISSUED");
    /* ISSUED <-> SUSPENDED, then REVOKED */
    must(0, "suspend", a, "--key", KEY(LT_MARKET), "--reason", "抽检不合格", NULL);
    expect_status(a, "SUSPENDED");
    must(0, "resume", a, "--key", KEY(LT_MARKET), "--reason", "整改完成", NULL);
    expect_status(a, "ISSUED");
    must(0, "revoke", a, "--key", KEY(LT_TOBACCO), "--reason", "无证经营卷烟", NULL);
    expect_status(a, "REVOKED");
    /* PENDING -> REJECTED */
    apply("91350100M000100Y43", "hotel", 0, b);
    must(0, "reject", b, "--key", KEY(LT_FIRE), "--reason", "消防通道不达标", NULL);
    expect_status(b, "REJECTED");
    /* commitment route: ISSUED_UNVERIFIED -> ISSUED; then CANCELLED */
    apply("91350100M000100Y43", "convenience-store", 1, c);
    expect_status(c, "ISSUED_UNVERIFIED");
    must(0, "verify", c, "--key", KEY(LT_MARKET), NULL);
    must(0, "verify", c, "--key", KEY(LT_TOBACCO), NULL);
    expect_status(c, "ISSUED");
    must(0, "address", "add", c, "--key", REG, "--division", "320411001", "--address",
             "新北区珠江路5号", NULL);
    must(0, "address", "add", c, "--key", REG, "--division", "320411002", "--address",
             "新北区衡山路8号", NULL);
    cli(&out, "address", "list", c, NULL);
    assert_non_null(strstr(out, "新北区衡山路8号"));
    free(out);
    must(0, "address", "remove", c, "--key", REG, "--address-id", "2", NULL);
    must(0, "amend", c, "--key", REG, "--name", "新北便利店二号", NULL);
    cli(&out, "--json", "history", c, NULL);
    assert_non_null(strstr(out, "\"before\""));
    free(out);
    must(0, "cancel", c, "--key", REG, "--reason", "歇业", NULL);
    expect_status(c, "CANCELLED");
    /* a false commitment: ISSUED_UNVERIFIED -> REVOKED */
    apply("91350100M000100Y43", "convenience-store", 1, d);
    must(0, "revoke", d, "--key", KEY(LT_MARKET), "--reason", "承诺不实", NULL);
    expect_status(d, "REVOKED");
    /* ISSUED -> EXPIRED (derived from block time) -> renewed -> ISSUED */
    apply("91350100M000100Y43", "kiosk", 0, e);
    must(0, "approve", e, "--key", KEY(LT_MARKET), NULL);
    expect_status(e, "ISSUED");
    cli(&out, "expiring", "--within", "1", NULL);
    assert_non_null(strstr(out, e));
    free(out);
    await_status(e, "EXPIRED", EXPIRY_WAIT_MS); /* heartbeat blocks carry the time forward */
    must(0, "renew", e, "--key", REG, NULL);
    expect_status(e, "ISSUED");
    /* queries */
    cli(&out, "search", "--uscc", "91350100M000100Y43", NULL);
    assert_non_null(strstr(out, a));
    assert_non_null(strstr(out, e));
    free(out);
    cli(&out, "--json", "search", "--status", "REVOKED", NULL);
    assert_non_null(strstr(out, a));
    assert_non_null(strstr(out, d));
    free(out);
    char f[64];
    apply("91350100M000100Y43", "hotel", 0, f);
    cli(&out, "pending", "--department", "police", NULL);
    assert_non_null(strstr(out, f));
    free(out);
    cli(&out, "overdue", NULL);
    free(out);
    must(0, "block", NULL);
    must(0, "status", NULL);
}

/* 无感智办 through the CLI against a real node: the commitment application
 * carries the holder's pledge (refused without it), the license names the
 * holder key and pledge; a registrar names the holder of another license
 * (permit holder set); inside the renewal window the holder's own key
 * renews, another key is refused. */
static void test_holder_pledge_and_confirmed_renewal(void **state)
{
    (void)state;
    char *out;
    int rc = cli(&out, "apply", "--key", REG, "--uscc", "91320411MA1P4QJ727", "--name", "报刊亭",
                 "--legal-rep", "王五", "--industry", "kiosk", "--division", "320411",
                 "--address", "新北区通江路2号", "--commitment", NULL);
    if (rc != 2 || strstr(out, "pledge_required") == NULL)
        fail_msg("commitment apply without a pledge: exit %d:\n%s", rc, out);
    free(out);
    char id[64];
    apply("91320411MA1P4QJ727", "kiosk", 1, id);
    cli(&out, "show", id, NULL);
    assert_non_null(strstr(out, g_holder_pub));
    assert_non_null(strstr(out, "Pledge"));
    free(out);
    cli(&out, "history", id, NULL);
    assert_non_null(strstr(out, "pledge_sig"));
    free(out);
    must(0, "verify", id, "--key", KEY(LT_MARKET), NULL);
    await_status(id, "ISSUED", EXPIRY_WAIT_MS);
    /* inside the window (kiosk: 4 s validity, 3 s window): another key is
     * refused, the holder's confirmation renews */
    char expires[64], *st;
    cli(&st, "--json", "show", id, NULL);
    json_t *j = json_loads(st, 0, NULL);
    assert_non_null(j);
    snprintf(expires, sizeof expires, "%lld",
             (long long)json_integer_value(json_object_get(j, "expires_at")));
    json_decref(j);
    free(st);
    char other[600];
    nt_path(&g_nd, "other-holder.key", other, sizeof other);
    ledger_err err;
    assert_int_equal(ledger_keyfile_write(other, &g_nd.env.outsider, &err), 0);
    rc = cli(&out, "renew", id, "--key", other, NULL);
    if (rc != 2 || strstr(out, "signer_not_holder") == NULL)
        fail_msg("renew by another key: exit %d:\n%s", rc, out);
    free(out);
    for (int tries = 0;; tries++) {
        rc = cli(&out, "renew", id, "--key", g_holder, NULL);
        if (rc == 0) {
            free(out);
            break;
        }
        /* until the window opens (block time), the window rule refuses it */
        if (tries > 100 || rc != 2 || strstr(out, "renew_window") == NULL)
            fail_msg("renew by the holder: exit %d:\n%s", rc, out);
        free(out);
        usleep(100 * 1000);
    }
    cli(&st, "--json", "show", id, NULL);
    j = json_loads(st, 0, NULL);
    assert_non_null(j);
    assert_true(json_integer_value(json_object_get(j, "expires_at")) > atoll(expires));
    json_decref(j);
    free(st);
    cli(&out, "history", id, NULL);
    assert_non_null(strstr(out, g_holder_pub)); /* the RENEW's signer */
    free(out);
    /* a license filed without a holder gets one from a registrar */
    char plain[64];
    apply("91320411MA1P4QJ727", "bakery", 0, plain);
    must(2, "holder", "set", plain, "--key", g_holder, "--holder-key", g_holder, NULL);
    must(0, "holder", "set", plain, "--key", REG, "--holder-key", g_holder, NULL);
    cli(&out, "--json", "show", plain, NULL);
    assert_non_null(strstr(out, g_holder_pub));
    free(out);
}

/* DESIGN §2 OVERDUE: a commitment-route license past its verification
 * deadline is refused renewal (the report: it was renewed and stayed
 * ISSUED_UNVERIFIED), is listed by `permit overdue`, and once verified with
 * evidence (shown by `history`) is ISSUED and renews. */
static void test_overdue_refused_renewal_then_verified(void **state)
{
    (void)state;
    char id[64];
    char *out;
    apply("91320411MA1MXL8Q2F", "bakery", 1, id);
    await_status(id, "OVERDUE", EXPIRY_WAIT_MS); /* heartbeat blocks carry the time */
    int rc = cli(&out, "renew", id, "--key", REG, NULL);
    if (rc != 2 || strstr(out, "license_overdue") == NULL)
        fail_msg("renew of an overdue license: exit %d:\n%s", rc, out);
    free(out);
    rc = cli(&out, "amend", id, "--key", REG, "--name", "新北区麦香烘焙坊", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "license_overdue"));
    free(out);
    cli(&out, "overdue", NULL);
    assert_non_null(strstr(out, id));
    free(out);
    cli(&out, "--json", "search", "--status", "OVERDUE", NULL);
    assert_non_null(strstr(out, id));
    free(out);
    /* a second application of the same USCC and industry is refused meanwhile */
    char sig[129];
    pledge_sign("91320411MA1MXL8Q2F", "bakery", sig);
    rc = cli(&out, "apply", "--key", REG, "--uscc", "91320411MA1MXL8Q2F", "--name", "麦香",
             "--legal-rep", "李四", "--industry", "bakery", "--division", "320411",
             "--address", "新北区珠江路88号", "--commitment", "--holder-key", g_holder_pub,
             "--pledge-text", g_pledge, "--pledge-sig", sig, NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "license_duplicate"));
    free(out);
    /* verified with evidence of a remote check (VR cloud inspection) */
    must(1, "verify", id, "--key", KEY(LT_MARKET), "--evidence", "phone", "--evidence-sha256",
         "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", NULL);
    must(0, "verify", id, "--key", KEY(LT_MARKET), "--evidence", "remote_video",
         "--evidence-sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
         "--evidence-note", "视频核查：后厨与证照一致", NULL);
    expect_status(id, "ISSUED");
    cli(&out, "history", id, NULL);
    assert_non_null(strstr(out, "remote_video"));
    assert_non_null(strstr(out, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    assert_non_null(strstr(out, "视频核查：后厨与证照一致"));
    free(out);
    /* the audit reads it from the proof bundle, offline from genesis */
    char gpath[600];
    nt_path(&g_nd, "config/genesis.json", gpath, sizeof gpath);
    rc = cli(&out, "audit", id, "--genesis", gpath, NULL);
    if (rc != 0)
        fail_msg("audit exited %d:\n%s", rc, out);
    assert_non_null(strstr(out, "remote_video, sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"));
    assert_non_null(strstr(out, "视频核查：后厨与证照一致"));
    free(out);
    rc = cli(&out, "--json", "audit", id, "--genesis", gpath, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"evidence\""));
    free(out);
    cli(&out, "overdue", NULL);
    assert_null(strstr(out, id));
    free(out);
    must(0, "renew", id, "--key", REG, NULL);
    expect_status(id, "ISSUED");
}

/* 秒批 through the CLI against the node: the catalogue lists the instant
 * item, the commitment APPLY comes back ISSUED from its own block with the
 * item approved by rule instant, history names the rule, and the offline
 * audit replays it from the bundle's USCC record proof. */
static void test_instant_issued_in_the_apply_block(void **state)
{
    (void)state;
    char id[64], *out;
    int rc = cli(&out, "industries", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "instant (秒批)"));
    free(out);
    apply("91320411MA1MXL9R39", "flower-stall", 1, id);
    rc = cli(&out, "--json", "show", id, NULL);
    assert_int_equal(rc, 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ISSUED");
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(it, "decision")), "INSTANT");
    assert_string_equal(json_string_value(json_object_get(it, "rule")), "instant");
    assert_int_equal(json_integer_value(json_object_get(j, "issued_at")),
                     json_integer_value(json_object_get(j, "applied_at")));
    json_decref(j);
    free(out);
    rc = cli(&out, "show", id, NULL);
    assert_non_null(strstr(out, "approved by rule instant"));
    free(out);
    rc = cli(&out, "--json", "history", id, NULL);
    assert_int_equal(rc, 0);
    j = json_loads(out, 0, NULL);
    json_t *evs = json_object_get(j, "events");
    assert_int_equal(json_array_size(evs), 1); /* one block, one event: the APPLY's */
    json_t *e0 = json_array_get(evs, 0);
    assert_string_equal(json_string_value(json_object_get(e0, "kind")), "APPLY_INSTANT");
    assert_string_equal(json_string_value(json_object_get(e0, "rule")), "instant");
    json_decref(j);
    free(out);
    char gpath[600];
    nt_path(&g_nd, "config/genesis.json", gpath, sizeof gpath);
    rc = cli(&out, "audit", id, "--genesis", gpath, NULL);
    if (rc != 0)
        fail_msg("audit exited %d:\n%s", rc, out);
    assert_non_null(strstr(out, "approved by rule instant"));
    free(out);
    /* the ordinary route of the same industry waits for market */
    apply("91320411MA1MXLAT43", "flower-stall", 0, id);
    expect_status(id, "PENDING");
}

static void test_every_exit_code(void **state)
{
    (void)state;
    char *out;
    char id[64];
    apply("91350100M000100Y43", "convenience-store", 0, id);
    /* 0 */
    must(0, "show", id, NULL);
    /* 1: usage */
    must(1, "approve", id, NULL);
    must(1, "frobnicate", NULL);
    /* 2: a ledger rule, with its name */
    int rc = cli(&out, "approve", id, "--key", KEY(LT_FIRE), NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "department_not_owner"));
    free(out);
    rc = cli(&out, "address", "add", id, "--key", REG, "--division", "110105", "--address", "x",
             NULL);
    assert_int_equal(rc, 2);
    free(out);
    /* 3: node unreachable */
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", nt_free_port());
    const char *argv[] = {PERMIT_BIN_DIR "/permit", "--rpc", dead, "status", NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", 1);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int wst;
    waitpid(pid, &wst, 0);
    assert_int_equal(WEXITSTATUS(wst), 3);
    /* 4: verification failed: the node serves another chain */
    must(4, "approve", id, "--key", KEY(LT_MARKET), "--chain-id", "another-chain", NULL);
    /* 5: not found */
    must(5, "show", "PL-320411-2026-999999", NULL);
    must(5, "tx", "00000000000000000000000000000000000000000000000000000000000000ff",
             NULL);
    /* --sign-only, then tx submit: a department with its seal key offline */
    char gpath[600];
    nt_path(&g_nd, "config/genesis.json", gpath, sizeof gpath);
    rc = cli(&out, "approve", id, "--key", KEY(LT_MARKET), "--sign-only", "--genesis", gpath,
             NULL);
    assert_int_equal(rc, 0);
    out[strcspn(out, "\n")] = '\0';
    char *hex = out;
    must(0, "tx", "submit", hex, NULL);
    /* the same envelope again: duplicate, exit 2 */
    must(2, "tx", "submit", hex, NULL);
    free(out);
}

/* Issue 13 part 7: `apply --no-wait` says how to find the license id once
 * committed, `permit tx TXID` shows it, and `tx` and `history` name the
 * signers (a registrar, a department), not only their keys. */
static void test_no_wait_then_tx_names_license_and_signers(void **state)
{
    (void)state;
    char *out;
    int rc = cli(&out, "apply", "--no-wait", "--key", REG, "--uscc", "91320411MA1Q7KD3X0",
                 "--name", "新北区便民小超市", "--legal-rep", "王五", "--industry",
                 "convenience-store", "--division", "320411", "--address",
                 "常州市新北区通江中路9号", NULL);
    if (rc != 0)
        fail_msg("apply --no-wait: exit %d:\n%s", rc, out);
    char tx[65] = "";
    const char *t = strstr(out, "(tx ");
    assert_non_null(t);
    assert_int_equal(sscanf(t + 4, "%64[0-9a-f]", tx), 1);
    char hint[160];
    snprintf(hint, sizeof hint, "`permit tx %s` shows its block and the license id", tx);
    if (strstr(out, hint) == NULL)
        fail_msg("no hint in:\n%s", out);
    free(out);
    /* committed within a few blocks: tx names the license the block assigned */
    for (int tries = 0;; tries++) {
        rc = cli(&out, "tx", tx, NULL);
        if (rc == 0)
            break;
        if (tries > 100 || rc != 5)
            fail_msg("permit tx: exit %d:\n%s", rc, out);
        free(out);
        usleep(50 * 1000);
    }
    char id[64] = "";
    t = strstr(out, "\nLicense ");
    if (t == NULL || sscanf(t + 9, " %63s", id) != 1 || strncmp(id, "PL-320411-", 10) != 0)
        fail_msg("permit tx shows no license id:\n%s", out);
    assert_non_null(strstr(out, "(registrar of approval "));
    free(out);
    /* the market's desk sees how long it has waited */
    cli(&out, "pending", "--department", "market", NULL);
    assert_non_null(strstr(out, "WAITING"));
    t = strstr(out, id);
    assert_non_null(t);
    char wait[16];
    assert_int_equal(sscanf(t + strlen(id), " PENDING convenience-store %15s", wait), 1);
    if (wait[strlen(wait) - 1] != 's' && wait[strlen(wait) - 1] != 'm')
        fail_msg("waited \"%s\":\n%s", wait, out);
    free(out);
    must(0, "approve", id, "--key", KEY(LT_MARKET), NULL);
    cli(&out, "history", id, NULL);
    assert_non_null(strstr(out, "(registrar of approval "));
    assert_non_null(strstr(out, "(department market "));
    free(out);
    cli(&out, "--json", "history", id, NULL);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *by = json_object_get(json_array_get(json_object_get(j, "events"), 1), "signed_by");
    assert_string_equal(json_string_value(json_object_get(by, "role")), "department");
    assert_string_equal(json_string_value(json_object_get(by, "id")), "market");
    json_decref(j);
    free(out);
}

/* Issue 13 part 7: with LANG=zh_CN.UTF-8 the CLI's labels, statuses and
 * messages are in Chinese; English otherwise (the rule names stay). */
static void test_chinese_with_a_chinese_locale(void **state)
{
    (void)state;
    char id[64];
    apply("91320411MA1R2WLT52", "convenience-store", 0, id);
    const char *saved[] = {getenv("LC_ALL"), getenv("LC_MESSAGES"), getenv("LANG")};
    char *keep[3];
    for (int i = 0; i < 3; i++)
        keep[i] = saved[i] ? strdup(saved[i]) : NULL; /* setenv may free the originals */
    unsetenv("LC_ALL");
    unsetenv("LC_MESSAGES");
    setenv("LANG", "zh_CN.UTF-8", 1);
    char *out;
    cli(&out, "show", id, NULL);
    int ok = strstr(out, "状态") && strstr(out, "审批中") && strstr(out, "许可事项") &&
             strstr(out, "统一社会信用代码");
    char *show = out;
    /* a refusal: the rule's name, what it means, the node's words */
    int rc = cli(&out, "approve", id, "--key", KEY(LT_FIRE), NULL);
    int refused = rc == 2 && strstr(out, "被拒绝（规则 department_not_owner：该部门不负责此许可事项）");
    char *ref = out;
    rc = cli(&out, "approve", id, "--key", KEY(LT_MARKET), NULL);
    int committed = rc == 0 && strstr(out, "已上链，区块");
    char *com = out;
    cli(&out, "pending", "--department", "tobacco", NULL);
    int pending = strstr(out, "已等待") && strstr(out, "编号");
    char *pend = out;
    /* and English in the C locale */
    setenv("LANG", "C", 1);
    cli(&out, "show", id, NULL);
    int english = strstr(out, "Status") && !strstr(out, "状态");
    free(out);
    const char *names[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (int i = 0; i < 3; i++) {
        if (keep[i])
            setenv(names[i], keep[i], 1);
        else
            unsetenv(names[i]);
        free(keep[i]);
    }
    if (!ok || !refused || !committed || !pending)
        fail_msg("in Chinese:\n%s\n%s\n%s\n%s", show, ref, com, pend);
    free(show);
    free(ref);
    free(com);
    free(pend);
    assert_true(english);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_transition_through_the_cli),
        cmocka_unit_test(test_every_exit_code),
        cmocka_unit_test(test_overdue_refused_renewal_then_verified),
        cmocka_unit_test(test_holder_pledge_and_confirmed_renewal),
        cmocka_unit_test(test_no_wait_then_tx_names_license_and_signers),
        cmocka_unit_test(test_chinese_with_a_chinese_locale),
        cmocka_unit_test(test_instant_issued_in_the_apply_block),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
