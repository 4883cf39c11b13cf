/* An observer (DESIGN §6, issue 12) beside four validators, each its own
 * permitd, under a steady load of applications and approvals: it follows
 * (the same block hashes as the validators), serves the read RPC, relays a
 * tx.submit that commits, never signs, is not counted as a validators'
 * peer; killed with SIGKILL and restarted it catches up.  The membership in
 * force decides who follows: governance admits an observer and removes it,
 * and the validators' links follow without a restart. */
#include "testutil.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clusterload.h"
#include "ledger/hex.h"
#include "ledger/block.h"
#include "node/core.h"
#include "nodetest.h"
#include "peer.h"
#include "permit.pb-c.h"

#define NV 4          /* validators */
#define OBS NV        /* the observer's node index in the cluster */

static nt_cluster g_c;
static _Atomic int g_validators[NV + 1] = {1, 1, 1, 1, 0}; /* where clients submit */
static _Atomic int g_all[NV + 1] = {1, 1, 1, 1, 1};

/* The fifth department's node key becomes an observer's. */
static void observer_genesis(json_t *root)
{
    json_t *d = json_array_get(json_object_get(root, "departments"), OBS);
    json_t *v = json_object_get(d, "validator");
    assert_non_null(v);
    json_t *key = json_incref(json_object_get(v, "node_key"));
    json_object_del(d, "validator");
    json_object_set_new(root, "observers",
                        json_pack("[{s:s, s:o}]", "name", "政务服务大厅查询节点", "node_key", key));
}

/* The same with a time window of 2 s: what the validators never commit
 * leaves the observer's mempool after 2 x 2 s + 10 s. */
static void observer_short_window(json_t *root)
{
    observer_genesis(root);
    json_object_set_new(json_object_get(root, "params"), "tx_window", json_string("2s"));
}

static json_t *call(unsigned i, const char *method, json_t *params)
{
    json_t *r = nt_rpc(g_c.rpc_port[i], method, params);
    json_decref(params);
    assert_non_null(r);
    return r;
}

static const char *status_str(unsigned i, const char *field, char *buf, size_t cap)
{
    json_t *r = call(i, "status", NULL);
    const char *s = json_string_value(json_object_get(json_object_get(r, "result"), field));
    snprintf(buf, cap, "%s", s ? s : "");
    json_decref(r);
    return buf;
}

/* Wait until the observer is at least at `h` (fails after timeout_ms). */
static uint64_t wait_observer(uint64_t h, long timeout_ms)
{
    uint64_t until = nt_now_ms() + (uint64_t)timeout_ms, oh = 0;
    while ((oh = nt_status_u64(g_c.rpc_port[OBS], "height")) < h) {
        if (nt_now_ms() > until)
            fail_msg("the observer is at height %llu, the validators at %llu",
                     (unsigned long long)oh, (unsigned long long)h);
        nt_sleep_ms(50);
    }
    return oh;
}

/* No signature of a certificate is the observer's: validator indexes only. */
static void check_signers(uint64_t from, uint64_t to)
{
    for (uint64_t h = from; h <= to; h++) {
        json_t *r = call(OBS, "block.get", json_pack("{s:I}", "height", (json_int_t)h));
        json_t *sigs = json_object_get(json_object_get(json_object_get(r, "result"), "commit"),
                                       "signatures");
        assert_true(json_array_size(sigs) >= 3);
        size_t k;
        json_t *s;
        json_array_foreach(sigs, k, s)
        {
            json_int_t v = json_integer_value(json_object_get(s, "validator"));
            assert_true(v >= 0 && v < NV);
        }
        json_decref(r);
    }
}

