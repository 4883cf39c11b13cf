/* The sign state of a validator (node/signstate.h): what may be signed after
 * what, the durable file, and refusing to start on a corrupt one. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/block.h"
#include "ledger/hex.h"
#include "node/signstate.h"
#include "nodetest.h"

static const uint8_t A[32] = {1}, B[32] = {2}, NIL[32] = {0};
static lt_env g_env;

/* A genesis with four validators (the first four departments), for proofs
 * of lock signed by real node keys. */
static void four_validators(json_t *root)
{
    json_t *depts = json_object_get(root, "departments");
    for (unsigned i = 0; i < json_array_size(depts); i++)
        json_object_del(json_array_get(depts, i), "validator");
    for (unsigned i = 0; i < 4; i++) {
        char key[65], addr[32];
        /* lt_setup derives node keys before it builds genesis */
        ledger_hex_encode(g_env.node[i].pub, 32, key);
        snprintf(addr, sizeof addr, "127.0.0.1:%u", 30000 + i);
        json_object_set_new(json_array_get(depts, i), "validator",
                            json_pack("{s:s, s:s}", "node_key", key, "p2p", addr));
    }
}

static int env_setup(void **state)
{
    (void)state;
    lt_setup(&g_env, four_validators);
    assert_int_equal(g_env.g->n_validators, 4);
    return 0;
}

static int env_teardown(void **state)
{
    (void)state;
    lt_teardown(&g_env);
    return 0;
}

/* Prevotes of validators `who` (a bit mask) for hash at (height, round). */
typedef struct {
    uint32_t v[4];
    uint8_t sig[4][64];
    node_sign_evidence ev;
} pol;

static const node_sign_evidence *make_pol(pol *p, unsigned who, uint64_t height, int32_t round,
                                          const uint8_t hash[32])
{
    memset(p, 0, sizeof *p);
    uint8_t msg[32];
    ledger_vote_sighash(g_env.g->chain_id, LEDGER_VOTE_PREVOTE, height, (uint32_t)round, hash,
                        msg);
    for (uint32_t i = 0; i < 4; i++)
        if ((who >> i) & 1u) {
            assert_int_equal(ledger_sign(&g_env.node[i], msg, NULL, p->sig[p->ev.n]), 0);
            p->v[p->ev.n++] = i;
        }
    p->ev.round = round;
    p->ev.validators = p->v;
    p->ev.sigs = (const uint8_t(*)[64])p->sig;
    return &p->ev;
}

static int allowed(const node_sign_state *s, uint64_t h, uint32_t r, int step,
                   const uint8_t *hash, const node_sign_evidence *ev)
{
    return node_sign_refusal(s, g_env.g, h, r, step, hash, ev, NULL, NULL) == NULL;
}

static void test_what_may_be_signed_after_what(void **state)
{
    (void)state;
    node_sign_state s;
    pol p;
    memset(&s, 0, sizeof s);
    assert_true(allowed(&s, 1, 0, SIGN_STEP_PROPOSAL, A, NULL)); /* nothing signed yet */
    node_sign_state_next(&s, 5, 2, SIGN_STEP_PREVOTE, A, &s);
    /* the same message again is harmless (a re-broadcast) */
    assert_true(allowed(&s, 5, 2, SIGN_STEP_PREVOTE, A, NULL));
    /* another block at the same height, round and step: equivocation */
    assert_false(allowed(&s, 5, 2, SIGN_STEP_PREVOTE, B, NULL));
    assert_false(allowed(&s, 5, 2, SIGN_STEP_PREVOTE, NIL, NULL));
    /* going back: an earlier step, round or height */
    assert_false(allowed(&s, 5, 2, SIGN_STEP_PROPOSAL, A, NULL));
    assert_false(allowed(&s, 5, 1, SIGN_STEP_PRECOMMIT, NIL, NULL));
    assert_false(allowed(&s, 4, 9, SIGN_STEP_PRECOMMIT, NIL, NULL));
    /* going on */
    assert_true(allowed(&s, 5, 2, SIGN_STEP_PRECOMMIT, B, make_pol(&p, 0x7, 5, 2, B)));
    assert_true(allowed(&s, 5, 3, SIGN_STEP_PROPOSAL, B, NULL));
    assert_true(allowed(&s, 6, 0, SIGN_STEP_PROPOSAL, B, NULL));
}

