/* The validator links of one live permitd (node/p2p.c), spoken to over TLS
 * by the test peer (tests/peer.h): frames over the size limit, garbage, keys
 * outside the validator set, other chains, forged authentication, an Auth
 * bound to another session, plaintext and TLS 1.2 clients, silent
 * connections are all refused by closing the link, and the node goes on
 * serving; a validator the node dials is spoken to as a TLS server and kept
 * alive by Pings; a peer that never answers a sync request is given up. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/keys.h"
#include "nodetest.h"
#include "peer.h"
#include "permit.pb-c.h"

static nt_cluster g_c;

static int setup(void **state)
{
    (void)state;
    nt_cluster_init(&g_c, 4, NULL);
    nt_cluster_start(&g_c, 0); /* alone: no quorum, but it serves and listens */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_t *r = nt_rpc(g_c.rpc_port[0], "status", NULL);
    assert_non_null(r); /* still serving */
    json_decref(r);
    nt_cluster_stop_clean(&g_c, 0);
    nt_cluster_cleanup(&g_c);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *node_log(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/permitd.log", g_c.home[0]);
    char *log = tu_read_file(path, NULL);
    assert_non_null(log);
    return log;
}

static int log_has(const char *text)
{
    char *log = node_log();
    int has = strstr(log, text) != NULL;
    free(log);
    return has;
}

static unsigned node_peers(void)
{
    json_t *r = nt_rpc(g_c.rpc_port[0], "status", NULL);
    unsigned k = (unsigned)json_integer_value(json_object_get(json_object_get(r, "result"),
                                                              "peers"));
    json_decref(r);
    return k;
}

/* A TLS connection to node 0 whose Hello has been read. */
static tp_conn *open_link(tp_hello *node_hello)
{
    tp_conn *c = tp_connect(g_c.p2p_port[0], 5000);
    if (c == NULL)
        fail_msg("no TLS connection to the node: %s", tp_last_error());
    if (tp_recv_hello(c, node_hello, 5000) != 0)
        fail_msg("no Hello from the node: %s", tp_error(c));
    return c;
}