static void test_observer_follows_serves_relays_and_recovers(void **state)
{
    (void)state;
    nt_cluster_init(&g_c, NV + 1, observer_genesis);
    for (unsigned i = 0; i < NV; i++)
        nt_cluster_start(&g_c, i);
    snprintf(g_c.extra_conf, sizeof g_c.extra_conf, "role = observer\n");
    nt_cluster_start(&g_c, OBS);
    g_c.extra_conf[0] = '\0';

    char buf[64];
    assert_string_equal(status_str(OBS, "role", buf, sizeof buf), "observer");
    assert_string_equal(status_str(0, "role", buf, sizeof buf), "validator");
    json_t *r = call(OBS, "observers.list", NULL);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "result"), "observers")),
                     1);
    json_decref(r);

    cl_load *l = cl_start(&g_c, g_validators, 8, 20000);
    nt_sleep_ms(6000);

    /* a submit to the observer goes to the validators and commits */
    char u[19];
    lt_uscc(987654, u);
    size_t len;
    g_c.env.now = nt_now_ms() - 1000;
    uint8_t *tx = lt_apply(&g_c.env, u, "convenience-store", 0, &len);
    json_t *sub = nt_submit(g_c.rpc_port[OBS], tx, len, "commit");
    free(tx);
    assert_non_null(sub);
    json_t *res = json_object_get(sub, "result");
    if (res == NULL)
        fail_msg("tx.submit on the observer: %s", json_dumps(sub, JSON_COMPACT));
    const char *lic = json_string_value(json_object_get(res, "license_id"));
    assert_non_null(lic);
    uint64_t at = (uint64_t)json_integer_value(json_object_get(res, "height"));
    assert_true(at > 0);
    /* the validators hold it at that height, and the observer serves it */
    for (unsigned i = 0; i <= OBS; i++) {
        /* a validator may still be writing the block the observer applied */
        uint64_t until = nt_now_ms() + 10000;
        while (nt_status_u64(g_c.rpc_port[i], "height") < at && nt_now_ms() < until)
            nt_sleep_ms(20);
        json_t *g = call(i, "license.get", json_pack("{s:s}", "id", lic));
        json_t *gr = json_object_get(g, "result");
        if (gr == NULL)
            fail_msg("node %u: license.get %s: %s", i, lic, json_dumps(g, JSON_COMPACT));
        assert_string_equal(json_string_value(json_object_get(gr, "uscc")), u);
        json_decref(g);
    }
    json_t *sr = call(OBS, "license.search", json_pack("{s:s}", "uscc", u));
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(sr, "result"), "licenses")), 1);
    json_decref(sr);
    json_decref(sub);

    /* it follows under load: the validators are not counting it as a peer */
    assert_int_equal(nt_status_u64(g_c.rpc_port[0], "peers"), NV - 1);
    assert_int_equal(nt_status_u64(g_c.rpc_port[OBS], "peers"), NV);
    char *metrics = NULL;
    assert_int_equal(nt_http(g_c.rpc_port[0], "GET", "/metrics", NULL, 0, &metrics, NULL), 200);
    assert_non_null(strstr(metrics, "\npermit_observers 1\n"));
    free(metrics);
    uint64_t h1 = cl_max_height(&g_c, g_validators);
    wait_observer(h1, 15000);

    /* kill -9 and restart under load: it catches up */
    assert_int_equal(kill(g_c.pid[OBS], SIGKILL), 0);
    waitpid(g_c.pid[OBS], NULL, 0);
    g_c.pid[OBS] = 0;
    atomic_store(&g_all[OBS], 0);
    nt_sleep_ms(3000);
    snprintf(g_c.extra_conf, sizeof g_c.extra_conf, "role = observer\n");
    nt_cluster_start(&g_c, OBS);
    g_c.extra_conf[0] = '\0';
    atomic_store(&g_all[OBS], 1);
    nt_sleep_ms(3000);
    cl_stop(l);
    uint64_t h2 = cl_wait_same_height(&g_c, g_validators, 20000);
    assert_true(h2 > h1);
    wait_observer(h2, 20000); /* heartbeats may add blocks meanwhile: h2 is on every node */
    cl_check_agreement(&g_c, g_all, 1, h2);
    size_t acks = cl_acks(l);
    printf("observer: %zu acknowledged transactions, %llu blocks, the observer agrees on every "
           "one\n",
           acks, (unsigned long long)h2);
    assert_true(acks > 50);
    check_signers(h2 > 20 ? h2 - 20 : 1, h2);
    cl_free(l);
    for (unsigned i = 0; i <= OBS; i++)
        nt_cluster_stop_clean(&g_c, i);
}

