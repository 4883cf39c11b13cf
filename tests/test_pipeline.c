/* Pipelined commit (ledger_exec_commit_async) and block replay: a block
 * executed while the previous one is still being written must see that
 * block's state, produce the same headers as strictly sequential commits,
 * and a failed background write must take the ledger back to the last
 * durable block. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/block.h"
#include "ledger/limits.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "ledgertest.h"

/* Blocks whose transactions depend on the block before: each approves what
 * the previous one applied for, and block 2 replays a transaction of block 1. */
typedef struct {
    uint8_t *tx[8];
    size_t len[8];
    size_t n;
    int expect_ok[8];
} blk;

static void make_blocks(lt_env *env, blk *b, size_t nb)
{
    char id[64];
    for (size_t k = 0; k < nb; k++) {
        env->now = LT_T0 + k * LT_SEC; /* builders stamp now + 1 s: block k's time */
        blk *x = &b[k];
        x->n = 0;
        char u[19];
        lt_uscc((uint32_t)(k + 1), u);
        x->tx[x->n] = lt_apply(env, u, "convenience-store", 0, &x->len[x->n]);
        x->expect_ok[x->n++] = 1;
        if (k > 0) {
            /* the license block k-1 applied for is number k */
            snprintf(id, sizeof id, "PL-320411-2025-%06zu", k);
            x->tx[x->n] = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, id,
                                      NULL, 0, NULL, &x->len[x->n]);
            x->expect_ok[x->n++] = 1;
            x->tx[x->n] = lt_decision(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE,
                                      id, NULL, 0, NULL, &x->len[x->n]);
            x->expect_ok[x->n++] = 1;
            /* approving again what the previous block approved: refused */
            if (k > 1) {
                snprintf(id, sizeof id, "PL-320411-2025-%06zu", k - 1);
                x->tx[x->n] = lt_decision(env, lt_dept(env, LT_MARKET),
                                          PERMIT__TX_KIND__APPROVE, id, NULL, 0, NULL,
                                          &x->len[x->n]);
                x->expect_ok[x->n++] = 0;
            }
            /* a replay of the previous block's application: refused */
            x->tx[x->n] = malloc(b[k - 1].len[0]);
            memcpy(x->tx[x->n], b[k - 1].tx[0], b[k - 1].len[0]);
            x->len[x->n] = b[k - 1].len[0];
            x->expect_ok[x->n++] = 0;
        }
    }
}

static void run_blocks(lt_env *env, blk *b, size_t nb, int async, ledger_header *hdrs)
{
    ledger_err err;
    for (size_t k = 0; k < nb; k++) {
        ledger_block_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        ctx.time = LT_T0 + (k + 1) * LT_SEC;
        memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
        ledger_exec *x;
        assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
        for (size_t i = 0; i < b[k].n; i++) {
            int r = ledger_exec_tx(x, b[k].tx[i], b[k].len[i], LEDGER_SIG_CHECK, NULL, &err);
            if (r != (b[k].expect_ok[i] ? 0 : -1))
                fail_msg("block %zu tx %zu: %s (%s)", k, i, r ? "refused" : "accepted",
                         r ? err.msg : "");
        }
        assert_int_equal(ledger_exec_finish(x, &hdrs[k], &err), 0);
        if (async) {
            assert_int_equal(ledger_exec_commit_async(x, NULL, &err), 0);
        } else {
            assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
        }
        ledger_exec_free(x); /* a no-op for an async-committed block */
    }
    if (async)
        assert_int_equal(ledger_sync(env->L, &err), 0);
    env->now = LT_T0 + nb * LT_SEC;
}

static void free_blocks(blk *b, size_t nb)
{
    for (size_t k = 0; k < nb; k++)
        for (size_t i = 0; i < b[k].n; i++)
            free(b[k].tx[i]);
}

#define NB 8

static void test_pipelined_commit_equals_sequential(void **state)
{
    (void)state;
    lt_env a, s;
    lt_setup(&a, NULL);
    lt_setup(&s, NULL);
    blk b[NB];
    make_blocks(&a, b, NB);
    ledger_header ha[NB], hs[NB];
    run_blocks(&a, b, NB, 1, ha);
    run_blocks(&s, b, NB, 0, hs);
    for (size_t k = 0; k < NB; k++)
        assert_memory_equal(&ha[k], &hs[k], sizeof ha[k]);
    ledger_tip ta, ts;
    ledger_get_tip(a.L, &ta);
    ledger_get_tip(s.L, &ts);
    assert_int_equal(ta.height, NB);
    assert_memory_equal(ta.hash, ts.hash, 32);
    ledger_err err;
    assert_int_equal(ledger_check_integrity(a.L, &err), 0);
    /* all issued, as the sequential run says */
    ledger_license l;
    lt_get(&a, "PL-320411-2025-000003", &l);
    assert_int_equal(l.status, LIC_ISSUED);
    ledger_license_clear(&l);
    /* and the state survives a reopen */
    lt_reopen(&a);
    ledger_get_tip(a.L, &ta);
    assert_memory_equal(ta.hash, ts.hash, 32);
    free_blocks(b, NB);
    lt_teardown(&a);
    lt_teardown(&s);
}

