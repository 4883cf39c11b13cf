/* The consensus engine in isolation: n engines exchanging messages
 * instantly and in order, driven by hand.  Faults, delays, crashes and
 * Byzantine validators are the simulator's (tests/sim). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/engine.h"

#define MAXN 7

typedef struct {
    cons_engine *e[MAXN];
    unsigned n;
    int down[MAXN];             /* crashed: receives and sends nothing */
    cons_hash decided[MAXN][32]; /* per node, per height */
    uint32_t decided_round[MAXN][32];
    int n_decided[MAXN];
    /* pending timeouts (the test fires them explicitly) */
    struct {
        int node;
        cons_step step;
        uint64_t height;
        uint32_t round;
    } timeouts[4096];
    int n_timeouts;
    int invalid_from;           /* blocks proposed by this validator are invalid (-1: none) */
} net;

static cons_hash value_of(uint64_t height, uint32_t round, unsigned proposer)
{
    cons_hash h;
    memset(&h, 0, sizeof h);
    h.b[0] = (uint8_t)height;
    h.b[1] = (uint8_t)round;
    h.b[2] = (uint8_t)(proposer + 1);
    return h;
}

/* Carry out node i's actions; returns how many there were. */
static int handle(net *w, unsigned i)
{
    cons_action a;
    int n = 0;
    while (cons_next_action(w->e[i], &a)) {
        n++;
        switch (a.kind) {
        case CONS_ACT_BROADCAST:
            memset(a.msg.sig, (int)i, 64);
            cons_on_msg(w->e[i], &a.msg); /* signed: our own copy counts now */
            for (unsigned k = 0; k < w->n; k++)
                if (k != i && !w->down[k] && !w->down[i])
                    cons_on_msg(w->e[k], &a.msg);
            break;
        case CONS_ACT_GET_VALUE: {
            cons_hash v = value_of(a.height, a.round, i);
            cons_on_value(w->e[i], a.height, a.round, &v);
            break;
        }
        case CONS_ACT_VALIDATE:
            cons_on_validated(w->e[i], a.height, &a.value, a.value.b[2] != w->invalid_from + 1);
            break;
        case CONS_ACT_TIMEOUT:
            w->timeouts[w->n_timeouts].node = (int)i;
            w->timeouts[w->n_timeouts].step = a.step;
            w->timeouts[w->n_timeouts].height = a.height;
            w->timeouts[w->n_timeouts].round = a.round;
            w->n_timeouts++;
            break;
        case CONS_ACT_COMMIT: {
            if (w->n_decided[i] == 32)
                return n; /* enough heights: stop this node here */
            int h = w->n_decided[i]++;
            w->decided[i][h] = a.value;
            w->decided_round[i][h] = a.round;
            assert_int_equal(a.height, (uint64_t)h + 1);
            assert_true(a.n_sigs >= 2 * w->n / 3 + 1);
            break;
        }
        }
    }
    return n;
}

/* Until no engine has anything left to do (bounded: heights keep coming). */
static void deliver_all(net *w)
{
    for (int pass = 0; pass < 200; pass++) {
        int any = 0;
        for (unsigned i = 0; i < w->n; i++)
            any += handle(w, i);
        if (!any)
            return;
    }
}

static void fire_timeouts(net *w)
{
    int n = w->n_timeouts;
    w->n_timeouts = 0;
    for (int t = 0; t < n; t++) {
        int i = w->timeouts[t].node;
        if (!w->down[i])
            cons_on_timeout(w->e[i], w->timeouts[t].step, w->timeouts[t].height,
                            w->timeouts[t].round);
        deliver_all(w);
    }
}

static void net_init(net *w, unsigned n)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    w->invalid_from = -1;
    for (unsigned i = 0; i < n; i++) {
        cons_config c = {.n = n, .self = (int)i, .propose_ms = 1000, .propose_delta_ms = 500,
                         .prevote_ms = 500, .prevote_delta_ms = 250, .precommit_ms = 500,
                         .precommit_delta_ms = 250};
        w->e[i] = cons_new(&c);
        assert_non_null(w->e[i]);
    }
}

static void net_start(net *w)
{
    for (unsigned i = 0; i < w->n; i++)
        if (!w->down[i])
            cons_start(w->e[i], 1, 0);
    deliver_all(w);
}

static void net_free(net *w)
{
    for (unsigned i = 0; i < w->n; i++)
        cons_free(w->e[i]);
}

