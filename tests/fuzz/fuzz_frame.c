/* libFuzzer target: p2p frames (permit.Frame, node/p2p.h) as a validator
 * receives them from validator 1, on the chain of tests/fuzz/data.
 *
 * Hello and Auth go through the handshake checks (node/handshake.h) with
 * the nonces and exporter the seeds were signed with; every other frame
 * goes to a fresh node core (node/core.h) that is validator 0 at the height
 * of the chain's last block, with its link to validator 1 up, exactly as
 * permitd's p2p layer hands it over; the core's actions are then carried
 * out as far as they need no network: sync requests are answered from a
 * ledger holding the chain.
 *
 * An input whose first byte is below 8 (no Frame starts so: that would be
 * field 0) is an inner message the harness wraps into a Frame: 0, a
 * ConsensusMsg; 1, a SyncResponse.  Without the outer length to keep
 * consistent, byte mutations reach the fields of votes, proposals and
 * synced blocks far more often.
 *
 * Invariants: protobuf-c packs what it unpacked to bytes that unpack and
 * pack to the same bytes (unless the frame carries unknown fields, which
 * protobuf-c keeps as it read them, tag 0 included, and which no node code
 * reads or forwards); a Hello accepted names another validator by its
 * genesis node key. */
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "node/core.h"
#include "node/handshake.h"
#include "node/mempool.h"

static const ledger_genesis *g;
static ledger *L;
static uint64_t g_tip_time;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g = fz_genesis();
    const Permit__SyncResponse *c = fz_chain();
    L = fz_ledger(c->n_blocks);
    ledger_header h;
    ledger_err err;
    FZ_CHECK(ledger_header_decode(&h, c->blocks[c->n_blocks - 1]->header.data,
                                  c->blocks[c->n_blocks - 1]->header.len, &err) == 0);
    g_tip_time = h.time;
    return 0;
}

static uint64_t mono_ms(void *ctx)
{
    (void)ctx;
    return 1000000;
}

static uint64_t wall_ms(void *ctx)
{
    (void)ctx;
    return g_tip_time + 1000;
}

static int persist(void *ctx, const node_sign_state *next, ledger_err *err)
{
    (void)ctx;
    (void)next;
    (void)err;
    return 0;
}

static int persist_lock(void *ctx, const uint8_t *bytes, size_t len, ledger_err *err)
{
    (void)ctx;
    (void)bytes;
    (void)len;
    (void)err;
    return 0;
}

static int sign(void *ctx, uint64_t height, const uint8_t msg[32], uint8_t sig[64])
{
    (void)ctx;
    (void)height;
    (void)msg;
    memset(sig, 0x5a, 64); /* nobody checks our own signatures here */
    return 0;
}

static uint8_t *pack(const Permit__Frame *f, size_t *len)
{
    *len = permit__frame__get_packed_size(f);
    uint8_t *b = malloc(*len ? *len : 1);
    FZ_CHECK(b != NULL);
    permit__frame__pack(f, b);
    return b;
}

/* 1 when m or a message inside it kept unknown fields. */
static int has_unknown(const ProtobufCMessage *m)
{
    if (m == NULL)
        return 0;
    if (m->n_unknown_fields)
        return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)base;
            for (size_t k = 0; k < n; k++)
                if (has_unknown(v[k]))
                    return 1;
        } else if (has_unknown(*(ProtobufCMessage *const *)base)) {
            return 1;
        }
    }
    return 0;
}

static void handshake(const Permit__Frame *f)
{
    uint8_t own[32], peer[32], exporter[32];
    memset(own, FZ_OWN_NONCE, 32);
    memset(peer, FZ_PEER_NONCE, 32);
    memset(exporter, FZ_EXPORTER, 32);
    if (f->msg_case == PERMIT__FRAME__MSG_HELLO) {
        int v = -1;
        if (node_hs_check_hello(g, 0, f->hello, &v) == NODE_HS_OK) {
            FZ_CHECK(v > 0 && (size_t)v < g->n_validators);
            FZ_CHECK(f->hello->node_key.len == 32 &&
                     memcmp(f->hello->node_key.data, g->departments[g->validators[v]].node.raw,
                            32) == 0);
        }
    } else {
        (void)node_hs_verify_auth(g, 1, peer, own, exporter, f->auth);
    }
}

static void to_core(const Permit__Frame *f)
{
    const Permit__SyncResponse *chain = fz_chain();
    node_mempool *mp = node_mempool_new(1000, 1u << 22);
    FZ_CHECK(mp != NULL);
    core_config cfg = {.g = g, .self = 0, .propose_ms = 3000, .vote_ms = 1000, .delta_ms = 500,
                       .max_clock_drift_ms = 10000};
    core_hooks hooks = {.mono_ms = mono_ms, .wall_ms = wall_ms, .persist = persist,
                        .persist_lock = persist_lock, .sign = sign};
    node_sign_state ss;
    memset(&ss, 0, sizeof ss);
    core *c = core_new(&cfg, &hooks, mp, &ss, NULL, 0, chain->n_blocks - 1);
    FZ_CHECK(c != NULL);
    core_start(c);
    core_on_link(c, 1, 1, chain->n_blocks);
    core_on_frame(c, 1, f);
    core_action a;
    while (core_next_action(c, &a)) {
        if (a.kind == CORE_ACT_SERVE) {
            uint8_t *frame;
            size_t len;
            ledger_err err;
            if (core_sync_answer(L, a.from, a.max, &frame, &len, &err) == 0) {
                Permit__Frame *back = permit__frame__unpack(NULL, len, frame);
                FZ_CHECK(back != NULL);
                permit__frame__free_unpacked(back, NULL);
                free(frame);
            }
        }
        core_action_release(&a);
    }
    core_free(c);
    node_mempool_free(mp);
}

/* Selector byte 0 / 1: wrap the rest into Frame field 3 / 6 (*out malloc'd). */
static uint8_t *wrap_inner(const uint8_t *data, size_t size, size_t *out_len)
{
    static const uint8_t tags[2] = {3 << 3 | 2, 6 << 3 | 2};
    size_t n = size - 1;
    uint8_t *b = malloc(n + 11);
    FZ_CHECK(b != NULL);
    size_t k = 0;
    b[k++] = tags[data[0]];
    for (size_t v = n;; v >>= 7) {
        b[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    memcpy(b + k, data + 1, n);
    *out_len = k + n;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > NODE_HS_MAX_FRAME * 256) /* keeps one run fast; the limits are the core's */
        return 0;
    uint8_t *wrapped = NULL;
    if (size >= 1 && data[0] < 2) {
        data = wrapped = wrap_inner(data, size, &size);
    } else if (size >= 1 && data[0] < 8) {
        return 0;
    }
    Permit__Frame *f = permit__frame__unpack(NULL, size, data);
    free(wrapped);
    if (f == NULL)
        return 0;
    size_t l1, l2;
    uint8_t *p1 = pack(f, &l1);
    Permit__Frame *f2 = permit__frame__unpack(NULL, l1, p1);
    if (f2 != NULL) {
        uint8_t *p2 = pack(f2, &l2);
        FZ_CHECK(l1 == l2 && memcmp(p1, p2, l1) == 0);
        free(p2);
        permit__frame__free_unpacked(f2, NULL);
    } else {
        FZ_CHECK(has_unknown(&f->base));
    }
    free(p1);
    if (f->msg_case == PERMIT__FRAME__MSG_HELLO || f->msg_case == PERMIT__FRAME__MSG_AUTH)
        handshake(f);
    else
        to_core(f);
    permit__frame__free_unpacked(f, NULL);
    return 0;
}
