/* The seed corpora of the libFuzzer targets (tests/fuzz/README.md).
 *
 * With PERMIT_FUZZ_SEED_DIR set (make fuzz-seeds sets it to tests/fuzz), it
 * builds a small certified chain of four validators with the real code and
 * writes what the targets start from: data/genesis.json and data/chain.bin
 * (a SyncResponse frame holding every block with its certificates, which
 * fuzz_rpc, fuzz_block and fuzz_frame replay into their ledger), and one
 * directory of seeds per target under corpus/.
 *
 * Without it (ctest), it checks the committed seeds against today's code:
 * every target has seeds, and the valid ones still decode, re-encode to the
 * same bytes, verify and replay.  A change to a byte layout or a protobuf
 * message therefore fails here until the seeds are made again, so the
 * fuzzers never start from stale inputs that the decoders refuse at once. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/audit.h"
#include "ledger/bundle.h"
#include "ledger/gov.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/license.h"
#include "ledger/tx.h"
#include "ledgertest.h"
#include "node/core.h"
#include "node/handshake.h"

#define N_VAL 4
#define FUZZ_DIR PERMIT_SOURCE_DIR "/tests/fuzz"

static const char *const k_targets[] = {"bundle", "tx",    "header", "block", "commit",
                                        "record", "frame", "rpc",    "genesis"};
#define N_TARGETS (sizeof k_targets / sizeof k_targets[0])

static lt_env *g_setup_env;

static void four_validators(json_t *root)
{
    json_t *depts = json_object_get(root, "departments");
    for (size_t d = 0; d < N_VAL; d++) {
        char hex[65], p2p[32];
        ledger_hex_encode(g_setup_env->node[d].pub, 32, hex);
        snprintf(p2p, sizeof p2p, "127.0.0.1:%zu", 9700 + d);
        json_object_set_new(json_array_get(depts, d), "validator",
                            json_pack("{s:s, s:s}", "node_key", hex, "p2p", p2p));
    }
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    mkdir(dir, 0755);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        fail_msg("path too long: %s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

static void seed(const char *root, const char *target, const char *name, const void *p,
                 size_t n)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/corpus", root);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/corpus/%s", root, target);
    write_file(dir, name, p, n);
}

static void seed_frame(const char *root, const char *name, const Permit__Frame *f)
{
    size_t n = permit__frame__get_packed_size(f);
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    permit__frame__pack(f, b);
    seed(root, "frame", name, b, n);
    free(b);
}

/* Every file of a directory (names sorted), read whole. */
typedef struct {
    char name[256];
    uint8_t *data;
    size_t len;
} seed_file;

static size_t read_dir(const char *target, seed_file **out)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/corpus/%s", FUZZ_DIR, target);
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0) {
        fail_msg("no seed corpus %s (make fuzz-seeds)", dir);
        return 0;
    }
    seed_file *files = calloc((size_t)n + 1, sizeof *files);
    assert_non_null(files);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
            snprintf(files[k].name, sizeof files[k].name, "%s", ents[i]->d_name);
            files[k].data = (uint8_t *)tu_read_file(path, &files[k].len);
            assert_non_null(files[k].data);
            k++;
        }
        free(ents[i]);
    }
    free(ents);
    *out = files;
    return k;
}

static void free_files(seed_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].data);
    free(f);
}

/* ---- making the seeds ---- */

static void sign_cert(lt_env *env, ledger_commit *c, uint64_t height, const uint8_t hash[32])
{
    memset(c, 0, sizeof *c);
    c->height = height;
    memcpy(c->block_hash, hash, 32);
    uint8_t msg[32];
    ledger_vote_sighash(env->g->chain_id, LEDGER_VOTE_PRECOMMIT, height, 0, hash, msg);
    for (uint32_t v = 0; v < 3; v++) {
        c->sigs[v].validator = v;
        assert_int_equal(ledger_sign(&env->node[v], msg, NULL, c->sigs[v].sig), 0);
    }
    c->n_sigs = 3;
}

