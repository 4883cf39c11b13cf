/* The wide-area test: four validators, each permitd in its own Linux network
 * namespace, joined to a router namespace by veth links; every link between
 * two validators has a one-way delay of 40 ms ± 10 ms, 1% loss, and
 * reordering.  With the kernel's netem (`tc qdisc ... netem` on the router's
 * side of each link) the IP packets are delayed, lost and reordered; where
 * the kernel has no netem, tests/wanrelay.c in the router namespace carries
 * every validator-to-validator TCP connection and holds each chunk for the
 * delay, 1% of them 200 ms longer (what a lost segment costs a TCP stream),
 * with distinct connections reordered against each other.  Clients load the
 * network throughout, submitting with wait "commit" to the validators in
 * turn.  Then: one validator is cut off (its link down: the others go on),
 * healed (it catches up); two are cut off (commits stop everywhere, nothing
 * diverges), healed (commits resume); the network is split two against two
 * (each half linked inside: still no commits, no divergence), joined; one
 * validator is killed with SIGKILL
 * and restarted (it catches up).  At the end every acknowledged transaction
 * is in the block of its height on every node and in its transaction index,
 * the nodes agree block by block, and the commit latency percentiles are
 * printed.
 *
 * Needs root (network namespaces) and ip(8): without them it exits 77, which
 * ctest reports as skipped, saying why.  PERMIT_WAN_MODE=relay uses the
 * relay even where netem exists; =netem insists on netem. */

#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clusterload.h"
#include "nodetest.h"

#define N 4
#define P2P_PORT 26656
#define ECHO_PORT 7007
#define SKIP 77
#define DELAY_MS 40
#define JITTER_MS 10
#define LOSS_PCT 1
#define STALL_MS 200

static enum { MODE_NETEM, MODE_RELAY } g_mode;
static char g_why[256];            /* why this mode */
static char g_router[32], g_ns[N][32];
static int g_root_fd = -1, g_ns_fd[N] = {-1, -1, -1, -1};
static int g_net_up;               /* namespaces exist */
static pid_t g_relay;
static nt_cluster g_c;
static _Atomic int g_up[N];
static cl_load *g_load;
static int g_passed;
static uint64_t g_t0;

/* ---- running ip(8) and tc(8) ---- */

/* Run argv (NULL-ended); its output goes to the test's stderr only when it
 * fails.  Returns the exit status (-1 if it did not exit). */
static int run_argv(const char *const *argv, int quiet)
{
    char out[] = "/tmp/permit-wan-cmd-XXXXXX";
    int fd = mkstemp(out);
    pid_t pid = fork();
    if (pid == 0) {
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int wst = 0;
    waitpid(pid, &wst, 0);
    int rc = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
    if (rc != 0 && !quiet) {
        fprintf(stderr, "test_wan: failed (%d):", rc);
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, "\n");
        char *text = tu_read_file(out, NULL);
        if (text)
            fprintf(stderr, "%s", text);
        free(text);
    }
    if (fd >= 0)
        close(fd);
    unlink(out);
    return rc;
}

#define RUN(quiet, ...) run_argv((const char *const[]){__VA_ARGS__, NULL}, quiet)
#define MUST(...)                                                                                 \
    do {                                                                                          \
        if (RUN(0, __VA_ARGS__) != 0)                                                             \
            fail_msg("network setup failed (see above)");                                         \
    } while (0)

/* Remove namespaces left by runs of this test that were killed (their
 * names carry the pid of a process that is gone). */
static void remove_stale_namespaces(void)
{
    DIR *d = opendir("/var/run/netns");
    if (d == NULL)
        return;
    struct dirent *e;
    char stale[64][64];
    unsigned n = 0;
    while ((e = readdir(d)) != NULL && n < 64) {
        int pid;
        char rest[32];
        if (sscanf(e->d_name, "pw%d-%31s", &pid, rest) == 2 && pid > 0 && pid != getpid() &&
            kill(pid, 0) != 0 && errno == ESRCH && strlen(e->d_name) < 64)
            memcpy(stale[n++], e->d_name, strlen(e->d_name) + 1);
    }
    closedir(d);
    for (unsigned i = 0; i < n; i++) {
        fprintf(stderr, "test_wan: removing stale namespace %s\n", stale[i]);
        RUN(1, "ip", "netns", "del", stale[i]);
    }
}

/* ---- the network ---- */

