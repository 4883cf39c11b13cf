/* The permit CLI: its pure helpers (times, text, URLs, option parsing), and
 * the built binary run as a user runs it: help, usage errors and exit codes,
 * key files, testnet generation, --sign-only for every write command, and
 * the JSON-RPC client against a scripted fake node (error codes, transport
 * failures, chunked and oversized bodies, timeouts). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/rpc_client.h"
#include "cli/sign.h"
#include "cli/testnet.h"
#include "ledger/genesis.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/license.h"
#include "ledger/tx.h"
#include "permit.pb-c.h"

#define PERMIT PERMIT_BIN_DIR "/permit"
#define USCC_OK "91350100M000100Y43"
#define T0 1764288000000ULL /* 2025-11-28T00:00:00Z = 08:00:00 CST */

extern char **environ;

static char *g_tmp;      /* scratch folder of this run */
static char *g_net;      /* a testnet made once: g_tmp/net */
static char g_genesis[512];
static int g_seq;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *tmp_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", g_tmp, name);
    return buf;
}

/* ---- running the binary ------------------------------------------------- */

typedef struct {
    int status; /* exit code, or 128 + signal */
    char *out;
    char *err;
    double secs;
} run_t;

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* Run permit with argv (NULL-terminated, without argv[0]); stdin from
 * `input` (NULL: empty); stdout to `stdout_path` when given (then r->out is
 * empty).  PERMIT_RPC is removed from the environment. */
static void run_io(run_t *r, const char *input, const char *stdout_path,
                   const char *const *args)
{
    char in[512], out[512], err[512];
    int seq = ++g_seq;
    snprintf(in, sizeof in, "%s/run%d.in", g_tmp, seq);
    snprintf(out, sizeof out, "%s/run%d.out", g_tmp, seq);
    snprintf(err, sizeof err, "%s/run%d.err", g_tmp, seq);
    FILE *f = fopen(in, "wb");
    assert_non_null(f);
    if (input)
        fputs(input, f);
    fclose(f);
    const char *argv[64];
    size_t n = 0;
    argv[n++] = "permit";
    for (; args[n - 1] != NULL; n++) {
        assert_true(n < 63);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **env = calloc(ne + 1, sizeof *env);
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "PERMIT_RPC=", 11) != 0)
            env[k++] = environ[i];
    double t = now_s();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fi = open(in, O_RDONLY);
        int fo = open(stdout_path ? stdout_path : out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fi < 0 || fo < 0 || fe < 0)
            _exit(127);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execve(PERMIT, (char *const *)argv, env);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    free(env);
    r->secs = now_s() - t;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = stdout_path ? strdup("") : tu_read_file(out, NULL);
    r->err = tu_read_file(err, NULL);
    assert_non_null(r->out);
    assert_non_null(r->err);
    unlink(in);
    unlink(out);
    unlink(err);
}

#define RUN(r, ...) run_io((r), NULL, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IN(r, input, ...) run_io((r), (input), NULL, (const char *const[]){__VA_ARGS__, NULL})

/* Expect an exit code, and (when not NULL) a substring of stderr. */
static void expect(run_t *r, int status, const char *in_err)
{
    if (r->status != status)
        fail_msg("exit %d, expected %d; stderr: %s; stdout: %.300s", r->status, status, r->err,
                 r->out);
    if (in_err && strstr(r->err, in_err) == NULL)
        fail_msg("stderr lacks \"%s\": %s", in_err, r->err);
}

static char *chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* A free TCP port on 127.0.0.1 (nobody listens on it afterwards). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- a scripted fake node ------------------------------------------------ */

/* script: {method: {"result": ...} | {"error": {...}} | modifiers}, modifiers:
 * "_http": status, "_raw": body text, "_mode": "chunked" | "eof" | "tiny" |
 * "hang" | "huge" | "close", "_id": id to answer with. */
typedef struct {
    int lfd;
    int port;
    char url[64];
    pthread_t th;
    volatile int stop;
    pthread_mutex_t mu;
    json_t *script;
    json_t *log; /* [{method, params}] */
} fake_node;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fake_serve(fake_node *f, int c)
{
    char buf[1 << 16];
    size_t len = 0;
    char *body = NULL;
    long clen = -1;
    for (;;) { /* head */
        ssize_t r = recv(c, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0)
            return;
        len += (size_t)r;
        buf[len] = '\0';
        body = strstr(buf, "\r\n\r\n");
        if (body)
            break;
    }
    body += 4;
    char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl)
        clen = strtol(cl + 17, NULL, 10);
    while (clen >= 0 && (size_t)(buf + len - body) < (size_t)clen && len < sizeof buf - 1) {
        ssize_t r = recv(c, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0)
            return;
        len += (size_t)r;
        buf[len] = '\0';
    }
    json_t *req = json_loads(body, 0, NULL);
    const char *method = json_string_value(json_object_get(req, "method"));
    json_t *id = json_object_get(req, "id");
    pthread_mutex_lock(&f->mu);
    json_t *params = json_object_get(req, "params");
    json_array_append_new(f->log, json_pack("{s:s, s:O}", "method", method ? method : "",
                                            "params", params ? params : json_null()));
    json_t *s = json_deep_copy(json_object_get(f->script, method ? method : ""));
    pthread_mutex_unlock(&f->mu);
    if (s == NULL)
        s = json_pack("{s:{s:i, s:s}}", "error", "code", -32601, "message", "unknown method");
    const char *mode = json_string_value(json_object_get(s, "_mode"));
    mode = mode ? mode : "";
    int http = json_is_integer(json_object_get(s, "_http"))
                   ? (int)json_integer_value(json_object_get(s, "_http"))
                   : 200;
    char *text;
    if (json_is_string(json_object_get(s, "_raw"))) {
        text = strdup(json_string_value(json_object_get(s, "_raw")));
    } else {
        json_t *resp = json_pack("{s:s, s:O}", "jsonrpc", "2.0", "id",
                                 json_object_get(s, "_id") ? json_object_get(s, "_id")
                                                           : (id ? id : json_null()));
        if (json_object_get(s, "error"))
            json_object_set(resp, "error", json_object_get(s, "error"));
        else
            json_object_set(resp, "result", json_object_get(s, "result")
                                                ? json_object_get(s, "result")
                                                : json_null());
        text = json_dumps(resp, JSON_COMPACT);
        json_decref(resp);
    }
    size_t tl = strlen(text);
    char head[512];
    if (strcmp(mode, "hang") == 0) {
        for (int i = 0; i < 100 && !f->stop; i++)
            usleep(50000);
    } else if (strcmp(mode, "close") == 0) {
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", tl);
        write_all(c, head, strlen(head));
        write_all(c, text, tl / 2);
    } else if (strcmp(mode, "huge") == 0) {
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n",
                 (unsigned long long)CLI_RPC_MAX_BODY + 1);
        write_all(c, head, strlen(head));
    } else if (strcmp(mode, "chunked") == 0) {
        snprintf(head, sizeof head,
                 "HTTP/1.1 %d OK\r\nTransfer-Encoding: chunked\r\nContent-Type: "
                 "application/json\r\n\r\n", http);
        write_all(c, head, strlen(head));
        for (size_t off = 0; off < tl; off += 7) {
            size_t n = tl - off < 7 ? tl - off : 7;
            char ch[32];
            snprintf(ch, sizeof ch, "%zx;ext=1\r\n", n);
            write_all(c, ch, strlen(ch));
            write_all(c, text + off, n);
            write_all(c, "\r\n", 2);
        }
        write_all(c, "0\r\nX-Trailer: y\r\n\r\n", 19);
    } else if (strcmp(mode, "eof") == 0) {
        snprintf(head, sizeof head, "HTTP/1.0 %d OK\r\n\r\n", http);
        write_all(c, head, strlen(head));
        write_all(c, text, tl);
    } else if (strcmp(mode, "tiny") == 0) {
        snprintf(head, sizeof head,
                 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 %d OK\r\nContent-Length: %zu\r\n\r\n",
                 http, tl);
        for (size_t i = 0; head[i]; i++)
            write_all(c, head + i, 1);
        for (size_t i = 0; i < tl; i++)
            write_all(c, text + i, 1);
    } else {
        snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n", http, http == 200 ? "OK" : "Service Unavailable",
                 tl);
        write_all(c, head, strlen(head));
        write_all(c, text, tl);
    }
    free(text);
    json_decref(s);
    json_decref(req);
}

static void *fake_main(void *arg)
{
    fake_node *f = arg;
    while (!f->stop) {
        struct pollfd p = {.fd = f->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(f->lfd, NULL, NULL);
        if (c < 0)
            continue;
        fake_serve(f, c);
        close(c);
    }
    return NULL;
}

static fake_node *fake_start(const char *script)
{
    fake_node *f = calloc(1, sizeof *f);
    assert_non_null(f);
    json_error_t je;
    f->script = json_loads(script, 0, &je);
    if (f->script == NULL)
        fail_msg("bad script: %s", je.text);
    f->log = json_array();
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    socklen_t l = sizeof a;
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &l), 0);
    f->port = ntohs(a.sin_port);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
    return f;
}

static void fake_stop(fake_node *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->lfd);
    json_decref(f->script);
    json_decref(f->log);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* The params of the n-th call of `method` (borrowed), or NULL. */
static json_t *fake_call(fake_node *f, const char *method, size_t n)
{
    size_t i;
    json_t *e;
    json_array_foreach(f->log, i, e)
        if (strcmp(json_string_value(json_object_get(e, "method")), method) == 0 && n-- == 0)
            return json_object_get(e, "params");
    return NULL;
}

static size_t fake_count(fake_node *f, const char *method)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(f->log, i, e)
        n += strcmp(json_string_value(json_object_get(e, "method")), method) == 0;
    return n;
}

#define STATUS_OK                                                                        \
    "\"status\": {\"result\": {\"chain_id\": \"permitchain-320411-dev\", \"node_id\": "  \
    "\"aa\", \"department\": \"market\", \"height\": 7, \"block_hash\": \"bb\", "       \
    "\"block_time\": 1764288000000, \"validators\": [{\"department\": \"market\"}, "    \
    "{\"department\": \"fire\"}], \"peers\": 1, \"mempool\": {\"size\": 2, \"bytes\": "  \
    "300, \"max_size\": 100000}, \"syncing\": false, \"version\": \"0.1.0\"}}"

