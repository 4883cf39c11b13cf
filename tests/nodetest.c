#include "nodetest.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/hex.h"

uint64_t nt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Ports for test nodes come from below the kernel's ephemeral range
 * (32768-60999 by default), where client sockets take their source ports:
 * a port picked there and released could be some connection's source port
 * by the time the node binds it.  Random in [20000, 32000), checked free by
 * binding, never handed out twice by one process. */
#define PORT_LO 20000
#define PORT_HI 32000

int nt_free_port(void)
{
    static uint8_t given[PORT_HI - PORT_LO];
    static uint64_t rng;
    if (rng == 0)
        rng = ((uint64_t)getpid() << 32) ^ nt_now_ms() ^ 0x9e3779b97f4a7c15u;
    for (int attempt = 0; attempt < 1000; attempt++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int port = PORT_LO + (int)(rng % (PORT_HI - PORT_LO));
        if (given[port - PORT_LO])
            continue;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok) {
            given[port - PORT_LO] = 1;
            return port;
        }
    }
    fail_msg("no free port in %d-%d", PORT_LO, PORT_HI);
    return -1;
}

int nt_free_port_range(int count)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int base = nt_free_port();
        int ok = base + count <= PORT_HI;
        for (int k = 1; ok && k < count; k++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            assert_true(fd >= 0);
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)(base + k)),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
            close(fd);
        }
        if (ok)
            return base;
    }
    fail_msg("no %d free ports in a row in %d-%d", count, PORT_LO, PORT_HI);
    return -1;
}

/* 1 when process pid holds a socket listening on 127.0.0.1:port: the node
 * answering there is ours (a port can be taken between picking and
 * binding, and then another test's node would answer /health). */
static int pid_listens_on(pid_t pid, int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL)
        return 1; /* no way to tell: trust /health */
    char line[512];
    unsigned long inodes[16];
    size_t n = 0;
    while (fgets(line, sizeof line, f) && n < 16) {
        unsigned lport, state;
        unsigned long inode;
        /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &lport,
                   &state, &inode) == 3 &&
            (int)lport == port && state == 0x0A)
            inodes[n++] = inode;
    }
    fclose(f);
    char dir[64], path[320], target[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    for (int fd = 0; fd < 4096; fd++) {
        snprintf(path, sizeof path, "%s/%d", dir, fd);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        unsigned long inode;
        if (sscanf(target, "socket:[%lu]", &inode) == 1)
            for (size_t i = 0; i < n; i++)
                if (inodes[i] == inode)
                    return 1;
    }
    return 0;
}