static void test_oversized_frame_closes_the_link(void **state)
{
    (void)state;
    tp_hello h;
    tp_conn *c = open_link(&h);
    uint8_t len[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(tp_write(c, len, 4, 1000), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
    /* a frame just over the handshake limit, before authenticating */
    c = open_link(&h);
    uint8_t big[4];
    ledger_be32(big, 4097);
    assert_int_equal(tp_write(c, big, 4, 1000), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
}

static void test_garbage_closes_the_link(void **state)
{
    (void)state;
    tp_hello h;
    tp_conn *c = open_link(&h);
    uint8_t junk[64];
    memset(junk, 0xa5, sizeof junk);
    ledger_be32(junk, 60);
    assert_int_equal(tp_write(c, junk, sizeof junk, 1000), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
}

static void test_unknown_key_is_refused(void **state)
{
    (void)state;
    uint8_t nonce[32] = {9};
    tp_hello h;
    tp_conn *c = open_link(&h);
    assert_int_equal(tp_send_hello(c, g_c.env.g->chain_id, g_c.env.outsider.pub, nonce, 0), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
    /* a seal key is not a node key either */
    c = open_link(&h);
    assert_int_equal(tp_send_hello(c, g_c.env.g->chain_id, g_c.env.dept[LT_MARKET].pub, nonce, 0),
                     0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
    /* nor is the node's own key */
    c = open_link(&h);
    assert_int_equal(tp_send_hello(c, g_c.env.g->chain_id, g_c.env.node[0].pub, nonce, 0), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
    assert_true(log_has("neither a validator's nor an observer's node key"));
}

static void test_other_chain_is_refused(void **state)
{
    (void)state;
    uint8_t nonce[32] = {9};
    tp_hello h;
    tp_conn *c = open_link(&h);
    assert_string_equal(h.chain_id, g_c.env.g->chain_id);
    assert_int_equal(tp_send_hello(c, "some-other-chain", g_c.env.node[1].pub, nonce, 0), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
}

static void test_validator_key_without_its_secret_fails_authentication(void **state)
{
    (void)state;
    /* claims to be validator 1, but cannot sign for its key */
    uint8_t nonce[32] = {9}, sig[64];
    tp_hello h;
    tp_conn *c = open_link(&h);
    assert_int_equal(tp_send_hello(c, g_c.env.g->chain_id, g_c.env.node[1].pub, nonce, 0), 0);
    assert_int_equal(tp_recv_auth(c, sig, 2000), 0); /* the node's own Auth */
    memset(sig, 7, sizeof sig);
    assert_int_equal(tp_send_auth_sig(c, sig), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
    assert_true(log_has("failed authentication"));
}

/* The Auth of the real validator key, over everything but this session's
 * exporter: the old v1 hash, and the hash bound to another session.  That
 * is what a relay can obtain, and neither may authenticate. */
static void test_an_auth_not_bound_to_this_session_fails(void **state)
{
    (void)state;
    const char *chain = g_c.env.g->chain_id;
    const ledger_keypair *k1 = &g_c.env.node[1];
    uint8_t nonce[32] = {3}, node_sig[64], msg[32], sig[64], exp[32];
    /* v1: TaggedHash("permit/p2p/v1", str chain_id || own nonce || peer nonce) */
    tp_hello h;
    tp_conn *c = open_link(&h);
    assert_int_equal(tp_send_hello(c, chain, k1->pub, nonce, 0), 0);
    assert_int_equal(tp_recv_auth(c, node_sig, 2000), 0);
    /* the node's own Auth is bound to this session */
    assert_true(tp_verify_auth(c, chain, g_c.env.node[0].pub, h.nonce, nonce, node_sig));
    ledger_tag tag;
    ledger_tag_init(&tag, "permit/p2p/v1");
    lbuf b;
    ledger_lbuf_init(&b, 200);
    ledger_lbuf_str(&b, chain);
    ledger_lbuf_put(&b, nonce, 32);
    ledger_lbuf_put(&b, h.nonce, 32);
    ledger_tagged_hash(&tag, b.buf, b.len, msg);
    ledger_lbuf_free(&b);
    assert_int_equal(ledger_sign(k1, msg, NULL, sig), 0);
    assert_int_equal(tp_send_auth_sig(c, sig), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
    /* v2 with the exporter of another connection */
    tp_hello h2;
    tp_conn *other = open_link(&h2);
    c = open_link(&h);
    assert_int_equal(tp_exporter(other, exp), 0);
    assert_int_equal(tp_send_hello(c, chain, k1->pub, nonce, 0), 0);
    assert_int_equal(tp_recv_auth(c, node_sig, 2000), 0);
    tp_auth_hash(chain, nonce, h.nonce, exp, msg);
    assert_int_equal(ledger_sign(k1, msg, NULL, sig), 0);
    assert_int_equal(tp_send_auth_sig(c, sig), 0);
    assert_true(tp_wait_closed(c, 2000));
    tp_close(c);
    tp_close(other);
    assert_int_equal(node_peers(), 0);
}

static void test_silent_connection_is_dropped_after_the_handshake_deadline(void **state)
{
    (void)state;
    tp_conn *tcp = tp_connect_plain(g_c.p2p_port[0], 2000);
    assert_non_null(tcp);
    tp_hello h;
    tp_conn *tls = open_link(&h); /* TLS, and then not a word */
    uint64_t t0 = nt_now_ms();
    assert_true(tp_wait_closed(tcp, 7000)); /* 5 s handshake deadline */
    assert_true(tp_wait_closed(tls, 1500));
    assert_true(nt_now_ms() - t0 >= 3500);
    tp_close(tcp);
    tp_close(tls);
}

/* A client that does not speak TLS gets nothing in the clear and is closed
 * at once, not at the handshake deadline; nor is TLS 1.2 accepted. */
static void test_a_plaintext_client_is_closed(void **state)
{
    (void)state;
    tp_conn *c = tp_connect_plain(g_c.p2p_port[0], 2000);
    assert_non_null(c);
    uint8_t nonce[32] = {5};
    uint64_t t0 = nt_now_ms();
    assert_int_equal(tp_send_hello(c, g_c.env.g->chain_id, g_c.env.node[1].pub, nonce, 0), 0);
    /* whatever comes back (a TLS alert at most) is not a frame */
    uint8_t buf[4096];
    size_t got = 0;
    for (;;) {
        ssize_t r = tp_read(c, buf + got, sizeof buf - got, 2500);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == sizeof buf)
            break;
    }
    assert_true(nt_now_ms() - t0 < 2500); /* closed, not timed out */
    if (got >= 4) {
        uint32_t len = ledger_rd_be32(buf);
        Permit__Frame *f =
            len <= got - 4 ? permit__frame__unpack(NULL, len, buf + 4) : NULL;
        if (f && f->msg_case == PERMIT__FRAME__MSG_HELLO)
            fail_msg("the node sent its Hello in the clear");
        permit__frame__free_unpacked(f, NULL);
    }
    tp_close(c);
    assert_null(tp_connect_version(g_c.p2p_port[0], TP_TLS12, 3000));
    assert_true(log_has("TLS handshake with 127.0.0.1 failed"));
}

/* The node dials validator 1, played here by a TLS server: the handshake
 * binds both Auths to the session, a Ping gets its Pong, an idle link is
 * pinged after 10 s, a link that says nothing for 30 s is closed, and then
 * the node dials again. */
static void test_a_dialled_validator_is_kept_alive_and_redialled(void **state)
{
    (void)state;
    tp_server *srv = tp_listen(g_c.p2p_port[1]);
    if (srv == NULL)
        fail_msg("%s", tp_last_error());
    tp_conn *c = tp_accept(srv, 20000); /* the node's redial backoff */
    if (c == NULL)
        fail_msg("the node did not dial validator 1: %s", tp_last_error());
    tp_hello h;
    if (tp_handshake(c, g_c.env.g->chain_id, &g_c.env.node[1], 0, g_c.env.node[0].pub, &h,
                     5000) != 0)
        fail_msg("handshake: %s", tp_error(c));
    uint64_t up = nt_now_ms();
    for (int i = 0; i < 20 && node_peers() != 1; i++)
        sleep_ms(100);
    assert_int_equal(node_peers(), 1);
    Permit__Ping ping = PERMIT__PING__INIT;
    ping.nonce = 0x1234567890abcdefull;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_PING;
    f.ping = &ping;
    assert_int_equal(tp_send_frame(c, &f, 1000), 0);
    Permit__Frame *pong = tp_recv_kind(c, PERMIT__FRAME__MSG_PONG, 3000);
    assert_non_null(pong);
    assert_true(pong->pong->nonce == ping.nonce);
    permit__frame__free_unpacked(pong, NULL);
    uint64_t last_sent = nt_now_ms();
    /* now silent: the node pings after ~10 s ... */
    Permit__Frame *in = NULL;
    while ((in = tp_recv_frame(c, 13000)) != NULL && in->msg_case != PERMIT__FRAME__MSG_PING)
        permit__frame__free_unpacked(in, NULL);
    assert_non_null(in);
    permit__frame__free_unpacked(in, NULL);
    assert_true(nt_now_ms() - last_sent >= 9000);
    /* ... and, unanswered, closes the link 30 s after our last word */
    assert_true(tp_wait_closed(c, 25000));
    uint64_t silent = nt_now_ms() - last_sent;
    assert_true(silent >= 29000 && silent < 33000);
    assert_true(nt_now_ms() - up >= 29000);
    tp_close(c);
    assert_true(log_has("silent for 30 s"));
    /* the link came up once, so the node dials again soon */
    c = tp_accept(srv, 5000);
    if (c == NULL)
        fail_msg("the node did not dial again: %s", tp_last_error());
    assert_int_equal(tp_handshake(c, g_c.env.g->chain_id, &g_c.env.node[1], 0,
                                  g_c.env.node[0].pub, NULL, 5000),
                     0);
    tp_close(c);
    tp_server_free(srv);
}

static int node_syncing(void)
{
    json_t *r = nt_rpc(g_c.rpc_port[0], "status", NULL);
    int s = json_is_true(json_object_get(json_object_get(r, "result"), "syncing"));
    json_decref(r);
    return s;
}

/* A validator that claims a height far ahead and then never answers the
 * node's request for blocks must not keep it out of consensus: the node
 * gives the request up after 5 s and goes back to consensus. */
static void test_an_unanswered_sync_request_is_given_up(void **state)
{
    (void)state;
    const lt_env *env = &g_c.env;
    tp_conn *c = tp_connect(g_c.p2p_port[0], 5000);
    assert_non_null(c);
    /* authenticate as validator 1, announcing height 1000 */
    if (tp_handshake(c, env->g->chain_id, &env->node[1], 1000, env->node[0].pub, NULL, 5000) != 0)
        fail_msg("handshake: %s", tp_error(c));
    /* the node asks us for blocks ... */
    Permit__Frame *in = tp_recv_kind(c, PERMIT__FRAME__MSG_SYNC_REQUEST, 5000);
    assert_non_null(in);
    permit__frame__free_unpacked(in, NULL);
    assert_true(node_syncing());
    /* ... we never answer, and within 5 s (+ its 1 s check) it stops waiting */
    uint64_t until = nt_now_ms() + 9000;
    while (node_syncing()) {
        if (nt_now_ms() > until)
            fail_msg("the node still waits for blocks from a peer that never answers");
        sleep_ms(200);
    }
    assert_true(log_has("sync: validator 1 did not answer"));
    tp_close(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_dialled_validator_is_kept_alive_and_redialled),
        T(test_oversized_frame_closes_the_link),
        T(test_garbage_closes_the_link),
        T(test_unknown_key_is_refused),
        T(test_other_chain_is_refused),
        T(test_validator_key_without_its_secret_fails_authentication),
        T(test_an_auth_not_bound_to_this_session_fails),
        T(test_silent_connection_is_dropped_after_the_handshake_deadline),
        T(test_a_plaintext_client_is_closed),
        T(test_an_unanswered_sync_request_is_given_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