/* Run tx in a block of its own, made as a validator makes it (proposer of
 * round 0, naming the previous block's certificate), and certify the block
 * (*cert: the previous certificate in, this block's out). */
static void run(lt_env *env, uint8_t *tx, size_t len, char *id_out, ledger_commit *cert)
{
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    uint64_t h = ledger_height(env->L) + 1;
    ctx.time = env->now + LT_SEC;
    memcpy(ctx.proposer, env->node[h % N_VAL].pub, 32);
    if (h > 1)
        ledger_commit_hash(cert, ctx.last_commit_hash);
    ledger_exec *x = NULL;
    ledger_err err;
    ledger_tx_result res;
    ledger_header hdr;
    uint8_t hash[32];
    assert_int_equal(ledger_exec_begin(env->L, &ctx, &x, &err), 0);
    if (ledger_exec_tx(x, tx, len, LEDGER_SIG_CHECK, &res, &err) != 0)
        fail_msg("tx refused: %s", err.msg);
    assert_int_equal(ledger_exec_finish(x, &hdr, &err), 0);
    ledger_header_hash(&hdr, hash);
    sign_cert(env, cert, h, hash);
    if (ledger_exec_commit(x, cert, &err) != 0)
        fail_msg("commit: %s", err.msg);
    ledger_exec_free(x);
    env->now = ctx.time;
    if (id_out)
        strcpy(id_out, res.license_id);
}

static void consensus_seed(const char *root, lt_env *env, const char *name, int type,
                           uint32_t validator, const uint64_t height, const uint8_t hash[32],
                           const Permit__Block *block)
{
    Permit__ConsensusMsg cm = PERMIT__CONSENSUS_MSG__INIT;
    uint8_t msg[32], sig[64];
    cm.type = (uint32_t)type;
    cm.height = height;
    cm.round = 0;
    cm.validator = validator;
    cm.pol_round = -1;
    cm.block_hash.data = (uint8_t *)hash;
    cm.block_hash.len = 32;
    if (type == LEDGER_VOTE_PROPOSAL)
        ledger_proposal_sighash(env->g->chain_id, height, 0, -1, hash, msg);
    else
        ledger_vote_sighash(env->g->chain_id, type, height, 0, hash, msg);
    assert_int_equal(ledger_sign(&env->node[validator], msg, NULL, sig), 0);
    cm.sig.data = sig;
    cm.sig.len = 64;
    cm.block = (Permit__Block *)block;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_CONSENSUS;
    f.consensus = &cm;
    seed_frame(root, name, &f);
    /* the message alone, behind fuzz_frame's selector byte 0 */
    size_t n = permit__consensus_msg__get_packed_size(&cm);
    uint8_t *b = malloc(n + 1);
    assert_non_null(b);
    b[0] = 0;
    permit__consensus_msg__pack(&cm, b + 1);
    char inner[64];
    snprintf(inner, sizeof inner, "inner-%s", name);
    seed(root, "frame", inner, b, n + 1);
    free(b);
}

