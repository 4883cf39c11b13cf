/* The link policy of four live permitd validators (node/p2p.c) under
 * attack from the test peer (tests/peer.h): a relay without keys that
 * splices two validators' handshakes, a second link holding a validator's
 * key while the real one is alive, the same when the real one stopped
 * answering, 64 idle connections to every port while the cluster starts,
 * and validators killed and restarted, once with their place taken meanwhile.
 * Every time the validators end up linked (status "peers" = 3 on each) and
 * commit. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nodetest.h"
#include "peer.h"
#include "permit.pb-c.h"

#define N 4

static nt_cluster g_c;
static uint32_t g_serial = 1;

static unsigned peers_of(unsigned i)
{
    return (unsigned)nt_status_u64(g_c.rpc_port[i], "peers");
}

/* Wait until every running node has all its peers; fail after ms. */
static void wait_linked(int ms)
{
    uint64_t until = nt_now_ms() + (uint64_t)ms;
    for (;;) {
        unsigned ok = 0, running = 0;
        for (unsigned i = 0; i < N; i++)
            if (g_c.pid[i] > 0) {
                running++;
                ok += peers_of(i) == N - 1;
            }
        if (ok == running)
            return;
        if (nt_now_ms() > until)
            fail_msg("the validators did not link up within %d ms (peers: %u %u %u %u)", ms,
                     g_c.pid[0] ? peers_of(0) : 0, g_c.pid[1] ? peers_of(1) : 0,
                     g_c.pid[2] ? peers_of(2) : 0, g_c.pid[3] ? peers_of(3) : 0);
        nt_sleep_ms(100);
    }
}

static void wait_peers(unsigned i, unsigned want, int ms)
{
    uint64_t until = nt_now_ms() + (uint64_t)ms;
    while (peers_of(i) != want) {
        if (nt_now_ms() > until)
            fail_msg("node %u has %u peers, not %u, after %d ms", i, peers_of(i), want, ms);
        nt_sleep_ms(50);
    }
}

/* Submit an application through node i and wait for its commit; its height. */
static uint64_t commit_one(unsigned i)
{
    size_t len;
    char u[19];
    lt_uscc(g_serial++, u);
    g_c.env.now = nt_now_ms() - 1000;
    uint8_t *tx = lt_apply(&g_c.env, u, "convenience-store", 0, &len);
    json_t *r = nt_submit(g_c.rpc_port[i], tx, len, "commit");
    free(tx);
    json_t *res = json_object_get(r, "result");
    if (res == NULL) {
        char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
        fail_msg("node %u did not commit: %s", i, text ? text : "no answer");
    }
    uint64_t h = (uint64_t)json_integer_value(json_object_get(res, "height"));
    json_decref(r);
    assert_true(h > 0);
    return h;
}

static char *log_of(unsigned i)
{
    char path[700];
    snprintf(path, sizeof path, "%s/permitd.log", g_c.home[i]);
    char *log = tu_read_file(path, NULL);
    assert_non_null(log);
    return log;
}

static int log_has(unsigned i, const char *text)
{
    char *log = log_of(i);
    int has = strstr(log, text) != NULL;
    free(log);
    return has;
}

/* No link of node i went down since it started. */
static void assert_no_link_down(unsigned i)
{
    char *log = log_of(i);
    const char *down = strstr(log, ") down: ");
    if (down) {
        const char *line = down;
        while (line > log && line[-1] != '\n')
            line--;
        fail_msg("node %u lost a link: %.200s", i, line);
    }
    free(log);
}

static int init_only(void **state)
{
    (void)state;
    nt_cluster_init(&g_c, N, NULL);
    return 0;
}

static int setup(void **state)
{
    init_only(state);
    for (unsigned i = 0; i < N; i++)
        nt_cluster_start(&g_c, i);
    wait_linked(20000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N; i++)
        if (g_c.pid[i] > 0)
            nt_cluster_stop_clean(&g_c, i);
    nt_cluster_cleanup(&g_c);
    return 0;
}

/* (a) A relay with no key connects to validators 0 and 1 and hands each the
 * other's Hello and Auth.  Before channel binding both accepted it, and the
 * spliced link evicted their real one.  Now each Auth is bound to the
 * relay's session with its signer, so neither verifies: both close the
 * relay, their own link stays up, commits go on, and they are still linked
 * after the relay leaves. */