static void test_failed_background_write_returns_to_durable_block(void **state)
{
    (void)state;
    lt_env e;
    lt_setup(&e, NULL);
    blk b[3];
    make_blocks(&e, b, 3);
    ledger_header h[3];
    run_blocks(&e, b, 1, 1, h); /* block 1 durable */
    ledger_tip t1;
    ledger_get_tip(e.L, &t1);
    assert_int_equal(t1.height, 1);

    /* block 2: its background write fails */
    ledger_err err;
    ledger_block_ctx ctx = {.time = LT_T0 + 2 * LT_SEC};
    memcpy(ctx.proposer, e.node[LT_MARKET].pub, 32);
    ledger_exec *x;
    assert_int_equal(ledger_exec_begin(e.L, &ctx, &x, &err), 0);
    for (size_t i = 0; i < b[1].n; i++)
        if (b[1].expect_ok[i])
            assert_int_equal(ledger_exec_tx(x, b[1].tx[i], b[1].len[i], LEDGER_SIG_CHECK, NULL,
                                            &err), 0);
    ledger_header h2;
    assert_int_equal(ledger_exec_finish(x, &h2, &err), 0);
    ledger_store_inject_fault(ledger_store_of(e.L), 1); /* the write is the next operation */
    assert_int_equal(ledger_exec_commit_async(x, NULL, &err), 0);
    assert_int_equal(ledger_sync(e.L, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_IO);
    ledger_store_inject_fault(ledger_store_of(e.L), 0);
    ledger_tip t;
    ledger_get_tip(e.L, &t);
    assert_int_equal(t.height, 1);
    assert_memory_equal(t.hash, t1.hash, 32);
    assert_int_equal(ledger_check_integrity(e.L, &err), 0);

    /* the ledger goes on from block 1: block 2 again, now durable */
    assert_int_equal(ledger_exec_begin(e.L, &ctx, &x, &err), 0);
    for (size_t i = 0; i < b[1].n; i++)
        if (b[1].expect_ok[i])
            assert_int_equal(ledger_exec_tx(x, b[1].tx[i], b[1].len[i], LEDGER_SIG_CHECK, NULL,
                                            &err), 0);
    ledger_header again;
    assert_int_equal(ledger_exec_finish(x, &again, &err), 0);
    assert_memory_equal(&again, &h2, sizeof h2);
    assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
    ledger_exec_free(x);
    assert_int_equal(ledger_height(e.L), 2);
    free_blocks(b, 3);
    lt_teardown(&e);
}

/* A block whose proposer refused a transaction that had loaded a license:
 * the refused transaction must leave no trace in the roots, so a peer that
 * applies the block (without it) computes the same header.  (Regression:
 * the interim state root once covered every license looked up.) */
static void test_refused_lookup_leaves_no_trace_for_peers(void **state)
{
    (void)state;
    lt_env e, peer;
    lt_setup(&e, NULL);
    lt_setup(&peer, NULL);
    size_t len[2];
    ledger_err err;
    /* block 1: two applications */
    uint8_t *a1 = lt_apply(&e, "91350100M000100Y43", "convenience-store", 0, &len[0]);
    uint8_t *a2 = lt_apply(&e, "91350100M000100Y43", "hotel", 0, &len[1]);
    ledger_header h1;
    ledger_block_ctx ctx = {.time = e.now + LT_SEC};
    memcpy(ctx.proposer, e.node[LT_MARKET].pub, 32);
    ledger_exec *x;
    assert_int_equal(ledger_exec_begin(e.L, &ctx, &x, &err), 0);
    assert_int_equal(ledger_exec_tx(x, a1, len[0], LEDGER_SIG_CHECK, NULL, &err), 0);
    assert_int_equal(ledger_exec_tx(x, a2, len[1], LEDGER_SIG_CHECK, NULL, &err), 0);
    assert_int_equal(ledger_exec_finish(x, &h1, &err), 0);
    assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
    ledger_exec_free(x);
    e.now = ctx.time;
    uint8_t hb[LEDGER_MAX_HEADER_BYTES];
    size_t hl;
    assert_int_equal(ledger_header_encode(&h1, hb, sizeof hb, &hl), 0);
    const uint8_t *txs[2] = {a1, a2};
    assert_int_equal(ledger_apply_block(peer.L, hb, hl, txs, len, 2, NULL, NULL, 0, &err), 0);

    /* block 2: refused transactions that load license 2, then one that
     * changes license 1 */
    size_t l1, l2, lok;
    uint8_t *bad = lt_decision(&e, lt_dept(&e, LT_MARKET), PERMIT__TX_KIND__APPROVE,
                               "PL-320411-2025-000002", NULL, 0, NULL, &l1); /* not an owner */
    uint8_t *bad2 = lt_add_address(&e, &e.registrar, "PL-320411-2025-000002", "320411", "x",
                                   &l2); /* not active */
    uint8_t *ok = lt_decision(&e, lt_dept(&e, LT_MARKET), PERMIT__TX_KIND__APPROVE,
                              "PL-320411-2025-000001", NULL, 0, NULL, &lok);
    ctx.time = e.now + LT_SEC;
    assert_int_equal(ledger_exec_begin(e.L, &ctx, &x, &err), 0);
    assert_int_equal(ledger_exec_tx(x, bad, l1, LEDGER_SIG_CHECK, NULL, &err), -1);
    assert_string_equal(err.rule, "department_not_owner");
    assert_int_equal(ledger_exec_tx(x, bad2, l2, LEDGER_SIG_CHECK, NULL, &err), -1);
    assert_string_equal(err.rule, "license_not_active");
    assert_int_equal(ledger_exec_tx(x, ok, lok, LEDGER_SIG_CHECK, NULL, &err), 0);
    ledger_header h2;
    assert_int_equal(ledger_exec_finish(x, &h2, &err), 0);
    assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
    ledger_exec_free(x);
    assert_int_equal(ledger_header_encode(&h2, hb, sizeof hb, &hl), 0);
    txs[0] = ok;
    if (ledger_apply_block(peer.L, hb, hl, txs, &lok, 1, NULL, NULL, 0, &err) != 0)
        fail_msg("peer refused the block: %s", err.msg);
    assert_int_equal(ledger_check_integrity(e.L, &err), 0);
    free(a1);
    free(a2);
    free(bad);
    free(bad2);
    free(ok);
    lt_teardown(&e);
    lt_teardown(&peer);
}

static void test_apply_block_refuses_tampered_blocks(void **state)
{
    (void)state;
    lt_env e, peer;
    lt_setup(&e, NULL);
    lt_setup(&peer, NULL);
    size_t len;
    ledger_err err;
    uint8_t *tx = lt_apply(&e, "91350100M000100Y43", "convenience-store", 0, &len);
    ledger_block_ctx ctx = {.time = e.now + LT_SEC};
    memcpy(ctx.proposer, e.node[LT_MARKET].pub, 32);
    ledger_exec *x;
    ledger_header h;
    assert_int_equal(ledger_exec_begin(e.L, &ctx, &x, &err), 0);
    assert_int_equal(ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, NULL, &err), 0);
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    ledger_exec_free(x);
    const uint8_t *txs[1] = {tx};
    uint8_t hb[LEDGER_MAX_HEADER_BYTES];
    size_t hl;
    struct {
        const char *what;
        size_t off; /* a byte of the field */
    } cases[] = {
        {"tx_root", 1 + 2 + 11 + 8 + 8 + 32},
        {"state_root", 1 + 2 + 11 + 8 + 8 + 64},
        {"log_root", 1 + 2 + 11 + 8 + 8 + 96 + 8},
        {"prev_hash", 1 + 2 + 11 + 8 + 8},
        {"validators_hash", 1 + 2 + 11 + 8 + 8 + 96 + 8 + 32},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(ledger_header_encode(&h, hb, sizeof hb, &hl), 0);
        hb[cases[c].off] ^= 1;
        assert_int_equal(ledger_apply_block(peer.L, hb, hl, txs, &len, 1, NULL, NULL, 0, &err), -1);
        if (strcmp(err.rule, "block_invalid") != 0)
            fail_msg("%s: rule %s", cases[c].what, err.rule);
        assert_int_equal(ledger_height(peer.L), 0);
    }
    /* a forged signature inside an otherwise correct block */
    assert_int_equal(ledger_header_encode(&h, hb, sizeof hb, &hl), 0);
    uint8_t *forged = malloc(len);
    memcpy(forged, tx, len);
    forged[50] ^= 1;
    txs[0] = forged;
    assert_int_equal(ledger_apply_block(peer.L, hb, hl, txs, &len, 1, NULL, NULL, 0, &err), -1);
    assert_string_equal(err.rule, "block_invalid");
    assert_int_equal(ledger_height(peer.L), 0);
    /* the real block goes through */
    txs[0] = tx;
    assert_int_equal(ledger_apply_block(peer.L, hb, hl, txs, &len, 1, NULL, NULL, 0, &err), 0);
    assert_int_equal(ledger_height(peer.L), 1);
    free(forged);
    free(tx);
    lt_teardown(&e);
    lt_teardown(&peer);
}