/* ---- setup -------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    g_tmp = tu_tmpdir("cli");
    char net[512];
    g_net = strdup(tmp_path("net", net, sizeof net));
    snprintf(g_genesis, sizeof g_genesis, "%s/genesis.json", g_net);
    run_t r;
    RUN(&r, "testnet", "--validators", "4", "--out", g_net, "--base-port", "31000");
    if (r.status != 0)
        fail_msg("testnet failed: %s", r.err);
    run_free(&r);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rmrf(g_tmp);
    free(g_tmp);
    free(g_net);
    return 0;
}

static const char *key_of(const char *who, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/keys/%s.key", g_net, who);
    return buf;
}

/* ---- pure helpers (linked from permit_cli) ------------------------------ */

static void test_time_is_china_standard_time_without_tz(void **state)
{
    (void)state;
    char t[CLI_TIME_LEN];
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZ", "America/New_York", 1);
    tzset();
    cli_fmt_time(T0, t);
    assert_string_equal(t, "2025-11-28 08:00:00");
    cli_fmt_time(0, t);
    assert_string_equal(t, "-");
    cli_fmt_time(1, t);
    assert_string_equal(t, "1970-01-01 08:00:00");
    cli_fmt_time(1709222399000ULL, t); /* 2024-02-29T15:59:59Z */
    assert_string_equal(t, "2024-02-29 23:59:59");
    cli_fmt_time(1709222400000ULL, t); /* next second: a new day in CST */
    assert_string_equal(t, "2024-03-01 00:00:00");
    cli_fmt_time(4107542400000ULL, t); /* 2100-03-01T00:00:00Z (2100 is no leap year) */
    assert_string_equal(t, "2100-03-01 08:00:00");
    cli_fmt_time(1767196799999ULL, t); /* 2025-12-31T15:59:59.999Z */
    assert_string_equal(t, "2025-12-31 23:59:59");
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

static void test_text_is_cleaned_and_measured(void **state)
{
    (void)state;
    char b[64];
    cli_clean_text(b, sizeof b, "常州\x1b[31mred\x7f\n");
    assert_string_equal(b, "常州?[31mred??");
    cli_clean_text(b, sizeof b, "a\xc2\x9b" "b\xff" "c\xe5\xb8");
    assert_string_equal(b, "a?b?c??");
    cli_clean_text(b, 5, "ab常州"); /* never cut inside a character */
    assert_string_equal(b, "ab");
    cli_clean_text(b, sizeof b, NULL);
    assert_string_equal(b, "");
    assert_int_equal(cli_display_width("abc"), 3);
    assert_int_equal(cli_display_width("常州市新北区"), 12);
    assert_int_equal(cli_display_width("PL-常州"), 7);
}

static void test_rpc_url_parsing(void **state)
{
    (void)state;
    static const char *const good[] = {"http://127.0.0.1:8645", "http://localhost",
                                       "http://[::1]:8645/rpc", "HTTP://node.example:80/p/rpc",
                                       "http://127.0.0.1:8645/", "http://h/rpc?token=1",
                                       "https://127.0.0.1:8645", "HTTPS://node.example/rpc"};
    static const char *const bad[] = {"https://", "ftp://x", "127.0.0.1:8645",
                                      "http://", "http://:8645", "http://h:0", "http://h:65536",
                                      "http://h:80x", "http://u@h", "http://[::1:8645",
                                      "http://h/a b", "http://h?q=1", "http://h/#f", "http://h\r\nX: y"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cli_rpc *c = NULL;
        cli_error e;
        if (cli_rpc_new(&c, good[i], 1000, &e) != CLI_EXIT_OK)
            fail_msg("%s refused: %s", good[i], e.msg);
        assert_string_equal(cli_rpc_url(c), good[i]);
        cli_rpc_free(c);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_rpc *c = NULL;
        cli_error e;
        if (cli_rpc_new(&c, bad[i], 1000, &e) != CLI_EXIT_USAGE)
            fail_msg("%s accepted", bad[i]);
        assert_null(c);
        assert_non_null(strstr(e.msg, "--rpc"));
    }
}

static void test_rpc_error_codes_map_to_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(cli_rpc_exit_code(1001), CLI_EXIT_NOTFOUND);
    assert_int_equal(cli_rpc_exit_code(1002), CLI_EXIT_REJECTED);
    assert_int_equal(cli_rpc_exit_code(1003), CLI_EXIT_REJECTED);
    assert_int_equal(cli_rpc_exit_code(1006), CLI_EXIT_REJECTED);
    assert_int_equal(cli_rpc_exit_code(1004), CLI_EXIT_UNAVAILABLE);
    assert_int_equal(cli_rpc_exit_code(1005), CLI_EXIT_UNAVAILABLE);
    assert_int_equal(cli_rpc_exit_code(-32000), CLI_EXIT_UNAVAILABLE);
    assert_int_equal(cli_rpc_exit_code(-32601), CLI_EXIT_UNAVAILABLE);
    assert_int_equal(cli_rpc_exit_code(-32602), CLI_EXIT_USAGE);
    assert_int_equal(cli_exit_worst(CLI_EXIT_OK, CLI_EXIT_NOTFOUND), CLI_EXIT_NOTFOUND);
    assert_int_equal(cli_exit_worst(CLI_EXIT_NOTFOUND, CLI_EXIT_REJECTED), CLI_EXIT_REJECTED);
    assert_int_equal(cli_exit_worst(CLI_EXIT_REJECTED, CLI_EXIT_USAGE), CLI_EXIT_USAGE);
    assert_int_equal(cli_exit_worst(CLI_EXIT_UNAVAILABLE, CLI_EXIT_VERIFY), CLI_EXIT_UNAVAILABLE);
    assert_int_equal(cli_exit_worst(CLI_EXIT_USAGE, CLI_EXIT_VERIFY), CLI_EXIT_VERIFY);
}

static int run_nothing(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)ctx;
    (void)a;
    (void)err;
    return 0;
}