/* Run permitd with args (after argv[0]) until it exits; its exit code, its
 * stdout and stderr in *out (log: where they go). */
static int run_permitd_args(const char *log, const char *const *args, char **out)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        dup2(2, 1);
        const char *argv[16] = {"permitd"};
        for (size_t i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        execv(PERMIT_BIN_DIR "/permitd", (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    uint64_t until = nt_now_ms() + 15000;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (nt_now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("permitd did not exit");
        }
        nt_sleep_ms(20);
    }
    *out = tu_read_file(log, NULL);
    assert_non_null(*out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Run permitd on home until it exits (it must refuse to start). */
static int run_permitd(const char *home, char **out)
{
    char log[700];
    snprintf(log, sizeof log, "%s/refused.log", home);
    const char *args[] = {"--home", home, NULL};
    return run_permitd_args(log, args, out);
}

/* An observer's key cannot run as a validator, nor a validator's as an
 * observer. */
static void test_observer_key_must_be_admitted(void **state)
{
    (void)state;
    nt_cluster_init(&g_c, NV + 1, observer_genesis);
    char p[700];
    /* the observer's key with role validator */
    snprintf(p, sizeof p, "%s/config/permitd.conf", g_c.home[OBS]);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "rpc_listen = 127.0.0.1:%d\np2p_listen = 127.0.0.1:%d\n", g_c.rpc_port[OBS],
            g_c.p2p_port[OBS]);
    fclose(f);
    char *out = NULL;
    int rc = run_permitd(g_c.home[OBS], &out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "set role = observer"));
    free(out);
    /* a validator's key with role observer */
    snprintf(p, sizeof p, "%s/config/permitd.conf", g_c.home[0]);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "rpc_listen = 127.0.0.1:%d\nrole = observer\n", g_c.rpc_port[0]);
    fclose(f);
    rc = run_permitd(g_c.home[0], &out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "a validator's node key, not an observer's node key"));
    free(out);
    /* permitd init with the observer's key writes role = observer */
    char home[600], gen[700], key[700], log[700];
    snprintf(home, sizeof home, "%s/initobs", g_c.home[OBS]);
    snprintf(gen, sizeof gen, "%s/config/genesis.json", g_c.home[OBS]);
    snprintf(key, sizeof key, "%s/config/node.key", g_c.home[OBS]);
    snprintf(log, sizeof log, "%s/init.log", g_c.home[OBS]);
    const char *init[] = {"init", "--home", home, "--genesis", gen, "--node-key", key, NULL};
    rc = run_permitd_args(log, init, &out);
    if (rc != 0)
        fail_msg("permitd init: %d: %s", rc, out);
    assert_non_null(strstr(out, "an observer of the genesis"));
    free(out);
    snprintf(p, sizeof p, "%s/config/permitd.conf", home);
    char *conf = tu_read_file(p, NULL);
    assert_non_null(conf);
    assert_non_null(strstr(conf, "\nrole = observer"));
    free(conf);
}

/* The certificate of the test ledger's block `h`: signed by validators
 * 0..k-1. */