/* A certificate of `height` for `hash` signed by the test chain's one
 * validator (market) in `round`. */
static void sign_cert(lt_env *e, uint64_t height, uint32_t round, const uint8_t hash[32],
                      ledger_commit *c)
{
    memset(c, 0, sizeof *c);
    c->height = height;
    c->round = round;
    memcpy(c->block_hash, hash, 32);
    uint8_t msg[32];
    ledger_vote_sighash(e->g->chain_id, LEDGER_VOTE_PRECOMMIT, height, round, hash, msg);
    assert_int_equal(ledger_sign(&e->node[LT_MARKET], msg, NULL, c->sigs[0].sig), 0);
    c->sigs[0].validator = 0;
    c->n_sigs = 1;
}

/* Execute one application in e at e->now + 1 s with the given proposer and
 * last_commit_hash; the header bytes and the envelope come back. */
static void build(lt_env *e, const uint8_t proposer[32], const uint8_t last_hash[32],
                  uint32_t uscc, uint8_t *hb, size_t *hl, uint8_t **tx, size_t *len,
                  uint8_t hash[32])
{
    ledger_err err;
    char u[19];
    lt_uscc(uscc, u);
    *tx = lt_apply(e, u, "convenience-store", 0, len);
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = e->now + LT_SEC;
    memcpy(ctx.proposer, proposer, 32);
    if (last_hash)
        memcpy(ctx.last_commit_hash, last_hash, 32);
    ledger_exec *x;
    ledger_header h;
    assert_int_equal(ledger_exec_begin(e->L, &ctx, &x, &err), 0);
    assert_int_equal(ledger_exec_tx(x, *tx, *len, LEDGER_SIG_CHECK, NULL, &err), 0);
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    ledger_exec_free(x); /* not committed: e stays where it was */
    assert_int_equal(ledger_header_encode(&h, hb, LEDGER_MAX_HEADER_BYTES, hl), 0);
    ledger_header_hash(&h, hash);
}