static void rpc_seeds(const char *root, const char *lic, const char *uscc, const uint8_t *tx,
                      size_t tx_len)
{
    char hex[2 * LEDGER_MAX_ENVELOPE + 1], id[65], body[2 * LEDGER_MAX_ENVELOPE + 512];
    uint8_t txid[32];
    ledger_sha256(tx, tx_len, txid);
    ledger_hex_encode(txid, 32, id);
    ledger_hex_encode(tx, tx_len, hex);
    struct {
        const char *name;
        const char *fmt;
    } k[] = {
        {"status", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}"},
        {"tx-submit", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tx.submit\",\"params\":"
                      "{\"tx\":\"%s\",\"wait\":\"none\"}}"},
        {"tx-get", "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tx.get\",\"params\":"
                   "{\"tx_id\":\"%s\"}}"},
        {"block-get", "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"block.get\",\"params\":"
                      "{\"height\":4}}"},
        {"block-latest", "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"block.get\"}"},
        {"license-get", "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"license.get\",\"params\":"
                        "{\"id\":\"%s\"}}"},
        {"license-history", "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"license.history\","
                            "\"params\":{\"id\":\"%s\"}}"},
        {"license-search", "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"license.search\","
                           "\"params\":{\"uscc\":\"%s\",\"limit\":10}}"},
        {"license-search-name", "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"license.search\","
                                "\"params\":{\"name\":\"常州\",\"status\":\"ISSUED\"}}"},
        {"license-pending", "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"license.pending\","
                            "\"params\":{\"department\":\"fire\",\"limit\":5}}"},
        {"license-expiring", "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"license.expiring\","
                             "\"params\":{\"within_days\":30}}"},
        {"license-overdue", "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"license.overdue\"}"},
        {"license-proof", "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"license.proof\","
                          "\"params\":{\"id\":\"%s\",\"since_log_size\":2}}"},
        {"lists", "[{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"industries.list\"},"
                  "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"departments.list\"},"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"status\"},"
                  "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"no.such\",\"params\":[]}]"},
        {"bad-request", "{\"jsonrpc\":\"1.0\",\"id\":{},\"method\":3}"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const char *arg = strstr(k[i].name, "submit") ? hex
                          : strstr(k[i].name, "tx-get") ? id
                          : strstr(k[i].name, "search") && !strstr(k[i].name, "name") ? uscc
                                                                                     : lic;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        int n = snprintf(body, sizeof body, k[i].fmt, arg);
#pragma GCC diagnostic pop
        assert_true(n > 0 && (size_t)n < sizeof body);
        seed(root, "rpc", k[i].name, body, (size_t)n);
    }
}

static void make_seeds(const char *root)
{
    lt_env env_, *env = &env_;
    g_setup_env = env;
    lt_setup(env, four_validators);
    assert_int_equal(env->g->n_validators, N_VAL);
    const ledger_keypair *reg = &env->registrar;
    char a[64], b[64];
    uint8_t *txs[16];
    size_t lens[16], n = 0, len;
    uint8_t *t;
    ledger_commit cert;
    t = lt_apply(env, "91350100M000100Y43", "convenience-store", 0, &len);
    run(env, t, len, a, &cert), txs[n] = t, lens[n++] = len;
    t = lt_apply(env, "91350100M000100Y43", "bakery", 1, &len);
    run(env, t, len, b, &cert), txs[n] = t, lens[n++] = len;
    t = lt_decision(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__APPROVE, a, NULL, 0, NULL,
                    &len);
    run(env, t, len, NULL, &cert), txs[n] = t, lens[n++] = len;
    t = lt_decision(env, lt_dept(env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, a, NULL, 0, NULL,
                    &len);
    run(env, t, len, NULL, &cert), txs[n] = t, lens[n++] = len;
    t = lt_add_address(env, reg, a, "320411001", "常州市新北区河海路2号", &len);
    run(env, t, len, NULL, &cert), txs[n] = t, lens[n++] = len;
    t = lt_amend(env, reg, a, "常州新北便利有限公司", NULL, NULL, &len);
    run(env, t, len, NULL, &cert), txs[n] = t, lens[n++] = len;
    t = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__SUSPEND, a, "抽检不合格",
                     &len);
    run(env, t, len, NULL, &cert), txs[n] = t, lens[n++] = len;
    t = lt_reason_tx(env, lt_dept(env, LT_MARKET), PERMIT__TX_KIND__RESUME, a, "整改完成", &len);
    run(env, t, len, NULL, &cert), txs[n] = t, lens[n++] = len;
    t = lt_remove_address(env, reg, a, 2, &len);
    run(env, t, len, NULL, &cert), txs[n] = t, lens[n++] = len;
    t = lt_set_holder(env, reg, a, &env->holder, &len); /* a record of version 2 */
    run(env, t, len, NULL, &cert), txs[n] = t, lens[n++] = len;
    uint64_t tip_h = ledger_height(env->L);
    assert_int_equal(tip_h, n);

    char data[1024];
    mkdir(root, 0755);
    snprintf(data, sizeof data, "%s/data", root);
    write_file(data, "genesis.json", env->genesis_json, strlen(env->genesis_json));
    seed(root, "genesis", "genesis-4-validators.json", env->genesis_json,
         strlen(env->genesis_json));
    char *one = lt_genesis_json(env, NULL);
    seed(root, "genesis", "genesis-1-validator.json", one, strlen(one));
    free(one);

    /* the chain: every block with both certificates, as sync sends it */
    ledger_err err;
    uint8_t *frame;
    size_t flen;
    assert_int_equal(core_sync_answer(env->L, 1, CORE_SYNC_MAX_BLOCKS, &frame, &flen, &err), 0);
    write_file(data, "chain.bin", frame, flen);
    seed(root, "frame", "sync-response", frame, flen);
    Permit__Frame *sf = permit__frame__unpack(NULL, flen, frame);
    assert_non_null(sf);
    {
        /* the answer alone, behind fuzz_frame's selector byte 1 */
        size_t n_in = permit__sync_response__get_packed_size(sf->sync_response);
        uint8_t *ib = malloc(n_in + 1);
        assert_non_null(ib);
        ib[0] = 1;
        permit__sync_response__pack(sf->sync_response, ib + 1);
        seed(root, "frame", "inner-sync-response", ib, n_in + 1);
        free(ib);
    }
    assert_int_equal(sf->sync_response->n_blocks, n);
    char name[64];
    for (size_t i = 0; i < n; i++) {
        Permit__Block *pb = sf->sync_response->blocks[i];
        size_t bl = permit__block__get_packed_size(pb);
        uint8_t *bb = malloc(bl);
        assert_non_null(bb);
        permit__block__pack(pb, bb);
        snprintf(name, sizeof name, "block-%02zu", i + 1);
        seed(root, "block", name, bb, bl);
        free(bb);
        snprintf(name, sizeof name, "header-%02zu", i + 1);
        seed(root, "header", name, pb->header.data, pb->header.len);
        size_t cl = permit__commit__get_packed_size(pb->commit);
        uint8_t *cb = malloc(cl);
        assert_non_null(cb);
        permit__commit__pack(pb->commit, cb);
        snprintf(name, sizeof name, "commit-%02zu", i + 1);
        seed(root, "commit", name, cb, cl);
        free(cb);
        ledger_tx tx;
        assert_int_equal(ledger_tx_decode(&tx, txs[i], lens[i], env->g->chain_id, &err), 0);
        snprintf(name, sizeof name, "tx-%02zu-%s", i + 1, ledger_tx_kind_name(tx.kind));
        ledger_tx_release(&tx);
        seed(root, "tx", name, txs[i], lens[i]);
    }

    /* records and events: a selector byte (0 record, 1 event), then the bytes */
    const char *ids[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        uint8_t *rec;
        size_t rl;
        assert_int_equal(ledger_get_license_bytes(env->L, ids[k], &rec, &rl, &err), 1);
        uint8_t *buf = malloc(rl + 1);
        assert_non_null(buf);
        buf[0] = 0;
        memcpy(buf + 1, rec, rl);
        snprintf(name, sizeof name, "record-%d", k);
        seed(root, "record", name, buf, rl + 1);
        free(buf);
        free(rec);
        ledger_event_rec *evs;
        size_t nev;
        assert_int_equal(ledger_get_events(env->L, ids[k], &evs, &nev, &err), 1);
        for (size_t e = 0; e < nev && e < 3; e++) {
            uint8_t eb[1 + LEDGER_EVENT_MAX_BYTES];
            size_t el;
            eb[0] = 1;
            assert_int_equal(ledger_event_encode(&evs[e].ev, eb + 1, sizeof eb - 1, &el), 0);
            snprintf(name, sizeof name, "event-%d-%zu", k, e);
            seed(root, "record", name, eb, el + 1);
        }
        free(evs);
    }

    /* a governance record (selector 2): genesis' membership with an
     * observer, a retired key and an open proposal */
    {
        ledger_gov *gv = NULL;
        assert_int_equal(ledger_gov_from_genesis(env->g, &gv, &err), 0);
        gv->exists = 1;
        gv->seq = 2;
        memset(gv->head, 0x5a, 32);
        gv->next_proposal = 2;
        ledger_observer ob;
        ob.name = "审计局";
        assert_int_equal(ledger_pubkey_parse(&ob.node, env->outsider.pub), 0);
        ledger_gov_proposal p;
        memset(&p, 0, sizeof p);
        p.id = 1;
        snprintf(p.proposer, sizeof p.proposer, "%s", env->g->departments[0].id);
        p.height = 3;
        p.expires_at = env->now + 86400000;
        p.ch.type = LEDGER_GOV_SET_PARAM;
        p.ch.name = "max_addresses";
        p.ch.value = 9;
        p.n_approvals = 1;
        snprintf(p.approvals[0], sizeof p.approvals[0], "%s", env->g->departments[0].id);
        uint8_t retired[1][32];
        memcpy(retired[0], env->node[LT_NDEPT - 1].pub, 32); /* no validator's key here */
        size_t keep_obs = gv->n_observers, keep_ret = gv->n_retired, keep_open = gv->n_open;
        ledger_observer *o0 = gv->observers;
        uint8_t(*r0)[32] = gv->retired;
        ledger_gov_proposal *p0 = gv->open;
        gv->observers = &ob;
        gv->n_observers = 1;
        gv->retired = retired;
        gv->n_retired = 1;
        gv->open = &p;
        gv->n_open = 1;
        uint8_t *gb;
        size_t gl;
        assert_int_equal(ledger_gov_encode(gv, "GOV-320411", &gb, &gl, &err), 0);
        gv->observers = o0, gv->n_observers = keep_obs;
        gv->retired = r0, gv->n_retired = keep_ret;
        gv->open = p0, gv->n_open = keep_open;
        ledger_gov_release(gv);
        uint8_t *buf = malloc(gl + 1);
        assert_non_null(buf);
        buf[0] = 2;
        memcpy(buf + 1, gb, gl);
        seed(root, "record", "govrecord-0", buf, gl + 1);
        free(buf);
        free(gb);
    }

    /* bundles: the whole history, and one with a consistency proof */
    uint8_t *bundle;
    size_t bl;
    uint64_t h;
    assert_int_equal(ledger_bundle_build(env->L, a, 0, &bundle, &bl, &h, &err), 0);
    seed(root, "bundle", "bundle-a", bundle, bl);
    free(bundle);
    assert_int_equal(ledger_bundle_build(env->L, a, 3, &bundle, &bl, &h, &err), 0);
    seed(root, "bundle", "bundle-a-since-3", bundle, bl);
    free(bundle);
    assert_int_equal(ledger_bundle_build(env->L, b, 0, &bundle, &bl, &h, &err), 0);
    seed(root, "bundle", "bundle-b", bundle, bl);
    free(bundle);

    /* frames: fuzz_frame is validator 0 at the last block's height (its
     * ledger one block short), a peer is validator 1; the handshake values
     * are those of tests/fuzz/fuzzcommon.h */
    Permit__Frame f = PERMIT__FRAME__INIT;
    uint8_t own[32], peer[32], exporter[32], sig[64];
    memset(own, 0x01, 32);
    memset(peer, 0x02, 32);
    memset(exporter, 0x03, 32);
    Permit__Hello hello = PERMIT__HELLO__INIT;
    hello.chain_id = env->g->chain_id;
    hello.node_key.data = env->node[1].pub;
    hello.node_key.len = 32;
    hello.nonce.data = peer;
    hello.nonce.len = 32;
    hello.height = tip_h;
    f.msg_case = PERMIT__FRAME__MSG_HELLO;
    f.hello = &hello;
    seed_frame(root, "hello", &f);
    assert_int_equal(node_hs_sign_auth(&env->node[1], env->g->chain_id, peer, own, exporter, sig),
                     0);
    Permit__Auth auth = PERMIT__AUTH__INIT;
    auth.sig.data = sig;
    auth.sig.len = 64;
    f.msg_case = PERMIT__FRAME__MSG_AUTH;
    f.auth = &auth;
    seed_frame(root, "auth", &f);
    Permit__Block *last = sf->sync_response->blocks[n - 1];
    core_block *cb = core_block_from_pb(last, 100, 1u << 20, &err);
    assert_non_null(cb);
    uint32_t proposer = (uint32_t)(tip_h % N_VAL);
    assert_int_not_equal(proposer, 0);
    consensus_seed(root, env, "proposal", LEDGER_VOTE_PROPOSAL, proposer, tip_h, cb->hash.b, last);
    consensus_seed(root, env, "prevote", LEDGER_VOTE_PREVOTE, 2, tip_h, cb->hash.b, NULL);
    consensus_seed(root, env, "precommit", LEDGER_VOTE_PRECOMMIT, 3, tip_h, cb->hash.b, NULL);
    core_block_unref(cb);
    ProtobufCBinaryData envs[2] = {{lens[0], txs[0]}, {lens[1], txs[1]}};
    Permit__TxGossip gossip = PERMIT__TX_GOSSIP__INIT;
    gossip.n_txs = 2;
    gossip.txs = envs;
    f.msg_case = PERMIT__FRAME__MSG_TXS;
    f.txs = &gossip;
    seed_frame(root, "tx-gossip", &f);
    uint8_t idb[2][32];
    ledger_sha256(txs[0], lens[0], idb[0]);
    ledger_sha256(txs[1], lens[1], idb[1]);
    ProtobufCBinaryData idv[2] = {{32, idb[0]}, {32, idb[1]}};
    Permit__TxIds tids = PERMIT__TX_IDS__INIT;
    tids.n_ids = 2;
    tids.ids = idv;
    f.msg_case = PERMIT__FRAME__MSG_TX_ANNOUNCE;
    f.tx_announce = &tids;
    seed_frame(root, "tx-announce", &f);
    f.msg_case = PERMIT__FRAME__MSG_TX_REQUEST;
    f.tx_request = &tids;
    seed_frame(root, "tx-request", &f);
    Permit__SyncRequest sr = PERMIT__SYNC_REQUEST__INIT;
    sr.from_height = 2;
    sr.max_blocks = 64;
    f.msg_case = PERMIT__FRAME__MSG_SYNC_REQUEST;
    f.sync_request = &sr;
    seed_frame(root, "sync-request", &f);
    Permit__Ping ping = PERMIT__PING__INIT;
    ping.nonce = 7;
    f.msg_case = PERMIT__FRAME__MSG_PING;
    f.ping = &ping;
    seed_frame(root, "ping", &f);

    rpc_seeds(root, a, "91350100M000100Y43", txs[0], lens[0]);

    permit__frame__free_unpacked(sf, NULL);
    free(frame);
    for (size_t i = 0; i < n; i++)
        free(txs[i]);
    lt_teardown(env);
}

static void test_make_seeds(void **state)
{
    (void)state;
    const char *dir = getenv("PERMIT_FUZZ_SEED_DIR");
    if (dir == NULL || *dir == '\0')
        skip();
    make_seeds(dir);
}

/* ---- checking the committed seeds ---- */

static ledger_genesis *load_genesis(void)
{
    ledger_genesis *g;
    ledger_err err;
    if (ledger_genesis_load(FUZZ_DIR "/data/genesis.json", &g, &err) != 0)
        fail_msg("tests/fuzz/data/genesis.json: %s", err.msg);
    return g;
}

static void test_every_target_has_seeds(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_TARGETS; t++) {
        seed_file *f;
        size_t n = read_dir(k_targets[t], &f);
        if (n == 0)
            fail_msg("tests/fuzz/corpus/%s is empty", k_targets[t]);
        free_files(f, n);
    }
}