static void certify(uint64_t h, unsigned k)
{
    ledger_tip tip;
    ledger_get_tip(g_c.env.L, &tip);
    assert_int_equal(tip.height, h);
    ledger_commit cert;
    memset(&cert, 0, sizeof cert);
    cert.height = h;
    memcpy(cert.block_hash, tip.hash, 32);
    uint8_t msg[32];
    ledger_vote_sighash(g_c.env.g->chain_id, LEDGER_VOTE_PRECOMMIT, h, 0, tip.hash, msg);
    for (uint32_t v = 0; v < k; v++) {
        cert.sigs[v].validator = v;
        assert_int_equal(ledger_sign(&g_c.env.node[v], msg, NULL, cert.sigs[v].sig), 0);
    }
    cert.n_sigs = k;
    ledger_err err;
    assert_int_equal(ledger_put_commit(g_c.env.L, &cert, &err), 0);
}

/* The next block of the test ledger with one transaction, naming the
 * previous block's certificate as a real proposer does. */
static void next_block(const uint8_t *tx, size_t len)
{
    ledger_err err;
    ledger_tip tip;
    ledger_get_tip(g_c.env.L, &tip);
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = g_c.env.now + LT_SEC;
    memcpy(ctx.proposer, g_c.env.node[0].pub, 32);
    ledger_commit last;
    assert_int_equal(ledger_get_commit(g_c.env.L, tip.height, &last, &err), 1);
    ledger_commit_hash(&last, ctx.last_commit_hash);
    ledger_exec *x = NULL;
    ledger_header h;
    assert_int_equal(ledger_exec_begin(g_c.env.L, &ctx, &x, &err), 0);
    if (ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, NULL, &err) != 0)
        fail_msg("block %llu: %s", (unsigned long long)tip.height + 1, err.msg);
    assert_int_equal(ledger_exec_finish(x, &h, &err), 0);
    assert_int_equal(ledger_exec_commit(x, NULL, &err), 0);
    ledger_exec_free(x);
    g_c.env.now = ctx.time;
}

/* Push block h of the test ledger with its certificate, as a validator does. */
static void push_block(tp_conn *c, uint64_t h)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    ledger_err err;
    assert_int_equal(core_sync_answer(g_c.env.L, h, 1, &frame, &len, &err), 0);
    assert_int_equal(tp_send_packed(c, frame, len, 5000), 0);
    free(frame);
}

/* Frames from the observer for ms: never a consensus message; returns the
 * first TxGossip frame seen (or NULL). */
static Permit__Frame *watch(tp_conn *c, long ms)
{
    Permit__Frame *txs = NULL;
    uint64_t until = nt_now_ms() + (uint64_t)ms;
    while (nt_now_ms() < until) {
        Permit__Frame *f = tp_recv_frame(c, 100);
        if (f == NULL)
            continue;
        if (f->msg_case == PERMIT__FRAME__MSG_CONSENSUS)
            fail_msg("the observer sent a consensus message");
        if (f->msg_case == PERMIT__FRAME__MSG_PING) {
            Permit__Pong pm = PERMIT__PONG__INIT;
            pm.nonce = f->ping->nonce;
            Permit__Frame pf = PERMIT__FRAME__INIT;
            pf.msg_case = PERMIT__FRAME__MSG_PONG;
            pf.pong = &pm;
            tp_send_frame(c, &pf, 1000);
        }
        if (f->msg_case == PERMIT__FRAME__MSG_TXS && txs == NULL) {
            txs = f;
            continue;
        }
        permit__frame__free_unpacked(f, NULL);
    }
    return txs;
}

/* Two validators played by the test (their keys, a Byzantine one among
 * them): the observer dials them, applies a block only with a certificate
 * of more than two thirds of the validators, hands a transaction submitted
 * to it to the validators, and never says a consensus message. */
