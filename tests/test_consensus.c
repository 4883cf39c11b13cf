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

/* Review of issue 9: "invalid" can be transient (the block's time was
 * ahead of this node's clock, the executor failed).  A verdict kept for the
 * whole height let one early proposal of a block keep every later round from
 * voting for it: the height stalled.  A later round asks again. */
static void test_an_invalid_verdict_is_asked_again_in_a_later_round(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    cons_action a;
    cons_hash A;
    memset(&A, 0, sizeof A);
    A.b[0] = 0xA1;
    cons_start(e, 1, 0);
    while (cons_next_action(e, &a))
        if (a.kind == CONS_ACT_BROADCAST)
            cons_on_msg(e, &a.msg);
    cons_msg m = {.type = CONS_PROPOSAL, .height = 1, .round = 0, .validator = 1,
                  .pol_round = CONS_NIL_ROUND, .value = A};
    cons_on_msg(e, &m);
    int asked = 0, voted_a = 0;
    while (cons_next_action(e, &a)) {
        if (a.kind == CONS_ACT_VALIDATE) {
            asked++;
            cons_on_validated(e, a.height, &a.value, 0); /* too early, say */
        } else if (a.kind == CONS_ACT_BROADCAST) {
            cons_on_msg(e, &a.msg);
            if (a.msg.type == CONS_PREVOTE && cons_hash_eq(&a.msg.value, &A))
                voted_a = 1;
        }
    }
    assert_int_equal(asked, 1);
    assert_false(voted_a);
    /* round 1 (f + 1 validators are there): validator 2 proposes A again,
     * and the block is fine by now */
    for (unsigned v = 2; v < 4; v++) {
        cons_msg pv = {.type = CONS_PREVOTE, .height = 1, .round = 1, .validator = v,
                       .pol_round = CONS_NIL_ROUND};
        cons_on_msg(e, &pv);
    }
    while (cons_next_action(e, &a))
        if (a.kind == CONS_ACT_BROADCAST)
            cons_on_msg(e, &a.msg);
    assert_int_equal(cons_round(e), 1);
    m.round = 1;
    m.validator = 2;
    cons_on_msg(e, &m);
    asked = 0;
    while (cons_next_action(e, &a)) {
        if (a.kind == CONS_ACT_VALIDATE) {
            asked++;
            cons_on_validated(e, a.height, &a.value, 1);
        } else if (a.kind == CONS_ACT_BROADCAST) {
            cons_on_msg(e, &a.msg);
            if (a.msg.type == CONS_PREVOTE && a.msg.round == 1 &&
                cons_hash_eq(&a.msg.value, &A))
                voted_a = 1;
        }
    }
    assert_int_equal(asked, 1);
    assert_true(voted_a);
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


/* DESIGN §5 issue 9, item 4: a proposer whose proposal never goes out (no
 * block made, the signer refused) must time its own round out like everyone
 * else, or the height waits for it forever. */
static void test_a_proposer_whose_proposal_does_not_go_out_times_out(void **state)
{
    (void)state;
    for (int wait = 0; wait <= 1; wait++) {
        cons_config c = {.n = 4, .self = 1, .propose_ms = 1000, .prevote_ms = 500,
                         .precommit_ms = 500, .wait_for_value = wait,
                         .own_propose_extra_ms = 200};
        cons_engine *e = cons_new(&c);
        assert_int_equal(cons_start(e, 1, 0), 0); /* validator 1 proposes (1 + 0) % 4 */
        if (wait)
            cons_activate(e); /* transactions wait */
        cons_action a;
        int asked = 0, timeout = 0;
        while (cons_next_action(e, &a)) {
            asked += a.kind == CONS_ACT_GET_VALUE;
            if (a.kind == CONS_ACT_TIMEOUT && a.step == CONS_STEP_PROPOSE) {
                timeout = 1;
                assert_int_equal(a.delay_ms, 1200); /* the block interval on top */
            }
        }
        assert_int_equal(asked, 1);
        assert_true(timeout);
        /* the block never comes: the timeout makes it prevote nil */
        cons_on_timeout(e, CONS_STEP_PROPOSE, 1, 0);
        int nil_prevote = 0;
        while (cons_next_action(e, &a))
            if (a.kind == CONS_ACT_BROADCAST && a.msg.type == CONS_PREVOTE &&
                cons_hash_is_nil(&a.msg.value))
                nil_prevote = 1;
        assert_true(nil_prevote);
        cons_free(e);
    }
}

/* Review of issue 9: with every round slot taken by rounds the height went
 * through, the prevotes of an old round that the current proposal names as
 * its proof of lock found no slot ("a past round only displaces an older
 * one"): the re-proposal could never be accepted. */
static void test_an_old_proof_of_lock_finds_a_slot_when_the_rounds_are_full(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    cons_msg mine;
    cons_start(e, 1, 0);
    run_actions(e, CONS_PREVOTE, &mine);
    const uint32_t R = CONS_MAX_ROUNDS + 72;
    for (uint32_t r = 1; r <= R; r++) /* f + 1 validators in each next round */
        for (unsigned v = 2; v < 4; v++) {
            cons_msg m = {.type = CONS_PREVOTE, .height = 1, .round = r, .validator = v,
                          .pol_round = CONS_NIL_ROUND};
            cons_on_msg(e, &m);
            run_actions(e, CONS_PREVOTE, &mine);
        }
    assert_int_equal(cons_round(e), R);
    cons_hash A;
    memset(&A, 0, sizeof A);
    A.b[0] = 0x5A;
    cons_msg p = {.type = CONS_PROPOSAL, .height = 1, .round = R,
                  .validator = cons_proposer(e, 1, R), .pol_round = 5, .value = A};
    cons_on_msg(e, &p);
    assert_false(run_actions(e, CONS_PREVOTE, &mine)); /* no proof of lock yet */
    for (unsigned v = 1; v < 4; v++) {
        cons_msg pv = {.type = CONS_PREVOTE, .height = 1, .round = 5, .validator = v,
                       .pol_round = CONS_NIL_ROUND, .value = A};
        cons_on_msg(e, &pv);
    }
    assert_true(run_actions(e, CONS_PREVOTE, &mine));
    assert_int_equal(mine.round, R);
    assert_true(cons_hash_eq(&mine.value, &A));
    cons_free(e);
}

static void take_all(cons_engine *e, cons_action *a, int *committed)
{
    while (cons_next_action(e, a)) {
        if (a->kind == CONS_ACT_BROADCAST)
            cons_on_msg(e, &a->msg);
        else if (a->kind == CONS_ACT_VALIDATE)
            cons_on_validated(e, a->height, &a->value, 1);
        else if (a->kind == CONS_ACT_COMMIT && committed)
            *committed = 1;
    }
}

/* Issue 9, item 3: a Byzantine validator that signs junk for every round
 * the engine lets it (proposals and votes up to CONS_FUTURE_ROUNDS ahead,
 * at every round for hundreds of rounds) must not use up the rounds a height
 * can hold: the height is still decided when the honest validators agree. */
static void test_junk_in_every_round_of_the_window_does_not_halt_the_height(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    static cons_action a;
    assert_int_equal(cons_start(e, 1, 0), 0);
    take_all(e, &a, NULL);
    cons_hash junk;
    memset(&junk, 0x5a, sizeof junk);
    for (uint32_t r = 0; r < 3 * CONS_MAX_ROUNDS; r++) {
        for (uint32_t k = r; k < r + CONS_FUTURE_ROUNDS + 8; k++) {
            cons_msg m = {.type = CONS_PREVOTE, .height = 1, .round = k, .validator = 3,
                          .pol_round = CONS_NIL_ROUND, .value = junk};
            cons_on_msg(e, &m);
            m.type = CONS_PRECOMMIT;
            cons_on_msg(e, &m);
            if ((1 + k) % 4 == 3) { /* the rounds validator 3 leads */
                m.type = CONS_PROPOSAL;
                junk.b[0] = (uint8_t)k;
                m.value = junk;
                cons_on_msg(e, &m);
            }
        }
        take_all(e, &a, NULL);
        /* validators 1 and 2 move on to the next round: f + 1 join it */
        for (uint32_t v = 1; v <= 2; v++) {
            cons_msg m = {.type = CONS_PREVOTE, .height = 1, .round = r + 1, .validator = v,
                          .pol_round = CONS_NIL_ROUND};
            cons_on_msg(e, &m);
        }
        take_all(e, &a, NULL);
        assert_int_equal(cons_round(e), r + 1);
    }
    /* the round's proposer is honest: validator 1 or 2 proposes X, and the
     * three honest validators decide it */
    uint32_t r = cons_round(e);
    while ((1 + r) % 4 != 1 && (1 + r) % 4 != 2) {
        for (uint32_t v = 1; v <= 2; v++) {
            cons_msg m = {.type = CONS_PREVOTE, .height = 1, .round = r + 1, .validator = v,
                          .pol_round = CONS_NIL_ROUND};
            cons_on_msg(e, &m);
        }
        take_all(e, &a, NULL);
        r = cons_round(e);
    }
    cons_hash X;
    memset(&X, 0xcc, sizeof X);
    cons_msg m = {.type = CONS_PROPOSAL, .height = 1, .round = r, .validator = (1 + r) % 4,
                  .pol_round = CONS_NIL_ROUND, .value = X};
    cons_on_msg(e, &m);
    int committed = 0;
    take_all(e, &a, &committed);
    for (uint32_t v = 1; v <= 2; v++) {
        cons_msg p = {.type = CONS_PREVOTE, .height = 1, .round = r, .validator = v,
                      .pol_round = CONS_NIL_ROUND, .value = X};
        cons_on_msg(e, &p);
        take_all(e, &a, &committed);
        p.type = CONS_PRECOMMIT;
        cons_on_msg(e, &p);
        take_all(e, &a, &committed);
    }
    assert_true(committed);
    assert_int_equal(cons_height(e), 2);
    assert_false(cons_failed(e));
    cons_free(e);
}

/* Issue 9, item 1: the lock of a height survives everything but a decision.
 * An engine starts once; it moves only forward, to a height above its own. */
static void test_the_engine_never_forgets_a_height_it_may_have_signed_at(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    static cons_action a;
    assert_int_equal(cons_start(e, 1, 0), 0);
    take_all(e, &a, NULL);
    cons_hash X;
    memset(&X, 0x11, sizeof X);
    cons_msg m = {.type = CONS_PROPOSAL, .height = 1, .round = 0, .validator = 1,
                  .pol_round = CONS_NIL_ROUND, .value = X};
    cons_on_msg(e, &m);
    take_all(e, &a, NULL);
    for (uint32_t v = 1; v <= 2; v++) {
        cons_msg p = {.type = CONS_PREVOTE, .height = 1, .round = 0, .validator = v,
                      .pol_round = CONS_NIL_ROUND, .value = X};
        cons_on_msg(e, &p);
    }
    take_all(e, &a, NULL);
    cons_hash lock;
    assert_int_equal(cons_locked_round(e, &lock), 0);
    assert_true(cons_hash_eq(&lock, &X));
    assert_int_equal(cons_start(e, 1, 0), -1); /* no second start */
    assert_int_equal(cons_advance(e, 1), -1); /* nor a reset of this height */
    assert_int_equal(cons_advance(e, 0), -1);
    assert_int_equal(cons_locked_round(e, &lock), 0);
    assert_int_equal(cons_advance(e, 5), 0); /* heights 1..4 decided elsewhere */
    assert_int_equal(cons_height(e), 5);
    assert_int_equal(cons_locked_round(e, NULL), CONS_NIL_ROUND);
    cons_free(e);
}

/* A vote for a block carries the prevotes it rests on, for the signer to
 * check (node/signstate.h). */
static void test_votes_for_a_block_carry_their_proof_of_lock(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    static cons_action a;
    assert_int_equal(cons_start(e, 1, 0), 0);
    take_all(e, &a, NULL);
    cons_hash X;
    memset(&X, 0x22, sizeof X);
    cons_msg m = {.type = CONS_PROPOSAL, .height = 1, .round = 0, .validator = 1,
                  .pol_round = CONS_NIL_ROUND, .value = X};
    cons_on_msg(e, &m);
    int precommits = 0;
    for (uint32_t v = 1; v <= 3; v++) {
        cons_msg p = {.type = CONS_PREVOTE, .height = 1, .round = 0, .validator = v,
                      .pol_round = CONS_NIL_ROUND, .value = X};
        memset(p.sig, (int)v, 64);
        cons_on_msg(e, &p);
        while (cons_next_action(e, &a)) {
            if (a.kind == CONS_ACT_VALIDATE)
                cons_on_validated(e, a.height, &a.value, 1);
            if (a.kind != CONS_ACT_BROADCAST)
                continue;
            if (a.msg.type == CONS_PRECOMMIT) {
                precommits++;
                assert_true(cons_hash_eq(&a.msg.value, &X));
                assert_int_equal(a.ev_round, 0);
                assert_true(a.n_sigs >= 3);
            } else {
                assert_int_equal(a.n_sigs, 0); /* a prevote on the lock needs nothing */
            }
            cons_on_msg(e, &a.msg);
        }
    }
    assert_int_equal(precommits, 1);
    cons_free(e);
}

/* Issue 10, item 4: the engine never drops an action silently.  A host
 * that stops taking them finds the engine failed, and stops. */
static void test_an_engine_whose_actions_are_not_taken_fails_loudly(void **state)
{
    (void)state;
    cons_config c = {.n = 4, .self = 0, .propose_ms = 1000, .prevote_ms = 500,
                     .precommit_ms = 500};
    cons_engine *e = cons_new(&c);
    assert_int_equal(cons_start(e, 1, 0), 0);
    for (int i = 0; i < CONS_MAX_ACTIONS + 8; i++)
        cons_on_timeout(e, CONS_STEP_PRECOMMIT, 1, cons_round(e)); /* a new round each */
    assert_true(cons_failed(e));
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
        cmocka_unit_test(test_a_proposer_whose_proposal_does_not_go_out_times_out),
        cmocka_unit_test(test_junk_in_every_round_of_the_window_does_not_halt_the_height),
        cmocka_unit_test(test_the_engine_never_forgets_a_height_it_may_have_signed_at),
        cmocka_unit_test(test_votes_for_a_block_carry_their_proof_of_lock),
        cmocka_unit_test(test_an_engine_whose_actions_are_not_taken_fails_loudly),
        cmocka_unit_test(test_an_invalid_verdict_is_asked_again_in_a_later_round),
        cmocka_unit_test(test_an_old_proof_of_lock_finds_a_slot_when_the_rounds_are_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