/* Tendermint's line 36: a precommit for a block rests on 2f+1 prevotes for
 * it in that round, and the signer checks them itself. */
static void test_a_precommit_for_a_block_needs_its_proof_of_lock(void **state)
{
    (void)state;
    node_sign_state s;
    pol p;
    memset(&s, 0, sizeof s);
    node_sign_state_next(&s, 3, 1, SIGN_STEP_PREVOTE, A, &s);
    assert_false(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, A, NULL));
    assert_false(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, A, make_pol(&p, 0x3, 3, 1, A)));
    /* prevotes of another round, another block or another height */
    assert_false(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, A, make_pol(&p, 0x7, 3, 0, A)));
    assert_false(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, A, make_pol(&p, 0x7, 3, 1, B)));
    make_pol(&p, 0x7, 4, 1, A);
    p.ev.round = 1;
    assert_false(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, A, &p.ev));
    /* one validator counted twice, or a forged signature */
    make_pol(&p, 0x3, 3, 1, A);
    p.v[2] = p.v[1];
    memcpy(p.sig[2], p.sig[1], 64);
    p.ev.n = 3;
    assert_false(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, A, &p.ev));
    make_pol(&p, 0x7, 3, 1, A);
    p.sig[0][10] ^= 1;
    assert_false(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, A, &p.ev));
    assert_true(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, A, make_pol(&p, 0xe, 3, 1, A)));
    assert_true(allowed(&s, 3, 1, SIGN_STEP_PRECOMMIT, NIL, NULL)); /* nil needs nothing */
}

/* Tendermint's lock, kept by the signer: once it precommitted A in round 1,
 * it prevotes another block only with a proof of lock for that block from
 * round 1 or later (line 28) -- the attack of the consensus safety issue made
 * an honest node forget its lock and vote for B. */
static void test_a_locked_signer_prevotes_another_block_only_with_a_newer_proof(void **state)
{
    (void)state;
    node_sign_state s;
    pol p;
    memset(&s, 0, sizeof s);
    node_sign_state_next(&s, 1, 1, SIGN_STEP_PRECOMMIT, A, &s);
    assert_true(allowed(&s, 1, 3, SIGN_STEP_PREVOTE, A, NULL));   /* its lock */
    assert_true(allowed(&s, 1, 3, SIGN_STEP_PREVOTE, NIL, NULL)); /* nil */
    assert_false(allowed(&s, 1, 3, SIGN_STEP_PREVOTE, B, NULL));
    assert_false(allowed(&s, 1, 3, SIGN_STEP_PREVOTE, B, make_pol(&p, 0x7, 1, 0, B))); /* older */
    assert_false(allowed(&s, 1, 3, SIGN_STEP_PREVOTE, B, make_pol(&p, 0x7, 1, 3, B))); /* not before */
    assert_false(allowed(&s, 1, 3, SIGN_STEP_PREVOTE, B, make_pol(&p, 0x3, 1, 2, B))); /* f+1 */
    assert_true(allowed(&s, 1, 3, SIGN_STEP_PREVOTE, B, make_pol(&p, 0xb, 1, 2, B)));
    assert_true(allowed(&s, 1, 3, SIGN_STEP_PREVOTE, B, make_pol(&p, 0xb, 1, 1, B)));
    /* and no precommit for B in round 3 without B's prevotes of round 3 */
    node_sign_state_next(&s, 1, 3, SIGN_STEP_PREVOTE, B, &s);
    assert_false(allowed(&s, 1, 3, SIGN_STEP_PRECOMMIT, B, make_pol(&p, 0xb, 1, 2, B)));
    /* the next height starts without a lock */
    assert_true(allowed(&s, 2, 0, SIGN_STEP_PREVOTE, B, NULL));
}