static void test_tx_seeds_decode(void **state)
{
    (void)state;
    ledger_genesis *g = load_genesis();
    seed_file *f;
    size_t n = read_dir("tx", &f);
    for (size_t i = 0; i < n; i++) {
        ledger_tx tx;
        ledger_err err;
        if (ledger_tx_admit(g, &tx, f[i].data, f[i].len, 0, &err) != 0)
            fail_msg("tx seed %s: %s", f[i].name, err.msg);
        ledger_tx_release(&tx);
    }
    free_files(f, n);
    ledger_genesis_free(g);
}

static void test_header_and_commit_seeds_round_trip(void **state)
{
    (void)state;
    ledger_genesis *g = load_genesis();
    seed_file *f;
    size_t n = read_dir("header", &f);
    for (size_t i = 0; i < n; i++) {
        ledger_header h;
        ledger_err err;
        uint8_t out[LEDGER_MAX_HEADER_BYTES];
        size_t len;
        if (ledger_header_decode(&h, f[i].data, f[i].len, &err) != 0)
            fail_msg("header seed %s: %s", f[i].name, err.msg);
        assert_int_equal(ledger_header_encode(&h, out, sizeof out, &len), 0);
        assert_int_equal(len, f[i].len);
        assert_memory_equal(out, f[i].data, len);
    }
    free_files(f, n);
    n = read_dir("commit", &f);
    for (size_t i = 0; i < n; i++) {
        Permit__Commit *pc = permit__commit__unpack(NULL, f[i].len, f[i].data);
        assert_non_null(pc);
        ledger_commit c;
        ledger_err err;
        assert_int_equal(ledger_commit_from_pb(&c, pc, &err), 0);
        if (ledger_commit_verify(g, &c, c.block_hash, c.height, &err) != 0)
            fail_msg("commit seed %s: %s", f[i].name, err.msg);
        permit__commit__free_unpacked(pc, NULL);
    }
    free_files(f, n);
    ledger_genesis_free(g);
}