/* Issue 9, item 6: a received block names a validator as its proposer, and
 * its last_commit_hash names a valid certificate of the block before it,
 * carried with it (each node holds its own certificate of a block, so the
 * one the next header names travels with the block and replaces the one the
 * node held). */
static void test_received_blocks_name_their_proposer_and_previous_certificate(void **state)
{
    (void)state;
    lt_env e;
    lt_setup(&e, NULL);
    ledger_err err;
    uint8_t hb[LEDGER_MAX_HEADER_BYTES], h1[32], h2[32], *tx;
    size_t hl, len;
    static const uint8_t zero[32];
    const uint8_t *market = e.node[LT_MARKET].pub;

    /* block 1: a proposer that is no validator, or a certificate before the first block */
    build(&e, e.outsider.pub, NULL, 1, hb, &hl, &tx, &len, h1);
    assert_int_equal(ledger_apply_block(e.L, hb, hl, (const uint8_t *const *)&tx, &len, 1,
                                        NULL, NULL, 0, &err), -1);
    assert_string_equal(err.rule, "block_invalid");
    assert_non_null(strstr(err.msg, "proposer"));
    free(tx);
    uint8_t some[32];
    memset(some, 7, 32);
    build(&e, market, some, 1, hb, &hl, &tx, &len, h1);
    assert_int_equal(ledger_apply_block(e.L, hb, hl, (const uint8_t *const *)&tx, &len, 1,
                                        NULL, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "first block"));
    free(tx);
    build(&e, market, zero, 1, hb, &hl, &tx, &len, h1);
    ledger_commit c1, c1b, bad;
    sign_cert(&e, 1, 0, h1, &c1);
    assert_int_equal(ledger_apply_block(e.L, hb, hl, (const uint8_t *const *)&tx, &len, 1, NULL,
                                        &c1, 0, &err), 0);
    free(tx);
    e.now += LT_SEC;

    /* block 2 names another valid certificate of block 1 (signed in round 1) */
    sign_cert(&e, 1, 1, h1, &c1b);
    uint8_t c1b_hash[32], c1_hash[32];
    ledger_commit_hash(&c1b, c1b_hash);
    ledger_commit_hash(&c1, c1_hash);
    build(&e, market, c1b_hash, 2, hb, &hl, &tx, &len, h2);
    const uint8_t *const *txs = (const uint8_t *const *)&tx;
    /* nothing carried: this node holds c1, not the one the header names */
    assert_int_equal(ledger_apply_block(e.L, hb, hl, txs, &len, 1, NULL, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "last_commit_hash"));
    /* the wrong certificate carried */
    assert_int_equal(ledger_apply_block(e.L, hb, hl, txs, &len, 1, &c1, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "last_commit_hash"));
    /* a carried certificate that does not verify (its hash is what the header names) */
    bad = c1b;
    bad.sigs[0].sig[3] ^= 1;
    uint8_t bad_hash[32], hb2[LEDGER_MAX_HEADER_BYTES], hbad[32], *tx2;
    size_t hl2, len2;
    ledger_commit_hash(&bad, bad_hash);
    build(&e, market, bad_hash, 3, hb2, &hl2, &tx2, &len2, hbad);
    assert_int_equal(ledger_apply_block(e.L, hb2, hl2, (const uint8_t *const *)&tx2, &len2, 1,
                                        &bad, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "does not verify"));
    free(tx2);
    /* the right one: accepted, and it replaces the certificate held for block 1 */
    assert_int_equal(ledger_apply_block(e.L, hb, hl, txs, &len, 1, &c1b, NULL, 0, &err), 0);
    ledger_commit held;
    uint8_t held_hash[32];
    assert_int_equal(ledger_get_commit(e.L, 1, &held, &err), 1);
    ledger_commit_hash(&held, held_hash);
    assert_memory_equal(held_hash, c1b_hash, 32);
    assert_int_equal(ledger_height(e.L), 2);
    assert_int_equal(ledger_check_integrity(e.L, &err), 0);
    free(tx);
    lt_teardown(&e);
}