static void test_a_non_nil_precommit_is_the_lock_until_the_next_height(void **state)
{
    (void)state;
    node_sign_state s;
    memset(&s, 0, sizeof s);
    node_sign_state_next(&s, 7, 0, SIGN_STEP_PRECOMMIT, A, &s);
    assert_int_equal(s.lock_round, 0);
    assert_memory_equal(s.lock_hash, A, 32);
    node_sign_state_next(&s, 7, 1, SIGN_STEP_PREVOTE, NIL, &s);
    node_sign_state_next(&s, 7, 1, SIGN_STEP_PRECOMMIT, NIL, &s);
    assert_int_equal(s.lock_round, 0); /* nil votes keep the lock */
    node_sign_state_next(&s, 7, 2, SIGN_STEP_PRECOMMIT, B, &s);
    assert_int_equal(s.lock_round, 2);
    assert_memory_equal(s.lock_hash, B, 32);
    node_sign_state_next(&s, 8, 0, SIGN_STEP_PREVOTE, NIL, &s);
    assert_int_equal(s.lock_round, -1);
}

static void test_file_round_trip_and_corruption(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("sign");
    char path[512];
    snprintf(path, sizeof path, "%s/sign_state", dir);
    node_sign_state s, back;
    ledger_err err;
    assert_int_equal(node_sign_state_load(path, &back, &err), 0); /* missing: nothing signed */
    assert_false(back.present);
    memset(&s, 0, sizeof s);
    node_sign_state_next(&s, 123456789, 7, SIGN_STEP_PRECOMMIT, A, &s);
    assert_int_equal(node_sign_state_save(path, &s, &err), 0);
    assert_int_equal(node_sign_state_load(path, &back, &err), 0);
    assert_true(back.present);
    assert_int_equal(back.height, 123456789);
    assert_int_equal(back.round, 7);
    assert_int_equal(back.step, SIGN_STEP_PRECOMMIT);
    assert_memory_equal(back.hash, A, 32);
    assert_int_equal(back.lock_round, 7);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* every single flipped byte and every truncation is refused */
    size_t len;
    char *orig = tu_read_file(path, &len);
    for (size_t i = 0; i < len; i++) {
        orig[i] ^= 0x40;
        FILE *f = fopen(path, "wb");
        fwrite(orig, 1, len, f);
        fclose(f);
        orig[i] ^= 0x40;
        if (node_sign_state_load(path, &back, &err) == 0)
            fail_msg("byte %zu flipped, yet the sign state loaded", i);
        assert_non_null(strstr(err.msg, "corrupt"));
    }
    for (size_t cut = 0; cut < len; cut++) {
        FILE *f = fopen(path, "wb");
        fwrite(orig, 1, cut, f);
        fclose(f);
        assert_int_equal(node_sign_state_load(path, &back, &err), -1);
    }
    free(orig);
    tu_rmrf(dir);
    free(dir);
}

static void test_validator_with_corrupt_sign_state_refuses_to_start(void **state)
{
    (void)state;
    nt_cluster c;
    nt_cluster_init(&c, 4, NULL);
    char data[600], path[700], conf[700];
    snprintf(data, sizeof data, "%s/data", c.home[0]);
    assert_int_equal(mkdir(data, 0700), 0);
    snprintf(path, sizeof path, "%s/sign_state", data);
    FILE *f = fopen(path, "wb");
    fputs("PSS2 this is not a sign state", f);
    fclose(f);
    snprintf(conf, sizeof conf, "%s/config/permitd.conf", c.home[0]);
    f = fopen(conf, "w");
    fprintf(f, "rpc_listen = 127.0.0.1:%d\np2p_listen = 127.0.0.1:%d\n", c.rpc_port[0],
            c.p2p_port[0]);
    fclose(f);
    char cmd[2000], log[700];
    snprintf(log, sizeof log, "%s/start.log", c.home[0]);
    snprintf(cmd, sizeof cmd, "%s/permitd --home %s >%s 2>&1", PERMIT_BIN_DIR, c.home[0], log);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    char *out = tu_read_file(log, NULL);
    assert_non_null(strstr(out, "sign_state is corrupt"));
    free(out);
    nt_cluster_cleanup(&c);
}


