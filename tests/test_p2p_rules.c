/* The I/O-free rules of the validator links: the handshake's hash, Hello
 * check and channel-bound Auth (node/handshake.h), and which pending
 * connection gives way under the admission limits (node/admit.h). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledgertest.h"
#include "node/admit.h"
#include "node/handshake.h"
#include "peer.h"
#include "permit.pb-c.h"

/* ---- the handshake ---- */

static void fill(uint8_t *b, size_t n, uint8_t v)
{
    memset(b, v, n);
}

/* The vector of docs/formats.md ("P2P handshake"). */
static void test_the_auth_hash_is_the_documented_layout(void **state)
{
    (void)state;
    uint8_t a[32], b[32], x[32], got[32], want[32], peer[32];
    fill(a, 32, 0x01);
    fill(b, 32, 0x02);
    fill(x, 32, 0x03);
    assert_int_equal(node_hs_auth_hash("permit-test", a, b, x, got), 0);
    /* built here byte by byte: str chain_id || signer nonce || other nonce || exporter */
    uint8_t m[2 + 11 + 96];
    m[0] = 0;
    m[1] = 11;
    memcpy(m + 2, "permit-test", 11);
    memcpy(m + 13, a, 32);
    memcpy(m + 45, b, 32);
    memcpy(m + 77, x, 32);
    ledger_tag tag;
    ledger_tag_init(&tag, "permit/p2p/v2");
    ledger_tagged_hash(&tag, m, sizeof m, want);
    assert_memory_equal(got, want, 32);
    /* the test peer's own implementation agrees */
    tp_auth_hash("permit-test", a, b, x, peer);
    assert_memory_equal(got, peer, 32);
    char hex[65];
    ledger_hex_encode(got, 32, hex);
    assert_string_equal(hex, "17183fc659ab400f6c611044e36ac353d370e74a65b88e2f8b7d1172fc08500d");
    /* order matters: the signer's nonce comes first */
    assert_int_equal(node_hs_auth_hash("permit-test", b, a, x, want), 0);
    assert_memory_not_equal(got, want, 32);
}

static void test_a_chain_id_too_long_for_a_str_has_no_hash(void **state)
{
    (void)state;
    char *id = malloc(70000);
    memset(id, 'a', 69999);
    id[69999] = '\0';
    uint8_t n[32] = {0}, out[32];
    assert_int_equal(node_hs_auth_hash(id, n, n, n, out), -1);
    free(id);
}

static lt_env g_env;

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
        snprintf(addr, sizeof addr, "127.0.0.1:%zu", 9100 + i);
        json_object_set_new(d, "validator",
                            json_pack("{s:s, s:s}", "node_key", key, "p2p", addr));
    }
    /* node[4] is an observer's key (DESIGN §6) */
    char okey[65];
    ledger_hex_encode(g_env.node[4].pub, 32, okey);
    json_object_set_new(root, "observers",
                        json_pack("[{s:s, s:s}]", "name", "审计局观察节点", "node_key", okey));
}

static int env_setup(void **state)
{
    (void)state;
    lt_setup(&g_env, four_validators); /* the keys exist before the edit runs */
    return 0;
}

static int env_teardown(void **state)
{
    (void)state;
    lt_teardown(&g_env);
    return 0;
}

static Permit__Hello hello_of(const uint8_t *key, size_t key_len, const uint8_t *nonce,
                              size_t nonce_len, const char *chain)
{
    Permit__Hello h = PERMIT__HELLO__INIT;
    h.chain_id = (char *)chain;
    h.node_key.data = (uint8_t *)key;
    h.node_key.len = key_len;
    h.nonce.data = (uint8_t *)nonce;
    h.nonce.len = nonce_len;
    return h;
}