static void node_addr(unsigned i, unsigned host, char *out, size_t cap)
{
    snprintf(out, cap, "10.77.%u.%u", i, host);
}

/* The address the others dial to reach node i: through the relay's
 * listener on the router's side of i's link, or node i itself. */
static void dial_addr(unsigned i, int port, char *out, size_t cap)
{
    char ip[32];
    node_addr(i, g_mode == MODE_RELAY ? 1 : 2, ip, sizeof ip);
    snprintf(out, cap, "%s:%d", ip, port);
}

static int open_ns(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "/var/run/netns/%s", name);
    return open(p, O_RDONLY | O_CLOEXEC);
}

static void start_relay(void)
{
    char spec[N][2][128];
    const char *argv[32];
    int k = 0;
    char delay[16], jitter[16], loss[16], stall[16];
    snprintf(delay, sizeof delay, "%d", DELAY_MS);
    snprintf(jitter, sizeof jitter, "%d", JITTER_MS);
    snprintf(loss, sizeof loss, "%d", LOSS_PCT);
    snprintf(stall, sizeof stall, "%d", STALL_MS);
    argv[k++] = PERMIT_WANRELAY;
    argv[k++] = "--delay";
    argv[k++] = delay;
    argv[k++] = "--jitter";
    argv[k++] = jitter;
    argv[k++] = "--loss";
    argv[k++] = loss;
    argv[k++] = "--stall";
    argv[k++] = stall;
    for (unsigned i = 0; i < N; i++)
        for (int s = 0; s < 2; s++) {
            int port = s == 0 ? P2P_PORT : ECHO_PORT;
            char from[48], to[48];
            node_addr(i, 1, from, sizeof from);
            node_addr(i, 2, to, sizeof to);
            snprintf(spec[i][s], sizeof spec[i][s], "%s:%d=%s:%d", from, port, to, port);
            argv[k++] = spec[i][s];
        }
    argv[k] = NULL;
    int rfd = open_ns(g_router);
    assert_true(rfd >= 0);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    char log[600];
    snprintf(log, sizeof log, "%s/wanrelay.log", g_c.home[0]);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setns(rfd, CLONE_NEWNET) != 0)
            _exit(126);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (lfd >= 0)
            dup2(lfd, 2);
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    close(rfd);
    g_relay = pid;
    char buf[16] = "";
    ssize_t r = read(pipefd[0], buf, sizeof buf - 1);
    close(pipefd[0]);
    if (r < 5 || strncmp(buf, "ready", 5) != 0)
        fail_msg("wanrelay did not start (see %s)", log);
}

static void net_up(void)
{
    int pid = (int)getpid();
    snprintf(g_router, sizeof g_router, "pw%d-r", pid);
    for (unsigned i = 0; i < N; i++)
        snprintf(g_ns[i], sizeof g_ns[i], "pw%d-n%u", pid, i);
    remove_stale_namespaces();
    MUST("ip", "netns", "add", g_router);
    g_net_up = 1;
    MUST("ip", "-n", g_router, "link", "set", "lo", "up");
    /* the split's blackhole rules (set_split) must come before the local
     * table, or the relay's listeners would still be reached */
    MUST("ip", "-n", g_router, "rule", "add", "pref", "50", "lookup", "local");
    MUST("ip", "-n", g_router, "rule", "del", "pref", "0");
    for (unsigned i = 0; i < N; i++) {
        char rdev[16], raddr[40], naddr[40], gw[32];
        snprintf(rdev, sizeof rdev, "r%u", i);
        node_addr(i, 1, gw, sizeof gw);
        snprintf(raddr, sizeof raddr, "%s/24", gw);
        node_addr(i, 2, naddr, sizeof naddr);
        strcat(naddr, "/24");
        MUST("ip", "netns", "add", g_ns[i]);
        MUST("ip", "-n", g_router, "link", "add", rdev, "type", "veth", "peer", "name", "eth0",
             "netns", g_ns[i]);
        MUST("ip", "-n", g_router, "addr", "add", raddr, "dev", rdev);
        MUST("ip", "-n", g_router, "link", "set", rdev, "up");
        MUST("ip", "-n", g_ns[i], "link", "set", "lo", "up");
        MUST("ip", "-n", g_ns[i], "addr", "add", naddr, "dev", "eth0");
        MUST("ip", "-n", g_ns[i], "link", "set", "eth0", "up");
        MUST("ip", "-n", g_ns[i], "route", "add", "default", "via", gw);
        if (g_mode == MODE_NETEM) {
            /* packets towards node i leave the router through r<i>: each
             * one-way trip between two nodes crosses one netem */
            char d[16], j[16], l[16];
            snprintf(d, sizeof d, "%dms", DELAY_MS);
            snprintf(j, sizeof j, "%dms", JITTER_MS);
            snprintf(l, sizeof l, "%d%%", LOSS_PCT);
            MUST("tc", "-n", g_router, "qdisc", "add", "dev", rdev, "root", "netem", "delay", d,
                 j, "loss", l);
        }
        g_ns_fd[i] = open_ns(g_ns[i]);
        assert_true(g_ns_fd[i] >= 0);
    }
    if (g_mode == MODE_NETEM)
        MUST("ip", "netns", "exec", g_router, "sh", "-c",
             "echo 1 > /proc/sys/net/ipv4/ip_forward");
    else
        start_relay();
}

