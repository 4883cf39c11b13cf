/* The node_p2p API (node/p2p.h) in this process, on its own event loop, with
 * the test peer (tests/peer.h) on a thread as validator 1: link callbacks,
 * frames reach on_frame but Ping and Pong never do, a frame over the frame
 * limit is refused, logged and counted, and freeing the module with links
 * open releases every TLS object (the sanitizer build checks for leaks). */
#include "testutil.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/hex.h"
#include "nodetest.h"
#include "node/node.h"
#include "node/p2p.h"
#include "peer.h"
#include "permit.pb-c.h"

static lt_env g_env;
static int g_port[4];

/* validators 0..3 are the first four departments, node key node[i] */
static void four_validators(json_t *root)
{
    json_t *depts = json_object_get(root, "departments");
    for (size_t i = 0; i < json_array_size(depts); i++) {
        json_t *d = json_array_get(depts, i);
        json_object_del(d, "validator");
        if (i >= 4)
            continue;
        char key[65], addr[32];
        ledger_hex_encode(g_env.node[i].pub, 32, key);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", g_port[i]);
        json_object_set_new(d, "validator",
                            json_pack("{s:s, s:s}", "node_key", key, "p2p", addr));
    }
}

typedef struct {
    _Atomic int ups, downs, frames, other_kinds;
    _Atomic int peer_done, main_done;
    char peer_error[256];
} seen;

static seen g_seen;

static void on_frame(void *ctx, unsigned peer, const Permit__Frame *f)
{
    (void)ctx;
    if (peer == 1 && f->msg_case == PERMIT__FRAME__MSG_TXS)
        atomic_fetch_add(&g_seen.frames, 1);
    else
        atomic_fetch_add(&g_seen.other_kinds, 1);
}