static void test_a_hello_names_another_validator_of_this_chain(void **state)
{
    (void)state;
    const ledger_genesis *g = g_env.g;
    uint8_t nonce[32] = {1};
    int v;
    Permit__Hello h = hello_of(g_env.node[1].pub, 32, nonce, 32, g->chain_id);
    assert_int_equal(node_hs_check_hello(g, 0, &h, &v), NODE_HS_OK);
    assert_int_equal(v, 1);
    assert_int_equal(node_hs_check_hello(g, 1, &h, &v), NODE_HS_SELF);
    assert_int_equal(node_hs_check_hello(g, -1, &h, &v), NODE_HS_OK);
    h = hello_of(g_env.node[1].pub, 32, nonce, 32, "other");
    assert_int_equal(node_hs_check_hello(g, 0, &h, &v), NODE_HS_OTHER_CHAIN);
    assert_int_equal(v, -1);
    h = hello_of(g_env.outsider.pub, 32, nonce, 32, g->chain_id);
    assert_int_equal(node_hs_check_hello(g, 0, &h, &v), NODE_HS_NOT_VALIDATOR);
    h = hello_of(g_env.dept[LT_APPROVAL].pub, 32, nonce, 32, g->chain_id); /* a seal key */
    assert_int_equal(node_hs_check_hello(g, 0, &h, &v), NODE_HS_NOT_VALIDATOR);
    h = hello_of(g_env.node[1].pub, 31, nonce, 32, g->chain_id);
    assert_int_equal(node_hs_check_hello(g, 0, &h, &v), NODE_HS_MALFORMED);
    h = hello_of(g_env.node[1].pub, 32, nonce, 16, g->chain_id);
    assert_int_equal(node_hs_check_hello(g, 0, &h, &v), NODE_HS_MALFORMED);
    h = hello_of(g_env.node[1].pub, 32, nonce, 32, NULL);
    assert_int_equal(node_hs_check_hello(g, 0, &h, &v), NODE_HS_MALFORMED);
    assert_int_equal(node_hs_check_hello(g, 0, NULL, &v), NODE_HS_MALFORMED);
}

/* Observers: a validator takes their links (peer indexes after the
 * validators), an observer takes validators only, nobody else takes them,
 * and their Auth verifies under their own key. */
static void test_observers_link_to_validators_only(void **state)
{
    (void)state;
    const ledger_genesis *g = g_env.g;
    unsigned nv = (unsigned)g->n_validators;
    assert_int_equal(g->n_observers, 1);
    assert_int_equal(node_member_peers(g), nv + 1);
    assert_int_equal(node_member_peer(g, g_env.node[4].pub), (int)nv);
    assert_int_equal(node_member_peer(g, g_env.node[1].pub), 1);
    assert_int_equal(node_member_peer(g, g_env.outsider.pub), -1);
    assert_int_equal(node_member_peer(g, g_env.dept[LT_MARKET].pub), -1); /* a seal key */
    assert_true(node_member_is_observer(g, nv));
    assert_false(node_member_is_observer(g, 1));
    assert_false(node_member_is_observer(g, nv + 1));
    assert_null(node_member_key(g, nv + 1));
    assert_memory_equal(node_member_key(g, nv)->raw, g_env.node[4].pub, 32);
    assert_string_equal(node_member_name(g, (int)nv), "审计局观察节点");
    assert_string_equal(node_member_name(g, -1), "?");
    uint8_t nonce[32] = {7};
    int v;
    Permit__Hello obs = hello_of(g_env.node[4].pub, 32, nonce, 32, g->chain_id);
    Permit__Hello val = hello_of(g_env.node[1].pub, 32, nonce, 32, g->chain_id);
    Permit__Hello out = hello_of(g_env.outsider.pub, 32, nonce, 32, g->chain_id);
    /* a validator admits the observer, counted after the validators */
    assert_int_equal(node_hs_check_hello_peer(g, 0, 1, &obs, &v), NODE_HS_OK);
    assert_int_equal(v, (int)nv);
    assert_int_equal(node_hs_check_hello_peer(g, 0, 1, &out, &v), NODE_HS_NOT_VALIDATOR);
    assert_int_equal(v, -1);
    /* ... but not where only validators may link */
    assert_int_equal(node_hs_check_hello(g, 0, &obs, &v), NODE_HS_NOT_VALIDATOR);
    /* the observer links to validators, never to itself or other observers */
    assert_int_equal(node_hs_check_hello_peer(g, (int)nv, 0, &val, &v), NODE_HS_OK);
    assert_int_equal(v, 1);
    assert_int_equal(node_hs_check_hello_peer(g, (int)nv, 0, &obs, &v), NODE_HS_NOT_VALIDATOR);
    assert_int_equal(node_hs_check_hello_peer(g, (int)nv, 1, &obs, &v), NODE_HS_SELF);
    /* its Auth verifies as that peer, and as no other */
    uint8_t mine[32], theirs[32], x[32], sig[64];
    fill(mine, 32, 0x41);
    fill(theirs, 32, 0x42);
    fill(x, 32, 0x43);
    assert_int_equal(node_hs_sign_auth(&g_env.node[4], g->chain_id, theirs, mine, x, sig), 0);
    Permit__Auth a = PERMIT__AUTH__INIT;
    a.sig.data = sig;
    a.sig.len = 64;
    assert_true(node_hs_verify_auth(g, nv, theirs, mine, x, &a));
    assert_false(node_hs_verify_auth(g, 0, theirs, mine, x, &a));
    assert_false(node_hs_verify_auth(g, nv + 1, theirs, mine, x, &a));
}

/* The genesis observers list: its keys are unique across every role, and its
 * entries take no unknown field. */