static void net_down(void)
{
    if (g_relay > 0) {
        kill(g_relay, SIGTERM);
        waitpid(g_relay, NULL, 0);
        g_relay = 0;
    }
    for (unsigned i = 0; i < N; i++) {
        if (g_ns_fd[i] >= 0)
            close(g_ns_fd[i]);
        g_ns_fd[i] = -1;
    }
    if (!g_net_up)
        return;
    for (unsigned i = 0; i < N; i++)
        RUN(1, "ip", "netns", "del", g_ns[i]);
    RUN(1, "ip", "netns", "del", g_router); /* takes the veth links with it */
    g_net_up = 0;
}

/* Cut node i off (its link down at the router) or heal it. */
static void set_link(unsigned i, int up)
{
    char rdev[16];
    snprintf(rdev, sizeof rdev, "r%u", i);
    MUST("ip", "-n", g_router, "link", "set", rdev, up ? "up" : "down");
}

/* Split the network into {0, 1} and {2, 3} (or join it again): the router
 * drops every packet from one half to the other (10.77.0.0/23 holds nodes 0
 * and 1, 10.77.2.0/23 nodes 2 and 3), through the relay or not; each half
 * stays connected inside. */
static void set_split(int on)
{
    const char *op = on ? "add" : "del";
    MUST("ip", "-n", g_router, "rule", op, "pref", "10", "from", "10.77.0.0/23", "to",
         "10.77.2.0/23", "blackhole");
    MUST("ip", "-n", g_router, "rule", op, "pref", "11", "from", "10.77.2.0/23", "to",
         "10.77.0.0/23", "blackhole");
}

static uint64_t height(unsigned i);

/* No block is decided for ms (after a grace for what was in flight): no
 * node goes past the highest height any node had when the wait began (one
 * catching up on a block decided before is no new commit), and the nodes
 * agree up to the lowest.  The lowest and highest heights in lo, hi. */
static void expect_no_commits(long ms, const char *what, uint64_t *lo, uint64_t *hi)
{
    nt_sleep_ms(2500); /* what was in flight before the cut lands */
    uint64_t top = 0;
    for (unsigned i = 0; i < N; i++) {
        uint64_t h = height(i);
        top = h > top ? h : top;
    }
    nt_sleep_ms(ms);
    *lo = UINT64_MAX;
    *hi = 0;
    for (unsigned i = 0; i < N; i++) {
        uint64_t h = height(i);
        if (h > top)
            fail_msg("node %u reached height %llu, past %llu, with %s", i, (unsigned long long)h,
                     (unsigned long long)top, what);
        *lo = h < *lo ? h : *lo;
        *hi = h > *hi ? h : *hi;
    }
    cl_check_agreement(&g_c, g_up, 1, *lo);
}

/* A TCP socket in node i's namespace (made there, used from here). */
static int ns_socket(int ns_fd)
{
    if (setns(ns_fd, CLONE_NEWNET) != 0)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int e = errno;
    if (setns(g_root_fd, CLONE_NEWNET) != 0)
        abort(); /* this thread must not go on in the wrong namespace */
    errno = e;
    return fd;
}

/* nt_connect for this test: RPC ports are on loopback inside the nodes'
 * namespaces. */