static void test_option_parser(void **state)
{
    (void)state;
    static const cli_option opts[] = {
        {"name", "NAME", CLI_OPT_REQUIRED, "n"},
        {"item", "N", CLI_OPT_MULTI, "i"},
        {"flag", NULL, 0, "f"},
        {NULL},
    };
    static const cli_command cmd = {"thing", "LICENSE", 1, 1, opts, CLI_CMD_WRITE, 0, "s",
                                    NULL, run_nothing};
    cli_args a;
    cli_error e;
    char *ok[] = {"L1", "--name", "x", "--item=1", "--item", "2", "--flag", "--key", "k",
                  "--json", "--", "--not-an-option"};
    assert_int_equal(cli_args_parse(&a, &cmd, 12, ok, &e), CLI_EXIT_USAGE); /* 2 positionals */
    assert_non_null(strstr(e.msg, "unexpected argument '--not-an-option'"));
    cli_args_free(&a);
    assert_int_equal(cli_args_parse(&a, &cmd, 10, ok, &e), CLI_EXIT_OK);
    assert_string_equal(a.pos[0], "L1");
    assert_string_equal(cli_arg(&a, "name"), "x");
    assert_int_equal(cli_arg_count(&a, "item"), 2);
    assert_string_equal(cli_arg_nth(&a, "item", 0), "1");
    assert_string_equal(cli_arg_nth(&a, "item", 1), "2");
    assert_null(cli_arg_nth(&a, "item", 2));
    assert_int_equal(cli_arg_count(&a, "flag"), 1);
    assert_int_equal(cli_arg_count(&a, "json"), 1);
    assert_string_equal(cli_arg(&a, "key"), "k");
    assert_null(cli_arg(&a, "sign-only"));
    cli_args_free(&a);

    struct {
        int argc;
        char *argv[6];
        const char *msg;
    } bad[] = {
        {3, {"L1", "--name", "x"}, "--key"},                       /* required write option */
        {3, {"L1", "--key", "k"}, "--name"},                       /* required own option */
        {2, {"--name", "x"}, "missing argument LICENSE"},
        {4, {"L1", "--key", "k", "--bogus"}, "unknown option '--bogus'"},
        {4, {"L1", "--key", "k", "-x"}, "unknown option '-x'"},
        {4, {"L1", "--key", "k", "--name"}, "--name needs a value"},
        {6, {"L1", "--key", "k", "--name", "a", "--flag=1"}, "--flag takes no value"},
        {6, {"L1", "--key", "k", "--key", "j", "--name"}, "more than once"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        int rc = cli_args_parse(&a, &cmd, bad[i].argc, bad[i].argv, &e);
        if (rc != CLI_EXIT_USAGE || strstr(e.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: rc %d msg %s", i, rc, e.msg);
        cli_args_free(&a);
    }
    char *help[] = {"--bogus", "-h"};
    assert_int_equal(cli_args_parse(&a, &cmd, 2, help, &e), CLI_EXIT_OK);
    assert_true(a.help);
    cli_args_free(&a);

    uint64_t v;
    assert_int_equal(cli_parse_u64("--n", "18446744073709551615", 0, UINT64_MAX, &v, &e), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(cli_parse_u64("--n", "18446744073709551616", 0, UINT64_MAX, &v, &e), 1);
    assert_int_equal(cli_parse_u64("--n", "-1", 0, 10, &v, &e), 1);
    assert_int_equal(cli_parse_u64("--n", "1.5", 0, 10, &v, &e), 1);
    assert_int_equal(cli_parse_u64("--n", "", 0, 10, &v, &e), 1);
    assert_int_equal(cli_parse_u64("--n", "11", 0, 10, &v, &e), 1);
    assert_non_null(strstr(e.msg, "--n"));
}

static void test_command_names_are_unique_and_documented(void **state)
{
    (void)state;
    size_t n = 0;
    for (const cli_section *s = cli_sections; s->title; s++)
        for (const cli_command *c = s->cmds; c->name; c++) {
            n++;
            assert_non_null(c->summary);
            assert_non_null(c->run);
            int used = 0;
            char buf[64];
            snprintf(buf, sizeof buf, "%s", c->name);
            char *words[2] = {buf, NULL};
            char *sp = strchr(buf, ' ');
            if (sp) {
                *sp = '\0';
                words[1] = sp + 1;
            }
            assert_ptr_equal(cli_find_command(sp ? 2 : 1, words, &used), c);
            assert_int_equal(used, sp ? 2 : 1);
            /* no option shadows a signing or global option */
            for (const cli_option *o = c->opts; o && o->name; o++) {
                for (const cli_option *g = cli_global_options; g->name; g++)
                    assert_string_not_equal(o->name, g->name);
                for (const cli_option *w = cli_write_options; w->name && (c->flags & CLI_CMD_WRITE);
                     w++)
                    assert_string_not_equal(o->name, w->name);
            }
        }
    /* DESIGN §8, verify-chain, the genesis ceremony's six, backup, and
     * governance: gov propose/approve/list/show, key retire, industries,
     * departments, registrars, observers; the holder's pledge sign and
     * holder set; watch */
    assert_int_equal(n, 47);
}

static void test_default_catalogue_matches_the_example(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/../shared/catalogue-example.json", PERMIT_SOURCE_DIR);
    json_t *ex = json_load_file(path, 0, NULL);
    if (ex == NULL)
        skip();
    json_t *ours = NULL;
    cli_error e;
    const char *t = cli_default_catalogue();
    assert_int_equal(cli_catalogue_parse(t, strlen(t), "(built-in)", &ours, &e), CLI_EXIT_OK);
    assert_true(json_equal(json_object_get(ours, "departments"),
                           json_object_get(ex, "departments")));
    assert_true(json_equal(json_object_get(ours, "industries"),
                           json_object_get(ex, "industries")));
    json_decref(ours);
    json_decref(ex);
}

/* ---- help and usage ----------------------------------------------------- */

static void test_top_level_help_lists_commands_and_exit_codes(void **state)
{
    (void)state;
    run_t r;
    RUN(&r, "--help");
    expect(&r, 0, NULL);
    for (const cli_section *s = cli_sections; s->title; s++)
        for (const cli_command *c = s->cmds; c->name; c++) {
            char line[80];
            snprintf(line, sizeof line, "  %s ", c->name);
            if (strstr(r.out, line) == NULL)
                fail_msg("--help does not list %s", c->name);
        }
    assert_non_null(strstr(r.out, "Exit codes"));
    assert_non_null(strstr(r.out, "5  not found"));
    assert_non_null(strstr(r.out, "  audit "));
    assert_non_null(strstr(r.out, "  verify-chain "));
    run_free(&r);
    RUN(&r, "-h");
    expect(&r, 0, NULL);
    run_free(&r);
    RUN(&r, "--version");
    expect(&r, 0, NULL);
    assert_string_equal(r.out, "permit " PERMIT_VERSION "\n");
    run_free(&r);
    RUN(&r, "--json", "--help");
    expect(&r, 0, NULL);
    run_free(&r);
}

static void test_every_command_has_help(void **state)
{
    (void)state;
    size_t n = 0;
    for (const cli_section *s = cli_sections; s->title; s++)
        for (const cli_command *c = s->cmds; c->name; c++) {
            char buf[64], want[80];
            snprintf(buf, sizeof buf, "%s", c->name);
            char *sp = strchr(buf, ' ');
            if (sp)
                *sp = '\0';
            snprintf(want, sizeof want, "usage: permit %s", c->name);
            run_t r;
            if (sp)
                RUN(&r, buf, sp + 1, "--help");
            else
                RUN(&r, buf, "--help");
            expect(&r, 0, NULL);
            if (strncmp(r.out, want, strlen(want)) != 0)
                fail_msg("%s --help: %s", c->name, r.out);
            assert_non_null(strstr(r.out, "Exit codes"));
            assert_non_null(strstr(r.out, "--rpc URL"));
            if (c->flags & CLI_CMD_WRITE)
                assert_non_null(strstr(r.out, "--sign-only"));
            for (const cli_option *o = c->opts; o && o->name; o++) {
                char opt[64];
                snprintf(opt, sizeof opt, "--%s", o->name);
                assert_non_null(strstr(r.out, opt));
            }
            run_free(&r);
            /* -h too, even after a bad option */
            if (sp)
                RUN(&r, buf, sp + 1, "--bogus", "-h");
            else
                RUN(&r, buf, "--bogus", "-h");
            expect(&r, 0, NULL);
            run_free(&r);
            n++;
        }
    assert_int_equal(n, 47);
    run_t r;
    RUN(&r, "address", "--help");
    expect(&r, 0, NULL);
    assert_non_null(strstr(r.out, "address add"));
    assert_non_null(strstr(r.out, "address list"));
    run_free(&r);
}

static void test_usage_errors_exit_1_naming_the_option(void **state)
{
    (void)state;
    char reg[512], mkt[512];
    key_of("registrar", reg, sizeof reg);
    key_of("market", mkt, sizeof mkt);
    struct {
        const char *args[24];
        const char *msg;
    } cases[] = {
        {{NULL}, "no command"},
        {{"frobnicate"}, "unknown command 'frobnicate'"},
        {{"--bogus", "status"}, "unknown option '--bogus'"},
        {{"--rpc"}, "needs a value"},
        {{"--timeout", "0", "status"}, "--timeout"},
        {{"--timeout", "x", "status"}, "--timeout"},
        {{"status", "--timeout", "99999"}, "--timeout"},
        {{"--rpc", "ftp://x", "status"}, "--rpc"},
        {{"status", "--rpc", "gopher://x"}, "--rpc"},
        {{"status", "--token-file", "/nonexistent/token"}, "--token-file"},
        {{"status", "--cacert", "/nonexistent/ca.pem"}, "--cacert"},
        {{"status", "extra"}, "unexpected argument 'extra'"},
        {{"status", "--json=1"}, "--json takes no value"},
        {{"address"}, "subcommand"},
        {{"address", "move", "X"}, "unknown subcommand 'move'"},
        {{"keygen"}, "--out"},
        {{"pubkey"}, "--key"},
        {{"pubkey", "--key", "/nonexistent/k"}, "--key"},
        {{"testnet", "--out", "x"}, "--validators"},
        {{"testnet", "--validators", "0", "--out", "x"}, "--validators"},
        {{"testnet", "--validators", "two", "--out", "x"}, "--validators"},
        {{"testnet", "--validators", "1", "--out", "x", "--base-port", "70000"}, "--base-port"},
        {{"testnet", "--validators", "2", "--out", "x", "--base-port", "65535"}, "--base-port"},
        {{"testnet", "--validators", "1", "--out", "x", "--region", "32041"}, "--region"},
        {{"testnet", "--validators", "1", "--out", "x", "--chain-id", "a b"}, "--chain-id"},
        {{"testnet", "--validators", "10", "--out", "x"}, "--validators"},
        {{"testnet", "--validators", "1", "--out", "x", "--catalogue", "/nonexistent"},
         "--catalogue"},
        {{"show"}, "missing argument LICENSE"},
        {{"show", "A", "B"}, "unexpected argument 'B'"},
        {{"history"}, "LICENSE"},
        {{"tx", "zz"}, "TXID"},
        {{"tx", "abcd"}, "TXID"},
        {{"block", "x1"}, "HEIGHT"},
        {{"search", "--limit", "0"}, "--limit"},
        {{"search", "--limit", "1001"}, "--limit"},
        {{"search", "--status", "LIVE"}, "--status"},
        {{"search", "--cursor", ""}, "--cursor"},
        {{"pending"}, "--department"},
        {{"expiring"}, "--within"},
        {{"expiring", "--within", "x"}, "--within"},
        {{"expiring", "--within", "3651"}, "--within"},
        {{"overdue", "--limit", "-5"}, "--limit"},
        {{"apply", "--key", reg}, "--uscc"},
        {{"apply", "--key", reg, "--uscc", USCC_OK, "--name", "n", "--legal-rep", "r",
          "--industry", "bakery", "--division", "320411", "--address", "a", "--document", "zz"},
         "--document"},
        {{"apply", "--key", reg, "--uscc", USCC_OK, "--name", "a\nb", "--legal-rep", "r",
          "--industry", "bakery", "--division", "320411", "--address", "a"},
         "--name"},
        {{"apply", "--key", reg, "--uscc", USCC_OK, "--name", "n", "--legal-rep", "r",
          "--industry", "bakery", "--division", "320411", "--address", "\xff"},
         "--address"},
        {{"approve", "--key", mkt}, "LICENSE"},
        {{"approve", "L", "--key", mkt, "--item", "x"}, "--item"},
        {{"approve", "L", "--key", mkt, "--item", "16"}, "--item"},
        {{"approve", "L", "--key", mkt, "--key", mkt}, "more than once"},
        {{"approve", "L"}, "--key"},
        {{"approve", "L", "--key", "/nonexistent/k"}, "--key"},
        {{"approve", "L", "--key", mkt, "--sign-only"}, "--chain-id"},
        {{"approve", "L", "--key", mkt, "--sign-only", "--chain-id", "bad id!"}, "--chain-id"},
        {{"approve", "L", "--key", mkt, "--sign-only", "--genesis", "/nonexistent"},
         "--genesis"},
        {{"approve", "L", "--key", mkt, "--sign-only", "--chain-id", "x", "--no-wait"},
         "--no-wait"},
        {{"approve", "L", "--key", mkt, "--timeout-ms", "0"}, "--timeout-ms"},
        {{"approve", "L", "--key", mkt, "--sign-only", "--chain-id", "x", "--genesis",
          g_genesis},
         "does not match"},
        {{"reject", "L", "--key", mkt}, "--reason"},
        {{"suspend", "L", "--key", mkt}, "--reason"},
        {{"cancel", "L", "--key", reg}, "--reason"},
        {{"amend", "L", "--key", reg}, "--name, --legal-rep, --scope"},
        {{"address", "add", "L", "--key", reg, "--address", "a"}, "--division"},
        {{"address", "remove", "L", "--key", reg, "--address-id", "0"}, "--address-id"},
        {{"address", "remove", "L", "--key", reg, "--address-id", "4294967296"},
         "--address-id"},
        {{"tx", "submit", "--timeout-ms", "60001", "00"}, "--timeout-ms"},
        {{"tx", "submit", "abc"}, "not a hex envelope"},
        {{"tx", "submit", "zz"}, "not a hex envelope"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_t r;
        run_io(&r, NULL, NULL, cases[i].args);
        if (r.status != 1 || strstr(r.err, cases[i].msg) == NULL ||
            strstr(r.err, "permit: ") == NULL)
            fail_msg("case %zu (%s %s): exit %d, stderr %s", i,
                     cases[i].args[0] ? cases[i].args[0] : "",
                     cases[i].args[0] && cases[i].args[1] ? cases[i].args[1] : "", r.status,
                     r.err);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
}

static void test_output_write_failure_exits_3(void **state)
{
    (void)state;
    struct stat st;
    if (stat("/dev/full", &st) != 0)
        skip();
    char reg[512];
    key_of("registrar", reg, sizeof reg);
    run_t r;
    run_io(&r, NULL, "/dev/full", (const char *const[]){"--help", NULL});
    expect(&r, 3, "writing the output failed");
    run_free(&r);
    run_io(&r, NULL, "/dev/full", (const char *const[]){"pubkey", "--key", reg, NULL});
    expect(&r, 3, "writing the output failed");
    run_free(&r);
}

/* ---- keys --------------------------------------------------------------- */

static void test_keygen_pubkey_round_trip_and_no_overwrite(void **state)
{
    (void)state;
    char k[512];
    tmp_path("round.key", k, sizeof k);
    run_t r;
    RUN(&r, "keygen", "--out", k);
    expect(&r, 0, NULL);
    char pub[80];
    snprintf(pub, sizeof pub, "%s", chomp(r.out));
    assert_int_equal(strlen(pub), 64);
    run_free(&r);
    struct stat st;
    assert_int_equal(stat(k, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    ledger_keypair kp;
    assert_int_equal(ledger_keyfile_read(k, &kp, NULL), 0);
    char hex[65];
    ledger_hex_encode(kp.pub, 32, hex);
    assert_string_equal(hex, pub);

    RUN(&r, "pubkey", "--key", k);
    expect(&r, 0, NULL);
    assert_string_equal(chomp(r.out), pub);
    run_free(&r);
    RUN(&r, "--json", "pubkey", "--key", k);
    expect(&r, 0, NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "public_key")), pub);
    json_decref(j);
    run_free(&r);

    char *before = tu_read_file(k, NULL);
    RUN(&r, "keygen", "--out", k);
    expect(&r, 1, "refusing to overwrite");
    run_free(&r);
    char *after = tu_read_file(k, NULL);
    assert_string_equal(before, after);
    free(before);
    free(after);

    assert_int_equal(chmod(k, 0644), 0);
    RUN(&r, "pubkey", "--key", k);
    expect(&r, 1, "--key");
    run_free(&r);
}

/* ---- testnet ------------------------------------------------------------ */

static void check_key_matches(const char *path, const uint8_t pub[32])
{
    ledger_keypair kp;
    ledger_err e;
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    if (ledger_keyfile_read(path, &kp, &e) != 0)
        fail_msg("%s: %s", path, e.msg);
    assert_memory_equal(kp.pub, pub, 32);
}

static void test_testnet_writes_a_loadable_network(void **state)
{
    (void)state;
    ledger_genesis *g = NULL;
    ledger_err e;
    if (ledger_genesis_load(g_genesis, &g, &e) != 0)
        fail_msg("genesis refused: %s", e.msg);
    assert_string_equal(g->chain_id, "permitchain-320411-dev");
    assert_string_equal(g->region, "320411");
    assert_string_equal(g->region_name, "常州市新北区");
    assert_int_equal(g->n_departments, 9);
    assert_int_equal(g->n_industries, 10);
    assert_int_equal(g->n_validators, 4);
    assert_int_equal(g->params.max_addresses, 32);
    assert_int_equal(g->params.tx_window_ms, 3600 * 1000);
    assert_int_equal(g->params.max_block_txs, 10000);
    assert_int_equal(g->params.block_interval_ms, 200);
    assert_int_equal(g->params.heartbeat_ms, 30000);
    uint64_t now = (uint64_t)time(NULL) * 1000;
    assert_true(g->genesis_time_ms > now - 600000 && g->genesis_time_ms < now + 600000);
    assert_int_equal(g->n_registrars, 1);
    assert_string_equal(g->registrars[0].name, "政务服务中心1号窗口");
    assert_string_equal(g->registrars[0].department, "approval");

    char *gtext = tu_read_file(g_genesis, NULL);
    assert_non_null(gtext);
    for (size_t v = 0; v < g->n_validators; v++) {
        const ledger_department *d = &g->departments[g->validators[v]];
        assert_int_equal(g->validators[v], (int)v); /* the first N departments */
        char want[64], path[600];
        snprintf(want, sizeof want, "127.0.0.1:%zu", 31000 + 2 * v);
        assert_string_equal(d->rpc, want);
        snprintf(want, sizeof want, "127.0.0.1:%zu", 31001 + 2 * v);
        assert_string_equal(d->p2p, want);
        snprintf(path, sizeof path, "%s/node%zu/config/genesis.json", g_net, v);
        char *copy = tu_read_file(path, NULL);
        assert_non_null(copy);
        assert_string_equal(copy, gtext); /* the same bytes */
        free(copy);
        snprintf(path, sizeof path, "%s/node%zu/config/node.key", g_net, v);
        check_key_matches(path, d->node.raw);
        snprintf(path, sizeof path, "%s/node%zu/config/permitd.conf", g_net, v);
        char *conf = tu_read_file(path, NULL);
        assert_non_null(conf);
        char line[128];
        snprintf(line, sizeof line, "\nrpc_listen = 127.0.0.1:%zu\n", 31000 + 2 * v);
        assert_non_null(strstr(conf, line));
        snprintf(line, sizeof line, "\np2p_listen = 127.0.0.1:%zu\n", 31001 + 2 * v);
        assert_non_null(strstr(conf, line));
        assert_non_null(strstr(conf, "\nlog_level = info\n"));
        /* nothing but comments and key = value lines */
        for (char *p = conf; *p; p = strchr(p, '\n') + 1) {
            assert_true(*p == '#' || strstr(p, " = ") < strchr(p, '\n'));
            if (strchr(p, '\n') == NULL)
                break;
        }
        free(conf);
    }
    free(gtext);
    char path[600];
    snprintf(path, sizeof path, "%s/node4", g_net);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    for (size_t d = 0; d < g->n_departments; d++) {
        snprintf(path, sizeof path, "%s/keys/%s.key", g_net, g->departments[d].id);
        check_key_matches(path, g->departments[d].seal.raw);
        assert_int_equal(g->departments[d].validator, d < 4);
    }
    snprintf(path, sizeof path, "%s/keys/registrar.key", g_net);
    check_key_matches(path, g->registrars[0].key.raw);
    /* no temporary folder left beside it */
    snprintf(path, sizeof path, "%s", g_tmp);
    ledger_genesis_free(g);
}

static void test_testnet_refuses_an_existing_folder(void **state)
{
    (void)state;
    char out[512], f[600];
    tmp_path("exists", out, sizeof out);
    assert_int_equal(mkdir(out, 0700), 0);
    run_t r;
    RUN(&r, "testnet", "--validators", "1", "--out", out);
    expect(&r, 1, "already exists");
    run_free(&r);
    snprintf(f, sizeof f, "%s/genesis.json", out);
    struct stat st;
    assert_int_equal(stat(f, &st), -1);
    RUN(&r, "testnet", "--validators", "1", "--out", g_net);
    expect(&r, 1, "refusing to overwrite");
    run_free(&r);
    /* a file is refused as well */
    tmp_path("a-file", out, sizeof out);
    FILE *fp = fopen(out, "w");
    fclose(fp);
    RUN(&r, "testnet", "--validators", "1", "--out", out);
    expect(&r, 1, "already exists");
    run_free(&r);
}

static void test_testnet_options_and_custom_catalogue(void **state)
{
    (void)state;
    char cat[512], out[512], gpath[600];
    tmp_path("cat.json", cat, sizeof cat);
    FILE *f = fopen(cat, "w");
    assert_non_null(f);
    fputs("{\"_about\": \"two departments\",\n"
          " \"departments\": [{\"id\": \"market\", \"name\": \"市场监督管理局\"},\n"
          "                  {\"id\": \"fire\", \"name\": \"消防救援大队\", \"_n\": 1}],\n"
          " \"industries\": [{\"code\": \"kiosk\", \"name\": \"报刊亭\", \"validity\": \"60s\",\n"
          "   \"commitment_allowed\": true, \"verify_within\": \"20s\", \"renew_window\": \"30s\",\n"
          "   \"grace\": \"45s\", \"_x\": 0,\n"
          "   \"items\": [{\"permit\": \"食品经营许可\", \"department\": \"market\"},\n"
          "             {\"permit\": \"消防检查\", \"department\": \"fire\"}]}]}\n",
          f);
    fclose(f);
    tmp_path("custom", out, sizeof out);
    run_t r;
    RUN(&r, "--json", "testnet", "--validators", "2", "--out", out, "--catalogue", cat,
        "--chain-id", "xinbei.test-1", "--region", "320400", "--region-name", "常州市",
        "--base-port", "40000");
    expect(&r, 0, NULL);
    json_t *sum = json_loads(r.out, 0, NULL);
    assert_non_null(sum);
    assert_string_equal(json_string_value(json_object_get(sum, "chain_id")), "xinbei.test-1");
    json_t *v1 = json_array_get(json_object_get(sum, "validators"), 1);
    assert_string_equal(json_string_value(json_object_get(v1, "department")), "fire");
    assert_string_equal(json_string_value(json_object_get(v1, "rpc")), "127.0.0.1:40002");
    assert_string_equal(json_string_value(json_object_get(v1, "p2p")), "127.0.0.1:40003");
    json_decref(sum);
    run_free(&r);
    snprintf(gpath, sizeof gpath, "%s/genesis.json", out);
    ledger_genesis *g = NULL;
    ledger_err e;
    if (ledger_genesis_load(gpath, &g, &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(g->chain_id, "xinbei.test-1");
    assert_string_equal(g->region, "320400");
    assert_string_equal(g->region_name, "常州市");
    assert_int_equal(g->n_validators, 2);
    /* no approval department: the registrar belongs to the first one */
    assert_string_equal(g->registrars[0].department, "market");
    const ledger_industry *ind = ledger_genesis_industry(g, "kiosk");
    assert_non_null(ind);
    assert_int_equal(ind->renew_window_ms, 30000);
    assert_int_equal(ind->grace_ms, 45000);
    ledger_genesis_free(g);

    /* a catalogue the genesis rules refuse: named by its path, nothing left */
    f = fopen(cat, "w");
    fputs("{\"departments\": [{\"id\": \"market\", \"name\": \"m\"}],\n"
          " \"industries\": [{\"code\": \"x\", \"name\": \"x\", \"validity\": \"1y\",\n"
          "   \"commitment_allowed\": false,\n"
          "   \"items\": [{\"permit\": \"p\", \"department\": \"nobody\"}]}]}\n",
          f);
    fclose(f);
    tmp_path("refused", out, sizeof out);
    RUN(&r, "testnet", "--validators", "1", "--out", out, "--catalogue", cat);
    expect(&r, 1, "industries[0].items[0].department");
    run_free(&r);
    struct stat st;
    assert_int_equal(stat(out, &st), -1);

    static const char *const bad[][2] = {
        {"{\"departments\": [{\"id\": \"a\", \"name\": \"a\", \"seal_key\": \"00\"}], "
         "\"industries\": [{}]}", "unknown field \"seal_key\""},
        {"{\"departments\": [], \"industries\": [{}]}", "departments"},
        {"{\"departments\": [{\"id\": \"a\", \"name\": \"a\"}], \"industries\": []}",
         "industries"},
        {"{\"departments\": [{\"id\": \"registrar\", \"name\": \"a\"}], \"industries\": [{}]}",
         "reserved"},
        {"{\"departments\": [{\"id\": \"a\", \"name\": \"a\"}], \"industries\": [{}], "
         "\"extra\": 1}", "unknown field \"extra\""},
        {"[1, 2", "not valid JSON"},
        {"{\"departments\": [{\"id\": \"a\", \"name\": \"a\"}], \"departments\": [], "
         "\"industries\": [{}]}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fopen(cat, "w");
        fputs(bad[i][0], f);
        fclose(f);
        RUN(&r, "testnet", "--validators", "1", "--out", out, "--catalogue", cat);
        if (r.status != 1 || strstr(r.err, bad[i][1]) == NULL)
            fail_msg("catalogue %zu: exit %d: %s", i, r.status, r.err);
        run_free(&r);
        assert_int_equal(stat(out, &st), -1);
    }
}

static void test_testnet_leaves_nothing_behind(void **state)
{
    (void)state;
    /* every failure above left no OUT.tmp-* folder in the scratch folder */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c 'tmp-' > '%s/count'", g_tmp, g_tmp);
    assert_true(system(cmd) >= 0);
    snprintf(cmd, sizeof cmd, "%s/count", g_tmp);
    char *c = tu_read_file(cmd, NULL);
    assert_non_null(c);
    assert_string_equal(chomp(c), "0");
    free(c);
}

/* ---- --sign-only -------------------------------------------------------- */

typedef struct {
    ledger_genesis *g;
    ledger_tx tx;
    uint8_t *env;
} signed_tx;

/* Run a write command with --sign-only and decode, authorize and verify the
 * envelope it printed. */
static void sign_only(signed_tx *s, int kind, const char *const *args)
{
    const char *argv[48];
    size_t n = 0;
    for (; args[n]; n++)
        argv[n] = args[n];
    argv[n++] = "--sign-only";
    argv[n++] = "--genesis";
    argv[n++] = g_genesis;
    argv[n] = NULL;
    run_t r;
    /* the CLI stamps CLOCK_REALTIME in ms; time() may read a coarser clock
     * that lags it by a tick, so both bounds come from the same clock */
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0);
    uint64_t before = (uint64_t)t0.tv_sec * 1000 + (uint64_t)t0.tv_nsec / 1000000;
    run_io(&r, NULL, NULL, argv);
    expect(&r, 0, NULL);
    chomp(r.out);
    size_t hl = strlen(r.out), len;
    assert_true(hl > 2 * LEDGER_ENVELOPE_HEADER && hl % 2 == 0);
    s->env = malloc(hl / 2);
    assert_int_equal(ledger_hex_decode(r.out, hl, s->env, hl / 2, &len), 0);
    run_free(&r);
    ledger_err e;
    if (ledger_genesis_load(g_genesis, &s->g, &e) != 0)
        fail_msg("%s", e.msg);
    if (ledger_tx_decode(&s->tx, s->env, len, s->g->chain_id, &e) != 0)
        fail_msg("decode: %s", e.msg);
    assert_int_equal(s->tx.kind, kind);
    const ledger_pubkey *pk;
    int dept;
    if (ledger_tx_authorize(s->g, &s->tx, &pk, &dept, &e) != 0)
        fail_msg("authorize: %s", e.msg);
    assert_true(ledger_tx_sig_ok(&s->tx, pk));
    if (ledger_tx_check_fields(s->g, &s->tx, &e) != 0)
        fail_msg("fields: %s", e.msg);
    uint64_t ts = s->tx.body->timestamp_ms;
    struct timespec t1;
    clock_gettime(CLOCK_REALTIME, &t1);
    uint64_t after = (uint64_t)t1.tv_sec * 1000 + (uint64_t)t1.tv_nsec / 1000000;
    if (ts < before || ts > after)
        fail_msg("timestamp %llu not within [%llu, %llu]", (unsigned long long)ts,
                 (unsigned long long)before, (unsigned long long)after);
    assert_int_equal(s->tx.body->nonce.len, LEDGER_NONCE_LEN);
}

static void signed_free(signed_tx *s)
{
    ledger_tx_release(&s->tx);
    ledger_genesis_free(s->g);
    free(s->env);
}

#define SIGN(s, kind, ...) sign_only((s), (kind), (const char *const[]){__VA_ARGS__, NULL})
#define LIC "PL-320411-2025-000001"

static void test_sign_only_apply(void **state)
{
    (void)state;
    char reg[512];
    key_of("registrar", reg, sizeof reg);
    signed_tx s;
    const char *doc1 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const char *doc2 = "FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100";
    /* the holder signs the pledge offline; the registrar files it */
    char holder[512], text[512], pub[80], sig[160];
    tmp_path("pledge-holder.key", holder, sizeof holder);
    tmp_path("pledge.txt", text, sizeof text);
    unlink(holder);
    run_t r;
    RUN(&r, "keygen", "--out", holder);
    expect(&r, 0, NULL);
    chomp(r.out);
    snprintf(pub, sizeof pub, "%s", r.out);
    run_free(&r);
    const char *pledge = "本公司承诺符合便利店经营许可条件。\n";
    FILE *pf = fopen(text, "w");
    assert_non_null(pf);
    fputs(pledge, pf);
    assert_int_equal(fclose(pf), 0);
    RUN(&r, "pledge", "sign", "--key", holder, "--uscc", USCC_OK, "--industry",
        "convenience-store", "--text", text, "--genesis", g_genesis);
    expect(&r, 0, NULL);
    chomp(r.out);
    assert_int_equal(strlen(r.out), 128);
    snprintf(sig, sizeof sig, "%s", r.out);
    run_free(&r);
    /* without the pledge the commitment route is refused before anything
     * is signed for the node */
    RUN(&r, "apply", "--key", reg, "--uscc", USCC_OK, "--name", "n", "--legal-rep", "r",
        "--industry", "convenience-store", "--division", "320411", "--address", "a",
        "--commitment", "--sign-only", "--genesis", g_genesis);
    expect(&r, 2, "rule pledge_required");
    run_free(&r);
    SIGN(&s, PERMIT__TX_KIND__APPLY, "apply", "--key", reg, "--uscc", USCC_OK, "--name",
         "常州新北便利超市有限公司", "--legal-rep", "张三", "--industry", "convenience-store",
         "--division", "320411", "--address", "常州市新北区太湖东路101号", "--scope",
         "预包装食品销售\n卷烟零售", "--commitment", "--document", doc1, "--document", doc2,
         "--holder-key", pub, "--pledge-text", text, "--pledge-sig", sig);
    const Permit__Apply *a = s.tx.body->apply;
    {
        /* the signature is the holder's over the pledge digest of this
         * chain, USCC, industry and text (check_fields verified it too) */
        char hk[65], ps[129];
        uint8_t sha[32];
        ledger_hex_encode(a->holder_key.data, 32, hk);
        ledger_hex_encode(a->pledge_sig.data, 64, ps);
        assert_string_equal(hk, pub);
        assert_string_equal(ps, sig);
        ledger_sha256(pledge, strlen(pledge), sha);
        assert_memory_equal(a->pledge_sha256.data, sha, 32);
    }
    assert_string_equal(s.tx.body->license_id, "");
    assert_string_equal(a->uscc, USCC_OK);
    assert_string_equal(a->name, "常州新北便利超市有限公司");
    assert_string_equal(a->legal_rep, "张三");
    assert_string_equal(a->industry, "convenience-store");
    assert_string_equal(a->scope, "预包装食品销售\n卷烟零售");
    assert_string_equal(a->address->division, "320411");
    assert_string_equal(a->address->text, "常州市新北区太湖东路101号");
    assert_true(a->commitment);
    assert_int_equal(a->n_documents, 2);
    char hex[65];
    ledger_hex_encode(a->documents[0].data, 32, hex);
    assert_string_equal(hex, doc1);
    ledger_hex_encode(a->documents[1].data, 32, hex);
    assert_string_equal(hex, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
    assert_memory_equal(s.tx.signer, s.g->registrars[0].key.raw, 32);
    signed_free(&s);

    /* without optional fields */
    SIGN(&s, PERMIT__TX_KIND__APPLY, "apply", "--key", reg, "--uscc", USCC_OK, "--name", "n",
         "--legal-rep", "r", "--industry", "hotel", "--division", "320411001", "--address", "a");
    assert_false(s.tx.body->apply->commitment);
    assert_int_equal(s.tx.body->apply->n_documents, 0);
    assert_string_equal(s.tx.body->apply->scope, "");
    signed_free(&s);
}

static void test_sign_only_decisions(void **state)
{
    (void)state;
    char key[512];
    signed_tx s;
    static const struct {
        const char *cmd;
        int kind;
        const char *dept;
    } kinds[] = {
        {"approve", PERMIT__TX_KIND__APPROVE, "market"},
        {"reject", PERMIT__TX_KIND__REJECT, "tobacco"},
        {"verify", PERMIT__TX_KIND__VERIFY, "fire"},
    };
    for (size_t i = 0; i < 3; i++) {
        key_of(kinds[i].dept, key, sizeof key);
        SIGN(&s, kinds[i].kind, kinds[i].cmd, LIC, "--key", key, "--reason", "距离学校不足50米",
             "--item", "0", "--item", "2");
        assert_string_equal(s.tx.body->license_id, LIC);
        const Permit__Decision *d = s.tx.body->decision;
        assert_int_equal(d->n_items, 2);
        assert_int_equal(d->items[0], 0);
        assert_int_equal(d->items[1], 2);
        assert_string_equal(d->reason, "距离学校不足50米");
        int di = ledger_genesis_dept_index(s.g, kinds[i].dept);
        assert_memory_equal(s.tx.signer, s.g->departments[di].seal.raw, 32);
        signed_free(&s);
    }
    key_of("market", key, sizeof key);
    SIGN(&s, PERMIT__TX_KIND__APPROVE, "approve", LIC, "--key", key);
    assert_int_equal(s.tx.body->decision->n_items, 0);
    assert_string_equal(s.tx.body->decision->reason, "");
    signed_free(&s);
}

static void test_sign_only_reasons(void **state)
{
    (void)state;
    char key[512];
    signed_tx s;
    static const struct {
        const char *cmd;
        int kind;
        const char *who;
    } kinds[] = {
        {"suspend", PERMIT__TX_KIND__SUSPEND, "market"},
        {"resume", PERMIT__TX_KIND__RESUME, "market"},
        {"revoke", PERMIT__TX_KIND__REVOKE, "police"},
        {"cancel", PERMIT__TX_KIND__CANCEL, "registrar"},
        {"renew", PERMIT__TX_KIND__RENEW, "registrar"},
    };
    for (size_t i = 0; i < 5; i++) {
        key_of(kinds[i].who, key, sizeof key);
        SIGN(&s, kinds[i].kind, kinds[i].cmd, LIC, "--key", key, "--reason", "食品安全抽检不合格");
        assert_string_equal(s.tx.body->license_id, LIC);
        assert_string_equal(s.tx.body->reason->reason, "食品安全抽检不合格");
        signed_free(&s);
    }
    key_of("registrar", key, sizeof key);
    SIGN(&s, PERMIT__TX_KIND__RENEW, "renew", LIC, "--key", key);
    assert_string_equal(s.tx.body->reason->reason, "");
    signed_free(&s);
}

static void test_sign_only_addresses_and_amend(void **state)
{
    (void)state;
    char key[512];
    key_of("registrar", key, sizeof key);
    signed_tx s;
    SIGN(&s, PERMIT__TX_KIND__ADD_ADDRESS, "address", "add", LIC, "--key", key, "--division",
         "320411002", "--address", "常州市新北区河海路2号");
    assert_string_equal(s.tx.body->license_id, LIC);
    assert_string_equal(s.tx.body->add_address->address->division, "320411002");
    assert_string_equal(s.tx.body->add_address->address->text, "常州市新北区河海路2号");
    signed_free(&s);
    SIGN(&s, PERMIT__TX_KIND__REMOVE_ADDRESS, "address", "remove", LIC, "--key", key,
         "--address-id", "4294967295");
    assert_int_equal(s.tx.body->remove_address->address_id, 4294967295u);
    signed_free(&s);
    SIGN(&s, PERMIT__TX_KIND__AMEND, "amend", LIC, "--key", key, "--legal-rep", "李四");
    const Permit__Amend *am = s.tx.body->amend;
    assert_int_equal(am->name_opt_case, PERMIT__AMEND__NAME_OPT__NOT_SET);
    assert_int_equal(am->legal_rep_opt_case, PERMIT__AMEND__LEGAL_REP_OPT_LEGAL_REP);
    assert_int_equal(am->scope_opt_case, PERMIT__AMEND__SCOPE_OPT__NOT_SET);
    assert_string_equal(am->legal_rep, "李四");
    signed_free(&s);
    SIGN(&s, PERMIT__TX_KIND__AMEND, "amend", LIC, "--key", key, "--name", "新名", "--scope", "",
         "--legal-rep", "王五");
    am = s.tx.body->amend;
    assert_int_equal(am->name_opt_case, PERMIT__AMEND__NAME_OPT_NAME);
    assert_int_equal(am->scope_opt_case, PERMIT__AMEND__SCOPE_OPT_SCOPE);
    assert_string_equal(am->name, "新名");
    assert_string_equal(am->scope, "");
    signed_free(&s);
}

static void test_sign_only_with_chain_id_and_json(void **state)
{
    (void)state;
    char key[512];
    key_of("market", key, sizeof key);
    run_t r;
    RUN(&r, "approve", LIC, "--key", key, "--sign-only", "--chain-id", "other-chain", "--json");
    expect(&r, 0, NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    const char *hex = json_string_value(json_object_get(j, "tx"));
    assert_non_null(hex);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "APPROVE");
    assert_string_equal(json_string_value(json_object_get(j, "chain_id")), "other-chain");
    assert_string_equal(json_string_value(json_object_get(j, "license_id")), LIC);
    size_t len;
    uint8_t *env = tu_unhex(hex, &len);
    ledger_tx tx;
    assert_int_equal(ledger_tx_decode(&tx, env, len, "other-chain", NULL), 0);
    char id[65];
    ledger_hex_encode(tx.id, 32, id);
    assert_string_equal(json_string_value(json_object_get(j, "tx_id")), id);
    ledger_hex_encode(tx.signer, 32, id);
    assert_string_equal(json_string_value(json_object_get(j, "signer")), id);
    ledger_pubkey pk;
    assert_int_equal(ledger_pubkey_parse(&pk, tx.signer), 0);
    assert_true(ledger_tx_sig_ok(&tx, &pk));
    ledger_tx_release(&tx);
    /* the same envelope does not verify for another chain */
    assert_int_equal(ledger_tx_decode(&tx, env, len, "permitchain-320411-dev", NULL), 0);
    assert_false(ledger_tx_sig_ok(&tx, &pk));
    ledger_tx_release(&tx);
    free(env);
    json_decref(j);
    run_free(&r);
}

static void test_sign_only_checks_rules_locally(void **state)
{
    (void)state;
    char reg[512], mkt[512];
    key_of("registrar", reg, sizeof reg);
    key_of("market", mkt, sizeof mkt);
    struct {
        const char *args[24];
        const char *rule;
    } cases[] = {
        {{"approve", LIC, "--key", reg, "--sign-only", "--genesis", g_genesis},
         "rule signer_not_department"},
        {{"cancel", LIC, "--key", mkt, "--reason", "x", "--sign-only", "--genesis", g_genesis},
         "rule signer_not_registrar"},
        {{"apply", "--key", reg, "--uscc", "91350100M000100Y44", "--name", "n", "--legal-rep",
          "r", "--industry", "hotel", "--division", "320411", "--address", "a", "--sign-only",
          "--chain-id", "c"},
         "rule uscc_invalid"},
        {{"apply", "--key", reg, "--uscc", USCC_OK, "--name", "n", "--legal-rep", "r",
          "--industry", "spaceport", "--division", "320411", "--address", "a", "--sign-only",
          "--genesis", g_genesis},
         "rule industry_unknown): industry \"spaceport\" is not in the catalogue; valid codes: "
         "convenience-store, supermarket, "},
        {{"apply", "--key", reg, "--uscc", USCC_OK, "--name", "n", "--legal-rep", "r",
          "--industry", "hotel", "--division", "320411", "--address", "a", "--commitment",
          "--sign-only", "--genesis", g_genesis},
         "rule commitment_not_allowed"},
        {{"address", "add", LIC, "--key", reg, "--division", "110101", "--address", "北京",
          "--sign-only", "--genesis", g_genesis},
         "rule division_outside_region"},
        {{"approve", "PL-0123456789012345678901234567890123456789012345678901234567890123",
          "--key", mkt, "--sign-only", "--chain-id", "c"},
         "rule license_id_invalid"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_t r;
        run_io(&r, NULL, NULL, cases[i].args);
        if (r.status != 2 || strstr(r.err, cases[i].rule) == NULL ||
            strncmp(r.err, "permit: rejected (rule ", 23) != 0)
            fail_msg("case %zu: exit %d: %s", i, r.status, r.err);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
}

/* ---- against a node ----------------------------------------------------- */

static void test_unreachable_node_exits_3_quickly(void **state)
{
    (void)state;
    char url[64], mkt[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", free_port());
    key_of("market", mkt, sizeof mkt);
    const char *const *cases[] = {
        (const char *const[]){"--rpc", url, "status", NULL},
        (const char *const[]){"show", LIC, "--rpc", url, NULL},
        (const char *const[]){"search", "--name", "常州", "--rpc", url, NULL},
        (const char *const[]){"approve", LIC, "--key", mkt, "--rpc", url, NULL},
        (const char *const[]){"tx", "submit", "--rpc", url, "00", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_t r;
        run_io(&r, NULL, NULL, cases[i]);
        if (i == 4) { /* a malformed envelope is refused before any connection */
            expect(&r, 2, "rule envelope_malformed");
            run_free(&r);
            continue;
        }
        expect(&r, 3, "cannot reach the node");
        assert_true(r.secs < 5.0);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    /* PERMIT_RPC is honoured (and --rpc wins over it) */
    setenv("PERMIT_RPC", url, 1);
    run_t r;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(PERMIT, "permit", "status", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    unsetenv("PERMIT_RPC");
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    (void)r;
}

static void test_status_human_and_json(void **state)
{
    (void)state;
    fake_node *f = fake_start("{" STATUS_OK "}");
    run_t r;
    RUN(&r, "--rpc", f->url, "status");
    expect(&r, 0, NULL);
    assert_non_null(strstr(r.out, "Chain          permitchain-320411-dev\n"));
    assert_non_null(strstr(r.out, "Validators     2: market, fire\n"));
    assert_non_null(strstr(r.out, "Block time     2025-11-28 08:00:00\n"));
    assert_non_null(strstr(r.out, "Mempool        2 txs, 300 bytes (max 100000 txs)\n"));
    assert_non_null(strstr(r.out, "Syncing        no\n"));
    run_free(&r);
    RUN(&r, "status", "--json", "--rpc", f->url);
    expect(&r, 0, NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "height")), 7);
    json_decref(j);
    run_free(&r);
    assert_int_equal(fake_count(f, "status"), 2);
    assert_true(json_is_null(fake_call(f, "status", 0)));
    fake_stop(f);
}

static void test_rpc_errors_give_exit_codes(void **state)
{
    (void)state;
    static const struct {
        const char *error;
        int status;
        const char *msg;
    } cases[] = {
        {"{\"code\": 1001, \"message\": \"license PL-1 does not exist\", \"data\": {\"rule\": "
         "\"license_not_found\"}}", 5, "permit: not found: license PL-1 does not exist"},
        {"{\"code\": 1002, \"message\": \"department fire owns no permit item of license PL-1\", "
         "\"data\": {\"rule\": \"department_not_owner\"}}", 2,
         "permit: rejected (rule department_not_owner): department fire owns no permit item"},
        {"{\"code\": 1003, \"message\": \"already committed\", \"data\": {\"rule\": "
         "\"tx_duplicate\"}}", 2, "rejected (rule tx_duplicate)"},
        {"{\"code\": 1006, \"message\": \"not a seal\", \"data\": {\"rule\": "
         "\"signer_not_department\"}}", 2, "rejected (rule signer_not_department)"},
        {"{\"code\": 1002, \"message\": \"bad\", \"data\": {\"rule\": \"Evil\\u001b[0m\"}}", 2,
         "permit: rejected: bad"},
        {"{\"code\": 1004, \"message\": \"mempool full\"}", 3, "mempool is full"},
        {"{\"code\": 1005, \"message\": \"timeout\", \"data\": {\"tx_id\": "
         "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}}", 3,
         "permit tx 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
        {"{\"code\": -32000, \"message\": \"storage failure\"}", 3, "node internal error"},
        {"{\"code\": -32601, \"message\": \"unknown method\"}", 3, "does not know the method"},
        {"{\"code\": -32602, \"message\": \"too long\", \"data\": {\"param\": \"id\"}}", 1,
         "(param id)"},
        {"{\"code\": -32603, \"message\": \"\\u001b]0;pwned\\u0007\"}", 3,
         "node error -32603: ?]0;pwned?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char script[1024];
        snprintf(script, sizeof script, "{\"license.get\": {\"error\": %s}}", cases[i].error);
        fake_node *f = fake_start(script);
        run_t r;
        RUN(&r, "--rpc", f->url, "show", "PL-1");
        if (r.status != cases[i].status || strstr(r.err, cases[i].msg) == NULL)
            fail_msg("case %zu: exit %d: %s", i, r.status, r.err);
        assert_null(strchr(r.err, '\x1b'));
        assert_string_equal(r.out, "");
        assert_string_equal(json_string_value(json_object_get(fake_call(f, "license.get", 0),
                                                              "id")), "PL-1");
        run_free(&r);
        fake_stop(f);
    }
}

static void test_transport_failures_exit_3(void **state)
{
    (void)state;
    static const struct {
        const char *script;
        const char *msg;
    } cases[] = {
        {"{\"status\": {\"_http\": 503, \"_raw\": \"busy\"}}", "answered HTTP 503"},
        {"{\"status\": {\"_raw\": \"<html>not json</html>\"}}", "invalid JSON"},
        {"{\"status\": {\"_raw\": \"{\\\"result\\\": 1}\"}}", "not a JSON-RPC 2.0 response"},
        {"{\"status\": {\"result\": {}, \"_id\": 99}}", "answered another request"},
        {"{\"status\": {\"_mode\": \"close\", \"result\": {\"chain_id\": \"x\"}}}",
         "closed the connection"},
        {"{\"status\": {\"_mode\": \"huge\", \"result\": {}}}", "larger than 64 MiB"},
        {"{\"status\": {\"_raw\": \"\"}}", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_node *f = fake_start(cases[i].script);
        run_t r;
        RUN(&r, "--rpc", f->url, "status");
        if (r.status != 3 || strstr(r.err, cases[i].msg) == NULL)
            fail_msg("case %zu: exit %d: %s", i, r.status, r.err);
        assert_true(r.secs < 10.0);
        run_free(&r);
        fake_stop(f);
    }
}

static void test_chunked_eof_and_split_responses_are_read(void **state)
{
    (void)state;
    static const char *const modes[] = {"chunked", "eof", "tiny"};
    for (size_t i = 0; i < 3; i++) {
        char script[1024];
        snprintf(script, sizeof script,
                 "{\"license.history\": {\"_mode\": \"%s\", \"result\": {\"id\": \"PL-1\", "
                 "\"events\": [{\"seq\": 0, \"kind\": \"APPLY\", \"time\": 1764288000000, "
                 "\"height\": 3, \"tx_id\": \"ab\", \"details\": {\"name\": \"常州新北便利\", "
                 "\"address\": {\"division\": \"320411\", \"text\": \"太湖东路\"}}}]}}}",
                 modes[i]);
        fake_node *f = fake_start(script);
        run_t r;
        RUN(&r, "history", "PL-1", "--rpc", f->url);
        expect(&r, 0, NULL);
        assert_non_null(strstr(r.out, "#0  APPLY"));
        assert_non_null(strstr(r.out, "2025-11-28 08:00:00  block 3"));
        assert_non_null(strstr(r.out, "常州新北便利"));
        assert_non_null(strstr(r.out, "address.division 320411"));
        run_free(&r);
        fake_stop(f);
    }
}

static void test_read_timeout_exits_3(void **state)
{
    (void)state;
    fake_node *f = fake_start("{\"status\": {\"_mode\": \"hang\"}}");
    run_t r;
    RUN(&r, "--timeout", "1", "--rpc", f->url, "status");
    expect(&r, 3, "no response");
    assert_true(r.secs >= 0.9 && r.secs < 4.0);
    run_free(&r);
    fake_stop(f);
}

static void test_show_is_readable(void **state)
{
    (void)state;
    fake_node *f = fake_start(
        "{\"license.get\": {\"result\": {\"id\": \"PL-320411-2025-000001\", \"status\": "
        "\"SUSPENDED\", \"stored_status\": \"SUSPENDED\", \"uscc\": \"" USCC_OK "\", \"name\": "
        "\"常州新北便利超市\\u001b[2J有限公司\", \"legal_rep\": \"张三\", \"industry\": "
        "\"convenience-store\", \"scope\": \"预包装食品销售\\n卷烟零售\", \"addresses\": [{\"id\": "
        "1, \"division\": \"320411\", \"text\": \"太湖东路101号\", \"primary\": true}, {\"id\": 2, "
        "\"division\": \"320411001\", \"text\": \"河海路2号\", \"primary\": false}], \"items\": "
        "[{\"index\": 0, \"permit\": \"食品经营许可\", \"department\": \"market\", \"decision\": "
        "\"APPROVED\", \"verified\": false, \"decided_at\": 1764288000000}, {\"index\": 1, "
        "\"permit\": \"烟草专卖零售许可\", \"department\": \"tobacco\", \"decision\": 0, "
        "\"verified\": false, \"decided_at\": null}], \"commitment\": false, "
        "\"verify_deadline\": null, \"applied_at\": 1764288000000, \"issued_at\": "
        "1764291600000, \"expires_at\": 1922054400000, \"documents\": [], \"suspended_by\": "
        "\"market\", \"seq\": 3, \"head\": \"cd\"}}}");
    run_t r;
    RUN(&r, "--rpc", f->url, "show", "PL-320411-2025-000001");
    expect(&r, 0, NULL);
    static const char *const want[] = {
        "License        PL-320411-2025-000001\n",
        "Status         SUSPENDED by market\n",
        "Name           常州新北便利超市?[2J有限公司\n",
        "Scope          预包装食品销售\n               卷烟零售\n",
        "Commitment     no\n",
        "Applied        2025-11-28 08:00:00\n",
        "Issued         2025-11-28 09:00:00\n",
        "Expires        2030-11-28 08:00:00\n",
        "  #1    320411    太湖东路101号  (primary)\n",
        "  #2    320411001 河海路2号\n",
        "  #0    market     APPROVED  2025-11-28 08:00:00  食品经营许可\n",
        "  #1    tobacco    PENDING   -                    烟草专卖零售许可\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(r.out, want[i]) == NULL)
            fail_msg("show lacks \"%s\":\n%s", want[i], r.out);
    assert_null(strchr(r.out, '\x1b'));
    run_free(&r);
    RUN(&r, "--rpc", f->url, "address", "list", "PL-320411-2025-000001");
    expect(&r, 0, NULL);
    assert_string_equal(r.out, "  #1    320411    太湖东路101号  (primary)\n"
                               "  #2    320411001 河海路2号\n");
    run_free(&r);
    RUN(&r, "--rpc", f->url, "--json", "address", "list", "PL-320411-2025-000001");
    expect(&r, 0, NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "addresses")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "PL-320411-2025-000001");
    json_decref(j);
    run_free(&r);
    fake_stop(f);
}

static void test_queries_send_the_right_params(void **state)
{
    (void)state;
    const char *list = "{\"result\": {\"licenses\": [{\"id\": \"PL-320411-2025-000001\", "
                       "\"status\": \"ISSUED\", \"uscc\": \"" USCC_OK "\", \"name\": "
                       "\"常州新北便利\", \"industry\": \"convenience-store\", \"issued_at\": "
                       "1764288000000, \"expires_at\": 1922054400000}], \"next_cursor\": "
                       "\"c2\"}}";
    char script[4096];
    snprintf(script, sizeof script,
             "{\"license.search\": %s, \"license.pending\": %s, \"license.expiring\": %s, "
             "\"license.overdue\": {\"result\": {\"licenses\": [], \"next_cursor\": null}}, "
             "\"block.get\": {\"result\": {\"height\": 5, \"tx_ids\": [\"aa\"], \"commit\": "
             "null}}, \"tx.get\": {\"result\": {\"tx_id\": \"ab\", \"kind\": \"APPROVE\", "
             "\"height\": 5, \"index\": 0, \"body\": {\"timestamp_ms\": 1764288000000, "
             "\"items\": [0, 2], \"reason\": null}}}}",
             list, list, list);
    fake_node *f = fake_start(script);
    run_t r;
    RUN(&r, "--rpc", f->url, "search", "--name", "常州", "--status", "issued", "--limit", "5",
        "--cursor", "c1", "--uscc", USCC_OK, "--address", "太湖", "--industry", "gym");
    expect(&r, 0, NULL);
    assert_non_null(strstr(r.out, "ID                     STATUS  INDUSTRY           EXPIRES"
                                  "              NAME\n"));
    assert_non_null(strstr(r.out, "PL-320411-2025-000001  ISSUED  convenience-store  "
                                  "2030-11-28 08:00:00  常州新北便利\n"));
    assert_non_null(strstr(r.out, "(more: --cursor c2)"));
    run_free(&r);
    json_t *p = fake_call(f, "license.search", 0);
    json_t *want = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "uscc", USCC_OK, "name",
                             "常州", "address", "太湖", "industry", "gym", "status", "ISSUED",
                             "limit", 5, "cursor", "c1");
    assert_true(json_equal(p, want));
    json_decref(want);

    RUN(&r, "--rpc", f->url, "pending", "--department", "market");
    expect(&r, 0, NULL);
    run_free(&r);
    want = json_pack("{s:s}", "department", "market");
    assert_true(json_equal(fake_call(f, "license.pending", 0), want));
    json_decref(want);
    RUN(&r, "--rpc", f->url, "expiring", "--within", "90", "--limit", "1000");
    expect(&r, 0, NULL);
    run_free(&r);
    want = json_pack("{s:i, s:i}", "within_days", 90, "limit", 1000);
    assert_true(json_equal(fake_call(f, "license.expiring", 0), want));
    json_decref(want);
    RUN(&r, "--rpc", f->url, "overdue");
    expect(&r, 0, NULL);
    assert_string_equal(r.out, "no licenses\n");
    run_free(&r);
    RUN(&r, "--rpc", f->url, "block");
    expect(&r, 0, NULL);
    assert_non_null(strstr(r.out, "Height         5\n"));
    assert_non_null(strstr(r.out, "Commit         - (not yet certified)\n"));
    run_free(&r);
    assert_true(json_is_null(fake_call(f, "block.get", 0)));
    RUN(&r, "--rpc", f->url, "block", "12");
    expect(&r, 0, NULL);
    run_free(&r);
    assert_int_equal(json_integer_value(json_object_get(fake_call(f, "block.get", 1), "height")),
                     12);
    RUN(&r, "--rpc", f->url, "tx", "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff");
    expect(&r, 0, NULL);
    assert_non_null(strstr(r.out, "timestamp_ms   2025-11-28 08:00:00\n"));
    assert_non_null(strstr(r.out, "items          0, 2\n"));
    run_free(&r);
    assert_string_equal(json_string_value(json_object_get(fake_call(f, "tx.get", 0), "tx_id")),
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    fake_stop(f);
}

/* Decode the envelope a fake node received with tx.submit (call n). */
static void received_tx(fake_node *f, size_t n, const char *chain, ledger_tx *tx,
                        uint8_t **env)
{
    json_t *p = fake_call(f, "tx.submit", n);
    assert_non_null(p);
    size_t len;
    *env = tu_unhex(json_string_value(json_object_get(p, "tx")), &len);
    assert_int_equal(ledger_tx_decode(tx, *env, len, chain, NULL), 0);
    ledger_pubkey pk;
    assert_int_equal(ledger_pubkey_parse(&pk, tx->signer), 0);
    assert_true(ledger_tx_sig_ok(tx, &pk));
}

static void test_writes_submit_and_wait_for_the_commit(void **state)
{
    (void)state;
    char mkt[512], reg[512];
    key_of("market", mkt, sizeof mkt);
    key_of("registrar", reg, sizeof reg);
    fake_node *f = fake_start(
        "{" STATUS_OK ", \"tx.submit\": {\"result\": {\"tx_id\": \"0011\", \"status\": "
        "\"committed\", \"height\": 12, \"index\": 0, \"kind\": \"APPLY\", \"license_id\": "
        "\"PL-320411-2025-000007\"}}}");
    run_t r;
    RUN(&r, "--rpc", f->url, "apply", "--key", reg, "--uscc", USCC_OK, "--name", "n",
        "--legal-rep", "r", "--industry", "bakery", "--division", "320411", "--address", "a");
    expect(&r, 0, NULL);
    assert_string_equal(r.out, "PL-320411-2025-000007\n"); /* only the id: scripts capture it */
    run_free(&r);
    ledger_tx tx;
    uint8_t *env;
    received_tx(f, 0, "permitchain-320411-dev", &tx, &env);
    assert_int_equal(tx.kind, PERMIT__TX_KIND__APPLY);
    json_t *p = fake_call(f, "tx.submit", 0);
    assert_string_equal(json_string_value(json_object_get(p, "wait")), "commit");
    assert_null(json_object_get(p, "timeout_ms"));
    ledger_tx_release(&tx);
    free(env);

    RUN(&r, "--rpc", f->url, "approve", LIC, "--key", mkt, "--timeout-ms", "30000");
    expect(&r, 0, NULL);
    /* the license the node names wins over the one asked for (they agree in practice) */
    assert_string_equal(r.out, "APPROVE PL-320411-2025-000007 committed in block 12 (tx 0011)\n");
    run_free(&r);
    received_tx(f, 1, "permitchain-320411-dev", &tx, &env);
    assert_int_equal(tx.kind, PERMIT__TX_KIND__APPROVE);
    assert_string_equal(tx.body->license_id, LIC);
    p = fake_call(f, "tx.submit", 1);
    assert_int_equal(json_integer_value(json_object_get(p, "timeout_ms")), 30000);
    ledger_tx_release(&tx);
    free(env);

    RUN(&r, "--rpc", f->url, "--json", "suspend", LIC, "--key", mkt, "--reason", "x",
        "--no-wait", "--genesis", g_genesis);
    expect(&r, 0, NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "height")), 12);
    json_decref(j);
    run_free(&r);
    p = fake_call(f, "tx.submit", 2);
    assert_string_equal(json_string_value(json_object_get(p, "wait")), "none");
    assert_int_equal(fake_count(f, "status"), 3); /* the chain id is asked every time */
    fake_stop(f);
}

static void test_write_to_another_chain_exits_4(void **state)
{
    (void)state;
    char mkt[512];
    key_of("market", mkt, sizeof mkt);
    fake_node *f = fake_start("{" STATUS_OK "}");
    run_t r;
    RUN(&r, "--rpc", f->url, "approve", LIC, "--key", mkt, "--chain-id", "another-chain");
    expect(&r, 4, "serves chain permitchain-320411-dev, not another-chain");
    run_free(&r);
    assert_int_equal(fake_count(f, "tx.submit"), 0);
    fake_stop(f);
    f = fake_start("{\"status\": {\"result\": {\"chain_id\": 7}}}");
    RUN(&r, "--rpc", f->url, "approve", LIC, "--key", mkt);
    expect(&r, 3, "valid chain id");
    run_free(&r);
    fake_stop(f);
}

static void test_write_refused_by_the_node(void **state)
{
    (void)state;
    char mkt[512];
    key_of("fire", mkt, sizeof mkt);
    fake_node *f = fake_start(
        "{" STATUS_OK ", \"tx.submit\": {\"error\": {\"code\": 1006, \"message\": "
        "\"department fire owns no permit item of license " LIC "\", \"data\": {\"rule\": "
        "\"department_not_owner\", \"tx_id\": "
        "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}}}}");
    run_t r;
    RUN(&r, "--rpc", f->url, "approve", LIC, "--key", mkt);
    expect(&r, 2, "permit: rejected (rule department_not_owner): department fire owns no "
                  "permit item of license " LIC "\n");
    run_free(&r);
    fake_stop(f);
}

static void test_tx_submit_reports_each_line_and_the_worst_code(void **state)
{
    (void)state;
    char mkt[512];
    key_of("market", mkt, sizeof mkt);
    run_t r;
    RUN(&r, "approve", LIC, "--key", mkt, "--sign-only", "--genesis", g_genesis);
    expect(&r, 0, NULL);
    char *e1 = strdup(chomp(r.out));
    run_free(&r);
    RUN(&r, "revoke", LIC, "--key", mkt, "--reason", "x", "--sign-only", "--genesis", g_genesis);
    expect(&r, 0, NULL);
    char *e2 = strdup(chomp(r.out));
    run_free(&r);

    fake_node *f = fake_start("{\"tx.submit\": {\"result\": {\"tx_id\": \"ab\", \"status\": "
                              "\"committed\", \"height\": 3, \"index\": 0, \"kind\": "
                              "\"APPROVE\"}}}");
    size_t cap = strlen(e1) + strlen(e2) + 256;
    char *in = malloc(cap);
    snprintf(in, cap, "# envelopes\n%s\n\n  %s  \r\nnot-hex\n0100\n", e1, e2);
    RUN_IN(&r, in, "--rpc", f->url, "tx", "submit", "-", "--no-wait");
    expect(&r, 1, "2 of 4 envelopes failed");
    assert_non_null(strstr(r.err, "permit: line 5: not a hex envelope"));
    assert_non_null(strstr(r.err, "permit: line 6: rejected (rule envelope_malformed)"));
    assert_non_null(strstr(r.out, "APPROVE " LIC " committed in block 3 (tx ab)\n"));
    assert_non_null(strstr(r.out, "REVOKE " LIC " committed in block 3 (tx ab)\n"));
    run_free(&r);
    assert_int_equal(fake_count(f, "tx.submit"), 2);
    assert_string_equal(json_string_value(json_object_get(fake_call(f, "tx.submit", 0), "tx")),
                        e1);
    assert_string_equal(json_string_value(json_object_get(fake_call(f, "tx.submit", 1), "wait")),
                        "none");
    /* --json: one result per line; a single HEX argument */
    snprintf(in, cap, "%s\n%s\n", e1, e2);
    RUN_IN(&r, in, "--rpc", f->url, "--json", "tx", "submit");
    expect(&r, 0, NULL);
    char *nl = strchr(r.out, '\n');
    assert_non_null(nl);
    assert_non_null(strchr(nl + 1, '\n'));
    *nl = '\0';
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    json_decref(j);
    run_free(&r);
    RUN(&r, "--rpc", f->url, "tx", "submit", e2);
    expect(&r, 0, NULL);
    assert_string_equal(r.out, "REVOKE " LIC " committed in block 3 (tx ab)\n");
    run_free(&r);
    RUN_IN(&r, "\n# nothing\n", "--rpc", f->url, "tx", "submit");
    expect(&r, 1, "no envelope");
    run_free(&r);
    fake_stop(f);

    /* refusals by the node, then a transport failure stops the run */
    f = fake_start("{\"tx.submit\": {\"error\": {\"code\": 1003, \"message\": \"already "
                   "committed\", \"data\": {\"rule\": \"tx_duplicate\"}}}}");
    snprintf(in, cap, "%s\n%s\n", e1, e2);
    RUN_IN(&r, in, "--rpc", f->url, "tx", "submit", "-");
    expect(&r, 2, "permit: line 2: rejected (rule tx_duplicate)");
    run_free(&r);
    fake_stop(f);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", free_port());
    RUN_IN(&r, in, "--rpc", url, "tx", "submit", "-");
    expect(&r, 3, "stopped at line 1");
    assert_null(strstr(r.err, "line 2:"));
    run_free(&r);
    free(in);
    free(e1);
    free(e2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_is_china_standard_time_without_tz),
        cmocka_unit_test(test_text_is_cleaned_and_measured),
        cmocka_unit_test(test_rpc_url_parsing),
        cmocka_unit_test(test_rpc_error_codes_map_to_exit_codes),
        cmocka_unit_test(test_option_parser),
        cmocka_unit_test(test_command_names_are_unique_and_documented),
        cmocka_unit_test(test_default_catalogue_matches_the_example),
        cmocka_unit_test(test_top_level_help_lists_commands_and_exit_codes),
        cmocka_unit_test(test_every_command_has_help),
        cmocka_unit_test(test_usage_errors_exit_1_naming_the_option),
        cmocka_unit_test(test_output_write_failure_exits_3),
        cmocka_unit_test(test_keygen_pubkey_round_trip_and_no_overwrite),
        cmocka_unit_test(test_testnet_writes_a_loadable_network),
        cmocka_unit_test(test_testnet_refuses_an_existing_folder),
        cmocka_unit_test(test_testnet_options_and_custom_catalogue),
        cmocka_unit_test(test_testnet_leaves_nothing_behind),
        cmocka_unit_test(test_sign_only_apply),
        cmocka_unit_test(test_sign_only_decisions),
        cmocka_unit_test(test_sign_only_reasons),
        cmocka_unit_test(test_sign_only_addresses_and_amend),
        cmocka_unit_test(test_sign_only_with_chain_id_and_json),
        cmocka_unit_test(test_sign_only_checks_rules_locally),
        cmocka_unit_test(test_unreachable_node_exits_3_quickly),
        cmocka_unit_test(test_status_human_and_json),
        cmocka_unit_test(test_rpc_errors_give_exit_codes),
        cmocka_unit_test(test_transport_failures_exit_3),
        cmocka_unit_test(test_chunked_eof_and_split_responses_are_read),
        cmocka_unit_test(test_read_timeout_exits_3),
        cmocka_unit_test(test_show_is_readable),
        cmocka_unit_test(test_queries_send_the_right_params),
        cmocka_unit_test(test_writes_submit_and_wait_for_the_commit),
        cmocka_unit_test(test_write_to_another_chain_exits_4),
        cmocka_unit_test(test_write_refused_by_the_node),
        cmocka_unit_test(test_tx_submit_reports_each_line_and_the_worst_code),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