static void test_record_seeds_round_trip(void **state)
{
    (void)state;
    seed_file *f;
    size_t n = read_dir("record", &f);
    for (size_t i = 0; i < n; i++) {
        assert_true(f[i].len > 1);
        if (f[i].data[0] == 2) { /* a governance record */
            ledger_genesis *g = load_genesis();
            ledger_gov *gv = NULL;
            ledger_err err;
            uint8_t *out;
            size_t len;
            if (ledger_gov_decode(g, f[i].data + 1, f[i].len - 1, &gv, &err) != 0)
                fail_msg("record seed %s: %s", f[i].name, err.msg);
            assert_int_equal(ledger_gov_encode(gv, "GOV-320411", &out, &len, &err), 0);
            assert_int_equal(len, f[i].len - 1);
            assert_memory_equal(out, f[i].data + 1, len);
            free(out);
            ledger_gov_release(gv);
            ledger_genesis_free(g);
        } else if (f[i].data[0] == 0) {
            ledger_license l;
            ledger_err err;
            uint8_t *out;
            size_t len;
            if (ledger_license_decode(&l, f[i].data + 1, f[i].len - 1, &err) != 0)
                fail_msg("record seed %s: %s", f[i].name, err.msg);
            assert_int_equal(ledger_license_encode(&l, &out, &len, &err), 0);
            assert_int_equal(len, f[i].len - 1);
            assert_memory_equal(out, f[i].data + 1, len);
            free(out);
            ledger_license_clear(&l);
        } else {
            ledger_event e;
            uint8_t out[LEDGER_EVENT_MAX_BYTES];
            size_t len;
            assert_int_equal(ledger_event_decode(&e, f[i].data + 1, f[i].len - 1), 0);
            assert_int_equal(ledger_event_encode(&e, out, sizeof out, &len), 0);
            assert_int_equal(len, f[i].len - 1);
            assert_memory_equal(out, f[i].data + 1, len);
        }
    }
    free_files(f, n);
}