static void test_genesis_observers_are_checked(void **state)
{
    (void)state;
    json_error_t je;
    json_t *root = json_loads(g_env.genesis_json, 0, &je);
    assert_non_null(root);
    char key[65];
    ledger_hex_encode(g_env.registrar.pub, 32, key);
    json_object_set_new(root, "observers",
                        json_pack("[{s:s, s:s}]", "name", "x", "node_key", key));
    char *text = json_dumps(root, 0);
    ledger_genesis *g = NULL;
    ledger_err err;
    assert_int_equal(ledger_genesis_parse(text, strlen(text), &g, &err), -1);
    assert_non_null(strstr(err.msg, "observers[0].node_key: key already used at registrars[0]"));
    free(text);
    json_object_set_new(root, "observers", json_pack("[{s:s, s:s, s:i}]", "name", "x",
                                                      "node_key", key, "p2p", 1));
    text = json_dumps(root, 0);
    assert_int_equal(ledger_genesis_parse(text, strlen(text), &g, &err), -1);
    assert_non_null(strstr(err.msg, "observers[0]: unknown field \"p2p\""));
    free(text);
    json_object_del(root, "observers");
    text = json_dumps(root, 0);
    assert_int_equal(ledger_genesis_parse(text, strlen(text), &g, &err), 0);
    assert_int_equal(g->n_observers, 0);
    assert_int_equal(ledger_genesis_observer_index(g, g_env.node[4].pub), -1);
    ledger_genesis_free(g);
    free(text);
    json_decref(root);
}

/* An Auth proves its key on one session only: another exporter (a relay's
 * other connection), swapped nonces, another validator or a bent signature
 * never verify. */
static void test_an_auth_verifies_only_on_its_own_session(void **state)
{
    (void)state;
    const ledger_genesis *g = g_env.g;
    uint8_t mine[32], theirs[32], x[32], other_x[32], sig[64];
    fill(mine, 32, 0x11);
    fill(theirs, 32, 0x22);
    fill(x, 32, 0x33);
    fill(other_x, 32, 0x34);
    /* validator 1 signs with its nonce first; validator 0 checks it */
    assert_int_equal(node_hs_sign_auth(&g_env.node[1], g->chain_id, theirs, mine, x, sig), 0);
    Permit__Auth a = PERMIT__AUTH__INIT;
    a.sig.data = sig;
    a.sig.len = 64;
    assert_true(node_hs_verify_auth(g, 1, theirs, mine, x, &a));
    assert_false(node_hs_verify_auth(g, 1, theirs, mine, other_x, &a));
    assert_false(node_hs_verify_auth(g, 1, mine, theirs, x, &a));
    assert_false(node_hs_verify_auth(g, 2, theirs, mine, x, &a));
    assert_false(node_hs_verify_auth(g, (unsigned)g->n_validators, theirs, mine, x, &a));
    a.sig.len = 63;
    assert_false(node_hs_verify_auth(g, 1, theirs, mine, x, &a));
    a.sig.len = 64;
    sig[10] ^= 1;
    assert_false(node_hs_verify_auth(g, 1, theirs, mine, x, &a));
    assert_false(node_hs_verify_auth(g, 1, theirs, mine, x, NULL));
}

/* ---- admission ---- */

static const node_admit_limits LIM = {.per_addr = 4, .anon_max = 8, .per_key = 2};

static node_admit_conn conn(uint8_t addr, int reserved, node_admit_stage stage, int key,
                            uint64_t seq)
{
    node_admit_conn c = {.addr = {127, 0, 0, addr}, .addr_len = 4, .reserved = (uint8_t)reserved,
                         .stage = stage, .key = key, .seq = seq};
    return c;
}

static void test_there_is_room_under_the_limits(void **state)
{
    (void)state;
    node_admit_conn p[3] = {conn(1, 0, NODE_ADMIT_TCP, -1, 1), conn(2, 0, NODE_ADMIT_TLS, -1, 2),
                            conn(1, 0, NODE_ADMIT_NAMED, 0, 3)};
    node_admit_conn c = conn(1, 0, NODE_ADMIT_TCP, -1, 4);
    assert_int_equal(node_admit_victim(&LIM, p, 3, &c), NODE_ADMIT_ROOM);
    assert_int_equal(node_admit_victim(&LIM, NULL, 0, &c), NODE_ADMIT_ROOM);
}

/* A flood from one address pushes out its own oldest idle connection, the
 * one that made the least progress first, never the newcomer. */
