/* The validator links of a live permitd (node/p2p.c): frames over the size
 * limit, garbage, keys outside the validator set and forged authentication
 * are refused by closing the link, and the node goes on serving. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/keys.h"
#include "nodetest.h"
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

/* 1 when the node closes the connection within 7 s (reading what it sends). */
static int closed_by_node(int fd)
{
    char buf[4096];
    for (int i = 0; i < 70; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) == 1) {
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0)
                return 1;
        }
    }
    return 0;
}

static void send_frame(int fd, const Permit__Frame *f)
{
    size_t len = permit__frame__get_packed_size(f);
    uint8_t *buf = malloc(4 + len);
    ledger_be32(buf, (uint32_t)len);
    permit__frame__pack(f, buf + 4);
    assert_int_equal(write(fd, buf, 4 + len), (ssize_t)(4 + len));
    free(buf);
}

static void hello(int fd, const uint8_t key[32], const char *chain)
{
    uint8_t nonce[32] = {9};
    Permit__Hello h = PERMIT__HELLO__INIT;
    h.chain_id = (char *)chain;
    h.node_key.data = (uint8_t *)key;
    h.node_key.len = 32;
    h.nonce.data = nonce;
    h.nonce.len = 32;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_HELLO;
    f.hello = &h;
    send_frame(fd, &f);
}

static void test_oversized_frame_closes_the_link(void **state)
{
    (void)state;
    int fd = nt_connect(g_c.p2p_port[0]);
    assert_true(fd >= 0);
    uint8_t len[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(write(fd, len, 4), 4);
    assert_true(closed_by_node(fd));
    close(fd);
}

static void test_garbage_closes_the_link(void **state)
{
    (void)state;
    int fd = nt_connect(g_c.p2p_port[0]);
    uint8_t junk[64];
    memset(junk, 0xa5, sizeof junk);
    ledger_be32(junk, 60);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    assert_true(closed_by_node(fd));
    close(fd);
}

static void test_unknown_key_is_refused(void **state)
{
    (void)state;
    int fd = nt_connect(g_c.p2p_port[0]);
    hello(fd, g_c.env.outsider.pub, g_c.env.g->chain_id);
    assert_true(closed_by_node(fd));
    close(fd);
    /* a seal key is not a node key either */
    fd = nt_connect(g_c.p2p_port[0]);
    hello(fd, g_c.env.dept[LT_MARKET].pub, g_c.env.g->chain_id);
    assert_true(closed_by_node(fd));
    close(fd);
}

static void test_other_chain_is_refused(void **state)
{
    (void)state;
    int fd = nt_connect(g_c.p2p_port[0]);
    hello(fd, g_c.env.node[1].pub, "some-other-chain");
    assert_true(closed_by_node(fd));
    close(fd);
}

static void test_validator_key_without_its_secret_fails_authentication(void **state)
{
    (void)state;
    /* claims to be validator 1, but cannot sign for its key */
    int fd = nt_connect(g_c.p2p_port[0]);
    hello(fd, g_c.env.node[1].pub, g_c.env.g->chain_id);
    uint8_t sig[64];
    memset(sig, 7, sizeof sig);
    Permit__Auth a = PERMIT__AUTH__INIT;
    a.sig.data = sig;
    a.sig.len = 64;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_AUTH;
    f.auth = &a;
    send_frame(fd, &f);
    assert_true(closed_by_node(fd));
    close(fd);
}

static void test_silent_connection_is_dropped_after_the_handshake_deadline(void **state)
{
    (void)state;
    int fd = nt_connect(g_c.p2p_port[0]);
    assert_true(closed_by_node(fd)); /* 5 s handshake deadline */
    close(fd);
}

/* Read one frame from the node (5 s at most); NULL on close or timeout. */
static Permit__Frame *read_frame(int fd)
{
    uint8_t hdr[4];
    size_t got = 0;
    uint8_t *body = NULL;
    uint32_t len = 0;
    for (int i = 0; i < 50;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) != 1) {
            i++;
            continue;
        }
        ssize_t r = body ? read(fd, body + got, len - got) : read(fd, hdr + got, 4 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (body == NULL && got == 4) {
            len = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) |
                  hdr[3];
            assert_true(len > 0 && len < (1u << 20));
            body = malloc(len);
            got = 0;
        } else if (body && got == len) {
            Permit__Frame *f = permit__frame__unpack(NULL, len, body);
            free(body);
            return f;
        }
    }
    free(body);
    return NULL;
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
    int fd = nt_connect(g_c.p2p_port[0]);
    assert_true(fd >= 0);
    uint8_t nonce[32];
    memset(nonce, 0x5a, sizeof nonce);
    Permit__Hello h = PERMIT__HELLO__INIT;
    h.chain_id = (char *)env->g->chain_id;
    h.node_key.data = (uint8_t *)env->node[1].pub;
    h.node_key.len = 32;
    h.nonce.data = nonce;
    h.nonce.len = 32;
    h.height = 1000;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_HELLO;
    f.hello = &h;
    send_frame(fd, &f);
    uint8_t node_nonce[32];
    int have = 0;
    while (!have) {
        Permit__Frame *in = read_frame(fd);
        assert_non_null(in);
        if (in->msg_case == PERMIT__FRAME__MSG_HELLO && in->hello->nonce.len == 32) {
            memcpy(node_nonce, in->hello->nonce.data, 32);
            have = 1;
        }
        permit__frame__free_unpacked(in, NULL);
    }
    /* authenticate as validator 1: sign (chain id, our nonce, its nonce) */
    ledger_tag tag;
    ledger_tag_init(&tag, "permit/p2p/v1");
    lbuf buf;
    lbuf_init(&buf, 200);
    lbuf_str(&buf, env->g->chain_id);
    lbuf_put(&buf, nonce, 32);
    lbuf_put(&buf, node_nonce, 32);
    uint8_t msg[32], sig[64];
    ledger_tagged_hash(&tag, buf.buf, buf.len, msg);
    lbuf_free(&buf);
    assert_int_equal(ledger_sign(&env->node[1], msg, NULL, sig), 0);
    Permit__Auth a = PERMIT__AUTH__INIT;
    a.sig.data = sig;
    a.sig.len = 64;
    f.msg_case = PERMIT__FRAME__MSG_AUTH;
    f.auth = &a;
    send_frame(fd, &f);
    /* the node asks us for blocks ... */
    int asked = 0;
    for (int i = 0; i < 20 && !asked; i++) {
        Permit__Frame *in = read_frame(fd);
        assert_non_null(in);
        asked = in->msg_case == PERMIT__FRAME__MSG_SYNC_REQUEST;
        permit__frame__free_unpacked(in, NULL);
    }
    assert_true(asked);
    assert_true(node_syncing());
    /* ... we never answer, and within 5 s (+ its 1 s check) it stops waiting */
    uint64_t until = nt_now_ms() + 9000;
    while (node_syncing()) {
        if (nt_now_ms() > until)
            fail_msg("the node still waits for blocks from a peer that never answers");
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    char path[700];
    snprintf(path, sizeof path, "%s/permitd.log", g_c.home[0]);
    char *log = tu_read_file(path, NULL);
    assert_non_null(strstr(log, "sync: validator 1 did not answer"));
    free(log);
    close(fd);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_oversized_frame_closes_the_link),
        T(test_garbage_closes_the_link),
        T(test_unknown_key_is_refused),
        T(test_other_chain_is_refused),
        T(test_validator_key_without_its_secret_fails_authentication),
        T(test_silent_connection_is_dropped_after_the_handshake_deadline),
        T(test_an_unanswered_sync_request_is_given_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