static void test_bundle_seeds_verify(void **state)
{
    (void)state;
    ledger_genesis *g = load_genesis();
    seed_file *f;
    size_t n = read_dir("bundle", &f);
    for (size_t i = 0; i < n; i++) {
        ledger_audit_report rep;
        ledger_audit_failure fail;
        if (ledger_audit_verify(g, f[i].data, f[i].len, NULL, &rep, &fail) != 0) {
            /* a bundle fetched since a checkpoint carries a consistency proof
             * that only verifies against that checkpoint (check 6): without
             * one it is refused, as it should be; everything before check 6
             * passed */
            if (strstr(f[i].name, "-since-") != NULL && fail.check == AUDIT_CONSISTENCY &&
                strstr(fail.reason, "no checkpoint") != NULL)
                continue;
            fail_msg("bundle seed %s: check %d: %s", f[i].name, (int)fail.check,
                     fail.reason);
        }
        ledger_audit_report_clear(&rep);
    }
    free_files(f, n);
    ledger_genesis_free(g);
}

/* The chain the node-side targets replay: every block applies in order on
 * an empty ledger of the committed genesis. */
static void test_chain_applies(void **state)
{
    (void)state;
    ledger_genesis *g = load_genesis();
    size_t len;
    uint8_t *bin = (uint8_t *)tu_read_file(FUZZ_DIR "/data/chain.bin", &len);
    assert_non_null(bin);
    Permit__Frame *f = permit__frame__unpack(NULL, len, bin);
    assert_non_null(f);
    assert_int_equal(f->msg_case, PERMIT__FRAME__MSG_SYNC_RESPONSE);
    char *dir = tu_tmpdir("fuzzseeds");
    ledger *L;
    ledger_err err;
    assert_int_equal(ledger_open(&L, dir, g, &err), 0);
    for (size_t i = 0; i < f->sync_response->n_blocks; i++) {
        core_block *b = core_block_from_pb(f->sync_response->blocks[i], 100, 1u << 20, &err);
        assert_non_null(b);
        ledger_commit cert;
        assert_int_equal(ledger_commit_from_pb(&cert, f->sync_response->blocks[i]->commit, &err),
                         0);
        if (ledger_apply_block(L, b->hdr_bytes, b->hdr_len, (const uint8_t *const *)b->txs,
                               b->lens, b->n, b->has_last_commit ? &b->last_commit : NULL, &cert,
                               0, &err) != 0)
            fail_msg("block %zu of chain.bin: %s", i + 1, err.msg);
        core_block_unref(b);
    }
    assert_true(ledger_height(L) >= 3);
    ledger_close(L);
    tu_rmrf(dir);
    free(dir);
    permit__frame__free_unpacked(f, NULL);
    free(bin);
    ledger_genesis_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_seeds),
        cmocka_unit_test(test_every_target_has_seeds),
        cmocka_unit_test(test_tx_seeds_decode),
        cmocka_unit_test(test_header_and_commit_seeds_round_trip),
        cmocka_unit_test(test_record_seeds_round_trip),
        cmocka_unit_test(test_bundle_seeds_verify),
        cmocka_unit_test(test_chain_applies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