static void test_a_relay_without_keys_links_no_one(void **state)
{
    (void)state;
    uint64_t h0 = commit_one(0);
    tp_conn *a = tp_connect(g_c.p2p_port[0], 5000);
    tp_conn *b = tp_connect(g_c.p2p_port[1], 5000);
    assert_non_null(a);
    assert_non_null(b);
    /* each node says Hello on a fresh link: hand them across */
    assert_int_equal(tp_relay_frame(a, b, 3000), PERMIT__FRAME__MSG_HELLO);
    assert_int_equal(tp_relay_frame(b, a, 3000), PERMIT__FRAME__MSG_HELLO);
    /* each takes the other for its peer and signs an Auth: hand them across */
    assert_int_equal(tp_relay_frame(a, b, 3000), PERMIT__FRAME__MSG_AUTH);
    assert_int_equal(tp_relay_frame(b, a, 3000), PERMIT__FRAME__MSG_AUTH);
    assert_true(tp_wait_closed(a, 3000));
    assert_true(tp_wait_closed(b, 3000));
    tp_close(a);
    tp_close(b);
    assert_true(log_has(0, "claiming to be validator 1 (market) failed authentication"));
    assert_true(log_has(1, "claiming to be validator 0 (approval) failed authentication"));
    assert_false(log_has(0, "a second link"));
    assert_false(log_has(1, "a second link"));
    assert_int_equal(peers_of(0), N - 1);
    assert_int_equal(peers_of(1), N - 1);
    assert_true(commit_one(1) > h0);
    /* the same with the decrypted bytes relayed both ways at once */
    a = tp_connect(g_c.p2p_port[0], 5000);
    b = tp_connect(g_c.p2p_port[1], 5000);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(tp_relay(a, b, 4000) > 0);
    tp_close(a);
    tp_close(b);
    /* the relay is gone: still linked, still committing */
    nt_sleep_ms(1000);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(peers_of(i), N - 1);
        assert_no_link_down(i);
    }
    commit_one(2);
}

/* (b) A peer holding validator 1's key authenticates to validator 0 while
 * the real validator 1's link is alive: validator 0 pings that link, gets
 * its Pong, and closes the newcomer; the live link is never evicted. */
static void test_a_second_link_does_not_replace_a_live_one(void **state)
{
    (void)state;
    const lt_env *env = &g_c.env;
    for (int round = 0; round < 3; round++) {
        tp_conn *c = tp_connect(g_c.p2p_port[0], 5000);
        assert_non_null(c);
        if (tp_handshake(c, env->g->chain_id, &env->node[1], 0, env->node[0].pub, NULL, 5000) !=
            0)
            fail_msg("handshake: %s", tp_error(c));
        uint64_t t0 = nt_now_ms();
        if (!tp_wait_closed(c, 5000))
            fail_msg("validator 0 kept a second link for validator 1");
        assert_true(nt_now_ms() - t0 < 3500);
        tp_close(c);
    }
    assert_true(log_has(0, "a second link to validator 1 (market) authenticated"));
    assert_true(log_has(0, "closed: the existing link is alive"));
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(peers_of(i), N - 1);
        assert_no_link_down(i);
    }
    commit_one(1);
}

/* A link in use that stops answering (validator 1 is paused) is replaced by
 * a second one within the Ping's 2 s; when that one goes too, validator 0
 * dials validator 1 again, which is back, and they relink. */
static void test_a_link_that_stopped_answering_gives_way_and_the_peer_relinks(void **state)
{
    (void)state;
    const lt_env *env = &g_c.env;
    kill(g_c.pid[1], SIGSTOP);
    tp_conn *c = tp_connect(g_c.p2p_port[0], 5000);
    assert_non_null(c);
    if (tp_handshake(c, env->g->chain_id, &env->node[1], 0, env->node[0].pub, NULL, 5000) != 0) {
        kill(g_c.pid[1], SIGCONT);
        fail_msg("handshake: %s", tp_error(c));
    }
    /* in use now: validator 0 sends us what it says to validator 1 */
    Permit__Frame *f = tp_recv_kind(c, PERMIT__FRAME__MSG_CONSENSUS, 8000);
    kill(g_c.pid[1], SIGCONT);
    assert_non_null(f);
    permit__frame__free_unpacked(f, NULL);
    assert_true(log_has(0, "no answer to a ping while a new link waited"));
    assert_true(log_has(0, "takes over"));
    assert_int_equal(peers_of(0), N - 1);
    commit_one(2);
    tp_close(c);
    wait_linked(15000);
    commit_one(1);
}

/* ---- (c) idle connections ---- */

#define FLOOD_PER_PORT 64

typedef struct {
    _Atomic int stop;
    _Atomic unsigned long opened;
} flood;

static flood g_flood;

/* Keep FLOOD_PER_PORT idle TCP connections open to every validator's p2p
 * port, opening again (every 50 ms) whatever the node closed or refused. */