static void on_link(void *ctx, unsigned peer, int up, uint64_t height)
{
    (void)ctx;
    if (peer == 1 && up && height == 7)
        atomic_fetch_add(&g_seen.ups, 1);
    else if (peer == 1 && !up)
        atomic_fetch_add(&g_seen.downs, 1);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Validator 1: authenticate, Ping, expect the Pong, send one TxGossip, and
 * stay until the main thread has checked. */
static void *peer_main(void *arg)
{
    (void)arg;
    tp_conn *c = tp_connect(g_port[0], 5000);
    if (c == NULL) {
        snprintf(g_seen.peer_error, sizeof g_seen.peer_error, "%s", tp_last_error());
        goto out;
    }
    if (tp_handshake(c, g_env.g->chain_id, &g_env.node[1], 7, g_env.node[0].pub, NULL, 5000) !=
        0) {
        snprintf(g_seen.peer_error, sizeof g_seen.peer_error, "%s", tp_error(c));
        goto out;
    }
    Permit__Ping ping = PERMIT__PING__INIT;
    ping.nonce = 42;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_PING;
    f.ping = &ping;
    Permit__Frame *pong = NULL;
    if (tp_send_frame(c, &f, 2000) != 0 ||
        (pong = tp_recv_kind(c, PERMIT__FRAME__MSG_PONG, 3000)) == NULL ||
        pong->pong->nonce != 42) {
        snprintf(g_seen.peer_error, sizeof g_seen.peer_error, "no Pong 42: %s", tp_error(c));
        permit__frame__free_unpacked(pong, NULL);
        goto out;
    }
    permit__frame__free_unpacked(pong, NULL);
    /* an unsolicited Pong is dropped too */
    Permit__Pong stray = PERMIT__PONG__INIT;
    stray.nonce = 9;
    f.msg_case = PERMIT__FRAME__MSG_PONG;
    f.pong = &stray;
    uint8_t tx[3] = {1, 2, 3};
    ProtobufCBinaryData one = {.len = 3, .data = tx};
    Permit__TxGossip g = PERMIT__TX_GOSSIP__INIT;
    g.n_txs = 1;
    g.txs = &one;
    Permit__Frame gf = PERMIT__FRAME__INIT;
    gf.msg_case = PERMIT__FRAME__MSG_TXS;
    gf.txs = &g;
    if (tp_send_frame(c, &f, 2000) != 0 || tp_send_frame(c, &gf, 2000) != 0) {
        snprintf(g_seen.peer_error, sizeof g_seen.peer_error, "send: %s", tp_error(c));
        goto out;
    }
    while (!atomic_load(&g_seen.main_done))
        sleep_ms(10);
out:
    tp_close(c);
    atomic_store(&g_seen.peer_done, 1);
    return NULL;
}

static void on_wakeup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Run the loop until cond holds or ms pass. */
static int loop_until(struct event_base *base, _Atomic int *v, int want, int ms)
{
    uint64_t until = nt_now_ms() + (uint64_t)ms;
    while (atomic_load(v) < want && nt_now_ms() < until)
        event_base_loop(base, EVLOOP_ONCE);
    return atomic_load(v) >= want;
}

static void test_the_api_over_a_live_tls_link(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        g_port[i] = nt_free_port();
    lt_setup(&g_env, four_validators);
    memset(&g_seen, 0, sizeof g_seen);
    node *n = calloc(1, sizeof *n);
    n->g = g_env.g;
    n->L = g_env.L;
    n->key = g_env.node[0];
    n->validator = 0;
    n->observer = -1; /* a validator's node */
    n->dept = 0;
    n->base = event_base_new();
    snprintf(n->cfg.p2p_listen, sizeof n->cfg.p2p_listen, "127.0.0.1:%d", g_port[0]);
    struct event *wake = event_new(n->base, -1, EV_PERSIST, on_wakeup, NULL);
    struct timeval tick = {0, 10000};
    event_add(wake, &tick);
    ledger_err err;
    node_p2p *p = node_p2p_start(n, on_frame, on_link, NULL, &err);
    if (p == NULL)
        fail_msg("node_p2p_start: %s", err.msg);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, peer_main, NULL), 0);

    assert_true(loop_until(n->base, &g_seen.frames, 1, 10000));
    assert_string_equal(g_seen.peer_error, "");
    assert_int_equal(atomic_load(&g_seen.ups), 1);
    assert_true(node_p2p_is_up(p, 1));
    assert_int_equal(node_p2p_connected(p), 1);
    /* Ping and Pong stayed inside the module */
    assert_int_equal(atomic_load(&g_seen.other_kinds), 0);

    /* a frame over the limit is refused and counted, sent or broadcast */
    size_t big = P2P_MAX_FRAME_DEFAULT + 1;
    uint8_t *frame = calloc(1, big);
    assert_non_null(frame);
    assert_int_equal(node_p2p_send_packed(p, 1, frame, big), -1);
    assert_int_equal(node_p2p_broadcast_packed(p, frame, big), 0);
    free(frame);
    assert_int_equal(node_p2p_oversize(p), 2);
    assert_int_equal(node_p2p_dropped(p), 0);
    uint8_t small[2] = {0x22, 0x00}; /* an empty TxGossip */
    assert_int_equal(node_p2p_send_packed(p, 1, small, sizeof small), 0);
    assert_int_equal(node_p2p_send_packed(p, 2, small, sizeof small), -1); /* not linked */
    assert_int_equal(node_p2p_broadcast_packed(p, small, sizeof small), 1);

    /* the peer leaves: the link goes down */
    atomic_store(&g_seen.main_done, 1);
    assert_true(loop_until(n->base, &g_seen.downs, 1, 5000));
    assert_false(node_p2p_is_up(p, 1));
    pthread_join(t, NULL);

    /* a second peer is linked when the module is freed */
    memset(&g_seen, 0, sizeof g_seen);
    assert_int_equal(pthread_create(&t, NULL, peer_main, NULL), 0);
    assert_true(loop_until(n->base, &g_seen.frames, 1, 10000));
    node_p2p_free(p);
    atomic_store(&g_seen.main_done, 1);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&g_seen.downs), 0); /* no callbacks while freeing */
    event_free(wake);
    event_base_free(n->base); /* runs libevent's finalisers: SSL objects, sockets */
    free(n);
    lt_teardown(&g_env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_api_over_a_live_tls_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