static void test_observer_takes_only_certified_blocks_and_never_votes(void **state)
{
    (void)state;
    nt_cluster_init(&g_c, NV + 1, observer_short_window);
    tp_server *srv[2] = {tp_listen(g_c.p2p_port[0]), tp_listen(g_c.p2p_port[1])};
    assert_non_null(srv[0]);
    assert_non_null(srv[1]);
    snprintf(g_c.extra_conf, sizeof g_c.extra_conf, "role = observer\n");
    nt_cluster_start(&g_c, OBS);
    g_c.extra_conf[0] = '\0';
    tp_conn *c[2];
    for (unsigned v = 0; v < 2; v++) {
        c[v] = tp_accept(srv[v], 10000);
        assert_non_null(c[v]);
        tp_hello peer;
        if (tp_handshake(c[v], g_c.env.g->chain_id, &g_c.env.node[v], 0,
                         g_c.env.node[OBS].pub, &peer, 5000) != 0)
            fail_msg("handshake as validator %u: %s", v, tp_error(c[v]));
    }
    /* block 1 of the chain, made here with the same genesis */
    char u[19], lic[80];
    lt_uscc(4711, u);
    size_t len;
    g_c.env.now = nt_now_ms() - 1000;
    uint8_t *tx = lt_apply(&g_c.env, u, "convenience-store", 0, &len);
    ledger_err err;
    assert_int_equal(lt_run_free(&g_c.env, LT_SEC, tx, len, lic, &err), 0);

    /* validator 0, Byzantine, pushes it certified by itself alone */
    certify(1, 1);
    push_block(c[0], 1);
    assert_null(watch(c[0], 1500));
    assert_int_equal(nt_status_u64(g_c.rpc_port[OBS], "height"), 0);
    /* ... and by two of four: still no quorum */
    certify(1, 2);
    push_block(c[1], 1);
    assert_null(watch(c[1], 1500));
    assert_int_equal(nt_status_u64(g_c.rpc_port[OBS], "height"), 0);
    /* validator 1 pushes it with three signatures of four: applied */
    certify(1, 3);
    uint64_t until = nt_now_ms() + 15000;
    while (nt_status_u64(g_c.rpc_port[OBS], "height") < 1) {
        if (nt_now_ms() > until)
            fail_msg("the observer did not apply a block certified by 3 of 4");
        push_block(c[1], 1);
        watch(c[1], 300);
    }
    json_t *r = call(OBS, "license.get", json_pack("{s:s}", "id", lic));
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    /* the short certificates were checked and refused, not overlooked */
    char lp[700];
    snprintf(lp, sizeof lp, "%s/permitd.log", g_c.home[OBS]);
    char *log = tu_read_file(lp, NULL);
    assert_non_null(log);
    if (strstr(log, "sync: a block from validator 0 was refused") == NULL)
        fail_msg("no refusal of validator 0's block in the observer's log:\n%s", log);
    free(log);

    /* block 2 is made but nobody pushes it (a push lost): the observer asks
     * for it by itself, and gets it */
    lt_uscc(4713, u);
    g_c.env.now = nt_now_ms() - 1000;
    tx = lt_apply(&g_c.env, u, "convenience-store", 0, &len);
    next_block(tx, len);
    free(tx);
    certify(2, 3);
    until = nt_now_ms() + 30000;
    int answered = 0;
    while (nt_status_u64(g_c.rpc_port[OBS], "height") < 2) {
        if (nt_now_ms() > until)
            fail_msg("the observer did not ask for a block nobody pushed");
        for (unsigned v = 0; v < 2; v++) {
            Permit__Frame *q = tp_recv_frame(c[v], 100);
            if (q == NULL)
                continue;
            if (q->msg_case == PERMIT__FRAME__MSG_CONSENSUS)
                fail_msg("the observer sent a consensus message");
            if (q->msg_case == PERMIT__FRAME__MSG_SYNC_REQUEST &&
                q->sync_request->from_height == 2) {
                push_block(c[v], 2);
                answered = 1;
            }
            permit__frame__free_unpacked(q, NULL);
        }
    }
    assert_true(answered);

    /* a submit to the observer reaches the validators whole */
    lt_uscc(4712, u);
    g_c.env.now = nt_now_ms() - 1000;
    tx = lt_apply(&g_c.env, u, "convenience-store", 0, &len);
    json_t *sub = nt_submit(g_c.rpc_port[OBS], tx, len, "none");
    assert_non_null(json_object_get(sub, "result"));
    json_decref(sub);
    Permit__Frame *f = watch(c[1], 3000);
    assert_non_null(f);
    int found = 0;
    for (size_t i = 0; i < f->txs->n_txs; i++)
        found |= f->txs->txs[i].len == len && memcmp(f->txs->txs[i].data, tx, len) == 0;
    assert_true(found);
    permit__frame__free_unpacked(f, NULL);
    free(tx);
    /* the validators (played here) never commit it: past its window it
     * leaves the observer's mempool */
    json_t *st = call(OBS, "status", NULL);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(st, "result"), "mempool"), "size")),
                     1);
    json_decref(st);
    until = nt_now_ms() + 30000;
    for (;;) {
        st = call(OBS, "status", NULL);
        json_int_t n = json_integer_value(
            json_object_get(json_object_get(json_object_get(st, "result"), "mempool"), "size"));
        json_decref(st);
        if (n == 0)
            break;
        if (nt_now_ms() > until)
            fail_msg("a transaction past its window stayed in the observer's mempool");
        watch(c[1], 500); /* answer its pings meanwhile */
    }

    for (unsigned v = 0; v < 2; v++) {
        tp_close(c[v]);
        tp_server_free(srv[v]);
    }
    nt_cluster_stop_clean(&g_c, OBS);
}