static void test_all_correct_decide_the_proposers_block(void **state)
{
    (void)state;
    net w;
    net_init(&w, 4);
    net_start(&w);
    /* with instant delivery every height decides in round 0, without timeouts */
    for (unsigned i = 0; i < 4; i++) {
        assert_true(w.n_decided[i] >= 5);
        for (int h = 0; h < 5; h++) {
            cons_hash want = value_of((uint64_t)h + 1, 0, (unsigned)(h + 1) % 4);
            assert_true(cons_hash_eq(&w.decided[i][h], &want));
        }
    }
    net_free(&w);
}

static void test_crashed_proposer_is_skipped_by_timeouts(void **state)
{
    (void)state;
    net w;
    net_init(&w, 4);
    w.down[1] = 1; /* proposer of height 1, round 0 */
    net_start(&w);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(w.n_decided[i], 0);
    for (int k = 0; k < 10 && w.n_decided[0] < 3; k++)
        fire_timeouts(&w);
    assert_true(w.n_decided[0] >= 3);
    for (unsigned i = 2; i < 4; i++)
        for (int h = 0; h < 3; h++)
            assert_true(cons_hash_eq(&w.decided[i][h], &w.decided[0][h]));
    assert_true(w.decided_round[0][0] >= 1); /* height 1 needed a second round */
    net_free(&w);
}

static void test_invalid_block_is_not_decided(void **state)
{
    (void)state;
    net w;
    net_init(&w, 4);
    w.invalid_from = 1; /* the proposer of height 1 round 0 makes bad blocks */
    net_start(&w);
    for (int k = 0; k < 10 && w.n_decided[0] < 2; k++)
        fire_timeouts(&w);
    assert_true(w.n_decided[0] >= 1);
    for (unsigned i = 0; i < 4; i++)
        for (int h = 0; h < w.n_decided[i]; h++)
            assert_int_not_equal(w.decided[i][h].b[2], 2); /* never validator 1's block */
    net_free(&w);
}

static void test_no_progress_without_quorum(void **state)
{
    (void)state;
    net w;
    net_init(&w, 4);
    w.down[2] = w.down[3] = 1;
    net_start(&w);
    for (int k = 0; k < 8; k++)
        fire_timeouts(&w);
    assert_int_equal(w.n_decided[0], 0);
    assert_int_equal(w.n_decided[1], 0);
    net_free(&w);
}

static void test_equivocating_votes_are_counted_once(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    cons_start(e, 1, 0);
    cons_action a;
    while (cons_next_action(e, &a))
        ;
    cons_msg m = {.type = CONS_PREVOTE, .height = 1, .round = 0, .validator = 3};
    m.value.b[0] = 1;
    cons_on_msg(e, &m);
    m.value.b[0] = 2;
    cons_on_msg(e, &m);
    assert_int_equal(cons_equivocations(e), 1);
    /* messages for other heights and absurd rounds are ignored */
    m.height = 9;
    cons_on_msg(e, &m);
    m.height = 1;
    m.round = 1000000;
    cons_on_msg(e, &m);
    assert_int_equal(cons_round(e), 0);
    cons_free(e);
}

/* Run the engine's actions: sign (fake) and hand back our own messages,
 * call every block valid; return our last broadcast of `type` (or 0). */
static int run_actions(cons_engine *e, cons_type type, cons_msg *last)
{
    cons_action a;
    int found = 0;
    while (cons_next_action(e, &a)) {
        if (a.kind == CONS_ACT_BROADCAST) {
            cons_on_msg(e, &a.msg);
            if (a.msg.type == type) {
                *last = a.msg;
                found = 1;
            }
        } else if (a.kind == CONS_ACT_VALIDATE) {
            cons_on_validated(e, a.height, &a.value, 1);
        }
    }
    return found;
}

/* Found by tests/sim (n = 4, one equivocating validator): a correct
 * validator locked on A with a proof that holds the Byzantine validator's
 * prevote for A, while the others got its prevote for nil first.  The engine
 * kept only the first vote per validator, so the relayed proof never counted
 * and two correct validators stayed locked on different blocks forever.  The
 * rules count messages per value: the second vote must count for A. */