static void *flood_main(void *arg)
{
    (void)arg;
    int fds[N][FLOOD_PER_PORT];
    memset(fds, -1, sizeof fds);
    while (!atomic_load(&g_flood.stop)) {
        for (unsigned i = 0; i < N; i++)
            for (int k = 0; k < FLOOD_PER_PORT; k++) {
                int fd = fds[i][k];
                if (fd >= 0) {
                    char buf[256];
                    struct pollfd p = {.fd = fd, .events = POLLIN};
                    if (poll(&p, 1, 0) == 1 &&
                        (p.revents & (POLLERR | POLLHUP) || read(fd, buf, sizeof buf) <= 0)) {
                        close(fd);
                        fds[i][k] = -1;
                    }
                    continue;
                }
                fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                struct sockaddr_in a = {.sin_family = AF_INET,
                                        .sin_port = htons((uint16_t)g_c.p2p_port[i]),
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                if (fd >= 0 && (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 ||
                                errno == EINPROGRESS)) {
                    fds[i][k] = fd;
                    atomic_fetch_add(&g_flood.opened, 1);
                } else if (fd >= 0) {
                    close(fd);
                }
            }
        nt_sleep_ms(50);
    }
    for (unsigned i = 0; i < N; i++)
        for (int k = 0; k < FLOOD_PER_PORT; k++)
            if (fds[i][k] >= 0)
                close(fds[i][k]);
    return NULL;
}

static uint64_t metric(unsigned i, const char *name)
{
    char *body = NULL;
    assert_int_equal(nt_http(g_c.rpc_port[i], "GET", "/metrics", NULL, 0, &body, NULL), 200);
    const char *at = strstr(body, name);
    uint64_t v = 0;
    while (at && (at == body || at[-1] != '\n'))
        at = strstr(at + 1, name);
    if (at)
        v = strtoull(at + strlen(name), NULL, 10);
    free(body);
    return v;
}

/* (c) 64 idle connections to every validator's port, kept open before and
 * while the cluster starts, never keep the validators apart: they link up,
 * commit, and stay linked while the flood goes on. */
static void test_idle_connections_do_not_keep_validators_apart(void **state)
{
    (void)state;
    pthread_t t;
    atomic_store(&g_flood.stop, 0);
    assert_int_equal(pthread_create(&t, NULL, flood_main, NULL), 0);
    nt_cluster_start(&g_c, 0);
    nt_sleep_ms(1000); /* node 0 full of idle connections before the others start */
    for (unsigned i = 1; i < N; i++) {
        nt_cluster_start(&g_c, i);
        nt_sleep_ms(300);
    }
    wait_linked(45000);
    commit_one(3);
    nt_sleep_ms(3000);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(peers_of(i), N - 1);
    commit_one(0);
    atomic_store(&g_flood.stop, 1);
    pthread_join(t, NULL);
    /* the flood did reach the limits */
    assert_true(atomic_load(&g_flood.opened) > N * FLOOD_PER_PORT);
    for (unsigned i = 0; i < N; i++)
        assert_true(metric(i, "permit_p2p_evicted_total ") > 0);
}

/* (e) kill -9 a validator and start it again: its links come back.  Then
 * kill validator 1, and let a peer holding its key take its place at
 * validator 0 until after it restarted: when that peer leaves, validator 0
 * (which dials validator 1) dials it again, whatever filled the place. */
static void test_a_validator_killed_and_restarted_links_up_again(void **state)
{
    (void)state;
    const lt_env *env = &g_c.env;
    commit_one(0);
    nt_cluster_signal(&g_c, 2, SIGKILL);
    wait_peers(0, N - 2, 5000);
    commit_one(0);
    nt_sleep_ms(3000); /* the dialers' backoff grows meanwhile */
    nt_cluster_start(&g_c, 2);
    wait_linked(20000);
    commit_one(2);

    nt_cluster_signal(&g_c, 1, SIGKILL);
    wait_peers(0, N - 2, 5000);
    tp_conn *c = tp_connect(g_c.p2p_port[0], 5000);
    assert_non_null(c);
    if (tp_handshake(c, env->g->chain_id, &env->node[1], 0, env->node[0].pub, NULL, 5000) != 0)
        fail_msg("handshake: %s", tp_error(c));
    wait_peers(0, N - 1, 3000); /* we are validator 1 to validator 0 */
    nt_sleep_ms(1500);             /* longer than the dial that was due meanwhile */
    nt_cluster_start(&g_c, 1);
    nt_sleep_ms(500);
    tp_close(c);
    wait_linked(20000);
    commit_one(1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_relay_without_keys_links_no_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_second_link_does_not_replace_a_live_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_link_that_stopped_answering_gives_way_and_the_peer_relinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_connections_do_not_keep_validators_apart,
                                        init_only, teardown),
        cmocka_unit_test_setup_teardown(test_a_validator_killed_and_restarted_links_up_again,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