void nt_path(const nt_node *nd, const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", nd->home, rel);
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* the test genesis, stamped with the real time so transactions signed now
 * fall inside the window of the node's blocks */
static void now_genesis(json_t *root)
{
    json_object_set_new(root, "genesis_time", json_integer((json_int_t)(nt_now_ms() - 1000)));
    json_t *p = json_object_get(root, "params");
    json_object_set_new(p, "block_interval", json_string("50ms"));
    json_object_set_new(p, "heartbeat", json_string("2s"));
}

static lt_genesis_edit g_user_edit;

static void edit_both(json_t *root)
{
    now_genesis(root);
    if (g_user_edit)
        g_user_edit(root);
}

void nt_init(nt_node *nd, lt_genesis_edit edit)
{
    memset(nd, 0, sizeof *nd);
    g_user_edit = edit;
    lt_setup(&nd->env, edit_both);
    nd->env.now = nt_now_ms() - 1000; /* builders stamp now + 1 s */
    /* the node owns its own database; the env's is only for its keys */
    nd->home = tu_tmpdir("node");
    char p[600];
    nt_path(nd, "config", p, sizeof p);
    assert_int_equal(mkdir(p, 0700), 0);
    nt_path(nd, "config/genesis.json", p, sizeof p);
    write_file(p, nd->env.genesis_json, strlen(nd->env.genesis_json), 0644);
    nt_path(nd, "config/node.key", p, sizeof p);
    ledger_err err;
    assert_int_equal(ledger_keyfile_write(p, &nd->env.node[LT_MARKET], &err), 0);
    nd->port = nt_free_port();
}

/* Start permitd on a home whose permitd.conf is written. */
static pid_t spawn_home(const char *home, const char *const *extra)
{
    char log[600];
    snprintf(log, sizeof log, "%s/permitd.log", home);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        const char *argv[32];
        int k = 0;
        argv[k++] = PERMIT_BIN_DIR "/permitd";
        argv[k++] = "--home";
        argv[k++] = home;
        for (int i = 0; extra && extra[i] && k < 30; i++)
            argv[k++] = extra[i];
        argv[k] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* ... and wait for /health. */
static pid_t start_home(const char *home, int port, const char *const *extra)
{
    char log[600];
    snprintf(log, sizeof log, "%s/permitd.log", home);
    pid_t pid = spawn_home(home, extra);
    uint64_t until = nt_now_ms() + 15000;
    while (nt_now_ms() < until) {
        char *body = NULL;
        int st = nt_http(port, "GET", "/health", NULL, 0, &body, NULL);
        free(body);
        if (st == 200 && pid_listens_on(pid, port))
            return pid;
        int wst;
        if (waitpid(pid, &wst, WNOHANG) == pid) {
            char *l = tu_read_file(log, NULL);
            fail_msg("permitd exited during start (status %d):\n%s", wst, l ? l : "");
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("permitd did not answer /health within 15 s");
    return -1;
}

pid_t nt_start_home(const char *home, int rpc_port)
{
    return start_home(home, rpc_port, NULL);
}

static void write_conf(nt_node *nd)
{
    char p[600], conf[1024];
    nt_path(nd, "config/permitd.conf", p, sizeof p);
    int n = snprintf(conf, sizeof conf,
                     "# written by tests/nodetest.c\nrpc_listen = 127.0.0.1:%d\nlog_level = info\n%s",
                     nd->port, nd->extra_conf);
    write_file(p, conf, (size_t)n, 0644);
}

void nt_start(nt_node *nd, const char *const *extra)
{
    write_conf(nd);
    nd->pid = start_home(nd->home, nd->port, extra);
}

void nt_spawn(nt_node *nd, const char *const *extra)
{
    write_conf(nd);
    nd->pid = spawn_home(nd->home, extra);
}

/* ---- clusters ---- */

static nt_cluster *g_cluster; /* for the genesis edit, which takes no context */

static void cluster_genesis(json_t *root)
{
    nt_cluster *c = g_cluster;
    now_genesis(root);
    json_t *depts = json_object_get(root, "departments");
    for (unsigned i = 0; i < json_array_size(depts); i++) {
        json_t *d = json_array_get(depts, i);
        json_object_del(d, "validator");
        if (i >= c->n)
            continue;
        char key[65], addr[32];
        ledger_hex_encode(c->env.node[i].pub, 32, key);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", c->p2p_port[i]);
        json_object_set_new(d, "validator",
                            json_pack("{s:s, s:s}", "node_key", key, "p2p", addr));
    }
    if (g_user_edit)
        g_user_edit(root);
}

void nt_cluster_init(nt_cluster *c, unsigned n, lt_genesis_edit edit)
{
    assert_true(n >= 1 && n <= NT_MAX_NODES && n <= LT_NDEPT);
    memset(c, 0, sizeof *c);
    c->n = n;
    for (unsigned i = 0; i < n; i++) {
        c->rpc_port[i] = nt_free_port();
        do
            c->p2p_port[i] = nt_free_port();
        while (c->p2p_port[i] == c->rpc_port[i]);
    }
    g_cluster = c;
    g_user_edit = edit;
    lt_setup(&c->env, cluster_genesis);
    g_user_edit = NULL;
    c->env.now = nt_now_ms() - 1000;
    for (unsigned i = 0; i < n; i++) {
        c->home[i] = tu_tmpdir("cluster");
        char p[600];
        snprintf(p, sizeof p, "%s/config", c->home[i]);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof p, "%s/config/genesis.json", c->home[i]);
        write_file(p, c->env.genesis_json, strlen(c->env.genesis_json), 0644);
        snprintf(p, sizeof p, "%s/config/node.key", c->home[i]);
        ledger_err err;
        assert_int_equal(ledger_keyfile_write(p, &c->env.node[i], &err), 0);
    }
}

void nt_cluster_start(nt_cluster *c, unsigned i)
{
    char p[600], conf[1024];
    snprintf(p, sizeof p, "%s/config/permitd.conf", c->home[i]);
    int n = snprintf(conf, sizeof conf,
                     "rpc_listen = 127.0.0.1:%d\np2p_listen = 127.0.0.1:%d\nlog_level = info\n"
                     "timeout_propose = 1s\ntimeout_vote = 500ms\ntimeout_delta = 250ms\n%s",
                     c->rpc_port[i], c->p2p_port[i], c->extra_conf);
    write_file(p, conf, (size_t)n, 0644);
    c->pid[i] = start_home(c->home[i], c->rpc_port[i], NULL);
}

int nt_cluster_signal(nt_cluster *c, unsigned i, int sig)
{
    if (c->pid[i] <= 0)
        return -1;
    kill(c->pid[i], sig);
    int wst = 0;
    waitpid(c->pid[i], &wst, 0);
    c->pid[i] = 0;
    return wst;
}

void nt_cluster_stop_clean(nt_cluster *c, unsigned i)
{
    if (c->pid[i] <= 0)
        return; /* stopped already (a test that failed half way) */
    int wst = nt_cluster_signal(c, i, SIGTERM);
    if (WIFEXITED(wst) && WEXITSTATUS(wst) == 0)
        return;
    char p[600];
    snprintf(p, sizeof p, "%s/permitd.log", c->home[i]);
    size_t n = 0;
    char *l = tu_read_file(p, &n);
    const char *tail = l ? (n > 6000 ? l + n - 6000 : l) : "(no log)";
    fprintf(stderr, "node %u: %s %d on SIGTERM; its log ends:\n%s\n", i,
            WIFEXITED(wst) ? "exit status" : "signal",
            WIFEXITED(wst) ? WEXITSTATUS(wst) : WTERMSIG(wst), tail);
    free(l);
    fail_msg("node %u did not shut down cleanly", i);
}

void nt_cluster_wipe(nt_cluster *c, unsigned i)
{
    char p[600];
    snprintf(p, sizeof p, "%s/data", c->home[i]);
    tu_rmrf(p);
}

void nt_cluster_cleanup(nt_cluster *c)
{
    const char *keep = getenv("PERMIT_TEST_KEEP"); /* set: leave the homes to look at */
    for (unsigned i = 0; i < c->n; i++) {
        if (c->pid[i] > 0)
            nt_cluster_signal(c, i, SIGTERM);
        if (keep && *keep)
            fprintf(stderr, "kept node %u's home: %s\n", i, c->home[i]);
        else
            tu_rmrf(c->home[i]);
        free(c->home[i]);
    }
    lt_teardown(&c->env);
}

int nt_signal_wait(nt_node *nd, int sig)
{
    if (nd->pid <= 0)
        return -1;
    kill(nd->pid, sig);
    int wst = 0;
    waitpid(nd->pid, &wst, 0);
    nd->pid = 0;
    return wst;
}

void nt_cleanup(nt_node *nd)
{
    if (nd->pid > 0)
        nt_signal_wait(nd, SIGTERM);
    tu_rmrf(nd->home);
    free(nd->home);
    lt_teardown(&nd->env);
}

int (*nt_connect_hook)(int port);

int nt_connect(int port)
{
    if (nt_connect_hook)
        return nt_connect_hook(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int nt_http(int port, const char *method, const char *path, const char *body, size_t len,
            char **resp, size_t *resp_len)
{
    *resp = NULL;
    int fd = nt_connect(port);
    if (fd < 0)
        return -1;
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      method, path, body ? len : 0);
    if (write(fd, head, (size_t)hl) != hl || (body && len && write(fd, body, len) != (ssize_t)len)) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 70000) <= 0)
            break;
        if (n + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        free(buf);
        return -1;
    }
    char *sep = strstr(buf, "\r\n\r\n");
    if (sep) {
        size_t off = (size_t)(sep + 4 - buf);
        size_t bl = n - off;
        *resp = malloc(bl + 1);
        memcpy(*resp, buf + off, bl);
        (*resp)[bl] = '\0';
        if (resp_len)
            *resp_len = bl;
    }
    free(buf);
    return status;
}

json_t *nt_rpc(int port, const char *method, json_t *params)
{
    static _Atomic int id;
    json_t *req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", atomic_fetch_add(&id, 1) + 1,
                            "method", method);
    if (params)
        json_object_set(req, "params", params);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char *body = NULL;
    int st = nt_http(port, "POST", "/rpc", text, strlen(text), &body, NULL);
    free(text);
    json_t *resp = NULL;
    if (st == 200 && body)
        resp = json_loads(body, 0, NULL);
    free(body);
    return resp;
}

int nt_error_code(json_t *resp)
{
    json_t *e = json_object_get(resp, "error");
    return e ? (int)json_integer_value(json_object_get(e, "code")) : 0;
}

const char *nt_error_rule(json_t *resp)
{
    json_t *d = json_object_get(json_object_get(resp, "error"), "data");
    const char *r = json_string_value(json_object_get(d, "rule"));
    return r ? r : "";
}

json_t *nt_submit(int port, const uint8_t *env, size_t len, const char *wait)
{
    char *hex = malloc(2 * len + 1);
    ledger_hex_encode(env, len, hex);
    json_t *params = json_pack("{s:s, s:s}", "tx", hex, "wait", wait ? wait : "commit");
    free(hex);
    json_t *r = nt_rpc(port, "tx.submit", params);
    json_decref(params);
    return r;
}

int nt_vpermit(const char *rpc, char **out, va_list ap)
{
    const char *args[40];
    int k = 0;
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && k < 36)
        args[k++] = a;
    args[k] = NULL;
    return nt_permitv(rpc, out, args);
}

int nt_permitv(const char *rpc, char **out, const char *const *args)
{
    const char *argv[40];
    int k = 0;
    argv[k++] = PERMIT_BIN_DIR "/permit";
    argv[k++] = "--rpc";
    argv[k++] = rpc;
    for (size_t i = 0; args[i] && k < 38; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t r;
    while ((r = read(fds[0], buf + n, cap - n - 1)) > 0) {
        n += (size_t)r;
        if (cap - n < 1024) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    close(fds[0]);
    int wst;
    waitpid(pid, &wst, 0);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(wst) ? WEXITSTATUS(wst) : 128;
}

void nt_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

uint64_t nt_status_u64(int rpc_port, const char *field)
{
    json_t *r = nt_rpc(rpc_port, "status", NULL);
    uint64_t v = (uint64_t)json_integer_value(json_object_get(json_object_get(r, "result"), field));
    json_decref(r);
    return v;
}