static void test_relayed_proof_of_lock_counts_an_equivocators_other_vote(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    cons_msg mine;
    cons_hash A, nil;
    memset(&A, 0, sizeof A);
    memset(&nil, 0, sizeof nil);
    A.b[0] = 0xAA;
    cons_start(e, 1, 0);
    run_actions(e, CONS_PREVOTE, &mine);
    /* round 0: validator 1 proposes A; we prevote A, so does 1; 2 and the
     * Byzantine 3 prevote nil (to us: 3 prevoted A to validator 1) */
    cons_msg m = {.type = CONS_PROPOSAL, .height = 1, .round = 0, .validator = 1,
                  .pol_round = CONS_NIL_ROUND, .value = A};
    cons_on_msg(e, &m);
    assert_true(run_actions(e, CONS_PREVOTE, &mine));
    assert_true(cons_hash_eq(&mine.value, &A));
    cons_msg v = {.type = CONS_PREVOTE, .height = 1, .round = 0, .pol_round = CONS_NIL_ROUND};
    v.validator = 1, v.value = A;
    cons_on_msg(e, &v);
    v.validator = 2, v.value = nil;
    cons_on_msg(e, &v);
    v.validator = 3, v.value = nil;
    cons_on_msg(e, &v);
    run_actions(e, CONS_PREVOTE, &mine);
    /* round 4: validator 1, locked on A, proposes it again with its proof
     * of lock from round 0; 3 is there too, so we join the round (f + 1) */
    m.round = 4;
    m.pol_round = 0;
    cons_on_msg(e, &m);
    v.round = 4, v.validator = 3, v.value = nil;
    cons_on_msg(e, &v);
    assert_false(run_actions(e, CONS_PREVOTE, &mine)); /* 2 of 3 prevotes for A in round 0 */
    assert_int_equal(cons_round(e), 4);
    /* validator 1 relays the proof: 3's prevote for A in round 0 */
    v.round = 0, v.validator = 3, v.value = A;
    cons_on_msg(e, &v);
    assert_int_equal(cons_equivocations(e), 1);
    assert_true(run_actions(e, CONS_PREVOTE, &mine));
    assert_int_equal(mine.round, 4);
    assert_true(cons_hash_eq(&mine.value, &A)); /* line 28: the proof counts */
    /* a second vote for a value nobody else backs is not kept */
    v.validator = 2;
    memset(&v.value, 0x77, sizeof v.value);
    cons_on_msg(e, &v);
    assert_false(run_actions(e, CONS_PREVOTE, &mine));
    cons_free(e);
}

/* Found by tests/sim (n = 4, a Byzantine validator that serves no blocks):
 * the two correct validators locked on A both crashed and restarted with
 * their locks restored, but not A as their valid value, so as proposers they
 * offered fresh blocks they then prevoted nil themselves, and nobody ever
 * proposed A again.  The restored lock is the valid value as well. */
static void test_restored_lock_is_proposed_again(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    cons_hash A;
    memset(&A, 0, sizeof A);
    A.b[0] = 0xAA;
    cons_start(e, 1, 2); /* back after a crash, in round 2 (proposer 3) */
    cons_restore_lock(e, 0, &A);
    cons_action a;
    while (cons_next_action(e, &a))
        assert_int_not_equal(a.kind, CONS_ACT_BROADCAST);
    /* two validators in round 3, where we propose: we join them (line 55) */
    cons_msg v = {.type = CONS_PREVOTE, .height = 1, .round = 3, .pol_round = CONS_NIL_ROUND};
    v.validator = 1;
    cons_on_msg(e, &v);
    v.validator = 2;
    cons_on_msg(e, &v);
    assert_int_equal(cons_round(e), 3);
    int proposed = 0;
    while (cons_next_action(e, &a)) {
        assert_int_not_equal(a.kind, CONS_ACT_GET_VALUE); /* not a fresh block */
        if (a.kind == CONS_ACT_BROADCAST && a.msg.type == CONS_PROPOSAL) {
            assert_true(cons_hash_eq(&a.msg.value, &A));
            assert_int_equal(a.msg.pol_round, 0); /* with its proof of lock */
            proposed = 1;
        }
    }
    assert_true(proposed);
    cons_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_correct_decide_the_proposers_block),
        cmocka_unit_test(test_crashed_proposer_is_skipped_by_timeouts),
        cmocka_unit_test(test_invalid_block_is_not_decided),
        cmocka_unit_test(test_no_progress_without_quorum),
        cmocka_unit_test(test_equivocating_votes_are_counted_once),
        cmocka_unit_test(test_relayed_proof_of_lock_counts_an_equivocators_other_vote),
        cmocka_unit_test(test_restored_lock_is_proposed_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