static void small_blocks(json_t *root)
{
    json_object_set_new(json_object_get(root, "params"), "max_block_bytes",
                        json_integer(LEDGER_MAX_ENVELOPE));
}

/* Issue 9, item 6: blocks have a byte limit (genesis max_block_bytes): the
 * proposer stops filling a block at it, and a received block over it is
 * refused before anything is executed. */
static void test_blocks_are_bounded_in_bytes(void **state)
{
    (void)state;
    lt_env e;
    lt_setup(&e, small_blocks);
    assert_int_equal(e.g->params.max_block_bytes, LEDGER_MAX_ENVELOPE);
    ledger_err err;
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = e.now + LT_SEC;
    memcpy(ctx.proposer, e.node[LT_MARKET].pub, 32);
    ledger_exec *x;
    assert_int_equal(ledger_exec_begin(e.L, &ctx, &x, &err), 0);
    size_t total = 0, kept = 0;
    uint8_t *txs[200];
    size_t lens[200];
    int full = 0;
    for (uint32_t i = 0; i < 200 && !full; i++) {
        char u[19];
        lt_uscc(i + 1, u);
        txs[i] = lt_apply(&e, u, "convenience-store", 0, &lens[i]);
        if (ledger_exec_tx(x, txs[i], lens[i], LEDGER_SIG_CHECK, NULL, &err) == 0) {
            total += lens[i];
            kept++;
        } else {
            assert_string_equal(err.rule, "block_full");
            full = 1;
        }
    }
    assert_true(full);
    assert_true(total <= LEDGER_MAX_ENVELOPE);
    ledger_header h;
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    ledger_exec_free(x);
    /* one envelope more than fits, as a received block: refused by size */
    uint8_t hb[LEDGER_MAX_HEADER_BYTES];
    size_t hl;
    assert_int_equal(ledger_header_encode(&h, hb, sizeof hb, &hl), 0);
    assert_int_equal(ledger_apply_block(e.L, hb, hl, (const uint8_t *const *)txs, lens, kept + 1,
                                        NULL, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "max_block_bytes"));
    for (size_t i = 0; i <= kept; i++)
        free(txs[i]);
    lt_teardown(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_commit_equals_sequential),
        cmocka_unit_test(test_failed_background_write_returns_to_durable_block),
        cmocka_unit_test(test_refused_lookup_leaves_no_trace_for_peers),
        cmocka_unit_test(test_apply_block_refuses_tampered_blocks),
        cmocka_unit_test(test_received_blocks_name_their_proposer_and_previous_certificate),
        cmocka_unit_test(test_blocks_are_bounded_in_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