static int connect_hook(int port)
{
    for (unsigned i = 0; i < N; i++) {
        if (g_c.rpc_port[i] != port)
            continue;
        int fd = ns_socket(g_ns_fd[i]);
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
    return -1;
}

/* ---- the nodes ---- */

static void wan_genesis(json_t *root)
{
    json_t *depts = json_object_get(root, "departments");
    for (unsigned i = 0; i < N; i++) {
        json_t *v = json_object_get(json_array_get(depts, i), "validator");
        char addr[48];
        dial_addr(i, P2P_PORT, addr, sizeof addr);
        json_object_set_new(v, "p2p", json_string(addr));
    }
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Start node i in its namespace, with the node's default BFT timeouts (a
 * wide-area network runs what ships), and wait for /health. */
static void start_node(unsigned i)
{
    char p[600], conf[512], ip[32];
    node_addr(i, 2, ip, sizeof ip);
    snprintf(p, sizeof p, "%s/config/permitd.conf", g_c.home[i]);
    snprintf(conf, sizeof conf,
             "# written by tests/test_wan.c\nrpc_listen = 127.0.0.1:%d\np2p_listen = %s:%d\n"
             "log_level = info\n",
             g_c.rpc_port[i], ip, P2P_PORT);
    write_text(p, conf);
    char log[600];
    snprintf(log, sizeof log, "%s/permitd.log", g_c.home[i]);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setns(g_ns_fd[i], CLONE_NEWNET) != 0)
            _exit(126);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a killed test */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(PERMIT_BIN_DIR "/permitd", "permitd", "--home", g_c.home[i], (char *)NULL);
        _exit(127);
    }
    g_c.pid[i] = pid;
    uint64_t until = nt_now_ms() + 60000;
    for (;;) {
        char *body = NULL;
        int st = nt_http(g_c.rpc_port[i], "GET", "/health", NULL, 0, &body, NULL);
        free(body);
        if (st == 200)
            break;
        int wst;
        if (waitpid(pid, &wst, WNOHANG) == pid) {
            g_c.pid[i] = 0;
            fail_msg("node %u exited during start (status %d); see %s", i, wst, log);
        }
        if (nt_now_ms() > until)
            fail_msg("node %u: no healthy /health within 60 s", i);
        nt_sleep_ms(50);
    }
    atomic_store(&g_up[i], 1);
}

static uint64_t height(unsigned i)
{
    return nt_status_u64(g_c.rpc_port[i], "height");
}

/* The highest height among nodes in mask (bit i: node i). */
static uint64_t max_of(unsigned mask)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < N; i++)
        if (mask >> i & 1) {
            uint64_t h = height(i);
            m = h > m ? h : m;
        }
    return m;
}

static void wait_until(unsigned mask, uint64_t h, long timeout_ms, const char *what)
{
    uint64_t until = nt_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int all = 1;
        for (unsigned i = 0; i < N && all; i++)
            if (mask >> i & 1)
                all = height(i) >= h;
        if (all)
            return;
        if (nt_now_ms() > until)
            fail_msg("%s: not every node reached height %llu within %ld s", what,
                     (unsigned long long)h, timeout_ms / 1000);
        nt_sleep_ms(100);
    }
}

static double secs(void)
{
    return (double)(nt_now_ms() - g_t0) / 1000.0;
}

/* ---- the link, measured ---- */

static void *echo_main(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
        char buf[256];
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            if (write(fd, buf, (size_t)r) != r)
                break;
        close(fd);
    }
    return NULL;
}

/* Round trips of 32 bytes from node 0's namespace to an echo in node 1's,
 * over the emulated link: p50, p90 and max into out[3]. */