static void write_sign_state(const nt_cluster *c, unsigned i, const node_sign_state *st)
{
    char data[600], path[700];
    snprintf(data, sizeof data, "%s/data", c->home[i]);
    assert_int_equal(mkdir(data, 0700), 0);
    snprintf(path, sizeof path, "%s/sign_state", data);
    ledger_err err;
    assert_int_equal(node_sign_state_save(path, st, &err), 0);
}

/* Two of four validators restart having signed votes in round 3 of height 1
 * (a prevote, a precommit; nil).  Each resumes in round 3 and says its vote
 * again, so the other two join round 3 (f + 1 of them are there).  Neither
 * may sign anything in rounds 0-2, so no three validators share an earlier
 * round; and round 3 cannot decide a block: validator 0 prevoted nil there
 * and validator 1 may not prevote any more, so no block gets three prevotes.
 * Height 1 is therefore decided in round 4 or later, which the certificate
 * shows: the sign state was kept, and the chain went on. */
static void test_validators_resume_in_the_round_of_their_last_vote(void **state)
{
    (void)state;
    nt_cluster c;
    nt_cluster_init(&c, 4, NULL);
    node_sign_state st;
    memset(&st, 0, sizeof st);
    st.present = 1;
    st.height = 1;
    st.round = 3;
    st.lock_round = -1;
    st.step = SIGN_STEP_PREVOTE;
    write_sign_state(&c, 0, &st);
    st.step = SIGN_STEP_PRECOMMIT;
    write_sign_state(&c, 1, &st);
    for (unsigned i = 0; i < 4; i++)
        nt_cluster_start(&c, i);
    uint64_t until = nt_now_ms() + 30000;
    json_t *res = NULL, *r = NULL;
    for (;;) {
        json_t *p = json_pack("{s:I}", "height", (json_int_t)1);
        r = nt_rpc(c.rpc_port[2], "block.get", p);
        json_decref(p);
        res = json_object_get(r, "result");
        if (res != NULL)
            break;
        json_decref(r);
        if (nt_now_ms() > until)
            fail_msg("height 1 was never decided");
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    json_t *commit = json_object_get(res, "commit");
    json_int_t round = json_integer_value(json_object_get(commit, "round"));
    printf("height 1 decided in round %lld\n", (long long)round);
    assert_true(round >= 4);
    json_decref(r);
    for (unsigned i = 0; i < 2; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/permitd.log", c.home[i]);
        char *log = tu_read_file(path, NULL);
        assert_non_null(log);
        assert_non_null(strstr(log, "resuming height 1 in round 3, saying its"));
        free(log);
    }
    for (unsigned i = 0; i < 4; i++)
        nt_cluster_stop_clean(&c, i);
    nt_cluster_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_what_may_be_signed_after_what, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_a_precommit_for_a_block_needs_its_proof_of_lock,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_locked_signer_prevotes_another_block_only_with_a_newer_proof, env_setup,
            env_teardown),
        cmocka_unit_test(test_a_non_nil_precommit_is_the_lock_until_the_next_height),
        cmocka_unit_test(test_file_round_trip_and_corruption),
        cmocka_unit_test(test_validator_with_corrupt_sign_state_refuses_to_start),
        cmocka_unit_test(test_validators_resume_in_the_round_of_their_last_vote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