static void test_a_flood_from_one_address_evicts_its_own_weakest(void **state)
{
    (void)state;
    node_admit_conn p[5] = {conn(1, 0, NODE_ADMIT_TLS, -1, 1), conn(1, 0, NODE_ADMIT_TCP, -1, 2),
                            conn(2, 0, NODE_ADMIT_TCP, -1, 3), conn(1, 0, NODE_ADMIT_TCP, -1, 4),
                            conn(1, 0, NODE_ADMIT_TLS, -1, 5)};
    node_admit_conn c = conn(1, 0, NODE_ADMIT_TCP, -1, 6);
    assert_int_equal(node_admit_victim(&LIM, p, 5, &c), 1); /* TCP before TLS, then oldest */
    /* a Hello takes a connection out of the anonymous count */
    p[1].stage = NODE_ADMIT_NAMED;
    p[1].key = 3;
    assert_int_equal(node_admit_victim(&LIM, p, 5, &c), NODE_ADMIT_ROOM);
}

static void test_a_full_pool_evicts_the_weakest_rather_than_refusing(void **state)
{
    (void)state;
    node_admit_conn p[8];
    for (int i = 0; i < 8; i++)
        p[i] = conn((uint8_t)(10 + i), 0, i == 2 ? NODE_ADMIT_TCP : NODE_ADMIT_TLS, -1,
                    (uint64_t)(i + 1));
    node_admit_conn c = conn(99, 0, NODE_ADMIT_TCP, -1, 9);
    assert_int_equal(node_admit_victim(&LIM, p, 8, &c), 2);
    p[2].stage = NODE_ADMIT_TLS;
    assert_int_equal(node_admit_victim(&LIM, p, 8, &c), 0); /* then the oldest */
}

/* Validators' addresses are reserved: a newcomer from elsewhere pushes out
 * only connections from elsewhere, and is itself refused when every pending
 * connection comes from a validator's address. */
static void test_validators_addresses_keep_their_capacity(void **state)
{
    (void)state;
    node_admit_conn p[8];
    for (int i = 0; i < 8; i++)
        p[i] = conn((uint8_t)(10 + i / 4), 1, NODE_ADMIT_TCP, -1, (uint64_t)(i + 1));
    node_admit_conn outsider = conn(99, 0, NODE_ADMIT_TCP, -1, 9);
    assert_int_equal(node_admit_victim(&LIM, p, 8, &outsider), NODE_ADMIT_REFUSE);
    node_admit_conn validator = conn(12, 1, NODE_ADMIT_TCP, -1, 9);
    assert_int_equal(node_admit_victim(&LIM, p, 8, &validator), 0);
    /* with one from elsewhere in the pool, that one goes first, even if newer */
    p[7] = conn(50, 0, NODE_ADMIT_TLS, -1, 8);
    assert_int_equal(node_admit_victim(&LIM, p, 8, &validator), 7);
    assert_int_equal(node_admit_victim(&LIM, p, 8, &outsider), 7);
}

/* A Hello that names validator k counts against k's allowance; the next one
 * pushes out k's weakest, preferring one not from k's own address. */
static void test_a_key_has_a_small_allowance_of_pending_connections(void **state)
{
    (void)state;
    node_admit_conn p[4] = {conn(1, 0, NODE_ADMIT_NAMED, 2, 1), conn(2, 0, NODE_ADMIT_NAMED, 2, 2),
                            conn(3, 0, NODE_ADMIT_NAMED, 3, 3), conn(4, 0, NODE_ADMIT_TCP, -1, 4)};
    p[0].key_addr = 1; /* from validator 2's address */
    node_admit_conn c = conn(5, 0, NODE_ADMIT_NAMED, 2, 5);
    assert_int_equal(node_admit_victim(&LIM, p, 4, &c), 1);
    p[1].key_addr = 1;
    assert_int_equal(node_admit_victim(&LIM, p, 4, &c), 0); /* both from there: the oldest */
    c.key = 3;
    assert_int_equal(node_admit_victim(&LIM, p, 4, &c), NODE_ADMIT_ROOM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_auth_hash_is_the_documented_layout),
        cmocka_unit_test(test_a_chain_id_too_long_for_a_str_has_no_hash),
        cmocka_unit_test_setup_teardown(test_a_hello_names_another_validator_of_this_chain,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_observers_link_to_validators_only, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_genesis_observers_are_checked, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_an_auth_verifies_only_on_its_own_session, env_setup,
                                        env_teardown),
        cmocka_unit_test(test_there_is_room_under_the_limits),
        cmocka_unit_test(test_a_flood_from_one_address_evicts_its_own_weakest),
        cmocka_unit_test(test_a_full_pool_evicts_the_weakest_rather_than_refusing),
        cmocka_unit_test(test_validators_addresses_keep_their_capacity),
        cmocka_unit_test(test_a_key_has_a_small_allowance_of_pending_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