static void measure_rtt(uint64_t out[3])
{
    int lfd = ns_socket(g_ns_fd[1]);
    assert_true(lfd >= 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(ECHO_PORT)};
    char ip[32];
    node_addr(1, 2, ip, sizeof ip);
    inet_pton(AF_INET, ip, &a.sin_addr);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    pthread_t th;
    pthread_create(&th, NULL, echo_main, (void *)(intptr_t)lfd);
    int fd = ns_socket(g_ns_fd[0]);
    assert_true(fd >= 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char dial[48];
    dial_addr(1, ECHO_PORT, dial, sizeof dial);
    *strrchr(dial, ':') = '\0';
    inet_pton(AF_INET, dial, &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    enum { ROUNDS = 40 };
    uint64_t rtt[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        char ping[32], pong[32];
        memset(ping, 'a' + k % 26, sizeof ping);
        uint64_t t0 = nt_now_ms();
        assert_int_equal(write(fd, ping, sizeof ping), (ssize_t)sizeof ping);
        size_t got = 0;
        while (got < sizeof pong) {
            ssize_t r = read(fd, pong + got, sizeof pong - got);
            assert_true(r > 0);
            got += (size_t)r;
        }
        assert_memory_equal(ping, pong, sizeof ping);
        rtt[k] = nt_now_ms() - t0;
    }
    close(fd);
    pthread_join(th, NULL);
    close(lfd);
    for (int i = 1; i < ROUNDS; i++) /* sort */
        for (int j = i; j > 0 && rtt[j - 1] > rtt[j]; j--) {
            uint64_t t = rtt[j];
            rtt[j] = rtt[j - 1];
            rtt[j - 1] = t;
        }
    out[0] = rtt[ROUNDS / 2 - 1];
    out[1] = rtt[ROUNDS * 9 / 10 - 1];
    out[2] = rtt[ROUNDS - 1];
}

/* ---- the test ---- */

static void test_wide_area_partitions_and_kill(void **state)
{
    (void)state;
    g_t0 = nt_now_ms();
    nt_cluster_init(&g_c, N, wan_genesis);
    net_up();
    nt_connect_hook = connect_hook;
    if (g_mode == MODE_NETEM)
        printf("wide-area links: kernel netem on veth links (delay %d ms ± %d ms, loss %d%%, "
               "reordering by the jitter), router namespace %s\n",
               DELAY_MS, JITTER_MS, LOSS_PCT, g_router);
    else
        printf("wide-area links: user-space relay (tests/wanrelay) in router namespace %s, "
               "veth links: %s; one-way delay %d ms ± %d ms per chunk, %d%% of chunks held "
               "%d ms longer (a lost segment's retransmission), connections reordered against "
               "each other\n",
               g_router, g_why, DELAY_MS, JITTER_MS, LOSS_PCT, STALL_MS);
    uint64_t rtt[3];
    measure_rtt(rtt);
    printf("[%5.1fs] link round trip node 0 -> node 1: p50 %llu ms, p90 %llu ms, max %llu ms\n",
           secs(), (unsigned long long)rtt[0], (unsigned long long)rtt[1],
           (unsigned long long)rtt[2]);
    /* the emulation is in force: a round trip crosses two delayed one-way trips */
    assert_true(rtt[0] >= 2 * (DELAY_MS - JITTER_MS));
    assert_true(rtt[0] <= 2 * (DELAY_MS + JITTER_MS) + 60);

    for (unsigned i = 0; i < N; i++)
        start_node(i);
    g_load = cl_start(&g_c, g_up, 8, 8000);
    const unsigned all = 0xF;
    wait_until(all, 3, 60000, "start");
    printf("[%5.1fs] four validators committing, height %llu\n", secs(),
           (unsigned long long)max_of(all));

    /* healthy wide-area network */
    uint64_t t_h0 = nt_now_ms(), h0 = max_of(all);
    nt_sleep_ms(20000);
    uint64_t t_h1 = nt_now_ms(), h1 = max_of(all);
    printf("[%5.1fs] healthy: +%llu blocks in %.1f s\n", secs(), (unsigned long long)(h1 - h0),
           (double)(t_h1 - t_h0) / 1000.0);
    assert_true(h1 >= h0 + 5);
    cl_latency_print(g_load, "commit latency, healthy wide-area network", t_h0, t_h1);

    /* one validator cut off: the other three go on; it stays where it was */
    set_link(3, 0);
    uint64_t t_p1 = nt_now_ms(), h3 = height(3), h012 = max_of(0x7);
    wait_until(0x7, h012 + 5, 60000, "three of four after cutting node 3 off");
    nt_sleep_ms(3000);
    uint64_t h3_after = height(3), others = max_of(0x7);
    printf("[%5.1fs] node 3 cut off: the others at %llu (+%llu), node 3 at %llu (was %llu)\n",
           secs(), (unsigned long long)others, (unsigned long long)(others - h012),
           (unsigned long long)h3_after, (unsigned long long)h3);
    assert_true(h3_after <= h3 + 1);
    cl_check_agreement(&g_c, g_up, 1, h3_after);
    uint64_t t_p1_end = nt_now_ms();
    cl_latency_print(g_load, "commit latency, one validator cut off", t_p1, t_p1_end);
    set_link(3, 1);
    uint64_t t_heal = nt_now_ms();
    wait_until(0x8, others, 90000, "node 3 catching up after the heal");
    printf("[%5.1fs] node 3 healed: caught up to %llu in %.1f s\n", secs(),
           (unsigned long long)others, (double)(nt_now_ms() - t_heal) / 1000.0);

    /* two cut off: no quorum anywhere, commits stop, nothing diverges */
    wait_until(all, max_of(all), 60000, "all four level before the second partition");
    set_link(2, 0);
    set_link(3, 0);
    uint64_t lo, hi;
    expect_no_commits(8000, "nodes 2 and 3 cut off", &lo, &hi);
    printf("[%5.1fs] nodes 2 and 3 cut off: commits stopped at %llu..%llu for 8 s, the nodes "
           "agree up to %llu\n",
           secs(), (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)lo);
    set_link(2, 1);
    set_link(3, 1);
    t_heal = nt_now_ms();
    wait_until(0x3, hi + 1, 90000, "commits after healing the two");
    double resumed = (double)(nt_now_ms() - t_heal) / 1000.0;
    wait_until(all, hi + 3, 90000, "all four after healing the two");
    printf("[%5.1fs] healed: commits resumed %.1f s after the heal, all four at %llu or above\n",
           secs(), resumed, (unsigned long long)(hi + 3));

    /* split two against two: each half linked inside, neither a quorum */
    wait_until(all, max_of(all), 60000, "all four level before the split");
    set_split(1);
    expect_no_commits(8000, "the network split two against two", &lo, &hi);
    printf("[%5.1fs] split {0,1} | {2,3}: commits stopped at %llu..%llu for 8 s, the nodes "
           "agree up to %llu\n",
           secs(), (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)lo);
    set_split(0);
    t_heal = nt_now_ms();
    wait_until(all, hi + 3, 90000, "all four after joining the halves");
    printf("[%5.1fs] joined: all four at %llu or above %.1f s after\n", secs(),
           (unsigned long long)(hi + 3), (double)(nt_now_ms() - t_heal) / 1000.0);

    /* SIGKILL and restart */
    atomic_store(&g_up[1], 0);
    int wst = nt_cluster_signal(&g_c, 1, SIGKILL);
    assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
    uint64_t h_kill = max_of(0xD);
    wait_until(0xD, h_kill + 3, 60000, "three of four after killing node 1");
    uint64_t t_restart = nt_now_ms();
    start_node(1); /* returns once /health answers 200: caught up */
    uint64_t target = max_of(0xD);
    wait_until(0x2, target, 60000, "node 1 after its restart");
    printf("[%5.1fs] node 1 killed at %llu, restarted at %llu, caught up in %.1f s\n", secs(),
           (unsigned long long)h_kill, (unsigned long long)target,
           (double)(nt_now_ms() - t_restart) / 1000.0);
    uint64_t h_more = max_of(all);
    wait_until(all, h_more + 3, 60000, "all four after the restart");

    cl_stop(g_load);
    uint64_t final_h = cl_wait_same_height(&g_c, g_up, 60000);
    size_t n = cl_acks(g_load);
    printf("[%5.1fs] load stopped at height %llu with %zu acknowledged transactions (%llu "
           "submissions failed or timed out)\n",
           secs(), (unsigned long long)final_h, n, (unsigned long long)cl_failures(g_load));
    assert_true(n >= 50);
    cl_verify(g_load, 1, final_h, 0, n);
    cl_check_acks(g_load, 0, n);
    printf("[%5.1fs] all %llu blocks identical on the four nodes; every acknowledged "
           "transaction in its block and index on every node\n",
           secs(), (unsigned long long)final_h);
    cl_latency_print(g_load, "commit latency, whole test", 0, UINT64_MAX);
    cl_failures_print(g_load, "clients");
    static const unsigned pc[] = {50, 90, 99};
    uint64_t hp[3] = {0}, wp[3] = {0};
    cl_latency(g_load, t_h0, t_h1, pc, 3, hp);
    cl_latency(g_load, 0, UINT64_MAX, pc, 3, wp);
    printf("RESULT wan mode=%s rtt_p50_ms=%llu healthy_p50_ms=%llu healthy_p90_ms=%llu "
           "healthy_p99_ms=%llu all_p50_ms=%llu all_p90_ms=%llu all_p99_ms=%llu acked=%zu "
           "height=%llu wall_s=%.0f\n",
           g_mode == MODE_NETEM ? "netem" : "relay", (unsigned long long)rtt[0],
           (unsigned long long)hp[0], (unsigned long long)hp[1], (unsigned long long)hp[2],
           (unsigned long long)wp[0], (unsigned long long)wp[1], (unsigned long long)wp[2], n,
           (unsigned long long)final_h, secs());
    for (unsigned i = 0; i < N; i++) {
        atomic_store(&g_up[i], 0);
        nt_cluster_stop_clean(&g_c, i);
    }
    if (g_mode == MODE_RELAY) {
        /* the relay's own count: the loss was in force too */
        net_down();
        char p[600];
        snprintf(p, sizeof p, "%s/wanrelay.log", g_c.home[0]);
        char *log = tu_read_file(p, NULL);
        const char *line = log ? strstr(log, "wanrelay: ") : NULL;
        unsigned long long conns = 0, chunks = 0, held = 0;
        if (line == NULL ||
            sscanf(line, "wanrelay: %llu connections (%*u refused), %llu chunks, %*u bytes, "
                         "%llu stalled",
                   &conns, &chunks, &held) != 3)
            fail_msg("no summary from wanrelay in %s", p);
        printf("%.*s\n", (int)strcspn(line, "\n"), line);
        free(log);
        assert_true(chunks > 1000 && held > 0);
    }
    g_passed = 1;
}

/* Also after a failure: clients joined, nodes and relay gone, namespaces
 * deleted; the homes and logs of a failed run are kept. */
static int teardown(void **state)
{
    (void)state;
    /* the nodes first: a client waiting on one returns when it dies */
    for (unsigned i = 0; i < N; i++)
        if (g_c.pid[i] > 0)
            nt_cluster_signal(&g_c, i, SIGKILL);
    cl_free(g_load);
    g_load = NULL;
    nt_connect_hook = NULL;
    net_down();
    if (!g_passed)
        setenv("PERMIT_TEST_KEEP", "1", 1);
    if (g_c.n)
        nt_cluster_cleanup(&g_c);
    return 0;
}

static void on_fatal_signal(int sig)
{
    /* ctest's timeout or ^C: the nodes and relay die with us (PDEATHSIG);
     * the namespaces would not */
    net_down();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* 0 when this machine can run the test; otherwise why not, in g_why. */
static int probe(void)
{
    if (geteuid() != 0) {
        snprintf(g_why, sizeof g_why, "network namespaces need root (running as uid %u)",
                 (unsigned)geteuid());
        return -1;
    }
    char name[32];
    snprintf(name, sizeof name, "pw%d-probe", (int)getpid());
    if (RUN(1, "ip", "netns", "add", name) != 0) {
        snprintf(g_why, sizeof g_why, "`ip netns add` failed (is ip(8) installed, and may this "
                                      "process create network namespaces?)");
        return -1;
    }
    if (RUN(1, "ip", "-n", name, "link", "add", "pw-a", "type", "veth", "peer", "name",
            "pw-b") != 0) {
        RUN(1, "ip", "netns", "del", name);
        snprintf(g_why, sizeof g_why, "no veth links (`ip link add ... type veth` failed)");
        return -1;
    }
    int netem = RUN(1, "tc", "-n", name, "qdisc", "add", "dev", "lo", "root", "netem", "delay",
                    "1ms") == 0;
    RUN(1, "ip", "netns", "del", name);
    const char *force = getenv("PERMIT_WAN_MODE");
    if (force && strcmp(force, "netem") == 0 && !netem) {
        snprintf(g_why, sizeof g_why, "PERMIT_WAN_MODE=netem, but this kernel has no netem");
        return -2;
    }
    if (netem && !(force && strcmp(force, "relay") == 0)) {
        g_mode = MODE_NETEM;
        snprintf(g_why, sizeof g_why, "the kernel has netem");
    } else {
        g_mode = MODE_RELAY;
        snprintf(g_why, sizeof g_why,
                 netem ? "PERMIT_WAN_MODE=relay" : "this kernel has no netem qdisc (sch_netem)");
    }
    return 0;
}

int main(void)
{
    int p = probe();
    if (p == -1) {
        printf("test_wan: SKIPPED: %s\n", g_why);
        return SKIP;
    }
    if (p == -2) {
        printf("test_wan: %s\n", g_why);
        return 1;
    }
    printf("test_wan: mode %s (%s)\n", g_mode == MODE_NETEM ? "netem" : "relay", g_why);
    g_root_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(g_root_fd >= 0);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGINT, on_fatal_signal);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_wide_area_partitions_and_kill, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