/* Departments 0..3 run validators; the fifth department's node key is no
 * member at all (no validator, no observer): governance admits it. */
static void no_observer_genesis(json_t *root)
{
    json_t *d = json_array_get(json_object_get(root, "departments"), OBS);
    assert_non_null(json_object_get(d, "validator"));
    json_object_del(d, "validator");
    json_object_set_new(json_object_get(root, "params"), "heartbeat", json_string("500ms"));
}

/* permit against validator 0, expecting exit 0; --json output parsed. */
static json_t *permit_json(const char *const *args)
{
    char rpc[64];
    snprintf(rpc, sizeof rpc, "http://127.0.0.1:%d", g_c.rpc_port[0]);
    char *out = NULL;
    int rc = nt_permitv(rpc, &out, args);
    if (rc != 0)
        fail_msg("permit %s %s exited %d:\n%s", args[1], args[2], rc, out);
    json_t *j = json_loads(out, 0, NULL);
    if (j == NULL)
        fail_msg("permit %s %s: not JSON:\n%s", args[1], args[2], out);
    free(out);
    return j;
}

/* Propose a change by department 0 and approve it by departments 1..4 (five
 * of six: more than 2/3); fails unless the last approval executed it. */
static void govern(char keys[][600], const char *change, const char *a1, const char *a2)
{
    const char *prop[] = {"--json", "gov", "propose", change, a1, a2, "--key", keys[0], NULL};
    if (a2 == NULL) {
        prop[5] = "--key";
        prop[6] = keys[0];
        prop[7] = NULL;
    }
    json_t *j = permit_json(prop);
    json_int_t id = json_integer_value(json_object_get(j, "proposal_id"));
    json_decref(j);
    assert_true(id > 0);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    int executed = 0;
    for (int k = 1; k <= 4; k++) {
        const char *ap[] = {"--json", "gov", "approve", ids, "--key", keys[k], NULL};
        j = permit_json(ap);
        executed = json_is_true(json_object_get(j, "executed"));
        json_decref(j);
    }
    assert_true(executed);
}

/* permit_observers on validator i's /metrics. */
static long observers_linked(unsigned i)
{
    char *body = NULL;
    assert_int_equal(nt_http(g_c.rpc_port[i], "GET", "/metrics", NULL, 0, &body, NULL), 200);
    const char *at = strstr(body, "\npermit_observers ");
    assert_non_null(at);
    long n = strtol(at + strlen("\npermit_observers "), NULL, 10);
    free(body);
    return n;
}

/* Wait until every validator has (want 1) or lacks (0) an observer link. */
static void wait_observer_links(long want, long timeout_ms)
{
    uint64_t until = nt_now_ms() + (uint64_t)timeout_ms;
    for (unsigned v = 0; v < NV; v++)
        while (observers_linked(v) != want) {
            if (nt_now_ms() > until)
                fail_msg("validator %u has %ld observer links, expected %ld", v,
                         observers_linked(v), want);
            nt_sleep_ms(100);
        }
}

/* The membership in force decides who follows (DESIGN §6, §11): a node key
 * no member holds runs as an observer but the validators refuse it; once
 * governance adds it the same process links and catches up without a
 * restart; once governance removes it, every validator drops its links and
 * it falls behind. */
static void test_observer_admitted_and_removed_by_governance(void **state)
{
    (void)state;
    nt_cluster_init(&g_c, NV + 1, no_observer_genesis);
    for (unsigned i = 0; i < NV; i++)
        nt_cluster_start(&g_c, i);
    snprintf(g_c.extra_conf, sizeof g_c.extra_conf, "role = observer\n");
    nt_cluster_start(&g_c, OBS);
    g_c.extra_conf[0] = '\0';
    char keys[5][600];
    ledger_err err;
    for (int k = 0; k < 5; k++) {
        snprintf(keys[k], sizeof keys[k], "%s/seal-%d.key", g_c.home[OBS], k);
        assert_int_equal(ledger_keyfile_write(keys[k], &g_c.env.dept[k], &err), 0);
    }
    char pub[65];
    ledger_hex_encode(g_c.env.node[OBS].pub, 32, pub);

    /* not a member: refused, it stays at height 0 while the chain moves */
    uint64_t until = nt_now_ms() + 3000;
    while (nt_now_ms() < until) {
        assert_int_equal(nt_status_u64(g_c.rpc_port[OBS], "height"), 0);
        nt_sleep_ms(200);
    }
    assert_true(nt_status_u64(g_c.rpc_port[0], "height") > 0);
    for (unsigned v = 0; v < NV; v++)
        assert_int_equal(observers_linked(v), 0);

    /* admitted: it links to every validator and follows */
    govern(keys, "add-observer", "政务服务大厅查询节点", pub);
    wait_observer_links(1, 15000);
    uint64_t h = nt_status_u64(g_c.rpc_port[0], "height");
    wait_observer(h, 30000);
    json_t *r = call(OBS, "observers.list", NULL);
    char *s = json_dumps(r, 0);
    assert_non_null(strstr(s, pub));
    free(s);
    json_decref(r);

    /* removed: every validator drops it; blocks go on without it */
    govern(keys, "remove-observer", pub, NULL);
    wait_observer_links(0, 15000);
    uint64_t oh = nt_status_u64(g_c.rpc_port[OBS], "height");
    uint64_t vh = nt_status_u64(g_c.rpc_port[0], "height");
    until = nt_now_ms() + 30000;
    while (nt_status_u64(g_c.rpc_port[0], "height") < vh + 4) {
        if (nt_now_ms() > until)
            fail_msg("the validators stopped committing after the observer's removal");
        nt_sleep_ms(100);
    }
    assert_true(nt_status_u64(g_c.rpc_port[OBS], "height") <= oh + 1);
    for (unsigned v = 0; v < NV; v++)
        assert_int_equal(observers_linked(v), 0);
    nt_cluster_stop_clean(&g_c, OBS);
}

/* After a failure too: no node left running, no home left behind. */
static int cleanup(void **state)
{
    (void)state;
    if (g_c.n > 0)
        nt_cluster_cleanup(&g_c);
    memset(&g_c, 0, sizeof g_c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_observer_key_must_be_admitted, cleanup),
        cmocka_unit_test_teardown(test_observer_takes_only_certified_blocks_and_never_votes,
                                  cleanup),
        cmocka_unit_test_teardown(test_observer_follows_serves_relays_and_recovers, cleanup),
        cmocka_unit_test_teardown(test_observer_admitted_and_removed_by_governance, cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
